"""swctl's management commands: bridges, ports, controllers, protocols, logging
(what ``ovs-vsctl`` and ``ovs-appctl vlog/set``, ``upcall/show`` do for Open vSwitch).

Sits beside switch_agent/swctl.py, which owns the command line, finding the agent and
printing; this module adds its subcommands (``register``) and turns their words into
control-socket requests (switch_agent/admin.py answers them).  As with ovs-vsctl a
change prints nothing (``--json`` prints the agent's answer, with ``saved``: whether
it went to the agent's configuration file).

    list-br                       add-br BRIDGE [--datapath-id HEX] [--protocols P,..]
    del-br BRIDGE                       [--fail-mode M] [--controller T]... [--may-exist]
    list-ports BRIDGE             add-port BRIDGE PORT [--type T] [--ofport N] [--peer P]
    del-port [BRIDGE] PORT              [--remote-ip IP] [--key VNI] [--dst-port N]
    set-controller BRIDGE TARGET...   del-controller BRIDGE   get-controller BRIDGE
    set-fail-mode BRIDGE MODE         del-fail-mode BRIDGE
    set-protocols BRIDGE P[,P..]      set-datapath-id BRIDGE HEX
    log-level [[MODULE] LEVEL]        upcall-show [BRIDGE]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from switch_agent.config import LOG_LEVELS, PORT_TYPES

EXIT_FAILED = 1


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any], str | None]:
    """(cmd, request args, bridge) from a management command's parsed words."""
    cmd = args.command
    flags: dict[str, Any] = {}
    if getattr(args, "may_exist", False):
        flags["may_exist"] = True
    if getattr(args, "if_exists", False):
        flags["if_exists"] = True
    if cmd == "add-br":
        request = {"name": args.name, **flags}
        if args.datapath_id is not None:
            request["datapath_id"] = args.datapath_id
        if args.protocols is not None:
            request["protocols"] = [p for p in args.protocols.split(",") if p]
        if args.fail_mode is not None:
            request["fail_mode"] = args.fail_mode
        if args.controller:
            request["controllers"] = args.controller
        return cmd, request, None
    if cmd == "del-br":
        return cmd, {"name": args.name, **flags}, None
    if cmd == "add-port":
        request = {"port": args.port, **flags}
        for key in ("type", "ofport", "peer", "remote_ip", "key", "dst_port"):
            value = getattr(args, key)
            if value is not None:
                request[key] = value
        return cmd, request, args.br
    if cmd == "del-port":
        words = args.words
        if not 1 <= len(words) <= 2:
            raise ValueError("del-port: [BRIDGE] PORT")
        bridge = words[0] if len(words) == 2 else None
        return cmd, {"port": words[-1], **flags}, bridge
    if cmd == "set-controller":
        return cmd, {"targets": args.targets}, args.br
    if cmd == "set-fail-mode":
        return cmd, {"mode": args.mode}, args.br
    if cmd == "set-protocols":
        names = [p for word in args.protocols for p in word.split(",") if p]
        return cmd, {"protocols": names}, args.br
    if cmd == "set-datapath-id":
        return cmd, {"datapath_id": args.datapath_id}, args.br
    if cmd == "log-level":
        words = args.words
        if len(words) > 2:
            raise ValueError("log-level: [[MODULE] LEVEL]")
        request = {}
        if words:
            request["level"] = words[-1]
        if len(words) == 2:
            request["module"] = words[0]
        return cmd, request, None
    if cmd == "upcall-show":
        return cmd, {}, args.br
    return cmd, {}, getattr(args, "br", None)  # list-br, list-ports, *-controller, ...


def _text(cmd: str, result: dict[str, Any]) -> str:
    if cmd == "list-br":
        return "\n".join(result["bridges"])
    if cmd == "list-ports":
        return "\n".join(result["ports"])
    if cmd == "get-controller":
        return "\n".join([*result["controllers"], *result["listeners"]])
    if cmd == "log-level":
        return "\n".join(f"{name:<32} {level}" for name, level in result["levels"].items())
    if cmd == "upcall-show":
        lines = []
        for b in result["bridges"]:
            lines += [f"{b['bridge']}:",
                      f"  flows         : (current {b['flows']}) (limit {b['flow_limit']}) "
                      f"(masks {b['masks']})",
                      f"  lookups       : hit:{b['hit']} missed:{b['missed']} lost:{b['lost']}",
                      f"  upcalls       : handled:{b['upcalls_handled']} "
                      f"queued:{b['upcall_queue']}/{b['upcall_queue_len']}",
                      f"  revalidations : {b['revalidations']} (ukeys {b['ukeys']})"]
        return "\n".join(lines)
    return ""  # a change: nothing, as ovs-vsctl


def cmd_admin(args: argparse.Namespace) -> int:
    from switch_agent import swctl

    try:
        cmd, request, bridge = _request(args)
        result = swctl._call(args, cmd, request, bridge)
    except (ValueError, swctl.SwctlError) as exc:
        text = str(exc)
        print(f"swctl: {text}" if text.startswith(f"{args.command}:")
              else f"swctl: {args.command}: {text}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    else:
        text = _text(cmd, result)
        if text:
            print(text)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the management subcommands to swctl's parser."""

    def add(name: str, text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text,
                                                    parents=[common])
        p.set_defaults(func=cmd_admin)
        return p

    add("list-br", "the agent's bridges")
    p = add("add-br", "add a bridge (running at once; saved with --config)")
    p.add_argument("name", metavar="BRIDGE")
    p.add_argument("--datapath-id", metavar="HEX", help="default: the lowest one unused here")
    p.add_argument("--protocols", metavar="P,...", help="default OpenFlow10,OpenFlow13")
    p.add_argument("--fail-mode", choices=("secure", "standalone"))
    p.add_argument("--controller", action="append", default=[], metavar="TARGET",
                   help="tcp:/ssl:/unix: controller or ptcp:/pssl:/punix: listener")
    p.add_argument("--may-exist", action="store_true", help="no error if it exists")
    p = add("del-br", "delete a bridge and its ports")
    p.add_argument("name", metavar="BRIDGE")
    p.add_argument("--if-exists", action="store_true", help="no error if it does not exist")
    p = add("list-ports", "a bridge's configured ports")
    p.add_argument("br", metavar="BRIDGE", nargs="?")
    p = add("add-port", "add a port to a bridge")
    p.add_argument("br", metavar="BRIDGE")
    p.add_argument("port", metavar="PORT")
    p.add_argument("--type", choices=PORT_TYPES, help="default system (an existing interface)")
    p.add_argument("--ofport", type=int, metavar="N", help="OpenFlow port number")
    p.add_argument("--peer", metavar="PORT", help="patch: the other end")
    p.add_argument("--remote-ip", metavar="IP", help="vxlan: the remote end")
    p.add_argument("--key", type=int, metavar="VNI", help="vxlan: VNI (default: from the flow)")
    p.add_argument("--dst-port", type=int, metavar="N", help="vxlan: UDP port (default 4789)")
    p.add_argument("--may-exist", action="store_true", help="no error if it is there")
    p = add("del-port", "delete a port (from whichever bridge has it)")
    p.add_argument("words", nargs="+", metavar="[BRIDGE] PORT")
    p.add_argument("--if-exists", action="store_true", help="no error if it does not exist")
    p = add("set-controller", "replace a bridge's controllers and listeners")
    p.add_argument("br", metavar="BRIDGE")
    p.add_argument("targets", nargs="+", metavar="TARGET")
    for name, text in (("del-controller", "remove a bridge's controllers and listeners"),
                       ("get-controller", "a bridge's controllers and listeners"),
                       ("del-fail-mode", "back to the default fail mode")):
        add(name, text).add_argument("br", metavar="BRIDGE", nargs="?")
    p = add("set-fail-mode", "what the bridge does without a controller")
    p.add_argument("br", metavar="BRIDGE")
    p.add_argument("mode", choices=("secure", "standalone"))
    p = add("set-protocols", "the OpenFlow versions the bridge speaks")
    p.add_argument("br", metavar="BRIDGE")
    p.add_argument("protocols", nargs="+", metavar="PROTOCOL")
    p = add("set-datapath-id", "the bridge's datapath id (connections start over)")
    p.add_argument("br", metavar="BRIDGE")
    p.add_argument("datapath_id", metavar="HEX")
    p = add("log-level", f"show or set log levels until the agent exits ({', '.join(LOG_LEVELS)})")
    p.add_argument("words", nargs="*", metavar="[[MODULE] LEVEL]")
    p = add("upcall-show", "flows, upcalls and revalidations per bridge (upcall/show)")
    p.add_argument("br", metavar="BRIDGE", nargs="?")


__all__ = ["cmd_admin", "register"]
