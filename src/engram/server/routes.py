"""The routes: each parses its input, calls one verb of the caller's project, and returns the result.

``/v1/...`` is engram's API. ``mem0_routes`` puts the same handlers at the
paths of mem0's REST server, so its users can switch by changing the base URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from engram.errors import NotFoundError, ValidationError
from engram.server.auth import Admin, Anyone, Project
from engram.server.errors import ERROR_SCHEMA, Forbidden
from engram.server.schemas import (
    AddRequest,
    AddResult,
    BrowseRequest,
    EpisodeItem,
    EraseReceipt,
    EraseRequest,
    ErasureList,
    HistoryEntry,
    JobView,
    KeyCreated,
    KeyRequest,
    KeyView,
    ListRequest,
    MemoryItem,
    MemoryList,
    MemoryPage,
    Message,
    ResetRequest,
    ScopeList,
    SearchRequest,
    SearchResult,
    UpdateRequest,
)
from engram.server.state import ServerState, state_of
from engram.server.store import check_project
from engram.server.strict_json import StrictJSONRoute

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for status, what in [
        (400, "The verb refused the call"),
        (401, "Missing or unknown API key"),
        (403, "The key may not do this"),
        (404, "Unknown id or path"),
        (413, "Body over the size limit"),
        (422, "The body or query does not match the schema"),
    ]
}
JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "async_mode: the add runs as a job", "model": JobView},
}
MemoryId = Annotated[str, Path(description="The id `add` returned for the memory.")]


def _scope(user_id: str | None, agent_id: str | None, run_id: str | None, actor_id: str | None) -> dict[str, Any]:
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "actor_id": actor_id}
    return {key: value for key, value in given.items() if value is not None}


# -- memories --------------------------------------------------------------------------------


def add_memories(body: AddRequest, ctx: Project) -> Any:
    """Remember a conversation. With `async_mode`, answer 202 and a job to poll."""
    if body.async_mode:
        job = ctx.state.jobs.submit(ctx.project, body.verb_args(leave_out=("async_mode",)), ctx.memory.config.privacy)
        return JSONResponse(job.to_dict(), status_code=202)
    return ctx.memory.add(**body.verb_args(leave_out=("async_mode",)))


def search_memories(body: SearchRequest, ctx: Project) -> Any:
    """The memories that best match the query in the scope, best first."""
    return ctx.memory.search(**body.verb_args())


def list_memories_by_body(body: ListRequest, ctx: Project) -> Any:
    """The scope's memories, newest first, with optional filters."""
    return ctx.memory.get_all(**body.verb_args())


def list_memories(
    ctx: Project,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    actor_id: str | None = None,
    limit: Annotated[int, Query()] = 100,
    as_of: str | None = None,
) -> Any:
    """The scope's memories, newest first (POST /v1/memories/list takes filters)."""
    return ctx.memory.get_all(**_scope(user_id, agent_id, run_id, actor_id), limit=limit, as_of=as_of)


def get_memory(memory_id: MemoryId, ctx: Project) -> Any:
    """One memory by id."""
    item = ctx.memory.get(memory_id)
    if item is None:
        raise NotFoundError(f"no memory has id {memory_id!r}")
    return item


def update_memory(memory_id: MemoryId, body: UpdateRequest, ctx: Project) -> Any:
    """Replace a memory's text and/or metadata."""
    return ctx.memory.update(memory_id, **body.verb_args())


def delete_memory(memory_id: MemoryId, ctx: Project) -> Any:
    """Delete one memory; its history stays."""
    return ctx.memory.delete(memory_id)


def delete_memories(
    ctx: Project,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    actor_id: str | None = None,
) -> Any:
    """Delete every memory of a scope; the scope is required."""
    return ctx.memory.delete_all(**_scope(user_id, agent_id, run_id, actor_id))


def erase_scope(body: EraseRequest, ctx: Project) -> Any:
    """Erase everything a scope holds, and the add jobs that hold its text; the receipt, whose
    `erased.jobs` counts the jobs (the receipt the store keeps counts its own tables only)."""
    # The jobs first: a queued add of the scope must not run after its erasure.
    jobs = ctx.state.store.erase_jobs(ctx.project, body.verb_args())
    receipt = ctx.memory.erase(**body.verb_args())
    return {**receipt, "erased": {**receipt["erased"], "jobs": jobs}}


def list_erasures(
    ctx: Project,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    limit: Annotated[int, Query()] = 100,
) -> Any:
    """The receipts of the project's erasures, newest first; with ids, those of exactly that scope."""
    return ctx.memory.erasures(**_scope(user_id, agent_id, run_id, None), limit=limit)


def memory_history(memory_id: MemoryId, ctx: Project) -> Any:
    """Every change to one memory, oldest first (it outlives the memory); 404 for an id never seen."""
    rows = ctx.memory.history(memory_id)
    if not rows:
        raise NotFoundError(f"no memory has id {memory_id!r}")
    return rows


def memory_episodes(memory_id: MemoryId, ctx: Project) -> Any:
    """The messages a memory came from, as they were said, oldest first."""
    return ctx.memory.episodes(memory_id)


def get_job(job_id: str, ctx: Project) -> Any:
    """An add job's status, and its result or error once it has finished."""
    job = ctx.state.store.get_job(ctx.project, job_id)
    if job is None:
        raise NotFoundError(f"no job has id {job_id!r}")
    return job.to_dict()


def list_scopes(ctx: Project) -> Any:
    """Every user, agent and run id of the project that holds memories, with how many."""
    return ctx.memory.scopes()


def browse_memories(body: BrowseRequest, ctx: Project) -> Any:
    """One page of a scope's memories, sorted, with the total: what the dashboard's table shows."""
    return ctx.memory.browse(**body.verb_args())


# -- who is calling --------------------------------------------------------------------------


class CallerView(BaseModel):
    """What a key is: the admin key (acting on the project of X-Engram-Project, if any) or a project's."""

    admin: bool = Field(description="true for the admin key")
    project: str | None = Field(description="the key's project; for the admin key, the X-Engram-Project header's")


def who_am_i(caller: Anyone) -> Any:
    """What the key is, so a client (the dashboard) need not probe an admin route to find out."""
    return {"admin": caller.is_admin, "project": caller.project}


# -- admin -----------------------------------------------------------------------------------


def reset(request: Request, caller: Admin, body: ResetRequest | None = None) -> Any:
    """Delete every memory of one project: `project` in the body, or the X-Engram-Project header.
    Every project at once is its own request: `POST /v1/reset-all-projects`."""
    named = body.project if body is not None else None
    if named is not None and caller.project is not None and named != caller.project:
        raise ValidationError(f"the body names project {named!r} and X-Engram-Project {caller.project!r}: give one")
    project = check_project(named) if named is not None else caller.project  # "" is malformed, not "all"
    if project is None:
        raise ValidationError(
            'name the project to reset: {"project": "..."} or the X-Engram-Project header '
            "(POST /v1/reset-all-projects resets every project)"
        )
    state = state_of(request)
    if project not in state.store.projects():
        raise NotFoundError(f"no project is named {project!r}")
    _reset(state, [project])
    return {"message": "Memories reset successfully!"}


def reset_all_projects(request: Request, caller: Admin) -> Any:
    """Delete every memory of every project: the one request that does, and it takes no project."""
    if caller.project is not None:
        raise ValidationError(
            f"X-Engram-Project names project {caller.project!r}: reset it with POST /v1/reset, "
            "or send no header to reset every project"
        )
    state = state_of(request)
    _reset(state, state.store.projects())
    return {"message": "Memories of every project reset successfully!"}


def _reset(state: ServerState, projects: list[str]) -> None:
    for name in projects:
        with state.memories.lease(name) as memory:
            memory.reset()


def create_key(body: KeyRequest, request: Request, caller: Admin) -> Any:
    """A new API key for a project. The secret is in the answer, and only there."""
    key, secret = state_of(request).store.create_key(body.project, body.name)
    return {**key.to_dict(), "key": secret}


def list_keys(request: Request, caller: Admin, project: str | None = None) -> Any:
    """Every key (without secrets), optionally of one project."""
    return [key.to_dict() for key in state_of(request).store.list_keys(project)]


def revoke_key(key_id: str, request: Request, caller: Admin) -> Any:
    """Revoke a key: it answers 401 from now on."""
    key = state_of(request).store.revoke_key(key_id)
    if key is None:
        raise NotFoundError(f"no API key has id {key_id!r}")
    return key.to_dict()


def configure(caller: Admin, config: dict[str, Any]) -> Any:
    """mem0's runtime reconfiguration: refused, configure with `engram serve --config FILE`."""
    raise Forbidden(
        "engram servers take their configuration at start (`engram serve --config FILE`): a change "
        "made in one process would not reach the others sharing the database"
    )


def _route(router: APIRouter, method: str, path: str, handler: Any, model: Any, tag: str, **extra: Any) -> None:
    options: dict[str, Any] = {"responses": ERRORS, "response_model_exclude_unset": True, **extra}
    router.add_api_route(path, handler, methods=[method], response_model=model, tags=[tag], **options)


def _add_memory_routes(router: APIRouter, tag: str, *, search_path: str, list_path: str | None) -> None:
    routes: list[tuple[str, str, Any, Any]] = [
        ("POST", "/memories", add_memories, AddResult),
        ("POST", search_path, search_memories, SearchResult),
        ("GET", "/memories", list_memories, MemoryList),
        ("GET", "/memories/{memory_id}", get_memory, MemoryItem),
        ("PUT", "/memories/{memory_id}", update_memory, Message),
        ("DELETE", "/memories/{memory_id}", delete_memory, Message),
        ("DELETE", "/memories", delete_memories, Message),
        ("GET", "/memories/{memory_id}/history", memory_history, list[HistoryEntry]),
        ("GET", "/memories/{memory_id}/episodes", memory_episodes, list[EpisodeItem]),
        ("POST", "/reset", reset, Message),
    ]
    if list_path:
        routes.append(("POST", list_path, list_memories_by_body, MemoryList))
    for method, path, handler, model in routes:
        extra = {"responses": {**ERRORS, **JOB_ACCEPTED}} if handler is add_memories else {}
        _route(router, method, path, handler, model, tag, **extra)


v1 = APIRouter(prefix="/v1", route_class=StrictJSONRoute)
_add_memory_routes(v1, "memories", search_path="/memories/search", list_path="/memories/list")
_route(v1, "GET", "/jobs/{job_id}", get_job, JobView, "jobs")
_route(v1, "GET", "/me", who_am_i, CallerView, "keys")
_route(v1, "POST", "/erase", erase_scope, EraseReceipt, "privacy")
_route(v1, "GET", "/erasures", list_erasures, ErasureList, "privacy")
_route(v1, "GET", "/scopes", list_scopes, ScopeList, "browse")
_route(v1, "POST", "/memories/browse", browse_memories, MemoryPage, "browse")
_route(v1, "POST", "/reset-all-projects", reset_all_projects, Message, "admin")
_route(v1, "POST", "/keys", create_key, KeyCreated, "admin", status_code=201)
_route(v1, "GET", "/keys", list_keys, list[KeyView], "admin")
_route(v1, "DELETE", "/keys/{key_id}", revoke_key, KeyView, "admin")

mem0_routes = APIRouter(route_class=StrictJSONRoute)
_add_memory_routes(mem0_routes, "mem0-compatible", search_path="/search", list_path=None)
_route(mem0_routes, "POST", "/configure", configure, Message, "mem0-compatible")
