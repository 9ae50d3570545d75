"""``Memory``: construction and the public verbs, each a few lines over the pipeline and the store.

Read top-down: construction, then the verbs in the order of docs/architecture.md (add, search,
get, get_all, update, delete, delete_all, erase, history, reset), then browsing and the lifecycle verbs.
A verb checks its arguments (``inputs``), then calls the step that does the work:

- ``add`` → ``pipeline.add.plan_add`` (every LLM and embedding call) → ``pipeline.write.write_add``
  (one transaction);
- ``search`` → ``search.hybrid_search`` (and ``graph_search`` when the graph is on);
- ``consolidate`` → ``pipeline.consolidate``; ``prune`` → ``pipeline.prune``;
  ``export_jsonl`` / ``import_jsonl`` → ``portability``.

Each write is one store transaction, opened after the LLM and embedding calls it needs have
returned; ``delete_all`` alone writes in batches of ``DELETE_BATCH`` memories, one transaction
each, so that a big scope does not hold SQLite's write lock for seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from engram.config import MemoryConfig, default_db_path
from engram.embedders import Embedder, build_embedder
from engram.embedders.base import similarity_floor
from engram.errors import ConfigError, NotFoundError, ValidationError
from engram.graph_search import graph_for_search, query_relations, scope_relations
from engram.graph_settings import graph_settings
from engram.inputs import (
    MAX_LIMIT,
    MAX_OFFSET,
    check_count,
    check_limit,
    check_retention,
    check_threshold,
    memory_id_of,
    owner_scope,
    parse_expiration,
    parse_timestamp,
    read_query,
    scope_from,
    user_metadata,
)
from engram.llms import LLM, LLMSource, Usage
from engram.messages import normalise_messages
from engram.models import Event, MemoryRecord, memory_hash, utcnow
from engram.pipeline import consolidate as consolidation
from engram.pipeline.add import add_result, plan_add
from engram.pipeline.plan import Context, Draft, WritePlan, history_row
from engram.pipeline.prune import prune
from engram.pipeline.screen import screen_input, screen_update
from engram.pipeline.write import write_add, write_changes
from engram.privacy.screening import merge_counts, redaction_report
from engram.results import (
    AddResult,
    EpisodeItem,
    EpisodeList,
    EraseReceipt,
    ErasureList,
    HistoryItem,
    MemoryItem,
    MemoryList,
    MemoryPage,
    MessageResult,
    ScopeList,
    SearchResult,
)
from engram.search import RecentVectors, embed_text, explained, hybrid_search, said_beyond
from engram.storage import build_store
from engram.storage.base import SORT_COLUMNS, Page, Query, Store
from engram.validation import check_input

MAX_PAGE = 1_000  # memories on one page of `browse`
DELETE_BATCH = 1_000  # memories deleted per transaction by delete_all


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
        chosen = self.config.llm
        self._llms = LLMSource(llm, chosen.provider if chosen else None, chosen.config if chosen else None)
        self._usage_lock = threading.Lock()
        self._context = Context(
            self.store, self.embedder, self.config, self.graph_settings, RecentVectors(), self._llms
        )
        self.usage = Usage()  # running totals of every LLM call this Memory made

    @classmethod
    def from_config(cls, config: MemoryConfig | Mapping[str, Any] | str | Path) -> Memory:
        return cls(config)

    @property
    def llm(self) -> LLM:
        """The configured LLM; raises ConfigError explaining how to configure one."""
        return self._llms.get()

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
    ) -> AddResult:
        """Remember a conversation. Returns what changed, one result per memory touched."""
        scope = scope_from(user_id, agent_id, run_id, actor_id, None)[0]
        turns = normalise_messages(messages)
        when = parse_timestamp(timestamp) if timestamp is not None else utcnow()
        expires = parse_expiration(expiration_date) if expiration_date is not None else None
        if prompt is not None and not isinstance(prompt, str):
            raise ValidationError(f"prompt must be a string, got {type(prompt).__name__}")
        # Before anything is planned, sent or stored: every planner and model sees screened text.
        screened = screen_input(turns, user_metadata(metadata), self.config.privacy)
        draft = Draft(scope, screened.metadata, when, expires)
        plan = plan_add(
            self._context,
            screened.turns,
            draft,
            infer=bool(infer),
            memory_type=memory_type,
            prompt=prompt,
            standalone=isinstance(messages, str),
        )
        merge_counts(plan.redactions, screened.redactions)
        relations = write_add(self._context, plan, draft, screened.turns)
        self._count(plan.usage)
        return add_result(plan, relations)

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
    ) -> SearchResult:
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
        limit = check_limit(top_k if top_k is not None else limit)
        episodes = check_count(episodes, "episodes", MAX_LIMIT)
        threshold = check_threshold(threshold)
        scope, tree = scope_from(user_id, agent_id, run_id, actor_id, filters)
        read = read_query(scope, tree, as_of)
        return self._search(read, query, limit, threshold, explain, episodes)

    def _search(
        self,
        read: Query,
        query: str,
        limit: int,
        threshold: float | None,
        explain: bool,
        episodes: int,
    ) -> SearchResult:
        """``search`` once its arguments are checked: rank, then add relations and episodes."""
        vector = self.embedder.embed_batch([query], purpose="query")[0]
        match, by_graph = graph_for_search(self.store, self.graph_settings, read, query)
        weight = self.graph_settings.weight if self.graph_settings else 0.0
        hits = hybrid_search(
            self.store,
            read,
            query,
            vector,
            limit=limit,
            threshold=threshold,
            graph=by_graph,
            graph_weight=weight,
            vector_floor=similarity_floor(self.embedder),
        )
        result: SearchResult = {"results": [hit.record.to_item(hit.score) for hit in hits]}
        if explain:
            for item, hit in zip(result["results"], hits, strict=True):
                item["explain"] = explained(hit)
        if match is not None:
            result["relations"] = query_relations(match, limit=limit)
        if episodes:
            result["episodes"] = said_beyond(self.store, read, query, {hit.record.id for hit in hits}, episodes)
        return result

    @check_input
    def get(self, memory_id: str) -> MemoryItem | None:
        """One memory by id, or None."""
        record = self.store.get_memory(memory_id_of(memory_id))
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
    ) -> MemoryList:
        """The scope's memories, newest first: current facts, or with ``as_of`` the versions valid then."""
        scope, tree = scope_from(user_id, agent_id, run_id, actor_id, filters)
        limit = check_limit(top_k if top_k is not None else limit)
        read = read_query(scope, tree, as_of)
        records = self.store.list_memories(read, limit)
        result: MemoryList = {"results": [record.to_item() for record in records]}
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
    ) -> MessageResult:
        """Replace a memory's text (``data`` or ``text``) and/or its metadata.

        With ``timestamp``, a change that became true then: the memory holds the new text from that
        moment, and the old one stays answerable as of earlier times. Without it, a correction in
        place: the memory's text was wrong all along (history keeps the old text). An update that
        changes nothing writes nothing. The new text and metadata are screened as an add's are
        (``redactions`` in the result)."""
        new_text = data if data is not None else text
        if new_text is None and metadata is None:
            raise ValidationError("update needs new text (data=...) or metadata=...")
        if new_text is not None and (not isinstance(new_text, str) or not new_text.strip()):
            raise ValidationError("the new text of a memory must be a non-empty string")
        when = parse_timestamp(timestamp) if timestamp is not None else utcnow()
        new_text, new_metadata, redacted = screen_update(
            new_text.strip() if new_text is not None else None,
            user_metadata(metadata) if metadata is not None else None,
            self.config.privacy,
        )
        done = _updated(redacted)
        old = self._existing(memory_id)
        text_now = new_text if new_text is not None else old.memory
        changed = replace(old, memory=text_now)
        vector = self._context.embed([embed_text(changed)])[0] if text_now != old.memory else None
        with self.store.transaction():
            current = self._existing(memory_id, lock=True)  # the memory as it is now, held until written
            new = replace(
                current,
                memory=text_now,
                hash=memory_hash(text_now),
                metadata=new_metadata if new_metadata is not None else current.metadata,
                updated_at=when,
            )
            if new.memory == current.memory and new.metadata == current.metadata:
                return done  # nothing changed: nothing to record
            plan = WritePlan()
            if timestamp is not None:
                plan.updates.append((current, replace(new, valid_from=when), vector))
            else:
                plan.corrections.append((current, new, vector))
            self.store.add_history(write_changes(self.store, plan, when))
        return done

    @check_input
    def delete(self, memory_id: str) -> MessageResult:
        """Erase a memory and every earlier version of it (history records the deletion)."""
        with self.store.transaction():
            old = self._existing(memory_id, lock=True)
            self.store.delete_memory(old.id)
            self.store.graph.forget_memory(old.id)
            self.store.add_history([history_row(Event.DELETE, old, None, utcnow(), deleted=True)])
        return {"message": "Memory deleted successfully!"}

    @check_input
    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
    ) -> MessageResult:
        """Erase every memory of a scope (a scope is required), with their versions and the scope's
        episodes; history records the deletions."""
        scope = scope_from(user_id, agent_id, run_id, actor_id, None)[0]
        now = utcnow()
        # In batches of their own transactions: a big scope must not hold SQLite's write lock for
        # seconds (other writers would time out). The last batch also takes the scope's episodes.
        while True:
            with self.store.transaction():
                batch = self.store.delete_memories(scope, DELETE_BATCH)
                self.store.add_history([history_row(Event.DELETE, r, None, now, deleted=True) for r in batch])
                if len(batch) < DELETE_BATCH:
                    self.store.graph.delete_graph(scope)
            if len(batch) < DELETE_BATCH:
                return {"message": "Memories deleted successfully!"}

    @check_input
    def erase(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> EraseReceipt:
        """Erase everything a scope holds (at least one id; every memory whose ids match all those given,
        as ``delete_all``): memories, versions, episodes, keyword entries, its graph; its history keeps
        tombstones without text or scope ids. Returns the receipt, which the store keeps after the data
        is gone (``erasures``)."""
        scope = scope_from(user_id, agent_id, run_id, None, None)[0]
        return self.store.erase_scope(scope).to_dict()

    @check_input
    def erasures(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> ErasureList:
        """The receipts of past erasures, newest first: of the scope with exactly these ids, or every one.
        Receipts name a scope by a digest of its ids (``models.scope_digest``), never by the ids."""
        scope = owner_scope(user_id, agent_id, run_id)
        receipts = self.store.list_erasures(scope if scope.as_dict() else None, check_limit(limit))
        return {"results": [receipt.to_dict() for receipt in receipts]}

    @check_input
    def history(self, memory_id: str) -> list[HistoryItem]:
        """Every change to one memory, oldest first; it outlives the memory."""
        return [row.to_dict() for row in self.store.history(memory_id_of(memory_id))]

    def reset(self) -> None:
        """Delete everything in the store: memories, versions, history and episodes."""
        self.store.reset()
        self.store.bind_embedder(self.embedder.model_name, self.embedder.dimension)

    @check_input
    def episodes(self, memory_id: str) -> list[EpisodeItem]:
        """The messages a memory came from, as they were said, oldest first."""
        self._existing(memory_id)
        return [episode.to_dict() for episode in self.store.memory_episodes(memory_id)]

    @check_input
    def list_episodes(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
        before: datetime | date | str | float | None = None,
        limit: int = 100,
    ) -> EpisodeList:
        """The messages a scope was told, as they were said, oldest first: the last ``limit`` of them,
        or of those said before ``before`` (page back with the first one's ``created_at``). A
        conversation's history for a session store, say, whatever memories were kept from it."""
        scope = scope_from(user_id, agent_id, run_id, actor_id, None)[0]
        until = None if before is None else parse_timestamp(before)
        episodes = self.store.list_episodes(scope, before=until, limit=check_limit(limit))
        return {"results": [episode.to_dict() for episode in episodes]}

    # -- browsing (the dashboard) ------------------------------------------------------------

    def scopes(self) -> ScopeList:
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
    ) -> MemoryPage:
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
        page = Page(min(check_limit(limit), MAX_PAGE), offset, sort, descending=order == "desc")
        scope, tree = scope_from(user_id, agent_id, run_id, actor_id, filters)
        query = read_query(scope, tree, as_of)
        records = self.store.page_memories(query, page)
        return {
            "results": [record.to_item() for record in records],
            "total": self.store.count_memories(query),
            "offset": page.offset,
            "limit": page.limit,
        }

    # -- lifecycle: stats, prune, consolidate, export and import --------------------------------

    @check_input
    def stats(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """How many memories a scope (or, with no scope, the whole store) holds: current, expired and
        retracted; for the whole store also its earlier versions, history rows and episodes."""
        scope = owner_scope(user_id, agent_id, run_id)
        counts = self.store.counts(scope if scope.as_dict() else None, utcnow())
        return {"location": self.store.location, **counts}

    @check_input
    def prune(self, *, retention_days: float | None = None) -> dict[str, int]:
        """Delete expired memories; and, with ``retention_days`` (default: the config's), what stopped
        being true before then (earlier versions, retracted memories) and history written before then.
        Without a retention, the past is kept. Returns how much of each was removed."""
        days = retention_days if retention_days is not None else self.config.retention_days
        return prune(self.store, check_retention(days))

    @check_input
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
        scope = scope_from(user_id, agent_id, run_id, None, None)[0]
        llm = self._llms.optional() if infer else None
        result, usage = consolidation.consolidate(self._context, scope, threshold=threshold, llm=llm)
        self._count(usage)
        return result

    @check_input
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
        from engram.portability import export_file

        scope = owner_scope(user_id, agent_id, run_id)
        chosen = scope if scope.as_dict() else None
        return export_file(self.store, self.embedder, path, chosen, vectors=vectors, progress=progress)

    @check_input
    def import_jsonl(self, path: str | Path, *, progress: bool = False) -> dict[str, Any]:
        """Load a file written by ``export_jsonl`` (from either store, any embedder). Importing the
        same file twice changes nothing; a malformed line is refused before anything is written."""
        from engram.portability import import_file

        return import_file(self.store, self.embedder, path, progress=progress).as_dict()

    # -- helpers ---------------------------------------------------------------------------

    def _existing(self, memory_id: str, *, lock: bool = False) -> MemoryRecord:
        record = self.store.get_memory(memory_id_of(memory_id), lock=lock)
        if record is None:
            raise NotFoundError(f"no memory has id {memory_id!r}")
        return record

    def _count(self, usage: Usage) -> None:
        with self._usage_lock:
            self.usage = self.usage + usage


def _updated(redacted: dict[str, int]) -> MessageResult:
    """``update``'s confirmation, with what screening redacted from it."""
    done: MessageResult = {"message": "Memory updated successfully!"}
    if redacted:
        done["redactions"] = redaction_report(redacted)
    return done


def _embedder_from(config: MemoryConfig) -> Embedder:
    if config.embedder is None:
        return build_embedder()
    return build_embedder(config.embedder.provider, config.embedder.config)


__all__ = ["Memory"]
