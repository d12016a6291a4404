"""Unit tests of the OpenFlow 1.0 message codec (openflow.v10).

* golden bytes per message type, both ways.  Controller-to-switch messages are
  bytes Ryu 4.34 serialized (its expression is next to each); switch-to-controller
  messages, which Ryu cannot serialize, are written field by field from the
  OpenFlow 1.0.0 spec layout and were checked with Open vSwitch 3.1's
  ``ovs-ofctl ofp-print``; tests/crosscheck/test_v10_ryu.py checks both directions
  live against Ryu;
* Hypothesis round trips (decode(encode(msg)) == msg) for every OF1.0 message class;
* the wire <-> model conversions (ports, feature bits, queue-stats "all ports");
* error paths: every decode failure is the right CodecError, every message OF1.0
  cannot express a ValueError;
* encode_parts splitting;
* 20,000 random and mutated inputs that may only raise CodecError.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow import actions as a
from openflow import messages as m
from openflow import v10
from openflow.consts import (
    OFP10,
    OFP13,
    OFP_NO_BUFFER,
    OFPFF_SEND_FLOW_REM,
    OFPMPF_REPLY_MORE,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_NORMAL,
    OFPP_TABLE,
    OFPPF_1GB_FD,
    OFPPF_1TB_FD,
    OFPPF_10GB_FD,
    OFPPF_10MB_HD,
    OFPPF_40GB_FD,
    OFPPF_100GB_FD,
    OFPPF_100MB_FD,
    OFPPF_AUTONEG,
    OFPPF_COPPER,
    OFPPF_FIBER,
    OFPPF_OTHER,
    OFPPF_PAUSE,
    OFPPF_PAUSE_ASYM,
    OFPQ_ALL,
    OFPTT_ALL,
    OFPVID_PRESENT,
)
from openflow.errors import CodecError, Err
from openflow.match import Match

MAC_A = 0x001122334455
MAC_B = 0xFAC8E8761D7E


def h(text: str) -> bytes:
    """Hex with spaces and ``|`` field separators allowed."""
    return bytes.fromhex(text.replace("|", " "))


def _port_eth1_hex() -> str:
    # port_no | hw_addr | name[16] | config | state | curr | advertised | supported | peer
    return ("0001 | 001122334455 | 6574683100000000 0000000000000000 | 00000010 | 00000200"
            " | 000002a0 | 00000408 | 00000920 | 00000001")


PORT_ETH1 = m.Port(
    1, MAC_A, "eth1", config=0x10, state=0x200,
    curr=OFPPF_1GB_FD | OFPPF_COPPER | OFPPF_AUTONEG, advertised=OFPPF_100MB_FD | OFPPF_PAUSE,
    supported=OFPPF_1GB_FD | OFPPF_FIBER | OFPPF_PAUSE_ASYM, peer=OFPPF_10MB_HD,
)
PORT_LOCAL = m.Port(OFPP_LOCAL, MAC_B, "br0", config=1, state=1)
PORT_LOCAL_HEX = ("fffe | fac8e8761d7e | 6272300000000000 0000000000000000 | 00000001 | 00000001"
                  " | 00000000 | 00000000 | 00000000 | 00000000")
MATCH_IN_PORT_1_HEX = "003ffffe 0001" + "00" * 34  # wildcards = OFPFW_ALL & ~OFPFW_IN_PORT

# (id, wire bytes, model).  Ryu-made bytes name the Ryu call that made them.
GOLDEN = [
    # Ryu: p.OFPHello(dp)
    ("hello", h("01 00 0008 00000000"), m.Hello()),
    # version bitmap element {1.0, 1.3}: type 1, length 8, bitmap 0x12
    ("hello_bitmap", h("01 00 0010 00000001 | 0001 0008 | 00000012"),
     m.Hello(frozenset({OFP10, OFP13}), xid=1)),
    # Ryu: p.OFPEchoRequest(dp, data=b'ping') with xid 7
    ("echo_request", h("01 02 000c 00000007 | 70696e67"), m.EchoRequest(b"ping", xid=7)),
    ("echo_reply", h("01 03 000c 00000007 | 706f6e67"), m.EchoReply(b"pong", xid=7)),
    ("error", h("01 01 0014 00000005 | 0001 0006 | 0104000800000005"),
     m.Error(1, 6, h("0104000800000005"), xid=5)),
    ("vendor", h("01 04 0010 00000003 | 00002320 | 01020304"),
     m.Experimenter(0x2320, 0, b"\x01\x02\x03\x04", xid=3)),
    # Ryu: p.OFPFeaturesRequest(dp)
    ("features_request", h("01 05 0008 00000000"), m.FeaturesRequest()),
    # dpid | n_buffers | n_tables, pad3 | capabilities | actions | ports
    ("features_reply",
     h("01 06 0050 00000004 | 0000000000abcdef | 00000100 | 02 000000 | 00000087 | 00000fff | "
       + _port_eth1_hex()),
     m.FeaturesReply(0xABCDEF, 256, 2, capabilities=0x87, actions=0xFFF, ports=(PORT_ETH1,), xid=4)),
    # Ryu: p.OFPGetConfigRequest(dp)
    ("get_config_request", h("01 07 0008 00000000"), m.GetConfigRequest()),
    ("get_config_reply", h("01 08 000c 00000006 | 0000 0080"), m.GetConfigReply(0, 128, xid=6)),
    # Ryu: p.OFPSetConfig(dp, 1, 256)
    ("set_config", h("01 09 000c 00000000 | 0001 0100"), m.SetConfig(1, 256)),
    # buffer_id | total_len | in_port | reason, pad | data
    ("packet_in", h("01 0a 0013 00000000 | 00000100 | 0020 | 0003 | 01 00 | 61"),
     m.PacketIn(0x100, 0x20, 1, match=Match.build(in_port=3), data=b"a")),
    ("packet_in_local", h("01 0a 0012 00000009 | ffffffff | 0000 | fffe | 00 00"),
     m.PacketIn(OFP_NO_BUFFER, 0, 0, match=Match.build(in_port=OFPP_LOCAL), xid=9)),
    # match | cookie | priority | reason, pad | duration s, ns | idle, pad2 | packets | bytes
    ("flow_removed",
     h("01 0b 0058 00000000 | " + MATCH_IN_PORT_1_HEX + " | 0000000000001234 | 000a | 02 00"
       " | 00000005 000001f4 | 001e 0000 | 0000000000000003 | 000000000000012c"),
     m.FlowRemoved(0x1234, 10, 2, 0, 5, 500, 30, 0, 3, 300, Match.build(in_port=1))),
    # reason, pad7 | ofp_phy_port
    ("port_status", h("01 0c 0040 00000000 | 02 00000000000000 | " + PORT_LOCAL_HEX),
     m.PortStatus(2, PORT_LOCAL)),
    # Ryu: p.OFPPacketOut(dp, 0xffffffff, o.OFPP_NONE, [p.OFPActionOutput(o.OFPP_FLOOD, 0)],
    #                     b'\x01\x02\x03\x04')
    ("packet_out", h("010d001c00000000ffffffffffff000800000008fffb000001020304"),
     m.PacketOut(OFP_NO_BUFFER, OFPP_ANY, (a.Output(OFPP_FLOOD, 0),), b"\x01\x02\x03\x04")),
    # Ryu: p.OFPFlowMod(dp, match=p.OFPMatch(in_port=1, dl_dst='fa:c8:e8:76:1d:7e',
    #          dl_src='00:11:22:33:44:55'), flags=1, actions=[p.OFPActionOutput(2)])
    ("flow_mod",
     h("010e005000000000003ffff20001001122334455fac8e8761d7e000000000000000000000000000000000000"
       "0000000000000000000000000000000000008000ffffffffffff0001000000080002ffe5"),
     m.FlowMod(Match.build(in_port=1, eth_dst=MAC_B, eth_src=MAC_A), flags=OFPFF_SEND_FLOW_REM,
               instructions=(a.ApplyActions((a.Output(2),)),))),
    # Ryu: p.OFPFlowMod(dp, match=p.OFPMatch(dl_type=0x800, nw_proto=6, nw_dst='10.0.0.0',
    #          nw_dst_mask=24, tp_dst=80), cookie=0x1234, idle_timeout=30, priority=10,
    #          actions=[p.OFPActionSetDlSrc('00:11:22:33:44:55'), p.OFPActionSetNwTos(0x28),
    #                   p.OFPActionEnqueue(3, 7)])
    ("flow_mod_ipv4",
     h("010e00700000000000323f4f000000000000000000000000000000000000080000060000000000000a000000"
       "0000005000000000000012340000001e0000000affffffffffff0000000400100011223344550000000000"
       "000008000828000000000b0010000300000000000000000007"),
     m.FlowMod(Match.build(eth_type=0x800, ip_proto=6, ipv4_dst=(0x0A000000, 0xFFFFFF00), tcp_dst=80),
               cookie=0x1234, idle_timeout=30, priority=10,
               instructions=(a.ApplyActions((a.SetField("eth_src", MAC_A), a.SetField("ip_dscp", 10),
                                             a.Enqueue(3, 7))),))),
    ("flow_mod_no_actions",
     h("010e0048 00000002 | 003fffff" + "00" * 36 + " | 0000000000000000 | 0003 | 0000 0000"
       " | 8000 | ffffffff | 0002 | 0000"),
     m.FlowMod(command=3, out_port=2, xid=2)),
    # Ryu: p.OFPPortMod(dp, 3, 'fa:c8:e8:76:1d:7e', 0, 0x65, 0x2ea)
    # advertise 0x2ea = 10MB_FD|100MB_FD|1GB_FD|10GB_FD|COPPER|AUTONEG (OF1.0 bits)
    ("port_mod", h("010f0020000000000003fac8e8761d7e0000000000000065000002ea00000000"),
     m.PortMod(3, MAC_B, 0, 0x65, (0x6A & 0x7F) | OFPPF_COPPER | OFPPF_AUTONEG)),
    # Ryu: p.OFPBarrierRequest(dp)
    ("barrier_request", h("0112000800000000"), m.BarrierRequest()),
    ("barrier_reply", h("01 13 0008 0000000b"), m.BarrierReply(xid=11)),
    # Ryu: p.OFPQueueGetConfigRequest(dp, 1)
    ("queue_get_config_request", h("0114000c0000000000010000"), m.QueueGetConfigRequest(1)),
    # port, pad6 | queue_id, len, pad2 | MIN_RATE: property, len, pad4 | rate, pad6
    ("queue_get_config_reply",
     h("01 15 0030 0000000c | 0002 000000000000 | 00000001 0018 0000 | 0001 0010 00000000"
       " | 01f4 000000000000 | 00000002 0008 0000"),
     m.QueueGetConfigReply(2, (m.PacketQueue(1, min_rate=500), m.PacketQueue(2)), xid=12)),
    # Ryu: p.OFPDescStatsRequest(dp, 0)
    ("desc_stats_request", h("0110000c0000000000000000"), m.DescStatsRequest()),
    ("desc_stats_reply",
     h("01 11 042c 0000000d | 0000 0000") + b"Maker".ljust(256, b"\0") + b"hw".ljust(256, b"\0")
     + b"sw".ljust(256, b"\0") + b"SN".ljust(32, b"\0") + b"br0".ljust(256, b"\0"),
     m.DescStatsReply("Maker", "hw", "sw", "SN", "br0", xid=13)),
    # Ryu: p.OFPFlowStatsRequest(dp, 0, p.OFPMatch(in_port=1), 0xff, o.OFPP_NONE)
    ("flow_stats_request",
     h("011000380000000000010000003ffffe00010000000000000000000000000000000000000000000000000000"
       "0000000000000000ff00ffff"),
     m.FlowStatsRequest(Match.build(in_port=1), OFPTT_ALL, OFPP_ANY)),
    # length, table_id, pad | match | dur s, ns | prio, idle, hard, pad6 | cookie, packets, bytes
    # | actions
    ("flow_stats_reply",
     h("01 11 006c 0000000e | 0001 0000 | 0060 00 00 | " + MATCH_IN_PORT_1_HEX
       + " | 00000001 00000002 | 000a 001e 0000 000000000000 | 0000000000001234"
       " | 0000000000000004 | 0000000000000190 | 0000 0008 0002 0000"),
     m.FlowStatsReply((m.FlowStats(0, 1, 2, 10, 30, 0, 0, 0x1234, 4, 400, Match.build(in_port=1),
                                   (a.ApplyActions((a.Output(2, 0),)),)),), xid=14)),
    # Ryu: p.OFPAggregateStatsRequest(dp, 0, p.OFPMatch(), 0xff, o.OFPP_NONE)
    ("aggregate_stats_request",
     h("011000380000000000020000003fffff00000000000000000000000000000000000000000000000000000000"
       "0000000000000000ff00ffff"),
     m.AggregateStatsRequest(Match(), OFPTT_ALL, OFPP_ANY)),
    ("aggregate_stats_reply",
     h("01 11 0024 0000000f | 0002 0000 | 000000000000000a | 00000000000003e8 | 00000002 00000000"),
     m.AggregateStatsReply(10, 1000, 2, xid=15)),
    # Ryu: p.OFPTableStatsRequest(dp, 0)
    ("table_stats_request", h("0110000c0000000000030000"), m.TableStatsRequest()),
    # table_id, pad3 | name[32] | wildcards | max_entries | active | lookups | matches
    ("table_stats_reply",
     h("01 11 004c 00000010 | 0003 0000 | 00 000000 | 636c617373696669657200000000000000000000"
       "000000000000000000000000 | 003fffff | 000f4240 | 00000002 | 0000000000000064"
       " | 000000000000005a"),
     m.TableStatsReply((m.TableStats(0, 2, 100, 90, "classifier", 0x3FFFFF, 1_000_000),), xid=16)),
    # Ryu: p.OFPPortStatsRequest(dp, 0, o.OFPP_NONE)
    ("port_stats_request", h("011000140000000000040000ffff000000000000"), m.PortStatsRequest(OFPP_ANY)),
    ("port_stats_reply",
     h("01 11 0074 00000011 | 0004 0001 | 0001 000000000000" + "".join(f" {n:016x}" for n in range(1, 13))),
     m.PortStatsReply((m.PortStats(1, *range(1, 13)),), flags=OFPMPF_REPLY_MORE, xid=17)),
    # Ryu: p.OFPQueueStatsRequest(dp, 0, o.OFPP_ALL, o.OFPQ_ALL)
    ("queue_stats_request", h("011000140000000000050000fffc0000ffffffff"),
     m.QueueStatsRequest(OFPP_ANY, OFPQ_ALL)),
    # port_no, pad2 | queue_id | tx_bytes | tx_packets | tx_errors
    ("queue_stats_reply",
     h("01 11 002c 00000012 | 0005 0000 | 0001 0000 | 00000001 | 0000000000000005"
       " | 0000000000000001 | 0000000000000000"),
     m.QueueStatsReply((m.QueueStats(1, 1, 5, 1, 0),), xid=18)),
    # Open vSwitch's OFPST10_PORT_DESC (stats type 13): empty request, ofp_phy_port[] reply
    ("port_desc_request", h("01 10 000c 00000013 | 000d 0000"), m.PortDescStatsRequest(xid=0x13)),
    ("port_desc_reply",
     h("01 11 006c 00000013 | 000d 0000 | " + _port_eth1_hex() + " | " + PORT_LOCAL_HEX),
     m.PortDescStatsReply((PORT_ETH1, PORT_LOCAL), xid=0x13)),
]


@pytest.mark.parametrize("data, msg", [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_decode(data: bytes, msg: m.Message) -> None:
    assert v10.decode(data) == msg


@pytest.mark.parametrize("data, msg", [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_encode(data: bytes, msg: m.Message) -> None:
    assert v10.encode(msg).hex() == data.hex()


def test_golden_covers_every_message_type() -> None:
    types = {data[1] for _, data, _ in GOLDEN}
    assert types == set(range(22))
    stats = {struct.unpack_from("!H", data, 8)[0] for _, data, _ in GOLDEN if data[1] in (16, 17)}
    assert stats == {0, 1, 2, 3, 4, 5, 13}


# --- Conversions -----------------------------------------------------------------------


def test_port_feature_bits_map_to_of13_layout() -> None:
    of10 = {0: OFPPF_10MB_HD, 6: OFPPF_10GB_FD, 7: OFPPF_COPPER, 8: OFPPF_FIBER, 9: OFPPF_AUTONEG,
            10: OFPPF_PAUSE, 11: OFPPF_PAUSE_ASYM}
    for bit, model in of10.items():
        wire = h("01 0c 0040 00000000 | 00 00000000000000 | 0005 000000000000" + "00" * 16
                 + " 00000000 00000000" + f" {1 << bit:08x}" * 4)
        port = v10.decode(wire).port  # type: ignore[attr-defined]
        assert (port.curr, port.advertised, port.supported, port.peer) == (model,) * 4
        assert v10.encode(m.PortStatus(0, port)) == wire


def test_of13_only_feature_bits_are_dropped() -> None:
    port = m.Port(5, curr=OFPPF_40GB_FD | OFPPF_100GB_FD | OFPPF_1TB_FD | OFPPF_OTHER | OFPPF_FIBER,
                  curr_speed=40_000_000, max_speed=100_000_000)
    data = v10.encode(m.PortStatus(0, port))
    assert struct.unpack_from("!I", data, 16 + 32)[0] == 1 << 8  # curr: FIBER only
    assert v10.decode(data) == m.PortStatus(0, m.Port(5, curr=OFPPF_FIBER))


def test_unknown_of10_feature_bits_are_dropped() -> None:
    wire = bytearray(v10.encode(m.PortStatus(0, m.Port(1))))
    struct.pack_into("!I", wire, 16 + 32, 0xFFFFF000 | OFPPF_10MB_HD)
    assert v10.decode(bytes(wire)).port.curr == OFPPF_10MB_HD  # type: ignore[attr-defined]


def test_port_state_keeps_stp_bits() -> None:
    for state in (0, 1, 0x100, 0x200, 0x301):
        port = m.Port(1, state=state)
        assert v10.decode(v10.encode(m.PortStatus(2, port))) == m.PortStatus(2, port)


@pytest.mark.parametrize("model, wire", [
    (1, 1), (0xFEFF, 0xFEFF), (OFPP_IN_PORT, 0xFFF8), (OFPP_TABLE, 0xFFF9), (OFPP_NORMAL, 0xFFFA),
    (OFPP_FLOOD, 0xFFFB), (OFPP_ALL, 0xFFFC), (OFPP_CONTROLLER, 0xFFFD), (OFPP_LOCAL, 0xFFFE),
    (OFPP_ANY, 0xFFFF),
])
def test_port_numbers(model: int, wire: int) -> None:
    data = v10.encode(m.PortStatsRequest(model))
    assert struct.unpack_from("!H", data, 12)[0] == wire
    assert v10.decode(data) == m.PortStatsRequest(model)


@pytest.mark.parametrize("port", [0xFF00, 0x10000, 0x12345678, 0xFFFFFEFF])
def test_port_without_16_bit_form_is_value_error(port: int) -> None:
    with pytest.raises(ValueError, match="16-bit"):
        v10.encode(m.PortStatsRequest(port))
    with pytest.raises(ValueError):
        v10.encode(m.PacketIn(match=Match.build(in_port=port)))
    with pytest.raises(ValueError):
        v10.encode(m.PortDescStatsReply((m.Port(port),)))


def test_queue_stats_request_all_ports_is_ofpp_all_on_the_wire() -> None:
    data = v10.encode(m.QueueStatsRequest(OFPP_ANY, OFPQ_ALL))
    assert data[12:14] == b"\xff\xfc"
    # OF1.0's OFPP_NONE also means "all" on decode (port_from_v10)
    none = data[:12] + b"\xff\xff" + data[14:]
    assert v10.decode(none) == m.QueueStatsRequest(OFPP_ANY, OFPQ_ALL)
    assert v10.decode(v10.encode(m.QueueStatsRequest(3, 1))) == m.QueueStatsRequest(3, 1)


def test_packet_in_without_in_port_sends_ofpp_none() -> None:
    data = v10.encode(m.PacketIn(data=b"x"))
    assert data[14:16] == b"\xff\xff"
    assert v10.decode(data).match == Match.build(in_port=OFPP_ANY)  # type: ignore[attr-defined]


def test_packet_in_drops_of13_only_fields() -> None:
    msg = m.PacketIn(7, 60, 1, table_id=3, cookie=9, match=Match.build(in_port=2, metadata=5), data=b"ab")
    assert v10.decode(v10.encode(msg)) == m.PacketIn(7, 60, 1, match=Match.build(in_port=2), data=b"ab")


def test_replies_drop_of13_only_fields() -> None:
    stats = m.FlowStats(table_id=1, flags=OFPFF_SEND_FLOW_REM, priority=5)
    assert v10.decode(v10.encode(m.FlowStatsReply((stats,)))) == m.FlowStatsReply(
        (m.FlowStats(table_id=1, priority=5),))
    port_stats = m.PortStats(1, duration_sec=3, duration_nsec=4)
    assert v10.decode(v10.encode(m.PortStatsReply((port_stats,)))) == m.PortStatsReply((m.PortStats(1),))
    removed = m.FlowRemoved(table_id=4, hard_timeout=9)
    assert v10.decode(v10.encode(removed)) == m.FlowRemoved()
    reply = m.FeaturesReply(1, auxiliary_id=2)
    assert v10.decode(v10.encode(reply)) == m.FeaturesReply(1)
    queue = m.QueueGetConfigReply(1, (m.PacketQueue(1, port=1, min_rate=5, max_rate=6),))
    assert v10.decode(v10.encode(queue)) == m.QueueGetConfigReply(1, (m.PacketQueue(1, min_rate=5),))


def test_hello_with_trailing_bytes_is_accepted() -> None:
    for tail in (b"\x00", b"\xff" * 3, h("0001 0004"), h("0005 0008 00000000")):
        data = struct.pack("!BBHI", 1, 0, 8 + len(tail), 4) + tail
        msg = v10.decode(data)
        assert isinstance(msg, m.Hello) and msg.xid == 4


def test_queue_properties_none_and_unknown_are_skipped() -> None:
    data = h("01 15 0030 00000000 | 0001 000000000000 | 00000009 0020 0000 | 0000 0008 00000000"
             " | 0063 0010 00000000 0000000000000000")
    assert v10.decode(data) == m.QueueGetConfigReply(1, (m.PacketQueue(9),))


# --- Errors ----------------------------------------------------------------------------


def _err(data: bytes) -> Err:
    with pytest.raises(CodecError) as info:
        v10.decode(data)
    return info.value.err


@pytest.mark.parametrize("msg_type", [22, 23, 24, 29, 0x7F, 0xFF])
def test_unknown_type_is_bad_type(msg_type: int) -> None:
    assert _err(struct.pack("!BBHI", 1, msg_type, 8, 0)) is Err.OFPBRC_BAD_TYPE


@pytest.mark.parametrize("msg_type", [16, 17])
@pytest.mark.parametrize("stats_type", [6, 7, 12, 14, 0x100, 0xFFFE])
def test_unknown_stats_type_is_bad_stat(msg_type: int, stats_type: int) -> None:
    err = _err(struct.pack("!BBHIHH", 1, msg_type, 12, 0, stats_type, 0))
    assert err is Err.OFPBRC_BAD_MULTIPART
    assert CodecError(err).type_code(OFP10) == (1, 2)  # OFPBRC_BAD_STAT


@pytest.mark.parametrize("msg_type", [16, 17])
def test_vendor_stats_is_bad_vendor(msg_type: int) -> None:
    data = struct.pack("!BBHIHHI", 1, msg_type, 16, 0, 0xFFFF, 0, 0x2320)
    assert _err(data) is Err.OFPBRC_BAD_EXPERIMENTER


@pytest.mark.parametrize("data, msg", [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_truncated_messages_are_bad_len_or_complete(data: bytes, msg: m.Message) -> None:
    """Every cut of a message is a length error, or itself a whole valid message."""
    if isinstance(msg, m.Hello):
        return  # any trailing bytes are allowed
    for size in range(len(data) - 1, 7, -1):
        cut = data[:2] + struct.pack("!H", size) + data[4:size]
        try:
            shorter = v10.decode(cut)
        except CodecError as exc:
            assert exc.err in (Err.OFPBRC_BAD_LEN, Err.OFPBAC_BAD_LEN), size
        else:
            assert v10.encode(shorter) == cut, size


@pytest.mark.parametrize("name", [
    "features_request", "get_config_request", "get_config_reply", "set_config", "flow_removed",
    "port_status", "port_mod", "barrier_request", "barrier_reply", "queue_get_config_request",
    "desc_stats_request", "desc_stats_reply", "flow_stats_request", "aggregate_stats_request",
    "aggregate_stats_reply", "table_stats_request", "table_stats_reply", "port_stats_request",
    "port_stats_reply", "queue_stats_request", "queue_stats_reply", "port_desc_request",
    "port_desc_reply", "features_reply",
])
def test_fixed_size_messages_with_extra_bytes_are_bad_len(name: str) -> None:
    data = next(g[1] for g in GOLDEN if g[0] == name)
    for extra in (1, 4, 8):
        longer = data + bytes(extra)
        longer = longer[:2] + struct.pack("!H", len(longer)) + longer[4:]
        assert _err(longer) is Err.OFPBRC_BAD_LEN


def test_short_header_is_bad_len() -> None:
    assert _err(b"\x01\x00\x00") is Err.OFPBRC_BAD_LEN


def test_packet_out_actions_len_past_the_end() -> None:
    data = h("01 0d 0018 00000000 | ffffffff | ffff | 0010 | 0000 0008 0001 0000")
    assert _err(data) is Err.OFPBRC_BAD_LEN


@pytest.mark.parametrize("entry_len", [0, 8, 87, 0x60 + 8])
def test_flow_stats_entry_length_is_checked(entry_len: int) -> None:
    data = bytearray(next(g[1] for g in GOLDEN if g[0] == "flow_stats_reply"))
    struct.pack_into("!H", data, 12, entry_len)
    assert _err(bytes(data)) is Err.OFPBRC_BAD_LEN


@pytest.mark.parametrize("patch", [
    (20, "!H", 0x0004),  # queue len shorter than its header
    (20, "!H", 0x0028),  # queue len past the end of the message
    (20, "!H", 0x0014),  # queue len not a multiple of 8
    (26, "!H", 0x0008),  # MIN_RATE property without its rate
    (26, "!H", 0x0000),  # property length 0 (would loop forever)
    (26, "!H", 0x0004),  # property length shorter than its header
    (26, "!H", 0x0018),  # property past the end of the queue
])
def test_queue_config_lengths_are_checked(patch: tuple[int, str, int]) -> None:
    data = bytearray(next(g[1] for g in GOLDEN if g[0] == "queue_get_config_reply"))
    offset, fmt, value = patch
    struct.pack_into(fmt, data, offset, value)
    assert _err(bytes(data)) is Err.OFPBRC_BAD_LEN


@pytest.mark.parametrize("msg", [
    m.GroupMod(0, 0, 1),
    m.MeterMod(0, 1, 1),
    m.TableMod(0),
    m.RoleRequest(2),
    m.RoleReply(2),
    m.GetAsyncRequest(),
    m.GetAsyncReply(),
    m.SetAsync(),
    m.GroupStatsRequest(),
    m.GroupDescStatsReply(),
    m.GroupFeaturesStatsRequest(),
    m.MeterStatsReply(),
    m.MeterConfigStatsRequest(),
    m.MeterFeaturesStatsReply(),
    m.TableFeaturesStatsRequest(),
    m.TableFeaturesStatsReply(),
    m.Error(0xFFFF, 1, experimenter=0x2320),
    m.Experimenter(0x2320, exp_type=7),
    m.FlowMod(table_id=3),
    m.FlowMod(cookie_mask=1),
    m.FlowMod(out_group=1),
    m.FlowMod(instructions=(a.GotoTable(1),)),
    m.FlowMod(instructions=(a.ApplyActions(), a.ApplyActions())),
    m.FlowMod(instructions=(a.WriteActions((a.Output(1),)),)),
    m.FlowStatsRequest(cookie_mask=5),
    m.AggregateStatsRequest(out_group=2),
    m.FlowStatsReply((m.FlowStats(instructions=(a.ClearActions(),)),)),
    m.FlowMod(instructions=(a.ApplyActions((a.Group(1),)),)),  # no OF1.0 group action
    m.FlowMod(match=Match.build(metadata=1)),  # no OF1.0 metadata field
    m.EchoRequest(xid=1 << 32),
    m.SetConfig(miss_send_len=0x10000),
    m.PortMod(1, 1 << 48),
    m.EchoRequest(bytes(0xFFF8)),  # 65536 bytes
])
def test_messages_of10_cannot_express_are_value_errors(msg: m.Message) -> None:
    with pytest.raises(ValueError):
        v10.encode(msg)


def test_flow_mod_for_all_tables_is_fine() -> None:
    """OF1.0 DELETE applies to every table, which the model says with OFPTT_ALL."""
    assert v10.decode(v10.encode(m.FlowMod(command=3, table_id=OFPTT_ALL))) == m.FlowMod(command=3)


# --- encode_parts ----------------------------------------------------------------------


def _port_stats(n: int) -> tuple[m.PortStats, ...]:
    return tuple(m.PortStats(i + 1, rx_packets=i) for i in range(n))


@pytest.mark.parametrize("count, limit, sizes", [
    (0, 1000, [12]),
    (1, 1000, [116]),
    (9, 1000, [12 + 9 * 104]),
    (10, 1000, [12 + 9 * 104, 12 + 104]),
    (20, 116, [116] * 20),
    (700, 0xFFFF, [12 + 630 * 104, 12 + 70 * 104]),
    (700, 10**6, [12 + 630 * 104, 12 + 70 * 104]),  # the length field caps any limit
])
def test_encode_parts_splits_port_stats(count: int, limit: int, sizes: list[int]) -> None:
    msg = m.PortStatsReply(_port_stats(count), xid=0x99)
    parts = v10.encode_parts(msg, limit)
    assert [len(p) for p in parts] == sizes
    entries: list[m.PortStats] = []
    for i, part in enumerate(parts):
        reply = v10.decode(part)
        assert isinstance(reply, m.PortStatsReply) and reply.xid == 0x99
        assert reply.flags == (OFPMPF_REPLY_MORE if i < len(parts) - 1 else 0)
        entries += reply.entries
    assert tuple(entries) == msg.entries
    if len(parts) == 1:
        assert parts[0] == v10.encode(msg)


@pytest.mark.parametrize("msg", [
    m.FlowStatsReply(tuple(m.FlowStats(cookie=i, match=Match.build(in_port=i + 1),
                                       instructions=(a.ApplyActions((a.Output(1),) * (i % 3)),)
                                       if i % 3 else ())
                           for i in range(50))),
    m.TableStatsReply(tuple(m.TableStats(i, name=f"t{i}") for i in range(30))),
    m.QueueStatsReply(tuple(m.QueueStats(1, i) for i in range(100))),
    m.PortDescStatsReply(tuple(m.Port(i + 1, name=f"p{i}") for i in range(40))),
])
def test_encode_parts_every_listed_reply(msg: m.Message) -> None:
    parts = v10.encode_parts(msg, 500)
    assert len(parts) > 1 and all(len(p) <= 500 for p in parts)
    decoded = [v10.decode(p) for p in parts]
    assert [d.flags for d in decoded] == [OFPMPF_REPLY_MORE] * (len(parts) - 1) + [0]  # type: ignore[attr-defined]
    assert sum((d.entries for d in decoded), ()) == msg.entries  # type: ignore[attr-defined]


def test_encode_parts_entry_bigger_than_limit() -> None:
    with pytest.raises(ValueError):
        v10.encode_parts(m.PortStatsReply(_port_stats(2)), 100)
    with pytest.raises(ValueError):
        v10.encode_parts(m.PortStatsReply(()), 11)  # not even the stats header fits


def test_encode_parts_other_messages_are_one_part() -> None:
    for msg in (m.EchoReply(b"x"), m.DescStatsReply(), m.AggregateStatsReply(1, 2, 3)):
        assert v10.encode_parts(msg, 100) == [v10.encode(msg)]
    with pytest.raises(ValueError):
        v10.encode_parts(m.GroupStatsReply(), 1000)
    with pytest.raises(ValueError):
        v10.encode_parts(m.MeterConfigStatsReply(), 1000)


# --- Hypothesis round trips ------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
xids = u32
macs = st.integers(0, 2**48 - 1)
ports = st.one_of(
    st.integers(0, 0xFEFF),
    st.sampled_from([OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER,
                     OFPP_LOCAL, OFPP_ANY]),
)
output_ports = st.one_of(
    st.integers(1, 0xFEFF),
    st.sampled_from([OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER,
                     OFPP_LOCAL]),
)
enqueue_ports = st.one_of(st.integers(1, 0xFEFF), st.sampled_from([OFPP_IN_PORT, OFPP_LOCAL]))
features = st.integers(0, 0xFFFF).map(lambda bits: bits & 0xF87F)  # bits OF1.0 can carry
names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=15)
prefixes = st.integers(1, 32).map(lambda n: (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF)


@st.composite
def matches(draw: st.DrawFn) -> Match:
    """Matches OF1.0 can express (prerequisites respected, CIDR masks only)."""
    fields: dict[str, int | tuple[int, int]] = {}
    if draw(st.booleans()):
        fields["in_port"] = draw(ports)
    for name in ("eth_src", "eth_dst"):
        if draw(st.booleans()):
            fields[name] = draw(macs)
    vlan = draw(st.sampled_from(["none", "any", "absent", "vid", "vid_pcp"]))
    if vlan == "absent":
        fields["vlan_vid"] = 0
    elif vlan in ("vid", "vid_pcp"):
        fields["vlan_vid"] = OFPVID_PRESENT | draw(st.integers(0, 0xFFF))
        if vlan == "vid_pcp":
            fields["vlan_pcp"] = draw(st.integers(0, 7))
    elif vlan == "any":
        fields["vlan_vid"] = (OFPVID_PRESENT, OFPVID_PRESENT)
        fields["vlan_pcp"] = draw(st.integers(0, 7))
    kind = draw(st.sampled_from(["l2", "ethertype", "ipv4", "arp"]))
    if kind == "ethertype":
        fields["eth_type"] = draw(u16.filter(lambda t: t not in (0x0800, 0x0806, 0x86DD)))
    elif kind == "ipv4":
        fields["eth_type"] = 0x0800
        if draw(st.booleans()):
            fields["ip_dscp"] = draw(st.integers(0, 63))
        for name in ("ipv4_src", "ipv4_dst"):
            if draw(st.booleans()):
                mask = draw(prefixes)
                fields[name] = (draw(u32) & mask, mask)
        proto = draw(st.sampled_from([None, 6, 17, 1, 47]))
        if proto is not None:
            fields["ip_proto"] = proto
            src, dst, top = {6: ("tcp_src", "tcp_dst", 0xFFFF), 17: ("udp_src", "udp_dst", 0xFFFF),
                             1: ("icmpv4_type", "icmpv4_code", 0xFF), 47: (None, None, 0)}[proto]
            if src is not None and draw(st.booleans()):
                fields[src] = draw(st.integers(0, top))
            if dst is not None and draw(st.booleans()):
                fields[dst] = draw(st.integers(0, top))
    elif kind == "arp":
        fields["eth_type"] = 0x0806
        if draw(st.booleans()):
            fields["arp_op"] = draw(u8)
        for name in ("arp_spa", "arp_tpa"):
            if draw(st.booleans()):
                mask = draw(prefixes)
                fields[name] = (draw(u32) & mask, mask)
    return Match.build(**fields)


action_lists = st.lists(
    st.one_of(
        st.builds(a.Output, output_ports, u16),
        st.builds(a.SetVlanVid, st.integers(0, 0xFFF)),
        st.builds(a.SetVlanPcp, st.integers(0, 7)),
        st.just(a.PopVlan()),
        st.builds(a.SetField, st.sampled_from(["eth_src", "eth_dst"]), macs),
        st.builds(a.SetField, st.sampled_from(["ipv4_src", "ipv4_dst"]), u32),
        st.builds(a.SetField, st.just("ip_dscp"), st.integers(0, 63)),
        st.builds(a.SetTpSrc, u16),
        st.builds(a.SetTpDst, u16),
        st.builds(a.Enqueue, enqueue_ports, u32),
    ),
    max_size=5,
).map(tuple)
instructions = action_lists.map(lambda acts: (a.ApplyActions(acts),) if acts else ())
phy_ports = st.builds(m.Port, ports, macs, names, u32, u32, features, features, features, features)
queues = st.builds(m.PacketQueue, u32, min_rate=st.one_of(st.none(), u16))
data = st.binary(max_size=100)


def _msg(cls: type, *args: st.SearchStrategy, **kw: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(cls, *args, **kw, xid=xids)


MESSAGES = {
    m.Hello: _msg(m.Hello, st.one_of(st.none(), st.frozensets(st.integers(1, 6), min_size=1))),
    m.Error: _msg(m.Error, u16, u16, data),
    m.EchoRequest: _msg(m.EchoRequest, data),
    m.EchoReply: _msg(m.EchoReply, data),
    m.Experimenter: _msg(m.Experimenter, u32, st.just(0), data),
    m.FeaturesRequest: _msg(m.FeaturesRequest),
    m.FeaturesReply: _msg(m.FeaturesReply, u64, u32, u8, st.just(0), u32, u32,
                          st.lists(phy_ports, max_size=3).map(tuple)),
    m.GetConfigRequest: _msg(m.GetConfigRequest),
    m.GetConfigReply: _msg(m.GetConfigReply, u16, u16),
    m.SetConfig: _msg(m.SetConfig, u16, u16),
    m.PacketIn: _msg(m.PacketIn, u32, u16, u8, st.just(0), st.just(0),
                     ports.map(lambda p: Match.build(in_port=p)), data),
    m.FlowRemoved: _msg(m.FlowRemoved, u64, u16, u8, st.just(0), u32, u32, u16, st.just(0), u64, u64,
                        matches()),
    m.PortStatus: _msg(m.PortStatus, u8, phy_ports),
    m.PacketOut: _msg(m.PacketOut, u32, ports, action_lists, data),
    m.FlowMod: _msg(m.FlowMod, matches(), u64, st.just(0), st.just(0), u16, u16, u16, u16, u32, ports,
                    st.just(0xFFFFFFFF), u16, instructions),
    m.PortMod: _msg(m.PortMod, ports, macs, u32, u32, features),
    m.BarrierRequest: _msg(m.BarrierRequest),
    m.BarrierReply: _msg(m.BarrierReply),
    m.QueueGetConfigRequest: _msg(m.QueueGetConfigRequest, ports),
    m.QueueGetConfigReply: _msg(m.QueueGetConfigReply, ports, st.lists(queues, max_size=4).map(tuple)),
    m.DescStatsRequest: _msg(m.DescStatsRequest, flags=u16),
    m.DescStatsReply: _msg(m.DescStatsReply, names, names, names, names, names, flags=u16),
    m.FlowStatsRequest: _msg(m.FlowStatsRequest, matches(), u8, ports, flags=u16),
    m.FlowStatsReply: _msg(m.FlowStatsReply, st.lists(st.builds(
        m.FlowStats, u8, u32, u32, u16, u16, u16, st.just(0), u64, u64, u64, matches(), instructions,
    ), max_size=3).map(tuple), u16),
    m.AggregateStatsRequest: _msg(m.AggregateStatsRequest, matches(), u8, ports, flags=u16),
    m.AggregateStatsReply: _msg(m.AggregateStatsReply, u64, u64, u32, u16),
    m.TableStatsRequest: _msg(m.TableStatsRequest, u16),
    m.TableStatsReply: _msg(m.TableStatsReply, st.lists(st.builds(
        m.TableStats, u8, u32, u64, u64, st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=31),
        u32, u32,
    ), max_size=4).map(tuple), u16),
    m.PortStatsRequest: _msg(m.PortStatsRequest, ports, u16),
    m.PortStatsReply: _msg(m.PortStatsReply, st.lists(st.builds(
        m.PortStats, ports, *[u64] * 12), max_size=3).map(tuple), u16),
    m.QueueStatsRequest: _msg(m.QueueStatsRequest, ports.filter(lambda p: p != OFPP_ALL), u32, u16),
    m.QueueStatsReply: _msg(m.QueueStatsReply, st.lists(st.builds(
        m.QueueStats, ports, u32, u64, u64, u64), max_size=4).map(tuple), u16),
    m.PortDescStatsRequest: _msg(m.PortDescStatsRequest, u16),
    m.PortDescStatsReply: _msg(m.PortDescStatsReply, st.lists(phy_ports, max_size=3).map(tuple), u16),
}


def test_round_trip_strategies_cover_every_of10_message() -> None:
    assert set(MESSAGES) == set(v10._ENCODERS)


@pytest.mark.parametrize("cls", list(MESSAGES), ids=lambda cls: cls.__name__)
def test_round_trip(cls: type) -> None:
    @given(MESSAGES[cls])
    def check(msg: m.Message) -> None:
        data = v10.encode(msg)
        assert data[0] == OFP10
        assert struct.unpack_from("!H", data, 2)[0] == len(data)
        assert v10.decode(data) == msg
        assert v10.encode(v10.decode(data)) == data

    check()


# --- Robustness ------------------------------------------------------------------------

ROBUSTNESS_ROUNDS = 20_000


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    choice = rng.random()
    if choice < 0.1:
        data = bytearray(rng.randbytes(rng.randrange(0, 120)))
    elif choice < 0.5:
        for _ in range(rng.randrange(1, 5)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice < 0.7:
        data = data[: rng.randrange(0, len(data) + 1)]
    elif choice < 0.85:
        data += rng.randbytes(rng.randrange(1, 33))
    elif len(data) >= 12:
        pos = rng.randrange(8, len(data) - 1)
        edge = rng.choice((0, 1, 4, 7, 8, 16, 0xFF, 0xFFFF, len(data), len(data) - pos))
        data[pos:pos + 2] = (edge & 0xFFFF).to_bytes(2, "big")
    if len(data) >= 4:
        data[0] = OFP10
        data[2:4] = (len(data) & 0xFFFF).to_bytes(2, "big")  # keep framing: reach the bodies
    return bytes(data)


def test_random_and_mutated_bytes_raise_only_codec_errors() -> None:
    rng = random.Random(0x0F10)
    seeds = [g[1] for g in GOLDEN]
    counts = {"decoded": 0, "rejected": 0}
    for _ in range(ROBUSTNESS_ROUNDS):
        data = _mutate(rng, rng.choice(seeds))
        try:
            msg = v10.decode(data)
        except CodecError as exc:
            counts["rejected"] += 1
            assert isinstance(exc.err, Err)
            exc.type_code(OFP10)
        else:
            counts["decoded"] += 1
            assert isinstance(msg, m.Message)
    # both outcomes must be frequent, or the mutations are not exercising the decoders
    assert counts["decoded"] > ROBUSTNESS_ROUNDS // 10
    assert counts["rejected"] > ROBUSTNESS_ROUNDS // 10
