"""OpenFlow flow table semantics: FLOW_MOD add/modify/delete, filters, timeouts, errors."""

from __future__ import annotations

import dataclasses

import pytest

from datapath.flow import extract
from openflow.actions import GotoTable
from openflow.consts import (
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT,
    OFPFF_CHECK_OVERLAP,
    OFPFF_EMERG,
    OFPFF_NO_PKT_COUNTS,
    OFPFF_RESET_COUNTS,
    OFPRR_DELETE,
    OFPRR_GROUP_DELETE,
    OFPRR_HARD_TIMEOUT,
    OFPRR_IDLE_TIMEOUT,
    OFPRR_METER_DELETE,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_flow, parse_match
from switch_agent.flowtable import OFP10, OFP13, FlowTables
from tests.unit.test_dpif import udp_frame


def fm(text: str, command: int = 0, **changes):
    flow = parse_flow(text, command=command, version=OFP13)
    return dataclasses.replace(flow, **changes) if changes else flow


def add(tables: FlowTables, text: str, version: int = OFP13, now: float = 0.0, **changes):
    return tables.flow_mod(fm(text, **changes), version, now)


def hit(tables: FlowTables, frame: bytes, in_port: int = 1, table_id: int = 0):
    rule, _ = tables.lookup(table_id, extract(frame, in_port))
    return rule


def dump(tables: FlowTables) -> list[tuple[int, int, str]]:
    return sorted((r.table_id, r.priority, repr(r.match)) for r in tables)


@pytest.fixture
def tables():
    return FlowTables(n_tables=4, max_flows=10)


def test_add_lookup_priority_and_replace(tables):
    add(tables, "priority=10,in_port=1,actions=output:2")
    add(tables, "priority=20,udp,actions=output:3", cookie=7)
    rule = hit(tables, udp_frame())
    assert (rule.priority, rule.cookie) == (20, 7)
    assert hit(tables, udp_frame(), in_port=2).priority == 20
    assert hit(tables, udp_frame()[:14] + b"\0" * 40) .priority == 10  # not IPv4/UDP
    # identical match+priority: replaced, counters kept on OF1.3, no FLOW_REMOVED
    rule.credit(5, 500, 1.0)
    result = add(tables, "priority=20,udp,actions=drop", cookie=8)
    assert result.replaced == [rule] and not result.removed
    new = hit(tables, udp_frame())
    assert (new.cookie, new.packets, new.bytes, new.instructions) == (8, 5, 500, ())
    assert len(tables) == 2
    result = add(tables, "priority=20,udp,actions=drop", flags=OFPFF_RESET_COUNTS)
    assert hit(tables, udp_frame()).packets == 0
    # table statistics
    table = tables.tables[0]
    assert (table.lookup_count, table.matched_count) == (5, 5)
    assert hit(tables, udp_frame(), table_id=1) is None
    assert tables.tables[1].lookup_count == 1 and tables.tables[1].matched_count == 0


def test_of10_add_replacing_resets_counters(tables):
    add(tables, "priority=5,in_port=1,actions=output:2", version=OFP10)
    hit(tables, udp_frame()).credit(3, 300, 1.0)
    add(tables, "priority=5,in_port=1,actions=output:3", version=OFP10)
    assert hit(tables, udp_frame()).packets == 0


def test_check_overlap_and_table_full(tables):
    add(tables, "priority=10,in_port=1,actions=output:2")
    with pytest.raises(CodecError) as err:
        add(tables, "priority=10,udp,actions=output:3", flags=OFPFF_CHECK_OVERLAP)
    assert err.value.err is Err.OFPFMFC_OVERLAP
    with pytest.raises(CodecError):  # identical counts as overlapping
        add(tables, "priority=10,in_port=1,actions=drop", flags=OFPFF_CHECK_OVERLAP)
    add(tables, "priority=11,udp,actions=output:3", flags=OFPFF_CHECK_OVERLAP)  # other prio
    add(tables, "priority=10,in_port=2,actions=output:3", flags=OFPFF_CHECK_OVERLAP)  # disjoint
    for port in range(3, 10):
        add(tables, f"priority=1,in_port={port},actions=drop")
    assert len(tables.tables[0]) == 10
    with pytest.raises(CodecError) as err:
        add(tables, "priority=1,in_port=99,actions=drop")
    assert err.value.err is Err.OFPFMFC_TABLE_FULL
    add(tables, "priority=1,in_port=9,actions=output:1")  # replacing is fine when full
    add(tables, "table=1,priority=1,in_port=99,actions=drop")  # per table
    assert len(tables) == 11


def test_bad_table_ids_and_goto(tables):
    with pytest.raises(CodecError) as err:
        add(tables, "table=4,actions=drop")
    assert err.value.err is Err.OFPFMFC_BAD_TABLE_ID
    with pytest.raises(CodecError) as err:
        tables.flow_mod(fm("actions=drop", table_id=OFPTT_ALL), OFP13, 0)
    assert err.value.err is Err.OFPFMFC_BAD_TABLE_ID
    for table_id, goto in ((1, 1), (1, 0), (3, 4)):  # what parse_flow would refuse
        with pytest.raises(CodecError) as err:
            add(tables, "actions=drop", table_id=table_id, instructions=(GotoTable(goto),))
        assert err.value.err is Err.OFPBIC_BAD_TABLE_ID
    assert len(tables) == 0
    add(tables, "table=1,actions=goto_table:3")
    with pytest.raises(CodecError) as err:
        tables.flow_mod(fm("actions=drop", OFPFC_MODIFY, table_id=OFPTT_ALL), OFP13, 0)
    assert err.value.err is Err.OFPFMFC_BAD_TABLE_ID
    with pytest.raises(CodecError) as err:
        tables.flow_mod(dataclasses.replace(fm("actions=drop"), command=9), OFP13, 0)
    assert err.value.err is Err.OFPFMFC_BAD_COMMAND


def test_modify_strict_and_loose(tables):
    add(tables, "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:1", cookie=1)
    add(tables, "priority=20,ip,nw_dst=10.1.0.0/16,actions=output:1", cookie=2)
    add(tables, "priority=30,ip,actions=output:1", cookie=3)
    # non-strict: every rule at least as specific as ip,nw_dst=10.0.0.0/8
    result = tables.flow_mod(fm("ip,nw_dst=10.0.0.0/8,actions=output:9", OFPFC_MODIFY), OFP13, 1)
    assert sorted(r.cookie for r in result.modified) == [1, 2]
    assert all(r.out_ports == {9} for r in result.modified)
    # strict: exactly that match and priority
    result = tables.flow_mod(fm("priority=20,ip,nw_dst=10.1.0.0/16,actions=output:5",
                                OFPFC_MODIFY_STRICT), OFP13, 1)
    assert [r.cookie for r in result.modified] == [2]
    result = tables.flow_mod(fm("priority=21,ip,nw_dst=10.1.0.0/16,actions=output:5",
                                OFPFC_MODIFY_STRICT), OFP13, 1)
    assert not result.changed  # OF1.3: nothing matched, nothing added
    # cookie filter; cookie itself unchanged by modify on OF1.3
    result = tables.flow_mod(fm("ip,actions=output:7", OFPFC_MODIFY, cookie=3,
                                cookie_mask=0xFF), OFP13, 1)
    assert [r.cookie for r in result.modified] == [3]
    assert sorted(r.cookie for r in tables) == [1, 2, 3]


def test_of10_modify_adds_when_nothing_matches_and_sets_cookie(tables):
    result = tables.flow_mod(fm("in_port=3,actions=output:1", OFPFC_MODIFY, cookie=5),
                             OFP10, 0)
    assert len(result.added) == 1 and len(tables) == 1
    result = tables.flow_mod(fm("in_port=3,actions=output:2", OFPFC_MODIFY, cookie=6),
                             OFP10, 0)
    assert [r.cookie for r in result.modified] == [6]


def test_delete_strict_loose_cookie_out_port_out_group(tables):
    add(tables, "priority=10,in_port=1,actions=output:2", cookie=0x11)
    add(tables, "priority=20,in_port=1,udp,actions=output:3", cookie=0x12)
    add(tables, "priority=30,in_port=1,tcp,actions=group:4", cookie=0x21)
    add(tables, "table=2,priority=5,in_port=1,actions=write_actions(output:2)", cookie=0x22)

    def delete(text, command=OFPFC_DELETE, **changes):
        result = tables.flow_mod(fm(text, command, **changes), OFP13, 0)
        assert all(reason == OFPRR_DELETE for _, reason in result.removed)
        return sorted(rule.cookie for rule, _ in result.removed)

    assert delete("in_port=1,udp", OFPFC_DELETE_STRICT) == []  # priority 32768 differs
    assert delete("priority=20,in_port=1,udp", OFPFC_DELETE_STRICT) == [0x12]
    assert delete("in_port=1", out_port=3) == []
    assert delete("in_port=1", table_id=OFPTT_ALL, out_port=2) == [0x11, 0x22]
    assert delete("", table_id=OFPTT_ALL, out_group=5) == []
    assert delete("", table_id=OFPTT_ALL, cookie=0x20, cookie_mask=0xF0) == [0x21]
    assert len(tables) == 0


def test_of10_delete_reaches_every_table(tables):
    add(tables, "table=2,priority=5,in_port=1,actions=drop")
    result = tables.flow_mod(fm("in_port=1", OFPFC_DELETE), OFP10, 0)
    assert len(result.removed) == 1


def test_emergency_flows_are_refused_like_ovs(tables):
    for timeout, err in ((0, Err.OFPFMFC_TABLE_FULL), (5, Err.OFPFMFC_BAD_EMERG_TIMEOUT)):
        with pytest.raises(CodecError) as exc:
            tables.flow_mod(fm("actions=drop", flags=OFPFF_EMERG, idle_timeout=timeout), OFP10, 0)
        assert exc.value.err is err


def test_idle_and_hard_timeouts(tables):
    add(tables, "priority=1,in_port=1,idle_timeout=10,actions=drop", now=100.0)
    add(tables, "priority=1,in_port=2,hard_timeout=30,idle_timeout=10,actions=drop", now=100.0)
    add(tables, "priority=1,in_port=3,actions=drop", now=100.0)
    assert tables.next_timeout() == 110.0
    assert tables.expire(109.0) == []
    idle_rule = hit(tables, udp_frame(), in_port=1)
    busy = hit(tables, udp_frame(), in_port=2)
    busy.credit(1, 60, 109.0)
    assert [(r.match.value("in_port"), reason) for r, reason in tables.expire(110.0)] == [
        (1, OFPRR_IDLE_TIMEOUT)]
    assert idle_rule.cls is None
    for now in (118.0, 126.0):
        busy.credit(1, 60, now)
        assert tables.expire(now + 1) == []
    assert [reason for _, reason in tables.expire(130.0)] == [OFPRR_HARD_TIMEOUT]
    assert tables.next_timeout() is None and len(tables) == 1


def test_counters_flags_and_group_meter_removal(tables):
    add(tables, "priority=1,in_port=1,actions=group:7", flags=OFPFF_NO_PKT_COUNTS)
    add(tables, "priority=1,in_port=2,actions=meter:3,output:1")
    rule = hit(tables, udp_frame(), in_port=1)
    rule.credit(2, 120, 1.0)
    assert rule.packet_count == 0xFFFFFFFFFFFFFFFF and rule.byte_count == 120
    assert [(r.out_groups, reason) for r, reason in tables.remove_for_group(7)] == [
        ({7}, OFPRR_GROUP_DELETE)]
    assert [reason for _, reason in tables.remove_for_meter(3)] == [OFPRR_METER_DELETE]
    assert tables.remove_for_meter(3) == [] and len(tables) == 0


def test_select_for_statistics(tables):
    add(tables, "table=0,priority=1,ip,actions=output:1", cookie=1)
    add(tables, "table=1,priority=2,tcp,actions=output:2", cookie=2)
    add(tables, "table=1,priority=3,arp,actions=output:2", cookie=3)
    everything = tables.select(range(4), parse_match(""))
    assert sorted(r.cookie for r in everything) == [1, 2, 3]
    assert [r.cookie for r in tables.select([1], parse_match("ip"))] == [2]
    assert [r.cookie for r in tables.select(range(4), parse_match(""), out_port=1)] == [1]


def test_a_failed_request_changes_nothing(tables):
    add(tables, "priority=1,in_port=1,actions=output:2")
    before = dump(tables)
    with pytest.raises(CodecError):
        tables.flow_mod(fm("in_port=1,actions=drop", OFPFC_MODIFY,
                           instructions=(GotoTable(9),)), OFP13, 0)
    assert dump(tables) == before
    assert hit(tables, udp_frame()).out_ports == {2}
