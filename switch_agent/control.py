"""control: the agent's unix control socket -- what ``swctl`` talks to.

Sits at the top of switch_agent/ beside cli.py (which builds the bridge and starts a
``ControlServer`` for it): it reads the switch (switch_agent.ofproto ``Switch``), its
connections (switch_agent.connmgr ``ConnManager``) and its datapath, and applies flow
changes through ``Switch.flow_mod`` exactly as an OpenFlow FLOW_MOD would (FLOW_REMOVED
messages, revalidation), so what an operator does and what a controller does meet in
one place.  It owns the socket protocol and the request handlers; swctl owns the
human output.

Protocol: one JSON object per line each way, any number of requests per connection.
    request  {"cmd": "dump-flows", "args": {"flow": "tcp"}, "bridge": "br0"}
    reply    {"ok": true, "result": ...}  or  {"ok": false, "error": "one-line message"}
``args`` and ``bridge`` are optional; a request naming another bridge is refused.
Commands (``COMMANDS``): show, dump-flows, add-flow, mod-flows, del-flows, dump-ports,
dump-groups, dump-meters, trace, fdb-show, fdb-flush, dp-dump-flows, dp-stats, version.
Flow text is ovs-ofctl's (openflow.flowtext), parsed as OpenFlow 1.3; port names may
stand for port numbers after ``in_port=``, ``out_port=``, ``output:`` and
``watch_port:``.

The socket is ``/run/switch-agent/<bridge>.ctl`` (``$SWITCH_AGENT_RUNDIR`` replaces the
directory) unless given: the directory is created 0700, the socket is 0600 (root or
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
import json
import logging
import os
import re
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datapath import odp_actions as odp
from datapath.flow import format_key
from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow.consts import (
    OFP13,
    OFPFC_ADD,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT,
    OFPG_ALL,
    OFPM_ALL,
    OFPP_ANY,
    OFPPC_NO_FLOOD,
    OFPPC_NO_FWD,
    OFPPC_NO_PACKET_IN,
    OFPPC_NO_RECV,
    OFPPC_PORT_DOWN,
    PORT_BY_NAME,
    PORT_NAMES,
)
from openflow.errors import CodecError
from openflow.messages import (
    FlowStats,
    FlowStatsRequest,
    GroupDesc,
    GroupStats,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterConfig,
    MeterStats,
)
from switch_agent import stats
from switch_agent import trace as tr

if TYPE_CHECKING:
    from switch_agent.connmgr import ConnManager
    from switch_agent.ofproto import Switch

log = logging.getLogger(__name__)

RUN_DIR_ENV = "SWITCH_AGENT_RUNDIR"
DEFAULT_RUN_DIR = "/run/switch-agent"
SOCKET_SUFFIX = ".ctl"
MAX_REQUEST = 1 << 20  # bytes per request line
MAX_CLIENTS = 64
IDLE_TIMEOUT = 300.0  # seconds a client may stay connected without a request
WRITE_TIMEOUT = 10.0  # seconds a reply may wait for the client to read it

VERSION_NAMES = {0x01: "OpenFlow10", 0x04: "OpenFlow13"}
ROLE_NAMES = {1: "equal", 2: "master", 3: "slave"}
FLOW_FLAGS = (("send_flow_rem", 1 << 0), ("check_overlap", 1 << 1), ("reset_counts", 1 << 2),
              ("no_packet_counts", 1 << 3), ("no_byte_counts", 1 << 4))
PORT_CONFIG = (("port_down", OFPPC_PORT_DOWN), ("no_recv", OFPPC_NO_RECV),
               ("no_flood", OFPPC_NO_FLOOD), ("no_fwd", OFPPC_NO_FWD),
               ("no_packet_in", OFPPC_NO_PACKET_IN))
METER_FLAGS = (("kbps", 1 << 0), ("pktps", 1 << 1), ("burst", 1 << 2), ("stats", 1 << 3))
GROUP_TYPES = {0: "all", 1: "select", 2: "indirect", 3: "ff"}
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# Where flow text names a port: in_port=p1, out_port=p1, output:p1, watch_port:p1.
_PORT_WORD = re.compile(r"(?P<key>\b(?:in_port|out_port)=|\boutput:|\bwatch_port:)"
                        r"(?P<name>[^,\s()]+)")


class ControlError(Exception):
    """A request the agent refuses (its message is the reply's one-line ``error``), or,
    on the client side, a failed request or an unreachable agent."""


class AgentUnreachable(ControlError):
    """The client found no agent at the socket (not running, or no permission)."""


# ------------------------------------------------------------------ where the socket is


def run_dir() -> Path:
    """The directory of the agents' control sockets."""
    return Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)


def socket_path(bridge: str) -> Path:
    """The control socket of ``bridge``'s agent; ValueError for a name that is not one."""
    if not _BRIDGE_NAME.fullmatch(bridge):
        raise ValueError(f"bad bridge name {bridge!r} (letters, digits, '_', '.', '-')")
    return run_dir() / f"{bridge}{SOCKET_SUFFIX}"


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


# ------------------------------------------------------------------ the server


class ControlServer:
    """The control socket of one bridge; see the module docstring.

        server = ControlServer(switch, mgr, "br0")   # or path="/tmp/br0.ctl"
        await server.start()
        ...
        await server.close()
    """

    def __init__(self, switch: Switch, mgr: ConnManager, bridge: str,
                 path: str | os.PathLike[str] | None = None, *,
                 max_request: int = MAX_REQUEST, max_clients: int = MAX_CLIENTS,
                 idle_timeout: float = IDLE_TIMEOUT,
                 write_timeout: float = WRITE_TIMEOUT) -> None:
        self.switch = switch
        self.mgr = mgr
        self.bridge = bridge
        self.path = Path(path) if path is not None else socket_path(bridge)
        self.max_request = max_request
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.requests = 0
        self.errors = 0
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        self.commands: dict[str, Callable[[dict[str, Any]], Any]] = {
            "show": self.cmd_show,
            "dump-flows": self.cmd_dump_flows,
            "add-flow": self.cmd_add_flow,
            "mod-flows": self.cmd_mod_flows,
            "del-flows": self.cmd_del_flows,
            "dump-ports": self.cmd_dump_ports,
            "dump-groups": self.cmd_dump_groups,
            "dump-meters": self.cmd_dump_meters,
            "trace": self.cmd_trace,
            "fdb-show": self.cmd_fdb_show,
            "fdb-flush": self.cmd_fdb_flush,
            "dp-dump-flows": self.cmd_dp_dump_flows,
            "dp-stats": self.cmd_dp_stats,
            "version": self.cmd_version,
        }

    # -- life cycle

    async def start(self) -> None:
        """Create the directory if needed, replace a stale socket, listen.  OSError if
        another agent listens on the path or it cannot be created."""
        path = self.path
        directory = path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        self._remove_stale(path)
        self._server = await asyncio.start_unix_server(self._client, path=str(path),
                                                       limit=self.max_request)
        os.chmod(path, 0o600)
        info = os.stat(path)
        self._inode = (info.st_dev, info.st_ino)
        log.info("control socket %s", path)

    @staticmethod
    def _remove_stale(path: Path) -> None:
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
                if not await self._send(writer, self.handle_line(line)):
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

    def handle_line(self, line: bytes) -> bytes:
        """One request line -> one reply line (never raises)."""
        self.requests += 1
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._error(f"request is not JSON: {exc}")
        try:
            result = self.handle(request)
            return (json.dumps({"ok": True, "result": result}) + "\n").encode()
        except ControlError as exc:
            return self._error(str(exc))
        except CodecError as exc:
            return self._error(str(exc))
        except ValueError as exc:
            return self._error(str(exc))
        except Exception as exc:  # a bug must cost this request, not the agent
            log.exception("control request %r failed", request)
            return self._error(f"internal error: {type(exc).__name__}: {exc}")

    def handle(self, request: object) -> Any:
        """A decoded request -> its result; ControlError, ValueError or CodecError for a
        request that is refused (nothing changed)."""
        if not isinstance(request, dict):
            raise ControlError('a request is a JSON object: {"cmd": ..., "args": {...}}')
        unknown = set(request) - {"cmd", "args", "bridge"}
        if unknown:
            raise ControlError(f"unknown request key(s): {', '.join(sorted(unknown))}")
        cmd = request.get("cmd")
        if not isinstance(cmd, str):
            raise ControlError('missing "cmd" (a string)')
        handler = self.commands.get(cmd)
        if handler is None:
            raise ControlError(f"unknown command {cmd!r} (known: {', '.join(self.commands)})")
        args = request.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ControlError(f'{cmd}: "args" must be a JSON object')
        bridge = request.get("bridge")
        if bridge is not None and bridge != self.bridge:
            raise ControlError(f"no bridge {bridge!r} here (this agent runs {self.bridge!r})")
        return handler(args)

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

    def _port_numbers(self, text: str) -> str:
        """``text`` with port names after in_port=, out_port=, output:, watch_port:
        replaced by their OpenFlow numbers (reserved names and numbers stay)."""
        by_name = {port.name: number for number, port in self.switch.ports.items()}

        def number(m: re.Match[str]) -> str:
            name = m.group("name")
            if name.upper() in PORT_BY_NAME or name not in by_name:
                return m.group(0)
            return m.group("key") + str(by_name[name])

        return _PORT_WORD.sub(number, text)

    def _port(self, text: str) -> int:
        """An OpenFlow port from a number, a reserved name or a port's name."""
        for number, port in self.switch.ports.items():
            if port.name == text:
                return number
        try:
            number = fa.parse_port(text)
        except ValueError:
            raise ControlError(f"no port {text!r} on bridge {self.bridge}") from None
        if number not in self.switch.ports:
            raise ControlError(f"no port {text!r} on bridge {self.bridge}")
        return number

    def _port_name(self, number: int) -> str:
        port = self.switch.ports.get(number)
        return port.name if port is not None else PORT_NAMES.get(number, str(number))

    # -- commands

    def cmd_show(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("show", args, ())
        sw, mgr = self.switch, self.mgr
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
            "bridge": self.bridge,
            "datapath_id": f"{mgr.datapath_id:016x}",
            "n_tables": len(sw.tables.tables),
            "protocols": [VERSION_NAMES.get(v, f"0x{v:02x}") for v in mgr.versions],
            "fail_mode": mgr.fail_mode_now(),
            "fail_open": sw.fail_open,
            "ports": ports,
            "controllers": controllers,
            "connections": [info for conn, info in conns if not conn.active],
        }

    def _flow_filter(self, text: str | None, command: int) -> FlowStatsRequest:
        if text is None:
            return FlowStatsRequest()
        fm = flowtext.parse_flow(self._port_numbers(text), command=command, version=OFP13)
        return FlowStatsRequest(match=fm.match, table_id=fm.table_id, out_port=fm.out_port,
                                out_group=fm.out_group, cookie=fm.cookie,
                                cookie_mask=fm.cookie_mask)

    def cmd_dump_flows(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dump-flows", args, ("flow",))
        text = self._text("dump-flows", args, "flow", required=False)
        request = self._flow_filter(text, OFPFC_DELETE)
        reply = stats.flow_stats(self.switch, request, OFP13)  # pulls the datapath counters
        return {"flows": [_flow_entry(entry) for entry in reply.entries]}

    def _flow_mod(self, cmd: str, args: dict[str, Any], command: int,
                  strict_command: int | None, *, required: bool) -> dict[str, Any]:
        self._args(cmd, args, ("flow", "strict") if strict_command is not None else ("flow",))
        text = self._text(cmd, args, "flow", required=required) or ""
        if strict_command is not None and self._flag(cmd, args, "strict"):
            command = strict_command
        fm = flowtext.parse_flow(self._port_numbers(text), command=command, version=OFP13)
        sw = self.switch
        before = len(sw.tables)
        removed = sw.flow_mod(fm, OFP13)
        return {"flows": len(sw.tables), "added": max(0, len(sw.tables) - before),
                "deleted": max(0, before - len(sw.tables)), "flow_removed": len(removed)}

    def cmd_add_flow(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._flow_mod("add-flow", args, OFPFC_ADD, None, required=True)

    def cmd_mod_flows(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._flow_mod("mod-flows", args, OFPFC_MODIFY, OFPFC_MODIFY_STRICT,
                              required=True)

    def cmd_del_flows(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._flow_mod("del-flows", args, OFPFC_DELETE, OFPFC_DELETE_STRICT,
                              required=False)

    def cmd_dump_ports(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dump-ports", args, ("port",))
        port = args.get("port")
        number = OFPP_ANY
        if isinstance(port, int) and not isinstance(port, bool):
            if port not in self.switch.ports:
                raise ControlError(f"no port {port} on bridge {self.bridge}")
            number = port
        elif port is not None:
            text = self._text("dump-ports", args, "port", required=False)
            if text is not None:
                number = self._port(text)
        reply = stats.port_stats(self.switch, number, OFP13)
        entries = []
        for e in reply.entries:
            entries.append({
                "port_no": e.port_no, "port": fa.format_port(e.port_no),
                "name": self._port_name(e.port_no),
                "rx_packets": e.rx_packets, "rx_bytes": e.rx_bytes, "rx_dropped": e.rx_dropped,
                "rx_errors": e.rx_errors, "rx_frame_err": e.rx_frame_err,
                "rx_over_err": e.rx_over_err, "rx_crc_err": e.rx_crc_err,
                "tx_packets": e.tx_packets, "tx_bytes": e.tx_bytes, "tx_dropped": e.tx_dropped,
                "tx_errors": e.tx_errors, "collisions": e.collisions,
                "duration": flowtext.format_duration(e.duration_sec, e.duration_nsec),
            })
        return {"ports": entries}

    def cmd_dump_groups(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dump-groups", args, ())
        sw = self.switch
        sw.pull_stats()
        counters = {s.group_id: s for s in sw.group_table.group_stats(OFPG_ALL)}
        return {"groups": [_group_entry(desc, counters.get(desc.group_id))
                           for desc in sorted(sw.group_table.group_desc(),
                                              key=lambda d: d.group_id)]}

    def cmd_dump_meters(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dump-meters", args, ())
        table = self.switch.meter_table
        counters = {s.meter_id: s for s in table.meter_stats(OFPM_ALL)}
        return {"meters": [_meter_entry(config, counters.get(config.meter_id))
                           for config in sorted(table.meter_config(OFPM_ALL),
                                                key=lambda c: c.meter_id)]}

    def cmd_trace(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("trace", args, ("flow",))
        text = self._text("trace", args, "flow", required=True) or ""
        result = tr.trace(self.switch, self._port_numbers(text))
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

    def cmd_fdb_show(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("fdb-show", args, ())
        now = self.switch.clock()
        entries = []
        for port, vlan, mac, age in self.switch.mac_table.entries(now):
            entries.append({"port": port, "port_name": fa.format_port(port),
                            "name": self._port_name(port), "vlan": vlan,
                            "mac": ":".join(f"{b:02x}" for b in mac.to_bytes(6, "big")),
                            "age": max(0, int(age))})
        return {"entries": entries}

    def cmd_fdb_flush(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("fdb-flush", args, ())
        sw = self.switch
        count = sw.mac_table.flush()
        sw.revalidate()  # megaflows that forwarded to a learned port now flood
        return {"flushed": count}

    def cmd_dp_dump_flows(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dp-dump-flows", args, ())
        dp = self.switch.dp
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

    def cmd_dp_stats(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("dp-stats", args, ())
        dp = self.switch.dp
        s = dp.stats()
        return {"name": dp.name, "hit": s.hit, "missed": s.missed, "lost": s.lost,
                "flows": s.flows, "masks": s.masks, "malformed": s.malformed,
                "upcalls": self.switch.upcalls_handled,
                "ports": [{"port_no": p.port_no, "name": p.name, "type": p.type}
                          for p in dp.port_list()]}

    def cmd_version(self, args: dict[str, Any]) -> dict[str, Any]:
        self._args("version", args, ())
        from switch_agent.cli import _version

        return {"version": _version(), "bridge": self.bridge,
                "protocols": [VERSION_NAMES.get(v, f"0x{v:02x}") for v in self.mgr.versions]}


# ------------------------------------------------------------------ result entries


def _flow_entry(e: FlowStats) -> dict[str, Any]:
    return {
        "table": e.table_id, "priority": e.priority, "cookie": f"{e.cookie:#x}",
        "duration": flowtext.format_duration(e.duration_sec, e.duration_nsec),
        "n_packets": e.packet_count, "n_bytes": e.byte_count,
        "idle_timeout": e.idle_timeout, "hard_timeout": e.hard_timeout,
        "flags": [name for name, bit in FLOW_FLAGS if e.flags & bit],
        "match": flowtext.format_match(e.match),
        "actions": flowtext.format_actions(e.instructions, OFP13),
        "text": flowtext.format_flow_stats(e, OFP13),
    }


def _group_entry(desc: GroupDesc, counters: GroupStats | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "group_id": desc.group_id, "type": GROUP_TYPES.get(desc.type, str(desc.type)),
        "buckets": [{"weight": b.weight, "watch_port": fa.format_port(b.watch_port),
                     "watch_group": b.watch_group,
                     "actions": fa.format_action_list(b.actions, OFP13)}
                    for b in desc.buckets],
        "text": flowtext.format_group(desc, OFP13),
    }
    if counters is not None:
        entry.update(ref_count=counters.ref_count, packet_count=counters.packet_count,
                     byte_count=counters.byte_count,
                     duration=flowtext.format_duration(counters.duration_sec,
                                                       counters.duration_nsec),
                     bucket_stats=[{"packet_count": b.packet_count, "byte_count": b.byte_count}
                                   for b in counters.bucket_stats])
    return entry


def _meter_entry(config: MeterConfig, counters: MeterStats | None) -> dict[str, Any]:
    bands: list[dict[str, Any]] = []
    for band in config.bands:
        item: dict[str, Any] = {"rate": band.rate, "burst_size": band.burst_size}
        if isinstance(band, MeterBandDscpRemark):
            item.update(type="dscp_remark", prec_level=band.prec_level)
        elif isinstance(band, MeterBandDrop):
            item["type"] = "drop"
        else:
            item["type"] = "experimenter"
        bands.append(item)
    entry: dict[str, Any] = {
        "meter_id": config.meter_id,
        "flags": [name for name, bit in METER_FLAGS if config.flags & bit],
        "bands": bands, "text": flowtext.format_meter(config),
    }
    if counters is not None:
        entry.update(flow_count=counters.flow_count, packet_in_count=counters.packet_in_count,
                     byte_in_count=counters.byte_in_count,
                     duration=flowtext.format_duration(counters.duration_sec,
                                                       counters.duration_nsec),
                     band_stats=[{"packet_count": b.packet_band_count,
                                  "byte_count": b.byte_band_count}
                                 for b in counters.band_stats])
    return entry


# ------------------------------------------------------------------ the client


def request(path: str | os.PathLike[str], cmd: str, args: dict[str, Any] | None = None, *,
            bridge: str | None = None, timeout: float = 30.0) -> Any:
    """Send one request to the agent at ``path`` and return its result.  Raises
    ``AgentUnreachable`` when nothing answers there and ``ControlError`` with the
    agent's message when it refuses the request."""
    message: dict[str, Any] = {"cmd": cmd, "args": args or {}}
    if bridge is not None:
        message["bridge"] = bridge
    data = (json.dumps(message) + "\n").encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise AgentUnreachable(f"no agent listening on {os.fspath(path)} "
                                   f"(is switch-agent running?)") from None
        except PermissionError:
            raise AgentUnreachable(f"permission denied on {os.fspath(path)} "
                                   f"(run as root or as the agent's user)") from None
        except OSError as exc:
            raise AgentUnreachable(f"cannot connect to {os.fspath(path)}: "
                                   f"{exc.strerror or exc}") from None
        try:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
        except TimeoutError:
            raise ControlError(f"{cmd}: no reply from the agent within {timeout:g} s") from None
        except OSError as exc:
            raise ControlError(f"{cmd}: connection to the agent failed: "
                               f"{exc.strerror or exc}") from None
    finally:
        sock.close()
    raw = b"".join(chunks)
    try:
        reply = json.loads(raw)
    except ValueError:
        raise ControlError(f"{cmd}: the agent closed the connection without a reply"
                           if not raw else f"{cmd}: unreadable reply from the agent") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"{cmd}: unreadable reply from the agent")
    if not reply["ok"]:
        raise ControlError(one_line(str(reply.get("error", "error"))))
    return reply.get("result")
