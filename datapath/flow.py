"""Flow key: the layout of the datapath's flow key, and its extraction from a frame.

Sits at the bottom of datapath/ (the seeds' ``flow_extract``): netdevs hand it raw
frames, the caches (datapath/cache.py) key on what it returns, the slow path reads the
fields back by name.  It owns the key layout (``FIELDS``), ``extract`` and the debug
formatting.  Knows nothing of OpenFlow: field names are plain networking names.

The key is ONE Python int.  Every field of ``FIELDS`` sits at a fixed bit offset, in the
order of the table (the first field in the most significant bits), each in a slot of
whole bytes (width rounded up to 1, 2, 4, 6, 8 or 16 bytes) with the value in the
slot's low bits.  ``key.to_bytes(KEY_SIZE)`` is therefore the key as a packed
big-endian struct, which is also how ``extract`` builds it: one ``Struct.pack`` of the
fields a protocol has (bytes copied from the frame where the frame order equals the
key order: MACs, address pairs, port pairs) and one ``int.from_bytes``.  A megaflow
mask is an int of the same layout, so masking a key is one ``&``.  ``tcp_flags`` is
the last field (OVS keeps it among the L3/L4 fields too) so that ``key & 0xfff`` -- a
cheap operation on a big int -- yields the flags for per-flow statistics.

Field semantics follow Open vSwitch's ``struct flow`` and ``miniflow_extract``
(lib/flow.c), which is what the OpenFlow layer expects:
  * ``vlan_tci``: 0 = no tag; else 0x1000 (CFI, "tag present") | PCP << 13 | VID, of
    the outermost tag, ``vlan_tpid`` its TPID; ``cvlan_tci`` the second tag.  Two tags
    at most (OVS's default vlan-limit); ``eth_type`` is the ethertype behind them.
  * 802.3 frames: ``eth_type`` 0x05ff (FLOW_DL_TYPE_NONE), unless LLC/SNAP with OUI
    000000 carries an ethertype, which is then used (as OVS).
  * MPLS: ``mpls_lse`` is the top label stack entry; nothing behind the stack is parsed.
  * PBB (0x88e7): ``pbb_isid`` from the I-TAG; the customer frame is not parsed (OVS
    does not parse PBB at all; OpenFlow 1.3 matches only the I-SID).
  * ARP/RARP with Ethernet/IPv4 addresses: spa/tpa in ``ipv4_src``/``ipv4_dst``, the
    opcode in ``ip_proto`` when it fits in 8 bits, sha/tha in ``arp_sha``/``arp_tha``.
  * IPv4/IPv6: ``ip_tos`` is DSCP << 2 | ECN; ``ip_frag`` 1 = fragment, 3 = later
    fragment (no L4 then; for IPv6 ``ip_proto`` is then 44 like OVS).  Trailing
    Ethernet padding is ignored (L4 is bounded by the IP lengths).
  * ``ipv6_exthdr``: OpenFlow 1.3 OFPIEH_* bits (not in OVS), see ``_ipv6_ext_walk``.
  * TCP/UDP/SCTP ports and ICMPv4/ICMPv6 type/code in ``tp_src``/``tp_dst``;
    ``tcp_flags`` = the low 12 bits of TCP's offset/flags word.
  * ICMPv6 ND (NS 135 / NA 136 with code 0): ``nd_target``, ``nd_sll``, ``nd_tll``.

Where OVS's choices are odd we still follow them, so that the OpenFlow layer sees the
fields OVS would: no IP version check; TCP fields only with a data offset of 5..15
words within the IP payload; IGMP type/code (IPv4 or IPv6) and ICMPv6 type/code inside
IPv4 also land in ``tp_src``/``tp_dst``.  One deliberate difference: ND options are
parsed only in IPv6 (OVS also parses them in ICMPv6-over-IPv4).  The test suite checks
all of this against OVS 3.1's own flow_extract (ovs-ofctl printing PACKET_INs).

Malformed frames never raise.  The key then holds the layers that were valid, as OVS
does: a runt (< 14 bytes) keys only metadata; a bad IPv4/IPv6 header (short, bad IHL,
total/payload length beyond the frame) keys only L2 + ``eth_type``; a truncated IPv6
extension header keeps only the IPv6 addresses; a short L4 header leaves the L4 fields
zero; a truncated ND message or option list keeps what came before.  Each such frame
adds one to ``counters.malformed`` (a module-level counter: cheap, and single-threaded
callers attribute it to a port by reading it before and after a batch).  Unknown
ethertypes and non-Ethernet ARP are not malformed, just keyed on L2.

Speed: untagged-in-band IPv4 and IPv6 (no options / extension headers) carrying TCP or
UDP, 48+ bytes, no tunnel, take a fast path of one ``unpack_from`` and one ``pack``;
everything else the general parse (the tests check both give the same key).  Measured
alternatives on the 2-vCPU VM: building the key with shifts and ORs of big ints, or
packing all 30 fields, cost ~1.5-2x the chosen unpack + padded pack + from_bytes.

``extract`` returns only the key (the fast path needs nothing else); the actions find
header offsets themselves (datapath/packet.py ``header_offsets``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from struct import Struct

from datapath.packet import ETH_TYPE_NONE  # 802.3 frame without an ethertype (re-exported)

# ------------------------------------------------------------------ layout (data)

FIELDS: tuple[tuple[str, int], ...] = (
    # metadata
    ("in_port", 32),  # datapath port number
    ("tun_id", 64),
    ("tun_ipv4_src", 32),
    ("tun_ipv4_dst", 32),
    # L2
    ("eth_dst", 48),
    ("eth_src", 48),
    ("eth_type", 16),  # innermost, behind VLAN tags; 0x05ff = 802.3 without SNAP
    ("vlan_tci", 16),  # 0x1000 present | PCP << 13 | VID (outer tag)
    ("vlan_tpid", 16),  # 0x8100 / 0x88a8 of the outer tag
    ("cvlan_tci", 16),  # second (inner) tag, same encoding
    ("mpls_lse", 32),  # top label stack entry: label 20 | TC 3 | BoS 1 | TTL 8
    ("pbb_isid", 24),
    # L3
    ("ipv4_src", 32),  # ARP: spa
    ("ipv4_dst", 32),  # ARP: tpa
    ("ipv6_src", 128),
    ("ipv6_dst", 128),
    ("ipv6_flabel", 20),
    ("ip_proto", 8),  # ARP: opcode (low byte)
    ("ip_tos", 8),  # DSCP << 2 | ECN
    ("ip_ttl", 8),
    ("ip_frag", 8),  # FRAG_ANY | FRAG_LATER
    ("ipv6_exthdr", 16),  # IEH_* bits
    ("arp_sha", 48),
    ("arp_tha", 48),
    # L4
    ("tp_src", 16),  # TCP/UDP/SCTP port, ICMP type
    ("tp_dst", 16),  # TCP/UDP/SCTP port, ICMP code
    ("nd_target", 128),
    ("nd_sll", 48),
    ("nd_tll", 48),
    ("tcp_flags", 16),  # low 12 bits; last so that key & 0xfff is cheap
)

FRAG_ANY = 1  # OVS FLOW_NW_FRAG_ANY
FRAG_LATER = 2  # OVS FLOW_NW_FRAG_LATER
VLAN_PRESENT = 0x1000  # OVS VLAN_CFI used as "tag present"
TCP_FLAGS_MASK = 0x0FFF

# OpenFlow 1.3 ofp_ipv6exthdr_flags values (the key stores them as is).
IEH_NONEXT = 1 << 0
IEH_ESP = 1 << 1
IEH_AUTH = 1 << 2
IEH_DEST = 1 << 3
IEH_FRAG = 1 << 4
IEH_ROUTER = 1 << 5
IEH_HOP = 1 << 6
IEH_UNREP = 1 << 7
IEH_UNSEQ = 1 << 8


def _slot_size(width: int) -> int:
    size = (width + 7) // 8
    return 4 if size == 3 else size  # 20/24-bit fields take a 4-byte slot


FIELD_WIDTH: dict[str, int] = dict(FIELDS)
KEY_SIZE: int = sum(_slot_size(w) for _, w in FIELDS)  # bytes
KEY_BITS: int = KEY_SIZE * 8
FIELD_OFFSET: dict[str, int] = {}  # bit offset of the field's least significant bit
FIELD_MASK: dict[str, int] = {}  # the field's bits within a key
_FIELD_BYTE: dict[str, int] = {}  # byte offset of the slot in key.to_bytes(KEY_SIZE)
_position = 0
for _name, _width in FIELDS:
    _FIELD_BYTE[_name] = _position
    _position += _slot_size(_width)
    FIELD_OFFSET[_name] = (KEY_SIZE - _position) * 8
    FIELD_MASK[_name] = ((1 << _width) - 1) << FIELD_OFFSET[_name]
FULL_MASK: int = (1 << KEY_BITS) - 1
_INT_CODE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _packer(*groups: str | tuple[str, ...]) -> Struct:
    """A Struct that packs a whole key from one argument per group, in layout order.

    A group is one field name (packed as an int) or a tuple of adjacent byte-sized
    fields packed from one bytes argument (e.g. eth_dst+eth_src straight from the
    frame); every field not named is zero padding.
    """
    fmt, position = ["!"], 0
    for group in groups:
        names = (group,) if isinstance(group, str) else group
        start = _FIELD_BYTE[names[0]]
        size = sum(_slot_size(FIELD_WIDTH[n]) for n in names)
        if any(_FIELD_BYTE[n] < position for n in names) or start < position:
            raise ValueError(f"key packer groups out of layout order at {names}")
        if start > position:
            fmt.append(f"{start - position}x")
        if isinstance(group, str) and size in _INT_CODE:
            fmt.append(_INT_CODE[size])
        else:
            fmt.append(f"{size}s")
        position = start + size
    if KEY_SIZE > position:
        fmt.append(f"{KEY_SIZE - position}x")
    struct = Struct("".join(fmt))
    assert struct.size == KEY_SIZE
    return struct


_META = ("in_port", "tun_id", "tun_ipv4_src", "tun_ipv4_dst")
_L2 = (("eth_dst", "eth_src"), "eth_type", "vlan_tci", "vlan_tpid", "cvlan_tci")
_pack_l2 = _packer(*_META, *_L2, "mpls_lse", "pbb_isid").pack
_pack_ipv4 = _packer(
    *_META, *_L2, ("ipv4_src", "ipv4_dst"), "ip_proto", "ip_tos", "ip_ttl", "ip_frag",
    ("tp_src", "tp_dst"), "tcp_flags",
).pack
_pack_ipv6 = _packer(
    *_META, *_L2, ("ipv6_src", "ipv6_dst"), "ipv6_flabel", "ip_proto", "ip_tos",
    "ip_ttl", "ip_frag", "ipv6_exthdr", ("tp_src", "tp_dst"), "nd_target",
    ("nd_sll", "nd_tll"), "tcp_flags",
).pack
_pack_arp = _packer(
    *_META, *_L2, "ipv4_src", "ipv4_dst", "ip_proto", "arp_sha", "arp_tha"
).pack

_pack_fast = _packer(
    "in_port", ("eth_dst", "eth_src"), "eth_type", "vlan_tci", "vlan_tpid",
    ("ipv4_src", "ipv4_dst"), "ip_proto", "ip_tos", "ip_ttl", ("tp_src", "tp_dst"),
    "tcp_flags",
).pack

_pack_fast6 = _packer(
    "in_port", ("eth_dst", "eth_src"), "eth_type", "vlan_tci", "vlan_tpid",
    ("ipv6_src", "ipv6_dst"), "ipv6_flabel", "ip_proto", "ip_tos", "ip_ttl",
    ("tp_src", "tp_dst"), "tcp_flags",
).pack

# ------------------------------------------------------------------ frame parsing

# Ethernet + IPv4 (no options) + the first 14 bytes of TCP, for the fast path:
# dst+src, type, version/IHL, TOS, total length, flags/fragment offset, TTL, proto,
# src+dst, ports, TCP data offset/flags word.
_fast_ipv4 = Struct("!12sHBBH2xHBB2x8s4s8xH").unpack_from
# IPv6 header (version/TC/flow label, payload length, next header, hop limit,
# src+dst) + ports + TCP data offset/flags word, from offset 14.
_fast_ipv6 = Struct("!IHBB32s4s8xH").unpack_from

_eth = Struct("!12sH").unpack_from  # dst+src, ethertype
_u16x2 = Struct("!HH").unpack_from  # VLAN tag: TCI, next ethertype
_u32 = Struct("!I").unpack_from  # MPLS LSE, PBB I-TAG
_llc_snap = Struct("!6sH").unpack_from  # LLC+SNAP header (AA AA 03 00 00 00), type
# version/IHL, TOS, total length, (id), flags/fragment offset, TTL, proto, (csum), src+dst
_ipv4 = Struct("!BBH2xHBB2x8s").unpack_from
_ipv6 = Struct("!IHBB32s").unpack_from  # version/TC/flow label, payload len, next, hlim
_ports = Struct("!4s").unpack_from  # UDP/SCTP ports, or TCP below
_tcp = Struct("!4s8xH").unpack_from  # ports, data offset/flags word
_icmp = Struct("!BB").unpack_from  # type, code
_tp_icmp = Struct("!xBxB").pack  # ICMP type/code as tp_src/tp_dst bytes
# hrd, pro, hln, pln, op, sha, spa, tha, tpa
_arp = Struct("!HHBBH6sI6sI").unpack_from
_nd_target = Struct("!16s").unpack_from
_nd_mac = Struct("!6s").unpack_from  # in an SLL/TLL option
_ZERO_MAC = bytes(6)
_from_bytes = int.from_bytes
_SNAP_ETHERNET = b"\xaa\xaa\x03\x00\x00\x00"
_EXT_HEADERS = frozenset((0, 43, 44, 50, 51, 59, 60))  # the walk looks at these


class ExtractCounters:
    """Frames extracted with a malformed (truncated or invalid) layer."""

    __slots__ = ("malformed",)

    def __init__(self) -> None:
        self.malformed = 0


counters = ExtractCounters()


def extract(
    frame: bytes | bytearray | memoryview,
    in_port: int,
    vlan_tci: int = 0,
    tun: tuple[int, int, int] | None = None,
    vlan_tpid: int = 0x8100,
) -> int:
    """The flow key of ``frame`` received on datapath port ``in_port``.

    ``vlan_tci``: the tag the kernel stripped (PACKET_AUXDATA tp_vlan_tci), restored
    as the outer tag, the frame's own tags then following it; pass ``tci | 0x1000``
    when TP_STATUS_VLAN_VALID is set so that a zero TCI (priority tag) counts, 0 when
    nothing was stripped.  ``vlan_tpid``: its TPID (tp_vlan_tpid).  ``tun``:
    (tun_id, tun_ipv4_src, tun_ipv4_dst) for frames from a tunnel port.
    Never raises on any frame content; see the module docstring for malformed frames.
    """
    size = len(frame)
    if tun is None and size >= 48:
        # Fast path, one unpack: untagged IPv4 without options or fragmentation carrying
        # UDP or TCP.  Anything else falls through to the general parse below.
        macs, eth_type, vihl, tos, total, frag_off, ttl, proto, addrs, tp, tcp_word = (
            _fast_ipv4(frame, 0))
        if eth_type == 0x0800 and vihl == 0x45 and not frag_off & 0x3FFF and total <= size - 14:
            if proto == 17:
                if total >= 28:
                    return _from_bytes(_pack_fast(
                        in_port, macs, 0x0800, vlan_tci | VLAN_PRESENT if vlan_tci else 0,
                        vlan_tpid if vlan_tci else 0, addrs, 17, tos, ttl, tp, 0))
            elif proto == 6:
                if total >= 40 and tcp_word >= 0x5000 and (tcp_word >> 10) & 0x3C <= total - 20:
                    return _from_bytes(_pack_fast(
                        in_port, macs, 0x0800, vlan_tci | VLAN_PRESENT if vlan_tci else 0,
                        vlan_tpid if vlan_tci else 0, addrs, 6, tos, ttl, tp,
                        tcp_word & TCP_FLAGS_MASK))
        elif eth_type == 0x86DD and size >= 68:
            # IPv6 without extension headers carrying UDP or TCP.
            vtcfl, payload, proto, hlim, addrs, tp, tcp_word = _fast_ipv6(frame, 14)
            if payload <= size - 54:
                if proto == 17:
                    if payload >= 8:
                        return _from_bytes(_pack_fast6(
                            in_port, macs, 0x86DD, vlan_tci | VLAN_PRESENT if vlan_tci else 0,
                            vlan_tpid if vlan_tci else 0, addrs, vtcfl & 0xFFFFF, 17,
                            (vtcfl >> 20) & 0xFF, hlim, tp, 0))
                elif proto == 6:
                    if payload >= 20 and tcp_word >= 0x5000 and (tcp_word >> 10) & 0x3C <= payload:
                        return _from_bytes(_pack_fast6(
                            in_port, macs, 0x86DD, vlan_tci | VLAN_PRESENT if vlan_tci else 0,
                            vlan_tpid if vlan_tci else 0, addrs, vtcfl & 0xFFFFF, 6,
                            (vtcfl >> 20) & 0xFF, hlim, tp, tcp_word & TCP_FLAGS_MASK))
    if tun is None:
        tun_id = tun_src = tun_dst = 0
    else:
        tun_id, tun_src, tun_dst = tun
    if vlan_tci:
        tci, tpid, tags = vlan_tci | VLAN_PRESENT, vlan_tpid, 1
    else:
        tci = tpid = tags = 0
    if size < 14:
        counters.malformed += 1
        return _from_bytes(_pack_l2(in_port, tun_id, tun_src, tun_dst, b"", 0, tci, tpid,
                                    0, 0, 0))
    macs, eth_type = _eth(frame, 0)
    ofs = 14
    cvlan = 0
    if eth_type == 0x8100 or eth_type == 0x88A8:
        while tags < 2 and (eth_type == 0x8100 or eth_type == 0x88A8):
            if size - ofs < 4:
                counters.malformed += 1
                break
            tag, next_type = _u16x2(frame, ofs)
            if tags:
                cvlan = tag | VLAN_PRESENT
            else:
                tci, tpid = tag | VLAN_PRESENT, eth_type
            tags += 1
            eth_type = next_type
            ofs += 4
    if eth_type < 0x0600:
        eth_type = ETH_TYPE_NONE
        if size - ofs >= 8:
            llc, snap_type = _llc_snap(frame, ofs)
            if llc == _SNAP_ETHERNET and snap_type >= 0x0600:
                eth_type = snap_type
                ofs += 8

    if eth_type == 0x0800:
        if size - ofs >= 20:
            vihl, tos, total, frag_off, ttl, proto, addrs = _ipv4(frame, ofs)
            ihl = (vihl & 15) << 2
            if 20 <= ihl <= total <= size - ofs:
                frag, tp, flags = 0, b"", 0
                if frag_off & 0x3FFF:
                    frag = FRAG_ANY
                    if frag_off & 0x1FFF:
                        frag = FRAG_ANY | FRAG_LATER
                if frag < FRAG_LATER:
                    l4 = ofs + ihl
                    l4_size = total - ihl
                    if proto == 6 or proto == 17:
                        tp, flags = _tcp_udp(frame, proto, l4, l4_size)
                    else:
                        tp = _transport(frame, proto, l4, l4_size)
                return _from_bytes(_pack_ipv4(
                    in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                    addrs, proto, tos, ttl, frag, tp, flags))
        counters.malformed += 1
    elif eth_type == 0x86DD:
        if size - ofs >= 40:
            vtcfl, payload, proto, hlim, addrs = _ipv6(frame, ofs)
            l4 = ofs + 40
            end = l4 + payload
            if end <= size:
                frag = exthdr = 0
                if proto in _EXT_HEADERS:
                    proto, frag, exthdr, l4 = _ipv6_ext_walk(frame, l4, end, proto)
                if l4 < 0:  # truncated extension header: addresses only, as OVS
                    counters.malformed += 1
                    return _from_bytes(_pack_ipv6(
                        in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                        addrs, 0, 0, 0, 0, 0, 0, b"", b"", b"", 0))
                tp, flags, target, lla = b"", 0, b"", b""
                l4_size = end - l4
                if frag & FRAG_LATER:
                    pass
                elif proto == 6 or proto == 17:
                    tp, flags = _tcp_udp(frame, proto, l4, l4_size)
                elif proto == 58:
                    if l4_size >= 8:
                        icmp_type, icmp_code = _icmp(frame, l4)
                        tp = _tp_icmp(icmp_type, icmp_code)
                        if icmp_code == 0 and (icmp_type == 135 or icmp_type == 136):
                            target, lla = _nd(frame, l4 + 8, end)
                    else:
                        counters.malformed += 1
                else:
                    tp = _transport(frame, proto, l4, l4_size)
                return _from_bytes(_pack_ipv6(
                    in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                    addrs, vtcfl & 0xFFFFF, proto, (vtcfl >> 20) & 0xFF, hlim, frag,
                    exthdr, tp, target, lla, flags))
        counters.malformed += 1
    elif eth_type == 0x0806 or eth_type == 0x8035:
        if size - ofs >= 28:
            hrd, pro, hln, pln, op, sha, spa, tha, tpa = _arp(frame, ofs)
            if hrd == 1 and pro == 0x0800 and hln == 6 and pln == 4:
                return _from_bytes(_pack_arp(
                    in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                    spa, tpa, op if op <= 0xFF else 0, sha, tha))
        else:
            counters.malformed += 1
    elif eth_type == 0x8847 or eth_type == 0x8848:
        if size - ofs >= 4:
            return _from_bytes(_pack_l2(
                in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                _u32(frame, ofs)[0], 0))
        counters.malformed += 1
    elif eth_type == 0x88E7:
        if size - ofs >= 4:
            return _from_bytes(_pack_l2(
                in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan,
                0, _u32(frame, ofs)[0] & 0xFFFFFF))
        counters.malformed += 1
    return _from_bytes(_pack_l2(
        in_port, tun_id, tun_src, tun_dst, macs, eth_type, tci, tpid, cvlan, 0, 0))


def _tcp_udp(frame: bytes | bytearray | memoryview, proto: int, ofs: int,
             size: int) -> tuple[bytes, int]:
    """(tp_src+tp_dst bytes, TCP flags) of TCP (6) or UDP (17) at ``ofs`` with ``size``
    bytes left in the IP payload, for IPv4 and IPv6 alike (the general parse; the fast
    path in ``extract`` inlines the common case).  A short header or a TCP data offset
    outside 5..15 words within the payload keys nothing and counts as malformed."""
    if proto == 6:
        if size >= 20:
            tp, flags = _tcp(frame, ofs)
            if 20 <= (flags >> 10) & 0x3C <= size:  # data offset
                return tp, flags & TCP_FLAGS_MASK
    elif size >= 8:
        return _ports(frame, ofs)[0], 0
    counters.malformed += 1
    return b"", 0


def _transport(frame: bytes | bytearray | memoryview, proto: int, ofs: int, size: int) -> bytes:
    """tp_src+tp_dst bytes of the less common transports of IPv4 and IPv6 alike (as OVS,
    which also keys IGMP type/code and ICMPv6 type/code inside IPv4 this way)."""
    if proto == 132:
        if size >= 12:
            return _ports(frame, ofs)[0]
    elif proto == 1 or proto == 58 or proto == 2:
        if size >= 8:
            return _tp_icmp(*_icmp(frame, ofs))
    else:
        return b""
    counters.malformed += 1
    return b""


# Order rank of each extension header (RFC 8200 4.1): hop-by-hop, destination options
# (before routing), routing, fragment, AH, ESP, destination options (final).
_IEH_FLAG = {0: IEH_HOP, 60: IEH_DEST, 43: IEH_ROUTER, 44: IEH_FRAG, 51: IEH_AUTH,
             50: IEH_ESP}
_IEH_RANK = {0: 0, 43: 2, 44: 3, 51: 4, 50: 5}  # 60: 1 or 6, see below


def _ipv6_ext_walk(
    frame: bytes | bytearray | memoryview, ofs: int, end: int, proto: int
) -> tuple[int, int, int, int]:
    """Walk IPv6 extension headers from ``ofs`` (payload start) to ``end``.

    Returns (upper-layer proto, ip_frag, ipv6_exthdr flags, L4 offset); the offset is
    -1 when a header is truncated (the frame then keys on L2 only, like OVS, and is
    counted malformed by the caller).  Like OVS: ESP and "no next header" end the walk
    with that proto; a later fragment ends it with proto 44 (FRAGMENT).
    ``ipv6_exthdr`` follows OpenFlow 1.3: one bit per header type seen (NONEXT when
    next header 59 is reached), UNREP when a header repeats (destination options may
    appear twice), UNSEQ when the order differs from RFC 8200's recommendation
    (hop-by-hop first; dest-opts, routing, fragment, AH, ESP, final dest-opts).
    """
    frag = exthdr = 0
    last_rank = -1
    dest_seen = 0
    while True:
        if proto == 59:
            return proto, frag, exthdr | IEH_NONEXT, ofs
        flag = _IEH_FLAG.get(proto)
        if flag is None:
            return proto, frag, exthdr, ofs
        if proto == 60:
            dest_seen += 1
            rank = 1 if dest_seen == 1 and last_rank <= 1 else 6
            if dest_seen > 2:
                exthdr |= IEH_UNREP
        else:
            rank = _IEH_RANK[proto]
            if exthdr & flag:
                exthdr |= IEH_UNREP
        if rank < last_rank:
            exthdr |= IEH_UNSEQ
        last_rank = max(last_rank, rank)
        exthdr |= flag
        if proto == 50:  # ESP: the rest is encrypted
            return proto, frag, exthdr, ofs
        if end - ofs < 8:
            return proto, frag, exthdr, -1
        next_proto, length = _icmp(frame, ofs)
        if proto == 44:
            frag_word = _u16x2(frame, ofs + 2)[0]
            ofs += 8
            if frag_word:
                frag = FRAG_ANY
                if frag_word & 0xFFF8:
                    return proto, FRAG_ANY | FRAG_LATER, exthdr, ofs
        elif proto == 51:
            ofs += (length + 2) << 2
        else:
            ofs += (length + 1) << 3
        if ofs > end:
            return proto, frag, exthdr, -1
        proto = next_proto


def _nd(frame: bytes | bytearray | memoryview, ofs: int, end: int) -> tuple[bytes, bytes]:
    """ND target and the SLL+TLL options (12 bytes) of an NS/NA body at ``ofs``.

    As OVS: each of SLL/TLL taken from its first 8-byte option; a second non-zero one
    invalidates target and both addresses; a zero-length or overlong option ends the
    walk (counted malformed).  SLL and TLL are kept whatever the message type.
    """
    if end - ofs < 16:
        counters.malformed += 1
        return b"", b""
    target = _nd_target(frame, ofs)[0]
    ofs += 16
    sll = tll = _ZERO_MAC
    while end - ofs >= 8:
        opt_type, opt_len = _icmp(frame, ofs)
        opt_len <<= 3
        if opt_len == 0 or opt_len > end - ofs:
            counters.malformed += 1
            break
        if opt_len == 8 and (opt_type == 1 or opt_type == 2):
            mac = _nd_mac(frame, ofs + 2)[0]
            if opt_type == 1:
                if sll != _ZERO_MAC:
                    counters.malformed += 1
                    return b"", b""
                sll = mac
            else:
                if tll != _ZERO_MAC:
                    counters.malformed += 1
                    return b"", b""
                tll = mac
        ofs += opt_len
    return target, sll + tll


# ------------------------------------------------------------------ header projections

# Fields a projection can take straight from fixed offsets of an untagged frame.
_PROJECTABLE = ("in_port", "eth_dst", "eth_src", "eth_type", "vlan_tci", "vlan_tpid", "cvlan_tci")
_FRAME_RANGE = {"eth_dst": (0, 6), "eth_src": (6, 12), "eth_type": (12, 14)}
_UNTAGGED_ONLY = frozenset(("eth_type", "vlan_tci", "vlan_tpid", "cvlan_tci"))
Projection = Callable[[bytes | bytearray | memoryview, bytes], bytes | None]


def projector(mask: int) -> tuple[Projection, Callable[[int], bytes]] | None:
    """A cheap stand-in for ``extract(frame, in_port) & mask``, when ``mask`` allows one.

    For a mask that covers only in_port, the Ethernet addresses and type, and the VLAN
    fields (in_port, MACs and eth_type whole; VLAN fields with any bits), returns
    ``(from_frame, from_key)``: ``from_frame(frame, in_port_bytes)`` (``in_port_bytes`` =
    ``in_port.to_bytes(4)``) gives a short ``bytes`` projection of the frame's header,
    or None when it cannot tell (runt, or eth_type/VLAN covered and the frame tagged
    or 802.3) -- then the caller extracts the full key; ``from_key(masked_key)`` gives
    the projection a frame has when ``extract(frame) & mask == masked_key``.  So a
    megaflow cache can index a mask's flows by projection and find most packets of an
    in_port or MAC-learning flow without parsing them (DESIGN.md: "each megaflow mask
    compiles its own key extractor").  None for any other mask.
    """
    covered = [name for name, _ in FIELDS if mask & FIELD_MASK[name]]
    if any(name not in _PROJECTABLE for name in covered):
        return None
    for name in ("in_port", "eth_dst", "eth_src", "eth_type"):
        if name in covered and mask & FIELD_MASK[name] != FIELD_MASK[name]:
            return None  # a partial mask (e.g. the multicast bit): not a plain slice
    use_port = "in_port" in covered
    ranges: list[tuple[int, int]] = []
    for name in ("eth_dst", "eth_src", "eth_type"):
        if name in covered:
            start, end = _FRAME_RANGE[name]
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
    zeros = bytes(2 * sum(name in covered for name in ("vlan_tci", "vlan_tpid", "cvlan_tci")))
    untagged = bool(_UNTAGGED_ONLY.intersection(covered))

    def from_key(key: int) -> bytes:
        data = (key & mask).to_bytes(KEY_SIZE, "big")
        parts = [data[_FIELD_BYTE["in_port"]:_FIELD_BYTE["in_port"] + 4]] if use_port else []
        for name in ("eth_dst", "eth_src", "eth_type"):
            if name in covered:
                at = _FIELD_BYTE[name]
                parts.append(data[at:at + _slot_size(FIELD_WIDTH[name])])
        for name in ("vlan_tci", "vlan_tpid", "cvlan_tci"):
            if name in covered:
                at = _FIELD_BYTE[name]
                parts.append(data[at:at + 2])
        return b"".join(parts)

    return _frame_projection(use_port, tuple(ranges), zeros, untagged), from_key


def _frame_projection(use_port: bool, ranges: tuple[tuple[int, int], ...], zeros: bytes,
                      untagged: bool) -> Projection:
    """The per-packet half of ``projector``, specialised for the common shapes."""
    if untagged:
        def project_untagged(frame: bytes | bytearray | memoryview, port: bytes) -> bytes | None:
            if len(frame) < 14:
                return None
            eth_type = frame[12] << 8 | frame[13]
            if eth_type < 0x0600 or eth_type == 0x8100 or eth_type == 0x88A8:
                return None
            return b"".join((port if use_port else b"",
                             *[frame[a:b] for a, b in ranges], zeros))
        return project_untagged
    if not ranges:
        if use_port:
            def project_port(frame: bytes | bytearray | memoryview, port: bytes) -> bytes:
                return port
            return project_port

        def project_nothing(frame: bytes | bytearray | memoryview, port: bytes) -> bytes:
            return b""
        return project_nothing
    if len(ranges) == 1:
        (start, end), = ranges
        if use_port:
            def project_port_range(frame: bytes | bytearray | memoryview,
                                   port: bytes) -> bytes | None:
                return port + frame[start:end] if len(frame) >= 14 else None
            return project_port_range

        def project_range(frame: bytes | bytearray | memoryview, port: bytes) -> bytes | None:
            return bytes(frame[start:end]) if len(frame) >= 14 else None
        return project_range

    def project_ranges(frame: bytes | bytearray | memoryview, port: bytes) -> bytes | None:
        if len(frame) < 14:
            return None
        return b"".join((port if use_port else b"", *[frame[a:b] for a, b in ranges]))
    return project_ranges


# ------------------------------------------------------------------ keys by name


def key_get(key: int, name: str) -> int:
    """The value of field ``name`` in ``key``."""
    return (key >> FIELD_OFFSET[name]) & ((1 << FIELD_WIDTH[name]) - 1)


def key_put(key: int, name: str, value: int) -> int:
    """``key`` with field ``name`` set to ``value`` (cut to the field's width)."""
    return (key & ~FIELD_MASK[name]) | ((value & ((1 << FIELD_WIDTH[name]) - 1))
                                        << FIELD_OFFSET[name])


def _field_value(name: str, value: int | bytes | str) -> int:
    width = FIELD_WIDTH[name]
    if isinstance(value, str):
        if width == 48:
            value = bytes.fromhex(value.replace(":", "").replace("-", ""))
        else:
            value = int(ipaddress.ip_address(value))
    if isinstance(value, bytes | bytearray):
        value = int.from_bytes(value, "big")
    if not 0 <= value < (1 << width):
        raise ValueError(f"{name}={value:#x} does not fit in {width} bits")
    return value


def make_key(**fields: int | bytes | str) -> int:
    """A key from field values: ints, bytes, or text for MACs ("0a:00:..") and IPs."""
    key = 0
    for name, value in fields.items():
        key |= _field_value(name, value) << FIELD_OFFSET[name]
    return key


def make_mask(**fields: int | bool) -> int:
    """A mask: ``True`` for every bit of a field, or the field's own bit mask."""
    mask = 0
    for name, value in fields.items():
        if value is True:
            mask |= FIELD_MASK[name]
        elif value is not False:
            mask |= _field_value(name, value) << FIELD_OFFSET[name]
    return mask


def key_to_dict(key: int) -> dict[str, int]:
    """The non-zero fields of ``key``, in layout order."""
    fields = {}
    for name, _ in FIELDS:
        value = key_get(key, name)
        if value:
            fields[name] = value
    return fields


# ------------------------------------------------------------------ dpctl-like text


def _mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def _ipv4_text(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _ipv6_text(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


_TCP_FLAG_NAMES = ("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns")


def _tcp_flags_text(value: int) -> str:
    names = [n for bit, n in enumerate(_TCP_FLAG_NAMES) if value & (1 << bit)]
    if value & ~0x1FF or not names:
        return f"{value:#05x}"
    return "|".join(names)


_FRAG_TEXT = {0: "no", FRAG_ANY: "first", FRAG_ANY | FRAG_LATER: "later"}


def format_key(key: int, mask: int | None = None) -> str:
    """ovs-dpctl-like text of ``key``, e.g. ``in_port(1),eth(src=..,dst=..),
    eth_type(0x0800),ipv4(src=..,dst=..,proto=6,tos=0,ttl=64,frag=no),tcp(src=..,dst=..)``.

    Without ``mask`` every field of the key's protocols is shown; with one, only the
    fields the mask covers (``value/mask`` when partly) and the groups holding them.
    VLAN tags print flat, ``vlan(tpid=0x8100,vid=5,pcp=1)`` and ``cvlan(vid=..,pcp=..)``
    (masked: ``tci=value/mask``), rather than as OVS's nested ``encap(..)``;
    ``pbb(isid=..)`` and ``ipv6_exthdr(..)`` have no OVS counterpart.
    """
    full = mask is None
    m = FULL_MASK if mask is None else mask
    key &= m
    parts: list[str] = []

    def item(label: str, name: str, text: Callable[[int], str] = str) -> str | None:
        field_mask = key_get(m, name)
        if not field_mask:
            return None
        shown = text(key_get(key, name))
        if field_mask != (1 << FIELD_WIDTH[name]) - 1:
            shown = f"{shown}/{text(field_mask)}"
        return f"{label}={shown}" if label else shown

    def group(title: str, *items: str | None) -> None:
        present = [i for i in items if i is not None]
        if present:
            parts.append(f"{title}({','.join(present)})")

    def get(name: str) -> int:
        return key_get(key, name)

    hexa = "{:#x}".format
    frag_text: Callable[[int], str] = lambda v: _FRAG_TEXT.get(v, hexa(v))  # noqa: E731
    if not full or get("tun_id") or get("tun_ipv4_src") or get("tun_ipv4_dst"):
        group("tunnel", item("tun_id", "tun_id", hexa),
              item("src", "tun_ipv4_src", _ipv4_text), item("dst", "tun_ipv4_dst", _ipv4_text))
    group("in_port", item("", "in_port"))
    group("eth", item("src", "eth_src", _mac), item("dst", "eth_dst", _mac))
    for title, name in (("vlan", "vlan_tci"), ("cvlan", "cvlan_tci")):
        tpid = item("tpid", "vlan_tpid", hexa) if title == "vlan" else None
        if not full:
            group(title, tpid, item("tci", name, hexa))
        elif get(name):
            group(title, tpid, f"vid={get(name) & 0xFFF},pcp={get(name) >> 13}")
    group("eth_type", item("", "eth_type", "{:#06x}".format))
    eth_type, proto = get("eth_type"), get("ip_proto")
    if eth_type in (0x8847, 0x8848):
        lse = get("mpls_lse")
        if full:
            parts.append(f"mpls(label={lse >> 12},tc={(lse >> 9) & 7},ttl={lse & 0xFF},"
                         f"bos={(lse >> 8) & 1})")
        else:
            group("mpls", item("lse", "mpls_lse", hexa))
    elif eth_type == 0x88E7:
        group("pbb", item("isid", "pbb_isid"))
    elif eth_type == 0x0800:
        group("ipv4", item("src", "ipv4_src", _ipv4_text), item("dst", "ipv4_dst", _ipv4_text),
              item("proto", "ip_proto"), item("tos", "ip_tos"), item("ttl", "ip_ttl"),
              item("frag", "ip_frag", frag_text))
    elif eth_type == 0x86DD:
        group("ipv6", item("src", "ipv6_src", _ipv6_text), item("dst", "ipv6_dst", _ipv6_text),
              item("label", "ipv6_flabel", hexa), item("proto", "ip_proto"),
              item("tclass", "ip_tos"), item("hlimit", "ip_ttl"),
              item("frag", "ip_frag", frag_text))
        if not full or get("ipv6_exthdr"):
            group("ipv6_exthdr", item("", "ipv6_exthdr", hexa))
    elif eth_type in (0x0806, 0x8035):
        group("arp", item("sip", "ipv4_src", _ipv4_text), item("tip", "ipv4_dst", _ipv4_text),
              item("op", "ip_proto"), item("sha", "arp_sha", _mac), item("tha", "arp_tha", _mac))
    if eth_type not in (0x0800, 0x86DD) or get("ip_frag") & FRAG_LATER:
        return ",".join(parts)
    transport = {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "icmpv6"}.get(proto)
    if transport in ("tcp", "udp", "sctp"):
        group(transport, item("src", "tp_src"), item("dst", "tp_dst"))
    elif transport:
        group(transport, item("type", "tp_src"), item("code", "tp_dst"))
    if transport == "tcp":
        group("tcp_flags", item("", "tcp_flags", _tcp_flags_text))
    if transport == "icmpv6" and (not full or get("tp_src") in (135, 136)):
        group("nd", item("target", "nd_target", _ipv6_text),
              item("sll", "nd_sll", _mac), item("tll", "nd_tll", _mac))
    return ",".join(parts)
