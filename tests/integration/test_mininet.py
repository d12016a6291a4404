"""Mininet 2.3 (Debian's `mininet` package) building networks of agents (AgentSwitch).

Sits in tests/integration/ (root).  Mininet is a package of Debian's /usr/bin/python3,
not of this venv, so each test runs `_driver` (below, a self-contained function whose
source is handed to that interpreter) with PYTHONPATH=this checkout, and asserts on the
JSON it prints.  The driver uses Mininet's Python API only: no `mn`, no cleanup() (it
kills processes by name and deletes every `*-eth*` link), and `Mininet.inited = True`
so Mininet() does not raise global sysctls (fixLimits).  It runs inside
`unshare --net --pid --fork --kill-child --mount-proc`: a network namespace and a PID
namespace of its own, so whatever happens, its links, shells, agents and ryu-manager die
with it; inside, it still checks that net.stop() left no agent, interface or socket.
Node names carry this run's prefix `mn<pid % 10000>` (interfaces such as
`mn1234s1-eth3` fit IFNAMSIZ) and every switch gets an explicit dpid.

- tree depth 2 (3 switches, 4 hosts) under ryu-manager 4.34's simple_switch_13, OpenFlow13,
  passive listeners on Mininet's listen ports: pingAll 0% loss; each agent's command line,
  ports and dpid are Mininet's; ovs-ofctl reads Ryu's flows through the listener.
- the same tree standalone (no controller), with the class taken the way `mn --custom`
  takes it (exec of the file): pingAll; a switch stopped without deleting its interfaces
  leaves them out of promiscuous mode and cuts its hosts off; started again, they ping.
- a link made at run time: attach() adds it as a port with Mininet's number, a new host
  pings; detach() removes it (promiscuous mode dropped, pings fail).  A switch whose
  agent exits at once (a bad option) fails start() with the agent's own message.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
MODULE = ROOT / "switch_agent" / "mn_switch.py"
PREFIX = f"mn{os.getpid() % 10000:04d}"
pytestmark = pytest.mark.slow  # each test builds and tears down a network: 8-15 s
# What Mininet's fixLimits() would raise: must be the same after every test.
GLOBAL_SYSCTLS = ("fs/file-max", "net/core/wmem_max", "net/core/rmem_max",
                  "net/core/netdev_max_backlog", "kernel/pty/max")


def _driver() -> None:
    """Runs under /usr/bin/python3 in the sandbox: config JSON on stdin, one line
    `RESULT {json}` on stdout.  Self-contained (its source is all that is sent)."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import traceback
    from functools import partial

    from mininet.log import setLogLevel  # type: ignore[import-not-found]
    from mininet.net import Mininet  # type: ignore[import-not-found]
    from mininet.node import RemoteController  # type: ignore[import-not-found]
    from mininet.topo import Topo  # type: ignore[import-not-found]

    cfg = json.load(sys.stdin)
    prefix, rundir = cfg["prefix"], cfg["rundir"]
    result: dict[str, Any] = {}
    setLogLevel("info")  # Mininet logs to stderr
    Mininet.inited = True  # no fixLimits(): global sysctls stay as they are

    class PrefixTree(Topo):
        """TreeTopo with this run's names and explicit dpids."""

        def build(self, depth: int, fanout: int) -> None:
            self.counts = [0, 0]  # switches, hosts
            self.addTree(depth, fanout)

        def addTree(self, depth: int, fanout: int) -> str:
            if depth == 0:
                self.counts[1] += 1
                return self.addHost(f"{prefix}h{self.counts[1]}")
            self.counts[0] += 1
            n = self.counts[0]
            node = self.addSwitch(f"{prefix}s{n}", dpid=f"{(0x5A << 40) | n:016x}")
            for _ in range(fanout):
                self.addLink(node, self.addTree(depth - 1, fanout))
            return node

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def ours() -> dict[str, list[str]]:
        """Interfaces and processes of this run still present."""
        links = sorted(n for n in os.listdir("/sys/class/net") if n.startswith(prefix))
        procs = []
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if prefix in cmd:
                    procs.append(cmd.strip())
        return {"links": links, "procs": procs}

    def promisc(name: str) -> bool:
        iff_promisc = 0x100
        with open(f"/sys/class/net/{name}/flags") as f:
            return bool(int(f.read(), 16) & iff_promisc)

    def switch_state(sw: Any) -> dict[str, Any]:
        with open(f"/proc/{sw.process.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        shown = sw.show()
        return {
            "argv": [a.decode() for a in argv],
            "dpid": sw.dpid, "listen_port": sw.listenPort, "mgmt": sw.mgmt,
            "mininet_ports": {i.name: sw.ports[i] for i in sw.intfList() if i.name != "lo"},
            "agent_ports": {p["name"]: p["ofport"] for p in shown["ports"]
                            if p["ofport"] < 0xFF00},
            "agent_dpid": shown["datapath_id"],
            "connected": sw.connected(),
            "promisc": {i.name: promisc(i.name) for i in sw.dataIntfs()},
        }

    def ofctl(*args: str) -> str:
        proc = subprocess.run(["ovs-ofctl", *args], capture_output=True, text=True, timeout=30)
        return proc.stdout + proc.stderr

    if cfg["custom"]:  # the way `mn --custom FILE` loads it
        customs: dict[str, Any] = {}
        with open(cfg["module"]) as f:
            exec(compile(f.read(), cfg["module"], "exec"), customs, customs)
        agent_class = customs["switches"]["agent"]
    else:
        from switch_agent.mn_switch import AgentSwitch as agent_class
    switch = partial(agent_class, bindir=cfg["bindir"], rundir=rundir, verbose=1,
                     **cfg["switch"])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # /sys shows the namespace of whoever mounted it: mount ours (private mount namespace).
    subprocess.run(["mount", "-t", "sysfs", "sysfs", "/sys"], check=True)
    ryu = net = ryu_log = None
    pids: list[int] = []
    try:
        controller = None
        if cfg["ryu"]:
            port = free_port()
            ryu_log = open(os.path.join(rundir, "ryu.log"), "wb")
            ryu = subprocess.Popen([cfg["ryu"], "--ofp-tcp-listen-port", str(port),
                                    "--ofp-listen-host", "127.0.0.1", cfg["app"]],
                                   stdout=ryu_log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while True:
                assert ryu.poll() is None, "ryu-manager exited"
                assert time.monotonic() < deadline, "ryu-manager does not listen"
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            controller = partial(RemoteController, ip="127.0.0.1", port=port)
            result["controller_port"] = port
        net = Mininet(topo=PrefixTree(depth=cfg["depth"], fanout=2), switch=switch,
                      controller=controller, build=False,
                      listenPort=free_port() if cfg["listen"] else None)
        net.build()
        net.start()
        pids = [sw.process.pid for sw in net.switches]
        result["wait_connected"] = net.waitConnected(timeout=20)
        result["loss"] = net.pingAll()
        result["switches"] = {sw.name: switch_state(sw) for sw in net.switches}
        for sw in net.switches:
            target = (f"tcp:127.0.0.1:{sw.listenPort}" if sw.listenPort
                      else f"unix:{sw.mgmt}")
            result["switches"][sw.name]["ofctl_flows"] = ofctl(
                "-O", cfg["switch"].get("protocols", "OpenFlow10"), "dump-flows", target)
            result["switches"][sw.name]["dpctl_flows"] = sw.dpctl("dump-flows")
        leaf = net.switches[-1]
        # swctl finds a switch by name once SWITCH_AGENT_RUNDIR names the run directory.
        result["rundir_swctl"] = subprocess.run(
            [os.path.join(cfg["bindir"], "swctl"), "--bridge", leaf.name, "show"],
            capture_output=True, text=True, timeout=30,
            env=dict(os.environ, SWITCH_AGENT_RUNDIR=rundir)).stdout
        hosts = [h for h in net.hosts if h.connectionsTo(leaf)]  # the leaf's own hosts
        if cfg["scenario"] == "restart":
            names = [i.name for i in leaf.dataIntfs()]
            leaf.stop(deleteIntfs=False)
            result["stopped"] = {
                "alive": os.path.exists(f"/proc/{pids[-1]}"),
                "links": {n: os.path.exists(f"/sys/class/net/{n}") for n in names},
                "promisc": {n: promisc(n) for n in names},
                "loss": net.ping(hosts, timeout="1"),
            }
            leaf.start(net.controllers)
            pids.append(leaf.process.pid)
            result["restarted"] = {"loss": net.ping(hosts), "state": switch_state(leaf)}
        if cfg["scenario"] == "attach":
            host = net.addHost(f"{prefix}h9")
            link = net.addLink(host, leaf)
            intf = link.intf2
            leaf.attach(intf)
            host.configDefault()
            result["attached"] = {"intf": intf.name, "port": leaf.ports[intf],
                                  "state": switch_state(leaf),
                                  "loss": net.ping([host, hosts[0]])}
            leaf.detach(intf)
            shown = leaf.show()
            result["detached"] = {"agent_ports": {p["name"]: p["ofport"]
                                                  for p in shown["ports"]},
                                  "promisc": promisc(intf.name),
                                  "loss": net.ping([host, hosts[0]], timeout="1")}
            # A switch whose agent refuses its command line: start() says why.
            bad = net.addSwitch(f"{prefix}s9", protocols="OpenFlow99", dpid="5a00000000000009")
            try:
                bad.start([])
                result["bad_start"] = None
            except RuntimeError as exc:
                result["bad_start"] = {"name": bad.name, "error": str(exc)}
    except Exception:
        result["error"] = traceback.format_exc()
    finally:
        if net is not None:
            try:
                net.stop()
            except Exception:
                result.setdefault("error", traceback.format_exc())
        if ryu is not None:
            ryu.terminate()
            try:
                ryu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ryu.kill()
                ryu.wait(timeout=10)
        if ryu_log is not None:
            ryu_log.close()
        result["after_stop"] = {
            "alive": [pid for pid in pids if os.path.exists(f"/proc/{pid}")],
            "sockets": sorted(n for n in os.listdir(rundir) if n.endswith((".ctl", ".mgmt"))),
            "logs": sorted(n for n in os.listdir(rundir) if n.endswith(".log")),
            **ours(),
        }
        print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------ running the driver


def _read_sysctls() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text().strip() for key in GLOBAL_SYSCTLS}


def _ours_in_root() -> list[str]:
    """Interfaces and processes carrying PREFIX in this (the root) namespace."""
    left = [f"link {n}" for n in os.listdir("/sys/class/net") if n.startswith(PREFIX)]
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmd = Path("/proc", pid, "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if PREFIX.encode() in cmd:
                left.append(f"process {pid}: {cmd.decode(errors='replace')}")
    return left


def _tails(rundir: Path, stderr: str) -> str:
    parts = [f"--- driver stderr ---\n{stderr[-3000:]}"]
    for log in sorted(rundir.glob("*.log")):
        size = 800 if log.name == "ryu.log" else 2000  # Ryu logs every packet-in
        parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-size:]}")
    return "\n".join(parts)


def run_driver(tmp_path: Path, scenario: str, *, depth: int = 2, ryu: str | None = None,
               app: str = "", switch: dict[str, Any] | None = None, custom: bool = False,
               listen: bool = False) -> tuple[dict[str, Any], str]:
    """Run `_driver` in its sandbox; (its result, the logs for failure messages)."""
    if os.geteuid() != 0:
        pytest.fail("Mininet needs root (namespaces, veth); run as root as CI does")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import mininet.net"], capture_output=True,
                           text=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail(f"Mininet is not importable by {SYSTEM_PYTHON}: {probe.stderr.strip()}\n"
                    f"Fix: apt-get install -y --no-install-recommends mininet")
    bindir = os.environ.get("SWITCH_AGENT_BINDIR") or str(Path(sys.executable).parent)
    if not os.access(Path(bindir, "switch-agent"), os.X_OK):
        pytest.fail(f"no switch-agent in {bindir}: make venv (or set SWITCH_AGENT_BINDIR)")
    rundir = tmp_path / "run"
    rundir.mkdir(mode=0o700)
    config = {"scenario": scenario, "prefix": PREFIX, "rundir": str(rundir), "depth": depth,
              "ryu": ryu, "app": app, "switch": switch or {}, "custom": custom,
              "module": str(MODULE), "bindir": bindir, "listen": listen}
    source = ("from __future__ import annotations\nfrom typing import Any\n"
              + textwrap.dedent(inspect.getsource(_driver)) + "\n_driver()\n")
    sysctls = _read_sysctls()
    proc = subprocess.Popen(
        ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
         SYSTEM_PYTHON, "-c", source],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(tmp_path))
    try:
        out, err = proc.communicate(json.dumps(config), timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()  # --kill-child: the sandbox's PID 1 dies with it, and all inside
        out, err = proc.communicate(timeout=30)
        pytest.fail("the Mininet driver timed out\n" + _tails(rundir, err))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    logs = _tails(rundir, err)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"driver exited {proc.returncode} without a result\n{out[-2000:]}\n{logs}"
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    if "error" in result:
        pytest.fail(result["error"] + logs, pytrace=False)
    assert _read_sysctls() == sysctls, "global sysctls changed"
    assert _ours_in_root() == [], logs
    after = result["after_stop"]  # inside the sandbox, before it went away
    assert after["alive"] == [] and after["procs"] == [], after
    assert after["links"] == [] and after["sockets"] == [], after
    started = [*result["switches"], *([result["bad_start"]["name"]]
                                      if result.get("bad_start") else [])]
    assert after["logs"] == sorted([f"{name}.log" for name in started]
                                   + (["ryu.log"] if ryu else [])), after
    return result, logs


def options(argv: list[str]) -> dict[str, list[str]]:
    """`--flag value` pairs of an agent command line (repeatable flags as lists)."""
    found: dict[str, list[str]] = {}
    words = argv[argv.index("run") + 1:]
    for flag, value in zip(words, words[1:]):
        if flag.startswith("--"):
            found.setdefault(flag, []).append(value)
    return found


def switch_names(depth: int) -> list[str]:
    return [f"{PREFIX}s{n}" for n in range(1, 2 ** depth)]


def check_switch(name: str, s: dict[str, Any], logs: str) -> dict[str, list[str]]:
    """What every switch must show: Mininet's dpid and ports are the agent's."""
    n = int(name[len(PREFIX) + 1:])
    assert s["dpid"] == f"{(0x5A << 40) | n:016x}" == s["agent_dpid"], s
    assert s["mininet_ports"] == s["agent_ports"], (s, logs)
    assert sorted(s["mininet_ports"].values()) == list(range(1, len(s["mininet_ports"]) + 1))
    assert all(s["promisc"].values()) and s["promisc"], s["promisc"]
    opts = options(s["argv"])
    assert opts["--bridge"] == [name] and opts["--datapath-id"] == [s["dpid"]], opts
    assert sorted(opts["--port"]) == sorted(f"{i}={p}" for i, p in s["mininet_ports"].items())
    assert s["connected"] is True, logs
    return opts


# ------------------------------------------------------------------ tests


def test_tree_with_ryu_simple_switch_13(tmp_path: Path, ryu_python: str) -> None:
    ryu_manager = str(Path(ryu_python).parent / "ryu-manager")
    r, logs = run_driver(tmp_path, "tree", ryu=ryu_manager, app="ryu.app.simple_switch_13",
                         switch={"protocols": "OpenFlow13"}, listen=True)
    assert r["wait_connected"] is True, logs
    assert r["loss"] == 0, logs
    assert sorted(r["switches"]) == switch_names(2)
    listen_ports = []
    for name, s in r["switches"].items():
        opts = check_switch(name, s, logs)
        assert opts["--controller"] == [f"tcp:127.0.0.1:{r['controller_port']}"], opts
        assert opts["--protocols"] == ["OpenFlow13"] and opts["--fail-mode"] == ["secure"]
        assert opts["--listen"] == [f"ptcp:{s['listen_port']}:127.0.0.1"], opts
        listen_ports.append(s["listen_port"])
        # Ryu's table-miss flow and the flows it learned, read by ovs-ofctl through the
        # listener and by swctl through the control socket.
        flows = s["ofctl_flows"]
        assert "priority=0 actions=CONTROLLER:65535" in flows, flows
        learned = [line for line in flows.splitlines() if "priority=1," in line]
        assert learned, flows
        assert len([line for line in s["dpctl_flows"].splitlines()
                    if "priority=1," in line]) == len(learned), s["dpctl_flows"]
    assert sorted(listen_ports) == list(range(min(listen_ports), min(listen_ports) + 3))


def test_tree_standalone_via_custom_and_restart(tmp_path: Path) -> None:
    r, logs = run_driver(tmp_path, "restart", custom=True, switch={"failMode": "standalone"})
    assert r["wait_connected"] is True and r["loss"] == 0, logs
    assert sorted(r["switches"]) == switch_names(2)
    for name, s in r["switches"].items():
        opts = check_switch(name, s, logs)
        assert "--controller" not in opts and opts["--fail-mode"] == ["standalone"], opts
        assert opts["--listen"] == ["none"] and "--protocols" not in opts, opts
        assert "priority=0 actions=NORMAL" in s["ofctl_flows"], s["ofctl_flows"]
        assert "priority=0 actions=NORMAL" in s["dpctl_flows"], s["dpctl_flows"]
    leaf = switch_names(2)[-1]
    assert f"Bridge {leaf}" in r["rundir_swctl"], r["rundir_swctl"]
    # stop(deleteIntfs=False), as the CLI's `switch NAME stop`: the agent is gone, its
    # interfaces are not, and they are out of promiscuous mode; its hosts are cut off.
    stopped = r["stopped"]
    assert stopped["alive"] is False, stopped
    assert stopped["links"] and all(stopped["links"].values()), stopped
    assert not any(stopped["promisc"].values()), stopped
    assert stopped["loss"] == 100, stopped
    restarted = r["restarted"]
    assert restarted["loss"] == 0, logs
    check_switch(leaf, restarted["state"], logs)


def test_attach_and_detach_at_run_time(tmp_path: Path) -> None:
    r, logs = run_driver(tmp_path, "attach", depth=1, switch={"failMode": "standalone"})
    assert r["loss"] == 0, logs
    (name, s), = r["switches"].items()
    check_switch(name, s, logs)
    attached = r["attached"]
    intf, port = attached["intf"], attached["port"]
    assert (intf, port) == (f"{name}-eth3", 3), attached
    assert attached["state"]["agent_ports"] == {**s["agent_ports"], intf: 3}, attached
    assert attached["state"]["promisc"][intf] is True, attached
    assert attached["loss"] == 0, logs
    detached = r["detached"]
    assert intf not in detached["agent_ports"], detached
    assert detached["promisc"] is False and detached["loss"] == 100, detached
    bad = r["bad_start"]
    assert bad is not None, "an agent that exits at once must fail start()"
    assert "switch-agent exited (2)" in bad["error"] and "OpenFlow99" in bad["error"], bad
