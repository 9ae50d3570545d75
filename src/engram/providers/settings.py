"""Plumbing shared by every provider module, LLM or embedder.

- :class:`ClientSettings`: the settings every remote provider accepts (timeout,
  retries, concurrency), turned into a :class:`~engram.resilience.CallRunner`.
- :func:`parse_settings`: pydantic validation whose failures are ConfigErrors.
- :func:`import_sdk`: a missing SDK names the extra that installs it.
- :func:`env_value`: the first of several environment variables that is set.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from engram.config import problems_of
from engram.errors import ConfigError
from engram.resilience import CallRunner, RetryPolicy

S = TypeVar("S", bound=BaseModel)


class ClientSettings(BaseModel):
    """Settings every remote provider accepts, on top of its own."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    timeout: float = Field(default=60.0, gt=0, description="seconds one HTTP request may take")
    max_retries: int = Field(default=3, ge=0, le=20)
    initial_backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = Field(default=20.0, ge=0)
    max_retry_after: float = Field(default=60.0, ge=0)
    max_concurrency: int = Field(default=8, ge=1, description="calls in flight per endpoint")

    def runner(self, provider: str, model: str | None, endpoint: str) -> CallRunner:
        policy = RetryPolicy(
            max_retries=self.max_retries,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            max_retry_after=self.max_retry_after,
        )
        return CallRunner(provider, model, policy, endpoint=endpoint, max_concurrency=self.max_concurrency)


def parse_settings(cls: type[S], what: str, config: Mapping[str, Any]) -> S:
    """``cls`` validated from ``config``; a problem is a ConfigError that names the key."""
    try:
        return cls.model_validate(dict(config))
    except pydantic.ValidationError as exc:
        raise ConfigError(f"invalid settings for {what}: {problems_of(exc)}") from exc


def import_sdk(module: str, *, extra: str, package: str | None = None) -> ModuleType:
    """Import a provider's SDK, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"this provider needs the package {package or module!r}: run `pip install 'engramdb[{extra}]'`"
        ) from exc


def env_value(*names: str) -> str | None:
    """The value of the first variable in ``names`` that is set and not empty."""
    for name in names:
        if value := os.environ.get(name, "").strip():
            return value
    return None


__all__ = ["ClientSettings", "env_value", "import_sdk", "parse_settings"]
