"""Metadata filters: parsed once into a small tree that every backend compiles.

The accepted form (mem0's)::

    {"category": "food"}                                  # bare value: equality
    {"rating": {"gte": 4}}                                # one operator
    {"AND": [{...}, {...}]}, {"OR": [...]}, {"NOT": {...}}

Keys are metadata keys, scope ids (``user_id`` ...), ``created_at`` and
``updated_at``. Operators: ``eq ne gt gte lt lte in nin contains icontains``.

Semantics, the same on every backend:
- a key the memory does not have matches only ``ne`` and ``nin``;
- ``contains`` is substring for text and membership for lists; ``icontains`` ignores case (text only);
- ``created_at``/``updated_at`` compare as times; give an ISO string or a datetime.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from engram.errors import ValidationError
from engram.models import IDENTITY_KEYS

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains"]
OPERATORS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains")
COLUMN_KEYS = (*IDENTITY_KEYS, "role", "created_at", "updated_at")
TIME_KEYS = ("created_at", "updated_at")
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Condition:
    key: str
    op: Operator
    value: Any

    @property
    def is_column(self) -> bool:
        """True for keys stored as columns; the rest are metadata keys."""
        return self.key in COLUMN_KEYS


@dataclass(frozen=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    part: Filter


Filter = Condition | And | Or | Not


MAX_DEPTH = 32  # AND/OR/NOT nesting; deeper trees are mistakes, and would exhaust the stack


def parse_filters(filters: Mapping[str, Any] | None, *, _depth: int = 0) -> Filter | None:
    """Parse a filter dict; raise ``ValidationError`` saying what is wrong."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise ValidationError(f"filters must be a dict, got {type(filters).__name__}")
    if _depth > MAX_DEPTH:
        raise ValidationError(f"filters nest AND/OR/NOT more than {MAX_DEPTH} levels deep")
    parts = [_parse_entry(key, value, _depth) for key, value in filters.items()]
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def check_metadata_key(key: str) -> None:
    """Metadata keys are plain text: no double quotes or control characters, which JSON paths cannot hold."""
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(f"metadata keys must be non-empty strings, got {key!r}")
    if '"' in key or any(ord(ch) < 32 for ch in key):
        raise ValidationError(f"metadata key {key!r} may not contain double quotes or control characters")


def _parse_entry(key: str, value: Any, depth: int) -> Filter:
    if key in ("AND", "OR"):
        if not isinstance(value, list) or not value:
            raise ValidationError(f"{key} takes a non-empty list of filter dicts, got {value!r}")
        parsed = []
        for item in value:
            part = parse_filters(item, _depth=depth + 1) if isinstance(item, Mapping) else None
            if part is None:
                raise ValidationError(f"each item of {key} must be a non-empty filter dict, got {item!r}")
            parsed.append(part)
        return And(tuple(parsed)) if key == "AND" else Or(tuple(parsed))
    if key == "NOT":
        items = value if isinstance(value, list) else [value]
        negated = [parse_filters(item, _depth=depth + 1) if isinstance(item, Mapping) else None for item in items]
        if not items or any(part is None for part in negated):
            raise ValidationError(f"NOT takes a filter dict (or a list of them), got {value!r}")
        inner = negated[0] if len(negated) == 1 else And(tuple(p for p in negated if p))
        assert inner is not None
        return Not(inner)
    check_metadata_key(key)
    if key.startswith("$") or (key.upper() in ("AND", "OR", "NOT") and key not in ("AND", "OR", "NOT")):
        raise ValidationError(f"unknown filter key {key!r}: logical keys are AND, OR, NOT (upper case)")
    if isinstance(value, Mapping):
        if not value:
            raise ValidationError(f"filter on {key!r} has no operator")
        conditions = [_condition(key, op, operand) for op, operand in value.items()]
        return conditions[0] if len(conditions) == 1 else And(tuple(conditions))
    return _condition(key, "eq", value)


def _condition(key: str, op: str, value: Any) -> Condition:
    values = value if isinstance(value, list | tuple | set) else [value]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ValidationError(f"filter on {key!r} compares with {value!r}: use a finite number")
    if op not in OPERATORS:
        raise ValidationError(
            f"unknown filter operator {op!r} on {key!r}; use one of: {', '.join(OPERATORS)}"
        )
    if op in ("in", "nin"):
        if not isinstance(value, list | tuple | set):
            raise ValidationError(f"{op!r} on {key!r} takes a list, got {value!r}")
        value = tuple(_normalise(key, v) for v in value)
    elif op in ("contains", "icontains"):
        if op == "icontains" and not isinstance(value, str):
            raise ValidationError(f"'icontains' on {key!r} takes a string, got {value!r}")
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"{op!r} on {key!r} takes a string or number, got {value!r}")
    else:
        if isinstance(value, list | tuple | dict | set):
            raise ValidationError(f"{op!r} on {key!r} takes a single value, got {value!r}")
        if op in ("gt", "gte", "lt", "lte") and (value is None or isinstance(value, bool)):
            raise ValidationError(f"{op!r} on {key!r} takes a number, text or time, got {value!r}")
        value = _normalise(key, value)
    return Condition(key, op, value)  # type: ignore[arg-type]


def _normalise(key: str, value: Any) -> Any:
    """Times become sortable UTC ISO strings, the form the stores keep."""
    if key in TIME_KEYS:
        return normalise_time(value, what=key)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def normalise_time(value: Any, *, what: str) -> str:
    from engram.models import iso

    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return iso(moment)
    if isinstance(value, date):
        return iso(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        try:
            return normalise_time(datetime.fromisoformat(value.replace("Z", "+00:00")), what=what)
        except ValueError:
            pass
    raise ValidationError(f"{what} must be an ISO 8601 date or datetime, got {value!r}")


def scope_equalities(tree: Filter | None) -> dict[str, Any]:
    """Scope ids given as top-level equalities, e.g. ``{"user_id": "alice"}``."""
    conditions: tuple[Filter, ...] = ()
    if isinstance(tree, Condition):
        conditions = (tree,)
    elif isinstance(tree, And):
        conditions = tree.parts
    return {
        c.key: c.value
        for c in conditions
        if isinstance(c, Condition) and c.op == "eq" and c.key in IDENTITY_KEYS
    }
