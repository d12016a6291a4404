"""switch_agent.stats: the switch's answers to information requests, on the dummy
datapath with a fake clock; every reply checked by value and through the wire codec
(encode for the version, decode, same value)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev
from openflow import actions as ofa
from openflow.codec import decode, encode, encode_parts
from openflow.consts import (
    OFPFF_NO_BYT_COUNTS,
    OFPFF_NO_PKT_COUNTS,
    OFPFF_SEND_FLOW_REM,
    OFPGT_ALL,
    OFPP_ANY,
    OFPP_LOCAL,
    OFPPC_NO_FLOOD,
    OFPPC_PORT_DOWN,
    OFPPF_10GB_FD,
    OFPPF_COPPER,
    OFPPS_LINK_DOWN,
    OFPPS_LIVE,
    OFPQ_ALL,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_flow
from openflow.match import Match
from openflow.messages import (
    AggregateStatsRequest,
    Bucket,
    FlowStatsRequest,
    InstructionIds,
    Message,
    NextTables,
    OxmIds,
    QueueStatsRequest,
    TableFeaturesStatsReply,
    TableFeaturesStatsRequest,
)
from openflow.v10_match import OFPFW_ALL
from openflow.v13_multipart import (
    OFPTFPT_APPLY_ACTIONS,
    OFPTFPT_APPLY_SETFIELD,
    OFPTFPT_INSTRUCTIONS,
    OFPTFPT_INSTRUCTIONS_MISS,
    OFPTFPT_MATCH,
    OFPTFPT_NEXT_TABLES,
    OFPTFPT_WILDCARDS,
)
from switch_agent import stats
from switch_agent.flowtable import OFP10, OFP13
from switch_agent.ofproto import OfPort, Switch
from switch_agent.xlate import GroupEntry
from tests.unit.test_dpif import FakeClock, udp_frame

N_TABLES = 4
FRAME = udp_frame()  # 60 bytes, in_port-independent


class Lab:
    """Ports 1..3 (dummy; port 3 typed like a veth) and LOCAL, 4 tables, fake clock."""

    def __init__(self) -> None:
        self.clock = FakeClock(1000.0)
        self.dp = Datapath("br0", clock=self.clock, emc_insert_inv_prob=1)
        self.sw = Switch(self.dp, n_tables=N_TABLES, clock=self.clock)
        self.netdevs = [DummyNetdev(f"p{i}", hw_addr=bytes([2, 0, 0, 0, 0, i])) for i in (1, 2, 3)]
        self.netdevs[2].type = "system"  # what a veth port is
        for netdev in self.netdevs:
            self.sw.add_port(netdev)
        self.local = DummyNetdev("br0", hw_addr=bytes.fromhex("0200000000fe"))
        self.sw.add_port(self.local, OFPP_LOCAL)

    def flow(self, text: str, version: int = OFP13, **changes: Any) -> None:
        fm = parse_flow(text, version=version)
        if changes:
            fm = dataclasses.replace(fm, **changes)
        self.sw.flow_mod(fm, version)

    def send(self, port: int, data: bytes = FRAME, count: int = 1) -> None:
        for _ in range(count):
            self.netdevs[port - 1].inject(data)
            self.dp.poll()
            self.dp.poll()


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def roundtrip(msg: Message, version: int) -> Message:
    """Encode for ``version`` and decode: must give back the same message."""
    decoded_version, decoded = decode(encode(msg, version))
    assert decoded_version == version
    assert decoded == msg
    return decoded


# --- FEATURES_REPLY, ports, DESC ---------------------------------------------------------


def test_features_reply_of13(lab):
    reply = stats.features_reply(lab.sw, OFP13, 0x1234)
    assert (reply.datapath_id, reply.n_buffers, reply.n_tables) == (0x1234, 0, N_TABLES)
    assert reply.capabilities == 0x4F  # FLOW TABLE PORT GROUP QUEUE stats, as OVS
    assert reply.actions == 0 and reply.ports == ()
    roundtrip(reply, OFP13)


def test_features_reply_of10_lists_ports_and_actions(lab):
    reply = stats.features_reply(lab.sw, OFP10, 1)
    assert reply.capabilities == 0xC7  # ... QUEUE_STATS, ARP_MATCH_IP
    assert reply.actions == 0xFFF  # OUTPUT .. ENQUEUE
    assert reply.n_tables == N_TABLES  # OVS also counts every table for OF1.0
    assert [p.port_no for p in reply.ports] == [1, 2, 3, OFPP_LOCAL]
    roundtrip(reply, OFP10)
    assert encode(reply, OFP10)[8:].hex()[:48] == "0000000000000001" "00000000" "04000000" \
        "000000c7" "00000fff"


def test_ofp_port_values(lab):
    port = stats.ofp_port(lab.sw, 1)
    assert port.port_no == 1 and port.name == "p1" and port.hw_addr == 0x020000000001
    assert (port.config, port.state) == (0, OFPPS_LIVE)
    assert (port.curr, port.advertised, port.supported, port.peer) == (0, 0, 0, 0)
    assert (port.curr_speed, port.max_speed) == (0, 0)  # dummy: no link modes (OVS too)
    veth = stats.ofp_port(lab.sw, 3)
    assert veth.curr == OFPPF_10GB_FD | OFPPF_COPPER and veth.curr_speed == 10_000_000
    local = stats.ofp_port(lab.sw, OFPP_LOCAL)
    assert (local.port_no, local.name, local.hw_addr) == (OFPP_LOCAL, "br0", 0x0200000000FE)
    with pytest.raises(CodecError) as err:
        stats.ofp_port(lab.sw, 9)
    assert err.value.err is Err.OFPBRC_BAD_PORT


def test_ofp_port_state_and_config_per_version(lab):
    lab.netdevs[0].set_link(False)
    down = stats.ofp_port(lab.sw, 1)
    assert down.state == OFPPS_LINK_DOWN  # no carrier: not live
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN | OFPPC_NO_FLOOD, 0xFF)
    of13 = stats.ofp_port(lab.sw, 2, OFP13)
    assert (of13.config, of13.state) == (OFPPC_PORT_DOWN, 0)  # NO_FLOOD is OF1.0 only
    of10 = stats.ofp_port(lab.sw, 2, OFP10)
    assert of10.config == OFPPC_PORT_DOWN | OFPPC_NO_FLOOD
    assert stats.ofp_port(lab.sw, 3, OFP10).state == 0  # OF1.0 has no LIVE bit
    assert stats.ofp_port(lab.sw, 3, OFP10).curr_speed == 0
    for version in (OFP10, OFP13):
        roundtrip(stats.port_desc(lab.sw, version), version)


def test_port_desc(lab):
    reply = stats.port_desc(lab.sw)
    assert [(p.port_no, p.name) for p in reply.entries] == [
        (1, "p1"), (2, "p2"), (3, "p3"), (OFPP_LOCAL, "br0")]
    assert reply.entries[2] == stats.ofp_port(lab.sw, 3)


def test_desc(lab):
    reply = stats.desc(lab.sw)
    assert reply.mfr_desc == "switch-agent"
    assert reply.sw_desc == "0.1.0" and reply.serial_num == "None" and reply.dp_desc == "br0"
    assert stats.desc(lab.sw, dp_desc="lab switch").dp_desc == "lab switch"
    for version in (OFP10, OFP13):
        roundtrip(reply, version)


# --- flow and aggregate statistics -------------------------------------------------------


def install(lab: Lab) -> None:
    lab.sw.groups[7] = GroupEntry(7, OFPGT_ALL, (Bucket((ofa.Output(3),)),))
    lab.flow("table=0,priority=10,in_port=1,cookie=0x11,actions=output:2", flags=OFPFF_SEND_FLOW_REM)
    lab.flow("table=0,priority=20,in_port=2,cookie=0x12,idle_timeout=30,hard_timeout=60,"
             "actions=goto_table:1")
    lab.flow("table=1,priority=5,ip,nw_dst=10.0.0.2,cookie=0x21,actions=group:7")
    lab.flow("table=1,priority=1,cookie=0x22,actions=drop")


def test_flow_stats_values(lab):
    install(lab)
    lab.send(1, count=3)
    lab.clock.now += 2.25
    lab.send(2, count=2)  # goto table 1, group 7
    reply = stats.flow_stats(lab.sw, FlowStatsRequest())
    by_cookie = {e.cookie: e for e in reply.entries}
    assert [e.cookie for e in reply.entries] == [0x12, 0x11, 0x21, 0x22]  # table, -priority
    first = by_cookie[0x11]
    assert (first.table_id, first.priority, first.packet_count, first.byte_count) == (0, 10, 3, 180)
    assert (first.duration_sec, first.duration_nsec) == (2, 250_000_000)
    assert first.flags == OFPFF_SEND_FLOW_REM
    assert first.match == Match.build(in_port=1)
    assert first.instructions == (ofa.ApplyActions((ofa.Output(2, max_len=0),)),)
    second = by_cookie[0x12]
    assert (second.idle_timeout, second.hard_timeout, second.packet_count) == (30, 60, 2)
    assert second.instructions == (ofa.GotoTable(1),)
    assert by_cookie[0x21].packet_count == 2 and by_cookie[0x22].packet_count == 0
    roundtrip(reply, OFP13)


def test_flow_stats_see_datapath_counters_without_a_periodic_pull(lab):
    lab.flow("priority=10,in_port=1,actions=output:2")
    lab.send(1, count=5)  # 1 upcall + 4 megaflow hits, never pulled
    (entry,) = stats.flow_stats(lab.sw, FlowStatsRequest()).entries
    assert (entry.packet_count, entry.byte_count) == (5, 300)


def test_flow_stats_filters(lab):
    install(lab)

    def cookies(**kw: Any) -> list[int]:
        return [e.cookie for e in stats.flow_stats(lab.sw, FlowStatsRequest(**kw)).entries]

    assert cookies(table_id=1) == [0x21, 0x22]
    assert cookies(match=Match.build(in_port=2)) == [0x12]
    assert cookies(match=Match.build(eth_type=0x800)) == [0x21]  # non-strict: more specific
    assert cookies(out_port=2) == [0x11]
    assert cookies(out_group=7) == [0x21]
    assert cookies(cookie=0x20, cookie_mask=0xF0) == [0x21, 0x22]
    assert cookies(cookie=0x12, cookie_mask=0xFF, table_id=0) == [0x12]
    assert cookies(table_id=3) == []
    with pytest.raises(CodecError) as err:
        stats.flow_stats(lab.sw, FlowStatsRequest(table_id=N_TABLES))
    assert err.value.err is Err.OFPBRC_BAD_TABLE_ID


def test_flow_stats_no_counts_flags(lab):
    lab.flow("priority=10,in_port=1,actions=output:2", flags=OFPFF_NO_PKT_COUNTS)
    lab.flow("priority=10,in_port=2,actions=output:1", flags=OFPFF_NO_BYT_COUNTS)
    lab.send(1, count=2)
    lab.send(2, count=3)
    entries = {e.match.value("in_port"): e for e in stats.flow_stats(lab.sw, FlowStatsRequest()).entries}
    assert (entries[1].packet_count, entries[1].byte_count) == (2**64 - 1, 120)
    assert (entries[2].packet_count, entries[2].byte_count) == (3, 2**64 - 1)
    assert entries[1].flags == OFPFF_NO_PKT_COUNTS
    agg = stats.aggregate_stats(lab.sw, AggregateStatsRequest())
    assert (agg.packet_count, agg.byte_count, agg.flow_count) == (2**64 - 1, 2**64 - 1, 2)
    agg = stats.aggregate_stats(lab.sw, AggregateStatsRequest(match=Match.build(in_port=2)))
    assert (agg.packet_count, agg.byte_count, agg.flow_count) == (3, 2**64 - 1, 1)


def test_aggregate_stats(lab):
    install(lab)
    lab.send(1, count=3)
    lab.send(2, count=2)
    agg = stats.aggregate_stats(lab.sw, AggregateStatsRequest())
    # 3 (rule 0x11) + 2 (0x12) + 2 (0x21) packets: a packet counts in every rule it hit
    assert (agg.packet_count, agg.byte_count, agg.flow_count) == (7, 420, 4)
    agg = stats.aggregate_stats(lab.sw, AggregateStatsRequest(table_id=1))
    assert (agg.packet_count, agg.flow_count) == (2, 2)
    for version in (OFP10, OFP13):
        roundtrip(agg, version)
    with pytest.raises(CodecError):
        stats.aggregate_stats(lab.sw, AggregateStatsRequest(table_id=200))


def test_flow_stats_of10(lab):
    lab.flow("priority=10,in_port=1,actions=output:2", version=OFP10)
    install(lab)  # OF1.3 rules in tables 0 and 1: an OF1.0 controller sees them too
    lab.flow("table=2,priority=3,metadata=0x5,ip,nw_src=10.0.0.0/255.0.255.0,"
             "actions=push_vlan:0x8100,set_field:0x1005->vlan_vid,output:1,"
             "write_actions(output:2)")
    lab.send(1, count=2)
    reply = stats.flow_stats(lab.sw, FlowStatsRequest(table_id=OFPTT_ALL), OFP10)
    assert [e.table_id for e in reply.entries] == [0, 0, 1, 1, 2]
    entry = reply.entries[0]
    assert entry.cookie == 0x12  # priority 20 first; the OF1.3 add replaced the OF1.0 rule
    narrowed = reply.entries[4]
    assert narrowed.match == Match.build(eth_type=0x800)  # metadata, non-prefix mask: wildcarded
    assert narrowed.instructions == (ofa.ApplyActions((ofa.Output(1, max_len=0),)),)
    assert all(e.flags == 0 for e in reply.entries)
    roundtrip(reply, OFP10)
    assert stats.flow_stats(lab.sw, FlowStatsRequest(table_id=0), OFP10).entries[1].packet_count == 2


# --- table, port and queue statistics ----------------------------------------------------


def test_table_stats(lab):
    install(lab)
    lab.send(1, count=1)  # table 0 hit
    lab.send(2, count=1)  # table 0 hit, table 1 hit
    lab.send(3, count=1)  # table 0 miss
    of13 = stats.table_stats(lab.sw, OFP13)
    assert [(e.table_id, e.active_count, e.lookup_count, e.matched_count) for e in of13.entries] == [
        (0, 2, 3, 2), (1, 2, 1, 1), (2, 0, 0, 0), (3, 0, 0, 0)]
    assert of13.entries[0].name == "" and of13.entries[0].max_entries == 0
    roundtrip(of13, OFP13)
    of10 = stats.table_stats(lab.sw, OFP10)
    assert len(of10.entries) == N_TABLES
    assert (of10.entries[0].wildcards, of10.entries[0].max_entries) == (OFPFW_ALL, 1_000_000)
    assert of10.entries[0].active_count == 2
    roundtrip(of10, OFP10)


def test_port_stats(lab):
    lab.flow("priority=10,in_port=1,actions=output:2")
    lab.send(1, count=4)
    lab.netdevs[1].set_link(False)
    lab.send(1, count=1)  # port 2 without carrier: tx_dropped
    reply = stats.port_stats(lab.sw)
    assert [e.port_no for e in reply.entries] == [1, 2, 3, OFPP_LOCAL]
    one, two = reply.entries[0], reply.entries[1]
    assert (one.rx_packets, one.rx_bytes, one.tx_packets) == (5, 300, 0)
    assert (two.tx_packets, two.tx_bytes, two.tx_dropped, two.rx_packets) == (4, 240, 1, 0)
    assert (one.duration_sec, one.rx_crc_err, one.collisions) == (0, 0, 0)
    roundtrip(reply, OFP13)
    assert stats.port_stats(lab.sw, 2).entries == (two,)
    assert stats.port_stats(lab.sw, 42).entries == ()  # unknown port: empty, as OVS
    roundtrip(stats.port_stats(lab.sw, OFPP_ANY, OFP10), OFP10)


class TimedPort(OfPort):
    """An OfPort with the ``created`` hook stats.py reads for the duration."""

    __slots__ = ("created",)
    created: float


def test_port_stats_duration_from_the_created_hook(lab):
    old = lab.sw.ports[1]
    port = TimedPort(old.ofp_port, old.dp_port, old.name, old.dpif)
    port.created = 900.5
    lab.sw.ports[1] = port
    entry = stats.port_stats(lab.sw, 1).entries[0]
    assert (entry.duration_sec, entry.duration_nsec) == (99, 500_000_000)
    assert stats.port_stats(lab.sw, 1, OFP10).entries[0].duration_sec == 0  # OF1.0 has none


def test_queue_stats(lab):
    reply = stats.queue_stats(lab.sw, QueueStatsRequest(OFPP_ANY, OFPQ_ALL))
    assert reply.entries == ()
    assert stats.queue_stats(lab.sw, QueueStatsRequest(1, OFPQ_ALL)).entries == ()
    for version in (OFP10, OFP13):
        roundtrip(reply, version)
    for request, err in ((QueueStatsRequest(9, OFPQ_ALL), Err.OFPQOFC_BAD_PORT),
                         (QueueStatsRequest(1, 0), Err.OFPQOFC_BAD_QUEUE),
                         (QueueStatsRequest(OFPP_ANY, 3), Err.OFPQOFC_BAD_QUEUE)):
        with pytest.raises(CodecError) as caught:
            stats.queue_stats(lab.sw, request)
        assert caught.value.err is err


# --- TABLE_FEATURES ----------------------------------------------------------------------


def props(features: Any) -> dict[int, Any]:
    return {p.type: p for p in features.properties}


def test_table_features_values(lab):
    reply = stats.table_features(lab.sw)
    assert [f.table_id for f in reply.entries] == list(range(N_TABLES))
    first, last = reply.entries[0], reply.entries[-1]
    assert (first.metadata_match, first.metadata_write) == (2**64 - 1, 2**64 - 1)
    assert first.max_entries == 1_000_000
    p = props(first)
    assert p[OFPTFPT_NEXT_TABLES] == NextTables(OFPTFPT_NEXT_TABLES, (1, 2, 3))
    assert p[OFPTFPT_INSTRUCTIONS] == InstructionIds(OFPTFPT_INSTRUCTIONS, (1, 2, 3, 4, 5, 6))
    assert p[OFPTFPT_INSTRUCTIONS_MISS] == InstructionIds(OFPTFPT_INSTRUCTIONS_MISS, (1, 2, 3, 4, 5, 6))
    assert 0 in p[OFPTFPT_APPLY_ACTIONS].ids and 25 in p[OFPTFPT_APPLY_ACTIONS].ids
    assert {11, 12, 26, 27} <= set(p[OFPTFPT_APPLY_ACTIONS].ids)  # copy_ttl, push/pop_pbb
    match = dict(p[OFPTFPT_MATCH].fields)
    assert match["ipv4_src"] is True and match["in_port"] is False and len(match) == 40
    assert len(p[OFPTFPT_WILDCARDS].fields) == 40
    setfields = dict(p[OFPTFPT_APPLY_SETFIELD].fields)
    assert "eth_dst" in setfields and "in_port" not in setfields and "ipv6_exthdr" not in setfields
    assert {"eth_type", "ip_proto", "mpls_bos"} <= set(setfields)  # OF1.3 allows; OVS not
    assert len(first.properties) == 14
    q = props(last)
    assert q[OFPTFPT_NEXT_TABLES].table_ids == ()
    assert 1 not in q[OFPTFPT_INSTRUCTIONS].ids  # no goto_table from the last table


def test_table_features_encode_in_parts(lab):
    sw = Switch(lab.dp, clock=lab.clock)  # the default 254 tables: several messages
    reply = dataclasses.replace(stats.table_features(sw), xid=7)
    parts = encode_parts(reply, OFP13)
    assert len(parts) > 1
    entries: list[Any] = []
    for part in parts:
        _version, msg = decode(part)
        assert isinstance(msg, TableFeaturesStatsReply) and msg.xid == 7
        entries.extend(msg.entries)
    assert tuple(entries) == reply.entries
    small = stats.table_features(lab.sw)
    roundtrip(small, OFP13)


def test_table_features_set(lab):
    current = stats.table_features(lab.sw).entries
    renamed = tuple(dataclasses.replace(f, name=f"t{f.table_id}") for f in current)
    reply = stats.table_features(lab.sw, TableFeaturesStatsRequest(renamed))  # connmgr's call
    assert [f.name for f in reply.entries] == ["t0", "t1", "t2", "t3"]
    assert stats.table_stats(lab.sw, OFP10).entries[2].name == "t2"
    # fewer features is fine (a superset stays enabled, as OVS)
    bare = tuple(dataclasses.replace(f, properties=()) for f in renamed)
    stats.table_features_set(lab.sw, TableFeaturesStatsRequest(bare))
    # an exact match on a maskable field is fine
    exact = tuple(dataclasses.replace(f, properties=(OxmIds(OFPTFPT_MATCH, (("ipv4_src", False),)),))
                  for f in renamed)
    stats.table_features_set(lab.sw, TableFeaturesStatsRequest(exact))
    assert stats.table_features(lab.sw).entries[0].name == "t0"  # names kept

    def refused(entries, err: Err) -> None:
        with pytest.raises(CodecError) as caught:
            stats.table_features_set(lab.sw, TableFeaturesStatsRequest(tuple(entries)))
        assert caught.value.err is err
        assert stats.table_features(lab.sw).entries[0].name == "t0"  # nothing changed

    refused(current[:3], Err.OFPTFFC_EPERM)
    refused([*current, dataclasses.replace(current[0], table_id=N_TABLES)], Err.OFPTFFC_BAD_TABLE)
    refused([*current[:3], current[0]], Err.OFPTFFC_BAD_TABLE)
    bigger = dataclasses.replace(current[1], max_entries=5)
    refused([current[0], bigger, *current[2:]], Err.OFPTFFC_EPERM)
    masked_port = dataclasses.replace(current[0], name="x",
                                      properties=(OxmIds(OFPTFPT_MATCH, (("in_port", True),)),))
    refused([masked_port, *current[1:]], Err.OFPTFFC_EPERM)
    back = dataclasses.replace(current[3], properties=(NextTables(OFPTFPT_NEXT_TABLES, (0,)),))
    refused([*current[:3], back], Err.OFPTFFC_EPERM)
    # an empty request is a query
    assert stats.table_features_set(lab.sw, TableFeaturesStatsRequest()) == \
        stats.table_features(lab.sw, TableFeaturesStatsRequest()) == stats.table_features(lab.sw)
