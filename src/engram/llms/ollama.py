"""Ollama's native API (/api/chat) through the ``ollama`` SDK.

Structured output: the answer's JSON schema is sent as ``format``, which
Ollama turns into constrained decoding. Images travel as base64 in the
message's ``images`` list (URLs are fetched first, since Ollama takes bytes).
Reasoning models' thinking comes back apart from the answer, or inline in
``<think>`` blocks that the pipeline strips.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import AliasChoices, Field

from engram.llms.base import ChatMessage, Completion, Usage
from engram.llms.provider import LLMSettings, ProviderLLM, image_urls_of, parse_data_url, text_of
from engram.providers.ollama import map_ollama_errors, ollama_host
from engram.providers.settings import import_sdk, parse_settings

DEFAULT_MODEL = "qwen2.5:3b"


class OllamaSettings(LLMSettings):
    model: str = DEFAULT_MODEL
    host: str | None = Field(default=None, validation_alias=AliasChoices("host", "ollama_base_url", "base_url"))
    num_ctx: int | None = Field(default=None, ge=256, description="context window; Ollama's default when unset")
    keep_alive: str | None = None


class OllamaLLM(ProviderLLM):
    provider = "ollama"
    settings: OllamaSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(OllamaSettings, "LLM provider 'ollama'", config)
        host = ollama_host(settings.host)
        super().__init__(settings, endpoint=host)
        sdk = import_sdk("ollama", extra="ollama")
        self._client = sdk.Client(host=host, timeout=settings.timeout)

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        settings = self.settings
        options: dict[str, Any] = {}
        if settings.temperature is not None:
            options["temperature"] = settings.temperature
        if settings.top_p is not None:
            options["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            options["num_predict"] = settings.max_tokens
        if settings.num_ctx is not None:
            options["num_ctx"] = settings.num_ctx
        with map_ollama_errors(self.provider, self.model_name):
            wire = [self._ollama_message(m) for m in messages]
            response = self._client.chat(
                model=settings.model,
                messages=wire,
                format=json_schema,
                options=options,
                keep_alive=settings.keep_alive,
                stream=False,
            )
        message = response.message
        if message is None:
            raise self._malformed("no message in the response")
        return Completion(
            message.content or "",
            Usage(1, int(response.prompt_eval_count or 0), int(response.eval_count or 0)),
            response.model or settings.model,
        )

    def _ollama_message(self, message: ChatMessage) -> dict[str, Any]:
        content = message.get("content")
        wire: dict[str, Any] = {"role": message.get("role", "user"), "content": text_of(content)}
        images = [self._image_bytes(url) for url in image_urls_of(content)]
        if images:
            wire["images"] = images
        return wire

    def _image_bytes(self, url: str) -> str:
        """Base64 of an image: decoded from a data URL, or fetched from its URL."""
        data_url = parse_data_url(url)
        if data_url is not None:
            return data_url[1]
        import httpx

        response = httpx.get(url, timeout=self.settings.timeout, follow_redirects=True)
        response.raise_for_status()
        return base64.b64encode(response.content).decode("ascii")


__all__ = ["DEFAULT_MODEL", "OllamaLLM", "OllamaSettings"]
