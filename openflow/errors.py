"""OpenFlow error types and codes of OF1.0 and OF1.3, defined once, and ``CodecError``.

Where it sits: the bottom of ``openflow/``; every codec and, later, the pipeline
raise ``CodecError(Err.<NAME>)`` and the channel turns it into an OFPT_ERROR.

What it owns:

* ``Err``: one member per symbolic error, named with the spec's code constant
  (``OFPBRC_BAD_LEN``, ``OFPBMC_BAD_PREREQ``, ...).  Each member's value is its row
  in the table below: one entry for OF1.0 (wire version 0x01) and one for OF1.3
  (0x04).  An entry is either

  - ``(type, code)``: the error is *native* to that version with those numbers, or
  - ``"OTHER_NAME"``: the version has no such error; send the closest error it does
    have (a native member of that version).  Each such choice carries its reason.

  Where OF1.0 and OF1.3 spell one error differently (OF1.0's vendor/stats words,
  ``OFPFMFC_ALL_TABLES_FULL``) the OF1.3 name is the member and the OF1.0 name an
  enum alias of it; ``code_name`` prints the OF1.0 spelling on OF1.0.
* ``ErrorType10`` / ``ErrorType13``: the ``enum ofp_error_type`` of each version,
  ``OFPET_EXPERIMENTER`` (OF1.3 only; its code is the experimenter's exp_type).
* ``type_name`` / ``code_name`` / ``from_wire``: wire numbers -> names and members.
* ``CodecError`` (alias ``OFPError``): the one exception type of decode paths.

Numbers follow the OpenFlow 1.0.0 and 1.3.5 specifications (checked against Ryu's
``ofproto_v1_0.py``/``ofproto_v1_3.py`` and Open vSwitch's ``ofp-errors.h`` by
tests/unit/test_errors.py).  OFPBIC_DUP_INST is OF1.4's (3,9); OF1.3 reports it
only as an ONF experimenter error (exp_type 2600), so here it is native to neither.
"""

from __future__ import annotations

import enum

from openflow.consts import OFP10, OFP13

# One OF1.0 / OF1.3 entry of an ``Err`` row: native (type, code), or the name of
# the native error of that version to send instead.
_Entry = tuple[int, int] | str

_VERSIONS = (OFP10, OFP13)  # the order of the entries in every row

OFPET_EXPERIMENTER = 0xFFFF


class ErrorType10(enum.IntEnum):
    """OF1.0 ``enum ofp_error_type``."""

    OFPET_HELLO_FAILED = 0
    OFPET_BAD_REQUEST = 1
    OFPET_BAD_ACTION = 2
    OFPET_FLOW_MOD_FAILED = 3
    OFPET_PORT_MOD_FAILED = 4
    OFPET_QUEUE_OP_FAILED = 5


class ErrorType13(enum.IntEnum):
    """OF1.3 ``enum ofp_error_type``."""

    OFPET_HELLO_FAILED = 0
    OFPET_BAD_REQUEST = 1
    OFPET_BAD_ACTION = 2
    OFPET_BAD_INSTRUCTION = 3
    OFPET_BAD_MATCH = 4
    OFPET_FLOW_MOD_FAILED = 5
    OFPET_GROUP_MOD_FAILED = 6
    OFPET_PORT_MOD_FAILED = 7
    OFPET_TABLE_MOD_FAILED = 8
    OFPET_QUEUE_OP_FAILED = 9
    OFPET_SWITCH_CONFIG_FAILED = 10
    OFPET_ROLE_REQUEST_FAILED = 11
    OFPET_METER_MOD_FAILED = 12
    OFPET_TABLE_FEATURES_FAILED = 13
    OFPET_EXPERIMENTER = OFPET_EXPERIMENTER


ERROR_TYPES: dict[int, type[enum.IntEnum]] = {OFP10: ErrorType10, OFP13: ErrorType13}


class Err(enum.Enum):
    """A symbolic OpenFlow error; ``wire(version)`` gives its (type, code).

    Rows are ``(OF1.0 entry, OF1.3 entry)``, see the module docstring.  Rules for
    the OF1.0 stand-ins, which are standard OF1.0 codes (OVS uses Nicira vendor
    codes there instead; we want any OF1.0 controller to understand us):

    * a request OF1.0 does not have (group, meter, table mod, role) -> OFPBRC_BAD_TYPE;
      a multipart body OF1.0 does not have (table features) -> OFPBRC_BAD_STAT;
    * a permission error -> OFPBRC_EPERM (OVS does the same for OFPBRC_IS_SLAVE);
    * OF1.0 has no match errors and no "bad argument" code for requests: a match or
      flow the switch cannot take -> OFPFMFC_UNSUPPORTED (the one OF1.0 code saying
      "this flow cannot be installed as asked"; BAD_REQUEST codes would all name a
      different fault); a well-formed config the switch refuses -> OFPBRC_EPERM;
      a length problem -> the OF1.0 BAD_LEN of the same area.
    """

    # -- OFPET_HELLO_FAILED: OF1.0 type 0, OF1.3 type 0 ------------------------
    OFPHFC_INCOMPATIBLE = ((0, 0), (0, 0))
    OFPHFC_EPERM = ((0, 1), (0, 1))

    # -- OFPET_BAD_REQUEST: OF1.0 type 1, OF1.3 type 1 -------------------------
    OFPBRC_BAD_VERSION = ((1, 0), (1, 0))
    OFPBRC_BAD_TYPE = ((1, 1), (1, 1))
    OFPBRC_BAD_MULTIPART = ((1, 2), (1, 2))  # OF1.0: OFPBRC_BAD_STAT
    OFPBRC_BAD_EXPERIMENTER = ((1, 3), (1, 3))  # OF1.0: OFPBRC_BAD_VENDOR
    OFPBRC_BAD_EXP_TYPE = ((1, 4), (1, 4))  # OF1.0: OFPBRC_BAD_SUBTYPE
    OFPBRC_EPERM = ((1, 5), (1, 5))
    OFPBRC_BAD_LEN = ((1, 6), (1, 6))
    OFPBRC_BUFFER_EMPTY = ((1, 7), (1, 7))
    OFPBRC_BUFFER_UNKNOWN = ((1, 8), (1, 8))
    # OF1.0 names a table only in flow/aggregate stats requests.
    OFPBRC_BAD_TABLE_ID = ("OFPBRC_BAD_STAT", (1, 9))
    # The spec's own OF1.0 answer for a slave (OVS: OF1.0-1.1 (1,5)).
    OFPBRC_IS_SLAVE = ("OFPBRC_EPERM", (1, 10))
    # "Specified port does not exist": same meaning, only the type is port-mod's.
    OFPBRC_BAD_PORT = ("OFPPMFC_BAD_PORT", (1, 11))
    # Packet-out data the switch cannot parse: a length problem in OF1.0 terms.
    OFPBRC_BAD_PACKET = ("OFPBRC_BAD_LEN", (1, 12))
    OFPBRC_MULTIPART_BUFFER_OVERFLOW = ("OFPBRC_BAD_LEN", (1, 13))

    # -- OFPET_BAD_ACTION: OF1.0 type 2, OF1.3 type 2 --------------------------
    OFPBAC_BAD_TYPE = ((2, 0), (2, 0))
    OFPBAC_BAD_LEN = ((2, 1), (2, 1))
    OFPBAC_BAD_EXPERIMENTER = ((2, 2), (2, 2))  # OF1.0: OFPBAC_BAD_VENDOR
    OFPBAC_BAD_EXP_TYPE = ((2, 3), (2, 3))  # OF1.0: OFPBAC_BAD_VENDOR_TYPE
    OFPBAC_BAD_OUT_PORT = ((2, 4), (2, 4))
    OFPBAC_BAD_ARGUMENT = ((2, 5), (2, 5))
    OFPBAC_EPERM = ((2, 6), (2, 6))
    OFPBAC_TOO_MANY = ((2, 7), (2, 7))
    OFPBAC_BAD_QUEUE = ((2, 8), (2, 8))
    OFPBAC_BAD_OUT_GROUP = ("OFPBAC_BAD_OUT_PORT", (2, 9))  # a bad forwarding target
    OFPBAC_MATCH_INCONSISTENT = ("OFPBAC_BAD_ARGUMENT", (2, 10))
    # OF1.0's OFPFMFC_UNSUPPORTED is literally "cannot process in the order specified".
    OFPBAC_UNSUPPORTED_ORDER = ("OFPFMFC_UNSUPPORTED", (2, 11))
    OFPBAC_BAD_TAG = ("OFPBAC_BAD_ARGUMENT", (2, 12))
    # OF1.0 names the field by the action type (SET_DL_SRC, ...), so an unsupported
    # field is an unknown action type there.
    OFPBAC_BAD_SET_TYPE = ("OFPBAC_BAD_TYPE", (2, 13))
    OFPBAC_BAD_SET_LEN = ("OFPBAC_BAD_LEN", (2, 14))
    OFPBAC_BAD_SET_ARGUMENT = ("OFPBAC_BAD_ARGUMENT", (2, 15))

    # -- OFPET_BAD_INSTRUCTION: OF1.3 type 3 -----------------------------------
    # OF1.0 has one implicit apply-actions "instruction", its action list, so
    # instruction errors become the matching action-list errors.
    OFPBIC_UNKNOWN_INST = ("OFPBAC_BAD_TYPE", (3, 0))
    OFPBIC_UNSUP_INST = ("OFPFMFC_UNSUPPORTED", (3, 1))
    OFPBIC_BAD_TABLE_ID = ("OFPBAC_BAD_ARGUMENT", (3, 2))
    OFPBIC_UNSUP_METADATA = ("OFPBAC_BAD_ARGUMENT", (3, 3))
    OFPBIC_UNSUP_METADATA_MASK = ("OFPBAC_BAD_ARGUMENT", (3, 4))
    OFPBIC_BAD_EXPERIMENTER = ("OFPBAC_BAD_VENDOR", (3, 5))
    OFPBIC_BAD_EXP_TYPE = ("OFPBAC_BAD_VENDOR_TYPE", (3, 6))
    OFPBIC_BAD_LEN = ("OFPBAC_BAD_LEN", (3, 7))
    OFPBIC_EPERM = ("OFPBAC_EPERM", (3, 8))
    # OF1.4+ (3,9); OF1.3 has no standard code (OVS sends ONF experimenter error
    # 2600), so OF1.3 gets "the table does not support the instruction (again)".
    OFPBIC_DUP_INST = ("OFPFMFC_UNSUPPORTED", "OFPBIC_UNSUP_INST")

    # -- OFPET_BAD_MATCH: OF1.3 type 4 (OF1.0: see the class docstring) ---------
    OFPBMC_BAD_TYPE = ("OFPFMFC_UNSUPPORTED", (4, 0))
    OFPBMC_BAD_LEN = ("OFPBRC_BAD_LEN", (4, 1))
    OFPBMC_BAD_TAG = ("OFPFMFC_UNSUPPORTED", (4, 2))
    OFPBMC_BAD_DL_ADDR_MASK = ("OFPFMFC_UNSUPPORTED", (4, 3))
    OFPBMC_BAD_NW_ADDR_MASK = ("OFPFMFC_UNSUPPORTED", (4, 4))
    OFPBMC_BAD_WILDCARDS = ("OFPFMFC_UNSUPPORTED", (4, 5))
    OFPBMC_BAD_FIELD = ("OFPFMFC_UNSUPPORTED", (4, 6))
    OFPBMC_BAD_VALUE = ("OFPFMFC_UNSUPPORTED", (4, 7))
    OFPBMC_BAD_MASK = ("OFPFMFC_UNSUPPORTED", (4, 8))
    OFPBMC_BAD_PREREQ = ("OFPFMFC_UNSUPPORTED", (4, 9))
    OFPBMC_DUP_FIELD = ("OFPFMFC_UNSUPPORTED", (4, 10))
    OFPBMC_EPERM = ("OFPBRC_EPERM", (4, 11))

    # -- OFPET_FLOW_MOD_FAILED: OF1.0 type 3, OF1.3 type 5 ---------------------
    OFPFMFC_UNKNOWN = ("OFPFMFC_UNSUPPORTED", (5, 0))  # OF1.0 has no "unspecified"
    OFPFMFC_TABLE_FULL = ((3, 0), (5, 1))  # OF1.0: OFPFMFC_ALL_TABLES_FULL
    OFPFMFC_BAD_TABLE_ID = ("OFPFMFC_UNSUPPORTED", (5, 2))  # no table_id in OF1.0
    OFPFMFC_OVERLAP = ((3, 1), (5, 3))
    OFPFMFC_EPERM = ((3, 2), (5, 4))
    # OF1.0's timeout error ("non-zero idle/hard timeout", for emergency flows).
    OFPFMFC_BAD_TIMEOUT = ("OFPFMFC_BAD_EMERG_TIMEOUT", (5, 5))
    OFPFMFC_BAD_COMMAND = ((3, 4), (5, 6))
    OFPFMFC_BAD_FLAGS = ("OFPFMFC_UNSUPPORTED", (5, 7))
    # OF1.0 only.  Emergency flows are gone in OF1.3; the timeout is what was bad.
    OFPFMFC_BAD_EMERG_TIMEOUT = ((3, 3), "OFPFMFC_BAD_TIMEOUT")
    # OF1.0 only: "Unsupported action list - cannot process in the order
    # specified", which OF1.3 moved to OFPBAC_UNSUPPORTED_ORDER.
    OFPFMFC_UNSUPPORTED = ((3, 5), "OFPBAC_UNSUPPORTED_ORDER")

    # -- OFPET_GROUP_MOD_FAILED: OF1.3 type 6 (no groups in OF1.0) -------------
    OFPGMFC_GROUP_EXISTS = ("OFPBRC_BAD_TYPE", (6, 0))
    OFPGMFC_INVALID_GROUP = ("OFPBRC_BAD_TYPE", (6, 1))
    OFPGMFC_WEIGHT_UNSUPPORTED = ("OFPBRC_BAD_TYPE", (6, 2))
    OFPGMFC_OUT_OF_GROUPS = ("OFPBRC_BAD_TYPE", (6, 3))
    OFPGMFC_OUT_OF_BUCKETS = ("OFPBRC_BAD_TYPE", (6, 4))
    OFPGMFC_CHAINING_UNSUPPORTED = ("OFPBRC_BAD_TYPE", (6, 5))
    OFPGMFC_WATCH_UNSUPPORTED = ("OFPBRC_BAD_TYPE", (6, 6))
    OFPGMFC_LOOP = ("OFPBRC_BAD_TYPE", (6, 7))
    OFPGMFC_UNKNOWN_GROUP = ("OFPBRC_BAD_TYPE", (6, 8))
    OFPGMFC_CHAINED_GROUP = ("OFPBRC_BAD_TYPE", (6, 9))
    OFPGMFC_BAD_TYPE = ("OFPBRC_BAD_TYPE", (6, 10))
    OFPGMFC_BAD_COMMAND = ("OFPBRC_BAD_TYPE", (6, 11))
    OFPGMFC_BAD_BUCKET = ("OFPBRC_BAD_TYPE", (6, 12))
    OFPGMFC_BAD_WATCH = ("OFPBRC_BAD_TYPE", (6, 13))
    OFPGMFC_EPERM = ("OFPBRC_EPERM", (6, 14))

    # -- OFPET_PORT_MOD_FAILED: OF1.0 type 4, OF1.3 type 7 ---------------------
    OFPPMFC_BAD_PORT = ((4, 0), (7, 0))
    OFPPMFC_BAD_HW_ADDR = ((4, 1), (7, 1))
    OFPPMFC_BAD_CONFIG = ("OFPBRC_EPERM", (7, 2))  # refused, not malformed
    OFPPMFC_BAD_ADVERTISE = ("OFPBRC_EPERM", (7, 3))  # refused, not malformed
    OFPPMFC_EPERM = ("OFPBRC_EPERM", (7, 4))

    # -- OFPET_TABLE_MOD_FAILED: OF1.3 type 8 (no table mod in OF1.0) ----------
    OFPTMFC_BAD_TABLE = ("OFPBRC_BAD_TYPE", (8, 0))
    OFPTMFC_BAD_CONFIG = ("OFPBRC_BAD_TYPE", (8, 1))
    OFPTMFC_EPERM = ("OFPBRC_EPERM", (8, 2))

    # -- OFPET_QUEUE_OP_FAILED: OF1.0 type 5, OF1.3 type 9 ---------------------
    OFPQOFC_BAD_PORT = ((5, 0), (9, 0))
    OFPQOFC_BAD_QUEUE = ((5, 1), (9, 1))
    OFPQOFC_EPERM = ((5, 2), (9, 2))

    # -- OFPET_SWITCH_CONFIG_FAILED: OF1.3 type 10 -----------------------------
    OFPSCFC_BAD_FLAGS = ("OFPBRC_EPERM", (10, 0))  # refused, not malformed
    OFPSCFC_BAD_LEN = ("OFPBRC_BAD_LEN", (10, 1))
    OFPSCFC_EPERM = ("OFPBRC_EPERM", (10, 2))

    # -- OFPET_ROLE_REQUEST_FAILED: OF1.3 type 11 (no role request in OF1.0) ---
    OFPRRFC_STALE = ("OFPBRC_BAD_TYPE", (11, 0))
    OFPRRFC_UNSUP = ("OFPBRC_BAD_TYPE", (11, 1))
    OFPRRFC_BAD_ROLE = ("OFPBRC_BAD_TYPE", (11, 2))

    # -- OFPET_METER_MOD_FAILED: OF1.3 type 12 (no meters in OF1.0) ------------
    OFPMMFC_UNKNOWN = ("OFPBRC_BAD_TYPE", (12, 0))
    OFPMMFC_METER_EXISTS = ("OFPBRC_BAD_TYPE", (12, 1))
    OFPMMFC_INVALID_METER = ("OFPBRC_BAD_TYPE", (12, 2))
    OFPMMFC_UNKNOWN_METER = ("OFPBRC_BAD_TYPE", (12, 3))
    OFPMMFC_BAD_COMMAND = ("OFPBRC_BAD_TYPE", (12, 4))
    OFPMMFC_BAD_FLAGS = ("OFPBRC_BAD_TYPE", (12, 5))
    OFPMMFC_BAD_RATE = ("OFPBRC_BAD_TYPE", (12, 6))
    OFPMMFC_BAD_BURST = ("OFPBRC_BAD_TYPE", (12, 7))
    OFPMMFC_BAD_BAND = ("OFPBRC_BAD_TYPE", (12, 8))
    OFPMMFC_BAD_BAND_VALUE = ("OFPBRC_BAD_TYPE", (12, 9))
    OFPMMFC_OUT_OF_METERS = ("OFPBRC_BAD_TYPE", (12, 10))
    OFPMMFC_OUT_OF_BANDS = ("OFPBRC_BAD_TYPE", (12, 11))

    # -- OFPET_TABLE_FEATURES_FAILED: OF1.3 type 13 (a multipart body OF1.0 lacks)
    OFPTFFC_BAD_TABLE = ("OFPBRC_BAD_STAT", (13, 0))
    OFPTFFC_BAD_METADATA = ("OFPBRC_BAD_STAT", (13, 1))
    OFPTFFC_BAD_TYPE = ("OFPBRC_BAD_STAT", (13, 2))
    OFPTFFC_BAD_LEN = ("OFPBRC_BAD_STAT", (13, 3))
    OFPTFFC_BAD_ARGUMENT = ("OFPBRC_BAD_STAT", (13, 4))
    OFPTFFC_EPERM = ("OFPBRC_EPERM", (13, 5))

    # -- OF1.0 spellings of the errors above (enum aliases: the same member).
    # code_name() prints these names on OF1.0; nothing else may be an alias.
    OFPBRC_BAD_STAT = OFPBRC_BAD_MULTIPART
    OFPBRC_BAD_VENDOR = OFPBRC_BAD_EXPERIMENTER
    OFPBRC_BAD_SUBTYPE = OFPBRC_BAD_EXP_TYPE
    OFPBAC_BAD_VENDOR = OFPBAC_BAD_EXPERIMENTER
    OFPBAC_BAD_VENDOR_TYPE = OFPBAC_BAD_EXP_TYPE
    OFPFMFC_ALL_TABLES_FULL = OFPFMFC_TABLE_FULL

    def wire(self, version: int) -> tuple[int, int]:
        """The (type, code) to send for this error on a ``version`` connection."""
        table = _WIRE.get(version)
        if table is None:
            raise ValueError(f"no OpenFlow error table for version 0x{version:02x}")
        return table[self]

    def is_native(self, version: int) -> bool:
        """True if ``version`` defines this very error (not a stand-in for it)."""
        table = _NATIVE.get(version)
        return table is not None and table.get(self.wire(version)) is self


def _build() -> tuple[
    dict[int, dict[Err, tuple[int, int]]],
    dict[int, dict[tuple[int, int], Err]],
    dict[int, dict[tuple[int, int], str]],
]:
    """Resolve the rows of ``Err`` into per-version lookup tables; check them."""
    wire: dict[int, dict[Err, tuple[int, int]]] = {}
    native: dict[int, dict[tuple[int, int], Err]] = {}
    names: dict[int, dict[tuple[int, int], str]] = {}
    for index, version in enumerate(_VERSIONS):
        wire[version], native[version], names[version] = {}, {}, {}
        for err in Err:
            entry: _Entry = err.value[index]
            if isinstance(entry, tuple):
                if entry in native[version]:
                    raise ValueError(f"{err.name} and {native[version][entry].name} share {entry}")
                native[version][entry] = err
                wire[version][err] = entry
                names[version][entry] = err.name
        for err in Err:
            entry = err.value[index]
            if isinstance(entry, str):
                target = Err[entry]
                if target not in wire[version]:
                    raise ValueError(f"{err.name} stands in as {entry}, not native to {version}")
                wire[version][err] = wire[version][target]
    for alias, err in Err.__members__.items():
        if alias != err.name:  # an OF1.0 spelling
            names[OFP10][wire[OFP10][err]] = alias
    return wire, native, names


_WIRE, _NATIVE, _CODE_NAMES = _build()


def type_name(version: int, type_: int) -> str:
    """``OFPET_*`` name of an error type of ``version``, else ``"type N"``."""
    types = ERROR_TYPES.get(version)
    if types is not None:
        try:
            return types(type_).name
        except ValueError:
            pass
    return f"type {type_}"


def code_name(version: int, type_: int, code: int) -> str:
    """Spec name of an error code of ``version`` (OF1.0 spelling on OF1.0), else ``"code N"``."""
    name = _CODE_NAMES.get(version, {}).get((type_, code))
    return name if name is not None else f"code {code}"


def from_wire(version: int, type_: int, code: int) -> Err | None:
    """The error ``version`` defines with these numbers; None for anything else."""
    return _NATIVE.get(version, {}).get((type_, code))


class CodecError(Exception):
    """A request (or its bytes) that the switch rejects with an OpenFlow error.

    Every decoder raises exactly this, whatever the input; ``type_code(version)``
    gives the numbers for the OFPT_ERROR reply.
    """

    def __init__(self, err: Err, detail: str = "") -> None:
        super().__init__(err, detail)
        self.err = err
        self.detail = detail

    def type_code(self, version: int) -> tuple[int, int]:
        """(type, code) of the OFPT_ERROR reply on a ``version`` connection."""
        return self.err.wire(version)

    def __str__(self) -> str:
        return f"{self.err.name}: {self.detail}" if self.detail else self.err.name


# Semantic (non-decode) errors, e.g. from the pipeline: the same class.
OFPError = CodecError
