"""Choosing and configuring providers: names, dicts, environment variables, errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram import Memory
from engram.errors import ConfigError
from engram.llms import build_llm, default_llm
from engram.llms.anthropic import AnthropicLLM
from engram.llms.gemini import GeminiLLM
from engram.llms.local import LocalLLM, installed_model
from engram.llms.openai_compat import OpenAILLM
from engram.providers.settings import import_sdk


def test_nothing_configured_means_no_llm_unless_the_offline_one_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGRAM_LOCAL_MODEL")  # the tests' default is "off"
    llm = default_llm()
    if installed_model() is None:
        assert llm is None
    else:  # engram[local] installed: Memory() infers offline
        assert isinstance(llm, LocalLLM)


def test_openai_key_wins_over_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a")
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    llm = default_llm()
    assert isinstance(llm, OpenAILLM) and llm.model_name == "gpt-4.1-mini"


@pytest.mark.parametrize(
    ("variable", "expected"),
    [("ANTHROPIC_API_KEY", AnthropicLLM), ("GEMINI_API_KEY", GeminiLLM), ("GOOGLE_API_KEY", GeminiLLM)],
)
def test_each_providers_key_variable_selects_it(monkeypatch: pytest.MonkeyPatch, variable: str, expected: type) -> None:
    monkeypatch.setenv(variable, "key")
    assert isinstance(default_llm(), expected)


def test_engram_variables_name_provider_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a")
    monkeypatch.setenv("ENGRAM_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("ENGRAM_LLM_MODEL", "claude-opus-4-7")
    llm = default_llm()
    assert isinstance(llm, AnthropicLLM) and llm.model_name == "claude-opus-4-7"


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown LLM provider 'opneai'.*anthropic.*openai"):
        build_llm("opneai", {})


def test_a_preset_without_its_key_names_the_variable(tmp_path: Path) -> None:
    config = {
        "llm": {"provider": "groq", "config": {"model": "llama-3.3-70b-versatile"}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}},
        "embedder": {"provider": "hashing", "config": {}},
    }
    with pytest.raises(ConfigError, match="set GROQ_API_KEY"):
        Memory.from_config(config)


def test_settings_are_validated_with_the_key_named() -> None:
    with pytest.raises(ConfigError, match="max_retries"):
        build_llm("openai", {"api_key": "k", "max_retries": -1})
    with pytest.raises(ConfigError, match="structured_output"):
        build_llm("openai", {"api_key": "k", "structured_output": "xml"})


def test_mem0_style_keys_are_accepted() -> None:
    llm = build_llm("openai", {"api_key": "k", "openai_base_url": "http://127.0.0.1:1/v1", "vision_details": "low"})
    assert isinstance(llm, OpenAILLM) and llm.endpoint == "http://127.0.0.1:1/v1"


def test_a_missing_sdk_names_the_extra_to_install() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'engramdb\[nothing\]'"):
        import_sdk("engram_sdk_that_does_not_exist", extra="nothing")


def test_api_keys_do_not_leak_into_reprs_of_settings() -> None:
    llm = build_llm("openai", {"api_key": "sk-secret-123"})
    assert isinstance(llm, OpenAILLM)
    assert "sk-secret-123" not in repr(llm.settings)
