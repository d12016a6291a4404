"""The pipeline on the dummy datapath: upcalls, xlate, revalidation, stats, timeouts."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev, vlan_tag
from openflow import actions as ofa
from openflow.consts import (
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_SELECT,
    OFPPC_NO_FLOOD,
    OFPPC_PORT_DOWN,
    OFPR_ACTION,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
    OFPRR_DELETE,
    OFPRR_IDLE_TIMEOUT,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_flow
from openflow.messages import Bucket, PacketOut
from switch_agent.flowtable import OFP10, OFP13
from switch_agent.ofproto import Switch
from switch_agent.xlate import GroupEntry
from tests.unit.test_dpif import FakeClock, udp_frame

MAC_1 = bytes.fromhex("020000000001")
MAC_2 = bytes.fromhex("020000000002")
MAC_3 = bytes.fromhex("020000000003")


def frame(src: bytes = MAC_1, dst: bytes = MAC_2, sport: int = 1000, ttl: int = 64,
          dst_ip: str = "10.0.0.2") -> bytes:
    f = bytearray(udp_frame(sport=sport, dst=dst_ip, eth_dst=dst))
    f[6:12] = src
    f[22] = ttl
    return bytes(f)


class Lab:
    """A switch with four dummy ports (OpenFlow ports 1..4) on a fake clock."""

    def __init__(self) -> None:
        self.clock = FakeClock(1000.0)
        self.dp = Datapath("t", clock=self.clock, emc_insert_inv_prob=1)
        self.sw = Switch(self.dp, n_tables=8, clock=self.clock)
        self.ports = [DummyNetdev(f"p{i}") for i in range(1, 5)]
        for port in self.ports:
            self.sw.add_port(port)
        self.packet_ins = []
        self.removed = []
        self.sw.packet_in_listeners.append(self.packet_ins.append)
        self.sw.flow_removed_listeners.append(self.removed.append)

    def flow(self, text: str, command: int = 0, version: int = OFP13, **changes):
        fm = parse_flow(text, command=command, version=version)
        if changes:
            fm = dataclasses.replace(fm, **changes)
        return self.sw.flow_mod(fm, version)

    def send(self, port: int, data: bytes, vlan: int = 0) -> None:
        self.ports[port - 1].inject(data, vlan)
        self.dp.poll()
        self.dp.poll()

    def out(self, port: int) -> list[bytes]:
        sent = list(self.ports[port - 1].sent)
        self.ports[port - 1].sent.clear()
        return sent

    def outs(self) -> dict[int, int]:
        return {i: len(self.out(i)) for i in range(1, 5)}


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def test_forwarding_megaflow_and_stats(lab):
    lab.flow("priority=10,in_port=1,actions=output:2")
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}
    assert lab.sw.upcalls_handled == 1 and lab.dp.stats().flows == 1
    for sport in range(5):
        lab.send(1, frame(sport=sport))
    assert lab.out(2) == [frame(sport=s) for s in range(5)]
    assert lab.sw.upcalls_handled == 1  # one megaflow (in_port only) served them all
    lab.sw.pull_stats()
    (rule,) = list(lab.sw.tables)
    assert (rule.packets, rule.bytes) == (6, 6 * 60)


def test_stale_megaflow_after_modify_and_delete(lab):
    """The first packet after a MODIFY follows the new rule, even though its megaflow
    and EMC entry were installed for the old one."""
    lab.flow("priority=10,in_port=1,actions=output:2")
    for _ in range(3):
        lab.send(1, frame())
    assert len(lab.out(2)) == 3
    lab.flow("in_port=1,actions=output:3", OFPFC_MODIFY)
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 0}
    assert lab.sw.upcalls_handled == 1  # the megaflow was updated in place
    lab.flow("in_port=1", OFPFC_DELETE)
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0} and not lab.packet_ins  # OF1.3 miss: drop
    # a higher-priority rule that takes only some packets: the megaflow must narrow
    lab.flow("priority=10,in_port=1,actions=output:2")
    lab.send(1, frame())
    lab.flow("priority=20,udp,tp_src=7,actions=output:4")
    lab.send(1, frame(sport=7))
    lab.send(1, frame(sport=8))
    assert lab.outs() == {1: 0, 2: 2, 3: 0, 4: 1}


def test_packet_in_reasons_and_contents(lab):
    lab.flow("priority=0,actions=CONTROLLER:65535", cookie=0x99)  # the table-miss flow
    lab.flow("priority=5,in_port=2,actions=CONTROLLER:20")
    lab.flow("priority=5,in_port=3,actions=dec_ttl,output:1")
    lab.sw.invalid_ttl_to_controller = True
    lab.send(1, frame())
    lab.send(2, frame())
    lab.send(3, frame(ttl=1))
    lab.send(3, frame(ttl=5))
    events = [(e.request.reason, e.in_port, e.request.cookie, len(e.data), e.total_len)
              for e in lab.packet_ins]
    assert events == [(OFPR_NO_MATCH, 1, 0x99, 60, 60), (OFPR_ACTION, 2, 0, 20, 60),
                      (OFPR_INVALID_TTL, 3, 0, 60, 60)]
    (out,) = lab.out(1)
    assert out[22] == 4  # TTL decremented, IPv4 checksum updated by the datapath


def test_of10_style_table_miss_goes_to_controller_when_asked(lab):
    lab.send(1, frame())
    assert not lab.packet_ins
    lab.sw.miss_to_controller = True
    lab.sw.revalidate()  # ofproto does this when a connection's wishes change
    lab.send(1, frame(sport=2))
    (event,) = lab.packet_ins
    assert event.request.miss and event.request.reason == OFPR_NO_MATCH


def test_goto_apply_write_metadata_and_action_set_order(lab):
    lab.flow("table=0,priority=1,in_port=1,actions=write_actions(output:3),"
             "write_metadata:0x5/0xff,goto_table:2")
    lab.flow("table=2,priority=1,ip,metadata=0x5/0xff,"
             "actions=set_field:02:00:00:00:00:09->eth_dst,output:2,"
             "write_actions(set_field:10.9.9.9->ip_dst)")
    lab.send(1, frame())
    (to2,) = lab.out(2)
    (to3,) = lab.out(3)
    assert to2[:6] == bytes.fromhex("020000000009") and to2[30:34] == bytes([10, 0, 0, 2])
    # the action set runs last: the written set-field applies, the output comes after
    assert to3[:6] == bytes.fromhex("020000000009") and to3[30:34] == bytes([10, 9, 9, 9])
    lab.flow("table=2,priority=2,metadata=0x5/0xff,actions=clear_actions")
    lab.send(1, frame(sport=9))
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}


def test_vlan_push_pop_and_set_vid(lab):
    lab.flow("priority=1,in_port=1,actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2")
    lab.flow("priority=1,in_port=2,dl_vlan=10,actions=pop_vlan,output:1")
    lab.flow("priority=1,in_port=3,dl_vlan=10,actions=set_field:4116->vlan_vid,output:4")
    base = frame()
    lab.send(1, base)
    (tagged,) = lab.out(2)
    assert tagged == base[:12] + b"\x81\x00\x00\x0a" + base[12:]
    lab.send(2, base, vlan_tag(10))
    assert lab.out(1) == [base]
    lab.send(3, tagged)
    assert lab.out(4) == [base[:12] + b"\x81\x00\x00\x14" + base[12:]]


def test_output_reserved_ports(lab):
    lab.flow("priority=1,in_port=1,actions=FLOOD")
    lab.flow("priority=1,in_port=2,actions=ALL")
    lab.flow("priority=1,in_port=3,actions=output:3")  # to the in_port: dropped
    lab.flow("priority=1,in_port=4,actions=IN_PORT")
    lab.sw.port_mod_config(3, OFPPC_NO_FLOOD, OFPPC_NO_FLOOD)
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 1}
    lab.send(2, frame())
    assert lab.outs() == {1: 1, 2: 0, 3: 1, 4: 1}
    lab.send(3, frame())
    lab.send(4, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}


def test_groups_all_select_and_fast_failover(lab):
    lab.sw.groups[1] = GroupEntry(1, OFPGT_ALL, (
        Bucket((ofa.SetField("ipv4_dst", 0x0A000063), ofa.Output(2))),
        Bucket((ofa.Output(3),))))
    lab.sw.groups[2] = GroupEntry(2, OFPGT_FF, (
        Bucket((ofa.Output(2),), watch_port=2), Bucket((ofa.Output(3),), watch_port=3)))
    lab.sw.groups[3] = GroupEntry(3, OFPGT_SELECT, (
        Bucket((ofa.Output(2),), weight=1), Bucket((ofa.Output(3),), weight=1)))
    lab.flow("priority=1,in_port=1,actions=group:1")
    base = frame()
    lab.send(1, base)
    (to2,), (to3,) = lab.out(2), lab.out(3)
    assert to2[30:34] == bytes([10, 0, 0, 99]) and to3 == base  # each bucket: a clone
    lab.flow("priority=1,in_port=1,actions=group:2")
    lab.send(1, base)
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}
    lab.ports[1].set_link(False)
    lab.dp.check_ports()
    lab.sw.revalidate()
    lab.send(1, base)
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 0}  # failed over
    lab.ports[1].set_link(True)
    lab.dp.check_ports()  # what the datapath's periodic port check does (link -> revalidate)
    lab.flow("priority=1,in_port=1,actions=group:3")
    for sport in range(200):
        lab.send(1, frame(sport=sport))
    outs = lab.outs()
    assert outs[2] + outs[3] == 200 and 50 < outs[2] < 150  # spread by the 5-tuple hash
    with pytest.raises(CodecError) as err:
        lab.flow("priority=1,in_port=1,actions=group:9")
    assert err.value.err is Err.OFPBAC_BAD_OUT_GROUP


def test_normal_learns_and_floods(lab):
    lab.flow("priority=0,actions=NORMAL")
    lab.send(1, frame(src=MAC_1, dst=MAC_2))  # unknown destination: flood
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 1}
    lab.send(2, frame(src=MAC_2, dst=MAC_1))  # MAC_1 was learned on port 1
    assert lab.outs() == {1: 1, 2: 0, 3: 0, 4: 0}
    lab.send(1, frame(src=MAC_1, dst=MAC_2))  # and now MAC_2 on port 2
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}
    lab.send(3, frame(src=MAC_1, dst=MAC_2))  # MAC_1 moved to port 3
    lab.send(2, frame(src=MAC_2, dst=MAC_1))
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 0}
    lab.send(1, frame(src=MAC_3, dst=b"\xff" * 6))  # broadcast: flood
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 1}


def test_timeouts_and_flow_removed(lab):
    lab.flow("priority=1,in_port=1,idle_timeout=10,actions=output:2", flags=1, cookie=5)
    lab.flow("priority=1,in_port=2,actions=output:1", flags=1)
    lab.send(1, frame())
    lab.clock.now += 8
    lab.send(1, frame())
    lab.clock.now += 8
    assert lab.sw.run_periodic() == []  # used 8 s ago: not idle yet
    lab.clock.now += 3
    (event,) = lab.sw.run_periodic()
    assert (event.rule.cookie, event.reason, event.rule.packets) == (5, OFPRR_IDLE_TIMEOUT, 2)
    assert lab.outs()[2] == 2
    lab.send(1, frame())
    assert lab.outs()[2] == 0  # the megaflow went with the rule
    events = lab.flow("priority=1,in_port=2", OFPFC_DELETE_STRICT)
    assert [e.reason for e in events] == [OFPRR_DELETE] and lab.removed[-1] is events[0]


def test_packet_out_through_the_table_and_errors(lab):
    lab.flow("priority=1,in_port=1,actions=output:4")
    data = frame()
    lab.sw.packet_out(PacketOut(in_port=1, actions=(ofa.Output(0xFFFFFFF9),), data=data))
    lab.sw.packet_out(PacketOut(actions=(ofa.Output(2), ofa.Output(3)), data=data))
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 1}
    (cls_rule,) = lab.sw.tables.tables[0].classifier.rules()  # output:TABLE counted the
    rule = cls_rule.payload  # packet, as OVS counts what a packet-out resubmits through
    assert (rule.packet_count, rule.byte_count) == (1, len(data))
    for po, err in ((PacketOut(buffer_id=7, data=data), Err.OFPBRC_BUFFER_UNKNOWN),
                    (PacketOut(in_port=77, data=data), Err.OFPBRC_BAD_PORT),
                    (PacketOut(actions=(ofa.Output(0),), data=data), Err.OFPBAC_BAD_OUT_PORT)):
        with pytest.raises(CodecError) as exc:
            lab.sw.packet_out(po)
        assert exc.value.err is err
    with pytest.raises(CodecError) as exc:
        lab.flow("priority=1,actions=output:0xfffffff9")
    assert exc.value.err is Err.OFPBAC_BAD_OUT_PORT


def test_of10_flow_mods(lab):
    lab.flow("priority=1,in_port=1,actions=mod_vlan_vid:7,output:2", version=OFP10)
    lab.send(1, frame())
    (out,) = lab.out(2)
    assert out[12:16] == b"\x81\x00\x00\x07"
    assert struct.unpack("!H", out[14:16])[0] & 0xFFF == 7


def test_flow_mods_revalidate_only_the_megaflows_they_can_affect(lab):
    lab.flow("priority=10,in_port=1,udp,actions=output:2")
    lab.flow("priority=10,in_port=2,actions=goto_table:1")
    lab.flow("table=1,priority=1,actions=output:3")
    for sport in range(3):
        lab.send(1, frame(sport=sport, dst_ip="10.0.0.9"))  # one megaflow
    lab.send(2, frame())
    assert lab.dp.stats().flows == 2
    translated = []
    real = lab.sw.xlate.translate

    def counting(key, **kwargs):
        translated.append(key)
        return real(key, **kwargs)

    lab.sw.xlate.translate = counting
    lab.flow("priority=10,in_port=3,actions=output:1")  # no megaflow can match it
    lab.flow("table=2,priority=1,actions=drop")  # a table nobody looked up
    assert translated == []
    lab.flow("table=1,priority=5,udp,actions=drop")  # the in_port=2 megaflow looked up table 1
    assert len(translated) == 1
    lab.flow("priority=20,udp,tp_src=7,actions=output:4")  # overlaps both (UDP) megaflows
    assert len(translated) == 3
    lab.send(1, frame(sport=7, dst_ip="10.0.0.9"))
    lab.send(1, frame(sport=8, dst_ip="10.0.0.9"))
    assert lab.out(4) == [frame(sport=7, dst_ip="10.0.0.9")]
    lab.flow("in_port=1,udp,actions=output:3", OFPFC_MODIFY)  # hit by a megaflow
    assert len(translated) >= 4
    lab.send(1, frame(sport=9, dst_ip="10.0.0.9"))
    assert len(lab.out(3)) >= 1


def test_no_recv_and_port_down_drop_what_arrives(lab):
    lab.flow("priority=1,in_port=1,actions=output:2")
    lab.sw.port_mod_config(1, 1 << 2, 1 << 2)  # OFPPC_NO_RECV
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}
    lab.sw.port_mod_config(1, 0, 1 << 2)
    lab.send(1, frame())
    assert lab.outs()[2] == 1
    lab.sw.port_mod_config(1, 1, 1)  # OFPPC_PORT_DOWN: nothing in, nothing out
    lab.send(1, frame())
    assert lab.outs()[2] == 0
