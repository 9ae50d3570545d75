"""Embedders, found by provider name. Each module is imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from engram.embedders.base import Embedder, Purpose, Vectors, normalise_rows
from engram.errors import ConfigError

DEFAULT_EMBEDDER = "local"

# provider name -> "module:class"
EMBEDDERS: dict[str, str] = {
    "local": "engram.embedders.local_minilm:LocalMiniLM",
    "hashing": "engram.embedders.hashing:HashingEmbedder",
}


def build_embedder(provider: str | None = None, config: dict[str, Any] | None = None) -> Embedder:
    name = provider or DEFAULT_EMBEDDER
    target = EMBEDDERS.get(name)
    if target is None:
        raise ConfigError(f"unknown embedder provider {name!r}; known: {', '.join(sorted(EMBEDDERS))}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**(config or {}))  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"invalid settings for embedder {name!r}: {exc}") from exc


__all__ = ["EMBEDDERS", "Embedder", "Purpose", "Vectors", "build_embedder", "normalise_rows"]
