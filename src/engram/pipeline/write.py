"""Write, the last step of add: the plan becomes rows, in one transaction.

``plan_changes`` turns the decided actions into records and embeddings (before the transaction:
embedding is slow). ``write_add`` then writes the memories, their history, the add's episodes and
the graph change in one transaction. ``write_changes`` is the part every writing verb shares
(``update``, ``consolidate``): an UPDATE supersedes (the old text is kept as a version valid
until the new text's ``valid_from``), a DELETE retracts (``invalid_at``), a correction rewrites in
place. Nothing an LLM decides erases what was once true.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from engram.messages import Message
from engram.models import Episode, Event, HistoryRecord, MemoryRecord, Scope, memory_hash
from engram.pipeline.dedupe import plan_adds
from engram.pipeline.graph_write import write_graph
from engram.pipeline.plan import Action, Context, Draft, Fact, WritePlan, history_row
from engram.privacy.sources import ordered_sources
from engram.results import RelationChanges
from engram.search import embed_text, keyword_text
from engram.storage.base import Store, Vector


def plan_changes(
    ctx: Context, plan: WritePlan, actions: Sequence[Action], turns: Sequence[Message], draft: Draft
) -> None:
    """Add the actions' new and changed memories to ``plan``, embedded in one batch each."""
    adds: list[MemoryRecord] = []
    updates: list[tuple[MemoryRecord, MemoryRecord]] = []  # old, new
    for action in actions:
        sources = sources_of(action.fact, turns)
        dated = action.fact.valid_from if action.fact else None
        if action.event == Event.ADD and action.text:
            adds.append(draft.record(action.text, role=None, sources=sources, valid_from=dated, about=action.fact))
        elif action.event == Event.UPDATE and action.target and action.text:
            new = replace(
                action.target,
                memory=action.text,
                hash=memory_hash(action.text),
                updated_at=draft.created_at,
                metadata={**action.target.metadata, **draft.metadata},
                valid_from=dated or draft.created_at,  # when the new text became true
                subject=action.fact.subject if action.fact else action.target.subject,
                attribute=action.fact.attribute if action.fact else action.target.attribute,
                # the new text came from this add's messages; with none known, the old text's stay
                sources=ordered_sources(m.source for m in sources) or action.target.sources,
            )
            draft.link(new.id, sources)
            updates.append((action.target, new))
        elif action.event == Event.DELETE and action.target:
            plan.deletes.append(action.target)
        elif action.event == Event.NONE and action.target:
            plan.unchanged.append(action.target)
    if updates:
        vectors = ctx.embed([embed_text(new) for _, new in updates])
        plan.updates += [(old, new, vector) for (old, new), vector in zip(updates, vectors, strict=True)]
    added = plan_adds(ctx, adds, draft.scope)
    plan.inserts += added.inserts
    plan.unchanged += added.unchanged


def sources_of(fact: Fact | None, turns: Sequence[Message]) -> list[Message]:
    """The messages a fact came from: those it names, or the one message said when it names none."""
    if fact is None:
        return []
    if fact.sources:
        return [turns[i] for i in fact.sources]
    said = [turn for turn in turns if turn.role != "system"]
    return said if len(said) == 1 else []


# -- inside the transaction ------------------------------------------------------------------------


def write_add(ctx: Context, plan: WritePlan, draft: Draft, turns: Sequence[Message]) -> RelationChanges | None:
    """Write the whole plan, its history, the add's episodes and its graph change in one
    transaction. Returns the add's ``relations`` block when the graph is on."""
    episodes = [
        Episode(str(uuid.uuid4()), t.role, t.content, draft.created_at, t.position, t.name, **draft.scope.as_dict())
        for t in turns
        if t.content
    ]
    relations = None
    with ctx.store.transaction():
        drop_stale(ctx.store, plan, draft.scope)
        ctx.store.add_history(write_changes(ctx.store, plan, draft.created_at))
        reindex_turns(ctx.store, plan.reindex)
        ctx.store.add_episodes(episodes)
        links = episode_links(draft, episodes, plan.written_ids())
        ctx.store.link_episodes(links)
        if plan.graph is not None and ctx.graph is not None:
            episodes_of: dict[str, list[str]] = {}
            for memory_id, episode_id in links:
                episodes_of.setdefault(memory_id, []).append(episode_id)
            known = plan.written_ids() | {record.id for record in plan.unchanged}
            relations = write_graph(ctx.store, plan.graph, known, ctx.graph, episodes_of)
    return relations


def write_changes(store: Store, plan: WritePlan, when: datetime) -> list[HistoryRecord]:
    """Inside a transaction: the plan's inserts, supersessions, corrections and retractions.
    Returns the history rows that record them, for the caller to write with its own."""
    history: list[HistoryRecord] = []
    for record, vector in plan.inserts:
        store.insert_memory(record, vector, plan.keyword_texts.get(record.id) or keyword_text(record))
        history.append(history_row(Event.ADD, None, record, record.created_at))
    for old, new, maybe_vector in plan.updates:
        supersede(store, old, new, maybe_vector, new.valid_from or when)
        history.append(history_row(Event.UPDATE, old, new, when))
    for old, new, maybe_vector in plan.corrections:
        corrected = replace(new, valid_from=old.valid_from, invalid_at=old.invalid_at)
        # Unchanged text keeps its keyword entry, and with it the context it was stored with.
        changed = corrected.memory != old.memory
        store.update_memory(corrected, maybe_vector, keyword_text(corrected) if changed else None)
        history.append(history_row(Event.UPDATE, old, corrected, when))
    for record in plan.deletes:
        store.retract_memory(record.id, max(when, record.valid_from or when))
        history.append(history_row(Event.DELETE, record, None, when))
    return history


def supersede(store: Store, old: MemoryRecord, new: MemoryRecord, vector: Vector | None, at: datetime) -> None:
    """``new`` holds from ``at`` on; ``old`` stays as the version valid until then.

    A statement dated before the current text became true cannot replace it: its text is kept
    as the earlier version, valid from ``at`` until the current text's ``valid_from``."""
    valid_from = old.valid_from or old.created_at
    changed = new.memory != old.memory
    if at < valid_from:
        if vector is None:  # the same text, valid earlier than thought
            store.update_memory(replace(new, valid_from=at, updated_at=at), None, None)
        else:
            store.insert_version(replace(new, valid_from=at, invalid_at=valid_from), vector, keyword_text(new))
        return
    until = min(at, old.invalid_at) if old.invalid_at else at
    store.archive_memory(old.id, until)
    current = replace(new, valid_from=at, invalid_at=None, updated_at=at)
    store.update_memory(current, vector, keyword_text(current) if changed else None)


def drop_stale(store: Store, plan: WritePlan, scope: Scope) -> None:
    """Re-check the plan inside the write transaction.

    The plan was made before the transaction opened (LLM and embedding calls are slow), so
    another writer may since have stored the same text or changed a target: a duplicate
    becomes NONE, a vanished target is dropped, and history records the current old text.
    """
    known = store.find_by_hash(scope.owner_only(), [record.hash for record, _ in plan.inserts])
    plan.unchanged += [known[record.hash] for record, _ in plan.inserts if record.hash in known]
    plan.inserts = [(record, vector) for record, vector in plan.inserts if record.hash not in known]
    targets = [old.id for old, _, _ in plan.updates] + [record.id for record in plan.deletes]
    # Only current memories can be superseded or retracted: another writer may have retracted one.
    read = store.get_memories(targets, lock=True) if targets else {}  # held until the add commits
    live = {k: r for k, r in read.items() if r.invalid_at is None}
    plan.updates = [(live[old.id], new, vector) for old, new, vector in plan.updates if old.id in live]
    plan.deletes = [live[record.id] for record in plan.deletes if record.id in live]


def reindex_turns(store: Store, reindex: list[tuple[MemoryRecord, list[str]]]) -> None:
    """Rewrite earlier turns' keyword entries with the context the new turns complete (inside
    the add's transaction; a memory changed or deleted since the plan was made is left alone)."""
    live = store.get_memories([record.id for record, _ in reindex]) if reindex else {}
    for record, context in reindex:
        current = live.get(record.id)
        if current is not None and current.memory == record.memory:
            store.update_memory(current, None, keyword_text(current, context))


def episode_links(draft: Draft, episodes: Sequence[Episode], written: set[str]) -> list[tuple[str, str]]:
    """(memory id, episode id) for each written memory and the messages it came from."""
    episode_at = {episode.position: episode.id for episode in episodes}
    return [
        (memory_id, episode_at[position])
        for memory_id, positions in draft.links.items()
        if memory_id in written
        for position in positions
        if position in episode_at
    ]


__all__ = ["drop_stale", "plan_changes", "supersede", "write_add", "write_changes"]
