"""Version-independent OpenFlow constants shared by the model and every codec.

The model speaks OpenFlow 1.3's vocabulary: 32-bit port numbers (reserved ports at
0xfffffff8..0xffffffff), OF1.3 port feature bits, OXM field names.  The OF1.0 codec
converts to and from the narrower OF1.0 wire forms with the helpers here.
"""

from __future__ import annotations

OFP10 = 0x01
OFP13 = 0x04
SUPPORTED_VERSIONS = (OFP10, OFP13)
VERSION_NAMES = {OFP10: "OpenFlow10", OFP13: "OpenFlow13"}
VERSION_BY_NAME = {name: version for version, name in VERSION_NAMES.items()}

OFP_HEADER_SIZE = 8
OFP_MAX_MESSAGE_SIZE = 0xFFFF
OFP_TCP_PORT = 6653
OFP_SSL_PORT = 6653

# Reserved port numbers (OF1.3 numbering, used throughout the model).
OFPP_MAX = 0xFFFFFF00
OFPP_IN_PORT = 0xFFFFFFF8
OFPP_TABLE = 0xFFFFFFF9
OFPP_NORMAL = 0xFFFFFFFA
OFPP_FLOOD = 0xFFFFFFFB
OFPP_ALL = 0xFFFFFFFC
OFPP_CONTROLLER = 0xFFFFFFFD
OFPP_LOCAL = 0xFFFFFFFE
OFPP_ANY = 0xFFFFFFFF  # OF1.0 calls it OFPP_NONE (0xffff)

PORT_NAMES = {
    OFPP_IN_PORT: "IN_PORT",
    OFPP_TABLE: "TABLE",
    OFPP_NORMAL: "NORMAL",
    OFPP_FLOOD: "FLOOD",
    OFPP_ALL: "ALL",
    OFPP_CONTROLLER: "CONTROLLER",
    OFPP_LOCAL: "LOCAL",
    OFPP_ANY: "ANY",
}
PORT_BY_NAME = {name: port for port, name in PORT_NAMES.items()}
PORT_BY_NAME["NONE"] = OFPP_ANY

OFP10_PORT_MAX = 0xFF00
_V10_RESERVED_OFFSET = 0xFFFF0000


def port_from_v10(port: int) -> int:
    """Widen an OF1.0 16-bit port number to the model's 32-bit numbering."""
    return port + _V10_RESERVED_OFFSET if port >= OFP10_PORT_MAX else port


def port_to_v10(port: int) -> int | None:
    """Narrow a model port number to OF1.0's 16 bits; None if it has no OF1.0 form."""
    if port < OFP10_PORT_MAX:
        return port
    if port >= OFPP_MAX:
        return port - _V10_RESERVED_OFFSET
    return None


# Tables, groups, meters, buffers, queues.
OFPTT_MAX = 0xFE
OFPTT_ALL = 0xFF
OFPG_MAX = 0xFFFFFF00
OFPG_ALL = 0xFFFFFFFC
OFPG_ANY = 0xFFFFFFFF
OFPM_MAX = 0xFFFF0000
OFPM_SLOWPATH = 0xFFFFFFFD
OFPM_CONTROLLER = 0xFFFFFFFE
OFPM_ALL = 0xFFFFFFFF
OFP_NO_BUFFER = 0xFFFFFFFF
OFPQ_ALL = 0xFFFFFFFF
OFPCML_MAX = 0xFFE5  # largest max_len that asks for a truncated packet-in
OFPCML_NO_BUFFER = 0xFFFF
OFP_DEFAULT_MISS_SEND_LEN = 128
OFP_DEFAULT_PRIORITY = 0x8000
OFP_MAX_PORT_NAME_LEN = 16
OFP_MAX_TABLE_NAME_LEN = 32
DESC_STR_LEN = 256
SERIAL_NUM_LEN = 32

# VLAN id encoding (OF1.3 semantics in the model).
OFPVID_PRESENT = 0x1000
OFPVID_NONE = 0x0000
OFP10_VLAN_NONE = 0xFFFF

# Flow-mod commands and flags (same numbers in both versions; OF1.3 adds flags).
OFPFC_ADD = 0
OFPFC_MODIFY = 1
OFPFC_MODIFY_STRICT = 2
OFPFC_DELETE = 3
OFPFC_DELETE_STRICT = 4

OFPFF_SEND_FLOW_REM = 1 << 0
OFPFF_CHECK_OVERLAP = 1 << 1
OFPFF_EMERG = 1 << 2  # OF1.0 only
OFPFF_RESET_COUNTS = 1 << 2  # OF1.3 only (same bit as OF1.0's EMERG)
OFPFF_NO_PKT_COUNTS = 1 << 3
OFPFF_NO_BYT_COUNTS = 1 << 4

# Packet-in reasons.
OFPR_NO_MATCH = 0
OFPR_ACTION = 1
OFPR_INVALID_TTL = 2

# Flow-removed reasons.
OFPRR_IDLE_TIMEOUT = 0
OFPRR_HARD_TIMEOUT = 1
OFPRR_DELETE = 2
OFPRR_GROUP_DELETE = 3
OFPRR_METER_DELETE = 4  # OF1.4 value; OVS sends it on OF1.3 too

# Port-status reasons.
OFPPR_ADD = 0
OFPPR_DELETE = 1
OFPPR_MODIFY = 2

# Port config bits (same bits in both versions; OF1.0 adds NO_STP, NO_RECV_STP, NO_FLOOD).
OFPPC_PORT_DOWN = 1 << 0
OFPPC_NO_STP = 1 << 1
OFPPC_NO_RECV = 1 << 2
OFPPC_NO_RECV_STP = 1 << 3
OFPPC_NO_FLOOD = 1 << 4
OFPPC_NO_FWD = 1 << 5
OFPPC_NO_PACKET_IN = 1 << 6

# Port state bits (OF1.3; OF1.0 has LINK_DOWN at bit 0 and STP states in bits 8-9).
OFPPS_LINK_DOWN = 1 << 0
OFPPS_BLOCKED = 1 << 1
OFPPS_LIVE = 1 << 2

# Port feature bits, OF1.3 layout (the model's).  OF1.0 lacks 40G/100G/1T/OTHER and
# has COPPER..PAUSE_ASYM at bits 7..11; the OF1.0 codec converts.
OFPPF_10MB_HD = 1 << 0
OFPPF_10MB_FD = 1 << 1
OFPPF_100MB_HD = 1 << 2
OFPPF_100MB_FD = 1 << 3
OFPPF_1GB_HD = 1 << 4
OFPPF_1GB_FD = 1 << 5
OFPPF_10GB_FD = 1 << 6
OFPPF_40GB_FD = 1 << 7
OFPPF_100GB_FD = 1 << 8
OFPPF_1TB_FD = 1 << 9
OFPPF_OTHER = 1 << 10
OFPPF_COPPER = 1 << 11
OFPPF_FIBER = 1 << 12
OFPPF_AUTONEG = 1 << 13
OFPPF_PAUSE = 1 << 14
OFPPF_PAUSE_ASYM = 1 << 15

# Switch config flags.
OFPC_FRAG_NORMAL = 0
OFPC_FRAG_DROP = 1
OFPC_FRAG_REASM = 2
OFPC_FRAG_MASK = 3
OFPC_INVALID_TTL_TO_CONTROLLER = 1 << 2  # OF1.1-1.2; OVS accepts it on OF1.3

# Group types and commands.
OFPGT_ALL = 0
OFPGT_SELECT = 1
OFPGT_INDIRECT = 2
OFPGT_FF = 3
OFPGC_ADD = 0
OFPGC_MODIFY = 1
OFPGC_DELETE = 2

# Meter commands, flags, band types.
OFPMC_ADD = 0
OFPMC_MODIFY = 1
OFPMC_DELETE = 2
OFPMF_KBPS = 1 << 0
OFPMF_PKTPS = 1 << 1
OFPMF_BURST = 1 << 2
OFPMF_STATS = 1 << 3
OFPMBT_DROP = 1
OFPMBT_DSCP_REMARK = 2
OFPMBT_EXPERIMENTER = 0xFFFF

# Controller roles.
OFPCR_ROLE_NOCHANGE = 0
OFPCR_ROLE_EQUAL = 1
OFPCR_ROLE_MASTER = 2
OFPCR_ROLE_SLAVE = 3

# Multipart flags.
OFPMPF_REQ_MORE = 1
OFPMPF_REPLY_MORE = 1
