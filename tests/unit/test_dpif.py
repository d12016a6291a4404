"""The dpif on in-memory ports: ports, flows, upcalls, counters, events, patch ports, loop."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

import pytest

from datapath import netdev as nd
from datapath.dpif import Datapath, PortEventKind, UpcallKind
from datapath.flow import extract, key_get, make_key, make_mask
from datapath.meter import BandType, MeterBand
from datapath.netdev import DummyNetdev, PatchNetdev, connect_patch, vlan_tag
from datapath.odp_actions import (
    Meter,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    SetTunnel,
    Truncate,
    Userspace,
)

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def udp_frame(sport: int = 1000, dport: int = 2000, src: str = "10.0.0.1", dst: str = "10.0.0.2",
              payload: bytes = b"x" * 18, eth_dst: bytes = MAC_B) -> bytes:
    """Ethernet/IPv4/UDP with valid lengths (checksums are not the point here)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return eth_dst + MAC_A + b"\x08\x00" + ip + udp


def tcp_frame(flags: int) -> bytes:
    tcp = struct.pack("!HHIIHHHH", 1, 2, 0, 0, 0x5000 | flags, 0, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes(4), bytes(4))
    return MAC_B + MAC_A + b"\x08\x00" + ip + tcp


IN_PORT = make_mask(in_port=True)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def dp(clock):
    datapath = Datapath("t", clock=clock, emc_insert_inv_prob=1)
    yield datapath
    datapath.close()


def two_ports(dp: Datapath) -> tuple[DummyNetdev, DummyNetdev, int, int]:
    a, b = DummyNetdev("a"), DummyNetdev("b")
    return a, b, dp.port_add(a), dp.port_add(b)


# ------------------------------------------------------------------ ports


def test_port_numbers_names_and_errors(dp):
    assert dp.port_add(DummyNetdev("x")) == 1
    assert dp.port_add(DummyNetdev("local"), port_no=0) == 0
    assert dp.port_add(DummyNetdev("y")) == 2
    assert dp.port_add(DummyNetdev("z"), port_no=7) == 7
    with pytest.raises(FileExistsError):
        dp.port_add(DummyNetdev("x"))
    with pytest.raises(FileExistsError):
        dp.port_add(DummyNetdev("w"), port_no=7)
    with pytest.raises(ValueError):
        dp.port_add(DummyNetdev("v"), port_no=0x10000)
    assert [p.port_no for p in dp.port_list()] == [0, 1, 2, 7]
    assert dp.port_no("y") == 2 and dp.port_no("nope") is None
    info = dp.port_get(7)
    assert (info.name, info.type, info.link_up, info.mtu) == ("z", "dummy", True, 1500)
    z = dp.netdev(7)
    dp.port_del(7)
    assert z.closed
    with pytest.raises(FileNotFoundError):
        dp.port_del(7)
    with pytest.raises(FileNotFoundError):
        dp.port_get(7)
    assert dp.port_add(DummyNetdev("u")) == 3  # lowest free number >= 1


def test_port_counters_reported(dp):
    a, b, pa, pb = two_ports(dp)
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    for _ in range(3):
        a.inject(udp_frame())
    dp.poll()
    stats = {p.name: p.stats for p in dp.port_list()}
    assert stats["a"]["rx_packets"] == 3 and stats["a"]["rx_bytes"] == 3 * 60
    assert stats["b"]["tx_packets"] == 3 and stats["b"]["tx_bytes"] == 3 * 60


def test_output_to_deleted_or_unknown_port_does_nothing(dp):
    a, b, pa, pb = two_ports(dp)
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(99), Output(pb)])
    dp.port_del(pb)
    a.inject(udp_frame())
    dp.poll()
    assert dp.stats().hit == 1 and not b.sent


def test_over_mtu_output_is_counted_as_drop(dp):
    a, b, pa, pb = two_ports(dp)
    b.mtu = 100
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    a.inject(udp_frame(payload=b"y" * 200))
    a.inject(udp_frame())
    dp.poll()
    assert len(b.sent) == 1 and dp.port_get(pb).stats["tx_dropped"] == 1


# ------------------------------------------------------------------ the fast path and upcalls


def test_miss_upcall_install_execute_then_hit(dp, clock):
    a, b, pa, pb = two_ports(dp)
    seen = []

    def handler(batch):
        for upcall in batch:
            seen.append(upcall)
            flow = dp.flow_put(upcall.key, IN_PORT, [Output(pb)])
            dp.execute(upcall.frame, flow.actions, upcall.in_port)

    dp.set_upcall_handler(handler)
    frame = udp_frame()
    a.inject(frame)
    dp.poll()
    assert len(seen) == 1
    upcall = seen[0]
    assert (upcall.kind, upcall.in_port, upcall.frame, upcall.total_len) == (
        UpcallKind.MISS, pa, frame, len(frame))
    assert upcall.key == extract(frame, pa)
    assert list(b.sent) == [frame]  # executed by the handler
    clock.now = 105.0
    a.inject(frame)
    a.inject(udp_frame(sport=7))  # same megaflow (in_port only)
    dp.poll()
    assert len(seen) == 1 and len(b.sent) == 3
    stats = dp.stats()
    assert (stats.hit, stats.missed, stats.lost, stats.flows, stats.masks) == (2, 1, 0, 1, 1)
    (flow,) = dp.flow_dump()
    assert (flow.stats.packets, flow.stats.bytes, flow.stats.used) == (2, 120, 105.0)


def test_tcp_flags_are_accumulated_where_the_key_is_extracted(dp):
    a, b, pa, pb = two_ports(dp)
    mask = make_mask(in_port=True, eth_type=True, ip_proto=True)
    flow = dp.flow_put(make_key(in_port=pa, eth_type=0x0800, ip_proto=6), mask, [Output(pb)])
    a.inject(tcp_frame(0x002))
    a.inject(tcp_frame(0x010))
    dp.poll()
    assert dp.flow_get(flow.ufid).stats.tcp_flags == 0x012
    # An in_port-only megaflow is found by header projection, without a full parse:
    # its packets are counted, their TCP flags are not looked at.
    dp.flow_flush()
    flow = dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    a.inject(tcp_frame(0x002))
    dp.poll()
    stats = dp.flow_get(flow.ufid).stats
    assert (stats.packets, stats.tcp_flags) == (1, 0) and len(b.sent) == 3


def test_projected_and_keyed_paths_choose_the_same_flows(clock):
    """Masks with a header projection (L2) beside masks without (L3): same outcome."""
    results = []
    for force_keyed in (False, True):
        dp = Datapath("p", clock=clock)
        a, b, c = DummyNetdev("a"), DummyNetdev("b"), DummyNetdev("c")
        pa, pb, pc = dp.port_add(a), dp.port_add(b), dp.port_add(c)
        l2 = make_mask(in_port=True, eth_dst=True, vlan_tci=0x1000)
        dp.flow_put(make_key(in_port=pa, eth_dst=MAC_B), l2, [Output(pb)])
        dp.flow_put(make_key(in_port=pa, eth_dst=MAC_A), l2, [PushVlan(0x8100, 9), Output(pc)])
        if force_keyed:  # an L3 mask somewhere makes every lookup extract the key
            dp.flow_put(make_key(in_port=9, ip_proto=6), make_mask(in_port=True, ip_proto=True),
                        [])
            assert dp.cache.megaflows.projected is None
        else:
            assert dp.cache.megaflows.projected is not None
        misses = []
        dp.set_upcall_handler(misses.extend)
        frames = [udp_frame(), udp_frame(eth_dst=MAC_A), udp_frame(eth_dst=b"\xff" * 6), b"runt"]
        for frame in frames:
            a.inject(frame)
        a.inject(udp_frame(), vlan_tag(5))  # tagged: the vlan_tci mask says no tag
        dp.poll()
        results.append((list(b.sent), list(c.sent), [u.frame for u in misses],
                        [f.stats.packets for f in dp.flow_dump()][:2]))
        dp.close()
    assert results[0] == results[1]
    sent_b, sent_c, missed, packets = results[0]
    assert sent_b == [udp_frame()] and len(sent_c) == 1 and packets == [1, 1]
    assert len(missed) == 3


def test_modify_takes_effect_on_the_next_packet_even_from_the_emc(dp):
    a, b, pa, pb = two_ports(dp)
    c = DummyNetdev("c")
    pc = dp.port_add(c)
    key = extract(udp_frame(), pa)
    exact = (1 << 1000) - 1  # wider than the key: every field
    first = dp.flow_put(key, exact, [Output(pb)])
    for _ in range(3):
        a.inject(udp_frame())
        dp.poll()
    assert dp.cache.emc.hits >= 1  # the packets were served by the EMC
    second = dp.flow_put(key, exact, [Output(pc)])
    assert second.ufid == first.ufid and second.stats.packets == 3  # stats carried over
    a.inject(udp_frame())
    dp.poll()
    assert len(b.sent) == 3 and len(c.sent) == 1
    third = dp.flow_put(key, exact, [Output(pb)], zero_stats=True)
    assert third.stats.packets == 0 and third.stats.used is None


def test_flow_put_create_modify_flags_and_bad_actions(dp):
    key = make_key(in_port=1)
    with pytest.raises(FileNotFoundError):
        dp.flow_put(key, IN_PORT, [], create=False)
    flow = dp.flow_put(key, IN_PORT, [Output(2)], ufid="u1")
    assert flow.ufid == "u1"
    with pytest.raises(FileExistsError):
        dp.flow_put(key, IN_PORT, [Output(3)], modify=False)
    with pytest.raises(TypeError):
        dp.flow_put(make_key(in_port=2), IN_PORT, ["not an action"])  # type: ignore[list-item]
    assert dp.stats().flows == 1 and dp.flow_get("u1").actions == (Output(2),)
    assert dp.flow_find(make_key(in_port=1, eth_type=0x800), IN_PORT).ufid == "u1"
    assert dp.flow_lookup(make_key(in_port=1, tp_src=9)).ufid == "u1"
    assert dp.flow_lookup(make_key(in_port=5)) is None


def test_flow_del_returns_final_stats_and_flush(dp):
    a, b, pa, pb = two_ports(dp)
    flow = dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    dp.flow_put(make_key(in_port=pb), IN_PORT, [Output(pa)])
    a.inject(udp_frame())
    dp.poll()
    gone = dp.flow_del(flow.ufid)
    assert gone.stats.packets == 1
    assert dp.flow_del(flow.ufid) is None and dp.flow_get(flow.ufid) is None
    dp.set_upcall_handler(lambda batch: None)
    a.inject(udp_frame())
    dp.poll()
    assert dp.stats().missed == 1 and len(b.sent) == 1
    assert dp.flow_flush() == 1 and dp.flow_dump() == []


def test_upcall_queue_overflow_and_no_handler_count_as_lost(clock):
    dp = Datapath("q", clock=clock, upcall_queue_len=5, upcall_batch=2)
    a = DummyNetdev("a")
    dp.port_add(a)
    for _ in range(3):
        a.inject(udp_frame())
    dp.poll()
    assert dp.stats().lost == 3 and dp.stats().missed == 3  # no handler
    batches = []
    dp.set_upcall_handler(lambda batch: batches.append(len(batch)))
    for _ in range(8):
        a.inject(udp_frame())
    dp.poll()
    stats = dp.stats()
    assert (stats.missed, stats.lost) == (11, 6)
    assert batches == [2, 2, 1]  # delivered in upcall_batch pieces
    dp.close()


def test_userspace_action_upcall_truncated_with_userdata(dp):
    a, b, pa, pb = two_ports(dp)
    got = []
    dp.set_upcall_handler(got.extend)
    frame = udp_frame()
    dp.flow_put(make_key(in_port=pa), IN_PORT,
                [Output(pb), Truncate(20), Userspace(b"cookie", None), Userspace(b"all", 100)])
    a.inject(frame)
    dp.poll()
    assert [(u.kind, u.userdata, u.frame, u.total_len) for u in got] == [
        (UpcallKind.ACTION, b"cookie", frame[:20], len(frame)),
        (UpcallKind.ACTION, b"all", frame, len(frame))]
    assert got[0].key == extract(frame, pa) and got[0].in_port == pa


def test_stripped_vlan_tag_is_put_back(dp):
    a, b, pa, pb = two_ports(dp)
    seen = []
    dp.set_upcall_handler(seen.extend)
    frame = udp_frame()
    a.inject(frame, vlan_tag(0x2005))  # PCP 1, VID 5
    dp.poll()
    tagged = frame[:12] + b"\x81\x00\x20\x05" + frame[12:]
    assert seen[0].frame == tagged
    assert key_get(seen[0].key, "vlan_tci") == 0x3005
    dp.flow_put(seen[0].key, make_mask(in_port=True, vlan_tci=True), [PopVlan(), Output(pb)])
    dp.flow_put(make_key(in_port=pb), IN_PORT, [PushVlan(0x88A8, 0x0007), Output(pa)])
    a.inject(frame, vlan_tag(0x2005))
    b.inject(frame)
    dp.poll()
    assert list(b.sent) == [frame]
    assert list(a.sent) == [frame[:12] + b"\x88\xa8\x00\x07" + frame[12:]]


def test_set_field_meter_and_execute(dp, clock):
    a, b, pa, pb = two_ports(dp)
    dp.meter_set(1, [MeterBand(BandType.DROP, rate=2, burst_size=2)], pktps=True)
    dp.flow_put(make_key(in_port=pa), IN_PORT,
                [Meter(1), SetField("eth_dst", int.from_bytes(MAC_A, "big")), Output(pb)])
    for _ in range(5):
        a.inject(udp_frame())
    dp.poll()
    assert len(b.sent) == 2 and b.sent[0][:6] == MAC_A  # burst 2, then dropped
    stats = dp.meter_stats(1)
    assert stats.packet_in_count == 5 and stats.bands[0].packet_count == 3
    clock.now += 1.0  # two more tokens
    for _ in range(3):
        a.inject(udp_frame())
    dp.poll()
    assert len(b.sent) == 4
    assert dp.meter_del(1) and dp.meter_stats(1) is None
    dp.execute(udp_frame(), [Output(pb), Output(pb)], in_port=pa)
    assert len(b.sent) == 6


@pytest.mark.parametrize("mask", [0, make_mask(eth_type=True), make_mask(ip_proto=True)])
def test_malformed_frames_never_raise(dp, mask):
    a, b, pa, pb = two_ports(dp)
    dp.set_upcall_handler(lambda batch: [dp.execute(u.frame, [Output(pb)], u.in_port)
                                         for u in batch])
    dp.flow_put(0, mask, [Output(pb)])
    rng = random.Random(5)
    good = udp_frame()
    for i in range(2000):
        if i % 2:
            frame = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        else:
            frame = good[: rng.randrange(0, len(good))]
        a.inject(frame)
        if i % 100 == 99:
            dp.poll()
            dp.poll()
    dp.poll()
    stats = dp.stats()
    assert stats.hit + stats.missed == 2000 and dp.errors == 0 and stats.lost == 0
    assert len(b.sent) == 2000
    if mask == make_mask(ip_proto=True):  # extracted: the bad layers were counted
        assert stats.malformed > 100


def test_batch_size_bounds_one_drain(clock):
    dp = Datapath("b", clock=clock, batch=4)
    a, b = DummyNetdev("a"), DummyNetdev("b")
    pa, pb = dp.port_add(a), dp.port_add(b)
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    for _ in range(10):
        a.inject(udp_frame())
    assert dp.poll() == 4 and dp.poll() == 4 and dp.poll() == 2
    dp.close()


# ------------------------------------------------------------------ port events


def test_port_events_add_link_vanished_delete(dp):
    events = []
    dp.set_port_handler(events.append)
    a, b, pa, pb = two_ports(dp)
    assert [(e.kind, e.port_no, e.name) for e in events] == [
        (PortEventKind.ADD, pa, "a"), (PortEventKind.ADD, pb, "b")]
    events.clear()
    assert dp.check_ports() == []
    a.set_link(False)
    (event,) = dp.check_ports()
    assert (event.kind, event.port_no, event.link_up) == (PortEventKind.LINK, pa, False)
    assert not dp.port_get(pa).link_up
    a.set_link(True)
    b.vanished = True
    kinds = [(e.kind, e.port_no) for e in dp.check_ports()]
    assert kinds == [(PortEventKind.LINK, pa), (PortEventKind.VANISHED, pb)]
    assert dp.check_ports() == []  # reported once
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    a.inject(udp_frame())
    dp.poll()  # output to a vanished port: counted by the netdev, nothing raised
    assert dp.port_get(pb).link_up is False
    dp.port_del(pb)
    assert events[-1].kind == PortEventKind.DELETE


def test_broken_handlers_do_not_break_the_datapath(dp):
    a, b, pa, pb = two_ports(dp)

    def explode(_):
        raise RuntimeError("slow path bug")

    dp.set_upcall_handler(explode)
    dp.set_port_handler(explode)
    a.inject(udp_frame())
    dp.poll()
    a.set_link(False)
    dp.check_ports()
    assert dp.errors == 2 and dp.stats().missed == 1


# ------------------------------------------------------------------ patch ports


def test_patch_ports_join_two_datapaths(clock):
    br1, br2 = Datapath("br1", clock=clock), Datapath("br2", clock=clock)
    a, b = DummyNetdev("a"), DummyNetdev("b")
    p1, p2 = PatchNetdev("br1-to-br2"), PatchNetdev("br2-to-br1")
    connect_patch(p1, p2)
    pa, pp1 = br1.port_add(a), br1.port_add(p1)
    pb, pp2 = br2.port_add(b), br2.port_add(p2)
    assert br1.port_get(pp1).type == "patch" and br1.port_get(pp1).link_up
    br1.flow_put(make_key(in_port=pa), IN_PORT, [Output(pp1)])
    br2.flow_put(make_key(in_port=pp2), IN_PORT, [SetField("eth_dst", 1), Output(pb)])
    frame = udp_frame()
    a.inject(frame)
    br1.poll()
    assert list(b.sent) == [b"\0\0\0\0\0\x01" + frame[6:]]
    assert p1.stats.tx_packets == 1 and p2.stats.rx_packets == 1 and br2.stats().hit == 1
    misses = []
    br2.set_upcall_handler(misses.extend)
    br2.flow_flush()
    a.inject(frame)
    br1.poll()
    br2.poll()
    assert [(u.in_port, u.frame) for u in misses] == [(pp2, frame)]
    br1.close()
    br2.close()


def test_patch_loop_is_bounded(clock):
    br1, br2 = Datapath("br1", clock=clock), Datapath("br2", clock=clock)
    a = DummyNetdev("a")
    p1, p2 = PatchNetdev("p1"), PatchNetdev("p2")
    connect_patch(p1, p2)
    pa, pp1 = br1.port_add(a), br1.port_add(p1)
    pp2 = br2.port_add(p2)
    # Both bridges send everything back over the patch, and br1 also to a: a loop.
    br1.flow_put(0, 0, [Output(pp1), Output(pa)])
    br2.flow_put(0, 0, [Output(pp2)])
    a.inject(udp_frame())
    br1.poll()
    assert p1.loops + p2.loops == 1
    assert nd.PatchNetdev._depth == 0
    assert 1 <= len(a.sent) <= nd.MAX_PATCH_DEPTH
    with pytest.raises(ValueError):
        connect_patch(p1, p1)
    br1.close()
    br2.close()


def test_unjoined_patch_port_drops():
    dp = Datapath("p")
    a, lone = DummyNetdev("a"), PatchNetdev("lone")
    pa, pl = dp.port_add(a), dp.port_add(lone)
    assert not dp.port_get(pl).link_up
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pl)])
    a.inject(udp_frame())
    dp.poll()
    assert lone.stats.tx_dropped == 1 and lone.recv_batch(10) == []
    dp.close()


# ------------------------------------------------------------------ tunnel-port contract


class LoopTunnel:
    """The smallest tunnel netdev: what it sends comes back with the same metadata."""

    type = "vxlan"

    def __init__(self, name: str) -> None:
        self.name = name
        self.stats = nd.NetdevStats()
        self.mtu, self.hw_addr, self.link_up = 1450, MAC_A, True
        self.queue: list = []
        self.sent: list = []

    def fileno(self):
        return None

    def recv_batch(self, n):
        return [(frame, 0) for frame, *_ in self.recv_tunnel_batch(n)]

    def recv_tunnel_batch(self, n):
        out, self.queue = self.queue[:n], self.queue[n:]
        return out

    def send(self, frame):
        return self.send_tunnel_batch([(frame, 0, 0, 0)]) == 1

    def send_batch(self, frames):
        return self.send_tunnel_batch([(f, 0, 0, 0) for f in frames])

    def send_tunnel_batch(self, items):
        items = [(bytes(f), *meta) for f, *meta in items]
        self.sent.extend(items)
        return len(items)

    def close(self):
        pass


def test_tunnel_ports_carry_metadata_both_ways(dp):
    a, b, pa, pb = two_ports(dp)
    tun = LoopTunnel("vx")
    pt = dp.port_add(tun)
    dp.flow_put(make_key(in_port=pa), IN_PORT, [SetTunnel(42, 0x0A000002, 0), Output(pt)])
    dp.flow_put(make_key(in_port=pt, tun_id=42), make_mask(in_port=True, tun_id=True),
                [Output(pb)])
    frame = udp_frame()
    a.inject(frame)
    dp.poll()
    assert tun.sent == [(frame, 42, 0, 0x0A000002)]
    misses = []
    dp.set_upcall_handler(misses.extend)
    tun.queue = [(frame, 42, 0x0A000002, 0x0A000001), (frame, 43, 0x0A000002, 0x0A000001)]
    dp.poll()
    assert list(b.sent) == [frame]
    (miss,) = misses
    assert key_get(miss.key, "tun_id") == 43 and key_get(miss.key, "tun_ipv4_src") == 0x0A000002
    # A packet from a plain port does not inherit the previous packet's tunnel.
    dp.flow_put(make_key(in_port=pb), IN_PORT, [Output(pt)])
    b.inject(frame)
    dp.poll()
    assert tun.sent[-1] == (frame, 0, 0, 0)


# ------------------------------------------------------------------ on an asyncio loop


def test_attached_to_a_loop_packets_and_upcalls_flow_without_polling():
    async def scenario():
        dp = Datapath("loop", port_check_interval=0.01)
        a, b = DummyNetdev("a"), DummyNetdev("b")
        pb = dp.port_add(a) + 1
        assert dp.port_add(b) == pb
        a.inject(udp_frame())  # queued before attach: picked up on attach
        done = asyncio.Event()

        def handler(batch):
            for upcall in batch:
                dp.flow_put(upcall.key, IN_PORT, [Output(pb)])
                dp.execute(upcall.frame, [Output(pb)], upcall.in_port)
            done.set()

        dp.set_upcall_handler(handler)
        events = []
        dp.set_port_handler(events.append)
        dp.attach()
        with pytest.raises(RuntimeError):
            dp.attach()
        await asyncio.wait_for(done.wait(), 2)
        for _ in range(600):  # more than one batch: the port is re-woken
            a.inject(udp_frame())
        for _ in range(100):
            await asyncio.sleep(0)
            if len(b.sent) == 601:
                break
        assert len(b.sent) == 601 and dp.stats().hit == 600
        b.set_link(False)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if events:
                break
        assert [(e.kind, e.port_no) for e in events] == [(PortEventKind.LINK, pb)]
        dp.detach()
        a.inject(udp_frame())
        await asyncio.sleep(0.02)
        assert dp.stats().hit == 600  # detached: nothing processed
        dp.close()
        assert a.closed and b.closed and dp.port_list() == []

    asyncio.run(scenario())


# ------------------------------------------------------------------ offload pass-through


def tso_frame(payload_len: int = 2500, mss: int = 1000) -> nd.OffloadFrame:
    """A TCP/IPv4 super-frame as a veth hands it over: partial checksum, TSO pending."""
    payload = bytes(range(256)) * (payload_len // 256 + 1)
    payload = payload[:payload_len]
    tcp = struct.pack("!HHIIHHHH", 1000, 80, 7, 0, 0x5018, 512, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + payload_len, 1, 0x4000, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    frame = MAC_B + MAC_A + b"\x08\x00" + ip + tcp + payload
    vnet = nd.VNET_HDR.pack(nd.VIRTIO_NET_HDR_F_NEEDS_CSUM, nd.VIRTIO_NET_HDR_GSO_TCPV4, 54, mss,
                            34, 16)
    return nd.offload_frame(frame, vnet)


def tcp_checksum_ok(frame: bytes) -> bool:
    ip = frame[14:34]
    l4 = frame[34:14 + struct.unpack_from("!H", ip, 2)[0]]
    data = ip[12:20] + struct.pack("!BBH", 0, 6, len(l4)) + l4
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


class OffloadPort(DummyNetdev):
    """A dummy that, like a system port with pass-through, delivers OffloadFrames and
    sends them with their virtio_net_hdr (recorded here)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.offload = False
        self.rx_offloads = 0
        self.sent_offload: list = []

    def recv_batch(self, max_packets):
        frames = super().recv_batch(max_packets)
        self.rx_offloads = sum(type(f) is nd.OffloadFrame for f, _ in frames)
        return frames

    def inject_offload(self, frame: nd.OffloadFrame) -> None:
        self._rx.append((frame, 0))  # as received: not copied into plain bytes

    def send_batch_offload(self, frames):
        self.sent_offload.extend(frames)
        return len(frames)


def test_finish_frame_segments_and_checksums():
    frame = tso_frame()
    segments = nd.finish_frame(frame)
    assert [len(s) for s in segments] == [54 + 1000, 54 + 1000, 54 + 500]
    assert all(tcp_checksum_ok(bytes(s)) for s in segments)
    assert b"".join(bytes(s[54:]) for s in segments) == frame[54:]
    plain = udp_frame()
    assert nd.finish_frames([plain, frame]) == [plain, *segments]
    # CHECKSUM_PARTIAL alone: the field holds the pseudo-header sum, the rest is ours.
    small = bytearray(frame[:54 + 100])
    struct.pack_into("!H", small, 16, 140)  # IP total length
    pseudo = sum(struct.unpack("!4H", bytes(small[26:34]))) + 6 + 120
    struct.pack_into("!H", small, 50, (pseudo & 0xFFFF) + (pseudo >> 16))
    assert not tcp_checksum_ok(bytes(small))
    csum_only = nd.offload_frame(small, nd.VNET_HDR.pack(nd.VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0,
                                                         34, 16))
    (done,) = nd.finish_frame(csum_only)
    assert tcp_checksum_ok(bytes(done))
    assert nd.finish_frame(nd.offload_frame(b"abc", bytes(10))) == [b"abc"]
    broken = nd.offload_frame(b"\0" * 20, nd.VNET_HDR.pack(0, nd.VIRTIO_NET_HDR_GSO_TCPV4,
                                                           0, 100, 34, 16))
    assert nd.finish_frame(broken) == []


def test_offload_frames_pass_through_a_lone_output_and_are_finished_otherwise(dp):
    a, b, c = OffloadPort("a"), OffloadPort("b"), DummyNetdev("c")
    pa, pb, pc = dp.port_add(a), dp.port_add(b), dp.port_add(c)
    assert a.offload is True  # the datapath asked for pass-through
    frame = tso_frame()
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    a.inject_offload(frame)
    dp.poll()
    (sent,) = b.sent_offload
    assert type(sent) is nd.OffloadFrame and sent == frame and sent.vnet == frame.vnet
    # To a port that cannot take them: finished on the way out.
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pc)])
    a.inject_offload(frame)
    dp.poll()
    assert [bytes(s) for s in c.sent] == [bytes(s) for s in nd.finish_frame(frame)]
    # Actions that rewrite: every segment is rewritten, checksums stay valid.
    c.sent.clear()
    dp.flow_put(make_key(in_port=pa), IN_PORT,
                [SetField("tcp_dst", 8080), Output(pc), Output(pb)])
    a.inject_offload(frame)
    dp.poll()
    assert len(c.sent) == 3 and all(s[36:38] == b"\x1f\x90" for s in c.sent)
    assert all(tcp_checksum_ok(s) for s in c.sent)
    assert len(b.sent_offload) == 1 + 3 and all(type(s) is not nd.OffloadFrame
                                                 for s in b.sent_offload[1:])
    # A miss: the slow path gets the segments.
    dp.flow_flush()
    misses = []
    dp.set_upcall_handler(misses.extend)
    a.inject_offload(frame)
    dp.poll()
    assert [len(u.frame) for u in misses] == [1054, 1054, 554]
    assert all(type(u.frame) is bytes and tcp_checksum_ok(u.frame) for u in misses)


def test_offload_pass_through_can_be_turned_off(clock):
    dp = Datapath("n", clock=clock, offload=False)
    a = OffloadPort("a")
    dp.port_add(a)
    assert a.offload is False
    dp.close()


def test_whole_batch_path_keeps_order_counts_and_falls_back(dp, clock):
    a, b, pa, pb = two_ports(dp)
    flow = dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    frames = [udp_frame(sport=i) for i in range(10)]
    for frame in frames:
        a.inject(frame)
    dp.poll()
    assert list(b.sent) == frames
    stats = dp.flow_get(flow.ufid).stats
    assert (stats.packets, stats.bytes, stats.used) == (10, 600, clock.now)
    # A tagged frame in the batch: per packet (the tag is put back), same result.
    a.inject(frames[0])
    a.inject(frames[1], vlan_tag(3))
    dp.poll()
    assert list(b.sent)[10:] == [frames[0], frames[1][:12] + b"\x81\x00\x00\x03" + frames[1][12:]]
    # No flow for this port: misses.
    dp.set_upcall_handler(lambda batch: None)
    b.inject(frames[0])
    dp.poll()
    assert dp.stats().missed == 1 and dp.stats().hit == 12


def test_one_port_cannot_take_the_whole_upcall_queue(clock):
    dp = Datapath("f", clock=clock, upcall_queue_len=40, upcall_port_limit=10, batch=64)
    a, b = DummyNetdev("a"), DummyNetdev("b")
    pa, pb = dp.port_add(a), dp.port_add(b)
    got = []
    dp.set_upcall_handler(got.extend)
    for sport in range(30):
        a.inject(udp_frame(sport=sport))  # a floods misses
    b.inject(udp_frame(sport=99))  # b's first packet still gets to the slow path
    dp.poll()
    assert sum(u.in_port == pa for u in got) == 10
    assert [u.in_port for u in got if u.in_port == pb] == [pb]
    assert dp.stats().lost == 20
    for sport in range(5):  # the queue drained: room again
        a.inject(udp_frame(sport=sport))
    dp.poll()
    assert sum(u.in_port == pa for u in got) == 15
    dp.close()


# ------------------------------------------------------------------ the busy-poll window


class SocketPort(DummyNetdev):
    """A dummy with a file descriptor, so the datapath watches it with add_reader as it
    does a system port: one end of a socketpair holds a byte per queued frame.  With
    ``echo``, every frame sent here becomes receivable here before send_batch returns,
    as a local stack's answer does within the kernel's sendmsg."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self.echo = False
        self.reads = 0

    def fileno(self):
        return None if self.closed else self._r.fileno()

    def inject(self, frame, vlan_tci=0):
        queued = super().inject(frame, vlan_tci)
        if queued:
            self._w.send(b"x")
        return queued

    def recv_batch(self, max_packets):
        self.reads += 1
        frames = super().recv_batch(max_packets)
        if frames:
            self._r.recv(len(frames))
        return frames

    def send_batch(self, frames):
        frames = list(frames)
        sent = super().send_batch(frames)
        if self.echo:
            for frame in frames:
                self.inject(frame)
        return sent

    def close(self):
        super().close()
        self._r.close()
        self._w.close()


def socket_line(**dp_args) -> tuple[Datapath, SocketPort, SocketPort, list[int]]:
    """a <-> b by in_port flows; returns the datapath, the ports and a list that counts
    the reader callbacks (selector wake-ups) the datapath got."""
    dp = Datapath("bp", **dp_args)
    a, b = SocketPort("a"), SocketPort("b")
    pa, pb = dp.port_add(a), dp.port_add(b)
    dp.flow_put(make_key(in_port=pa), IN_PORT, [Output(pb)])
    dp.flow_put(make_key(in_port=pb), IN_PORT, [Output(pa)])
    wakeups: list[int] = []
    on_readable = dp._on_readable

    def counted(port):
        wakeups.append(port.port_no)
        on_readable(port)

    dp._on_readable = counted  # what attach registers with add_reader
    return dp, a, b, wakeups


async def wait_until(condition, timeout: float = 2.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.001)
    return condition()


@pytest.mark.parametrize("busy_poll, wakeups, polled", [(0.001, 1, 1), (0, 2, 0)])
def test_busy_poll_window_takes_the_answer_without_another_wake_up(busy_poll, wakeups, polled):
    async def scenario():
        dp, a, b, seen = socket_line(busy_poll=busy_poll)
        dp.attach()
        b.echo = True  # what goes out of b comes back at once, as a local stack's answer
        a.inject(udp_frame())
        assert await wait_until(lambda: len(a.sent) == 1)
        b.echo = False
        assert list(b.sent) == [udp_frame()] == list(a.sent)  # out b, back out a
        await asyncio.sleep(0.01)
        assert len(seen) == wakeups and dp.polled == polled
        assert dp.stats().hit == 2
        dp.close()

    asyncio.run(scenario())


def test_busy_poll_window_is_bounded_under_endless_traffic():
    async def scenario():
        dp, a, b, seen = socket_line(busy_poll=1.0, busy_poll_limit=0.02)
        dp.attach()
        a.echo = b.echo = True  # every frame comes straight back: the window never runs dry
        a.inject(udp_frame())
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(0)  # other callbacks still get their turn...
        await asyncio.sleep(0)
        assert loop.time() - start < 0.5  # ...after at most busy_poll_limit each
        assert len(a.sent) + len(b.sent) > 10 and dp.polled > 10
        a.echo = b.echo = False
        assert await wait_until(lambda: not a._rx and not b._rx)
        dp.close()

    asyncio.run(scenario())


def test_busy_poll_window_ends_when_an_upcall_waits_and_never_spins_on_memory_ports():
    async def scenario():
        dp, a, _, _ = socket_line(busy_poll=5.0, busy_poll_limit=5.0)
        dp.flow_flush()
        got = asyncio.Event()
        dp.set_upcall_handler(lambda batch: got.set())
        dp.attach()
        loop = asyncio.get_running_loop()
        start = loop.time()
        a.inject(udp_frame())  # a miss: the slow path must not wait out the window
        await asyncio.wait_for(got.wait(), 2)
        assert loop.time() - start < 1
        dp.close()

        dp = Datapath("mem", busy_poll=5.0, busy_poll_limit=5.0)
        m1, m2 = DummyNetdev("m1"), DummyNetdev("m2")
        p1, p2 = dp.port_add(m1), dp.port_add(m2)
        dp.flow_put(make_key(in_port=p1), IN_PORT, [Output(p2)])
        dp.attach()
        start = loop.time()
        m1.inject(udp_frame())
        assert await wait_until(lambda: len(m2.sent) == 1)
        await asyncio.sleep(0.01)
        assert loop.time() - start < 1 and dp.polled == 0
        dp.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ the warm poll


def test_warm_poll_reads_the_ports_while_frames_come_then_stops():
    async def scenario():
        dp, a, b, seen = socket_line(busy_poll=0, warm_poll=0.002, warm_for=0.05)
        dp.attach()
        a.inject(udp_frame())
        assert await wait_until(lambda: len(b.sent) == 1)
        reads = a.reads
        await asyncio.sleep(0.02)
        assert a.reads >= reads + 3 and len(seen) == 1  # read without a wake-up
        # A frame the selector does not report (its reader gone) is taken by the poll.
        asyncio.get_running_loop().remove_reader(a.fileno())
        a.inject(udp_frame())
        assert await wait_until(lambda: len(b.sent) == 2, timeout=0.5)
        # No frame for warm_for: the timer stops, the ports are left alone.
        await asyncio.sleep(0.12)
        reads = a.reads
        await asyncio.sleep(0.05)
        assert a.reads == reads and dp._warm_timer is None
        dp.close()

    asyncio.run(scenario())


def test_warm_poll_off():
    async def scenario():
        dp, a, b, seen = socket_line(busy_poll=0, warm_poll=0)
        dp.attach()
        a.inject(udp_frame())
        assert await wait_until(lambda: len(b.sent) == 1)
        reads = a.reads
        await asyncio.sleep(0.02)
        assert a.reads == reads and dp._warm_timer is None
        dp.close()

    asyncio.run(scenario())
