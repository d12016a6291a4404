"""Entry point of the `switch-agent` command (console script `switch_agent.cli:agent_main`).

Sits at the top of switch_agent/: it parses the command line and hands off to
the agent. Today only `--version` works; `run` (and later `lab`) exit with a
clear message until the switch itself exists (issues 4 and 5). The operator CLI
`swctl` lives in switch_agent/swctl.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

_DIST = "switch-agent"

NOT_YET = (
    "switch-agent: the switch itself is not implemented yet (issue 4/5); see README. "
    "What works today is the OpenFlow library, e.g. `swctl parse-flow` and `swctl ofp-print`."
)


def _version() -> str:
    try:
        return metadata.version(_DIST)
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0.1.0+uninstalled"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switch-agent",
        description="An OpenFlow 1.0/1.3 software switch.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "run",
        help="run the agent in the foreground (not implemented yet)",
        description="Run the agent in the foreground (not implemented yet: issue 4/5).",
    )
    return parser


def agent_main(argv: Sequence[str] | None = None) -> int:
    """Run `switch-agent [--version] COMMAND ...`; returns the process exit status."""
    parser = _build_parser()
    # parse_known_args: `run` accepts the documented future flags (--bridge,
    # --controller, ...) so that scripts written against the interface get the
    # honest message below rather than a usage error.
    ns, rest = parser.parse_known_args(argv)
    if ns.command is None:
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        parser.print_help(sys.stderr)
        return 2
    # ns.command == "run": the only command so far.
    print(NOT_YET, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(agent_main())
