"""The OpenFlow group table: GROUP_MOD semantics, group counters, group multipart replies.

Sits in switch_agent/ beside the flow tables (flowtable.py): ofproto hands it decoded
GROUP_MODs and multipart requests, and it edits ``Switch.groups`` -- the dict of
``xlate.GroupEntry`` that xlate walks -- in place, so the next translation sees the
change (ofproto revalidates after every change, as after a FLOW_MOD).  It owns what
OpenFlow 1.3 says about groups: add / modify / delete with their error codes, bucket
checks, chaining and loops, the per-group and per-bucket counters, and the bodies of
GROUP_STATS, GROUP_DESC and GROUP_FEATURES replies.  It does not know flows: deleting a
group returns the ids deleted and the caller removes the flows forwarding to them
(``FlowTables.remove_for_group``, FLOW_REMOVED reason GROUP_DELETE); how many flows use
a group (``ref_count``) comes from a callable.  Time comes from ``clock``.

Semantics, OpenFlow 1.3.5 section 6.5 with Open vSwitch's readings (ofproto.c,
lib/ofp-group.c ``ofputil_check_group_mod``) where the spec is silent:
  * a type other than ALL/SELECT/INDIRECT/FF -> OFPGMFC_BAD_TYPE (checked first, for
    every command, as OVS); a command other than ADD/MODIFY/DELETE -> BAD_COMMAND;
  * ADD or MODIFY of a group id above OFPG_MAX -> INVALID_GROUP; DELETE of OFPG_ALL
    deletes every group, of another id above OFPG_MAX -> INVALID_GROUP (OVS ignores
    it), of a missing group -> nothing, no error; a DELETE carrying buckets ->
    INVALID_GROUP (OF1.3.5, as OVS);
  * bucket checks (OVS's): a weight in a non-SELECT group -> INVALID_GROUP (the spec's
    "fields undefined for the group type"); an INDIRECT group needs exactly one bucket
    -> INVALID_GROUP; a watch port or group in an ALL or INDIRECT group ->
    WATCH_UNSUPPORTED; a FAST_FAILOVER bucket without either -> INVALID_GROUP (OVS's
    code; BAD_WATCH is kept for a watch that cannot name a port or group: port 0, a
    reserved port other than LOCAL, OFPG_ALL); SELECT weight 0 is accepted (that bucket
    is never chosen, as OVS); more than ``max_buckets`` buckets -> OUT_OF_BUCKETS;
  * bucket actions: output to port 0, TABLE, ANY or a number above OFPP_MAX that is no
    reserved port -> OFPBAC_BAD_OUT_PORT (the checks ofproto makes on flow actions);
    a group action naming a group that does not exist -> OFPBAC_BAD_OUT_GROUP, naming
    the group itself, or a group that leads back to it -> OFPGMFC_LOOP (chaining is
    supported to any depth; xlate bounds the walk anyway);
  * ADD of an existing id -> GROUP_EXISTS; a type holding ``max_groups[type]`` groups
    -> OUT_OF_GROUPS (also for a MODIFY that changes the type); MODIFY of a missing id
    -> UNKNOWN_GROUP;
  * MODIFY replaces type and buckets; flows keep forwarding to the group; the counters
    restart but the age (duration) does not, as OVS;
  * DELETE of a group other groups forward to: by default as OVS -- it goes, their
    buckets keep the dangling reference (xlate skips a missing group, a watch on it is
    not live); with ``chaining_checks`` it is refused with CHAINED_GROUP (deleting
    OFPG_ALL always succeeds) and GROUP_FEATURES advertises OFPGFC_CHAINING_CHECKS.

Counters: ``credit(group_id, packets, bytes, buckets=None)`` adds what the datapath saw
(ofproto credits the groups of each megaflow's translation, as it credits rules).  The
group counts every packet; buckets: ALL -- every bucket saw each packet; INDIRECT --
its one bucket; SELECT and FAST_FAILOVER -- only the buckets the caller names (the
translation knows which one it took; without that, bucket counters stay as they are
rather than guess).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from openflow import actions as ofa
from openflow.consts import (
    OFP10,
    OFPG_ALL,
    OFPG_ANY,
    OFPG_MAX,
    OFPGC_ADD,
    OFPGC_DELETE,
    OFPGC_MODIFY,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_INDIRECT,
    OFPGT_SELECT,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_MAX,
    OFPP_NORMAL,
)
from openflow.errors import CodecError, Err
from openflow.messages import (
    Bucket,
    BucketCounter,
    GroupDesc,
    GroupFeaturesStatsReply,
    GroupMod,
    GroupStats,
)
from openflow.v13_actions import (
    OFPAT_COPY_TTL_IN,
    OFPAT_COPY_TTL_OUT,
    OFPAT_DEC_MPLS_TTL,
    OFPAT_DEC_NW_TTL,
    OFPAT_GROUP,
    OFPAT_OUTPUT,
    OFPAT_POP_MPLS,
    OFPAT_POP_PBB,
    OFPAT_POP_VLAN,
    OFPAT_PUSH_MPLS,
    OFPAT_PUSH_PBB,
    OFPAT_PUSH_VLAN,
    OFPAT_SET_FIELD,
    OFPAT_SET_MPLS_TTL,
    OFPAT_SET_NW_TTL,
    OFPAT_SET_QUEUE,
)
from switch_agent.xlate import GroupEntry

# ofp_group_capabilities
OFPGFC_SELECT_WEIGHT = 1 << 0
OFPGFC_SELECT_LIVENESS = 1 << 1
OFPGFC_CHAINING = 1 << 2
OFPGFC_CHAINING_CHECKS = 1 << 3

GROUP_TYPES = (OFPGT_ALL, OFPGT_SELECT, OFPGT_INDIRECT, OFPGT_FF)
# The actions a bucket can do, as OVS advertises them for OF1.2+ (its test "group
# features (OpenFlow 1.2)"): xlate ignores copy-TTL and PBB, so they are left out.
BUCKET_ACTIONS = sum(1 << bit for bit in (
    OFPAT_OUTPUT, OFPAT_COPY_TTL_OUT, OFPAT_COPY_TTL_IN, OFPAT_SET_MPLS_TTL, OFPAT_DEC_MPLS_TTL,
    OFPAT_PUSH_VLAN, OFPAT_POP_VLAN, OFPAT_PUSH_MPLS, OFPAT_POP_MPLS, OFPAT_SET_QUEUE,
    OFPAT_GROUP, OFPAT_SET_NW_TTL, OFPAT_DEC_NW_TTL, OFPAT_SET_FIELD, OFPAT_PUSH_PBB,
    OFPAT_POP_PBB))
DEFAULT_MAX_BUCKETS = 1024
_OUTPUT_RESERVED = frozenset((OFPP_IN_PORT, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL,
                              OFPP_CONTROLLER, OFPP_LOCAL))  # not TABLE: PACKET_OUT only


@dataclass(slots=True)
class GroupModResult:
    """What a GROUP_MOD changed: the caller removes the flows of ``deleted`` groups
    (reason OFPRR_GROUP_DELETE) and revalidates when ``changed``."""

    added: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted)


class _Counters:
    """Counters and age of one group."""

    __slots__ = ("created", "packets", "bytes", "bucket_packets", "bucket_bytes")

    def __init__(self, created: float, n_buckets: int) -> None:
        self.created = created
        self.packets = 0
        self.bytes = 0
        self.bucket_packets = [0] * n_buckets
        self.bucket_bytes = [0] * n_buckets


def _references(buckets: Iterable[Bucket]) -> set[int]:
    """The groups these buckets forward to (group actions)."""
    return {action.group_id for bucket in buckets for action in bucket.actions
            if isinstance(action, ofa.Group)}


def _duration(seconds: float) -> tuple[int, int]:
    seconds = max(0.0, seconds)
    sec = int(seconds)
    return sec, min(999_999_999, int(round((seconds - sec) * 1e9)))


class GroupTable:
    """GROUP_MOD semantics over ``groups`` (xlate's dict, edited in place); see the
    module docstring."""

    def __init__(self, groups: dict[int, GroupEntry], *,
                 ref_count: Callable[[int], int] = lambda group_id: 0,
                 clock: Callable[[], float] = time.monotonic,
                 max_groups: int | tuple[int, int, int, int] = OFPG_MAX,
                 max_buckets: int = DEFAULT_MAX_BUCKETS,
                 chaining_checks: bool = False) -> None:
        self.groups = groups
        self.ref_count = ref_count
        self.clock = clock
        if isinstance(max_groups, int):
            max_groups = (max_groups, max_groups, max_groups, max_groups)
        self.max_groups = max_groups
        self.max_buckets = max_buckets
        self.chaining_checks = chaining_checks
        now = clock()
        self._counters = {gid: _Counters(now, len(entry.buckets))
                          for gid, entry in groups.items()}
        self._n_type = [0] * len(GROUP_TYPES)
        for entry in groups.values():
            self._n_type[entry.type] += 1

    def __len__(self) -> int:
        return len(self.groups)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self.groups

    # -- GROUP_MOD

    def apply(self, gm: GroupMod, version: int) -> GroupModResult:
        """Apply a GROUP_MOD from a ``version`` connection; raises CodecError with the
        spec's error having changed nothing."""
        if version == OFP10:
            raise CodecError(Err.OFPBRC_BAD_TYPE, "OpenFlow 1.0 has no groups")
        if gm.type not in GROUP_TYPES:
            raise CodecError(Err.OFPGMFC_BAD_TYPE, f"group type {gm.type}")
        if gm.command == OFPGC_DELETE:
            return self._delete(gm)
        if gm.command not in (OFPGC_ADD, OFPGC_MODIFY):
            raise CodecError(Err.OFPGMFC_BAD_COMMAND, f"group_mod command {gm.command}")
        group_id = gm.group_id
        if group_id > OFPG_MAX:
            raise CodecError(Err.OFPGMFC_INVALID_GROUP, f"group id {group_id:#x}")
        self._check_buckets(gm)
        old = self.groups.get(group_id)
        if gm.command == OFPGC_ADD:
            if old is not None:
                raise CodecError(Err.OFPGMFC_GROUP_EXISTS, f"group {group_id} exists")
            self._check_room(gm.type)
        else:
            if old is None:
                raise CodecError(Err.OFPGMFC_UNKNOWN_GROUP, f"no group {group_id}")
            if old.type != gm.type:
                self._check_room(gm.type)
        self._check_chaining(gm)
        now = self.clock()
        entry = GroupEntry(group_id, gm.type, tuple(gm.buckets))
        counters = _Counters(now, len(entry.buckets))
        if old is None:
            self.groups[group_id] = entry
            self._counters[group_id] = counters
            self._n_type[gm.type] += 1
            return GroupModResult(added=[group_id])
        counters.created = self._counters[group_id].created  # the age carries over
        self._n_type[old.type] -= 1
        self._n_type[gm.type] += 1
        self.groups[group_id] = entry
        self._counters[group_id] = counters
        return GroupModResult(modified=[group_id])

    def _check_room(self, group_type: int) -> None:
        if self._n_type[group_type] >= self.max_groups[group_type]:
            raise CodecError(Err.OFPGMFC_OUT_OF_GROUPS,
                             f"{self.max_groups[group_type]} groups of type {group_type}")

    def _check_buckets(self, gm: GroupMod) -> None:
        gtype = gm.type
        if gtype == OFPGT_INDIRECT and len(gm.buckets) != 1:
            raise CodecError(Err.OFPGMFC_INVALID_GROUP,
                             f"an indirect group has one bucket, not {len(gm.buckets)}")
        if len(gm.buckets) > self.max_buckets:
            raise CodecError(Err.OFPGMFC_OUT_OF_BUCKETS,
                             f"{len(gm.buckets)} buckets (at most {self.max_buckets})")
        for bucket in gm.buckets:
            if bucket.weight and gtype != OFPGT_SELECT:
                raise CodecError(Err.OFPGMFC_INVALID_GROUP, "only select groups weigh buckets")
            port, group = bucket.watch_port, bucket.watch_group
            if port != OFPP_ANY and (port == 0 or (port >= OFPP_MAX and port != OFPP_LOCAL)):
                raise CodecError(Err.OFPGMFC_BAD_WATCH, f"watch_port {port:#x}")
            if group != OFPG_ANY and group > OFPG_MAX:
                raise CodecError(Err.OFPGMFC_BAD_WATCH, f"watch_group {group:#x}")
            watched = port != OFPP_ANY or group != OFPG_ANY
            if watched and gtype in (OFPGT_ALL, OFPGT_INDIRECT):
                raise CodecError(Err.OFPGMFC_WATCH_UNSUPPORTED,
                                 "only select and fast-failover buckets watch")
            if not watched and gtype == OFPGT_FF:
                raise CodecError(Err.OFPGMFC_INVALID_GROUP,
                                 "a fast-failover bucket needs watch_port or watch_group")
            for action in bucket.actions:
                if isinstance(action, ofa.Output | ofa.Enqueue):
                    out = action.port
                    if out == 0 or (out >= OFPP_MAX and out not in _OUTPUT_RESERVED):
                        raise CodecError(Err.OFPBAC_BAD_OUT_PORT, f"output to port {out:#x}")

    def _check_chaining(self, gm: GroupMod) -> None:
        """Group actions must name existing groups and not lead back to ``gm``'s group."""
        group_id = gm.group_id
        targets = _references(gm.buckets)
        if group_id in targets:
            raise CodecError(Err.OFPGMFC_LOOP, f"group {group_id} forwards to itself")
        for target in sorted(targets):
            if target not in self.groups:
                raise CodecError(Err.OFPBAC_BAD_OUT_GROUP, f"no group {target}")
        seen: set[int] = set()
        stack = list(targets)
        while stack:
            current = stack.pop()
            if current == group_id:
                raise CodecError(Err.OFPGMFC_LOOP, f"group {group_id} would reach itself")
            if current in seen:
                continue
            seen.add(current)
            entry = self.groups.get(current)
            if entry is not None:  # a dangling reference (deleted group) goes nowhere
                stack.extend(_references(entry.buckets))

    def _delete(self, gm: GroupMod) -> GroupModResult:
        if gm.buckets:
            raise CodecError(Err.OFPGMFC_INVALID_GROUP, "a group delete carries no buckets")
        group_id = gm.group_id
        if group_id == OFPG_ALL:
            doomed = sorted(self.groups)
        elif group_id > OFPG_MAX:
            raise CodecError(Err.OFPGMFC_INVALID_GROUP, f"group id {group_id:#x}")
        elif group_id in self.groups:
            if self.chaining_checks:
                users = self.referrers(group_id)
                if users:
                    raise CodecError(Err.OFPGMFC_CHAINED_GROUP,
                                     f"groups {users} forward to group {group_id}")
            doomed = [group_id]
        else:
            doomed = []
        for gid in doomed:
            entry = self.groups.pop(gid)
            self._n_type[entry.type] -= 1
            del self._counters[gid]
        return GroupModResult(deleted=doomed)

    def referrers(self, group_id: int) -> list[int]:
        """The other groups whose buckets forward to ``group_id``."""
        return sorted(gid for gid, entry in self.groups.items()
                      if gid != group_id and group_id in _references(entry.buckets))

    # -- counters

    def credit(self, group_id: int, packets: int, nbytes: int,
               buckets: Iterable[int] | None = None) -> None:
        """Count traffic through a group (see the module docstring for the buckets)."""
        counters = self._counters.get(group_id)
        if counters is None or packets <= 0:
            return
        counters.packets += packets
        counters.bytes += nbytes
        if buckets is None:
            gtype = self.groups[group_id].type
            n = len(counters.bucket_packets)
            buckets = range(n) if gtype == OFPGT_ALL else \
                range(min(n, 1)) if gtype == OFPGT_INDIRECT else ()
        for index in buckets:
            if 0 <= index < len(counters.bucket_packets):
                counters.bucket_packets[index] += packets
                counters.bucket_bytes[index] += nbytes

    # -- multipart replies

    def group_stats(self, group_id: int = OFPG_ALL) -> list[GroupStats]:
        """GROUP_STATS entries for one group or OFPG_ALL (a missing group: none, as OVS)."""
        ids = sorted(self.groups) if group_id == OFPG_ALL else \
            [group_id] if group_id in self.groups else []
        now = self.clock()
        entries = []
        for gid in ids:
            counters = self._counters[gid]
            sec, nsec = _duration(now - counters.created)
            entries.append(GroupStats(
                group_id=gid, ref_count=self.ref_count(gid), packet_count=counters.packets,
                byte_count=counters.bytes, duration_sec=sec, duration_nsec=nsec,
                bucket_stats=tuple(BucketCounter(p, b) for p, b in
                                   zip(counters.bucket_packets, counters.bucket_bytes))))
        return entries

    def group_desc(self) -> list[GroupDesc]:
        """GROUP_DESC entries, every group by id."""
        return [GroupDesc(type=entry.type, group_id=gid, buckets=entry.buckets)
                for gid, entry in sorted(self.groups.items())]

    def group_features(self) -> GroupFeaturesStatsReply:
        """The GROUP_FEATURES body: every type, OVS's capabilities (plus CHAINING_CHECKS
        when those are on), ``max_groups`` per type, the bucket actions bitmap."""
        capabilities = OFPGFC_SELECT_WEIGHT | OFPGFC_SELECT_LIVENESS | OFPGFC_CHAINING
        if self.chaining_checks:
            capabilities |= OFPGFC_CHAINING_CHECKS
        return GroupFeaturesStatsReply(
            types=sum(1 << t for t in GROUP_TYPES), capabilities=capabilities,
            max_groups=self.max_groups, actions=(BUCKET_ACTIONS,) * 4)
