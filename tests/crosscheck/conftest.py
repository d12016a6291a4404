"""Fixtures that run Ryu 4.34 (in .ryu-venv) as an oracle for codec cross-checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ORACLE = Path(__file__).with_name("ryu_oracle.py")


class RyuOracle:
    """One long-lived Ryu process answering serialize/parse requests."""

    def __init__(self, python: str) -> None:
        self._proc = subprocess.Popen(
            [python, str(ORACLE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _ask(self, request: dict) -> dict:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the Ryu oracle died")
        return json.loads(line)

    def serialize(self, version: int, expr: str) -> bytes:
        """Bytes of the message Ryu builds from ``expr`` (see ryu_oracle.py)."""
        answer = self._ask({"serialize": expr, "version": version})
        if "error" in answer:
            raise AssertionError(f"Ryu could not serialize {expr}:\n{answer['error']}")
        return bytes.fromhex(answer["hex"])

    def parse(self, data: bytes) -> tuple[str, dict]:
        """(Ryu class name, Ryu's to_jsondict() body) for a message we encoded."""
        answer = self._ask({"parse": data.hex()})
        if "error" in answer:
            raise AssertionError(f"Ryu could not parse {data.hex()}:\n{answer['error']}")
        cls, body = answer["class"], answer["json"]
        return cls, body[cls]

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ryu(ryu_python: str):
    oracle = RyuOracle(ryu_python)
    yield oracle
    oracle.close()
