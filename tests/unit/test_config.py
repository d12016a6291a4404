"""switch_agent.config: the TOML configuration both ways, its checks (one-line errors
naming the place) and the atomic save (a kill -9 at any moment leaves a readable file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switch_agent import config as cfg
from switch_agent.config import AgentConfig, BridgeConfig, ConfigError, PortConfig

FULL = textwrap.dedent('''
    [agent]
    control_socket = "/tmp/x/agent.ctl"
    log_level = "info"
    log_levels = { "switch_agent.connmgr" = "debug" }
    probe_interval = 3
    max_backoff = 4.5
    controller_rate_limit = 100
    controller_burst_limit = 25

    [ssl]
    private_key = "/k.pem"
    certificate = "/c.pem"
    ca_cert = "/ca.pem"

    [[bridge]]
    name = "br0"
    datapath_id = "00000000000000ab"
    protocols = ["OpenFlow13"]
    fail_mode = "secure"
    controllers = ["tcp:127.0.0.1:6653", "unix:/run/c.sock"]
    listeners = ["ptcp:6634:127.0.0.1"]
    ports = [
        { name = "veth1", ofport = 1 },
        { name = "br0", type = "internal", ofport = 4294967294 },
        { name = "to-br1", type = "patch", peer = "to-br0" },
        { name = "vx0", type = "vxlan", remote_ip = "192.0.2.2", key = 42, dst_port = 4790 },
    ]

    [[bridge]]
    name = "br1"
    ports = [{ name = "to-br0", type = "patch", peer = "to-br1" }]
''')


def test_a_full_file_reads_into_the_model_and_back() -> None:
    config = cfg.loads(FULL)
    br0, br1 = config.bridges
    assert br0 == BridgeConfig(
        name="br0", datapath_id=0xAB, protocols=("OpenFlow13",), fail_mode="secure",
        controllers=("tcp:127.0.0.1:6653", "unix:/run/c.sock"),
        listeners=("ptcp:6634:127.0.0.1",),
        ports=(PortConfig("veth1", ofport=1), PortConfig("br0", "internal", 0xFFFFFFFE),
               PortConfig("to-br1", "patch", peer="to-br0"),
               PortConfig("vx0", "vxlan", remote_ip="192.0.2.2", key=42, dst_port=4790)))
    assert br1 == BridgeConfig(name="br1", ports=(PortConfig("to-br0", "patch", peer="to-br1"),))
    assert (config.control_socket, config.log_level, config.log_levels) == (
        "/tmp/x/agent.ctl", "info", (("switch_agent.connmgr", "debug"),))
    assert (config.probe_interval, config.max_backoff, config.controller_rate_limit,
            config.controller_burst_limit) == (3.0, 4.5, 100.0, 25.0)
    assert (config.private_key, config.certificate, config.ca_cert) == ("/k.pem", "/c.pem",
                                                                         "/ca.pem")
    assert cfg.loads(cfg.dumps(config)) == config
    assert cfg.loads("") == AgentConfig()


@pytest.mark.parametrize(("text", "message"), [
    ("[agent\n", "TOML syntax: "),
    ("[agent]\nbogus = 1\n", "[agent]: unknown key(s) bogus"),
    ("colour = 1\n", "top level: unknown key(s) colour"),
    ("[agent]\nprobe_interval = \"5\"\n", "[agent]: probe_interval: expected int or float"),
    ("[agent]\nprobe_interval = true\n", "[agent]: probe_interval: expected int or float"),
    ("[agent]\nlog_level = \"loud\"\n", "agent: unknown log level 'loud'"),
    ("[agent]\nprobe_interval = 0\n", "agent: probe_interval and max_backoff must be positive"),
    ("[ssl]\nprivate_key = \"/k\"\n", "ssl: private_key, certificate and ca_cert go together"),
    ("[[bridge]]\nname = \"br0\"\ncontrollers = [\"ssl:1.2.3.4\"]\n",
     "bridge 'br0': ssl:1.2.3.4 needs [ssl] private_key, certificate and ca_cert"),
    ("[[bridge]]\ndatapath_id = \"1\"\n", "bridge #1: missing name"),
    ("[[bridge]]\nname = \"br0\"\ncolour = 1\n", "bridge 'br0': unknown key(s) colour"),
    ("[[bridge]]\nname = \"br0\"\ndatapath_id = \"xyz\"\n",
     "bridge 'br0': bad datapath id 'xyz' (1 to 16 hex digits)"),
    ("[[bridge]]\nname = \"br0\"\nprotocols = [\"OpenFlow99\"]\n",
     "bridge 'br0': unknown protocol(s) OpenFlow99"),
    ("[[bridge]]\nname = \"br0\"\nprotocols = [1]\n",
     "bridge 'br0': protocols: expected a list of strings"),
    ("[[bridge]]\nname = \"br0\"\nfail_mode = \"open\"\n", "bridge 'br0': unknown fail mode 'open'"),
    ("[[bridge]]\nname = \"br0\"\ncontrollers = [\"ptcp:6653\"]\n",
     "bridge 'br0': bad controller 'ptcp:6653' (expected tcp:, ssl:, unix:)"),
    ("[[bridge]]\nname = \"br0\"\ncontrollers = [\"tcp:localhost:6653\"]\n",
     "bridge 'br0': bad controller 'tcp:localhost:6653': 'localhost' is not an IP address"),
    ("[[bridge]]\nname = \"br0\"\nlisteners = [\"ptcp:70000\"]\n",
     "bridge 'br0': bad listener 'ptcp:70000': '70000' is not a TCP port"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", type = \"tap\" }]\n",
     "bridge 'br0': port 'p1': unknown type 'tap'"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ type = \"dummy\" }]\n",
     "bridge 'br0' port #1: missing name"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", colour = 2 }]\n",
     "bridge 'br0' port 'p1': unknown key(s) colour"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", ofport = 65280 }]\n",
     "bridge 'br0': port 'p1': ofport 65280 out of range 1-65279"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", type = \"patch\" }]\n",
     "bridge 'br0': port 'p1': a patch port needs a peer"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", peer = \"p2\" }]\n",
     "bridge 'br0': port 'p1': only a patch port has a peer"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\", remote_ip = \"1.2.3.4\" }]\n",
     "bridge 'br0': port 'p1': remote_ip, key and dst_port are for vxlan ports"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"v\", type = \"vxlan\", key = 16777216 }]\n",
     "bridge 'br0': port 'v': key 16777216 is not a 24-bit VNI"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"v\", type = \"vxlan\", remote_ip = \"x\" }]\n",
     "bridge 'br0': port 'v': remote_ip 'x' is not an IPv4 address"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\" }, { name = \"p1\" }]\n",
     "bridge 'br0': port 'p1' listed twice"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"a\", ofport = 3 }, { name = \"b\", ofport = 3 }]\n",
     "bridge 'br0': port 'b': ofport 3 used twice"),
    ("[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br0\"\n", "bridge 'br0' defined twice"),
    ("[[bridge]]\nname = \"br0\"\ncontrollers = [\"tcp:1.2.3.4\", \"tcp:1.2.3.4\"]\n",
     "bridge 'br0': controller 'tcp:1.2.3.4' listed twice"),
    ("[[bridge]]\nname = \"br0\"\nlisteners = [\"ptcp:6634\", \"ptcp:6634\"]\n",
     "bridge 'br0': listener 'ptcp:6634' listed twice"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"p1\" }]\n"
     "[[bridge]]\nname = \"br1\"\nports = [{ name = \"p1\" }]\n",
     "bridge 'br1': port 'p1' is already on bridge 'br0'"),
    ("[[bridge]]\nname = \"a/b\"\n", "bridge 'a/b': bad bridge name 'a/b'"),
    ("[[bridge]]\nname = \"br0\"\nports = [{ name = \"a-name-far-too-long\" }]\n",
     "bridge 'br0': bad port name 'a-name-far-too-long'"),
])
def test_errors_are_one_line_and_name_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg.loads(text)
    assert str(exc.value).startswith(message), str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[[bridge]]\nname = "br0"\nfail_mode = "open"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: bridge 'br0': unknown fail mode"):
        cfg.load(path)
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/missing.toml: cannot read"):
        cfg.load(tmp_path / "missing.toml")


def test_targets_split_by_kind() -> None:
    assert cfg.split_targets(["tcp:1.2.3.4", "ptcp:6634", "punix:/x", "unix:/y",
                              "ssl:10.0.0.1:6653", "pssl:6653:127.0.0.1", "ptcp:0"]) == (
        ("tcp:1.2.3.4", "unix:/y", "ssl:10.0.0.1:6653"),
        ("ptcp:6634", "punix:/x", "pssl:6653:127.0.0.1", "ptcp:0"))
    for bad in ("tcp:", "tcp::6653", "udp:1.2.3.4", "unix:", "tcp:1.2.3.4:0", "6653"):
        with pytest.raises(ConfigError):
            cfg.split_targets([bad])


def test_datapath_ids() -> None:
    assert cfg.parse_datapath_id("0x00000000000000ff") == 0xFF
    assert cfg.parse_datapath_id("ffffffffffffffff") == (1 << 64) - 1
    for bad in ("", "0x", "12345678901234567", "g1"):
        with pytest.raises(ConfigError):
            cfg.parse_datapath_id(bad)
    with pytest.raises(ConfigError, match="datapath id 0 out of range"):
        cfg.check_bridge(BridgeConfig("br0", datapath_id=0))


_names = st.from_regex(r"[a-z][a-z0-9_.-]{0,14}", fullmatch=True)
_strings = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(bridges=st.lists(st.tuples(_names, st.integers(1, (1 << 64) - 1),
                                  st.sampled_from([None, "secure", "standalone"]),
                                  st.lists(_names, max_size=4, unique=True)),
                        max_size=3, unique_by=lambda b: b[0]),
       socket=st.one_of(st.none(), _strings.filter(bool)))
def test_dumps_reads_back_for_any_configuration(bridges, socket) -> None:
    seen: set[str] = set()
    built = []
    for name, dpid, mode, ports in bridges:
        ports = [p for p in ports if p not in seen]
        seen.update(ports)
        built.append(BridgeConfig(name=name, datapath_id=dpid, fail_mode=mode,
                                  ports=tuple(PortConfig(p, "dummy") for p in ports)))
    config = cfg.check(AgentConfig(bridges=tuple(built), control_socket=socket))
    assert cfg.loads(cfg.dumps(config)) == config


def test_save_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    first = AgentConfig(bridges=(BridgeConfig("br0"),))
    cfg.save(first, path)
    assert cfg.load(path) == first
    path.chmod(0o600)
    second = AgentConfig(bridges=(BridgeConfig("br1", ports=(PortConfig("p1", "dummy"),)),))
    cfg.save(second, path)
    assert cfg.load(path) == second
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.toml"]  # no temporary left


_WRITER = textwrap.dedent('''
    import sys
    from switch_agent import config as cfg
    path, n = sys.argv[1], 0
    while True:  # until killed: big files so that a kill often lands mid-write
        n += 1
        ports = tuple(cfg.PortConfig(f"p{i}", "dummy") for i in range(n % 400 + 1))
        cfg.save(cfg.AgentConfig(bridges=(cfg.BridgeConfig("br0", datapath_id=n, ports=ports),)),
                 path)
        if n == 1:
            print("ready", flush=True)
''')


def test_kill_9_during_writes_leaves_a_readable_config(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for round_ in range(12):  # bounded: a dozen kills at varying moments
        proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            time.sleep(0.01 + 0.013 * round_)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        config = cfg.load(path)  # whole and valid: the old file or the new one
        (bridge,) = config.bridges
        assert len(bridge.ports) == bridge.datapath_id % 400 + 1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("agent.toml", "writer.py")]
    assert all(name.startswith(".agent.toml.") for name in leftovers)  # only temporaries
    assert sorted(cfg.remove_temporaries(path)) == sorted(leftovers)  # what the agent does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.toml", "writer.py"]
