"""`create_app(settings)`: the ASGI application, with everything it owns opened and closed in its
lifespan (database first; later the AI models, live calls and Janus)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from parley import __version__
from parley.calls.service import CallService
from parley.config import Settings
from parley.storage.db import Database
from parley.storage.stores import SqlCallStore
from parley.web.errors import install_error_handlers
from parley.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from parley.web.routes import calls, health

log = logging.getLogger("parley")


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Real-time conversation over WebRTC with AI in the loop.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(calls.router)
    _add_middleware(app, settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: CORS sees requests before the body limit, the request id wraps all.
    app.add_middleware(BodyLimitMiddleware, limit=settings.server.max_body_bytes)
    origins = settings.server.cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials="*" not in origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database = Database(settings.database_url, echo=settings.database.echo)
    try:
        if settings.database.auto_migrate:
            revision = await database.upgrade()
            log.info("database %s at revision %s", database.describe(), revision)
        store = SqlCallStore(database)
        app.state.database = database
        app.state.calls = CallService(store, store)
        log.info("parley %s ready (%s)", __version__, settings.server.app_env.value)
        yield
    finally:
        await database.aclose()
        log.info("parley stopped")
