"""Datapath comparison: Linux bridge, Open vSwitch 3.1 (netdev) and this datapath, one run.

Run as root: `make bench` or `.venv/bin/python bench/datapath.py [--seconds S] [--json]
[--switches bridge,ovs,ovs-tso,ours]`. Every switch gets the same throw-away
topology (bench/netdev_forward.py's `Line`, namespaces from
tests/integration/conftest.py's NetnsLab, removed at exit):

    h1 --veth-- [sw: a | switch | b] --veth-- h2

and the same traffic, the generator and the endpoints pinned to CPU 0 and the
switch to CPU 1. Two sessions per switch, each on a fresh topology:
  * veth offloads as the kernel sets them (on):
      - idle CPU: the switch process's CPU time (/proc/PID/stat) over IDLE_SECONDS
        with no traffic, as a percentage of one CPU (not for the bridge);
      - ping RTT: 200 ICMP echoes at 10 ms intervals h1 -> h2, after 3 warm-ups, as
        average and median (the average of a few hundred echoes on this VM swings
        with a handful of ~4 ms outliers: one scheduler tick; a C program waking a
        process on the other CPU sees them too);
      - flood ping: `ping -f` (the next echo as soon as the reply is in), 2,000
        echoes: back-to-back request/response, average RTT;
      - kpps: netdev_forward's ctypes sendmmsg generator in h1, 64-byte UDP frames
        to a foreign MAC (h2's stack drops them), 1 flow and then 10k distinct UDP
        5-tuples; the rate is what h2's veth received over a window of S seconds
        after a warm-up, next to what h1 offered in that window;
      - TCP: `iperf3 -c` in h1 to `iperf3 -s` in h2 for S seconds, Gbit/s as
        received and the sender's retransmits (iperf3 --json);
  * tx checksum/TSO/GSO/GRO off on all four veth ends: the same TCP run. Plain
    OVS-netdev cannot do TCP with offloads on (it forwards the SYN's partial
    checksum as is and h2 drops it), so this is the row where it has a figure.

The switches:
  * bridge: a Linux bridge in sw (br_netfilter hooks off in that namespace); it
    forwards in softirq context, which RPS on its two ports moves to the switch CPU;
  * ovs: Debian's ovs-vswitchd 3.1 with datapath_type=netdev, fail-mode secure,
    flows in_port=1->2 and in_port=2->1, pinned with taskset. ovsdb-server and
    ovs-vswitchd run from a private temporary directory (fresh database from
    /usr/share/openvswitch/vswitch.ovsschema, OVS_RUNDIR/DBDIR/LOGDIR/SYSCONFDIR
    and every socket/pidfile path pointing there, no kernel datapath), are stopped
    by their own PIDs and the directory removed whatever happens; a system OVS is
    never touched;
  * ovs-tso (only when asked for): the same with other_config:userspace-tso-enable;
  * ours: datapath.dpif.Datapath with two SystemNetdev ports and one in_port
    megaflow per direction, in its own process (this file with --ours-worker)
    pinned with taskset: both the 1-flow and the 10k-tuple traffic hit the same
    megaflow, so the two figures should be close. Its counters (hit/missed/
    flows/masks, port drops) are printed after each phase, OVS's dpctl/show too.

The machine is shared and its figures drift between runs; only same-run ratios
(ours / OVS-netdev, last column) mean much. Every loop is bounded in count and
time; namespaces and processes go away on every exit path (SIGTERM and SIGHUP
unwind; children get SIGKILL if this process is killed; a later run removes the
namespaces and OVS directories a killed run left).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.netdev_forward import Line, generator_argv  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    NetnsLab,
    _pid_alive,
    remove_stale_namespaces,
)

GEN_CPU, SW_CPU = 0, 1
BUSY_POLL: float | None = None  # --busy-poll, handed to the worker
WARM_POLL: float | None = None  # --warm-poll, handed to the worker
RX_RING: int | None = None  # --rx-ring, handed to the worker
FLOWS = (1, 10_000)
WARMUP = 0.5  # seconds of traffic before the measuring window opens
MAX_RATE = 3_000_000  # pps no generator reaches here: its packet limit is rate * time
PINGS, PING_INTERVAL = 200, 0.01
FLOOD_PINGS = 2000
IDLE_SECONDS = 5.0
IPERF_PORT = 5201
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
SWITCHES = ("bridge", "ovs", "ovs-tso", "ours")  # table order
DEFAULT_SWITCHES = ("bridge", "ovs", "ours")
OVS_DIR_PREFIX = "sa-bench-ovs-"
LABELS = {"bridge": "Linux bridge", "ovs": "OVS 3.1 netdev", "ovs-tso": "OVS netdev+TSO",
          "ours": "this datapath"}


@dataclasses.dataclass
class Result:
    """What one switch achieved; None where the measurement failed or was not run."""

    kpps: dict[int, float | None] = dataclasses.field(default_factory=dict)
    offered_kpps: dict[int, float | None] = dataclasses.field(default_factory=dict)
    tcp: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)  # "on"/"off" offloads
    rtt_ms: dict[str, float] | None = None
    flood_rtt_ms: float | None = None
    idle_cpu: float | None = None  # % of one CPU used by the switch process with no traffic
    notes: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if this process dies, even by SIGKILL."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def remove_stale_ovs_dirs() -> None:
    """Remove private OVS directories of earlier runs that were killed (no live pidfile)."""
    for path in Path(tempfile.gettempdir()).glob(f"{OVS_DIR_PREFIX}*"):
        try:
            if time.time() - path.stat().st_mtime < 120:
                continue  # maybe a concurrent run still starting its daemons
            pids = [int(text) for f in path.glob("*.pid") if (text := f.read_text().strip()).isdigit()]
        except OSError:
            continue
        if not any(_pid_alive(pid) for pid in pids):
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- measurements


def link_counters(lab: NetnsLab, ns: str, ifname: str) -> tuple[int, int]:
    """(rx_packets, tx_packets) of ifname in ns."""
    info = json.loads(lab.ip(ns, "-j", "-s", "link", "show", ifname))
    stats = info[0]["stats64"]
    return int(stats["rx"]["packets"]), int(stats["tx"]["packets"])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, up to 10 s to exit, then SIGKILL: for processes we started."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def measure_pps(lab: NetnsLab, line: Line, flows: int, seconds: float) -> tuple[float, float]:
    """(kpps h2 received, kpps h1 offered) over `seconds` of steady generator traffic."""
    gen_seconds = WARMUP + seconds + 1.0
    argv = generator_argv(line.h1_if, int(MAX_RATE * gen_seconds), gen_seconds, GEN_CPU, flows)
    tx_start = link_counters(lab, line.h1, line.h1_if)[1]
    gen = lab.popen(line.h1, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=die_with_parent)
    try:
        # The generator builds its frames first (10k take a moment): wait for traffic.
        started = wait_until(lambda: link_counters(lab, line.h1, line.h1_if)[1] > tx_start + 1000, 15)
        if not started:
            raise RuntimeError(f"generator sent nothing in 15 s (exit {gen.poll()})")
        time.sleep(WARMUP)
        t0 = time.monotonic()
        rx0, _ = link_counters(lab, line.h2, line.h2_if)
        _, tx0 = link_counters(lab, line.h1, line.h1_if)
        time.sleep(seconds)
        rx1, _ = link_counters(lab, line.h2, line.h2_if)
        _, tx1 = link_counters(lab, line.h1, line.h1_if)
        dt = time.monotonic() - t0
        if gen.poll() is not None:
            raise RuntimeError("generator ended before the measuring window closed")
        gen.communicate(timeout=gen_seconds + 30)  # it stops by itself after gen_seconds
    except BaseException:
        _kill(gen)
        raise
    time.sleep(0.3)  # let the switch drain its queues before the next test
    return (rx1 - rx0) / dt / 1e3, (tx1 - tx0) / dt / 1e3


def measure_tcp(lab: NetnsLab, line: Line, seconds: float) -> tuple[float, int, float]:
    """(Gbit/s received, sender retransmits, seconds) of one iperf3 TCP stream h1 -> h2."""
    server = lab.popen(
        line.h2,
        ["taskset", "-c", str(GEN_CPU), "iperf3", "-s", "-1", "-B", "10.0.0.2", "-p", str(IPERF_PORT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )
    try:
        listening = wait_until(
            lambda: bool(lab.run(line.h2, ["ss", "-Hltn", f"sport = :{IPERF_PORT}"]).stdout.strip())
            or server.poll() is not None,
            10,
        )
        if not listening or server.poll() is not None:
            raise RuntimeError("iperf3 -s did not start listening in h2")
        client = lab.run(
            line.h1,
            ["taskset", "-c", str(GEN_CPU), "iperf3", "-c", "10.0.0.2", "-p", str(IPERF_PORT),
             "-t", f"{seconds:g}", "--connect-timeout", "5000", "-J"],
            timeout=seconds + 60, check=False,
        )
        try:
            report = json.loads(client.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 -c printed no JSON (exit {client.returncode}): "
                               f"{client.stderr.decode(errors='replace')[-300:]}") from None
        if "error" in report:
            raise RuntimeError(f"iperf3: {report['error']}")
        end = report["end"]
        server.wait(timeout=10)  # -1: it exits after the one test
        return (end["sum_received"]["bits_per_second"] / 1e9, int(end["sum_sent"].get("retransmits", 0)),
                float(end["sum_received"]["seconds"]))
    except BaseException:
        _kill(server)
        raise


_RTT = re.compile(rb"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
_LOSS = re.compile(rb"(\d+) packets transmitted, (\d+) received")
_TIME = re.compile(rb"time=([\d.]+) ms")


def measure_ping(lab: NetnsLab, line: Line) -> dict[str, float]:
    """RTT min/avg/median/max/mdev (ms) and loss of PINGS echoes h1 -> h2, PING_INTERVAL apart."""
    ping = ["taskset", "-c", str(GEN_CPU), "ping", "-n", "-W", "1"]
    lab.run(line.h1, [*ping, "-q", "-c", "3", "-i", "0.05", "-w", "5", "10.0.0.2"], timeout=15, check=False)
    out = lab.run(
        line.h1, [*ping, "-c", str(PINGS), "-i", str(PING_INTERVAL), "-w", str(int(5 + PINGS * PING_INTERVAL * 4)), "10.0.0.2"],
        timeout=60, check=False,
    ).stdout
    rtt, loss = _RTT.search(out), _LOSS.search(out)
    times = sorted(float(t) for t in _TIME.findall(out))
    if rtt is None or loss is None or not times:
        raise RuntimeError(f"ping got no replies: {out.decode(errors='replace').strip()[-200:]}")
    sent, got = int(loss[1]), int(loss[2])
    return {"min": float(rtt[1]), "avg": float(rtt[2]), "median": times[len(times) // 2],
            "max": float(rtt[3]), "mdev": float(rtt[4]), "sent": sent, "received": got}


def measure_flood_ping(lab: NetnsLab, line: Line) -> float:
    """Average RTT (ms) of FLOOD_PINGS back-to-back echoes (ping -f) h1 -> h2."""
    argv = ["taskset", "-c", str(GEN_CPU), "ping", "-n", "-q", "-f", "-W", "1", "-c", str(FLOOD_PINGS),
            "-w", "30", "10.0.0.2"]
    out = lab.run(line.h1, argv, timeout=60, check=False).stdout
    rtt = _RTT.search(out)
    if rtt is None:
        raise RuntimeError(f"flood ping got no replies: {out.decode(errors='replace').strip()[-200:]}")
    return float(rtt[2])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process pid so far (/proc/PID/stat utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_idle_cpu(pid: int) -> float:
    """% of one CPU that process pid uses over IDLE_SECONDS of no traffic."""
    start, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return 100 * (cpu_seconds(pid) - start) / (time.monotonic() - t0)


# ---------------------------------------------------------------- the switches


class Switch:
    """A switch between ports a and b of sw; start() builds it, stop() tears it down."""

    name = ""

    def __init__(self, lab: NetnsLab, line: Line) -> None:
        self.lab, self.line = lab, line

    def start(self) -> None:
        raise NotImplementedError

    def notes(self, phase: str) -> list[str]:
        """Counters worth printing after a measurement phase (may be empty)."""
        return []

    def pid(self) -> int | None:
        """The switch's own process (for its idle CPU), None for an in-kernel switch."""
        return None

    def stop(self) -> None:
        pass


class LinuxBridge(Switch):
    name = "bridge"

    def start(self) -> None:
        lab, sw = self.lab, self.line.sw
        lab.ip(sw, "link", "add", "br0", "type", "bridge", "stp_state", "0")
        # A pure bridge: no iptables hooks on bridged frames if br_netfilter is loaded
        # (its sysctls are per namespace; this is our own).
        for family in ("iptables", "ip6tables", "arptables"):
            with contextlib.suppress(FileNotFoundError):
                lab.sysctl(sw, f"net.bridge.bridge-nf-call-{family}", "0")
        for port in (self.line.a_if, self.line.b_if):
            lab.ip(sw, "link", "set", port, "master", "br0")
            # Bridge forwarding runs in the receiving CPU's softirq: steer it to SW_CPU.
            lab.run(sw, ["sh", "-c", f"echo {1 << SW_CPU:x} > /sys/class/net/{port}/queues/rx-0/rps_cpus"])
        lab.ip(sw, "link", "set", "br0", "up")


class OvsNetdev(Switch):
    """Debian's ovsdb-server + ovs-vswitchd in a private directory, netdev datapath."""

    name = "ovs"

    def __init__(self, lab: NetnsLab, line: Line, *, tso: bool = False) -> None:
        super().__init__(lab, line)
        self.tso = tso
        self.name = "ovs-tso" if tso else "ovs"
        self.dir = Path(tempfile.mkdtemp(prefix=OVS_DIR_PREFIX))
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_DBDIR": str(self.dir),
                    "OVS_LOGDIR": str(self.dir), "OVS_SYSCONFDIR": str(self.dir)}
        self.db_sock = f"unix:{self.dir}/db.sock"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def ctl(self, *argv: str, timeout: float = 30) -> str:
        proc = subprocess.run(argv, env=self.env, capture_output=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode()

    def daemon(self, name: str, *argv: str) -> None:
        path = shutil.which(name) or f"/usr/sbin/{name}"
        cmd = ["taskset", "-c", str(SW_CPU), path, *argv, f"--pidfile={self.dir}/{name}.pid",
               f"--unixctl={self.dir}/{name}.ctl", f"--log-file={self.dir}/{name}.log"]
        with open(self.dir / f"{name}.stderr", "wb") as err:  # a file: a full pipe would block it
            self.procs[name] = self.lab.popen(self.line.sw, cmd, env=self.env, stdout=subprocess.DEVNULL,
                                              stderr=err, preexec_fn=die_with_parent)

    def wait_for(self, name: str, path: Path) -> None:
        proc = self.procs[name]
        if not wait_until(lambda: path.exists() or proc.poll() is not None, 20) or proc.poll() is not None:
            err = (self.dir / f"{name}.stderr").read_text(errors="replace")
            raise RuntimeError(f"{name} did not come up (log {self.dir}/{name}.log): {err.strip()[-300:]}")

    def start(self) -> None:
        for tool in ("ovsdb-tool", "ovs-vsctl", "ovs-ofctl"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} missing: run `make deps` (openvswitch-switch)")
        if not OVS_SCHEMA.exists() or not (shutil.which("ovs-vswitchd") or Path("/usr/sbin/ovs-vswitchd").exists()):
            raise RuntimeError("ovs-vswitchd or its schema is missing: run `make deps` (openvswitch-switch)")
        self.ctl("ovsdb-tool", "create", f"{self.dir}/conf.db", str(OVS_SCHEMA))
        self.daemon("ovsdb-server", f"{self.dir}/conf.db", f"--remote=punix:{self.dir}/db.sock")
        self.wait_for("ovsdb-server", self.dir / "db.sock")
        vsctl = ("ovs-vsctl", f"--db={self.db_sock}", "--timeout=30")
        self.ctl(*vsctl, "--no-wait", "init")
        if self.tso:  # read once at start-up: experimental userspace TSO (vnet headers)
            self.ctl(*vsctl, "--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
        # --disable-system: no kernel datapath (dpif-netlink) at all, only netdev.
        self.daemon("ovs-vswitchd", self.db_sock, "--disable-system")
        self.wait_for("ovs-vswitchd", self.dir / "ovs-vswitchd.ctl")
        a, b = self.line.a_if, self.line.b_if
        self.ctl(*vsctl, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
                 "fail-mode=secure", "--", "add-port", "br0", a, "--", "set", "interface", a,
                 "ofport_request=1", "--", "add-port", "br0", b, "--", "set", "interface", b,
                 "ofport_request=2")
        mgmt = f"unix:{self.dir}/br0.mgmt"
        self.ctl("ovs-ofctl", "del-flows", mgmt)
        self.ctl("ovs-ofctl", "add-flow", mgmt, "in_port=1,actions=output:2")
        self.ctl("ovs-ofctl", "add-flow", mgmt, "in_port=2,actions=output:1")
        for name, proc in self.procs.items():  # the pidfiles must name the processes we started
            pid = (self.dir / f"{name}.pid").read_text().strip()
            if pid != str(proc.pid):
                raise RuntimeError(f"{name} pidfile says {pid}, we started {proc.pid}")

    def notes(self, phase: str) -> list[str]:
        if not phase.startswith("pps"):
            return []
        out = self.ctl("ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl", "dpctl/show", timeout=10)
        found = re.search(r"lookups: (.*)\n\s*flows: (\d+)", out)
        return [f"OVS dpctl/show: lookups {found[1]}, flows {found[2]}"] if found else []

    def pid(self) -> int | None:
        proc = self.procs.get("ovs-vswitchd")
        return None if proc is None else proc.pid

    def stop(self) -> None:
        for name in ("ovs-vswitchd", "ovsdb-server"):
            stop_process(self.procs.get(name))
        shutil.rmtree(self.dir, ignore_errors=True)


class Ours(Switch):
    """datapath.dpif.Datapath in a worker process (this file with --ours-worker)."""

    name = "ours"

    def __init__(self, lab: NetnsLab, line: Line, lifetime: float) -> None:
        super().__init__(lab, line)
        self.lifetime = lifetime
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr = tempfile.TemporaryFile()  # a file: a full pipe would block the worker

    def start(self) -> None:
        argv = ["taskset", "-c", str(SW_CPU), sys.executable, str(Path(__file__).resolve()),
                "--ours-worker", self.line.a_if, self.line.b_if, "--seconds", str(self.lifetime)]
        if BUSY_POLL is not None:
            argv += ["--busy-poll", str(BUSY_POLL)]
        if WARM_POLL is not None:
            argv += ["--warm-poll", str(WARM_POLL)]
        if RX_RING is not None:
            argv += ["--rx-ring", str(RX_RING)]
        self.proc = self.lab.popen(self.line.sw, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=self.stderr, preexec_fn=die_with_parent)
        reply = self.request(None, timeout=20)
        if reply.get("ready") is not True:
            raise RuntimeError(f"worker did not start: {reply}")

    def request(self, command: str | None, timeout: float = 10) -> dict[str, Any]:
        """Send one command line (None: none), return the worker's next JSON line."""
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        if command is not None:
            proc.stdin.write(command.encode() + b"\n")
            proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            self.stderr.seek(0)
            err = self.stderr.read()
            raise RuntimeError(f"datapath worker gave no answer (exit {proc.poll()}): "
                               f"{err.decode(errors='replace').strip()[-800:]}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def notes(self, phase: str) -> list[str]:
        reply = self.request("stats")
        stats = reply.get("stats", {})
        ports = ", ".join(f"{p.get('name')}: " + " ".join(f"{k}={v}" for k, v in sorted(p.get("stats", {}).items()) if v)
                          for p in reply.get("ports", []))
        return [f"datapath after {phase}: " + " ".join(f"{k}={v}" for k, v in stats.items())
                + f", upcalls={reply.get('upcalls')}, busy-polled={reply.get('polled')}; ports {ports}"]

    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self) -> None:
        proc = self.proc
        try:
            if proc is None or proc.poll() is not None:
                return
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.close()  # EOF: the worker closes the datapath and exits
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        finally:
            self.stderr.close()


# ---------------------------------------------------------------- our datapath's worker


def _plain(obj: Any) -> Any:
    """Counters from the dpif (dataclass, NamedTuple or plain) as JSON-able values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, int | float | str | bool) or obj is None:
        return obj
    return str(obj)


def ours_worker(a_if: str, b_if: str, lifetime: float, busy_poll: float | None = None,
                rx_ring: int | None = None, warm_poll: float | None = None) -> None:
    """Run the datapath between a_if and b_if (this process's namespace) until stdin
    closes or `lifetime` seconds pass. Protocol on stdout, one JSON object per line:
    {"ready": true} once forwarding, then one answer per "stats" line read from stdin.
    """
    import asyncio

    from datapath.dpif import Datapath
    from datapath.flow import make_key, make_mask
    from datapath.netdev_linux import SystemNetdev
    from datapath.odp_actions import Output

    upcalls = 0

    def on_upcalls(batch: list[Any]) -> None:
        nonlocal upcalls
        upcalls += len(batch)

    def emit(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    dp_args: dict[str, Any] = {}
    if busy_poll is not None:
        dp_args["busy_poll"] = busy_poll
    if warm_poll is not None:
        dp_args["warm_poll"] = warm_poll
    dp = Datapath("bench", **dp_args)
    p1 = dp.port_add(SystemNetdev(a_if) if rx_ring is None else SystemNetdev(a_if, rx_ring=rx_ring))
    p2 = dp.port_add(SystemNetdev(b_if) if rx_ring is None else SystemNetdev(b_if, rx_ring=rx_ring))
    dp.flow_put(make_key(in_port=p1), make_mask(in_port=True), [Output(p2)])
    dp.flow_put(make_key(in_port=p2), make_mask(in_port=True), [Output(p1)])
    dp.set_upcall_handler(on_upcalls)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        stdin = sys.stdin.fileno()
        os.set_blocking(stdin, False)
        pending = bytearray()

        def finish() -> None:
            if not done.done():
                done.set_result(None)

        def on_stdin() -> None:
            try:
                chunk = os.read(stdin, 4096)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                finish()
                return
            pending.extend(chunk)
            while b"\n" in pending and len(pending) < 65536:
                command, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                if command.strip() == b"stats":
                    emit({"stats": _plain(dp.stats()), "ports": _plain(dp.port_list()), "upcalls": upcalls,
                          "polled": dp.polled})
            if len(pending) >= 65536:
                pending.clear()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, finish)
        loop.add_reader(stdin, on_stdin)
        dp.attach(loop)
        emit({"ready": True})
        try:
            await asyncio.wait_for(done, lifetime)
        except TimeoutError:
            pass
        finally:
            loop.remove_reader(stdin)
            dp.close()

    asyncio.run(main())


# ---------------------------------------------------------------- driver


def make_switch(name: str, lab: NetnsLab, line: Line, lifetime: float) -> Switch:
    if name == "ours":
        return Ours(lab, line, lifetime)
    if name == "bridge":
        return LinuxBridge(lab, line)
    return OvsNetdev(lab, line, tso=name == "ovs-tso")


def bench_switch(name: str, seconds: float, lifetime: float, out: Callable[[str], None]) -> Result:
    """Two sessions, each on a fresh topology: veth offloads on (ping, kpps, TCP), off (TCP)."""
    result = Result()
    for offloads in ("on", "off"):
        lab = NetnsLab()
        switch: Switch | None = None
        try:
            line = Line(lab, offloads=offloads == "on")
            switch = make_switch(name, lab, line, lifetime)
            switch.start()
            phases: list[tuple[str, Callable[[], None]]] = []
            if offloads == "on":
                pid = switch.pid()
                if pid is not None:
                    phases.append(("idle", partial(_idle, result, pid)))
                phases.append(("ping", partial(_ping, result, lab, line)))
                phases.append(("flood ping", partial(_flood_ping, result, lab, line)))
                for flows in FLOWS:
                    phases.append((f"pps {flows}", partial(_pps, result, lab, line, flows, seconds)))
            phases.append((f"tcp offloads {offloads}", partial(_tcp, result, lab, line, seconds, offloads)))
            for phase, run in phases:
                try:
                    run()
                except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
                    result.notes.append(f"{phase} failed: {exc}")
                try:
                    result.notes.extend(switch.notes(phase))
                except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
                    result.notes.append(f"{phase}: counters unavailable: {exc}")
        except (RuntimeError, subprocess.SubprocessError, OSError, ImportError) as exc:
            result.error = f"(offloads {offloads}) {exc}"
        finally:
            try:
                if switch is not None:
                    switch.stop()
            finally:
                lab.close()
        if result.error:
            break
    for note in result.notes:
        out(f"    {LABELS[name]}: {note}")
    if result.error:
        out(f"    {LABELS[name]}: NOT MEASURED: {result.error}")
    return result


def _idle(result: Result, pid: int) -> None:
    result.idle_cpu = measure_idle_cpu(pid)


def _ping(result: Result, lab: NetnsLab, line: Line) -> None:
    result.rtt_ms = measure_ping(lab, line)


def _flood_ping(result: Result, lab: NetnsLab, line: Line) -> None:
    result.flood_rtt_ms = measure_flood_ping(lab, line)


def _pps(result: Result, lab: NetnsLab, line: Line, flows: int, seconds: float) -> None:
    kpps, offered = measure_pps(lab, line, flows, seconds)
    result.kpps[flows], result.offered_kpps[flows] = kpps, offered


def _tcp(result: Result, lab: NetnsLab, line: Line, seconds: float, offloads: str) -> None:
    gbps, retransmits, secs = measure_tcp(lab, line, seconds)
    result.tcp[offloads] = {"gbps": gbps, "retransmits": retransmits, "seconds": secs,
                            "retransmits_per_s": retransmits / secs if secs else 0.0}


def _ratio(ours: float | None, ovs: float | None) -> float | None:
    return ours / ovs if ours is not None and ovs else None


def summary(results: dict[str, Result]) -> tuple[list[str], dict[str, float | None]]:
    """The table (lines) and the ratios ours / OVS-netdev per row."""
    def kpps(r: Result, flows: int) -> float | None:
        return r.kpps.get(flows)

    def tcp(offloads: str, what: str) -> Callable[[Result], float | None]:
        return lambda r: r.tcp[offloads][what] if offloads in r.tcp else None

    def tuples_vs_one(r: Result) -> float | None:
        one, many = kpps(r, FLOWS[0]), kpps(r, FLOWS[-1])
        return many / one if one and many is not None else None

    rows: list[tuple[str, Callable[[Result], float | None], str, str, bool]] = [
        ("64B UDP, 1 flow (kpps)", lambda r: kpps(r, FLOWS[0]), "{:.0f}", ">= 1.25x", True),
        (f"64B UDP, {FLOWS[-1] // 1000}k 5-tuples (kpps)", lambda r: kpps(r, FLOWS[-1]), "{:.0f}", "", True),
        (f"  {FLOWS[-1] // 1000}k tuples / 1 flow", tuples_vs_one, "{:.2f}", "ours >= 0.90", False),
        ("TCP, veth offloads on (Gbit/s)", tcp("on", "gbps"), "{:.2f}", ">= 2x", True),
        ("  retransmits/s", tcp("on", "retransmits_per_s"), "{:.0f}", "near 0", False),
        ("TCP, veth offloads off (Gbit/s)", tcp("off", "gbps"), "{:.2f}", ">= 2x", True),
        ("  retransmits/s", tcp("off", "retransmits_per_s"), "{:.0f}", "near 0", False),
        ("ping RTT avg (ms)", lambda r: r.rtt_ms["avg"] if r.rtt_ms else None, "{:.3f}", "<= 1x", True),
        ("ping RTT median (ms)", lambda r: r.rtt_ms["median"] if r.rtt_ms else None, "{:.3f}", "", True),
        ("flood ping RTT avg (ms)", lambda r: r.flood_rtt_ms, "{:.3f}", "", True),
        (f"idle CPU, {IDLE_SECONDS:g} s (% of a CPU)", lambda r: r.idle_cpu, "{:.1f}", "", False),
    ]
    names = [n for n in SWITCHES if n in results]
    lines = [f"  {'':32s}" + "".join(f"{LABELS[n]:>16s}" for n in names) + f"{'ours/OVS':>10s}  target"]
    ratios: dict[str, float | None] = {}
    for label, get, fmt, target, compare in rows:
        cells = "".join(f"{fmt.format(v) if (v := get(results[n])) is not None else 'n/a':>16s}" for n in names)
        ratio = None
        if compare and "ours" in results and "ovs" in results:
            ratio = ratios[label] = _ratio(get(results["ours"]), get(results["ovs"]))
        lines.append(f"  {label:32s}{cells}{(f'{ratio:.2f}x' if ratio is not None else ''):>10s}  {target}")
    return lines, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring window of each kpps and TCP run")
    parser.add_argument("--switches", default=",".join(DEFAULT_SWITCHES),
                        help=f"comma-separated, out of {','.join(SWITCHES)} (default: %(default)s;"
                        " ovs-tso is OVS with other_config:userspace-tso-enable=true)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--busy-poll", type=float, default=None, metavar="SECONDS",
                        help="this datapath's busy-poll window (default: Datapath's; 0: off)")
    parser.add_argument("--warm-poll", type=float, default=None, metavar="SECONDS",
                        help="this datapath's warm-poll interval (default: Datapath's; 0: off)")
    parser.add_argument("--rx-ring", type=int, default=None, metavar="FRAMES",
                        help="this datapath's receive ring per port (default: SystemNetdev's; 0: recvmmsg)")
    parser.add_argument("--ours-worker", nargs=2, metavar=("A_IF", "B_IF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_worker:
        a_if, b_if = args.ours_worker
        ours_worker(a_if, b_if, lifetime=args.seconds, busy_poll=args.busy_poll, rx_ring=args.rx_ring,
                    warm_poll=args.warm_poll)
        return
    global BUSY_POLL, RX_RING, WARM_POLL
    BUSY_POLL, RX_RING, WARM_POLL = args.busy_poll, args.rx_ring, args.warm_poll
    if not 0.5 <= args.seconds <= 600:
        parser.error("--seconds must be within 0.5 .. 600")
    switches = [s for s in args.switches.split(",") if s]
    if not switches or any(s not in SWITCHES for s in switches):
        parser.error(f"--switches takes names out of {','.join(SWITCHES)}")
    if os.geteuid() != 0:
        sys.exit("bench/datapath.py needs root (namespaces, veth, AF_PACKET)")
    if not {GEN_CPU, SW_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"needs CPUs {GEN_CPU} and {SW_CPU} to pin the generator and the switch apart")
    for tool in ("ip", "taskset", "iperf3", "ping", "ss"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run `make deps` (scripts/setup.sh deps)")

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every finally: namespaces, OVS, workers

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    remove_stale_namespaces()
    remove_stale_ovs_dirs()
    os.sched_setaffinity(0, {GEN_CPU})  # this process and its helpers stay off the switch CPU
    out: Callable[[str], None] = (lambda text: print(text, file=sys.stderr)) if args.json else print
    out(f"switches side by side: 64-byte UDP kpps (1 flow, {FLOWS[-1]} 5-tuples), iperf3 TCP, ping;"
        f" generator/endpoints on CPU {GEN_CPU}, switch on CPU {SW_CPU}; {args.seconds:g} s windows")
    lifetime = 4 * (args.seconds + WARMUP + 2) + 120
    results: dict[str, Result] = {}
    for name in switches:
        out(f"  {LABELS[name]} ...")
        results[name] = bench_switch(name, args.seconds, lifetime, out)
    lines, ratios = summary(results)
    if args.json:
        doc = {"seconds": args.seconds, "generator_cpu": GEN_CPU, "switch_cpu": SW_CPU,
               "flows": list(FLOWS), "switches": {n: dataclasses.asdict(r) for n, r in results.items()},
               "ratios_ours_to_ovs": ratios}
        print(json.dumps(doc, indent=2))
    else:
        for text in lines:
            print(text)
        for name, r in results.items():
            offered = ", ".join(f"{flows}: {v:.0f}" for flows, v in r.offered_kpps.items() if v is not None)
            if offered:
                print(f"  {LABELS[name]}: generator offered kpps ({offered})")


if __name__ == "__main__":
    main()
