"""swctl end to end through main(): the offline commands (ofp-print, parse-flow) and the
wiring of the OpenFlow flow tools (tests/unit/test_ofctl.py tests them against a switch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from openflow import codec
from openflow.consts import OFP10, OFP13
from switch_agent import ofctl, swctl, swctl_of
from tests.samples import corpus

FLOW = "priority=10,in_port=1,ip,nw_dst=10.0.0.0/24,actions=output:2"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = swctl.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("proto,version", [("OpenFlow13", OFP13), ("OpenFlow10", OFP10)])
def test_parse_flow_prints_flow_mod_hex(capsys, proto: str, version: int) -> None:
    status, out, _ = run(capsys, "parse-flow", "-O", proto, FLOW)
    assert status == 0
    data = bytes.fromhex(out.strip())
    got_version, msg = codec.decode(data)
    assert got_version == version
    assert msg.priority == 10
    assert msg.match.to_dict() == {
        "in_port": 1, "eth_type": 0x0800, "ipv4_dst": (0x0A000000, 0xFFFFFF00)
    }


def test_parse_flow_then_ofp_print_reads_back(capsys) -> None:
    _, out, _ = run(capsys, "parse-flow", FLOW)
    status, text, _ = run(capsys, "ofp-print", out.strip())
    assert status == 0
    assert text.startswith("OFPT_FLOW_MOD (OF1.3) (xid=0x")
    assert "priority=10" in text and "nw_dst=10.0.0.0/24" in text
    assert "actions=output:2" in text


def test_parse_flow_rejects_bad_flow(capsys) -> None:
    status, out, err = run(capsys, "parse-flow", "nw_src=10.0.0.1,actions=output:1")
    assert status == 1 and out == ""
    assert "parse-flow" in err


@pytest.mark.parametrize("version", [OFP10, OFP13], ids=["of10", "of13"])
def test_ofp_print_every_sample(capsys, version: int) -> None:
    for msg in corpus(version):
        data = codec.encode(msg, version)
        status, out, err = run(capsys, "ofp-print", data.hex())
        assert status == 0, (type(msg).__name__, err)
        assert f"(xid=0x{msg.xid:x})" in out.splitlines()[0]


def test_ofp_print_accepts_spaced_hex_and_several_messages(capsys) -> None:
    status, out, _ = run(capsys, "ofp-print", "04 02 00 08 00 00 00 01", "0x0403000800000002")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("OFPT_ECHO_REQUEST (OF1.3) (xid=0x1)")
    assert lines[1].startswith("OFPT_ECHO_REPLY (OF1.3) (xid=0x2)")


@pytest.mark.parametrize(
    "hex_text,expected",
    [
        ("0400", "OFPBRC_BAD_LEN (type 1, code 6)"),  # shorter than a header
        ("0409000800000000", "OFPBRC_BAD_LEN (type 1, code 6)"),  # SET_CONFIG without body
        ("04ff000800000000", "OFPBRC_BAD_TYPE (type 1, code 1)"),  # unknown type
        ("0502000800000000", "OFPBRC_BAD_VERSION (type 1, code 0)"),  # unsupported version
        ("01ff000800000000", "OFPBRC_BAD_TYPE (type 1, code 1)"),
    ],
)
def test_ofp_print_bad_input_exits_nonzero_with_type_code(capsys, hex_text, expected) -> None:
    status, _, err = run(capsys, "ofp-print", hex_text)
    assert status == 1
    assert expected in err


def test_ofp_print_rejects_non_hex(capsys) -> None:
    status, _, err = run(capsys, "ofp-print", "zz")
    assert status == 1 and "not a hex string" in err


def test_flow_tools_are_registered_with_target_options_before_or_after() -> None:
    parser = swctl.build_parser()
    for argv in (["--of", "tcp:127.0.0.1:6653", "-O", "OpenFlow10", "dump-flows", "tcp"],
                 ["dump-flows", "--of", "tcp:127.0.0.1:6653", "-O", "OpenFlow10", "tcp"]):
        args = parser.parse_args(argv)
        assert (args.func, args.of, args.of_protocol, args.words) == (
            swctl_of.run, "tcp:127.0.0.1:6653", "OpenFlow10", ["tcp"])
    for name in ("dump-flows", "add-flow", "add-flows", "mod-flows", "del-flows", "dump-ports",
                 "dump-ports-desc", "dump-tables", "dump-groups", "add-group", "mod-group",
                 "del-groups", "dump-meters", "add-meter", "mod-meter", "del-meters",
                 "packet-out", "ofshow"):
        assert parser.parse_args([name]).func is swctl_of.run, name
    assert {spec.name for spec in swctl_of.COMMANDS} == set(ofctl._BY_NAME)
    assert parser.parse_args(["del-flows", "--strict", "in_port=1"]).strict is True
    # the control-socket commands stay where they were
    assert parser.parse_args(["trace", "in_port=1"]).func is swctl.cmd_agent


def test_agent_commands_do_not_load_the_openflow_library() -> None:
    """swctl show/list-br/add-port... start fast: the flow tools' OpenFlow library and
    the switch are loaded only when a flow tool or an offline decoder runs."""
    code = ("import sys; from switch_agent import swctl; swctl.build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith(('openflow', 'datapath')) "
            "or m in ('switch_agent.control', 'switch_agent.ofproto', 'switch_agent.ofctl')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout

def test_flow_tool_without_a_switch_is_one_line(capsys, tmp_path) -> None:
    status, out, err = run(capsys, "--socket", str(tmp_path / "br0.ctl"), "dump-flows", "br0")
    assert (status, out) == (1, "")
    assert err == (f"swctl: dump-flows: no bridge br0: no switch listening on "
                   f"unix:{tmp_path}/br0.mgmt (is switch-agent running?)\n")
