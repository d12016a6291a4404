"""`switch-agent lab`: a ready lab -- namespace hosts wired to the agent's bridges.

Sits beside cli.py (which parses the flags and calls ``run_lab``) and on agent.py (the
bridges).  It owns the lab's topology: N network namespaces ``salab-<pid>-hN`` each
holding one end of a veth pair (``10.0.0.N/24``, MAC ``02:00:00:00:00:NN``), the other
ends (``sl<pid % 10000>sN``, no addresses) in the agent's namespace as system ports, and
their removal at exit whatever happens (SIGINT/SIGTERM, errors).  ``--topo single``
(default): one bridge ``lab`` with every host on ports 1..N; ``--topo linear``: bridges
``lab1``..``labN`` in a chain, host N on port 1 of ``labN``, neighbours joined by patch
ports 2 (towards lab1) and 3 (towards labN), as Mininet's ``linear`` topology.  With
``--controller`` every bridge connects to it (datapath ids 1..N).  Nothing else on the machine is touched:
no addresses in the root namespace, no routes, only interfaces and namespaces with the
lab's own names.  Needs root (namespaces, veth, AF_PACKET) and iproute2's ``ip``.

``--demo`` (what ``make run`` uses) first pings every host from every other and prints
the results, the bridge's flow table as an OpenFlow controller would dump it and the
MAC table NORMAL learned; then, like without it, the lab serves until interrupted (or
for ``--duration`` seconds; 0 ends right after the demo), with commands to try.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

from openflow.flowtext import format_flow_stats
from openflow.messages import FlowStatsRequest
from switch_agent import config as cfg
from switch_agent import control, stats
from switch_agent.agent import Agent
from switch_agent.config import AgentConfig, BridgeConfig, PortConfig

OFP13 = 0x04


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


class Topology:
    """The lab's namespaces and veth pairs; ``close()`` removes them (idempotent)."""

    def __init__(self, hosts: int) -> None:
        pid = os.getpid()
        self.namespaces = [f"salab-{pid}-h{n}" for n in range(1, hosts + 1)]
        self.switch_ifs = [f"sl{pid % 10000}s{n}" for n in range(1, hosts + 1)]
        self.host_if = "eth0"  # inside each host namespace: its own name space, no clash
        self._made: list[tuple[str, str]] = []

    def build(self) -> None:
        for n, (ns, sw_if) in enumerate(zip(self.namespaces, self.switch_ifs), start=1):
            _ip("netns", "add", ns)
            self._made.append(("netns", ns))
            _ip("link", "add", sw_if, "type", "veth", "peer", "name", f"{sw_if}h",
                "netns", ns)
            self._made.append(("link", sw_if))
            _ip("-n", ns, "link", "set", f"{sw_if}h", "name", self.host_if)
            _ip("-n", ns, "link", "set", self.host_if, "address", f"02:00:00:00:00:{n:02x}")
            _ip("-n", ns, "addr", "add", f"10.0.0.{n}/24", "dev", self.host_if)
            _ip("-n", ns, "link", "set", self.host_if, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "set", sw_if, "up")
            with open(f"/proc/sys/net/ipv6/conf/{sw_if}/disable_ipv6", "w") as f:
                f.write("1")  # no IPv6 chatter from the switch side

    def close(self) -> None:
        for kind, name in reversed(self._made):
            if kind == "link":
                _ip("link", "del", name, check=False)
            else:
                _ip("netns", "del", name, check=False)
        self._made.clear()

    @contextlib.contextmanager
    def built(self) -> Iterator[Topology]:
        try:
            self.build()
            yield self
        finally:
            self.close()


def _ping(ns: str, address: str) -> bool:
    proc = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2",
                           "-W", "2", address], capture_output=True, text=True, timeout=30)
    return proc.returncode == 0


def lab_config(topo: Topology, linear: bool, controllers: list[str],
               listen: str | None) -> AgentConfig:
    """The agent's configuration for the lab: one bridge ``lab`` with every host
    (single), or bridges ``lab1``..``labN`` in a chain, one host each, joined by patch
    cables (linear).  Datapath ids 1..N; every bridge gets the controllers; a ``ptcp:``
    listener goes to the first bridge and its port + 1, + 2... to the next ones."""
    names = [f"lab{n}" for n in range(1, len(topo.switch_ifs) + 1)] if linear else ["lab"]
    bridges = []
    for i, name in enumerate(names):
        if linear:
            ports = [PortConfig(topo.switch_ifs[i], ofport=1)]
            if i > 0:
                ports.append(PortConfig(f"lab{i + 1}-{i}", "patch", 2, peer=f"lab{i}-{i + 1}"))
            if i + 1 < len(names):
                ports.append(PortConfig(f"lab{i + 1}-{i + 2}", "patch", 3,
                                        peer=f"lab{i + 2}-{i + 1}"))
        else:
            ports = [PortConfig(sw_if, ofport=n) for n, sw_if in enumerate(topo.switch_ifs, 1)]
        listeners: tuple[str, ...] = ()
        if listen:
            listeners = (_nth_listener(listen, i),)
        bridges.append(BridgeConfig(name, datapath_id=i + 1, controllers=tuple(controllers),
                                    listeners=listeners, ports=tuple(ports)))
    return cfg.check(AgentConfig(bridges=tuple(bridges)))


def _nth_listener(listen: str, i: int) -> str:
    kind, _, rest = listen.partition(":")
    if i == 0 or kind not in ("ptcp", "pssl"):
        return listen if i == 0 else f"{listen}.{i}"
    port, _, host = rest.partition(":")
    return f"{kind}:{int(port or 6653) + i}" + (f":{host}" if host else "")


async def _demo(topo: Topology, agent: Agent) -> int:
    loop = asyncio.get_running_loop()
    failures = 0
    print("pinging every host from every other one:")
    for i, ns in enumerate(topo.namespaces, start=1):
        for j in range(1, len(topo.namespaces) + 1):
            if i == j:
                continue
            ok = await loop.run_in_executor(None, _ping, ns, f"10.0.0.{j}")
            failures += not ok
            print(f"  h{i} -> 10.0.0.{j}: {'ok' if ok else 'FAILED'}")
    for bridge in agent.bridges.values():
        switch = bridge.switch
        reply = stats.flow_stats(switch, FlowStatsRequest(table_id=0xFF), OFP13)
        print(f"\nbridge {bridge.name}: flow table (what `ovs-ofctl dump-flows` shows):")
        for entry in reply.entries:
            print(format_flow_stats(entry, OFP13))
        print(f"bridge {bridge.name}: MAC table learned by NORMAL (port, VLAN, MAC):")
        for port, vlan, mac, _ in switch.mac_table.entries(switch.clock()):
            print(f"  {port:4d} {vlan:4d}  {mac.to_bytes(6, 'big').hex(':')}")
        dp = switch.dp.stats()
        print(f"bridge {bridge.name}: datapath hit={dp.hit} missed={dp.missed} lost={dp.lost}"
              f" flows={dp.flows} masks={dp.masks}")
    return 1 if failures else 0


async def run_lab(hosts: int, demo: bool, controllers: list[str], listen: str | None,
                  duration: float | None = None, topo_kind: str = "single") -> int:
    """Build the lab, run the agent on it until Ctrl-C (or ``duration`` seconds);
    ``demo`` first pings all pairs and shows the tables.  Returns the exit status."""
    if os.geteuid() != 0:
        print("switch-agent lab: needs root (network namespaces, veth pairs, raw sockets)",
              file=sys.stderr)
        return 1
    if shutil.which("ip") is None:
        print("switch-agent lab: iproute2's `ip` is missing (apt-get install iproute2)",
              file=sys.stderr)
        return 1
    topo = Topology(hosts)
    with topo.built():
        config = lab_config(topo, topo_kind == "linear", controllers, listen)
        agent = Agent(config, control_socket=control.run_dir() / f"lab{control.SOCKET_SUFFIX}")
        loop = asyncio.get_running_loop()
        try:
            await agent.start()
            if agent.control is None:
                print("(no control socket: swctl will not reach the lab)")
            status = await _demo(topo, agent) if demo else 0
            if duration is not None and duration <= 0:
                return status
            names = ", ".join(agent.bridges)
            print(f"\nlab up: hosts {', '.join(topo.namespaces)} (10.0.0.1-{hosts}), "
                  f"bridge{'s' if len(agent.bridges) > 1 else ''} {names}, switch ports "
                  f"{', '.join(topo.switch_ifs)}")
            print(f"try: ip netns exec {topo.namespaces[0]} ping 10.0.0.2")
            for bridge in config.bridges:
                for target in bridge.listeners:
                    if target.startswith("ptcp:"):
                        port, _, host = target[5:].partition(":")
                        print(f"     ovs-ofctl -O OpenFlow13 dump-flows "
                              f"tcp:{host or '127.0.0.1'}:{port}   ({bridge.name})")
            if agent.control is not None:
                first = next(iter(agent.bridges))
                print(f"     swctl show | dump-flows {first} | fdb-show {first} | "
                      f"dp-dump-flows {first} | upcall-show")
            if controllers:
                print(f"     the bridges connect to {', '.join(controllers)}")
            print("Ctrl-C to stop and remove the lab", flush=True)
            stop = asyncio.Event()
            for sig in (2, 15):  # SIGINT, SIGTERM
                loop.add_signal_handler(sig, stop.set)
            if duration is not None:
                loop.call_later(duration, stop.set)
            await agent.serve(stop)
            return status
        finally:
            await agent.close()
