"""Entry points of the wire codec: bytes <-> (version, message model).

``decode`` takes exactly one framed message and dispatches on the header's version
to ``v10`` or ``v13``; ``encode`` does the reverse.  Every decode failure, whatever
the input, is a ``CodecError`` carrying the spec's error (type, code).
"""

from __future__ import annotations

import openflow.v10 as v10
import openflow.v13 as v13
from openflow.consts import OFP10, OFP13, OFP_MAX_MESSAGE_SIZE
from openflow.errors import CodecError, Err
from openflow.messages import Message
from openflow.wire import HEADER, HEADER_SIZE

_CODECS = {OFP10: v10, OFP13: v13}


def parse_header(buf: bytes | memoryview) -> tuple[int, int, int, int]:
    """(version, type, length, xid) of the message at the start of ``buf``."""
    if len(buf) < HEADER_SIZE:
        raise CodecError(Err.OFPBRC_BAD_LEN, f"{len(buf)} bytes is shorter than a header")
    return HEADER.unpack_from(buf, 0)


def decode(buf: bytes | memoryview) -> tuple[int, Message]:
    """Decode one whole message (``len(buf)`` must equal its header length)."""
    version, msg_type, length, _xid = parse_header(buf)
    if length != len(buf) or length < HEADER_SIZE:
        raise CodecError(Err.OFPBRC_BAD_LEN, f"header says {length} bytes, have {len(buf)}")
    codec = _CODECS.get(version)
    if codec is None:
        # HELLO of any version is understood by the channel; everything else is not.
        raise CodecError(Err.OFPBRC_BAD_VERSION, f"version 0x{version:02x}")
    return version, codec.decode(bytes(buf))


def encode(msg: Message, version: int) -> bytes:
    """Encode ``msg`` for ``version``; ValueError if the version cannot express it."""
    codec = _CODECS.get(version)
    if codec is None:
        raise ValueError(f"unsupported OpenFlow version 0x{version:02x}")
    data = codec.encode(msg)
    if len(data) > OFP_MAX_MESSAGE_SIZE:
        raise ValueError(f"{type(msg).__name__} encodes to {len(data)} bytes (> 65535)")
    return data


def encode_parts(msg: Message, version: int, limit: int = OFP_MAX_MESSAGE_SIZE) -> list[bytes]:
    """Encode a possibly large multipart reply as messages of at most ``limit`` bytes.

    Every part but the last has the REPLY_MORE flag; all share ``msg.xid``.  Other
    messages come back as a single part.
    """
    codec = _CODECS.get(version)
    if codec is None:
        raise ValueError(f"unsupported OpenFlow version 0x{version:02x}")
    return codec.encode_parts(msg, limit)
