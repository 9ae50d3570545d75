"""Export and import: a store's memories as JSON Lines, to back up, move or change backends.

Every function takes the store and the embedder it works with (never a ``Memory``)::

    export_file(store, embedder, "alice.jsonl", Scope(user_id="alice"))  # {"memories": 12, "path": ...}
    import_file(store, embedder, Path("alice.jsonl"))                   # ImportReport(12, 12, True)

The file is a header line, then one line per memory (in the order the store holds them), then one
line per deleted memory whose history the store keeps::

    {"format": "engram-export", "version": 2, "embedder": {"model": "...", "dimension": 384}, "scope": {...}}
    {"memory": {item}, "keyword_text": "...", "history": [...], "versions": [...], "episodes": [...],
     "entities": [...], "relations": [...], "vector": "<base64 float32, only with vectors=True>"}
    {"deleted_memory_id": "...", "history": [...]}

``memory`` is the public item (docs/architecture.md section 1) with ``expiration_date`` when set,
retracted memories included (``invalid_at`` set); ``keyword_text`` is what the keyword index was
built from (a turn with its neighbours, for memories added with ``infer=False``), so search behaves
the same after a move. ``versions`` are the memory's earlier texts, each ``{"memory": item,
"keyword_text", "vector"?}`` with its own ``valid_from``/``invalid_at``; ``episodes`` are the
messages it came from. With graph memory, ``entities`` (``{"name", "type"}``) are the entities the
memory mentions and ``relations`` the relations extracted with it (``{"id", "source",
"relationship", "destination", "valid_from", "invalid_at", "created_at", "memory_ids",
"episode_ids"}``, by entity name; a relation extracted with several memories is on each of their
lines and imported once). A ``deleted_memory_id`` line carries the audit trail of a memory the user
deleted (its ADD, UPDATE and DELETE rows, as tombstones without text), which has no memory line.
Version 1 files (written before those lines existed) are read too.

Import is idempotent (a memory or history row whose id the store already holds is left alone). It
reads the whole file once first and checks every value against what any store accepts (no NUL, no
lone surrogate, no NaN or Infinity, times with a zone, ...): a bad line is refused with its number
before anything is written. It then writes in batches, each in one transaction, so no memory is ever
half-imported; should the store itself fail midway, the error says how far the import got, and
running it again finishes the job. Vectors are taken from the file only when it was written by the
same embedder; otherwise they are recomputed.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from engram.embedders.base import Embedder
from engram.errors import ProviderError, StorageError, ValidationError
from engram.graph_export import attach_graph, import_graph
from engram.models import Entity, Episode, Event, HistoryRecord, MemoryRecord, Relation, Scope, iso, memory_hash
from engram.pipeline.entities import normalise_name
from engram.privacy.sources import Source, ordered_sources
from engram.search import embed_text, keyword_text
from engram.storage.base import ExportedMemory, Store
from engram.storage.filters import check_metadata_key
from engram.validation import check_text, check_value, strict_json

FORMAT = "engram-export"
VERSION = 2  # 2: deleted memories' history lines
READABLE_VERSIONS = (1, 2)
BATCH = 500  # memories per import transaction
NO_VECTOR = np.zeros(0, dtype=np.float32)  # "compute this vector": the file's are from another embedder
MAX_POSITION = 2**31 - 1  # an episode's position is a 32-bit integer in PostgreSQL


@dataclass(frozen=True)
class ImportReport:
    memories: int  # memories in the file
    imported: int  # of which were new to the store
    recomputed_vectors: bool

    def as_dict(self) -> dict[str, Any]:
        return {"memories": self.memories, "imported": self.imported, "recomputed_vectors": self.recomputed_vectors}


@dataclass(frozen=True)
class DeletedHistory:
    """The history a store keeps of a memory the user deleted: its ADD, UPDATEs and DELETE."""

    memory_id: str
    history: list[HistoryRecord]


@runtime_checkable
class KeepsDeletedHistory(Protocol):
    """A store that can list the history of deleted memories (``Store.deleted_history``, new in
    export format 2). A store without it exports the memories it holds, with their history."""

    def deleted_history(self, scope: Scope | None) -> Iterator[list[HistoryRecord]]:
        """History rows of a scope (or of the store) whose memory is gone, in batches: each memory's
        rows together and oldest first, memories in the order their first row was written."""
        ...


# -- export ----------------------------------------------------------------------------------


def export_file(
    store: Store,
    embedder: Embedder,
    path: str | Path,
    scope: Scope | None,
    *,
    vectors: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write an export to ``path`` (``"-"``: stdout). The file appears whole or not at all: it is
    written beside the target as ``<name>.partial``, which is removed if anything fails."""
    if isinstance(path, str) and path == "-":
        return {"memories": write_export(store, embedder, sys.stdout, scope, vectors=vectors), "path": "-"}
    target = check_export_target(file_path(path))
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            count = write_export(store, embedder, out, scope, vectors=vectors, progress=progress)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ValidationError(f"cannot write the export {path}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {"memories": count, "path": str(path)}


def file_path(path: Any) -> Path:
    """``path`` (a string or a path) as a Path; anything else is a ValidationError."""
    if not isinstance(path, str | PathLike):
        raise ValidationError(f"path must be a file path (a string or a Path), got {type(path).__name__}")
    return Path(path)


def check_export_target(path: Path) -> Path:
    """The file an export may replace (``~`` expanded); a folder, a file in a missing folder, or a
    name the system refuses (too long) is refused before anything is read or written."""
    target = path.expanduser()
    try:
        is_folder, in_folder = target.is_dir(), target.parent.is_dir()
    except OSError as exc:  # a name too long, among others: is_dir raises what it does not read as "no"
        raise ValidationError(f"cannot export to {path}: {exc.strerror or exc}") from exc
    if is_folder:
        raise ValidationError(f"cannot export to {path}: it is a folder; give a file, e.g. {path / 'export.jsonl'}")
    if not in_folder:
        raise ValidationError(f"cannot export to {path}: the folder {target.parent} does not exist")
    return target


def write_export(
    store: Store,
    embedder: Embedder,
    out: IO[str],
    scope: Scope | None,
    *,
    vectors: bool = False,
    progress: bool = False,
) -> int:
    """Write the memories of ``scope`` (or of the whole store) to ``out``, then the history of its
    deleted memories; returns how many memories."""
    scope = _checked_scope(scope)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "embedder": {"model": embedder.model_name, "dimension": embedder.dimension},
        "scope": scope.as_dict() if scope else {},
    }
    out.write(_line(header))
    written = 0
    with _progress(progress, "export") as advance:
        for batch in store.export_memories(scope):
            batch = attach_graph(store, batch)
            out.write("".join(_line(memory_line(item, vectors)) for item in batch))
            written += len(batch)
            advance(len(batch))
    for deleted in _deleted_history(store, scope):
        out.write(_line({"deleted_memory_id": deleted.memory_id, "history": [r.to_dict() for r in deleted.history]}))
    return written


def _checked_scope(scope: Scope | None) -> Scope | None:
    """No scope for an empty one; a scope id no store can hold is a ValidationError, not a driver's."""
    if scope is None or not scope.as_dict():
        return None
    for key, value in scope.as_dict().items():
        check_text(value, key)
    return scope


def _deleted_history(store: Store, scope: Scope | None) -> Iterator[DeletedHistory]:
    """Each deleted memory's history, grouped by memory (the store lists a memory's rows together)."""
    if not isinstance(store, KeepsDeletedHistory):
        return
    current: DeletedHistory | None = None
    for batch in store.deleted_history(scope):
        for row in batch:
            if current is None or row.memory_id != current.memory_id:
                if current is not None:
                    yield current
                current = DeletedHistory(row.memory_id, [])
            current.history.append(row)
    if current is not None:
        yield current


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


def import_file(store: Store, embedder: Embedder, path: str | Path, *, progress: bool = False) -> ImportReport:
    """Load an export into ``store``. Checks the whole file first: nothing is written when any line
    is malformed or holds a value some store would refuse."""
    path = file_path(path)
    header, count = _check_file(path)
    written = header["embedder"]
    same_embedder = written.get("model") == embedder.model_name and written.get("dimension") == embedder.dimension
    memories = (entry for entry in _read_entries(path, same_embedder) if isinstance(entry, ExportedMemory))
    imported, recomputed = write_memories(store, embedder, memories, total=count, progress=progress)
    deleted = (entry for entry in _read_entries(path, False) if isinstance(entry, DeletedHistory))
    with _resumable(f"all {count} memories were imported"):
        write_deleted_history(store, deleted)
    return ImportReport(count, imported, recomputed)


def write_memories(
    store: Store, embedder: Embedder, memories: Iterable[ExportedMemory], *, total: int | None, progress: bool
) -> tuple[int, bool]:
    """Store exported memories (already checked: ``check_exported``) in batches of one transaction
    each. A memory or version whose vector is empty (another embedder wrote the file, or it holds no
    vectors) is embedded first, before the transaction opens. Returns how many memories were new,
    and whether any vector was recomputed. A failure of the store or the embedder says how far the
    import got: running it again finishes it."""
    imported = done = 0
    recomputed = False
    with _progress(progress, "import", total=total) as advance:
        for batch in _batches(memories, BATCH):
            with _resumable(f"{done} of {total if total is not None else 'the'} memories were imported"):
                fresh, embedded = _embed_missing(store, embedder, batch)
                with store.transaction():  # the memories and their graph rows, as one
                    imported += store.import_memories(fresh + _known(batch, fresh))
                    import_graph(store, batch)
            recomputed = recomputed or embedded
            done += len(batch)
            advance(len(batch))
    return imported, recomputed


def _embed_missing(store: Store, embedder: Embedder, batch: list[ExportedMemory]) -> tuple[list[ExportedMemory], bool]:
    """The batch's memories the store does not hold yet, with every empty vector computed."""
    known = set(store.get_memories([item.record.id for item in batch]))
    fresh = [item for item in batch if item.record.id not in known]
    missing = [m for item in fresh for m in (item, *item.versions) if len(m.vector) == 0]
    if not missing:
        return fresh, False
    vectors = embedder.embed_batch([embed_text(m.record) for m in missing], purpose="document")
    embedded = dict(zip(map(id, missing), vectors, strict=True))
    return [_with_vectors(item, embedded) for item in fresh], True


def _known(batch: list[ExportedMemory], fresh: list[ExportedMemory]) -> list[ExportedMemory]:
    """The batch's memories the store holds already: not written again, but their history rows and
    episodes the store lacks are (an interrupted import finishes)."""
    new = {item.record.id for item in fresh}
    return [item for item in batch if item.record.id not in new]


def write_deleted_history(store: Store, deleted: Iterable[DeletedHistory]) -> int:
    """Store the history of deleted memories, in one transaction, as tombstones (a deleted memory's
    history keeps no text, even from a file exported before that rule); rows the store holds are left
    alone. Returns how many rows were new."""
    rows: list[HistoryRecord] = []
    for item in deleted:
        held = {row.id for row in store.history(item.memory_id)}
        rows += [row.tombstone() for row in item.history if row.id not in held]
    if rows:
        with store.transaction():
            store.add_history(rows)
    return len(rows)


@contextmanager
def _resumable(so_far: str) -> Iterator[None]:
    """A failure of the store or the embedder inside, saying how far the import got."""
    again = f"{so_far} before this failure; run the same import again to finish (what is there is skipped)"
    try:
        yield
    except StorageError as exc:
        raise StorageError(f"{exc}; {again}") from exc
    except ProviderError as exc:
        raise ProviderError(
            f"{exc.args[0]}; {again}",
            provider=exc.provider,
            model=exc.model,
            status_code=exc.status_code,
            retryable=exc.retryable,
        ) from exc


def _with_vectors(item: ExportedMemory, embedded: Mapping[int, Any]) -> ExportedMemory:
    """``item`` with the vectors computed for it (and its versions) filled in, by object identity."""
    versions = [replace(v, vector=embedded.get(id(v), v.vector)) for v in item.versions]
    return replace(item, vector=embedded.get(id(item), item.vector), versions=versions)


# -- what every store accepts ----------------------------------------------------------------


def check_exported(item: ExportedMemory) -> None:
    """Raise ValueError when ``item`` holds a value that some store would refuse, so that an import
    fails before writing anything rather than halfway: the same rules as ``add`` (no NUL, no lone
    surrogate, no NaN or Infinity anywhere, metadata keys a JSON path can hold), finite vectors,
    positions PostgreSQL can store, relations whose entity names are not empty once normalised."""
    line = memory_line(item, vectors=False)
    for key, value in line.items():
        check_value(value, f"{key!r}")
    _check_numbers(line)
    _check_shapes(item)


def _check_shapes(item: ExportedMemory) -> None:
    """What ``check_exported`` checks beyond strings and numbers (a file's lines had those checked
    as they were read)."""
    for record in (item.record, *(version.record for version in item.versions)):
        for key in record.metadata:
            check_metadata_key(key)
    for vector in (item.vector, *(version.vector for version in item.versions)):
        if not np.all(np.isfinite(vector)):
            raise ValueError("a vector holds NaN or Infinity")
    for episode in item.episodes:
        if not 0 <= episode.position <= MAX_POSITION:
            raise ValueError(f"an episode's position must be from 0 to {MAX_POSITION}, got {episode.position}")
    for relation in item.relations:
        if not normalise_name(relation.source) or not normalise_name(relation.destination):
            raise ValueError(f"relation {relation.id} names an entity with no letters or digits")


def _check_numbers(value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError("NaN and Infinity are not JSON: no store could filter on them") from exc


# -- reading a file --------------------------------------------------------------------------


def _check_file(path: Path) -> tuple[dict[str, Any], int]:
    """The header and the number of memories, having parsed and checked every line (or a
    ValidationError naming the first bad one)."""
    header: dict[str, Any] | None = None
    count = 0
    memory_lines: dict[str, int] = {}  # memory id -> its line: one line per memory, deleted or not
    history_lines: dict[str, int] = {}  # history row id -> its line
    for number, raw in _lines(path):
        if header is None:
            header = _header(raw, path, number)
            continue
        entry = _parse_entry(raw, path, number, header["embedder"], keep_vector=False)
        memory_id = entry.record.id if isinstance(entry, ExportedMemory) else entry.memory_id
        if memory_id in memory_lines:
            raise ValidationError(
                f"{path}:{number}: memory {memory_id} is already on line {memory_lines[memory_id]}; "
                "nothing was imported"
            )
        memory_lines[memory_id] = number
        for row in entry.history:
            if row.id in history_lines:
                raise ValidationError(
                    f"{path}:{number}: history row {row.id} is already on line {history_lines[row.id]}; "
                    "nothing was imported"
                )
            history_lines[row.id] = number
        count += isinstance(entry, ExportedMemory)
    if header is None:
        raise ValidationError(f"{path} is empty: an engram export starts with a header line")
    return header, count


def _read_entries(path: Path, use_vectors: bool) -> Iterator[ExportedMemory | DeletedHistory]:
    """Each line after the header (memories with empty vectors unless ``use_vectors``); the file
    was checked already."""
    header: dict[str, Any] | None = None
    for number, raw in _lines(path):
        if header is None:
            header = _header(raw, path, number)
            continue
        yield _parse_entry(raw, path, number, header["embedder"], keep_vector=use_vectors, check=False)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's non-blank lines with their numbers; a line that is not UTF-8 is a ValidationError."""
    try:
        handle = path.expanduser().open("rb")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, data in enumerate(handle, start=1):
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    f"{path}:{number}: not UTF-8 text (byte {data[exc.start]:#04x} at column {exc.start + 1}); "
                    "nothing was imported"
                ) from exc
            if raw.strip():
                yield number, raw


def _header(raw: str, path: Path, number: int) -> dict[str, Any]:
    header = _json_object(raw, path, number)
    if header.get("format") != FORMAT:
        raise ValidationError(f"{path}:{number}: not an engram export (the first line must be its header)")
    if header.get("version") not in READABLE_VERSIONS:
        raise ValidationError(
            f"{path}:{number}: export format version {header.get('version')!r}; this engram reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    embedder = header.get("embedder")
    if not isinstance(embedder, dict):
        raise ValidationError(f"{path}:{number}: the header has no embedder")
    return header


def _parse_entry(
    raw: str, path: Path, number: int, embedder: Mapping[str, Any], *, keep_vector: bool, check: bool = True
) -> ExportedMemory | DeletedHistory:
    """One line after the header, parsed and (with ``check``, as the first pass over a file does)
    held to what every store accepts."""
    line = _json_object(raw, path, number)
    try:
        if check:  # every string first (a lone surrogate would fail in the hash, unnamed); NaN is not parsed
            for key, value in line.items():
                check_value(value, f"{key!r}")
        if "deleted_memory_id" in line:
            return _deleted(line)
        item = _memory(line, embedder, keep_vector)
        if check:
            _check_shapes(item)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError(f"{path}:{number}: {exc}; nothing was imported") from exc
    return item


def _memory(line: Mapping[str, Any], embedder: Mapping[str, Any], keep_vector: bool) -> ExportedMemory:
    record = _record(line.get("memory"))
    history = [_history_row(row, record.id) for row in _list(line.get("history", []), "history")]
    versions = [_version(item, record, embedder, keep_vector) for item in _list(line.get("versions", []), "versions")]
    episodes = [_episode(item) for item in _list(line.get("episodes", []), "episodes")]
    entities = [_entity(item, record) for item in _list(line.get("entities", []), "entities")]
    relations = [_relation(item, record) for item in _list(line.get("relations", []), "relations")]
    vector = _vector(line.get("vector"), embedder)  # checked even when it will not be used
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


def _deleted(line: Mapping[str, Any]) -> DeletedHistory:
    memory_id = _text(line, "deleted_memory_id")
    history = [_history_row(row, memory_id) for row in _list(line.get("history", []), "history")]
    return DeletedHistory(memory_id, history)


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
    text = line.get("keyword_text")
    if text is None:
        return keyword_text(record)
    if not isinstance(text, str):
        raise ValueError("keyword_text must be a string")
    return text or keyword_text(record)


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
        memory_ids=tuple(_texts(item, "memory_ids")),
        episode_ids=tuple(_texts(item, "episode_ids")),
        source=_text(item, "source"),
        destination=_text(item, "destination"),
    )


def _json_object(raw: str, path: Path, number: int) -> dict[str, Any]:
    try:
        value = strict_json(raw)
    except ValueError as exc:  # JSONDecodeError, and an integer of more digits than Python converts
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ValidationError(f"{path}:{number}: not valid JSON ({reason}); nothing was imported") from exc
    except RecursionError:
        raise ValidationError(f"{path}:{number}: nested too deeply to be read; nothing was imported") from None
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
        hash=_optional_text(item, "hash") or memory_hash(text),
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
        sources=_sources(item),
    )


def _sources(item: Mapping[str, Any]) -> tuple[str, ...]:
    """A memory's ``sources``: known source names only (a file written by an older engram has none)."""
    names = _texts(item, "sources")
    if unknown := [name for name in names if name not in {source.value for source in Source}]:
        raise ValueError(f"unknown sources {unknown}: use user, assistant, tool or document")
    return ordered_sources(Source(name) for name in names)


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
    if not np.all(np.isfinite(vector)):
        raise ValueError("the vector holds NaN or Infinity")  # pgvector refuses them
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


def _texts(item: Mapping[str, Any], key: str) -> list[str]:
    values = _list(item.get(key, []), key)
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"{key} must be a list of strings")
    return values


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
    try:
        return moment.astimezone(UTC)  # stores keep UTC: a time that has none (year 1 at +14:00) is refused here
    except OverflowError as exc:
        raise ValueError(f"{key} {value!r} is out of range in UTC") from exc


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


# -- compatibility: memory.py's call sites, until they call export_file / import_file ----------


__all__ = [
    "DeletedHistory",
    "ImportReport",
    "KeepsDeletedHistory",
    "check_export_target",
    "check_exported",
    "export_file",
    "file_path",
    "import_file",
    "write_deleted_history",
    "write_export",
    "write_memories",
]
