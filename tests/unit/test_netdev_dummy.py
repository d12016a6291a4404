"""Unit tests of the netdev contract without root: the dummy netdev and the pure frame helpers.

* DummyNetdev: inject -> recv_batch order and bounds, output collected in `sent`,
  counters, over-MTU and link-down drops, bounded queues, close;
* the vlan word (`vlan_tag`, `insert_vlan`) and the MTU rule (`frame_fits_mtu`);
* the helpers the Linux netdevs use on frames the kernel left unfinished
  (`ones_sum`, `checksum_complete`, `gso_segment`), checked against a plain RFC 1071 word loop written here, with
  hand-built TCPv4/TCPv6/UDP super-frames, malformed variants, and Hypothesis
  inputs that may only return None/False, never raise.
The same helpers are exercised on real kernel frames in
tests/integration/test_netdev_linux.py.
"""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datapath.netdev import (
    VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_GSO_UDP_L4,
    DummyNetdev,
    Netdev,
    NetdevStats,
    checksum_complete,
    frame_fits_mtu,
    gso_segment,
    insert_vlan,
    ones_sum,
    vlan_tag,
)

DST = bytes.fromhex("020000000002")
SRC = bytes.fromhex("020000000001")


def frame(seq: int, size: int = 60, ethertype: int = 0x88B5) -> bytes:
    head = DST + SRC + struct.pack("!HI", ethertype, seq)
    return head + bytes(size - len(head))


# ------------------------------------------------------------------ counters, protocol


def test_stats_start_at_zero_and_list_every_counter() -> None:
    stats = NetdevStats()
    assert stats.as_dict() == {
        "rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0,
        "rx_dropped": 0, "tx_dropped": 0, "rx_errors": 0, "tx_errors": 0,
    }
    stats.tx_errors = 3
    assert "tx_errors=3" in repr(stats)
    with pytest.raises(AttributeError):
        stats.bogus = 1  # type: ignore[attr-defined]


def test_dummy_is_a_netdev() -> None:
    dev = DummyNetdev("p1")
    assert isinstance(dev, Netdev)
    assert dev.fileno() is None
    assert dev.name == "p1" and dev.mtu == 1500 and dev.link_up is True
    assert repr(dev) == "DummyNetdev('p1')"


def test_dummy_mac_is_stable_local_unicast_or_given() -> None:
    mac = DummyNetdev("p1").hw_addr
    assert len(mac) == 6 and mac[0] & 0x03 == 0x02  # locally administered, unicast
    assert DummyNetdev("p1").hw_addr == mac
    assert DummyNetdev("p2").hw_addr != mac
    assert DummyNetdev("p1", hw_addr=SRC).hw_addr == SRC
    with pytest.raises(ValueError, match="6 bytes"):
        DummyNetdev("p1", hw_addr=b"\x01\x02")


# ------------------------------------------------------------------ receive


def test_injected_frames_come_out_in_order_in_bounded_batches() -> None:
    dev = DummyNetdev("p1")
    frames = [frame(i, 60 + i) for i in range(5)]
    for f in frames[:4]:
        assert dev.inject(f) is True
    dev.inject(bytearray(frames[4]), vlan_tag(100))
    assert dev.recv_batch(0) == []
    assert dev.recv_batch(-1) == []
    assert dev.recv_batch(3) == [(f, 0) for f in frames[:3]]
    assert dev.recv_batch(10) == [(frames[3], 0), (frames[4], 0x81000064)]
    assert dev.recv_batch(10) == []
    assert dev.stats.rx_packets == 5
    assert dev.stats.rx_bytes == sum(map(len, frames))


def test_inject_copies_its_input() -> None:
    dev = DummyNetdev("p1")
    buf = bytearray(frame(1))
    dev.inject(memoryview(buf))
    buf[0] = 0xFF
    ((got, _),) = dev.recv_batch(1)
    assert got == frame(1) and isinstance(got, bytes)


def test_inject_rejects_a_vlan_word_without_tpid() -> None:
    with pytest.raises(ValueError, match="vlan_tag"):
        DummyNetdev("p1").inject(frame(1), 100)


def test_receive_queue_is_bounded() -> None:
    dev = DummyNetdev("p1", rx_queue_len=2)
    assert [dev.inject(frame(i)) for i in range(4)] == [True, True, False, False]
    assert dev.stats.rx_dropped == 2
    assert len(dev.recv_batch(10)) == 2
    assert dev.inject(frame(9)) is True


# ------------------------------------------------------------------ send


def test_sent_frames_are_collected_as_copies_with_counters() -> None:
    dev = DummyNetdev("p1")
    buf = bytearray(frame(1))
    assert dev.send(memoryview(buf)) is True
    buf[0] = 0xFF
    assert dev.send_batch([frame(2), frame(3, 100)]) == 2
    assert list(dev.sent) == [frame(1), frame(2), frame(3, 100)]
    assert (dev.stats.tx_packets, dev.stats.tx_bytes) == (3, 220)


def test_sent_is_bounded_to_the_last_frames() -> None:
    dev = DummyNetdev("p1", sent_len=3)
    assert dev.send_batch([frame(i) for i in range(5)]) == 5
    assert list(dev.sent) == [frame(2), frame(3), frame(4)]
    assert dev.stats.tx_packets == 5


def test_over_mtu_frames_are_counted_as_tx_dropped() -> None:
    dev = DummyNetdev("p1", mtu=1000)
    fits = frame(1, 1014)
    tagged = fits[:12] + b"\x81\x00\x00\x05" + fits[12:]
    qinq = fits[:12] + b"\x88\xa8\x00\x05" + fits[12:]
    assert dev.send(fits) is True
    assert dev.send(tagged) is True
    assert dev.send(frame(2, 1015)) is False
    assert dev.send(qinq) is False
    assert dev.send_batch([frame(3, 1015), frame(4)]) == 1
    assert (dev.stats.tx_packets, dev.stats.tx_dropped) == (3, 3)
    assert list(dev.sent) == [fits, tagged, frame(4)]


def test_link_down_drops_both_ways() -> None:
    dev = DummyNetdev("p1")
    dev.set_link(False)
    assert dev.link_up is False
    assert dev.inject(frame(1)) is False
    assert dev.send(frame(2)) is False
    assert (dev.stats.rx_dropped, dev.stats.tx_dropped) == (1, 1)
    assert dev.recv_batch(4) == []
    dev.set_link(True)
    assert dev.inject(frame(3)) and dev.send(frame(4))
    assert dev.recv_batch(4) == [(frame(3), 0)]


def test_closed_dummy_drops_everything() -> None:
    dev = DummyNetdev("p1")
    dev.inject(frame(1))
    dev.close()
    assert dev.closed
    assert dev.recv_batch(4) == []
    assert dev.inject(frame(2)) is False
    assert dev.send(frame(3)) is False
    assert (dev.stats.rx_dropped, dev.stats.tx_dropped) == (1, 1)


# ------------------------------------------------------------------ VLAN word, MTU rule


def test_vlan_word_and_reinsertion() -> None:
    assert vlan_tag(0x2064) == 0x81002064
    assert vlan_tag(0, 0x88A8) == 0x88A80000  # priority tag: non-zero word
    assert vlan_tag(0x12345) == 0x81002345
    f = frame(7)
    assert insert_vlan(f, vlan_tag(0x2064)) == f[:12] + bytes.fromhex("81002064") + f[12:]
    assert insert_vlan(memoryview(f), vlan_tag(5, 0x88A8)) == f[:12] + bytes.fromhex("88a80005") + f[12:]
    assert insert_vlan(bytearray(f), 0) == f


def test_frame_fits_mtu() -> None:
    assert frame_fits_mtu(bytes(1514), 1500)
    assert not frame_fits_mtu(bytes(1515), 1500)
    tagged = bytes(12) + b"\x81\x00" + bytes(1504)
    assert frame_fits_mtu(tagged, 1500)
    assert not frame_fits_mtu(tagged + b"\0", 1500)
    assert not frame_fits_mtu(bytes(12) + b"\x88\xa8" + bytes(1504), 1500)


# ------------------------------------------------------------------ offload helpers


def rfc1071(data: bytes) -> int:
    """Reference Internet checksum: the word loop of RFC 1071."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.binary(min_size=0, max_size=300))
def test_ones_sum_matches_the_word_loop(data: bytes) -> None:
    # Same value modulo 0xFFFF (0 and 0xFFFF are the two zeros of ones' complement).
    assert (ones_sum(data) + rfc1071(data)) % 0xFFFF == 0xFFFF % 0xFFFF


def ipv4(proto: int, l4: bytes, ident: int = 0x1234, src: str = "10.0.0.1", dst: str = "10.0.0.2") -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", rfc1071(hdr)) + hdr[12:] + l4


def ipv6(proto: int, l4: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64,
                       socket.inet_pton(socket.AF_INET6, "fd00::1"), socket.inet_pton(socket.AF_INET6, "fd00::2")) + l4


def tcp(payload: bytes, flags: int, seq: int = 1000, options: bytes = b"") -> bytes:
    hlen = 20 + len(options)
    return struct.pack("!HHIIBBHHH", 40000, 5001, seq, 77, (hlen // 4) << 4, flags, 512, 0, 0) + options + payload


def pseudo_ok(l3: bytes, l4: bytes, proto: int) -> bool:
    if l3[0] >> 4 == 4:
        pseudo = l3[12:20] + struct.pack("!BBH", 0, proto, len(l4))
    else:
        pseudo = l3[8:40] + struct.pack("!IxxxB", len(l4), proto)
    return rfc1071(pseudo + l4) == 0


def partial(packet: bytes, l3: int, l4: int, field: int, proto: int) -> bytearray:
    """The frame as a CHECKSUM_PARTIAL sender leaves it: pseudo-header sum in the field."""
    buf = bytearray(packet)
    l4_len = len(buf) - l4
    if buf[l3] >> 4 == 4:
        pseudo = bytes(buf[l3 + 12 : l3 + 20]) + struct.pack("!BBH", 0, proto, l4_len)
    else:
        pseudo = bytes(buf[l3 + 8 : l3 + 40]) + struct.pack("!IxxxB", l4_len, proto)
    struct.pack_into("!H", buf, field, ~rfc1071(pseudo) & 0xFFFF)  # folded sum, not inverted
    return buf


@pytest.mark.parametrize("payload_size", [0, 1, 2, 17, 1400])
def test_checksum_complete_finishes_a_partial_tcp_checksum(payload_size: int) -> None:
    payload = bytes((i * 7) & 0xFF for i in range(payload_size))
    pkt = DST + SRC + b"\x08\x00" + ipv4(6, tcp(payload, 0x18))
    buf = partial(pkt, 14, 34, 34 + 16, 6)
    assert not pseudo_ok(bytes(buf[14:34]), bytes(buf[34:]), 6)
    assert checksum_complete(memoryview(buf), 34, 16) is True
    assert pseudo_ok(bytes(buf[14:34]), bytes(buf[34:]), 6)
    assert buf[:50] == pkt[:50] and buf[52:] == pkt[52:]


def test_checksum_complete_udp_never_writes_zero() -> None:
    # A UDP datagram whose checksum comes out as 0 must carry 0xFFFF (0 = "none").
    for n in range(2000):
        pkt = DST + SRC + b"\x08\x00" + ipv4(17, struct.pack("!HHHH", 1, 2, 10, 0) + struct.pack("!H", n))
        buf = partial(pkt, 14, 34, 40, 17)
        assert checksum_complete(buf, 34, 6)
        assert buf[40:42] != b"\0\0"
        assert pseudo_ok(bytes(buf[14:34]), bytes(buf[34:]), 17)


def test_checksum_complete_refuses_offsets_outside_the_frame() -> None:
    buf = bytearray(60)
    assert checksum_complete(buf, 10, 0) is False  # inside the Ethernet header
    assert checksum_complete(buf, 34, 25) is False  # field past the end
    assert checksum_complete(buf, 70, 0) is False
    assert buf == bytearray(60)


def check_tcp_segments(segments: list[bytearray], l3: int, original_payload: bytes, mss: int,
                       flags: int, seq: int, ip_id: int | None) -> None:
    version = segments[0][l3] >> 4
    l3_len = 20 if version == 4 else 40
    payload = b""
    for index, seg in enumerate(segments):
        seg = bytes(seg)
        ip = seg[l3 : l3 + l3_len]
        l4 = seg[l3 + l3_len :]
        if version == 4:
            assert rfc1071(ip) == 0
            assert struct.unpack_from("!H", ip, 2)[0] == len(seg) - l3
            assert struct.unpack_from("!H", ip, 4)[0] == (ip_id + index) & 0xFFFF  # type: ignore[operator]
        else:
            assert struct.unpack_from("!H", ip, 4)[0] == len(l4)
        assert pseudo_ok(ip, l4, 6)
        thl = (l4[12] >> 4) * 4
        chunk = l4[thl:]
        assert struct.unpack_from("!I", l4, 4)[0] == (seq + len(payload)) & 0xFFFFFFFF
        last = index == len(segments) - 1
        expected = flags
        if not last:
            expected &= ~0x09
        if index:
            expected &= ~0x80
        assert l4[13] == expected
        assert len(chunk) == (mss if not last else len(original_payload) - mss * index)
        payload += chunk
    assert payload == original_payload


def test_gso_segment_tcpv4_with_options_and_flags() -> None:
    payload = bytes(range(256)) * 20  # 5120 bytes
    options = b"\x01\x01\x08\x0a" + bytes(8)
    pkt = DST + SRC + b"\x08\x00" + ipv4(6, tcp(payload, 0x80 | 0x10 | 0x08 | 0x01, options=options))
    buf = partial(pkt, 14, 34, 50, 6)
    segments = gso_segment(buf, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 1448, 34)
    assert segments is not None and len(segments) == 4
    check_tcp_segments(segments, 14, payload, 1448, 0x99, 1000, 0x1234)
    assert all(seg[:34 - 20] == pkt[:14] for seg in segments)


def test_gso_segment_tcpv6_behind_a_vlan_tag() -> None:
    payload = bytes((i * 13) & 0xFF for i in range(3001))
    pkt = DST + SRC + b"\x81\x00\x00\x64\x86\xdd" + ipv6(6, tcp(payload, 0x18, seq=0xFFFFFF00))
    buf = partial(pkt, 18, 58, 58 + 16, 6)
    segments = gso_segment(buf, VIRTIO_NET_HDR_GSO_TCPV6, 1000, 58)
    assert segments is not None and len(segments) == 4
    check_tcp_segments(segments, 18, payload, 1000, 0x18, 0xFFFFFF00, None)
    assert all(seg[:18] == pkt[:18] for seg in segments)


def test_gso_segment_udp_l4() -> None:
    payload = bytes((i * 5) & 0xFF for i in range(2500))
    udp = struct.pack("!HHHH", 4000, 5000, 8 + len(payload), 0) + payload
    pkt = DST + SRC + b"\x08\x00" + ipv4(17, udp)
    segments = gso_segment(partial(pkt, 14, 34, 40, 17), VIRTIO_NET_HDR_GSO_UDP_L4, 1000, 34)
    assert segments is not None and [len(s) - 42 for s in segments] == [1000, 1000, 500]
    out = b""
    for index, seg in enumerate(segments):
        seg = bytes(seg)
        assert rfc1071(seg[14:34]) == 0
        assert struct.unpack_from("!H", seg, 18)[0] == 0x1234 + index
        assert struct.unpack_from("!HHH", seg, 34) == (4000, 5000, len(seg) - 34)
        assert pseudo_ok(seg[14:34], seg[34:], 17)
        out += seg[42:]
    assert out == payload


@pytest.mark.parametrize(
    ("mutate", "gso_type", "gso_size", "csum_start"),
    [
        (None, VIRTIO_NET_HDR_GSO_UDP, 1000, 34),  # UFO: not segmented here
        (None, 0x42, 1000, 34),  # unknown type
        (None, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34),  # no segment size
        (None, VIRTIO_NET_HDR_GSO_TCPV4, 1, 34),  # absurd segment count
        (None, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 38),  # csum_start is not the L4 header
        (None, VIRTIO_NET_HDR_GSO_TCPV6, 1000, 34),  # IPv4 frame claimed as IPv6
        (lambda b: b[:40], VIRTIO_NET_HDR_GSO_TCPV4, 1000, 34),  # truncated TCP header
        (lambda b: b[:54], VIRTIO_NET_HDR_GSO_TCPV4, 1000, 34),  # header only, no payload
        (lambda b: b[:12] + b"\x08\x06" + b[14:], VIRTIO_NET_HDR_GSO_TCPV4, 1000, 34),  # ARP
        (lambda b: b[:12] + b"\x81\x00\x00\x01" * 5 + b[12:], VIRTIO_NET_HDR_GSO_TCPV4, 1000, 54),
        (lambda b: b[:46] + b"\x30" + b[47:], VIRTIO_NET_HDR_GSO_TCPV4, 1000, 34),  # TCP hlen 12
    ],
)
def test_gso_segment_returns_none_on_what_it_cannot_cut(mutate, gso_type: int, gso_size: int, csum_start: int) -> None:
    pkt = DST + SRC + b"\x08\x00" + ipv4(6, tcp(bytes(3000), 0x10))
    if mutate:
        pkt = mutate(pkt)
    assert gso_segment(bytearray(pkt), gso_type, gso_size, csum_start) is None


@given(
    st.binary(min_size=0, max_size=200),
    st.integers(0, 255),
    st.integers(0, 70000),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_offload_helpers_never_raise(data: bytes, gso_type: int, gso_size: int, csum_start: int, csum_offset: int) -> None:
    result = gso_segment(data, gso_type, gso_size, csum_start)
    assert result is None or all(isinstance(seg, bytearray) for seg in result)
    assert checksum_complete(bytearray(data), csum_start, csum_offset) in (True, False)
