"""`swctl`: the operator CLI (console script ``switch_agent.swctl:main``).

Today it has the offline commands, which need no running agent:
  swctl ofp-print HEX            decode and print any OF1.0/1.3 message(s)
  swctl parse-flow [-O VER] FLOW print the FLOW_MOD hex for an ovs-ofctl flow
  swctl version
The agent-facing commands (show, dump-flows, trace, ...) arrive with the agent.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from openflow import codec, flowtext, printer
from openflow.consts import OFP13, VERSION_BY_NAME
from openflow.errors import CodecError, code_name, type_name
from openflow.wire import HEADER_SIZE

EXIT_BAD_INPUT = 1
_HEX_NOISE = re.compile(r"0x|[\s:,]")


def _split_messages(data: bytes) -> list[bytes]:
    """Frame a byte string into messages by their header lengths."""
    messages, offset = [], 0
    while offset < len(data):
        if len(data) - offset < HEADER_SIZE:
            messages.append(data[offset:])
            break
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if length < HEADER_SIZE:  # cannot frame past this: hand the rest to the decoder
            messages.append(data[offset:])
            break
        messages.append(data[offset : offset + length])
        offset += length
    return messages


def cmd_ofp_print(args: argparse.Namespace) -> int:
    text = _HEX_NOISE.sub("", "".join(args.hex))
    try:
        data = bytes.fromhex(text)
    except ValueError:
        print("swctl: ofp-print: argument is not a hex string", file=sys.stderr)
        return EXIT_BAD_INPUT
    status = 0
    for raw in _split_messages(data):
        try:
            version, msg = codec.decode(raw)
        except CodecError as exc:
            version = raw[0] if raw and raw[0] in (0x01, 0x04) else OFP13
            msg_type, msg_code = exc.type_code(version)
            print(f"decode error: {type_name(version, msg_type)}/"
                  f"{code_name(version, msg_type, msg_code)} (type {msg_type}, code {msg_code})"
                  + (f": {exc.detail}" if exc.detail else ""), file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(printer.format_message(version, msg))
    return status


def cmd_parse_flow(args: argparse.Namespace) -> int:
    version = VERSION_BY_NAME[args.protocol]
    try:
        flow_mod = flowtext.parse_flow(" ".join(args.flow), version=version)
        data = codec.encode(flow_mod, version)
    except ValueError as exc:
        print(f"swctl: parse-flow: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.verbose:
        print(printer.format_message(version, flow_mod))
    print(data.hex())
    return 0


def cmd_version(_args: argparse.Namespace) -> int:
    from switch_agent.cli import _version

    print(f"swctl (switch-agent) {_version()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swctl", description="switch-agent operator CLI")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ofp-print", help="decode and print OpenFlow messages given in hex")
    p.add_argument("hex", nargs="+", help="message bytes in hex (spaces, colons, 0x allowed)")
    p.set_defaults(func=cmd_ofp_print)

    p = sub.add_parser("parse-flow", help="print the FLOW_MOD bytes of an ovs-ofctl flow")
    p.add_argument("-O", "--protocol", choices=sorted(VERSION_BY_NAME), default="OpenFlow13")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the decoded text")
    p.add_argument("flow", nargs="+", help="flow in ovs-ofctl syntax")
    p.set_defaults(func=cmd_parse_flow)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
