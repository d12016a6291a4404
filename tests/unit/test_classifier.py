"""Classifier (switch_agent/classifier.py): tuple-space lookup, wildcards, versions, finds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switch_agent.classifier import VERSION_NEVER, Classifier, Rule

# A small 16-bit key: two 8-bit "fields" (high byte A, low byte B).
A, B = 0xFF00, 0x00FF
A_HI = 0xF000  # a prefix of A


def brute_best(rules: list[tuple[Rule, int, int]], key: int, version: int) -> int:
    """Highest priority among the model's rules visible at ``version`` matching ``key``
    (-1 if none).  ``rules`` holds (rule, add_version, remove_version) of the model."""
    return max((rule.priority for rule, added, removed in rules
                if added <= version < removed and key & rule.mask == rule.key), default=-1)


def check_lookup(cls: Classifier, model: list[tuple[Rule, int, int]], key: int,
                 version: int, key_bits: int, rng: random.Random) -> None:
    """lookup == brute force, and every key agreeing under the wildcards gets the same rule."""
    rule, wildcards = cls.lookup(key, version)
    best = brute_best(model, key, version)
    if best < 0:
        assert rule is None
    else:
        assert rule is not None and rule.priority == best and key & rule.mask == rule.key
        assert any(r is rule and a <= version < rm for r, a, rm in model)
    full = (1 << key_bits) - 1
    free = full & ~wildcards
    others = range(1 << key_bits) if key_bits <= 10 else [rng.getrandbits(key_bits)
                                                          for _ in range(64)]
    for other in others:
        agreeing = (key & wildcards) | (other & free)
        assert cls.lookup(agreeing, version)[0] is rule, hex(agreeing)


# ------------------------------------------------------------------ lookup


def test_empty_classifier_misses_with_no_wildcards():
    cls = Classifier()
    assert cls.lookup(0x1234) == (None, 0)
    assert len(cls) == 0 and cls.n_subtables == 0


def test_lookup_masks_the_key_and_returns_the_rule():
    cls = Classifier()
    rule = cls.insert(0x12FF, A, 10, payload="p")  # the key is stored masked
    assert rule.key == 0x1200 and rule.payload == "p"
    assert cls.lookup(0x1234) == (rule, A)
    assert cls.lookup(0x1334) == (None, A)
    assert len(cls) == 1 and cls.n_subtables == 1


def test_higher_priority_wins_across_subtables_whatever_the_insert_order():
    for order in (0, 1):
        cls = Classifier()
        specs = [(0x1234, A | B, 5), (0x1200, A, 50)]
        if order:
            specs.reverse()
        rules = {priority: cls.insert(key, mask, priority) for key, mask, priority in specs}
        assert cls.lookup(0x1234)[0] is rules[50]
        assert cls.lookup(0x1299)[0] is rules[50]
        assert cls.mask_list()[0] == (A, 50, 1)  # searched first


def test_exact_rule_of_higher_priority_beats_wildcard():
    cls = Classifier()
    low = cls.insert(0x1200, A, 5)
    high = cls.insert(0x1234, A | B, 50)
    assert cls.lookup(0x1234) == (high, A | B)  # early stop: A's subtable not examined
    assert cls.lookup(0x1235) == (low, A | B)


def test_early_stop_examines_only_subtables_that_could_win():
    cls = Classifier()
    top = cls.insert(0x0034, B, 100)
    cls.insert(0x1200, A, 50)
    cls.insert(0x1000, A_HI, 10)
    # The hit in the first subtable has priority 100 >= every other subtable's max.
    assert cls.lookup(0x1234) == (top, B)
    # A miss in the first subtable goes on; the hit at 50 stops before the 10s.
    rule, wildcards = cls.lookup(0x1235)
    assert rule is not None and rule.priority == 50 and wildcards == B | A
    # A full miss examines every subtable.
    assert cls.lookup(0x9999) == (None, A | B)
    assert cls.lookup(0x1999)[1] == A | B | A_HI


def test_equal_priority_between_subtables_stops_at_the_first_hit():
    cls = Classifier()
    first = cls.insert(0x0034, B, 7)
    cls.insert(0x1200, A, 7)
    assert cls.lookup(0x1234) == (first, B)  # the other one could only tie


def test_bucket_keeps_priority_order_and_insertion_order_for_ties():
    cls = Classifier()
    low = cls.insert(0x1200, A, 1)
    first = cls.insert(0x1200, A, 9)
    second = cls.insert(0x1200, A, 9)  # the same match and priority again: allowed
    cls.insert(0x1200, A, 3)
    assert cls.lookup(0x12AB)[0] is first
    assert [r.priority for r in cls.rules()] == [9, 9, 3, 1]
    cls.remove(first)
    assert cls.lookup(0x12AB)[0] is second
    cls.remove(second)
    remaining = cls.lookup(0x12AB)[0]
    assert remaining is not None and remaining.priority == 3
    assert low in cls.rules()


def test_removing_the_top_rule_reorders_subtables():
    cls = Classifier()
    top = cls.insert(0x0034, B, 100)
    cls.insert(0x0035, B, 1)
    mid = cls.insert(0x1200, A, 50)
    assert cls.mask_list()[0][0] == B
    cls.remove(top)
    assert [m for m, _, _ in cls.mask_list()] == [A, B]
    assert cls.lookup(0x1235) == (mid, A)  # stops before B (max 1 now)


def test_priority_zero_and_large_priorities():
    cls = Classifier()
    miss = cls.insert(0, 0, 0)  # table-miss rule: matches everything
    assert cls.lookup(0xABCD) == (miss, 0)
    big = cls.insert(0xAB00, A, 65535)
    assert cls.lookup(0xABCD) == (big, A)
    assert cls.lookup(0xAACD) == (miss, A)


def test_wide_keys_above_64_bits():
    cls = Classifier()
    meta = 0xFFFF << 200  # e.g. metadata bits above a wide datapath key
    rule = cls.insert(0x42 << 200 | 7, meta | 0xF, 3)
    assert cls.lookup(0x42 << 200 | 0x57) == (rule, meta | 0xF)
    assert cls.lookup(0x43 << 200 | 0x57)[0] is None


def test_rule_subclass_via_insert_rule():
    class FlowRule(Rule):
        __slots__ = ("cookie",)
        cookie: int

    cls = Classifier()
    rule = FlowRule(0x12FF, A, 4)
    rule.cookie = 99
    assert cls.insert_rule(rule, version=0) is rule
    assert cls.lookup(0x1200)[0] is rule and rule.key == 0x1200
    with pytest.raises(ValueError):
        cls.insert_rule(rule)  # already inserted


def test_bad_arguments():
    cls = Classifier()
    with pytest.raises(ValueError):
        cls.insert(0, 0, -1)
    with pytest.raises(ValueError):
        cls.remove(Rule(0, 0, 1))  # never inserted
    cls.publish(3)
    with pytest.raises(ValueError):
        cls.publish(2)


# ------------------------------------------------------------------ property: lookup

MASKS_16 = [0, A, B, A | B, A_HI, A_HI | B, 0x0F0F, 0x8001]


@st.composite
def rule_sets(draw, masks=MASKS_16, bits=16, versions=True):
    specs = draw(st.lists(st.tuples(st.sampled_from(masks), st.integers(0, (1 << bits) - 1),
                                    st.integers(0, 6), st.integers(0, 3),
                                    st.one_of(st.none(), st.integers(0, 4))),
                          max_size=30))
    if not versions:
        specs = [(mask, key, priority, 0, None) for mask, key, priority, _, _ in specs]
    return specs


def build(specs) -> tuple[Classifier, list[tuple[Rule, int, int]]]:
    cls = Classifier()
    model = []
    for mask, key, priority, added, removed in specs:
        rule = cls.insert(key, mask, priority, version=added)
        if removed is not None:
            cls.remove(rule, removed)
        model.append((rule, added, VERSION_NEVER if removed is None else removed))
    return cls, model


@given(specs=rule_sets(), keys=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4),
       seed=st.integers(0, 2**32))
def test_lookup_matches_brute_force_and_wildcards_are_sound(specs, keys, seed):
    cls, model = build(specs)
    rng = random.Random(seed)
    # A lookup key that hits a rule is more interesting than a random one.
    keys += [rule.key | (rng.getrandbits(16) & ~rule.mask) for rule, _, _ in model[:3]]
    for key in keys:
        for version in range(5):
            check_lookup(cls, model, key, version, 16, rng)


MASKS_8 = [0, 0xF0, 0x0F, 0xFF, 0xC0, 0xCC, 0x81, 0x3C]


@given(specs=rule_sets(masks=MASKS_8, bits=8), key=st.integers(0, 0xFF))
def test_wildcards_exhaustively_on_8_bit_keys(specs, key):
    cls, model = build(specs)
    for version in range(5):
        check_lookup(cls, model, key, version, 8, random.Random(0))


WIDE = 160
MASKS_WIDE = [((1 << 32) - 1) << 128, 0xFFFF << 64, (0xFFFF << 64) | 0xFF, (1 << WIDE) - 1, 0]


@given(specs=rule_sets(masks=MASKS_WIDE, bits=WIDE, versions=False),
       key=st.integers(0, (1 << WIDE) - 1), seed=st.integers(0, 2**32))
def test_wildcards_on_wide_keys(specs, key, seed):
    cls, model = build(specs)
    rng = random.Random(seed)
    check_lookup(cls, model, key, 0, WIDE, rng)
    if model:
        rule = model[0][0]
        check_lookup(cls, model, rule.key | (key & ~rule.mask), 0, WIDE, rng)


OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(MASKS_16), st.integers(0, 0xFFFF),
              st.integers(0, 6), st.integers(0, 2)),
    st.tuples(st.just("remove"), st.integers(0, 100), st.integers(0, 2)),
    st.tuples(st.just("publish"), st.integers(0, 2)),
), max_size=40)


@given(ops=OPS, seed=st.integers(0, 2**32))
def test_mutation_sequences_against_a_model(ops, seed):
    """Inserts, removals and publishes in any order: lookups at the published version
    and the next ones always agree with a brute-force model, finds too."""
    cls = Classifier()
    model: list[tuple[Rule, int, int]] = []
    rng = random.Random(seed)
    for op in ops:
        if op[0] == "insert":
            _, mask, key, priority, ahead = op
            version = cls.version + ahead
            model.append((cls.insert(key, mask, priority, version=version), version,
                          VERSION_NEVER))
        elif op[0] == "remove" and model:
            index = op[1] % len(model)
            rule, added, removed = model[index]
            version = cls.version + op[2]
            cls.remove(rule, version)
            if removed > cls.version and removed > added:  # removal only brought forward
                model[index] = (rule, added, min(removed, version))
        elif op[0] == "publish":
            cls.publish(cls.version + op[1])
        model = [entry for entry in model if entry[2] > cls.version]  # gone for good
        for version in (cls.version, cls.version + 1, cls.version + 2):
            visible = [rule for rule, added, removed in model if added <= version < removed]
            assert sorted(map(id, cls.rules(version))) == sorted(map(id, visible))
            key = rng.getrandbits(16)
            if model and rng.random() < 0.5:
                rule = rng.choice(model)[0]
                key = rule.key | (key & ~rule.mask)
            check_lookup(cls, model, key, version, 16, rng)
        assert len(cls) == sum(1 for _, added, _ in model if added <= cls.version)
        assert cls.stats()["linked"] == len(model) - sum(
            1 for _, added, removed in model if removed <= added)


# ------------------------------------------------------------------ versions


def test_insert_at_next_version_is_invisible_until_published():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5, version=1)
    assert cls.lookup(0x1234) == (None, A)
    assert cls.lookup(0x1234, version=1)[0] is rule
    assert len(cls) == 0 and cls.rules() == [] and cls.rules(1) == [rule]
    assert cls.find_exact(0x1200, A, 5) is None and cls.find_exact(0x1200, A, 5, 1) is rule
    cls.publish(1)
    assert cls.lookup(0x1234)[0] is rule and len(cls) == 1


def test_remove_at_next_version_stays_visible_until_published_then_is_purged():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5)
    cls.remove(rule, version=1)
    assert cls.lookup(0x1234)[0] is rule and len(cls) == 1
    assert cls.lookup(0x1234, version=1) == (None, A)
    assert cls.stats()["removing"] == 1
    cls.publish(1)
    assert cls.lookup(0x1234) == (None, 0)  # the subtable is gone with its last rule
    assert cls.stats() == {"rules": 0, "linked": 0, "adding": 0, "removing": 0,
                           "subtables": 0, "buckets": 0}
    cls.remove(rule)  # already gone: a no-op
    assert rule.remove_version == 1


def test_remove_at_the_published_version_unlinks_at_once():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5)
    cls.remove(rule)
    assert cls.stats()["linked"] == 0 and cls.n_subtables == 0


def test_removed_before_ever_visible_is_unlinked_at_once():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5, version=2)
    cls.remove(rule, version=2)
    assert cls.stats()["linked"] == 0 and cls.stats()["adding"] == 0
    cls.remove(rule, version=0)  # gone already: a no-op, not an error
    with pytest.raises(ValueError):
        cls.restore(rule)
    assert all(cls.lookup(0x1234, v)[0] is None for v in range(4))


def test_replacement_at_one_version_never_shows_both_or_neither():
    cls = Classifier()
    old = cls.insert(0x1200, A, 5, payload="old")
    new = cls.insert(0x1200, A, 5, payload="new", version=1)
    cls.remove(old, version=1)
    assert cls.lookup(0x1234)[0] is old and cls.find_exact(0x1200, A, 5) is old
    assert cls.lookup(0x1234, 1)[0] is new and cls.find_exact(0x1200, A, 5, 1) is new
    assert cls.find_loose(0x1200, A) == [old] and cls.find_loose(0x1200, A, 1) == [new]
    cls.publish(1)
    assert cls.rules() == [new] and cls.stats()["linked"] == 1


def test_restore_cancels_a_pending_removal():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5)
    cls.remove(rule, version=1)
    cls.restore(rule)
    cls.publish(1)
    assert cls.lookup(0x1234)[0] is rule and rule.remove_version == VERSION_NEVER
    cls.restore(rule)  # not being removed: no-op
    cls.remove(rule)
    with pytest.raises(ValueError):
        cls.restore(rule)


def test_remove_again_earlier_brings_the_removal_forward():
    cls = Classifier()
    rule = cls.insert(0x1200, A, 5)
    cls.remove(rule, version=3)
    cls.remove(rule, version=5)  # later: ignored
    assert rule.remove_version == 3
    cls.remove(rule, version=2)
    cls.publish(2)
    assert cls.stats()["linked"] == 0


def test_clear_drops_everything():
    cls = Classifier()
    rules = [cls.insert(i << 8, A, i) for i in range(10)]
    cls.insert(1, B, 1, version=4)
    cls.clear()
    assert cls.stats()["linked"] == 0 and cls.lookup(0x0300) == (None, 0)
    assert all(not rule.visible(v) for rule in rules for v in range(5))
    cls.insert(0x0300, A, 1)
    assert cls.lookup(0x0300)[0] is not None


def test_no_growth_after_many_insert_remove_publish_cycles():
    cls = Classifier()
    keep = cls.insert(0x0100, A, 1000)  # stays: its priority stays on top of the heap
    rng = random.Random(7)
    masks = [A, B, A | B, A_HI]
    for cycle in range(2000):
        version = cls.version + 1
        rules = [cls.insert(rng.getrandbits(16), rng.choice(masks), rng.randrange(50),
                            version=version) for _ in range(5)]
        cls.publish(version)
        for rule in rules:
            cls.remove(rule, version + 1 if cycle % 2 else None)
        cls.publish(version + 1)
        if cycle % 100 == 99:  # also some removals never published until later
            cls.publish(cls.version)
    assert cls.rules() == [keep]
    assert cls.stats() == {"rules": 1, "linked": 1, "adding": 0, "removing": 0,
                           "subtables": 1, "buckets": 1}
    subtable = cls._subtables[0]  # white box: the lazily cleaned priority heap stays small
    assert len(subtable.heap) <= 2 * len(subtable.priorities) + 8
    assert len(cls._search) == 1


# ------------------------------------------------------------------ finds


@given(specs=rule_sets(), query_key=st.integers(0, 0xFFFF),
       query_mask=st.sampled_from(MASKS_16 + [0x1F00, 0xFFFF, 0x0001]),
       priority=st.integers(0, 6), version=st.integers(0, 4))
def test_finds_against_brute_force(specs, query_key, query_mask, priority, version):
    cls, model = build(specs)
    visible = [rule for rule, added, removed in model if added <= version < removed]

    def ids(rules):
        return sorted(map(id, rules))

    loose = [r for r in visible
             if r.mask & query_mask == query_mask and r.key & query_mask == query_key & query_mask]
    assert ids(cls.find_loose(query_key, query_mask, version)) == ids(loose)
    overlapping = [r for r in visible if r.priority == priority
                   and (r.key ^ query_key) & r.mask & query_mask == 0]
    assert ids(cls.find_overlapping(query_key, query_mask, priority, version)) == ids(overlapping)
    exact = [r for r in visible if r.mask == query_mask and r.priority == priority
             and r.key == query_key & query_mask]
    found = cls.find_exact(query_key, query_mask, priority, version)
    assert (found is None) == (not exact)
    if found is not None:
        assert found is exact[0]  # the first inserted of identical rules
    assert ids(cls.rules(version)) == ids(visible)


def test_find_loose_covers_more_specific_masks_only():
    cls = Classifier()
    wide = cls.insert(0x1000, A_HI, 1)
    exact = cls.insert(0x1234, A | B, 1)
    by_a = cls.insert(0x1200, A, 1)
    other = cls.insert(0x1300, A, 1)
    assert set(map(id, cls.find_loose(0x1200, A))) == {id(exact), id(by_a)}
    assert set(map(id, cls.find_loose(0, 0))) == {id(r) for r in (wide, exact, by_a, other)}
    assert cls.find_loose(0x1234, A | B) == [exact]


def test_find_overlapping_needs_same_priority_and_a_common_key():
    cls = Classifier()
    by_b = cls.insert(0x0034, B, 5)
    cls.insert(0x0034, B, 6)  # other priority
    cls.insert(0x1300, A, 5)  # disjoint from 0x12xx
    assert cls.find_overlapping(0x1200, A, 5) == [by_b]  # 0x1234 matches both
    assert cls.find_overlapping(0x1235, A | B, 5) == []
    assert cls.find_overlapping(0x1234, A | B, 5) == [by_b]
