"""The switch's answers to information requests: FEATURES, DESC, PORT_DESC, flow,
aggregate, table, port and queue statistics, TABLE_FEATURES.

Sits in switch_agent/ between ofproto (``Switch``: its ports, flow tables and datapath,
read here and never changed, except that a TABLE_FEATURES request with a body may
rename tables) and connmgr, which decodes the request, calls one of these functions
and sends the returned ``openflow.messages`` reply after setting its xid (the channel
splits a reply that does not fit one message).  Each function is a pure function of
the switch's state at the call, and of the connection's OpenFlow version where the
versions say different things.  Invalid requests raise ``CodecError`` with the
spec's error, having changed nothing.

What the switch reports, following Open vSwitch 3.x (ofproto/ofproto.c, lib/ofp-*.c)
where the spec leaves a choice:
  * FEATURES_REPLY: no buffers (n_buffers 0: every packet-in carries the whole
    packet), every table in both versions (OVS also says n_tables 254 to OF1.0
    controllers; OF1.0 flow mods still add to table 0), capabilities FLOW_STATS,
    TABLE_STATS, PORT_STATS, QUEUE_STATS plus ARP_MATCH_IP (OF1.0) or GROUP_STATS
    (OF1.3), and for OF1.0 the action bitmap (all twelve OF1.0 actions) and the ports.
  * Ports: config as set by PORT_MOD (OF1.3 sees only its four bits, as OVS
    masks with OFPPC11_ALL), state LINK_DOWN without carrier and LIVE when up and not
    PORT_DOWN (OF1.0 has no LIVE bit), features by netdev type (``PORT_FEATURES``:
    the netdevs do not report ethtool link modes, so these are what ethtool says of
    the devices we create -- veth 10 Gb/s full duplex copper, tap 10 Mb/s, and
    nothing for dummy, patch and vxlan ports, as OVS reports for its own).
  * Flow statistics pull the datapath counters first (``Switch.pull_stats``), so a
    reply counts every packet forwarded before the request; rules are selected as a
    non-strict modify would select them (table or OFPTT_ALL, match, out_port,
    out_group, cookie/cookie_mask) and listed by table then descending priority.
    Rules with NO_PKT_COUNTS/NO_BYT_COUNTS report all-ones counters, which make an
    aggregate's total all-ones too (as OVS).  Flags report SEND_FLOW_REM and the
    NO_*_COUNTS bits (OVS keeps no other flag with a rule).
    An OF1.0 connection sees rules of every table; what OF1.0 cannot express is left
    out of its entries rather than failing the reply (OVS would use Nicira
    extensions): match fields with no OF1.0 form are wildcarded, instructions other
    than apply-actions and actions with no OF1.0 form are dropped.
  * Table statistics list every table with its active, lookup and matched counts;
    OF1.0 entries also carry the table name, all-wildcards and max_entries.
  * Port statistics come from the netdev counters; duration since the port was
    added; the error breakdown (frame, overrun, CRC, collisions) is 0.  An unknown
    port gives an empty reply (OVS).
  * Queues: there are none, so a request for all queues is an empty reply, an
    unknown port OFPQOFC_BAD_PORT and a specific queue OFPQOFC_BAD_QUEUE (OVS).
  * TABLE_FEATURES: per table every instruction (goto_table only where a later table
    exists), every later table as next table, the actions xlate carries out, every
    OXM field as match (hasmask where OpenFlow allows a mask) and wildcard, every
    settable field (``flowkey.SET_TARGETS``), the *_MISS properties equal to the
    others, metadata match/write all ones, max_entries min(1,000,000, table limit).
    A request with a body is OVS's "replace": it must list every table once, keep
    max_entries and ask for no feature we lack (else OFPTFFC_EPERM; a table id out
    of range OFPTFFC_BAD_TABLE); it may rename tables, and gets the new features.
"""

from __future__ import annotations

from collections.abc import Iterable

import switch_agent
from openflow import v10_actions
from openflow import v13_actions as v13a
from openflow.actions import Action, ApplyActions, Instruction
from openflow.consts import (
    OFP10,
    OFP13,
    OFPFF_NO_BYT_COUNTS,
    OFPFF_NO_PKT_COUNTS,
    OFPFF_SEND_FLOW_REM,
    OFPP_ANY,
    OFPPC_NO_FLOOD,
    OFPPC_NO_FWD,
    OFPPC_NO_PACKET_IN,
    OFPPC_NO_RECV,
    OFPPC_NO_RECV_STP,
    OFPPC_NO_STP,
    OFPPC_PORT_DOWN,
    OFPPF_10GB_FD,
    OFPPF_10MB_FD,
    OFPPF_COPPER,
    OFPPS_LINK_DOWN,
    OFPPS_LIVE,
    OFPQ_ALL,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.match import Match, MatchField
from openflow.messages import (
    ActionIds,
    AggregateStatsReply,
    AggregateStatsRequest,
    DescStatsReply,
    FeaturesReply,
    FlowStats,
    FlowStatsReply,
    FlowStatsRequest,
    InstructionIds,
    NextTables,
    OxmIds,
    Port,
    PortDescStatsReply,
    PortStats,
    PortStatsReply,
    QueueStatsReply,
    QueueStatsRequest,
    TableFeatureProp,
    TableFeatures,
    TableFeaturesStatsReply,
    TableFeaturesStatsRequest,
    TableStats,
    TableStatsReply,
)
from openflow.oxm import OXM_FIELDS
from openflow.v10_match import OFPFW_ALL, encode_match
from openflow.v13_multipart import (
    OFPTFPT_APPLY_ACTIONS,
    OFPTFPT_APPLY_ACTIONS_MISS,
    OFPTFPT_APPLY_SETFIELD,
    OFPTFPT_APPLY_SETFIELD_MISS,
    OFPTFPT_INSTRUCTIONS,
    OFPTFPT_INSTRUCTIONS_MISS,
    OFPTFPT_MATCH,
    OFPTFPT_NEXT_TABLES,
    OFPTFPT_NEXT_TABLES_MISS,
    OFPTFPT_WILDCARDS,
    OFPTFPT_WRITE_ACTIONS,
    OFPTFPT_WRITE_ACTIONS_MISS,
    OFPTFPT_WRITE_SETFIELD,
    OFPTFPT_WRITE_SETFIELD_MISS,
)
from switch_agent.flowkey import SET_TARGETS
from switch_agent.flowtable import FlowRule
from switch_agent.ofproto import OfPort, Switch

# --- What the switch advertises (tables as data) ---------------------------------------

# Switch capabilities (ofp_capabilities): the wire bits differ per version.
OFPC_FLOW_STATS = 1 << 0
OFPC_TABLE_STATS = 1 << 1
OFPC_PORT_STATS = 1 << 2
OFPC10_STP = 1 << 3
OFPC13_GROUP_STATS = 1 << 3
OFPC_IP_REASM = 1 << 5
OFPC_QUEUE_STATS = 1 << 6
OFPC10_ARP_MATCH_IP = 1 << 7
OFPC13_PORT_BLOCKED = 1 << 8

_COMMON_CAPABILITIES = OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS | OFPC_QUEUE_STATS
CAPABILITIES = {
    OFP10: _COMMON_CAPABILITIES | OFPC10_ARP_MATCH_IP,  # 0xc7, as OVS
    OFP13: _COMMON_CAPABILITIES | OFPC13_GROUP_STATS,  # 0x4f, as OVS
}

# OF1.0 FEATURES_REPLY actions: OUTPUT..ENQUEUE, every OF1.0 action (xlate runs them all).
OF10_ACTIONS = sum(1 << t for t in range(v10_actions.OFPAT_OUTPUT, v10_actions.OFPAT_ENQUEUE + 1))

# Port config and state bits each version has (OVS: OFPPC10_ALL / OFPPC11_ALL,
# OFPPS10_ALL keeps LINK_DOWN and the STP bits we never set, OFPPS11_ALL).
PORT_CONFIG_BITS = {
    OFP10: OFPPC_PORT_DOWN | OFPPC_NO_STP | OFPPC_NO_RECV | OFPPC_NO_RECV_STP | OFPPC_NO_FLOOD
    | OFPPC_NO_FWD | OFPPC_NO_PACKET_IN,
    OFP13: OFPPC_PORT_DOWN | OFPPC_NO_RECV | OFPPC_NO_FWD | OFPPC_NO_PACKET_IN,
}
PORT_STATE_BITS = {OFP10: OFPPS_LINK_DOWN, OFP13: OFPPS_LINK_DOWN | OFPPS_LIVE}

# netdev type -> (curr features, curr_speed in kbps): what ethtool reports for the
# devices the agent creates (veth for "system" in the lab, tap for "internal");
# dummy, patch and vxlan ports have no link modes (OVS reports none for its own).
# advertised/supported/peer stay 0, so max_speed is 0 (OVS derives it from supported).
PORT_FEATURES: dict[str, tuple[int, int]] = {
    "system": (OFPPF_10GB_FD | OFPPF_COPPER, 10_000_000),
    "internal": (OFPPF_10MB_FD | OFPPF_COPPER, 10_000),
}

MFR_DESC = "switch-agent"
HW_DESC = "switch-agent userspace datapath"
SERIAL_NUM = "None"  # as OVS without other_config:dp-desc / serial settings
MAX_ENTRIES = 1_000_000  # OVS's table-features ceiling
METADATA_ALL = (1 << 64) - 1
_COUNTER_ALL = (1 << 64) - 1
_FLOW_FLAGS = OFPFF_SEND_FLOW_REM | OFPFF_NO_PKT_COUNTS | OFPFF_NO_BYT_COUNTS

# OF1.3 instructions and actions xlate carries out (every one; SET_QUEUE is accepted and
# does nothing: ports have no queues).
INSTRUCTIONS = (v13a.OFPIT_GOTO_TABLE, v13a.OFPIT_WRITE_METADATA, v13a.OFPIT_WRITE_ACTIONS,
                v13a.OFPIT_APPLY_ACTIONS, v13a.OFPIT_CLEAR_ACTIONS, v13a.OFPIT_METER)
ACTIONS = (v13a.OFPAT_OUTPUT, v13a.OFPAT_COPY_TTL_OUT, v13a.OFPAT_COPY_TTL_IN,
           v13a.OFPAT_SET_MPLS_TTL, v13a.OFPAT_DEC_MPLS_TTL, v13a.OFPAT_PUSH_VLAN,
           v13a.OFPAT_POP_VLAN, v13a.OFPAT_PUSH_MPLS, v13a.OFPAT_POP_MPLS, v13a.OFPAT_SET_QUEUE,
           v13a.OFPAT_GROUP, v13a.OFPAT_SET_NW_TTL, v13a.OFPAT_DEC_NW_TTL, v13a.OFPAT_SET_FIELD,
           v13a.OFPAT_PUSH_PBB, v13a.OFPAT_POP_PBB)
MATCH_FIELDS: tuple[tuple[str, bool], ...] = tuple((f.name, f.maskable) for f in OXM_FIELDS)
WILDCARD_FIELDS: tuple[tuple[str, bool], ...] = tuple((f.name, False) for f in OXM_FIELDS)
SETFIELD_FIELDS: tuple[tuple[str, bool], ...] = tuple(
    (f.name, False) for f in OXM_FIELDS if f.name in SET_TARGETS)

# The properties every table shares (next tables and goto_table depend on the table).
_SHARED_PROPS: tuple[TableFeatureProp, ...] = (
    ActionIds(OFPTFPT_WRITE_ACTIONS, ACTIONS),
    ActionIds(OFPTFPT_WRITE_ACTIONS_MISS, ACTIONS),
    ActionIds(OFPTFPT_APPLY_ACTIONS, ACTIONS),
    ActionIds(OFPTFPT_APPLY_ACTIONS_MISS, ACTIONS),
    OxmIds(OFPTFPT_MATCH, MATCH_FIELDS),
    OxmIds(OFPTFPT_WILDCARDS, WILDCARD_FIELDS),
    OxmIds(OFPTFPT_WRITE_SETFIELD, SETFIELD_FIELDS),
    OxmIds(OFPTFPT_WRITE_SETFIELD_MISS, SETFIELD_FIELDS),
    OxmIds(OFPTFPT_APPLY_SETFIELD, SETFIELD_FIELDS),
    OxmIds(OFPTFPT_APPLY_SETFIELD_MISS, SETFIELD_FIELDS),
)


def _duration(start: float, now: float) -> tuple[int, int]:
    """(seconds, nanoseconds) from ``start`` to ``now`` (never negative)."""
    elapsed = max(0.0, now - start)
    sec = int(elapsed)
    return sec, min(int((elapsed - sec) * 1e9), 999_999_999)


# --- FEATURES_REPLY, ports, DESC -------------------------------------------------------


def features_reply(sw: Switch, version: int, datapath_id: int) -> FeaturesReply:
    """FEATURES_REPLY for a ``version`` connection (OF1.0 lists the ports)."""
    v10 = version == OFP10
    return FeaturesReply(
        datapath_id, n_buffers=0, n_tables=len(sw.tables.tables),
        capabilities=CAPABILITIES[version],
        actions=OF10_ACTIONS if v10 else 0,
        ports=tuple(port_list(sw, version)) if v10 else (),
    )


def describe_port(port: OfPort, version: int = OFP13) -> Port:
    """The ``ofp_port`` of an OpenFlow port, as the datapath sees it now."""
    info = port.dpif.port_get(port.dp_port)
    state = 0 if info.link_up else OFPPS_LINK_DOWN  # read now, not as last polled
    if info.link_up and not port.config & OFPPC_PORT_DOWN:
        state |= OFPPS_LIVE
    curr, speed = PORT_FEATURES.get(info.type, (0, 0))
    return Port(
        port.ofp_port, int.from_bytes(info.hw_addr, "big"), info.name,
        config=port.config & PORT_CONFIG_BITS[version],
        state=state & PORT_STATE_BITS[version],
        curr=curr, curr_speed=speed if version != OFP10 else 0,
    )


def ofp_port(sw: Switch, port_no: int, version: int = OFP13) -> Port:
    """The ``ofp_port`` of OpenFlow port ``port_no`` (OFPP_LOCAL for datapath port 0);
    OFPBRC_BAD_PORT if there is none."""
    port = sw.ports.get(port_no)
    if port is None:
        raise CodecError(Err.OFPBRC_BAD_PORT, f"no port {port_no:#x}")
    return describe_port(port, version)


def port_list(sw: Switch, version: int = OFP13) -> list[Port]:
    """Every port, by port number (LOCAL last)."""
    return [describe_port(port, version) for _, port in sorted(sw.ports.items())]


def port_desc(sw: Switch, version: int = OFP13) -> PortDescStatsReply:
    """PORT_DESC reply (OF1.3; OVS's stats type 13 on OF1.0)."""
    return PortDescStatsReply(tuple(port_list(sw, version)))


def desc(sw: Switch, *, dp_desc: str | None = None, serial_num: str = SERIAL_NUM) -> DescStatsReply:
    """DESC reply; ``dp_desc`` defaults to the datapath's (bridge's) name."""
    version = getattr(switch_agent, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version
        try:
            version = package_version("switch-agent")
        except PackageNotFoundError:
            version = "unknown"
    return DescStatsReply(MFR_DESC, HW_DESC, str(version), serial_num,
                          sw.dp.name if dp_desc is None else dp_desc)


# --- Flow and aggregate statistics ------------------------------------------------------


def _selected(sw: Switch, request: FlowStatsRequest | AggregateStatsRequest) -> list[FlowRule]:
    """The rules a flow or aggregate request selects, counters current."""
    n_tables = len(sw.tables.tables)
    table_id = request.table_id
    if table_id == OFPTT_ALL:
        table_ids: Iterable[int] = range(n_tables)
    elif table_id < n_tables:
        table_ids = (table_id,)
    else:
        raise CodecError(Err.OFPBRC_BAD_TABLE_ID, f"no table {table_id}")
    sw.pull_stats()
    rules = sw.tables.select(table_ids, request.match, cookie=request.cookie,
                             cookie_mask=request.cookie_mask, out_port=request.out_port,
                             out_group=request.out_group)
    rules.sort(key=lambda rule: (rule.table_id, -rule.priority))
    return rules


def _v10_match(match: Match) -> Match:
    """``match`` without the fields OF1.0 cannot express (they become wildcards)."""
    try:
        encode_match(match)
        return match
    except ValueError:
        pass
    kept: list[MatchField] = []
    for field in match:
        try:
            encode_match(Match.from_fields([*kept, field]))
        except ValueError:
            continue
        kept.append(field)
    return Match.from_fields(kept)


def _v10_instructions(instructions: tuple[Instruction, ...]) -> tuple[Instruction, ...]:
    """The apply-actions OF1.0 can express, as OF1.0's action list."""
    actions: list[Action] = []
    for inst in instructions:
        if isinstance(inst, ApplyActions):
            for action in inst.actions:
                try:
                    v10_actions.encode_action(action)
                except ValueError:
                    continue
                actions.append(action)
    return (ApplyActions(tuple(actions)),) if actions else ()


def flow_entry(rule: FlowRule, now: float, version: int = OFP13) -> FlowStats:
    """One flow-stats entry for ``rule`` at ``now``."""
    sec, nsec = _duration(rule.created, now)
    v10 = version == OFP10
    return FlowStats(
        table_id=rule.table_id, duration_sec=sec, duration_nsec=nsec, priority=rule.priority,
        idle_timeout=rule.idle_timeout, hard_timeout=rule.hard_timeout,
        flags=0 if v10 else rule.flags & _FLOW_FLAGS, cookie=rule.cookie,
        packet_count=rule.packet_count, byte_count=rule.byte_count,
        match=_v10_match(rule.match) if v10 else rule.match,
        instructions=_v10_instructions(rule.instructions) if v10 else rule.instructions,
    )


def flow_stats(sw: Switch, request: FlowStatsRequest, version: int = OFP13) -> FlowStatsReply:
    """FLOW stats reply: every selected rule (see the module docstring)."""
    rules = _selected(sw, request)
    now = sw.clock()
    return FlowStatsReply(tuple(flow_entry(rule, now, version) for rule in rules))


def aggregate_stats(sw: Switch, request: AggregateStatsRequest,
                    version: int = OFP13) -> AggregateStatsReply:
    """AGGREGATE reply: the selected rules' totals (all-ones if one rule's are unknown).
    ``version`` changes nothing (the request already says what OF1.0 can ask)."""
    del version
    packets = nbytes = 0
    unknown_packets = unknown_bytes = False
    rules = _selected(sw, request)
    for rule in rules:
        if rule.flags & OFPFF_NO_PKT_COUNTS:
            unknown_packets = True
        else:
            packets += rule.packets
        if rule.flags & OFPFF_NO_BYT_COUNTS:
            unknown_bytes = True
        else:
            nbytes += rule.bytes
    return AggregateStatsReply(
        packet_count=_COUNTER_ALL if unknown_packets else packets & _COUNTER_ALL,
        byte_count=_COUNTER_ALL if unknown_bytes else nbytes & _COUNTER_ALL,
        flow_count=len(rules),
    )


# --- Table, port and queue statistics ---------------------------------------------------


def table_stats(sw: Switch, version: int = OFP13) -> TableStatsReply:
    """TABLE stats: every table (OF1.0 entries also name, wildcards, max_entries)."""
    sw.pull_stats()  # lookups served by megaflows count too
    entries = []
    for table in sw.tables.tables:
        if version == OFP10:
            entry = TableStats(table.table_id, len(table), table.lookup_count,
                               table.matched_count, table.name, OFPFW_ALL,
                               min(MAX_ENTRIES, table.max_flows))
        else:
            entry = TableStats(table.table_id, len(table), table.lookup_count,
                               table.matched_count)
        entries.append(entry)
    return TableStatsReply(tuple(entries))


def _port_stats_entry(port: OfPort, now: float, version: int) -> PortStats:
    counters = port.dpif.port_get(port.dp_port).stats
    created = getattr(port, "created", None)  # hook: when ofproto added the port
    sec, nsec = (0, 0) if created is None or version == OFP10 else _duration(created, now)
    return PortStats(
        port.ofp_port,
        rx_packets=counters.get("rx_packets", 0), tx_packets=counters.get("tx_packets", 0),
        rx_bytes=counters.get("rx_bytes", 0), tx_bytes=counters.get("tx_bytes", 0),
        rx_dropped=counters.get("rx_dropped", 0), tx_dropped=counters.get("tx_dropped", 0),
        rx_errors=counters.get("rx_errors", 0), tx_errors=counters.get("tx_errors", 0),
        duration_sec=sec, duration_nsec=nsec,
    )


def port_stats(sw: Switch, port_no: int = OFPP_ANY, version: int = OFP13) -> PortStatsReply:
    """PORT stats for one port or every port (OFPP_ANY); an unknown port: no entry."""
    now = sw.clock()
    if port_no == OFPP_ANY:
        ports = [port for _, port in sorted(sw.ports.items())]
    else:
        port = sw.ports.get(port_no)
        ports = [port] if port is not None else []
    return PortStatsReply(tuple(_port_stats_entry(port, now, version) for port in ports))


def queue_stats(sw: Switch, request: QueueStatsRequest) -> QueueStatsReply:
    """QUEUE stats: no port has queues (see the module docstring for the errors)."""
    if request.port_no != OFPP_ANY and request.port_no not in sw.ports:
        raise CodecError(Err.OFPQOFC_BAD_PORT, f"no port {request.port_no:#x}")
    if request.queue_id != OFPQ_ALL:
        raise CodecError(Err.OFPQOFC_BAD_QUEUE, f"no queue {request.queue_id}")
    return QueueStatsReply()


# --- TABLE_FEATURES ---------------------------------------------------------------------


def _features(table_id: int, name: str, max_flows: int, n_tables: int) -> TableFeatures:
    later = tuple(range(table_id + 1, n_tables))
    instructions = INSTRUCTIONS if later else tuple(
        i for i in INSTRUCTIONS if i != v13a.OFPIT_GOTO_TABLE)
    props: tuple[TableFeatureProp, ...] = (
        InstructionIds(OFPTFPT_INSTRUCTIONS, instructions),
        InstructionIds(OFPTFPT_INSTRUCTIONS_MISS, instructions),
        NextTables(OFPTFPT_NEXT_TABLES, later),
        NextTables(OFPTFPT_NEXT_TABLES_MISS, later),
        *_SHARED_PROPS,
    )
    return TableFeatures(table_id, name, METADATA_ALL, METADATA_ALL, 0,
                         min(MAX_ENTRIES, max_flows), props)


def table_features(sw: Switch,
                   request: TableFeaturesStatsRequest | None = None) -> TableFeaturesStatsReply:
    """TABLE_FEATURES reply (OF1.3): every table's features; a request with a body
    first goes through ``table_features_set``."""
    if request is not None and request.entries:
        return table_features_set(sw, request)
    return _features_reply(sw)


def _features_reply(sw: Switch) -> TableFeaturesStatsReply:
    n_tables = len(sw.tables.tables)
    return TableFeaturesStatsReply(tuple(
        _features(t.table_id, t.name, t.max_flows, n_tables) for t in sw.tables.tables))


def _prop_items(props: Iterable[TableFeatureProp]) -> dict[int, frozenset[object]]:
    items: dict[int, frozenset[object]] = {}
    for prop in props:
        if isinstance(prop, InstructionIds | ActionIds):
            values: frozenset[object] = frozenset(prop.ids)
        elif isinstance(prop, NextTables):
            values = frozenset(prop.table_ids)
        elif isinstance(prop, OxmIds):
            values = frozenset(prop.fields)
        else:  # experimenter properties: nothing of the kind is supported
            values = frozenset(((prop.experimenter, prop.exp_type),))
        items[prop.type] = items.get(prop.type, frozenset()) | values
    return items


def _is_subset(new: TableFeatures, have: TableFeatures) -> bool:
    """Whether ``new`` asks for no more than ``have`` offers (OVS's superset test)."""
    if new.metadata_match & ~have.metadata_match or new.metadata_write & ~have.metadata_write:
        return False
    offered = _prop_items(have.properties)
    for prop_type, values in _prop_items(new.properties).items():
        allowed = offered.get(prop_type, frozenset())
        if prop_type == OFPTFPT_MATCH:  # a maskable field may also be asked for exact
            allowed = allowed | frozenset((name, False) for name, _ in MATCH_FIELDS)
        if not values <= allowed:
            return False
    return True


def table_features_set(sw: Switch, request: TableFeaturesStatsRequest) -> TableFeaturesStatsReply:
    """A TABLE_FEATURES request with a body (OVS's OF1.3 "replace"): validate it
    against what the tables offer, apply the new table names, reply with the
    features now in force.  Raises OFPTFFC_BAD_TABLE / OFPTFFC_EPERM, changing
    nothing."""
    if not request.entries:
        return _features_reply(sw)
    tables = sw.tables.tables
    current = _features_reply(sw).entries
    seen: dict[int, TableFeatures] = {}
    for entry in request.entries:
        if entry.table_id >= len(tables):
            raise CodecError(Err.OFPTFFC_BAD_TABLE, f"no table {entry.table_id}")
        if entry.table_id in seen:
            raise CodecError(Err.OFPTFFC_BAD_TABLE, f"table {entry.table_id} listed twice")
        seen[entry.table_id] = entry
    if len(seen) != len(tables):
        raise CodecError(Err.OFPTFFC_EPERM, "the number of tables cannot change")
    for table_id, entry in seen.items():
        have = current[table_id]
        if entry.max_entries != have.max_entries:
            raise CodecError(Err.OFPTFFC_EPERM, f"table {table_id}: max_entries is read-only")
        if not _is_subset(entry, have):
            raise CodecError(Err.OFPTFFC_EPERM, f"table {table_id}: features not supported")
    for table_id, entry in seen.items():
        tables[table_id].name = entry.name
    return _features_reply(sw)

