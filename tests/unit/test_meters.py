"""The meter table: METER_MOD error paths and effects on the datapath's meters, the
multipart bodies, and a metered flow dropping packets over its rate on the dummy
datapath."""

from __future__ import annotations

import pytest

from datapath.dpif import Datapath
from datapath.meter import BandType, MeterBand
from openflow.consts import (
    OFP10,
    OFP13,
    OFPM_ALL,
    OFPM_CONTROLLER,
    OFPM_MAX,
    OFPM_SLOWPATH,
    OFPMC_ADD,
    OFPMC_DELETE,
    OFPMC_MODIFY,
    OFPMF_BURST,
    OFPMF_KBPS,
    OFPMF_PKTPS,
    OFPMF_STATS,
    OFPRR_METER_DELETE,
)
from openflow.errors import CodecError, Err
from openflow.flowtext import parse_meter
from openflow.messages import (
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    MeterBandStats,
    MeterConfig,
    MeterMod,
)
from switch_agent.meters import MeterTable
from tests.unit.test_dpif import FakeClock
from tests.unit.test_ofproto import Lab, frame


class Table:
    def __init__(self, **kwargs) -> None:
        self.clock = FakeClock(50.0)
        self.dp = Datapath("m", clock=self.clock)
        self.flows: dict[int, int] = {}
        self.table = MeterTable(self.dp, flow_count=lambda m: self.flows.get(m, 0), **kwargs)

    def apply(self, text: str, command: int = OFPMC_ADD):
        return self.table.apply(parse_meter(text, command=command), OFP13)

    def refuse(self, mod: MeterMod, err: Err) -> None:
        ids = self.dp.meters.ids()
        config = self.table.meter_config()
        with pytest.raises(CodecError) as info:
            self.table.apply(mod, OFP13)
        assert info.value.err is err
        assert self.dp.meters.ids() == ids and self.table.meter_config() == config


@pytest.fixture
def t():
    made = Table()
    yield made
    made.dp.close()


def mm(command: int, meter_id: int, flags: int = OFPMF_KBPS, *bands) -> MeterMod:
    return MeterMod(command=command, flags=flags, meter_id=meter_id,
                    bands=bands or (MeterBandDrop(1000),))


# ------------------------------------------------------------------ METER_MOD


def test_add_sets_the_datapath_meter(t):
    assert t.apply("meter=1,kbps,stats,bands=type=drop,rate=1000,burst_size=50").added == [1]
    # no OFPMF_BURST: the datapath gets burst 0 (= the rate)
    assert t.dp.meters.bands(1) == (MeterBand(BandType.DROP, 1000, 0),)
    t.apply("meter=2,pktps,burst,bands=type=drop,rate=10,burst_size=5,"
            "type=dscp_remark,rate=5,burst_size=2,prec_level=1")
    assert t.dp.meters.bands(2) == (MeterBand(BandType.DROP, 10, 5),
                                    MeterBand(BandType.DSCP_REMARK, 5, 2, 1))
    assert t.dp.meters._meters[2].pktps and not t.dp.meters._meters[1].pktps
    assert 1 in t.table and 3 not in t.table and len(t.table) == 2
    t.table.apply(mm(OFPMC_ADD, OFPM_MAX), OFP13)  # the largest id
    t.table.apply(MeterMod(command=OFPMC_ADD, flags=OFPMF_PKTPS, meter_id=4), OFP13)  # no bands
    assert t.dp.meters.ids() == [1, 2, 4, OFPM_MAX]


def test_meter_id_errors(t):
    t.refuse(mm(OFPMC_ADD, 0), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(OFPMC_ADD, OFPM_MAX + 1), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(OFPMC_ADD, OFPM_ALL), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(OFPMC_MODIFY, OFPM_ALL), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(OFPMC_DELETE, 0), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(OFPMC_DELETE, OFPM_MAX + 1), Err.OFPMMFC_INVALID_METER)
    t.refuse(mm(3, 1), Err.OFPMMFC_BAD_COMMAND)
    t.apply("meter=1,kbps,bands=type=drop,rate=1000")
    t.refuse(mm(OFPMC_ADD, 1), Err.OFPMMFC_METER_EXISTS)
    t.refuse(mm(OFPMC_MODIFY, 2), Err.OFPMMFC_UNKNOWN_METER)
    with pytest.raises(CodecError) as info:
        t.table.apply(mm(OFPMC_ADD, 5), OFP10)
    assert info.value.err is Err.OFPBRC_BAD_TYPE


def test_flag_and_band_errors(t):
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS | OFPMF_PKTPS), Err.OFPMMFC_BAD_FLAGS)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_STATS), Err.OFPMMFC_BAD_FLAGS)  # neither unit
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS | 0x10), Err.OFPMMFC_BAD_FLAGS)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS, MeterBandDrop(0)), Err.OFPMMFC_BAD_RATE)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS, MeterBandDrop(5), MeterBandDscpRemark(0, 0, 1)),
             Err.OFPMMFC_BAD_RATE)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS | OFPMF_BURST, MeterBandDrop(5, 0)),
             Err.OFPMMFC_BAD_BURST)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS, MeterBandExperimenter(5, 0, 0x2320, b"")),
             Err.OFPMMFC_BAD_BAND)
    t.refuse(mm(OFPMC_ADD, 1, OFPMF_KBPS, *[MeterBandDrop(r) for r in range(1, 10)]),
             Err.OFPMMFC_OUT_OF_BANDS)
    t.table.apply(mm(OFPMC_ADD, 1, OFPMF_KBPS, *[MeterBandDrop(r) for r in range(1, 9)]), OFP13)
    t.table.apply(mm(OFPMC_ADD, 2, OFPMF_KBPS, MeterBandDrop(5, 0)), OFP13)  # burst unused
    t.apply("meter=1,kbps,bands=type=drop,rate=1", OFPMC_MODIFY)
    t.refuse(mm(OFPMC_MODIFY, 1, OFPMF_PKTPS, MeterBandDrop(0)), Err.OFPMMFC_BAD_RATE)


def test_limits():
    t = Table(max_meters=2, max_bands=1)
    t.apply("meter=1,kbps,bands=type=drop,rate=10")
    t.refuse(mm(OFPMC_ADD, 2, OFPMF_KBPS, MeterBandDrop(1), MeterBandDrop(2)),
             Err.OFPMMFC_OUT_OF_BANDS)
    t.apply("meter=2,kbps,bands=type=drop,rate=10")
    t.refuse(mm(OFPMC_ADD, 3), Err.OFPMMFC_OUT_OF_METERS)
    t.apply("meter=2,pktps,bands=type=drop,rate=3", OFPMC_MODIFY)  # modify needs no room
    t.apply("meter=1", OFPMC_DELETE)
    t.apply("meter=3,kbps,bands=type=drop,rate=10")
    features = t.table.meter_features()
    assert (features.max_meter, features.max_bands) == (2, 1)
    t.dp.close()


def test_delete(t):
    for mid in (3, 1, 2):
        t.apply(f"meter={mid},kbps,bands=type=drop,rate=10")
    assert t.apply("meter=2", OFPMC_DELETE).deleted == [2]
    assert t.dp.meters.ids() == [1, 3]
    result = t.apply("meter=2", OFPMC_DELETE)  # missing: nothing, no error
    assert result.deleted == [] and not result.changed
    result = t.apply("meter=all", OFPMC_DELETE)
    assert result.deleted == [1, 3] and result.changed
    assert t.dp.meters.ids() == [] and len(t.table) == 0 and t.table.meter_config() == []


def test_modify_replaces_bands_and_keeps_the_age(t):
    t.apply("meter=1,pktps,stats,bands=type=drop,rate=2")
    assert [t.dp.meters.check(1, 60, t.clock()) for _ in range(3)] == [-1, -1, -2]
    t.clock.now += 3.5
    result = t.apply("meter=1,kbps,burst,bands=type=dscp_remark,rate=64,burst_size=8,"
                     "prec_level=2", OFPMC_MODIFY)
    assert result.modified == [1] and result.changed
    assert t.dp.meters.bands(1) == (MeterBand(BandType.DSCP_REMARK, 64, 8, 2),)
    (stats,) = t.table.meter_stats(1)
    assert (stats.duration_sec, stats.duration_nsec) == (3, 500_000_000)
    assert stats.packet_in_count == 0  # the datapath restarted the counters
    assert t.table.meter_config(1) == [MeterConfig(
        OFPMF_KBPS | OFPMF_BURST, 1, (MeterBandDscpRemark(64, 8, 2),))]


def test_virtual_meters_are_accepted_and_admit(t):
    t.table.apply(mm(OFPMC_ADD, OFPM_CONTROLLER, OFPMF_PKTPS, MeterBandDrop(2)), OFP13)
    t.table.apply(mm(OFPMC_ADD, OFPM_SLOWPATH, OFPMF_PKTPS, MeterBandDscpRemark(1, 0, 1)),
                  OFP13)
    assert [t.table.admit(OFPM_CONTROLLER, 100) for _ in range(3)] == [True, True, False]
    t.clock.now += 1
    assert t.table.admit(OFPM_CONTROLLER, 100)
    assert all(t.table.admit(OFPM_SLOWPATH, 100) for _ in range(5))  # remark: no drop
    assert t.table.admit(7, 100)  # no such meter
    t.table.apply(mm(OFPMC_MODIFY, OFPM_CONTROLLER, OFPMF_PKTPS, MeterBandDrop(9)), OFP13)
    with pytest.raises(CodecError) as info:
        t.table.check_flow_meter(OFPM_CONTROLLER)  # flows cannot use virtual meters
    assert info.value.err is Err.OFPMMFC_INVALID_METER
    assert t.apply("meter=controller", OFPMC_DELETE).deleted == [OFPM_CONTROLLER]
    assert t.apply("meter=all", OFPMC_DELETE).deleted == [OFPM_SLOWPATH]


def test_check_flow_meter(t):
    t.apply("meter=1,kbps,bands=type=drop,rate=10")
    t.table.check_flow_meter(1)
    for meter_id, err in ((0, Err.OFPMMFC_INVALID_METER), (OFPM_MAX + 1, Err.OFPMMFC_INVALID_METER),
                          (OFPM_ALL, Err.OFPMMFC_INVALID_METER), (2, Err.OFPMMFC_UNKNOWN_METER)):
        with pytest.raises(CodecError) as info:
            t.table.check_flow_meter(meter_id)
        assert info.value.err is err


# ------------------------------------------------------------------ replies


def test_meter_stats_reply(t):
    t.apply("meter=5,pktps,stats,bands=type=drop,rate=2,type=dscp_remark,rate=1,prec_level=1")
    t.clock.now += 0.5
    t.apply("meter=3,kbps,bands=type=drop,rate=100")
    t.flows[5] = 2
    t.clock.now += 1.25
    now = t.clock()
    results = [t.dp.meters.check(5, 100, now) for _ in range(4)]
    assert results == [-1, 1, -2, -2]  # pass; over the remark band; over both: the drop band
    stats = t.table.meter_stats()
    assert [s.meter_id for s in stats] == [3, 5]
    five = stats[1]
    assert (five.flow_count, five.packet_in_count, five.byte_in_count) == (2, 4, 400)
    assert five.band_stats == (MeterBandStats(2, 200), MeterBandStats(1, 100))
    assert (five.duration_sec, five.duration_nsec) == (1, 750_000_000)
    assert (stats[0].duration_sec, stats[0].duration_nsec) == (1, 250_000_000)
    assert stats[0].band_stats == (MeterBandStats(0, 0),) and stats[0].flow_count == 0
    assert t.table.meter_stats(5) == [five]
    with pytest.raises(CodecError) as info:
        t.table.meter_stats(4)
    assert info.value.err is Err.OFPMMFC_UNKNOWN_METER


def test_meter_config_and_features(t):
    t.apply("meter=2,pktps,burst,stats,bands=type=drop,rate=10,burst_size=3")
    t.apply("meter=1,kbps,bands=type=dscp_remark,rate=100,prec_level=3")
    assert t.table.meter_config() == [
        MeterConfig(OFPMF_KBPS, 1, (MeterBandDscpRemark(100, 0, 3),)),
        MeterConfig(OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS, 2, (MeterBandDrop(10, 3),)),
    ]
    assert t.table.meter_config(2) == t.table.meter_config()[1:]
    with pytest.raises(CodecError) as info:
        t.table.meter_config(9)
    assert info.value.err is Err.OFPMMFC_UNKNOWN_METER
    features = t.table.meter_features()
    assert features.max_meter == 1 << 18 and features.max_bands == 8
    assert features.band_types == 0b110  # DROP and DSCP_REMARK
    assert features.capabilities == 0xF  # KBPS, PKTPS, BURST, STATS
    assert features.max_color == 0


# ------------------------------------------------------------------ on the switch


@pytest.fixture
def lab():
    made = Lab()
    yield made
    made.dp.close()


def metered_lab(lab: Lab) -> MeterTable:
    """The switch's own meter table (what METER_MODs reach through ofproto)."""
    return lab.sw.meter_table


def test_metered_flow_drops_packets_over_the_rate(lab):
    meters = metered_lab(lab)
    meters.apply(parse_meter("meter=1,pktps,stats,bands=type=drop,rate=10"), OFP13)
    lab.flow("priority=10,in_port=1,actions=meter:1,output:2")
    for sport in range(25):  # at one instant: the bucket holds 10 packets (burst = rate)
        lab.send(1, frame(sport=sport % 3))
    assert lab.outs() == {1: 0, 2: 10, 3: 0, 4: 0}
    assert lab.sw.upcalls_handled == 1  # the other 24 were megaflow hits, metered too
    lab.clock.now += 0.5  # refills 5 packets
    for _ in range(8):
        lab.send(1, frame())
    assert len(lab.out(2)) == 5
    (stats,) = meters.meter_stats(1)
    assert (stats.flow_count, stats.packet_in_count, stats.byte_in_count) == (1, 33, 33 * 60)
    assert stats.band_stats == (MeterBandStats(18, 18 * 60),)
    # another flow without the meter is not limited
    lab.flow("priority=10,in_port=3,actions=output:4")
    for _ in range(20):
        lab.send(3, frame())
    assert len(lab.out(4)) == 20


def test_kbps_meter_and_meter_delete_removes_flows(lab):
    meters = metered_lab(lab)
    # 8 kbit/s, burst 8 kbit: 60-byte frames cost 480 bits, 16 fit in the bucket
    meters.apply(parse_meter("meter=7,kbps,bands=type=drop,rate=8"), OFP13)
    lab.flow("priority=10,in_port=1,actions=meter:7,output:2")
    lab.flow("priority=10,in_port=2,actions=output:3")
    for _ in range(20):
        lab.send(1, frame())
    assert len(lab.out(2)) == 16
    with pytest.raises(CodecError):
        lab.flow("priority=10,in_port=4,actions=meter:8,output:1")
    result = meters.apply(parse_meter("meter=7", command=OFPMC_DELETE), OFP13)
    removed = [pair for mid in result.deleted for pair in lab.sw.tables.remove_for_meter(mid)]
    assert [(rule.meter_id, reason) for rule, reason in removed] == [(7, OFPRR_METER_DELETE)]
    lab.sw.revalidate()
    lab.send(1, frame())
    assert lab.outs() == {1: 0, 2: 0, 3: 0, 4: 0}  # the flow is gone: OF1.3 miss drops
    assert len(list(lab.sw.tables)) == 1
