"""`switch-agent lab --demo` (what `make run` runs), as root: it builds its namespace
hosts, switches their traffic with NORMAL, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lab_demo_pings_all_pairs_and_cleans_up() -> None:
    if os.geteuid() != 0:
        raise AssertionError("the lab needs root (namespaces); CI runs as root")
    proc = subprocess.run([sys.executable, "-m", "switch_agent.cli", "lab", "--demo",
                           "--hosts", "3", "--listen", "none", "--duration", "0"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": ok") == 6, proc.stdout
    assert "priority=0 actions=NORMAL" in proc.stdout
    macs = [line for line in proc.stdout.splitlines() if "02:00:00:00:00:0" in line]
    assert len(macs) == 3
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "salab-" not in left, left
