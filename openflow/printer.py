"""Human-readable text for any decoded message, in the spirit of `ovs-ofctl ofp-print`.

The first line names the message and version like OVS does
("OFPT_FLOW_MOD (OF1.3) (xid=0x7): ..."); flows, actions, groups and meters use
the ovs-ofctl syntax from ``openflow.flowtext`` so the output can be pasted back.
Everything else prints its model fields as ``name=value``.
"""

from __future__ import annotations

import dataclasses

from openflow import flowtext
from openflow import messages as m
from openflow.consts import OFP10, PORT_NAMES
from openflow.errors import code_name, type_name
from openflow.match import Match

TYPE_NAMES: dict[type, str] = {
    m.Hello: "OFPT_HELLO",
    m.Error: "OFPT_ERROR",
    m.EchoRequest: "OFPT_ECHO_REQUEST",
    m.EchoReply: "OFPT_ECHO_REPLY",
    m.Experimenter: "OFPT_EXPERIMENTER",
    m.FeaturesRequest: "OFPT_FEATURES_REQUEST",
    m.FeaturesReply: "OFPT_FEATURES_REPLY",
    m.GetConfigRequest: "OFPT_GET_CONFIG_REQUEST",
    m.GetConfigReply: "OFPT_GET_CONFIG_REPLY",
    m.SetConfig: "OFPT_SET_CONFIG",
    m.PacketIn: "OFPT_PACKET_IN",
    m.FlowRemoved: "OFPT_FLOW_REMOVED",
    m.PortStatus: "OFPT_PORT_STATUS",
    m.PacketOut: "OFPT_PACKET_OUT",
    m.FlowMod: "OFPT_FLOW_MOD",
    m.GroupMod: "OFPT_GROUP_MOD",
    m.PortMod: "OFPT_PORT_MOD",
    m.TableMod: "OFPT_TABLE_MOD",
    m.MeterMod: "OFPT_METER_MOD",
    m.BarrierRequest: "OFPT_BARRIER_REQUEST",
    m.BarrierReply: "OFPT_BARRIER_REPLY",
    m.QueueGetConfigRequest: "OFPT_QUEUE_GET_CONFIG_REQUEST",
    m.QueueGetConfigReply: "OFPT_QUEUE_GET_CONFIG_REPLY",
    m.RoleRequest: "OFPT_ROLE_REQUEST",
    m.RoleReply: "OFPT_ROLE_REPLY",
    m.GetAsyncRequest: "OFPT_GET_ASYNC_REQUEST",
    m.GetAsyncReply: "OFPT_GET_ASYNC_REPLY",
    m.SetAsync: "OFPT_SET_ASYNC",
}
_STATS_NAMES = {
    m.DescStatsRequest: "OFPST_DESC", m.FlowStatsRequest: "OFPST_FLOW",
    m.AggregateStatsRequest: "OFPST_AGGREGATE", m.TableStatsRequest: "OFPST_TABLE",
    m.PortStatsRequest: "OFPST_PORT", m.QueueStatsRequest: "OFPST_QUEUE",
    m.GroupStatsRequest: "OFPST_GROUP", m.GroupDescStatsRequest: "OFPST_GROUP_DESC",
    m.GroupFeaturesStatsRequest: "OFPST_GROUP_FEATURES", m.MeterStatsRequest: "OFPST_METER",
    m.MeterConfigStatsRequest: "OFPST_METER_CONFIG",
    m.MeterFeaturesStatsRequest: "OFPST_METER_FEATURES",
    m.TableFeaturesStatsRequest: "OFPST_TABLE_FEATURES",
    m.PortDescStatsRequest: "OFPST_PORT_DESC",
}
for _request, _name in _STATS_NAMES.items():
    TYPE_NAMES[_request] = f"{_name} request"
    TYPE_NAMES[m.MULTIPART_REPLY_FOR[_request]] = f"{_name} reply"

_VERSION_TAGS = {0x01: "OF1.0", 0x04: "OF1.3"}


def port_name(port: int) -> str:
    return PORT_NAMES.get(port, str(port))


def mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def hexdump(data: bytes) -> str:
    """The classic 16-bytes-a-line dump ovs-ofctl uses for payloads."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


def _value(name: str, value: object) -> str:
    if isinstance(value, Match):
        return flowtext.format_match(value) or "(all)"
    if isinstance(value, bytes):
        return f"({len(value)} bytes)" if value else '""'
    if isinstance(value, int):
        if name in ("port_no", "in_port", "port", "out_port", "watch_port"):
            return port_name(value)
        if name == "hw_addr":
            return mac(value)
        if name in ("datapath_id", "cookie", "cookie_mask", "metadata_match", "metadata_write"):
            return f"0x{value:016x}" if name == "datapath_id" else f"0x{value:x}"
        return str(value)
    if isinstance(value, frozenset):
        return ",".join(_VERSION_TAGS.get(v, f"0x{v:02x}") for v in sorted(value))
    if dataclasses.is_dataclass(value):
        return "{" + _fields(value) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(name, v) for v in value) + "]"
    return str(value)


def _fields(obj: object, skip: tuple[str, ...] = ("xid",)) -> str:
    parts = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        if f.name in skip:
            continue
        parts.append(f"{f.name}={_value(f.name, getattr(obj, f.name))}")
    return " ".join(parts)


def _port_lines(ports: tuple[m.Port, ...]) -> list[str]:
    lines = []
    for p in ports:
        lines.append(f" {port_name(p.port_no)}({p.name}): addr:{mac(p.hw_addr)}")
        lines.append(f"     config:     0x{p.config:x}")
        lines.append(f"     state:      0x{p.state:x}")
        if p.curr:
            lines.append(f"     current:    0x{p.curr:x}")
        if p.curr_speed or p.max_speed:
            lines.append(f"     speed: {p.curr_speed // 1000} Mbps now, "
                         f"{p.max_speed // 1000} Mbps max")
    return lines


_PACKET_IN_REASONS = {0: "no_match", 1: "action", 2: "invalid_ttl"}


def _packet_in(version: int, msg: m.PacketIn) -> str:
    """OVS's layout: ``[table_id=N] [cookie=0x..] total_len=98 in_port=1 (via no_match)
    data_len=98 (unbuffered)``."""
    parts = []
    if version != OFP10:
        if msg.table_id:
            parts.append(f"table_id={msg.table_id}")
        parts.append(f"cookie=0x{msg.cookie:x}")
    parts.append(f"total_len={msg.total_len}")
    parts.append(flowtext.format_match(msg.match) or "in_port=ANY")
    parts.append(f"(via {_PACKET_IN_REASONS.get(msg.reason, msg.reason)})")
    parts.append(f"data_len={len(msg.data)}")
    parts.append("(unbuffered)" if msg.buffer_id == 0xFFFFFFFF else f"buffer=0x{msg.buffer_id:08x}")
    return " ".join(parts)


def _port_stats(version: int, e: m.PortStats) -> str:
    lines = [
        f"  port {port_name(e.port_no):>2}: rx pkts={e.rx_packets}, bytes={e.rx_bytes}, "
        f"drop={e.rx_dropped}, errs={e.rx_errors}, frame={e.rx_frame_err}, "
        f"over={e.rx_over_err}, crc={e.rx_crc_err}",
        f"           tx pkts={e.tx_packets}, bytes={e.tx_bytes}, drop={e.tx_dropped}, "
        f"errs={e.tx_errors}, coll={e.collisions}",
    ]
    if version != OFP10:
        lines.append(f"           duration={flowtext.format_duration(e.duration_sec, e.duration_nsec)}")
    return "\n".join(lines)


def _body(version: int, msg: m.Message) -> list[str]:
    """Lines after the first one; the first line's tail is body[0]."""
    match msg:
        case m.Error():
            head = (f"{type_name(version, msg.type)}/{code_name(version, msg.type, msg.code)}"
                    if msg.experimenter is None
                    else f"experimenter=0x{msg.experimenter:x} exp_type={msg.code}")
            return [head] + ([hexdump(msg.data)] if msg.data else [])
        case m.FlowMod():
            return [flowtext.format_flow_mod(msg, version)]
        case m.FlowStatsReply():
            return [""] + [flowtext.format_flow_stats(e, version) for e in msg.entries]
        case m.FeaturesReply():
            return [f"dpid:{msg.datapath_id:016x}",
                    f"n_tables:{msg.n_tables}, n_buffers:{msg.n_buffers}",
                    f"capabilities: 0x{msg.capabilities:x}"
                    + (f"\nactions: 0x{msg.actions:x}" if version == OFP10 else "")
                    ] + _port_lines(msg.ports)
        case m.PortDescStatsReply():
            return [""] + _port_lines(msg.entries)
        case m.PortStatus():
            reason = {0: "ADD", 1: "DEL", 2: "MOD"}.get(msg.reason, str(msg.reason))
            return [f"{reason}:"] + _port_lines((msg.port,))
        case m.PacketIn():
            return [_packet_in(version, msg)] + ([hexdump(msg.data)] if msg.data else [])
        case m.PacketOut():
            head = _fields(msg, skip=("xid", "data"))
            return [head] + ([hexdump(msg.data)] if msg.data else [])
        case m.PortStatsReply():
            return [f"{len(msg.entries)} ports"] + [_port_stats(version, e) for e in msg.entries]
        case m.GroupMod():
            return [flowtext.format_group_mod(msg)]
        case m.MeterMod():
            return [flowtext.format_meter_mod(msg)]
        case m.GroupDescStatsReply():
            return [""] + [" " + flowtext.format_group(e, version) for e in msg.entries]
        case m.MeterConfigStatsReply():
            return [""] + [flowtext.format_meter(e) for e in msg.entries]
        case m.EchoRequest() | m.EchoReply():
            return [f"{len(msg.data)} bytes of payload"] + ([hexdump(msg.data)] if msg.data else [])
    return [_fields(msg)]


def format_message(version: int, msg: m.Message) -> str:
    name = TYPE_NAMES.get(type(msg), type(msg).__name__)
    if version == OFP10 and isinstance(msg, m.Experimenter):
        name = "OFPT_VENDOR"
    # Like ovs-ofctl: OF1.0, the original version, carries no version tag.
    tag = "" if version == OFP10 else f" ({_VERSION_TAGS.get(version, f'OF 0x{version:02x}')})"
    body = _body(version, msg)
    first = f"{name}{tag} (xid=0x{msg.xid:x}):"
    if body and body[0]:
        first += " " + body[0]
    return "\n".join([first, *body[1:]])
