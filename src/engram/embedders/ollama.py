"""Embeddings from Ollama's native /api/embed (many texts per request)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import AliasChoices, Field

from engram.embedders.base import Purpose
from engram.embedders.provider import EmbedderSettings, ProviderEmbedder
from engram.providers.ollama import map_ollama_errors, ollama_host
from engram.providers.settings import import_sdk, parse_settings

DEFAULT_MODEL = "nomic-embed-text"


class OllamaEmbedderSettings(EmbedderSettings):
    model: str = DEFAULT_MODEL
    host: str | None = Field(default=None, validation_alias=AliasChoices("host", "ollama_base_url", "base_url"))
    keep_alive: str | None = None


class OllamaEmbedder(ProviderEmbedder):
    provider = "ollama"
    settings: OllamaEmbedderSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(OllamaEmbedderSettings, "embedder 'ollama'", config)
        host = ollama_host(settings.host)
        super().__init__(settings, endpoint=host)
        self._client = import_sdk("ollama", extra="ollama").Client(host=host, timeout=settings.timeout)

    def _embed_once(self, texts: list[str], purpose: Purpose) -> list[Sequence[float]]:
        with map_ollama_errors(self.provider, self.settings.model):
            response = self._client.embed(
                model=self.settings.model,
                input=texts,
                dimensions=self.settings.dimensions,
                keep_alive=self.settings.keep_alive,
            )
        return list(response.embeddings or [])


__all__ = ["DEFAULT_MODEL", "OllamaEmbedder", "OllamaEmbedderSettings"]
