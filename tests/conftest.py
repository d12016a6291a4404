"""Suite-wide pytest set-up: the external tools the cross-checks use, markers, Hypothesis.

Sits at the root of tests/. It owns the fixtures that locate the independent
implementations we compare against (Ryu 4.34 in .ryu-venv, Debian's ovs-ofctl)
and the Hypothesis profiles. A missing tool FAILS the test that needs it with
the command that fixes it: CI runs on a machine where `make test` installs
everything, so nothing is ever skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
RYU_VENV = Path(os.environ.get("RYU_VENV", ROOT / ".ryu-venv"))

# Fixtures whose use makes a test a cross-check (marker added automatically).
_CROSSCHECK_FIXTURES = frozenset({"ryu_python", "ovs_ofctl", "ryu"})

# Hypothesis: no per-example deadline (shared 2-vCPU CI machines make timing
# noise, not bugs); `HYPOTHESIS_PROFILE=thorough` for a long local run.
settings.register_profile(
    "default", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests under tests/crosscheck/ or using an external tool as `crosscheck`."""
    crosscheck_dir = ROOT / "tests" / "crosscheck"
    for item in items:
        in_dir = crosscheck_dir in Path(str(item.path)).parents
        uses_tool = bool(_CROSSCHECK_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if in_dir or uses_tool:
            item.add_marker(pytest.mark.crosscheck)


@pytest.fixture(scope="session")
def ryu_python() -> str:
    """Path of the Python 3.9 interpreter of the Ryu 4.34 test venv (.ryu-venv)."""
    python = RYU_VENV / "bin" / "python"
    if not (python.is_file() and os.access(python, os.X_OK)):
        pytest.fail(
            f"Ryu test venv missing: {python} does not exist.\n"
            f"Fix: make ryu-venv   (or: make test, which sets everything up)",
            pytrace=False,
        )
    if not (RYU_VENV / ".ryu-recipe").is_file():
        pytest.fail(
            f"Ryu test venv {RYU_VENV} is incomplete (no .ryu-recipe stamp: the build was "
            f"interrupted or it was made by hand).\nFix: make ryu-venv",
            pytrace=False,
        )
    return str(python)


@pytest.fixture(scope="session")
def ovs_ofctl() -> str:
    """Path of Open vSwitch's ovs-ofctl (Debian package openvswitch-common)."""
    path = shutil.which("ovs-ofctl")
    if path is None:
        pytest.fail(
            "ovs-ofctl not found on PATH (Debian package openvswitch-common).\n"
            "Fix: make deps   (runs: apt-get install -y --no-install-recommends "
            "openvswitch-common)",
            pytrace=False,
        )
    return path
