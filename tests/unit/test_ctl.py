"""switch_agent.ctl: the client half of the control socket -- paths, and request()
against servers that misbehave (no reply, garbage, a refusal, silence, no permission)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from switch_agent import ctl


def serve_once(path: Path, reply: bytes | None, *, hold: float = 0.0) -> threading.Thread:
    """A one-shot unix server at ``path``: reads a request line, answers ``reply``
    (None: closes without answering), or stays silent for ``hold`` seconds."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    done = threading.Event()

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            if hold:
                done.wait(hold)
            elif reply is not None:
                conn.sendall(reply)
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.done = done  # type: ignore[attr-defined]
    return thread


def test_paths(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(ctl.RUN_DIR_ENV, str(tmp_path))
    assert ctl.run_dir() == tmp_path
    assert ctl.socket_path("br0") == tmp_path / "br0.ctl"
    assert ctl.mgmt_path("br0") == tmp_path / "br0.mgmt"
    assert ctl.mgmt_path("br0", Path("/x")) == Path("/x/br0.mgmt")
    for bad in ("../x", "", "a b", "x" * 65):
        with pytest.raises(ValueError, match="bad bridge name"):
            ctl.socket_path(bad)
        with pytest.raises(ValueError, match="bad bridge name"):
            ctl.mgmt_path(bad)
    monkeypatch.delenv(ctl.RUN_DIR_ENV)
    assert ctl.run_dir() == Path(ctl.DEFAULT_RUN_DIR)


def test_sockets_in(tmp_path) -> None:
    assert ctl.sockets_in(tmp_path / "missing", ".ctl") == []
    for name in ("b.ctl", "a.ctl", "a.mgmt"):
        (tmp_path / name).touch()
    assert ctl.sockets_in(tmp_path, ".ctl") == [tmp_path / "a.ctl", tmp_path / "b.ctl"]
    if os.geteuid() == 0:
        return  # root reads any directory: the permission case needs another user
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    with pytest.raises(PermissionError):
        ctl.sockets_in(locked, ".ctl")


@pytest.mark.parametrize(("reply", "message"), [
    (None, "version: the agent closed the connection without a reply"),
    (b"not json\n", "version: unreadable reply from the agent"),
    (b"[1]\n", "version: unreadable reply from the agent"),
    (b'{"ok": false, "error": "no\\nway"}\n', "no way"),
])
def test_bad_replies_are_one_line_errors(tmp_path, reply, message) -> None:
    path = tmp_path / "a.ctl"
    thread = serve_once(path, reply)
    with pytest.raises(ctl.ControlError) as exc:
        ctl.request(path, "version", timeout=5)
    assert str(exc.value) == message
    thread.join(5)


def test_a_silent_agent_times_out(tmp_path) -> None:
    path = tmp_path / "a.ctl"
    thread = serve_once(path, None, hold=5.0)
    with pytest.raises(ctl.ControlError, match=r"^version: no reply from the agent within 0.2 s$"):
        ctl.request(path, "version", timeout=0.2)
    thread.done.set()  # type: ignore[attr-defined]
    thread.join(5)


def test_nobody_there(tmp_path) -> None:
    with pytest.raises(ctl.AgentUnreachable, match="no agent listening on"):
        ctl.request(tmp_path / "none.ctl", "version", timeout=1)
    plain = tmp_path / "plain.ctl"
    plain.write_text("")  # a file, not a socket
    with pytest.raises(ctl.AgentUnreachable, match="no agent listening on|cannot connect to"):
        ctl.request(plain, "version", timeout=1)


def test_a_good_reply(tmp_path) -> None:
    path = tmp_path / "a.ctl"
    thread = serve_once(path, b'{"ok": true, "result": {"bridges": ["br0"]}}\n')
    assert ctl.request(path, "list-br", bridge="br0", timeout=5) == {"bridges": ["br0"]}
    thread.join(5)
