"""PostgreSQL's side of the read clause (``clauses.py``): its filter leaves, and its keyword query.

The leaves give the SQLite store's answers (``sqlite_sql.py``): type-aware metadata comparisons on
``jsonb``, text compared in byte order (the C collation), a number compared as its text where SQLite's
column affinity does so, and lower() folding ASCII letters only, whatever the server's locale.
"""

from __future__ import annotations

import json
from typing import Any

from engram.storage.base import query_words
from engram.storage.clauses import Clause, Dialect
from engram.storage.filters import Condition

ISO_UTC_TEXT = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
TIME_COLUMNS = ("created_at", "updated_at")
_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _condition_sql(c: Condition, prefix: str) -> Clause:
    return _column_sql(c, prefix) if c.is_column else _metadata_sql(c, prefix)


def _membership_sql(c: Condition, prefix: str) -> Clause:
    """``key in [values]`` as one ``= ANY(array)`` per JSON type: a long list is one lookup per row."""
    values = list(c.value)
    parts: list[Clause] = []
    given = [v for v in values if v is not None]
    if c.is_column:
        column = f"{prefix}{c.key}"
        if len(given) < len(values):
            parts.append((f"({column} IS NULL)", []))
        if given and c.key in TIME_COLUMNS:
            parts.append((f"coalesce({column} = ANY(%s::timestamptz[]), false)", [given]))
        elif given:
            parts.append(
                (f'coalesce({column} COLLATE "C" = ANY(%s::text[]), false)', [[_as_sqlite_text(v) for v in given]])
            )
    else:
        metadata = f"({prefix}metadata::jsonb)"  # stored as json, as written; compared as jsonb
        value, kind = f"({metadata} -> %s)", f"jsonb_typeof({metadata} -> %s)"
        key = c.key
        if len(given) < len(values):
            parts.append((f"coalesce({kind} = 'null', true)", [key]))
        flags = sorted({"true" if v else "false" for v in given if isinstance(v, bool)})
        numbers = [repr(v) for v in given if isinstance(v, int | float) and not isinstance(v, bool)]
        texts = [v for v in given if isinstance(v, str)]
        if flags:
            parts.append((f"coalesce({value} = ANY(%s::jsonb[]), false)", [key, flags]))
        if numbers:
            number = f"({metadata} ->> %s)::numeric = ANY(%s::numeric[])"
            parts.append(
                (f"coalesce(CASE WHEN {kind} = 'number' THEN {number} ELSE false END, false)", [key, key, numbers])
            )
        if texts:
            text = f"({metadata} ->> %s) = ANY(%s::text[])"
            parts.append(
                (f"coalesce(CASE WHEN {kind} = 'string' THEN {text} ELSE false END, false)", [key, key, texts])
            )
    if not parts:
        return "false", []
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]


def ts_query(text: str) -> str | None:
    """A tsquery matching any content word of ``text`` (the words SQLite's ``fts_query`` uses)."""
    words = query_words(text)
    if not words:
        return None
    # \w never holds a quote or backslash, so quoting each word neutralises tsquery syntax.
    return " | ".join(f"'{word}'" for word in words)


def _column_sql(c: Condition, prefix: str) -> tuple[str, list[Any]]:
    column = f"{prefix}{c.key}"  # c.key is one of COLUMN_KEYS, never user text
    if c.value is None:
        return (f"({column} IS NULL)", []) if c.op == "eq" else ("false", [])
    is_time = c.key in TIME_COLUMNS
    if c.op in ("contains", "icontains"):
        text = ISO_UTC_TEXT.format(column) if is_time else column
        if c.op == "icontains":
            return f"coalesce(strpos({_ascii_lower(text)}, {_ascii_lower('%s')}) > 0, false)", [str(c.value)]
        return f"coalesce(strpos({text}, %s) > 0, false)", [str(c.value)]
    sql_op = _SQL_OPS[c.op]
    if is_time:  # the value is already a UTC ISO string (filters.normalise_time)
        return f"coalesce({column} {sql_op} %s::timestamptz, false)", [c.value]
    # Byte order, as SQLite compares text; a number compares as its text, as SQLite's column affinity does.
    return f'coalesce({column} COLLATE "C" {sql_op} %s, false)', [_as_sqlite_text(c.value)]


def _ascii_lower(expression: str) -> str:
    """lower() under the C collation folds ASCII letters only, as SQLite's lower() does, whatever
    the server's locale: icontains then means the same on every server."""
    return f'lower(({expression}) COLLATE "C")'


def _as_sqlite_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else repr(value)


def _metadata_sql(c: Condition, prefix: str) -> tuple[str, list[Any]]:
    """Type-aware comparisons on metadata: true never equals 1, "4" never equals 4."""
    metadata = f"({prefix}metadata::jsonb)"  # stored as json, as written; compared as jsonb
    value, kind = f"({metadata} -> %s)", f"jsonb_typeof({metadata} -> %s)"
    key = c.key
    if c.op == "eq" and c.value is None:
        return f"coalesce({kind} = 'null', true)", [key]
    if c.op == "contains":
        clause = f"coalesce(({kind} = 'array' AND {value} @> jsonb_build_array(%s::jsonb)), false)"
        params: list[Any] = [key, key, json.dumps(c.value)]
        if isinstance(c.value, str):
            clause = f"({clause} OR coalesce(({kind} = 'string' AND strpos({metadata} ->> %s, %s) > 0), false))"
            params += [key, key, c.value]
        return clause, params
    if c.op == "icontains":
        return (
            f"coalesce(({kind} = 'string' AND "
            f"strpos({_ascii_lower(metadata + ' ->> %s')}, {_ascii_lower('%s')}) > 0), false)",
            [key, key, c.value],
        )
    sql_op = _SQL_OPS[c.op]
    if isinstance(c.value, bool):
        return f"coalesce({value} = %s::jsonb, false)", [key, "true" if c.value else "false"]
    if isinstance(c.value, int | float):
        # CASE, not AND: the cast must never run on a value that is not a number.
        return (
            f"coalesce(CASE WHEN {kind} = 'number' THEN ({metadata} ->> %s)::numeric {sql_op} %s::numeric "
            "ELSE false END, false)",
            [key, key, repr(c.value)],
        )
    return (
        f"coalesce(CASE WHEN {kind} = 'string' THEN ({metadata} ->> %s) COLLATE \"C\" {sql_op} %s "
        "ELSE false END, false)",
        [key, key, c.value],
    )


POSTGRES = Dialect(
    mark="%s", false="false", time=lambda moment: moment, condition=_condition_sql, membership=_membership_sql
)


__all__ = ["ISO_UTC_TEXT", "POSTGRES", "TIME_COLUMNS", "ts_query"]
