"""Providers, found by name: one registry for each kind (LLMs, embedders, stores, graph stores).

A registry maps a provider name (and its aliases) to ``"module:attribute"``, imported only when
used, so that a missing SDK costs nothing until it is asked for. Outside packages add providers
through the entry-point group of the kind (``engram.llms``, ``engram.embedders``, ``engram.stores``,
``engram.graph_stores``): the entry point's name is the provider name, its value ``module:attribute``.

Vendor helpers that an LLM and an embedder of the same vendor share (clients, error mapping, keys)
live in one module per vendor beside this one: ``openai.py``, ``gemini.py``, ``ollama.py``, ``anthropic.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from engram.errors import ConfigError
from engram.providers.openai import PRESETS


@dataclass(frozen=True)
class Registry:
    """The providers of one kind: built-in ones by name, aliases, and an entry-point group."""

    kind: str  # how error messages name it: "LLM provider", "embedder provider", ...
    group: str  # the entry-point group outside packages register in
    builtins: Mapping[str, str]  # name -> "module:attribute"
    aliases: Mapping[str, str] = field(default_factory=dict)  # other name -> name

    def canonical(self, name: str) -> str:
        return self.aliases.get(name, name)

    def names(self) -> list[str]:
        """Every provider name this registry knows: built in or from an installed package."""
        return sorted(set(self.builtins) | {entry.name for entry in entry_points(group=self.group)})

    def find(self, name: str) -> str | None:
        """``"module:attribute"`` of a provider, or None."""
        name = self.canonical(name)
        if name in self.builtins:
            return self.builtins[name]
        for entry in entry_points(group=self.group, name=name):
            return str(entry.value)
        return None

    def load(self, name: str) -> Any:
        """The provider's class or factory, imported now; ConfigError lists the known names."""
        target = self.find(name)
        if target is None:
            raise ConfigError(f"unknown {self.kind} {name!r}; use one of: {', '.join(self.names())}")
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


OPENAI_COMPATIBLE_LLM = "engram.llms.openai_compat:OpenAILLM"
OPENAI_COMPATIBLE_EMBEDDER = "engram.embedders.openai_compat:OpenAIEmbedder"

LLMS = Registry(
    "LLM provider",
    "engram.llms",
    {
        "openai": OPENAI_COMPATIBLE_LLM,
        "azure_openai": "engram.llms.openai_compat:AzureOpenAILLM",
        "anthropic": "engram.llms.anthropic:AnthropicLLM",
        "gemini": "engram.llms.gemini:GeminiLLM",
        "ollama": "engram.llms.ollama:OllamaLLM",
        "litellm": "engram.llms.litellm:LiteLLM",
        "local": "engram.llms.local:LocalLLM",
        "scripted": "engram.llms.scripted:ScriptedLLM",
        # every OpenAI-compatible preset is served by the OpenAI module
        **{name: OPENAI_COMPATIBLE_LLM for name in PRESETS if name != "openai"},
    },
    {"google": "gemini", "google_genai": "gemini", "azure": "azure_openai", "lmstudio_openai": "lmstudio"},
)

EMBEDDERS = Registry(
    "embedder provider",
    "engram.embedders",
    {
        "local": "engram.embedders.local_minilm:LocalMiniLM",
        "hashing": "engram.embedders.hashing:HashingEmbedder",
        "multilingual": "engram.embedders.multilingual_e5:MultilingualE5",
        "openai": OPENAI_COMPATIBLE_EMBEDDER,
        "ollama": "engram.embedders.ollama:OllamaEmbedder",
        "gemini": "engram.embedders.gemini:GeminiEmbedder",
        "sentence_transformers": "engram.embedders.sentence_transformers:SentenceTransformerEmbedder",
        **{
            name: OPENAI_COMPATIBLE_EMBEDDER
            for name, preset in PRESETS.items()
            if name != "openai" and preset.has_embeddings
        },
    },
    {"huggingface": "sentence_transformers", "sentence-transformers": "sentence_transformers", "google": "gemini"},
)

# A store factory takes (settings, config, default_path) and returns a Store (storage/__init__.py).
STORES = Registry(
    "vector_store provider",
    "engram.stores",
    {"sqlite": "engram.storage:sqlite_store", "postgres": "engram.storage:postgres_store"},
    {"sqlite3": "sqlite", "local": "sqlite", "postgresql": "postgres", "pgvector": "postgres"},
)

# The graph lives in the memory store itself: a graph store is the store's own graph tables, so its
# name must name the memory store's backend (``graph_settings.graph_settings`` checks it).
GRAPH_STORES = Registry(
    "graph_store provider",
    "engram.graph_stores",
    {"sqlite": "engram.storage.graph_sqlite:SQLiteGraph", "postgres": "engram.storage.graph_postgres:PostgresGraph"},
    {"sqlite3": "sqlite", "local": "sqlite", "postgresql": "postgres", "pgvector": "postgres"},
)


def with_preset(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of an OpenAI-compatible preset name (``groq``, ``vllm`` ...) say which preset it is."""
    chosen = dict(settings)
    if name in PRESETS and name != "openai":
        chosen["preset"] = name
    return chosen


__all__ = ["EMBEDDERS", "GRAPH_STORES", "LLMS", "STORES", "Registry", "with_preset"]
