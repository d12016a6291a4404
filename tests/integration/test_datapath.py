"""The whole datapath (dpif) on real interfaces, as root: flows installed through the dpif.

Topology, built per test with `netns_lab` (removed whatever happens):

    h1 (10.0.0.1) --veth-- [sw: port a | Datapath | port b] --veth-- h2 (10.0.0.2)

The Datapath runs on its own asyncio loop in a background thread (`Running`), as
the agent runs it; the test thread drives ping, iperf3 and raw sockets in the
host namespaces and calls into the datapath through the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from datapath.dpif import Datapath, PortEvent, PortEventKind
from datapath.flow import make_key, make_mask
from datapath.netdev_linux import SystemNetdev
from datapath.netdev_tap import InternalNetdev
from datapath.netdev_vxlan import VxlanNetdev
from datapath.odp_actions import Output, PopVlan, PushVlan, SetTunnel
from tests.integration.conftest import NetnsLab
from tests.integration.test_netdev_linux import TCP_CLIENT, TCP_SERVER, TRANSFER

T = TypeVar("T")
IN_PORT = make_mask(in_port=True)
H1_MAC = bytes.fromhex("020000000001")
H2_MAC = bytes.fromhex("020000000002")


class Running:
    """A Datapath attached to an asyncio loop in a thread of its own."""

    def __init__(self, dp: Datapath) -> None:
        self.dp = dp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=f"dp-{dp.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.dp.attach(self.loop)
        self.loop.run_forever()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) on the datapath's loop and return its result."""
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(job)
        return done.result(timeout=10)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.dp.close()
        self.loop.close()


class Line:
    """h1 -- [a | dp | b] -- h2, flows in_port a <-> b."""

    def __init__(self, lab: NetnsLab, *, flows: bool = True, **dp_args: Any) -> None:
        self.lab = lab
        self.sw = lab.add_ns("sw")
        self.h1 = lab.add_ns("h1")
        self.h2 = lab.add_ns("h2")
        self.h1_if, self.a_if = lab.add_veth(self.h1, self.sw)
        self.h2_if, self.b_if = lab.add_veth(self.h2, self.sw)
        lab.ip(self.h1, "link", "set", self.h1_if, "address", H1_MAC.hex(":"))
        lab.ip(self.h2, "link", "set", self.h2_if, "address", H2_MAC.hex(":"))
        lab.ip(self.h1, "addr", "add", "10.0.0.1/24", "dev", self.h1_if)
        lab.ip(self.h2, "addr", "add", "10.0.0.2/24", "dev", self.h2_if)
        self.dp = Datapath("itest", **dp_args)
        self.events: list[PortEvent] = []
        self.dp.set_port_handler(self.events.append)
        with lab.entered(self.sw):
            a, b = SystemNetdev(self.a_if), SystemNetdev(self.b_if)
        # The kernel reports carrier (IFF_RUNNING) up to a second after the link is set up.
        assert wait_for(lambda: a.link_up and b.link_up), "veth carrier never came up"
        self.a = self.dp.port_add(a)
        self.b = self.dp.port_add(b)
        if flows:
            self.dp.flow_put(make_key(in_port=self.a), IN_PORT, [Output(self.b)])
            self.dp.flow_put(make_key(in_port=self.b), IN_PORT, [Output(self.a)])
        self.running: Running | None = None

    def start(self) -> Running:
        self.running = Running(self.dp)
        return self.running

    def close(self) -> None:
        if self.running is not None:
            self.running.stop()
        else:
            self.dp.close()


@pytest.fixture
def line(netns_lab: NetnsLab):
    made = Line(netns_lab)
    yield made
    made.close()


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is missing: run `make setup` (scripts/setup.sh installs it)")
    return path


def ping(lab: NetnsLab, ns: str, dst: str, *args: str, count: int = 3) -> subprocess.CompletedProcess[bytes]:
    return lab.run(ns, ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "2", *args, dst],
                   check=False, timeout=30)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def iperf3(lab: NetnsLab, client_ns: str, server_ns: str, server_ip: str, *args: str) -> dict:
    """One iperf3 run (server in server_ns for one test); the client's JSON report."""
    require("iperf3")
    server = lab.popen(server_ns, ["iperf3", "-s", "-1", "--forceflush", "-B", server_ip, "-p", "5201"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert server.stdout is not None
        seen = b""
        deadline = time.monotonic() + 10
        while b"listening" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([server.stdout], [], [], 0.5)
            if ready:
                seen += os.read(server.stdout.fileno(), 4096)
        assert b"listening" in seen, f"iperf3 server did not start: {seen!r}"
        proc = lab.run(client_ns, ["iperf3", "-J", "-c", server_ip, "-p", "5201", *args],
                       check=False, timeout=60)
        result: dict = json.loads(proc.stdout or b"{}")
        assert proc.returncode == 0, result.get("error", proc.stderr)
        return result
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=10)


# ------------------------------------------------------------------ forwarding


def test_ping_through_the_datapath(line: Line) -> None:
    running = line.start()
    proc = ping(line.lab, line.h1, "10.0.0.2", count=5)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert b" 0% packet loss" in proc.stdout
    stats = running.call(line.dp.stats)
    # ARP both ways + 5 echo requests and replies, all on the two in_port megaflows.
    assert stats.hit >= 12 and stats.missed == 0 and stats.flows == 2 and stats.masks == 1
    flows = running.call(line.dp.flow_dump)
    assert all(flow.stats.packets >= 6 for flow in flows)
    ports = {p.name: p for p in running.call(line.dp.port_list)}
    assert ports[line.a_if].type == "system" and ports[line.a_if].link_up
    assert ports[line.b_if].stats["tx_packets"] >= 6


@pytest.mark.parametrize("busy_poll", [0.0002, 0.0])
def test_back_to_back_pings_and_the_busy_poll_window(netns_lab: NetnsLab, busy_poll: float) -> None:
    """ping -f sends the next echo as soon as the reply is in.  h2's reply is ready on
    port b before the datapath's send of the request returns, so with the busy-poll
    window the datapath takes it without waiting for the selector (counted in
    ``polled``); without it, never.  Idle, the datapath's thread uses no CPU either way."""
    made = Line(netns_lab, busy_poll=busy_poll)
    try:
        running = made.start()
        proc = netns_lab.run(made.h1, ["ping", "-n", "-q", "-f", "-c", "300", "-W", "2", "-w", "30",
                                       "10.0.0.2"], check=False, timeout=60)
        assert b"300 packets transmitted, 300 received" in proc.stdout, proc.stdout + proc.stderr
        polled = running.call(lambda: made.dp.polled)
        if busy_poll:
            assert polled >= 150  # most of the 300 replies (and the ARP reply)
        else:
            assert polled == 0
        assert running.thread.ident is not None
        cpu_clock = time.pthread_getcpuclockid(running.thread.ident)
        time.sleep(0.1)  # past any window still open
        used = time.clock_gettime(cpu_clock)
        time.sleep(1.0)
        assert time.clock_gettime(cpu_clock) - used < 0.05  # 5% of a CPU, idle
    finally:
        made.close()


@pytest.mark.slow
def test_iperf3_tcp_and_udp_through_the_datapath(line: Line) -> None:
    running = line.start()
    tcp = iperf3(line.lab, line.h1, line.h2, "10.0.0.2", "-n", "256M")
    sent, received = tcp["end"]["sum_sent"]["bytes"], tcp["end"]["sum_received"]["bytes"]
    # iperf3's server stops counting when the client says "done", with data still in
    # flight; the byte-exact TCP check is test_netdev_linux.py's sha256 transfer.
    assert sent >= 256 * 1024 * 1024 and received >= sent * 0.8, tcp["end"]
    udp = iperf3(line.lab, line.h1, line.h2, "10.0.0.2", "-u", "-b", "10M", "-n", "2M", "-l", "1200")
    summary = udp["end"]["sum"]
    assert summary["packets"] > 0 and summary["lost_percent"] < 10, summary
    stats = running.call(line.dp.stats)
    assert stats.missed == 0 and stats.lost == 0 and running.dp.errors == 0


@pytest.mark.parametrize("offload", [True, False])
def test_tcp_bytes_arrive_intact_with_default_veth_offloads(netns_lab: NetnsLab, offload: bool) -> None:
    """8 MiB over TCP h1 -> h2, sha256-checked.  The veths keep their default offloads,
    so the datapath receives 64 KB TSO super-frames and partial checksums: with
    offload pass-through they go out unfinished for the kernel to finish (as the
    sender's would have), without it they are segmented and checksummed here."""
    line = Line(netns_lab, offload=offload)
    try:
        running = line.start()
        server = netns_lab.python_popen(line.h2, TCP_SERVER, "10.0.0.2", stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 10)
        assert ready and server.stdout.readline().strip() == b"ready"
        client = netns_lab.python_popen(line.h1, TCP_CLIENT, "10.0.0.2", str(TRANSFER), "11",
                                        stderr=subprocess.PIPE)
        out, err = server.communicate(timeout=60)
        assert client.wait(timeout=10) == 0
        expected = hashlib.sha256(random.Random(11).randbytes(TRANSFER)).hexdigest()
        assert out.split() == [str(TRANSFER).encode(), expected.encode()], err
        a = running.call(line.dp.netdev, line.a)
        if offload:
            assert a.offload_passed > 0 and a.gso_segments == 0  # type: ignore[attr-defined]
        else:
            assert a.offload_passed == 0 and a.gso_segments > 0  # type: ignore[attr-defined]
        assert running.call(line.dp.stats).missed == 0
    finally:
        line.close()


# ------------------------------------------------------------------ VLAN, MTU


def eth_frame(dst: bytes, src: bytes, payload: bytes, ethertype: int = 0x88B5) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def test_vlan_push_and_pop_seen_on_the_wire(netns_lab: NetnsLab) -> None:
    line = Line(netns_lab, flows=False)
    try:
        dp = line.dp
        # a -> b: push VLAN 10 PCP 3; b -> a: only frames tagged VLAN 20, popped.
        dp.flow_put(make_key(in_port=line.a), IN_PORT, [PushVlan(0x8100, 0x600A), Output(line.b)])
        dp.flow_put(make_key(in_port=line.b, vlan_tci=0x1014),
                    make_mask(in_port=True, vlan_tci=0x1FFF), [PopVlan(), Output(line.a)])
        with netns_lab.entered(line.h2):
            cap2 = SystemNetdev(line.h2_if)  # a capture in h2: the vlan word is the wire tag
        with netns_lab.entered(line.h1):
            cap1 = SystemNetdev(line.h1_if)
        running = line.start()
        try:
            frame = eth_frame(H2_MAC, H1_MAC, b"vlan-push" + bytes(50))
            assert cap1.send(frame)
            got = drain_until(cap2, lambda f, v: bytes(f[14:23]) == b"vlan-push")
            assert got == [(frame, (0x8100 << 16) | 0x600A)]
            tagged = frame[:12] + b"\x81\x00\x00\x14" + frame[12:14] + b"vlan-pop!" + bytes(50)
            other = frame[:12] + b"\x81\x00\x00\x15" + frame[12:14] + b"vlan-pop!" + bytes(50)
            assert cap2.send(other) and cap2.send(tagged)
            back = drain_until(cap1, lambda f, v: bytes(f[14:23]) == b"vlan-pop!")
            assert back == [(frame[:14] + b"vlan-pop!" + bytes(50), 0)]
            assert running.call(dp.stats).missed == 1  # VLAN 21 matched no flow
        finally:
            cap1.close()
            cap2.close()
    finally:
        line.close()


def drain_until(dev: SystemNetdev, want: Callable[[bytes, int], bool], count: int = 1,
                timeout: float = 3.0) -> list[tuple[bytes, int]]:
    got: list[tuple[bytes, int]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for frame, vlan in dev.recv_batch(64):
            if want(frame, vlan):
                got.append((bytes(frame), vlan))
        time.sleep(0.01)
    time.sleep(0.2)  # anything more that would arrive, does
    for frame, vlan in dev.recv_batch(64):
        if want(frame, vlan):
            got.append((bytes(frame), vlan))
    return got


def test_over_mtu_frames_are_dropped_and_counted(line: Line) -> None:
    line.lab.ip(line.sw, "link", "set", line.b_if, "mtu", "1000")
    running = line.start()
    assert ping(line.lab, line.h1, "10.0.0.2", count=2).returncode == 0  # small: fine
    proc = ping(line.lab, line.h1, "10.0.0.2", "-s", "1200", "-M", "dont", count=3)
    assert proc.returncode != 0  # 1242-byte frames do not fit port b
    b = running.call(line.dp.port_get, line.b)
    assert b.mtu == 1000 and b.stats["tx_dropped"] >= 3


# ------------------------------------------------------------------ internal port, vanishing


def test_internal_port_is_reachable_from_the_host_stack(line: Line) -> None:
    lab, dp = line.lab, line.dp
    name = lab.new_ifname("i")
    with lab.entered(line.sw):
        tap = InternalNetdev(name)
    local = dp.port_add(tap, port_no=0)
    tap.set_admin_up(True)
    lab.ip(line.sw, "addr", "add", "10.0.0.3/24", "dev", name)
    dp.flow_put(make_key(in_port=line.a), IN_PORT, [Output(line.b), Output(local)])
    dp.flow_put(make_key(in_port=local), IN_PORT, [Output(line.a), Output(line.b)])
    running = line.start()
    proc = ping(lab, line.sw, "10.0.0.1", count=3)
    assert proc.returncode == 0, proc.stdout.decode()
    proc = ping(lab, line.h1, "10.0.0.3", count=3)
    assert proc.returncode == 0, proc.stdout.decode()
    info = running.call(dp.port_get, local)
    assert (info.type, info.name, info.link_up) == ("internal", name, True)
    assert info.stats["rx_packets"] >= 3 and info.stats["tx_packets"] >= 3


@pytest.mark.parametrize("direction", ["to_host", "from_host"])
def test_tcp_between_internal_port_with_vnet_hdr_and_a_host(netns_lab: NetnsLab,
                                                             direction: str) -> None:
    """8 MiB over TCP between the host stack behind a vnet_hdr tap (LOCAL port) and h1:
    GSO frames and partial checksums pass through the datapath both ways."""
    line = Line(netns_lab, flows=False)
    lab, dp = netns_lab, line.dp
    try:
        name = lab.new_ifname("i")
        with lab.entered(line.sw):
            tap = InternalNetdev(name, vnet_hdr=True)
        local = dp.port_add(tap, port_no=0)
        tap.set_admin_up(True)
        lab.ip(line.sw, "addr", "add", "10.0.0.3/24", "dev", name)
        dp.flow_put(make_key(in_port=line.a), IN_PORT, [Output(local)])
        dp.flow_put(make_key(in_port=local), IN_PORT, [Output(line.a)])
        running = line.start()
        server_ns, server_ip, client_ns = ((line.sw, "10.0.0.3", line.h1) if direction == "to_host"
                                           else (line.h1, "10.0.0.1", line.sw))
        server = lab.python_popen(server_ns, TCP_SERVER, server_ip, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 10)
        assert ready and server.stdout.readline().strip() == b"ready"
        client = lab.python_popen(client_ns, TCP_CLIENT, server_ip, str(TRANSFER), "13",
                                  stderr=subprocess.PIPE)
        out, err = server.communicate(timeout=60)
        assert client.wait(timeout=10) == 0
        expected = hashlib.sha256(random.Random(13).randbytes(TRANSFER)).hexdigest()
        assert out.split() == [str(TRANSFER).encode(), expected.encode()], err
        sender = tap if direction == "from_host" else running.call(dp.netdev, line.a)
        assert sender.offload_passed > 0  # type: ignore[attr-defined]
    finally:
        line.close()


def test_interface_deleted_under_a_running_datapath_is_reported(netns_lab: NetnsLab) -> None:
    line = Line(netns_lab, port_check_interval=0.05)
    try:
        running = line.start()
        assert ping(line.lab, line.h1, "10.0.0.2", count=1).returncode == 0
        line.lab.ip(line.h2, "link", "del", line.h2_if)  # takes the sw end with it
        assert wait_for(lambda: any(e.kind == PortEventKind.VANISHED for e in line.events))
        vanished = [e for e in line.events if e.kind == PortEventKind.VANISHED]
        assert [(e.port_no, e.name, e.link_up) for e in vanished] == [(line.b, line.b_if, False)]
        # Still running: frames from h1 are processed (their output port is gone).
        before = running.call(line.dp.stats).hit
        ping(line.lab, line.h1, "10.0.0.2", count=2)
        assert running.call(line.dp.stats).hit > before
        assert not running.call(line.dp.port_get, line.b).link_up
        running.call(line.dp.port_del, line.b)
        assert [p.port_no for p in running.call(line.dp.port_list)] == [line.a]
        assert line.dp.errors == 0
    finally:
        line.close()


def test_link_down_is_reported(netns_lab: NetnsLab) -> None:
    line = Line(netns_lab, port_check_interval=0.05)
    try:
        line.start()
        line.lab.ip(line.h1, "link", "set", line.h1_if, "down")  # carrier off on a
        assert wait_for(lambda: any(e.kind == PortEventKind.LINK for e in line.events))
        (event,) = [e for e in line.events if e.kind == PortEventKind.LINK]
        assert (event.port_no, event.link_up) == (line.a, False)
        line.lab.ip(line.h1, "link", "set", line.h1_if, "up")
        assert wait_for(lambda: sum(e.kind == PortEventKind.LINK for e in line.events) == 2)
        assert line.events[-1].link_up is True
    finally:
        line.close()


# ------------------------------------------------------------------ vxlan


def test_vxlan_port_carries_a_host_to_a_linux_vxlan_device(netns_lab: NetnsLab) -> None:
    """h1 --veth-- [sw: a | Datapath | vxlan] ==underlay 10.201.0.0/24== lx: Linux vxlan 42.

    h1 (192.168.42.1) pings lx's vxlan device (192.168.42.2) through the datapath:
    a -> set_tunnel(42, lx) + output(vxlan), vxlan with tun_id 42 -> a.
    """
    lab = netns_lab
    sw, h1, lx = lab.add_ns("sw"), lab.add_ns("h1"), lab.add_ns("lx")
    h1_if, a_if = lab.add_veth(h1, sw, mtu=1450)  # inner frames must fit the tunnel
    sw_ul, lx_ul = lab.add_veth(sw, lx)
    lab.ip(sw, "addr", "add", "10.201.0.1/24", "dev", sw_ul)
    lab.ip(lx, "addr", "add", "10.201.0.2/24", "dev", lx_ul)
    lab.ip(h1, "addr", "add", "192.168.42.1/24", "dev", h1_if)
    vx_name = lab.new_ifname("x")
    lab.ip(lx, "link", "add", vx_name, "type", "vxlan", "id", "42", "remote", "10.201.0.1",
           "local", "10.201.0.2", "dstport", "4789")
    lab.ip(lx, "addr", "add", "192.168.42.2/24", "dev", vx_name)
    lab.ip(lx, "link", "set", vx_name, "up")
    dp = Datapath("vxtest")
    with lab.entered(sw):
        a = SystemNetdev(a_if)
        vx = VxlanNetdev("vx0", local_ip="10.201.0.1")
    assert wait_for(lambda: a.link_up)
    pa, pv = dp.port_add(a), dp.port_add(vx)
    lx_ip = int.from_bytes(socket.inet_aton("10.201.0.2"), "big")
    dp.flow_put(make_key(in_port=pa), IN_PORT, [SetTunnel(42, lx_ip, 0), Output(pv)])
    dp.flow_put(make_key(in_port=pv, tun_id=42), make_mask(in_port=True, tun_id=True),
                [Output(pa)])
    running = Running(dp)
    try:
        proc = ping(lab, h1, "192.168.42.2", count=3)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
        info = running.call(dp.port_get, pv)
        assert info.type == "vxlan" and info.stats["tx_packets"] >= 4  # ARP + 3 echoes
        assert info.stats["rx_packets"] >= 4 and running.call(dp.stats).missed == 0
        assert "vxlan" in lab.ip(lx, "-d", "link", "show", vx_name)
    finally:
        running.stop()
