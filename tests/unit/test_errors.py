"""openflow.errors: every OF1.0/OF1.3 error number, the stand-ins, names, CodecError.

Two independent sources for the numbers: the spec enums typed out below
(OpenFlow 1.0.0 and 1.3.5, ``enum ofp_error_type`` and the ``ofp_*_code`` enums),
and Ryu 4.34's ``ofproto_v1_0.py``/``ofproto_v1_3.py`` read as source text from
.ryu-venv (the Ryu test fails, never skips, when that venv is missing).
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openflow.errors import (
    ERROR_TYPES,
    OFPET_EXPERIMENTER,
    CodecError,
    Err,
    ErrorType10,
    ErrorType13,
    OFPError,
    code_name,
    from_wire,
    type_name,
)

V10, V13 = 0x01, 0x04
REPO = Path(__file__).resolve().parents[2]

# Code-constant prefix of each error type (the spec's naming rule).
PREFIX_TYPE = {
    "OFPHFC": "OFPET_HELLO_FAILED",
    "OFPBRC": "OFPET_BAD_REQUEST",
    "OFPBAC": "OFPET_BAD_ACTION",
    "OFPBIC": "OFPET_BAD_INSTRUCTION",
    "OFPBMC": "OFPET_BAD_MATCH",
    "OFPFMFC": "OFPET_FLOW_MOD_FAILED",
    "OFPGMFC": "OFPET_GROUP_MOD_FAILED",
    "OFPPMFC": "OFPET_PORT_MOD_FAILED",
    "OFPTMFC": "OFPET_TABLE_MOD_FAILED",
    "OFPQOFC": "OFPET_QUEUE_OP_FAILED",
    "OFPSCFC": "OFPET_SWITCH_CONFIG_FAILED",
    "OFPRRFC": "OFPET_ROLE_REQUEST_FAILED",
    "OFPMMFC": "OFPET_METER_MOD_FAILED",
    "OFPTFFC": "OFPET_TABLE_FEATURES_FAILED",
}

# The spec enums: type name -> (type number, code prefix, code suffixes in order 0, 1, ...).
SPEC = {
    V10: {
        "OFPET_HELLO_FAILED": (0, "OFPHFC", "INCOMPATIBLE EPERM"),
        "OFPET_BAD_REQUEST": (
            1,
            "OFPBRC",
            "BAD_VERSION BAD_TYPE BAD_STAT BAD_VENDOR BAD_SUBTYPE EPERM BAD_LEN"
            " BUFFER_EMPTY BUFFER_UNKNOWN",
        ),
        "OFPET_BAD_ACTION": (
            2,
            "OFPBAC",
            "BAD_TYPE BAD_LEN BAD_VENDOR BAD_VENDOR_TYPE BAD_OUT_PORT BAD_ARGUMENT EPERM"
            " TOO_MANY BAD_QUEUE",
        ),
        "OFPET_FLOW_MOD_FAILED": (
            3,
            "OFPFMFC",
            "ALL_TABLES_FULL OVERLAP EPERM BAD_EMERG_TIMEOUT BAD_COMMAND UNSUPPORTED",
        ),
        "OFPET_PORT_MOD_FAILED": (4, "OFPPMFC", "BAD_PORT BAD_HW_ADDR"),
        "OFPET_QUEUE_OP_FAILED": (5, "OFPQOFC", "BAD_PORT BAD_QUEUE EPERM"),
    },
    V13: {
        "OFPET_HELLO_FAILED": (0, "OFPHFC", "INCOMPATIBLE EPERM"),
        "OFPET_BAD_REQUEST": (
            1,
            "OFPBRC",
            "BAD_VERSION BAD_TYPE BAD_MULTIPART BAD_EXPERIMENTER BAD_EXP_TYPE EPERM BAD_LEN"
            " BUFFER_EMPTY BUFFER_UNKNOWN BAD_TABLE_ID IS_SLAVE BAD_PORT BAD_PACKET"
            " MULTIPART_BUFFER_OVERFLOW",
        ),
        "OFPET_BAD_ACTION": (
            2,
            "OFPBAC",
            "BAD_TYPE BAD_LEN BAD_EXPERIMENTER BAD_EXP_TYPE BAD_OUT_PORT BAD_ARGUMENT EPERM"
            " TOO_MANY BAD_QUEUE BAD_OUT_GROUP MATCH_INCONSISTENT UNSUPPORTED_ORDER BAD_TAG"
            " BAD_SET_TYPE BAD_SET_LEN BAD_SET_ARGUMENT",
        ),
        "OFPET_BAD_INSTRUCTION": (
            3,
            "OFPBIC",
            "UNKNOWN_INST UNSUP_INST BAD_TABLE_ID UNSUP_METADATA UNSUP_METADATA_MASK"
            " BAD_EXPERIMENTER BAD_EXP_TYPE BAD_LEN EPERM",
        ),
        "OFPET_BAD_MATCH": (
            4,
            "OFPBMC",
            "BAD_TYPE BAD_LEN BAD_TAG BAD_DL_ADDR_MASK BAD_NW_ADDR_MASK BAD_WILDCARDS"
            " BAD_FIELD BAD_VALUE BAD_MASK BAD_PREREQ DUP_FIELD EPERM",
        ),
        "OFPET_FLOW_MOD_FAILED": (
            5,
            "OFPFMFC",
            "UNKNOWN TABLE_FULL BAD_TABLE_ID OVERLAP EPERM BAD_TIMEOUT BAD_COMMAND BAD_FLAGS",
        ),
        "OFPET_GROUP_MOD_FAILED": (
            6,
            "OFPGMFC",
            "GROUP_EXISTS INVALID_GROUP WEIGHT_UNSUPPORTED OUT_OF_GROUPS OUT_OF_BUCKETS"
            " CHAINING_UNSUPPORTED WATCH_UNSUPPORTED LOOP UNKNOWN_GROUP CHAINED_GROUP"
            " BAD_TYPE BAD_COMMAND BAD_BUCKET BAD_WATCH EPERM",
        ),
        "OFPET_PORT_MOD_FAILED": (
            7,
            "OFPPMFC",
            "BAD_PORT BAD_HW_ADDR BAD_CONFIG BAD_ADVERTISE EPERM",
        ),
        "OFPET_TABLE_MOD_FAILED": (8, "OFPTMFC", "BAD_TABLE BAD_CONFIG EPERM"),
        "OFPET_QUEUE_OP_FAILED": (9, "OFPQOFC", "BAD_PORT BAD_QUEUE EPERM"),
        "OFPET_SWITCH_CONFIG_FAILED": (10, "OFPSCFC", "BAD_FLAGS BAD_LEN EPERM"),
        "OFPET_ROLE_REQUEST_FAILED": (11, "OFPRRFC", "STALE UNSUP BAD_ROLE"),
        "OFPET_METER_MOD_FAILED": (
            12,
            "OFPMMFC",
            "UNKNOWN METER_EXISTS INVALID_METER UNKNOWN_METER BAD_COMMAND BAD_FLAGS"
            " BAD_RATE BAD_BURST BAD_BAND BAD_BAND_VALUE OUT_OF_METERS OUT_OF_BANDS",
        ),
        "OFPET_TABLE_FEATURES_FAILED": (
            13,
            "OFPTFFC",
            "BAD_TABLE BAD_METADATA BAD_TYPE BAD_LEN BAD_ARGUMENT EPERM",
        ),
        "OFPET_EXPERIMENTER": (0xFFFF, "", ""),
    },
}


def spec_codes(version: int) -> dict[str, tuple[int, int]]:
    """Code name -> (type, code) of every error ``version`` defines."""
    codes = {}
    for type_, prefix, suffixes in SPEC[version].values():
        for code, suffix in enumerate(suffixes.split()):
            codes[f"{prefix}_{suffix}"] = (type_, code)
    return codes


def native_pairs(version: int) -> dict[tuple[int, int], Err]:
    pairs = {}
    for err in Err:
        if err.is_native(version):
            pairs[err.wire(version)] = err
    return pairs


# ---------------------------------------------------------------- the spec enums


@pytest.mark.parametrize("version", [V10, V13])
def test_error_types_are_the_spec_enum(version):
    expected = {name: number for name, (number, _, _) in SPEC[version].items()}
    assert {t.name: t.value for t in ERROR_TYPES[version]} == expected


def test_error_type_numbers():
    assert OFPET_EXPERIMENTER == 0xFFFF
    assert ErrorType13.OFPET_EXPERIMENTER == 0xFFFF
    assert ErrorType13.OFPET_BAD_MATCH == 4
    assert ErrorType13.OFPET_TABLE_FEATURES_FAILED == 13
    assert ErrorType10.OFPET_FLOW_MOD_FAILED == 3
    assert ErrorType10.OFPET_QUEUE_OP_FAILED == 5


@pytest.mark.parametrize("version", [V10, V13])
def test_every_spec_code_maps_to_its_numbers(version):
    for name, pair in spec_codes(version).items():
        err = Err[name]
        assert err.wire(version) == pair, name
        assert err.is_native(version), name
        assert from_wire(version, *pair) is err, name
        assert code_name(version, *pair) == name


@pytest.mark.parametrize("version", [V10, V13])
def test_native_codes_are_exactly_the_spec(version):
    expected = set(spec_codes(version).values())
    assert set(native_pairs(version)) == expected


def test_spec_sizes():
    assert len(spec_codes(V10)) == 31
    assert len(spec_codes(V13)) == 111
    # OF1.3's codes, OF1.0's OFPFMFC_BAD_EMERG_TIMEOUT and OFPFMFC_UNSUPPORTED, and
    # OFPBIC_DUP_INST; OF1.0's other codes are OF1.3 members or their aliases.
    assert len(Err) == 114


# ---------------------------------------------------------------- Ryu 4.34 as a second source


def ryu_constants(module: str) -> dict[str, int]:
    """Module-level integer constants of a Ryu ofproto module, read as source text."""
    found = sorted(REPO.glob(f".ryu-venv/lib/python3*/site-packages/ryu/ofproto/{module}.py"))
    if not found:
        pytest.fail(
            f"Ryu 4.34 sources missing: no .ryu-venv/lib/python3*/.../ryu/ofproto/{module}.py"
        )
    tree = ast.parse(found[0].read_text())
    constants = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            constants[node.targets[0].id] = node.value.value
    return constants


def ryu_errors(module: str) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """(OFPET_* -> type, code name -> (type, code)) as Ryu defines them."""
    constants = ryu_constants(module)
    types = {name: value for name, value in constants.items() if name.startswith("OFPET_")}
    # Ryu keeps OFPQCFC_EPERM, the OF1.3.0 misspelling of OFPSCFC_EPERM (EXT-208).
    if "OFPQCFC_EPERM" in constants:
        assert constants.pop("OFPQCFC_EPERM") == constants["OFPSCFC_EPERM"]
    codes = {}
    for name, value in constants.items():
        prefix = name.split("_", 1)[0]
        if prefix in PREFIX_TYPE:
            codes[name] = (types[PREFIX_TYPE[prefix]], value)
    return types, codes


@pytest.mark.crosscheck
@pytest.mark.parametrize(("version", "module"), [(V10, "ofproto_v1_0"), (V13, "ofproto_v1_3")])
def test_ryu_constants_equal_our_table(version, module):
    types, codes = ryu_errors(module)
    assert types == {t.name: t.value for t in ERROR_TYPES[version]}
    assert len(codes) == len(spec_codes(version))
    for name, pair in codes.items():
        assert Err[name].wire(version) == pair, name
        assert from_wire(version, *pair) is Err[name], name
        assert code_name(version, *pair) == name, name
        assert type_name(version, pair[0]) == PREFIX_TYPE[name.split("_", 1)[0]]
    assert set(codes.values()) == set(native_pairs(version))


# ---------------------------------------------------------------- one member, two spellings


OF10_SPELLINGS = {
    "OFPBRC_BAD_STAT": "OFPBRC_BAD_MULTIPART",
    "OFPBRC_BAD_VENDOR": "OFPBRC_BAD_EXPERIMENTER",
    "OFPBRC_BAD_SUBTYPE": "OFPBRC_BAD_EXP_TYPE",
    "OFPBAC_BAD_VENDOR": "OFPBAC_BAD_EXPERIMENTER",
    "OFPBAC_BAD_VENDOR_TYPE": "OFPBAC_BAD_EXP_TYPE",
    "OFPFMFC_ALL_TABLES_FULL": "OFPFMFC_TABLE_FULL",
}


def test_aliases_are_exactly_the_of10_spellings():
    aliases = {name: err.name for name, err in Err.__members__.items() if name != err.name}
    assert aliases == OF10_SPELLINGS
    assert Err.OFPBRC_BAD_VENDOR is Err.OFPBRC_BAD_EXPERIMENTER
    assert Err.OFPFMFC_ALL_TABLES_FULL is Err.OFPFMFC_TABLE_FULL


@pytest.mark.parametrize(("of10", "of13"), sorted(OF10_SPELLINGS.items()))
def test_alias_prints_per_version(of10, of13):
    err = Err[of13]
    assert err.is_native(V10) and err.is_native(V13)
    assert code_name(V10, *err.wire(V10)) == of10
    assert code_name(V13, *err.wire(V13)) == of13


def test_same_name_different_type_number():
    assert Err.OFPFMFC_TABLE_FULL.wire(V10) == (3, 0)
    assert Err.OFPFMFC_TABLE_FULL.wire(V13) == (5, 1)
    assert Err.OFPPMFC_BAD_HW_ADDR.wire(V10) == (4, 1)
    assert Err.OFPPMFC_BAD_HW_ADDR.wire(V13) == (7, 1)
    assert Err.OFPQOFC_EPERM.wire(V10) == (5, 2)
    assert Err.OFPQOFC_EPERM.wire(V13) == (9, 2)


# ---------------------------------------------------------------- stand-ins


@pytest.mark.parametrize("version", [V10, V13])
def test_every_error_is_sendable_as_a_native_error(version):
    natives = native_pairs(version)
    for err in Err:
        pair = err.wire(version)
        assert pair in natives, err.name
        if err.is_native(version):
            assert from_wire(version, *pair) is err
        else:
            assert from_wire(version, *pair) is not err


def test_every_error_is_native_somewhere_but_dup_inst():
    nowhere = [err for err in Err if not err.is_native(V10) and not err.is_native(V13)]
    assert nowhere == [Err.OFPBIC_DUP_INST]


@pytest.mark.parametrize(
    ("err", "of10"),
    [
        # OVS sends (1,5) for a slave on OF1.0 too.
        (Err.OFPBRC_IS_SLAVE, (1, 5)),
        (Err.OFPBRC_BAD_TABLE_ID, (1, 2)),
        (Err.OFPBRC_BAD_PORT, (4, 0)),
        (Err.OFPBRC_BAD_PACKET, (1, 6)),
        (Err.OFPBAC_BAD_OUT_GROUP, (2, 4)),
        (Err.OFPBAC_UNSUPPORTED_ORDER, (3, 5)),
        (Err.OFPBAC_BAD_SET_TYPE, (2, 0)),
        (Err.OFPBAC_BAD_SET_ARGUMENT, (2, 5)),
        (Err.OFPBIC_UNSUP_INST, (3, 5)),
        (Err.OFPBIC_BAD_EXPERIMENTER, (2, 2)),
        (Err.OFPBIC_DUP_INST, (3, 5)),
        (Err.OFPBMC_BAD_PREREQ, (3, 5)),
        (Err.OFPBMC_BAD_VALUE, (3, 5)),
        (Err.OFPBMC_DUP_FIELD, (3, 5)),
        (Err.OFPBMC_BAD_LEN, (1, 6)),
        (Err.OFPBMC_EPERM, (1, 5)),
        (Err.OFPFMFC_BAD_TIMEOUT, (3, 3)),
        (Err.OFPFMFC_BAD_FLAGS, (3, 5)),
        (Err.OFPGMFC_UNKNOWN_GROUP, (1, 1)),
        (Err.OFPGMFC_EPERM, (1, 5)),
        (Err.OFPPMFC_BAD_CONFIG, (1, 5)),
        (Err.OFPMMFC_UNKNOWN_METER, (1, 1)),
        (Err.OFPRRFC_STALE, (1, 1)),
        (Err.OFPTFFC_BAD_LEN, (1, 2)),
        (Err.OFPSCFC_BAD_LEN, (1, 6)),
    ],
)
def test_of13_only_errors_on_of10(err, of10):
    assert not err.is_native(V10)
    assert err.wire(V10) == of10


@pytest.mark.parametrize(
    ("err", "of13"),
    [
        (Err.OFPFMFC_BAD_EMERG_TIMEOUT, (5, 5)),  # OFPFMFC_BAD_TIMEOUT
        (Err.OFPFMFC_UNSUPPORTED, (2, 11)),  # OFPBAC_UNSUPPORTED_ORDER
        (Err.OFPBIC_DUP_INST, (3, 1)),  # OFPBIC_UNSUP_INST; (3,9) is OF1.4's
    ],
)
def test_errors_without_an_of13_code(err, of13):
    assert not err.is_native(V13)
    assert err.wire(V13) == of13


def test_of14_dup_inst_number_is_not_decoded_as_of13():
    assert from_wire(V13, 3, 9) is None
    assert code_name(V13, 3, 9) == "code 9"


# ---------------------------------------------------------------- names and lookups


@pytest.mark.parametrize("version", [V10, V13])
def test_code_names_carry_their_type_prefix(version):
    for (type_, code), err in native_pairs(version).items():
        name = code_name(version, type_, code)
        assert PREFIX_TYPE[name.split("_", 1)[0]] == type_name(version, type_), err


def test_names():
    assert type_name(V13, 1) == "OFPET_BAD_REQUEST"
    assert type_name(V13, 4) == "OFPET_BAD_MATCH"
    assert type_name(V10, 4) == "OFPET_PORT_MOD_FAILED"
    assert type_name(V13, 0xFFFF) == "OFPET_EXPERIMENTER"
    assert code_name(V13, 1, 6) == "OFPBRC_BAD_LEN"
    assert code_name(V13, 4, 9) == "OFPBMC_BAD_PREREQ"
    assert code_name(V10, 3, 5) == "OFPFMFC_UNSUPPORTED"
    assert code_name(V13, 3, 5) == "OFPBIC_BAD_EXPERIMENTER"


def test_unknown_numbers_get_generic_names():
    assert type_name(V13, 99) == "type 99"
    assert type_name(V10, 6) == "type 6"  # OF1.3's GROUP_MOD_FAILED number
    assert type_name(V10, 0xFFFF) == "type 65535"  # no experimenter errors in OF1.0
    assert type_name(0x05, 1) == "type 1"
    assert code_name(V13, 1, 7000) == "code 7000"
    assert code_name(V13, 99, 7) == "code 7"
    assert code_name(V10, 4, 2) == "code 2"  # OF1.3's OFPPMFC_BAD_CONFIG
    assert code_name(V13, OFPET_EXPERIMENTER, 2600) == "code 2600"
    assert code_name(0x02, 1, 6) == "code 6"


def test_from_wire_is_exact():
    assert from_wire(V13, 1, 6) is Err.OFPBRC_BAD_LEN
    assert from_wire(V10, 3, 0) is Err.OFPFMFC_TABLE_FULL
    assert from_wire(V13, 3, 0) is Err.OFPBIC_UNKNOWN_INST
    assert from_wire(V10, 5, 2) is Err.OFPQOFC_EPERM
    assert from_wire(V13, 5, 2) is Err.OFPFMFC_BAD_TABLE_ID
    assert from_wire(V10, 1, 9) is None  # OF1.3's OFPBRC_BAD_TABLE_ID
    assert from_wire(V10, 6, 0) is None
    assert from_wire(V13, OFPET_EXPERIMENTER, 0) is None
    assert from_wire(0x05, 1, 6) is None


@given(
    version=st.integers(0, 255),
    type_=st.integers(0, 0xFFFF),
    code=st.integers(0, 0xFFFF),
)
def test_lookups_never_raise(version, type_, code):
    err = from_wire(version, type_, code)
    assert err is None or err.wire(version) == (type_, code)
    assert isinstance(type_name(version, type_), str)
    name = code_name(version, type_, code)
    assert (err is None) == (name == f"code {code}")


@pytest.mark.parametrize("version", [0x00, 0x02, 0x03, 0x05])
def test_wire_rejects_unsupported_versions(version):
    with pytest.raises(ValueError, match="version"):
        Err.OFPBRC_BAD_LEN.wire(version)
    assert not Err.OFPBRC_BAD_LEN.is_native(version)


# ---------------------------------------------------------------- CodecError


def test_codec_error_fields_and_text():
    exc = CodecError(Err.OFPBRC_BAD_LEN, "header says 9 bytes, have 8")
    assert exc.err is Err.OFPBRC_BAD_LEN
    assert exc.detail == "header says 9 bytes, have 8"
    assert str(exc) == "OFPBRC_BAD_LEN: header says 9 bytes, have 8"
    bare = CodecError(Err.OFPBMC_BAD_PREREQ)
    assert bare.detail == ""
    assert str(bare) == "OFPBMC_BAD_PREREQ"


def test_codec_error_type_code_per_version():
    exc = CodecError(Err.OFPBMC_BAD_PREREQ, "ipv4_src without eth_type")
    assert exc.type_code(V13) == (4, 9)
    assert exc.type_code(V10) == (3, 5)
    assert CodecError(Err.OFPBRC_BAD_VENDOR).type_code(V10) == (1, 3)
    assert CodecError(Err.OFPFMFC_TABLE_FULL).type_code(V10) == (3, 0)


def test_codec_error_is_an_exception_and_ofperror_is_it():
    assert OFPError is CodecError
    with pytest.raises(CodecError) as info:
        raise OFPError(Err.OFPGMFC_LOOP, "group 1 -> 2 -> 1")
    assert info.value.type_code(V13) == (6, 7)
    assert isinstance(info.value, Exception)


def test_codec_error_pickles():
    exc = pickle.loads(pickle.dumps(CodecError(Err.OFPBAC_BAD_OUT_PORT, "port 99")))
    assert (exc.err, exc.detail, str(exc)) == (
        Err.OFPBAC_BAD_OUT_PORT,
        "port 99",
        "OFPBAC_BAD_OUT_PORT: port 99",
    )
