"""Embeddings from Gemini (embedContent) through the ``google-genai`` SDK.

Stored text and questions are embedded with the matching task types
(RETRIEVAL_DOCUMENT / RETRIEVAL_QUERY); ``dimensions`` becomes
``output_dimensionality``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram.embedders.base import Purpose
from engram.embedders.provider import EmbedderSettings, ProviderEmbedder
from engram.providers.gemini import gemini_client, map_gemini_errors
from engram.providers.settings import import_sdk, parse_settings

DEFAULT_MODEL = "gemini-embedding-001"
TASK_TYPES = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


class GeminiEmbedderSettings(EmbedderSettings):
    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "gemini_base_url"))
    batch_size: int = Field(default=100, ge=1, le=100)  # the API's limit per request


class GeminiEmbedder(ProviderEmbedder):
    provider = "gemini"
    settings: GeminiEmbedderSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(GeminiEmbedderSettings, "embedder 'gemini'", config)
        self._client, endpoint = gemini_client(settings.api_key, settings.base_url, settings.timeout)
        self._types = import_sdk("google.genai.types", extra="gemini", package="google-genai")
        super().__init__(settings, endpoint=endpoint)

    def _embed_once(self, texts: list[str], purpose: Purpose) -> list[Sequence[float]]:
        config = self._types.EmbedContentConfig(
            task_type=TASK_TYPES[purpose], output_dimensionality=self.settings.dimensions
        )
        with map_gemini_errors(self.provider, self.settings.model):
            response = self._client.models.embed_content(model=self.settings.model, contents=texts, config=config)
        return [list(embedding.values or []) for embedding in response.embeddings or []]


__all__ = ["DEFAULT_MODEL", "GeminiEmbedder", "GeminiEmbedderSettings"]
