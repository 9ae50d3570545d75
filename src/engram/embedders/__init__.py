"""Embedders, found by provider name. Each module is imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from engram.embedders.base import Embedder, Purpose, Vectors, normalise_rows
from engram.errors import ConfigError
from engram.llms.presets import PRESETS

DEFAULT_EMBEDDER = "local"

# provider name -> "module:class"; every OpenAI-compatible preset is served by the OpenAI module
EMBEDDERS: dict[str, str] = {
    "local": "engram.embedders.local_minilm:LocalMiniLM",
    "hashing": "engram.embedders.hashing:HashingEmbedder",
    "openai": "engram.embedders.openai_compat:OpenAIEmbedder",
    "ollama": "engram.embedders.ollama:OllamaEmbedder",
    "gemini": "engram.embedders.gemini:GeminiEmbedder",
    "sentence_transformers": "engram.embedders.sentence_transformers:SentenceTransformerEmbedder",
    **{
        name: "engram.embedders.openai_compat:OpenAIEmbedder"
        for name, preset in PRESETS.items()
        if name != "openai" and preset.has_embeddings
    },
}
ALIASES = {
    "huggingface": "sentence_transformers",
    "sentence-transformers": "sentence_transformers",
    "google": "gemini",
}


def build_embedder(provider: str | None = None, config: dict[str, Any] | None = None) -> Embedder:
    name = ALIASES.get(provider, provider) if provider else DEFAULT_EMBEDDER
    target = EMBEDDERS.get(name)
    if target is None and name in PRESETS:
        raise ConfigError(
            f"{name} serves no embeddings API, so it cannot be the embedder: keep it as the LLM and "
            "use another embedder (local, openai, ollama or gemini)"
        )
    if target is None:
        raise ConfigError(f"unknown embedder provider {name!r}; known: {', '.join(sorted(EMBEDDERS))}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    settings = dict(config or {})
    if name in PRESETS and name != "openai":
        settings["preset"] = name
    try:
        return cls(**settings)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"invalid settings for embedder {name!r}: {exc}") from exc


__all__ = ["EMBEDDERS", "Embedder", "Purpose", "Vectors", "build_embedder", "normalise_rows"]
