"""ofctl: swctl's OpenFlow flow tools -- ovs-ofctl's commands, spoken over OpenFlow.

Sits beside swctl.py (which owns the command line and calls ``register``) on top of
ofclient.py (a small blocking OpenFlow client and the target resolution) and openflow/:
it owns the commands dump-flows, add-flow, add-flows, mod-flows, del-flows,
dump-ports, dump-ports-desc, dump-tables, dump-groups, add-group, mod-group,
del-groups, dump-meters, add-meter, mod-meter, del-meters, packet-out and ofshow.
Like ovs-ofctl they work against any OpenFlow 1.0/1.3 switch, our agent included.

Where they connect (Open vSwitch's design, which ovs-ofctl follows): ``--of TARGET``
(``tcp:IP[:PORT]``, port 6653 by default; ``unix:PATH``; a path; a bridge name), else
the bridge's management socket ``DIRECTORY/BRIDGE.mgmt`` (control.mgmt_path) where
DIRECTORY holds the agent's control socket (that of ``--socket PATH``, else
control.run_dir()); the BRIDGE word may be left out when DIRECTORY holds one ``.mgmt``
socket.  ``-O OpenFlow10|OpenFlow13`` (or both, comma-separated) restricts what the
HELLO offers.  Port names in flow text (``in_port=p1``, ``output:p1``, ``out_port=``,
``watch_port:``, ``enqueue:``) and as command arguments become numbers through the
switch's port descriptions, as ovs-ofctl does.  Modifications end with a barrier, so
every OFPT_ERROR the switch answers is reported (one line each, naming the error's
type and code) and the exit status is 1.

Output: what swctl printed when these commands went through the control socket
(dump-flows lines that ``ovs-ofctl add-flows`` reads back, dump-ports, dump-groups,
dump-meters) and, for the others, ovs-ofctl 3.1's text (dump-ports-desc, dump-tables,
ofshow = ``ovs-ofctl show``).  ``--json`` prints the shapes the control socket
returned for the old commands.  dump-tables under OpenFlow 1.0 leaves out the
"matching:" line of each table's features.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openflow import actions as a
from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow import messages as m
from openflow.consts import (
    OFP10,
    OFPFC_ADD,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT,
    OFPG_ALL,
    OFPGC_ADD,
    OFPGC_DELETE,
    OFPGC_MODIFY,
    OFPM_ALL,
    OFPMC_ADD,
    OFPMC_DELETE,
    OFPMC_MODIFY,
    OFPP_ANY,
    PORT_BY_NAME,
    VERSION_NAMES,
)
from switch_agent import ofctl_text as text
from switch_agent import swctl_of
from switch_agent.ofclient import (
    DEFAULT_TIMEOUT,
    OfClient,
    OfctlError,
    _versions,
    resolve_target,
    split_words,
)

EXIT_FAILED = 1
ETH_HEADER_SIZE = 14

_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|[0-9]+)")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]+")
_FLOW_COMMANDS = {"add": OFPFC_ADD, "modify": OFPFC_MODIFY, "modify_strict": OFPFC_MODIFY_STRICT,
                  "delete": OFPFC_DELETE, "delete_strict": OFPFC_DELETE_STRICT}


# ------------------------------------------------------------------ commands

Words = list[str]  # what follows the BRIDGE word on the command line
Result = dict[str, Any]


def _parse(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ValueError as exc:
        raise OfctlError(str(exc)) from None


def _count(client: OfClient, kind: str) -> int:
    if kind == "flows":
        reply = client.request(m.AggregateStatsRequest())
        assert isinstance(reply, m.AggregateStatsReply)
        return reply.flow_count
    request = m.GroupDescStatsRequest() if kind == "groups" else m.MeterConfigStatsRequest()
    return len(client.request(request).entries)  # type: ignore[attr-defined]


def _apply(client: OfClient, args: argparse.Namespace, kind: str,
           msgs: Sequence[tuple[str, m.Message]]) -> Result:
    """Send modifications; with --json count the flows/groups/meters around them."""
    counting = bool(getattr(args, "json", False))
    before = _count(client, kind) if counting else 0
    seen = client.flow_removed
    client.modify(msgs)
    if not counting:
        return {}
    after = _count(client, kind)
    result = {kind: after, "added": max(0, after - before), "deleted": max(0, before - after)}
    if kind == "flows":
        result["flow_removed"] = client.flow_removed - seen
    return result


def _need_v13(client: OfClient, what: str) -> None:
    if client.version == OFP10:
        raise OfctlError(f"{what} need OpenFlow 1.1 or later (this connection speaks "
                         f"OpenFlow10; allow OpenFlow13 with -O)")


def _lower_actions(actions: Sequence[a.Action], version: int) -> tuple[a.Action, ...]:
    """Group bucket and packet-out actions in ``version``'s form (mod_vlan_vid becomes
    push_vlan + set_field in OpenFlow 1.3); like ovs-ofctl, set_field is not checked
    against a match (there is none)."""
    state: dict[str, tuple[int, int | None]] = {}
    out: list[a.Action] = []
    for act in actions:
        if isinstance(act, a.SetField) and version != OFP10:
            out.append(act)
            continue
        for inst in fa.resolve_instructions((a.ApplyActions((act,)),), state, version):
            assert isinstance(inst, a.ApplyActions)
            out += inst.actions
    return tuple(out)


# -- flows


def _flow_mod(client: OfClient, flow_text: str, command: int) -> m.FlowMod:
    return _parse(lambda: flowtext.parse_flow(client.port_numbers(flow_text), command=command,
                                              version=client.version))


def run_dump_flows(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    request = m.FlowStatsRequest()
    if words:
        fm = _flow_mod(client, " ".join(words), OFPFC_DELETE)
        request = m.FlowStatsRequest(match=fm.match, table_id=fm.table_id, out_port=fm.out_port,
                                     out_group=fm.out_group, cookie=fm.cookie,
                                     cookie_mask=fm.cookie_mask)
    reply = client.request(request)
    assert isinstance(reply, m.FlowStatsReply)
    return {"flows": [text.flow_entry(e, client.version) for e in reply.entries]}


def _flow_command(command: int, strict_command: int | None = None) -> Callable[..., Result]:
    def run(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
        chosen = strict_command if strict_command is not None and args.strict else command
        if not words and command != OFPFC_DELETE:
            raise OfctlError("missing FLOW")
        return _apply(client, args, "flows", [("", _flow_mod(client, " ".join(words), chosen))])

    return run


def flow_file_lines(data: str) -> list[tuple[int, str]]:
    """(line number, flow) of an ovs-ofctl flow file: '#' starts a comment, blank lines
    are skipped, a backslash at the end of a line continues it."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(data.splitlines(), 1):
        line = line.split("#", 1)[0].rstrip()
        start = start if pending else number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def run_add_flows(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    if len(words) != 1:
        raise OfctlError("needs one FILE ('-' for stdin)")
    name = words[0]
    try:
        data = sys.stdin.read() if name == "-" else Path(name).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise OfctlError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from None
    msgs = []
    for number, line in flow_file_lines(data):
        keyword, _, rest = line.partition(" ")
        command = _FLOW_COMMANDS.get(keyword.lower())
        if command is None or not rest.strip():
            command, rest = OFPFC_ADD, line
        try:
            msgs.append((f"{name}:{number}", _flow_mod(client, rest, command)))
        except OfctlError as exc:
            raise OfctlError(f"{name}:{number}: {exc}") from None
    result = _apply(client, args, "flows", msgs)
    return {**result, "sent": len(msgs)} if result else result


# -- ports, tables, features


def run_dump_ports(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    number = OFPP_ANY
    if words:
        number = client.port_number(words[0])
        if number not in {p.port_no for p in client.ports()}:
            raise client.no_port(words[0])
    reply = client.request(m.PortStatsRequest(port_no=number))
    assert isinstance(reply, m.PortStatsReply)
    return {"ports": [text.port_stats_entry(e, client.port_name(e.port_no), client.version)
                      for e in reply.entries]}


def run_dump_ports_desc(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    ports = client.ports()
    return {"version": VERSION_NAMES[client.version], "xid": client.last_xid,
            "ports": [text.port_entry(p, client.version) for p in ports]}


def run_dump_tables(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    reply = client.request(m.TableStatsRequest())
    assert isinstance(reply, m.TableStatsReply)
    return {"version": VERSION_NAMES[client.version], "xid": client.last_xid,
            "tables": [text.table_entry(e, client.version) for e in reply.entries]}


def run_show(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    features = client.request(m.FeaturesRequest())
    assert isinstance(features, m.FeaturesReply)
    result = text.features_entry(features, client.version)
    result["xid"] = client.last_xid
    if client.version == OFP10:  # the ports came with the features
        client.known_ports(features.ports)
    ports = client.ports()
    if client.version != OFP10:
        result["ports_xid"] = client.last_xid
    result["ports"] = [text.port_entry(p, client.version) for p in ports]
    config = client.request(m.GetConfigRequest())
    assert isinstance(config, m.GetConfigReply)
    result.update(text.config_entry(config), config_xid=client.last_xid)
    return result


# -- groups and meters


def _id_text(key: str, words: Words) -> str:
    """GROUP/METER words as text: ``5`` and ``all`` mean ``key=5``, ``key=all``."""
    word = " ".join(words) or "all"
    return f"{key}={word}" if _NUMBER.fullmatch(word) or word.lower() == "all" else word


def _group_mod(client: OfClient, group_text: str, command: int) -> m.GroupMod:
    gm: m.GroupMod = _parse(lambda: flowtext.parse_group(client.port_numbers(group_text),
                                                         command=command))
    try:
        return replace(gm, buckets=tuple(
            replace(b, actions=_lower_actions(b.actions, client.version)) for b in gm.buckets))
    except ValueError as exc:
        raise OfctlError(str(exc)) from None


def run_dump_groups(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    _need_v13(client, "groups")
    wanted = _group_mod(client, _id_text("group_id", words), OFPGC_DELETE).group_id
    desc = client.request(m.GroupDescStatsRequest())
    counters = client.request(m.GroupStatsRequest())
    assert isinstance(desc, m.GroupDescStatsReply) and isinstance(counters, m.GroupStatsReply)
    stats = {s.group_id: s for s in counters.entries}
    return {"groups": [text.group_entry(d, stats.get(d.group_id), client.version)
                       for d in sorted(desc.entries, key=lambda d: d.group_id)
                       if wanted in (OFPG_ALL, d.group_id)]}


def _mod_command(kind: str, key: str, delete: int, command: int,
                 make: Callable[[OfClient, str, int], m.Message]) -> Callable[..., Result]:
    """add-/mod-/del- for groups or meters: one GROUP_MOD/METER_MOD (all for a bare
    delete), applied with a barrier."""
    def run(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
        _need_v13(client, kind)
        if not words and command != delete:
            raise OfctlError(f"missing {kind[:-1].upper()}")
        return _apply(client, args, kind, [("", make(client, _id_text(key, words), command))])

    return run


def _group_command(command: int) -> Callable[..., Result]:
    return _mod_command("groups", "group_id", OFPGC_DELETE, command, _group_mod)


def _meter_mod(meter_text: str, command: int) -> m.MeterMod:
    mm: m.MeterMod = _parse(lambda: flowtext.parse_meter(meter_text, command=command))
    return mm


def run_dump_meters(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    _need_v13(client, "meters")
    wanted = _meter_mod(_id_text("meter", words), OFPMC_DELETE).meter_id
    config = client.request(m.MeterConfigStatsRequest())
    counters = client.request(m.MeterStatsRequest())
    assert isinstance(config, m.MeterConfigStatsReply) and isinstance(counters, m.MeterStatsReply)
    stats = {s.meter_id: s for s in counters.entries}
    return {"meters": [text.meter_entry(c, stats.get(c.meter_id))
                       for c in sorted(config.entries, key=lambda c: c.meter_id)
                       if wanted in (OFPM_ALL, c.meter_id)]}


def _meter_command(command: int) -> Callable[..., Result]:
    return _mod_command("meters", "meter", OFPMC_DELETE, command,
                        lambda client, text, cmd: _meter_mod(text, cmd))


# -- packet-out


def _packet_bytes(hex_text: str) -> bytes:
    try:
        data = bytes.fromhex(hex_text.removeprefix("0x").replace(":", ""))
    except ValueError:
        raise OfctlError(f"packet: {hex_text[:40]!r} is not a hex string") from None
    if len(data) < ETH_HEADER_SIZE:
        raise OfctlError("packet: Packet data too short for Ethernet")
    return data


def _packet_out_spec(words: Words) -> tuple[str, str, list[bytes]]:
    """(in_port, actions, packets) of ovs-ofctl's two packet-out forms."""
    if len(words) == 1:  # "in_port=1 packet=HEX actions=..." (actions last, optional)
        head, _, action_text = words[0].partition("actions=")
        fields = dict(fa.split_key(token) for token in fa.split_top(head))
        unknown = set(fields) - {"in_port", "packet"}
        if unknown:
            raise OfctlError(f"unknown packet-out field(s) {', '.join(sorted(unknown))}")
        if not fields.get("in_port") or not fields.get("packet"):
            raise OfctlError("in_port= and packet= are required")
        return fields["in_port"] or "", action_text or "drop", [_packet_bytes(fields["packet"]
                                                                             or "")]
    if len(words) < 3:
        raise OfctlError('needs IN_PORT ACTIONS PACKET... or "in_port=N packet=HEX actions=..."')
    return words[0], words[1], [_packet_bytes(word) for word in words[2:]]


def run_packet_out(client: OfClient, args: argparse.Namespace, words: Words) -> Result:
    port_text, action_text, packets = _packet_out_spec(words)
    in_port = client.port_number(port_text)
    parsed = _parse(lambda: fa.parse_action_list(client.port_numbers(action_text), "packet-out"))
    actions = _parse(lambda: _lower_actions(parsed, client.version))
    client.modify([(f"packet {n}" if len(packets) > 1 else "",
                    m.PacketOut(in_port=in_port, actions=actions, data=data))
                   for n, data in enumerate(packets, 1)])
    return {"packets": len(packets)}


# ------------------------------------------------------------------ the command line


def _bridge_only(args: argparse.Namespace, words: Words) -> tuple[str | None, Words]:
    if len(words) > 1:
        raise OfctlError("too many arguments (at most a BRIDGE)")
    return (words[0] if words else None), []


def _bridge_then(kind: str) -> Callable[[argparse.Namespace, Words], tuple[str | None, Words]]:
    """``[BRIDGE] REST``: ``flow`` text (optional or required), one ``file``, one ``port``
    or ``id`` (a number, all or key=N), or ``packet`` words."""
    def split(args: argparse.Namespace, words: Words) -> tuple[str | None, Words]:
        if kind in ("flow?", "flow"):
            bridge, flow = split_words(words, text_required=kind == "flow")
            return bridge, [flow] if flow else []
        if kind == "packet":  # ovs-ofctl's two forms (see _packet_out_spec)
            if any("packet=" in word for word in words):
                bridge = words[0] if "=" not in words[0] else None
                rest = words[1:] if bridge else words
                return bridge, [" ".join(rest)] if rest else []
            if len(words) >= 4 and not _HEX.fullmatch(words[2]):
                return words[0], words[1:]
            return None, words
        if len(words) > 2:
            raise OfctlError(f"too many arguments (at most a BRIDGE and a {kind.upper()})")
        if len(words) == 2:
            return words[0], words[1:]
        if not words:
            return None, []
        word = words[0]
        named = any(getattr(args, key, None) for key in ("socket", "bridge", "of"))
        if kind == "file" or named or _NUMBER.fullmatch(word) or "=" in word \
                or word.upper() in PORT_BY_NAME or word.lower() == "all":
            return None, words
        return word, []

    return split


@dataclass(frozen=True)
class Impl:
    """What a flow tool does (its command line is in swctl_of.py)."""

    run: Callable[[OfClient, argparse.Namespace, Words], Result]
    show: Callable[[Result], str]
    words: Callable[[argparse.Namespace, Words], tuple[str | None, Words]]


_BY_NAME: dict[str, Impl] = {
    "dump-flows": Impl(run_dump_flows, text.flows_text, _bridge_then("flow?")),
    "add-flow": Impl(_flow_command(OFPFC_ADD), text.nothing, _bridge_then("flow")),
    "add-flows": Impl(run_add_flows, text.nothing, _bridge_then("file")),
    "mod-flows": Impl(_flow_command(OFPFC_MODIFY, OFPFC_MODIFY_STRICT), text.nothing, _bridge_then("flow")),
    "del-flows": Impl(_flow_command(OFPFC_DELETE, OFPFC_DELETE_STRICT), text.nothing, _bridge_then("flow?")),
    "dump-ports": Impl(run_dump_ports, text.ports_text, _bridge_then("port")),
    "dump-ports-desc": Impl(run_dump_ports_desc, text.ports_desc_text, _bridge_only),
    "dump-tables": Impl(run_dump_tables, text.tables_text, _bridge_only),
    "dump-groups": Impl(run_dump_groups, text.groups_text, _bridge_then("group")),
    "add-group": Impl(_group_command(OFPGC_ADD), text.nothing, _bridge_then("flow")),
    "mod-group": Impl(_group_command(OFPGC_MODIFY), text.nothing, _bridge_then("flow")),
    "del-groups": Impl(_group_command(OFPGC_DELETE), text.nothing, _bridge_then("group")),
    "dump-meters": Impl(run_dump_meters, text.meters_text, _bridge_then("meter")),
    "add-meter": Impl(_meter_command(OFPMC_ADD), text.nothing, _bridge_then("flow")),
    "mod-meter": Impl(_meter_command(OFPMC_MODIFY), text.nothing, _bridge_then("flow")),
    "del-meters": Impl(_meter_command(OFPMC_DELETE), text.nothing, _bridge_then("meter")),
    "packet-out": Impl(run_packet_out, text.nothing, _bridge_then("packet")),
    "ofshow": Impl(run_show, text.show_text, _bridge_only),
}
assert set(_BY_NAME) == {spec.name for spec in swctl_of.COMMANDS}


def cmd_ofctl(args: argparse.Namespace) -> int:
    """Run one flow tool: connect, do it, print the result (or one line per error)."""
    command = _BY_NAME[args.command]
    try:
        bridge, words = command.words(args, list(args.words))
        target, name = resolve_target(args, bridge)
        timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT
        with OfClient(target, _versions(args), timeout=timeout, bridge=name) as client:
            result = command.run(client, args, words)
    except OfctlError as exc:
        for line in str(exc).splitlines():
            print(f"swctl: {args.command}: {line}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "json", False):  # the xids only serve ovs-ofctl's header lines
        print(json.dumps({k: v for k, v in result.items() if not k.endswith("xid")}, indent=2))
        return 0
    shown = command.show(result)
    if shown:
        print(shown)
    return 0
