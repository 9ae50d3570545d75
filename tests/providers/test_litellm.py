"""The LiteLLM adapter against the fake OpenAI server (runs only where litellm is installed)."""

from __future__ import annotations

import pytest
from provider_wire import FAST, sent_json
from pytest_httpserver import HTTPServer

from engram.llms import build_llm
from engram.pipeline.prompts import FACT_EXTRACTION_SCHEMA

pytest.importorskip("litellm")


def test_litellm_sends_the_schema_and_reads_tokens(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4.1-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": '{"facts": []}'},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }
    )
    llm = build_llm(
        "litellm", {"model": "openai/gpt-4.1-mini", "api_base": server.url_for("/v1"), "api_key": "k", **FAST}
    )
    completion = llm.complete([{"role": "user", "content": "hi"}], json_schema=FACT_EXTRACTION_SCHEMA)
    assert completion.text == '{"facts": []}'
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 3)
    assert sent_json(server)["response_format"]["json_schema"]["schema"] == FACT_EXTRACTION_SCHEMA
