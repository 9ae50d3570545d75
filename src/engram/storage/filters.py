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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from engram.errors import ValidationError
from engram.models import IDENTITY_KEYS

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains"]
OPERATORS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains")
COLUMN_KEYS = (*IDENTITY_KEYS, "role", "created_at", "updated_at")
TIME_KEYS = ("created_at", "updated_at")
SCALARS = (str, int, float, bool, type(None), date)  # date covers datetime


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
# Conditions and `in` values in one filter. Each becomes one to three query parameters: this stays
# under SQLite's 32,766 and PostgreSQL's 65,535, so a long `in` list works the same on both.
MAX_FILTER_VALUES = 10_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite can bind; PostgreSQL is held to the same


def parse_filters(filters: Mapping[str, Any] | None, *, _depth: int = 0) -> Filter | None:
    """Parse a filter dict; raise ``ValidationError`` saying what is wrong."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise ValidationError(f"filters must be a dict, got {type(filters).__name__}")
    if _depth > MAX_DEPTH:
        raise ValidationError(f"filters nest AND/OR/NOT more than {MAX_DEPTH} levels deep")
    parts = [_parse_entry(key, value, _depth) for key, value in filters.items()]
    tree = parts[0] if len(parts) == 1 else And(tuple(parts))
    if _depth == 0 and (count := _count_values(tree)) > MAX_FILTER_VALUES:
        raise ValidationError(
            f"filters hold {count:,} conditions and values, over the limit of {MAX_FILTER_VALUES:,}: "
            "narrow the filter (a long `in` list up to the limit works)"
        )
    return tree


def _count_values(tree: Filter) -> int:
    if isinstance(tree, And | Or):
        return sum(_count_values(part) for part in tree.parts)
    if isinstance(tree, Not):
        return _count_values(tree.part)
    return max(1, len(tree.value)) if tree.op in ("in", "nin") else 1


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
    if any(isinstance(v, int) and not INT64_MIN <= v <= INT64_MAX for v in values):
        raise ValidationError(f"filter on {key!r} compares with an integer beyond 64 bits: use a smaller number")
    if op in ("in", "nin") and any(not isinstance(v, SCALARS) for v in values):
        raise ValidationError(f"{op!r} on {key!r} takes a list of strings, numbers, booleans or null, got {value!r}")
    if op not in OPERATORS:
        raise ValidationError(f"unknown filter operator {op!r} on {key!r}; use one of: {', '.join(OPERATORS)}")
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
        try:
            return iso(moment)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
            raise ValidationError(f"{what} {value.isoformat()!r} is outside years 1 to 9999 in UTC") from exc
    if isinstance(value, date):
        return iso(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return normalise_time(parsed, what=what)
    raise ValidationError(f"{what} must be an ISO 8601 date or datetime, got {value!r}")


def scope_equalities(tree: Filter | None) -> dict[str, Any]:
    """Scope ids given as top-level equalities, e.g. ``{"user_id": "alice"}``."""
    conditions: tuple[Filter, ...] = ()
    if isinstance(tree, Condition):
        conditions = (tree,)
    elif isinstance(tree, And):
        conditions = tree.parts
    return {c.key: c.value for c in conditions if isinstance(c, Condition) and c.op == "eq" and c.key in IDENTITY_KEYS}


# -- one compiler: the tree walk here, the leaves in each backend --------------------------------

Leaf = Callable[[Condition], tuple[str, list[Any]]]


def compile_tree(tree: Filter, leaf: Leaf, *, false: str, member: Leaf | None = None) -> tuple[str, list[Any]]:
    """SQL for a filter tree: AND/OR/NOT, ``ne`` and ``nin`` are lowered here, and ``leaf`` (the
    backend's) writes each remaining condition (eq gt gte lt lte contains icontains) as a clause that
    is true or false, never NULL, so that NOT is exact. ``member`` writes ``in`` as one set test (a
    list of 10,000 values must not cost rows × values); without it, ``in`` is an OR of ``eq``.
    ``false`` is the backend's literal for false. Long AND/OR chains are nested as balanced trees:
    SQLite refuses an expression more than 1,000 levels deep, and ``a OR b ...`` is as deep as it is long."""
    if isinstance(tree, And | Or):
        parts = [compile_tree(part, leaf, false=false, member=member) for part in tree.parts]
        return _balanced(parts, isinstance(tree, And))
    if isinstance(tree, Not):
        sql, params = compile_tree(tree.part, leaf, false=false, member=member)
        return f"(NOT {sql})", params
    if tree.op in ("ne", "nin"):
        positive = Condition(tree.key, "eq" if tree.op == "ne" else "in", tree.value)
        sql, params = compile_tree(positive, leaf, false=false, member=member)
        return f"(NOT {sql})", params
    if tree.op == "in":
        if not tree.value:
            return false, []
        if member is not None:
            return member(tree)
        return _balanced([leaf(Condition(tree.key, "eq", value)) for value in tree.value], False)
    return leaf(tree)


def _balanced(parts: Sequence[tuple[str, list[Any]]], conjunction: bool) -> tuple[str, list[Any]]:
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left_sql, left_params = _balanced(parts[:middle], conjunction)
    right_sql, right_params = _balanced(parts[middle:], conjunction)
    joiner = " AND " if conjunction else " OR "
    return f"({left_sql}{joiner}{right_sql})", left_params + right_params


# -- the reference: what every store must return, in plain Python ----------------------------------


def matches(tree: Filter, item: Mapping[str, Any]) -> bool:
    """Whether a memory (``MemoryRecord.to_item()``) passes ``tree``, by the semantics every store
    implements; the property tests hold each store to this."""
    if isinstance(tree, And):
        return all(matches(part, item) for part in tree.parts)
    if isinstance(tree, Or):
        return any(matches(part, item) for part in tree.parts)
    if isinstance(tree, Not):
        return not matches(tree.part, item)
    if tree.op in ("ne", "nin"):
        return not matches(Condition(tree.key, "eq" if tree.op == "ne" else "in", tree.value), item)
    if tree.op == "in":
        return any(matches(Condition(tree.key, "eq", value), item) for value in tree.value)
    if tree.is_column:
        return _column_matches(tree, item.get(tree.key))
    metadata = item.get("metadata") or {}
    return _metadata_matches(tree, tree.key in metadata, metadata.get(tree.key))


def _ascii_lower(text: str) -> str:
    """SQLite's lower(): ASCII letters only."""
    return text.translate(_ASCII_UPPER_TO_LOWER)


_ASCII_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _as_column_text(value: Any) -> str:
    """How SQLite compares a bound number or boolean with a text column: as its text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else repr(value)


def _column_matches(c: Condition, column: str | None) -> bool:
    if c.value is None:
        return c.op == "eq" and column is None
    if column is None:
        return False
    if c.op == "contains":
        return str(c.value) in column
    if c.op == "icontains":
        return _ascii_lower(str(c.value)) in _ascii_lower(column)
    return _compare(column, c.op, _as_column_text(c.value))


def _metadata_matches(c: Condition, present: bool, value: Any) -> bool:
    if c.op == "eq" and c.value is None:
        return not present or value is None
    if not present:
        return False
    if c.op == "contains":
        in_list = isinstance(value, list) and any(_typed_equal(element, c.value) for element in value)
        return in_list or (isinstance(c.value, str) and isinstance(value, str) and c.value in value)
    if c.op == "icontains":
        return isinstance(value, str) and _ascii_lower(c.value) in _ascii_lower(value)
    if isinstance(c.value, bool):
        return value is c.value
    if isinstance(c.value, int | float):
        return isinstance(value, int | float) and not isinstance(value, bool) and _compare(value, c.op, c.value)
    return isinstance(value, str) and _compare(value, c.op, c.value)


def _typed_equal(element: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(element, bool):
        return element is value
    if isinstance(value, int | float):
        return isinstance(element, int | float) and element == value
    return isinstance(element, str) and element == value


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "gt":
        return bool(left > right)
    if op == "gte":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)  # lte
