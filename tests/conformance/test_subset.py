"""A fixed subset of Ryu's OpenFlow switch test tool against the agent (issue 7), as root.

Sits under tests/conformance/ and runs tests/conformance/harness.py in-process: the agent
as target (dpid 1) wired to an Open vSwitch 3.1 tester bridge (dpid 2), both driven by
ryu-manager 4.34's `ryu.tests.switch.tester`, in a throw-away namespace. The full run is
`make conformance`; this is the regression guard for `make test`: a few cases from each
category (match, action, group, meter), the group/meter throughput cases shortened to
THROUGHPUT_SECONDS (the tester compares rates, so the expected values do not change).

EXPECTED_PASS lists what the agent passed when the list was made (tree of 2026-11-21
04:02, HEAD d2e19b5; PBB, copy-TTL and the re-padded pop cases added 05:25 on 078e219
with issue 7's PBB work; the eth_type/ip_proto/mpls_bos set_field cases 2026-11-21 08:05): any of those failing is a regression. Known failures, also
run so they show in the output but not asserted, with what the tester said then:

- group/00_ALL#1: "Received unexpected throughput: {'in_port': 2} 1738kbps, {'in_port': 3}
  1738kbps" (2000 +-10% expected); group/01_SELECT_Ether#1: 815 and 865 kbps (1000
  +-10% expected). The tester's own sender falls short of its nominal rate under load
  (162.6 pps for 175 measured on the wire, every frame forwarded by the agent;
  docs/conformance.md), and more so with THROUGHPUT_SECONDS and a loaded machine.

- meter/01_DROP_01_PKTPS_00_100#1: 119.56 pktps (100 +-10 % expected) at 07:05 with the
  tester without datapath flows: 100 pkt/s plus the meter's initial burst of 100
  packets over THROUGHPUT_SECONDS. Asserted: within the rate plus that burst (+10 %).
- meter/02_DSCP_REMARK_00_KBPS_00_1M#1: until 2026-11-21 06:25 "{'in_port': 2,
  'eth_type': 2048, 'ip_dscp': 20} 0.00kbps" (the band lowered the DSCP class, 18 ->
  10); since the band raises the AF drop precedence (18 -> 20, datapath/meter.py),
  839 kbps at 10 s: the conforming part is exact, the remarked part is the rest of what
  the tester managed to send, and the meter's bucket starts full (one second of
  conforming traffic more), which at THROUGHPUT_SECONDS alone is 20 % of the expected
  rate. Asserted here: remarked frames do come out (a non-zero DSCP 20 rate).

EXPECTED_PASS_OF10: a few OF1.0 cases (each action and match family once), all of
which passed in the full OF1.0 runs of 2026-11-21.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from tests.conformance import harness

THROUGHPUT_SECONDS = 5.0

EXPECTED_PASS = (
    "match/00_IN_PORT#1", "match/00_IN_PORT#2", "match/00_IN_PORT#3",
    "match/02_METADATA#1", "match/02_METADATA#3",
    "match/06_VLAN_VID#1", "match/06_VLAN_VID#2", "match/06_VLAN_VID#3",
    "match/13_TCP_SRC_IPv4#1", "match/13_TCP_SRC_IPv4#2", "match/13_TCP_SRC_IPv4#3",
    "match/21_ARP_OP#1", "match/21_ARP_OP#3",
    "match/29_ICMPV6_TYPE#1", "match/29_ICMPV6_TYPE#2",
    "match/34_MPLS_LABEL#1", "match/34_MPLS_LABEL#3",
    "match/39_IPV6_EXTHDR#1",
    "action/00_OUTPUT#1", "action/00_OUTPUT#2",
    "action/17_PUSH_VLAN#1", "action/18_POP_VLAN#1",
    "action/19_PUSH_MPLS#1", "action/20_POP_MPLS#1",
    "action/24_DEC_NW_TTL_IPv4#1",
    "action/25_SET_FIELD/03_ETH_DST#1",
    "action/25_SET_FIELD/11_IPV4_SRC#1",
    "action/25_SET_FIELD/13_TCP_SRC_IPv4#1",
    # issue 7: pop_mpls + goto_table, PBB, copy-TTL, a pop re-padded to 60 bytes
    "action/25_SET_FIELD/11_IPV4_SRC#3",
    "action/11_COPY_TTL_OUT#1", "action/12_COPY_TTL_IN#1",
    "action/26_PUSH_PBB#1", "action/27_POP_PBB#1", "action/25_SET_FIELD/37_PBB_ISID#1",
    "match/13_TCP_SRC_IPv4#10", "match/19_ICMPV4_TYPE#7",
    # issue 7: set_field on eth_type, ip_proto (after pop_mpls) and mpls_bos
    "action/25_SET_FIELD/05_ETH_TYPE#1", "action/25_SET_FIELD/10_IP_PROTO_IPv4#3",
    "action/25_SET_FIELD/36_MPLS_BOS#1",
)

EXPECTED_PASS_OF10 = (
    "match/00_IN_PORT#1", "match/03_DL_VLAN#1", "match/08_NW_SRC_Mask#1",
    "match/11_TP_DST_IPv6_UDP#1",
    "action/00_OUTPUT#1", "action/01_SET_VLAN_VID#3", "action/03_STRIP_VLAN#1",
    "action/06_SET_NW_SRC#2", "action/08_SET_NW_TOS_IPv6#1", "action/10_SET_TP_DST_IPv6_TCP#1",
)

KNOWN_FAILING = (
    "group/00_ALL#1",
    "group/01_SELECT_Ether#1",
    "meter/02_DSCP_REMARK_00_KBPS_00_1M#1",
    "meter/01_DROP_01_PKTPS_00_100#1",
)
REMARK_CASE = "meter/02_DSCP_REMARK_00_KBPS_00_1M#1"
# A 100 pkt/s drop meter: the tester expects 100 +-10 % over the run, but the meter's
# bucket starts full (one second's worth, as OVS's), which adds 100 / THROUGHPUT_SECONDS
# pkt/s; the OVS tester's stats pulled late used to hide that (docs/conformance.md).
METER_CASE, METER_RATE = "meter/01_DROP_01_PKTPS_00_100#1", 100.0
_PKTPS = re.compile(r"\{'in_port': 2\} ([0-9.]+)pktps")
_DSCP20_RATE = re.compile(r"'ip_dscp': 20\} ([0-9.]+)kbps")


def test_case_inventory() -> None:
    """The wheel's cases as the issue counts them, in the tester's order, ids unique."""
    cases, notes = harness.load_cases(harness.cases_dir("13"))
    counts = {cat: sum(c.category == cat for c in cases) for cat in harness.CATEGORIES}
    assert counts == {"match": 714, "action": 226, "group": 15, "meter": 36}
    assert sum(c.throughput for c in cases) == 51
    assert {c.category for c in cases if c.throughput} == {"group", "meter"}
    assert len({c.id for c in cases}) == len(cases) and not notes
    assert [c.file_description for c in cases] == sorted(c.file_description for c in cases)
    v10, notes10 = harness.load_cases(harness.cases_dir("10"))
    assert len(v10) == 192 and len(notes10) == 2  # two duplicate file descriptions renamed
    assert {c.id for c in harness.select_cases(v10, EXPECTED_PASS_OF10)} == set(EXPECTED_PASS_OF10)
    assert len({c.file_description for c in v10}) == len({c.file for c in v10})
    chosen = harness.select_cases(cases, ["action/25_SET_FIELD/*", "match/00_IN_PORT#2"])
    assert len(chosen) == 1 + sum(c.file.startswith("action/25_SET_FIELD/") for c in cases)
    assert {c.id for c in harness.select_cases(cases, [*EXPECTED_PASS, *KNOWN_FAILING])} == {
        *EXPECTED_PASS, *KNOWN_FAILING}


def test_agent_passes_the_subset(ryu_python: str) -> None:
    if os.geteuid() != 0:
        pytest.fail("the conformance subset needs root (namespaces, veth, OVS); run as root as CI does")
    if shutil.which("ovs-vswitchd") is None and not os.path.exists("/usr/sbin/ovs-vswitchd"):
        pytest.fail("ovs-vswitchd missing: make deps")
    assert ryu_python  # the fixture fails the test with the fix if .ryu-venv is missing
    lines: list[str] = []
    result = harness.run_conformance(
        "agent", "13", [*EXPECTED_PASS, *KNOWN_FAILING],
        throughput_seconds=THROUGHPUT_SECONDS, timeout=240, out=lines.append)
    report = "\n".join(harness.format_report([result]))
    print(report)
    assert result.error is None, report
    by_id = {c.id: c for c in result.cases}
    assert set(by_id) == {*EXPECTED_PASS, *KNOWN_FAILING}
    regressions = [f"{i}: {by_id[i].result} {by_id[i].message}" for i in EXPECTED_PASS
                   if by_id[i].result != harness.OK]
    assert not regressions, "\n".join(regressions) + "\n" + json.dumps(result.notes)
    meter = by_id[METER_CASE]  # the rate, plus at most one initial burst over the run
    if meter.result != harness.OK:
        rate = _PKTPS.search(meter.message)
        assert rate is not None, meter.message
        top = METER_RATE * (1 + 1 / THROUGHPUT_SECONDS) * 1.1
        assert METER_RATE * 0.9 <= float(rate[1]) <= top, meter.message
    remark = by_id[REMARK_CASE]  # passes, or fails on the rate with remarked frames seen
    if remark.result != harness.OK:
        rate = _DSCP20_RATE.search(remark.message)
        assert rate is None or float(rate[1]) > 0, f"no DSCP 20 frame came out: {remark.message}"
        assert "Received unexpected throughput" in remark.message, remark.message


def test_agent_passes_the_of10_subset(ryu_python: str) -> None:
    if os.geteuid() != 0:
        pytest.fail("the conformance subset needs root (namespaces, veth, OVS); run as root as CI does")
    assert ryu_python
    result = harness.run_conformance("agent", "10", EXPECTED_PASS_OF10, timeout=120)
    report = "\n".join(harness.format_report([result]))
    print(report)
    assert result.error is None, report
    failing = [f"{c.id}: {c.result} {c.message}" for c in result.cases if c.result != harness.OK]
    assert {c.id for c in result.cases} == set(EXPECTED_PASS_OF10)
    assert not failing, "\n".join(failing)
