"""Netdev forwarding: pps of the two-port forwarder per I/O mode, and TCP through it.

Run as root: `make bench` or `.venv/bin/python bench/netdev_forward.py [--seconds S]`.
Topology (throw-away namespaces, removed at exit, see tests/integration/conftest.py):

    h1 --veth-- [sw: a | forwarder (this process) | b] --veth-- h2

The generator is a ctypes sendmmsg loop in h1 blasting one 64-byte UDP frame to
a foreign MAC (h2's stack drops it as PACKET_OTHERHOST), bounded by a packet
count and a time limit, pinned to CPU 0; the forwarder (SystemNetdev pairs, this
process) is pinned to CPU 1. Printed per mode: what the generator put on the
wire, what the forwarder moved (b's tx_packets) and what h2's veth received.
"generator alone" is the generator into a veth nobody reads: the ceiling here.
When a C compiler is present, a C recvmmsg/sendmmsg forwarder with the same
socket options (PACKET_AUXDATA, PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING) runs
in the same topology for the ratio: the figures on this VM drift between runs,
so only same-run ratios mean much. bench/datapath.py reuses `Line` (the topology)
and `generator_argv` (the generator, which can also cycle through N 5-tuples).

TCP: a Python client in h1 sends for S seconds to a server in h2 (both on CPU 0,
the forwarder on CPU 1); Gbit/s from the server's byte count, retransmits from
h1's /proc/net/snmp. Three ways to handle offloads are compared:
  * default offloads, the netdev completes checksums and segments TSO frames;
  * offloads off (ethtool ioctls) on all four veth ends: senders do the work;
  * reference only: vnet-header passthrough (a raw recv_into/send loop that hands
    the virtio_net_hdr from one socket to the other so the kernel segments and
    checksums on output) - what carrying offload metadata through the datapath
    could give; not something the Netdev API offers today.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datapath.linux_if import set_offloads  # noqa: E402
from datapath.netdev import insert_vlan  # noqa: E402
from datapath.netdev_linux import SystemNetdev  # noqa: E402
from tests.integration.conftest import NetnsLab  # noqa: E402

GEN_CPU, FWD_CPU = 0, 1

C_FORWARDER = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#define BATCH 256
#define SLOT 2048
static int open_port(const char *ifname) {
    int s = socket(AF_PACKET, SOCK_RAW, 0), one = 1, rcvbuf = 4 << 20;
    setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
    setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one);
    setsockopt(s, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING */, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = if_nametoindex(ifname)};
    return bind(s, (struct sockaddr *)&sll, sizeof sll) ? -1 : s;
}
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
int main(int argc, char **argv) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(atoi(argv[4]), &cpus);
    sched_setaffinity(0, sizeof cpus, &cpus);
    int a = open_port(argv[1]), b = open_port(argv[2]);
    if (a < 0 || b < 0) return 1;
    static char data[BATCH][SLOT], ctl[BATCH][64];
    static struct iovec iov[BATCH];
    static struct mmsghdr rx[BATCH], tx[BATCH];
    long moved = 0;
    double end = now() + atof(argv[3]);
    struct pollfd pfd = {.fd = a, .events = POLLIN};
    while (now() < end) {
        poll(&pfd, 1, 10);
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){data[i], SLOT};
            memset(&rx[i], 0, sizeof rx[i]);
            rx[i].msg_hdr.msg_iov = &iov[i];
            rx[i].msg_hdr.msg_iovlen = 1;
            rx[i].msg_hdr.msg_control = ctl[i];
            rx[i].msg_hdr.msg_controllen = sizeof ctl[i];
        }
        int n = recvmmsg(a, rx, BATCH, MSG_DONTWAIT, NULL);
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = rx[i].msg_len;
            tx[i] = rx[i];
            tx[i].msg_hdr.msg_control = NULL;
            tx[i].msg_hdr.msg_controllen = 0;
        }
        for (int done = 0; done < n;) {
            int k = sendmmsg(b, tx + done, n - done, MSG_DONTWAIT);
            if (k > 0) { done += k; moved += k; } else done++;
        }
    }
    printf("%ld\n", moved);
    return 0;
}
"""

GENERATOR = r"""
import ctypes, os, socket, struct, sys, time
ifname, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
os.sched_setaffinity(0, {int(sys.argv[4])})
flows = int(sys.argv[5]) if len(sys.argv) > 5 else 1
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind((ifname, 0))

def frame(i):
    # flow i: UDP source port 1024 + i % 60000, destination port 9 + i // 60000;
    # valid IPv4 header checksum (a Linux bridge with br_netfilter drops bad ones)
    udp = struct.pack("!HHHH", 1024 + i % 60000, 9 + i // 60000, 8 + 18, 0) + bytes(18)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"))
    total = sum(struct.unpack("!10H", ip))
    total = (total & 0xFFFF) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF) + ip[12:]
    return bytes.fromhex("02aabbccddee020000000001") + b"\x08\x00" + ip + udp

frames = b"".join(frame(i) for i in range(flows))
assert len(frames) == 60 * flows
buf = ctypes.create_string_buffer(frames, len(frames))

class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p),
                ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]

class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]

BATCH = 256
# msgs[j] carries flow j % flows; a batch is BATCH consecutive msgs starting at flow `at`
iovs = (IOVec * flows)()
for i in range(flows):
    iovs[i].base = ctypes.addressof(buf) + 60 * i
    iovs[i].len = 60
msgs = (MMsgHdr * (flows + BATCH))()
for j, m in enumerate(msgs):
    m.hdr.iov = ctypes.addressof(iovs) + (j % flows) * ctypes.sizeof(IOVec)
    m.hdr.iovlen = 1
libc = ctypes.CDLL(None, use_errno=True)
sendmmsg = libc.sendmmsg
sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
fd, addr, size = s.fileno(), ctypes.addressof(msgs), ctypes.sizeof(MMsgHdr)
sent = at = 0
start = time.monotonic()
deadline = start + seconds
while sent < count:
    n = sendmmsg(fd, addr + at * size, BATCH, 0)
    if n > 0:
        sent += n
        at = (at + n) % flows
    if time.monotonic() >= deadline:
        break
print(sent, time.monotonic() - start, flush=True)
"""


def generator_argv(ifname: str, count: int, seconds: float, cpu: int, flows: int = 1) -> list[str]:
    """The generator's command line: 64-byte UDP frames on ifname, `flows` distinct 5-tuples.

    It sends until `count` frames or `seconds` have gone, pinned to `cpu`, and prints
    "<sent> <elapsed seconds>". Frames go to a foreign MAC (02:aa:bb:cc:dd:ee) from
    02:00:00:00:00:01, 10.0.0.1 -> 10.0.0.2; flow i has UDP source port 1024 + i % 60000.
    """
    return [sys.executable, "-c", GENERATOR, ifname, str(count), str(seconds), str(cpu), str(flows)]


TCP_SERVER = r"""
import os, socket, sys, time
os.sched_setaffinity(0, {int(sys.argv[2])})
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001))
s.listen(1)
s.settimeout(30)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(30)
buf = bytearray(1 << 20)
n, start = 0, time.monotonic()
while True:
    k = c.recv_into(buf)
    if not k:
        break
    n += k
print(n, time.monotonic() - start, flush=True)
"""

TCP_CLIENT = r"""
import os, socket, sys, time
os.sched_setaffinity(0, {int(sys.argv[3])})
data = os.urandom(1 << 20)
s = socket.create_connection((sys.argv[1], 5001), timeout=30)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    s.sendall(data)
s.close()
"""


class Line:
    def __init__(self, lab: NetnsLab, io: str = "mmsg", offloads: bool = True) -> None:
        self.lab = lab
        self.sw, self.h1, self.h2 = lab.add_ns("sw"), lab.add_ns("h1"), lab.add_ns("h2")
        self.h1_if, self.a_if = lab.add_veth(self.h1, self.sw)
        self.h2_if, self.b_if = lab.add_veth(self.h2, self.sw)
        lab.ip(self.h1, "link", "set", self.h1_if, "address", "02:00:00:00:00:01")
        lab.ip(self.h1, "addr", "add", "10.0.0.1/24", "dev", self.h1_if)
        lab.ip(self.h2, "addr", "add", "10.0.0.2/24", "dev", self.h2_if)
        if not offloads:
            off = {"tx_csum": False, "tso": False, "gso": False, "gro": False}
            for ns, ifname in ((self.h1, self.h1_if), (self.h2, self.h2_if), (self.sw, self.a_if), (self.sw, self.b_if)):
                sock = lab.socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    set_offloads(sock, ifname, **off)
                finally:
                    sock.close()
        self.io = io

    def open(self) -> tuple[SystemNetdev, SystemNetdev]:
        with self.lab.entered(self.sw):
            return SystemNetdev(self.a_if, io=self.io), SystemNetdev(self.b_if, io=self.io)

    def rx_packets(self, ns: str, ifname: str) -> int:
        info = json.loads(self.lab.ip(ns, "-j", "-s", "link", "show", ifname))
        return int(info[0]["stats64"]["rx"]["packets"])

    def retransmits(self, ns: str) -> int:
        lines = self.lab.run(ns, ["cat", "/proc/net/snmp"]).stdout.decode().splitlines()
        tcp = [line.split() for line in lines if line.startswith("Tcp:")]
        return int(tcp[1][tcp[0].index("RetransSegs")])


def forward(a: SystemNetdev, b: SystemNetdev, running: subprocess.Popen[bytes], limit: float) -> None:
    """Forward both ways until `running` exits (then 0.2 s more to drain) or `limit` seconds."""
    poller = select.poll()
    ports = {a.fileno(): (a, b), b.fileno(): (b, a)}
    for fd in ports:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + limit
    stop_at = None
    while time.monotonic() < deadline:
        if stop_at is None and running.poll() is not None:
            stop_at = time.monotonic() + 0.2
        if stop_at is not None and time.monotonic() > stop_at:
            break
        for fd, _ in poller.poll(10):
            src, dst = ports[fd]
            frames = src.recv_batch(256)
            if frames:
                dst.send_batch([insert_vlan(f, v) if v else f for f, v in frames])


def passthrough(a_fd: int, b_fd: int, running: subprocess.Popen[bytes], limit: float) -> None:
    """Reference: forward raw (virtio_net_hdr + frame) buffers, offload state untouched."""
    buf = bytearray(65536 + 64)
    view = memoryview(buf)
    socks = {fd: socket.socket(fileno=os.dup(fd)) for fd in (a_fd, b_fd)}
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    out = {a_fd: socks[b_fd], b_fd: socks[a_fd]}
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and running.poll() is None:
            for fd, _ in poller.poll(10):
                src, dst = socks[fd], out[fd]
                for _ in range(256):
                    try:
                        n = src.recv_into(buf, 0, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    try:
                        dst.send(view[:n], socket.MSG_DONTWAIT)
                    except OSError:
                        pass
    finally:
        for s in socks.values():
            s.close()


def compile_c_forwarder(workdir: str) -> str | None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source = Path(workdir, "forwarder.c")
    source.write_text(C_FORWARDER)
    binary = str(Path(workdir, "forwarder"))
    subprocess.run([compiler, "-O2", "-o", binary, str(source)], check=True, capture_output=True)
    return binary


def bench_pps(seconds: float, count: int) -> None:
    print(f"64-byte UDP, one flow, generator pinned to CPU {GEN_CPU}, forwarder to CPU {FWD_CPU}, {seconds:g} s each")
    lab = NetnsLab()
    workdir = tempfile.mkdtemp(prefix="netdev-bench-")
    try:
        line = Line(lab)
        generator = generator_argv(line.h1_if, count, seconds, GEN_CPU)
        sent, elapsed = lab.run(line.h1, generator, timeout=seconds + 30).stdout.split()
        print(f"  {'generator alone':38s} {int(sent) / float(elapsed) / 1e3:7.0f} kpps into the veth")
        c_kpps = None
        binary = compile_c_forwarder(workdir)
        if binary is None:
            print("  C reference forwarder: no C compiler (cc), skipped")
        else:
            fwd = lab.popen(line.sw, [binary, line.a_if, line.b_if, str(seconds + 1), str(FWD_CPU)],
                            stdout=subprocess.PIPE)
            time.sleep(0.3)
            sent, elapsed = lab.run(line.h1, generator, timeout=seconds + 30).stdout.split()
            out, _ = fwd.communicate(timeout=seconds + 30)
            c_kpps = int(out) / float(elapsed) / 1e3
            print(f"  {'C recvmmsg/sendmmsg (reference)':38s} {c_kpps:7.0f} kpps forwarded"
                  f" (generator {int(sent) / float(elapsed) / 1e3:.0f} kpps)")
        for io in ("mmsg", "msg"):
            line.io = io
            a, b = line.open()
            h2_before = line.rx_packets(line.h2, line.h2_if)
            os.sched_setaffinity(0, {FWD_CPU})
            try:
                gen_proc = lab.popen(line.h1, generator, stdout=subprocess.PIPE)
                forward(a, b, gen_proc, seconds + 20)
                out, _ = gen_proc.communicate(timeout=30)
            finally:
                os.sched_setaffinity(0, {GEN_CPU, FWD_CPU})
            sent, elapsed = out.split()
            secs = float(elapsed)
            kpps = b.stats.tx_packets / secs / 1e3
            arrived = line.rx_packets(line.h2, line.h2_if) - h2_before
            label = {"mmsg": "SystemNetdev recvmmsg/sendmmsg", "msg": "SystemNetdev per-packet recvmsg/sendmsg"}[io]
            ratio = f", {kpps / c_kpps:.0%} of C" if c_kpps else ""
            print(f"  {label:38s} {kpps:7.0f} kpps forwarded{ratio}"
                  f" (generator {int(sent) / secs / 1e3:.0f} kpps, h2 got {arrived / secs / 1e3:.0f} kpps,"
                  f" dropped at rx {a.stats.rx_dropped})")
            a.close()
            b.close()
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


def bench_tcp(seconds: float) -> None:
    print(f"TCP h1 -> h2 through the forwarder, {seconds:g} s each (endpoints CPU {GEN_CPU}, forwarder CPU {FWD_CPU})")
    for label, offloads, mode in (
        ("default offloads, netdev completes+segments", "on", "netdev"),
        ("offloads off on the forwarder's ends only", "ours", "netdev"),
        ("offloads off on all four veth ends", "off", "netdev"),
        ("reference: vnet-header passthrough", "on", "passthrough"),
    ):
        lab = NetnsLab()
        try:
            line = Line(lab, offloads=offloads != "off")
            a, b = line.open()
            if offloads == "ours":
                for dev in (a, b):
                    dev.set_offloads(tx_csum=False, tso=False, gso=False, gro=False)
            server = lab.python_popen(line.h2, TCP_SERVER, "10.0.0.2", str(GEN_CPU), stdout=subprocess.PIPE)
            assert server.stdout is not None
            assert server.stdout.readline().strip() == b"ready"
            retrans_before = line.retransmits(line.h1)
            client = lab.python_popen(line.h1, TCP_CLIENT, "10.0.0.2", str(seconds), str(GEN_CPU))
            os.sched_setaffinity(0, {FWD_CPU})
            try:
                if mode == "netdev":
                    forward(a, b, server, seconds + 20)
                else:
                    fa, fb = a.fileno(), b.fileno()
                    assert fa is not None and fb is not None
                    passthrough(fa, fb, server, seconds + 20)
            finally:
                os.sched_setaffinity(0, {GEN_CPU, FWD_CPU})
            client.wait(timeout=30)
            out, _ = server.communicate(timeout=30)
            nbytes, elapsed = out.split()
            gbps = int(nbytes) * 8 / float(elapsed) / 1e9
            retrans = line.retransmits(line.h1) - retrans_before
            extra = (f", {a.gso_frames} TSO frames -> {a.gso_segments} segments, {a.csum_completed} csum completed"
                     if mode == "netdev" else "")
            print(f"  {label:44s} {gbps:6.2f} Gbit/s, {retrans / float(elapsed):7.0f} retransmits/s{extra}")
            a.close()
            b.close()
        finally:
            lab.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    parser.add_argument("--count", type=int, default=5_000_000, help="generator packet limit per run")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/netdev_forward.py needs root (namespaces, veth, AF_PACKET)")
    if os.cpu_count() is None or len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs 2 CPUs to pin generator and forwarder apart")
    bench_pps(args.seconds, args.count)
    bench_tcp(args.seconds)


if __name__ == "__main__":
    main()
