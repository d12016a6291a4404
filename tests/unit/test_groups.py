"""The group table: GROUP_MOD error paths and effects, counters, multipart bodies, and
the table driving xlate on the dummy datapath."""

from __future__ import annotations

import pytest

from openflow import actions as ofa
from openflow.consts import (
    OFP10,
    OFP13,
    OFPG_ALL,
    OFPG_ANY,
    OFPG_MAX,
    OFPGC_ADD,
    OFPGC_DELETE,
    OFPGC_MODIFY,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_INDIRECT,
    OFPGT_SELECT,
    OFPP_ANY,
    OFPP_IN_PORT,
    OFPP_LOCAL,
    OFPP_TABLE,
    OFPRR_GROUP_DELETE,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_group
from openflow.messages import Bucket, BucketCounter, GroupDesc, GroupMod
from switch_agent.groups import BUCKET_ACTIONS, GroupTable
from switch_agent.xlate import GroupEntry
from tests.unit.test_dpif import FakeClock
from tests.unit.test_ofproto import Lab, frame


def out(port: int) -> Bucket:
    return Bucket(actions=(ofa.Output(port, 0),))  # max_len 0, as parse_group gives


def to_group(group_id: int) -> Bucket:
    return Bucket(actions=(ofa.Group(group_id),))


def gm(command: int, gtype: int, group_id: int, *buckets: Bucket) -> GroupMod:
    return GroupMod(command=command, type=gtype, group_id=group_id, buckets=buckets)


class Table:
    """A GroupTable over a plain dict, with a fake clock and settable ref counts."""

    def __init__(self, **kwargs) -> None:
        self.groups: dict[int, GroupEntry] = {}
        self.clock = FakeClock(100.0)
        self.refs: dict[int, int] = {}
        self.table = GroupTable(self.groups, ref_count=lambda g: self.refs.get(g, 0),
                                clock=self.clock, **kwargs)

    def apply(self, text: str, command: int = OFPGC_ADD):
        return self.table.apply(parse_group(text, command=command), OFP13)

    def refuse(self, mod: GroupMod, err: Err) -> None:
        before = dict(self.groups)
        stats = self.table.group_stats()
        with pytest.raises(CodecError) as info:
            self.table.apply(mod, OFP13)
        assert info.value.err is err
        assert self.groups == before and self.table.group_stats() == stats  # nothing changed


@pytest.fixture
def t() -> Table:
    return Table()


# ------------------------------------------------------------------ add / modify / delete


def test_add_each_type(t):
    assert t.apply("group_id=1,type=all,bucket=output:1,bucket=output:2").added == [1]
    t.apply("group_id=2,type=select,bucket=weight:3,output:1,bucket=weight:0,output:2")
    t.apply("group_id=3,type=indirect,bucket=output:3")
    t.apply("group_id=4,type=ff,bucket=watch_port:1,output:1,bucket=watch_group:3,output:2")
    assert sorted(t.groups) == [1, 2, 3, 4]
    assert t.groups[1] == GroupEntry(1, OFPGT_ALL, (out(1), out(2)))
    assert [b.weight for b in t.groups[2].buckets] == [3, 0]  # weight 0 accepted (OVS)
    assert t.groups[4].buckets[1].watch_group == 3 and t.groups[4].type == OFPGT_FF
    assert len(t.table) == 4 and 3 in t.table and 9 not in t.table
    # an ALL group with no buckets is fine (it does nothing), as is the largest id
    t.table.apply(gm(OFPGC_ADD, OFPGT_ALL, OFPG_MAX), OFP13)
    assert t.groups[OFPG_MAX].buckets == ()


def test_add_errors(t):
    t.apply("group_id=1,type=all,bucket=output:1")
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 1, out(2)), Err.OFPGMFC_GROUP_EXISTS)
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, OFPG_MAX + 1, out(2)), Err.OFPGMFC_INVALID_GROUP)
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, OFPG_ALL, out(2)), Err.OFPGMFC_INVALID_GROUP)
    t.refuse(gm(OFPGC_ADD, 4, 2, out(2)), Err.OFPGMFC_BAD_TYPE)
    t.refuse(gm(3, OFPGT_ALL, 2, out(2)), Err.OFPGMFC_BAD_COMMAND)
    t.refuse(gm(OFPGC_MODIFY, OFPGT_ALL, 7, out(2)), Err.OFPGMFC_UNKNOWN_GROUP)
    with pytest.raises(CodecError) as info:
        t.table.apply(gm(OFPGC_ADD, OFPGT_ALL, 2, out(2)), OFP10)
    assert info.value.err is Err.OFPBRC_BAD_TYPE and 2 not in t.groups


def test_bucket_errors(t):
    t.refuse(gm(OFPGC_ADD, OFPGT_INDIRECT, 1), Err.OFPGMFC_INVALID_GROUP)
    t.refuse(gm(OFPGC_ADD, OFPGT_INDIRECT, 1, out(1), out(2)), Err.OFPGMFC_INVALID_GROUP)
    for gtype in (OFPGT_ALL, OFPGT_INDIRECT, OFPGT_FF):  # weights: select only
        t.refuse(gm(OFPGC_ADD, gtype, 1, Bucket((ofa.Output(1),), weight=1, watch_port=1)),
                 Err.OFPGMFC_INVALID_GROUP)
    for gtype in (OFPGT_ALL, OFPGT_INDIRECT):  # watches: select and fast failover only
        t.refuse(gm(OFPGC_ADD, gtype, 1, Bucket((ofa.Output(1),), watch_port=1)),
                 Err.OFPGMFC_WATCH_UNSUPPORTED)
        t.refuse(gm(OFPGC_ADD, gtype, 1, Bucket((ofa.Output(1),), watch_group=5)),
                 Err.OFPGMFC_WATCH_UNSUPPORTED)
    t.refuse(gm(OFPGC_ADD, OFPGT_FF, 1, out(1)), Err.OFPGMFC_INVALID_GROUP)  # no watch
    for port in (0, OFPP_IN_PORT, OFPP_TABLE, 0xFFFFFF00):
        t.refuse(gm(OFPGC_ADD, OFPGT_FF, 1, Bucket((ofa.Output(1),), watch_port=port)),
                 Err.OFPGMFC_BAD_WATCH)
    t.refuse(gm(OFPGC_ADD, OFPGT_FF, 1, Bucket((ofa.Output(1),), watch_group=OFPG_ALL)),
             Err.OFPGMFC_BAD_WATCH)
    t.table.apply(gm(OFPGC_ADD, OFPGT_FF, 1, Bucket((ofa.Output(1),), watch_port=OFPP_LOCAL)),
                  OFP13)
    t.table.apply(gm(OFPGC_ADD, OFPGT_SELECT, 2, Bucket((ofa.Output(1),), 1, watch_port=9)),
                  OFP13)  # select buckets may watch; a port not there yet is just not live
    assert sorted(t.groups) == [1, 2]


def test_bucket_action_errors(t):
    for port in (0, OFPP_TABLE, OFPP_ANY, 0xFFFFFF01):
        t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 1, out(port)), Err.OFPBAC_BAD_OUT_PORT)
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 1, Bucket((ofa.Enqueue(0, 1),))), Err.OFPBAC_BAD_OUT_PORT)
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 1, out(1), to_group(9)), Err.OFPBAC_BAD_OUT_GROUP)
    for port in (OFPP_IN_PORT, OFPP_LOCAL, 0xFFFFFFFA, 0xFFFFFFFB, 0xFFFFFFFC, 0xFFFFFFFD, 77):
        t.table.apply(gm(OFPGC_ADD, OFPGT_ALL, 100 + port % 50, out(port)), OFP13)
        t.table.apply(gm(OFPGC_DELETE, OFPGT_ALL, OFPG_ALL), OFP13)


def test_limits():
    small = Table(max_groups=(2, 1, 5, 5), max_buckets=2)
    small.apply("group_id=1,type=all,bucket=output:1,bucket=output:2")
    small.refuse(gm(OFPGC_ADD, OFPGT_ALL, 2, out(1), out(2), out(3)),
                 Err.OFPGMFC_OUT_OF_BUCKETS)
    small.apply("group_id=2,type=all,bucket=output:1")
    small.refuse(gm(OFPGC_ADD, OFPGT_ALL, 3, out(1)), Err.OFPGMFC_OUT_OF_GROUPS)
    small.apply("group_id=3,type=select,bucket=output:1")  # other types have room
    small.refuse(gm(OFPGC_ADD, OFPGT_SELECT, 4, out(1)), Err.OFPGMFC_OUT_OF_GROUPS)
    # a modify that keeps the type needs no room; one that changes it does
    small.apply("group_id=1,type=all,bucket=output:3", OFPGC_MODIFY)
    small.refuse(gm(OFPGC_MODIFY, OFPGT_SELECT, 1, out(1)), Err.OFPGMFC_OUT_OF_GROUPS)
    small.apply("group_id=1,type=indirect,bucket=output:3", OFPGC_MODIFY)
    small.apply("group_id=4,type=all,bucket=output:1")  # the ALL slot it left is free
    small.refuse(gm(OFPGC_MODIFY, OFPGT_SELECT, 4, out(2), out(3), out(4)),
                 Err.OFPGMFC_OUT_OF_BUCKETS)
    small.apply("group_id=4", OFPGC_DELETE)
    small.apply("group_id=5,type=all,bucket=output:1")  # room again after a delete
    assert small.table.group_features().max_groups == (2, 1, 5, 5)


def test_loops_and_chaining(t):
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 1, to_group(1)), Err.OFPGMFC_LOOP)
    t.apply("group_id=3,type=all,bucket=output:1")
    t.apply("group_id=2,type=indirect,bucket=group:3")
    t.apply("group_id=1,type=select,bucket=output:2,bucket=group:2")  # chains are fine
    t.refuse(gm(OFPGC_MODIFY, OFPGT_ALL, 3, to_group(1)), Err.OFPGMFC_LOOP)  # 1->2->3->1
    t.refuse(gm(OFPGC_MODIFY, OFPGT_ALL, 3, out(1), to_group(3)), Err.OFPGMFC_LOOP)
    t.refuse(gm(OFPGC_MODIFY, OFPGT_INDIRECT, 2, to_group(2)), Err.OFPGMFC_LOOP)
    t.apply("group_id=4,type=all,bucket=group:3,bucket=group:2")  # a diamond is no loop
    # Deleting group 3 leaves 2's reference dangling (as OVS); re-adding 3 pointing back
    # at 1 would close the loop through that reference.
    assert t.apply("group_id=3", OFPGC_DELETE).deleted == [3]
    assert t.groups[2].buckets == (to_group(3),)
    assert t.table.referrers(3) == [2, 4]
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 3, to_group(1)), Err.OFPGMFC_LOOP)
    t.refuse(gm(OFPGC_ADD, OFPGT_ALL, 3, to_group(4)), Err.OFPGMFC_LOOP)
    t.apply("group_id=3,type=all,bucket=output:4")


def test_chaining_checks_refuse_deleting_a_chained_group():
    t = Table(chaining_checks=True)
    t.apply("group_id=1,type=all,bucket=output:1")
    t.apply("group_id=2,type=all,bucket=group:1")
    t.refuse(gm(OFPGC_DELETE, OFPGT_ALL, 1), Err.OFPGMFC_CHAINED_GROUP)
    assert t.apply("group_id=2", OFPGC_DELETE).deleted == [2]
    assert t.apply("group_id=1", OFPGC_DELETE).deleted == [1]
    t.apply("group_id=1,type=all,bucket=output:1")
    t.apply("group_id=2,type=all,bucket=group:1")
    assert t.apply("group_id=all", OFPGC_DELETE).deleted == [1, 2]  # ALL always goes
    assert t.table.group_features().capabilities == 0xF


def test_delete(t):
    for gid in (5, 1, 3):
        t.apply(f"group_id={gid},type=all,bucket=output:1")
    t.apply("group_id=2,type=select,bucket=output:1")
    assert t.apply("group_id=3", OFPGC_DELETE).deleted == [3]
    result = t.apply("group_id=3", OFPGC_DELETE)  # missing: nothing, no error
    assert result.deleted == [] and not result.changed
    t.refuse(gm(OFPGC_DELETE, OFPGT_ALL, OFPG_ANY), Err.OFPGMFC_INVALID_GROUP)
    t.refuse(gm(OFPGC_DELETE, OFPGT_ALL, OFPG_MAX + 1), Err.OFPGMFC_INVALID_GROUP)
    t.refuse(gm(OFPGC_DELETE, OFPGT_ALL, 1, out(1)), Err.OFPGMFC_INVALID_GROUP)  # buckets
    t.refuse(gm(OFPGC_DELETE, 9, 1), Err.OFPGMFC_BAD_TYPE)  # type checked first, as OVS
    result = t.table.apply(gm(OFPGC_DELETE, OFPGT_INDIRECT, OFPG_ALL), OFP13)
    assert result.deleted == [1, 2, 5] and result.changed and t.groups == {}
    assert t.table.group_stats() == [] and t.table.group_desc() == []
    t.apply("group_id=1,type=all,bucket=output:1")  # counts per type went back to 0


def test_modify_replaces_type_and_buckets_and_restarts_counters(t):
    t.apply("group_id=1,type=all,bucket=output:1,bucket=output:2")
    t.table.credit(1, 10, 1000)
    t.clock.now += 5
    result = t.apply("group_id=1,type=select,bucket=weight:2,output:3", OFPGC_MODIFY)
    assert result.modified == [1] and result.changed and not result.added
    assert t.groups[1] == GroupEntry(1, OFPGT_SELECT, (Bucket(out(3).actions, weight=2),))
    t.clock.now += 1.5
    (stats,) = t.table.group_stats(1)
    assert (stats.packet_count, stats.byte_count) == (0, 0)
    assert stats.bucket_stats == (BucketCounter(0, 0),)
    assert (stats.duration_sec, stats.duration_nsec) == (6, 500_000_000)  # age kept


# ------------------------------------------------------------------ counters and replies


def test_counters_per_type(t):
    t.apply("group_id=1,type=all,bucket=output:1,bucket=output:2")
    t.apply("group_id=2,type=indirect,bucket=output:1")
    t.apply("group_id=3,type=select,bucket=output:1,bucket=output:2,bucket=output:3")
    t.apply("group_id=4,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2")
    for gid in (1, 2, 3, 4):
        t.table.credit(gid, 3, 300)
    t.table.credit(3, 2, 200, buckets=[2])  # the caller knows which bucket it took
    t.table.credit(4, 1, 100, buckets=(1, 7))  # out-of-range indexes are ignored
    t.table.credit(9, 1, 100)  # no such group
    t.table.credit(1, 0, 0)
    counts = {s.group_id: (s.packet_count, s.byte_count, s.bucket_stats)
              for s in t.table.group_stats()}
    assert counts == {
        1: (3, 300, (BucketCounter(3, 300), BucketCounter(3, 300))),
        2: (3, 300, (BucketCounter(3, 300),)),
        3: (5, 500, (BucketCounter(0, 0), BucketCounter(0, 0), BucketCounter(2, 200))),
        4: (4, 400, (BucketCounter(0, 0), BucketCounter(1, 100))),
    }


def test_group_stats_reply(t):
    t.apply("group_id=7,type=all,bucket=output:1")
    t.clock.now += 0.25
    t.apply("group_id=2,type=all,bucket=output:2")
    t.refs[7] = 4
    t.clock.now += 2
    t.table.credit(7, 5, 640)
    stats = t.table.group_stats(OFPG_ALL)
    assert [s.group_id for s in stats] == [2, 7]
    assert stats[1].ref_count == 4 and stats[0].ref_count == 0
    assert (stats[1].duration_sec, stats[1].duration_nsec) == (2, 250_000_000)
    assert (stats[0].duration_sec, stats[0].duration_nsec) == (2, 0)
    assert t.table.group_stats(7) == [stats[1]]
    assert t.table.group_stats(3) == []  # as OVS: no error, no entry


def test_group_desc_and_features(t):
    t.apply("group_id=3,type=ff,bucket=watch_port:2,output:2")
    t.apply("group_id=1,type=select,bucket=weight:5,output:1,bucket=weight:1,output:2")
    assert t.table.group_desc() == [
        GroupDesc(OFPGT_SELECT, 1, (Bucket(out(1).actions, weight=5),
                                    Bucket(out(2).actions, weight=1))),
        GroupDesc(OFPGT_FF, 3, (Bucket(out(2).actions, watch_port=2),)),
    ]
    features = t.table.group_features()
    assert features.types == 0xF and features.capabilities == 0x7  # as OVS
    assert features.max_groups == (OFPG_MAX,) * 4
    # OVS 3.x, OF1.2+: output group set_field strip_vlan push_vlan mod_nw_ttl dec_ttl
    # set_mpls_ttl dec_mpls_ttl push_mpls pop_mpls set_queue
    assert features.actions == (0x0FFF9801,) * 4 and BUCKET_ACTIONS == 0x0FFF9801


def test_table_over_an_existing_dict():
    groups = {5: GroupEntry(5, OFPGT_SELECT, (out(1),))}
    table = GroupTable(groups, clock=FakeClock(10.0), max_groups=(9, 1, 9, 9))
    with pytest.raises(CodecError) as info:
        table.apply(gm(OFPGC_ADD, OFPGT_SELECT, 6, out(1)), OFP13)
    assert info.value.err is Err.OFPGMFC_OUT_OF_GROUPS
    assert [s.group_id for s in table.group_stats()] == [5]


# ------------------------------------------------------------------ on the switch


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def test_group_table_drives_xlate_and_group_delete_removes_flows(lab):
    sw = lab.sw
    table = GroupTable(sw.groups, clock=lab.clock,
                       ref_count=lambda g: sum(1 for r in sw.tables if g in r.out_groups))
    table.apply(parse_group("group_id=1,type=all,bucket=output:2,bucket=output:3"), OFP13)
    table.apply(parse_group("group_id=2,type=indirect,bucket=group:1"), OFP13)
    assert lab.flow("priority=5,in_port=1,actions=group:2") == []
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 1, 3: 1, 4: 0}
    assert table.group_stats(2)[0].ref_count == 1 and table.group_stats(1)[0].ref_count == 0
    # MODIFY of a chained group: the flow keeps it; after revalidation packets follow it
    table.apply(parse_group("group_id=1,type=all,bucket=output:4", command=OFPGC_MODIFY), OFP13)
    sw.revalidate()
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 1}
    # DELETE: the lead removes the flows forwarding to the deleted groups
    result = table.apply(parse_group("group_id=2", command=OFPGC_DELETE), OFP13)
    removed = [pair for gid in result.deleted for pair in sw.tables.remove_for_group(gid)]
    assert [reason for _, reason in removed] == [OFPRR_GROUP_DELETE]
    sw.revalidate()
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}
    assert 2 not in sw.groups and 1 in sw.groups
