"""Embeddings from OpenAI or any OpenAI-compatible endpoint (/v1/embeddings).

The presets of ``engram.providers.openai`` work here too (``vllm``, ``lmstudio``,
``ollama_openai``, ``together`` ...). ``dimensions`` is sent to models that can
shorten their vectors (text-embedding-3-*).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram.embedders.base import Purpose
from engram.embedders.provider import EmbedderSettings, ProviderEmbedder
from engram.errors import ConfigError
from engram.providers.openai import PRESETS, api_key_for, map_openai_errors
from engram.providers.settings import env_value, import_sdk, parse_settings
from engram.resilience import AttemptError

DEFAULT_MODEL = "text-embedding-3-small"


class OpenAIEmbedderSettings(EmbedderSettings):
    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "openai_base_url", "api_base"))
    send_dimensions: bool | None = Field(
        default=None, description="send 'dimensions' in requests; by default only to text-embedding-3 models"
    )


class OpenAIEmbedder(ProviderEmbedder):
    provider = "openai"
    settings: OpenAIEmbedderSettings

    def __init__(self, preset: str = "openai", **config: Any) -> None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown OpenAI-compatible preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        self.provider = preset
        spec = PRESETS[preset]
        if not spec.has_embeddings:
            raise ConfigError(f"{preset} serves no embeddings API: use another embedder provider")
        settings = parse_settings(OpenAIEmbedderSettings, f"embedder {preset!r}", config)
        base_url = settings.base_url or (env_value(spec.base_url_env) if spec.base_url_env else None) or spec.base_url
        super().__init__(settings, endpoint=base_url)
        sdk = import_sdk("openai", extra="openai")
        self._client = sdk.OpenAI(
            api_key=api_key_for(preset, spec, settings.api_key, custom_url=base_url != spec.base_url),
            base_url=base_url,
            timeout=settings.timeout,
            max_retries=0,  # engram's CallRunner is the only retry loop
        )

    def _embed_once(self, texts: list[str], purpose: Purpose) -> list[Sequence[float]]:
        request: dict[str, Any] = {"model": self.settings.model, "input": texts, "encoding_format": "float"}
        send = self.settings.send_dimensions
        if send is None:
            send = self.settings.model.startswith("text-embedding-3")
        if send and self.settings.dimensions:
            request["dimensions"] = self.settings.dimensions
        with map_openai_errors(self.provider, self.settings.model):
            raw = self._client.embeddings.with_raw_response.create(**request)
            body = raw.http_response.text
        try:
            items = sorted(json.loads(body)["data"], key=lambda item: item["index"])
            return [item["embedding"] for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise AttemptError(
                f"the response was malformed: {body[:200]!r}",
                provider=self.provider,
                model=self.settings.model,
            ) from exc


__all__ = ["DEFAULT_MODEL", "OpenAIEmbedder", "OpenAIEmbedderSettings"]
