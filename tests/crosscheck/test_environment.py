"""The independent implementations the cross-checks rely on are present and work."""

from __future__ import annotations

import subprocess
from pathlib import Path


def test_ryu_venv_imports_both_parsers(ryu_python: str) -> None:
    done = subprocess.run(
        [
            ryu_python,
            "-c",
            "import sys, ryu.ofproto.ofproto_v1_0_parser, ryu.ofproto.ofproto_v1_3_parser;"
            "print(sys.version_info[:2])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 9)"


def test_ryu_manager_version(ryu_python: str) -> None:
    ryu_manager = Path(ryu_python).with_name("ryu-manager")
    done = subprocess.run(
        [str(ryu_manager), "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # oslo.config prints the version on stdout or stderr depending on the version.
    assert "ryu-manager 4.34" in done.stdout + done.stderr


def test_ovs_ofctl_speaks_openflow10_and_13(ovs_ofctl: str) -> None:
    done = subprocess.run([ovs_ofctl, "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Open vSwitch" in done.stdout
    # "OpenFlow versions 0x1:0x6": 1.0 (0x01) through 1.5, so 1.3 (0x04) included.
    assert "OpenFlow versions 0x1:" in done.stdout
