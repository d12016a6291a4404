"""trace: explain what the switch does with a packet (OVS's ``ofproto/trace``).

Sits beside xlate (switch_agent/xlate.py) for people and tests (later ``swctl
trace``): ``trace(switch, "in_port=1,tcp,nw_dst=10.0.0.2,tp_dst=80")`` builds the
packet's key from ovs-ofctl flow text, runs the pipeline walk on it with a
``Tracer`` attached and returns the tables visited, the rule hit in each (or the
miss), every instruction and action as it ran (group buckets chosen, packet-ins,
the action set), the datapath actions and the megaflow an upcall of that packet
would install.  ``format_trace`` prints that the way ``ofproto/trace`` does.

A trace changes nothing: NORMAL learns no MACs (``side_effects=False``) and table
lookups are not counted in the table statistics.

The packet: the fields the text names, everything else zero, as in OVS's trace --
with the prerequisites the text implies (``tcp`` is eth_type 0x0800 and ip_proto 6)
and a VLAN tag's TPID 0x8100 when it names one.  Besides the match fields of
``openflow.flowtext.parse_match``, ``nw_ttl=N`` sets an IP packet's TTL (0 by default,
as OVS).  Unlike OVS, ``in_port`` is required (a packet comes from somewhere).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datapath import flow as dflow
from datapath import odp_actions as odp
from openflow import actions as ofa
from openflow import flowtext_actions as fa
from openflow.consts import (
    OFP10,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_INDIRECT,
    OFPGT_SELECT,
    OFPP_CONTROLLER,
    OFPP_LOCAL,
    OFPP_MAX,
    OFPP_NORMAL,
    OFPR_ACTION,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
)
from openflow.flowtext import format_match, parse_match
from openflow.match import Match
from openflow.messages import Bucket
from switch_agent import flowkey as fk
from switch_agent import xlate as xl
from switch_agent.flowtable import FlowRule

if TYPE_CHECKING:
    from switch_agent.ofproto import Switch

# TraceStep kinds
TABLE = "table"  # a lookup that hit ``rule``
MISS = "miss"  # a lookup that hit nothing
INSTRUCTION = "instruction"
ACTION = "action"
BUCKET = "bucket"  # a group bucket that ran (``group_id``, ``bucket`` its index)
ACTION_SET = "action_set"  # the action set runs (``text``: its actions, in order)
NOTE = "note"

_REASONS = {OFPR_NO_MATCH: "no_match", OFPR_ACTION: "action", OFPR_INVALID_TTL: "invalid_ttl"}
_GROUP_TYPES = {OFPGT_ALL: "all", OFPGT_SELECT: "select", OFPGT_INDIRECT: "indirect",
                OFPGT_FF: "fast_failover"}
_TTL = dflow.FIELD_OFFSET["ip_ttl"]
_VLAN_TCI = dflow.FIELD_OFFSET["vlan_tci"]
_VLAN_TPID = dflow.FIELD_OFFSET["vlan_tpid"]


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One thing the walk did, ``depth`` levels deep (tables 0, their instructions 1,
    an apply-actions list 2, a group's buckets one below the group action...)."""

    kind: str
    depth: int
    text: str  # the rule's match, the instruction or action as ovs-ofctl writes it
    notes: tuple[str, ...] = ()  # what came of it ("action set: output:3", "port 2 is down")
    odp: tuple[odp.Action, ...] = ()  # the datapath actions it emitted itself
    table_id: int | None = None  # TABLE, MISS
    rule: FlowRule | None = None  # TABLE
    key: int | None = None  # TABLE, MISS: the classifier key looked up (metadata on top)
    wildcards: int | None = None  # TABLE, MISS: the bits the lookup depended on
    item: ofa.Instruction | ofa.Action | None = None  # INSTRUCTION, ACTION
    group_id: int | None = None  # ACTION (group), BUCKET
    bucket: int | None = None  # BUCKET: its index in the group


@dataclass(frozen=True, slots=True)
class TraceResult:
    bridge: str
    key: int  # the packet's classifier key (datapath key; metadata above it)
    final_key: int  # as the pipeline left it
    steps: tuple[TraceStep, ...]
    actions: tuple[odp.Action, ...]  # the datapath actions
    megaflow_key: int
    megaflow_mask: int
    slow: bool  # could not be cached as a megaflow

    @property
    def tables(self) -> list[tuple[int, FlowRule | None]]:
        """(table_id, rule hit or None) in the order visited."""
        return [(s.table_id, s.rule) for s in self.steps
                if s.table_id is not None and s.kind in (TABLE, MISS)]

    @property
    def megaflow(self) -> str:
        return dflow.format_key(self.megaflow_key, self.megaflow_mask)


# ------------------------------------------------------------------ the packet


def packet_key(flow_text: str) -> int:
    """The classifier key of the packet ``flow_text`` describes (see the module
    docstring); ValueError on bad text."""
    ttl = None
    rest = []
    for token in fa.split_top(flow_text):
        name, value = fa.split_key(token)
        if name == "nw_ttl" and value is not None:
            ttl = fa.parse_int(value, 8, token)
        else:
            rest.append(token)
    match = parse_match(",".join(rest))
    if match.get("in_port") is None and match.get("in_phy_port") is None:
        raise ValueError("trace: the packet needs an in_port")
    key, mask = fk.match_to_key(match)
    key &= mask & ~fk.NEVER_BIT
    if key >> _VLAN_TCI & dflow.VLAN_PRESENT:
        key |= 0x8100 << _VLAN_TPID  # what extraction keys a tagged frame with
    if ttl is not None:
        if dflow.key_get(key, "eth_type") not in (0x0800, 0x86DD):
            raise ValueError("nw_ttl: prerequisites not met: needs ip or ipv6")
        key |= ttl << _TTL
    return key


def format_packet(key: int) -> str:
    """A classifier key as ovs-ofctl flow text (zero metadata and tun_id left out)."""
    fields = [f for f in fk.key_to_match_fields(key)
              if f.name != "in_phy_port" and (f.value or f.name not in ("metadata", "tunnel_id"))]
    text = format_match(Match.from_fields(fields), version=OFP10)  # no tag: vlan_tci=0x0000
    if dflow.key_get(key, "eth_type") in (0x0800, 0x86DD):
        text += f",nw_ttl={dflow.key_get(key, 'ip_ttl')}"
    return text


# ------------------------------------------------------------------ the tracer


@dataclass(slots=True)
class _Record:
    """A step while the walk runs: ``start``/``end`` its span of datapath actions."""

    kind: str
    depth: int
    text: str
    start: int
    end: int | None = None
    notes: list[str] = field(default_factory=list)
    table_id: int | None = None
    rule: FlowRule | None = None
    key: int | None = None
    wildcards: int | None = None
    item: ofa.Instruction | ofa.Action | None = None
    group_id: int | None = None
    bucket: int | None = None

    def step(self, emitted: tuple[odp.Action, ...]) -> TraceStep:
        return TraceStep(self.kind, self.depth, self.text, tuple(self.notes), emitted,
                         self.table_id, self.rule, self.key, self.wildcards, self.item,
                         self.group_id, self.bucket)


class _Recorder:
    """The ``xlate.Tracer`` a trace attaches to the walk."""

    def __init__(self) -> None:
        self.records: list[_Record] = []
        self.depth = 0
        self.groups: dict[int, tuple[int, xl.GroupEntry]] = {}  # group nesting -> (depth, entry)
        self.ctx: xl._Ctx | None = None

    def add(self, ctx: xl._Ctx, record: _Record) -> _Record:
        self.ctx = ctx
        self.records.append(record)
        return record

    # -- xlate.Tracer

    def lookup(self, ctx: xl._Ctx, table_id: int) -> tuple[FlowRule | None, int]:
        rule, wildcards = ctx.x.tables.lookup(table_id, ctx.flow, count=False)
        start = _emitted(ctx)
        if rule is None:
            record = self.add(ctx, _Record(MISS, 0, "no match", start, table_id=table_id,
                                           key=ctx.flow, wildcards=wildcards))
            record.notes.append("table miss: packet-in to the controllers"
                                if ctx.x.miss_to_controller() else "table miss: dropped")
        else:
            parts = [format_match(rule.match), f"priority {rule.priority}",
                     f"cookie {rule.cookie:#x}" if rule.cookie else ""]
            record = self.add(ctx, _Record(TABLE, 0, ", ".join(p for p in parts if p), start,
                                           table_id=table_id, rule=rule, key=ctx.flow,
                                           wildcards=wildcards))
            if rule.priority == 0 and not rule.match:
                record.notes.append("the table-miss flow")
        self.depth = 1
        return rule, wildcards

    def instructions(self, ctx: xl._Ctx, rule: FlowRule) -> Iterator[ofa.Instruction]:
        for inst in rule.instructions:
            if isinstance(inst, ofa.ApplyActions):
                text = "apply_actions(" + fa.format_action_list(inst.actions) + ")"
            else:
                text = fa.format_actions((inst,))
            record = self.add(ctx, _Record(INSTRUCTION, 1, text, _emitted(ctx), item=inst))
            self.depth = 2
            yield inst
            record.end = _emitted(ctx)
            if isinstance(inst, ofa.WriteActions | ofa.ClearActions):
                record.notes.append("action set: " + _format_action_set(ctx))
            elif isinstance(inst, ofa.WriteMetadata):
                record.notes.append(f"metadata={ctx.flow >> fk.METADATA_OFFSET:#x}")
            self.depth = 1

    def actions(self, ctx: xl._Ctx, actions: tuple[ofa.Action, ...]) -> Iterator[ofa.Action]:
        base = self.depth
        for action in actions:
            if ctx.dropped:
                break
            record = self.add(ctx, _Record(ACTION, base, fa.format_action(action), _emitted(ctx),
                                           item=action))
            before = ctx.flow
            if isinstance(action, ofa.Group):
                record.group_id = action.group_id
            elif isinstance(action, ofa.Output) and action.port == OFPP_NORMAL:
                record.notes.append(_normal_note(ctx))
            self.depth = base + 1
            yield action
            record.end = _emitted(ctx)
            emitted = _flat(ctx.out)[record.start:record.end]
            record.notes += _action_notes(ctx, action, before, emitted)
            self.depth = base
        self.depth = base

    def action_set(self, ctx: xl._Ctx, actions: tuple[ofa.Action, ...]) -> None:
        self.add(ctx, _Record(ACTION_SET, 0, fa.format_action_list(actions), _emitted(ctx)))
        self.depth = 1

    def group(self, ctx: xl._Ctx, group_id: int, entry: xl.GroupEntry | None) -> None:
        record = self.records[-1]  # the group action
        if entry is None:
            record.notes.append(f"no group {group_id}: nothing happens")
            return
        self.groups[ctx.depth + 1] = (self.depth, entry)
        record.notes.append(f"{_GROUP_TYPES.get(entry.type, entry.type)} group "
                            f"with {len(entry.buckets)} bucket(s)")
        if entry.type in (OFPGT_FF, OFPGT_SELECT):
            dead = [str(i) for i, b in enumerate(entry.buckets)
                    if not ctx.bucket_live(b) or (entry.type == OFPGT_SELECT and not b.weight)]
            if dead:
                record.notes.append(f"not live: bucket {', '.join(dead)}")
            if len(dead) == len(entry.buckets):
                record.notes.append("no live bucket: dropped")
        elif entry.type == OFPGT_INDIRECT and not entry.buckets:
            record.notes.append("no bucket: dropped")

    def bucket(self, ctx: xl._Ctx, bucket: Bucket) -> None:
        depth, entry = self.groups[ctx.depth]
        index = next(i for i, b in enumerate(entry.buckets) if b is bucket)
        text = f"bucket {index}: {fa.format_action_list(bucket.actions)}"
        if entry.type == OFPGT_SELECT:
            text += f" (weight {bucket.weight}, chosen by the flow's hash)"
        self.add(ctx, _Record(BUCKET, depth, text, _emitted(ctx), group_id=entry.group_id,
                              bucket=index))
        self.depth = depth + 1


def _format_action_set(ctx: xl._Ctx) -> str:
    items: list[ofa.Action] = []
    for value in ctx.action_set.values():
        items += value if isinstance(value, list) else [value]
    return fa.format_action_list(items) if items else "empty"


def _normal_note(ctx: xl._Ctx) -> str:
    vlan = dflow.key_get(ctx.flow, "vlan_tci") & 0x0FFF
    dst = dflow.key_get(ctx.flow, "eth_dst")
    if dst >> 40 & 1:
        return "NORMAL: multicast destination: flood"
    port = ctx.x.mac_table.lookup(vlan, dst, ctx.x.clock())
    if port is None:
        return "NORMAL: destination not learned: flood (a trace learns nothing)"
    return f"NORMAL: destination learned on port {fa.format_port(port)}"


def _action_notes(ctx: xl._Ctx, action: ofa.Action, before: int,
                  emitted: Sequence[odp.Action]) -> list[str]:
    """What came of ``action`` beyond the datapath actions it emitted."""
    notes = []
    packet_in = (isinstance(action, ofa.Output) and action.port == OFPP_CONTROLLER
                 or isinstance(action, ofa.DecNwTtl | ofa.DecMplsTtl))
    for act in emitted if packet_in else ():
        if isinstance(act, odp.Userspace):
            request = xl.decode_userdata(act.userdata)
            if request is not None:
                cut = "" if act.max_len is None else f", first {act.max_len} bytes"
                notes.append(f"packet-in: reason={_REASONS.get(request.reason, request.reason)}, "
                             f"table {request.table_id}, cookie {request.cookie:#x}{cut}")
    if isinstance(action, ofa.Output | ofa.Enqueue) \
            and not any(isinstance(act, odp.Output) for act in emitted):
        port = action.port
        if port < OFPP_MAX or port == OFPP_LOCAL:
            notes.append(_unsent(ctx, port))
    elif isinstance(action, ofa.DecNwTtl | ofa.DecMplsTtl) and ctx.dropped:
        notes.append("TTL expired: the packet is dropped")
    elif isinstance(action, ofa.SetField) and ctx.flow == before \
            and action.field in fk.SET_TARGETS and not fk.can_set(before, action.field):
        notes.append(f"ignored: the packet has no {action.field}")
    return notes


def _unsent(ctx: xl._Ctx, port: int) -> str:
    xport = ctx.x.ports.get(port)
    name = fa.format_port(port)
    if xport is None:
        return f"dropped: no port {name}"
    if xport.no_fwd:
        return f"dropped: port {name} has no_fwd"
    if xport.admin_down:
        return f"dropped: port {name} is down"
    if port == ctx.in_port:
        return f"dropped: port {name} is the input port (only IN_PORT sends back)"
    return f"dropped: port {name}"


# ------------------------------------------------------------------ trace


def _emitted(ctx: xl._Ctx) -> int:
    """How many datapath actions the walk emitted so far (clones inlined)."""
    return len(_flat(ctx.out))


def _flat(actions: list[odp.Action] | tuple[odp.Action, ...]) -> tuple[odp.Action, ...]:
    """Datapath actions with every clone's inlined: the order they were emitted in (a
    group bucket's actions become one Clone after the bucket; the steps recorded the
    positions before)."""
    out: list[odp.Action] = []
    for act in actions:
        out += _flat(act.actions) if isinstance(act, odp.Clone) else (act,)
    return tuple(out)


def trace(switch: Switch, flow_text: str) -> TraceResult:
    """Trace the packet ``flow_text`` describes through ``switch``'s pipeline."""
    key = packet_key(flow_text)
    recorder = _Recorder()
    if switch.fail_open:
        note = _Record(NOTE, 0, "fail-open: no controller, NORMAL switching", 0)
        note.notes.append(_normal_note(xl._Ctx(switch.xlate, key, False)))
        recorder.records.append(note)
    result = switch.xlate.translate(key, side_effects=False, tracer=recorder)
    actions = tuple(result.actions)
    flat = _flat(actions)
    records = recorder.records
    steps = []
    for i, rec in enumerate(records):
        end = records[i + 1].start if i + 1 < len(records) else len(flat)
        if rec.end is not None:
            end = min(end, rec.end)
        steps.append(rec.step(flat[rec.start:end]))
    final = recorder.ctx.flow if recorder.ctx is not None else key
    mask = result.megaflow_mask
    return TraceResult(switch.dp.name, key, final, tuple(steps), actions, key & mask, mask,
                       result.slow)


def format_trace(result: TraceResult) -> str:
    """``ofproto/trace``-like text of a trace."""
    title = f'bridge("{result.bridge}")'
    lines = [f"Flow: {format_packet(result.key)}", "", title, "-" * len(title)]
    for step in result.steps:
        pad = "    " * step.depth
        if step.kind in (TABLE, MISS):
            text = f"{step.table_id:2}. {step.text}"
            if step.kind == TABLE:
                meta = (step.key or 0) >> fk.METADATA_OFFSET
                text += f" (metadata={meta:#x})" if meta else ""
            lines.append(text)
            pad = "   "
        elif step.kind == ACTION_SET:
            lines.append(f"action set: {step.text}")
        elif step.kind == NOTE:
            lines.append(step.text)
        else:
            lines.append(f"{pad}{step.text}")
        for note in step.notes:
            lines.append(f"{pad} -> {note}")
        if step.odp:
            lines.append(f"{pad} -> datapath: {odp.format_actions(step.odp)}")
    lines += ["", f"Final flow: {format_packet(result.final_key)}",
              f"Megaflow: {result.megaflow}",
              f"Datapath actions: {odp.format_actions(result.actions)}"]
    if result.slow:
        lines.append("(the translation depends on more than the packet's key: not cached)")
    return "\n".join(lines) + "\n"
