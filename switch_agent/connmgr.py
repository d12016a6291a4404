"""connmgr: the switch's OpenFlow connections -- listeners, controllers, dispatch.

Sits between the network (asyncio transports) and ofproto (switch_agent/ofproto.py).
Each connection is an ``OfConn``: an asyncio Protocol feeding a sans-IO
``openflow.channel.Channel`` (HELLO negotiation, framing, echo, probes) and dispatching
what it decodes to the switch; replies and asynchronous messages go back through the
same channel in the connection's negotiated version, so OF1.0 and OF1.3 controllers
share one switch.  ``ConnManager`` owns the passive listeners (``ptcp:PORT[:IP]``,
``pssl:PORT[:IP]``, ``punix:PATH``), the active controller connections
(``tcp:IP[:PORT]``, ``ssl:IP[:PORT]``, ``unix:PATH``) with their reconnect backoff
(1 s doubling to ``max_backoff``), roles, and the fail mode.  TLS is mutual, as in
OVS: our key and certificate, every peer verified against the CA certificate
(``TlsConfig``); a plaintext or wrongly signed peer never gets past the handshake.
It never blocks: output that a peer does not read is bounded (packet-ins are
dropped, counted, beyond ``packet_in_buffer``; the connection is closed beyond
``max_output``).  Packet-ins are rate-limited per connection when ``rate_limit`` is
set (packets/s, OVS's controller_rate_limit; burst ``burst_limit``, default a quarter
of the rate), with separate token buckets for table misses and other reasons so a
flood of misses cannot starve action packet-ins; what the limit drops is counted
(``packet_ins_limited``).  Unlike OVS's pinsched there is no queue behind the bucket.

Per connection (OVS's ofconn): negotiated version, role (EQUAL/MASTER/SLAVE with
generation ids; a new MASTER makes the old one SLAVE; a slave cannot change state:
OFPBRC_IS_SLAVE), asynchronous masks (defaults per the OF1.3 spec: masters/equals get
packet-in NO_MATCH|ACTION, port status all, flow removed all; slaves port status
only; SET_ASYNC/GET_ASYNC), ``miss_send_len`` (SET_CONFIG).  Packet-ins: a table miss
without a table-miss flow goes only to OF1.0 connections (OF1.3's miss is a drop);
INVALID_TTL only to connections that asked (SET_CONFIG flag).  BARRIER: every request
is handled to completion (revalidation included) before the next one is read, so a
BARRIER_REPLY is simply answered in order.

Fail mode, for a switch with controllers configured: ``secure`` keeps installed flows
and drops misses while no controller is connected; ``standalone`` makes the switch a
NORMAL learning switch (ofproto's ``fail_open``, which overrides the flow tables) once
no controller has been connected for ``probe_interval`` seconds, and hands back when one
connects.  Only active controller connections count (passive tool connections such as
ovs-ofctl do not), as in OVS.  A switch without controllers is not in any fail mode: like
an OVS bridge without a controller it starts with the flow ``priority=0,actions=NORMAL``
(installed by the CLI), which tools can see, replace or delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from openflow import messages as m
from openflow.channel import Channel, Closed, MessageReceived, Negotiated, ProtocolError
from openflow.consts import (
    OFP_NO_BUFFER,
    OFPC_FRAG_DROP,
    OFPC_FRAG_MASK,
    OFPC_FRAG_REASM,
    OFPC_INVALID_TTL_TO_CONTROLLER,
    OFPCR_ROLE_EQUAL,
    OFPCR_ROLE_MASTER,
    OFPCR_ROLE_NOCHANGE,
    OFPCR_ROLE_SLAVE,
    OFPP_ANY,
    OFPPR_ADD,
    OFPPR_DELETE,
    OFPPR_MODIFY,
    OFPR_INVALID_TTL,
    OFPR_NO_MATCH,
    OFPTT_ALL,
)
from openflow.errors import CodecError, Err
from openflow.match import Match
from switch_agent import flowkey as fk
from switch_agent import stats
from switch_agent.ofproto import FlowRemovedEvent, PacketInEvent, PortChangeEvent, Switch

log = logging.getLogger(__name__)

OFP10, OFP13 = 0x01, 0x04
DEFAULT_CONTROLLER_PORT = 6653
# OF1.3 7.3.10 defaults: (master/equal, slave) bitmaps of reasons.
DEFAULT_PACKET_IN_MASK = ((1 << 0) | (1 << 1), 0)  # NO_MATCH | ACTION
DEFAULT_PORT_STATUS_MASK = (0b111, 0b111)
DEFAULT_FLOW_REMOVED_MASK = (0b1111, 0)
_STATE_CHANGING = (m.FlowMod, m.GroupMod, m.MeterMod, m.PortMod, m.PacketOut, m.TableMod)


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Files for ssl:/pssl: (PEM): our key and certificate, and the CA that signs peers."""

    private_key: str
    certificate: str
    ca_cert: str


class OfConn(asyncio.Protocol):
    """One OpenFlow connection (either direction)."""

    def __init__(self, mgr: ConnManager, target: str, *, active: bool) -> None:
        self.mgr = mgr
        self.target = target
        self.active = active
        self.channel = Channel(mgr.versions, role="switch", echo_interval=mgr.probe_interval,
                               now=mgr.clock())
        self.transport: asyncio.Transport | None = None
        self.version: int | None = None
        self.role = OFPCR_ROLE_EQUAL
        self.miss_send_len = 128
        self.invalid_ttl = False
        self.packet_in_mask = DEFAULT_PACKET_IN_MASK
        self.port_status_mask = DEFAULT_PORT_STATUS_MASK
        self.flow_removed_mask = DEFAULT_FLOW_REMOVED_MASK
        self.packet_ins_sent = 0
        self.packet_ins_dropped = 0  # output buffer full
        self.packet_ins_limited = 0  # over the rate limit
        # token buckets (tokens, last refill) for table misses and for everything else
        self._buckets = {True: [mgr.burst_limit, mgr.clock()], False: [mgr.burst_limit, mgr.clock()]}
        self.closed = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<OfConn {self.target} version={self.version} role={self.role}>"

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._write(self.channel.initiate())
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        self.channel.receive_data(data, self.mgr.clock())
        self._process()

    def eof_received(self) -> bool:
        self.channel.receive_data(b"", self.mgr.clock())
        self._process()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.mgr._lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    # -- channel

    def _write(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            if self.transport.get_write_buffer_size() > self.mgr.max_output:
                log.warning("%s: peer is not reading (%d bytes queued): closing", self.target,
                            self.transport.get_write_buffer_size())
                self.transport.abort()

    def _arm_timer(self) -> None:
        deadline = self.channel.next_deadline()
        if deadline is None or self.transport is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self.mgr.clock())
        self._timer = loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._write(self.channel.tick(self.mgr.clock()))
        self._process()

    def _process(self) -> None:
        channel = self.channel
        while (event := channel.next_event()) is not None:
            if isinstance(event, MessageReceived):
                self._dispatch(event)
            elif isinstance(event, Negotiated):
                self.version = event.version
                log.info("%s: connected, OpenFlow version 0x%02x", self.target, event.version)
                self.mgr._connected(self)
            elif isinstance(event, ProtocolError):
                log.info("%s: rejected a message: %s %s", self.target, event.err.name, event.detail)
            elif isinstance(event, Closed):
                self._write(channel.data_to_send())
                log.info("%s: connection closed: %s", self.target, event.reason)
                if self.transport is not None:
                    self.transport.close()
                return
        self._write(channel.data_to_send())
        if self._timer is not None:
            self._timer.cancel()
        self._arm_timer()

    def send(self, msg: m.Message) -> None:
        if self.version is None or self.channel.closed or self.transport is None:
            return
        # What the channel queued itself (an error for an undecodable request) goes out
        # first: replies must keep the order of the requests (an error, then the
        # BARRIER_REPLY that follows it).
        self._write(self.channel.data_to_send())
        try:
            self._write(self.channel.send(msg))
        except ValueError as exc:  # the version cannot express it (e.g. OF1.3-only)
            log.debug("%s: cannot send %s: %s", self.target, type(msg).__name__, exc)

    def send_error(self, exc: CodecError, xid: int, raw: bytes) -> None:
        assert self.version is not None
        err_type, code = exc.type_code(self.version)
        self.send(m.Error(err_type, code, raw[:64], xid=xid))

    # -- requests

    def _dispatch(self, event: MessageReceived) -> None:
        msg, xid = event.msg, event.xid
        try:
            reply = self._handle(msg)
        except CodecError as exc:
            self.send_error(exc, xid, event.raw)
            return
        except Exception:  # a bug must cost this request, not the switch
            log.exception("%s: handling %s failed", self.target, type(msg).__name__)
            self.send_error(CodecError(Err.OFPBRC_EPERM, "internal error"), xid, event.raw)
            return
        if reply is not None:
            self.send(replace(reply, xid=xid))

    def _handle(self, msg: m.Message) -> m.Message | None:
        sw, version = self.mgr.switch, self.version
        assert version is not None
        if isinstance(msg, _STATE_CHANGING) and self.role == OFPCR_ROLE_SLAVE:
            raise CodecError(Err.OFPBRC_IS_SLAVE, "a slave controller cannot change state")
        if isinstance(msg, m.FlowMod):
            sw.flow_mod(msg, version)
            return None
        if isinstance(msg, m.GroupMod):
            if version == OFP10:
                raise CodecError(Err.OFPBRC_BAD_TYPE, "no groups in OpenFlow 1.0")
            sw.group_mod(msg, version)
            return None
        if isinstance(msg, m.MeterMod):
            if version == OFP10:
                raise CodecError(Err.OFPBRC_BAD_TYPE, "no meters in OpenFlow 1.0")
            sw.meter_mod(msg, version)
            return None
        if isinstance(msg, m.PacketOut):
            sw.packet_out(msg)
            return None
        if isinstance(msg, m.BarrierRequest):
            return m.BarrierReply()
        if isinstance(msg, m.FeaturesRequest):
            return stats.features_reply(sw, version, self.mgr.datapath_id)
        if isinstance(msg, m.GetConfigRequest):
            return m.GetConfigReply(self.mgr.frag_flags
                                    | (OFPC_INVALID_TTL_TO_CONTROLLER if self.invalid_ttl else 0),
                                    self.miss_send_len)
        if isinstance(msg, m.SetConfig):
            if msg.flags & OFPC_FRAG_MASK == OFPC_FRAG_REASM:
                raise CodecError(Err.OFPSCFC_BAD_FLAGS, "IP reassembly is not supported")
            self.miss_send_len = msg.miss_send_len
            self.mgr.frag_flags = msg.flags & OFPC_FRAG_MASK
            if sw.frag_drop != (self.mgr.frag_flags == OFPC_FRAG_DROP):
                sw.frag_drop = self.mgr.frag_flags == OFPC_FRAG_DROP
                sw.revalidate()
            self.invalid_ttl = bool(msg.flags & OFPC_INVALID_TTL_TO_CONTROLLER)
            self.mgr._update_switch()
            return None
        if isinstance(msg, m.PortMod):
            port = sw.ports.get(msg.port_no)
            if port is None:
                raise CodecError(Err.OFPPMFC_BAD_PORT, f"no port {msg.port_no}")
            hw_addr = int.from_bytes(sw.dp.port_get(port.dp_port).hw_addr, "big")
            if msg.hw_addr != hw_addr:
                raise CodecError(Err.OFPPMFC_BAD_HW_ADDR, "hw_addr does not match the port")
            before = port.config
            sw.port_mod_config(msg.port_no, msg.config, msg.mask)
            if port.config != before:
                self.mgr.port_status(OFPPR_MODIFY, msg.port_no)
            return None
        if isinstance(msg, m.TableMod):
            if msg.table_id != OFPTT_ALL and msg.table_id >= len(sw.tables.tables):
                raise CodecError(Err.OFPTMFC_BAD_TABLE, f"no table {msg.table_id}")
            return None
        if isinstance(msg, m.RoleRequest):
            return self._role(msg)
        if isinstance(msg, m.GetAsyncRequest):
            return m.GetAsyncReply(self.packet_in_mask, self.port_status_mask,
                                   self.flow_removed_mask)
        if isinstance(msg, m.SetAsync):
            self.packet_in_mask = msg.packet_in_mask
            self.port_status_mask = msg.port_status_mask
            self.flow_removed_mask = msg.flow_removed_mask
            return None
        if isinstance(msg, m.QueueGetConfigRequest):
            if msg.port not in sw.ports and msg.port != OFPP_ANY:
                raise CodecError(Err.OFPQOFC_BAD_PORT, f"no port {msg.port}")
            return m.QueueGetConfigReply(msg.port, ())
        if isinstance(msg, m.EchoReply | m.Error):
            return None
        if isinstance(msg, m.Experimenter):
            raise CodecError(Err.OFPBRC_BAD_EXPERIMENTER, "no experimenter messages")
        handler = self.mgr.extra_handlers.get(type(msg))
        if handler is not None:
            return handler(self, msg)
        return self._multipart(msg)

    def _multipart(self, msg: m.Message) -> m.Message | None:
        sw, version = self.mgr.switch, self.version
        assert version is not None
        if isinstance(msg, m.DescStatsRequest):
            return stats.desc(sw)
        if isinstance(msg, m.FlowStatsRequest):
            return stats.flow_stats(sw, msg, version)
        if isinstance(msg, m.AggregateStatsRequest):
            return stats.aggregate_stats(sw, msg, version)
        if isinstance(msg, m.TableStatsRequest):
            return stats.table_stats(sw, version)
        if isinstance(msg, m.PortStatsRequest):
            return stats.port_stats(sw, msg.port_no, version)
        if isinstance(msg, m.PortDescStatsRequest):
            return stats.port_desc(sw, version)
        if isinstance(msg, m.QueueStatsRequest):
            return stats.queue_stats(sw, msg)
        if isinstance(msg, m.TableFeaturesStatsRequest):
            return stats.table_features(sw, msg)
        if isinstance(msg, m.GroupStatsRequest):
            sw.pull_stats()
            return m.GroupStatsReply(entries=tuple(sw.group_table.group_stats(msg.group_id)))
        if isinstance(msg, m.GroupDescStatsRequest):
            return m.GroupDescStatsReply(entries=tuple(sw.group_table.group_desc()))
        if isinstance(msg, m.GroupFeaturesStatsRequest):
            return sw.group_table.group_features()
        if isinstance(msg, m.MeterStatsRequest):
            return m.MeterStatsReply(entries=tuple(sw.meter_table.meter_stats(msg.meter_id)))
        if isinstance(msg, m.MeterConfigStatsRequest):
            return m.MeterConfigStatsReply(entries=tuple(sw.meter_table.meter_config(msg.meter_id)))
        if isinstance(msg, m.MeterFeaturesStatsRequest):
            return sw.meter_table.meter_features()
        raise CodecError(Err.OFPBRC_BAD_TYPE, f"{type(msg).__name__} is not a request")

    def _role(self, msg: m.RoleRequest) -> m.RoleReply:
        mgr = self.mgr
        if msg.role not in (OFPCR_ROLE_NOCHANGE, OFPCR_ROLE_EQUAL, OFPCR_ROLE_MASTER,
                            OFPCR_ROLE_SLAVE):
            raise CodecError(Err.OFPRRFC_BAD_ROLE, f"role {msg.role}")
        if msg.role in (OFPCR_ROLE_MASTER, OFPCR_ROLE_SLAVE):
            generation = msg.generation_id
            if mgr.generation_id is not None and (generation - mgr.generation_id) % (1 << 64) \
                    >= 1 << 63:
                raise CodecError(Err.OFPRRFC_STALE, f"generation_id {generation} is stale")
            mgr.generation_id = generation
        if msg.role == OFPCR_ROLE_MASTER:
            for other in mgr.conns:
                if other is not self and other.role == OFPCR_ROLE_MASTER:
                    other.role = OFPCR_ROLE_SLAVE
            self.role = OFPCR_ROLE_MASTER
        elif msg.role != OFPCR_ROLE_NOCHANGE:
            self.role = msg.role
        mgr._update_switch()
        return m.RoleReply(self.role, mgr.generation_id or 0)

    # -- asynchronous messages

    def _mask(self, masks: tuple[int, int], reason: int) -> bool:
        bits = masks[1] if self.role == OFPCR_ROLE_SLAVE else masks[0]
        return bool(bits >> reason & 1)

    def packet_in(self, event: PacketInEvent) -> None:
        version = self.version
        request = event.request
        if version is None:
            return
        if request.miss and version != OFP10:
            return  # OF1.3: a table miss without a table-miss flow is a drop
        if request.reason == OFPR_INVALID_TTL and not self.invalid_ttl:
            return
        if version == OFP10:
            if self.role == OFPCR_ROLE_SLAVE:
                return
        elif not self._mask(self.packet_in_mask, request.reason):
            return
        transport = self.transport
        if transport is None or transport.get_write_buffer_size() > self.mgr.packet_in_buffer:
            self.packet_ins_dropped += 1
            return
        if self.mgr.rate_limit and not self._admit(request.reason == OFPR_NO_MATCH):
            self.packet_ins_limited += 1
            return
        # This switch keeps no buffers, so a packet-in carries the whole packet (OF1.3
        # A.4.1: "if the packet is not buffered, the entire packet is included");
        # miss_send_len would only cut buffered ones, as in OVS.  A CONTROLLER action's
        # max_len already cut the packet in the datapath.
        data = event.data
        if version == OFP10:
            match = Match.build(in_port=event.in_port)
        else:
            match = Match.from_fields(fk.key_to_match_fields(
                event.key | request.metadata << fk.METADATA_OFFSET, pipeline=True))
        self.packet_ins_sent += 1
        self.send(m.PacketIn(OFP_NO_BUFFER, event.total_len, request.reason, request.table_id,
                             request.cookie, match, bytes(data)))

    def _admit(self, miss: bool) -> bool:
        """Token bucket per kind (misses / other reasons), as OVS's pinsched."""
        bucket = self._buckets[miss]
        now = self.mgr.clock()
        rate, burst = self.mgr.rate_limit, max(self.mgr.burst_limit, 1.0)
        bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False

    def flow_removed(self, event: FlowRemovedEvent) -> None:
        if self.version is None:
            return
        if self.version != OFP10 and not self._mask(self.flow_removed_mask, event.reason):
            return
        if self.version == OFP10 and self.role == OFPCR_ROLE_SLAVE:
            return
        rule = event.rule
        age = max(0.0, event.now - rule.created)
        self.send(m.FlowRemoved(rule.cookie, rule.priority, event.reason, rule.table_id,
                                int(age), int(age % 1 * 1e9), rule.idle_timeout,
                                rule.hard_timeout, rule.packet_count, rule.byte_count,
                                rule.match))

    def port_status(self, reason: int, ofp_port: int, name: str) -> None:
        if self.version is None:
            return
        if self.version != OFP10 and not self._mask(self.port_status_mask, reason):
            return
        if reason == OFPPR_DELETE or ofp_port not in self.mgr.switch.ports:
            port = m.Port(ofp_port, name=name)
        else:
            port = stats.ofp_port(self.mgr.switch, ofp_port, self.version)
        self.send(m.PortStatus(reason, port))


class ConnManager:
    """All OpenFlow connections of one switch; see the module docstring."""

    def __init__(self, switch: Switch, *, datapath_id: int = 1,
                 versions: tuple[int, ...] = (OFP10, OFP13), fail_mode: str | None = None,
                 probe_interval: float = 5.0, max_backoff: float = 8.0,
                 max_output: int = 16 << 20, packet_in_buffer: int = 1 << 20,
                 rate_limit: float = 0.0, burst_limit: float = 0.0,
                 tls: TlsConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.switch = switch
        self.datapath_id = datapath_id
        self.versions = versions
        self.fail_mode = fail_mode
        self.probe_interval = probe_interval
        self.max_backoff = max_backoff
        self.max_output = max_output
        self.packet_in_buffer = packet_in_buffer
        self.rate_limit = rate_limit  # packet-ins/s per connection and reason kind; 0: none
        self.burst_limit = burst_limit or rate_limit / 4  # OVS pinsched's default burst
        self.tls = tls
        self.clock = clock
        self.conns: list[OfConn] = []
        self.frag_flags = 0
        self.generation_id: int | None = None
        self.extra_handlers: dict[type, Callable[[OfConn, m.Message], m.Message | None]] = {}
        self.controllers: list[str] = []
        self.listeners: list[str] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._server_of: dict[str, asyncio.AbstractServer] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._task_of: dict[str, asyncio.Task[None]] = {}
        self._no_controller_since = clock()
        switch.packet_in_listeners.append(self._packet_in)
        switch.flow_removed_listeners.append(self._flow_removed)
        switch.port_listeners.append(self._port_change)

    # -- listeners and controllers

    async def listen(self, target: str) -> asyncio.AbstractServer:
        """Start a passive listener: ``ptcp:[PORT][:IP]``, ``pssl:[PORT][:IP]`` (mutual
        TLS with ``tls``) or ``punix:PATH``."""
        loop = asyncio.get_running_loop()
        kind, _, rest = target.partition(":")
        if kind in ("ptcp", "pssl"):
            port_text, _, host = rest.partition(":")
            port = int(port_text) if port_text else DEFAULT_CONTROLLER_PORT
            context = self._tls_context(server_side=True) if kind == "pssl" else None
            server = await loop.create_server(
                lambda: OfConn(self, f"{target}", active=False), host or None, port,
                ssl=context)
        elif kind == "punix":
            server = await loop.create_unix_server(
                lambda: OfConn(self, target, active=False), rest)
        else:
            raise ValueError(f"unsupported listener {target!r} (ptcp:, pssl:, punix:)")
        self._servers.append(server)
        self._server_of[target] = server
        self.listeners.append(target)
        return server

    async def del_listener(self, target: str) -> None:
        """Stop listening on ``target`` and close the connections it accepted."""
        server = self._server_of.pop(target, None)
        if server is None:
            raise ValueError(f"no listener {target!r}")
        self.listeners.remove(target)
        self._servers.remove(server)
        server.close()
        for conn in [c for c in self.conns if not c.active and c.target == target]:
            if conn.transport is not None:
                conn.transport.close()
        await server.wait_closed()

    def add_controller(self, target: str) -> None:
        """Connect to ``tcp:IP[:PORT]``, ``ssl:IP[:PORT]`` (mutual TLS with ``tls``) or
        ``unix:PATH``, reconnecting with backoff."""
        kind = target.partition(":")[0]
        if kind not in ("tcp", "ssl", "unix"):
            raise ValueError(f"unsupported controller {target!r} (tcp:, ssl:, unix:)")
        if kind == "ssl":
            self._tls_context(server_side=False)  # fail now, not in the retry loop
        if target in self.controllers:
            raise ValueError(f"controller {target!r} is configured already")
        self.controllers.append(target)
        task = asyncio.get_running_loop().create_task(self._rconn(target))
        self._tasks.append(task)
        self._task_of[target] = task
        self._update_switch()

    async def del_controller(self, target: str) -> None:
        """Stop connecting to ``target`` and close its connection."""
        task = self._task_of.pop(target, None)
        if task is None:
            raise ValueError(f"no controller {target!r}")
        self.controllers.remove(target)
        self._tasks.remove(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for conn in [c for c in self.conns if c.active and c.target == target]:
            if conn.transport is not None:
                conn.transport.close()
        self._update_switch()

    async def _rconn(self, target: str) -> None:
        loop = asyncio.get_running_loop()
        kind, _, rest = target.partition(":")
        backoff = 1.0
        while True:
            try:
                if kind in ("tcp", "ssl"):
                    host, _, port_text = rest.partition(":")
                    port = int(port_text) if port_text else DEFAULT_CONTROLLER_PORT
                    context = self._tls_context(server_side=False) if kind == "ssl" else None
                    connect = loop.create_connection(
                        lambda: OfConn(self, target, active=True), host, port, ssl=context)
                else:
                    connect = loop.create_unix_connection(
                        lambda: OfConn(self, target, active=True), rest)
                _, conn = await asyncio.wait_for(connect, timeout=max(backoff, 1.0))
            except (TimeoutError, OSError) as exc:
                log.info("%s: connection failed (%s); retrying in %g s", target, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            await conn.closed
            if conn.version is not None:
                backoff = 1.0  # it worked for a while: start over
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _tls_context(self, *, server_side: bool) -> ssl.SSLContext:
        """Mutual TLS as OVS does it: our key and certificate, peers verified against the
        CA certificate (no host name check: controllers are addressed by IP)."""
        tls = self.tls
        if tls is None:
            raise ValueError("ssl:/pssl: need a private key, a certificate and a CA certificate")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side
                                 else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls.certificate, tls.private_key)
        context.load_verify_locations(tls.ca_cert)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers:
            server.close()
            await server.wait_closed()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        self._tasks.clear()
        self._task_of.clear()
        self._servers.clear()
        self._server_of.clear()
        self.listeners.clear()

    # -- connection bookkeeping

    def _connected(self, conn: OfConn) -> None:
        self.conns.append(conn)
        self._update_switch()

    def _lost(self, conn: OfConn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)
            self._update_switch()

    def _update_switch(self) -> None:
        """Tell ofproto what the connections want (table-miss and TTL packet-ins, fail
        mode) and revalidate when that changed."""
        sw = self.switch
        live = [c for c in self.conns if c.role != OFPCR_ROLE_SLAVE]
        miss = any(c.version == OFP10 for c in live)
        ttl = any(c.invalid_ttl for c in live)
        has_controller = any(c.active for c in self.conns)
        if has_controller:
            self._no_controller_since = self.clock()
        # Fail-open needs configured controllers that are all unreachable; a switch with
        # no controller at all is a plain switch (cli installs OVS's NORMAL flow).
        fail_open = bool(self.controllers) and self.fail_mode_now() == "standalone" and \
            not has_controller and self.clock() - self._no_controller_since >= self.probe_interval
        changed = (miss, ttl, fail_open) != (sw.miss_to_controller, sw.invalid_ttl_to_controller,
                                              sw.fail_open)
        sw.miss_to_controller, sw.invalid_ttl_to_controller, sw.fail_open = miss, ttl, fail_open
        if changed:
            sw.revalidate()

    def fail_mode_now(self) -> str:
        if self.fail_mode is not None:
            return self.fail_mode
        return "secure" if self.controllers else "standalone"

    def run_periodic(self) -> None:
        """Re-check the fail mode (standalone falls back after probe_interval)."""
        self._update_switch()

    # -- asynchronous messages

    def _packet_in(self, event: PacketInEvent) -> None:
        for conn in list(self.conns):
            conn.packet_in(event)

    def _flow_removed(self, event: FlowRemovedEvent) -> None:
        for conn in list(self.conns):
            conn.flow_removed(event)

    def _port_change(self, event: PortChangeEvent) -> None:
        reason = {"add": OFPPR_ADD, "delete": OFPPR_DELETE}.get(event.kind, OFPPR_MODIFY)
        self.port_status(reason, event.ofp_port, event.name)

    def port_status(self, reason: int, ofp_port: int, name: str = "") -> None:
        for conn in list(self.conns):
            conn.port_status(reason, ofp_port, name)


__all__ = ["ConnManager", "OfConn", "TlsConfig"]
