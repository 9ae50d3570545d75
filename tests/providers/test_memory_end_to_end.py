"""Memory.add(infer=True) through a wire-level fake of the OpenAI API.

The fake answers like a model would, by reading the request: the memory prompt gets
facts (with a decision each when existing memories are shown), an image gets a
description. Everything between Memory and the socket is the real code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provider_wire import FAST, sent_json
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM

PIXEL = "data:image/png;base64,iVBORw0KGgo="


def fake_openai(request: Request) -> Response:
    body = request.get_json()
    messages = body["messages"]
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    user = messages[-1]["content"]
    if isinstance(user, list):  # an image to describe
        answer = "A ginger cat named Milo asleep on a red sofa."
    elif "memory manager" in system:  # one call: extract, and decide against the memories shown
        said = user.split("Conversation:")[-1]
        facts: list[dict[str, Any]] = []
        if "Lisbon" in said:
            facts.append({"text": "Lives in Lisbon", "sources": [0]})
        if "Porto" in said:  # the only memory shown is "0"
            facts.append({"text": "Lives in Porto (moved from Lisbon)", "sources": [0], "event": "UPDATE", "memory": 0})
        if "ginger cat" in said:
            facts.append({"text": "Has a ginger cat named Milo", "sources": [0]})
        answer = json.dumps({"facts": facts, "forget": []})
    else:
        raise AssertionError(f"unexpected request: {system[:80]!r}")
    reply = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }
    return Response(json.dumps(reply), content_type="application/json")


@pytest.fixture
def memory(server: HTTPServer, tmp_path: Path, embedder: LocalMiniLM) -> Iterator[Memory]:
    server.expect_request("/v1/chat/completions").respond_with_handler(fake_openai)
    llm: dict[str, Any] = {
        "model": "gpt-4.1-mini",
        "api_key": "sk-e2e",
        "openai_base_url": server.url_for("/v1"),
        "enable_vision": True,
        "vision_model": "gpt-4.1",
        **FAST,
    }
    config = {
        "llm": {"provider": "openai", "config": llm},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "e2e.db")}},
    }
    with Memory(config, embedder=embedder) as m:
        yield m


def test_add_then_update_then_search_with_usage_per_stage(memory: Memory, server: HTTPServer) -> None:
    first = memory.add("I live in Lisbon.", user_id="ana")
    assert [(r["event"], r["memory"]) for r in first["results"]] == [("ADD", "Lives in Lisbon")]
    assert first["usage"]["calls"] == 1  # nothing to reconcile against: no second call
    assert first["usage"]["stages"]["extract"]["prompt_tokens"] == 100

    second = memory.add("I moved to Porto last month.", user_id="ana")
    assert [(r["event"], r["memory"], r.get("previous_memory")) for r in second["results"]] == [
        ("UPDATE", "Lives in Porto (moved from Lisbon)", "Lives in Lisbon")
    ]
    assert second["usage"]["calls"] == 1  # extraction and decision in one call
    assert second["usage"]["stages"]["extract+decide"] == {
        "calls": 1,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "total_tokens": 110,
    }
    assert memory.usage.calls == 2 and memory.usage.prompt_tokens == 200

    hits = memory.search("Where does Ana live?", user_id="ana")["results"]
    assert hits[0]["memory"] == "Lives in Porto (moved from Lisbon)"

    request = sent_json(server, -1)
    schema = request["response_format"]["json_schema"]["schema"]
    assert "event" in schema["properties"]["facts"]["items"]["properties"]
    assert "[0] Lives in Lisbon" in request["messages"][1]["content"]


def test_an_image_is_described_by_the_vision_model_and_its_facts_remembered(memory: Memory, server: HTTPServer) -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "This is my pet!"},
            {"type": "image_url", "image_url": {"url": PIXEL}},
        ],
    }
    result = memory.add([message], user_id="ana")

    assert [r["memory"] for r in result["results"]] == ["Has a ginger cat named Milo"]
    assert result["usage"]["stages"]["vision"]["calls"] == 1
    vision_request = sent_json(server, 0)
    assert vision_request["model"] == "gpt-4.1"  # the configured vision model, not the main one
    assert vision_request["messages"][0]["content"][1]["image_url"]["url"] == PIXEL
    extraction_request = sent_json(server, 1)
    assert "[image: A ginger cat named Milo" in extraction_request["messages"][-1]["content"]


def test_images_without_a_vision_model_are_reported_not_silently_dropped(
    server: HTTPServer, tmp_path: Path, embedder: LocalMiniLM
) -> None:
    server.expect_request("/v1/chat/completions").respond_with_handler(fake_openai)
    config = {
        "llm": {"provider": "openai", "config": {"api_key": "k", "base_url": server.url_for("/v1"), **FAST}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "novision.db")}},
    }
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "I live in Lisbon"},
            {"type": "image_url", "image_url": {"url": PIXEL}},
        ],
    }
    with Memory(config, embedder=embedder) as memory:
        result = memory.add([message], user_id="bo")
    assert [r["memory"] for r in result["results"]] == ["Lives in Lisbon"]
    assert any("enable_vision" in warning for warning in result["warnings"])
    assert len(server.log) == 1  # only the extraction call
