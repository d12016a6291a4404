"""Ryu 4.34 as an independent OpenFlow implementation, for cross-checking our codec.

Runs under the Ryu test venv's Python 3.9 (never imported by the project).  It
speaks JSON lines on stdin/stdout, one request per line, one answer per line:

  {"serialize": "<expr>", "version": 4}  -> {"hex": "..."}
      <expr> is a Python expression over ``p`` (the version's ofproto parser
      module), ``o`` (its ofproto constants module) and ``dp`` (a datapath
      stand-in), e.g. "p.OFPEchoRequest(dp, data=b'x')".
  {"parse": "<hex>"}                      -> {"json": msg.to_jsondict()}
Errors come back as {"error": "..."}; the process keeps going.
"""

import binascii
import json
import sys
import traceback

from ryu.ofproto import (
    ofproto_parser,
    ofproto_protocol,
    ofproto_v1_0,
    ofproto_v1_0_parser,
    ofproto_v1_3,
    ofproto_v1_3_parser,
)

MODULES = {
    1: (ofproto_v1_0_parser, ofproto_v1_0),
    4: (ofproto_v1_3_parser, ofproto_v1_3),
}


def _jsonable(value):
    if isinstance(value, bytes):
        return {"__bytes__": binascii.hexlify(value).decode()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def handle(request):
    if "serialize" in request:
        version = request["version"]
        parser, ofproto = MODULES[version]
        dp = ofproto_protocol.ProtocolDesc(version)
        msg = eval(request["serialize"], {"p": parser, "o": ofproto, "dp": dp})
        msg.serialize()
        return {"hex": binascii.hexlify(bytes(msg.buf)).decode()}
    if "parse" in request:
        buf = binascii.unhexlify(request["parse"])
        version, msg_type, msg_len, xid = ofproto_parser.header(buf)
        dp = ofproto_protocol.ProtocolDesc(version)
        msg = ofproto_parser.msg(dp, version, msg_type, msg_len, xid, buf)
        return {"json": _jsonable(msg.to_jsondict()), "class": type(msg).__name__}
    return {"error": "unknown request"}


def main():
    for line in sys.stdin:
        try:
            answer = handle(json.loads(line))
        except Exception:  # the oracle reports every failure to the test, which asserts
            answer = {"error": traceback.format_exc(limit=3)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
