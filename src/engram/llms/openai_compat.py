"""OpenAI chat completions: OpenAI, Azure OpenAI, and every OpenAI-compatible server.

The compatible servers (Ollama's /v1, vLLM, LM Studio, Groq, Together, DeepSeek,
xAI, OpenRouter) are presets (``engram.providers.openai``): a base URL, a key
variable and how much structured output they take. The answer's JSON schema is
sent as ``response_format`` ``json_schema`` where the endpoint has it, as
``json_object`` (JSON mode) where it only has that, and not at all otherwise;
the pipeline parses the answer tolerantly in every case.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, model_validator

from engram.errors import ConfigError
from engram.llms.base import ChatMessage, Completion, Usage
from engram.llms.provider import LLMSettings, ProviderLLM, text_of
from engram.providers.openai import (
    PRESETS,
    Preset,
    StructuredOutput,
    api_key_for,
    env_base_url,
    map_openai_errors,
)
from engram.providers.settings import env_value, import_sdk, parse_settings
from engram.resilience import AttemptError

DEFAULT_MODEL = "gpt-4.1-mini"
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")  # they reject temperature and top_p


class OpenAISettings(LLMSettings):
    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "openai_base_url", "api_base"))
    organization: str | None = None
    project: str | None = None
    default_headers: dict[str, str] | None = None
    structured_output: StructuredOutput | None = Field(
        default=None, description="json_schema, json_object or none; the preset's choice when unset"
    )


class OpenAILLM(ProviderLLM):
    """Chat completions through the ``openai`` SDK, for OpenAI or a preset's endpoint."""

    provider = "openai"
    settings: OpenAISettings

    def __init__(self, preset: str = "openai", **config: Any) -> None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown OpenAI-compatible preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        self.provider = preset  # errors and concurrency limits name the preset
        self.preset: Preset = PRESETS[preset]
        settings = parse_settings(OpenAISettings, f"LLM provider {preset!r}", config)
        base_url = settings.base_url or env_base_url(self.preset) or self.preset.base_url
        super().__init__(settings, endpoint=base_url)
        sdk = import_sdk("openai", extra="openai")
        self._client = sdk.OpenAI(
            api_key=api_key_for(preset, self.preset, settings.api_key, custom_url=base_url != self.preset.base_url),
            base_url=base_url,
            organization=settings.organization,
            project=settings.project,
            default_headers=settings.default_headers,
            timeout=settings.timeout,
            max_retries=0,  # engram's CallRunner is the only retry loop
        )

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        with map_openai_errors(self.provider, self.model_name, self.preset.key_env):
            raw = self._client.chat.completions.with_raw_response.create(**self._request(messages, json_schema))
            body = raw.http_response.text
        return completion_from_openai(body, self.provider, self.model_name)

    def _request(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> dict[str, Any]:
        settings = self.settings
        request: dict[str, Any] = {"model": settings.model, "messages": messages}
        if not settings.model.startswith(_REASONING_PREFIXES):
            if settings.temperature is not None:
                request["temperature"] = settings.temperature
            if settings.top_p is not None:
                request["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            request[self.preset.max_tokens_key] = settings.max_tokens
        mode = settings.structured_output or self.preset.structured_output
        if json_schema is not None:
            request.update(response_format(mode, json_schema))
        return request


class AzureOpenAISettings(OpenAISettings):
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    api_version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_azure_kwargs(cls, data: Any) -> Any:
        """mem0 nests the Azure settings in ``azure_kwargs``; accept that shape too."""
        if isinstance(data, dict) and isinstance(data.get("azure_kwargs"), dict):
            data = {**{k: v for k, v in data.items() if k != "azure_kwargs"}, **data["azure_kwargs"]}
        return data


class AzureOpenAILLM(OpenAILLM):
    """Azure OpenAI: a deployment on an Azure endpoint, with an API version."""

    def __init__(self, **config: Any) -> None:  # not OpenAILLM.__init__: the client differs
        self.provider = "azure_openai"
        self.preset = Preset("", "AZURE_OPENAI_API_KEY", max_tokens_key="max_completion_tokens")
        settings = parse_settings(AzureOpenAISettings, "LLM provider 'azure_openai'", config)
        endpoint = settings.azure_endpoint or env_value("AZURE_OPENAI_ENDPOINT")
        if endpoint is None:
            raise ConfigError(
                "Azure OpenAI needs an endpoint: set AZURE_OPENAI_ENDPOINT or pass "
                '{"azure_endpoint": "https://NAME.openai.azure.com"}'
            )
        key = settings.api_key.get_secret_value() if settings.api_key else env_value("AZURE_OPENAI_API_KEY")
        if key is None:
            raise ConfigError('Azure OpenAI needs a key: set AZURE_OPENAI_API_KEY or pass {"api_key": "..."}')
        ProviderLLM.__init__(self, settings, endpoint=endpoint)
        sdk = import_sdk("openai", extra="openai")
        self._client = sdk.AzureOpenAI(
            api_key=key,
            azure_endpoint=endpoint,
            azure_deployment=settings.azure_deployment or settings.model,
            api_version=settings.api_version or env_value("OPENAI_API_VERSION") or "2024-10-21",
            default_headers=settings.default_headers,
            timeout=settings.timeout,
            max_retries=0,
        )


def response_format(mode: StructuredOutput, json_schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` request field for a structured-output mode."""
    if mode == "json_schema":
        # strict=False: strict mode needs every property required, and engram's schemas
        # leave some optional; the pipeline validates the answer itself.
        spec = {"name": "answer", "schema": json_schema, "strict": False}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def completion_from_openai(body: str | dict[str, Any], provider: str, model: str) -> Completion:
    """Read a chat-completion response body; a refusal or a malformed body is an AttemptError."""
    try:
        data = json.loads(body) if isinstance(body, str) else body
        choice = data["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise AttemptError(
            f"the response was malformed (no choices[0].message): {str(body)[:200]!r}",
            provider=provider,
            model=model,
        ) from exc
    refusal = message.get("refusal")
    if refusal or choice.get("finish_reason") == "content_filter":
        raise AttemptError(
            f"the model refused to answer: {refusal or 'content filter'}", provider=provider, model=model
        )
    usage = data.get("usage") or {}
    return Completion(
        text=text_of(message.get("content")),  # some servers send a list of parts
        usage=Usage(1, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        model=data.get("model") or model,
    )


__all__ = [
    "DEFAULT_MODEL",
    "AzureOpenAILLM",
    "AzureOpenAISettings",
    "OpenAILLM",
    "OpenAISettings",
    "completion_from_openai",
    "response_format",
]
