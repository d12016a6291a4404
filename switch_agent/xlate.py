"""xlate: an OpenFlow pipeline walk for one packet -> datapath actions + wildcards.

Sits between the flow tables (switch_agent/flowtable.py) and the datapath
(datapath/dpif.py): the upcall handler calls ``Xlate.translate`` for a packet's flow
key, installs the result as a megaflow (``wildcards`` -> its mask) and executes it on
the packet; the revalidator calls it again for every cached megaflow after a change.
It owns the OpenFlow execution model: instructions in order (meter, apply-actions,
clear/write-actions, write-metadata, goto-table), the action set executed in the
spec's order at the end of the pipeline, groups (all, select, indirect,
fast-failover), reserved ports (IN_PORT, ALL, FLOOD, LOCAL, CONTROLLER, NORMAL), TTL
decrements, and the packet-in requests CONTROLLER outputs and table misses turn into
(a datapath ``Userspace`` action whose userdata ``decode_userdata`` reads back).

Two keys are tracked while walking, as OVS's xlate does: ``flow`` -- the packet as the
pipeline has changed it so far (later tables match on it) -- and ``base`` -- the packet
as the datapath actions emitted so far leave it.  Header changes (set-field, VLAN
push/pop) only change ``flow``; before anything that sends the packet somewhere
(output, controller, group bucket) ``_commit`` emits the datapath actions that turn
``base`` into ``flow``.  So an ALL group's buckets each see the packet as it entered
the group, whatever an earlier bucket did to it.  MPLS and PBB push/pop (and
copy_ttl_in/out) are emitted at once; a bucket's are taken back before the next one
(switch_agent/xlate_tags.py: those operations, and why some results are not cached).

Wildcards: every classifier lookup adds the bits it depended on; actions add what
they read (a TTL decrement the TTL, a set-field the presence of its header, a select
group the hashed fields, NORMAL the MAC addresses and VLAN); the result's megaflow
mask is ``flowkey.wildcards_to_megaflow(wildcards)``.  Anything that depends on more
than the key sets ``slow``.

Tracing (switch_agent/trace.py): ``translate(..., tracer=...)`` makes the walk report
to a ``Tracer`` -- it does the table lookups (without counting them), sees each
instruction and action just before it runs, and hears of groups, buckets and the
action set.  Without a tracer this costs one ``is None`` test per lookup, per action
list and per group bucket.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from datapath import flow as dflow
from datapath import odp_actions as odp
from openflow import actions as ofa
from openflow.consts import (
    OFPCML_NO_BUFFER,
    OFPG_ANY,
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
    OFPP_TABLE,
    OFPR_ACTION,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
)
from openflow.messages import Bucket
from switch_agent import flowkey as fk
from switch_agent.flowtable import FlowRule, FlowTables
from switch_agent.xlate_tags import MPLS_TYPES as _MPLS_TYPES
from switch_agent.xlate_tags import TagOps, vlan_stack

MAX_DEPTH = 64  # goto/group nesting, as OVS's MAX_DEPTH
MAX_RESUBMITS = 4096  # total lookups and buckets for one packet
_OFFSET = dflow.FIELD_OFFSET
_WIDTH = dflow.FIELD_WIDTH
_FMASK = dflow.FIELD_MASK
_VLAN_FIELDS = _FMASK["vlan_tci"] | _FMASK["vlan_tpid"] | _FMASK["cvlan_tci"]
_TTL_MASK = _FMASK["ip_ttl"]
_ETH_TYPE_MASK = _FMASK["eth_type"]
_USERDATA = struct.Struct("!BBHIQQ")  # reason, table_id, max_len, flags, cookie, metadata
USERDATA_MISS = 1  # flags: a table miss (only controllers that want those: OF1.0)


_get = dflow.key_get


_put = dflow.key_put
# ------------------------------------------------------------------ what xlate reads


class XPort(Protocol):
    """A port as xlate sees it (ofproto keeps these current)."""

    @property
    def dp_port(self) -> int: ...
    @property
    def live(self) -> bool: ...  # link up and not administratively down (group liveness)
    @property
    def admin_down(self) -> bool: ...  # OFPPC_PORT_DOWN
    @property
    def no_recv(self) -> bool: ...  # OFPPC_NO_RECV: what arrives on it is dropped
    @property
    def no_fwd(self) -> bool: ...
    @property
    def no_flood(self) -> bool: ...


@dataclass(slots=True)
class GroupEntry:
    """A group as xlate sees it."""

    group_id: int
    type: int
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True, slots=True)
class PacketInRequest:
    """What a Userspace action from xlate asks the slow path for (see encode_userdata)."""

    reason: int
    table_id: int
    max_len: int
    cookie: int
    metadata: int
    miss: bool


def encode_userdata(request: PacketInRequest) -> bytes:
    return _USERDATA.pack(request.reason, request.table_id, request.max_len,
                          USERDATA_MISS if request.miss else 0, request.cookie,
                          request.metadata)


def decode_userdata(data: bytes) -> PacketInRequest | None:
    if len(data) != _USERDATA.size:
        return None
    reason, table_id, max_len, flags, cookie, metadata = _USERDATA.unpack(data)
    return PacketInRequest(reason, table_id, max_len, cookie, metadata,
                           bool(flags & USERDATA_MISS))


@dataclass(slots=True)
class XlateResult:
    actions: list[odp.Action] = field(default_factory=list)
    wildcards: int = 0
    rules: list[FlowRule] = field(default_factory=list)  # every rule hit (stats)
    groups: list[int] = field(default_factory=list)  # every group used (stats)
    learned: bool = False  # NORMAL learned or moved a MAC: other megaflows may be stale
    tables: list[tuple[int, bool, int]] = field(default_factory=list)  # lookups made:
    # (table, matched, classifier key looked up)
    stations: list[tuple[int, int, int]] = field(default_factory=list)  # NORMAL's (vlan,
    # source MAC, port): refreshed in the MAC table while the megaflow carries traffic
    slow: bool = False  # must not be cached

    @property
    def megaflow_mask(self) -> int:
        return fk.wildcards_to_megaflow(self.wildcards)


class MacTable:
    """NORMAL's MAC learning: (vlan, mac) -> OpenFlow port, with aging."""

    def __init__(self, aging: float = 300.0, max_entries: int = 8192) -> None:
        self.aging = aging
        self.max_entries = max_entries
        self._entries: dict[tuple[int, int], tuple[int, float]] = {}

    def learn(self, vlan: int, mac: int, port: int, now: float) -> bool:
        """Learn; True if this is new information (new MAC or moved port)."""
        old = self._entries.get((vlan, mac))
        if old is None and len(self._entries) >= self.max_entries:
            self.expire(now)
            if len(self._entries) >= self.max_entries:
                oldest = min(self._entries, key=lambda k: self._entries[k][1])
                del self._entries[oldest]
        self._entries[(vlan, mac)] = (port, now)
        return old is None or old[0] != port

    def lookup(self, vlan: int, mac: int, now: float) -> int | None:
        entry = self._entries.get((vlan, mac))
        if entry is None or now - entry[1] > self.aging:
            return None
        return entry[0]

    def expire(self, now: float) -> int:
        stale = [k for k, (_, used) in self._entries.items() if now - used > self.aging]
        for k in stale:
            del self._entries[k]
        return len(stale)

    def entries(self, now: float) -> list[tuple[int, int, int, float]]:
        """(port, vlan, mac, age in seconds) of the live entries, by port then MAC."""
        return sorted((port, vlan, mac, now - used)
                      for (vlan, mac), (port, used) in self._entries.items()
                      if now - used <= self.aging)

    def flush(self) -> int:
        """Forget everything (fdb-flush); returns how many entries there were."""
        count = len(self._entries)
        self._entries.clear()
        return count

    def flush_port(self, port: int) -> None:
        for k in [k for k, (p, _) in self._entries.items() if p == port]:
            del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)


class Tracer(Protocol):
    """What a translation reports to a trace (switch_agent/trace.py); every call
    gets the walk's context (``flow``, ``out``, ``action_set``, ``dropped``...)."""

    def lookup(self, ctx: _Ctx, table_id: int) -> tuple[FlowRule | None, int]:
        """Look ``ctx.flow`` up in the table (instead of the counting lookup)."""
        ...

    def instructions(self, ctx: _Ctx, rule: FlowRule) -> Iterable[ofa.Instruction]:
        """The rule's instructions, each yielded just before it runs."""
        ...

    def actions(self, ctx: _Ctx, actions: tuple[ofa.Action, ...]) -> Iterable[ofa.Action]:
        """An action list (apply-actions, bucket, action set), each yielded just
        before it runs; it may stop early once ``ctx.dropped``."""
        ...

    def action_set(self, ctx: _Ctx, actions: tuple[ofa.Action, ...]) -> None:
        """The action set is about to run, in this order."""
        ...

    def group(self, ctx: _Ctx, group_id: int, entry: GroupEntry | None) -> None:
        """A group action (``entry`` None: no such group)."""
        ...

    def bucket(self, ctx: _Ctx, bucket: Bucket) -> None:
        """A bucket of the innermost group is about to run."""
        ...


# ------------------------------------------------------------------ the walk


class Xlate:
    """Translates packets through the pipeline; one per switch."""

    def __init__(self, tables: FlowTables, ports: Mapping[int, XPort],
                 groups: Mapping[int, GroupEntry], *,
                 miss_to_controller: Callable[[], bool] = lambda: False,
                 invalid_ttl_to_controller: Callable[[], bool] = lambda: False,
                 fail_open: Callable[[], bool] = lambda: False,
                 frag_drop: Callable[[], bool] = lambda: False,
                 mac_table: MacTable | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.tables = tables
        self.ports = ports  # OpenFlow port number -> XPort
        self.groups = groups
        self.miss_to_controller = miss_to_controller
        self.invalid_ttl_to_controller = invalid_ttl_to_controller
        self.fail_open = fail_open
        self.frag_drop = frag_drop
        self.mac_table = mac_table if mac_table is not None else MacTable()
        self.clock = clock if clock is not None else (lambda: 0.0)

    def translate(self, key: int, *, side_effects: bool = True, table_id: int = 0,
                  actions: tuple[ofa.Action, ...] | None = None,
                  tracer: Tracer | None = None, frame: bytes | None = None) -> XlateResult:
        """Walk the pipeline for a packet with datapath key ``key`` from ``table_id``,
        or run ``actions`` (PACKET_OUT) instead of looking up.  ``side_effects``:
        NORMAL may learn MACs (upcalls yes, revalidation of an idle flow no).
        ``tracer``: report the walk to it (see ``Tracer``).  ``frame``: the packet itself,
        when there is one (upcall, PACKET_OUT): after a pop_mpls the headers behind the
        label are parsed from it (see ``_Ctx.pop_mpls``)."""
        ctx = _Ctx(self, key, side_effects, tracer)
        ctx.frame = frame
        ctx.result.wildcards |= _FMASK["in_port"]
        in_xport = self.ports.get(ctx.in_port)
        if actions is None and in_xport is not None and (in_xport.no_recv or in_xport.admin_down):
            return ctx.result  # dropped on arrival (OFPPC_NO_RECV / PORT_DOWN), as OVS
        if actions is None and self.frag_drop():
            # OFPC_FRAG_DROP: IP fragments never reach the tables (OpenFlow 1.3 7.3.2).
            ctx.result.wildcards |= _ETH_TYPE_MASK | _FMASK["ip_frag"]
            if _get(key, "eth_type") in (0x0800, 0x86DD) and \
                    _get(key, "ip_frag") & dflow.FRAG_ANY:
                return ctx.result
        if actions is not None:
            ctx.apply_actions(actions, table_id=OFPP_CONTROLLER & 0xFF, packet_out=True)
        elif self.fail_open():
            ctx.normal()  # standalone without a controller: a learning switch (OVS fail-open)
        else:
            ctx.run_table(table_id)
        ctx.commit()
        return ctx.result


class _Ctx(TagOps):
    """One translation's state."""

    def __init__(self, x: Xlate, key: int, side_effects: bool,
                 tracer: Tracer | None = None) -> None:
        self.x = x
        self.tracer = tracer
        self.flow = key  # classifier key (metadata 0 at ingress)
        self.base = key  # what the datapath packet is after the actions emitted so far
        self.in_dp_port = _get(key, "in_port")
        self.in_port = fk.dp_port_to_ofp(self.in_dp_port)
        self.side_effects = side_effects
        self.result = XlateResult()
        self.action_set: dict[str, ofa.Action | list[ofa.Action]] = {}
        self.depth = 0
        self.resubmits = 0
        self.table_id = 0
        self.cookie = 0
        self.rule: FlowRule | None = None
        self.dropped = False
        # The key has no TPID for the inner VLAN tag: tracked here for ``flow`` and
        # ``base`` (a received inner tag is taken as 0x8100).
        self.inner_tpid = self.base_inner_tpid = 0x8100
        self.frame: bytes | None = None  # the packet, when translating a real one

    @property
    def out(self) -> list[odp.Action]:
        return self.result.actions

    # -- tables and instructions

    def run_table(self, table_id: int) -> None:
        while not self.dropped:
            self.resubmits += 1
            if self.resubmits > MAX_RESUBMITS or self.depth > MAX_DEPTH:
                self.dropped = True
                return
            self.table_id = table_id
            tracer = self.tracer
            if tracer is None:
                # Table statistics count packets: this one (when it is a real packet,
                # not a revalidation), then the megaflow's hits (ofproto credits them).
                rule, wildcards = self.x.tables.lookup(table_id, self.flow,
                                                       count=self.side_effects)
            else:
                rule, wildcards = tracer.lookup(self, table_id)
            self.result.wildcards |= wildcards
            self.result.tables.append((table_id, rule is not None, self.flow))
            if rule is None:
                if self.x.miss_to_controller():
                    self.controller(OFPCML_NO_BUFFER, OFPR_NO_MATCH, miss=True)
                return
            self.result.rules.append(rule)
            self.cookie = rule.cookie
            self.rule = rule
            goto = None
            for inst in rule.instructions if tracer is None else tracer.instructions(self, rule):
                if isinstance(inst, ofa.Meter):
                    self.commit()
                    self.out.append(odp.Meter(inst.meter_id))
                elif isinstance(inst, ofa.ApplyActions):
                    self.apply_actions(inst.actions, table_id=table_id)
                elif isinstance(inst, ofa.ClearActions):
                    self.action_set.clear()
                elif isinstance(inst, ofa.WriteActions):
                    self.write_actions(inst.actions)
                elif isinstance(inst, ofa.WriteMetadata):
                    mask = inst.metadata_mask << fk.METADATA_OFFSET
                    self.flow = (self.flow & ~mask) | ((inst.metadata << fk.METADATA_OFFSET) & mask)
                elif isinstance(inst, ofa.GotoTable):
                    goto = inst.table_id
                if self.dropped:
                    return
            if goto is None:
                self.run_action_set()
                return
            table_id = goto

    def write_actions(self, actions: tuple[ofa.Action, ...]) -> None:
        """Merge into the action set: one action per type, set-fields per field."""
        for action in actions:
            if isinstance(action, ofa.SetField):
                self.action_set["set_field:" + action.field] = action
            else:
                self.action_set[type(action).__name__] = action

    def run_action_set(self) -> None:
        """The action set, in OpenFlow 1.3's order (5.10)."""
        aset = self.action_set
        if not aset:
            return
        ordered: list[ofa.Action] = []
        for name in ("CopyTtlIn", "PopVlan", "PopMpls", "PopPbb", "PushMpls", "PushPbb",
                     "PushVlan", "CopyTtlOut", "DecMplsTtl", "DecNwTtl"):
            if name in aset:
                ordered.append(aset[name])  # type: ignore[arg-type]
        ordered += [a for k, a in aset.items() if k.startswith("set_field:")]  # type: ignore[misc]
        for name in ("SetVlanVid", "SetVlanPcp", "SetTpSrc", "SetTpDst", "SetMplsTtl",
                     "SetNwTtl", "SetQueue"):
            if name in aset:
                ordered.append(aset[name])  # type: ignore[arg-type]
        if "Group" in aset:
            ordered.append(aset["Group"])  # type: ignore[arg-type]
        elif "Output" in aset:
            ordered.append(aset["Output"])  # type: ignore[arg-type]
        self.action_set = {}
        if self.tracer is not None:
            self.tracer.action_set(self, tuple(ordered))
        self.apply_actions(tuple(ordered), table_id=self.table_id)

    # -- actions

    def apply_actions(self, actions: tuple[ofa.Action, ...], *, table_id: int,
                      packet_out: bool = False) -> None:
        items = actions if self.tracer is None else self.tracer.actions(self, actions)
        for action in items:
            if self.dropped:
                return
            if isinstance(action, ofa.Output):
                self.output(action.port, action.max_len, packet_out=packet_out)
            elif isinstance(action, ofa.Enqueue):
                self.output(action.port, 0, packet_out=packet_out)
            elif isinstance(action, ofa.Group):
                self.group(action.group_id)
            elif isinstance(action, ofa.SetField):
                self.set_field(action.field, action.value)
            elif isinstance(action, ofa.SetVlanVid):  # OF1.0: pushes a tag if none
                if not _get(self.flow, "vlan_tci") & 0x1000:
                    self.push_vlan(0x8100)
                self.set_field("vlan_vid", action.vlan_vid | 0x1000)
            elif isinstance(action, ofa.SetVlanPcp):
                if not _get(self.flow, "vlan_tci") & 0x1000:
                    self.push_vlan(0x8100)
                self.set_field("vlan_pcp", action.vlan_pcp)
            elif isinstance(action, ofa.SetTpSrc | ofa.SetTpDst):
                self.set_tp(action)
            elif isinstance(action, ofa.PushVlan):
                self.push_vlan(action.ethertype)
            elif isinstance(action, ofa.PopVlan):
                self.pop_vlan()
            elif isinstance(action, ofa.PushMpls):
                self.push_mpls(action.ethertype)
            elif isinstance(action, ofa.PopMpls):
                self.pop_mpls(action.ethertype)
            elif isinstance(action, ofa.PushPbb):
                self.push_pbb()
            elif isinstance(action, ofa.PopPbb):
                self.pop_pbb()
            elif isinstance(action, ofa.CopyTtlOut | ofa.CopyTtlIn):
                self.copy_ttl(outward=isinstance(action, ofa.CopyTtlOut))
            elif isinstance(action, ofa.DecNwTtl):
                self.dec_ttl()
            elif isinstance(action, ofa.SetNwTtl):
                self.set_ttl(action.ttl)
            elif isinstance(action, ofa.SetMplsTtl | ofa.DecMplsTtl):
                self.mpls_ttl(action)
            elif isinstance(action, ofa.SetQueue):
                pass  # no queues: every port has only its default one, as OVS without QoS
            else:  # pragma: no cover - the model has no other actions
                raise TypeError(f"unknown action {action!r}")

    def set_field(self, name: str, value: int) -> None:
        target = fk.SET_TARGETS.get(name)
        if target is None:
            return
        self.result.wildcards |= fk.SET_PREREQ_MASK[name]
        if target.kind == fk.SET_PIPELINE:
            self.flow = fk.apply_set_field(self.flow, name, value)
            return
        if not fk.can_set(self.flow, name):
            return
        if target.kind == fk.SET_RESHAPE:
            self.reshape(name, value)
            return
        self.flow = fk.apply_set_field(self.flow, name, value)

    def set_tp(self, action: ofa.SetTpSrc | ofa.SetTpDst) -> None:
        proto = _get(self.flow, "ip_proto")
        self.result.wildcards |= _FMASK["ip_proto"] | _ETH_TYPE_MASK
        names = {6: "tcp", 17: "udp", 132: "sctp"}
        if proto in names and _get(self.flow, "eth_type") in (0x0800, 0x86DD):
            suffix = "_src" if isinstance(action, ofa.SetTpSrc) else "_dst"
            self.set_field(names[proto] + suffix, action.port)

    def dec_ttl(self) -> None:
        eth_type = _get(self.flow, "eth_type")
        self.result.wildcards |= _ETH_TYPE_MASK
        if eth_type not in (0x0800, 0x86DD):
            return
        self.result.wildcards |= _TTL_MASK
        ttl = _get(self.flow, "ip_ttl")
        if ttl <= 1:
            if self.x.invalid_ttl_to_controller():
                self.controller(OFPCML_NO_BUFFER, OFPR_INVALID_TTL)
            self.dropped = True
            return
        self.flow = _put(self.flow, "ip_ttl", ttl - 1)

    def set_ttl(self, ttl: int) -> None:
        self.result.wildcards |= _ETH_TYPE_MASK
        if _get(self.flow, "eth_type") in (0x0800, 0x86DD):
            self.flow = _put(self.flow, "ip_ttl", ttl)

    def mpls_ttl(self, action: ofa.SetMplsTtl | ofa.DecMplsTtl) -> None:
        self.result.wildcards |= _ETH_TYPE_MASK
        if _get(self.flow, "eth_type") not in _MPLS_TYPES:
            return
        lse = _get(self.flow, "mpls_lse")
        if isinstance(action, ofa.SetMplsTtl):
            ttl = action.ttl
        else:
            self.result.wildcards |= _FMASK["mpls_lse"]
            if lse & 0xFF <= 1:
                if self.x.invalid_ttl_to_controller():
                    self.controller(OFPCML_NO_BUFFER, OFPR_INVALID_TTL)
                self.dropped = True
                return
            ttl = (lse & 0xFF) - 1
        self.flow = _put(self.flow, "mpls_lse", (lse & ~0xFF) | ttl)

    # -- where packets go

    def output(self, port: int, max_len: int, *, packet_out: bool = False) -> None:
        if port == OFPP_CONTROLLER:
            self.controller(max_len, OFPR_ACTION)
        elif port == OFPP_IN_PORT:
            self.output_dp(self.in_port, allow_in_port=True)
        elif port in (OFPP_ALL, OFPP_FLOOD):
            for ofp_port, xport in sorted(self.x.ports.items()):
                if ofp_port != self.in_port and not (port == OFPP_FLOOD and xport.no_flood):
                    self.output_dp(ofp_port)
        elif port == OFPP_NORMAL:
            self.normal()
        elif port == OFPP_TABLE:
            if packet_out:
                self.run_table(0)
        elif port == OFPP_LOCAL or port < OFPP_MAX:
            self.output_dp(port)

    def output_dp(self, ofp_port: int, *, allow_in_port: bool = False) -> None:
        xport = self.x.ports.get(ofp_port)
        # As OVS: configuration decides (PORT_DOWN, NO_FWD), not the link state -- a
        # frame sent to a port without carrier is the port's to drop (and count), and
        # liveness only steers fast-failover and select groups.
        if xport is None or xport.no_fwd or xport.admin_down:
            return
        if ofp_port == self.in_port and not allow_in_port:
            return  # OpenFlow: only IN_PORT sends a packet back where it came from
        self.commit()
        self.out.append(odp.Output(xport.dp_port))

    def controller(self, max_len: int, reason: int, *, miss: bool = False) -> None:
        rule = self.rule
        if reason == OFPR_ACTION and rule is not None and rule.priority == 0 and not rule.match:
            reason = OFPR_NO_MATCH  # the table-miss flow entry (OF1.3 5.4), as OVS reports
        self.commit()
        metadata = self.flow >> fk.METADATA_OFFSET
        request = PacketInRequest(reason, self.table_id, max_len, self.cookie, metadata, miss)
        cut = None if max_len == OFPCML_NO_BUFFER else max_len
        self.out.append(odp.Userspace(encode_userdata(request), cut))

    def group(self, group_id: int) -> None:
        entry = self.x.groups.get(group_id)
        if self.tracer is not None:
            self.tracer.group(self, group_id, entry)
        if entry is None:
            return
        self.result.groups.append(group_id)
        self.depth += 1
        try:
            if entry.type in (OFPGT_ALL,):
                for bucket in entry.buckets:
                    self.bucket(bucket)
            elif entry.type == OFPGT_INDIRECT:
                if entry.buckets:
                    self.bucket(entry.buckets[0])
            elif entry.type == OFPGT_FF:
                for bucket in entry.buckets:
                    if self.bucket_live(bucket):
                        self.bucket(bucket)
                        break
            elif entry.type == OFPGT_SELECT:
                live = [b for b in entry.buckets if b.weight and self.bucket_live(b)]
                if live:
                    self.bucket(self.select(live))
        finally:
            self.depth -= 1

    def bucket(self, bucket: Bucket) -> None:
        """A bucket sees the packet as it entered the group (a clone of it)."""
        self.resubmits += 1
        if self.resubmits > MAX_RESUBMITS or self.depth > MAX_DEPTH:
            return
        if self.tracer is not None:
            self.tracer.bucket(self, bucket)
        saved = self.flow, self.dropped, self.inner_tpid, self.base, self.base_inner_tpid
        start = len(self.out)
        self.apply_actions(bucket.actions, table_id=self.table_id)
        emitted = self.out[start:]
        if any(not isinstance(act, odp.Output | odp.Userspace) for act in emitted):
            # The next bucket and the actions after the group see the packet as it
            # entered the group: this bucket's changes ran on a copy (OVS's clone).
            self.out[start:] = [odp.Clone(tuple(emitted))]
        self.flow, self.dropped, self.inner_tpid, self.base, self.base_inner_tpid = saved

    def bucket_live(self, bucket: Bucket, depth: int = 0) -> bool:
        if bucket.watch_port != OFPP_ANY:
            xport = self.x.ports.get(bucket.watch_port)
            if xport is None or not xport.live:
                return False
        if bucket.watch_group != OFPG_ANY:
            group = self.x.groups.get(bucket.watch_group)
            if group is None or depth > 8:
                return False
            if not any(self.bucket_live(b, depth + 1) for b in group.buckets):
                return False
        return True

    def select(self, buckets: list[Bucket]) -> Bucket:
        """Weighted choice by a hash of the L2-L4 addresses (un-wildcarded)."""
        fields = ("eth_src", "eth_dst", "eth_type", "vlan_tci", "ipv4_src", "ipv4_dst",
                  "ipv6_src", "ipv6_dst", "ip_proto", "tp_src", "tp_dst")
        for name in fields:
            self.result.wildcards |= _FMASK[name]
        data = b"".join(_get(self.flow, n).to_bytes((_WIDTH[n] + 7) // 8, "big") for n in fields)
        point = zlib.crc32(data) % sum(b.weight for b in buckets)
        for bucket in buckets:
            point -= bucket.weight
            if point < 0:
                return bucket
        return buckets[-1]  # pragma: no cover - the weights add up

    def normal(self) -> None:
        """A VLAN-aware learning switch (OFPP_NORMAL)."""
        for name in ("eth_src", "eth_dst", "vlan_tci"):
            self.result.wildcards |= _FMASK[name]
        vlan = _get(self.flow, "vlan_tci") & 0x0FFF
        src, dst = _get(self.flow, "eth_src"), _get(self.flow, "eth_dst")
        now = self.x.clock()
        table = self.x.mac_table
        if not src >> 40 & 1:  # never learn a multicast source
            self.result.stations.append((vlan, src, self.in_port))
            if self.side_effects and table.learn(vlan, src, self.in_port, now):
                self.result.learned = True
        port = None if dst >> 40 & 1 else table.lookup(vlan, dst, now)
        if port is None:
            for ofp_port, xport in sorted(self.x.ports.items()):
                if ofp_port != self.in_port and not xport.no_flood:
                    self.output_dp(ofp_port)
        elif port != self.in_port:
            self.output_dp(port)

    # -- datapath actions for what changed

    def commit(self) -> None:
        """Emit datapath actions turning ``base`` into ``flow`` (headers only)."""
        flow, base = self.flow, self.base
        if not (flow ^ base) & dflow.FULL_MASK:
            return
        if (flow ^ base) & _VLAN_FIELDS:
            self._commit_vlan(flow, base)
            base = self.base
        for name, target in fk.SET_TARGETS.items():
            if target.kind == fk.SET_PIPELINE or target.kind == fk.SET_RESHAPE:
                continue  # nothing to emit / emitted when it happened
            if target.kind == fk.SET_HEADER and name != "vlan_vid" and \
                    not fk.has_field(flow, name):
                continue  # another protocol's name for the same key bits (tcp_src/udp_src)
            slot = fk.OXM_TO_KEY[name]
            offset = _OFFSET[slot.field] + slot.shift
            width = (1 << slot.bits) - 1
            new, old = flow >> offset & width, base >> offset & width
            if new == old:
                continue
            if target.kind == fk.SET_TUNNEL:
                self.out.append(odp.SetTunnel(new, 0, 0))
            elif name == "vlan_vid":
                self.out.append(odp.SetField("vlan_vid", new & 0x0FFF))
            else:
                self.out.append(odp.SetField(target.dp_field or name, new))
        if (flow ^ base) & _TTL_MASK:
            self.out.append(odp.SetField("ip_ttl", _get(flow, "ip_ttl")))
        if (flow ^ base) & _FMASK["mpls_lse"] & (0xFF << _OFFSET["mpls_lse"]):
            self.out.append(odp.SetField("mpls_ttl", _get(flow, "mpls_lse") & 0xFF))
        self.base = flow

    def _commit_vlan(self, flow: int, base: int) -> None:
        want = vlan_stack(flow, self.inner_tpid)
        have = vlan_stack(base, self.base_inner_tpid)
        if (len(want) == len(have) and want[1:] == have[1:]
                and (not want or want[0][0] == have[0][0])):
            return  # same tags: an outer VID/PCP change is a vlan_vid/vlan_pcp set-field
        common = 0  # inner tags both have, kept; the rest is popped and pushed
        while (common < min(len(want), len(have))
               and want[len(want) - 1 - common] == have[len(have) - 1 - common]):
            common += 1
        for _ in range(len(have) - common):
            self.out.append(odp.PopVlan())
        for tpid, tci in reversed(want[: len(want) - common]):
            self.out.append(odp.PushVlan(tpid, tci))
        self.base = (base & ~_VLAN_FIELDS) | (flow & _VLAN_FIELDS)
        self.base_inner_tpid = self.inner_tpid
