"""Integration-test fixtures: network namespaces and veth pairs that always go away.

Sits under tests/integration/ (root required, as in CI). It owns `NetnsLab`, a
small builder for throw-away topologies, and the `netns_lab` fixture that tears
it down whatever happens. Everything it creates carries this run's prefix:
namespaces are `satest-<pid>-<lab n>-<name>`, interfaces `sa<pid % 10000:04d><n><a|b>`
(within IFNAMSIZ), so parallel runs and other tests never collide, and nothing
outside our own namespaces is touched (root-namespace veth ends are possible but
the tests here keep both ends in namespaces). Namespaces left behind by a run
that was killed (its pid is gone) are removed when the next lab starts.

A namespace can be used three ways: `run`/`popen`/`python` (a subprocess under
`ip netns exec`), or `socket(ns, ...)`/`entered(ns)` which switch only the calling
thread into the namespace (setns) and back, so sockets and netdevs opened there
live in that namespace while the test keeps running here. A missing tool or
privilege FAILS the test with the reason; nothing is skipped.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

PID = os.getpid()
NS_PREFIX = f"satest-{PID}-"
IF_PREFIX = f"sa{PID % 10000:04d}"
_NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_names = itertools.count(1)  # one sequence per test run: names never repeat within it
_labs = itertools.count(1)


def _libc_setns():  # -> a ctypes function pointer
    libc = ctypes.CDLL(None, use_errno=True)
    setns = libc.setns
    setns.argtypes = [ctypes.c_int, ctypes.c_int]
    setns.restype = ctypes.c_int
    return setns


_setns = _libc_setns()


def _enter(fd: int) -> None:
    if _setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces() -> list[str]:
    """Delete `satest-<pid>-*` namespaces whose creating process is gone; returns them."""
    removed = []
    if not _NETNS_DIR.is_dir():
        return removed
    for entry in sorted(_NETNS_DIR.iterdir()):
        parts = entry.name.split("-", 2)
        if len(parts) == 3 and parts[0] == "satest" and parts[1].isdigit():
            if int(parts[1]) != PID and not _pid_alive(int(parts[1])):
                _ip("netns", "del", entry.name, check=False)
                removed.append(entry.name)
    return removed


class NetnsLab:
    """Namespaces, veth pairs and processes of one test; `close()` removes all of them."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.root_links: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self._closed = False
        self.prefix = f"{NS_PREFIX}{next(_labs)}-"  # two labs of one run never share a name
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    # -- building

    def add_ns(self, name: str, *, ipv6: bool = False) -> str:
        """Create namespace `satest-<pid>-<lab>-<name>` with lo up; returns its full name.

        Unless ipv6=True, IPv6 is off in it (no DAD/RS/MLD chatter on test links).
        """
        full = self.prefix + name
        _ip("netns", "add", full)
        self.namespaces.append(full)
        _ip("-n", full, "link", "set", "lo", "up")
        if not ipv6:
            self.sysctl(full, "net.ipv6.conf.default.disable_ipv6", "1")
            self.sysctl(full, "net.ipv6.conf.all.disable_ipv6", "1")
        return full

    def new_ifname(self, suffix: str = "") -> str:
        """A fresh interface name of this run (`sa<pid4><n><suffix>`), nothing created."""
        name = f"{IF_PREFIX}{next(_names)}{suffix}"
        if len(name) > 15:
            raise ValueError(f"interface name {name!r} exceeds IFNAMSIZ")
        return name

    def add_veth(
        self, ns_a: str | None, ns_b: str | None, *, mtu: int | None = None, up: bool = True
    ) -> tuple[str, str]:
        """A veth pair with end a in ns_a and end b in ns_b (None: the root namespace)."""
        a = self.new_ifname("a")
        b = a[:-1] + "b"
        args = ["link", "add", a]
        if ns_a:
            args += ["netns", ns_a]
        args += ["type", "veth", "peer", "name", b]
        if ns_b:
            args += ["netns", ns_b]
        if ns_a is None:
            self.root_links.append(a)
        elif ns_b is None:
            self.root_links.append(b)
        _ip(*args)
        for ns, name in ((ns_a, a), (ns_b, b)):
            if ns is None:  # only our own interface's sysctl in the root namespace
                self.sysctl(None, f"net.ipv6.conf.{name}.disable_ipv6", "1")
            if mtu is not None:
                self.ip(ns, "link", "set", name, "mtu", str(mtu))
            if up:
                self.ip(ns, "link", "set", name, "up")
        return a, b

    def ip(self, ns: str | None, *args: str) -> str:
        """Run `ip [-n ns] ARGS`; returns stdout, raises with stderr on failure."""
        return _ip(*(["-n", ns] if ns else []), *args).stdout

    def sysctl(self, ns: str | None, key: str, value: str) -> None:
        with self.entered(ns):
            Path("/proc/sys", *key.split(".")).write_text(value)

    # -- running things inside

    def command(self, ns: str | None, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv] if ns else list(argv)

    def run(
        self, ns: str | None, argv: Sequence[str], *, timeout: float = 60, check: bool = True,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(self.command(ns, argv), capture_output=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} in {ns} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
            )
        return proc

    def popen(self, ns: str | None, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a process in ns; it is killed (by its own pid) at close() if still running."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.command(ns, argv), **kwargs)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def python(self, ns: str | None, code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        """Run a Python snippet (this interpreter) in ns; raises with its stderr if it fails."""
        return self.run(ns, [sys.executable, "-c", code, *args], timeout=timeout)

    def python_popen(self, ns: str | None, code: str, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        return self.popen(ns, [sys.executable, "-c", code, *args], **kwargs)

    @contextlib.contextmanager
    def entered(self, ns: str | None) -> Iterator[None]:
        """Switch this thread into ns for the block (no-op for None), then back home."""
        if ns is None:
            yield
            return
        fd = os.open(_NETNS_DIR / ns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _enter(fd)
        finally:
            os.close(fd)
        try:
            yield
        finally:
            _enter(self._home)

    def socket(self, ns: str | None, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket created inside ns (it stays bound to that namespace)."""
        with self.entered(ns):
            return socket.socket(family, kind, proto)

    # -- teardown

    def close(self) -> None:
        """Kill our processes, delete our namespaces and root-namespace links. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for name in self.root_links:
            _ip("link", "del", name, check=False)
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        os.close(self._home)

    def leftovers(self) -> list[str]:
        """What close() failed to remove (should be empty)."""
        left = [ns for ns in self.namespaces if (_NETNS_DIR / ns).exists()]
        left += [name for name in self.root_links if Path("/sys/class/net", name).exists()]
        return left


def _require_root_and_ip() -> None:
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (network namespaces, veth, AF_PACKET); run as root as CI does")
    if shutil.which("ip") is None:
        pytest.fail("iproute2's `ip` is missing: apt-get install -y iproute2")


@pytest.fixture
def netns_lab() -> Iterator[NetnsLab]:
    """A NetnsLab for one test, always torn down (fails the test if something stays behind)."""
    _require_root_and_ip()
    remove_stale_namespaces()
    lab = NetnsLab()
    atexit.register(lab.close)
    try:
        yield lab
    finally:
        lab.close()
        atexit.unregister(lab.close)
    left = lab.leftovers()
    if left:
        pytest.fail(f"teardown left behind: {left}")
