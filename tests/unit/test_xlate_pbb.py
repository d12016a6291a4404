"""xlate of PBB push/pop (802.1ah), pbb_isid, and copy_ttl_in/out, through ofproto on the
dummy datapath (issue 7).

Same method as test_xlate.py (whose builders and lab this reuses): real FLOW_MODs and
GROUP_MODs, frames injected on dummy ports, output compared byte for byte with frames
built here.  A backbone header is built from its parts (B-DA, B-SA, [B-TAG], 0x88e7,
I-TAG TCI = PCP << 29 | DEI << 28 | UCA << 27 | I-SID), the layout of IEEE 802.1ah and
of Ryu's ``pbb.itag``.
"""

from __future__ import annotations

import struct

import pytest

from openflow import actions as ofa
from openflow.messages import PacketOut
from tests.unit.test_ofproto import Lab
from tests.unit.test_xlate import (
    MAC_A,
    MAC_B,
    MAC_C,
    assert_checksums,
    build_eth,
    build_ipv4,
    build_ipv6,
    group,
    lse,
    v4,
)

ITAG_TYPE = 0x88E7


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def backbone(customer: bytes, isid: int, *, pcp: int = 0, uca: int = 0, dst: bytes = MAC_B,
             src: bytes = MAC_A, btag: tuple[int, int] | None = None) -> bytes:
    """``customer`` behind an 802.1ah header."""
    tag = b"" if btag is None else struct.pack("!HH", *btag)
    return dst + src + tag + struct.pack("!HI", ITAG_TYPE, pcp << 29 | uca << 27 | isid) + customer


# ------------------------------------------------------------------ push_pbb


def test_push_pbb_copies_addresses_and_is_cached(lab):
    lab.flow("priority=1,in_port=1,ip,actions=push_pbb:0x88e7,output:2")
    for _ in range(2):
        lab.send(1, v4())
    assert lab.out(2) == [backbone(v4(), 0)] * 2
    assert lab.dp.stats().flows == 1 and lab.sw.upcalls_handled == 1  # a megaflow serves


def test_push_pbb_takes_the_vlan_pcp_and_keeps_the_tag_inside(lab):
    lab.flow("priority=1,in_port=1,actions=push_pbb:0x88e7,output:2")
    tagged = v4(tags=((0x8100, 5 << 13 | 100),))
    lab.send(1, tagged)
    assert lab.out(2) == [backbone(tagged, 0, pcp=5)]


def test_push_pbb_twice_copies_the_isid_and_later_tables_see_pbb(lab):
    lab.flow("table=0,priority=1,in_port=1,actions=write_metadata:0x0", instructions=(
        ofa.ApplyActions((ofa.PushPbb(ITAG_TYPE), ofa.SetField("pbb_isid", 0x123),
                          ofa.PushPbb(ITAG_TYPE))), ofa.GotoTable(1)))
    lab.flow("table=1,priority=5,dl_type=0x88e7,pbb_isid=0x123,dl_src=0a:00:00:00:00:01,"
             "actions=set_field:0xabcdef->pbb_isid,set_field:0a:00:00:00:00:03->eth_dst,"
             "output:2")
    lab.flow("table=1,priority=1,actions=output:3")
    lab.send(1, v4())
    inner = backbone(v4(), 0x123)
    assert lab.out(2) == [backbone(inner, 0xABCDEF, dst=MAC_C)]
    assert lab.out(3) == []


def test_push_pbb_then_push_vlan_makes_a_b_tag(lab):
    lab.flow("priority=1,in_port=1,actions=push_pbb:0x88e7,push_vlan:0x88a8,"
             "set_field:4106->vlan_vid,output:2")  # 4106 = OFPVID_PRESENT | 10
    lab.send(1, v4())
    assert lab.out(2) == [backbone(v4(), 0, btag=(0x88A8, 10))]


# ------------------------------------------------------------------ pop_pbb


def test_pop_pbb_leaves_the_customer_frame(lab):
    lab.flow("priority=1,in_port=1,dl_type=0x88e7,actions=pop_pbb,output:2")
    customer = v4(tags=((0x88A8, 10), (0x8100, 3 << 13 | 100)))
    lab.send(1, backbone(customer, 100, dst=MAC_C, src=MAC_C))
    assert lab.out(2) == [customer]
    lab.flow("priority=1,in_port=3,actions=pop_pbb,output:4")  # not PBB: nothing popped
    lab.send(3, v4())
    assert lab.out(4) == [v4()]


def test_pop_pbb_then_goto_matches_the_customer_headers_uncached(lab):
    lab.flow("table=0,priority=1,in_port=1,dl_type=0x88e7,pbb_isid=100,"
             "actions=pop_pbb,goto_table:1")
    lab.flow("table=1,priority=5,udp,tp_dst=2000,actions=dec_ttl,output:2")
    lab.flow("table=1,priority=1,actions=output:3")
    lab.send(1, backbone(v4(dport=2000, ttl=9), 100))
    lab.send(1, backbone(v4(dport=9), 100))
    (routed,) = lab.out(2)
    assert routed == v4(dport=2000, ttl=8)
    assert_checksums(routed)
    assert lab.out(3) == [v4(dport=9)]
    # The decisions came from bytes the megaflow could not match: nothing is cached.
    assert lab.dp.stats().flows == 0 and lab.sw.upcalls_handled == 2


def test_pop_pbb_over_a_b_tag_and_inner_qinq_keeps_the_inner_tpid(lab):
    lab.flow("table=0,priority=1,in_port=1,actions=pop_pbb,goto_table:1")
    lab.flow("table=1,priority=1,vlan_tci=0x1000/0x1000,actions=pop_vlan,push_vlan:0x8100,"
             "set_field:4097->vlan_vid,output:2")
    customer = v4(tags=((0x88A8, 10), (0x88A8, 20)))
    lab.send(1, backbone(customer, 7, btag=(0x88A8, 99)))
    # The outer S-tag replaced by a C-tag of VID 1; the inner tag keeps its 0x88a8.
    assert lab.out(2) == [v4(tags=((0x8100, 1), (0x88A8, 20)))]


def test_pop_pbb_pads_a_short_customer_frame(lab):
    """Ryu's match/*ICMPV4* cases after a pop: a 60-byte frame must stay 60 bytes."""
    lab.flow("priority=1,in_port=1,mpls,actions=pop_mpls:0x0800,output:2")
    ip = bytes(build_ipv4())[:20]
    ip = struct.pack("!BBH", 0x45, 0, 28) + ip[4:10] + b"\0\0" + ip[12:20]
    icmp = b"\x08\x00\xf7\xff\x00\x00\x00\x00"
    frame = build_eth(lse(16, 0, 1, 64) + ip + icmp, 0x8847)
    frame += bytes(60 - len(frame))
    lab.send(1, frame)
    assert lab.out(2) == [build_eth(ip + icmp) + bytes(60 - 14 - 28)]


def test_packet_out_with_pop_pbb(lab):
    customer = build_eth(build_ipv6(), 0x86DD)
    lab.sw.packet_out(PacketOut(in_port=1, actions=(ofa.PopPbb(), ofa.Output(2)),
                                data=backbone(customer, 5)))
    assert lab.out(2) == [customer]


# ------------------------------------------------------------------ pbb_isid


def test_match_and_set_pbb_isid_behind_a_b_tag(lab):
    lab.flow("priority=1,in_port=1,dl_type=0x88e7,pbb_isid=0x60/0xf0,"
             "actions=set_field:203->pbb_isid,output:2")
    customer = v4(tags=((0x8100, 100),))
    lab.send(1, backbone(customer, 100, pcp=3, uca=1, btag=(0x88A8, 10)))
    lab.send(1, backbone(customer, 203, btag=(0x88A8, 10)))  # 203 & 0xf0 = 0xc0: no match
    assert lab.out(2) == [backbone(customer, 203, pcp=3, uca=1, btag=(0x88A8, 10))]


# ------------------------------------------------------------------ groups


def test_all_group_push_pbb_does_not_leak_into_the_next_bucket(lab):
    group(lab, "group_id=1,type=all,bucket=actions=push_pbb:0x88e7,set_field:9->pbb_isid,"
               "output:2,bucket=actions=set_field:10.9.9.9->ip_dst,output:3")
    lab.flow("priority=1,in_port=1,actions=group:1")
    lab.send(1, v4())
    assert lab.out(2) == [backbone(v4(), 9)]
    (out,) = lab.out(3)
    assert out == v4(dst=bytes([10, 9, 9, 9]))
    assert_checksums(out)


def test_all_group_pop_pbb_does_not_leak_into_the_next_bucket(lab):
    group(lab, "group_id=1,type=all,bucket=actions=pop_pbb,set_field:10.9.9.9->ip_dst,"
               "output:2,bucket=actions=output:3")
    lab.flow("priority=1,in_port=1,actions=group:1")
    customer = v4(tags=((0x8100, 100),))
    frame = backbone(customer, 0x4242, pcp=6, uca=1, dst=MAC_C, btag=(0x88A8, 10))
    lab.send(1, frame)
    assert lab.out(2) == [v4(tags=((0x8100, 100),), dst=bytes([10, 9, 9, 9]))]
    # The customer frame's change taken back, then the backbone header, B-TAG and
    # I-TAG bits restored.
    assert lab.out(3) == [frame]


# ------------------------------------------------------------------ copy_ttl_in/out


def test_copy_ttl_out_then_dec_mpls_ttl_sees_the_copied_ttl(lab):
    lab.flow("priority=1,in_port=1,mpls,actions=copy_ttl_out,output:2,dec_mpls_ttl,output:3")
    ip = build_ipv4(ttl=32)
    lab.send(1, build_eth(lse(16, 2, 1, 64) + ip, 0x8847))
    assert lab.out(2) == [build_eth(lse(16, 2, 1, 32) + ip, 0x8847)]
    assert lab.out(3) == [build_eth(lse(16, 2, 1, 31) + ip, 0x8847)]
    assert lab.dp.stats().flows == 0  # the TTL came from bytes the key does not hold


def test_copy_ttl_in_to_ipv4_ipv6_and_mpls_is_cached(lab):
    lab.flow("priority=1,in_port=1,mpls,actions=copy_ttl_in,output:2")
    bottom, upper = lse(16, 0, 1, 64), lse(16, 0, 0, 64)
    for top, inner, copied in (
            (bottom, build_ipv4(ttl=32), build_ipv4(ttl=64)),
            (bottom, build_ipv6(hlim=32), build_ipv6(hlim=64)),
            (upper, lse(17, 0, 1, 5) + build_ipv4(), lse(17, 0, 1, 64) + build_ipv4())):
        lab.send(1, build_eth(top + inner, 0x8847))
        assert lab.out(2) == [build_eth(top + copied, 0x8847)]
    assert_checksums(build_eth(build_ipv4(ttl=64)))
    # The datapath copies per packet: one megaflow (on in_port and eth_type) serves all.
    assert lab.dp.stats().flows == 1 and lab.sw.upcalls_handled == 1


def test_copy_ttl_on_ip_does_nothing_and_copy_ttl_in_in_the_action_set(lab):
    lab.flow("priority=1,in_port=1,ip,actions=copy_ttl_out,copy_ttl_in,output:2")
    lab.send(1, v4(ttl=7))
    assert lab.out(2) == [v4(ttl=7)]
    # Action set order (OF1.3 5.10): copy_ttl_in first, then pop_mpls, then the output.
    lab.flow("priority=1,in_port=3,mpls,actions=write_actions(output:4,pop_mpls:0x0800,"
             "copy_ttl_in)")
    lab.send(3, build_eth(lse(16, 0, 1, 99) + build_ipv4(ttl=5), 0x8847))
    (out,) = lab.out(4)
    assert out == v4(ttl=99)
    assert_checksums(out)
