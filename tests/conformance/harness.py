"""Conformance harness: Ryu 4.34's OpenFlow switch test tool against the agent (or OVS).

Sits under tests/conformance/ (issue 7, step 1: measuring, not fixing). Run as root:

    .venv/bin/python tests/conformance/harness.py [--target agent|ovs|agent,ovs]
        [--version 13|10] [--cases GLOB[,GLOB...]] [--skip-throughput]
        [--throughput-seconds S] [--timeout S] [--json]

or `make conformance` (agent and OVS side by side, non-throughput OF1.3 cases).

The cases are the JSON files of the os-ken wheel (`os_ken/tests/switch/of13`, `of10`),
downloaded once with pip into .cache/conformance/ (git-ignored) and extracted there.
The referee is Ryu 4.34's own `ryu.tests.switch.tester` app under a real `ryu-manager`
from .ryu-venv. Topology, all in one throw-away namespace (tests/integration/conftest.py's
NetnsLab: own prefix, removed whatever happens), IPv6 off on every interface:

    ryu-manager ryu.tests.switch.tester  (tcp:127.0.0.1:6653, in the namespace)
       |                          |
    target (dpid 1)            tester (dpid 2): Open vSwitch 3.1, datapath_type=netdev,
    the agent, or an OVS         fail_mode secure, OpenFlow13 (or 10)
    bridge for the anchor
     port 1 ----- veth ----- port 1   (tester_send_port -> target_recv_port)
     port 2 ----- veth ----- port 2   (target_send_port_1 -> tester_recv_port_1)
     port 3 ----- veth ----- port 3   (target_send_port_2 -> tester_recv_port_2)

These are the tester's default port numbers and datapath ids, passed explicitly.
ovsdb-server/ovs-vswitchd run from a private directory and are stopped by PID
(bench/datapath.py's OvsNetdev, reused here with its own bridge set-up); an OVS target
is a second bridge of the same ovs-vswitchd.

With the agent as target, the tester's ovs-vswitchd runs with
other_config:flow-limit=0 (an OVS target shares the daemon and keeps OVS's defaults
for both): the tester installs no datapath flows, so every packet it receives is translated against its current flow table. With
OVS's default (`--tester-datapath-flows`) a datapath flow cached before the tester's
per-case DELETE + ADD + BARRIER is revalidated asynchronously, and for a few
milliseconds after the BARRIER_REPLY the tester may act on a table it no longer has:
an OF1.0 NO_MATCH packet-in ("Received incorrect packet-in: OFPPacketIn[reason=0]")
or an OF1.3 silent drop ("increment in rx_packets in tester") for a frame that its
in_port=2 -> CONTROLLER flow covers (docs/conformance.md has the wire trace).

The tester runs the files in the order of their description strings and logs
`    <case description> OK|ERROR` with the message on the next line; results are
mapped back to the expected case list in that same order. Case ids are
`<category>/<file stem>#<n>` (n from 1 within the file), e.g. `match/00_IN_PORT#3`;
`--cases` globs match a case id or its file part (`action/25_SET_FIELD/*`).

The case directory handed to the tester is a filtered copy; two changes are made to
it and reported as notes: OF1.0 has two pairs of files with the same description
(the stock tester keeps only one of each pair, whichever os.listdir returns last),
so later duplicates get ` [<file stem>]` appended and every case runs; and
`--throughput-seconds` shortens the group/meter cases' `duration_time` (the tester
divides by the elapsed time it measured, so the expected rates stay the same).

Time bounds: the run as a whole (`--timeout`, default from the number of cases), a
stall limit (no tester output for 180 s), 60 s for both switches to join. If the agent
exits during a run it is restarted (at most 10 times) and the case it died in is noted.
Exit status: 0 every selected case passed, 1 some failed, 2 the harness could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
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
import types
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.datapath import (  # noqa: E402
    OvsNetdev,
    die_with_parent,
    remove_stale_ovs_dirs,
    stop_process,
)
from tests.integration.conftest import NetnsLab, remove_stale_namespaces  # noqa: E402

CACHE = ROOT / ".cache" / "conformance"
OS_KEN_VERSION = "4.2.2"  # pinned: the case counts in docs and tests are for these files
RYU_VENV = Path(os.environ.get("RYU_VENV", ROOT / ".ryu-venv"))
CATEGORIES = ("match", "action", "group", "meter")
VERSIONS = {"13": ("openflow13", "OpenFlow13"), "10": ("openflow10", "OpenFlow10")}
TARGET_DPID, TESTER_DPID = "0000000000000001", "0000000000000002"
OF_PORT = 6653  # ryu-manager's listener; the namespace is ours, so it is free
PORTS = (1, 2, 3)
JOIN_TIMEOUT = 60.0
STALL_TIMEOUT = 180.0
MAX_AGENT_RESTARTS = 10
OK, ERROR, NOT_RUN = "OK", "ERROR", "NOT RUN"

_RESULT = re.compile(r"^    (\S.*?)\s+(OK|ERROR)$")
_MESSAGE = re.compile(r"^        (\S.*)$")
_REPORT = re.compile(r"^OK\((\d+)\) / ERROR\((\d+)\)$")


class HarnessError(RuntimeError):
    """The harness itself could not run (set-up, a switch not joining, timeouts)."""


# ---------------------------------------------------------------- the cases


@dataclasses.dataclass
class Case:
    """One test of one JSON file, in the tester's execution order."""

    id: str  # "match/00_IN_PORT#1"
    category: str
    file: str  # relative to the version directory: "match/00_IN_PORT.json"
    file_description: str
    index: int  # 1-based within the file
    description: str
    throughput: bool
    body: dict[str, Any]
    result: str = NOT_RUN
    message: str = ""

    @property
    def file_id(self) -> str:
        return self.id.partition("#")[0]


def _wheel() -> Path:
    """The os-ken wheel in the cache, downloaded with pip the first time."""
    CACHE.mkdir(parents=True, exist_ok=True)
    pattern = f"os_ken-{OS_KEN_VERSION}-*.whl"
    found = sorted(CACHE.glob(pattern))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", f"os-ken=={OS_KEN_VERSION}", "--no-deps",
               "--only-binary", ":all:", "-d", str(CACHE)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        found = sorted(CACHE.glob(pattern))
        if proc.returncode != 0 or not found:
            raise HarnessError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
    return found[-1]


def cases_dir(version: str) -> Path:
    """.cache/conformance/os_ken-<v>/of13 (or of10): the wheel's JSON cases, extracted once."""
    wheel = _wheel()
    dest = CACHE / f"os_ken-{OS_KEN_VERSION}"
    stamp = dest / ".extracted"
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        prefix = "os_ken/tests/switch/"
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith(prefix) and name.endswith(".json"):
                    out = dest / name[len(prefix):]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(name))
        stamp.write_text(wheel.name + "\n")
    return dest / f"of{version}"


def _is_throughput(body: dict[str, Any]) -> bool:
    return any(isinstance(step.get("ingress"), dict) and "packets" in step["ingress"]
               for step in body.get("tests", []))


def load_cases(directory: Path) -> tuple[list[Case], list[str]]:
    """Every case under directory in the tester's order, and notes on what was adjusted."""
    files: list[tuple[str, str, list[Any]]] = []
    for path in sorted(directory.rglob("*.json")):
        doc = json.loads(path.read_text())
        if not (isinstance(doc, list) and doc and isinstance(doc[0], str)):
            raise HarnessError(f"{path}: not a test file (a description, then tests)")
        files.append((path.relative_to(directory).as_posix(), doc[0], doc[1:]))
    notes = []
    seen: set[str] = set()
    cases: list[Case] = []
    renamed: list[tuple[str, str, list[Any]]] = []
    for rel, desc, tests in files:  # sorted by path: the first of duplicates keeps its name
        if desc in seen:
            new = f"{desc} [{Path(rel).stem}]"
            notes.append(f"{rel}: duplicate file description {desc!r} (the stock tester runs "
                         f"only one of them): renamed {new!r}")
            desc = new
        seen.add(desc)
        renamed.append((rel, desc, tests))
    for rel, desc, tests in sorted(renamed, key=lambda f: f[1]):  # TestPatterns: sorted(keys)
        for n, body in enumerate(tests, 1):
            cases.append(Case(id=f"{rel.removesuffix('.json')}#{n}", category=rel.split("/", 1)[0],
                              file=rel, file_description=desc, index=n,
                              description=body["description"], throughput=_is_throughput(body),
                              body=body))
    return cases, notes


def select_cases(cases: Iterable[Case], globs: Sequence[str] = (), *,
                 skip_throughput: bool = False) -> list[Case]:
    """The cases whose id or file id matches one of the globs (all without globs)."""
    chosen = []
    for case in cases:
        if skip_throughput and case.throughput:
            continue
        if globs and not any(fnmatch.fnmatchcase(case.id, g) or fnmatch.fnmatchcase(case.file_id, g)
                             for g in globs):
            continue
        chosen.append(dataclasses.replace(case))
    return chosen


def write_case_dir(cases: Sequence[Case], dest: Path, throughput_seconds: float | None) -> None:
    """The selected cases as test files under dest (same relative paths, descriptions)."""
    by_file: dict[str, list[Case]] = {}
    for case in cases:
        by_file.setdefault(case.file, []).append(case)
    for rel, group in by_file.items():
        bodies = []
        for case in group:
            body = json.loads(json.dumps(case.body))
            if throughput_seconds is not None and case.throughput:
                for step in body["tests"]:
                    packets = step.get("ingress", {}).get("packets") if isinstance(step.get("ingress"), dict) else None
                    if packets is not None:
                        packets["duration_time"] = throughput_seconds
            bodies.append(body)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([group[0].file_description, *bodies], indent=1))


# ---------------------------------------------------------------- the switches


class Ovs(OvsNetdev):
    """bench/datapath.py's private ovsdb-server + ovs-vswitchd, with the bridges given here."""

    def __init__(self, lab: NetnsLab, ns: str) -> None:
        super().__init__(lab, types.SimpleNamespace(sw=ns))  # type: ignore[arg-type]

    def start(self, other_config: dict[str, str] | None = None) -> None:
        """The daemons as OvsNetdev.start() runs them, no bridge yet; other_config goes
        into the Open_vSwitch record before ovs-vswitchd reads it."""
        for tool in ("ovsdb-tool", "ovs-vsctl", "ovs-ofctl"):
            if shutil.which(tool) is None:
                raise HarnessError(f"{tool} missing: run `make deps` (openvswitch-switch)")
        self.ctl("ovsdb-tool", "create", f"{self.dir}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
        self.daemon("ovsdb-server", f"{self.dir}/conf.db", f"--remote=punix:{self.dir}/db.sock")
        self.wait_for("ovsdb-server", self.dir / "db.sock")
        self.ctl(*self.vsctl, "--no-wait", "init")
        for key, value in (other_config or {}).items():
            self.ctl(*self.vsctl, "--no-wait", "set", "Open_vSwitch", ".", f"other_config:{key}={value}")
        self.daemon("ovs-vswitchd", self.db_sock, "--disable-system")
        self.wait_for("ovs-vswitchd", self.dir / "ovs-vswitchd.ctl")

    @property
    def vsctl(self) -> tuple[str, ...]:
        return ("ovs-vsctl", f"--db={self.db_sock}", "--timeout=30")

    def add_bridge(self, name: str, dpid: str, ports: Sequence[str], protocols: str,
                   controller: str) -> None:
        argv = [*self.vsctl, "add-br", name, "--", "set", "bridge", name, "datapath_type=netdev",
                "fail-mode=secure", f"protocols={protocols}", f"other-config:datapath-id={dpid}",
                "other-config:disable-in-band=true"]
        for number, ifname in zip(PORTS, ports):
            argv += ["--", "add-port", name, ifname, "--", "set", "interface", ifname,
                     f"ofport_request={number}"]
        argv += ["--", "set-controller", name, controller,
                 "--", "set", "controller", name, "connection-mode=out-of-band"]
        self.ctl(*argv)


@dataclasses.dataclass
class RunResult:
    target: str
    version: str
    cases: list[Case]
    notes: list[str]
    elapsed: float
    error: str | None = None
    tester_totals: tuple[int, int] | None = None  # the tester's own "OK(n) / ERROR(m)"
    log_dir: str = ""

    def counts(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for case in self.cases:
            row = table.setdefault(case.category, {OK: 0, ERROR: 0, NOT_RUN: 0})
            row[case.result] += 1
        return table

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "version": self.version, "elapsed_s": round(self.elapsed, 1),
                "error": self.error, "notes": self.notes, "log_dir": self.log_dir,
                "tester_totals": self.tester_totals, "counts": self.counts(),
                "cases": [{"id": c.id, "category": c.category, "file_description": c.file_description,
                           "description": c.description, "result": c.result, "message": c.message}
                          for c in self.cases]}


class Conformance:
    """One run: topology, switches, ryu-manager; `run()` returns the per-case results."""

    def __init__(self, target: str, version: str, cases: list[Case], notes: list[str], *,
                 throughput_seconds: float | None, timeout: float, log_dir: Path,
                 out: Callable[[str], None], tester_datapath_flows: bool = False) -> None:
        self.target, self.version, self.cases, self.notes = target, version, cases, notes
        self.tester_datapath_flows = tester_datapath_flows
        self.throughput_seconds, self.timeout, self.log_dir, self.out = (
            throughput_seconds, timeout, log_dir, out)
        self.of_version, self.protocols = VERSIONS[version]
        self.lab = NetnsLab()
        self.ovs: Ovs | None = None  # the tester's ovs-vswitchd (and an OVS target's)
        self.agent: subprocess.Popen[bytes] | None = None
        self.ryu: subprocess.Popen[bytes] | None = None
        self.ns = ""
        self.target_ifs: list[str] = []
        self.tester_ifs: list[str] = []
        self.agent_restarts = 0

    # -- set-up

    def build(self) -> None:
        self.ns = self.lab.add_ns("conf")  # IPv6 off in the namespace (default and all)
        for _ in PORTS:
            a, b = self.lab.add_veth(self.ns, self.ns, up=False)
            self.target_ifs.append(a)
            self.tester_ifs.append(b)
        for name in (*self.target_ifs, *self.tester_ifs):
            self.lab.sysctl(self.ns, f"net.ipv6.conf.{name}.disable_ipv6", "1")
            self.lab.ip(self.ns, "link", "set", name, "up")
        with self.lab.entered(self.ns):
            for name in (*self.target_ifs, *self.tester_ifs):
                value = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").read_text().strip()
                if value != "1":
                    raise HarnessError(f"IPv6 still on for {name}")

    def start_ryu(self, case_dir: Path) -> None:
        manager = RYU_VENV / "bin" / "ryu-manager"
        if not manager.exists():
            raise HarnessError(f"{manager} missing: run `make ryu-venv`")
        argv = [str(manager), "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(OF_PORT),
                "--test-switch-dir", str(case_dir),
                "--test-switch-target", TARGET_DPID, "--test-switch-tester", TESTER_DPID,
                "--test-switch-target-version", self.of_version,
                "--test-switch-tester-version", self.of_version,
                "--test-switch-target_recv_port", "1", "--test-switch-target_send_port_1", "2",
                "--test-switch-target_send_port_2", "3", "--test-switch-tester_send_port", "1",
                "--test-switch-tester_recv_port_1", "2", "--test-switch-tester_recv_port_2", "3",
                "ryu.tests.switch.tester"]
        self.ryu = self.lab.popen(self.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ryu.poll() is not None:
                raise HarnessError(f"ryu-manager exited {self.ryu.returncode} at start")
            listening = self.lab.run(self.ns, ["ss", "-Hltn", f"sport = :{OF_PORT}"], check=False)
            if listening.stdout.strip():
                return
            time.sleep(0.2)
        raise HarnessError("ryu-manager did not listen within 30 s")

    def start_agent(self) -> None:
        argv = [sys.executable, "-m", "switch_agent.cli", "run", "--bridge", "conformance",
                "--datapath-id", TARGET_DPID, "--controller", f"tcp:127.0.0.1:{OF_PORT}",
                "--listen", "none", "--protocols", self.protocols, "--fail-mode", "secure"]
        for number, ifname in zip(PORTS, self.target_ifs):
            argv += ["--port", f"{ifname}={number}"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with open(self.log_dir / "agent.log", "ab") as log:
            self.agent = self.lab.popen(self.ns, argv, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, cwd=str(ROOT), preexec_fn=die_with_parent)

    def start_switches(self) -> None:
        # An OVS target shares the tester's ovs-vswitchd (two netdev daemons cannot share
        # a namespace: both want the ovs-netdev tap), and flow-limit is per daemon: it
        # would change the target too, so an OVS target keeps OVS's defaults.
        self.ovs = Ovs(self.lab, self.ns)
        stock = self.tester_datapath_flows or self.target == "ovs"
        self.ovs.start(None if stock else {"flow-limit": "0"})
        controller = f"tcp:127.0.0.1:{OF_PORT}"
        self.ovs.add_bridge("tester", TESTER_DPID, self.tester_ifs, self.protocols, controller)
        if self.target == "ovs":
            self.ovs.add_bridge("target", TARGET_DPID, self.target_ifs, self.protocols, controller)
        else:
            self.start_agent()

    # -- the run

    def run(self) -> RunResult:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        result = RunResult(self.target, self.version, self.cases, self.notes, 0.0,
                           log_dir=str(self.log_dir))
        try:
            with tempfile.TemporaryDirectory(prefix="sa-conformance-") as tmp:
                case_dir = Path(tmp) / f"of{self.version}"
                write_case_dir(self.cases, case_dir, self.throughput_seconds)
                self.build()
                self.start_ryu(case_dir)
                self.start_switches()
                result.tester_totals = self.follow(started)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # HarnessError too
            result.error = str(exc)
        finally:
            result.elapsed = time.monotonic() - started
            self.stop()
        if self.agent_restarts:
            result.notes.append(f"the agent was restarted {self.agent_restarts} time(s)")
        return result

    def follow(self, started: float) -> tuple[int, int] | None:
        """Read the tester's output until it ends; fill in the cases; its own totals."""
        assert self.ryu is not None and self.ryu.stdout is not None
        fd = self.ryu.stdout.fileno()
        os.set_blocking(fd, False)
        pending = b""
        pos = 0  # next expected case
        current: Case | None = None  # the case whose message lines may follow
        joined: set[str] = set()
        totals: tuple[int, int] | None = None
        last_output = time.monotonic()
        with open(self.log_dir / "ryu.log", "wb") as log:
            while True:
                now = time.monotonic()
                if now - started > self.timeout:
                    raise HarnessError(f"run timeout ({self.timeout:.0f} s) after {pos} cases")
                if now - last_output > STALL_TIMEOUT:
                    raise HarnessError(f"no tester output for {STALL_TIMEOUT:.0f} s after {pos} cases")
                if len(joined) < 2 and now - started > JOIN_TIMEOUT:
                    raise HarnessError(f"switches did not join within {JOIN_TIMEOUT:.0f} s "
                                       f"(joined: {sorted(joined) or 'none'})")
                self.check_agent(self.cases[pos] if pos < len(self.cases) else None)
                ready, _, _ = select.select([fd], [], [], 0.5)
                chunk = b""
                if ready:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:  # ryu-manager ended (the tester SIGTERMs itself when done)
                        break
                    log.write(chunk)
                    log.flush()
                    last_output = time.monotonic()
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace").replace("\r", "").lstrip(".").rstrip()
                    if "Join target SW." in line:
                        joined.add("target")
                    elif "Join tester SW." in line:
                        joined.add("tester")
                    elif "but ofp version is not" in line:
                        raise HarnessError(f"tester: {line.strip()}")
                    if (m := _RESULT.match(line)) is not None:
                        pos, current = self.record(pos, m[1], m[2])
                    elif (m := _MESSAGE.match(line)) is not None and current is not None:
                        current.message = f"{current.message} | {m[1]}" if current.message else m[1]
                    elif (m := _REPORT.match(line.strip())) is not None:
                        totals = int(m[1]), int(m[2])
                        current = None
                    elif not line.startswith(" "):
                        current = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ryu.wait(timeout=10)
        if totals is None:
            raise HarnessError(f"ryu-manager ended (exit {self.ryu.poll()}) before its report, "
                               f"after {pos} cases")
        return totals

    def record(self, pos: int, description: str, status: str) -> tuple[int, Case | None]:
        """The tester reported status for the case described: the next expected one, normally."""
        for k in range(pos, len(self.cases)):
            if self.cases[k].description == description:
                case = self.cases[k]
                case.result = status
                if k > pos:
                    self.notes.append(f"tester skipped {k - pos} case(s) before {case.id}")
                return k + 1, case
        self.notes.append(f"unexpected tester result line: {description!r} {status}")
        return pos, None

    def check_agent(self, case: Case | None) -> None:
        if self.target != "agent" or self.agent is None or self.agent.poll() is None:
            return
        code = self.agent.returncode
        where = f"during or after {case.id}" if case else "after the last case"
        self.notes.append(f"agent exited {code} {where}; see {self.log_dir}/agent.log")
        if case is not None:
            case.message = (case.message + " | " if case.message else "") + f"agent exited {code}"
        if self.agent_restarts >= MAX_AGENT_RESTARTS:
            raise HarnessError(f"agent exited {code} {where}; {MAX_AGENT_RESTARTS} restarts used up")
        self.agent_restarts += 1
        self.start_agent()

    def stop(self) -> None:
        try:
            for proc in (self.ryu, self.agent):
                stop_process(proc)
            if self.ovs is not None:
                if self.ovs.dir.exists():
                    with contextlib.suppress(OSError):
                        for name in ("ovs-vswitchd.log", "ovsdb-server.log"):
                            if (self.ovs.dir / name).exists():
                                shutil.copy(self.ovs.dir / name, self.log_dir / name)
                self.ovs.stop()
        finally:
            self.lab.close()


# ---------------------------------------------------------------- driver


def default_timeout(cases: Sequence[Case], throughput_seconds: float | None) -> float:
    """Generous: 10 s per case (most take 0.1-4 s), a throughput case its duration + 60 s."""
    per_throughput = (throughput_seconds or 30) + 60
    return 120 + sum(per_throughput if c.throughput else 10 for c in cases)


def run_conformance(target: str = "agent", version: str = "13", globs: Sequence[str] = (), *,
                    skip_throughput: bool = False, throughput_seconds: float | None = None,
                    timeout: float | None = None, log_dir: Path | None = None,
                    out: Callable[[str], None] = lambda _text: None,
                    tester_datapath_flows: bool = False) -> RunResult:
    """One harness run against target ("agent" or "ovs"); needs root."""
    if target not in ("agent", "ovs") or version not in VERSIONS:
        raise ValueError(f"target agent|ovs, version 13|10, not {target!r}/{version!r}")
    if os.geteuid() != 0:
        raise HarnessError("the conformance harness needs root (namespaces, veth, OVS)")
    remove_stale_namespaces()
    remove_stale_ovs_dirs()
    all_cases, notes = load_cases(cases_dir(version))
    cases = select_cases(all_cases, globs, skip_throughput=skip_throughput)
    if not cases:
        raise HarnessError(f"no case matches {list(globs)}")
    files = {c.file for c in cases}
    notes = [n for n in notes if n.partition(":")[0] in files]  # "<file>: ..." of selected files
    if tester_datapath_flows or target == "ovs":
        notes.append("tester with datapath flows (stock OVS): it may act on flows it no longer has")
    if throughput_seconds is not None and any(c.throughput for c in cases):
        notes.append(f"throughput cases shortened to {throughput_seconds:g} s (stock: 30 s)")
    log_dir = log_dir or CACHE / "logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{target}-of{version}-{os.getpid()}"
    out(f"{target}: {len(cases)} OF1.{version[1]} cases, logs in {log_dir}")
    run = Conformance(target, version, cases, notes, throughput_seconds=throughput_seconds,
                      timeout=timeout or default_timeout(cases, throughput_seconds),
                      log_dir=log_dir, out=out, tester_datapath_flows=tester_datapath_flows)
    return run.run()


def format_report(runs: Sequence[RunResult], *, show_cases: bool = True) -> list[str]:
    """Per category OK/ERROR side by side, then each run's failing cases with messages."""
    lines = []
    head = f"{'category':10s}" + "".join(f"{r.target + ' OK/ERROR':>22s}" for r in runs)
    lines.append(head)
    tables = [r.counts() for r in runs]
    cats = [c for c in CATEGORIES if any(c in t for t in tables)]
    for cat in [*cats, "total"]:
        cells = []
        for table in tables:
            rows = list(table.values()) if cat == "total" else [table.get(cat, {OK: 0, ERROR: 0, NOT_RUN: 0})]
            ok, err, nr = (sum(row[k] for row in rows) for k in (OK, ERROR, NOT_RUN))
            cells.append(f"{ok:>5d} / {err:<5d}" + (f" ({nr} not run)" if nr else ""))
        lines.append(f"{cat:10s}" + "".join(f"{c:>22s}" for c in cells))
    for r in runs:
        lines.append("")
        lines.append(f"{r.target} (OF1.{r.version[1]}): {len(r.cases)} cases in {r.elapsed:.0f} s"
                     + (f"; tester's own totals OK({r.tester_totals[0]}) / ERROR({r.tester_totals[1]})"
                        if r.tester_totals else "") + f"; logs {r.log_dir}")
        if r.error:
            lines.append(f"  HARNESS ERROR: {r.error}")
        for note in r.notes:
            lines.append(f"  note: {note}")
        failing = [c for c in r.cases if c.result != OK]
        if show_cases and failing:
            lines.append(f"  failing cases of {r.target}:")
            for c in failing:
                lines.append(f"    {c.result:7s} {c.id}  {c.description}")
                if c.message:
                    lines.append(f"            {c.message}")
    return lines


def tree_revision() -> str:
    """`git describe --always --dirty` of this checkout: which agent was measured."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10)
        if proc.returncode == 0:
            return proc.stdout.strip()
    return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="agent",
                        help="agent, ovs, or agent,ovs (one after the other, side by side)")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="13")
    parser.add_argument("--cases", action="append", default=[], metavar="GLOB",
                        help="case ids (match/00_IN_PORT#1) or files (action/25_SET_FIELD/*) "
                             "to run; comma-separated or repeated (default: all)")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="leave out the 51 group/meter throughput cases (30 s each)")
    parser.add_argument("--throughput-seconds", type=float, default=None,
                        help="shorten the throughput cases to S seconds (changes the case files)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="limit per target run, seconds (default: from the case count)")
    parser.add_argument("--tester-datapath-flows", action="store_true",
                        help="let the tester's OVS cache datapath flows as it does by default "
                             "(it then acts for a few ms after a barrier on flows it replaced)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--failures", choices=("show", "hide"), default="show",
                        help="list the failing cases (default) or only the counts")
    args = parser.parse_args(argv)
    targets = [t for t in args.target.split(",") if t]
    if not targets or any(t not in ("agent", "ovs") for t in targets):
        parser.error("--target takes agent, ovs or agent,ovs")
    if args.throughput_seconds is not None and not 1 <= args.throughput_seconds <= 30:
        parser.error("--throughput-seconds must be within 1..30")
    globs = [g for text in args.cases for g in text.split(",") if g]

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every finally: processes, namespaces

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    revision = tree_revision()  # before the runs: the agent loads the tree as it is now
    runs = []
    try:
        for target in targets:
            runs.append(run_conformance(target, args.version, globs, skip_throughput=args.skip_throughput,
                                        throughput_seconds=args.throughput_seconds,
                                        timeout=args.timeout, out=log,
                                        tester_datapath_flows=args.tester_datapath_flows))
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"os_ken": OS_KEN_VERSION, "version": args.version, "revision": revision,
                          "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          "runs": {r.target: r.to_json() for r in runs}}, indent=1))
    else:
        print(f"Ryu 4.34 switch tester, os-ken {OS_KEN_VERSION} cases, OF1.{args.version[1]}, "
              f"{time.strftime('%Y-%m-%d %H:%M')}, tree {revision}")
        for text in format_report(runs, show_cases=args.failures == "show"):
            print(text)
    if any(r.error for r in runs):
        return 2
    return 0 if all(c.result == OK for r in runs for c in r.cases) else 1


if __name__ == "__main__":
    sys.exit(main())
