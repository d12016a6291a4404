"""connmgr in-process: real TCP connections on the loopback, a controller-side Channel,
a Switch on dummy ports.  Roles, async messages, errors, reconnects, fail modes."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev
from openflow import messages as m
from openflow.channel import Channel, Closed, MessageReceived, Negotiated
from openflow.consts import (
    OFPCR_ROLE_EQUAL,
    OFPCR_ROLE_MASTER,
    OFPCR_ROLE_SLAVE,
    OFPFF_SEND_FLOW_REM,
    OFPPR_ADD,
    OFPPR_MODIFY,
    OFPR_ACTION,
    OFPR_NO_MATCH,
    OFPRR_DELETE,
)
from openflow.errors import Err
from openflow.flowtext import parse_flow, parse_group, parse_meter
from switch_agent.connmgr import ConnManager
from switch_agent.ofproto import Switch
from tests.unit.test_dpif import udp_frame

OFP10, OFP13 = 1, 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Controller:
    """A controller-side connection driven by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 version: int) -> None:
        self.reader, self.writer = reader, writer
        self.channel = Channel((version,), role="controller", echo_interval=None)
        self.inbox: list[MessageReceived] = []
        self.closed = False

    @classmethod
    async def connect(cls, port: int, version: int = OFP13) -> Controller:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ctl = cls(reader, writer, version)
        writer.write(ctl.channel.initiate())
        event = await ctl._event()
        assert isinstance(event, Negotiated) and event.version == version
        return ctl

    async def _event(self, timeout: float = 3.0):
        deadline = time.monotonic() + timeout
        while True:
            event = self.channel.next_event()
            if event is not None:
                if isinstance(event, Closed):
                    self.closed = True
                return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                return None
            self.channel.receive_data(data, time.monotonic())
            self.writer.write(self.channel.data_to_send())

    def send(self, msg: m.Message) -> int:
        xid = self.channel.next_xid()
        self.writer.write(self.channel.send(dataclasses.replace(msg, xid=xid)))
        return xid

    async def request(self, msg: m.Message) -> m.Message:
        xid = self.send(msg)
        while True:
            event = await self._event()
            assert event is not None, f"no reply to {msg!r}"
            if isinstance(event, MessageReceived):
                if event.xid == xid:
                    return event.msg
                self.inbox.append(event)

    async def barrier(self) -> None:
        assert isinstance(await self.request(m.BarrierRequest()), m.BarrierReply)

    async def collect(self, kind: type, timeout: float = 0.5) -> list:
        """Async messages of ``kind`` received within ``timeout`` (inbox first)."""
        found = [e.msg for e in self.inbox if isinstance(e.msg, kind)]
        self.inbox = [e for e in self.inbox if not isinstance(e.msg, kind)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = await self._event(deadline - time.monotonic())
            if isinstance(event, MessageReceived):
                if isinstance(event.msg, kind):
                    found.append(event.msg)
                else:
                    self.inbox.append(event)
        return found

    def close(self) -> None:
        self.writer.close()


class Bed:
    def __init__(self, **mgr_args) -> None:
        self.dp = Datapath("t")
        self.sw = Switch(self.dp, n_tables=4)
        self.ports = [DummyNetdev(f"p{i}") for i in (1, 2, 3)]
        for netdev in self.ports:
            self.sw.add_port(netdev)
        mgr_args.setdefault("probe_interval", 5.0)
        self.mgr = ConnManager(self.sw, datapath_id=0xABC, **mgr_args)
        self.port = free_port()

    async def start(self) -> None:
        self.dp.attach()
        await self.mgr.listen(f"ptcp:{self.port}:127.0.0.1")

    async def stop(self) -> None:
        await self.mgr.close()
        self.dp.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_handshake_features_config_and_flows_both_versions():
    async def scenario():
        bed = Bed()
        await bed.start()
        c13 = await Controller.connect(bed.port, OFP13)
        c10 = await Controller.connect(bed.port, OFP10)
        features = await c13.request(m.FeaturesRequest())
        assert features.datapath_id == 0xABC and features.n_buffers == 0
        features10 = await c10.request(m.FeaturesRequest())
        assert sorted(p.name for p in features10.ports) == ["p1", "p2", "p3"]
        c13.send(m.SetConfig(0, 200))
        config = await c13.request(m.GetConfigRequest())
        assert config.miss_send_len == 200
        c13.send(parse_flow("priority=5,in_port=1,actions=output:2", version=OFP13))
        c10.send(parse_flow("priority=6,in_port=2,actions=output:1", version=OFP10))
        await c13.barrier()
        await c10.barrier()
        stats = await c13.request(m.FlowStatsRequest(table_id=0xFF))
        assert sorted(e.priority for e in stats.entries) == [5, 6]
        bed.ports[0].inject(udp_frame())
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == 1
        for msg, err in ((dataclasses.replace(parse_flow("actions=drop", version=OFP13),
                                              command=9), Err.OFPFMFC_BAD_COMMAND),
                         (m.Experimenter(experimenter=1, exp_type=2),
                          Err.OFPBRC_BAD_EXPERIMENTER),
                         (m.FeaturesReply(datapath_id=1), Err.OFPBRC_BAD_TYPE)):
            reply = await c13.request(msg)
            assert isinstance(reply, m.Error) and (reply.type, reply.code) == err.wire(OFP13)
        queues = await c13.request(m.QueueGetConfigRequest(1))
        assert queues.queues == ()
        c13.send(m.TableMod(0, 0))  # accepted, nothing to say
        bad_table = await c13.request(m.TableMod(9, 0))
        assert (bad_table.type, bad_table.code) == Err.OFPTMFC_BAD_TABLE.wire(OFP13)
        c13.close()
        c10.close()
        await bed.stop()

    run(scenario())


def test_packet_in_per_version_and_flow_removed():
    async def scenario():
        bed = Bed()
        await bed.start()
        c10 = await Controller.connect(bed.port, OFP10)
        c13 = await Controller.connect(bed.port, OFP13)
        await c10.barrier()
        await c13.barrier()
        bed.ports[0].inject(udp_frame())  # table miss without a miss flow: OF1.0 only
        ins10 = await c10.collect(m.PacketIn)
        ins13 = await c13.collect(m.PacketIn)
        assert [(p.reason, p.total_len, len(p.data)) for p in ins10] == [(OFPR_NO_MATCH, 60, 60)]
        assert ins10[0].match.value("in_port") == 1 and ins13 == []
        c13.send(parse_flow("priority=0,actions=CONTROLLER:30", version=OFP13))
        c13.send(parse_flow("priority=9,in_port=2,actions=CONTROLLER:65535",
                            version=OFP13))
        await c13.barrier()
        bed.ports[0].inject(udp_frame(sport=2))
        bed.ports[1].inject(udp_frame(sport=3))
        ins13 = await c13.collect(m.PacketIn)
        assert sorted((p.reason, len(p.data), p.match.value("in_port")) for p in ins13) == [
            (OFPR_NO_MATCH, 30, 1), (OFPR_ACTION, 60, 2)]
        # FLOW_REMOVED to both, in their versions
        c13.send(dataclasses.replace(parse_flow("priority=20,in_port=3,actions=drop",
                                                version=OFP13), flags=OFPFF_SEND_FLOW_REM))
        await c13.barrier()
        c10.send(parse_flow("in_port=3", command=3, version=OFP10))
        await c10.barrier()
        removed10 = await c10.collect(m.FlowRemoved)
        removed13 = await c13.collect(m.FlowRemoved)
        assert [r.reason for r in removed10] == [OFPRR_DELETE]
        assert [(r.reason, r.priority) for r in removed13] == [(OFPRR_DELETE, 20)]
        c10.close()
        c13.close()
        await bed.stop()

    run(scenario())


def test_roles_generation_and_async_masks():
    async def scenario():
        bed = Bed()
        await bed.start()
        a = await Controller.connect(bed.port)
        b = await Controller.connect(bed.port)
        reply = await a.request(m.RoleRequest(OFPCR_ROLE_MASTER, 10))
        assert (reply.role, reply.generation_id) == (OFPCR_ROLE_MASTER, 10)
        stale = await b.request(m.RoleRequest(OFPCR_ROLE_MASTER, 9))
        assert isinstance(stale, m.Error) and (stale.type, stale.code) == \
            Err.OFPRRFC_STALE.wire(OFP13)
        reply = await b.request(m.RoleRequest(OFPCR_ROLE_MASTER, 11))
        assert reply.role == OFPCR_ROLE_MASTER
        reply = await a.request(m.RoleRequest(0, 0))  # NOCHANGE: a was demoted
        assert reply.role == OFPCR_ROLE_SLAVE
        denied = await a.request(parse_flow("actions=drop", version=OFP13))
        assert isinstance(denied, m.Error) and (denied.type, denied.code) == \
            Err.OFPBRC_IS_SLAVE.wire(OFP13)
        masks = await a.request(m.GetAsyncRequest())
        assert masks.packet_in_mask == (0b11, 0)
        # the slave gets no packet-ins by default; with its mask set it does
        b.send(parse_flow("priority=0,actions=CONTROLLER:65535", version=OFP13))
        await b.barrier()
        bed.ports[0].inject(udp_frame())
        assert len(await b.collect(m.PacketIn)) == 1 and await a.collect(m.PacketIn) == []
        a.send(m.SetAsync((0b11, 0b11), (0b111, 0b111), (0b1111, 0)))
        await a.barrier()
        bed.ports[0].inject(udp_frame(sport=5))
        assert len(await a.collect(m.PacketIn)) == 1
        reply = await a.request(m.RoleRequest(OFPCR_ROLE_EQUAL, 0))
        assert reply.role == OFPCR_ROLE_EQUAL
        bad = await a.request(m.RoleRequest(7, 0))
        assert isinstance(bad, m.Error)
        a.close()
        b.close()
        await bed.stop()

    run(scenario())


def test_port_status_groups_meters_and_port_mod():
    async def scenario():
        bed = Bed()
        await bed.start()
        c = await Controller.connect(bed.port)
        await c.barrier()
        bed.sw.add_port(DummyNetdev("p9"))
        status = await c.collect(m.PortStatus)
        assert [(s.reason, s.port.name) for s in status] == [(OFPPR_ADD, "p9")]
        c.send(parse_group("group_id=1,type=all,bucket=output:2,bucket=output:3"))
        c.send(parse_meter("meter=1,pktps,bands=type=drop,rate=5"))
        c.send(parse_flow("priority=1,in_port=1,actions=meter:1,group:1", version=OFP13))
        await c.barrier()
        bed.ports[0].inject(udp_frame())
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == len(bed.ports[2].sent) == 1
        groups = await c.request(m.GroupDescStatsRequest())
        assert [g.group_id for g in groups.entries] == [1]
        gstats = await c.request(m.GroupStatsRequest(group_id=0xFFFFFFFC))
        assert gstats.entries[0].packet_count == 1
        meters = await c.request(m.MeterConfigStatsRequest(meter_id=0xFFFFFFFF))
        assert [mc.meter_id for mc in meters.entries] == [1]
        assert isinstance(await c.request(m.MeterFeaturesStatsRequest()),
                          m.MeterFeaturesStatsReply)
        assert isinstance(await c.request(m.GroupFeaturesStatsRequest()),
                          m.GroupFeaturesStatsReply)
        hw = int.from_bytes(bed.ports[0].hw_addr, "big")
        bad = await c.request(m.PortMod(1, hw ^ 1, 1, 1))
        assert (bad.type, bad.code) == Err.OFPPMFC_BAD_HW_ADDR.wire(OFP13)
        bad = await c.request(m.PortMod(99, hw, 1, 1))
        assert (bad.type, bad.code) == Err.OFPPMFC_BAD_PORT.wire(OFP13)
        c.send(m.PortMod(1, hw, 1, 1))  # PORT_DOWN
        await c.barrier()
        status = await c.collect(m.PortStatus)
        assert [(s.reason, s.port.port_no, s.port.config & 1) for s in status] == [
            (OFPPR_MODIFY, 1, 1)]
        c.close()
        await bed.stop()

    run(scenario())


def test_active_controller_reconnects_and_fail_modes():
    async def scenario():
        bed = Bed(max_backoff=0.4, probe_interval=0.3)
        bed.mgr.fail_mode = "standalone"
        await bed.start()
        accepted: asyncio.Queue = asyncio.Queue()

        async def on_client(reader, writer):
            await accepted.put((reader, writer))

        server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        bed.mgr.add_controller(f"tcp:127.0.0.1:{port}")
        reader, writer = await asyncio.wait_for(accepted.get(), 5)
        ctl = Controller(reader, writer, OFP13)
        writer.write(ctl.channel.initiate())
        assert isinstance(await ctl._event(), Negotiated)
        await ctl.barrier()
        assert bed.sw.fail_open is False and bed.mgr.fail_mode_now() == "standalone"
        writer.close()  # the controller goes away
        await asyncio.sleep(0.5)
        bed.mgr.run_periodic()
        assert bed.sw.fail_open is True  # standalone: a learning switch now
        bed.ports[0].inject(udp_frame())
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == len(bed.ports[2].sent) == 1  # flooded
        reader, writer = await asyncio.wait_for(accepted.get(), 5)  # it reconnects
        ctl = Controller(reader, writer, OFP13)
        writer.write(ctl.channel.initiate())
        assert isinstance(await ctl._event(), Negotiated)
        await ctl.barrier()
        assert bed.sw.fail_open is False
        writer.close()
        server.close()
        await bed.stop()
        bed.mgr.fail_mode = "secure"
        assert bed.mgr.fail_mode_now() == "secure"

    run(scenario())


def test_garbage_closes_only_that_connection():
    async def scenario():
        bed = Bed()
        await bed.start()
        good = await Controller.connect(bed.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", bed.port)
        writer.write(b"\x04\x00\x00\x04garbage!")  # a header length below 8
        data = await asyncio.wait_for(reader.read(), 5)
        assert data[:2] == b"\x04\x00"  # our HELLO, then the connection is closed
        await good.barrier()
        assert len(bed.mgr.conns) == 1
        good.close()
        await bed.stop()

    run(scenario())


def test_listener_targets_are_checked():
    async def scenario():
        bed = Bed()
        with pytest.raises(ValueError):
            await bed.mgr.listen("tcp:1")
        with pytest.raises(ValueError):
            bed.mgr.add_controller("ptcp:1")
        await bed.stop()

    run(scenario())


# ------------------------------------------------------------------ TLS, rate limits


def make_pki(tmp_path, name: str = "ca"):
    """A CA and two certificates it signs (switch, controller), plus a stranger CA's
    certificate, with Debian's openssl: real PEM files as users would make them."""
    import subprocess

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    for ca in ("ca", "other"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    for who, ca in (("switch", "ca"), ("controller", "ca"), ("rogue", "other")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
            "-keyout", f"{who}.key", "-out", f"{who}.csr")
        run("x509", "-req", "-in", f"{who}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-out", f"{who}.pem")
    return {n: str(tmp_path / n) for n in (
        "ca.pem", "other.pem", "switch.key", "switch.pem", "controller.key", "controller.pem",
        "rogue.key", "rogue.pem")}


def client_context(pki, who: str = "controller", ca: str = "ca.pem"):
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(pki[f"{who}.pem"], pki[f"{who}.key"])
    context.load_verify_locations(pki[ca])
    context.check_hostname = False
    return context


def test_pssl_listener_is_mutual_tls(tmp_path):
    from switch_agent.connmgr import TlsConfig

    pki = make_pki(tmp_path)

    async def scenario():
        bed = Bed(tls=TlsConfig(pki["switch.key"], pki["switch.pem"], pki["ca.pem"]))
        bed.dp.attach()
        port = free_port()
        await bed.mgr.listen(f"pssl:{port}:127.0.0.1")
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       ssl=client_context(pki))
        ctl = Controller(reader, writer, OFP13)
        writer.write(ctl.channel.initiate())
        assert isinstance(await ctl._event(), Negotiated)
        assert (await ctl.request(m.FeaturesRequest())).datapath_id == 0xABC
        ctl.close()
        for context in (client_context(pki, "rogue", "ca.pem"),   # signed by another CA
                        None):                                    # plaintext
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
                writer.write(Channel((OFP13,), role="controller").initiate())
                data = await asyncio.wait_for(reader.read(100), 3)
            except (OSError, asyncio.IncompleteReadError) as exc:  # ssl errors are OSErrors
                data = b""
                del exc
            assert data == b"", data  # never an OpenFlow byte
        assert len(bed.mgr.conns) == 0
        await bed.stop()

    run(scenario())


def test_ssl_controller_connects_with_our_certificate(tmp_path):
    import ssl

    from switch_agent.connmgr import TlsConfig

    pki = make_pki(tmp_path)

    async def scenario():
        bed = Bed(tls=TlsConfig(pki["switch.key"], pki["switch.pem"], pki["ca.pem"]),
                  max_backoff=0.2)
        bed.dp.attach()
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(pki["controller.pem"], pki["controller.key"])
        server_ctx.load_verify_locations(pki["ca.pem"])
        server_ctx.verify_mode = ssl.CERT_REQUIRED
        accepted: asyncio.Queue = asyncio.Queue()

        async def on_client(reader, writer):
            await accepted.put((reader, writer))

        server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        bed.mgr.add_controller(f"ssl:127.0.0.1:{port}")
        reader, writer = await asyncio.wait_for(accepted.get(), 5)
        peer = writer.get_extra_info("peercert")
        assert dict(x[0] for x in peer["subject"])["commonName"] == "switch"
        ctl = Controller(reader, writer, OFP13)
        writer.write(ctl.channel.initiate())
        assert isinstance(await ctl._event(), Negotiated)
        await ctl.barrier()
        writer.close()
        server.close()
        await bed.stop()
        with pytest.raises(ValueError):
            Bed().mgr.add_controller("ssl:127.0.0.1:1")  # no TLS files configured

    run(scenario())


def test_packet_in_rate_limit_per_kind():
    async def scenario():
        clock_now = [100.0]
        bed = Bed(rate_limit=10.0, burst_limit=5.0, clock=lambda: clock_now[0])
        await bed.start()
        c = await Controller.connect(bed.port)
        c.send(parse_flow("priority=0,actions=CONTROLLER:65535", version=OFP13))
        c.send(parse_flow("priority=5,in_port=2,actions=CONTROLLER:65535", version=OFP13))
        await c.barrier()
        for sport in range(20):  # misses (table-miss flow): the burst passes
            bed.ports[0].inject(udp_frame(sport=sport))
        for sport in range(3):  # action packet-ins have their own bucket
            bed.ports[1].inject(udp_frame(sport=sport))
        got = await c.collect(m.PacketIn, 1.0)
        assert sorted(p.reason for p in got) == [OFPR_NO_MATCH] * 5 + [OFPR_ACTION] * 3
        (conn,) = bed.mgr.conns
        assert conn.packet_ins_limited == 15
        clock_now[0] += 0.35  # 3.5 more tokens
        for sport in range(10):
            bed.ports[0].inject(udp_frame(sport=sport))
        assert len(await c.collect(m.PacketIn, 1.0)) == 3
        c.close()
        await bed.stop()

    run(scenario())


def test_first_packet_after_barrier_follows_the_modified_flow():
    """Issue 3's consistency rule over a real OpenFlow connection: send a packet (its
    megaflow is cached), MODIFY the flow, BARRIER; the next packet takes the new rule."""
    async def scenario():
        bed = Bed()
        await bed.start()
        c = await Controller.connect(bed.port)
        c.send(parse_flow("priority=5,in_port=1,actions=output:2", version=OFP13))
        await c.barrier()
        for sport in range(3):
            bed.ports[0].inject(udp_frame(sport=sport))
            await asyncio.sleep(0.02)
        assert len(bed.ports[1].sent) == 3 and bed.dp.stats().flows == 1
        c.send(parse_flow("in_port=1,actions=output:3", command=1, version=OFP13))
        await c.barrier()
        bed.ports[0].inject(udp_frame(sport=9))
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == 3 and len(bed.ports[2].sent) == 1
        c.send(parse_flow("in_port=1", command=3, version=OFP13))
        await c.barrier()
        bed.ports[0].inject(udp_frame(sport=10))
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == 3 and len(bed.ports[2].sent) == 1
        c.close()
        await bed.stop()

    run(scenario())


def test_set_config_fragment_handling():
    async def scenario():
        bed = Bed()
        await bed.start()
        c = await Controller.connect(bed.port)
        c.send(parse_flow("priority=5,in_port=1,actions=output:2", version=OFP13))
        fragment = bytearray(udp_frame(sport=1))
        fragment[20] = 0x20  # IPv4 flags: more fragments
        c.send(m.SetConfig(1, 128))  # OFPC_FRAG_DROP
        await c.barrier()
        assert (await c.request(m.GetConfigRequest())).flags == 1
        bed.ports[0].inject(bytes(fragment))
        bed.ports[0].inject(udp_frame(sport=2))
        await asyncio.sleep(0.05)
        assert [f[20] for f in bed.ports[1].sent] == [0]  # only the whole datagram
        c.send(m.SetConfig(0, 128))  # back to NORMAL handling
        await c.barrier()
        bed.ports[0].inject(bytes(fragment))
        await asyncio.sleep(0.05)
        assert len(bed.ports[1].sent) == 2
        reply = await c.request(m.SetConfig(2, 128))  # reassembly: refused
        assert (reply.type, reply.code) == Err.OFPSCFC_BAD_FLAGS.wire(OFP13)
        c.close()
        await bed.stop()

    run(scenario())


def test_an_error_for_an_undecodable_request_comes_before_the_next_reply():
    async def scenario():
        bed = Bed()
        await bed.start()
        c = await Controller.connect(bed.port)
        # a FEATURES_REQUEST with a body: the channel answers BAD_LEN by itself
        bad = bytes.fromhex("0405000c00000063") + b"junk"
        barrier_xid = c.channel.next_xid()
        c.writer.write(bad + c.channel.send(m.BarrierRequest(xid=barrier_xid)))
        order = []
        while len(order) < 2:
            event = await c._event()
            assert event is not None
            if isinstance(event, MessageReceived):
                order.append((type(event.msg).__name__, event.xid))
        assert order == [("Error", 0x63), ("BarrierReply", barrier_xid)]
        c.close()
        await bed.stop()

    run(scenario())
