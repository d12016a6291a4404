"""config: the agent's configuration -- what it runs, and what survives a restart.

Sits under switch_agent/agent.py (which applies it) and cli.py (which reads it from
``--config FILE`` or builds it from flags).  It owns the model (frozen dataclasses:
``AgentConfig`` of ``BridgeConfig`` of ``PortConfig``), its validation, the TOML text
both ways, and the durable write.  What swctl changes at run time (bridges, ports,
controllers, listeners, fail mode, protocols, datapath id) is written back here; OpenFlow
flows are not (controllers push them again, as with Open vSwitch).

    [agent]
    control_socket = "/run/switch-agent/switch-agent.ctl"   # or "none"
    log_level = "warning"                                   # and per module:
    log_levels = { "switch_agent.connmgr" = "debug" }
    probe_interval = 5.0
    max_backoff = 8.0
    controller_rate_limit = 0.0      # packet-ins/s per connection, 0: unlimited
    controller_burst_limit = 0.0

    [ssl]                            # for ssl: controllers and pssl: listeners
    private_key = "/etc/switch-agent/key.pem"
    certificate = "/etc/switch-agent/cert.pem"
    ca_cert = "/etc/switch-agent/cacert.pem"

    [[bridge]]
    name = "br0"
    datapath_id = "0000000000000001"
    protocols = ["OpenFlow10", "OpenFlow13"]
    fail_mode = "secure"             # or "standalone"; absent: secure with controllers
    controllers = ["tcp:127.0.0.1:6653"]
    listeners = ["ptcp:6634:127.0.0.1"]
    ports = [
        { name = "veth1", ofport = 1 },                 # type "system" (default)
        { name = "br0", type = "internal" },
        { name = "p1", type = "dummy" },
        { name = "to-br1", type = "patch", peer = "to-br0" },
        { name = "vx0", type = "vxlan", remote_ip = "192.0.2.2", key = 42 },
    ]

Errors name their place: ``FILE: bridge "br0" port "vx0": remote_ip: ...`` (a
``ConfigError``, one line).  ``save`` replaces the file atomically (a temporary file in
the same directory, fsync, rename, fsync of the directory), so a ``kill -9`` at any
moment leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

PROTOCOLS = {"OpenFlow10": 0x01, "OpenFlow13": 0x04}
FAIL_MODES = ("secure", "standalone")
PORT_TYPES = ("system", "internal", "dummy", "patch", "vxlan")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ACTIVE_KINDS = ("tcp", "ssl", "unix")
PASSIVE_KINDS = ("ptcp", "pssl", "punix")
DEFAULT_LISTENER = "ptcp:6634:127.0.0.1"
MAX_OFPORT = 0xFF00  # OFPP_MAX + 1: numbers above are reserved
OFPP_LOCAL = 0xFFFFFFFE  # an internal port may be the bridge's LOCAL port
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")  # an interface name's limits


class ConfigError(ValueError):
    """A configuration that cannot be applied; the message is one line naming the place."""


@dataclass(frozen=True, slots=True)
class PortConfig:
    name: str
    type: str = "system"
    ofport: int | None = None
    peer: str | None = None  # patch: the other end's port name
    remote_ip: str | None = None  # vxlan
    key: int | None = None  # vxlan VNI; None: taken from the flow (tun_id)
    dst_port: int | None = None  # vxlan UDP port; None: 4789


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    name: str
    datapath_id: int = 1
    protocols: tuple[str, ...] = ("OpenFlow10", "OpenFlow13")
    fail_mode: str | None = None
    controllers: tuple[str, ...] = ()
    listeners: tuple[str, ...] = ()
    ports: tuple[PortConfig, ...] = ()

    def port(self, name: str) -> PortConfig | None:
        return next((p for p in self.ports if p.name == name), None)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    bridges: tuple[BridgeConfig, ...] = ()
    control_socket: str | None = None  # None: the default place; "none": no socket
    log_level: str = "warning"
    log_levels: tuple[tuple[str, str], ...] = ()
    probe_interval: float = 5.0
    max_backoff: float = 8.0
    controller_rate_limit: float = 0.0
    controller_burst_limit: float = 0.0
    private_key: str | None = None
    certificate: str | None = None
    ca_cert: str | None = None

    def bridge(self, name: str) -> BridgeConfig | None:
        return next((b for b in self.bridges if b.name == name), None)

    def with_bridge(self, bridge: BridgeConfig) -> AgentConfig:
        """This configuration with ``bridge`` replacing the one of its name (or added)."""
        if self.bridge(bridge.name) is None:
            return replace(self, bridges=(*self.bridges, bridge))
        return replace(self, bridges=tuple(bridge if b.name == bridge.name else b
                                           for b in self.bridges))

    def without_bridge(self, name: str) -> AgentConfig:
        return replace(self, bridges=tuple(b for b in self.bridges if b.name != name))


# ------------------------------------------------------------------ checking values


def check_target(target: str, *, passive: bool) -> str:
    """A controller (``tcp:IP[:PORT]``, ``ssl:``, ``unix:PATH``) or listener
    (``ptcp:[PORT][:IP]``, ``pssl:``, ``punix:PATH``) target; ConfigError if it is not."""
    kinds = PASSIVE_KINDS if passive else ACTIVE_KINDS
    what = "listener" if passive else "controller"
    kind, sep, rest = target.partition(":")
    if not sep or kind not in kinds:
        raise ConfigError(f"bad {what} {target!r} (expected {', '.join(k + ':' for k in kinds)})")
    if kind.endswith("unix"):
        if not rest:
            raise ConfigError(f"bad {what} {target!r}: no path")
        return target
    if passive:
        port_text, _, host = rest.partition(":")
    else:
        host, _, port_text = rest.partition(":")
        if not host:
            raise ConfigError(f"bad {what} {target!r}: no IP address")
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"bad {what} {target!r}: {host!r} is not an IP address") from None
    lowest = 0 if passive else 1  # ptcp:0: a port the kernel picks
    if port_text and not (port_text.isdigit() and lowest <= int(port_text) < 65536):
        raise ConfigError(f"bad {what} {target!r}: {port_text!r} is not a TCP port")
    return target


def split_targets(targets: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(controllers, listeners) from targets of both kinds, as ``ovs-vsctl
    set-controller`` takes them; ConfigError for a target of neither kind."""
    active, passive = [], []
    for target in targets:
        if target.partition(":")[0] in PASSIVE_KINDS:
            passive.append(check_target(target, passive=True))
        else:
            active.append(check_target(target, passive=False))
    return tuple(active), tuple(passive)


def parse_datapath_id(text: str) -> int:
    """A datapath id from up to 16 hex digits (``0x`` optional)."""
    digits = text[2:] if text.lower().startswith("0x") else text
    if not 0 < len(digits) <= 16 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise ConfigError(f"bad datapath id {text!r} (1 to 16 hex digits)")
    return int(digits, 16)


def check_protocols(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown or not names:
        raise ConfigError(f"unknown protocol(s) {', '.join(unknown) or '(none given)'} "
                          f"(known: {', '.join(PROTOCOLS)})")
    return tuple(sorted(set(names), key=lambda n: PROTOCOLS[n]))


def check_port(port: PortConfig) -> PortConfig:
    """``port`` if its fields agree with its type; ConfigError otherwise."""
    if not NAME.fullmatch(port.name):
        raise ConfigError(f"bad port name {port.name!r} (1-15 letters, digits, '_', '.', '-')")
    if port.type not in PORT_TYPES:
        raise ConfigError(f"port {port.name!r}: unknown type {port.type!r} "
                          f"(known: {', '.join(PORT_TYPES)})")
    if port.ofport is not None and not 0 < port.ofport < MAX_OFPORT and not (
            port.ofport == OFPP_LOCAL and port.type == "internal"):
        raise ConfigError(f"port {port.name!r}: ofport {port.ofport} out of range "
                          f"1-{MAX_OFPORT - 1} (or {OFPP_LOCAL}, LOCAL, for an internal port)")
    if (port.peer is None) != (port.type != "patch"):
        raise ConfigError(f"port {port.name!r}: " + ("a patch port needs a peer"
                                                      if port.type == "patch"
                                                      else "only a patch port has a peer"))
    if port.peer is not None and not NAME.fullmatch(port.peer):
        raise ConfigError(f"port {port.name!r}: bad peer name {port.peer!r}")
    vxlan = (port.remote_ip, port.key, port.dst_port)
    if port.type != "vxlan" and any(v is not None for v in vxlan):
        raise ConfigError(f"port {port.name!r}: remote_ip, key and dst_port are for vxlan ports")
    if port.remote_ip is not None:
        try:
            ipaddress.IPv4Address(port.remote_ip)
        except ValueError:
            raise ConfigError(f"port {port.name!r}: remote_ip {port.remote_ip!r} is not an "
                              f"IPv4 address") from None
    if port.key is not None and not 0 <= port.key < 1 << 24:
        raise ConfigError(f"port {port.name!r}: key {port.key} is not a 24-bit VNI")
    if port.dst_port is not None and not 0 < port.dst_port < 65536:
        raise ConfigError(f"port {port.name!r}: dst_port {port.dst_port} is not a UDP port")
    return port


def check_bridge(bridge: BridgeConfig) -> BridgeConfig:
    """``bridge`` if it can run; ConfigError (naming the bridge) otherwise."""
    try:
        if not NAME.fullmatch(bridge.name):
            raise ConfigError(f"bad bridge name {bridge.name!r} "
                              f"(1-15 letters, digits, '_', '.', '-')")
        if not 0 < bridge.datapath_id < 1 << 64:
            raise ConfigError(f"datapath id {bridge.datapath_id:x} out of range")
        check_protocols(bridge.protocols)
        if bridge.fail_mode is not None and bridge.fail_mode not in FAIL_MODES:
            raise ConfigError(f"unknown fail mode {bridge.fail_mode!r} "
                              f"(known: {', '.join(FAIL_MODES)})")
        for target in bridge.controllers:
            check_target(target, passive=False)
        for target in bridge.listeners:
            check_target(target, passive=True)
        for kind, targets in (("controller", bridge.controllers),
                              ("listener", bridge.listeners)):
            twice = sorted({t for t in targets if targets.count(t) > 1})
            if twice:
                raise ConfigError(f"{kind} {twice[0]!r} listed twice")
        names: set[str] = set()
        numbers: set[int] = set()
        for port in bridge.ports:
            check_port(port)
            if port.name in names:
                raise ConfigError(f"port {port.name!r} listed twice")
            names.add(port.name)
            if port.ofport is not None:
                if port.ofport in numbers:
                    raise ConfigError(f"port {port.name!r}: ofport {port.ofport} used twice")
                numbers.add(port.ofport)
    except ConfigError as exc:
        raise ConfigError(f"bridge {bridge.name!r}: {exc}") from None
    return bridge


def check(config: AgentConfig) -> AgentConfig:
    """``config`` if the whole of it can run; ConfigError naming the place otherwise."""
    names: set[str] = set()
    owner: dict[str, str] = {}  # port name -> bridge: one interface, one bridge
    for bridge in config.bridges:
        check_bridge(bridge)
        if bridge.name in names:
            raise ConfigError(f"bridge {bridge.name!r} defined twice")
        names.add(bridge.name)
        for port in bridge.ports:
            if port.name in owner:
                raise ConfigError(f"bridge {bridge.name!r}: port {port.name!r} is already "
                                  f"on bridge {owner[port.name]!r}")
            owner[port.name] = bridge.name
    for level in (config.log_level, *(lv for _, lv in config.log_levels)):
        if level not in LOG_LEVELS:
            raise ConfigError(f"agent: unknown log level {level!r} (known: {', '.join(LOG_LEVELS)})")
    if config.probe_interval <= 0 or config.max_backoff <= 0:
        raise ConfigError("agent: probe_interval and max_backoff must be positive")
    if config.controller_rate_limit < 0 or config.controller_burst_limit < 0:
        raise ConfigError("agent: controller rate and burst limits cannot be negative")
    tls = (config.private_key, config.certificate, config.ca_cert)
    if any(tls) and not all(tls):
        raise ConfigError("ssl: private_key, certificate and ca_cert go together")
    for bridge in config.bridges:
        secure = [t for t in (*bridge.controllers, *bridge.listeners)
                  if t.startswith(("ssl:", "pssl:"))]
        if secure and not all(tls):
            raise ConfigError(f"bridge {bridge.name!r}: {secure[0]} needs [ssl] private_key, "
                              f"certificate and ca_cert")
    return config


# ------------------------------------------------------------------ TOML -> model


class _Table:
    """Typed reads from one TOML table, naming the place in errors."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table")
        self.data = dict(data)
        self.where = where

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data.pop(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = None  # TOML true is not a number here
        if not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds).replace("str", "string")
            raise ConfigError(f"{self.where}: {key}: expected {names}")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.take(key, list)
        if value is None:
            return None
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}: {key}: expected a list of strings")
        return tuple(value)

    def done(self) -> None:
        if self.data:
            raise ConfigError(f"{self.where}: unknown key(s) {', '.join(sorted(self.data))}")


def _port(data: Any, where: str) -> PortConfig:
    t = _Table(data, where)
    name = t.take("name", str)
    if name is None:
        raise ConfigError(f"{where}: missing name")
    where = f"{where.rsplit(' ', 1)[0]} {name!r}"
    t.where = where
    port = PortConfig(name=name, type=t.take("type", str, "system"), ofport=t.take("ofport", int),
                      peer=t.take("peer", str), remote_ip=t.take("remote_ip", str),
                      key=t.take("key", int), dst_port=t.take("dst_port", int))
    t.done()
    return port


def _bridge(data: Any, index: int) -> BridgeConfig:
    t = _Table(data, f"bridge #{index + 1}")
    name = t.take("name", str)
    if name is None:
        raise ConfigError(f"bridge #{index + 1}: missing name")
    t.where = f"bridge {name!r}"
    dpid = t.take("datapath_id", (str, int), "1")
    try:
        datapath_id = dpid if isinstance(dpid, int) else parse_datapath_id(dpid)
    except ConfigError as exc:
        raise ConfigError(f"{t.where}: {exc}") from None
    protocols = t.strings("protocols") or ("OpenFlow10", "OpenFlow13")
    ports = t.take("ports", list, [])
    bridge = BridgeConfig(
        name=name, datapath_id=datapath_id, protocols=protocols,
        fail_mode=t.take("fail_mode", str),
        controllers=t.strings("controllers") or (), listeners=t.strings("listeners") or (),
        ports=tuple(_port(p, f"{t.where} port #{i + 1}") for i, p in enumerate(ports)))
    t.done()
    return bridge


def loads(text: str) -> AgentConfig:
    """The configuration in TOML ``text``; ConfigError (one line) for any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax: {exc}") from None
    top = _Table(data, "top level")
    agent = _Table(top.take("agent", dict, {}), "[agent]")
    tls = _Table(top.take("ssl", dict, {}), "[ssl]")
    levels = _Table(agent.take("log_levels", dict, {}), "[agent] log_levels")
    module_levels = tuple((name, levels.take(name, str)) for name in sorted(levels.data))
    bridges = top.take("bridge", list, [])
    top.done()

    def number(key: str, default: float) -> float:
        return float(agent.take(key, (int, float), default))

    config = AgentConfig(
        bridges=tuple(_bridge(b, i) for i, b in enumerate(bridges)),
        control_socket=agent.take("control_socket", str),
        log_level=agent.take("log_level", str, "warning"),
        log_levels=module_levels,
        probe_interval=number("probe_interval", 5.0),
        max_backoff=number("max_backoff", 8.0),
        controller_rate_limit=number("controller_rate_limit", 0.0),
        controller_burst_limit=number("controller_burst_limit", 0.0),
        private_key=tls.take("private_key", str), certificate=tls.take("certificate", str),
        ca_cert=tls.take("ca_cert", str))
    agent.done()
    tls.done()
    return check(config)


def load(path: str | os.PathLike[str]) -> AgentConfig:
    """The configuration in file ``path``; ConfigError naming the file for any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return loads(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# ------------------------------------------------------------------ model -> TOML


def _value(value: Any) -> str:
    """One TOML value (strings, ints, floats, lists of strings)."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else
                          f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                          for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _port_text(port: PortConfig) -> str:
    items = [("name", port.name)]
    if port.type != "system":
        items.append(("type", port.type))
    items += [(key, getattr(port, key)) for key in ("ofport", "peer", "remote_ip", "key",
                                                    "dst_port")
              if getattr(port, key) is not None]
    return "{ " + ", ".join(f"{key} = {_value(value)}" for key, value in items) + " }"


def dumps(config: AgentConfig) -> str:
    """TOML text that ``loads`` reads back to ``config``."""
    lines = ["# switch-agent configuration; swctl writes it back when you change the",
             "# bridges (comments are not kept).", "", "[agent]"]
    if config.control_socket is not None:
        lines.append(f"control_socket = {_value(config.control_socket)}")
    lines.append(f"log_level = {_value(config.log_level)}")
    if config.log_levels:
        inner = ", ".join(f"{_value(name)} = {_value(level)}" for name, level in config.log_levels)
        lines.append(f"log_levels = {{ {inner} }}")
    for key in ("probe_interval", "max_backoff", "controller_rate_limit",
                "controller_burst_limit"):
        lines.append(f"{key} = {_value(float(getattr(config, key)))}")
    if config.private_key:
        lines += ["", "[ssl]"] + [f"{key} = {_value(getattr(config, key))}"
                                  for key in ("private_key", "certificate", "ca_cert")]
    for bridge in config.bridges:
        lines += ["", "[[bridge]]", f"name = {_value(bridge.name)}",
                  f'datapath_id = "{bridge.datapath_id:016x}"',
                  f"protocols = {_value(bridge.protocols)}"]
        if bridge.fail_mode is not None:
            lines.append(f"fail_mode = {_value(bridge.fail_mode)}")
        lines.append(f"controllers = {_value(bridge.controllers)}")
        lines.append(f"listeners = {_value(bridge.listeners)}")
        if bridge.ports:
            lines.append("ports = [")
            lines += [f"    {_port_text(port)}," for port in bridge.ports]
            lines.append("]")
        else:
            lines.append("ports = []")
    return "\n".join(lines) + "\n"


def save(config: AgentConfig, path: str | os.PathLike[str]) -> None:
    """Write ``config`` to ``path`` atomically: a reader (or the next start after a
    crash or ``kill -9`` at any point) sees the old file or the new one, never a mix."""
    target = Path(path)
    text = dumps(config).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Delete what an interrupted ``save`` of ``path`` left (its temporary files, which
    no reader uses); returns their names."""
    target = Path(path)
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp.name)
    return removed


__all__ = ["AgentConfig", "BridgeConfig", "ConfigError", "PortConfig", "check",
           "check_bridge", "check_port", "check_protocols", "check_target", "dumps", "load",
           "loads", "parse_datapath_id", "remove_temporaries", "save", "split_targets"]
