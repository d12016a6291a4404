"""Flow caches (datapath/cache.py): megaflow tuple-space search, EMC, eviction, stats."""

from __future__ import annotations

import pytest

from datapath.cache import (
    SAME_HASH_LIMIT,
    ExactMatchCache,
    FlowCache,
    Megaflow,
    MegaflowCache,
)
from datapath.flow import make_key, make_mask

PORT_MAC = make_mask(in_port=True, eth_dst=True)
FIVE_TUPLE = make_mask(in_port=True, eth_type=True, ipv4_src=True, ipv4_dst=True,
                       ip_proto=True, tp_src=True, tp_dst=True)
DST_NET = make_mask(eth_type=True, ipv4_dst=0xFFFFFF00)


def packet_key(in_port=1, dst="0a:00:00:00:00:02", src_ip="10.0.0.1", dst_ip="10.0.0.2",
               sport=1000, dport=80, flags=0) -> int:
    return make_key(in_port=in_port, eth_dst=dst, eth_src="0a:00:00:00:00:01",
                    eth_type=0x0800, ipv4_src=src_ip, ipv4_dst=dst_ip, ip_proto=6,
                    ip_ttl=64, tp_src=sport, tp_dst=dport, tcp_flags=flags)


def colliding_keys(count: int) -> list[int]:
    """Distinct keys with one and the same Python hash (see the cache module docstring)."""
    keys = [make_key(in_port=1, eth_type=0x0800, ip_proto=17, ipv4_src=0x0A800000 - 256 * i,
                     tp_src=1000 + i) for i in range(count)]
    assert len({hash(k) for k in keys}) == 1 and len(set(keys)) == count
    return keys


# ------------------------------------------------------------------ megaflow cache


def test_lookup_masks_the_key():
    cache = MegaflowCache()
    entry = cache.insert(PORT_MAC, packet_key(sport=1), "out:2", now=5.0)
    assert entry.key == packet_key(sport=1) & PORT_MAC
    assert (entry.mask, entry.actions, entry.created, entry.used) == (PORT_MAC, "out:2", 5.0, 5.0)
    assert cache.lookup(packet_key(sport=2, dst_ip="192.0.2.9")) is entry
    assert cache.lookup(packet_key(in_port=2)) is None
    assert cache.lookup(packet_key(dst="0a:00:00:00:00:03")) is None
    assert (cache.hits, cache.misses, cache.flows, cache.masks) == (1, 2, 1, 1)


def test_different_masks_are_subtables():
    cache = MegaflowCache()
    a = cache.insert(PORT_MAC, packet_key(), "a")
    b = cache.insert(FIVE_TUPLE, packet_key(in_port=2, sport=7), "b")
    c = cache.insert(DST_NET, packet_key(dst_ip="192.0.2.1"), "c")
    d = cache.insert(FIVE_TUPLE, packet_key(in_port=2, sport=8), "d")
    assert (cache.flows, cache.masks) == (4, 3)
    assert cache.lookup(packet_key(sport=99)) is a
    assert cache.lookup(packet_key(in_port=2, sport=7)) is b
    assert cache.lookup(packet_key(in_port=2, sport=8)) is d
    assert cache.lookup(packet_key(in_port=3, dst_ip="192.0.2.77")) is c
    assert cache.lookup(packet_key(in_port=2, sport=9)) is None
    assert cache.mask_list() == [(PORT_MAC, 1), (FIVE_TUPLE, 2), (DST_NET, 1)]
    assert cache.find(FIVE_TUPLE, packet_key(in_port=2, sport=8, flags=0x10)) is d
    assert cache.find(DST_NET, packet_key()) is None


def test_first_mask_wins_on_overlap_and_rank_reorders():
    cache = MegaflowCache()
    wide = cache.insert(PORT_MAC, packet_key(), "wide")
    narrow = cache.insert(FIVE_TUPLE, packet_key(), "narrow")
    assert cache.lookup(packet_key()) is wide
    other = packet_key(in_port=5)
    cache.insert(FIVE_TUPLE, other, "other")
    for _ in range(3):
        cache.lookup(other)
    cache.rank()  # the five-tuple subtable had more hits: searched first now
    assert cache.mask_list()[0][0] == FIVE_TUPLE
    assert cache.lookup(packet_key()) is narrow


def test_same_masked_key_replaces():
    cache = MegaflowCache()
    old = cache.insert(PORT_MAC, packet_key(sport=1), "old")
    new = cache.insert(PORT_MAC, packet_key(sport=2), "new")  # same under the mask
    assert old.dead and not new.dead
    assert cache.flows == 1
    assert cache.lookup(packet_key()) is new
    assert cache.get(old.ufid) is None and cache.get(new.ufid) is new


def test_same_ufid_replaces():
    cache = MegaflowCache()
    old = cache.insert(PORT_MAC, packet_key(), "old", ufid="u1")
    new = cache.insert(FIVE_TUPLE, packet_key(in_port=9), "new", ufid="u1")
    assert old.dead and cache.get("u1") is new
    assert (cache.flows, cache.masks) == (1, 1)
    assert cache.lookup(packet_key()) is None


def test_remove_and_empty_subtable_goes():
    cache = MegaflowCache()
    a = cache.insert(PORT_MAC, packet_key(), "a")
    b = cache.insert(FIVE_TUPLE, packet_key(in_port=2), "b")
    assert cache.remove(a) is True
    assert a.dead and cache.remove(a) is False
    assert (cache.flows, cache.masks) == (1, 1)
    assert cache.lookup(packet_key()) is None
    assert cache.lookup(packet_key(in_port=2)) is b
    assert cache.remove(Megaflow(PORT_MAC, 0, None, "stranger", 0.0)) is False


def test_flush_and_dump():
    cache = MegaflowCache()
    entries = [cache.insert(FIVE_TUPLE, packet_key(sport=i), i) for i in range(5)]
    assert cache.dump() == entries
    assert cache.flush() == 5
    assert all(e.dead for e in entries)
    assert (cache.flows, cache.masks, cache.dump()) == (0, 0, [])
    assert cache.lookup(packet_key(sport=1)) is None


def test_generated_ufids_are_unique():
    cache = MegaflowCache()
    ufids = {cache.insert(FIVE_TUPLE, packet_key(sport=i), None).ufid for i in range(50)}
    assert len(ufids) == 50


def test_per_flow_stats():
    cache = MegaflowCache()
    entry = cache.insert(FIVE_TUPLE, packet_key(), "a", now=1.0)
    entry.account(60, 2.0, packet_key(flags=0x002))
    entry.account(1514, 3.5, packet_key(flags=0x010))
    entry.account(54, 3.0, packet_key(flags=0x011))
    assert (entry.packets, entry.bytes, entry.used, entry.tcp_flags) == (3, 1628, 3.0, 0x013)
    assert "packets=3" in repr(entry)


def test_flow_limit_evicts_least_recently_used():
    cache = MegaflowCache(flow_limit=32)
    entries = [cache.insert(FIVE_TUPLE, packet_key(sport=i), i, now=float(i)) for i in range(32)]
    entries[0].account(60, 100.0, 0)  # recently used: survives
    entries[1].account(60, 100.0, 0)
    newest = cache.insert(FIVE_TUPLE, packet_key(sport=1000), "new", now=101.0)
    # one pass evicts the 32 // 16 = 2 least recently used: sport 2 and 3
    assert cache.evicted == 2 and cache.flows == 31
    assert entries[2].dead and entries[3].dead
    assert not entries[0].dead and not entries[1].dead and not newest.dead
    assert cache.lookup(packet_key(sport=2)) is None
    assert cache.lookup(packet_key(sport=0)) is entries[0]
    for i in range(40):
        cache.insert(FIVE_TUPLE, packet_key(sport=2000 + i), i, now=200.0 + i)
    assert cache.flows <= 32


def test_flow_limit_of_one_keeps_the_newest():
    cache = MegaflowCache(flow_limit=1)
    first = cache.insert(PORT_MAC, packet_key(), "a")
    second = cache.insert(FIVE_TUPLE, packet_key(in_port=2), "b")
    assert first.dead and not second.dead and (cache.flows, cache.masks) == (1, 1)
    with pytest.raises(ValueError):
        MegaflowCache(flow_limit=0)


def test_expire_idle_flows():
    cache = MegaflowCache()
    idle = cache.insert(FIVE_TUPLE, packet_key(sport=1), "idle", now=0.0)
    busy = cache.insert(FIVE_TUPLE, packet_key(sport=2), "busy", now=0.0)
    fresh = cache.insert(FIVE_TUPLE, packet_key(sport=3), "fresh", now=9.0)
    busy.account(60, 8.0, 0)
    assert cache.expire(now=10.0, idle=5.0) == [idle]
    assert idle.dead and not busy.dead and not fresh.dead
    assert cache.flows == 2


def test_stats_counters():
    cache = MegaflowCache()
    cache.insert(FIVE_TUPLE, packet_key(), "a")
    cache.lookup(packet_key())
    cache.lookup(packet_key(sport=5))
    assert cache.stats() == {"hits": 1, "misses": 1, "flows": 1, "masks": 1, "evicted": 0,
                             "rejected": 0}
    assert len(cache) == 1


def test_megaflow_refuses_hash_flooding():
    keys = colliding_keys(SAME_HASH_LIMIT + 5)
    mask = make_mask(in_port=True, eth_type=True, ipv4_src=True, ip_proto=True, tp_src=True)
    cache = MegaflowCache()
    entries = [cache.insert(mask, key, i) for i, key in enumerate(keys)]
    assert [e.dead for e in entries] == [False] * SAME_HASH_LIMIT + [True] * 5
    assert cache.rejected == 5 and cache.flows == SAME_HASH_LIMIT
    assert cache.lookup(keys[0]) is entries[0]
    assert cache.lookup(keys[-1]) is None
    # removing one makes room for another key of that hash
    cache.remove(entries[0])
    assert not cache.insert(mask, keys[-1], "again").dead
    # other masks keep their own count
    assert not cache.insert(mask | make_mask(tp_dst=True), keys[-2], "x").dead


# ------------------------------------------------------------------ EMC


def test_emc_hit_miss_and_inv_prob():
    megaflows = MegaflowCache()
    entry = megaflows.insert(PORT_MAC, packet_key(), "a")
    emc = ExactMatchCache(size=64, insert_inv_prob=3)
    key = packet_key()
    assert emc.lookup(key) is None
    # the first offer is taken, then one in three
    assert [emc.insert(packet_key(sport=i), entry) for i in range(7)] == [
        True, False, False, True, False, False, True]
    assert emc.lookup(packet_key(sport=0)) is entry
    assert emc.lookup(packet_key(sport=1)) is None
    assert emc.lookup(packet_key(sport=0, flags=1)) is None  # exact: every bit counts
    assert (emc.hits, emc.misses, emc.inserted, len(emc)) == (1, 3, 3, 3)
    assert emc.stats()["entries"] == 3
    emc = ExactMatchCache(insert_inv_prob=1)
    entry2 = megaflows.insert(FIVE_TUPLE, packet_key(sport=0), "b")
    assert emc.insert(key, entry) and emc.insert(key, entry2)  # a present key is re-pointed
    assert emc.lookup(key) is entry2 and len(emc) == 1


def test_emc_never_hits_a_removed_megaflow():
    megaflows = MegaflowCache()
    emc = ExactMatchCache(insert_inv_prob=1)
    entry = megaflows.insert(PORT_MAC, packet_key(), "a")
    key = packet_key(sport=3)
    assert emc.insert(key, entry)
    assert emc.lookup(key) is entry
    megaflows.remove(entry)
    assert emc.lookup(key) is None
    assert len(emc) == 0  # dropped on sight
    # a replaced megaflow (same masked key) is dead too; the new one is found via megaflows
    entry2 = megaflows.insert(PORT_MAC, key, "b")
    emc.insert(key, entry2)
    entry3 = megaflows.insert(PORT_MAC, key, "c")
    assert emc.lookup(key) is None
    assert megaflows.lookup(key) is entry3
    # an evicted or flushed one as well
    emc.insert(key, entry3)
    megaflows.flush()
    assert emc.lookup(key) is None
    assert not emc.insert(key, entry3)  # dead megaflows are not offered into the EMC


def test_emc_is_bounded_oldest_first():
    megaflows = MegaflowCache()
    entry = megaflows.insert(PORT_MAC, packet_key(), "a")
    emc = ExactMatchCache(size=32, insert_inv_prob=1)
    for i in range(32):
        emc.insert(packet_key(sport=i), entry)
    assert len(emc) == 32
    emc.insert(packet_key(sport=100), entry)  # full: the oldest 32 // 16 = 2 go
    assert len(emc) == 31
    assert emc.lookup(packet_key(sport=0)) is None and emc.lookup(packet_key(sport=1)) is None
    assert emc.lookup(packet_key(sport=2)) is entry
    assert emc.lookup(packet_key(sport=100)) is entry
    for i in range(1000):
        emc.insert(packet_key(sport=1000 + i), entry)
    assert len(emc) <= 32
    emc.clear()
    assert len(emc) == 0 and emc.lookup(packet_key(sport=1999)) is None
    with pytest.raises(ValueError):
        ExactMatchCache(size=0)
    with pytest.raises(ValueError):
        ExactMatchCache(insert_inv_prob=0)


def test_emc_refuses_hash_flooding():
    megaflows = MegaflowCache()
    entry = megaflows.insert(make_mask(in_port=True), make_key(in_port=1), "a")
    emc = ExactMatchCache(insert_inv_prob=1)
    keys = colliding_keys(SAME_HASH_LIMIT + 3)
    assert [emc.insert(k, entry) for k in keys] == [True] * SAME_HASH_LIMIT + [False] * 3
    assert emc.rejected == 3 and len(emc) == SAME_HASH_LIMIT
    megaflows.remove(entry)
    assert emc.lookup(keys[0]) is None  # dead: dropped, which frees a place
    entry2 = megaflows.insert(make_mask(in_port=True), make_key(in_port=1), "b")
    assert emc.insert(keys[-1], entry2) and emc.lookup(keys[-1]) is entry2


# ------------------------------------------------------------------ composed


def test_flow_cache_promotes_hits_into_the_emc():
    cache = FlowCache(emc_insert_inv_prob=1)
    assert cache.lookup(packet_key()) is None
    entry = cache.insert(PORT_MAC, packet_key(), "a", now=1.0)
    assert cache.lookup(packet_key(sport=5)) is entry  # megaflow hit, offered to the EMC
    assert cache.megaflows.hits == 1 and cache.emc.inserted == 1
    assert cache.lookup(packet_key(sport=5)) is entry  # EMC hit
    assert cache.emc.hits == 1 and cache.megaflows.hits == 1
    assert cache.remove(entry)
    assert cache.lookup(packet_key(sport=5)) is None
    cache.insert(PORT_MAC, packet_key(), "b")
    cache.lookup(packet_key(sport=6))
    assert cache.flush() == 1
    assert len(cache.emc) == 0 and cache.lookup(packet_key(sport=6)) is None
