"""A scripted chat model for LangChain and LangGraph agents: the framework's own fake model, given tools."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class ScriptedChatModel(GenericFakeChatModel):
    """LangChain's own fake chat model; it takes tools (its answers are scripted, so it ignores them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self


def calls(*steps: tuple[str, dict[str, Any]] | str) -> ScriptedChatModel:
    """A chat model that calls each tool given as (name, args) in turn, or answers a string."""
    messages = [
        AIMessage(content="", tool_calls=[{"name": step[0], "args": step[1], "id": f"call_{i}"}])
        if isinstance(step, tuple)
        else AIMessage(content=step)
        for i, step in enumerate(steps)
    ]
    return ScriptedChatModel(messages=iter(messages))
