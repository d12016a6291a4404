"""Cross-check of the action/instruction codecs (v13_actions, v10_actions) against Ryu 4.34.

Ryu only serializes whole messages through the ``ryu`` fixture, so each action rides
in a PACKET_OUT (Ryu serializes those but cannot parse them) and each instruction in
a FLOW_MOD; the test slices the list back out of the message.  Two directions:

* Ryu -> us: Ryu's bytes for every case equal the golden hex pasted in
  tests/unit/test_v13_actions.py / test_v10_actions.py, and decode to the model;
* us -> Ryu: a FLOW_MOD carrying our encoding of every case parses in Ryu to the
  same ``to_jsondict()`` as Ryu's own FLOW_MOD with the same Ryu objects.
"""

from __future__ import annotations

import struct

import pytest

from openflow import actions as a
from openflow import v10_actions, v13_actions
from openflow.consts import OFP10, OFP13
from openflow.wire import pad8
from tests.unit.test_v10_actions import ACTION_CASES as V10_ACTION_CASES
from tests.unit.test_v13_actions import ACTION_CASES as V13_ACTION_CASES
from tests.unit.test_v13_actions import INSTRUCTION_CASES as V13_INSTRUCTION_CASES

pytestmark = pytest.mark.crosscheck

# OF1.3 PACKET_OUT: header 8, buffer_id 4, in_port 4, actions_len 2, pad 6.
V13_PACKET_OUT_ACTIONS = 24
# OF1.3 FLOW_MOD: the ofp_match starts at 48; instructions follow it, 8-aligned.
V13_FLOW_MOD_MATCH = 48
# OF1.0 PACKET_OUT: header 8, buffer_id 4, in_port 2, actions_len 2.
V10_PACKET_OUT_ACTIONS = 16
# OF1.0 FLOW_MOD: header 8, match 40, cookie .. flags 24, then the actions.
V10_FLOW_MOD_ACTIONS = 72

_U16 = struct.Struct("!H")


def _ids(cases: list) -> list[str]:
    return [expr for expr, _, _ in cases]


def _v13_packet_out(ryu, actions_expr: str) -> tuple[bytes, int, int]:
    msg = ryu.serialize(
        OFP13,
        "p.OFPPacketOut(dp, buffer_id=0xffffffff, in_port=o.OFPP_CONTROLLER,"
        f" actions=[{actions_expr}], data=b'')",
    )
    (actions_len,) = _U16.unpack_from(msg, 16)
    return msg, V13_PACKET_OUT_ACTIONS, V13_PACKET_OUT_ACTIONS + actions_len


def _v13_flow_mod(ryu, instructions_expr: str) -> tuple[bytes, int]:
    msg = ryu.serialize(OFP13, f"p.OFPFlowMod(dp, priority=7, instructions=[{instructions_expr}])")
    (match_len,) = _U16.unpack_from(msg, V13_FLOW_MOD_MATCH + 2)
    return msg, V13_FLOW_MOD_MATCH + match_len + pad8(match_len)


def _v10_packet_out(ryu, actions_expr: str) -> tuple[bytes, int, int]:
    msg = ryu.serialize(OFP10, f"p.OFPPacketOut(dp, 0xffffffff, o.OFPP_NONE, [{actions_expr}], b'')")
    (actions_len,) = _U16.unpack_from(msg, 14)
    return msg, V10_PACKET_OUT_ACTIONS, V10_PACKET_OUT_ACTIONS + actions_len


def _v10_flow_mod(ryu, actions_expr: str) -> bytes:
    return ryu.serialize(OFP10, f"p.OFPFlowMod(dp, match=p.OFPMatch(), priority=7, actions=[{actions_expr}])")


def _with_body(msg: bytes, start: int, body: bytes) -> bytes:
    """``msg`` with everything from ``start`` replaced by ``body``, header length fixed."""
    out = bytearray(msg[:start] + body)
    out[2:4] = _U16.pack(len(out))
    return bytes(out)


# ---------------------------------------------------------------- OF1.3, Ryu -> us


@pytest.mark.parametrize(("expr", "hex_", "model"), V13_ACTION_CASES, ids=_ids(V13_ACTION_CASES))
def test_v13_action_from_ryu(ryu, expr: str, hex_: str, model: a.Action) -> None:
    msg, start, end = _v13_packet_out(ryu, expr)
    assert end == len(msg)
    assert msg[start:end].hex() == hex_
    assert v13_actions.decode_actions(msg, start, end) == (model,)


def test_v13_every_action_in_one_packet_out(ryu) -> None:
    msg, start, end = _v13_packet_out(ryu, ", ".join(_ids(V13_ACTION_CASES)))
    models = tuple(model for _, _, model in V13_ACTION_CASES)
    assert v13_actions.decode_actions(msg, start, end) == models
    assert v13_actions.encode_actions(models) == msg[start:end]


@pytest.mark.parametrize(("expr", "hex_", "model"), V13_INSTRUCTION_CASES, ids=_ids(V13_INSTRUCTION_CASES))
def test_v13_instruction_from_ryu(ryu, expr: str, hex_: str, model: a.Instruction) -> None:
    msg, start = _v13_flow_mod(ryu, expr)
    assert msg[start:].hex() == hex_
    assert v13_actions.decode_instructions(msg, start, len(msg)) == (model,)


# One instruction of each type (a FLOW_MOD may not repeat one).
V13_ONE_OF_EACH = [V13_INSTRUCTION_CASES[i] for i in (8, 5, 7, 4, 2, 0)]


def test_v13_instruction_list_from_ryu(ryu) -> None:
    msg, start = _v13_flow_mod(ryu, ", ".join(_ids(V13_ONE_OF_EACH)))
    models = tuple(model for _, _, model in V13_ONE_OF_EACH)
    assert v13_actions.decode_instructions(msg, start, len(msg)) == models
    assert v13_actions.encode_instructions(models) == msg[start:]


# ---------------------------------------------------------------- OF1.3, us -> Ryu


def test_v13_ryu_parses_our_instructions(ryu) -> None:
    msg, start = _v13_flow_mod(ryu, ", ".join(_ids(V13_ONE_OF_EACH)))
    ours = v13_actions.encode_instructions(tuple(model for _, _, model in V13_ONE_OF_EACH))
    assert ryu.parse(_with_body(msg, start, ours)) == ryu.parse(msg)


def test_v13_ryu_parses_our_actions(ryu) -> None:
    ryu_actions = ", ".join(_ids(V13_ACTION_CASES))
    msg, start = _v13_flow_mod(ryu, f"p.OFPInstructionActions(o.OFPIT_APPLY_ACTIONS, [{ryu_actions}])")
    apply = a.ApplyActions(tuple(model for _, _, model in V13_ACTION_CASES))
    ours = v13_actions.encode_instructions([apply])
    cls, body = ryu.parse(_with_body(msg, start, ours))
    assert (cls, body) == ryu.parse(msg)
    assert cls == "OFPFlowMod"
    parsed = body["instructions"][0]["OFPInstructionActions"]["actions"]
    assert len(parsed) == len(V13_ACTION_CASES)


# ---------------------------------------------------------------- OF1.0


@pytest.mark.parametrize(("expr", "hex_", "model"), V10_ACTION_CASES, ids=_ids(V10_ACTION_CASES))
def test_v10_action_from_ryu(ryu, expr: str, hex_: str, model: a.Action) -> None:
    msg, start, end = _v10_packet_out(ryu, expr)
    assert end == len(msg)
    assert msg[start:end].hex() == hex_
    assert v10_actions.decode_actions(msg, start, end) == (model,)


def test_v10_every_action_in_one_flow_mod(ryu) -> None:
    msg = _v10_flow_mod(ryu, ", ".join(_ids(V10_ACTION_CASES)))
    models = tuple(model for _, _, model in V10_ACTION_CASES)
    assert v10_actions.decode_actions(msg, V10_FLOW_MOD_ACTIONS, len(msg)) == models
    assert v10_actions.encode_actions(models) == msg[V10_FLOW_MOD_ACTIONS:]


def test_v10_ryu_parses_our_actions(ryu) -> None:
    msg = _v10_flow_mod(ryu, ", ".join(_ids(V10_ACTION_CASES)))
    ours = v10_actions.encode_actions(tuple(model for _, _, model in V10_ACTION_CASES))
    cls, body = ryu.parse(_with_body(msg, V10_FLOW_MOD_ACTIONS, ours))
    assert (cls, body) == ryu.parse(msg)
    assert cls == "OFPFlowMod"
    assert len(body["actions"]) == len(V10_ACTION_CASES)
