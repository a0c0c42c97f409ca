"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.errors import StorageError
from parley.web.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The service can take traffic (its database answers)")
async def readyz(database: DatabaseDep) -> JSONResponse:
    try:
        await database.ping()
    except StorageError:
        return JSONResponse({"status": "unavailable", "checks": {"database": "down"}}, 503)
    return JSONResponse({"status": "ready", "checks": {"database": "ok"}})
