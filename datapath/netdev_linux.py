"""Linux netdevs: `system` ports (AF_PACKET raw socket), and what the `internal` port
(datapath/netdev_tap.py) shares with them.

Sits beside netdev.py (the contract and the dummy) and keeps its promises on real
interfaces. It owns everything kernel-specific about moving frames: the packet
socket options (promiscuous membership, PACKET_IGNORE_OUTGOING, PACKET_AUXDATA for
the stripped VLAN tag, PACKET_VNET_HDR for checksum/GSO offload state), batched
receive and send with recvmmsg/sendmmsg through ctypes (per-packet
recvmsg_into/sendmsg when ctypes is unavailable), reading the virtio_net_hdr that
says what the kernel left undone (netdev.py's helpers then finish the frame), with
the interface ioctls of datapath/linux_if.py. No threads: the owner waits on `fileno()` (asyncio add_reader) and
drains with `recv_batch`.

Receive ring, on by default (``rx_ring=netdev_ring.DEFAULT_FRAMES``; 0 turns it off):
with mmsg a port receives through a TPACKET_V2 ring (datapath/netdev_ring.py):
recvmmsg costs ~1.0-1.4 us per 64-byte frame here, the ring ~0.35 us.  Frames the
kernel claimed a slot for and never wrote are counted as rx_dropped (the kernel's
tp_packets - tp_drops against the slots read, ``stats``); ``rx_audit``, called on the
datapath's port timer, finds frames the socket's readiness does not report.  Frames
too big for a slot come from the socket queue, one recvmmsg per batch
(`_recv_copy`); without a ring (rx_ring=0, or refused) recvmmsg/recvmsg as below.

Lone frames (what low rates bring, often to a process that just woke up, when every
Python statement costs ~10x its warm time) take a shorter path: a batch of one is
checked directly instead of through the strided per-batch views, only the mmsghdrs
the last receive filled are reset, and one frame is sent with the socket module's
sendmsg rather than a sendmmsg prepared through ctypes (~22 us cold against ~60 us).

Offloads (measured on veth, bench/netdev_forward.py): a veth peer hands us TCP with
partial checksums and 64 KB TSO super-frames, each with a virtio_net_hdr saying what was
left undone; we complete the checksum, segment super-frames (or, with `offload`, pass
them on as OffloadFrames). `set_offloads()` (ethtool) turns them off, which on veth must
be done on the *sending* ends (the peer's TSO decides).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from itertools import accumulate, repeat

from datapath.linux_if import (
    IFF_RUNNING,
    IFF_UP,
    get_offloads,
    if_flags,
    if_hw_addr,
    if_index,
    if_mtu,
    set_if_up,
    set_offloads,
)
from datapath.netdev import (
    ETH_HLEN,
    ETH_P_8021Q,
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_NONE,
    VLAN_TPID_SHIFT,
    VNET_HDR,
    VNET_HDR_LEN,
    Frame,
    NetdevStats,
    OffloadFrame,
    RxFrame,
    checksum_complete,
    frame_fits_mtu,
    gso_segment,
    offload_frame,
)
from datapath.netdev_ring import (  # the <linux/if_packet.h> numbers are defined there once
    DEFAULT_FRAMES,
    SOL_PACKET,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    RxPacketRing,
)

# ------------------------------------------------------------------ kernel constants
# <linux/if_ether.h>, <linux/if_packet.h>
ETH_P_ALL = 0x0003
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_VNET_HDR = 15
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23
# <asm-generic/socket.h>, <linux/socket.h>
SO_RCVBUFFORCE = 33
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
# <linux/virtio_net.h>: struct virtio_net_hdr, native byte order (little-endian hosts);
# the GSO types are in netdev.py with the segmentation they drive.
_VNET_ZERO = bytes(VNET_HDR_LEN)

_PACKET_MREQ = struct.Struct("iHH8s")
_TPACKET_STATS = struct.Struct("II")
_AUX_VLAN = struct.Struct("=HH")  # tp_vlan_tci, tp_vlan_tpid at offset 16 of tpacket_auxdata
_AUX_VLAN_OFF = 16
_AUX_SIZE = 20
# Offset of tp_status's low byte (the VLAN bits) inside the 32-bit word.
_STATUS_LOW = 0 if sys.byteorder == "little" else 3

# Receive slots hold a whole GSO super-frame (64 KB + headers); they are mmap'ed so
# that only the pages a frame touches become resident.
RX_SLOT_SIZE = 65536 + VNET_HDR_LEN + 64
# With a receive ring: how often (seconds) an empty ring also looks at the socket queue.
QUEUE_CHECK = 0.001

# Send errors that mean "this frame was not sent" (counted as tx_dropped): over the
# MTU, queue full, link down (EIO is a tap that is down); any other errno is a
# tx_error (device gone, malformed frame, ...).
_TX_DROP_ERRNOS = frozenset({errno.EMSGSIZE, errno.ENOBUFS, errno.EAGAIN, errno.ENETDOWN, errno.EIO})
_RX_QUIET_ERRNOS = frozenset({errno.EAGAIN, errno.EINTR})


# ------------------------------------------------------------------ recvmmsg / sendmmsg


class _IOVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


_MMSG_SIZE = ctypes.sizeof(_MMsgHdr)
_IOV_SIZE = ctypes.sizeof(_IOVec)
_CMSG_HDR = ctypes.sizeof(ctypes.c_size_t) + 2 * ctypes.sizeof(ctypes.c_int)  # CMSG_LEN(0)
_CTL_SIZE = socket.CMSG_SPACE(_AUX_SIZE)
_SIZE_T = "Q" if ctypes.sizeof(ctypes.c_size_t) == 8 else "I"

_MmsgCall = Callable[..., int]


def _load_mmsg() -> tuple[_MmsgCall, _MmsgCall] | None:
    """libc's recvmmsg and sendmmsg through ctypes, or None where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        recvmmsg = libc.recvmmsg
        sendmmsg = libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    recvmmsg.restype = ctypes.c_int
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_MMSG = _load_mmsg()


def _address(buffer: mmap.mmap | bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


class _RxRing:
    """`count` receive slots in one mmap, each with an iovec, a control buffer and an mmsghdr.

    Per-batch facts are read for all messages at once with strided memoryviews
    (msg_len, the low bytes of msg_flags, the virtio_net_hdr flag and gso bytes at
    each slot start, the auxdata status bytes), so the common case costs one list
    comprehension, not a loop of unpack calls.
    """

    def __init__(self, count: int, slot_size: int) -> None:
        self.count = count
        self.slot_size = slot_size
        self.data = mmap.mmap(-1, count * slot_size)
        self.view = memoryview(self.data)
        self.views = [self.view[i * slot_size : (i + 1) * slot_size] for i in range(count)]
        self.bases = [i * slot_size for i in range(count)]
        self.iovs = bytearray(count * _IOV_SIZE)
        self.msgs = bytearray(count * _MMSG_SIZE)
        self.ctl = bytearray(count * _CTL_SIZE)
        iovs = (_IOVec * count).from_buffer(self.iovs)
        msgs = (_MMsgHdr * count).from_buffer(self.msgs)
        data_addr, iov_addr, ctl_addr = _address(self.data), _address(self.iovs), _address(self.ctl)
        for i in range(count):
            iovs[i].iov_base = data_addr + i * slot_size
            iovs[i].iov_len = slot_size
            hdr = msgs[i].msg_hdr
            hdr.msg_iov = iov_addr + i * _IOV_SIZE
            hdr.msg_iovlen = 1
            hdr.msg_control = ctl_addr + i * _CTL_SIZE
            hdr.msg_controllen = _CTL_SIZE
        del iovs, msgs  # ctypes views pin the buffers; the addresses are all we need
        self.pristine = memoryview(bytes(self.msgs))
        self.msgs_addr = _address(self.msgs)
        self.msgs_u32 = memoryview(self.msgs).cast("I")
        self.dirty = 0  # mmsghdrs the last receive filled (their msg_controllen needs a reset)


_U32_STRIDE = _MMSG_SIZE // 4
_MSG_LEN_U32 = _MMsgHdr.msg_len.offset // 4
_MSG_CTL_U32 = _MsgHdr.msg_controllen.offset // 4 + (0 if sys.byteorder == "little" else 1)
_MSG_FLAGS_LOW = _MsgHdr.msg_flags.offset + (0 if sys.byteorder == "little" else 3)
_AUX_STATUS_LOW = _CMSG_HDR + _STATUS_LOW
# Byte -> byte tables that keep only the bit a fast-path check looks at.
_KEEP_TRUNC = bytes(b & MSG_TRUNC for b in range(256))
_KEEP_NEEDS_CSUM = bytes(b & VIRTIO_NET_HDR_F_NEEDS_CSUM for b in range(256))
_KEEP_VLAN = bytes(b & TP_STATUS_VLAN_VALID for b in range(256))


class _TxRing:
    """`count` mmsghdrs of two iovecs each: the shared zero virtio_net_hdr, then the frame.

    A batch is joined into one bytes object and the frame iovecs are pointed into
    it with a single pack_into, so sending costs no per-frame Python statement.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.hdr = ctypes.create_string_buffer(VNET_HDR_LEN)
        self.iovs = bytearray(2 * count * _IOV_SIZE)
        self.msgs = bytearray(count * _MMSG_SIZE)
        iovs = (_IOVec * (2 * count)).from_buffer(self.iovs)
        msgs = (_MMsgHdr * count).from_buffer(self.msgs)
        iov_addr = _address(self.iovs)
        for i in range(count):
            iovs[2 * i].iov_base = ctypes.addressof(self.hdr)
            iovs[2 * i].iov_len = VNET_HDR_LEN
            msgs[i].msg_hdr.msg_iov = iov_addr + 2 * i * _IOV_SIZE
            msgs[i].msg_hdr.msg_iovlen = 2
        del iovs, msgs
        self.msgs_addr = _address(self.msgs)
        self._packers: dict[int, struct.Struct] = {}
        # The 2*count iovecs as flat (base, len) values; the header ones never change.
        self.values: list[int] = [ctypes.addressof(self.hdr), VNET_HDR_LEN, 0, 0] * count

    def packer(self, n: int) -> struct.Struct:
        """Writes the iovecs of messages 0..n-1 (header and frame) in one call."""
        packer = self._packers.get(n)
        if packer is None:
            packer = self._packers[n] = struct.Struct("=" + _SIZE_T * (4 * n))
        return packer


def _vlan_word(aux: bytes | bytearray, offset: int) -> int:
    """The vlan word from a tpacket_auxdata at `offset`: (tpid << 16) | tci, 0 if no tag."""
    status = aux[offset + _STATUS_LOW]
    if not status & TP_STATUS_VLAN_VALID:
        return 0
    tci, tpid = _AUX_VLAN.unpack_from(aux, offset + _AUX_VLAN_OFF)
    if not status & TP_STATUS_VLAN_TPID_VALID:
        tpid = ETH_P_8021Q
    return tpid << VLAN_TPID_SHIFT | tci


def _bytes_address(data: bytes) -> int:
    """Address of a bytes object's buffer (no copy; keep `data` alive while it is used)."""
    return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0


# ------------------------------------------------------------------ shared base


class _LinuxNetdev:
    """What system and internal ports share: counters, properties by ioctl, finishing frames."""

    name: str
    _ctl: socket.socket  # any socket in the interface's network namespace, for ioctls
    ifindex: int

    def __init__(self) -> None:
        self._stats = NetdevStats()
        self._closed = False
        self._mtu = 1500
        self._hw_addr = bytes(6)
        self.last_errno = 0
        # Offload work done on received frames (what the kernel left undone).
        self.csum_completed = 0
        self.gso_frames = 0
        self.gso_segments = 0
        # Offload pass-through (system ports): unfinished frames delivered as OffloadFrame.
        self.offload = False
        self.rx_offloads = 0  # OffloadFrames in the last recv_batch
        self.offload_passed = 0  # ... in all

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def stats(self) -> NetdevStats:
        return self._stats

    @property
    def mtu(self) -> int:
        if not self._closed:
            try:
                self._mtu = if_mtu(self._ctl, self.name)
            except OSError:
                pass
        return self._mtu

    @property
    def hw_addr(self) -> bytes:
        if not self._closed:
            try:
                self._hw_addr = if_hw_addr(self._ctl, self.name)
            except OSError:
                pass
        return self._hw_addr

    @property
    def link_up(self) -> bool:
        """IFF_UP and IFF_RUNNING (administratively up, carrier present)."""
        if self._closed:
            return False
        try:
            flags = if_flags(self._ctl, self.name)
        except OSError:
            return False
        return flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING

    def present(self) -> bool:
        """Whether the interface this netdev opened still exists (same name, same ifindex).

        False once it was deleted (or deleted and re-created: a new device needs a new
        netdev); the datapath polls this to report vanished ports.
        """
        if self._closed:
            return False
        try:
            return if_index(self._ctl, self.name) == self.ifindex
        except OSError:
            return False

    def set_admin_up(self, up: bool) -> None:
        """Set the interface administratively up or down (raises OSError on failure)."""
        set_if_up(self._ctl, self.name, up)

    def get_offloads(self) -> dict[str, bool]:
        return get_offloads(self._ctl, self.name)

    def set_offloads(self, **features: bool) -> None:
        set_offloads(self._ctl, self.name, **features)

    def _max_frame(self) -> int:
        return self._mtu + ETH_HLEN

    def _fits(self, frame: Frame) -> bool:
        """Slow path of the MTU check: re-read the MTU (it may have grown), then decide."""
        return frame_fits_mtu(frame, self.mtu)

    def _tx_error(self, err: int) -> None:
        self.last_errno = err
        if err in _TX_DROP_ERRNOS:
            self._stats.tx_dropped += 1
        else:
            self._stats.tx_errors += 1

    def _rx_error(self, err: int) -> None:
        if err not in _RX_QUIET_ERRNOS:
            self.last_errno = err
            self._stats.rx_errors += 1

    def _finish(
        self, view: memoryview, base: int, length: int, vlan: int, append: Callable[[RxFrame], None]
    ) -> int:
        """Deliver a frame whose virtio_net_hdr says work is left: returns bytes delivered."""
        flags, gso_type, _, gso_size, csum_start, csum_offset = VNET_HDR.unpack_from(view, base)
        frame = view[base + VNET_HDR_LEN : base + length]
        if self.offload and not vlan:  # pass the work on (a stripped tag would move csum_start)
            append((offload_frame(frame, view[base : base + VNET_HDR_LEN]), vlan))
            self.rx_offloads += 1
            self.offload_passed += 1
            return length - VNET_HDR_LEN
        if gso_type != VIRTIO_NET_HDR_GSO_NONE:
            segments = gso_segment(frame, gso_type, gso_size, csum_start)
            if segments is None:
                self._stats.rx_dropped += 1
                return 0
            self.gso_frames += 1
            self.gso_segments += len(segments)
            for seg in segments:
                append((seg, vlan))
            return sum(len(seg) for seg in segments)
        if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            if not checksum_complete(frame, csum_start, csum_offset):
                self._stats.rx_errors += 1
                return 0
            self.csum_completed += 1
        append((frame, vlan))
        return length - VNET_HDR_LEN


# ------------------------------------------------------------------ system port


class SystemNetdev(_LinuxNetdev):
    """An existing Linux interface, through an AF_PACKET raw socket bound to it.

    Received: every frame arriving on the interface (promiscuous; our own and the
    host's outgoing frames are ignored), the stripped VLAN tag returned as the
    vlan word, checksums completed and GSO super-frames segmented. Returned frames
    are views into a receive slot, valid until the next recv_batch.
    `io="mmsg"` batches with recvmmsg/sendmmsg (ctypes), `io="msg"` uses
    recvmsg_into/sendmsg per packet, `io="auto"` picks mmsg when it loads.
    Raises OSError from the constructor if the interface cannot be opened.
    """

    type = "system"

    def __init__(
        self,
        ifname: str,
        *,
        batch: int = 256,
        io: str = "auto",
        promisc: bool = True,
        rcvbuf: int = 4 << 20,
        qdisc_bypass: bool = False,
        offload: bool = False,
        rx_ring: int = DEFAULT_FRAMES,
    ) -> None:
        super().__init__()
        self.offload = offload
        if io not in ("auto", "mmsg", "msg"):
            raise ValueError(f"io must be auto, mmsg or msg, not {io!r}")
        if io == "mmsg" and _MMSG is None:
            raise OSError(errno.ENOSYS, "recvmmsg/sendmmsg not available through ctypes")
        self.name = ifname
        self.io = "mmsg" if io == "auto" and _MMSG is not None else ("msg" if io == "auto" else io)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing yet
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            if qdisc_bypass:
                sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            ring = None
            if rx_ring > 0 and self.io == "mmsg":
                try:  # after PACKET_VNET_HDR (refused once a ring exists), before frames come
                    ring = RxPacketRing(sock, rx_ring)
                except OSError:
                    ring = None  # recvmmsg (or recvmsg) it is
            # Binding sets protocol and interface at once: no frames from other interfaces.
            sock.bind((ifname, ETH_P_ALL))
            self.ifindex = if_index(sock, ifname)
            if promisc:
                mreq = _PACKET_MREQ.pack(self.ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
            self._mtu = if_mtu(sock, ifname)
            self._hw_addr = if_hw_addr(sock, ifname)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._ctl = sock
        self._fd = sock.fileno()
        self._batch = batch
        self._rx = _RxRing(batch, RX_SLOT_SIZE)
        self._tx = _TxRing(batch) if self.io == "mmsg" else None
        self._recv = self._recv_mmsg if self.io == "mmsg" else self._recv_msg
        self.rx_ring = ring  # the TPACKET_V2 receive ring, None without one (datapath/netdev_ring.py)
        self._queue_checked = 0.0  # last look at the socket queue beside the ring (see _recv_ring)
        self._copies: list[tuple[int, int]] = []  # (length, flags) of a ring batch's copies
        self._claimed = 0  # frames the kernel put in the ring (its tp_packets - tp_drops)
        self._lost = 0  # of those, never written (counted in rx_dropped)

    def fileno(self) -> int | None:
        return None if self._closed else self._fd

    @property
    def stats(self) -> NetdevStats:
        """Counters, with the kernel's socket drops (receive buffer or ring full) folded
        into rx_dropped, and, with a ring, the frames it claimed a slot for and never
        wrote (the module docstring).  A frame still being written at this moment may
        count as lost once too: what is reported never goes down."""
        if not self._closed:
            try:
                raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _TPACKET_STATS.size)
            except OSError:
                return self._stats
            packets, drops = _TPACKET_STATS.unpack(raw)  # reading resets them
            self._stats.rx_dropped += drops
            ring = self.rx_ring
            if ring is not None:
                self._claimed += packets - drops
                lost = self._claimed - ring.taken - ring.unread()
                if lost > self._lost:
                    self._stats.rx_dropped += lost - self._lost
                    self._lost = lost
        return self._stats

    def rx_audit(self) -> bool:
        """True when frames wait in the ring that the socket may not report (the
        datapath then drains this port); called every fraction of a second."""
        ring = self.rx_ring
        return ring is not None and not self._closed and ring.stranded()

    # -- receive

    def recv_batch(self, max_packets: int) -> list[RxFrame]:
        self.rx_offloads = 0
        if self.rx_ring is not None and not self._closed:
            return self._recv_ring(max_packets)
        return self._recv(max_packets)

    def _recv_ring(self, max_packets: int) -> list[RxFrame]:
        """From the ring; when it is empty (at most every QUEUE_CHECK s) from the socket
        queue too: that consumes a pending socket error (a device going down), which
        would otherwise keep the selector waking us up, and anything queued beside."""
        ring = self.rx_ring
        assert ring is not None
        count = max_packets if max_packets < self._rx.count else self._rx.count  # copies' slots
        frames = ring.receive(count, self._stats, self._finish, self._recv_copy)
        if frames:
            return frames
        now = time.monotonic()
        if now - self._queue_checked < QUEUE_CHECK:
            return frames
        self._queue_checked = now
        return self._recv(max_packets)

    def _recv_copy(self, k: int, total: int, vlan: int, append: Callable[[RxFrame], None]) -> int:
        """The full copy of the k-th frame (of ``total``) of a ring batch that the ring holds
        truncated (TP_STATUS_COPY), from the socket queue into receive slot k; the first
        call fetches all ``total`` (one recvmmsg); returns the bytes delivered."""
        rx = self._rx
        if k == 0:
            self._copies = self._fetch_copies(total)
        if k >= len(self._copies):
            return 0  # an empty-ring queue check took it already, before its slot was marked
        length, flags = self._copies[k]
        base = rx.bases[k]
        view = rx.view
        if flags & MSG_TRUNC or length < VNET_HDR_LEN + ETH_HLEN:
            self._stats.rx_errors += 1
            return 0
        if view[base] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[base + 1]:
            return self._finish(view, base, length, vlan, append)
        append((view[base + VNET_HDR_LEN : base + length], vlan))
        return length - VNET_HDR_LEN

    def _fetch_copies(self, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` queued frames into receive slots 0..: (length, msg_flags) each."""
        rx = self._rx
        dirty = rx.dirty * _MMSG_SIZE
        if dirty:
            rx.msgs[:dirty] = rx.pristine[:dirty]
        assert _MMSG is not None
        got = _MMSG[0](self._fd, rx.msgs_addr, count, MSG_DONTWAIT, None)
        rx.dirty = max(got, 0)
        if got <= 0:
            if got < 0:
                self._rx_error(ctypes.get_errno())
            return []
        lengths = rx.msgs_u32[_MSG_LEN_U32 : got * _U32_STRIDE : _U32_STRIDE].tolist()
        return list(zip(lengths, bytes(rx.msgs[_MSG_FLAGS_LOW : got * _MMSG_SIZE : _MMSG_SIZE])))

    def _recv_mmsg(self, max_packets: int) -> list[RxFrame]:
        rx = self._rx
        count = max_packets if max_packets < rx.count else rx.count
        if count <= 0 or self._closed:
            return []
        msgs = rx.msgs
        dirty = rx.dirty * _MMSG_SIZE
        if dirty:  # the kernel wrote msg_controllen (and flags, len) of those only
            msgs[:dirty] = rx.pristine[:dirty]
        assert _MMSG is not None
        got = _MMSG[0](self._fd, rx.msgs_addr, count, MSG_DONTWAIT, None)
        if got <= 0:
            rx.dirty = 0
            if got < 0:
                self._rx_error(ctypes.get_errno())
            return []
        rx.dirty = got
        if got == 1:
            return self._deliver_one()
        lengths = rx.msgs_u32[_MSG_LEN_U32 : got * _U32_STRIDE : _U32_STRIDE].tolist()
        view = rx.view
        slot = rx.slot_size
        span = got * slot
        ctl_span = got * _CTL_SIZE
        # Anything unusual in the batch (truncation, short frame, partial checksum,
        # GSO, missing auxdata) sends the whole batch down the per-frame path.
        unusual = (
            bytes(msgs[_MSG_FLAGS_LOW : got * _MMSG_SIZE : _MMSG_SIZE]).translate(_KEEP_TRUNC)
            + bytes(view[0:span:slot]).translate(_KEEP_NEEDS_CSUM)
            + bytes(view[1:span:slot])
        ).strip(b"\0")
        status = bytes(rx.ctl[_AUX_STATUS_LOW:ctl_span:_CTL_SIZE])
        if unusual or min(lengths) < VNET_HDR_LEN + ETH_HLEN or self._aux_missing(got):
            return self._deliver_each(got, lengths)
        frames = [view[base + VNET_HDR_LEN : base + n] for base, n in zip(rx.bases, lengths)]
        out: list[RxFrame]
        if status.translate(_KEEP_VLAN).strip(b"\0"):
            ctl = rx.ctl
            vlans = [_vlan_word(ctl, i * _CTL_SIZE + _CMSG_HDR) for i in range(got)]
            out = list(zip(frames, vlans))
        else:
            out = list(zip(frames, repeat(0)))
        stats = self._stats
        stats.rx_packets += got
        stats.rx_bytes += sum(lengths) - got * VNET_HDR_LEN
        return out

    def _deliver_one(self) -> list[RxFrame]:
        """A batch of one frame (what low rates bring): the batch checks done directly,
        which costs a fraction of the strided ones when the process wakes up cold."""
        rx = self._rx
        u32 = rx.msgs_u32
        length = u32[_MSG_LEN_U32]
        view = rx.view
        if (rx.msgs[_MSG_FLAGS_LOW] & MSG_TRUNC or length < VNET_HDR_LEN + ETH_HLEN
                or view[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[1] or not u32[_MSG_CTL_U32]):
            return self._deliver_each(1, [length])
        ctl = rx.ctl
        vlan = _vlan_word(ctl, _CMSG_HDR) if ctl[_AUX_STATUS_LOW] & TP_STATUS_VLAN_VALID else 0
        stats = self._stats
        stats.rx_packets += 1
        stats.rx_bytes += length - VNET_HDR_LEN
        return [(view[VNET_HDR_LEN:length], vlan)]

    def _aux_missing(self, got: int) -> bool:
        """Whether some message of the batch came without its PACKET_AUXDATA cmsg."""
        u32 = self._rx.msgs_u32
        return 0 in u32[_MSG_CTL_U32 : got * _U32_STRIDE : _U32_STRIDE].tolist()

    def _deliver_each(self, got: int, lengths: list[int]) -> list[RxFrame]:
        """The per-frame path of an mmsg batch: errors, offload work, auxdata checks."""
        rx = self._rx
        ctl_lens = rx.msgs_u32[_MSG_CTL_U32 : got * _U32_STRIDE : _U32_STRIDE].tolist()
        flags = bytes(rx.msgs[_MSG_FLAGS_LOW : got * _MMSG_SIZE : _MMSG_SIZE])
        ctl = rx.ctl
        entries = [
            (lengths[i], flags[i], _vlan_word(ctl, i * _CTL_SIZE + _CMSG_HDR) if ctl_lens[i] else 0)
            for i in range(got)
        ]
        return self._deliver(entries)

    def _deliver(self, entries: list[tuple[int, int, int]]) -> list[RxFrame]:
        """Frames of slots 0.. from (length, msg_flags, vlan word) each, finished where needed."""
        rx = self._rx
        view = rx.view
        out: list[RxFrame] = []
        append = out.append
        delivered = 0
        for base, (length, flags, vlan) in zip(rx.bases, entries):
            if flags & MSG_TRUNC or length < VNET_HDR_LEN + ETH_HLEN:
                self._stats.rx_errors += 1
            elif view[base] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[base + 1]:
                delivered += self._finish(view, base, length, vlan, append)
            else:
                append((view[base + VNET_HDR_LEN : base + length], vlan))
                delivered += length - VNET_HDR_LEN
        stats = self._stats
        stats.rx_packets += len(out)
        stats.rx_bytes += delivered
        return out

    def _recv_msg(self, max_packets: int) -> list[RxFrame]:
        """Per-packet recvmsg_into (the fallback): auxdata arrives as ancillary data."""
        rx = self._rx
        count = max_packets if max_packets < rx.count else rx.count
        if self._closed:
            return []
        recvmsg_into = self._sock.recvmsg_into
        entries = []
        for i in range(count):
            try:
                length, ancdata, flags, _ = recvmsg_into([rx.views[i]], _CTL_SIZE, MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._rx_error(exc.errno or 0)
                break
            vlan = 0
            for level, kind, data in ancdata:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= _AUX_SIZE:
                    vlan = _vlan_word(data, 0)
            entries.append((length, flags, vlan))
        return self._deliver(entries) if entries else []

    # -- send

    def send(self, frame: Frame) -> bool:
        return self.send_batch((frame,)) == 1

    def send_batch(self, frames: Iterable[Frame]) -> int:
        if not isinstance(frames, list):
            frames = list(frames)
        if not frames:
            return 0
        stats = self._stats
        if self._closed:
            stats.tx_dropped += len(frames)
            return 0
        if len(frames) == 1:
            return self._send_one(frames[0], _VNET_ZERO)
        lens = list(map(len, frames))
        limit = self._max_frame()
        if max(lens) > limit:  # slow path: some frame may be over the MTU
            keep = [i for i, size in enumerate(lens) if size <= limit or self._fits(frames[i])]
            stats.tx_dropped += len(frames) - len(keep)
            frames = [frames[i] for i in keep]
            lens = [lens[i] for i in keep]
        tx = self._tx
        if tx is None:
            return self._send_msg(frames, lens)
        if len(frames) <= tx.count:
            return self._send_chunk(tx, frames, lens)
        sent = 0
        for start in range(0, len(frames), tx.count):
            end = start + tx.count
            sent += self._send_chunk(tx, frames[start:end], lens[start:end])
        return sent

    def _send_chunk(self, tx: _TxRing, frames: list[Frame], lens: list[int]) -> int:
        """sendmmsg up to tx.count frames; a frame the kernel refuses is counted and skipped."""
        count = len(frames)
        if not count:
            return 0
        blob = b"".join(frames)  # one copy, at C speed; alive until sendmmsg returns
        values = tx.values
        values[2 : 4 * count : 4] = list(accumulate(lens, initial=_bytes_address(blob)))[:count]
        values[3 : 4 * count : 4] = lens
        tx.packer(count).pack_into(tx.iovs, 0, *values[: 4 * count])
        return self._sendmmsg(tx, lens)

    def _sendmmsg(self, tx: _TxRing, lens: list[int]) -> int:
        """sendmmsg the first len(lens) prepared messages of tx; counts what went out."""
        count = len(lens)
        assert _MMSG is not None
        sendmmsg = _MMSG[1]
        start = 0
        sent = 0
        sent_bytes = 0
        while start < count:
            done = sendmmsg(self._fd, tx.msgs_addr + start * _MMSG_SIZE, count - start, MSG_DONTWAIT)
            if done > 0:
                sent_bytes += sum(lens[start : start + done])
                sent += done
                start += done
            else:
                self._tx_error(ctypes.get_errno())
                start += 1
        stats = self._stats
        stats.tx_packets += sent
        stats.tx_bytes += sent_bytes
        return sent

    def send_batch_offload(self, frames: Iterable[Frame]) -> int:
        """`send_batch` for batches that may hold OffloadFrames: those go out with their
        virtio_net_hdr, so the kernel completes the checksum and segments on output
        (what it would have done for the original sender). Their size is not held
        against the MTU (a GSO super-frame is bigger by design; its gso_size is what
        goes on the wire); other frames are checked as in send_batch."""
        if not isinstance(frames, list):
            frames = list(frames)
        if not frames:
            return 0
        stats = self._stats
        if self._closed:
            stats.tx_dropped += len(frames)
            return 0
        limit = self._max_frame()
        keep = [f for f in frames if type(f) is OffloadFrame or len(f) <= limit or self._fits(f)]
        stats.tx_dropped += len(frames) - len(keep)
        headers = [f.vnet if type(f) is OffloadFrame else _VNET_ZERO for f in keep]
        if len(keep) == 1:
            return self._send_one(keep[0], headers[0])
        tx = self._tx
        if tx is None:
            return self._send_msg(keep, list(map(len, keep)), headers)
        sent = 0
        for start in range(0, len(keep), tx.count):
            end = start + tx.count
            sent += self._send_chunk_headers(tx, keep[start:end], headers[start:end])
        return sent

    def _send_chunk_headers(self, tx: _TxRing, frames: list[Frame], headers: list[bytes]) -> int:
        """sendmmsg with a virtio_net_hdr of its own per frame (header, frame iovecs)."""
        pieces: list[Frame] = [piece for pair in zip(headers, frames) for piece in pair]
        blob = b"".join(pieces)
        sizes = list(map(len, pieces))
        addresses = accumulate(sizes, initial=_bytes_address(blob))
        values = [value for pair in zip(addresses, sizes) for value in pair]
        tx.packer(len(frames)).pack_into(tx.iovs, 0, *values)
        return self._sendmmsg(tx, sizes[1::2])

    def _send_one(self, frame: Frame, header: bytes) -> int:
        """One frame, one sendmsg: at low rates the process wakes up cold, and the socket
        module's sendmsg then costs about a third of a sendmmsg prepared through ctypes."""
        size = len(frame)
        if size > self._mtu + ETH_HLEN and header is _VNET_ZERO and not self._fits(frame):
            self._stats.tx_dropped += 1
            return 0
        try:
            self._sock.sendmsg([header, frame], (), MSG_DONTWAIT)
        except OSError as exc:
            self._tx_error(exc.errno or 0)
            return 0
        stats = self._stats
        stats.tx_packets += 1
        stats.tx_bytes += size
        return 1

    def _send_msg(self, frames: list[Frame], lens: list[int],
                  headers: list[bytes] | None = None) -> int:
        sendmsg = self._sock.sendmsg
        stats = self._stats
        sent = 0
        for frame, size, header in zip(frames, lens, headers or repeat(_VNET_ZERO)):
            try:
                sendmsg([header, frame], (), MSG_DONTWAIT)
            except OSError as exc:
                self._tx_error(exc.errno or 0)
                continue
            sent += 1
            stats.tx_packets += 1
            stats.tx_bytes += size
        return sent

    def close(self) -> None:
        """Close the socket; the kernel drops our promiscuous membership with it."""
        if not self._closed:
            self._closed = True
            self._sock.close()
            if self.rx_ring is not None:
                self.rx_ring.close()
