"""The read clause: which rows a read may see, written once for both SQL dialects.

A read sees the rows of a scope (``scope_clause``), valid now or at ``as_of`` (``validity_clause``),
unexpired and passing the caller's filters (``read_clause``). Memories, their versions, episodes and
the graph's tables all read through these, on SQLite (``sqlite_sql.SQLITE``) and PostgreSQL
(``postgres_sql.POSTGRES``); a ``Dialect`` says only how each database writes a parameter, a time,
false, and a filter's leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engram.errors import StorageError
from engram.models import Scope
from engram.storage.base import Query
from engram.storage.filters import Condition, Filter, compile_tree

Clause = tuple[str, list[Any]]


@dataclass(frozen=True)
class Dialect:
    """How one SQL database writes the parts of a read clause."""

    mark: str  # a parameter's placeholder
    false: str  # the literal for false
    time: Callable[[datetime], Any]  # a time as a parameter
    condition: Callable[[Condition, str], Clause]  # a filter leaf (eq gt gte lt lte contains icontains) on a table
    membership: Callable[[Condition, str], Clause]  # ``in`` as one set test, never one clause per value

    def filter_clause(self, tree: Filter, table: str | None = None) -> Clause:
        """SQL for a filter tree (``filters.compile_tree``) on ``table``'s columns."""
        prefix = f"{table}." if table else ""
        return compile_tree(
            tree,
            lambda c: self.condition(c, prefix),
            false=self.false,
            member=lambda c: self.membership(c, prefix),
        )


def scope_clause(dialect: Dialect, scope: Scope, table: str | None = None, *, what: str = "memories") -> Clause:
    """The rows of a scope: every id it sets must match. A read without one is refused."""
    ids = scope.as_dict()
    if not ids:
        raise StorageError(f"refusing to touch {what} without a scope")
    prefix = f"{table}." if table else ""
    return " AND ".join(f"{prefix}{key} = {dialect.mark}" for key in ids), list(ids.values())


def validity_clause(dialect: Dialect, as_of: datetime | None, table: str | None = None) -> Clause:
    """Rows true now (no ``invalid_at``), or at ``as_of``: ``valid_from <= as_of < invalid_at``."""
    prefix = f"{table}." if table else ""
    if as_of is None:
        return f"{prefix}invalid_at IS NULL", []
    moment, mark = dialect.time(as_of), dialect.mark
    return f"{prefix}valid_from <= {mark} AND ({prefix}invalid_at IS NULL OR {prefix}invalid_at > {mark})", [
        moment,
        moment,
    ]


def read_clause(dialect: Dialect, query: Query, table: str | None = None) -> Clause:
    """What a read of memories (or versions) sees: the scope, valid now or at ``as_of``, unexpired at
    ``query.now``, and passing its filters."""
    prefix = f"{table}." if table else ""
    where, params = scope_clause(dialect, query.scope, table)
    valid, valid_params = validity_clause(dialect, query.as_of, table)
    where, params = f"{where} AND {valid}", [*params, *valid_params]
    if query.now is not None:
        mark = dialect.mark
        where += f" AND ({prefix}expiration_date IS NULL OR {prefix}expiration_date > {mark})"
        params.append(dialect.time(query.now))
    if query.filters is not None:
        clause, filter_params = dialect.filter_clause(query.filters, table)
        where += f" AND {clause}"
        params.extend(filter_params)
    return where, params


__all__ = ["Clause", "Dialect", "read_clause", "scope_clause", "validity_clause"]
