"""The domain model: scopes, memories and history events.

Times are timezone-aware UTC datetimes inside engram and ISO 8601 strings at the
API surface, so results can go straight to JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engram.results import EpisodeItem, EraseReceipt, HistoryItem, MemoryItem, RelationItem

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
"""The ids that own a memory; every read or write names at least one."""

IDENTITY_KEYS = (*SCOPE_KEYS, "actor_id")
"""Keys that describe who a memory belongs to; never stored as user metadata."""


class Event(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


@dataclass(frozen=True)
class Scope:
    """Who a memory belongs to. ``None`` means "any" when reading."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The ids that are set, e.g. ``{"user_id": "alice"}``."""
        return {key: value for key in IDENTITY_KEYS if (value := getattr(self, key)) is not None}

    def owner_only(self) -> Scope:
        """The same owners with any actor: duplicates are judged per owner, not per speaker."""
        return Scope(self.user_id, self.agent_id, self.run_id)

    def owner_key(self) -> str:
        """A stable key for the owning ids (the actor is not an owner)."""
        return "|".join(f"{key}={getattr(self, key) or ''}" for key in SCOPE_KEYS)


@dataclass
class MemoryRecord:
    """One stored memory, as the store keeps it."""

    id: str
    memory: str
    hash: str
    created_at: datetime
    updated_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None
    role: str | None = None
    expiration_date: datetime | None = None
    valid_from: datetime | None = None  # when the fact became true; None only before it is stored
    invalid_at: datetime | None = None  # when a later conversation superseded or retracted it
    # What the fact is about, as the LLM that extracted it named it ("Ana", "employer"): a later fact
    # about the same subject and attribute may supersede it. None for messages kept as they were said.
    subject: str | None = None
    attribute: str | None = None
    # Who said what it came from ("user", "assistant", "tool", "document"; ``privacy.sources``): the
    # sources of its messages, in that order. Empty when unknown (stored before engram kept them).
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.valid_from is None:  # a fact is true from when it was said unless told otherwise
            self.valid_from = self.created_at

    @property
    def scope(self) -> Scope:
        return Scope(self.user_id, self.agent_id, self.run_id, self.actor_id)

    def to_item(self, score: float | None = None) -> MemoryItem:
        """The public shape of a memory (``results.MemoryItem``)."""
        item: MemoryItem = {
            "id": self.id,
            "memory": self.memory,
            "hash": self.hash,
            "metadata": dict(self.metadata),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at) if self.updated_at else None,
            "valid_from": iso(self.valid_from or self.created_at),
            "invalid_at": iso(self.invalid_at) if self.invalid_at else None,
        }
        for key in (*IDENTITY_KEYS, "role"):
            if (value := getattr(self, key)) is not None:
                item[key] = value  # type: ignore[literal-required]  # one of the optional owner keys
        if self.sources:
            item["sources"] = list(self.sources)
        if self.expiration_date is not None:
            item["expiration_date"] = iso(self.expiration_date)
        if score is not None:
            item["score"] = round(float(score), 6)
        return item


@dataclass(frozen=True)
class HistoryRecord:
    """One change to one memory; history outlives the memory it describes, as tombstones (no text)."""

    id: str
    memory_id: str
    old_memory: str | None
    new_memory: str | None
    event: Event
    created_at: datetime
    updated_at: datetime | None = None
    is_deleted: bool = False
    actor_id: str | None = None
    role: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    def tombstone(self, *, forget_owner: bool = False) -> HistoryRecord:
        """This row without its text or speaker: what history keeps of an erased memory (id, event, times,
        role, and the scope ids unless ``forget_owner``: an erased scope's rows keep no trace of whose
        they were)."""
        owner: dict[str, Any] = dict.fromkeys(SCOPE_KEYS) if forget_owner else {}
        return replace(self, old_memory=None, new_memory=None, actor_id=None, **owner)

    def to_dict(self) -> HistoryItem:
        return {
            "id": self.id,
            "memory_id": self.memory_id,
            "old_memory": self.old_memory,
            "new_memory": self.new_memory,
            "event": self.event.value,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at) if self.updated_at else None,
            "is_deleted": self.is_deleted,
            "actor_id": self.actor_id,
            "role": self.role,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class Episode:
    """One message given to ``add``, kept as it was said: what memories are extracted from."""

    id: str
    role: str
    content: str
    created_at: datetime  # the add's timestamp
    position: int = 0  # its place among the messages of that add
    name: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.user_id, self.agent_id, self.run_id, self.actor_id)

    def to_dict(self) -> EpisodeItem:
        item: EpisodeItem = {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "content": self.content,
            "created_at": iso(self.created_at),
            "position": self.position,
        }
        for key in IDENTITY_KEYS:
            if (value := getattr(self, key)) is not None:
                item[key] = value  # type: ignore[literal-required]  # one of the optional owner keys
        return item


ERASURE_DIGEST_DOMAIN = "engram-erasure-v1|"


def scope_digest(scope: Scope) -> str:
    """What an erasure receipt keeps instead of the scope's ids: the SHA-256 of its owner ids. Whoever knows
    an id can find its receipt (``sha256("engram-erasure-v1|user_id=alice|agent_id=|run_id=")``); the
    receipt alone does not name the person."""
    return hashlib.sha256((ERASURE_DIGEST_DOMAIN + scope.owner_only().owner_key()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Erasure:
    """The receipt of a scope's erasure, kept by the store after the data is gone (docs/architecture.md section 1e)."""

    id: str
    at: datetime
    scope_kind: str  # the owner ids the erasure named, e.g. "user_id" or "agent_id+run_id"
    scope_digest: str  # scope_digest() of the scope: not the ids themselves
    erased: dict[str, int]  # rows removed per table ("history": rows turned into tombstones)
    warnings: tuple[str, ...] = ()  # what the store could not finish (not recorded: it reports this call)

    def to_dict(self) -> EraseReceipt:
        receipt: EraseReceipt = {
            "id": self.id,
            "erased": dict(self.erased),
            "at": iso(self.at),
            "scope_kind": self.scope_kind,
            "scope_digest": self.scope_digest,
        }
        if self.warnings:
            receipt["warnings"] = list(self.warnings)
        return receipt


def scope_kind(scope: Scope) -> str:
    """The owner ids a scope names, joined: ``"user_id"``, ``"agent_id+run_id"``."""
    return "+".join(key for key in SCOPE_KEYS if getattr(scope, key) is not None)


def memory_hash(text: str) -> str:
    """The hash that identifies a memory's text (md5, as mem0 does)."""
    return hashlib.md5(text.strip().encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds: sortable as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# -- graph memory (docs/architecture.md section 1c) -----------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """A person, place, organisation or thing that memories of one owner mention."""

    id: str
    name: str
    key: str  # the normalised name: how mentions of the same entity are matched first
    owner: Scope  # user_id, agent_id and run_id of the add that first mentioned it (no actor)
    created_at: datetime
    type: str | None = None


@dataclass(frozen=True)
class Relation:
    """``source --relationship--> destination``, true from ``valid_from`` until ``invalid_at``.

    A contradicted relation is never deleted: it gets an ``invalid_at`` and stays answerable
    as of earlier times. ``source`` and ``destination`` hold the entities' names when read.
    """

    id: str
    source_id: str
    relationship: str
    destination_id: str
    owner: Scope
    valid_from: datetime
    created_at: datetime
    invalid_at: datetime | None = None
    memory_ids: tuple[str, ...] = ()  # the memories it was extracted with
    episode_ids: tuple[str, ...] = ()  # the conversation messages it came from
    source: str = ""
    destination: str = ""

    def to_dict(self, score: float | None = None) -> RelationItem:
        """mem0's shape (source, relationship, destination) with the validity of the fact."""
        item: RelationItem = {
            "source": self.source,
            "relationship": self.relationship,
            "destination": self.destination,
            "valid_from": iso(self.valid_from),
            "invalid_at": iso(self.invalid_at) if self.invalid_at else None,
        }
        if score is not None:
            item["score"] = round(float(score), 6)
        return item
