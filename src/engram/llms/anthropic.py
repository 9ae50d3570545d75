"""Anthropic's Messages API through the ``anthropic`` SDK.

Structured output is a forced tool call: the answer's JSON schema becomes the
``input_schema`` of one tool, ``answer``, that the model must call; its input is
the answer. System messages move to the ``system`` field, and OpenAI-style image
parts become Anthropic image blocks.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram.errors import ConfigError
from engram.llms.base import ChatMessage, Completion, Usage
from engram.llms.provider import LLMSettings, ProviderLLM, image_urls_of, parse_data_url, text_of
from engram.providers.anthropic import map_anthropic_errors
from engram.providers.settings import env_value, import_sdk, parse_settings

DEFAULT_MODEL = "claude-haiku-4-5"
DEFAULT_BASE_URL = "https://api.anthropic.com"
ANSWER_TOOL = "answer"


class AnthropicSettings(LLMSettings):
    model: str = DEFAULT_MODEL
    # Current Claude models choose their own sampling; the SDK no longer takes these as
    # arguments, so they are sent (in the request body) only when configured.
    temperature: float | None = Field(default=None, ge=0, le=1)
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "anthropic_base_url"))
    default_headers: dict[str, str] | None = None


class AnthropicLLM(ProviderLLM):
    provider = "anthropic"
    settings: AnthropicSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(AnthropicSettings, "LLM provider 'anthropic'", config)
        base_url = settings.base_url or env_value("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        key = settings.api_key.get_secret_value() if settings.api_key else env_value("ANTHROPIC_API_KEY")
        if key is None:
            raise ConfigError(
                "the 'anthropic' provider needs an API key: set ANTHROPIC_API_KEY in the environment "
                'or pass {"api_key": "..."} in the LLM config'
            )
        super().__init__(settings, endpoint=base_url)
        sdk = import_sdk("anthropic", extra="anthropic")
        self._client = sdk.Anthropic(
            api_key=key,
            base_url=base_url,
            default_headers=settings.default_headers,
            timeout=settings.timeout,
            max_retries=0,  # engram's CallRunner is the only retry loop
        )

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        with map_anthropic_errors(self.provider, self.model_name):
            raw = self._client.messages.with_raw_response.create(**self._request(messages, json_schema))
            body = raw.http_response.text
        return self._completion(body)

    def _request(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> dict[str, Any]:
        settings = self.settings
        system = "\n\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
        request: dict[str, Any] = {
            "model": settings.model,
            "max_tokens": settings.max_tokens or 2048,
            "messages": _anthropic_messages([m for m in messages if m.get("role") != "system"]),
        }
        if system:
            request["system"] = system
        sampling = {"temperature": settings.temperature, "top_p": settings.top_p}
        if extra := {key: value for key, value in sampling.items() if value is not None}:
            request["extra_body"] = extra
        if json_schema is not None:
            request["tools"] = [
                {
                    "name": ANSWER_TOOL,
                    "description": "Give your answer by calling this tool with it.",
                    "input_schema": json_schema,
                }
            ]
            request["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
        return request

    def _completion(self, body: str) -> Completion:
        try:
            data = json.loads(body)
            blocks = data["content"]
            texts = [b["text"] for b in blocks if b.get("type") == "text"]
            tool_inputs = [b["input"] for b in blocks if b.get("type") == "tool_use"]
        except (ValueError, KeyError, TypeError) as exc:
            raise self._malformed(f"no content blocks in {body[:200]!r}") from exc
        if data.get("stop_reason") == "refusal":
            raise self._refused(" ".join(texts) or "stop_reason is 'refusal'")
        text = json.dumps(tool_inputs[0]) if tool_inputs else "".join(texts)
        usage = data.get("usage") or {}
        prompt = sum(
            int(usage.get(key) or 0)
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        return Completion(text, Usage(1, prompt, int(usage.get("output_tokens") or 0)), data.get("model"))


def _anthropic_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """OpenAI-style messages as Anthropic ones: user/assistant turns, image blocks, merged runs."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.get("role") == "assistant" else "user"
        blocks: list[dict[str, Any]] = [_image_block(url) for url in image_urls_of(message.get("content"))]
        if text := text_of(message.get("content")):
            blocks.append({"type": "text", "text": text})
        if not blocks:
            continue
        if out and out[-1]["role"] == role:  # the API wants turns to alternate
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _image_block(url: str) -> dict[str, Any]:
    data_url = parse_data_url(url)
    if data_url is None:
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = data_url
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


__all__ = ["DEFAULT_MODEL", "AnthropicLLM", "AnthropicSettings"]
