"""Ollama: what the LLM (``llms/ollama.py``) and the embedder (``embedders/ollama.py``) share: the host,
and the one place the SDK's exceptions are read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engram.providers.settings import env_value
from engram.resilience import AttemptError, status_error

DEFAULT_HOST = "http://localhost:11434"


def ollama_host(given: str | None) -> str:
    host = given or env_value("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"  # OLLAMA_HOST is often "0.0.0.0:11434"


@contextmanager
def map_ollama_errors(provider: str, model: str | None) -> Iterator[None]:
    """The ``ollama`` SDK's (and httpx's) exceptions as AttemptErrors: the one place they are read."""
    import httpx
    import ollama

    try:
        yield
    except ollama.ResponseError as exc:
        message = str(exc.error)
        if exc.status_code == 404:
            message += f"; pull the model first: `ollama pull {model}`"
        raise status_error(provider, model, exc.status_code, message, None) from exc
    except httpx.HTTPStatusError as exc:  # fetching an image URL failed
        raise status_error(provider, model, exc.response.status_code, str(exc), exc.response.headers) from exc
    except httpx.TimeoutException as exc:
        raise AttemptError("the request timed out", provider=provider, model=model, retryable=True) from exc
    except (httpx.TransportError, ConnectionError) as exc:
        raise AttemptError(
            f"could not connect to Ollama: {exc}; is `ollama serve` running (OLLAMA_HOST)?",
            provider=provider,
            model=model,
            retryable=True,
        ) from exc
    except ValueError as exc:  # the body was not the JSON /api/chat promises
        raise AttemptError(f"the response was malformed: {exc}", provider=provider, model=model) from exc


__all__ = ["DEFAULT_HOST", "map_ollama_errors", "ollama_host"]
