"""How ``engram serve`` runs uvicorn: limits that keep slow or idle clients from holding the server.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but it waits for a
request's headers forever: 1,500 clients each sending a header byte now and then (slowloris)
held 1,500 connections open. Here:

- a request's headers must arrive within ``HEADER_TIMEOUT_S`` of the connection opening or of
  the previous response (``HeaderTimeoutH11Protocol``), else the connection is closed;
- an idle keep-alive connection is closed after ``KEEP_ALIVE_TIMEOUT_S``;
- at most ``max_connections`` connections (and requests) at once per process; beyond that
  uvicorn answers 503 at once (``limit_concurrency``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_TIMEOUT_S = 5
DEFAULT_MAX_CONNECTIONS = 1_000


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not arrive in time."""

    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._cycle_with_headers: object = None
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._cycle_with_headers:
            self._cycle_with_headers = self.cycle  # a new request's headers are in: its body may take longer
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()  # the next request on this connection has the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if getattr(self, "_header_deadline", None) is not None:
            assert self._header_deadline is not None
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()


def uvicorn_limits(max_connections: int = DEFAULT_MAX_CONNECTIONS) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that bound what clients hold."""
    return {
        "http": HeaderTimeoutH11Protocol,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT_S,
        "limit_concurrency": max_connections,
    }


__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "HEADER_TIMEOUT_S",
    "KEEP_ALIVE_TIMEOUT_S",
    "HeaderTimeoutH11Protocol",
    "uvicorn_limits",
]
