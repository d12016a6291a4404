"""Codec throughput: FLOW_MOD decodes/s and PACKET_IN encodes/s, ours next to Ryu's.

Run: `make bench` or `.venv/bin/python bench/codec.py`.  Prints one line per figure.
Ryu 4.34's parser (in .ryu-venv, Python 3.9) decodes the same FLOW_MOD bytes for a
reference; Ryu cannot encode PACKET_IN (its serialize() yields only the header), so
that figure has no Ryu column.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import rate  # noqa: E402
from openflow import codec  # noqa: E402
from openflow import messages as m  # noqa: E402
from openflow.consts import OFP10, OFP13  # noqa: E402
from openflow.match import Match  # noqa: E402
from tests.samples import FRAME, flow_mods_for_bench  # noqa: E402

SECONDS = 1.0


RYU_SNIPPET = """
import sys, time
from ryu.ofproto import ofproto_parser, ofproto_protocol
bufs = [bytes.fromhex(line) for line in sys.stdin.read().split()]
dp = ofproto_protocol.ProtocolDesc(bufs[0][0])
msgs = [(buf,) + ofproto_parser.header(buf) for buf in bufs]
best = 0.0
for _ in range(3):
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < %f:
        for buf, version, msg_type, msg_len, xid in msgs[:200]:
            ofproto_parser.msg(dp, version, msg_type, msg_len, xid, buf)
        n += min(200, len(msgs))
    best = max(best, n / (time.perf_counter() - start))
print(best)
""" % (SECONDS / 3)


def ryu_rate(messages: list[bytes]) -> str:
    python = ROOT / ".ryu-venv" / "bin" / "python"
    if not python.exists():
        return "n/a (no .ryu-venv: run make ryu-venv)"
    out = subprocess.run(
        [str(python), "-c", RYU_SNIPPET], input="\n".join(d.hex() for d in messages),
        capture_output=True, text=True, check=True,
    )
    return f"{float(out.stdout):>10,.0f}/s"


def main() -> None:
    print(f"python {sys.version.split()[0]}, {SECONDS:.0f} s per figure (best of 3)")
    for version, name in ((OFP13, "OF1.3"), (OFP10, "OF1.0")):
        messages = [codec.encode(fm, version) for fm in flow_mods_for_bench()]
        ours = rate(codec.decode, messages)
        print(f"FLOW_MOD decode {name} ({len(messages[0])} B, {len(messages)} distinct): "
              f"ours {ours:>10,.0f}/s   ryu-4.34 {ryu_rate(messages)}")
    for version, name in ((OFP13, "OF1.3"), (OFP10, "OF1.0")):
        pin = m.PacketIn(
            buffer_id=0xFFFFFFFF, total_len=len(FRAME), reason=0, table_id=0,
            match=Match.build(in_port=1), data=FRAME, xid=0,
        )
        ours = rate(lambda msg, v=version: codec.encode(msg, v), [pin])
        print(f"PACKET_IN encode {name} ({len(FRAME)} B frame): ours {ours:>10,.0f}/s")


if __name__ == "__main__":
    main()
