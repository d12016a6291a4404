"""OF1.0 wire codec for action lists.

Sits under the OF1.0 message codec (``v10``), which hands it the action list of a
packet-out, flow mod or flow stats entry.  It owns the OFPAT_* numbers and layouts of
OpenFlow 1.0.0 (section 5.2.4) and maps them onto the version-independent model of
``openflow.actions``:

====================  =========================================================
OF1.0 action           model
====================  =========================================================
OUTPUT                 Output (16-bit ports widened with ``port_from_v10``)
SET_VLAN_VID / _PCP    SetVlanVid / SetVlanPcp (they push a tag when none)
STRIP_VLAN             PopVlan
SET_DL_SRC / _DST      SetField('eth_src' / 'eth_dst')
SET_NW_SRC / _DST      SetField('ipv4_src' / 'ipv4_dst')
SET_NW_TOS             SetField('ip_dscp', tos >> 2)
SET_TP_SRC / _DST      SetTpSrc / SetTpDst (TCP or UDP, whichever the packet has)
ENQUEUE                Enqueue
====================  =========================================================

Validation follows Open vSwitch (lib/ofp-actions.c): vendor actions ->
OFPBAC_BAD_VENDOR; unknown types -> OFPBAC_BAD_TYPE; a length shorter than 8, not a
multiple of 8, past the list or not the type's size -> OFPBAC_BAD_LEN; a VID over
0xfff, a PCP over 7 or a TOS with its ECN bits set -> OFPBAC_BAD_ARGUMENT; output to
OFPP_NONE or to a number from OFPP_MAX up that names no port, and enqueue to
anything from OFPP_MAX up but IN_PORT and LOCAL -> OFPBAC_BAD_OUT_PORT.  Port 0 is
refused for both as well (ports are numbered from 1; OVS lets it through).

Encoding is the inverse and raises ValueError for what OF1.0 cannot say: OF1.3-only
actions (groups, MPLS, PBB, TTLs, push_vlan, set_queue) and set-field of any field
but eth_src, eth_dst, ipv4_src, ipv4_dst and ip_dscp.  In particular
SetField('vlan_vid'/'vlan_pcp') only rewrites an existing tag, while OF1.0's
set_vlan_vid/pcp push one, and SetField('tcp_src') etc. are not set_tp_src on
other protocols; OVS approximates these, we refuse them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from openflow.actions import (
    Action,
    Enqueue,
    Output,
    PopVlan,
    SetField,
    SetTpDst,
    SetTpSrc,
    SetVlanPcp,
    SetVlanVid,
)
from openflow.consts import (
    OFPP_ANY,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_MAX,
    port_from_v10,
    port_to_v10,
)
from openflow.errors import CodecError, Err

# enum ofp_action_type (OF1.0.0 section 5.2.4)
OFPAT_OUTPUT = 0
OFPAT_SET_VLAN_VID = 1
OFPAT_SET_VLAN_PCP = 2
OFPAT_STRIP_VLAN = 3
OFPAT_SET_DL_SRC = 4
OFPAT_SET_DL_DST = 5
OFPAT_SET_NW_SRC = 6
OFPAT_SET_NW_DST = 7
OFPAT_SET_NW_TOS = 8
OFPAT_SET_TP_SRC = 9
OFPAT_SET_TP_DST = 10
OFPAT_ENQUEUE = 11
OFPAT_VENDOR = 0xFFFF

ACTION_TYPES: dict[type, int] = {
    Output: OFPAT_OUTPUT,
    SetVlanVid: OFPAT_SET_VLAN_VID,
    SetVlanPcp: OFPAT_SET_VLAN_PCP,
    PopVlan: OFPAT_STRIP_VLAN,
    SetTpSrc: OFPAT_SET_TP_SRC,
    SetTpDst: OFPAT_SET_TP_DST,
    Enqueue: OFPAT_ENQUEUE,
}
# SetField is five OF1.0 actions, one per field (for the features-reply bitmap).
SET_FIELD_TYPES: dict[str, int] = {
    "eth_src": OFPAT_SET_DL_SRC,
    "eth_dst": OFPAT_SET_DL_DST,
    "ipv4_src": OFPAT_SET_NW_SRC,
    "ipv4_dst": OFPAT_SET_NW_DST,
    "ip_dscp": OFPAT_SET_NW_TOS,
}

_HEADER = struct.Struct("!HH")  # type, len
_ACTION_MIN = 8
_OUTPUT = struct.Struct("!HHHH")  # port, max_len
_U16 = struct.Struct("!HHH2x")  # vlan_vid, tp_port
_U8 = struct.Struct("!HHB3x")  # vlan_pcp, nw_tos
_EMPTY = struct.Struct("!HH4x")
_DL_ADDR = struct.Struct("!HH6s6x")
_NW_ADDR = struct.Struct("!HHI")
_ENQUEUE = struct.Struct("!HHH6xI")  # port, queue_id

_MAC_SIZE = 6
_VLAN_VID_MAX = 0xFFF
_VLAN_PCP_MAX = 7
_IP_ECN_MASK = 0x03
_IP_DSCP_MAX = 0x3F

Buffer = bytes | bytearray | memoryview
Decoder = Callable[[Buffer, int], Action]


def _decode_output(buf: Buffer, offset: int) -> Action:
    _, _, port, max_len = _OUTPUT.unpack_from(buf, offset)
    wide = port_from_v10(port)
    if port == 0 or wide == OFPP_ANY or OFPP_MAX <= wide < OFPP_IN_PORT:
        raise CodecError(Err.OFPBAC_BAD_OUT_PORT, f"output to port {port:#x}")
    return Output(wide, max_len)


def _decode_enqueue(buf: Buffer, offset: int) -> Action:
    _, _, port, queue_id = _ENQUEUE.unpack_from(buf, offset)
    wide = port_from_v10(port)
    if port == 0 or (wide >= OFPP_MAX and wide not in (OFPP_IN_PORT, OFPP_LOCAL)):
        raise CodecError(Err.OFPBAC_BAD_OUT_PORT, f"enqueue to port {port:#x}")
    return Enqueue(wide, queue_id)


def _decode_set_vlan_vid(buf: Buffer, offset: int) -> Action:
    vid = _U16.unpack_from(buf, offset)[2]
    if vid > _VLAN_VID_MAX:
        raise CodecError(Err.OFPBAC_BAD_ARGUMENT, f"set_vlan_vid {vid:#x}")
    return SetVlanVid(vid)


def _decode_set_vlan_pcp(buf: Buffer, offset: int) -> Action:
    pcp = _U8.unpack_from(buf, offset)[2]
    if pcp > _VLAN_PCP_MAX:
        raise CodecError(Err.OFPBAC_BAD_ARGUMENT, f"set_vlan_pcp {pcp}")
    return SetVlanPcp(pcp)


def _decode_strip_vlan(buf: Buffer, offset: int) -> Action:
    return PopVlan()


def _dl_addr_decoder(field: str) -> Decoder:
    def decode(buf: Buffer, offset: int) -> Action:
        return SetField(field, int.from_bytes(_DL_ADDR.unpack_from(buf, offset)[2], "big"))

    return decode


def _nw_addr_decoder(field: str) -> Decoder:
    def decode(buf: Buffer, offset: int) -> Action:
        return SetField(field, _NW_ADDR.unpack_from(buf, offset)[2])

    return decode


def _decode_set_nw_tos(buf: Buffer, offset: int) -> Action:
    tos = _U8.unpack_from(buf, offset)[2]
    if tos & _IP_ECN_MASK:
        raise CodecError(Err.OFPBAC_BAD_ARGUMENT, f"set_nw_tos {tos:#x} touches the ECN bits")
    return SetField("ip_dscp", tos >> 2)


def _decode_set_tp_src(buf: Buffer, offset: int) -> Action:
    return SetTpSrc(_U16.unpack_from(buf, offset)[2])


def _decode_set_tp_dst(buf: Buffer, offset: int) -> Action:
    return SetTpDst(_U16.unpack_from(buf, offset)[2])


# type -> (length, decoder); every OF1.0 action has one fixed length.
_DECODERS: dict[int, tuple[int, Decoder]] = {
    OFPAT_OUTPUT: (_OUTPUT.size, _decode_output),
    OFPAT_SET_VLAN_VID: (_U16.size, _decode_set_vlan_vid),
    OFPAT_SET_VLAN_PCP: (_U8.size, _decode_set_vlan_pcp),
    OFPAT_STRIP_VLAN: (_EMPTY.size, _decode_strip_vlan),
    OFPAT_SET_DL_SRC: (_DL_ADDR.size, _dl_addr_decoder("eth_src")),
    OFPAT_SET_DL_DST: (_DL_ADDR.size, _dl_addr_decoder("eth_dst")),
    OFPAT_SET_NW_SRC: (_NW_ADDR.size, _nw_addr_decoder("ipv4_src")),
    OFPAT_SET_NW_DST: (_NW_ADDR.size, _nw_addr_decoder("ipv4_dst")),
    OFPAT_SET_NW_TOS: (_U8.size, _decode_set_nw_tos),
    OFPAT_SET_TP_SRC: (_U16.size, _decode_set_tp_src),
    OFPAT_SET_TP_DST: (_U16.size, _decode_set_tp_dst),
    OFPAT_ENQUEUE: (_ENQUEUE.size, _decode_enqueue),
}


def decode_actions(buf: Buffer, offset: int, end: int) -> tuple[Action, ...]:
    """Decode the OF1.0 action list in ``buf[offset:end]``."""
    if offset < 0 or end < offset or end > len(buf):
        raise CodecError(Err.OFPBAC_BAD_LEN, f"list [{offset}, {end}) outside a {len(buf)}-byte buffer")
    actions: list[Action] = []
    pos = offset
    while pos < end:
        if end - pos < _ACTION_MIN:
            raise CodecError(Err.OFPBAC_BAD_LEN, f"{end - pos} bytes left for an action")
        action_type, length = _HEADER.unpack_from(buf, pos)
        if action_type == OFPAT_VENDOR:
            raise CodecError(Err.OFPBAC_BAD_VENDOR, "vendor action")
        entry = _DECODERS.get(action_type)
        if entry is None:
            raise CodecError(Err.OFPBAC_BAD_TYPE, f"action type {action_type}")
        size, decode = entry
        if length != size or length > end - pos:
            raise CodecError(Err.OFPBAC_BAD_LEN, f"action type {action_type} with length {length}")
        actions.append(decode(buf, pos))
        pos += length
    return tuple(actions)


# -- encoding ------------------------------------------------------------------


def _narrow(port: int, what: str) -> int:
    narrow = port_to_v10(port) if isinstance(port, int) and 0 <= port <= 0xFFFFFFFF else None
    if narrow is None:
        raise ValueError(f"{what} port {port!r} has no OpenFlow 1.0 number")
    return narrow


def _encode_output(action: Output) -> bytes:
    return _OUTPUT.pack(OFPAT_OUTPUT, _OUTPUT.size, _narrow(action.port, "output"), action.max_len)


def _encode_enqueue(action: Enqueue) -> bytes:
    port = _narrow(action.port, "enqueue")
    return _ENQUEUE.pack(OFPAT_ENQUEUE, _ENQUEUE.size, port, action.queue_id)


def _encode_set_vlan_vid(action: SetVlanVid) -> bytes:
    if not 0 <= action.vlan_vid <= _VLAN_VID_MAX:
        raise ValueError(f"set_vlan_vid {action.vlan_vid!r} is not a 12-bit VID")
    return _U16.pack(OFPAT_SET_VLAN_VID, _U16.size, action.vlan_vid)


def _encode_set_vlan_pcp(action: SetVlanPcp) -> bytes:
    if not 0 <= action.vlan_pcp <= _VLAN_PCP_MAX:
        raise ValueError(f"set_vlan_pcp {action.vlan_pcp!r} is not a 3-bit PCP")
    return _U8.pack(OFPAT_SET_VLAN_PCP, _U8.size, action.vlan_pcp)


def _encode_set_field(action: SetField) -> bytes:
    field, value = action.field, action.value
    action_type = SET_FIELD_TYPES.get(field)
    if action_type is None:
        raise ValueError(f"set_field {field} has no OpenFlow 1.0 form")
    if field in ("eth_src", "eth_dst"):
        if not 0 <= value < 1 << 48:
            raise ValueError(f"{field} {value!r} is not a MAC address")
        return _DL_ADDR.pack(action_type, _DL_ADDR.size, value.to_bytes(_MAC_SIZE, "big"))
    if field == "ip_dscp":
        if not 0 <= value <= _IP_DSCP_MAX:
            raise ValueError(f"ip_dscp {value!r} is not a 6-bit DSCP")
        return _U8.pack(OFPAT_SET_NW_TOS, _U8.size, value << 2)
    return _NW_ADDR.pack(action_type, _NW_ADDR.size, value)


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Output: _encode_output,
    SetVlanVid: _encode_set_vlan_vid,
    SetVlanPcp: _encode_set_vlan_pcp,
    PopVlan: lambda a: _EMPTY.pack(OFPAT_STRIP_VLAN, _EMPTY.size),
    SetField: _encode_set_field,
    SetTpSrc: lambda a: _U16.pack(OFPAT_SET_TP_SRC, _U16.size, a.port),
    SetTpDst: lambda a: _U16.pack(OFPAT_SET_TP_DST, _U16.size, a.port),
    Enqueue: _encode_enqueue,
}


def encode_action(action: Action) -> bytes:
    """One action's OF1.0 bytes; ValueError if OF1.0 cannot express it."""
    encode = _ENCODERS.get(type(action))
    if encode is None:
        raise ValueError(f"{type(action).__name__} has no OpenFlow 1.0 form")
    try:
        return encode(action)
    except (struct.error, TypeError, OverflowError) as exc:
        raise ValueError(f"{action!r} does not fit OpenFlow 1.0: {exc}") from None


def encode_actions(actions: Iterable[Action]) -> bytes:
    """The OF1.0 wire form of an action list; ValueError if OF1.0 cannot express it."""
    return b"".join([encode_action(action) for action in actions])
