"""ctl: reaching a running agent -- where its sockets are and how to ask it.

The client half of switch_agent/control.py (the server), kept apart so that swctl can
use it without loading the switch: the run directory (``/run/switch-agent``, or
``$SWITCH_AGENT_RUNDIR``), the control socket ``BRIDGE.ctl`` of a one-bridge agent,
a bridge's OpenFlow management socket ``BRIDGE.mgmt``, and ``request`` -- one JSON
request line, one JSON reply line (control.py's docstring has the protocol).
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

RUN_DIR_ENV = "SWITCH_AGENT_RUNDIR"
DEFAULT_RUN_DIR = "/run/switch-agent"
SOCKET_SUFFIX = ".ctl"
MGMT_SUFFIX = ".mgmt"  # a bridge's OpenFlow management socket (punix), as in OVS
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


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


def mgmt_path(bridge: str, directory: Path | None = None) -> Path:
    """The OpenFlow management socket of ``bridge`` (``punix:``, what the swctl flow
    tools and ``ovs-ofctl ... unix:PATH`` connect to), in ``directory`` or run_dir()."""
    if not _BRIDGE_NAME.fullmatch(bridge):
        raise ValueError(f"bad bridge name {bridge!r} (letters, digits, '_', '.', '-')")
    return (run_dir() if directory is None else directory) / f"{bridge}{MGMT_SUFFIX}"


def sockets_in(directory: Path, suffix: str) -> list[Path]:
    """The ``*suffix`` sockets in ``directory``, sorted (none when it does not exist);
    PermissionError when it exists but cannot be listed."""
    if directory.is_dir() and not os.access(directory, os.R_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"permission denied on {directory}")
    try:
        return sorted(directory.glob(f"*{suffix}"))
    except OSError:
        return []


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


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
