"""``graph_store`` in the config (docs/graph.md): graph memory lives in the memory store itself, so the
settings only say whether it is on and how it matches entities and ranks memories."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engram.errors import ConfigError
from engram.pipeline.entities import DEFAULT_ENTITY_THRESHOLD
from engram.providers import GRAPH_STORES
from engram.search import GRAPH_WEIGHT

DEFAULT_HOPS = 2


@dataclass(frozen=True)
class GraphSettings:
    """``graph_store`` of the config: the graph lives in the memory store itself."""

    threshold: float = DEFAULT_ENTITY_THRESHOLD  # name-embedding similarity that merges two entities
    hops: int = DEFAULT_HOPS
    weight: float = GRAPH_WEIGHT  # of the graph's ranking in search's fusion


def graph_settings(raw: Mapping[str, Any] | None, backend: str) -> GraphSettings | None:
    """Validate ``graph_store``; ``backend`` is the memory store's ("sqlite" or "postgres")."""
    if not raw:
        return None
    settings = dict(raw)
    provider = str(settings.pop("provider", backend)).lower()
    if GRAPH_STORES.find(provider) is None:
        raise ConfigError(
            f"graph_store provider {provider!r} is not supported: engram keeps the graph in its own store "
            f'(the built-in graph), so no graph database is needed. Use {{"provider": "{backend}"}}.'
        )
    if GRAPH_STORES.canonical(provider) != backend:
        raise ConfigError(
            f"graph_store provider {provider!r} names another backend than the memory store's: the graph "
            f'lives in the same database as the memories. Use {{"provider": "{backend}"}}.'
        )
    options = dict(settings.pop("config", None) or {})
    if "threshold" in settings:
        options.setdefault("threshold", settings.pop("threshold"))
    if settings:
        raise ConfigError(
            f"unknown graph_store settings: {', '.join(sorted(settings))} (the graph is extracted by the "
            "same LLM call as the facts; known: provider, config.threshold, config.hops, config.weight)"
        )
    threshold = options.pop("threshold", DEFAULT_ENTITY_THRESHOLD)
    hops = options.pop("hops", DEFAULT_HOPS)
    weight = options.pop("weight", GRAPH_WEIGHT)
    if options:
        raise ConfigError(
            f"unknown graph_store.config settings: {', '.join(sorted(options))}; known: threshold, hops, weight"
        )
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise ConfigError(f"graph_store threshold must be a number in (0, 1], got {threshold!r}")
    if isinstance(hops, bool) or hops not in (0, 1, 2):
        raise ConfigError(f"graph_store hops must be 0, 1 or 2, got {hops!r}")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ConfigError(f"graph_store weight must be a number in [0, 1], got {weight!r}")
    return GraphSettings(float(threshold), int(hops), float(weight))


__all__ = ["DEFAULT_HOPS", "GraphSettings", "graph_settings"]
