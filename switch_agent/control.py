"""control: the agent's unix control socket -- what ``swctl`` talks to.

Sits at the top of switch_agent/ under agent.py (which starts a ``ControlServer`` over
its bridges and registers the management commands of admin.py): it reads each bridge's
switch (switch_agent.ofproto ``Switch``), connections (switch_agent.connmgr
``ConnManager``) and datapath.  It owns the socket protocol and the inspection
commands; swctl owns the human output.  OpenFlow state (flows, groups, meters, port
counters) is not served here: swctl's flow tools speak OpenFlow to the bridge's
management socket ``BRIDGE.mgmt`` (``mgmt_path``), as ovs-ofctl does.

Protocol: one JSON object per line each way, any number of requests per connection.
    request  {"cmd": "trace", "args": {"flow": "in_port=1,tcp"}, "bridge": "br0"}
    reply    {"ok": true, "result": ...}  or  {"ok": false, "error": "one-line message"}
``args`` and ``bridge`` are optional (without ``bridge``: the only bridge; an unknown
one is refused).  Commands here: show (one bridge, or ``{"bridges": [...]}``), trace,
fdb-show, fdb-flush, dp-dump-flows, dp-stats, version; ``register`` adds more.
Flow text is ovs-ofctl's (openflow.flowtext), parsed as OpenFlow 1.3; port names may
stand for port numbers after ``in_port=``, ``out_port=``, ``output:`` and
``watch_port:``.

The socket is the given path (switch_agent/cli.py: by default
``/run/switch-agent/<bridge>.ctl``, or ``switch-agent.ctl`` with ``--config``;
``$SWITCH_AGENT_RUNDIR`` replaces the directory): the directory is created 0700, the socket is 0600 (root or
the agent's owner only), a stale socket left by a killed agent is replaced, a live one
is an error, and ``close`` removes it.  A request is at most ``max_request`` bytes;
each client is served by its own task (a client that does not read its replies or
sends nothing only holds its own connection, up to ``write_timeout`` and
``idle_timeout``; at most ``max_clients`` at once), and no input ends the agent: bad
requests get an error reply, a bug in a handler is logged and reported as one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import json
import logging
import os
import re
import socket
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from datapath import odp_actions as odp
from datapath.flow import format_key
from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow.consts import (
    OFPPC_NO_FLOOD,
    OFPPC_NO_FWD,
    OFPPC_NO_PACKET_IN,
    OFPPC_NO_RECV,
    OFPPC_PORT_DOWN,
    PORT_BY_NAME,
    PORT_NAMES,
)
from openflow.errors import CodecError
from switch_agent import trace as tr
from switch_agent.ctl import (  # the client half, re-exported for callers of control
    DEFAULT_RUN_DIR,
    MGMT_SUFFIX,
    RUN_DIR_ENV,
    SOCKET_SUFFIX,
    AgentUnreachable,
    ControlError,
    mgmt_path,
    one_line,
    request,
    run_dir,
    socket_path,
    sockets_in,
)

if TYPE_CHECKING:
    from switch_agent.connmgr import ConnManager
    from switch_agent.ofproto import Switch

log = logging.getLogger(__name__)

MAX_REQUEST = 1 << 20  # bytes per request line
MAX_CLIENTS = 64
IDLE_TIMEOUT = 300.0  # seconds a client may stay connected without a request
WRITE_TIMEOUT = 10.0  # seconds a reply may wait for the client to read it

VERSION_NAMES = {0x01: "OpenFlow10", 0x04: "OpenFlow13"}
ROLE_NAMES = {1: "equal", 2: "master", 3: "slave"}
PORT_CONFIG = (("port_down", OFPPC_PORT_DOWN), ("no_recv", OFPPC_NO_RECV),
               ("no_flood", OFPPC_NO_FLOOD), ("no_fwd", OFPPC_NO_FWD),
               ("no_packet_in", OFPPC_NO_PACKET_IN))
# Where flow text names a port: in_port=p1, out_port=p1, output:p1, watch_port:p1.
_PORT_WORD = re.compile(r"(?P<key>\b(?:in_port|out_port)=|\boutput:|\bwatch_port:)"
                        r"(?P<name>[^,\s()]+)")


# ------------------------------------------------------------------ the server


@dataclass(frozen=True, slots=True)
class BridgeView:
    """What the control socket needs of a bridge (switch_agent.agent.Bridge has more)."""

    name: str
    switch: Switch
    mgr: ConnManager


class BridgeLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def switch(self) -> Switch: ...
    @property
    def mgr(self) -> ConnManager: ...


# A command's handler: (bridge, args) -> result for bridge commands, (args) -> result for
# agent commands; either may return an awaitable (a change that needs the loop).
Handler = Callable[..., Any]


class ControlServer:
    """The control socket of one agent and its bridges; see the module docstring.

        server = ControlServer({"br0": BridgeView("br0", switch, mgr)}, "/tmp/agent.ctl")
        await server.start()
        ...
        await server.close()

    ``bridges`` is read at each request (the agent adds and removes bridges in it);
    ``register`` adds commands (switch_agent.agent adds the management ones).
    """

    def __init__(self, bridges: Mapping[str, BridgeLike],
                 path: str | os.PathLike[str] | None = None, *,
                 max_request: int = MAX_REQUEST, max_clients: int = MAX_CLIENTS,
                 idle_timeout: float = IDLE_TIMEOUT,
                 write_timeout: float = WRITE_TIMEOUT) -> None:
        self.bridges = bridges
        if path is None:
            if len(bridges) != 1:
                raise ValueError("name the control socket of an agent with several bridges")
            path = socket_path(next(iter(bridges)))
        self.path = Path(path)
        self.max_request = max_request
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.requests = 0
        self.errors = 0
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        # command -> (handler, whether it acts on one bridge: see register)
        self.commands: dict[str, tuple[Handler, bool | None]] = {}
        self.register("show", self.cmd_show, bridge=None)
        for name, handler in (
            ("trace", self.cmd_trace), ("fdb-show", self.cmd_fdb_show),
            ("fdb-flush", self.cmd_fdb_flush), ("dp-dump-flows", self.cmd_dp_dump_flows),
            ("dp-stats", self.cmd_dp_stats),
        ):
            self.register(name, handler, bridge=True)
        self.register("version", self.cmd_version, bridge=False)

    def register(self, name: str, handler: Handler, *, bridge: bool | None) -> None:
        """Serve command ``name``: ``handler(bridge, args)`` when ``bridge`` is True (the
        request's bridge, or the only one), ``handler(args)`` when False, and
        ``handler(bridge or None, args)`` when None (a bridge may be named)."""
        self.commands[name] = (handler, bridge)

    # -- life cycle

    async def start(self) -> None:
        """Create the directory if needed, replace a stale socket, listen.  OSError if
        another agent listens on the path or it cannot be created."""
        path = self.path
        directory = path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        self.remove_stale(path)
        self._server = await asyncio.start_unix_server(self._client, path=str(path),
                                                       limit=self.max_request)
        os.chmod(path, 0o600)
        info = os.stat(path)
        self._inode = (info.st_dev, info.st_ino)
        log.info("control socket %s", path)

    @staticmethod
    def remove_stale(path: Path) -> None:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise FileExistsError(errno.EEXIST, f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)  # left by an agent that died
            return
        except OSError as exc:  # e.g. another user's: not ours to replace
            raise OSError(exc.errno, f"{path}: in use and not ours to replace "
                                     f"({exc.strerror or exc})") from None
        finally:
            probe.close()
        raise OSError(errno.EADDRINUSE, f"{path}: another agent is running on this socket")

    async def close(self) -> None:
        """Stop listening, end the clients' connections, remove the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            await server.wait_closed()
        if self._inode is not None:
            with contextlib.suppress(OSError):
                info = os.lstat(self.path)
                if (info.st_dev, info.st_ino) == self._inode:  # still ours
                    self.path.unlink()
            self._inode = None

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= self.max_clients:
            await self._send(writer, self._error(f"too many clients ({self.max_clients})"))
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), self.idle_timeout)
                except TimeoutError:
                    break
                except ValueError:  # StreamReader: the line is over the limit
                    await self._send(writer, self._error(
                        f"request too large (over {self.max_request} bytes)"))
                    break
                except ConnectionError:
                    break
                if not line.strip():
                    if not line:
                        break
                    continue
                if not await self._send(writer, await self.respond(line)):
                    break
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Write one reply; False when the client is gone or does not read it."""
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self.write_timeout)
        except (TimeoutError, ConnectionError):
            writer.transport.abort()
            return False
        return True

    # -- requests

    def _error(self, message: str) -> bytes:
        self.errors += 1
        return (json.dumps({"ok": False, "error": one_line(message)}) + "\n").encode()

    async def respond(self, line: bytes) -> bytes:
        """One request line -> one reply line (never raises)."""
        self.requests += 1
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._error(f"request is not JSON: {exc}")
        try:
            result = self.handle(request)
            if inspect.isawaitable(result):
                result = await result
            return (json.dumps({"ok": True, "result": result}) + "\n").encode()
        except (ControlError, CodecError, ValueError) as exc:
            return self._error(str(exc))
        except Exception as exc:  # a bug must cost this request, not the agent
            log.exception("control request %r failed", request)
            return self._error(f"internal error: {type(exc).__name__}: {exc}")

    def handle(self, request: object) -> Any:
        """A decoded request -> its result (or an awaitable of it); ControlError,
        ValueError or CodecError for a request that is refused (nothing changed)."""
        if not isinstance(request, dict):
            raise ControlError('a request is a JSON object: {"cmd": ..., "args": {...}}')
        unknown = set(request) - {"cmd", "args", "bridge"}
        if unknown:
            raise ControlError(f"unknown request key(s): {', '.join(sorted(unknown))}")
        cmd = request.get("cmd")
        if not isinstance(cmd, str):
            raise ControlError('missing "cmd" (a string)')
        entry = self.commands.get(cmd)
        if entry is None:
            raise ControlError(f"unknown command {cmd!r} (known: {', '.join(self.commands)})")
        handler, on_bridge = entry
        args = request.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ControlError(f'{cmd}: "args" must be a JSON object')
        name = request.get("bridge")
        if name is not None and not isinstance(name, str):
            raise ControlError('"bridge" must be a string')
        if on_bridge is None:
            return handler(None if name is None else self.bridge(name), args)
        if not on_bridge:
            if name is not None:
                self.bridge(name)  # an unknown bridge is an error for every command
            return handler(args)
        return handler(self.bridge(name), args)

    def bridge(self, name: str | None) -> BridgeLike:
        """The bridge named ``name``, or the only one; ControlError otherwise."""
        bridges = self.bridges
        if name is None:
            if len(bridges) == 1:
                return next(iter(bridges.values()))
            if not bridges:
                raise ControlError("this agent has no bridge (add one with swctl add-br)")
            raise ControlError(f"several bridges here ({', '.join(sorted(bridges))}): name one")
        found = bridges.get(name)
        if found is None:
            known = ", ".join(sorted(bridges)) or "none"
            raise ControlError(f"no bridge {name!r} here (bridges: {known})")
        return found

    # -- argument helpers

    @staticmethod
    def _args(cmd: str, args: dict[str, Any], allowed: tuple[str, ...]) -> None:
        unknown = set(args) - set(allowed)
        if unknown:
            raise ControlError(f"{cmd}: unknown argument(s) {', '.join(sorted(unknown))}"
                               + (f" (known: {', '.join(allowed)})" if allowed else ""))

    @staticmethod
    def _text(cmd: str, args: dict[str, Any], name: str, *, required: bool) -> str | None:
        value = args.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ControlError(f"{cmd}: missing {name}")
            return None
        if not isinstance(value, str):
            raise ControlError(f"{cmd}: {name} must be a string")
        return value

    @staticmethod
    def _flag(cmd: str, args: dict[str, Any], name: str) -> bool:
        value = args.get(name, False)
        if not isinstance(value, bool):
            raise ControlError(f"{cmd}: {name} must be true or false")
        return value

    def _port_numbers(self, br: BridgeLike, text: str) -> str:
        """``text`` with port names after in_port=, out_port=, output:, watch_port:
        replaced by their OpenFlow numbers (reserved names and numbers stay)."""
        by_name = {port.name: number for number, port in br.switch.ports.items()}

        def number(m: re.Match[str]) -> str:
            name = m.group("name")
            if name.upper() in PORT_BY_NAME or name not in by_name:
                return m.group(0)
            return m.group("key") + str(by_name[name])

        return _PORT_WORD.sub(number, text)

    def _port_name(self, br: BridgeLike, number: int) -> str:
        port = br.switch.ports.get(number)
        return port.name if port is not None else PORT_NAMES.get(number, str(number))

    # -- commands

    def cmd_show(self, br: BridgeLike | None, args: dict[str, Any]) -> dict[str, Any]:
        """One bridge (named, or the only one): its description; several:
        ``{"bridges": [description, ...]}`` (like ``ovs-vsctl show``)."""
        self._args("show", args, ())
        if br is None and len(self.bridges) != 1:
            return {"bridges": [self._show(self.bridges[name]) for name in sorted(self.bridges)]}
        return self._show(br if br is not None else self.bridge(None))

    def _show(self, br: BridgeLike) -> dict[str, Any]:
        sw, mgr = br.switch, br.mgr
        ports = []
        for number, port in sorted(sw.ports.items()):
            info = sw.dp.port_get(port.dp_port)
            ports.append({
                "ofport": number, "ofport_name": fa.format_port(number), "name": info.name,
                "type": info.type, "link_state": "up" if info.link_up else "down",
                "admin_state": "down" if port.config & OFPPC_PORT_DOWN else "up",
                "config": [name for name, bit in PORT_CONFIG if port.config & bit],
                "mac": ":".join(f"{b:02x}" for b in info.hw_addr), "mtu": info.mtu,
            })
        conns = []
        for conn in mgr.conns:
            peer = None
            if conn.transport is not None:
                peername = conn.transport.get_extra_info("peername")
                if isinstance(peername, tuple) and len(peername) >= 2:
                    peer = f"{peername[0]}:{peername[1]}"
                elif peername:
                    peer = str(peername)
            conns.append((conn, {
                "target": conn.target, "active": conn.active, "peer": peer,
                "version": VERSION_NAMES.get(conn.version or 0),
                "role": ROLE_NAMES.get(conn.role, str(conn.role)),
                "packet_ins_sent": conn.packet_ins_sent,
                "packet_ins_limited": conn.packet_ins_limited,  # over the rate limit
                "packet_ins_dropped": conn.packet_ins_dropped,  # output buffer full
            }))
        controllers = []
        for target in mgr.controllers:
            live = [info for conn, info in conns if conn.active and conn.target == target]
            entry: dict[str, Any] = {"target": target, "connected": bool(live),
                                     "version": None, "role": None}
            if live:
                entry.update(version=live[0]["version"], role=live[0]["role"])
            controllers.append(entry)
        return {
            "bridge": br.name,
            "datapath_id": f"{mgr.datapath_id:016x}",
            "n_tables": len(sw.tables.tables),
            "protocols": [VERSION_NAMES.get(v, f"0x{v:02x}") for v in mgr.versions],
            "fail_mode": mgr.fail_mode_now(),
            "fail_open": sw.fail_open,
            "ports": ports,
            "controllers": controllers,
            "connections": [info for conn, info in conns if not conn.active],
            "pending_ports": [{"name": name, "error": why}
                              for name, why in sorted(getattr(br, "pending", {}).items())],
        }

    def cmd_trace(self, br: BridgeLike, args: dict[str, Any]) -> dict[str, Any]:
        self._args("trace", args, ("flow",))
        text = self._text("trace", args, "flow", required=True) or ""
        result = tr.trace(br.switch, self._port_numbers(br, text))
        return {
            "flow": tr.format_packet(result.key),
            "tables": [{"table": table_id,
                        "rule": None if rule is None else flowtext.format_match(
                            rule.match, priority=rule.priority)}
                       for table_id, rule in result.tables],
            "final_flow": tr.format_packet(result.final_key),
            "megaflow": result.megaflow,
            "datapath_actions": odp.format_actions(result.actions),
            "slow": result.slow,
            "text": tr.format_trace(result),
        }

    def cmd_fdb_show(self, br: BridgeLike, args: dict[str, Any]) -> dict[str, Any]:
        self._args("fdb-show", args, ())
        now = br.switch.clock()
        entries = []
        for port, vlan, mac, age in br.switch.mac_table.entries(now):
            entries.append({"port": port, "port_name": fa.format_port(port),
                            "name": self._port_name(br, port), "vlan": vlan,
                            "mac": ":".join(f"{b:02x}" for b in mac.to_bytes(6, "big")),
                            "age": max(0, int(age))})
        return {"entries": entries}

    def cmd_fdb_flush(self, br: BridgeLike, args: dict[str, Any]) -> dict[str, Any]:
        self._args("fdb-flush", args, ())
        sw = br.switch
        count = sw.mac_table.flush()
        sw.revalidate()  # megaflows that forwarded to a learned port now flood
        return {"flushed": count}

    def cmd_dp_dump_flows(self, br: BridgeLike, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dp-dump-flows", args, ())
        dp = br.switch.dp
        now = dp.clock()
        flows = []
        for flow in dp.flow_dump():
            used = flow.stats.used
            flows.append({
                "ufid": str(flow.ufid), "match": format_key(flow.key, flow.mask),
                "packets": flow.stats.packets, "bytes": flow.stats.bytes,
                "used": None if used is None else round(max(0.0, now - used), 3),
                "actions": odp.format_actions(flow.actions),
            })
        return {"flows": flows}

    def cmd_dp_stats(self, br: BridgeLike, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dp-stats", args, ())
        dp = br.switch.dp
        s = dp.stats()
        return {"name": dp.name, "hit": s.hit, "missed": s.missed, "lost": s.lost,
                "flows": s.flows, "masks": s.masks, "malformed": s.malformed,
                "upcalls": br.switch.upcalls_handled,
                "ports": [{"port_no": p.port_no, "name": p.name, "type": p.type}
                          for p in dp.port_list()]}

    def cmd_version(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("version", args, ())
        from switch_agent.cli import _version

        return {"version": _version(), "bridges": sorted(self.bridges),
                "protocols": sorted({VERSION_NAMES.get(v, f"0x{v:02x}")
                                     for br in self.bridges.values() for v in br.mgr.versions})}


__all__ = ["DEFAULT_RUN_DIR", "MGMT_SUFFIX", "RUN_DIR_ENV", "SOCKET_SUFFIX", "AgentUnreachable",
           "BridgeLike", "BridgeView", "ControlError", "ControlServer", "mgmt_path", "one_line",
           "request", "run_dir", "socket_path", "sockets_in"]
