"""ofclient: a small blocking OpenFlow client, and where swctl's flow tools connect.

Sits under ofctl.py (the commands) on top of openflow/: ``OfClient`` drives a socket
through the sans-IO ``openflow.channel.Channel`` (HELLO negotiation, echo replies,
multipart reassembly, OFPT_ERROR as ``OfctlError`` naming the error), resolves port
names through the switch's port descriptions, and ``resolve_target`` finds the switch
from ``--of``, a BRIDGE word, ``--bridge`` and ``--socket`` (see ofctl.py's docstring).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from openflow import flowtext
from openflow import flowtext_actions as fa
from openflow import messages as m
from openflow.channel import Channel, Closed, MessageReceived, Negotiated
from openflow.consts import (
    OFP10,
    OFP13,
    PORT_BY_NAME,
    VERSION_BY_NAME,
    VERSION_NAMES,
)
from openflow.errors import code_name, type_name
from switch_agent import ctl

DEFAULT_PORT = 6653
DEFAULT_TIMEOUT = 30.0
BATCH = 1000  # modifications in flight before a barrier (add-flows)

_BRIDGE_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|[0-9]+)")
# Where flow, group and packet-out text names a port (ovs-ofctl resolves the same).
_PORT_WORD = re.compile(r"(?P<key>\b(?:in_port|out_port)=|\b(?:output|watch_port|enqueue):)"
                        r"(?P<name>[^,\s():]+)")


class OfctlError(Exception):
    """A one-line failure for stderr (exit status 1)."""


# ------------------------------------------------------------------ words on the command line


def looks_like_bridge(word: str) -> bool:
    """Whether ``word`` can only be a bridge name, not flow text."""
    return bool(_BRIDGE_WORD.fullmatch(word)) and word not in flowtext.SHORTHANDS \
        and word != "actions"


def split_words(words: Sequence[str], *, text_required: bool) -> tuple[str | None, str | None]:
    """(bridge, text) from ``[BRIDGE] [TEXT...]``."""
    words = list(words)
    bridge = None
    if words and looks_like_bridge(words[0]) and (len(words) > 1 or not text_required):
        bridge = words.pop(0)
    return bridge, " ".join(words) or None


# ------------------------------------------------------------------ targets


def _connect_address(target: str) -> tuple[int, Any]:
    """(address family, address) of ``tcp:IP[:PORT]`` or ``unix:PATH``."""
    kind, _, rest = target.partition(":")
    if kind == "unix" and rest:
        return socket.AF_UNIX, rest
    if kind == "tcp" and rest:
        if rest.startswith("["):  # tcp:[::1]:6653
            host, _, tail = rest[1:].partition("]")
            port_text = tail.removeprefix(":")
        else:
            host, _, port_text = rest.partition(":")
        try:
            port = int(port_text) if port_text else DEFAULT_PORT
        except ValueError:
            raise OfctlError(f"bad port in {target!r}") from None
        if not 0 < port < 65536:
            raise OfctlError(f"bad port in {target!r}")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, port)
    raise OfctlError(f"unsupported target {target!r} (tcp:IP[:PORT], unix:PATH, a socket "
                     f"path or a bridge name)")


def _of_target(text: str) -> str:
    """``--of`` as a connect target: a path (no colon) is unix:, a bare name a bridge."""
    if ":" in text:
        return text
    if "/" in text or Path(text).exists():
        return f"unix:{text}"
    try:
        return f"unix:{ctl.mgmt_path(text)}"
    except ValueError as exc:
        raise OfctlError(str(exc)) from None


def resolve_target(args: argparse.Namespace, bridge: str | None) -> tuple[str, str | None]:
    """(connect target, the bridge it is for) from --of, a BRIDGE word, --bridge and
    --socket (see the module docstring)."""
    of = getattr(args, "of", None)
    option = getattr(args, "bridge", None)
    if of:
        if bridge or option:
            raise OfctlError(f"--of {of} names the switch: no BRIDGE ({bridge or option}) "
                             f"goes with it")
        return _of_target(of), None
    if bridge and option and bridge != option:
        raise OfctlError(f"two bridges named: --bridge {option} and {bridge}")
    name = bridge or option
    path = getattr(args, "socket", None)
    directory = Path(path).parent if path else ctl.run_dir()
    if name:
        try:
            return f"unix:{ctl.mgmt_path(name, directory)}", name
        except ValueError as exc:
            raise OfctlError(str(exc)) from None
    if path:  # --socket names one agent: its bridge, when it has only one
        try:
            bridges = ctl.request(path, "list-br", timeout=5.0)["bridges"]
        except (ctl.ControlError, KeyError, TypeError):
            bridges = None  # no agent there: look for management sockets below
        if bridges is not None and len(bridges) == 1:
            return f"unix:{ctl.mgmt_path(bridges[0], directory)}", bridges[0]
        if bridges:
            raise OfctlError(f"several bridges in this agent ({', '.join(bridges)}): name one "
                             f"(BRIDGE or --bridge)")
    try:
        found = ctl.sockets_in(directory, ctl.MGMT_SUFFIX)
    except PermissionError:
        raise OfctlError(f"permission denied on {directory} (run as root or as the agent's "
                         f"user, or give --of TARGET)") from None
    if len(found) == 1:
        return f"unix:{found[0]}", found[0].name[: -len(ctl.MGMT_SUFFIX)]
    if found:
        names = ", ".join(p.name[: -len(ctl.MGMT_SUFFIX)] for p in found)
        raise OfctlError(f"several bridges run here ({names}): name one (BRIDGE or --bridge)")
    hint = "" if directory.is_dir() else f" ({directory} does not exist)"
    raise OfctlError(f"no bridge found: no OpenFlow management socket (*{ctl.MGMT_SUFFIX}) "
                     f"in {directory}{hint}; start 'switch-agent run', or give --of TARGET")


def _versions(args: argparse.Namespace) -> tuple[int, ...]:
    """The versions -O allows (both by default)."""
    text = getattr(args, "of_protocol", None)
    if not text:
        return (OFP10, OFP13)
    versions = []
    for name in text.split(","):
        version = VERSION_BY_NAME.get(name.strip())
        if version is None:
            raise OfctlError(f"unknown protocol {name.strip()!r} "
                             f"({', '.join(sorted(VERSION_BY_NAME))})")
        versions.append(version)
    return tuple(sorted(set(versions)))


# ------------------------------------------------------------------ the client


def describe_error(version: int, err: m.Error) -> str:
    """One line naming an OFPT_ERROR like ovs-ofctl does (type/code names and numbers)."""
    if err.experimenter is not None:
        return f"experimenter error 0x{err.experimenter:x} (exp_type {err.code})"
    text = (f"{code_name(version, err.type, err.code)} "
            f"({type_name(version, err.type)} type {err.type}, code {err.code})")
    if err.type == 0 and err.data:  # HELLO_FAILED carries text
        text += ": " + ctl.one_line(err.data.decode("ascii", "replace"))
    return text


class OfClient:
    """One OpenFlow connection to a switch, as a controller-side tool: blocking, every
    wait bounded by ``timeout`` seconds.

        with OfClient("unix:/run/switch-agent/br0.mgmt", (OFP13,)) as client:
            reply = client.request(m.FlowStatsRequest())
    """

    def __init__(self, target: str, versions: Sequence[int] = (OFP10, OFP13), *,
                 timeout: float = DEFAULT_TIMEOUT, bridge: str | None = None) -> None:
        self.target = target
        self.timeout = timeout
        self.where = f"bridge {bridge}" if bridge else "this switch"  # for messages
        self.flow_removed = 0  # FLOW_REMOVED messages seen (flows deleted with send_flow_rem)
        self.last_xid = 0  # of the last message sent (ovs-ofctl prints replies with it)
        self._ports: list[m.Port] | None = None
        family, address = _connect_address(target)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            self.sock.close()
            what = f"no bridge {bridge}: " if bridge else ""
            raise OfctlError(f"{what}no switch listening on {target} "
                             f"(is switch-agent running?)") from None
        except PermissionError:
            self.sock.close()
            raise OfctlError(f"permission denied on {target} (run as root or as the "
                             f"agent's user)") from None
        except OSError as exc:
            self.sock.close()
            raise OfctlError(f"cannot connect to {target}: {exc.strerror or exc}") from None
        self.channel = Channel(versions, role="controller", echo_interval=None)
        try:
            self._write(self.channel.initiate())
            event = self._event(time.monotonic() + timeout)
        except BaseException:
            self.sock.close()
            raise
        if not isinstance(event, Negotiated):
            self.sock.close()
            raise OfctlError(f"{target}: no OpenFlow HELLO ({event})")
        self.version = event.version

    def __enter__(self) -> OfClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- the wire

    def _write(self, data: bytes) -> None:
        if data:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                raise OfctlError(f"connection to {self.target} failed: "
                                 f"{exc.strerror or exc}") from None

    def _event(self, deadline: float) -> Negotiated | MessageReceived:
        """The next event that matters; OfctlError for a closed connection or timeout."""
        while True:
            event = self.channel.next_event()
            output = self.channel.data_to_send()  # echo replies, HELLO_FAILED
            if isinstance(event, Closed):
                with contextlib.suppress(OSError):  # the peer may be gone already
                    self.sock.sendall(output)
                raise OfctlError(f"{self.target}: {event.reason}")
            self._write(output)
            if isinstance(event, Negotiated | MessageReceived):
                return event
            if event is not None:  # ProtocolError: an async message we cannot decode
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OfctlError(f"no reply from {self.target} within {self.timeout:g} s")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as exc:
                raise OfctlError(f"connection to {self.target} failed: "
                                 f"{exc.strerror or exc}") from None
            self.channel.receive_data(data, time.monotonic())

    def _message(self, deadline: float) -> MessageReceived:
        event = self._event(deadline)
        assert isinstance(event, MessageReceived)
        if isinstance(event.msg, m.FlowRemoved):
            self.flow_removed += 1
        return event

    # -- requests

    def send(self, msg: m.Message) -> int:
        """Send ``msg`` with a fresh xid, not waiting for anything; the xid."""
        xid = self.last_xid = self.channel.next_xid()
        try:
            data = self.channel.send(replace(msg, xid=xid))
        except ValueError as exc:  # the model has no form in this version
            raise OfctlError(f"{exc} (OpenFlow {VERSION_NAMES[self.version]})") from None
        self._write(data)
        return xid

    def request(self, msg: m.Message) -> m.Message:
        """Send a request and return its (reassembled) reply; OfctlError for an error."""
        xid = self.send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            event = self._message(deadline)
            if event.xid != xid:
                continue
            if isinstance(event.msg, m.Error):
                raise OfctlError(describe_error(event.version, event.msg))
            return event.msg

    def barrier(self, pending: dict[int, str]) -> list[str]:
        """Send a barrier and wait for its reply: the errors the switch answered to
        ``pending`` (xid -> label) meanwhile, one line each."""
        xid = self.send(m.BarrierRequest())
        deadline = time.monotonic() + self.timeout
        errors: list[str] = []
        while True:
            event = self._message(deadline)
            if isinstance(event.msg, m.Error) and (event.xid == xid or event.xid in pending):
                label = pending.get(event.xid, "barrier")
                errors.append((f"{label}: " if label else "")
                              + describe_error(event.version, event.msg))
            if event.xid == xid:  # the barrier's reply (or error): all before it is done
                return errors

    def modify(self, msgs: Sequence[tuple[str, m.Message]]) -> None:
        """Send modifications (label, message), a barrier after each BATCH; OfctlError
        with every error line when the switch refused any."""
        errors: list[str] = []
        for start in range(0, len(msgs), BATCH):
            pending = {self.send(msg): label for label, msg in msgs[start : start + BATCH]}
            errors += self.barrier(pending)
        if errors:
            raise OfctlError("\n".join(errors))

    # -- ports

    def known_ports(self, ports: Sequence[m.Port]) -> None:
        """Take the ports from a reply already at hand (OF1.0's FEATURES_REPLY)."""
        self._ports = sorted(ports, key=lambda p: p.port_no)

    def ports(self) -> list[m.Port]:
        """The switch's ports (PORT_DESC, or FEATURES_REPLY in OpenFlow 1.0), by number."""
        if self._ports is None:
            if self.version == OFP10:
                features = self.request(m.FeaturesRequest())
                assert isinstance(features, m.FeaturesReply)
                self.known_ports(features.ports)
            else:
                reply = self.request(m.PortDescStatsRequest())
                assert isinstance(reply, m.PortDescStatsReply)
                self.known_ports(reply.entries)
        assert self._ports is not None
        return self._ports

    def port_number(self, word: str) -> int:
        """A port from a number, a reserved name (LOCAL...) or a port's name."""
        try:
            return fa.parse_port(word)
        except ValueError:
            pass
        for port in self.ports():
            if port.name == word:
                return port.port_no
        raise self.no_port(word)

    def no_port(self, word: str) -> OfctlError:
        names = ", ".join(p.name for p in self.ports())
        return OfctlError(f"no port {word!r} on {self.where} (ports: {names or 'none'})")

    def port_numbers(self, flow_text: str) -> str:
        """``flow_text`` with port names after in_port=, out_port=, output:, watch_port:
        and enqueue: replaced by their numbers (numbers and reserved names stay)."""
        def number(found: re.Match[str]) -> str:
            name = found.group("name")
            if name.upper() in PORT_BY_NAME or _NUMBER.fullmatch(name):
                return found.group(0)
            return found.group("key") + str(self.port_number(name))

        return _PORT_WORD.sub(number, flow_text)

    def port_name(self, number: int) -> str:
        for port in self.ports():
            if port.port_no == number:
                return port.name
        return fa.format_port(number)


