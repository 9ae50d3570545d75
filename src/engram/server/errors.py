"""Every error the server answers, in one place: ``{"error": {"code", "message"}}``.

The codes are stable; clients branch on them (``MemoryClient`` turns them back
into engram's exception classes).

| status | code                | raised as                                   |
|--------|---------------------|---------------------------------------------|
| 400    | validation_error    | ``ValidationError`` (the verb refused the call) |
| 400    | config_error        | ``ConfigError`` (e.g. infer=True with no LLM) |
| 401    | unauthorized        | ``Unauthorized`` (missing, wrong or revoked key) |
| 403    | forbidden           | ``Forbidden`` (e.g. reset with a project key) |
| 404    | not_found           | ``NotFoundError``, unknown route            |
| 400    | invalid_request     | a JSON body that cannot be parsed           |
| 405    | method_not_allowed  | a known path with another method            |
| 413    | payload_too_large   | body over the size limit                    |
| 422    | invalid_request     | the body or query does not match the schema |
| 502    | provider_error      | ``ProviderError`` (LLM or embedder failed)  |
| 503    | storage_error       | ``StorageError``                            |
| 500    | internal_error      | a bug: logged with its traceback            |
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from engram.errors import (
    ConfigError,
    EngramError,
    NotFoundError,
    ProviderError,
    StorageError,
    ValidationError,
)

logger = logging.getLogger("engram.server")


class Unauthorized(EngramError):
    """No API key, or one the server does not know (or has revoked)."""


class Forbidden(EngramError):
    """A valid key that may not do this."""


class PayloadTooLarge(EngramError):
    """The request body is over the server's limit."""


# Most specific first: the first matching class decides.
ERROR_STATUS: list[tuple[type[EngramError], int, str]] = [
    (ValidationError, 400, "validation_error"),
    (ConfigError, 400, "config_error"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (ProviderError, 502, "provider_error"),
    (StorageError, 503, "storage_error"),
]

HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def status_of(exc: EngramError) -> tuple[int, str]:
    for cls, status, code in ERROR_STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def _problem(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"])
    detail = error.get("ctx", {}).get("error")
    return f"{where}: {error['msg']}" + (f" ({detail})" if isinstance(detail, str) else "")


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """The one handler: maps each error class to its status and stable code."""
    headers: dict[str, str] | None = None
    if isinstance(exc, EngramError):
        status, code = status_of(exc)
        body = error_body(code, str(exc))
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        if status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.url.path, exc)
    elif isinstance(exc, RequestValidationError):
        status = 422
        problems = [_problem(error) for error in exc.errors()]
        # The errors echo the input: text with lone surrogates, or the raw bytes of a body that was not
        # JSON (a non-JSON Content-Type), which need not be UTF-8. Both are made encodable first.
        details = _encodable(jsonable_encoder(_encodable(exc.errors())))
        body = error_body("invalid_request", _encodable("; ".join(problems)), details=details)
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        body = error_body(HTTP_CODES.get(status, f"http_{status}"), str(exc.detail))
        headers = dict(exc.headers) if exc.headers else None
    else:
        logger.error("%s %s raised a bug", request.method, request.url.path, exc_info=exc)
        status, body = 500, error_body("internal_error", f"{type(exc).__name__}: the server hit a bug")
    return JSONResponse(body, status_code=status, headers=headers)


def _encodable(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8 (a lone surrogate becomes ``\\ud800``) and
    bytes made text (a byte that is not UTF-8 becomes ``\\xff``)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return value
