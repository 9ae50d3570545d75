"""Export and import: a store's memories as JSON Lines, to back up, move or change backends.

The file is a header line, then one line per memory (oldest first)::

    {"format": "engram-export", "version": 1, "embedder": {"model": "...", "dimension": 384}, "scope": {...}}
    {"memory": {item}, "keyword_text": "...", "history": [...], "versions": [], "episodes": [],
     "relations": [], "vector": "<base64 float32, only with vectors=True>"}

``memory`` is the public item (DESIGN.md section 1) with ``expiration_date`` when set;
``keyword_text`` is what the keyword index was built from (a turn with its neighbours, for
memories added with ``infer=False``), so search behaves the same after a move.

Import is idempotent (a memory or history row whose id the store already holds is left
alone), reads the whole file once to check it before writing anything (a malformed line is
refused with its line number), then writes in batches, each in one transaction, so an
interrupted import never leaves half a memory and running it again finishes the job.
Vectors are taken from the file only when it was written by the same embedder; otherwise
they are recomputed.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from engram.errors import ValidationError
from engram.models import IDENTITY_KEYS, Event, HistoryRecord, MemoryRecord, Scope, memory_hash
from engram.search import embed_text, keyword_text
from engram.storage.base import ExportedMemory

if TYPE_CHECKING:
    from engram.memory import Memory

FORMAT = "engram-export"
VERSION = 1
BATCH = 500  # memories per import transaction
LATER_FIELDS = ("versions", "episodes", "relations")  # carried by the format; filled by later stores


@dataclass(frozen=True)
class ImportReport:
    memories: int  # memories in the file
    imported: int  # of which were new to the store
    recomputed_vectors: bool

    def as_dict(self) -> dict[str, Any]:
        return {"memories": self.memories, "imported": self.imported, "recomputed_vectors": self.recomputed_vectors}


# -- export ----------------------------------------------------------------------------------


def export_jsonl(
    memory: Memory, out: IO[str], scope: Scope | None, *, vectors: bool = False, progress: bool = False
) -> int:
    """Write the memories of ``scope`` (or of the whole store) to ``out``; returns how many."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "embedder": {"model": memory.embedder.model_name, "dimension": memory.embedder.dimension},
        "scope": scope.as_dict() if scope else {},
    }
    out.write(_line(header))
    written = 0
    with _progress(progress, "export") as advance:
        for batch in memory.store.export_memories(scope):
            out.write("".join(_line(memory_line(item, vectors)) for item in batch))
            written += len(batch)
            advance(len(batch))
    return written


def memory_line(exported: ExportedMemory, vectors: bool) -> dict[str, Any]:
    record = exported.record
    item = record.to_item()
    line: dict[str, Any] = {
        "memory": item,
        "keyword_text": exported.keyword_text,
        "history": [row.to_dict() for row in exported.history],
        **{name: [] for name in LATER_FIELDS},
    }
    if vectors:
        line["vector"] = base64.b64encode(np.asarray(exported.vector, dtype="<f4").tobytes()).decode("ascii")
    return line


def _line(value: Mapping[str, Any]) -> str:
    # Sorted keys: the same memories give the same bytes from either store (jsonb reorders keys).
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


# -- import ----------------------------------------------------------------------------------


def import_jsonl(memory: Memory, path: Path, *, progress: bool = False) -> ImportReport:
    """Load an export into ``memory``'s store. Checks the whole file first: nothing is written
    when any line is malformed."""
    header, count = _check_file(path)
    embedder = header["embedder"]
    same_embedder = (
        embedder.get("model") == memory.embedder.model_name and embedder.get("dimension") == memory.embedder.dimension
    )
    imported, recomputed = write_memories(memory, _read_memories(path, same_embedder), total=count, progress=progress)
    return ImportReport(count, imported, recomputed)


def write_memories(
    memory: Memory, memories: Iterable[tuple[ExportedMemory, Any]], *, total: int | None, progress: bool
) -> tuple[int, bool]:
    """Store (memory, vector or None) pairs in batches of one transaction each, embedding the
    memories that come without a vector first. Returns how many were new, and whether any
    vector was recomputed."""
    imported = 0
    recomputed = False
    with _progress(progress, "import", total=total) as advance:
        for batch in _batches(memories, BATCH):
            known = set(memory.store.get_memories([item.record.id for item, _ in batch]))
            placeholder = np.zeros(memory.embedder.dimension, dtype=np.float32)  # never written: the id is known
            batch = [(item, placeholder if item.record.id in known else vector) for item, vector in batch]
            missing = [i for i, (_, vector) in enumerate(batch) if vector is None]
            if missing:  # another embedder (or no vectors in the file): embed before the transaction opens
                recomputed = True
                texts = [embed_text(batch[i][0].record) for i in missing]
                for i, vector in zip(missing, memory.embedder.embed_batch(texts, purpose="document"), strict=True):
                    batch[i] = (batch[i][0], vector)
            rows = [ExportedMemory(item.record, vector, item.keyword_text, item.history) for item, vector in batch]
            imported += memory.store.import_memories(rows)
            advance(len(rows))
    return imported, recomputed


def _check_file(path: Path) -> tuple[dict[str, Any], int]:
    """The header and the number of memories, having parsed every line (or a ValidationError
    naming the first bad one)."""
    header: dict[str, Any] | None = None
    count = 0
    for number, raw in _lines(path):
        if header is None:
            header = _header(raw, path, number)
            continue
        _parse_memory(raw, path, number, header["embedder"], keep_vector=False)
        count += 1
    if header is None:
        raise ValidationError(f"{path} is empty: an engram export starts with a header line")
    return header, count


def _read_memories(path: Path, use_vectors: bool) -> Iterator[tuple[ExportedMemory, Any]]:
    """(memory, its vector or None) for each memory line; the file was checked already."""
    header: dict[str, Any] | None = None
    for number, raw in _lines(path):
        if header is None:
            header = _header(raw, path, number)
            continue
        yield _parse_memory(raw, path, number, header["embedder"], keep_vector=use_vectors)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        handle = path.expanduser().open(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def _header(raw: str, path: Path, number: int) -> dict[str, Any]:
    header = _json_object(raw, path, number)
    if header.get("format") != FORMAT:
        raise ValidationError(f"{path}:{number}: not an engram export (the first line must be its header)")
    if header.get("version") != VERSION:
        raise ValidationError(
            f"{path}:{number}: export format version {header.get('version')!r}; this engram reads version {VERSION}"
        )
    embedder = header.get("embedder")
    if not isinstance(embedder, dict):
        raise ValidationError(f"{path}:{number}: the header has no embedder")
    return header


def _parse_memory(
    raw: str, path: Path, number: int, embedder: Mapping[str, Any], *, keep_vector: bool
) -> tuple[ExportedMemory, Any]:
    line = _json_object(raw, path, number)
    try:
        record = _record(line.get("memory"))
        history = [_history_row(row, record.id) for row in _list(line.get("history", []), "history")]
        keyword = line.get("keyword_text") or keyword_text(record)
        if not isinstance(keyword, str):
            raise ValueError("keyword_text must be a string")
        for name in LATER_FIELDS:
            if _list(line.get(name, []), name):
                raise ValueError(f"this engram cannot import {name} yet: upgrade engram")
        vector = _vector(line.get("vector"), embedder) if keep_vector or "vector" in line else None
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError(f"{path}:{number}: {exc}; nothing was imported") from exc
    return ExportedMemory(record, np.zeros(0, dtype=np.float32), keyword, history), (vector if keep_vector else None)


def _json_object(raw: str, path: Path, number: int) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}:{number}: not valid JSON ({exc.msg}); nothing was imported") from exc
    if not isinstance(value, dict):
        raise ValidationError(f"{path}:{number}: each line must be a JSON object; nothing was imported")
    return value


def _record(item: Any) -> MemoryRecord:
    if not isinstance(item, dict):
        raise ValueError("'memory' must be an object")
    text = _text(item, "memory")
    if not any(isinstance(item.get(key), str) and item[key] for key in ("user_id", "agent_id", "run_id")):
        raise ValueError("the memory has no user_id, agent_id or run_id")
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be an object")
    identity = {key: _optional_text(item, key) for key in (*IDENTITY_KEYS, "role")}
    return MemoryRecord(
        id=_text(item, "id"),
        memory=text,
        hash=item.get("hash") or memory_hash(text),
        created_at=_time(item, "created_at"),
        updated_at=_time(item, "updated_at") if item.get("updated_at") else None,
        metadata=metadata,
        expiration_date=_time(item, "expiration_date") if item.get("expiration_date") else None,
        **identity,
    )


def _history_row(row: Any, memory_id: str) -> HistoryRecord:
    if not isinstance(row, dict):
        raise ValueError("each history row must be an object")
    if row.get("memory_id") != memory_id:
        raise ValueError(f"a history row belongs to memory {row.get('memory_id')!r}, not {memory_id!r}")
    return HistoryRecord(
        id=_text(row, "id"),
        memory_id=memory_id,
        old_memory=_optional_text(row, "old_memory"),
        new_memory=_optional_text(row, "new_memory"),
        event=Event(_text(row, "event")),
        created_at=_time(row, "created_at"),
        updated_at=_time(row, "updated_at") if row.get("updated_at") else None,
        is_deleted=bool(row.get("is_deleted", False)),
        actor_id=_optional_text(row, "actor_id"),
        role=_optional_text(row, "role"),
    )


def _vector(encoded: Any, embedder: Mapping[str, Any]) -> Any:
    if encoded is None:
        return None
    if not isinstance(encoded, str):
        raise ValueError("vector must be base64 text")
    vector = np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4").astype(np.float32)
    if len(vector) != embedder.get("dimension"):
        raise ValueError(f"the vector has {len(vector)} dimensions, the header says {embedder.get('dimension')}")
    return vector


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _optional_text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _time(item: Mapping[str, Any], key: str) -> datetime:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an ISO time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{key} must carry its time zone, got {value!r}")
    return moment


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _progress(enabled: bool, what: str, total: int | None = None) -> Iterator[Any]:
    """A progress bar on stderr (tqdm, from engram[eval], when installed), or nothing."""
    if not enabled:
        yield lambda n: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield lambda n: None
        return
    with tqdm(total=total, unit=" memories", desc=what, file=sys.stderr) as bar:
        yield bar.update
