"""OF1.3 wire codec for action lists and instruction lists.

Sits under the OF1.3 message codecs (``v13``, ``v13_multipart``): they hand it the
byte range of an action list (packet-out, group bucket) or of an instruction list
(flow mod, flow stats) and get model objects from ``openflow.actions`` back, and
the reverse.  It owns the OFPAT_*/OFPIT_* numbers and layouts of OpenFlow 1.3.5
(section 7.2.4 and 7.2.5) and the validation a switch does while parsing them.

Validation follows Open vSwitch (lib/ofp-actions.c, ``ofpact_pull_raw`` and the
``decode_OFPAT_RAW*`` functions) where the spec leaves a choice:

* an action's type is looked at first (experimenter -> OFPBAC_BAD_EXPERIMENTER,
  unknown -> OFPBAC_BAD_TYPE), then its length (shorter than 8, not a multiple of 8,
  past the list, or not the type's size -> OFPBAC_BAD_LEN);
* output to OFPP_ANY, OFPP_MAX or the unnamed ports between OFPP_MAX and
  OFPP_IN_PORT -> OFPBAC_BAD_OUT_PORT; unlike OVS also to port 0 (ports are
  numbered from 1; OVS lets it through and drops at translation);
* push_vlan other than 0x8100/0x88a8, push_mpls other than 0x8847/0x8848 and
  push_pbb other than 0x88e7 -> OFPBAC_BAD_ARGUMENT;
* set_field: an OXM field OVS does not know either (in_phy_port, ipv6_exthdr) or of
  another class -> OFPBAC_BAD_SET_TYPE; wrong ``oxm_length`` or a TLV past the
  action -> OFPBAC_BAD_SET_LEN; a masked TLV, non-zero bytes after the TLV, a
  read-only field (in_port), a value too wide for the field or a vlan_vid without
  OFPVID_PRESENT -> OFPBAC_BAD_SET_ARGUMENT.  (OVS answers a masked TLV with OF1.5's
  BAD_SET_MASK, sent on OF1.3 as an ONF experimenter error; ``errors`` has no such
  member.)  Unlike OVS, eth_type, ip_proto and mpls_bos may be set, as OF1.3's
  table 12 allows (OVS refuses them as read-only: its flow key cannot follow), and
  pbb_isid, since the model has the PBB actions (OVS has neither);
* instructions: lengths first (OFPBIC_BAD_LEN), then type (experimenter ->
  OFPBIC_BAD_EXPERIMENTER, unknown -> OFPBIC_UNKNOWN_INST), then a repeated type
  (OFPBIC_DUP_INST) for the whole list, and only then the contents: goto_table
  0xff -> OFPBIC_BAD_TABLE_ID, nested action errors as they are.  write_metadata
  bits outside the mask are kept as sent (OVS accepts them too).

Instruction lists keep their wire order; the pipeline applies them in the spec's
order.  The OF1.0-only action classes (SetVlanVid, SetVlanPcp, SetTpSrc, SetTpDst,
Enqueue) have no OF1.3 form: encoding them raises ValueError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from openflow import oxm
from openflow.actions import (
    Action,
    ApplyActions,
    ClearActions,
    CopyTtlIn,
    CopyTtlOut,
    DecMplsTtl,
    DecNwTtl,
    GotoTable,
    Group,
    Instruction,
    Meter,
    Output,
    PopMpls,
    PopPbb,
    PopVlan,
    PushMpls,
    PushPbb,
    PushVlan,
    SetField,
    SetMplsTtl,
    SetNwTtl,
    SetQueue,
    WriteActions,
    WriteMetadata,
)
from openflow.consts import OFPP_ANY, OFPP_IN_PORT, OFPP_MAX, OFPTT_ALL, OFPVID_PRESENT
from openflow.errors import CodecError, Err
from openflow.match import MatchField

# enum ofp_action_type (OF1.3.5 section 7.2.5)
OFPAT_OUTPUT = 0
OFPAT_COPY_TTL_OUT = 11
OFPAT_COPY_TTL_IN = 12
OFPAT_SET_MPLS_TTL = 15
OFPAT_DEC_MPLS_TTL = 16
OFPAT_PUSH_VLAN = 17
OFPAT_POP_VLAN = 18
OFPAT_PUSH_MPLS = 19
OFPAT_POP_MPLS = 20
OFPAT_SET_QUEUE = 21
OFPAT_GROUP = 22
OFPAT_SET_NW_TTL = 23
OFPAT_DEC_NW_TTL = 24
OFPAT_SET_FIELD = 25
OFPAT_PUSH_PBB = 26
OFPAT_POP_PBB = 27
OFPAT_EXPERIMENTER = 0xFFFF

# enum ofp_instruction_type (OF1.3.5 section 7.2.4)
OFPIT_GOTO_TABLE = 1
OFPIT_WRITE_METADATA = 2
OFPIT_WRITE_ACTIONS = 3
OFPIT_APPLY_ACTIONS = 4
OFPIT_CLEAR_ACTIONS = 5
OFPIT_METER = 6
OFPIT_EXPERIMENTER = 0xFFFF

ETH_TYPE_VLAN = (0x8100, 0x88A8)  # 802.1Q, 802.1ad
ETH_TYPE_MPLS = (0x8847, 0x8848)  # unicast, multicast
ETH_TYPE_PBB = (0x88E7,)  # 802.1ah

ACTION_TYPES: dict[type, int] = {
    Output: OFPAT_OUTPUT,
    CopyTtlOut: OFPAT_COPY_TTL_OUT,
    CopyTtlIn: OFPAT_COPY_TTL_IN,
    SetMplsTtl: OFPAT_SET_MPLS_TTL,
    DecMplsTtl: OFPAT_DEC_MPLS_TTL,
    PushVlan: OFPAT_PUSH_VLAN,
    PopVlan: OFPAT_POP_VLAN,
    PushMpls: OFPAT_PUSH_MPLS,
    PopMpls: OFPAT_POP_MPLS,
    SetQueue: OFPAT_SET_QUEUE,
    Group: OFPAT_GROUP,
    SetNwTtl: OFPAT_SET_NW_TTL,
    DecNwTtl: OFPAT_DEC_NW_TTL,
    SetField: OFPAT_SET_FIELD,
    PushPbb: OFPAT_PUSH_PBB,
    PopPbb: OFPAT_POP_PBB,
}

INSTRUCTION_TYPES: dict[type, int] = {
    GotoTable: OFPIT_GOTO_TABLE,
    WriteMetadata: OFPIT_WRITE_METADATA,
    WriteActions: OFPIT_WRITE_ACTIONS,
    ApplyActions: OFPIT_APPLY_ACTIONS,
    ClearActions: OFPIT_CLEAR_ACTIONS,
    Meter: OFPIT_METER,
}

# Fields set_field may write (OVS's "read/write" OXM fields, plus pbb_isid), and the
# known fields it may not: read-only ones are a bad argument, the rest a bad type.
SETTABLE_FIELDS = frozenset(
    {
        "metadata", "eth_dst", "eth_src", "vlan_vid", "vlan_pcp", "ip_dscp", "ip_ecn",
        "ipv4_src", "ipv4_dst", "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src",
        "sctp_dst", "icmpv4_type", "icmpv4_code", "arp_op", "arp_spa", "arp_tpa",
        "arp_sha", "arp_tha", "ipv6_src", "ipv6_dst", "ipv6_flabel", "icmpv6_type",
        "icmpv6_code", "ipv6_nd_target", "ipv6_nd_sll", "ipv6_nd_tll", "mpls_label",
        "mpls_tc", "mpls_bos", "pbb_isid", "tunnel_id", "eth_type", "ip_proto",
    }
)
READ_ONLY_FIELDS = frozenset({"in_port"})

# Layouts.  Every action and instruction starts with (type u16, len u16).
_HEADER = struct.Struct("!HH")
_HEADER_SIZE = 8  # the smallest action/instruction (header + 4 bytes)
_OUTPUT = struct.Struct("!HHIH6x")  # port, max_len
_EMPTY = struct.Struct("!HH4x")
_U32 = struct.Struct("!HHI")  # group_id, queue_id, meter_id
_U8 = struct.Struct("!HHB3x")  # ttl, table_id
_ETHERTYPE = struct.Struct("!HHH2x")
_SET_FIELD_HEADER = _HEADER  # followed by one OXM TLV and zero padding to 8
_OXM_HEADER = struct.Struct("!I")
_WRITE_METADATA = struct.Struct("!HH4xQQ")  # metadata, metadata_mask
_INST_ACTIONS = _EMPTY  # write/apply actions header, actions follow

_OXM_CLASS_BASIC = oxm.OFPXMC_OPENFLOW_BASIC


# -- action decoders: (buf, offset, length) -> Action ------------------------------

Buffer = bytes | bytearray | memoryview
Decoder = Callable[[Buffer, int, int], Action]


def _check_output_port(port: int) -> None:
    if port == 0 or port == OFPP_ANY or OFPP_MAX <= port < OFPP_IN_PORT:
        raise CodecError(Err.OFPBAC_BAD_OUT_PORT, f"output to port {port:#x}")


def _decode_output(buf: Buffer, offset: int, length: int) -> Action:
    _, _, port, max_len = _OUTPUT.unpack_from(buf, offset)
    _check_output_port(port)
    return Output(port, max_len)


def _decode_group(buf: Buffer, offset: int, length: int) -> Action:
    return Group(_U32.unpack_from(buf, offset)[2])


def _decode_set_queue(buf: Buffer, offset: int, length: int) -> Action:
    return SetQueue(_U32.unpack_from(buf, offset)[2])


def _decode_set_mpls_ttl(buf: Buffer, offset: int, length: int) -> Action:
    return SetMplsTtl(_U8.unpack_from(buf, offset)[2])


def _decode_set_nw_ttl(buf: Buffer, offset: int, length: int) -> Action:
    return SetNwTtl(_U8.unpack_from(buf, offset)[2])


def _ethertype_decoder(cls: type, allowed: tuple[int, ...] | None) -> Decoder:
    def decode(buf: Buffer, offset: int, length: int) -> Action:
        ethertype = _ETHERTYPE.unpack_from(buf, offset)[2]
        if allowed is not None and ethertype not in allowed:
            raise CodecError(Err.OFPBAC_BAD_ARGUMENT, f"{cls.__name__} ethertype {ethertype:#06x}")
        action: Action = cls(ethertype)
        return action

    return decode


def _empty_decoder(cls: type) -> Decoder:
    instance: Action = cls()  # frozen and equal to any other: share one

    def decode(buf: Buffer, offset: int, length: int) -> Action:
        return instance

    return decode


def _decode_set_field(buf: Buffer, offset: int, length: int) -> Action:
    end = offset + length
    pos = offset + _SET_FIELD_HEADER.size
    (header,) = _OXM_HEADER.unpack_from(buf, pos)  # length >= 8 was checked
    oxm_class = header >> 16
    hasmask = bool(header & 0x100)
    oxm_length = header & 0xFF
    info = oxm.FIELD_BY_CODE.get(header >> 9 & 0x7F) if oxm_class == _OXM_CLASS_BASIC else None
    if info is None or (info.name not in SETTABLE_FIELDS and info.name not in READ_ONLY_FIELDS):
        raise CodecError(Err.OFPBAC_BAD_SET_TYPE, f"set_field of OXM {header:#010x}")
    if oxm_length != (info.size * 2 if hasmask else info.size):
        raise CodecError(Err.OFPBAC_BAD_SET_LEN, f"set_field {info.name} with oxm_length {oxm_length}")
    tlv_end = pos + 4 + oxm_length
    if tlv_end > end:
        raise CodecError(Err.OFPBAC_BAD_SET_LEN, f"set_field {info.name} runs past the action")
    if hasmask:
        raise CodecError(Err.OFPBAC_BAD_SET_ARGUMENT, f"masked set_field {info.name}")
    if any(buf[tlv_end:end]):
        raise CodecError(Err.OFPBAC_BAD_SET_ARGUMENT, f"set_field {info.name}: non-zero padding")
    if info.name in READ_ONLY_FIELDS:
        raise CodecError(Err.OFPBAC_BAD_SET_ARGUMENT, f"set_field of read-only {info.name}")
    try:
        field, _ = oxm.decode_oxm_tlv(buf, pos, tlv_end)
    except CodecError as exc:  # only a value wider than the field is left to find
        raise CodecError(Err.OFPBAC_BAD_SET_ARGUMENT, f"set_field {info.name}: {exc}") from None
    value = field.value
    if info.name == "vlan_vid" and not value & OFPVID_PRESENT:
        raise CodecError(Err.OFPBAC_BAD_SET_ARGUMENT, "set_field vlan_vid without OFPVID_PRESENT")
    return SetField(info.name, value)


# type -> (exact length or 0 for "any multiple of 8 from 8 up", decoder)
_ACTION_DECODERS: dict[int, tuple[int, Decoder]] = {
    OFPAT_OUTPUT: (_OUTPUT.size, _decode_output),
    OFPAT_COPY_TTL_OUT: (_EMPTY.size, _empty_decoder(CopyTtlOut)),
    OFPAT_COPY_TTL_IN: (_EMPTY.size, _empty_decoder(CopyTtlIn)),
    OFPAT_SET_MPLS_TTL: (_U8.size, _decode_set_mpls_ttl),
    OFPAT_DEC_MPLS_TTL: (_EMPTY.size, _empty_decoder(DecMplsTtl)),
    OFPAT_PUSH_VLAN: (_ETHERTYPE.size, _ethertype_decoder(PushVlan, ETH_TYPE_VLAN)),
    OFPAT_POP_VLAN: (_EMPTY.size, _empty_decoder(PopVlan)),
    OFPAT_PUSH_MPLS: (_ETHERTYPE.size, _ethertype_decoder(PushMpls, ETH_TYPE_MPLS)),
    OFPAT_POP_MPLS: (_ETHERTYPE.size, _ethertype_decoder(PopMpls, None)),
    OFPAT_SET_QUEUE: (_U32.size, _decode_set_queue),
    OFPAT_GROUP: (_U32.size, _decode_group),
    OFPAT_SET_NW_TTL: (_U8.size, _decode_set_nw_ttl),
    OFPAT_DEC_NW_TTL: (_EMPTY.size, _empty_decoder(DecNwTtl)),
    OFPAT_SET_FIELD: (0, _decode_set_field),
    OFPAT_PUSH_PBB: (_ETHERTYPE.size, _ethertype_decoder(PushPbb, ETH_TYPE_PBB)),
    OFPAT_POP_PBB: (_EMPTY.size, _empty_decoder(PopPbb)),
}


def _check_range(buf: Buffer, offset: int, end: int, err: Err) -> None:
    if offset < 0 or end < offset or end > len(buf):
        raise CodecError(err, f"list [{offset}, {end}) outside a {len(buf)}-byte buffer")


def decode_actions(buf: Buffer, offset: int, end: int) -> tuple[Action, ...]:
    """Decode the OF1.3 action list in ``buf[offset:end]``."""
    _check_range(buf, offset, end, Err.OFPBAC_BAD_LEN)
    actions: list[Action] = []
    pos = offset
    while pos < end:
        if end - pos < _HEADER_SIZE:
            raise CodecError(Err.OFPBAC_BAD_LEN, f"{end - pos} bytes left for an action")
        action_type, length = _HEADER.unpack_from(buf, pos)
        if action_type == OFPAT_EXPERIMENTER:
            raise CodecError(Err.OFPBAC_BAD_EXPERIMENTER, "experimenter action")
        entry = _ACTION_DECODERS.get(action_type)
        if entry is None:
            raise CodecError(Err.OFPBAC_BAD_TYPE, f"action type {action_type}")
        size, decode = entry
        if length < _HEADER_SIZE or length % 8 or length > end - pos or (size and length != size):
            raise CodecError(Err.OFPBAC_BAD_LEN, f"action type {action_type} with length {length}")
        actions.append(decode(buf, pos, length))
        pos += length
    return tuple(actions)


# -- action encoders: Action -> bytes ----------------------------------------------


def _encode_set_field(action: SetField) -> bytes:
    info = oxm.FIELD_BY_NAME.get(action.field)
    if info is None:
        raise ValueError(f"set_field of unknown field {action.field!r}")
    value = action.value
    if not isinstance(value, int) or not 0 <= value <= info.full_mask:
        raise ValueError(f"set_field {action.field}: value {value!r} does not fit {info.bits} bits")
    tlv = oxm.encode_oxm_tlv(MatchField(action.field, value))
    length = _SET_FIELD_HEADER.size + len(tlv)
    padding = -length % 8
    return _SET_FIELD_HEADER.pack(OFPAT_SET_FIELD, length + padding) + tlv + bytes(padding)


_ACTION_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Output: lambda a: _OUTPUT.pack(OFPAT_OUTPUT, _OUTPUT.size, a.port, a.max_len),
    CopyTtlOut: lambda a: _EMPTY.pack(OFPAT_COPY_TTL_OUT, _EMPTY.size),
    CopyTtlIn: lambda a: _EMPTY.pack(OFPAT_COPY_TTL_IN, _EMPTY.size),
    SetMplsTtl: lambda a: _U8.pack(OFPAT_SET_MPLS_TTL, _U8.size, a.ttl),
    DecMplsTtl: lambda a: _EMPTY.pack(OFPAT_DEC_MPLS_TTL, _EMPTY.size),
    PushVlan: lambda a: _ETHERTYPE.pack(OFPAT_PUSH_VLAN, _ETHERTYPE.size, a.ethertype),
    PopVlan: lambda a: _EMPTY.pack(OFPAT_POP_VLAN, _EMPTY.size),
    PushMpls: lambda a: _ETHERTYPE.pack(OFPAT_PUSH_MPLS, _ETHERTYPE.size, a.ethertype),
    PopMpls: lambda a: _ETHERTYPE.pack(OFPAT_POP_MPLS, _ETHERTYPE.size, a.ethertype),
    SetQueue: lambda a: _U32.pack(OFPAT_SET_QUEUE, _U32.size, a.queue_id),
    Group: lambda a: _U32.pack(OFPAT_GROUP, _U32.size, a.group_id),
    SetNwTtl: lambda a: _U8.pack(OFPAT_SET_NW_TTL, _U8.size, a.ttl),
    DecNwTtl: lambda a: _EMPTY.pack(OFPAT_DEC_NW_TTL, _EMPTY.size),
    SetField: _encode_set_field,
    PushPbb: lambda a: _ETHERTYPE.pack(OFPAT_PUSH_PBB, _ETHERTYPE.size, a.ethertype),
    PopPbb: lambda a: _EMPTY.pack(OFPAT_POP_PBB, _EMPTY.size),
}


def encode_action(action: Action) -> bytes:
    """One action's OF1.3 bytes; ValueError if OF1.3 cannot express it."""
    encode = _ACTION_ENCODERS.get(type(action))
    if encode is None:
        raise ValueError(f"{type(action).__name__} has no OpenFlow 1.3 form")
    try:
        return encode(action)
    except (struct.error, TypeError, OverflowError) as exc:
        raise ValueError(f"{action!r} does not fit OpenFlow 1.3: {exc}") from None


def encode_actions(actions: Iterable[Action]) -> bytes:
    """The OF1.3 wire form of an action list; ValueError if OF1.3 cannot express it."""
    return b"".join([encode_action(action) for action in actions])


# -- instructions ------------------------------------------------------------------

# type -> (exact length, or 0 for "8 or more": the actions instructions)
_INSTRUCTION_SIZES: dict[int, int] = {
    OFPIT_GOTO_TABLE: _U8.size,
    OFPIT_WRITE_METADATA: _WRITE_METADATA.size,
    OFPIT_WRITE_ACTIONS: 0,
    OFPIT_APPLY_ACTIONS: 0,
    OFPIT_CLEAR_ACTIONS: _EMPTY.size,
    OFPIT_METER: _U32.size,
}


def _decode_instruction(buf: Buffer, pos: int, inst_type: int, length: int) -> Instruction:
    if inst_type == OFPIT_APPLY_ACTIONS:
        return ApplyActions(decode_actions(buf, pos + _INST_ACTIONS.size, pos + length))
    if inst_type == OFPIT_WRITE_ACTIONS:
        return WriteActions(decode_actions(buf, pos + _INST_ACTIONS.size, pos + length))
    if inst_type == OFPIT_GOTO_TABLE:
        table_id = _U8.unpack_from(buf, pos)[2]
        if table_id == OFPTT_ALL:
            raise CodecError(Err.OFPBIC_BAD_TABLE_ID, "goto_table 0xff")
        return GotoTable(table_id)
    if inst_type == OFPIT_WRITE_METADATA:
        _, _, metadata, mask = _WRITE_METADATA.unpack_from(buf, pos)
        return WriteMetadata(metadata, mask)
    if inst_type == OFPIT_METER:
        return Meter(_U32.unpack_from(buf, pos)[2])
    return ClearActions()


def decode_instructions(buf: Buffer, offset: int, end: int) -> tuple[Instruction, ...]:
    """Decode the OF1.3 instruction list in ``buf[offset:end]``."""
    _check_range(buf, offset, end, Err.OFPBIC_BAD_LEN)
    # Pass 1: framing, types and duplicates for the whole list (as OVS does),
    # so that a repeated instruction wins over an error inside its actions.
    found: list[tuple[int, int, int]] = []
    seen: set[int] = set()
    pos = offset
    while pos < end:
        if end - pos < _HEADER_SIZE:
            raise CodecError(Err.OFPBIC_BAD_LEN, f"{end - pos} bytes left for an instruction")
        inst_type, length = _HEADER.unpack_from(buf, pos)
        if length < _HEADER_SIZE or length % 8 or length > end - pos:
            raise CodecError(Err.OFPBIC_BAD_LEN, f"instruction type {inst_type} with length {length}")
        if inst_type == OFPIT_EXPERIMENTER:
            raise CodecError(Err.OFPBIC_BAD_EXPERIMENTER, "experimenter instruction")
        size = _INSTRUCTION_SIZES.get(inst_type)
        if size is None:
            raise CodecError(Err.OFPBIC_UNKNOWN_INST, f"instruction type {inst_type}")
        if size and length != size:
            raise CodecError(Err.OFPBIC_BAD_LEN, f"instruction type {inst_type} with length {length}")
        if inst_type in seen:
            raise CodecError(Err.OFPBIC_DUP_INST, f"instruction type {inst_type} twice")
        seen.add(inst_type)
        found.append((pos, inst_type, length))
        pos += length
    # Pass 2: contents, in wire order.
    return tuple(_decode_instruction(buf, p, t, n) for p, t, n in found)


def _encode_actions_instruction(inst_type: int, actions: Iterable[Action]) -> bytes:
    body = encode_actions(actions)
    length = _INST_ACTIONS.size + len(body)
    if length > 0xFFFF:
        raise ValueError(f"instruction of {length} bytes (> 65535)")
    return _INST_ACTIONS.pack(inst_type, length) + body


_INSTRUCTION_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    GotoTable: lambda i: _U8.pack(OFPIT_GOTO_TABLE, _U8.size, i.table_id),
    WriteMetadata: lambda i: _WRITE_METADATA.pack(
        OFPIT_WRITE_METADATA, _WRITE_METADATA.size, i.metadata, i.metadata_mask
    ),
    WriteActions: lambda i: _encode_actions_instruction(OFPIT_WRITE_ACTIONS, i.actions),
    ApplyActions: lambda i: _encode_actions_instruction(OFPIT_APPLY_ACTIONS, i.actions),
    ClearActions: lambda i: _EMPTY.pack(OFPIT_CLEAR_ACTIONS, _EMPTY.size),
    Meter: lambda i: _U32.pack(OFPIT_METER, _U32.size, i.meter_id),
}


def encode_instructions(instructions: Iterable[Instruction]) -> bytes:
    """The OF1.3 wire form of an instruction list (in the given order)."""
    out = []
    for inst in instructions:
        encode = _INSTRUCTION_ENCODERS.get(type(inst))
        if encode is None:
            raise ValueError(f"{type(inst).__name__} is not an OpenFlow 1.3 instruction")
        try:
            out.append(encode(inst))
        except (struct.error, TypeError, OverflowError) as exc:
            raise ValueError(f"{inst!r} does not fit OpenFlow 1.3: {exc}") from None
    return b"".join(out)
