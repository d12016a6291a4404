"""OF1.0 action codec (openflow.v10_actions).

Golden bytes come from Ryu 4.34 (an independent implementation), generated with
/work/main/.ryu-venv/bin/python by serializing each Ryu object on its own:

    from ryu.ofproto import ofproto_v1_0 as o, ofproto_v1_0_parser as p
    buf = bytearray(); <expression>.serialize(buf, 0); print(bytes(buf).hex())

The expressions sit next to their bytes; tests/crosscheck/test_actions_ryu.py
re-runs them through live Ryu (inside PACKET_OUT / FLOW_MOD messages) and checks
these very bytes.  Error cases are hand-built bytes with the error code OVS (its
lib/ofp-actions.c) returns for them; see the module docstring of v10_actions.
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow import actions as a
from openflow import v10_actions as v10
from openflow.consts import (
    OFP10,
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
from openflow.errors import CodecError, Err, code_name

# (Ryu 4.34 expression, its serialization, the model it means)
ACTION_CASES = [
    ('p.OFPActionOutput(1, 0)',
     "0000000800010000",
     a.Output(1, 0)),
    ('p.OFPActionOutput(0xfeff, 64)',
     "00000008feff0040",
     a.Output(0xFEFF, 64)),
    ('p.OFPActionOutput(o.OFPP_IN_PORT)',
     "00000008fff8ffe5",
     a.Output(OFPP_IN_PORT)),
    ('p.OFPActionOutput(o.OFPP_TABLE)',
     "00000008fff9ffe5",
     a.Output(OFPP_TABLE)),
    ('p.OFPActionOutput(o.OFPP_NORMAL)',
     "00000008fffaffe5",
     a.Output(OFPP_NORMAL)),
    ('p.OFPActionOutput(o.OFPP_FLOOD)',
     "00000008fffbffe5",
     a.Output(OFPP_FLOOD)),
    ('p.OFPActionOutput(o.OFPP_ALL)',
     "00000008fffcffe5",
     a.Output(OFPP_ALL)),
    ('p.OFPActionOutput(o.OFPP_CONTROLLER, 0xffff)',
     "00000008fffdffff",
     a.Output(OFPP_CONTROLLER, 0xFFFF)),
    ('p.OFPActionOutput(o.OFPP_LOCAL)',
     "00000008fffeffe5",
     a.Output(OFPP_LOCAL)),
    ('p.OFPActionVlanVid(5)',
     "0001000800050000",
     a.SetVlanVid(5)),
    ('p.OFPActionVlanVid(0xfff)',
     "000100080fff0000",
     a.SetVlanVid(0xFFF)),
    ('p.OFPActionVlanPcp(7)',
     "0002000807000000",
     a.SetVlanPcp(7)),
    ('p.OFPActionStripVlan()',
     "0003000800000000",
     a.PopVlan()),
    ("p.OFPActionSetDlSrc('00:11:22:33:44:55')",
     "00040010001122334455000000000000",
     a.SetField('eth_src', 0x001122334455)),
    ("p.OFPActionSetDlDst('fa:c8:e8:76:1d:7e')",
     "00050010fac8e8761d7e000000000000",
     a.SetField('eth_dst', 0xFAC8E8761D7E)),
    ("p.OFPActionSetNwSrc('10.0.0.1')",
     "000600080a000001",
     a.SetField('ipv4_src', 0x0A000001)),
    ("p.OFPActionSetNwDst('192.168.1.254')",
     "00070008c0a801fe",
     a.SetField('ipv4_dst', 0xC0A801FE)),
    ('p.OFPActionSetNwTos(0xb8)',
     "00080008b8000000",
     a.SetField('ip_dscp', 46)),
    ('p.OFPActionSetTpSrc(80)',
     "0009000800500000",
     a.SetTpSrc(80)),
    ('p.OFPActionSetTpDst(443)',
     "000a000801bb0000",
     a.SetTpDst(443)),
    ('p.OFPActionEnqueue(2, 5)',
     "000b0010000200000000000000000005",
     a.Enqueue(2, 5)),
    ('p.OFPActionEnqueue(o.OFPP_IN_PORT, 0xffffffff)',
     "000b0010fff8000000000000ffffffff",
     a.Enqueue(OFPP_IN_PORT, 0xFFFFFFFF)),
    ('p.OFPActionEnqueue(o.OFPP_LOCAL, 1)',
     "000b0010fffe00000000000000000001",
     a.Enqueue(OFPP_LOCAL, 1)),
]

ACTION_IDS = [expr for expr, _, _ in ACTION_CASES]


def decode_all(data: bytes) -> tuple[a.Action, ...]:
    return v10.decode_actions(data, 0, len(data))


def action(action_type: int, body: bytes, length: int | None = None) -> bytes:
    return struct.pack("!HH", action_type, 4 + len(body) if length is None else length) + body


def rejects(err: Err, data: bytes) -> CodecError:
    with pytest.raises(CodecError) as info:
        decode_all(data)
    assert info.value.err is err, str(info.value)
    return info.value


# ---------------------------------------------------------------- golden bytes


@pytest.mark.parametrize(("expr", "hex_", "model"), ACTION_CASES, ids=ACTION_IDS)
def test_action_golden(expr: str, hex_: str, model: a.Action) -> None:
    data = bytes.fromhex(hex_)
    assert decode_all(data) == (model,)
    assert v10.encode_actions([model]) == data


def test_every_action_in_one_list_inside_a_larger_buffer() -> None:
    data = b"".join(bytes.fromhex(h) for _, h, _ in ACTION_CASES)
    models = tuple(m for _, _, m in ACTION_CASES)
    framed = b"\xaa" * 16 + data + b"\xbb" * 3
    assert v10.decode_actions(framed, 16, 16 + len(data)) == models
    assert v10.decode_actions(memoryview(framed), 16, 16 + len(data)) == models
    assert v10.encode_actions(models) == data


def test_empty_list() -> None:
    assert v10.decode_actions(b"xyz", 3, 3) == ()
    assert v10.encode_actions(()) == b""


def test_type_tables() -> None:
    assert v10.ACTION_TYPES == {
        a.Output: 0, a.SetVlanVid: 1, a.SetVlanPcp: 2, a.PopVlan: 3, a.SetTpSrc: 9,
        a.SetTpDst: 10, a.Enqueue: 11,
    }
    assert v10.SET_FIELD_TYPES == {"eth_src": 4, "eth_dst": 5, "ipv4_src": 6, "ipv4_dst": 7, "ip_dscp": 8}
    for _, hex_, model in ACTION_CASES:
        expected = (
            v10.SET_FIELD_TYPES[model.field] if isinstance(model, a.SetField) else v10.ACTION_TYPES[type(model)]
        )
        assert int(hex_[:4], 16) == expected


def test_set_nw_tos_keeps_only_the_dscp() -> None:
    assert decode_all(action(v10.OFPAT_SET_NW_TOS, b"\xfc\x00\x00\x00")) == (a.SetField("ip_dscp", 63),)
    assert decode_all(action(v10.OFPAT_SET_NW_TOS, bytes(4))) == (a.SetField("ip_dscp", 0),)
    assert v10.encode_actions([a.SetField("ip_dscp", 63)]) == action(v10.OFPAT_SET_NW_TOS, b"\xfc\x00\x00\x00")


def test_ports_widen_and_narrow() -> None:
    # OF1.0's 0xfff8..0xffff are the model's 0xfffffff8..0xffffffff.
    data = action(v10.OFPAT_OUTPUT, struct.pack("!HH", 0xFFFD, 128))
    assert decode_all(data) == (a.Output(OFPP_CONTROLLER, 128),)
    assert v10.encode_actions([a.Output(OFPP_CONTROLLER, 128)]) == data
    # The last physical OF1.0 port stays as it is; OF1.0's OFPP_MAX is the model's.
    assert decode_all(action(v10.OFPAT_OUTPUT, struct.pack("!HH", 0xFEFF, 0))) == (a.Output(0xFEFF, 0),)
    assert v10.encode_actions([a.Enqueue(OFPP_MAX, 1)])[4:6] == b"\xff\x00"


# ---------------------------------------------------------------- decode errors


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x08",  # half an action
        bytes.fromhex("0003000800000000") + bytes(4),  # trailing bytes
        action(v10.OFPAT_STRIP_VLAN, bytes(4), length=0),
        action(v10.OFPAT_STRIP_VLAN, bytes(4), length=4),
        action(v10.OFPAT_STRIP_VLAN, bytes(8), length=12),
        action(v10.OFPAT_STRIP_VLAN, bytes(4), length=16),  # past the end
        action(v10.OFPAT_OUTPUT, bytes(12)),  # 16: output is 8
        action(v10.OFPAT_SET_DL_SRC, bytes(4)),  # 8: set_dl_src is 16
        action(v10.OFPAT_SET_DL_DST, bytes(20)),  # 24
        action(v10.OFPAT_SET_NW_SRC, bytes(12)),  # 16: set_nw_src is 8
        action(v10.OFPAT_ENQUEUE, bytes(4)),  # 8: enqueue is 16
    ],
    ids=["half", "trailing", "len0", "len4", "len12", "past-end", "output16", "dl_src8", "dl_dst24",
         "nw_src16", "enqueue8"],
)
def test_bad_len(data: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_LEN, data)
    assert err.type_code(OFP10) == (2, 1)


@pytest.mark.parametrize("action_type", [12, 13, 17, 25, 0x00FF, 0xFFFE])
def test_bad_type(action_type: int) -> None:
    err = rejects(Err.OFPBAC_BAD_TYPE, action(action_type, bytes(4)))
    assert err.type_code(OFP10) == (2, 0)


def test_vendor_action() -> None:
    err = rejects(Err.OFPBAC_BAD_VENDOR, action(v10.OFPAT_VENDOR, struct.pack("!I", 0x00002320) + bytes(8)))
    assert err.err is Err.OFPBAC_BAD_EXPERIMENTER
    assert err.type_code(OFP10) == (2, 2)
    assert code_name(OFP10, 2, 2) == "OFPBAC_BAD_VENDOR"
    # The type is judged before the length, as in OVS.
    rejects(Err.OFPBAC_BAD_VENDOR, action(v10.OFPAT_VENDOR, bytes(4), length=3))


@pytest.mark.parametrize(
    "data",
    [
        action(v10.OFPAT_SET_VLAN_VID, b"\x10\x00\x00\x00"),
        action(v10.OFPAT_SET_VLAN_VID, b"\xff\xff\x00\x00"),
        action(v10.OFPAT_SET_VLAN_PCP, b"\x08\x00\x00\x00"),
        action(v10.OFPAT_SET_VLAN_PCP, b"\xff\x00\x00\x00"),
        action(v10.OFPAT_SET_NW_TOS, b"\x29\x00\x00\x00"),  # ECN bit 0
        action(v10.OFPAT_SET_NW_TOS, b"\xfe\x00\x00\x00"),  # ECN bit 1
    ],
    ids=["vid-0x1000", "vid-0xffff", "pcp8", "pcp255", "tos-ecn0", "tos-ecn1"],
)
def test_bad_argument(data: bytes) -> None:
    err = rejects(Err.OFPBAC_BAD_ARGUMENT, data)
    assert err.type_code(OFP10) == (2, 5)


@pytest.mark.parametrize("port", [0, 0xFFFF, 0xFF00, 0xFF01, 0xFFF7])
def test_output_bad_port(port: int) -> None:
    err = rejects(Err.OFPBAC_BAD_OUT_PORT, action(v10.OFPAT_OUTPUT, struct.pack("!HH", port, 0)))
    assert err.type_code(OFP10) == (2, 4)


@pytest.mark.parametrize("port", [0, 0xFF00, 0xFFF7, 0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC, 0xFFFD, 0xFFFF])
def test_enqueue_bad_port(port: int) -> None:
    rejects(Err.OFPBAC_BAD_OUT_PORT, action(v10.OFPAT_ENQUEUE, struct.pack("!H6xI", port, 1)))


@pytest.mark.parametrize(("offset", "end"), [(-1, 8), (8, 0), (0, 9)])
def test_list_outside_the_buffer(offset: int, end: int) -> None:
    with pytest.raises(CodecError) as info:
        v10.decode_actions(bytes.fromhex("0003000800000000"), offset, end)
    assert info.value.err is Err.OFPBAC_BAD_LEN


def test_error_inside_a_list_stops_it() -> None:
    good = bytes.fromhex(ACTION_CASES[0][1])
    rejects(Err.OFPBAC_BAD_OUT_PORT, good + action(v10.OFPAT_OUTPUT, struct.pack("!HH", 0xFFFF, 0)) + good)


# ---------------------------------------------------------------- encode errors


@pytest.mark.parametrize(
    "model",
    [
        a.Group(1),
        a.SetQueue(1),
        a.PushVlan(),
        a.PushMpls(),
        a.PopMpls(),
        a.PushPbb(),
        a.PopPbb(),
        a.CopyTtlOut(),
        a.CopyTtlIn(),
        a.SetMplsTtl(1),
        a.DecMplsTtl(),
        a.SetNwTtl(1),
        a.DecNwTtl(),
        a.SetField("vlan_vid", OFPVID_PRESENT | 5),  # rewrites a tag; set_vlan_vid pushes one
        a.SetField("vlan_pcp", 1),
        a.SetField("tcp_src", 80),  # set_tp_src is TCP *or* UDP
        a.SetField("udp_dst", 53),
        a.SetField("ip_ecn", 1),
        a.SetField("ipv6_src", 1),
        a.SetField("metadata", 1),
    ],
    ids=repr,
)
def test_encode_no_of10_form(model: a.Action) -> None:
    with pytest.raises(ValueError, match="OpenFlow 1.0 form"):
        v10.encode_actions([a.Output(1), model])


@pytest.mark.parametrize(
    "model",
    [
        a.Output(0xFF00),  # a 32-bit port number OF1.0 cannot carry
        a.Output(0x10000),
        a.Output(1 << 32),
        a.Output(-1),
        a.Output(1, 0x10000),
        a.Enqueue(0x10000, 1),
        a.Enqueue(1, 1 << 32),
        a.SetVlanVid(0x1000),
        a.SetVlanVid(-1),
        a.SetVlanPcp(8),
        a.SetTpSrc(0x10000),
        a.SetTpDst(-1),
        a.SetField("eth_src", 1 << 48),
        a.SetField("eth_dst", -1),
        a.SetField("ipv4_src", 1 << 32),
        a.SetField("ip_dscp", 64),
    ],
    ids=repr,
)
def test_encode_out_of_range(model: a.Action) -> None:
    with pytest.raises(ValueError):
        v10.encode_actions([model])


# ---------------------------------------------------------------- round trips

RESERVED = [OFPP_IN_PORT, OFPP_TABLE, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER, OFPP_LOCAL]
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
physical = st.integers(1, 0xFEFF)

ACTIONS = st.one_of(
    st.builds(a.Output, st.one_of(physical, st.sampled_from(RESERVED)), u16),
    st.builds(a.SetVlanVid, st.integers(0, 0xFFF)),
    st.builds(a.SetVlanPcp, st.integers(0, 7)),
    st.just(a.PopVlan()),
    st.builds(a.SetField, st.sampled_from(["eth_src", "eth_dst"]), st.integers(0, (1 << 48) - 1)),
    st.builds(a.SetField, st.sampled_from(["ipv4_src", "ipv4_dst"]), u32),
    st.builds(a.SetField, st.just("ip_dscp"), st.integers(0, 63)),
    st.builds(a.SetTpSrc, u16),
    st.builds(a.SetTpDst, u16),
    st.builds(a.Enqueue, st.one_of(physical, st.sampled_from([OFPP_IN_PORT, OFPP_LOCAL])), u32),
)


@given(st.lists(ACTIONS, max_size=10).map(tuple))
def test_round_trip(actions: tuple[a.Action, ...]) -> None:
    data = v10.encode_actions(actions)
    assert len(data) % 8 == 0
    assert decode_all(data) == actions


def test_output_any_encodes_as_none() -> None:
    # OFPP_ANY is OF1.0's OFPP_NONE: it can be written (e.g. in a flow-stats
    # request's out_port) even though an output action may not use it.
    assert v10.encode_actions([a.Output(OFPP_ANY, 0)]) == action(v10.OFPAT_OUTPUT, b"\xff\xff\x00\x00")


# ---------------------------------------------------------------- robustness

ROUNDS = 20_000


def test_random_bytes_raise_only_codec_errors() -> None:
    rng = random.Random(0xAC10)
    seeds = [bytes.fromhex(h) for _, h, _ in ACTION_CASES]
    seeds.append(b"".join(seeds))
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(ROUNDS):
        choice = rng.random()
        if choice < 0.3:
            data = rng.randbytes(rng.randrange(0, 48))
        elif choice < 0.6:
            kind = rng.randrange(14) if rng.random() < 0.9 else 0xFFFF
            size = rng.choice((8, 16, rng.randrange(0, 32)))
            length = size if rng.random() < 0.7 else rng.randrange(0x10000)
            data = struct.pack("!HH", kind, length) + rng.randbytes(max(0, size - 4))
        else:
            buf = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                pos = rng.randrange(len(buf))
                buf[pos] = rng.choice((0, 0xFF, rng.randrange(256), buf[pos] ^ (1 << rng.randrange(8))))
            if rng.random() < 0.2:
                buf = buf[: rng.randrange(len(buf) + 1)]
            data = bytes(buf)
        try:
            decoded = decode_all(data)
        except CodecError as exc:
            exc.type_code(OFP10)  # a real OF1.0 error
            outcomes["rejected"] += 1
        else:
            outcomes["decoded"] += 1
            assert decode_all(v10.encode_actions(decoded)) == decoded
    assert outcomes["decoded"] > ROUNDS // 50 and outcomes["rejected"] > ROUNDS // 2, outcomes
