"""Flow keys for the pipeline: OpenFlow matches <-> the classifier/datapath key.

Sits between ``openflow/`` (matches with OXM-named fields, ``openflow.oxm``'s field
table and prerequisites) and ``datapath/`` (``datapath.flow``: the flow key as one
int with fixed field slots).  Everything in ``switch_agent`` that turns one into the
other goes through here: the flow tables (``match_to_key``), xlate (which header a
set_field rewrites, ``SET_TARGETS``; the megaflow mask, ``wildcards_to_megaflow``),
PACKET_IN and trace (``key_to_match_fields``, ``packet_fields``).  It owns one table,
``OXM_TO_KEY``: for every OXM field, the key field it lives in, its bit shift there and
its width.

The classifier key ("ckey") is the datapath key with the OpenFlow ``metadata`` above
it: ``ckey = metadata << flow.KEY_BITS | dp_key``; masks the same way.

Semantics (what the key can and cannot say):
  * Ports: OpenFlow port numbers equal datapath port numbers, except OFPP_LOCAL
    (0xfffffffe), which is datapath port 0.  The mapping is a swap, so OpenFlow port 0
    (not a valid OpenFlow port) becomes datapath port 0xfffffffe, which the datapath
    never assigns (its ports stop at 0xfeff): ``in_port=0`` matches nothing, like
    in OVS.  ``in_phy_port`` is ``in_port`` (no tunnels or bonds under a port; what
    OVS reports too), so both land in the key's ``in_port``.  A partial mask on a
    port cannot survive the swap and is refused (ValueError; OpenFlow calls both
    fields non-maskable).
  * ``vlan_vid`` is OF1.3's 13-bit value (OFPVID_PRESENT 0x1000 | VID), which is
    exactly bits 0..12 of the key's ``vlan_tci`` (0x1000 = "tag present", 0 = no
    tag): ``vlan_vid=0`` means untagged, ``0x1000/0x1000`` any tag.  ``vlan_pcp`` is
    bits 13..15.  Every packet has ``vlan_vid`` (OFPVID_NONE when untagged), only a
    tagged one ``vlan_pcp``.
  * ``ip_dscp``/``ip_ecn`` are bits 2..7/0..1 of ``ip_tos``; TCP/UDP/SCTP ports and
    ICMPv4/ICMPv6 type/code share ``tp_src``/``tp_dst``; ARP spa/tpa share
    ``ipv4_src``/``ipv4_dst``; ``mpls_label``/``tc``/``bos`` are bits 12..31/9..11/8 of
    ``mpls_lse``; ``tunnel_id`` is ``tun_id``; ND fields are ``nd_*``.
  * ``arp_op``: the key keeps the ARP opcode in ``ip_proto`` (8 bits), and a packet
    whose opcode does not fit is keyed with opcode 0 -- OVS's flow_extract does the
    same ("we only match on the lower 8 bits of the opcode"; OVS also refuses a match
    on an opcode > 255 as OFPBMC_BAD_VALUE, where our decoder accepts it).  So such
    a packet reads as ``arp_op=0`` here, and a match on ``arp_op`` > 255 can never
    hit: its value and mask go to ``tp_src``/``tp_dst``, which no ARP key has set
    (the pair stays distinct per match, and matches nothing).
  * Protocol presence follows the OXM prerequisites (``openflow.oxm``): a packet has
    ``tcp_src`` only when IPv4/IPv6 with ip_proto 6, ``icmpv6_*`` only for IPv6 with
    ip_proto 58, ``ipv6_nd_target`` only for ICMPv6 type 135/136, ``ipv6_nd_sll``
    only for 135, ``ipv6_nd_tll`` only for 136, ``arp_*`` only for eth_type 0x0806
    (not RARP), ``mpls_*`` for 0x8847/0x8848, ``pbb_isid`` for 0x88e7.  As in OVS, a
    field that is present but whose header is missing reads as 0: L4 fields of
    later fragments and truncated L4 headers, ND fields of an NS/NA with a non-zero
    code (not parsed), an absent SLL/TLL option, everything of a runt frame.

``match_to_key`` requires the match to carry its prerequisites (the OXM decoder and
the flow text parser enforce them; a Match built in code may not) and raises
ValueError otherwise: the prerequisite fields are what pin the shared key slots (an
icmpv4_type match without ip_proto=1 would also hit TCP source ports).  The
(key, mask) pair denotes a set of packets, not an OpenFlow match: different matches
can give equal pairs (``in_port=1`` with or without ``in_phy_port=1``), and matches
that can never hit carry ``NEVER_BIT``, a padding bit of the key that extraction
never sets.  Flow-table identity (strict modify/delete, replacing an identical flow)
compares ``Match`` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import NamedTuple

from datapath import flow
from datapath import packet as pk
from openflow.consts import OFPP_LOCAL, OFPVID_PRESENT
from openflow.errors import CodecError
from openflow.match import Match, MatchField
from openflow.oxm import FIELD_BY_NAME, OXM_FIELDS, check_prerequisites

DP_PORT_LOCAL = 0  # the datapath's LOCAL port (datapath/dpif.py convention)
METADATA_OFFSET = flow.KEY_BITS  # bit 0 of OpenFlow metadata in a classifier key
METADATA_MASK = ((1 << 64) - 1) << METADATA_OFFSET


def ofp_port_to_dp(port: int) -> int:
    """The datapath port number of OpenFlow port ``port`` (LOCAL <-> 0, a swap)."""
    if port == OFPP_LOCAL:
        return DP_PORT_LOCAL
    if port == DP_PORT_LOCAL:
        return OFPP_LOCAL
    return port


def dp_port_to_ofp(port: int) -> int:
    """The OpenFlow port number of datapath port ``port`` (the inverse swap)."""
    return ofp_port_to_dp(port)


# ------------------------------------------------------------------ the table


class KeySlot(NamedTuple):
    """Where an OXM field's value sits in the classifier key."""

    field: str  # a datapath key field (flow.FIELDS), or "metadata" (above the key)
    shift: int  # bit of the key field holding the OXM value's bit 0
    bits: int  # key bits the value takes (arp_op: 8 of its 16)


OXM_TO_KEY: dict[str, KeySlot] = {
    "in_port": KeySlot("in_port", 0, 32),  # through ofp_port_to_dp
    "in_phy_port": KeySlot("in_port", 0, 32),  # = in_port
    "metadata": KeySlot("metadata", 0, 64),
    "eth_dst": KeySlot("eth_dst", 0, 48),
    "eth_src": KeySlot("eth_src", 0, 48),
    "eth_type": KeySlot("eth_type", 0, 16),
    "vlan_vid": KeySlot("vlan_tci", 0, 13),  # OFPVID_PRESENT = the key's tag-present bit
    "vlan_pcp": KeySlot("vlan_tci", 13, 3),
    "ip_dscp": KeySlot("ip_tos", 2, 6),
    "ip_ecn": KeySlot("ip_tos", 0, 2),
    "ip_proto": KeySlot("ip_proto", 0, 8),
    "ipv4_src": KeySlot("ipv4_src", 0, 32),
    "ipv4_dst": KeySlot("ipv4_dst", 0, 32),
    "tcp_src": KeySlot("tp_src", 0, 16),
    "tcp_dst": KeySlot("tp_dst", 0, 16),
    "udp_src": KeySlot("tp_src", 0, 16),
    "udp_dst": KeySlot("tp_dst", 0, 16),
    "sctp_src": KeySlot("tp_src", 0, 16),
    "sctp_dst": KeySlot("tp_dst", 0, 16),
    "icmpv4_type": KeySlot("tp_src", 0, 8),
    "icmpv4_code": KeySlot("tp_dst", 0, 8),
    "arp_op": KeySlot("ip_proto", 0, 8),  # opcodes > 255: see the module docstring
    "arp_spa": KeySlot("ipv4_src", 0, 32),
    "arp_tpa": KeySlot("ipv4_dst", 0, 32),
    "arp_sha": KeySlot("arp_sha", 0, 48),
    "arp_tha": KeySlot("arp_tha", 0, 48),
    "ipv6_src": KeySlot("ipv6_src", 0, 128),
    "ipv6_dst": KeySlot("ipv6_dst", 0, 128),
    "ipv6_flabel": KeySlot("ipv6_flabel", 0, 20),
    "icmpv6_type": KeySlot("tp_src", 0, 8),
    "icmpv6_code": KeySlot("tp_dst", 0, 8),
    "ipv6_nd_target": KeySlot("nd_target", 0, 128),
    "ipv6_nd_sll": KeySlot("nd_sll", 0, 48),
    "ipv6_nd_tll": KeySlot("nd_tll", 0, 48),
    "mpls_label": KeySlot("mpls_lse", 12, 20),
    "mpls_tc": KeySlot("mpls_lse", 9, 3),
    "mpls_bos": KeySlot("mpls_lse", 8, 1),
    "pbb_isid": KeySlot("pbb_isid", 0, 24),
    "tunnel_id": KeySlot("tun_id", 0, 64),
    "ipv6_exthdr": KeySlot("ipv6_exthdr", 0, 9),
}


def _slot_offset(slot: KeySlot) -> int:
    base = METADATA_OFFSET if slot.field == "metadata" else flow.FIELD_OFFSET[slot.field]
    return base + slot.shift


# name -> (bit offset in the ckey, mask of the slot's bits at offset 0)
_SLOT: dict[str, tuple[int, int]] = {
    name: (_slot_offset(slot), (1 << slot.bits) - 1) for name, slot in OXM_TO_KEY.items()
}

_FIELDS_MASK = reduce(int.__or__, flow.FIELD_MASK.values())
_PADDING = flow.FULL_MASK & ~_FIELDS_MASK
# A key bit no extracted key has (slot padding): a rule with it in key and mask never hits.
NEVER_BIT = 1 << (_PADDING.bit_length() - 1)
_IN_PORT_MASK = flow.FIELD_MASK["in_port"]
_TP_SRC_OFFSET = flow.FIELD_OFFSET["tp_src"]
_TP_DST_OFFSET = flow.FIELD_OFFSET["tp_dst"]
_PORT_FIELDS = frozenset(("in_port", "in_phy_port"))

# ------------------------------------------------------------------ match -> key


def match_to_key(match: Match) -> tuple[int, int]:
    """(key, mask) in the classifier layout: a packet with classifier key ``ckey`` hits
    ``match`` exactly when ``ckey & mask == key``.

    Raises ValueError when a field's prerequisites are missing from ``match`` (they
    are what tells shared key slots apart) or when a port field has a partial mask.
    """
    try:
        check_prerequisites(match)
    except CodecError as exc:
        raise ValueError(f"match lacks a prerequisite: {exc}") from None
    key = mask = 0
    for name, value, field_mask in match.fields:
        offset, full = _SLOT[name]
        if field_mask is None:
            field_mask = FIELD_BY_NAME[name].full_mask
        if name in _PORT_FIELDS:
            if field_mask != 0xFFFFFFFF:
                raise ValueError(f"{name}: a partial mask cannot be translated to datapath ports")
            value = ofp_port_to_dp(value)
        elif value > full:  # arp_op > 255: no packet is keyed with it
            key |= value << _TP_SRC_OFFSET | field_mask << _TP_DST_OFFSET
            mask |= 0xFFFF << _TP_SRC_OFFSET | 0xFFFF << _TP_DST_OFFSET
            value &= full
        bits = (field_mask & full) << offset
        value <<= offset
        if (key ^ value) & mask & bits:  # two fields on the same bits disagree
            key |= NEVER_BIT
            mask |= NEVER_BIT
        key |= value
        mask |= bits
    return key, mask


def wildcards_to_megaflow(wildcards: int) -> int:
    """The datapath mask for a megaflow from the classifier ``wildcards`` of a
    translation: metadata dropped (pipeline-internal), ``NEVER_BIT`` and any other
    padding dropped (no packet has them), and ``in_port`` always kept -- a megaflow
    always matches the input port.  Other always-examined fields (OVS also pins
    eth_type, and ip_frag for IP) are xlate's business."""
    return wildcards & _FIELDS_MASK | _IN_PORT_MASK


# ------------------------------------------------------------------ key -> fields

# name -> its OXM prerequisites: ((field, allowed values or None, bits that must match), ...)
_PREREQS: dict[str, tuple[tuple[str, frozenset[int] | None, int], ...]] = {
    f.name: tuple(
        (pr.field, None if pr.values is None else frozenset(pr.values),
         FIELD_BY_NAME[pr.field].full_mask if pr.bits is None else pr.bits)
        for pr in f.prereqs)
    for f in OXM_FIELDS
}


def _raw(ckey: int, name: str) -> int:
    offset, full = _SLOT[name]
    return ckey >> offset & full


def _closure(name: str) -> tuple[tuple[str, frozenset[int] | None, int], ...]:
    """The prerequisites of ``name``, those of its prerequisite fields first."""
    rows: list[tuple[str, frozenset[int] | None, int]] = []
    for row in _PREREQS[name]:
        rows.extend(_closure(row[0]))
        rows.append(row)
    return tuple(rows)


# name -> ((ckey offset, slot mask, allowed values, bits), ...): all must hold.
_CONDITIONS: dict[str, tuple[tuple[int, int, frozenset[int] | None, int], ...]] = {
    f.name: tuple((*_SLOT[field], allowed, bits) for field, allowed, bits in _closure(f.name))
    for f in OXM_FIELDS
}


def has_field(ckey: int, name: str) -> bool:
    """Whether a packet with ``ckey`` has OXM field ``name`` (its prerequisites hold)."""
    for offset, full, allowed, bits in _CONDITIONS[name]:
        if allowed is not None and ckey >> offset & full & bits not in allowed:
            return False
    return True


def _prereq_mask(name: str) -> int:
    mask = 0
    for offset, full, allowed, bits in _CONDITIONS[name]:
        if allowed is not None:
            mask |= (bits & full) << offset
    return mask


# name -> the classifier key bits ``has_field(ckey, name)`` reads: what xlate must
# un-wildcard when it decides on a field's presence (e.g. before a set_field).
PREREQ_MASK: dict[str, int] = {f.name: _prereq_mask(f.name) for f in OXM_FIELDS}

def packet_fields(ckey: int, in_port_of: Callable[[int], int] = dp_port_to_ofp) -> dict[str, int]:
    """Every OXM field a packet with classifier key ``ckey`` has, with its value, in
    OXM code order (presence by the OXM prerequisites; see the module docstring).

    ``in_port_of`` maps the key's datapath port to the OpenFlow port reported as
    ``in_port`` and ``in_phy_port``."""
    values: dict[str, int] = {}
    for f in OXM_FIELDS:
        name = f.name
        if has_field(ckey, name):
            value = _raw(ckey, name)
            values[name] = in_port_of(value) if name in _PORT_FIELDS else value
    return values


def key_to_match_fields(ckey: int, in_port_of: Callable[[int], int] = dp_port_to_ofp,
                        *, pipeline: bool = False) -> tuple[MatchField, ...]:
    """The packet's fields as exact ``MatchField``s in OXM order.

    ``pipeline=True``: OF1.3 PACKET_IN's match -- ``in_port`` always, ``metadata``
    and ``tunnel_id`` when non-zero (OVS's flow_get_metadata).  Otherwise every field
    the packet has (trace, debugging), as ``packet_fields``."""
    if pipeline:
        metadata = ckey >> METADATA_OFFSET
        tun_id = _raw(ckey, "tunnel_id")
        return (MatchField("in_port", in_port_of(_raw(ckey, "in_port"))),
                *((MatchField("metadata", metadata),) if metadata else ()),
                *((MatchField("tunnel_id", tun_id),) if tun_id else ()))
    values = packet_fields(ckey, in_port_of)
    return tuple(MatchField(name, value) for name, value in values.items())


# ------------------------------------------------------------------ set_field

SET_HEADER = "header"  # datapath SetField/SetMasked(dp_field, ...)
SET_TUNNEL = "tunnel"  # datapath SetTunnel (tun_id)
SET_PIPELINE = "pipeline"  # no datapath action: only later tables see it
SET_RESHAPE = "reshape"  # datapath SetField at once; the headers behind are read anew


class SetTarget(NamedTuple):
    """What a set_field on an OXM field writes."""

    kind: str  # SET_HEADER, SET_TUNNEL, SET_PIPELINE or SET_RESHAPE
    dp_field: str | None  # the datapath's set-field name (packet.FIELD_LAYOUTS), SET_HEADER
    bits: int  # the low ``bits`` of the OXM value are written (vlan_vid: the 12-bit VID)
    key_field: str  # the classifier key field that changes (flow.FIELDS or "metadata")
    shift: int  # its bit holding the written value's bit 0
    key_bits: int  # key bits holding the value (arp_op: 8)


# OXM fields no set_field can write: the port a packet came in on and ipv6_exthdr, a
# summary of the extension header chain rather than a header field.  (OVS refuses
# eth_type, ip_proto and mpls_bos as well; OF1.3 does not.)
NOT_SETTABLE = frozenset(("in_port", "in_phy_port", "ipv6_exthdr"))


def _set_target(name: str) -> SetTarget:
    slot = OXM_TO_KEY[name]
    if name == "metadata":
        return SetTarget(SET_PIPELINE, None, 64, slot.field, slot.shift, slot.bits)
    if name == "tunnel_id":
        return SetTarget(SET_TUNNEL, None, 64, slot.field, slot.shift, slot.bits)
    bits = pk.FIELD_BITS[name]  # the datapath names its set-fields like OXM
    if name in pk.SHAPE_FIELDS:
        return SetTarget(SET_RESHAPE, name, bits, slot.field, slot.shift, min(bits, slot.bits))
    return SetTarget(SET_HEADER, name, bits, slot.field, slot.shift, min(bits, slot.bits))


SET_TARGETS: dict[str, SetTarget] = {
    f.name: _set_target(f.name) for f in OXM_FIELDS if f.name not in NOT_SETTABLE
}


_L4_SLOTS = frozenset(("tp_src", "tp_dst", "nd_target", "nd_sll", "nd_tll"))
_L4_SET = frozenset(name for name in SET_TARGETS if OXM_TO_KEY[name].field in _L4_SLOTS)
_FRAG_LATER = flow.FRAG_LATER << flow.FIELD_OFFSET["ip_frag"]


def can_set(ckey: int, name: str) -> bool:
    """Whether a set_field on ``name`` changes a packet with ``ckey``: it must have
    the field (a datapath set on a missing header does nothing); for ``vlan_vid`` a
    tag (OF1.3 set_field never pushes one; OVS the same); for L4 fields not a later
    fragment (no L4 header, though the fields read as 0).  Reads the bits of
    ``SET_PREREQ_MASK[name]``."""
    if name == "vlan_vid":
        return bool(_raw(ckey, "vlan_vid") & OFPVID_PRESENT)
    if name in _L4_SET and ckey & _FRAG_LATER:
        return False
    return name in SET_TARGETS and has_field(ckey, name)


SET_PREREQ_MASK: dict[str, int] = {
    name: PREREQ_MASK["vlan_pcp"] if name == "vlan_vid"
    else PREREQ_MASK[name] | (_FRAG_LATER if name in _L4_SET else 0)
    for name in SET_TARGETS
}


def apply_set_field(ckey: int, name: str, value: int, mask: int | None = None) -> int:
    """The classifier key after set_field ``name`` = ``value`` (under ``mask``) on a
    packet with ``ckey`` for which ``can_set`` holds: what later tables match on.

    Like OVS's xlate, only the field itself changes: rewriting an ICMPv6 type or
    code does not re-derive the ND fields, and the key cannot tell an absent ND
    SLL/TLL option (which the datapath does not add) or a truncated header (which
    it leaves alone) from a present one."""
    target = SET_TARGETS[name]
    width = (1 << target.bits) - 1
    offset = _SLOT[name][0]
    key_full = (1 << target.key_bits) - 1
    old = ckey >> offset & key_full
    written = value & width if mask is None else (old & ~mask | value & mask) & width
    if name == "arp_op" and written > 0xFF:
        written = 0  # keyed like an ARP packet with that opcode: see the docstring
    return ckey & ~(key_full << offset) | written << offset
