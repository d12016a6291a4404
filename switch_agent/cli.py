"""Entry point of the `switch-agent` command (console script `switch_agent.cli:agent_main`).

Sits at the top of switch_agent/: it parses the command line, builds the datapath
(datapath.dpif.Datapath), the OpenFlow switch on it (switch_agent.ofproto.Switch) and
its connections (switch_agent.connmgr.ConnManager), and runs them on one asyncio loop
until SIGTERM/SIGINT.  The operator CLI `swctl` lives in switch_agent/swctl.py.

    switch-agent run --bridge br0 --datapath-id 0000000000000001
        --port veth1 --port veth2=5 --port dummy:p1
        --controller tcp:127.0.0.1:6653 --listen ptcp:6634:127.0.0.1
        [--private-key K --certificate C --ca-cert CA]  (for ssl: / pssl:)
        --protocols OpenFlow10,OpenFlow13 --fail-mode secure|standalone

A port is an existing interface (a `system` port through AF_PACKET), `dummy:NAME`
(in memory), or `internal:NAME` (a tap created for the agent and deleted at exit),
each optionally `=OFPORT`.  `--listen none` turns the passive listener off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from importlib import metadata

_DIST = "switch-agent"
log = logging.getLogger("switch_agent")
PROTOCOLS = {"OpenFlow10": 0x01, "OpenFlow13": 0x04}


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
                         description="Run the agent in the foreground until SIGTERM/SIGINT.")
    run.add_argument("--bridge", default="br0", help="bridge name (default br0)")
    run.add_argument("--datapath-id", default="1",
                     help="datapath id, hex (default 0000000000000001)")
    run.add_argument("--port", action="append", default=[], metavar="IFACE[=OFPORT]",
                     help="a port: an interface, dummy:NAME or internal:NAME (repeatable)")
    run.add_argument("--controller", action="append", default=[], metavar="TARGET",
                     help="tcp:IP[:PORT] or unix:PATH (repeatable)")
    run.add_argument("--listen", action="append", default=None, metavar="TARGET",
                     help="ptcp:PORT[:IP] or punix:PATH (default ptcp:6634:127.0.0.1; "
                          "'none' for no listener; repeatable)")
    run.add_argument("--protocols", default="OpenFlow10,OpenFlow13",
                     help="comma-separated OpenFlow versions (default OpenFlow10,OpenFlow13)")
    run.add_argument("--fail-mode", choices=("secure", "standalone"), default=None,
                     help="without a controller: keep flows and drop misses (secure), or "
                          "act as a learning switch (standalone); default: secure with a "
                          "controller, standalone without")
    run.add_argument("--private-key", help="PEM key for ssl:/pssl:")
    run.add_argument("--certificate", help="PEM certificate for ssl:/pssl:")
    run.add_argument("--ca-cert", help="PEM CA certificate that signs the peers (ssl:/pssl:)")
    run.add_argument("--controller-rate-limit", type=float, default=0.0, metavar="PPS",
                     help="packet-ins per second per connection (default 0: unlimited)")
    run.add_argument("--controller-burst-limit", type=float, default=0.0, metavar="N",
                     help="packet-in burst (default: a quarter of the rate)")
    run.add_argument("--control-socket", default=None, metavar="PATH",
                     help="unix socket for swctl (default /run/switch-agent/BRIDGE.ctl, "
                          "$SWITCH_AGENT_RUNDIR moves the directory; 'none' for none)")
    run.add_argument("--probe-interval", type=float, default=5.0,
                     help="inactivity probe interval, seconds (default 5)")
    run.add_argument("--max-backoff", type=float, default=8.0,
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
    lab.add_argument("--controller", action="append", default=[], metavar="TARGET",
                     help="tcp:IP[:PORT] or unix:PATH (repeatable)")
    lab.add_argument("--listen", default="ptcp:6634:127.0.0.1",
                     help="passive listener (default ptcp:6634:127.0.0.1; 'none' for none)")
    lab.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _port_spec(text: str) -> tuple[str, str, int | None]:
    """(kind, name, ofport) from IFACE[=N], dummy:NAME[=N], internal:NAME[=N]."""
    spec, _, number = text.partition("=")
    kind, _, name = spec.partition(":")
    if not name:
        kind, name = "system", spec
    if kind not in ("system", "dummy", "internal") or not name:
        raise ValueError(f"bad --port {text!r}: IFACE, dummy:NAME or internal:NAME, then =OFPORT")
    return kind, name, int(number, 0) if number else None


async def _run(ns: argparse.Namespace) -> int:
    from datapath.dpif import Datapath
    from datapath.netdev import DummyNetdev, Netdev
    from datapath.netdev_linux import InternalNetdev, SystemNetdev
    from openflow.actions import ApplyActions, Output
    from openflow.consts import OFPP_NORMAL
    from openflow.messages import FlowMod
    from switch_agent.connmgr import ConnManager, TlsConfig
    from switch_agent.control import ControlServer
    from switch_agent.ofproto import Switch

    versions = tuple(sorted(PROTOCOLS[name] for name in ns.protocols.split(",") if name))
    datapath = Datapath(ns.bridge)
    switch = Switch(datapath)
    tls = None
    if ns.private_key or ns.certificate or ns.ca_cert:
        tls = TlsConfig(ns.private_key or "", ns.certificate or "", ns.ca_cert or "")
    mgr = ConnManager(switch, datapath_id=int(ns.datapath_id, 16), versions=versions,
                      fail_mode=ns.fail_mode, probe_interval=ns.probe_interval,
                      max_backoff=ns.max_backoff, rate_limit=ns.controller_rate_limit,
                      burst_limit=ns.controller_burst_limit, tls=tls)
    control = None
    if ns.control_socket != "none":
        control = ControlServer(switch, mgr, ns.bridge, ns.control_socket)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for text in ns.port:
            kind, name, ofport = _port_spec(text)
            netdev: Netdev
            if kind == "dummy":
                netdev = DummyNetdev(name)
            elif kind == "internal":
                tap = InternalNetdev(name)
                tap.set_admin_up(True)
                netdev = tap
            else:
                netdev = SystemNetdev(name)
            number = switch.add_port(netdev, ofport)
            log.info("port %s (%s): OpenFlow port %d", name, kind, number)
        if not ns.controller:  # like an OVS bridge without a controller: a learning switch
            switch.flow_mod(FlowMod(priority=0, instructions=(
                ApplyActions((Output(OFPP_NORMAL),)),)), 0x04)
        datapath.attach(loop)
        for target in ns.listen if ns.listen is not None else ["ptcp:6634:127.0.0.1"]:
            if target != "none":
                await mgr.listen(target)
                log.info("listening on %s", target)
        for target in ns.controller:
            mgr.add_controller(target)
        if control is not None:
            try:
                await control.start()
                log.info("control socket %s", control.path)
            except OSError as exc:  # e.g. not root, or another agent owns the bridge name
                log.warning("no control socket (swctl will not reach this agent): %s", exc)
                control = None
        log.info("bridge %s running (datapath id %016x, fail mode %s)", ns.bridge,
                 mgr.datapath_id, mgr.fail_mode_now())
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass
            switch.run_periodic()
            mgr.run_periodic()
    finally:
        if control is not None:
            await control.close()
        await mgr.close()
        datapath.close()
    log.info("bridge %s stopped", ns.bridge)
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
        return asyncio.run(run_lab(ns.hosts, ns.demo, ns.controller, listen, ns.duration))
    try:
        for text in ns.port:
            _port_spec(text)
        int(ns.datapath_id, 16)
        unknown = [p for p in ns.protocols.split(",") if p and p not in PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown protocol(s) {', '.join(unknown)} "
                             f"(known: {', '.join(PROTOCOLS)})")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return asyncio.run(_run(ns))
    except OSError as exc:
        print(f"switch-agent: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(agent_main())
