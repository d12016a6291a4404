"""OpenFlow pipeline figures (switch_agent/): classifier, FLOW_MOD rate over TCP, upcalls,
memory per rule, revalidation cost.

Run: `.venv/bin/python bench/pipeline.py` (no root; ~1 min; `make bench` runs it).
`--profile` adds cProfile's top functions for the FLOW_MOD path (the agent process run
under cProfile), the upcall path and one FLOW_MOD's revalidation; `--only NAME[,NAME]`
runs some sections (classifier, flowmod, upcall, memory, reval).

1. classifier: bench/classifier.py's functions (imported) for 1k/10k/100k rules over
   1/8/32 masks, shorter runs (issue 3's target: a miss over 100k rules in <= 8 masks
   under 50 us).
2. flowmod: `python -m switch_agent.cli run --port dummy:p1 --port dummy:p2 --listen
   ptcp:PORT:127.0.0.1` as a subprocess; one OF1.3 controller connection (Channel over
   TCP) sends 100k distinct pre-encoded FLOW_MODs (priority=100,ip,nw_dst=10.x.y.z,
   actions=output:2), then a BARRIER; flows/s until the BARRIER_REPLY, checked with an
   AGGREGATE request (flow_count == 100k for the bench's cookie) and the agent's RSS
   growth (target >= 20k/s).
3. upcall: in process, a Switch on a Datapath with dummy ports; the flows
   `priority=200,udp,tp_dst=9,actions=output:3` and `priority=100,in_port=1,
   actions=output:2` make every UDP destination port its own megaflow (the miss in the
   tp_dst subtable un-wildcards tp_dst); N frames with distinct tp_dst are injected and
   dp.poll() runs until every one is out on port 2: new megaflows/s (target >= 10k/s).
   Also the same with NORMAL learning N distinct source MACs (each batch that learns a
   MAC revalidates every megaflow).
4. memory: RSS growth over 100k rules decoded from FLOW_MOD bytes and added with
   Switch.flow_mod, and tracemalloc's count over 20k of them (what a rule keeps:
   FlowRule, classifier rule and key, match, instructions), bytes/rule.
5. reval: with M megaflows installed (0, 1k, 10k), ms per FLOW_MOD that adds an
   unrelated rule (ofproto re-translates every megaflow after each change).

Every run is bounded in count and time; the agent process is always killed by its Popen.
No assertions: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import pstats
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import classifier as cls_bench  # noqa: E402
from bench.timing import rate  # noqa: E402
from datapath.dpif import Datapath  # noqa: E402
from datapath.netdev import DummyNetdev  # noqa: E402
from openflow import codec  # noqa: E402
from openflow import messages as m  # noqa: E402
from openflow.actions import ApplyActions, Output  # noqa: E402
from openflow.channel import Channel, MessageReceived, Negotiated  # noqa: E402
from openflow.consts import OFPP_NORMAL  # noqa: E402
from openflow.match import Match  # noqa: E402
from switch_agent.ofproto import Switch  # noqa: E402

OF13 = 0x04
COOKIE = 0xBE7C  # marks the bench's flows (AGGREGATE filters on it)
ALL_ONES = (1 << 64) - 1
SECTIONS = ("classifier", "flowmod", "upcall", "memory", "reval")
CLASSIFIER_SECONDS = 0.3  # per figure, best of 3 (bench/classifier.py uses 0.6)
FLOWMOD_COUNT = 100_000
FLOWMOD_TIMEOUT = 60.0  # seconds for the whole install + barrier
PROFILE_FLOWMODS = 20_000
INPROCESS_FLOWMODS = 20_000  # the profiled agent run (cProfile slows it ~2x)
UPCALL_COUNT = 20_000
NORMAL_COUNT = 2_000
MEMORY_RULES = 100_000
TRACED_RULES = 20_000
REVAL_MEGAFLOWS = (0, 1_000, 10_000)
REVAL_FLOWMODS = 10
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


# -- helpers


def udp_frame(dport: int, src_mac: bytes = MAC_A, dst_mac: bytes = MAC_B) -> bytes:
    """Ethernet/IPv4/UDP 10.0.0.1:1000 -> 10.0.0.2:dport, 60 bytes."""
    payload = b"x" * 18
    udp = struct.pack("!HHHH", 1000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2)))
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def nw_dst_flow(index: int, *, xid: int = 0) -> m.FlowMod:
    """priority=100,ip,nw_dst=10.x.y.z,actions=output:2 (distinct per index)."""
    return m.FlowMod(match=Match.build(eth_type=0x0800, ipv4_dst=0x0A000000 + index + 1),
                     cookie=COOKIE, priority=100,
                     instructions=(ApplyActions((Output(2),)),), xid=xid)


def udp_dst_flow(port: int, priority: int, out: int) -> m.FlowMod:
    return m.FlowMod(match=Match.build(eth_type=0x0800, ip_proto=17, udp_dst=port),
                     priority=priority, instructions=(ApplyActions((Output(out),)),))


def in_port_flow(in_port: int, priority: int, out: int) -> m.FlowMod:
    return m.FlowMod(match=Match.build(in_port=in_port), priority=priority,
                     instructions=(ApplyActions((Output(out),)),))


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def top_functions(profile: pstats.Stats, title: str, count: int = 14) -> None:
    """Print the top functions by own time, and by cumulative time among the project's
    (switch_agent/, openflow/, datapath/)."""
    for sort in ("tottime", "cumulative"):
        out = io.StringIO()
        profile.stream = out  # type: ignore[attr-defined]
        restrict = (count,) if sort == "tottime" else (r"(switch_agent|openflow|datapath)/", count)
        profile.sort_stats(sort).print_stats(*restrict)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print(f"  -- {title}: top {count} by {sort}")
        for line in lines[start:]:
            if line.strip():
                print("  " + line.replace(str(ROOT) + "/", ""))


class Lab:
    """A Switch on an in-memory Datapath with dummy ports 1..n."""

    def __init__(self, n_ports: int = 3, n_tables: int = 254) -> None:
        self.dp = Datapath("bench", upcall_queue_len=4096)
        self.sw = Switch(self.dp, n_tables=n_tables)
        self.ports = [DummyNetdev(f"p{i}", rx_queue_len=4096, sent_len=8)
                      for i in range(1, n_ports + 1)]
        for port in self.ports:
            self.sw.add_port(port)

    def flow(self, fm: m.FlowMod) -> None:
        self.sw.flow_mod(fm, OF13)

    def run_frames(self, frames: list[bytes], deadline: float) -> int:
        """Inject ``frames`` on port 1 (in chunks the queues hold) and poll until the
        datapath has received them all; returns the frames received."""
        received = 0
        chunk = 2048  # below the rx queue and the upcall queue
        for start in range(0, len(frames), chunk):
            for frame in frames[start:start + chunk]:
                self.ports[0].inject(frame)
            while self.ports[0]._rx and time.monotonic() < deadline:  # noqa: SLF001
                received += self.dp.poll()
            if time.monotonic() >= deadline:
                break
        return received

    def close(self) -> None:
        self.dp.close()


# -- 1. classifier


def bench_classifier() -> None:
    print(f"\n== classifier lookup (bench/classifier.py's build/probe_keys, "
          f"~{CLASSIFIER_SECONDS} s per figure; full run: .venv/bin/python bench/classifier.py)")
    print(f"{'rules':>8} {'masks':>5} {'hit us':>8} {'miss us':>8} {'insert us':>10}")
    rng = random.Random(1)
    for rules in cls_bench.RULE_COUNTS:
        for mask_count in cls_bench.MASK_COUNTS:
            table, insert_us = cls_bench.build(rules, mask_count, rng)
            hits, misses = cls_bench.probe_keys(table, rng)
            hit_us = 1e6 / rate(table.lookup, hits, CLASSIFIER_SECONDS)
            miss_us = 1e6 / rate(table.lookup, misses, CLASSIFIER_SECONDS)
            print(f"{rules:>8} {table.n_subtables:>5} {hit_us:>8.2f} {miss_us:>8.2f} "
                  f"{insert_us:>10.2f}", flush=True)
    print("  target (issue 3): a miss over 100k rules in <= 8 masks under 50 us")


# -- 2. FLOW_MOD rate over TCP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def agent_process(profile_to: str | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`switch-agent run` with two dummy ports (optionally under cProfile); always ended,
    its stderr shown if the run failed."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    prefix = [sys.executable] + (["-m", "cProfile", "-o", profile_to] if profile_to else [])
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [*prefix, "-m", "switch_agent.cli", "run", "--port", "dummy:p1", "--port",
             "dummy:p2", "--listen", f"ptcp:{port}:127.0.0.1", "--control-socket", "none"],
            stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        try:
            yield proc, port
        except BaseException:
            stderr.seek(0)
            print("  agent stderr:", stderr.read()[-2000:].decode(errors="replace"))
            raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # a clean exit writes the profile
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Controller:
    """A blocking OF1.3 controller connection over TCP (openflow.channel.Channel)."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        self.channel = Channel((OF13,), role="controller", echo_interval=None)
        self.sock.sendall(self.channel.initiate())
        event = self.receive(time.monotonic() + 10)
        if not isinstance(event, Negotiated):
            raise RuntimeError(f"no negotiation: {event!r}")

    def receive(self, deadline: float) -> object:
        while True:
            event = self.channel.next_event()
            if event is not None:
                return event
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(1 << 20)
            self.channel.receive_data(data, time.monotonic())
            if not data:
                raise RuntimeError("the agent closed the connection")
            out = self.channel.data_to_send()
            if out:
                self.sock.sendall(out)

    def request(self, msg: m.Message, deadline: float) -> tuple[m.Message, list[m.Message]]:
        """Send ``msg``; the reply with its xid, and any Error seen before it."""
        xid = self.channel.next_xid()
        self.sock.sendall(codec.encode(type(msg)(**{
            **{f: getattr(msg, f) for f in msg.__dataclass_fields__}, "xid": xid}), OF13))
        errors: list[m.Message] = []
        while True:
            event = self.receive(deadline)
            if isinstance(event, MessageReceived):
                if event.xid == xid:
                    return event.msg, errors
                if isinstance(event.msg, m.Error):
                    errors.append(event.msg)

    def close(self) -> None:
        self.sock.close()


def install_over_tcp(count: int, profile_to: str | None = None) -> dict[str, float]:
    """Send ``count`` FLOW_MODs + BARRIER to a fresh agent; figures of the run."""
    data = [codec.encode(nw_dst_flow(i, xid=i + 1), OF13) for i in range(count)]
    blob = b"".join(data)
    with agent_process(profile_to) as (proc, port):
        ctl = Controller(proc, port)
        try:
            # the agent answers before we start the clock (its loop is up)
            ctl.request(m.BarrierRequest(), time.monotonic() + 10)
            rss_before = rss_bytes(proc.pid)
            deadline = time.monotonic() + FLOWMOD_TIMEOUT
            start = time.perf_counter()
            ctl.sock.settimeout(FLOWMOD_TIMEOUT)
            ctl.sock.sendall(blob)
            reply, errors = ctl.request(m.BarrierRequest(), deadline)
            elapsed = time.perf_counter() - start
            assert isinstance(reply, m.BarrierReply), reply
            rss_after = rss_bytes(proc.pid)
            agg, _ = ctl.request(m.AggregateStatsRequest(cookie=COOKIE, cookie_mask=ALL_ONES),
                                 time.monotonic() + 30)
            assert isinstance(agg, m.AggregateStatsReply), agg
            dump_start = time.perf_counter()
            dump, _ = ctl.request(m.AggregateStatsRequest(), time.monotonic() + 30)
            dump_s = time.perf_counter() - dump_start
        finally:
            ctl.close()
    return {"elapsed": elapsed, "bytes": len(blob), "errors": len(errors),
            "flows": agg.flow_count, "all_flows": getattr(dump, "flow_count", -1),
            "aggregate_s": dump_s, "rss_delta": rss_after - rss_before}


def bench_flowmod(profile: bool) -> None:
    print(f"\n== FLOW_MOD install over TCP: {FLOWMOD_COUNT:,} distinct OF1.3 FLOW_MODs "
          f"(priority=100,ip,nw_dst=10.x.y.z,actions=output:2), then BARRIER")
    print(f"  agent: {sys.executable} -m switch_agent.cli run --port dummy:p1 --port dummy:p2 "
          f"--listen ptcp:PORT:127.0.0.1")
    got = install_over_tcp(FLOWMOD_COUNT)
    print(f"  {got['bytes'] / FLOWMOD_COUNT:.0f} bytes each, {got['bytes'] / 1e6:.1f} MB, "
          f"pre-encoded; sent + BARRIER_REPLY in {got['elapsed']:.2f} s")
    print(f"  {FLOWMOD_COUNT / got['elapsed']:,.0f} FLOW_MODs/s   (target >= 20,000/s)")
    print(f"  AGGREGATE (cookie={COOKIE:#x}): flow_count {got['flows']:,} "
          f"({'ok' if got['flows'] == FLOWMOD_COUNT else 'MISMATCH'}), errors {got['errors']}; "
          f"all tables: {got['all_flows']:,} (+ the NORMAL flow), answered in "
          f"{got['aggregate_s'] * 1e3:.0f} ms")
    print(f"  agent RSS growth: {got['rss_delta'] / 2**20:.1f} MiB = "
          f"{got['rss_delta'] / FLOWMOD_COUNT:,.0f} bytes/flow")
    inprocess_flowmods(profile)
    if profile:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "agent.prof")
            got = install_over_tcp(PROFILE_FLOWMODS, profile_to=path)
            print(f"  profiled agent (python -m cProfile -m switch_agent.cli run ...): "
                  f"{PROFILE_FLOWMODS:,} FLOW_MODs in {got['elapsed']:.2f} s "
                  f"({PROFILE_FLOWMODS / got['elapsed']:,.0f}/s under cProfile)")
            if os.path.exists(path):
                stats = pstats.Stats(path)
                top_functions(stats, "agent process (whole run, incl. startup)")
            else:
                print("  (the agent wrote no profile)")


def inprocess_flowmods(profile: bool) -> None:
    """The same FLOW_MODs without TCP and connmgr: decode + Switch.flow_mod, and
    Switch.flow_mod alone, with 254 tables (the agent's), 8 and 1."""
    count = INPROCESS_FLOWMODS
    blobs = [codec.encode(nw_dst_flow(i), OF13) for i in range(count)]
    decode = codec.decode
    start = time.perf_counter()
    fms = [decode(blob)[1] for blob in blobs]
    decode_s = time.perf_counter() - start
    print(f"  in process, {count:,} of the same FLOW_MODs: codec.decode alone "
          f"{count / decode_s:,.0f}/s")
    for n_tables in (254, 8, 1):
        lab = Lab(n_tables=n_tables)
        try:
            flow_mod = lab.sw.flow_mod
            start = time.perf_counter()
            for fm in fms:
                flow_mod(fm, OF13)  # type: ignore[arg-type]
            add_s = time.perf_counter() - start
        finally:
            lab.close()
        print(f"    Switch(n_tables={n_tables:>3}).flow_mod alone {count / add_s:>9,.0f}/s "
              f"({add_s / count * 1e6:5.1f} us); with decode "
              f"{count / (add_s + decode_s):>9,.0f}/s")
    if profile:
        lab = Lab()
        try:
            prof = cProfile.Profile()
            prof.enable()
            for fm in fms:
                lab.sw.flow_mod(fm, OF13)  # type: ignore[arg-type]
            prof.disable()
        finally:
            lab.close()
        top_functions(pstats.Stats(prof), f"Switch.flow_mod x {count:,} (254 tables)", count=10)


# -- 3. upcalls


def upcall_run(count: int, *, normal: bool, deadline: float,
               prof: cProfile.Profile | None = None) -> tuple[float, int, int]:
    """(seconds, megaflows, frames out) for ``count`` distinct frames through a fresh Lab
    (``prof``, if given, profiles the polling only)."""
    lab = Lab()
    try:
        if normal:
            lab.flow(m.FlowMod(priority=0, instructions=(ApplyActions((Output(OFPP_NORMAL),)),)))
            # port 2's station is known, so every frame goes to port 2 only
            lab.ports[1].inject(udp_frame(7, src_mac=MAC_B, dst_mac=MAC_A))
            lab.dp.poll()
            frames = [udp_frame(1000, src_mac=b"\x02\x01" + i.to_bytes(4, "big"))
                      for i in range(count)]
        else:
            lab.flow(udp_dst_flow(9, 200, 3))
            lab.flow(in_port_flow(1, 100, 2))
            frames = [udp_frame(10 + i) for i in range(count)]
        before = lab.sw.upcalls_handled
        if prof is not None:
            prof.enable()
        start = time.perf_counter()
        lab.run_frames(frames, deadline)
        elapsed = time.perf_counter() - start
        if prof is not None:
            prof.disable()
        megaflows = lab.sw.upcalls_handled - before
        out = lab.ports[1].stats.tx_packets
        return elapsed, megaflows, out
    finally:
        lab.close()


def bench_upcall(profile: bool) -> None:
    print("\n== slow-path upcalls (in process, dummy ports, dp.poll() until all handled)")
    print("  flows: priority=200,udp,tp_dst=9,actions=output:3 + "
          "priority=100,in_port=1,actions=output:2; one megaflow per UDP dst port")
    upcall_run(500, normal=False, deadline=time.monotonic() + 10)  # warm up
    elapsed, megaflows, out = upcall_run(UPCALL_COUNT, normal=False,
                                         deadline=time.monotonic() + 30)
    print(f"  {UPCALL_COUNT:,} frames: {megaflows:,} upcalls -> megaflows, {out:,} out on "
          f"port 2, in {elapsed:.2f} s = {megaflows / elapsed:,.0f} new megaflows/s "
          f"(target >= 10,000/s)")
    print("  flows: priority=0,actions=NORMAL; one new source MAC per frame "
          "(each batch that learns revalidates every megaflow)")
    elapsed, megaflows, out = upcall_run(NORMAL_COUNT, normal=True,
                                         deadline=time.monotonic() + 30)
    print(f"  {NORMAL_COUNT:,} frames: {megaflows:,} megaflows in {elapsed:.2f} s = "
          f"{megaflows / elapsed:,.0f} new megaflows/s")
    if profile:
        prof = cProfile.Profile()
        upcall_run(UPCALL_COUNT // 2, normal=False, deadline=time.monotonic() + 30, prof=prof)
        top_functions(pstats.Stats(prof), f"upcall path, {UPCALL_COUNT // 2:,} tp_dst frames")
        prof = cProfile.Profile()
        upcall_run(NORMAL_COUNT // 2, normal=True, deadline=time.monotonic() + 30, prof=prof)
        top_functions(pstats.Stats(prof), f"upcall path, {NORMAL_COUNT // 2:,} NORMAL frames",
                      count=8)


# -- 4. memory per rule


def bench_memory() -> None:
    print(f"\n== memory per rule: {MEMORY_RULES:,} rules (decoded OF1.3 FLOW_MODs, "
          f"Switch(n_tables=1).flow_mod; the table count changes only the speed)")
    blobs = [codec.encode(nw_dst_flow(i), OF13) for i in range(MEMORY_RULES)]
    decode = codec.decode
    gc.collect()
    lab = Lab(n_tables=1)
    try:
        rss_before = rss_bytes()
        for blob in blobs:
            lab.sw.flow_mod(decode(blob)[1], OF13)  # type: ignore[arg-type]
        gc.collect()
        rss_delta = rss_bytes() - rss_before
        rules = len(lab.sw.tables)
    finally:
        lab.close()
        del lab
    gc.collect()
    lab = Lab(n_tables=1)
    try:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for blob in blobs[:TRACED_RULES]:
            lab.sw.flow_mod(decode(blob)[1], OF13)  # type: ignore[arg-type]
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    finally:
        lab.close()
    print(f"  RSS growth over {rules:,} rules: {rss_delta / 2**20:.1f} MiB = "
          f"{rss_delta / rules:,.0f} bytes/rule (allocator slack included; arenas freed by "
          f"earlier sections can hide some)")
    print(f"  tracemalloc over the first {TRACED_RULES:,} (tracemalloc slows this ~5x): "
          f"{used / TRACED_RULES:,.0f} bytes/rule allocated and kept")


# -- 5. revalidation cost


def bench_reval(profile: bool) -> None:
    print(f"\n== revalidation: ms per FLOW_MOD (adds an unrelated rule) with M megaflows "
          f"installed; mean of {REVAL_FLOWMODS}")
    for count in REVAL_MEGAFLOWS:
        lab = Lab(n_ports=4)
        try:
            lab.flow(udp_dst_flow(9, 200, 3))
            lab.flow(in_port_flow(1, 100, 2))
            lab.run_frames([udp_frame(10 + i) for i in range(count)], time.monotonic() + 30)
            installed = len(lab.sw.ukeys)
            extra = [m.FlowMod(match=Match.build(in_port=4, eth_type=0x0800,
                                                 ipv4_src=0x0B000000 + i),
                               priority=50, instructions=(ApplyActions((Output(3),)),))
                     for i in range(REVAL_FLOWMODS)]
            prof = cProfile.Profile() if profile and count == max(REVAL_MEGAFLOWS) else None
            times = []
            revals_before = lab.sw.revalidations
            for fm in extra:
                if prof is not None:
                    prof.enable()
                start = time.perf_counter()
                lab.sw.flow_mod(fm, OF13)
                times.append(time.perf_counter() - start)
                if prof is not None:
                    prof.disable()
            revals = lab.sw.revalidations - revals_before
            print(f"  M={installed:>6,}: {sum(times) / len(times) * 1e3:8.2f} ms per FLOW_MOD "
                  f"(min {min(times) * 1e3:.2f}; {revals} revalidations), "
                  f"{len(lab.sw.ukeys):,} megaflows after"
                  + (" -- under cProfile" if prof is not None else ""), flush=True)
            if prof is not None:
                top_functions(pstats.Stats(prof), f"{REVAL_FLOWMODS} FLOW_MODs with M={installed:,}",
                              count=10)
        finally:
            lab.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile's top functions for the FLOW_MOD, upcall and "
                             "revalidation paths")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {','.join(SECTIONS)}")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    command = " ".join([sys.executable, "bench/pipeline.py",
                        *(argv if argv is not None else sys.argv[1:])])
    print(f"python {sys.version.split()[0]}; command: {command}")
    runs: dict[str, Callable[[], None]] = {
        "classifier": bench_classifier,
        "flowmod": lambda: bench_flowmod(args.profile),
        "upcall": lambda: bench_upcall(args.profile),
        "memory": bench_memory,
        "reval": lambda: bench_reval(args.profile),
    }
    start = time.monotonic()
    for name in SECTIONS:
        if name in only:
            began = time.monotonic()
            runs[name]()
            print(f"  ({name}: {time.monotonic() - began:.1f} s)", flush=True)
    print(f"\n(bench/pipeline.py took {time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
