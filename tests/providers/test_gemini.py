"""Gemini generateContent over real HTTP: response schema, system instruction, usage, errors."""

from __future__ import annotations

import json
import re

import pytest
from provider_wire import FAST, sent_headers, sent_json
from pytest_httpserver import HTTPServer

from engram.errors import ConfigError, ProviderError
from engram.llms import build_llm
from engram.pipeline.prompts import FACT_EXTRACTION_SCHEMA

MESSAGES = [{"role": "system", "content": "Extract facts."}, {"role": "user", "content": "I like tea."}]
# SDK versions differ on the API version in the path (v1beta, v1).
PATH = re.compile(r"/v1(beta)?/models/gemini-2\.5-flash:generateContent")


def generate_body(text: str, finish: str = "STOP") -> dict[str, object]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 21, "candidatesTokenCount": 6, "thoughtsTokenCount": 4},
        "modelVersion": "gemini-2.5-flash-001",
    }


def gemini(server: HTTPServer, **config: object):  # type: ignore[no-untyped-def]
    return build_llm("gemini", {"api_key": "g-key", "base_url": server.url_for(""), **FAST, **config})


def test_sends_schema_system_instruction_and_key_and_counts_thinking_as_output(server: HTTPServer) -> None:
    server.expect_request(PATH, method="POST").respond_with_json(generate_body('{"facts": []}'))
    completion = gemini(server).complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA)

    assert completion.text == '{"facts": []}'
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (21, 10)
    body = sent_json(server)
    assert body["systemInstruction"]["parts"] == [{"text": "Extract facts."}]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "I like tea."}]}]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == FACT_EXTRACTION_SCHEMA
    assert config["temperature"] == 0.0
    assert sent_headers(server)["x-goog-api-key"] == "g-key"


def test_google_api_key_variable_works_too(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google-var")
    server.expect_request(PATH).respond_with_json(generate_body("hi"))
    llm = build_llm("gemini", {"base_url": server.url_for(""), **FAST})
    assert llm.complete([{"role": "user", "content": "hi"}]).text == "hi"
    assert sent_headers(server)["x-goog-api-key"] == "from-google-var"


def test_inline_image_data(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_json(generate_body("a pixel"))
    content = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAEC"}},
    ]
    gemini(server).complete([{"role": "user", "content": content}])
    parts = sent_json(server)["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert inline["data"] == "AAEC"
    assert "image/png" in (inline.get("mimeType"), inline.get("mime_type"))  # the SDK sends either spelling
    assert parts[1] == {"text": "Describe"}


def test_429_then_success(server: HTTPServer) -> None:
    error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    server.expect_ordered_request(PATH).respond_with_json(error, status=429, headers={"Retry-After": "0"})
    server.expect_ordered_request(PATH).respond_with_json(generate_body("ok"))
    assert gemini(server).complete(MESSAGES).text == "ok"
    assert len(server.log) == 2


def test_blocked_prompt_is_a_refusal(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_json({"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(ProviderError, match=r"refused.*SAFETY"):
        gemini(server).complete(MESSAGES)


def test_malformed_body_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_data("not json at all", content_type="application/json")
    with pytest.raises(ProviderError, match="malformed") as caught:
        gemini(server).complete(MESSAGES)
    assert caught.value.provider == "gemini"


def test_persistent_503_gives_up(server: HTTPServer) -> None:
    error = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    server.expect_request(PATH).respond_with_json(error, status=503)
    with pytest.raises(ProviderError, match="overloaded") as caught:
        gemini(server).complete(MESSAGES)
    assert caught.value.status_code == 503
    assert len(server.log) == 3


def test_missing_key_names_both_variables() -> None:
    with pytest.raises(ConfigError, match=r"GEMINI_API_KEY.*GOOGLE_API_KEY"):
        build_llm("gemini", {})


def test_answer_is_json_text(server: HTTPServer) -> None:
    server.expect_request(PATH).respond_with_json(generate_body(json.dumps({"facts": [{"text": "Likes tea"}]})))
    text = gemini(server).complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA).text
    assert json.loads(text)["facts"][0]["text"] == "Likes tea"
