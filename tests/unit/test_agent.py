"""switch_agent.agent and admin: an agent with several bridges, built from a
configuration, changed through its control socket (as swctl does) and saved; refused
changes leave nothing behind.  In process, dummy and patch ports (no root needed)."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from datapath.netdev import DummyNetdev
from openflow import messages as m
from openflow.consts import OFP10, OFP13
from switch_agent import config as cfg
from switch_agent import control, swctl
from switch_agent.agent import Agent
from switch_agent.config import AgentConfig, BridgeConfig, PortConfig
from tests.unit.loop_thread import LoopThread
from tests.unit.test_connmgr import Controller
from tests.unit.test_ofproto import MAC_1, MAC_2, frame

TWO_BRIDGES = AgentConfig(bridges=(
    BridgeConfig("br0", datapath_id=1, ports=(
        PortConfig("a1", "dummy", 1), PortConfig("to-br1", "patch", 5, peer="to-br0"))),
    BridgeConfig("br1", datapath_id=2, ports=(
        PortConfig("b1", "dummy", 1), PortConfig("to-br0", "patch", 5, peer="to-br1"))),
))


class Running(LoopThread):
    """An Agent on a loop in a background thread; ``call`` runs a function there."""

    def __init__(self, config: AgentConfig, *, save: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sag", dir="/tmp"))  # short AF_UNIX paths
        self.file = self.dir / "agent.toml"
        if save:
            cfg.save(config, self.file)
        self.socket = self.dir / "run" / "agent.ctl"
        super().__init__()
        self.agent = Agent(config, path=self.file if save else None, control_socket=self.socket)
        self.call(self.agent.start)

    def request(self, cmd: str, args: dict | None = None, bridge: str | None = None):
        return control.request(self.socket, cmd, args, bridge=bridge, timeout=10)

    def dummy(self, bridge: str, name: str) -> DummyNetdev:
        netdev = self.agent.bridges[bridge].netdev(name)
        assert isinstance(netdev, DummyNetdev)
        return netdev

    def send(self, bridge: str, port: str, data: bytes) -> None:
        def inject():
            self.dummy(bridge, port).inject(data)
            for br in self.agent.bridges.values():
                br.datapath.poll()
                br.datapath.poll()

        self.call(inject)

    def close(self) -> None:
        self.call(self.agent.close)
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def swctl_run(capsys, r: Running, *argv: str) -> tuple[int, str, str]:
    """swctl against agent ``r``: (exit status, stdout, stderr)."""
    status = swctl.main(["--socket", str(r.socket), *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def run():
    made: list[Running] = []

    def start(config: AgentConfig = TWO_BRIDGES, **kw) -> Running:
        made.append(Running(config, **kw))
        return made[-1]

    yield start
    for r in made:
        r.close()


def test_bridges_from_the_configuration_forward_through_a_patch_cable(run) -> None:
    r = run()
    assert r.request("list-br") == {"bridges": ["br0", "br1"]}
    assert sorted(p.name for p in r.socket.parent.iterdir()) == ["agent.ctl", "br0.mgmt",
                                                                 "br1.mgmt"]
    shown = r.request("show")["bridges"]
    assert [(b["bridge"], b["datapath_id"], [(p["name"], p["ofport"], p["type"])
                                               for p in b["ports"]]) for b in shown] == [
        ("br0", "0000000000000001", [("a1", 1, "dummy"), ("to-br1", 5, "patch")]),
        ("br1", "0000000000000002", [("b1", 1, "dummy"), ("to-br0", 5, "patch")])]
    # Standalone without a controller, each bridge is a learning switch (NORMAL):
    # a broadcast from a1 crosses the patch cable and leaves br1 on b1.
    broadcast = frame(MAC_1, b"\xff" * 6)
    r.send("br0", "a1", broadcast)
    assert list(r.dummy("br1", "b1").sent) == [broadcast]
    unicast = frame(MAC_2, MAC_1)  # back: br1 and br0 learnt where MAC_1 is
    r.send("br1", "b1", unicast)
    assert list(r.dummy("br0", "a1").sent) == [unicast]
    fdb = r.request("fdb-show", bridge="br1")["entries"]
    assert {(e["name"], e["mac"]) for e in fdb} == {("to-br0", "02:00:00:00:00:01"),
                                                    ("b1", "02:00:00:00:00:02")}


def test_changes_are_applied_at_once_and_saved(run) -> None:
    r = run()
    assert r.request("add-br", {"name": "br2", "datapath_id": "0x2a",
                                "protocols": ["OpenFlow13"], "fail_mode": "secure"}) == {
        "saved": True}
    assert r.request("add-port", {"port": "c1", "type": "dummy", "ofport": 9},
                     bridge="br2") == {"ofport": 9, "saved": True}
    assert r.request("add-port", {"port": "c2", "type": "dummy"}, bridge="br2") == {
        "ofport": 1, "saved": True}
    assert r.request("list-ports", bridge="br2") == {"ports": ["c1", "c2"]}
    assert r.request("del-port", {"port": "a1"}) == {"saved": True}  # found on br0
    assert r.request("set-fail-mode", {"mode": "standalone"}, bridge="br2")["saved"]
    assert r.request("set-protocols", {"protocols": ["OpenFlow13", "OpenFlow10"]},
                     bridge="br2")["saved"]
    assert r.request("set-datapath-id", {"datapath_id": "abc"}, bridge="br1")["saved"]
    assert r.request("del-br", {"name": "br0"}) == {"saved": True}
    assert (r.socket.parent / "br2.mgmt").exists() and not (r.socket.parent / "br0.mgmt").exists()
    saved = cfg.load(r.file)
    assert saved == r.agent.config
    assert saved.bridges == (
        BridgeConfig("br1", datapath_id=0xABC, ports=(
            PortConfig("b1", "dummy", 1), PortConfig("to-br0", "patch", 5, peer="to-br1"))),
        BridgeConfig("br2", datapath_id=0x2A, protocols=("OpenFlow10", "OpenFlow13"),
                     fail_mode="standalone", ports=(PortConfig("c1", "dummy", 9),
                                                    PortConfig("c2", "dummy"))))
    # may_exist / if_exists make repeats harmless, as ovs-vsctl's --may-exist/--if-exists
    assert r.request("add-br", {"name": "br2", "may_exist": True}) == {"saved": False}
    assert r.request("del-br", {"name": "br0", "if_exists": True}) == {"saved": False}
    assert r.request("add-port", {"port": "c1", "type": "dummy", "may_exist": True},
                     bridge="br2") == {"ofport": 9, "saved": False}
    assert r.request("del-port", {"port": "zz", "if_exists": True}) == {"saved": False}


@pytest.mark.parametrize(("cmd", "args", "bridge", "message"), [
    ("add-br", {"name": "br0"}, None, "bridge 'br0' exists"),
    ("add-br", {"name": "a/b"}, None, "bridge 'a/b': bad bridge name"),
    ("add-br", {"name": "br5", "datapath_id": "xyz"}, None, "add-br: bad datapath id 'xyz'"),
    ("add-br", {"name": "br5", "protocols": ["OpenFlow12"]}, None, "add-br: unknown protocol"),
    ("add-br", {"name": "br5", "controllers": ["tcp:host"]}, None,
     "add-br: bad controller 'tcp:host': 'host' is not an IP address"),
    ("add-br", {"name": "br5", "colour": 1}, None, "add-br: unknown argument(s) colour"),
    ("add-br", {}, None, "add-br: missing name"),
    ("del-br", {"name": "br9"}, None, "no bridge named 'br9' (bridges: br0, br1)"),
    ("add-port", {"port": "b1", "type": "dummy"}, "br0", "port 'b1' is already on bridge 'br1'"),
    ("add-port", {"port": "x1", "type": "tap"}, "br0", "bridge 'br0': port 'x1': unknown type"),
    ("add-port", {"port": "x1", "type": "dummy", "ofport": 1}, "br0",
     "bridge 'br0': port 'x1': ofport 1 used twice"),
    ("add-port", {"port": "x1", "type": "dummy", "ofport": "1"}, "br0",
     "add-port: ofport must be an integer"),
    ("add-port", {"port": "sagnoiface0"}, "br0",
     "bridge 'br0' port 'sagnoiface0': no such network interface"),
    ("add-port", {"port": "x1", "type": "dummy"}, "br9", "no bridge 'br9' here"),
    ("add-port", {"port": "x1", "type": "dummy"}, None, "several bridges here (br0, br1)"),
    ("del-port", {"port": "b1"}, "br0", "no port 'b1' on bridge 'br0'"),
    ("del-port", {"port": "zz"}, None, "no port 'zz' on any bridge"),
    ("set-controller", {"targets": ["tcp:1.2.3.4:99999"]}, "br0",
     "set-controller: bad controller 'tcp:1.2.3.4:99999': '99999' is not a TCP port"),
    ("set-controller", {"targets": "tcp:1.2.3.4"}, "br0", "set-controller: targets must be a list"),
    ("set-fail-mode", {"mode": "open"}, "br0", "set-fail-mode: unknown mode 'open'"),
    ("set-controller", {"targets": ["tcp:1.2.3.4", "tcp:1.2.3.4"]}, "br0",
     "bridge 'br0': controller 'tcp:1.2.3.4' listed twice"),
    ("set-controller", {"targets": ["pssl:0:127.0.0.1"]}, "br0",
     "bridge 'br0': pssl:0:127.0.0.1 needs [ssl] private_key, certificate and ca_cert"),
    ("set-protocols", {"protocols": []}, "br0", "set-protocols: unknown protocol(s) (none given)"),
    ("set-datapath-id", {"datapath_id": "0"}, "br0", "bridge 'br0': datapath id 0 out of range"),
    ("log-level", {"level": "loud"}, None, "log-level: unknown level 'loud'"),
    ("log-level", {"module": "nosuch.module", "level": "debug"}, None,
     "log-level: no module 'nosuch.module'"),
    ("upcall-show", {}, "br9", "no bridge 'br9' here"),
])
def test_refused_changes_leave_no_trace(run, cmd, args, bridge, message) -> None:
    r = run()
    before = r.file.read_bytes()
    config = r.agent.config
    ports = {name: sorted(b.switch.ports) for name, b in r.agent.bridges.items()}
    with pytest.raises(control.ControlError) as exc:
        r.request(cmd, args, bridge=bridge)
    assert str(exc.value).startswith(message), str(exc.value)
    assert r.file.read_bytes() == before
    assert r.agent.config == config
    assert {name: sorted(b.switch.ports) for name, b in r.agent.bridges.items()} == ports


def test_set_datapath_id_rejects_zero_before_touching_the_bridge(run) -> None:
    r = run()
    with pytest.raises(control.ControlError):
        r.request("set-datapath-id", {"datapath_id": "0"}, bridge="br0")
    assert r.agent.bridges["br0"].mgr.datapath_id == 1


def test_controllers_connect_reconnect_and_go(run) -> None:
    r = run(AgentConfig(bridges=(BridgeConfig("br0", ports=(PortConfig("a1", "dummy"),)),)))
    server_port: list[int] = []
    accepted: asyncio.Queue = asyncio.Queue()

    async def serve():
        server = await asyncio.start_server(
            lambda reader, writer: accepted.put_nowait((reader, writer)), "127.0.0.1", 0)
        server_port.append(server.sockets[0].getsockname()[1])
        return server

    server = r.call(serve)
    target = f"tcp:127.0.0.1:{server_port[0]}"

    async def handshake(version: int = OFP13):
        reader, writer = await asyncio.wait_for(accepted.get(), 10)
        ctl = Controller(reader, writer, version)
        writer.write(ctl.channel.initiate())
        await ctl._event()
        return ctl

    assert r.request("set-controller", {"targets": [target, "ptcp:0:127.0.0.1"]},
                     bridge="br0") == {"saved": True}
    assert r.request("get-controller", bridge="br0") == {
        "controllers": [target], "listeners": ["ptcp:0:127.0.0.1"]}
    ctl = r.call(handshake)
    features = r.call(ctl.request, m.FeaturesRequest())
    assert features.datapath_id == 1
    shown = r.request("show", bridge="br0")
    assert shown["controllers"] == [{"target": target, "connected": True,
                                     "version": "OpenFlow13", "role": "equal"}]
    assert shown["fail_mode"] == "secure"  # a controller is configured now
    # A new datapath id: the connection starts over and the controller sees the new id.
    r.request("set-datapath-id", {"datapath_id": "beef"}, bridge="br0")
    ctl = r.call(handshake)
    assert r.call(ctl.request, m.FeaturesRequest()).datapath_id == 0xBEEF
    # Only OpenFlow 1.0 from now: the OF1.3 connection is closed, the next one is OF1.0.
    r.request("set-protocols", {"protocols": ["OpenFlow10"]}, bridge="br0")
    ctl10 = r.call(handshake, OFP10)
    assert ctl10.channel.version == OFP10
    assert r.request("del-controller", bridge="br0") == {"saved": True}
    assert r.request("get-controller", bridge="br0") == {"controllers": [], "listeners": []}
    # The bridge's management socket is not a configured listener: it stays.
    assert swctl.main(["--socket", str(r.socket), "dump-flows", "br0"]) == 0
    assert r.request("show", bridge="br0")["controllers"] == []
    assert r.agent.bridges["br0"].mgr.conns == [] or all(
        not c.active for c in r.agent.bridges["br0"].mgr.conns)
    r.call(server.close)


def test_a_missing_interface_is_pending_until_it_appears(run, monkeypatch) -> None:
    config = AgentConfig(bridges=(BridgeConfig("br0", ports=(PortConfig("sagmissing0"),)),))
    r = run(config)
    shown = r.request("show")
    assert shown["ports"] == []
    assert shown["pending_ports"] == [{"name": "sagmissing0", "error": "no such network interface"}]
    assert cfg.load(r.file) == config  # kept in the configuration
    status = swctl.main(["--socket", str(r.socket), "show"])
    assert status == 0


def test_log_levels_and_upcall_show(run, capsys) -> None:
    r = run()
    levels = r.request("log-level", {"module": "switch_agent.connmgr", "level": "debug"})["levels"]
    assert levels["switch_agent.connmgr"] == "debug"
    logging.getLogger("switch_agent.connmgr").setLevel(logging.NOTSET)  # as it was
    r.send("br0", "a1", frame(MAC_1, b"\xff" * 6))
    shown = r.request("upcall-show")["bridges"]
    assert [(b["bridge"], b["upcalls_handled"] > 0, b["flows"] > 0) for b in shown] == [
        ("br0", True, True), ("br1", True, True)]
    assert swctl.main(["--socket", str(r.socket), "upcall-show", "br0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("br0:\n  flows         : (current ")


def test_swctl_management_commands(run, capsys) -> None:
    r = run()

    def sw(*argv: str) -> tuple[int, str, str]:
        return swctl_run(capsys, r, *argv)

    assert sw("list-br") == (0, "br0\nbr1\n", "")
    assert sw("add-br", "br7", "--datapath-id", "7", "--controller", "ptcp:0:127.0.0.1") == (
        0, "", "")
    assert sw("add-port", "br7", "p7", "--type", "dummy", "--ofport", "3") == (0, "", "")
    assert sw("list-ports", "br7") == (0, "p7\n", "")
    assert sw("get-controller", "br7") == (0, "ptcp:0:127.0.0.1\n", "")
    assert sw("set-fail-mode", "br7", "secure") == (0, "", "")
    assert sw("set-protocols", "br7", "OpenFlow13") == (0, "", "")
    assert sw("del-port", "br7", "p7") == (0, "", "")
    status, out, err = sw("--json", "add-port", "br7", "p8", "--type", "dummy")
    assert (status, err) == (0, "") and '"ofport": 1' in out
    assert sw("del-port", "p9") == (1, "", "swctl: del-port: no port 'p9' on any bridge\n")
    assert sw("add-br", "br7") == (1, "", "swctl: add-br: bridge 'br7' exists\n")
    assert sw("del-br", "br7") == (0, "", "")
    assert sw("list-br") == (0, "br0\nbr1\n", "")
    status, out, _ = sw("show")
    assert status == 0 and out.startswith("Bridge br0\n") and "\nBridge br1\n" in out
    assert cfg.load(r.file) == r.agent.config


def test_without_a_file_changes_are_not_saved(run) -> None:
    r = run(save=False)
    assert r.request("add-br", {"name": "br3"}) == {"saved": False}
    assert not r.file.exists()
    assert r.agent.config.bridge("br3") == BridgeConfig("br3", datapath_id=3)


def test_a_listener_that_cannot_listen_changes_nothing(run) -> None:
    r = run()
    r.request("set-controller", {"targets": ["ptcp:0:127.0.0.1"]}, bridge="br0")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = r.file.read_bytes()
        with pytest.raises(control.ControlError, match=r"^bridge 'br0': .*address already in use"):
            r.request("set-controller", {"targets": [f"ptcp:{port}:127.0.0.1"]}, bridge="br0")
    assert r.file.read_bytes() == before
    assert r.request("get-controller", bridge="br0") == {"controllers": [],
                                                         "listeners": ["ptcp:0:127.0.0.1"]}
    assert r.agent.bridges["br0"].mgr.listeners[-1] == "ptcp:0:127.0.0.1"  # listening again


def test_a_pending_port_is_opened_when_its_interface_appears(run, monkeypatch) -> None:
    """The retry in run_periodic: a `system` port whose interface is missing at start is
    opened (same OpenFlow number as configured) once opening it works."""
    from switch_agent import agent as agent_mod

    real_open = agent_mod.open_netdev
    appeared = False

    def open_netdev(port: PortConfig):
        if port.name == "sagappear0":
            if not appeared:
                raise OSError(errno.ENODEV, "No such device")
            return DummyNetdev(port.name)  # stands for the interface that appeared
        return real_open(port)

    monkeypatch.setattr(agent_mod, "open_netdev", open_netdev)
    r = run(AgentConfig(bridges=(BridgeConfig("br0", ports=(
        PortConfig("a1", "dummy", 1), PortConfig("sagappear0", ofport=7))),)))
    bridge = r.agent.bridges["br0"]
    assert bridge.pending == {"sagappear0": "no such network interface"}
    r.call(bridge.run_periodic, 1e9)  # still missing: stays pending
    assert "sagappear0" in bridge.pending and bridge.ofport("sagappear0") is None
    appeared = True
    r.call(bridge.run_periodic, 2e9)
    assert bridge.pending == {} and bridge.ofport("sagappear0") == 7
    shown = r.request("show")
    assert [p["name"] for p in shown["ports"]] == ["a1", "sagappear0"]
    assert shown["pending_ports"] == []


def test_describe_gives_one_line_reasons() -> None:
    from switch_agent.agent import describe

    assert describe(OSError(errno.ENODEV, "No such device")) == "no such network interface"
    assert describe(OSError(errno.EPERM, "Operation not permitted")) == "Operation not permitted"
    assert describe(OSError(errno.ENOENT, "No such file", "/dev/net/tun")) == (
        "No such file: /dev/net/tun")
    assert describe(ValueError("bad\nthing")) == "bad thing"


def test_swctl_management_flags_and_texts(run, capsys) -> None:
    r = run()

    def sw(*argv: str) -> tuple[int, str, str]:
        return swctl_run(capsys, r, *argv)

    assert sw("add-br", "br5", "--protocols", "OpenFlow13", "--fail-mode", "standalone") == (
        0, "", "")
    assert sw("add-br", "br5", "--may-exist") == (0, "", "")
    assert r.agent.config.bridge("br5") == BridgeConfig("br5", datapath_id=3,
                                                        protocols=("OpenFlow13",),
                                                        fail_mode="standalone")
    assert sw("add-port", "br5", "v5", "--type", "dummy", "--may-exist") == (0, "", "")
    assert sw("add-port", "br5", "v5", "--type", "dummy", "--may-exist") == (0, "", "")
    assert sw("del-port", "v5", "--if-exists") == (0, "", "")
    assert sw("del-port", "v5", "--if-exists") == (0, "", "")
    assert sw("del-port", "br5", "v5", "x") == (1, "", "swctl: del-port: [BRIDGE] PORT\n")
    assert sw("set-datapath-id", "br5", "0x55") == (0, "", "")
    assert sw("del-fail-mode", "br5") == (0, "", "")
    assert r.agent.config.bridge("br5").datapath_id == 0x55
    assert r.agent.config.bridge("br5").fail_mode is None
    assert sw("del-br", "br5") == (0, "", "")
    assert sw("del-br", "br5", "--if-exists") == (0, "", "")
    status, out, _ = sw("log-level", "switch_agent.ofproto", "info")
    assert status == 0 and "switch_agent.ofproto" in out and out.split("\n")[0].startswith(
        "(root)")
    assert sw("log-level", "a", "b", "c") == (1, "", "swctl: log-level: [[MODULE] LEVEL]\n")
    status, out, _ = sw("log-level")
    assert status == 0 and "switch_agent.ofproto             info\n" in out
    logging.getLogger("switch_agent.ofproto").setLevel(logging.NOTSET)  # as it was
    status, out, _ = sw("--json", "list-br")
    assert (status, json.loads(out)) == (0, {"bridges": ["br0", "br1"]})
