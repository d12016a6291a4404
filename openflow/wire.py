"""Small wire helpers shared by the per-version codecs: header struct, padding, strings.

No version logic lives here; ``v10``/``v13`` own their layouts.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!BBHI")  # version, type, length, xid
HEADER_SIZE = HEADER.size


def pad8(size: int) -> int:
    """Bytes of padding that bring ``size`` to a multiple of 8."""
    return (8 - size % 8) % 8


def decode_str(raw: bytes) -> str:
    """A fixed-size NUL-padded ASCII field (port name, descriptions)."""
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "replace")


def encode_str(text: str, size: int) -> bytes:
    """NUL-padded, truncated so at least one NUL terminates it."""
    raw = text.encode("utf-8")[: size - 1]
    return raw + b"\0" * (size - len(raw))

