"""The dpif: the datapath as the slow path sees it, and ``Datapath``, which implements it.

Top of datapath/ (the seeds' ``struct datapath`` with its vports, flow table and upcall
queue): it composes the netdevs (datapath/netdev*.py), flow key extraction
(datapath/flow.py), the EMC + megaflow cache (datapath/cache.py), compiled actions
(datapath/odp_actions.py) and meters (datapath/meter.py) into a packet path driven by an
asyncio loop, and hands everything it cannot decide to the slow path as upcalls.  It
owns port numbering, per-flow and per-datapath counters, the upcall queue and
link-state reporting.  Knows nothing of OpenFlow (switch_agent/ sits on top).

The contract (``Dpif`` and the values it passes) is in datapath/dpif_api.py.

Packet walk (``_input``): a readable port (``loop.add_reader``; in-memory ports wake the
loop through ``DummyNetdev.on_rx``) is drained one batch (``batch`` frames) per
wake-up; for each frame a VLAN tag the kernel stripped is put back first (the frame
the actions see is the frame as it was on the wire, so the key is taken from the
frame alone).  Then one of two lookups:
  * projected -- while every mask in the megaflow cache covers only in_port, the
    Ethernet addresses/type and VLAN fields (in_port forwarding, MAC learning), each
    mask's flows are also indexed by a few header bytes (``flow.projector``), and a
    packet is looked up by those bytes without parsing it; frames the projection
    cannot decide (tagged, 802.3, runts) or that match nothing take the keyed path;
  * keyed -- the full key is extracted and looked up in the EMC then the megaflows.
A hit bumps the megaflow's statistics (TCP flags only on the keyed path) and runs its
compiled actions -- or, for a lone output to a plain port, appends the frame to that
port's queue directly; a miss is copied into the upcall queue.  When the cache holds
a single mask on in_port alone (port-to-port forwarding), one lookup serves the whole
batch.  Measured on the 2-vCPU VM (in-memory ports, 64-byte frames, the Python work
only): ~0.07 us per packet for that case, ~0.3 us projected, ~2 us keyed; on veth
the kernel's AF_PACKET send (~2.1 us per packet) and the receive (~0.35 us from the ring) dominate.  Outputs are queued per port and sent with one ``send_batch`` per
port at the end of the batch (frames may be views into the receive ring, valid until
the next receive on that port, which is after the flush).  Upcalls are handed to the
handler from a separate loop callback, at most ``upcall_batch`` per call, so the slow
path never runs inside the packet loop and a busy slow path still lets ports drain.
The queue holds at most ``upcall_queue_len`` upcalls, and one port at most
``upcall_port_limit`` of them (an eighth by default), so a port flooding the slow path
cannot starve the first packets of other ports' new flows; beyond that (or with no
handler) they are counted as ``lost``, as the kernel's netlink queue overflow is.

Busy-poll window (``busy_poll``, 200 us by default, at most ``busy_poll_limit`` = 2 ms per
wake-up; 0 turns it off): after a wake-up that brought frames, the reader callback keeps
draining that port and the ports it just sent to, without going back to the selector,
until no frame came for ``busy_poll`` seconds or an upcall waits.  A local stack's answer
(an echo reply, a TCP ACK) is queued on the output port before the send returns, so it is
forwarded in the same wake-up, while the process is warm.  Waking up is what costs on the
2-vCPU VM: after ~10 ms asleep, the bare recvmmsg + sendmsg of one frame costs ~55-100 us
from Python against ~20-30 us from C, ~10x their warm cost.  In-memory ports never take
part (no file descriptor), and an idle datapath uses no CPU.

Patch ports (``netdev.PatchNetdev``) deliver synchronously into the peer's datapath
(the peer's ``deliver`` is set here), bounded by ``netdev.MAX_PATCH_DEPTH``.  Tunnel
ports (``type == "vxlan"``) are recognised by their ``recv_tunnel_batch`` /
``send_tunnel_batch`` methods: received frames carry (tun_id, tun_ipv4_src,
tun_ipv4_dst) into the key; an output to a tunnel port takes the tunnel fields a
``SetTunnel`` before it set (as OVS's egress tunnel info: the received tunnel is not
reused, so an output without ``SetTunnel`` to a port with remote_ip=flow is dropped).

Link state and vanished devices are polled every ``port_check_interval`` seconds
(and on ``check_ports()``); the megaflow masks are re-ranked at the same pace, and a
port with an ``rx_audit`` (a receive ring) is asked whether frames wait that its
socket does not report.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from datapath import flow as _flow
from datapath.cache import TCP_FLAGS_MASK, FlowCache, Megaflow
from datapath.dpif_api import (  # the contract, re-exported: callers import it from here
    DpFlow,
    Dpif,
    DpStats,
    FlowStats,
    PortEvent,
    PortEventKind,
    PortHandler,
    PortInfo,
    TunnelMeta,
    Upcall,
    UpcallHandler,
    UpcallKind,
)
from datapath.meter import MeterBand, MeterStats, MeterTable
from datapath.netdev import (
    Netdev,
    OffloadFrame,
    RxFrame,
    finish_frame,
    finish_frames,
    insert_vlan,
)
from datapath.odp_actions import (
    Action,
    Executor,
    Frame,
    Output,
    PacketCtx,
    Userspace,
    compile_actions,
)

log = logging.getLogger(__name__)

MAX_PORT_NO = 0xFEFF
_NOT_IN_PORT = ~_flow.FIELD_MASK["in_port"]
_first, _second = itemgetter(0), itemgetter(1)  # like OpenFlow's OFPP_MAX: numbers above are reserved names


# ------------------------------------------------------------------ the datapath


class _Port:
    __slots__ = ("port_no", "key_bytes", "netdev", "type", "fd", "tunnel", "offload_in",
                 "offload_out", "txq", "link_up", "vanished", "wake_pending")

    def __init__(self, port_no: int, netdev: Any) -> None:
        self.port_no = port_no
        self.key_bytes = port_no.to_bytes(4, "big")  # in_port as a header projection has it
        self.netdev = netdev
        self.type: str = getattr(netdev, "type", type(netdev).__name__)
        self.fd: int | None = None
        self.tunnel = hasattr(netdev, "recv_tunnel_batch") and hasattr(netdev, "send_tunnel_batch")
        self.offload_in = False  # the netdev delivers OffloadFrames (set by port_add)
        self.offload_out = hasattr(netdev, "send_batch_offload")
        self.txq: list[Any] = []  # frames, or (frame, tun_id, src, dst) for a tunnel port
        self.link_up = bool(netdev.link_up)
        self.vanished = False
        self.wake_pending = False


class _Env:
    """The ActionEnv compiled actions of one datapath call."""

    __slots__ = ("_dp",)

    def __init__(self, dp: Datapath) -> None:
        self._dp = dp

    def output(self, port: int, frame: Frame, ctx: PacketCtx) -> None:
        target = self._dp._ports.get(port)
        if target is None:
            return  # like OVS: an output to a port that is gone does nothing
        if target.tunnel:
            target.txq.append((frame, ctx.tun_id, ctx.tun_ipv4_src, ctx.tun_ipv4_dst))
        else:
            target.txq.append(frame)

    def upcall(self, frame: Frame, userdata: bytes, total_len: int, ctx: PacketCtx) -> None:
        self._dp._queue_upcall(Upcall(UpcallKind.ACTION, ctx.in_port, ctx.key, bytes(frame),
                                      userdata, total_len))

    def meter(self, meter_id: int, size: int, now: float) -> int:
        return self._dp.meters.check(meter_id, size, now)


class Datapath:
    """A userspace datapath on one asyncio loop; see the module docstring."""

    def __init__(
        self,
        name: str = "dp0",
        *,
        flow_limit: int = 200_000,
        emc_size: int = 8192,
        emc_insert_inv_prob: int = 100,
        batch: int = 256,
        upcall_queue_len: int = 4096,
        upcall_port_limit: int | None = None,
        upcall_batch: int = 64,
        port_check_interval: float = 0.25,
        offload: bool = True,
        busy_poll: float = 0.0002,
        busy_poll_limit: float = 0.002,
        warm_poll: float = 0.002,
        warm_for: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch < 1 or upcall_queue_len < 1 or upcall_batch < 1:
            raise ValueError("batch, upcall_queue_len and upcall_batch must be at least 1")
        self.name = name
        self.batch = batch
        self.upcall_queue_len = upcall_queue_len
        # One port may hold at most this many queued upcalls, so a port flooding misses
        # or controller-bound packets cannot keep every other port's first packets out
        # of the slow path (OVS shares its upcall handlers between ports likewise).
        self.upcall_port_limit = (upcall_port_limit if upcall_port_limit is not None
                                  else max(16, upcall_queue_len // 8))
        self._queued_by_port: dict[int, int] = {}
        self.upcall_batch = upcall_batch
        self.port_check_interval = port_check_interval
        self.offload = offload
        # Busy-poll window (see _poll_window): keep receiving without the selector for
        # up to ``busy_poll`` seconds after the last frame, at most ``busy_poll_limit``
        # seconds per wake-up; 0 turns it off.
        self.busy_poll = busy_poll
        self.busy_poll_limit = busy_poll_limit
        # Warm poll (see _warm): while frames came in the last ``warm_for`` seconds, look
        # at the ports every ``warm_poll`` seconds; 0 turns it off.
        self.warm_poll = warm_poll
        self.warm_for = warm_for
        self._warm_timer: asyncio.TimerHandle | None = None
        self._last_rx = 0.0
        self._sent_ports: set[_Port] = set()  # ports _flush sent to since the last wake-up
        self._offload_pending = False  # OffloadFrames may be queued for output
        self.clock = clock
        self.cache = FlowCache(flow_limit, emc_size, emc_insert_inv_prob, _flow.projector)
        self.meters = MeterTable()
        self._ports: dict[int, _Port] = {}
        self._env = _Env(self)
        self._upcalls: list[Upcall] = []
        self._upcall_handler: UpcallHandler | None = None
        self._port_handler: PortHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.hit = 0
        self.missed = 0
        self.lost = 0
        self.malformed = 0
        self.errors = 0  # batches that raised (a bug, logged; the datapath keeps going)
        self.polled = 0  # frames the busy-poll window received (no wake-up of their own)

    def __repr__(self) -> str:
        return f"<Datapath {self.name} ports={len(self._ports)} flows={self.cache.megaflows.flows}>"

    # -- the loop

    def attach(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start receiving on ``loop`` (the running one by default)."""
        if self._loop is not None:
            raise RuntimeError(f"datapath {self.name} is already attached to a loop")
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        for port in self._ports.values():
            self._watch(port)
        self._timer = self._loop.call_later(self.port_check_interval, self._periodic)
        if self._upcalls:
            self._schedule_delivery()

    def detach(self) -> None:
        """Stop receiving (ports and flows stay); ``attach`` may be called again."""
        if self._loop is None:
            return
        for port in self._ports.values():
            self._unwatch(port)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._warm_timer is not None:
            self._warm_timer.cancel()
            self._warm_timer = None
        self._loop = None
        self._deliver_scheduled = False

    def close(self) -> None:
        """Detach and delete every port (closing its netdev); flows are flushed."""
        if self._closed:
            return
        self.detach()
        for port_no in list(self._ports):
            self.port_del(port_no)
        self.cache.flush()
        self._upcalls.clear()
        self._queued_by_port.clear()
        self._closed = True

    def poll(self) -> int:
        """Drain one batch from every port and deliver all upcalls, synchronously.

        For callers without a loop (tests, tools); returns the frames received.
        """
        count = 0
        for port in list(self._ports.values()):
            count += self._drain(port)
        rounds = self.upcall_queue_len // self.upcall_batch + 1  # a handler may queue more
        while self._upcalls and rounds:
            self._deliver_upcalls()
            rounds -= 1
        return count

    def _watch(self, port: _Port) -> None:
        loop = self._loop
        if loop is None or port.vanished:
            return
        fd = port.netdev.fileno()
        if fd is not None:
            port.fd = fd
            loop.add_reader(fd, self._on_readable, port)
        elif hasattr(port.netdev, "on_rx"):
            port.netdev.on_rx = lambda port=port: self._wake(port)
            self._wake(port)  # frames may have been queued before we attached

    def _unwatch(self, port: _Port) -> None:
        if port.fd is not None and self._loop is not None:
            self._loop.remove_reader(port.fd)
        port.fd = None
        if hasattr(port.netdev, "on_rx"):
            port.netdev.on_rx = None

    def _wake(self, port: _Port) -> None:
        if not port.wake_pending and self._loop is not None:
            port.wake_pending = True
            self._loop.call_soon(self._on_wake, port)

    def _on_wake(self, port: _Port) -> None:
        port.wake_pending = False
        if self._ports.get(port.port_no) is port and self._drain(port) >= self.batch:
            self._wake(port)  # more may be queued: come back after others had their turn

    def _on_readable(self, port: _Port) -> None:
        """The selector's callback: ``port`` has frames."""
        self._read(port)

    def _read(self, port: _Port) -> None:
        self._sent_ports.clear()
        if self._drain(port):
            if self.busy_poll > 0:
                self._poll_window(port)
            if self.warm_poll > 0 and port.fd is not None:
                self._last_rx = time.monotonic()
                if self._warm_timer is None and self._loop is not None:
                    self._warm_timer = self._loop.call_later(self.warm_poll, self._warm)

    def _warm(self) -> None:
        """The warm poll: a frame after ~10 ms of sleep meets a cold process -- from the
        selector's return to the frame read ~35-52 us here against ~20 us when the same
        code ran a millisecond or two before (measured with a 10 ms ping; the kernel's
        wake-up adds ~60 us either way).  So while frames keep coming (the last within
        ``warm_for`` seconds), every ``warm_poll`` seconds the ports with a file
        descriptor are read once, as a wake-up would, unless a frame came within the
        last ``warm_poll`` seconds anyway: the code and data a frame needs stay warm,
        and a frame the selector has not reported yet is taken.  Costs ~4% of a CPU
        while it runs (500 wake-ups a second; every 1 ms: ~10%, no faster; every 5 ms:
        ~3%, half the gain); ``warm_for`` after the last frame it stops."""
        self._warm_timer = None
        idle = time.monotonic() - self._last_rx
        if self._loop is None or idle > self.warm_for:
            return
        if idle >= self.warm_poll:  # else frames are coming anyway: the process is warm
            for port in list(self._ports.values()):
                if port.fd is not None:
                    self._read(port)
        if self._warm_timer is None and self._loop is not None:
            self._warm_timer = self._loop.call_later(self.warm_poll, self._warm)

    def _poll_window(self, port: _Port) -> None:
        """The busy-poll window: keep draining ``port`` and the ports its frames went
        out of, without the selector, until ``busy_poll`` seconds pass without a frame,
        ``busy_poll_limit`` seconds since the wake-up, or an upcall waits for the slow
        path.  An answer to what was just forwarded (an echo reply, a TCP ACK) is then
        taken while the process is awake and warm rather than after a trip through the
        loop.  Only ports with a file descriptor take part (in-memory ports never spin)."""
        clock = time.perf_counter
        window = self.busy_poll
        last = clock()
        limit = last + self.busy_poll_limit
        sent = self._sent_ports
        hot = [port]
        while not self._upcalls:
            for other in sent:  # first: an answer is most likely there
                if other.fd is not None and other not in hot:
                    hot.insert(0, other)
            sent.clear()
            got = 0
            for other in hot:
                if other.fd is not None:
                    got += self._drain(other)
            now = clock()
            if got:
                self.polled += got
                last = now
            elif now - last > window:
                return
            if now > limit:
                return

    def _drain(self, port: _Port) -> int:
        """Receive one batch on ``port`` and run it through the fast path."""
        netdev = port.netdev
        try:
            if port.tunnel:
                items = netdev.recv_tunnel_batch(self.batch)
                if items:
                    self._input_tunnel(port, items)
                count = len(items)
            else:
                frames = netdev.recv_batch(self.batch)
                if frames:
                    self._input(port, frames, port.offload_in and netdev.rx_offloads > 0)
                count = len(frames)
        except Exception:  # a bug: keep the datapath alive, say where
            self.errors += 1
            log.exception("datapath %s: batch on port %s failed", self.name, port.port_no)
            self._flush()
            return 0
        return count

    # -- the fast path

    def _input(self, port: _Port, frames: list[RxFrame], offload: bool = False) -> None:
        """The fast path for a batch from a plain port (see the module docstring).

        ``offload``: the batch holds OffloadFrames -- forwarded as they are by a lone
        output, finished (segmented / checksummed) before any other actions.
        """
        if offload:
            self._offload_pending = True
        megaflows = self.cache.megaflows
        projected = megaflows.projected
        if projected is None:
            self._input_keyed(port, frames, offload)
            return
        now = self.clock()
        in_port = port.port_no
        port_bytes = port.key_bytes
        if len(projected) == 1 and not projected[0][2].mask & _NOT_IN_PORT:
            # One mask, on in_port at most: one lookup serves the whole batch.
            entry = projected[0][1].get(port_bytes)
            if entry is not None and entry.out is not None and not any(map(_second, frames)):
                batch = list(map(_first, frames))
                entry.packets += len(batch)
                entry.bytes += sum(map(len, batch))
                entry.used = now
                entry.out.extend(batch)
                projected[0][2].hits += len(batch)
                megaflows.hits += len(batch)
                self.hit += len(batch)
                self._flush()
                return
        ctx = PacketCtx(in_port, now)
        extract = _flow.extract
        unmatched: list[RxFrame] = []
        hit = 0
        for frame, vlan in frames:
            if vlan:
                frame = insert_vlan(frame, vlan)
            for project, table, subtable in projected:
                projection = project(frame, port_bytes)
                if projection is not None:
                    entry = table.get(projection)
                    if entry is not None:
                        subtable.hits += 1
                        break
            else:
                unmatched.append((frame, 0))
                continue
            hit += 1
            entry.packets += 1
            entry.bytes += len(frame)
            entry.used = now
            out = entry.out
            if out is not None:
                out.append(frame)
            elif offload and type(frame) is OffloadFrame:
                self._run_finished(entry, frame, ctx)
            else:
                ctx.key = extract(frame, in_port) if entry.needs_key else 0
                ctx.tun_id = ctx.tun_ipv4_src = ctx.tun_ipv4_dst = 0
                entry.actions(frame, ctx)
        self.hit += hit
        megaflows.hits += hit
        if unmatched:
            self._input_keyed(port, unmatched, offload)  # flushes
        else:
            self._flush()

    def _input_keyed(self, port: _Port, frames: list[RxFrame], offload: bool = False) -> None:
        """The fast path with full key extraction: EMC, then megaflows, else upcall."""
        now = self.clock()
        in_port = port.port_no
        ctx = PacketCtx(in_port, now)
        lookup = self.cache.lookup
        extract = _flow.extract
        counters = _flow.counters
        malformed = counters.malformed
        hit = 0
        for frame, vlan in frames:
            if vlan:
                frame = insert_vlan(frame, vlan)
            key = extract(frame, in_port)
            entry = lookup(key)
            if entry is None:
                self._miss(frame, key, in_port)
                continue
            hit += 1
            entry.packets += 1
            entry.bytes += len(frame)
            entry.used = now
            entry.tcp_flags |= key & TCP_FLAGS_MASK
            out = entry.out
            if out is not None:
                out.append(frame)
            elif offload and type(frame) is OffloadFrame:
                self._run_finished(entry, frame, ctx)
            else:
                ctx.key = key
                ctx.tun_id = ctx.tun_ipv4_src = ctx.tun_ipv4_dst = 0
                entry.actions(frame, ctx)
        self.hit += hit
        self.malformed += counters.malformed - malformed
        self._flush()

    def _input_tunnel(self, port: _Port, items: list[tuple[Frame, int, int, int]]) -> None:
        now = self.clock()
        in_port = port.port_no
        ctx = PacketCtx(in_port, now)
        lookup = self.cache.lookup
        extract = _flow.extract
        counters = _flow.counters
        malformed = counters.malformed
        hit = 0
        for frame, tun_id, src, dst in items:
            key = extract(frame, in_port, tun=(tun_id, src, dst))
            entry = lookup(key)
            if entry is None:
                self._miss(frame, key, in_port)
                continue
            hit += 1
            entry.packets += 1
            entry.bytes += len(frame)
            entry.used = now
            entry.tcp_flags |= key & TCP_FLAGS_MASK
            ctx.key = key  # the received tunnel is in the key; ctx.tun_* is for output only
            ctx.tun_id = ctx.tun_ipv4_src = ctx.tun_ipv4_dst = 0
            entry.actions(frame, ctx)
        self.hit += hit
        self.malformed += counters.malformed - malformed
        self._flush()

    def _run_finished(self, entry: Megaflow, frame: OffloadFrame, ctx: PacketCtx) -> None:
        """Run a megaflow's actions on the finished segments of an OffloadFrame."""
        for segment in finish_frame(frame):
            ctx.key = _flow.extract(segment, ctx.in_port) if entry.needs_key else 0
            ctx.tun_id = ctx.tun_ipv4_src = ctx.tun_ipv4_dst = 0
            entry.actions(segment, ctx)

    def _deliver_patch(self, port: _Port, frames: list[RxFrame]) -> None:
        if self._ports.get(port.port_no) is port:
            self._input(port, frames)

    def _flush(self) -> None:
        """Send every queued output, one send_batch per port."""
        offload, self._offload_pending = self._offload_pending, False
        for port in self._ports.values():
            queue = port.txq
            if queue:
                queued = queue.copy()  # the list itself stays: megaflows append to it
                queue.clear()
                self._sent_ports.add(port)
                if port.tunnel:
                    port.netdev.send_tunnel_batch(queued)
                elif not offload:
                    port.netdev.send_batch(queued)
                elif port.offload_out:
                    port.netdev.send_batch_offload(queued)
                else:
                    port.netdev.send_batch(finish_frames(queued))
        if self._upcalls:
            self._schedule_delivery()

    # -- upcalls

    def _miss(self, frame: Frame | memoryview, key: int, in_port: int) -> None:
        self.missed += 1
        if type(frame) is OffloadFrame:  # the slow path sees what the wire would carry
            for segment in finish_frame(frame):
                self._queue_upcall(Upcall(UpcallKind.MISS, in_port,
                                          _flow.extract(segment, in_port), bytes(segment), b"",
                                          len(segment)))
            return
        self._queue_upcall(Upcall(UpcallKind.MISS, in_port, key, bytes(frame), b"", len(frame)))

    def _queue_upcall(self, upcall: Upcall) -> None:
        queued = self._queued_by_port
        in_port = upcall.in_port
        if self._upcall_handler is None or len(self._upcalls) >= self.upcall_queue_len \
                or queued.get(in_port, 0) >= self.upcall_port_limit:
            self.lost += 1
            return
        queued[in_port] = queued.get(in_port, 0) + 1
        self._upcalls.append(upcall)

    def _schedule_delivery(self) -> None:
        if not self._deliver_scheduled and self._loop is not None:
            self._deliver_scheduled = True
            self._loop.call_soon(self._deliver_upcalls)

    def _deliver_upcalls(self) -> None:
        self._deliver_scheduled = False
        pending = self._upcalls
        if not pending:
            return
        batch = pending[: self.upcall_batch]
        del pending[: self.upcall_batch]
        queued = self._queued_by_port
        for upcall in batch:
            queued[upcall.in_port] -= 1
        handler = self._upcall_handler
        if handler is None:
            self.lost += len(batch)
        else:
            try:
                handler(batch)
            except Exception:
                self.errors += 1
                log.exception("datapath %s: upcall handler failed on %d upcalls",
                              self.name, len(batch))
        self._flush()  # what the handler executed, and rescheduling for the rest
        if self._upcalls:
            self._schedule_delivery()

    def set_upcall_handler(self, handler: UpcallHandler | None) -> None:
        """Where upcalls go (a callable taking a list); None drops them (counted lost)."""
        self._upcall_handler = handler

    def set_port_handler(self, handler: PortHandler | None) -> None:
        self._port_handler = handler

    # -- ports

    def port_add(self, netdev: Netdev, port_no: int | None = None) -> int:
        """Add ``netdev`` as a port; returns its number.  The datapath owns it from now."""
        if self._closed:
            raise RuntimeError(f"datapath {self.name} is closed")
        if any(p.netdev.name == netdev.name for p in self._ports.values()):
            raise FileExistsError(errno.EEXIST, f"{self.name}: a port named {netdev.name} exists")
        if port_no is None:
            port_no = next(n for n in range(1, MAX_PORT_NO + 2) if n not in self._ports)
            if port_no > MAX_PORT_NO:
                raise OSError(errno.EFBIG, f"{self.name}: no free port number")
        elif not 0 <= port_no <= MAX_PORT_NO:
            raise ValueError(f"port number {port_no} out of range 0..{MAX_PORT_NO}")
        elif port_no in self._ports:
            raise FileExistsError(errno.EEXIST, f"{self.name}: port {port_no} exists")
        port = _Port(port_no, netdev)
        if self.offload and hasattr(netdev, "offload") and hasattr(netdev, "rx_offloads"):
            netdev.offload = True  # unfinished frames come as OffloadFrame: see _input
            port.offload_in = True
        self._ports[port_no] = port
        if hasattr(netdev, "deliver"):  # a patch end: its peer's frames arrive here
            netdev.deliver = lambda frames, port=port: self._deliver_patch(port, frames)
        self._watch(port)
        for entry in self.cache.megaflows.dump():
            self._shortcut(entry)
        self._report(PortEventKind.ADD, port)
        return port_no

    def port_del(self, port_no: int) -> None:
        """Delete a port and close its netdev; flows keep their actions (outputs to a
        deleted port do nothing) until the slow path replaces them."""
        port = self._ports.get(port_no)
        if port is None:
            raise FileNotFoundError(errno.ENOENT, f"{self.name}: no port {port_no}")
        self._unwatch(port)
        del self._ports[port_no]
        port.txq.clear()
        for entry in self.cache.megaflows.dump():
            if entry.out is port.txq:
                entry.out = None  # back to the compiled actions: they find no port
        try:
            port.netdev.close()
        except OSError as exc:  # a device that vanished may fail to clean up
            log.warning("datapath %s: closing port %s: %s", self.name, port_no, exc)
        self._report(PortEventKind.DELETE, port)

    def port_get(self, port_no: int) -> PortInfo:
        port = self._ports.get(port_no)
        if port is None:
            raise FileNotFoundError(errno.ENOENT, f"{self.name}: no port {port_no}")
        return self._info(port)

    def port_list(self) -> list[PortInfo]:
        return [self._info(port) for _, port in sorted(self._ports.items())]

    def port_link_up(self, port_no: int) -> bool:
        """The port's link as last checked (``check_ports``; at port_add: the netdev's),
        False for a vanished or unknown port.  Cheap: for the slow path's per-output
        liveness checks."""
        port = self._ports.get(port_no)
        return port is not None and port.link_up and not port.vanished

    def port_no(self, name: str) -> int | None:
        """The number of the port named ``name``, None if there is none."""
        for port in self._ports.values():
            if port.netdev.name == name:
                return port.port_no
        return None

    def netdev(self, port_no: int) -> Netdev:
        port = self._ports.get(port_no)
        if port is None:
            raise FileNotFoundError(errno.ENOENT, f"{self.name}: no port {port_no}")
        return port.netdev

    @staticmethod
    def _info(port: _Port) -> PortInfo:
        netdev = port.netdev
        up = not port.vanished and bool(netdev.link_up)  # now, not as last reported
        return PortInfo(port.port_no, netdev.name, port.type, up, netdev.mtu, netdev.hw_addr,
                        netdev.stats.as_dict())

    def check_ports(self) -> list[PortEvent]:
        """Look at every port's device and link now; report (and return) the changes."""
        events = []
        for port in list(self._ports.values()):
            if port.vanished:
                continue
            present = getattr(port.netdev, "present", None)
            if present is not None and not present():
                port.vanished = True
                port.link_up = False
                self._unwatch(port)
                events.append(self._report(PortEventKind.VANISHED, port))
                continue
            up = bool(port.netdev.link_up)
            if up != port.link_up:
                port.link_up = up
                events.append(self._report(PortEventKind.LINK, port))
        return events

    def _report(self, kind: PortEventKind, port: _Port) -> PortEvent:
        event = PortEvent(kind, port.port_no, port.netdev.name, port.link_up and not port.vanished)
        if self._port_handler is not None:
            try:
                self._port_handler(event)
            except Exception:
                self.errors += 1
                log.exception("datapath %s: port handler failed on %s", self.name, event)
        return event

    def _periodic(self) -> None:
        self._timer = None
        if self._loop is None:
            return
        self.check_ports()
        for port in list(self._ports.values()):
            audit = getattr(port.netdev, "rx_audit", None)
            if audit is not None and port.fd is not None and audit():
                self._wake(port)  # frames its socket does not report (a receive ring's)
        self.cache.megaflows.rank()
        self._timer = self._loop.call_later(self.port_check_interval, self._periodic)

    # -- flows

    def flow_put(self, key: int, mask: int, actions: Sequence[Action], *,
                 ufid: object = None, create: bool = True, modify: bool = True,
                 zero_stats: bool = False) -> DpFlow:
        """Install (or replace) the megaflow ``key & mask`` -> ``actions``.

        An existing flow is the one with ``ufid`` (when given) or the one cached under
        ``mask`` for ``key``.  ``create=False``: only modify (FileNotFoundError if there
        is none); ``modify=False``: only create (FileExistsError if there is one).
        The actions are compiled here (TypeError/ValueError for invalid ones, nothing
        installed).  The new actions apply to the very next packet.
        """
        megaflows = self.cache.megaflows
        old = megaflows.get(ufid) if ufid is not None else None
        if old is None:
            old = megaflows.find(mask, key)
        if old is not None and not modify:
            raise FileExistsError(errno.EEXIST, "flow exists")
        if old is None and not create:
            raise FileNotFoundError(errno.ENOENT, "no such flow")
        desc = tuple(actions)
        run = compile_actions(desc, self._env)
        if ufid is None and old is not None:
            ufid = old.ufid
        entry = self.cache.insert(mask, key, run, ufid, self.clock(), desc)
        self._shortcut(entry)
        if old is not None and not zero_stats:
            entry.packets, entry.bytes = old.packets, old.bytes
            entry.used, entry.tcp_flags = old.used, old.tcp_flags
            if old.packets:
                entry.created = old.created
        return self._dp_flow(entry)

    def _shortcut(self, entry: Megaflow) -> None:
        """Let a megaflow whose only action is an output to a plain port append the
        frame to that port's queue directly; note whether its actions need the key."""
        desc = entry.desc if isinstance(entry.desc, tuple) else ()
        entry.needs_key = any(isinstance(action, Userspace) for action in desc)
        entry.out = None
        if len(desc) == 1 and isinstance(desc[0], Output):
            port = self._ports.get(desc[0].port)
            if port is not None and not port.tunnel:
                entry.out = port.txq

    def flow_get(self, ufid: object) -> DpFlow | None:
        entry = self.cache.megaflows.get(ufid)
        return None if entry is None else self._dp_flow(entry)

    def flow_find(self, key: int, mask: int) -> DpFlow | None:
        """The flow cached under exactly ``mask`` for ``key``, if any."""
        entry = self.cache.megaflows.find(mask, key)
        return None if entry is None else self._dp_flow(entry)

    def flow_lookup(self, key: int) -> DpFlow | None:
        """The flow a packet with ``key`` would hit now (no statistics touched)."""
        for entry in self.cache.megaflows.dump():
            if key & entry.mask == entry.key:
                return self._dp_flow(entry)
        return None

    def flow_del(self, ufid: object) -> DpFlow | None:
        """Delete a flow; returns it with its final statistics, None if there was none."""
        entry = self.cache.megaflows.get(ufid)
        if entry is None:
            return None
        self.cache.remove(entry)
        return self._dp_flow(entry)

    def flow_dump(self) -> list[DpFlow]:
        return [self._dp_flow(entry) for entry in self.cache.megaflows.dump()]

    def flow_flush(self) -> int:
        return self.cache.flush()

    @staticmethod
    def _dp_flow(entry: Megaflow) -> DpFlow:
        stats = FlowStats(entry.packets, entry.bytes, entry.used if entry.packets else None,
                          entry.tcp_flags)
        desc = entry.desc if isinstance(entry.desc, tuple) else ()
        return DpFlow(entry.ufid, entry.key, entry.mask, desc, stats)

    # -- execute, meters, counters

    def execute(self, frame: Frame, actions: Sequence[Action], in_port: int,
                tun: TunnelMeta | None = None) -> None:
        """Run ``actions`` on one packet now (outputs are sent before this returns)."""
        run: Executor = compile_actions(actions, self._env)
        data = bytes(frame)
        ctx = PacketCtx(in_port, self.clock(), *(tun or (0, 0, 0)))
        ctx.key = _flow.extract(data, in_port, tun=tun)
        run(data, ctx)
        self._flush()

    def meter_set(self, meter_id: int, bands: Iterable[MeterBand], *,
                  pktps: bool = False) -> None:
        self.meters.set(meter_id, bands, pktps=pktps, now=self.clock())

    def meter_del(self, meter_id: int) -> bool:
        return self.meters.delete(meter_id)

    def meter_stats(self, meter_id: int) -> MeterStats | None:
        return self.meters.stats(meter_id, self.clock())

    def stats(self) -> DpStats:
        megaflows = self.cache.megaflows
        return DpStats(self.hit, self.missed, self.lost, megaflows.flows, megaflows.masks,
                       self.malformed)


__all__ = ["Datapath", "Dpif", "DpFlow", "DpStats", "FlowStats", "PortEvent", "PortEventKind",
           "PortHandler", "PortInfo", "TunnelMeta", "Upcall", "UpcallHandler", "UpcallKind"]
