"""Shared timing helper for the bench/ scripts (not a benchmark itself)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def rate(fn: Callable[[Any], object], args: list, seconds: float = 1.0) -> float:
    """Calls per second of fn(arg) cycling through ``args``, best of 3 runs of seconds/3."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for arg in args:
                fn(arg)
            n += len(args)
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best
