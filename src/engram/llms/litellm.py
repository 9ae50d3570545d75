"""An optional adapter to LiteLLM, for the providers engram has no module for.

    {"llm": {"provider": "litellm", "config": {"model": "bedrock/anthropic.claude-3-haiku"}}}

LiteLLM reads each provider's key from its usual environment variable. Its own
retries are off (``num_retries=0``); its exceptions subclass the ``openai``
SDK's, so they map like the OpenAI provider's.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram.llms.base import ChatMessage, Completion
from engram.llms.openai_compat import completion_from_openai, response_format
from engram.llms.provider import LLMSettings, ProviderLLM
from engram.providers.openai import StructuredOutput, map_openai_errors
from engram.providers.settings import import_sdk, parse_settings


class LiteLLMSettings(LLMSettings):
    api_key: SecretStr | None = None
    api_base: str | None = Field(default=None, validation_alias=AliasChoices("api_base", "base_url"))
    structured_output: StructuredOutput = "json_schema"


class LiteLLM(ProviderLLM):
    provider = "litellm"
    settings: LiteLLMSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(LiteLLMSettings, "LLM provider 'litellm'", config)
        super().__init__(settings, endpoint=settings.api_base or settings.model.split("/")[0])
        self._litellm = import_sdk("litellm", extra="litellm")

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        settings = self.settings
        request: dict[str, Any] = {
            "model": settings.model,
            "messages": messages,
            "timeout": settings.timeout,
            "num_retries": 0,  # engram's CallRunner is the only retry loop
        }
        for key in ("temperature", "top_p", "max_tokens", "api_base"):
            if (value := getattr(settings, key)) is not None:
                request[key] = value
        if settings.api_key is not None:
            request["api_key"] = settings.api_key.get_secret_value()
        if json_schema is not None:
            request.update(response_format(settings.structured_output, json_schema))
        with map_openai_errors(self.provider, self.model_name, "the provider's key variable"):
            response = self._litellm.completion(**request)
        return completion_from_openai(response.model_dump(), self.provider, self.model_name)


__all__ = ["LiteLLM", "LiteLLMSettings"]
