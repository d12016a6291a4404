"""OpenFlow flow tables: rules, FLOW_MOD semantics, timeouts and flow selection.

Sits in switch_agent/ between the OpenFlow messages (openflow/) and the classifier
(switch_agent/classifier.py, one per table); ofproto feeds it validated FLOW_MODs and
turns its results into FLOW_REMOVED messages and revalidation.  It owns the rules and
what OpenFlow says about them: add (replace an identical rule, CHECK_OVERLAP, table
full), modify and delete, strict and not (cookie/cookie_mask, out_port, out_group,
OFPTT_ALL), the flags (SEND_FLOW_REM, RESET_COUNTS, NO_PKT/BYT_COUNTS), idle and hard
timeouts, per-table lookup/matched counters, and rule selection for statistics.  It
does not know ports, groups or meters beyond their numbers in actions (the caller
validates those before a FLOW_MOD gets here) and does no I/O.  Time is passed in.

Semantics, per OpenFlow 1.3.5 section 6.4 with Open vSwitch's readings:
  * ADD replaces a rule with the same match and priority in the table (no
    FLOW_REMOVED for it); its counters carry over on OF1.3 unless RESET_COUNTS
    (OF1.0: the replaced rule's counters go with it).  With CHECK_OVERLAP, a rule of
    the same priority that some packet could match together with the new one
    (identical included) fails the request with OFPFMFC_OVERLAP.  A new rule in a
    table holding ``max_flows`` rules fails with OFPFMFC_TABLE_FULL.
  * MODIFY (non-strict: every rule at least as specific as the match) and
    MODIFY_STRICT (same match and priority) replace the instructions; cookie,
    timeouts, flags and counters stay (RESET_COUNTS clears the counters).  On OF1.0
    a modify that matches nothing adds the flow (as OVS: OF1.0 and 1.1 do), and it
    sets the cookie (OF1.0 has no cookie_mask to filter with).
  * DELETE / DELETE_STRICT remove the selected rules, reason OFPRR_DELETE.
  * Modify and delete select with cookie/cookie_mask (OF1.3), out_port and
    out_group (the rule must output to that port / group in its apply or write
    actions), OFPTT_ALL for every table (delete only on OF1.3, BAD_TABLE_ID
    otherwise; OF1.0 flow mods modify and delete in every table, add to table 0).
  * goto_table must point forward to an existing table (OFPBIC_BAD_TABLE_ID).
  * OF1.0's emergency flag is refused as OVS does (BAD_EMERG_TIMEOUT with timeouts,
    TABLE_FULL without).
Changes become visible to lookups at once (one classifier version per FLOW_MOD).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from openflow.actions import (
    ApplyActions,
    Enqueue,
    GotoTable,
    Group,
    Instruction,
    Meter,
    Output,
    WriteActions,
)
from openflow.consts import (
    OFPFC_ADD,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT,
    OFPFF_CHECK_OVERLAP,
    OFPFF_EMERG,
    OFPFF_NO_BYT_COUNTS,
    OFPFF_NO_PKT_COUNTS,
    OFPFF_RESET_COUNTS,
    OFPG_ANY,
    OFPP_ANY,
    OFPRR_DELETE,
    OFPRR_GROUP_DELETE,
    OFPRR_HARD_TIMEOUT,
    OFPRR_IDLE_TIMEOUT,
    OFPRR_METER_DELETE,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.match import Match
from openflow.messages import FlowMod
from switch_agent.classifier import Classifier
from switch_agent.classifier import Rule as ClsRule
from switch_agent.flowkey import match_to_key

OFP10 = 0x01
OFP13 = 0x04
N_TABLES = 254  # 0..253; 254 is unused, 255 is OFPTT_ALL (as OVS)
COOKIE_ALL = 0xFFFFFFFFFFFFFFFF


class FlowRule:
    """One OpenFlow flow entry."""

    __slots__ = ("table_id", "priority", "match", "cookie", "idle_timeout", "hard_timeout",
                 "flags", "instructions", "created", "used", "packets", "bytes", "cls",
                 "out_ports", "out_groups", "meter_id", "goto")

    def __init__(self, table_id: int, priority: int, match: Match, cookie: int,
                 idle_timeout: int, hard_timeout: int, flags: int,
                 instructions: tuple[Instruction, ...], now: float) -> None:
        self.table_id = table_id
        self.priority = priority
        self.match = match
        self.cookie = cookie
        self.idle_timeout = idle_timeout
        self.hard_timeout = hard_timeout
        self.flags = flags
        self.created = now
        self.used = now  # last packet, or creation
        self.packets = 0
        self.bytes = 0
        self.cls: ClsRule | None = None
        self.instructions: tuple[Instruction, ...] = ()
        self.out_ports: frozenset[int] = frozenset()
        self.out_groups: frozenset[int] = frozenset()
        self.meter_id: int | None = None
        self.goto: int | None = None
        self.set_instructions(instructions)

    def set_instructions(self, instructions: tuple[Instruction, ...]) -> None:
        self.instructions = instructions
        ports, groups = set(), set()
        self.meter_id = self.goto = None
        for inst in instructions:
            if isinstance(inst, ApplyActions | WriteActions):
                for action in inst.actions:
                    if isinstance(action, Output | Enqueue):
                        ports.add(action.port)
                    elif isinstance(action, Group):
                        groups.add(action.group_id)
            elif isinstance(inst, Meter):
                self.meter_id = inst.meter_id
            elif isinstance(inst, GotoTable):
                self.goto = inst.table_id
        self.out_ports, self.out_groups = frozenset(ports), frozenset(groups)

    def credit(self, packets: int, nbytes: int, now: float) -> None:
        """Count traffic the datapath saw for this rule (honouring NO_PKT/BYT_COUNTS)."""
        if packets:
            if not self.flags & OFPFF_NO_PKT_COUNTS:
                self.packets += packets
            if not self.flags & OFPFF_NO_BYT_COUNTS:
                self.bytes += nbytes
            self.used = now

    @property
    def packet_count(self) -> int:
        """What statistics report (all ones when NO_PKT_COUNTS, as OF1.3 says)."""
        return COOKIE_ALL if self.flags & OFPFF_NO_PKT_COUNTS else self.packets

    @property
    def byte_count(self) -> int:
        return COOKIE_ALL if self.flags & OFPFF_NO_BYT_COUNTS else self.bytes

    def __repr__(self) -> str:
        return (f"<FlowRule table={self.table_id} priority={self.priority} {self.match!r} "
                f"cookie={self.cookie:#x} n_packets={self.packets}>")


@dataclass(slots=True)
class Table:
    """One flow table: its classifier, limit and counters."""

    table_id: int
    classifier: Classifier = field(default_factory=Classifier)
    max_flows: int = 1_000_000
    lookup_count: int = 0
    matched_count: int = 0
    name: str = ""

    def __len__(self) -> int:
        return len(self.classifier)


@dataclass(slots=True)
class FlowModResult:
    """What a FLOW_MOD changed: the caller revalidates, sends FLOW_REMOVED, applies
    ``buffer_id`` to the rule's table."""

    added: list[FlowRule] = field(default_factory=list)
    modified: list[FlowRule] = field(default_factory=list)
    removed: list[tuple[FlowRule, int]] = field(default_factory=list)  # (rule, OFPRR_*)
    replaced: list[FlowRule] = field(default_factory=list)  # old rules an ADD replaced

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.removed)


class FlowTables:
    """The switch's flow tables; see the module docstring."""

    def __init__(self, n_tables: int = N_TABLES, *, max_flows: int = 1_000_000) -> None:
        if not 1 <= n_tables <= N_TABLES:
            raise ValueError(f"n_tables must be 1..{N_TABLES}")
        self.tables = [Table(i, max_flows=max_flows) for i in range(n_tables)]
        self._version = 0
        self._touched: set[int] = set()  # tables changed at self._version, to publish
        self._timed: set[FlowRule] = set()  # rules with an idle or hard timeout

    def __len__(self) -> int:
        return sum(len(table) for table in self.tables)

    def __iter__(self) -> Iterator[FlowRule]:
        for table in self.tables:
            for cls_rule in table.classifier.rules():
                yield cls_rule.payload  # type: ignore[misc]

    # -- lookups (xlate)

    def lookup(self, table_id: int, key: int, *, count: bool = True) -> tuple[FlowRule | None, int]:
        """The rule a packet with classifier key ``key`` hits in the table, and the
        wildcards the answer depends on; counts the lookup (table statistics) unless
        ``count`` is false (trace)."""
        table = self.tables[table_id]
        cls_rule, wildcards = table.classifier.lookup(key)
        if count:
            table.lookup_count += 1
            if cls_rule is not None:
                table.matched_count += 1
        if cls_rule is None:
            return None, wildcards
        return cls_rule.payload, wildcards  # type: ignore[return-value]

    # -- FLOW_MOD

    def flow_mod(self, fm: FlowMod, version: int, now: float) -> FlowModResult:
        """Apply a FLOW_MOD received on an OpenFlow ``version`` connection.

        Raises CodecError with the spec's error, having changed nothing.
        """
        command = fm.command
        if version == OFP10 and fm.flags & OFPFF_EMERG:
            raise CodecError(Err.OFPFMFC_BAD_EMERG_TIMEOUT if fm.idle_timeout or fm.hard_timeout
                             else Err.OFPFMFC_TABLE_FULL, "emergency flows are not supported")
        if command == OFPFC_ADD:
            return self._add(fm, version, now)
        if command in (OFPFC_MODIFY, OFPFC_MODIFY_STRICT):
            return self._modify(fm, version, now, strict=command == OFPFC_MODIFY_STRICT)
        if command in (OFPFC_DELETE, OFPFC_DELETE_STRICT):
            return self._delete(fm, version, strict=command == OFPFC_DELETE_STRICT)
        raise CodecError(Err.OFPFMFC_BAD_COMMAND, f"command {command}")

    def _table_ids(self, fm: FlowMod, version: int, *, delete: bool) -> range | tuple[int, ...]:
        if version == OFP10:
            return range(len(self.tables))
        if fm.table_id == OFPTT_ALL:
            if not delete:
                raise CodecError(Err.OFPFMFC_BAD_TABLE_ID, "OFPTT_ALL is only for deletes")
            return range(len(self.tables))
        if fm.table_id >= len(self.tables):
            raise CodecError(Err.OFPFMFC_BAD_TABLE_ID, f"no table {fm.table_id}")
        return (fm.table_id,)

    def _check_instructions(self, table_id: int, instructions: Iterable[Instruction]) -> None:
        for inst in instructions:
            if isinstance(inst, GotoTable) and not table_id < inst.table_id < len(self.tables):
                raise CodecError(Err.OFPBIC_BAD_TABLE_ID,
                                 f"goto_table:{inst.table_id} from table {table_id}")

    def _add(self, fm: FlowMod, version: int, now: float) -> FlowModResult:
        table_id = 0 if version == OFP10 else fm.table_id
        if table_id == OFPTT_ALL or table_id >= len(self.tables):
            raise CodecError(Err.OFPFMFC_BAD_TABLE_ID, f"no table {table_id}")
        self._check_instructions(table_id, fm.instructions)
        table = self.tables[table_id]
        key, mask = _key_of(fm.match)
        cls = table.classifier
        old_cls = cls.find_exact(key, mask, fm.priority)
        if fm.flags & OFPFF_CHECK_OVERLAP and cls.find_overlapping(key, mask, fm.priority):
            raise CodecError(Err.OFPFMFC_OVERLAP, "an overlapping flow of that priority exists")
        if old_cls is None and len(table) >= table.max_flows:
            raise CodecError(Err.OFPFMFC_TABLE_FULL, f"table {table_id} holds {table.max_flows}")
        rule = FlowRule(table_id, fm.priority, fm.match, fm.cookie, fm.idle_timeout,
                        fm.hard_timeout, fm.flags, fm.instructions, now)
        result = FlowModResult(added=[rule])
        self._version += 1
        if old_cls is not None:
            old: FlowRule = old_cls.payload  # type: ignore[assignment]
            if version != OFP10 and not fm.flags & OFPFF_RESET_COUNTS:
                rule.packets, rule.bytes, rule.used = old.packets, old.bytes, old.used
            self._unlink(old)
            result.replaced.append(old)
        rule.cls = cls.insert(key, mask, fm.priority, rule, self._version)
        self._touched.add(table_id)
        if rule.idle_timeout or rule.hard_timeout:
            self._timed.add(rule)
        self._publish()
        return result

    def _modify(self, fm: FlowMod, version: int, now: float, *, strict: bool) -> FlowModResult:
        table_ids = self._table_ids(fm, version, delete=False)
        rules = self.select(table_ids, fm.match, priority=fm.priority if strict else None,
                            cookie=fm.cookie if version != OFP10 else 0,
                            cookie_mask=fm.cookie_mask if version != OFP10 else 0,
                            out_port=fm.out_port, out_group=fm.out_group)
        if not rules:
            if version == OFP10:
                return self._add(fm, version, now)
            return FlowModResult()
        for rule in rules:
            self._check_instructions(rule.table_id, fm.instructions)
        for rule in rules:
            rule.set_instructions(fm.instructions)
            if version == OFP10:
                rule.cookie = fm.cookie
            if fm.flags & OFPFF_RESET_COUNTS:
                rule.packets = rule.bytes = 0
        return FlowModResult(modified=rules)

    def _delete(self, fm: FlowMod, version: int, *, strict: bool) -> FlowModResult:
        table_ids = self._table_ids(fm, version, delete=True)
        rules = self.select(table_ids, fm.match, priority=fm.priority if strict else None,
                            cookie=fm.cookie if version != OFP10 else 0,
                            cookie_mask=fm.cookie_mask if version != OFP10 else 0,
                            out_port=fm.out_port, out_group=fm.out_group)
        return FlowModResult(removed=self.remove(rules, OFPRR_DELETE))

    # -- selection, removal, timeouts

    def select(self, table_ids: Iterable[int], match: Match, *, priority: int | None = None,
               cookie: int = 0, cookie_mask: int = 0, out_port: int = OFPP_ANY,
               out_group: int = OFPG_ANY) -> list[FlowRule]:
        """Rules of ``table_ids`` selected as modify/delete/flow stats select them:
        non-strict (``priority`` None: at least as specific as ``match``) or strict
        (exactly ``match`` at ``priority``), then the cookie, out_port and out_group
        filters."""
        key, mask = _key_of(match)
        chosen: list[FlowRule] = []
        for table_id in table_ids:
            cls = self.tables[table_id].classifier
            if priority is not None:
                found = cls.find_exact(key, mask, priority)
                candidates = [found] if found is not None else []
            else:
                candidates = cls.find_loose(key, mask)
            for cls_rule in candidates:
                rule: FlowRule = cls_rule.payload  # type: ignore[assignment]
                if (rule.cookie ^ cookie) & cookie_mask:
                    continue
                if out_port != OFPP_ANY and out_port not in rule.out_ports:
                    continue
                if out_group != OFPG_ANY and out_group not in rule.out_groups:
                    continue
                chosen.append(rule)
        return chosen

    def remove(self, rules: Iterable[FlowRule], reason: int) -> list[tuple[FlowRule, int]]:
        """Remove ``rules`` (still present) for ``reason``; returns (rule, reason) pairs."""
        removed = []
        self._version += 1
        for rule in rules:
            if rule.cls is not None:
                self._unlink(rule)
                removed.append((rule, reason))
        self._publish()
        return removed

    def _unlink(self, rule: FlowRule) -> None:
        assert rule.cls is not None
        self.tables[rule.table_id].classifier.remove(rule.cls, self._version)
        self._touched.add(rule.table_id)
        rule.cls = None
        self._timed.discard(rule)

    def _publish(self) -> None:
        """Make this version's changes visible, in the tables they touched only (the
        others have nothing pending; publishing 254 classifiers per FLOW_MOD halved
        the FLOW_MOD rate, bench/pipeline.py)."""
        for table_id in self._touched:
            self.tables[table_id].classifier.publish(self._version)
        self._touched.clear()

    def expire(self, now: float) -> list[tuple[FlowRule, int]]:
        """Remove the rules whose hard timeout passed (OFPRR_HARD_TIMEOUT) or that saw
        no packet for their idle timeout (OFPRR_IDLE_TIMEOUT); ``used`` must be current
        (the caller pulls datapath statistics first)."""
        hard, idle = [], []
        for rule in self._timed:
            if rule.hard_timeout and now >= rule.created + rule.hard_timeout:
                hard.append(rule)
            elif rule.idle_timeout and now >= rule.used + rule.idle_timeout:
                idle.append(rule)
        if not hard and not idle:
            return []
        return self.remove(hard, OFPRR_HARD_TIMEOUT) + self.remove(idle, OFPRR_IDLE_TIMEOUT)

    def next_timeout(self) -> float | None:
        """The earliest time a timeout could fire (idle ones assume no more traffic)."""
        times = [rule.created + rule.hard_timeout for rule in self._timed if rule.hard_timeout]
        times += [rule.used + rule.idle_timeout for rule in self._timed if rule.idle_timeout]
        return min(times, default=None)

    def remove_for_group(self, group_id: int) -> list[tuple[FlowRule, int]]:
        """Delete every rule that forwards to ``group_id`` (its group was deleted)."""
        return self.remove([rule for rule in self if group_id in rule.out_groups],
                           OFPRR_GROUP_DELETE)

    def remove_for_meter(self, meter_id: int) -> list[tuple[FlowRule, int]]:
        """Delete every rule that uses ``meter_id`` (its meter was deleted)."""
        return self.remove([rule for rule in self if rule.meter_id == meter_id],
                           OFPRR_METER_DELETE)


def _key_of(match: Match) -> tuple[int, int]:
    try:
        return match_to_key(match)
    except ValueError as exc:  # a match the codec let through but the key cannot express
        raise CodecError(Err.OFPBMC_BAD_PREREQ, str(exc)) from None
