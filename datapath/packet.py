"""Frame layout: header offsets, the table of settable header fields, checksums, CRC32c.

Sits at the bottom of datapath/, beside the flow key (datapath/flow.py) and below the
action executor (datapath/odp_actions.py), which rewrites headers with what this
module knows.  It owns
  * ``header_offsets``: where L2 ends (after up to two VLAN tags), where L3 and L4
    start, the ethertype and IP protocol -- ``None`` for every layer the frame does
    not have or that is truncated or malformed, never an exception;
  * ``FIELD_LAYOUTS``: for every header field the datapath can set, where its bits sit
    (relative to which header), what minimum header size it needs, and which checksum
    covers it -- one row per field and protocol, as data (``SHAPE_FIELDS``: the
    ethertype and IP protocol, whose place depends on the frame);
  * the Internet checksum (RFC 1071), its incremental update (RFC 1624) and full
    recomputation of IPv4 header and TCP/UDP/ICMP/ICMPv6 checksums;
  * CRC32c (Castagnoli, RFC 3309) for SCTP, table-driven pure Python, and
    ``sctp_crc_delta``, which updates an SCTP checksum for a rewrite in O(log length)
    without reading the payload.

Conventions (as Open vSwitch's ``miniflow_extract``): a VLAN tag is TPID 0x8100 or
0x88a8 and at most two are skipped (like the flow key); an 802.3 frame carrying
LLC/SNAP with OUI 000000 has the SNAP ethertype and its L3 after the SNAP header; an
IPv4 header is valid when version = 4, IHL >= 5 and the total length fits the frame;
an IPv6 header when version = 6 and the payload length fits.  Trailing Ethernet
padding is outside the IP packet.  L4 is absent for later fragments (IPv4 offset != 0,
IPv6 fragment header offset != 0) and when an IPv6 extension header is truncated.

Checksum values are canonical: ``(-sum) % 0xffff`` of the covered 16-bit words, the
same as RFC 1071's ``~fold(sum)`` for any non-zero data, so a full recomputation and
an incremental update give identical bytes.  Incremental updates keep a wrong
checksum wrong by the same amount (as OVS: a corrupted packet is not repaired).
"""

from __future__ import annotations

from struct import Struct
from typing import NamedTuple

ETH_TYPE_NONE = 0x05FF  # OVS FLOW_DL_TYPE_NONE: 802.3 frame without an ethertype
ETH_TYPE_IPV4 = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_RARP = 0x8035
ETH_TYPE_VLAN = 0x8100  # 802.1Q (C-tag)
ETH_TYPE_VLAN_8021AD = 0x88A8  # 802.1ad (S-tag)
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
ND_OPT_SLL = 1  # source link-layer address option
ND_OPT_TLL = 2  # target link-layer address option

VLAN_TPIDS = frozenset((ETH_TYPE_VLAN, ETH_TYPE_VLAN_8021AD))
MPLS_ETH_TYPES = frozenset((ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST))
MAX_VLAN_TAGS = 2
ETH_MIN_LEN = 60  # the shortest Ethernet frame on a wire, without its FCS

_U16 = Struct("!H").unpack_from
_U16_U16 = Struct("!HH").unpack_from
_IPV4 = Struct("!BxHxxHxB").unpack_from  # version/IHL, total length, frag word, proto
_IPV6 = Struct("!BxxxHB").unpack_from  # version/TC nibble, payload length, next header
_SNAP_ETHERNET = b"\xaa\xaa\x03\x00\x00\x00"
_IPV6_EXT_GENERIC = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_IPPROTO_FRAGMENT = 44
_IPPROTO_AH = 51
_IPPROTO_ROUTING = 43

# Fixed header size of the transport protocols whose fields the datapath sets, by
# IP protocol number (a tuple: indexing is cheaper than dict.get per packet).
_L4_MIN_SIZE = tuple({IPPROTO_TCP: 20, IPPROTO_UDP: 8, IPPROTO_SCTP: 12, IPPROTO_ICMP: 4,
                      IPPROTO_ICMPV6: 4}.get(proto, 0) for proto in range(256))
_ETH_IPV4 = Struct("!12xHBxHxxHxB").unpack_from  # untagged IPv4 fast path

# (l2_end, eth_type, l3, l4, ip_proto); see header_offsets.
Offsets = tuple[int | None, int, int | None, int | None, int]
_RUNT: Offsets = (None, 0, None, None, 0)


def header_offsets(frame: bytes | bytearray | memoryview) -> Offsets:
    """``(l2_end, eth_type, l3, l4, ip_proto)`` of an Ethernet frame.

    ``l2_end`` is the offset just past the ethertype field behind the VLAN tags (None
    for a runt under 14 bytes); ``eth_type`` that ethertype (``ETH_TYPE_NONE`` for
    802.3 without SNAP, 0 for a runt); ``l3`` the offset of the L3 header (None when
    there is none: runt, plain 802.3, or an invalid IPv4/IPv6 header); ``l4`` the
    transport header behind IPv4 options or IPv6 extension headers (None when not IP,
    for later fragments, truncated extension headers, or a TCP/UDP/SCTP/ICMP/ICMPv6
    header cut short by the IP length); ``ip_proto`` the IP protocol
    (IPv6: the last next-header value reached; 0 when not IP).  L3 headers other than
    IP (ARP, MPLS, PBB, ...) are reported at ``l3`` without a length check: their
    users check the size they need.  Never raises.
    """
    size = len(frame)
    if size >= 34:  # fast path: untagged IPv4 without options, not a later fragment
        eth_type, vihl, total, frag, proto = _ETH_IPV4(frame, 0)
        if eth_type == 0x0800 and vihl == 0x45 and not frag & 0x1FFF and \
                20 + _L4_MIN_SIZE[proto] <= total <= size - 14:
            return 14, 0x0800, 14, 34, proto
    elif size < 14:
        return _RUNT
    eth_type = _U16(frame, 12)[0]
    ofs = 14
    tags = 0
    while (eth_type == 0x8100 or eth_type == 0x88A8) and tags < MAX_VLAN_TAGS:
        if size < ofs + 4:
            return None, eth_type, None, None, 0  # truncated tag
        eth_type = _U16(frame, ofs + 2)[0]
        ofs += 4
        tags += 1
    l3 = ofs
    if eth_type < 0x0600:
        if frame[ofs:ofs + 6] != _SNAP_ETHERNET or size < ofs + 8:
            return ofs, ETH_TYPE_NONE, None, None, 0
        eth_type = _U16(frame, ofs + 6)[0]
        if eth_type < 0x0600:
            return ofs, ETH_TYPE_NONE, None, None, 0
        l3 = ofs + 8
    if eth_type == 0x0800:
        if size < l3 + 20:
            return ofs, eth_type, None, None, 0
        vihl, total, frag, proto = _IPV4(frame, l3)
        ihl = (vihl & 15) << 2
        if vihl >> 4 != 4 or ihl < 20 or total < ihl or l3 + total > size:
            return ofs, eth_type, None, None, 0
        if frag & 0x1FFF or ihl + _L4_MIN_SIZE[proto] > total:
            return ofs, eth_type, l3, None, proto
        return ofs, eth_type, l3, l3 + ihl, proto
    if eth_type == 0x86DD:
        if size < l3 + 40:
            return ofs, eth_type, None, None, 0
        vtc, payload, proto = _IPV6(frame, l3)
        end = l3 + 40 + payload
        if vtc >> 4 != 6 or end > size:
            return ofs, eth_type, None, None, 0
        l4: int | None = l3 + 40
        if proto in _IPV6_EXT_GENERIC or proto == _IPPROTO_FRAGMENT or proto == _IPPROTO_AH:
            proto, l4 = _ipv6_skip_extensions(frame, l3 + 40, end, proto)
        if l4 is not None and l4 + _L4_MIN_SIZE[proto] > end:
            l4 = None
        return ofs, eth_type, l3, l4, proto
    return ofs, eth_type, l3, None, 0


def _ipv6_skip_extensions(
    frame: bytes | bytearray | memoryview, ofs: int, end: int, proto: int
) -> tuple[int, int | None]:
    """(final next header, L4 offset or None) behind IPv6 extension headers at ofs.

    Every step advances by at least 8 bytes, so the walk is bounded by ``end``.
    """
    while True:
        if proto in _IPV6_EXT_GENERIC:
            if end < ofs + 8:
                return proto, None
            proto = frame[ofs]
            ofs += (frame[ofs + 1] + 1) << 3
        elif proto == _IPPROTO_AH:
            if end < ofs + 8:
                return proto, None
            proto = frame[ofs]
            ofs += (frame[ofs + 1] + 2) << 2
        elif proto == _IPPROTO_FRAGMENT:
            if end < ofs + 8:
                return proto, None
            if _U16(frame, ofs + 2)[0] & 0xFFF8:
                return proto, None  # later fragment: OVS keys ip_proto 44 too
            proto = frame[ofs]
            ofs += 8
        else:
            return proto, ofs if ofs <= end else None


def ipv6_proto_offset(frame: bytes | bytearray | memoryview, l3: int, end: int) -> int:
    """Offset of the next-header byte holding the IPv6 packet's final protocol (the
    ``ip_proto`` of ``header_offsets``): the fixed header's, or the last extension
    header's that the same walk reaches.  ``end``: the end of the IPv6 packet."""
    at, ofs = l3 + 6, l3 + 40
    while end >= ofs + 8:
        proto = frame[at]
        if proto in _IPV6_EXT_GENERIC:
            step = (frame[ofs + 1] + 1) << 3
        elif proto == _IPPROTO_AH:
            step = (frame[ofs + 1] + 2) << 2
        elif proto == _IPPROTO_FRAGMENT and not _U16(frame, ofs + 2)[0] & 0xFFF8:
            step = 8
        else:
            break
        at, ofs = ofs, ofs + step
    return at


def ipv6_routing_pending(frame: bytes | bytearray | memoryview, l3: int, l4: int) -> bool:
    """True when an IPv6 routing header with segments left > 0 sits between l3 and l4.

    The transport pseudo-header then uses the routing header's final address, so a
    rewrite of ipv6_dst does not change the L4 checksum (OVS ``packet_rh_present``).
    """
    ofs = l3 + 40
    proto = frame[l3 + 6]
    while ofs + 8 <= l4:
        if proto == _IPPROTO_ROUTING and frame[ofs + 3]:
            return True
        if proto == _IPPROTO_AH:
            step = (frame[ofs + 1] + 2) << 2
        elif proto == _IPPROTO_FRAGMENT:
            step = 8
        else:
            step = (frame[ofs + 1] + 1) << 3
        proto = frame[ofs]
        ofs += step
    return False


def ethertype_offset(frame: bytes | bytearray | memoryview) -> int | None:
    """Offset of the ethertype field behind the (at most two) VLAN tags; None for runts."""
    size = len(frame)
    if size < 14:
        return None
    ofs = 12
    while ofs < 20 and size >= ofs + 6 and _U16(frame, ofs)[0] in VLAN_TPIDS:
        ofs += 4
    return ofs


def ip_payload_end(frame: bytes | bytearray | memoryview, l3: int, eth_type: int) -> int:
    """End offset of the IP packet at l3 (trailing Ethernet padding excluded).

    Only for headers ``header_offsets`` reported valid.
    """
    if eth_type == ETH_TYPE_IPV4:
        return l3 + _U16(frame, l3 + 2)[0]
    return l3 + 40 + _U16(frame, l3 + 4)[0]


# ------------------------------------------------------------------ settable fields

ANCHOR_ETH = 0  # frame start
ANCHOR_VLAN = 1  # outer VLAN tag (TPID at 12, TCI at 14); only when the frame is tagged
ANCHOR_L3 = 2  # the L3 header, for the listed ethertypes
ANCHOR_L4 = 3  # the L4 header, for the listed ethertypes and IP protocols
ANCHOR_ND = 4  # ICMPv6 neighbour solicitation/advertisement (L4, type 135/136)
ANCHOR_ND_SLL = 5  # the ND source link-layer address option
ANCHOR_ND_TLL = 6  # the ND target link-layer address option

CSUM_NONE = 0
CSUM_IPV4 = 1  # inside the IPv4 header: header checksum
CSUM_IPV4_ADDR = 2  # IPv4 address: header checksum and TCP/UDP pseudo-header
CSUM_IPV6_ADDR = 3  # IPv6 address: TCP/UDP/ICMPv6 pseudo-header
CSUM_IPV6_DST = 4  # as CSUM_IPV6_ADDR unless a routing header has segments left
CSUM_L4 = 5  # inside the transport header: TCP/UDP/ICMP/ICMPv6 checksum
CSUM_SCTP = 6  # inside the SCTP header: CRC32c

# L4 checksum offset from the L4 header, per IP protocol.
L4_CSUM_OFFSET = {IPPROTO_TCP: 16, IPPROTO_UDP: 6, IPPROTO_ICMP: 2, IPPROTO_ICMPV6: 2}


class Layout(NamedTuple):
    """Where one settable field sits in frames of some protocols.

    The field is bits ``[shift, shift + bits)`` of the big-endian integer made of the
    ``size`` bytes at ``anchor + offset``; the header at the anchor must have at least
    ``min_len`` bytes (and start with ``guard``) for the field to exist.
    """

    anchor: int
    eth_types: frozenset[int]
    ip_protos: frozenset[int]
    offset: int
    size: int
    shift: int
    bits: int
    min_len: int
    csum: int
    guard: bytes = b""


_NO = frozenset[int]()
_V4 = frozenset((ETH_TYPE_IPV4,))
_V6 = frozenset((ETH_TYPE_IPV6,))
_IP = _V4 | _V6
_ARP_TYPES = frozenset((ETH_TYPE_ARP, ETH_TYPE_RARP))
_ARP_GUARD = b"\x00\x01\x08\x00\x06\x04"  # Ethernet hardware, IPv4 protocol addresses
_TCP = frozenset((IPPROTO_TCP,))
_UDP = frozenset((IPPROTO_UDP,))
_SCTP = frozenset((IPPROTO_SCTP,))
_ICMP = frozenset((IPPROTO_ICMP,))
_ICMP6 = frozenset((IPPROTO_ICMPV6,))


def _eth(offset: int) -> tuple[Layout, ...]:
    return (Layout(ANCHOR_ETH, _NO, _NO, offset, 6, 0, 48, 14, CSUM_NONE),)


def _l3(types: frozenset[int], ofs: int, size: int, shift: int, bits: int, min_len: int,
        csum: int = CSUM_NONE, guard: bytes = b"") -> Layout:
    return Layout(ANCHOR_L3, types, _NO, ofs, size, shift, bits, min_len, csum, guard)


def _l4(types: frozenset[int], protos: frozenset[int], ofs: int, size: int, min_len: int,
        csum: int) -> tuple[Layout, ...]:
    return (Layout(ANCHOR_L4, types, protos, ofs, size, 0, size * 8, min_len, csum),)


def _arp(ofs: int, size: int) -> tuple[Layout, ...]:
    return (_l3(_ARP_TYPES, ofs, size, 0, size * 8, 28, guard=_ARP_GUARD),)


FIELD_LAYOUTS: dict[str, tuple[Layout, ...]] = {
    "eth_dst": _eth(0),
    "eth_src": _eth(6),
    "vlan_vid": (Layout(ANCHOR_VLAN, _NO, _NO, 2, 2, 0, 12, 4, CSUM_NONE),),
    "vlan_pcp": (Layout(ANCHOR_VLAN, _NO, _NO, 2, 2, 13, 3, 4, CSUM_NONE),),
    "mpls_label": (_l3(MPLS_ETH_TYPES, 0, 4, 12, 20, 4),),
    "mpls_tc": (_l3(MPLS_ETH_TYPES, 2, 1, 1, 3, 4),),
    "mpls_bos": (_l3(MPLS_ETH_TYPES, 2, 1, 0, 1, 4),),
    "mpls_ttl": (_l3(MPLS_ETH_TYPES, 3, 1, 0, 8, 4),),
    "ipv4_src": (_l3(_V4, 12, 4, 0, 32, 20, CSUM_IPV4_ADDR),),
    "ipv4_dst": (_l3(_V4, 16, 4, 0, 32, 20, CSUM_IPV4_ADDR),),
    "ip_dscp": (_l3(_V4, 1, 1, 2, 6, 20, CSUM_IPV4), _l3(_V6, 0, 2, 6, 6, 40)),
    "ip_ecn": (_l3(_V4, 1, 1, 0, 2, 20, CSUM_IPV4), _l3(_V6, 0, 2, 4, 2, 40)),
    "ip_ttl": (_l3(_V4, 8, 1, 0, 8, 20, CSUM_IPV4), _l3(_V6, 7, 1, 0, 8, 40)),
    "ipv6_src": (_l3(_V6, 8, 16, 0, 128, 40, CSUM_IPV6_ADDR),),
    "ipv6_dst": (_l3(_V6, 24, 16, 0, 128, 40, CSUM_IPV6_DST),),
    "ipv6_flabel": (_l3(_V6, 0, 4, 0, 20, 40),),
    "tcp_src": _l4(_IP, _TCP, 0, 2, 20, CSUM_L4),
    "tcp_dst": _l4(_IP, _TCP, 2, 2, 20, CSUM_L4),
    "udp_src": _l4(_IP, _UDP, 0, 2, 8, CSUM_L4),
    "udp_dst": _l4(_IP, _UDP, 2, 2, 8, CSUM_L4),
    "sctp_src": _l4(_IP, _SCTP, 0, 2, 12, CSUM_SCTP),
    "sctp_dst": _l4(_IP, _SCTP, 2, 2, 12, CSUM_SCTP),
    "icmpv4_type": _l4(_V4, _ICMP, 0, 1, 4, CSUM_L4),
    "icmpv4_code": _l4(_V4, _ICMP, 1, 1, 4, CSUM_L4),
    "icmpv6_type": _l4(_V6, _ICMP6, 0, 1, 4, CSUM_L4),
    "icmpv6_code": _l4(_V6, _ICMP6, 1, 1, 4, CSUM_L4),
    "arp_op": _arp(6, 2),
    "arp_sha": _arp(8, 6),
    "arp_spa": _arp(14, 4),
    "arp_tha": _arp(18, 6),
    "arp_tpa": _arp(24, 4),
    "ipv6_nd_target": (Layout(ANCHOR_ND, _V6, _ICMP6, 8, 16, 0, 128, 24, CSUM_L4),),
    "ipv6_nd_sll": (Layout(ANCHOR_ND_SLL, _V6, _ICMP6, 2, 6, 0, 48, 8, CSUM_L4),),
    "ipv6_nd_tll": (Layout(ANCHOR_ND_TLL, _V6, _ICMP6, 2, 6, 0, 48, 8, CSUM_L4),),
    "pbb_isid": (_l3(frozenset((ETH_TYPE_PBB,)), 1, 3, 0, 24, 4),),
}

# Fields that decide how the headers behind them are read: the ethertype behind the
# VLAN tags (the SNAP one for 802.3/SNAP frames) and the IP protocol (IPv4's protocol
# byte; IPv6's last next-header of the chain, the one ``header_offsets`` stops at).
# No layout row: their place depends on the frame (``field_writers``), and a rewrite
# changes the meaning of every later offset.
SHAPE_FIELDS: dict[str, int] = {"eth_type": 16, "ip_proto": 8}

FIELD_BITS: dict[str, int] = {name: rows[0].bits for name, rows in FIELD_LAYOUTS.items()}
FIELD_BITS.update(SHAPE_FIELDS)


def nd_option_offset(
    frame: bytes | bytearray | memoryview, l4: int, end: int, opt_type: int
) -> int | None:
    """Offset of the first ND link-layer option of ``opt_type`` (length 1 = 8 bytes)
    in the NS/NA at l4 whose ICMPv6 message ends at ``end``; None when absent.

    Stops at a zero-length option (malformed: would never advance), as OVS does.
    """
    ofs = l4 + 24
    while ofs + 8 <= end:
        size = frame[ofs + 1] << 3
        if not size:
            return None
        if frame[ofs] == opt_type and size == 8:
            return ofs
        ofs += size
    return None


# ------------------------------------------------------------------ Internet checksum


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    """Ones' complement sum of the 16-bit big-endian words of ``data`` modulo 0xffff
    (an odd length is padded with a zero byte).  2**16 = 1 (mod 0xffff), so the value
    of the whole byte string as one big integer has the same residue as its words."""
    value = int.from_bytes(data, "big")
    if len(data) & 1:
        value <<= 8
    return value % 0xFFFF


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """RFC 1071 Internet checksum of ``data`` (plus an ``initial`` ones' sum, e.g. a
    pseudo-header), with the checksum field itself zeroed by the caller."""
    total = ones_sum(data) + initial
    if total == 0 and not any(data):
        return 0xFFFF  # ~fold(0): only for all-zero data
    return -total % 0xFFFF


def csum_update(csum: int, old: int, new: int) -> int:
    """RFC 1624 eqn. 3 for a change of the covered words from ``old`` to ``new``.

    ``old``/``new`` are the changed bytes read as big-endian integers, aligned so that
    their lowest byte is the low byte of a 16-bit word of the checksummed data (shift
    a lone high byte left by 8).  Any number of words at once: their residues modulo
    0xffff are their ones' sums.
    """
    return (csum + old - new) % 0xFFFF


def ipv4_header_checksum(frame: bytes | bytearray | memoryview, l3: int) -> int:
    """Full IPv4 header checksum of the header at l3 (its checksum field ignored)."""
    end = l3 + ((frame[l3] & 15) << 2)
    return checksum(bytes(frame[l3:l3 + 10]) + bytes(frame[l3 + 12:end]))


def pseudo_header_sum(
    frame: bytes | bytearray | memoryview, l3: int, eth_type: int, proto: int, size: int
) -> int:
    """Ones' sum of the TCP/UDP/ICMPv6 pseudo-header for an L4 segment of ``size``
    bytes (IPv6: the destination is ipv6_dst; routing headers are not followed)."""
    if eth_type == ETH_TYPE_IPV4:
        return (ones_sum(frame[l3 + 12:l3 + 20]) + proto + size) % 0xFFFF
    return (ones_sum(frame[l3 + 8:l3 + 40]) + proto + size) % 0xFFFF


def l4_checksum(frame: bytes | bytearray | memoryview, offsets: Offsets) -> int | None:
    """Full checksum of the TCP/UDP/ICMP/ICMPv6 segment described by ``offsets``, or
    None when the frame has none.  The stored checksum field is ignored; a UDP result
    of 0 is returned as 0xffff (RFC 768)."""
    _, eth_type, l3, l4, proto = offsets
    if l3 is None or l4 is None or proto not in L4_CSUM_OFFSET:
        return None
    if (proto == IPPROTO_ICMP and eth_type != ETH_TYPE_IPV4) or (
        proto == IPPROTO_ICMPV6 and eth_type != ETH_TYPE_IPV6
    ):
        return None
    end = ip_payload_end(frame, l3, eth_type)
    at = l4 + L4_CSUM_OFFSET[proto]
    if at + 2 > end:
        return None
    data = bytes(frame[l4:at]) + b"\0\0" + bytes(frame[at + 2:end])
    initial = 0 if proto == IPPROTO_ICMP else pseudo_header_sum(
        frame, l3, eth_type, proto, end - l4)
    value = checksum(data, initial)
    return 0xFFFF if value == 0 and proto == IPPROTO_UDP else value


# ------------------------------------------------------------------ CRC32c (SCTP)

_CRC32C_POLY = 0x82F63B78  # Castagnoli polynomial, bit-reflected


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c_raw(crc: int, data: bytes | bytearray | memoryview) -> int:
    """Run the reflected CRC32c register ``crc`` over ``data`` (no pre/post inversion)."""
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32c of ``data`` (RFC 3309; ``crc32c(b"123456789") == 0xe3069283``).
    SCTP stores it little-endian in the common header's checksum field."""
    return crc32c_raw(0xFFFFFFFF, data) ^ 0xFFFFFFFF


def _gf2_mulmod(a: int, b: int) -> int:
    """a * b modulo the CRC32c polynomial, both in the reflected representation
    (bit 31 is x**0)."""
    product = 0
    bit = 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC32C_POLY if b & 1 else b >> 1
    return product


def _x_pow_2k() -> tuple[int, ...]:
    """x**(2**k) modulo the polynomial, k = 0..63 (reflected)."""
    powers = [1 << 30]  # x**1
    for _ in range(63):
        powers.append(_gf2_mulmod(powers[-1], powers[-1]))
    return tuple(powers)


_X_POW_2K = _x_pow_2k()


def crc32c_shift_zeros(crc: int, count: int) -> int:
    """The raw CRC32c register ``crc`` after ``count`` zero bytes, in O(log count):
    appending a zero byte multiplies the register by x**8 modulo the polynomial."""
    exponent = 8 * count
    k = 0
    while exponent and crc:
        if exponent & 1:
            crc = _gf2_mulmod(_X_POW_2K[k], crc)
        exponent >>= 1
        k += 1
    return crc


def sctp_crc_delta(old: bytes, new: bytes, offset: int, total: int) -> int:
    """Value to XOR into the (little-endian read) SCTP checksum when the bytes at
    ``offset`` of a ``total``-byte SCTP packet change from ``old`` to ``new``.

    CRC32c is affine over XOR: crc(A) ^ crc(B) = raw(A ^ B) for equal lengths, and
    A ^ B is zero outside the change, so only the changed bytes are read and the
    zeros behind them are skipped with ``crc32c_shift_zeros``.  Like OVS's
    ``packet_set_sctp_port``, a wrong checksum stays exactly as wrong.
    """
    diff = bytes(a ^ b for a, b in zip(old, new))
    raw = crc32c_raw(0, diff)  # zeros before the change leave a zero register zero
    return crc32c_shift_zeros(raw, total - offset - len(diff))


def sctp_checksum(frame: bytes | bytearray | memoryview, l4: int, end: int) -> int:
    """Full CRC32c of the SCTP packet frame[l4:end] with its checksum field zeroed."""
    return crc32c(bytes(frame[l4:l4 + 8]) + b"\0\0\0\0" + bytes(frame[l4 + 12:end]))
