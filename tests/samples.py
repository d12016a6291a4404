"""A corpus of model messages of every type, per version, for tests and benchmarks.

Each entry is built by hand from the spec's meaning (not from our encoder), so the
same corpus feeds the fuzzer's seeds, the ovs-ofctl ofp-print cross-check, the
printer tests and bench/codec.py.
"""

from __future__ import annotations

from openflow import actions as a
from openflow import messages as m
from openflow.consts import (
    OFP10,
    OFP13,
    OFPFF_SEND_FLOW_REM,
    OFPGT_SELECT,
    OFPMF_KBPS,
    OFPMF_STATS,
    OFPP_CONTROLLER,
    OFPP_LOCAL,
    OFPPF_1GB_FD,
    OFPPF_COPPER,
    OFPR_ACTION,
    OFPR_NO_MATCH,
)
from openflow.match import Match

MAC1 = 0x0A0000000001
MAC2 = 0x0A0000000002

PORT1 = m.Port(
    port_no=1, hw_addr=MAC1, name="veth1", config=0, state=0,
    curr=OFPPF_1GB_FD | OFPPF_COPPER, advertised=0, supported=OFPPF_1GB_FD, peer=0,
    curr_speed=1_000_000, max_speed=1_000_000,
)
PORT1_V10 = m.Port(  # OF1.0 ports carry no speeds
    port_no=1, hw_addr=MAC1, name="veth1", curr=OFPPF_1GB_FD | OFPPF_COPPER,
    supported=OFPPF_1GB_FD,
)
PORT_LOCAL = m.Port(port_no=OFPP_LOCAL, hw_addr=MAC2, name="br0", config=1, state=1)

IPV4_TCP_MATCH = Match.build(
    in_port=1, eth_type=0x0800, ip_proto=6, ipv4_dst=(0x0A000000, 0xFFFFFF00), tcp_dst=80
)
RYU_L2_MATCH = Match.build(in_port=1, eth_dst=MAC2, eth_src=MAC1)

FRAME = bytes.fromhex(
    "0a00000000020a00000000010800450000540000400040010000"
    "0a0000010a0000020800f7ff0000000000000000000000000000"
) + bytes(46)


def _flow_mod(version: int) -> m.FlowMod:
    match = RYU_L2_MATCH if version == OFP13 else IPV4_TCP_MATCH
    return m.FlowMod(
        match=match, cookie=0x1234, priority=10, idle_timeout=30, hard_timeout=0,
        flags=OFPFF_SEND_FLOW_REM,
        instructions=(a.ApplyActions((a.Output(2, 0xFFE5 if version == OFP13 else 0),)),),
        xid=7,
    )


def common(version: int) -> list[m.Message]:
    """Messages both versions have, with version-appropriate contents."""
    v13 = version == OFP13
    table_id = 3 if v13 else 0
    pin_match = Match.build(in_port=1)
    port1 = PORT1 if v13 else PORT1_V10
    return [
        m.Hello(xid=1),
        m.Error(type=1, code=6, data=bytes([version, 2, 0, 8, 0, 0, 0, 5]), xid=5),
        m.EchoRequest(data=b"ping", xid=2),
        m.EchoReply(data=b"pong", xid=2),
        # Nicira NXT_ROLE_REQUEST (subtype 10) for "master": an experimenter message
        # ovs-ofctl knows on both versions (OF1.0's vendor body starts with the subtype).
        m.Experimenter(
            experimenter=0x2320, exp_type=10 if v13 else 0,
            data=(b"" if v13 else b"\0\0\0\x0a") + b"\0\0\0\x01", xid=3,
        ),
        m.FeaturesRequest(xid=4),
        m.FeaturesReply(
            datapath_id=0x0000000000000001, n_buffers=0, n_tables=254 if v13 else 1,
            capabilities=0x47 if v13 else 0x87, actions=0 if v13 else 0xFFF,
            ports=() if v13 else (port1, PORT_LOCAL), xid=4,
        ),
        m.GetConfigRequest(xid=6),
        m.GetConfigReply(flags=0, miss_send_len=128, xid=6),
        m.SetConfig(flags=0, miss_send_len=0xFFFF if v13 else 0xFFFF, xid=8),
        m.PacketIn(
            buffer_id=0xFFFFFFFF, total_len=len(FRAME), reason=OFPR_NO_MATCH,
            table_id=table_id, cookie=0xABCD if v13 else 0, match=pin_match, data=FRAME, xid=0,
        ),
        m.FlowRemoved(
            cookie=0x1234, priority=10, reason=0, table_id=table_id, duration_sec=5,
            duration_nsec=500, idle_timeout=30, hard_timeout=0, packet_count=3, byte_count=300,
            match=IPV4_TCP_MATCH, xid=0,
        ),
        m.PortStatus(reason=2, port=port1, xid=0),
        m.PacketOut(
            buffer_id=0xFFFFFFFF, in_port=OFPP_CONTROLLER,
            actions=(a.Output(1, 0), a.Output(2, 0)), data=FRAME, xid=9,
        ),
        _flow_mod(version),
        m.PortMod(port_no=1, hw_addr=MAC1, config=1, mask=1, advertise=0, xid=10),
        m.BarrierRequest(xid=11),
        m.BarrierReply(xid=11),
        m.QueueGetConfigRequest(port=1, xid=12),
        m.QueueGetConfigReply(
            port=1, queues=(m.PacketQueue(queue_id=1, port=1 if v13 else 0, min_rate=100),),
            xid=12,
        ),
        m.DescStatsRequest(xid=13),
        m.DescStatsReply(
            mfr_desc="switch-agent project", hw_desc="switch-agent", sw_desc="0.1.0",
            serial_num="None", dp_desc="br0", xid=13,
        ),
        m.FlowStatsRequest(match=Match(), table_id=0xFF, xid=14),
        m.FlowStatsReply(
            entries=(
                m.FlowStats(
                    table_id=0, duration_sec=1, duration_nsec=2, priority=10, idle_timeout=30,
                    flags=OFPFF_SEND_FLOW_REM if v13 else 0, cookie=0x1234, packet_count=4,
                    byte_count=400, match=IPV4_TCP_MATCH,
                    instructions=(a.ApplyActions((a.Output(2, 0),)),),
                ),
            ),
            xid=14,
        ),
        m.AggregateStatsRequest(match=Match(), table_id=0xFF, xid=15),
        m.AggregateStatsReply(packet_count=10, byte_count=1000, flow_count=2, xid=15),
        m.TableStatsRequest(xid=16),
        m.TableStatsReply(
            entries=(
                m.TableStats(
                    table_id=0, active_count=2, lookup_count=100, matched_count=90,
                    name="" if v13 else "classifier", wildcards=0 if v13 else 0x3FFFFF,
                    max_entries=0 if v13 else 1_000_000,
                ),
            ),
            xid=16,
        ),
        m.PortStatsRequest(port_no=0xFFFFFFFF, xid=17),
        m.PortStatsReply(
            entries=(
                m.PortStats(
                    port_no=1, rx_packets=1, tx_packets=2, rx_bytes=3, tx_bytes=4,
                    duration_sec=5 if v13 else 0, duration_nsec=6 if v13 else 0,
                ),
            ),
            xid=17,
        ),
        m.QueueStatsRequest(port_no=0xFFFFFFFF, queue_id=0xFFFFFFFF, xid=18),
        m.QueueStatsReply(
            entries=(m.QueueStats(port_no=1, queue_id=1, tx_bytes=5, tx_packets=1),), xid=18
        ),
        m.PortDescStatsRequest(xid=19),
        m.PortDescStatsReply(entries=(port1, PORT_LOCAL), xid=19),
    ]


def only_v13() -> list[m.Message]:
    bucket = m.Bucket(actions=(a.Output(1, 0),), weight=1)
    return [
        m.Hello(versions=frozenset({OFP10, OFP13}), xid=1),
        # ONF experimenter error 2600 = duplicate instruction (OF1.3 has no code of its own)
        m.Error(type=0xFFFF, code=2600, experimenter=0x4F4E4600, data=b"x", xid=5),
        m.PacketIn(
            buffer_id=0xFFFFFFFF, total_len=len(FRAME), reason=OFPR_ACTION, table_id=0,
            cookie=0, match=Match.build(in_port=1, metadata=5, tunnel_id=9), data=FRAME[:64],
        ),
        m.FlowMod(
            match=IPV4_TCP_MATCH, table_id=1, priority=100, cookie=1, cookie_mask=0,
            instructions=(
                a.Meter(1),
                a.ApplyActions((a.SetField("ipv4_src", 0x0A000001), a.DecNwTtl())),
                a.WriteActions((a.Group(1),)),
                a.WriteMetadata(0x10, 0xFF),
                a.GotoTable(2),
            ),
            xid=20,
        ),
        m.GroupMod(
            command=0, type=OFPGT_SELECT, group_id=1,
            buckets=(bucket, m.Bucket(actions=(a.Output(2, 0),), weight=2)), xid=21,
        ),
        m.TableMod(table_id=0, config=0, xid=22),
        m.MeterMod(
            command=0, flags=OFPMF_KBPS | OFPMF_STATS, meter_id=1,
            bands=(m.MeterBandDrop(rate=1000, burst_size=0),
                   m.MeterBandDscpRemark(rate=2000, burst_size=0, prec_level=1)),
            xid=23,
        ),
        m.RoleRequest(role=2, generation_id=7, xid=24),
        m.RoleReply(role=2, generation_id=7, xid=24),
        m.GetAsyncRequest(xid=25),
        m.GetAsyncReply(
            packet_in_mask=(0x3, 0x0), port_status_mask=(0x7, 0x7),
            flow_removed_mask=(0xF, 0x0), xid=25,
        ),
        m.SetAsync(
            packet_in_mask=(0x3, 0x0), port_status_mask=(0x7, 0x7),
            flow_removed_mask=(0xF, 0x0), xid=26,
        ),
        m.GroupStatsRequest(group_id=0xFFFFFFFC, xid=27),
        m.GroupStatsReply(
            entries=(m.GroupStats(
                group_id=1, ref_count=1, packet_count=2, byte_count=3, duration_sec=4,
                duration_nsec=5, bucket_stats=(m.BucketCounter(1, 2), m.BucketCounter(3, 4)),
            ),),
            xid=27,
        ),
        m.GroupDescStatsRequest(xid=28),
        m.GroupDescStatsReply(
            entries=(m.GroupDesc(type=OFPGT_SELECT, group_id=1, buckets=(bucket,)),), xid=28
        ),
        m.GroupFeaturesStatsRequest(xid=29),
        m.GroupFeaturesStatsReply(
            types=0xF, capabilities=0x7, max_groups=(4096, 4096, 4096, 4096),
            actions=(0x3FFFFFF, 0x3FFFFFF, 0x3FFFFFF, 0x3FFFFFF), xid=29,
        ),
        m.MeterStatsRequest(meter_id=0xFFFFFFFF, xid=30),
        m.MeterStatsReply(
            entries=(m.MeterStats(
                meter_id=1, flow_count=1, packet_in_count=2, byte_in_count=3, duration_sec=4,
                duration_nsec=5, band_stats=(m.MeterBandStats(1, 2),),
            ),),
            xid=30,
        ),
        m.MeterConfigStatsRequest(meter_id=0xFFFFFFFF, xid=31),
        m.MeterConfigStatsReply(
            entries=(m.MeterConfig(
                flags=OFPMF_KBPS, meter_id=1, bands=(m.MeterBandDrop(rate=1000),),
            ),),
            xid=31,
        ),
        m.MeterFeaturesStatsRequest(xid=32),
        m.MeterFeaturesStatsReply(
            max_meter=1024, band_types=0x6, capabilities=0xF, max_bands=4, max_color=0, xid=32
        ),
        m.TableFeaturesStatsRequest(xid=33),
        m.TableFeaturesStatsReply(
            entries=(m.TableFeatures(
                table_id=0, name="table0", metadata_match=0xFFFFFFFFFFFFFFFF,
                metadata_write=0xFFFFFFFFFFFFFFFF, config=0, max_entries=1_000_000,
                properties=(
                    m.InstructionIds(type=0, ids=(1, 2, 3, 4, 5, 6)),
                    m.NextTables(type=2, table_ids=(1, 2, 3)),
                    m.ActionIds(type=4, ids=(0, 22, 25)),
                    m.ActionIds(type=6, ids=(0, 17, 18)),
                    m.OxmIds(type=8, fields=(("in_port", False), ("eth_dst", False))),
                    m.OxmIds(type=10, fields=(("eth_dst", False),)),
                    m.OxmIds(type=12, fields=(("eth_src", False),)),
                    m.OxmIds(type=14, fields=(("eth_src", False),)),
                ),
            ),),
            xid=33,
        ),
    ]


def corpus(version: int) -> list[m.Message]:
    """Every sample message that ``version`` can express."""
    return common(version) + (only_v13() if version == OFP13 else [])


def flow_mods_for_bench(count: int = 4096) -> list[m.FlowMod]:
    """Typical Ryu simple_switch flow-mods (in_port + eth_dst + eth_src -> output),
    all different: 48 ports, distinct MACs, so no decode shortcut can repeat work."""
    return [
        m.FlowMod(
            match=Match.build(in_port=1 + i % 48, eth_dst=MAC2 + i, eth_src=MAC1 + 7 * i),
            priority=1, instructions=(a.ApplyActions((a.Output(1 + (i * 5) % 48, 0),)),),
            xid=i + 1,
        )
        for i in range(count)
    ]
