"""Sans-IO OpenFlow channel: one connection's protocol state, no sockets, no clock.

Where it sits: between a byte transport (the agent's connection manager, the
``swctl --of`` client, tests) and the message model.  It owns the HELLO exchange and
version negotiation, framing of the byte stream, automatic replies (echo, OFPT_ERROR
for undecodable messages, HELLO_FAILED), the inactivity probe and the reassembly of
multipart sequences.  The codecs (``openflow.codec``) own the wire layouts.

Use (h11 style)::

    ch = Channel((OFP10, OFP13), role="switch", now=t)
    transport.write(ch.initiate())                 # our HELLO, first on the wire
    ch.receive_data(data, now)                     # raw TCP bytes, any chunking; b"" = EOF
    while (event := ch.next_event()) is not None:  # Negotiated / MessageReceived /
        ...                                        # ProtocolError / Closed
    transport.write(ch.data_to_send())             # automatic output (see below)
    transport.write(ch.send(msg))                  # our own messages, once Negotiated
    transport.write(ch.tick(now))                  # at ch.next_deadline(): probe

Decisions (OVS behaviour where the spec is silent):

* Automatic output has one path: it is queued and ``data_to_send()`` drains it
  (echo replies, error replies, HELLO_FAILED, probe echoes).  ``tick()`` returns that
  same drained output.  After ``Closed`` flush ``data_to_send()`` once more (it may
  hold the HELLO_FAILED error), then close the transport.
* Negotiation (OF1.3.5 section 6.3.1): we always send a version bitmap, so if the
  peer's HELLO has one the version is the highest common one; otherwise it is the
  smaller of the two header versions, if we support it.  A malformed HELLO body is
  ignored, as OVS does.  No common version: OFPT_ERROR HELLO_FAILED/INCOMPATIBLE
  with OVS's text ("We support ..., you support ..., no common versions."), xid 0,
  in the peer's highest version (OVS does the same, so the peer can read it), then
  ``Closed``; byte for byte what ovs-ofctl sends, except that a peer without a
  bitmap "supports version 0x02" where OVS writes "0x02 and earlier".
* Anything but HELLO before the peer's HELLO is a protocol violation: ``Closed``
  (OVS: EPROTO), nothing sent.  A HELLO after negotiation is ignored (OVS too).
* A header length below 8 cannot be resynchronised: ``Closed``.  A message that does
  not decode gets an OFPT_ERROR (the codec's error, the offending xid, its first 64
  bytes as the spec asks; OVS echoes it whole) and a ``ProtocolError`` event; the
  connection stays up.  An OFPT_ERROR is
  never answered with an error.
* A message whose version is not the negotiated one gets OFPBRC_BAD_VERSION (in its
  own version if we have a codec for it, else the negotiated one) -- except ERROR,
  ECHO_REQUEST and ECHO_REPLY of a version we can decode, which are taken as they
  are (OVS's vconn_recv exempts the same types).  The connection stays up.
* ECHO_REQUEST is answered by the channel and not surfaced; ECHO_REPLY is surfaced
  unless it answers the channel's own probe.
* Inactivity probe (OVS rconn): after ``echo_interval`` seconds without any received
  byte, send ECHO_REQUEST; after another ``echo_interval`` of silence, ``Closed``.
  While still waiting for the peer's HELLO nothing can be sent, so the same two
  intervals end in ``Closed`` too.  ``echo_interval=None`` disables the probe.
* xids: ``next_xid()`` counts up from 1, skips 0, wraps at 2**32.  ``send()`` of a
  message with xid 0 gives it ``next_xid()`` on a ``role="controller"`` channel (every
  request needs its own xid; build it with ``xid=ch.next_xid()`` to know which
  reply to wait for), and keeps it on a ``role="switch"`` channel, where replies carry the
  request's xid (which may be 0) and async messages carry 0, as in OVS.
* Multipart: a reply with REPLY_MORE, or an OF1.3 request with REQ_MORE (OF1.0 has
  no request flags; OVS ignores them), is held per xid until the part without the
  flag arrives, then delivered as one message: ``entries`` concatenated, ``flags``
  of the last part, ``raw`` all parts joined (a type without entries: the first
  part's message with the last part's flags).  A part of another type than its sequence's -> OFPBRC_BAD_MULTIPART; more
  than ``max_buffered`` wire bytes held in all sequences together ->
  OFPBRC_MULTIPART_BUFFER_OVERFLOW (OVS bounds one request at 4 MiB because table
  features can exceed 1 MiB).  Both drop the sequence (its remaining parts are
  discarded, not delivered as a truncated message) and answer requests with the
  error; for replies there is nobody to tell but our caller (``ProtocolError``).
  The default bound is 4 MiB for a switch (it receives requests) and 64 MiB for a
  controller (a flow dump of 100k flows is ~15 MiB).  Outgoing multipart replies
  larger than one message are split by ``codec.encode_parts``.
* Caller mistakes (``send`` before negotiation or after close, ``receive_data``
  before ``initiate``) raise ``ChannelError``; a model the negotiated version cannot
  express raises the codec's ValueError.  Data received after ``Closed`` is ignored.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Literal

from openflow import codec, v13
from openflow.consts import OFP13, OFPMPF_REPLY_MORE, OFPMPF_REQ_MORE, SUPPORTED_VERSIONS
from openflow.errors import CodecError, Err
from openflow.messages import (
    LISTED_REPLIES,
    MULTIPART_REPLIES,
    MULTIPART_REQUESTS,
    EchoReply,
    EchoRequest,
    Error,
    Message,
)
from openflow.wire import HEADER, HEADER_SIZE

Role = Literal["switch", "controller"]

# Message types every OpenFlow version (1.0-1.5) numbers alike.
OFPT_HELLO = 0
OFPT_ERROR = 1
OFPT_ECHO_REQUEST = 2
OFPT_ECHO_REPLY = 3
# Types taken in any version we can decode, whatever was negotiated (OVS vconn_recv).
_ANY_VERSION_TYPES = frozenset((OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY))

ERROR_DATA_SIZE = 64  # bytes of the offending message echoed in an error reply
_ERROR_BODY = struct.Struct("!HH")  # ofp_error_msg: type, code (same in every version)
_LENGTH = struct.Struct("!H")  # the header's length field, at offset 2
_REQ_MORE_SINCE = OFP13  # first version whose multipart requests may have several parts

DEFAULT_ECHO_INTERVAL = 5.0
DEFAULT_MAX_BUFFERED: dict[str, int] = {"switch": 4 << 20, "controller": 64 << 20}
_MAX_DISCARDING = 64  # xids of dropped multipart sequences remembered at once

_REQUEST_TYPES = frozenset(MULTIPART_REQUESTS)
_MULTIPART_TYPES = _REQUEST_TYPES | frozenset(MULTIPART_REPLIES)
_LISTED_TYPES = frozenset(
    cls for cls in _MULTIPART_TYPES if any(f.name == "entries" for f in fields(cls))
)
_LISTED_REPLY_TYPES = frozenset(LISTED_REPLIES)


class ChannelError(RuntimeError):
    """The caller used the channel out of order (a bug in the caller, not the peer)."""


class State(enum.Enum):
    IDLE = "idle"  # constructed; initiate() not called yet
    HELLO_SENT = "hello-sent"  # our HELLO is out, waiting for the peer's
    CONNECTED = "connected"  # version negotiated
    CLOSED = "closed"  # final


# The one table of allowed transitions; ``Channel._enter`` enforces it.
_TRANSITIONS: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.HELLO_SENT}),
    State.HELLO_SENT: frozenset({State.CONNECTED, State.CLOSED}),
    State.CONNECTED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


# --- Events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The HELLO exchange finished; messages now use ``version``."""

    version: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A decoded message (a reassembled one for multipart sequences).

    ``raw`` is its wire form (all parts joined for a reassembled sequence), e.g. for
    echoing its first bytes in an error reply.
    """

    msg: Message
    version: int
    xid: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A received message was rejected; the channel already queued the error reply
    (if one is due) in ``data_to_send()``.  The connection stays up."""

    err: Err
    detail: str
    xid: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over (framing error, HELLO failure, EOF, probe timeout)."""

    reason: str


Event = Negotiated | MessageReceived | ProtocolError | Closed


# --- Negotiation ------------------------------------------------------------------


def negotiate(
    ours: frozenset[int], peer_header: int, peer_bitmap: frozenset[int] | None
) -> int | None:
    """The version to speak with a peer, or None if there is none (OF1.3.5 6.3.1).

    ``ours`` is what we announced (always with a bitmap, header = its highest);
    ``peer_bitmap`` is the peer's version bitmap, None if its HELLO had none.
    """
    if peer_bitmap is not None:
        common = ours & peer_bitmap
        return max(common) if common else None
    version = min(max(ours), peer_header)
    return version if version in ours else None


def _describe_versions(versions: Iterable[int]) -> str:
    """OVS's vconn wording of a version set ("version 0x04 and earlier", ...)."""
    ordered = sorted(versions)  # never empty here
    if len(ordered) == 1:
        return f"version 0x{ordered[0]:02x}"
    if ordered == list(range(1, ordered[-1] + 1)):
        return f"version 0x{ordered[-1]:02x} and earlier"
    return "versions " + ", ".join(f"0x{v:02x}" for v in ordered)


def encode_hello_failed(version: int, text: str) -> bytes:
    """OFPT_ERROR HELLO_FAILED/INCOMPATIBLE with ASCII ``text``, xid 0, for any version.

    Hand-built because the peer's version may be one we have no codec for; the error
    message's layout and HELLO_FAILED's numbers are the same in every version.
    """
    type_, code = Err.OFPHFC_INCOMPATIBLE.wire(OFP13)
    data = text.encode("ascii", "replace")
    length = HEADER_SIZE + _ERROR_BODY.size + len(data)
    return HEADER.pack(version, OFPT_ERROR, length, 0) + _ERROR_BODY.pack(type_, code) + data


# --- Multipart reassembly ---------------------------------------------------------


class _Partial:
    """The parts of one multipart sequence received so far."""

    __slots__ = ("first", "entries", "raw", "size")

    def __init__(self, first: Message) -> None:
        self.first = first
        self.entries: list[object] = []
        self.raw = bytearray()
        self.size = 0


# --- The channel ------------------------------------------------------------------


class Channel:
    """One OpenFlow connection's protocol state machine (see the module docstring)."""

    def __init__(
        self,
        versions: Iterable[int] = SUPPORTED_VERSIONS,
        *,
        role: Role = "switch",
        echo_interval: float | None = DEFAULT_ECHO_INTERVAL,
        now: float = 0.0,
        max_buffered: int | None = None,
    ) -> None:
        self.versions = frozenset(versions)
        if not self.versions or not self.versions <= frozenset(SUPPORTED_VERSIONS):
            raise ValueError(f"versions must be a non-empty subset of {SUPPORTED_VERSIONS}")
        if role not in DEFAULT_MAX_BUFFERED:
            raise ValueError(f"role must be 'switch' or 'controller', not {role!r}")
        self.role: Role = role
        self.echo_interval = echo_interval if echo_interval and echo_interval > 0 else None
        self.max_buffered = DEFAULT_MAX_BUFFERED[role] if max_buffered is None else max_buffered
        self.state = State.IDLE
        self.version: int | None = None
        self.peer_versions: frozenset[int] | None = None  # the peer's bitmap, if it sent one
        self._xid = 0
        self._buffer = bytearray()
        self._events: deque[Event] = deque()
        self._outbox: list[bytes] = []
        self._last_activity = now
        self._probe_sent_at: float | None = None  # set while a probe is unanswered
        self._probe_xid: int | None = None
        self._partials: dict[int, _Partial] = {}
        self._buffered = 0  # wire bytes held in self._partials
        self._discarding: dict[int, None] = {}  # xids of dropped sequences (ordered set)

    # -- state ----------------------------------------------------------------------

    def _enter(self, state: State) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise ChannelError(f"cannot go from {self.state.value} to {state.value}")
        self.state = state

    def _close(self, reason: str) -> None:
        self._enter(State.CLOSED)
        self._partials.clear()
        self._buffered = 0
        self._events.append(Closed(reason))

    # -- public API -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    def next_xid(self) -> int:
        """A fresh transaction id: 1, 2, ... 0xffffffff, 1, ... (never 0)."""
        self._xid = self._xid % 0xFFFFFFFF + 1
        return self._xid

    def initiate(self) -> bytes:
        """Our HELLO (header = our highest version, bitmap of all); send it first."""
        self._enter(State.HELLO_SENT)
        return v13.encode_hello(max(self.versions), self.versions, self.next_xid())

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Feed bytes received from the peer (any chunking); ``b""`` means EOF."""
        if self.state is State.IDLE:
            raise ChannelError("initiate() must come before receive_data()")
        if self.closed:
            return
        self._last_activity = now
        self._probe_sent_at = None
        if not data:
            pending = f" ({len(self._buffer)} bytes of a partial message)" if self._buffer else ""
            self._buffer.clear()
            self._close("connection closed by peer" + pending)
            return
        buf = self._buffer
        buf += data
        offset = 0
        try:
            with memoryview(buf) as view:
                while len(buf) - offset >= HEADER_SIZE and not self.closed:
                    (length,) = _LENGTH.unpack_from(buf, offset + 2)
                    if length < HEADER_SIZE:
                        self._close(f"framing error: message length {length} < {HEADER_SIZE}")
                        break
                    if len(buf) - offset < length:
                        break
                    raw = view[offset : offset + length].tobytes()
                    offset += length
                    self._handle(raw)
        finally:  # never hand the same bytes to _handle twice, even after a bug
            if self.closed:
                buf.clear()
            else:
                del buf[:offset]

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """Drain the channel's automatic output (replies, errors, probes)."""
        data = b"".join(self._outbox)
        self._outbox.clear()
        return data

    def send(self, msg: Message) -> bytes:
        """Encode ``msg`` in the negotiated version (several messages for a big
        multipart reply); see the module docstring for xid 0."""
        if self.state is not State.CONNECTED or self.version is None:
            raise ChannelError(f"cannot send in state {self.state.value}")
        if msg.xid == 0 and self.role == "controller":
            msg = replace(msg, xid=self.next_xid())
        if type(msg) in _LISTED_REPLY_TYPES:
            return b"".join(codec.encode_parts(msg, self.version))
        return codec.encode(msg, self.version)

    def tick(self, now: float) -> bytes:
        """Run the inactivity probe at time ``now``; returns ``data_to_send()``.

        Check ``next_event()`` afterwards: the probe may have closed the channel.
        """
        interval = self.echo_interval
        if interval is not None and self.state in (State.HELLO_SENT, State.CONNECTED):
            if self._probe_sent_at is None:
                if now - self._last_activity >= interval:
                    self._probe_sent_at = now
                    if self.state is State.CONNECTED:
                        self._send_probe()
            elif now - self._probe_sent_at >= interval:
                waited = now - self._last_activity
                what = "inactivity probe" if self.state is State.CONNECTED else "HELLO"
                self._close(f"inactivity probe timeout: no {what} reply after {waited:g} s")
        return self.data_to_send()

    def next_deadline(self) -> float | None:
        """When ``tick()`` next has something to do (None: never)."""
        if self.echo_interval is None or self.state not in (State.HELLO_SENT, State.CONNECTED):
            return None
        if self._probe_sent_at is None:
            return self._last_activity + self.echo_interval
        return self._probe_sent_at + self.echo_interval

    # -- receiving --------------------------------------------------------------------

    def _handle(self, raw: bytes) -> None:
        """One framed message (``len(raw)`` == its header length >= 8)."""
        version, msg_type, _length, xid = HEADER.unpack_from(raw)
        if self.state is State.HELLO_SENT:
            self._handle_hello(raw, version, msg_type)
            return
        if msg_type == OFPT_HELLO:
            return
        if version != self.version and not (
            msg_type in _ANY_VERSION_TYPES and version in SUPPORTED_VERSIONS
        ):
            assert self.version is not None
            reply_version = version if version in SUPPORTED_VERSIONS else self.version
            detail = f"version 0x{version:02x} on a 0x{self.version:02x} connection"
            self._reject(CodecError(Err.OFPBRC_BAD_VERSION, detail), raw, reply_version)
            return
        try:
            _, msg = codec.decode(raw)
        except CodecError as exc:
            self._reject(exc, raw, version)
            return
        if isinstance(msg, EchoRequest):
            self._outbox.append(codec.encode(EchoReply(data=msg.data, xid=xid), version))
            return
        if isinstance(msg, EchoReply) and xid == self._probe_xid:
            return
        if type(msg) in _MULTIPART_TYPES:
            assembled = self._assemble(msg, raw, version, xid)
            if assembled is None:
                return
            msg, raw = assembled
        self._events.append(MessageReceived(msg, version, xid, raw))

    def _handle_hello(self, raw: bytes, version: int, msg_type: int) -> None:
        if msg_type != OFPT_HELLO:
            self._close(f"protocol violation: message type {msg_type} before HELLO")
            return
        try:
            bitmap = v13.decode_hello(raw).versions
        except CodecError:
            bitmap = None  # unknown data in the HELLO: OVS goes by the header version
        if bitmap is not None:
            # There is no version 0; a bitmap without any version is ignored (OVS).
            bitmap = bitmap - {0} or None
        self.peer_versions = bitmap
        negotiated = negotiate(self.versions, version, bitmap)
        if negotiated is None:
            # OVS says "version 0x02 and earlier" for a peer without a bitmap; under
            # the spec's rule that peer offered only its header version.
            peer = bitmap if bitmap else frozenset((version,))
            text = (
                f"We support {_describe_versions(self.versions)}, "
                f"you support {_describe_versions(peer)}, no common versions."
            )[:127]  # OVS formats into a 128-byte buffer
            peer_highest = max(peer)
            self._outbox.append(
                encode_hello_failed(peer_highest if peer_highest <= 0xFF else version, text)
            )
            self._close(f"version negotiation failed: {text}")
            return
        self.version = negotiated
        self._enter(State.CONNECTED)
        self._events.append(Negotiated(negotiated))

    def _reject(self, exc: CodecError, raw: bytes, version: int, reply: bool = True) -> None:
        """Answer ``raw`` with the OFPT_ERROR for ``exc`` and report it."""
        _v, msg_type, _length, xid = HEADER.unpack_from(raw)
        if reply and msg_type != OFPT_ERROR:
            type_, code = exc.type_code(version)
            error = Error(type_, code, raw[:ERROR_DATA_SIZE], xid=xid)
            self._outbox.append(codec.encode(error, version))
        self._events.append(ProtocolError(exc.err, exc.detail, xid, raw))

    def _send_probe(self) -> None:
        assert self.version is not None
        self._probe_xid = self.next_xid()
        self._outbox.append(codec.encode(EchoRequest(xid=self._probe_xid), self.version))

    # -- multipart ----------------------------------------------------------------------

    def _assemble(
        self, msg: Message, raw: bytes, version: int, xid: int
    ) -> tuple[Message, bytes] | None:
        """Add one multipart part; the whole message once its last part is in."""
        is_request = type(msg) in _REQUEST_TYPES
        flags: int = msg.flags  # type: ignore[attr-defined]
        if is_request:
            more = bool(flags & OFPMPF_REQ_MORE) and version >= _REQ_MORE_SINCE
        else:
            more = bool(flags & OFPMPF_REPLY_MORE)
        if xid in self._discarding:
            if not more:
                del self._discarding[xid]
            return None
        partial = self._partials.get(xid)
        if partial is None:
            if not more:
                return msg, raw  # the common case: a single part
            partial = self._partials[xid] = _Partial(msg)
        elif type(msg) is not type(partial.first):
            detail = f"{type(msg).__name__} part in a {type(partial.first).__name__} sequence"
            self._drop_sequence(
                xid, more, CodecError(Err.OFPBRC_BAD_MULTIPART, detail), raw, version, is_request
            )
            return None
        partial.size += len(raw)
        self._buffered += len(raw)
        if self._buffered > self.max_buffered:
            detail = f"multipart sequences exceed {self.max_buffered} bytes"
            exc = CodecError(Err.OFPBRC_MULTIPART_BUFFER_OVERFLOW, detail)
            self._drop_sequence(xid, more, exc, raw, version, is_request)
            return None
        partial.raw += raw
        if type(msg) in _LISTED_TYPES:
            partial.entries.extend(msg.entries)  # type: ignore[attr-defined]
        if more:
            return None
        del self._partials[xid]
        self._buffered -= partial.size
        first = partial.first
        if type(first) in _LISTED_TYPES:
            merged = replace(first, entries=tuple(partial.entries), flags=flags)  # type: ignore[call-arg]
        else:
            merged = replace(first, flags=flags)  # type: ignore[call-arg]
        return merged, bytes(partial.raw)

    def _drop_sequence(
        self, xid: int, more: bool, exc: CodecError, raw: bytes, version: int, is_request: bool
    ) -> None:
        """Forget sequence ``xid``, discard its remaining parts, report (and answer requests)."""
        partial = self._partials.pop(xid, None)
        if partial is not None:
            self._buffered -= partial.size
        if more:
            self._discarding[xid] = None
            if len(self._discarding) > _MAX_DISCARDING:
                del self._discarding[next(iter(self._discarding))]
        self._reject(exc, raw, version, reply=is_request)


# --- In-memory wiring (tests, examples) ---------------------------------------------


def pump(a: Channel, b: Channel, now: float = 0.0) -> tuple[list[Event], list[Event]]:
    """Deliver each channel's queued output to the other until both are quiet.

    Returns the events each side produced meanwhile (taken from ``next_event``).
    """
    events_a: list[Event] = []
    events_b: list[Event] = []
    while True:
        _drain(a, events_a)
        _drain(b, events_b)
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            return events_a, events_b
        if out_a:
            b.receive_data(out_a, now)
        if out_b:
            a.receive_data(out_b, now)


def connect_in_memory(a: Channel, b: Channel, now: float = 0.0) -> tuple[list[Event], list[Event]]:
    """Run the HELLO exchange between two fresh channels; the events of each side."""
    hello_a, hello_b = a.initiate(), b.initiate()
    b.receive_data(hello_a, now)
    a.receive_data(hello_b, now)
    return pump(a, b, now)


def _drain(channel: Channel, into: list[Event]) -> None:
    while (event := channel.next_event()) is not None:
        into.append(event)
