"""The wire shapes of the REST API, for validation and a complete OpenAPI schema.

Requests mirror the verbs' arguments one to one, so a route can pass
``body.verb_args()`` straight to ``Memory``. Responses mirror docs/architecture.md
section 1; they allow extra keys (``usage``, ``warnings``) that a verb may add.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engram.results import (
    AddEvent,
    AddResult,
    EpisodeItem,
    EraseReceipt,
    ErasureList,
    FoundEpisode,
    HistoryItem,
    MemoryItem,
    MemoryList,
    MemoryPage,
    MessageResult,
    RelationChanges,
    RelationItem,
    ScopeItem,
    ScopeList,
    SearchResult,
)

ScopeId = str | None
Messages = str | dict[str, Any] | list[dict[str, Any]]
AS_OF = "Answer with the versions valid at this moment (ISO datetime; a date means the end of that day)."


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def verb_args(self, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
        """The fields the caller sent, as keyword arguments of the verb."""
        return self.model_dump(exclude_unset=True, exclude=set(leave_out))


class AddRequest(_Request):
    messages: Messages = Field(
        description='A string, one message dict, or a list of {"role", "content"[, "name"]} dicts.'
    )
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None
    actor_id: ScopeId = None
    metadata: dict[str, Any] | None = None
    infer: bool = True
    memory_type: Literal["procedural_memory"] | None = None
    prompt: str | None = None
    timestamp: str | float | None = Field(None, description="When the conversation happened: ISO 8601 or Unix.")
    expiration_date: str | None = Field(None, description="ISO date or datetime after which it is hidden.")
    async_mode: bool = Field(False, description="Answer 202 with a job at once; the add runs in the background.")


class SearchRequest(_Request):
    query: str
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None
    actor_id: ScopeId = None
    limit: int = 10
    top_k: int | None = None
    filters: dict[str, Any] | None = None
    threshold: float | None = None
    rerank: bool | None = None
    as_of: str | None = Field(None, description=AS_OF)
    explain: bool = Field(False, description="Add to each result the signals behind its score.")
    episodes: int = Field(
        0, description="Also return this many of the scope's messages that best match, beyond the results' own."
    )


class ListRequest(_Request):
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None
    actor_id: ScopeId = None
    filters: dict[str, Any] | None = None
    limit: int = 100
    top_k: int | None = None
    as_of: str | None = Field(None, description=AS_OF)


class UpdateRequest(_Request):
    data: str | None = Field(None, description="The new text of the memory.")
    text: str | None = Field(None, description="Same as data (mem0's platform spelling).")
    metadata: dict[str, Any] | None = None
    timestamp: str | float | None = Field(
        None,
        description="When the change became true (ISO 8601 or Unix): the old text stays valid until then. "
        "Without it the update corrects the memory in place.",
    )


class EraseRequest(_Request):
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None


class ResetRequest(_Request):
    project: str | None = Field(None, description="Reset only this project (admin key); default: every one.")


class KeyRequest(_Request):
    project: str = Field(description="The project the key belongs to; created with its first key.")
    name: str = Field("", max_length=200, description="A label to recognise the key by.")


# -- responses ------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# The verbs' results are engram.results' shapes, the same for Memory, the clients and MCP.
HistoryEntry = HistoryItem
Message = MessageResult
ScopeView = ScopeItem


class JobView(_Response):
    id: str
    status: Literal["pending", "running", "succeeded", "failed"]
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None


class KeyView(_Response):
    id: str
    project: str
    name: str
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyView):
    key: str = Field(description="The secret. It is shown only now: store it.")


class Health(_Response):
    status: Literal["ok"]
    version: str


# -- browsing (the dashboard) ------------------------------------------------------------------


class BrowseRequest(_Request):
    user_id: ScopeId = None
    agent_id: ScopeId = None
    run_id: ScopeId = None
    actor_id: ScopeId = None
    filters: dict[str, Any] | None = None
    limit: int = Field(50, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort: Literal["created_at", "updated_at", "memory"] = "created_at"
    order: Literal["asc", "desc"] = "desc"
    as_of: str | None = Field(None, description=AS_OF)


__all__ = [
    "AddEvent",
    "AddRequest",
    "AddResult",
    "BrowseRequest",
    "EpisodeItem",
    "EraseReceipt",
    "EraseRequest",
    "ErasureList",
    "FoundEpisode",
    "Health",
    "HistoryEntry",
    "JobView",
    "KeyCreated",
    "KeyRequest",
    "KeyView",
    "ListRequest",
    "MemoryItem",
    "MemoryList",
    "MemoryPage",
    "Message",
    "RelationChanges",
    "RelationItem",
    "ResetRequest",
    "ScopeList",
    "ScopeView",
    "SearchRequest",
    "SearchResult",
    "UpdateRequest",
]
