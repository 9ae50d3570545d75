"""Google Gemini through the ``google-genai`` SDK (generateContent).

Structured output: ``response_mime_type="application/json"`` with the answer's
JSON schema as ``response_json_schema``. System messages become the
``system_instruction``; image parts become inline data (data URLs) or file data
(other URLs).
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram.llms.base import ChatMessage, Completion, Usage
from engram.llms.provider import LLMSettings, ProviderLLM, image_urls_of, parse_data_url, text_of
from engram.providers.gemini import gemini_client, map_gemini_errors
from engram.providers.settings import import_sdk, parse_settings

DEFAULT_MODEL = "gemini-2.5-flash"
_REFUSALS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}


class GeminiSettings(LLMSettings):
    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "gemini_base_url"))


class GeminiLLM(ProviderLLM):
    provider = "gemini"
    settings: GeminiSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(GeminiSettings, "LLM provider 'gemini'", config)
        self._client, endpoint = gemini_client(settings.api_key, settings.base_url, settings.timeout)
        self._types = import_sdk("google.genai.types", extra="gemini", package="google-genai")
        super().__init__(settings, endpoint=endpoint)

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        settings = self.settings
        config: dict[str, Any] = {}
        system = "\n\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
        if system:
            config["system_instruction"] = system
        if settings.temperature is not None:
            config["temperature"] = settings.temperature
        if settings.top_p is not None:
            config["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            config["max_output_tokens"] = settings.max_tokens
        if json_schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = json_schema
        contents = _gemini_contents([m for m in messages if m.get("role") != "system"], self._types)
        with map_gemini_errors(self.provider, self.model_name):
            response = self._client.models.generate_content(model=settings.model, contents=contents, config=config)
        return self._completion(response)

    def _completion(self, response: Any) -> Completion:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise self._refused(f"the prompt was blocked ({_enum_name(feedback.block_reason)})")
        candidates = response.candidates or []
        if not candidates:
            raise self._malformed("no candidates in the response")
        candidate = candidates[0]
        finish = _enum_name(getattr(candidate, "finish_reason", None))
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        # Thought summaries are not the answer.
        text = "".join(part.text for part in parts if part.text and not getattr(part, "thought", False))
        if finish in _REFUSALS and not text:
            raise self._refused(f"finish reason {finish}")
        meta = response.usage_metadata
        prompt = int(getattr(meta, "prompt_token_count", 0) or 0) if meta else 0
        completion = 0
        if meta:  # thinking tokens are billed as output
            completion = int(meta.candidates_token_count or 0) + int(getattr(meta, "thoughts_token_count", 0) or 0)
        return Completion(text, Usage(1, prompt, completion), getattr(response, "model_version", None))


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value) or "")


def _gemini_contents(messages: list[ChatMessage], types: Any) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = "model" if message.get("role") == "assistant" else "user"
        parts: list[Any] = [_image_part(url, types) for url in image_urls_of(message.get("content"))]
        if text := text_of(message.get("content")):
            parts.append(types.Part.from_text(text=text))
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _image_part(url: str, types: Any) -> Any:
    data_url = parse_data_url(url)
    if data_url is None:
        mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
        return types.Part.from_uri(file_uri=url, mime_type=mime)
    media_type, data = data_url
    return types.Part.from_bytes(data=base64.b64decode(data), mime_type=media_type)


__all__ = ["DEFAULT_MODEL", "GeminiLLM", "GeminiSettings"]
