"""Embedders, found by provider name (``engram.providers.EMBEDDERS``). Each module is imported only when used."""

from __future__ import annotations

from typing import Any

from engram.embedders.base import Embedder, Purpose, Vectors, normalise_rows
from engram.errors import ConfigError
from engram.providers import EMBEDDERS, with_preset
from engram.providers.openai import PRESETS

DEFAULT_EMBEDDER = "local"


def build_embedder(provider: str | None = None, config: dict[str, Any] | None = None) -> Embedder:
    name = EMBEDDERS.canonical(provider) if provider else DEFAULT_EMBEDDER
    if EMBEDDERS.find(name) is None and name in PRESETS:
        raise ConfigError(
            f"{name} serves no embeddings API, so it cannot be the embedder: keep it as the LLM and "
            "use another embedder (local, openai, ollama or gemini)"
        )
    cls = EMBEDDERS.load(name)
    settings = with_preset(name, config or {})
    try:
        return cls(**settings)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"invalid settings for embedder {name!r}: {exc}") from exc


__all__ = ["EMBEDDERS", "Embedder", "Purpose", "Vectors", "build_embedder", "normalise_rows"]
