"""xlate_tags: a translation's header-stack operations -- VLAN, MPLS and PBB pushes
and pops, copy-TTL, set_field on eth_type/ip_proto, and re-parsing the packet after
them.

Sits inside switch_agent/xlate.py: ``TagOps`` is a base of xlate's per-translation
context (``_Ctx``), whose state it reads and writes (``flow``: the key the pipeline
sees; ``base``: the key of the packet as the datapath actions emitted so far leave it;
``inner_tpid``/``base_inner_tpid``: the inner VLAN tag's TPID, which the key does not
hold).  After pop_mpls (to a non-MPLS type), pop_pbb, copy_ttl_out and a set_field on
eth_type or ip_proto the headers behind are parsed from the packet itself
(``reparse``) and the result is marked slow (not cached): OVS recirculates instead.
A group bucket's pushes and pops need no taking back: xlate runs each bucket's
datapath actions in a clone of the packet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datapath import flow as dflow
from datapath import odp_actions as odp
from datapath import packet as dpk
from datapath.meter import METER_PASS
from switch_agent import flowkey as fk

if TYPE_CHECKING:
    from switch_agent.xlate import XlateResult

_FMASK = dflow.FIELD_MASK
_TTL_MASK = _FMASK["ip_ttl"]
_ETH_TYPE_MASK = _FMASK["eth_type"]
MPLS_TYPES = _MPLS_TYPES = (0x8847, 0x8848)
_PBB_TYPE = 0x88E7
_TPIDS = (0x8100, 0x88A8)
_META_FIELDS = _FMASK["in_port"] | _FMASK["tun_id"] | _FMASK["tun_ipv4_src"] | \
    _FMASK["tun_ipv4_dst"]
_PBB_POPPED = ~dflow.FULL_MASK | _META_FIELDS  # a key's bits that survive pop_pbb
_PBB_KEEP = _PBB_POPPED | _FMASK["eth_dst"] | _FMASK["eth_src"]  # and push_pbb
_get = dflow.key_get
_put = dflow.key_put


class TagOps:
    """The push/pop/copy-TTL half of a translation context (see the module docstring)."""

    if TYPE_CHECKING:
        flow: int
        base: int
        frame: bytes | None
        in_dp_port: int
        inner_tpid: int
        base_inner_tpid: int
        result: XlateResult

        @property
        def out(self) -> list[odp.Action]: ...

        def commit(self) -> None: ...

    def push_vlan(self, tpid: int) -> None:
        tci = _get(self.flow, "vlan_tci")
        self.result.wildcards |= _FMASK["vlan_tci"]
        key = _put(self.flow, "cvlan_tci", tci)  # the old outer tag goes inside
        if tci & 0x1000:
            self.inner_tpid = _get(self.flow, "vlan_tpid") or 0x8100
        key = _put(key, "vlan_tpid", tpid)
        self.flow = _put(key, "vlan_tci", tci | 0x1000)  # VID/PCP copied, or 0

    def pop_vlan(self) -> None:
        self.result.wildcards |= _FMASK["vlan_tci"] | _FMASK["cvlan_tci"]
        if not _get(self.flow, "vlan_tci") & 0x1000:
            return
        inner = _get(self.flow, "cvlan_tci")
        key = _put(self.flow, "vlan_tci", inner)
        key = _put(key, "vlan_tpid", self.inner_tpid if inner else 0)
        self.flow = _put(key, "cvlan_tci", 0)
        self.inner_tpid = 0x8100

    def push_mpls(self, ethertype: int) -> None:
        self.commit()
        eth_type = _get(self.flow, "eth_type")
        self.result.wildcards |= _ETH_TYPE_MASK | _TTL_MASK
        if eth_type in _MPLS_TYPES:
            lse = _get(self.flow, "mpls_lse") & ~0x100  # a new top entry: BoS clear
            self.result.wildcards |= _FMASK["mpls_lse"]
        else:
            lse = 0x100 | _get(self.flow, "ip_ttl")  # label 0, BoS, TTL from IP
        self.out.append(odp.PushMpls(ethertype, lse))
        self.flow = self.base = _put(_put(self.flow, "mpls_lse", lse), "eth_type", ethertype)

    def pop_mpls(self, ethertype: int) -> None:
        self.commit()
        self.result.wildcards |= _ETH_TYPE_MASK
        if _get(self.flow, "eth_type") not in _MPLS_TYPES:
            return
        self.out.append(odp.PopMpls(ethertype))
        self.flow = self.base = _put(_put(self.flow, "mpls_lse", 0), "eth_type", ethertype)
        if ethertype in _MPLS_TYPES:
            return  # still MPLS: the key holds the next entry's place, nothing new to see
        # The headers behind the label were never in the key (the datapath does not parse
        # past MPLS).  OVS recirculates here; we parse them from the packet itself when
        # we have it and do not cache the result (later decisions depend on bytes the
        # megaflow cannot match), so every such packet comes to the slow path.
        self.result.slow = True
        if self.frame is not None:
            self.reparse(self.flow)

    def push_pbb(self) -> None:
        """OpenFlow 1.3 push_pbb: the frame becomes the customer frame of a new 802.1ah
        header, B-DA/B-SA copied from its addresses, I-SID from its own I-TAG if it is
        PBB already (else 0), I-PCP from its VLAN PCP (else 0).  Emitted at once."""
        self.commit()
        flow = self.flow
        eth_type, tci = _get(flow, "eth_type"), _get(flow, "vlan_tci")
        self.result.wildcards |= _ETH_TYPE_MASK | _FMASK["vlan_tci"]
        isid = 0
        if eth_type == _PBB_TYPE:
            self.result.wildcards |= _FMASK["pbb_isid"]
            isid = _get(flow, "pbb_isid")
        pcp = tci >> 13 if tci & 0x1000 else 0
        self.out.append(odp.PushPbb(pcp << 29 | isid))
        key = _put(flow & _PBB_KEEP, "eth_type", _PBB_TYPE)  # nothing else is parsed in PBB
        self.flow = self.base = _put(key, "pbb_isid", isid)
        self.inner_tpid = self.base_inner_tpid = 0x8100

    def pop_pbb(self) -> None:
        """OpenFlow 1.3 pop_pbb: the customer frame behind the I-TAG remains.  Like
        pop_mpls, its headers are parsed from the packet and the result is not cached."""
        self.commit()
        self.result.wildcards |= _ETH_TYPE_MASK
        if _get(self.flow, "eth_type") != _PBB_TYPE:
            return
        self.out.append(odp.PopPbb())
        self.result.slow = True
        self.flow = self.base = self.flow & _PBB_POPPED  # what is known without the packet
        if self.frame is not None:
            self.reparse(self.flow)

    def reshape(self, name: str, value: int) -> None:
        """set_field on eth_type or ip_proto (``flowkey.SET_RESHAPE``): the headers behind
        become another protocol's.  Emitted at once; like pop_mpls, what later tables see
        is parsed from the packet and the result is not cached."""
        key_field = fk.SET_TARGETS[name].key_field
        self.result.wildcards |= _FMASK[key_field]
        old = _get(self.flow, key_field)
        if old == value:
            return
        self.commit()
        self.out.append(odp.SetField(name, value))
        self.result.slow = True
        self.flow = self.base = fk.apply_set_field(self.flow, name, value)
        if self.frame is not None:
            self.reparse(self.flow)

    def reparse(self, flow: int) -> int | None:
        """``flow`` and ``base`` := the key of the packet as the actions emitted so far
        leave it (parsed from ``frame``; ``flow``'s metadata and tunnel kept); None when
        the actions drop it."""
        assert self.frame is not None
        packet = run_actions(self.frame, self.out, self.in_dp_port)
        if packet is None:
            return None
        tun = (_get(flow, "tun_id"), _get(flow, "tun_ipv4_src"), _get(flow, "tun_ipv4_dst"))
        inner = dflow.extract(packet, self.in_dp_port, tun=tun if any(tun) else None)
        self.flow = self.base = inner | (flow & ~dflow.FULL_MASK)
        # The key has no TPID for an inner tag: take it from the packet.
        tpid = 0x8100
        if len(packet) >= 18 and int.from_bytes(packet[12:14], "big") in _TPIDS:
            second = int.from_bytes(packet[16:18], "big")
            tpid = second if second in _TPIDS else 0x8100
        self.inner_tpid = self.base_inner_tpid = tpid
        return inner

    def copy_ttl(self, outward: bool) -> None:
        """copy_ttl_out / copy_ttl_in between the top MPLS label and the next label or
        the IP header under the stack (carried out by the datapath on the packet).  Not
        for IP in IP: there it does nothing."""
        self.result.wildcards |= _ETH_TYPE_MASK
        if _get(self.flow, "eth_type") not in _MPLS_TYPES:
            return
        self.commit()
        self.out.append(odp.CopyTtlOut() if outward else odp.CopyTtlIn())
        if not outward:
            return  # only bytes the key does not hold changed: cacheable as is
        # The top TTL now comes from bytes the key does not hold: later tables and TTL
        # actions see it (parsed from the packet) and the result is not cached.
        self.result.slow = True
        if self.frame is not None:
            packet = run_actions(self.frame, self.out, self.in_dp_port)
            at = None if packet is None else dpk.ethertype_offset(packet)
            if packet is not None and at is not None and len(packet) >= at + 6:
                lse = int.from_bytes(packet[at + 2:at + 6], "big")
                self.flow = _put(self.flow, "mpls_lse", lse)
                self.base = _put(self.base, "mpls_lse", lse)


class _Capture:
    """An ActionEnv that keeps the last output frame (to see a packet mid-pipeline)."""

    def __init__(self) -> None:
        self.frame: odp.Frame | None = None

    def output(self, port: int, frame: odp.Frame, ctx: odp.PacketCtx) -> None:
        self.frame = frame

    def upcall(self, frame: odp.Frame, userdata: bytes, total_len: int,
               ctx: odp.PacketCtx) -> None:
        pass

    def meter(self, meter_id: int, size: int, now: float) -> int:
        return METER_PASS


def run_actions(frame: bytes, actions: list[odp.Action], in_port: int) -> bytes | None:
    """``frame`` as the datapath actions so far leave it (outputs ignored)."""
    env = _Capture()
    steps = [a for a in actions if not isinstance(a, odp.Output | odp.Userspace | odp.Truncate)]
    odp.compile_actions([*steps, odp.Output(0)], env)(frame, odp.PacketCtx(in_port))
    return None if env.frame is None else bytes(env.frame)


def vlan_stack(key: int, inner_tpid: int) -> list[tuple[int, int]]:
    """(tpid, tci) from the outer tag in: a frame's VLAN tags, the inner one's TPID
    given (the key does not hold it)."""
    stack = []
    tci = _get(key, "vlan_tci")
    if tci & 0x1000:
        stack.append((_get(key, "vlan_tpid") or 0x8100, tci))
        inner = _get(key, "cvlan_tci")
        if inner & 0x1000:
            stack.append((inner_tpid, inner))
    return stack
