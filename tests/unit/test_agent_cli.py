"""Tests of the `switch-agent` entry point (switch_agent/cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from switch_agent.cli import NOT_YET, agent_main


def test_version_prints_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        agent_main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == "switch-agent 0.1.0"


def test_run_says_not_implemented_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    status = agent_main(["run", "--bridge", "br0", "--controller", "tcp:127.0.0.1:6653"])
    assert status == 1
    assert capsys.readouterr().err.strip() == NOT_YET
    assert "not implemented yet" in NOT_YET


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent_main([]) == 2
    assert "usage: switch-agent" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        agent_main(["--bogus"])
    assert exc.value.code == 2


def test_console_script_module_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "switch_agent.cli", "run"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "issue 4/5" in done.stderr
