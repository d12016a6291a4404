"""Real Ryu 4.34 apps driving the agent, as root (issue 4's proof; also issue 3's pipeline).

Topology per test (netns_lab: removed whatever happens):

    h1 (10.0.0.1) --veth--+
    h2 (10.0.0.2) --veth--+-- [sw: switch-agent run  <-- tcp:127.0.0.1 -->  ryu-manager]
    h3 (10.0.0.3) --veth--+

The agent (`switch-agent run`, this checkout's console script) and ryu-manager (the
.ryu-venv, unmodified Ryu 4.34 apps) both run in the "sw" namespace, so they talk over
that namespace's loopback; the hosts are namespaces with one veth each.  Flows are
read back with Debian's ovs-ofctl through the agent's passive listener.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.conftest import NetnsLab
from tests.integration.test_datapath import iperf3

ROOT = Path(__file__).resolve().parents[2]
AGENT = [sys.executable, "-m", "switch_agent.cli"]
HOSTS = 3
_ports = itertools.count(16653)


class RyuLab:
    def __init__(self, lab: NetnsLab, ryu_python: str, app: str, protocols: str) -> None:
        self.lab = lab
        self.sw = lab.add_ns("sw")
        self.hosts: list[tuple[str, str, str]] = []  # (namespace, host if, switch if)
        for n in range(1, HOSTS + 1):
            ns = lab.add_ns(f"h{n}")
            host_if, sw_if = lab.add_veth(ns, self.sw)
            lab.ip(ns, "link", "set", host_if, "address", f"02:00:00:00:00:{n:02x}")
            lab.ip(ns, "addr", "add", f"10.0.0.{n}/24", "dev", host_if)
            self.hosts.append((ns, host_if, sw_if))
        self.of_port = next(_ports)
        self.listen_port = next(_ports)
        ryu_manager = str(Path(ryu_python).parent / "ryu-manager")
        self.ryu_log = lab_log(lab, "ryu")
        self.ryu = lab.popen(self.sw, [ryu_manager, "--ofp-tcp-listen-port", str(self.of_port),
                                       "--ofp-listen-host", "127.0.0.1", app],
                             stdout=self.ryu_log, stderr=subprocess.STDOUT)
        time.sleep(1.5)  # ryu-manager imports its apps before listening
        assert self.ryu.poll() is None, read(self.ryu_log)
        self.agent_log = lab_log(lab, "agent")
        argv = [*AGENT, "run", "-v", "--control-socket", "none", "--protocols", protocols,
                "--controller", f"tcp:127.0.0.1:{self.of_port}",
                "--listen", f"ptcp:{self.listen_port}:127.0.0.1"]
        for _, _, sw_if in self.hosts:
            argv += ["--port", sw_if]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.agent = lab.popen(self.sw, argv, stdout=self.agent_log, stderr=subprocess.STDOUT,
                               env=env, cwd=str(ROOT))

    def ofctl(self, version: str, *args: str) -> str:
        target = f"tcp:127.0.0.1:{self.listen_port}"
        proc = self.lab.run(self.sw, ["ovs-ofctl", "-O", version, *args[:1], target, *args[1:]],
                            check=False, timeout=30)
        assert proc.returncode == 0, proc.stderr.decode() + self.logs()
        return proc.stdout.decode()

    def ping_all(self) -> list[str]:
        failures = []
        for (ns, _, _), n in itertools.product(self.hosts, range(1, HOSTS + 1)):
            if ns.endswith(f"h{n}"):
                continue
            proc = self.lab.run(ns, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "2",
                                     f"10.0.0.{n}"], check=False, timeout=30)
            if b" 0% packet loss" not in proc.stdout:
                failures.append(f"{ns} -> 10.0.0.{n}: {proc.stdout.decode()[-200:]}")
        return failures

    def logs(self) -> str:
        return f"\n--- agent ---\n{read(self.agent_log)}\n--- ryu ---\n{read(self.ryu_log)}"


def lab_log(lab: NetnsLab, name: str):
    """A log file for one of the lab's processes; anonymous, gone when closed."""
    del lab, name
    return tempfile.TemporaryFile()


def read(log_file) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read().decode(errors="replace")[-4000:]


def wait_connected(rl: RyuLab, version: str, timeout: float = 20.0) -> str:
    """Wait until Ryu's handshake is done: for OF1.3 it installs its table-miss flow,
    for OF1.0 (misses go to the controller anyway) the agent logs the connection and
    a FEATURES_REQUEST has been answered."""
    deadline = time.monotonic() + timeout
    flows = ""
    while time.monotonic() < deadline:
        assert rl.agent.poll() is None, "agent exited" + rl.logs()
        proc = rl.lab.run(rl.sw, ["ovs-ofctl", "-O", version, "dump-flows",
                                  f"tcp:127.0.0.1:{rl.listen_port}"], check=False, timeout=10)
        flows = proc.stdout.decode()
        controller = f"tcp:127.0.0.1:{rl.of_port}: connected" in read(rl.agent_log)
        if controller and (version == "OpenFlow10" or "CONTROLLER" in flows):
            time.sleep(0.5)  # Ryu's handshake replies (features, port desc) are in flight
            return flows
        time.sleep(0.3)
    pytest.fail(f"Ryu never finished its handshake: {flows!r}" + rl.logs())


@pytest.mark.parametrize(("app", "protocols", "version"), [
    ("ryu.app.simple_switch_13", "OpenFlow13", "OpenFlow13"),
    ("ryu.app.simple_switch", "OpenFlow10", "OpenFlow10"),
])
def test_ryu_simple_switch_learns_and_forwards(netns_lab: NetnsLab, ryu_python: str,
                                               app: str, protocols: str, version: str) -> None:
    rl = RyuLab(netns_lab, ryu_python, app, protocols)
    miss = wait_connected(rl, version)
    if version == "OpenFlow13":
        assert "priority=0 actions=CONTROLLER:65535" in miss, miss
    failures = rl.ping_all()
    assert not failures, "\n".join(failures) + rl.logs()
    flows = rl.ofctl(version, "dump-flows")
    # Ryu installed a learned flow per (in_port, dl_dst) pair it saw.
    learned = [line for line in flows.splitlines() if "dl_dst=02:00:00:00:00:0" in line]
    assert len(learned) >= 4, flows
    assert all("n_packets=" in line for line in learned)
    if version == "OpenFlow13":  # TCP over the flows Ryu installed (offloads left on)
        h1, h2 = rl.hosts[0][0], rl.hosts[1][0]
        result = iperf3(netns_lab, h1, h2, "10.0.0.2", "-n", "64M")
        end = result["end"]
        assert end["sum_sent"]["bytes"] >= 64 << 20, end
        assert end["sum_received"]["bytes"] >= end["sum_sent"]["bytes"] * 0.8, end
    assert rl.agent.poll() is None and rl.ryu.poll() is None, rl.logs()
