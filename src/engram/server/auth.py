"""Who is calling: an API key of one project, or the admin key.

Keys travel as ``Authorization: Bearer <key>`` (``Token <key>``, mem0's
platform spelling, is accepted too). A project key reaches only its project's
memories. The admin key (``ENGRAM_ADMIN_KEY``) manages keys and may reset;
it acts on a project's memories only when it names one in ``X-Engram-Project``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engram.memory import Memory
from engram.server.errors import Forbidden, Unauthorized
from engram.server.state import ServerState, state_of
from engram.server.store import check_project

PROJECT_HEADER = "X-Engram-Project"

bearer = HTTPBearer(auto_error=False, description="An engram API key: `Authorization: Bearer ek_...`")


@dataclass(frozen=True)
class Caller:
    project: str | None  # None: the admin key, acting on no project
    is_admin: bool


def _secret(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is not None:
        return credentials.credentials
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    state = state_of(request)
    secret = _secret(request, credentials)
    admin_key = state.settings.admin_key
    if admin_key and hmac.compare_digest(secret.encode(), admin_key.encode()):
        project = request.headers.get(PROJECT_HEADER)  # an empty one is malformed, not "no project"
        return Caller(check_project(project) if project is not None else None, is_admin=True)
    key = state.store.authenticate(secret)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return Caller(key.project, is_admin=False)


def require_admin(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    if not caller.is_admin:
        raise Forbidden("this needs the admin key (ENGRAM_ADMIN_KEY)")
    return caller


@dataclass(frozen=True)
class ProjectContext:
    """What a memory route works on: the caller's project and its Memory."""

    project: str
    memory: Memory
    state: ServerState


def project_memory(request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Iterator[ProjectContext]:
    """The caller's project and its Memory, held open until the response is sent."""
    if caller.project is None:
        raise Forbidden(f"the admin key acts on memories only with a {PROJECT_HEADER} header naming a project")
    state = state_of(request)
    with state.memories.lease(caller.project) as memory:
        yield ProjectContext(caller.project, memory, state)


Anyone = Annotated[Caller, Depends(authenticate)]
Admin = Annotated[Caller, Depends(require_admin)]
Project = Annotated[ProjectContext, Depends(project_memory)]
