"""The example of docs/testing-controllers.md, run by the suite so the document cannot rot.

A switch with two in-memory (dummy) ports runs in-process and listens on a loopback TCP
port; a small controller (our sans-IO ``openflow.channel.Channel`` over asyncio streams)
installs flows.  A frame injected on port 1 must come out of port 2, and a frame no flow
matches must reach the controller as a PACKET_IN.  No root, no external tools.  The
document shows this file down to the line that says so; the last test checks that.
"""

from __future__ import annotations

import asyncio
import dataclasses

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev
from openflow import messages as m
from openflow.channel import Channel, MessageReceived, Negotiated
from openflow.consts import OFPR_NO_MATCH
from openflow.flowtext import parse_flow
from switch_agent.connmgr import ConnManager
from switch_agent.ofproto import Switch

OFP13 = 0x04
# Ethernet/IPv4/UDP, 02:00:00:00:00:01 10.0.0.1:1000 -> 02:00:00:00:00:02 10.0.0.2:2000, "hello"
FRAME = bytes.fromhex("020000000002020000000001080045000021000100004011"
                      "66c90a0000010a00000203e807d0000d9c4768656c6c6f")


class Controller:
    """The controller side of one OpenFlow 1.3 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.channel = Channel((OFP13,), role="controller", echo_interval=None)

    @classmethod
    async def connect(cls, port: int) -> Controller:
        ctl = cls(*await asyncio.open_connection("127.0.0.1", port))
        ctl.writer.write(ctl.channel.initiate())  # our HELLO
        event = await ctl.next_event()
        assert isinstance(event, Negotiated) and event.version == OFP13
        return ctl

    async def next_event(self) -> object:
        """The next channel event (Negotiated, MessageReceived, ...), at most 2 s away."""
        while (event := self.channel.next_event()) is None:
            data = await asyncio.wait_for(self.reader.read(65536), 2.0)
            self.channel.receive_data(data, asyncio.get_running_loop().time())
            self.writer.write(self.channel.data_to_send())  # echo replies and the like
        return event

    async def next_message(self) -> m.Message:
        while not isinstance(event := await self.next_event(), MessageReceived):
            pass
        return event.msg

    def send(self, msg: m.Message) -> None:
        msg = dataclasses.replace(msg, xid=self.channel.next_xid())
        self.writer.write(self.channel.send(msg))

    async def barrier(self) -> None:
        """Send BARRIER_REQUEST; once the reply is in, everything before it is applied."""
        self.send(m.BarrierRequest())
        while not isinstance(msg := await self.next_message(), m.BarrierReply):
            assert not isinstance(msg, m.Error), msg


async def forward_and_packet_in() -> None:
    datapath = Datapath("br0")
    switch = Switch(datapath)
    p1, p2 = DummyNetdev("p1"), DummyNetdev("p2")
    assert switch.add_port(p1) == 1 and switch.add_port(p2) == 2  # OpenFlow port numbers
    conns = ConnManager(switch)
    datapath.attach()  # receive on the running loop
    server = await conns.listen("ptcp:0:127.0.0.1")  # port 0: any free port
    ctl = await Controller.connect(server.sockets[0].getsockname()[1])
    try:
        ctl.send(parse_flow("in_port=1,actions=output:2", version=OFP13))
        ctl.send(parse_flow("priority=0,actions=CONTROLLER:65535", version=OFP13))  # table-miss
        await ctl.barrier()

        p1.inject(FRAME)  # as if received on port 1's wire
        for _ in range(100):  # the datapath runs on this loop: let it work
            if p2.sent:
                break
            await asyncio.sleep(0.01)
        assert list(p2.sent) == [FRAME] and not p1.sent

        p2.inject(FRAME)  # no flow for in_port=2: the table-miss flow sends it up
        packet_in = await ctl.next_message()
        assert isinstance(packet_in, m.PacketIn)
        assert packet_in.reason == OFPR_NO_MATCH and packet_in.table_id == 0
        assert packet_in.match.value("in_port") == 2
        assert packet_in.data == FRAME
    finally:
        ctl.writer.close()
        await conns.close()
        datapath.close()


def test_flow_forwards_and_table_miss_sends_packet_in() -> None:
    asyncio.run(asyncio.wait_for(forward_and_packet_in(), 20))


# -- not shown in docs/testing-controllers.md: the check that the document shows the above


def test_the_document_shows_this_example() -> None:
    from pathlib import Path

    text = Path(__file__).read_text()
    shown = text[:text.index("\n\n# -- not shown in docs/")].strip()
    doc = (Path(__file__).parents[2] / "docs" / "testing-controllers.md").read_text()
    assert f"```python\n{shown}\n```" in doc, "docs/testing-controllers.md shows an old copy"
