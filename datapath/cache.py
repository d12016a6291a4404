"""Flow caches: the exact-match cache (EMC) in front of the megaflow cache.

Sits between flow key extraction (datapath/flow.py) and the action executor: a packet's
key is looked up here; a hit yields a ``Megaflow`` whose opaque ``actions`` (whatever
the executor compiled; never looked inside) run on the packet; a miss goes to the slow
path, which installs a megaflow (key under mask -> actions) with ``insert``.  Owns the
tuple-space search, the flow limit and eviction, the per-flow statistics and the EMC.
Single-threaded (one asyncio loop); time is passed in (``now``, any monotonic float).

Megaflow cache (OVS dpcls): one dict per distinct mask (masked key -> Megaflow), the
masks in a list searched in order, first hit wins.  New masks go to the end; ``rank()``
re-sorts the list by hits since the last ranking (OVS re-sorts its per-PMD subtable
vector every second) -- the slow path calls it periodically.  Megaflows should not
overlap (OVS's upcall code guarantees that; so must the slow path): with two
different-mask megaflows matching one key, the lookup returns the one whose mask comes
first.  Inserting a key whose masked value is already cached under the same mask
replaces that megaflow.  The flow limit (OVS other_config:flow-limit, default 200000)
is kept by evicting, when an insert finds the cache full, the least recently used
1/16 of the limit in one pass (``used`` times; amortised O(log n) per insert).

EMC (OVS emc_cache): a dict (full key -> megaflow) of at most ``size`` keys; when
full, the oldest 1/16 (insertion order) is dropped in one go.  Like OVS's
emc-insert-inv-prob (default 100) only one in ``insert_inv_prob`` megaflow hits is
copied into the EMC -- deterministic (a countdown, no random number per packet) -- so
that many short flows do not thrash it.  A removed, replaced, evicted or flushed
megaflow is marked ``dead``; an EMC key pointing at it never hits again (it is dropped
on sight).  The EMC is a dict rather than OVS's hash-indexed array because CPython's
dict lookup is the cheapest exact match there is, and Python's int hash (the key
modulo 2**61-1) spreads keys badly over a power-of-two array.

Hash flooding: that int hash is linear in the key's fields, so anyone who can choose
addresses and ports can send keys with one and the same hash (e.g. ipv4_src falling by
256 while tp_src rises by 1), and a dict lookup among n such keys costs n comparisons
(~100 us for 5000 keys here).  Both caches therefore refuse to hold more than
``SAME_HASH_LIMIT`` keys with equal hashes per dict: the megaflow is returned dead
(its packets keep going to the slow path, which is rate-limited) and counted in
``rejected``.  The bookkeeping costs nothing per packet: only inserts and removals.

Statistics are kept on the megaflow (``packets``, ``bytes``, ``used``, ``tcp_flags``
OR-ed); ``Megaflow.account`` updates them, or a hot loop updates the attributes inline.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

Projector = Callable[[int], "tuple[Callable[[Any, bytes], bytes | None], Callable[[int], bytes]] | None"]
"""Given a mask, (from_frame, from_key) header projections or None: datapath.flow.projector."""
TCP_FLAGS_MASK = 0x0FFF  # tcp_flags is the key's lowest field (datapath/flow.py)
SAME_HASH_LIMIT = 8  # keys with one hash value per dict; bounds a lookup's probe chain


class Megaflow:
    """One cached flow: ``key`` (already masked) under ``mask`` -> ``actions``."""

    __slots__ = ("mask", "key", "actions", "desc", "out", "needs_key", "ufid", "packets",
                 "bytes", "used", "tcp_flags", "created", "dead")

    def __init__(self, mask: int, key: int, actions: Any, ufid: object, now: float,
                 desc: object = None) -> None:
        self.mask = mask
        self.key = key
        self.actions: Any = actions  # opaque here; the datapath stores a compiled callable
        self.desc = desc  # the owner's description of ``actions`` (for dumps); never read here
        self.out: list[Any] | None = None  # owner's shortcut for a lone output: its queue
        self.needs_key = True  # owner's flag: running ``actions`` needs the full flow key
        self.ufid = ufid
        self.packets = 0
        self.bytes = 0
        self.used = now  # last hit; the insert time until the first hit
        self.tcp_flags = 0
        self.created = now
        self.dead = False  # removed from the cache: must not be used any more

    def account(self, size: int, now: float, key: int) -> None:
        """Count one packet of ``size`` bytes with flow key ``key`` at ``now``."""
        self.packets += 1
        self.bytes += size
        self.used = now
        self.tcp_flags |= key & TCP_FLAGS_MASK

    def __repr__(self) -> str:
        state = " dead" if self.dead else ""
        return (f"<Megaflow ufid={self.ufid!r} key={self.key:#x} mask={self.mask:#x} "
                f"packets={self.packets} bytes={self.bytes} used={self.used}{state}>")


class _Subtable:
    """The megaflows of one mask, also indexed by header projection when it has one."""

    __slots__ = ("mask", "flows", "hits", "same_hash", "project", "from_key", "by_projection")

    def __init__(self, mask: int, projector: Projector | None) -> None:
        self.mask = mask
        self.flows: dict[int, Megaflow] = {}
        self.hits = 0
        self.same_hash: dict[int, int] = {}  # hash(masked key) -> keys with that hash
        made = projector(mask) if projector is not None else None
        self.project: Callable[[Any, bytes], bytes | None] | None = None
        self.from_key: Callable[[int], bytes] | None = None
        if made is not None:
            self.project, self.from_key = made
        self.by_projection: dict[bytes, Megaflow] = {}


class MegaflowCache:
    """Tuple-space search over masked keys; see the module docstring."""

    def __init__(self, flow_limit: int = 200_000, projector: Projector | None = None) -> None:
        if flow_limit < 1:
            raise ValueError("flow_limit must be at least 1")
        self.flow_limit = flow_limit
        self.projector = projector
        # (project, by_projection, subtable) in search order when EVERY subtable has a
        # projection, else None: see ``projected``.
        self.projected: list[tuple[Callable[[Any, bytes], bytes | None], dict[bytes, Megaflow],
                                   _Subtable]] | None = []
        self._subtables: list[_Subtable] = []  # search order
        self._by_mask: dict[int, _Subtable] = {}
        self._by_ufid: dict[object, Megaflow] = {}
        self._next_ufid = 1
        self.hits = 0
        self.misses = 0
        self.evicted = 0
        self.rejected = 0

    @property
    def masks(self) -> int:
        """Number of distinct masks in use (subtables searched on a miss)."""
        return len(self._subtables)

    @property
    def flows(self) -> int:
        return len(self._by_ufid)

    def __len__(self) -> int:
        return len(self._by_ufid)

    def lookup(self, key: int) -> Megaflow | None:
        """The megaflow matching ``key``, or None (a miss: upcall)."""
        for subtable in self._subtables:
            entry = subtable.flows.get(key & subtable.mask)
            if entry is not None:
                subtable.hits += 1
                self.hits += 1
                return entry
        self.misses += 1
        return None

    def insert(self, mask: int, key: int, actions: object, ufid: object = None,
               now: float = 0.0, desc: object = None) -> Megaflow:
        """Cache ``key & mask`` -> ``actions``; returns the new megaflow.

        A megaflow with the same mask and masked key, or the same ``ufid``, is replaced
        (marked dead).  ``ufid`` defaults to a fresh integer.  When the cache is full,
        the least recently used flows are evicted first.  The returned megaflow is
        already ``dead`` (not cached, counted in ``rejected``) when SAME_HASH_LIMIT
        cached keys of that mask share its hash (see the module docstring).
        """
        key &= mask
        subtable = self._by_mask.get(mask)
        if subtable is not None:
            old = subtable.flows.get(key)
            if old is not None:
                self._unlink(old)
        if ufid is not None and ufid in self._by_ufid:
            self._unlink(self._by_ufid[ufid])
        if ufid is None:
            ufid = self._next_ufid
            self._next_ufid += 1
        entry = Megaflow(mask, key, actions, ufid, now, desc)
        subtable = self._by_mask.get(mask)
        if subtable is not None and subtable.same_hash.get(hash(key), 0) >= SAME_HASH_LIMIT:
            entry.dead = True
            self.rejected += 1
            return entry
        if len(self._by_ufid) >= self.flow_limit:
            self._evict()
            subtable = self._by_mask.get(mask)
        if subtable is None:
            subtable = self._by_mask[mask] = _Subtable(mask, self.projector)
            self._subtables.append(subtable)
            self._reorder()
        subtable.flows[key] = entry
        if subtable.from_key is not None:
            subtable.by_projection[subtable.from_key(key)] = entry
        digest = hash(key)
        subtable.same_hash[digest] = subtable.same_hash.get(digest, 0) + 1
        self._by_ufid[ufid] = entry
        return entry

    def get(self, ufid: object) -> Megaflow | None:
        """The megaflow with ``ufid``, or None."""
        return self._by_ufid.get(ufid)

    def find(self, mask: int, key: int) -> Megaflow | None:
        """The megaflow cached exactly under ``mask`` for ``key``, or None."""
        subtable = self._by_mask.get(mask)
        return None if subtable is None else subtable.flows.get(key & mask)

    def remove(self, entry: Megaflow) -> bool:
        """Remove ``entry``; False if it was no longer cached."""
        if entry.dead or self._by_ufid.get(entry.ufid) is not entry:
            return False
        self._unlink(entry)
        return True

    def flush(self) -> int:
        """Remove every megaflow; returns how many there were."""
        count = len(self._by_ufid)
        for entry in self._by_ufid.values():
            entry.dead = True
        self._subtables.clear()
        self._by_mask.clear()
        self._by_ufid.clear()
        self._reorder()
        return count

    def dump(self) -> list[Megaflow]:
        """A snapshot of the cached megaflows (insertion order)."""
        return list(self._by_ufid.values())

    def expire(self, now: float, idle: float) -> list[Megaflow]:
        """Remove and return the megaflows not used for more than ``idle`` seconds."""
        limit = now - idle
        stale = [entry for entry in self._by_ufid.values() if entry.used < limit]
        self.remove_all(stale)
        return stale

    def remove_all(self, entries: Iterable[Megaflow]) -> int:
        """Remove each of ``entries`` still cached; returns how many were."""
        return sum(self.remove(entry) for entry in entries)

    def rank(self) -> None:
        """Search the most hit masks first from now on; restart the hit counts."""
        self._subtables.sort(key=lambda subtable: subtable.hits, reverse=True)
        for subtable in self._subtables:
            subtable.hits = 0
        self._reorder()

    def _reorder(self) -> None:
        """Rebuild ``projected`` after the subtable list changed."""
        if all(subtable.project is not None for subtable in self._subtables):
            self.projected = [(subtable.project, subtable.by_projection, subtable)  # type: ignore[misc]
                              for subtable in self._subtables]
        else:
            self.projected = None

    def mask_list(self) -> list[tuple[int, int]]:
        """(mask, flows) per subtable in search order, for debugging."""
        return [(subtable.mask, len(subtable.flows)) for subtable in self._subtables]

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "flows": self.flows,
                "masks": self.masks, "evicted": self.evicted, "rejected": self.rejected}

    def _evict(self) -> None:
        count = max(1, self.flow_limit // 16)
        oldest = heapq.nsmallest(count, self._by_ufid.values(), key=lambda e: e.used)
        self.evicted += self.remove_all(oldest)

    def _unlink(self, entry: Megaflow) -> None:
        subtable = self._by_mask[entry.mask]
        del subtable.flows[entry.key]
        if subtable.from_key is not None:
            del subtable.by_projection[subtable.from_key(entry.key)]
        digest = hash(entry.key)
        if subtable.same_hash[digest] > 1:
            subtable.same_hash[digest] -= 1
        else:
            del subtable.same_hash[digest]
        if not subtable.flows:
            del self._by_mask[entry.mask]
            self._subtables.remove(subtable)
            self._reorder()
        del self._by_ufid[entry.ufid]
        entry.dead = True


class ExactMatchCache:
    """Bounded exact-match cache: full key -> megaflow; see the module docstring."""

    def __init__(self, size: int = 8192, insert_inv_prob: int = 100) -> None:
        if size < 1:
            raise ValueError("EMC size must be at least 1")
        if insert_inv_prob < 1:
            raise ValueError("insert_inv_prob must be at least 1")
        self.size = size
        self.insert_inv_prob = insert_inv_prob
        self._flows: dict[int, Megaflow] = {}
        self._same_hash: dict[int, int] = {}
        self._countdown = 1  # the first candidate is inserted
        self.hits = 0
        self.misses = 0
        self.inserted = 0
        self.rejected = 0

    def lookup(self, key: int) -> Megaflow | None:
        """The live megaflow cached for exactly ``key``, or None."""
        entry = self._flows.get(key)
        if entry is not None:
            if not entry.dead:
                self.hits += 1
                return entry
            self._drop(key)
        self.misses += 1
        return None

    def insert(self, key: int, entry: Megaflow) -> bool:
        """Offer ``key`` -> ``entry`` after a megaflow hit; True if it was cached."""
        self._countdown -= 1
        if self._countdown > 0:
            return False
        self._countdown = self.insert_inv_prob
        if entry.dead:
            return False
        if key in self._flows:
            self._flows[key] = entry
            return True
        digest = hash(key)
        same = self._same_hash.get(digest, 0)
        if same >= SAME_HASH_LIMIT:
            self.rejected += 1
            return False
        if len(self._flows) >= self.size:
            for old in list(islice(self._flows, max(1, self.size // 16))):
                self._drop(old)
        self._flows[key] = entry
        self._same_hash[digest] = same + 1
        self.inserted += 1
        return True

    def clear(self) -> None:
        self._flows.clear()
        self._same_hash.clear()

    def __len__(self) -> int:
        """Keys cached (some may point at megaflows that died since)."""
        return len(self._flows)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "inserted": self.inserted,
                "rejected": self.rejected, "entries": len(self._flows)}

    def _drop(self, key: int) -> None:
        del self._flows[key]
        digest = hash(key)
        if self._same_hash[digest] > 1:
            self._same_hash[digest] -= 1
        else:
            del self._same_hash[digest]


class FlowCache:
    """The EMC and the megaflow cache composed as the datapath uses them."""

    def __init__(self, flow_limit: int = 200_000, emc_size: int = 8192,
                 emc_insert_inv_prob: int = 100, projector: Projector | None = None) -> None:
        self.emc = ExactMatchCache(emc_size, emc_insert_inv_prob)
        self.megaflows = MegaflowCache(flow_limit, projector)

    def lookup(self, key: int) -> Megaflow | None:
        """EMC, then megaflows (offering a hit to the EMC); None is a miss."""
        entry = self.emc.lookup(key)
        if entry is None:
            entry = self.megaflows.lookup(key)
            if entry is not None:
                self.emc.insert(key, entry)
        return entry

    def insert(self, mask: int, key: int, actions: object, ufid: object = None,
               now: float = 0.0, desc: object = None) -> Megaflow:
        return self.megaflows.insert(mask, key, actions, ufid, now, desc)

    def remove(self, entry: Megaflow) -> bool:
        return self.megaflows.remove(entry)

    def flush(self) -> int:
        self.emc.clear()
        return self.megaflows.flush()
