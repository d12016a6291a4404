"""swctl's OpenFlow flow tools against a real Open vSwitch 3.1, with ovs-ofctl as the judge.

The point of switch_agent/ofctl.py is that ``swctl --of TARGET`` works with any
OpenFlow switch, like ovs-ofctl.  Here the switch is Debian's ovs-vswitchd
(datapath_type=netdev) with ovsdb-server, both from a private run directory and in a
namespace of our own (tests/conformance/harness.py's ``Ovs``, stopped by PID; the
namespace and directory go away whatever happens).  The bridge ``saof<pid>`` has two
internal ports; swctl changes the switch and ovs-ofctl reads it back (and the other
way round), and where both print the same thing the texts must match.

    [ns satest-<pid>-N-ovs: ovs-vswitchd]  bridge saofNNNN: ports saofNNNNa=1, saofNNNNb=2
        management socket RUNDIR/saofNNNN.mgmt  <-  swctl --of unix:...  and  ovs-ofctl
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.datapath import remove_stale_ovs_dirs
from tests.conformance.harness import Ovs
from tests.integration.conftest import NetnsLab, remove_stale_namespaces

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = f"saof{os.getpid() % 10000:04d}"
OF13, OF10 = "OpenFlow13", "OpenFlow10"
BOTH = pytest.mark.parametrize("version", [OF13, OF10])
FRAME = bytes.fromhex("ffffffffffff020000000001" "0800" "4500001c0000000040110000"
                      "0a0000010a000002" "0001000200080000")


@dataclass
class OvsBridge:
    lab: NetnsLab
    ns: str
    ovs: Ovs
    mgmt: Path

    @property
    def target(self) -> str:
        return f"unix:{self.mgmt}"

    def ofctl(self, version: str, command: str, *args: str, check: bool = True,
              ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["ovs-ofctl", "-O", version, command, self.target, *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 or not check, proc.stderr
        return proc

    def swctl(self, *argv: str, check: bool = True, stdin: str | None = None,
              ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "switch_agent.swctl", *argv],
                              capture_output=True, text=True, timeout=60, input=stdin,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT))
        assert proc.returncode == 0 or not check, proc.stderr
        return proc

    def of(self, version: str, *argv: str) -> str:
        """``swctl --of unix:BRIDGE.mgmt -O version COMMAND ...``: its stdout."""
        return self.swctl("--of", self.target, "-O", version, *argv).stdout


@pytest.fixture(scope="module")
def bridge() -> Iterator[OvsBridge]:
    if os.geteuid() != 0:
        pytest.fail("these tests need root (namespaces, ovs-vswitchd); run as root as CI does")
    remove_stale_namespaces()
    remove_stale_ovs_dirs()
    lab = NetnsLab()
    ovs = None
    try:
        ns = lab.add_ns("ovs")
        ovs = Ovs(lab, ns)
        ovs.start()
        argv = [*ovs.vsctl, "add-br", BRIDGE, "--", "set", "bridge", BRIDGE,
                "datapath_type=netdev", "fail-mode=secure", "protocols=OpenFlow10,OpenFlow13",
                "other-config:datapath-id=00000000000000a7"]
        for number, suffix in ((1, "a"), (2, "b")):
            port = BRIDGE + suffix
            argv += ["--", "add-port", BRIDGE, port, "--", "set", "interface", port,
                     "type=internal", f"ofport_request={number}"]
        ovs.ctl(*argv)
        for suffix in ("a", "b"):  # up, so that packets sent there are counted as sent
            lab.ip(ns, "link", "set", BRIDGE + suffix, "up")
        yield OvsBridge(lab, ns, ovs, ovs.dir / f"{BRIDGE}.mgmt")
    finally:
        if ovs is not None:
            ovs.stop()
        lab.close()
    assert not lab.leftovers()


@pytest.fixture
def br(bridge: OvsBridge) -> OvsBridge:
    """The module's bridge without flows, groups and meters."""
    for command in ("del-flows", "del-groups", "del-meters"):
        bridge.ofctl(OF13, command)
    return bridge


def without_xids(text: str) -> str:
    return re.sub(r"\(xid=0x[0-9a-f]+\)", "(xid=X)", text)


def flow_lines(text: str) -> list[str]:
    """dump-flows lines without the reply header and the durations (they move), and
    without idle_age/hard_age: ovs-ofctl gets those from Open vSwitch's own flow
    statistics extension, which it uses instead of OpenFlow 1.0's."""
    return sorted(re.sub(r"(duration|idle_age|hard_age)=[0-9.]+s?, ", "", line)
                  for line in text.splitlines() if line.startswith(" cookie="))


# ------------------------------------------------------------------ reading


@BOTH
def test_show_ports_desc_and_tables_print_as_ovs_ofctl(br: OvsBridge, version: str) -> None:
    br.ofctl(OF13, "add-flow", "table=2,priority=1,actions=drop")
    for ours, theirs in (("ofshow", "show"), ("dump-ports-desc", "dump-ports-desc"),
                         ("dump-tables", "dump-tables")):
        expected = br.ofctl(version, theirs).stdout
        if ours == "dump-tables" and version == OF10:  # left out, see ofctl's docstring
            expected = re.sub(r"    matching:\n      .*\n", "", expected)
        assert without_xids(br.of(version, ours)) == without_xids(expected), ours
    shown = br.of(version, "ofshow")
    assert f" 1({BRIDGE}a): addr:" in shown and f" LOCAL({BRIDGE}): addr:" in shown


def test_the_bridge_word_finds_ovs_management_socket(br: OvsBridge) -> None:
    """OVS's rundir is laid out like the agent's: --socket's directory + BRIDGE.mgmt."""
    br.ofctl(OF13, "add-flow", "priority=7,actions=drop")
    out = br.swctl("--socket", str(br.ovs.dir / "anything.ctl"), "dump-flows", BRIDGE).stdout
    assert "priority=7 actions=drop" in out
    proc = br.swctl("--socket", str(br.ovs.dir / "x.ctl"), "dump-flows", "nosuchbr", check=False)
    assert proc.returncode == 1 and proc.stderr == (
        f"swctl: dump-flows: no bridge nosuchbr: no switch listening on "
        f"unix:{br.ovs.dir}/nosuchbr.mgmt (is switch-agent running?)\n")


# ------------------------------------------------------------------ flows


FLOWS = [
    f"priority=10,in_port={BRIDGE}a,actions=output:{BRIDGE}b",
    "table=1,priority=20,cookie=0x5,idle_timeout=300,send_flow_rem,tcp,nw_dst=10.0.0.0/24,"
    "tp_dst=80,actions=mod_vlan_vid:7,output:2",
    "priority=30,dl_vlan=5,dl_src=02:00:00:00:00:01,actions=strip_vlan,goto_table:2",
    "table=2,priority=5,ipv6,ipv6_src=2001:db8::/32,actions=write_actions(output:1)",
    "priority=40,udp,tp_src=53,actions=set_field:10.0.0.9->nw_dst,CONTROLLER:128",
]


def test_flows_written_by_swctl_read_by_ovs_ofctl_and_back(br: OvsBridge, tmp_path: Path) -> None:
    for flow in FLOWS:
        assert br.of(OF13, "add-flow", flow) == ""
    ours = br.of(OF13, "dump-flows")
    theirs = br.ofctl(OF13, "dump-flows").stdout
    assert flow_lines(ours) == flow_lines(theirs) and len(flow_lines(ours)) == len(FLOWS)
    assert "priority=10,in_port=1 actions=output:2" in ours  # names became numbers
    # ovs-ofctl add-flows reads our lines back into the same flows
    saved = tmp_path / "flows.txt"
    saved.write_text(ours)
    br.ofctl(OF13, "del-flows")
    br.ofctl(OF13, "add-flows", str(saved))
    assert flow_lines(br.of(OF13, "dump-flows")) == flow_lines(ours)
    # and swctl add-flows reads ovs-ofctl's, from stdin (its header line is a comment here)
    br.of(OF13, "del-flows")
    assert br.swctl("--of", br.target, "add-flows", "-",
                    stdin=theirs.replace("OFPST_FLOW", "# OFPST_FLOW")).stdout == ""
    assert flow_lines(br.ofctl(OF13, "dump-flows").stdout) == flow_lines(theirs)


def test_mod_and_del_flows(br: OvsBridge) -> None:
    br.ofctl(OF13, "add-flow", "priority=10,in_port=1,actions=output:2")
    br.ofctl(OF13, "add-flow", "priority=20,in_port=1,actions=output:2")
    br.of(OF13, "mod-flows", "--strict", "priority=20,in_port=1,actions=drop")
    out = br.ofctl(OF13, "dump-flows").stdout
    assert "priority=20,in_port=1 actions=drop" in out
    assert "priority=10,in_port=1 actions=output:2" in out
    br.of(OF10, "del-flows", "--strict", "priority=10,in_port=1")
    assert flow_lines(br.ofctl(OF13, "dump-flows").stdout) == [
        " cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=20,in_port=1 actions=drop"]
    br.of(OF13, "del-flows")
    assert flow_lines(br.ofctl(OF13, "dump-flows").stdout) == []


@BOTH
def test_dump_flows_and_ports_agree_with_ovs_ofctl(br: OvsBridge, version: str) -> None:
    br.ofctl(OF13, "add-flow", "priority=3,dl_vlan=9,actions=drop")
    br.ofctl(OF13, "add-flow", "priority=4,in_port=2,tcp,tp_dst=22,actions=output:1")
    assert flow_lines(br.of(version, "dump-flows")) == \
        flow_lines(br.ofctl(version, "dump-flows").stdout)
    assert flow_lines(br.of(version, "dump-flows", "tcp")) == \
        flow_lines(br.ofctl(version, "dump-flows", "tcp").stdout)

    def ports(text: str) -> list[str]:
        return [line for line in text.splitlines()
                if "pkts=" in line and not line.startswith("OFPST")]

    assert ports(br.of(version, "dump-ports")) == ports(br.ofctl(version, "dump-ports").stdout)
    assert ports(br.of(version, "dump-ports", f"{BRIDGE}b")) == \
        ports(br.ofctl(version, "dump-ports", "2").stdout)


def test_ovs_errors_are_one_line_naming_type_and_code(br: OvsBridge) -> None:
    proc = br.swctl("--of", br.target, "add-flow", "in_port=1,actions=group:9", check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("swctl: add-flow: OFPBAC_BAD_OUT_GROUP "
                           "(OFPET_BAD_ACTION type 2, code 9)\n")
    br.of(OF13, "add-group", "group_id=1,type=all,bucket=output:1")
    proc = br.swctl("--of", br.target, "add-group", "group_id=1,type=all,bucket=output:2",
                    check=False)
    assert proc.returncode == 1
    assert proc.stderr == ("swctl: add-group: OFPGMFC_GROUP_EXISTS "
                           "(OFPET_GROUP_MOD_FAILED type 6, code 0)\n")


# ------------------------------------------------------------------ groups, meters, packets


def test_groups(br: OvsBridge) -> None:
    groups = ["group_id=1,type=all,bucket=output:1,bucket=mod_vlan_vid:5,output:2",
              f"group_id=2,type=select,bucket=weight:5,output:{BRIDGE}a",
              f"group_id=3,type=ff,bucket=watch_port:{BRIDGE}b,output:2"]
    for group in groups:
        assert br.of(OF13, "add-group", group) == ""
    ours = br.of(OF13, "dump-groups").splitlines()
    theirs = [line for line in br.ofctl(OF13, "dump-groups").stdout.splitlines()
              if not line.startswith("OFPST")]
    assert ours == sorted(theirs, key=lambda line: int(line.split(",")[0].split("=")[1]))
    assert ours[0] == (" group_id=1,type=all,bucket=actions=output:1,bucket=actions="
                       "push_vlan:0x8100,set_field:4101->vlan_vid,output:2")
    assert br.of(OF13, "dump-groups", "3") == \
        " group_id=3,type=ff,bucket=watch_port:2,actions=output:2\n"
    br.of(OF13, "mod-group", "group_id=2,type=select,bucket=output:2")
    assert "group_id=2,type=select,bucket=actions=output:2" in br.ofctl(OF13, "dump-groups").stdout
    br.of(OF13, "del-groups", "group_id=1")
    remaining = br.ofctl(OF13, "dump-groups").stdout
    assert "group_id=1," not in remaining and "group_id=3," in remaining
    br.of(OF13, "del-groups")
    assert br.ofctl(OF13, "dump-groups").stdout.strip().endswith("):")  # only the header


def test_meters(br: OvsBridge) -> None:
    assert br.of(OF13, "add-meter", "meter=1,kbps,burst,stats,bands=type=drop,rate=1000,"
                                    "burst_size=100") == ""
    br.ofctl(OF13, "add-meter", "meter=2,pktps,bands=type=drop,rate=50")
    # ovs-ofctl's, after its header line; it puts a blank line between meters (swctl
    # prints them as it did through the control socket, without one)
    theirs = br.ofctl(OF13, "dump-meters").stdout.split("\n", 1)[1].replace("\n\n", "\n")
    assert br.of(OF13, "dump-meters") == theirs
    assert br.of(OF13, "dump-meters", "2") == "meter=2 pktps bands=\ntype=drop rate=50\n"
    br.of(OF13, "mod-meter", "meter=2,pktps,bands=type=drop,rate=60")
    assert "type=drop rate=60" in br.ofctl(OF13, "dump-meters").stdout
    br.of(OF13, "del-meters", "1")
    assert "meter=1 " not in br.ofctl(OF13, "dump-meters").stdout


@BOTH
def test_packet_out_leaves_by_the_port_ovs_counts(br: OvsBridge, version: str) -> None:
    def tx(port: str) -> int:
        line = next(line for line in br.ofctl(OF13, "dump-ports", port).stdout.splitlines()
                    if "tx pkts=" in line)
        return int(line.split("tx pkts=")[1].split(",")[0])

    before = tx("2")
    br.of(version, "packet-out", "none", f"output:{BRIDGE}b", FRAME.hex(), FRAME.hex())
    br.of(version, "packet-out", f"in_port=1 packet={FRAME.hex()} actions=output:2")
    assert tx("2") == before + 3
