"""The OF1.3 message codec (openflow.v13, openflow.v13_multipart).

* Golden bytes both ways: controller-to-switch messages as Ryu 4.34 serializes them
  (tests/crosscheck/ryu_oracle.py, copied here so this file needs no Ryu), and
  switch-to-controller messages written field by field from the OpenFlow 1.3.5
  spec's struct layouts (Ryu cannot serialize those).
* Hypothesis round trips encode -> decode for every message class.
* Every decode error path, with the spec error it must raise.
* encode_parts splitting, HELLO version bitmaps, and a random/mutated-bytes run in
  which nothing but CodecError may escape.
"""

from __future__ import annotations

import dataclasses
import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow import actions as a
from openflow import messages as m
from openflow import v13
from openflow.consts import (
    OFP_NO_BUFFER,
    OFPCML_NO_BUFFER,
    OFPG_ALL,
    OFPG_ANY,
    OFPM_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPQ_ALL,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.match import Match
from openflow.oxm import OXM_FIELDS

MAC1, MAC2 = 0x0A0000000001, 0x0A0000000002
APPLY_OUT2 = (a.ApplyActions((a.Output(2),)),)


def h(*parts: str) -> bytes:
    """Hex pieces (spaces ignored) as bytes; one piece per wire field keeps them readable."""
    return bytes.fromhex("".join(parts).replace(" ", ""))


def text(value: str, size: int) -> str:
    """Hex of a NUL-padded fixed-size string field."""
    raw = value.encode()
    return (raw + bytes(size - len(raw))).hex()


def msg(msg_type: int, *body: str, xid: int = 0) -> bytes:
    """An OF1.3 message with a correct header around the hex ``body``."""
    payload = h(*body)
    return struct.pack("!BBHI", 4, msg_type, 8 + len(payload), xid) + payload


def mp(msg_type: int, mp_type: int, *body: str, flags: int = 0, xid: int = 0) -> bytes:
    return msg(msg_type, f"{mp_type:04x}{flags:04x}00000000", *body, xid=xid)


# --- Golden bytes, controller -> switch: Ryu 4.34's serialization ---------------------
# Produced with ryu.ofproto.ofproto_v1_3_parser (see tests/crosscheck/test_v13_ryu.py
# for the Ryu expressions); xid = position in this list.

RYU_GOLDEN: list[tuple[str, str, m.Message]] = [
    ("hello", "0400000800000001", m.Hello(xid=1)),
    ("echo_request", "0402000c0000000270696e67", m.EchoRequest(b"ping", xid=2)),
    ("experimenter", "040400180000000300002320000000076162636465666768",
     m.Experimenter(0x2320, 7, b"abcdefgh", xid=3)),
    ("features_request", "0405000800000004", m.FeaturesRequest(xid=4)),
    ("get_config_request", "0407000800000005", m.GetConfigRequest(xid=5)),
    ("set_config", "0409000c0000000600010100", m.SetConfig(1, 256, xid=6)),
    ("packet_out_buffered",
     "040d0028000000070000000700000003001000000000000000000010fffffffbffe5000000000000",
     m.PacketOut(7, 3, (a.Output(OFPP_FLOOD),), xid=7)),
    ("packet_out_data",
     "040d002c00000025fffffffffffffffd00100000000000000000001000000001000000000000000001020304",
     m.PacketOut(OFP_NO_BUFFER, OFPP_CONTROLLER, (a.Output(1, 0),), b"\x01\x02\x03\x04",
                 xid=37)),
    ("flow_mod_table_miss",
     "040e005000000008000000000000000000000000000000000000000000000000ffffffff000000000000"
     "0000000000000001000400000000000400180000000000000010fffffffdffff000000000000",
     m.FlowMod(priority=0, out_port=0, out_group=0, xid=8, instructions=(
         a.ApplyActions((a.Output(OFPP_CONTROLLER, OFPCML_NO_BUFFER),)),))),
    ("flow_mod_simple_switch",
     "040e006800000009000000000000123400000000000000000000000a0014000100000009000000000000"
     "000000010000000100208000000400000001800006060a0000000002800008060a000000000100040018"
     "000000000000001000000002ffe5000000000000",
     m.FlowMod(Match.build(in_port=1, eth_dst=MAC2, eth_src=MAC1), cookie=0x1234,
               idle_timeout=10, hard_timeout=20, priority=1, buffer_id=9, out_port=0,
               out_group=0, flags=1, instructions=APPLY_OUT2, xid=9)),
    ("flow_mod_delete",
     "040e00400000000a000000000000001000000000000000f0ff03000000008000ffffffffffffffffffff"
     "ffff000000000001000c800000040000000300000000",
     m.FlowMod(Match.build(in_port=3), cookie=0x10, cookie_mask=0xF0, table_id=OFPTT_ALL,
               command=3, xid=10)),
    ("group_mod_ff",
     "040f00480000000b00000300000000040020000000000002ffffffff000000000000001000000002ffe5"
     "00000000000000180000ffffffff00000001000000000016000800000001",
     m.GroupMod(0, 3, 4, (m.Bucket((a.Output(2),), watch_port=2),
                          m.Bucket((a.Group(1),), watch_group=1)), xid=11)),
    ("group_mod_select",
     "040f00600000000c000101000000000200200003ffffffffffffffff000000000000001000000002ffe5"
     "00000000000000300001ffffffffffffffff0000000000190010800006060a0000000002000000000010"
     "00000004ffe5000000000000",
     m.GroupMod(1, 1, 2, (m.Bucket((a.Output(2),), weight=3),
                          m.Bucket((a.SetField("eth_dst", MAC2), a.Output(4)), weight=1)),
                xid=12)),
    ("port_mod", "041000280000000d00000001000000000a0000000001000000000001000000210000002000000000",
     m.PortMod(1, MAC1, 1, 0x21, 0x20, xid=13)),
    ("table_mod", "041100100000000eff00000000000003", m.TableMod(OFPTT_ALL, 3, xid=14)),
    ("meter_mod_dscp",
     "041d00300000000f0001000200000002000200100000000a0000000001000000000100100000001400000000"
     "00000000",
     m.MeterMod(1, 2, 2, (m.MeterBandDscpRemark(10, 0, 1), m.MeterBandDrop(20)), xid=15)),
    ("meter_mod_experimenter",
     "041d0020000000100000000100000003ffff0010000000050000000600002320",
     m.MeterMod(0, 1, 3, (m.MeterBandExperimenter(5, 6, 0x2320),), xid=16)),
    ("barrier_request", "0414000800000011", m.BarrierRequest(xid=17)),
    ("queue_get_config_request", "0416001000000012ffffffff00000000",
     m.QueueGetConfigRequest(OFPP_ANY, xid=18)),
    ("role_request", "041800180000001300000002000000001122334455667788",
     m.RoleRequest(2, 0x1122334455667788, xid=19)),
    ("get_async_request", "041a000800000014", m.GetAsyncRequest(xid=20)),
    ("set_async", "041c002000000015000000030000000100000007000000000000000f00000002",
     m.SetAsync((3, 1), (7, 0), (15, 2), xid=21)),
    ("desc_request", "04120010000000160000000000000000", m.DescStatsRequest(xid=22)),
    ("flow_stats_request",
     "0412004800000017000100000000000001000000ffffffffffffffff0000000000000000000000050000"
     "0000000000ff00010012800000040000000180000a020806000000000000",
     m.FlowStatsRequest(Match.build(in_port=1, eth_type=0x0806), 1, OFPP_ANY, OFPG_ANY, 5,
                        0xFF, xid=23)),
    ("aggregate_request",
     "04120038000000180002000000000000ff000000000000020000000300000000000000000000000000000000"
     "000000000001000400000000",
     m.AggregateStatsRequest(Match(), OFPTT_ALL, 2, 3, xid=24)),
    ("table_stats_request", "04120010000000190003000000000000", m.TableStatsRequest(xid=25)),
    ("port_stats_request", "041200180000001a00040000000000000000000700000000",
     m.PortStatsRequest(7, xid=26)),
    ("queue_stats_request", "041200180000001b0005000000000000ffffffffffffffff",
     m.QueueStatsRequest(OFPP_ANY, OFPQ_ALL, xid=27)),
    ("group_stats_request", "041200180000001c0006000000000000fffffffc00000000",
     m.GroupStatsRequest(OFPG_ALL, xid=28)),
    ("group_desc_request", "041200100000001d0007000000000000", m.GroupDescStatsRequest(xid=29)),
    ("group_features_request", "041200100000001e0008000000000000",
     m.GroupFeaturesStatsRequest(xid=30)),
    ("meter_stats_request", "041200180000001f00090000000000000000000400000000",
     m.MeterStatsRequest(4, xid=31)),
    ("meter_config_request", "0412001800000020000a000000000000ffffffff00000000",
     m.MeterConfigStatsRequest(OFPM_ALL, xid=32)),
    ("meter_features_request", "0412001000000021000b000000000000",
     m.MeterFeaturesStatsRequest(xid=33)),
    ("table_features_request_empty", "0412001000000022000c000000000000",
     m.TableFeaturesStatsRequest(xid=34)),
    ("table_features_request",
     "0412008000000024000c0000000000000070000000000000743000000000000000000000000000000000"
     "000000000000000000000000000000000000000000ff00000000000000f000000000000000100000000c"
     "00010004000400040000000000020006010200000006000800000004fffe001000002320000000010000"
     "0007",
     m.TableFeaturesStatsRequest((m.TableFeatures(0, "t0", 0xFF, 0xF0, 0, 16, (
         m.InstructionIds(0, (1, 4)), m.NextTables(2, (1, 2)), m.ActionIds(6, (0,)),
         m.ExperimenterProp(0xFFFE, 0x2320, 1, b"\0\0\0\x07"))),), xid=36)),
    ("port_desc_request", "0412001000000023000d000000000000", m.PortDescStatsRequest(xid=35)),
]

# --- Golden bytes, switch -> controller: from the OF1.3.5 spec's struct layouts --------

PORT1 = m.Port(1, MAC1, "veth1", config=1, state=4, curr=0x820, advertised=0x2000,
               supported=0x60, peer=8, curr_speed=1_000_000, max_speed=10_000_000)
PORT1_HEX = (
    "00000001 00000000"  # port_no, pad
    "0a0000000001 0000"  # hw_addr, pad
    + text("veth1", 16) +
    "00000001 00000004"  # config, state
    "00000820 00002000 00000060 00000008"  # curr, advertised, supported, peer
    "000f4240 00989680"  # curr_speed, max_speed (kbps)
)
MATCH_IN_PORT_1 = "0001 000c 80000004 00000001 00000000"  # OXM in_port=1, padded to 16
OUTPUT_2 = "0000 0010 00000002 ffe5 000000000000"  # ofp_action_output port 2, max_len

SPEC_GOLDEN: list[tuple[str, bytes, m.Message]] = [
    ("hello_bitmap", msg(0, "0001 0008", "00000012", xid=1), m.Hello(frozenset({1, 4}), xid=1)),
    ("hello_bitmap_two_words", msg(0, "0001 000c", "00000012 00000002", "00000000", xid=1),
     m.Hello(frozenset({1, 4, 33}), xid=1)),
    ("error", msg(1, "0001 0006", "040e0008000000ff", xid=2),
     m.Error(1, 6, h("040e0008000000ff"), xid=2)),
    ("error_experimenter", msg(1, "ffff 0a28 4f4e4600", "64617461", xid=2),
     m.Error(0xFFFF, 2600, b"data", 0x4F4E4600, xid=2)),
    ("echo_reply", msg(3, "616263", xid=3), m.EchoReply(b"abc", xid=3)),
    ("features_reply",
     msg(6, "0000aabbccddeeff", "00000100", "fe 00 0000", "0000004f", "00000000", xid=5),
     m.FeaturesReply(0x0000AABBCCDDEEFF, 256, 254, 0, 0x4F, xid=5)),
    ("get_config_reply", msg(8, "0002 ffe5", xid=6), m.GetConfigReply(2, 0xFFE5, xid=6)),
    ("packet_in_in_port",
     msg(10, "ffffffff 0004 00 00 000000000000abcd", "0001 000c 80000004 00000007 00000000",
         "0000", "01020304"),
     m.PacketIn(OFP_NO_BUFFER, 4, 0, 0, 0xABCD, Match.build(in_port=7), h("01020304"))),
    ("packet_in_match",
     msg(10, "0000000c 05dc 01 03 0000000000000005",
         "0001 0016 80000004 00000001 80000806 0a0000000001 0000", "0000", "aabb", xid=7),
     m.PacketIn(12, 1500, 1, 3, 5, Match.build(in_port=1, eth_src=MAC1), h("aabb"), xid=7)),
    ("flow_removed",
     msg(11, "0000000000000001 0002 02 03 00000004 00000005 0006 0007",
         "0000000000000008 0000000000000009", MATCH_IN_PORT_1, xid=8),
     m.FlowRemoved(1, 2, 2, 3, 4, 5, 6, 7, 8, 9, Match.build(in_port=1), xid=8)),
    ("port_status", msg(12, "00 00000000000000", PORT1_HEX, xid=9),
     m.PortStatus(0, PORT1, xid=9)),
    ("barrier_reply", msg(21, xid=10), m.BarrierReply(xid=10)),
    ("queue_get_config_reply",
     msg(23, "00000001 00000000",
         "00000001 00000001 0030 000000000000",  # queue 1 on port 1, 48 bytes
         "0001 0010 00000000 0064 000000000000",  # MIN_RATE 100 (10%)
         "0002 0010 00000000 01f4 000000000000",  # MAX_RATE 500
         "00000003 00000001 0010 000000000000",  # queue 3, no properties
         xid=11),
     m.QueueGetConfigReply(1, (m.PacketQueue(1, 1, 100, 500), m.PacketQueue(3, 1)), xid=11)),
    ("role_reply", msg(25, "00000003 00000000 0000000000000063", xid=12),
     m.RoleReply(3, 99, xid=12)),
    ("get_async_reply",
     msg(27, "00000001 00000002 00000003 00000004 00000005 00000006", xid=13),
     m.GetAsyncReply((1, 2), (3, 4), (5, 6), xid=13)),
    ("desc_reply",
     mp(19, 0, text("mfr", 256), text("hw", 256), text("sw", 256), text("serial", 32),
        text("dp", 256), xid=14),
     m.DescStatsReply("mfr", "hw", "sw", "serial", "dp", xid=14)),
    ("flow_stats_reply",
     mp(19, 1,
        "0060 02 00 00000003 00000004 0005 0006 0007 0001 00000000",
        "0000000000000008 0000000000000009 000000000000000a",
        MATCH_IN_PORT_1,
        "0004 0018 00000000", OUTPUT_2,  # apply_actions(output:2)
        "0001 0008 03 000000",  # goto_table 3
        xid=15),
     m.FlowStatsReply((m.FlowStats(2, 3, 4, 5, 6, 7, 1, 8, 9, 10, Match.build(in_port=1),
                                   (*APPLY_OUT2, a.GotoTable(3))),), xid=15)),
    ("aggregate_reply",
     mp(19, 2, "0000000000000001 0000000000000002 00000003 00000000", xid=16),
     m.AggregateStatsReply(1, 2, 3, xid=16)),
    ("table_stats_reply",
     mp(19, 3, "00 000000 00000001 0000000000000002 0000000000000003", flags=1, xid=17),
     m.TableStatsReply((m.TableStats(0, 1, 2, 3),), flags=1, xid=17)),
    ("port_stats_reply",
     mp(19, 4, "00000001 00000000", *(f"{n:016x}" for n in range(2, 14)),
        "0000000e 0000000f", xid=18),
     m.PortStatsReply((m.PortStats(*range(1, 16)),), xid=18)),
    ("queue_stats_reply",
     mp(19, 5, "00000001 00000002 0000000000000003 0000000000000004 0000000000000005",
        "00000006 00000007", xid=19),
     m.QueueStatsReply((m.QueueStats(1, 2, 3, 4, 5, 6, 7),), xid=19)),
    ("group_stats_reply",
     mp(19, 6, "0038 0000 00000001 00000002 00000000",
        "0000000000000003 0000000000000004 00000005 00000006",
        "0000000000000007 0000000000000008", xid=20),
     m.GroupStatsReply((m.GroupStats(1, 2, 3, 4, 5, 6, (m.BucketCounter(7, 8),)),), xid=20)),
    ("group_desc_reply",
     mp(19, 7, "0028 03 00 00000001", "0020 0000 00000002 ffffffff 00000000", OUTPUT_2,
        xid=21),
     m.GroupDescStatsReply((m.GroupDesc(3, 1, (m.Bucket((a.Output(2),), watch_port=2),)),),
                           xid=21)),
    ("group_features_reply",
     mp(19, 8, "0000000f 00000005", "00000001 00000002 00000003 00000004",
        "03ffffff 00000001 00400000 00000000", xid=22),
     m.GroupFeaturesStatsReply(15, 5, (1, 2, 3, 4), (0x3FFFFFF, 1, 1 << 22, 0), xid=22)),
    ("meter_stats_reply",
     mp(19, 9, "00000001 0038 000000000000 00000002",
        "0000000000000003 0000000000000004 00000005 00000006",
        "0000000000000007 0000000000000008", xid=23),
     m.MeterStatsReply((m.MeterStats(1, 2, 3, 4, 5, 6, (m.MeterBandStats(7, 8),)),), xid=23)),
    ("meter_config_reply",
     mp(19, 10, "0028 0001 00000001",
        "0001 0010 00000064 0000000a 00000000",  # drop 100 kbps, burst 10
        "0002 0010 000000c8 00000014 02 000000",  # dscp_remark 200, burst 20, prec 2
        xid=24),
     m.MeterConfigStatsReply((m.MeterConfig(1, 1, (
         m.MeterBandDrop(100, 10), m.MeterBandDscpRemark(200, 20, 2))),), xid=24)),
    ("meter_features_reply",
     mp(19, 11, "00000400 00000006 0000000f 02 00 0000", xid=25),
     m.MeterFeaturesStatsReply(1024, 6, 15, 2, 0, xid=25)),
    ("table_features_reply",
     mp(19, 12, "0068 00 0000000000", text("t0", 32),
        "00000000000000ff 00000000000000f0 00000000 00000010",
        "0000 000c 0001 0004 0004 0004 00000000",  # INSTRUCTIONS goto, apply + pad
        "0002 0006 01 02 0000",  # NEXT_TABLES 1, 2 + pad
        "0008 000c 80000004 8000070c 00000000",  # MATCH in_port, eth_dst/mask + pad
        xid=26),
     m.TableFeaturesStatsReply((m.TableFeatures(0, "t0", 0xFF, 0xF0, 0, 16, (
         m.InstructionIds(0, (1, 4)), m.NextTables(2, (1, 2)),
         m.OxmIds(8, (("in_port", False), ("eth_dst", True))))),), xid=26)),
    ("port_desc_reply", mp(19, 13, PORT1_HEX, xid=27),
     m.PortDescStatsReply((PORT1,), xid=27)),
]

GOLDEN = [(n, bytes.fromhex(x), msg_) for n, x, msg_ in RYU_GOLDEN] + SPEC_GOLDEN


@pytest.mark.parametrize(("data", "expected"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_decode(data: bytes, expected: m.Message) -> None:
    assert v13.decode(data) == expected


@pytest.mark.parametrize(("expected", "model"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_encode(expected: bytes, model: m.Message) -> None:
    assert v13.encode(model).hex() == expected.hex()


def test_golden_covers_every_message_type() -> None:
    types = {data[1] for _, data, _ in GOLDEN}
    assert types == set(range(30))  # OFPT_HELLO (0) .. OFPT_METER_MOD (29)
    assert {type(msg_) for _, _, msg_ in GOLDEN} >= set(m.MULTIPART_REQUESTS) | set(
        m.MULTIPART_REPLIES)


# --- Hypothesis round trips --------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
macs = st.integers(0, (1 << 48) - 1)
xids = u32
small_bytes = st.binary(max_size=48)


def names(size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=size - 1)


@st.composite
def matches(draw) -> Match:
    kw: dict = {}
    if draw(st.booleans()):
        kw["in_port"] = draw(st.integers(1, 0xFFFFFF00))
    if draw(st.booleans()):
        kw["eth_dst"] = draw(st.one_of(macs, st.tuples(macs, macs)))
    if draw(st.booleans()):
        kw["metadata"] = draw(st.tuples(u64, u64))
    if draw(st.booleans()):
        kw["vlan_vid"] = 0x1000 | draw(st.integers(0, 0xFFF))
    l3 = draw(st.sampled_from(["", "ipv4", "ipv6", "arp"]))
    if l3 == "ipv4":
        kw.update(eth_type=0x0800, ipv4_src=draw(st.tuples(u32, u32)), ip_proto=6,
                  tcp_dst=draw(u16))
    elif l3 == "ipv6":
        kw.update(eth_type=0x86DD, ipv6_dst=draw(st.integers(0, (1 << 128) - 1)),
                  ip_proto=17, udp_src=draw(u16))
    elif l3 == "arp":
        kw.update(eth_type=0x0806, arp_op=draw(u16), arp_tha=draw(macs))
    return Match.build(**kw)


out_ports = st.one_of(st.integers(1, 0xFFFFFEFF), st.integers(0xFFFFFFF8, 0xFFFFFFFE))
single_actions = st.one_of(
    st.builds(a.Output, out_ports, u16),
    st.builds(a.Group, u32),
    st.builds(a.SetQueue, u32),
    st.builds(a.SetMplsTtl, u8),
    st.builds(a.SetNwTtl, u8),
    st.sampled_from([a.DecMplsTtl(), a.DecNwTtl(), a.CopyTtlOut(), a.CopyTtlIn(), a.PopVlan(),
                     a.PopPbb()]),
    st.builds(a.PushVlan, st.sampled_from([0x8100, 0x88A8])),
    st.builds(a.PushMpls, st.sampled_from([0x8847, 0x8848])),
    st.builds(a.PopMpls, u16),
    st.builds(a.PushPbb, st.just(0x88E7)),
    st.builds(a.SetField, st.just("eth_dst"), macs),
    st.builds(a.SetField, st.just("ipv4_src"), u32),
    st.builds(a.SetField, st.just("vlan_vid"), st.integers(0x1000, 0x1FFF)),
    st.builds(a.SetField, st.just("tcp_dst"), u16),
)
action_lists = st.lists(single_actions, max_size=4).map(tuple)
_INSTRUCTION_STRATEGIES = (
    st.builds(a.Meter, u32),
    st.builds(a.ApplyActions, action_lists),
    st.just(a.ClearActions()),
    st.builds(a.WriteActions, action_lists),
    st.builds(a.WriteMetadata, u64, u64),
    st.builds(a.GotoTable, st.integers(0, 0xFE)),
)


@st.composite
def instruction_lists(draw) -> tuple:
    chosen = draw(st.lists(st.integers(0, 5), unique=True, max_size=6))
    return tuple(draw(_INSTRUCTION_STRATEGIES[i]) for i in chosen)


ports = st.builds(m.Port, u32, macs, names(16), u32, u32, u32, u32, u32, u32, u32, u32)
buckets = st.builds(m.Bucket, action_lists, u16, u32, u32)
bands = st.one_of(
    st.builds(m.MeterBandDrop, u32, u32),
    st.builds(m.MeterBandDscpRemark, u32, u32, u8),
    st.builds(m.MeterBandExperimenter, u32, u32, u32, small_bytes),
)
oxm_names = st.sampled_from([f.name for f in OXM_FIELDS])
table_props = st.one_of(
    st.builds(m.InstructionIds, st.sampled_from([0, 1]), st.lists(u16, max_size=6).map(tuple)),
    st.builds(m.NextTables, st.sampled_from([2, 3]), st.lists(u8, max_size=9).map(tuple)),
    st.builds(m.ActionIds, st.sampled_from([4, 5, 6, 7]), st.lists(u16, max_size=6).map(tuple)),
    st.builds(m.OxmIds, st.sampled_from([8, 10, 12, 13, 14, 15]),
              st.lists(st.tuples(oxm_names, st.booleans()), max_size=6).map(tuple)),
    st.builds(m.ExperimenterProp, st.sampled_from([0xFFFE, 0xFFFF]), u32, u32, small_bytes),
)
table_features = st.builds(m.TableFeatures, u8, names(32), u64, u64, u32, u32,
                           st.lists(table_props, max_size=5).map(tuple))
flow_stats = st.builds(m.FlowStats, u8, u32, u32, u16, u16, u16, u16, u64, u64, u64, matches(),
                       instruction_lists())
masks = st.tuples(u32, u32)


def entries(strategy, size: int = 4):
    return st.lists(strategy, max_size=size).map(tuple)


def _b(cls, *args, **kw):
    return st.builds(cls, *args, xid=xids, **kw)


STRATEGIES: dict[type, st.SearchStrategy] = {
    m.Hello: _b(m.Hello, st.one_of(st.none(), st.frozensets(st.integers(0, 255)))),
    m.Error: st.one_of(
        _b(m.Error, st.integers(0, 0xFFFE), u16, small_bytes),
        _b(m.Error, st.just(0xFFFF), u16, small_bytes, u32)),
    m.EchoRequest: _b(m.EchoRequest, small_bytes),
    m.EchoReply: _b(m.EchoReply, small_bytes),
    m.Experimenter: _b(m.Experimenter, u32, u32, small_bytes),
    m.FeaturesRequest: _b(m.FeaturesRequest),
    m.FeaturesReply: _b(m.FeaturesReply, u64, u32, u8, u8, u32),
    m.GetConfigRequest: _b(m.GetConfigRequest),
    m.GetConfigReply: _b(m.GetConfigReply, u16, u16),
    m.SetConfig: _b(m.SetConfig, u16, u16),
    m.PacketIn: _b(m.PacketIn, u32, u16, u8, u8, u64, matches(), st.binary(max_size=128)),
    m.FlowRemoved: _b(m.FlowRemoved, u64, u16, u8, u8, u32, u32, u16, u16, u64, u64, matches()),
    m.PortStatus: _b(m.PortStatus, u8, ports),
    m.PacketOut: _b(m.PacketOut, u32, u32, action_lists, small_bytes),
    m.FlowMod: _b(m.FlowMod, matches(), u64, u64, u8, u8, u16, u16, u16, u32, u32, u32, u16,
                  instruction_lists()),
    m.GroupMod: _b(m.GroupMod, u16, u8, u32, entries(buckets)),
    m.PortMod: _b(m.PortMod, u32, macs, u32, u32, u32),
    m.TableMod: _b(m.TableMod, u8, u32),
    m.MeterMod: _b(m.MeterMod, u16, u16, u32, entries(bands)),
    m.BarrierRequest: _b(m.BarrierRequest),
    m.BarrierReply: _b(m.BarrierReply),
    m.QueueGetConfigRequest: _b(m.QueueGetConfigRequest, u32),
    m.QueueGetConfigReply: _b(m.QueueGetConfigReply, u32, entries(st.builds(
        m.PacketQueue, u32, u32, st.none() | u16, st.none() | u16))),
    m.RoleRequest: _b(m.RoleRequest, u32, u64),
    m.RoleReply: _b(m.RoleReply, u32, u64),
    m.GetAsyncRequest: _b(m.GetAsyncRequest),
    m.GetAsyncReply: _b(m.GetAsyncReply, masks, masks, masks),
    m.SetAsync: _b(m.SetAsync, masks, masks, masks),
    m.DescStatsRequest: _b(m.DescStatsRequest, u16),
    m.DescStatsReply: _b(m.DescStatsReply, names(256), names(256), names(256), names(32),
                         names(256), u16),
    m.FlowStatsRequest: _b(m.FlowStatsRequest, matches(), u8, u32, u32, u64, u64, u16),
    m.FlowStatsReply: _b(m.FlowStatsReply, entries(flow_stats), u16),
    m.AggregateStatsRequest: _b(m.AggregateStatsRequest, matches(), u8, u32, u32, u64, u64,
                                u16),
    m.AggregateStatsReply: _b(m.AggregateStatsReply, u64, u64, u32, u16),
    m.TableStatsRequest: _b(m.TableStatsRequest, u16),
    m.TableStatsReply: _b(m.TableStatsReply, entries(st.builds(m.TableStats, u8, u32, u64, u64)),
                          u16),
    m.PortStatsRequest: _b(m.PortStatsRequest, u32, u16),
    m.PortStatsReply: _b(m.PortStatsReply, entries(st.builds(
        m.PortStats, u32, *[u64] * 12, u32, u32)), u16),
    m.QueueStatsRequest: _b(m.QueueStatsRequest, u32, u32, u16),
    m.QueueStatsReply: _b(m.QueueStatsReply, entries(st.builds(
        m.QueueStats, u32, u32, u64, u64, u64, u32, u32)), u16),
    m.GroupStatsRequest: _b(m.GroupStatsRequest, u32, u16),
    m.GroupStatsReply: _b(m.GroupStatsReply, entries(st.builds(
        m.GroupStats, u32, u32, u64, u64, u32, u32,
        entries(st.builds(m.BucketCounter, u64, u64)))), u16),
    m.GroupDescStatsRequest: _b(m.GroupDescStatsRequest, u16),
    m.GroupDescStatsReply: _b(m.GroupDescStatsReply, entries(st.builds(
        m.GroupDesc, u8, u32, entries(buckets, 3))), u16),
    m.GroupFeaturesStatsRequest: _b(m.GroupFeaturesStatsRequest, u16),
    m.GroupFeaturesStatsReply: _b(m.GroupFeaturesStatsReply, u32, u32,
                                  st.tuples(u32, u32, u32, u32), st.tuples(u32, u32, u32, u32),
                                  u16),
    m.MeterStatsRequest: _b(m.MeterStatsRequest, u32, u16),
    m.MeterStatsReply: _b(m.MeterStatsReply, entries(st.builds(
        m.MeterStats, u32, u32, u64, u64, u32, u32,
        entries(st.builds(m.MeterBandStats, u64, u64)))), u16),
    m.MeterConfigStatsRequest: _b(m.MeterConfigStatsRequest, u32, u16),
    m.MeterConfigStatsReply: _b(m.MeterConfigStatsReply, entries(st.builds(
        m.MeterConfig, u16, u32, entries(bands))), u16),
    m.MeterFeaturesStatsRequest: _b(m.MeterFeaturesStatsRequest, u16),
    m.MeterFeaturesStatsReply: _b(m.MeterFeaturesStatsReply, u32, u32, u32, u8, u8, u16),
    m.TableFeaturesStatsRequest: _b(m.TableFeaturesStatsRequest, entries(table_features, 3),
                                    u16),
    m.TableFeaturesStatsReply: _b(m.TableFeaturesStatsReply, entries(table_features, 3), u16),
    m.PortDescStatsRequest: _b(m.PortDescStatsRequest, u16),
    m.PortDescStatsReply: _b(m.PortDescStatsReply, entries(ports, 6), u16),
}


def test_every_encodable_class_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(v13._ENCODERS)


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    original = data.draw(STRATEGIES[cls])
    wire = v13.encode(original)
    assert wire[0] == 4 and struct.unpack_from("!H", wire, 2)[0] == len(wire)
    assert v13.decode(wire) == original


# --- Decode errors -------------------------------------------------------------------

BUCKET_OUT2 = "0020 0000 ffffffff ffffffff 00000000" + OUTPUT_2
DROP_BAND = "0001 0010 00000064 00000000 00000000"
TF_HEAD = "00 0000000000" + text("t", 32) + "0000000000000000 0000000000000000 00000000 00000000"

ERROR_CASES: list[tuple[str, bytes, Err]] = [
    ("short_header", b"\x04\x00\x00", Err.OFPBRC_BAD_LEN),
    ("length_mismatch", h("0402 0010 00000000 61"), Err.OFPBRC_BAD_LEN),
    ("unknown_type_30", msg(30), Err.OFPBRC_BAD_TYPE),
    ("unknown_type_255", msg(255, "00000000"), Err.OFPBRC_BAD_TYPE),
    ("features_request_body", msg(5, "00"), Err.OFPBRC_BAD_LEN),
    ("barrier_request_body", msg(20, "0000000000000000"), Err.OFPBRC_BAD_LEN),
    ("get_async_request_body", msg(26, "00"), Err.OFPBRC_BAD_LEN),
    ("error_short", msg(1, "0001"), Err.OFPBRC_BAD_LEN),
    ("error_experimenter_short", msg(1, "ffff 0001 0000"), Err.OFPBRC_BAD_LEN),
    ("experimenter_short", msg(4, "00002320 0000"), Err.OFPBRC_BAD_LEN),
    ("features_reply_short", msg(6, "00" * 23), Err.OFPBRC_BAD_LEN),
    ("features_reply_long", msg(6, "00" * 25), Err.OFPBRC_BAD_LEN),
    ("set_config_short", msg(9, "0000"), Err.OFPBRC_BAD_LEN),
    ("get_config_reply_long", msg(8, "0000 0080 00"), Err.OFPBRC_BAD_LEN),
    ("packet_in_short", msg(10, "ffffffff 0000 00 00 0000000000000000 0001 0004"),
     Err.OFPBRC_BAD_LEN),
    ("packet_in_no_pad", msg(10, "ffffffff 0000 00 00 0000000000000000", "0001 0004 00000000",
                             "00"), Err.OFPBRC_BAD_LEN),
    ("packet_in_match_too_long", msg(10, "ffffffff 0000 00 00 0000000000000000",
                                     "0001 0020 00000000 0000"), Err.OFPBMC_BAD_LEN),
    ("flow_removed_short", msg(11, "00" * 40), Err.OFPBRC_BAD_LEN),
    ("flow_removed_trailing", msg(11, "00" * 40, MATCH_IN_PORT_1, "00000000 00000000"),
     Err.OFPBRC_BAD_LEN),
    ("port_status_short", msg(12, "00" * 71), Err.OFPBRC_BAD_LEN),
    ("packet_out_short", msg(13, "ffffffff fffffffd 0000 0000"), Err.OFPBRC_BAD_LEN),
    ("packet_out_actions_len", msg(13, "ffffffff fffffffd 0018 000000000000", OUTPUT_2),
     Err.OFPBRC_BAD_LEN),
    ("packet_out_bad_action_len", msg(13, "ffffffff fffffffd 0008 000000000000", OUTPUT_2),
     Err.OFPBAC_BAD_LEN),
    ("flow_mod_short", msg(14, "00" * 44), Err.OFPBRC_BAD_LEN),
    ("flow_mod_bad_instruction", msg(14, "00" * 40, MATCH_IN_PORT_1, "0009 0008 00000000"),
     Err.OFPBIC_UNKNOWN_INST),
    ("flow_mod_bad_match_type", msg(14, "00" * 40, "0000 0004 00000000"), Err.OFPBMC_BAD_TYPE),
    ("group_mod_short", msg(15, "0000 00 00 0000"), Err.OFPBRC_BAD_LEN),
    ("bucket_len_short", msg(15, "0000 00 00 00000001", "0008 0000 ffffffff ffffffff 00000000"),
     Err.OFPGMFC_BAD_BUCKET),
    ("bucket_len_past_end", msg(15, "0000 00 00 00000001", "0030", BUCKET_OUT2[4:]),
     Err.OFPGMFC_BAD_BUCKET),
    ("bucket_leftover", msg(15, "0000 00 00 00000001", BUCKET_OUT2, "0008 0000 00000000"),
     Err.OFPGMFC_BAD_BUCKET),
    ("bucket_bad_action", msg(15, "0000 00 00 00000001", "0018 0000 ffffffff ffffffff 00000000",
                              "0063 0008 00000000"), Err.OFPBAC_BAD_TYPE),
    ("port_mod_short", msg(16, "00" * 31), Err.OFPBRC_BAD_LEN),
    ("table_mod_long", msg(17, "00" * 9), Err.OFPBRC_BAD_LEN),
    ("meter_mod_short", msg(29, "0000 0001"), Err.OFPBRC_BAD_LEN),
    ("band_unknown_type", msg(29, "0000 0001 00000001", "0003 0010 00000001 00000000 00000000"),
     Err.OFPMMFC_BAD_BAND),
    ("band_drop_long", msg(29, "0000 0001 00000001", "0001 0018 00000001 00000000",
                           "00000000 00000000 00000000 00000000"), Err.OFPBRC_BAD_LEN),
    ("band_len_short", msg(29, "0000 0001 00000001", "0001 0008 00000001 00000000 00000000"),
     Err.OFPBRC_BAD_LEN),
    ("band_past_end", msg(29, "0000 0001 00000001", "0001 0020 00000001 00000000 00000000"),
     Err.OFPBRC_BAD_LEN),
    ("band_leftover", msg(29, "0000 0001 00000001", DROP_BAND, "0001 0010"), Err.OFPBRC_BAD_LEN),
    ("queue_get_config_request_short", msg(22, "00000001"), Err.OFPBRC_BAD_LEN),
    ("queue_reply_short", msg(23, "00000001"), Err.OFPBRC_BAD_LEN),
    ("queue_len_short", msg(23, "00000001 00000000", "00000001 00000001 0008 000000000000"),
     Err.OFPBRC_BAD_LEN),
    ("queue_len_odd", msg(23, "00000001 00000000", "00000001 00000001 0014 000000000000",
                          "00000000"), Err.OFPBRC_BAD_LEN),
    ("queue_truncated", msg(23, "00000001 00000000", "00000001 00000001"), Err.OFPBRC_BAD_LEN),
    ("queue_prop_len_short", msg(23, "00000001 00000000", "00000001 00000001 0018 000000000000",
                                 "0001 0004 00000000"), Err.OFPBRC_BAD_LEN),
    ("queue_len_past_end", msg(23, "00000001 00000000", "00000001 00000001 0028 000000000000",
                           "0001 0010 00000000 0064 000000000000"), Err.OFPBRC_BAD_LEN),
    ("queue_min_rate_long", msg(23, "00000001 00000000", "00000001 00000001 0028 000000000000",
                                "0001 0018 00000000 0064 000000000000 0000000000000000"),
     Err.OFPBRC_BAD_LEN),
    ("role_request_short", msg(24, "00000002"), Err.OFPBRC_BAD_LEN),
    ("set_async_short", msg(28, "00" * 20), Err.OFPBRC_BAD_LEN),
    ("multipart_short", msg(18, "0000"), Err.OFPBRC_BAD_LEN),
    ("multipart_reply_short", msg(19, "000d 0000"), Err.OFPBRC_BAD_LEN),
    ("multipart_request_type_14", mp(18, 14), Err.OFPBRC_BAD_MULTIPART),
    ("multipart_reply_type_0x1234", mp(19, 0x1234), Err.OFPBRC_BAD_MULTIPART),
    ("experimenter_request", mp(18, 0xFFFF, "00002320 00000001"), Err.OFPBRC_BAD_EXPERIMENTER),
    ("experimenter_reply", mp(19, 0xFFFF, "00002320 00000001"), Err.OFPBRC_BAD_EXPERIMENTER),
    ("desc_request_body", mp(18, 0, "00000000"), Err.OFPBRC_BAD_LEN),
    ("port_desc_request_body", mp(18, 13, "00000000"), Err.OFPBRC_BAD_LEN),
    ("port_stats_request_short", mp(18, 4, "00000001"), Err.OFPBRC_BAD_LEN),
    ("queue_stats_request_long", mp(18, 5, "00000001 00000001 00000000"), Err.OFPBRC_BAD_LEN),
    ("flow_stats_request_short", mp(18, 1, "ff000000 ffffffff ffffffff"), Err.OFPBRC_BAD_LEN),
    ("flow_stats_request_trailing",
     mp(18, 1, "ff000000 ffffffff ffffffff 00000000", "00" * 16, "0001 0004 00000000",
        "00000000"), Err.OFPBRC_BAD_LEN),
    ("flow_stats_request_match_past_end",
     mp(18, 1, "ff000000 ffffffff ffffffff 00000000", "00" * 16, "0001 0010 00000000"),
     Err.OFPBMC_BAD_LEN),
    ("desc_reply_short", mp(19, 0, "00" * 1055), Err.OFPBRC_BAD_LEN),
    ("aggregate_reply_short", mp(19, 2, "00" * 16), Err.OFPBRC_BAD_LEN),
    ("group_features_reply_short", mp(19, 8, "00" * 36), Err.OFPBRC_BAD_LEN),
    ("meter_features_reply_long", mp(19, 11, "00" * 24), Err.OFPBRC_BAD_LEN),
    ("flow_stats_entry_short", mp(19, 1, "0030", "00" * 46, "0001 0004 00000000"),
     Err.OFPBRC_BAD_LEN),
    ("flow_stats_entry_past_end", mp(19, 1, "0060", "00" * 46, "0001 0004 00000000"),
     Err.OFPBRC_BAD_LEN),
    ("flow_stats_truncated", mp(19, 1, "0038", "00" * 20), Err.OFPBRC_BAD_LEN),
    ("flow_stats_match_past_entry",
     mp(19, 1, "0038", "00" * 46, "0001 0014 00000000", "00" * 16), Err.OFPBMC_BAD_LEN),
    ("table_stats_partial", mp(19, 3, "00" * 23), Err.OFPBRC_BAD_LEN),
    ("port_stats_partial", mp(19, 4, "00" * 111), Err.OFPBRC_BAD_LEN),
    ("queue_stats_partial", mp(19, 5, "00" * 39), Err.OFPBRC_BAD_LEN),
    ("port_desc_partial", mp(19, 13, PORT1_HEX, "00" * 8), Err.OFPBRC_BAD_LEN),
    ("group_stats_len_short", mp(19, 6, "0020", "00" * 38), Err.OFPBRC_BAD_LEN),
    ("group_stats_counters_partial", mp(19, 6, "0030", "00" * 46), Err.OFPBRC_BAD_LEN),
    ("group_desc_len_short", mp(19, 7, "0004 00 00 00000001"), Err.OFPBRC_BAD_LEN),
    ("group_desc_past_end", mp(19, 7, "0030 00 00 00000001", BUCKET_OUT2), Err.OFPBRC_BAD_LEN),
    ("group_desc_bucket_leftover", mp(19, 7, "0020 00 00 00000001",
                                      "0010 0000 ffffffff ffffffff 00000000",
                                      "0000000000000000"), Err.OFPGMFC_BAD_BUCKET),
    ("meter_stats_len_short", mp(19, 9, "00000001 0010", "00" * 34), Err.OFPBRC_BAD_LEN),
    ("meter_stats_counters_partial", mp(19, 9, "00000001 0030", "00" * 42), Err.OFPBRC_BAD_LEN),
    ("meter_config_len_short", mp(19, 10, "0004 0001 00000001"), Err.OFPBRC_BAD_LEN),
    ("meter_config_bad_band", mp(19, 10, "0018 0001 00000001",
                                 "0009 0010 00000001 00000000 00000000"), Err.OFPMMFC_BAD_BAND),
    ("table_features_truncated", mp(19, 12, "0040 00 0000000000"), Err.OFPTFFC_BAD_LEN),
    ("table_features_len_short", mp(19, 12, "0038", TF_HEAD), Err.OFPTFFC_BAD_LEN),
    ("table_features_past_end", mp(19, 12, "0048", TF_HEAD), Err.OFPTFFC_BAD_LEN),
    ("table_prop_len_short", mp(19, 12, "0048", TF_HEAD, "0000 0002 00000000"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_past_entry", mp(19, 12, "0048", TF_HEAD, "0002 0010 00000000"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_header_partial", mp(19, 12, "0042", TF_HEAD, "0002"), Err.OFPTFFC_BAD_LEN),
    ("table_prop_padding_past_entry", mp(19, 12, "0046", TF_HEAD, "0002 0006 0102"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_instruction_id_len", mp(19, 12, "0048", TF_HEAD, "0000 0008 0001 0002"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_instruction_id_partial", mp(19, 12, "0048", TF_HEAD, "0000 0006 0001 0000"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_action_id_past_prop", mp(19, 12, "0048", TF_HEAD, "0004 0008 0000 0008"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_experimenter_short", mp(19, 12, "0048", TF_HEAD, "fffe 0008 00002320"),
     Err.OFPTFFC_BAD_LEN),
    ("table_prop_oxm_partial", mp(19, 12, "0048", TF_HEAD, "0008 0006 8000 0000"),
     Err.OFPBMC_BAD_LEN),
    ("table_prop_unknown_in_request", mp(18, 12, "0048", TF_HEAD, "0009 0004 00000000"),
     Err.OFPTFFC_BAD_TYPE),
    ("hello_leftover", msg(0, "0001"), Err.OFPBRC_BAD_LEN),
    ("hello_element_len_short", msg(0, "0001 0002 00000000"), Err.OFPBRC_BAD_LEN),
    ("hello_element_past_end", msg(0, "0001 0010 00000012"), Err.OFPBRC_BAD_LEN),
    ("hello_bitmap_partial_word", msg(0, "0001 0007 000012 00"), Err.OFPBRC_BAD_LEN),
]


@pytest.mark.parametrize(("data", "err"), [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_decode_error(data: bytes, err: Err) -> None:
    with pytest.raises(CodecError) as info:
        v13.decode(data)
    assert info.value.err is err, info.value


def test_unknown_table_feature_property_in_a_reply_is_skipped() -> None:
    data = mp(19, 12, "0050", TF_HEAD, "0009 0006 0000 0000", "0002 0005 07 000000")
    reply = v13.decode(data)
    assert reply == m.TableFeaturesStatsReply((m.TableFeatures(
        0, "t", properties=(m.NextTables(2, (7,)),)),))


def test_unknown_queue_property_is_skipped() -> None:
    data = msg(23, "00000001 00000000", "00000002 00000001 0030 000000000000",
               "ffff 0010 00000000 00002320 00000000",  # OFPQT_EXPERIMENTER
               "0002 0010 00000000 0064 000000000000")
    assert v13.decode(data) == m.QueueGetConfigReply(1, (m.PacketQueue(2, 1, None, 100),))


def test_experimenter_action_and_instruction_ids_keep_their_type() -> None:
    data = mp(19, 12, "0060", TF_HEAD, "0006 0010 ffff 0008 00002320 0000 0004",
              "0000 000c ffff 0008 00002320 00000000")
    features = v13.decode(data).entries[0]
    assert features.properties == (m.ActionIds(6, (0xFFFF, 0)), m.InstructionIds(0, (0xFFFF,)))


@pytest.mark.parametrize("msg_type", range(30))
def test_every_type_has_a_decoder(msg_type: int) -> None:
    """A bare header of each OF1.3 type decodes or is too short; never 'unknown type'."""
    try:
        v13.decode(msg(msg_type))
    except CodecError as exc:
        assert exc.err is Err.OFPBRC_BAD_LEN


@pytest.mark.parametrize(("expected", "model"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_truncated_fixed_parts_are_bad_len(expected: bytes, model: m.Message) -> None:
    """Cutting a message short (header length kept consistent) never escapes CodecError,
    and cutting into the fixed part is OFPBRC_BAD_LEN."""
    fixed = FIXED_SIZE.get(expected[1], 8)
    for size in range(8, len(expected)):
        cut = bytearray(expected[:size])
        cut[2:4] = size.to_bytes(2, "big")
        try:
            v13.decode(bytes(cut))
        except CodecError as exc:
            if size < fixed:
                assert exc.err is Err.OFPBRC_BAD_LEN, (size, exc)
        else:
            assert size >= fixed, size


# Smallest valid size of each type (fixed part, plus an empty match where there is one).
FIXED_SIZE = {1: 12, 4: 16, 6: 32, 8: 12, 9: 12, 10: 34, 11: 56, 12: 80, 13: 24, 14: 56,
              15: 16, 16: 40, 17: 16, 18: 16, 19: 16, 22: 16, 23: 16, 24: 24, 25: 24, 27: 32,
              28: 32, 29: 16}


def test_decode_accepts_bytearray_and_memoryview() -> None:
    name, data, expected = SPEC_GOLDEN[[g[0] for g in SPEC_GOLDEN].index("flow_stats_reply")]
    assert v13.decode(bytearray(data)) == expected
    assert v13.decode(memoryview(data)) == expected
    flow_mod = bytes.fromhex(RYU_GOLDEN[9][1])
    assert v13.decode(memoryview(flow_mod)) == RYU_GOLDEN[9][2]
    hello = SPEC_GOLDEN[0][1]
    assert v13.decode_hello(memoryview(hello)) == v13.decode(bytearray(hello))


# --- HELLO --------------------------------------------------------------------------


def test_decode_hello_of_a_newer_version() -> None:
    hello = v13.decode_hello(h("06 00 0010 00000009", "0001 0008 00000052"))
    assert hello == m.Hello(frozenset({1, 4, 6}), xid=9)


def test_decode_hello_multi_word_bitmap_and_unknown_elements() -> None:
    data = h(
        "05 00 0028 00000001",
        "0007 0005 aa 000000",  # unknown element type 7, 5 bytes + 3 pad: skipped
        "0001 0010 80000010 00000000 00000041",  # versions 4, 31, 64, 70
        "0002 0004 00000000",  # unknown type 2, empty
    )
    assert v13.decode_hello(data) == m.Hello(frozenset({4, 31, 64, 70}), xid=1)


def test_decode_hello_without_elements_or_with_unpadded_last_element() -> None:
    assert v13.decode_hello(h("01 00 0008 00000003")) == m.Hello(None, xid=3)
    assert v13.decode_hello(h("04 00 0010 00000003 0001 0008 00000012")).versions == {1, 4}
    # 12-byte bitmap element whose 4 padding bytes are missing at the end: accepted.
    data = h("04 00 0014 00000003 0001 000c 00000010 00000001")
    assert v13.decode_hello(data).versions == {4, 32}


def test_decode_hello_errors() -> None:
    for data in (h("04 00"), h("04 00 0010 00000000"), h("04 00 000c 00000000 0001 0008")):
        with pytest.raises(CodecError) as info:
            v13.decode_hello(data)
        assert info.value.err is Err.OFPBRC_BAD_LEN


def test_encode_hello() -> None:
    assert v13.encode_hello(1, None, 7) == h("01 00 0008 00000007")
    assert v13.encode_hello(4, frozenset({1, 4}), 1) == h("04000010 00000001 00010008 00000012")
    assert v13.encode_hello(6, frozenset({1, 4, 6, 40}), 2) == h(
        "06 00 0018 00000002", "0001 000c 00000052 00000100", "00000000")
    assert v13.encode_hello(4, frozenset(), 0) == h("04 00 0010 00000000 0001 0004 00000000")
    for bad in (-1, 256):
        with pytest.raises(ValueError):
            v13.encode_hello(4, frozenset({bad}), 0)


def test_decode_hello_ignores_bitmap_words_past_version_255() -> None:
    data = msg(0, "0001 0028", "00000010", "00000000" * 7, "ffffffff")  # word 8: 256..287
    assert v13.decode_hello(data).versions == {4}


@given(st.frozensets(st.integers(0, 255)), u32, st.integers(1, 0xFF))
def test_hello_round_trip_any_version(versions: frozenset, xid: int, version: int) -> None:
    data = v13.encode_hello(version, versions, xid)
    assert data[0] == version and len(data) % 8 == 0
    assert v13.decode_hello(data) == m.Hello(versions, xid=xid)


# --- encode_parts --------------------------------------------------------------------

PORTS = tuple(m.Port(n, MAC1 + n, f"port{n}") for n in range(1, 101))


def _parts_ok(reply: m.Message, limit: int) -> list[bytes]:
    parts = v13.encode_parts(reply, limit)
    entries = []
    for i, part in enumerate(parts):
        assert len(part) <= limit
        decoded = v13.decode(part)
        assert type(decoded) is type(reply) and decoded.xid == reply.xid
        assert decoded.flags == (0 if i == len(parts) - 1 else 1)
        entries.extend(decoded.entries)
    assert tuple(entries) == reply.entries
    return parts


def test_encode_parts_splits_port_desc() -> None:
    reply = m.PortDescStatsReply(PORTS, xid=77)
    parts = _parts_ok(reply, 1000)
    # 16-byte header + 15 ports of 64 bytes = 976 per full part; 100 ports -> 7 parts.
    assert [len(p) for p in parts] == [976] * 6 + [16 + 10 * 64]
    assert struct.unpack_from("!HH", parts[0], 8) == (13, 1)
    assert struct.unpack_from("!HH", parts[-1], 8) == (13, 0)


def test_encode_parts_fits_in_one_message_when_it_can() -> None:
    reply = m.PortDescStatsReply(PORTS[:3], xid=1)
    assert v13.encode_parts(reply, 65535) == [v13.encode(reply)]
    assert v13.encode_parts(reply, 16 + 3 * 64) == [v13.encode(reply)]
    assert len(v13.encode_parts(reply, 16 + 3 * 64 - 1)) == 2


def test_encode_parts_empty_reply_is_one_message() -> None:
    for cls in m.LISTED_REPLIES:
        reply = cls(xid=3)
        assert v13.encode_parts(reply, 100) == [v13.encode(reply)]
        assert len(v13.encode(reply)) == 16


def test_encode_parts_default_limit_and_large_reply() -> None:
    reply = m.PortDescStatsReply(tuple(m.Port(n) for n in range(1, 2001)), xid=9)
    parts = _parts_ok(reply, 65535)
    assert len(parts) == 2  # 1023 ports of 64 bytes per 65535-byte message
    with pytest.raises(ValueError):
        v13.encode(reply)  # one message cannot hold it


def test_encode_parts_other_messages_are_single() -> None:
    for sample in (m.DescStatsReply("a"), m.FlowMod(), m.AggregateStatsReply(1, 2, 3),
                   m.PortDescStatsRequest()):
        assert v13.encode_parts(sample, 20) == [v13.encode(sample)]


def test_encode_parts_entry_bigger_than_limit() -> None:
    with pytest.raises(ValueError):
        v13.encode_parts(m.PortDescStatsReply(PORTS[:2]), 16 + 63)


@given(entries(flow_stats, 12), st.integers(400, 1500), xids)
def test_encode_parts_flow_stats_property(stats: tuple, limit: int, xid: int) -> None:
    reply = m.FlowStatsReply(stats, xid=xid)
    parts = _parts_ok(reply, limit)
    # Greedy packing: no part could have taken the next part's first entry.
    sizes = [len(v13.encode(m.FlowStatsReply((e,)))) - 16 for e in stats]
    taken = 0
    for part in parts[:-1]:
        count = len(v13.decode(part).entries)
        taken += count
        assert len(part) + sizes[taken] > limit


# --- Encode errors (ValueError, never CodecError or struct.error) ----------------------

BAD_ENCODES = [
    m.Message(),
    m.FlowMod(priority=0x10000),
    m.PortMod(1, 1 << 48),
    m.EchoRequest(bytes(70000)),
    m.PacketOut(actions=(a.Enqueue(1, 2),)),
    m.GroupMod(0, 0, 1, (m.Bucket((a.SetVlanVid(5),)),)),
    m.FlowMod(instructions=(a.ApplyActions((a.SetTpDst(80),)),)),
    m.TableFeaturesStatsReply((m.TableFeatures(0, properties=(m.OxmIds(2),)),)),
    m.TableFeaturesStatsReply((m.TableFeatures(0, properties=(m.NextTables(2, (256,)),)),)),
    m.MeterMod(0, 0, 1, (object(),)),  # type: ignore[arg-type]
    m.GroupFeaturesStatsReply(max_groups=(1, 2, 3)),  # type: ignore[arg-type]
    m.RoleRequest(-1),
    m.Error(0xFFFF, 1, b""),  # experimenter error without its experimenter id
    m.Error(1, 6, b"", experimenter=0x2320),
    m.FeaturesReply(1 << 64),
]


@pytest.mark.parametrize("bad", BAD_ENCODES, ids=lambda x: type(x).__name__)
def test_encode_value_error(bad: m.Message) -> None:
    with pytest.raises(ValueError):
        v13.encode(bad)


def test_of10_only_fields_are_not_sent() -> None:
    reply = m.FeaturesReply(1, ports=(m.Port(1),), actions=0xFFF, xid=2)
    assert v13.decode(v13.encode(reply)) == dataclasses.replace(reply, ports=(), actions=0)
    stats = m.TableStatsReply((m.TableStats(1, name="x", wildcards=3, max_entries=9),))
    assert v13.decode(v13.encode(stats)) == m.TableStatsReply((m.TableStats(1),))


def test_flow_mod_decodes_each_instruction_list_afresh() -> None:
    base = v13.encode(m.FlowMod(Match.build(in_port=1), instructions=APPLY_OUT2))
    assert v13.decode(base).instructions == APPLY_OUT2
    other = v13.encode(m.FlowMod(Match.build(in_port=1), instructions=(a.GotoTable(1),)))
    assert v13.decode(other).instructions == (a.GotoTable(1),)
    bad = base[:-16] + h("0000 0010 00000000 ffe5 000000000000")  # output to port 0
    for _ in range(2):
        with pytest.raises(CodecError):
            v13.decode(bad)


# --- Robustness: random and mutated bytes ---------------------------------------------

ROBUSTNESS_ROUNDS = 20_000


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    kind = rng.random()
    if kind < 0.1:
        data = bytearray(h("04") + bytes([rng.randrange(32)]) + rng.randbytes(rng.randrange(6, 120)))
    elif kind < 0.5:
        for _ in range(rng.randrange(1, 5)):
            pos = rng.randrange(8, len(data)) if len(data) > 8 else 0
            if data:
                data[pos] = rng.choice((0, 0xFF, rng.randrange(256), data[pos] ^ 1 << rng.randrange(8)))
    elif kind < 0.7:
        data = data[: rng.randrange(8, len(data) + 1)]
    elif kind < 0.85:
        data += rng.randbytes(rng.randrange(1, 24))
    elif len(data) >= 12:  # an edge value over a length/count field
        pos = rng.randrange(8, len(data) - 1)
        edge = rng.choice((0, 1, 4, 7, 8, 15, 16, 0xFF, 0xFFFF, len(data), len(data) - pos))
        data[pos:pos + 2] = (edge & 0xFFFF).to_bytes(2, "big")
    if len(data) >= 4 and rng.random() < 0.9:
        data[2:4] = (len(data) & 0xFFFF).to_bytes(2, "big")
    return bytes(data)


def test_random_and_mutated_bytes_raise_only_codec_errors() -> None:
    rng = random.Random(0x13)
    seeds = [data for _, data, _ in GOLDEN]
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(ROBUSTNESS_ROUNDS):
        data = _mutate(rng, rng.choice(seeds))
        try:
            v13.decode(data)
        except CodecError as exc:
            exc.type_code(4)  # maps to OF1.3 numbers
            outcomes["rejected"] += 1
        else:
            outcomes["decoded"] += 1
        if data[1:2] == b"\x00":
            try:
                v13.decode_hello(data)
            except CodecError:
                pass
    assert outcomes["decoded"] > ROBUSTNESS_ROUNDS // 10, outcomes
    assert outcomes["rejected"] > ROBUSTNESS_ROUNDS // 5, outcomes
