"""Maps every error to the envelope with the right HTTP status and a stable code.

Domain errors keep their own code; framework errors get one here. An unexpected exception is
logged with its traceback and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response

from parley.ai.audio import AudioTooLongError, UnsupportedAudioError
from parley.errors import (
    AIProviderError,
    AtCapacityError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    JanusError,
    JanusUnavailableError,
    NotFoundError,
    ParleyError,
    StorageError,
    TooManyRequestsError,
    UnauthorizedError,
)
from parley.web.envelope import error_response

log = logging.getLogger("parley.web")

STATUS_OF: list[tuple[type[ParleyError], int]] = [
    (UnsupportedAudioError, 415),
    (AudioTooLongError, 413),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (InvalidInputError, 422),
    (ConflictError, 409),
    (TooManyRequestsError, 429),
    (StorageError, 503),
    (AtCapacityError, 503),
    (AIProviderError, 503),
    (JanusUnavailableError, 503),
    (JanusError, 502),
]
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
}


async def _parley_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParleyError)
    status = next((s for cls, s in STATUS_OF if isinstance(exc, cls)), 500)
    if isinstance(exc, AIProviderError):
        log.warning("%s: %s", exc.code, exc.message, extra=exc.details)
        return error_response(status, exc.code, exc.message, exc.details)
    if status >= 500:
        log.error("%s: %s", exc.code, exc.message)
        return error_response(status, exc.code, "The service is temporarily unavailable.")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, exc.details, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "MALFORMED_JSON", "The request body is not valid JSON.")
    fields = [_describe(e) for e in errors]
    message = "Invalid request: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(422, "VALIDATION_ERROR", message[:1000], {"fields": fields[:20]})


def _describe(error: Any) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = "There is nothing at this address."
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; use {' or '.join(allowed)}."
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette names only the first route's).

    FastAPI keeps an included router as one entry of `app.router.routes` (with no methods of its
    own); `iter_route_contexts` walks the routes inside, each with its full path."""
    path = _route_path(request)
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= route.methods or set()
    return sorted(methods)


def _route_path(request: Request) -> str:
    """The path the routes match: without the `root_path` a proxy may have mounted us under."""
    path: str = request.scope["path"]
    root = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _parley_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
