"""admin: the management commands of the control socket (what ovs-vsctl and the
``vlog/set``, ``upcall/show`` commands of ovs-appctl do for Open vSwitch).

Sits between control.py (the socket, the request format, the inspection commands) and
agent.py (the bridges and their configuration): ``register(server, agent)`` adds

    list-br                                       {"bridges": [name, ...]}
    add-br      {"name", "datapath_id"?, "protocols"?, "fail_mode"?, "controllers"?,
                 "may_exist"?}                     a new bridge, running at once
    del-br      {"name", "if_exists"?}
    list-ports  (bridge)                          {"ports": [name, ...]}
    add-port    (bridge) {"port", "type"?, "ofport"?, "peer"?, "remote_ip"?, "key"?,
                 "dst_port"?, "may_exist"?}        {"ofport": N}
    del-port    (bridge?) {"port", "if_exists"?}   without a bridge: wherever the port is
    set-controller (bridge) {"targets": [...]}    tcp:/ssl:/unix: and ptcp:/pssl:/punix:
    del-controller (bridge), get-controller (bridge)
    set-fail-mode (bridge) {"mode"}, del-fail-mode (bridge)
    set-protocols (bridge) {"protocols": [...]}, set-datapath-id (bridge) {"datapath_id"}
    log-level   {"module"?, "level"?}             {"levels": {module: level}}
    upcall-show (bridge?)                         flows, limit, upcalls, revalidations

Every change answers ``{"saved": bool}`` among its results: whether it was written to
the configuration file (only when the agent runs with ``--config``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from switch_agent import config as cfg
from switch_agent.agent import LOG_LEVEL_NAMES, Agent, AgentError, Bridge
from switch_agent.control import ControlError, ControlServer

if TYPE_CHECKING:
    from collections.abc import Awaitable

_LEVEL_OF = {number: name for name, number in LOG_LEVEL_NAMES.items()}


def _only(cmd: str, args: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(args) - set(allowed)
    if unknown:
        raise ControlError(f"{cmd}: unknown argument(s) {', '.join(sorted(unknown))}"
                           + (f" (known: {', '.join(allowed)})" if allowed else ""))


def _get(cmd: str, args: dict[str, Any], name: str, kind: type, *, required: bool = False,
         default: Any = None) -> Any:
    value = args.get(name)
    if value is None:
        if required:
            raise ControlError(f"{cmd}: missing {name}")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ControlError(f"{cmd}: {name} must be "
                           + {str: "a string", int: "an integer", bool: "true or false",
                              list: "a list"}[kind])
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ControlError(f"{cmd}: {name} must be a list of strings")
    return value


class Admin:
    """The management handlers for one agent (see the module docstring)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def register(self, server: ControlServer) -> None:
        for name, handler, bridge in (
            ("list-br", self.list_br, False),
            ("add-br", self.add_br, False),
            ("del-br", self.del_br, False),
            ("list-ports", self.list_ports, True),
            ("add-port", self.add_port, True),
            ("del-port", self.del_port, None),
            ("set-controller", self.set_controller, True),
            ("del-controller", self.del_controller, True),
            ("get-controller", self.get_controller, True),
            ("set-fail-mode", self.set_fail_mode, True),
            ("del-fail-mode", self.del_fail_mode, True),
            ("set-protocols", self.set_protocols, True),
            ("set-datapath-id", self.set_datapath_id, True),
            ("log-level", self.log_level, False),
            ("upcall-show", self.upcall_show, None),
        ):  # bridge None: the request may name one (handler gets it or None)
            server.register(name, handler, bridge=bridge)

    # -- bridges

    def list_br(self, args: dict[str, Any]) -> dict[str, Any]:
        _only("list-br", args, ())
        return {"bridges": sorted(self.agent.bridges)}

    def add_br(self, args: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        cmd = "add-br"
        _only(cmd, args, ("name", "datapath_id", "protocols", "fail_mode", "controllers",
                          "may_exist"))
        name = _get(cmd, args, "name", str, required=True)
        dpid_text = _get(cmd, args, "datapath_id", str)
        try:
            datapath_id = (cfg.parse_datapath_id(dpid_text) if dpid_text is not None
                           else self._free_datapath_id())
            controllers, listeners = cfg.split_targets(_get(cmd, args, "controllers", list,
                                                            default=[]))
            protocols = cfg.check_protocols(_get(cmd, args, "protocols", list,
                                                 default=["OpenFlow10", "OpenFlow13"]))
        except cfg.ConfigError as exc:
            raise ControlError(f"{cmd}: {exc}") from None
        bridge = cfg.BridgeConfig(name=name, datapath_id=datapath_id, protocols=protocols,
                                  fail_mode=_get(cmd, args, "fail_mode", str),
                                  controllers=controllers, listeners=listeners)
        return self.agent.add_bridge(bridge, may_exist=_get(cmd, args, "may_exist", bool,
                                                            default=False))

    def _free_datapath_id(self) -> int:
        """The lowest datapath id no bridge of this agent uses."""
        used = {b.config.datapath_id for b in self.agent.bridges.values()}
        return next(n for n in range(1, len(used) + 2) if n not in used)

    def del_br(self, args: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        _only("del-br", args, ("name", "if_exists"))
        name = _get("del-br", args, "name", str, required=True)
        return self.agent.del_bridge(name, if_exists=_get("del-br", args, "if_exists", bool,
                                                          default=False))

    # -- ports

    def list_ports(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("list-ports", args, ())
        return {"ports": sorted(p.name for p in br.config.ports)}

    def add_port(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        cmd = "add-port"
        _only(cmd, args, ("port", "type", "ofport", "peer", "remote_ip", "key", "dst_port",
                          "may_exist"))
        port = cfg.PortConfig(
            name=_get(cmd, args, "port", str, required=True),
            type=_get(cmd, args, "type", str, default="system"),
            ofport=_get(cmd, args, "ofport", int), peer=_get(cmd, args, "peer", str),
            remote_ip=_get(cmd, args, "remote_ip", str), key=_get(cmd, args, "key", int),
            dst_port=_get(cmd, args, "dst_port", int))
        return self.agent.add_port(br, port, may_exist=_get(cmd, args, "may_exist", bool,
                                                            default=False))

    def del_port(self, br: Bridge | None, args: dict[str, Any]) -> dict[str, Any]:
        cmd = "del-port"
        _only(cmd, args, ("port", "if_exists"))
        name = _get(cmd, args, "port", str, required=True)
        return self.agent.del_port(br, name, if_exists=_get(cmd, args, "if_exists", bool,
                                                                default=False))

    # -- controllers and protocols

    async def set_controller(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("set-controller", args, ("targets",))
        targets = _get("set-controller", args, "targets", list, required=True)
        try:
            controllers, listeners = cfg.split_targets(targets)
        except cfg.ConfigError as exc:
            raise ControlError(f"set-controller: {exc}") from None
        return await self._retarget(br, controllers, listeners)

    def _check(self, br: Bridge, **changes: Any) -> None:
        """Refuse (before anything is touched) a change the configuration cannot take."""
        self.agent._checked(self.agent.config.with_bridge(replace(br.config, **changes)))

    async def _retarget(self, br: Bridge, controllers: tuple[str, ...],
                        listeners: tuple[str, ...]) -> dict[str, Any]:
        self._check(br, controllers=controllers, listeners=listeners)
        old = (br.config.controllers, br.config.listeners)
        try:
            await br.set_targets(controllers, listeners)
        except (OSError, ValueError) as exc:
            await br.set_targets(*old)  # back to what worked
            raise AgentError(f"bridge {br.name!r}: {exc}") from None
        return self.agent._commit(br)

    async def del_controller(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("del-controller", args, ())
        return await self._retarget(br, (), ())

    def get_controller(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("get-controller", args, ())
        return {"controllers": list(br.config.controllers),
                "listeners": list(br.config.listeners)}

    def set_fail_mode(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("set-fail-mode", args, ("mode",))
        mode = _get("set-fail-mode", args, "mode", str, required=True)
        if mode not in cfg.FAIL_MODES:
            raise ControlError(f"set-fail-mode: unknown mode {mode!r} "
                               f"(known: {', '.join(cfg.FAIL_MODES)})")
        self._check(br, fail_mode=mode)
        br.set_fail_mode(mode)
        return self.agent._commit(br)

    def del_fail_mode(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("del-fail-mode", args, ())
        br.set_fail_mode(None)
        return self.agent._commit(br)

    def set_protocols(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("set-protocols", args, ("protocols",))
        try:
            protocols = cfg.check_protocols(_get("set-protocols", args, "protocols", list,
                                                 required=True))
        except cfg.ConfigError as exc:
            raise ControlError(f"set-protocols: {exc}") from None
        self._check(br, protocols=protocols)
        br.set_protocols(protocols)
        return self.agent._commit(br)

    def set_datapath_id(self, br: Bridge, args: dict[str, Any]) -> dict[str, Any]:
        _only("set-datapath-id", args, ("datapath_id",))
        try:
            datapath_id = cfg.parse_datapath_id(_get("set-datapath-id", args, "datapath_id",
                                                     str, required=True))
        except cfg.ConfigError as exc:
            raise ControlError(f"set-datapath-id: {exc}") from None
        self._check(br, datapath_id=datapath_id)
        br.set_datapath_id(datapath_id)
        return self.agent._commit(br)

    # -- diagnostics

    def log_level(self, args: dict[str, Any]) -> dict[str, Any]:
        """Set a module's level (or the root's without a module) until the agent exits;
        without a level, show them."""
        _only("log-level", args, ("module", "level"))
        module = _get("log-level", args, "module", str)
        level = _get("log-level", args, "level", str)
        if level is not None:
            if level not in LOG_LEVEL_NAMES:
                raise ControlError(f"log-level: unknown level {level!r} "
                                   f"(known: {', '.join(cfg.LOG_LEVELS)})")
            if module is not None and module not in logging.root.manager.loggerDict \
                    and not module.startswith(("switch_agent", "datapath", "openflow")):
                raise ControlError(f"log-level: no module {module!r}")
            logging.getLogger(module).setLevel(LOG_LEVEL_NAMES[level])
        levels = {"(root)": _LEVEL_OF.get(logging.getLogger().level, "notset")}
        for name in sorted(logging.root.manager.loggerDict):
            logger = logging.root.manager.loggerDict[name]
            if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
                levels[name] = _LEVEL_OF.get(logger.level, str(logger.level))
        return {"levels": levels}

    def upcall_show(self, br: Bridge | None, args: dict[str, Any]) -> dict[str, Any]:
        """Like ``ovs-appctl upcall/show``: per bridge, the datapath's flows against its
        limit, upcalls handled and lost, revalidations."""
        _only("upcall-show", args, ())
        bridges = ([br] if br is not None
                   else [self.agent.bridges[n] for n in sorted(self.agent.bridges)])
        result = []
        for br in bridges:
            dp = br.datapath
            s = dp.stats()
            result.append({
                "bridge": br.name, "flows": s.flows, "flow_limit": dp.cache.megaflows.flow_limit,
                "masks": s.masks, "hit": s.hit, "missed": s.missed, "lost": s.lost,
                "upcalls_handled": br.switch.upcalls_handled,
                "upcall_queue": len(dp._upcalls), "upcall_queue_len": dp.upcall_queue_len,
                "revalidations": br.switch.revalidations, "ukeys": len(br.switch.ukeys),
            })
        return {"bridges": result}


def register(server: ControlServer, agent: Agent) -> None:
    Admin(agent).register(server)


__all__ = ["Admin", "register"]
