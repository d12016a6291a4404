"""OF1.3 action and instruction codec (openflow.v13_actions).

Golden bytes come from Ryu 4.34 (an independent implementation), generated with
/work/main/.ryu-venv/bin/python by serializing each Ryu object on its own:

    from ryu.ofproto import ofproto_v1_3 as o, ofproto_v1_3_parser as p
    buf = bytearray(); <expression>.serialize(buf, 0); print(bytes(buf).hex())

The expressions sit next to their bytes; tests/crosscheck/test_actions_ryu.py
re-runs them through live Ryu (inside PACKET_OUT / FLOW_MOD messages) and checks
these very bytes.  Error cases are hand-built bytes with the error code OVS (its
lib/ofp-actions.c) returns for them; see the module docstring of v13_actions.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow import actions as a
from openflow import v13_actions as v13
from openflow.consts import (
    OFP13,
    OFPCML_NO_BUFFER,
    OFPP_ALL,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPP_FLOOD,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_MAX,
    OFPP_NORMAL,
    OFPP_TABLE,
    OFPVID_PRESENT,
)
from openflow.errors import CodecError, Err
from openflow.oxm import FIELD_BY_NAME, oxm_header

# (Ryu 4.34 expression, its serialization, the model it means)
ACTION_CASES = [
    ('p.OFPActionOutput(3, 128)',
     "00000010000000030080000000000000",
     a.Output(3, 128)),
    ('p.OFPActionOutput(o.OFPP_CONTROLLER, o.OFPCML_NO_BUFFER)',
     "00000010fffffffdffff000000000000",
     a.Output(OFPP_CONTROLLER, OFPCML_NO_BUFFER)),
    ('p.OFPActionOutput(o.OFPP_IN_PORT)',
     "00000010fffffff8ffe5000000000000",
     a.Output(OFPP_IN_PORT)),
    ('p.OFPActionOutput(o.OFPP_TABLE, 0)',
     "00000010fffffff90000000000000000",
     a.Output(OFPP_TABLE, 0)),
    ('p.OFPActionOutput(o.OFPP_NORMAL)',
     "00000010fffffffaffe5000000000000",
     a.Output(OFPP_NORMAL)),
    ('p.OFPActionOutput(o.OFPP_FLOOD)',
     "00000010fffffffbffe5000000000000",
     a.Output(OFPP_FLOOD)),
    ('p.OFPActionOutput(o.OFPP_ALL)',
     "00000010fffffffcffe5000000000000",
     a.Output(OFPP_ALL)),
    ('p.OFPActionOutput(o.OFPP_LOCAL)',
     "00000010fffffffeffe5000000000000",
     a.Output(OFPP_LOCAL)),
    ('p.OFPActionOutput(0xfffffeff)',
     "00000010fffffeffffe5000000000000",
     a.Output(0xFFFFFEFF)),
    ('p.OFPActionCopyTtlOut()',
     "000b000800000000",
     a.CopyTtlOut()),
    ('p.OFPActionCopyTtlIn()',
     "000c000800000000",
     a.CopyTtlIn()),
    ('p.OFPActionSetMplsTtl(64)',
     "000f000840000000",
     a.SetMplsTtl(64)),
    ('p.OFPActionDecMplsTtl()',
     "0010000800000000",
     a.DecMplsTtl()),
    ('p.OFPActionPushVlan()',
     "0011000881000000",
     a.PushVlan(0x8100)),
    ('p.OFPActionPushVlan(0x88a8)',
     "0011000888a80000",
     a.PushVlan(0x88A8)),
    ('p.OFPActionPopVlan()',
     "0012000800000000",
     a.PopVlan()),
    ('p.OFPActionPushMpls()',
     "0013000888470000",
     a.PushMpls(0x8847)),
    ('p.OFPActionPushMpls(0x8848)',
     "0013000888480000",
     a.PushMpls(0x8848)),
    ('p.OFPActionPopMpls()',
     "0014000808000000",
     a.PopMpls(0x0800)),
    ('p.OFPActionPopMpls(0x86dd)',
     "0014000886dd0000",
     a.PopMpls(0x86DD)),
    ('p.OFPActionSetQueue(7)',
     "0015000800000007",
     a.SetQueue(7)),
    ('p.OFPActionGroup(0x12345678)',
     "0016000812345678",
     a.Group(0x12345678)),
    ('p.OFPActionSetNwTtl(33)',
     "0017000821000000",
     a.SetNwTtl(33)),
    ('p.OFPActionDecNwTtl()',
     "0018000800000000",
     a.DecNwTtl()),
    ('p.OFPActionPushPbb(0x88e7)',
     "001a000888e70000",
     a.PushPbb(0x88E7)),
    ('p.OFPActionPopPbb()',
     "001b000800000000",
     a.PopPbb()),
    ('p.OFPActionSetField(metadata=0x0102030405060708)',
     "00190010800004080102030405060708",
     a.SetField('metadata', 0x0102030405060708)),
    ("p.OFPActionSetField(eth_dst='00:11:22:33:44:55')",
     "00190010800006060011223344550000",
     a.SetField('eth_dst', 0x001122334455)),
    ("p.OFPActionSetField(eth_src='fa:c8:e8:76:1d:7e')",
     "0019001080000806fac8e8761d7e0000",
     a.SetField('eth_src', 0xFAC8E8761D7E)),
    ('p.OFPActionSetField(vlan_vid=0x1000 | 5)',
     "0019001080000c021005000000000000",
     a.SetField('vlan_vid', 0x1005)),
    ('p.OFPActionSetField(vlan_pcp=6)',
     "0019001080000e010600000000000000",
     a.SetField('vlan_pcp', 6)),
    ('p.OFPActionSetField(ip_dscp=46)',
     "00190010800010012e00000000000000",
     a.SetField('ip_dscp', 46)),
    ('p.OFPActionSetField(ip_ecn=3)',
     "00190010800012010300000000000000",
     a.SetField('ip_ecn', 3)),
    ("p.OFPActionSetField(ipv4_src='10.0.0.1')",
     "00190010800016040a00000100000000",
     a.SetField('ipv4_src', 0x0A000001)),
    ("p.OFPActionSetField(ipv4_dst='192.168.1.254')",
     "0019001080001804c0a801fe00000000",
     a.SetField('ipv4_dst', 0xC0A801FE)),
    ('p.OFPActionSetField(tcp_src=80)',
     "0019001080001a020050000000000000",
     a.SetField('tcp_src', 80)),
    ('p.OFPActionSetField(tcp_dst=443)',
     "0019001080001c0201bb000000000000",
     a.SetField('tcp_dst', 443)),
    ('p.OFPActionSetField(udp_src=53)',
     "0019001080001e020035000000000000",
     a.SetField('udp_src', 53)),
    ('p.OFPActionSetField(udp_dst=4789)',
     "001900108000200212b5000000000000",
     a.SetField('udp_dst', 4789)),
    ('p.OFPActionSetField(sctp_src=36412)',
     "00190010800022028e3c000000000000",
     a.SetField('sctp_src', 36412)),
    ('p.OFPActionSetField(sctp_dst=2905)',
     "00190010800024020b59000000000000",
     a.SetField('sctp_dst', 2905)),
    ('p.OFPActionSetField(icmpv4_type=8)',
     "00190010800026010800000000000000",
     a.SetField('icmpv4_type', 8)),
    ('p.OFPActionSetField(icmpv4_code=3)',
     "00190010800028010300000000000000",
     a.SetField('icmpv4_code', 3)),
    ('p.OFPActionSetField(arp_op=2)',
     "0019001080002a020002000000000000",
     a.SetField('arp_op', 2)),
    ("p.OFPActionSetField(arp_spa='10.0.0.2')",
     "0019001080002c040a00000200000000",
     a.SetField('arp_spa', 0x0A000002)),
    ("p.OFPActionSetField(arp_tpa='10.0.0.3')",
     "0019001080002e040a00000300000000",
     a.SetField('arp_tpa', 0x0A000003)),
    ("p.OFPActionSetField(arp_sha='00:00:00:00:00:01')",
     "00190010800030060000000000010000",
     a.SetField('arp_sha', 0x000000000001)),
    ("p.OFPActionSetField(arp_tha='ff:ff:ff:ff:ff:ff')",
     "0019001080003206ffffffffffff0000",
     a.SetField('arp_tha', 0xFFFFFFFFFFFF)),
    ("p.OFPActionSetField(ipv6_src='2001:db8::1')",
     "001900188000341020010db8000000000000000000000001",
     a.SetField('ipv6_src', 0x20010DB8000000000000000000000001)),
    ("p.OFPActionSetField(ipv6_dst='fe80::1:2')",
     "0019001880003610fe800000000000000000000000010002",
     a.SetField('ipv6_dst', 0xFE800000000000000000000000010002)),
    ('p.OFPActionSetField(ipv6_flabel=0xfffff)',
     "0019001080003804000fffff00000000",
     a.SetField('ipv6_flabel', 0xFFFFF)),
    ('p.OFPActionSetField(icmpv6_type=135)',
     "0019001080003a018700000000000000",
     a.SetField('icmpv6_type', 135)),
    ('p.OFPActionSetField(icmpv6_code=0)',
     "0019001080003c010000000000000000",
     a.SetField('icmpv6_code', 0)),
    ("p.OFPActionSetField(ipv6_nd_target='2001:db8::2')",
     "0019001880003e1020010db8000000000000000000000002",
     a.SetField('ipv6_nd_target', 0x20010DB8000000000000000000000002)),
    ("p.OFPActionSetField(ipv6_nd_sll='00:11:22:33:44:55')",
     "00190010800040060011223344550000",
     a.SetField('ipv6_nd_sll', 0x001122334455)),
    ("p.OFPActionSetField(ipv6_nd_tll='00:11:22:33:44:66')",
     "00190010800042060011223344660000",
     a.SetField('ipv6_nd_tll', 0x001122334466)),
    ('p.OFPActionSetField(mpls_label=0xabcde)',
     "0019001080004404000abcde00000000",
     a.SetField('mpls_label', 0xABCDE)),
    ('p.OFPActionSetField(mpls_tc=5)',
     "00190010800046010500000000000000",
     a.SetField('mpls_tc', 5)),
    ('p.OFPActionSetField(pbb_isid=0xabcdef)',
     "0019001080004a03abcdef0000000000",
     a.SetField('pbb_isid', 0xABCDEF)),
    ('p.OFPActionSetField(tunnel_id=0x1122334455667788)',
     "0019001080004c081122334455667788",
     a.SetField('tunnel_id', 0x1122334455667788)),
]

INSTRUCTION_CASES = [
    ('p.OFPInstructionGotoTable(3)',
     "0001000803000000",
     a.GotoTable(3)),
    ('p.OFPInstructionGotoTable(254)',
     "00010008fe000000",
     a.GotoTable(254)),
    ('p.OFPInstructionWriteMetadata(0x1122, 0xff00)',
     "00020018000000000000000000001122000000000000ff00",
     a.WriteMetadata(0x1122, 0xFF00)),
    ('p.OFPInstructionWriteMetadata(0xffffffffffffffff, 0xffffffffffffffff)',
     "0002001800000000ffffffffffffffffffffffffffffffff",
     a.WriteMetadata(0xFFFFFFFFFFFFFFFF)),
    ('p.OFPInstructionActions(o.OFPIT_WRITE_ACTIONS, [p.OFPActionGroup(1), p.OFPActionOutput(2)])',
     "000300200000000000160008000000010000001000000002ffe5000000000000",
     a.WriteActions((a.Group(1), a.Output(2)))),
    ("p.OFPInstructionActions(o.OFPIT_APPLY_ACTIONS, [p.OFPActionSetField(ipv4_dst='10.0.0.9'), p.OFPActionOutput(o.OFPP_CONTROLLER, 128)])",
     "000400280000000000190010800018040a0000090000000000000010fffffffd0080000000000000",
     a.ApplyActions((a.SetField('ipv4_dst', 0x0A000009), a.Output(OFPP_CONTROLLER, 128)))),
    ('p.OFPInstructionActions(o.OFPIT_APPLY_ACTIONS, [])',
     "0004000800000000",
     a.ApplyActions()),
    ('p.OFPInstructionActions(o.OFPIT_CLEAR_ACTIONS, [])',
     "0005000800000000",
     a.ClearActions()),
    ('p.OFPInstructionMeter(9)',
     "0006000800000009",
     a.Meter(9)),
]

ACTION_IDS = [expr for expr, _, _ in ACTION_CASES]
INSTRUCTION_IDS = [expr for expr, _, _ in INSTRUCTION_CASES]


def decode_all(data: bytes) -> tuple[a.Action, ...]:
    return v13.decode_actions(data, 0, len(data))


def decode_insts(data: bytes) -> tuple[a.Instruction, ...]:
    return v13.decode_instructions(data, 0, len(data))


def action(action_type: int, body: bytes, length: int | None = None) -> bytes:
    """A raw action: type, len (default: the true length), body."""
    return struct.pack("!HH", action_type, 4 + len(body) if length is None else length) + body


def set_field(tlv: bytes, padding: bytes | None = None) -> bytes:
    """A raw set_field action around ``tlv``, zero-padded to 8 unless told otherwise."""
    if padding is None:
        padding = bytes(-(4 + len(tlv)) % 8)
    return action(v13.OFPAT_SET_FIELD, tlv + padding)


def tlv(name: str, value: int, hasmask: bool = False, mask: int = 0) -> bytes:
    size = FIELD_BY_NAME[name].size
    out = struct.pack("!I", oxm_header(name, hasmask)) + value.to_bytes(size, "big")
    return out + (mask.to_bytes(size, "big") if hasmask else b"")


def inst(inst_type: int, body: bytes, length: int | None = None) -> bytes:
    return struct.pack("!HH", inst_type, 4 + len(body) if length is None else length) + body


def rejects(err: Err, data: bytes, instructions: bool = False) -> CodecError:
    with pytest.raises(CodecError) as info:
        (decode_insts if instructions else decode_all)(data)
    assert info.value.err is err, str(info.value)
    return info.value


# ---------------------------------------------------------------- golden bytes


@pytest.mark.parametrize(("expr", "hex_", "model"), ACTION_CASES, ids=ACTION_IDS)
def test_action_golden(expr: str, hex_: str, model: a.Action) -> None:
    data = bytes.fromhex(hex_)
    assert decode_all(data) == (model,)
    assert v13.encode_actions([model]) == data


@pytest.mark.parametrize(("expr", "hex_", "model"), INSTRUCTION_CASES, ids=INSTRUCTION_IDS)
def test_instruction_golden(expr: str, hex_: str, model: a.Instruction) -> None:
    data = bytes.fromhex(hex_)
    assert decode_insts(data) == (model,)
    assert v13.encode_instructions([model]) == data


def test_every_action_in_one_list_inside_a_larger_buffer() -> None:
    data = b"".join(bytes.fromhex(h) for _, h, _ in ACTION_CASES)
    models = tuple(m for _, _, m in ACTION_CASES)
    framed = b"\xaa" * 24 + data + b"\xbb" * 5
    assert v13.decode_actions(framed, 24, 24 + len(data)) == models
    assert v13.decode_actions(memoryview(framed), 24, 24 + len(data)) == models
    assert v13.encode_actions(models) == data


def test_instruction_list_keeps_wire_order() -> None:
    # One of each type, in an order the spec's pipeline would not run them.
    chosen = [INSTRUCTION_CASES[i] for i in (8, 0, 6, 7, 2, 4)]
    data = b"".join(bytes.fromhex(h) for _, h, _ in chosen)
    models = tuple(m for _, _, m in chosen)
    assert [type(m) for m in models] == [
        a.Meter, a.GotoTable, a.ApplyActions, a.ClearActions, a.WriteMetadata, a.WriteActions,
    ]
    assert decode_insts(data) == models
    assert v13.encode_instructions(models) == data


def test_empty_lists() -> None:
    assert v13.decode_actions(b"abc", 1, 1) == ()
    assert v13.decode_instructions(b"", 0, 0) == ()
    assert v13.encode_actions([]) == b""
    assert v13.encode_instructions([]) == b""


def test_type_tables() -> None:
    assert v13.ACTION_TYPES[a.Output] == 0
    assert v13.ACTION_TYPES[a.SetField] == 25
    assert v13.ACTION_TYPES[a.PopPbb] == 27
    assert sorted(v13.ACTION_TYPES.values()) == [0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
    assert v13.INSTRUCTION_TYPES == {
        a.GotoTable: 1, a.WriteMetadata: 2, a.WriteActions: 3, a.ApplyActions: 4,
        a.ClearActions: 5, a.Meter: 6,
    }
    # Every class the table names decodes to a wire type with that number.
    for _, hex_, model in ACTION_CASES:
        assert int(hex_[:4], 16) == v13.ACTION_TYPES[type(model)]
    for _, hex_, model in INSTRUCTION_CASES:
        assert int(hex_[:4], 16) == v13.INSTRUCTION_TYPES[type(model)]


def test_write_metadata_bits_outside_the_mask_are_kept() -> None:
    data = inst(v13.OFPIT_WRITE_METADATA, bytes(4) + struct.pack("!QQ", 0xFF, 0x0F))
    assert decode_insts(data) == (a.WriteMetadata(0xFF, 0x0F),)
    assert v13.encode_instructions([a.WriteMetadata(0xFF, 0x0F)]) == data


def test_set_field_extra_zero_padding_is_accepted() -> None:
    # 4 (action header) + 6 (eth_type TLV) = 10, padded to 24 instead of 16.
    data = set_field(tlv("tcp_dst", 22), padding=bytes(14))
    assert len(data) == 24
    assert decode_all(data) == (a.SetField("tcp_dst", 22),)


@pytest.mark.parametrize(("name", "value"), [("eth_type", 0x8848), ("ip_proto", 17),
                                             ("mpls_bos", 0)])
def test_set_field_on_protocol_fields_is_accepted(name: str, value: int) -> None:
    # OF1.3.5 table 12 lets a switch set them (OVS refuses them as read-only).
    assert decode_all(set_field(tlv(name, value))) == (a.SetField(name, value),)
    assert v13.encode_actions([a.SetField(name, value)]) == set_field(tlv(name, value))


def test_pop_mpls_takes_any_ethertype() -> None:
    assert decode_all(action(v13.OFPAT_POP_MPLS, b"\x12\x34\x00\x00")) == (a.PopMpls(0x1234),)


# ---------------------------------------------------------------- action errors


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x10",  # a header alone
        bytes.fromhex("0012000800000000") + bytes(4),  # a valid action, then 4 stray bytes
        action(v13.OFPAT_POP_VLAN, bytes(4), length=0),
        action(v13.OFPAT_POP_VLAN, bytes(4), length=4),
        action(v13.OFPAT_POP_VLAN, bytes(12), length=12),  # not a multiple of 8
        action(v13.OFPAT_POP_VLAN, bytes(4), length=16),  # past the end of the list
        action(v13.OFPAT_POP_VLAN, bytes(12)),  # 16: pop_vlan is 8
        action(v13.OFPAT_OUTPUT, struct.pack("!I", 1)),  # 8: output is 16
        action(v13.OFPAT_OUTPUT, struct.pack("!IH", 1, 0) + bytes(14)),  # 24
        action(v13.OFPAT_GROUP, struct.pack("!I", 1) + bytes(8)),  # 16: group is 8
        action(v13.OFPAT_SET_FIELD, tlv("ipv4_src", 1) + bytes(4), length=20),
    ],
    ids=["header-only", "trailing", "len0", "len4", "len12", "past-end", "pop_vlan16",
         "output8", "output24", "group16", "set_field20"],
)
def test_action_bad_len(data: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_LEN, data)
    assert err.type_code(OFP13) == (2, 1)


@pytest.mark.parametrize("action_type", [1, 2, 3, 4, 10, 13, 14, 26 + 2, 0x00FF, 0xFFFE])
def test_action_bad_type(action_type: int) -> None:
    rejects(Err.OFPBAC_BAD_TYPE, action(action_type, bytes(4)))


def test_action_type_is_judged_before_length() -> None:
    # As OVS's ofpact_decode_raw: the type decides first.
    rejects(Err.OFPBAC_BAD_TYPE, action(99, bytes(4), length=3))
    rejects(Err.OFPBAC_BAD_EXPERIMENTER, action(0xFFFF, bytes(12), length=5))


def test_experimenter_action() -> None:
    err = rejects(Err.OFPBAC_BAD_EXPERIMENTER, action(0xFFFF, struct.pack("!I", 0x00002320) + bytes(8)))
    assert err.type_code(OFP13) == (2, 2)


@pytest.mark.parametrize("port", [0, OFPP_ANY, OFPP_MAX, OFPP_MAX + 1, OFPP_IN_PORT - 1])
def test_output_bad_port(port: int) -> None:
    err = rejects(Err.OFPBAC_BAD_OUT_PORT, action(v13.OFPAT_OUTPUT, struct.pack("!IH6x", port, 0)))
    assert err.type_code(OFP13) == (2, 4)


@pytest.mark.parametrize(
    "port", [1, OFPP_MAX - 1, OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER, OFPP_LOCAL]
)
def test_output_good_port(port: int) -> None:
    assert decode_all(action(v13.OFPAT_OUTPUT, struct.pack("!IH6x", port, 7))) == (a.Output(port, 7),)


@pytest.mark.parametrize(
    ("action_type", "ethertype"),
    [
        (v13.OFPAT_PUSH_VLAN, 0x0800),
        (v13.OFPAT_PUSH_VLAN, 0x8847),
        (v13.OFPAT_PUSH_VLAN, 0x9100),
        (v13.OFPAT_PUSH_MPLS, 0x8100),
        (v13.OFPAT_PUSH_MPLS, 0x0800),
        (v13.OFPAT_PUSH_PBB, 0x8100),
        (v13.OFPAT_PUSH_PBB, 0x88A8),
    ],
)
def test_push_bad_ethertype(action_type: int, ethertype: int) -> None:
    err = rejects(Err.OFPBAC_BAD_ARGUMENT, action(action_type, struct.pack("!H2x", ethertype)))
    assert err.type_code(OFP13) == (2, 5)


# ---------------------------------------------------------------- set_field errors


@pytest.mark.parametrize(
    "tlv_bytes",
    [
        struct.pack("!IH", 0x8000_5002, 0),  # OXM_OF field 40: no such basic field
        struct.pack("!IH", 0x8000_FE02, 0),  # field 127
        struct.pack("!I", 0x0001_0004) + bytes(4),  # NXM_1 class (NXM_NX_REG0)
        struct.pack("!I", 0x0000_0002) + bytes(2),  # NXM_0 class (NXM_OF_IN_PORT)
        struct.pack("!II", 0xFFFF_0008, 0x4F4E4600) + bytes(4),  # experimenter class
        tlv("in_phy_port", 1),  # known, but OVS knows no such field to set
        tlv("ipv6_exthdr", 1),
        struct.pack("!I", 0x8000_5002),  # unknown beats a TLV running past the action
    ],
    ids=["field40", "field127", "nxm1", "nxm0", "experimenter", "in_phy_port", "ipv6_exthdr",
         "unknown-short"],
)
def test_set_field_bad_type(tlv_bytes: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_SET_TYPE, set_field(tlv_bytes))
    assert err.type_code(OFP13) == (2, 13)


@pytest.mark.parametrize(
    "data",
    [
        set_field(struct.pack("!I", 0x8000_1602) + bytes(2)),  # ipv4_src with oxm_length 2
        set_field(struct.pack("!I", 0x8000_1608) + bytes(8)),  # ipv4_src with oxm_length 8
        set_field(struct.pack("!I", 0x8000_1700)),  # ipv4_src masked, length 0
        action(v13.OFPAT_SET_FIELD, struct.pack("!I", oxm_header("ipv6_src"))),  # 8 < 4+4+16
        action(v13.OFPAT_SET_FIELD, tlv("ipv6_src", 1)[:12]),  # 16 < 24
    ],
    ids=["short-length", "long-length", "masked-zero", "past-action-8", "past-action-16"],
)
def test_set_field_bad_len(data: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_SET_LEN, data)
    assert err.type_code(OFP13) == (2, 14)


@pytest.mark.parametrize(
    "data",
    [
        set_field(tlv("ipv4_src", 0x0A000000, hasmask=True, mask=0xFF000000)),  # masked
        set_field(tlv("eth_dst", 0, hasmask=True, mask=0xFFFFFFFFFFFF)),  # masked, all-ones
        set_field(tlv("ipv4_src", 1), padding=b"\x00\x00\x01\x00"),  # padding not zero
        set_field(tlv("in_port", 1)),  # the spec forbids it
        set_field(tlv("mpls_bos", 2)),  # wider than its bit
        set_field(tlv("vlan_vid", 5)),  # no OFPVID_PRESENT
        set_field(tlv("vlan_vid", 0)),
        set_field(tlv("vlan_vid", 0x2005)),  # wider than 13 bits
        set_field(tlv("vlan_pcp", 8)),
        set_field(tlv("ip_dscp", 64)),
        set_field(tlv("ip_ecn", 4)),
        set_field(tlv("ipv6_flabel", 0x100000)),
        set_field(tlv("mpls_label", 0x100000)),
        set_field(tlv("mpls_tc", 8)),
    ],
    ids=["masked", "masked-exact", "padding", "in_port", "mpls_bos2",
         "vid-no-present", "vid-none", "vid-wide", "pcp8", "dscp64", "ecn4", "flabel", "mpls_label",
         "mpls_tc"],
)
def test_set_field_bad_argument(data: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_SET_ARGUMENT, data)
    assert err.type_code(OFP13) == (2, 15)


def test_error_inside_a_list_stops_it() -> None:
    good = bytes.fromhex(ACTION_CASES[0][1])
    rejects(Err.OFPBAC_BAD_ARGUMENT, good + action(v13.OFPAT_PUSH_VLAN, b"\x08\x00\x00\x00") + good)


@pytest.mark.parametrize(("offset", "end"), [(-1, 8), (8, 4), (0, 9)])
def test_list_outside_the_buffer(offset: int, end: int) -> None:
    data = bytes.fromhex("0012000800000000")
    with pytest.raises(CodecError) as info:
        v13.decode_actions(data, offset, end)
    assert info.value.err is Err.OFPBAC_BAD_LEN
    with pytest.raises(CodecError) as info:
        v13.decode_instructions(data, offset, end)
    assert info.value.err is Err.OFPBIC_BAD_LEN


# ---------------------------------------------------------------- instruction errors

APPLY_OUTPUT = bytes.fromhex(INSTRUCTION_CASES[5][1])  # apply-actions, 40 bytes
GOTO_3 = bytes.fromhex(INSTRUCTION_CASES[0][1])


@pytest.mark.parametrize(
    "data",
    [
        GOTO_3 + bytes(4),  # trailing bytes
        b"\x00\x01\x00\x08",  # half an instruction
        inst(v13.OFPIT_CLEAR_ACTIONS, bytes(4), length=0),
        inst(v13.OFPIT_CLEAR_ACTIONS, bytes(4), length=4),
        inst(v13.OFPIT_APPLY_ACTIONS, bytes(12), length=12),
        inst(v13.OFPIT_APPLY_ACTIONS, bytes(4), length=16),  # past the end
        inst(v13.OFPIT_GOTO_TABLE, bytes(12)),  # 16: goto_table is 8
        inst(v13.OFPIT_WRITE_METADATA, bytes(12)),  # 16: write_metadata is 24
        inst(v13.OFPIT_CLEAR_ACTIONS, bytes(12)),  # 16: clear_actions is 8
        inst(v13.OFPIT_METER, bytes(12)),  # 16: meter is 8
        inst(0xFFFF, bytes(8), length=4),  # lengths are judged before types
        inst(42, bytes(8), length=6),
    ],
    ids=["trailing", "half", "len0", "len4", "len12", "past-end", "goto16", "metadata16",
         "clear16", "meter16", "experimenter-len4", "unknown-len6"],
)
def test_instruction_bad_len(data: bytes) -> None:
    err = rejects(Err.OFPBIC_BAD_LEN, data, instructions=True)
    assert err.type_code(OFP13) == (3, 7)


@pytest.mark.parametrize("inst_type", [0, 7, 8, 0x00FF, 0xFFFE])
def test_instruction_unknown(inst_type: int) -> None:
    err = rejects(Err.OFPBIC_UNKNOWN_INST, GOTO_3 + inst(inst_type, bytes(4)), instructions=True)
    assert err.type_code(OFP13) == (3, 0)


def test_instruction_experimenter() -> None:
    err = rejects(Err.OFPBIC_BAD_EXPERIMENTER, inst(0xFFFF, struct.pack("!I", 0x00002320)), instructions=True)
    assert err.type_code(OFP13) == (3, 5)


@pytest.mark.parametrize("index", range(len(INSTRUCTION_CASES)), ids=INSTRUCTION_IDS)
def test_instruction_duplicate(index: int) -> None:
    one = bytes.fromhex(INSTRUCTION_CASES[index][1])
    other = bytes.fromhex(INSTRUCTION_CASES[8 if index != 8 else 0][1])  # meter, or goto_table
    rejects(Err.OFPBIC_DUP_INST, one + one, instructions=True)
    err = rejects(Err.OFPBIC_DUP_INST, one + other + one, instructions=True)
    # OF1.3 has no DUP_INST (OF1.4's (3,9)): it goes out as OFPBIC_UNSUP_INST.
    assert err.type_code(OFP13) == (3, 1)


def test_duplicate_found_before_errors_inside_actions() -> None:
    bad_apply = inst(v13.OFPIT_APPLY_ACTIONS, bytes(4) + action(v13.OFPAT_OUTPUT, struct.pack("!IH6x", 0, 0)))
    rejects(Err.OFPBIC_DUP_INST, bad_apply + APPLY_OUTPUT, instructions=True)
    rejects(Err.OFPBAC_BAD_OUT_PORT, bad_apply, instructions=True)


def test_goto_table_all() -> None:
    err = rejects(Err.OFPBIC_BAD_TABLE_ID, inst(v13.OFPIT_GOTO_TABLE, b"\xff\x00\x00\x00"), instructions=True)
    assert err.type_code(OFP13) == (3, 2)


@pytest.mark.parametrize("inst_type", [v13.OFPIT_APPLY_ACTIONS, v13.OFPIT_WRITE_ACTIONS])
@pytest.mark.parametrize(
    ("actions_bytes", "err"),
    [
        (action(v13.OFPAT_OUTPUT, struct.pack("!IH6x", OFPP_ANY, 0)), Err.OFPBAC_BAD_OUT_PORT),
        (set_field(tlv("ipv4_src", 1, hasmask=True, mask=1)), Err.OFPBAC_BAD_SET_ARGUMENT),
        (action(77, bytes(4)), Err.OFPBAC_BAD_TYPE),
        (bytes.fromhex("0012000800000000") + action(v13.OFPAT_POP_VLAN, bytes(4), length=16),
         Err.OFPBAC_BAD_LEN),  # the second action runs past its instruction
    ],
    ids=["out-port", "set-mask", "type", "len"],
)
def test_errors_inside_nested_actions_propagate(inst_type: int, actions_bytes: bytes, err: Err) -> None:
    rejects(err, GOTO_3 + inst(inst_type, bytes(4) + actions_bytes), instructions=True)


# ---------------------------------------------------------------- encode errors


@pytest.mark.parametrize(
    "model",
    [a.SetVlanVid(5), a.SetVlanPcp(1), a.SetTpSrc(80), a.SetTpDst(80), a.Enqueue(1, 2)],
    ids=lambda m: type(m).__name__,
)
def test_encode_of10_only_actions(model: a.Action) -> None:
    assert type(model) not in v13.ACTION_TYPES
    with pytest.raises(ValueError, match="no OpenFlow 1.3 form"):
        v13.encode_actions([a.Output(1), model])


@pytest.mark.parametrize(
    "model",
    [
        a.Output(1 << 32),
        a.Output(-1),
        a.Output(1, 0x10000),
        a.Group(1 << 32),
        a.SetMplsTtl(256),
        a.PushVlan(0x10000),
        a.SetField("no_such_field", 1),
        a.SetField("ipv4_src", 1 << 32),
        a.SetField("vlan_pcp", 8),
        a.SetField("eth_dst", -1),
    ],
    ids=repr,
)
def test_encode_unrepresentable_action(model: a.Action) -> None:
    with pytest.raises(ValueError):
        v13.encode_actions([model])


@pytest.mark.parametrize(
    "model",
    [
        a.GotoTable(256),
        a.Meter(1 << 32),
        a.WriteMetadata(1 << 64),
        a.WriteMetadata(0, -1),
        a.ApplyActions((a.SetVlanVid(1),)),
        a.WriteActions((a.Output(1),) * 4096),  # 8 + 65536 bytes
        a.Output(1),  # an action is not an instruction
    ],
    ids=lambda m: type(m).__name__,
)
def test_encode_unrepresentable_instruction(model: a.Instruction) -> None:
    with pytest.raises(ValueError):
        v13.encode_instructions([model])


# ---------------------------------------------------------------- round trips

RESERVED_OUTPUTS = [OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER, OFPP_LOCAL]
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, (1 << 64) - 1)


@st.composite
def set_fields(draw: st.DrawFn) -> a.SetField:
    name = draw(st.sampled_from(sorted(v13.SETTABLE_FIELDS)))
    value = draw(st.integers(0, FIELD_BY_NAME[name].full_mask))
    if name == "vlan_vid":
        value |= OFPVID_PRESENT
    return a.SetField(name, value)


ACTIONS = st.one_of(
    st.builds(a.Output, st.one_of(st.integers(1, OFPP_MAX - 1), st.sampled_from(RESERVED_OUTPUTS)), u16),
    st.builds(a.Group, u32),
    st.builds(a.SetQueue, u32),
    st.builds(a.SetMplsTtl, u8),
    st.builds(a.SetNwTtl, u8),
    st.builds(a.PushVlan, st.sampled_from(v13.ETH_TYPE_VLAN)),
    st.builds(a.PushMpls, st.sampled_from(v13.ETH_TYPE_MPLS)),
    st.builds(a.PopMpls, u16),
    st.builds(a.PushPbb, st.sampled_from(v13.ETH_TYPE_PBB)),
    st.sampled_from([a.PopVlan(), a.PopPbb(), a.CopyTtlOut(), a.CopyTtlIn(), a.DecMplsTtl(), a.DecNwTtl()]),
    set_fields(),
)
ACTION_LISTS = st.lists(ACTIONS, max_size=8).map(tuple)

INSTRUCTIONS = {
    a.GotoTable: st.builds(a.GotoTable, st.integers(0, 0xFE)),
    a.WriteMetadata: st.builds(a.WriteMetadata, u64, u64),
    a.WriteActions: st.builds(a.WriteActions, ACTION_LISTS),
    a.ApplyActions: st.builds(a.ApplyActions, ACTION_LISTS),
    a.ClearActions: st.just(a.ClearActions()),
    a.Meter: st.builds(a.Meter, u32),
}


@st.composite
def instruction_lists(draw: st.DrawFn) -> tuple[a.Instruction, ...]:
    kinds = draw(st.permutations(list(INSTRUCTIONS)))
    count = draw(st.integers(0, len(kinds)))
    return tuple(draw(INSTRUCTIONS[kind]) for kind in kinds[:count])


@given(ACTION_LISTS)
def test_action_round_trip(actions: tuple[a.Action, ...]) -> None:
    data = v13.encode_actions(actions)
    assert len(data) % 8 == 0
    assert decode_all(data) == actions


@given(instruction_lists())
def test_instruction_round_trip(instructions: tuple[a.Instruction, ...]) -> None:
    data = v13.encode_instructions(instructions)
    assert decode_insts(data) == instructions
    assert v13.encode_instructions(decode_insts(data)) == data


@pytest.mark.parametrize("kind", list(INSTRUCTIONS), ids=lambda k: k.__name__)
@given(data=st.data())
def test_every_instruction_class_round_trips(kind: type, data: st.DataObject) -> None:
    model = data.draw(INSTRUCTIONS[kind])
    assert decode_insts(v13.encode_instructions([model])) == (model,)


# ---------------------------------------------------------------- robustness

ROUNDS = 20_000


def _noise(rng: random.Random, seeds: list[bytes], instructions: bool) -> bytes:
    choice = rng.random()
    if choice < 0.3:
        return rng.randbytes(rng.randrange(0, 64))
    if choice < 0.6:  # a plausible header with a random body
        kind = rng.choice(range(8) if instructions else range(30))
        if rng.random() < 0.1:
            kind = 0xFFFF
        size = rng.choice((8, 16, 24, 32, rng.randrange(0, 48)))
        return struct.pack("!HH", kind, rng.choice((size, size, rng.randrange(0x10000)))) + rng.randbytes(
            max(0, size - 4)
        )
    data = bytearray(rng.choice(seeds))  # a valid list with a few bytes changed
    for _ in range(rng.randrange(1, 4)):
        pos = rng.randrange(len(data))
        data[pos] = rng.choice((0, 0xFF, rng.randrange(256), data[pos] ^ (1 << rng.randrange(8))))
    if rng.random() < 0.2:
        data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


@pytest.mark.parametrize("instructions", [False, True], ids=["actions", "instructions"])
def test_random_bytes_raise_only_codec_errors(instructions: bool) -> None:
    rng = random.Random(0xAC7 + instructions)
    if instructions:
        seeds = [bytes.fromhex(h) for _, h, _ in INSTRUCTION_CASES]
        seeds.append(b"".join(seeds[i] for i in (0, 2, 4, 7, 8)))
        decode = v13.decode_instructions
    else:
        seeds = [bytes.fromhex(h) for _, h, _ in ACTION_CASES]
        seeds.append(b"".join(seeds[:10]))
        decode = v13.decode_actions
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(ROUNDS):
        data = _noise(rng, seeds, instructions)
        try:
            decoded = decode(data, 0, len(data))
        except CodecError as exc:
            exc.type_code(OFP13)  # a real OF1.3 error
            outcomes["rejected"] += 1
        else:
            outcomes["decoded"] += 1
            encode = v13.encode_instructions if instructions else v13.encode_actions
            assert decode(encode(decoded), 0, len(encode(decoded))) == decoded
    assert outcomes["decoded"] > ROUNDS // 50 and outcomes["rejected"] > ROUNDS // 2, outcomes
