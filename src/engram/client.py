"""``MemoryClient`` and ``AsyncMemoryClient``: the verbs of ``Memory``, over an engram server.

    from engram import MemoryClient
    client = MemoryClient("ek_...", host="http://127.0.0.1:8000")
    client.add("I'm vegetarian", user_id="alice", infer=False)
    client.search("what does alice eat?", user_id="alice")

Same verbs, arguments and results as ``Memory``; the server's errors come back
as the same exception classes (``ValidationError``, ``NotFoundError``, ...).

How it is built (as httpx does it): ``_BaseClient`` makes every decision. Each
verb is a method that turns the arguments into a ``_Call`` (method, path, body,
whether a retry is safe, how to read the answer). ``MemoryClient`` and
``AsyncMemoryClient`` only move the bytes and retry; their verbs are generated
from the builders, so the two can never drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar
from urllib.parse import quote

import httpx

from engram.errors import (
    ConfigError,
    EngramError,
    NotFoundError,
    ProviderError,
    StorageError,
    ValidationError,
)
from engram.resilience import RetryPolicy, retry_after_seconds
from engram.results import (
    AddResult,
    EpisodeItem,
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

DEFAULT_HOST = "http://127.0.0.1:8000"
HOST_ENV = "ENGRAM_HOST"
API_KEY_ENV = "ENGRAM_API_KEY"
DEFAULT_TIMEOUT = 30.0  # seconds; an add with an LLM takes a few
DEFAULT_MAX_RETRIES = 2
DEFAULT_BACKOFF_S = 0.25  # first retry after ~0.25 s, then 0.5 s, 1 s, ... (with jitter)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF_S = 8.0


class APIError(EngramError):
    """The server answered an error that no engram class describes (401, 403, 413, 5xx...)."""

    def __init__(self, message: str, *, status_code: int, code: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code

    def __str__(self) -> str:
        return f"HTTP {self.status_code} {self.code}: {self.args[0]}"


class APIConnectionError(APIError):
    """No answer came back: the connection failed, dropped or timed out (``status_code`` is 0).

    The original ``httpx`` exception is the ``__cause__``. A write that failed this way may or may
    not have been applied; ``add`` with ``infer=False`` is safe to send again (it stores a text once).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=0, code="connection_error")

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


# Failures that happen before the request is written: retrying them can never apply a write twice.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


ERROR_CLASSES: dict[str, type[EngramError]] = {
    "validation_error": ValidationError,
    "invalid_request": ValidationError,
    "config_error": ConfigError,
    "not_found": NotFoundError,
    "storage_error": StorageError,
}


def error_from(response: httpx.Response) -> EngramError:
    """The engram exception a server error answer stands for."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = f"http_{response.status_code}", response.text[:500] or response.reason_phrase
    if code == "provider_error":
        return ProviderError(message, provider="engram-server", status_code=response.status_code)
    if cls := ERROR_CLASSES.get(code):
        return cls(message)
    return APIError(message, status_code=response.status_code, code=code)


# -- reading answers --------------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    if response.is_error:
        raise error_from(response)
    return response.json()


def _item_or_none(response: httpx.Response) -> Any:
    """``get``: like ``Memory.get``, an unknown id is None, not an error."""
    return None if response.status_code == 404 else _json(response)


def _history_or_empty(response: httpx.Response) -> Any:
    """``history``: the server answers 404 for an id it never saw; ``Memory.history`` answers []."""
    return [] if response.status_code == 404 else _json(response)


def _nothing(response: httpx.Response) -> None:
    _json(response)


T = TypeVar("T")


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request, and how to read its answer (a ``T``: the verb's result)."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T] = _json
    params: dict[str, Any] | None = None
    body: Any = None
    retry_safe: bool = True  # reads and idempotent writes; an add might run twice


Outcome = httpx.Response | httpx.TransportError
Exchange = Generator[httpx.Request | float, Outcome | None, Any]  # returns the verb's result


def _encode(value: Any) -> Any:
    """Dates and times travel as ISO 8601, as ``Memory`` accepts them; anything else is refused."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON: use JSON values")


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _memory_path(memory_id: str, suffix: str = "") -> str:
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise ValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
    return f"/v1/memories/{quote(memory_id, safe='')}{suffix}"


class _BaseClient:
    """Configuration, and one request builder per verb (same arguments as ``Memory``)."""

    def __init__(
        self,
        api_key: str | None = None,
        host: str | None = None,
        *,
        project: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        api_key = api_key or os.environ.get(API_KEY_ENV)
        if not api_key:
            raise ConfigError(f"MemoryClient needs an API key: pass api_key=... or set {API_KEY_ENV}")
        self.host = (host or os.environ.get(HOST_ENV) or DEFAULT_HOST).rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "engram-client"}
        if project:  # for the admin key, which belongs to no project
            self.headers["X-Engram-Project"] = project
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=5.0)
        # The one retry policy of engram (resilience.py), as provider calls use it.
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            initial_backoff=backoff_s,
            max_backoff=MAX_BACKOFF_S,
            max_retry_after=MAX_BACKOFF_S,
        )
        self._rng = random.Random()

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    def _delay(self, attempt: int, outcome: Outcome) -> float | None:
        """Seconds before retry number ``attempt``: the server's Retry-After, else backoff with jitter;
        None when the server asks for a longer wait than the policy allows."""
        retry_after = retry_after_seconds(outcome.headers) if isinstance(outcome, httpx.Response) else None
        return self.retry_policy.delay(attempt, retry_after, self._rng)

    def _should_retry(self, call: _Call[Any], attempt: int, outcome: Outcome) -> bool:
        if attempt >= self.max_retries:
            return False
        if isinstance(outcome, NEVER_SENT):
            return True  # the request never reached the server: always safe
        if isinstance(outcome, httpx.TransportError):
            return call.retry_safe
        return call.retry_safe and outcome.status_code in RETRY_STATUSES

    def _exchange(self, call: _Call[T]) -> Exchange:
        """One verb's whole conversation with the server, free of I/O (like httpx's ``auth_flow``).

        It yields a request to send and is sent back the response (or the transport error),
        or yields a delay in seconds to sleep; it returns the verb's result or raises.
        """
        request = self._request(call)
        attempt = 0
        while True:
            outcome = yield request
            assert outcome is not None
            delay = self._delay(attempt, outcome) if self._should_retry(call, attempt, outcome) else None
            if delay is None:
                if isinstance(outcome, httpx.TransportError):
                    raise APIConnectionError(
                        f"{call.method} {call.path} got no answer from {self.host}: "
                        f"{type(outcome).__name__}: {outcome or 'connection lost'}"
                    ) from outcome
                return call.parse(outcome)
            yield delay
            attempt += 1

    def _request(self, call: _Call[Any]) -> httpx.Request:
        try:
            body = call.body
            content = None if body is None else json.dumps(body, default=_encode, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:  # an object JSON cannot hold, or NaN / Infinity
            raise ValidationError(f"cannot send this to the server: {exc}") from exc
        headers = {**self.headers, "Content-Type": "application/json"} if content is not None else self.headers
        return httpx.Request(call.method, self.host + call.path, params=call.params, content=content, headers=headers)

    # -- the verbs, as requests ---------------------------------------------------------------

    def _build_add(
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
    ) -> _Call[AddResult]:
        body = _without_none(
            messages=messages,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            actor_id=actor_id,
            metadata=metadata,
            memory_type=memory_type,
            prompt=prompt,
            timestamp=timestamp,
            expiration_date=expiration_date,
        )
        return _Call("POST", "/v1/memories", body={**body, "infer": infer}, retry_safe=False)

    def _build_add_job(self, *args: Any, **kwargs: Any) -> _Call[dict[str, Any]]:
        call = self._build_add(*args, **kwargs)
        return _Call(call.method, call.path, body={**call.body, "async_mode": True}, retry_safe=False)

    def _build_search(
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
    ) -> _Call[SearchResult]:
        body = _without_none(
            query=query,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            actor_id=actor_id,
            filters=filters,
            threshold=threshold,
            rerank=rerank,
            top_k=top_k,
            as_of=as_of,
        )
        if explain:
            body["explain"] = True
        if episodes:
            body["episodes"] = episodes
        return _Call("POST", "/v1/memories/search", body={**body, "limit": limit})

    def _build_get(self, memory_id: str) -> _Call[MemoryItem | None]:
        return _Call("GET", _memory_path(memory_id), parse=_item_or_none)

    def _build_get_all(
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
    ) -> _Call[MemoryList]:
        body = _without_none(
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            actor_id=actor_id,
            filters=filters,
            top_k=top_k,
            as_of=as_of,
        )
        return _Call("POST", "/v1/memories/list", body={**body, "limit": limit})

    def _build_update(
        self,
        memory_id: str,
        data: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        text: str | None = None,
        timestamp: datetime | date | str | float | None = None,
    ) -> _Call[MessageResult]:
        body = _without_none(data=data, metadata=metadata, text=text, timestamp=timestamp)
        return _Call("PUT", _memory_path(memory_id), body=body)

    def _build_delete(self, memory_id: str) -> _Call[MessageResult]:
        return _Call("DELETE", _memory_path(memory_id))

    def _build_delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        actor_id: str | None = None,
    ) -> _Call[MessageResult]:
        params = _without_none(user_id=user_id, agent_id=agent_id, run_id=run_id, actor_id=actor_id)
        return _Call("DELETE", "/v1/memories", params=params)

    def _build_erase(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> _Call[EraseReceipt]:
        # Not retried: a second erasure would find nothing and record a receipt of zeros.
        body = _without_none(user_id=user_id, agent_id=agent_id, run_id=run_id)
        return _Call("POST", "/v1/erase", body=body, retry_safe=False)

    def _build_erasures(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> _Call[ErasureList]:
        params = _without_none(user_id=user_id, agent_id=agent_id, run_id=run_id, limit=limit)
        return _Call("GET", "/v1/erasures", params=params)

    def _build_history(self, memory_id: str) -> _Call[list[HistoryItem]]:
        return _Call("GET", _memory_path(memory_id, "/history"), parse=_history_or_empty)

    def _build_reset(self) -> _Call[None]:
        return _Call("POST", "/v1/reset", parse=_nothing)

    def _build_episodes(self, memory_id: str) -> _Call[list[EpisodeItem]]:
        return _Call("GET", _memory_path(memory_id, "/episodes"))

    def _build_get_job(self, job_id: str) -> _Call[dict[str, Any]]:
        return _Call("GET", f"/v1/jobs/{quote(job_id, safe='')}")

    def _build_scopes(self) -> _Call[ScopeList]:
        return _Call("GET", "/v1/scopes")

    def _build_browse(
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
    ) -> _Call[MemoryPage]:
        body = _without_none(
            user_id=user_id, agent_id=agent_id, run_id=run_id, actor_id=actor_id, filters=filters, as_of=as_of
        )
        return _Call(
            "POST", "/v1/memories/browse", body={**body, "limit": limit, "offset": offset, "sort": sort, "order": order}
        )


# -- the two ways of moving bytes -------------------------------------------------------------


P = ParamSpec("P")


def _sync_verb(
    build: Callable[Concatenate[_BaseClient, P], _Call[T]], name: str
) -> Callable[Concatenate[MemoryClient, P], T]:
    """The verb ``name`` of ``MemoryClient``: the parameters of its request builder, typed."""

    @functools.wraps(build)
    def verb(self: MemoryClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(build(self, *args, **kwargs))

    verb.__name__ = verb.__qualname__ = name
    return verb


def _async_verb(
    build: Callable[Concatenate[_BaseClient, P], _Call[T]], name: str
) -> Callable[Concatenate[AsyncMemoryClient, P], Awaitable[T]]:
    """The verb ``name`` of ``AsyncMemoryClient``: the parameters of its request builder, typed."""

    @functools.wraps(build)
    async def verb(self: AsyncMemoryClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(build(self, *args, **kwargs))

    verb.__name__ = verb.__qualname__ = name
    return verb


class MemoryClient(_BaseClient):
    """The verbs of ``Memory`` over HTTP.

    ``api_key`` defaults to ``$ENGRAM_API_KEY`` and ``host`` to ``$ENGRAM_HOST`` (else
    http://127.0.0.1:8000). ``project`` is only for the admin key, which belongs to no project.
    ``timeout`` is in seconds per request; ``max_retries`` counts retries after the first try.
    """

    def __init__(
        self,
        api_key: str | None = None,
        host: str | None = None,
        *,
        project: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, host, project=project, timeout=timeout, max_retries=max_retries, backoff_s=backoff_s)
        self._http = httpx.Client(timeout=self.timeout, transport=transport)

    def _send(self, call: _Call[T]) -> T:
        flow = self._exchange(call)
        step = next(flow)
        try:
            while True:
                if isinstance(step, float):
                    time.sleep(step)
                    step = flow.send(None)
                    continue
                try:
                    outcome: httpx.Response | httpx.TransportError = self._http.send(step)
                except httpx.TransportError as exc:
                    outcome = exc
                step = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value  # what the exchange returned: the verb's result
            return result

    add = _sync_verb(_BaseClient._build_add, "add")
    search = _sync_verb(_BaseClient._build_search, "search")
    get = _sync_verb(_BaseClient._build_get, "get")
    get_all = _sync_verb(_BaseClient._build_get_all, "get_all")
    update = _sync_verb(_BaseClient._build_update, "update")
    delete = _sync_verb(_BaseClient._build_delete, "delete")
    delete_all = _sync_verb(_BaseClient._build_delete_all, "delete_all")
    erase = _sync_verb(_BaseClient._build_erase, "erase")
    erasures = _sync_verb(_BaseClient._build_erasures, "erasures")
    history = _sync_verb(_BaseClient._build_history, "history")
    reset = _sync_verb(_BaseClient._build_reset, "reset")
    add_job = _sync_verb(_BaseClient._build_add_job, "add_job")  # add(..., async_mode) -> the job
    get_job = _sync_verb(_BaseClient._build_get_job, "get_job")
    episodes = _sync_verb(_BaseClient._build_episodes, "episodes")
    scopes = _sync_verb(_BaseClient._build_scopes, "scopes")
    browse = _sync_verb(_BaseClient._build_browse, "browse")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MemoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncMemoryClient(_BaseClient):
    """The verbs of ``AsyncMemory`` over HTTP; same arguments as ``MemoryClient``."""

    def __init__(
        self,
        api_key: str | None = None,
        host: str | None = None,
        *,
        project: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(api_key, host, project=project, timeout=timeout, max_retries=max_retries, backoff_s=backoff_s)
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=transport)

    async def _send(self, call: _Call[T]) -> T:
        flow = self._exchange(call)
        step = next(flow)
        try:
            while True:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                    step = flow.send(None)
                    continue
                try:
                    outcome: httpx.Response | httpx.TransportError = await self._http.send(step)
                except httpx.TransportError as exc:
                    outcome = exc
                step = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value  # what the exchange returned: the verb's result
            return result

    add = _async_verb(_BaseClient._build_add, "add")
    search = _async_verb(_BaseClient._build_search, "search")
    get = _async_verb(_BaseClient._build_get, "get")
    get_all = _async_verb(_BaseClient._build_get_all, "get_all")
    update = _async_verb(_BaseClient._build_update, "update")
    delete = _async_verb(_BaseClient._build_delete, "delete")
    delete_all = _async_verb(_BaseClient._build_delete_all, "delete_all")
    erase = _async_verb(_BaseClient._build_erase, "erase")
    erasures = _async_verb(_BaseClient._build_erasures, "erasures")
    history = _async_verb(_BaseClient._build_history, "history")
    reset = _async_verb(_BaseClient._build_reset, "reset")
    add_job = _async_verb(_BaseClient._build_add_job, "add_job")
    get_job = _async_verb(_BaseClient._build_get_job, "get_job")
    episodes = _async_verb(_BaseClient._build_episodes, "episodes")
    scopes = _async_verb(_BaseClient._build_scopes, "scopes")
    browse = _async_verb(_BaseClient._build_browse, "browse")

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMemoryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["APIConnectionError", "APIError", "AsyncMemoryClient", "MemoryClient"]
