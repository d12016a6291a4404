"""ofctl_text: what swctl's flow tools print -- JSON-ready entries and their human text.

Sits under switch_agent/ofctl.py (which talks to the switch) on top of the message
model: it turns replies (flow, port, table, group and meter statistics, port
descriptions, features, switch config) into plain dicts (the ``--json`` output; the
old control-socket shapes for flows, ports, groups and meters) and those dicts into
the text ovs-ofctl 3.1 prints (bit names and their order, the "ditto" runs of
dump-tables, the sorted port list of ``show``).  No I/O.
"""

from __future__ import annotations

from typing import Any

from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow import messages as m
from openflow.consts import OFP10, OFP13, VERSION_NAMES

# -- bit names, in the order ovs-ofctl prints them

FLOW_FLAGS = (("send_flow_rem", 1 << 0), ("check_overlap", 1 << 1), ("reset_counts", 1 << 2),
              ("no_packet_counts", 1 << 3), ("no_byte_counts", 1 << 4))
METER_FLAGS = (("kbps", 1 << 0), ("pktps", 1 << 1), ("burst", 1 << 2), ("stats", 1 << 3))
GROUP_TYPES = {0: "all", 1: "select", 2: "indirect", 3: "ff"}
PORT_CONFIG = (("PORT_DOWN", 1 << 0), ("NO_STP", 1 << 1), ("NO_RECV", 1 << 2),
               ("NO_RECV_STP", 1 << 3), ("NO_FLOOD", 1 << 4), ("NO_FWD", 1 << 5),
               ("NO_PACKET_IN", 1 << 6))
PORT_STATE = {OFP10: (("LINK_DOWN", 1 << 0),),
              OFP13: (("LINK_DOWN", 1 << 0), ("BLOCKED", 1 << 1), ("LIVE", 1 << 2))}
OFPPS10_STP_MASK = 3 << 8
STP_STATES = {1 << 8: "STP_LEARN", 2 << 8: "STP_FORWARD", 3 << 8: "STP_BLOCK"}
PORT_FEATURES = (("10MB-HD", 1 << 0), ("10MB-FD", 1 << 1), ("100MB-HD", 1 << 2),
                 ("100MB-FD", 1 << 3), ("1GB-HD", 1 << 4), ("1GB-FD", 1 << 5),
                 ("10GB-FD", 1 << 6), ("40GB-FD", 1 << 7), ("100GB-FD", 1 << 8),
                 ("1TB-FD", 1 << 9), ("OTHER", 1 << 10), ("COPPER", 1 << 11),
                 ("FIBER", 1 << 12), ("AUTO_NEG", 1 << 13), ("AUTO_PAUSE", 1 << 14),
                 ("AUTO_PAUSE_ASYM", 1 << 15))
# OpenFlow 1.0 has no port speeds: ovs-ofctl takes the fastest feature bit (kbps).
SPEED_BY_FEATURE = ((1 << 9, 1_000_000_000), (1 << 8, 100_000_000), (1 << 7, 40_000_000),
                    (1 << 6, 10_000_000), (3 << 4, 1_000_000), (3 << 2, 100_000),
                    (3 << 0, 10_000))
# Switch capabilities: (name, OF1.0 wire bit, OF1.3 wire bit), in ovs-ofctl's order.
CAPABILITIES = (("FLOW_STATS", 1 << 0, 1 << 0), ("TABLE_STATS", 1 << 1, 1 << 1),
                ("PORT_STATS", 1 << 2, 1 << 2), ("STP", 1 << 3, 0), ("GROUP_STATS", 0, 1 << 3),
                ("IP_REASM", 1 << 5, 1 << 5), ("QUEUE_STATS", 1 << 6, 1 << 6),
                ("ARP_MATCH_IP", 1 << 7, 0), ("PORT_BLOCKED", 0, 1 << 8))
# OF1.0 FEATURES_REPLY actions bitmap (1 << OFPAT10_*), in ovs-ofctl's order.
V10_ACTIONS = (("output", 0), ("enqueue", 11), ("set_vlan_vid", 1), ("set_vlan_pcp", 2),
               ("strip_vlan", 3), ("mod_dl_src", 4), ("mod_dl_dst", 5), ("mod_nw_src", 6),
               ("mod_nw_dst", 7), ("mod_nw_tos", 8), ("mod_tp_src", 9), ("mod_tp_dst", 10))
FRAGS = {0: "normal", 1: "drop", 2: "reassemble", 3: "nx-match"}
_VERSION_TAGS = {OFP10: "", OFP13: " (OF1.3)"}


def bit_names(bits: int, table: tuple[tuple[str, int], ...]) -> list[str]:
    """Names of the set bits, unnamed ones as one hex number (ovs-ofctl's way)."""
    names = [name for name, bit in table if bits & bit]
    rest = bits & ~sum(bit for _, bit in table)
    return names + ([f"0x{rest:x}"] if rest else [])


def _words(names: list[str]) -> str:
    return " ".join(names) or "0"


def _mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def _header(name: str, result: dict[str, Any], key: str = "xid") -> str:
    version = {v: k for k, v in VERSION_NAMES.items()}[result["version"]]
    return f"{name}{_VERSION_TAGS.get(version, '')} (xid=0x{result[key]:x}):"


def _duration(sec: int, nsec: int) -> str:
    return flowtext.format_duration(sec, nsec)


# ------------------------------------------------------------------ entries (the JSON)


def flow_entry(e: m.FlowStats, version: int) -> dict[str, Any]:
    return {
        "table": e.table_id, "priority": e.priority, "cookie": f"{e.cookie:#x}",
        "duration": _duration(e.duration_sec, e.duration_nsec),
        "n_packets": e.packet_count, "n_bytes": e.byte_count,
        "idle_timeout": e.idle_timeout, "hard_timeout": e.hard_timeout,
        "flags": [name for name, bit in FLOW_FLAGS if e.flags & bit],
        "match": flowtext.format_match(e.match, version=version),
        "actions": flowtext.format_actions(e.instructions, version),
        "text": flowtext.format_flow_stats(e, version),
    }


def port_stats_entry(e: m.PortStats, name: str, version: int) -> dict[str, Any]:
    return {
        "port_no": e.port_no, "port": fa.format_port(e.port_no), "name": name,
        "rx_packets": e.rx_packets, "rx_bytes": e.rx_bytes, "rx_dropped": e.rx_dropped,
        "rx_errors": e.rx_errors, "rx_frame_err": e.rx_frame_err,
        "rx_over_err": e.rx_over_err, "rx_crc_err": e.rx_crc_err,
        "tx_packets": e.tx_packets, "tx_bytes": e.tx_bytes, "tx_dropped": e.tx_dropped,
        "tx_errors": e.tx_errors, "collisions": e.collisions,
        "duration": None if version == OFP10 else _duration(e.duration_sec, e.duration_nsec),
    }


def _speed(features: int) -> int:
    return next((kbps for bits, kbps in SPEED_BY_FEATURE if features & bits), 0)


def port_entry(p: m.Port, version: int) -> dict[str, Any]:
    state = p.state
    stp = []
    if version == OFP10 and state & OFPPS10_STP_MASK:
        stp = [STP_STATES[state & OFPPS10_STP_MASK]]
        state &= ~OFPPS10_STP_MASK
    curr_speed, max_speed = p.curr_speed, p.max_speed
    if version == OFP10:
        curr_speed, max_speed = _speed(p.curr), _speed(p.supported)
    return {
        "port_no": p.port_no, "port": fa.format_port(p.port_no), "name": p.name,
        "hw_addr": _mac(p.hw_addr),
        "config": bit_names(p.config, PORT_CONFIG),
        "state": stp + (bit_names(state, PORT_STATE[version]) if state or not stp else []),
        **{key: bit_names(getattr(p, key), PORT_FEATURES)
           for key in ("curr", "advertised", "supported", "peer")},
        "curr_speed": curr_speed, "max_speed": max_speed,
    }


def table_entry(e: m.TableStats, version: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"table_id": e.table_id, "active_count": e.active_count,
                             "lookup_count": e.lookup_count, "matched_count": e.matched_count}
    if version == OFP10:
        entry.update(name=e.name, wildcards=e.wildcards, max_entries=e.max_entries)
    return entry


def features_entry(f: m.FeaturesReply, version: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": VERSION_NAMES[version], "datapath_id": f"{f.datapath_id:016x}",
        "n_tables": f.n_tables, "n_buffers": f.n_buffers, "auxiliary_id": f.auxiliary_id,
        "capabilities": [name for name, bit10, bit13 in CAPABILITIES
                         if f.capabilities & (bit10 if version == OFP10 else bit13)],
    }
    if version == OFP10:
        entry["actions"] = [name for name, bit in V10_ACTIONS if f.actions & 1 << bit]
    return entry


def config_entry(c: m.GetConfigReply) -> dict[str, Any]:
    return {"frags": FRAGS[c.flags & 3], "invalid_ttl_to_controller": bool(c.flags & 4),
            "miss_send_len": c.miss_send_len}


def group_entry(desc: m.GroupDesc, counters: m.GroupStats | None, version: int,
                ) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "group_id": desc.group_id, "type": GROUP_TYPES.get(desc.type, str(desc.type)),
        "buckets": [{"weight": b.weight, "watch_port": fa.format_port(b.watch_port),
                     "watch_group": b.watch_group,
                     "actions": fa.format_action_list(b.actions, version)}
                    for b in desc.buckets],
        "text": flowtext.format_group(desc, version),
    }
    if counters is not None:
        entry.update(ref_count=counters.ref_count, packet_count=counters.packet_count,
                     byte_count=counters.byte_count,
                     duration=_duration(counters.duration_sec, counters.duration_nsec),
                     bucket_stats=[{"packet_count": b.packet_count, "byte_count": b.byte_count}
                                   for b in counters.bucket_stats])
    return entry


def meter_entry(config: m.MeterConfig, counters: m.MeterStats | None) -> dict[str, Any]:
    bands: list[dict[str, Any]] = []
    for band in config.bands:
        item: dict[str, Any] = {"rate": band.rate, "burst_size": band.burst_size}
        if isinstance(band, m.MeterBandDscpRemark):
            item.update(type="dscp_remark", prec_level=band.prec_level)
        elif isinstance(band, m.MeterBandDrop):
            item["type"] = "drop"
        else:
            item["type"] = "experimenter"
        bands.append(item)
    entry: dict[str, Any] = {
        "meter_id": config.meter_id,
        "flags": [name for name, bit in METER_FLAGS if config.flags & bit],
        "bands": bands, "text": flowtext.format_meter(config),
    }
    if counters is not None:
        entry.update(flow_count=counters.flow_count, packet_in_count=counters.packet_in_count,
                     byte_in_count=counters.byte_in_count,
                     duration=_duration(counters.duration_sec, counters.duration_nsec),
                     band_stats=[{"packet_count": b.packet_band_count,
                                  "byte_count": b.byte_band_count}
                                 for b in counters.band_stats])
    return entry


# ------------------------------------------------------------------ human text


def nothing(r: dict[str, Any]) -> str:
    return ""


def flows_text(r: dict[str, Any]) -> str:
    """``ovs-ofctl dump-flows`` lines, which ``ovs-ofctl add-flows`` reads back."""
    return "\n".join(flow["text"] for flow in r["flows"])


def ports_text(r: dict[str, Any]) -> str:
    """``ovs-ofctl dump-ports`` blocks (after its header line)."""
    lines = [f"{len(r['ports'])} ports"]
    for e in r["ports"]:
        lines += [
            f"  port {e['port']:>2}: rx pkts={e['rx_packets']}, bytes={e['rx_bytes']}, "
            f"drop={e['rx_dropped']}, errs={e['rx_errors']}, frame={e['rx_frame_err']}, "
            f"over={e['rx_over_err']}, crc={e['rx_crc_err']}",
            f"           tx pkts={e['tx_packets']}, bytes={e['tx_bytes']}, "
            f"drop={e['tx_dropped']}, errs={e['tx_errors']}, coll={e['collisions']}",
        ]
        if e["duration"] is not None:
            lines.append(f"           duration={e['duration']}")
    return "\n".join(lines)


def groups_text(r: dict[str, Any]) -> str:
    return "\n".join(f" {group['text']}" for group in r["groups"])


def meters_text(r: dict[str, Any]) -> str:
    return "\n".join(meter["text"] for meter in r["meters"])


def port_lines(ports: list[dict[str, Any]]) -> list[str]:
    """ovs-ofctl's port description blocks."""
    lines = []
    for p in ports:
        lines += [f" {p['port']}({p['name']}): addr:{p['hw_addr']}",
                  f"     config:     {_words(p['config'])}",
                  f"     state:      {_words(p['state'])}"]
        for key, label in (("curr", "current:   "), ("advertised", "advertised:"),
                           ("supported", "supported: "), ("peer", "peer:      ")):
            if p[key]:
                lines.append(f"     {label} {' '.join(p[key])}")
        lines.append(f"     speed: {p['curr_speed'] // 1000} Mbps now, "
                     f"{p['max_speed'] // 1000} Mbps max")
    return lines


def ports_desc_text(r: dict[str, Any]) -> str:
    """``ovs-ofctl dump-ports-desc``."""
    return "\n".join([_header("OFPST_PORT_DESC reply", r), *port_lines(r["ports"])])


def _table_features(t: dict[str, Any]) -> tuple[int, int]:
    return t.get("max_entries", 0), t.get("wildcards", 0)


def tables_text(r: dict[str, Any]) -> str:
    """``ovs-ofctl dump-tables``: a table whose counters and features repeat the
    previous one's is folded into a "ditto" run.  (OF1.0's "matching:" lines are
    left out.)"""
    out = [_header("OFPST_TABLE reply", r)]
    ditto: list[int] = []

    def finish() -> None:
        if ditto:
            first, last = ditto[0], ditto[-1]
            out.append("")
            out.append(f"  table {first}: ditto" if first == last
                       else f"  tables {first}...{last}: ditto")
            ditto.clear()

    prev: dict[str, Any] | None = None
    for t in r["tables"]:
        stats = (t["active_count"], t["lookup_count"], t["matched_count"])
        same_stats = prev is not None and stats == (prev["active_count"], prev["lookup_count"],
                                                    prev["matched_count"])
        same_features = prev is not None and _table_features(t) == _table_features(prev)
        prev = t
        if same_stats and same_features and not t.get("name"):
            ditto.append(t["table_id"])
            continue
        finish()
        if out[-1] != out[0]:
            out.append("")
        name = f' ("{t["name"]}")' if t.get("name") else ""
        if same_stats and same_features:
            out.append(f"  table {t['table_id']}{name}: ditto")
            continue
        out.append(f"  table {t['table_id']}{name}:")
        out.append(f"    active={stats[0]}, lookup={stats[1]}, matched={stats[2]}")
        max_entries, wildcards = _table_features(t)
        if same_features:
            if max_entries or wildcards:
                out.append("    (same features)")
        elif max_entries:
            out.append(f"    max_entries={max_entries}")
    finish()
    return "\n".join(out)


def show_text(r: dict[str, Any]) -> str:
    """``ovs-ofctl show``: features, port descriptions (sorted), switch config."""
    lines = [f"{_header('OFPT_FEATURES_REPLY', r)} dpid:{r['datapath_id']}",
             f"n_tables:{r['n_tables']}, n_buffers:{r['n_buffers']}"
             + (f", auxiliary_id:{r['auxiliary_id']}" if r["auxiliary_id"] else ""),
             f"capabilities: {_words(r['capabilities'])}"]
    if "actions" in r:
        lines.append(f"actions: {' '.join(r['actions']) or '<none>'}")
    if "ports_xid" in r:
        lines.append(_header("OFPST_PORT_DESC reply", r, "ports_xid"))
    lines += port_lines(r["ports"])
    lines.append(f"{_header('OFPT_GET_CONFIG_REPLY', r, 'config_xid')} frags={r['frags']}"
                 + (" invalid_ttl_to_controller" if r["invalid_ttl_to_controller"] else "")
                 + f" miss_send_len={r['miss_send_len']}")
    return "\n".join(lines)
