"""Every vector of a SQLite file in memory, with the scope of each, indexed by rowid.

Reading vectors out of SQLite costs far more than scoring them: for a scope of
100 memories the BLOB reads dominate, and for 100k memories the row fetches
alone take hundreds of milliseconds in Python. The cache keeps, per rowid of a
current (not retracted) memory, the vector, the scope ids (as small integer codes)
and the expiry, plus the rowids of each user, agent and run, so a scope's
candidates cost O(scope size).

It stays correct by:
- applying this connection's own writes when their transaction commits (and
  dropping them when it rolls back);
- reloading everything when another connection has committed, which SQLite
  reports through ``PRAGMA data_version``.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engram.models import Scope
from engram.storage.base import Vector

OWNER_KEYS = ("user_id", "agent_id", "run_id")
KEYS = (*OWNER_KEYS, "actor_id")
NEVER = math.inf


@dataclass(frozen=True)
class CachedRow:
    """A committed write: the row's vector (None to keep it), scope and expiry; or a delete."""

    rowid: int
    vector: Vector | None
    scope: Scope | None = None  # None: the row was deleted
    expires: datetime | None = None


class VectorCache:
    def __init__(self) -> None:
        self._data_version: int | None = None  # None: not loaded yet
        self._reset_arrays(0, 0)

    # -- reading -------------------------------------------------------------------------

    def matrix(self, db: sqlite3.Connection) -> npt.NDArray[np.float32]:
        """The vectors by rowid, reloaded first if another connection changed the file."""
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version:
            self._load(db)
            self._data_version = version
        return self._matrix

    def scope_rows(self, scope: Scope, now: datetime | None) -> npt.NDArray[np.int64]:
        """Rowids of the live memories in ``scope``; call ``matrix`` first to be fresh."""
        codes = {key: self._codes[key].get(value, -1) for key, value in scope.as_dict().items()}
        if any(code < 0 for code in codes.values()):
            return np.zeros(0, dtype=np.int64)
        owner_lists = [self._rows_by[key][codes[key]] for key in OWNER_KEYS if key in codes]
        if not owner_lists:
            return np.zeros(0, dtype=np.int64)
        smallest: set[int] = min(owner_lists, key=lambda rows: len(rows))
        rows = np.fromiter(smallest, dtype=np.int64, count=len(smallest))
        keep = np.ones(len(rows), dtype=bool)
        for key, code in codes.items():
            keep &= self._scope_codes[key][rows] == code
        if now is not None:
            keep &= self._expires[rows] > now.timestamp()
        return np.sort(rows[keep])

    # -- writing ---------------------------------------------------------------------------

    def apply(self, writes: list[CachedRow]) -> None:
        """Apply committed writes of this connection (only if the cache was ever loaded)."""
        if self._data_version is None:
            return
        for write in writes:
            if write.scope is None:
                self._remove(write.rowid)
            else:
                self._put(write.rowid, write.vector, write.scope, write.expires)

    def invalidate(self) -> None:
        self._data_version = None
        self._reset_arrays(0, 0)

    # -- internals ---------------------------------------------------------------------------

    def _reset_arrays(self, rows: int, dimension: int) -> None:
        self._matrix = np.zeros((rows, dimension), dtype=np.float32)
        self._scope_codes = {key: np.zeros(rows, dtype=np.int32) for key in KEYS}
        self._expires = np.full(rows, -NEVER)  # rows that hold no memory never match
        self._codes: dict[str, dict[str, int]] = {key: {} for key in KEYS}
        self._rows_by: dict[str, defaultdict[int, set[int]]] = {key: defaultdict(set) for key in OWNER_KEYS}

    def _load(self, db: sqlite3.Connection) -> None:
        last = db.execute("SELECT max(pk) FROM memories").fetchone()[0]
        first = db.execute("SELECT embedding FROM memories LIMIT 1").fetchone()
        dimension = len(first[0]) // 4 if first else 0
        rows = (last or 0) + 1
        # Headroom, so that the adds after a load do not copy the whole matrix to grow it.
        self._reset_arrays(rows + rows // 4 + 1024, dimension)
        cursor = db.execute(  # retracted memories are never current: only as-of reads (in SQL) see them
            "SELECT pk, embedding, user_id, agent_id, run_id, actor_id, expiration_date FROM memories "
            "WHERE invalid_at IS NULL"
        )
        for rowid, blob, user_id, agent_id, run_id, actor_id, expires in cursor:
            scope = Scope(user_id, agent_id, run_id, actor_id)
            vector = np.frombuffer(blob, dtype=np.float32)
            self._put(rowid, vector, scope, datetime.fromisoformat(expires) if expires else None)

    def _put(self, rowid: int, vector: Vector | None, scope: Scope, expires: datetime | None) -> None:
        if vector is not None and (rowid >= len(self._matrix) or self._matrix.shape[1] != len(vector)):
            self._grow(rowid + 1, len(vector))
        if vector is not None:
            self._matrix[rowid] = vector
        for key in KEYS:
            value = getattr(scope, key)
            code = 0 if value is None else self._codes[key].setdefault(value, len(self._codes[key]) + 1)
            self._scope_codes[key][rowid] = code
            if key in self._rows_by and code:
                self._rows_by[key][code].add(rowid)
        self._expires[rowid] = expires.timestamp() if expires else NEVER

    def _remove(self, rowid: int) -> None:
        if rowid >= len(self._matrix):
            return
        for key in OWNER_KEYS:
            code = int(self._scope_codes[key][rowid])
            if code:
                self._rows_by[key][code].discard(rowid)
        self._expires[rowid] = -NEVER
        self._matrix[rowid] = 0.0

    def _grow(self, rows: int, dimension: int) -> None:
        # Grow by half again so that appending one row at a time stays amortised O(1).
        capacity = max(rows, len(self._matrix) + len(self._matrix) // 2, 1024)
        old = len(self._matrix)
        same_width = self._matrix.shape[1] == dimension
        matrix = np.zeros((capacity, dimension), dtype=np.float32)
        if same_width:
            matrix[:old] = self._matrix
        self._matrix = matrix
        for key in KEYS:
            codes = np.zeros(capacity, dtype=np.int32)
            codes[:old] = self._scope_codes[key]
            self._scope_codes[key] = codes
        expires = np.full(capacity, -NEVER)
        expires[:old] = self._expires
        self._expires = expires
