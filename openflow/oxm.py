"""OXM: the OpenFlow-basic field table as data, and the OF1.3 match/TLV codec.

Sits between the match model (``openflow.match``) and the OF1.3 codec, which calls
``decode_oxm_match``/``encode_oxm_match`` for ``struct ofp_match`` and the TLV helpers
for set-field actions and table-features properties.  Owns ``OXM_FIELDS`` (one row per
OXM_OF_* field of OpenFlow 1.3.5: code, wire size, significant bits, maskable,
prerequisites) and the validation of matches arriving on the wire.

Decoding follows Open vSwitch (lib/nx-match.c) where the spec leaves a choice:
value bits set under a 0 mask bit -> OFPBMC_BAD_WILDCARDS; a mask on a field the spec
calls non-maskable is accepted when it is all ones (exact) or all zeros (wildcard),
otherwise OFPBMC_BAD_MASK; unknown fields and non-basic classes (NXM_0, NXM_1,
experimenter) -> OFPBMC_BAD_FIELD.  Two deliberate differences: a known field with
the wrong ``oxm_length`` is OFPBMC_BAD_LEN (OVS reports BAD_FIELD), and
prerequisites may be satisfied by TLVs in any order (OVS wants them earlier).
Prerequisites follow the spec's table, with OVS's stricter reading for ICMP
(icmpv4_* needs IPv4 and ip_proto 1; icmpv6_* needs IPv6 and ip_proto 58); unlike
OVS, arp_* need eth_type 0x0806 exactly (OVS also takes RARP, 0x8035), and in_port
takes any 32-bit value (OVS rejects 0xff00..0xfffffeff, which its 16-bit ports lack).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import NamedTuple

from openflow.consts import OFPVID_PRESENT
from openflow.errors import CodecError, Err
from openflow.match import Match, MatchField

OFPXMC_NXM_0 = 0x0000
OFPXMC_NXM_1 = 0x0001
OFPXMC_OPENFLOW_BASIC = 0x8000
OFPXMC_EXPERIMENTER = 0xFFFF

OFPMT_STANDARD = 0
OFPMT_OXM = 1

ETH_TYPE_IPV4 = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_IPV6 = 0x86DD
ETH_TYPE_MPLS = 0x8847
ETH_TYPE_MPLS_MCAST = 0x8848
ETH_TYPE_PBB = 0x88E7
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
ICMPV6_ND_SOLICIT = 135
ICMPV6_ND_ADVERT = 136


class Prereq(NamedTuple):
    """``field`` must be matched; with ``values``, the bits in ``bits`` (the whole
    field when None) must be matched exactly and equal one of ``values``."""

    field: str
    values: tuple[int, ...] | None = None
    bits: int | None = None


class OxmField(NamedTuple):
    """One row of the OXM table (OFPXMC_OPENFLOW_BASIC)."""

    name: str
    code: int  # oxm_field, 0..39
    size: int  # payload bytes without mask
    bits: int  # significant low-order bits of the payload
    maskable: bool  # per OF1.3.5 table 12
    prereqs: tuple[Prereq, ...] = ()  # all must hold

    @property
    def full_mask(self) -> int:
        return (1 << self.bits) - 1


_IN_PORT = (Prereq("in_port"),)
_VLAN_TAGGED = (Prereq("vlan_vid", (OFPVID_PRESENT,), OFPVID_PRESENT),)
_IP_ANY = (Prereq("eth_type", (ETH_TYPE_IPV4, ETH_TYPE_IPV6)),)
_IPV4 = (Prereq("eth_type", (ETH_TYPE_IPV4,)),)
_IPV6 = (Prereq("eth_type", (ETH_TYPE_IPV6,)),)
_ARP = (Prereq("eth_type", (ETH_TYPE_ARP,)),)
_MPLS = (Prereq("eth_type", (ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST)),)
_PBB = (Prereq("eth_type", (ETH_TYPE_PBB,)),)
_TCP = (Prereq("ip_proto", (IPPROTO_TCP,)),)
_UDP = (Prereq("ip_proto", (IPPROTO_UDP,)),)
_SCTP = (Prereq("ip_proto", (IPPROTO_SCTP,)),)
_ICMPV4 = (*_IPV4, Prereq("ip_proto", (IPPROTO_ICMP,)))
_ICMPV6 = (*_IPV6, Prereq("ip_proto", (IPPROTO_ICMPV6,)))
_ND = (Prereq("icmpv6_type", (ICMPV6_ND_SOLICIT, ICMPV6_ND_ADVERT)),)
_ND_SOLICIT = (Prereq("icmpv6_type", (ICMPV6_ND_SOLICIT,)),)
_ND_ADVERT = (Prereq("icmpv6_type", (ICMPV6_ND_ADVERT,)),)

OXM_FIELDS: tuple[OxmField, ...] = (
    # name             code size bits maskable prerequisites
    OxmField("in_port", 0, 4, 32, False),
    OxmField("in_phy_port", 1, 4, 32, False, _IN_PORT),
    OxmField("metadata", 2, 8, 64, True),
    OxmField("eth_dst", 3, 6, 48, True),
    OxmField("eth_src", 4, 6, 48, True),
    OxmField("eth_type", 5, 2, 16, False),
    OxmField("vlan_vid", 6, 2, 13, True),
    OxmField("vlan_pcp", 7, 1, 3, False, _VLAN_TAGGED),
    OxmField("ip_dscp", 8, 1, 6, False, _IP_ANY),
    OxmField("ip_ecn", 9, 1, 2, False, _IP_ANY),
    OxmField("ip_proto", 10, 1, 8, False, _IP_ANY),
    OxmField("ipv4_src", 11, 4, 32, True, _IPV4),
    OxmField("ipv4_dst", 12, 4, 32, True, _IPV4),
    OxmField("tcp_src", 13, 2, 16, False, _TCP),
    OxmField("tcp_dst", 14, 2, 16, False, _TCP),
    OxmField("udp_src", 15, 2, 16, False, _UDP),
    OxmField("udp_dst", 16, 2, 16, False, _UDP),
    OxmField("sctp_src", 17, 2, 16, False, _SCTP),
    OxmField("sctp_dst", 18, 2, 16, False, _SCTP),
    OxmField("icmpv4_type", 19, 1, 8, False, _ICMPV4),
    OxmField("icmpv4_code", 20, 1, 8, False, _ICMPV4),
    OxmField("arp_op", 21, 2, 16, False, _ARP),
    OxmField("arp_spa", 22, 4, 32, True, _ARP),
    OxmField("arp_tpa", 23, 4, 32, True, _ARP),
    OxmField("arp_sha", 24, 6, 48, True, _ARP),
    OxmField("arp_tha", 25, 6, 48, True, _ARP),
    OxmField("ipv6_src", 26, 16, 128, True, _IPV6),
    OxmField("ipv6_dst", 27, 16, 128, True, _IPV6),
    OxmField("ipv6_flabel", 28, 4, 20, True, _IPV6),
    OxmField("icmpv6_type", 29, 1, 8, False, _ICMPV6),
    OxmField("icmpv6_code", 30, 1, 8, False, _ICMPV6),
    OxmField("ipv6_nd_target", 31, 16, 128, False, _ND),
    OxmField("ipv6_nd_sll", 32, 6, 48, False, _ND_SOLICIT),
    OxmField("ipv6_nd_tll", 33, 6, 48, False, _ND_ADVERT),
    OxmField("mpls_label", 34, 4, 20, False, _MPLS),
    OxmField("mpls_tc", 35, 1, 3, False, _MPLS),
    OxmField("mpls_bos", 36, 1, 1, False, _MPLS),
    OxmField("pbb_isid", 37, 3, 24, True, _PBB),
    OxmField("tunnel_id", 38, 8, 64, True),
    OxmField("ipv6_exthdr", 39, 2, 9, True, _IPV6),
)
FIELD_BY_NAME: dict[str, OxmField] = {f.name: f for f in OXM_FIELDS}
FIELD_BY_CODE: dict[int, OxmField] = {f.code: f for f in OXM_FIELDS}

_U32 = struct.Struct("!I")
_MATCH_HEADER = struct.Struct("!HH")  # type, length
_MATCH_HEADER_SIZE = _MATCH_HEADER.size


def _header(field: OxmField, hasmask: bool) -> int:
    length = field.size * 2 if hasmask else field.size
    return OFPXMC_OPENFLOW_BASIC << 16 | field.code << 9 | int(hasmask) << 8 | length


def oxm_header(name: str, hasmask: bool = False) -> int:
    """The 32-bit OXM header of a basic field; the length doubles with ``hasmask``."""
    return _header(FIELD_BY_NAME[name], hasmask)


# Precompiled per exact-length header (both hasmask forms); any other header is an
# error path.  Row: (field, hasmask, name, code bit, full mask, unpacker, shift, TLV size).
# The unpacker reads value (and mask) as 1 or 2 ints each, joined with ``shift``.
_FORMATS = {1: "B", 2: "H", 3: "BH", 4: "I", 6: "HI", 8: "Q", 16: "QQ"}
_SHIFTS = {1: 0, 2: 0, 3: 16, 4: 0, 6: 32, 8: 0, 16: 64}
_Row = tuple[OxmField, bool, str, int, int, Callable[..., tuple[int, ...]], int, int]


def _row(f: OxmField, hasmask: bool) -> _Row:
    fmt = _FORMATS[f.size] * (2 if hasmask else 1)
    return (f, hasmask, f.name, 1 << f.code, f.full_mask, struct.Struct("!" + fmt).unpack_from,
            _SHIFTS[f.size], 4 + f.size * (2 if hasmask else 1))


_BY_HEADER: dict[int, _Row] = {
    _header(f, hasmask): _row(f, hasmask) for f in OXM_FIELDS for hasmask in (False, True)
}
_NO_ROW: _Row = (OXM_FIELDS[0], False, "", 0, 0, _U32.unpack_from, 0, 1 << 16)  # sentinel
# name -> (exact header bytes, masked header bytes, payload size)
_ENCODE: dict[str, tuple[bytes, bytes, int]] = {
    f.name: (_U32.pack(_header(f, False)), _U32.pack(_header(f, True)), f.size)
    for f in OXM_FIELDS
}
# name -> ((prerequisite field, allowed values or None, bits that must match), ...);
# equal rows are one object, so a run of fields with the same prerequisites (ipv4_src,
# ipv4_dst) is checked once.
_PrereqChecks = tuple[tuple[str, frozenset[int] | None, int], ...]
_CHECK_ROWS: dict[_PrereqChecks, _PrereqChecks] = {}
_PREREQ_CHECKS: dict[str, _PrereqChecks] = {
    f.name: _CHECK_ROWS.setdefault(checks, checks)
    for f in OXM_FIELDS if f.prereqs
    for checks in [tuple(
        (pr.field, None if pr.values is None else frozenset(pr.values),
         FIELD_BY_NAME[pr.field].full_mask if pr.bits is None else pr.bits)
        for pr in f.prereqs)]
}
_CODE_BY_NAME = {f.name: f.code for f in OXM_FIELDS}
_new_field = tuple.__new__  # MatchField without the NamedTuple __new__ frame (hot path)


def _decode_tlv(buf: bytes | bytearray | memoryview, offset: int, end: int) -> tuple[_Row, MatchField, int]:
    if offset < 0 or end - offset < 4:
        raise CodecError(Err.OFPBMC_BAD_LEN, f"partial OXM header at offset {offset}")
    (header,) = _U32.unpack_from(buf, offset)
    length = header & 0xFF
    payload = offset + 4
    next_offset = payload + length
    if next_offset > end:
        raise CodecError(Err.OFPBMC_BAD_LEN, f"OXM {header:#010x} payload runs past the match")
    row = _BY_HEADER.get(header)
    if row is None:
        oxm_class = header >> 16
        if oxm_class == OFPXMC_EXPERIMENTER and length < 4:
            raise CodecError(Err.OFPBMC_BAD_LEN, f"experimenter OXM {header:#010x} too short")
        known = FIELD_BY_CODE.get(header >> 9 & 0x7F)
        if oxm_class != OFPXMC_OPENFLOW_BASIC or known is None:
            raise CodecError(Err.OFPBMC_BAD_FIELD, f"unsupported OXM class {oxm_class:#06x} field {header >> 9 & 0x7F}")
        raise CodecError(Err.OFPBMC_BAD_LEN, f"OXM {known.name} with length {length}")
    field, hasmask, name, _, full, _, _, _ = row
    size = field.size
    value = int.from_bytes(buf[payload : payload + size], "big")
    mask: int | None = None
    if hasmask:
        mask = int.from_bytes(buf[payload + size : next_offset], "big")
        if value & ~mask:
            raise CodecError(Err.OFPBMC_BAD_WILDCARDS, f"{name}: value bits outside the mask")
        if not field.maskable and mask != 0 and mask != (1 << (8 * size)) - 1:
            raise CodecError(Err.OFPBMC_BAD_MASK, f"{name} is not maskable")
    if value > full:
        raise CodecError(Err.OFPBMC_BAD_VALUE, f"{name}: {value:#x} exceeds {field.bits} bits")
    if mask is not None:
        mask &= full
        if mask == full:
            mask = None
    return row, _new_field(MatchField, (name, value, mask)), next_offset


def decode_oxm_tlv(buf: bytes | bytearray | memoryview, offset: int, end: int) -> tuple[MatchField, int]:
    """Decode one OXM TLV at ``offset`` (not past ``end``); returns (field, next offset).

    The returned mask is None for exact matches and 0 for a fully wildcarded TLV
    (``decode_oxm_match`` drops those)."""
    _, decoded, next_offset = _decode_tlv(buf, offset, min(end, len(buf)))
    return decoded, next_offset


def encode_oxm_tlv(field: MatchField) -> bytes:
    exact, masked, size = _ENCODE[field.name]
    if field.mask is None:
        return exact + field.value.to_bytes(size, "big")
    return masked + field.value.to_bytes(size, "big") + field.mask.to_bytes(size, "big")


def _check_prereqs(fields: Iterable[MatchField], by_name: dict[str, MatchField]) -> None:
    checked = None
    for field in fields:
        checks = _PREREQ_CHECKS.get(field[0])
        if checks is None or checks is checked:
            continue
        checked = checks
        for target, values, bits in checks:
            present = by_name.get(target)
            if present is None:
                raise CodecError(Err.OFPBMC_BAD_PREREQ, f"{field[0]} requires {target}")
            if values is None:
                continue
            mask = present[2]
            if (mask is not None and mask & bits != bits) or present[1] & bits not in values:
                wanted = "/".join(f"{v:#x}" for v in sorted(values))
                raise CodecError(Err.OFPBMC_BAD_PREREQ, f"{field[0]} requires {target} {wanted}")


def check_prerequisites(match: Match) -> None:
    """Raise CodecError(OFPBMC_BAD_PREREQ) unless every field's prerequisites hold."""
    _check_prereqs(match.fields, {f.name: f for f in match.fields})


_HAS_PREREQS = sum(1 << f.code for f in OXM_FIELDS if f.prereqs)


def _code_of(field: MatchField) -> int:
    return _CODE_BY_NAME[field[0]]


def decode_oxm_match(buf: bytes | bytearray | memoryview, offset: int, end: int | None = None) -> tuple[Match, int]:
    """Decode an OF1.3 ``struct ofp_match`` at ``offset``; returns (match, offset after
    its padding).  ``end`` bounds the match (default: the end of ``buf``)."""
    limit = len(buf) if end is None else min(end, len(buf))
    if offset < 0 or limit - offset < _MATCH_HEADER_SIZE:
        raise CodecError(Err.OFPBMC_BAD_LEN, "partial ofp_match header")
    match_type, length = _MATCH_HEADER.unpack_from(buf, offset)
    if length < _MATCH_HEADER_SIZE:
        raise CodecError(Err.OFPBMC_BAD_LEN, f"ofp_match length {length}")
    if match_type != OFPMT_OXM:
        raise CodecError(Err.OFPBMC_BAD_TYPE, f"ofp_match type {match_type}")
    padded_end = offset + ((length + 7) & ~7)
    if padded_end > limit:
        raise CodecError(Err.OFPBMC_BAD_LEN, f"ofp_match length {length} runs past the message")
    tlv_end = offset + length
    pos = offset + _MATCH_HEADER_SIZE
    fields: list[MatchField] = []
    seen = last_bit = 0
    ordered = True
    wildcarded = False
    unpack_header = _U32.unpack_from
    by_header = _BY_HEADER
    while pos < tlv_end:
        # Fast path: a known header whose value (and mask) need no normalization;
        # anything else (errors, zero or all-ones masks, ...) goes through _decode_tlv.
        field = None
        row = by_header.get(unpack_header(buf, pos)[0], _NO_ROW) if tlv_end - pos >= 4 else _NO_ROW
        if row is not _NO_ROW and pos + row[7] <= tlv_end:
            ints = row[5](buf, pos + 4)
            full = row[4]
            if len(ints) == 1:
                if ints[0] <= full:
                    field = _new_field(MatchField, (row[2], ints[0], None))
            else:
                shift = row[6]
                if not row[1]:
                    value = ints[0] << shift | ints[1]
                    mask = None
                elif shift:
                    value = ints[0] << shift | ints[1]
                    mask = ints[2] << shift | ints[3]
                else:
                    value, mask = ints
                if mask is None:
                    if value <= full:
                        field = _new_field(MatchField, (row[2], value, None))
                elif 0 < mask < full and not value & ~mask and row[0].maskable:
                    field = _new_field(MatchField, (row[2], value, mask))
            if field is not None:
                pos += row[7]
        if field is None:
            row, field, pos = _decode_tlv(buf, pos, tlv_end)
            if field[2] == 0:
                wildcarded = True
        bit = row[3]
        if seen & bit:
            raise CodecError(Err.OFPBMC_DUP_FIELD, f"{row[2]} appears twice")
        seen |= bit
        if bit < last_bit:
            ordered = False
        last_bit = bit
        fields.append(field)
    if seen & _HAS_PREREQS:
        _check_prereqs(fields, {f[0]: f for f in fields})
    if wildcarded:
        fields = [f for f in fields if f[2] != 0]
    if not ordered:
        fields.sort(key=_code_of)
    return Match._from_sorted(tuple(fields)), padded_end


def encode_oxm_match(match: Match) -> bytes:
    """The full OF1.3 ``struct ofp_match`` (OFPMT_OXM), padded to a multiple of 8."""
    body = b"".join([encode_oxm_tlv(f) for f in match.fields])
    length = _MATCH_HEADER_SIZE + len(body)
    return _MATCH_HEADER.pack(OFPMT_OXM, length) + body + bytes(-length % 8)


def decode_oxm_headers(buf: bytes | bytearray | memoryview, offset: int, end: int) -> tuple[tuple[str, bool], ...]:
    """OXM ids (headers without payload) as in table-features properties.

    ``oxm_length`` is ignored (Ryu sends 0, OVS the payload length); unknown fields and
    non-basic classes are skipped, as OVS does; a partial header is OFPBMC_BAD_LEN."""
    end = min(end, len(buf))
    if offset < 0:
        raise CodecError(Err.OFPBMC_BAD_LEN, "negative offset")
    items: list[tuple[str, bool]] = []
    pos = offset
    while pos < end:
        if end - pos < 4:
            raise CodecError(Err.OFPBMC_BAD_LEN, f"partial OXM id at offset {pos}")
        (header,) = _U32.unpack_from(buf, pos)
        pos += 4
        oxm_class = header >> 16
        if oxm_class == OFPXMC_EXPERIMENTER:
            if end - pos < 4:
                raise CodecError(Err.OFPBMC_BAD_LEN, f"partial experimenter OXM id at offset {pos - 4}")
            pos += 4
            continue
        field = FIELD_BY_CODE.get(header >> 9 & 0x7F)
        if oxm_class == OFPXMC_OPENFLOW_BASIC and field is not None:
            items.append((field.name, bool(header & 0x100)))
    return tuple(items)


def encode_oxm_headers(items: Iterable[tuple[str, bool] | str]) -> bytes:
    """OXM ids for table-features properties; a bare name means hasmask=False."""
    out = []
    for item in items:
        name, hasmask = (item, False) if isinstance(item, str) else item
        exact, masked, _ = _ENCODE[name]
        out.append(masked if hasmask else exact)
    return b"".join(out)
