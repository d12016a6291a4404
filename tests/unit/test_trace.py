"""trace: the structured walk, its text, and its megaflow against a real upcall's.

Every trace is checked against what the switch really does with the same packet:
the frame is injected on a dummy port and the megaflow ofproto installs
(``dp.flow_dump()``) must have the trace's mask, key and datapath actions.
"""

from __future__ import annotations

import pytest

from datapath import flow as dflow
from datapath import odp_actions as odp
from openflow import actions as ofa
from openflow.consts import (
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_SELECT,
    OFPPC_PORT_DOWN,
    OFPR_ACTION,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
)
from openflow.messages import Bucket
from switch_agent import trace as tr
from switch_agent.xlate import GroupEntry, PacketInRequest, decode_userdata
from tests.unit.test_ofproto import MAC_1, MAC_2, Lab, frame

PACKET = ("in_port=1,udp,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,"
          "nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=2000,nw_ttl=64")


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def packet(port: int = 1, sport: int = 1000, ttl: int = 64) -> str:
    return PACKET.replace("in_port=1", f"in_port={port}").replace(
        "tp_src=1000", f"tp_src={sport}").replace("nw_ttl=64", f"nw_ttl={ttl}")


def upcall(lab: Lab, port: int, data: bytes):
    """The megaflow the switch installs for ``data`` arriving on ``port``."""
    before = {f.ufid for f in lab.dp.flow_dump()}
    lab.send(port, data)
    (new,) = [f for f in lab.dp.flow_dump() if f.ufid not in before]
    return new


def assert_same_as_upcall(lab: Lab, result: tr.TraceResult, port: int, data: bytes) -> None:
    installed = upcall(lab, port, data)
    assert result.megaflow_mask == installed.mask
    assert result.megaflow_key == installed.key
    assert result.actions == tuple(installed.actions)
    assert result.megaflow == dflow.format_key(installed.key, installed.mask)


def packet_in(action: odp.Action) -> PacketInRequest:
    assert isinstance(action, odp.Userspace)
    request = decode_userdata(action.userdata)
    assert request is not None
    return request


def kinds(result: tr.TraceResult) -> list[tuple[str, int, str]]:
    return [(s.kind, s.depth, s.text) for s in result.steps]


def test_packet_key_from_flow_text():
    key = tr.packet_key(PACKET)
    assert key == dflow.extract(frame(), 1)  # the frame the text describes, field for field
    tagged = tr.packet_key("in_port=LOCAL,dl_vlan=5,dl_vlan_pcp=3,arp,arp_op=2")
    assert dflow.key_get(tagged, "in_port") == 0  # LOCAL is datapath port 0
    assert dflow.key_get(tagged, "vlan_tci") == 0x1000 | 3 << 13 | 5
    assert dflow.key_get(tagged, "vlan_tpid") == 0x8100
    assert (dflow.key_get(tagged, "eth_type"), dflow.key_get(tagged, "ip_proto")) == (0x0806, 2)
    assert dflow.key_get(tr.packet_key("in_port=1,ip"), "ip_ttl") == 0  # OVS's default
    for bad in ("tcp,tp_dst=80", "in_port=1,arp,nw_ttl=3", "in_port=1,tp_dst=80",
                "in_port=1,nw_frag=first"):
        with pytest.raises(ValueError):
            tr.packet_key(bad)


def test_multi_table_goto_write_and_apply_actions(lab):
    lab.flow("table=0,priority=10,in_port=1,actions=write_actions(output:3),"
             "write_metadata:0x5/0xff,goto_table:2", cookie=0x77)
    lab.flow("table=2,priority=1,ip,metadata=0x5/0xff,"
             "actions=set_field:02:00:00:00:00:09->eth_dst,output:2,"
             "write_actions(set_field:10.9.9.9->ip_dst)")
    result = tr.trace(lab.sw, PACKET)
    (t0, r0), (t2, r2) = result.tables
    assert r0 is not None and r2 is not None
    assert (t0, r0.priority, r0.cookie, t2, r2.priority) == (0, 10, 0x77, 2, 1)
    assert kinds(result) == [
        (tr.TABLE, 0, "in_port=1, priority 10, cookie 0x77"),
        (tr.INSTRUCTION, 1, "write_actions(output:3)"),
        (tr.INSTRUCTION, 1, "write_metadata:0x5/0xff"),
        (tr.INSTRUCTION, 1, "goto_table:2"),
        (tr.TABLE, 0, "ip,metadata=0x5/0xff, priority 1"),
        (tr.INSTRUCTION, 1, "apply_actions(set_field:02:00:00:00:00:09->eth_dst,output:2)"),
        (tr.ACTION, 2, "set_field:02:00:00:00:00:09->eth_dst"),
        (tr.ACTION, 2, "output:2"),
        (tr.INSTRUCTION, 1, "write_actions(set_field:10.9.9.9->ip_dst)"),
        (tr.ACTION_SET, 0, "set_field:10.9.9.9->ip_dst,output:3"),  # the spec's order
        (tr.ACTION, 1, "set_field:10.9.9.9->ip_dst"),
        (tr.ACTION, 1, "output:3"),
    ]
    steps = result.steps
    assert steps[1].notes == ("action set: output:3",)
    assert steps[2].notes == ("metadata=0x5",)
    assert steps[4].key is not None and steps[4].key >> dflow.KEY_BITS == 5  # table 2 was looked up with the metadata
    assert steps[7].odp == (odp.SetField("eth_dst", 0x020000000009), odp.Output(2))
    assert steps[11].odp == (odp.SetField("ipv4_dst", 0x0A090909), odp.Output(3))
    assert dflow.key_get(result.final_key, "ipv4_dst") == 0x0A090909
    assert result.final_key >> dflow.KEY_BITS == 5
    assert result.megaflow == "in_port(1),eth_type(0x0800)"  # table 2 matched on ip only
    assert_same_as_upcall(lab, result, 1, frame())


def test_trace_changes_nothing(lab):
    lab.flow("priority=0,actions=NORMAL")
    stats = [(t.lookup_count, t.matched_count) for t in lab.sw.tables.tables]
    result = tr.trace(lab.sw, PACKET)
    assert [(t.lookup_count, t.matched_count) for t in lab.sw.tables.tables] == stats
    assert len(lab.sw.mac_table) == 0 and lab.dp.flow_dump() == []
    (normal,) = [s for s in result.steps if s.kind == tr.ACTION]
    assert normal.notes[0].startswith("NORMAL: destination not learned: flood")
    assert normal.odp == (odp.Output(2), odp.Output(3), odp.Output(4))
    assert_same_as_upcall(lab, result, 1, frame())
    # the upcall learned MAC_1 on port 1: a packet to it goes there only
    back = tr.trace(lab.sw, packet(port=2).replace("dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02",
                                                   "dl_src=02:00:00:00:00:02,dl_dst=02:00:00:00:00:01"))
    (normal,) = [s for s in back.steps if s.kind == tr.ACTION]
    assert normal.notes == ("NORMAL: destination learned on port 1",) and back.actions == (odp.Output(1),)
    assert_same_as_upcall(lab, back, 2, frame(src=MAC_2, dst=MAC_1))


def test_groups_all_select_and_fast_failover(lab):
    lab.sw.groups[1] = GroupEntry(1, OFPGT_ALL, (
        Bucket((ofa.SetField("ipv4_dst", 0x0A000063), ofa.Output(2))), Bucket((ofa.Output(3),))))
    lab.sw.groups[2] = GroupEntry(2, OFPGT_SELECT, (
        Bucket((ofa.Output(2),), weight=1), Bucket((ofa.Output(3),), weight=1)))
    lab.sw.groups[3] = GroupEntry(3, OFPGT_FF, (
        Bucket((ofa.Output(2),), watch_port=2), Bucket((ofa.Output(4),), watch_port=4)))
    lab.flow("priority=1,in_port=1,actions=group:1")
    result = tr.trace(lab.sw, PACKET)
    assert kinds(result)[1:] == [
        (tr.INSTRUCTION, 1, "apply_actions(group:1)"),
        (tr.ACTION, 2, "group:1"),
        (tr.BUCKET, 3, "bucket 0: set_field:10.0.0.99->ip_dst,output:2"),
        (tr.ACTION, 4, "set_field:10.0.0.99->ip_dst"),
        (tr.ACTION, 4, "output:2"),
        (tr.BUCKET, 3, "bucket 1: output:3"),
        (tr.ACTION, 4, "output:3"),
    ]
    assert result.steps[2].group_id == 1 and result.steps[2].notes == ("all group with 2 bucket(s)",)
    assert result.steps[5].odp == (odp.SetField("ipv4_dst", 0x0A000063), odp.Output(2))
    assert result.steps[7].odp == (odp.Output(3),)  # bucket 0 ran on a clone
    assert result.actions == (odp.Clone((odp.SetField("ipv4_dst", 0x0A000063), odp.Output(2))),
                              odp.Output(3))
    assert_same_as_upcall(lab, result, 1, frame())

    lab.flow("priority=1,in_port=1,actions=group:2")
    lab.outs()
    for sport in (1, 2, 3, 4, 5, 6):
        result = tr.trace(lab.sw, packet(sport=sport))
        (bucket,) = [s for s in result.steps if s.kind == tr.BUCKET]
        assert bucket.group_id == 2 and bucket.bucket is not None
        assert result.actions == (odp.Output(2 + bucket.bucket),)
        assert_same_as_upcall(lab, result, 1, frame(sport=sport))  # the same bucket, really
        assert lab.outs()[2 + bucket.bucket] == 1

    lab.flow("priority=1,in_port=1,actions=group:3")
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    result = tr.trace(lab.sw, PACKET)
    group = result.steps[2]
    assert group.notes == ("fast_failover group with 2 bucket(s)", "not live: bucket 0")
    assert [(s.kind, s.bucket) for s in result.steps if s.kind == tr.BUCKET] == [(tr.BUCKET, 1)]
    assert result.actions == (odp.Output(4),)
    assert_same_as_upcall(lab, result, 1, frame())


def test_miss_of13_drop_and_of10_packet_in(lab):
    lab.flow("priority=5,table=0,in_port=2,actions=goto_table:1")
    result = tr.trace(lab.sw, PACKET)
    (miss,) = result.steps
    assert (miss.kind, miss.table_id, miss.rule, miss.notes) == (tr.MISS, 0, None,
                                                                 ("table miss: dropped",))
    assert result.tables == [(0, None)] and result.actions == ()
    assert result.megaflow == "in_port(1)"
    assert_same_as_upcall(lab, result, 1, frame())
    lab.sw.miss_to_controller = True
    lab.sw.revalidate()
    result = tr.trace(lab.sw, packet(port=2))
    assert [(t, r is not None) for t, r in result.tables] == [(0, True), (1, False)]
    miss = result.steps[-1]
    assert miss.notes == ("table miss: packet-in to the controllers",)
    (userspace,) = miss.odp
    request = packet_in(userspace)
    assert (request.reason, request.table_id, request.miss) == (OFPR_NO_MATCH, 1, True)
    assert_same_as_upcall(lab, result, 2, frame())


def test_controller_outputs_and_ttl(lab):
    lab.flow("priority=0,actions=CONTROLLER:65535", cookie=0x99)  # the table-miss flow
    lab.flow("priority=5,in_port=2,actions=CONTROLLER:128,dec_ttl,output:3")
    lab.sw.invalid_ttl_to_controller = True
    result = tr.trace(lab.sw, PACKET)
    assert result.steps[0].notes == ("the table-miss flow",)
    (_, _, action) = result.steps
    assert action.notes == ("packet-in: reason=no_match, table 0, cookie 0x99",)
    result = tr.trace(lab.sw, packet(port=2))
    controller, dec_ttl, output = [s for s in result.steps if s.kind == tr.ACTION]
    (userspace,) = controller.odp
    assert isinstance(userspace, odp.Userspace) and userspace.max_len == 128
    assert packet_in(userspace).reason == OFPR_ACTION
    assert controller.notes == ("packet-in: reason=action, table 0, cookie 0x0, first 128 bytes",)
    assert dec_ttl.odp == () and output.odp == (odp.SetField("ip_ttl", 63), odp.Output(3))
    assert_same_as_upcall(lab, result, 2, frame())
    expired = tr.trace(lab.sw, packet(port=2, ttl=1))
    controller, dec_ttl = [s for s in expired.steps if s.kind == tr.ACTION]  # output never ran
    assert dec_ttl.notes[0].startswith("packet-in: reason=invalid_ttl")
    assert dec_ttl.notes[1] == "TTL expired: the packet is dropped"
    assert packet_in(dec_ttl.odp[0]).reason == OFPR_INVALID_TTL
    assert_same_as_upcall(lab, expired, 2, frame(ttl=1))


def test_set_field_vlan_and_unsent_outputs(lab):
    # the flow text refuses a tcp_dst set-field without tcp in the match; a controller may not
    apply = (ofa.PushVlan(0x8100), ofa.SetField("vlan_vid", 4106), ofa.SetField("tcp_dst", 99),
               ofa.Output(4), ofa.Output(1), ofa.Output(7), ofa.Output(2))
    lab.flow("priority=1,in_port=1,actions=drop", instructions=(ofa.ApplyActions(apply),))
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    result = tr.trace(lab.sw, PACKET)
    actions = {s.text: s for s in result.steps if s.kind == tr.ACTION}
    assert actions["set_field:99->tcp_dst"].notes == ("ignored: the packet has no tcp_dst",)
    assert actions["output:4"].odp == (odp.PushVlan(0x8100, 0x1000 | 10), odp.Output(4))
    assert actions["output:1"].notes == ("dropped: port 1 is the input port "
                                         "(only IN_PORT sends back)",)
    assert actions["output:7"].notes == ("dropped: no port 7",)
    assert actions["output:2"].notes == ("dropped: port 2 is down",)
    assert dflow.key_get(result.final_key, "vlan_tci") == 0x1000 | 10
    assert_same_as_upcall(lab, result, 1, frame())


def test_format_trace(lab):
    lab.flow("table=0,priority=10,in_port=1,actions=write_actions(output:3),goto_table:1",
             cookie=0x77)
    lab.flow("table=1,priority=1,udp,actions=set_field:10.9.9.9->ip_dst,output:2")
    text = tr.format_trace(tr.trace(lab.sw, PACKET))
    assert text == """\
Flow: udp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,\
nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,nw_ecn=0,tp_src=1000,tp_dst=2000,nw_ttl=64

bridge("t")
-----------
 0. in_port=1, priority 10, cookie 0x77
    write_actions(output:3)
     -> action set: output:3
    goto_table:1
 1. udp, priority 1
    apply_actions(set_field:10.9.9.9->ip_dst,output:2)
        set_field:10.9.9.9->ip_dst
        output:2
         -> datapath: set(ipv4_dst=10.9.9.9),2
action set: output:3
    output:3
     -> datapath: 3

Final flow: udp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,\
nw_src=10.0.0.1,nw_dst=10.9.9.9,nw_tos=0,nw_ecn=0,tp_src=1000,tp_dst=2000,nw_ttl=64
Megaflow: in_port(1),eth_type(0x0800),ipv4(proto=17)
Datapath actions: set(ipv4_dst=10.9.9.9),2,3
"""
