"""OpenAI chat completions over real HTTP: what engram sends, and what it does with the answers."""

from __future__ import annotations

import threading
import time

import pytest
from provider_wire import FAST, sent_headers, sent_json
from pytest_httpserver import HTTPServer
from werkzeug import Response

from engram.errors import ConfigError, ProviderError
from engram.llms import build_llm
from engram.pipeline.prompts import FACT_EXTRACTION_SCHEMA

MESSAGES = [{"role": "system", "content": "Extract facts."}, {"role": "user", "content": "I like tea."}]


def chat_body(content: str | None, *, refusal: str | None = None, finish: str = "stop") -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
    }


def openai(server: HTTPServer, **config: object):  # type: ignore[no-untyped-def]
    return build_llm("openai", {"api_key": "sk-test", "base_url": server.url_for("/v1"), **FAST, **config})


def test_sends_model_schema_and_key_and_reads_text_and_tokens(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        chat_body('{"facts": [{"text": "Likes tea"}]}')
    )
    completion = openai(server, model="gpt-4.1-mini").complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA)

    assert completion.text == '{"facts": [{"text": "Likes tea"}]}'
    assert (completion.usage.calls, completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        1,
        42,
        7,
    )
    assert completion.model == "gpt-4.1-mini-2025-04-14"
    body = sent_json(server)
    assert body["model"] == "gpt-4.1-mini"
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0.0
    assert body["max_completion_tokens"] == 2048
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": FACT_EXTRACTION_SCHEMA, "strict": False},
    }
    assert sent_headers(server)["authorization"] == "Bearer sk-test"


def test_key_and_base_url_come_from_the_environment(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url_for("/v1"))
    server.expect_request("/v1/chat/completions").respond_with_json(chat_body("hi"))

    assert build_llm("openai", FAST).complete(MESSAGES).text == "hi"
    assert sent_headers(server)["authorization"] == "Bearer sk-from-env"
    assert "response_format" not in sent_json(server)  # no schema asked, none sent


def test_429_waits_for_retry_after_then_succeeds(server: HTTPServer) -> None:
    server.expect_ordered_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "slow down", "type": "rate_limit"}}, status=429, headers={"Retry-After": "0.3"}
    )
    server.expect_ordered_request("/v1/chat/completions").respond_with_json(chat_body("ok"))

    started = time.monotonic()
    assert openai(server).complete(MESSAGES).text == "ok"
    assert time.monotonic() - started >= 0.3  # honoured Retry-After, not the 0.01 s backoff
    assert len(server.log) == 2


def test_500_then_success_is_retried(server: HTTPServer) -> None:
    server.expect_ordered_request("/v1/chat/completions").respond_with_data("oops", status=500)
    server.expect_ordered_request("/v1/chat/completions").respond_with_data("oops", status=503)
    server.expect_ordered_request("/v1/chat/completions").respond_with_json(chat_body("third time"))

    completion = openai(server).complete(MESSAGES)
    assert completion.text == "third time"
    assert completion.usage.calls == 1  # one successful call, whatever the retries
    assert len(server.log) == 3


def test_persistent_500_is_a_provider_error_naming_provider_model_and_status(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json({"error": {"message": "down"}}, status=500)

    with pytest.raises(ProviderError) as caught:
        openai(server, model="gpt-x").complete(MESSAGES)
    error = caught.value
    assert (error.provider, error.model, error.status_code, error.retryable) == ("openai", "gpt-x", 500, True)
    assert "gave up after 3 attempts" in str(error)
    assert type(error.__cause__).__name__ == "InternalServerError"  # the SDK's exception, kept
    assert len(server.log) == 3


def test_400_is_not_retried(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json({"error": {"message": "bad schema"}}, status=400)
    with pytest.raises(ProviderError, match="bad schema") as caught:
        openai(server).complete(MESSAGES)
    assert caught.value.status_code == 400
    assert len(server.log) == 1


def test_401_says_which_key_to_check(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json({"error": {"message": "bad key"}}, status=401)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        openai(server).complete(MESSAGES)


def test_a_timeout_is_retried_then_reported(server: HTTPServer) -> None:
    arrived: list[float] = []
    finished = threading.Semaphore(0)

    def slow(_request: object) -> Response:
        arrived.append(time.monotonic())
        time.sleep(0.6)
        finished.release()
        return Response("{}", content_type="application/json")

    server.expect_request("/v1/chat/completions").respond_with_handler(slow)
    with pytest.raises(ProviderError, match="timed out") as caught:
        openai(server, timeout=0.2, max_retries=1).complete(MESSAGES)
    assert caught.value.retryable
    assert len(arrived) == 2  # the first attempt and one retry
    for _ in arrived:  # let the server finish, so its late replies land in this test's log
        assert finished.acquire(timeout=5)


def test_a_malformed_body_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_data(
        "<html>gateway</html>", content_type="application/json"
    )
    with pytest.raises(ProviderError, match="malformed"):
        openai(server).complete(MESSAGES)
    assert len(server.log) == 1


def test_a_refusal_is_a_provider_error_with_the_reason(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json(chat_body(None, refusal="I can't help with that."))
    with pytest.raises(ProviderError, match="refused to answer: I can't help with that") as caught:
        openai(server).complete(MESSAGES)
    assert not caught.value.retryable


def test_a_connection_error_is_retried_then_reported() -> None:
    llm = build_llm("openai", {"api_key": "k", "base_url": "http://127.0.0.1:9/v1", **FAST})
    with pytest.raises(ProviderError, match="could not connect") as caught:
        llm.complete(MESSAGES)
    assert caught.value.retryable and "gave up after 3 attempts" in str(caught.value)


def test_think_blocks_of_reasoning_models_are_left_for_the_tolerant_parser(server: HTTPServer) -> None:
    from engram.pipeline.parsing import parse_json_answer

    server.expect_request("/v1/chat/completions").respond_with_json(
        chat_body('<think>the user likes tea</think>{"facts": [{"text": "Likes tea"}]}')
    )
    text = openai(server).complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA).text
    assert parse_json_answer(text) == {"facts": [{"text": "Likes tea"}]}


def test_a_json_mode_preset_sends_json_object_to_its_endpoint(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    server.expect_request("/openai/v1/chat/completions").respond_with_json(chat_body("{}"))
    llm = build_llm("groq", {"model": "llama-3.3-70b", "base_url": server.url_for("/openai/v1"), **FAST})
    llm.complete(MESSAGES, json_schema=FACT_EXTRACTION_SCHEMA)

    body = sent_json(server)
    assert body["response_format"] == {"type": "json_object"}
    assert body["max_tokens"] == 2048  # compatible servers get the classic field
    assert sent_headers(server)["authorization"] == "Bearer gsk-test"


def test_a_local_preset_needs_no_key(server: HTTPServer) -> None:
    server.expect_request("/v1/chat/completions").respond_with_json(chat_body("ok"))
    llm = build_llm("vllm", {"model": "qwen", "base_url": server.url_for("/v1"), **FAST})
    assert llm.complete(MESSAGES).text == "ok"


def test_azure_sends_the_deployment_path_api_version_and_api_key_header(server: HTTPServer) -> None:
    server.expect_request("/openai/deployments/my-gpt/chat/completions").respond_with_json(chat_body("ok"))
    llm = build_llm(
        "azure_openai",
        {
            "model": "gpt-4o",
            "azure_kwargs": {
                "azure_endpoint": server.url_for(""),
                "azure_deployment": "my-gpt",
                "api_version": "2024-10-21",
                "api_key": "az-key",
            },
            **FAST,
        },
    )
    assert llm.complete(MESSAGES).text == "ok"
    request = server.log[-1][0]
    assert request.args["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == "az-key"


def test_missing_key_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        build_llm("openai", {"model": "gpt-4.1-mini"})


def test_unknown_setting_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="temprature"):
        build_llm("openai", {"api_key": "k", "temprature": 0.2})
