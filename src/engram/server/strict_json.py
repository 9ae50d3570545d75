"""Request bodies are parsed as strict JSON: NaN, Infinity and numbers too big for a float are refused.

Python's ``json.loads`` accepts them, but they are not JSON: stored in a memory's metadata they would
break every later read of it (and SQLite's JSON functions). Bodies nested deeper than ``MAX_DEPTH`` are
refused too, before a recursive filter parser can overflow its stack. A route class swaps in a request
whose ``json()`` is strict; FastAPI then answers 422 ``invalid_request`` like any malformed body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from engram.validation import strict_json

MAX_DEPTH = 32  # real filters nest a few levels; thousands would exhaust the stack of every parser after us


def _depth(value: Any) -> int:
    """How deeply lists and objects nest (iterative: a deep body must not overflow our stack either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
        deepest = max(deepest, depth)
    return deepest


def loads_strict(body: bytes | str) -> Any:
    try:
        value = strict_json(body)
    except RecursionError:
        raise json.JSONDecodeError(f"the body nests deeper than {MAX_DEPTH} levels", "", 0) from None
    if _depth(value) > MAX_DEPTH:
        raise json.JSONDecodeError(f"the body nests deeper than {MAX_DEPTH} levels", "", 0)
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
