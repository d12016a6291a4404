"""The agent as an operator meets it (root): `switch-agent run --config FILE` in a
namespace of its own, changed with the real `swctl` command, stopped and started again
with the changes kept; two bridges joined by a patch cable carry a ping between two
host namespaces; a clean stop removes what the agent created; a bad file is refused
with one line naming the place."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from switch_agent import config as cfg
from tests.integration.conftest import NetnsLab

ROOT = Path(__file__).resolve().parents[2]
AGENT = [sys.executable, "-m", "switch_agent.cli"]
SWCTL = [sys.executable, "-m", "switch_agent.swctl"]


class AgentProc:
    """One `switch-agent run --config` process in namespace ``ns`` of ``lab``."""

    def __init__(self, lab: NetnsLab, ns: str, tmp: Path) -> None:
        self.lab, self.ns, self.tmp = lab, ns, tmp
        self.file = tmp / "agent.toml"
        self.rundir = tmp / "run"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), SWITCH_AGENT_RUNDIR=str(self.rundir))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "agent.log"

    def start(self, *extra: str) -> None:
        with open(self.log, "ab") as log:
            self.proc = self.lab.popen(self.ns, [*AGENT, "run", "-v", "--config", str(self.file),
                                                 *extra], stdout=log, stderr=log, env=self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}: {self.log.read_text()}")
            done = self.swctl("list-br", check=False)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"agent did not answer: {self.log.read_text()}")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=20)
        self.proc = None
        return status

    def swctl(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.lab.command(self.ns, [*SWCTL, *argv]), capture_output=True,
                              text=True, env=self.env, timeout=30)
        if check:
            assert done.returncode == 0, f"swctl {' '.join(argv)}: {done.stderr}"
        return done


def _ping(lab: NetnsLab, ns: str, ip: str) -> bool:
    for _ in range(10):  # the first packets teach NORMAL the MACs
        if lab.run(ns, ["ping", "-c", "1", "-W", "1", ip], check=False).returncode == 0:
            return True
    return False


def test_config_file_swctl_changes_and_restart(netns_lab: NetnsLab, tmp_path: Path) -> None:
    lab = netns_lab
    sw = lab.add_ns("sw")
    h1, h2 = lab.add_ns("h1"), lab.add_ns("h2")
    s1, e1 = lab.add_veth(sw, h1)
    s2, e2 = lab.add_veth(sw, h2)
    for ns, ifname, ip in ((h1, e1, "10.9.0.1/24"), (h2, e2, "10.9.0.2/24")):
        lab.ip(ns, "addr", "add", ip, "dev", ifname)
    agent = AgentProc(lab, sw, tmp_path)
    # A first bridge from the file, with one host port.
    cfg.save(cfg.AgentConfig(bridges=(cfg.BridgeConfig(
        "br0", datapath_id=0x10, ports=(cfg.PortConfig(s1, ofport=1),)),)), agent.file)
    agent.start()
    try:
        # The operator adds a second bridge, a patch cable between them, the second host,
        # a LOCAL-style internal port, a passive listener and a fail mode.
        agent.swctl("add-br", "br1", "--datapath-id", "0x20")
        agent.swctl("add-port", "br0", "patch01", "--type", "patch", "--peer", "patch10",
                    "--ofport", "7")
        agent.swctl("add-port", "br1", "patch10", "--type", "patch", "--peer", "patch01")
        agent.swctl("add-port", "br1", s2, "--ofport", "2")
        tap = lab.new_ifname("t")
        agent.swctl("add-port", "br1", tap, "--type", "internal")
        agent.swctl("set-controller", "br1", "ptcp:0:127.0.0.1")
        agent.swctl("set-fail-mode", "br0", "standalone")
        missing = agent.swctl("add-port", "br1", "sanosuchif0", check=False)
        assert (missing.returncode, missing.stdout) == (1, "")
        assert missing.stderr == ("swctl: add-port: bridge 'br1' port 'sanosuchif0': "
                                  "no such network interface\n")
        assert _ping(lab, h1, "10.9.0.2"), agent.log.read_text()
        assert lab.run(sw, ["ip", "link", "show", tap], check=False).returncode == 0
        shown = json.loads(agent.swctl("--json", "show").stdout)["bridges"]
        assert [b["bridge"] for b in shown] == ["br0", "br1"]
    finally:
        status = agent.stop()
    assert status == 0
    # The clean stop removed the tap and the sockets; the file says what was changed.
    assert lab.run(sw, ["ip", "link", "show", tap], check=False).returncode != 0
    assert sorted(p.name for p in agent.rundir.iterdir()) == []
    saved = cfg.load(agent.file)
    assert [b.name for b in saved.bridges] == ["br0", "br1"]
    br0, br1 = saved.bridges
    assert (br0.datapath_id, br0.fail_mode, [p.name for p in br0.ports]) == (
        0x10, "standalone", [s1, "patch01"])
    assert (br1.datapath_id, br1.listeners, [(p.name, p.type) for p in br1.ports]) == (
        0x20, ("ptcp:0:127.0.0.1",),
        [("patch10", "patch"), (s2, "system"), (tap, "internal")])
    # Started again, the agent runs what the file says: the ping goes through again.
    agent.start()
    try:
        ports = {b["bridge"]: {p["name"]: p["ofport"] for p in b["ports"]}
                 for b in json.loads(agent.swctl("--json", "show").stdout)["bridges"]}
        assert ports == {"br0": {s1: 1, "patch01": 7},
                         "br1": {"patch10": 1, s2: 2, tap: 3}}
        assert _ping(lab, h1, "10.9.0.2"), agent.log.read_text()
        agent.swctl("del-br", "br1")
    finally:
        assert agent.stop() == 0
    assert [b.name for b in cfg.load(agent.file).bridges] == ["br0"]


def test_a_bad_config_file_is_one_line_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[bridge]]\nname = "br0"\nports = [{ name = "p1", type = "tap" }]\n')
    done = subprocess.run([*AGENT, "run", "--config", str(path)], capture_output=True,
                          text=True, timeout=30, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"switch-agent: {path}: bridge 'br0': port 'p1': unknown type 'tap' "
                           f"(known: system, internal, dummy, patch, vxlan)\n")
    done = subprocess.run([*AGENT, "run", "--config", str(path), "--port", "dummy:p1"],
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1
    assert done.stderr == ("switch-agent: --port: not with --config (the file says the "
                           "bridges; change them with swctl)\n")
