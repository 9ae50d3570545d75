"""Anthropic: the one place the SDK's exceptions are read (``llms/anthropic.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engram.resilience import AttemptError, status_error


@contextmanager
def map_anthropic_errors(provider: str, model: str | None) -> Iterator[None]:
    """The ``anthropic`` SDK's exceptions as AttemptErrors: the one place they are read."""
    import anthropic

    try:
        yield
    except anthropic.APIStatusError as exc:
        message = str(exc.message)
        if exc.status_code in (401, 403):
            message += "; check the API key (ANTHROPIC_API_KEY)"
        raise status_error(provider, model, exc.status_code, message, exc.response.headers) from exc
    except anthropic.APITimeoutError as exc:
        raise AttemptError("the request timed out", provider=provider, model=model, retryable=True) from exc
    except anthropic.APIConnectionError as exc:
        raise AttemptError(
            f"could not connect: {exc.__cause__ or exc}", provider=provider, model=model, retryable=True
        ) from exc


__all__ = ["map_anthropic_errors"]
