"""OpenFlow 1.3 (wire version 0x04) message codec: bytes <-> ``openflow.messages``.

One decoder function per OFPT_* type in a flat dict, one encoder per model class in
another; multipart bodies and the structures they share with command messages live
in ``v13_multipart``.  The version-independent HELLO helpers (``decode_hello``,
``encode_hello``) serve the channel, which must read a HELLO of any version.

Contract (see ``openflow.codec``): ``decode`` gets exactly one whole message and
raises only ``CodecError`` carrying the spec's error; ``encode`` raises ValueError
when a message cannot be expressed in OF1.3 (out-of-range values included).
Fields the model keeps for OF1.0 only (FeaturesReply.ports/actions, TableStats
name/wildcards/max_entries) have no OF1.3 wire form and are not sent.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from openflow import v13_multipart as mp
from openflow.errors import CodecError, Err
from openflow.messages import (
    LISTED_REPLIES,
    BarrierReply,
    BarrierRequest,
    EchoReply,
    EchoRequest,
    Error,
    Experimenter,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
    FlowRemoved,
    GetAsyncReply,
    GetAsyncRequest,
    GetConfigReply,
    GetConfigRequest,
    GroupMod,
    Hello,
    Message,
    MeterMod,
    PacketIn,
    PacketOut,
    PacketQueue,
    PortMod,
    PortStatus,
    QueueGetConfigReply,
    QueueGetConfigRequest,
    RoleReply,
    RoleRequest,
    SetAsync,
    SetConfig,
    TableMod,
)
from openflow.oxm import decode_oxm_match, encode_oxm_match
from openflow.v13_actions import (
    decode_actions,
    decode_instructions,
    encode_actions,
    encode_instructions,
)
from openflow.wire import HEADER, HEADER_SIZE, pad8

OFP_VERSION = 0x04

OFPT_HELLO = 0
OFPT_ERROR = 1
OFPT_ECHO_REQUEST = 2
OFPT_ECHO_REPLY = 3
OFPT_EXPERIMENTER = 4
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
OFPT_GROUP_MOD = 15
OFPT_PORT_MOD = 16
OFPT_TABLE_MOD = 17
OFPT_MULTIPART_REQUEST = mp.OFPT_MULTIPART_REQUEST
OFPT_MULTIPART_REPLY = mp.OFPT_MULTIPART_REPLY
OFPT_BARRIER_REQUEST = 20
OFPT_BARRIER_REPLY = 21
OFPT_QUEUE_GET_CONFIG_REQUEST = 22
OFPT_QUEUE_GET_CONFIG_REPLY = 23
OFPT_ROLE_REQUEST = 24
OFPT_ROLE_REPLY = 25
OFPT_GET_ASYNC_REQUEST = 26
OFPT_GET_ASYNC_REPLY = 27
OFPT_SET_ASYNC = 28
OFPT_METER_MOD = 29

OFPHET_VERSIONBITMAP = 1
_MAX_BITMAP_WORDS = 8  # versions 0..255
OFPET_EXPERIMENTER = 0xFFFF
OFPQT_MIN_RATE = 1
OFPQT_MAX_RATE = 2

# Fixed parts, each including the 8-byte ofp_header so one unpack_from reads them.
_HELLO_ELEM = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_ERROR = struct.Struct("!BBHIHH")
_ERROR_EXPERIMENTER = struct.Struct("!BBHIHHI")
_EXPERIMENTER = struct.Struct("!BBHIII")
_FEATURES_REPLY = struct.Struct("!BBHIQIBB2xII")
_SWITCH_CONFIG = struct.Struct("!BBHIHH")
_PACKET_IN = struct.Struct("!BBHIIHBBQ")
# PACKET_IN whose match is only in_port: ofp_match(type=OXM, length=12) with the
# OXM_OF_IN_PORT TLV, 4 bytes of match padding, then the 2 pad bytes before data.
_PACKET_IN_IN_PORT = struct.Struct("!BBHIIHBBQHHII6x")
_OFPMT_OXM = 1
_OXM_OF_IN_PORT = 0x80000004
_FLOW_REMOVED = struct.Struct("!BBHIQHBBIIHHQQ")
_PORT_STATUS = struct.Struct("!BBHIB7x")
_PACKET_OUT = struct.Struct("!BBHIIIH6x")
_FLOW_MOD = struct.Struct("!BBHIQQBBHHHIIIH2x")
_GROUP_MOD = struct.Struct("!BBHIHBxI")
_PORT_MOD = struct.Struct("!BBHII4xHI2xIII4x")
_TABLE_MOD = struct.Struct("!BBHIB3xI")
_MULTIPART = mp.MULTIPART_HEADER
_QUEUE_GET_CONFIG = struct.Struct("!BBHII4x")
_PACKET_QUEUE = struct.Struct("!IIH6x")
_QUEUE_PROP = struct.Struct("!HH4x")
_QUEUE_PROP_RATE = struct.Struct("!HH4xH6x")
_ROLE = struct.Struct("!BBHII4xQ")
_ASYNC = struct.Struct("!BBHI6I")
_METER_MOD = struct.Struct("!BBHIHHI")


def _bad_len(detail: str) -> CodecError:
    return CodecError(Err.OFPBRC_BAD_LEN, detail)


def _need(buf: bytes, size: int, what: str) -> None:
    if len(buf) < size:
        raise _bad_len(f"{what} needs at least {size} bytes, has {len(buf)}")


def _exact(buf: bytes, size: int, what: str) -> None:
    if len(buf) != size:
        raise _bad_len(f"{what} must be {size} bytes, is {len(buf)}")


# --- HELLO (any version) -------------------------------------------------------------


def decode_hello(buf: bytes | bytearray | memoryview) -> Hello:
    """A HELLO of any version: the union of its version-bitmap elements, if any.

    Elements are padded to 8 bytes (the last one's padding may be missing);
    unknown element types are skipped; a malformed element is OFPBRC_BAD_LEN.
    Bitmap words past version 255 are ignored: a version is one header byte.
    """
    buf = bytes(buf)
    _need(buf, HEADER_SIZE, "HELLO")
    _version, _type, length, xid = HEADER.unpack_from(buf, 0)
    if length != len(buf):
        raise _bad_len(f"HELLO header says {length} bytes, have {len(buf)}")
    versions: set[int] | None = None
    off = HEADER_SIZE
    while off < length:
        if length - off < _HELLO_ELEM.size:
            raise _bad_len(f"HELLO ends with {length - off} leftover bytes")
        elem_type, elem_len = _HELLO_ELEM.unpack_from(buf, off)
        if elem_len < _HELLO_ELEM.size or off + elem_len > length:
            raise _bad_len(f"HELLO element length {elem_len} is not valid")
        if elem_type == OFPHET_VERSIONBITMAP:
            bitmap_size = elem_len - _HELLO_ELEM.size
            if bitmap_size % 4:
                raise _bad_len(f"HELLO version bitmap of {bitmap_size} bytes")
            if versions is None:
                versions = set()
            for word in range(min(bitmap_size // 4, _MAX_BITMAP_WORDS)):
                (bits,) = _U32.unpack_from(buf, off + _HELLO_ELEM.size + 4 * word)
                versions.update(word * 32 + bit for bit in range(32) if bits >> bit & 1)
        off += elem_len + pad8(elem_len)
    return Hello(None if versions is None else frozenset(versions), xid=xid)


def encode_hello(version: int, versions: frozenset[int] | None, xid: int = 0) -> bytes:
    """A HELLO of ``version``, with a version-bitmap element when ``versions`` is given."""
    if versions is None:
        return HEADER.pack(version, OFPT_HELLO, HEADER_SIZE, xid)
    words = [0] * ((max(versions) // 32 + 1) if versions else 0)
    for v in versions:
        if not 0 <= v <= 0xFF:
            raise ValueError(f"OpenFlow version {v} does not fit the header's byte")
        words[v // 32] |= 1 << (v % 32)
    elem_len = _HELLO_ELEM.size + 4 * len(words)
    elem = _HELLO_ELEM.pack(OFPHET_VERSIONBITMAP, elem_len) + b"".join(
        _U32.pack(w) for w in words) + b"\0" * pad8(elem_len)
    return HEADER.pack(version, OFPT_HELLO, HEADER_SIZE + len(elem), xid) + elem


# --- Decoders: one per message type, (buf, xid) -> Message -----------------------------


def _decode_hello(buf: bytes, xid: int) -> Message:
    return decode_hello(buf)


def _decode_error(buf: bytes, xid: int) -> Message:
    _need(buf, _ERROR.size, "ERROR")
    err_type, code = _ERROR.unpack_from(buf, 0)[4:]
    if err_type == OFPET_EXPERIMENTER:
        _need(buf, _ERROR_EXPERIMENTER.size, "experimenter ERROR")
        experimenter = _ERROR_EXPERIMENTER.unpack_from(buf, 0)[6]
        return Error(err_type, code, buf[_ERROR_EXPERIMENTER.size:], experimenter, xid=xid)
    return Error(err_type, code, buf[_ERROR.size:], xid=xid)


def _decode_echo_request(buf: bytes, xid: int) -> Message:
    return EchoRequest(buf[HEADER_SIZE:], xid=xid)


def _decode_echo_reply(buf: bytes, xid: int) -> Message:
    return EchoReply(buf[HEADER_SIZE:], xid=xid)


def _decode_experimenter(buf: bytes, xid: int) -> Message:
    _need(buf, _EXPERIMENTER.size, "EXPERIMENTER")
    experimenter, exp_type = _EXPERIMENTER.unpack_from(buf, 0)[4:]
    return Experimenter(experimenter, exp_type, buf[_EXPERIMENTER.size:], xid=xid)


def _header_only(cls: Callable[..., Message]) -> Callable[[bytes, int], Message]:
    def decode_header_only(buf: bytes, xid: int) -> Message:
        _exact(buf, HEADER_SIZE, cls.__name__)
        return cls(xid=xid)

    return decode_header_only


def _decode_features_reply(buf: bytes, xid: int) -> Message:
    _exact(buf, _FEATURES_REPLY.size, "FEATURES_REPLY")
    dpid, n_buffers, n_tables, aux_id, capabilities, _reserved = (
        _FEATURES_REPLY.unpack_from(buf, 0)[4:])
    return FeaturesReply(dpid, n_buffers, n_tables, aux_id, capabilities, xid=xid)


def _decode_get_config_reply(buf: bytes, xid: int) -> Message:
    _exact(buf, _SWITCH_CONFIG.size, "GET_CONFIG_REPLY")
    return GetConfigReply(*_SWITCH_CONFIG.unpack_from(buf, 0)[4:], xid=xid)


def _decode_set_config(buf: bytes, xid: int) -> Message:
    _exact(buf, _SWITCH_CONFIG.size, "SET_CONFIG")
    return SetConfig(*_SWITCH_CONFIG.unpack_from(buf, 0)[4:], xid=xid)


def _decode_packet_in(buf: bytes, xid: int) -> Message:
    _need(buf, _PACKET_IN.size + 8 + 2, "PACKET_IN")
    buffer_id, total_len, reason, table_id, cookie = _PACKET_IN.unpack_from(buf, 0)[4:]
    match, off = decode_oxm_match(buf, _PACKET_IN.size)
    if off + 2 > len(buf):
        raise _bad_len("PACKET_IN ends inside its match or padding")
    return PacketIn(buffer_id, total_len, reason, table_id, cookie, match, buf[off + 2:],
                    xid=xid)


def _decode_flow_removed(buf: bytes, xid: int) -> Message:
    _need(buf, _FLOW_REMOVED.size + 8, "FLOW_REMOVED")
    (_v, _t, _l, _x, cookie, priority, reason, table_id, duration_sec, duration_nsec,
     idle_timeout, hard_timeout, packet_count, byte_count) = _FLOW_REMOVED.unpack_from(buf, 0)
    match, off = decode_oxm_match(buf, _FLOW_REMOVED.size)
    if off != len(buf):
        raise _bad_len(f"FLOW_REMOVED has {len(buf) - off} bytes after its match")
    return FlowRemoved(cookie, priority, reason, table_id, duration_sec, duration_nsec,
                       idle_timeout, hard_timeout, packet_count, byte_count, match, xid=xid)


def _decode_port_status(buf: bytes, xid: int) -> Message:
    _exact(buf, _PORT_STATUS.size + mp.PORT_SIZE, "PORT_STATUS")
    reason = buf[HEADER_SIZE]
    return PortStatus(reason, mp.decode_port(buf, _PORT_STATUS.size), xid=xid)


def _decode_packet_out(buf: bytes, xid: int) -> Message:
    _need(buf, _PACKET_OUT.size, "PACKET_OUT")
    buffer_id, in_port, actions_len = _PACKET_OUT.unpack_from(buf, 0)[4:]
    end = _PACKET_OUT.size + actions_len
    if end > len(buf):
        raise _bad_len(f"PACKET_OUT actions_len {actions_len} exceeds the message")
    actions = decode_actions(buf, _PACKET_OUT.size, end)
    return PacketOut(buffer_id, in_port, actions, buf[end:], xid=xid)


def _decode_flow_mod(buf: bytes, xid: int) -> Message:
    if len(buf) < 56:  # fixed part + the smallest ofp_match
        raise _bad_len(f"FLOW_MOD needs at least 56 bytes, has {len(buf)}")
    (_v, _t, _l, _x, cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout,
     priority, buffer_id, out_port, out_group, flags) = _FLOW_MOD.unpack_from(buf, 0)
    match, off = decode_oxm_match(buf, 48)
    instructions = decode_instructions(buf, off, len(buf))
    return FlowMod(match, cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout,
                   priority, buffer_id, out_port, out_group, flags, instructions, xid=xid)


def _decode_group_mod(buf: bytes, xid: int) -> Message:
    _need(buf, _GROUP_MOD.size, "GROUP_MOD")
    command, group_type, group_id = _GROUP_MOD.unpack_from(buf, 0)[4:]
    buckets = mp.decode_buckets(buf, _GROUP_MOD.size, len(buf))
    return GroupMod(command, group_type, group_id, buckets, xid=xid)


def _decode_port_mod(buf: bytes, xid: int) -> Message:
    _exact(buf, _PORT_MOD.size, "PORT_MOD")
    port_no, mac_hi, mac_lo, config, mask, advertise = _PORT_MOD.unpack_from(buf, 0)[4:]
    return PortMod(port_no, (mac_hi << 32) | mac_lo, config, mask, advertise, xid=xid)


def _decode_table_mod(buf: bytes, xid: int) -> Message:
    _exact(buf, _TABLE_MOD.size, "TABLE_MOD")
    return TableMod(*_TABLE_MOD.unpack_from(buf, 0)[4:], xid=xid)


def _decode_multipart_request(buf: bytes, xid: int) -> Message:
    _need(buf, _MULTIPART.size, "MULTIPART_REQUEST")
    mp_type, flags = _MULTIPART.unpack_from(buf, 0)[4:]
    return mp.decode_request(buf, mp_type, flags, xid)


def _decode_multipart_reply(buf: bytes, xid: int) -> Message:
    _need(buf, _MULTIPART.size, "MULTIPART_REPLY")
    mp_type, flags = _MULTIPART.unpack_from(buf, 0)[4:]
    return mp.decode_reply(buf, mp_type, flags, xid)


def _decode_queue_get_config_request(buf: bytes, xid: int) -> Message:
    _exact(buf, _QUEUE_GET_CONFIG.size, "QUEUE_GET_CONFIG_REQUEST")
    return QueueGetConfigRequest(_QUEUE_GET_CONFIG.unpack_from(buf, 0)[4], xid=xid)


def _decode_queue(buf: bytes, off: int, end: int) -> tuple[PacketQueue, int]:
    """One ofp_packet_queue; unknown properties are skipped (as OVS does)."""
    if end - off < _PACKET_QUEUE.size:
        raise _bad_len(f"queue needs {_PACKET_QUEUE.size} bytes, {end - off} left")
    queue_id, port, length = _PACKET_QUEUE.unpack_from(buf, off)
    if length < _PACKET_QUEUE.size or off + length > end or length % 8:
        raise _bad_len(f"queue length {length} is not valid")
    rates: dict[int, int] = {}
    p, queue_end = off + _PACKET_QUEUE.size, off + length
    while p < queue_end:
        if queue_end - p < _QUEUE_PROP.size:
            raise _bad_len("truncated queue property")
        prop, prop_len = _QUEUE_PROP.unpack_from(buf, p)
        if prop_len < _QUEUE_PROP.size or p + prop_len > queue_end or prop_len % 8:
            raise _bad_len(f"queue property length {prop_len} is not valid")
        if prop == OFPQT_MIN_RATE or prop == OFPQT_MAX_RATE:
            if prop_len != _QUEUE_PROP_RATE.size:
                raise _bad_len(f"queue rate property length {prop_len}")
            rates[prop] = _QUEUE_PROP_RATE.unpack_from(buf, p)[2]
        p += prop_len
    return PacketQueue(queue_id, port, rates.get(OFPQT_MIN_RATE),
                       rates.get(OFPQT_MAX_RATE)), queue_end


def _decode_queue_get_config_reply(buf: bytes, xid: int) -> Message:
    _need(buf, _QUEUE_GET_CONFIG.size, "QUEUE_GET_CONFIG_REPLY")
    port = _QUEUE_GET_CONFIG.unpack_from(buf, 0)[4]
    queues = []
    off = _QUEUE_GET_CONFIG.size
    while off < len(buf):
        queue, off = _decode_queue(buf, off, len(buf))
        queues.append(queue)
    return QueueGetConfigReply(port, tuple(queues), xid=xid)


def _decode_role_request(buf: bytes, xid: int) -> Message:
    _exact(buf, _ROLE.size, "ROLE_REQUEST")
    return RoleRequest(*_ROLE.unpack_from(buf, 0)[4:], xid=xid)


def _decode_role_reply(buf: bytes, xid: int) -> Message:
    _exact(buf, _ROLE.size, "ROLE_REPLY")
    return RoleReply(*_ROLE.unpack_from(buf, 0)[4:], xid=xid)


def _async_masks(buf: bytes, what: str) -> tuple[tuple[int, int], ...]:
    _exact(buf, _ASYNC.size, what)
    m = _ASYNC.unpack_from(buf, 0)[4:]
    return (m[0], m[1]), (m[2], m[3]), (m[4], m[5])


def _decode_get_async_reply(buf: bytes, xid: int) -> Message:
    return GetAsyncReply(*_async_masks(buf, "GET_ASYNC_REPLY"), xid=xid)


def _decode_set_async(buf: bytes, xid: int) -> Message:
    return SetAsync(*_async_masks(buf, "SET_ASYNC"), xid=xid)


def _decode_meter_mod(buf: bytes, xid: int) -> Message:
    _need(buf, _METER_MOD.size, "METER_MOD")
    command, flags, meter_id = _METER_MOD.unpack_from(buf, 0)[4:]
    bands = mp.decode_bands(buf, _METER_MOD.size, len(buf))
    return MeterMod(command, flags, meter_id, bands, xid=xid)


_DECODERS: dict[int, Callable[[bytes, int], Message]] = {
    OFPT_HELLO: _decode_hello,
    OFPT_ERROR: _decode_error,
    OFPT_ECHO_REQUEST: _decode_echo_request,
    OFPT_ECHO_REPLY: _decode_echo_reply,
    OFPT_EXPERIMENTER: _decode_experimenter,
    OFPT_FEATURES_REQUEST: _header_only(FeaturesRequest),
    OFPT_FEATURES_REPLY: _decode_features_reply,
    OFPT_GET_CONFIG_REQUEST: _header_only(GetConfigRequest),
    OFPT_GET_CONFIG_REPLY: _decode_get_config_reply,
    OFPT_SET_CONFIG: _decode_set_config,
    OFPT_PACKET_IN: _decode_packet_in,
    OFPT_FLOW_REMOVED: _decode_flow_removed,
    OFPT_PORT_STATUS: _decode_port_status,
    OFPT_PACKET_OUT: _decode_packet_out,
    OFPT_FLOW_MOD: _decode_flow_mod,
    OFPT_GROUP_MOD: _decode_group_mod,
    OFPT_PORT_MOD: _decode_port_mod,
    OFPT_TABLE_MOD: _decode_table_mod,
    OFPT_MULTIPART_REQUEST: _decode_multipart_request,
    OFPT_MULTIPART_REPLY: _decode_multipart_reply,
    OFPT_BARRIER_REQUEST: _header_only(BarrierRequest),
    OFPT_BARRIER_REPLY: _header_only(BarrierReply),
    OFPT_QUEUE_GET_CONFIG_REQUEST: _decode_queue_get_config_request,
    OFPT_QUEUE_GET_CONFIG_REPLY: _decode_queue_get_config_reply,
    OFPT_ROLE_REQUEST: _decode_role_request,
    OFPT_ROLE_REPLY: _decode_role_reply,
    OFPT_GET_ASYNC_REQUEST: _header_only(GetAsyncRequest),
    OFPT_GET_ASYNC_REPLY: _decode_get_async_reply,
    OFPT_SET_ASYNC: _decode_set_async,
    OFPT_METER_MOD: _decode_meter_mod,
}


def decode(buf: bytes | bytearray | memoryview) -> Message:
    """Decode one whole OF1.3 message (its header length must equal ``len(buf)``)."""
    if type(buf) is not bytes:  # bytearray/memoryview: decoders slice and hash bytes
        buf = bytes(buf)
    if len(buf) < HEADER_SIZE:
        raise _bad_len(f"{len(buf)} bytes is shorter than a header")
    _version, msg_type, length, xid = HEADER.unpack_from(buf, 0)
    if length != len(buf):
        raise _bad_len(f"header says {length} bytes, have {len(buf)}")
    decoder = _DECODERS.get(msg_type)
    if decoder is None:
        raise CodecError(Err.OFPBRC_BAD_TYPE, f"OF1.3 message type {msg_type}")
    return decoder(buf, xid)


# --- Encoders: one per model class, msg -> bytes ---------------------------------------


def _message(msg_type: int, xid: int, body: bytes) -> bytes:
    return HEADER.pack(OFP_VERSION, msg_type, HEADER_SIZE + len(body), xid) + body


def _encode_error(m: Error) -> bytes:
    if (m.type == OFPET_EXPERIMENTER) != (m.experimenter is not None):
        raise ValueError("an experimenter id goes with error type 0xffff, and only there")
    if m.experimenter is not None:
        return _ERROR_EXPERIMENTER.pack(OFP_VERSION, OFPT_ERROR,
                                        _ERROR_EXPERIMENTER.size + len(m.data), m.xid, m.type,
                                        m.code, m.experimenter) + m.data
    return _ERROR.pack(OFP_VERSION, OFPT_ERROR, _ERROR.size + len(m.data), m.xid, m.type,
                       m.code) + m.data


def _encode_experimenter(m: Experimenter) -> bytes:
    return _EXPERIMENTER.pack(OFP_VERSION, OFPT_EXPERIMENTER, _EXPERIMENTER.size + len(m.data),
                              m.xid, m.experimenter, m.exp_type) + m.data


def _encode_features_reply(m: FeaturesReply) -> bytes:
    return _FEATURES_REPLY.pack(OFP_VERSION, OFPT_FEATURES_REPLY, _FEATURES_REPLY.size, m.xid,
                                m.datapath_id, m.n_buffers, m.n_tables, m.auxiliary_id,
                                m.capabilities, 0)


def _switch_config(msg_type: int) -> Callable[[Any], bytes]:
    def encode_switch_config(m: Any) -> bytes:
        return _SWITCH_CONFIG.pack(OFP_VERSION, msg_type, _SWITCH_CONFIG.size, m.xid, m.flags,
                                   m.miss_send_len)

    return encode_switch_config


def _encode_packet_in(m: PacketIn) -> bytes:
    data = m.data
    fields = m.match.fields
    if len(fields) == 1:
        field = fields[0]
        if field.name == "in_port" and field.mask is None:  # the common case, one pack
            return _PACKET_IN_IN_PORT.pack(
                OFP_VERSION, OFPT_PACKET_IN, _PACKET_IN_IN_PORT.size + len(data), m.xid,
                m.buffer_id, m.total_len, m.reason, m.table_id, m.cookie, _OFPMT_OXM, 12,
                _OXM_OF_IN_PORT, field.value) + data
    match = encode_oxm_match(m.match)
    return _PACKET_IN.pack(OFP_VERSION, OFPT_PACKET_IN,
                           _PACKET_IN.size + len(match) + 2 + len(data), m.xid, m.buffer_id,
                           m.total_len, m.reason, m.table_id, m.cookie) + match + b"\0\0" + data


def _encode_flow_removed(m: FlowRemoved) -> bytes:
    match = encode_oxm_match(m.match)
    return _FLOW_REMOVED.pack(OFP_VERSION, OFPT_FLOW_REMOVED, _FLOW_REMOVED.size + len(match),
                              m.xid, m.cookie, m.priority, m.reason, m.table_id, m.duration_sec,
                              m.duration_nsec, m.idle_timeout, m.hard_timeout, m.packet_count,
                              m.byte_count) + match


def _encode_port_status(m: PortStatus) -> bytes:
    return _PORT_STATUS.pack(OFP_VERSION, OFPT_PORT_STATUS, _PORT_STATUS.size + mp.PORT_SIZE,
                             m.xid, m.reason) + mp.encode_port(m.port)


def _encode_packet_out(m: PacketOut) -> bytes:
    actions = encode_actions(m.actions)
    return _PACKET_OUT.pack(OFP_VERSION, OFPT_PACKET_OUT,
                            _PACKET_OUT.size + len(actions) + len(m.data), m.xid, m.buffer_id,
                            m.in_port, len(actions)) + actions + m.data


def _encode_flow_mod(m: FlowMod) -> bytes:
    body = encode_oxm_match(m.match) + encode_instructions(m.instructions)
    return _FLOW_MOD.pack(OFP_VERSION, OFPT_FLOW_MOD, _FLOW_MOD.size + len(body), m.xid,
                          m.cookie, m.cookie_mask, m.table_id, m.command, m.idle_timeout,
                          m.hard_timeout, m.priority, m.buffer_id, m.out_port, m.out_group,
                          m.flags) + body


def _encode_group_mod(m: GroupMod) -> bytes:
    buckets = b"".join(mp.encode_bucket(b) for b in m.buckets)
    return _GROUP_MOD.pack(OFP_VERSION, OFPT_GROUP_MOD, _GROUP_MOD.size + len(buckets), m.xid,
                           m.command, m.type, m.group_id) + buckets


def _encode_port_mod(m: PortMod) -> bytes:
    return _PORT_MOD.pack(OFP_VERSION, OFPT_PORT_MOD, _PORT_MOD.size, m.xid, m.port_no,
                          m.hw_addr >> 32, m.hw_addr & 0xFFFFFFFF, m.config, m.mask,
                          m.advertise)


def _encode_table_mod(m: TableMod) -> bytes:
    return _TABLE_MOD.pack(OFP_VERSION, OFPT_TABLE_MOD, _TABLE_MOD.size, m.xid, m.table_id,
                           m.config)


def _encode_queue(q: PacketQueue) -> bytes:
    props = b""
    for prop, rate in ((OFPQT_MIN_RATE, q.min_rate), (OFPQT_MAX_RATE, q.max_rate)):
        if rate is not None:
            props += _QUEUE_PROP_RATE.pack(prop, _QUEUE_PROP_RATE.size, rate)
    return _PACKET_QUEUE.pack(q.queue_id, q.port, _PACKET_QUEUE.size + len(props)) + props


def _encode_queue_get_config_reply(m: QueueGetConfigReply) -> bytes:
    queues = b"".join(_encode_queue(q) for q in m.queues)
    return _QUEUE_GET_CONFIG.pack(OFP_VERSION, OFPT_QUEUE_GET_CONFIG_REPLY,
                                  _QUEUE_GET_CONFIG.size + len(queues), m.xid, m.port) + queues


def _role(msg_type: int) -> Callable[[Any], bytes]:
    def encode_role(m: Any) -> bytes:
        return _ROLE.pack(OFP_VERSION, msg_type, _ROLE.size, m.xid, m.role, m.generation_id)

    return encode_role


def _async(msg_type: int) -> Callable[[Any], bytes]:
    def encode_async(m: Any) -> bytes:
        return _ASYNC.pack(OFP_VERSION, msg_type, _ASYNC.size, m.xid, *m.packet_in_mask,
                           *m.port_status_mask, *m.flow_removed_mask)

    return encode_async


def _encode_meter_mod(m: MeterMod) -> bytes:
    bands = b"".join(mp.encode_band(b) for b in m.bands)
    return _METER_MOD.pack(OFP_VERSION, OFPT_METER_MOD, _METER_MOD.size + len(bands), m.xid,
                           m.command, m.flags, m.meter_id) + bands


def _header_only_encoder(msg_type: int) -> Callable[[Any], bytes]:
    def encode_header_only(m: Any) -> bytes:
        return HEADER.pack(OFP_VERSION, msg_type, HEADER_SIZE, m.xid)

    return encode_header_only


def _encode_multipart(m: Any) -> bytes:
    return mp.encode_multipart(m, OFP_VERSION)


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Hello: lambda m: encode_hello(OFP_VERSION, m.versions, m.xid),
    Error: _encode_error,
    EchoRequest: lambda m: _message(OFPT_ECHO_REQUEST, m.xid, m.data),
    EchoReply: lambda m: _message(OFPT_ECHO_REPLY, m.xid, m.data),
    Experimenter: _encode_experimenter,
    FeaturesRequest: _header_only_encoder(OFPT_FEATURES_REQUEST),
    FeaturesReply: _encode_features_reply,
    GetConfigRequest: _header_only_encoder(OFPT_GET_CONFIG_REQUEST),
    GetConfigReply: _switch_config(OFPT_GET_CONFIG_REPLY),
    SetConfig: _switch_config(OFPT_SET_CONFIG),
    PacketIn: _encode_packet_in,
    FlowRemoved: _encode_flow_removed,
    PortStatus: _encode_port_status,
    PacketOut: _encode_packet_out,
    FlowMod: _encode_flow_mod,
    GroupMod: _encode_group_mod,
    PortMod: _encode_port_mod,
    TableMod: _encode_table_mod,
    BarrierRequest: _header_only_encoder(OFPT_BARRIER_REQUEST),
    BarrierReply: _header_only_encoder(OFPT_BARRIER_REPLY),
    QueueGetConfigRequest: lambda m: _QUEUE_GET_CONFIG.pack(
        OFP_VERSION, OFPT_QUEUE_GET_CONFIG_REQUEST, _QUEUE_GET_CONFIG.size, m.xid, m.port),
    QueueGetConfigReply: _encode_queue_get_config_reply,
    RoleRequest: _role(OFPT_ROLE_REQUEST),
    RoleReply: _role(OFPT_ROLE_REPLY),
    GetAsyncRequest: _header_only_encoder(OFPT_GET_ASYNC_REQUEST),
    GetAsyncReply: _async(OFPT_GET_ASYNC_REPLY),
    SetAsync: _async(OFPT_SET_ASYNC),
    MeterMod: _encode_meter_mod,
}
for _cls in mp.BODY_ENCODERS:
    _ENCODERS[_cls] = _encode_multipart
del _cls


def encode(msg: Message) -> bytes:
    """Encode ``msg`` as OF1.3; ValueError if OF1.3 cannot carry it."""
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        raise ValueError(f"{type(msg).__name__} has no OpenFlow 1.3 form")
    try:
        return encoder(msg)
    except struct.error as exc:  # a value out of its wire field's range, or > 64 KiB
        raise ValueError(f"{type(msg).__name__}: {exc}") from None


def encode_parts(msg: Message, limit: int) -> list[bytes]:
    """Encode a list-bodied multipart reply as messages of at most ``limit`` bytes.

    Entries are never split; all parts but the last carry OFPMPF_REPLY_MORE; an empty
    reply is one message.  Any other message comes back as ``[encode(msg)]``.
    """
    if not isinstance(msg, LISTED_REPLIES):
        return [encode(msg)]
    try:
        return mp.encode_reply_parts(msg, OFP_VERSION, limit)
    except struct.error as exc:
        raise ValueError(f"{type(msg).__name__}: {exc}") from None
