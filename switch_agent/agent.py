"""agent: the running switch-agent -- its bridges, built from a configuration and
changed at run time (what ovs-vswitchd's bridge.c does with the OVS database).

Sits at the top of switch_agent/, under cli.py (which makes an ``AgentConfig`` from
``--config FILE`` or flags and runs an ``Agent`` until a signal) and beside control.py
(whose socket serves the inspection commands; this module adds the management ones:
add-br, del-br, list-br, add-port, del-port, list-ports, set-controller, del-controller,
get-controller, set-fail-mode, del-fail-mode, set-protocols, set-datapath-id, log-level,
upcall-show).  Each ``Bridge`` is one OpenFlow switch: a datapath (datapath.dpif), the
switch on it (ofproto.Switch), its connections (connmgr.ConnManager) and, next to the
agent's control socket, an OpenFlow management socket ``BRIDGE.mgmt`` for swctl's flow
tools and ``ovs-ofctl ... unix:PATH``.

A change is checked as a whole new configuration first (config.check), then applied,
then saved (when the agent runs with ``--config FILE``); if applying fails the bridge
is put back as it was and nothing is saved, so a refused command leaves no trace.  A
configured port whose interface does not exist (yet) is kept in the configuration and
shown as pending; the agent opens it when the interface appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev, Netdev, PatchNetdev, connect_patch
from openflow.actions import ApplyActions, Output
from openflow.consts import OFP13, OFPP_NORMAL
from openflow.messages import FlowMod
from switch_agent import config as cfg
from switch_agent import control
from switch_agent.connmgr import ConnManager, TlsConfig
from switch_agent.ofproto import Switch

log = logging.getLogger(__name__)

PENDING_RETRY = 2.0  # seconds between attempts to open a pending port
LOG_LEVEL_NAMES = {name: getattr(logging, name.upper()) for name in cfg.LOG_LEVELS}


class AgentError(control.ControlError):
    """A refused management request (one line; nothing was changed)."""


def describe(exc: BaseException) -> str:
    """One line for why a port could not be opened."""
    if isinstance(exc, OSError) and exc.errno == errno.ENODEV:
        return "no such network interface"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if not exc.filename else f"{exc.strerror}: {exc.filename}"
    return control.one_line(str(exc))


def open_netdev(port: cfg.PortConfig) -> Netdev:
    """The netdev for a configured port; OSError when its interface cannot be opened."""
    if port.type == "dummy":
        return DummyNetdev(port.name)
    if port.type == "patch":
        return PatchNetdev(port.name)
    if port.type == "internal":
        from datapath.netdev_tap import InternalNetdev

        tap = InternalNetdev(port.name)
        tap.set_admin_up(True)
        return tap
    if port.type == "vxlan":
        from datapath.netdev_vxlan import DEFAULT_DST_PORT, VxlanNetdev

        return VxlanNetdev(port.name, remote_ip=port.remote_ip, key=port.key,
                           dst_port=port.dst_port or DEFAULT_DST_PORT)
    from datapath.netdev_linux import SystemNetdev

    return SystemNetdev(port.name)


class Bridge:
    """One OpenFlow switch of the agent; see the module docstring."""

    def __init__(self, agent: Agent, config: cfg.BridgeConfig) -> None:
        self.agent = agent
        self.config = config
        self.name = config.name
        self.datapath = Datapath(config.name)
        self.switch = Switch(self.datapath)
        ac = agent.config
        tls = None
        if ac.private_key and ac.certificate and ac.ca_cert:
            tls = TlsConfig(ac.private_key, ac.certificate, ac.ca_cert)
        self.mgr = ConnManager(self.switch, datapath_id=config.datapath_id,
                               versions=_versions(config.protocols), fail_mode=config.fail_mode,
                               probe_interval=ac.probe_interval, max_backoff=ac.max_backoff,
                               rate_limit=ac.controller_rate_limit,
                               burst_limit=ac.controller_burst_limit, tls=tls)
        self.pending: dict[str, str] = {}  # configured port name -> why it is not open
        self.mgmt_path: Path | None = None
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Bridge {self.name} ports={len(self.switch.ports)}>"

    # -- life cycle

    async def start(self) -> None:
        """Open the ports (a missing interface stays pending), install Open vSwitch's
        ``priority=0,actions=NORMAL`` when standalone without controllers, start the
        listeners, the management socket and the controllers."""
        for port in self.config.ports:
            try:
                self._open_port(port)
            except OSError as exc:
                self.pending[port.name] = describe(exc)
                log.warning("bridge %s: port %s not opened (pending): %s", self.name,
                            port.name, describe(exc))
        if not self.config.controllers and self.mgr.fail_mode_now() == "standalone":
            self.switch.flow_mod(FlowMod(priority=0, instructions=(
                ApplyActions((Output(OFPP_NORMAL),)),)), OFP13)
        loop = asyncio.get_running_loop()
        self.datapath.attach(loop)
        self._task = loop.create_task(self.switch.run())
        try:
            for target in self.config.listeners:
                await self.mgr.listen(target)
            for target in self.config.controllers:
                self.mgr.add_controller(target)
        except BaseException:
            await self.close()
            raise
        await self._open_mgmt()
        log.info("bridge %s running (datapath id %016x, fail mode %s)", self.name,
                 self.mgr.datapath_id, self.mgr.fail_mode_now())

    async def _open_mgmt(self) -> None:
        directory = self.agent.socket_dir
        if directory is None:
            return
        path = control.mgmt_path(self.name, directory)
        try:
            control.ControlServer.remove_stale(path)
            await self.mgr.listen(f"punix:{path}")
        except OSError as exc:
            log.warning("bridge %s: no management socket %s: %s", self.name, path, exc)
            return
        path.chmod(0o600)
        self.mgmt_path = path

    async def close(self) -> None:
        """Stop the connections and the datapath; tap devices are deleted, promiscuous
        mode is given back with the sockets."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.mgr.close()
        self.datapath.close()
        if self.mgmt_path is not None:
            self.mgmt_path.unlink(missing_ok=True)
            self.mgmt_path = None

    def run_periodic(self, now: float) -> None:
        self.mgr.run_periodic()
        if self.pending and now >= self._retry_at:
            self._retry_at = now + PENDING_RETRY
            for name in list(self.pending):
                port = self.config.port(name)
                if port is None:
                    del self.pending[name]
                    continue
                try:
                    number = self._open_port(port)
                except OSError as exc:
                    self.pending[name] = describe(exc)
                    continue
                del self.pending[name]
                log.info("bridge %s: port %s appeared: OpenFlow port %d", self.name, name, number)

    # -- ports

    def _open_port(self, port: cfg.PortConfig) -> int:
        netdev = open_netdev(port)
        try:
            number = self.switch.add_port(netdev, port.ofport)
        except BaseException:
            netdev.close()
            raise
        if isinstance(netdev, PatchNetdev) and port.peer is not None:
            peer = self.agent.netdev(port.peer)
            peer_config = self.agent.port_config(port.peer)
            if isinstance(peer, PatchNetdev) and peer_config is not None \
                    and peer_config.peer == port.name:
                connect_patch(netdev, peer)
        log.info("bridge %s: port %s (%s): OpenFlow port %d", self.name, port.name, port.type,
                 number)
        return number

    def ofport(self, name: str) -> int | None:
        return next((n for n, p in self.switch.ports.items() if p.name == name), None)

    def netdev(self, name: str) -> Netdev | None:
        number = self.datapath.port_no(name)
        return None if number is None else self.datapath.netdev(number)

    def add_port(self, port: cfg.PortConfig) -> int:
        """Open and add ``port`` now; OSError (nothing added) when it cannot be."""
        number = self._open_port(port)
        self.config = replace(self.config, ports=(*self.config.ports, port))
        return number

    def del_port(self, name: str) -> None:
        number = self.ofport(name)
        if number is not None:
            self.switch.del_port(number)
        self.pending.pop(name, None)
        self.config = replace(self.config, ports=tuple(p for p in self.config.ports
                                                       if p.name != name))

    # -- connections

    async def set_targets(self, controllers: tuple[str, ...], listeners: tuple[str, ...]) -> None:
        """Replace the controllers and the passive listeners (the management socket stays)."""
        mgr = self.mgr
        mgmt = None if self.mgmt_path is None else f"punix:{self.mgmt_path}"
        for target in [t for t in mgr.controllers if t not in controllers]:
            await mgr.del_controller(target)
        for target in [t for t in mgr.listeners if t not in listeners and t != mgmt]:
            await mgr.del_listener(target)
        for target in listeners:
            if target not in mgr.listeners:
                await mgr.listen(target)
        for target in controllers:
            if target not in mgr.controllers:
                mgr.add_controller(target)
        self.config = replace(self.config, controllers=controllers, listeners=listeners)

    def set_fail_mode(self, mode: str | None) -> None:
        self.mgr.fail_mode = mode
        self.mgr.run_periodic()
        self.config = replace(self.config, fail_mode=mode)

    def set_protocols(self, protocols: tuple[str, ...]) -> None:
        """New connections negotiate from ``protocols``; connections on a version no
        longer allowed are closed (controllers reconnect with an allowed one)."""
        versions = _versions(protocols)
        self.mgr.versions = versions
        for conn in list(self.mgr.conns):
            if conn.version not in versions and conn.transport is not None:
                conn.transport.close()
        self.config = replace(self.config, protocols=protocols)

    def set_datapath_id(self, datapath_id: int) -> None:
        """A new datapath id: every connection starts over (controllers see a new switch)."""
        self.mgr.datapath_id = datapath_id
        for conn in list(self.mgr.conns):
            if conn.transport is not None:
                conn.transport.close()
        self.config = replace(self.config, datapath_id=datapath_id)


def _versions(protocols: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(cfg.PROTOCOLS[name] for name in protocols))


class Agent:
    """The bridges of one switch-agent process and their control socket.

        agent = Agent(config, path="/etc/switch-agent.toml")   # path: where to save
        await agent.start()
        await agent.serve(stop_event)      # periodic work until stop is set
        await agent.close()
    """

    def __init__(self, config: cfg.AgentConfig, *, path: str | Path | None = None,
                 control_socket: str | Path | None = None) -> None:
        self.config = cfg.check(config)
        self.path = Path(path) if path is not None else None
        self.control_socket = None if control_socket is None else Path(control_socket)
        self.bridges: dict[str, Bridge] = {}
        self.control: control.ControlServer | None = None
        self.started = time.monotonic()

    @property
    def socket_dir(self) -> Path | None:
        """Where the management sockets go: beside the control socket (none without it)."""
        if self.control is None:
            return None
        return self.control.path.parent

    # -- life cycle

    async def start(self) -> None:
        apply_log_levels(self.config)
        if self.path is not None:
            for name in cfg.remove_temporaries(self.path):
                log.info("removed %s, left by an interrupted save", name)
        if self.control_socket is not None:
            from switch_agent import admin

            self.control = control.ControlServer(self.bridges, self.control_socket)
            admin.register(self.control, self)
            try:
                await self.control.start()
            except OSError as exc:  # e.g. another agent owns the socket: run without one
                log.warning("no control socket (swctl will not reach this agent): %s", exc)
                self.control = None
        try:
            for bridge_config in self.config.bridges:
                bridge = Bridge(self, bridge_config)
                self.bridges[bridge.name] = bridge
                await bridge.start()
        except BaseException:
            await self.close()
            raise

    async def serve(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            now = time.monotonic()
            for bridge in list(self.bridges.values()):
                try:
                    bridge.run_periodic(now)
                except Exception:
                    log.exception("bridge %s: periodic work failed", bridge.name)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
            self.control = None
        for bridge in list(self.bridges.values()):
            await bridge.close()
        self.bridges.clear()

    # -- lookups

    def netdev(self, port_name: str) -> Netdev | None:
        for bridge in self.bridges.values():
            netdev = bridge.netdev(port_name)
            if netdev is not None:
                return netdev
        return None

    def port_config(self, port_name: str) -> cfg.PortConfig | None:
        for bridge in self.bridges.values():
            port = bridge.config.port(port_name)
            if port is not None:
                return port
        return None

    def bridge_of_port(self, port_name: str) -> Bridge | None:
        return next((b for b in self.bridges.values() if b.config.port(port_name) is not None),
                    None)

    def _bridge(self, name: Any) -> Bridge:
        if not isinstance(name, str):
            raise AgentError("name the bridge")
        bridge = self.bridges.get(name)
        if bridge is None:
            known = ", ".join(sorted(self.bridges)) or "none"
            raise AgentError(f"no bridge named {name!r} (bridges: {known})")
        return bridge

    # -- changes

    def _checked(self, new: cfg.AgentConfig) -> cfg.AgentConfig:
        try:
            return cfg.check(new)
        except cfg.ConfigError as exc:
            raise AgentError(str(exc)) from None

    def _save(self) -> bool:
        """Write the configuration (when the agent has a file); True when saved."""
        if self.path is None:
            return False
        try:
            cfg.save(self.config, self.path)
        except OSError as exc:
            raise AgentError(f"{self.path}: cannot save the configuration: {exc}") from None
        return True

    def _commit(self, bridge: Bridge | None = None, *, removed: str | None = None) -> dict[str, Any]:
        """Take the bridges' configurations into the agent's and save it."""
        config = self.config
        if removed is not None:
            config = config.without_bridge(removed)
        if bridge is not None:
            config = config.with_bridge(bridge.config)
        self.config = config
        return {"saved": self._save()}

    async def add_bridge(self, bridge_config: cfg.BridgeConfig, *, may_exist: bool = False
                         ) -> dict[str, Any]:
        if bridge_config.name in self.bridges:
            if may_exist:
                return {"saved": False}
            raise AgentError(f"bridge {bridge_config.name!r} exists")
        new = self._checked(self.config.with_bridge(bridge_config))
        bridge = Bridge(self, new.bridge(bridge_config.name))  # type: ignore[arg-type]
        self.bridges[bridge.name] = bridge
        try:
            await bridge.start()
        except (OSError, ValueError) as exc:
            self.bridges.pop(bridge.name, None)
            raise AgentError(f"bridge {bridge.name!r}: {exc}") from None
        return self._commit(bridge)

    async def del_bridge(self, name: str, *, if_exists: bool = False) -> dict[str, Any]:
        if name not in self.bridges and if_exists:
            return {"saved": False}
        bridge = self._bridge(name)
        del self.bridges[name]
        await bridge.close()
        return self._commit(removed=name)

    def add_port(self, bridge: Bridge, port: cfg.PortConfig, *, may_exist: bool = False
                 ) -> dict[str, Any]:
        existing = self.bridge_of_port(port.name)
        if existing is not None:
            if may_exist and existing is bridge:
                return {"ofport": bridge.ofport(port.name), "saved": False}
            raise AgentError(f"port {port.name!r} is already on bridge {existing.name!r}")
        self._checked(self.config.with_bridge(
            replace(bridge.config, ports=(*bridge.config.ports, port))))
        try:
            number = bridge.add_port(port)
        except (OSError, ValueError) as exc:
            raise AgentError(f"bridge {bridge.name!r} port {port.name!r}: "
                             f"{describe(exc)}") from None
        try:
            result = self._commit(bridge)
        except AgentError:
            bridge.del_port(port.name)
            self.config = self.config.with_bridge(bridge.config)
            raise
        return {"ofport": number, **result}

    def del_port(self, bridge: Bridge | None, name: str, *, if_exists: bool = False
                 ) -> dict[str, Any]:
        owner = self.bridge_of_port(name)
        if owner is None or (bridge is not None and owner is not bridge):
            if if_exists:
                return {"saved": False}
            where = f"bridge {bridge.name!r}" if bridge is not None else "any bridge"
            raise AgentError(f"no port {name!r} on {where}")
        owner.del_port(name)
        return self._commit(owner)


def apply_log_levels(config: cfg.AgentConfig) -> None:
    """Each module's level from the configuration (cli.py sets the root's: -v wins)."""
    for module, level in config.log_levels:
        logging.getLogger(module).setLevel(LOG_LEVEL_NAMES[level])


__all__ = ["Agent", "AgentError", "Bridge", "apply_log_levels", "open_netdev"]
