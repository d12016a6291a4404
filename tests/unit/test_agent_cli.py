"""`switch-agent run` as a process: dummy ports, the passive listener, OpenFlow over TCP.

No root needed: the ports are in-memory dummies.  A controller-side
``openflow.channel.Channel`` over a real TCP socket (and Debian's ovs-ofctl) talk to
the agent the way controllers and tools do.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openflow import messages as m
from openflow.channel import Channel, MessageReceived, Negotiated
from openflow.consts import OFPP_ANY, OFPTT_ALL
from openflow.flowtext import parse_flow
from openflow.match import Match
from switch_agent.cli import _port_spec, agent_main
from switch_agent.config import PortConfig

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        agent_main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == "switch-agent 0.1.0"


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent_main([]) == 2
    assert "usage: switch-agent" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--bogus"], ["run", "--port", "bogus:x"],
                                  ["run", "--protocols", "OpenFlow99"],
                                  ["run", "--datapath-id", "xyz"]])
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        agent_main(argv)
    assert exc.value.code == 2


def test_port_specs() -> None:
    assert _port_spec("veth1") == PortConfig("veth1", "system", None)
    assert _port_spec("veth2=5") == PortConfig("veth2", "system", 5)
    assert _port_spec("dummy:p1") == PortConfig("p1", "dummy", None)
    assert _port_spec("internal:br0=0xfffffffe") == PortConfig("br0", "internal", 0xFFFFFFFE)
    with pytest.raises(ValueError, match="out of range"):
        _port_spec("dummy:p1=0xfffffffe")  # LOCAL is for an internal port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Agent:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "switch_agent.cli", "run", "--control-socket", "none", "--listen",
             f"ptcp:{self.port}:127.0.0.1", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def connect(self, version: int = 4) -> tuple[socket.socket, Channel]:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)
        channel = Channel((version,), role="controller", echo_interval=None)
        sock.sendall(channel.initiate())
        assert isinstance(receive(sock, channel), Negotiated)
        return sock, channel

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err.decode()


def receive(sock: socket.socket, channel: Channel):
    while True:
        event = channel.next_event()
        if event is not None:
            return event
        data = sock.recv(65536)
        channel.receive_data(data, time.monotonic())
        sock.sendall(channel.data_to_send())


def request(sock: socket.socket, channel: Channel, msg: m.Message) -> m.Message:
    msg = type(msg)(**{**{f: getattr(msg, f) for f in msg.__dataclass_fields__}, "xid": channel.next_xid()})
    sock.sendall(channel.send(msg))
    while True:
        event = receive(sock, channel)
        if isinstance(event, MessageReceived) and event.xid == msg.xid:
            return event.msg


@pytest.fixture
def agent():
    made = Agent("--port", "dummy:p1", "--port", "dummy:p2=7")
    yield made
    made.stop()


@pytest.mark.parametrize("version", [1, 4])
def test_agent_answers_a_controller_over_tcp(agent: Agent, version: int) -> None:
    sock, channel = agent.connect(version)
    with sock:
        features = request(sock, channel, m.FeaturesRequest())
        assert isinstance(features, m.FeaturesReply) and features.datapath_id == 1
        ports = request(sock, channel, m.PortDescStatsRequest()) if version == 4 else features
        names = sorted(p.name for p in ports.ports if hasattr(ports, "ports")) if version == 1 \
            else sorted(p.name for p in ports.entries)
        assert names == ["p1", "p2"]
        flow = parse_flow("priority=5,in_port=1,actions=output:7", version=version)
        sock.sendall(channel.send(flow))
        barrier = request(sock, channel, m.BarrierRequest())
        assert isinstance(barrier, m.BarrierReply)
        reply = request(sock, channel, m.FlowStatsRequest(Match(), OFPTT_ALL, OFPP_ANY))
        # with no controller configured the bridge starts with OVS's NORMAL flow
        assert sorted((e.priority, e.match) for e in reply.entries) == [
            (0, Match()), (5, Match.build(in_port=1))]
        bad = parse_flow("priority=5,in_port=1,actions=output:7", version=version)
        sock.sendall(channel.send(type(bad)(**{**{f: getattr(bad, f) for f in bad.__dataclass_fields__},
                                              "command": 9, "xid": 77})))
        error = receive(sock, channel)
        assert isinstance(error, MessageReceived) and isinstance(error.msg, m.Error)
        assert error.xid == 77
    status, err = agent.stop()
    assert status == 0, err


def test_ovs_ofctl_talks_to_the_agent(agent: Agent, ovs_ofctl: str) -> None:
    target = f"tcp:127.0.0.1:{agent.port}"
    deadline = time.monotonic() + 10
    while True:
        show = subprocess.run([ovs_ofctl, "-O", "OpenFlow13", "show", target],
                              capture_output=True, text=True, timeout=20)
        if show.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert show.returncode == 0, show.stderr
    assert "dpid:0000000000000001" in show.stdout and "(p1)" in show.stdout
    for version in ("OpenFlow10", "OpenFlow13"):
        done = subprocess.run([ovs_ofctl, "-O", version, "add-flow", target,
                               "priority=9,in_port=1,actions=output:7"],
                              capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stderr
    flows = subprocess.run([ovs_ofctl, "-O", "OpenFlow13", "dump-flows", target],
                           capture_output=True, text=True, timeout=20).stdout
    assert "priority=9,in_port=1 actions=output:7" in flows.replace(" ", " "), flows
    assert subprocess.run([ovs_ofctl, "-O", "OpenFlow13", "del-flows", target],
                          capture_output=True, timeout=20).returncode == 0
    flows = subprocess.run([ovs_ofctl, "-O", "OpenFlow13", "dump-flows", target],
                           capture_output=True, text=True, timeout=20).stdout
    assert "priority=9" not in flows
    status, err = agent.stop()
    assert status == 0, err


def test_swctl_reaches_the_running_agent_through_its_control_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "br0.ctl"
    agent = Agent("--port", "dummy:p1", "--port", "dummy:p2", "--control-socket", str(socket_path))
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            assert agent.proc.poll() is None
            time.sleep(0.05)
        swctl = [sys.executable, "-m", "switch_agent.swctl", "--socket", str(socket_path)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        show = subprocess.run([*swctl, "show"], capture_output=True, text=True, env=env, timeout=20)
        assert show.returncode == 0, show.stderr
        assert "p1" in show.stdout and "p2" in show.stdout
        add = subprocess.run([*swctl, "add-flow", "priority=7,in_port=1,actions=output:2"],
                             capture_output=True, text=True, env=env, timeout=20)
        assert add.returncode == 0, add.stderr
        flows = subprocess.run([*swctl, "dump-flows"], capture_output=True, text=True, env=env,
                               timeout=20)
        assert "priority=7,in_port=1 actions=output:2" in flows.stdout, flows.stdout
        assert "priority=0 actions=NORMAL" in flows.stdout
    finally:
        status, err = agent.stop()
    assert status == 0, err
    assert not socket_path.exists()  # removed at exit
