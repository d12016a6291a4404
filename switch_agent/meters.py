"""The OpenFlow meter table: METER_MOD semantics and the meter multipart replies.

Sits in switch_agent/ between ofproto (which hands it decoded METER_MODs and meter
multipart requests) and the datapath (``datapath.dpif.Datapath``), whose meters
(datapath/meter.py: token buckets with drop and DSCP-remark bands, by meter id) do the
per-packet work -- a flow's meter instruction becomes a datapath ``Meter(meter_id)``
action (xlate), so metering holds on megaflow cache hits too.  It owns what OpenFlow 1.3
says about meters: add / modify / delete with their error codes, the configuration as
the controller gave it (for METER_CONFIG), the meters' age, and the bodies of
METER_STATS, METER_CONFIG and METER_FEATURES replies.  It does not know flows: deleting a
meter returns the ids deleted and the caller removes the flows using them
(``FlowTables.remove_for_meter``, FLOW_REMOVED reason METER_DELETE); a meter's flow
count comes from a callable.  Time is the datapath's clock.

Semantics, OpenFlow 1.3.5 section 6.6 with Open vSwitch's readings (ofproto.c
``handle_meter_mod``, lib/ofp-meter.c, dpif-netdev's ``meter_set``):
  * a command other than ADD/MODIFY/DELETE -> OFPMMFC_BAD_COMMAND;
  * meter ids: 0 -> INVALID_METER; above OFPM_MAX only the virtual meters
    OFPM_SLOWPATH and OFPM_CONTROLLER (accepted, as OVS) and, for DELETE, OFPM_ALL
    (every meter); anything else -> INVALID_METER.  DELETE of a missing meter does
    nothing, without error (as OVS and the spec);
  * flags: exactly one of KBPS and PKTPS, else BAD_FLAGS (OVS refuses both; it reads
    neither as kbps, ovs-ofctl refuses to send that); bits other than KBPS, PKTPS,
    BURST, STATS -> BAD_FLAGS;
  * more than ``max_bands`` bands -> OUT_OF_BANDS; an experimenter band -> BAD_BAND;
    a rate of 0 -> BAD_RATE; OFPMF_BURST with a burst_size of 0 -> BAD_BURST (a bucket
    that holds nothing); without OFPMF_BURST the burst_size is not used and the
    datapath gets 0 (its burst is then one second at the rate, as dp-netdev);
  * ADD of an existing id -> METER_EXISTS; ``max_meters`` meters -> OUT_OF_METERS;
    MODIFY of a missing id -> UNKNOWN_METER.  MODIFY replaces the bands; the datapath
    restarts the buckets (full) and counters, the meter's age carries over (as OVS);
  * OFPMF_STATS is kept and reported; statistics are always counted (as OVS);
  * METER_STATS / METER_CONFIG of a missing meter -> UNKNOWN_METER (as OVS).
Virtual meters live in the datapath's meter table under their ids like any meter; the
slow path asks ``admit(meter_id, size)`` before sending a packet-in (CONTROLLER) or
handling an upcall (SLOWPATH): no such meter, or a band other than drop -> admitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from datapath.dpif import Datapath
from datapath.meter import METER_DROP, BandType, MeterBand
from openflow import messages as ofm
from openflow.consts import (
    OFP10,
    OFPM_ALL,
    OFPM_CONTROLLER,
    OFPM_MAX,
    OFPM_SLOWPATH,
    OFPMBT_DROP,
    OFPMBT_DSCP_REMARK,
    OFPMC_ADD,
    OFPMC_DELETE,
    OFPMC_MODIFY,
    OFPMF_BURST,
    OFPMF_KBPS,
    OFPMF_PKTPS,
    OFPMF_STATS,
)
from openflow.errors import CodecError, Err

VIRTUAL_METERS = frozenset((OFPM_SLOWPATH, OFPM_CONTROLLER))
METER_FLAGS = OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS
BAND_TYPES = (1 << OFPMBT_DROP) | (1 << OFPMBT_DSCP_REMARK)
DEFAULT_MAX_METERS = 1 << 18  # dp-netdev's MAX_METERS
DEFAULT_MAX_BANDS = 8  # dp-netdev's MAX_BANDS


@dataclass(slots=True)
class MeterModResult:
    """What a METER_MOD changed: the caller removes the flows of ``deleted`` meters
    (reason OFPRR_METER_DELETE)."""

    added: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted)


@dataclass(slots=True)
class _Meter:
    flags: int
    bands: tuple[ofm.MeterBand, ...]
    created: float


def _datapath_band(band: ofm.MeterBand, flags: int) -> MeterBand:
    burst = band.burst_size if flags & OFPMF_BURST else 0
    if isinstance(band, ofm.MeterBandDscpRemark):
        return MeterBand(BandType.DSCP_REMARK, band.rate, burst, band.prec_level)
    return MeterBand(BandType.DROP, band.rate, burst)


def _duration(seconds: float) -> tuple[int, int]:
    seconds = max(0.0, seconds)
    sec = int(seconds)
    return sec, min(999_999_999, int(round((seconds - sec) * 1e9)))


class MeterTable:
    """METER_MOD semantics over a datapath's meters; see the module docstring."""

    def __init__(self, datapath: Datapath, *,
                 flow_count: Callable[[int], int] = lambda meter_id: 0,
                 max_meters: int = DEFAULT_MAX_METERS,
                 max_bands: int = DEFAULT_MAX_BANDS) -> None:
        self.dp = datapath
        self.flow_count = flow_count
        self.max_meters = max_meters
        self.max_bands = max_bands
        self._meters: dict[int, _Meter] = {}

    def __len__(self) -> int:
        return len(self._meters)

    def __contains__(self, meter_id: object) -> bool:
        return meter_id in self._meters

    # -- METER_MOD

    def apply(self, mm: ofm.MeterMod, version: int) -> MeterModResult:
        """Apply a METER_MOD from a ``version`` connection; raises CodecError with the
        spec's error having changed nothing."""
        if version == OFP10:
            raise CodecError(Err.OFPBRC_BAD_TYPE, "OpenFlow 1.0 has no meters")
        command, meter_id = mm.command, mm.meter_id
        if command not in (OFPMC_ADD, OFPMC_MODIFY, OFPMC_DELETE):
            raise CodecError(Err.OFPMMFC_BAD_COMMAND, f"meter_mod command {command}")
        if meter_id == 0 or (meter_id > OFPM_MAX and meter_id not in VIRTUAL_METERS
                             and not (command == OFPMC_DELETE and meter_id == OFPM_ALL)):
            raise CodecError(Err.OFPMMFC_INVALID_METER, f"meter id {meter_id:#x}")
        if command == OFPMC_DELETE:
            return self._delete(meter_id)
        self._check_config(mm)
        old = self._meters.get(meter_id)
        if command == OFPMC_ADD:
            if old is not None:
                raise CodecError(Err.OFPMMFC_METER_EXISTS, f"meter {meter_id} exists")
            if len(self._meters) >= self.max_meters:
                raise CodecError(Err.OFPMMFC_OUT_OF_METERS, f"{self.max_meters} meters")
        elif old is None:
            raise CodecError(Err.OFPMMFC_UNKNOWN_METER, f"no meter {meter_id}")
        self.dp.meter_set(meter_id, [_datapath_band(b, mm.flags) for b in mm.bands],
                          pktps=bool(mm.flags & OFPMF_PKTPS))
        created = self.dp.clock() if old is None else old.created
        self._meters[meter_id] = _Meter(mm.flags, tuple(mm.bands), created)
        if old is None:
            return MeterModResult(added=[meter_id])
        return MeterModResult(modified=[meter_id])

    def _check_config(self, mm: ofm.MeterMod) -> None:
        flags = mm.flags
        if flags & ~METER_FLAGS:
            raise CodecError(Err.OFPMMFC_BAD_FLAGS, f"unknown meter flags {flags:#x}")
        if bool(flags & OFPMF_KBPS) == bool(flags & OFPMF_PKTPS):
            raise CodecError(Err.OFPMMFC_BAD_FLAGS, "a meter is either kbps or pktps")
        if len(mm.bands) > self.max_bands:
            raise CodecError(Err.OFPMMFC_OUT_OF_BANDS,
                             f"{len(mm.bands)} bands (at most {self.max_bands})")
        for band in mm.bands:
            if isinstance(band, ofm.MeterBandExperimenter):
                raise CodecError(Err.OFPMMFC_BAD_BAND, "experimenter bands are not supported")
            if band.rate == 0:
                raise CodecError(Err.OFPMMFC_BAD_RATE, "a band's rate is not 0")
            if flags & OFPMF_BURST and band.burst_size == 0:
                raise CodecError(Err.OFPMMFC_BAD_BURST, "burst flag with a burst_size of 0")

    def _delete(self, meter_id: int) -> MeterModResult:
        if meter_id == OFPM_ALL:
            doomed = sorted(self._meters)
        else:
            doomed = [meter_id] if meter_id in self._meters else []
        for mid in doomed:
            del self._meters[mid]
            self.dp.meter_del(mid)
        return MeterModResult(deleted=doomed)

    # -- what the rest of the slow path asks

    def check_flow_meter(self, meter_id: int) -> None:
        """A flow's meter instruction: an id no flow can use -> INVALID_METER (as OVS's
        decoder), a meter that does not exist -> UNKNOWN_METER."""
        if meter_id == 0 or meter_id > OFPM_MAX:
            raise CodecError(Err.OFPMMFC_INVALID_METER, f"meter id {meter_id:#x}")
        if meter_id not in self._meters:
            raise CodecError(Err.OFPMMFC_UNKNOWN_METER, f"no meter {meter_id}")

    def admit(self, meter_id: int, size: int) -> bool:
        """Meter one packet of ``size`` bytes through virtual meter ``meter_id``
        (OFPM_CONTROLLER before a packet-in, OFPM_SLOWPATH before an upcall); False
        when a drop band applies."""
        if meter_id not in self._meters:
            return True
        return self.dp.meters.check(meter_id, size, self.dp.clock()) != METER_DROP

    # -- multipart replies

    def _ids(self, meter_id: int) -> list[int]:
        if meter_id == OFPM_ALL:
            return sorted(self._meters)
        if meter_id not in self._meters:
            raise CodecError(Err.OFPMMFC_UNKNOWN_METER, f"no meter {meter_id}")
        return [meter_id]

    def meter_stats(self, meter_id: int = OFPM_ALL) -> list[ofm.MeterStats]:
        """METER_STATS entries for one meter or OFPM_ALL: the datapath's counters, the
        flows using it, its age."""
        now = self.dp.clock()
        entries = []
        for mid in self._ids(meter_id):
            stats = self.dp.meter_stats(mid)
            sec, nsec = _duration(now - self._meters[mid].created)
            packets = stats.packet_in_count if stats is not None else 0
            nbytes = stats.byte_in_count if stats is not None else 0
            bands = tuple(ofm.MeterBandStats(b.packet_count, b.byte_count)
                          for b in (stats.bands if stats is not None else ()))
            entries.append(ofm.MeterStats(
                meter_id=mid, flow_count=self.flow_count(mid), packet_in_count=packets,
                byte_in_count=nbytes, duration_sec=sec, duration_nsec=nsec,
                band_stats=bands))
        return entries

    def meter_config(self, meter_id: int = OFPM_ALL) -> list[ofm.MeterConfig]:
        """METER_CONFIG entries: flags and bands as the controller set them."""
        return [ofm.MeterConfig(flags=self._meters[mid].flags, meter_id=mid,
                                bands=self._meters[mid].bands)
                for mid in self._ids(meter_id)]

    def meter_features(self) -> ofm.MeterFeaturesStatsReply:
        """The METER_FEATURES body."""
        return ofm.MeterFeaturesStatsReply(
            max_meter=self.max_meters, band_types=BAND_TYPES, capabilities=METER_FLAGS,
            max_bands=self.max_bands, max_color=0)
