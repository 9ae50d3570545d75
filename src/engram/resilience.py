"""Retries, backoff and concurrency limits for every provider call, written once.

Provider modules (LLMs and embedders alike) only translate their SDK's errors
into :class:`AttemptError` (one place per module, see ``map_errors`` there),
saying whether the failure is worth retrying and what the server's
``Retry-After`` asked for. :class:`CallRunner` does the rest:

- at most ``max_concurrency`` calls in flight per provider endpoint, shared by
  every object that talks to it in this process;
- retries on 429, 5xx, timeouts and connection errors, with exponential
  backoff and jitter, waiting what ``Retry-After`` asks when the server says;
- after the last attempt, a :class:`~engram.errors.ProviderError` naming the
  provider, model and status, with the SDK's own exception as ``__cause__``.

SDK-internal retries are switched off by each provider so these are the only ones.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from engram.errors import ProviderError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class AttemptError(ProviderError):
    """One failed attempt at a provider call, as the provider module classified it."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model, status_code=status_code, retryable=retryable)
        self.retry_after = retry_after


def status_error(
    provider: str,
    model: str | None,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> AttemptError:
    """The AttemptError for an HTTP error status, reading Retry-After from ``headers``."""
    return AttemptError(
        message,
        provider=provider,
        model=model,
        status_code=status,
        retryable=status in RETRYABLE_STATUS,
        retry_after=retry_after_seconds(headers) if headers is not None else None,
    )


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if (millis := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass  # fall through to Retry-After
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a header we cannot read is as good as none: plain backoff applies
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failed call."""

    max_retries: int = 3  # retries after the first attempt
    initial_backoff: float = 0.5  # seconds before the first retry; doubles each time
    max_backoff: float = 20.0
    max_retry_after: float = 60.0  # a server asking for a longer wait than this is not waited for
    jitter: float = 0.5  # each wait is shortened by up to this fraction, so clients spread out

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or None to give up now."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.initial_backoff * (1 << retry))
        return ceiling * (1 - self.jitter * rng.random())


class _Limits:
    """One semaphore per provider endpoint, shared by every client in the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}

    def get(self, key: str, size: int) -> threading.BoundedSemaphore:
        with self._lock:
            if key not in self._semaphores:
                self._semaphores[key] = threading.BoundedSemaphore(size)
            return self._semaphores[key]


LIMITS = _Limits()


class CallRunner:
    """Runs one provider call with the policy: concurrency slot, retries, final error."""

    def __init__(
        self,
        provider: str,
        model: str | None,
        policy: RetryPolicy,
        *,
        endpoint: str,
        max_concurrency: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.model = model
        self.policy = policy
        self.slot = LIMITS.get(f"{provider} {endpoint}", max_concurrency)
        self._sleep = sleep
        self._rng = random.Random()

    def run(self, attempt: Callable[[], T]) -> T:
        retry = 0
        while True:
            try:
                with self.slot:  # waits are spent outside the slot, so others may go meanwhile
                    return attempt()
            except AttemptError as exc:
                cause = exc.__cause__ or exc  # the SDK's exception when there was one
                if not exc.retryable or retry >= self.policy.max_retries:
                    raise self._final(exc, retry + 1) from cause
                delay = self.policy.delay(retry, exc.retry_after, self._rng)
                if delay is None:
                    message = f"{exc.args[0]}; the server asked to retry after {exc.retry_after:.0f}s"
                    raise self._final(exc, retry + 1, message) from cause
                self._sleep(delay)
                retry += 1

    def _final(self, exc: AttemptError, attempts: int, message: str | None = None) -> ProviderError:
        text = message or str(exc.args[0])
        if attempts > 1:
            text += f" (gave up after {attempts} attempts)"
        return ProviderError(
            text,
            provider=exc.provider,
            model=exc.model or self.model,
            status_code=exc.status_code,
            retryable=exc.retryable,
        )


__all__ = [
    "LIMITS",
    "RETRYABLE_STATUS",
    "AttemptError",
    "CallRunner",
    "RetryPolicy",
    "retry_after_seconds",
    "status_error",
]
