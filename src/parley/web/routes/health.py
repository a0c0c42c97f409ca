"""Liveness and readiness probes. Both answer HEAD as well as GET (load balancers and uptime
checkers often probe with HEAD); HEAD gets the same status and headers, without a body (the
server drops it), and stays out of the OpenAPI schema."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.errors import StorageError
from parley.web.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The service can take traffic (its database reads and writes)")
@router.head("/readyz", include_in_schema=False)
async def readyz(database: DatabaseDep) -> JSONResponse:
    """503 while the database cannot be read, or cannot be written: a locked or read-only
    database still answers reads, and every chat message, meeting and call would fail. The
    write probe runs at most every couple of seconds, whoever asks (`Database.writable`)."""
    try:
        await database.ping()
    except StorageError:
        return _unready("down")
    try:
        await database.writable()
    except StorageError:
        return _unready("unwritable")
    return JSONResponse({"status": "ready", "checks": {"database": "ok"}})


def _unready(database: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "checks": {"database": database}}, 503)
