"""`switch-agent lab`: a ready lab -- namespace hosts wired to a bridge of the agent.

Sits beside cli.py (which parses the flags and calls ``run_lab``).  It owns the lab's
topology: N network namespaces ``salab-<pid>-hN`` each holding one end of a veth pair
(``10.0.0.N/24``, MAC ``02:00:00:00:00:NN``), the other ends (``sl<pid % 10000>sN``,
no addresses) in the agent's namespace as system ports 1..N, and their removal at exit
whatever happens (SIGINT/SIGTERM, errors).  Nothing else on the machine is touched:
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

from datapath.dpif import Datapath
from datapath.netdev_linux import SystemNetdev
from openflow.actions import ApplyActions, Output
from openflow.consts import OFPP_NORMAL
from openflow.flowtext import format_flow_stats
from openflow.messages import FlowMod, FlowStatsRequest
from switch_agent import stats
from switch_agent.connmgr import ConnManager
from switch_agent.control import ControlServer
from switch_agent.ofproto import Switch

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


async def _demo(topo: Topology, switch: Switch) -> int:
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
    reply = stats.flow_stats(switch, FlowStatsRequest(table_id=0xFF), OFP13)
    print("\nflow table (what `ovs-ofctl dump-flows` shows):")
    for entry in reply.entries:
        print(format_flow_stats(entry, OFP13))
    print("\nMAC table learned by NORMAL (port, VLAN, MAC):")
    for port, vlan, mac, _ in switch.mac_table.entries(switch.clock()):
        print(f"  {port:4d} {vlan:4d}  {mac.to_bytes(6, 'big').hex(':')}")
    dp = switch.dp.stats()
    print(f"\ndatapath: hit={dp.hit} missed={dp.missed} lost={dp.lost} flows={dp.flows}"
          f" masks={dp.masks}")
    return 1 if failures else 0


async def run_lab(hosts: int, demo: bool, controllers: list[str], listen: str | None,
                  duration: float | None = None) -> int:
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
        datapath = Datapath("lab")
        switch = Switch(datapath)
        mgr = ConnManager(switch)
        control: ControlServer | None = ControlServer(switch, mgr, "lab")
        try:
            for sw_if in topo.switch_ifs:
                switch.add_port(SystemNetdev(sw_if))
            if not controllers:
                switch.flow_mod(FlowMod(priority=0, instructions=(
                    ApplyActions((Output(OFPP_NORMAL),)),)), OFP13)
            loop = asyncio.get_running_loop()
            datapath.attach(loop)
            if listen:
                await mgr.listen(listen)
            for target in controllers:
                mgr.add_controller(target)
            assert control is not None
            try:
                await control.start()
            except OSError as exc:
                print(f"(no control socket, swctl will not reach the lab: {exc})")
                control = None
            periodic = loop.create_task(switch.run())
            try:
                status = await _demo(topo, switch) if demo else 0
                if duration is not None and duration <= 0:
                    return status
                print(f"\nlab up: hosts {', '.join(topo.namespaces)} (10.0.0.1-{hosts}), "
                      f"switch ports {', '.join(topo.switch_ifs)}")
                print(f"try: ip netns exec {topo.namespaces[0]} ping 10.0.0.2")
                if listen and listen.startswith("ptcp:"):
                    port, _, host = listen[5:].partition(":")
                    print(f"     ovs-ofctl -O OpenFlow13 dump-flows tcp:{host or '127.0.0.1'}:{port}")
                if control is not None:
                    print("     swctl --bridge lab show | dump-flows | fdb-show | dp-dump-flows")
                print("Ctrl-C to stop and remove the lab", flush=True)
                stop = asyncio.Event()
                for sig in (2, 15):  # SIGINT, SIGTERM
                    loop.add_signal_handler(sig, stop.set)
                deadline = None if duration is None else loop.time() + duration
                while not stop.is_set() and (deadline is None or loop.time() < deadline):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
                    mgr.run_periodic()
                return status
            finally:
                periodic.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await periodic
        finally:
            if control is not None:
                await control.close()
            await mgr.close()
            datapath.close()
