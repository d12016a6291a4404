"""`switch-agent lab --demo` (what `make run` runs), as root: it builds its namespace
hosts, switches their traffic with NORMAL, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_lab_linear_under_ryu_simple_switch_13(netns_lab, ryu_python) -> None:
    """`switch-agent lab --topo linear --controller ...`: three bridges in a chain (patch
    ports), each connected to a real ryu-manager running simple_switch_13; every pair of
    hosts pings, and the lab leaves nothing behind."""
    sw = netns_lab.add_ns("lab")
    port = 17653 + os.getpid() % 1000
    ryu = netns_lab.popen(sw, [str(Path(ryu_python).parent / "ryu-manager"),
                               "--ofp-tcp-listen-port", str(port), "--ofp-listen-host",
                               "127.0.0.1", "ryu.app.simple_switch_13"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # ryu-manager imports its app before it listens
    assert ryu.poll() is None, "ryu-manager exited"
    proc = netns_lab.run(sw, [sys.executable, "-m", "switch_agent.cli", "lab", "--demo",
                              "--hosts", "3", "--topo", "linear", "--listen", "none",
                              "--controller", f"tcp:127.0.0.1:{port}", "--duration", "0"],
                         check=False, timeout=180)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert out.count(": ok") == 6, out
    for name in ("lab1", "lab2", "lab3"):  # the app's table-miss flow on every bridge
        assert f"bridge {name}: flow table" in out
    assert out.count("priority=0 actions=CONTROLLER:65535") == 3, out
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "salab-" not in left, left
