"""``Memory``: the one implementation of every verb.

Read top-down: construction, then the verbs in the order of DESIGN.md (add,
search, get, get_all, update, delete, delete_all, history, reset), then the
steps of ``add``. Each verb that writes opens exactly one store transaction,
after every LLM and embedding call it needs has returned.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engram.config import MemoryConfig, default_db_path
from engram.embedders import Embedder, build_embedder
from engram.errors import ConfigError, NotFoundError, ValidationError
from engram.graph import (
    GraphDraft,
    draft_graph,
    graph_candidates,
    graph_settings,
    links_by_name,
    match_query,
    query_relations,
    scope_relations,
    write_graph,
)
from engram.llms import LLM, NO_LLM_MESSAGE, Usage, build_llm, default_llm
from engram.llms.vision import describe_images
from engram.messages import Message, normalise_messages
from engram.models import (
    IDENTITY_KEYS,
    SCOPE_KEYS,
    Episode,
    Event,
    HistoryRecord,
    MemoryRecord,
    Scope,
    memory_hash,
    utcnow,
)
from engram.pipeline.extract import Fact, extract_and_decide, extract_facts
from engram.pipeline.graph import GraphExtraction, Mention, entity_recogniser
from engram.pipeline.guards import (
    FORGET_THRESHOLD,
    SUBJECT_THRESHOLD,
    asks_to_forget,
    forget_matrix,
    forget_requests_in,
    subject_matrix,
    subject_text,
    verified_sources,
)
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.prompts import (
    PROCEDURAL_SUMMARY_PROMPT,
    PROCEDURAL_SUMMARY_SCHEMA,
    RECONCILE_SCHEMA,
)
from engram.pipeline.reconcile import Action, plan_actions, reconcile_messages
from engram.search import (
    NEIGHBOUR_TURNS,
    RecentVectors,
    conversation_context,
    embed_text,
    explained,
    hybrid_search,
    keyword_text,
    said_beyond,
    same_conversation,
    with_previous_turn,
)
from engram.storage import build_store
from engram.storage.base import SORT_COLUMNS, Page, Query, Store, StoredMessage, Vector
from engram.storage.filters import Filter, check_metadata_key, normalise_time, parse_filters, scope_equalities
from engram.validation import check_input

PROCEDURAL_MEMORY = "procedural_memory"
SIMILAR_PER_FACT = 5  # existing memories shown to the LLM for each new fact (two-call path)
SIMILARITY_FLOOR = 0.2  # below this cosine an existing memory is unrelated to a fact
NEIGHBOURS_PER_SENTENCE = 3  # one-call path: memories near each sentence of the messages
NEIGHBOUR_FLOOR = 0.3  # sentence-to-memory cosine below which a memory is not shown
MAX_SHOWN = 12  # memories shown to the LLM in one call
FORGET_CANDIDATES = 10  # memories compared with each forget request
MAX_LIMIT = 10_000
MAX_PAGE = 1_000  # memories on one page of `browse`
MAX_DAYS = 3_650_000  # a retention of ten thousand years: any more overflows a date
MAX_OFFSET = 2**53  # beyond any store, and within what SQLite and PostgreSQL take as a 64-bit integer
DELETE_BATCH = 1_000  # memories deleted per transaction by delete_all
IMAGES_NOT_STORED = (
    "images were not stored: infer=False keeps the text of messages only; "
    "use infer=True with a vision-capable LLM to remember what they show"
)


@dataclass
class _WritePlan:
    """Everything one add will write, computed before the transaction opens."""

    inserts: list[tuple[MemoryRecord, Vector]] = field(default_factory=list)
    updates: list[tuple[MemoryRecord, MemoryRecord, Vector]] = field(default_factory=list)  # old, new
    deletes: list[MemoryRecord] = field(default_factory=list)
    unchanged: list[MemoryRecord] = field(default_factory=list)
    keyword_texts: dict[str, str] = field(default_factory=dict)  # memory id -> text with its context
    reindex: list[tuple[MemoryRecord, list[str]]] = field(default_factory=list)  # earlier turns, new context
    extracted_graph: GraphExtraction | None = None  # what the extraction call said about the graph
    graph: GraphDraft | None = None  # the graph change, when the graph is on


class Memory:
    """Long-term memory on one store, with an embedder and (for ``infer=True``) an LLM.

    ``Memory()`` uses the embedded defaults: ``~/.engram/engram.db`` (or
    ``$ENGRAM_DB_PATH``), the packaged local embedder, and the LLM the
    environment configures. Parts may also be passed in ready-made.
    """

    def __init__(
        self,
        config: MemoryConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.config = MemoryConfig.parse(config)
        self.embedder = embedder or _embedder_from(self.config)
        self.store = store or build_store(self.config, default_path=default_db_path())
        # None: the graph is off
        self.graph_settings = graph_settings(self.config.graph_store, self.store.graph.backend)
        self.store.bind_embedder(self.embedder.model_name, self.embedder.dimension)
        self._llm = llm
        self._llm_resolved = llm is not None or self.config.llm is not None
        if self.config.llm is not None and llm is None:
            self._llm = build_llm(self.config.llm.provider, self.config.llm.config)
        self._usage_lock = threading.Lock()
        self._recent_vectors = RecentVectors()  # the turn before a new one is not embedded twice
        self.usage = Usage()  # running totals of every LLM call this Memory made

    @classmethod
    def from_config(cls, config: MemoryConfig | Mapping[str, Any] | str | Path) -> Memory:
        return cls(config)

    @property
    def llm(self) -> LLM:
        """The configured LLM; raises ConfigError explaining how to configure one."""
        if not self._llm_resolved:
            self._llm = default_llm()
            self._llm_resolved = True
        if self._llm is None:
            raise ConfigError(NO_LLM_MESSAGE)
        return self._llm

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the verbs ---------------------------------------------------------------------

    @check_input
    def add(
        self,
        messages: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        infer: bool = True,
        memory_type: str | None = None,
        prompt: str | None = None,
        timestamp: datetime | date | str | float | None = None,
        expiration_date: datetime | date | str | None = None,
    ) -> dict[str, Any]:
        """Remember a conversation. Returns what changed, one result per memory touched."""
        scope = _scope_from(user_id, agent_id, run_id, actor_id, None)[0]
        turns = normalise_messages(messages)
        clean_metadata = _user_metadata(metadata)
        when = _parse_timestamp(timestamp) if timestamp is not None else utcnow()
        expires = _parse_expiration(expiration_date) if expiration_date is not None else None
        if memory_type not in (None, PROCEDURAL_MEMORY):
            raise ValidationError(f"memory_type must be None or {PROCEDURAL_MEMORY!r}, got {memory_type!r}")
        draft = _Draft(scope, clean_metadata, when, expires)

        usage = Usage()
        warnings: list[str] = []
        if memory_type == PROCEDURAL_MEMORY:
            if scope.agent_id is None:
                raise ValidationError("procedural memory belongs to an agent: pass agent_id")
            plan, usage = self._plan_procedural(turns, draft, prompt)
        elif infer:
            plan, usage, warnings = self._plan_inferred(turns, draft, prompt)
        else:
            plan = self._plan_verbatim(turns, draft, standalone=isinstance(messages, str))
            if any(turn.images for turn in turns):
                warnings.append(IMAGES_NOT_STORED)
        if self.graph_settings is not None and memory_type is None:  # an agent's log summary names no one
            plan.graph = self._draft_graph(plan, turns, draft)

        relations = self._apply(plan, draft, turns)
        self._count(usage)
        result: dict[str, Any] = {"results": _results_of(plan)}
        if relations is not None:
            result["relations"] = relations
        if usage.calls:
            result["usage"] = usage.as_dict()
        if warnings:
            result["warnings"] = warnings
        return result

    @check_input
    def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
        limit: int = 10,
        filters: Mapping[str, Any] | None = None,
        threshold: float | None = None,
        rerank: bool | None = None,
        top_k: int | None = None,
        as_of: datetime | date | str | None = None,
        explain: bool = False,
        episodes: int = 0,
    ) -> dict[str, Any]:
        """The memories that best match ``query`` in the scope, best first, each with a ``score``.

        ``as_of`` (a datetime, a date, meaning the end of that day, or an ISO string) searches the
        versions valid at that moment, each with the text it had then; by default, current facts only.
        ``explain=True`` adds to each result the signals behind its score (``search.Hit.explain``).
        ``episodes=n`` also returns, as ``"episodes"``, the ``n`` messages of the scope that best match
        the query among those no result came from: what was said, for when extraction kept too little.
        """
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty string")
        if rerank:
            raise ConfigError("rerank=True needs a reranker, and none is configured")
        limit = _limit(top_k if top_k is not None else limit)
        if isinstance(episodes, bool) or not isinstance(episodes, int) or not 0 <= episodes <= MAX_LIMIT:
            raise ValidationError(f"episodes must be a whole number from 0 to {MAX_LIMIT}, got {episodes!r}")
        if threshold is not None and not isinstance(threshold, int | float):
            raise ValidationError(f"threshold must be a number, got {threshold!r}")
        scope, tree = _scope_from(user_id, agent_id, run_id, actor_id, filters)
        read = _read_query(scope, tree, as_of)
        vector = self.embedder.embed_batch([query], purpose="query")[0]
        graph = self.graph_settings
        match = match_query(self.store, scope, query, graph.hops, read.as_of) if graph else None
        # At weight 0 (the default) the graph only finds the relations to return, and ranks nothing.
        ranks = graph is not None and graph.weight > 0 and match is not None
        by_graph = graph_candidates(self.store, read, match, limit=MAX_LIMIT) if ranks and match else []
        hits = hybrid_search(
            self.store,
            read,
            query,
            vector,
            limit=limit,
            threshold=threshold,
            graph=by_graph,
            graph_weight=graph.weight if graph else 0.0,
        )
        result: dict[str, Any] = {"results": [hit.record.to_item(hit.score) for hit in hits]}
        if explain:
            for item, hit in zip(result["results"], hits, strict=True):
                item["explain"] = explained(hit)
        if match is not None:
            result["relations"] = query_relations(match, limit=limit)
        if episodes:
            result["episodes"] = said_beyond(self.store, read, query, {hit.record.id for hit in hits}, episodes)
        return result

    @check_input
    def get(self, memory_id: str) -> dict[str, Any] | None:
        """One memory by id, or None."""
        record = self.store.get_memory(_memory_id(memory_id))
        return record.to_item() if record else None

    @check_input
    def get_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
        filters: Mapping[str, Any] | None = None,
        limit: int = 100,
        top_k: int | None = None,
        as_of: datetime | date | str | None = None,
    ) -> dict[str, Any]:
        """The scope's memories, newest first: current facts, or with ``as_of`` the versions valid then."""
        scope, tree = _scope_from(user_id, agent_id, run_id, actor_id, filters)
        limit = _limit(top_k if top_k is not None else limit)
        read = _read_query(scope, tree, as_of)
        records = self.store.list_memories(read, limit)
        result: dict[str, Any] = {"results": [record.to_item() for record in records]}
        if self.graph_settings is not None:
            result["relations"] = scope_relations(self.store, scope, limit=limit, as_of=read.as_of)
        return result

    @check_input
    def update(
        self,
        memory_id: str,
        data: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        text: str | None = None,
        timestamp: datetime | date | str | float | None = None,
    ) -> dict[str, str]:
        """Replace a memory's text (``data`` or ``text``) and/or its metadata.

        With ``timestamp``, a change that became true then: the memory holds the new text from that
        moment, and the old one stays answerable as of earlier times. Without it, a correction in
        place: the memory's text was wrong all along (history keeps the old text)."""
        new_text = data if data is not None else text
        if new_text is None and metadata is None:
            raise ValidationError("update needs new text (data=...) or metadata=...")
        if new_text is not None and (not isinstance(new_text, str) or not new_text.strip()):
            raise ValidationError("the new text of a memory must be a non-empty string")
        when = _parse_timestamp(timestamp) if timestamp is not None else utcnow()
        old = self._existing(memory_id)
        text_now = new_text.strip() if new_text is not None else old.memory
        new = replace(
            old,
            memory=text_now,
            hash=memory_hash(text_now),
            metadata=_user_metadata(metadata) if metadata is not None else old.metadata,
            updated_at=when,
        )
        changed = new.memory != old.memory
        vector = self._embed([embed_text(new)])[0] if changed else None
        with self.store.transaction():
            current = self._existing(memory_id)  # the memory as it is now, not as it was read
            if timestamp is not None:
                self._supersede(current, new, vector, when)
            else:
                new = replace(new, valid_from=current.valid_from, invalid_at=current.invalid_at)
                # Unchanged text keeps its keyword entry, and with it the context it was stored with.
                self.store.update_memory(new, vector, keyword_text(new) if changed else None)
            self.store.add_history([_history(Event.UPDATE, current, new, when)])
        return {"message": "Memory updated successfully!"}

    @check_input
    def delete(self, memory_id: str) -> dict[str, str]:
        """Erase a memory and every earlier version of it (history records the deletion)."""
        with self.store.transaction():
            old = self._existing(memory_id)
            self.store.delete_memory(old.id)
            self.store.graph.forget_memory(old.id)
            self.store.add_history([_history(Event.DELETE, old, None, utcnow(), deleted=True)])
        return {"message": "Memory deleted successfully!"}

    @check_input
    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
    ) -> dict[str, str]:
        """Erase every memory of a scope (a scope is required), with their versions and the scope's
        episodes; history records the deletions."""
        scope = _scope_from(user_id, agent_id, run_id, actor_id, None)[0]
        now = utcnow()
        # In batches of their own transactions: a big scope must not hold SQLite's write lock for
        # seconds (other writers would time out). The last batch also takes the scope's episodes.
        while True:
            with self.store.transaction():
                batch = self.store.delete_memories(scope, DELETE_BATCH)
                self.store.add_history([_history(Event.DELETE, r, None, now, deleted=True) for r in batch])
                if len(batch) < DELETE_BATCH:
                    self.store.graph.delete_graph(scope)
            if len(batch) < DELETE_BATCH:
                return {"message": "Memories deleted successfully!"}

    @check_input
    def history(self, memory_id: str) -> list[dict[str, Any]]:
        """Every change to one memory, oldest first; it outlives the memory."""
        return [row.to_dict() for row in self.store.history(_memory_id(memory_id))]

    def reset(self) -> None:
        """Delete everything in the store: memories, versions, history and episodes."""
        self.store.reset()
        self.store.bind_embedder(self.embedder.model_name, self.embedder.dimension)

    @check_input
    def episodes(self, memory_id: str) -> list[dict[str, Any]]:
        """The messages a memory came from, as they were said, oldest first."""
        self._existing(memory_id)
        return [episode.to_dict() for episode in self.store.memory_episodes(memory_id)]

    # -- the steps of add ------------------------------------------------------------------

    def _plan_verbatim(self, turns: list[Message], draft: _Draft, *, standalone: bool = False) -> _WritePlan:
        """infer=False: each non-system message becomes a memory as it is.

        ``standalone`` (a plain string was added: a note, not a conversation turn) takes no
        context from the messages stored before it.
        """
        kept = [turn for turn in turns if turn.role != "system" and turn.content]
        if not kept:
            raise ValidationError("there is nothing to store: every message is empty or a system message")
        records = [draft.record(turn.content, role=turn.role, sources=[turn], speaker=turn.name) for turn in kept]
        # Each turn is indexed with the turns around it, so that an answer is found by its question;
        # the turns before come from the scope's stored messages, so that one message per call is
        # indexed as the same conversation given in one call is.
        use_stored = self.config.recent_messages and not standalone
        earlier = self.store.recent_messages(draft.scope, 2 * NEIGHBOUR_TURNS) if use_stored else []
        context = conversation_context(same_conversation(earlier, draft.created_at), [turn.content for turn in kept])
        plan = self._plan_adds(records, draft.scope, previous=context.previous)
        plan.keyword_texts = {
            record.id: keyword_text(record, context.neighbours[i]) for i, record in enumerate(records)
        }
        plan.reindex = self._stored_turns(context.revisits, draft.scope)
        return plan

    def _stored_turns(
        self, revisits: list[tuple[StoredMessage, list[str]]], scope: Scope
    ) -> list[tuple[MemoryRecord, list[str]]]:
        """The memories stored verbatim from these earlier messages (same text, same time), each
        with its new context."""
        known = self.store.find_by_hash(scope.owner_only(), [memory_hash(m.content) for m, _ in revisits])
        found = [(known.get(memory_hash(m.content)), m, context) for m, context in revisits]
        return [
            (record, context)
            for record, message, context in found
            if record is not None and record.created_at == message.created_at and record.memory == message.content
        ]

    def _plan_inferred(
        self, turns: list[Message], draft: _Draft, custom_prompt: str | None
    ) -> tuple[_WritePlan, Usage, list[str]]:
        """infer=True: describe images, then extract facts and decide what they change.

        The memories near the incoming messages are found first, so that one LLM call extracts
        the facts and decides, for each, ADD / UPDATE / DELETE / NONE against them. A custom
        extraction or update prompt is written for a call of its own: then the facts are
        extracted first and decided in a second call, against the memories near each fact.
        Code checks every decision (``pipeline.reconcile``, ``pipeline.guards``) before it
        becomes part of the plan.
        """
        llm = self.llm
        turns, usage, warnings = describe_images(llm, turns)
        spoken = [turn for turn in turns if turn.content]  # fact sources index into this list
        context = [
            Message(m.role, m.content, m.name)
            for m in self.store.recent_messages(draft.scope, self.config.recent_messages)
        ]
        extraction_prompt = custom_prompt or self.config.custom_fact_extraction_prompt
        two_calls = bool(extraction_prompt or self.config.custom_update_memory_prompt)
        shown: list[MemoryRecord] = []
        graph_on = self.graph_settings is not None
        if two_calls:
            extraction = extract_facts(
                llm,
                spoken,
                context=context,
                reference_time=draft.created_at,
                custom_prompt=extraction_prompt,
                graph=graph_on,
                self_name=_self_name(spoken, draft.scope),
            )
            usage = usage + extraction.usage.tagged("extract")
        else:
            shown = self._neighbours_of(spoken, draft)
            extraction = extract_and_decide(
                llm,
                spoken,
                context=context,
                reference_time=draft.created_at,
                existing=[r.memory for r in shown],
                graph=graph_on,
                self_name=_self_name(spoken, draft.scope),
            )
            usage = usage + extraction.usage.tagged("extract+decide" if shown else "extract")
        warnings += extraction.warnings
        said = [turn.content for turn in spoken]
        facts = [replace(f, sources=verified_sources(f.text, f.sources, said)) for f in extraction.facts]
        decisions = extraction.decisions or [None] * len(facts)

        # The user's own words name a forget request too, in case the model missed it; the model's
        # own requests count only when the user asked to forget something.
        said_by_user = [turn.content for turn in spoken if turn.role == "user"]
        asked = asks_to_forget(said_by_user)
        if extraction.forget and not asked:
            warnings.append(f"ignored forget requests no message asked for: {extraction.forget}")
        requests = list(dict.fromkeys([*(extraction.forget if asked else []), *forget_requests_in(said_by_user)]))
        forgotten, keep = self._forget_targets(requests, facts, draft)
        # A fact whose exact text is already stored needs no decision: it is a NONE.
        hashes = [memory_hash(fact.text) for fact in facts]
        known = self.store.find_by_hash(draft.scope.owner_only(), hashes)
        plan = _WritePlan(unchanged=[known[h] for h in dict.fromkeys(hashes) if h in known])
        plan.extracted_graph = extraction.graph
        new = [i for i, h in enumerate(hashes) if h not in known and keep[i]]
        facts, decisions = [facts[i] for i in new], [decisions[i] for i in new]

        answer: Any = None
        near: list[set[int]] | None = None  # two calls: a fact may change only its own neighbours
        if facts and two_calls:
            shown, near = self._similar_memories(facts, draft)
            if shown:
                completion = llm.complete(
                    reconcile_messages(facts, shown, self.config.custom_update_memory_prompt),
                    json_schema=RECONCILE_SCHEMA,
                )
                usage = usage + completion.usage.tagged("reconcile")
                answer = parse_json_answer(completion.text)
        elif facts and shown:
            # In one call, a fact the model gave no decision is new information: an ADD.
            answer = {
                "decisions": [{**(decision or {"event": "ADD"}), "fact": i} for i, decision in enumerate(decisions)]
            }
        if answer is not None or (facts and shown and two_calls):
            allowed = self._same_subject(facts, shown)
            if near is not None:
                allowed = [a & n for a, n in zip(allowed, near, strict=True)]
            actions, more = plan_actions(facts, shown, answer, allowed)
            warnings += more
        else:  # nothing to compare with: every fact is an ADD
            actions = [Action(Event.ADD, fact, fact.text) for fact in facts]
        # A new fact must come from this conversation. One that shares no word with any of its
        # messages was taken from the memories shown or made up: a retracted fact would come back.
        unsaid = [a for a in actions if a.event == Event.ADD and a.fact is not None and not a.fact.sources]
        warnings += [f"dropped a fact no message of this add says: {a.fact.text!r}" for a in unsaid if a.fact]
        actions = [a for a in actions if a not in unsaid]
        self._fill_plan(plan, actions, spoken, draft)
        self._retract(plan, forgotten)
        return plan, usage, warnings

    def _plan_procedural(
        self, turns: list[Message], draft: _Draft, custom_prompt: str | None
    ) -> tuple[_WritePlan, Usage]:
        """An agent's execution log becomes one summary memory."""
        log = "\n".join(turn.as_line() for turn in turns if turn.content)
        completion = self.llm.complete(
            [
                {"role": "system", "content": custom_prompt or PROCEDURAL_SUMMARY_PROMPT},
                {"role": "user", "content": log},
            ],
            json_schema=PROCEDURAL_SUMMARY_SCHEMA,
        )
        answer = parse_json_answer(completion.text)
        summary = answer.get("summary") if isinstance(answer, dict) else None
        if not isinstance(summary, str) or not summary.strip():
            summary = completion.text.strip()  # a plain-text summary is still a summary
        if not summary:
            raise ValidationError("the LLM returned an empty summary of the execution log")
        metadata = {**draft.metadata, "memory_type": PROCEDURAL_MEMORY}
        record = replace(draft.record(summary, role=None, sources=turns), metadata=metadata)
        usage = completion.usage.tagged("procedural")
        return _WritePlan(inserts=[(record, self._embed([embed_text(record)])[0])]), usage

    def _similar_memories(self, facts: list[Fact], draft: _Draft) -> tuple[list[MemoryRecord], list[set[int]]]:
        """The existing memories closest to any fact, each once, in order of first appearance,
        and for each fact the positions of its own neighbours among them."""
        query = Query(draft.scope.owner_only(), None, utcnow())
        vectors = self.embedder.embed_batch([fact.text for fact in facts], purpose="query")
        per_fact = [
            [
                memory_id
                for memory_id, score in self.store.vector_search(query, vector, SIMILAR_PER_FACT)
                if score >= SIMILARITY_FLOOR
            ]
            for vector in vectors
        ]
        similar = list(dict.fromkeys(memory_id for ids in per_fact for memory_id in ids))
        records = self.store.get_memories(similar)
        shown = [records[memory_id] for memory_id in similar if memory_id in records]
        position = {record.id: i for i, record in enumerate(shown)}
        return shown, [{position[m] for m in ids if m in position} for ids in per_fact]

    def _fill_plan(self, plan: _WritePlan, actions: list[Action], turns: list[Message], draft: _Draft) -> None:
        adds: list[MemoryRecord] = []
        updates: list[tuple[MemoryRecord, MemoryRecord]] = []  # old, new: embedded in one batch below
        for action in actions:
            sources = _sources_of(action.fact, turns)
            dated = action.fact.valid_from if action.fact else None
            if action.event == Event.ADD and action.text:
                adds.append(draft.record(action.text, role=None, sources=sources, valid_from=dated))
            elif action.event == Event.UPDATE and action.target and action.text:
                new = replace(
                    action.target,
                    memory=action.text,
                    hash=memory_hash(action.text),
                    updated_at=draft.created_at,
                    metadata={**action.target.metadata, **draft.metadata},
                    valid_from=dated or draft.created_at,  # when the new text became true
                )
                draft.link(new.id, sources)
                updates.append((action.target, new))
            elif action.event == Event.DELETE and action.target:
                plan.deletes.append(action.target)
            elif action.event == Event.NONE and action.target:
                plan.unchanged.append(action.target)
        if updates:
            vectors = self._embed([embed_text(new) for _, new in updates])
            plan.updates += [(old, new, vector) for (old, new), vector in zip(updates, vectors, strict=True)]
        added = self._plan_adds(adds, draft.scope)
        plan.inserts += added.inserts
        plan.unchanged += added.unchanged

    def _plan_adds(
        self, records: list[MemoryRecord], scope: Scope, previous: Sequence[str | None] | None = None
    ) -> _WritePlan:
        """New memories, minus those whose text the scope (or this batch) already holds.

        ``previous`` (aligned with ``records``) is the conversation turn before each record's: its
        vector then leans towards that turn's (``search.with_previous_turn``).
        """
        plan = _WritePlan()
        known = self.store.find_by_hash(scope.owner_only(), [r.hash for r in records])
        fresh: dict[str, tuple[MemoryRecord, str | None]] = {}
        for index, record in enumerate(records):
            if record.hash in known:
                plan.unchanged.append(known[record.hash])
            elif record.hash not in fresh:
                fresh[record.hash] = (record, previous[index] if previous else None)
        # One embedding call for the new texts and the turns before them (mostly the same texts).
        wanted = [embed_text(r) for r, _ in fresh.values()] + [p for _, p in fresh.values() if p]
        texts = list(dict.fromkeys(wanted))
        embedded = dict(zip(texts, self._embed(texts), strict=True)) if texts else {}
        plan.inserts = [
            (record, with_previous_turn(embedded[embed_text(record)], embedded[before] if before else None))
            for record, before in fresh.values()
        ]
        return plan

    def _draft_graph(self, plan: _WritePlan, turns: list[Message], draft: _Draft) -> GraphDraft:
        """The entities this add mentions, and which new or changed memory names which.

        With an LLM they come from the extraction call; without one (``infer=False``), from each
        message's speaker and the names the local entity recogniser finds in its text.
        """
        written = [record for record, _ in plan.inserts] + [new for _, new, _ in plan.updates]
        texts = {record.id: record.memory for record in written}
        if plan.extracted_graph is not None:
            extracted = plan.extracted_graph
            links = links_by_name(texts, extracted.mentions, _self_name(turns, draft.scope))
            texts |= {record.id: record.memory for record in plan.unchanged}  # facts already known count too
            return draft_graph(
                self.store,
                self.embedder,
                draft.scope,
                draft.created_at,
                extracted.mentions,
                links,
                extracted.triples,
                texts,
            )
        found = entity_recogniser().names([record.memory for record in written]) if written else []
        mentions: list[Mention] = []
        links = {}
        for record, names in zip(written, found, strict=True):
            speaker = [Mention(record.actor_id, "person")] if record.actor_id else []
            mentions += speaker + names
            links[record.id] = [m.key for m in speaker + names]
        return draft_graph(self.store, self.embedder, draft.scope, draft.created_at, mentions, links)

    def _apply(self, plan: _WritePlan, draft: _Draft, turns: list[Message]) -> dict[str, Any] | None:
        """Write the whole plan, its history, the add's episodes and its graph change in one
        transaction. Returns the add's ``relations`` block when the graph is on.

        An UPDATE supersedes (the old text is kept as a version valid until this add's time) and a
        DELETE retracts (``invalid_at``): nothing an LLM decides erases what was once true."""
        when = draft.created_at
        relations = None
        episodes = [
            Episode(str(uuid.uuid4()), t.role, t.content, when, t.position, t.name, **draft.scope.as_dict())
            for t in turns
            if t.content
        ]
        history: list[HistoryRecord] = []
        with self.store.transaction():
            self._drop_stale(plan, draft.scope)
            for record, vector in plan.inserts:
                text = plan.keyword_texts.get(record.id) or keyword_text(record)
                self.store.insert_memory(record, vector, text)
                history.append(_history(Event.ADD, None, record, record.created_at))
            for old, new, vector in plan.updates:
                self._supersede(old, new, vector, new.valid_from or when)
                history.append(_history(Event.UPDATE, old, new, when))
            for record in plan.deletes:
                self.store.retract_memory(record.id, max(when, record.valid_from or when))
                history.append(_history(Event.DELETE, record, None, when))
            self.store.add_history(history)
            self._reindex_turns(plan.reindex)
            self.store.add_episodes(episodes)
            written = {record.id for record, _ in plan.inserts} | {new.id for _, new, _ in plan.updates}
            episode_at = {episode.position: episode.id for episode in episodes}
            episode_links = [
                (memory_id, episode_at[position])
                for memory_id, positions in draft.links.items()
                if memory_id in written
                for position in positions
                if position in episode_at
            ]
            self.store.link_episodes(episode_links)
            if plan.graph is not None and self.graph_settings is not None:
                episodes_of: dict[str, list[str]] = {}
                for memory_id, episode_id in episode_links:
                    episodes_of.setdefault(memory_id, []).append(episode_id)
                known = written | {record.id for record in plan.unchanged}
                relations = write_graph(self.store, plan.graph, known, self.graph_settings, episodes_of)
        return relations

    def _supersede(self, old: MemoryRecord, new: MemoryRecord, vector: Vector | None, at: datetime) -> None:
        """``new`` holds from ``at`` on; ``old`` stays as the version valid until then.

        A statement dated before the current text became true cannot replace it: its text is kept
        as the earlier version, valid from ``at`` until the current text's ``valid_from``."""
        valid_from = old.valid_from or old.created_at
        changed = new.memory != old.memory
        if at < valid_from:
            if vector is None:  # the same text, valid earlier than thought
                self.store.update_memory(replace(new, valid_from=at, updated_at=at), None, None)
            else:
                self.store.insert_version(replace(new, valid_from=at, invalid_at=valid_from), vector, keyword_text(new))
            return
        until = min(at, old.invalid_at) if old.invalid_at else at
        self.store.archive_memory(old.id, until)
        current = replace(new, valid_from=at, invalid_at=None, updated_at=at)
        self.store.update_memory(current, vector, keyword_text(current) if changed else None)

    def _reindex_turns(self, reindex: list[tuple[MemoryRecord, list[str]]]) -> None:
        """Rewrite earlier turns' keyword entries with the context the new turns complete (inside
        the add's transaction; a memory changed or deleted since the plan was made is left alone)."""
        live = self.store.get_memories([record.id for record, _ in reindex]) if reindex else {}
        for record, context in reindex:
            current = live.get(record.id)
            if current is not None and current.memory == record.memory:
                self.store.update_memory(current, None, keyword_text(current, context))

    def _drop_stale(self, plan: _WritePlan, scope: Scope) -> None:
        """Re-check the plan inside the write transaction.

        The plan was made before the transaction opened (LLM and embedding calls are slow), so
        another writer may since have stored the same text or changed a target: a duplicate
        becomes NONE, a vanished target is dropped, and history records the current old text.
        """
        known = self.store.find_by_hash(scope.owner_only(), [record.hash for record, _ in plan.inserts])
        plan.unchanged += [known[record.hash] for record, _ in plan.inserts if record.hash in known]
        plan.inserts = [(record, vector) for record, vector in plan.inserts if record.hash not in known]
        targets = [old.id for old, _, _ in plan.updates] + [record.id for record in plan.deletes]
        # Only current memories can be superseded or retracted: another writer may have retracted one.
        live = {k: r for k, r in (self.store.get_memories(targets) if targets else {}).items() if r.invalid_at is None}
        plan.updates = [(live[old.id], new, vector) for old, new, vector in plan.updates if old.id in live]
        plan.deletes = [live[record.id] for record in plan.deletes if record.id in live]

    # -- helpers ---------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> Any:
        return self._recent_vectors.embed(self.embedder, texts)

    def _existing(self, memory_id: str) -> MemoryRecord:
        record = self.store.get_memory(_memory_id(memory_id))
        if record is None:
            raise NotFoundError(f"no memory has id {memory_id!r}")
        return record

    def _count(self, usage: Usage) -> None:
        with self._usage_lock:
            self.usage = self.usage + usage

    # -- browsing (the dashboard) ------------------------------------------------------------

    def scopes(self) -> dict[str, Any]:
        """Every user, agent and run id that holds memories, with how many (expired ones left out)."""
        return {"results": [scope.to_dict() for scope in self.store.list_scopes(utcnow())]}

    @check_input
    def browse(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
        filters: Mapping[str, Any] | None = None,
        limit: int = 50,
        offset: int = 0,
        sort: str = "created_at",
        order: str = "desc",
        as_of: datetime | date | str | None = None,
    ) -> dict[str, Any]:
        """One page of what ``get_all`` returns, in a chosen order, with the total across pages.

        ``sort`` is ``created_at``, ``updated_at`` or ``memory``; ``order`` is ``asc`` or ``desc``;
        ``as_of`` pages through the versions valid then, as ``get_all(as_of=...)`` lists them.
        """
        if sort not in SORT_COLUMNS:
            raise ValidationError(f"sort must be one of {', '.join(SORT_COLUMNS)}, got {sort!r}")
        if order not in ("asc", "desc"):
            raise ValidationError(f"order must be 'asc' or 'desc', got {order!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise ValidationError(f"offset must be an integer from 0 to {MAX_OFFSET}, got {offset!r}")
        page = Page(min(_limit(limit), MAX_PAGE), offset, sort, descending=order == "desc")
        scope, tree = _scope_from(user_id, agent_id, run_id, actor_id, filters)
        query = _read_query(scope, tree, as_of)
        records = self.store.page_memories(query, page)
        return {
            "results": [record.to_item() for record in records],
            "total": self.store.count_memories(query),
            "offset": page.offset,
            "limit": page.limit,
        }

    # -- lifecycle: stats and prune ------------------------------------------------------------

    @check_input
    def stats(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """How many memories a scope (or, with no scope, the whole store) holds: current, expired and
        retracted; for the whole store also its earlier versions, history rows and episodes."""
        given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        scope = Scope(**{key: _check_id(key, value) for key, value in given.items()})
        counts = self.store.counts(scope if scope.as_dict() else None, utcnow())
        return {"location": self.store.location, **counts}

    def prune(self, *, retention_days: float | None = None) -> dict[str, int]:
        """Delete expired memories; and, with ``retention_days`` (default: the config's), what stopped
        being true before then (earlier versions, retracted memories) and history written before then.
        Without a retention, the past is kept. Returns how much of each was removed."""
        days = retention_days if retention_days is not None else self.config.retention_days
        a_number = isinstance(days, int | float) and not isinstance(days, bool)
        if days is not None and not (a_number and 0 <= days <= MAX_DAYS):
            raise ValidationError(f"retention_days must be a number of days from 0 to {MAX_DAYS:,}, got {days!r}")
        now = utcnow()
        with self.store.transaction():
            expired = self.store.delete_expired(now)
            self.store.add_history([_history(Event.DELETE, record, None, now, deleted=True) for record in expired])
            outdated = (
                self.store.delete_outdated(now - timedelta(days=days))
                if days is not None
                else {"versions": 0, "retracted_memories": 0, "history_rows": 0}
            )
        return {"expired_memories": len(expired), **outdated}

    def consolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        threshold: float | None = None,
        infer: bool = True,
    ) -> dict[str, Any]:
        """Merge a scope's memories that state the same fact (engram/pipeline/consolidate.py).

        Exact and near-exact duplicates always merge; with an LLM (and ``infer=True``) so do
        similar memories it judges to be one fact, into one memory it writes. The oldest memory
        of a group keeps its id and takes the merged text as a new version (an UPDATE); the others
        are retracted (a DELETE each in history). Both stay answerable ``as_of`` before the merge.
        Returns what was merged."""
        from engram.pipeline import consolidate as plan

        scope = _scope_from(user_id, agent_id, run_id, None, None)[0]
        now = utcnow()
        current = [
            item
            for batch in self.store.export_memories(scope)
            for item in batch
            if item.record.invalid_at is None
            and (item.record.expiration_date is None or item.record.expiration_date > now)
        ]
        merges = plan.duplicate_merges([item.record for item in current])
        usage, warnings = Usage(), []
        llm = self._optional_llm() if infer else None
        if llm is not None:
            merged = {record.id for merge in merges for record in merge.retire}
            rest = [item for item in current if item.record.id not in merged]
            vectors = np.array([item.vector for item in rest], dtype=np.float32).reshape(len(rest), -1)
            records = [item.record for item in rest]
            for group in plan.candidate_groups(records, vectors, threshold or plan.CANDIDATE_THRESHOLD):
                shown = [records[i] for i in group]
                completion = llm.complete(plan.merge_messages(shown), json_schema=plan.CONSOLIDATE_SCHEMA)
                usage = usage + completion.usage.tagged("consolidate")
                more, problems = plan.merges_from_answer(shown, parse_json_answer(completion.text))
                merges += more
                warnings += problems
        changed = [merge for merge in merges if merge.text != merge.keep.memory]
        texts = [merge.text for merge in changed]
        vectors_of = dict(zip((m.keep.id for m in changed), self._embed(texts), strict=True)) if changed else {}
        with self.store.transaction():
            live = self.store.get_memories([r.id for m in merges for r in (m.keep, *m.retire)])
            history: list[HistoryRecord] = []
            done = []
            for merge in merges:
                members = [live.get(r.id) for r in (merge.keep, *merge.retire)]
                if any(record is None or record.invalid_at is not None for record in members):
                    continue  # changed by another writer since it was read: left for the next run
                keep = live[merge.keep.id]
                new = replace(
                    keep,
                    memory=merge.text,
                    hash=memory_hash(merge.text),
                    metadata=plan.merged_metadata([live[r.id] for r in (merge.keep, *merge.retire)]),
                    updated_at=now,
                )
                if new.memory != keep.memory:  # a new version: the old text stays answerable as of before
                    self._supersede(keep, new, vectors_of[keep.id], now)
                    history.append(_history(Event.UPDATE, keep, new, now))
                elif new.metadata != keep.metadata:
                    self.store.update_memory(new, None, None)
                    history.append(_history(Event.UPDATE, keep, new, now))
                for record in merge.retire:  # retracted, not deleted: as_of reads before now still find it
                    self.store.retract_memory(record.id, max(now, live[record.id].valid_from or now))
                    history.append(_history(Event.DELETE, live[record.id], None, now))
                done.append(merge)
            self.store.add_history(history)
        self._count(usage)
        result: dict[str, Any] = {
            "merged": sum(len(m.retire) for m in done),
            "results": [{"id": m.keep.id, "memory": m.text, "merged_ids": [r.id for r in m.retire]} for m in done],
        }
        if usage.calls:
            result["usage"] = usage.as_dict()
        if warnings:
            result["warnings"] = warnings
        return result

    def _optional_llm(self) -> LLM | None:
        """The LLM when one is configured (or installed offline), else None: for verbs that work without one."""
        try:
            return self.llm
        except ConfigError:
            return None

    # -- portability: export and import (engram/portability.py) ---------------------------------

    def export_jsonl(
        self,
        path: str | Path,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        vectors: bool = False,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Write the memories of a scope (or, with none, of the whole store) to a JSON Lines file,
        each with its history (and its vector with ``vectors=True``). ``"-"`` writes to stdout."""
        from engram.portability import export_jsonl

        given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        scope = Scope(**{key: _check_id(key, value) for key, value in given.items()})
        if str(path) == "-":
            count = export_jsonl(self, sys.stdout, scope if scope.as_dict() else None, vectors=vectors)
        else:
            target = Path(path).expanduser()
            partial = target.with_name(target.name + ".partial")  # a failed export leaves no half file
            with partial.open("w", encoding="utf-8") as out:
                count = export_jsonl(self, out, scope if scope.as_dict() else None, vectors=vectors, progress=progress)
            partial.replace(target)
        return {"memories": count, "path": str(path)}

    def import_jsonl(self, path: str | Path, *, progress: bool = False) -> dict[str, Any]:
        """Load a file written by ``export_jsonl`` (from either store, any embedder). Importing the
        same file twice changes nothing; a malformed line is refused before anything is written."""
        from engram.portability import import_jsonl

        return import_jsonl(self, Path(path), progress=progress).as_dict()

    # -- the guards of infer=True --------------------------------------------------------------

    def _neighbours_of(self, turns: list[Message], draft: _Draft) -> list[MemoryRecord]:
        """The stored memories nearest to what the incoming messages say, best first.

        Each sentence is a query of its own: a message often holds several facts, and a whole
        message is close to none of their memories.
        """
        sentences = list(dict.fromkeys(s for turn in turns for s in _sentences(turn.content)))
        if not sentences:
            return []
        query = Query(draft.scope.owner_only(), None, utcnow())
        best: dict[str, float] = {}
        for vector in self.embedder.embed_batch(sentences, purpose="query"):
            for memory_id, score in self.store.vector_search(query, vector, NEIGHBOURS_PER_SENTENCE):
                if score >= NEIGHBOUR_FLOOR and score > best.get(memory_id, -1.0):
                    best[memory_id] = score
        ranked = sorted(best, key=lambda memory_id: -best[memory_id])[:MAX_SHOWN]
        records = self.store.get_memories(ranked)
        return [records[memory_id] for memory_id in ranked if memory_id in records]

    def _same_subject(self, facts: list[Fact], shown: list[MemoryRecord]) -> list[set[int]]:
        """For each fact, the shown memories it may replace or retract: those on its subject."""
        scores = subject_matrix(self.embedder, [r.memory for r in shown], [f.text for f in facts])
        return [{j for j in range(len(shown)) if scores[i, j] >= SUBJECT_THRESHOLD} for i in range(len(facts))]

    def _forget_targets(
        self, requests: list[str], facts: list[Fact], draft: _Draft
    ) -> tuple[list[MemoryRecord], list[bool]]:
        """What the user asked to forget: the current memories that match a request, and for
        each new fact whether it may be kept (a fact matching a request is not stored)."""
        if not requests:
            return [], [True] * len(facts)
        query = Query(draft.scope.owner_only(), None, utcnow())
        vectors = self.embedder.embed_batch([subject_text(r) for r in requests], purpose="query")
        ids = list(dict.fromkeys(m for v in vectors for m, _ in self.store.vector_search(query, v, FORGET_CANDIDATES)))
        records = self.store.get_memories(ids)
        candidates = [records[m] for m in ids if m in records]
        scores = forget_matrix(self.embedder, requests, [r.memory for r in candidates])
        targets = [r for j, r in enumerate(candidates) if scores[:, j].max() >= FORGET_THRESHOLD]
        fact_scores = forget_matrix(self.embedder, requests, [f.text for f in facts])
        keep = [not facts or bool(fact_scores[:, i].max() < FORGET_THRESHOLD) for i in range(len(facts))]
        return targets, keep

    @staticmethod
    def _retract(plan: _WritePlan, targets: list[MemoryRecord]) -> None:
        """Retract what the user asked to forget, whatever else the plan did to it."""
        ids = {r.id for r in targets}
        plan.updates = [(old, new, vector) for old, new, vector in plan.updates if old.id not in ids]
        plan.unchanged = [r for r in plan.unchanged if r.id not in ids]
        already = {r.id for r in plan.deletes}
        plan.deletes += [r for r in targets if r.id not in already]


# -- building blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
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
    ) -> MemoryRecord:
        """``speaker`` (a message's ``name``) becomes the actor when the call names none, as in mem0.
        ``valid_from`` is when the fact became true, if the conversation dates it (default: the add's time)."""
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
        )
        self.link(record.id, sources)
        return record


def _sources_of(fact: Fact | None, turns: Sequence[Message]) -> list[Message]:
    """The messages a fact came from: those it names, or the one message said when it names none."""
    if fact is None:
        return []
    if fact.sources:
        return [turns[i] for i in fact.sources]
    said = [turn for turn in turns if turn.role != "system"]
    return said if len(said) == 1 else []


def _self_name(turns: Sequence[Message], scope: Scope) -> str | None:
    """Who "I" is in a conversation: the one named user speaker, else the scope's user."""
    names = {turn.name for turn in turns if turn.role == "user" and turn.name}
    return names.pop() if len(names) == 1 else scope.user_id


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) > 2]


def _embedder_from(config: MemoryConfig) -> Embedder:
    if config.embedder is None:
        return build_embedder()
    return build_embedder(config.embedder.provider, config.embedder.config)


def _results_of(plan: _WritePlan) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    results += [{"id": r.id, "memory": r.memory, "event": "ADD"} for r, _ in plan.inserts]
    results += [
        {"id": new.id, "memory": new.memory, "event": "UPDATE", "previous_memory": old.memory}
        for old, new, _ in plan.updates
    ]
    results += [{"id": r.id, "memory": r.memory, "event": "DELETE"} for r in plan.deletes]
    seen = {result["id"] for result in results}
    for record in plan.unchanged:
        if record.id not in seen:
            seen.add(record.id)
            results.append({"id": record.id, "memory": record.memory, "event": "NONE"})
    return results


def _history(
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


def _check_id(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty or whitespace")
    return value


def _scope_from(
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    actor_id: str | None,
    filters: Mapping[str, Any] | None,
) -> tuple[Scope, Filter | None]:
    """The scope of a call, from keywords or from scope ids inside ``filters``."""
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "actor_id": actor_id}
    ids = {key: _check_id(key, value) for key, value in given.items()}
    tree = parse_filters(filters)
    for key, value in scope_equalities(tree).items():
        value = _check_id(key, value)
        if ids[key] is not None and ids[key] != value:
            raise ValidationError(f"{key} is {ids[key]!r} but filters say {value!r}: give one")
        ids[key] = value
    if not any(ids[key] for key in SCOPE_KEYS):
        raise ValidationError(
            "a scope is required: pass at least one of user_id, agent_id or run_id (as a keyword, or inside filters)"
        )
    return Scope(**ids), tree


def _memory_id(memory_id: Any) -> str:
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise ValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
    return memory_id


def _user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata minus identity keys, which never change a memory's scope."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(f"metadata must be a dict, got {type(metadata).__name__}")
    clean = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValidationError(f"metadata keys must be strings, got {key!r}")
        check_metadata_key(key)
        if key not in IDENTITY_KEYS:
            clean[key] = value
    try:
        json.dumps(clean, allow_nan=False)  # NaN and Infinity are not JSON: no store could filter on them
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metadata must be JSON-serialisable (no NaN or Infinity): {exc}") from exc
    return clean


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def _parse_timestamp(value: datetime | date | str | float) -> datetime:
    if isinstance(value, bool):
        raise ValidationError(f"timestamp must be a datetime, ISO string or Unix time, got {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError(f"timestamp {value!r} is not a valid Unix time") from exc
    return datetime.fromisoformat(normalise_time(value, what="timestamp"))


def _parse_as_of(value: datetime | date | str) -> datetime:
    """A datetime is that moment (UTC when naive); a date is the end of that day (UTC)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        with contextlib.suppress(ValueError):  # not a bare date: parsed as a datetime below
            value = date.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)
    if not isinstance(value, datetime | str):
        raise ValidationError(f"as_of must be a datetime, a date or an ISO 8601 string, got {value!r}")
    return datetime.fromisoformat(normalise_time(value, what="as_of"))


def _read_query(scope: Scope, tree: Filter | None, as_of: datetime | date | str | None) -> Query:
    """What a read sees: current facts (unexpired now), or the versions valid (and unexpired) at ``as_of``."""
    if as_of is None:
        return Query(scope, tree, utcnow())
    moment = _parse_as_of(as_of)
    return Query(scope, tree, moment, as_of=moment)


def _parse_expiration(value: datetime | date | str) -> datetime:
    """A date expires at the end of that day (UTC); a datetime at that moment."""
    if isinstance(value, str) and len(value.strip()) == 10:
        with contextlib.suppress(ValueError):  # not a bare date: parsed as a datetime below
            value = date.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        if value == date.max:  # the end of 9999-12-31 is the last moment a datetime can hold
            return datetime.max.replace(tzinfo=UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    return datetime.fromisoformat(normalise_time(value, what="expiration_date"))


__all__ = ["Memory"]
