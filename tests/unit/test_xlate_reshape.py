"""set_field on eth_type, ip_proto and mpls_bos (issue 7): the datapath writers and the
pipeline through ofproto on the dummy datapath.

OpenFlow 1.3.5 (table 12) lets a switch set these; Open vSwitch refuses them.  Ryu's
switch test tool expects the field rewritten and every checksum valid for the new
protocol: the TCP checksum of a packet whose ip_proto became 17 is summed with 17 in
the pseudo-header.  Expected frames are built here and their checksums computed in
full by ``inet_csum`` (the writers update them incrementally).
"""

from __future__ import annotations

import struct

import pytest

from datapath import odp_actions as odp
from datapath import packet as pk
from datapath.field_writers import field_writer
from tests.unit.test_ofproto import Lab
from tests.unit.test_xlate import (
    IP6_A,
    IP6_B,
    IP_A,
    IP_B,
    assert_checksums,
    build_eth,
    build_ipv4,
    build_ipv6,
    group,
    inet_csum,
    lse,
    v4,
)


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def write(frame: bytes, field: str, value: int) -> bytes:
    buf = bytearray(frame)
    field_writer(field, value)(buf, pk.header_offsets(frame))
    return bytes(buf)


def l4_csum(src: bytes, dst: bytes, proto: int, segment: bytes, at: int) -> bytes:
    """``segment`` with its checksum at ``at`` summed again over a ``proto`` pseudo-header."""
    seg = segment[:at] + b"\0\0" + segment[at + 2:]
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(seg), proto)
    return seg[:at] + struct.pack("!H", inet_csum(pseudo + seg)) + seg[at + 2:]


def v4_as(proto: int, l4_proto: int = 6, **kw) -> bytes:
    """An IPv4 packet built with ``l4_proto``'s transport header, its protocol byte then
    set to ``proto`` with both checksums summed again in full."""
    ip = bytearray(build_ipv4(l4_proto, **kw))
    ip[9] = proto
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", inet_csum(bytes(ip[:20])))
    at = {6: 16, 17: 6}.get(l4_proto)
    segment = bytes(ip[20:])
    if at is not None and (l4_proto != 17 or segment[6:8] != b"\0\0"):
        segment = l4_csum(IP_A, IP_B, proto, segment, at)
    return bytes(ip[:20]) + segment


def v6_as(proto: int, l4_proto: int = 6) -> bytes:
    ip = bytearray(build_ipv6(l4_proto))
    ip[6] = proto
    return bytes(ip[:40]) + l4_csum(IP6_A, IP6_B, proto, bytes(ip[40:]), 16 if l4_proto == 6 else 6)


# ------------------------------------------------------------------ the datapath writers


def test_eth_type_is_written_behind_the_vlan_tags() -> None:
    tagged = build_eth(build_ipv4(), 0x0800, ((0x88A8, 7), (0x8100, 5)))
    assert write(tagged, "eth_type", 0x8847) == build_eth(build_ipv4(), 0x8847,
                                                          ((0x88A8, 7), (0x8100, 5)))
    assert write(v4(), "eth_type", 0x86DD) == build_eth(build_ipv4(), 0x86DD)


def test_eth_type_of_a_snap_frame_is_the_snap_one() -> None:
    llc = b"\xaa\xaa\x03\x00\x00\x00"
    frame = build_eth(llc + b"\x08\x06" + bytes(28), 38)  # 802.3 length 38
    assert write(frame, "eth_type", 0x0800) == build_eth(llc + b"\x08\x00" + bytes(28), 38)


@pytest.mark.parametrize("frame", [
    build_eth(b"\xe0\xe0\x03" + bytes(40), 43),  # 802.3 without SNAP: no ethertype
    v4()[:13],  # runt
    build_eth(b"\x00\x05", 0x8100),  # truncated tag
])
def test_eth_type_without_an_ethertype_is_left_alone(frame: bytes) -> None:
    assert write(frame, "eth_type", 0x8847) == frame


def test_ip_proto_ipv4_tcp_keeps_both_checksums_valid_for_the_new_protocol() -> None:
    got = write(v4(proto=6), "ip_proto", 17)
    assert got == build_eth(v4_as(17))
    assert got[14 + 9] == 17


def test_ip_proto_ipv4_udp_checksum_zero_stays_zero_and_icmp_has_no_pseudo_header() -> None:
    udp = bytearray(build_ipv4(17))
    udp[26:28] = b"\0\0"  # UDP checksum 0: none
    got = write(build_eth(bytes(udp)), "ip_proto", 6)
    assert got[14 + 9] == 6 and got[14 + 26:14 + 28] == b"\0\0"
    assert inet_csum(got[14:34]) == 0
    icmp = build_ipv4(6)[:9] + b"\x01" + build_ipv4(6)[10:]  # proto 1 over TCP bytes
    before = build_eth(icmp)
    got = write(before, "ip_proto", 58)
    assert got[34:] == before[34:]  # ICMPv4 has no pseudo-header
    assert got[14 + 9] == 58


def test_ip_proto_ipv6_and_behind_extension_headers() -> None:
    assert write(build_eth(build_ipv6(6), 0x86DD), "ip_proto", 17) == build_eth(v6_as(17), 0x86DD)
    # Hop-by-hop options (8 bytes) then TCP: the option header's next header changes.
    plain = build_ipv6(6)
    hbh = struct.pack("!BB6x", 6, 0)
    ip = struct.pack("!IHBB", 6 << 28, len(plain) - 40 + 8, 0, 64) + plain[8:40] + hbh + plain[40:]
    got = write(build_eth(ip, 0x86DD), "ip_proto", 17)
    want_l4 = l4_csum(IP6_A, IP6_B, 17, plain[40:], 16)
    assert got == build_eth(ip[:40] + struct.pack("!BB6x", 17, 0) + want_l4, 0x86DD)
    # A later fragment: the byte naming the fragment header (its key's ip_proto is 44).
    frag = struct.pack("!BBHI", 6, 0, 8 << 3, 1)
    ip = struct.pack("!IHBB", 6 << 28, 8 + 8, 44, 64) + plain[8:40] + frag + bytes(8)
    got = write(build_eth(ip, 0x86DD), "ip_proto", 17)
    assert got[14 + 6] == 17 and got[14 + 40:] == frag + bytes(8)


def test_ip_proto_on_arp_and_mpls_does_nothing() -> None:
    arp = build_eth(struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + bytes(20), 0x0806)
    assert write(arp, "ip_proto", 17) == arp
    labelled = build_eth(lse(5, 0, 1, 64) + build_ipv4(6), 0x8847)
    assert write(labelled, "ip_proto", 17) == labelled


class _Env:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def output(self, port, frame, ctx) -> None:
        self.frames.append(bytes(frame))

    def upcall(self, frame, userdata, total_len, ctx) -> None:
        pass

    def meter(self, meter_id, size, now) -> int:
        return 0


def test_sets_after_an_eth_type_rewrite_see_the_new_protocol() -> None:
    # The mpls_label set must find an MPLS header where the IPv4 one was: the set
    # group is split at the ethertype rewrite (offsets taken again).
    env = _Env()
    run = odp.compile_actions([odp.SetField("eth_type", 0x8847), odp.SetField("mpls_label", 9),
                               odp.SetField("ip_proto", 17), odp.Output(1)], env)
    run(v4(proto=6), odp.PacketCtx(1))
    (got,) = env.frames
    label_word = struct.unpack_from("!I", got, 14)[0]
    first_word = struct.unpack_from("!I", build_ipv4(6), 0)[0]
    assert got[12:14] == b"\x88\x47"
    assert label_word == 9 << 12 | first_word & 0xFFF
    assert got[18:] == build_ipv4(6)[4:]  # ip_proto: not IP any more, nothing written


# ------------------------------------------------------------------ the pipeline


def test_set_eth_type_then_later_tables_see_the_new_protocol(lab) -> None:
    lab.flow("table=0,priority=1,ip,actions=set_field:0x8848->eth_type,goto_table:1")
    # mpls_bos is read from the bytes that were the IPv4 header: 0x45 0x00 0x00 0x3a
    # has bit 8 (BoS) clear.
    lab.flow("table=1,priority=7,dl_type=0x8848,mpls_bos=0,actions=output:2")
    lab.flow("table=1,priority=6,dl_type=0x8848,actions=output:3")
    lab.flow("table=1,priority=1,actions=output:4")
    assert struct.unpack_from("!I", build_ipv4(6), 0)[0] >> 8 & 1 == 0
    for _ in range(2):
        lab.send(1, v4(proto=6))
    assert lab.out(2) == [build_eth(build_ipv4(6), 0x8848)] * 2
    assert lab.out(3) == lab.out(4) == []


def test_set_ip_proto_rewrites_checksums_and_later_tables_match_udp(lab) -> None:
    lab.flow("table=0,priority=1,tcp,actions=set_field:17->ip_proto,goto_table:1")
    lab.flow("table=1,priority=5,udp,udp_dst=2000,actions=set_field:53->udp_src,output:2")
    lab.flow("table=1,priority=1,actions=output:3")
    for _ in range(2):
        lab.send(1, v4(proto=6))
    want = bytearray(build_eth(v4_as(17)))
    want[34:36] = struct.pack("!H", 53)
    # The TCP checksum (offset 16) is not where UDP keeps its own (offset 6): the udp_src
    # rewrite updates bytes 6-7 of the old TCP header (its sequence number), as a
    # switch treating the packet as UDP must.
    seg = bytearray(v4_as(17)[20:])
    old_csum = struct.unpack_from("!H", seg, 6)[0]
    seg[0:2] = struct.pack("!H", 53)
    seg[6:8] = struct.pack("!H", (old_csum + 1000 - 53) % 0xFFFF)
    want[34:] = seg
    got = lab.out(2)
    assert got == [bytes(want)] * 2
    assert lab.out(3) == []
    assert lab.sw.upcalls_handled == 2  # not cached: decided on bytes the key did not hold


def test_set_ip_proto_to_the_same_value_changes_nothing_and_is_cached(lab) -> None:
    lab.flow("priority=1,tcp,actions=set_field:6->ip_proto,output:2")
    for _ in range(2):
        lab.send(1, v4(proto=6))
    assert lab.out(2) == [v4(proto=6)] * 2
    assert lab.sw.upcalls_handled == 1


def test_set_ip_proto_ipv6_after_a_vlan_tag(lab) -> None:
    lab.flow("priority=1,ipv6,actions=set_field:17->ip_proto,output:2")
    tagged = build_eth(build_ipv6(6), 0x86DD, ((0x8100, 100),))
    lab.send(1, tagged)
    (got,) = lab.out(2)
    assert got == build_eth(v6_as(17), 0x86DD, ((0x8100, 100),))
    assert_checksums(got)


def test_set_mpls_bos(lab) -> None:
    lab.flow("priority=1,mpls,mpls_bos=1,actions=set_field:0->mpls_bos,output:2")
    lab.send(1, build_eth(lse(100, 3, 1, 64) + build_ipv4(6), 0x8847))
    assert lab.out(2) == [build_eth(lse(100, 3, 0, 64) + build_ipv4(6), 0x8847)]


def test_a_group_bucket_takes_its_reshape_back(lab) -> None:
    group(lab, "group_id=1,type=all,bucket=set_field:17->ip_proto,output:2,"
               "bucket=output:3")
    lab.flow("priority=1,tcp,actions=group:1")
    lab.send(1, v4(proto=6))
    assert lab.out(2) == [build_eth(v4_as(17))]
    assert lab.out(3) == [v4(proto=6)]


def test_set_eth_type_on_an_ipv4_packet_then_pop_nothing_to_pop(lab) -> None:
    # After the rewrite the packet is MPLS to the pipeline: pop_mpls removes the
    # first four bytes of what was the IPv4 header.
    lab.flow("table=0,priority=1,ip,actions=set_field:0x8847->eth_type,"
             "pop_mpls:0x0800,output:2")
    lab.send(1, v4(proto=6))
    (got,) = lab.out(2)
    assert got[12:14] == b"\x08\x00" and got[14:] == build_ipv4(6)[4:].ljust(46, b"\0")
