"""Cross-checks against Open vSwitch's ovs-ofctl (Debian openvswitch-common 3.1).

1. ovs-ofctl builds FLOW_MODs from flow text (`parse-flows`, hex shown with -mmmmm);
   our decoder must read every one, to the same model our own flow parser builds.
2. ovs-ofctl decodes our encoding of every sample message (`ofp-print`): no decode
   error, the same message name line, and the field values we put in.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from openflow import codec, flowtext, printer
from openflow.consts import OFP10, OFP13, VERSION_NAMES
from tests.samples import corpus

FLOWS_BOTH = [
    "priority=10,in_port=1,actions=output:2",
    "priority=10,ip,in_port=1,nw_dst=10.0.0.0/24,actions=output:2",
    "tcp,nw_src=192.168.1.1,tp_dst=80,actions=mod_nw_src:10.0.0.1,output:3",
    "udp,tp_src=53,actions=CONTROLLER:128",
    "arp,arp_spa=10.0.0.1,arp_op=1,actions=FLOOD",
    "dl_src=00:11:22:33:44:55,dl_dst=66:77:88:99:aa:bb,actions=NORMAL",
    "dl_vlan=10,dl_vlan_pcp=3,actions=strip_vlan,output:1",
    "icmp,icmp_type=8,icmp_code=0,actions=ALL",
    "cookie=0x42,idle_timeout=30,hard_timeout=60,priority=100,ip,nw_tos=32,actions=mod_dl_dst:00:00:00:00:00:01,LOCAL",
    "in_port=LOCAL,actions=IN_PORT",
    "priority=0,actions=drop",
    "dl_type=0x0806,actions=mod_vlan_vid:5,output:2",
]
FLOWS_13 = [
    "table=1,priority=5,ipv6,ipv6_src=2001:db8::/32,actions=output:1",
    "eth_type=0x86dd,ip_proto=58,icmpv6_type=135,nd_target=fe80::1,actions=drop",
    "vlan_vid=0x1005,actions=pop_vlan,goto_table:2",
    "mpls,mpls_label=100,actions=pop_mpls:0x0800,output:1",
    "metadata=0x5/0xff,actions=write_metadata:0x10/0xff,goto_table:3",
    "tun_id=0x64,actions=group:1",
    "ip,actions=meter:1,push_vlan:0x8100,set_field:4101->vlan_vid,output:2",
    "sctp,tp_dst=9,actions=dec_ttl,output:1",
    "ip,actions=clear_actions,write_actions(output:1)",
    "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=set_queue:1,output:2",
]


def _hex_blocks(text: str) -> list[bytes]:
    """The messages in ovs-ofctl's -mmmmm hex dumps, in order."""
    blocks: list[bytes] = []
    current: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]{8})  (.{48})", line)
        if m:
            if m.group(1) == "00000000" and current:
                blocks.append(bytes.fromhex("".join(current)))
                current = []
            current.append(m.group(2).replace("-", " ").replace(" ", ""))
    if current:
        blocks.append(bytes.fromhex("".join(current)))
    return blocks


@pytest.mark.parametrize(
    "version,flows", [(OFP10, FLOWS_BOTH), (OFP13, FLOWS_BOTH + FLOWS_13)], ids=["of10", "of13"]
)
def test_ovs_ofctl_parse_flows_decode_in_ours(ovs_ofctl: str, tmp_path, version, flows) -> None:
    flow_file = tmp_path / "flows.txt"
    flow_file.write_text("\n".join(flows) + "\n")
    done = subprocess.run(
        [ovs_ofctl, "-O", VERSION_NAMES[version], "-mmmmm", "parse-flows", str(flow_file)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    blocks = _hex_blocks(done.stdout)
    assert len(blocks) == len(flows), done.stdout
    for flow, raw in zip(flows, blocks):
        got_version, msg = codec.decode(raw)
        assert got_version == version
        ours = flowtext.parse_flow(flow, version=version)
        assert msg.match == ours.match, flow
        assert msg.instructions == ours.instructions, flow
        for name in ("cookie", "priority", "idle_timeout", "hard_timeout", "table_id", "command"):
            assert getattr(msg, name) == getattr(ours, name), (flow, name)


def _ofp_print(ovs_ofctl: str, data: bytes) -> str:
    done = subprocess.run(
        [ovs_ofctl, "ofp-print", data.hex()], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# Field values from tests/samples.py that ovs-ofctl must show in its decoding.
EXPECTED_TEXT = {
    "FeaturesReply": ["dpid:0000000000000001"],
    "Experimenter": ["NXT_ROLE_REQUEST", "role=primary"],
    "PacketIn": ["in_port=1", "total_len=98"],
    "FlowRemoved": ["reason=idle", "priority=10", "tcp", "nw_dst=10.0.0.0/24", "tp_dst=80",
                    "cookie:0x1234", "duration5.0000005s", "idle30", "pkts3", "bytes300"],
    "PortStatus": ["MOD:", "1(veth1): addr:0a:00:00:00:00:01"],
    "FlowStatsReply": ["cookie=0x1234", "n_packets=4", "n_bytes=400", "priority=10",
                       "nw_dst=10.0.0.0/24", "actions=output:2"],
    "AggregateStatsReply": ["packet_count=10", "byte_count=1000", "flow_count=2"],
    "PortStatsReply": ["port  1: rx pkts=1, bytes=3", "tx pkts=2, bytes=4"],
    "DescStatsReply": ["Manufacturer: switch-agent project", "DP Description: br0"],
    "GetConfigReply": ["miss_send_len=128"],
    "QueueGetConfigReply": ["queue 1:", "min_rate:10.0%"],
    "PortDescStatsReply": ["1(veth1): addr:0a:00:00:00:00:01", "LOCAL(br0)"],
    "RoleReply": ["role=primary", "generation_id=7"],
    "GroupDescStatsReply": ["group_id=1,type=select", "bucket=", "actions=output:1"],
    "MeterConfigStatsReply": ["meter=1", "kbps", "type=drop rate=1000"],
    "MeterFeaturesStatsReply": ["max_meter:1024"],
    "GroupStatsReply": ["group_id=1", "ref_count=1", "packet_count=2", "byte_count=3"],
    "MeterStatsReply": ["meter:1", "flow_count:1", "packet_in_count:2", "byte_in_count:3"],
    "TableFeaturesStatsReply": ['table 0 ("table0")', "max_entries=1000000"],
    "FlowMod": ["priority=", "actions="],
    "PacketOut": ["in_port=CONTROLLER", "actions=output:1,output:2"],
    "GroupMod": ["group_id=1,type=select"],
    "MeterMod": ["meter=1", "kbps", "stats", "type=drop rate=1000",
                 "type=dscp_remark rate=2000 prec_level=1"],
    "PortMod": ["port: 1: addr:0a:00:00:00:00:01", "config: PORT_DOWN"],
}


SAME_TEXT = {"PortStatsReply", "PacketIn"}


@pytest.mark.parametrize("version", [OFP10, OFP13], ids=["of10", "of13"])
def test_ovs_ofctl_prints_our_encodings(ovs_ofctl: str, version: int) -> None:
    failures = []
    for msg in corpus(version):
        data = codec.encode(msg, version)
        text = _ofp_print(ovs_ofctl, data)
        name = type(msg).__name__
        # A truncated packet-in is legitimate; ovs-ofctl merely remarks on it.
        text_checked = text.replace("(***total_len != data_len***)", "")
        if "decode error" in text or "***" in text_checked:
            failures.append(f"{name}: {text}")
            continue
        ours_text = printer.format_message(version, msg)
        ours_first = ours_text.split(":", 1)[0]
        theirs_first = text.split(":", 1)[0]
        # ovs-ofctl names a Nicira experimenter message by its subtype (NXT_...).
        if ours_first != theirs_first and name != "Experimenter":
            failures.append(f"{name}: name line {ours_first!r} vs ovs {theirs_first!r}")
        # Our printer reproduces ovs-ofctl's lines exactly for these (a packet-in's first
        # line; ovs-ofctl then dissects the packet where we dump it).
        theirs_lines = text_checked.rstrip().splitlines()
        if name in SAME_TEXT:
            count = 1 if name == "PacketIn" else len(theirs_lines)
            if ours_text.splitlines()[:count] != [ln.rstrip() for ln in theirs_lines[:count]]:
                failures.append(f"{name}: ours\n{ours_text}\nvs ovs-ofctl\n{text}")
        for needle in EXPECTED_TEXT.get(name, []):
            if needle not in text:
                failures.append(f"{name}: {needle!r} not in ovs-ofctl output:\n{text}")
    assert not failures, "\n".join(failures)
