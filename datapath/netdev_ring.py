"""The TPACKET_V2 receive ring of a system port (datapath/netdev_linux.py's SystemNetdev).

Sits under netdev_linux.py, which opens the packet socket, sets its options and owns
the counters; this module owns the memory-mapped receive ring (PACKET_RX_RING) and
reading frames out of it.  Why a ring: with recvmmsg, the CPU that runs the datapath
dequeues, copies and frees every received skb itself (~1-1.4 us per 64-byte frame on
the 2-vCPU VM, a third of the forwarding cost); with a ring, the receiving softirq
(on whatever CPU the sender's backlog runs) copies the frame into shared memory and
frees the skb there, and the datapath only reads memory -- an empty poll is one byte
read, no system call.

TPACKET_V2, not V3: V3 hands frames over in blocks retired by a timeout (>= 1 ms),
which adds that much to a lone ping.  V2 hands over every frame as soon as it is
written (the kernel wakes the poller per frame).

Layout: ``frames`` slots of ``FRAME_SIZE`` bytes, in blocks of ``BLOCK_SIZE`` (so every
slot is at ``i * FRAME_SIZE`` of the mapping), each slot a ``tpacket2_hdr`` then, at
``tp_mac``, the frame, with the virtio_net_hdr (PACKET_VNET_HDR) just before it.  A
slot belongs to us while its ``tp_status`` has TP_STATUS_USER; we hand it back by
writing TP_STATUS_KERNEL.  The frames of a batch are views into their slots, valid
until the next ``receive`` (which first hands the previous batch back).  The kernel
reports the socket readable while the slot before its head is not back in its hands,
so a batch held when the caller returns to the selector costs one more wake-up, whose
``receive`` hands it back: never a spin.

Frames longer than a slot (TSO super-frames, jumbo frames) arrive truncated with
TP_STATUS_COPY, their full copy queued on the socket (PACKET_COPY_THRESH): the owner
reads them with one recvmmsg per batch (``recv_copy``).  Everything unusual (copies, truncation, partial
checksums, GSO, odd header offsets) goes down a per-frame path; a batch of ordinary
frames is read with strided views over all its slots at once, as netdev_linux's
recvmmsg path does.

Bounded: the ring's memory is fixed at setup (``frames * FRAME_SIZE``: 2 MiB per port
by default, locked kernel memory, not the socket buffer); when it is full the kernel
drops and counts (PACKET_STATISTICS, folded into rx_dropped by the owner).  If the
ring cannot be set up (old kernel, no memory, a ring refused with PACKET_VNET_HDR)
``RxPacketRing`` raises OSError and the owner keeps recvmmsg.

Slots the kernel claims and never fills (measured on this machine's 6.18 kernel: a
few per 10-second 400 kpps flood into a full ring, each a frame counted in the
kernel's tp_packets but neither written nor in tp_drops): such a hole stops the
reader at its slot; ``receive`` waits HOLE_TIMEOUT for it (it may still be being
written) and then goes past.  A hole can also leave the kernel's head where the socket
no longer reports readable while frames wait further on; ``stranded`` (called by the
owner on a timer) finds them and moves the reader to them.  The owner counts what the
kernel claimed (tp_packets - tp_drops) against ``taken`` (slots read) and ``unread()``
(frames still waiting): the rest is lost, and reported as dropped.
"""

from __future__ import annotations

import mmap
import socket
import struct
import sys
import time
from collections.abc import Callable
from itertools import repeat

from datapath.netdev import (
    ETH_HLEN,
    ETH_P_8021Q,
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VLAN_TPID_SHIFT,
    VNET_HDR_LEN,
    NetdevStats,
    RxFrame,
)

# <linux/if_packet.h>
SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_COPY_THRESH = 7
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1 << 0
TP_STATUS_COPY = 1 << 1
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6

FRAME_SIZE = 2048  # a 1500-MTU frame with its headers fits; bigger ones come as copies
BLOCK_SIZE = 1 << 16  # 32 slots per block; blocks are contiguous in the mapping
DEFAULT_FRAMES = 1024  # 2 MiB per port
HOLE_TIMEOUT = 0.05  # seconds a never-filled slot may hold up the ring (see _skip_hole)

_REQ = struct.Struct("IIII")  # struct tpacket_req: block_size, block_nr, frame_size, frame_nr
# struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec, vlan_tci, vlan_tpid
_HDR = struct.Struct("=IIIHHIIHH")
_LEN_U32, _SNAPLEN_U32, _MAC_U16, _TCI_U16, _TPID_U16 = 1, 2, 6, 12, 13
_STATUS_LOW = 0 if sys.byteorder == "little" else 3  # the status bits we read are in one byte
_KEEP_USER = bytes(b & TP_STATUS_USER for b in range(256))
_KEEP_UNUSUAL = bytes(b & TP_STATUS_COPY for b in range(256))
_KEEP_VLAN = bytes(b & TP_STATUS_VLAN_VALID for b in range(256))
_KEEP_NEEDS_CSUM = bytes(b & VIRTIO_NET_HDR_F_NEEDS_CSUM for b in range(256))

Finish = Callable[[memoryview, int, int, int, Callable[[RxFrame], None]], int]
"""netdev_linux's _finish: (view, vnet header offset, length with header, vlan, append) -> bytes."""
RecvCopy = Callable[[int, int, int, Callable[[RxFrame], None]], int]
"""(copy number in this batch, copies in the batch, vlan word from the ring, append) -> bytes
delivered; the first call may fetch all the batch's copies at once."""


class RxPacketRing:
    """A TPACKET_V2 receive ring on ``sock`` (PACKET_VNET_HDR already set); see the module
    docstring.  Raises OSError if the kernel refuses it (nothing is left set up then)."""

    def __init__(self, sock: socket.socket, frames: int = DEFAULT_FRAMES) -> None:
        per_block = BLOCK_SIZE // FRAME_SIZE
        blocks = max(1, -(-frames // per_block))
        self.frames = blocks * per_block
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_COPY_THRESH, 1)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, _REQ.pack(BLOCK_SIZE, blocks, FRAME_SIZE, self.frames))
        try:
            self.mem = mmap.mmap(sock.fileno(), self.frames * FRAME_SIZE, mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, _REQ.pack(0, 0, 0, 0))  # tear it down
            raise
        self.view = memoryview(self.mem)
        self.u32 = self.view.cast("I")
        self.u16 = self.view.cast("H")
        self._zeros = memoryview(bytes(4 * self.frames)).cast("I")
        self.head = 0  # the next slot to look at
        self._held_at = 0  # the last batch (slots _held_at .., _held of them): not handed back yet
        self._held = 0
        self._hole_since = 0.0
        self.taken = 0  # slots read (frames, copies, rejects): compared with the kernel's count
        self._stranded_at = -1  # the head where ``stranded`` last saw frames beyond a gap

    def close(self) -> None:
        """Unmap the ring, which lets the socket go when it is closed (a mapping keeps it
        alive).  Frame views still held elsewhere keep the mapping until they go."""
        self._held = 0
        for view in (self.u32, self.u16, self.view):
            view.release()
        try:
            self.mem.close()
        except BufferError:
            pass  # frames of the last batch are still referenced: unmapped when they go

    def release(self) -> None:
        """Hand the slots of the last batch back to the kernel."""
        held = self._held
        if held:
            self._held = 0
            stride = FRAME_SIZE // 4
            start = self._held_at * stride
            self.u32[start : start + held * stride : stride] = self._zeros[:held]

    def receive(self, max_packets: int, stats: NetdevStats, finish: Finish,
                recv_copy: RecvCopy) -> list[RxFrame]:
        """The frames the kernel wrote since the last call (at most ``max_packets``, and
        not across the end of the ring: the next call goes on from its start)."""
        self.release()
        head = self.head
        start = head * FRAME_SIZE
        view = self.view
        if not view[start + _STATUS_LOW] & TP_STATUS_USER:
            if self.frames > 1:
                self._skip_hole(head)
            return []
        if self._hole_since:
            self._hole_since = 0.0  # the hole filled: the next one's timer starts afresh
        room = self.frames - head
        count = max_packets if max_packets < room else room
        if count == 1 or not view[(start + FRAME_SIZE) % len(view) + _STATUS_LOW] & TP_STATUS_USER:
            return self._one(head, stats, finish, recv_copy)
        status = bytes(view[start + _STATUS_LOW : start + count * FRAME_SIZE : FRAME_SIZE])
        got = status.translate(_KEEP_USER).find(b"\0")
        if got < 0:
            got = count
        status = status[:got]
        self._held_at, self._held = head, got
        self.taken += got
        self.head = head + got if head + got < self.frames else 0
        end = start + got * FRAME_SIZE
        u32, u16, stride32 = self.u32, self.u16, FRAME_SIZE // 4
        lens = u32[start // 4 + _LEN_U32 : end // 4 : stride32].tolist()
        snaps = u32[start // 4 + _SNAPLEN_U32 : end // 4 : stride32].tolist()
        macs = u16[start // 2 + _MAC_U16 : end // 2 : FRAME_SIZE // 2].tolist()
        mac = macs[0]
        vnet = start + mac - VNET_HDR_LEN
        if (lens != snaps or status.translate(_KEEP_UNUSUAL).strip(b"\0") or min(snaps) < ETH_HLEN
                or macs.count(mac) != got or mac < VNET_HDR_LEN
                or (bytes(view[vnet : end : FRAME_SIZE]).translate(_KEEP_NEEDS_CSUM)
                    + bytes(view[vnet + 1 : end : FRAME_SIZE])).strip(b"\0")):
            out = self._each(start, got, status, lens, snaps, macs, stats, finish, recv_copy)
        else:
            frames = [view[base : base + n] for base, n in zip(range(start + mac, end, FRAME_SIZE), snaps)]
            if status.translate(_KEEP_VLAN).strip(b"\0"):
                vlans = [self._vlan(start + i * FRAME_SIZE, status[i]) for i in range(got)]
                out = list(zip(frames, vlans))
            else:
                out = list(zip(frames, repeat(0)))
            stats.rx_packets += got
            stats.rx_bytes += sum(snaps)
        return out

    def _one(self, head: int, stats: NetdevStats, finish: Finish, recv_copy: RecvCopy) -> list[RxFrame]:
        """A lone frame (what low rates bring, often to a process that just woke up, when
        every statement costs ~10x its warm time): read directly, no strided views."""
        start = head * FRAME_SIZE
        status, length, snap, mac = _HDR.unpack_from(self.view, start)[:4]
        self._held_at, self._held = head, 1
        self.taken += 1
        self.head = head + 1 if head + 1 < self.frames else 0
        view = self.view
        vnet = start + mac - VNET_HDR_LEN
        if (status & TP_STATUS_COPY or length != snap or snap < ETH_HLEN or mac < VNET_HDR_LEN
                or view[vnet] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[vnet + 1]):
            return self._each(start, 1, bytes((status & 0xFF,)), [length], [snap], [mac], stats,
                              finish, recv_copy)
        stats.rx_packets += 1
        stats.rx_bytes += snap
        return [(view[start + mac : start + mac + snap], self._vlan(start, status))]

    def _vlan(self, offset: int, status: int) -> int:
        """The vlan word of the slot at ``offset`` from its tp_vlan_tci/tpid."""
        if not status & TP_STATUS_VLAN_VALID:
            return 0
        tci = self.u16[offset // 2 + _TCI_U16]
        tpid = self.u16[offset // 2 + _TPID_U16] if status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q
        return tpid << VLAN_TPID_SHIFT | tci

    def _each(self, start: int, got: int, status: bytes, lens: list[int], snaps: list[int],
              macs: list[int], stats: NetdevStats, finish: Finish, recv_copy: RecvCopy) -> list[RxFrame]:
        """The per-frame path: copies, truncation, offload work, odd offsets."""
        view = self.view
        out: list[RxFrame] = []
        append = out.append
        delivered = packets = copies = 0
        total = status.translate(_KEEP_UNUSUAL).count(TP_STATUS_COPY)
        for i in range(got):
            offset = start + i * FRAME_SIZE
            mac, snap, flags = macs[i], snaps[i], status[i]
            vlan = self._vlan(offset, flags)
            before = len(out)
            if flags & TP_STATUS_COPY:
                delivered += recv_copy(copies, total, vlan, append)
                copies += 1
                packets += len(out) - before
                continue
            if snap < lens[i] or snap < ETH_HLEN or mac < VNET_HDR_LEN:
                stats.rx_errors += 1  # truncated without a copy (socket buffer full), or malformed
                continue
            vnet = offset + mac - VNET_HDR_LEN
            if view[vnet] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[vnet + 1]:
                delivered += finish(view, vnet, snap + VNET_HDR_LEN, vlan, append)
            else:
                append((view[offset + mac : offset + mac + snap], vlan))
                delivered += snap
            packets += len(out) - before
        stats.rx_packets += packets
        stats.rx_bytes += delivered
        return out

    def unread(self) -> int:
        """Frames in the ring not read yet (the last batch is read)."""
        waiting = bytes(self.view[_STATUS_LOW :: FRAME_SIZE]).translate(_KEEP_USER).count(1)
        return waiting - self._held

    def stranded(self) -> bool:
        """Whether frames wait that the socket may not report: at the head (True: the
        caller drains), or only further on, the head slot empty (see the module
        docstring).  The latter twice in a row at the same head (a slot being written
        is not taken for a hole; the owner calls this every fraction of a second):
        the head moves to the first of them after it, and True."""
        head = self.head
        view = self.view
        if view[head * FRAME_SIZE + _STATUS_LOW] & TP_STATUS_USER:
            return True
        status = bytes(view[_STATUS_LOW :: FRAME_SIZE]).translate(_KEEP_USER)
        after = status[head + 1 :] + status[:head]  # the slots after the head, in ring order
        held = range(self._held_at, self._held_at + self._held)
        i = after.find(1)
        while i >= 0 and (head + 1 + i) % self.frames in held:
            i = after.find(1, i + 1)
        if i < 0:
            self._stranded_at = -1
            return False
        if self._stranded_at != head:
            self._stranded_at = head  # seen once: look again next time
            return False
        self._stranded_at = -1
        self.head = (head + 1 + i) % self.frames
        self._hole_since = 0.0
        return True

    def _skip_hole(self, head: int) -> None:
        """The head slot is not ours but the next one is: either the kernel is still
        writing the head (for a moment) or it gave up on it after claiming it (it never
        comes, and the ring would stall with the socket readable).  A hole older than
        HOLE_TIMEOUT is skipped (the owner's count finds the frame lost)."""
        after = ((head + 1) % self.frames) * FRAME_SIZE
        if not self.view[after + _STATUS_LOW] & TP_STATUS_USER:
            self._hole_since = 0.0
            return
        now = time.monotonic()
        if not self._hole_since:
            self._hole_since = now
        elif now - self._hole_since > HOLE_TIMEOUT:
            self._hole_since = 0.0
            self.head = (head + 1) % self.frames
