"""Meters (datapath.meter): token buckets on a fake clock, band choice, remark, stats.

Rates, bursts and the "full bucket at set, burst 0 = rate" rules are those of Open
vSwitch's userspace datapath (dpif-netdev.c dp_netdev_run_meter/meter_set).
"""

from __future__ import annotations

import pytest

from datapath.meter import (
    METER_DROP,
    METER_PASS,
    BandStats,
    BandType,
    MeterBand,
    MeterStats,
    MeterTable,
    remark_dscp,
)

DROP = BandType.DROP
REMARK = BandType.DSCP_REMARK


def passed(table: MeterTable, meter_id: int, size: int, times: list[float]) -> int:
    """How many packets of ``size`` sent at ``times`` pass."""
    return sum(table.check(meter_id, size, t) == METER_PASS for t in times)


def test_pktps_burst_then_rate() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(DROP, rate=100, burst_size=10)], pktps=True, now=0.0)
    # A full bucket of 10 packets passes at once; the 11th is dropped.
    assert passed(table, 1, 1500, [0.0] * 11) == 10
    # Then 100 packets/s: one every 10 ms, exactly.
    assert table.check(1, 64, 0.009) == METER_DROP
    assert table.check(1, 64, 0.011) == METER_PASS  # 11 ms: 1.1 packets earned, 0.1 left
    assert table.check(1, 64, 0.0195) == METER_DROP  # 0.95 packets
    assert table.check(1, 64, 0.0205) == METER_PASS


def test_pktps_sustained_rate() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(DROP, rate=1000, burst_size=1)], pktps=True, now=0.0)
    times = [i / 4000 for i in range(1, 40001)]  # 4000 packets/s for 10 s
    assert passed(table, 1, 100, times) == pytest.approx(10_000, abs=2)


def test_kbps_rate_and_burst() -> None:
    table = MeterTable()
    # 1000 kbit/s with a 100 kbit burst: 1000-byte packets cost 8 kbit each.
    table.set(7, [MeterBand(DROP, rate=1000, burst_size=100)], now=10.0)
    assert passed(table, 7, 1000, [10.0] * 20) == 12  # 12 * 8 = 96 <= 100 kbit
    # 8 ms later 8 kbit are back: exactly one more packet.
    assert table.check(7, 1000, 10.008) == METER_PASS
    assert table.check(7, 1000, 10.008) == METER_DROP
    # Over 10 s at 2 Mbit/s offered, about 1 Mbit/s passes (+ the bucket's 100 kbit).
    times = [10.008 + i / 250 for i in range(1, 2501)]
    assert passed(table, 7, 1000, times) * 8 == pytest.approx(10_000 + 4, abs=16)


def test_default_burst_is_one_second_of_rate() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(DROP, rate=50)], pktps=True, now=0.0)
    assert passed(table, 1, 64, [0.0] * 60) == 50
    table.set(2, [MeterBand(DROP, rate=80)], now=0.0)  # 80 kbit: ten 1000-byte packets
    assert passed(table, 2, 1000, [0.0] * 12) == 10


def test_bucket_never_exceeds_burst() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(DROP, rate=100, burst_size=5)], pktps=True, now=0.0)
    assert passed(table, 1, 64, [3600.0] * 10) == 5  # an hour idle refills only 5


def test_highest_exceeded_band_applies() -> None:
    table = MeterTable()
    bands = [MeterBand(REMARK, rate=10, burst_size=2, prec_level=1),
             MeterBand(DROP, rate=20, burst_size=4)]
    table.set(3, bands, pktps=True, now=0.0)
    results = [table.check(3, 100, 0.0) for _ in range(6)]
    # Packets 1-2 conform to both; 3-4 exceed only the 10 pkt/s band (remark);
    # 5-6 exceed both, and the 20 pkt/s band wins (drop).
    assert results == [METER_PASS, METER_PASS, 1, 1, METER_DROP, METER_DROP]
    stats = table.stats(3, now=2.5)
    assert stats == MeterStats(3, 6, 600, 2.5, (BandStats(2, 200), BandStats(2, 200)))


def test_band_order_does_not_matter() -> None:
    bands = [MeterBand(DROP, rate=20, burst_size=4),
             MeterBand(REMARK, rate=10, burst_size=2, prec_level=3)]
    table = MeterTable()
    table.set(3, bands, pktps=True, now=0.0)
    assert [table.check(3, 100, 0.0) for _ in range(6)] == [
        METER_PASS, METER_PASS, 3, 3, METER_DROP, METER_DROP]


def test_dscp_remark_only_meter_never_drops() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(REMARK, rate=100, burst_size=1, prec_level=2)], pktps=True,
              now=0.0)
    results = [table.check(1, 1500, i / 200) for i in range(200)]  # 200 pkt/s for 1 s
    assert METER_DROP not in results
    assert results.count(2) == pytest.approx(100, abs=2)


def test_stats_count_every_packet_and_the_applied_band() -> None:
    table = MeterTable()
    table.set(9, [MeterBand(DROP, rate=8, burst_size=8)], now=100.0)  # 8 kbit: 1 packet
    for size in (1000, 1000, 500, 200):
        table.check(9, size, 100.0)
    stats = table.stats(9, now=101.25)
    assert stats is not None
    assert (stats.packet_in_count, stats.byte_in_count) == (4, 2700)
    assert stats.bands == (BandStats(3, 1700),)
    assert stats.duration == 1.25


def test_unknown_meter_passes_and_has_no_stats() -> None:
    table = MeterTable()
    assert table.check(42, 1500, 0.0) == METER_PASS
    assert table.stats(42, 0.0) is None and table.bands(42) is None
    assert 42 not in table and len(table) == 0


def test_replace_resets_and_delete_removes() -> None:
    table = MeterTable()
    band = MeterBand(DROP, rate=1, burst_size=1)
    table.set(1, [band], pktps=True, now=0.0)
    assert [table.check(1, 64, 0.0) for _ in range(2)] == [METER_PASS, METER_DROP]
    table.set(1, [band, MeterBand(DROP, rate=5, burst_size=5)], pktps=True, now=0.5)
    assert table.check(1, 64, 0.5) == METER_PASS  # full again
    stats = table.stats(1, 0.5)
    assert stats is not None and stats.packet_in_count == 1 and len(stats.bands) == 2
    assert table.bands(1) == (band, MeterBand(DROP, rate=5, burst_size=5))
    assert table.ids() == [1] and 1 in table
    assert table.delete(1) and not table.delete(1)
    assert table.check(1, 64, 1.0) == METER_PASS


def test_clock_going_backwards_adds_nothing() -> None:
    table = MeterTable()
    table.set(1, [MeterBand(DROP, rate=10, burst_size=1)], pktps=True, now=5.0)
    assert table.check(1, 64, 5.0) == METER_PASS
    assert table.check(1, 64, 1.0) == METER_DROP  # earlier than the last refill
    assert table.check(1, 64, 5.09) == METER_DROP
    assert table.check(1, 64, 5.1) == METER_PASS


def test_meter_without_bands_passes_everything() -> None:
    table = MeterTable()
    table.set(1, [], now=0.0)
    assert passed(table, 1, 9000, [0.0] * 100) == 100
    assert table.stats(1, 0.0) == MeterStats(1, 100, 900_000, 0.0, ())


@pytest.mark.parametrize("dscp,prec,expected", [
    (18, 1, 20),  # AF21 -> AF22: Ryu's switch test tool (os-ken 4.2.2 meter/02_DSCP_REMARK_*)
    (10, 1, 12),  # AF11 -> AF12
    (10, 2, 14),  # AF11 -> AF13
    (34, 9, 38),  # AF41: drop precedence capped at 3 (high)
    (14, 1, 14),  # AF13 is already high
    (28, 0, 28),  # prec_level 0: unchanged
    (24, 1, 24),  # CS3: no drop precedence, unchanged
    (46, 2, 46),  # EF: unchanged
    (0, 1, 0),  # default: unchanged
    (2, 1, 2),  # class 0 is not AF
    (42, 1, 42),  # class 5 is not AF
    (19, 1, 19),  # the lowest bit set: not an AF codepoint
])
def test_remark_dscp(dscp: int, prec: int, expected: int) -> None:
    assert remark_dscp(dscp, prec) == expected


def test_band_validation() -> None:
    with pytest.raises(ValueError):
        MeterBand(DROP, rate=0)
    with pytest.raises(ValueError):
        MeterBand(DROP, rate=1, burst_size=-1)
    with pytest.raises(ValueError):
        MeterBand(REMARK, rate=1, prec_level=256)
    assert BandType(2) is REMARK
