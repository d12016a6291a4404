"""ovs-ofctl text syntax, lower half: field values, actions and instructions.

Sits under ``openflow.flowtext`` (flows, groups, meters), which imports it; imports
only the model (``actions``, ``consts``) and the OXM table (``oxm``).  Owns:

* the value syntax of every OXM field as ovs-ofctl writes it (MACs, IPv4/IPv6
  addresses and masks, port names, decimal or hex integers) and top-level
  tokenizing (``split_top``);
* ``parse_actions``/``format_actions``: the ``actions=`` text of a flow, with
  ovs-ofctl's rules for instructions (meter, apply, clear_actions, write_actions,
  write_metadata, goto_table, in that order, each once; ``drop`` alone);
* ``resolve_instructions``: what ovs-ofctl does between parsing and encoding --
  checking set-field prerequisites against the flow's match (tracking push/pop
  actions) and lowering to what one OpenFlow version can say (OF1.3:
  ``mod_vlan_vid`` becomes push_vlan + set_field when the packet has no tag,
  ``mod_tp_src`` becomes set_field on tcp/udp/sctp; OF1.0: set_field on
  vlan_vid/pcp and tcp/udp ports become set_vlan_*/set_tp_*).

Checked against Open vSwitch 3.1's ovs-ofctl (tests/crosscheck/test_flowtext_ovs.py);
no OVS code is used.  Errors are ValueError with a message naming the bad text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from openflow import actions as a
from openflow.consts import (
    OFP10,
    OFP13,
    OFPCML_NO_BUFFER,
    OFPG_ALL,
    OFPG_ANY,
    OFPP_ANY,
    OFPP_CONTROLLER,
    OFPVID_PRESENT,
    PORT_BY_NAME,
    PORT_NAMES,
    port_to_v10,
)
from openflow.oxm import FIELD_BY_NAME, Prereq

U64 = (1 << 64) - 1

# --- tokens --------------------------------------------------------------------------


def split_top(text: str, seps: str = ", \t\r\n") -> list[str]:
    """Split at separators outside parentheses; empty pieces are dropped."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {text!r}")
        elif depth == 0 and ch in seps:
            if i > start:
                out.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced '(' in {text!r}")
    if start < len(text):
        out.append(text[start:])
    return out


def split_key(token: str) -> tuple[str, str | None]:
    """``key=value`` or ``key:value`` (whichever comes first) -> (key, value)."""
    for i, ch in enumerate(token):
        if ch in "=:":
            return token[:i], token[i + 1 :]
        if ch == "(":
            break
    return token, None


# --- scalar values -------------------------------------------------------------------


_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{1,2}")
_DECIMAL_BYTE = re.compile(r"[0-9]{1,3}")


def parse_int(text: str, bits: int, what: str) -> int:
    """Decimal or 0x-hex unsigned integer that fits in ``bits``."""
    t = text.strip()
    if not _NUMBER.fullmatch(t):
        raise ValueError(f"{what}: {text!r} is not a number")
    value = int(t, 0 if t[:2].lower() == "0x" else 10)
    if value >> bits:
        raise ValueError(f"{what}: {text} does not fit in {bits} bits")
    return value


def parse_masked_int(text: str, bits: int, what: str) -> tuple[int, int | None]:
    value, slash, mask = text.partition("/")
    if not slash:
        return parse_int(value, bits, what), None
    return parse_int(value, bits, what), parse_int(mask, bits, f"{what} mask")


def parse_mac(text: str, what: str) -> int:
    parts = text.split(":")
    if len(parts) != 6 or not all(_HEX_BYTE.fullmatch(p) for p in parts):
        raise ValueError(f"{what}: {text!r} is not an Ethernet address (xx:xx:xx:xx:xx:xx)")
    return int("".join(p.zfill(2) for p in parts), 16)


def format_mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def parse_ipv4(text: str, what: str) -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(_DECIMAL_BYTE.fullmatch(p) and int(p) <= 255 for p in parts):
        raise ValueError(f"{what}: {text!r} is not an IPv4 address")
    return int.from_bytes(bytes(int(p) for p in parts), "big")


def format_ipv4(value: int) -> str:
    return ".".join(str(b) for b in value.to_bytes(4, "big"))


def parse_ipv6(text: str, what: str) -> int:
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an IPv6 address") from None


def format_ipv6(value: int) -> str:
    """Like glibc's inet_ntop (what ovs-ofctl prints), including ::a.b.c.d forms."""
    if value >> 32 == 0 and value >> 16:
        return "::" + format_ipv4(value)  # first 96 bits zero, ::w.x.y.z
    if value >> 32 == 0xFFFF:
        return "::ffff:" + format_ipv4(value & 0xFFFFFFFF)
    return str(ipaddress.IPv6Address(value))


def _prefix_len(mask: int, bits: int) -> int | None:
    """N when ``mask`` is N leading ones, else None."""
    inverted = ~mask & ((1 << bits) - 1)
    if inverted & (inverted + 1):
        return None
    return bits - inverted.bit_length()


def _parse_prefixed(text: str, bits: int, what: str, parse: Callable[[str, str], int]) -> tuple[int, int | None]:
    addr, slash, mask_text = text.partition("/")
    value = parse(addr, what)
    if not slash:
        return value, None
    if _NUMBER.fullmatch(mask_text) and not mask_text[:2].lower() == "0x":
        n = int(mask_text)
        if n > bits:
            raise ValueError(f"{what}: prefix /{n} is longer than {bits} bits")
        mask = ((1 << bits) - 1) ^ ((1 << (bits - n)) - 1)
    else:
        mask = parse(mask_text, f"{what} mask")
    return value & mask, mask


def _format_prefixed(value: int, mask: int | None, bits: int, fmt: Callable[[int], str]) -> str:
    if mask is None:
        return fmt(value)
    n = _prefix_len(mask, bits)
    return f"{fmt(value)}/{n}" if n is not None else f"{fmt(value)}/{fmt(mask)}"


def parse_port(text: str, what: str = "port") -> int:
    """A port name (LOCAL, CONTROLLER, ..., any case) or number.

    Numbers follow ovs-ofctl: 0xff00..0xffff are OF1.0 reserved numbers and map to
    their OF1.3 forms (65534 is LOCAL); larger numbers are taken as 32-bit ports."""
    port = PORT_BY_NAME.get(text.upper())
    if port is not None:
        return port
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{what}: {text!r} is not a port number or name "
                         f"({', '.join(PORT_NAMES.values())})")
    number = parse_int(text, 32, what)
    if 0xFF00 <= number <= 0xFFFF:
        number += 0xFFFF0000
    return number


def format_port(port: int) -> str:
    name = PORT_NAMES.get(port)
    if name is not None:
        return name
    if port >= 0xFFFFFF00:  # unnamed reserved numbers: ovs-ofctl shows the OF1.0 number
        return str(port - 0xFFFF0000)
    return str(port)


def parse_group_id(text: str, what: str = "group") -> int:
    named = {"all": OFPG_ALL, "any": OFPG_ANY}.get(text.lower())
    return named if named is not None else parse_int(text, 32, what)


# --- field values by OXM name ----------------------------------------------------------

_MAC_FIELDS = frozenset({"eth_src", "eth_dst", "arp_sha", "arp_tha", "ipv6_nd_sll", "ipv6_nd_tll"})
_IPV4_FIELDS = frozenset({"ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa"})
_IPV6_FIELDS = frozenset({"ipv6_src", "ipv6_dst", "ipv6_nd_target"})
_PORT_FIELDS = frozenset({"in_port", "in_phy_port"})
_HEX_FIELDS = frozenset({"metadata", "tunnel_id", "ipv6_flabel", "ipv6_exthdr", "eth_type"})


def parse_field_value(name: str, text: str, what: str, masked: bool = True) -> tuple[int, int | None]:
    """(value, mask or None) of OXM field ``name`` written as ovs-ofctl does."""
    info = FIELD_BY_NAME[name]
    if not masked and "/" in text:
        raise ValueError(f"{what}: a mask is not allowed here ({text!r})")
    if name in _MAC_FIELDS:
        value, slash, mask = text.partition("/")
        return parse_mac(value, what), parse_mac(mask, f"{what} mask") if slash else None
    if name in _IPV4_FIELDS:
        return _parse_prefixed(text, 32, what, parse_ipv4)
    if name in _IPV6_FIELDS:
        return _parse_prefixed(text, 128, what, parse_ipv6)
    if name in _PORT_FIELDS:
        return parse_port(text, what), None
    return parse_masked_int(text, info.bits, what)


def format_field_value(name: str, value: int, mask: int | None = None) -> str:
    """Value text of an OXM field; ints are decimal unless ovs-ofctl shows them in hex."""
    if name in _MAC_FIELDS:
        return format_mac(value) + ("" if mask is None else "/" + format_mac(mask))
    if name in _IPV4_FIELDS:
        return _format_prefixed(value, mask, 32, format_ipv4)
    if name in _IPV6_FIELDS:
        return _format_prefixed(value, mask, 128, format_ipv6)
    if name in _PORT_FIELDS and mask is None:
        return format_port(value)
    if mask is not None:
        return f"{value:#x}/{mask:#x}"
    return f"{value:#x}" if name in _HEX_FIELDS else str(value)


# --- set_field names -------------------------------------------------------------------

# ovs-ofctl field names (and OXM spellings) accepted in set_field -> OXM name.
SET_FIELD_NAMES: dict[str, str] = {
    "eth_src": "eth_src", "dl_src": "eth_src", "eth_dst": "eth_dst", "dl_dst": "eth_dst",
    "vlan_vid": "vlan_vid", "vlan_pcp": "vlan_pcp", "dl_vlan_pcp": "vlan_pcp",
    "ip_src": "ipv4_src", "nw_src": "ipv4_src", "ipv4_src": "ipv4_src",
    "ip_dst": "ipv4_dst", "nw_dst": "ipv4_dst", "ipv4_dst": "ipv4_dst",
    "ip_dscp": "ip_dscp", "nw_ecn": "ip_ecn", "ip_ecn": "ip_ecn",
    "tcp_src": "tcp_src", "tcp_dst": "tcp_dst", "udp_src": "udp_src", "udp_dst": "udp_dst",
    "sctp_src": "sctp_src", "sctp_dst": "sctp_dst",
    "icmp_type": "icmpv4_type", "icmp_code": "icmpv4_code",
    "icmpv4_type": "icmpv4_type", "icmpv4_code": "icmpv4_code",
    "icmpv6_type": "icmpv6_type", "icmpv6_code": "icmpv6_code",
    "arp_op": "arp_op", "arp_spa": "arp_spa", "arp_tpa": "arp_tpa",
    "arp_sha": "arp_sha", "arp_tha": "arp_tha",
    "ipv6_src": "ipv6_src", "ipv6_dst": "ipv6_dst",
    "ipv6_label": "ipv6_flabel", "ipv6_flabel": "ipv6_flabel",
    "nd_target": "ipv6_nd_target", "ipv6_nd_target": "ipv6_nd_target",
    "nd_sll": "ipv6_nd_sll", "ipv6_nd_sll": "ipv6_nd_sll",
    "nd_tll": "ipv6_nd_tll", "ipv6_nd_tll": "ipv6_nd_tll",
    "mpls_label": "mpls_label", "mpls_tc": "mpls_tc",
    "tun_id": "tunnel_id", "tunnel_id": "tunnel_id", "metadata": "metadata",
    "pbb_isid": "pbb_isid", "mpls_bos": "mpls_bos",
    "eth_type": "eth_type", "dl_type": "eth_type", "ip_proto": "ip_proto", "nw_proto": "ip_proto",
}
# Fields a set_field may not write (ovs-ofctl: "X is read-only"; ovs-ofctl also refuses
# eth_type, ip_proto and mpls_bos, which OF1.3 lets a switch set and this one does).
READ_ONLY_FIELDS = frozenset({"in_port", "in_phy_port", "ipv6_exthdr"})
# OXM name -> the name ovs-ofctl prints in set_field.
SET_FIELD_TEXT: dict[str, str] = {
    "ipv4_src": "ip_src", "ipv4_dst": "ip_dst", "ip_ecn": "nw_ecn", "ipv6_flabel": "ipv6_label",
    "icmpv4_type": "icmp_type", "icmpv4_code": "icmp_code", "ipv6_nd_target": "nd_target",
    "ipv6_nd_sll": "nd_sll", "ipv6_nd_tll": "nd_tll", "tunnel_id": "tun_id",
}


def _set_field(arg: str) -> a.SetField:
    value_text, arrow, field_text = arg.rpartition("->")
    if not arrow:
        raise ValueError(f"set_field:{arg}: expected set_field:VALUE->FIELD")
    if field_text in READ_ONLY_FIELDS:
        raise ValueError(f"set_field:{arg}: {field_text} is read-only")
    name = SET_FIELD_NAMES.get(field_text)
    if name is None:
        raise ValueError(f"set_field:{arg}: {field_text!r} is not a field set_field can write")
    value, mask = parse_field_value(name, value_text, f"set_field:{arg}")
    if mask is not None:
        raise ValueError(f"set_field:{arg}: masked set_field is not supported")
    if name == "vlan_vid" and not value & OFPVID_PRESENT:
        raise ValueError(f"set_field:{arg}: an OF1.3 vlan_vid value includes the "
                         f"OFPVID_PRESENT bit 0x1000 (e.g. {value | OFPVID_PRESENT} for VLAN {value})")
    return a.SetField(name, value)


# --- action parsers ----------------------------------------------------------------------


def _need(arg: str | None, name: str) -> str:
    if not arg:
        raise ValueError(f"{name}: missing argument")
    return arg


def _output(arg: str | None) -> a.Output:
    port = parse_port(arg or "", "output")
    if port == OFPP_ANY:
        raise ValueError("output:ANY is not a valid output port")
    return a.Output(port, OFPCML_NO_BUFFER if port == OFPP_CONTROLLER else 0)


def _controller(arg: str | None) -> a.Output:
    if arg is None or arg == "":
        return a.Output(OFPP_CONTROLLER, OFPCML_NO_BUFFER)
    if arg.startswith("(") and arg.endswith(")"):
        max_len = OFPCML_NO_BUFFER
        for item in split_top(arg[1:-1]):
            key, value = split_key(item)
            if key != "max_len" or value is None:
                raise ValueError(f"controller{arg}: only max_len=N is supported")
            max_len = parse_int(value, 16, "controller max_len")
        return a.Output(OFPP_CONTROLLER, max_len)
    return a.Output(OFPP_CONTROLLER, parse_int(arg, 16, "controller max_len"))


def _enqueue(arg: str | None) -> a.Enqueue:
    arg = _need(arg, "enqueue")
    if arg.startswith("("):
        parts = arg.strip("()").split(",")
    else:
        parts = arg.split(":")
    if len(parts) != 2:
        raise ValueError(f"enqueue:{arg}: expected enqueue:PORT:QUEUE")
    return a.Enqueue(parse_port(parts[0], "enqueue"), parse_int(parts[1], 32, "enqueue queue"))


def _vlan_vid(arg: str | None) -> a.SetVlanVid:
    value = parse_int(_need(arg, "mod_vlan_vid"), 16, "mod_vlan_vid")
    if value > 0xFFF:
        raise ValueError(f"mod_vlan_vid:{arg}: not a valid VLAN VID (0..4095)")
    return a.SetVlanVid(value)


def _vlan_pcp(arg: str | None) -> a.SetVlanPcp:
    value = parse_int(_need(arg, "mod_vlan_pcp"), 8, "mod_vlan_pcp")
    if value > 7:
        raise ValueError(f"mod_vlan_pcp:{arg}: not a valid VLAN PCP (0..7)")
    return a.SetVlanPcp(value)


def _ethertype(arg: str | None, name: str, allowed: tuple[int, ...] | None) -> int:
    value = parse_int(_need(arg, name), 16, name)
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name}:{arg}: ethertype must be one of "
                         + ", ".join(f"0x{v:04x}" for v in allowed))
    return value


def _nw_tos(arg: str | None) -> a.SetField:
    tos = parse_int(_need(arg, "mod_nw_tos"), 8, "mod_nw_tos")
    if tos & 3:
        raise ValueError(f"mod_nw_tos:{arg}: not a valid TOS (DSCP in the upper 6 bits, "
                         f"a multiple of 4)")
    return a.SetField("ip_dscp", tos >> 2)


def _field_setter(name: str, label: str) -> Callable[[str | None], a.SetField]:
    def parse(arg: str | None) -> a.SetField:
        value, _ = parse_field_value(name, _need(arg, label), label, masked=False)
        return a.SetField(name, value)
    return parse


def _ttl_arg(arg: str | None, name: str) -> int:
    arg = _need(arg, name)
    if arg.startswith("(") and arg.endswith(")"):
        arg = arg[1:-1]
    return parse_int(arg, 8, name)


def _no_arg(make: Callable[[], object], name: str) -> Callable[[str | None], object]:
    def parse(arg: str | None) -> object:
        if arg:
            raise ValueError(f"{name} takes no argument (got {arg!r})")
        return make()
    return parse


def _write_metadata(arg: str | None) -> a.WriteMetadata:
    value, mask = parse_masked_int(_need(arg, "write_metadata"), 64, "write_metadata")
    return a.WriteMetadata(value, U64 if mask is None else mask)


def _goto_table(arg: str | None) -> a.GotoTable:
    table = parse_int(_need(arg, "goto_table"), 8, "goto_table")
    if table == 0xFF:
        raise ValueError("goto_table:255 is not a table")
    return a.GotoTable(table)


def _write_actions(arg: str | None) -> a.WriteActions:
    if arg is None or not (arg.startswith("(") and arg.endswith(")")):
        raise ValueError("write_actions needs a parenthesized action list: write_actions(...)")
    return a.WriteActions(parse_action_list(arg[1:-1], "write_actions"))


_PARSERS: dict[str, Callable[[str | None], object]] = {
    "output": _output,
    "controller": _controller,
    "enqueue": _enqueue,
    "set_queue": lambda arg: a.SetQueue(parse_int(_need(arg, "set_queue"), 32, "set_queue")),
    "group": lambda arg: a.Group(parse_group_id(_need(arg, "group"), "group")),
    "mod_vlan_vid": _vlan_vid,
    "set_vlan_vid": _vlan_vid,
    "mod_vlan_pcp": _vlan_pcp,
    "set_vlan_pcp": _vlan_pcp,
    "strip_vlan": _no_arg(a.PopVlan, "strip_vlan"),
    "pop_vlan": _no_arg(a.PopVlan, "pop_vlan"),
    "push_vlan": lambda arg: a.PushVlan(_ethertype(arg, "push_vlan", (0x8100, 0x88A8))),
    "push_mpls": lambda arg: a.PushMpls(_ethertype(arg, "push_mpls", (0x8847, 0x8848))),
    "pop_mpls": lambda arg: a.PopMpls(_ethertype(arg, "pop_mpls", None)),
    "push_pbb": lambda arg: a.PushPbb(_ethertype(arg, "push_pbb", (0x88E7,))),
    "pop_pbb": _no_arg(a.PopPbb, "pop_pbb"),
    "set_mpls_ttl": lambda arg: a.SetMplsTtl(_ttl_arg(arg, "set_mpls_ttl")),
    "dec_mpls_ttl": _no_arg(a.DecMplsTtl, "dec_mpls_ttl"),
    "mod_nw_ttl": lambda arg: a.SetNwTtl(_ttl_arg(arg, "mod_nw_ttl")),
    "set_nw_ttl": lambda arg: a.SetNwTtl(_ttl_arg(arg, "set_nw_ttl")),
    "dec_ttl": _no_arg(a.DecNwTtl, "dec_ttl"),
    "copy_ttl_in": _no_arg(a.CopyTtlIn, "copy_ttl_in"),
    "copy_ttl_out": _no_arg(a.CopyTtlOut, "copy_ttl_out"),
    "mod_dl_src": _field_setter("eth_src", "mod_dl_src"),
    "mod_dl_dst": _field_setter("eth_dst", "mod_dl_dst"),
    "mod_nw_src": _field_setter("ipv4_src", "mod_nw_src"),
    "mod_nw_dst": _field_setter("ipv4_dst", "mod_nw_dst"),
    "mod_nw_tos": _nw_tos,
    "mod_nw_ecn": _field_setter("ip_ecn", "mod_nw_ecn"),
    "mod_tp_src": lambda arg: a.SetTpSrc(parse_int(_need(arg, "mod_tp_src"), 16, "mod_tp_src")),
    "mod_tp_dst": lambda arg: a.SetTpDst(parse_int(_need(arg, "mod_tp_dst"), 16, "mod_tp_dst")),
    "set_mpls_label": _field_setter("mpls_label", "set_mpls_label"),
    "set_mpls_tc": _field_setter("mpls_tc", "set_mpls_tc"),
    "set_field": lambda arg: _set_field(_need(arg, "set_field")),
    "meter": lambda arg: a.Meter(parse_int(_need(arg, "meter"), 32, "meter")),
    "goto_table": _goto_table,
    "write_metadata": _write_metadata,
    "clear_actions": _no_arg(a.ClearActions, "clear_actions"),
    "write_actions": _write_actions,
}
_INSTRUCTION_NAMES: dict[type, str] = {
    a.Meter: "meter", a.ApplyActions: "apply_actions", a.ClearActions: "clear_actions",
    a.WriteActions: "write_actions", a.WriteMetadata: "write_metadata",
    a.GotoTable: "goto_table",
}
# OF1.1+ instruction order that ovs-ofctl enforces in text.
_RANK = {cls: rank for rank, cls in enumerate(_INSTRUCTION_NAMES)}


def _parse_one(token: str) -> object:
    paren = token.find("(")
    colon = min((i for i in (token.find(":"), token.find("=")) if i >= 0), default=-1)
    if paren >= 0 and (colon < 0 or paren < colon):
        name, arg = token[:paren], token[paren:]
    elif colon >= 0:
        name, arg = token[:colon], token[colon + 1 :]
    else:
        name, arg = token, None
    lname = name.lower()
    if lname == "controller" or (lname == "output" and (arg or "").upper() == "CONTROLLER"):
        return _controller(arg if lname == "controller" else None)
    if arg is None and (lname.upper() in PORT_BY_NAME or _NUMBER.fullmatch(lname)):
        return _output(name)
    parse = _PARSERS.get(lname)
    if parse is None:
        raise ValueError(f"unknown action {name!r}")
    return parse(arg)


def parse_action_list(text: str, where: str = "bucket") -> tuple[a.Action, ...]:
    """A plain action list (group bucket, write_actions): no instructions allowed."""
    out: list[a.Action] = []
    tokens = split_top(text)
    for token in tokens:
        if token.lower() == "drop":
            if len(tokens) > 1:
                raise ValueError('"drop" must not be accompanied by any other action')
            continue
        item = _parse_one(token)
        if type(item) in _INSTRUCTION_NAMES:
            raise ValueError(f"{_INSTRUCTION_NAMES[type(item)]} instruction not allowed in {where}")
        out.append(item)  # type: ignore[arg-type]
    return tuple(out)


def parse_actions(text: str) -> tuple[a.Instruction, ...]:
    """The ``actions=`` text of a flow -> instructions in OF1.3 order.

    Plain actions become one ApplyActions; ``drop`` or nothing gives ().  Like
    ovs-ofctl, instructions must come in the order meter, actions, clear_actions,
    write_actions, write_metadata, goto_table, each at most once."""
    tokens = split_top(text)
    if any(t.lower() == "drop" for t in tokens):
        if len(tokens) > 1:
            raise ValueError('"drop" must not be accompanied by any other action or instruction')
        return ()
    apply: list[a.Action] = []
    others: list[a.Instruction] = []
    last: type | None = None
    for token in tokens:
        item = _parse_one(token)
        kind = type(item) if type(item) in _INSTRUCTION_NAMES else a.ApplyActions
        if last is not None and _RANK[kind] < _RANK[last]:
            raise ValueError(f"invalid instruction ordering: {_INSTRUCTION_NAMES[kind]} must "
                             f"appear before {_INSTRUCTION_NAMES[last]}, for OpenFlow 1.1+ "
                             f"compatibility")
        if kind is a.ApplyActions:
            apply.append(item)  # type: ignore[arg-type]
        elif kind is last:
            raise ValueError(f"duplicate {_INSTRUCTION_NAMES[kind]} instruction not allowed, "
                             f"for OpenFlow 1.1+ compatibility")
        elif not (kind is a.WriteActions and not item.actions):  # type: ignore[attr-defined]
            others.append(item)  # type: ignore[arg-type]
        last = kind
    result = [i for i in others if _RANK[type(i)] < _RANK[a.ApplyActions]]
    if apply:
        result.append(a.ApplyActions(tuple(apply)))
    result += [i for i in others if _RANK[type(i)] > _RANK[a.ApplyActions]]
    return tuple(result)


# --- formatting -----------------------------------------------------------------------------

# OXM name -> OF1.0 action name for the set_field forms OF1.0 has.
_V10_SET_NAMES = {"eth_src": "mod_dl_src", "eth_dst": "mod_dl_dst",
                  "ipv4_src": "mod_nw_src", "ipv4_dst": "mod_nw_dst"}


def _format_output(act: a.Output, version: int | None) -> str:
    if act.port == OFPP_CONTROLLER:
        return f"CONTROLLER:{act.max_len}"
    name = PORT_NAMES.get(act.port)
    return name if name is not None and act.port != OFPP_ANY else f"output:{format_port(act.port)}"


def _format_set_field(act: a.SetField, version: int | None) -> str:
    if version == OFP10:
        if act.field in _V10_SET_NAMES:
            return f"{_V10_SET_NAMES[act.field]}:{format_field_value(act.field, act.value)}"
        if act.field == "ip_dscp":
            return f"mod_nw_tos:{act.value << 2}"
    text = SET_FIELD_TEXT.get(act.field, act.field)
    value = act.value
    if act.field in _HEX_FIELDS:
        return f"set_field:{value:#x}->{text}"
    return f"set_field:{format_field_value(act.field, value)}->{text}"


_FORMATTERS: dict[type, Callable[[object, int | None], str]] = {
    a.Output: _format_output,  # type: ignore[dict-item]
    a.Group: lambda act, v: f"group:{act.group_id}",  # type: ignore[attr-defined]
    a.SetQueue: lambda act, v: f"set_queue:{act.queue_id}",  # type: ignore[attr-defined]
    a.Enqueue: lambda act, v: f"enqueue:{format_port(act.port)}:{act.queue_id}",  # type: ignore[attr-defined]
    a.SetVlanVid: lambda act, v: f"mod_vlan_vid:{act.vlan_vid}",  # type: ignore[attr-defined]
    a.SetVlanPcp: lambda act, v: f"mod_vlan_pcp:{act.vlan_pcp}",  # type: ignore[attr-defined]
    a.SetTpSrc: lambda act, v: f"mod_tp_src:{act.port}",  # type: ignore[attr-defined]
    a.SetTpDst: lambda act, v: f"mod_tp_dst:{act.port}",  # type: ignore[attr-defined]
    a.SetField: _format_set_field,  # type: ignore[dict-item]
    a.PushVlan: lambda act, v: f"push_vlan:0x{act.ethertype:04x}",  # type: ignore[attr-defined]
    a.PopVlan: lambda act, v: "strip_vlan" if v == OFP10 else "pop_vlan",
    a.PushMpls: lambda act, v: f"push_mpls:0x{act.ethertype:04x}",  # type: ignore[attr-defined]
    a.PopMpls: lambda act, v: f"pop_mpls:0x{act.ethertype:04x}",  # type: ignore[attr-defined]
    a.PushPbb: lambda act, v: f"push_pbb:0x{act.ethertype:04x}",  # type: ignore[attr-defined]
    a.PopPbb: lambda act, v: "pop_pbb",
    a.CopyTtlOut: lambda act, v: "copy_ttl_out",
    a.CopyTtlIn: lambda act, v: "copy_ttl_in",
    a.SetMplsTtl: lambda act, v: f"set_mpls_ttl({act.ttl})",  # type: ignore[attr-defined]
    a.DecMplsTtl: lambda act, v: "dec_mpls_ttl",
    a.SetNwTtl: lambda act, v: f"mod_nw_ttl:{act.ttl}",  # type: ignore[attr-defined]
    a.DecNwTtl: lambda act, v: "dec_ttl",
}


def format_action(action: a.Action, version: int | None = None) -> str:
    """One action as ovs-ofctl prints it (OF1.0 names with ``version=OFP10``)."""
    return _FORMATTERS[type(action)](action, version)


def format_action_list(actions: Iterable[a.Action], version: int | None = None) -> str:
    return ",".join(format_action(act, version) for act in actions) or "drop"


def format_actions(instructions: Iterable[a.Instruction], version: int | None = None) -> str:
    """Instructions as the text after ``actions=``; nothing at all is ``drop``."""
    parts: list[str] = []
    for inst in instructions:
        if isinstance(inst, a.ApplyActions):
            parts += [format_action(act, version) for act in inst.actions]
        elif isinstance(inst, a.WriteActions):
            parts.append(f"write_actions({','.join(format_action(x, version) for x in inst.actions)})")
        elif isinstance(inst, a.Meter):
            parts.append(f"meter:{inst.meter_id}")
        elif isinstance(inst, a.ClearActions):
            parts.append("clear_actions")
        elif isinstance(inst, a.WriteMetadata):
            mask = "" if inst.metadata_mask == U64 else f"/{inst.metadata_mask:#x}"
            parts.append(f"write_metadata:{inst.metadata:#x}{mask}")
        elif isinstance(inst, a.GotoTable):
            parts.append(f"goto_table:{inst.table_id}")
    return ",".join(parts) or "drop"


# --- checking and lowering against a match ----------------------------------------------------

FlowState = dict[str, tuple[int, int | None]]
_TRANSPORT_FIELDS = {6: ("tcp_src", "tcp_dst"), 17: ("udp_src", "udp_dst"),
                     132: ("sctp_src", "sctp_dst")}
_V10_SET_FIELDS = frozenset({"eth_src", "eth_dst", "ipv4_src", "ipv4_dst", "ip_dscp"})
_V10_ACTIONS = (a.Output, a.Enqueue, a.SetVlanVid, a.SetVlanPcp, a.PopVlan, a.SetTpSrc,
                a.SetTpDst, a.SetField)


def prereq_holds(pr: Prereq, state: FlowState) -> bool:
    present = state.get(pr.field)
    if present is None:
        return False
    if pr.values is None:
        return True
    full = FIELD_BY_NAME[pr.field].full_mask
    bits = full if pr.bits is None else pr.bits
    value, mask = present
    mask = full if mask is None else mask
    return mask & bits == bits and value & bits in pr.values


def describe_prereq(pr: Prereq) -> str:
    """Human text for a prerequisite: "eth_type=0x0800 (ip)", "a VLAN tag" ..."""
    if pr.field == "vlan_vid":
        return "a VLAN tag (dl_vlan=N, vlan_tci=0x1000/0x1000 or a push_vlan first)"
    if pr.values is None:
        return f"a match on {pr.field}"
    names = {("eth_type", 0x0800): "ip", ("eth_type", 0x86DD): "ipv6", ("eth_type", 0x0806): "arp",
             ("eth_type", 0x8847): "mpls", ("eth_type", 0x8848): "mplsm",
             ("ip_proto", 6): "tcp", ("ip_proto", 17): "udp", ("ip_proto", 132): "sctp",
             ("ip_proto", 1): "icmp", ("ip_proto", 58): "icmp6"}
    width = 4 if pr.field == "eth_type" else 0
    options = []
    for v in pr.values:
        text = f"{pr.field}=0x{v:0{width}x}" if width else f"{pr.field}={v}"
        short = names.get((pr.field, v))
        options.append(f"{text} ({short})" if short else text)
    return " or ".join(options)


def _tagged(state: FlowState) -> bool:
    return prereq_holds(Prereq("vlan_vid", (OFPVID_PRESENT,), OFPVID_PRESENT), state)


def _check_set_field(act: a.SetField, state: FlowState) -> None:
    for pr in FIELD_BY_NAME[act.field].prereqs:
        if not prereq_holds(pr, state):
            raise ValueError(f"{format_action(act)}: set_field {act.field} lacks correct "
                             f"prerequisites: needs {describe_prereq(pr)}")


def _lower_action(act: a.Action, state: FlowState, version: int | None) -> list[a.Action]:
    """Check ``act`` against the flow state, update the state, return its lowered form."""
    if version == OFP10:
        if isinstance(act, a.SetField):
            if act.field == "vlan_vid":
                act = a.SetVlanVid(act.value & 0xFFF)
            elif act.field == "vlan_pcp":
                act = a.SetVlanPcp(act.value)
            elif act.field in ("tcp_src", "udp_src"):
                act = a.SetTpSrc(act.value)
            elif act.field in ("tcp_dst", "udp_dst"):
                act = a.SetTpDst(act.value)
            elif act.field not in _V10_SET_FIELDS:
                raise ValueError(f"{format_action(act)} has no OpenFlow 1.0 form")
        if not isinstance(act, _V10_ACTIONS):
            raise ValueError(f"{format_action(act)} has no OpenFlow 1.0 form")
        if isinstance(act, (a.Output, a.Enqueue)) and port_to_v10(act.port) is None:
            raise ValueError(f"{format_action(act)}: port {act.port:#x} has no OpenFlow 1.0 number")
        return [act]
    if isinstance(act, a.SetField):
        _check_set_field(act, state)
        if act.field in ("eth_type", "ip_proto"):  # what lies behind is another protocol
            for name in [n for n in state if _behind(n, act.field)]:
                del state[name]
        state[act.field] = (act.value, None)
        return [act]
    if isinstance(act, a.PushVlan):
        state["vlan_vid"] = (OFPVID_PRESENT, OFPVID_PRESENT)
        state.pop("vlan_pcp", None)
        return [act]
    if isinstance(act, a.PopVlan):
        if version == OFP13 and not _tagged(state):
            raise ValueError("pop_vlan (strip_vlan) needs a VLAN tag in OpenFlow 1.1+: match "
                             "one (dl_vlan=N or vlan_tci=0x1000/0x1000) or push one first")
        state["vlan_vid"] = (0, None)
        state.pop("vlan_pcp", None)
        return [act]
    if isinstance(act, a.PushMpls):
        for name in [n for n in state if FIELD_BY_NAME[n].prereqs and n != "vlan_pcp"]:
            del state[name]
        state["eth_type"] = (act.ethertype, None)
        return [act]
    if isinstance(act, a.PopMpls):
        for name in ("mpls_label", "mpls_tc", "mpls_bos"):
            state.pop(name, None)
        state["eth_type"] = (act.ethertype, None)
        return [act]
    if isinstance(act, (a.SetVlanVid, a.SetVlanPcp)):  # these push a tag when none
        out: list[a.Action] = []
        if not _tagged(state):
            out.append(a.PushVlan(0x8100))
            state["vlan_vid"] = (OFPVID_PRESENT, OFPVID_PRESENT)
        if version != OFP13:
            return [act]
        if isinstance(act, a.SetVlanVid):
            out.append(a.SetField("vlan_vid", OFPVID_PRESENT | act.vlan_vid))
        else:
            out.append(a.SetField("vlan_pcp", act.vlan_pcp))
        return out
    if version != OFP13:
        return [act]
    if isinstance(act, (a.SetTpSrc, a.SetTpDst)):
        proto = state.get("ip_proto")
        names = _TRANSPORT_FIELDS.get(proto[0]) if proto and proto[1] is None else None
        if names is None:
            raise ValueError(f"{format_action(act)} needs a tcp, udp or sctp match "
                             f"in OpenFlow 1.1+ (it becomes set_field on tcp_*, udp_* or sctp_*)")
        return [a.SetField(names[isinstance(act, a.SetTpDst)], act.port)]
    if isinstance(act, a.Enqueue):  # ovs-ofctl adds an extension pop_queue; we cannot
        return [a.SetQueue(act.queue_id), a.Output(act.port, 0)]
    return [act]


def _behind(name: str, shape: str) -> bool:
    """Whether field ``name`` is read behind ``shape`` (eth_type: every field of L3 and
    up; ip_proto: those of L4)."""
    prereqs = FIELD_BY_NAME[name].prereqs
    if shape == "eth_type":
        return bool(prereqs) and name != "vlan_pcp"
    return any(pr.field == "ip_proto" for pr in prereqs)


def resolve_instructions(instructions: tuple[a.Instruction, ...], state: FlowState,
                         version: int | None) -> tuple[a.Instruction, ...]:
    """Check set-field prerequisites against ``state`` (the match's fields, updated
    as actions push and pop headers) and lower to ``version`` (None: keep the
    version-independent classes).  Raises ValueError like ovs-ofctl would."""
    out: list[a.Instruction] = []
    for inst in instructions:
        if isinstance(inst, (a.ApplyActions, a.WriteActions)):
            lowered: list[a.Action] = []
            scratch = state if isinstance(inst, a.ApplyActions) else dict(state)
            for act in inst.actions:
                lowered += _lower_action(act, scratch, version)
            out.append(type(inst)(tuple(lowered)))
        elif version == OFP10:
            raise ValueError(f"{format_actions((inst,))} has no OpenFlow 1.0 form")
        else:
            out.append(inst)
    return tuple(out)
