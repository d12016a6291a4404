"""The version-independent match model: a set of OXM-named fields with optional masks.

Sits under every codec (``oxm`` for OF1.3, ``v10_match`` for OF1.0), the flow text
syntax and the classifier.  Owns ``MatchField`` and ``Match`` and their canonical form:

* field names are OpenFlow-basic OXM names (``in_port``, ``eth_dst``, ``ipv4_src`` ...);
* every value is an int (MACs 48-bit, IPv4 32-bit, IPv6 128-bit); ``vlan_vid`` uses
  OF1.3's encoding (``OFPVID_PRESENT | vid`` for a tag, 0 for "no tag");
* ``mask`` is None for an exact match; an all-ones mask becomes None, a zero mask
  drops the field, and value bits outside the mask are cleared;
* fields are unique and sorted by OXM field code, so equal matches compare and hash
  equal.

The field table (names, codes, widths) lives in ``openflow.oxm``; ``oxm`` imports this
module, so this one reaches the table lazily on first use (see ``_table``).  Masks
on fields the OF1.3 spec calls non-maskable are allowed here (the classifier handles
any mask); the OXM decoder enforces the spec on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from openflow.oxm import OxmField


class MatchField(NamedTuple):
    """One matched field: OXM name, value, and mask (None = exact)."""

    name: str
    value: int
    mask: int | None = None


_FIELD_BY_NAME: dict[str, OxmField] = {}


def _table() -> dict[str, OxmField]:
    """The OXM field table by name (``openflow.oxm`` imports this module, hence late)."""
    if not _FIELD_BY_NAME:
        from openflow.oxm import FIELD_BY_NAME

        _FIELD_BY_NAME.update(FIELD_BY_NAME)
    return _FIELD_BY_NAME


def _normalize(item: MatchField | tuple[Any, ...], table: dict[str, OxmField]) -> tuple[int, MatchField] | None:
    """Validate one field; returns (code, canonical field) or None for a zero mask."""
    if len(item) == 2:
        name, value = item
        mask = None
    elif len(item) == 3:
        name, value, mask = item
    else:
        raise ValueError(f"match field must be (name, value[, mask]), got {item!r}")
    info = table.get(name)
    if info is None:
        raise ValueError(f"unknown match field {name!r}")
    full = (1 << info.bits) - 1
    if not isinstance(value, int) or not 0 <= value <= full:
        raise ValueError(f"{name}: value {value!r} does not fit in {info.bits} bits")
    if mask is not None:
        if not isinstance(mask, int) or not 0 <= mask <= full:
            raise ValueError(f"{name}: mask {mask!r} does not fit in {info.bits} bits")
        if mask == 0:
            return None
        if mask == full:
            mask = None
        else:
            value &= mask
    if type(item) is MatchField and item.value == value and item.mask == mask:
        return info.code, item
    return info.code, MatchField(name, value, mask)


def _canonical(items: Iterable[MatchField | tuple[Any, ...]]) -> tuple[MatchField, ...]:
    table = _table()
    coded: list[tuple[int, MatchField]] = []
    names: set[str] = set()
    for item in items:
        name = item[0]
        if name in names:
            raise ValueError(f"duplicate match field {name!r}")
        names.add(name)
        entry = _normalize(item, table)
        if entry is not None:
            coded.append(entry)
    coded.sort(key=lambda entry: entry[0])
    return tuple(field for _, field in coded)


def _user_item(name: str, spec: int | tuple[int, int | None]) -> tuple[Any, ...]:
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError(f"{name}: expected value or (value, mask), got {spec!r}")
        return (name, spec[0], spec[1])
    return (name, spec)


@dataclass(frozen=True, slots=True)
class Match:
    """A flow match: canonical tuple of ``MatchField`` (see the module docstring)."""

    fields: tuple[MatchField, ...] = ()

    def __post_init__(self) -> None:
        if self.fields:
            object.__setattr__(self, "fields", _canonical(self.fields))

    @classmethod
    def _from_sorted(cls, fields: tuple[MatchField, ...]) -> Match:
        """Trusted fast constructor for decoders: ``fields`` is already canonical."""
        match = object.__new__(cls)
        object.__setattr__(match, "fields", fields)
        return match

    @classmethod
    def build(cls, **kw: int | tuple[int, int | None]) -> Match:
        """``Match.build(eth_type=0x800, ipv4_dst=(0x0a000000, 0xffffff00))``."""
        return cls._from_sorted(_canonical(_user_item(k, v) for k, v in kw.items()))

    @classmethod
    def from_fields(cls, fields: Iterable[MatchField | tuple[Any, ...]]) -> Match:
        """From ``MatchField``s or ``(name, value[, mask])`` tuples in any order.

        Raises ValueError on unknown or duplicate names and on values or masks wider
        than the field."""
        return cls._from_sorted(_canonical(fields))

    def get(self, name: str) -> MatchField | None:
        for field in self.fields:
            if field.name == name:
                return field
        return None

    def value(self, name: str, default: int | None = None) -> int | None:
        for field in self.fields:
            if field.name == name:
                return field.value
        return default

    def __contains__(self, name: object) -> bool:
        for field in self.fields:
            if field.name == name:
                return True
        return False

    def __iter__(self) -> Iterator[MatchField]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __bool__(self) -> bool:
        return bool(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    def to_dict(self) -> dict[str, int | tuple[int, int]]:
        """``{name: value}`` for exact fields, ``{name: (value, mask)}`` for masked ones."""
        return {
            f.name: f.value if f.mask is None else (f.value, f.mask) for f in self.fields
        }

    def replace(self, **kw: int | tuple[int, int | None] | None) -> Match:
        """A copy with fields set (value or (value, mask)); a None value removes one."""
        kept = [f for f in self.fields if f.name not in kw]
        added = [_user_item(k, v) for k, v in kw.items() if v is not None]
        return self._from_sorted(_canonical([*kept, *added]))

    def without(self, *names: str) -> Match:
        """A copy without the named fields (absent names are ignored)."""
        return self._from_sorted(tuple(f for f in self.fields if f.name not in names))

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{f.name}={f.value:#x}" if f.mask is None else f"{f.name}={f.value:#x}/{f.mask:#x}"
            for f in self.fields
        )
        return f"Match({inner})"


wildcards_all = Match()
