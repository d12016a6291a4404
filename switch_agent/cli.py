"""Entry point of the `switch-agent` command (console script `switch_agent.cli:agent_main`).

Sits at the top of switch_agent/: it parses the command line into a configuration
(switch_agent.config: from ``--config FILE``, or one bridge from the flags) and runs
the agent (switch_agent.agent: the bridges, each a datapath, an OpenFlow switch and its
connections) on one asyncio loop until SIGTERM/SIGINT.  The operator CLI `swctl` lives
in switch_agent/swctl.py.

    switch-agent run --config /etc/switch-agent/switch-agent.toml
    switch-agent run --bridge br0 --datapath-id 0000000000000001
        --port veth1 --port veth2=5 --port dummy:p1
        --controller tcp:127.0.0.1:6653 --listen ptcp:6634:127.0.0.1
        [--private-key K --certificate C --ca-cert CA]  (for ssl: / pssl:)
        --protocols OpenFlow10,OpenFlow13 --fail-mode secure|standalone

A port is an existing interface (a `system` port through AF_PACKET), `dummy:NAME`
(in memory), or `internal:NAME` (a tap created for the agent and deleted at exit),
each optionally `=OFPORT`.  `--listen none` turns the passive listener off.  With
``--config`` the bridge flags are refused (the file says the bridges); a missing file is
created, and swctl's changes are saved to it.  Exit status 2 for bad flags, 1 for a bad
configuration file or a failure to start, each with a one-line message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from switch_agent import config as cfg
from switch_agent.config import AgentConfig, BridgeConfig, PortConfig

_DIST = "switch-agent"
log = logging.getLogger("switch_agent")
PROTOCOLS = cfg.PROTOCOLS


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
    run = sub.add_parser("run", help="run the agent in the foreground",
                         description="Run the agent in the foreground until SIGTERM/SIGINT: "
                                     "the bridges of --config FILE, or one bridge from "
                                     "the flags.")
    run.add_argument("--config", metavar="FILE",
                     help="TOML configuration (created when missing); swctl's changes to "
                          "bridges, ports and controllers are saved back to it")
    run.add_argument("--bridge", default=None, help="bridge name (default br0)")
    run.add_argument("--datapath-id", default=None,
                     help="datapath id, hex (default 0000000000000001)")
    run.add_argument("--port", action="append", default=[], metavar="IFACE[=OFPORT]",
                     help="a port: an interface, dummy:NAME or internal:NAME (repeatable)")
    run.add_argument("--controller", action="append", default=[], metavar="TARGET",
                     help="tcp:IP[:PORT], ssl:IP[:PORT] or unix:PATH (repeatable)")
    run.add_argument("--listen", action="append", default=None, metavar="TARGET",
                     help="ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH (default "
                          "ptcp:6634:127.0.0.1; 'none' for no listener; repeatable)")
    run.add_argument("--protocols", default=None,
                     help="comma-separated OpenFlow versions (default OpenFlow10,OpenFlow13)")
    run.add_argument("--fail-mode", choices=("secure", "standalone"), default=None,
                     help="without a controller: keep flows and drop misses (secure), or "
                          "act as a learning switch (standalone); default: secure with a "
                          "controller, standalone without")
    run.add_argument("--private-key", help="PEM key for ssl:/pssl:")
    run.add_argument("--certificate", help="PEM certificate for ssl:/pssl:")
    run.add_argument("--ca-cert", help="PEM CA certificate that signs the peers (ssl:/pssl:)")
    run.add_argument("--controller-rate-limit", type=float, default=None, metavar="PPS",
                     help="packet-ins per second per connection (default 0: unlimited)")
    run.add_argument("--controller-burst-limit", type=float, default=None, metavar="N",
                     help="packet-in burst (default: a quarter of the rate)")
    run.add_argument("--control-socket", default=None, metavar="PATH",
                     help="unix socket for swctl (default /run/switch-agent/BRIDGE.ctl, with "
                          "--config /run/switch-agent/switch-agent.ctl; $SWITCH_AGENT_RUNDIR "
                          "moves the directory; 'none' for none); each bridge's OpenFlow "
                          "management socket BRIDGE.mgmt goes beside it")
    run.add_argument("--probe-interval", type=float, default=None,
                     help="inactivity probe interval, seconds (default 5)")
    run.add_argument("--max-backoff", type=float, default=None,
                     help="longest reconnect interval, seconds (default 8)")
    run.add_argument("-v", "--verbose", action="count", default=0)
    lab = sub.add_parser("lab", help="a ready lab: namespace hosts wired to a bridge (root)",
                         description="Create N namespace hosts (10.0.0.N/24) wired to a "
                                     "bridge of the agent; remove them at exit.")
    lab.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    lab.add_argument("--demo", action="store_true",
                     help="first ping all pairs and show the flow and MAC tables")
    lab.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                     help="stop after this long (0: right after --demo); default: Ctrl-C")
    lab.add_argument("--topo", choices=("single", "linear"), default="single",
                     help="one bridge with every host (single, default) or a chain of "
                          "bridges, one host each, joined by patch ports (linear)")
    lab.add_argument("--controller", action="append", default=[], metavar="TARGET",
                     help="tcp:IP[:PORT] or unix:PATH (repeatable)")
    lab.add_argument("--listen", default="ptcp:6634:127.0.0.1",
                     help="passive listener (default ptcp:6634:127.0.0.1; 'none' for none)")
    lab.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _port_spec(text: str) -> PortConfig:
    """A port from IFACE[=N], dummy:NAME[=N], internal:NAME[=N]."""
    spec, _, number = text.partition("=")
    kind, _, name = spec.partition(":")
    if not name:
        kind, name = "system", spec
    if kind not in ("system", "dummy", "internal") or not name:
        raise ValueError(f"bad --port {text!r}: IFACE, dummy:NAME or internal:NAME, then =OFPORT")
    try:
        ofport = int(number, 0) if number else None
    except ValueError:
        raise ValueError(f"bad --port {text!r}: {number!r} is not a port number") from None
    return cfg.check_port(PortConfig(name=name, type=kind, ofport=ofport))


_BRIDGE_FLAGS = ("bridge", "datapath_id", "port", "controller", "listen", "protocols",
                 "fail_mode")
_AGENT_FLAGS = {"probe_interval": "probe_interval", "max_backoff": "max_backoff",
                "controller_rate_limit": "controller_rate_limit",
                "controller_burst_limit": "controller_burst_limit",
                "private_key": "private_key", "certificate": "certificate", "ca_cert": "ca_cert"}


def _config(ns: argparse.Namespace) -> AgentConfig:
    """The configuration to run: ``--config FILE`` (bridge flags refused: the file says
    the bridges), else one bridge from the flags.  ConfigError/ValueError for bad input."""
    if ns.config is not None:
        given = [f"--{name.replace('_', '-')}" for name in _BRIDGE_FLAGS
                 if getattr(ns, name) not in (None, [])]
        if given:
            raise cfg.ConfigError(f"{', '.join(given)}: not with --config (the file says the "
                                  f"bridges; change them with swctl)")
        config = cfg.load(ns.config) if Path(ns.config).exists() else AgentConfig()
    else:
        controllers = tuple(cfg.check_target(t, passive=False) for t in ns.controller)
        listen = ns.listen if ns.listen is not None else [cfg.DEFAULT_LISTENER]
        listeners = tuple(cfg.check_target(t, passive=True) for t in listen if t != "none")
        protocols = cfg.check_protocols(
            [p for p in (ns.protocols or "OpenFlow10,OpenFlow13").split(",") if p])
        bridge = BridgeConfig(
            name=ns.bridge or "br0",
            datapath_id=cfg.parse_datapath_id(ns.datapath_id or "1"),
            protocols=protocols, fail_mode=ns.fail_mode, controllers=controllers,
            listeners=listeners, ports=tuple(_port_spec(text) for text in ns.port))
        config = AgentConfig(bridges=(bridge,))
    overrides = {field: getattr(ns, flag) for flag, field in _AGENT_FLAGS.items()
                 if getattr(ns, flag) is not None}
    return cfg.check(replace(config, **overrides))


def _control_socket(ns: argparse.Namespace, config: AgentConfig) -> Path | None:
    from switch_agent import control

    text = ns.control_socket or config.control_socket
    if text == "none":
        return None
    if text:
        return Path(text)
    if ns.config is None:
        return control.socket_path(config.bridges[0].name)
    return control.run_dir() / f"switch-agent{control.SOCKET_SUFFIX}"


async def _run(ns: argparse.Namespace, config: AgentConfig) -> int:
    from switch_agent.agent import Agent

    path = Path(ns.config) if ns.config is not None else None
    if path is not None and not path.exists():
        cfg.save(config, path)  # the file now says what runs (swctl changes go there)
    agent = Agent(config, path=path, control_socket=_control_socket(ns, config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.start()
        await agent.serve(stop)
    finally:
        await agent.close()
    log.info("agent stopped")
    return 0


def agent_main(argv: Sequence[str] | None = None) -> int:
    """Run `switch-agent [--version] COMMAND ...`; returns the process exit status."""
    parser = _build_parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if ns.verbose > 1 else
                        logging.INFO if ns.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if ns.command == "lab":
        if not 1 <= ns.hosts <= 64:
            parser.error("--hosts must be 1..64")
        from switch_agent.lab import run_lab

        listen = None if ns.listen == "none" else ns.listen
        return asyncio.run(run_lab(ns.hosts, ns.demo, ns.controller, listen, ns.duration,
                                   ns.topo))
    try:
        config = _config(ns)
    except ValueError as exc:  # ConfigError is one
        if ns.config is None:
            parser.error(str(exc))  # a usage error: exit status 2
        print(f"switch-agent: {exc}", file=sys.stderr)
        return 1
    if not ns.verbose:
        logging.getLogger().setLevel(config.log_level.upper())
    try:
        return asyncio.run(_run(ns, config))
    except (OSError, ValueError) as exc:  # e.g. a listener's port in use, unreadable keys
        print(f"switch-agent: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(agent_main())
