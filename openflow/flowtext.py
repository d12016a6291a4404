"""ovs-ofctl text syntax for flows, matches, groups and meters <-> the message model.

Sits on top of the model (``messages``, ``match``, ``actions``) for the CLI, the
printer and tests: people paste what they know from ``ovs-ofctl add-flow``,
``add-group``, ``add-meter`` (man ovs-fields, ovs-actions, ovs-ofctl) and read back
text that looks like ``ovs-ofctl dump-flows``/``ofp-print``.  Field values, actions
and instructions live in ``openflow.flowtext_actions``; this module owns the match
keys (ovs-ofctl names such as ``dl_src``, ``nw_dst``, ``tp_src`` and the OXM names
``eth_src``, ``ipv4_dst``, ``tcp_src`` ...; protocol shorthands ``ip``, ``tcp6``...),
the VLAN TCI forms, prerequisites, field order and value formats of the output,
and the flow/group/meter keywords.

Deliberate differences from ovs-ofctl 3.1 (which is the reference and is checked
in tests/crosscheck/test_flowtext_ovs.py): a field whose prerequisite is missing
(``nw_src`` without ``ip``) is a ValueError instead of being dropped with a log
line; values too wide for a field (``dl_vlan=4096``, ``nw_tos=5``) are errors
instead of being truncated; ``pbb_isid``, ``ipv6_exthdr``, ``in_phy_port``,
``copy_ttl_in/out`` and ``push/pop_pbb`` are accepted (OVS lacks them); OVS-only
fields (registers, conntrack, ``nw_ttl``, ``tcp_flags``...) are refused.
"""

from __future__ import annotations

from openflow import actions as a
from openflow import flowtext_actions as fa
from openflow import v10_match
from openflow.consts import (
    OFP10,
    OFP_DEFAULT_PRIORITY,
    OFP_NO_BUFFER,
    OFPFC_ADD,
    OFPFC_DELETE,
    OFPFC_DELETE_STRICT,
    OFPFC_MODIFY,
    OFPFC_MODIFY_STRICT,
    OFPG_ALL,
    OFPG_ANY,
    OFPGC_ADD,
    OFPGC_DELETE,
    OFPGC_MODIFY,
    OFPGT_ALL,
    OFPGT_FF,
    OFPGT_INDIRECT,
    OFPGT_SELECT,
    OFPM_ALL,
    OFPM_CONTROLLER,
    OFPM_SLOWPATH,
    OFPMC_ADD,
    OFPMC_DELETE,
    OFPMC_MODIFY,
    OFPMF_BURST,
    OFPMF_KBPS,
    OFPMF_PKTPS,
    OFPMF_STATS,
    OFPP_ANY,
    OFPTT_ALL,
    OFPVID_PRESENT,
)
from openflow.flowtext_actions import format_actions, parse_actions  # re-exported
from openflow.match import Match
from openflow.messages import (
    Bucket,
    FlowMod,
    FlowStats,
    GroupDesc,
    GroupMod,
    MeterBand,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    MeterConfig,
    MeterMod,
)
from openflow.oxm import FIELD_BY_NAME

__all__ = [
    "parse_flow", "parse_match", "parse_actions", "parse_group", "parse_meter",
    "format_match", "format_actions", "format_flow", "format_flow_mod", "format_flow_stats",
    "format_group", "format_group_mod", "format_meter", "format_meter_mod",
]

ETH_IP, ETH_ARP, ETH_RARP, ETH_IPV6 = 0x0800, 0x0806, 0x8035, 0x86DD
_ARPS = (ETH_ARP, ETH_RARP)

# --- match keys --------------------------------------------------------------------------

# Protocol shorthands: name -> (eth_type, ip_proto or None).
SHORTHANDS: dict[str, tuple[int, int | None]] = {
    "ip": (ETH_IP, None), "ipv4": (ETH_IP, None), "ipv6": (ETH_IPV6, None),
    "arp": (ETH_ARP, None), "rarp": (ETH_RARP, None),
    "mpls": (0x8847, None), "mplsm": (0x8848, None),
    "icmp": (ETH_IP, 1), "tcp": (ETH_IP, 6), "udp": (ETH_IP, 17), "sctp": (ETH_IP, 132),
    "icmp6": (ETH_IPV6, 58), "tcp6": (ETH_IPV6, 6), "udp6": (ETH_IPV6, 17),
    "sctp6": (ETH_IPV6, 132),
}
_SHORTHAND_TEXT = {v: k for k, v in SHORTHANDS.items() if k != "ipv4"}

# Keys that set an OXM field directly: text key -> OXM name.
_OXM_KEYS: dict[str, str] = {name: name for name in FIELD_BY_NAME}
_OXM_KEYS.update({
    "tun_id": "tunnel_id", "dl_src": "eth_src", "dl_dst": "eth_dst", "dl_type": "eth_type",
    "nw_ecn": "ip_ecn", "ipv6_label": "ipv6_flabel", "nd_target": "ipv6_nd_target",
    "nd_sll": "ipv6_nd_sll", "nd_tll": "ipv6_nd_tll",
})
# Keys whose OXM field depends on the protocol (resolved once the match is complete).
_GENERIC_KEYS: dict[str, tuple[str, int]] = {  # key -> (slot, bits)
    "nw_src": ("nw_src", 32), "ip_src": ("nw_src", 32),
    "nw_dst": ("nw_dst", 32), "ip_dst": ("nw_dst", 32),
    "nw_proto": ("nw_proto", 8), "ip_proto": ("nw_proto", 8),
    "tp_src": ("tp_src", 16), "tp_dst": ("tp_dst", 16),
    "icmp_type": ("icmp_type", 8), "icmp_code": ("icmp_code", 8),
}
for _key in ("ip_proto", "vlan_vid", "vlan_pcp"):
    del _OXM_KEYS[_key]
_VLAN_KEYS = frozenset({"dl_vlan", "dl_vlan_pcp", "vlan_pcp", "vlan_tci", "vlan_vid"})
# Open vSwitch extension fields with no OpenFlow 1.3 OXM (refused with a hint).
_OVS_ONLY = frozenset({
    "nw_ttl", "nw_frag", "ip_frag", "tcp_flags", "pkt_mark", "skb_priority", "recirc_id",
    "dp_hash", "conj_id", "ct_state", "ct_zone", "ct_mark", "ct_label", "tun_src", "tun_dst",
    "tun_flags", "actset_output", "packet_type", "mpls_ttl", "nd_reserved", "nd_options_type",
})

_FLOW_FLAGS = {"send_flow_rem": 1 << 0, "check_overlap": 1 << 1, "reset_counts": 1 << 2,
               "no_packet_counts": 1 << 3, "no_byte_counts": 1 << 4}
_STATS_KEYS = frozenset({"duration", "n_packets", "n_bytes", "idle_age", "hard_age"})


class _MatchBuilder:
    """Collects ``key=value`` pairs the way ovs-ofctl does (later ones win), then
    resolves protocol-dependent keys and checks prerequisites."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[int, int | None]] = {}
        self.generic: dict[str, tuple[int, int | None]] = {}
        self.origin: dict[str, str] = {}  # OXM name or slot -> the key the user wrote
        self.tci: tuple[int, int] = (0, 0)

    def add(self, key: str, value: str | None) -> bool:
        """Take one token; False if ``key`` is not a match key."""
        if value is None:
            proto = SHORTHANDS.get(key)
            if proto is None:
                return False
            self._set("eth_type", (proto[0], None), key)
            if proto[1] is not None:
                self.generic["nw_proto"] = (proto[1], None)
                self.origin["nw_proto"] = key
            return True
        what = f"{key}={value}"
        if key in _VLAN_KEYS:
            self._vlan(key, value, what)
        elif key in _GENERIC_KEYS:
            slot, bits = _GENERIC_KEYS[key]
            parsed = (fa.parse_field_value("ipv4_src", value, what) if bits == 32
                      else fa.parse_masked_int(value, bits, what))
            self.generic[slot] = parsed
            self.origin[slot] = key
        elif key == "nw_tos":
            tos = fa.parse_int(value, 8, what)
            if tos & 3:
                raise ValueError(f"{what}: nw_tos carries DSCP in its upper 6 bits (a multiple "
                                 f"of 4); use ip_dscp= or nw_ecn= for the others")
            self._set("ip_dscp", (tos >> 2, None), key)
        elif key in _OXM_KEYS:
            name = _OXM_KEYS[key]
            self._set(name, fa.parse_field_value(name, value, what), key)
        elif key in _OVS_ONLY or key.startswith(("reg", "xreg", "xxreg", "tun_metadata", "nsh_")):
            raise ValueError(f"{what}: {key} is an Open vSwitch extension field with no "
                             f"OpenFlow 1.3 OXM; not supported")
        else:
            return False
        return True

    def _set(self, name: str, value: tuple[int, int | None], key: str) -> None:
        self.fields[name] = value
        self.origin[name] = key

    def _vlan(self, key: str, text: str, what: str) -> None:
        tci, mask = self.tci
        if key == "vlan_tci":
            value, m = fa.parse_masked_int(text, 16, what)
            m = 0xFFFF if m is None else m
            tci, mask = value & m, m
        elif key == "vlan_vid":
            value, m = fa.parse_masked_int(text, 13, what)
            m = 0x1FFF if m is None else m
            tci, mask = (tci & ~0x1FFF) | (value & m), (mask & ~0x1FFF) | m
        elif key == "dl_vlan":
            vid = fa.parse_int(text, 16, what)
            if vid == 0xFFFF:  # OFP_VLAN_NONE: packets without a tag
                tci, mask = 0, 0xFFFF
            elif vid > 0xFFF:
                raise ValueError(f"{what}: a VLAN id is 0..4095 (or 0xffff for no tag)")
            else:
                tci, mask = (tci & ~0x1FFF) | OFPVID_PRESENT | vid, mask | 0x1FFF
        else:  # dl_vlan_pcp, vlan_pcp
            pcp = fa.parse_int(text, 8, what)
            if pcp > 7:
                raise ValueError(f"{what}: a VLAN PCP is 0..7")
            tci, mask = (tci & ~0xE000) | pcp << 13 | OFPVID_PRESENT, mask | 0xF000
        self.tci = (tci, mask)
        self.origin["vlan_vid"] = self.origin["vlan_pcp"] = key

    def _vlan_fields(self) -> None:
        tci, mask = self.tci
        if not mask:
            return
        vid_mask = mask & 0x1FFF
        vid = tci & vid_mask
        pcp_mask = mask & 0xE000
        if mask & OFPVID_PRESENT and not tci & OFPVID_PRESENT:  # no tag
            if tci & pcp_mask:
                raise ValueError(f"{self.origin['vlan_vid']}: a packet without a VLAN tag has no PCP")
        elif pcp_mask == 0xE000:
            self.fields["vlan_pcp"] = (tci >> 13, None)
            vid, vid_mask = vid | OFPVID_PRESENT, vid_mask | OFPVID_PRESENT
        elif pcp_mask:
            raise ValueError(f"vlan_tci={tci:#06x}/{mask:#06x}: a partial PCP mask cannot be "
                             f"expressed in OpenFlow (vlan_pcp is exact)")
        if vid_mask:
            self.fields["vlan_vid"] = (vid, None if vid_mask == 0x1FFF else vid_mask)

    def _resolve(self, slot: str, name: str) -> None:
        if slot in self.generic:
            self.fields.setdefault(name, self.generic[slot])
            self.origin.setdefault(name, self.origin[slot])

    def build(self) -> Match:
        eth = self.fields.get("eth_type", (None, None))[0]
        arp = eth in _ARPS
        self._resolve("nw_proto", "arp_op" if arp else "ip_proto")
        self._resolve("nw_src", "arp_spa" if arp else "ipv4_src")
        self._resolve("nw_dst", "arp_tpa" if arp else "ipv4_dst")
        v6 = eth == ETH_IPV6
        self._resolve("icmp_type", "icmpv6_type" if v6 else "icmpv4_type")
        self._resolve("icmp_code", "icmpv6_code" if v6 else "icmpv4_code")
        proto = self.fields.get("ip_proto", (None, None))[0]
        transport = {6: ("tcp_src", "tcp_dst"), 17: ("udp_src", "udp_dst"),
                     132: ("sctp_src", "sctp_dst")}.get(proto)  # type: ignore[arg-type]
        if proto == 1 and eth == ETH_IP:
            transport = ("icmpv4_type", "icmpv4_code")
        elif proto == 58 and v6:
            transport = ("icmpv6_type", "icmpv6_code")
        for slot, index in (("tp_src", 0), ("tp_dst", 1)):
            if slot in self.generic:
                if transport is None:
                    raise ValueError(f"{self.origin[slot]}: prerequisites not met: needs a "
                                     f"transport protocol (tcp, udp, sctp, icmp, tcp6, udp6, "
                                     f"sctp6 or icmp6 before it)")
                self._resolve(slot, transport[index])
        self._vlan_fields()
        match = Match.from_fields((name, v, m) for name, (v, m) in self.fields.items())
        state = {f.name: (f.value, f.mask) for f in match}
        for field in match:
            for pr in FIELD_BY_NAME[field.name].prereqs:
                if not fa.prereq_holds(pr, state):
                    key = self.origin.get(field.name, field.name)
                    alias = "" if key == field.name else f" ({field.name})"
                    raise ValueError(f"{key}{alias}: prerequisites not met: needs "
                                     f"{fa.describe_prereq(pr)}")
        return match


def _check_version(match: Match, version: int | None) -> None:
    """ValueError unless ``version`` (when given) can carry ``match`` on the wire."""
    if version is None:
        return
    for field in match:
        if field.mask is not None and not FIELD_BY_NAME[field.name].maskable:
            raise ValueError(f"{field.name} cannot be masked in OpenFlow "
                             f"(only exact values; ovs-ofctl would use an extension)")
    if version == OFP10:  # the OF1.0 layout decides what OF1.0 can say
        try:
            v10_match.encode_match(match)
        except ValueError as exc:
            raise ValueError(f"match cannot be expressed in OpenFlow 1.0: {exc}") from None


def parse_match(text: str, *, version: int | None = None) -> Match:
    """A match alone (``dump-flows``/``del-flows`` filters): ``"tcp,nw_dst=10.0.0.0/8"``."""
    builder = _MatchBuilder()
    for token in fa.split_top(text):
        key, value = fa.split_key(token)
        if not builder.add(key, value):
            raise ValueError(f"unknown match field {key!r}")
    match = builder.build()
    _check_version(match, version)
    return match


# --- match formatting ------------------------------------------------------------------------

# OXM name -> ovs-ofctl key in match output.
_TEXT_KEYS: dict[str, str] = {
    "tunnel_id": "tun_id", "eth_src": "dl_src", "eth_dst": "dl_dst", "eth_type": "dl_type",
    "ipv6_flabel": "ipv6_label", "ipv4_src": "nw_src", "ipv4_dst": "nw_dst",
    "ip_proto": "nw_proto", "ip_ecn": "nw_ecn",
    "tcp_src": "tp_src", "udp_src": "tp_src", "sctp_src": "tp_src",
    "tcp_dst": "tp_dst", "udp_dst": "tp_dst", "sctp_dst": "tp_dst",
    "icmpv4_type": "icmp_type", "icmpv6_type": "icmp_type",
    "icmpv4_code": "icmp_code", "icmpv6_code": "icmp_code",
    "ipv6_nd_target": "nd_target", "ipv6_nd_sll": "nd_sll", "ipv6_nd_tll": "nd_tll",
}
# The order ovs-ofctl prints fields in ("vlan" stands for vlan_vid + vlan_pcp).
_FORMAT_ORDER = (
    "tunnel_id", "metadata", "in_port", "in_phy_port", "vlan", "eth_src", "eth_dst",
    "eth_type", "ipv6_src", "ipv6_dst", "ipv6_flabel", "ipv6_exthdr", "ipv4_src", "arp_spa",
    "ipv4_dst", "arp_tpa", "ip_proto", "arp_op", "arp_sha", "arp_tha", "ip_dscp", "ip_ecn",
    "mpls_label", "mpls_tc", "mpls_bos", "pbb_isid", "tcp_src", "udp_src", "sctp_src",
    "icmpv4_type", "icmpv6_type", "tcp_dst", "udp_dst", "sctp_dst", "icmpv4_code",
    "icmpv6_code", "ipv6_nd_target", "ipv6_nd_sll", "ipv6_nd_tll",
)


def _format_vlan(fields: dict[str, tuple[int, int | None]], version: int | None) -> str | None:
    vid = fields.get("vlan_vid")
    pcp = fields.get("vlan_pcp")
    if vid is None and pcp is None:
        return None
    tci = mask = 0
    if vid is not None:
        tci, mask = vid[0] & 0x1FFF, 0x1FFF if vid[1] is None else vid[1] & 0x1FFF
        if version == OFP10 and vid == (0, None):
            mask = 0xFFFF  # OF1.0's OFP_VLAN_NONE reads back as the whole TCI
    if pcp is not None:
        tci, mask = tci | (pcp[0] & 7) << 13, mask | 0xE000
    vid_mask, pcp_mask = mask & 0x0FFF, mask & 0xE000
    if (mask & OFPVID_PRESENT and tci & OFPVID_PRESENT and vid_mask in (0, 0x0FFF)
            and pcp_mask in (0, 0xE000) and (vid_mask or pcp_mask)):
        parts = []
        if vid_mask:
            parts.append(f"dl_vlan={tci & 0x0FFF}")
        if pcp_mask:
            parts.append(f"dl_vlan_pcp={tci >> 13}")
        return ",".join(parts)
    if mask == 0xFFFF:
        return f"vlan_tci=0x{tci:04x}"
    return f"vlan_tci=0x{tci:04x}/0x{mask:04x}"


def _format_field(name: str, value: int, mask: int | None) -> str:
    key = _TEXT_KEYS.get(name, name)
    if name == "ip_dscp" and mask is None:
        return f"nw_tos={value << 2}"
    if name == "ipv6_flabel":
        return f"{key}=0x{value:05x}" + ("" if mask is None else f"/0x{mask:05x}")
    if name == "eth_type" and mask is None:
        return f"{key}=0x{value:04x}"
    return f"{key}={fa.format_field_value(name, value, mask)}"


def format_match(match: Match, *, priority: int | None = None, version: int | None = None) -> str:
    """A match the way ovs-ofctl prints it: ``priority=10,tcp,in_port=1,tp_dst=80``.

    ``priority`` is shown first unless it is the default (0x8000); ``version=OFP10``
    picks OF1.0's reading of "no VLAN tag" (``vlan_tci=0x0000``)."""
    fields = {f.name: (f.value, f.mask) for f in match}
    parts: list[str] = []
    if priority is not None and priority != OFP_DEFAULT_PRIORITY:
        parts.append(f"priority={priority}")
    eth, proto = fields.get("eth_type"), fields.get("ip_proto")
    shown: set[str] = set()
    if eth is not None and eth[1] is None:
        short = None
        if proto is not None and proto[1] is None:
            short = _SHORTHAND_TEXT.get((eth[0], proto[0]))
            if short:
                shown.add("ip_proto")
        short = short or _SHORTHAND_TEXT.get((eth[0], None))
        if short:
            parts.append(short)
            shown.add("eth_type")
    for name in _FORMAT_ORDER:
        if name == "vlan":
            text = _format_vlan(fields, version)
            if text:
                parts.append(text)
        elif name in fields and name not in shown:
            parts.append(_format_field(name, *fields[name]))
    return ",".join(parts)


# --- flows -------------------------------------------------------------------------------------

_COMMAND_NAMES = {OFPFC_ADD: "ADD", OFPFC_MODIFY: "MOD", OFPFC_MODIFY_STRICT: "MOD_STRICT",
                  OFPFC_DELETE: "DEL", OFPFC_DELETE_STRICT: "DEL_STRICT"}
_DELETES = (OFPFC_DELETE, OFPFC_DELETE_STRICT)


def _split_actions(text: str) -> tuple[str, str | None]:
    """(match part, action text or None) at the first top-level ``actions=``."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if (depth == 0 and text.startswith("actions", i) and (i == 0 or text[i - 1] in ", \t\r\n")
                and text[i + 7 : i + 8] in ("=", ":")):
            return text[:i], text[i + 8 :]
    return text, None


def parse_flow(text: str, *, command: int = OFPFC_ADD, version: int | None = None) -> FlowMod:
    """ovs-ofctl flow text -> FlowMod (``add-flow``, ``mod-flows``, ``del-flows`` syntax).

    ``command`` decides which keywords are allowed like ovs-ofctl does (``actions``
    only for add/modify, ``out_port``/``out_group`` only for deletes, ``priority``
    not for non-strict deletes).  With ``version`` the result is lowered to what that
    version can encode (see ``flowtext_actions.resolve_instructions``) and checked;
    without it the version-independent classes are kept (``mod_vlan_vid`` stays
    SetVlanVid)."""
    if command not in _COMMAND_NAMES:
        raise ValueError(f"unknown flow_mod command {command}")
    deleting = command in _DELETES
    match_text, action_text = _split_actions(text)
    builder = _MatchBuilder()
    kw: dict[str, int] = {}
    flags = 0
    for token in fa.split_top(match_text):
        key, value = fa.split_key(token)
        if builder.add(key, value) or key in _STATS_KEYS:
            continue
        if key in _FLOW_FLAGS and value is None:
            if deleting:
                raise ValueError(f"{key} is not allowed when deleting flows")
            flags |= _FLOW_FLAGS[key]
            continue
        if value is None:
            raise ValueError(f"unknown keyword {key!r} (or a field missing its value)")
        what = f"{key}={value}"
        if key == "table":
            kw["table_id"] = fa.parse_int(value, 8, what)
        elif key == "priority":
            if command == OFPFC_DELETE:
                raise ValueError("priority is only meaningful for strict deletes (--strict)")
            kw["priority"] = fa.parse_int(value, 16, what)
        elif key == "cookie":
            cookie, mask = fa.parse_masked_int(value, 64, what)
            if mask is not None and command == OFPFC_ADD:
                raise ValueError(f"{what}: flow additions cannot use a cookie mask")
            kw["cookie"], kw["cookie_mask"] = cookie, mask or 0
        elif key in ("idle_timeout", "hard_timeout"):
            if deleting:
                raise ValueError(f"{key} is not allowed when deleting flows")
            kw[key] = fa.parse_int(value, 16, what)
        elif key in ("out_port", "out_group"):
            if not deleting:
                raise ValueError(f"{key} is only allowed when deleting flows")
            kw[key] = (fa.parse_port(value, what) if key == "out_port"
                       else fa.parse_group_id(value, what))
        elif key == "importance":
            raise ValueError("importance needs OpenFlow 1.4")
        else:
            raise ValueError(f"unknown keyword {key!r}")
    match = builder.build()
    _check_version(match, version)
    table = kw.pop("table_id", OFPTT_ALL)
    if version == OFP10 and table not in (0, OFPTT_ALL):
        raise ValueError(f"table={table}: OpenFlow 1.0 flow mods have no table")
    if table == OFPTT_ALL and not deleting:
        table = 0  # ovs-ofctl: 255 means "not given"; adds and modifies go to table 0
    instructions: tuple[a.Instruction, ...] = ()
    if deleting:
        if action_text is not None:
            raise ValueError("actions are not allowed when deleting flows")
    elif action_text is None:
        raise ValueError('must specify an action ("actions=drop" for none)')
    else:
        state = {f.name: (f.value, f.mask) for f in match}
        instructions = fa.resolve_instructions(parse_actions(action_text), state, version)
        for inst in instructions:
            if isinstance(inst, a.GotoTable) and inst.table_id <= table:
                raise ValueError(f"goto_table:{inst.table_id} must go to a later table than "
                                 f"table {table} (OFPBIC_BAD_TABLE_ID)")
    return FlowMod(match=match, command=command, table_id=table, flags=flags,
                   instructions=instructions, **kw)


def _flag_words(flags: int) -> list[str]:
    return [name for name, bit in _FLOW_FLAGS.items() if flags & bit]


def format_flow(fm: FlowMod, version: int | None = None) -> str:
    """FlowMod -> text that ``parse_flow`` (and ``ovs-ofctl add-flow``) reads back."""
    parts = []
    if fm.cookie or fm.cookie_mask:
        parts.append(f"cookie={fm.cookie:#x}" + (f"/{fm.cookie_mask:#x}" if fm.cookie_mask else ""))
    deleting = fm.command in _DELETES
    if fm.table_id != (OFPTT_ALL if deleting else 0):
        parts.append(f"table={fm.table_id}")
    for key in ("idle_timeout", "hard_timeout"):
        if getattr(fm, key):
            parts.append(f"{key}={getattr(fm, key)}")
    parts += _flag_words(fm.flags)
    if deleting and fm.out_port != OFPP_ANY:
        parts.append(f"out_port={fa.format_port(fm.out_port)}")
    if deleting and fm.out_group != OFPG_ANY:
        parts.append(f"out_group={fm.out_group}")
    priority = None if fm.command == OFPFC_DELETE else fm.priority
    match = format_match(fm.match, priority=priority, version=version)
    if match:
        parts.append(match)
    text = ",".join(parts)
    if deleting:
        return text
    return f"{text} actions={format_actions(fm.instructions, version)}".lstrip()


def format_flow_mod(fm: FlowMod, version: int | None = None) -> str:
    """The body ovs-ofctl ``ofp-print`` shows for a FLOW_MOD:
    ``ADD table:1 priority=10,ip cookie:0x5 idle:30 send_flow_rem actions=output:2``."""
    parts = [_COMMAND_NAMES.get(fm.command, str(fm.command))]
    if fm.table_id and version != OFP10:  # OF1.0 flow mods have no table
        parts.append(f"table:{fm.table_id}")
    match = format_match(fm.match, priority=fm.priority, version=version)
    if match:
        parts.append(match)
    if fm.cookie_mask and fm.command != OFPFC_ADD:
        parts.append(f"cookie:{fm.cookie:#x}/{fm.cookie_mask:#x}")
    elif fm.cookie and fm.cookie != fa.U64:
        parts.append(f"cookie:{fm.cookie:#x}")
    if fm.idle_timeout:
        parts.append(f"idle:{fm.idle_timeout}")
    if fm.hard_timeout:
        parts.append(f"hard:{fm.hard_timeout}")
    if fm.buffer_id != OFP_NO_BUFFER:
        parts.append(f"buf:{fm.buffer_id:#x}")
    if fm.out_port != OFPP_ANY:
        parts.append(f"out_port:{fa.format_port(fm.out_port)}")
    parts += _flag_words(fm.flags)
    parts.append(f"actions={format_actions(fm.instructions, version)}")
    return " ".join(parts)


def format_duration(sec: int, nsec: int) -> str:
    """``1.234s``: milliseconds when exact, else nanoseconds without trailing zeros."""
    if not nsec:
        return f"{sec}s"
    if nsec % 1_000_000 == 0:
        return f"{sec}.{nsec // 1_000_000:03d}s"
    return f"{sec}.{nsec:09d}".rstrip("0") + "s"


def format_flow_stats(entry: FlowStats, version: int | None = None) -> str:
    """One ``ovs-ofctl dump-flows`` line (with its leading space):
    `` cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, priority=10,ip actions=drop``.
    ``parse_flow`` reads it back (the statistics are ignored)."""
    text = (f" cookie={entry.cookie:#x}, "
            f"duration={format_duration(entry.duration_sec, entry.duration_nsec)}, "
            f"table={entry.table_id}, n_packets={entry.packet_count}, "
            f"n_bytes={entry.byte_count}, ")
    if entry.idle_timeout:
        text += f"idle_timeout={entry.idle_timeout}, "
    if entry.hard_timeout:
        text += f"hard_timeout={entry.hard_timeout}, "
    text += "".join(f"{word} " for word in _flag_words(entry.flags))
    match = format_match(entry.match, priority=entry.priority, version=version)
    if match:
        text += match + " "
    return text + "actions=" + format_actions(entry.instructions, version)


# --- groups --------------------------------------------------------------------------------------

GROUP_TYPES = {"all": OFPGT_ALL, "select": OFPGT_SELECT, "indirect": OFPGT_INDIRECT,
               "ff": OFPGT_FF, "fast_failover": OFPGT_FF}
_GROUP_TYPE_TEXT = {OFPGT_ALL: "all", OFPGT_SELECT: "select", OFPGT_INDIRECT: "indirect",
                    OFPGT_FF: "ff"}
_GROUP_COMMANDS = {OFPGC_ADD: "ADD", OFPGC_MODIFY: "MOD", OFPGC_DELETE: "DEL"}
_OF15_GROUP_KEYS = frozenset({"selection_method", "selection_method_param", "fields",
                              "command_bucket_id"})


def _parse_bucket(tokens: list[str], gtype: int) -> Bucket:
    params: dict[str, int] = {}
    actions: list[str] = []
    for token in tokens:
        key, value = fa.split_key(token)
        if key == "actions":
            if value:
                actions.append(value)
        elif key in ("weight", "watch_port", "watch_group") and value is not None:
            what = f"{key}:{value}"
            params[key] = (fa.parse_port(value, what) if key == "watch_port"
                           else fa.parse_group_id(value, what) if key == "watch_group"
                           else fa.parse_int(value, 16, what))
        elif key == "bucket_id":
            raise ValueError("bucket_id needs OpenFlow 1.5")
        else:
            actions.append(token)
    if "weight" in params and gtype != OFPGT_SELECT:
        raise ValueError("Only select groups can have bucket weights.")
    bucket = Bucket(actions=fa.parse_action_list(",".join(actions), "a group bucket"),
                    weight=params.get("weight", 1 if gtype == OFPGT_SELECT else 0),
                    watch_port=params.get("watch_port", OFPP_ANY),
                    watch_group=params.get("watch_group", OFPG_ANY))
    if gtype == OFPGT_FF and bucket.watch_port == OFPP_ANY and bucket.watch_group == OFPG_ANY:
        raise ValueError("fast failover bucket requires watch_port or watch_group")
    return bucket


def parse_group(text: str, *, command: int = OFPGC_ADD) -> GroupMod:
    """ovs-ofctl group text -> GroupMod:
    ``group_id=1,type=select,bucket=output:1,bucket=weight:10,watch_port:2,actions=output:2``."""
    if command not in _GROUP_COMMANDS:
        raise ValueError(f"unknown group_mod command {command}")
    group_id: int | None = None
    gtype: int | None = None
    buckets: list[list[str]] = []
    for token in fa.split_top(text):
        key, value = fa.split_key(token)
        if key == "bucket":
            buckets.append([value] if value else [])
        elif buckets:
            buckets[-1].append(token)
        elif key == "group_id" and value is not None:
            group_id = fa.parse_group_id(value, f"group_id={value}")
        elif key == "type" and value is not None:
            if value not in GROUP_TYPES:
                raise ValueError(f"invalid group type {value!r} ({', '.join(GROUP_TYPES)})")
            gtype = GROUP_TYPES[value]
        elif key in _OF15_GROUP_KEYS:
            raise ValueError(f"{key} needs OpenFlow 1.5")
        else:
            raise ValueError(f"unknown group keyword {key!r}")
    if command == OFPGC_DELETE:
        if buckets:
            raise ValueError("buckets are not allowed when deleting groups")
        return GroupMod(command=command, type=gtype or OFPGT_ALL,
                        group_id=OFPG_ALL if group_id is None else group_id)
    if group_id is None:
        raise ValueError("must specify a group_id")
    if gtype is None:
        raise ValueError("must specify a type")
    parsed = tuple(_parse_bucket(b, gtype) for b in buckets)
    if gtype == OFPGT_INDIRECT and len(parsed) > 1:
        raise ValueError("Indirect groups can have at most one bucket.")
    return GroupMod(command=command, type=gtype, group_id=group_id, buckets=parsed)


def _format_bucket(bucket: Bucket, gtype: int, version: int | None) -> str:
    parts = []
    if bucket.weight != (1 if gtype == OFPGT_SELECT else 0):
        parts.append(f"weight:{bucket.weight}")
    if bucket.watch_port != OFPP_ANY:
        parts.append(f"watch_port:{fa.format_port(bucket.watch_port)}")
    if bucket.watch_group != OFPG_ANY:
        parts.append(f"watch_group:{bucket.watch_group}")
    parts.append("actions=" + fa.format_action_list(bucket.actions, version))
    return "bucket=" + ",".join(parts)


def format_group(desc: GroupDesc | GroupMod, version: int | None = None) -> str:
    """``group_id=1,type=select,bucket=actions=output:1,bucket=weight:10,...`` as in
    ``ovs-ofctl dump-groups``; ``parse_group`` reads it back."""
    text = f"group_id={desc.group_id},type={_GROUP_TYPE_TEXT.get(desc.type, str(desc.type))}"
    return "".join([text] + [f",{_format_bucket(b, desc.type, version)}" for b in desc.buckets])


def format_group_mod(gm: GroupMod, version: int | None = None) -> str:
    """``ADD group_id=1,type=all,bucket=actions=output:1`` (ofp-print's GROUP_MOD body)."""
    return f"{_GROUP_COMMANDS.get(gm.command, str(gm.command))} {format_group(gm, version)}"


# --- meters --------------------------------------------------------------------------------------

METER_IDS = {"all": OFPM_ALL, "controller": OFPM_CONTROLLER, "slowpath": OFPM_SLOWPATH}
_METER_ID_TEXT = {v: k for k, v in METER_IDS.items()}
_METER_FLAGS = {"kbps": OFPMF_KBPS, "pktps": OFPMF_PKTPS, "burst": OFPMF_BURST,
                "stats": OFPMF_STATS}
_METER_COMMANDS = {OFPMC_ADD: "ADD", OFPMC_MODIFY: "MOD", OFPMC_DELETE: "DEL"}


def _meter_band(params: dict[str, int], burst: bool) -> MeterBand:
    if "rate" not in params:
        raise ValueError("band must have 'rate'")
    if burst and "burst_size" not in params:
        raise ValueError("band must have 'burst_size' when 'burst' flag is set")
    rate, size = params["rate"], params.get("burst_size", 0)
    if params["type"] == 2:
        return MeterBandDscpRemark(rate, size, params.get("prec_level", 0))
    if "prec_level" in params:
        raise ValueError("prec_level is only for type=dscp_remark bands")
    return MeterBandDrop(rate, size)


def parse_meter(text: str, *, command: int = OFPMC_ADD) -> MeterMod:
    """ovs-ofctl meter text -> MeterMod:
    ``meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100``
    (``band=`` works too; band types drop and dscp_remark with ``prec_level``)."""
    if command not in _METER_COMMANDS:
        raise ValueError(f"unknown meter_mod command {command}")
    meter_id: int | None = None
    flags = 0
    bands: list[dict[str, int]] | None = None
    for token in fa.split_top(text):
        key, value = fa.split_key(token)
        if bands is None and key in ("bands", "band"):
            bands = []
            if not value:
                continue
            key, value = fa.split_key(value)
        if bands is None:
            if key == "meter" and value is not None:
                meter_id = METER_IDS.get(value.lower())
                if meter_id is None:
                    meter_id = fa.parse_int(value, 32, f"meter={value}")
            elif key in _METER_FLAGS and value is None:
                flags |= _METER_FLAGS[key]
            else:
                raise ValueError(f"unknown meter keyword {token!r}")
        elif key == "type":
            band_type = {"drop": 1, "dscp_remark": 2}.get(value or "")
            if band_type is None:
                raise ValueError(f"unknown band type {value!r} (drop, dscp_remark)")
            bands.append({"type": band_type})
        elif key in ("rate", "burst_size", "prec_level") and value is not None:
            if not bands:
                raise ValueError("band must start with the 'type' keyword")
            bands[-1][key] = fa.parse_int(value, 8 if key == "prec_level" else 32, token)
        else:
            raise ValueError(f"unknown meter band keyword {token!r}")
    if command == OFPMC_DELETE:
        return MeterMod(command=command, flags=flags,
                        meter_id=OFPM_ALL if meter_id is None else meter_id)
    if meter_id is None:
        raise ValueError("must specify 'meter'")
    if not flags & (OFPMF_KBPS | OFPMF_PKTPS):
        raise ValueError("meter must specify either 'kbps' or 'pktps'")
    if not bands:
        raise ValueError("must specify bands")
    burst = bool(flags & OFPMF_BURST)
    return MeterMod(command=command, flags=flags, meter_id=meter_id,
                    bands=tuple(_meter_band(b, burst) for b in bands))


def _format_band(band: MeterBand, flags: int) -> str:
    size = f" burst_size={band.burst_size}" if flags & OFPMF_BURST else ""
    if isinstance(band, MeterBandDscpRemark):
        return f"type=dscp_remark rate={band.rate}{size} prec_level={band.prec_level}"
    if isinstance(band, MeterBandExperimenter):
        return f"type=experimenter rate={band.rate}{size} experimenter={band.experimenter:#x}"
    return f"type=drop rate={band.rate}{size}"


def format_meter(config: MeterConfig | MeterMod) -> str:
    """Like ``ovs-ofctl dump-meters``: ``meter=1 kbps burst stats bands=`` then one line
    per band (``type=drop rate=1000 burst_size=100``); ``parse_meter`` reads it back."""
    head = f"meter={_METER_ID_TEXT.get(config.meter_id, str(config.meter_id))}"
    words = [name for name, bit in _METER_FLAGS.items() if config.flags & bit]
    lines = [" ".join([head, *words, "bands="])]
    lines += [_format_band(band, config.flags) for band in config.bands]
    return "\n".join(lines)


def format_meter_mod(mm: MeterMod) -> str:
    """``ADD meter=1 kbps stats bands=\\ntype=drop rate=1000`` (ofp-print's METER_MOD body)."""
    return f"{_METER_COMMANDS.get(mm.command, str(mm.command))} {format_meter(mm)}"

