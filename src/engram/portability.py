"""Export and import: a store's memories as JSON Lines, to back up, move or change backends.

The file is a header line, then one line per memory (in the order the store holds them)::

    {"format": "engram-export", "version": 1, "embedder": {"model": "...", "dimension": 384}, "scope": {...}}
    {"memory": {item}, "keyword_text": "...", "history": [...], "versions": [...], "episodes": [...],
     "entities": [...], "relations": [...], "vector": "<base64 float32, only with vectors=True>"}

``memory`` is the public item (DESIGN.md section 1) with ``expiration_date`` when set, retracted
memories included (``invalid_at`` set); ``keyword_text`` is what the keyword index was built from
(a turn with its neighbours, for memories added with ``infer=False``), so search behaves the same
after a move. ``versions`` are the memory's earlier texts, each ``{"memory": item, "keyword_text",
"vector"?}`` with its own ``valid_from``/``invalid_at``; ``episodes`` are the messages it came from.
With graph memory, ``entities`` (``{"name", "type"}``) are the entities the memory mentions and
``relations`` the relations extracted with it (``{"id", "source", "relationship", "destination",
"valid_from", "invalid_at", "created_at", "memory_ids", "episode_ids"}``, by entity name; a relation
extracted with several memories is on each of their lines and imported once).

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
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from engram.errors import ValidationError
from engram.graph_export import attach_graph, import_graph
from engram.models import Entity, Episode, Event, HistoryRecord, MemoryRecord, Relation, Scope, iso, memory_hash
from engram.pipeline.entities import normalise_name
from engram.search import embed_text, keyword_text
from engram.storage.base import ExportedMemory

if TYPE_CHECKING:
    from engram.memory import Memory

FORMAT = "engram-export"
VERSION = 1
BATCH = 500  # memories per import transaction
NO_VECTOR = np.zeros(0, dtype=np.float32)  # "compute this vector": the file's are from another embedder


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
            batch = attach_graph(memory.store, batch)
            out.write("".join(_line(memory_line(item, vectors)) for item in batch))
            written += len(batch)
            advance(len(batch))
    return written


def memory_line(exported: ExportedMemory, vectors: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "memory": exported.record.to_item(),
        "keyword_text": exported.keyword_text,
        "history": [row.to_dict() for row in exported.history],
        "versions": [_version_line(version, vectors) for version in exported.versions],
        "episodes": [episode.to_dict() for episode in exported.episodes],
        "entities": [{"name": entity.name, "type": entity.type} for entity in exported.entities],
        "relations": [_relation_line(relation) for relation in exported.relations],
    }
    if vectors:
        line["vector"] = _encode(exported.vector)
    return line


def _relation_line(relation: Relation) -> dict[str, Any]:
    return {
        **relation.to_dict(),
        "id": relation.id,
        "created_at": iso(relation.created_at),
        "memory_ids": list(relation.memory_ids),
        "episode_ids": list(relation.episode_ids),
    }


def _version_line(version: ExportedMemory, vectors: bool) -> dict[str, Any]:
    line: dict[str, Any] = {"memory": version.record.to_item(), "keyword_text": version.keyword_text}
    if vectors:
        line["vector"] = _encode(version.vector)
    return line


def _encode(vector: Any) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


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
    memories = _read_memories(path, same_embedder)
    imported, recomputed = write_memories(memory, memories, total=count, progress=progress)
    return ImportReport(count, imported, recomputed)


def write_memories(
    memory: Memory, memories: Iterable[ExportedMemory], *, total: int | None, progress: bool
) -> tuple[int, bool]:
    """Store exported memories in batches of one transaction each. A memory or version whose vector
    is empty (another embedder wrote the file, or it holds no vectors) is embedded first, before the
    transaction opens. Returns how many memories were new, and whether any vector was recomputed."""
    imported = 0
    recomputed = False
    with _progress(progress, "import", total=total) as advance:
        for batch in _batches(memories, BATCH):
            known = set(memory.store.get_memories([item.record.id for item in batch]))
            fresh = [item for item in batch if item.record.id not in known]  # the known ones are not written
            missing = [m for item in fresh for m in (item, *item.versions) if len(m.vector) == 0]
            if missing:
                recomputed = True
                texts = [embed_text(m.record) for m in missing]
                embedded = dict(
                    zip(map(id, missing), memory.embedder.embed_batch(texts, purpose="document"), strict=True)
                )
                fresh = [_with_vectors(item, embedded) for item in fresh]
            with memory.store.transaction():  # the memories and their graph rows, as one
                imported += memory.store.import_memories([*fresh, *(item for item in batch if item.record.id in known)])
                import_graph(memory.store, batch)
            advance(len(batch))
    return imported, recomputed


def _with_vectors(item: ExportedMemory, embedded: Mapping[int, Any]) -> ExportedMemory:
    """``item`` with the vectors computed for it (and its versions) filled in, by object identity."""
    versions = [replace(v, vector=embedded.get(id(v), v.vector)) for v in item.versions]
    return replace(item, vector=embedded.get(id(item), item.vector), versions=versions)


def _check_file(path: Path) -> tuple[dict[str, Any], int]:
    """The header and the number of memories, having parsed every line (or a ValidationError
    naming the first bad one)."""
    header: dict[str, Any] | None = None
    count = 0
    seen: dict[str, int] = {}  # memory id -> its line: one line per memory
    for number, raw in _lines(path):
        if header is None:
            header = _header(raw, path, number)
            continue
        memory_id = _parse_memory(raw, path, number, header["embedder"], keep_vector=False).record.id
        if memory_id in seen:
            raise ValidationError(
                f"{path}:{number}: memory {memory_id} is already on line {seen[memory_id]}; nothing was imported"
            )
        seen[memory_id] = number
        count += 1
    if header is None:
        raise ValidationError(f"{path} is empty: an engram export starts with a header line")
    return header, count


def _read_memories(path: Path, use_vectors: bool) -> Iterator[ExportedMemory]:
    """Each memory line (with empty vectors unless ``use_vectors``); the file was checked already."""
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
) -> ExportedMemory:
    line = _json_object(raw, path, number)
    try:
        record = _record(line.get("memory"))
        history = [_history_row(row, record.id) for row in _list(line.get("history", []), "history")]
        versions = [
            _version(item, record, embedder, keep_vector) for item in _list(line.get("versions", []), "versions")
        ]
        episodes = [_episode(item) for item in _list(line.get("episodes", []), "episodes")]
        entities = [_entity(item, record) for item in _list(line.get("entities", []), "entities")]
        relations = [_relation(item, record) for item in _list(line.get("relations", []), "relations")]
        vector = _vector(line.get("vector"), embedder)  # checked even when it will not be used
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError(f"{path}:{number}: {exc}; nothing was imported") from exc
    return ExportedMemory(
        record,
        vector if keep_vector and vector is not None else NO_VECTOR,
        _keyword_text(line, record),
        history,
        versions,
        episodes,
        entities,
        relations,
    )


def _version(item: Any, memory: MemoryRecord, embedder: Mapping[str, Any], keep_vector: bool) -> ExportedMemory:
    if not isinstance(item, dict):
        raise ValueError("each version must be an object")
    record = _record(item.get("memory"))
    if record.id != memory.id or record.invalid_at is None:
        raise ValueError("a version must carry its memory's id and the time it stopped being valid (invalid_at)")
    vector = _vector(item.get("vector"), embedder)
    return ExportedMemory(
        record, vector if keep_vector and vector is not None else NO_VECTOR, _keyword_text(item, record), []
    )


def _keyword_text(line: Mapping[str, Any], record: MemoryRecord) -> str:
    text = line.get("keyword_text") or keyword_text(record)
    if not isinstance(text, str):
        raise ValueError("keyword_text must be a string")
    return text


def _episode(item: Any) -> Episode:
    if not isinstance(item, dict):
        raise ValueError("each episode must be an object")
    position = item.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int):
        raise ValueError("an episode's position must be an integer")
    return Episode(
        id=_text(item, "id"),
        role=_text(item, "role"),
        content=_optional_text(item, "content") or "",
        created_at=_time(item, "created_at"),
        position=position,
        name=_optional_text(item, "name"),
        user_id=_optional_text(item, "user_id"),
        agent_id=_optional_text(item, "agent_id"),
        run_id=_optional_text(item, "run_id"),
        actor_id=_optional_text(item, "actor_id"),
    )


def _entity(item: Any, memory: MemoryRecord) -> Entity:
    if not isinstance(item, dict):
        raise ValueError("each entity must be an object")
    name = _text(item, "name")
    return Entity(
        "", name, normalise_name(name), memory.scope.owner_only(), memory.created_at, _optional_text(item, "type")
    )


def _relation(item: Any, memory: MemoryRecord) -> Relation:
    """A relation by its entities' names (``source_id`` and ``destination_id`` are found at import)."""
    if not isinstance(item, dict):
        raise ValueError("each relation must be an object")
    return Relation(
        id=_text(item, "id"),
        source_id="",
        relationship=_text(item, "relationship"),
        destination_id="",
        owner=memory.scope.owner_only(),
        valid_from=_time(item, "valid_from"),
        created_at=_time(item, "created_at"),
        invalid_at=_optional_time(item, "invalid_at"),
        memory_ids=tuple(str(m) for m in _list(item.get("memory_ids", []), "memory_ids")),
        episode_ids=tuple(str(e) for e in _list(item.get("episode_ids", []), "episode_ids")),
        source=_text(item, "source"),
        destination=_text(item, "destination"),
    )


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
    return MemoryRecord(
        id=_text(item, "id"),
        memory=text,
        hash=item.get("hash") or memory_hash(text),
        created_at=_time(item, "created_at"),
        updated_at=_optional_time(item, "updated_at"),
        metadata=metadata,
        user_id=_optional_text(item, "user_id"),
        agent_id=_optional_text(item, "agent_id"),
        run_id=_optional_text(item, "run_id"),
        actor_id=_optional_text(item, "actor_id"),
        role=_optional_text(item, "role"),
        expiration_date=_optional_time(item, "expiration_date"),
        valid_from=_optional_time(item, "valid_from"),
        invalid_at=_optional_time(item, "invalid_at"),
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
        updated_at=_optional_time(row, "updated_at"),
        is_deleted=bool(row.get("is_deleted", False)),
        actor_id=_optional_text(row, "actor_id"),
        role=_optional_text(row, "role"),
        user_id=_optional_text(row, "user_id"),
        agent_id=_optional_text(row, "agent_id"),
        run_id=_optional_text(row, "run_id"),
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


def _optional_time(item: Mapping[str, Any], key: str) -> datetime | None:
    return _time(item, key) if item.get(key) is not None else None


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
