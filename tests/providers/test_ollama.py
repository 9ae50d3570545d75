"""Ollama's native /api/chat over real HTTP: ``format`` carries the schema, counts come back."""

from __future__ import annotations

import pytest
from provider_wire import FAST, sent_json
from pytest_httpserver import HTTPServer

from engram.errors import ProviderError
from engram.llms import build_llm, default_llm
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.prompts import FACT_EXTRACTION_SCHEMA

MESSAGES = [{"role": "system", "content": "Extract facts."}, {"role": "user", "content": "I like tea."}]


def chat_body(content: str) -> dict[str, object]:
    return {
        "model": "qwen2.5:3b",
        "created_at": "2026-11-24T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 33,
        "eval_count": 8,
    }


def ollama(server: HTTPServer, **config: object):  # type: ignore[no-untyped-def]
    return build_llm("ollama", {"host": server.url_for(""), **FAST, **config})


def test_schema_goes_as_format_and_options_carry_sampling(server: HTTPServer) -> None:
    server.expect_request("/api/chat", method="POST").respond_with_json(chat_body('{"facts": []}'))
    completion = ollama(server, model="qwen2.5:7b", num_ctx=8192).complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA)

    assert completion.text == '{"facts": []}'
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (33, 8)
    body = sent_json(server)
    assert body["model"] == "qwen2.5:7b"
    assert body["format"] == FACT_EXTRACTION_SCHEMA
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.0, "num_predict": 2048, "num_ctx": 8192}
    assert body["messages"][1] == {"role": "user", "content": "I like tea."}


def test_ollama_host_variable_without_scheme(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.port}")
    server.expect_request("/api/chat").respond_with_json(chat_body("hi"))
    llm = default_llm()
    assert llm is not None and llm.model_name == "qwen2.5:3b"
    assert llm.complete([{"role": "user", "content": "hi"}]).text == "hi"


def test_images_travel_as_base64(server: HTTPServer) -> None:
    server.expect_request("/api/chat").respond_with_json(chat_body("a pixel"))
    content = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAEC"}},
    ]
    ollama(server).complete([{"role": "user", "content": content}])
    assert sent_json(server)["messages"][0] == {"role": "user", "content": "Describe", "images": ["AAEC"]}


def test_reasoning_output_with_think_block_parses(server: HTTPServer) -> None:
    server.expect_request("/api/chat").respond_with_json(chat_body('<think>hmm</think>\n{"facts": [{"text": "x"}]}'))
    text = ollama(server).complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA).text
    assert parse_json_answer(text) == {"facts": [{"text": "x"}]}


def test_missing_model_is_not_retried_and_says_to_pull(server: HTTPServer) -> None:
    server.expect_request("/api/chat").respond_with_json({"error": "model 'nope' not found"}, status=404)
    with pytest.raises(ProviderError, match="ollama pull nope") as caught:
        ollama(server, model="nope").complete(MESSAGES)
    assert caught.value.status_code == 404
    assert len(server.log) == 1


def test_500_then_success(server: HTTPServer) -> None:
    server.expect_ordered_request("/api/chat").respond_with_json({"error": "busy"}, status=500)
    server.expect_ordered_request("/api/chat").respond_with_json(chat_body("ok"))
    assert ollama(server).complete(MESSAGES).text == "ok"


def test_malformed_body(server: HTTPServer) -> None:
    server.expect_request("/api/chat").respond_with_data("{{{", content_type="application/json")
    with pytest.raises(ProviderError, match="malformed"):
        ollama(server).complete(MESSAGES)


def test_server_not_running_says_how_to_start_it() -> None:
    llm = build_llm("ollama", {"host": "http://127.0.0.1:9", **FAST})
    with pytest.raises(ProviderError, match="ollama serve"):
        llm.complete(MESSAGES)
