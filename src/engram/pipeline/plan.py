"""What the steps of an add pass along: the context they run in, the draft every new memory starts
from, and the plan of everything the add will write (``write.py`` writes it in one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engram.config import MemoryConfig
from engram.embedders import Embedder, Vectors
from engram.graph_settings import GraphSettings
from engram.llms import LLM, LLMSource, Usage
from engram.messages import Message
from engram.models import Event, HistoryRecord, MemoryRecord, Scope, memory_hash
from engram.pipeline.entities import GraphExtraction
from engram.privacy.sources import Source, ordered_sources
from engram.results import AddEvent
from engram.search import RecentVectors
from engram.storage.base import Store, Vector

if TYPE_CHECKING:  # the graph step imports this module
    from engram.pipeline.graph_write import GraphDraft


@dataclass(frozen=True)
class Fact:
    """One fact the model extracted from an add's messages."""

    text: str
    sources: tuple[int, ...] = ()  # indexes into the messages passed to add
    valid_from: datetime | None = None  # when it became true, if the conversation says so
    subject: str | None = None  # whose fact it is ("User", "Ana"), as the model named it
    attribute: str | None = None  # what of theirs it concerns ("home city", "employer")


@dataclass(frozen=True)
class Action:
    """One change a fact makes to memory. ``text`` is the new text for ADD and UPDATE."""

    event: Event
    fact: Fact | None = None
    text: str | None = None
    target: MemoryRecord | None = None
    asked: Event | None = None  # what the model asked for, when the checks made it another event


@dataclass(frozen=True)
class Context:
    """The parts an add's steps work with. No step calls back into ``Memory``."""

    store: Store
    embedder: Embedder
    config: MemoryConfig
    graph: GraphSettings | None  # None: the graph is off
    recent: RecentVectors  # the turn before a new one is not embedded twice
    llms: LLMSource  # looked up only by the steps that need an LLM

    def embed(self, texts: list[str]) -> Vectors:
        """Document vectors, reusing the ones the last adds computed."""
        return self.recent.embed(self.embedder, texts)

    def require_llm(self) -> LLM:
        """The LLM; ConfigError says how to configure one when there is none."""
        return self.llms.get()


@dataclass(frozen=True)
class Draft:
    """What every memory written by one add shares."""

    scope: Scope
    metadata: dict[str, Any]
    created_at: datetime
    expires: datetime | None
    links: dict[str, list[int]] = field(default_factory=dict)  # memory id -> positions of its source messages

    def link(self, memory_id: str, sources: Sequence[Message]) -> None:
        """Remember which messages of this add a memory came from (they become its episodes)."""
        positions = self.links.setdefault(memory_id, [])
        positions += [m.position for m in sources if m.position not in positions]

    def record(
        self,
        text: str,
        *,
        role: str | None,
        sources: Sequence[Message],
        speaker: str | None = None,
        valid_from: datetime | None = None,
        about: Fact | None = None,
    ) -> MemoryRecord:
        """``speaker`` (a message's ``name``) becomes the actor when the call names none, as in mem0.
        ``valid_from`` is when the fact became true, if the conversation dates it (default: the add's time);
        ``about`` is the fact it states, whose subject and attribute it keeps."""
        metadata = dict(self.metadata)
        source_ids = [m.id for m in sources if m.id is not None]
        if source_ids:
            metadata["source_ids"] = source_ids
        record = MemoryRecord(
            id=str(uuid.uuid4()),
            memory=text,
            hash=memory_hash(text),
            created_at=self.created_at,
            updated_at=self.created_at,
            metadata=metadata,
            role=role,
            expiration_date=self.expires,
            valid_from=valid_from or self.created_at,
            user_id=self.scope.user_id,
            agent_id=self.scope.agent_id,
            run_id=self.scope.run_id,
            actor_id=self.scope.actor_id if self.scope.actor_id is not None else speaker,
            subject=about.subject if about else None,
            attribute=about.attribute if about else None,
            sources=ordered_sources(m.source for m in sources),
        )
        self.link(record.id, sources)
        return record


@dataclass
class WritePlan:
    """Everything one write will do, computed before its transaction opens."""

    inserts: list[tuple[MemoryRecord, Vector]] = field(default_factory=list)
    # superseded: the old text stays as the version valid until the new one's ``valid_from``
    updates: list[tuple[MemoryRecord, MemoryRecord, Vector | None]] = field(default_factory=list)  # old, new
    # corrected in place: the memory's text or metadata was wrong all along (history keeps the old)
    corrections: list[tuple[MemoryRecord, MemoryRecord, Vector | None]] = field(default_factory=list)
    deletes: list[MemoryRecord] = field(default_factory=list)  # retracted: ``invalid_at`` is set
    forgotten: set[str] = field(default_factory=set)  # the deletes the user asked for (forget requests)
    unchanged: list[MemoryRecord] = field(default_factory=list)
    keyword_texts: dict[str, str] = field(default_factory=dict)  # memory id -> text with its context
    reindex: list[tuple[MemoryRecord, list[str]]] = field(default_factory=list)  # earlier turns, new context
    extracted_graph: GraphExtraction | None = None  # what the extraction call said about the graph
    graph: GraphDraft | None = None  # the graph change, when the graph is on
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)  # category -> values screening redacted

    def written_ids(self) -> set[str]:
        """The memories this plan creates or changes the text of."""
        return {record.id for record, _ in self.inserts} | {new.id for _, new, _ in self.updates}

    def results(self) -> list[AddEvent]:
        """The ``results`` of an add: one item per memory touched, NONE for those left as they were."""
        results: list[AddEvent] = [{"id": r.id, "memory": r.memory, "event": "ADD"} for r, _ in self.inserts]
        results += [
            {"id": new.id, "memory": new.memory, "event": "UPDATE", "previous_memory": old.memory}
            for old, new, _ in self.updates
        ]
        results += [{"id": r.id, "memory": r.memory, "event": "DELETE"} for r in self.deletes]
        seen = {result["id"] for result in results}
        for record in self.unchanged:
            if record.id not in seen:
                seen.add(record.id)
                results.append({"id": record.id, "memory": record.memory, "event": "NONE"})
        return results


def history_row(
    event: Event, old: MemoryRecord | None, new: MemoryRecord | None, at: datetime, *, deleted: bool = False
) -> HistoryRecord:
    """A history row at ``at``: the add's or update's time when one was given, else the moment of the call."""
    subject = new or old
    assert subject is not None
    return HistoryRecord(
        id=str(uuid.uuid4()),
        memory_id=subject.id,
        old_memory=old.memory if old else None,
        new_memory=new.memory if new else None,
        event=event,
        created_at=at,
        updated_at=at if event != Event.ADD else None,
        is_deleted=deleted,
        actor_id=subject.actor_id,
        role=subject.role,
        user_id=subject.user_id,
        agent_id=subject.agent_id,
        run_id=subject.run_id,
    )


def self_name(turns: Sequence[Message], scope: Scope) -> str | None:
    """Who "I" is in a conversation: the one named user speaker, else the scope's user."""
    names = {turn.name for turn in turns if turn.source == Source.USER and turn.name}
    return names.pop() if len(names) == 1 else scope.user_id


__all__ = ["Action", "Context", "Draft", "Fact", "WritePlan", "history_row", "self_name"]
