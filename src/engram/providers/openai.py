"""OpenAI and every OpenAI-compatible endpoint: what the LLM (``llms/openai_compat.py``) and the
embedder (``embedders/openai_compat.py``) share.

The endpoints are data (``PRESETS``: a base URL, a key variable, what they support). Each name is
also an LLM (and embedder) provider name::

    Memory.from_config({"llm": {"provider": "groq", "config": {"model": "llama-3.3-70b-versatile"}}})
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from engram.errors import ConfigError
from engram.providers.settings import env_value
from engram.resilience import AttemptError, status_error

StructuredOutput = Literal["json_schema", "json_object", "none"]


@dataclass(frozen=True)
class Preset:
    base_url: str
    key_env: str | None  # None: the server takes no key (local servers)
    structured_output: StructuredOutput = "json_schema"
    base_url_env: str | None = None
    # OpenAI itself wants max_completion_tokens; most compatible servers only know max_tokens.
    max_tokens_key: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    has_embeddings: bool = True  # Groq, DeepSeek and xAI serve no /embeddings endpoint


PRESETS: dict[str, Preset] = {
    "openai": Preset(
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
        max_tokens_key="max_completion_tokens",
    ),
    "ollama_openai": Preset("http://localhost:11434/v1", None, base_url_env="OLLAMA_OPENAI_BASE_URL"),
    "vllm": Preset("http://localhost:8000/v1", None, base_url_env="VLLM_BASE_URL"),
    "lmstudio": Preset("http://localhost:1234/v1", None, base_url_env="LMSTUDIO_BASE_URL"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY", "json_object", has_embeddings=False),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY", "json_object"),
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "json_object", has_embeddings=False),
    "xai": Preset("https://api.x.ai/v1", "XAI_API_KEY", has_embeddings=False),
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
}

NO_KEY = "not-needed"  # the SDK insists on a key; local servers ignore it


@contextmanager
def map_openai_errors(provider: str, model: str | None, key_env: str | None = None) -> Iterator[None]:
    """The ``openai`` SDK's exceptions as AttemptErrors: the one place they are read.

    ``key_env`` is the variable named when the server rejects the key; by default the preset's.
    """
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        message = exc.message
        if exc.status_code in (401, 403):
            preset = PRESETS.get(provider)
            message += f"; check the API key ({key_env or (preset and preset.key_env) or 'api_key'})"
        raise status_error(provider, model, exc.status_code, message, exc.response.headers) from exc
    except openai.APITimeoutError as exc:
        raise AttemptError("the request timed out", provider=provider, model=model, retryable=True) from exc
    except openai.APIConnectionError as exc:
        raise AttemptError(
            f"could not connect: {exc.__cause__ or exc}", provider=provider, model=model, retryable=True
        ) from exc


def env_base_url(preset: Preset) -> str | None:
    return env_value(preset.base_url_env) if preset.base_url_env else None


def api_key_for(name: str, preset: Preset, given: SecretStr | None, *, custom_url: bool) -> str:
    if given is not None:
        return given.get_secret_value()
    if preset.key_env and (key := env_value(preset.key_env)):
        return key
    if preset.key_env is None or custom_url:
        return NO_KEY  # a local or self-hosted server: no key needed
    raise ConfigError(
        f"the {name!r} provider needs an API key: set {preset.key_env} in the environment "
        f'or pass {{"api_key": "..."}} in the LLM config'
    )


__all__ = ["NO_KEY", "PRESETS", "Preset", "StructuredOutput", "api_key_for", "env_base_url", "map_openai_errors"]
