"""The vxlan port against a real Linux vxlan device, as root.

Topology (all inside this test's namespaces, from `netns_lab`):

    [ns "vt": VxlanNetdev, UDP socket on 10.200.0.1:4789]
        veth 10.200.0.1/24 <----> 10.200.0.2/24 veth
    [ns "lx": Linux `vxlan id 42` (192.168.42.2/24, MAC 02:00:00:00:42:02)
              and, where a second VNI is needed, `vxlan id 43` (192.168.43.2/24)]

The VxlanNetdev is opened with this thread switched into "vt"; the Linux devices
are the independent implementation. Frames our port sends are seen on the
Linux vxlan device by an AF_PACKET socket in "lx" and answered by the kernel
(ARP reply, ICMP echo reply) back through the tunnel; traffic the Linux stack
starts (an ARP request for 192.168.42.1, then the UDP datagram waiting on it)
arrives at our port with VNI and outer addresses as tunnel metadata. A fixed
key drops another VNI (counted); "flow" key and remote serve both VNIs.
"""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
import time
from collections.abc import Callable

from datapath.netdev_vxlan import VxlanNetdev, ip_to_int
from tests.integration.conftest import NetnsLab

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
OUR_MAC = bytes.fromhex("020000004201")
LX42_MAC = bytes.fromhex("020000004202")
LX43_MAC = bytes.fromhex("020000004302")
BROADCAST = b"\xff" * 6
VT_IP, LX_IP = "10.200.0.1", "10.200.0.2"
VT, LX = ip_to_int(VT_IP), ip_to_int(LX_IP)

Item = tuple[bytes, int, int, int]


# ------------------------------------------------------------------ frames built here


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(word for (word,) in struct.iter_unpack("!H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def arp(op: int, dst_mac: bytes, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
    body += sha + socket.inet_aton(spa) + tha + socket.inet_aton(tpa)
    return dst_mac + sha + b"\x08\x06" + body


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    return head[:10] + struct.pack("!H", inet_checksum(head)) + head[12:] + payload


def icmp_echo(kind: int, ident: int, seq: int, data: bytes) -> bytes:
    head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    csum = inet_checksum(head + data)
    return head[:2] + struct.pack("!H", csum) + head[4:] + data


# ------------------------------------------------------------------ topology and helpers


class Tunnel:
    """vt (our VxlanNetdev) --veth underlay-- lx (Linux vxlan devices)."""

    def __init__(self, lab: NetnsLab) -> None:
        self.lab = lab
        self.vt = lab.add_ns("vt")
        self.lx = lab.add_ns("lx")
        self.vt_if, self.lx_if = lab.add_veth(self.vt, self.lx)
        lab.ip(self.vt, "addr", "add", f"{VT_IP}/24", "dev", self.vt_if)
        lab.ip(self.lx, "addr", "add", f"{LX_IP}/24", "dev", self.lx_if)
        self.vx42 = self.add_linux_vxlan(42, LX42_MAC, "192.168.42.2/24")

    def add_linux_vxlan(self, vni: int, mac: bytes, address: str) -> str:
        name = self.lab.new_ifname("x")
        self.lab.ip(
            self.lx, "link", "add", name, "address", mac.hex(":"), "type", "vxlan", "id", str(vni),
            "remote", VT_IP, "local", LX_IP, "dstport", "4789",
        )
        self.lab.ip(self.lx, "addr", "add", address, "dev", name)
        self.lab.ip(self.lx, "link", "set", name, "up")
        return name

    def port(self, **options: object) -> VxlanNetdev:
        with self.lab.entered(self.vt):
            return VxlanNetdev("vx", hw_addr=OUR_MAC, **options)  # type: ignore[arg-type]

    def capture_socket(self, ifname: str) -> socket.socket:
        sock = self.lab.socket(self.lx, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((ifname, ETH_P_ALL))
        sock.settimeout(0.1)
        return sock

    def lx_udp_socket(self) -> socket.socket:
        return self.lab.socket(self.lx, socket.AF_INET, socket.SOCK_DGRAM)


def receive(dev: VxlanNetdev, want: Callable[[Item], bool], count: int = 1, timeout: float = 3.0) -> list[Item]:
    """Copies of the items recv_tunnel_batch delivers that satisfy `want`."""
    got: list[Item] = []
    deadline = time.monotonic() + timeout
    fd = dev.fileno()
    assert fd is not None
    while len(got) < count and time.monotonic() < deadline:
        select.select([fd], [], [], 0.05)
        for f, tun_id, src, dst in dev.recv_tunnel_batch(64):
            item = (bytes(f), tun_id, src, dst)
            if want(item):
                got.append(item)
    return got


def capture(sock: socket.socket, want: Callable[[bytes], bool], timeout: float = 3.0) -> list[bytes]:
    """Incoming frames on an AF_PACKET socket that satisfy `want` (first match ends the wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            continue
        if addr[2] != PACKET_OUTGOING and want(data):
            return [data]
    return []


def is_arp(op: int, tpa: str) -> Callable[[Item], bool]:
    def want(item: Item) -> bool:
        f = item[0]
        return f[12:14] == b"\x08\x06" and f[20:22] == op.to_bytes(2, "big") and f[38:42] == socket.inet_aton(tpa)

    return want


# ------------------------------------------------------------------ both directions, fixed key


def test_our_frames_reach_the_linux_vxlan_device_and_its_answers_come_back(netns_lab: NetnsLab) -> None:
    tun = Tunnel(netns_lab)
    dev = tun.port(local_ip=VT_IP, remote_ip=LX_IP, key=42)
    spy = tun.capture_socket(tun.vx42)
    try:
        # ARP request -> the Linux device sees exactly our frame, the kernel answers.
        request = arp(1, BROADCAST, OUR_MAC, "192.168.42.1", bytes(6), "192.168.42.2")
        assert dev.send(request) is True
        assert capture(spy, lambda f: f[12:14] == b"\x08\x06" and f[6:12] == OUR_MAC) == [request]
        replies = receive(dev, is_arp(2, "192.168.42.1"))
        assert replies == [
            (arp(2, OUR_MAC, LX42_MAC, "192.168.42.2", OUR_MAC, "192.168.42.1"), 42, LX, VT)
        ]
        # ICMP echo request -> echo reply through the tunnel, same id/seq/data.
        data = bytes(range(56))
        echo = LX42_MAC + OUR_MAC + b"\x08\x00" + ipv4(
            "192.168.42.1", "192.168.42.2", 1, icmp_echo(8, 0x5A5A, 1, data)
        )
        assert dev.send_tunnel_batch([(echo, 42, 0, 0)]) == 1

        def is_echo_reply(item: Item) -> bool:
            f = item[0]
            return f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0

        got = receive(dev, is_echo_reply)
        assert len(got) == 1
        reply, tun_id, src, dst = got[0]
        assert (tun_id, src, dst) == (42, LX, VT)
        assert reply[:12] == OUR_MAC + LX42_MAC
        assert reply[26:34] == socket.inet_aton("192.168.42.2") + socket.inet_aton("192.168.42.1")
        assert reply[34:] == icmp_echo(0, 0x5A5A, 1, data)
        assert inet_checksum(reply[14:34]) == 0
        assert dev.stats.tx_packets == 2 and dev.stats.tx_errors == dev.stats.tx_dropped == 0
        assert dev.stats.rx_errors == dev.stats.rx_dropped == 0
        # The Linux device counted both frames as received (its own view of the tunnel).
        stats = json.loads(netns_lab.ip(tun.lx, "-j", "-s", "link", "show", tun.vx42))[0]["stats64"]
        assert stats["rx"]["packets"] == 2 and stats["rx"]["errors"] == 0
    finally:
        spy.close()
        dev.close()


def test_traffic_the_linux_stack_starts_arrives_with_tunnel_metadata(netns_lab: NetnsLab) -> None:
    tun = Tunnel(netns_lab)
    dev = tun.port(local_ip="0.0.0.0", remote_ip=LX_IP, key=42)  # wildcard: IP_PKTINFO gives tun dst
    host = tun.lx_udp_socket()
    try:
        host.bind(("192.168.42.2", 5000))
        host.sendto(b"hello through vxlan", ("192.168.42.1", 6000))
        # The kernel first resolves 192.168.42.1: its ARP request comes through the tunnel.
        requests = receive(dev, is_arp(1, "192.168.42.1"))
        assert requests == [
            (arp(1, BROADCAST, LX42_MAC, "192.168.42.2", bytes(6), "192.168.42.1"), 42, LX, VT)
        ]
        assert dev.send(arp(2, LX42_MAC, OUR_MAC, "192.168.42.1", LX42_MAC, "192.168.42.2")) is True

        def is_udp(item: Item) -> bool:
            return item[0][12:14] == b"\x08\x00" and item[0][23] == 17

        got = receive(dev, is_udp)
        assert len(got) == 1
        datagram, tun_id, src, dst = got[0]
        assert (tun_id, src, dst) == (42, LX, VT)
        assert datagram[:12] == OUR_MAC + LX42_MAC
        assert datagram[26:34] == socket.inet_aton("192.168.42.2") + socket.inet_aton("192.168.42.1")
        assert struct.unpack_from("!HH", datagram, 34) == (5000, 6000)
        assert datagram[42:] == b"hello through vxlan"
        neigh = netns_lab.ip(tun.lx, "neigh", "show", "192.168.42.1", "dev", tun.vx42)
        assert OUR_MAC.hex(":") in neigh  # the kernel took our ARP reply
    finally:
        host.close()
        dev.close()


# ------------------------------------------------------------------ VNIs: fixed key vs flow


def test_fixed_key_drops_another_vni_from_a_linux_device(netns_lab: NetnsLab) -> None:
    tun = Tunnel(netns_lab)
    vx43 = tun.add_linux_vxlan(43, LX43_MAC, "192.168.43.2/24")
    dev = tun.port(local_ip=VT_IP, remote_ip=LX_IP, key=42)
    host = tun.lx_udp_socket()
    spy43 = tun.capture_socket(vx43)
    try:
        host.sendto(b"x", ("192.168.43.1", 9))  # ARP request out of the VNI 43 device
        deadline = time.monotonic() + 3
        while dev.rx_vni_mismatch == 0 and time.monotonic() < deadline:
            select.select([dev.fileno()], [], [], 0.05)
            assert dev.recv_tunnel_batch(64) == []
        assert dev.rx_vni_mismatch >= 1
        assert dev.stats.rx_dropped == dev.rx_vni_mismatch and dev.stats.rx_packets == 0
        # VNI 42 still flows (positive control), and what we send carries VNI 42 only:
        # the VNI 43 device never sees it.
        host.sendto(b"x", ("192.168.42.1", 9))
        assert receive(dev, is_arp(1, "192.168.42.1"))[0][1:] == (42, LX, VT)
        request = arp(1, BROADCAST, OUR_MAC, "192.168.43.1", bytes(6), "192.168.43.2")
        assert dev.send_tunnel_batch([(request, 43, 0, 0)]) == 1
        assert capture(spy43, lambda f: f[6:12] == OUR_MAC, timeout=0.5) == []
    finally:
        spy43.close()
        host.close()
        dev.close()


def test_flow_key_and_remote_serve_both_vnis(netns_lab: NetnsLab) -> None:
    tun = Tunnel(netns_lab)
    vx43 = tun.add_linux_vxlan(43, LX43_MAC, "192.168.43.2/24")
    dev = tun.port()  # key and remote_ip "flow", bound to 0.0.0.0:4789
    host = tun.lx_udp_socket()
    spy42 = tun.capture_socket(tun.vx42)
    spy43 = tun.capture_socket(vx43)
    try:
        host.sendto(b"x", ("192.168.43.1", 9))
        assert receive(dev, is_arp(1, "192.168.43.1"))[0][1:] == (43, LX, VT)
        host.sendto(b"x", ("192.168.42.1", 9))
        assert receive(dev, is_arp(1, "192.168.42.1"))[0][1:] == (42, LX, VT)
        # Out by the item's metadata: VNI 43 to 10.200.0.2 reaches only the VNI 43 device.
        request = arp(1, BROADCAST, OUR_MAC, "192.168.43.1", bytes(6), "192.168.43.2")
        assert dev.send_tunnel_batch([(request, 43, 0, LX)]) == 1
        assert capture(spy43, lambda f: f[6:12] == OUR_MAC) == [request]
        assert capture(spy42, lambda f: f[6:12] == OUR_MAC, timeout=0.5) == []
        assert receive(dev, is_arp(2, "192.168.43.1"))[0] == (
            arp(2, OUR_MAC, LX43_MAC, "192.168.43.2", OUR_MAC, "192.168.43.1"), 43, LX, VT
        )
        # No destination in the metadata: dropped and counted, nothing raised.
        assert dev.send_tunnel_batch([(request, 43, 0, 0)]) == 0
        assert dev.send(request) is False
        assert dev.stats.tx_dropped == 2
        # A destination with no route in this namespace: a send error, counted.
        assert dev.send_tunnel_batch([(request, 43, 0, ip_to_int("10.201.0.9"))]) == 0
        assert dev.stats.tx_errors == 1 and dev.last_errno == errno.ENETUNREACH
    finally:
        spy42.close()
        spy43.close()
        host.close()
        dev.close()
