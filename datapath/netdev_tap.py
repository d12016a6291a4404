"""netdev_tap: the `internal` port -- a tap device the agent creates for a bridge.

Sits beside netdev_linux.py (system ports), sharing its base class (counters,
properties by ioctl, finishing offloaded frames) and its receive ring.  It owns tap
creation (TUNSETIFF; with ``vnet_hdr`` the checksum/TSO offload announcement) and
reading/writing frames through the tap's file descriptor.  The device goes away when
the netdev is closed.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from collections.abc import Iterable

from datapath.linux_if import (  # noqa: F401 (get_offloads, set_offloads: re-exported)
    _IFREQ_SHORT,
    IFF_RUNNING,
    IFF_UP,
    _ifname,
    get_offloads,
    if_flags,
    if_hw_addr,
    if_index,
    if_mtu,
    set_if_hw_addr,
    set_if_mtu,
    set_if_up,
    set_offloads,
)
from datapath.netdev import (
    ETH_HLEN,
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VNET_HDR_LEN,
    Frame,
    OffloadFrame,
    RxFrame,
    finish_frames,
)
from datapath.netdev_linux import _VNET_ZERO, RX_SLOT_SIZE, _LinuxNetdev, _RxRing

# <linux/if_tun.h>
TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
TUN_F_TSO_ECN = 0x08



class InternalNetdev(_LinuxNetdev):
    """A tap device created for the bridge's LOCAL port; it disappears on close().

    Frames the host stack sends out of the tap are received here; frames sent
    here reach the host stack. Created administratively down, like Open vSwitch's
    internal ports (`set_admin_up(True)` or `ip link set ... up`). With
    `vnet_hdr=True` the tap announces checksum and TSO offload, so the host stack
    hands over partial checksums and 64 KB super-frames (finished here like on a
    system port) instead of doing that work itself.
    """

    type = "internal"

    def __init__(
        self,
        ifname: str,
        *,
        vnet_hdr: bool = False,
        batch: int = 64,
        mtu: int | None = None,
        hw_addr: bytes | None = None,
    ) -> None:
        super().__init__()
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        ctl: socket.socket | None = None
        try:
            flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet_hdr else 0)
            ifreq = fcntl.ioctl(fd, TUNSETIFF, _IFREQ_SHORT.pack(_ifname(ifname), flags))
            self.name = ifreq[:16].rstrip(b"\0").decode()
            if vnet_hdr:
                fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
                fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
            ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if hw_addr is not None:
                set_if_hw_addr(ctl, self.name, hw_addr)
            if mtu is not None:
                set_if_mtu(ctl, self.name, mtu)
            self._mtu = if_mtu(ctl, self.name)
            self._hw_addr = if_hw_addr(ctl, self.name)
            self.ifindex = if_index(ctl, self.name)
        except BaseException:
            os.close(fd)
            if ctl is not None:
                ctl.close()
            raise
        self._fd = fd
        self._ctl = ctl
        self.vnet_hdr = vnet_hdr
        self._hdr_len = VNET_HDR_LEN if vnet_hdr else 0
        self._rx = _RxRing(batch, RX_SLOT_SIZE)

    def fileno(self) -> int | None:
        return None if self._closed else self._fd

    def recv_batch(self, max_packets: int) -> list[RxFrame]:
        rx = self._rx
        count = max_packets if max_packets < rx.count else rx.count
        if self._closed:
            return []
        self.rx_offloads = 0
        out: list[RxFrame] = []
        append = out.append
        readv = os.readv
        fd = self._fd
        view = rx.view
        hdr_len = self._hdr_len
        delivered = 0
        for i in range(count):
            try:
                length = readv(fd, [rx.views[i]])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._rx_error(exc.errno or 0)
                break
            if length < hdr_len + ETH_HLEN:
                self._stats.rx_errors += 1
                continue
            base = i * rx.slot_size
            if hdr_len and (view[base] & VIRTIO_NET_HDR_F_NEEDS_CSUM or view[base + 1]):
                delivered += self._finish(view, base, length, 0, append)
                continue
            append((view[base + hdr_len : base + length], 0))
            delivered += length - hdr_len
        stats = self._stats
        stats.rx_packets += len(out)
        stats.rx_bytes += delivered
        return out

    def send(self, frame: Frame) -> bool:
        return self._write(frame, _VNET_ZERO)

    def send_batch_offload(self, frames: Iterable[Frame]) -> int:
        """`send_batch` that writes OffloadFrames with their virtio_net_hdr (a tap with
        vnet_hdr: the host stack takes the partial checksum / GSO frame as it is);
        without vnet_hdr they are finished here first."""
        if not self._hdr_len:
            return self.send_batch(finish_frames(frames))
        write = self._write
        return sum(1 for frame in frames
                   if write(frame, frame.vnet if type(frame) is OffloadFrame else _VNET_ZERO))

    def _write(self, frame: Frame, header: bytes) -> bool:
        stats = self._stats
        if self._closed:
            stats.tx_dropped += 1
            return False
        size = len(frame)
        if size > self._max_frame() and header is _VNET_ZERO and not self._fits(frame):
            stats.tx_dropped += 1
            return False
        try:
            if self._hdr_len:
                os.writev(self._fd, [header, frame])
            else:
                os.write(self._fd, frame)
        except OSError as exc:
            self._tx_error(exc.errno or 0)
            return False
        stats.tx_packets += 1
        stats.tx_bytes += size
        return True

    def send_batch(self, frames: Iterable[Frame]) -> int:
        send = self.send
        return sum(1 for frame in frames if send(frame))

    def close(self) -> None:
        """Close the tap; the kernel removes the (non-persistent) interface."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)
            self._ctl.close()
