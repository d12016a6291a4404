"""openflow.channel: the sans-IO OpenFlow channel, driven in memory with a fake clock.

Golden bytes: the HELLO and HELLO_FAILED streams below were captured from Open
vSwitch 3.1.0's ``ovs-ofctl -O <versions> probe tcp:127.0.0.1:PORT`` against a socket
that sent the peer HELLO shown (the same capture also runs live in
``test_hello_failed_matches_ovs_ofctl_live``); echo bytes are Ryu 4.34's
``OFPEchoReply.serialize()``.  Peer HELLOs are built by hand from the spec layout or
taken from OVS's tests/ofp-print.at.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openflow import codec
from openflow.channel import (
    Channel,
    ChannelError,
    Closed,
    MessageReceived,
    Negotiated,
    ProtocolError,
    State,
    connect_in_memory,
    negotiate,
    pump,
)
from openflow.consts import OFP10, OFP13, OFPMPF_REPLY_MORE, OFPMPF_REQ_MORE
from openflow.errors import Err
from openflow.match import Match
from openflow.messages import (
    BarrierReply,
    BarrierRequest,
    DescStatsReply,
    EchoReply,
    EchoRequest,
    Error,
    FeaturesRequest,
    FlowStats,
    FlowStatsReply,
    FlowStatsRequest,
    PacketOut,
    PortDescStatsRequest,
    PortStats,
    PortStatsReply,
    TableFeatures,
    TableFeaturesStatsRequest,
)

HEADER = struct.Struct("!BBHI")
ALL = frozenset({OFP10, OFP13})
VERSION_SETS = [frozenset({OFP10}), frozenset({OFP13}), ALL]


def hello(version: int, bitmap: set[int] | None = None, xid: int = 0) -> bytes:
    """A HELLO built by hand from the OF1.3.5 layout (7.5.1): one bitmap element."""
    if bitmap is None:
        return HEADER.pack(version, 0, 8, xid)
    words = [0] * (max(bitmap) // 32 + 1)
    for v in bitmap:
        words[v // 32] |= 1 << (v % 32)
    elem_len = 4 + 4 * len(words)
    elem = struct.pack("!HH", 1, elem_len) + b"".join(struct.pack("!I", w) for w in words)
    elem += b"\0" * (-elem_len % 8)
    return HEADER.pack(version, 0, 8 + len(elem), xid) + elem


def msg_bytes(version: int, msg_type: int, body: bytes = b"", xid: int = 0) -> bytes:
    return HEADER.pack(version, msg_type, 8 + len(body), xid) + body


def error_bytes(version: int, type_: int, code: int, data: bytes, xid: int) -> bytes:
    return msg_bytes(version, 1, struct.pack("!HH", type_, code) + data, xid)


def drain(ch: Channel) -> list:
    events = []
    while (event := ch.next_event()) is not None:
        events.append(event)
    return events


def connected(versions: frozenset[int], peer_hello: bytes, **kw) -> tuple[Channel, list]:
    """A channel that received ``peer_hello``; its output so far is drained."""
    ch = Channel(versions, **kw)
    ch.initiate()
    ch.receive_data(peer_hello, 0.0)
    ch.data_to_send()
    return ch, drain(ch)


def pair(va=ALL, vb=ALL, **kw) -> tuple[Channel, Channel]:
    """A negotiated switch/controller pair; asserts the handshake succeeded."""
    sw = Channel(va, role="switch", **kw)
    ctl = Channel(vb, role="controller", **kw)
    ev_sw, ev_ctl = connect_in_memory(sw, ctl)
    assert ev_sw == [Negotiated(sw.version)] and ev_ctl == [Negotiated(ctl.version)]
    return sw, ctl


# --- HELLO and negotiation --------------------------------------------------------


@pytest.mark.parametrize(
    "versions, expected",
    [
        (ALL, "04000010000000010001000800000012"),  # OVS -O OpenFlow10,OpenFlow13
        (frozenset({OFP13}), "04000010000000010001000800000010"),  # OVS -O OpenFlow13
        (frozenset({OFP10}), "01000010000000010001000800000002"),
    ],
)
def test_initiate_sends_hello_with_bitmap(versions, expected):
    ch = Channel(versions)
    assert ch.state is State.IDLE
    assert ch.initiate().hex() == expected
    assert ch.state is State.HELLO_SENT
    with pytest.raises(ChannelError):
        ch.initiate()


def _expected_common(a: frozenset[int], b: frozenset[int]) -> int | None:
    common = a & b
    return max(common) if common else None


@pytest.mark.parametrize("va", VERSION_SETS, ids=["1.0", "1.3", "1.0+1.3"])
@pytest.mark.parametrize("vb", VERSION_SETS, ids=["1.0", "1.3", "1.0+1.3"])
def test_two_channels_negotiate_highest_common(va, vb):
    sw = Channel(va, role="switch")
    ctl = Channel(vb, role="controller")
    ev_sw, ev_ctl = connect_in_memory(sw, ctl)
    expected = _expected_common(va, vb)
    if expected is None:
        assert sw.state is State.CLOSED and ctl.state is State.CLOSED
        for events in (ev_sw, ev_ctl):
            assert len(events) == 1 and isinstance(events[0], Closed)
            assert "no common versions" in events[0].reason
    else:
        assert ev_sw == [Negotiated(expected)] and ev_ctl == [Negotiated(expected)]
        assert sw.version == ctl.version == expected
        assert sw.state is ctl.state is State.CONNECTED
        assert sw.peer_versions == vb and ctl.peer_versions == va


@pytest.mark.parametrize("ours", VERSION_SETS, ids=["1.0", "1.3", "1.0+1.3"])
@pytest.mark.parametrize("peer_header", [1, 2, 3, 4, 5, 6])
def test_peer_without_bitmap_uses_smaller_header_version(ours, peer_header):
    ch, events = connected(ours, hello(peer_header))
    candidate = min(max(ours), peer_header)
    if candidate in ours:
        assert events == [Negotiated(candidate)]
        assert ch.peer_versions is None
    else:
        assert ch.state is State.CLOSED
        assert isinstance(events[-1], Closed)


@pytest.mark.parametrize("ours", VERSION_SETS, ids=["1.0", "1.3", "1.0+1.3"])
@pytest.mark.parametrize(
    "peer", [{1}, {4}, {1, 4}, {2, 3}, {4, 5, 6}, {1, 2, 3, 4, 5, 6}, {5, 6}, {1, 40}]
)
def test_peer_bitmap_wins_over_header(ours, peer):
    # Header 0x06 whatever the bitmap says: the bitmap decides.
    ch, events = connected(ours, hello(0x06, peer))
    expected = _expected_common(ours, frozenset(peer))
    if expected is None:
        assert ch.state is State.CLOSED
    else:
        assert events == [Negotiated(expected)]


def test_of15_hello_with_bitmap_including_13():
    ch, events = connected(ALL, hello(0x06, {4, 5, 6}))
    assert events == [Negotiated(OFP13)] and ch.version == OFP13


def test_ovs_vector_header_10_bitmap_4_to_7():
    # tests/ofp-print.at "OFPT_HELLO with version bitmap": header 0x01, bitmap 0x04..0x07.
    peer = bytes.fromhex("01 00 00 10 00 00 00 00 00 01 00 08 00 00 00 f0")
    _, events = connected(ALL, peer)
    assert events == [Negotiated(OFP13)]


def test_ovs_vector_high_header_without_bitmap():
    # tests/ofp-print.at: "0f 00 00 08 ..." -> smaller header version is ours (0x04).
    _, events = connected(ALL, bytes.fromhex("0f00000800000000"))
    assert events == [Negotiated(OFP13)]


@pytest.mark.parametrize(
    "peer_hex",
    [
        "01 00 00 10 00 00 00 00 00 01 00 08 00 00 00 00",  # bitmap of no version
        "01 00 00 10 00 00 00 00 00 01 00 08 00 00 00 01",  # only version 0
        "01 00 00 13 00 00 00 00 65 78 74 72 61 20 64 61 74 61 0a",  # extra data
    ],
)
def test_unusable_hello_body_falls_back_to_header(peer_hex):
    # The three "contradictory"/"extra data" HELLOs of tests/ofp-print.at: OVS goes by
    # the header version (0x01) and so do we.
    _, events = connected(ALL, bytes.fromhex(peer_hex.replace(" ", "")))
    assert events == [Negotiated(OFP10)]


def test_bit_zero_ignored_in_bitmap():
    # tests/ofp-print.at: bitmap 0xf1 claims version 0 too; it means 0x04..0x07.
    peer = bytes.fromhex("01 00 00 10 00 00 00 00 00 01 00 08 00 00 00 f1".replace(" ", ""))
    _, events = connected(ALL, peer)
    assert events == [Negotiated(OFP13)]


def test_negotiate_function():
    assert negotiate(ALL, 0x06, frozenset({4, 5, 6})) == OFP13
    assert negotiate(ALL, 0x01, frozenset({4, 5, 6, 7})) == OFP13
    assert negotiate(ALL, 0x03, None) is None  # min(4, 3) = 3 is not ours
    assert negotiate(ALL, 0x01, None) == OFP10
    assert negotiate(frozenset({OFP10}), 0x04, None) == OFP10
    assert negotiate(frozenset({OFP13}), 0x04, frozenset({2, 3})) is None


# HELLO_FAILED: (our versions, peer HELLO, OVS's complete output: HELLO then ERROR).
OVS_HELLO_FAILED = [
    (
        frozenset({OFP13}),
        "0100000800000000",
        "04000010000000010001000800000010"
        "010100520000000000000000576520737570706f72742076657273696f6e20307830342c20796f7520"
        "737570706f72742076657273696f6e20307830312c206e6f20636f6d6d6f6e2076657273696f6e732e",
    ),
    (
        ALL,
        "0300001000000000000100080000000c",
        "04000010000000010001000800000012"
        "030100600000000000000000576520737570706f72742076657273696f6e7320307830312c2030783034"
        "2c20796f7520737570706f72742076657273696f6e7320307830322c20307830332c206e6f20636f6d6d"
        "6f6e2076657273696f6e732e",
    ),
    (
        ALL,
        "0600001000000005000100080000004c",
        "04000010000000010001000800000012"
        "060100660000000000000000576520737570706f72742076657273696f6e7320307830312c2030783034"
        "2c20796f7520737570706f72742076657273696f6e7320307830322c20307830332c20307830362c206e"
        "6f20636f6d6d6f6e2076657273696f6e732e",
    ),
    (
        frozenset({OFP13}),
        "0300001000000007000100080000000e",
        "04000010000000010001000800000010"
        "0301005e0000000000000000576520737570706f72742076657273696f6e20307830342c20796f7520"
        "737570706f72742076657273696f6e203078303320616e64206561726c6965722c206e6f20636f6d6d"
        "6f6e2076657273696f6e732e",
    ),
]


@pytest.mark.parametrize("ours, peer_hex, ovs_hex", OVS_HELLO_FAILED)
def test_hello_failed_bytes_match_ovs(ours, peer_hex, ovs_hex):
    ch = Channel(ours)
    out = ch.initiate()
    ch.receive_data(bytes.fromhex(peer_hex), 0.0)
    out += ch.data_to_send()
    assert out.hex() == ovs_hex
    events = drain(ch)
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert events[0].reason.startswith("version negotiation failed: We support ")
    assert ch.state is State.CLOSED and ch.version is None
    # Nothing more is accepted or produced.
    ch.receive_data(bytes.fromhex("0402000800000009"), 1.0)
    assert drain(ch) == [] and ch.data_to_send() == b""
    with pytest.raises(ChannelError):
        ch.send(EchoRequest())


def test_hello_failed_for_peer_without_bitmap_names_only_its_header_version():
    # OVS would write "version 0x02 and earlier" (its reading of a bitmap-less HELLO);
    # under the spec's rule that peer offered 0x02 only.
    ch = Channel(ALL)
    ch.initiate()
    ch.receive_data(hello(0x02, xid=3), 0.0)
    text = b"We support versions 0x01, 0x04, you support version 0x02, no common versions."
    assert ch.data_to_send() == error_bytes(0x02, 0, 0, text, 0)


def _ovs_ofctl_output(ovs_ofctl: str, protocols: str, peer: bytes) -> bytes:
    """What ovs-ofctl sends to a 'switch' that answers its connection with ``peer``."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        proc = subprocess.Popen(
            [ovs_ofctl, "-t", "5", "-O", protocols, "probe", f"tcp:127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.settimeout(10)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5)
                conn.sendall(peer)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
        finally:
            proc.wait(timeout=10)
    return data


@pytest.mark.parametrize("ours, peer_hex, _ovs_hex", OVS_HELLO_FAILED)
def test_hello_failed_matches_ovs_ofctl_live(ovs_ofctl, ours, peer_hex, _ovs_hex):
    protocols = ",".join({OFP10: "OpenFlow10", OFP13: "OpenFlow13"}[v] for v in sorted(ours))
    peer = bytes.fromhex(peer_hex)
    theirs = _ovs_ofctl_output(ovs_ofctl, protocols, peer)
    ch = Channel(ours)
    mine = ch.initiate()
    ch.receive_data(peer, 0.0)
    mine += ch.data_to_send()
    assert mine == theirs


@pytest.mark.parametrize(
    "protocols, ours, ok",
    [
        ("OpenFlow13", ALL, True),
        ("OpenFlow10", ALL, True),
        ("OpenFlow10", frozenset({OFP13}), False),
    ],
)
def test_ovs_ofctl_probe_against_channel(ovs_ofctl, protocols, ours, ok):
    """Real ovs-ofctl negotiates with our channel over loopback and gets its echo reply."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    seen: list = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            ch = Channel(ours)
            conn.sendall(ch.initiate())
            while ch.state is not State.CLOSED:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                ch.receive_data(data, 0.0)
                seen.extend(drain(ch))
                try:
                    conn.sendall(ch.data_to_send())
                except OSError:
                    pass  # ovs-ofctl hung up first

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [ovs_ofctl, "-t", "5", "-O", protocols, "probe", f"tcp:127.0.0.1:{port}"],
            capture_output=True,
            timeout=20,
        )
        thread.join(10)
    finally:
        server.close()
    assert (result.returncode == 0) is ok, result.stderr
    if ok:
        version = OFP13 if protocols == "OpenFlow13" else OFP10
        assert seen[0] == Negotiated(version)
        assert isinstance(seen[-1], Closed)
    else:
        assert len(seen) == 1 and "no common versions" in seen[0].reason


def test_message_before_hello_closes_without_reply():
    ch = Channel(ALL)
    ch.initiate()
    ch.receive_data(msg_bytes(OFP13, 5, xid=1), 0.0)  # FEATURES_REQUEST
    events = drain(ch)
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert "before HELLO" in events[0].reason
    assert ch.data_to_send() == b""


def test_hello_and_first_request_in_one_chunk():
    ch, events = connected(ALL, hello(4, {1, 4}) + msg_bytes(4, 5, xid=7))
    assert events == [
        Negotiated(OFP13),
        MessageReceived(FeaturesRequest(xid=7), OFP13, 7, msg_bytes(4, 5, xid=7)),
    ]


def test_repeated_hello_after_negotiation_is_ignored():
    ch, _ = connected(ALL, hello(4, {1, 4}))
    ch.receive_data(hello(4, {4}) + hello(1), 1.0)
    assert drain(ch) == [] and ch.data_to_send() == b"" and ch.version == OFP13


def test_receive_before_initiate_is_a_caller_error():
    with pytest.raises(ChannelError):
        Channel().receive_data(hello(4), 0.0)


def test_send_before_negotiation_is_a_caller_error():
    ch = Channel()
    ch.initiate()
    with pytest.raises(ChannelError):
        ch.send(EchoRequest())


@pytest.mark.parametrize("kw", [{"versions": ()}, {"versions": (2,)}, {"role": "peer"}])
def test_constructor_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        Channel(**kw)


# --- Framing ------------------------------------------------------------------------


def _traffic() -> bytes:
    """A peer HELLO then a mix of OF1.3 messages, one of them short (BAD_LEN)."""
    return b"".join(
        [
            hello(4, {1, 4}, xid=1),
            msg_bytes(4, 5, xid=2),  # FEATURES_REQUEST
            msg_bytes(4, 2, b"abc", xid=3),  # ECHO_REQUEST -> auto reply
            msg_bytes(4, 14, b"\0" * 8, xid=4),  # FLOW_MOD, 16 bytes: BAD_LEN
            codec.encode(PacketOut(data=b"\xaa" * 3000, xid=5), OFP13),
            msg_bytes(4, 20, xid=6),  # BARRIER_REQUEST
        ]
    )


def _run(chunks: list[bytes]) -> tuple[list, bytes]:
    ch = Channel(ALL)
    ch.initiate()
    events, out = [], b""
    for chunk in chunks:
        ch.receive_data(chunk, 0.0)
        events += drain(ch)
        out += ch.data_to_send()
    return events, out


def test_traffic_in_one_chunk():
    events, out = _run([_traffic()])
    assert [type(e) for e in events] == [
        Negotiated,
        MessageReceived,
        ProtocolError,
        MessageReceived,
        MessageReceived,
    ]
    assert events[1].msg == FeaturesRequest(xid=2)
    assert events[2].err is Err.OFPBRC_BAD_LEN and events[2].xid == 4
    assert events[3].msg == PacketOut(data=b"\xaa" * 3000, xid=5)
    assert events[4].msg == BarrierRequest(xid=6)
    assert out == (
        msg_bytes(4, 3, b"abc", xid=3)  # echo reply
        + error_bytes(4, 1, 6, msg_bytes(4, 14, b"\0" * 8, xid=4), 4)
    )


def test_traffic_byte_by_byte():
    data = _traffic()
    assert _run([data[i : i + 1] for i in range(len(data))]) == _run([data])


@given(st.lists(st.integers(min_value=0, max_value=len(_traffic())), max_size=40))
@settings(max_examples=200)
def test_traffic_random_chunking(cuts):
    data = _traffic()
    bounds = [0, *sorted(cuts), len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]  # b"" would be EOF
    assert _run(chunks) == _run([data])


@pytest.mark.parametrize("length", [0, 1, 7])
def test_length_below_header_is_fatal(length):
    ch, _ = connected(ALL, hello(4, {4}))
    ch.receive_data(HEADER.pack(4, 5, length, 1) + msg_bytes(4, 20, xid=2), 1.0)
    events = drain(ch)
    assert events == [Closed(f"framing error: message length {length} < 8")]
    assert ch.data_to_send() == b""
    ch.receive_data(msg_bytes(4, 20, xid=3), 2.0)  # ignored after close
    assert drain(ch) == []


def test_buffer_holds_at_most_one_partial_message():
    ch, _ = connected(ALL, hello(4, {4}))
    big = codec.encode(PacketOut(data=b"\x55" * 65000, xid=9), OFP13)
    stream = msg_bytes(4, 20, xid=1) * 1000 + big * 3 + big[:40000]
    ch.receive_data(stream, 1.0)
    assert len(ch._buffer) == 40000
    assert len(drain(ch)) == 1003
    ch.receive_data(big[40000:], 1.0)
    assert len(ch._buffer) == 0
    assert drain(ch)[0].msg.data == b"\x55" * 65000


def test_eof_closes():
    ch, _ = connected(ALL, hello(4, {4}))
    ch.receive_data(b"", 1.0)
    assert drain(ch) == [Closed("connection closed by peer")]
    ch2, _ = connected(ALL, hello(4, {4}))
    ch2.receive_data(msg_bytes(4, 20)[:5], 1.0)
    ch2.receive_data(b"", 1.0)
    assert drain(ch2) == [Closed("connection closed by peer (5 bytes of a partial message)")]


# --- Per-message errors -------------------------------------------------------------


@pytest.mark.parametrize("version", [OFP10, OFP13])
def test_short_flow_mod_gets_bad_len_and_channel_keeps_working(version):
    ch, _ = connected(frozenset({version}), hello(version))
    short = msg_bytes(version, 14, bytes(range(24)), xid=0x1234)  # 32 bytes < minimum
    ch.receive_data(short, 1.0)
    events = drain(ch)
    assert len(events) == 1 and isinstance(events[0], ProtocolError)
    assert events[0].err is Err.OFPBRC_BAD_LEN and events[0].raw == short
    # OFPET_BAD_REQUEST (1) / OFPBRC_BAD_LEN (6) in both versions, the whole request echoed.
    assert ch.data_to_send() == error_bytes(version, 1, 6, short, 0x1234)
    assert ch.state is State.CONNECTED
    ch.receive_data(msg_bytes(version, 18 if version == OFP10 else 20, xid=5), 2.0)
    assert [e.msg for e in drain(ch)] == [BarrierRequest(xid=5)]


def test_error_reply_echoes_at_most_64_bytes():
    ch, _ = connected(ALL, hello(4, {4}))
    unknown = msg_bytes(4, 99, bytes(range(100)), xid=77)  # no such type
    ch.receive_data(unknown, 1.0)
    assert drain(ch)[0].err is Err.OFPBRC_BAD_TYPE
    assert ch.data_to_send() == error_bytes(4, 1, 1, unknown[:64], 77)


def test_malformed_error_is_reported_but_not_answered():
    ch, _ = connected(ALL, hello(4, {4}))
    ch.receive_data(msg_bytes(4, 1, b"\x00", xid=3), 1.0)  # ERROR shorter than type+code
    events = drain(ch)
    assert isinstance(events[0], ProtocolError) and events[0].err is Err.OFPBRC_BAD_LEN
    assert ch.data_to_send() == b""


def test_error_message_is_delivered():
    ch, _ = connected(ALL, hello(4, {4}))
    raw = error_bytes(4, 1, 6, b"xyz", 8)
    ch.receive_data(raw, 1.0)
    assert drain(ch) == [MessageReceived(Error(1, 6, b"xyz", xid=8), OFP13, 8, raw)]


def test_wrong_version_gets_bad_version_and_channel_stays_up():
    ch, _ = connected(ALL, hello(4, {4}))
    v10_request = msg_bytes(1, 5, xid=11)  # FEATURES_REQUEST in OF1.0 on an OF1.3 channel
    v12_request = msg_bytes(3, 5, xid=12)  # a version we have no codec for
    ch.receive_data(v10_request + v12_request, 1.0)
    events = drain(ch)
    assert [e.err for e in events] == [Err.OFPBRC_BAD_VERSION] * 2
    assert ch.data_to_send() == (
        error_bytes(1, 1, 0, v10_request, 11)  # in the request's version, as OVS
        + error_bytes(4, 1, 0, v12_request, 12)  # unknown version: the negotiated one
    )
    assert ch.state is State.CONNECTED


def test_echo_and_error_of_another_known_version_are_taken():
    ch, _ = connected(ALL, hello(4, {4}))
    ch.receive_data(msg_bytes(1, 2, b"hi", xid=4), 1.0)  # OF1.0 ECHO_REQUEST
    assert ch.data_to_send() == msg_bytes(1, 3, b"hi", xid=4)
    raw = error_bytes(1, 1, 0, b"", 9)
    ch.receive_data(raw, 1.0)
    assert drain(ch) == [MessageReceived(Error(1, 0, xid=9), OFP10, 9, raw)]


# --- Echo and the inactivity probe --------------------------------------------------


@pytest.mark.parametrize("version", [OFP10, OFP13])
def test_echo_request_is_answered_automatically(version):
    ch, _ = connected(ALL, hello(version))
    ch.receive_data(msg_bytes(version, 2, b"ping", xid=7), 1.0)
    assert drain(ch) == []  # handled by the channel
    # Ryu 4.34 OFPEchoReply(data=b"ping", xid=7).serialize():
    ryu = {OFP10: "0103000c0000000770696e67", OFP13: "0403000c0000000770696e67"}
    assert ch.data_to_send().hex() == ryu[version]


def test_echo_reply_to_our_own_request_is_delivered():
    sw, ctl = pair()
    sw.receive_data(ctl.send(EchoRequest(b"x", xid=42)), 1.0)
    ctl.receive_data(sw.data_to_send(), 1.0)
    assert drain(ctl) == [
        MessageReceived(EchoReply(b"x", xid=42), OFP13, 42, msg_bytes(4, 3, b"x", xid=42))
    ]


def test_inactivity_probe_timeout():
    sw, ctl = pair(echo_interval=5.0)
    assert sw.next_deadline() == 5.0
    assert sw.tick(4.9) == b""
    probe = sw.tick(5.0)
    assert probe == msg_bytes(4, 2, xid=2)  # xid 1 went to the HELLO
    assert sw.next_deadline() == 10.0
    assert sw.tick(9.9) == b"" and drain(sw) == []
    assert sw.tick(10.0) == b""
    assert drain(sw) == [Closed("inactivity probe timeout: no inactivity probe reply after 10 s")]
    assert sw.state is State.CLOSED and sw.next_deadline() is None


def test_inactivity_probe_answered():
    sw, ctl = pair(echo_interval=5.0)
    probe = sw.tick(5.0)
    ctl.receive_data(probe, 5.125)
    assert drain(ctl) == []
    sw.receive_data(ctl.data_to_send(), 5.25)
    assert drain(sw) == []  # the reply to our own probe is not surfaced
    assert sw.next_deadline() == 10.25
    assert sw.tick(10.125) == b""
    assert sw.tick(10.25) == msg_bytes(4, 2, xid=3)


def test_any_received_byte_is_activity():
    sw, _ = pair(echo_interval=5.0)
    sw.tick(5.0)
    sw.receive_data(msg_bytes(4, 20)[:3], 9.0)  # part of a message
    assert sw.next_deadline() == 14.0
    assert sw.tick(13.0) == b"" and sw.state is State.CONNECTED


def test_no_hello_times_out_after_two_intervals():
    ch = Channel(echo_interval=2.0, now=100.0)
    ch.initiate()
    assert ch.tick(102.0) == b""  # nothing can be sent before negotiation
    assert drain(ch) == []
    assert ch.tick(104.0) == b""
    assert drain(ch) == [Closed("inactivity probe timeout: no HELLO reply after 4 s")]


def test_probe_disabled():
    sw, _ = pair(echo_interval=None)
    assert sw.next_deadline() is None
    assert sw.tick(1e9) == b"" and sw.state is State.CONNECTED


# --- xids ---------------------------------------------------------------------------


def test_xid_allocation_and_wrap():
    ch = Channel()
    assert [ch.next_xid() for _ in range(3)] == [1, 2, 3]
    ch._xid = 0xFFFFFFFE
    assert [ch.next_xid() for _ in range(3)] == [0xFFFFFFFF, 1, 2]


def test_send_xid_policy_by_role():
    sw, ctl = pair()
    assert HEADER.unpack_from(ctl.send(BarrierRequest()))[3] == 2  # fresh xid
    assert HEADER.unpack_from(ctl.send(BarrierRequest(xid=99)))[3] == 99
    assert HEADER.unpack_from(sw.send(BarrierReply()))[3] == 0  # kept: replies echo xids


def test_send_value_error_propagates():
    sw, _ = pair(vb=frozenset({OFP10}))
    with pytest.raises(ValueError):
        sw.send(FlowStatsRequest(cookie_mask=1))  # OF1.0 cannot select by cookie


# --- Multipart ----------------------------------------------------------------------


def _flow_stats(n: int) -> tuple[FlowStats, ...]:
    return tuple(FlowStats(priority=i % 0xFFFF, cookie=i, match=Match()) for i in range(n))


@pytest.mark.parametrize("version", [OFP10, OFP13])
def test_big_reply_is_split_and_reassembled(version):
    sw, ctl = pair(vb=frozenset({version}))
    entries = _flow_stats(3000)
    data = sw.send(FlowStatsReply(entries=entries, xid=5))
    # Several messages, each at most 64 KiB, REPLY_MORE on all but the last.
    parts, offset = [], 0
    while offset < len(data):
        length = HEADER.unpack_from(data, offset)[2]
        parts.append(data[offset : offset + length])
        offset += length
    assert len(parts) >= 3 and offset == len(data)
    # Both versions: header, then type (2 bytes) and flags (2 bytes).
    more = [struct.unpack_from("!H", p, 10)[0] & OFPMPF_REPLY_MORE for p in parts]
    assert more == [1] * (len(parts) - 1) + [0]
    assert all(len(p) <= 0xFFFF for p in parts)
    ctl.receive_data(data, 1.0)
    events = drain(ctl)
    assert len(events) == 1
    assert events[0].msg == FlowStatsReply(entries=entries, xid=5)
    assert events[0].raw == data and events[0].xid == 5
    assert ctl._buffered == 0 and ctl._partials == {}


def test_reply_more_parts_interleaved_with_other_messages():
    _, ctl = pair()
    part1 = PortStatsReply(entries=(PortStats(1),), flags=OFPMPF_REPLY_MORE, xid=7)
    part2 = PortStatsReply(entries=(PortStats(2), PortStats(3)), xid=7)
    other = DescStatsReply(mfr_desc="x", xid=8)
    ctl.receive_data(codec.encode(part1, OFP13), 1.0)
    assert drain(ctl) == []
    ctl.receive_data(codec.encode(other, OFP13) + codec.encode(part2, OFP13), 1.0)
    msgs = [e.msg for e in drain(ctl)]
    assert msgs == [
        other,
        PortStatsReply(entries=(PortStats(1), PortStats(2), PortStats(3)), xid=7),
    ]


def test_req_more_request_is_reassembled_on_of13():
    sw, _ = pair()
    parts = [
        TableFeaturesStatsRequest(
            entries=(TableFeatures(0, name="t0"),), flags=OFPMPF_REQ_MORE, xid=3
        ),
        TableFeaturesStatsRequest(entries=(), flags=OFPMPF_REQ_MORE, xid=3),
        TableFeaturesStatsRequest(entries=(TableFeatures(1, name="t1"),), xid=3),
    ]
    raw = b"".join(codec.encode(p, OFP13) for p in parts)
    sw.receive_data(raw, 1.0)
    events = drain(sw)
    assert events == [
        MessageReceived(
            TableFeaturesStatsRequest(
                entries=(TableFeatures(0, name="t0"), TableFeatures(1, name="t1")), xid=3
            ),
            OFP13,
            3,
            raw,
        )
    ]


def test_req_more_on_bodyless_request_delivers_one_message():
    sw, _ = pair()
    raw = codec.encode(PortDescStatsRequest(flags=OFPMPF_REQ_MORE, xid=4), OFP13)
    raw += codec.encode(PortDescStatsRequest(xid=4), OFP13)
    sw.receive_data(raw, 1.0)
    assert [e.msg for e in drain(sw)] == [PortDescStatsRequest(xid=4)]


def test_of10_request_flags_are_not_req_more():
    # OF1.0 defines no request flags; OVS passes such a request on at once.
    sw, _ = pair(vb=frozenset({OFP10}))
    raw = msg_bytes(1, 16, struct.pack("!HH", 0, 1), xid=6)  # STATS_REQUEST(DESC), flags 1
    sw.receive_data(raw, 1.0)
    events = drain(sw)
    assert len(events) == 1 and isinstance(events[0], MessageReceived)
    assert events[0].xid == 6


def test_multipart_overflow_on_requests():
    sw, _ = pair(max_buffered=1000)
    part = TableFeaturesStatsRequest(
        entries=(TableFeatures(0, name="x" * 20),), flags=OFPMPF_REQ_MORE, xid=9
    )
    raw = codec.encode(part, OFP13)
    n = 1000 // len(raw) + 1  # the n-th part crosses the bound
    sw.receive_data(raw * (n - 1), 1.0)
    assert drain(sw) == [] and sw.data_to_send() == b""
    sw.receive_data(raw, 1.0)
    events = drain(sw)
    assert len(events) == 1 and events[0].err is Err.OFPBRC_MULTIPART_BUFFER_OVERFLOW
    # OFPBRC_MULTIPART_BUFFER_OVERFLOW is (1, 13) in OF1.3, echoing the offending part.
    assert sw.data_to_send() == error_bytes(4, 1, 13, raw[:64], 9)
    assert sw._buffered == 0
    # The rest of the sequence is dropped, not delivered truncated ...
    final = codec.encode(TableFeaturesStatsRequest(entries=(), xid=9), OFP13)
    sw.receive_data(raw + final, 1.0)
    assert drain(sw) == [] and sw.data_to_send() == b""
    # ... and the xid is usable again afterwards; other sequences are unaffected.
    single = codec.encode(TableFeaturesStatsRequest(xid=9), OFP13)
    sw.receive_data(single, 1.0)
    assert [e.msg for e in drain(sw)] == [TableFeaturesStatsRequest(xid=9)]


def test_multipart_overflow_on_replies_is_reported_not_answered():
    _, ctl = pair(max_buffered=500)
    part = FlowStatsReply(entries=_flow_stats(5), flags=OFPMPF_REPLY_MORE, xid=3)
    ctl.receive_data(codec.encode(part, OFP13) * 3, 1.0)
    events = drain(ctl)
    assert [e.err for e in events] == [Err.OFPBRC_MULTIPART_BUFFER_OVERFLOW]
    assert ctl.data_to_send() == b""


def test_multipart_type_change_in_sequence():
    sw, _ = pair()
    first = codec.encode(TableFeaturesStatsRequest(flags=OFPMPF_REQ_MORE, xid=2), OFP13)
    other = codec.encode(PortDescStatsRequest(xid=2), OFP13)
    sw.receive_data(first + other, 1.0)
    events = drain(sw)
    assert [e.err for e in events] == [Err.OFPBRC_BAD_MULTIPART]
    assert sw.data_to_send() == error_bytes(4, 1, 2, other, 2)
    assert sw._partials == {}


def test_default_bounds_by_role():
    assert Channel(role="switch").max_buffered == 4 << 20
    assert Channel(role="controller").max_buffered == 64 << 20


def test_pump_moves_automatic_output():
    sw, ctl = pair()
    sw.receive_data(ctl.send(EchoRequest(b"z", xid=1)), 0.0)
    events_sw, events_ctl = pump(sw, ctl)
    assert events_sw == []
    assert [e.msg for e in events_ctl] == [EchoReply(b"z", xid=1)]
