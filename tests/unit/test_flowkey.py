"""OpenFlow matches <-> classifier keys (switch_agent/flowkey.py).

The core check: for a corpus of real frames (test_flow_extract's golden frames plus a
few here), received on several ports with several metadata and tunnel values, and for
matches written in ovs-ofctl syntax, ``ckey & mask == key`` (``match_to_key``) must
equal the OpenFlow meaning of the match computed field by field from the packet's
OXM fields (``packet_fields``).  ``packet_fields`` itself is checked against what
the frames are known to contain, written out by hand, and the set-field table
against the datapath executing the rewrite and re-extracting the key.
"""

from __future__ import annotations

import pytest

from datapath import flow
from datapath import odp_actions as odp
from datapath import packet as pk
from datapath.flow import FIELD_MASK, FIELD_OFFSET, KEY_BITS, extract
from openflow.consts import OFPP_LOCAL
from openflow.flowtext import parse_match
from openflow.match import Match, MatchField
from openflow.oxm import FIELD_BY_NAME, OXM_FIELDS
from switch_agent import flowkey as fk
from tests.unit.test_flow_extract import (
    FRAMES,
    IP6_A,
    IP6_B,
    IP_A,
    IP_B,
    MAC_A,
    MAC_B,
    arp,
    eth,
    icmp,
    ipv4,
    ipv6,
    lla,
    mpls,
    n,
    nd,
    tcp,
    udp,
)

# ------------------------------------------------------------------ corpus

EXTRA_FRAMES: dict[str, bytes] = {
    # tcp_src 8 / tcp_dst 0: the same tp_src/tp_dst as an ICMP echo request
    "tcp_port8": eth(0x0800, ipv4(6, tcp(8, 0, 0x002))),
    "tcp_dst53": eth(0x0800, ipv4(6, tcp(1234, 53, 0x002))),
    "udp_port8": eth(0x0800, ipv4(17, udp(8, 0))),
    "vlan0_tcp": eth(0x0800, ipv4(6, tcp(1, 80, 0x010)), tags=[(0x8100, 0x0000)]),
    "vlan5_arp": eth(0x0806, arp(2), tags=[(0x8100, 0x6005)]),
    "vlan7_tcp6": eth(0x86DD, ipv6(6, tcp(443, 80, 0x002), tclass=0xB8), tags=[(0x8100, 0x0007)]),
    "icmp6_reply": eth(0x86DD, ipv6(58, icmp(129, 0))),
    "nd_ns_opt": eth(0x86DD, ipv6(58, nd(135, "fe80::5", lla(1, "02:00:00:00:00:cc")))),
    "mpls_bos": eth(0x8847, mpls((100, 3, 1, 64))),
    "arp_op_0x0101": eth(0x0806, arp(0x0101)),  # keyed as opcode 0 (OVS)
    "arp_broadcast": eth(0x0806, arp(1), dst="ff:ff:ff:ff:ff:ff"),
    "udp4_reply": eth(0x0800, ipv4(17, udp(53, 1234), src=IP_B, dst=IP_A), dst=MAC_A, src=MAC_B),
}
CORPUS = {**FRAMES, **EXTRA_FRAMES}
PORTS = (1, 7, 0)  # datapath port 0 is OpenFlow LOCAL
METADATA = (0, 0x5, 0xABCDEF05)
TUNNELS = (None, (5, 0x0A000001, 0x0A000002))


def _keys() -> list[tuple[str, int, int]]:
    keys = []
    for name, frame in CORPUS.items():
        for port in PORTS:
            for tun in TUNNELS:
                dp_key = extract(frame, port, tun=tun)
                for metadata in METADATA:
                    keys.append((name, port, metadata << KEY_BITS | dp_key))
    return keys


KEYS = _keys()
FIELDS_OF = {ckey: fk.packet_fields(ckey) for _, _, ckey in KEYS}

MATCHES = [
    "",
    # ports, LOCAL, in_phy_port
    "in_port=1", "in_port=7", "in_port=LOCAL", "in_port=0", "in_port=1,in_phy_port=1",
    "in_port=LOCAL,in_phy_port=LOCAL", "in_port=1,in_phy_port=7",
    # metadata above the key, tunnel id
    "metadata=0x5", "metadata=0", "metadata=0x5/0xff", "metadata=0xabcdef00/0xffffff00",
    "metadata=0x1/0x1,in_port=LOCAL", "tun_id=5", "tun_id=0", "tun_id=0x4/0x4",
    # L2
    f"dl_dst={MAC_B}", f"dl_src={MAC_A}", "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
    "dl_type=0x0800", "dl_type=0x86dd", "dl_type=0x05ff", "dl_type=0x9000", "rarp",
    # VLAN: absent, present, any, VID/PCP
    "vlan_tci=0", "vlan_vid=0x1000/0x1000", "vlan_vid=0/0x1000", "dl_vlan=5", "dl_vlan=0",
    "dl_vlan=0xffff", "dl_vlan=10", "dl_vlan=5,dl_vlan_pcp=1", "dl_vlan_pcp=7", "dl_vlan_pcp=0",
    "dl_vlan_pcp=3", "vlan_vid=5", "vlan_vid=0/0xfff", "vlan_vid=0x1005/0x1fff",
    "vlan_vid=0x1007,ipv6",
    # IPv4 / IPv6
    "ip", "ipv6", f"ip,nw_src={IP_A}", "ip,nw_dst=10.0.0.0/24", "ip,nw_dst=10.0.0.1",
    "ip,nw_proto=17", "ip,nw_proto=58", "ip,nw_proto=2", "ip,ip_dscp=46", "ip,nw_ecn=1",
    "ip,nw_tos=0xb8", "ipv6,ip_dscp=10", "ipv6,nw_ecn=3", "ipv6,ip_dscp=46",
    f"ipv6,ipv6_src={IP6_A}", "ipv6,ipv6_dst=fe80::/16", f"ipv6,ipv6_dst={IP6_B}",
    "ipv6,ipv6_label=0xabcde", "ipv6,ipv6_exthdr=0x40/0x40", "ipv6,ipv6_exthdr=0",
    "ipv6,ipv6_exthdr=0x10/0x10", "ipv6,nw_proto=44", "ipv6,nw_proto=50",
    # L4: TCP vs UDP vs ICMP sharing tp_src/tp_dst
    "udp,tp_dst=53", "tcp,tp_dst=53", "tcp,tp_src=8", "udp,tp_src=8", "icmp,icmp_type=8",
    "icmp,icmp_type=8,icmp_code=0", "tcp,tp_src=8,tp_dst=0", "udp,tp_src=0", "tcp,tp_dst=80",
    "tcp,tp_dst=0x0050/0xfff0", "tcp6,tp_src=443", "udp6,tp_dst=547", "sctp,tp_src=5000",
    "sctp6,tp_dst=2", "tcp6,tp_dst=80", "tcp,tp_src=0",
    # ICMPv6 and ND
    "icmp6", "icmp6,icmp_type=128", "icmp6,icmp_type=129", "icmp6,icmp_type=135",
    "icmp6,icmp_type=135,nd_target=fe80::99", "icmp6,icmp_type=136,nd_target=fe80::98",
    "icmp6,icmp_type=135,nd_sll=02:00:00:00:00:aa", "icmp6,icmp_type=135,nd_sll=00:00:00:00:00:00",
    "icmp6,icmp_type=136,nd_tll=02:00:00:00:00:bb", "icmp6,icmp_type=135,nd_target=::",
    "icmp6,icmp_type=135,icmp_code=1", "icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::5",
    # ARP
    "arp", "arp,arp_op=1", "arp,arp_op=2", "arp,arp_op=0", "arp,arp_op=0x0102",
    "arp,arp_op=0x0101", f"arp,arp_spa={IP_A}", f"arp,arp_tpa={IP_A}", "arp,arp_spa=10.0.0.0/8",
    f"arp,arp_sha={MAC_B}", f"arp,arp_tha={MAC_A}", "arp,dl_vlan=5",
    # MPLS, PBB
    "mpls", "mpls,mpls_label=100", "mpls,mpls_label=100,mpls_tc=3,mpls_bos=0",
    "mpls,mpls_bos=1", "dl_type=0x8848,mpls_bos=1", "dl_type=0x8848,mpls_label=0xfffff",
    "mpls,mpls_label=16,dl_vlan=0x123", "dl_type=0x88e7,pbb_isid=0x123456",
    "dl_type=0x88e7,pbb_isid=0x120000/0xff0000",
]
# Matches no frame of the corpus can hit (checked: they hit nothing).
NEVER = {
    "in_port=0", "in_port=1,in_phy_port=7", "vlan_vid=5", "arp,arp_op=0x0102",
    "arp,arp_op=0x0101",
}


def _reference(match: Match, fields: dict[str, int]) -> bool:
    """OpenFlow semantics: every matched field present in the packet, equal under its mask."""
    for name, value, mask in match:
        if name not in fields:
            return False
        if fields[name] & (FIELD_BY_NAME[name].full_mask if mask is None else mask) != value:
            return False
    return True


@pytest.mark.parametrize("text", MATCHES)
def test_key_under_mask_equals_openflow_semantics(text: str) -> None:
    match = parse_match(text)
    key, mask = fk.match_to_key(match)
    assert key & mask == key
    hits = 0
    for name, port, ckey in KEYS:
        expected = _reference(match, FIELDS_OF[ckey])
        assert (ckey & mask == key) == expected, (text, name, port, hex(ckey >> KEY_BITS))
        hits += expected
    if text in NEVER:
        assert hits == 0, text
    else:
        assert 0 < hits, text  # the corpus exercises the match ...
        assert text == "" or hits < len(KEYS), text  # ... both ways


def test_shared_slots_are_pinned_by_prerequisites() -> None:
    icmp_key, icmp_mask = fk.match_to_key(parse_match("icmp,icmp_type=8,icmp_code=0"))
    tcp_key, tcp_mask = fk.match_to_key(parse_match("tcp,tp_src=8,tp_dst=0"))
    udp_key, udp_mask = fk.match_to_key(parse_match("udp,tp_src=8,tp_dst=0"))
    for mask in (icmp_mask, tcp_mask, udp_mask):
        assert mask & FIELD_MASK["ip_proto"] == FIELD_MASK["ip_proto"]
        assert mask & FIELD_MASK["eth_type"] == FIELD_MASK["eth_type"]
    assert len({icmp_key, tcp_key, udp_key}) == 3
    icmp_frame = extract(FRAMES["icmp4"], 1)
    tcp_frame = extract(EXTRA_FRAMES["tcp_port8"], 1)
    assert icmp_frame & icmp_mask == icmp_key and tcp_frame & icmp_mask != icmp_key
    assert tcp_frame & tcp_mask == tcp_key and icmp_frame & tcp_mask != tcp_key
    key, mask = fk.match_to_key(parse_match("udp,tp_dst=53"))
    assert key == flow.make_key(eth_type=0x0800, ip_proto=17, tp_dst=53)
    assert mask == flow.make_mask(eth_type=True, ip_proto=True, tp_dst=True)


def test_field_layout_in_the_key() -> None:
    def key_of(**kw: int | tuple[int, int]) -> tuple[int, int]:
        return fk.match_to_key(Match.build(**kw))

    assert key_of(vlan_vid=0x1005) == (flow.make_key(vlan_tci=0x1005),
                                       flow.make_mask(vlan_tci=0x1FFF))
    assert key_of(vlan_vid=(0x1000, 0x1000)) == (flow.make_key(vlan_tci=0x1000),
                                                 flow.make_mask(vlan_tci=0x1000))
    assert key_of(vlan_vid=0x1000, vlan_pcp=5) == (flow.make_key(vlan_tci=0xB000),
                                                   flow.make_mask(vlan_tci=0xFFFF))
    assert key_of(eth_type=0x0800, ip_dscp=0x2E, ip_ecn=1) == (
        flow.make_key(eth_type=0x0800, ip_tos=0xB9), flow.make_mask(eth_type=True, ip_tos=True))
    assert key_of(eth_type=0x86DD, ip_ecn=2) == (
        flow.make_key(eth_type=0x86DD, ip_tos=2), flow.make_mask(eth_type=True, ip_tos=3))
    assert key_of(eth_type=0x8847, mpls_label=100, mpls_tc=3, mpls_bos=1) == (
        flow.make_key(eth_type=0x8847, mpls_lse=100 << 12 | 3 << 9 | 1 << 8),
        flow.make_mask(eth_type=True, mpls_lse=0xFFFFFF00))
    assert key_of(eth_type=0x0806, arp_op=2, arp_spa=1, arp_tpa=2) == (
        flow.make_key(eth_type=0x0806, ip_proto=2, ipv4_src=1, ipv4_dst=2),
        flow.make_mask(eth_type=True, ip_proto=True, ipv4_src=True, ipv4_dst=True))
    assert key_of(tunnel_id=(0x500, 0xF00), metadata=(0x12, 0xFF)) == (
        flow.make_key(tun_id=0x500) | 0x12 << KEY_BITS,
        flow.make_mask(tun_id=0xF00) | 0xFF << KEY_BITS)
    assert key_of(in_port=OFPP_LOCAL) == (flow.make_key(in_port=0), flow.make_mask(in_port=True))
    assert key_of(in_port=0) == (flow.make_key(in_port=OFPP_LOCAL), flow.make_mask(in_port=True))
    assert key_of(in_port=3, in_phy_port=3) == key_of(in_port=3)
    for f in OXM_FIELDS:  # every OXM field has a slot that fits its key field
        slot = fk.OXM_TO_KEY[f.name]
        width = 64 if slot.field == "metadata" else flow.FIELD_WIDTH[slot.field]
        assert slot.shift + slot.bits <= width
        assert slot.bits == f.bits or f.name == "arp_op"


def test_never_matching_keys_stay_distinct() -> None:
    key_a, mask_a = fk.match_to_key(parse_match("arp,arp_op=0x0102"))
    key_b, mask_b = fk.match_to_key(parse_match("arp,arp_op=0x0103"))
    assert (key_a, mask_a) != (key_b, mask_b)
    assert fk.match_to_key(parse_match("arp,arp_op=2")) != (key_a, mask_a)
    key, mask = fk.match_to_key(Match.build(in_port=1, in_phy_port=2))
    assert key & fk.NEVER_BIT and mask & fk.NEVER_BIT
    assert not any(fk.NEVER_BIT & m for m in FIELD_MASK.values())
    assert not any(ckey & fk.NEVER_BIT for _, _, ckey in KEYS)


@pytest.mark.parametrize("match", [
    Match.build(tcp_dst=80),
    Match.build(ip_proto=6, tcp_dst=80),  # ip_proto without eth_type
    Match.build(eth_type=0x0800, tcp_dst=80),
    Match.build(eth_type=0x0800, ip_proto=17, tcp_dst=80),
    Match.build(eth_type=0x0800, ip_proto=6, icmpv4_type=8),
    Match.build(eth_type=0x86DD, ip_proto=1, icmpv4_type=8),
    Match.build(eth_type=0x0806, ip_proto=1),  # the ARP opcode slot
    Match.build(eth_type=0x8035, arp_op=1),
    Match.build(eth_type=0x0800, arp_spa=1),
    Match.build(vlan_pcp=3),
    Match.build(vlan_vid=(0x0005, 0x0FFF), vlan_pcp=3),
    Match.build(in_phy_port=1),
    Match.build(eth_type=0x86DD, ip_proto=58, ipv6_nd_target=1),
    Match.build(eth_type=0x86DD, ip_proto=58, icmpv6_type=136, ipv6_nd_sll=1),
    Match.build(mpls_label=5),
    Match.build(eth_type=(0x0800, 0xFF00), ipv4_src=1),
    Match.build(pbb_isid=5),
    Match.build(ipv6_exthdr=1),
])
def test_missing_prerequisite_is_refused(match: Match) -> None:
    with pytest.raises(ValueError):
        fk.match_to_key(match)


def test_partial_port_mask_is_refused() -> None:
    with pytest.raises(ValueError):
        fk.match_to_key(Match.build(in_port=(1, 0xFF)))


# ------------------------------------------------------------------ packet_fields


def _base(port: int = 1, **kw: int) -> dict[str, int]:
    ofp_port = OFPP_LOCAL if port == 0 else port
    return {"in_port": ofp_port, "in_phy_port": ofp_port, "metadata": 0,
            "eth_dst": n(MAC_B), "eth_src": n(MAC_A), "vlan_vid": 0, "tunnel_id": 0, **kw}


V4 = {"eth_type": 0x0800, "ip_dscp": 0, "ip_ecn": 0, "ipv4_src": n(IP_A), "ipv4_dst": n(IP_B)}
V6 = {"eth_type": 0x86DD, "ip_dscp": 0, "ip_ecn": 0, "ipv6_src": n(IP6_A),
      "ipv6_dst": n(IP6_B), "ipv6_flabel": 0, "ipv6_exthdr": 0}

KNOWN_FIELDS: dict[str, dict[str, int]] = {
    "udp4": _base(**V4, ip_proto=17, udp_src=1234, udp_dst=53),
    "tcp4": _base(**V4 | {"ip_dscp": 0x2E, "ip_ecn": 1}, ip_proto=6, tcp_src=40000, tcp_dst=80),
    "sctp4": _base(**V4, ip_proto=132, sctp_src=5000, sctp_dst=6000),
    "icmp4": _base(**V4, ip_proto=1, icmpv4_type=8, icmpv4_code=0),
    "gre4": _base(**V4, ip_proto=47),
    "icmp6_in_ipv4": _base(**V4, ip_proto=58),  # no icmpv6_* inside IPv4
    "frag4_later": _base(**V4, ip_proto=17, udp_src=0, udp_dst=0),  # present, no header (OVS)
    "vlan_udp4": _base(**V4, vlan_vid=0x1005, vlan_pcp=1, ip_proto=17, udp_src=1, udp_dst=2),
    "qinq_udp4": _base(**V4, vlan_vid=0x100A, vlan_pcp=5, ip_proto=17, udp_src=1, udp_dst=2),
    "prio_tag": _base(**V6, vlan_vid=0x1000, vlan_pcp=7, ip_proto=17,
                      udp_src=1, udp_dst=2),
    "vlan0_tcp": _base(**V4, vlan_vid=0x1000, vlan_pcp=0, ip_proto=6, tcp_src=1, tcp_dst=80),
    "vlan7_tcp6": _base(**V6 | {"ip_dscp": 0x2E}, vlan_vid=0x1007, vlan_pcp=0, ip_proto=6,
                        tcp_src=443, tcp_dst=80),
    "tcp6": _base(**V6 | {"ip_dscp": 0x0A, "ip_ecn": 3, "ipv6_flabel": 0xABCDE}, ip_proto=6,
                  tcp_src=443, tcp_dst=50000),
    "sctp6": _base(**V6, ip_proto=132, sctp_src=1, sctp_dst=2),
    "icmp6_echo": _base(**V6, ip_proto=58, icmpv6_type=128, icmpv6_code=0),
    "nd_ns": _base(**V6, ip_proto=58, icmpv6_type=135, icmpv6_code=0,
                   ipv6_nd_target=n("fe80::99"), ipv6_nd_sll=n("02:00:00:00:00:aa")),
    "nd_na": _base(**V6, ip_proto=58, icmpv6_type=136, icmpv6_code=0,
                   ipv6_nd_target=n("fe80::98"), ipv6_nd_tll=n("02:00:00:00:00:bb")),
    "nd_code1": _base(**V6, ip_proto=58, icmpv6_type=135, icmpv6_code=1,
                      ipv6_nd_target=0, ipv6_nd_sll=0),  # not parsed (OVS)
    "hop_tcp6": _base(**V6 | {"ipv6_exthdr": flow.IEH_HOP}, ip_proto=6, tcp_src=1, tcp_dst=2),
    "esp6": _base(**V6 | {"ipv6_exthdr": flow.IEH_ESP}, ip_proto=50),
    "arp_request": _base(eth_type=0x0806, arp_op=1, arp_spa=n(IP_A), arp_tpa=n(IP_B),
                         arp_sha=n(MAC_A), arp_tha=0),
    "arp_reply": _base(eth_type=0x0806, arp_op=2, arp_spa=n(IP_B), arp_tpa=n(IP_A),
                       arp_sha=n(MAC_B), arp_tha=n(MAC_A)),
    "vlan5_arp": _base(eth_type=0x0806, vlan_vid=0x1005, vlan_pcp=3, arp_op=2, arp_spa=n(IP_A),
                       arp_tpa=n(IP_B), arp_sha=n(MAC_A), arp_tha=0),
    "arp_op_big": _base(eth_type=0x0806, arp_op=0, arp_spa=n(IP_A), arp_tpa=n(IP_B),  # 0x102
                        arp_sha=n(MAC_A), arp_tha=0),
    "rarp": _base(eth_type=0x8035),  # OXM arp_* need eth_type 0x0806
    "arp_not_ether": _base(eth_type=0x0806, arp_op=0, arp_spa=0, arp_tpa=0, arp_sha=0, arp_tha=0),
    "mpls": _base(eth_type=0x8847, mpls_label=100, mpls_tc=3, mpls_bos=0),
    "mpls_mcast": _base(eth_type=0x8848, mpls_label=0xFFFFF, mpls_tc=7, mpls_bos=1),
    "vlan_mpls": _base(eth_type=0x8847, vlan_vid=0x1123, vlan_pcp=0, mpls_label=16, mpls_tc=0,
                       mpls_bos=1),
    "pbb": _base(eth_type=0x88E7, pbb_isid=0x123456),
    "llc": _base(eth_type=0x05FF),
    "unknown_type": _base(eth_type=0x9000),
}


@pytest.mark.parametrize("name", sorted(KNOWN_FIELDS))
def test_packet_fields_are_the_frame_contents(name: str) -> None:
    assert fk.packet_fields(extract(CORPUS[name], 1)) == KNOWN_FIELDS[name]
    order = [f.name for f in OXM_FIELDS]
    assert list(fk.packet_fields(extract(CORPUS[name], 1))) == sorted(
        KNOWN_FIELDS[name], key=order.index)


def test_packet_fields_port_metadata_tunnel() -> None:
    frame = FRAMES["udp4"]
    ckey = 0xAB << KEY_BITS | extract(frame, 0, tun=(7, 1, 2))
    fields = fk.packet_fields(ckey)
    assert fields == KNOWN_FIELDS["udp4"] | {"in_port": OFPP_LOCAL, "in_phy_port": OFPP_LOCAL,
                                             "metadata": 0xAB, "tunnel_id": 7}
    assert fk.packet_fields(extract(frame, 3), in_port_of=lambda p: p + 100)["in_port"] == 103


def test_key_to_match_fields() -> None:
    dp_key = extract(FRAMES["tcp4"], 0)
    assert fk.key_to_match_fields(dp_key, pipeline=True) == (MatchField("in_port", OFPP_LOCAL),)
    ckey = 0x42 << KEY_BITS | extract(FRAMES["tcp4"], 4, tun=(9, 1, 2))
    assert fk.key_to_match_fields(ckey, pipeline=True) == (
        MatchField("in_port", 4), MatchField("metadata", 0x42), MatchField("tunnel_id", 9))
    every = fk.key_to_match_fields(ckey)
    assert Match.from_fields(every).fields == every  # canonical: OXM order, exact
    assert dict((f.name, f.value) for f in every) == fk.packet_fields(ckey)
    key, mask = fk.match_to_key(Match(every))  # the packet's own fields match it exactly
    assert ckey & mask == key


def test_wildcards_to_megaflow() -> None:
    wildcards = (0xFFFF << KEY_BITS | flow.make_mask(eth_type=True, tp_dst=True)
                 | fk.NEVER_BIT)
    assert fk.wildcards_to_megaflow(wildcards) == flow.make_mask(
        in_port=True, eth_type=True, tp_dst=True)
    assert fk.wildcards_to_megaflow(0) == flow.make_mask(in_port=True)
    everything = fk.wildcards_to_megaflow((1 << (KEY_BITS + 64)) - 1)
    assert everything == sum(FIELD_MASK.values())


# ------------------------------------------------------------------ set_field


def test_set_targets_cover_every_oxm_field() -> None:
    names = {f.name for f in OXM_FIELDS}
    assert set(fk.SET_TARGETS) | fk.NOT_SETTABLE == names
    assert not set(fk.SET_TARGETS) & fk.NOT_SETTABLE
    for name, target in fk.SET_TARGETS.items():
        slot = fk.OXM_TO_KEY[name]
        assert (target.key_field, target.shift) == (slot.field, slot.shift)
        if target.kind == fk.SET_HEADER:
            assert target.dp_field in pk.FIELD_LAYOUTS
            assert target.bits == pk.FIELD_BITS[name]
        elif target.kind == fk.SET_RESHAPE:
            assert target.dp_field in pk.SHAPE_FIELDS
            assert target.bits == pk.FIELD_BITS[name]
        else:
            assert target.dp_field is None
    assert fk.SET_TARGETS["vlan_vid"] == (fk.SET_HEADER, "vlan_vid", 12, "vlan_tci", 0, 12)
    assert fk.SET_TARGETS["ip_dscp"] == (fk.SET_HEADER, "ip_dscp", 6, "ip_tos", 2, 6)
    assert fk.SET_TARGETS["mpls_tc"] == (fk.SET_HEADER, "mpls_tc", 3, "mpls_lse", 9, 3)
    assert fk.SET_TARGETS["arp_op"] == (fk.SET_HEADER, "arp_op", 16, "ip_proto", 0, 8)
    assert fk.SET_TARGETS["eth_type"] == (fk.SET_RESHAPE, "eth_type", 16, "eth_type", 0, 16)
    assert fk.SET_TARGETS["ip_proto"] == (fk.SET_RESHAPE, "ip_proto", 8, "ip_proto", 0, 8)
    assert fk.SET_TARGETS["mpls_bos"] == (fk.SET_HEADER, "mpls_bos", 1, "mpls_lse", 8, 1)
    assert fk.SET_TARGETS["tunnel_id"].kind == fk.SET_TUNNEL
    assert fk.SET_TARGETS["metadata"].kind == fk.SET_PIPELINE


SET_VALUES = {
    "eth_dst": n("02:00:00:00:00:77"), "eth_src": n("02:00:00:00:00:88"), "vlan_vid": 0x1123,
    "vlan_pcp": 6, "ip_dscp": 0x2E, "ip_ecn": 2, "ipv4_src": n("10.9.9.9"),
    "ipv4_dst": n("192.168.1.1"), "tcp_src": 999, "tcp_dst": 443, "udp_src": 999,
    "udp_dst": 4789, "sctp_src": 11, "sctp_dst": 12, "icmpv4_type": 0, "icmpv4_code": 3,
    "arp_op": 2, "arp_spa": n("10.1.1.1"), "arp_tpa": n("10.2.2.2"),
    "arp_sha": n("02:00:00:00:00:99"), "arp_tha": n("02:00:00:00:00:98"),
    "ipv6_src": n("2001:db8::77"), "ipv6_dst": n("2001:db8::88"), "ipv6_flabel": 0x12345,
    "icmpv6_type": 129, "icmpv6_code": 0, "ipv6_nd_target": n("fe80::77"),
    "ipv6_nd_sll": n("02:00:00:00:00:55"), "ipv6_nd_tll": n("02:00:00:00:00:66"),
    "mpls_label": 0x54321, "mpls_tc": 5, "mpls_bos": 1, "pbb_isid": 0xABCDEF,
}
# Frames whose headers are all there (no truncation, ND options present where set).
SET_FRAMES = ["udp4", "tcp4", "sctp4", "icmp4", "vlan_udp4", "qinq_udp4", "prio_tag",
              "tcp6", "udp6", "sctp6", "icmp6_echo", "arp_request", "arp_reply", "mpls",
              "mpls_mcast", "vlan_mpls", "pbb", "hop_tcp6", "vlan5_arp", "vlan0_tcp",
              "nd_ns", "nd_na", "frag4_later", "frag6_later", "udp4_padded"]
_ND_TYPE_FIELDS = ("icmpv6_type", "icmpv6_code")  # re-typing an ND message: see apply_set_field


class _Capture:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def output(self, port: int, frame: odp.Frame, ctx: odp.PacketCtx) -> None:
        self.frames.append(bytes(frame))

    def upcall(self, frame: odp.Frame, userdata: bytes, total_len: int,
               ctx: odp.PacketCtx) -> None:
        raise AssertionError("no upcall expected")

    def meter(self, meter_id: int, size: int, now: float) -> int:
        raise AssertionError("no meter expected")


def _run(action: odp.Action, frame: bytes) -> bytes:
    env = _Capture()
    odp.compile_actions([action, odp.Output(1)], env)(frame, odp.PacketCtx(in_port=1))
    return env.frames[0]


def _set_cases() -> list[tuple[str, str, bool]]:
    return [(frame, name, masked) for frame in SET_FRAMES for name in SET_VALUES
            for masked in (False, True)
            if not (frame.startswith("nd_") and name in _ND_TYPE_FIELDS)]


@pytest.mark.parametrize(("frame_name", "name", "masked"), _set_cases())
def test_set_field_key_equals_datapath_rewrite(frame_name: str, name: str, masked: bool) -> None:
    frame = CORPUS[frame_name]
    ckey = 0x77 << KEY_BITS | extract(frame, 2)
    target = fk.SET_TARGETS[name]
    value = SET_VALUES[name]
    mask = (1 << target.bits) - 1 & 0x5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A if masked else None
    dp_value = value & ((1 << target.bits) - 1)
    action: odp.Action = (odp.SetField(name, dp_value) if mask is None
                          else odp.SetMasked(name, dp_value & mask, mask))
    rewritten = _run(action, frame)
    if not fk.can_set(ckey, name):
        assert rewritten == frame, (frame_name, name)  # the datapath finds no such header
        return
    expected = fk.apply_set_field(ckey, name, value, mask)
    assert 0x77 << KEY_BITS | extract(rewritten, 2) == expected, (frame_name, name)
    assert rewritten != frame or expected == ckey
    # only the field's own key bits moved
    offset = fk.OXM_TO_KEY[name]
    moved = ckey ^ expected
    slot_bits = ((1 << target.key_bits) - 1) << (FIELD_OFFSET[offset.field] + offset.shift)
    assert not moved & ~slot_bits


def test_can_set_needs_the_header() -> None:
    udp_key = extract(FRAMES["udp4"], 1)
    assert fk.can_set(udp_key, "udp_src") and not fk.can_set(udp_key, "tcp_src")
    assert not fk.can_set(udp_key, "vlan_vid") and not fk.can_set(udp_key, "vlan_pcp")
    assert not fk.can_set(udp_key, "arp_op") and not fk.can_set(udp_key, "in_port")
    assert fk.can_set(udp_key, "metadata") and fk.can_set(udp_key, "tunnel_id")
    assert not fk.can_set(extract(FRAMES["frag4_later"], 1), "udp_src")
    assert fk.can_set(extract(FRAMES["frag4_later"], 1), "ipv4_src")
    assert fk.can_set(extract(FRAMES["vlan_udp4"], 1), "vlan_vid")
    # the bits the decision reads: enough to tell the keys above apart
    assert fk.SET_PREREQ_MASK["udp_src"] == flow.make_mask(
        eth_type=True, ip_proto=True, ip_frag=flow.FRAG_LATER)
    assert fk.SET_PREREQ_MASK["vlan_vid"] == flow.make_mask(vlan_tci=0x1000)
    assert fk.PREREQ_MASK["ipv6_nd_sll"] == flow.make_mask(eth_type=True, ip_proto=True,
                                                          tp_src=0xFF)
    assert fk.PREREQ_MASK["eth_dst"] == 0
    for _, _, ckey in KEYS[::7]:
        for name in fk.SET_TARGETS:
            same = ckey & fk.SET_PREREQ_MASK[name]
            assert fk.can_set(ckey, name) == fk.can_set(same, name), name
        for f in OXM_FIELDS:
            assert fk.has_field(ckey, f.name) == fk.has_field(ckey & fk.PREREQ_MASK[f.name], f.name)


def test_apply_set_field_special_values() -> None:
    arp_key = extract(FRAMES["arp_request"], 1)
    assert flow.key_get(fk.apply_set_field(arp_key, "arp_op", 0x0102), "ip_proto") == 0
    assert fk.apply_set_field(0, "metadata", 0x34, 0xF0) == 0x30 << KEY_BITS
    tagged = extract(FRAMES["vlan_udp4"], 1)
    after = fk.apply_set_field(tagged, "vlan_vid", 0x1FFF)
    assert flow.key_get(after, "vlan_tci") == 0x3FFF  # PCP 1 kept, present bit kept
    assert fk.apply_set_field(tagged, "tunnel_id", 5) == tagged | flow.make_key(tun_id=5)
