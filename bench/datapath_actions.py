"""Compiled datapath actions: executions/s of a few action lists on a 64-byte UDP frame.

Run: `make bench` or `.venv/bin/python bench/datapath_actions.py`.  Prints one line per
figure (best of 3 runs) and the cost per execution beyond an empty call.  The frame is
the received ``bytes`` object, as the executor takes it; the output port is a no-op
collector, so the figures are the executor's own per-packet cost -- the kernel's send
path (~2 us/packet on these machines, see docs/) comes on top.  The last lines time
the alternative the executor does not use, a mutable bytearray frame, for scale.
"""

from __future__ import annotations

import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datapath import odp_actions as a  # noqa: E402
from datapath.meter import METER_PASS  # noqa: E402
from datapath.packet import checksum  # noqa: E402

SECONDS = 1.0
COUNT = 2000  # executions per timing slice


def udp_frame() -> bytes:
    """64-byte Ethernet/IPv4/UDP frame with valid checksums."""
    payload = bytes(range(18))
    udp_len = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0, 64, 17, 0,
                               bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))
    struct.pack_into("!H", ip, 10, checksum(ip))
    pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, 17, udp_len)
    udp = bytearray(struct.pack("!HHHH", 1234, 5678, udp_len, 0) + payload)
    struct.pack_into("!H", udp, 6, checksum(pseudo + udp) or 0xFFFF)
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + bytes(ip) + bytes(udp)


FRAME = udp_frame()


class NullEnv:
    """Swallows outputs (keeps the last, so nothing is optimised away)."""

    def __init__(self) -> None:
        self.last: bytes = b""

    def output(self, port: int, frame: bytes, ctx: a.PacketCtx) -> None:
        self.last = frame

    def upcall(self, frame: bytes, userdata: bytes, total_len: int, ctx: a.PacketCtx) -> None:
        self.last = frame

    def meter(self, meter_id: int, size: int, now: float) -> int:
        return METER_PASS


def rate(run) -> float:
    """Executions per second of run(FRAME, ctx), best of 3."""
    ctx = a.PacketCtx(in_port=1)
    frame = FRAME
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        deadline = start + SECONDS / 3
        while True:
            for _ in range(COUNT):
                run(frame, ctx)
            n += COUNT
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def main() -> None:
    env = NullEnv()
    cases = [
        ("output only", [a.Output(2)]),
        ("set eth_dst + output", [a.SetField("eth_dst", 0x0200000000AA), a.Output(2)]),
        ("set ipv4_src + output (IPv4+UDP csum)",
         [a.SetField("ipv4_src", 0x0A000009), a.Output(2)]),
        ("push_vlan + output", [a.PushVlan(0x8100, 10), a.Output(2)]),
        ("pop_vlan (untagged: no-op) + output", [a.PopVlan(), a.Output(2)]),
        ("set udp_dst + output", [a.SetField("udp_dst", 53), a.Output(2)]),
        ("set eth_src,eth_dst,ip_ttl + output (router)",
         [a.SetField("eth_src", 0x0200000000BB), a.SetField("eth_dst", 0x0200000000AA),
          a.SetField("ip_ttl", 63), a.Output(2)]),
        ("output, set eth_dst, output", [a.Output(2), a.SetField("eth_dst", 1), a.Output(3)]),
    ]
    print(f"python {sys.version.split()[0]}, 64-byte UDP frame, {SECONDS:.0f} s per figure "
          "(best of 3)")
    base = rate(lambda frame, ctx: None)
    print(f"{'empty call (baseline)':46s} {base:>12,.0f}/s")
    for name, actions in cases:
        ours = rate(a.compile_actions(actions, env))
        print(f"{name:46s} {ours:>12,.0f}/s   ({(1 / ours - 1 / base) * 1e9:5.0f} ns each)")

    def bytearray_eth_dst(frame: bytes, ctx: a.PacketCtx) -> None:
        buf = bytearray(frame)
        buf[0:6] = b"\x02\x00\x00\x00\x00\xaa"
        env.output(2, bytes(buf), ctx)
    ours = rate(bytearray_eth_dst)
    print(f"{'for scale: bytearray copy, eth_dst, snapshot':46s} {ours:>12,.0f}/s   "
          f"({(1 / ours - 1 / base) * 1e9:5.0f} ns each)")


if __name__ == "__main__":
    main()
