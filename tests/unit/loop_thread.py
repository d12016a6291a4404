"""Test helpers: an asyncio loop running in a background thread, and on it a small
bridge -- for tests that drive a switch living on that loop from the test's own
thread (swctl, sockets, ovs-ofctl).  Everything touching the switch must run there,
through ``call``."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from datapath.dpif import Datapath
from datapath.netdev import DummyNetdev
from openflow.consts import OFP10, OFP13
from switch_agent.connmgr import ConnManager
from switch_agent.ofproto import Switch
from tests.unit.test_dpif import FakeClock


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn: Any, *args: Any, timeout: float = 10) -> Any:
        """``fn(*args)`` on the loop (awaited when it returns an awaitable); its result."""
        async def run() -> Any:
            result = fn(*args)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class DummyBridge(LoopThread):
    """Bridge "br0": four dummy ports p1..p4, 8 tables, a fake clock, its ConnManager
    listening on the OpenFlow management socket ``mgmt`` (in ``sockets``, a directory
    under a fresh one: AF_UNIX paths are short), as the agent opens it."""

    def __init__(self, prefix: str, sockets: str = "",
                 versions: tuple[int, ...] = (OFP10, OFP13)) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.sockets = self.dir / sockets
        self.mgmt = self.sockets / "br0.mgmt"
        super().__init__()
        self.clock = FakeClock(1000.0)
        self.dp = Datapath("br0", clock=self.clock, emc_insert_inv_prob=1)
        self.sw = Switch(self.dp, n_tables=8, clock=self.clock)
        self.ports = [DummyNetdev(f"p{i}") for i in range(1, 5)]
        for netdev in self.ports:
            self.sw.add_port(netdev)
        self.mgr = ConnManager(self.sw, datapath_id=0xABC, versions=versions)
        self.start()

    def start(self) -> None:
        """Open the management socket (a subclass may open its own sockets first)."""
        self.sockets.mkdir(mode=0o700, exist_ok=True)
        self.call(self.mgr.listen, f"punix:{self.mgmt}")

    def send(self, port: int, data: bytes) -> None:
        def inject() -> None:
            self.ports[port - 1].inject(data)
            self.dp.poll()
            self.dp.poll()

        self.call(inject)

    def close(self) -> None:
        self.call(self.mgr.close)
        self.call(self.dp.close)
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
