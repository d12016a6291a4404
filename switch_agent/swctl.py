"""`swctl`: the operator CLI (console script ``switch_agent.swctl:main``).

Sits on top of switch_agent/: it talks to a running agent over the agent's unix
control socket (switch_agent/ctl.py: one JSON request, one JSON reply) and prints
what comes back the way the Open vSwitch tools do (``ovs-vsctl show``, ``ovs-ofctl
dump-flows``, ``ovs-appctl fdb/show``, ``dpctl/dump-flows``...), or as JSON with
``--json``.  It owns the command line and the human output; the agent owns the answers.

  swctl [--socket PATH | --bridge NAME] [--json] COMMAND ...
    show [BRIDGE]                    bridge, ports, controllers and connections
  OpenFlow flow tools, over OpenFlow like ovs-ofctl (switch_agent/ofctl.py): to the
  bridge's management socket DIR/BRIDGE.mgmt beside the control socket, or to any
  switch with --of tcp:IP[:PORT]|unix:PATH; -O OpenFlow10|OpenFlow13:
    dump-flows [BRIDGE] [FLOW], add-flow [BRIDGE] FLOW, add-flows [BRIDGE] FILE,
    mod-flows [--strict] [BRIDGE] FLOW, del-flows [--strict] [BRIDGE] [FLOW],
    dump-ports [BRIDGE] [PORT], dump-ports-desc, dump-tables, ofshow [BRIDGE],
    dump-groups/del-groups [BRIDGE] [GROUP], add-group/mod-group [BRIDGE] GROUP,
    dump-meters/del-meters [BRIDGE] [METER], add-meter/mod-meter [BRIDGE] METER,
    packet-out [BRIDGE] IN_PORT ACTIONS PACKET...
    trace [BRIDGE] FLOW              ofproto/trace: tables, actions, megaflow
    fdb-show [BRIDGE], fdb-flush [BRIDGE]     NORMAL's MAC table
    dp-dump-flows [BRIDGE], dp-stats [BRIDGE] the datapath's megaflows and counters
    version                          swctl's version (and the agent's when one runs)
  Offline (no agent needed):
    ofp-print HEX                    decode and print any OF1.0/1.3 message(s)
    parse-flow [-O VER] FLOW         print the FLOW_MOD hex for an ovs-ofctl flow

The socket: ``--socket PATH``, else the bridge's (``--bridge NAME`` or a BRIDGE
word) ``/run/switch-agent/NAME.ctl`` (``$SWITCH_AGENT_RUNDIR`` replaces the
directory), else the only socket there.  A first word is a BRIDGE when more words
follow, or when it cannot be flow text (no ``=``, not a protocol such as ``tcp``);
a lone word after dump-ports is the PORT when it is a number or a reserved name
(LOCAL) or when --socket/--bridge/--of already names the switch, else the BRIDGE.  Exit status 0, or 1 with
a one-line error on stderr when the agent is not running or refuses the command
(2 for a bad command line).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from switch_agent import ctl, swctl_admin, swctl_of

HEADER_SIZE = 8  # an OpenFlow header (openflow/wire.py), for framing hex input
PROTOCOLS = ("OpenFlow10", "OpenFlow13")

EXIT_BAD_INPUT = 1
EXIT_FAILED = 1
_HEX_NOISE = re.compile(r"0x|[\s:,]")


class SwctlError(Exception):
    """A one-line failure for stderr (exit status 1)."""


def _split_messages(data: bytes) -> list[bytes]:
    """Frame a byte string into messages by their header lengths."""
    messages, offset = [], 0
    while offset < len(data):
        if len(data) - offset < HEADER_SIZE:
            messages.append(data[offset:])
            break
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if length < HEADER_SIZE:  # cannot frame past this: hand the rest to the decoder
            messages.append(data[offset:])
            break
        messages.append(data[offset : offset + length])
        offset += length
    return messages


def cmd_ofp_print(args: argparse.Namespace) -> int:
    from openflow import codec, printer
    from openflow.consts import OFP13
    from openflow.errors import CodecError, code_name, type_name

    text = _HEX_NOISE.sub("", "".join(args.hex))
    try:
        data = bytes.fromhex(text)
    except ValueError:
        print("swctl: ofp-print: argument is not a hex string", file=sys.stderr)
        return EXIT_BAD_INPUT
    status = 0
    for raw in _split_messages(data):
        try:
            version, msg = codec.decode(raw)
        except CodecError as exc:
            version = raw[0] if raw and raw[0] in (0x01, 0x04) else OFP13
            msg_type, msg_code = exc.type_code(version)
            print(f"decode error: {type_name(version, msg_type)}/"
                  f"{code_name(version, msg_type, msg_code)} (type {msg_type}, code {msg_code})"
                  + (f": {exc.detail}" if exc.detail else ""), file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(printer.format_message(version, msg))
    return status


def cmd_parse_flow(args: argparse.Namespace) -> int:
    from openflow import codec, flowtext, printer
    from openflow.consts import VERSION_BY_NAME

    version = VERSION_BY_NAME[args.protocol]
    try:
        flow_mod = flowtext.parse_flow(" ".join(args.flow), version=version)
        data = codec.encode(flow_mod, version)
    except ValueError as exc:
        print(f"swctl: parse-flow: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.verbose:
        print(printer.format_message(version, flow_mod))
    print(data.hex())
    return 0


# ------------------------------------------------------------------ reaching the agent


def _find_socket(args: argparse.Namespace, bridge: str | None) -> tuple[Path, str | None]:
    """The control socket to use, and the bridge the request is for (if named): the
    ``--socket`` path; else, in the run directory, the only agent's socket or the one of
    the agent that runs the named bridge."""
    option = getattr(args, "bridge", None)
    if bridge and option and bridge != option:
        raise SwctlError(f"two bridges named: --bridge {option} and {bridge}")
    name = bridge or option
    path = getattr(args, "socket", None)
    if path:
        return Path(path), name
    if name:
        try:
            own = ctl.socket_path(name)  # a one-bridge agent's socket is named after it
        except ValueError as exc:
            raise SwctlError(str(exc)) from None
    directory = ctl.run_dir()
    try:
        found = ctl.sockets_in(directory, ctl.SOCKET_SUFFIX)
    except PermissionError:
        raise SwctlError(f"permission denied on {directory} (run as root or as the "
                         f"agent's user, or give --socket PATH)") from None
    if name:
        if own in found:
            return own, name
        for candidate in found:  # an agent with several bridges: ask each
            try:
                bridges = ctl.request(candidate, "list-br", timeout=5.0)["bridges"]
            except (ctl.ControlError, KeyError, TypeError):
                continue
            if name in bridges:
                return candidate, name
        hint = f" (agents: {', '.join(p.name for p in found)})" if found else ""
        raise SwctlError(f"no agent running bridge {name!r} in {directory}{hint}; "
                         f"start one with 'switch-agent run', or give --socket PATH")
    if len(found) == 1:
        return found[0], None
    if found:
        names = ", ".join(p.name[: -len(ctl.SOCKET_SUFFIX)] for p in found)
        raise SwctlError(f"several agents run here ({names}): name a bridge with --bridge NAME")
    hint = "" if directory.is_dir() else f" ({directory} does not exist)"
    raise SwctlError(f"no agent running: no control socket in {directory}{hint}; "
                     f"start one with 'switch-agent run', or give --socket PATH")


def _call(args: argparse.Namespace, cmd: str, cmd_args: dict[str, Any] | None = None,
          bridge: str | None = None) -> Any:
    path, name = _find_socket(args, bridge)
    try:
        return ctl.request(path, cmd, cmd_args, bridge=name,
                               timeout=getattr(args, "timeout", None) or 30.0)
    except ctl.ControlError as exc:
        raise SwctlError(str(exc)) from None


# ------------------------------------------------------------------ human output


def _show_text(r: dict[str, Any]) -> str:
    """Like ``ovs-vsctl show`` (plus the OpenFlow numbers ``ovs-ofctl show`` adds)."""
    if "bridges" in r:  # an agent with several bridges (or none)
        return "\n".join(_show_text(bridge) for bridge in r["bridges"]) or "(no bridges)"
    lines = [f"Bridge {r['bridge']}",
             f"    datapath_id: {r['datapath_id']}",
             f"    fail_mode: {r['fail_mode']}" + (" (fail-open: NORMAL)" if r.get("fail_open")
                                                   else ""),
             f"    protocols: {','.join(r['protocols'])}",
             f"    n_tables: {r['n_tables']}"]
    for c in r["controllers"]:
        lines.append(f'    Controller "{c["target"]}"')
        lines.append(f"        is_connected: {'true' if c['connected'] else 'false'}")
        if c["connected"]:
            lines.append(f"        role: {c['role']}")
            lines.append(f"        version: {c['version']}")
    for c in r["connections"]:
        lines.append(f'    Connection "{c["target"]}"' + (f" from {c['peer']}" if c["peer"] else ""))
        lines.append(f"        role: {c['role']}")
        lines.append(f"        version: {c['version']}")
    for p in r["ports"]:
        lines.append(f"    Port {p['name']}")
        lines.append(f"        ofport: {p['ofport_name']}")
        lines.append(f"        type: {p['type']}")
        lines.append(f"        link_state: {p['link_state']}")
        lines.append(f"        admin_state: {p['admin_state']}")
        if p["config"]:
            lines.append(f"        config: {','.join(p['config'])}")
        lines.append(f"        mac_in_use: {p['mac']}")
        lines.append(f"        mtu: {p['mtu']}")
    for p in r.get("pending_ports", []):
        lines.append(f"    Port {p['name']}")
        lines.append(f'        error: "{p["error"]}"')
    return "\n".join(lines)


def _fdb_text(r: dict[str, Any]) -> str:
    """Like ``ovs-appctl fdb/show``."""
    lines = [" port  VLAN  MAC                Age"]
    lines += [f"{e['port_name']:>5}  {e['vlan']:4}  {e['mac']}  {e['age']:3}"
              for e in r["entries"]]
    return "\n".join(lines)


def _dp_flows_text(r: dict[str, Any]) -> str:
    """Like ``ovs-appctl dpctl/dump-flows``."""
    lines = []
    for f in r["flows"]:
        used = "never" if f["used"] is None else f"{f['used']:.3f}s"
        lines.append(f"{f['match']}, packets:{f['packets']}, bytes:{f['bytes']}, "
                     f"used:{used}, actions:{f['actions']}")
    return "\n".join(lines)


def _dp_stats_text(r: dict[str, Any]) -> str:
    """Like ``ovs-appctl dpctl/show``."""
    lines = [f"{r['name']}:",
             f"  lookups: hit:{r['hit']} missed:{r['missed']} lost:{r['lost']}",
             f"  flows: {r['flows']}",
             f"  masks: total:{r['masks']}",
             f"  upcalls: handled:{r['upcalls']} malformed:{r['malformed']}"]
    lines += [f"  port {p['port_no']}: {p['name']} ({p['type']})" for p in r["ports"]]
    return "\n".join(lines)


def _fdb_flush_text(r: dict[str, Any]) -> str:
    return "table successfully flushed"


# command -> its human output (like the OVS tool that has the command)
_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "show": _show_text,
    "trace": lambda r: r["text"].rstrip("\n"),
    "fdb-show": _fdb_text,
    "fdb-flush": _fdb_flush_text,
    "dp-dump-flows": _dp_flows_text,
    "dp-stats": _dp_stats_text,
}


def _output(args: argparse.Namespace, cmd: str, result: Any) -> None:
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2))
        return
    text = _FORMATS[cmd](result)
    if text:
        print(text)


# ------------------------------------------------------------------ agent commands


def _agent_request(args: argparse.Namespace) -> tuple[str, dict[str, Any], str | None]:
    """(cmd, args, bridge) of an agent command from its command line words."""
    cmd, words = args.command, list(getattr(args, "words", []))
    if cmd == "trace":
        from switch_agent.ofclient import split_words  # (loads the flow text parser)

        bridge, text = split_words(words, text_required=True)
        if text is None:
            raise SwctlError(f"{cmd}: missing FLOW")
        request: dict[str, Any] = {"flow": text}
    else:
        if len(words) > 1:
            raise SwctlError(f"{cmd}: too many arguments (at most a BRIDGE)")
        bridge, request = (words[0] if words else None), {}
    return cmd, request, bridge


def cmd_agent(args: argparse.Namespace) -> int:
    """Any command the agent answers: send it, print the result."""
    try:
        cmd, request, bridge = _agent_request(args)
        result = _call(args, cmd, request, bridge)
    except SwctlError as exc:
        print(f"swctl: {args.command}: {exc}" if not str(exc).startswith(f"{args.command}:")
              else f"swctl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _output(args, cmd, result)
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    """swctl's version; the agent's too when one is reachable (required when a socket
    or bridge is named)."""
    from switch_agent.cli import _version

    named = bool(getattr(args, "socket", None) or getattr(args, "bridge", None))
    agent = None
    try:
        agent = _call(args, "version")
    except SwctlError as exc:
        if named:
            print(f"swctl: version: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if getattr(args, "json", False):
        print(json.dumps({"swctl": _version(), "agent": agent}, indent=2))
        return 0
    print(f"swctl (switch-agent) {_version()}")
    if agent is not None:
        print(f"agent (bridges {', '.join(agent['bridges']) or 'none'}): switch-agent "
              f"{agent['version']}, {','.join(agent['protocols'])}")
    return 0


# ------------------------------------------------------------------ command line


def _common() -> argparse.ArgumentParser:
    """Options accepted before or after the command (SUPPRESS: a subcommand's default
    must not overwrite what was given before it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--socket", metavar="PATH", default=argparse.SUPPRESS,
                        help="the agent's control socket")
    common.add_argument("--bridge", metavar="NAME", default=argparse.SUPPRESS,
                        help=f"the bridge whose agent to ask ({ctl.DEFAULT_RUN_DIR}/NAME.ctl)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the agent's answer as JSON")
    common.add_argument("--timeout", type=float, metavar="SECONDS", default=argparse.SUPPRESS,
                        help="how long to wait for the agent (default 30)")
    return common


_AGENT_COMMANDS: tuple[tuple[str, str, str], ...] = (
    # (command, words metavar, help)
    ("show", "[BRIDGE]", "bridge, ports, controllers and connections (ovs-vsctl show)"),
    ("trace", "[BRIDGE] FLOW", "what the pipeline does with a packet (ofproto/trace)"),
    ("fdb-show", "[BRIDGE]", "NORMAL's MAC learning table"),
    ("fdb-flush", "[BRIDGE]", "empty the MAC learning table"),
    ("dp-dump-flows", "[BRIDGE]", "the datapath's megaflows with their counters"),
    ("dp-stats", "[BRIDGE]", "datapath hit/missed/lost, flows, masks"),
)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="swctl", description="switch-agent operator CLI",
        parents=[common, swctl_of.target_options()],
        epilog="The agent commands take --socket/--bridge/--json/--timeout before or "
               "after the command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for name, metavar, text in _AGENT_COMMANDS:
        p = sub.add_parser(name, help=text, description=text, parents=[common])
        p.add_argument("words", nargs="*", metavar=metavar)
        p.set_defaults(func=cmd_agent)
    swctl_of.register(sub, common)  # the OpenFlow flow tools

    swctl_admin.register(sub, common)

    p = sub.add_parser("ofp-print", help="decode and print OpenFlow messages given in hex")
    p.add_argument("hex", nargs="+", help="message bytes in hex (spaces, colons, 0x allowed)")
    p.set_defaults(func=cmd_ofp_print)

    p = sub.add_parser("parse-flow", help="print the FLOW_MOD bytes of an ovs-ofctl flow")
    p.add_argument("-O", "--protocol", choices=PROTOCOLS, default="OpenFlow13")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the decoded text")
    p.add_argument("flow", nargs="+", help="flow in ovs-ofctl syntax")
    p.set_defaults(func=cmd_parse_flow)

    p = sub.add_parser("version", help="print the version (and the running agent's)",
                       parents=[common])
    p.set_defaults(func=cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
