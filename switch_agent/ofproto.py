"""ofproto: the OpenFlow switch over one datapath -- ports, flow tables, upcalls,
revalidation, statistics and timeouts (OVS's ofproto + ofproto-dpif, without the
controller connections).

Sits between the controller side (switch_agent/connmgr, which decodes OpenFlow
messages and calls ``flow_mod``/``packet_out``/..., and listens for ``PacketInEvent``
and ``FlowRemovedEvent``) and the datapath (``datapath.dpif.Datapath``, whose upcall
and port handlers it installs).  It owns the OpenFlow ports (numbers equal datapath
port numbers; LOCAL is datapath port 0), the flow tables, the groups, xlate, and the
book-keeping of every megaflow it installed (``UKey``: the key of the packet that
created it, the rules and groups it went through, the statistics already credited).

Consistency (the issue's "stale megaflow" rule): every change that can alter a
translation -- a FLOW_MOD, a port change, a MAC learned by NORMAL -- calls
``revalidate`` before it returns: each installed megaflow is translated again from its
original packet key; if the new translation needs bits the megaflow's mask does not
cover it is deleted, if its actions changed they are replaced (``flow_put`` is atomic),
else it stays.  So by the time ofproto answers (and a BARRIER_REPLY is sent after
it), no packet follows a replaced or deleted rule.  (OVS narrows this with tags and
a revalidator thread; re-translating everything is correct and simple, and measured
in bench/pipeline.py.)

Statistics: ``pull_stats`` reads every megaflow's counters from the datapath and
credits the packets and bytes since the last pull to each rule of its translation
(as OVS does), and marks them used; idle timeouts see that.  ``run_periodic`` (every
``interval``) pulls, expires idle/hard rules (FLOW_REMOVED), deletes megaflows idle
for ``max_idle`` seconds, and ages the MAC table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from datapath import dpif as dp
from datapath.flow import extract, key_get
from datapath.netdev import Netdev
from openflow import actions as ofa
from openflow.consts import (
    OFP_NO_BUFFER,
    OFPFF_SEND_FLOW_REM,
    OFPM_CONTROLLER,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_MAX,
    OFPP_NORMAL,
    OFPP_TABLE,
    OFPPC_NO_FLOOD,
    OFPPC_NO_FWD,
    OFPPC_NO_PACKET_IN,
    OFPPC_NO_RECV,
    OFPPC_PORT_DOWN,
)
from openflow.errors import CodecError, Err
from openflow.messages import FlowMod, GroupMod, MeterMod, PacketOut
from switch_agent import flowkey as fk
from switch_agent.flowtable import N_TABLES, FlowRule, FlowTables
from switch_agent.groups import GroupTable
from switch_agent.meters import MeterTable
from switch_agent.xlate import (
    GroupEntry,
    MacTable,
    PacketInRequest,
    Xlate,
    decode_userdata,
)

log = logging.getLogger(__name__)

# Classifier-key bits no packet carries (metadata, padding): the same for every packet of
# a megaflow, so exact when deciding whether a new rule can match one of them.
_ABOVE_PACKET = ~fk.wildcards_to_megaflow(-1)
_RESERVED_OUT = frozenset((OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL,
                           OFPP_CONTROLLER, OFPP_LOCAL))


class OfPort:
    """An OpenFlow port: a datapath port plus its OpenFlow config (OFPPC_*)."""

    __slots__ = ("ofp_port", "dp_port", "name", "config", "dpif", "created")

    def __init__(self, ofp_port: int, dp_port: int, name: str, dpif: dp.Datapath,
                 created: float = 0.0) -> None:
        self.ofp_port = ofp_port
        self.dp_port = dp_port
        self.name = name
        self.config = 0
        self.dpif = dpif
        self.created = created  # when it was added (port statistics' duration)

    @property
    def link_up(self) -> bool:
        """As the datapath last saw it (its port check and port events keep it current;
        no ioctl per translation)."""
        return self.dpif.port_link_up(self.dp_port)

    @property
    def live(self) -> bool:
        return not self.config & OFPPC_PORT_DOWN and self.link_up

    @property
    def admin_down(self) -> bool:
        return bool(self.config & OFPPC_PORT_DOWN)

    @property
    def no_recv(self) -> bool:
        return bool(self.config & OFPPC_NO_RECV)

    @property
    def no_fwd(self) -> bool:
        return bool(self.config & OFPPC_NO_FWD)

    @property
    def no_flood(self) -> bool:
        return bool(self.config & OFPPC_NO_FLOOD)


@dataclass(frozen=True, slots=True)
class PacketInEvent:
    """A packet for the controllers (connmgr builds PACKET_IN per connection)."""

    request: PacketInRequest  # reason, table_id, cookie, max_len, metadata, miss
    in_port: int  # OpenFlow port
    key: int  # the packet's datapath key when it was received
    data: bytes  # the packet as the actions left it, cut to max_len
    total_len: int


@dataclass(frozen=True, slots=True)
class PortChangeEvent:
    """A port was added, deleted, or changed state (link, vanished device)."""

    kind: str  # "add", "delete", "modify"
    ofp_port: int
    name: str


@dataclass(frozen=True, slots=True)
class FlowRemovedEvent:
    rule: FlowRule
    reason: int
    now: float


@dataclass(slots=True)
class UKey:
    """A megaflow ofproto installed, and what it came from."""

    ufid: object
    key: int  # the full key of the packet whose upcall created it
    mask: int
    rules: list[FlowRule] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    stations: list[tuple[int, int, int]] = field(default_factory=list)  # NORMAL's sources
    tables: list[tuple[int, bool, int]] = field(default_factory=list)  # (table, matched,
    # classifier key) of each lookup its translation made
    packets: int = 0  # datapath counters already credited to the rules
    bytes: int = 0
    created: float = 0.0


class Switch:
    """The OpenFlow switch on one datapath; see the module docstring."""

    def __init__(self, datapath: dp.Datapath, *, n_tables: int = N_TABLES,
                 max_flows: int = 1_000_000, max_idle: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dp = datapath
        self.clock = clock
        self.max_idle = max_idle
        self.tables = FlowTables(n_tables, max_flows=max_flows)
        self.ports: dict[int, OfPort] = {}
        self.groups: dict[int, GroupEntry] = {}
        self.mac_table = MacTable()
        # Whether a table miss / an expired TTL goes to a controller: connmgr sets these
        # from what its connections want (OF1.0 controllers get table misses).
        self.miss_to_controller = False
        self.invalid_ttl_to_controller = False
        self.fail_open = False  # standalone fail mode without a controller: all NORMAL
        self.frag_drop = False  # SET_CONFIG OFPC_FRAG_DROP: IP fragments are dropped
        self.xlate = Xlate(self.tables, self.ports, self.groups,
                           miss_to_controller=lambda: self.miss_to_controller,
                           invalid_ttl_to_controller=lambda: self.invalid_ttl_to_controller,
                           fail_open=lambda: self.fail_open,
                           frag_drop=lambda: self.frag_drop,
                           mac_table=self.mac_table, clock=clock)
        self.group_table = GroupTable(self.groups, clock=clock, ref_count=self._group_refs)
        self.meter_table = MeterTable(datapath, flow_count=self._meter_refs)
        self.ukeys: dict[object, UKey] = {}
        self.packet_in_listeners: list[Callable[[PacketInEvent], None]] = []
        self.flow_removed_listeners: list[Callable[[FlowRemovedEvent], None]] = []
        self.port_listeners: list[Callable[[PortChangeEvent], None]] = []
        self.upcalls_handled = 0
        self._stations_moved = False
        self.revalidations = 0
        self._next_ufid = 1
        self._task: asyncio.Task[None] | None = None
        datapath.set_upcall_handler(self._upcalls)
        datapath.set_port_handler(self._port_event)

    # -- ports

    def add_port(self, netdev: Netdev, ofp_port: int | None = None) -> int:
        """Add a netdev; returns its OpenFlow port number (LOCAL for datapath port 0)."""
        dp_port = self.dp.port_add(netdev, None if ofp_port is None else fk.ofp_port_to_dp(ofp_port))
        return fk.dp_port_to_ofp(dp_port)

    def del_port(self, ofp_port: int) -> None:
        self.dp.port_del(fk.ofp_port_to_dp(ofp_port))

    def _port_event(self, event: dp.PortEvent) -> None:
        ofp_port = fk.dp_port_to_ofp(event.port_no)
        kind = "modify"
        if event.kind == dp.PortEventKind.ADD:
            self.ports[ofp_port] = OfPort(ofp_port, event.port_no, event.name, self.dp,
                                          self.clock())
            kind = "add"
        elif event.kind == dp.PortEventKind.DELETE:
            self.ports.pop(ofp_port, None)
            self.mac_table.flush_port(ofp_port)
            kind = "delete"
        self.revalidate()
        change = PortChangeEvent(kind, ofp_port, event.name)
        for listener in list(self.port_listeners):
            try:
                listener(change)
            except Exception:
                log.exception("port listener failed")

    def port_mod_config(self, ofp_port: int, config: int, mask: int) -> None:
        port = self.ports.get(ofp_port)
        if port is None:
            raise CodecError(Err.OFPPMFC_BAD_PORT, f"no port {ofp_port}")
        port.config = (port.config & ~mask) | (config & mask)
        self.revalidate()

    # -- FLOW_MOD, PACKET_OUT

    def check_actions(self, actions: tuple[ofa.Action, ...], *, packet_out: bool = False) -> None:
        """The checks OVS makes on actions before accepting them (ofpacts_check)."""
        for action in actions:
            if isinstance(action, ofa.Output | ofa.Enqueue):
                port = action.port
                if port == OFPP_TABLE and not packet_out:
                    raise CodecError(Err.OFPBAC_BAD_OUT_PORT, "output:TABLE outside PACKET_OUT")
                if port == 0 or (port >= OFPP_MAX and port not in _RESERVED_OUT) or port == OFPP_ANY:
                    raise CodecError(Err.OFPBAC_BAD_OUT_PORT, f"output to port {port:#x}")
            elif isinstance(action, ofa.Group):
                if action.group_id not in self.groups:
                    raise CodecError(Err.OFPBAC_BAD_OUT_GROUP, f"no group {action.group_id}")

    def flow_mod(self, fm: FlowMod, version: int) -> list[FlowRemovedEvent]:
        """Apply a FLOW_MOD; raises CodecError (nothing changed) or returns the
        FLOW_REMOVED events it caused (also sent to the listeners)."""
        for inst in fm.instructions:
            if isinstance(inst, ofa.ApplyActions | ofa.WriteActions):
                self.check_actions(inst.actions)
            elif isinstance(inst, ofa.Meter):
                self.meter_table.check_flow_meter(inst.meter_id)
        if fm.buffer_id != OFP_NO_BUFFER and fm.command in (0, 1, 2):
            raise CodecError(Err.OFPBRC_BUFFER_UNKNOWN, "this switch keeps no buffers")
        if fm.command == 0:  # OFPFC_ADD may replace a rule: its counters must be current
            self.pull_stats()
        now = self.clock()
        result = self.tables.flow_mod(fm, version, now)
        events = self._removed(result.removed, now)
        if result.changed:
            self.revalidate(self._affected(result.added, [*result.modified, *result.replaced,
                                                          *(rule for rule, _ in result.removed)]))
        return events

    def _affected(self, added: list[FlowRule], changed: list[FlowRule]) -> list[UKey]:
        """The megaflows a flow table change can alter (OVS revalidates by tags; this
        is the same idea without tags): those whose translation hit a changed or removed
        rule, and those a new rule could match -- in a table their translation looked
        up, with the key it looked up, under the megaflow's mask (bits the pipeline
        itself changed or that lie above the packet, like metadata, count as exact:
        they are the same for every packet of the megaflow)."""
        changed_ids = {id(rule) for rule in changed}
        new = [(rule.table_id, rule.cls.key, rule.cls.mask) for rule in added
               if rule.cls is not None]
        affected = []
        for ukey in self.ukeys.values():
            if any(id(rule) in changed_ids for rule in ukey.rules):
                affected.append(ukey)
                continue
            for table_id, _, lookup_key in ukey.tables:
                exact = ukey.mask | _ABOVE_PACKET | (lookup_key ^ ukey.key)
                if any(t == table_id and not (lookup_key ^ key) & mask & exact
                       for t, key, mask in new):
                    affected.append(ukey)
                    break
        return affected

    def group_mod(self, gm: GroupMod, version: int) -> list[FlowRemovedEvent]:
        """Apply a GROUP_MOD; deleting a group deletes the flows using it (GROUP_DELETE)."""
        self.pull_stats()
        result = self.group_table.apply(gm, version)
        removed = [pair for gid in result.deleted for pair in self.tables.remove_for_group(gid)]
        events = self._removed(removed, self.clock())
        if result.changed:
            self.revalidate()
        return events

    def meter_mod(self, mm: MeterMod, version: int) -> list[FlowRemovedEvent]:
        """Apply a METER_MOD; deleting a meter deletes the flows using it (METER_DELETE)."""
        self.pull_stats()
        result = self.meter_table.apply(mm, version)
        removed = [pair for mid in result.deleted for pair in self.tables.remove_for_meter(mid)]
        events = self._removed(removed, self.clock())
        if result.changed:
            self.revalidate()
        return events

    def _group_refs(self, group_id: int) -> int:
        return sum(1 for rule in self.tables if group_id in rule.out_groups)

    def _meter_refs(self, meter_id: int) -> int:
        return sum(1 for rule in self.tables if rule.meter_id == meter_id)

    def packet_out(self, po: PacketOut) -> None:
        """Run a PACKET_OUT's actions on its packet (output:TABLE through the pipeline)."""
        if po.buffer_id != OFP_NO_BUFFER:
            raise CodecError(Err.OFPBRC_BUFFER_UNKNOWN, "this switch keeps no buffers")
        in_port = po.in_port
        if in_port not in self.ports and in_port not in (OFPP_CONTROLLER, OFPP_LOCAL) \
                and in_port != 0xFFFFFFFF:
            raise CodecError(Err.OFPBRC_BAD_PORT, f"in_port {in_port:#x}")
        self.check_actions(po.actions, packet_out=True)
        dp_in = fk.ofp_port_to_dp(in_port) if in_port in self.ports or in_port == OFPP_LOCAL \
            else fk.ofp_port_to_dp(OFPP_CONTROLLER)
        key = extract(po.data, dp_in)
        result = self.xlate.translate(key, actions=po.actions, frame=bytes(po.data))
        self.dp.execute(po.data, result.actions, dp_in)
        # Rules and groups met through output:TABLE count the packet (as OVS credits
        # the rules a packet-out resubmits through).
        now = self.clock()
        for rule in result.rules:
            rule.credit(1, len(po.data), now)
        for group_id in result.groups:
            self.group_table.credit(group_id, 1, len(po.data))
        if result.learned:
            self.revalidate()

    # -- upcalls

    def _upcalls(self, batch: list[dp.Upcall]) -> None:
        learned = False
        for upcall in batch:
            if upcall.kind == dp.UpcallKind.ACTION:
                self._packet_in(upcall)
                continue
            self.upcalls_handled += 1
            result = self.xlate.translate(upcall.key, frame=upcall.frame)
            learned |= result.learned
            if not result.slow:
                mask = result.megaflow_mask
                installed = self.dp.flow_find(upcall.key, mask)
                if installed is None:
                    ufid = self._next_ufid
                    self._next_ufid += 1
                    self.dp.flow_put(upcall.key, mask, result.actions, ufid=ufid)
                    self.ukeys[ufid] = UKey(ufid, upcall.key, mask, result.rules, result.groups,
                                            result.stations, result.tables,
                                            created=self.clock())
            self.dp.execute(upcall.frame, result.actions, upcall.in_port)
            # The first packet is not counted by the datapath flow: credit it here.
            now = self.clock()
            for rule in result.rules:
                rule.credit(1, len(upcall.frame), now)
            for group_id in result.groups:
                self.group_table.credit(group_id, 1, len(upcall.frame))
        if learned:
            self.revalidate()

    def _packet_in(self, upcall: dp.Upcall) -> None:
        request = decode_userdata(upcall.userdata)
        if request is None:
            return
        in_port = fk.dp_port_to_ofp(upcall.in_port)
        port = self.ports.get(in_port)
        if port is not None and port.config & OFPPC_NO_PACKET_IN:
            return
        if not self.meter_table.admit(OFPM_CONTROLLER, len(upcall.frame)):
            return  # the controller meter (OFPM_CONTROLLER) rate-limits packet-ins
        event = PacketInEvent(request, in_port, upcall.key, upcall.frame, upcall.total_len)
        for listener in list(self.packet_in_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("packet-in listener failed")

    # -- revalidation, statistics, timeouts

    def revalidate(self, ukeys: list[UKey] | None = None) -> None:
        """Make the installed megaflows (all, or ``ukeys``) agree with the pipeline as
        it is now."""
        self.revalidations += 1
        for ukey in list(self.ukeys.values()) if ukeys is None else ukeys:
            if self.ukeys.get(ukey.ufid) is not ukey:
                continue
            current = self.dp.flow_get(ukey.ufid)
            if current is None:  # evicted or deleted by the datapath
                del self.ukeys[ukey.ufid]
                continue
            result = self.xlate.translate(ukey.key, side_effects=False)
            mask = result.megaflow_mask
            if result.slow or mask & ~ukey.mask:
                self._credit(ukey, current)
                self.dp.flow_del(ukey.ufid)
                del self.ukeys[ukey.ufid]
                continue
            if tuple(result.actions) != current.actions:
                self._credit(ukey, current)
                self.dp.flow_put(ukey.key, ukey.mask, result.actions, ufid=ukey.ufid)
            ukey.rules, ukey.groups, ukey.stations = result.rules, result.groups, result.stations
            ukey.tables = result.tables

    def _credit(self, ukey: UKey, flow: dp.DpFlow) -> None:
        packets = flow.stats.packets - ukey.packets
        nbytes = flow.stats.bytes - ukey.bytes
        if packets > 0:
            used = flow.stats.used if flow.stats.used is not None else self.clock()
            for rule in ukey.rules:
                rule.credit(packets, nbytes, used)
            for group_id in ukey.groups:
                if group_id in self.group_table:
                    self.group_table.credit(group_id, packets, nbytes)
            tables = self.tables.tables
            for table_id, matched, _ in ukey.tables:  # table statistics count packets
                tables[table_id].lookup_count += packets
                if matched:
                    tables[table_id].matched_count += packets
            for vlan, mac, port in ukey.stations:  # active stations stay learned
                if self.mac_table.learn(vlan, mac, port, used):
                    self._stations_moved = True
            ukey.packets, ukey.bytes = flow.stats.packets, flow.stats.bytes

    def pull_stats(self) -> None:
        """Credit the datapath's per-megaflow counters to the rules behind them (and
        refresh the MAC table entries of NORMAL's active stations, as OVS's
        revalidator does)."""
        self._stations_moved = False
        for ukey in list(self.ukeys.values()):
            current = self.dp.flow_get(ukey.ufid)
            if current is None:
                del self.ukeys[ukey.ufid]
                continue
            self._credit(ukey, current)
        if self._stations_moved:
            self._stations_moved = False
            self.revalidate()

    def run_periodic(self) -> list[FlowRemovedEvent]:
        """Statistics, rule timeouts, idle megaflows, MAC aging; returns FLOW_REMOVEDs."""
        self.pull_stats()
        now = self.clock()
        events = self._removed(self.tables.expire(now), now)
        changed = bool(events)
        for ukey in list(self.ukeys.values()):
            current = self.dp.flow_get(ukey.ufid)
            last = ukey.created if current is None or current.stats.used is None \
                else current.stats.used
            if current is None or now - last > self.max_idle:
                self.dp.flow_del(ukey.ufid)
                del self.ukeys[ukey.ufid]
        if self.mac_table.expire(now):
            changed = True
        if changed:
            self.revalidate()
        return events

    def _removed(self, removed: list[tuple[FlowRule, int]], now: float) -> list[FlowRemovedEvent]:
        events = [FlowRemovedEvent(rule, reason, now) for rule, reason in removed
                  if rule.flags & OFPFF_SEND_FLOW_REM]
        for event in events:
            for listener in list(self.flow_removed_listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("flow-removed listener failed")
        return events

    async def run(self, interval: float = 0.5) -> None:
        """Periodic work on the loop until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.run_periodic()
            except Exception:
                log.exception("ofproto periodic run failed")

    def in_port_of(self, key: int) -> int:
        return fk.dp_port_to_ofp(key_get(key, "in_port"))
