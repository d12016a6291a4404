"""The control socket (switch_agent/control.py) end to end: a ControlServer on a
Switch with dummy ports runs on an asyncio loop in a background thread, and the
tests drive it through the real ``swctl`` entry point (switch_agent.swctl.main) and
through raw JSON lines.  Every command, its human and JSON output, bad input, the
socket's life cycle, and that ``swctl dump-flows`` lines read back as the flows that
made them (our parser, and ovs-ofctl's)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from openflow.channel import Channel
from openflow.consts import OFPCR_ROLE_MASTER
from openflow.flowtext import parse_flow, parse_group, parse_meter
from openflow.messages import RoleRequest
from switch_agent import control, swctl
from switch_agent.control import BridgeView, ControlServer
from switch_agent.flowtable import OFP13
from tests.unit.loop_thread import DummyBridge
from tests.unit.test_connmgr import Controller, free_port
from tests.unit.test_ofproto import MAC_1, MAC_2, frame


class Agent(DummyBridge):
    """Bridge "br0" (loop_thread.DummyBridge, management socket in DIR/run) with its
    ControlServer at DIR/run/br0.ctl, on a loop in a background thread: ``call`` runs a
    function (or coroutine function) there, as everything touching the switch must."""

    def __init__(self, **server_args) -> None:
        self.server_args = server_args
        super().__init__("swc", "run")

    def start(self) -> None:
        """The control socket first: ControlServer creates the 0700 run directory."""
        self.path = self.sockets / "br0.ctl"
        self.server = ControlServer({"br0": BridgeView("br0", self.sw, self.mgr)}, self.path,
                                    **self.server_args)
        self.call(self.server.start)
        super().start()

    def close(self) -> None:
        self.call(self.server.close)
        super().close()


@pytest.fixture
def agent():
    made = Agent()
    yield made
    made.close()


def swctl_run(capsys, agent: Agent | None, *argv: str) -> tuple[int, str, str]:
    prefix = ["--socket", str(agent.path)] if agent is not None else []
    status = swctl.main([*prefix, *argv])
    out, err = capsys.readouterr()
    return status, out, err


def raw(path: Path, *lines: bytes, timeout: float = 5.0) -> list[dict]:
    """Send raw request lines on one connection; the replies, decoded (blank lines
    get none)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(b"".join(lines))
        data = b""
        while data.count(b"\n") < sum(1 for line in lines if line.strip()):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


# ------------------------------------------------------------------ show, version


def test_show_ports_controllers_and_connections(agent, capsys):
    agent.ports[1].link_up = False
    status, out, err = swctl_run(capsys, agent, "show")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[:5] == ["Bridge br0", "    datapath_id: 0000000000000abc",
                         "    fail_mode: standalone", "    protocols: OpenFlow10,OpenFlow13",
                         "    n_tables: 8"]
    block = out[out.index("    Port p2\n"):].splitlines()[:5]
    assert block == ["    Port p2", "        ofport: 2", "        type: dummy",
                     "        link_state: down", "        admin_state: up"]
    assert "    Port p1\n        ofport: 1\n        type: dummy\n        link_state: up" in out

    # a controller nobody answers, one that answers, and a passive tool connection
    async def controller_server():
        async def serve(reader, writer):
            channel = Channel((OFP13,), role="controller", echo_interval=None)
            writer.write(channel.initiate())
            while data := await reader.read(65536):
                channel.receive_data(data, time.monotonic())
                while channel.next_event() is not None:
                    pass
                writer.write(channel.data_to_send())
            writer.close()

        return await asyncio.start_server(serve, "127.0.0.1", 0)

    server = agent.call(controller_server)
    port = server.sockets[0].getsockname()[1]
    dead = free_port()
    agent.call(agent.mgr.add_controller, f"tcp:127.0.0.1:{dead}")
    agent.call(agent.mgr.add_controller, f"tcp:127.0.0.1:{port}")
    listen = free_port()
    agent.call(agent.mgr.listen, f"ptcp:{listen}:127.0.0.1")

    async def tool():
        ctl = await Controller.connect(listen, OFP13)
        await ctl.request(RoleRequest(OFPCR_ROLE_MASTER, 7))
        return ctl

    tool_conn = agent.call(tool)
    deadline = time.monotonic() + 5
    while not any(c.active and c.version for c in agent.mgr.conns):
        assert time.monotonic() < deadline, "the controller never connected"
        time.sleep(0.02)
    status, out, _ = swctl_run(capsys, agent, "--json", "show")
    shown = json.loads(out)
    assert shown["fail_mode"] == "secure"
    assert shown["controllers"] == [
        {"target": f"tcp:127.0.0.1:{dead}", "connected": False, "version": None, "role": None},
        {"target": f"tcp:127.0.0.1:{port}", "connected": True, "version": "OpenFlow13",
         "role": "equal"}]
    (conn,) = shown["connections"]
    assert conn["target"] == f"ptcp:{listen}:127.0.0.1" and conn["role"] == "master"
    assert conn["version"] == "OpenFlow13" and conn["peer"].startswith("127.0.0.1:")
    assert [(p["ofport"], p["name"], p["type"], p["link_state"]) for p in shown["ports"]] == [
        (1, "p1", "dummy", "up"), (2, "p2", "dummy", "down"), (3, "p3", "dummy", "up"),
        (4, "p4", "dummy", "up")]
    status, out, _ = swctl_run(capsys, agent, "show")
    assert (f'    Controller "tcp:127.0.0.1:{dead}"\n        is_connected: false\n'
            f'    Controller "tcp:127.0.0.1:{port}"\n        is_connected: true\n'
            f"        role: equal\n        version: OpenFlow13\n") in out
    assert f'    Connection "ptcp:{listen}:127.0.0.1" from 127.0.0.1:' in out
    assert "        role: master\n        version: OpenFlow13\n" in out
    agent.call(tool_conn.close)
    server.close()


def test_version(agent, capsys):
    status, out, _ = swctl_run(capsys, agent, "version")
    assert status == 0
    first, second = out.splitlines()
    assert first.startswith("swctl (switch-agent) ")
    assert second == (f"agent (bridges br0): switch-agent {first.split()[-1]}, "
                      f"OpenFlow10,OpenFlow13")
    status, out, _ = swctl_run(capsys, agent, "version", "--json")
    assert json.loads(out)["agent"]["bridges"] == ["br0"]


# ------------------------------------------------------------------ flows


FLOWS = [
    "priority=0,actions=NORMAL",
    "priority=10,in_port=1,actions=output:2",
    "table=1,priority=20,cookie=0x5,idle_timeout=30,hard_timeout=60,send_flow_rem,"
    "tcp,nw_dst=10.0.0.0/24,tp_dst=80,actions=mod_vlan_vid:7,output:3",
    "priority=30,dl_vlan=5,dl_src=02:00:00:00:00:01,actions=strip_vlan,goto_table:2",
    "table=2,priority=5,ipv6,ipv6_src=2001:db8::/32,actions=clear_actions,"
    "write_actions(output:4)",
    "priority=40,udp,tp_src=53,actions=set_field:10.0.0.9->nw_dst,CONTROLLER:128",
    "priority=41,arp,arp_tpa=10.0.0.1,actions=drop",
    "priority=42,in_port=3,actions=write_metadata:0x10/0xff,goto_table:1",
    "priority=11,no_packet_counts,no_byte_counts,in_port=2,actions=output:1",
    "priority=14,vlan_tci=0x1000/0x1000,actions=drop",
    "priority=5,dl_vlan=0xffff,actions=drop",
    "priority=16,dl_vlan=5,dl_vlan_pcp=3,actions=pop_vlan,output:1",
    "priority=18,ipv6,ipv6_dst=fe80::/64,ipv6_label=0x12345,actions=dec_ttl,output:1",
    "priority=19,icmp6,icmp_type=135,nd_target=fe80::1,actions=output:2",
    "priority=20,mpls,mpls_label=100,mpls_tc=1,mpls_bos=1,actions=pop_mpls:0x0800,output:2",
    "priority=21,tun_id=0x99,metadata=0x5/0xff,actions=set_field:0x1->metadata,output:2",
    "priority=25,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=FLOOD",
    "priority=26,ip,nw_src=10.9.9.9,actions=mod_nw_src:10.0.0.2,set_queue:1,output:2",
    "priority=27,in_port=LOCAL,actions=ALL",
    "priority=28,eth_type=0x88cc,actions=push_mpls:0x8847,set_field:10->mpls_label,output:3",
]


def _key(fm):
    return (fm.table_id, fm.priority, fm.cookie, fm.idle_timeout, fm.hard_timeout,
            fm.flags, fm.match, fm.instructions)


def test_add_dump_flows_round_trip(agent, capsys):
    for text in FLOWS:
        status, out, err = swctl_run(capsys, agent, "add-flow", text)
        assert (status, out, err) == (0, "", "")
    agent.send(1, frame())  # hits priority=10,in_port=1
    agent.send(1, frame(sport=7))
    status, out, err = swctl_run(capsys, agent, "dump-flows")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(FLOWS)
    assert all(line.startswith(" cookie=0x") for line in lines)
    line = next(line for line in lines if "priority=10,in_port=1" in line)
    assert ", table=0, n_packets=2, n_bytes=120, priority=10,in_port=1 actions=output:2" in line
    # the lines read back as the flows that made them
    dumped = sorted(_key(parse_flow(line, version=OFP13)) for line in lines)
    assert dumped == sorted(_key(parse_flow(text, version=OFP13)) for text in FLOWS)
    status, out, _ = swctl_run(capsys, agent, "--json", "dump-flows")
    flows = json.loads(out)["flows"]
    assert [f["text"] for f in flows] == lines
    hit = next(f for f in flows if f["priority"] == 10)
    assert hit == {"table": 0, "priority": 10, "cookie": "0x0", "duration": "0s",
                   "n_packets": 2, "n_bytes": 120, "idle_timeout": 0, "hard_timeout": 0,
                   "flags": [], "match": "in_port=1", "actions": "output:2",
                   "text": lines[lines.index(line)]}


def test_dump_flows_accepted_by_ovs_ofctl(agent, capsys, ovs_ofctl, tmp_path):
    for text in FLOWS:
        assert swctl_run(capsys, agent, "add-flow", text)[0] == 0
    agent.send(1, frame())
    _, out, _ = swctl_run(capsys, agent, "dump-flows")
    dumped, original = tmp_path / "dumped.txt", tmp_path / "original.txt"
    dumped.write_text(out)
    original.write_text("\n".join(FLOWS) + "\n")

    def parse(path: Path) -> list[str]:
        proc = subprocess.run([ovs_ofctl, "-O", "OpenFlow13", "parse-flows", str(path)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        # one "OFPT_FLOW_MOD (OF1.3) (xid=0x..): ADD ..." line per flow
        return sorted(line.split("): ", 1)[1] for line in proc.stdout.splitlines()
                      if line.startswith("OFPT_FLOW_MOD"))

    # ovs-ofctl reads our lines as the same FLOW_MODs as the text that made them
    assert parse(dumped) == parse(original) and len(parse(dumped)) == len(FLOWS)


def test_dump_flows_filter(agent, capsys):
    for text in FLOWS:
        swctl_run(capsys, agent, "add-flow", text)
    _, out, _ = swctl_run(capsys, agent, "dump-flows", "table=1")
    assert [line.split("priority=")[1].split(",")[0] for line in out.splitlines()] == ["20"]
    _, out, _ = swctl_run(capsys, agent, "dump-flows", "tcp")  # a protocol, not a bridge
    assert len(out.splitlines()) == 1 and "tp_dst=80" in out
    _, out, _ = swctl_run(capsys, agent, "dump-flows", "br0", "in_port=p1")  # port by name
    assert out.splitlines() == [line for line in out.splitlines() if "in_port=1" in line]
    assert len(out.splitlines()) == 1
    _, out, _ = swctl_run(capsys, agent, "dump-flows", "out_port=4")
    assert "ipv6_src=2001:db8::/32" in out and len(out.splitlines()) == 1
    status, out, _ = swctl_run(capsys, agent, "dump-flows", "cookie=0x5/0xffffffffffffffff")
    assert status == 0 and "cookie=0x5," in out and len(out.splitlines()) == 1


def test_mod_and_del_flows(agent, capsys):
    swctl_run(capsys, agent, "add-flow", "priority=10,in_port=1,actions=output:2")
    swctl_run(capsys, agent, "add-flow", "priority=20,in_port=1,actions=output:3")
    swctl_run(capsys, agent, "add-flow", "priority=5,in_port=2,actions=output:1")
    status, out, _ = swctl_run(capsys, agent, "mod-flows", "--strict",
                               "priority=20,in_port=1,actions=output:4")
    assert (status, out) == (0, "")
    _, out, _ = swctl_run(capsys, agent, "dump-flows")
    assert "priority=20,in_port=1 actions=output:4" in out
    assert "priority=10,in_port=1 actions=output:2" in out
    swctl_run(capsys, agent, "mod-flows", "in_port=p1,actions=output:p3")  # names too
    _, out, _ = swctl_run(capsys, agent, "dump-flows", "in_port=1")
    assert out.count("actions=output:3") == 2
    agent.send(1, frame())
    assert len(agent.ports[2].sent) == 1  # the datapath follows the change
    status, out, _ = swctl_run(capsys, agent, "--json", "del-flows", "--strict",
                               "priority=10,in_port=1")
    assert json.loads(out) == {"flows": 2, "added": 0, "deleted": 1, "flow_removed": 0}
    swctl_run(capsys, agent, "del-flows", "in_port=2")
    _, out, _ = swctl_run(capsys, agent, "dump-flows")
    assert len(out.splitlines()) == 1 and "priority=20" in out
    status, out, _ = swctl_run(capsys, agent, "del-flows")  # everything
    assert status == 0 and len(agent.sw.tables) == 0


@pytest.mark.parametrize("argv,message", [
    (("add-flow", "in_port=1,actions=output:0"), "swctl: add-flow: OFPBAC_BAD_OUT_PORT"),
    (("add-flow", "in_port=1,actions=group:9"), "swctl: add-flow: OFPBAC_BAD_OUT_GROUP"),
    (("add-flow", "in_port=1,actions=meter:3,output:2"), "swctl: add-flow: OFPMMFC_UNKNOWN_METER"),
    (("add-flow", "nw_src=10.0.0.1,actions=drop"), "prerequisites not met"),
    (("add-flow", "in_port=1"), 'must specify an action'),
    (("add-flow", "br0"), "swctl: add-flow: "),
    (("add-flow",), "swctl: add-flow: missing FLOW"),
    (("mod-flows", "bogus=1,actions=drop"), "unknown keyword 'bogus'"),
    (("del-flows", "in_port=1,actions=drop"), "actions are not allowed when deleting"),
    (("dump-flows", "table=300"), "table=300"),
    (("dump-ports", "p9"), "no port 'p9' on bridge br0"),
    (("dump-ports", "br0", "77"), "no port '77' on bridge br0"),
    (("trace", "tcp"), "swctl: trace: "),
    (("trace", "in_port=1,nw_dst=1.2.3.4"), "prerequisites not met"),
    (("show", "br0", "extra"), "too many arguments"),
    (("show", "br7"), "no bridge 'br7' here (bridges: br0)"),
    (("--bridge", "br1", "show", "br2"), "two bridges named"),
])
def test_bad_input_is_one_line_and_nonzero(agent, capsys, argv, message):
    before = len(agent.sw.tables)
    status, out, err = swctl_run(capsys, agent, *argv)
    assert status == 1 and out == ""
    assert err.endswith("\n") and "\n" not in err[:-1], err
    assert message in err
    assert len(agent.sw.tables) == before  # nothing half-applied
    assert swctl_run(capsys, agent, "dump-flows")[0] == 0  # and the agent still serves


# ------------------------------------------------------------------ ports, groups, meters


def test_dump_ports(agent, capsys):
    swctl_run(capsys, agent, "add-flow", "in_port=1,actions=output:2")
    agent.send(1, frame())
    status, out, _ = swctl_run(capsys, agent, "dump-ports")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "4 ports"
    assert lines[1] == "  port  1: rx pkts=1, bytes=60, drop=0, errs=0, frame=0, over=0, crc=0"
    assert lines[2] == "           tx pkts=0, bytes=0, drop=0, errs=0, coll=0"
    assert lines[3].startswith("           duration=")
    assert lines[5] == "           tx pkts=1, bytes=60, drop=0, errs=0, coll=0"
    for argv in (["--bridge", "br0", "dump-ports", "p2"], ["dump-ports", "2"],
                 ["dump-ports", "br0", "p2"]):
        _, out, _ = swctl_run(capsys, agent, "--json", *argv)
        (entry,) = json.loads(out)["ports"]
        assert (entry["port_no"], entry["name"], entry["tx_packets"]) == (2, "p2", 1)
    _, out, _ = swctl_run(capsys, agent, "dump-ports", "br0", "p1")
    assert out.splitlines()[0] == "1 ports" and "port  1: rx pkts=1" in out


def test_dump_groups_and_meters(agent, capsys):
    status, out, _ = swctl_run(capsys, agent, "dump-groups")
    assert (status, out) == (0, "")
    groups = ["group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
              "group_id=2,type=select,bucket=weight:5,actions=output:3"]
    meters = ["meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100"]
    for text in groups:
        agent.call(agent.sw.group_mod, parse_group(text), OFP13)
    for text in meters:
        agent.call(agent.sw.meter_mod, parse_meter(text), OFP13)
    swctl_run(capsys, agent, "add-flow", "in_port=1,actions=group:1")
    agent.send(1, frame())
    _, out, _ = swctl_run(capsys, agent, "dump-groups")
    lines = out.splitlines()
    assert lines == [" " + parse_group_text for parse_group_text in (
        "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
        "group_id=2,type=select,bucket=weight:5,actions=output:3")]
    assert [parse_group(line.strip()) for line in lines] == [parse_group(t) for t in groups]
    _, out, _ = swctl_run(capsys, agent, "--json", "dump-groups")
    first = json.loads(out)["groups"][0]
    assert (first["type"], first["ref_count"], first["packet_count"]) == ("all", 1, 1)
    assert first["buckets"][1]["actions"] == "output:2"
    _, out, _ = swctl_run(capsys, agent, "dump-meters")
    assert out == "meter=1 kbps burst stats bands=\ntype=drop rate=1000 burst_size=100\n"
    _, out, _ = swctl_run(capsys, agent, "--json", "dump-meters")
    (meter,) = json.loads(out)["meters"]
    assert meter["flags"] == ["kbps", "burst", "stats"] and meter["flow_count"] == 0
    assert meter["bands"] == [{"rate": 1000, "burst_size": 100, "type": "drop"}]


# ------------------------------------------------------------------ diagnostics


def test_trace(agent, capsys):
    swctl_run(capsys, agent, "add-flow", "priority=10,in_port=1,tcp,actions=goto_table:1")
    swctl_run(capsys, agent, "add-flow", "table=1,priority=5,tcp,tp_dst=80,actions=output:3")
    status, out, _ = swctl_run(capsys, agent, "trace", "in_port=p1,tcp,tp_dst=80")
    assert status == 0
    assert out.startswith("Flow: tcp,in_port=1,")
    assert 'bridge("br0")' in out
    assert " 0. tcp,in_port=1, priority 10\n    goto_table:1\n" in out
    assert " 1. tcp,tp_dst=80, priority 5\n" in out
    assert out.rstrip().endswith("Datapath actions: 3")
    status, out, _ = swctl_run(capsys, agent, "--json", "trace", "br0", "in_port=1,tcp,tp_dst=80")
    result = json.loads(out)
    assert result["tables"] == [{"table": 0, "rule": "priority=10,tcp,in_port=1"},
                                {"table": 1, "rule": "priority=5,tcp,tp_dst=80"}]
    assert result["datapath_actions"] == "3" and "in_port(1)" in result["megaflow"]
    assert agent.sw.upcalls_handled == 0 and agent.dp.stats().flows == 0  # changed nothing


def test_fdb_show_and_flush(agent, capsys):
    swctl_run(capsys, agent, "add-flow", "priority=0,actions=NORMAL")
    agent.send(1, frame(src=MAC_1, dst=MAC_2))
    agent.send(2, frame(src=MAC_2, dst=MAC_1))
    assert [len(p.sent) for p in agent.ports] == [1, 1, 1, 1]  # a flood, then learned
    agent.clock.now += 7
    status, out, _ = swctl_run(capsys, agent, "fdb-show")
    assert status == 0
    assert out.splitlines() == [" port  VLAN  MAC                Age",
                                "    1     0  02:00:00:00:00:01    7",
                                "    2     0  02:00:00:00:00:02    7"]
    _, out, _ = swctl_run(capsys, agent, "--json", "fdb-show")
    assert json.loads(out)["entries"][0] == {"port": 1, "port_name": "1", "name": "p1",
                                             "vlan": 0, "mac": "02:00:00:00:00:01", "age": 7}
    status, out, _ = swctl_run(capsys, agent, "fdb-flush")
    assert (status, out) == (0, "table successfully flushed\n")
    _, out, _ = swctl_run(capsys, agent, "fdb-show")
    assert out.splitlines() == [" port  VLAN  MAC                Age"]
    for port in agent.ports:
        port.sent.clear()
    agent.send(3, frame(src=bytes.fromhex("020000000003"), dst=MAC_1))
    # the megaflows that forwarded to learned ports were revalidated: this floods
    assert [len(p.sent) for p in agent.ports] == [1, 1, 0, 1]


def test_dp_dump_flows_and_stats(agent, capsys):
    swctl_run(capsys, agent, "add-flow", "priority=10,in_port=1,actions=output:2")
    status, out, _ = swctl_run(capsys, agent, "dp-dump-flows")
    assert (status, out) == (0, "")
    agent.send(1, frame())
    agent.send(1, frame(sport=5))
    agent.send(1, frame(sport=6))
    agent.clock.now += 1.5
    _, out, _ = swctl_run(capsys, agent, "dp-dump-flows")
    (line,) = out.splitlines()
    assert line.startswith("in_port(1)")
    assert line.endswith(", packets:2, bytes:120, used:1.500s, actions:2")
    _, out, _ = swctl_run(capsys, agent, "--json", "dp-dump-flows")
    (flow,) = json.loads(out)["flows"]
    assert (flow["packets"], flow["used"], flow["actions"]) == (2, 1.5, "2")
    _, out, _ = swctl_run(capsys, agent, "dp-stats")
    assert out.splitlines()[:4] == ["br0:", "  lookups: hit:2 missed:1 lost:0", "  flows: 1",
                                    "  masks: total:1"]
    assert "  port 1: p1 (dummy)" in out
    _, out, _ = swctl_run(capsys, agent, "--json", "dp-stats")
    result = json.loads(out)
    assert (result["hit"], result["missed"], result["lost"], result["flows"],
            result["masks"]) == (2, 1, 0, 1, 1)


# ------------------------------------------------------------------ the protocol


def test_raw_json_protocol_and_errors(agent):
    replies = raw(
        agent.path,
        b'{"cmd": "trace", "args": {"flow": "in_port=p1,tcp"}}\n',
        b"\n",  # blank lines are skipped
        b'{"cmd": "dp-stats", "bridge": "br0"}\n',
        b"not json\n",
        b"[1, 2]\n",
        b'{"cmd": "nope"}\n',
        b'{"args": {}}\n',
        b'{"cmd": "trace", "args": {"flow": 5}}\n',
        b'{"cmd": "trace", "args": {"filter": "ip"}}\n',
        b'{"cmd": "fdb-show", "args": []}\n',
        b'{"cmd": "show", "bridge": 7}\n',
        b'{"cmd": "show", "bridge": "br9"}\n',
        b'{"cmd": "show", "extra": 1}\n',
        b'{"cmd": "add-flow", "args": {"flow": "actions=drop"}}\n',  # OpenFlow's job now
        b'{"cmd": "version"}\n',
        b"\xff\xfe\n",
    )
    assert replies[0]["ok"] and replies[0]["result"]["flow"].startswith("tcp,in_port=1,")
    assert replies[1]["ok"] and replies[1]["result"]["name"] == "br0"
    errors = [r["error"] for r in replies[2:] if not r["ok"]]
    assert errors[0].startswith("request is not JSON:")
    known = "show, trace, fdb-show, fdb-flush, dp-dump-flows, dp-stats, version"
    assert errors[1:-1] == [
        'a request is a JSON object: {"cmd": ..., "args": {...}}',
        f"unknown command 'nope' (known: {known})",
        'missing "cmd" (a string)',
        "trace: flow must be a string",
        "trace: unknown argument(s) filter (known: flow)",
        'fdb-show: "args" must be a JSON object',
        '"bridge" must be a string',
        "no bridge 'br9' here (bridges: br0)",
        "unknown request key(s): extra",
        f"unknown command 'add-flow' (known: {known})",
    ]
    assert replies[-2]["ok"] and replies[-2]["result"]["bridges"] == ["br0"]
    assert replies[-1]["error"].startswith("request is not JSON:")
    assert all("\n" not in r.get("error", "") for r in replies)


def test_a_bug_in_a_handler_is_an_error_reply(agent):
    def broken(br, args):
        raise RuntimeError("boom\nsecond line")

    agent.server.commands["show"] = (broken, None)
    (reply,) = raw(agent.path, b'{"cmd": "show"}\n')
    assert reply == {"ok": False, "error": "internal error: RuntimeError: boom second line"}
    (reply,) = raw(agent.path, b'{"cmd": "version"}\n')
    assert reply["ok"]


def test_request_size_is_bounded_and_slow_clients_block_nobody():
    agent = Agent(max_request=4096, write_timeout=0.5)
    try:
        big = b'{"cmd": "show", "args": {"x": "' + b"a" * 10000 + b'"}}\n'
        (reply,) = raw(agent.path, big)
        assert reply == {"ok": False, "error": "request too large (over 4096 bytes)"}
        # a client stuck halfway through a request, another that never reads its replies
        stuck = socket.socket(socket.AF_UNIX)
        stuck.connect(str(agent.path))
        stuck.sendall(b'{"cmd": "sh')
        deaf = socket.socket(socket.AF_UNIX)
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.connect(str(agent.path))
        deaf.sendall(b'{"cmd": "show"}\n' * 2000)
        start = time.monotonic()
        (reply,) = raw(agent.path, b'{"cmd": "version"}\n')
        assert reply["ok"] and time.monotonic() - start < 2.0
        stuck.sendall(b'ow"}\n')
        assert json.loads(stuck.makefile("rb").readline())["ok"]
        stuck.close()
        deaf.close()
    finally:
        agent.close()


# ------------------------------------------------------------------ the socket


def test_socket_permissions_stale_socket_and_close(tmp_path):
    agent = Agent()
    try:
        assert stat.S_IMODE(os.stat(agent.path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(agent.path).st_mode) == 0o600
        # a second agent on the same socket is refused; the first keeps it
        other = ControlServer({"br0": BridgeView("br0", agent.sw, agent.mgr)}, agent.path)
        with pytest.raises(OSError, match="another agent is running"):
            agent.call(other.start)
        (reply,) = raw(agent.path, b'{"cmd": "version"}\n')
        assert reply["ok"]
    finally:
        agent.close()
    assert not agent.path.exists()  # close removed it
    # a socket left by a killed agent is replaced; a file that is not a socket is not
    path = Path(tempfile.mkdtemp(prefix="swc", dir="/tmp")) / "br0.ctl"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(path))
    leftover.close()
    loop = asyncio.new_event_loop()
    try:
        server = ControlServer({"br0": BridgeView("br0", agent.sw, agent.mgr)}, path)
        loop.run_until_complete(server.start())
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        loop.run_until_complete(server.close())
        path.write_text("not a socket")
        with pytest.raises(FileExistsError, match="is not a socket"):
            loop.run_until_complete(ControlServer({"br0": BridgeView("br0", agent.sw, agent.mgr)}, path).start())
    finally:
        loop.close()
        shutil.rmtree(path.parent, ignore_errors=True)


def test_default_path_from_bridge_and_run_dir(monkeypatch, capsys):
    agent = Agent()
    try:
        monkeypatch.setenv(control.RUN_DIR_ENV, str(agent.path.parent))
        assert control.socket_path("br0") == agent.path
        with pytest.raises(ValueError, match="bad bridge name"):
            control.socket_path("../x")
        for argv in (["show"], ["--bridge", "br0", "show"], ["show", "br0"],
                     ["show", "--bridge", "br0"]):
            status, out, err = swctl_run(capsys, None, *argv)
            assert (status, err) == (0, ""), argv
            assert out.startswith("Bridge br0\n")
        status, _, err = swctl_run(capsys, None, "--bridge", "br1", "show")
        assert status == 1
        assert err == (f"swctl: show: no agent running bridge 'br1' in {agent.path.parent} "
                       f"(agents: br0.ctl); start one with 'switch-agent run', or give "
                       f"--socket PATH\n")
        (agent.path.parent / "br2.ctl").touch()
        status, _, err = swctl_run(capsys, None, "dp-stats")
        assert status == 1
        assert err == ("swctl: dp-stats: several agents run here (br0, br2): "
                       "name a bridge with --bridge NAME\n")
    finally:
        agent.close()


def test_no_agent_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(control.RUN_DIR_ENV, str(tmp_path / "none"))
    status, out, err = swctl_run(capsys, None, "fdb-show")
    assert status == 1 and out == ""
    assert err == (f"swctl: fdb-show: no agent running: no control socket in "
                   f"{tmp_path}/none ({tmp_path}/none does not exist); start one with "
                   f"'switch-agent run', or give --socket PATH\n")
    status, out, err = swctl_run(capsys, None, "dump-flows")
    assert status == 1 and out == ""
    assert err == (f"swctl: dump-flows: no bridge found: no OpenFlow management socket "
                   f"(*.mgmt) in {tmp_path}/none ({tmp_path}/none does not exist); start "
                   f"'switch-agent run', or give --of TARGET\n")
    status, out, err = swctl_run(capsys, None, "--socket", str(tmp_path / "x.ctl"), "show")
    assert status == 1 and "no agent listening on" in err
    status, out, _ = swctl_run(capsys, None, "version")  # offline: still works
    assert status == 0 and out.startswith("swctl (switch-agent) ") and len(out.splitlines()) == 1
    status, _, err = swctl_run(capsys, None, "--socket", str(tmp_path / "x.ctl"), "version")
    assert status == 1 and err.startswith("swctl: version: no agent listening")

