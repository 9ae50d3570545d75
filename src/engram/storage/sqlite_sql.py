"""SQLite's side of the read clause (``clauses.py``): its filter leaves, and its keyword query.

Filters keep type-aware semantics on JSON metadata (true never equals 1, "4" never equals 4) with
``json_type`` / ``json_extract``; the PostgreSQL leaves (``postgres_sql.py``) give the same answers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from engram.models import Scope, iso
from engram.storage.base import query_words
from engram.storage.clauses import Clause, Dialect
from engram.storage.filters import Condition


def _condition_sql(c: Condition, prefix: str) -> Clause:
    if c.is_column:
        return _column_sql(c, f"{prefix}{c.key}")
    return _metadata_sql(c, prefix)


def _membership_sql(c: Condition, prefix: str) -> Clause:
    """``key in [values]`` as set tests (one per JSON type), so a long list costs a lookup per row."""
    values = list(c.value)
    parts: list[Clause] = []
    if c.is_column:
        column = f"{prefix}{c.key}"
        if any(v is None for v in values):
            parts.append((f"({column} IS NULL)", []))
        given = [v for v in values if v is not None]
        if given:
            parts.append((f"coalesce({column} IN ({', '.join('?' * len(given))}), 0)", given))
    else:
        path = _json_path_literal(c.key)
        kind, value = f"json_type({prefix}metadata, {path})", f"json_extract({prefix}metadata, {path})"
        if any(v is None for v in values):
            parts.append((f"coalesce({kind} = 'null', 1)", []))
        flags = sorted({"true" if v else "false" for v in values if isinstance(v, bool)})
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        texts = [v for v in values if isinstance(v, str)]
        if flags:
            parts.append((f"coalesce({kind} IN ({', '.join('?' * len(flags))}), 0)", flags))
        if numbers:
            marks = ", ".join("?" * len(numbers))
            parts.append((f"coalesce(({kind} IN ('integer', 'real') AND {value} IN ({marks})), 0)", numbers))
        if texts:
            parts.append((f"coalesce(({kind} = 'text' AND {value} IN ({', '.join('?' * len(texts))})), 0)", texts))
    if not parts:
        return "0", []
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any content word of ``text``, with FTS syntax neutralised."""
    words = query_words(text)
    if not words:
        return None
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def owner_tokens(scope: Scope, joiner: str = " ") -> str:
    """The scope's owner ids as FTS tokens ("u…", "a…", "r…"): hashed, so any id is one token."""
    tokens = []
    for prefix, value in (("u", scope.user_id), ("a", scope.agent_id), ("r", scope.run_id)):
        if value is not None:
            tokens.append(f'"{prefix}{hashlib.blake2b(value.encode(), digest_size=10).hexdigest()}"')
    return joiner.join(tokens)


def _column_sql(c: Condition, column: str) -> tuple[str, list[Any]]:
    if c.value is None:
        return (f"({column} IS NULL)", []) if c.op == "eq" else ("0", [])
    if c.op in ("contains", "icontains"):
        if c.op == "icontains":
            return f"coalesce(instr(lower({column}), lower(?)) > 0, 0)", [str(c.value)]
        return f"coalesce(instr({column}, ?) > 0, 0)", [str(c.value)]
    sql_op = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
    return f"coalesce({column} {sql_op} ?, 0)", [c.value]


def _json_path_literal(key: str) -> str:
    """The JSON path of a metadata key, as an SQL string literal."""
    path = '$."' + key.replace('"', '\\"') + '"'
    return "'" + path.replace("'", "''") + "'"


def _metadata_sql(c: Condition, prefix: str) -> tuple[str, list[Any]]:
    """Type-aware comparisons on metadata: true never equals 1, "4" never equals 4."""
    path = _json_path_literal(c.key)
    value_type = f"json_type({prefix}metadata, {path})"
    value = f"json_extract({prefix}metadata, {path})"
    if c.op == "eq" and c.value is None:
        return f"coalesce({value_type} = 'null', 1)", []
    if c.op == "contains":
        element_sql, params = _typed_match("j.type", "j.value", "=", c.value)
        sql = (
            f"coalesce(({value_type} = 'array' AND EXISTS "
            f"(SELECT 1 FROM json_each({prefix}metadata, {path}) j WHERE {element_sql})), 0)"
        )
        if isinstance(c.value, str):
            sql = f"({sql} OR coalesce(({value_type} = 'text' AND instr({value}, ?) > 0), 0))"
            params = [*params, c.value]
        return sql, params
    if c.op == "icontains":
        return f"coalesce(({value_type} = 'text' AND instr(lower({value}), lower(?)) > 0), 0)", [c.value]
    sql_op = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
    return _typed_match(value_type, value, sql_op, c.value)


def _typed_match(type_sql: str, value_sql: str, sql_op: str, value: Any) -> tuple[str, list[Any]]:
    if isinstance(value, bool):
        return f"coalesce({type_sql} = ?, 0)", ["true" if value else "false"]
    if isinstance(value, int | float):
        return f"coalesce(({type_sql} IN ('integer', 'real') AND {value_sql} {sql_op} ?), 0)", [value]
    return f"coalesce(({type_sql} = 'text' AND {value_sql} {sql_op} ?), 0)", [value]


SQLITE = Dialect(mark="?", false="0", time=iso, condition=_condition_sql, membership=_membership_sql)


__all__ = ["SQLITE", "fts_query", "owner_tokens"]
