"""Shared fixtures: settings isolated per test, the app with its lifespan, an HTTP client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from parley.ai.base import AudioChunk, Language
from parley.ai.engine import AIEngine, build_engine, install_local_models
from parley.config import Settings, load_settings
from parley.web.app import create_app
from tests.dbservers import (
    INSTALL_HINT,
    DatabaseServer,
    missing_binaries,
    start_mariadb,
    start_postgresql,
)
from tests.live import LiveServer, start_server
from tests.speech import speak, with_silence

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def make_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a test: no `.env`, data under `data_dir`, overrides by section; no Janus
    unless the test turns it on."""
    server = {"data_dir": data_dir, "app_env": "test", "log_format": "console"}
    server.update(sections.pop("server", {}))
    sections["janus"] = {"enabled": False, **sections.get("janus", {})}  # on only where tested
    return load_settings(None, server=server, **sections)


@asynccontextmanager
async def running_client(
    settings: Settings, engine: AIEngine | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield client


@pytest.fixture
def make_client(tmp_path: Path, local_engine: AIEngine) -> MakeClient:
    """Clients of apps that share the session's AI engine (models load once per run)."""

    def make(**sections: dict[str, Any]) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_client(make_settings(tmp_path, **sections), local_engine)

    return make


@pytest.fixture(scope="session")
async def local_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AIEngine]:
    """The offline default engine with the real local models, loaded once for the session.
    Temperature 0, so that answers do not vary from run to run."""
    settings = make_settings(tmp_path_factory.mktemp("engine"), ai={"llm_temperature": 0.0})
    await asyncio.to_thread(install_local_models, settings)
    engine = build_engine(settings)
    await engine.load()
    yield engine
    await engine.aclose()


@pytest.fixture(scope="session")
async def english_question(local_engine: AIEngine) -> AudioChunk:
    """Not "Hello": in the AI's own voice that would be, rightly, taken for the greeting's echo."""
    text = "Hi, I ordered a pair of shoes last week. When will they arrive?"
    return with_silence(await speak(local_engine.tts, text, Language.ENGLISH))


@pytest.fixture(scope="session")
async def korean_question(local_engine: AIEngine) -> AudioChunk:
    text = "안녕하세요. 지난주에 주문한 신발이 언제 도착하나요?"
    return with_silence(await speak(local_engine.tts, text, Language.KOREAN))


@pytest.fixture(scope="session")
async def idle_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AIEngine]:
    """An engine that never loads a model, for fast tests of what surrounds the AI (meetings)."""
    settings = make_settings(tmp_path_factory.mktemp("idle-engine"), **IDLE_AI)
    engine = build_engine(settings)
    yield engine
    await engine.aclose()


IDLE_AI: dict[str, dict[str, Any]] = {
    "ai": {
        "preload": False,
        "llm": "openai-compatible",
        "llm_base_url": "http://127.0.0.1:9/v1",
        "llm_model": "none",
    },
}


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


# --- real database servers ----------------------------------------------------------------------

BACKENDS = ["sqlite", "postgresql", "mariadb"]
_STARTERS = {"postgresql": start_postgresql, "mariadb": start_mariadb}


@pytest.fixture(scope="session")
def database_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, DatabaseServer]]:
    """PostgreSQL and MariaDB, started once (lazily) for the session and stopped at its end."""
    servers: dict[str, DatabaseServer] = {}

    class Lazy(dict[str, DatabaseServer]):
        def __missing__(self, name: str) -> DatabaseServer:
            if missing := missing_binaries(name):  # type: ignore[arg-type]
                pytest.fail(f"{name} is not installed ({', '.join(missing)}): {INSTALL_HINT}")
            servers[name] = _STARTERS[name](tmp_path_factory.mktemp(name))
            self[name] = servers[name]
            return servers[name]

    yield Lazy()
    for server in servers.values():
        server.stop()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, database_servers: dict[str, DatabaseServer]
) -> AsyncIterator[str]:
    """A fresh, empty database on each backend in turn: SQLite, PostgreSQL, MariaDB."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server = database_servers[backend]
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(server.url).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            await conn.execute(text(f"DROP DATABASE {name}{force}"))
    finally:
        await admin.dispose()
