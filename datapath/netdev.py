"""Netdevs: the datapath's ports as seen from the packet path, and the in-memory dummy.

Sits at the bottom of datapath/: the flow extractor and action executor above it
only ever see frames and counters. It owns the `Netdev` contract (a non-blocking
batch receive, batch send, per-port counters, MTU/MAC/carrier), the counters
object, the VLAN tag word shared by every netdev, the helpers that make a frame
the kernel left unfinished complete (checksum completion, GSO segmentation; pure
functions, unit-tested without root), and `DummyNetdev`, an in-memory port
(inject a frame, collect what was output) that needs no root: a product feature
for testing controllers, and what the unit tests run on. The Linux ports
(AF_PACKET "system" ports and the tap "internal" port) live in netdev_linux.py.

The contract every netdev keeps:
- `recv_batch(n)` never blocks and never raises: it returns up to n frames, [] when
  there is nothing. Each frame is complete: checksums filled in, no GSO
  super-frames, the outer VLAN tag (if the kernel stripped it) returned beside the
  frame as the vlan word below. A frame may be a memoryview that is only valid until
  the next `recv_batch` on the same netdev: copy it (`bytes(frame)`) to keep it.
- `send`/`send_batch` never raise: kernel errors (ENOBUFS, EMSGSIZE, ENETDOWN,
  EAGAIN, ...) and over-MTU frames become counters (tx_dropped / tx_errors).
- The vlan word is `(tpid << 16) | tci`, 0 for "no tag"; a priority tag
  (tci 0) is therefore still distinguishable from none. `vlan_tag()` builds one.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

ETH_HLEN = 14
VLAN_HLEN = 4
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
VLAN_TPID_SHIFT = 16
VLAN_TCI_MASK = 0xFFFF

Frame = bytes | bytearray | memoryview
"""What a netdev accepts for output (anything with the buffer protocol and len())."""
RxFrame = tuple[bytes | bytearray | memoryview, int]
"""What recv_batch yields: (frame, vlan word)."""

_TAG = struct.Struct("!HH")
_BE16 = struct.Struct("!H")
_BE32 = struct.Struct("!I")

# GSO types of struct virtio_net_hdr (<linux/virtio_net.h>), what a super-frame is.
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_UDP = 3  # UFO (IP fragmentation): not segmented here
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_UDP_L4 = 5
VIRTIO_NET_HDR_GSO_ECN = 0x80
_MAX_SEGMENTS = 1024


class NetdevStats:
    """Per-port counters, named like Linux's `struct rtnl_link_stats64` (plain ints)."""

    __slots__ = (
        "rx_packets",
        "rx_bytes",
        "tx_packets",
        "tx_bytes",
        "rx_dropped",
        "tx_dropped",
        "rx_errors",
        "tx_errors",
    )

    def __init__(self) -> None:
        self.rx_packets = 0
        self.rx_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.rx_dropped = 0
        self.tx_dropped = 0
        self.rx_errors = 0
        self.tx_errors = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.as_dict().items())
        return f"NetdevStats({fields})"


@runtime_checkable
class Netdev(Protocol):
    """A datapath port. Everything here is non-blocking and never raises per packet."""

    @property
    def name(self) -> str: ...

    @property
    def stats(self) -> NetdevStats: ...

    @property
    def mtu(self) -> int: ...

    @property
    def hw_addr(self) -> bytes:
        """The port's 6-byte MAC address."""
        ...

    @property
    def link_up(self) -> bool:
        """Administratively up and carrier present."""
        ...

    def fileno(self) -> int | None:
        """File descriptor to wait on for readability (loop.add_reader), None if none."""
        ...

    def recv_batch(self, max_packets: int) -> list[RxFrame]: ...

    def send(self, frame: Frame) -> bool: ...

    def send_batch(self, frames: Iterable[Frame]) -> int:
        """Send frames in order; returns how many the kernel (or queue) accepted."""
        ...

    def close(self) -> None: ...


# ------------------------------------------------------------------ VLAN word helpers


def vlan_tag(tci: int, tpid: int = ETH_P_8021Q) -> int:
    """The vlan word for a tag: `(tpid << 16) | tci`."""
    return (tpid << VLAN_TPID_SHIFT) | (tci & VLAN_TCI_MASK)


def insert_vlan(frame: Frame, vlan: int) -> bytes:
    """`frame` with the tag described by the vlan word put back after the MAC addresses.

    For forwarding a frame whose outer tag the kernel stripped (PACKET_AUXDATA);
    vlan == 0 returns the frame unchanged (as bytes).
    """
    if not vlan:
        return bytes(frame)
    head = bytes(frame[:12])
    return head + _TAG.pack(vlan >> VLAN_TPID_SHIFT, vlan & VLAN_TCI_MASK) + bytes(frame[12:])


def frame_fits_mtu(frame: Frame, mtu: int) -> bool:
    """Whether an Ethernet frame fits a device of this MTU (Linux's AF_PACKET rule).

    The payload may be `mtu` bytes after the 14-byte header; a frame whose
    ethertype is 802.1Q may be 4 bytes longer (the kernel's
    packet_extra_vlan_len_allowed accepts 0x8100 only, not 0x88a8).
    """
    size = len(frame)
    if size <= mtu + ETH_HLEN:
        return True
    return size <= mtu + ETH_HLEN + VLAN_HLEN and bytes(frame[12:14]) == b"\x81\x00"


# ------------------------------------------------------------------ finishing frames: checksums, GSO


def ones_sum(data: Frame) -> int:
    """Ones'-complement sum of `data` as big-endian 16-bit words (odd length zero-padded).

    Returned reduced modulo 0xFFFF (RFC 1071's sum up to its +0/-0 ambiguity), so
    partial sums over even-length pieces add up with `+` and a final `% 0xFFFF`.
    The whole buffer becomes one integer in C: 2**16 = 1 (mod 0xFFFF), so its
    value mod 0xFFFF is the word sum; reading it little-endian yields the byte-swapped
    sum, which times 256 (a byte swap) is the big-endian one.
    """
    swapped = int.from_bytes(data, "little") % 0xFFFF
    return ((swapped & 0xFF) << 8) | (swapped >> 8)


def checksum_complete(frame: bytearray | memoryview, csum_start: int, csum_offset: int) -> bool:
    """Finish a CHECKSUM_PARTIAL frame in place, as the kernel's skb_checksum_help does.

    The field at csum_start+csum_offset holds the pseudo-header sum; the checksum
    over everything from csum_start on replaces it (0 is sent as 0xFFFF).
    False (frame untouched) if the offsets do not fit the frame.
    """
    field = csum_start + csum_offset
    if csum_start < ETH_HLEN or field + 2 > len(frame):
        return False
    value = 0xFFFF - ones_sum(frame[csum_start:]) % 0xFFFF
    frame[field] = value >> 8
    frame[field + 1] = value & 0xFF
    return True


def _l3_offset(frame: Frame) -> tuple[int, int]:
    """(offset of the L3 header, its ethertype), skipping VLAN tags left in the frame."""
    offset = 12
    for _ in range(4):
        ethertype = _BE16.unpack_from(frame, offset)[0]
        if ethertype != ETH_P_8021Q and ethertype != ETH_P_8021AD:
            return offset + 2, ethertype
        offset += 4
    raise ValueError("too many VLAN tags")


def gso_segment(frame: Frame, gso_type: int, gso_size: int, csum_start: int) -> list[bytearray] | None:
    """Cut a GSO super-frame (TCP over IPv4/IPv6, or UDP_L4) into wire-sized frames.

    Each segment gets its own IP length (and IPv4 id + header checksum), TCP
    sequence number and flags (FIN/PSH only on the last, CWR only on the first)
    and a full L4 checksum. None if the frame is not something we can segment.
    """
    try:
        kind = gso_type & ~VIRTIO_NET_HDR_GSO_ECN
        l3, ethertype = _l3_offset(frame)
        l4 = csum_start
        version = frame[l3] >> 4
        if version == 4 and ethertype == 0x0800:
            if l4 != l3 + (frame[l3] & 0x0F) * 4:
                return None
            addrs = frame[l3 + 12 : l3 + 20]
        elif version == 6 and ethertype == 0x86DD:
            if l4 < l3 + 40:
                return None
            addrs = frame[l3 + 8 : l3 + 40]
        else:
            return None
        if kind == (VIRTIO_NET_HDR_GSO_TCPV4 if version == 4 else VIRTIO_NET_HDR_GSO_TCPV6):
            proto, l4_hlen = 6, (frame[l4 + 12] >> 4) * 4
            if l4_hlen < 20:
                return None
        elif kind == VIRTIO_NET_HDR_GSO_UDP_L4:
            proto, l4_hlen = 17, 8
        else:
            return None
        payload = l4 + l4_hlen
        total = len(frame)
        if gso_size <= 0 or payload >= total or (total - payload) > gso_size * _MAX_SEGMENTS:
            return None
        return _segments(frame, version, l3, l4, payload, gso_size, proto, ones_sum(addrs))
    except (IndexError, ValueError, struct.error):
        return None


def _segments(
    frame: Frame, version: int, l3: int, l4: int, payload: int, size: int, proto: int, addr_sum: int
) -> list[bytearray]:
    header = bytes(frame[:payload])
    total = len(frame)
    tcp = proto == 6
    if tcp:
        seq = _BE32.unpack_from(frame, l4 + 4)[0]
        tcp_flags = frame[l4 + 13]
    ip_id = _BE16.unpack_from(frame, l3 + 4)[0] if version == 4 else 0
    ihl = (frame[l3] & 0x0F) * 4
    segments = []
    start = payload
    index = 0
    while start < total:
        end = min(start + size, total)
        chunk = frame[start:end]
        seg = bytearray(header)
        seg += chunk
        if version == 4:
            _BE16.pack_into(seg, l3 + 2, len(seg) - l3)
            _BE16.pack_into(seg, l3 + 4, (ip_id + index) & 0xFFFF)
            seg[l3 + 10 : l3 + 12] = b"\0\0"
            _BE16.pack_into(seg, l3 + 10, 0xFFFF - ones_sum(seg[l3 : l3 + ihl]) % 0xFFFF)
        else:
            _BE16.pack_into(seg, l3 + 4, len(seg) - l3 - 40)
        l4_len = len(seg) - l4
        if tcp:
            _BE32.pack_into(seg, l4 + 4, (seq + start - payload) & 0xFFFFFFFF)
            flags = tcp_flags
            if end < total:
                flags &= ~0x09  # FIN, PSH: last segment only
            if index:
                flags &= ~0x80  # CWR: first segment only
            seg[l4 + 13] = flags
            field = l4 + 16
        else:
            _BE16.pack_into(seg, l4 + 4, l4_len)
            field = l4 + 6
        seg[field : field + 2] = b"\0\0"
        # The L4 header is a multiple of 4 bytes long: header and payload sums add up.
        csum = addr_sum + proto + l4_len + ones_sum(seg[l4:payload]) + ones_sum(chunk)
        _BE16.pack_into(seg, field, 0xFFFF - csum % 0xFFFF)
        segments.append(seg)
        start = end
        index += 1
    return segments


# ------------------------------------------------------------------ offload pass-through

# struct virtio_net_hdr (<linux/virtio_net.h>), native byte order.
VNET_HDR = struct.Struct("=BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_HDR_LEN = VNET_HDR.size
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_NONE = 0


class OffloadFrame(bytes):
    """A frame the kernel left unfinished, with the virtio_net_hdr (``vnet``) saying what
    is left: a partial checksum and/or a GSO super-frame to be cut into segments.

    A netdev that passes offload work through delivers these instead of finishing them;
    whoever only forwards one may hand it, unchanged, to a netdev with
    ``send_batch_offload`` (the kernel then does the work on output, as it would have
    for the sender); everyone else first calls ``finish_frame``.  Slicing or
    concatenating one yields plain ``bytes``: anything that rewrites a frame must
    finish it first.
    """

    vnet: bytes


def offload_frame(data: Frame, vnet: Frame) -> OffloadFrame:
    frame = OffloadFrame(data)
    frame.vnet = bytes(vnet)
    return frame


def finish_frame(frame: OffloadFrame) -> list[bytes | bytearray]:
    """What the kernel would have put on the wire: the segments of a GSO frame (each
    with its own headers and checksums), or the frame with its checksum completed.
    [] when the header describes something we cannot finish (counted by the caller)."""
    flags, gso_type, _, gso_size, csum_start, csum_offset = VNET_HDR.unpack(frame.vnet)
    if gso_type != VIRTIO_NET_HDR_GSO_NONE:
        return list(gso_segment(frame, gso_type, gso_size, csum_start) or ())
    if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
        buf = bytearray(frame)
        return [buf] if checksum_complete(buf, csum_start, csum_offset) else []
    return [bytes(frame)]


def finish_frames(frames: Iterable[Frame]) -> list[Frame]:
    """``frames`` with every OffloadFrame among them finished (order kept)."""
    out: list[Frame] = []
    for frame in frames:
        if type(frame) is OffloadFrame:
            out.extend(finish_frame(frame))
        else:
            out.append(frame)
    return out


def local_mac(name: str) -> bytes:
    """A stable locally administered unicast MAC derived from a port name."""
    return b"\x02" + hashlib.blake2b(name.encode(), digest_size=5).digest()


# ------------------------------------------------------------------ dummy


class DummyNetdev:
    """An in-memory port: `inject()` what the wire would deliver, read `sent`.

    Both directions are bounded: the receive queue holds `rx_queue_len` frames
    (beyond that injected frames count as rx_dropped), `sent` keeps the last
    `sent_len` output frames (copies, so memoryviews from other netdevs are safe
    to output). With the link down, injected frames are dropped (rx_dropped) and
    sends fail (tx_dropped), as on a port without carrier. `on_rx`, when set, is
    called with no arguments after each queued frame (the datapath's wake-up: it
    has no file descriptor to wait on).
    """

    type = "dummy"

    def __init__(
        self,
        name: str,
        hw_addr: bytes | None = None,
        mtu: int = 1500,
        *,
        rx_queue_len: int = 4096,
        sent_len: int = 4096,
    ) -> None:
        if hw_addr is not None and len(hw_addr) != 6:
            raise ValueError(f"hw_addr must be 6 bytes, got {len(hw_addr)}")
        self.name = name
        self.hw_addr = hw_addr if hw_addr is not None else local_mac(name)
        self.mtu = mtu
        self.link_up = True
        self.stats = NetdevStats()
        self.sent: deque[bytes] = deque(maxlen=sent_len)
        self._rx: deque[RxFrame] = deque()
        self._rx_queue_len = rx_queue_len
        self.closed = False
        self.on_rx: Callable[[], None] | None = None
        self.vanished = False  # set by a test: the "device" was deleted under the datapath

    def __repr__(self) -> str:
        return f"DummyNetdev({self.name!r})"

    def fileno(self) -> int | None:
        return None

    # -- the wire side (tests, controllers under test)

    def inject(self, frame: Frame, vlan_tci: int = 0) -> bool:
        """Queue a frame as if received from the wire; False if it was dropped.

        `vlan_tci` is the vlan word of a tag the "kernel" stripped:
        `vlan_tag(tci, tpid)`, or 0 for none.
        """
        if vlan_tci and not vlan_tci >> VLAN_TPID_SHIFT:
            raise ValueError(
                f"vlan word {vlan_tci:#x} has no TPID: pass vlan_tag(tci) ((tpid << 16) | tci)"
            )
        if self.closed or not self.link_up or len(self._rx) >= self._rx_queue_len:
            self.stats.rx_dropped += 1
            return False
        self._rx.append((bytes(frame), vlan_tci))
        if self.on_rx is not None:
            self.on_rx()
        return True

    def present(self) -> bool:
        """False once closed or marked vanished (what a deleted Linux interface reports)."""
        return not self.closed and not self.vanished

    def set_link(self, up: bool) -> None:
        """Carrier on/off (what a controller sees as OFPPS_LINK_DOWN)."""
        self.link_up = up

    # -- the datapath side

    def recv_batch(self, max_packets: int) -> list[RxFrame]:
        rx = self._rx
        count = min(max_packets, len(rx))
        if count <= 0:
            return []
        frames = [rx.popleft() for _ in range(count)]
        stats = self.stats
        stats.rx_packets += count
        stats.rx_bytes += sum(len(frame) for frame, _ in frames)
        return frames

    def send(self, frame: Frame) -> bool:
        stats = self.stats
        if self.closed or not self.link_up:
            stats.tx_dropped += 1
            return False
        if not frame_fits_mtu(frame, self.mtu):
            stats.tx_dropped += 1
            return False
        self.sent.append(bytes(frame))
        stats.tx_packets += 1
        stats.tx_bytes += len(frame)
        return True

    def send_batch(self, frames: Iterable[Frame]) -> int:
        send = self.send
        return sum(1 for frame in frames if send(frame))

    def close(self) -> None:
        self.closed = True
        self._rx.clear()


# ------------------------------------------------------------------ patch

MAX_PATCH_DEPTH = 8
"""Patch hops one packet may take before it is dropped (a loop of patch ports, or a
flood fanning out through them, ends here; each drop counts in tx_dropped and `loops`)."""


class PatchNetdev:
    """One end of a patch cable between two datapaths (or two ports of one).

    What is sent out of one end is received on its peer at once: the datapath
    that owns the peer sets `deliver` (a callable taking a list of RxFrame) when
    the port is added, and processes those frames before `send_batch` returns, so
    a packet crosses any number of bridges within one batch. The recursion is
    bounded by MAX_PATCH_DEPTH, counted over the whole chain. There is no queue
    and no file descriptor; `recv_batch` is always empty. The link is up while
    both ends are open and joined (`connect_patch`).
    """

    type = "patch"
    _depth = 0  # patch hops of the packet(s) being delivered right now, all patch ports

    def __init__(self, name: str, hw_addr: bytes | None = None, mtu: int = 65535) -> None:
        if hw_addr is not None and len(hw_addr) != 6:
            raise ValueError(f"hw_addr must be 6 bytes, got {len(hw_addr)}")
        self.name = name
        self.hw_addr = hw_addr if hw_addr is not None else local_mac(name)
        self.mtu = mtu
        self.stats = NetdevStats()
        self.peer: PatchNetdev | None = None
        self.deliver: Callable[[list[RxFrame]], None] | None = None
        self.closed = False
        self.loops = 0  # frames dropped at MAX_PATCH_DEPTH

    def __repr__(self) -> str:
        peer = self.peer.name if self.peer is not None else None
        return f"PatchNetdev({self.name!r}, peer={peer!r})"

    @property
    def link_up(self) -> bool:
        peer = self.peer
        return not self.closed and peer is not None and not peer.closed

    def present(self) -> bool:
        return not self.closed

    def fileno(self) -> int | None:
        return None

    def recv_batch(self, max_packets: int) -> list[RxFrame]:
        return []

    def send(self, frame: Frame) -> bool:
        return self.send_batch((frame,)) == 1

    def send_batch(self, frames: Iterable[Frame]) -> int:
        batch = list(frames)
        if not batch:
            return 0
        peer = self.peer
        stats = self.stats
        if not self.link_up or peer is None or peer.deliver is None:
            stats.tx_dropped += len(batch)
            return 0
        if PatchNetdev._depth >= MAX_PATCH_DEPTH:
            stats.tx_dropped += len(batch)
            self.loops += len(batch)
            return 0
        size = sum(map(len, batch))
        stats.tx_packets += len(batch)
        stats.tx_bytes += size
        peer.stats.rx_packets += len(batch)
        peer.stats.rx_bytes += size
        PatchNetdev._depth += 1
        try:
            peer.deliver([(frame, 0) for frame in batch])
        finally:
            PatchNetdev._depth -= 1
        return len(batch)

    def close(self) -> None:
        self.closed = True
        self.deliver = None


def connect_patch(a: PatchNetdev, b: PatchNetdev) -> None:
    """Join two patch ends (OVS options:peer on both sides)."""
    if a is b:
        raise ValueError("a patch port cannot be its own peer")
    a.peer = b
    b.peer = a
