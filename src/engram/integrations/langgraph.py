"""LangGraph: engram as a ``BaseStore`` (``pip install 'engramdb[langgraph]'``).

    from engram import Memory
    from engram.integrations.langgraph import EngramStore

    store = EngramStore(Memory(), user_at=1)      # namespaces look like ("memories", user_id)
    graph = builder.compile(store=store)          # nodes use store.put / store.search as usual

How LangGraph's items map onto engram:

- An item is a memory. Its text is what is embedded and keyword-indexed: the string fields of the
  value (or the fields a put's ``index`` names); the value itself, the namespace and the key ride in
  the memory's metadata, so ``get`` returns exactly what was put.
- The scope comes from the namespace, explicitly: ``user_at`` is the position of the user id in a
  namespace (``("memories", "alice")`` with ``user_at=1`` is user ``alice``), and every item of the
  store belongs to the agent ``agent_id`` (default ``"langgraph"``). A namespace too short to hold
  the user (a prefix search over every user) reads the agent's scope, as LangGraph asks.
- With ``infer=False`` (the default) each key is a run of its own (``run_id`` = the namespace path
  and the key), so two keys holding the same text stay two items; a put on an existing key is an
  ``update`` (history keeps the old value). With ``infer=True`` a put hands the value's text to
  engram's LLM, which keeps the facts in it, reconciled against the namespace's other facts: each
  fact is an item whose key is its memory id and whose value is ``{"content": fact}``.
- ``search`` ranks with engram (vector + keywords, fused) and returns engram's scores; items carry
  engram's ``created_at`` / ``updated_at``. Filters take LangGraph's ``$eq $ne $gt $gte $lt $lte``
  on the value's top-level fields.
- ``ttl`` (minutes) becomes the memory's expiration, counted from the first put; reads do not
  refresh it, and the store-level ``index`` config (LangGraph's own embeddings) is not used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from engram.integrations._engram import AGENT_FIXABLE, AnyMemory, EngramHandle, Steps, missing_extra, scope_ids, verb
from engram.models import utcnow

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        validate_op_namespace,
    )
    from langgraph.store.base.embed import get_text_at_path
except ImportError as exc:  # pragma: no cover - exercised by the import-guard test in a clean process
    raise missing_extra("langgraph", "langgraph") from exc

DEFAULT_AGENT_ID = "langgraph"
META = "langgraph."  # the prefix of every metadata key this store writes
NAMESPACE, KEY, VALUE, DEPTH = META + "namespace", META + "key", META + "value", META + "depth"
LEVEL, FIELD = META + "ns.", META + "field."  # one key per namespace level; filterable value fields
PAGE = 1_000  # memories read per page when listing namespaces
MAX_READ = 10_000  # engram's largest limit: a search reads at most this far (offset + limit)
OPERATORS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


@dataclass(frozen=True)
class NamespaceScope:
    """Which engram scope a namespace belongs to."""

    user_at: int | None
    agent_id: str

    def of(self, namespace: tuple[str, ...]) -> dict[str, str]:
        user = namespace[self.user_at] if self.user_at is not None and len(namespace) > self.user_at else None
        return scope_ids(user_id=user, agent_id=self.agent_id)


def _path(namespace: tuple[str, ...]) -> str:
    return "/".join(namespace)


def _namespace_filter(namespace: tuple[str, ...], *, exact: bool) -> dict[str, Any]:
    """Metadata equalities that select a namespace (``exact``) or everything under a prefix."""
    levels: dict[str, Any] = {f"{LEVEL}{i}": label for i, label in enumerate(namespace)}
    return {**levels, DEPTH: len(namespace)} if exact else levels


def _value_filter(condition: Mapping[str, Any] | None) -> dict[str, Any]:
    """LangGraph's filter on value fields as an engram filter on their metadata copies."""
    translated: dict[str, Any] = {}
    for field, wanted in (condition or {}).items():
        if isinstance(wanted, Mapping) and wanted and all(op in OPERATORS for op in wanted):
            translated[FIELD + field] = {OPERATORS[op]: operand for op, operand in wanted.items()}
        else:
            translated[FIELD + field] = wanted
    return translated


def _indexed_text(value: Mapping[str, Any], index: list[str] | None) -> str:
    """What engram embeds and keyword-indexes for a value: the named fields, else its string fields."""
    if index:
        parts = [text for path in index for text in get_text_at_path(value, path)]
    else:
        parts = list(_strings_in(value))
    return "\n".join(part for part in parts if part.strip()) or json.dumps(value, sort_keys=True, ensure_ascii=False)


def _strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings_in(item)


def _metadata(namespace: tuple[str, ...], key: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {NAMESPACE: list(namespace), KEY: key, **_namespace_filter(namespace, exact=True)}
    if value is not None:
        meta[VALUE] = dict(value)
        scalars = {f: v for f, v in value.items() if isinstance(v, str | int | float | bool) or v is None}
        meta.update({FIELD + f: v for f, v in scalars.items()})
    return meta


def _matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = condition.path
    if len(path) > len(namespace):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(want in ("*", got) for want, got in zip(path, labels, strict=True))


class EngramStore(BaseStore):
    """A LangGraph ``BaseStore`` on engram (embedded ``Memory`` / ``AsyncMemory``, or a client)."""

    supports_ttl = True

    def __init__(
        self,
        memory: AnyMemory,
        *,
        user_at: int | None = None,
        agent_id: str = DEFAULT_AGENT_ID,
        infer: bool = False,
    ) -> None:
        self.engram = EngramHandle(memory)
        self.scopes = NamespaceScope(user_at, agent_id)
        self.infer = infer

    # -- BaseStore --------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return [self.engram.run(self._steps(op)) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        # In order, one after the other: a batch may put a key and then get it.
        return [await self.engram.arun(self._steps(op)) for op in ops]

    # -- one op each --------------------------------------------------------------------------

    def _steps(self, op: Op) -> Steps[Result]:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            return self._get(op)
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, PutOp):
            return self._put(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise TypeError(f"unknown LangGraph store operation: {type(op).__name__}")

    def _item_run(self, namespace: tuple[str, ...], key: str) -> dict[str, str]:
        """infer=False: the scope of one item (a run of its own, so equal texts stay distinct)."""
        return {**self.scopes.of(namespace), "run_id": f"{_path(namespace)}#{key}"}

    def _find(self, namespace: tuple[str, ...], key: str) -> Steps[dict[str, Any] | None]:
        """The engram item behind a LangGraph key, or None."""
        if self.infer:  # a fact's key is its memory id
            found = yield verb("get", key)
            if found is None or found.get("invalid_at") or found["metadata"].get(NAMESPACE) != list(namespace):
                return None
            return dict(found)
        where = {**_namespace_filter(namespace, exact=True), KEY: key}
        page = yield verb("get_all", **self._item_run(namespace, key), filters=where, limit=1)
        results = page["results"]
        return dict(results[0]) if results else None

    def _get(self, op: GetOp) -> Steps[Result]:
        found = yield from self._find(op.namespace, op.key)
        return self._item(found) if found else None

    def _put(self, op: PutOp) -> Steps[Result]:
        existing = yield from self._find(op.namespace, op.key)
        if op.value is None:
            if existing:
                yield verb("delete", existing["id"])
            return None
        text = _indexed_text(op.value, op.index or None)
        metadata = _metadata(op.namespace, op.key, op.value)
        if existing and not self.infer:
            yield verb("update", existing["id"], text, metadata)
            return None
        expires = (utcnow() + timedelta(minutes=op.ttl)).isoformat() if op.ttl is not None else None
        if self.infer:
            scope = {**self.scopes.of(op.namespace), "run_id": _path(op.namespace)}
        else:
            scope = self._item_run(op.namespace, op.key)
        yield verb("add", text, **scope, metadata=metadata, infer=self.infer, expiration_date=expires)
        return None

    def _search(self, op: SearchOp) -> Steps[Result]:
        scope = self.scopes.of(op.namespace_prefix)
        filters = {**_namespace_filter(op.namespace_prefix, exact=False), **_value_filter(op.filter)}
        wanted = min(op.offset + op.limit, MAX_READ)
        if op.query:
            found = yield verb("search", op.query, **scope, filters=filters or None, limit=wanted)
        else:
            found = yield verb("get_all", **scope, filters=filters or None, limit=wanted)
        ours = [item for item in found["results"] if NAMESPACE in item["metadata"]]
        return [self._search_item(item) for item in ours[op.offset : op.offset + op.limit]]

    def _list_namespaces(self, op: ListNamespacesOp) -> Steps[Result]:
        namespaces: set[tuple[str, ...]] = set()
        offset = 0
        while True:
            page = yield verb("browse", agent_id=self.scopes.agent_id, limit=PAGE, offset=offset)
            for item in page["results"]:
                namespace = tuple(item["metadata"].get(NAMESPACE) or ())
                if namespace and all(_matches(namespace, c) for c in op.match_conditions or ()):
                    namespaces.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
            offset += PAGE
            if offset >= page["total"]:
                break
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    # -- engram items as LangGraph items ------------------------------------------------------------

    def _fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        meta = item["metadata"]
        if self.infer:
            key, value = str(item["id"]), {"content": item["memory"]}
        else:
            key, value = str(meta[KEY]), dict(meta.get(VALUE) or {})
        return {
            "namespace": tuple(meta[NAMESPACE]),
            "key": key,
            "value": value,
            "created_at": item["created_at"],
            "updated_at": item["updated_at"] or item["created_at"],
        }

    def _item(self, item: Mapping[str, Any]) -> Item:
        return Item(**self._fields(item))

    def _search_item(self, item: Mapping[str, Any]) -> SearchItem:
        return SearchItem(**self._fields(item), score=item.get("score"))


__all__ = ["AGENT_FIXABLE", "DEFAULT_AGENT_ID", "EngramStore", "NamespaceScope"]
