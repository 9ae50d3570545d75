"""The wire shapes of the REST API, for validation and a complete OpenAPI schema.

Requests mirror the verbs' arguments one to one, so a route can pass
``body.verb_args()`` straight to ``Memory``. Responses mirror DESIGN.md
section 1; they allow extra keys (``usage``, ``warnings``) that a verb may add.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class ResetRequest(_Request):
    project: str | None = Field(None, description="Reset only this project (admin key); default: every one.")


class KeyRequest(_Request):
    project: str = Field(description="The project the key belongs to; created with its first key.")
    name: str = Field("", max_length=200, description="A label to recognise the key by.")


# -- responses ------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class AddEvent(_Response):
    id: str
    memory: str
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    previous_memory: str | None = None


class Relation(_Response):
    """A graph relation (graph memory on): mem0's shape, with its validity and, in search, its score."""

    source: str
    relationship: str
    destination: str
    valid_from: str | None = None
    invalid_at: str | None = None
    score: float | None = None


class RelationChanges(_Response):
    added_entities: list[Relation]
    deleted_entities: list[Relation]


class AddResult(_Response):
    results: list[AddEvent]
    relations: RelationChanges | None = None  # only when graph memory is on


class MemoryItem(_Response):
    id: str
    memory: str
    hash: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str | None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None
    role: str | None = None
    expiration_date: str | None = None
    valid_from: str | None = None
    invalid_at: str | None = None
    score: float | None = None


class MemoryList(_Response):
    results: list[MemoryItem]
    relations: list[Relation] | None = None  # only when graph memory is on
    episodes: list[FoundEpisode] | None = None  # only when a search asks for them


class HistoryEntry(_Response):
    id: str
    memory_id: str
    old_memory: str | None
    new_memory: str | None
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    created_at: str
    updated_at: str | None
    is_deleted: bool
    actor_id: str | None
    role: str | None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class EpisodeItem(_Response):
    id: str
    role: str
    name: str | None
    content: str
    created_at: str
    position: int
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None


class FoundEpisode(EpisodeItem):
    score: float
    memory_ids: list[str]


class Message(_Response):
    message: str


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


class MemoryPage(MemoryList):
    total: int = Field(description="How many memories match, across every page.")
    offset: int
    limit: int


class ScopeView(_Response):
    kind: Literal["user_id", "agent_id", "run_id"]
    id: str
    count: int


class ScopeList(_Response):
    results: list[ScopeView]
