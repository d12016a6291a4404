"""Unit tests of openflow.flowtext: ovs-ofctl flow/group/meter text <-> model.

Expected models are built by hand; expected texts are what ovs-ofctl 3.1 printed
for the same flows (tests/crosscheck/test_flowtext_ovs.py checks them live).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow import actions as a
from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow.consts import (
    OFP10,
    OFP13,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFF_CHECK_OVERLAP,
    OFPFF_SEND_FLOW_REM,
    OFPG_ALL,
    OFPG_ANY,
    OFPGC_DELETE,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_INDIRECT,
    OFPGT_SELECT,
    OFPM_ALL,
    OFPM_CONTROLLER,
    OFPMC_DELETE,
    OFPMF_BURST,
    OFPMF_KBPS,
    OFPMF_PKTPS,
    OFPMF_STATS,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_NORMAL,
    OFPP_TABLE,
    OFPTT_ALL,
)
from openflow.match import Match
from openflow.messages import (
    Bucket,
    FlowMod,
    FlowStats,
    GroupDesc,
    GroupMod,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterConfig,
    MeterMod,
)

U64 = (1 << 64) - 1
MAC1, MAC2 = 0x001122334455, 0x66778899AABB


def apply(*actions: a.Action) -> a.ApplyActions:
    return a.ApplyActions(tuple(actions))


# --- parse_flow: text -> hand-built model -------------------------------------------------------

FLOWS: list[tuple[str, FlowMod]] = [
    ("priority=10,in_port=1,actions=output:2",
     FlowMod(match=Match.build(in_port=1), priority=10, instructions=(apply(a.Output(2, 0)),))),
    ("priority=10,ip,in_port=1,nw_dst=10.0.0.0/24,actions=output:2",
     FlowMod(match=Match.build(in_port=1, eth_type=0x800, ipv4_dst=(0x0A000000, 0xFFFFFF00)),
             priority=10, instructions=(apply(a.Output(2, 0)),))),
    ("priority=10,table=1,cookie=0x5,idle_timeout=30,hard_timeout=60,send_flow_rem,"
     "check_overlap,tcp,tp_src=80,tp_dst=443 actions=drop",
     FlowMod(match=Match.build(eth_type=0x800, ip_proto=6, tcp_src=80, tcp_dst=443),
             priority=10, table_id=1, cookie=5, idle_timeout=30, hard_timeout=60,
             flags=OFPFF_SEND_FLOW_REM | OFPFF_CHECK_OVERLAP)),
    ("dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=NORMAL",
     FlowMod(match=Match.build(eth_src=MAC1, eth_dst=(1 << 40, 1 << 40)),
             instructions=(apply(a.Output(OFPP_NORMAL, 0)),))),
    ("eth_src=00:11:22:33:44:55,eth_dst=66:77:88:99:aa:bb,eth_type=0x88cc,actions=CONTROLLER",
     FlowMod(match=Match.build(eth_src=MAC1, eth_dst=MAC2, eth_type=0x88CC),
             instructions=(apply(a.Output(OFPP_CONTROLLER, 0xFFFF)),))),
    ("udp,nw_src=10.0.0.1/255.255.0.0,udp_dst=53,actions=CONTROLLER:128",
     FlowMod(match=Match.build(eth_type=0x800, ip_proto=17, ipv4_src=(0x0A000000, 0xFFFF0000),
                               udp_dst=53),
             instructions=(apply(a.Output(OFPP_CONTROLLER, 128)),))),
    ("sctp6,tp_src=1,sctp_dst=2,actions=controller(max_len=200)",
     FlowMod(match=Match.build(eth_type=0x86DD, ip_proto=132, sctp_src=1, sctp_dst=2),
             instructions=(apply(a.Output(OFPP_CONTROLLER, 200)),))),
    ("arp,nw_src=10.0.0.1,arp_tpa=10.0.0.0/8,nw_proto=2,arp_sha=00:11:22:33:44:55,"
     "arp_tha=66:77:88:99:aa:bb,actions=FLOOD,ALL,IN_PORT,LOCAL,TABLE",
     FlowMod(match=Match.build(eth_type=0x806, arp_spa=0x0A000001, arp_tpa=(0x0A000000, 0xFF000000),
                               arp_op=2, arp_sha=MAC1, arp_tha=MAC2),
             instructions=(apply(a.Output(OFPP_FLOOD, 0), a.Output(OFPP_ALL, 0),
                                 a.Output(OFPP_IN_PORT, 0), a.Output(OFPP_LOCAL, 0),
                                 a.Output(OFPP_TABLE, 0)),))),
    ("icmp,icmp_type=8,icmp_code=0,actions=drop",
     FlowMod(match=Match.build(eth_type=0x800, ip_proto=1, icmpv4_type=8, icmpv4_code=0))),
    ("icmp,tp_src=3,tp_dst=1,actions=drop",
     FlowMod(match=Match.build(eth_type=0x800, ip_proto=1, icmpv4_type=3, icmpv4_code=1))),
    ("icmp6,icmp_type=135,nd_target=fe80::1,nd_sll=00:11:22:33:44:55,actions=drop",
     FlowMod(match=Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=135,
                               ipv6_nd_target=0xFE80 << 112 | 1, ipv6_nd_sll=MAC1))),
    ("eth_type=0x86dd,ip_proto=58,icmpv6_type=136,icmpv6_code=0,ipv6_nd_target=::2,"
     "ipv6_nd_tll=66:77:88:99:aa:bb,actions=drop",
     FlowMod(match=Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=136, icmpv6_code=0,
                               ipv6_nd_target=2, ipv6_nd_tll=MAC2))),
    ("ipv6,ipv6_src=2001:db8::/32,ipv6_dst=::1,ipv6_label=0x12345,ipv6_exthdr=0x4/0x4,"
     "nw_tos=8,nw_ecn=1,actions=drop",
     FlowMod(match=Match.build(eth_type=0x86DD, ipv6_src=(0x20010DB8 << 96, ((1 << 32) - 1) << 96),
                               ipv6_dst=1, ipv6_flabel=0x12345, ipv6_exthdr=(4, 4),
                               ip_dscp=2, ip_ecn=1))),
    ("ip,ip_dscp=46,ip_ecn=3,ipv4_src=1.2.3.4,ipv4_dst=5.6.7.8,ip_proto=47,actions=drop",
     FlowMod(match=Match.build(eth_type=0x800, ip_dscp=46, ip_ecn=3, ipv4_src=0x01020304,
                               ipv4_dst=0x05060708, ip_proto=47))),
    ("mpls,mpls_label=100,mpls_tc=3,mpls_bos=1,actions=pop_mpls:0x0800,output:1",
     FlowMod(match=Match.build(eth_type=0x8847, mpls_label=100, mpls_tc=3, mpls_bos=1),
             instructions=(apply(a.PopMpls(0x800), a.Output(1, 0)),))),
    ("dl_type=0x88e7,pbb_isid=0x123456/0xffff00,actions=pop_pbb",
     FlowMod(match=Match.build(eth_type=0x88E7, pbb_isid=(0x123400, 0xFFFF00)),
             instructions=(apply(a.PopPbb()),))),
    ("in_port=LOCAL,in_phy_port=3,metadata=0x5/0xff,tun_id=0x64,actions=IN_PORT",
     FlowMod(match=Match.build(in_port=OFPP_LOCAL, in_phy_port=3, metadata=(5, 0xFF), tunnel_id=100),
             instructions=(apply(a.Output(OFPP_IN_PORT, 0)),))),
    ("in_port=65534,tunnel_id=0x1/0x1,actions=2,65279",
     FlowMod(match=Match.build(in_port=OFPP_LOCAL, tunnel_id=(1, 1)),
             instructions=(apply(a.Output(2, 0), a.Output(65279, 0)),))),
    # VLAN forms (ovs-fields "VLAN Fields").
    ("dl_vlan=5,dl_vlan_pcp=3,actions=drop", FlowMod(match=Match.build(vlan_vid=0x1005, vlan_pcp=3))),
    ("dl_vlan_pcp=3,actions=drop", FlowMod(match=Match.build(vlan_vid=(0x1000, 0x1000), vlan_pcp=3))),
    ("dl_vlan=0xffff,actions=drop", FlowMod(match=Match.build(vlan_vid=0))),
    ("vlan_tci=0,actions=drop", FlowMod(match=Match.build(vlan_vid=0))),
    ("vlan_tci=0x1000/0x1000,actions=drop", FlowMod(match=Match.build(vlan_vid=(0x1000, 0x1000)))),
    ("vlan_tci=0x3005,actions=drop", FlowMod(match=Match.build(vlan_vid=0x1005, vlan_pcp=1))),
    ("vlan_tci=0x0fff/0x0fff,actions=drop", FlowMod(match=Match.build(vlan_vid=(0xFFF, 0xFFF)))),
    ("vlan_vid=0x1005,vlan_pcp=7,actions=drop", FlowMod(match=Match.build(vlan_vid=0x1005, vlan_pcp=7))),
    ("vlan_vid=0x1000/0x1000,actions=drop", FlowMod(match=Match.build(vlan_vid=(0x1000, 0x1000)))),
    # Later keys win, shorthands combine like ovs-ofctl's.
    ("ip,tcp,in_port=1,in_port=2,actions=drop",
     FlowMod(match=Match.build(eth_type=0x800, ip_proto=6, in_port=2))),
    ("tcp,ipv6,actions=drop", FlowMod(match=Match.build(eth_type=0x86DD, ip_proto=6))),
    # dump-flows output parses back (statistics ignored).
    (" cookie=0x10, duration=1.234s, table=3, n_packets=3, n_bytes=400, idle_timeout=5, "
     "send_flow_rem priority=10,ip,in_port=1 actions=output:2",
     FlowMod(match=Match.build(in_port=1, eth_type=0x800), cookie=0x10, table_id=3,
             idle_timeout=5, flags=OFPFF_SEND_FLOW_REM, priority=10,
             instructions=(apply(a.Output(2, 0)),))),
    # Instructions in their order; the action list in between becomes ApplyActions.
    ("actions=meter:1,output:1,clear_actions,write_actions(group:2,set_queue:3),"
     "write_metadata:0x5/0xff,goto_table:3",
     FlowMod(instructions=(a.Meter(1), apply(a.Output(1, 0)), a.ClearActions(),
                           a.WriteActions((a.Group(2), a.SetQueue(3))),
                           a.WriteMetadata(5, 0xFF), a.GotoTable(3)))),
    ("actions=write_metadata:0x10", FlowMod(instructions=(a.WriteMetadata(0x10, U64),))),
    ("actions=write_actions(drop)", FlowMod()),
    ("actions=", FlowMod()),
    ("actions=,output:1,", FlowMod(instructions=(apply(a.Output(1, 0)),))),
]


@pytest.mark.parametrize("text,expected", FLOWS, ids=[f[0][:60] for f in FLOWS])
def test_parse_flow(text: str, expected: FlowMod) -> None:
    assert flowtext.parse_flow(text) == expected


ACTIONS: list[tuple[str, tuple[a.Action, ...]]] = [
    ("mod_vlan_vid:5,mod_vlan_pcp:3,strip_vlan,pop_vlan",
     (a.SetVlanVid(5), a.SetVlanPcp(3), a.PopVlan(), a.PopVlan())),
    ("push_vlan:0x8100,push_vlan:0x88a8,push_mpls:0x8847,pop_mpls:0x0800,push_pbb:0x88e7,pop_pbb",
     (a.PushVlan(0x8100), a.PushVlan(0x88A8), a.PushMpls(0x8847), a.PopMpls(0x800),
      a.PushPbb(0x88E7), a.PopPbb())),
    ("set_mpls_ttl:5,set_mpls_ttl(6),dec_mpls_ttl,dec_ttl,mod_nw_ttl:3,set_nw_ttl:4,"
     "copy_ttl_in,copy_ttl_out",
     (a.SetMplsTtl(5), a.SetMplsTtl(6), a.DecMplsTtl(), a.DecNwTtl(), a.SetNwTtl(3),
      a.SetNwTtl(4), a.CopyTtlIn(), a.CopyTtlOut())),
    ("mod_dl_src:00:11:22:33:44:55,mod_dl_dst:66:77:88:99:aa:bb,mod_nw_src:10.0.0.1,"
     "mod_nw_dst:10.0.0.2,mod_nw_tos:16,mod_nw_ecn:2,mod_tp_src:1,mod_tp_dst:2",
     (a.SetField("eth_src", MAC1), a.SetField("eth_dst", MAC2), a.SetField("ipv4_src", 0x0A000001),
      a.SetField("ipv4_dst", 0x0A000002), a.SetField("ip_dscp", 4), a.SetField("ip_ecn", 2),
      a.SetTpSrc(1), a.SetTpDst(2))),
    ("set_field:4101->vlan_vid,set_field:1.2.3.4->ip_src,set_field:::1->ipv6_dst,"
     "set_field:0x5->tun_id,set_field:0x9->metadata,set_field:3->icmp_type,set_field:7->mpls_label",
     (a.SetField("vlan_vid", 0x1005), a.SetField("ipv4_src", 0x01020304), a.SetField("ipv6_dst", 1),
      a.SetField("tunnel_id", 5), a.SetField("metadata", 9), a.SetField("icmpv4_type", 3),
      a.SetField("mpls_label", 7))),
    ("enqueue:1:2,enqueue(LOCAL,3),set_queue:4,group:5,output:CONTROLLER,OUTPUT:3,in_port,normal",
     (a.Enqueue(1, 2), a.Enqueue(OFPP_LOCAL, 3), a.SetQueue(4), a.Group(5),
      a.Output(OFPP_CONTROLLER, 0xFFFF), a.Output(3, 0), a.Output(OFPP_IN_PORT, 0),
      a.Output(OFPP_NORMAL, 0))),
    ("output:2 , output:3", (a.Output(2, 0), a.Output(3, 0))),
    ("set_field:0x8847->dl_type,set_field:0->mpls_bos,set_field:17->nw_proto",
     (a.SetField("eth_type", 0x8847), a.SetField("mpls_bos", 0), a.SetField("ip_proto", 17))),
]


@pytest.mark.parametrize("text,expected", ACTIONS, ids=[t for t, _ in ACTIONS])
def test_parse_actions(text: str, expected: tuple[a.Action, ...]) -> None:
    assert flowtext.parse_actions(text) == (apply(*expected),)


# --- version lowering (what ovs-ofctl -O OpenFlow13 / OpenFlow10 sends) ------------------------------

LOWERED: list[tuple[str, int, tuple[a.Action, ...]]] = [
    ("actions=mod_vlan_vid:5", OFP13, (a.PushVlan(0x8100), a.SetField("vlan_vid", 0x1005))),
    ("dl_vlan=3,actions=mod_vlan_vid:5", OFP13, (a.SetField("vlan_vid", 0x1005),)),
    ("actions=mod_vlan_pcp:5", OFP13, (a.PushVlan(0x8100), a.SetField("vlan_pcp", 5))),
    ("actions=push_vlan:0x8100,mod_vlan_vid:3", OFP13,
     (a.PushVlan(0x8100), a.SetField("vlan_vid", 0x1003))),
    ("dl_vlan=1,actions=strip_vlan,mod_vlan_vid:3", OFP13,
     (a.PopVlan(), a.PushVlan(0x8100), a.SetField("vlan_vid", 0x1003))),
    ("tcp,actions=mod_tp_src:1,mod_tp_dst:2", OFP13,
     (a.SetField("tcp_src", 1), a.SetField("tcp_dst", 2))),
    ("udp6,actions=mod_tp_src:1", OFP13, (a.SetField("udp_src", 1),)),
    ("sctp,actions=mod_tp_dst:1", OFP13, (a.SetField("sctp_dst", 1),)),
    ("ip,actions=enqueue:1:2", OFP13, (a.SetQueue(2), a.Output(1, 0))),
    ("actions=mod_vlan_vid:5", OFP10, (a.SetVlanVid(5),)),
    ("dl_vlan=3,actions=set_field:4101->vlan_vid,set_field:2->vlan_pcp", OFP10,
     (a.SetVlanVid(5), a.SetVlanPcp(2))),
    ("tcp,actions=set_field:1->tcp_src,set_field:2->tcp_dst", OFP10, (a.SetTpSrc(1), a.SetTpDst(2))),
    ("actions=pop_vlan,mod_nw_tos:16", OFP10, (a.PopVlan(), a.SetField("ip_dscp", 4))),
]


@pytest.mark.parametrize("text,version,expected", LOWERED, ids=[f"{t}@{v}" for t, v, _ in LOWERED])
def test_parse_flow_lowers_to_version(text: str, version: int, expected: tuple[a.Action, ...]) -> None:
    assert flowtext.parse_flow(text, version=version).instructions == (apply(*expected),)


def test_version_none_keeps_of10_classes() -> None:
    fm = flowtext.parse_flow("actions=mod_vlan_vid:5,mod_tp_src:1,enqueue:1:2")
    assert fm.instructions == (apply(a.SetVlanVid(5), a.SetTpSrc(1), a.Enqueue(1, 2)),)


# --- commands --------------------------------------------------------------------------------------


def test_delete_defaults_and_keywords() -> None:
    fm = flowtext.parse_flow("", command=OFPFC_DELETE)
    assert (fm.command, fm.table_id, fm.out_port, fm.out_group, fm.instructions) == (
        OFPFC_DELETE, OFPTT_ALL, OFPP_ANY, OFPG_ANY, ())
    fm = flowtext.parse_flow("table=3,cookie=0x5/0xff,out_port=3,out_group=4,tcp",
                             command=OFPFC_DELETE)
    assert (fm.table_id, fm.cookie, fm.cookie_mask, fm.out_port, fm.out_group) == (3, 5, 0xFF, 3, 4)
    assert fm.match == Match.build(eth_type=0x800, ip_proto=6)
    fm = flowtext.parse_flow("priority=5,ip", command=OFPFC_DELETE_STRICT)
    assert (fm.priority, fm.table_id) == (5, OFPTT_ALL)


def test_modify_cookie_mask_and_table() -> None:
    fm = flowtext.parse_flow("cookie=0x5/0xff,table=255,ip,actions=drop", command=OFPFC_MODIFY)
    assert (fm.cookie, fm.cookie_mask, fm.table_id, fm.command) == (5, 0xFF, 0, OFPFC_MODIFY)


ERRORS: list[tuple[str, dict, str]] = [
    ("foo=1,actions=drop", {}, "unknown keyword 'foo'"),
    ("IP,actions=drop", {}, "unknown keyword 'IP'"),
    ("nw_ttl=3,actions=drop", {}, "Open vSwitch extension"),
    ("reg0=1,actions=drop", {}, "Open vSwitch extension"),
    ("nw_src=1.2.3.4,actions=drop", {}, "nw_src (ipv4_src): prerequisites not met: needs "
                                         "eth_type=0x0800 (ip)"),
    ("ipv6,nw_src=1.2.3.4,actions=drop", {}, "prerequisites not met"),
    ("tp_src=80,actions=drop", {}, "tp_src: prerequisites not met: needs a transport protocol"),
    ("udp,tcp_src=80,actions=drop", {}, "needs ip_proto=6 (tcp)"),
    ("ip,icmp_type=3,actions=drop", {}, "needs ip_proto=1 (icmp)"),
    ("vlan_tci=0x2000/0xf000,actions=drop", {}, "without a VLAN tag has no PCP"),
    ("vlan_tci=0x1000/0x3000,actions=drop", {}, "partial PCP mask"),
    ("vlan_pcp=3,vlan_tci=0x1000/0x1000,actions=drop", {}, None),  # later vlan_tci wins: fine
    ("icmp6,nd_target=::1,actions=drop", {}, "icmpv6_type=135 or icmpv6_type=136"),
    ("dl_vlan=4096,actions=drop", {}, "0..4095"),
    ("dl_vlan_pcp=8,actions=drop", {}, "0..7"),
    ("ip,nw_tos=5,actions=drop", {}, "multiple of 4"),
    ("ip,ip_dscp=64,actions=drop", {}, "does not fit in 6 bits"),
    ("tcp,tp_src=65536,actions=drop", {}, "does not fit in 16 bits"),
    ("ip,nw_src=1.2.3,actions=drop", {}, "not an IPv4 address"),
    ("ip,nw_src=1.2.3.4/33,actions=drop", {}, "longer than 32 bits"),
    ("ipv6,ipv6_src=1::2::3,actions=drop", {}, "not an IPv6 address"),
    ("dl_src=00:00:00:00:00,actions=drop", {}, "not an Ethernet address"),
    ("in_port=foo,actions=drop", {}, "'foo' is not a port number or name"),
    ("priority=65536,actions=drop", {}, "does not fit in 16 bits"),
    ("dl_type=abc,actions=drop", {}, "'abc' is not a number"),
    ("ip", {}, "must specify an action"),
    ("cookie=0x5/0xff,actions=drop", {}, "flow additions cannot use a cookie mask"),
    ("ip,actions=output:1", {"command": OFPFC_DELETE}, "actions are not allowed when deleting"),
    ("priority=5,ip", {"command": OFPFC_DELETE}, "only meaningful for strict deletes"),
    ("idle_timeout=5", {"command": OFPFC_DELETE}, "not allowed when deleting"),
    ("out_port=1,actions=drop", {}, "only allowed when deleting"),
    ("send_flow_rem", {"command": OFPFC_DELETE_STRICT}, "not allowed when deleting"),
    ("importance=3,actions=drop", {}, "OpenFlow 1.4"),
    ("actions=foo", {}, "unknown action 'foo'"),
    ("actions=output:foo", {}, "'foo' is not a port number or name"),
    ("actions=output:ANY", {}, "output:ANY"),
    ("actions=drop,output:1", {}, '"drop" must not be accompanied'),
    ("actions=output:1,meter:1", {}, "meter must appear before apply_actions"),
    ("actions=goto_table:1,output:1", {}, "apply_actions must appear before goto_table"),
    ("actions=write_actions(output:1),clear_actions", {},
     "clear_actions must appear before write_actions, for OpenFlow 1.1+ compatibility"),
    ("actions=goto_table:1,goto_table:2", {}, "duplicate goto_table instruction"),
    ("table=3,actions=goto_table:2", {}, "later table"),
    ("actions=write_actions(goto_table:1)", {}, "goto_table instruction not allowed in write_actions"),
    ("actions=write_actions(output:1", {}, "unbalanced"),
    ("actions=mod_vlan_vid:4096", {}, "not a valid VLAN VID"),
    ("actions=mod_vlan_pcp:8", {}, "not a valid VLAN PCP"),
    ("actions=push_vlan:0x1234", {}, "ethertype must be one of 0x8100, 0x88a8"),
    ("ip,actions=mod_nw_tos:17", {}, "not a valid TOS"),
    ("actions=mod_dl_src:00:01", {}, "not an Ethernet address"),
    ("actions=set_field:1.2.3.4->ip_src", {}, "set_field ipv4_src lacks correct prerequisites: "
                                              "needs eth_type=0x0800 (ip)"),
    ("ip,actions=push_mpls:0x8847,set_field:1.1.1.1->ip_src", {}, "lacks correct prerequisites"),
    ("actions=set_field:5->vlan_pcp", {}, "needs a VLAN tag"),
    ("ip,actions=set_field:1->in_port", {}, "in_port is read-only"),
    ("tcp,actions=set_field:17->ip_proto,set_field:1->tcp_src", {}, "lacks correct prerequisites"),
    ("ip,actions=set_field:0x8847->eth_type,set_field:1.1.1.1->ip_src", {},
     "lacks correct prerequisites"),
    ("ip,actions=set_field:1->nw_ttl", {}, "not a field set_field can write"),
    ("dl_vlan=1,actions=set_field:3->vlan_vid", {}, "OFPVID_PRESENT"),
    ("tcp,actions=set_field:0x5/0xff->tcp_src", {}, "masked set_field"),
    ("actions=set_field:1", {}, "expected set_field:VALUE->FIELD"),
    ("actions=dec_ttl(1,2)", {}, "dec_ttl takes no argument"),
    ("actions=pop_vlan", {"version": OFP13}, "needs a VLAN tag in OpenFlow 1.1+"),
    ("actions=mod_tp_src:1", {"version": OFP13}, "needs a tcp, udp or sctp match"),
    ("actions=push_vlan:0x8100", {"version": OFP10}, "no OpenFlow 1.0 form"),
    ("actions=set_queue:1", {"version": OFP10}, "no OpenFlow 1.0 form"),
    ("actions=goto_table:1", {"version": OFP10}, "no OpenFlow 1.0 form"),
    ("ipv6,ipv6_src=::1,actions=drop", {"version": OFP10}, "cannot be expressed in OpenFlow 1.0"),
    ("table=1,actions=drop", {"version": OFP10}, "OpenFlow 1.0 flow mods have no table"),
    ("tcp,tp_src=0x50/0xfff0,actions=drop", {"version": OFP13}, "tcp_src cannot be masked"),
]


@pytest.mark.parametrize("text,kw,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_parse_flow_errors(text: str, kw: dict, message: str | None) -> None:
    if message is None:
        flowtext.parse_flow(text, **kw)
        return
    with pytest.raises(ValueError) as info:
        flowtext.parse_flow(text, **kw)
    assert message in str(info.value)


def test_masked_non_maskable_field_is_kept_without_version() -> None:
    # ovs-ofctl sends it (as OXM with a mask); only a wire version forbids it.
    fm = flowtext.parse_flow("tcp,tp_src=0x50/0xfff0,actions=drop")
    assert fm.match.get("tcp_src") == ("tcp_src", 0x50, 0xFFF0)


# --- formatting (golden texts from ovs-ofctl 3.1) -----------------------------------------------------

MATCH_TEXTS: list[tuple[Match, str]] = [
    (Match.build(eth_type=0x800, ip_proto=6, in_port=3, vlan_vid=0x1005, vlan_pcp=3, eth_src=MAC1,
                 eth_dst=(1 << 40, 1 << 40), ipv4_src=0x01020304, ipv4_dst=(0x05060700, 0xFFFFFF00),
                 ip_dscp=4, tcp_src=80, tcp_dst=443),
     "tcp,in_port=3,dl_vlan=5,dl_vlan_pcp=3,dl_src=00:11:22:33:44:55,"
     "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,nw_src=1.2.3.4,nw_dst=5.6.7.0/24,nw_tos=16,"
     "tp_src=80,tp_dst=443"),
    (Match.build(eth_type=0x86DD, ip_proto=17, tunnel_id=7, metadata=(5, 0xFF), in_port=4,
                 ipv6_src=0x20010DB8 << 96 | 1, ipv6_dst=(0x20010DB8 << 96, ((1 << 32) - 1) << 96),
                 ipv6_flabel=5, ip_dscp=3, ip_ecn=1, udp_dst=53),
     "udp6,tun_id=0x7,metadata=0x5/0xff,in_port=4,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::/32,"
     "ipv6_label=0x00005,nw_tos=12,nw_ecn=1,tp_dst=53"),
    (Match.build(eth_type=0x806, arp_op=2, arp_spa=0x01010101, arp_tpa=0x02020202, arp_sha=1,
                 arp_tha=2, eth_src=1),
     "arp,dl_src=00:00:00:00:00:01,arp_spa=1.1.1.1,arp_tpa=2.2.2.2,arp_op=2,"
     "arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02"),
    (Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=135, icmpv6_code=0, ipv6_nd_target=1,
                 ip_dscp=1),
     "icmp6,nw_tos=4,icmp_type=135,icmp_code=0,nd_target=::1"),
    (Match.build(eth_type=0x8847, mpls_bos=1, eth_src=1), "mpls,dl_src=00:00:00:00:00:01,mpls_bos=1"),
    (Match.build(eth_type=0x8848), "mplsm"),
    (Match.build(eth_type=0x8035), "rarp"),
    (Match.build(eth_type=0x1234, eth_src=1, in_port=3, vlan_vid=0x1004),
     "in_port=3,dl_vlan=4,dl_src=00:00:00:00:00:01,dl_type=0x1234"),
    (Match.build(eth_type=0x800, ip_proto=99, ipv4_src=0x01010101, ip_dscp=2, ip_ecn=1),
     "ip,nw_src=1.1.1.1,nw_proto=99,nw_tos=8,nw_ecn=1"),
    (Match.build(eth_type=0x800, ipv4_src=(0x01000300, 0xFF00FF00)), "ip,nw_src=1.0.3.0/255.0.255.0"),
    (Match.build(eth_type=0x86DD, ipv6_src=(0x2001 << 112, 0xFFFF0000FFFF << 80)),
     "ipv6,ipv6_src=2001::/ffff:0:ffff::"),
    (Match.build(eth_type=0x800, ip_proto=6, tcp_src=(0x50, 0xFFF0)), "tcp,tp_src=0x50/0xfff0"),
    (Match.build(eth_type=0x86DD, ipv6_flabel=(5, 0xF)), "ipv6,ipv6_label=0x00005/0x0000f"),
    (Match.build(vlan_vid=0), "vlan_tci=0x0000/0x1fff"),
    (Match.build(vlan_vid=5), "vlan_tci=0x0005/0x1fff"),
    (Match.build(vlan_vid=(0x1000, 0x1000)), "vlan_tci=0x1000/0x1000"),
    (Match.build(vlan_vid=(0x1000, 0x1000), vlan_pcp=2), "dl_vlan_pcp=2"),
    (Match.build(vlan_vid=(0xFFF, 0xFFF)), "vlan_tci=0x0fff/0x0fff"),
    (Match.build(vlan_vid=0x1000), "dl_vlan=0"),
    (Match.build(in_port=OFPP_CONTROLLER), "in_port=CONTROLLER"),
    (Match.build(in_port=0xFFFFFF00), "in_port=65280"),
    (Match(), ""),
]


@pytest.mark.parametrize("match,text", MATCH_TEXTS, ids=[t or "empty" for _, t in MATCH_TEXTS])
def test_format_match(match: Match, text: str) -> None:
    assert flowtext.format_match(match) == text
    assert flowtext.parse_match(text) == match


def test_format_match_priority_and_of10_no_tag() -> None:
    assert flowtext.format_match(Match.build(eth_type=0x800), priority=10) == "priority=10,ip"
    assert flowtext.format_match(Match(), priority=0x8000) == ""
    assert flowtext.format_match(Match.build(vlan_vid=0), version=OFP10) == "vlan_tci=0x0000"
    assert flowtext.parse_match("vlan_tci=0x0000") == Match.build(vlan_vid=0)


@pytest.mark.parametrize("value,text", [
    (1, "::1"), (0, "::"), (0x20003, "::0.2.0.3"), (0xFFFF01020304, "::ffff:1.2.3.4"),
    (0xFFFF00000000, "::ffff:0.0.0.0"), (0x20010000000000010000000000000001, "2001:0:0:1::1"),
    (0x20010DB8000000010001000100010001, "2001:db8:0:1:1:1:1:1"), (1 << 112, "1::"),
])
def test_format_ipv6_like_inet_ntop(value: int, text: str) -> None:
    assert fa.format_ipv6(value) == text
    assert fa.parse_ipv6(text, "x") == value


INSTRUCTION_TEXTS: list[tuple[tuple[a.Instruction, ...], int | None, str]] = [
    ((), None, "drop"),
    ((apply(),), None, "drop"),
    ((apply(), a.GotoTable(3)), None, "goto_table:3"),
    ((apply(a.Output(1, 0), a.Output(OFPP_CONTROLLER, 0xFFFF), a.Output(OFPP_CONTROLLER, 128),
            a.Output(OFPP_LOCAL, 0), a.Output(OFPP_IN_PORT, 0), a.Output(0xFFFFFF00, 0)),),
     None, "output:1,CONTROLLER:65535,CONTROLLER:128,LOCAL,IN_PORT,output:65280"),
    ((apply(a.SetField("vlan_vid", 0x1005), a.SetField("ipv4_src", 0x01020304),
            a.SetField("ip_dscp", 4), a.SetField("ipv6_flabel", 5), a.SetField("tunnel_id", 5),
            a.SetField("metadata", 5), a.SetField("eth_src", 1), a.SetField("ip_ecn", 3),
            a.SetField("icmpv4_type", 3), a.SetField("ipv6_nd_sll", 1)),),
     None, "set_field:4101->vlan_vid,set_field:1.2.3.4->ip_src,set_field:4->ip_dscp,"
           "set_field:0x5->ipv6_label,set_field:0x5->tun_id,set_field:0x5->metadata,"
           "set_field:00:00:00:00:00:01->eth_src,set_field:3->nw_ecn,set_field:3->icmp_type,"
           "set_field:00:00:00:00:00:01->nd_sll"),
    ((apply(a.SetField("eth_src", 1), a.SetField("ipv4_dst", 0x01020304), a.SetField("ip_dscp", 4),
            a.PopVlan(), a.SetVlanVid(5), a.SetVlanPcp(3), a.SetTpSrc(1), a.SetTpDst(2),
            a.Enqueue(OFPP_LOCAL, 3)),),
     OFP10, "mod_dl_src:00:00:00:00:00:01,mod_nw_dst:1.2.3.4,mod_nw_tos:16,strip_vlan,"
            "mod_vlan_vid:5,mod_vlan_pcp:3,mod_tp_src:1,mod_tp_dst:2,enqueue:LOCAL:3"),
    ((apply(a.PushVlan(0x8100), a.PopVlan(), a.PushMpls(0x8847), a.PopMpls(0x800),
            a.SetMplsTtl(5), a.DecMplsTtl(), a.SetNwTtl(4), a.DecNwTtl(), a.SetQueue(3),
            a.Group(5)),),
     None, "push_vlan:0x8100,pop_vlan,push_mpls:0x8847,pop_mpls:0x0800,set_mpls_ttl(5),"
           "dec_mpls_ttl,mod_nw_ttl:4,dec_ttl,set_queue:3,group:5"),
    ((a.Meter(1), apply(a.Output(1, 0)), a.ClearActions(),
      a.WriteActions((a.Output(1, 0), a.Group(2))), a.WriteMetadata(1, U64), a.GotoTable(3)),
     None, "meter:1,output:1,clear_actions,write_actions(output:1,group:2),write_metadata:0x1,"
           "goto_table:3"),
    ((a.WriteMetadata(5, 0xFF),), None, "write_metadata:0x5/0xff"),
]


@pytest.mark.parametrize("instructions,version,text", INSTRUCTION_TEXTS,
                         ids=[t[:50] for _, _, t in INSTRUCTION_TEXTS])
def test_format_actions(instructions: tuple[a.Instruction, ...], version: int | None, text: str) -> None:
    assert flowtext.format_actions(instructions, version) == text


def test_format_flow_mod_like_ofp_print() -> None:
    fm = flowtext.parse_flow("table=2,priority=5,cookie=0x10,idle_timeout=5,hard_timeout=10,"
                             "send_flow_rem,tcp,in_port=3,tp_src=80,actions=drop")
    assert flowtext.format_flow_mod(fm) == (
        "ADD table:2 priority=5,tcp,in_port=3,tp_src=80 cookie:0x10 idle:5 hard:10 "
        "send_flow_rem actions=drop")
    fm = flowtext.parse_flow("table=255,cookie=0x5/0xff,out_port=5", command=OFPFC_DELETE)
    assert flowtext.format_flow_mod(fm) == "DEL table:255 cookie:0x5/0xff out_port:5 actions=drop"
    fm = FlowMod(command=OFPFC_MODIFY, table_id=1, priority=7, buffer_id=5)
    assert flowtext.format_flow_mod(fm) == "MOD table:1 priority=7 buf:0x5 actions=drop"


@pytest.mark.parametrize("sec,nsec,text", [
    (1, 0, "1s"), (0, 1, "0.000000001s"), (5, 500_000_000, "5.500s"), (5, 120, "5.00000012s"),
    (1, 234_000_000, "1.234s"), (3, 5000, "3.000005s"),
])
def test_format_duration(sec: int, nsec: int, text: str) -> None:
    assert flowtext.format_duration(sec, nsec) == text


def test_format_flow_stats_like_dump_flows() -> None:
    entry = FlowStats(table_id=3, duration_sec=1, duration_nsec=234_000_000, priority=10,
                      idle_timeout=5, hard_timeout=6, flags=OFPFF_SEND_FLOW_REM, cookie=0x10,
                      packet_count=3, byte_count=400,
                      match=Match.build(in_port=1, eth_type=0x800),
                      instructions=(apply(a.Output(2, 0), a.Output(OFPP_CONTROLLER, 128)),))
    text = (" cookie=0x10, duration=1.234s, table=3, n_packets=3, n_bytes=400, idle_timeout=5, "
            "hard_timeout=6, send_flow_rem priority=10,ip,in_port=1 actions=output:2,CONTROLLER:128")
    assert flowtext.format_flow_stats(entry, OFP13) == text
    back = flowtext.parse_flow(text)
    assert (back.match, back.priority, back.cookie, back.table_id, back.flags, back.instructions) == (
        entry.match, 10, 0x10, 3, OFPFF_SEND_FLOW_REM, entry.instructions)
    assert flowtext.format_flow_stats(FlowStats(duration_sec=1), OFP13) == (
        " cookie=0x0, duration=1s, table=0, n_packets=0, n_bytes=0, actions=drop")


# --- groups and meters ----------------------------------------------------------------------------


GROUPS: list[tuple[str, GroupMod, str]] = [
    ("group_id=1,type=select,bucket=output:1,bucket=weight:10,watch_port:2,actions=output:2",
     GroupMod(command=0, type=OFPGT_SELECT, group_id=1, buckets=(
         Bucket((a.Output(1, 0),), weight=1), Bucket((a.Output(2, 0),), weight=10, watch_port=2))),
     "group_id=1,type=select,bucket=actions=output:1,bucket=weight:10,watch_port:2,actions=output:2"),
    ("group_id=2,type=ff,bucket=watch_port:1,output:1,bucket=watch_group:3,output:2",
     GroupMod(command=0, type=OFPGT_FF, group_id=2, buckets=(
         Bucket((a.Output(1, 0),), watch_port=1), Bucket((a.Output(2, 0),), watch_group=3))),
     "group_id=2,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_group:3,actions=output:2"),
    ("group_id=3 type=all bucket=actions=output:1 bucket=",
     GroupMod(command=0, type=OFPGT_ALL, group_id=3, buckets=(Bucket((a.Output(1, 0),)), Bucket())),
     "group_id=3,type=all,bucket=actions=output:1,bucket=actions=drop"),
    ("group_id=4,type=indirect,bucket=actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:3",
     GroupMod(command=0, type=OFPGT_INDIRECT, group_id=4, buckets=(
         Bucket((a.PushVlan(0x8100), a.SetField("vlan_vid", 0x1005), a.Output(3, 0))),)),
     "group_id=4,type=indirect,bucket=actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:3"),
    ("group_id=5,type=fast_failover,bucket=watch_port:LOCAL,mod_vlan_vid:3,LOCAL",
     GroupMod(command=0, type=OFPGT_FF, group_id=5, buckets=(
         Bucket((a.SetVlanVid(3), a.Output(OFPP_LOCAL, 0)), watch_port=OFPP_LOCAL),)),
     "group_id=5,type=ff,bucket=watch_port:LOCAL,actions=mod_vlan_vid:3,LOCAL"),
]


@pytest.mark.parametrize("text,expected,formatted", GROUPS, ids=[g[0][:40] for g in GROUPS])
def test_parse_and_format_group(text: str, expected: GroupMod, formatted: str) -> None:
    assert flowtext.parse_group(text) == expected
    assert flowtext.format_group(expected) == formatted
    assert flowtext.format_group(GroupDesc(expected.type, expected.group_id, expected.buckets)) == formatted
    assert flowtext.parse_group(formatted) == expected
    assert flowtext.format_group_mod(expected) == "ADD " + formatted


def test_group_delete() -> None:
    assert flowtext.parse_group("", command=OFPGC_DELETE) == GroupMod(OFPGC_DELETE, OFPGT_ALL, OFPG_ALL)
    assert flowtext.parse_group("group_id=all", command=OFPGC_DELETE).group_id == OFPG_ALL
    assert flowtext.parse_group("group_id=7", command=OFPGC_DELETE).group_id == 7


@pytest.mark.parametrize("text,kw,message", [
    ("group_id=1,bucket=output:1", {}, "must specify a type"),
    ("type=all,bucket=output:1", {}, "must specify a group_id"),
    ("group_id=1,type=foo", {}, "invalid group type 'foo'"),
    ("group_id=1,type=all,bucket=weight:5,output:1", {}, "Only select groups can have bucket weights."),
    ("group_id=1,type=ff,bucket=output:1", {}, "requires watch_port or watch_group"),
    ("group_id=1,type=indirect,bucket=output:1,bucket=output:2", {}, "at most one bucket"),
    ("group_id=1,type=all,bucket=output:1,goto_table:1", {}, "goto_table instruction not allowed"),
    ("group_id=1,type=all,bucket=bucket_id:3,output:1", {}, "OpenFlow 1.5"),
    ("group_id=1,type=select,selection_method=hash", {}, "OpenFlow 1.5"),
    ("group_id=1,type=all,bucket=output:1", {"command": OFPGC_DELETE}, "not allowed when deleting"),
    ("group_id=1,type=all,frob=1", {}, "unknown group keyword 'frob'"),
])
def test_parse_group_errors(text: str, kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        flowtext.parse_group(text, **kw)


METERS: list[tuple[str, MeterMod, str]] = [
    ("meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100,"
     "type=dscp_remark,rate=2000,burst_size=0,prec_level=1",
     MeterMod(0, OFPMF_KBPS | OFPMF_BURST | OFPMF_STATS, 1,
              (MeterBandDrop(1000, 100), MeterBandDscpRemark(2000, 0, 1))),
     "meter=1 kbps burst stats bands=\ntype=drop rate=1000 burst_size=100\n"
     "type=dscp_remark rate=2000 burst_size=0 prec_level=1"),
    ("meter=2,pktps,band=type=drop,rate=5",
     MeterMod(0, OFPMF_PKTPS, 2, (MeterBandDrop(5),)), "meter=2 pktps bands=\ntype=drop rate=5"),
    ("meter=controller pktps bands= type=dscp_remark rate=9 prec_level=2",
     MeterMod(0, OFPMF_PKTPS, OFPM_CONTROLLER, (MeterBandDscpRemark(9, 0, 2),)),
     "meter=controller pktps bands=\ntype=dscp_remark rate=9 prec_level=2"),
]


@pytest.mark.parametrize("text,expected,formatted", METERS, ids=[m[0][:30] for m in METERS])
def test_parse_and_format_meter(text: str, expected: MeterMod, formatted: str) -> None:
    assert flowtext.parse_meter(text) == expected
    assert flowtext.format_meter(expected) == formatted
    assert flowtext.format_meter(MeterConfig(expected.flags, expected.meter_id, expected.bands)) == formatted
    assert flowtext.parse_meter(formatted) == expected
    assert flowtext.format_meter_mod(expected) == "ADD " + formatted


def test_meter_delete() -> None:
    assert flowtext.parse_meter("", command=OFPMC_DELETE) == MeterMod(OFPMC_DELETE, 0, OFPM_ALL)
    assert flowtext.parse_meter("meter=3", command=OFPMC_DELETE).meter_id == 3


@pytest.mark.parametrize("text,message", [
    ("meter=1,bands=type=drop,rate=5", "meter must specify either 'kbps' or 'pktps'"),
    ("meter=1,kbps", "must specify bands"),
    ("meter=1,kbps,bands=type=drop", "band must have 'rate'"),
    ("meter=1,kbps,bands=type=foo,rate=5", "unknown band type 'foo'"),
    ("kbps,bands=type=drop,rate=5", "must specify 'meter'"),
    ("meter=1,kbps,bands=rate=5,type=drop", "band must start with the 'type' keyword"),
    ("meter=1,kbps,burst,bands=type=drop,rate=5", "when 'burst' flag is set"),
    ("meter=1,kbps,bands=type=drop,rate=5,prec_level=1", "only for type=dscp_remark"),
    ("meter=1,mbps,bands=type=drop,rate=5", "unknown meter keyword 'mbps'"),
])
def test_parse_meter_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        flowtext.parse_meter(text)


# --- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", FLOWS, ids=[f[0][:60] for f in FLOWS])
def test_format_flow_round_trip(text: str, expected: FlowMod) -> None:
    assert flowtext.parse_flow(flowtext.format_flow(expected)) == expected


def test_format_flow_round_trip_for_deletes() -> None:
    fm = flowtext.parse_flow("table=3,cookie=0x5/0xff,out_port=LOCAL,out_group=4,tcp",
                             command=OFPFC_DELETE)
    assert flowtext.format_flow(fm) == "cookie=0x5/0xff,table=3,out_port=LOCAL,out_group=4,tcp"
    assert flowtext.parse_flow(flowtext.format_flow(fm), command=OFPFC_DELETE) == fm


_PORTS = st.one_of(st.integers(1, 0xFEFF), st.integers(0x10000, 0xFFFFFEFF),
                   st.sampled_from([OFPP_LOCAL, OFPP_IN_PORT, OFPP_CONTROLLER, 0xFFFFFF00]))


def _maybe(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just({}), values.map(lambda v: {name: v}))


def _masked(bits: int) -> st.SearchStrategy:
    full = (1 << bits) - 1
    return st.one_of(st.integers(0, full), st.tuples(st.integers(0, full), st.integers(1, full)))


@st.composite
def matches(draw: st.DrawFn) -> Match:
    kw: dict = {}
    for part in (_maybe("in_port", _PORTS), _maybe("metadata", _masked(64)),
                 _maybe("tunnel_id", _masked(64)), _maybe("eth_src", _masked(48)),
                 _maybe("eth_dst", _masked(48))):
        kw.update(draw(part))
    if "in_port" in kw:
        kw.update(draw(_maybe("in_phy_port", _PORTS)))
    vlan = draw(st.sampled_from(["none", "untagged", "vid", "vid+pcp", "any+pcp", "any", "raw"]))
    if vlan == "untagged":
        kw["vlan_vid"] = 0
    elif vlan in ("vid", "vid+pcp"):
        kw["vlan_vid"] = 0x1000 | draw(st.integers(0, 0xFFF))
    elif vlan in ("any", "any+pcp"):
        kw["vlan_vid"] = (0x1000, 0x1000)
    elif vlan == "raw":
        kw["vlan_vid"] = (draw(st.integers(0, 0x1FFF)), draw(st.integers(1, 0x1FFF)))
    if vlan.endswith("+pcp"):
        kw["vlan_pcp"] = draw(st.integers(0, 7))
    eth = draw(st.sampled_from([None, 0x0800, 0x86DD, 0x0806, 0x8847, 0x8848, 0x88E7, 0x88CC]))
    if eth is not None:
        kw["eth_type"] = eth
    if eth in (0x0800, 0x86DD):
        kw.update(draw(_maybe("ip_dscp", st.integers(0, 63))))
        kw.update(draw(_maybe("ip_ecn", st.integers(0, 3))))
        if eth == 0x0800:
            kw.update(draw(_maybe("ipv4_src", _masked(32))))
            kw.update(draw(_maybe("ipv4_dst", _masked(32))))
        else:
            for name, bits in (("ipv6_src", 128), ("ipv6_dst", 128), ("ipv6_flabel", 20),
                               ("ipv6_exthdr", 9)):
                kw.update(draw(_maybe(name, _masked(bits))))
        icmp = 1 if eth == 0x0800 else 58
        proto = draw(st.sampled_from([None, 6, 17, 132, icmp, 99]))
        if proto is not None:
            kw["ip_proto"] = proto
        prefix = {6: "tcp", 17: "udp", 132: "sctp", 1: "icmpv4", 58: "icmpv6"}.get(proto or 0)
        if prefix in ("tcp", "udp", "sctp"):
            kw.update(draw(_maybe(f"{prefix}_src", st.integers(0, 0xFFFF))))
            kw.update(draw(_maybe(f"{prefix}_dst", st.integers(0, 0xFFFF))))
        elif prefix:
            nd = proto == 58 and draw(st.booleans())
            icmp_type = draw(st.sampled_from([135, 136])) if nd else draw(st.integers(0, 255))
            kw.update(draw(_maybe(f"{prefix}_type", st.just(icmp_type))) if not nd
                      else {f"{prefix}_type": icmp_type})
            kw.update(draw(_maybe(f"{prefix}_code", st.integers(0, 255))))
            if nd:
                kw.update(draw(_maybe("ipv6_nd_target", st.integers(0, (1 << 128) - 1))))
                kw.update(draw(_maybe("ipv6_nd_sll" if icmp_type == 135 else "ipv6_nd_tll",
                                      st.integers(0, (1 << 48) - 1))))
    elif eth == 0x0806:
        for name, values in (("arp_op", st.integers(0, 0xFFFF)), ("arp_spa", _masked(32)),
                             ("arp_tpa", _masked(32)), ("arp_sha", _masked(48)),
                             ("arp_tha", _masked(48))):
            kw.update(draw(_maybe(name, values)))
    elif eth in (0x8847, 0x8848):
        kw.update(draw(_maybe("mpls_label", st.integers(0, (1 << 20) - 1))))
        kw.update(draw(_maybe("mpls_tc", st.integers(0, 7))))
        kw.update(draw(_maybe("mpls_bos", st.integers(0, 1))))
    elif eth == 0x88E7:
        kw.update(draw(_maybe("pbb_isid", _masked(24))))
    return Match.build(**kw)


@given(matches(), st.integers(0, 0xFFFF))
def test_match_round_trip(match: Match, priority: int) -> None:
    assert flowtext.parse_match(flowtext.format_match(match)) == match
    fm = FlowMod(match=match, priority=priority)
    assert flowtext.parse_flow(flowtext.format_flow(fm)) == fm


_SETTABLE = sorted(set(fa.SET_FIELD_NAMES.values()))
_ACTIONS = st.one_of(
    _PORTS.map(lambda p: a.Output(p, 0xFFFF if p == OFPP_CONTROLLER else 0)),
    st.integers(0, 0xFFFF).map(lambda n: a.Output(OFPP_CONTROLLER, n)),
    st.builds(a.Group, st.integers(0, 0xFFFFFFFF)),
    st.builds(a.SetQueue, st.integers(0, 0xFFFFFFFF)),
    st.builds(a.Enqueue, _PORTS, st.integers(0, 0xFFFFFFFF)),
    st.builds(a.SetVlanVid, st.integers(0, 0xFFF)),
    st.builds(a.SetVlanPcp, st.integers(0, 7)),
    st.builds(a.SetTpSrc, st.integers(0, 0xFFFF)),
    st.builds(a.SetTpDst, st.integers(0, 0xFFFF)),
    st.sampled_from(_SETTABLE).flatmap(lambda f: st.integers(0, (1 << fa.FIELD_BY_NAME[f].bits) - 1).map(
        lambda v: a.SetField(f, v | 0x1000 if f == "vlan_vid" else v))),
    st.sampled_from([0x8100, 0x88A8]).map(a.PushVlan),
    st.sampled_from([0x8847, 0x8848]).map(a.PushMpls),
    st.integers(0, 0xFFFF).map(a.PopMpls),
    st.sampled_from([a.PopVlan(), a.PushPbb(), a.PopPbb(), a.CopyTtlIn(), a.CopyTtlOut(),
                     a.DecMplsTtl(), a.DecNwTtl()]),
    st.builds(a.SetMplsTtl, st.integers(0, 255)),
    st.builds(a.SetNwTtl, st.integers(0, 255)),
)


@st.composite
def instruction_lists(draw: st.DrawFn) -> tuple[a.Instruction, ...]:
    out: list[a.Instruction] = []
    if draw(st.booleans()):
        out.append(a.Meter(draw(st.integers(0, 0xFFFFFFFF))))
    actions = draw(st.lists(_ACTIONS, max_size=6))
    if actions:
        out.append(a.ApplyActions(tuple(actions)))
    if draw(st.booleans()):
        out.append(a.ClearActions())
    written = draw(st.lists(_ACTIONS, max_size=4))
    if written:
        out.append(a.WriteActions(tuple(written)))
    if draw(st.booleans()):
        out.append(a.WriteMetadata(draw(st.integers(0, U64)), draw(st.integers(1, U64))))
    if draw(st.booleans()):
        out.append(a.GotoTable(draw(st.integers(0, 254))))
    return tuple(out)


@given(instruction_lists())
def test_actions_round_trip(instructions: tuple[a.Instruction, ...]) -> None:
    assert flowtext.parse_actions(flowtext.format_actions(instructions)) == instructions


@given(st.lists(_ACTIONS, max_size=5), st.sampled_from([OFPGT_ALL, OFPGT_SELECT, OFPGT_INDIRECT, OFPGT_FF]),
       st.integers(0, 0xFFFF), _PORTS, st.integers(0, 0xFFFFFFFF))
def test_group_round_trip(actions: list, gtype: int, weight: int, watch: int, group_id: int) -> None:
    bucket = Bucket(tuple(actions), weight=weight if gtype == OFPGT_SELECT else 0,
                    watch_port=watch if gtype == OFPGT_FF else OFPP_ANY)
    gm = GroupMod(command=0, type=gtype, group_id=group_id, buckets=(bucket,))
    assert flowtext.parse_group(flowtext.format_group(gm)) == gm
