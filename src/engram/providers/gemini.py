"""Gemini: what the LLM (``llms/gemini.py``) and the embedder (``embedders/gemini.py``) share: the
client, built with its own retries off, and the one place the SDK's exceptions are read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from engram.errors import ConfigError
from engram.providers.settings import env_value, import_sdk
from engram.resilience import AttemptError, status_error

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


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


__all__ = ["DEFAULT_BASE_URL", "KEY_VARIABLES", "gemini_client", "map_gemini_errors"]
