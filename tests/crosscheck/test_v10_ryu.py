"""Cross-check of the OpenFlow 1.0 codec (openflow.v10) against Ryu 4.34.

Two directions, as the design asks:

* controller -> switch: Ryu serializes every OF1.0 message a controller sends; we
  decode its bytes to a hand-built expected model, and (where our encoding is the
  canonical one) encode that model back to Ryu's very bytes;
* switch -> controller: we encode every message a switch sends; Ryu parses it and
  its ``to_jsondict()`` must equal the values we meant (bytes as base64, MACs and
  IPv4 addresses as strings).  Expected OF1.0 matches and action lists are Ryu's
  own JSON for the equivalent ``OFPMatch``/``OFPAction*``, obtained by having Ryu
  serialize and parse a FLOW_MOD carrying them, so they are independent of us.

Ryu 4.34 has no parser for Open vSwitch's PORT_DESC stats (type 13) and no
serializer for switch-side messages; those are covered by tests/unit/test_v10.py.
"""

from __future__ import annotations

import base64

import pytest

from openflow import actions as a
from openflow import messages as m
from openflow import v10
from openflow.consts import (
    OFP_NO_BUFFER,
    OFPFC_ADD,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFF_CHECK_OVERLAP,
    OFPFF_EMERG,
    OFPFF_SEND_FLOW_REM,
    OFPMPF_REPLY_MORE,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_NORMAL,
    OFPPF_1GB_FD,
    OFPPF_10MB_HD,
    OFPPF_100MB_FD,
    OFPPF_AUTONEG,
    OFPPF_COPPER,
    OFPPF_FIBER,
    OFPPF_PAUSE,
    OFPPF_PAUSE_ASYM,
    OFPQ_ALL,
    OFPTT_ALL,
    OFPVID_PRESENT,
)
from openflow.errors import CodecError, Err
from openflow.match import Match

pytestmark = pytest.mark.crosscheck

MAC_A = 0x001122334455
MAC_B = 0xFAC8E8761D7E
FRAME = bytes.fromhex("ffffffffffff0011223344550806") + bytes(range(46))


def _xid(expr: str, xid: int) -> str:
    """A Ryu expression for ``expr`` with its xid set (Ryu serializes xid 0 otherwise)."""
    return f"(lambda msg: (msg.set_xid({xid}), msg)[1])({expr})"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Every OF1.0 action Ryu has, and what it means in our model.
ALL_ACTIONS_RYU = (
    "[p.OFPActionOutput(2, 0), p.OFPActionOutput(o.OFPP_CONTROLLER, 128),"
    " p.OFPActionOutput(o.OFPP_IN_PORT), p.OFPActionVlanVid(10), p.OFPActionVlanPcp(5),"
    " p.OFPActionStripVlan(), p.OFPActionSetDlSrc('00:11:22:33:44:55'),"
    " p.OFPActionSetDlDst('fa:c8:e8:76:1d:7e'), p.OFPActionSetNwSrc('10.0.0.1'),"
    " p.OFPActionSetNwDst('192.168.1.254'), p.OFPActionSetNwTos(0x28),"
    " p.OFPActionSetTpSrc(1234), p.OFPActionSetTpDst(80), p.OFPActionEnqueue(3, 7)]"
)
ALL_ACTIONS = (
    a.Output(2, 0),
    a.Output(OFPP_CONTROLLER, 128),
    a.Output(OFPP_IN_PORT, 0xFFE5),
    a.SetVlanVid(10),
    a.SetVlanPcp(5),
    a.PopVlan(),
    a.SetField("eth_src", MAC_A),
    a.SetField("eth_dst", MAC_B),
    a.SetField("ipv4_src", 0x0A000001),
    a.SetField("ipv4_dst", 0xC0A801FE),
    a.SetField("ip_dscp", 0x28 >> 2),
    a.SetTpSrc(1234),
    a.SetTpDst(80),
    a.Enqueue(3, 7),
)

# (id, Ryu expression, expected model, our encoding is byte-identical to Ryu's)
FROM_RYU = [
    ("hello", "p.OFPHello(dp)", m.Hello(), True),
    ("echo_request", _xid("p.OFPEchoRequest(dp, data=b'ping')", 7), m.EchoRequest(b"ping", xid=7), True),
    ("echo_request_empty", "p.OFPEchoRequest(dp)", m.EchoRequest(), True),
    ("echo_reply", _xid("p.OFPEchoReply(dp, data=b'pong')", 8), m.EchoReply(b"pong", xid=8), True),
    (
        "vendor",
        "(lambda v: (setattr(v, 'vendor', 0x00ABCDEF), setattr(v, 'data', b'\\x01\\x02\\x03'), v)[2])"
        "(p.OFPVendor(dp))",
        m.Experimenter(0x00ABCDEF, 0, b"\x01\x02\x03"),
        True,
    ),
    ("features_request", _xid("p.OFPFeaturesRequest(dp)", 0xFFFFFFFF), m.FeaturesRequest(xid=0xFFFFFFFF), True),
    ("get_config_request", "p.OFPGetConfigRequest(dp)", m.GetConfigRequest(), True),
    ("set_config", "p.OFPSetConfig(dp, o.OFPC_FRAG_DROP, 256)", m.SetConfig(1, 256), True),
    (
        "packet_out_data",
        _xid("p.OFPPacketOut(dp, 0xffffffff, o.OFPP_NONE, [p.OFPActionOutput(o.OFPP_FLOOD, 0)], "
             f"bytes.fromhex('{FRAME.hex()}'))", 3),
        m.PacketOut(OFP_NO_BUFFER, OFPP_ANY, (a.Output(OFPP_FLOOD, 0),), FRAME, xid=3),
        True,
    ),
    (
        "packet_out_buffered",
        "p.OFPPacketOut(dp, 5, 1, [p.OFPActionOutput(2), p.OFPActionOutput(o.OFPP_TABLE)])",
        m.PacketOut(5, 1, (a.Output(2), a.Output(0xFFFFFFF9))),
        True,
    ),
    ("packet_out_drop", "p.OFPPacketOut(dp, 9, o.OFPP_LOCAL, [])", m.PacketOut(9, OFPP_LOCAL), True),
    (
        "flow_mod_simple_switch",
        "p.OFPFlowMod(dp, match=p.OFPMatch(in_port=1, dl_dst='fa:c8:e8:76:1d:7e',"
        " dl_src='00:11:22:33:44:55'), cookie=0, command=o.OFPFC_ADD, idle_timeout=0,"
        " hard_timeout=0, priority=o.OFP_DEFAULT_PRIORITY, flags=o.OFPFF_SEND_FLOW_REM,"
        " actions=[p.OFPActionOutput(2)])",
        m.FlowMod(
            Match.build(in_port=1, eth_dst=MAC_B, eth_src=MAC_A), flags=OFPFF_SEND_FLOW_REM,
            instructions=(a.ApplyActions((a.Output(2),)),),
        ),
        True,
    ),
    (
        "flow_mod_ipv4_tcp",
        _xid("p.OFPFlowMod(dp, match=p.OFPMatch(dl_type=0x800, dl_vlan=10, dl_vlan_pcp=3,"
             " nw_tos=0x28, nw_proto=6, nw_src='10.1.0.0', nw_src_mask=16, nw_dst='192.168.1.1',"
             " tp_src=1234, tp_dst=80), cookie=0x0123456789abcdef, command=o.OFPFC_MODIFY,"
             " idle_timeout=30, hard_timeout=300, priority=100, buffer_id=77,"
             " flags=o.OFPFF_CHECK_OVERLAP, actions=[p.OFPActionOutput(o.OFPP_NORMAL, 0)])", 42),
        m.FlowMod(
            Match.build(
                eth_type=0x800, vlan_vid=OFPVID_PRESENT | 10, vlan_pcp=3, ip_dscp=10, ip_proto=6,
                ipv4_src=(0x0A010000, 0xFFFF0000), ipv4_dst=0xC0A80101, tcp_src=1234, tcp_dst=80,
            ),
            cookie=0x0123456789ABCDEF, command=OFPFC_MODIFY, idle_timeout=30, hard_timeout=300,
            priority=100, buffer_id=77, flags=OFPFF_CHECK_OVERLAP,
            instructions=(a.ApplyActions((a.Output(OFPP_NORMAL, 0),)),), xid=42,
        ),
        True,
    ),
    (
        "flow_mod_udp_no_vlan",
        "p.OFPFlowMod(dp, match=p.OFPMatch(dl_type=0x800, dl_vlan=0xffff, nw_proto=17,"
        " tp_dst=53), actions=[p.OFPActionStripVlan(), p.OFPActionOutput(1)])",
        m.FlowMod(
            Match.build(eth_type=0x800, vlan_vid=0, ip_proto=17, udp_dst=53),
            instructions=(a.ApplyActions((a.PopVlan(), a.Output(1))),),
        ),
        True,
    ),
    (
        "flow_mod_arp",
        "p.OFPFlowMod(dp, match=p.OFPMatch(dl_type=0x806, nw_proto=1, nw_src='10.0.0.1',"
        " nw_dst='10.0.0.0', nw_dst_mask=24), actions=[p.OFPActionOutput(o.OFPP_ALL)])",
        m.FlowMod(
            Match.build(eth_type=0x806, arp_op=1, arp_spa=0x0A000001, arp_tpa=(0x0A000000, 0xFFFFFF00)),
            instructions=(a.ApplyActions((a.Output(OFPP_ALL),)),),
        ),
        True,
    ),
    (
        "flow_mod_every_action",
        f"p.OFPFlowMod(dp, match=p.OFPMatch(in_port=o.OFPP_LOCAL), flags=o.OFPFF_EMERG, actions={ALL_ACTIONS_RYU})",
        m.FlowMod(
            Match.build(in_port=OFPP_LOCAL), flags=OFPFF_EMERG,
            instructions=(a.ApplyActions(ALL_ACTIONS),),
        ),
        True,
    ),
    (
        "flow_mod_delete_out_port",
        "p.OFPFlowMod(dp, command=o.OFPFC_DELETE, out_port=2)",
        m.FlowMod(command=OFPFC_DELETE, out_port=2),
        True,
    ),
    (
        "flow_mod_delete_strict",
        "p.OFPFlowMod(dp, match=p.OFPMatch(in_port=3), command=o.OFPFC_DELETE_STRICT, priority=7)",
        m.FlowMod(Match.build(in_port=3), command=OFPFC_DELETE_STRICT, priority=7),
        True,
    ),
    (
        "port_mod",
        _xid("p.OFPPortMod(dp, 3, 'fa:c8:e8:76:1d:7e', 0, o.OFPPC_PORT_DOWN | o.OFPPC_NO_RECV"
             " | o.OFPPC_NO_FWD | o.OFPPC_NO_PACKET_IN, o.OFPPF_10MB_HD | o.OFPPF_100MB_FD"
             " | o.OFPPF_1GB_FD | o.OFPPF_COPPER | o.OFPPF_AUTONEG | o.OFPPF_PAUSE"
             " | o.OFPPF_PAUSE_ASYM)", 10),
        m.PortMod(
            3, MAC_B, 0, 0x1 | 0x4 | 0x20 | 0x40,
            OFPPF_10MB_HD | OFPPF_100MB_FD | OFPPF_1GB_FD | OFPPF_COPPER | OFPPF_AUTONEG
            | OFPPF_PAUSE | OFPPF_PAUSE_ASYM,
            xid=10,
        ),
        True,
    ),
    (
        "port_mod_fiber",
        "p.OFPPortMod(dp, o.OFPP_LOCAL, '00:11:22:33:44:55', 1, 1, o.OFPPF_FIBER)",
        m.PortMod(OFPP_LOCAL, MAC_A, 1, 1, OFPPF_FIBER),
        True,
    ),
    ("barrier_request", _xid("p.OFPBarrierRequest(dp)", 99), m.BarrierRequest(xid=99), True),
    ("queue_get_config_request", "p.OFPQueueGetConfigRequest(dp, 1)", m.QueueGetConfigRequest(1), True),
    (
        "queue_get_config_request_none",
        "p.OFPQueueGetConfigRequest(dp, o.OFPP_NONE)",
        m.QueueGetConfigRequest(OFPP_ANY),
        True,
    ),
    ("desc_stats_request", "p.OFPDescStatsRequest(dp, 0)", m.DescStatsRequest(), True),
    (
        "flow_stats_request",
        _xid("p.OFPFlowStatsRequest(dp, 0, p.OFPMatch(in_port=1), 0xff, o.OFPP_NONE)", 5),
        m.FlowStatsRequest(Match.build(in_port=1), OFPTT_ALL, OFPP_ANY, xid=5),
        True,
    ),
    (
        "flow_stats_request_table_out_port",
        "p.OFPFlowStatsRequest(dp, 0, p.OFPMatch(dl_type=0x800, nw_dst='10.0.0.2'), 0, 4)",
        m.FlowStatsRequest(Match.build(eth_type=0x800, ipv4_dst=0x0A000002), 0, 4),
        True,
    ),
    (
        "aggregate_stats_request",
        "p.OFPAggregateStatsRequest(dp, 0, p.OFPMatch(), 0xff, o.OFPP_NONE)",
        m.AggregateStatsRequest(Match(), OFPTT_ALL, OFPP_ANY),
        True,
    ),
    ("table_stats_request", "p.OFPTableStatsRequest(dp, 0)", m.TableStatsRequest(), True),
    ("port_stats_request_all", "p.OFPPortStatsRequest(dp, 0, o.OFPP_NONE)", m.PortStatsRequest(OFPP_ANY), True),
    ("port_stats_request_one", "p.OFPPortStatsRequest(dp, 0, 2)", m.PortStatsRequest(2), True),
    (
        "queue_stats_request_all",
        "p.OFPQueueStatsRequest(dp, 0, o.OFPP_ALL, o.OFPQ_ALL)",
        m.QueueStatsRequest(OFPP_ANY, OFPQ_ALL),
        True,
    ),
    ("queue_stats_request_one", "p.OFPQueueStatsRequest(dp, 0, 1, 2)", m.QueueStatsRequest(1, 2), True),
]


@pytest.mark.parametrize(
    "expr, expected, same_bytes", [case[1:] for case in FROM_RYU], ids=[case[0] for case in FROM_RYU]
)
def test_decode_what_ryu_serializes(ryu, expr: str, expected: m.Message, same_bytes: bool) -> None:
    data = ryu.serialize(1, expr)
    assert data[0] == 0x01
    assert v10.decode(data) == expected
    if same_bytes:
        assert v10.encode(expected).hex() == data.hex()


def test_vendor_stats_request_is_bad_vendor(ryu) -> None:
    data = ryu.serialize(1, "p.OFPVendorStatsRequest(dp, 0, 0x2320, b'\\x00' * 8)")
    with pytest.raises(CodecError) as info:
        v10.decode(data)
    assert info.value.err is Err.OFPBRC_BAD_EXPERIMENTER
    assert info.value.type_code(0x01) == (1, 3)  # OFPET_BAD_REQUEST, OFPBRC_BAD_VENDOR


# --- switch -> controller: we encode, Ryu parses --------------------------------------


def _ryu_flow_mod_json(ryu, match: str = "", actions: str = "[]") -> dict:
    """Ryu's own JSON of a FLOW_MOD with this OFPMatch keyword text and action list."""
    data = ryu.serialize(1, f"p.OFPFlowMod(dp, match=p.OFPMatch({match}), actions={actions})")
    cls, body = ryu.parse(data)
    assert cls == "OFPFlowMod"
    return body


def ryu_match(ryu, match: str) -> dict:
    return _ryu_flow_mod_json(ryu, match=match)["match"]


def ryu_actions(ryu, actions: str) -> list:
    return _ryu_flow_mod_json(ryu, actions=actions)["actions"]


def _phy_port(port_no: int, hw_addr: str, name: str, config: int = 0, state: int = 0,
              curr: int = 0, advertised: int = 0, supported: int = 0, peer: int = 0) -> dict:
    return {"OFPPhyPort": {
        "port_no": port_no, "hw_addr": hw_addr, "name": name, "config": config, "state": state,
        "curr": curr, "advertised": advertised, "supported": supported, "peer": peer,
    }}


PORT_ETH1 = m.Port(
    1, MAC_A, "eth1", config=0x10, state=0x200,  # NO_FLOOD; STP forwarding (OF1.0 bits kept)
    curr=OFPPF_1GB_FD | OFPPF_COPPER | OFPPF_AUTONEG, advertised=OFPPF_100MB_FD | OFPPF_PAUSE,
    supported=OFPPF_1GB_FD | OFPPF_FIBER | OFPPF_PAUSE_ASYM, peer=OFPPF_10MB_HD,
)
# OF1.0 bits: 1GB_FD 1<<5, COPPER 1<<7, FIBER 1<<8, AUTONEG 1<<9, PAUSE 1<<10, PAUSE_ASYM 1<<11
PORT_ETH1_RYU = _phy_port(
    1, "00:11:22:33:44:55", "eth1", 0x10, 0x200, curr=0x20 | 0x80 | 0x200,
    advertised=0x8 | 0x400, supported=0x20 | 0x100 | 0x800, peer=0x1,
)
PORT_LOCAL = m.Port(OFPP_LOCAL, MAC_B, "br0", config=1, state=1)
PORT_LOCAL_RYU = _phy_port(0xFFFE, "fa:c8:e8:76:1d:7e", "br0", 1, 1)


def test_error(ryu) -> None:
    data = bytes.fromhex("010e004800000005")
    assert ryu.parse(v10.encode(m.Error(3, 5, data, xid=5))) == (
        "OFPErrorMsg", {"type": 3, "code": 5, "data": _b64(data)}
    )


def test_symmetric_messages(ryu) -> None:
    assert ryu.parse(v10.encode(m.Hello(xid=1))) == ("OFPHello", {})
    assert ryu.parse(v10.encode(m.EchoRequest(b"abc"))) == ("OFPEchoRequest", {"data": _b64(b"abc")})
    assert ryu.parse(v10.encode(m.EchoReply(b"\0\xff"))) == ("OFPEchoReply", {"data": _b64(b"\0\xff")})
    assert ryu.parse(v10.encode(m.Experimenter(0x1234, 0, b"payload"))) == (
        "OFPVendor", {"vendor": 0x1234, "data": _b64(b"payload")}
    )
    assert ryu.parse(v10.encode(m.BarrierReply(xid=3))) == ("OFPBarrierReply", {})


def test_features_reply_with_ports(ryu) -> None:
    msg = m.FeaturesReply(
        0x0000000000ABCDEF, n_buffers=256, n_tables=2, capabilities=0x87, actions=0xFFF,
        ports=(PORT_ETH1, PORT_LOCAL), xid=4,
    )
    assert ryu.parse(v10.encode(msg)) == ("OFPSwitchFeatures", {
        "datapath_id": 0xABCDEF, "n_buffers": 256, "n_tables": 2, "capabilities": 0x87,
        "actions": 0xFFF, "ports": {"1": PORT_ETH1_RYU, "65534": PORT_LOCAL_RYU},
    })


def test_features_reply_drops_bits_of13_only(ryu) -> None:
    port = m.Port(2, 0, "p2", curr=(1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | OFPPF_COPPER)  # 40G..OTHER
    _, body = ryu.parse(v10.encode(m.FeaturesReply(1, ports=(port,))))
    assert body["ports"]["2"]["OFPPhyPort"]["curr"] == 0x80


def test_get_config_reply(ryu) -> None:
    assert ryu.parse(v10.encode(m.GetConfigReply(2, 0xFFFF))) == (
        "OFPGetConfigReply", {"flags": 2, "miss_send_len": 0xFFFF}
    )


@pytest.mark.parametrize("port, wire_port", [(3, 3), (OFPP_LOCAL, 0xFFFE), (0xFEFF, 0xFEFF)])
def test_packet_in(ryu, port: int, wire_port: int) -> None:
    msg = m.PacketIn(0x100, len(FRAME) + 10, 1, match=Match.build(in_port=port), data=FRAME, xid=0)
    assert ryu.parse(v10.encode(msg)) == ("OFPPacketIn", {
        "buffer_id": 0x100, "total_len": len(FRAME) + 10, "in_port": wire_port, "reason": 1,
        "data": _b64(FRAME),
    })


FLOW_REMOVED_MATCHES = [
    (Match.build(in_port=1, eth_dst=MAC_B, eth_src=MAC_A),
     "in_port=1, dl_dst='fa:c8:e8:76:1d:7e', dl_src='00:11:22:33:44:55'"),
    (Match.build(eth_type=0x800, ip_proto=6, ipv4_dst=(0x0A000000, 0xFFFFFF00), tcp_dst=80),
     "dl_type=0x800, nw_proto=6, nw_dst='10.0.0.0', nw_dst_mask=24, tp_dst=80"),
    (Match.build(vlan_vid=OFPVID_PRESENT | 100, vlan_pcp=7, eth_type=0x800, ip_dscp=46),
     "dl_vlan=100, dl_vlan_pcp=7, dl_type=0x800, nw_tos=184"),
    (Match(), ""),
]


@pytest.mark.parametrize("match, ryu_kw", FLOW_REMOVED_MATCHES, ids=range(len(FLOW_REMOVED_MATCHES)))
def test_flow_removed(ryu, match: Match, ryu_kw: str) -> None:
    msg = m.FlowRemoved(
        cookie=0xFEDCBA9876543210, priority=0x1234, reason=2, duration_sec=100,
        duration_nsec=999_999_999, idle_timeout=60, packet_count=2**40, byte_count=2**63,
        match=match, xid=11,
    )
    assert ryu.parse(v10.encode(msg)) == ("OFPFlowRemoved", {
        "cookie": 0xFEDCBA9876543210, "priority": 0x1234, "reason": 2, "duration_sec": 100,
        "duration_nsec": 999_999_999, "idle_timeout": 60, "packet_count": 2**40,
        "byte_count": 2**63, "match": ryu_match(ryu, ryu_kw),
    })


def test_port_status(ryu) -> None:
    assert ryu.parse(v10.encode(m.PortStatus(0, PORT_ETH1))) == (
        "OFPPortStatus", {"reason": 0, "desc": PORT_ETH1_RYU}
    )
    assert ryu.parse(v10.encode(m.PortStatus(1, PORT_LOCAL))) == (
        "OFPPortStatus", {"reason": 1, "desc": PORT_LOCAL_RYU}
    )


def test_queue_get_config_reply(ryu) -> None:
    msg = m.QueueGetConfigReply(2, (m.PacketQueue(1, min_rate=500), m.PacketQueue(0xFFFFFFFE)))
    assert ryu.parse(v10.encode(msg)) == ("OFPQueueGetConfigReply", {
        "port": 2,
        "queues": [
            {"OFPPacketQueue": {"queue_id": 1, "len": 24, "properties": [
                {"OFPQueuePropMinRate": {"property": 1, "len": 16, "rate": 500}}]}},
            {"OFPPacketQueue": {"queue_id": 0xFFFFFFFE, "len": 8, "properties": []}},
        ],
    })


def test_flow_mod_we_encode(ryu) -> None:
    """Our FLOW_MOD (swctl --of speaks it) parses in Ryu as the same flow."""
    msg = m.FlowMod(
        Match.build(in_port=1, eth_type=0x800, ip_proto=17, udp_src=68), cookie=5,
        command=OFPFC_ADD, idle_timeout=10, priority=1000, flags=OFPFF_SEND_FLOW_REM,
        instructions=(a.ApplyActions(ALL_ACTIONS),), xid=12,
    )
    assert ryu.parse(v10.encode(msg)) == ("OFPFlowMod", {
        "match": ryu_match(ryu, "in_port=1, dl_type=0x800, nw_proto=17, tp_src=68"),
        "cookie": 5, "command": 0, "idle_timeout": 10, "hard_timeout": 0, "priority": 1000,
        "buffer_id": 0xFFFFFFFF, "out_port": 0xFFFF, "flags": 1,
        "actions": ryu_actions(ryu, ALL_ACTIONS_RYU),
    })


def _stats_reply(stats_type: int, body, flags: int = 0) -> dict:
    return {"type": stats_type, "flags": flags, "body": body}


def test_desc_stats_reply(ryu) -> None:
    msg = m.DescStatsReply("Maker", "hw", "sw 1.0", "SN-1", "br0 datapath", xid=13)
    assert ryu.parse(v10.encode(msg)) == ("OFPDescStatsReply", _stats_reply(0, {"OFPDescStats": {
        "mfr_desc": "Maker", "hw_desc": "hw", "sw_desc": "sw 1.0", "serial_num": "SN-1",
        "dp_desc": "br0 datapath",
    }}))


def test_flow_stats_reply(ryu) -> None:
    entries = (
        m.FlowStats(
            table_id=0, duration_sec=12, duration_nsec=345, priority=100, idle_timeout=30,
            hard_timeout=600, flags=OFPFF_SEND_FLOW_REM, cookie=0xC0FFEE, packet_count=7,
            byte_count=700, match=Match.build(in_port=2, eth_type=0x806),
            instructions=(a.ApplyActions(ALL_ACTIONS),),
        ),
        m.FlowStats(table_id=1, priority=0, match=Match()),  # a drop flow: no actions
    )
    expected = [
        {"OFPFlowStats": {
            "length": 88 + 8 * 11 + 16 * 3, "table_id": 0, "duration_sec": 12,
            "duration_nsec": 345, "priority": 100, "idle_timeout": 30, "hard_timeout": 600,
            "cookie": 0xC0FFEE, "packet_count": 7, "byte_count": 700,
            "match": ryu_match(ryu, "in_port=2, dl_type=0x806"),
            "actions": ryu_actions(ryu, ALL_ACTIONS_RYU),
        }},
        {"OFPFlowStats": {
            "length": 88, "table_id": 1, "duration_sec": 0, "duration_nsec": 0, "priority": 0,
            "idle_timeout": 0, "hard_timeout": 0, "cookie": 0, "packet_count": 0,
            "byte_count": 0, "match": ryu_match(ryu, ""), "actions": [],
        }},
    ]
    assert ryu.parse(v10.encode(m.FlowStatsReply(entries, xid=14))) == (
        "OFPFlowStatsReply", _stats_reply(1, expected)
    )


def test_aggregate_stats_reply(ryu) -> None:
    msg = m.AggregateStatsReply(2**64 - 1, 12345, 3)
    assert ryu.parse(v10.encode(msg)) == ("OFPAggregateStatsReply", _stats_reply(2, [
        {"OFPAggregateStats": {"packet_count": 2**64 - 1, "byte_count": 12345, "flow_count": 3}}
    ]))


def test_table_stats_reply(ryu) -> None:
    entries = (
        m.TableStats(0, 5, 1000, 900, "classifier", 0x3FFFFF, 1_000_000),
        m.TableStats(1, 0, 0, 0, "t1", 0, 10),
    )
    assert ryu.parse(v10.encode(m.TableStatsReply(entries))) == ("OFPTableStatsReply", _stats_reply(3, [
        {"OFPTableStats": {"table_id": 0, "name": "classifier", "wildcards": 0x3FFFFF,
                           "max_entries": 1_000_000, "active_count": 5, "lookup_count": 1000,
                           "matched_count": 900}},
        {"OFPTableStats": {"table_id": 1, "name": "t1", "wildcards": 0, "max_entries": 10,
                           "active_count": 0, "lookup_count": 0, "matched_count": 0}},
    ]))


def test_port_stats_reply(ryu) -> None:
    counters = dict(zip(
        ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped",
         "rx_errors", "tx_errors", "rx_frame_err", "rx_over_err", "rx_crc_err", "collisions"),
        (10, 20, 1000, 2000, 1, 2, 3, 4, 5, 6, 7, 2**64 - 1),
    ))
    entries = (m.PortStats(1, **counters, duration_sec=9), m.PortStats(OFPP_LOCAL))
    zeros = dict.fromkeys(counters, 0)
    assert ryu.parse(v10.encode(m.PortStatsReply(entries))) == ("OFPPortStatsReply", _stats_reply(4, [
        {"OFPPortStats": {"port_no": 1, **counters}},
        {"OFPPortStats": {"port_no": 0xFFFE, **zeros}},
    ]))


def test_queue_stats_reply(ryu) -> None:
    entries = (m.QueueStats(1, 0, 100, 10, 1), m.QueueStats(2, 7, 2**63, 0, 0, duration_sec=5))
    assert ryu.parse(v10.encode(m.QueueStatsReply(entries))) == ("OFPQueueStatsReply", _stats_reply(5, [
        {"OFPQueueStats": {"port_no": 1, "queue_id": 0, "tx_bytes": 100, "tx_packets": 10, "tx_errors": 1}},
        {"OFPQueueStats": {"port_no": 2, "queue_id": 7, "tx_bytes": 2**63, "tx_packets": 0, "tx_errors": 0}},
    ]))


def test_split_flow_stats_reply_parses_in_ryu(ryu) -> None:
    """encode_parts: every part is a valid reply Ryu parses; REPLY_MORE on all but the last."""
    entries = tuple(
        m.FlowStats(priority=i, cookie=i, match=Match.build(in_port=i + 1),
                    instructions=(a.ApplyActions((a.Output(i + 2),)),))
        for i in range(40)
    )
    parts = v10.encode_parts(m.FlowStatsReply(entries, xid=77), 1000)
    assert len(parts) == 4  # 96-byte entries, 10 per 1000-byte message
    cookies = []
    for i, part in enumerate(parts):
        cls, body = ryu.parse(part)
        assert cls == "OFPFlowStatsReply"
        assert body["flags"] == (OFPMPF_REPLY_MORE if i < len(parts) - 1 else 0)
        cookies += [entry["OFPFlowStats"]["cookie"] for entry in body["body"]]
    assert cookies == list(range(40))
