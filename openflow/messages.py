"""Version-independent model of every OpenFlow 1.0 / 1.3 message.

Like Open vSwitch's ``ofputil_*`` structs, one class per meaning whatever the wire
version: an OF1.0 STATS_REQUEST(FLOW) and an OF1.3 MULTIPART_REQUEST(FLOW) both
decode to ``FlowStatsRequest``.  Only the per-version codecs (``v10``, ``v13``)
know wire layouts.  Every message carries ``xid`` (keyword-only, default 0).

Conventions: port numbers use OF1.3's 32-bit numbering (``openflow.consts``), MAC
addresses are 48-bit ints, matches are ``openflow.match.Match``, actions and
instructions come from ``openflow.actions``.  Fields a version lacks keep their
defaults (OF1.0 has no table_id in FLOW_REMOVED, no cookie in PACKET_IN, ...).
Multipart replies carry their entries; a reply bigger than one message is split by
the codec and reassembled by the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openflow.actions import Action, Instruction
from openflow.consts import (
    OFP_DEFAULT_MISS_SEND_LEN,
    OFP_DEFAULT_PRIORITY,
    OFP_NO_BUFFER,
    OFPFC_ADD,
    OFPG_ANY,
    OFPM_ALL,
    OFPP_ANY,
    OFPQ_ALL,
    OFPTT_ALL,
)
from openflow.match import Match


@dataclass(frozen=True, slots=True)
class Message:
    xid: int = field(default=0, kw_only=True)


# --- Immutable messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello(Message):
    """HELLO; ``versions`` is the version bitmap element's set, None when absent."""

    versions: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class Error(Message):
    """OFPT_ERROR with wire numbers (see ``openflow.errors`` for meanings).

    For OF1.3's experimenter errors ``type`` is 0xffff, ``code`` is exp_type and
    ``experimenter`` the experimenter id.
    """

    type: int
    code: int
    data: bytes = b""
    experimenter: int | None = None


@dataclass(frozen=True, slots=True)
class EchoRequest(Message):
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class EchoReply(Message):
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Experimenter(Message):
    """OF1.3 EXPERIMENTER / OF1.0 VENDOR (OF1.0 has no exp_type: it stays 0)."""

    experimenter: int
    exp_type: int = 0
    data: bytes = b""


# --- Switch configuration -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Port:
    """struct ofp_port; ``curr``/``advertised``/``supported``/``peer`` in OF1.3 bits."""

    port_no: int
    hw_addr: int = 0
    name: str = ""
    config: int = 0
    state: int = 0
    curr: int = 0
    advertised: int = 0
    supported: int = 0
    peer: int = 0
    curr_speed: int = 0  # kbps; OF1.3 only
    max_speed: int = 0  # kbps; OF1.3 only


@dataclass(frozen=True, slots=True)
class FeaturesRequest(Message):
    pass


@dataclass(frozen=True, slots=True)
class FeaturesReply(Message):
    datapath_id: int
    n_buffers: int = 0
    n_tables: int = 1
    auxiliary_id: int = 0  # OF1.3
    capabilities: int = 0  # wire bits of the version (they differ: STP/ARP_MATCH_IP are 1.0)
    actions: int = 0  # OF1.0: bitmap of supported OFPAT_* (1 << type)
    ports: tuple[Port, ...] = ()  # OF1.0 (OF1.3 uses PortDescStatsRequest)


@dataclass(frozen=True, slots=True)
class GetConfigRequest(Message):
    pass


@dataclass(frozen=True, slots=True)
class GetConfigReply(Message):
    flags: int = 0
    miss_send_len: int = OFP_DEFAULT_MISS_SEND_LEN


@dataclass(frozen=True, slots=True)
class SetConfig(Message):
    flags: int = 0
    miss_send_len: int = OFP_DEFAULT_MISS_SEND_LEN


# --- Asynchronous messages ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketIn(Message):
    """PACKET_IN; OF1.0's in_port travels in ``match`` as the in_port field."""

    buffer_id: int = OFP_NO_BUFFER
    total_len: int = 0
    reason: int = 0
    table_id: int = 0
    cookie: int = 0
    match: Match = Match()
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class FlowRemoved(Message):
    cookie: int = 0
    priority: int = 0
    reason: int = 0
    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: Match = Match()


@dataclass(frozen=True, slots=True)
class PortStatus(Message):
    reason: int
    port: Port


# --- Controller command messages ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketOut(Message):
    buffer_id: int = OFP_NO_BUFFER
    in_port: int = 0xFFFFFFFD  # OFPP_CONTROLLER
    actions: tuple[Action, ...] = ()
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class FlowMod(Message):
    """FLOW_MOD; an OF1.0 action list is ``instructions=(ApplyActions(actions),)``."""

    match: Match = Match()
    cookie: int = 0
    cookie_mask: int = 0
    table_id: int = 0
    command: int = OFPFC_ADD
    idle_timeout: int = 0
    hard_timeout: int = 0
    priority: int = OFP_DEFAULT_PRIORITY
    buffer_id: int = OFP_NO_BUFFER
    out_port: int = OFPP_ANY
    out_group: int = OFPG_ANY
    flags: int = 0
    instructions: tuple[Instruction, ...] = ()


@dataclass(frozen=True, slots=True)
class Bucket:
    actions: tuple[Action, ...] = ()
    weight: int = 0
    watch_port: int = OFPP_ANY
    watch_group: int = OFPG_ANY


@dataclass(frozen=True, slots=True)
class GroupMod(Message):
    command: int
    type: int
    group_id: int
    buckets: tuple[Bucket, ...] = ()


@dataclass(frozen=True, slots=True)
class PortMod(Message):
    port_no: int
    hw_addr: int
    config: int = 0
    mask: int = 0
    advertise: int = 0  # OF1.3 bits; 0 = no change


@dataclass(frozen=True, slots=True)
class TableMod(Message):
    table_id: int
    config: int = 0


@dataclass(frozen=True, slots=True)
class MeterBandDrop:
    rate: int
    burst_size: int = 0


@dataclass(frozen=True, slots=True)
class MeterBandDscpRemark:
    rate: int
    burst_size: int = 0
    prec_level: int = 0


@dataclass(frozen=True, slots=True)
class MeterBandExperimenter:
    rate: int
    burst_size: int = 0
    experimenter: int = 0
    data: bytes = b""


MeterBand = MeterBandDrop | MeterBandDscpRemark | MeterBandExperimenter


@dataclass(frozen=True, slots=True)
class MeterMod(Message):
    command: int
    flags: int
    meter_id: int
    bands: tuple[MeterBand, ...] = ()


@dataclass(frozen=True, slots=True)
class BarrierRequest(Message):
    pass


@dataclass(frozen=True, slots=True)
class BarrierReply(Message):
    pass


@dataclass(frozen=True, slots=True)
class PacketQueue:
    queue_id: int
    port: int = 0  # OF1.3 only
    min_rate: int | None = None  # in 1/10 of a percent; None = property absent
    max_rate: int | None = None  # OF1.3 only


@dataclass(frozen=True, slots=True)
class QueueGetConfigRequest(Message):
    port: int


@dataclass(frozen=True, slots=True)
class QueueGetConfigReply(Message):
    port: int
    queues: tuple[PacketQueue, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleRequest(Message):
    role: int
    generation_id: int = 0


@dataclass(frozen=True, slots=True)
class RoleReply(Message):
    role: int
    generation_id: int = 0


@dataclass(frozen=True, slots=True)
class GetAsyncRequest(Message):
    pass


@dataclass(frozen=True, slots=True)
class GetAsyncReply(Message):
    """Masks as (master-or-equal, slave) pairs of bitmaps of reasons."""

    packet_in_mask: tuple[int, int] = (0, 0)
    port_status_mask: tuple[int, int] = (0, 0)
    flow_removed_mask: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class SetAsync(Message):
    packet_in_mask: tuple[int, int] = (0, 0)
    port_status_mask: tuple[int, int] = (0, 0)
    flow_removed_mask: tuple[int, int] = (0, 0)


# --- Multipart (OF1.3) / stats (OF1.0) ----------------------------------------------
# ``flags`` is the request's REQ_MORE or the reply's REPLY_MORE bit.


@dataclass(frozen=True, slots=True)
class DescStatsRequest(Message):
    flags: int = 0


@dataclass(frozen=True, slots=True)
class DescStatsReply(Message):
    mfr_desc: str = ""
    hw_desc: str = ""
    sw_desc: str = ""
    serial_num: str = ""
    dp_desc: str = ""
    flags: int = 0


@dataclass(frozen=True, slots=True)
class FlowStatsRequest(Message):
    match: Match = Match()
    table_id: int = OFPTT_ALL
    out_port: int = OFPP_ANY
    out_group: int = OFPG_ANY
    cookie: int = 0
    cookie_mask: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class FlowStats:
    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    priority: int = OFP_DEFAULT_PRIORITY
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0  # OF1.3
    cookie: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: Match = Match()
    instructions: tuple[Instruction, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowStatsReply(Message):
    entries: tuple[FlowStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class AggregateStatsRequest(Message):
    match: Match = Match()
    table_id: int = OFPTT_ALL
    out_port: int = OFPP_ANY
    out_group: int = OFPG_ANY
    cookie: int = 0
    cookie_mask: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class AggregateStatsReply(Message):
    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class TableStatsRequest(Message):
    flags: int = 0


@dataclass(frozen=True, slots=True)
class TableStats:
    table_id: int
    active_count: int = 0
    lookup_count: int = 0
    matched_count: int = 0
    name: str = ""  # OF1.0 only
    wildcards: int = 0  # OF1.0 only: OFPFW_* bits
    max_entries: int = 0  # OF1.0 only


@dataclass(frozen=True, slots=True)
class TableStatsReply(Message):
    entries: tuple[TableStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class PortStatsRequest(Message):
    port_no: int = OFPP_ANY
    flags: int = 0


@dataclass(frozen=True, slots=True)
class PortStats:
    port_no: int
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_frame_err: int = 0
    rx_over_err: int = 0
    rx_crc_err: int = 0
    collisions: int = 0
    duration_sec: int = 0  # OF1.3
    duration_nsec: int = 0  # OF1.3


@dataclass(frozen=True, slots=True)
class PortStatsReply(Message):
    entries: tuple[PortStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class QueueStatsRequest(Message):
    port_no: int = OFPP_ANY
    queue_id: int = OFPQ_ALL
    flags: int = 0


@dataclass(frozen=True, slots=True)
class QueueStats:
    port_no: int
    queue_id: int
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    duration_sec: int = 0  # OF1.3
    duration_nsec: int = 0  # OF1.3


@dataclass(frozen=True, slots=True)
class QueueStatsReply(Message):
    entries: tuple[QueueStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class GroupStatsRequest(Message):
    group_id: int = 0xFFFFFFFC  # OFPG_ALL
    flags: int = 0


@dataclass(frozen=True, slots=True)
class BucketCounter:
    packet_count: int = 0
    byte_count: int = 0


@dataclass(frozen=True, slots=True)
class GroupStats:
    group_id: int
    ref_count: int = 0
    packet_count: int = 0
    byte_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    bucket_stats: tuple[BucketCounter, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupStatsReply(Message):
    entries: tuple[GroupStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class GroupDescStatsRequest(Message):
    flags: int = 0


@dataclass(frozen=True, slots=True)
class GroupDesc:
    type: int
    group_id: int
    buckets: tuple[Bucket, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupDescStatsReply(Message):
    entries: tuple[GroupDesc, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class GroupFeaturesStatsRequest(Message):
    flags: int = 0


@dataclass(frozen=True, slots=True)
class GroupFeaturesStatsReply(Message):
    types: int = 0  # bitmap of 1 << OFPGT_*
    capabilities: int = 0  # OFPGFC_* bits
    max_groups: tuple[int, int, int, int] = (0, 0, 0, 0)
    actions: tuple[int, int, int, int] = (0, 0, 0, 0)  # bitmaps of 1 << OFPAT_*
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterStatsRequest(Message):
    meter_id: int = OFPM_ALL
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterBandStats:
    packet_band_count: int = 0
    byte_band_count: int = 0


@dataclass(frozen=True, slots=True)
class MeterStats:
    meter_id: int
    flow_count: int = 0
    packet_in_count: int = 0
    byte_in_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    band_stats: tuple[MeterBandStats, ...] = ()


@dataclass(frozen=True, slots=True)
class MeterStatsReply(Message):
    entries: tuple[MeterStats, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterConfigStatsRequest(Message):
    meter_id: int = OFPM_ALL
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterConfig:
    flags: int
    meter_id: int
    bands: tuple[MeterBand, ...] = ()


@dataclass(frozen=True, slots=True)
class MeterConfigStatsReply(Message):
    entries: tuple[MeterConfig, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterFeaturesStatsRequest(Message):
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MeterFeaturesStatsReply(Message):
    max_meter: int = 0
    band_types: int = 0  # bitmap of 1 << OFPMBT_*
    capabilities: int = 0  # OFPMF_* bits
    max_bands: int = 0
    max_color: int = 0
    flags: int = 0


# Table-features properties; ``type`` is the OFPTFPT_* number, so the *_MISS variants
# share a class with their base property.


@dataclass(frozen=True, slots=True)
class InstructionIds:
    type: int
    ids: tuple[int, ...] = ()  # OFPIT_* numbers


@dataclass(frozen=True, slots=True)
class NextTables:
    type: int
    table_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionIds:
    type: int
    ids: tuple[int, ...] = ()  # OFPAT_* numbers


@dataclass(frozen=True, slots=True)
class OxmIds:
    """MATCH, WILDCARDS, WRITE_SETFIELD, APPLY_SETFIELD (and _MISS): (field, hasmask)."""

    type: int
    fields: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class ExperimenterProp:
    type: int
    experimenter: int = 0
    exp_type: int = 0
    data: bytes = b""


TableFeatureProp = InstructionIds | NextTables | ActionIds | OxmIds | ExperimenterProp


@dataclass(frozen=True, slots=True)
class TableFeatures:
    table_id: int
    name: str = ""
    metadata_match: int = 0
    metadata_write: int = 0
    config: int = 0
    max_entries: int = 0
    properties: tuple[TableFeatureProp, ...] = ()


@dataclass(frozen=True, slots=True)
class TableFeaturesStatsRequest(Message):
    """An empty ``entries`` asks; a non-empty one sets the pipeline (OF1.3)."""

    entries: tuple[TableFeatures, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class TableFeaturesStatsReply(Message):
    entries: tuple[TableFeatures, ...] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class PortDescStatsRequest(Message):
    """OF1.3 PORT_DESC; on OF1.0 Open vSwitch's stats type 13 extension."""

    flags: int = 0


@dataclass(frozen=True, slots=True)
class PortDescStatsReply(Message):
    entries: tuple[Port, ...] = ()
    flags: int = 0


# Request -> reply pairs, for callers that match them up (channel, tests).
MULTIPART_REPLY_FOR = {
    DescStatsRequest: DescStatsReply,
    FlowStatsRequest: FlowStatsReply,
    AggregateStatsRequest: AggregateStatsReply,
    TableStatsRequest: TableStatsReply,
    PortStatsRequest: PortStatsReply,
    QueueStatsRequest: QueueStatsReply,
    GroupStatsRequest: GroupStatsReply,
    GroupDescStatsRequest: GroupDescStatsReply,
    GroupFeaturesStatsRequest: GroupFeaturesStatsReply,
    MeterStatsRequest: MeterStatsReply,
    MeterConfigStatsRequest: MeterConfigStatsReply,
    MeterFeaturesStatsRequest: MeterFeaturesStatsReply,
    TableFeaturesStatsRequest: TableFeaturesStatsReply,
    PortDescStatsRequest: PortDescStatsReply,
}
MULTIPART_REQUESTS = tuple(MULTIPART_REPLY_FOR)
MULTIPART_REPLIES = tuple(MULTIPART_REPLY_FOR.values())
# Replies whose body is a list of entries (splittable across several messages).
LISTED_REPLIES = (
    FlowStatsReply, TableStatsReply, PortStatsReply, QueueStatsReply, GroupStatsReply,
    GroupDescStatsReply, MeterStatsReply, MeterConfigStatsReply, TableFeaturesStatsReply,
    PortDescStatsReply,
)

