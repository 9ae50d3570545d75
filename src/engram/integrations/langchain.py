"""LangChain: memory tools and a retriever on langchain-core's interfaces (``pip install 'engramdb[langchain]'``).

    from engram import Memory
    from engram.integrations.langchain import EngramRetriever, memory_tools

    tools = memory_tools(Memory())                    # search_memory, remember, forget_memory
    agent = create_agent(model, tools)                # the user comes from config["configurable"]
    agent.invoke({"messages": [...]}, {"configurable": {"user_id": "alice", "thread_id": "1"}})

    retriever = EngramRetriever(memory=Memory(), user_id="alice")
    retriever.invoke("what does alice eat?")          # Documents, best first, with engram's scores

The tools' scope is fixed when they are made (``memory_tools(m, user_id="alice")``), or, when none
is given, read on every call from the run's ``config["configurable"]`` (``user_id``, ``agent_id``,
``run_id``), the way LangGraph passes who the user is. Each tool runs sync or async as the agent
does; over ``AsyncMemory`` or ``AsyncMemoryClient`` it never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from engram.errors import ConfigError
from engram.integrations import _tools
from engram.integrations._engram import (
    AGENT_FIXABLE,
    AnyMemory,
    EngramHandle,
    Steps,
    ToolFailure,
    missing_extra,
    scope_carried,
    scope_ids,
    verb,
)

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool, StructuredTool, ToolException
    from pydantic import ConfigDict
except ImportError as exc:  # pragma: no cover - exercised by the import-guard test in a clean process
    raise missing_extra("langchain", "langchain") from exc


class _ScopeSource:
    """Where a tool's scope comes from: fixed at creation, or the run's ``configurable``."""

    def __init__(self, fixed: dict[str, str]) -> None:
        self.fixed = fixed

    def of(self, config: RunnableConfig | None) -> dict[str, str]:
        if self.fixed:
            return self.fixed
        scope = scope_carried((config or {}).get("configurable") or {})
        if not scope:
            raise ConfigError(
                "engram's memory tools need a scope: pass user_id= (or agent_id=, run_id=) to memory_tools, "
                'or run the agent with config={"configurable": {"user_id": ...}}'
            )
        return scope


def memory_tools(
    memory: AnyMemory,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    infer: bool = False,
    limit: int = _tools.DEFAULT_LIMIT,
) -> list[BaseTool]:
    """``search_memory``, ``remember`` and ``forget_memory`` as LangChain tools.

    ``infer=True`` lets engram's LLM keep the facts of what ``remember`` is given (reconciled with
    what is known); ``infer=False`` stores it as said.
    """
    engram = EngramHandle(memory)
    scopes = _ScopeSource(scope_ids(user_id=user_id, agent_id=agent_id, run_id=run_id))

    def search_memory(query: str, config: RunnableConfig) -> str:
        return _answer(engram.run(_tools.search_memory(query, scopes.of(config), limit=limit)))

    async def asearch_memory(query: str, config: RunnableConfig) -> str:
        return _answer(await engram.arun(_tools.search_memory(query, scopes.of(config), limit=limit)))

    def remember(text: str, config: RunnableConfig) -> str:
        return _answer(engram.run(_tools.remember(text, scopes.of(config), infer=infer)))

    async def aremember(text: str, config: RunnableConfig) -> str:
        return _answer(await engram.arun(_tools.remember(text, scopes.of(config), infer=infer)))

    def forget_memory(memory_id: str, config: RunnableConfig) -> str:
        return _answer(engram.run(_tools.forget(memory_id, scopes.of(config))))

    async def aforget_memory(memory_id: str, config: RunnableConfig) -> str:
        return _answer(await engram.arun(_tools.forget(memory_id, scopes.of(config))))

    return [
        _tool(search_memory, asearch_memory, "search_memory", _tools.SEARCH_DESCRIPTION),
        _tool(remember, aremember, "remember", _tools.REMEMBER_DESCRIPTION),
        _tool(forget_memory, aforget_memory, "forget_memory", _tools.FORGET_DESCRIPTION),
    ]


def _tool(func: Callable[..., str], coroutine: Callable[..., Awaitable[str]], name: str, description: str) -> BaseTool:
    # handle_tool_error: a failure is a ToolMessage with status "error" that the agent reads.
    return StructuredTool.from_function(func, coroutine, name=name, description=description, handle_tool_error=True)


def _answer(text: str) -> str:
    if isinstance(text, ToolFailure):
        raise ToolException(str(text))
    return text


class EngramRetriever(BaseRetriever):
    """A retriever over one scope's memories: ``Document``s best first, each with engram's score.

    A document's ``id`` is the memory's id; its metadata holds the memory's score, times and scope
    ids, and the memory's own metadata. A ``ValidationError`` (an empty query, a bad filter) raises:
    a retriever has no agent to tell.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: AnyMemory
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    limit: int = _tools.DEFAULT_LIMIT
    filters: dict[str, Any] | None = None
    threshold: float | None = None

    def _search(self, query: str) -> Steps[list[Document]]:
        scope = scope_ids(user_id=self.user_id, agent_id=self.agent_id, run_id=self.run_id)
        found = yield verb("search", query, **scope, limit=self.limit, filters=self.filters, threshold=self.threshold)
        return [_document(item) for item in found["results"]]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return EngramHandle(self.memory).run(self._search(query))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return await EngramHandle(self.memory).arun(self._search(query))


def _document(item: Mapping[str, Any]) -> Document:
    known = ("score", "created_at", "updated_at", "valid_from", "user_id", "agent_id", "run_id", "actor_id")
    metadata = {**item.get("metadata", {}), **{key: item[key] for key in known if item.get(key) is not None}}
    return Document(page_content=item["memory"], metadata=metadata, id=item["id"])


__all__ = ["AGENT_FIXABLE", "EngramRetriever", "memory_tools"]
