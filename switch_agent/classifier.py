"""Classifier: the versioned tuple-space search behind every OpenFlow table.

Sits under the OpenFlow tables of switch_agent/ (one ``Classifier`` per table): the
table code inserts and removes rules, xlate looks packets up.  It owns the rule index,
the search order, the versions and the wildcards a lookup reports.  Generic: keys and
masks are plain ints (for the pipeline, the datapath key with ``metadata`` above it,
see the pipeline brief); it never looks inside a rule's ``payload`` and imports nothing
of the project.  Single-threaded (one asyncio loop).

Tuple-space search (OVS lib/classifier.c): one subtable per distinct mask, a dict
``key & mask -> bucket``, the bucket being the rules with that masked key, highest
priority first.  The subtables are searched in the order of their highest priority
(descending), and the search stops as soon as the best match found so far has a
priority >= the next subtable's highest priority: nothing there can beat it.  (A
subtable's highest priority counts every rule it holds, visible or not: an upper
bound of what it can return, which is all the early stop needs.)

Wildcards: ``lookup`` returns the rule and the OR of the masks of every subtable it
examined.  That is a correct megaflow mask: take any key' equal to key on those bits.
In each examined subtable, key' & mask == key & mask (the mask is inside the
wildcards), so key' lands in the same bucket and finds the same rule or nothing; the
decision to stop before a subtable depends only on the best priority found so far and
on the subtables' highest priorities, which are the same for key'.  So key' walks
exactly the same subtables and gets the same answer; the bits outside the wildcards
never influenced it.  (OVS narrows this further with staged lookups and prefix tries;
here a miss un-wildcards the union of all masks.)

Priorities: ints >= 0, higher wins.  Among visible rules of equal priority matching
one key (overlapping rules, undefined in OpenFlow) lookup returns one of them:
deterministically the one in the earliest subtable, and within a bucket the one
inserted first.  Inserting a rule with the same key, mask and priority as a visible
one is allowed: both are kept, and the caller decides about replacement (OpenFlow's
add replaces: the table inserts the new rule and removes the old one at the same
version, so exactly one of them is visible at any version).

Versions (OVS's ``ovs_version_t``): every rule carries ``add_version`` and
``remove_version``; a lookup at version v sees the rules with add_version <= v <
remove_version.  Lookups and finds use ``version`` (the published one) unless given
another.  A set of changes is made at version+1 (inserts and removals at that
version are invisible to lookups at the current one), then ``publish(version+1)``
makes them visible at once.  A rule nobody can see any more -- removed at a version
<= the published one, or removed before it was ever visible -- is unlinked at once
by ``remove`` or by the ``publish`` that makes its removal current, so removed rules
never accumulate.  Lookups at versions older than the published one are therefore
not supported (the rules they would see may be gone).

Cost: a lookup is, per subtable examined, one ``&``, one dict probe and, on a hit,
one version check per rule of the bucket until a visible one; the search list is a
precomputed list of (highest priority, mask, dict.get) tuples, rebuilt only when a
mutation changes the subtables or their order.  ``find_loose`` and
``find_overlapping`` probe one bucket per subtable whose mask the query's covers and
scan the other subtables' buckets (OpenFlow's non-strict delete and CHECK_OVERLAP
are rare next to lookups).  Keys with equal Python hashes in one subtable slow its
probes; rule keys come from controllers, not packets, so this is not a flooding
vector as it is for the datapath caches.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

VERSION_NEVER = (1 << 63) - 1
"""remove_version of a rule not removed (OVS OVS_VERSION_NOT_REMOVED); add_version of a
rule not yet inserted."""


class Rule:
    """One classifier entry.  Subclass or use ``payload`` for the owner's data.

    ``key`` is already masked (key & mask); ``priority`` is an int >= 0 (OpenFlow:
    0..65535), higher wins.  The versions are set by the classifier.
    """

    __slots__ = ("key", "mask", "priority", "payload", "add_version", "remove_version")

    def __init__(self, key: int, mask: int, priority: int, payload: object = None) -> None:
        self.key = key & mask
        self.mask = mask
        self.priority = priority
        self.payload = payload
        self.add_version = VERSION_NEVER
        self.remove_version = VERSION_NEVER

    def visible(self, version: int) -> bool:
        """Seen by a lookup at ``version``."""
        return self.add_version <= version < self.remove_version

    def __repr__(self) -> str:
        removed = "" if self.remove_version == VERSION_NEVER else f"..{self.remove_version}"
        return (f"<{type(self).__name__} priority={self.priority} key={self.key:#x} "
                f"mask={self.mask:#x} versions={self.add_version}{removed}>")


class _Subtable:
    """The rules of one mask: masked key -> bucket (rules, highest priority first)."""

    __slots__ = ("mask", "buckets", "count", "priorities", "heap", "max_priority")

    def __init__(self, mask: int) -> None:
        self.mask = mask
        self.buckets: dict[int, list[Rule]] = {}
        self.count = 0  # rules linked
        self.priorities: dict[int, int] = {}  # priority -> rules linked with it
        self.heap: list[int] = []  # -priority, lazily cleaned (see _unlink)
        self.max_priority = -1


class Classifier:
    """Versioned tuple-space classifier over int keys; see the module docstring."""

    def __init__(self) -> None:
        self.version = 0  # the version lookups see by default
        self._by_mask: dict[int, _Subtable] = {}
        self._subtables: list[_Subtable] = []  # search order: highest priority first
        # What lookup iterates: (max_priority, mask, buckets.get) per subtable, in order.
        self._search: list[tuple[int, int, Callable[[int], list[Rule] | None]]] = []
        self._linked = 0  # rules in the subtables
        self._adding: dict[int, Rule] = {}  # id -> linked rule with add_version > version
        self._removing: dict[int, Rule] = {}  # id -> linked rule with a pending removal
        self._dirty = False  # the search order needs rebuilding

    # ------------------------------------------------------------------ lookup

    def lookup(self, key: int, version: int | None = None) -> tuple[Rule | None, int]:
        """The best visible rule matching ``key`` (or None) and the wildcards."""
        if version is None:
            version = self.version
        best = None
        best_priority = -1
        wildcards = 0
        for max_priority, mask, get in self._search:
            if best_priority >= max_priority:
                break
            wildcards |= mask
            bucket = get(key & mask)
            if bucket is not None:
                for rule in bucket:
                    if rule.add_version <= version < rule.remove_version:
                        if rule.priority > best_priority:
                            best = rule
                            best_priority = rule.priority
                        break
        return best, wildcards

    def find_exact(self, key: int, mask: int, priority: int,
                   version: int | None = None) -> Rule | None:
        """The visible rule with exactly this match and priority (OpenFlow strict)."""
        if version is None:
            version = self.version
        subtable = self._by_mask.get(mask)
        if subtable is None:
            return None
        for rule in subtable.buckets.get(key & mask, ()):
            if rule.priority == priority and rule.add_version <= version < rule.remove_version:
                return rule
        return None

    def find_loose(self, key: int, mask: int, version: int | None = None) -> list[Rule]:
        """Visible rules at least as specific as (key, mask) (OpenFlow non-strict match):
        rule.mask covers mask and rule.key & mask == key & mask."""
        if version is None:
            version = self.version
        key &= mask
        found: list[Rule] = []
        for subtable in self._subtables:
            sub_mask = subtable.mask
            if sub_mask & mask != mask:
                continue
            for bucket in self._buckets_agreeing(subtable, key, mask):
                found.extend(rule for rule in bucket
                             if rule.add_version <= version < rule.remove_version)
        return found

    def find_overlapping(self, key: int, mask: int, priority: int,
                         version: int | None = None) -> list[Rule]:
        """Visible rules of ``priority`` that some key matches together with (key, mask):
        (rule.key ^ key) & rule.mask & mask == 0 (for OFPFF_CHECK_OVERLAP).  A rule with
        the very same match is among them."""
        if version is None:
            version = self.version
        found: list[Rule] = []
        for subtable in self._subtables:
            if priority not in subtable.priorities:
                continue
            common = subtable.mask & mask
            for bucket in self._buckets_agreeing(subtable, key & common, common):
                found.extend(rule for rule in bucket if rule.priority == priority
                             and rule.add_version <= version < rule.remove_version)
        return found

    def rules(self, version: int | None = None) -> list[Rule]:
        """Every rule visible at ``version`` (search order, then bucket order)."""
        if version is None:
            version = self.version
        return [rule for subtable in self._subtables for bucket in subtable.buckets.values()
                for rule in bucket if rule.add_version <= version < rule.remove_version]

    def __len__(self) -> int:
        """Rules visible at the published version."""
        return self._linked - len(self._adding)

    @property
    def n_subtables(self) -> int:
        """Distinct masks held (a miss examines this many subtables)."""
        return len(self._subtables)

    def stats(self) -> dict[str, int]:
        """Counts for table statistics and debugging."""
        return {"rules": len(self), "linked": self._linked, "adding": len(self._adding),
                "removing": len(self._removing), "subtables": len(self._subtables),
                "buckets": sum(len(subtable.buckets) for subtable in self._subtables)}

    def mask_list(self) -> list[tuple[int, int, int]]:
        """(mask, highest priority, rules) per subtable in search order, for debugging."""
        return [(subtable.mask, subtable.max_priority, subtable.count)
                for subtable in self._subtables]

    # ------------------------------------------------------------------ changes

    def insert(self, key: int, mask: int, priority: int, payload: object = None,
               version: int | None = None) -> Rule:
        """A new rule for ``key & mask``, visible from ``version`` (default: the
        published one, i.e. at once).  Never replaces anything: see the module docstring."""
        return self.insert_rule(Rule(key, mask, priority, payload), version)

    def insert_rule(self, rule: Rule, version: int | None = None) -> Rule:
        """Link a rule the caller built (a ``Rule`` subclass); as ``insert``."""
        if rule.priority < 0:
            raise ValueError(f"priority must be >= 0, not {rule.priority}")
        if rule.add_version != VERSION_NEVER:
            raise ValueError(f"{rule!r} was already inserted")
        rule.key &= rule.mask
        rule.add_version = self.version if version is None else version
        rule.remove_version = VERSION_NEVER
        subtable = self._by_mask.get(rule.mask)
        if subtable is None:
            subtable = self._by_mask[rule.mask] = _Subtable(rule.mask)
            self._subtables.append(subtable)
            self._dirty = True
        bucket = subtable.buckets.get(rule.key)
        if bucket is None:
            subtable.buckets[rule.key] = [rule]
        else:
            index = len(bucket)
            priority = rule.priority
            while index and bucket[index - 1].priority < priority:
                index -= 1
            bucket.insert(index, rule)  # after the rules of equal priority
        subtable.count += 1
        count = subtable.priorities.get(rule.priority, 0)
        subtable.priorities[rule.priority] = count + 1
        if count == 0:
            heapq.heappush(subtable.heap, -rule.priority)
        if rule.priority > subtable.max_priority:
            subtable.max_priority = rule.priority
            self._dirty = True
        self._linked += 1
        if rule.add_version > self.version:
            self._adding[id(rule)] = rule
        self._rebuild()
        return rule

    def remove(self, rule: Rule, version: int | None = None) -> None:
        """Make ``rule`` invisible from ``version`` on (default: the published one, i.e.
        at once).  Removing a rule already gone is a no-op; removing it again at an
        earlier version brings its removal forward."""
        if rule.add_version == VERSION_NEVER:
            raise ValueError(f"{rule!r} was never inserted")
        if rule.remove_version <= self.version or rule.remove_version <= rule.add_version:
            return  # already unlinked
        version = self.version if version is None else version
        if version >= rule.remove_version:
            return
        rule.remove_version = version
        if version <= self.version or version <= rule.add_version:
            self._unlink(rule)  # nobody at the published version or later can see it
        else:
            self._removing[id(rule)] = rule
        self._rebuild()

    def restore(self, rule: Rule) -> None:
        """Cancel ``rule``'s pending removal (one not yet published: rolling back a
        set of changes).  Raises ValueError if the rule is already gone."""
        if rule.remove_version == VERSION_NEVER:
            return  # not being removed
        if self._removing.pop(id(rule), None) is not rule:
            raise ValueError(f"{rule!r} is no longer in the classifier")
        rule.remove_version = VERSION_NEVER

    def publish(self, version: int) -> None:
        """Make ``version`` the one lookups see; drop the rules removed at or before it."""
        if version < self.version:
            raise ValueError(f"version {version} is older than the published {self.version}")
        self.version = version
        if self._adding:
            for ident, rule in list(self._adding.items()):
                if rule.add_version <= version:
                    del self._adding[ident]
        if self._removing:
            for rule in [rule for rule in self._removing.values()
                         if rule.remove_version <= version]:
                self._unlink(rule)
        self._rebuild()

    def clear(self) -> None:
        """Drop every rule at once, whatever its versions (the published version stays)."""
        for subtable in self._subtables:
            for bucket in subtable.buckets.values():
                for rule in bucket:
                    if rule.remove_version > self.version:
                        rule.remove_version = self.version
        self._by_mask.clear()
        self._subtables.clear()
        self._search = []
        self._linked = 0
        self._adding.clear()
        self._removing.clear()
        self._dirty = False

    def __iter__(self) -> Iterator[Rule]:
        """The rules visible at the published version."""
        return iter(self.rules())

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _buckets_agreeing(subtable: _Subtable, key: int, mask: int) -> Iterator[list[Rule]]:
        """The buckets of ``subtable`` whose key equals ``key`` (masked) under ``mask``."""
        if subtable.mask & mask == subtable.mask:  # mask covers the subtable's: one bucket
            bucket = subtable.buckets.get(key & subtable.mask)
            if bucket is not None:
                yield bucket
            return
        for bucket_key, bucket in subtable.buckets.items():
            if bucket_key & mask == key:
                yield bucket

    def _unlink(self, rule: Rule) -> None:
        """Take ``rule`` out of its subtable (and drop the subtable when it empties)."""
        subtable = self._by_mask.get(rule.mask)
        bucket = subtable.buckets.get(rule.key) if subtable is not None else None
        if subtable is None or bucket is None or not any(r is rule for r in bucket):
            raise ValueError(f"{rule!r} is not in the classifier")
        for index, other in enumerate(bucket):
            if other is rule:
                del bucket[index]
                break
        if not bucket:
            del subtable.buckets[rule.key]
        self._linked -= 1
        self._adding.pop(id(rule), None)
        self._removing.pop(id(rule), None)
        subtable.count -= 1
        if subtable.count == 0:
            del self._by_mask[subtable.mask]
            self._subtables.remove(subtable)
            self._dirty = True
            return
        priorities = subtable.priorities
        if priorities[rule.priority] > 1:
            priorities[rule.priority] -= 1
            return
        del priorities[rule.priority]
        heap = subtable.heap
        while -heap[0] not in priorities:  # drop stale tops; the subtable is not empty
            heapq.heappop(heap)
        if len(heap) > 2 * len(priorities) + 8:  # stale entries below the top: compact
            heap[:] = [-priority for priority in priorities]
            heapq.heapify(heap)
        if -heap[0] != subtable.max_priority:
            subtable.max_priority = -heap[0]
            self._dirty = True

    def _rebuild(self) -> None:
        """Re-sort the subtables and rebuild the search list if anything changed them."""
        if not self._dirty:
            return
        self._subtables.sort(key=lambda subtable: -subtable.max_priority)
        self._search = [(subtable.max_priority, subtable.mask, subtable.buckets.get)
                        for subtable in self._subtables]
        self._dirty = False
