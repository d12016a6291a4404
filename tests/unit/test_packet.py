"""Frame layout helpers (datapath.packet): header offsets, checksums, CRC32c.

The frame builders below compute every checksum with straightforward reference code
written here (RFC 1071 word loop, bitwise CRC32c), independent of the big-integer and
table-driven arithmetic in datapath/packet.py; test_odp_actions.py builds its expected
frames with them too.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datapath import packet as pk

# ------------------------------------------------------------------ reference code


def ref_checksum(data: bytes) -> int:
    """RFC 1071, the textbook way: 16-bit words, end-around carry, complement."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ref_crc32c(data: bytes) -> int:
    """CRC32c bit by bit (reflected polynomial 0x82f63b78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# ------------------------------------------------------------------ frame builders

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
IP4_A = bytes([10, 0, 0, 1])
IP4_B = bytes([10, 0, 0, 2])
IP6_A = bytes.fromhex("20010db8000000000000000000000001")
IP6_B = bytes.fromhex("20010db8000000000000000000000002")
_CSUM_AT = {6: 16, 17: 6, 1: 2, 58: 2}


def eth(payload: bytes, ethertype: int, *, dst: bytes = MAC_B, src: bytes = MAC_A,
        vlans: tuple[tuple[int, int], ...] = (), pad: bool = False) -> bytes:
    """Ethernet frame; ``vlans`` = ((tpid, tci), ...) outermost first."""
    tags = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in vlans)
    frame = dst + src + tags + struct.pack("!H", ethertype) + payload
    return frame + bytes(max(0, 60 - len(frame))) if pad else frame


def tcp(sport: int = 1234, dport: int = 80, payload: bytes = b"data", flags: int = 0x18) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 2, 5 << 4, flags, 8192, 0, 0) + payload


def udp(sport: int = 1234, dport: int = 53, payload: bytes = b"query!") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(type_: int = 8, code: int = 0, payload: bytes = b"\x00\x01\x00\x02ping") -> bytes:
    return struct.pack("!BBH", type_, code, 0) + payload


def sctp(sport: int = 5000, dport: int = 6000, chunks: bytes = b"\x00\x03\x00\x08abcd") -> bytes:
    return struct.pack("!HHII", sport, dport, 0x11223344, 0) + chunks


def nd(type_: int, target: bytes, options: tuple[tuple[int, bytes], ...] = ()) -> bytes:
    """ICMPv6 NS (135) / NA (136) with link-layer options ((type, mac), ...)."""
    opts = b"".join(struct.pack("!BB", t, 1) + mac for t, mac in options)
    flags = 0x60000000 if type_ == 136 else 0
    return struct.pack("!BBHI", type_, 0, 0, flags) + target + opts


def _fill_l4(l4: bytes, proto: int, pseudo: bytes) -> bytes:
    if proto == 132:
        crc = ref_crc32c(l4[:8] + b"\0\0\0\0" + l4[12:])
        return l4[:8] + struct.pack("<I", crc) + l4[12:]
    at = _CSUM_AT.get(proto)
    if at is None or len(l4) < at + 2:
        return l4
    csum = ref_checksum(pseudo + l4[:at] + b"\0\0" + l4[at + 2:])
    if proto == 17 and csum == 0:
        csum = 0xFFFF
    return l4[:at] + struct.pack("!H", csum) + l4[at + 2:]


def ipv4(l4: bytes, proto: int, *, src: bytes = IP4_A, dst: bytes = IP4_B, ttl: int = 64,
         tos: int = 0, options: bytes = b"", frag: int = 0, ident: int = 7,
         l4_csum: bool = True) -> bytes:
    """IPv4 packet with a valid header checksum and (unless told) L4 checksum."""
    if l4_csum and not frag & 0x1FFF:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        l4 = l4 if proto == 17 and l4[6:8] == b"\xff\xfe" else _fill_l4(
            l4, proto, b"" if proto == 1 else pseudo)
    ihl = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(l4), ident, frag,
                         ttl, proto, 0, src, dst) + options
    header = header[:10] + struct.pack("!H", ref_checksum(header)) + header[12:]
    return header + l4


def ipv6(l4: bytes, proto: int, *, src: bytes = IP6_A, dst: bytes = IP6_B, tc: int = 0,
         flabel: int = 0, hlim: int = 64, ext: bytes = b"", first_nh: int | None = None,
         final_dst: bytes | None = None) -> bytes:
    """IPv6 packet; ``ext`` are extension headers starting with ``first_nh``."""
    pseudo = (src + (final_dst or dst) + struct.pack("!I", len(l4)) + bytes(3)
              + bytes([proto]))
    l4 = _fill_l4(l4, proto, pseudo)
    nh = proto if first_nh is None else first_nh
    header = struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20) | flabel, len(ext) + len(l4),
                         nh, hlim, src, dst)
    return header + ext + l4


def arp(op: int = 1, sha: bytes = MAC_A, spa: bytes = IP4_A, tha: bytes = bytes(6),
        tpa: bytes = IP4_B) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def mpls(label: int, tc: int = 0, bos: int = 1, ttl: int = 64) -> bytes:
    return struct.pack("!I", label << 12 | tc << 9 | bos << 8 | ttl)


def tcp4_frame(**kw: object) -> bytes:
    return eth(ipv4(tcp(), 6, **kw), 0x0800)  # type: ignore[arg-type]


def udp4_frame(**kw: object) -> bytes:
    return eth(ipv4(udp(), 17, **kw), 0x0800)  # type: ignore[arg-type]


# ------------------------------------------------------------------ header_offsets


def offsets_cases() -> list[tuple[str, bytes, tuple]]:
    v4 = ipv4(tcp(), 6)
    return [
        ("ipv4/tcp", eth(v4, 0x0800), (14, 0x0800, 14, 34, 6)),
        ("ipv4/udp padded", eth(ipv4(udp(payload=b""), 17), 0x0800, pad=True),
         (14, 0x0800, 14, 34, 17)),
        ("ipv4 options", eth(ipv4(udp(), 17, options=b"\x01\x01\x01\x00"), 0x0800),
         (14, 0x0800, 14, 38, 17)),
        ("ipv4 first fragment", eth(ipv4(udp(), 17, frag=0x2000), 0x0800),
         (14, 0x0800, 14, 34, 17)),
        ("ipv4 later fragment", eth(ipv4(b"x" * 16, 17, frag=0x0010), 0x0800),
         (14, 0x0800, 14, None, 17)),
        ("ipv4 tcp cut by total length", eth(ipv4(tcp()[:19], 6, l4_csum=False), 0x0800),
         (14, 0x0800, 14, None, 6)),
        ("ipv4 unknown proto", eth(ipv4(b"", 99), 0x0800), (14, 0x0800, 14, 34, 99)),
        ("802.1q ipv4", eth(v4, 0x0800, vlans=((0x8100, 10),)), (18, 0x0800, 18, 38, 6)),
        ("qinq ipv4", eth(v4, 0x0800, vlans=((0x88A8, 20), (0x8100, 10))),
         (22, 0x0800, 22, 42, 6)),
        ("three tags: third not parsed",
         eth(v4, 0x0800, vlans=((0x88A8, 1), (0x8100, 2), (0x8100, 3))),
         (22, 0x8100, 22, None, 0)),
        ("ipv6/udp", eth(ipv6(udp(), 17), 0x86DD), (14, 0x86DD, 14, 54, 17)),
        ("ipv6 hop-by-hop + dest opts/tcp",
         eth(ipv6(tcp(), 6, ext=bytes([60, 0]) + bytes(6) + bytes([6, 1]) + bytes(14),
                  first_nh=0), 0x86DD),
         (14, 0x86DD, 14, 78, 6)),
        ("ipv6 first fragment", eth(ipv6(udp(), 17, ext=bytes([17, 0, 0, 1]) + bytes(4),
                                         first_nh=44), 0x86DD),
         (14, 0x86DD, 14, 62, 17)),
        ("ipv6 later fragment", eth(ipv6(b"x" * 8, 17, ext=bytes([17, 0, 0, 8]) + bytes(4),
                                         first_nh=44), 0x86DD),
         (14, 0x86DD, 14, None, 44)),
        ("ipv6 AH/icmpv6", eth(ipv6(icmp(128), 58, ext=bytes([58, 1]) + bytes(10),
                                    first_nh=51), 0x86DD),
         (14, 0x86DD, 14, 66, 58)),
        ("arp", eth(arp(), 0x0806), (14, 0x0806, 14, None, 0)),
        ("mpls", eth(mpls(100) + v4, 0x8847), (14, 0x8847, 14, None, 0)),
        ("llc/snap ipv4", eth(bytes.fromhex("aaaa03000000") + b"\x08\x00" + v4, len(v4) + 8),
         (14, 0x0800, 22, 42, 6)),
        ("802.3 llc", eth(b"\x42\x42\x03" + bytes(40), 43), (14, pk.ETH_TYPE_NONE, None, None, 0)),
        ("llc/snap without an ethertype", eth(bytes.fromhex("aaaa03000000") + b"\x00\x10"
                                              + bytes(40), 48),
         (14, pk.ETH_TYPE_NONE, None, None, 0)),
        ("ipv6 udp header cut by payload length", eth(ipv6(udp()[:6], 17), 0x86DD),
         (14, 0x86DD, 14, None, 17)),
        ("ipv6 hop-by-hop cut", eth(ipv6(b"", 0, ext=bytes([6, 0, 0, 0])), 0x86DD),
         (14, 0x86DD, 14, None, 0)),
        ("ipv6 AH cut", eth(ipv6(b"", 51, ext=bytes([6, 0, 0, 0])), 0x86DD),
         (14, 0x86DD, 14, None, 51)),
        ("ipv6 fragment header cut", eth(ipv6(b"", 44, ext=bytes([6, 0, 0, 0])), 0x86DD),
         (14, 0x86DD, 14, None, 44)),
        ("unknown ethertype", eth(b"x" * 46, 0x88B5), (14, 0x88B5, 14, None, 0)),
        ("runt", MAC_B + MAC_A, (None, 0, None, None, 0)),
        ("bad ipv4 ihl", eth(b"\x44" + ipv4(udp(), 17)[1:], 0x0800), (14, 0x0800, None, None, 0)),
        ("bad ipv4 version", eth(b"\x65" + ipv4(udp(), 17)[1:], 0x0800),
         (14, 0x0800, None, None, 0)),
        ("ipv4 total length beyond frame", eth(ipv4(udp(), 17)[:-1], 0x0800),
         (14, 0x0800, None, None, 0)),
        ("ipv6 payload beyond frame", eth(ipv6(udp(), 17)[:-1], 0x86DD),
         (14, 0x86DD, None, None, 0)),
        ("truncated vlan tag", MAC_B + MAC_A + b"\x81\x00\x00", (None, 0x8100, None, None, 0)),
    ]


@pytest.mark.parametrize("name,frame,expected", offsets_cases(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_header_offsets(name: str, frame: bytes, expected: tuple) -> None:
    assert pk.header_offsets(frame) == expected
    assert pk.header_offsets(bytearray(frame)) == expected
    assert pk.header_offsets(memoryview(frame)) == expected


def test_ethertype_offset() -> None:
    v4 = ipv4(udp(), 17)
    assert pk.ethertype_offset(eth(v4, 0x0800)) == 12
    assert pk.ethertype_offset(eth(v4, 0x0800, vlans=((0x8100, 1),))) == 16
    assert pk.ethertype_offset(eth(v4, 0x0800, vlans=((0x88A8, 1), (0x8100, 2)))) == 20
    assert pk.ethertype_offset(b"\0" * 13) is None


@pytest.mark.parametrize("name,frame,expected", offsets_cases(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_every_truncation_is_safe(name: str, frame: bytes, expected: tuple) -> None:
    """Every prefix of every frame type parses without raising, and whatever it reports
    lies inside the prefix."""
    for size in range(len(frame) + 1):
        l2_end, _, l3, l4, _ = pk.header_offsets(frame[:size])
        for ofs in (l2_end, l3, l4):
            assert ofs is None or ofs <= size


@given(st.binary(max_size=120))
def test_random_bytes_never_raise(data: bytes) -> None:
    for prefix in (b"", MAC_B + MAC_A + b"\x08\x00", MAC_B + MAC_A + b"\x86\xdd",
                   MAC_B + MAC_A + b"\x81\x00\x00\x01\x08\x00"):
        pk.header_offsets(prefix + data)
        pk.ethertype_offset(prefix + data)


def test_ipv6_routing_pending() -> None:
    routing = bytes([6, 2, 0, 1]) + bytes(4) + IP6_B  # segments left 1, one address
    frame = eth(ipv6(tcp(), 6, ext=routing, first_nh=43, final_dst=IP6_B), 0x86DD)
    _, _, l3, l4, _ = pk.header_offsets(frame)
    assert pk.ipv6_routing_pending(frame, l3, l4)
    # Behind an AH and a fragment header (first fragment) too.
    ah = bytes([44, 1]) + bytes(10)
    frag = bytes([43, 0, 0, 1]) + bytes(4)
    frame = eth(ipv6(tcp(), 6, ext=ah + frag + routing, first_nh=51, final_dst=IP6_B),
                0x86DD)
    _, _, l3, l4, _ = pk.header_offsets(frame)
    assert l4 == 14 + 40 + 12 + 8 + 24
    assert pk.ipv6_routing_pending(frame, l3, l4)
    done = bytes([6, 2, 0, 0]) + bytes(4) + IP6_B  # segments left 0
    frame = eth(ipv6(tcp(), 6, ext=done, first_nh=43), 0x86DD)
    _, _, l3, l4, _ = pk.header_offsets(frame)
    assert not pk.ipv6_routing_pending(frame, l3, l4)


def test_nd_option_offset() -> None:
    msg = nd(135, IP6_B, ((2, MAC_B), (1, MAC_A)))
    frame = eth(ipv6(msg, 58), 0x86DD)
    l4 = 54
    end = len(frame)
    assert pk.nd_option_offset(frame, l4, end, pk.ND_OPT_SLL) == l4 + 32
    assert pk.nd_option_offset(frame, l4, end, pk.ND_OPT_TLL) == l4 + 24
    zero_len = nd(135, IP6_B) + b"\x01\x00" + bytes(6)
    frame = eth(ipv6(zero_len, 58), 0x86DD)
    assert pk.nd_option_offset(frame, l4, len(frame), pk.ND_OPT_SLL) is None


def test_field_layout_table_is_consistent() -> None:
    for name, layouts in pk.FIELD_LAYOUTS.items():
        assert pk.FIELD_BITS[name] == layouts[0].bits
        for lay in layouts:
            assert lay.bits == pk.FIELD_BITS[name]
            assert lay.shift + lay.bits <= 8 * lay.size, name
            assert lay.offset + lay.size <= lay.min_len, name


# ------------------------------------------------------------------ checksums


@given(st.binary(max_size=200))
def test_checksum_equals_rfc1071(data: bytes) -> None:
    assert pk.checksum(data) == ref_checksum(data)


def test_checksum_known_values() -> None:
    # RFC 1071 section 3 example words 0001 f203 f4f5 f6f7: sum ddf2, checksum 220d.
    assert pk.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    header = bytes.fromhex("45000073000040004011" "0000" "c0a80001c0a800c7")
    assert pk.checksum(header) == 0xB861  # the classic Wikipedia IPv4 example
    assert pk.checksum(b"") == 0xFFFF


@given(st.binary(min_size=2, max_size=64).filter(lambda b: len(b) % 2 == 0),
       st.data())
def test_csum_update_equals_full_recomputation(data: bytes, draw: st.DataObject) -> None:
    """RFC 1624 on random data: changing any aligned word range incrementally gives the
    checksum of the new data (for data with a non-zero sum, as every header has)."""
    words = len(data) // 2
    start = draw.draw(st.integers(0, words - 1)) * 2
    end = draw.draw(st.integers(start // 2 + 1, words)) * 2
    new_part = draw.draw(st.binary(min_size=end - start, max_size=end - start))
    new = data[:start] + new_part + data[end:]
    if not any(data) or not any(new):
        return
    updated = pk.csum_update(pk.checksum(data), int.from_bytes(data[start:end], "big"),
                             int.from_bytes(new_part, "big"))
    assert updated == pk.checksum(new) == ref_checksum(new)


def test_csum_update_rfc1624_example() -> None:
    # RFC 1624 section 4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives HC' 0x0000.
    assert pk.csum_update(0xDD2F, 0x5555, 0x3285) == 0x0000


def test_ipv4_header_checksum() -> None:
    packet = ipv4(udp(), 17, options=b"\x94\x04\x00\x00")
    assert pk.ipv4_header_checksum(packet, 0) == struct.unpack_from("!H", packet, 10)[0]


@pytest.mark.parametrize("frame", [
    tcp4_frame(), udp4_frame(), eth(ipv4(icmp(), 1), 0x0800),
    eth(ipv6(tcp(), 6), 0x86DD), eth(ipv6(udp(), 17), 0x86DD),
    eth(ipv6(icmp(128), 58), 0x86DD), eth(ipv4(udp(), 17), 0x0800, pad=True),
], ids=["tcp4", "udp4", "icmp4", "tcp6", "udp6", "icmp6", "udp4-padded"])
def test_l4_checksum_matches_builder(frame: bytes) -> None:
    o = pk.header_offsets(frame)
    stored = struct.unpack_from("!H", frame, o[3] + pk.L4_CSUM_OFFSET[o[4]])[0]
    assert pk.l4_checksum(frame, o) == stored


def test_l4_checksum_absent() -> None:
    assert pk.l4_checksum(eth(arp(), 0x0806), pk.header_offsets(eth(arp(), 0x0806))) is None
    frame = eth(ipv6(icmp(), 1), 0x86DD)  # ICMPv4 inside IPv6: nonsense, no checksum
    assert pk.l4_checksum(frame, pk.header_offsets(frame)) is None


# ------------------------------------------------------------------ CRC32c


def test_crc32c_known_values() -> None:
    assert pk.crc32c(b"123456789") == 0xE3069283
    assert pk.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert pk.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert pk.crc32c(bytes(range(32))) == 0x46DD794E


@given(st.binary(max_size=100))
def test_crc32c_equals_bitwise(data: bytes) -> None:
    assert pk.crc32c(data) == ref_crc32c(data)


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 600))
def test_crc32c_shift_zeros(crc: int, count: int) -> None:
    assert pk.crc32c_shift_zeros(crc, count) == pk.crc32c_raw(crc, bytes(count))


@settings(max_examples=50)
@given(st.binary(min_size=12, max_size=300), st.data())
def test_sctp_crc_delta(data: bytes, draw: st.DataObject) -> None:
    offset = draw.draw(st.integers(0, len(data) - 4))
    new_part = draw.draw(st.binary(min_size=4, max_size=4))
    new = data[:offset] + new_part + data[offset + 4:]
    delta = pk.sctp_crc_delta(data[offset:offset + 4], new_part, offset, len(data))
    assert pk.crc32c(data) ^ delta == pk.crc32c(new)


def test_sctp_checksum_of_builder_frame() -> None:
    frame = eth(ipv4(sctp(), 132), 0x0800)
    stored = struct.unpack_from("<I", frame, 34 + 8)[0]
    assert pk.sctp_checksum(frame, 34, len(frame)) == stored


def test_random_frames_have_sane_offsets() -> None:
    rng = random.Random(5)
    for _ in range(200):
        frame = bytearray(rng.randbytes(rng.randrange(0, 90)))
        if len(frame) > 14:
            frame[12:14] = rng.choice((b"\x08\x00", b"\x86\xdd", b"\x81\x00", b"\x88\x47"))
        l2_end, _, l3, l4, _ = pk.header_offsets(frame)
        assert l4 is None or (l3 is not None and l3 < l4 <= len(frame))
