"""The retry policy written once for every provider: Retry-After, backoff, limits, final error."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from provider_wire import FAST
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engram.errors import ProviderError
from engram.llms import build_llm
from engram.resilience import AttemptError, CallRunner, RetryPolicy, retry_after_seconds


def test_retry_after_reads_seconds_milliseconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Tue, 24 Nov 2026 12:00:30 GMT"}, now=now) == 30.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_doubles_up_to_the_cap_with_jitter_below_it() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=5.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(retry, None, rng) for retry in range(5)]
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0]
    assert all(d is not None and c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_a_retry_after_longer_than_allowed_gives_up_at_once() -> None:
    calls: list[float] = []
    runner = CallRunner(
        "p",
        "m",
        RetryPolicy(max_retry_after=5),
        endpoint="give-up-test",
        max_concurrency=1,
        sleep=calls.append,
    )

    def attempt() -> str:
        raise AttemptError("rate limited", provider="p", model="m", status_code=429, retryable=True, retry_after=3600)

    with pytest.raises(ProviderError, match="retry after 3600s") as caught:
        runner.run(attempt)
    assert calls == []  # it did not sleep an hour
    assert caught.value.status_code == 429


def test_the_final_error_keeps_the_original_as_cause() -> None:
    runner = CallRunner(
        "p", "m", RetryPolicy(max_retries=1), endpoint="cause-test", max_concurrency=1, sleep=lambda s: None
    )
    original = ConnectionResetError("reset")

    def attempt() -> str:
        raise AttemptError("could not connect", provider="p", model="m", retryable=True) from original

    with pytest.raises(ProviderError) as caught:
        runner.run(attempt)
    assert caught.value.__cause__ is original
    assert not isinstance(caught.value, AttemptError)


def test_concurrent_calls_per_endpoint_are_bounded(server: HTTPServer) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow(request: Request) -> Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.25)  # long enough that the calls overlap even on a busy machine
        with lock:
            in_flight -= 1
        body = request.get_json()
        reply = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "model": body["model"],
        }
        return Response(json.dumps(reply), content_type="application/json")

    server.expect_request("/bounded/v1/chat/completions").respond_with_handler(slow)
    llm = build_llm("openai", {"api_key": "k", "base_url": server.url_for("/bounded/v1"), "max_concurrency": 2, **FAST})
    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(lambda _: llm.complete([{"role": "user", "content": "hi"}]).text, range(6)))
    assert texts == ["ok"] * 6
    assert peak == 2
