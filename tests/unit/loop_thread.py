"""A test helper: an asyncio loop running in a background thread, for tests that drive
a switch (or an agent) living on that loop from the test's own thread (swctl, sockets,
ovs-ofctl) -- everything touching the switch must run there, through ``call``."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any


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
