"""OpenFlow 1.0 (wire version 0x01) message codec: bytes <-> the message model.

Sits under ``openflow.codec``, which frames messages and dispatches on the version
byte; next to ``v10_match`` (struct ofp_match) and ``v10_actions`` (action lists),
which it calls.  Owns every OF1.0 message layout, the OF1.0 stats bodies (plus Open
vSwitch's PORT_DESC extension, stats type 13, whose reply is an array of
ofp_phy_port: OVS lib/ofp-msgs.h ``OFPRAW_OFPST10_PORT_DESC_REPLY``) and the
conversions between OF1.0's narrower wire forms and the model's OF1.3 vocabulary:

* port numbers are 16-bit on the wire (``consts.port_from_v10``/``port_to_v10``);
  a model port with no 16-bit form is a ValueError on encode.  Queue stats requests
  say "all ports" with OFPP_ALL in OF1.0 and OFPP_ANY in the model (as OVS does);
* port feature bits: OF1.0 has COPPER..PAUSE_ASYM at bits 7..11, the model OF1.3's
  bits 11..15; 40GB/100GB/1TB/OTHER have no OF1.0 bit and are dropped on encode;
* port ``state`` keeps the raw OF1.0 bits: bit 0 is LINK_DOWN in both versions,
  bits 8-9 hold OF1.0's STP state (OFPPS_STP_*), which OF1.3 does not have;
* an OF1.0 action list is the model's ``(ApplyActions(actions),)`` (``()`` when
  empty); anything else in ``instructions`` cannot be encoded (ValueError);
* PACKET_IN's ``in_port`` travels in ``match`` as the only field;
* VENDOR is ``Experimenter(experimenter=vendor, exp_type=0)``.

Decoding fills fields OF1.0 lacks with the model's defaults (table_id 0,
cookie_mask 0, out_group OFPG_ANY, durations 0, ...).  Encoding switch-to-controller
messages drops OF1.3-only fields (FlowStats.flags, PortStats/QueueStats durations,
Port speeds, FeaturesReply.auxiliary_id, PacketIn table_id/cookie, FlowRemoved
table_id/hard_timeout, PacketQueue.max_rate); controller commands whose OF1.3-only
fields would change their meaning (a FLOW_MOD for table 3, a cookie mask, an
out_group) and messages OF1.0 does not have (groups, meters, table mod, roles,
async config) raise ValueError.

Every decode failure is a ``CodecError``: unknown message type -> OFPBRC_BAD_TYPE,
unknown stats type -> OFPBRC_BAD_MULTIPART (OF1.0's BAD_STAT), vendor stats ->
OFPBRC_BAD_EXPERIMENTER (BAD_VENDOR), wrong lengths -> OFPBRC_BAD_LEN.  Fixed-size
messages must have exactly their size, arrays a whole number of entries (as OVS's
``ofpraw_pull`` requires); HELLO alone may carry trailing bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from openflow import messages as m
from openflow import v10_actions
from openflow.actions import Action, ApplyActions, Instruction
from openflow.consts import (
    OFP10,
    OFP_MAX_MESSAGE_SIZE,
    OFPG_ANY,
    OFPMPF_REPLY_MORE,
    OFPP_ANY,
    OFPTT_ALL,
    port_from_v10,
    port_to_v10,
)
from openflow.errors import CodecError, Err
from openflow.match import Match, MatchField
from openflow.v10_match import MATCH_SIZE, decode_match, encode_match
from openflow.v13 import decode_hello, encode_hello
from openflow.wire import HEADER, HEADER_SIZE, decode_str, encode_str

# enum ofp_type (OF1.0)
OFPT_HELLO = 0
OFPT_ERROR = 1
OFPT_ECHO_REQUEST = 2
OFPT_ECHO_REPLY = 3
OFPT_VENDOR = 4
OFPT_FEATURES_REQUEST = 5
OFPT_FEATURES_REPLY = 6
OFPT_GET_CONFIG_REQUEST = 7
OFPT_GET_CONFIG_REPLY = 8
OFPT_SET_CONFIG = 9
OFPT_PACKET_IN = 10
OFPT_FLOW_REMOVED = 11
OFPT_PORT_STATUS = 12
OFPT_PACKET_OUT = 13
OFPT_FLOW_MOD = 14
OFPT_PORT_MOD = 15
OFPT_STATS_REQUEST = 16
OFPT_STATS_REPLY = 17
OFPT_BARRIER_REQUEST = 18
OFPT_BARRIER_REPLY = 19
OFPT_QUEUE_GET_CONFIG_REQUEST = 20
OFPT_QUEUE_GET_CONFIG_REPLY = 21

# enum ofp_stats_types (OF1.0) plus Open vSwitch's PORT_DESC extension.
OFPST_DESC = 0
OFPST_FLOW = 1
OFPST_AGGREGATE = 2
OFPST_TABLE = 3
OFPST_PORT = 4
OFPST_QUEUE = 5
OFPST_PORT_DESC = 13
OFPST_VENDOR = 0xFFFF

# Queue properties (OF1.0).
OFPQT_NONE = 0
OFPQT_MIN_RATE = 1

OFPP_NONE = 0xFFFF  # OF1.0's OFPP_ANY
OFPP_ALL = 0xFFFC

# --- Layouts (after the 8-byte header unless noted) ---------------------------------

_ERROR = struct.Struct("!HH")  # type, code
_VENDOR = struct.Struct("!I")  # vendor
_FEATURES = struct.Struct("!QIB3xII")  # datapath_id, n_buffers, n_tables, capabilities, actions
_PHY_PORT = struct.Struct("!H6s16sIIIIII")  # port_no, hw_addr, name, config, state, 4 features
_SWITCH_CONFIG = struct.Struct("!HH")  # flags, miss_send_len
_PACKET_IN = struct.Struct("!BBHIIHHBx")  # header + buffer_id, total_len, in_port, reason
_FLOW_REMOVED = struct.Struct("!QHBxIIH2xQQ")  # after the match
_PORT_STATUS = struct.Struct("!B7x")  # reason, then an ofp_phy_port
_PACKET_OUT = struct.Struct("!IHH")  # buffer_id, in_port, actions_len
_FLOW_MOD = struct.Struct("!QHHHHIHH")  # after the match
_PORT_MOD = struct.Struct("!H6sIII4x")  # port_no, hw_addr, config, mask, advertise
_STATS = struct.Struct("!HH")  # type, flags (no padding in OF1.0)
_QUEUE_GET_CONFIG_REQUEST = struct.Struct("!H2x")
_QUEUE_GET_CONFIG_REPLY = struct.Struct("!H6x")
_PACKET_QUEUE = struct.Struct("!IH2x")  # queue_id, len
_QUEUE_PROP = struct.Struct("!HH4x")  # property, len
_QUEUE_MIN_RATE = struct.Struct("!H6x")  # rate

# Stats bodies (offsets relative to the body).
_DESC = struct.Struct("!256s256s256s32s256s")
_FLOW_STATS_REQUEST = struct.Struct("!BxH")  # after the match: table_id, out_port
_FLOW_STATS_HEAD = struct.Struct("!HBx")  # length, table_id, then the match
_FLOW_STATS_TAIL = struct.Struct("!IIHHH6xQQQ")
_AGGREGATE_REPLY = struct.Struct("!QQI4x")
_TABLE_STATS = struct.Struct("!B3x32sIIIQQ")
_PORT_STATS_REQUEST = struct.Struct("!H6x")
_PORT_STATS = struct.Struct("!H6xQQQQQQQQQQQQ")
_QUEUE_STATS_REQUEST = struct.Struct("!H2xI")
_QUEUE_STATS = struct.Struct("!H2xIQQQ")

_PACKET_IN_SIZE = _PACKET_IN.size  # 18
_FLOW_MOD_SIZE = HEADER_SIZE + MATCH_SIZE + _FLOW_MOD.size  # 72
_FLOW_REMOVED_SIZE = HEADER_SIZE + MATCH_SIZE + _FLOW_REMOVED.size  # 88
_STATS_SIZE = HEADER_SIZE + _STATS.size  # 12
_FLOW_STATS_SIZE = _FLOW_STATS_HEAD.size + MATCH_SIZE + _FLOW_STATS_TAIL.size  # 88
_PHY_PORT_SIZE = _PHY_PORT.size  # 48
_FEATURES_SIZE = HEADER_SIZE + _FEATURES.size  # 32

Decoder = Callable[[bytes, int], m.Message]
StatsDecoder = Callable[[bytes, int, int], m.Message]  # (buf, flags, xid)


# --- Small conversions ----------------------------------------------------------------


def _bad_len(what: str, size: int) -> CodecError:
    return CodecError(Err.OFPBRC_BAD_LEN, f"{what}: {size} bytes")


def _features_from_v10(bits: int) -> int:
    """OF1.0 port feature bits -> the model's OF1.3 layout (COPPER.. move up 4)."""
    return (bits & 0x7F) | (bits & 0xF80) << 4


def _features_to_v10(bits: int) -> int:
    """Model (OF1.3) port feature bits -> OF1.0; 40G/100G/1T/OTHER are dropped."""
    return (bits & 0x7F) | (bits >> 4 & 0xF80)


def _port_to_v10(port: int, what: str = "port") -> int:
    narrow = port_to_v10(port)
    if narrow is None:
        raise ValueError(f"{what} {port:#x} has no OpenFlow 1.0 (16-bit) form")
    return narrow


def _message(msg_type: int, xid: int, body: bytes) -> bytes:
    length = HEADER_SIZE + len(body)
    if length > OFP_MAX_MESSAGE_SIZE:
        raise ValueError(f"OpenFlow 1.0 message type {msg_type} would be {length} bytes")
    return HEADER.pack(OFP10, msg_type, length, xid) + body


def _decode_port(buf: bytes, offset: int) -> m.Port:
    (port_no, hw_addr, name, config, state, curr, advertised, supported,
     peer) = _PHY_PORT.unpack_from(buf, offset)
    return m.Port(
        port_from_v10(port_no), int.from_bytes(hw_addr, "big"), decode_str(name), config, state,
        _features_from_v10(curr), _features_from_v10(advertised),
        _features_from_v10(supported), _features_from_v10(peer),
    )


def _encode_port(port: m.Port) -> bytes:
    return _PHY_PORT.pack(
        _port_to_v10(port.port_no), port.hw_addr.to_bytes(6, "big"), encode_str(port.name, 16),
        port.config, port.state, _features_to_v10(port.curr), _features_to_v10(port.advertised),
        _features_to_v10(port.supported), _features_to_v10(port.peer),
    )


def _decode_ports(buf: bytes, offset: int, what: str) -> tuple[m.Port, ...]:
    size = len(buf) - offset
    if size % _PHY_PORT_SIZE:
        raise _bad_len(f"{what} port array", size)
    return tuple(_decode_port(buf, at) for at in range(offset, len(buf), _PHY_PORT_SIZE))


def _action_list(instructions: tuple[Instruction, ...]) -> tuple[Action, ...]:
    """The OF1.0 action list of ``instructions``: at most one ApplyActions, nothing else."""
    if not instructions:
        return ()
    if len(instructions) == 1 and type(instructions[0]) is ApplyActions:
        return instructions[0].actions
    raise ValueError(f"OpenFlow 1.0 has only an action list, not {instructions!r}")


def _check_flow_selector(msg: Any) -> None:
    """OF1.3-only selectors of flow-mod / flow-stats requests must be unused."""
    if msg.cookie_mask:
        raise ValueError("OpenFlow 1.0 cannot select flows by cookie (cookie_mask != 0)")
    if msg.out_group != OFPG_ANY:
        raise ValueError("OpenFlow 1.0 has no groups (out_group must be OFPG_ANY)")


# --- Symmetric and setup messages -----------------------------------------------------


def _decode_hello(buf: bytes, xid: int) -> m.Message:
    if len(buf) == HEADER_SIZE:
        return m.Hello(xid=xid)
    # Hello elements (a version bitmap) are version-independent: v13 owns them.
    # Trailing bytes that are not well-formed elements are allowed by OF1.0.
    try:
        return decode_hello(buf)
    except CodecError:
        return m.Hello(xid=xid)


def _encode_hello(msg: m.Hello) -> bytes:
    return encode_hello(OFP10, msg.versions, msg.xid)


def _decode_error(buf: bytes, xid: int) -> m.Message:
    if len(buf) < HEADER_SIZE + _ERROR.size:
        raise _bad_len("ERROR", len(buf))
    type_, code = _ERROR.unpack_from(buf, HEADER_SIZE)
    return m.Error(type_, code, buf[HEADER_SIZE + _ERROR.size:], xid=xid)


def _encode_error(msg: m.Error) -> bytes:
    if msg.experimenter is not None:
        raise ValueError("OpenFlow 1.0 has no experimenter errors")
    return _message(OFPT_ERROR, msg.xid, _ERROR.pack(msg.type, msg.code) + msg.data)


def _decode_vendor(buf: bytes, xid: int) -> m.Message:
    if len(buf) < HEADER_SIZE + _VENDOR.size:
        raise _bad_len("VENDOR", len(buf))
    (vendor,) = _VENDOR.unpack_from(buf, HEADER_SIZE)
    return m.Experimenter(vendor, 0, buf[HEADER_SIZE + _VENDOR.size:], xid=xid)


def _encode_vendor(msg: m.Experimenter) -> bytes:
    if msg.exp_type:
        raise ValueError("OpenFlow 1.0 VENDOR messages have no exp_type")
    return _message(OFPT_VENDOR, msg.xid, _VENDOR.pack(msg.experimenter) + msg.data)


def _empty(cls: Callable[..., m.Message], what: str) -> Decoder:
    def decode(buf: bytes, xid: int) -> m.Message:
        if len(buf) != HEADER_SIZE:
            raise _bad_len(what, len(buf))
        return cls(xid=xid)

    return decode


def _decode_features_reply(buf: bytes, xid: int) -> m.Message:
    if len(buf) < _FEATURES_SIZE:
        raise _bad_len("FEATURES_REPLY", len(buf))
    datapath_id, n_buffers, n_tables, capabilities, actions = _FEATURES.unpack_from(buf, HEADER_SIZE)
    ports = _decode_ports(buf, _FEATURES_SIZE, "FEATURES_REPLY")
    return m.FeaturesReply(
        datapath_id, n_buffers, n_tables, 0, capabilities, actions, ports, xid=xid
    )


def _encode_features_reply(msg: m.FeaturesReply) -> bytes:
    body = _FEATURES.pack(msg.datapath_id, msg.n_buffers, msg.n_tables, msg.capabilities, msg.actions)
    return _message(OFPT_FEATURES_REPLY, msg.xid, body + b"".join(map(_encode_port, msg.ports)))


def _switch_config(cls: Callable[..., m.Message], what: str) -> Decoder:
    def decode(buf: bytes, xid: int) -> m.Message:
        if len(buf) != HEADER_SIZE + _SWITCH_CONFIG.size:
            raise _bad_len(what, len(buf))
        flags, miss_send_len = _SWITCH_CONFIG.unpack_from(buf, HEADER_SIZE)
        return cls(flags, miss_send_len, xid=xid)

    return decode


def _encode_switch_config(msg_type: int) -> Callable[[Any], bytes]:
    def encode(msg: Any) -> bytes:
        return _message(msg_type, msg.xid, _SWITCH_CONFIG.pack(msg.flags, msg.miss_send_len))

    return encode


# --- Asynchronous messages ------------------------------------------------------------


def _decode_packet_in(buf: bytes, xid: int) -> m.Message:
    if len(buf) < _PACKET_IN_SIZE:
        raise _bad_len("PACKET_IN", len(buf))
    _, _, _, _, buffer_id, total_len, in_port, reason = _PACKET_IN.unpack_from(buf, 0)
    match = Match._from_sorted((MatchField("in_port", port_from_v10(in_port)),))
    return m.PacketIn(buffer_id, total_len, reason, 0, 0, match, buf[_PACKET_IN_SIZE:], xid=xid)


def _encode_packet_in(msg: m.PacketIn) -> bytes:
    in_port = OFPP_NONE
    for field in msg.match.fields:
        if field.name == "in_port":
            in_port = _port_to_v10(field.value, "PACKET_IN in_port")
            break
    data = msg.data
    return _PACKET_IN.pack(
        OFP10, OFPT_PACKET_IN, _PACKET_IN_SIZE + len(data), msg.xid,
        msg.buffer_id, msg.total_len, in_port, msg.reason,
    ) + data


def _decode_flow_removed(buf: bytes, xid: int) -> m.Message:
    if len(buf) != _FLOW_REMOVED_SIZE:
        raise _bad_len("FLOW_REMOVED", len(buf))
    match = decode_match(buf, HEADER_SIZE)
    (cookie, priority, reason, duration_sec, duration_nsec, idle_timeout, packet_count,
     byte_count) = _FLOW_REMOVED.unpack_from(buf, HEADER_SIZE + MATCH_SIZE)
    return m.FlowRemoved(
        cookie, priority, reason, 0, duration_sec, duration_nsec, idle_timeout, 0,
        packet_count, byte_count, match, xid=xid,
    )


def _encode_flow_removed(msg: m.FlowRemoved) -> bytes:
    body = _FLOW_REMOVED.pack(
        msg.cookie, msg.priority, msg.reason, msg.duration_sec, msg.duration_nsec,
        msg.idle_timeout, msg.packet_count, msg.byte_count,
    )
    return _message(OFPT_FLOW_REMOVED, msg.xid, encode_match(msg.match) + body)


def _decode_port_status(buf: bytes, xid: int) -> m.Message:
    if len(buf) != HEADER_SIZE + _PORT_STATUS.size + _PHY_PORT_SIZE:
        raise _bad_len("PORT_STATUS", len(buf))
    (reason,) = _PORT_STATUS.unpack_from(buf, HEADER_SIZE)
    return m.PortStatus(reason, _decode_port(buf, HEADER_SIZE + _PORT_STATUS.size), xid=xid)


def _encode_port_status(msg: m.PortStatus) -> bytes:
    return _message(OFPT_PORT_STATUS, msg.xid, _PORT_STATUS.pack(msg.reason) + _encode_port(msg.port))


# --- Controller commands --------------------------------------------------------------


def _decode_packet_out(buf: bytes, xid: int) -> m.Message:
    start = HEADER_SIZE + _PACKET_OUT.size
    if len(buf) < start:
        raise _bad_len("PACKET_OUT", len(buf))
    buffer_id, in_port, actions_len = _PACKET_OUT.unpack_from(buf, HEADER_SIZE)
    end = start + actions_len
    if end > len(buf):
        raise CodecError(Err.OFPBRC_BAD_LEN, f"PACKET_OUT actions_len {actions_len} past the end")
    actions = v10_actions.decode_actions(buf, start, end)
    return m.PacketOut(buffer_id, port_from_v10(in_port), actions, buf[end:], xid=xid)


def _encode_packet_out(msg: m.PacketOut) -> bytes:
    actions = v10_actions.encode_actions(msg.actions)
    head = _PACKET_OUT.pack(msg.buffer_id, _port_to_v10(msg.in_port, "PACKET_OUT in_port"), len(actions))
    return _message(OFPT_PACKET_OUT, msg.xid, head + actions + msg.data)


def _decode_flow_mod(buf: bytes, xid: int) -> m.Message:
    if len(buf) < _FLOW_MOD_SIZE:
        raise _bad_len("FLOW_MOD", len(buf))
    match = decode_match(buf, HEADER_SIZE)
    (cookie, command, idle_timeout, hard_timeout, priority, buffer_id, out_port,
     flags) = _FLOW_MOD.unpack_from(buf, HEADER_SIZE + MATCH_SIZE)
    actions = v10_actions.decode_actions(buf, _FLOW_MOD_SIZE, len(buf))
    return m.FlowMod(
        match, cookie, 0, 0, command, idle_timeout, hard_timeout, priority, buffer_id,
        port_from_v10(out_port), OFPG_ANY, flags, (ApplyActions(actions),) if actions else (),
        xid=xid,
    )


def _encode_flow_mod(msg: m.FlowMod) -> bytes:
    _check_flow_selector(msg)
    if msg.table_id != 0 and msg.table_id != OFPTT_ALL:
        raise ValueError(f"OpenFlow 1.0 FLOW_MOD has no table_id ({msg.table_id})")
    actions = v10_actions.encode_actions(_action_list(msg.instructions))
    body = _FLOW_MOD.pack(
        msg.cookie, msg.command, msg.idle_timeout, msg.hard_timeout, msg.priority,
        msg.buffer_id, _port_to_v10(msg.out_port, "FLOW_MOD out_port"), msg.flags,
    )
    return _message(OFPT_FLOW_MOD, msg.xid, encode_match(msg.match) + body + actions)


def _decode_port_mod(buf: bytes, xid: int) -> m.Message:
    if len(buf) != HEADER_SIZE + _PORT_MOD.size:
        raise _bad_len("PORT_MOD", len(buf))
    port_no, hw_addr, config, mask, advertise = _PORT_MOD.unpack_from(buf, HEADER_SIZE)
    return m.PortMod(
        port_from_v10(port_no), int.from_bytes(hw_addr, "big"), config, mask, _features_from_v10(advertise), xid=xid
    )


def _encode_port_mod(msg: m.PortMod) -> bytes:
    body = _PORT_MOD.pack(
        _port_to_v10(msg.port_no, "PORT_MOD port_no"), msg.hw_addr.to_bytes(6, "big"),
        msg.config, msg.mask, _features_to_v10(msg.advertise),
    )
    return _message(OFPT_PORT_MOD, msg.xid, body)


def _decode_queue_get_config_request(buf: bytes, xid: int) -> m.Message:
    if len(buf) != HEADER_SIZE + _QUEUE_GET_CONFIG_REQUEST.size:
        raise _bad_len("QUEUE_GET_CONFIG_REQUEST", len(buf))
    (port,) = _QUEUE_GET_CONFIG_REQUEST.unpack_from(buf, HEADER_SIZE)
    return m.QueueGetConfigRequest(port_from_v10(port), xid=xid)


def _encode_queue_get_config_request(msg: m.QueueGetConfigRequest) -> bytes:
    port = _port_to_v10(msg.port, "QUEUE_GET_CONFIG_REQUEST port")
    return _message(OFPT_QUEUE_GET_CONFIG_REQUEST, msg.xid, _QUEUE_GET_CONFIG_REQUEST.pack(port))


def _decode_queue(buf: bytes, offset: int, end: int) -> m.PacketQueue:
    """One ofp_packet_queue spanning [offset, end); unknown properties are skipped."""
    (queue_id, _) = _PACKET_QUEUE.unpack_from(buf, offset)
    min_rate = None
    at = offset + _PACKET_QUEUE.size
    while at < end:
        if end - at < _QUEUE_PROP.size:
            raise _bad_len("queue property header", end - at)
        prop, prop_len = _QUEUE_PROP.unpack_from(buf, at)
        if prop_len < _QUEUE_PROP.size or prop_len % 8 or at + prop_len > end:
            raise CodecError(Err.OFPBRC_BAD_LEN, f"queue property length {prop_len}")
        if prop == OFPQT_MIN_RATE:
            if prop_len != _QUEUE_PROP.size + _QUEUE_MIN_RATE.size:
                raise CodecError(Err.OFPBRC_BAD_LEN, f"MIN_RATE property length {prop_len}")
            (min_rate,) = _QUEUE_MIN_RATE.unpack_from(buf, at + _QUEUE_PROP.size)
        at += prop_len
    return m.PacketQueue(queue_id, min_rate=min_rate)


def _decode_queue_get_config_reply(buf: bytes, xid: int) -> m.Message:
    at = HEADER_SIZE + _QUEUE_GET_CONFIG_REPLY.size
    if len(buf) < at:
        raise _bad_len("QUEUE_GET_CONFIG_REPLY", len(buf))
    (port,) = _QUEUE_GET_CONFIG_REPLY.unpack_from(buf, HEADER_SIZE)
    queues = []
    while at < len(buf):
        if len(buf) - at < _PACKET_QUEUE.size:
            raise _bad_len("packet queue header", len(buf) - at)
        (_, queue_len) = _PACKET_QUEUE.unpack_from(buf, at)
        if queue_len < _PACKET_QUEUE.size or queue_len % 8 or at + queue_len > len(buf):
            raise CodecError(Err.OFPBRC_BAD_LEN, f"packet queue length {queue_len}")
        queues.append(_decode_queue(buf, at, at + queue_len))
        at += queue_len
    return m.QueueGetConfigReply(port_from_v10(port), tuple(queues), xid=xid)


def _encode_queue(queue: m.PacketQueue) -> bytes:
    props = b""
    if queue.min_rate is not None:
        props = _QUEUE_PROP.pack(OFPQT_MIN_RATE, 16) + _QUEUE_MIN_RATE.pack(queue.min_rate)
    return _PACKET_QUEUE.pack(queue.queue_id, _PACKET_QUEUE.size + len(props)) + props


def _encode_queue_get_config_reply(msg: m.QueueGetConfigReply) -> bytes:
    head = _QUEUE_GET_CONFIG_REPLY.pack(_port_to_v10(msg.port, "QUEUE_GET_CONFIG_REPLY port"))
    return _message(
        OFPT_QUEUE_GET_CONFIG_REPLY, msg.xid, head + b"".join(map(_encode_queue, msg.queues))
    )


# --- Stats requests -------------------------------------------------------------------


def _stats_empty_request(cls: Callable[..., m.Message], what: str) -> StatsDecoder:
    def decode(buf: bytes, flags: int, xid: int) -> m.Message:
        if len(buf) != _STATS_SIZE:
            raise _bad_len(what, len(buf))
        return cls(flags=flags, xid=xid)

    return decode


def _flow_stats_request(cls: Callable[..., m.Message], what: str) -> StatsDecoder:
    def decode(buf: bytes, flags: int, xid: int) -> m.Message:
        if len(buf) != _STATS_SIZE + MATCH_SIZE + _FLOW_STATS_REQUEST.size:
            raise _bad_len(what, len(buf))
        match = decode_match(buf, _STATS_SIZE)
        table_id, out_port = _FLOW_STATS_REQUEST.unpack_from(buf, _STATS_SIZE + MATCH_SIZE)
        return cls(match, table_id, port_from_v10(out_port), flags=flags, xid=xid)

    return decode


def _decode_port_stats_request(buf: bytes, flags: int, xid: int) -> m.Message:
    if len(buf) != _STATS_SIZE + _PORT_STATS_REQUEST.size:
        raise _bad_len("PORT stats request", len(buf))
    (port_no,) = _PORT_STATS_REQUEST.unpack_from(buf, _STATS_SIZE)
    return m.PortStatsRequest(port_from_v10(port_no), flags, xid=xid)


def _decode_queue_stats_request(buf: bytes, flags: int, xid: int) -> m.Message:
    if len(buf) != _STATS_SIZE + _QUEUE_STATS_REQUEST.size:
        raise _bad_len("QUEUE stats request", len(buf))
    port_no, queue_id = _QUEUE_STATS_REQUEST.unpack_from(buf, _STATS_SIZE)
    port = OFPP_ANY if port_no == OFPP_ALL else port_from_v10(port_no)  # OF1.0 "all" is ALL
    return m.QueueStatsRequest(port, queue_id, flags, xid=xid)


def _stats(msg_type: int, stats_type: int, msg: Any, body: bytes) -> bytes:
    return _message(msg_type, msg.xid, _STATS.pack(stats_type, msg.flags) + body)


def _encode_flow_stats_request(stats_type: int) -> Callable[[Any], bytes]:
    def encode(msg: Any) -> bytes:
        _check_flow_selector(msg)
        tail = _FLOW_STATS_REQUEST.pack(msg.table_id, _port_to_v10(msg.out_port, "out_port"))
        return _stats(OFPT_STATS_REQUEST, stats_type, msg, encode_match(msg.match) + tail)

    return encode


def _encode_port_stats_request(msg: m.PortStatsRequest) -> bytes:
    body = _PORT_STATS_REQUEST.pack(_port_to_v10(msg.port_no, "port_no"))
    return _stats(OFPT_STATS_REQUEST, OFPST_PORT, msg, body)


def _encode_queue_stats_request(msg: m.QueueStatsRequest) -> bytes:
    port = OFPP_ALL if msg.port_no == OFPP_ANY else _port_to_v10(msg.port_no, "port_no")
    return _stats(OFPT_STATS_REQUEST, OFPST_QUEUE, msg, _QUEUE_STATS_REQUEST.pack(port, msg.queue_id))


def _encode_empty_stats(msg_type: int, stats_type: int) -> Callable[[Any], bytes]:
    def encode(msg: Any) -> bytes:
        return _stats(msg_type, stats_type, msg, b"")

    return encode


# --- Stats replies --------------------------------------------------------------------


def _decode_desc_reply(buf: bytes, flags: int, xid: int) -> m.Message:
    if len(buf) != _STATS_SIZE + _DESC.size:
        raise _bad_len("DESC stats reply", len(buf))
    mfr_desc, hw_desc, sw_desc, serial_num, dp_desc = _DESC.unpack_from(buf, _STATS_SIZE)
    return m.DescStatsReply(
        decode_str(mfr_desc), decode_str(hw_desc), decode_str(sw_desc), decode_str(serial_num),
        decode_str(dp_desc), flags, xid=xid,
    )


def _encode_desc_reply(msg: m.DescStatsReply) -> bytes:
    body = _DESC.pack(
        encode_str(msg.mfr_desc, 256), encode_str(msg.hw_desc, 256), encode_str(msg.sw_desc, 256),
        encode_str(msg.serial_num, 32), encode_str(msg.dp_desc, 256),
    )
    return _stats(OFPT_STATS_REPLY, OFPST_DESC, msg, body)


def _decode_aggregate_reply(buf: bytes, flags: int, xid: int) -> m.Message:
    if len(buf) != _STATS_SIZE + _AGGREGATE_REPLY.size:
        raise _bad_len("AGGREGATE stats reply", len(buf))
    packet_count, byte_count, flow_count = _AGGREGATE_REPLY.unpack_from(buf, _STATS_SIZE)
    return m.AggregateStatsReply(packet_count, byte_count, flow_count, flags, xid=xid)


def _encode_aggregate_reply(msg: m.AggregateStatsReply) -> bytes:
    body = _AGGREGATE_REPLY.pack(msg.packet_count, msg.byte_count, msg.flow_count)
    return _stats(OFPT_STATS_REPLY, OFPST_AGGREGATE, msg, body)


def _decode_flow_stats(buf: bytes, offset: int) -> tuple[m.FlowStats, int]:
    """One ofp_flow_stats at ``offset``; returns it and the offset after it."""
    if len(buf) - offset < _FLOW_STATS_SIZE:
        raise _bad_len("flow stats entry", len(buf) - offset)
    length, table_id = _FLOW_STATS_HEAD.unpack_from(buf, offset)
    end = offset + length
    if length < _FLOW_STATS_SIZE or end > len(buf):
        raise CodecError(Err.OFPBRC_BAD_LEN, f"flow stats entry length {length}")
    match = decode_match(buf, offset + _FLOW_STATS_HEAD.size)
    (duration_sec, duration_nsec, priority, idle_timeout, hard_timeout, cookie, packet_count,
     byte_count) = _FLOW_STATS_TAIL.unpack_from(buf, offset + _FLOW_STATS_HEAD.size + MATCH_SIZE)
    actions = v10_actions.decode_actions(buf, offset + _FLOW_STATS_SIZE, end)
    entry = m.FlowStats(
        table_id, duration_sec, duration_nsec, priority, idle_timeout, hard_timeout, 0, cookie,
        packet_count, byte_count, match, (ApplyActions(actions),) if actions else (),
    )
    return entry, end


def _encode_flow_stats(entry: m.FlowStats) -> bytes:
    actions = v10_actions.encode_actions(_action_list(entry.instructions))
    return (
        _FLOW_STATS_HEAD.pack(_FLOW_STATS_SIZE + len(actions), entry.table_id)
        + encode_match(entry.match)
        + _FLOW_STATS_TAIL.pack(
            entry.duration_sec, entry.duration_nsec, entry.priority, entry.idle_timeout,
            entry.hard_timeout, entry.cookie, entry.packet_count, entry.byte_count,
        )
        + actions
    )


def _decode_flow_reply(buf: bytes, flags: int, xid: int) -> m.Message:
    entries = []
    at = _STATS_SIZE
    while at < len(buf):
        entry, at = _decode_flow_stats(buf, at)
        entries.append(entry)
    return m.FlowStatsReply(tuple(entries), flags, xid=xid)


def _decode_table_stats(buf: bytes, offset: int) -> m.TableStats:
    (table_id, name, wildcards, max_entries, active_count, lookup_count,
     matched_count) = _TABLE_STATS.unpack_from(buf, offset)
    return m.TableStats(
        table_id, active_count, lookup_count, matched_count, decode_str(name), wildcards, max_entries
    )


def _encode_table_stats(entry: m.TableStats) -> bytes:
    return _TABLE_STATS.pack(
        entry.table_id, encode_str(entry.name, 32), entry.wildcards, entry.max_entries,
        entry.active_count, entry.lookup_count, entry.matched_count,
    )


def _decode_port_stats(buf: bytes, offset: int) -> m.PortStats:
    port_no, *counters = _PORT_STATS.unpack_from(buf, offset)
    return m.PortStats(port_from_v10(port_no), *counters)


def _encode_port_stats(entry: m.PortStats) -> bytes:
    return _PORT_STATS.pack(
        _port_to_v10(entry.port_no, "port stats port_no"), entry.rx_packets, entry.tx_packets,
        entry.rx_bytes, entry.tx_bytes, entry.rx_dropped, entry.tx_dropped, entry.rx_errors,
        entry.tx_errors, entry.rx_frame_err, entry.rx_over_err, entry.rx_crc_err, entry.collisions,
    )


def _decode_queue_stats(buf: bytes, offset: int) -> m.QueueStats:
    port_no, queue_id, tx_bytes, tx_packets, tx_errors = _QUEUE_STATS.unpack_from(buf, offset)
    return m.QueueStats(port_from_v10(port_no), queue_id, tx_bytes, tx_packets, tx_errors)


def _encode_queue_stats(entry: m.QueueStats) -> bytes:
    return _QUEUE_STATS.pack(
        _port_to_v10(entry.port_no, "queue stats port_no"), entry.queue_id, entry.tx_bytes,
        entry.tx_packets, entry.tx_errors,
    )


def _fixed_array_reply(
    cls: Callable[..., m.Message], size: int, decode_entry: Callable[[bytes, int], Any], what: str
) -> StatsDecoder:
    """Decoder of a reply whose body is an array of ``size``-byte entries."""

    def decode(buf: bytes, flags: int, xid: int) -> m.Message:
        if (len(buf) - _STATS_SIZE) % size:
            raise _bad_len(what, len(buf))
        entries = tuple(decode_entry(buf, at) for at in range(_STATS_SIZE, len(buf), size))
        return cls(entries, flags, xid=xid)

    return decode


# Replies whose body is a list of entries: class -> (stats type, entry encoder).
_LISTED: dict[type, tuple[int, Callable[[Any], bytes]]] = {
    m.FlowStatsReply: (OFPST_FLOW, _encode_flow_stats),
    m.TableStatsReply: (OFPST_TABLE, _encode_table_stats),
    m.PortStatsReply: (OFPST_PORT, _encode_port_stats),
    m.QueueStatsReply: (OFPST_QUEUE, _encode_queue_stats),
    m.PortDescStatsReply: (OFPST_PORT_DESC, _encode_port),
}


def _encode_listed(msg: Any) -> bytes:
    stats_type, encode_entry = _LISTED[type(msg)]
    return _stats(OFPT_STATS_REPLY, stats_type, msg, b"".join(map(encode_entry, msg.entries)))


def _decode_port_desc_reply(buf: bytes, flags: int, xid: int) -> m.Message:
    return m.PortDescStatsReply(_decode_ports(buf, _STATS_SIZE, "PORT_DESC reply"), flags, xid=xid)


_STATS_REQUESTS: dict[int, StatsDecoder] = {
    OFPST_DESC: _stats_empty_request(m.DescStatsRequest, "DESC stats request"),
    OFPST_FLOW: _flow_stats_request(m.FlowStatsRequest, "FLOW stats request"),
    OFPST_AGGREGATE: _flow_stats_request(m.AggregateStatsRequest, "AGGREGATE stats request"),
    OFPST_TABLE: _stats_empty_request(m.TableStatsRequest, "TABLE stats request"),
    OFPST_PORT: _decode_port_stats_request,
    OFPST_QUEUE: _decode_queue_stats_request,
    OFPST_PORT_DESC: _stats_empty_request(m.PortDescStatsRequest, "PORT_DESC stats request"),
}

_STATS_REPLIES: dict[int, StatsDecoder] = {
    OFPST_DESC: _decode_desc_reply,
    OFPST_FLOW: _decode_flow_reply,
    OFPST_AGGREGATE: _decode_aggregate_reply,
    OFPST_TABLE: _fixed_array_reply(m.TableStatsReply, _TABLE_STATS.size, _decode_table_stats, "TABLE stats reply"),
    OFPST_PORT: _fixed_array_reply(m.PortStatsReply, _PORT_STATS.size, _decode_port_stats, "PORT stats reply"),
    OFPST_QUEUE: _fixed_array_reply(m.QueueStatsReply, _QUEUE_STATS.size, _decode_queue_stats, "QUEUE stats reply"),
    OFPST_PORT_DESC: _decode_port_desc_reply,
}


def _stats_decoder(table: dict[int, StatsDecoder], what: str) -> Decoder:
    def decode(buf: bytes, xid: int) -> m.Message:
        if len(buf) < _STATS_SIZE:
            raise _bad_len(what, len(buf))
        stats_type, flags = _STATS.unpack_from(buf, HEADER_SIZE)
        decode_body = table.get(stats_type)
        if decode_body is None:
            if stats_type == OFPST_VENDOR:
                raise CodecError(Err.OFPBRC_BAD_EXPERIMENTER, f"{what} of a vendor")
            raise CodecError(Err.OFPBRC_BAD_MULTIPART, f"{what} type {stats_type}")
        return decode_body(buf, flags, xid)

    return decode


# --- Dispatch tables ------------------------------------------------------------------

_DECODERS: dict[int, Decoder] = {
    OFPT_HELLO: _decode_hello,
    OFPT_ERROR: _decode_error,
    OFPT_ECHO_REQUEST: lambda buf, xid: m.EchoRequest(buf[HEADER_SIZE:], xid=xid),
    OFPT_ECHO_REPLY: lambda buf, xid: m.EchoReply(buf[HEADER_SIZE:], xid=xid),
    OFPT_VENDOR: _decode_vendor,
    OFPT_FEATURES_REQUEST: _empty(m.FeaturesRequest, "FEATURES_REQUEST"),
    OFPT_FEATURES_REPLY: _decode_features_reply,
    OFPT_GET_CONFIG_REQUEST: _empty(m.GetConfigRequest, "GET_CONFIG_REQUEST"),
    OFPT_GET_CONFIG_REPLY: _switch_config(m.GetConfigReply, "GET_CONFIG_REPLY"),
    OFPT_SET_CONFIG: _switch_config(m.SetConfig, "SET_CONFIG"),
    OFPT_PACKET_IN: _decode_packet_in,
    OFPT_FLOW_REMOVED: _decode_flow_removed,
    OFPT_PORT_STATUS: _decode_port_status,
    OFPT_PACKET_OUT: _decode_packet_out,
    OFPT_FLOW_MOD: _decode_flow_mod,
    OFPT_PORT_MOD: _decode_port_mod,
    OFPT_STATS_REQUEST: _stats_decoder(_STATS_REQUESTS, "STATS_REQUEST"),
    OFPT_STATS_REPLY: _stats_decoder(_STATS_REPLIES, "STATS_REPLY"),
    OFPT_BARRIER_REQUEST: _empty(m.BarrierRequest, "BARRIER_REQUEST"),
    OFPT_BARRIER_REPLY: _empty(m.BarrierReply, "BARRIER_REPLY"),
    OFPT_QUEUE_GET_CONFIG_REQUEST: _decode_queue_get_config_request,
    OFPT_QUEUE_GET_CONFIG_REPLY: _decode_queue_get_config_reply,
}

_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    m.Hello: _encode_hello,
    m.Error: _encode_error,
    m.EchoRequest: lambda msg: _message(OFPT_ECHO_REQUEST, msg.xid, msg.data),
    m.EchoReply: lambda msg: _message(OFPT_ECHO_REPLY, msg.xid, msg.data),
    m.Experimenter: _encode_vendor,
    m.FeaturesRequest: lambda msg: _message(OFPT_FEATURES_REQUEST, msg.xid, b""),
    m.FeaturesReply: _encode_features_reply,
    m.GetConfigRequest: lambda msg: _message(OFPT_GET_CONFIG_REQUEST, msg.xid, b""),
    m.GetConfigReply: _encode_switch_config(OFPT_GET_CONFIG_REPLY),
    m.SetConfig: _encode_switch_config(OFPT_SET_CONFIG),
    m.PacketIn: _encode_packet_in,
    m.FlowRemoved: _encode_flow_removed,
    m.PortStatus: _encode_port_status,
    m.PacketOut: _encode_packet_out,
    m.FlowMod: _encode_flow_mod,
    m.PortMod: _encode_port_mod,
    m.BarrierRequest: lambda msg: _message(OFPT_BARRIER_REQUEST, msg.xid, b""),
    m.BarrierReply: lambda msg: _message(OFPT_BARRIER_REPLY, msg.xid, b""),
    m.QueueGetConfigRequest: _encode_queue_get_config_request,
    m.QueueGetConfigReply: _encode_queue_get_config_reply,
    m.DescStatsRequest: _encode_empty_stats(OFPT_STATS_REQUEST, OFPST_DESC),
    m.DescStatsReply: _encode_desc_reply,
    m.FlowStatsRequest: _encode_flow_stats_request(OFPST_FLOW),
    m.FlowStatsReply: _encode_listed,
    m.AggregateStatsRequest: _encode_flow_stats_request(OFPST_AGGREGATE),
    m.AggregateStatsReply: _encode_aggregate_reply,
    m.TableStatsRequest: _encode_empty_stats(OFPT_STATS_REQUEST, OFPST_TABLE),
    m.TableStatsReply: _encode_listed,
    m.PortStatsRequest: _encode_port_stats_request,
    m.PortStatsReply: _encode_listed,
    m.QueueStatsRequest: _encode_queue_stats_request,
    m.QueueStatsReply: _encode_listed,
    m.PortDescStatsRequest: _encode_empty_stats(OFPT_STATS_REQUEST, OFPST_PORT_DESC),
    m.PortDescStatsReply: _encode_listed,
}


# --- Entry points ---------------------------------------------------------------------


def decode(buf: bytes) -> m.Message:
    """Decode one whole OF1.0 message (``len(buf)`` is its header length)."""
    if len(buf) < HEADER_SIZE:
        raise _bad_len("message", len(buf))
    _, msg_type, _, xid = HEADER.unpack_from(buf, 0)
    decoder = _DECODERS.get(msg_type)
    if decoder is None:
        raise CodecError(Err.OFPBRC_BAD_TYPE, f"OpenFlow 1.0 message type {msg_type}")
    return decoder(buf, xid)


def encode(msg: m.Message) -> bytes:
    """The OF1.0 bytes of ``msg``; ValueError if OF1.0 cannot express it."""
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        raise ValueError(f"OpenFlow 1.0 has no {type(msg).__name__}")
    try:
        return encoder(msg)
    except (struct.error, OverflowError) as exc:  # a field value out of its wire range
        raise ValueError(f"{type(msg).__name__}: {exc}") from exc


def encode_parts(msg: m.Message, limit: int) -> list[bytes]:
    """``msg`` as messages of at most ``limit`` bytes (list-bodied stats replies split).

    Every part but the last carries REPLY_MORE; all share ``msg.xid``.  Other
    messages come back as ``[encode(msg)]``.
    """
    listed = _LISTED.get(type(msg))
    if listed is None:
        return [encode(msg)]
    stats_type, encode_entry = listed
    limit = min(limit, OFP_MAX_MESSAGE_SIZE)
    room = limit - _STATS_SIZE
    if room < 0:
        raise ValueError(f"no OpenFlow 1.0 stats reply fits in {limit} bytes")
    try:
        entries = [encode_entry(entry) for entry in msg.entries]  # type: ignore[attr-defined]
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{type(msg).__name__}: {exc}") from exc
    chunks: list[list[bytes]] = [[]]
    used = 0
    for data in entries:
        if len(data) > room:
            raise ValueError(f"a {type(msg).__name__} entry of {len(data)} bytes exceeds {limit}")
        if used + len(data) > room:
            chunks.append([])
            used = 0
        chunks[-1].append(data)
        used += len(data)
    flags = msg.flags  # type: ignore[attr-defined]
    last = len(chunks) - 1
    return [
        _message(
            OFPT_STATS_REPLY, msg.xid,
            _STATS.pack(stats_type, flags if i == last else flags | OFPMPF_REPLY_MORE) + b"".join(chunk),
        )
        for i, chunk in enumerate(chunks)
    ]
