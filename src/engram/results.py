"""The shapes of what the verbs return (mem0's, with engram's times), defined once.

``Memory``, ``AsyncMemory``, both clients and the MCP tools return these; the server declares them
as its OpenAPI response schemas. They are ``TypedDict``s: results stay plain JSON-ready dicts, as
in mem0, and a type checker still knows every key. Keys marked ``NotRequired`` appear only where
they apply (``score`` in search results, ``relations`` with graph memory on, ...).

``extra="allow"``: a newer server may add keys; an older client keeps them rather than drop them.
"""

from __future__ import annotations

from typing import (
    Any,
    Literal,
    NotRequired,  # pydantic reads these on Python < 3.12
)

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

EventName = Literal["ADD", "UPDATE", "DELETE", "NONE"]
ALLOW_EXTRA = ConfigDict(extra="allow")


@with_config(ALLOW_EXTRA)
class MemoryItem(TypedDict):
    """One memory: its text, times and owners."""

    id: str
    memory: str
    hash: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None
    valid_from: str
    invalid_at: str | None
    user_id: NotRequired[str]
    agent_id: NotRequired[str]
    run_id: NotRequired[str]
    actor_id: NotRequired[str]
    role: NotRequired[str]
    sources: NotRequired[list[str]]  # who said what it came from: user, assistant, tool, document
    expiration_date: NotRequired[str]
    score: NotRequired[float]  # search results
    explain: NotRequired[dict[str, float]]  # search(..., explain=True)


@with_config(ALLOW_EXTRA)
class RelationItem(TypedDict):
    """A graph relation: mem0's shape, with its validity and, in search, its score."""

    source: str
    relationship: str
    destination: str
    valid_from: str
    invalid_at: str | None
    score: NotRequired[float]


@with_config(ALLOW_EXTRA)
class RelationChanges(TypedDict):
    """What an add did to the graph."""

    added_entities: list[RelationItem]
    deleted_entities: list[RelationItem]


@with_config(ALLOW_EXTRA)
class AddEvent(TypedDict):
    """One memory an add touched, and how."""

    id: str
    memory: str
    event: EventName
    previous_memory: NotRequired[str]  # UPDATE


@with_config(ALLOW_EXTRA)
class ForgottenItem(TypedDict):
    """A memory an add retracted because the user asked to forget it."""

    id: str
    memory: str


@with_config(ALLOW_EXTRA)
class Redaction(TypedDict):
    """How many values of one category screening replaced by a placeholder (never the values)."""

    category: str
    count: int


@with_config(ALLOW_EXTRA)
class AddResult(TypedDict):
    results: list[AddEvent]
    redactions: NotRequired[list[Redaction]]  # what screening redacted (docs/privacy.md)
    forgotten: NotRequired[list[ForgottenItem]]  # retracted on the user's request (also DELETE in results)
    relations: NotRequired[RelationChanges]  # graph memory on
    usage: NotRequired[dict[str, Any]]  # LLM calls and tokens, when the add made any
    warnings: NotRequired[list[str]]  # what the pipeline could not use, and why


@with_config(ALLOW_EXTRA)
class EpisodeItem(TypedDict):
    """One message given to ``add``, as it was said."""

    id: str
    role: str
    name: str | None
    content: str
    created_at: str
    position: int
    user_id: NotRequired[str]
    agent_id: NotRequired[str]
    run_id: NotRequired[str]
    actor_id: NotRequired[str]


@with_config(ALLOW_EXTRA)
class FoundEpisode(EpisodeItem):
    """A message found by ``search(..., episodes=n)``."""

    score: float
    memory_ids: list[str]


@with_config(ALLOW_EXTRA)
class MemoryList(TypedDict):
    """``get_all``: the scope's memories, newest first."""

    results: list[MemoryItem]
    relations: NotRequired[list[RelationItem]]  # graph memory on


@with_config(ALLOW_EXTRA)
class SearchResult(TypedDict):
    """``search``: the best memories first, each with a ``score``."""

    results: list[MemoryItem]
    relations: NotRequired[list[RelationItem]]  # graph memory on
    episodes: NotRequired[list[FoundEpisode]]  # search(..., episodes=n)


@with_config(ALLOW_EXTRA)
class HistoryItem(TypedDict):
    """One change to one memory."""

    id: str
    memory_id: str
    old_memory: str | None
    new_memory: str | None
    event: EventName
    created_at: str
    updated_at: str | None
    is_deleted: bool
    actor_id: str | None
    role: str | None
    user_id: str | None
    agent_id: str | None
    run_id: str | None


@with_config(ALLOW_EXTRA)
class MessageResult(TypedDict):
    """``update``, ``delete`` and ``delete_all``: mem0's confirmation."""

    message: str
    redactions: NotRequired[list[Redaction]]  # update: what screening redacted from the new text or metadata


@with_config(ALLOW_EXTRA)
class EraseReceipt(TypedDict):
    """``erase``: what was erased of a scope, and when. The store keeps it after the data is gone."""

    id: str
    erased: dict[str, int]  # rows removed per table ("history": rows turned into tombstones)
    at: str
    scope_kind: str  # the ids the erasure named, e.g. "user_id" or "agent_id+run_id"
    scope_digest: str  # the SHA-256 of the scope's ids (models.scope_digest), not the ids
    warnings: NotRequired[list[str]]  # what the store could not finish (SQLite: text left in the WAL)


@with_config(ALLOW_EXTRA)
class ErasureList(TypedDict):
    """``erasures``: the receipts of past erasures, newest first."""

    results: list[EraseReceipt]


@with_config(ALLOW_EXTRA)
class MemoryPage(TypedDict):
    """``browse``: one page of a scope's memories, with the total across pages."""

    results: list[MemoryItem]
    total: int
    offset: int
    limit: int


@with_config(ALLOW_EXTRA)
class ScopeItem(TypedDict):
    kind: Literal["user_id", "agent_id", "run_id"]
    id: str
    count: int


@with_config(ALLOW_EXTRA)
class ScopeList(TypedDict):
    """``scopes``: every user, agent and run id that holds memories."""

    results: list[ScopeItem]


__all__ = [
    "AddEvent",
    "AddResult",
    "EpisodeItem",
    "EraseReceipt",
    "ErasureList",
    "EventName",
    "ForgottenItem",
    "FoundEpisode",
    "HistoryItem",
    "MemoryItem",
    "MemoryList",
    "MemoryPage",
    "MessageResult",
    "Redaction",
    "RelationChanges",
    "RelationItem",
    "ScopeItem",
    "ScopeList",
    "SearchResult",
]
