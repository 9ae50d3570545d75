"""The base class of the remote LLM providers: settings, retries, vision.

A provider module implements ``_complete_once`` (one request, its SDK's errors
mapped to :class:`~engram.resilience.AttemptError` in one ``_map_errors``
context manager) and says which endpoint it talks to; ``complete`` wraps that
in the shared :class:`~engram.resilience.CallRunner`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import AliasChoices, Field

from engram.errors import ValidationError
from engram.llms.base import LLM, ChatMessage, Completion
from engram.providers.settings import ClientSettings
from engram.resilience import AttemptError, CallRunner

DEFAULT_MAX_TOKENS = 2048  # enough for a long fact list; Anthropic requires some value


class LLMSettings(ClientSettings):
    """What every LLM provider accepts. Keys follow mem0's where mem0 has one."""

    model: str
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    max_tokens: int | None = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    enable_vision: bool = False
    vision_model: str | None = Field(
        default=None, description="the model that describes images; the main model when unset"
    )
    vision_details: Literal["auto", "low", "high"] = Field(
        default="auto", validation_alias=AliasChoices("vision_details", "vision_detail")
    )


class ProviderLLM(ABC):
    """An LLM behind an SDK: ``complete`` is one request with the shared retry policy."""

    provider: str  # set by each subclass; presets set it per instance
    settings: LLMSettings

    def __init__(self, settings: LLMSettings, *, endpoint: str) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self._runner: CallRunner = settings.runner(self.provider, settings.model, endpoint)

    @property
    def model_name(self) -> str:
        return self.settings.model

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        return self._runner.run(lambda: self._complete_once(messages, json_schema))

    @abstractmethod
    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        """One request; SDK errors come out as AttemptError."""

    @property
    def vision_llm(self) -> LLM | None:
        """The model that describes images, when vision is enabled."""
        if not self.settings.enable_vision:
            return None
        model = self.settings.vision_model
        if model is None or model == self.settings.model:
            return self
        return self.with_model(model)

    def with_model(self, model: str) -> ProviderLLM:
        """The same provider and settings with another model (for vision, say)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.settings = self.settings.model_copy(update={"model": model, "vision_model": None})
        clone._runner = clone.settings.runner(self.provider, model, self.endpoint)
        return clone

    def _refused(self, reason: str) -> AttemptError:
        """A refusal is final: asking again gets the same answer."""
        return AttemptError(f"the model refused to answer: {reason}", provider=self.provider, model=self.model_name)

    def _malformed(self, what: str) -> AttemptError:
        return AttemptError(f"the response was malformed: {what}", provider=self.provider, model=self.model_name)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64_data)`` of a ``data:`` URL, or None for any other URL."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, data = url[5:].split(",", 1)
    media_type = header.split(";")[0] or "application/octet-stream"
    if ";base64" not in header:
        raise ValidationError(f"image data URLs must be base64-encoded (data:TYPE;base64,...), got {url[:40]!r}")
    return media_type, data


def text_of(content: Any) -> str:
    """The text of an OpenAI-style message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return "" if content is None else str(content)


def image_urls_of(content: Any) -> list[str]:
    """The image URLs (http(s) or data URLs) in an OpenAI-style message content."""
    if not isinstance(content, list):
        return []
    urls = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str):
                urls.append(url)
    return urls


__all__ = ["DEFAULT_MAX_TOKENS", "LLMSettings", "ProviderLLM", "image_urls_of", "parse_data_url", "text_of"]
