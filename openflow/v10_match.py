"""OpenFlow 1.0 ``struct ofp_match`` (40 bytes, wildcard bits) <-> the match model.

Sits under the OF1.0 codec (flow-mod, flow-removed, stats, packet-in need it).  Owns
the OFPFW_* wildcard layout and the mapping between OF1.0's fixed fields and OXM
names, normalizing the way Open vSwitch does (lib/ofp-match.c):

* ``dl_vlan`` N -> ``vlan_vid`` 0x1000|N (low 12 bits); OFP_VLAN_NONE (0xffff) ->
  ``vlan_vid`` 0 ("no tag", the PCP is then ignored); a PCP with a wildcarded
  ``dl_vlan`` -> ``vlan_vid`` 0x1000/0x1000 ("any tag") plus ``vlan_pcp``;
* ``nw_tos`` carries DSCP in its upper 6 bits -> ``ip_dscp`` = nw_tos >> 2;
* with dl_type ARP, ``nw_proto`` is the low byte of the ARP opcode and nw_src/nw_dst
  are the ARP sender/target protocol addresses;
* ``tp_src``/``tp_dst`` become tcp_*/udp_*/sctp_*/icmpv4_* (IPv4) or tcp_*/udp_*/
  sctp_*/icmpv6_* (IPv6) by ``nw_proto``; ICMP type/code keep their low 8 bits;
* fields whose prerequisites are not matched are dropped, never an error (OVS also
  reads RARP, dl_type 0x8035, like ARP; the model's arp_* need 0x0806, so here a
  RARP match keeps only eth_type).
"""

from __future__ import annotations

import struct

from openflow.consts import OFP10_VLAN_NONE, OFPVID_PRESENT, port_from_v10, port_to_v10
from openflow.errors import CodecError, Err
from openflow.match import Match, MatchField

OFPFW_IN_PORT = 1 << 0
OFPFW_DL_VLAN = 1 << 1
OFPFW_DL_SRC = 1 << 2
OFPFW_DL_DST = 1 << 3
OFPFW_DL_TYPE = 1 << 4
OFPFW_NW_PROTO = 1 << 5
OFPFW_TP_SRC = 1 << 6
OFPFW_TP_DST = 1 << 7
OFPFW_NW_SRC_SHIFT = 8
OFPFW_NW_SRC_MASK = 0x3F << OFPFW_NW_SRC_SHIFT
OFPFW_NW_DST_SHIFT = 14
OFPFW_NW_DST_MASK = 0x3F << OFPFW_NW_DST_SHIFT
OFPFW_DL_VLAN_PCP = 1 << 20
OFPFW_NW_TOS = 1 << 21
OFPFW_ALL = (1 << 22) - 1

# wildcards, in_port, dl_src, dl_dst, dl_vlan, dl_vlan_pcp, pad, dl_type, nw_tos,
# nw_proto, pad[2], nw_src, nw_dst, tp_src, tp_dst
_MATCH = struct.Struct("!IH6s6sHBxHBBxxIIHH")
MATCH_SIZE = _MATCH.size
assert MATCH_SIZE == 40

_ETH_TYPE_IPV4 = 0x0800
_ETH_TYPE_ARP = 0x0806
_ETH_TYPE_IPV6 = 0x86DD
_U32_MAX = 0xFFFFFFFF

# nw_proto -> (tp_src name, tp_dst name, value mask), per dl_type.
_TRANSPORT_V4 = {
    6: ("tcp_src", "tcp_dst", 0xFFFF),
    17: ("udp_src", "udp_dst", 0xFFFF),
    132: ("sctp_src", "sctp_dst", 0xFFFF),
    1: ("icmpv4_type", "icmpv4_code", 0xFF),
}
_TRANSPORT_V6 = {
    6: ("tcp_src", "tcp_dst", 0xFFFF),
    17: ("udp_src", "udp_dst", 0xFFFF),
    132: ("sctp_src", "sctp_dst", 0xFFFF),
    58: ("icmpv6_type", "icmpv6_code", 0xFF),
}
_TP_SRC_NAMES = frozenset(names[0] for names in (*_TRANSPORT_V4.values(), *_TRANSPORT_V6.values()))
_TP_DST_NAMES = frozenset(names[1] for names in (*_TRANSPORT_V4.values(), *_TRANSPORT_V6.values()))


def _prefix_field(name: str, addr: int, wildcards: int, shift: int) -> MatchField | None:
    """OF1.0 counts wildcarded low-order address bits; 32 or more means "any"."""
    count = wildcards >> shift & 0x3F
    if count >= 32:
        return None
    if count == 0:
        return MatchField(name, addr)
    mask = (_U32_MAX << count) & _U32_MAX
    return MatchField(name, addr & mask, mask)


def decode_match(buf: bytes | bytearray | memoryview, offset: int) -> Match:
    """Decode the 40-byte OF1.0 match at ``offset`` into the model."""
    if offset < 0 or len(buf) - offset < MATCH_SIZE:
        raise CodecError(Err.OFPBRC_BAD_LEN, f"OF1.0 match needs {MATCH_SIZE} bytes at offset {offset}")
    (wildcards, in_port, dl_src, dl_dst, dl_vlan, dl_vlan_pcp, dl_type, nw_tos, nw_proto,
     nw_src, nw_dst, tp_src, tp_dst) = _MATCH.unpack_from(buf, offset)

    # Appended in OXM code order, so the result is already canonical.
    fields: list[MatchField] = []
    if not wildcards & OFPFW_IN_PORT:
        fields.append(MatchField("in_port", port_from_v10(in_port)))
    if not wildcards & OFPFW_DL_DST:
        fields.append(MatchField("eth_dst", int.from_bytes(dl_dst, "big")))
    if not wildcards & OFPFW_DL_SRC:
        fields.append(MatchField("eth_src", int.from_bytes(dl_src, "big")))
    if not wildcards & OFPFW_DL_TYPE:
        fields.append(MatchField("eth_type", dl_type))
    if not wildcards & OFPFW_DL_VLAN:
        if dl_vlan == OFP10_VLAN_NONE:
            fields.append(MatchField("vlan_vid", 0))
        else:
            fields.append(MatchField("vlan_vid", OFPVID_PRESENT | dl_vlan & 0xFFF))
            if not wildcards & OFPFW_DL_VLAN_PCP:
                fields.append(MatchField("vlan_pcp", dl_vlan_pcp & 7))
    elif not wildcards & OFPFW_DL_VLAN_PCP:
        fields.append(MatchField("vlan_vid", OFPVID_PRESENT, OFPVID_PRESENT))
        fields.append(MatchField("vlan_pcp", dl_vlan_pcp & 7))

    if wildcards & OFPFW_DL_TYPE:
        pass
    elif dl_type == _ETH_TYPE_IPV4 or dl_type == _ETH_TYPE_IPV6:
        if not wildcards & OFPFW_NW_TOS:
            fields.append(MatchField("ip_dscp", nw_tos >> 2))
        if not wildcards & OFPFW_NW_PROTO:
            fields.append(MatchField("ip_proto", nw_proto))
        if dl_type == _ETH_TYPE_IPV4:
            for field in (_prefix_field("ipv4_src", nw_src, wildcards, OFPFW_NW_SRC_SHIFT),
                          _prefix_field("ipv4_dst", nw_dst, wildcards, OFPFW_NW_DST_SHIFT)):
                if field is not None:
                    fields.append(field)
            transport = _TRANSPORT_V4
        else:
            transport = _TRANSPORT_V6
        names = None if wildcards & OFPFW_NW_PROTO else transport.get(nw_proto)
        if names is not None:
            src_name, dst_name, value_mask = names
            if not wildcards & OFPFW_TP_SRC:
                fields.append(MatchField(src_name, tp_src & value_mask))
            if not wildcards & OFPFW_TP_DST:
                fields.append(MatchField(dst_name, tp_dst & value_mask))
    elif dl_type == _ETH_TYPE_ARP:
        if not wildcards & OFPFW_NW_PROTO:
            fields.append(MatchField("arp_op", nw_proto))
        for field in (_prefix_field("arp_spa", nw_src, wildcards, OFPFW_NW_SRC_SHIFT),
                      _prefix_field("arp_tpa", nw_dst, wildcards, OFPFW_NW_DST_SHIFT)):
            if field is not None:
                fields.append(field)
    return Match._from_sorted(tuple(fields))


def _prefix_count(field: MatchField) -> int:
    """Wildcarded low-order bits for an OF1.0 nw_src/nw_dst; ValueError unless a prefix."""
    if field.mask is None:
        return 0
    inverted = ~field.mask & _U32_MAX
    if inverted & (inverted + 1):
        raise ValueError(f"OF1.0 cannot express {field.name} mask {field.mask:#010x} (not a prefix)")
    return inverted.bit_length()


def encode_match(match: Match) -> bytes:
    """Encode the model as a 40-byte OF1.0 match.

    Raises ValueError for what OF1.0 cannot express (IPv6 addresses, metadata, MPLS,
    masked MACs, non-prefix IPv4 masks, ECN, "any tag" without a PCP, ...)."""
    wildcards = OFPFW_ALL
    in_port = dl_vlan = dl_vlan_pcp = dl_type = nw_tos = nw_proto = 0
    nw_src = nw_dst = tp_src = tp_dst = 0
    dl_src = dl_dst = bytes(6)
    vlan_vid: MatchField | None = None
    has_pcp = False
    for field in match.fields:
        name, value, mask = field
        if name == "vlan_vid":
            vlan_vid = field
            continue
        if name in ("ipv4_src", "arp_spa"):
            nw_src = value
            wildcards = wildcards & ~OFPFW_NW_SRC_MASK | _prefix_count(field) << OFPFW_NW_SRC_SHIFT
            continue
        if name in ("ipv4_dst", "arp_tpa"):
            nw_dst = value
            wildcards = wildcards & ~OFPFW_NW_DST_MASK | _prefix_count(field) << OFPFW_NW_DST_SHIFT
            continue
        if mask is not None:
            raise ValueError(f"OF1.0 cannot express a masked {name}")
        if name == "in_port":
            port = port_to_v10(value)
            if port is None:
                raise ValueError(f"OF1.0 cannot express in_port {value:#x}")
            in_port = port
            wildcards &= ~OFPFW_IN_PORT
        elif name == "eth_dst":
            dl_dst = value.to_bytes(6, "big")
            wildcards &= ~OFPFW_DL_DST
        elif name == "eth_src":
            dl_src = value.to_bytes(6, "big")
            wildcards &= ~OFPFW_DL_SRC
        elif name == "eth_type":
            dl_type = value
            wildcards &= ~OFPFW_DL_TYPE
        elif name == "vlan_pcp":
            dl_vlan_pcp = value
            has_pcp = True
            wildcards &= ~OFPFW_DL_VLAN_PCP
        elif name == "ip_dscp":
            nw_tos = value << 2
            wildcards &= ~OFPFW_NW_TOS
        elif name in ("ip_proto", "arp_op"):
            if value > 0xFF:
                raise ValueError(f"OF1.0 cannot express {name} {value:#x} (8 bits)")
            nw_proto = value
            wildcards &= ~OFPFW_NW_PROTO
        elif name in _TP_SRC_NAMES:
            tp_src = value
            wildcards &= ~OFPFW_TP_SRC
        elif name in _TP_DST_NAMES:
            tp_dst = value
            wildcards &= ~OFPFW_TP_DST
        else:
            raise ValueError(f"OF1.0 cannot express {name}")
    if vlan_vid is not None:
        value, mask = vlan_vid.value, vlan_vid.mask
        if mask is None and value == 0:
            dl_vlan = OFP10_VLAN_NONE
            wildcards &= ~OFPFW_DL_VLAN
        elif mask is None and value & OFPVID_PRESENT:
            dl_vlan = value & 0xFFF
            wildcards &= ~OFPFW_DL_VLAN
        elif not (mask == OFPVID_PRESENT and value == OFPVID_PRESENT and has_pcp):
            raise ValueError(f"OF1.0 cannot express vlan_vid {value:#x}/{mask}")
    return _MATCH.pack(wildcards, in_port, dl_src, dl_dst, dl_vlan, dl_vlan_pcp, dl_type,
                       nw_tos, nw_proto, nw_src, nw_dst, tp_src, tp_dst)
