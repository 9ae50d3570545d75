"""The Store protocol: everything engram keeps, behind one interface.

A store holds memories with their vectors and keyword index, the history of
every change, and the recent-message window. Writes happen only inside
``with store.transaction():``; nested transactions join the outer one, so a
verb's whole write (memory + vector + keyword index + history) commits or rolls
back as one. LLM and embedding calls happen before a transaction opens.

Every backend gives filters the same meaning; ``tests/test_store_contract.py``
runs one suite against each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engram.models import HistoryRecord, MemoryRecord, Scope
from engram.storage.filters import Filter

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Query:
    """Which memories a read may see: a scope, optional filters, and the clock."""

    scope: Scope
    filters: Filter | None = None
    now: datetime | None = None  # memories that expired before ``now`` are hidden


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    name: str | None
    created_at: datetime


class Store(Protocol):
    # -- lifecycle ---------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the data lives, for messages (a path or a URL without password)."""
        ...

    def bind_embedder(self, model_name: str, dimension: int) -> None:
        """Record the embedder on first use; refuse a different one later."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...

    def reset(self) -> None:
        """Delete everything: memories, history, messages."""
        ...

    # -- writes (inside a transaction) ---------------------------------------
    def insert_memory(self, record: MemoryRecord, vector: Vector, index_text: str) -> None: ...

    def update_memory(self, record: MemoryRecord, vector: Vector | None, index_text: str) -> None:
        """Replace a memory's text, hash, metadata and updated_at (and vector, if given)."""
        ...

    def delete_memory(self, memory_id: str) -> None: ...

    def delete_memories(self, scope: Scope) -> list[MemoryRecord]:
        """Delete every memory in the scope and return what was deleted."""
        ...

    def add_history(self, rows: Sequence[HistoryRecord]) -> None: ...

    def append_messages(
        self, scope: Scope, messages: Sequence[StoredMessage], keep_last: int
    ) -> None: ...

    # -- reads -----------------------------------------------------------------
    def get_memory(self, memory_id: str) -> MemoryRecord | None: ...

    def list_memories(self, query: Query, limit: int) -> list[MemoryRecord]:
        """Newest first."""
        ...

    def find_by_hash(self, scope: Scope, hashes: Sequence[str]) -> dict[str, MemoryRecord]: ...

    def get_memories(self, memory_ids: Sequence[str]) -> dict[str, MemoryRecord]:
        """The memories with these ids, by id; unknown ids are left out."""
        ...

    def vector_search(self, query: Query, vector: Vector, limit: int) -> list[tuple[str, float]]:
        """Ids of the ``limit`` memories most similar to ``vector`` (cosine), best first."""
        ...

    def keyword_search(self, query: Query, text: str, limit: int) -> list[tuple[str, float]]:
        """Ids of the ``limit`` best keyword matches (higher score is better), best first.

        Ranking searches return ids, not records, so that only the few memories
        that survive fusion are read in full.
        """
        ...

    def history(self, memory_id: str) -> list[HistoryRecord]:
        """Oldest first."""
        ...

    def recent_messages(self, scope: Scope, limit: int) -> list[StoredMessage]:
        """Oldest first, the last ``limit`` messages of exactly this scope."""
        ...

    def count_memories(self, query: Query) -> int: ...


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
