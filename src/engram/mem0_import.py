"""``engram import --from-mem0 CONFIG.json``: move a mem0 installation into engram.

mem0 is read through its own API (``mem0.Memory.from_config``), not its files: every
memory its vector store lists, read back per scope with ``get_all``, with the history its
SQLite database keeps (``history(memory_id)``). Ids, texts, hashes, times, scopes and
metadata are kept; vectors are recomputed by engram's embedder. mem0 is not a dependency
of engram: install ``mem0ai`` next to it to run this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engram.embedders.base import Embedder
from engram.errors import ConfigError, ValidationError
from engram.models import SCOPE_KEYS, Event, HistoryRecord, MemoryRecord, memory_hash
from engram.portability import check_exported, write_memories
from engram.search import keyword_text
from engram.storage.base import ExportedMemory, Store

PROMOTED_KEYS = {"data", "hash", "created_at", "updated_at", "id", "actor_id", "role", *SCOPE_KEYS}
LIST_LIMIT = 1_000_000  # mem0's list() needs a limit; far above any one installation's size


def import_from_mem0(store: Store, embedder: Embedder, config_path: Path, *, progress: bool = False) -> dict[str, Any]:
    """Copy every memory (with its history) of the mem0 installation ``config_path`` describes."""
    return import_mem0_memories(store, embedder, open_mem0(config_path), progress=progress)


def import_mem0_memories(store: Store, embedder: Embedder, source: Any, *, progress: bool = False) -> dict[str, Any]:
    """Copy every memory (with its history) of an open ``mem0.Memory``; running it again adds only
    what is new. Every memory is read and checked first: one no store could hold (a NUL, a lone
    surrogate, NaN in its metadata) stops the import before anything is written."""
    items = [_exported(item, source) for item in mem0_memories(source)]
    for item in items:
        try:
            check_exported(item)
        except ValueError as exc:
            raise ValidationError(f"mem0 memory {item.record.id}: {exc}; nothing was imported") from exc
    imported, _ = write_memories(store, embedder, items, total=len(items), progress=progress)
    return {"memories": len(items), "imported": imported, "recomputed_vectors": True}


def open_mem0(config_path: Path) -> Any:
    try:
        from mem0 import Memory as Mem0Memory
    except ImportError as exc:
        raise ConfigError(f"--from-mem0 reads mem0 through its own API: pip install mem0ai ({exc})") from exc
    try:
        config = json.loads(config_path.expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the mem0 config {config_path}: {exc}") from exc
    try:
        return Mem0Memory.from_config(config)
    except Exception as exc:  # mem0 builds its vector store, LLM and embedder here; each SDK raises its own errors
        raise ConfigError(
            f"mem0 could not open the installation {config_path} describes ({type(exc).__name__}: {exc}). "
            "mem0 builds its LLM and embedder when it opens, so give it the credentials its config names "
            "(OPENAI_API_KEY for mem0's defaults), even though engram only reads memories through it"
        ) from exc


def mem0_memories(source: Any) -> Iterator[dict[str, Any]]:
    """Every memory of a mem0 Memory, as its ``get_all`` returns them, scope by scope."""
    listed = source.vector_store.list(filters={}, top_k=LIST_LIMIT)
    # Some of mem0's vector stores return [points], others (points, next_page).
    points = listed[0] if isinstance(listed, list | tuple) and listed and isinstance(listed[0], list) else listed
    scopes = {
        tuple((key, payload[key]) for key in SCOPE_KEYS if payload.get(key))
        for payload in (getattr(point, "payload", None) or {} for point in points)
    }
    for scope in sorted(s for s in scopes if s):
        answer = source.get_all(filters=dict(scope), limit=LIST_LIMIT)
        yield from answer["results"] if isinstance(answer, dict) else answer


def _exported(item: Mapping[str, Any], source: Any) -> ExportedMemory:
    text = item.get("memory")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"mem0 memory {item.get('id')!r} has no text")
    created = _time(item.get("created_at")) or datetime.now(UTC)
    metadata = {k: v for k, v in (item.get("metadata") or {}).items() if k not in PROMOTED_KEYS}
    record = MemoryRecord(
        id=str(item["id"]),
        memory=text,
        hash=item.get("hash") or memory_hash(text),
        created_at=created,
        updated_at=_time(item.get("updated_at")),
        metadata=metadata,
        user_id=item.get("user_id"),
        agent_id=item.get("agent_id"),
        run_id=item.get("run_id"),
        actor_id=item.get("actor_id"),
        role=item.get("role"),
    )
    history = [_history(row, record.id) for row in source.history(record.id)]
    return ExportedMemory(record, np.zeros(0, dtype=np.float32), keyword_text(record), history)


def _history(row: Mapping[str, Any], memory_id: str) -> HistoryRecord:
    created = _time(row.get("created_at")) or datetime.now(UTC)
    return HistoryRecord(
        id=str(row["id"]),
        memory_id=memory_id,
        old_memory=row.get("old_memory"),
        new_memory=row.get("new_memory"),
        event=Event(str(row.get("event", "ADD")).upper()),
        created_at=created,
        updated_at=_time(row.get("updated_at")),
        is_deleted=bool(row.get("is_deleted", False)),
        actor_id=row.get("actor_id"),
        role=row.get("role"),
    )


def _time(value: Any) -> datetime | None:
    """mem0 writes ISO times, with a zone (US/Pacific by default) or, in its history, without one."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
