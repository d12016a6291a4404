"""ofproto's housekeeping on the dummy datapath: idle megaflows, MAC aging, revalidation,
port changes, request errors, listeners, groups and meters deleting flows.

Builds on ``tests.unit.test_ofproto.Lab`` (four dummy ports, fake clock); frames come
from ``tests.unit.test_xlate``'s builders.
"""

from __future__ import annotations

import asyncio

import pytest

from datapath.flow import extract
from openflow import actions as ofa
from openflow.consts import (
    OFP_NO_BUFFER,
    OFPFC_MODIFY,
    OFPGC_DELETE,
    OFPGT_ALL,
    OFPM_CONTROLLER,
    OFPMC_ADD,
    OFPMC_DELETE,
    OFPMF_PKTPS,
    OFPP_ANY,
    OFPP_LOCAL,
    OFPP_MAX,
    OFPP_TABLE,
    OFPPC_NO_FLOOD,
    OFPPC_NO_PACKET_IN,
    OFPPC_PORT_DOWN,
    OFPRR_GROUP_DELETE,
    OFPRR_METER_DELETE,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_group
from openflow.messages import GroupMod, MeterBandDrop, MeterMod, PacketOut
from switch_agent.flowtable import OFP13
from switch_agent.ofproto import PortChangeEvent
from tests.unit.test_ofproto import Lab
from tests.unit.test_xlate import MAC_A, MAC_B, MAC_C, build_eth, build_ipv4, v4


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def l2(src: bytes, dst: bytes, sport: int = 1000) -> bytes:
    return build_eth(build_ipv4(sport=sport), src=src, dst=dst)


def only_ufid(lab: Lab) -> object:
    (ufid,) = lab.sw.ukeys
    return ufid


# ------------------------------------------------------------------ idle megaflows


def test_idle_megaflows_go_after_max_idle(lab):
    lab.flow("priority=1,in_port=1,actions=output:2")
    lab.send(1, v4())
    assert lab.dp.stats().flows == 1 and len(lab.sw.ukeys) == 1
    lab.clock.now += 6
    lab.sw.run_periodic()
    lab.send(1, v4())  # through the megaflow: now it has been used
    assert lab.sw.upcalls_handled == 1
    lab.clock.now += 9  # 15 s since it was made, 9 since it was used: stays
    lab.sw.run_periodic()
    assert lab.dp.stats().flows == 1
    lab.clock.now += 2  # 11 s idle > max_idle (10)
    lab.sw.run_periodic()
    assert lab.dp.stats().flows == 0 and lab.sw.ukeys == {}
    (rule,) = list(lab.sw.tables)
    assert rule.packets == 2  # what the megaflow counted was credited before it went
    lab.send(1, v4())
    assert lab.sw.upcalls_handled == 2 and lab.out(2) == [v4()] * 3


def test_a_never_used_megaflow_ages_from_its_creation(lab):
    lab.flow("priority=1,in_port=1,actions=output:2")
    lab.send(1, v4())
    lab.clock.now += 10.5
    lab.sw.run_periodic()
    assert lab.sw.ukeys == {} and lab.dp.stats().flows == 0


def test_megaflows_the_datapath_dropped_are_forgotten(lab):
    lab.flow("priority=1,in_port=1,actions=output:2")
    for sweep in (lab.sw.pull_stats, lab.sw.revalidate, lab.sw.run_periodic):
        lab.send(1, v4())
        assert len(lab.sw.ukeys) == 1
        lab.dp.flow_flush()
        sweep()
        assert lab.sw.ukeys == {}
    assert len(lab.out(2)) == 3


def test_two_upcalls_for_one_megaflow_install_it_once(lab):
    lab.flow("priority=1,in_port=1,actions=output:2")
    lab.ports[0].inject(v4(sport=1))
    lab.ports[0].inject(v4(sport=2))
    lab.dp.poll()
    lab.dp.poll()
    assert lab.sw.upcalls_handled == 2
    assert len(lab.sw.ukeys) == 1 and lab.dp.stats().flows == 1
    assert lab.out(2) == [v4(sport=1), v4(sport=2)]
    (rule,) = list(lab.sw.tables)
    assert rule.packets == 2


# ------------------------------------------------------------------ MAC learning


def test_mac_aging_revalidates_normal_megaflows(lab):
    lab.sw.mac_table.aging = 5
    lab.flow("priority=0,actions=NORMAL")
    lab.send(1, l2(MAC_A, MAC_B))
    lab.send(2, l2(MAC_B, MAC_A))
    assert lab.outs() == {1: 1, 2: 1, 3: 1, 4: 1}
    lab.send(2, l2(MAC_B, MAC_A))
    assert lab.outs() == {1: 1, 2: 0, 3: 0, 4: 0}
    upcalls = lab.sw.upcalls_handled
    lab.clock.now += 6  # megaflows younger than max_idle, MAC entries older than aging
    lab.sw.run_periodic()
    assert len(lab.sw.mac_table) == 0
    lab.send(2, l2(MAC_B, MAC_A))  # the megaflow was revalidated: MAC_A is unknown now
    assert lab.outs() == {1: 1, 2: 0, 3: 1, 4: 1}
    assert lab.sw.upcalls_handled == upcalls


def test_mac_entries_of_active_stations_do_not_age_out(lab):
    lab.flow("priority=0,actions=NORMAL")
    lab.send(1, l2(MAC_A, MAC_B))
    lab.send(2, l2(MAC_B, MAC_A))
    lab.outs()
    for _ in range(80):  # 400 s of two-way traffic, every 5 s, through the megaflows
        lab.clock.now += 5
        lab.send(1, l2(MAC_A, MAC_B))
        lab.send(2, l2(MAC_B, MAC_A))
        lab.sw.run_periodic()
    lab.outs()
    lab.send(2, l2(MAC_B, MAC_A))
    assert lab.outs() == {1: 1, 2: 0, 3: 0, 4: 0}


def test_port_deletion_flushes_its_macs_and_revalidates(lab):
    changes: list[PortChangeEvent] = []
    lab.sw.port_listeners.append(changes.append)
    lab.flow("priority=0,actions=NORMAL")
    lab.flow("priority=1,in_port=4,actions=output:2")
    lab.send(1, l2(MAC_A, MAC_B))
    lab.send(2, l2(MAC_B, MAC_A))
    lab.send(3, l2(MAC_C, MAC_B))  # MAC_B is on port 2
    lab.send(4, v4())
    assert lab.outs() == {1: 1, 2: 3, 3: 1, 4: 1}
    lab.dp.port_del(2)
    assert changes == [PortChangeEvent("delete", 2, "p2")]
    assert 2 not in lab.sw.ports and len(lab.sw.mac_table) == 2  # MAC_A, MAC_C stay
    flows = {flow.key: flow.actions for flow in lab.dp.flow_dump()}
    assert all(not any(getattr(a, "port", None) == 2 for a in acts) for acts in flows.values())
    lab.send(3, l2(MAC_C, MAC_B))  # MAC_B is unknown again: flooded to what is left
    assert {p: n for p, n in lab.outs().items() if p != 2} == {1: 1, 3: 0, 4: 1}
    lab.send(4, v4())  # output:2 goes nowhere now
    assert {p: n for p, n in lab.outs().items() if p != 2} == {1: 0, 3: 0, 4: 0}
    lab.send(1, l2(MAC_A, MAC_C))
    assert {p: n for p, n in lab.outs().items() if p != 2} == {1: 0, 3: 1, 4: 0}


def test_del_port_by_openflow_number_and_local(lab):
    from datapath.netdev import DummyNetdev
    local = DummyNetdev("br0")
    lab.sw.add_port(local, OFPP_LOCAL)
    assert OFPP_LOCAL in lab.sw.ports and lab.sw.ports[OFPP_LOCAL].dp_port == 0
    lab.sw.del_port(OFPP_LOCAL)
    lab.sw.del_port(3)
    assert sorted(lab.sw.ports) == [1, 2, 4]


# ------------------------------------------------------------------ revalidation


def test_revalidation_deletes_a_megaflow_whose_mask_is_too_narrow(lab):
    lab.flow("priority=10,in_port=1,actions=output:2")
    for sport in range(4):
        lab.send(1, v4(sport=sport))
    ufid = only_ufid(lab)
    assert lab.sw.upcalls_handled == 1
    # a MODIFY keeps the mask: the megaflow is updated in place
    lab.flow("in_port=1,actions=output:3", OFPFC_MODIFY)
    assert only_ufid(lab) == ufid
    assert [type(a).__name__ for a in lab.dp.flow_get(ufid).actions] == ["Output"]
    assert lab.dp.flow_get(ufid).actions[0].port == 3
    # a rule that looks at the UDP source port: the in_port-only megaflow must go
    lab.flow("priority=20,udp,tp_src=7,actions=output:4")
    assert lab.dp.flow_get(ufid) is None and ufid not in lab.sw.ukeys
    lab.send(1, v4(sport=7))
    lab.send(1, v4(sport=8))
    assert lab.outs() == {1: 0, 2: 4, 3: 1, 4: 1}
    rule = next(r for r in lab.sw.tables if r.priority == 10)
    assert rule.packets == 5  # 4 before (credited when the megaflow went) + 1


def test_revalidation_after_port_mod_and_group_mod(lab):
    lab.sw.group_mod(parse_group("group_id=1,type=all,bucket=actions=output:2"), OFP13)
    lab.flow("priority=1,in_port=1,actions=group:1")
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}
    lab.sw.group_mod(parse_group("group_id=1,type=all,bucket=actions=output:3,"
                                 "bucket=actions=output:4", command=1), OFP13)
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 1}
    lab.sw.port_mod_config(4, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 0}
    assert lab.sw.upcalls_handled == 1  # the same megaflow, revalidated each time


# ------------------------------------------------------------------ groups and meters delete flows


def test_group_delete_removes_its_flows(lab):
    lab.sw.group_mod(parse_group("group_id=1,type=all,bucket=actions=output:2"), OFP13)
    lab.flow("priority=1,in_port=1,actions=group:1", flags=1, cookie=3)
    lab.flow("priority=1,in_port=2,actions=output:1", flags=1)
    lab.send(1, v4())
    events = lab.sw.group_mod(GroupMod(OFPGC_DELETE, OFPGT_ALL, 1), OFP13)
    assert [(e.rule.cookie, e.reason) for e in events] == [(3, OFPRR_GROUP_DELETE)]
    assert len(list(lab.sw.tables)) == 1 and lab.removed == events
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}  # the first packet only


def test_meter_flow_and_meter_delete(lab):
    lab.sw.meter_mod(MeterMod(OFPMC_ADD, OFPMF_PKTPS, 1, (MeterBandDrop(1000, 1000),)), OFP13)
    lab.flow("priority=1,in_port=1,actions=meter:1,output:2", flags=1, cookie=4,
             instructions=(ofa.Meter(1), ofa.ApplyActions((ofa.Output(2),))))
    lab.send(1, v4())
    assert lab.out(2) == [v4()]
    events = lab.sw.meter_mod(MeterMod(OFPMC_DELETE, 0, 1), OFP13)
    assert [(e.rule.cookie, e.reason) for e in events] == [(4, OFPRR_METER_DELETE)]
    assert list(lab.sw.tables) == []
    with pytest.raises(CodecError) as exc:
        lab.flow("priority=1,in_port=1,actions=output:2",
                 instructions=(ofa.Meter(1), ofa.ApplyActions((ofa.Output(2),))))
    assert exc.value.err is Err.OFPMMFC_UNKNOWN_METER


def test_controller_meter_limits_packet_ins(lab):
    lab.flow("priority=1,actions=CONTROLLER")
    lab.sw.meter_mod(MeterMod(OFPMC_ADD, OFPMF_PKTPS, OFPM_CONTROLLER,
                              (MeterBandDrop(1, 1),)), OFP13)
    for sport in range(5):
        lab.send(1, v4(sport=sport))
    assert 1 <= len(lab.packet_ins) < 5


# ------------------------------------------------------------------ packet-ins and listeners


def test_no_packet_in_port_config(lab):
    lab.flow("priority=1,actions=CONTROLLER")
    lab.sw.port_mod_config(1, OFPPC_NO_PACKET_IN, OFPPC_NO_PACKET_IN)
    lab.send(1, v4())
    lab.send(2, v4())
    assert [e.in_port for e in lab.packet_ins] == [2]


def test_listener_failures_are_contained(lab, caplog):
    def boom(event):
        raise RuntimeError("listener bug")

    lab.sw.packet_in_listeners.insert(0, boom)
    lab.sw.flow_removed_listeners.insert(0, boom)
    lab.sw.port_listeners.append(boom)
    lab.flow("priority=1,in_port=1,idle_timeout=1,actions=CONTROLLER", flags=1)
    lab.send(1, v4())
    assert len(lab.packet_ins) == 1  # the other listener still got it
    lab.clock.now += 2
    assert len(lab.sw.run_periodic()) == 1 and len(lab.removed) == 1
    lab.dp.port_del(4)
    assert 4 not in lab.sw.ports
    assert sum("listener failed" in r.message for r in caplog.records) == 3


def test_userspace_upcalls_without_our_userdata_are_ignored(lab):
    from datapath import odp_actions as odp
    lab.dp.execute(v4(), [odp.Userspace(b"not ours")], 1)
    lab.dp.poll()
    assert lab.packet_ins == []


# ------------------------------------------------------------------ request errors


def test_packet_out_errors_change_nothing(lab):
    lab.sw.group_mod(parse_group("group_id=1,type=all,bucket=actions=output:2"), OFP13)
    data = v4()
    bad = [
        (PacketOut(buffer_id=1, actions=(ofa.Output(2),), data=data), Err.OFPBRC_BUFFER_UNKNOWN),
        (PacketOut(in_port=9, actions=(ofa.Output(2),), data=data), Err.OFPBRC_BAD_PORT),
        (PacketOut(in_port=OFPP_MAX, actions=(ofa.Output(2),), data=data), Err.OFPBRC_BAD_PORT),
        (PacketOut(actions=(ofa.Output(2), ofa.Output(0)), data=data), Err.OFPBAC_BAD_OUT_PORT),
        (PacketOut(actions=(ofa.Output(2), ofa.Output(OFPP_ANY)), data=data),
         Err.OFPBAC_BAD_OUT_PORT),
        (PacketOut(actions=(ofa.Output(0xFFFFFF00),), data=data), Err.OFPBAC_BAD_OUT_PORT),
        (PacketOut(actions=(ofa.Enqueue(0, 1),), data=data), Err.OFPBAC_BAD_OUT_PORT),
        (PacketOut(actions=(ofa.Output(2), ofa.Group(7)), data=data), Err.OFPBAC_BAD_OUT_GROUP),
    ]
    for po, err in bad:
        with pytest.raises(CodecError) as exc:
            lab.sw.packet_out(po)
        assert exc.value.err is err, po
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}
    # accepted: in_port ANY/NONE and LOCAL (even without a LOCAL port), a group
    for in_port in (0xFFFFFFFF, OFPP_LOCAL, 3):
        lab.sw.packet_out(PacketOut(in_port=in_port, actions=(ofa.Group(1),), data=data))
    assert lab.outs() == {1: 0, 2: 3, 3: 0, 4: 0}
    assert OFP_NO_BUFFER == PacketOut(data=data).buffer_id


def test_flow_mod_errors_change_nothing(lab):
    cases = [
        ({"buffer_id": 5}, "priority=1,actions=output:2", Err.OFPBRC_BUFFER_UNKNOWN),
        ({"instructions": (ofa.ApplyActions((ofa.Output(OFPP_TABLE),)),)},
         "priority=1,actions=output:2", Err.OFPBAC_BAD_OUT_PORT),
        ({"instructions": (ofa.WriteActions((ofa.Output(0),)),)},
         "priority=1,actions=output:2", Err.OFPBAC_BAD_OUT_PORT),
        ({"instructions": (ofa.WriteActions((ofa.Group(3),)),)},
         "priority=1,actions=output:2", Err.OFPBAC_BAD_OUT_GROUP),
        ({"instructions": (ofa.Meter(0),)}, "priority=1,actions=output:2",
         Err.OFPMMFC_INVALID_METER),
    ]
    for changes, text, err in cases:
        with pytest.raises(CodecError) as exc:
            lab.flow(text, **changes)
        assert exc.value.err is err
    assert list(lab.sw.tables) == []


def test_port_mod_config_unknown_port_and_mask(lab):
    with pytest.raises(CodecError) as exc:
        lab.sw.port_mod_config(77, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    assert exc.value.err is Err.OFPPMFC_BAD_PORT
    assert all(port.config == 0 for port in lab.sw.ports.values())
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN | OFPPC_NO_FLOOD, OFPPC_NO_FLOOD)
    assert lab.sw.ports[2].config == OFPPC_NO_FLOOD and lab.sw.ports[2].live
    lab.sw.port_mod_config(2, 0, OFPPC_NO_FLOOD)
    assert lab.sw.ports[2].config == 0


# ------------------------------------------------------------------ the periodic task


def test_run_calls_run_periodic_and_survives_its_failures(lab, caplog):
    calls = []

    def periodic():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("periodic bug")
        return []

    lab.sw.run_periodic = periodic

    async def main():
        task = asyncio.ensure_future(lab.sw.run(interval=0.001))
        while len(calls) < 3:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(calls) >= 3
    assert any("periodic run failed" in r.message for r in caplog.records)


def test_in_port_of(lab):
    assert lab.sw.in_port_of(extract(v4(), 3)) == 3
    assert lab.sw.in_port_of(extract(v4(), 0)) == OFPP_LOCAL
