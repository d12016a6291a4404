"""OpenFlow 1.0 ``struct ofp_match`` <-> the match model (openflow.v10_match).

Golden bytes come from Ryu 4.34, generated with /work/main/.ryu-venv/bin/python:

    from ryu.ofproto import ofproto_v1_0_parser as p
    buf = bytearray(); p.OFPMatch(**kw).serialize(buf, 0); print(bytes(buf).hex())

(the keyword arguments are in each case's comment).  Ryu leaves unspecified fields
at zero and their wildcard bits set (OFPFW_ALL = 0x3fffff), and writes a prefix
length as 32 - prefix in the NW_SRC/NW_DST bit fields.
"""

from __future__ import annotations

import ipaddress
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openflow.errors import CodecError, Err
from openflow.match import Match, MatchField
from openflow.v10_match import MATCH_SIZE, OFPFW_ALL, decode_match, encode_match


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


# name: (Ryu kwargs as a comment, Ryu hex, the model)
GOLDEN = {
    # OFPMatch()
    "all": ("003fffff000000000000000000000000000000000000000000000000000000000000000000000000",
            Match()),
    # in_port=1, dl_src="00:00:00:00:00:01", dl_dst="00:00:00:00:00:02", dl_type=0x0800, nw_proto=6,
    # nw_src="10.0.0.0", nw_src_mask=24, nw_dst="10.0.0.2", tp_src=1234, tp_dst=80
    "ipv4_tcp": ("003008020001000000000001000000000002000000000800000600000a0000000a00000204d20050",
                 Match.build(in_port=1, eth_dst=2, eth_src=1, eth_type=0x0800, ip_proto=6,
                             ipv4_src=(v4("10.0.0.0"), 0xFFFFFF00), ipv4_dst=v4("10.0.0.2"),
                             tcp_src=1234, tcp_dst=80)),
    # dl_type=0x0800, nw_tos=0xb8, nw_proto=17, nw_dst="192.168.0.0", nw_dst_mask=16, tp_dst=53
    "ipv4_udp_tos": ("00143f4f0000000000000000000000000000000000000800b811000000000000c0a8000000000035",
                     Match.build(eth_type=0x0800, ip_dscp=46, ip_proto=17,
                                 ipv4_dst=(v4("192.168.0.0"), 0xFFFF0000), udp_dst=53)),
    # dl_type=0x0800, nw_proto=1, tp_src=8, tp_dst=0
    "icmp": ("003fff0f000000000000000000000000000000000000080000010000000000000000000000080000",
             Match.build(eth_type=0x0800, ip_proto=1, icmpv4_type=8, icmpv4_code=0)),
    # dl_type=0x0806, nw_proto=2, nw_src="10.0.0.1", nw_dst="10.0.0.0", nw_dst_mask=24
    "arp": ("003200cf0000000000000000000000000000000000000806000200000a0000010a00000000000000",
            Match.build(eth_type=0x0806, arp_op=2, arp_spa=v4("10.0.0.1"),
                        arp_tpa=(v4("10.0.0.0"), 0xFFFFFF00))),
    # in_port=3, dl_vlan=0xffff
    "vlan_none": ("003ffffc0003000000000000000000000000ffff0000000000000000000000000000000000000000",
                  Match.build(in_port=3, vlan_vid=0)),
    # dl_vlan=100, dl_vlan_pcp=5
    "vlan_pcp": ("002ffffd000000000000000000000000000000640500000000000000000000000000000000000000",
                 Match.build(vlan_vid=0x1000 | 100, vlan_pcp=5)),
    # dl_vlan_pcp=3
    "pcp_only": ("002fffff000000000000000000000000000000000300000000000000000000000000000000000000",
                 Match.build(vlan_vid=(0x1000, 0x1000), vlan_pcp=3)),
    # in_port=0xfffe (OFPP_LOCAL)
    "in_port_local": ("003ffffefffe00000000000000000000000000000000000000000000000000000000000000000000",
                      Match.build(in_port=0xFFFFFFFE)),
    # dl_type=0x86dd, nw_tos=0x20, nw_proto=17, tp_src=546, tp_dst=547
    "ipv6_udp": ("001fff0f00000000000000000000000000000000000086dd20110000000000000000000002220223",
                 Match.build(eth_type=0x86DD, ip_dscp=8, ip_proto=17, udp_src=546, udp_dst=547)),
    # dl_type=0x86dd, nw_proto=58, tp_src=135, tp_dst=0
    "ipv6_icmp": ("003fff0f00000000000000000000000000000000000086dd003a0000000000000000000000870000",
                  Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=135, icmpv6_code=0)),
    # dl_type=0x0800, nw_proto=132, tp_src=5, tp_dst=6
    "sctp": ("003fff0f000000000000000000000000000000000000080000840000000000000000000000050006",
             Match.build(eth_type=0x0800, ip_proto=132, sctp_src=5, sctp_dst=6)),
}

# Decode-only: fields without their prerequisites are dropped (OVS's normalization).
NORMALIZED = {
    # nw_proto=6, tp_dst=80, nw_src="1.2.3.4", nw_tos=4  (no dl_type)
    "tp_without_type": ("001fc05f000000000000000000000000000000000000000004060000010203040000000000000050",
                        Match()),
    # dl_type=0x0800, tp_src=80  (no nw_proto)
    "tp_without_proto": ("003fffaf000000000000000000000000000000000000080000000000000000000000000000500000",
                         Match.build(eth_type=0x0800)),
    # dl_type=0x0806, nw_tos=8, tp_src=1
    "arp_tp": ("001fffaf000000000000000000000000000000000000080608000000000000000000000000010000",
               Match.build(eth_type=0x0806)),
    # dl_type=0x88cc, nw_proto=6, nw_src="1.1.1.1", tp_src=1
    "other_type": ("003fc08f00000000000000000000000000000000000088cc00060000010101010000000000010000",
                   Match.build(eth_type=0x88CC)),
    # dl_vlan=0xffff, dl_vlan_pcp=7  (a PCP without a tag is ignored)
    "vlan_none_pcp": ("002ffffd0000000000000000000000000000ffff0700000000000000000000000000000000000000",
                      Match.build(vlan_vid=0)),
    # dl_type=0x0800, nw_src="1.2.3.4", nw_src_mask=0  (32 wildcarded bits = any)
    "prefix_0": ("003fe0ef000000000000000000000000000000000000080000000000010203040000000000000000",
                 Match.build(eth_type=0x0800)),
    # dl_vlan=0xf123  (only the low 12 bits are the VID)
    "vlan_high_bits": ("003ffffd0000000000000000000000000000f1230000000000000000000000000000000000000000",
                       Match.build(vlan_vid=0x1123)),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_both_ways(name):
    ryu_hex, match = GOLDEN[name]
    raw = bytes.fromhex(ryu_hex)
    assert decode_match(raw, 0) == match
    assert encode_match(match) == raw
    assert decode_match(b"\xaa" * 8 + raw + b"\xbb", 8) == match
    assert decode_match(memoryview(raw), 0) == match


@pytest.mark.parametrize("name", list(NORMALIZED))
def test_normalization(name):
    ryu_hex, match = NORMALIZED[name]
    assert decode_match(bytes.fromhex(ryu_hex), 0) == match


def _raw(wildcards=OFPFW_ALL, in_port=0, dl_src=0, dl_dst=0, dl_vlan=0, pcp=0, dl_type=0, nw_tos=0,
         nw_proto=0, nw_src=0, nw_dst=0, tp_src=0, tp_dst=0) -> bytes:
    return struct.pack("!IH6s6sHBxHBBxxIIHH", wildcards, in_port, dl_src.to_bytes(6, "big"),
                       dl_dst.to_bytes(6, "big"), dl_vlan, pcp, dl_type, nw_tos, nw_proto, nw_src,
                       nw_dst, tp_src, tp_dst)


def test_wildcard_bits_above_22_ignored_and_values_under_wildcards_ignored():
    raw = _raw(wildcards=0xFFFFFFFF, in_port=5, dl_type=0x800, nw_src=0x01020304)
    assert decode_match(raw, 0) == Match()


def test_nw_tos_low_bits_and_icmp_high_bits_dropped():
    w = OFPFW_ALL & ~(0x10 | 0x20 | 0x40 | 0x80 | 1 << 21)
    m = decode_match(_raw(wildcards=w, dl_type=0x800, nw_tos=0xFF, nw_proto=1, tp_src=0x1203, tp_dst=0x0104), 0)
    assert m == Match.build(eth_type=0x800, ip_dscp=63, ip_proto=1, icmpv4_type=3, icmpv4_code=4)


def test_prefix_counts():
    w_base = OFPFW_ALL & ~0x10 & ~(0x3F << 8) & ~(0x3F << 14)
    for count, mask in ((0, None), (1, 0xFFFFFFFE), (8, 0xFFFFFF00), (31, 0x80000000)):
        w = w_base | count << 8 | 63 << 14
        m = decode_match(_raw(wildcards=w, dl_type=0x800, nw_src=0xFFFFFFFF), 0)
        assert m.get("ipv4_src") == MatchField("ipv4_src", 0xFFFFFFFF & (mask or 0xFFFFFFFF), mask)
        assert encode_match(m)[:4] == (w_base | count << 8 | 0x3F << 14).to_bytes(4, "big")
    for count in (32, 33, 63):
        w = w_base | 63 << 8 | count << 14
        assert decode_match(_raw(wildcards=w, dl_type=0x800, nw_dst=1), 0) == Match.build(eth_type=0x800)


def test_in_port_reserved_numbers_widen():
    w = OFPFW_ALL & ~1
    for v10, v13 in ((1, 1), (0xFEFF, 0xFEFF), (0xFF00, 0xFFFFFF00), (0xFFF8, 0xFFFFFFF8),
                     (0xFFFD, 0xFFFFFFFD), (0xFFFE, 0xFFFFFFFE), (0xFFFF, 0xFFFFFFFF)):
        m = decode_match(_raw(wildcards=w, in_port=v10), 0)
        assert m == Match.build(in_port=v13)
        assert encode_match(m) == _raw(wildcards=w, in_port=v10)


@pytest.mark.parametrize("match", [
    Match.build(eth_type=0x86DD, ipv6_src=1),
    Match.build(metadata=1),
    Match.build(tunnel_id=1),
    Match.build(in_phy_port=1),
    Match.build(eth_type=0x800, ip_ecn=1),
    Match.build(eth_dst=(0x010000000000, 0x010000000000)),
    Match.build(eth_type=0x800, ipv4_src=(0x0A000000, 0xFF00FF00)),
    Match.build(eth_type=0x806, arp_tpa=(0, 0x0000FFFF)),
    Match.build(eth_type=0x806, arp_op=0x100),
    Match.build(eth_type=0x806, arp_sha=1),
    Match.build(in_port=0x10000),
    Match.build(vlan_vid=(0x1000, 0x1000)),
    Match.build(vlan_vid=(0x1005, 0x1FF)),
    Match.build(vlan_vid=5),
    Match.build(eth_type=0x8847, mpls_label=1),
    Match.build(eth_type=0x800, ip_proto=6, tcp_src=(0x1000, 0xF000)),
    Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=135, ipv6_nd_target=1),
])
def test_encode_rejects_what_of10_cannot_express(match):
    with pytest.raises(ValueError):
        encode_match(match)


def test_short_buffer_is_bad_len():
    raw = bytes.fromhex(GOLDEN["all"][0])
    for buf, offset in ((raw[:39], 0), (b"", 0), (raw, 1), (raw + b"\0", 2), (raw, -1)):
        with pytest.raises(CodecError) as exc:
            decode_match(buf, offset)
        assert exc.value.err is Err.OFPBRC_BAD_LEN
    assert MATCH_SIZE == 40


# ---------------------------------------------------------------- properties

_PORTS = st.one_of(st.integers(0, 0xFEFF), st.integers(0xFFFFFF00, 0xFFFFFFFF))
_PREFIX = st.integers(0, 32)


def _prefixed(name, value, plen):
    if plen == 0:
        return []
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    return [(name, value & mask, mask)]


@st.composite
def of10_matches(draw):
    fields = []
    opt = draw(st.fixed_dictionaries({}, optional={
        "in_port": _PORTS, "eth_src": st.integers(0, 2**48 - 1), "eth_dst": st.integers(0, 2**48 - 1)}))
    fields += list(opt.items())
    vlan = draw(st.sampled_from(["any", "none", "tag", "tag_pcp", "pcp"]))
    if vlan == "none":
        fields.append(("vlan_vid", 0))
    elif vlan.startswith("tag"):
        fields.append(("vlan_vid", 0x1000 | draw(st.integers(0, 0xFFF))))
    if vlan in ("tag_pcp", "pcp"):
        fields.append(("vlan_pcp", draw(st.integers(0, 7))))
        if vlan == "pcp":
            fields.append(("vlan_vid", 0x1000, 0x1000))
    eth = draw(st.sampled_from([None, 0x0800, 0x86DD, 0x0806, 0x88CC]))
    if eth is not None:
        fields.append(("eth_type", eth))
    if eth in (0x0800, 0x86DD):
        if draw(st.booleans()):
            fields.append(("ip_dscp", draw(st.integers(0, 63))))
        if eth == 0x0800:
            fields += _prefixed("ipv4_src", draw(st.integers(0, 2**32 - 1)), draw(_PREFIX))
            fields += _prefixed("ipv4_dst", draw(st.integers(0, 2**32 - 1)), draw(_PREFIX))
        protos = {0x0800: {6: "tcp", 17: "udp", 132: "sctp", 1: "icmpv4", 47: None},
                  0x86DD: {6: "tcp", 17: "udp", 132: "sctp", 58: "icmpv6", 47: None}}[eth]
        proto = draw(st.sampled_from([None, *protos]))
        if proto is not None:
            fields.append(("ip_proto", proto))
            kind = protos[proto]
            if kind in ("tcp", "udp", "sctp"):
                src, dst, top = f"{kind}_src", f"{kind}_dst", 0xFFFF
            elif kind is not None:
                src, dst, top = f"{kind}_type", f"{kind}_code", 0xFF
            if kind is not None:
                if draw(st.booleans()):
                    fields.append((src, draw(st.integers(0, top))))
                if draw(st.booleans()):
                    fields.append((dst, draw(st.integers(0, top))))
    elif eth == 0x0806:
        if draw(st.booleans()):
            fields.append(("arp_op", draw(st.integers(0, 255))))
        fields += _prefixed("arp_spa", draw(st.integers(0, 2**32 - 1)), draw(_PREFIX))
        fields += _prefixed("arp_tpa", draw(st.integers(0, 2**32 - 1)), draw(_PREFIX))
    return Match.from_fields(fields)


@settings(max_examples=500, deadline=None)
@given(of10_matches())
def test_roundtrip(match):
    raw = encode_match(match)
    assert len(raw) == MATCH_SIZE
    assert decode_match(raw, 0) == match


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=40, max_size=40))
def test_any_40_bytes_decode_and_reencode_stably(raw):
    match = decode_match(raw, 0)
    again = encode_match(match)
    assert decode_match(again, 0) == match
    assert encode_match(decode_match(again, 0)) == again


def test_fuzz_only_codec_error():
    rnd = random.Random(0x0F10)
    seeds = [bytes.fromhex(h) for h, _ in (*GOLDEN.values(), *NORMALIZED.values())]
    decoded = errors = 0
    for i in range(20000):
        if i % 2:
            raw = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 6)):
                raw[rnd.randrange(40)] = rnd.randrange(256)
            raw = bytes(raw[: rnd.choice((40, 40, 40, rnd.randrange(41)))])
        else:
            raw = rnd.randbytes(rnd.choice((40, 41, rnd.randrange(40))))
        try:
            match = decode_match(raw, 0)
        except CodecError as exc:
            assert exc.err is Err.OFPBRC_BAD_LEN and len(raw) < 40
            errors += 1
            continue
        decoded += 1
        assert decode_match(encode_match(match), 0) == match
    assert decoded > 10000 and errors > 1000
