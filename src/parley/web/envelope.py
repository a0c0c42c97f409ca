"""The response envelope of the original API, for success and for errors.

{"success": true,  "data": {...}}
{"success": false, "error": {"code": "CALL_NOT_FOUND", "message": "...", "details": {...}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

T = TypeVar("T")


class Success(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class ErrorBody(BaseModel):
    code: str = Field(examples=["CALL_NOT_FOUND"])
    message: str
    details: dict[str, Any] | None = None


class Failure(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


def ok(data: T) -> Success[T]:
    return Success[T](data=data)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Failure(error=ErrorBody(code=code, message=message, details=details or None))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer."""
    return {status: {"model": Failure} for status in statuses}
