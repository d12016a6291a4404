"""The `vxlan` port: a VXLAN (RFC 7348) tunnel endpoint over one UDP socket.

Sits beside netdev.py (the contract and the dummy) and netdev_linux.py (AF_PACKET
and tap ports). It owns the VXLAN encapsulation — the 8-byte header (flags byte
with the I bit 0x08, 24-bit VNI in the upper bits of the second word), its checks
on receipt, the UDP socket (bound to local_ip:dst_port, non-blocking, drained a
batch per call) — and the tunnel-port lookup Open vSwitch does for its vxlan
ports. The datapath recognises a tunnel port by `recv_tunnel_batch` and
`send_tunnel_batch` (see datapath/dpif.py), which carry the tunnel metadata
(tun_id, tun_ipv4_src, tun_ipv4_dst, ints in host order) beside each inner frame;
`recv_batch`/`send`/`send_batch` keep the plain Netdev contract.

Port options, with Open vSwitch's meaning (`options:remote_ip`, `options:key`):
- `remote_ip=None` ("flow"): datagrams from any source are accepted and report
  their source as tun_ipv4_src; sent frames go to the tun_ipv4_dst of each item
  (0 = no destination: tx_dropped). A fixed `remote_ip`: only datagrams from that
  address are accepted (others: rx_dropped, `rx_remote_mismatch`), and every
  frame is sent there whatever tun_ipv4_dst says (as OVS's tnl_port_send ignores
  the flow's ip_dst for such a port).
- `key=None` ("flow"): any VNI is accepted and reported as tun_id; sent frames
  carry the low 24 bits of tun_id. A fixed `key`: datagrams with another VNI are
  dropped (rx_dropped, `rx_vni_mismatch`), sent frames carry the key.
- `local_ip`: the address the socket is bound to. With the wildcard 0.0.0.0 the
  receiving address of each datagram (IP_PKTINFO) becomes tun_ipv4_dst; with a
  fixed one it is that address. tun_ipv4_src of sent items is not used: the
  kernel picks the source address (the bound local_ip, or the route's).
- `recv_batch` drops the tunnel metadata; `send`/`send_batch` need both a fixed
  key and a fixed remote_ip (without them every frame is tx_dropped).

Receipt (RFC 7348 section 5): the I flag must be set, the reserved bits (the
other 7 flag bits, the 24 bits after the flags, the byte after the VNI) are
ignored. Datagrams shorter than the header, without the I flag, or whose inner
frame is shorter than an Ethernet header are counted as rx_errors. Nothing here
raises per packet: send failures become tx_dropped (EAGAIN, ENOBUFS, EMSGSIZE:
congestion or size) or tx_errors (ENETUNREACH, EHOSTUNREACH, ... : no way there),
inner frames over the port MTU are tx_dropped like on every netdev.

Limits: IPv4 underlay only; one VxlanNetdev per local_ip:dst_port, and none
beside a Linux vxlan device using the same port in the same namespace (the bind
fails with EADDRINUSE, raised as OSError from the constructor). The UDP source
port of sent datagrams is the bound dst_port (Linux vxlan hashes a source port
from a range; receivers accept any). No multicast remote (a Linux vxlan `group`),
no MAC learning (that is the OpenFlow pipeline's business), no VXLAN-GBP/GPE
extensions. The MTU is not derived from the underlay route: it defaults to
1500 - 50 (outer IPv4 + UDP + VXLAN + inner Ethernet) and is a plain attribute.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterable

from datapath.netdev import ETH_HLEN, Frame, NetdevStats, RxFrame, frame_fits_mtu, local_mac

VXLAN_HLEN = 8
VXLAN_FLAG_I = 0x08  # "VNI present": the only flag RFC 7348 defines
VNI_MAX = 0xFFFFFF
DEFAULT_DST_PORT = 4789  # IANA-assigned VXLAN port
DEFAULT_MTU = 1500 - 50  # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)

IP_PKTINFO = 8  # <linux/in.h>; not exported by the socket module
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>; neither
_PKTINFO_SIZE = 12  # struct in_pktinfo: ifindex, spec_dst, addr (the header's destination) at 8
_CTL_SIZE = socket.CMSG_SPACE(_PKTINFO_SIZE)
_BE32 = struct.Struct("!I")
_HEADER = struct.Struct("!II")  # flags word, VNI word

_MAX_DATAGRAM = 65536  # room kept free for each receive: no datagram is ever truncated
_SLOT_ESTIMATE = 2048  # buffer space per batch slot beyond that (typical frame + header)
_CACHE_LIMIT = 4096  # bound of the per-VNI header and per-address caches
_TX_DROP_ERRNOS = frozenset({errno.EAGAIN, errno.ENOBUFS, errno.EMSGSIZE})
_RX_QUIET_ERRNOS = frozenset({errno.EAGAIN, errno.EINTR})


def ip_to_int(address: str) -> int:
    """Dotted-quad IPv4 address -> int (host order); ValueError if it is not one."""
    try:
        return int(_BE32.unpack(socket.inet_pton(socket.AF_INET, address))[0])
    except OSError:
        raise ValueError(f"not an IPv4 address: {address!r}") from None


def int_to_ip(value: int) -> str:
    return socket.inet_ntop(socket.AF_INET, _BE32.pack(value))


def vxlan_header(vni: int) -> bytes:
    """The 8-byte VXLAN header for a VNI (only the low 24 bits are used)."""
    return _HEADER.pack(VXLAN_FLAG_I << 24, (vni & VNI_MAX) << 8)


class VxlanNetdev:
    """A VXLAN tunnel port on a UDP socket bound to local_ip:dst_port."""

    type = "vxlan"

    def __init__(
        self,
        name: str,
        *,
        local_ip: str = "0.0.0.0",
        dst_port: int = DEFAULT_DST_PORT,
        remote_ip: str | None = None,
        key: int | None = None,
        batch: int = 64,
        mtu: int = DEFAULT_MTU,
        hw_addr: bytes | None = None,
        rcvbuf: int = 4 << 20,
    ) -> None:
        if not 0 < dst_port <= 0xFFFF:
            raise ValueError(f"dst_port must be 1..65535, not {dst_port}")
        if key is not None and not 0 <= key <= VNI_MAX:
            raise ValueError(f"key (VNI) must be 0..{VNI_MAX}, not {key}")
        if hw_addr is not None and len(hw_addr) != 6:
            raise ValueError(f"hw_addr must be 6 bytes, got {len(hw_addr)}")
        if batch < 1:
            raise ValueError(f"batch must be positive, not {batch}")
        self.name = name
        self.local_ip = local_ip
        self.dst_port = dst_port
        self.remote_ip = remote_ip
        self.key = key
        self.mtu = mtu
        self.hw_addr = hw_addr if hw_addr is not None else local_mac(name)
        self.stats = NetdevStats()
        self.last_errno = 0
        self.rx_vni_mismatch = 0  # also in rx_dropped
        self.rx_remote_mismatch = 0  # also in rx_dropped
        self._local = ip_to_int(local_ip)
        self._remote = ip_to_int(remote_ip) if remote_ip is not None else 0
        self._remote_addr = (remote_ip, dst_port) if remote_ip is not None else None
        self._fixed_header = vxlan_header(key) if key is not None else None
        self._headers: dict[int, bytes] = {}
        self._addresses: dict[int, tuple[str, int]] = {}
        self._sources: dict[str, int] = {}
        self._batch = batch
        self._buffer = bytearray(batch * _SLOT_ESTIMATE + _MAX_DATAGRAM)
        self._view = memoryview(self._buffer)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self._pktinfo = self._local == 0
            if self._pktinfo:
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.bind((local_ip, dst_port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._fd = sock.fileno()
        self._closed = False

    def __repr__(self) -> str:
        return f"VxlanNetdev({self.name!r})"

    @property
    def link_up(self) -> bool:
        """Up while the socket is open (the underlay's reachability is not tracked)."""
        return not self._closed

    def fileno(self) -> int | None:
        return None if self._closed else self._fd

    # -- receive

    def recv_batch(self, max_packets: int) -> list[RxFrame]:
        """Inner frames only (vlan word 0); the tunnel metadata is dropped."""
        return [(frame, 0) for frame, _, _, _ in self.recv_tunnel_batch(max_packets)]

    def recv_tunnel_batch(self, max_packets: int) -> list[tuple[Frame, int, int, int]]:
        """Up to max_packets (inner frame, tun_id, tun_ipv4_src, tun_ipv4_dst); never raises.

        Frames are memoryviews into a buffer reused by the next receive on this port.
        """
        out: list[tuple[Frame, int, int, int]] = []
        if self._closed:
            return out
        view = self._view
        limit = len(view) - _MAX_DATAGRAM
        sock = self._sock
        pktinfo = self._pktinfo
        key = self.key
        remote = self._remote
        local = self._local
        sources = self._sources
        stats = self.stats
        unpack_header = _HEADER.unpack_from
        unpack_addr = _BE32.unpack_from
        append = out.append
        offset = 0
        delivered = 0
        for _ in range(max_packets):
            if offset > limit:
                break
            try:
                if pktinfo:
                    size, ancdata, _, address = sock.recvmsg_into([view[offset:]], _CTL_SIZE)
                else:
                    size, address = sock.recvfrom_into(view[offset:])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._rx_error(exc.errno or 0)
                break
            if size < VXLAN_HLEN + ETH_HLEN:
                stats.rx_errors += 1  # short datagram or truncated inner frame
                continue
            flags, vni_word = unpack_header(view, offset)
            if not flags & (VXLAN_FLAG_I << 24):
                stats.rx_errors += 1
                continue
            vni = vni_word >> 8
            if key is not None and vni != key:
                stats.rx_dropped += 1
                self.rx_vni_mismatch += 1
                continue
            source = sources.get(address[0])
            if source is None:
                source = self._learn_source(address[0])
            if remote and source != remote:
                stats.rx_dropped += 1
                self.rx_remote_mismatch += 1
                continue
            dst = local
            if pktinfo:  # IP_PKTINFO is the only ancillary data this socket asked for
                info = ancdata[0][2] if ancdata else b""
                dst = unpack_addr(info, 8)[0] if len(info) >= _PKTINFO_SIZE else 0
            append((view[offset + VXLAN_HLEN : offset + size], vni, source, dst))
            delivered += size - VXLAN_HLEN
            offset += size
        stats.rx_packets += len(out)
        stats.rx_bytes += delivered
        return out

    def _learn_source(self, address: str) -> int:
        sources = self._sources
        if len(sources) >= _CACHE_LIMIT:
            sources.clear()
        value = sources[address] = ip_to_int(address)
        return value

    def _rx_error(self, err: int) -> None:
        if err not in _RX_QUIET_ERRNOS:
            self.last_errno = err
            self.stats.rx_errors += 1

    # -- send

    def send(self, frame: Frame) -> bool:
        return self.send_batch((frame,)) == 1

    def send_batch(self, frames: Iterable[Frame]) -> int:
        """Frames to the fixed remote_ip with the fixed key (tx_dropped if either is "flow")."""
        if self._fixed_header is None or self._remote_addr is None:
            if not isinstance(frames, list | tuple):
                frames = list(frames)
            self.stats.tx_dropped += len(frames)
            return 0
        return self.send_tunnel_batch([(frame, 0, 0, 0) for frame in frames])

    def send_tunnel_batch(self, items: list[tuple[Frame, int, int, int]]) -> int:
        """Encapsulate and send (frame, tun_id, tun_ipv4_src, tun_ipv4_dst) items; never raises.

        Returns how many went out. The VNI is the fixed key or tun_id; the
        destination the fixed remote_ip or tun_ipv4_dst (0 there: tx_dropped).
        """
        stats = self.stats
        if self._closed:
            stats.tx_dropped += len(items)
            return 0
        sendmsg = self._sock.sendmsg
        mtu = self.mtu
        max_plain = mtu + ETH_HLEN
        fixed_header = self._fixed_header
        fixed_addr = self._remote_addr
        headers = self._headers
        addresses = self._addresses
        sent = 0
        sent_bytes = 0
        for frame, tun_id, _, tun_dst in items:
            size = len(frame)
            if size > max_plain and not frame_fits_mtu(frame, mtu):
                stats.tx_dropped += 1
                continue
            header = fixed_header
            if header is None:
                header = headers.get(tun_id)
                if header is None:
                    header = self._new_header(tun_id)
            address = fixed_addr
            if address is None:
                address = addresses.get(tun_dst)
                if address is None:
                    if not tun_dst:
                        stats.tx_dropped += 1
                        continue
                    address = self._new_address(tun_dst)
            try:
                sendmsg((header, frame), (), 0, address)
            except OSError as exc:
                self._tx_error(exc.errno or 0)
                continue
            sent += 1
            sent_bytes += size
        stats.tx_packets += sent
        stats.tx_bytes += sent_bytes
        return sent

    def _new_header(self, tun_id: int) -> bytes:
        headers = self._headers
        if len(headers) >= _CACHE_LIMIT:
            headers.clear()
        header = headers[tun_id] = vxlan_header(tun_id)
        return header

    def _new_address(self, tun_dst: int) -> tuple[str, int]:
        addresses = self._addresses
        if len(addresses) >= _CACHE_LIMIT:
            addresses.clear()
        address = addresses[tun_dst] = (int_to_ip(tun_dst & 0xFFFFFFFF), self.dst_port)
        return address

    def _tx_error(self, err: int) -> None:
        self.last_errno = err
        if err in _TX_DROP_ERRNOS:
            self.stats.tx_dropped += 1
        else:
            self.stats.tx_errors += 1

    def close(self) -> None:
        """Close the socket; later sends count as tx_dropped, receives return []."""
        if not self._closed:
            self._closed = True
            self._sock.close()
