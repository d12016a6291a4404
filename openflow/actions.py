"""Version-independent model of OpenFlow actions and instructions.

One class per meaning, in the spirit of Open vSwitch's ``ofpact``: the OF1.0 and
OF1.3 codecs (``v10_actions``, ``v13_actions``) decode every wire variant into these
and encode them back, raising when a version cannot express an action.  OF1.0-only
meanings keep their own classes (``SetVlanVid`` pushes a tag when the packet has
none; OF1.3 ``SetField('vlan_vid')`` only rewrites an existing one).

Values follow the match model: MAC and IP addresses are ints, field names are OXM
names (see ``openflow.oxm``).
"""

from __future__ import annotations

from dataclasses import dataclass

from openflow.consts import OFPCML_MAX


@dataclass(frozen=True, slots=True)
class Output:
    port: int
    max_len: int = OFPCML_MAX


@dataclass(frozen=True, slots=True)
class Group:
    group_id: int


@dataclass(frozen=True, slots=True)
class SetQueue:
    queue_id: int


@dataclass(frozen=True, slots=True)
class Enqueue:
    """OF1.0 OFPAT_ENQUEUE: output to a queue of a port."""

    port: int
    queue_id: int


@dataclass(frozen=True, slots=True)
class SetVlanVid:
    """OF1.0 set_vlan_vid (ovs-ofctl mod_vlan_vid): push a tag if none, set its VID."""

    vlan_vid: int  # 12-bit VID, no OFPVID_PRESENT bit


@dataclass(frozen=True, slots=True)
class SetVlanPcp:
    """OF1.0 set_vlan_pcp (ovs-ofctl mod_vlan_pcp): push a tag if none, set its PCP."""

    vlan_pcp: int


@dataclass(frozen=True, slots=True)
class SetTpSrc:
    """OF1.0 set_tp_src: the packet's TCP or UDP source port, whichever it has."""

    port: int


@dataclass(frozen=True, slots=True)
class SetTpDst:
    """OF1.0 set_tp_dst: the packet's TCP or UDP destination port."""

    port: int


@dataclass(frozen=True, slots=True)
class SetField:
    """Set one header field (OF1.3 OFPAT_SET_FIELD; OF1.0 set_dl_*/set_nw_* map here)."""

    field: str  # OXM field name
    value: int


@dataclass(frozen=True, slots=True)
class PushVlan:
    ethertype: int = 0x8100


@dataclass(frozen=True, slots=True)
class PopVlan:
    """OF1.3 pop_vlan; OF1.0 strip_vlan."""


@dataclass(frozen=True, slots=True)
class PushMpls:
    ethertype: int = 0x8847


@dataclass(frozen=True, slots=True)
class PopMpls:
    ethertype: int = 0x0800


@dataclass(frozen=True, slots=True)
class PushPbb:
    ethertype: int = 0x88E7


@dataclass(frozen=True, slots=True)
class PopPbb:
    pass


@dataclass(frozen=True, slots=True)
class CopyTtlOut:
    pass


@dataclass(frozen=True, slots=True)
class CopyTtlIn:
    pass


@dataclass(frozen=True, slots=True)
class SetMplsTtl:
    ttl: int


@dataclass(frozen=True, slots=True)
class DecMplsTtl:
    pass


@dataclass(frozen=True, slots=True)
class SetNwTtl:
    ttl: int


@dataclass(frozen=True, slots=True)
class DecNwTtl:
    pass


Action = (
    Output | Group | SetQueue | Enqueue | SetVlanVid | SetVlanPcp | SetTpSrc | SetTpDst
    | SetField | PushVlan | PopVlan | PushMpls | PopMpls | PushPbb | PopPbb | CopyTtlOut
    | CopyTtlIn | SetMplsTtl | DecMplsTtl | SetNwTtl | DecNwTtl
)


# Instructions (OF1.3).  An OF1.0 flow's action list is modelled as one ApplyActions.


@dataclass(frozen=True, slots=True)
class GotoTable:
    table_id: int


@dataclass(frozen=True, slots=True)
class WriteMetadata:
    metadata: int
    metadata_mask: int = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class WriteActions:
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class ApplyActions:
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class ClearActions:
    pass


@dataclass(frozen=True, slots=True)
class Meter:
    meter_id: int


Instruction = GotoTable | WriteMetadata | WriteActions | ApplyActions | ClearActions | Meter


def flow_actions(instructions: tuple[Instruction, ...]) -> tuple[Action, ...]:
    """The apply-actions list of a flow (what an OF1.0 flow's action list means)."""
    for inst in instructions:
        if isinstance(inst, ApplyActions):
            return inst.actions
    return ()
