"""More real Ryu 4.34 against the agent, as root: REST, fail modes, two controllers with roles.

Issue 4's proof, continued from test_ryu_controller.py (whose RyuLab and helpers this
reuses).  Same topology: the agent (`switch-agent run`) and every ryu-manager (the
.ryu-venv, unmodified Ryu 4.34) run in the "sw" namespace and talk over its loopback;
three namespace hosts h1..h3 (10.0.0.N, 02:00:00:00:00:0N) sit on veth ports 1..3.

- `ryu.app.ofctl_rest` alone: flows added with POST /stats/flowentry/add forward pings,
  GET /stats/flow, /stats/port and /stats/desc return what ovs-ofctl reads through the
  agent's passive listener, POST /stats/flowentry/delete stops the traffic.  The REST
  API (--wsapi-host 127.0.0.1) is called with urllib from a Python in the sw namespace.
- Controller killed: `--fail-mode secure` keeps forwarding the flows simple_switch_13
  learned and drops misses; `--fail-mode standalone --probe-interval 1` falls back to
  NORMAL, reconnects with the backoff (`--max-backoff 2`) when ryu-manager comes back on
  the same port, and then Ryu's flows are used again.
- Two ryu-managers at once, each running ROLE_APP (written to a temp file; it executes
  commands the test appends to a file and prints what the switch answers): MASTER/SLAVE
  with generation ids, OFPBRC_IS_SLAVE for a slave's FLOW_MOD, demotion by a newer
  master, STALE generation ids, the default asynchronous masks (packet-ins and
  flow-removed to the master only, port status to both), SET_ASYNC changing them.

Every wait is bounded; a failure shows the agent's and Ryu's logs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

import pytest

from tests.integration.conftest import NetnsLab
from tests.integration.test_ryu_controller import (
    AGENT,
    HOSTS,
    ROOT,
    RyuLab,
    _ports,
    lab_log,
    read,
    wait_connected,
)

OF13 = "OpenFlow13"
DPID = 1
ETH_IP, ETH_ARP = 0x0800, 0x0806
OFPCR_ROLE_MASTER, OFPCR_ROLE_SLAVE = 2, 3
OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE = 1, 10
OFPET_ROLE_REQUEST_FAILED, OFPRRFC_STALE = 11, 0


def mac(n: int) -> str:
    return f"02:00:00:00:00:{n:02x}"


class AgentLab(RyuLab):
    """RyuLab's topology and helpers (ofctl, ping_all, logs) with the processes left open:
    start_ryu() runs any number of ryu-managers with any arguments, start_agent() the agent
    with extra flags.  Host n is on OpenFlow port n.  RyuLab.__init__ is not called: it
    starts one ryu-manager and the agent with fixed arguments."""

    def __init__(self, lab: NetnsLab, ryu_python: str) -> None:
        for tool, package in (("ss", "iproute2"), ("ping", "iputils-ping"),
                              ("ovs-ofctl", "openvswitch-common")):
            if shutil.which(tool) is None:
                pytest.fail(f"{tool} is missing: apt-get install -y {package}", pytrace=False)
        self.lab = lab
        self.sw = lab.add_ns("sw")
        self.hosts: list[tuple[str, str, str]] = []  # (namespace, host if, switch if)
        for n in range(1, HOSTS + 1):
            ns = lab.add_ns(f"h{n}")
            host_if, sw_if = lab.add_veth(ns, self.sw)
            lab.ip(ns, "link", "set", host_if, "address", mac(n))
            lab.ip(ns, "addr", "add", f"10.0.0.{n}/24", "dev", host_if)
            self.hosts.append((ns, host_if, sw_if))
        self.ryu_manager = str(Path(ryu_python).parent / "ryu-manager")
        self.of_port = next(_ports)  # the first controller's port (what wait_connected reads)
        self.listen_port = next(_ports)
        self.ryu_logs: list[tuple[str, IO[bytes]]] = []
        self.agent_log = lab_log(lab, "agent")

    def start_ryu(self, name: str, *args: str, port: int | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """ryu-manager ARGS listening on 127.0.0.1:port (default of_port); returns once it
        listens."""
        port = self.of_port if port is None else port
        log = lab_log(self.lab, name)
        self.ryu_logs.append((name, log))
        proc = self.lab.popen(self.sw, [self.ryu_manager, "--ofp-tcp-listen-port", str(port),
                                        "--ofp-listen-host", "127.0.0.1", *args],
                              stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, **(env or {})))
        wait_for(f"{name} to listen on port {port}",
                 lambda: proc.poll() is not None or self.listening(port), self.logs, 15)
        assert proc.poll() is None, f"{name} exited" + self.logs()
        return proc

    def listening(self, port: int) -> bool:
        proc = self.lab.run(self.sw, ["ss", "-Hltn", f"sport = :{port}"], timeout=10)
        return bool(proc.stdout.strip())

    def start_agent(self, *flags: str, controllers: tuple[int, ...] | None = None) -> None:
        """Start the agent once the kernel reports every switch-side veth running: a port
        added before that (the first veth of a lab can take ~2 s) is link-down to the agent
        until its next port check (1 s), and outputs to it are dropped meanwhile."""
        paths = [f"/sys/class/net/{sw_if}/operstate" for _, _, sw_if in self.hosts]
        wait_for("the switch-side veths to be up", lambda: self.lab.run(
            self.sw, ["cat", *paths]).stdout.split() == [b"up"] * len(paths), self.logs, 10)
        argv = [*AGENT, "run", "-v", "--control-socket", "none", "--protocols", OF13,
                "--listen", f"ptcp:{self.listen_port}:127.0.0.1", *flags]
        for port in (self.of_port,) if controllers is None else controllers:
            argv += ["--controller", f"tcp:127.0.0.1:{port}"]
        for n, (_, _, sw_if) in enumerate(self.hosts, 1):
            argv += ["--port", f"{sw_if}={n}"]
        self.agent = self.lab.popen(self.sw, argv, stdout=self.agent_log,
                                    stderr=subprocess.STDOUT, cwd=str(ROOT),
                                    env=dict(os.environ, PYTHONPATH=str(ROOT)))

    def logs(self) -> str:
        tools = f"ptcp:{self.listen_port}:127.0.0.1: "  # ovs-ofctl's connections: noise
        agent = "\n".join(line for line in read_all(self.agent_log).splitlines()
                          if tools not in line)
        text = f"\n--- agent (without ovs-ofctl's connections) ---\n{agent[-6000:]}"
        for name, log in self.ryu_logs:
            text += f"\n--- {name} ---\n{read(log)}"
        return text

    def alive(self) -> None:
        assert self.agent.poll() is None, "agent exited" + self.logs()

    def ns(self, n: int) -> str:
        return self.hosts[n - 1][0]

    def ping(self, src: int, dst: int, count: int = 3, wait: float = 1.0) -> float:
        """Packet loss in percent of `ping -c count` from host src to host dst."""
        proc = self.lab.run(self.ns(src), ["ping", "-n", "-q", "-c", str(count), "-i", "0.2",
                                           "-W", str(wait), f"10.0.0.{dst}"], check=False,
                            timeout=30)
        found = re.search(rb"([\d.]+)% packet loss", proc.stdout)
        assert found, proc.stdout.decode() + proc.stderr.decode() + self.logs()
        return float(found[1])

    def static_arp(self, src: int, *dsts: int) -> None:
        for dst in dsts:
            self.lab.ip(self.ns(src), "neigh", "replace", f"10.0.0.{dst}", "lladdr", mac(dst),
                        "dev", self.hosts[src - 1][1], "nud", "permanent")

    def host_rx_packets(self, n: int) -> int:
        _, host_if, _ = self.hosts[n - 1]
        return int(self.lab.run(self.ns(n), ["cat", f"/sys/class/net/{host_if}/statistics/"
                                             "rx_packets"]).stdout)

    def sw_counters(self, n: int) -> dict[str, int]:
        """The kernel's counters of the switch end of host n's veth."""
        out = self.lab.run(self.sw, ["ip", "-s", "-j", "link", "show", "dev",
                                     self.hosts[n - 1][2]]).stdout
        stats = json.loads(out)[0]["stats64"]
        return {f"{d}_{k}": stats[d][k] for d in ("rx", "tx") for k in ("packets", "bytes")}

    def flows(self) -> dict[int, tuple[int, str]]:
        """dump-flows through the listener -> {cookie: (n_packets, the rest of the line)}."""
        table = {}
        for line in self.ofctl(OF13, "dump-flows").splitlines()[1:]:
            found = _FLOW.match(line)
            assert found, f"unparsed dump-flows line {line!r}"
            table[int(found[1], 16)] = (int(found[2]), found[3])
        return table

    def flow_lines(self) -> list[tuple[int, str]]:
        """dump-flows -> [(n_packets, rest of the line)] (Ryu's learned flows share cookie 0)."""
        out = []
        for line in self.ofctl(OF13, "dump-flows").splitlines()[1:]:
            found = _FLOW.match(line)
            assert found, f"unparsed dump-flows line {line!r}"
            out.append((int(found[2]), found[3]))
        return out


_FLOW = re.compile(r"^ cookie=(0x[0-9a-f]+), duration=[0-9.]+s, table=\d+, n_packets=(\d+), "
                   r"n_bytes=\d+, (.*)$")
_PORT = re.compile(r"port +(\w+): rx pkts=(\d+), bytes=(\d+), drop=(\d+), errs=(\d+), "
                   r"frame=\d+, over=\d+, crc=\d+\s+tx pkts=(\d+), bytes=(\d+), drop=(\d+), "
                   r"errs=(\d+), coll=\d+")
_PORT_KEYS = ("rx_packets", "rx_bytes", "rx_dropped", "rx_errors",
              "tx_packets", "tx_bytes", "tx_dropped", "tx_errors")


def wait_for(what: str, check: Callable[[], Any], logs: Callable[[], str],
             timeout: float = 10.0, every: float = 0.2) -> Any:
    """Poll check() until it returns something true (returned); fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}" + logs())
        time.sleep(every)


def ofctl_ports(text: str) -> dict[int, dict[str, int]]:
    table = {}
    for found in _PORT.findall(text):
        if found[0].isdigit():
            table[int(found[0])] = dict(zip(_PORT_KEYS, map(int, found[1:]), strict=True))
    return table


def agent_times(log: str, pattern: str) -> list[float]:
    """Timestamps (s) of the agent log lines matching pattern (logging's asctime)."""
    times = []
    for line in log.splitlines():
        if re.search(pattern, line):
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            times.append(stamp.timestamp())
    return times


# ---------------------------------------------------------------- 1. ofctl_rest

_HTTP = """
import sys, urllib.error, urllib.request
method, url, body = sys.argv[1:4]
request = urllib.request.Request(url, data=body.encode() or None, method=method)
try:
    with urllib.request.urlopen(request, timeout=15) as answer:
        status, text = answer.status, answer.read()
except urllib.error.HTTPError as exc:
    status, text = exc.code, exc.read()
sys.stdout.write(f"{status}\\n" + text.decode())
"""


class Rest:
    """ryu.app.ofctl_rest's API, called from the sw namespace (urllib in a subprocess)."""

    def __init__(self, al: AgentLab, port: int) -> None:
        self.al = al
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: object = None) -> tuple[int, str]:
        data = "" if body is None else json.dumps(body)
        proc = self.al.lab.python(self.al.sw, _HTTP, method, self.base + path, data, timeout=30)
        status, _, text = proc.stdout.decode().partition("\n")
        return int(status), text

    def get(self, path: str) -> Any:
        status, text = self.call("GET", path)
        assert status == 200, f"GET {path}: {status} {text}" + self.al.logs()
        return json.loads(text)

    def post(self, path: str, body: object) -> None:
        status, text = self.call("POST", path, body)
        assert status == 200, f"POST {path} {body}: {status} {text}" + self.al.logs()

    def flows(self) -> dict[int, dict[str, Any]]:
        """GET /stats/flow/1 -> {cookie: entry}."""
        entries = self.get(f"/stats/flow/{DPID}")[str(DPID)]
        return {entry["cookie"]: entry for entry in entries}


def rest_flows_between(a: int, b: int) -> list[dict[str, Any]]:
    """Host a -> host b: its IPv4 (cookie 0x1ab) and its ARP (0x2ab), out port b."""
    return [
        {"dpid": DPID, "cookie": 0x100 + 16 * a + b, "priority": 100,
         "match": {"in_port": a, "eth_type": ETH_IP, "ipv4_dst": f"10.0.0.{b}"},
         "actions": [{"type": "OUTPUT", "port": b}]},
        {"dpid": DPID, "cookie": 0x200 + 16 * a + b, "priority": 100,
         "match": {"in_port": a, "eth_type": ETH_ARP},
         "actions": [{"type": "OUTPUT", "port": b}]},
    ]


def test_ofctl_rest_flows_stats_and_delete(netns_lab: NetnsLab, ryu_python: str) -> None:
    al = AgentLab(netns_lab, ryu_python)
    wsapi = next(_ports)
    al.start_ryu("ryu", "--wsapi-host", "127.0.0.1", "--wsapi-port", str(wsapi),
                 "ryu.app.ofctl_rest")
    al.start_agent()
    rest = Rest(al, wsapi)
    wait_for("the agent in GET /stats/switches", lambda: rest.get("/stats/switches") == [DPID],
             al.logs, 20)
    assert al.ping(1, 2, count=1) == 100, "an OF1.3 switch without flows forwarded" + al.logs()

    added = rest_flows_between(1, 2) + rest_flows_between(2, 1)
    for flow in added:
        rest.post("/stats/flowentry/add", flow)
    ip_cookies = (0x112, 0x121)
    assert al.ping(1, 2) == 0, al.logs()
    assert al.ping(1, 3, count=1) == 100, "h3 has no flows" + al.logs()

    # Flow stats through REST: the four flows as added, the IPv4 ones counting the pings.
    got = wait_for("REST flow stats to count 3 pings each way",
                   lambda: (f := rest.flows()) and all(
                       f.get(c, {}).get("packet_count", 0) >= 3 for c in ip_cookies) and f,
                   al.logs, 5)
    assert sorted(got) == sorted(flow["cookie"] for flow in added), got
    for flow in added:
        entry = got[flow["cookie"]]
        assert entry["priority"] == 100 and entry["table_id"] == 0, entry
        assert entry["actions"] == [f"OUTPUT:{flow['actions'][0]['port']}"], entry
        assert entry["match"]["in_port"] == flow["match"]["in_port"], entry
        assert entry["match"]["dl_type"] == flow["match"]["eth_type"], entry
        if flow["cookie"] in ip_cookies:
            assert entry["match"]["nw_dst"] == flow["match"]["ipv4_dst"], entry
    counts = {c: got[c]["packet_count"] for c in ip_cookies}
    assert al.ping(2, 1, count=4) == 0, al.logs()
    wait_for("REST packet counts to grow by 4", lambda: all(
        rest.flows()[c]["packet_count"] >= counts[c] + 4 for c in ip_cookies), al.logs, 5)
    # ... and they are what ovs-ofctl reads through the agent's listener.
    time.sleep(0.6)  # one more counter pull: nothing is moving now
    ofctl_counts = {c: n for c, (n, _) in al.flows().items()}
    rest_counts = {c: e["packet_count"] for c, e in rest.flows().items()}
    assert rest_counts == ofctl_counts, (rest_counts, ofctl_counts)

    # Port stats: REST == ovs-ofctl dump-ports == the kernel's counters of the veth ends.
    def same_port_stats() -> tuple[dict[int, dict[str, int]], ...] | None:
        via_rest = {e["port_no"]: {k: e[k] for k in _PORT_KEYS}
                    for e in rest.get(f"/stats/port/{DPID}")[str(DPID)]
                    if isinstance(e["port_no"], int)}
        via_ofctl = ofctl_ports(al.ofctl(OF13, "dump-ports"))
        return (via_rest, via_ofctl) if via_rest == via_ofctl else None

    via_rest, _ = wait_for("equal REST and ovs-ofctl port stats", same_port_stats, al.logs, 5)
    assert sorted(via_rest) == [1, 2, 3], via_rest
    for n in (1, 2, 3):
        kernel = al.sw_counters(n)
        assert {k: via_rest[n][k] for k in kernel} == kernel, (n, via_rest[n], kernel)
    assert via_rest[1]["rx_packets"] >= 3 + 4 and via_rest[2]["tx_packets"] >= 3 + 4, via_rest
    assert via_rest[3]["tx_packets"] == 0, via_rest  # nothing flooded or sent to h3

    # Desc stats: the switch's own description, as ovs-ofctl reads it.
    desc = rest.get(f"/stats/desc/{DPID}")[str(DPID)]
    text = al.ofctl(OF13, "dump-desc")
    fields = dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)
    assert desc == {"mfr_desc": fields["Manufacturer"], "hw_desc": fields["Hardware"],
                    "sw_desc": fields["Software"], "serial_num": fields["Serial Num"],
                    "dp_desc": fields["DP Description"]}, (desc, text)
    assert desc["mfr_desc"] == "switch-agent" and desc["dp_desc"] == "br0", desc

    # Delete the IPv4 flows (non-strict, by eth_type): pings stop, ARP flows stay.
    rest.post("/stats/flowentry/delete", {"dpid": DPID, "match": {"eth_type": ETH_IP}})
    remaining = rest.flows()
    assert sorted(remaining) == [0x212, 0x221], remaining
    assert sorted(al.flows()) == [0x212, 0x221], al.ofctl(OF13, "dump-flows")
    assert al.ping(1, 2) == 100, "pings crossed after their flows were deleted" + al.logs()
    al.alive()


# ---------------------------------------------------------------- 2. controller killed


def learn_h1_h2(al: AgentLab) -> list[tuple[int, str]]:
    """Ping h1 <-> h2 through simple_switch_13 until both learned flows exist; returns them."""
    assert al.ping(1, 2) == 0, al.logs()

    def learned() -> list[tuple[int, str]] | None:
        lines = [(n, rest) for n, rest in al.flow_lines() if "dl_dst=" in rest]
        ok = any(f"in_port=1,dl_src={mac(1)},dl_dst={mac(2)}" in r for _, r in lines) and \
            any(f"in_port=2,dl_src={mac(2)},dl_dst={mac(1)}" in r for _, r in lines)
        return lines if ok else None

    return wait_for("simple_switch_13's flows for h1 <-> h2", learned, al.logs, 5)


def test_secure_mode_keeps_installed_flows_and_drops_misses(netns_lab: NetnsLab,
                                                            ryu_python: str) -> None:
    al = AgentLab(netns_lab, ryu_python)
    ryu = al.start_ryu("ryu", "ryu.app.simple_switch_13")
    al.start_agent("--fail-mode", "secure", "--probe-interval", "1", "--max-backoff", "2")
    wait_connected(al, OF13)
    al.static_arp(1, 2, 3)  # no ARP needed after the controller is gone
    al.static_arp(2, 1)
    learned = learn_h1_h2(al)
    assert len(learned) == 2, learned

    ryu.kill()
    ryu.wait(timeout=10)
    wait_for("the agent to see the controller go", lambda: "connection closed" in
             read_all(al.agent_log), al.logs, 5)
    time.sleep(2.0)  # twice the probe interval: standalone would have failed open by now
    before = {rest: n for n, rest in al.flow_lines()}
    h3_rx = al.host_rx_packets(3)

    assert al.ping(1, 2, count=5) == 0, "secure mode stopped the installed flows" + al.logs()
    assert al.ping(2, 1, count=2) == 0, al.logs()
    assert al.ping(1, 3, count=3) == 100, "secure mode forwarded a miss" + al.logs()
    miss = "priority=0 actions=CONTROLLER:65535"

    def counted() -> dict[str, int] | None:
        after = {rest: n for n, rest in al.flow_lines()}
        grown = all(after[rest] >= before[rest] + 7 for _, rest in learned) and \
            after[miss] >= before[miss] + 3
        return after if grown else None

    wait_for("the learned flows to count 7 more packets and the table-miss flow 3",
             counted, lambda: f"\nbefore: {before}\nnow: {al.flow_lines()}" + al.logs(), 5)
    assert al.host_rx_packets(3) == h3_rx, "a miss reached h3 in secure mode" + al.logs()
    assert sorted(rest for _, rest in al.flow_lines()) == sorted(before), "flows changed"
    al.alive()


def test_standalone_falls_back_to_normal_and_hands_back(netns_lab: NetnsLab,
                                                        ryu_python: str) -> None:
    al = AgentLab(netns_lab, ryu_python)
    ryu = al.start_ryu("ryu", "ryu.app.simple_switch_13")
    al.start_agent("--fail-mode", "standalone", "--probe-interval", "1", "--max-backoff", "2")
    wait_connected(al, OF13)
    learn_h1_h2(al)
    connected = f"tcp:127.0.0.1:{al.of_port}: connected"

    ryu.kill()
    killed = time.monotonic()
    ryu.wait(timeout=10)
    assert al.ping(1, 3, count=1, wait=0.5) == 100, "fell back before the probe interval" + \
        al.logs()
    # Fail-open: h3 was never learned, so only NORMAL can carry h1 <-> h3.
    wait_for("standalone fallback to NORMAL (h1 -> h3 pings)",
             lambda: al.ping(1, 3, count=1) == 0, al.logs, 6, every=0.1)
    fell_back = time.monotonic() - killed
    # the probe interval (1 s), the agent's 0.5 s fail-mode check, a failed 1 s ping
    assert fell_back < 3.5, f"fell back after {fell_back:.1f} s" + al.logs()
    failures = al.ping_all()
    assert not failures, "\n".join(failures) + al.logs()
    assert not any(mac(3) in rest for _, rest in al.flow_lines()), "Ryu is dead: who learned h3?"

    time.sleep(3.0)  # a few reconnect attempts: 1 s, then 2 s (--max-backoff)
    restarted = time.monotonic()
    al.start_ryu("ryu-restarted", "ryu.app.simple_switch_13")
    listening = time.monotonic()
    wait_for("the agent to reconnect within the backoff",
             lambda: read_all(al.agent_log).count(connected) >= 2, al.logs, 2.0 + 2.0, every=0.1)
    reconnect = time.monotonic() - listening
    log = read_all(al.agent_log)
    # The backoff: 1 s doubling to --max-backoff 2, each retry when the log said.  (The
    # first attempt right after the close may reach the dying Ryu's listening socket and be
    # reset before HELLO: that attempt is not logged but counts as a failure, so the logged
    # intervals may start at 2 s.)
    retries = [float(x) for x in re.findall(r"connection failed \(.*\); retrying in ([\d.]+) s",
                                            log)]
    assert len(retries) >= 2 and retries == sorted(retries) and retries[-1] == 2.0 and \
        set(retries) <= {1.0, 2.0}, retries
    closed = agent_times(log, f"tcp:127.0.0.1:{al.of_port}: connection closed")[0]
    attempts = agent_times(log, "connection failed") + agent_times(log, connected)[1:]
    assert attempts[0] - closed <= 1.5, (closed, attempts)
    for wait, (a, b) in zip(retries, zip(attempts, attempts[1:], strict=False), strict=True):
        assert wait - 0.2 <= b - a <= wait + 0.6, (retries, attempts, log)
    assert reconnect <= 2.5, f"reconnected {reconnect:.1f} s after Ryu listened" + al.logs()

    # The new Ryu installed its table-miss flow (a fresh flow: duration restarted).
    flows = wait_for("Ryu's table-miss flow again",
                     lambda: (t := al.ofctl(OF13, "dump-flows")) and
                     "priority=0 actions=CONTROLLER:65535" in t and t, al.logs, 5)
    duration = re.search(r"duration=([\d.]+)s, .*priority=0 actions=CONTROLLER", flows)
    assert duration and float(duration[1]) < time.monotonic() - restarted, flows
    # Fail-open is over: h1 <-> h3 now goes through the new Ryu, which learns and
    # installs flows for h3 that carry the later pings.
    assert al.ping(1, 3) == 0, al.logs()
    assert al.ping(3, 1) == 0, al.logs()

    def h3_flows() -> list[tuple[int, str]] | None:
        lines = [(n, rest) for n, rest in al.flow_lines()
                 if f"in_port=1,dl_src={mac(1)},dl_dst={mac(3)}" in rest or
                 f"in_port=3,dl_src={mac(3)},dl_dst={mac(1)}" in rest]
        return lines if len(lines) == 2 and all(n > 0 for n, _ in lines) else None

    wait_for("Ryu's new flows towards h3 to carry packets", h3_flows, al.logs, 5)
    ryu_log = read_all(al.ryu_logs[-1][1])
    assert f"packet in {DPID} {mac(1)}" in ryu_log, ryu_log
    al.alive()


# ---------------------------------------------------------------- 3. roles

ROLE_APP = '''
"""A Ryu app for the role test: runs the commands of $ROLEAPP_CMDS (one per line, the
test appends them) once the switch connected, and prints every answer on stdout."""
import os

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

ANY = [CONFIG_DISPATCHER, MAIN_DISPATCHER]
ROLES = {"nochange": 0, "equal": 1, "master": 2, "slave": 3}


class RoleApp(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dp = None
        self.done = 0
        self.path = os.environ["ROLEAPP_CMDS"]

    def start(self):
        thread = super().start()
        hub.spawn(self.poll)
        return thread

    def say(self, *words):
        print("ROLEAPP", *words, flush=True)

    def poll(self):
        while True:
            hub.sleep(0.05)
            if self.dp is None or not os.path.exists(self.path):
                continue
            with open(self.path) as f:
                lines = f.read().splitlines()
            for line in lines[self.done:]:
                self.done += 1
                self.run(line.split())

    def barrier(self):
        dp = self.dp
        req = dp.ofproto_parser.OFPBarrierRequest(dp)
        dp.send_msg(req)
        return req.xid

    def run(self, cmd):
        dp = self.dp
        ofp, parser = dp.ofproto, dp.ofproto_parser
        if cmd[0] == "role":
            req = parser.OFPRoleRequest(dp, ROLES[cmd[1]], int(cmd[2]))
            dp.send_msg(req)
            self.say("ROLE_REQUEST", "xid=%d" % req.xid, cmd[1], cmd[2])
        elif cmd[0] == "flow":
            req = parser.OFPFlowMod(dp, cookie=int(cmd[1], 0), priority=100,
                                    match=parser.OFPMatch(eth_type=0x88B5), instructions=[])
            dp.send_msg(req)
            self.say("FLOW_MOD", "xid=%d" % req.xid, "cookie=%s" % cmd[1],
                     "barrier=%d" % self.barrier())
        elif cmd[0] == "flowrem":
            req = parser.OFPFlowMod(dp, cookie=int(cmd[1], 0), priority=100, hard_timeout=1,
                                    flags=ofp.OFPFF_SEND_FLOW_REM,
                                    match=parser.OFPMatch(eth_type=0x88B6), instructions=[])
            dp.send_msg(req)
            self.say("FLOW_MOD", "xid=%d" % req.xid, "cookie=%s" % cmd[1],
                     "barrier=%d" % self.barrier())
        elif cmd[0] == "miss":
            out = parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
            inst = parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [out])
            req = parser.OFPFlowMod(dp, priority=0, match=parser.OFPMatch(), instructions=[inst])
            dp.send_msg(req)
            self.say("MISS_FLOW", "xid=%d" % req.xid, "barrier=%d" % self.barrier())
        elif cmd[0] == "async":
            req = parser.OFPSetAsync(dp, [int(cmd[1]), int(cmd[2])], [7, 7], [15, 0])
            dp.send_msg(req)
            self.say("SET_ASYNC", "xid=%d" % req.xid, "barrier=%d" % self.barrier())

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        self.dp = ev.msg.datapath
        self.say("FEATURES", "dpid=%d" % ev.msg.datapath_id)

    @set_ev_cls(ofp_event.EventOFPRoleReply, ANY)
    def role_reply(self, ev):
        self.say("ROLE_REPLY", "xid=%d" % ev.msg.xid, "role=%d" % ev.msg.role,
                 "gen=%d" % ev.msg.generation_id)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, ANY)
    def error(self, ev):
        self.say("ERROR", "xid=%d" % ev.msg.xid, "type=%d" % ev.msg.type,
                 "code=%d" % ev.msg.code)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, ANY)
    def barrier_reply(self, ev):
        self.say("BARRIER_REPLY", "xid=%d" % ev.msg.xid)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def flow_removed(self, ev):
        self.say("FLOW_REMOVED", "cookie=%#x" % ev.msg.cookie, "reason=%d" % ev.msg.reason)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        self.say("PORT_STATUS", "reason=%d" % ev.msg.reason, "port=%d" % ev.msg.desc.port_no,
                 "state=%d" % ev.msg.desc.state)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        self.say("PACKET_IN", "reason=%d" % ev.msg.reason, "in_port=%d" % ev.msg.match["in_port"])
'''


class RoleController:
    """One ryu-manager running ROLE_APP; `do()` appends commands, the log is its stdout."""

    def __init__(self, al: AgentLab, name: str, port: int, tmp: Path) -> None:
        self.al = al
        self.name = name
        self.cmds = tmp / f"{name}.cmds"
        self.lines: list[str] = []
        self.proc = al.start_ryu(name, str(tmp / "role_app.py"), port=port,
                                 env={"ROLEAPP_CMDS": str(self.cmds)})
        self.log = al.ryu_logs[-1][1]

    def do(self, *commands: str) -> None:
        self.lines += commands
        tmp = self.cmds.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in self.lines))
        tmp.replace(self.cmds)  # the app never reads half a file

    def said(self) -> list[list[str]]:
        return [line.split()[1:] for line in read_all(self.log).splitlines()
                if line.startswith("ROLEAPP ")]

    def fields(self, event: str) -> list[dict[str, str]]:
        return [dict(w.split("=", 1) for w in words[1:] if "=" in w)
                for words in self.said() if words[0] == event]

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        return wait_for(f"{self.name}: {what}", check, self.al.logs, timeout, every=0.1)

    def flow_mod(self, cookie: int, command: str = "flow") -> dict[str, str] | None:
        """Send a FLOW_MOD ("flow", or "flowrem": hard_timeout=1, SEND_FLOW_REM) and a
        barrier; the ERROR for it, None if it succeeded."""
        self.do(f"{command} {cookie:#x}")
        sent = self.wait(f"FLOW_MOD {cookie:#x} sent", lambda: [
            f for f in self.fields("FLOW_MOD") if f["cookie"] == f"{cookie:#x}"])[0]
        self.wait(f"the barrier after FLOW_MOD {cookie:#x}", lambda: any(
            f["xid"] == sent["barrier"] for f in self.fields("BARRIER_REPLY")))
        errors = [f for f in self.fields("ERROR") if f["xid"] == sent["xid"]]
        return errors[0] if errors else None

    def role(self, role: str, gen: int) -> dict[str, str]:
        """Send a ROLE_REQUEST; its ROLE_REPLY or ERROR (with "error" set)."""
        before = len(self.fields("ROLE_REQUEST"))
        self.do(f"role {role} {gen}")
        sent = self.wait(f"ROLE_REQUEST {role} {gen} sent",
                         lambda: self.said_requests()[before:])
        assert sent[0][2:] == [role, str(gen)], sent
        xid = sent[0][1].partition("=")[2]
        answer = self.wait(f"the answer to ROLE_REQUEST {role} {gen}", lambda: [
            dict(f, error="") if words[0] == "ERROR" else f
            for words in self.said() if words[0] in ("ROLE_REPLY", "ERROR")
            for f in [dict(w.split("=", 1) for w in words[1:])] if f["xid"] == xid])
        return answer[0]

    def said_requests(self) -> list[list[str]]:
        return [words for words in self.said() if words[0] == "ROLE_REQUEST"]

    def port_status(self, port: int, reason: int, state_bit: int) -> list[dict[str, str]]:
        return [f for f in self.fields("PORT_STATUS") if f["port"] == str(port) and
                f["reason"] == str(reason) and int(f["state"]) & state_bit]

    def packet_ins(self) -> int:
        return len(self.fields("PACKET_IN"))


def read_all(log_file: IO[bytes]) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read().decode(errors="replace")


def test_two_controllers_master_slave(netns_lab: NetnsLab, ryu_python: str,
                                      tmp_path: Path) -> None:
    (tmp_path / "role_app.py").write_text(ROLE_APP)
    al = AgentLab(netns_lab, ryu_python)
    port_b = next(_ports)
    a = RoleController(al, "ryu-a", al.of_port, tmp_path)
    b = RoleController(al, "ryu-b", port_b, tmp_path)
    al.start_agent("--fail-mode", "secure", controllers=(al.of_port, port_b))
    for c in (a, b):
        c.wait("FEATURES", partial(c.fields, "FEATURES"), 20)

    # A is MASTER (generation 1) and installs a table-miss flow; B is SLAVE.
    reply = a.role("master", 1)
    assert (reply["role"], reply["gen"]) == (str(OFPCR_ROLE_MASTER), "1"), al.logs()
    assert b.role("slave", 1)["role"] == str(OFPCR_ROLE_SLAVE), al.logs()
    a.do("miss")
    a.wait("the table-miss flow", lambda: a.fields("MISS_FLOW") and any(
        f["xid"] == a.fields("MISS_FLOW")[0]["barrier"] for f in a.fields("BARRIER_REPLY")))
    assert not a.fields("ERROR"), al.logs()
    # The slave may not change the flow table.
    error = b.flow_mod(0xB1)
    assert error is not None and (error["type"], error["code"]) == \
        (str(OFPET_BAD_REQUEST), str(OFPBRC_IS_SLAVE)), al.logs()
    assert a.flow_mod(0xA1) is None, al.logs()
    cookies = al.flows()
    assert 0xA1 in cookies and 0xB1 not in cookies, cookies

    # Packet-ins (h1's misses) go to the master only.
    al.static_arp(1, 2)

    def poke_until(c: RoleController, n: int) -> None:
        start = c.packet_ins()
        c.wait(f"{n} packet-ins", lambda: al.ping(1, 2, count=1, wait=0.3) == 100 and
               c.packet_ins() >= start + n, 10)

    b_before = b.packet_ins()
    poke_until(a, 2)
    b.role("nochange", 0)  # a round trip on B's connection after the packet-ins
    assert b.packet_ins() == b_before == 0, b.said()

    # B becomes MASTER with a newer generation id: A is demoted to SLAVE.
    assert b.role("master", 2)["role"] == str(OFPCR_ROLE_MASTER), al.logs()
    assert a.role("nochange", 0)["role"] == str(OFPCR_ROLE_SLAVE), al.logs()
    error = a.flow_mod(0xA2)
    assert error is not None and (error["type"], error["code"]) == \
        (str(OFPET_BAD_REQUEST), str(OFPBRC_IS_SLAVE)), al.logs()
    assert b.flow_mod(0xB2) is None, al.logs()
    cookies = al.flows()
    assert 0xB2 in cookies and 0xA2 not in cookies, cookies
    # A's old generation id is stale now.
    stale = a.role("master", 1)
    assert "error" in stale and (stale["type"], stale["code"]) == \
        (str(OFPET_ROLE_REQUEST_FAILED), str(OFPRRFC_STALE)), stale
    # Flow-removed goes to the master only, port status to both (the spec's default masks).
    assert b.flow_mod(0xB3, "flowrem") is None, al.logs()
    b.wait("FLOW_REMOVED of the hard_timeout=1 flow", lambda: [
        f for f in b.fields("FLOW_REMOVED") if f["cookie"] == "0xb3" and f["reason"] == "1"], 5)
    a.role("nochange", 0)  # a round trip on A's connection after the flow-removed
    assert not a.fields("FLOW_REMOVED"), a.said()
    al.lab.ip(al.ns(3), "link", "set", al.hosts[2][1], "down")
    for c in (a, b):  # OFPPR_MODIFY with OFPPS_LINK_DOWN
        c.wait("PORT_STATUS for port 3 (link down)", partial(c.port_status, 3, 2, 1), 5)
    # Packet-ins now go to B only.
    a_before = a.packet_ins()
    poke_until(b, 2)
    a.role("nochange", 0)
    assert a.packet_ins() == a_before, a.said()

    # Async masks: A (slave) asks for table-miss packet-ins as a slave too.
    errors = len(a.fields("ERROR"))
    a.do("async 3 1")  # packet-in masks: master NO_MATCH|ACTION, slave NO_MATCH
    a.wait("SET_ASYNC done", lambda: a.fields("SET_ASYNC") and any(
        f["xid"] == a.fields("SET_ASYNC")[0]["barrier"] for f in a.fields("BARRIER_REPLY")))
    assert len(a.fields("ERROR")) == errors, "SET_ASYNC from a slave refused" + al.logs()
    b_before = b.packet_ins()
    poke_until(a, 2)
    assert b.packet_ins() > b_before, "the master lost its packet-ins" + al.logs()
    al.alive()
    assert a.proc.poll() is None and b.proc.poll() is None, al.logs()
