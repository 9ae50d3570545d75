"""OpenAI-compatible endpoints as data: a base URL, a key variable, what they support.

Each name here is also an LLM (and embedder) provider name, served by
``engram.llms.openai_compat``::

    Memory.from_config({"llm": {"provider": "groq", "config": {"model": "llama-3.3-70b-versatile"}}})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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

__all__ = ["PRESETS", "Preset", "StructuredOutput"]
