"""The version-independent match model (openflow.match)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openflow.match import Match, MatchField, wildcards_all
from openflow.oxm import FIELD_BY_NAME, OXM_FIELDS


def test_build_canonical_order_and_equality():
    a = Match.build(tcp_dst=80, ip_proto=6, eth_type=0x800, in_port=1,
                    ipv4_dst=(0x0A000000, 0xFFFFFF00))
    b = Match.build(in_port=1, eth_type=0x800, ipv4_dst=(0x0A000000, 0xFFFFFF00), ip_proto=6,
                    tcp_dst=80)
    assert a == b and hash(a) == hash(b)
    assert [f.name for f in a] == ["in_port", "eth_type", "ip_proto", "ipv4_dst", "tcp_dst"]
    assert a.fields == (
        MatchField("in_port", 1),
        MatchField("eth_type", 0x800),
        MatchField("ip_proto", 6),
        MatchField("ipv4_dst", 0x0A000000, 0xFFFFFF00),
        MatchField("tcp_dst", 80),
    )
    assert {a: "flow"}[b] == "flow"


def test_canonical_order_is_oxm_code_order_for_all_fields():
    fields = [MatchField(f.name, 0) for f in reversed(OXM_FIELDS)]
    assert [f.name for f in Match.from_fields(fields)] == [f.name for f in OXM_FIELDS]


def test_mask_normalization():
    m = Match.build(eth_dst=(0xFFFFFFFFFFFF, 0xFFFFFFFFFFFF), ipv4_src=(0x0A0000FF, 0xFFFFFF00),
                    metadata=(5, 0), vlan_vid=(0x1005, 0x1FFF))
    assert m.get("eth_dst") == MatchField("eth_dst", 0xFFFFFFFFFFFF, None)
    assert m.get("ipv4_src") == MatchField("ipv4_src", 0x0A000000, 0xFFFFFF00)
    assert "metadata" not in m  # zero mask = wildcard
    assert m.get("vlan_vid") == MatchField("vlan_vid", 0x1005)  # 13 bits of ones = exact
    assert Match.build(in_port=(3, None)) == Match.build(in_port=3)


def test_from_fields_accepts_fieldnames_and_tuples():
    m = Match.from_fields([("ipv4_src", 1, 0xFF), MatchField("eth_type", 0x800), ("in_port", 2)])
    assert m.to_dict() == {"in_port": 2, "eth_type": 0x800, "ipv4_src": (1, 0xFF)}
    assert Match.from_fields([]) is not None and not Match.from_fields([])


@pytest.mark.parametrize("fields", [
    [("in_port", 1), ("in_port", 2)],
    [("in_port", 1), MatchField("in_port", 1)],
    [("no_such_field", 1)],
    [("nw_src", 1)],  # OF1.0 name, not an OXM name
    [("vlan_vid", 0x2000)],
    [("vlan_pcp", 8)],
    [("ip_dscp", 64)],
    [("in_port", -1)],
    [("in_port", 1 << 32)],
    [("eth_dst", 1, 1 << 48)],
    [("eth_dst", 1, -1)],
    [("in_port", "1")],
    [("in_port",)],
    [("in_port", 1, None, 4)],
])
def test_from_fields_rejects(fields):
    with pytest.raises(ValueError):
        Match.from_fields(fields)


def test_build_rejects():
    with pytest.raises(ValueError):
        Match.build(in_port=(1, 2, 3))
    with pytest.raises(ValueError):
        Match.build(bogus=1)


def test_direct_constructor_canonicalizes():
    m = Match((MatchField("ipv4_src", 0x0A000001, 0xFFFF0000), MatchField("eth_type", 0x800)))
    assert m.fields == (MatchField("eth_type", 0x800), MatchField("ipv4_src", 0x0A000000, 0xFFFF0000))
    assert m == Match.build(eth_type=0x800, ipv4_src=(0x0A000000, 0xFFFF0000))
    with pytest.raises(ValueError):
        Match((MatchField("in_port", 1), MatchField("in_port", 1)))
    assert dataclasses.replace(m, fields=(("in_port", 4),)) == Match.build(in_port=4)


def test_accessors():
    m = Match.build(in_port=1, eth_type=0x800, ipv4_src=(0x0A000000, 0xFF000000))
    assert m.get("ipv4_src") == MatchField("ipv4_src", 0x0A000000, 0xFF000000)
    assert m.get("ipv4_dst") is None
    assert m.value("in_port") == 1
    assert m.value("ipv4_src") == 0x0A000000
    assert m.value("tcp_src") is None and m.value("tcp_src", 7) == 7
    assert "eth_type" in m and "eth_src" not in m and 5 not in m
    assert len(m) == 3 and bool(m)
    assert list(m) == list(m.fields)
    assert m.names == ("in_port", "eth_type", "ipv4_src")
    assert m.to_dict() == {"in_port": 1, "eth_type": 0x800, "ipv4_src": (0x0A000000, 0xFF000000)}
    assert Match.build(**m.to_dict()) == m


def test_wildcards_all():
    assert wildcards_all == Match() == Match.build() == Match.from_fields(())
    assert not wildcards_all and len(wildcards_all) == 0 and list(wildcards_all) == []
    assert wildcards_all.to_dict() == {}


def test_replace_and_without():
    m = Match.build(in_port=1, eth_type=0x800, ip_proto=6, tcp_dst=80)
    assert m.replace(tcp_dst=443).value("tcp_dst") == 443
    assert m.replace(eth_src=5).fields[1] == MatchField("eth_src", 5)  # inserted in order
    assert m.replace(ipv4_dst=(0x0A0000FF, 0xFFFFFF00)).get("ipv4_dst") == MatchField(
        "ipv4_dst", 0x0A000000, 0xFFFFFF00)
    assert m.replace(tcp_dst=None) == Match.build(in_port=1, eth_type=0x800, ip_proto=6)
    assert m.without("tcp_dst", "ip_proto", "not_there") == Match.build(in_port=1, eth_type=0x800)
    assert m == Match.build(in_port=1, eth_type=0x800, ip_proto=6, tcp_dst=80)  # unchanged
    with pytest.raises(ValueError):
        m.replace(in_port=1 << 40)


def test_frozen_and_slotted():
    m = Match.build(in_port=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.fields = ()  # type: ignore[misc]
    assert not hasattr(m, "__dict__")


def test_repr_is_readable():
    assert repr(Match.build(in_port=1, ipv4_src=(0x0A000000, 0xFF000000))) == (
        "Match(in_port=0x1, ipv4_src=0xa000000/0xff000000)")


def test_from_sorted_is_trusted_and_equal():
    fields = (MatchField("in_port", 1), MatchField("eth_type", 0x800))
    assert Match._from_sorted(fields) == Match.from_fields(reversed(fields))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_from_fields_is_order_independent_and_idempotent(data):
    infos = data.draw(st.lists(st.sampled_from(OXM_FIELDS), unique=True, max_size=10))
    fields = []
    for info in infos:
        full = (1 << info.bits) - 1
        value = data.draw(st.integers(0, full))
        mask = data.draw(st.one_of(st.none(), st.integers(0, full)))
        fields.append((info.name, value, mask))
    m = Match.from_fields(fields)
    shuffled = data.draw(st.permutations(fields))
    assert Match.from_fields(shuffled) == m
    assert Match.from_fields(m.fields) == m
    assert Match.build(**m.to_dict()) == m
    for f in m:
        full = (1 << FIELD_BY_NAME[f.name].bits) - 1
        assert f.mask is None or (0 < f.mask < full and f.value & ~f.mask == 0)
