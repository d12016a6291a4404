"""linux_if: interface ioctls -- index, MTU, MAC address, flags, ethtool offloads.

Sits under datapath/netdev_linux.py (system and internal ports) and the tests and
benches that set up veth pairs: thin wrappers over SIOCxIFxxx and the legacy
ETHTOOL_[GS]xxx commands, on any socket of the interface's network namespace.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct

# <linux/sockios.h>, <linux/if.h>, <linux/if_arp.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCGIFMTU = 0x8921
SIOCSIFMTU = 0x8922
SIOCSIFHWADDR = 0x8924
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
SIOCETHTOOL = 0x8946
IFF_UP = 0x1
IFF_RUNNING = 0x40
ARPHRD_ETHER = 1

# <linux/ethtool.h>: legacy per-feature get/set commands (struct ethtool_value)
ETHTOOL_FEATURES = {
    "rx_csum": (0x14, 0x15),
    "tx_csum": (0x16, 0x17),
    "sg": (0x18, 0x19),
    "tso": (0x1E, 0x1F),
    "gso": (0x23, 0x24),
    "gro": (0x2B, 0x2C),
}

# struct ifreq on LP64: 16-byte name + 24-byte union
_IFREQ_INT = struct.Struct("16si20x")
_IFREQ_SHORT = struct.Struct("16sH22x")
_IFREQ_HWADDR = struct.Struct("16sH6s16x")
_IFREQ_PTR = struct.Struct("16sP16x")
_ETHTOOL_VALUE = struct.Struct("II")


def _ifname(name: str) -> bytes:
    raw = name.encode()
    if not 0 < len(raw) < 16:
        raise ValueError(f"interface name {name!r} must be 1..15 bytes")
    return raw


def _ioctl(sock: socket.socket, request: int, ifreq: bytes) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, ifreq)


def if_index(sock: socket.socket, name: str) -> int:
    """Interface index of `name` in the socket's network namespace."""
    return _IFREQ_INT.unpack(_ioctl(sock, SIOCGIFINDEX, _IFREQ_INT.pack(_ifname(name), 0)))[1]


def if_mtu(sock: socket.socket, name: str) -> int:
    return _IFREQ_INT.unpack(_ioctl(sock, SIOCGIFMTU, _IFREQ_INT.pack(_ifname(name), 0)))[1]


def set_if_mtu(sock: socket.socket, name: str, mtu: int) -> None:
    _ioctl(sock, SIOCSIFMTU, _IFREQ_INT.pack(_ifname(name), mtu))


def if_hw_addr(sock: socket.socket, name: str) -> bytes:
    req = _IFREQ_HWADDR.pack(_ifname(name), 0, b"")
    return _IFREQ_HWADDR.unpack(_ioctl(sock, SIOCGIFHWADDR, req))[2]


def set_if_hw_addr(sock: socket.socket, name: str, hw_addr: bytes) -> None:
    _ioctl(sock, SIOCSIFHWADDR, _IFREQ_HWADDR.pack(_ifname(name), ARPHRD_ETHER, hw_addr))


def if_flags(sock: socket.socket, name: str) -> int:
    req = _IFREQ_SHORT.pack(_ifname(name), 0)
    return _IFREQ_SHORT.unpack(_ioctl(sock, SIOCGIFFLAGS, req))[1]


def set_if_up(sock: socket.socket, name: str, up: bool) -> None:
    """Set or clear IFF_UP (administrative state), keeping the other flags."""
    flags = if_flags(sock, name)
    flags = flags | IFF_UP if up else flags & ~IFF_UP
    _ioctl(sock, SIOCSIFFLAGS, _IFREQ_SHORT.pack(_ifname(name), flags & 0xFFFF))


def _ethtool(sock: socket.socket, name: str, cmd: int, value: int = 0) -> int:
    buf = ctypes.create_string_buffer(_ETHTOOL_VALUE.pack(cmd, value), _ETHTOOL_VALUE.size)
    _ioctl(sock, SIOCETHTOOL, _IFREQ_PTR.pack(_ifname(name), ctypes.addressof(buf)))
    return _ETHTOOL_VALUE.unpack(buf.raw)[1]


def get_offloads(sock: socket.socket, name: str) -> dict[str, bool]:
    """The interface's offload switches (ethtool -k): rx_csum, tx_csum, sg, tso, gso, gro."""
    return {key: bool(_ethtool(sock, name, get)) for key, (get, _) in ETHTOOL_FEATURES.items()}


def set_offloads(sock: socket.socket, name: str, **features: bool) -> None:
    """Turn offloads on/off (ethtool -K), e.g. `set_offloads(s, "veth0", tso=False, gro=False)`.

    Turning tx_csum off also turns off TSO on most drivers (TSO needs it).
    """
    for key, on in features.items():
        _, set_cmd = ETHTOOL_FEATURES[key]
        _ethtool(sock, name, set_cmd, int(on))
