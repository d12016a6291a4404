"""xlate through ofproto on the dummy datapath: actions checked on the output frames.

Every test installs real FLOW_MODs (``parse_flow``, OF1.3 or OF1.0) and GROUP_MODs
(``parse_group``) through ``Switch``, injects frames on dummy ports and compares what
comes out byte for byte with frames built here independently (``build_*``; their
checksums computed by ``inet_csum``, and every rewritten frame re-checked with
``assert_checksums``, which sums the headers again).
"""

from __future__ import annotations

import struct

import pytest

from datapath.flow import extract
from datapath.netdev import DummyNetdev
from openflow import actions as ofa
from openflow.consts import (
    OFPGT_ALL,
    OFPP_CONTROLLER,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_TABLE,
    OFPPC_NO_FLOOD,
    OFPPC_NO_FWD,
    OFPPC_PORT_DOWN,
    OFPR_ACTION,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
)
from openflow.flowtext import parse_group
from openflow.messages import Bucket, PacketOut
from switch_agent import xlate as xl
from switch_agent.flowtable import OFP10, OFP13
from switch_agent.xlate import GroupEntry
from tests.unit.test_ofproto import Lab

MAC_A = bytes.fromhex("0a0000000001")
MAC_B = bytes.fromhex("0a0000000002")
MAC_C = bytes.fromhex("0a0000000003")
IP_A, IP_B = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2])
IP6_A = bytes.fromhex("fd000000000000000000000000000001")
IP6_B = bytes.fromhex("fd000000000000000000000000000002")
PAYLOAD = b"payload-0123456789"


# ------------------------------------------------------------------ frames, built here


def inet_csum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!I3xB", length, proto)


def build_l4(proto: int, sport: int, dport: int, src: bytes, dst: bytes,
             payload: bytes = PAYLOAD) -> bytes:
    if proto == 17:
        hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    else:  # TCP, ACK set
        hdr = struct.pack("!HHIIHHHH", sport, dport, 1, 2, 0x5010, 8192, 0, 0)
    seg = hdr + payload
    csum = inet_csum(_pseudo(src, dst, proto, len(seg)) + seg)
    if proto == 17 and csum == 0:
        csum = 0xFFFF
    at = 6 if proto == 17 else 16
    return seg[:at] + struct.pack("!H", csum) + seg[at + 2:]


def build_ipv4(proto: int = 17, ttl: int = 64, tos: int = 0, sport: int = 1000,
               dport: int = 2000, src: bytes = IP_A, dst: bytes = IP_B) -> bytes:
    l4 = build_l4(proto, sport, dport, src, dst)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), 0x1234, 0, ttl, proto, 0,
                      src, dst)
    return hdr[:10] + struct.pack("!H", inet_csum(hdr)) + hdr[12:] + l4


def build_ipv6(proto: int = 17, hlim: int = 64, sport: int = 1000, dport: int = 2000) -> bytes:
    l4 = build_l4(proto, sport, dport, IP6_A, IP6_B)
    return struct.pack("!IHBB", 6 << 28, len(l4), proto, hlim) + IP6_A + IP6_B + l4


def build_eth(l3: bytes, eth_type: int = 0x0800, tags: tuple[tuple[int, int], ...] = (),
              src: bytes = MAC_A, dst: bytes = MAC_B) -> bytes:
    """Ethernet with ``tags`` ((tpid, tci), outer first) before ``eth_type``."""
    return dst + src + b"".join(struct.pack("!HH", t, c) for t, c in tags) \
        + struct.pack("!H", eth_type) + l3


def lse(label: int, tc: int, bos: int, ttl: int) -> bytes:
    return struct.pack("!I", label << 12 | tc << 9 | bos << 8 | ttl)


def v4(**kw) -> bytes:
    tags = kw.pop("tags", ())
    return build_eth(build_ipv4(**kw), 0x0800, tags)


def assert_checksums(frame: bytes) -> None:
    """Sum every IPv4/IPv6, TCP and UDP checksum of ``frame`` again (must come to 0)."""
    at = 12
    while struct.unpack_from("!H", frame, at)[0] in (0x8100, 0x88A8):
        at += 4
    eth_type = struct.unpack_from("!H", frame, at)[0]
    at += 2
    if eth_type == 0x0800:
        ihl = (frame[at] & 0xF) * 4
        assert inet_csum(frame[at:at + ihl]) == 0, "IPv4 header checksum"
        total = struct.unpack_from("!H", frame, at + 2)[0]
        proto, src, dst = frame[at + 9], frame[at + 12:at + 16], frame[at + 16:at + 20]
        l4 = frame[at + ihl:at + total]
    elif eth_type == 0x86DD:
        plen = struct.unpack_from("!H", frame, at + 4)[0]
        proto, src, dst = frame[at + 6], frame[at + 8:at + 24], frame[at + 24:at + 40]
        l4 = frame[at + 40:at + 40 + plen]
    else:
        return
    if proto in (6, 17):
        assert inet_csum(_pseudo(src, dst, proto, len(l4)) + l4) == 0, "L4 checksum"


def test_builders_make_valid_checksums():
    for frame in (v4(), v4(proto=6), build_eth(build_ipv6(), 0x86DD),
                  build_eth(build_ipv6(proto=6), 0x86DD)):
        assert_checksums(frame)
    broken = bytearray(v4())
    broken[22] = 9  # the TTL changed, the checksum not
    with pytest.raises(AssertionError):
        assert_checksums(bytes(broken))


# ------------------------------------------------------------------ the lab


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def group(lab: Lab, text: str) -> None:
    lab.sw.group_mod(parse_group(text), OFP13)


# ------------------------------------------------------------------ MPLS


def test_push_mpls_on_ipv4_copies_the_ttl(lab):
    lab.flow("priority=1,in_port=1,actions=push_mpls:0x8847,output:2")
    lab.flow("priority=1,in_port=3,ip,actions=push_mpls:0x8848,"
             "set_field:1000->mpls_label,set_field:5->mpls_tc,output:4")
    ip = build_ipv4(ttl=33)
    lab.send(1, build_eth(ip))
    assert lab.out(2) == [build_eth(lse(0, 0, 1, 33) + ip, 0x8847)]
    lab.send(3, build_eth(ip, tags=((0x8100, 7),)))  # MPLS goes behind the VLAN tag
    assert lab.out(4) == [build_eth(lse(1000, 5, 1, 33) + ip, 0x8848, tags=((0x8100, 7),))]


def test_push_mpls_on_mpls_copies_the_top_entry(lab):
    lab.flow("priority=1,in_port=1,mpls,actions=push_mpls:0x8847,"
             "set_field:77->mpls_label,output:2")
    inner = lse(16, 3, 1, 20) + build_ipv4()
    lab.send(1, build_eth(inner, 0x8847))
    # the new entry: the old one's label (then set), TC and TTL, bottom-of-stack clear
    assert lab.out(2) == [build_eth(lse(77, 3, 0, 20) + inner, 0x8847)]


def test_pop_mpls(lab):
    lab.flow("priority=1,in_port=1,mpls,actions=pop_mpls:0x0800,output:2")
    lab.flow("priority=1,in_port=3,mpls,actions=pop_mpls:0x8847,output:4")
    ip = build_ipv4(ttl=9)
    lab.send(1, build_eth(lse(16, 0, 1, 20) + ip, 0x8847))
    assert lab.out(2) == [build_eth(ip)]
    lab.send(3, build_eth(lse(16, 0, 0, 20) + lse(17, 1, 1, 30) + ip, 0x8847))
    assert lab.out(4) == [build_eth(lse(17, 1, 1, 30) + ip, 0x8847)]
    lab.flow("priority=1,in_port=2,actions=pop_mpls:0x0800,output:1")  # not MPLS: no-op
    lab.send(2, build_eth(ip))
    assert lab.out(1) == [build_eth(ip)]


def test_set_and_dec_mpls_ttl(lab):
    lab.flow("priority=1,in_port=1,mpls,actions=dec_mpls_ttl,output:2,set_mpls_ttl:77,output:3")
    lab.flow("priority=1,in_port=2,ip,actions=set_mpls_ttl:5,dec_mpls_ttl,output:4")  # not MPLS
    ip = build_ipv4()
    lab.send(1, build_eth(lse(100, 2, 1, 10) + ip, 0x8847))
    assert lab.out(2) == [build_eth(lse(100, 2, 1, 9) + ip, 0x8847)]
    assert lab.out(3) == [build_eth(lse(100, 2, 1, 77) + ip, 0x8847)]
    lab.send(2, build_eth(ip))
    assert lab.out(4) == [build_eth(ip)]


@pytest.mark.parametrize("to_controller", [True, False])
def test_dec_mpls_ttl_expiry(lab, to_controller):
    lab.sw.invalid_ttl_to_controller = to_controller
    lab.flow("priority=1,in_port=1,mpls,actions=output:3,dec_mpls_ttl,output:2", cookie=0x42)
    frame = build_eth(lse(100, 0, 1, 1) + build_ipv4(), 0x8847)
    lab.send(1, frame)
    assert lab.out(3) == [frame]  # what came before the decrement still went out
    assert lab.out(2) == []  # and nothing after it
    if to_controller:
        (event,) = lab.packet_ins
        assert (event.request.reason, event.request.cookie, event.in_port, event.data) == \
            (OFPR_INVALID_TTL, 0x42, 1, frame)
    else:
        assert lab.packet_ins == []
    lab.send(1, build_eth(lse(100, 0, 1, 0) + build_ipv4(), 0x8847))  # TTL 0 too
    assert lab.out(2) == [] and len(lab.packet_ins) == (2 if to_controller else 0)


def test_pop_mpls_then_dec_ttl_uses_the_real_ip_ttl(lab):
    """After pop_mpls the inner header comes from the packet (OVS recirculates); such
    translations are not cached, every packet takes the slow path."""
    lab.flow("priority=1,in_port=1,mpls,actions=pop_mpls:0x0800,dec_ttl,output:2")
    for _ in range(2):
        lab.send(1, build_eth(lse(16, 0, 1, 20) + build_ipv4(ttl=64), 0x8847))
    assert lab.out(2) == [v4(ttl=63)] * 2
    assert lab.dp.stats().flows == 0 and lab.sw.upcalls_handled == 2


def test_pop_mpls_then_goto_matches_the_inner_header(lab):
    lab.flow("table=0,priority=1,in_port=1,mpls,actions=pop_mpls:0x0800,goto_table:1")
    lab.flow("table=1,priority=5,udp,tp_dst=2000,actions=output:2")
    lab.flow("table=1,priority=1,actions=output:3")
    lab.send(1, build_eth(lse(16, 0, 1, 20) + build_ipv4(dport=2000), 0x8847))
    lab.send(1, build_eth(lse(16, 0, 1, 20) + build_ipv4(dport=9), 0x8847))
    assert lab.out(2) == [build_eth(build_ipv4(dport=2000), 0x0800)]
    assert lab.out(3) == [build_eth(build_ipv4(dport=9), 0x0800)]


# ------------------------------------------------------------------ IP TTL


def test_dec_ttl_ipv6_hop_limit(lab):
    lab.sw.invalid_ttl_to_controller = True
    lab.flow("priority=1,in_port=1,ipv6,actions=dec_ttl,output:2")
    lab.send(1, build_eth(build_ipv6(hlim=5), 0x86DD))
    (out,) = lab.out(2)
    assert out == build_eth(build_ipv6(hlim=4), 0x86DD)
    assert_checksums(out)
    lab.send(1, build_eth(build_ipv6(hlim=1), 0x86DD))
    assert lab.out(2) == []
    assert [e.request.reason for e in lab.packet_ins] == [OFPR_INVALID_TTL]


def test_dec_ttl_ipv4_checksum_and_non_ip(lab):
    lab.flow("priority=1,in_port=1,actions=dec_ttl,output:2")
    lab.send(1, v4(ttl=64, proto=6))
    (out,) = lab.out(2)
    assert out == v4(ttl=63, proto=6)
    assert_checksums(out)
    arp = build_eth(bytes(28), 0x0806)
    lab.send(1, arp)
    assert lab.out(2) == [arp]  # no TTL: nothing to decrement, forwarded as is


def test_set_nw_ttl(lab):
    lab.flow("priority=1,in_port=1,ip,actions=set_nw_ttl:9,output:2")
    lab.flow("priority=1,in_port=1,ipv6,actions=mod_nw_ttl:200,output:3")
    lab.flow("priority=1,in_port=2,actions=set_nw_ttl:9,output:4", instructions=(
        ofa.ApplyActions((ofa.SetNwTtl(9), ofa.Output(4))),))
    lab.send(1, v4(ttl=64))
    (out,) = lab.out(2)
    assert out == v4(ttl=9)
    assert_checksums(out)
    lab.send(1, build_eth(build_ipv6(hlim=3), 0x86DD))
    assert lab.out(3) == [build_eth(build_ipv6(hlim=200), 0x86DD)]
    arp = build_eth(bytes(28), 0x0806)
    lab.send(2, arp)
    assert lab.out(4) == [arp]


def test_dec_ttl_in_the_action_set_runs_before_output(lab):
    lab.flow("priority=1,in_port=1,actions=write_actions(output:2,dec_ttl)")
    lab.send(1, v4(ttl=10))
    assert lab.out(2) == [v4(ttl=9)]
    lab.send(1, v4(ttl=1))
    assert lab.out(2) == []


# ------------------------------------------------------------------ OpenFlow 1.0 actions


def test_of10_mod_vlan_vid_and_pcp_push_a_tag(lab):
    lab.flow("priority=1,in_port=1,actions=mod_vlan_vid:7,output:2", version=OFP10)
    lab.flow("priority=1,in_port=3,actions=mod_vlan_pcp:5,output:4", version=OFP10)
    lab.flow("priority=1,in_port=2,actions=mod_vlan_pcp:3,mod_vlan_vid:9,output:1",
             version=OFP10)
    lab.send(1, v4())
    assert lab.out(2) == [v4(tags=((0x8100, 7),))]  # PCP 0
    lab.send(3, v4())
    assert lab.out(4) == [v4(tags=((0x8100, 5 << 13),))]  # VID 0
    lab.send(2, v4(tags=((0x8100, 2 << 13 | 100),)))  # tagged: rewritten, not pushed
    assert lab.out(1) == [v4(tags=((0x8100, 3 << 13 | 9),))]


@pytest.mark.parametrize("proto", [6, 17])
def test_of10_mod_tp_src_dst(lab, proto):
    lab.flow("priority=1,in_port=1,actions=mod_tp_src:4444,mod_tp_dst:53,output:2",
             version=OFP10)
    lab.send(1, v4(proto=proto, sport=1000, dport=2000))
    (out,) = lab.out(2)
    assert out == v4(proto=proto, sport=4444, dport=53)
    assert_checksums(out)
    arp = build_eth(bytes(28), 0x0806)
    lab.send(1, arp)
    assert lab.out(2) == [arp]  # no transport ports: nothing changed


def test_of10_strip_vlan_and_enqueue(lab):
    lab.flow("priority=1,in_port=1,actions=strip_vlan,enqueue:2:1", version=OFP10)
    lab.send(1, v4(tags=((0x8100, 10),)))
    lab.send(1, v4())  # untagged: strip_vlan does nothing
    assert lab.out(2) == [v4(), v4()]


# ------------------------------------------------------------------ set_field


def test_set_field_on_a_missing_header_does_nothing(lab):
    # OVS refuses such a flow_mod (MATCH_INCONSISTENT); this switch takes it, and the
    # translation must treat the action as a no-op, not fail
    lab.flow("priority=1,in_port=1,actions=output:2", instructions=(ofa.ApplyActions((
        ofa.SetField("tcp_src", 7), ofa.SetField("ipv4_dst", 0x01020304),
        ofa.SetField("vlan_vid", 0x1005), ofa.SetField("mpls_label", 9),
        ofa.Output(2))),))
    udp6 = build_eth(build_ipv6(), 0x86DD)
    lab.send(1, udp6)
    assert lab.out(2) == [udp6]
    # a group bucket has no match to check against: the same packet can lack the field
    group(lab, "group_id=1,type=all,bucket=actions=set_field:99->udp_dst,output:3")
    lab.flow("priority=1,in_port=2,actions=group:1")
    lab.send(2, v4(proto=6))
    lab.send(2, v4(proto=17, dport=2000))
    out = lab.out(3)
    assert out == [v4(proto=6), v4(proto=17, dport=99)]
    assert_checksums(out[1])


def test_set_field_ip_addresses_update_checksums(lab):
    lab.flow("priority=1,in_port=1,tcp,actions=set_field:10.9.8.7->ip_src,"
             "set_field:40000->tcp_dst,set_field:46->ip_dscp,output:2")
    lab.send(1, v4(proto=6))
    (out,) = lab.out(2)
    assert out == v4(proto=6, src=bytes([10, 9, 8, 7]), dport=40000, tos=46 << 2)
    assert_checksums(out)


# ------------------------------------------------------------------ VLAN stacks


def test_push_vlan_on_a_tagged_packet_makes_qinq(lab):
    lab.flow("priority=1,in_port=1,actions=push_vlan:0x88a8,output:2")
    lab.flow("priority=1,in_port=3,actions=push_vlan:0x88a8,set_field:4296->vlan_vid,output:4",
             instructions=(ofa.ApplyActions((ofa.PushVlan(0x88A8),
                                             ofa.SetField("vlan_vid", 0x1000 | 200),
                                             ofa.Output(4))),))
    tci = 5 << 13 | 10
    lab.send(1, v4(tags=((0x8100, tci),)))
    # the new outer tag copies VID and PCP of the old outer one (OF1.3 7.2.5)
    assert lab.out(2) == [v4(tags=((0x88A8, tci), (0x8100, tci)))]
    lab.send(3, v4(tags=((0x8100, tci),)))
    assert lab.out(4) == [v4(tags=((0x88A8, 5 << 13 | 200), (0x8100, tci)))]
    lab.send(1, v4())  # untagged: VID 0, PCP 0
    assert lab.out(2) == [v4(tags=((0x88A8, 0),))]


def test_push_vlan_over_an_8021ad_tag_keeps_its_tpid(lab):
    lab.flow("priority=1,in_port=1,actions=push_vlan:0x8100,output:2")
    lab.send(1, v4(tags=((0x88A8, 100),)))
    assert lab.out(2) == [v4(tags=((0x8100, 100), (0x88A8, 100)))]
    # and a pop brings the 802.1ad tag back out with its own TPID
    lab.flow("priority=1,in_port=3,actions=push_vlan:0x8100,output:4,pop_vlan,output:2")
    lab.send(3, v4(tags=((0x88A8, 100),)))
    assert lab.out(4) == [v4(tags=((0x8100, 100), (0x88A8, 100)))]
    assert lab.out(2) == [v4(tags=((0x88A8, 100),))]


def test_pop_two_tags_and_pop_then_push(lab):
    lab.flow("priority=1,in_port=1,vlan_tci=0x1000/0x1000,actions=pop_vlan,output:2",
             instructions=(ofa.ApplyActions((ofa.PopVlan(), ofa.PopVlan(), ofa.Output(2))),))
    lab.flow("priority=1,in_port=3,dl_vlan=10,actions=pop_vlan,push_vlan:0x8100,"
             "set_field:4116->vlan_vid,output:4")
    qinq = v4(tags=((0x88A8, 100), (0x8100, 10)))
    lab.send(1, qinq)
    assert lab.out(2) == [v4()]
    lab.send(1, v4(tags=((0x8100, 10),)))  # one tag: the second pop does nothing
    assert lab.out(2) == [v4()]
    lab.send(3, v4(tags=((0x8100, 6 << 13 | 10),)))
    # a fresh tag: VID set to 20, PCP 0 (not the popped tag's 6)
    assert lab.out(4) == [v4(tags=((0x8100, 20),))]


def test_all_group_buckets_each_see_the_packet_as_it_entered(lab):
    group(lab, "group_id=1,type=all,"
               "bucket=actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:2,"
               "bucket=actions=output:3,"
               "bucket=actions=set_field:02:00:00:00:00:99->eth_dst,pop_vlan,output:4")
    lab.flow("priority=1,in_port=1,actions=group:1")
    tagged = v4(tags=((0x8100, 10),))
    lab.send(1, tagged)
    assert lab.out(2) == [v4(tags=((0x8100, 100), (0x8100, 10)))]
    assert lab.out(3) == [tagged]
    (to4,) = lab.out(4)
    assert to4 == bytes.fromhex("020000000099") + v4()[6:]
    lab.send(1, v4())  # untagged: the last bucket's pop does nothing
    assert lab.out(2) == [v4(tags=((0x8100, 100),))]
    assert lab.out(3) == [v4()]
    assert lab.out(4) == [bytes.fromhex("020000000099") + v4()[6:]]


def test_all_group_bucket_ttl_changes_do_not_leak(lab):
    lab.sw.invalid_ttl_to_controller = True
    group(lab, "group_id=1,type=all,bucket=actions=dec_ttl,output:2,"
               "bucket=actions=output:3")
    lab.flow("priority=1,in_port=1,actions=group:1,output:4")
    lab.send(1, v4(ttl=5))
    assert (lab.out(2), lab.out(3), lab.out(4)) == ([v4(ttl=4)], [v4(ttl=5)], [v4(ttl=5)])
    lab.send(1, v4(ttl=1))  # the first bucket drops its copy; the rest go on
    assert (lab.out(2), lab.out(3), lab.out(4)) == ([], [v4(ttl=1)], [v4(ttl=1)])
    assert [e.request.reason for e in lab.packet_ins] == [OFPR_INVALID_TTL]


def test_all_group_bucket_mpls_push_does_not_leak(lab):
    group(lab, "group_id=1,type=all,bucket=actions=push_mpls:0x8847,output:2,"
               "bucket=actions=output:3")
    lab.flow("priority=1,in_port=1,actions=group:1")
    ip = build_ipv4(ttl=33)
    lab.send(1, build_eth(ip))
    assert lab.out(2) == [build_eth(lse(0, 0, 1, 33) + ip, 0x8847)]
    assert lab.out(3) == [build_eth(ip)]


# ------------------------------------------------------------------ where packets go


def test_output_to_local_and_from_local(lab):
    local = DummyNetdev("br0")
    assert lab.sw.add_port(local, OFPP_LOCAL) == OFPP_LOCAL
    lab.flow("priority=1,in_port=1,actions=LOCAL")
    lab.flow("priority=1,in_port=LOCAL,actions=output:2,IN_PORT")
    lab.send(1, v4())
    assert list(local.sent) == [v4()]
    local.sent.clear()
    local.inject(v4(ttl=3))
    lab.dp.poll()
    lab.dp.poll()
    assert lab.out(2) == [v4(ttl=3)] and list(local.sent) == [v4(ttl=3)]
    local.sent.clear()
    lab.flow("priority=1,in_port=3,actions=FLOOD")
    lab.send(3, v4())
    assert lab.outs() == {1: 1, 2: 1, 3: 0, 4: 1} and len(local.sent) == 1  # LOCAL floods too


def test_output_to_down_no_fwd_missing_and_in_port(lab):
    lab.flow("priority=1,in_port=1,actions=output:2,output:3,output:4,output:1,output:9")
    lab.sw.port_mod_config(2, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.sw.port_mod_config(3, OFPPC_NO_FWD, OFPPC_NO_FWD)
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}
    lab.sw.port_mod_config(2, 0, OFPPC_PORT_DOWN)
    lab.sw.port_mod_config(3, 0, OFPPC_NO_FWD)
    lab.ports[3].set_link(False)  # port 4: carrier lost
    lab.dp.check_ports()
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 0}


def test_flood_and_all_skip_ports(lab):
    lab.flow("priority=1,in_port=1,actions=FLOOD")
    lab.flow("priority=1,in_port=2,actions=ALL")
    lab.sw.port_mod_config(3, OFPPC_NO_FLOOD, OFPPC_NO_FLOOD)
    lab.sw.port_mod_config(4, OFPPC_NO_FWD, OFPPC_NO_FWD)
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}  # not in_port, NO_FLOOD, NO_FWD
    lab.send(2, v4())
    assert lab.outs() == {1: 1, 2: 0, 3: 1, 4: 0}  # ALL ignores NO_FLOOD, not NO_FWD
    lab.sw.port_mod_config(1, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.send(2, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 0}


# ------------------------------------------------------------------ groups


def test_indirect_and_nested_groups(lab):
    group(lab, "group_id=21,type=indirect,bucket=actions=set_field:02:00:00:00:00:21->eth_dst,"
               "output:2")
    group(lab, "group_id=20,type=all,bucket=actions=group:21,bucket=actions=output:3")
    lab.flow("priority=1,in_port=1,actions=group:21")
    lab.flow("priority=1,in_port=4,actions=group:20")
    lab.send(1, v4())
    assert lab.out(2) == [bytes.fromhex("020000000021") + v4()[6:]]
    lab.send(4, v4())
    assert lab.out(2) == [bytes.fromhex("020000000021") + v4()[6:]]
    assert lab.out(3) == [v4()]  # the nested group's change stayed in its bucket


def test_fast_failover_with_watch_group(lab):
    group(lab, "group_id=11,type=ff,bucket=watch_port:2,actions=output:2")
    group(lab, "group_id=10,type=ff,bucket=watch_group:11,actions=group:11,"
               "bucket=watch_port:4,actions=output:4")
    lab.flow("priority=1,in_port=1,actions=group:10")
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}
    lab.ports[1].set_link(False)  # group 11 has no live bucket now: 10 fails over
    lab.dp.check_ports()
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}
    lab.sw.port_mod_config(4, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.send(1, v4())  # no live bucket at all: dropped
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}
    lab.ports[1].set_link(True)
    lab.dp.check_ports()
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}


def test_select_never_chooses_a_zero_weight_bucket(lab):
    group(lab, "group_id=3,type=select,bucket=weight:0,actions=output:2,"
               "bucket=weight:3,actions=output:3,bucket=weight:0,actions=output:4")
    lab.flow("priority=1,in_port=1,actions=group:3")
    for sport in range(64):
        lab.send(1, v4(sport=sport))
    assert lab.outs() == {1: 0, 2: 0, 3: 64, 4: 0}
    lab.sw.port_mod_config(3, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN)
    lab.send(1, v4(sport=99))  # the only weighted bucket is gone: nothing, not weight 0
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}


def test_select_weights_share_and_stick(lab):
    group(lab, "group_id=3,type=select,bucket=weight:1,actions=output:2,"
               "bucket=weight:3,actions=output:3")
    lab.flow("priority=1,in_port=1,actions=group:3")
    for sport in range(400):
        lab.send(1, v4(sport=sport))
    outs = lab.outs()
    assert outs[2] + outs[3] == 400 and 50 < outs[2] < 150  # about a quarter
    for _ in range(3):  # one flow always takes the same bucket
        lab.send(1, v4(sport=7))
    outs = lab.outs()
    assert sorted((outs[2], outs[3])) == [0, 3]


def _chain(lab: Lab, length: int, first: int) -> None:
    """Groups first .. first+length-1, each forwarding to the next, the last to port 2."""
    last = first + length - 1
    group(lab, f"group_id={last},type=indirect,bucket=actions=output:2")
    for gid in range(last - 1, first - 1, -1):
        group(lab, f"group_id={gid},type=indirect,bucket=actions=group:{gid + 1}")


def test_group_chain_depth_is_bounded(lab):
    _chain(lab, xl.MAX_DEPTH, 1000)
    _chain(lab, xl.MAX_DEPTH + 1, 2000)
    lab.flow("priority=1,in_port=1,actions=group:1000")
    lab.flow("priority=1,in_port=3,actions=group:2000,output:4")
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}  # 64 deep: still delivered
    lab.send(3, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}  # 65 deep: cut, no exception


def test_group_fan_out_is_bounded_by_max_resubmits(lab):
    # 13 levels of two buckets each: 8192 leaf buckets > MAX_RESUBMITS
    group(lab, "group_id=13,type=all,bucket=actions=output:2")
    for gid in range(12, 0, -1):
        group(lab, f"group_id={gid},type=all,bucket=actions=group:{gid + 1},"
                   f"bucket=actions=group:{gid + 1}")
    lab.flow("priority=1,in_port=1,actions=group:1")
    result = lab.sw.xlate.translate(extract(v4(), 1))
    outputs = sum(1 for a in result.actions if type(a).__name__ == "Output")
    assert 0 < outputs < xl.MAX_RESUBMITS


def test_group_loop_made_behind_the_group_tables_back_terminates(lab):
    # GROUP_MOD refuses loops (OFPGMFC_LOOP); xlate must survive one anyway
    lab.sw.groups[5] = GroupEntry(5, OFPGT_ALL, (Bucket((ofa.Group(5),)),
                                                 Bucket((ofa.Output(2),))))
    result = lab.sw.xlate.translate(extract(v4(), 1), actions=(ofa.Group(5),))
    assert 0 < len(result.actions) <= xl.MAX_DEPTH + 1


# ------------------------------------------------------------------ tables


def test_goto_chain_through_every_table(lab):
    for table in range(7):
        lab.flow(f"table={table},priority=1,actions=write_metadata:{1 << table}/{1 << table},"
                 f"goto_table:{table + 1}")
    lab.flow("table=7,priority=2,metadata=0x7f,actions=output:2")
    lab.flow("table=7,priority=1,actions=output:3")
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}


def test_later_tables_match_the_rewritten_packet(lab):
    lab.flow("table=0,priority=1,ip,nw_src=10.1.0.1,actions=set_field:10.7.7.7->ip_dst,"
             "goto_table:1")
    lab.flow("table=0,priority=0,actions=goto_table:1")
    lab.flow("table=1,priority=2,ip,nw_dst=10.7.7.7,actions=dec_ttl,output:2")
    lab.flow("table=1,priority=1,actions=output:3")
    lab.send(1, v4(ttl=64))
    (out,) = lab.out(2)
    assert out == v4(ttl=63, dst=bytes([10, 7, 7, 7]))
    assert_checksums(out)
    lab.send(1, v4(src=bytes([10, 1, 0, 9])))
    assert lab.outs() == {1: 0, 2: 0, 3: 1, 4: 0}


def test_table_miss_to_controller_reports_table_and_metadata(lab):
    lab.sw.miss_to_controller = True
    lab.flow("table=0,priority=1,in_port=1,actions=write_metadata:0xab,goto_table:3")
    lab.send(1, v4())
    (event,) = lab.packet_ins
    req = event.request
    assert (req.reason, req.table_id, req.metadata, req.miss, event.data) == \
        (OFPR_NO_MATCH, 3, 0xAB, True, v4())
    lab.sw.miss_to_controller = False
    lab.sw.revalidate()
    lab.send(1, v4(sport=5))
    assert len(lab.packet_ins) == 1 and lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}


def test_controller_output_reason_and_max_len(lab):
    lab.flow("priority=5,in_port=1,actions=controller:32", cookie=7)
    lab.flow("priority=0,actions=CONTROLLER")  # the table-miss flow entry
    lab.send(1, v4())
    lab.send(2, v4())
    got = [(e.request.reason, e.request.cookie, len(e.data), e.total_len) for e in lab.packet_ins]
    assert got == [(OFPR_ACTION, 7, 32, len(v4())), (OFPR_NO_MATCH, 0, len(v4()), len(v4()))]


def test_fail_open_is_normal_for_everything(lab):
    lab.flow("priority=100,actions=drop", instructions=())
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}
    lab.sw.fail_open = True
    lab.sw.revalidate()
    lab.send(1, build_eth(build_ipv4(), src=MAC_A, dst=MAC_B))
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 1}  # unknown MAC_B: flooded
    lab.send(2, build_eth(build_ipv4(), src=MAC_B, dst=MAC_A))
    assert lab.outs() == {1: 1, 2: 0, 3: 0, 4: 0}  # MAC_A learned on port 1
    lab.send(3, build_eth(build_ipv4(), src=MAC_C, dst=MAC_B))
    assert lab.outs() == {1: 0, 2: 1, 3: 0, 4: 0}


# ------------------------------------------------------------------ PACKET_OUT


def test_packet_out_table_and_in_port(lab):
    lab.flow("priority=1,in_port=1,ip,actions=set_field:10.5.5.5->ip_dst,output:3")
    lab.sw.packet_out(PacketOut(in_port=1, actions=(ofa.Output(OFPP_TABLE),), data=v4()))
    (out,) = lab.out(3)
    assert out == v4(dst=bytes([10, 5, 5, 5]))
    assert_checksums(out)
    lab.sw.packet_out(PacketOut(in_port=2, actions=(
        ofa.SetField("ipv4_dst", 0x0A060606), ofa.Output(OFPP_IN_PORT)), data=v4()))
    (back,) = lab.out(2)
    assert back == v4(dst=bytes([10, 6, 6, 6]))
    # from the controller: IN_PORT names no port; a plain output still works
    lab.sw.packet_out(PacketOut(in_port=OFPP_CONTROLLER, actions=(
        ofa.Output(OFPP_IN_PORT), ofa.Output(4)), data=v4()))
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}
    # a PACKET_OUT output to TABLE from the controller goes through table 0 too
    lab.flow("priority=1,in_port=CONTROLLER,actions=output:1")
    lab.sw.packet_out(PacketOut(in_port=OFPP_CONTROLLER, actions=(ofa.Output(OFPP_TABLE),),
                                data=v4()))
    assert lab.outs() == {1: 1, 2: 0, 3: 0, 4: 0}


def test_packet_out_runs_groups_and_controller(lab):
    group(lab, "group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3")
    lab.sw.packet_out(PacketOut(in_port=1, actions=(ofa.Group(1), ofa.Output(OFPP_CONTROLLER)),
                                data=v4()))
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 0}
    assert lab.packet_ins == []  # the datapath queues the upcall: delivered on its next run
    lab.dp.poll()
    (event,) = lab.packet_ins
    assert event.request.reason == OFPR_ACTION and event.in_port == 1


def test_flow_mod_replacing_a_frame_field_by_version(lab):
    """Both versions' parses of the same ovs-ofctl text give the same frames."""
    for version, in_port, out in ((OFP10, 1, 2), (OFP13, 3, 4)):
        fm_text = f"priority=1,in_port={in_port},tcp,actions=mod_tp_dst:80,output:{out}"
        lab.flow(fm_text, version=version)
        lab.send(in_port, v4(proto=6))
        assert lab.out(out) == [v4(proto=6, dport=80)]



# ------------------------------------------------------------------ the action set, odd actions


def test_action_set_group_wins_over_output_and_of10_actions_in_it(lab):
    group(lab, "group_id=1,type=all,bucket=actions=output:4")
    lab.flow("priority=1,in_port=1,actions=write_actions(output:3,group:1)")
    lab.send(1, v4())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}  # OF1.3 5.10: output only without group
    lab.flow("priority=1,in_port=2,actions=output:3", instructions=(ofa.WriteActions((
        ofa.Output(3), ofa.SetVlanVid(5), ofa.SetVlanPcp(2), ofa.SetQueue(1),
        ofa.SetTpDst(53), ofa.SetNwTtl(7))),))
    lab.send(2, v4())
    assert lab.out(3) == [v4(tags=((0x8100, 2 << 13 | 5),), dport=53, ttl=7)]


def test_every_action_is_accepted_and_set_queue_is_a_no_op(lab):
    """Nothing is refused as unsupported any more (PBB and copy-TTL: test_xlate_pbb.py)."""
    for action in (ofa.CopyTtlOut(), ofa.CopyTtlIn(), ofa.PushPbb(0x88E7), ofa.PopPbb()):
        lab.flow("priority=1,in_port=1,actions=output:2",
                 instructions=(ofa.ApplyActions((action, ofa.Output(2))),))
    lab.flow("priority=1,in_port=1,actions=output:2",
             instructions=(ofa.ApplyActions((ofa.SetQueue(3), ofa.Output(2))),))
    lab.send(1, v4())
    assert lab.out(2) == [v4()]


def test_set_field_metadata_and_tunnel_id(lab):
    lab.flow("table=0,priority=1,in_port=1,actions=output:2", instructions=(
        ofa.ApplyActions((ofa.SetField("metadata", 0x55), ofa.SetField("tunnel_id", 9))),
        ofa.GotoTable(1)))
    lab.flow("table=1,priority=1,metadata=0x55,tun_id=9,actions=output:2")
    lab.send(1, v4())
    assert lab.out(2) == [v4()]  # a dummy port carries no tunnel metadata
    result = lab.sw.xlate.translate(extract(v4(), 1))
    assert [type(a).__name__ for a in result.actions] == ["SetTunnel", "Output"]


def test_normal_drops_a_frame_for_a_station_behind_its_own_port(lab):
    lab.flow("priority=0,actions=NORMAL")
    lab.send(1, build_eth(build_ipv4(), src=MAC_A, dst=MAC_B))
    lab.outs()
    lab.send(1, build_eth(build_ipv4(), src=MAC_C, dst=MAC_A))
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}


def test_mac_table_evicts_the_oldest_when_full():
    table = xl.MacTable(aging=100, max_entries=2)
    assert table.learn(0, 1, 1, now=0.0) and table.learn(0, 2, 2, now=1.0)
    assert not table.learn(0, 1, 1, now=2.0)  # known, same port: nothing new
    assert table.learn(0, 3, 3, now=3.0)  # full: MAC 2 (least recently seen) goes
    assert (table.lookup(0, 1, 3.0), table.lookup(0, 2, 3.0), table.lookup(0, 3, 3.0)) == \
        (1, None, 3)
    assert table.learn(0, 4, 4, now=200.0)  # full of stale entries: they expire first
    assert len(table) == 1


def test_xlate_ignores_what_ofproto_would_refuse(lab):
    """Missing groups, output:TABLE outside PACKET_OUT, port numbers past OFPP_MAX and
    too-deep watch_group chains translate to nothing rather than fail."""
    for gid in range(1, 12):  # an FF chain of watch_groups deeper than xlate follows
        lab.sw.groups[gid] = GroupEntry(gid, 3, (Bucket((ofa.Output(2),), watch_group=gid + 1),))
    lab.sw.groups[12] = GroupEntry(12, 3, (Bucket((ofa.Output(2),), watch_port=2),))
    key = extract(v4(), 1)
    for actions in ((ofa.Group(99),), (ofa.Group(1),),
                    (ofa.Output(0xFFFFFF10),)):
        assert lab.sw.xlate.translate(key, actions=actions).actions == []
    assert [type(a).__name__ for a in lab.sw.xlate.translate(
        key, actions=(ofa.Group(4),)).actions] == ["Output"]
    lab.sw.groups[20] = GroupEntry(20, OFPGT_ALL, (Bucket((ofa.Output(OFPP_TABLE),)),))
    lab.flow("priority=1,in_port=1,actions=output:3")
    assert lab.sw.xlate.translate(key, actions=(ofa.Group(20),)).actions == []
