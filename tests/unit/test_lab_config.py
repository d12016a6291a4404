"""switch_agent.lab's configuration (no root: nothing is built): one bridge for the
single topology, a chain of bridges joined by patch ports for the linear one."""

from __future__ import annotations

from switch_agent.config import BridgeConfig, PortConfig
from switch_agent.lab import Topology, _nth_listener, lab_config


def test_single_topology_is_one_bridge_with_every_host() -> None:
    topo = Topology(3)
    config = lab_config(topo, False, ["tcp:127.0.0.1:6653"], "ptcp:6634:127.0.0.1")
    assert config.bridges == (BridgeConfig(
        "lab", datapath_id=1, controllers=("tcp:127.0.0.1:6653",),
        listeners=("ptcp:6634:127.0.0.1",),
        ports=tuple(PortConfig(sw_if, ofport=n) for n, sw_if in enumerate(topo.switch_ifs, 1))),)


def test_linear_topology_is_a_chain_of_bridges() -> None:
    topo = Topology(3)
    a, b, c = topo.switch_ifs
    config = lab_config(topo, True, [], "ptcp:6634:127.0.0.1")
    assert config.bridges == (
        BridgeConfig("lab1", datapath_id=1, listeners=("ptcp:6634:127.0.0.1",), ports=(
            PortConfig(a, ofport=1), PortConfig("lab1-2", "patch", 3, peer="lab2-1"))),
        BridgeConfig("lab2", datapath_id=2, listeners=("ptcp:6635:127.0.0.1",), ports=(
            PortConfig(b, ofport=1), PortConfig("lab2-1", "patch", 2, peer="lab1-2"),
            PortConfig("lab2-3", "patch", 3, peer="lab3-2"))),
        BridgeConfig("lab3", datapath_id=3, listeners=("ptcp:6636:127.0.0.1",), ports=(
            PortConfig(c, ofport=1), PortConfig("lab3-2", "patch", 2, peer="lab2-3"))),
    )
    assert lab_config(Topology(1), True, [], None).bridges == (
        BridgeConfig("lab1", datapath_id=1, ports=(PortConfig(topo.switch_ifs[0], ofport=1),)),)


def test_nth_listener() -> None:
    assert _nth_listener("ptcp:6634:127.0.0.1", 0) == "ptcp:6634:127.0.0.1"
    assert _nth_listener("ptcp:6634:127.0.0.1", 2) == "ptcp:6636:127.0.0.1"
    assert _nth_listener("pssl:", 1) == "pssl:6654"
    assert _nth_listener("punix:/run/lab.sock", 0) == "punix:/run/lab.sock"
    assert _nth_listener("punix:/run/lab.sock", 1) == "punix:/run/lab.sock.1"
