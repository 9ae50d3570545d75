"""``create_app``: the FastAPI application behind ``engram serve``."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import engram
from engram.embedders import Embedder
from engram.errors import EngramError
from engram.llms import LLM
from engram.server.dashboard import dashboard
from engram.server.errors import PayloadTooLarge, error_body, handle_error
from engram.server.jobs import JobRunner
from engram.server.projects import ProjectMemories
from engram.server.prune import PruneSchedule
from engram.server.routes import mem0_routes, v1
from engram.server.schemas import Health
from engram.server.state import ServerSettings, ServerState, state_of

WORKER_SETTINGS_ENV = "_ENGRAM_WORKER_SETTINGS"
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)  # set by `engram serve --workers N` for its children

DESCRIPTION = """Long-term memory for AI agents, as a service.

Every memory route needs an API key (`Authorization: Bearer ek_...`) and works only on the key's
project: another project's memory id answers 404. Errors are `{"error": {"code", "message"}}`.
The paths without `/v1` are mem0's REST server paths, for drop-in use.
"""


def create_app(
    settings: ServerSettings | None = None,
    *,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
) -> FastAPI:
    """The app, with its stores opened now (so a bad config fails at start) and job workers at startup."""
    settings = settings or ServerSettings.from_env()
    store = settings.open_store()
    try:
        memories = ProjectMemories(
            settings.memory_config,
            settings.data_dir,
            embedder=embedder,
            llm=llm,
            max_open=settings.max_open_projects,
            project_stores=settings.project_stores,
        )
    except BaseException:
        store.close()  # its connection pool, on Postgres
        raise
    jobs = JobRunner(
        store,
        memories,
        workers=settings.job_workers,
        poll_s=settings.job_poll_s,
        stale_after_s=settings.job_stale_after_s,
        retention_s=settings.job_retention_s,
    )

    pruning = PruneSchedule(store, memories, interval_s=settings.prune_interval_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        pruning.start()
        try:
            yield
        finally:
            pruning.stop()
            jobs.stop()
            memories.close()
            store.close()

    app = FastAPI(title="engram", version=engram.__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.engram = ServerState(settings, store, memories, jobs)
    _add_routes(app, settings)
    return app


def _add_routes(app: FastAPI, settings: ServerSettings) -> None:
    """The error handler, the routers (API, mem0's paths, dashboard), the service routes and the
    middleware (bugs answered as JSON, the body size limit, request metrics)."""
    for error_class in (EngramError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(error_class, handle_error)
    app.include_router(v1)
    app.include_router(mem0_routes)
    app.include_router(dashboard)
    metrics = Metrics()
    app.add_api_route("/", lambda: RedirectResponse("/docs"), methods=["GET"], include_in_schema=False)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["service"])
    app.add_api_route(
        "/metrics",
        metrics.endpoint,
        methods=["GET"],
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    app.add_middleware(AnswerBugs)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)


def app_from_env() -> FastAPI:
    """The app of one worker process of `engram serve --workers N` (settings from the parent)."""
    if settings := os.environ.get(WORKER_SETTINGS_ENV):
        return create_app(ServerSettings.from_json(settings))
    return create_app(ServerSettings.from_env())


def healthz(request: Request) -> dict[str, Any]:
    """Liveness and database reachability, without auth (for load balancers)."""
    state_of(request).store.projects()
    return {"status": "ok", "version": engram.__version__}


class Metrics:
    """Request counts and latencies in the Prometheus text format, one registry per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "engram_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "engram_http_request_duration_seconds",
            "Time to answer",
            ["method", "route"],
            registry=self.registry,
        )

    def endpoint(self) -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts every answer by route template (never by raw path, which would hold ids)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            # Label values come from a fixed set: any other method (a client may send anything) is
            # "OTHER", so unauthenticated requests cannot grow the metrics without bound.
            method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class AnswerBugs:
    """Answers an unexpected exception with the 500 error body, inside the app.

    A handler for ``Exception`` alone runs in Starlette's outermost middleware, which re-raises
    after answering, and uvicorn then closes the keep-alive connection: the client's next request
    on it failed (a lost write). Answered here, the exception ends with the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:  # too late for an error answer: the connection must close
                raise
            response = await handle_error(Request(scope, receive), exc)
            await response(scope, receive, send)


class BodySizeLimit:
    """Refuses bodies over ``max_bytes``: by Content-Length at once, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(error_body("payload_too_large", self._message()), status_code=413)
            await response(scope, receive, send)
            return
        received = 0
        too_big = False

        async def receive_limited() -> Message:
            nonlocal received, too_big
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                too_big = True
                raise PayloadTooLarge(self._message())
            return message

        async def send_unless_too_big(message: Message) -> None:
            # FastAPI turns a failed body read into its own 400; the 413 below replaces it.
            if not too_big:
                await send(message)

        await self.app(scope, receive_limited, send_unless_too_big)
        if too_big:
            response = JSONResponse(error_body("payload_too_large", self._message()), status_code=413)
            await response(scope, receive, send)

    def _message(self) -> str:
        return f"the request body is over the limit of {self.max_bytes} bytes"
