"""swctl's OpenFlow flow tools (switch_agent/ofctl.py) against an in-process switch.

A Switch with four dummy ports and its ConnManager listen on ``punix:DIR/br0.mgmt``
(the bridge's management socket, as the agent has it) on an asyncio loop in a
background thread; the tests run the real entry point ``swctl.main`` and assert on
what it prints, on the switch's state and on the frames its ports send.  Where
Debian's ovs-ofctl reads the same switch, its output is the reference.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from openflow.consts import OFP10, OFP13
from openflow.flowtext import parse_flow
from switch_agent import control, ofclient, swctl
from tests.unit.loop_thread import DummyBridge
from tests.unit.test_connmgr import free_port
from tests.unit.test_ofproto import frame


class Bed(DummyBridge):
    """Bridge "br0" (loop_thread.DummyBridge) with DIR/br0.mgmt; ``call`` runs a function
    on the switch's loop."""

    def __init__(self, versions: tuple[int, ...] = (OFP10, OFP13)) -> None:
        super().__init__("ofc", versions=versions)

    def flows(self) -> int:
        return self.call(lambda: len(self.sw.tables))



@pytest.fixture
def bed():
    made = Bed()
    yield made
    made.close()


def run(capsys, bed: Bed | None, *argv: str) -> tuple[int, str, str]:
    """swctl with the agent's control socket named (its directory holds br0.mgmt)."""
    prefix = ["--socket", str(bed.dir / "br0.ctl")] if bed is not None else []
    status = swctl.main([*prefix, *argv])
    out, err = capsys.readouterr()
    return status, out, err


def ok(capsys, bed: Bed | None, *argv: str) -> str:
    status, out, err = run(capsys, bed, *argv)
    assert (status, err) == (0, ""), (argv, err)
    return out


def one_error(capsys, bed: Bed | None, *argv: str) -> str:
    status, out, err = run(capsys, bed, *argv)
    assert status == 1 and out == "", (argv, out)
    assert err.endswith("\n") and "\n" not in err[:-1], err
    return err


FLOWS = [
    "priority=10,in_port=1,actions=output:2",
    "table=1,priority=20,cookie=0x5,idle_timeout=30,hard_timeout=60,send_flow_rem,"
    "tcp,nw_dst=10.0.0.0/24,tp_dst=80,actions=mod_vlan_vid:7,output:3",
    "priority=30,dl_vlan=5,dl_src=02:00:00:00:00:01,actions=strip_vlan,goto_table:2",
    "table=2,priority=5,ipv6,ipv6_src=2001:db8::/32,actions=clear_actions,"
    "write_actions(output:4)",
    "priority=40,udp,tp_src=53,actions=set_field:10.0.0.9->nw_dst,CONTROLLER:128",
    "priority=11,no_packet_counts,no_byte_counts,in_port=2,actions=output:1",
    "priority=27,in_port=LOCAL,actions=ALL",
]


def _key(fm):
    return (fm.table_id, fm.priority, fm.cookie, fm.idle_timeout, fm.hard_timeout,
            fm.flags, fm.match, fm.instructions)


# ------------------------------------------------------------------ flows


def test_add_and_dump_flows_round_trip(bed, capsys):
    for text in FLOWS:
        assert ok(capsys, bed, "add-flow", text) == ""
    bed.send(1, frame())
    bed.send(1, frame(sport=7))
    lines = ok(capsys, bed, "dump-flows").splitlines()
    assert len(lines) == len(FLOWS)
    assert all(line.startswith(" cookie=0x") for line in lines)
    line = next(line for line in lines if "priority=10,in_port=1" in line)
    assert ", table=0, n_packets=2, n_bytes=120, priority=10,in_port=1 actions=output:2" in line
    dumped = sorted(_key(parse_flow(line, version=OFP13)) for line in lines)  # they read back
    assert dumped == sorted(_key(parse_flow(text, version=OFP13)) for text in FLOWS)
    flows = json.loads(ok(capsys, bed, "--json", "dump-flows"))["flows"]
    assert [f["text"] for f in flows] == lines
    hit = next(f for f in flows if f["priority"] == 10)
    assert hit == {"table": 0, "priority": 10, "cookie": "0x0", "duration": "0s",
                   "n_packets": 2, "n_bytes": 120, "idle_timeout": 0, "hard_timeout": 0,
                   "flags": [], "match": "in_port=1", "actions": "output:2",
                   "text": line}


def test_dump_flows_filters_and_port_names(bed, capsys):
    for text in FLOWS:
        ok(capsys, bed, "add-flow", text)
    out = ok(capsys, bed, "dump-flows", "table=1")
    assert [line.split("priority=")[1].split(",")[0] for line in out.splitlines()] == ["20"]
    out = ok(capsys, bed, "dump-flows", "tcp")  # a protocol, not a bridge
    assert len(out.splitlines()) == 1 and "tp_dst=80" in out
    out = ok(capsys, bed, "dump-flows", "br0", "in_port=p1")  # bridge word, port by name
    assert len(out.splitlines()) == 1 and "priority=10,in_port=1 " in out
    out = ok(capsys, bed, "dump-flows", "out_port=p4")
    assert len(out.splitlines()) == 1 and "ipv6_src=2001:db8::/32" in out
    out = ok(capsys, bed, "dump-flows", "cookie=0x5/0xffffffffffffffff")
    assert "cookie=0x5," in out and len(out.splitlines()) == 1
    assert ok(capsys, bed, "add-flow", "priority=50,in_port=p3,actions=output:p4,enqueue:p2:1") == ""
    out = ok(capsys, bed, "dump-flows", "in_port=3")
    assert "priority=50,in_port=3 actions=output:4,set_queue:1,output:2" in out


def test_mod_and_del_flows_with_json_counts(bed, capsys):
    ok(capsys, bed, "add-flow", "priority=10,in_port=1,actions=output:2")
    ok(capsys, bed, "add-flow", "priority=20,in_port=1,send_flow_rem,actions=output:3")
    ok(capsys, bed, "add-flow", "priority=5,in_port=2,actions=output:1")
    assert ok(capsys, bed, "mod-flows", "--strict", "priority=20,in_port=1,actions=output:4") == ""
    out = ok(capsys, bed, "dump-flows")
    assert "priority=20,in_port=1 actions=output:4" in out
    assert "priority=10,in_port=1 actions=output:2" in out
    ok(capsys, bed, "mod-flows", "in_port=p1,actions=output:p3")  # names too
    assert ok(capsys, bed, "dump-flows", "in_port=1").count("actions=output:3") == 2
    bed.send(1, frame())
    assert len(bed.ports[2].sent) == 1  # the datapath follows the change
    out = ok(capsys, bed, "--json", "del-flows", "--strict", "priority=10,in_port=1")
    assert json.loads(out) == {"flows": 2, "added": 0, "deleted": 1, "flow_removed": 0}
    out = ok(capsys, bed, "--json", "del-flows", "in_port=1")  # the send_flow_rem one
    assert json.loads(out) == {"flows": 1, "added": 0, "deleted": 1, "flow_removed": 1}
    out = ok(capsys, bed, "--json", "add-flow", "in_port=3,actions=drop")
    assert json.loads(out) == {"flows": 2, "added": 1, "deleted": 0, "flow_removed": 0}
    assert ok(capsys, bed, "del-flows") == "" and bed.flows() == 0  # everything


def test_add_flows_file(bed, capsys, tmp_path, monkeypatch):
    path = tmp_path / "flows.txt"
    path.write_text("# a comment line\n"
                    "\n"
                    "priority=10,in_port=p1,actions=output:2   # trailing comment\n"
                    "priority=11,in_port=2,\\\n"
                    "  actions=output:1\n"
                    "add priority=12,in_port=3,actions=drop\n"
                    "delete in_port=3\n")
    assert ok(capsys, bed, "add-flows", str(path)) == ""
    out = ok(capsys, bed, "dump-flows")
    assert "priority=10,in_port=1 actions=output:2" in out
    assert "priority=11,in_port=2 actions=output:1" in out
    assert "in_port=3" not in out
    # what dump-flows prints reads back (stdin, '-')
    monkeypatch.setattr("sys.stdin", io.StringIO(out))
    ok(capsys, bed, "del-flows")
    out_json = ok(capsys, bed, "--json", "add-flows", "br0", "-")
    assert json.loads(out_json) == {"flows": 2, "added": 2, "deleted": 0, "flow_removed": 0,
                                    "sent": 2}
    assert ok(capsys, bed, "dump-flows").replace("duration=0s", "") == \
        out.replace("duration=0s", "")
    # a bad line: nothing is sent
    path.write_text("in_port=1,actions=output:2\nin_port=2,actions=bogus\n")
    err = one_error(capsys, bed, "add-flows", str(path))
    assert err == f"swctl: add-flows: {path}:2: unknown action 'bogus'\n"
    assert bed.flows() == 2


def test_add_flows_many_flows_in_batches_and_multipart_dump(bed, capsys, tmp_path):
    path = tmp_path / "many.txt"
    count = 2 * ofclient.BATCH + 500  # several barriers; a dump of several multipart parts
    path.write_text("".join(f"priority={i % 100},tcp,nw_dst=10.{i >> 8 & 255}.{i & 255}.1,"
                            f"tp_dst={i % 1000},actions=output:{1 + i % 4}\n"
                            for i in range(count)))
    assert ok(capsys, bed, "add-flows", str(path)) == ""
    assert bed.flows() == count
    lines = ok(capsys, bed, "dump-flows").splitlines()
    assert len(lines) == count
    assert len({line.split("n_bytes=0, ")[1] for line in lines}) == count


def test_switch_errors_name_type_and_code(bed, capsys, tmp_path):
    cases = [
        (("add-flow", "in_port=1,actions=group:9"),
         "swctl: add-flow: OFPBAC_BAD_OUT_GROUP (OFPET_BAD_ACTION type 2, code 9)\n"),
        (("add-flow", "in_port=1,actions=meter:3,output:2"),
         "swctl: add-flow: OFPMMFC_UNKNOWN_METER (OFPET_METER_MOD_FAILED type 12, code 3)\n"),
    ]
    for argv, message in cases:
        assert one_error(capsys, bed, *argv) == message
    # several refused lines of one file: one line each, naming the file line
    path = tmp_path / "flows.txt"
    path.write_text("in_port=1,actions=group:9\nin_port=2,actions=output:1\n"
                    "in_port=3,actions=group:8\n")
    status, out, err = run(capsys, bed, "add-flows", str(path))
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"swctl: add-flows: {path}:1: OFPBAC_BAD_OUT_GROUP (OFPET_BAD_ACTION type 2, code 9)",
        f"swctl: add-flows: {path}:3: OFPBAC_BAD_OUT_GROUP (OFPET_BAD_ACTION type 2, code 9)"]
    assert "in_port=2 actions=output:1" in ok(capsys, bed, "dump-flows")


@pytest.mark.parametrize("argv,message", [
    (("add-flow", "nw_src=10.0.0.1,actions=drop"), "prerequisites not met"),
    (("add-flow", "in_port=1"), "must specify an action"),
    (("add-flow",), "swctl: add-flow: missing FLOW"),
    (("add-flow", "br0"), "swctl: add-flow: "),
    (("mod-flows", "bogus=1,actions=drop"), "unknown keyword 'bogus'"),
    (("del-flows", "in_port=1,actions=drop"), "actions are not allowed when deleting"),
    (("dump-flows", "table=300"), "table=300"),
    (("add-flow", "in_port=p9,actions=drop"), "no port 'p9' on bridge br0 (ports: p1, p2, p3, p4)"),
    (("dump-ports", "p9"), "no port 'p9' on bridge br0"),
    (("dump-ports", "br0", "77"), "no port '77' on bridge br0"),
    (("dump-tables", "br0", "extra"), "too many arguments"),
    (("packet-out", "1", "output:2", "0102"), "Packet data too short for Ethernet"),
    (("packet-out", "1", "output:2", "xyz0"), "is not a hex string"),
    (("add-group", "group_id=1,type=bogus"), "invalid group type 'bogus'"),
    (("add-meter", "meter=1,bands=type=drop,rate=1"), "either 'kbps' or 'pktps'"),
])
def test_bad_input_is_one_line_and_changes_nothing(bed, capsys, argv, message):
    before = bed.flows()
    assert message in one_error(capsys, bed, *argv)
    assert bed.flows() == before
    assert run(capsys, bed, "dump-flows")[0] == 0  # and the switch still serves


# ------------------------------------------------------------------ finding the switch


def test_bridge_resolution(bed, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(control.RUN_DIR_ENV, str(bed.dir))
    ok(capsys, None, "add-flow", "priority=9,actions=drop")  # the only .mgmt there
    for argv in (["dump-flows"], ["dump-flows", "br0"], ["--bridge", "br0", "dump-flows"],
                 ["dump-flows", "--of", str(bed.mgmt)], ["--of", f"unix:{bed.mgmt}",
                                                          "dump-flows"]):
        assert "priority=9 actions=drop" in ok(capsys, None, *argv), argv
    assert one_error(capsys, None, "dump-flows", "br7") == (
        f"swctl: dump-flows: no bridge br7: no switch listening on unix:{bed.dir}/br7.mgmt "
        f"(is switch-agent running?)\n")
    assert "two bridges named" in one_error(capsys, None, "--bridge", "br1", "dump-flows", "br2")
    assert "no BRIDGE (br0) goes with it" in one_error(capsys, None, "--of", str(bed.mgmt),
                                                       "dump-flows", "br0")
    (bed.dir / "br2.mgmt").touch()
    assert one_error(capsys, None, "dump-tables") == (
        "swctl: dump-tables: several bridges run here (br0, br2): name one (BRIDGE or "
        "--bridge)\n")
    monkeypatch.setenv(control.RUN_DIR_ENV, str(tmp_path / "none"))
    assert one_error(capsys, None, "dump-flows") == (
        f"swctl: dump-flows: no bridge found: no OpenFlow management socket (*.mgmt) in "
        f"{tmp_path}/none ({tmp_path}/none does not exist); start 'switch-agent run', or "
        f"give --of TARGET\n")


def test_tcp_target_and_protocol_choice(bed, capsys):
    port = free_port()
    bed.call(bed.mgr.listen, f"ptcp:{port}:127.0.0.1")
    ok(capsys, None, "--of", f"tcp:127.0.0.1:{port}", "add-flow", "priority=3,dl_vlan=5,actions=drop")
    out13 = ok(capsys, None, "--of", f"tcp:127.0.0.1:{port}", "dump-flows")
    out10 = ok(capsys, None, "dump-flows", "--of", f"tcp:127.0.0.1:{port}", "-O", "OpenFlow10")
    assert "priority=3,dl_vlan=5 actions=drop" in out13 and "priority=3,dl_vlan=5 actions=drop" in out10
    deadline = time.monotonic() + 5
    while bed.call(lambda: list(bed.mgr.conns)):  # every command closes its connection
        assert time.monotonic() < deadline, "a connection stayed open"
        time.sleep(0.02)
    assert "groups need OpenFlow 1.1 or later" in one_error(
        capsys, bed, "-O", "OpenFlow10", "dump-groups")
    # OF1.0 port counters have no duration line (as ovs-ofctl prints them)
    lines = ok(capsys, bed, "-O", "OpenFlow10", "dump-ports", "1").splitlines()
    assert lines == ["1 ports",
                     "  port  1: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0",
                     "           tx pkts=0, bytes=0, drop=0, errs=0, coll=0"]
    assert "unknown protocol 'OpenFlow12'" in one_error(capsys, bed, "-O", "OpenFlow12",
                                                        "dump-flows")
    assert "no port 'p7' on this switch (ports: p1, p2, p3, p4)" in one_error(
        capsys, None, "--of", f"tcp:127.0.0.1:{port}", "dump-ports", "p7")
    assert "unsupported target 'ssl:1.2.3.4'" in one_error(capsys, None, "--of", "ssl:1.2.3.4",
                                                           "dump-flows")


def test_version_negotiation_failure_and_timeout(capsys, tmp_path):
    only13 = Bed(versions=(OFP13,))
    try:
        err = one_error(capsys, only13, "-O", "OpenFlow10", "dump-flows")
        assert "version negotiation failed: We support version 0x01, you support version " \
               "0x04, no common versions." in err
    finally:
        only13.close()
    silent = socket.socket(socket.AF_UNIX)  # accepts, never says HELLO
    path = Path(tempfile.mkdtemp(prefix="ofc", dir="/tmp")) / "s.mgmt"
    try:
        silent.bind(str(path))
        silent.listen(1)
        err = one_error(capsys, None, "--timeout", "0.3", "--of", str(path), "dump-flows")
        assert err == f"swctl: dump-flows: no reply from unix:{path} within 0.3 s\n"
    finally:
        silent.close()
        shutil.rmtree(path.parent, ignore_errors=True)


# ------------------------------------------------------------------ ports, tables, features


def test_dump_ports(bed, capsys):
    ok(capsys, bed, "add-flow", "in_port=1,actions=output:2")
    bed.send(1, frame())
    lines = ok(capsys, bed, "dump-ports").splitlines()
    assert lines[0] == "4 ports"
    assert lines[1] == "  port  1: rx pkts=1, bytes=60, drop=0, errs=0, frame=0, over=0, crc=0"
    assert lines[2] == "           tx pkts=0, bytes=0, drop=0, errs=0, coll=0"
    assert lines[3].startswith("           duration=")
    assert lines[5] == "           tx pkts=1, bytes=60, drop=0, errs=0, coll=0"
    for argv in (["--bridge", "br0", "dump-ports", "p2"], ["dump-ports", "2"],
                 ["dump-ports", "br0", "p2"]):
        (entry,) = json.loads(ok(capsys, bed, "--json", *argv))["ports"]
        assert (entry["port_no"], entry["port"], entry["name"], entry["tx_packets"]) == \
            (2, "2", "p2", 1)
    assert ok(capsys, bed, "dump-ports", "br0", "p1").splitlines()[0] == "1 ports"


def _without_xids(text: str) -> str:
    return re.sub(r"\(xid=0x[0-9a-f]+\)", "(xid=X)", text)


@pytest.mark.parametrize("version", ["OpenFlow13", "OpenFlow10"])
def test_show_ports_desc_and_tables_match_ovs_ofctl(bed, capsys, ovs_ofctl, version):
    bed.call(bed.sw.port_mod_config, 3, 1 << 0 | 1 << 6, 1 << 0 | 1 << 6)  # down, no packet-in
    bed.ports[1].link_up = False
    ok(capsys, bed, "add-flow", "table=0,priority=1,actions=goto_table:1")
    ok(capsys, bed, "add-flow", "table=3,priority=1,actions=drop")
    bed.send(1, frame())

    def ovs(command: str) -> str:
        proc = subprocess.run([ovs_ofctl, "-O", version, command, f"unix:{bed.mgmt}"],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    for command in ("ofshow", "dump-ports-desc", "dump-tables"):
        ours = ok(capsys, bed, "-O", version, command)
        theirs = ovs("show" if command == "ofshow" else command)
        if version == "OpenFlow10" and command == "dump-tables":  # see ofctl's docstring
            theirs = re.sub(r"    matching:\n      .*\n", "", theirs)
        assert _without_xids(ours) == _without_xids(theirs), command
    out = ok(capsys, bed, "-O", version, "dump-ports-desc")
    assert " 3(p3): addr:" in out and "     config:     PORT_DOWN NO_PACKET_IN\n" in out
    assert "     state:      LINK_DOWN\n" in out
    shown = json.loads(ok(capsys, bed, "--json", "-O", version, "ofshow"))
    assert shown["datapath_id"] == "0000000000000abc" and shown["n_tables"] == 8
    assert [p["name"] for p in shown["ports"]] == ["p1", "p2", "p3", "p4"]
    assert shown["frags"] == "normal" and "xid" not in shown
    tables = json.loads(ok(capsys, bed, "--json", "-O", version, "dump-tables"))["tables"]
    assert [t["active_count"] for t in tables] == [1, 0, 0, 1, 0, 0, 0, 0]


# ------------------------------------------------------------------ groups, meters


def test_groups(bed, capsys):
    assert ok(capsys, bed, "dump-groups") == ""
    ok(capsys, bed, "add-group", "group_id=1,type=all,bucket=output:p1,bucket=mod_vlan_vid:5,output:2")
    ok(capsys, bed, "add-group", "br0", "group_id=2,type=select,bucket=weight:5,actions=output:3")
    ok(capsys, bed, "add-group", "group_id=3,type=ff,bucket=watch_port:p4,output:4")
    ok(capsys, bed, "add-flow", "in_port=1,actions=group:1")
    bed.send(1, frame())
    assert ok(capsys, bed, "dump-groups").splitlines() == [
        " group_id=1,type=all,bucket=actions=output:1,bucket=actions=push_vlan:0x8100,"
        "set_field:4101->vlan_vid,output:2",
        " group_id=2,type=select,bucket=weight:5,actions=output:3",
        " group_id=3,type=ff,bucket=watch_port:4,actions=output:4"]
    for word in ("2", "group_id=2"):
        assert ok(capsys, bed, "dump-groups", word) == \
            " group_id=2,type=select,bucket=weight:5,actions=output:3\n"
    first = json.loads(ok(capsys, bed, "--json", "dump-groups", "1"))["groups"][0]
    assert (first["type"], first["ref_count"], first["packet_count"]) == ("all", 1, 1)
    assert first["buckets"][0] == {"weight": 0, "watch_port": "ANY", "watch_group": 4294967295,
                                   "actions": "output:1"}
    out = ok(capsys, bed, "--json", "mod-group", "group_id=2,type=select,bucket=output:4")
    assert json.loads(out) == {"groups": 3, "added": 0, "deleted": 0}
    assert "bucket=actions=output:4" in ok(capsys, bed, "dump-groups", "2")
    assert ok(capsys, bed, "del-groups", "3") == ""
    assert [g["group_id"] for g in json.loads(ok(capsys, bed, "--json", "dump-groups"))[
        "groups"]] == [1, 2]
    assert "OFPGMFC_GROUP_EXISTS" in one_error(capsys, bed, "add-group",
                                               "group_id=1,type=all,bucket=output:1")
    ok(capsys, bed, "del-flows")
    ok(capsys, bed, "del-groups")
    assert ok(capsys, bed, "dump-groups") == ""


def test_meters(bed, capsys):
    ok(capsys, bed, "add-meter", "meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100")
    ok(capsys, bed, "add-meter", "meter=2,pktps,bands=type=dscp_remark,rate=10,prec_level=1")
    out = ok(capsys, bed, "dump-meters")
    assert out == ("meter=1 kbps burst stats bands=\ntype=drop rate=1000 burst_size=100\n"
                   "meter=2 pktps bands=\ntype=dscp_remark rate=10 prec_level=1\n")
    assert ok(capsys, bed, "dump-meters", "meter=2") == \
        "meter=2 pktps bands=\ntype=dscp_remark rate=10 prec_level=1\n"
    (meter,) = json.loads(ok(capsys, bed, "--json", "dump-meters", "1"))["meters"]
    assert meter["flags"] == ["kbps", "burst", "stats"] and meter["flow_count"] == 0
    assert meter["bands"] == [{"rate": 1000, "burst_size": 100, "type": "drop"}]
    ok(capsys, bed, "mod-meter", "meter=2,pktps,bands=type=drop,rate=20")
    assert "type=drop rate=20" in ok(capsys, bed, "dump-meters", "2")
    assert json.loads(ok(capsys, bed, "--json", "del-meters", "1")) == {
        "meters": 1, "added": 0, "deleted": 1}
    ok(capsys, bed, "del-meters")
    assert ok(capsys, bed, "dump-meters") == ""
    assert "OFPMMFC_UNKNOWN_METER" in one_error(capsys, bed, "mod-meter",
                                                "meter=7,kbps,bands=type=drop,rate=1")


# ------------------------------------------------------------------ packet-out


def test_packet_out_both_forms(bed, capsys):
    data = frame()
    assert ok(capsys, bed, "packet-out", "1", "output:2", data.hex()) == ""
    assert list(bed.ports[1].sent) == [data]
    ok(capsys, bed, "packet-out", "br0", "none", "output:p3,output:p4", data.hex(), data.hex())
    assert list(bed.ports[2].sent) == [data, data] == list(bed.ports[3].sent)
    out = ok(capsys, bed, "--json", "packet-out", f"in_port=p1 packet={data.hex()} "
                                                  f"actions=mod_vlan_vid:9,output:2")
    assert json.loads(out) == {"packets": 1}
    tagged = bed.ports[1].sent[-1]
    assert tagged[12:16] == bytes.fromhex("81000009") and tagged[16:] == data[12:]
    ok(capsys, bed, "packet-out", f"in_port=CONTROLLER,packet={data.hex()}")  # no actions: drop
    assert [len(p.sent) for p in bed.ports] == [0, 2, 2, 2]
    assert "OFPBAC_BAD_OUT_PORT" in one_error(capsys, bed, "packet-out", "1", "output:0",
                                              data.hex())
