"""Shared fixtures: settings isolated per test, the app with its lifespan, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.config import Settings, load_settings
from parley.web.app import create_app
from tests.live import LiveServer, start_server

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def make_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a test: no `.env`, data under `data_dir`, overrides by section."""
    server = {"data_dir": data_dir, "app_env": "test", "log_format": "console"}
    server.update(sections.pop("server", {}))
    return load_settings(None, server=server, **sections)


@asynccontextmanager
async def running_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield client


@pytest.fixture
def make_client(tmp_path: Path) -> MakeClient:
    def make(**sections: dict[str, Any]) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_client(make_settings(tmp_path, **sections))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for the whole session, on SQLite, loopback only."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()
