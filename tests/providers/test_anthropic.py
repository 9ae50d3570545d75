"""Anthropic Messages API over real HTTP: tool-use structured output, system field, images, errors."""

from __future__ import annotations

import json
import time

import pytest
from provider_wire import FAST, sent_headers, sent_json
from pytest_httpserver import HTTPServer

from engram.errors import ConfigError, ProviderError
from engram.llms import build_llm
from engram.pipeline.prompts import FACT_EXTRACTION_SCHEMA

MESSAGES = [{"role": "system", "content": "Extract facts."}, {"role": "user", "content": "I like tea."}]
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def message_body(content: list[dict[str, object]], stop_reason: str = "end_turn") -> dict[str, object]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 30, "output_tokens": 9, "cache_read_input_tokens": 5},
    }


def sent_key(headers: dict[str, str]) -> str | None:
    """The API key as sent: ``x-api-key``, or a bearer token (newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ") or None


def anthropic(server: HTTPServer, **config: object):  # type: ignore[no-untyped-def]
    return build_llm("anthropic", {"api_key": "sk-ant-test", "base_url": server.url_for(""), **FAST, **config})


def test_schema_goes_as_a_forced_tool_and_its_input_is_the_answer(server: HTTPServer) -> None:
    answer = {"facts": [{"text": "Likes tea", "sources": [0]}]}
    server.expect_request("/v1/messages", method="POST").respond_with_json(
        message_body([{"type": "tool_use", "id": "toolu_1", "name": "answer", "input": answer}], "tool_use")
    )
    completion = anthropic(server, model="claude-opus-4-7").complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA)

    assert json.loads(completion.text) == answer
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        35,
        9,
    )  # cache reads count
    body = sent_json(server)
    assert body["model"] == "claude-opus-4-7"
    assert body["system"] == "Extract facts."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "I like tea."}]}]
    assert body["tools"][0]["input_schema"] == FACT_EXTRACTION_SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert body["max_tokens"] == 2048
    headers = sent_headers(server)
    assert sent_key(headers) == "sk-ant-test"
    assert "anthropic-version" in headers


def test_plain_text_answer_without_schema(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    server.expect_request("/v1/messages").respond_with_json(message_body([{"type": "text", "text": "Hello"}]))
    llm = build_llm("anthropic", {"base_url": server.url_for(""), **FAST})
    assert llm.complete([{"role": "user", "content": "hi"}]).text == "Hello"
    assert "tools" not in sent_json(server)
    assert sent_key(sent_headers(server)) == "sk-env"


def test_image_parts_become_base64_and_url_image_blocks(server: HTTPServer) -> None:
    server.expect_request("/v1/messages").respond_with_json(message_body([{"type": "text", "text": "a cat"}]))
    content = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": PIXEL}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    anthropic(server).complete([{"role": "user", "content": content}])
    blocks = sent_json(server)["messages"][0]["content"]
    assert blocks[0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert blocks[1] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    assert blocks[2] == {"type": "text", "text": "Describe"}


def test_overloaded_529_with_retry_after_is_retried(server: HTTPServer) -> None:
    server.expect_ordered_request("/v1/messages").respond_with_json(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        status=529,
        headers={"retry-after": "0.2"},
    )
    server.expect_ordered_request("/v1/messages").respond_with_json(message_body([{"type": "text", "text": "ok"}]))
    started = time.monotonic()
    assert anthropic(server).complete(MESSAGES).text == "ok"
    assert time.monotonic() - started >= 0.2


def test_refusal_stop_reason_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request("/v1/messages").respond_with_json(message_body([], "refusal"))
    with pytest.raises(ProviderError, match="refused") as caught:
        anthropic(server).complete(MESSAGES)
    assert caught.value.provider == "anthropic" and not caught.value.retryable


def test_malformed_body_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request("/v1/messages").respond_with_json({"type": "message", "usage": {}})
    with pytest.raises(ProviderError, match="malformed"):
        anthropic(server).complete(MESSAGES)


def test_persistent_500_gives_up_with_the_sdk_error_as_cause(server: HTTPServer) -> None:
    server.expect_request("/v1/messages").respond_with_json(
        {"type": "error", "error": {"type": "api_error", "message": "boom"}}, status=500
    )
    with pytest.raises(ProviderError) as caught:
        anthropic(server, model="claude-x").complete(MESSAGES)
    assert (caught.value.model, caught.value.status_code) == ("claude-x", 500)
    assert caught.value.__cause__ is not None
    assert len(server.log) == 3


def test_missing_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_llm("anthropic", {})
