"""mn_switch: the agent as a Mininet switch (`AgentSwitch`, `mn --switch agent`).

Sits at the edge of switch_agent/: nothing of the package imports this module, and it
imports nothing of the package.  It runs under the Python that has
Mininet (Debian's /usr/bin/python3 for the `mininet` package), which need not have
the agent's dependencies, so it drives the agent only through its two commands:
one `switch-agent run` process per switch (as Mininet's UserSwitch runs one
ofdatapath per switch) and `swctl` over that process's control socket.  It owns the
mapping from Mininet's switch model (name, dpid, interfaces and their port numbers,
controllers, fail mode, listen port) to the agent's command line, and the life of
those processes.

    mn --custom .../switch_agent/mn_switch.py --switch agent,protocols=OpenFlow13 \\
       --controller remote,ip=127.0.0.1,port=6653 --topo tree,2
    Mininet(topo=..., switch=AgentSwitch, controller=...)   # the Python API

`mn --custom` exec()s this file with a fresh dict as its globals (no `__name__`, no
`__file__`, no entry in sys.modules) and copies every top-level name into mn's own
globals, so the module keeps its top level to imports and the few names below.

Where the commands are: the `bindir=` switch option, else $SWITCH_AGENT_BINDIR, else
`switch-agent` on $PATH (swctl is taken from the same directory).  Per run, one
directory (`rundir=`, default /tmp/switch-agent-mininet-<pid of Mininet>) holds each
switch's control socket NAME.ctl (so `SWITCH_AGENT_RUNDIR=DIR swctl --bridge NAME`
reaches it), the OpenFlow management socket the agent puts beside it, NAME.mgmt
(`ovs-ofctl CMD unix:DIR/NAME.mgmt`), and its log NAME.log (kept after the run).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

from mininet.clean import addCleanupCallback  # type: ignore[import-not-found]
from mininet.log import debug, error, info  # type: ignore[import-not-found]
from mininet.node import Switch  # type: ignore[import-not-found]

AGENT_BINDIR_ENV = "SWITCH_AGENT_BINDIR"


class AgentSwitch(Switch):
    """A Mininet switch that is one `switch-agent run` process.

    Options (also `mn --switch agent,OPTION=VALUE,...`):
      failMode     'secure' (default, as OVSSwitch) or 'standalone'
      protocols    e.g. 'OpenFlow13' (OVSSwitch's spelling; default: the agent's,
                   OpenFlow10 and OpenFlow13)
      reconnectms  longest controller reconnect interval, ms (default 1000, as OVSSwitch)
      verbose      0..2: -v flags for the agent's log
      bindir       directory holding switch-agent and swctl
      rundir       directory for the control sockets and logs
      startTimeout seconds to wait for the agent to come up (default 30)
    Mininet passes dpid, listenPort and inNamespace; `batch` (set by Mininet for
    switches built from a topology) makes start() return at once and
    batchStartup() wait for all of them together.
    """

    # Agents this Python process started and has not reaped: {pid: Popen}.  What the
    # atexit handler and Mininet's cleanup() callback kill (by PID, never by name).
    running: dict[int, subprocess.Popen[bytes]] = {}
    _hooked = False

    def __init__(self, name: str, failMode: str = "secure", protocols: str | None = None,
                 reconnectms: int = 1000, verbose: int = 0, bindir: str | None = None,
                 rundir: str | None = None, startTimeout: float = 30.0, batch: bool = False,
                 **params: Any) -> None:
        if failMode not in ("secure", "standalone"):
            raise ValueError(f"{name}: failMode must be 'secure' or 'standalone', "
                             f"not {failMode!r}")
        self.agent, self.swctl = _commands(bindir)  # before the shell starts: fail early
        Switch.__init__(self, name, **params)
        self.failMode = failMode
        self.protocols = protocols
        self.reconnectms = reconnectms
        self.verbose = int(verbose)
        self.rundir = rundir or os.path.join(tempfile.gettempdir(),
                                             f"switch-agent-mininet-{os.getpid()}")
        self.startTimeout = float(startTimeout)
        self.batch = batch
        self.process: subprocess.Popen[bytes] | None = None

    # -- where things are

    @property
    def ctl(self) -> str:
        """The agent's control socket (what swctl talks to)."""
        return os.path.join(self.rundir, f"{self.name}.ctl")

    @property
    def logfile(self) -> str:
        return os.path.join(self.rundir, f"{self.name}.log")

    @property
    def mgmt(self) -> str:
        """The agent's OpenFlow management socket (`ovs-ofctl CMD unix:PATH`)."""
        return os.path.join(self.rundir, f"{self.name}.mgmt")

    def dataIntfs(self) -> list[Any]:
        """The interfaces that are switch ports: not lo (the control interface of a
        switch in the root namespace) nor one with an IP address (a control-network
        interface), as Mininet's own switches skip them."""
        return [intf for intf in self.intfList()
                if intf.name != "lo" and self.ports[intf] and not intf.IP()]

    def agentArgs(self, controllers: list[Any]) -> list[str]:
        """The `switch-agent run` command line for this switch and these controllers."""
        int(self.dpid, 16)  # Mininet hands a hex string; the agent wants the same
        args = [self.agent, "run", "--bridge", self.name, "--datapath-id", self.dpid,
                "--control-socket", self.ctl, "--fail-mode", self.failMode]
        args += ["-v"] * min(max(self.verbose, 0), 2)
        for intf in self.dataIntfs():
            args += ["--port", f"{intf.name}={self.ports[intf]}"]
        for controller in controllers:
            args += ["--controller", f"{controller.protocol}:{controller.IP()}:{controller.port}"]
        # The agent serves OpenFlow on NAME.mgmt beside its control socket anyway.
        args += ["--listen", f"ptcp:{self.listenPort}:127.0.0.1" if self.listenPort
                 else "none"]
        if self.protocols:
            args += ["--protocols", str(self.protocols)]
        if self.reconnectms:
            args += ["--max-backoff", f"{max(int(self.reconnectms), 1000) / 1000:g}"]
        return args

    # -- life cycle

    def start(self, controllers: list[Any]) -> None:
        """Start the agent on our interfaces and wait until it shows all of them as
        ports, unless this is a batch start (then batchStartup waits)."""
        if self.process is not None and self.process.poll() is None:
            error(f"*** {self.name}: the agent is already running (pid {self.process.pid})\n")
            return
        os.makedirs(self.rundir, mode=0o700, exist_ok=True)
        for intf in self.dataIntfs():
            intf.isUp(setUp=True)
        args = self.agentArgs(controllers)
        debug(f"*** {self.name}: {' '.join(args)}\n")
        with open(self.logfile, "ab") as log:
            log.write(f"*** {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n".encode())
            log.flush()
            # Node.popen runs it through `mnexec -da PID`: our namespace, its own
            # session (no SIGINT from the terminal), and its PID is the agent's.
            self.process = self.popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        assert self.process is not None
        AgentSwitch.running[self.process.pid] = self.process
        AgentSwitch._hook()
        if not self.batch:
            self.waitStarted()

    def waitStarted(self) -> None:
        """Until the agent shows all our ports on its control socket (it has its
        listeners and controllers by then); raises with the log's tail if the agent
        exits or the time runs out."""
        deadline = time.monotonic() + self.startTimeout
        wanted = {intf.name for intf in self.dataIntfs()}
        shown: set[str] | None = None
        while True:
            process = self.process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise RuntimeError(f"{self.name}: switch-agent exited ({code}):\n"
                                   f"{self.logTail()}")
            if os.path.exists(self.ctl):
                proc = self.swctlRun("--json", "show", timeout=10)
                if proc.returncode == 0:
                    shown = {port["name"] for port in json.loads(proc.stdout)["ports"]}
                    if wanted <= shown:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: switch-agent not up after "
                                   f"{self.startTimeout:g} s (ports shown: {shown}):\n"
                                   f"{self.logTail()}")
            time.sleep(0.05)

    @classmethod
    def batchStartup(cls, switches: list[AgentSwitch]) -> list[AgentSwitch]:
        """Mininet calls this after start() of every switch of the class: the agents
        start in parallel, and here we wait for all of them."""
        for switch in switches:
            if switch.process is not None:
                switch.waitStarted()
            switch.batch = False
        return list(switches)

    def _signal(self, signum: int) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.kill(process.pid, signum)
            except ProcessLookupError:
                pass

    def _reap(self, timeout: float = 10.0) -> None:
        """Wait for our agent to exit (SIGKILL after `timeout`); forget it."""
        process = self.process
        if process is None:
            return
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            error(f"*** {self.name}: switch-agent ignored SIGTERM; killing it\n")
            self._signal(signal.SIGKILL)
            process.wait(timeout=timeout)
        AgentSwitch.running.pop(process.pid, None)
        if process.returncode not in (0, -signal.SIGTERM):
            error(f"*** {self.name}: switch-agent exited {process.returncode}:\n"
                  f"{self.logTail()}")
        self.process = None
        for path in (self.ctl, self.mgmt):  # the agent's own, if it could not remove them
            if os.path.exists(path):
                os.unlink(path)

    def stop(self, deleteIntfs: bool = True) -> None:
        """Stop the agent (SIGTERM: it restores its ports and removes its sockets),
        wait for it, then let Mininet delete our interfaces."""
        self._signal(signal.SIGTERM)
        self._reap()
        super().stop(deleteIntfs)

    @classmethod
    def batchShutdown(cls, switches: list[AgentSwitch]) -> list[AgentSwitch]:
        """net.stop(): all agents get SIGTERM first, then each is waited for."""
        for switch in switches:
            switch._signal(signal.SIGTERM)
        for switch in switches:
            switch._reap()
            Switch.stop(switch, deleteIntfs=True)
        return list(switches)

    @classmethod
    def _hook(cls) -> None:
        """Once per process: kill what we started if the script dies without
        net.stop(), or when mn runs cleanup() (Ctrl-C, an exception)."""
        if cls._hooked:
            return
        cls._hooked = True
        atexit.register(cls.killAll)
        addCleanupCallback(cls.killAll)

    @classmethod
    def killAll(cls) -> None:
        """SIGKILL every agent this process started that is still running."""
        for pid, process in list(cls.running.items()):
            if process.poll() is None:
                info(f"*** killing switch-agent pid {pid}\n")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    error(f"*** switch-agent pid {pid} does not die\n")
                    continue
            cls.running.pop(pid, None)

    # -- asking the agent

    def swctlRun(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """`swctl --socket OUR_SOCKET --bridge NAME ARGS` (its exit status is the
        caller's business)."""
        return subprocess.run([self.swctl, "--socket", self.ctl, "--bridge", self.name, *args],
                              capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def swctlCheck(self, *args: str) -> str:
        """swctl ARGS; its stdout, or RuntimeError with its stderr."""
        proc = self.swctlRun(*args)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: swctl {' '.join(args)}: "
                               f"{proc.stderr.strip() or proc.returncode}")
        return proc.stdout

    def show(self) -> dict[str, Any]:
        """The agent's `swctl show --json` answer (bridge, ports, controllers...)."""
        result: dict[str, Any] = json.loads(self.swctlCheck("--json", "show"))
        return result

    def connected(self) -> bool:
        """Whether a controller is connected (what net.waitConnected() polls); a
        standalone switch counts as connected, as OVSSwitch does."""
        if self.process is None or self.process.poll() is not None:
            return False
        proc = self.swctlRun("--json", "show")
        if proc.returncode != 0:
            debug(f"*** {self.name}: swctl show: {proc.stderr.strip()}\n")
            return False
        controllers = json.loads(proc.stdout).get("controllers", [])
        if any(c.get("connected") for c in controllers):
            return True
        return self.failMode == "standalone"

    def dpctl(self, *args: str) -> str:
        """The Mininet CLI's `dpctl CMD ARGS` for this switch: `swctl CMD ARGS`
        (dump-flows, add-flow, del-flows, dump-ports, ... as ovs-ofctl names them)."""
        proc = self.swctlRun(*args)
        return proc.stdout + proc.stderr

    def attach(self, intf: Any) -> None:
        """Add an interface (a link made after start) as a port, with the port number
        Mininet gave it."""
        intf = self.intf(intf)
        intf.isUp(setUp=True)
        self.swctlCheck("add-port", self.name, intf.name, "--ofport", str(self.ports[intf]))

    def detach(self, intf: Any) -> None:
        """Remove an interface from the agent (Mininet keeps the link)."""
        self.swctlCheck("del-port", self.name, str(intf))

    def logTail(self, size: int = 4000) -> str:
        try:
            with open(self.logfile, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - size))
                return log.read().decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"


def _commands(bindir: str | None) -> tuple[str, str]:
    """(switch-agent, swctl) paths: from bindir, $SWITCH_AGENT_BINDIR, or PATH."""
    directory = bindir or os.environ.get(AGENT_BINDIR_ENV)
    if not directory:
        found = shutil.which("switch-agent")
        if found is None:
            raise RuntimeError(
                "switch-agent not found: put its directory (the project's .venv/bin) on "
                f"PATH, set ${AGENT_BINDIR_ENV}, or pass bindir=DIR to the switch")
        directory = os.path.dirname(found)
    paths = (os.path.join(directory, "switch-agent"), os.path.join(directory, "swctl"))
    for path in paths:
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is missing or not executable")
    return paths


# `mn --custom FILE --switch agent[,OPTION=VALUE...]`
switches = {"agent": AgentSwitch}
