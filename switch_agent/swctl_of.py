"""swctl_of: the command line of swctl's OpenFlow flow tools -- their names,
arguments and help, and ``--of``/``-O``.

Sits between swctl.py (which calls ``register``) and ofctl.py (the tools themselves,
with the OpenFlow library under them), so that swctl only loads those when a flow
tool runs: a management command or ``swctl show`` starts without them.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple


class Spec(NamedTuple):
    name: str
    metavar: str
    help: str
    strict: bool = False  # takes --strict (mod-flows, del-flows)


COMMANDS: tuple[Spec, ...] = (
    Spec("dump-flows", "[BRIDGE] [FLOW]",
         "OpenFlow flows, optionally filtered (ovs-ofctl)"),
    Spec("add-flow", "[BRIDGE] FLOW",
         "add a flow"),
    Spec("add-flows", "[BRIDGE] FILE",
         "add the flows of FILE, one per line ('-': stdin)"),
    Spec("mod-flows", "[BRIDGE] FLOW",
         "modify the actions of matching flows", strict=True),
    Spec("del-flows", "[BRIDGE] [FLOW]",
         "delete matching flows (all without FLOW)", strict=True),
    Spec("dump-ports", "[BRIDGE] [PORT]",
         "port counters (PORT: number, LOCAL or name)"),
    Spec("dump-ports-desc", "[BRIDGE]",
         "port descriptions"),
    Spec("dump-tables", "[BRIDGE]",
         "flow table counters"),
    Spec("dump-groups", "[BRIDGE] [GROUP]",
         "groups (GROUP: N or group_id=N)"),
    Spec("add-group", "[BRIDGE] GROUP",
         "add a group (ovs-ofctl syntax)"),
    Spec("mod-group", "[BRIDGE] GROUP",
         "modify a group"),
    Spec("del-groups", "[BRIDGE] [GROUP]",
         "delete a group (all without GROUP)"),
    Spec("dump-meters", "[BRIDGE] [METER]",
         "meters (METER: N or meter=N)"),
    Spec("add-meter", "[BRIDGE] METER",
         "add a meter (ovs-ofctl syntax)"),
    Spec("mod-meter", "[BRIDGE] METER",
         "modify a meter"),
    Spec("del-meters", "[BRIDGE] [METER]",
         "delete a meter (all without METER)"),
    Spec("packet-out", "[BRIDGE] IN_PORT ACTIONS PACKET...",
         'send packets through the switch (or "in_port=N packet=HEX actions=...")'),
    Spec("ofshow", "[BRIDGE]",
         "features and ports (ovs-ofctl show)"),
)


def target_options() -> argparse.ArgumentParser:
    """--of and -O, for swctl's top-level parser and each flow tool (SUPPRESS: given
    before the command, they are not overwritten by the subcommand's defaults)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--of", metavar="TARGET", default=argparse.SUPPRESS,
                         help="the OpenFlow switch: tcp:IP[:PORT] (6653), unix:PATH, a socket "
                              "path (default: the bridge's BRIDGE.mgmt socket)")
    options.add_argument("-O", "--protocol", dest="of_protocol", metavar="VERSIONS",
                         default=argparse.SUPPRESS,
                         help="OpenFlow10, OpenFlow13 or both comma-separated (default both)")
    return options


def run(args: argparse.Namespace) -> int:
    """Run the flow tool ``args.command`` (loads ofctl.py and the OpenFlow library)."""
    from switch_agent import ofctl

    return ofctl.cmd_ofctl(args)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the flow tools to swctl's subparsers (``sub``), with swctl's common options."""
    options = target_options()
    for spec in COMMANDS:
        p = sub.add_parser(spec.name, help=spec.help, description=spec.help,
                           parents=[common, options])
        if spec.strict:
            p.add_argument("--strict", action="store_true",
                           help="match priority and fields exactly")
        p.add_argument("words", nargs="*", metavar=spec.metavar)
        p.set_defaults(func=run)


__all__ = ["COMMANDS", "Spec", "register", "run", "target_options"]
