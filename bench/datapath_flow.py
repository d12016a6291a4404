"""Datapath fast-path costs: flow key extraction and cache lookups, per second.

Run: `.venv/bin/python bench/datapath_flow.py`.  Prints one line per figure (best of 3
runs of ~1/3 s each): extractions/s for 64-byte UDP/IPv4, TCP/IPv4, ARP, IPv6 TCP and
VLAN-tagged frames; megaflow lookups/s with 1 and 10 masks (the hit in the last one);
EMC hits/s; and the composed EMC -> megaflow lookup with 10k distinct UDP 5-tuples
under one megaflow.  No assertions: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import rate  # noqa: E402
from datapath.cache import ExactMatchCache, FlowCache, MegaflowCache  # noqa: E402
from datapath.flow import FIELD_OFFSET, extract, make_mask  # noqa: E402

SECONDS = 1.0
MAC_A, MAC_B = bytes.fromhex("0a0000000001"), bytes.fromhex("0a0000000002")


def pad64(frame: bytes) -> bytes:
    return frame + bytes(max(0, 60 - len(frame)))  # 64 bytes on the wire with the FCS


def ipv4(proto: int, l4: bytes, src: int = 0x0A000001) -> bytes:
    return struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, src,
                       0x0A000002) + l4


def udp(sport: int, dport: int = 53) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + 18, 0) + bytes(18)


def frames() -> dict[str, bytes]:
    eth = MAC_B + MAC_A
    tcp = struct.pack("!HHIIHHHH", 40000, 80, 1, 0, 0x5010, 8192, 0, 0)
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, bytes(15) + b"\1",
                      bytes(15) + b"\2")
    arp = struct.pack("!HHBBH6sI6sI", 1, 0x0800, 6, 4, 1, MAC_A, 0x0A000001, bytes(6),
                      0x0A000002)
    return {
        "UDP/IPv4": pad64(eth + b"\x08\x00" + ipv4(17, udp(1234))),
        "TCP/IPv4": pad64(eth + b"\x08\x00" + ipv4(6, tcp)),
        "ARP": pad64(eth + b"\x08\x06" + arp),
        "TCP/IPv6": pad64(eth + b"\x86\xdd" + ip6 + tcp),
        "VLAN UDP/IPv4": pad64(eth + b"\x81\x00\x20\x05\x08\x00" + ipv4(17, udp(1234))),
    }


def main() -> None:
    print(f"python {sys.version.split()[0]}, {SECONDS:.0f} s per figure (best of 3)")
    for name, frame in frames().items():
        view = memoryview(frame)
        per_s = rate(lambda f: extract(f, 1), [view] * 100)
        print(f"extract {name:<14} ({len(frame)} B): {per_s:>12,.0f}/s  "
              f"{1e9 / per_s:6.0f} ns")

    udp_frame = frames()["UDP/IPv4"]
    key = extract(udp_frame, 1)
    exact_5tuple = make_mask(in_port=True, eth_type=True, ipv4_src=True, ipv4_dst=True,
                             ip_proto=True, ip_frag=True, tp_src=True, tp_dst=True)
    l2_masks = [make_mask(in_port=True, eth_dst=True, vlan_tci=0x1FFF + i) for i in range(9)]

    one = MegaflowCache()
    one.insert(exact_5tuple, key, "actions")
    per_s = rate(one.lookup, [key] * 100)
    print(f"megaflow lookup, 1 mask (hit):       {per_s:>12,.0f}/s  {1e9 / per_s:6.0f} ns")

    ten = MegaflowCache()
    other_mac = key ^ (1 << FIELD_OFFSET["eth_dst"])
    for mask in l2_masks:  # nine masks whose flows do not match, searched first
        ten.insert(mask, other_mac, "other")
    ten.insert(exact_5tuple, key, "actions")
    per_s = rate(ten.lookup, [key] * 100)
    print(f"megaflow lookup, 10 masks (hit 10th): {per_s:>11,.0f}/s  {1e9 / per_s:6.0f} ns")

    emc = ExactMatchCache(insert_inv_prob=1)
    emc.insert(key, one.lookup(key))
    per_s = rate(emc.lookup, [key] * 100)
    print(f"EMC hit:                             {per_s:>12,.0f}/s  {1e9 / per_s:6.0f} ns")

    # 10k distinct UDP 5-tuples under one megaflow (the bench scenario).
    wide = make_mask(in_port=True, eth_type=True, ipv4_dst=True, ip_frag=True)
    keys = [extract(pad64(MAC_B + MAC_A + b"\x08\x00" + ipv4(17, udp(1024 + i % 5000),
                                                              0x0A000001 + i // 5000)), 1)
            for i in range(10_000)]
    for inv_prob in (100, 1):
        cache = FlowCache(emc_insert_inv_prob=inv_prob)
        cache.insert(wide, keys[0], "actions")
        for _ in range(3):
            for k in keys:
                cache.lookup(k)
        cache.emc.hits = cache.emc.misses = 0
        per_s = rate(cache.lookup, keys)
        share = cache.emc.hits / max(1, cache.emc.hits + cache.emc.misses)
        print(f"EMC+megaflow, 10k 5-tuples, inv_prob {inv_prob:<3}: {per_s:>10,.0f}/s  "
              f"{1e9 / per_s:6.0f} ns  (EMC hit share {share:.0%})")

    def extract_and_lookup(frame: memoryview, cache: FlowCache = cache) -> object:
        return cache.lookup(extract(frame, 1))

    cache = FlowCache()
    cache.insert(exact_5tuple, key, "actions")
    per_s = rate(extract_and_lookup, [memoryview(udp_frame)] * 100)
    print(f"extract + EMC/megaflow, 1 flow:      {per_s:>12,.0f}/s  {1e9 / per_s:6.0f} ns")


if __name__ == "__main__":
    main()
