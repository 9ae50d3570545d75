"""The Store protocol: everything engram keeps, behind one interface.

A store holds memories with their vectors and keyword index, their earlier
versions, the history of every change, and the episodes (messages) they came from. Writes happen only inside
``with store.transaction():``; nested transactions join the outer one, so a
verb's whole write (memory + vector + keyword index + history) commits or rolls
back as one. LLM and embedding calls happen before a transaction opens.

Every backend gives filters the same meaning; ``tests/test_store_contract.py``
runs one suite against each.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from engram.errors import StorageError
from engram.models import Entity, Episode, Erasure, Event, HistoryRecord, MemoryRecord, Relation, Scope
from engram.results import ScopeItem
from engram.storage.filters import Filter
from engram.validation import check_text

if TYPE_CHECKING:
    from engram.storage.graph_rows import GraphStore

Vector = npt.NDArray[np.float32]

MEMORY_COLUMNS = (
    "id, memory, hash, metadata, user_id, agent_id, run_id, actor_id, role, "
    "created_at, updated_at, expiration_date, valid_from, invalid_at, subject, attribute, sources"
)
"""The columns every backend reads a memory from, in the order of ``record_from_row``."""

VERSION_COLUMNS = "memory_id, " + MEMORY_COLUMNS.removeprefix("id, ")
"""The same columns in ``memory_versions``, where ``memory_id`` names the memory a version belongs to."""

_ROLES_OF_SOURCE = {"user": "'user'", "assistant": "'assistant'", "tool": "'tool'", "document": "'system'"}
SOURCES_BACKFILL = (
    "UPDATE memories SET sources = NULLIF(rtrim("
    + " || ".join(
        f"(CASE WHEN memories.role IN ({roles}) OR EXISTS (SELECT 1 FROM memory_episodes l JOIN episodes e "
        f"ON e.id = l.episode_id WHERE l.memory_id = memories.id AND e.role IN ({roles})) "
        f"THEN '{source},' ELSE '' END)"
        for source, roles in _ROLES_OF_SOURCE.items()
    )
    + ", ','), '')"
)
"""Both dialects: the sources of memories stored before engram kept them, from their role and the roles
of the messages they came from (a message's ``name`` is not read: a pasted document said by the user
counts as the user's)."""

EPISODE_COLUMNS = "id, role, content, created_at, position, name, user_id, agent_id, run_id, actor_id"
"""The columns of an episode, in the order of ``episode_values`` and ``episode_from_row``."""


def placeholders(columns: str, mark: str) -> str:
    """``mark`` once per column of ``columns``, for an INSERT's VALUES."""
    return ", ".join([mark] * len(columns.split(",")))


@dataclass(frozen=True)
class Query:
    """Which memories a read may see: a scope, optional filters, and the clock."""

    scope: Scope
    filters: Filter | None = None
    now: datetime | None = None  # memories that expired before ``now`` are hidden
    as_of: datetime | None = None  # None: current facts only; else the versions valid at that moment


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    name: str | None
    created_at: datetime


@dataclass(frozen=True)
class ExportedMemory:
    """A memory as export and import move it: the record, its vector, the text its keyword
    entry was made from (which may hold the turns around it), its history (oldest first), its
    earlier versions (each an ``ExportedMemory`` whose record holds that version's text and
    validity) and the episodes it came from."""

    record: MemoryRecord
    vector: Vector
    keyword_text: str
    history: Sequence[HistoryRecord]
    versions: Sequence[ExportedMemory] = ()
    episodes: Sequence[Episode] = ()
    entities: Sequence[Entity] = ()  # the graph's entities the memory mentions (graph memory)
    relations: Sequence[Relation] = ()  # the relations extracted with it, with the entities' names


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
        """Delete everything: memories and their versions, history, episodes, the graph (not the
        erasure receipts, which outlive the data by design)."""
        ...

    # -- writes (inside a transaction) ---------------------------------------
    def insert_memory(self, record: MemoryRecord, vector: Vector, index_text: str) -> None: ...

    def update_memory(self, record: MemoryRecord, vector: Vector | None, index_text: str | None) -> None:
        """Replace a memory's text, hash, metadata, updated_at, valid_from and invalid_at (and vector and
        keyword entry, if given: ``None`` keeps them as they are)."""
        ...

    def archive_memory(self, memory_id: str, until: datetime) -> None:
        """Keep the memory as it is now (text, vector, keyword entry) as a version valid until ``until``,
        before an update supersedes it."""
        ...

    def insert_version(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        """Add a past version of memory ``record.id``, valid from ``record.valid_from`` until
        ``record.invalid_at`` (a superseding statement dated before the current text)."""
        ...

    def retract_memory(self, memory_id: str, at: datetime) -> None:
        """Set the memory's ``invalid_at`` (and ``updated_at``): it leaves current reads, not as-of ones."""
        ...

    def delete_memory(self, memory_id: str) -> None:
        """Erase the memory: its row, every version of it, their keyword entries, its episode links and the
        episodes that produced no other memory; its history rows become tombstones (no text)."""
        ...

    def delete_memories(self, scope: Scope, limit: int | None = None) -> list[MemoryRecord]:
        """Erase every memory in the scope as ``delete_memory`` does, and the scope's episodes; return the
        memories deleted. With ``limit``, at most that many memories (with their versions) when the
        scope holds more, so that a big scope is deleted in several short transactions; the call that
        finds fewer also takes the episodes (and on SQLite rewrites the keyword indexes)."""
        ...

    def erase_scope(self, scope: Scope, *, at: datetime | None = None) -> Erasure:
        """Erase everything a scope (its owner ids; the actor is ignored) holds: memories, versions,
        episodes, keyword entries and its graph; its history rows become tombstones without text or scope
        ids, and each erased memory's history ends with a DELETE tombstone. Records the receipt
        (``list_erasures``) and returns it. Runs its own transactions (big scopes in batches); on SQLite it
        then rewrites the keyword indexes and checkpoints the WAL, so the text leaves the file."""
        ...

    def list_erasures(self, scope: Scope | None = None, limit: int = 100) -> list[Erasure]:
        """The erasure receipts, newest first; with ``scope``, only those of that scope (by its digest)."""
        ...

    def add_history(self, rows: Sequence[HistoryRecord]) -> None:
        """Append history rows. A row that records a deletion (``is_deleted``) is stored as a tombstone:
        without text, whatever the caller passed."""
        ...

    def add_episodes(self, episodes: Sequence[Episode]) -> None: ...

    def link_episodes(self, links: Sequence[tuple[str, str]]) -> None:
        """Record (memory id, episode id) pairs: the memory came from the episode. Repeats are ignored."""
        ...

    # -- reads -----------------------------------------------------------------
    def get_memory(self, memory_id: str, *, lock: bool = False) -> MemoryRecord | None:
        """One memory. ``lock``: inside a transaction, the row stays as read until it ends (another
        writer's update or delete of it waits), so that the row read is the row written."""
        ...

    def list_memories(self, query: Query, limit: int) -> list[MemoryRecord]:
        """Newest first."""
        ...

    def find_by_hash(self, scope: Scope, hashes: Sequence[str]) -> dict[str, MemoryRecord]:
        """The scope's current (not retracted) memories with these hashes, by hash."""
        ...

    def get_memories(
        self, memory_ids: Sequence[str], as_of: datetime | None = None, *, lock: bool = False
    ) -> dict[str, MemoryRecord]:
        """The memories with these ids, by id; unknown ids are left out. With ``as_of``, each as the
        version valid then (ids with none are left out). ``lock`` as for ``get_memory``."""
        ...

    def list_versions(self, memory_id: str) -> list[MemoryRecord]:
        """The earlier versions of a memory (not the current row), oldest first."""
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

    def deleted_history(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[HistoryRecord]]:
        """History rows of a scope (or of the store) whose memory is gone, for export: each memory's
        rows together and oldest first, memories in the order of their first row."""
        ...

    def history(self, memory_id: str) -> list[HistoryRecord]:
        """Oldest first."""
        ...

    def recent_messages(self, scope: Scope, limit: int) -> list[StoredMessage]:
        """Oldest first, the last ``limit`` non-system episodes of exactly this scope."""
        ...

    def list_episodes(self, scope: Scope, *, before: datetime | None = None, limit: int = 100) -> list[Episode]:
        """The scope's episodes (those of every narrower scope too, as reads of memories do), oldest first:
        the last ``limit`` of them, or of those said before ``before``."""
        ...

    def memory_episodes(self, memory_id: str) -> list[Episode]:
        """The episodes a memory came from, oldest first."""
        ...

    def episode_memories(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each episode id, the ids of the memories it produced (episodes without any are left out)."""
        ...

    def episode_search(self, query: Query, text: str, limit: int) -> list[tuple[Episode, float]]:
        """The ``limit`` episodes of the query's scope whose words best match ``text`` (higher score is
        better), best first: said by ``query.as_of`` (or ``query.now``), not by the system, and not
        linked to a memory retracted by then (what the user asked to forget stays out).
        ``query.filters`` are not applied: episodes carry no metadata."""
        ...

    def count_memories(self, query: Query) -> int: ...

    # -- browsing (the dashboard) ----------------------------------------------------
    def list_scopes(self, now: datetime | None) -> list[ScopeCount]:
        """Every user, agent and run id with how many current memories it holds (not retracted, not
        expired at ``now``), ordered by kind then id."""
        ...

    def page_memories(self, query: Query, page: Page) -> list[MemoryRecord]:
        """One page of the query's memories in the page's order (ties broken by insertion order)."""
        ...

    # -- lifecycle and portability ---------------------------------------------------
    def delete_expired(self, now: datetime) -> list[MemoryRecord]:
        """Delete every memory whose expiration_date has passed; return what was deleted."""
        ...

    def delete_outdated(self, cutoff: datetime) -> dict[str, int]:
        """Delete versions and retracted memories that stopped being valid before ``cutoff``, and
        history rows written before it; returns ``versions``, ``retracted_memories``, ``history_rows``."""
        ...

    def counts(self, scope: Scope | None, now: datetime) -> dict[str, int]:
        """``memories`` (current), ``expired`` and ``retracted`` of a scope or the store; ``versions``,
        ``history`` and ``episodes`` too for the whole store."""
        ...

    def export_memories(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[ExportedMemory]]:
        """Every memory of a scope (or the store), retracted ones too, in the order they were stored
        (so an import stores them in the file's order, and exports again identically), in batches,
        with its history, versions and episodes."""
        ...

    def import_memories(self, memories: Sequence[ExportedMemory]) -> int:
        """Insert exported memories as they are (with their versions, history and episodes), skipping
        ids already stored; returns how many memories were new."""
        ...

    # -- the graph: entities, relations and memory links (storage/graph.py) ---------------
    @property
    def graph(self) -> GraphStore: ...


def history_batches(rows: Sequence[HistoryRecord], size: int) -> Iterator[list[HistoryRecord]]:
    """``rows`` (oldest first) in batches of about ``size``, each memory's rows together, memories in
    the order of their first row."""
    by_memory: dict[str, list[HistoryRecord]] = {}
    for row in rows:
        by_memory.setdefault(row.memory_id, []).append(row)
    batch: list[HistoryRecord] = []
    for memory_rows in by_memory.values():
        batch += memory_rows
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def record_values(record: MemoryRecord, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """A memory as the values of ``MEMORY_COLUMNS``; ``time`` writes a time the backend's way."""

    def when(moment: datetime | None) -> Any:
        return time(moment) if moment is not None else None

    # Both stores refuse the same text: SQLite would store a NUL that PostgreSQL cannot.
    check_text(record.memory, "a memory's text")
    return (
        record.id,
        record.memory,
        record.hash,
        json.dumps(record.metadata, ensure_ascii=False),
        record.user_id,
        record.agent_id,
        record.run_id,
        record.actor_id,
        record.role,
        when(record.created_at),
        when(record.updated_at),
        when(record.expiration_date),
        when(record.valid_from or record.created_at),
        when(record.invalid_at),
        record.subject,
        record.attribute,
        ",".join(record.sources) or None,
    )


def record_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> MemoryRecord:
    """A memory from a row of ``MEMORY_COLUMNS``; ``time`` reads a time the backend's way."""
    metadata = row[3] if isinstance(row[3], dict) else json.loads(row[3])
    return MemoryRecord(
        id=row[0],
        memory=row[1],
        hash=row[2],
        metadata=metadata,
        user_id=row[4],
        agent_id=row[5],
        run_id=row[6],
        actor_id=row[7],
        role=row[8],
        created_at=time(row[9]),
        updated_at=time(row[10]) if row[10] is not None else None,
        expiration_date=time(row[11]) if row[11] is not None else None,
        valid_from=time(row[12]),
        invalid_at=time(row[13]) if row[13] is not None else None,
        subject=row[14],
        attribute=row[15],
        sources=tuple(row[16].split(",")) if row[16] else (),
    )


HISTORY_COLUMNS = (
    "id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role, "
    "user_id, agent_id, run_id"
)
"""The columns of a history row, in the order of ``history_values`` and ``history_from_row``."""


def history_values(row: HistoryRecord, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """A history row as the values of ``HISTORY_COLUMNS``; ``time`` writes a time the backend's way."""
    return (
        row.id,
        row.memory_id,
        row.old_memory,
        row.new_memory,
        row.event.value,
        time(row.created_at),
        time(row.updated_at) if row.updated_at is not None else None,
        row.is_deleted,
        row.actor_id,
        row.role,
        row.user_id,
        row.agent_id,
        row.run_id,
    )


def stored_history(rows: Sequence[HistoryRecord]) -> list[HistoryRecord]:
    """History rows as a store keeps them: a deletion's row is a tombstone (a deleted text leaves no trace)."""
    return [row.tombstone() if row.is_deleted else row for row in rows]


def history_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> HistoryRecord:
    """A history row from the values of ``HISTORY_COLUMNS``; ``time`` reads a time the backend's way."""
    return HistoryRecord(
        id=row[0],
        memory_id=row[1],
        old_memory=row[2],
        new_memory=row[3],
        event=Event(row[4]),
        created_at=time(row[5]),
        updated_at=time(row[6]) if row[6] is not None else None,
        is_deleted=bool(row[7]),
        actor_id=row[8],
        role=row[9],
        user_id=row[10],
        agent_id=row[11],
        run_id=row[12],
    )


ERASURE_COLUMNS = "id, at, scope_kind, scope_digest, erased"
"""The columns of an erasure receipt, in the order of ``erasure_values`` and ``erasure_from_row``."""

ERASE_BATCH = 1_000
"""Memories erased per transaction by ``erase_scope`` (as ``delete_all`` deletes them)."""

TOMBSTONE = "old_memory = NULL, new_memory = NULL, actor_id = NULL"
"""The SET clause that turns a history row into a tombstone: no text, no speaker."""

TOMBSTONE_OWNER = "user_id = NULL, agent_id = NULL, run_id = NULL"
"""What it also sets on the history rows of an erased scope: no scope ids either."""


def erasure_values(erasure: Erasure, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    return (
        erasure.id,
        time(erasure.at),
        erasure.scope_kind,
        erasure.scope_digest,
        json.dumps(erasure.erased, sort_keys=True),
    )


def erasure_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> Erasure:
    erased = row[4] if isinstance(row[4], dict) else json.loads(row[4])
    return Erasure(id=row[0], at=time(row[1]), scope_kind=row[2], scope_digest=row[3], erased=erased)


def erase_owner(scope: Scope) -> Scope:
    """The owner ids an erasure acts on; refuses a scope without any (it would erase nothing, or everything)."""
    owner = scope.owner_only()
    if not owner.as_dict():
        raise StorageError("refusing to erase without a user_id, agent_id or run_id")
    return owner


def erasure_tombstones(memories: Sequence[tuple[str, str | None]], at: datetime) -> list[HistoryRecord]:
    """The DELETE tombstone that ends each erased memory's history (``(memory id, role)`` pairs)."""
    return [
        HistoryRecord(str(uuid.uuid4()), memory_id, None, None, Event.DELETE, at, at, True, role=role)
        for memory_id, role in memories
    ]


def episode_values(episode: Episode, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """An episode as the values of ``EPISODE_COLUMNS``."""
    return (
        episode.id,
        episode.role,
        episode.content,
        time(episode.created_at),
        episode.position,
        episode.name,
        episode.user_id,
        episode.agent_id,
        episode.run_id,
        episode.actor_id,
    )


def episode_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> Episode:
    return Episode(
        id=row[0],
        role=row[1],
        content=row[2],
        created_at=time(row[3]),
        position=int(row[4]),
        name=row[5],
        user_id=row[6],
        agent_id=row[7],
        run_id=row[8],
        actor_id=row[9],
    )


def window_episode_values(
    position: int, owner: str, role: str, content: str, name: str | None, created_at: Any
) -> tuple[Any, ...]:
    """``owner`` and an episode's values (``EPISODE_COLUMNS``) for a message of the old recent-message
    window, which a migration turns into an episode."""
    scope = parse_owner_key(owner)
    return (
        owner,
        str(uuid.uuid4()),
        role,
        content,
        created_at,
        position,
        name,
        scope.user_id,
        scope.agent_id,
        scope.run_id,
        None,
    )


def parse_owner_key(owner: str) -> Scope:
    """The scope of an ``owner_key`` (used once, to move the old message window into episodes)."""
    parts = dict(part.split("=", 1) for part in owner.split("|") if "=" in part)
    return Scope(parts.get("user_id") or None, parts.get("agent_id") or None, parts.get("run_id") or None)


_WORD = re.compile(r"\w+", re.UNICODE)

# English function words. They carry almost no BM25 weight, yet a keyword index reads the whole
# posting list of every query term, and with OR semantics they match nearly every memory.
STOPWORDS = frozenset(
    "a about after again all am an and any are as at be been before being both but by can could "
    "did do does doing during each few for from had has have having he her here hers herself him "
    "himself his how i if in into is it its itself just me more most my myself no nor not now of "
    "off on once only or other our ours out over own same she should so some such than that the "
    "their theirs them then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with would you your yours".split()
)


def episode_text(name: str | None, content: str) -> str:
    """What is keyword-indexed for an episode: who said it, and what was said."""
    return f"{name}: {content}" if name else content


def query_words(text: str) -> list[str]:
    """The content words of a keyword query, lower-cased, each once, in order (every backend uses these)."""
    words = (w.lower() for w in _WORD.findall(text) if len(w) > 1 or w.isdigit())
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))


def check_same_embedder(stored: dict[str, str], model_name: str, dimension: int, *, where: str, remedy: str) -> None:
    """Refuse a store whose vectors came from another embedder: their similarities would be noise."""
    stored_model, stored_dim = stored["embedding_model"], int(stored["embedding_dimension"])
    if stored_dim != dimension or stored_model != model_name:
        raise StorageError(
            f"{where} holds vectors from the embedder {stored_model!r} ({stored_dim} dimensions), "
            f"but this Memory uses {model_name!r} ({dimension} dimensions). "
            f"Configure the same embedder, or {remedy}."
        )


# -- browsing -------------------------------------------------------------------------------

SCOPE_KINDS = ("user_id", "agent_id", "run_id")
"""The ids a scope is listed by (the actor is a speaker inside a scope, not an owner)."""

SCOPE_TIME_INDEX = "created_at, invalid_at, expiration_date, updated_at"
"""What the per-scope index of ``memories`` holds after the scope column: the newest-first order,
then the columns a current read filters on and the other time a page sorts by."""

SORT_COLUMNS = {
    "created_at": "created_at",
    "updated_at": "COALESCE(updated_at, created_at)",  # never-updated memories sort by when they were made
    "memory": "memory",
}
"""What a page may be sorted by, and the SQL each backend orders by (text in code-point order on both)."""


@dataclass(frozen=True)
class ScopeCount:
    kind: Literal["user_id", "agent_id", "run_id"]
    id: str
    count: int

    def to_dict(self) -> ScopeItem:
        return {"kind": self.kind, "id": self.id, "count": self.count}


@dataclass(frozen=True)
class Page:
    """Which slice of a query's memories to read, in which order."""

    limit: int
    offset: int = 0
    sort: str = "created_at"  # a key of SORT_COLUMNS
    descending: bool = True

    def __post_init__(self) -> None:
        if self.sort not in SORT_COLUMNS:
            raise StorageError(f"cannot sort by {self.sort!r}: use one of {', '.join(SORT_COLUMNS)}")

    def order_sql(self, text_collation: str = "", ties: tuple[str, ...] = ("pk",)) -> str:
        """The ORDER BY clause; ``text_collation`` makes a backend compare text by code point, and
        ``ties`` are the columns that order equal keys (insertion order in ``memories``)."""
        direction = "DESC" if self.descending else "ASC"
        column = SORT_COLUMNS[self.sort] + (text_collation if self.sort == "memory" else "")
        return ", ".join(f"{key} {direction}" for key in (column, *ties))


AS_OF_TIES = ("valid_from", "id")
"""What orders equal keys when a page mixes memories and earlier versions (which have no ``pk``)."""
