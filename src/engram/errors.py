"""The exceptions engram raises.

Every error is an ``EngramError``; the subclass tells the caller what to do next::

    EngramError
    ├── ValidationError   the call is wrong: fix its arguments
    ├── ConfigError       the configuration is wrong or missing: fix the config
    ├── NotFoundError     no memory has that id (update/delete)
    ├── ProviderError     an LLM or embedding provider failed (provider, model, cause)
    └── StorageError      the database failed or does not match this configuration

Messages say what to fix, not only what went wrong.
"""

from __future__ import annotations


class EngramError(Exception):
    """Root of every error engram raises on purpose."""


class ValidationError(EngramError, ValueError):
    """An argument is missing, malformed or contradictory."""


class ConfigError(EngramError):
    """The configuration cannot build a working Memory."""


class NotFoundError(EngramError, KeyError):
    """No memory has the given id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ProviderError(EngramError):
    """An LLM or embedding provider failed after any retries."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retryable = retryable

    def __str__(self) -> str:
        where = self.provider + (f" model {self.model!r}" if self.model else "")
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{where}{status}: {self.args[0]}"


class StorageError(EngramError):
    """The store failed, or holds data that this configuration cannot use."""


__all__ = [
    "ConfigError",
    "EngramError",
    "NotFoundError",
    "ProviderError",
    "StorageError",
    "ValidationError",
]
