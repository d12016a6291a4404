"""OpenFlow 1.3 wire codec, part two: multipart bodies and the shared structures.

``openflow.v13`` owns message dispatch; this module owns the bodies of
OFPT_MULTIPART_REQUEST/REPLY (every OFPMP_* type) and the structures multipart
bodies share with command messages: ``ofp_port`` (PORT_STATUS, PORT_DESC),
``ofp_bucket`` (GROUP_MOD, GROUP_DESC) and meter bands (METER_MOD, METER_CONFIG).

Decoders take the whole message and the offsets of the region to read; they raise
``CodecError`` with the spec's error (layout facts and error choices follow Open
vSwitch's lib/ofp-group.c, ofp-meter.c and ofp-table.c).  Encoders return bytes and
raise ValueError (or struct.error, which ``v13.encode`` turns into ValueError) for
values the wire cannot carry.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from openflow.errors import CodecError, Err
from openflow.messages import (
    ActionIds,
    AggregateStatsReply,
    AggregateStatsRequest,
    Bucket,
    BucketCounter,
    DescStatsReply,
    DescStatsRequest,
    ExperimenterProp,
    FlowStats,
    FlowStatsReply,
    FlowStatsRequest,
    GroupDesc,
    GroupDescStatsReply,
    GroupDescStatsRequest,
    GroupFeaturesStatsReply,
    GroupFeaturesStatsRequest,
    GroupStats,
    GroupStatsReply,
    GroupStatsRequest,
    InstructionIds,
    Message,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    MeterBandStats,
    MeterConfig,
    MeterConfigStatsReply,
    MeterConfigStatsRequest,
    MeterFeaturesStatsReply,
    MeterFeaturesStatsRequest,
    MeterStats,
    MeterStatsReply,
    MeterStatsRequest,
    NextTables,
    OxmIds,
    Port,
    PortDescStatsReply,
    PortDescStatsRequest,
    PortStats,
    PortStatsReply,
    PortStatsRequest,
    QueueStats,
    QueueStatsReply,
    QueueStatsRequest,
    TableFeatures,
    TableFeaturesStatsReply,
    TableFeaturesStatsRequest,
    TableStats,
    TableStatsReply,
    TableStatsRequest,
)
from openflow.oxm import decode_oxm_headers, decode_oxm_match, encode_oxm_headers, encode_oxm_match
from openflow.v13_actions import (
    decode_actions,
    decode_instructions,
    encode_actions,
    encode_instructions,
)
from openflow.wire import decode_str, encode_str, pad8

OFPT_MULTIPART_REQUEST = 18
OFPT_MULTIPART_REPLY = 19

OFPMP_DESC = 0
OFPMP_FLOW = 1
OFPMP_AGGREGATE = 2
OFPMP_TABLE = 3
OFPMP_PORT_STATS = 4
OFPMP_QUEUE = 5
OFPMP_GROUP = 6
OFPMP_GROUP_DESC = 7
OFPMP_GROUP_FEATURES = 8
OFPMP_METER = 9
OFPMP_METER_CONFIG = 10
OFPMP_METER_FEATURES = 11
OFPMP_TABLE_FEATURES = 12
OFPMP_PORT_DESC = 13
OFPMP_EXPERIMENTER = 0xFFFF

# Table-feature property types (OFPTFPT_*).
OFPTFPT_INSTRUCTIONS = 0
OFPTFPT_INSTRUCTIONS_MISS = 1
OFPTFPT_NEXT_TABLES = 2
OFPTFPT_NEXT_TABLES_MISS = 3
OFPTFPT_WRITE_ACTIONS = 4
OFPTFPT_WRITE_ACTIONS_MISS = 5
OFPTFPT_APPLY_ACTIONS = 6
OFPTFPT_APPLY_ACTIONS_MISS = 7
OFPTFPT_MATCH = 8
OFPTFPT_WILDCARDS = 10
OFPTFPT_WRITE_SETFIELD = 12
OFPTFPT_WRITE_SETFIELD_MISS = 13
OFPTFPT_APPLY_SETFIELD = 14
OFPTFPT_APPLY_SETFIELD_MISS = 15
OFPTFPT_EXPERIMENTER = 0xFFFE
OFPTFPT_EXPERIMENTER_MISS = 0xFFFF

# Which model class carries each property type (one definition, used both ways).
TABLE_FEATURE_PROP_CLASS: dict[int, type] = {
    OFPTFPT_INSTRUCTIONS: InstructionIds,
    OFPTFPT_INSTRUCTIONS_MISS: InstructionIds,
    OFPTFPT_NEXT_TABLES: NextTables,
    OFPTFPT_NEXT_TABLES_MISS: NextTables,
    OFPTFPT_WRITE_ACTIONS: ActionIds,
    OFPTFPT_WRITE_ACTIONS_MISS: ActionIds,
    OFPTFPT_APPLY_ACTIONS: ActionIds,
    OFPTFPT_APPLY_ACTIONS_MISS: ActionIds,
    OFPTFPT_MATCH: OxmIds,
    OFPTFPT_WILDCARDS: OxmIds,
    OFPTFPT_WRITE_SETFIELD: OxmIds,
    OFPTFPT_WRITE_SETFIELD_MISS: OxmIds,
    OFPTFPT_APPLY_SETFIELD: OxmIds,
    OFPTFPT_APPLY_SETFIELD_MISS: OxmIds,
    OFPTFPT_EXPERIMENTER: ExperimenterProp,
    OFPTFPT_EXPERIMENTER_MISS: ExperimenterProp,
}

OFPMBT_DROP = 1
OFPMBT_DSCP_REMARK = 2
OFPMBT_EXPERIMENTER = 0xFFFF

MULTIPART_HEADER = struct.Struct("!BBHIHH4x")  # ofp_header + type, flags, pad
MULTIPART_HEADER_SIZE = MULTIPART_HEADER.size  # 16

PORT = struct.Struct("!I4xHI2x16sIIIIIIII")  # hw_addr as u16 + u32
PORT_SIZE = PORT.size  # 64
BUCKET = struct.Struct("!HHII4x")  # len, weight, watch_port, watch_group
BUCKET_SIZE = BUCKET.size  # 16
BAND = struct.Struct("!HHII")  # type, len, rate, burst_size
BAND_SIZE = 16
_BAND_DROP = struct.Struct("!HHII4x")
_BAND_DSCP = struct.Struct("!HHIIB3x")
_BAND_EXPERIMENTER = struct.Struct("!HHIII")

_DESC = struct.Struct("!256s256s256s32s256s")
_FLOW_STATS_REQUEST = struct.Struct("!B3xII4xQQ")  # also AGGREGATE
_FLOW_STATS = struct.Struct("!HBxIIHHHH4xQQQ")
_AGGREGATE_REPLY = struct.Struct("!QQI4x")
_TABLE_STATS = struct.Struct("!B3xIQQ")
_PORT_STATS = struct.Struct("!I4x12QII")
_U32_PAD = struct.Struct("!I4x")  # PORT_STATS, GROUP, METER, METER_CONFIG requests
_QUEUE_STATS_REQUEST = struct.Struct("!II")
_QUEUE_STATS = struct.Struct("!IIQQQII")
_GROUP_STATS = struct.Struct("!H2xII4xQQII")
_COUNTER = struct.Struct("!QQ")  # bucket counter, meter band stats
_GROUP_DESC = struct.Struct("!HBxI")
_GROUP_FEATURES = struct.Struct("!II4I4I")
_METER_STATS = struct.Struct("!IH6xIQQII")
_METER_CONFIG = struct.Struct("!HHI")
_METER_FEATURES = struct.Struct("!IIIBB2x")
_TABLE_FEATURES = struct.Struct("!HB5x32sQQII")
_PROP = struct.Struct("!HH")  # also instruction/action ids
_U32X2 = struct.Struct("!II")  # experimenter, exp_type


def _bad_len(detail: str) -> CodecError:
    return CodecError(Err.OFPBRC_BAD_LEN, detail)


# --- Shared structures ---------------------------------------------------------------


def decode_port(buf: bytes, off: int) -> Port:
    """One 64-byte ofp_port at ``off`` (the caller checked the size)."""
    (port_no, mac_hi, mac_lo, name, config, state, curr, advertised, supported, peer,
     curr_speed, max_speed) = PORT.unpack_from(buf, off)
    return Port(port_no, (mac_hi << 32) | mac_lo, decode_str(name), config, state, curr,
                advertised, supported, peer, curr_speed, max_speed)


def encode_port(port: Port) -> bytes:
    mac = port.hw_addr
    return PORT.pack(port.port_no, mac >> 32, mac & 0xFFFFFFFF, encode_str(port.name, 16),
                     port.config, port.state, port.curr, port.advertised, port.supported,
                     port.peer, port.curr_speed, port.max_speed)


def decode_buckets(buf: bytes, off: int, end: int) -> tuple[Bucket, ...]:
    """The ofp_bucket list in [off, end); length problems are OFPGMFC_BAD_BUCKET (OVS)."""
    buckets = []
    while off < end:
        if end - off < BUCKET_SIZE:
            raise CodecError(Err.OFPGMFC_BAD_BUCKET, f"buckets end with {end - off} leftover bytes")
        length, weight, watch_port, watch_group = BUCKET.unpack_from(buf, off)
        if length < BUCKET_SIZE or off + length > end:
            raise CodecError(Err.OFPGMFC_BAD_BUCKET, f"bucket length {length} is not valid")
        actions = decode_actions(buf, off + BUCKET_SIZE, off + length)
        buckets.append(Bucket(actions, weight, watch_port, watch_group))
        off += length
    return tuple(buckets)


def encode_bucket(bucket: Bucket) -> bytes:
    actions = encode_actions(bucket.actions)
    return BUCKET.pack(BUCKET_SIZE + len(actions), bucket.weight, bucket.watch_port,
                       bucket.watch_group) + actions


def decode_bands(buf: bytes, off: int, end: int) -> tuple[Any, ...]:
    """The meter band list in [off, end) (METER_MOD, METER_CONFIG entries)."""
    bands: list[Any] = []
    while off < end:
        if end - off < BAND_SIZE:
            raise _bad_len(f"meter bands end with {end - off} leftover bytes")
        band_type, length, rate, burst_size = BAND.unpack_from(buf, off)
        if length < BAND_SIZE or off + length > end:
            raise _bad_len(f"meter band length {length} is not valid")
        if band_type == OFPMBT_DROP:
            if length != BAND_SIZE:
                raise _bad_len(f"drop band length {length}")
            bands.append(MeterBandDrop(rate, burst_size))
        elif band_type == OFPMBT_DSCP_REMARK:
            if length != BAND_SIZE:
                raise _bad_len(f"dscp_remark band length {length}")
            bands.append(MeterBandDscpRemark(rate, burst_size, buf[off + 12]))
        elif band_type == OFPMBT_EXPERIMENTER:
            experimenter = _BAND_EXPERIMENTER.unpack_from(buf, off)[4]
            bands.append(MeterBandExperimenter(rate, burst_size, experimenter,
                                               buf[off + BAND_SIZE:off + length]))
        else:
            raise CodecError(Err.OFPMMFC_BAD_BAND, f"meter band type {band_type}")
        off += length
    return tuple(bands)


def encode_band(band: Any) -> bytes:
    if type(band) is MeterBandDrop:
        return _BAND_DROP.pack(OFPMBT_DROP, BAND_SIZE, band.rate, band.burst_size)
    if type(band) is MeterBandDscpRemark:
        return _BAND_DSCP.pack(OFPMBT_DSCP_REMARK, BAND_SIZE, band.rate, band.burst_size,
                               band.prec_level)
    if type(band) is MeterBandExperimenter:
        return _BAND_EXPERIMENTER.pack(OFPMBT_EXPERIMENTER, BAND_SIZE + len(band.data),
                                       band.rate, band.burst_size,
                                       band.experimenter) + band.data
    raise ValueError(f"not a meter band: {band!r}")


# --- Entries of list-bodied replies --------------------------------------------------
# Each entry decoder reads the entry at ``off`` (``end`` bounds the body) and returns
# (entry, next offset); each encoder returns the entry's bytes.


def _fixed_entry(size: int, what: str, off: int, end: int) -> None:
    if end - off < size:
        raise _bad_len(f"{what} entry needs {size} bytes, {end - off} left")


def _entry_length(length: int, fixed: int, what: str, off: int, end: int) -> int:
    if length < fixed or off + length > end:
        raise _bad_len(f"{what} entry length {length} is not valid")
    return off + length


def _decode_flow_stats(buf: bytes, off: int, end: int) -> tuple[FlowStats, int]:
    _fixed_entry(_FLOW_STATS.size + 8, "flow stats", off, end)
    (length, table_id, duration_sec, duration_nsec, priority, idle_timeout, hard_timeout,
     flags, cookie, packet_count, byte_count) = _FLOW_STATS.unpack_from(buf, off)
    entry_end = _entry_length(length, _FLOW_STATS.size + 8, "flow stats", off, end)
    match, inst_off = decode_oxm_match(buf, off + _FLOW_STATS.size, entry_end)
    instructions = decode_instructions(buf, inst_off, entry_end)
    return FlowStats(table_id, duration_sec, duration_nsec, priority, idle_timeout,
                     hard_timeout, flags, cookie, packet_count, byte_count, match,
                     instructions), entry_end


def _encode_flow_stats(e: FlowStats) -> bytes:
    body = encode_oxm_match(e.match) + encode_instructions(e.instructions)
    return _FLOW_STATS.pack(_FLOW_STATS.size + len(body), e.table_id, e.duration_sec,
                            e.duration_nsec, e.priority, e.idle_timeout, e.hard_timeout,
                            e.flags, e.cookie, e.packet_count, e.byte_count) + body


def _decode_table_stats(buf: bytes, off: int, end: int) -> tuple[TableStats, int]:
    _fixed_entry(_TABLE_STATS.size, "table stats", off, end)
    table_id, active, lookup, matched = _TABLE_STATS.unpack_from(buf, off)
    return TableStats(table_id, active, lookup, matched), off + _TABLE_STATS.size


def _encode_table_stats(e: TableStats) -> bytes:
    return _TABLE_STATS.pack(e.table_id, e.active_count, e.lookup_count, e.matched_count)


def _decode_port_stats(buf: bytes, off: int, end: int) -> tuple[PortStats, int]:
    _fixed_entry(_PORT_STATS.size, "port stats", off, end)
    return PortStats(*_PORT_STATS.unpack_from(buf, off)), off + _PORT_STATS.size


def _encode_port_stats(e: PortStats) -> bytes:
    return _PORT_STATS.pack(
        e.port_no, e.rx_packets, e.tx_packets, e.rx_bytes, e.tx_bytes, e.rx_dropped,
        e.tx_dropped, e.rx_errors, e.tx_errors, e.rx_frame_err, e.rx_over_err, e.rx_crc_err,
        e.collisions, e.duration_sec, e.duration_nsec)


def _decode_queue_stats(buf: bytes, off: int, end: int) -> tuple[QueueStats, int]:
    _fixed_entry(_QUEUE_STATS.size, "queue stats", off, end)
    return QueueStats(*_QUEUE_STATS.unpack_from(buf, off)), off + _QUEUE_STATS.size


def _encode_queue_stats(e: QueueStats) -> bytes:
    return _QUEUE_STATS.pack(e.port_no, e.queue_id, e.tx_bytes, e.tx_packets, e.tx_errors,
                             e.duration_sec, e.duration_nsec)


def _counters(buf: bytes, off: int, end: int, what: str) -> list[tuple[int, int]]:
    if (end - off) % _COUNTER.size:
        raise _bad_len(f"{what} counters are not a multiple of 16 bytes")
    return [_COUNTER.unpack_from(buf, o) for o in range(off, end, _COUNTER.size)]


def _decode_group_stats(buf: bytes, off: int, end: int) -> tuple[GroupStats, int]:
    _fixed_entry(_GROUP_STATS.size, "group stats", off, end)
    (length, group_id, ref_count, packet_count, byte_count, duration_sec,
     duration_nsec) = _GROUP_STATS.unpack_from(buf, off)
    entry_end = _entry_length(length, _GROUP_STATS.size, "group stats", off, end)
    counters = _counters(buf, off + _GROUP_STATS.size, entry_end, "group stats")
    return GroupStats(group_id, ref_count, packet_count, byte_count, duration_sec,
                      duration_nsec, tuple(BucketCounter(p, b) for p, b in counters)), entry_end


def _encode_group_stats(e: GroupStats) -> bytes:
    counters = b"".join(_COUNTER.pack(c.packet_count, c.byte_count) for c in e.bucket_stats)
    return _GROUP_STATS.pack(_GROUP_STATS.size + len(counters), e.group_id, e.ref_count,
                             e.packet_count, e.byte_count, e.duration_sec,
                             e.duration_nsec) + counters


def _decode_group_desc(buf: bytes, off: int, end: int) -> tuple[GroupDesc, int]:
    _fixed_entry(_GROUP_DESC.size, "group desc", off, end)
    length, group_type, group_id = _GROUP_DESC.unpack_from(buf, off)
    entry_end = _entry_length(length, _GROUP_DESC.size, "group desc", off, end)
    buckets = decode_buckets(buf, off + _GROUP_DESC.size, entry_end)
    return GroupDesc(group_type, group_id, buckets), entry_end


def _encode_group_desc(e: GroupDesc) -> bytes:
    buckets = b"".join(encode_bucket(b) for b in e.buckets)
    return _GROUP_DESC.pack(_GROUP_DESC.size + len(buckets), e.type, e.group_id) + buckets


def _decode_meter_stats(buf: bytes, off: int, end: int) -> tuple[MeterStats, int]:
    _fixed_entry(_METER_STATS.size, "meter stats", off, end)
    (meter_id, length, flow_count, packet_in_count, byte_in_count, duration_sec,
     duration_nsec) = _METER_STATS.unpack_from(buf, off)
    entry_end = _entry_length(length, _METER_STATS.size, "meter stats", off, end)
    counters = _counters(buf, off + _METER_STATS.size, entry_end, "meter stats")
    return MeterStats(meter_id, flow_count, packet_in_count, byte_in_count, duration_sec,
                      duration_nsec, tuple(MeterBandStats(p, b) for p, b in counters)), entry_end


def _encode_meter_stats(e: MeterStats) -> bytes:
    counters = b"".join(_COUNTER.pack(s.packet_band_count, s.byte_band_count)
                        for s in e.band_stats)
    return _METER_STATS.pack(e.meter_id, _METER_STATS.size + len(counters), e.flow_count,
                             e.packet_in_count, e.byte_in_count, e.duration_sec,
                             e.duration_nsec) + counters


def _decode_meter_config(buf: bytes, off: int, end: int) -> tuple[MeterConfig, int]:
    _fixed_entry(_METER_CONFIG.size, "meter config", off, end)
    length, flags, meter_id = _METER_CONFIG.unpack_from(buf, off)
    entry_end = _entry_length(length, _METER_CONFIG.size, "meter config", off, end)
    bands = decode_bands(buf, off + _METER_CONFIG.size, entry_end)
    return MeterConfig(flags, meter_id, bands), entry_end


def _encode_meter_config(e: MeterConfig) -> bytes:
    bands = b"".join(encode_band(b) for b in e.bands)
    return _METER_CONFIG.pack(_METER_CONFIG.size + len(bands), e.flags, e.meter_id) + bands


def _decode_port_desc(buf: bytes, off: int, end: int) -> tuple[Port, int]:
    _fixed_entry(PORT_SIZE, "port desc", off, end)
    return decode_port(buf, off), off + PORT_SIZE


# --- Table features ------------------------------------------------------------------


def _tf_error(detail: str) -> CodecError:
    return CodecError(Err.OFPTFFC_BAD_LEN, detail)


def _decode_ids(buf: bytes, off: int, end: int) -> tuple[int, ...]:
    """Instruction or action ids: (type u16, len u16) headers, experimenter ones longer."""
    ids = []
    while off < end:
        if end - off < _PROP.size:
            raise _tf_error("truncated instruction/action id")
        id_type, length = _PROP.unpack_from(buf, off)
        if length < _PROP.size or off + length > end:
            raise _tf_error(f"instruction/action id length {length}")
        ids.append(id_type)
        off += length
    return tuple(ids)


def _decode_prop(buf: bytes, off: int, end: int, prop_type: int, strict: bool) -> Any:
    prop_class = TABLE_FEATURE_PROP_CLASS.get(prop_type)
    if prop_class is InstructionIds:
        return InstructionIds(prop_type, _decode_ids(buf, off, end))
    if prop_class is ActionIds:
        return ActionIds(prop_type, _decode_ids(buf, off, end))
    if prop_class is NextTables:
        return NextTables(prop_type, tuple(buf[off:end]))
    if prop_class is OxmIds:
        return OxmIds(prop_type, tuple(decode_oxm_headers(buf, off, end)))
    if prop_class is ExperimenterProp:
        if end - off < 8:
            raise _tf_error("truncated experimenter property")
        experimenter, exp_type = _U32X2.unpack_from(buf, off)
        return ExperimenterProp(prop_type, experimenter, exp_type, buf[off + 8:end])
    if strict:
        raise CodecError(Err.OFPTFFC_BAD_TYPE, f"table feature property type {prop_type}")
    return None


def _decode_table_features(buf: bytes, off: int, end: int,
                           strict: bool = False) -> tuple[TableFeatures, int]:
    """One ofp_table_features; ``strict`` (a request) rejects unknown property types,
    a reply's are skipped, as Open vSwitch does."""
    if end - off < _TABLE_FEATURES.size:
        raise _tf_error(f"table features entry needs 64 bytes, {end - off} left")
    (length, table_id, name, metadata_match, metadata_write, config,
     max_entries) = _TABLE_FEATURES.unpack_from(buf, off)
    if length < _TABLE_FEATURES.size or off + length > end:
        raise _tf_error(f"table features length {length} is not valid")
    entry_end = off + length
    props = []
    p = off + _TABLE_FEATURES.size
    while p < entry_end:
        if entry_end - p < _PROP.size:
            raise _tf_error("truncated table feature property")
        prop_type, prop_len = _PROP.unpack_from(buf, p)
        if prop_len < _PROP.size or p + prop_len > entry_end:
            raise _tf_error(f"table feature property length {prop_len}")
        prop = _decode_prop(buf, p + _PROP.size, p + prop_len, prop_type, strict)
        if prop is not None:
            props.append(prop)
        p += prop_len + pad8(prop_len)
    if p > entry_end:
        raise _tf_error("table feature property padding runs past its entry")
    return TableFeatures(table_id, decode_str(name), metadata_match, metadata_write, config,
                         max_entries, tuple(props)), entry_end


def _decode_table_features_request(buf: bytes, off: int,
                                   end: int) -> tuple[TableFeatures, int]:
    return _decode_table_features(buf, off, end, strict=True)


def _encode_prop(prop: Any) -> bytes:
    prop_type = getattr(prop, "type", None)
    if prop_type is None or TABLE_FEATURE_PROP_CLASS.get(prop_type) is not type(prop):
        raise ValueError(f"table feature property type {prop_type} for {type(prop).__name__}")
    if isinstance(prop, (InstructionIds, ActionIds)):
        body = b"".join(_PROP.pack(i, _PROP.size) for i in prop.ids)
    elif isinstance(prop, NextTables):
        body = bytes(prop.table_ids)
    elif isinstance(prop, OxmIds):
        body = encode_oxm_headers(prop.fields)
    elif isinstance(prop, ExperimenterProp):
        body = _U32X2.pack(prop.experimenter, prop.exp_type) + prop.data
    else:
        raise ValueError(f"not a table feature property: {prop!r}")
    length = _PROP.size + len(body)
    return _PROP.pack(prop_type, length) + body + b"\0" * pad8(length)


def _encode_table_features(e: TableFeatures) -> bytes:
    props = b"".join(_encode_prop(p) for p in e.properties)
    return _TABLE_FEATURES.pack(_TABLE_FEATURES.size + len(props), e.table_id,
                                encode_str(e.name, 32), e.metadata_match, e.metadata_write,
                                e.config, e.max_entries) + props


# --- Bodies: dispatch tables -----------------------------------------------------------

EntryDecoder = Callable[[bytes, int, int], tuple[Any, int]]

# Reply class -> (OFPMP type, entry encoder, entry decoder) for list-bodied replies.
LISTED_BODIES: dict[type, tuple[int, Callable[[Any], bytes], EntryDecoder]] = {
    FlowStatsReply: (OFPMP_FLOW, _encode_flow_stats, _decode_flow_stats),
    TableStatsReply: (OFPMP_TABLE, _encode_table_stats, _decode_table_stats),
    PortStatsReply: (OFPMP_PORT_STATS, _encode_port_stats, _decode_port_stats),
    QueueStatsReply: (OFPMP_QUEUE, _encode_queue_stats, _decode_queue_stats),
    GroupStatsReply: (OFPMP_GROUP, _encode_group_stats, _decode_group_stats),
    GroupDescStatsReply: (OFPMP_GROUP_DESC, _encode_group_desc, _decode_group_desc),
    MeterStatsReply: (OFPMP_METER, _encode_meter_stats, _decode_meter_stats),
    MeterConfigStatsReply: (OFPMP_METER_CONFIG, _encode_meter_config, _decode_meter_config),
    TableFeaturesStatsReply: (OFPMP_TABLE_FEATURES, _encode_table_features,
                              _decode_table_features),
    PortDescStatsReply: (OFPMP_PORT_DESC, encode_port, _decode_port_desc),
}
_LISTED_BY_TYPE = {mp_type: (cls, dec) for cls, (mp_type, _enc, dec) in LISTED_BODIES.items()}


def _entries(buf: bytes, off: int, decode_entry: EntryDecoder) -> tuple[Any, ...]:
    end = len(buf)
    entries = []
    while off < end:
        entry, off = decode_entry(buf, off, end)
        entries.append(entry)
    return tuple(entries)


def _exact(buf: bytes, size: int, what: str) -> None:
    if len(buf) != MULTIPART_HEADER_SIZE + size:
        raise _bad_len(f"{what} body is {len(buf) - MULTIPART_HEADER_SIZE} bytes, not {size}")


def _flow_request(buf: bytes, mp_type: int, flags: int, xid: int) -> Message:
    """FLOW and AGGREGATE requests share one body layout."""
    off = MULTIPART_HEADER_SIZE
    if len(buf) < off + _FLOW_STATS_REQUEST.size + 8:
        raise _bad_len("flow stats request too short")
    table_id, out_port, out_group, cookie, cookie_mask = _FLOW_STATS_REQUEST.unpack_from(buf, off)
    match, end = decode_oxm_match(buf, off + _FLOW_STATS_REQUEST.size)
    if end != len(buf):
        raise _bad_len(f"flow stats request has {len(buf) - end} bytes after its match")
    cls = FlowStatsRequest if mp_type == OFPMP_FLOW else AggregateStatsRequest
    return cls(match, table_id, out_port, out_group, cookie, cookie_mask, flags=flags, xid=xid)


def decode_request(buf: bytes, mp_type: int, flags: int, xid: int) -> Message:
    """The body of an OFPT_MULTIPART_REQUEST whose header says ``mp_type``."""
    if mp_type == OFPMP_FLOW or mp_type == OFPMP_AGGREGATE:
        return _flow_request(buf, mp_type, flags, xid)
    if mp_type in _EMPTY_REQUESTS:
        _exact(buf, 0, "multipart request")
        return _EMPTY_REQUESTS[mp_type](flags=flags, xid=xid)
    off = MULTIPART_HEADER_SIZE
    if mp_type == OFPMP_PORT_STATS or mp_type == OFPMP_GROUP or mp_type == OFPMP_METER \
            or mp_type == OFPMP_METER_CONFIG:
        _exact(buf, _U32_PAD.size, "multipart request")
        (value,) = _U32_PAD.unpack_from(buf, off)
        return _ID_REQUESTS[mp_type](value, flags=flags, xid=xid)
    if mp_type == OFPMP_QUEUE:
        _exact(buf, _QUEUE_STATS_REQUEST.size, "queue stats request")
        port_no, queue_id = _QUEUE_STATS_REQUEST.unpack_from(buf, off)
        return QueueStatsRequest(port_no, queue_id, flags=flags, xid=xid)
    if mp_type == OFPMP_TABLE_FEATURES:
        entries = _entries(buf, off, _decode_table_features_request)
        return TableFeaturesStatsRequest(entries, flags=flags, xid=xid)
    if mp_type == OFPMP_EXPERIMENTER:
        raise CodecError(Err.OFPBRC_BAD_EXPERIMENTER, "experimenter multipart request")
    raise CodecError(Err.OFPBRC_BAD_MULTIPART, f"multipart type {mp_type}")


_EMPTY_REQUESTS: dict[int, Callable[..., Message]] = {
    OFPMP_DESC: DescStatsRequest,
    OFPMP_TABLE: TableStatsRequest,
    OFPMP_GROUP_DESC: GroupDescStatsRequest,
    OFPMP_GROUP_FEATURES: GroupFeaturesStatsRequest,
    OFPMP_METER_FEATURES: MeterFeaturesStatsRequest,
    OFPMP_PORT_DESC: PortDescStatsRequest,
}
_ID_REQUESTS: dict[int, Callable[..., Message]] = {
    OFPMP_PORT_STATS: PortStatsRequest,
    OFPMP_GROUP: GroupStatsRequest,
    OFPMP_METER: MeterStatsRequest,
    OFPMP_METER_CONFIG: MeterConfigStatsRequest,
}


def decode_reply(buf: bytes, mp_type: int, flags: int, xid: int) -> Message:
    """The body of an OFPT_MULTIPART_REPLY whose header says ``mp_type``."""
    off = MULTIPART_HEADER_SIZE
    listed = _LISTED_BY_TYPE.get(mp_type)
    if listed is not None:
        cls, decode_entry = listed
        return cls(_entries(buf, off, decode_entry), flags=flags, xid=xid)
    if mp_type == OFPMP_DESC:
        _exact(buf, _DESC.size, "desc reply")
        mfr, hw, sw, serial, dp = _DESC.unpack_from(buf, off)
        return DescStatsReply(decode_str(mfr), decode_str(hw), decode_str(sw),
                              decode_str(serial), decode_str(dp), flags=flags, xid=xid)
    if mp_type == OFPMP_AGGREGATE:
        _exact(buf, _AGGREGATE_REPLY.size, "aggregate reply")
        packet_count, byte_count, flow_count = _AGGREGATE_REPLY.unpack_from(buf, off)
        return AggregateStatsReply(packet_count, byte_count, flow_count, flags=flags, xid=xid)
    if mp_type == OFPMP_GROUP_FEATURES:
        _exact(buf, _GROUP_FEATURES.size, "group features reply")
        v = _GROUP_FEATURES.unpack_from(buf, off)
        return GroupFeaturesStatsReply(v[0], v[1], v[2:6], v[6:10], flags=flags, xid=xid)
    if mp_type == OFPMP_METER_FEATURES:
        _exact(buf, _METER_FEATURES.size, "meter features reply")
        max_meter, band_types, capabilities, max_bands, max_color = (
            _METER_FEATURES.unpack_from(buf, off))
        return MeterFeaturesStatsReply(max_meter, band_types, capabilities, max_bands,
                                       max_color, flags=flags, xid=xid)
    if mp_type == OFPMP_EXPERIMENTER:
        raise CodecError(Err.OFPBRC_BAD_EXPERIMENTER, "experimenter multipart reply")
    raise CodecError(Err.OFPBRC_BAD_MULTIPART, f"multipart type {mp_type}")


# --- Bodies: encoders (model class -> (message type, OFPMP type, body encoder)) --------


def _flow_request_body(m: Any) -> bytes:
    return _FLOW_STATS_REQUEST.pack(m.table_id, m.out_port, m.out_group, m.cookie,
                                    m.cookie_mask) + encode_oxm_match(m.match)


def _empty(_m: Any) -> bytes:
    return b""


_Q = OFPT_MULTIPART_REQUEST
_R = OFPT_MULTIPART_REPLY
BODY_ENCODERS: dict[type, tuple[int, int, Callable[[Any], bytes]]] = {
    DescStatsRequest: (_Q, OFPMP_DESC, _empty),
    FlowStatsRequest: (_Q, OFPMP_FLOW, _flow_request_body),
    AggregateStatsRequest: (_Q, OFPMP_AGGREGATE, _flow_request_body),
    TableStatsRequest: (_Q, OFPMP_TABLE, _empty),
    PortStatsRequest: (_Q, OFPMP_PORT_STATS, lambda m: _U32_PAD.pack(m.port_no)),
    QueueStatsRequest: (_Q, OFPMP_QUEUE,
                        lambda m: _QUEUE_STATS_REQUEST.pack(m.port_no, m.queue_id)),
    GroupStatsRequest: (_Q, OFPMP_GROUP, lambda m: _U32_PAD.pack(m.group_id)),
    GroupDescStatsRequest: (_Q, OFPMP_GROUP_DESC, _empty),
    GroupFeaturesStatsRequest: (_Q, OFPMP_GROUP_FEATURES, _empty),
    MeterStatsRequest: (_Q, OFPMP_METER, lambda m: _U32_PAD.pack(m.meter_id)),
    MeterConfigStatsRequest: (_Q, OFPMP_METER_CONFIG, lambda m: _U32_PAD.pack(m.meter_id)),
    MeterFeaturesStatsRequest: (_Q, OFPMP_METER_FEATURES, _empty),
    TableFeaturesStatsRequest: (
        _Q, OFPMP_TABLE_FEATURES,
        lambda m: b"".join(_encode_table_features(e) for e in m.entries)),
    PortDescStatsRequest: (_Q, OFPMP_PORT_DESC, _empty),
    DescStatsReply: (_R, OFPMP_DESC, lambda m: _DESC.pack(
        encode_str(m.mfr_desc, 256), encode_str(m.hw_desc, 256), encode_str(m.sw_desc, 256),
        encode_str(m.serial_num, 32), encode_str(m.dp_desc, 256))),
    AggregateStatsReply: (_R, OFPMP_AGGREGATE, lambda m: _AGGREGATE_REPLY.pack(
        m.packet_count, m.byte_count, m.flow_count)),
    GroupFeaturesStatsReply: (_R, OFPMP_GROUP_FEATURES, lambda m: _GROUP_FEATURES.pack(
        m.types, m.capabilities, *m.max_groups, *m.actions)),
    MeterFeaturesStatsReply: (_R, OFPMP_METER_FEATURES, lambda m: _METER_FEATURES.pack(
        m.max_meter, m.band_types, m.capabilities, m.max_bands, m.max_color)),
}
for _cls, (_mp_type, _encode_entry, _dec) in LISTED_BODIES.items():
    BODY_ENCODERS[_cls] = (
        _R, _mp_type,
        lambda m, enc=_encode_entry: b"".join(enc(e) for e in m.entries))  # type: ignore[misc]
del _cls, _mp_type, _encode_entry, _dec


def encode_multipart(msg: Any, version: int) -> bytes:
    msg_type, mp_type, body_encoder = BODY_ENCODERS[type(msg)]
    body = body_encoder(msg)
    return MULTIPART_HEADER.pack(version, msg_type, MULTIPART_HEADER_SIZE + len(body), msg.xid,
                                 mp_type, msg.flags) + body


def encode_reply_parts(msg: Any, version: int, limit: int) -> list[bytes]:
    """Split a list-bodied reply into messages of at most ``limit`` bytes each."""
    mp_type, encode_entry, _dec = LISTED_BODIES[type(msg)]
    room = limit - MULTIPART_HEADER_SIZE
    bodies: list[list[bytes]] = [[]]
    size = 0
    for entry in msg.entries:
        raw = encode_entry(entry)
        if len(raw) > room:
            raise ValueError(f"a {len(raw)}-byte entry does not fit in {limit}-byte messages")
        if size + len(raw) > room:
            bodies.append([])
            size = 0
        bodies[-1].append(raw)
        size += len(raw)
    last = len(bodies) - 1
    parts = []
    for i, chunks in enumerate(bodies):
        body = b"".join(chunks)
        flags = msg.flags & ~1 if i == last else msg.flags | 1
        parts.append(MULTIPART_HEADER.pack(version, OFPT_MULTIPART_REPLY,
                                           MULTIPART_HEADER_SIZE + len(body), msg.xid,
                                           mp_type, flags) + body)
    return parts
