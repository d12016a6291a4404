"""Unit tests of the vxlan port (datapath/netdev_vxlan.py) on loopback, no root.

Two VxlanNetdevs bound to different loopback addresses (127.0.0.1 and 127.0.0.2,
same UDP port: a vxlan port sends to its own dst_port, as in OVS and Linux)
exchange frames both ways. Plain UDP sockets stand in for the wire: one
receives what a port sends, so the datagram bytes (8-byte header: flags 0x08,
VNI << 8, then the inner frame) are asserted exactly; one sends hand-made and
malformed datagrams to a port. Covered: key/remote_ip "flow" vs fixed
semantics on both directions, the tunnel metadata reported (tun_id, outer
source, outer destination via IP_PKTINFO on a wildcard bind), malformed headers
and truncated inner frames counted (never raised), RFC 7348's ignored reserved
bits, the MTU drop, batches, send errors and close().
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest

from datapath.netdev import Netdev
from datapath.netdev_vxlan import DEFAULT_MTU, VxlanNetdev, int_to_ip, ip_to_int, vxlan_header

A_IP, B_IP, WIRE_IP, OTHER_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
DST = bytes.fromhex("020000000002")
SRC = bytes.fromhex("020000000001")


def frame(seq: int, size: int = 60, ethertype: int = 0x88B5) -> bytes:
    head = DST + SRC + struct.pack("!HI", ethertype, seq)
    return head + bytes((seq + i) & 0xFF for i in range(size - len(head)))


def free_port() -> int:
    """A UDP port that is free on the loopback addresses right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((A_IP, 0))
        return int(s.getsockname()[1])


def udp_socket(ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    s.settimeout(2.0)
    return s


@contextlib.contextmanager
def ports(*configs: dict[str, object]) -> Iterator[tuple[int, list[VxlanNetdev]]]:
    """VxlanNetdevs (one per config) sharing a free dst_port; retried if the port is taken."""
    for _ in range(20):
        port = free_port()
        devs: list[VxlanNetdev] = []
        try:
            for i, config in enumerate(configs):
                devs.append(VxlanNetdev(f"vx{i}", dst_port=port, **config))  # type: ignore[arg-type]
        except OSError as exc:
            for dev in devs:
                dev.close()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        try:
            yield port, devs
        finally:
            for dev in devs:
                dev.close()
        return
    pytest.fail("no free UDP port found on loopback in 20 tries")


Item = tuple[bytes, int, int, int]


def receive(dev: VxlanNetdev, count: int, timeout: float = 2.0) -> list[Item]:
    """Copies of what recv_tunnel_batch delivers, until count items or timeout."""
    got: list[Item] = []
    deadline = time.monotonic() + timeout
    fd = dev.fileno()
    assert fd is not None
    while len(got) < count and time.monotonic() < deadline:
        select.select([fd], [], [], 0.05)
        for f, tun_id, src, dst in dev.recv_tunnel_batch(64):
            got.append((bytes(f), tun_id, src, dst))
    return got


def settle(dev: VxlanNetdev, done: Callable[[], bool], timeout: float = 2.0) -> list[Item]:
    """Keep receiving until `done()` (e.g. a drop counter moved); returns what was delivered."""
    got: list[Item] = []
    deadline = time.monotonic() + timeout
    fd = dev.fileno()
    assert fd is not None
    while not done() and time.monotonic() < deadline:
        select.select([fd], [], [], 0.05)
        got += [(bytes(f), t, s, d) for f, t, s, d in dev.recv_tunnel_batch(64)]
    return got


A = ip_to_int(A_IP)
B = ip_to_int(B_IP)
WIRE = ip_to_int(WIRE_IP)


# ------------------------------------------------------------------ helpers and attributes


def test_header_and_address_helpers() -> None:
    assert vxlan_header(42) == bytes.fromhex("08000000 00002a00")
    assert vxlan_header(0xABCDEF) == bytes.fromhex("08000000 abcdef00")
    assert vxlan_header(0x1_000005) == bytes.fromhex("08000000 00000500")  # low 24 bits
    assert ip_to_int("10.1.2.3") == 0x0A010203 and int_to_ip(0x0A010203) == "10.1.2.3"
    with pytest.raises(ValueError):
        ip_to_int("10.1.2")


def test_port_attributes_follow_the_netdev_contract() -> None:
    with ports({"local_ip": A_IP}) as (_, (dev,)):
        assert isinstance(dev, Netdev)
        assert VxlanNetdev.type == dev.type == "vxlan"
        assert dev.name == "vx0" and repr(dev) == "VxlanNetdev('vx0')"
        assert dev.mtu == DEFAULT_MTU == 1450
        assert len(dev.hw_addr) == 6 and dev.hw_addr[0] == 0x02
        assert dev.hw_addr == VxlanNetdev("vx0", local_ip=B_IP, dst_port=dev.dst_port).hw_addr
        assert dev.link_up is True and dev.fileno() is not None
        assert dev.recv_tunnel_batch(8) == [] and dev.recv_batch(8) == []
        assert all(v == 0 for v in dev.stats.as_dict().values())


def test_constructor_rejects_bad_options_and_busy_ports() -> None:
    with pytest.raises(ValueError):
        VxlanNetdev("v", key=1 << 24)
    with pytest.raises(ValueError):
        VxlanNetdev("v", key=-1)
    with pytest.raises(ValueError):
        VxlanNetdev("v", remote_ip="not-an-ip")
    with pytest.raises(ValueError):
        VxlanNetdev("v", dst_port=0)
    with pytest.raises(ValueError):
        VxlanNetdev("v", hw_addr=b"\x02")
    with ports({"local_ip": A_IP}) as (port, _):
        with pytest.raises(OSError) as info:
            VxlanNetdev("again", local_ip=A_IP, dst_port=port)
        assert info.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError):
        VxlanNetdev("v", local_ip="192.0.2.1", dst_port=free_port())  # not a local address


# ------------------------------------------------------------------ two ports, both ways


def test_two_ports_exchange_frames_both_ways() -> None:
    with ports(
        {"local_ip": A_IP, "remote_ip": B_IP, "key": 42},
        {"local_ip": B_IP, "remote_ip": A_IP, "key": 42},
    ) as (_, (a, b)):
        sent = [frame(i, 60 + i) for i in range(5)]
        assert a.send_batch(sent) == 5
        assert receive(b, 5) == [(f, 42, A, B) for f in sent]
        assert b.send(frame(99, 1464)) is True  # the largest untagged frame of MTU 1450
        assert receive(a, 1) == [(frame(99, 1464), 42, B, A)]
        assert (a.stats.tx_packets, a.stats.tx_bytes) == (5, sum(map(len, sent)))
        assert (b.stats.rx_packets, b.stats.rx_bytes) == (5, sum(map(len, sent)))
        assert (b.stats.tx_packets, a.stats.rx_packets, a.stats.rx_bytes) == (1, 1, 1464)
        for dev in (a, b):
            assert dev.stats.rx_errors == dev.stats.rx_dropped == dev.stats.tx_dropped == 0


def test_recv_batch_gives_inner_frames_with_vlan_word_zero() -> None:
    with ports(
        {"local_ip": A_IP, "remote_ip": B_IP, "key": 7},
        {"local_ip": B_IP, "remote_ip": A_IP, "key": 7},
    ) as (_, (a, b)):
        a.send(frame(1))
        fd = b.fileno()
        assert fd is not None
        select.select([fd], [], [], 2.0)
        got = [(bytes(f), vlan) for f, vlan in b.recv_batch(8)]
        assert got == [(frame(1), 0)]


def test_batches_are_bounded_and_frames_of_one_batch_stay_distinct() -> None:
    with ports(
        {"local_ip": A_IP, "remote_ip": B_IP, "key": 1},
        {"local_ip": B_IP, "remote_ip": A_IP, "key": 1, "batch": 16},
    ) as (_, (a, b)):
        sent = [frame(i, 60 + (i % 7) * 100) for i in range(40)]
        assert a.send_batch(iter(sent)) == 40
        fd = b.fileno()
        assert fd is not None
        select.select([fd], [], [], 2.0)
        time.sleep(0.05)
        first = b.recv_tunnel_batch(10)
        assert len(first) == 10
        assert [bytes(f) for f, _, _, _ in first] == sent[:10]  # memoryviews, none overwritten
        rest = receive(b, 30)
        assert [f for f, _, _, _ in rest] == sent[10:]


def test_jumbo_inner_frames_are_received_whole() -> None:
    with ports(
        {"local_ip": A_IP, "remote_ip": B_IP, "key": 1, "mtu": 9000},
        {"local_ip": B_IP, "remote_ip": A_IP, "key": 1, "batch": 2},
    ) as (_, (a, b)):
        big = [frame(i, 9014) for i in range(4)]
        assert a.send_batch(big) == 4
        assert [f for f, _, _, _ in receive(b, 4)] == big


# ------------------------------------------------------------------ exact bytes on the wire


def test_sent_datagram_bytes_fixed_key_and_remote() -> None:
    with ports({"local_ip": A_IP, "remote_ip": WIRE_IP, "key": 0xABCDEF}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            # A fixed key and remote win over the item's tun_id and tun_ipv4_dst (OVS).
            assert a.send_tunnel_batch([(frame(3), 5, 0, ip_to_int("127.0.0.9"))]) == 1
            data, source = wire.recvfrom(65535)
            assert data == bytes.fromhex("08000000abcdef00") + frame(3)
            assert source == (A_IP, port)  # the source port is the bound dst_port
        finally:
            wire.close()


def test_sent_datagram_bytes_key_and_remote_from_flow() -> None:
    with ports({"local_ip": A_IP}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            items = [
                (frame(1), 0x123456, 0, WIRE),
                (frame(2), 0, 0, WIRE),
                (frame(3), 0x7_000001, 0, WIRE),  # tun_id wider than a VNI: low 24 bits
                (memoryview(frame(4)), 0x123456, 0, WIRE),
            ]
            assert a.send_tunnel_batch(items) == 4
            got = [wire.recvfrom(65535)[0] for _ in range(4)]
            assert got == [
                bytes.fromhex("0800000012345600") + frame(1),
                bytes.fromhex("0800000000000000") + frame(2),
                bytes.fromhex("0800000000000100") + frame(3),
                bytes.fromhex("0800000012345600") + frame(4),
            ]
            # No destination (tun_ipv4_dst 0 on a "flow" remote): dropped, counted.
            assert a.send_tunnel_batch([(frame(5), 1, 0, 0)]) == 0
            # Plain send needs a fixed key and remote.
            assert a.send(frame(6)) is False
            assert a.send_batch(f for f in [frame(7), frame(8)]) == 0
            assert a.stats.tx_dropped == 4 and a.stats.tx_packets == 4
            wire.settimeout(0.1)
            with pytest.raises(TimeoutError):
                wire.recvfrom(65535)
        finally:
            wire.close()


def test_fixed_key_with_flow_remote_and_fixed_remote_with_flow_key() -> None:
    with ports(
        {"local_ip": A_IP, "key": 9},
        {"local_ip": B_IP, "remote_ip": WIRE_IP},
    ) as (port, (keyed, remoted)):
        wire = udp_socket(WIRE_IP, port)
        try:
            assert keyed.send_tunnel_batch([(frame(1), 77, 0, WIRE)]) == 1
            assert wire.recvfrom(65535) == (bytes.fromhex("0800000000000900") + frame(1), (A_IP, port))
            assert remoted.send_tunnel_batch([(frame(2), 77, 0, 0)]) == 1
            assert wire.recvfrom(65535) == (bytes.fromhex("0800000000004d00") + frame(2), (B_IP, port))
            assert keyed.send(frame(3)) is False and remoted.send(frame(3)) is False
            assert keyed.stats.tx_dropped == remoted.stats.tx_dropped == 1
        finally:
            wire.close()


# ------------------------------------------------------------------ receive semantics


def test_received_metadata_and_reserved_bits_ignored() -> None:
    with ports({"local_ip": A_IP}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            datagrams = [
                bytes.fromhex("0800000000002a00") + frame(1),
                bytes.fromhex("ff000000abcdef00") + frame(2),  # every reserved flag bit set
                bytes.fromhex("08ffffff000001ff") + frame(3),  # reserved bytes set
            ]
            for d in datagrams:
                wire.sendto(d, (A_IP, port))
            assert receive(a, 3) == [
                (frame(1), 42, WIRE, A),
                (frame(2), 0xABCDEF, WIRE, A),
                (frame(3), 1, WIRE, A),
            ]
            assert a.stats.rx_errors == a.stats.rx_dropped == 0
        finally:
            wire.close()


def test_wildcard_bind_reports_the_datagram_destination() -> None:
    with ports({"local_ip": "0.0.0.0"}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, 0)  # the port is taken on every address: any source port
        try:
            wire.sendto(vxlan_header(5) + frame(1), ("127.0.0.5", port))
            wire.sendto(vxlan_header(6) + frame(2), ("127.0.0.6", port))
            assert receive(a, 2) == [
                (frame(1), 5, WIRE, ip_to_int("127.0.0.5")),
                (frame(2), 6, WIRE, ip_to_int("127.0.0.6")),
            ]
        finally:
            wire.close()


def test_fixed_key_drops_other_vnis() -> None:
    with ports({"local_ip": A_IP, "key": 42}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            wire.sendto(vxlan_header(43) + frame(1), (A_IP, port))
            wire.sendto(vxlan_header(0) + frame(2), (A_IP, port))
            wire.sendto(vxlan_header(42) + frame(3), (A_IP, port))
            assert receive(a, 1) == [(frame(3), 42, WIRE, A)]
            settle(a, lambda: a.rx_vni_mismatch == 2)
            assert (a.rx_vni_mismatch, a.stats.rx_dropped, a.stats.rx_packets) == (2, 2, 1)
        finally:
            wire.close()


def test_fixed_remote_drops_other_sources() -> None:
    with ports({"local_ip": A_IP, "remote_ip": WIRE_IP}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        other = udp_socket(OTHER_IP, port)
        try:
            other.sendto(vxlan_header(1) + frame(1), (A_IP, port))
            wire.sendto(vxlan_header(2) + frame(2), (A_IP, port))
            assert receive(a, 1) == [(frame(2), 2, WIRE, A)]
            settle(a, lambda: a.rx_remote_mismatch == 1)
            assert (a.rx_remote_mismatch, a.stats.rx_dropped, a.stats.rx_packets) == (1, 1, 1)
        finally:
            wire.close()
            other.close()


def test_malformed_datagrams_are_counted_never_raised() -> None:
    with ports({"local_ip": A_IP}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            bad = [
                b"",  # empty datagram
                b"\x08\x00\x00",  # shorter than the header
                bytes.fromhex("0800000000002a00"),  # header, no inner frame
                bytes.fromhex("0800000000002a00") + frame(1)[:13],  # inner frame truncated
                bytes.fromhex("0000000000002a00") + frame(2),  # I flag clear
                bytes.fromhex("f7000000000001ff") + frame(3),  # every flag but I
            ]
            for d in bad:
                wire.sendto(d, (A_IP, port))
            wire.sendto(vxlan_header(8) + frame(4), (A_IP, port))  # a good one after them
            got = settle(a, lambda: a.stats.rx_errors + a.stats.rx_packets == len(bad) + 1)
            assert got == [(frame(4), 8, WIRE, A)]
            assert a.stats.rx_errors == len(bad)
            assert (a.stats.rx_packets, a.stats.rx_bytes, a.stats.rx_dropped) == (1, 60, 0)
        finally:
            wire.close()


# ------------------------------------------------------------------ MTU, errors, close


def test_frames_over_the_mtu_are_dropped() -> None:
    with ports({"local_ip": A_IP, "remote_ip": WIRE_IP, "key": 1, "mtu": 100}) as (port, (a,)):
        wire = udp_socket(WIRE_IP, port)
        try:
            fits = frame(1, 114)
            tagged = frame(2, 118, ethertype=0x8100)  # 802.1Q may be 4 bytes longer
            assert a.send_batch([fits, frame(3, 115), tagged, frame(4, 118, ethertype=0x88A8)]) == 2
            assert [wire.recvfrom(65535)[0] for _ in range(2)] == [
                vxlan_header(1) + fits, vxlan_header(1) + tagged,
            ]
            assert (a.stats.tx_dropped, a.stats.tx_packets, a.stats.tx_bytes) == (2, 2, 232)
            a.mtu = 200  # settable
            assert a.send(frame(5, 214)) is True and a.stats.tx_dropped == 2
        finally:
            wire.close()


def test_send_errors_become_counters() -> None:
    with ports({"local_ip": A_IP}) as (_, (a,)):
        # Loopback cannot reach a global address: EINVAL from the kernel, an error.
        assert a.send_tunnel_batch([(frame(1), 1, 0, ip_to_int("192.0.2.1"))]) == 0
        # A datagram over 64 KiB: EMSGSIZE, a drop.
        a.mtu = 70000
        assert a.send_tunnel_batch([(frame(2, 65600), 1, 0, WIRE)]) == 0
        assert (a.stats.tx_errors, a.stats.tx_dropped, a.stats.tx_packets) == (1, 1, 0)
        assert a.last_errno == errno.EMSGSIZE


def test_close_then_send_and_receive() -> None:
    with ports(
        {"local_ip": A_IP, "remote_ip": B_IP, "key": 3},
        {"local_ip": B_IP, "remote_ip": A_IP, "key": 3},
    ) as (_, (a, b)):
        a.send(frame(1))
        b.close()
        b.close()  # idempotent
        assert b.fileno() is None and b.link_up is False
        assert b.recv_tunnel_batch(8) == [] and b.recv_batch(8) == []
        assert b.send(frame(2)) is False
        assert b.send_tunnel_batch([(frame(3), 3, 0, A), (frame(4), 3, 0, A)]) == 0
        assert b.stats.tx_dropped == 3 and b.stats.tx_packets == 0
        # The port's address is free again once closed.
        again = VxlanNetdev("again", local_ip=B_IP, dst_port=b.dst_port)
        again.close()
