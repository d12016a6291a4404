#!/usr/bin/env bash
# An offline demo of the OpenFlow library through swctl (what `make run` shows
# when it is not root; as root it runs `switch-agent lab --demo`).
#
# ovs-ofctl-style flow text is parsed and encoded to an OpenFlow 1.3 FLOW_MOD
# (`swctl parse-flow`), and those bytes are decoded and printed back
# (`swctl ofp-print HEX`). No network, no root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
SWCTL="$VENV/bin/swctl"
PY="$VENV/bin/python"

FLOW='priority=10,in_port=1,ip,nw_dst=10.0.0.0/24,actions=output:2'

die() { printf 'demo.sh: error: %s\n' "$*" >&2; exit 1; }

[[ -x "$PY" ]] || die "$VENV is missing. Fix: make venv"
[[ -x "$SWCTL" ]] || die "$SWCTL is missing (stale install?). Fix: make venv"
"$PY" -c 'import switch_agent.swctl' 2>/dev/null \
    || die "switch_agent.swctl does not import yet (being written). Try: $PY -c 'import switch_agent.swctl'"

step() { printf '\n$ %s\n' "$*"; }

step swctl parse-flow -O OpenFlow13 "'$FLOW'"
parsed="$("$SWCTL" parse-flow -O OpenFlow13 "$FLOW")" || die "swctl parse-flow failed"
printf '%s\n' "$parsed"

# The encoded message in the output: the longest hex run, either one token
# (040e0050...) or consecutive lines of space-separated bytes (04 0e 00 50 ...).
hex="$(printf '%s\n' "$parsed" | "$PY" -c '
import re, sys
text = sys.stdin.read()
runs = [t.lower().removeprefix("0x") for t in re.findall(r"(?:0x)?[0-9a-fA-F]{16,}", text)]
block = []
for line in text.splitlines() + [""]:
    if re.fullmatch(r"\s*(?:[0-9a-fA-F]{2}\s+)*[0-9a-fA-F]{2}\s*", line):
        block.append("".join(line.split()))
    elif block:
        runs.append("".join(block).lower())
        block = []
runs = [r for r in runs if len(r) % 2 == 0 and len(r) >= 16]
print(max(runs, key=len) if runs else "")
')"
[[ -n "$hex" ]] || die "no hex-encoded message found in the output of swctl parse-flow (above)"

step swctl ofp-print "$hex"
"$SWCTL" ofp-print "$hex" || die "swctl ofp-print failed"

if command -v ovs-ofctl >/dev/null 2>&1; then
    # Same bytes through Open vSwitch's own decoder, for comparison.
    step ovs-ofctl ofp-print "$hex"
    ovs-ofctl ofp-print "$hex" || true
fi
