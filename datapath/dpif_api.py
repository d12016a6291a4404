"""dpif_api: the dpif contract -- what the slow path and a datapath say to each other.

Sits under datapath/dpif.py (``Datapath`` implements ``Dpif``) and switch_agent/ (which
only talks to a datapath through this contract): the ``Dpif`` protocol and the values
it passes (upcalls, flows and their statistics, ports and their events, counters).

The contract (``Dpif``), after Open vSwitch's lib/dpif.h:
  * ports: ``port_add(netdev, port_no=None) -> port_no`` (lowest free number >= 1 unless
    one is asked for; 0 is the LOCAL port by convention), ``port_del`` (closes the
    netdev: deleting an internal port deletes its tap), ``port_list``/``port_get`` with
    the netdev's counters (rx/tx packets, bytes, dropped, errors);
  * flows: ``flow_put(key, mask, actions)`` creates or modifies the megaflow ``key &
    mask`` -> actions (an existing one under the same mask and masked key, or the same
    ufid, is replaced atomically: no packet runs the old actions after the call, and
    its statistics carry over unless ``zero_stats``); ``flow_get``/``flow_del`` by ufid,
    ``flow_dump``, ``flow_flush``; statistics per flow (packets, bytes, last used,
    TCP flags seen);
  * ``execute(frame, actions, in_port)``: run actions on one packet (the slow path's
    way to send the packet of a miss, and PACKET_OUT);
  * upcalls, in batches, to one handler (``set_upcall_handler``): ``MISS`` for a packet
    no megaflow matched (the packet, its key, its in_port) and ``ACTION`` for a
    ``Userspace`` action (with its userdata and the frame maybe cut to max_len);
  * ``stats()``: hit, missed, lost, flows, masks (OVS's ``dpif_dp_stats``), plus
    malformed frames seen by extraction;
  * port events (``set_port_handler``): a port added or deleted, a link going up or
    down, the device of a port vanishing (deleted under the running datapath) --
    reported, never fatal: the port stays until the slow path deletes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from datapath import flow as _flow
from datapath.meter import MeterBand, MeterStats
from datapath.netdev import Netdev
from datapath.odp_actions import Action, Frame, format_actions

TunnelMeta = tuple[int, int, int]  # (tun_id, tun_ipv4_src, tun_ipv4_dst)

class UpcallKind(IntEnum):
    MISS = 0  # no megaflow matched (OVS DPIF_UC_MISS)
    ACTION = 1  # a Userspace action ran (OVS DPIF_UC_ACTION)


@dataclass(frozen=True, slots=True)
class Upcall:
    """A packet for the slow path.  ``key`` is the key the packet was received with
    (it includes in_port and tunnel metadata); for ACTION upcalls ``frame`` is the
    packet as the actions left it, at most the Userspace max_len bytes of
    ``total_len``."""

    kind: UpcallKind
    in_port: int
    key: int
    frame: bytes
    userdata: bytes = b""
    total_len: int = 0

    def __repr__(self) -> str:
        return (f"Upcall({self.kind.name}, in_port={self.in_port}, {_flow.format_key(self.key)}, "
                f"{len(self.frame)}/{self.total_len} bytes, userdata={self.userdata!r})")


@dataclass(frozen=True, slots=True)
class FlowStats:
    packets: int = 0
    bytes: int = 0
    used: float | None = None  # clock time of the last packet, None if never hit
    tcp_flags: int = 0  # OR of the TCP flags of every packet counted


@dataclass(frozen=True, slots=True)
class DpFlow:
    """A megaflow as dumped: its ``key`` is already masked."""

    ufid: object
    key: int
    mask: int
    actions: tuple[Action, ...]
    stats: FlowStats

    def __repr__(self) -> str:
        return (f"DpFlow(ufid={self.ufid!r}, {_flow.format_key(self.key, self.mask)}, "
                f"actions={format_actions(self.actions) or 'drop'}, {self.stats})")


@dataclass(frozen=True, slots=True)
class PortInfo:
    port_no: int
    name: str
    type: str  # "system", "internal", "dummy", "patch", "vxlan"
    link_up: bool
    mtu: int
    hw_addr: bytes
    stats: dict[str, int]  # NetdevStats.as_dict()


@dataclass(frozen=True, slots=True)
class DpStats:
    hit: int  # packets that matched a cached flow
    missed: int  # packets that matched none (an upcall was attempted)
    lost: int  # upcalls dropped: queue full or no handler
    flows: int
    masks: int
    malformed: int = 0  # frames whose extraction found a truncated or invalid layer


class PortEventKind(IntEnum):
    ADD = 0
    DELETE = 1
    LINK = 2  # link_up changed
    VANISHED = 3  # the device went away under the datapath


@dataclass(frozen=True, slots=True)
class PortEvent:
    kind: PortEventKind
    port_no: int
    name: str
    link_up: bool


UpcallHandler = Callable[[list[Upcall]], None]
PortHandler = Callable[[PortEvent], None]


class Dpif(Protocol):
    """What the slow path may do to a datapath (see the module docstring)."""

    def port_add(self, netdev: Netdev, port_no: int | None = None) -> int: ...
    def port_del(self, port_no: int) -> None: ...
    def port_get(self, port_no: int) -> PortInfo: ...
    def port_list(self) -> list[PortInfo]: ...

    def flow_put(self, key: int, mask: int, actions: Sequence[Action], *,
                 ufid: object = None, create: bool = True, modify: bool = True,
                 zero_stats: bool = False) -> DpFlow: ...
    def flow_get(self, ufid: object) -> DpFlow | None: ...
    def flow_del(self, ufid: object) -> DpFlow | None: ...
    def flow_dump(self) -> list[DpFlow]: ...
    def flow_flush(self) -> int: ...

    def execute(self, frame: Frame, actions: Sequence[Action], in_port: int,
                tun: TunnelMeta | None = None) -> None: ...

    def meter_set(self, meter_id: int, bands: Iterable[MeterBand], *,
                  pktps: bool = False) -> None: ...
    def meter_del(self, meter_id: int) -> bool: ...
    def meter_stats(self, meter_id: int) -> MeterStats | None: ...

    def set_upcall_handler(self, handler: UpcallHandler | None) -> None: ...
    def set_port_handler(self, handler: PortHandler | None) -> None: ...
    def stats(self) -> DpStats: ...
