"""Consolidation: which memories of a scope say the same thing, and what one memory should say instead.

The decisions are pure (no I/O); ``consolidate`` at the end reads the scope, calls them, asks the
LLM (when one is given) and writes the result in one transaction (``write.write_changes``).

- Without an LLM only exact and near-exact duplicates merge: the same words, ignoring case,
  punctuation and spacing. Embedding similarity alone is never enough ("Went to Rome last summer"
  and "Is going to Rome next summer" have cosine 0.88 under MiniLM).
- With an LLM, memories whose cosine reaches ``CANDIDATE_THRESHOLD`` and that share a speaker
  (actor and role) are shown to it in small groups, under the small ids 0, 1, ...; it names the
  ids that state the same fact and writes the one memory that replaces them.

``CANDIDATE_THRESHOLD`` = 0.60 comes from bench/bench_consolidate_threshold.py: on 20 pairs labelled
"same fact" and 20 labelled "related but different", 0.60 kept every same pair as a candidate
(20/20) and left out 17/20 different ones; the LLM judges the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engram.llms import LLM, Usage
from engram.models import MemoryRecord, Scope, memory_hash, utcnow
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.plan import Context, WritePlan
from engram.pipeline.sources import content_words
from engram.pipeline.write import write_changes
from engram.search import embed_text
from engram.storage.base import ExportedMemory
from engram.validation import storable

CANDIDATE_THRESHOLD = 0.60
MAX_GROUP = 8  # memories shown to the LLM at once: small models lose track beyond that

_WORD = re.compile(r"\w+", re.UNICODE)

CONSOLIDATE_PROMPT = """You tidy up a person's long-term memory. Below are memories about the same \
person, each with an id. Find memories that state the same fact (said twice, or split into fragments \
that belong together) and write, for each such group, ONE memory that keeps every detail of the group.
Never merge different facts, even on the same topic: "likes tea" and "drinks coffee daily" stay apart, \
and so do a past event and a plan. Keep the memories' language. If nothing should merge, answer \
{"merged": []}.
Answer JSON: {"merged": [{"ids": [0, 2], "memory": "the one memory"}]}"""

CONSOLIDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "merged": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"ids": {"type": "array", "items": {"type": "integer"}}, "memory": {"type": "string"}},
                "required": ["ids", "memory"],
            },
        }
    },
    "required": ["merged"],
}


@dataclass(frozen=True)
class Merge:
    """Memories that become one: ``keep`` (the oldest) takes ``text``; ``retire`` leave current results."""

    keep: MemoryRecord
    retire: tuple[MemoryRecord, ...]
    text: str


def merged_metadata(records: Sequence[MemoryRecord]) -> dict[str, Any]:
    """The first (oldest) record's metadata, with the ``source_ids`` of all: the merged memory still
    points at every message it came from."""
    metadata = dict(records[0].metadata)
    sources = [i for record in records for i in record.metadata.get("source_ids", []) if isinstance(i, str)]
    if sources:
        metadata["source_ids"] = list(dict.fromkeys(sources))
    return metadata


def normalised(text: str) -> str:
    """The words of a text, lower-cased: near-exact duplicates share it."""
    return " ".join(word.casefold() for word in _WORD.findall(text))


def speaker(record: MemoryRecord) -> tuple[str | None, str | None]:
    return record.actor_id, record.role


def duplicate_merges(records: Sequence[MemoryRecord]) -> list[Merge]:
    """Exact and near-exact duplicates (same words, same speaker): the oldest stays, as it is."""
    groups: dict[tuple[Any, ...], list[MemoryRecord]] = {}
    for record in records:
        groups.setdefault((normalised(record.memory), *speaker(record)), []).append(record)
    merges = []
    for group in groups.values():
        if len(group) > 1:
            keep, *retire = sorted(group, key=lambda r: (r.created_at, r.id))
            merges.append(Merge(keep, tuple(retire), keep.memory))
    return merges


def candidate_groups(
    records: Sequence[MemoryRecord], vectors: npt.NDArray[np.float32], threshold: float = CANDIDATE_THRESHOLD
) -> list[list[int]]:
    """Groups (positions in ``records``) of memories linked by cosine >= ``threshold`` with the same
    speaker, at most ``MAX_GROUP`` each, for the LLM to judge."""
    if len(records) < 2:
        return []
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similar = unit @ unit.T >= threshold
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(similar, k=1)), strict=True):
        if speaker(records[i]) == speaker(records[j]):
            parent[root(int(i))] = root(int(j))
    components: dict[int, list[int]] = {}
    for i in range(len(records)):
        components.setdefault(root(i), []).append(i)
    groups = []
    for members in components.values():
        for start in range(0, len(members), MAX_GROUP):
            if len(part := members[start : start + MAX_GROUP]) > 1:
                groups.append(part)
    return groups


def merge_messages(records: Sequence[MemoryRecord]) -> list[dict[str, str]]:
    listing = "\n".join(f"{i}: {record.memory}" for i, record in enumerate(records))
    return [{"role": "system", "content": CONSOLIDATE_PROMPT}, {"role": "user", "content": listing}]


def merges_from_answer(records: Sequence[MemoryRecord], answer: Any) -> tuple[list[Merge], list[str]]:
    """The LLM's groups as merges; a group with an unknown, repeated or lone id, no text, or a text
    with a word none of its memories say, is skipped with a warning (a misjudgement must cost a
    missed merge, never a lost or invented fact)."""
    merges: list[Merge] = []
    warnings: list[str] = []
    used: set[int] = set()
    groups = answer.get("merged") if isinstance(answer, dict) else None
    if not isinstance(groups, list):
        return [], ["the consolidation answer had no 'merged' list: nothing merged in this group"]
    for group in groups:
        raw_ids = group.get("ids") if isinstance(group, dict) else None
        text = group.get("memory") if isinstance(group, dict) else None
        ids = set(raw_ids) if isinstance(raw_ids, list) and all(isinstance(i, int) for i in raw_ids) else set()
        if (
            len(ids) < 2
            or not ids <= set(range(len(records)))
            or used & ids
            or not isinstance(text, str)
            or not text.strip()
            or not storable(text)
        ):
            warnings.append(f"skipped a consolidation group the LLM gave as {group!r}")
            continue
        group = [records[i] for i in ids]
        invented = content_words(text) - set().union(*(content_words(r.memory) for r in group))
        if invented:  # words none of the memories say: the model wrote something else (its prompt's example)
            warnings.append(f"skipped a consolidation group whose text says what its memories do not: {text!r}")
            continue
        used |= ids
        keep, *retire = sorted(group, key=lambda r: (r.created_at, r.id))
        merges.append(Merge(keep, tuple(retire), text.strip()))
    return merges, warnings


def _changed_since(read: MemoryRecord, now: MemoryRecord | None) -> bool:
    """Whether another writer deleted, retracted or rewrote a memory since it was read: a merge
    judged on the text read must not overwrite a newer one."""
    return now is None or now.invalid_at is not None or (now.memory, now.updated_at) != (read.memory, read.updated_at)


# -- the orchestration: read, judge, write ------------------------------------------------------


def consolidate(
    ctx: Context, scope: Scope, *, threshold: float | None, llm: LLM | None
) -> tuple[dict[str, Any], Usage]:
    """Merge a scope's memories that state the same fact; returns what was merged (``Memory.consolidate``)
    and what the LLM calls cost."""
    now = utcnow()
    current = _current(ctx, scope, now)
    merges = duplicate_merges([item.record for item in current])
    usage, warnings = Usage(), list[str]()
    if llm is not None:
        merged = {record.id for merge in merges for record in merge.retire}
        judged, usage, warnings = _judged_merges(
            llm, [item for item in current if item.record.id not in merged], threshold
        )
        merges += judged
    done = _write_merges(ctx, merges, now)
    if len(done) < len(merges):
        warnings.append(
            f"{len(merges) - len(done)} merge(s) left for the next run: another writer changed their memories meanwhile"
        )
    result: dict[str, Any] = {
        "merged": sum(len(m.retire) for m in done),
        "results": [{"id": m.keep.id, "memory": m.text, "merged_ids": [r.id for r in m.retire]} for m in done],
    }
    if usage.calls:
        result["usage"] = usage.as_dict()
    if warnings:
        result["warnings"] = warnings
    return result, usage


def _current(ctx: Context, scope: Scope, now: datetime) -> list[ExportedMemory]:
    """The scope's current memories (not retracted, not expired) with their vectors."""
    return [
        item
        for batch in ctx.store.export_memories(scope)
        for item in batch
        if item.record.invalid_at is None and (item.record.expiration_date is None or item.record.expiration_date > now)
    ]


def _judged_merges(
    llm: LLM, items: Sequence[ExportedMemory], threshold: float | None
) -> tuple[list[Merge], Usage, list[str]]:
    """The merges the LLM finds among the candidate groups of ``items``."""
    merges: list[Merge] = []
    usage, warnings = Usage(), list[str]()
    if not items:  # nothing left to judge
        return merges, usage, warnings
    vectors = np.array([item.vector for item in items], dtype=np.float32).reshape(len(items), -1)
    records = [item.record for item in items]
    for group in candidate_groups(records, vectors, threshold or CANDIDATE_THRESHOLD):
        shown = [records[i] for i in group]
        completion = llm.complete(merge_messages(shown), json_schema=CONSOLIDATE_SCHEMA)
        usage = usage + completion.usage.tagged("consolidate")
        more, problems = merges_from_answer(shown, parse_json_answer(completion.text))
        merges += more
        warnings += problems
    return merges, usage, warnings


def _write_merges(ctx: Context, merges: Sequence[Merge], now: datetime) -> list[Merge]:
    """In one transaction: the kept memory of each merge takes the merged text as a new version (an
    UPDATE); the others are retracted (a DELETE each), so both stay answerable as of before now.
    A merge whose memories another writer changed since they were read is left for the next run."""
    changed = [merge for merge in merges if merge.text != merge.keep.memory]
    texts = [embed_text(replace(merge.keep, memory=merge.text)) for merge in changed]
    vectors = ctx.embed(texts) if changed else np.zeros((0, 0), dtype=np.float32)
    vector_of = {merge.keep.id: vector for merge, vector in zip(changed, vectors, strict=True)}
    with ctx.store.transaction():
        live = ctx.store.get_memories([r.id for m in merges for r in (m.keep, *m.retire)], lock=True)
        plan, done = WritePlan(), []
        for merge in merges:
            if any(_changed_since(read, live.get(read.id)) for read in (merge.keep, *merge.retire)):
                continue
            keep = live[merge.keep.id]
            new = replace(
                keep,
                memory=merge.text,
                hash=memory_hash(merge.text),
                metadata=merged_metadata([live[r.id] for r in (merge.keep, *merge.retire)]),
                updated_at=now,
            )
            if new.memory != keep.memory:
                plan.updates.append((keep, replace(new, valid_from=now), vector_of[keep.id]))
            elif new.metadata != keep.metadata:
                plan.corrections.append((keep, new, None))
            plan.deletes += [live[record.id] for record in merge.retire]
            done.append(merge)
        ctx.store.add_history(write_changes(ctx.store, plan, now))
    return done
