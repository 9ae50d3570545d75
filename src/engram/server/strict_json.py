"""Request bodies are parsed as strict JSON: NaN, Infinity and numbers too big for a float are refused.

Python's ``json.loads`` accepts them, but they are not JSON: stored in a memory's metadata they would
break every later read of it (and SQLite's JSON functions). A route class swaps in a request whose
``json()`` is strict; FastAPI then answers 422 ``invalid_request`` like any malformed body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _not_json(value: str) -> float:
    raise json.JSONDecodeError(f"{value} is not a JSON number", value, 0)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise json.JSONDecodeError(f"{text} is too large for a number", text, 0)
    return number


def loads_strict(body: bytes | str) -> Any:
    return json.loads(body, parse_constant=_not_json, parse_float=_finite)


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
