"""System (AF_PACKET) and internal (tap) netdevs against the real kernel, as root.

Every test builds its own namespaces and veth pairs with `netns_lab` (prefix
`satest-<pid>-`, removed in teardown). The datapath side ("sw" namespace) is
opened by switching this thread into it; namespace hosts talk through raw
sockets opened in their namespace or through Python subprocesses. The forwarder
tests run a real TCP transfer h1 -> [veth | forwarder | veth] -> h2 with the
veths' default offloads (partial checksums, TSO super-frames) and check the
bytes that arrive.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import socket
import struct
import time
from collections.abc import Callable

import pytest

from datapath.linux_if import get_offloads, set_offloads
from datapath.netdev import Netdev, insert_vlan, vlan_tag
from datapath.netdev_linux import ETH_P_ALL, SystemNetdev
from datapath.netdev_ring import DEFAULT_FRAMES, FRAME_SIZE, RxPacketRing
from datapath.netdev_tap import InternalNetdev
from tests.integration.conftest import NetnsLab

ETH_P_TEST = 0x88B5  # IEEE 802 local experimental ethertype: our test frames
PACKET_OUTGOING = 4
H1_MAC = bytes.fromhex("020000000001")
FOREIGN_MAC = bytes.fromhex("02aabbccddee")


# ------------------------------------------------------------------ helpers


def rfc1071(data: bytes) -> int:
    """Reference Internet checksum (word loop), independent of datapath's int trick."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def l4_checksum_ok(frame: bytes) -> bool:
    """Whether an untagged IPv4 TCP/UDP frame's IP and L4 checksums verify."""
    ihl = (frame[14] & 0x0F) * 4
    ip = frame[14 : 14 + ihl]
    if rfc1071(ip) != 0:
        return False
    total_len = struct.unpack_from("!H", ip, 2)[0]
    l4 = frame[14 + ihl : 14 + total_len]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, ip[9], len(l4))
    return rfc1071(pseudo + l4) == 0


def make_frame(dst: bytes, src: bytes, seq: int, size: int = 60) -> bytes:
    head = dst + src + struct.pack("!HI", ETH_P_TEST, seq)
    return head + bytes((seq + i) & 0xFF for i in range(size - len(head)))


def raw_socket(lab: NetnsLab, ns: str, ifname: str) -> socket.socket:
    sock = lab.socket(ns, socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.bind((ifname, ETH_P_ALL))
    sock.settimeout(0.2)
    return sock


def capture(sock: socket.socket, want: Callable[[bytes], bool], count: int, timeout: float = 3.0) -> list[bytes]:
    """Frames arriving (not outgoing) on a raw socket that satisfy `want`."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            continue
        if addr[2] != PACKET_OUTGOING and want(data):
            got.append(data)
    return got


def drain(dev: Netdev, want: Callable[[bytes, int], bool], count: int, timeout: float = 3.0) -> list[tuple[bytes, int]]:
    """Copies of frames from dev.recv_batch that satisfy `want`, until count or timeout."""
    got: list[tuple[bytes, int]] = []
    deadline = time.monotonic() + timeout
    fd = dev.fileno()
    assert fd is not None
    while len(got) < count and time.monotonic() < deadline:
        select.select([fd], [], [], 0.05)
        for frame, vlan in dev.recv_batch(64):
            data = bytes(frame)
            if want(data, vlan):
                got.append((data, vlan))
    return got


def is_test_frame(data: bytes, vlan: int = 0) -> bool:
    return data[12:14] == b"\x88\xb5"


def promiscuity(lab: NetnsLab, ns: str, ifname: str) -> int:
    words = lab.ip(ns, "-d", "link", "show", ifname).split()
    return int(words[words.index("promiscuity") + 1])


def forward(ports: tuple[Netdev, Netdev], until: Callable[[], bool], timeout: float) -> None:
    """The two-port forwarder: whatever arrives on one port leaves on the other (tags restored)."""
    a, b = ports
    poller = select.poll()
    fds = {a.fileno(): (a, b), b.fileno(): (b, a)}
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        for fd, _ in poller.poll(20):
            src, dst = fds[fd]
            frames = src.recv_batch(256)
            if frames:
                dst.send_batch([insert_vlan(f, v) if v else f for f, v in frames])


# ------------------------------------------------------------------ fixtures


class Pair:
    """h1 --veth-- sw, with a SystemNetdev on the sw end."""

    def __init__(self, lab: NetnsLab, **netdev_args: object) -> None:
        self.lab = lab
        self.sw = lab.add_ns("sw")
        self.h1 = lab.add_ns("h1")
        self.h1_if, self.sw_if = lab.add_veth(self.h1, self.sw)
        lab.ip(self.h1, "link", "set", self.h1_if, "address", H1_MAC.hex(":"))
        with lab.entered(self.sw):
            self.dev = SystemNetdev(self.sw_if, **netdev_args)  # type: ignore[arg-type]
        self.h1_sock = raw_socket(lab, self.h1, self.h1_if)

    def close(self) -> None:
        self.dev.close()
        self.h1_sock.close()


# Receive paths: recvmmsg, per-packet recvmsg (both without a ring), the TPACKET_V2 ring.
IO_MODES = {"mmsg": {"io": "mmsg", "rx_ring": 0}, "msg": {"io": "msg", "rx_ring": 0},
            "ring": {"io": "mmsg", "rx_ring": DEFAULT_FRAMES}}


@pytest.fixture(params=list(IO_MODES))
def pair(request: pytest.FixtureRequest, netns_lab: NetnsLab) -> Pair:
    p = Pair(netns_lab, **IO_MODES[request.param])
    request.addfinalizer(p.close)
    assert (p.dev.rx_ring is not None) == (request.param == "ring")
    return p


# ------------------------------------------------------------------ receive and send


def test_frames_from_namespace_host_arrive_with_correct_bytes(pair: Pair) -> None:
    dev = pair.dev
    frames = [make_frame(FOREIGN_MAC, H1_MAC, seq, size=60 + seq * 37) for seq in range(20)]
    for frame in frames:
        pair.h1_sock.send(frame)
    got = drain(dev, is_test_frame, len(frames))
    assert got == [(frame, 0) for frame in frames]
    assert dev.stats.rx_packets >= len(frames)
    assert dev.stats.rx_bytes >= sum(map(len, frames))
    assert dev.stats.rx_errors == dev.stats.rx_dropped == 0


def test_send_arrives_in_namespace(pair: Pair) -> None:
    dev = pair.dev
    frames = [make_frame(H1_MAC, dev.hw_addr, seq, size=64 + seq) for seq in range(10)]
    assert dev.send(frames[0]) is True
    assert dev.send_batch(frames[1:]) == 9
    got = capture(pair.h1_sock, is_test_frame, len(frames))
    assert got == frames
    assert dev.stats.tx_packets == 10
    assert dev.stats.tx_bytes == sum(map(len, frames))


def test_send_batch_larger_than_the_slot_ring(netns_lab: NetnsLab) -> None:
    p = Pair(netns_lab, batch=8)
    try:
        frames = [make_frame(H1_MAC, p.dev.hw_addr, seq) for seq in range(30)]
        assert p.dev.send_batch(frames) == 30
        assert capture(p.h1_sock, is_test_frame, 30) == frames
    finally:
        p.close()


def test_own_sends_are_not_received_back(pair: Pair) -> None:
    dev, lab = pair.dev, pair.lab
    # A second packet socket on the same interface, without PACKET_IGNORE_OUTGOING,
    # shows our frames do go out there as PACKET_OUTGOING: only the option hides them.
    with lab.entered(pair.sw):
        spy = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    spy.bind((pair.sw_if, ETH_P_ALL))
    spy.settimeout(0.2)
    try:
        ours = [make_frame(H1_MAC, dev.hw_addr, 1000 + seq) for seq in range(5)]
        assert dev.send_batch(ours) == 5
        theirs = make_frame(dev.hw_addr, H1_MAC, 7)
        pair.h1_sock.send(theirs)
        got = drain(dev, is_test_frame, 6, timeout=1.0)
        assert got == [(theirs, 0)]
        seen = []
        deadline = time.monotonic() + 2
        while len(seen) < 5 and time.monotonic() < deadline:
            try:
                data, addr = spy.recvfrom(2048)
            except TimeoutError:
                continue
            if addr[2] == PACKET_OUTGOING and is_test_frame(data):
                seen.append(data)
        assert seen == ours
    finally:
        spy.close()


# ------------------------------------------------------------------ VLAN tags


@pytest.mark.parametrize(
    ("tags", "vlan"),
    [
        ([(0x8100, 0x2064)], vlan_tag(0x2064)),  # PCP 1, VID 100
        ([(0x8100, 0x0000)], vlan_tag(0x0000)),  # priority tag: still a tag
        ([(0x8100, 0xF00A)], vlan_tag(0xF00A)),  # PCP 7, DEI 1, VID 10
        ([(0x88A8, 0x0123), (0x8100, 0x0456)], vlan_tag(0x0123, 0x88A8)),  # QinQ: outer comes back
    ],
)
def test_vlan_tag_comes_back_through_auxdata(pair: Pair, tags: list[tuple[int, int]], vlan: int) -> None:
    inner = make_frame(pair.dev.hw_addr, H1_MAC, 42)
    tagged = inner[:12] + b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags) + inner[12:]
    pair.h1_sock.send(tagged)
    stripped = tagged[:12] + tagged[16:]  # the kernel removed the outer tag only

    def want(data: bytes, _vlan: int) -> bool:
        return data[:12] == tagged[:12] and ETH_P_TEST.to_bytes(2, "big") in data[12:24]

    got = drain(pair.dev, want, 1)
    assert got == [(stripped, vlan)]
    assert insert_vlan(got[0][0], got[0][1]) == tagged


def test_lone_frames_and_batches_keep_tags_bytes_and_counters(pair: Pair) -> None:
    """A batch of one frame is checked and built on a shorter path than a larger batch
    (and a lone send is one sendmsg); whatever batch came before, each frame comes
    back with its bytes and tag."""
    dev = pair.dev
    seq = 0
    for count in (1, 5, 1, 1, 3, 1, 2):
        expected = []
        for _ in range(count):
            seq += 1
            frame = make_frame(dev.hw_addr, H1_MAC, seq, size=60 + seq)
            if seq % 2:  # odd ones tagged: the kernel strips the tag into auxdata
                pair.h1_sock.send(frame[:12] + struct.pack("!HH", 0x8100, seq) + frame[12:])
                expected.append((frame, vlan_tag(seq)))
            else:
                pair.h1_sock.send(frame)
                expected.append((frame, 0))
        assert drain(dev, is_test_frame, count) == expected
    assert dev.stats.rx_errors == 0
    lone = make_frame(H1_MAC, dev.hw_addr, 99)
    assert dev.send(lone) is True and capture(pair.h1_sock, is_test_frame, 1) == [lone]
    pair.lab.ip(pair.sw, "link", "set", pair.sw_if, "down")
    try:
        assert dev.send(lone) is False  # ENETDOWN: a drop, not an exception
    finally:
        pair.lab.ip(pair.sw, "link", "set", pair.sw_if, "up")
    assert dev.stats.tx_packets == 1 and dev.stats.tx_dropped == 1


# ------------------------------------------------------------------ promiscuous


def test_promiscuous_membership_and_foreign_unicast(netns_lab: NetnsLab) -> None:
    p = Pair(netns_lab)
    try:
        assert promiscuity(netns_lab, p.sw, p.sw_if) == 1
        frame = make_frame(FOREIGN_MAC, H1_MAC, 3)
        p.h1_sock.send(frame)
        assert drain(p.dev, is_test_frame, 1) == [(frame, 0)]
    finally:
        p.close()
    assert promiscuity(netns_lab, p.sw, p.sw_if) == 0  # the kernel undid it on close
    with netns_lab.entered(p.sw):
        quiet = SystemNetdev(p.sw_if, promisc=False)
    try:
        assert promiscuity(netns_lab, p.sw, p.sw_if) == 0
    finally:
        quiet.close()


# ------------------------------------------------------------------ link properties


def test_mtu_mac_index_and_carrier(netns_lab: NetnsLab) -> None:
    p = Pair(netns_lab)
    try:
        dev = p.dev
        link = netns_lab.ip(p.sw, "-o", "link", "show", p.sw_if)
        assert f"mtu {dev.mtu} " in link
        assert dev.hw_addr.hex(":") in link
        assert link.startswith(f"{dev.ifindex}: ")
        deadline = time.monotonic() + 5
        while not dev.link_up and time.monotonic() < deadline:  # linkwatch is asynchronous
            time.sleep(0.05)
        assert dev.link_up
        netns_lab.ip(p.sw, "link", "set", p.sw_if, "mtu", "1400")
        assert dev.mtu == 1400
        dev.set_admin_up(False)
        assert dev.link_up is False
        assert "UP" not in netns_lab.ip(p.sw, "-o", "link", "show", p.sw_if).split(">")[0]
    finally:
        p.close()


# ------------------------------------------------------------------ MTU and kernel errors


def test_over_mtu_send_is_counted_not_raised(pair: Pair) -> None:
    dev, lab = pair.dev, pair.lab
    mtu = dev.mtu
    fits = make_frame(H1_MAC, dev.hw_addr, 1, size=mtu + 14)
    too_big = make_frame(H1_MAC, dev.hw_addr, 2, size=mtu + 15)
    tagged = fits[:12] + struct.pack("!HH", 0x8100, 5) + fits[12:]  # mtu + 18 with a tag: fits
    qinq = fits[:12] + struct.pack("!HH", 0x88A8, 5) + fits[12:]  # 0x88a8 gets no allowance
    assert dev.send(fits) is True
    assert dev.send(too_big) is False
    assert dev.send(qinq) is False
    assert dev.send_batch([too_big, tagged, too_big]) == 1
    assert dev.stats.tx_dropped == 4
    assert dev.stats.tx_packets == 2
    # The MTU shrinks behind our back: the kernel refuses (EMSGSIZE), counted as a drop.
    lab.ip(pair.sw, "link", "set", pair.sw_if, "mtu", "1400")
    assert dev.send_batch([fits, make_frame(H1_MAC, dev.hw_addr, 3, size=100)]) == 1
    assert dev.stats.tx_dropped == 5
    # ... and grows: a frame over the cached MTU is re-checked, not dropped.
    lab.ip(pair.h1, "link", "set", pair.h1_if, "mtu", "2000")  # veth drops over the peer's MTU
    lab.ip(pair.sw, "link", "set", pair.sw_if, "mtu", "2000")
    big = make_frame(H1_MAC, dev.hw_addr, 4, size=2014)
    assert dev.send(big) is True
    got = capture(pair.h1_sock, lambda d: is_test_frame(d) and len(d) >= 2014, 1)
    assert got == [big]


def test_vanished_interface_is_counted_not_raised(pair: Pair) -> None:
    dev, lab = pair.dev, pair.lab
    mtu = dev.mtu
    lab.ip(pair.h1, "link", "del", pair.h1_if)  # takes the sw end with it
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not dev.stats.rx_errors:
        assert dev.recv_batch(64) == []
        time.sleep(0.02)
    assert dev.stats.rx_errors >= 1  # ENETDOWN reported once by the socket
    frame = make_frame(H1_MAC, dev.hw_addr, 1)
    assert dev.send(frame) is False
    assert dev.send_batch([frame, frame]) == 0
    assert dev.stats.tx_dropped + dev.stats.tx_errors == 3
    assert dev.last_errno != 0
    assert dev.link_up is False
    assert dev.mtu == mtu  # last known value


def test_closed_netdev_is_inert(pair: Pair) -> None:
    dev = pair.dev
    dev.close()
    dev.close()
    assert dev.fileno() is None
    assert dev.recv_batch(8) == []
    assert dev.send(make_frame(H1_MAC, dev.hw_addr, 1)) is False
    assert dev.stats.tx_dropped == 1
    assert dev.link_up is False


def test_constructor_errors_raise_and_leak_nothing(netns_lab: NetnsLab) -> None:
    sw = netns_lab.add_ns("sw")
    fds_before = len(os.listdir("/proc/self/fd"))
    with netns_lab.entered(sw):
        with pytest.raises(OSError):
            SystemNetdev("nosuchif0")
        with pytest.raises(ValueError, match="io must be"):
            SystemNetdev("lo", io="rings")
        with pytest.raises(ValueError, match="1..15 bytes"):
            InternalNetdev("x" * 16)
        with pytest.raises(OSError):
            InternalNetdev("lo")  # exists and is not a tap
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_per_packet_fallback_when_ctypes_mmsg_is_missing(netns_lab: NetnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    import datapath.netdev_linux as netdev_linux

    monkeypatch.setattr(netdev_linux, "_MMSG", None)
    sw = netns_lab.add_ns("sw")
    with netns_lab.entered(sw):
        dev = SystemNetdev("lo")
        try:
            assert dev.io == "msg"
        finally:
            dev.close()
        with pytest.raises(OSError, match="not available"):
            SystemNetdev("lo", io="mmsg")


def test_qdisc_bypass_send(netns_lab: NetnsLab) -> None:
    p = Pair(netns_lab, qdisc_bypass=True)
    try:
        frame = make_frame(H1_MAC, p.dev.hw_addr, 11)
        assert p.dev.send(frame) is True
        assert capture(p.h1_sock, is_test_frame, 1) == [frame]
    finally:
        p.close()


# ------------------------------------------------------------------ checksum offload


SYN_CLIENT = """
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect((sys.argv[1], 9))
except OSError:
    pass
"""


def test_partial_checksum_of_a_syn_is_completed(pair: Pair) -> None:
    lab, dev = pair.lab, pair.dev
    lab.ip(pair.h1, "addr", "add", "10.0.0.1/24", "dev", pair.h1_if)
    lab.ip(pair.h1, "neigh", "add", "10.0.0.2", "lladdr", "02:00:00:00:00:02", "dev", pair.h1_if)
    assert get_offloads(dev._ctl, pair.sw_if)["tx_csum"]  # veth default: offload on
    # What the wire side really carries: a packet socket without PACKET_VNET_HDR on
    # the same interface sees the SYN with only the pseudo-header sum in place.
    with lab.entered(pair.sw):
        spy = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    spy.bind((pair.sw_if, 0x0800))
    spy.settimeout(0.2)
    try:
        lab.python(pair.h1, SYN_CLIENT, "10.0.0.2")

        def is_syn(data: bytes, _vlan: int = 0) -> bool:
            return data[12:14] == b"\x08\x00" and data[23] == 6 and data[47] & 0x02 != 0

        got = drain(dev, is_syn, 1)
        assert len(got) == 1
        syn = got[0][0]
        assert l4_checksum_ok(syn)
        assert dev.csum_completed >= 1
        raw = capture(spy, is_syn, 1)
        assert len(raw) == 1 and raw[0][:50] == syn[:50]
        assert not l4_checksum_ok(raw[0])  # partial as delivered: we really completed it
    finally:
        spy.close()


# ------------------------------------------------------------------ TCP through a forwarder


TCP_SERVER = """
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001))
s.listen(1)
s.settimeout(60)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(60)
h = hashlib.sha256()
n = 0
while True:
    d = c.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
print(n, h.hexdigest(), flush=True)
"""


TCP_CLIENT = """
import random, socket, sys
data = random.Random(int(sys.argv[3])).randbytes(int(sys.argv[2]))
s = socket.create_connection((sys.argv[1], 5001), timeout=60)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
s.recv(1)
"""


TRANSFER = 8 << 20


def tcp_transfer(lab: NetnsLab, client_ns: str, server_ns: str, server_ip: str, ports: tuple[Netdev, Netdev]) -> None:
    """Send TRANSFER random bytes client -> server through `forward`; assert they all arrive intact."""
    import subprocess

    server = lab.python_popen(server_ns, TCP_SERVER, server_ip, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 10)
    assert ready and server.stdout.readline().strip() == b"ready"
    client = lab.python_popen(client_ns, TCP_CLIENT, server_ip, str(TRANSFER), "7", stderr=subprocess.PIPE)
    forward(ports, until=lambda: server.poll() is not None and client.poll() is not None, timeout=60)
    assert server.poll() is not None, "transfer did not finish within 60 s"
    out, err = server.communicate(timeout=5)
    assert client.wait(timeout=5) == 0, client.stderr.read() if client.stderr else ""
    expected = hashlib.sha256(random.Random(7).randbytes(TRANSFER)).hexdigest()
    assert out.split() == [str(TRANSFER).encode(), expected.encode()], err


class Line:
    """h1 --veth-- [sw: a | forwarder | b] --veth-- h2, 10.0.0.1 and 10.0.0.2."""

    def __init__(self, lab: NetnsLab, io: str) -> None:
        self.sw = lab.add_ns("sw")
        self.h1 = lab.add_ns("h1")
        self.h2 = lab.add_ns("h2")
        self.h1_if, self.a_if = lab.add_veth(self.h1, self.sw)
        self.h2_if, self.b_if = lab.add_veth(self.h2, self.sw)
        lab.ip(self.h1, "addr", "add", "10.0.0.1/24", "dev", self.h1_if)
        lab.ip(self.h2, "addr", "add", "10.0.0.2/24", "dev", self.h2_if)
        with lab.entered(self.sw):
            self.a = SystemNetdev(self.a_if, **IO_MODES[io])  # type: ignore[arg-type]
            self.b = SystemNetdev(self.b_if, **IO_MODES[io])  # type: ignore[arg-type]

    def close(self) -> None:
        self.a.close()
        self.b.close()


@pytest.mark.slow
@pytest.mark.parametrize("io", list(IO_MODES))
def test_tcp_through_forwarder_with_default_offloads(netns_lab: NetnsLab, io: str) -> None:
    line = Line(netns_lab, io)
    try:
        assert get_offloads(line.a._ctl, line.a_if)["tso"]
        tcp_transfer(netns_lab, line.h1, line.h2, "10.0.0.2", (line.a, line.b))
        # The hard cases really happened: TSO super-frames and partial checksums.
        assert line.a.gso_frames > 0 and line.a.gso_segments > line.a.gso_frames
        assert line.a.csum_completed + line.b.csum_completed > 0
        assert line.b.stats.tx_dropped == line.b.stats.tx_errors == 0
    finally:
        line.close()


@pytest.mark.slow
def test_tcp_through_forwarder_with_offloads_off(netns_lab: NetnsLab) -> None:
    line = Line(netns_lab, "mmsg")
    try:
        off = {"tx_csum": False, "tso": False, "gso": False, "gro": False}
        for ns, ifname in ((line.h1, line.h1_if), (line.h2, line.h2_if)):
            with netns_lab.entered(ns):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                set_offloads(s, ifname, **off)
                assert {k: v for k, v in get_offloads(s, ifname).items() if k in off} == off
            finally:
                s.close()
        for dev in (line.a, line.b):
            dev.set_offloads(**off)
        tcp_transfer(netns_lab, line.h1, line.h2, "10.0.0.2", (line.a, line.b))
        assert line.a.gso_frames == line.b.gso_frames == 0
        assert line.a.csum_completed == line.b.csum_completed == 0
    finally:
        line.close()


# ------------------------------------------------------------------ internal port (tap)


PEER_MAC = bytes.fromhex("020000000102")


def udp_frame(dst_mac: bytes, src_mac: bytes, src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", rfc1071(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


@pytest.mark.parametrize("vnet_hdr", [False, True])
def test_internal_port_reaches_the_host_stack(netns_lab: NetnsLab, vnet_hdr: bool) -> None:
    lab = netns_lab
    sw = lab.add_ns("sw")
    name = lab.new_ifname("t")
    with lab.entered(sw):
        tap = InternalNetdev(name, vnet_hdr=vnet_hdr, mtu=1400, hw_addr=bytes.fromhex("020000000abc"))
    try:
        assert tap.name == name and tap.fileno() is not None
        assert repr(tap) == f"InternalNetdev({name!r})"
        link = lab.ip(sw, "-o", "link", "show", name)
        assert "mtu 1400 " in link and "02:00:00:00:0a:bc" in link
        assert (tap.mtu, tap.hw_addr) == (1400, bytes.fromhex("020000000abc"))
        assert tap.link_up is False  # created down, like an OVS internal port
        down = udp_frame(tap.hw_addr, PEER_MAC, "10.0.1.2", "10.0.1.1", 4000, 5000, b"lost")
        assert tap.send(down) is False  # the kernel says EIO: a drop, like a link down
        assert tap.stats.tx_dropped == 1
        tap.set_admin_up(True)
        lab.ip(sw, "addr", "add", "10.0.1.1/24", "dev", name)
        lab.ip(sw, "neigh", "add", "10.0.1.2", "lladdr", PEER_MAC.hex(":"), "dev", name)
        host = lab.socket(sw, socket.AF_INET, socket.SOCK_DGRAM)
        host.bind(("10.0.1.1", 5000))
        host.settimeout(3)
        try:
            # bridge -> host stack
            frame = udp_frame(tap.hw_addr, PEER_MAC, "10.0.1.2", "10.0.1.1", 4000, 5000, b"ping")
            assert tap.send(frame) is True
            assert host.recvfrom(100) == (b"ping", ("10.0.1.2", 4000))
            # host stack -> bridge
            host.sendto(b"pong" * 100, ("10.0.1.2", 4000))

            def is_pong(data: bytes, _vlan: int) -> bool:
                return data[12:14] == b"\x08\x00" and data[23] == 17 and data.endswith(b"pong")

            got = drain(tap, is_pong, 1)
            assert len(got) == 1
            reply, vlan = got[0]
            assert vlan == 0
            assert reply[:12] == PEER_MAC + tap.hw_addr
            assert reply[26:34] == socket.inet_aton("10.0.1.1") + socket.inet_aton("10.0.1.2")
            assert reply[42:] == b"pong" * 100
            assert l4_checksum_ok(reply)
            assert tap.stats.tx_packets == 1 and tap.stats.rx_packets >= 1
            over = udp_frame(tap.hw_addr, PEER_MAC, "10.0.1.2", "10.0.1.1", 4000, 5000, bytes(tap.mtu))
            assert tap.send(over) is False
            assert tap.stats.tx_dropped == 2
        finally:
            host.close()
    finally:
        tap.close()
    assert f"{name}:" not in lab.ip(sw, "-o", "link", "show")  # removed with the fd
    assert tap.recv_batch(4) == [] and tap.send(b"x" * 60) is False


@pytest.mark.slow
@pytest.mark.parametrize("vnet_hdr", [False, True])
def test_tcp_from_host_stack_through_internal_port(netns_lab: NetnsLab, vnet_hdr: bool) -> None:
    """sw's own stack (10.0.1.1 on the tap) -> [tap | forwarder | veth] -> h2 (10.0.1.2)."""
    lab = netns_lab
    sw = lab.add_ns("sw")
    h2 = lab.add_ns("h2")
    h2_if, b_if = lab.add_veth(h2, sw)
    lab.ip(h2, "addr", "add", "10.0.1.2/24", "dev", h2_if)
    name = lab.new_ifname("t")
    with lab.entered(sw):
        tap = InternalNetdev(name, vnet_hdr=vnet_hdr)
        b = SystemNetdev(b_if)
    try:
        tap.set_admin_up(True)
        lab.ip(sw, "addr", "add", "10.0.1.1/24", "dev", name)
        tcp_transfer(lab, sw, h2, "10.0.1.2", (tap, b))
        if vnet_hdr:  # the stack handed over super-frames and partial checksums
            assert tap.gso_frames > 0
        else:
            assert tap.gso_frames == tap.csum_completed == 0
    finally:
        tap.close()
        b.close()


# ------------------------------------------------------------------ the TPACKET_V2 receive ring


def ring_pair(lab: NetnsLab, **netdev_args: object) -> Pair:
    netdev_args.setdefault("rx_ring", DEFAULT_FRAMES)
    p = Pair(lab, **netdev_args)
    assert p.dev.rx_ring is not None
    return p


def wait_for_slot(ring: object, slot: int, timeout: float = 2.0) -> None:
    """Until the kernel has handed ring slot ``slot`` to us (TP_STATUS_USER)."""
    deadline = time.monotonic() + timeout
    while not ring.view[slot * FRAME_SIZE] & 1 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)


def frames_in_ring(p: Pair, count: int) -> RxPacketRing:
    """p's ring once test frames 0..count-1 are in slots 0..count-1."""
    ring = p.dev.rx_ring
    assert ring is not None and ring.head == 0
    for i in range(count):
        p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, i))
    wait_for_slot(ring, count - 1)
    return ring


def seqs(frames: list[tuple[bytes, int]]) -> list[int]:
    return [struct.unpack_from("!I", data, 14)[0] for data, _ in frames]


def test_ring_wraps_around_in_order(netns_lab: NetnsLab) -> None:
    p = ring_pair(netns_lab, rx_ring=64)
    try:
        ring = p.dev.rx_ring
        assert ring is not None and ring.frames == 64
        got: list[tuple[bytes, int]] = []
        for burst in range(10):  # 400 frames through 64 slots: six turns of the ring
            for i in range(40):
                p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, burst * 40 + i, 60 + i))
            got += drain(p.dev, is_test_frame, 40)
            assert p.dev.recv_batch(64) == []  # hands the last batch back (a datapath's next poll)
        assert seqs(got) == list(range(400))
        assert all(data == make_frame(FOREIGN_MAC, H1_MAC, n, 60 + n % 40) for (data, _), n in zip(got, range(400)))
        assert p.dev.stats.rx_dropped == 0
    finally:
        p.close()


def test_full_ring_drops_are_counted(netns_lab: NetnsLab) -> None:
    p = ring_pair(netns_lab, rx_ring=64)
    try:
        for i in range(100):  # nobody reads: the ring takes 64, the kernel drops 36
            p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, i))
        got = drain(p.dev, is_test_frame, 100, timeout=1.0)
        assert seqs(got) == list(range(64))
        assert p.dev.stats.rx_dropped == 36
    finally:
        p.close()


def test_ring_batch_is_held_until_the_next_receive(netns_lab: NetnsLab) -> None:
    """The frames are views into the ring, valid until the next receive; the socket stays
    readable while a batch is held (one more wake-up), then quiet: never a spin."""
    p = ring_pair(netns_lab)
    try:
        fd = p.dev.fileno()
        for i in range(3):
            p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, i))
        assert select.select([fd], [], [], 2)[0]
        frames: list[tuple[memoryview | bytes | bytearray, int]] = []
        deadline = time.monotonic() + 2
        while len(frames) < 3 and time.monotonic() < deadline:
            frames += p.dev.recv_batch(64)
        assert [bytes(f) for f, _ in frames] == [make_frame(FOREIGN_MAC, H1_MAC, i) for i in range(3)]
        assert select.select([fd], [], [], 0)[0]  # held: readable
        assert p.dev.recv_batch(64) == []  # hands them back
        assert not select.select([fd], [], [], 0.05)[0]
    finally:
        p.close()


def test_frames_bigger_than_a_slot_come_whole_and_in_order(netns_lab: NetnsLab) -> None:
    """A frame over the ring's slot size (a jumbo here, a TSO super-frame in TCP) comes
    through the socket queue (TP_STATUS_COPY), between its neighbours."""
    p = ring_pair(netns_lab)
    try:
        for ns, ifname in ((p.h1, p.h1_if), (p.sw, p.sw_if)):
            netns_lab.ip(ns, "link", "set", ifname, "mtu", "9000")
        sizes = [60, 5000, 61, 9014, 62]
        for i, size in enumerate(sizes):
            p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, i, size))
        got = drain(p.dev, is_test_frame, len(sizes))
        assert [data for data, _ in got] == [make_frame(FOREIGN_MAC, H1_MAC, i, n) for i, n in enumerate(sizes)]
        assert p.dev.stats.rx_packets >= len(sizes) and p.dev.stats.rx_errors == 0
    finally:
        p.close()


def test_a_slot_the_kernel_never_fills_is_skipped(netns_lab: NetnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    import datapath.netdev_ring as netdev_ring

    monkeypatch.setattr(netdev_ring, "HOLE_TIMEOUT", 0.05)
    p = ring_pair(netns_lab)
    try:
        ring = frames_in_ring(p, 2)
        ring.u32[0] = netdev_ring.TP_STATUS_KERNEL  # slot 0: claimed by the kernel, never filled
        assert p.dev.recv_batch(64) == []  # maybe still being written: wait
        got = drain(p.dev, is_test_frame, 1, timeout=1.0)
        assert seqs(got) == [1]
        stats = p.dev.stats  # the kernel counted two frames in the ring; one never came
        assert (stats.rx_packets, stats.rx_dropped) == (1, 1)
        assert p.dev.stats.rx_dropped == 1  # counted once
    finally:
        p.close()


def test_frames_beyond_empty_slots_are_found_by_the_audit(netns_lab: NetnsLab) -> None:
    # Frames wait further on while the head slot and the next are empty: receive does
    # not look there (nothing says they are not being written), and the socket need not
    # report them.  rx_audit, called on a timer, moves the reader to them when it has
    # seen the same picture twice.
    p = ring_pair(netns_lab, rx_ring=64)
    try:
        ring = frames_in_ring(p, 3)
        ring.u32[0] = ring.u32[FRAME_SIZE // 4] = 0  # slots 0 and 1 claimed, never written
        assert p.dev.recv_batch(64) == [] and ring.unread() == 1
        assert p.dev.rx_audit() is False  # seen once
        assert p.dev.rx_audit() is True
        assert seqs([(bytes(f), v) for f, v in p.dev.recv_batch(64)]) == [2]
        assert p.dev.rx_audit() is False
        stats = p.dev.stats
        assert (stats.rx_packets, stats.rx_dropped) == (1, 2)
    finally:
        p.close()


def test_a_hole_that_fills_is_not_skipped_later(netns_lab: NetnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    # A slot still being written (the kernel fills slots of different CPUs out of
    # order) is waited for; the timer of a hole that filled must not carry over to the
    # next one, which would then be skipped at once and read a whole turn late.
    import datapath.netdev_ring as netdev_ring

    monkeypatch.setattr(netdev_ring, "HOLE_TIMEOUT", 0.05)
    p = ring_pair(netns_lab, rx_ring=64)
    slot = netdev_ring.FRAME_SIZE
    try:
        ring = p.dev.rx_ring
        assert ring is not None
        for turn in range(2):
            base = ring.head
            for i in range(2):
                p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, turn * 2 + i))
            wait_for_slot(ring, base + 1)
            status = ring.u32[base * slot // 4]
            ring.u32[base * slot // 4] = netdev_ring.TP_STATUS_KERNEL  # "still being written"
            assert p.dev.recv_batch(64) == []
            time.sleep(0.1)  # longer than HOLE_TIMEOUT since the first hole was seen
            ring.u32[base * slot // 4] = status  # written now
            assert seqs(drain(p.dev, is_test_frame, 2, timeout=1.0)) == [turn * 2, turn * 2 + 1]
    finally:
        p.close()


def test_without_a_ring_the_netdev_keeps_recvmmsg(netns_lab: NetnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    import datapath.netdev_linux as netdev_linux

    def refused(*_args: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(netdev_linux, "RxPacketRing", refused)
    p = Pair(netns_lab)
    try:
        assert p.dev.rx_ring is None and p.dev.io == "mmsg"
        p.h1_sock.send(make_frame(FOREIGN_MAC, H1_MAC, 5))
        assert seqs(drain(p.dev, is_test_frame, 1)) == [5]
    finally:
        p.close()
