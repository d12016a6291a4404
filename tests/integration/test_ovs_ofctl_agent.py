"""Debian's ovs-ofctl 3.1 against the agent's passive listener, with real traffic, as root.

Issue 4's proof: ovs-ofctl (an independent OpenFlow implementation and parser) drives
`switch-agent run` with `-O OpenFlow13` and `-O OpenFlow10` wherever the command exists
in that version, and the tests assert on the text ovs-ofctl prints: values, not exit codes.

Topology (one per module; the namespaces and processes are removed whatever happens):

    h1 (10.0.0.1, 02:..:01) --veth-- port 1 +
    h2 (10.0.0.2, 02:..:02) --veth-- port 2 +-- [sw: switch-agent run, ptcp:6634:127.0.0.1]
    h3 (10.0.0.3, 02:..:03) --veth-- port 3 +

The agent and every ovs-ofctl run in the "sw" namespace (its loopback carries OpenFlow);
the hosts ping each other through it, send crafted frames from AF_PACKET sockets and
capture what the switch outputs.  Before each test the flows, groups and meters are
deleted, the host links are up and the hosts' ARP caches are empty, so counts are exact.
(The two agent bugs this file found -- table statistics counting lookups instead of
packets, and unbuffered table-miss packet-ins cut to miss_send_len -- are fixed.)
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import NetnsLab, remove_stale_namespaces

ROOT = Path(__file__).resolve().parents[2]
OF13, OF10 = "OpenFlow13", "OpenFlow10"
BOTH = pytest.mark.parametrize("version", [OF13, OF10])
BRIDGE = "brofctl"
DPID = "00000000000000a1"
LISTEN = "tcp:127.0.0.1:6634"
ETH_P_ALL = 0x0003
ETH_P_TEST = 0x88B5  # IEEE 802 local experimental ethertype
PACKET_OUTGOING = 4
HOSTS = 3
PING_FRAME, ARP_FRAME = 98, 42  # bytes on the wire: 56-byte ICMP echo, ARP over Ethernet


def host_mac(n: int) -> str:
    return f"02:00:00:00:00:{n:02x}"


class OfctlLab:
    """The switch namespace running the agent, three hosts, and ovs-ofctl helpers."""

    def __init__(self, lab: NetnsLab, log_path: Path) -> None:
        self.lab = lab
        self.sw = lab.add_ns("sw")
        self.hosts: list[tuple[str, str, str]] = []  # (namespace, host end, switch end)
        for n in range(1, HOSTS + 1):
            ns = lab.add_ns(f"h{n}")
            host_if, sw_if = lab.add_veth(ns, self.sw)
            lab.ip(ns, "link", "set", host_if, "address", host_mac(n))
            lab.ip(ns, "addr", "add", f"10.0.0.{n}/24", "dev", host_if)
            self.hosts.append((ns, host_if, sw_if))
        # The kernel sets a new veth's operstate (IFF_RUNNING) up asynchronously (linkwatch,
        # up to ~1 s): start the agent once it is, so no port begins LINK_DOWN.
        wait_for(lambda: None if all(
            " state UP " in lab.ip(self.sw, "-o", "link", "show", sw_if)
            for _, _, sw_if in self.hosts) else "switch-side veth ends never came up", 5)
        self._macs: dict[int, str] = {}
        self.log_path = log_path
        self.log = open(log_path, "w+b")  # closed in close()
        argv = [sys.executable, "-m", "switch_agent.cli", "run", "-v", "--control-socket", "none", "--bridge", BRIDGE,
                "--datapath-id", DPID, "--listen", "ptcp:6634:127.0.0.1"]
        for n, (_, _, sw_if) in enumerate(self.hosts, 1):
            argv += ["--port", f"{sw_if}={n}"]
        self.agent = lab.popen(self.sw, argv, stdout=self.log, stderr=subprocess.STDOUT,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT))
        deadline = time.monotonic() + 15
        while True:
            proc = self.run_ofctl(OF13, "show")
            if proc.returncode == 0:
                break
            if self.agent.poll() is not None or time.monotonic() > deadline:
                pytest.fail("agent never answered ovs-ofctl show: "
                            + proc.stderr.decode(errors="replace") + self.logs())
            time.sleep(0.2)

    def close(self) -> None:
        self.log.close()

    # -- ovs-ofctl

    def run_ofctl(self, version: str, command: str, *args: str,
                  opts: tuple[str, ...] = ()) -> subprocess.CompletedProcess[bytes]:
        argv = ["ovs-ofctl", "-O", version, *opts, command, LISTEN, *args]
        return self.lab.run(self.sw, argv, check=False, timeout=20)

    def ofctl(self, version: str, command: str, *args: str, opts: tuple[str, ...] = ()) -> str:
        """ovs-ofctl's stdout; the command must succeed (its stderr is in the failure)."""
        proc = self.run_ofctl(version, command, *args, opts=opts)
        assert proc.returncode == 0, (
            f"ovs-ofctl -O {version} {' '.join(opts)} {command} {' '.join(args)} exited "
            f"{proc.returncode}:\n{proc.stdout.decode()}{proc.stderr.decode()}{self.logs()}")
        return proc.stdout.decode()

    def logs(self) -> str:
        self.log.flush()
        text = self.log_path.read_bytes().decode(errors="replace")
        lines = [line for line in text.splitlines() if "connmgr INFO" not in line]
        return "\n--- agent log (tail, connection lines left out) ---\n" + "\n".join(lines[-40:])

    # -- hosts

    def ns(self, n: int) -> str:
        return self.hosts[n - 1][0]

    def host_if(self, n: int) -> str:
        return self.hosts[n - 1][1]

    def sw_if(self, n: int) -> str:
        return self.hosts[n - 1][2]

    def sw_mac(self, n: int) -> str:
        """The MAC address of port n's interface, as the kernel has it."""
        if n not in self._macs:
            self._macs[n] = self.lab.run(self.sw, ["cat", f"/sys/class/net/{self.sw_if(n)}/address"]
                                         ).stdout.decode().strip()
        return self._macs[n]

    def raw(self, n: int) -> socket.socket:
        """An AF_PACKET socket on host n's interface (sends, and captures everything)."""
        sock = self.lab.socket(self.ns(n), socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(ETH_P_ALL))
        sock.bind((self.host_if(n), ETH_P_ALL))
        sock.settimeout(0.1)
        return sock

    def ping(self, src: int, dst: int, count: int = 3, wait: float = 1.0) -> str:
        proc = self.lab.run(self.ns(src), ["ping", "-n", "-q", "-c", str(count), "-i", "0.2",
                                           "-W", str(wait), f"10.0.0.{dst}"],
                            check=False, timeout=20)
        return proc.stdout.decode()


def capture(sock: socket.socket, marker: bytes, *, count: int = 1, timeout: float = 2.0,
            want: Callable[[bytes], bool] = lambda data: True) -> list[bytes]:
    """Frames arriving (not outgoing) on sock that contain marker and satisfy want:
    until count of them, or timeout."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            continue
        if addr[2] != PACKET_OUTGOING and marker in data and want(data):
            got.append(data)
    return got


def make_frame(src: int, marker: bytes, dst: str = "ff:ff:ff:ff:ff:ff", size: int = 60) -> bytes:
    head = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(host_mac(src).replace(":", "")) \
        + struct.pack("!H", ETH_P_TEST)
    return (head + marker).ljust(size, b".")


def wait_for(check: Callable[[], str | None], timeout: float = 5.0, every: float = 0.2) -> None:
    """Poll check() (None: done; else a description of what is still wrong) until timeout."""
    deadline = time.monotonic() + timeout
    while (problem := check()) is not None:
        if time.monotonic() > deadline:
            pytest.fail(problem)
        time.sleep(every)


_FLOW = re.compile(r"^ cookie=(0x[0-9a-f]+), duration=[0-9.]+s, table=(\d+), n_packets=(\d+), "
                   r"n_bytes=(\d+), (?:(?:idle|hard)_timeout=\d+, )*(.*)$")


def flows(text: str) -> dict[str, tuple[int, int]]:
    """dump-flows text -> {"table=T MATCH actions=...": (n_packets, n_bytes)}."""
    table: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        found = _FLOW.match(line)
        assert found, f"unparsed dump-flows line: {line!r}"
        _, table_id, packets, nbytes, rest = found.groups()
        table[f"table={table_id} {rest}"] = (int(packets), int(nbytes))
    return table


_PORT = re.compile(r"port +(\w+): rx pkts=(\d+), bytes=(\d+), drop=\d+, errs=\d+, frame=\d+, "
                   r"over=\d+, crc=\d+\s+tx pkts=(\d+), bytes=(\d+), drop=\d+, errs=\d+, coll=\d+")


def ports(text: str) -> dict[str, tuple[int, int, int, int]]:
    """dump-ports text -> {port: (rx_packets, rx_bytes, tx_packets, tx_bytes)}."""
    return {found[0]: tuple(int(v) for v in found[1:]) for found in _PORT.findall(text)}


def aggregate(text: str) -> tuple[int, int, int]:
    found = re.search(r"packet_count=(\d+) byte_count=(\d+) flow_count=(\d+)", text)
    assert found, text
    return int(found[1]), int(found[2]), int(found[3])


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def topo(ovs_ofctl: str) -> Iterator[OfctlLab]:
    """One agent and three hosts for the module (NetnsLab cleans everything up)."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root (namespaces, veth, AF_PACKET); run as root as CI does")
    remove_stale_namespaces()
    lab = NetnsLab()
    topology = None
    try:
        topology = OfctlLab(lab, Path("/tmp") / f"{lab.prefix}agent.log")
        yield topology
    finally:
        if topology is not None:
            topology.close()
            topology.log_path.unlink(missing_ok=True)
        lab.close()
    left = lab.leftovers()
    assert not left, f"teardown left behind: {left}"


@pytest.fixture
def sw(topo: OfctlLab) -> OfctlLab:
    """The module's topology, reset: no flows/groups/meters, links up, ARP caches empty."""
    assert topo.agent.poll() is None, "the agent exited" + topo.logs()
    for n in range(1, HOSTS + 1):
        topo.lab.ip(topo.ns(n), "link", "set", topo.host_if(n), "up")
        topo.lab.ip(topo.ns(n), "neigh", "flush", "dev", topo.host_if(n))
    topo.ofctl(OF13, "del-flows")
    topo.ofctl(OF13, "del-groups")
    topo.ofctl(OF13, "del-meters")
    wait_for(lambda: None if "LINK_DOWN" not in topo.ofctl(OF13, "dump-ports-desc")
             else "a port stayed LINK_DOWN after its host end came back up")
    return topo


# ------------------------------------------------------------------ read-only commands


@BOTH
def test_show(sw: OfctlLab, version: str) -> None:
    text = sw.ofctl(version, "show")
    suffix = " (OF1.3)" if version == OF13 else ""
    assert f"OFPT_FEATURES_REPLY{suffix} " in text and f"dpid:{DPID}\n" in text, text
    assert "n_tables:254, n_buffers:0" in text, text
    caps = re.search(r"capabilities: (.*)", text)
    assert caps and {"FLOW_STATS", "TABLE_STATS", "PORT_STATS"} <= set(caps[1].split()), text
    if version == OF13:
        assert "GROUP_STATS" in caps[1].split(), text
    else:  # OF1.0 lists the actions the switch supports
        actions = re.search(r"actions: (.*)", text)
        assert actions and {"output", "set_vlan_vid", "strip_vlan", "mod_dl_dst",
                            "mod_nw_tos", "mod_tp_dst"} <= set(actions[1].split()), text
    for n in range(1, HOSTS + 1):
        assert f" {n}({sw.sw_if(n)}): addr:{sw.sw_mac(n)}\n" in text, text
    assert f"OFPT_GET_CONFIG_REPLY{suffix} " in text and "frags=normal miss_send_len=" in text


@BOTH
def test_dump_desc(sw: OfctlLab, version: str) -> None:
    text = sw.ofctl(version, "dump-desc")
    assert text.startswith("OFPST_DESC reply"), text
    fields = dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)
    assert fields["Manufacturer"] == "switch-agent", text
    assert fields["Software"] and fields["Hardware"], text
    assert fields["DP Description"] == BRIDGE, text
    assert set(fields) == {"Manufacturer", "Hardware", "Software", "Serial Num",
                           "DP Description"}, text


@BOTH
def test_dump_ports_desc(sw: OfctlLab, version: str) -> None:
    text = sw.ofctl(version, "dump-ports-desc")
    assert text.startswith("OFPST_PORT_DESC reply"), text
    blocks = re.findall(r"^ (\d+)\((\w+)\): addr:([0-9a-f:]+)\n((?:     .*\n)+)", text, re.M)
    assert [(int(b[0]), b[1], b[2]) for b in blocks] == [
        (n, sw.sw_if(n), sw.sw_mac(n)) for n in range(1, HOSTS + 1)], text
    for *_, body in blocks:
        assert "config:     0\n" in body, text
        # OF1.3 has the LIVE bit; OF1.0 prints a link that is up as state 0
        assert f"state:      {'LIVE' if version == OF13 else '0'}\n" in body, text
        assert re.search(r"speed: \d+ Mbps now", body), text


@BOTH
def test_dump_tables_counts_active_flows(sw: OfctlLab, version: str) -> None:
    sw.ofctl(OF13, "add-flow", "table=0,priority=1,in_port=1,actions=output:2")
    sw.ofctl(OF13, "add-flow", "table=0,priority=1,in_port=2,actions=output:1")
    sw.ofctl(OF13, "add-flow", "table=1,priority=1,actions=drop")
    text = sw.ofctl(version, "dump-tables")
    assert text.startswith("OFPST_TABLE reply"), text
    assert re.search(r"  table 0:\n    active=2, lookup=\d+, matched=\d+\n", text), text
    assert re.search(r"  table 1:\n    active=1, lookup=\d+, matched=\d+\n", text), text
    assert re.search(r"  table 2:\n    active=0, lookup=0, matched=0\n", text), text
    assert "tables 3...253: ditto" in text, text
    if version == OF10:
        assert "max_entries=" in text and "matching:" in text, text


def table0_counts(text: str) -> tuple[int, int, int]:
    found = re.search(r"  table 0:\n    active=(\d+), lookup=(\d+), matched=(\d+)\n", text)
    assert found, text
    return int(found[1]), int(found[2]), int(found[3])


def test_dump_tables_counts_packets(sw: OfctlLab) -> None:
    # the agent is shared by the module: other tests' packets are in the counters already
    _, lookups, matches = table0_counts(sw.ofctl(OF13, "dump-tables"))
    sw.ofctl(OF13, "add-flow", "priority=10,in_port=1,actions=output:2")
    tx = sw.raw(1)
    with tx:
        # the first frame installs the datapath flow; the next four hit it
        for sent in range(1, 6):
            tx.send(make_frame(1, b"satest-lookup-%d" % sent))
            wait_for(lambda sent=sent: None if flows(sw.ofctl(OF13, "dump-flows")).get(
                "table=0 priority=10,in_port=1 actions=output:2") == (sent, 60 * sent)
                else f"frame {sent} not counted", every=0.05)
    assert table0_counts(sw.ofctl(OF13, "dump-tables")) == (1, lookups + 5, matches + 5)


# ------------------------------------------------------------------ flows and traffic


@BOTH
def test_add_flow_forwards_and_counters_grow(sw: OfctlLab, version: str) -> None:
    before = ports(sw.ofctl(version, "dump-ports"))
    assert set(before) == {"1", "2", "3"}, before
    sw.ofctl(version, "add-flow", "priority=10,in_port=1,actions=output:2")
    sw.ofctl(version, "add-flow", "priority=10,in_port=2,actions=output:1")
    out = sw.ping(1, 2)
    assert " 0% packet loss" in out, out + sw.logs()
    # one ARP request + 3 echo requests each way (and the replies)
    want = (4, 3 * PING_FRAME + ARP_FRAME)
    expected = {"table=0 priority=10,in_port=1 actions=output:2": want,
                "table=0 priority=10,in_port=2 actions=output:1": want}
    wait_for(lambda: None if flows(text := sw.ofctl(version, "dump-flows")) == expected
             else f"dump-flows {text!r}, want {expected}")
    assert aggregate(sw.ofctl(version, "dump-aggregate")) == (8, 2 * want[1], 2)
    assert aggregate(sw.ofctl(version, "dump-aggregate", "in_port=2")) == (*want, 1)
    text = sw.ofctl(version, "dump-flows", "in_port=1")
    assert list(flows(text)) == ["table=0 priority=10,in_port=1 actions=output:2"], text
    after = ports(sw.ofctl(version, "dump-ports"))
    delta = {port: tuple(a - b for a, b in zip(after[port], before[port])) for port in after}
    assert delta == {"1": (*want, *want), "2": (*want, *want), "3": (0, 0, 0, 0)}, delta
    one = sw.ofctl(version, "dump-ports", "2")
    assert "1 ports" in one and list(ports(one)) == ["2"] and ports(one)["2"] == after["2"], one
    if version == OF13:
        assert re.search(r"duration=\d+\.\d+s", one), one


@BOTH
def test_add_flows_file_then_mod_flows(sw: OfctlLab, version: str, tmp_path: Path) -> None:
    path = tmp_path / "flows.txt"
    path.write_text("# comment lines and blank lines are skipped by ovs-ofctl\n\n"
                    "priority=20,arp,actions=NORMAL\n"
                    "priority=30,ip,nw_dst=10.0.0.3,actions=output:3\n"
                    "priority=30,ip,nw_dst=10.0.0.1,actions=output:1\n"
                    "priority=10,in_port=1,actions=output:2\n")
    sw.ofctl(version, "add-flows", str(path))
    ip3 = "table=0 priority=30,ip,nw_dst=10.0.0.3 actions=output:3"
    ip1 = "table=0 priority=30,ip,nw_dst=10.0.0.1 actions=output:1"
    arp = "table=0 priority=20,arp actions=NORMAL"
    low = "table=0 priority=10,in_port=1 actions=output:2"
    assert flows(sw.ofctl(version, "dump-flows")) == {ip3: (0, 0), ip1: (0, 0), arp: (0, 0),
                                                       low: (0, 0)}
    out = sw.ping(1, 3)
    assert " 0% packet loss" in out, out + sw.logs()
    expected = {ip3: (3, 3 * PING_FRAME), ip1: (3, 3 * PING_FRAME),
                arp: (2, 2 * ARP_FRAME), low: (0, 0)}
    wait_for(lambda: None if flows(text := sw.ofctl(version, "dump-flows")) == expected
             else f"dump-flows {text!r}, want {expected}")
    # loose modify: actions change, counters stay (OVS and both specs)
    sw.ofctl(version, "mod-flows", "ip,nw_dst=10.0.0.3,actions=output:2")
    # strict modify: only the exact (match, priority) flow
    sw.ofctl(version, "mod-flows", "priority=10,in_port=1,actions=drop", opts=("--strict",))
    sw.ofctl(version, "mod-flows", "priority=30,ip,nw_dst=10.0.0.9,actions=output:1",
             opts=("--strict",))
    moved = "table=0 priority=30,ip,nw_dst=10.0.0.3 actions=output:2"
    dropped = "table=0 priority=10,in_port=1 actions=drop"
    got = flows(sw.ofctl(version, "dump-flows"))
    if version == OF10:  # OF1.0: a modify that matches nothing adds the flow (as OVS does)
        assert got.pop("table=0 priority=30,ip,nw_dst=10.0.0.9 actions=output:1") == (0, 0), got
    assert got == {moved: (3, 3 * PING_FRAME), ip1: expected[ip1], arp: expected[arp],
                   dropped: (0, 0)}, got
    # the modified flow now sends h1's pings to h2
    rx2 = sw.raw(2)
    with rx2:
        out = sw.ping(1, 3, count=1)
        assert " 100% packet loss" in out, out
        to_h2 = capture(rx2, socket.inet_aton("10.0.0.3"),
                        want=lambda data: data[12:14] == b"\x08\x00" and data[23] == 1)
    assert to_h2 and to_h2[0][30:34] == socket.inet_aton("10.0.0.3"), to_h2


@BOTH
def test_del_flows(sw: OfctlLab, version: str) -> None:
    for flow in ("priority=10,in_port=1,actions=output:2", "priority=20,in_port=1,actions=output:3",
                 "priority=10,in_port=2,actions=output:1", "priority=5,ip,actions=output:3",
                 "priority=6,in_port=3,actions=output:1"):
        sw.ofctl(version, "add-flow", flow)
    assert len(flows(sw.ofctl(version, "dump-flows"))) == 5
    # strict: exactly that priority and match
    sw.ofctl(version, "del-flows", "priority=10,in_port=1", opts=("--strict",))
    # strict without priority means the default priority 32768: nothing matches
    sw.ofctl(version, "del-flows", "in_port=2", opts=("--strict",))
    assert set(flows(sw.ofctl(version, "dump-flows"))) == {
        "table=0 priority=20,in_port=1 actions=output:3",
        "table=0 priority=10,in_port=2 actions=output:1",
        "table=0 priority=5,ip actions=output:3",
        "table=0 priority=6,in_port=3 actions=output:1"}
    # loose: every flow whose match is at least as specific (any priority)
    sw.ofctl(version, "del-flows", "in_port=1")
    # loose with out_port: only flows that output there
    sw.ofctl(version, "del-flows", "out_port=1,in_port=2")
    assert set(flows(sw.ofctl(version, "dump-flows"))) == {
        "table=0 priority=5,ip actions=output:3",
        "table=0 priority=6,in_port=3 actions=output:1"}
    # the deleted flows no longer forward: h1's frame reaches nobody
    tx, rx2, rx3 = sw.raw(1), sw.raw(2), sw.raw(3)
    with tx, rx2, rx3:
        tx.send(make_frame(1, b"satest-deleted"))
        assert capture(rx2, b"satest-deleted", timeout=0.5) == []
        assert capture(rx3, b"satest-deleted", timeout=0.1) == []
    sw.ofctl(version, "del-flows")
    assert sw.ofctl(version, "dump-flows").splitlines()[1:] == []
    assert aggregate(sw.ofctl(version, "dump-aggregate")) == (0, 0, 0)


# ------------------------------------------------------------------ groups and meters (1.3)


def test_groups(sw: OfctlLab) -> None:
    for group in ("group_id=1,type=all,bucket=output:2,bucket=output:3",
                  "group_id=2,type=select,bucket=weight:10,output:2,bucket=weight:20,output:3",
                  "group_id=3,type=indirect,bucket=output:2",
                  "group_id=4,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3"):
        sw.ofctl(OF13, "add-group", group)
    text = sw.ofctl(OF13, "dump-groups")
    assert text.splitlines()[1:] == [
        " group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3",
        " group_id=2,type=select,bucket=weight:10,actions=output:2,"
        "bucket=weight:20,actions=output:3",
        " group_id=3,type=indirect,bucket=actions=output:2",
        " group_id=4,type=ff,bucket=watch_port:2,actions=output:2,"
        "bucket=watch_port:3,actions=output:3"], text
    sw.ofctl(OF13, "add-flow", "priority=10,in_port=1,actions=group:1")
    tx, rx2, rx3 = sw.raw(1), sw.raw(2), sw.raw(3)
    with tx, rx2, rx3:
        for i in range(3):
            tx.send(make_frame(1, b"satest-group-%d" % i))
        assert len(capture(rx2, b"satest-group-", count=3)) == 3
        assert len(capture(rx3, b"satest-group-", count=3)) == 3
    stats = "group_id=1,duration=[0-9.]+s,ref_count=1,packet_count=3,byte_count=180," \
            "bucket0:packet_count=3,byte_count=180,bucket1:packet_count=3,byte_count=180\n"
    wait_for(lambda: None if re.search(stats, text := sw.ofctl(OF13, "dump-group-stats"))
             else f"dump-group-stats: {text!r}")
    sw.ofctl(OF13, "del-groups", "group_id=2")
    text = sw.ofctl(OF13, "dump-groups")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [
        " group_id=1", " group_id=3", " group_id=4"], text
    sw.ofctl(OF13, "del-groups")
    assert sw.ofctl(OF13, "dump-groups").splitlines()[1:] == []
    # deleting a group removes the flows that use it (OF1.3 6.5, OVS)
    assert flows(sw.ofctl(OF13, "dump-flows")) == {}


def test_meters(sw: OfctlLab) -> None:
    sw.ofctl(OF13, "add-meter", "meter=1,pktps,burst,band=type=drop,rate=1,burst_size=1")
    sw.ofctl(OF13, "add-meter", "meter=2,kbps,band=type=drop,rate=1000")
    sw.ofctl(OF13, "add-meter", "meter=3,kbps,band=type=dscp_remark,rate=500,prec_level=1")
    text = sw.ofctl(OF13, "dump-meters")
    assert text.startswith("OFPST_METER_CONFIG reply (OF1.3)"), text
    assert text.split("\n", 1)[1].split() == [
        "meter=1", "pktps", "burst", "bands=", "type=drop", "rate=1", "burst_size=1",
        "meter=2", "kbps", "bands=", "type=drop", "rate=1000",
        "meter=3", "kbps", "bands=", "type=dscp_remark", "rate=500", "prec_level=1"], text
    sw.ofctl(OF13, "add-flow", "priority=10,in_port=1,actions=meter:1,output:2")
    assert list(flows(sw.ofctl(OF13, "dump-flows"))) == [
        "table=0 priority=10,in_port=1 actions=meter:1,output:2"]
    tx, rx2 = sw.raw(1), sw.raw(2)
    with tx, rx2:
        for i in range(20):
            tx.send(make_frame(1, b"satest-meter-%02d" % i))
        passed = len(capture(rx2, b"satest-meter-", count=20, timeout=1.0))
    assert 1 <= passed <= 3, passed  # 1 packet/s, burst 1: the rest is dropped by the band
    stats = sw.ofctl(OF13, "meter-stats")
    found = re.search(r"meter:1 flow_count:1 packet_in_count:(\d+) byte_in_count:(\d+) "
                      r"duration:[0-9.]+s bands:\n0: packet_count:(\d+) byte_count:(\d+)", stats)
    assert found and [int(v) for v in found.groups()] == [
        20, 1200, 20 - passed, 60 * (20 - passed)], stats
    sw.ofctl(OF13, "del-meters", "meter=2")
    text = sw.ofctl(OF13, "dump-meters")
    assert re.findall(r"^meter=(\d+)", text, re.M) == ["1", "3"], text
    sw.ofctl(OF13, "del-meters")
    assert re.findall(r"^meter=", sw.ofctl(OF13, "dump-meters"), re.M) == []
    # deleting a meter removes the flows that use it (OF1.3 6.6, OVS)
    assert flows(sw.ofctl(OF13, "dump-flows")) == {}


# ------------------------------------------------------------------ packet-out, monitor


@BOTH
def test_packet_out(sw: OfctlLab, version: str) -> None:
    before = ports(sw.ofctl(version, "dump-ports", "2"))["2"]
    frame = make_frame(9, b"satest-packet-out-" + version.encode())
    rx1, rx2, rx3 = sw.raw(1), sw.raw(2), sw.raw(3)
    with rx1, rx2, rx3:
        sw.ofctl(version, "packet-out", f"in_port=controller packet={frame.hex()} "
                 "actions=output:2")
        assert capture(rx2, frame[14:]) == [frame]
        # FLOOD from port 1: every other port, not the input port
        sw.ofctl(version, "packet-out", f"in_port=1 packet={frame.hex()} actions=flood")
        assert capture(rx2, frame[14:]) == [frame]
        assert capture(rx3, frame[14:]) == [frame]
        assert capture(rx1, frame[14:], timeout=0.3) == []
        # a header rewrite on the way out (OF1.0 mod_dl_dst, OF1.3 set_field)
        rewrite = "mod_dl_dst:02:00:00:00:00:03" if version == OF10 \
            else "set_field:02:00:00:00:00:03->eth_dst"
        sw.ofctl(version, "packet-out", f"in_port=controller packet={frame.hex()} "
                 f"actions={rewrite},output:3")
        assert capture(rx3, frame[14:]) == [bytes.fromhex("020000000003") + frame[6:]]
    after = ports(sw.ofctl(version, "dump-ports", "2"))["2"]
    assert (after[2] - before[2], after[3] - before[3]) == (2, 2 * len(frame))


@contextlib.contextmanager
def monitors(sw: OfctlLab, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """`ovs-ofctl monitor` with OF1.3 (miss_send_len 65535) and OF1.0 (128) in the
    background; yields version -> what that monitor printed so far.  Both are stopped
    (by their Popen: `ip netns exec` execs ovs-ofctl) when the block ends."""
    outputs, procs = {}, []
    try:
        for version, miss_len in ((OF13, "65535"), (OF10, "128")):
            outputs[version] = tmp_path / f"monitor-{version}.txt"
            with open(outputs[version], "wb") as sink:
                procs.append(sw.lab.popen(sw.sw, [
                    "ovs-ofctl", "-O", version, f"--unixctl={tmp_path / version}.ctl",
                    "monitor", LISTEN, miss_len], stdout=sink, stderr=subprocess.STDOUT))
        yield lambda version: outputs[version].read_text(errors="replace")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_monitors_connected(sw: OfctlLab, text: Callable[[str], str]) -> None:
    """With a flow in_port=1 -> CONTROLLER: resend a frame from h1 until both monitors
    print its packet-in (they connect in the background; bounded)."""
    tx = sw.raw(1)
    with tx:
        def both_saw_it() -> str | None:
            tx.send(make_frame(1, b"satest-monitor-action"))
            if all("(via action)" in text(v) for v in (OF13, OF10)):
                return None
            return f"no action packet-in: {text(OF13)!r} {text(OF10)!r}" + sw.logs()
        wait_for(both_saw_it, timeout=8, every=0.3)


def test_monitor_packet_in_and_port_status(sw: OfctlLab, tmp_path: Path) -> None:
    sw.ofctl(OF13, "add-flow", "priority=10,cookie=0x77,in_port=1,actions=controller")
    with monitors(sw, tmp_path) as text:
        wait_monitors_connected(sw, text)
        assert re.search(r"OFPT_PACKET_IN \(OF1\.3\) \(xid=0x0\): cookie=0x77 total_len=60 "
                         r"in_port=1 \(via action\) data_len=60 \(unbuffered\)\n"
                         r"vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,"
                         r"dl_type=0x88b5\n", text(OF13)), text(OF13)
        assert re.search(r"OFPT_PACKET_IN \(xid=0x0\): total_len=60 in_port=1 \(via action\) "
                         r"data_len=60 \(unbuffered\)\n", text(OF10)), text(OF10)
        # a table miss (no flow for in_port=2): OF1.0 connections only (OF1.3's is a drop)
        tx2 = sw.raw(2)
        with tx2:
            tx2.send(make_frame(2, b"satest-monitor-miss"))
        wait_for(lambda: None if "(via no_match)" in text(OF10)
                 else f"no table-miss packet-in: {text(OF10)!r}")
        assert re.search(r"OFPT_PACKET_IN \(xid=0x0\): total_len=60 in_port=2 \(via no_match\) "
                         r"data_len=60 \(unbuffered\)\n"
                         r"vlan_tci=0x0000,dl_src=02:00:00:00:00:02,dl_dst=ff:ff:ff:ff:ff:ff,"
                         r"dl_type=0x88b5\n", text(OF10)), text(OF10)
        assert "no_match" not in text(OF13), text(OF13)

        # port 3's link goes down (its host end), then comes back
        status = rf"OFPT_PORT_STATUS{{}} \(xid=0x0\): MOD: 3\({sw.sw_if(3)}\): " \
                 rf"addr:{sw.sw_mac(3)}\n     config:     0\n     state:      {{}}\n"
        of13, of10 = r" \(OF1\.3\)", ""
        sw.lab.ip(sw.ns(3), "link", "set", sw.host_if(3), "down")
        wait_for(lambda: None if re.search(status.format(of13, "LINK_DOWN"), text(OF13))
                 and re.search(status.format(of10, "LINK_DOWN"), text(OF10))
                 else f"no LINK_DOWN port status: {text(OF13)!r} {text(OF10)!r}")
        desc = sw.ofctl(OF13, "dump-ports-desc")
        assert "state:      LINK_DOWN" in desc.split(f"3({sw.sw_if(3)})")[1], desc
        sw.lab.ip(sw.ns(3), "link", "set", sw.host_if(3), "up")
        wait_for(lambda: None if re.search(status.format(of13, "LIVE"), text(OF13))
                 and re.search(status.format(of10, "0"), text(OF10))
                 else f"no link-up port status: {text(OF13)!r} {text(OF10)!r}")


def test_monitor_unbuffered_table_miss_carries_whole_packet(sw: OfctlLab,
                                                            tmp_path: Path) -> None:
    sw.ofctl(OF13, "add-flow", "priority=10,in_port=1,actions=controller")
    with monitors(sw, tmp_path) as text:
        wait_monitors_connected(sw, text)
        tx2 = sw.raw(2)
        with tx2:
            tx2.send(make_frame(2, b"satest-monitor-miss", size=200))
        wait_for(lambda: None if "(via no_match)" in text(OF10)
                 else f"no table-miss packet-in: {text(OF10)!r}")
        assert re.search(r"OFPT_PACKET_IN \(xid=0x0\): total_len=200 in_port=2 "
                         r"\(via no_match\) data_len=200 \(unbuffered\)\n", text(OF10)), text(OF10)
