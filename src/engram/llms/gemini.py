"""Google Gemini through the ``google-genai`` SDK (generateContent).

Structured output: ``response_mime_type="application/json"`` with the answer's
JSON schema as ``response_json_schema``. System messages become the
``system_instruction``; image parts become inline data (data URLs) or file data
(other URLs).
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import AliasChoices, Field, SecretStr

from engram._providers import env_value, import_sdk, parse_settings
from engram.errors import ConfigError
from engram.llms.base import ChatMessage, Completion, Usage
from engram.llms.provider import LLMSettings, ProviderLLM, image_urls_of, parse_data_url, text_of
from engram.resilience import AttemptError, status_error

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_REFUSALS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}


class GeminiSettings(LLMSettings):
    model: str = DEFAULT_MODEL
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "gemini_base_url"))


def gemini_client(api_key: SecretStr | None, base_url: str | None, timeout: float) -> tuple[Any, str]:
    # Returns Any: google-genai is an optional dependency, imported only here.
    """A google-genai client with its own retries off, and the endpoint it talks to."""
    key = api_key.get_secret_value() if api_key else env_value(*KEY_VARIABLES)
    if key is None:
        raise ConfigError(
            "the 'gemini' provider needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) "
            'in the environment or pass {"api_key": "..."} in the config'
        )
    genai = import_sdk("google.genai", extra="gemini", package="google-genai")
    endpoint = base_url or env_value("GEMINI_BASE_URL") or DEFAULT_BASE_URL
    options = genai.types.HttpOptions(
        base_url=endpoint,
        timeout=int(timeout * 1000),  # milliseconds
        retry_options=genai.types.HttpRetryOptions(attempts=1),  # engram's CallRunner retries
    )
    return genai.Client(api_key=key, http_options=options), endpoint


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


@contextmanager
def map_gemini_errors(provider: str, model: str | None) -> Iterator[None]:
    """The google-genai SDK's exceptions as AttemptErrors: the one place they are read."""
    import httpx2  # the transport google-genai uses
    from google.genai import errors

    try:
        yield
    except errors.APIError as exc:
        headers = getattr(exc.response, "headers", None)
        message = str(exc.message or exc)
        if exc.code in (401, 403):
            message += "; check the API key (GEMINI_API_KEY or GOOGLE_API_KEY)"
        raise status_error(provider, model, exc.code, message, dict(headers) if headers else None) from exc
    except httpx2.TimeoutException as exc:
        raise AttemptError("the request timed out", provider=provider, model=model, retryable=True) from exc
    except httpx2.TransportError as exc:
        raise AttemptError(f"could not connect: {exc}", provider=provider, model=model, retryable=True) from exc
    except ValueError as exc:  # a body that is not the JSON the SDK expects (json.JSONDecodeError and kin)
        raise AttemptError(f"the response was malformed: {exc}", provider=provider, model=model) from exc


__all__ = ["DEFAULT_MODEL", "GeminiLLM", "GeminiSettings", "gemini_client", "map_gemini_errors"]
