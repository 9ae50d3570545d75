"""The memory tools every framework's agent gets: search, remember, forget. Written once, as
:data:`~engram.integrations._engram.Steps`, and wrapped by each framework's tool interface.

Each returns text for the model. An error the agent can fix (a ``ValidationError``, an unknown id)
comes back as that text, saying what to fix, so the agent loop goes on; any other engram error
(configuration, provider, storage) propagates to the application.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engram.errors import NotFoundError
from engram.integrations._engram import AGENT_FIXABLE, Steps, text_of, tool_error, verb
from engram.models import SCOPE_KEYS

SEARCH_DESCRIPTION = (
    "Search long-term memory for what is known about the user: preferences, facts, past events. "
    "Use it before answering anything that may depend on what the user said in earlier conversations."
)
REMEMBER_DESCRIPTION = (
    "Store something worth remembering in long-term memory: a preference, a fact about the user, "
    "a decision. Write it as one short, self-contained statement."
)
FORGET_DESCRIPTION = (
    "Forget one memory, by the id that search_memory showed. Only use it when the user asks you "
    "to forget something, or says a memory is wrong."
)
DEFAULT_LIMIT = 5


def search_memory(query: str, scope: Mapping[str, str], *, limit: int = DEFAULT_LIMIT) -> Steps[str]:
    """The memories that match ``query``, one per line, each with its id and date."""
    try:
        found = yield verb("search", query, **scope, limit=limit)
    except AGENT_FIXABLE as error:
        return tool_error("search memory", error)
    items = found["results"]
    if not items:
        return "No memories match."
    return "\n".join(f"- [{item['id']}] {text_of(item)}" for item in items)


def remember(text: str, scope: Mapping[str, str], *, infer: bool = False) -> Steps[str]:
    """Store ``text``; with ``infer`` engram's LLM keeps the facts in it and reconciles them."""
    try:
        result = yield verb("add", text, **scope, infer=infer)
    except AGENT_FIXABLE as error:
        return tool_error("remember", error)
    if not result["results"]:
        return "Nothing stored: engram found nothing in it worth remembering."
    changed = [item for item in result["results"] if item["event"] != "NONE"]
    if not changed:
        return "Nothing new to remember: memory already holds this."
    return "\n".join(f"{item['event']} [{item['id']}] {item['memory']}" for item in changed)


def forget(memory_id: str, scope: Mapping[str, str]) -> Steps[str]:
    """Delete one memory of this scope; an id of another scope is unknown here."""
    try:
        item = yield verb("get", memory_id)
        if item is None or not _belongs_to(item, scope):
            unknown = NotFoundError(f"no memory here has id {memory_id!r}: use an id that search_memory showed")
            return tool_error("forget", unknown)
        yield verb("delete", memory_id)
    except AGENT_FIXABLE as error:
        return tool_error("forget", error)
    return f"Forgot [{memory_id}] {item['memory']}"


def _belongs_to(item: Mapping[str, Any], scope: Mapping[str, str]) -> bool:
    """A memory belongs to a scope when every id the scope sets is the memory's (as reads select)."""
    return all(item.get(key) == value for key, value in scope.items() if key in SCOPE_KEYS)


__all__ = [
    "FORGET_DESCRIPTION",
    "REMEMBER_DESCRIPTION",
    "SEARCH_DESCRIPTION",
    "forget",
    "remember",
    "search_memory",
]
