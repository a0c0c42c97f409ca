"""The database connection: engine, sessions, health check and migrations.

One `Database` is created by the app and closed at shutdown. SQLite gets WAL journaling, so that
readers (the API) never wait behind the writer (a live call storing its turns). `writable()` is
`/readyz`'s write probe: readers keep working while writes fail, so only a write tells.

`aclose()` lets the transactions in flight finish first (up to `CLOSE_GRACE_S`): a call that
hangs up as the server stops still stores its last turn. A second or concurrent `aclose()` waits
for the first (`CloseOnce`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parley.errors import StorageError
from parley.storage.probe import CachedCheck
from parley.tasks import CloseOnce

log = logging.getLogger("parley.storage")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_TIMEOUT_S = 30  # how long a write waits for SQLite's lock
WRITE_PROBE_TIMEOUT_S = 1
WRITE_PROBE_MAX_AGE_S = 2.0
_TOUCH_VERSION = "UPDATE alembic_version SET version_num = version_num"
CLOSE_GRACE_S = 10.0  # what closing waits for the transactions in flight


class Database:
    """Owns the engine; `aclose()` waits for the transactions in flight, and a second one waits
    for the first."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        # Never the statements' parameters in logs or error messages: they hold what people wrote.
        self.engine: AsyncEngine = create_async_engine(
            self.url, echo=echo, hide_parameters=True, **_engine_options(url)
        )
        if self.dialect == "sqlite":
            _prepare_sqlite(self.engine, self.url.database)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writable = CachedCheck(self.probe_writes, WRITE_PROBE_MAX_AGE_S)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closer = CloseOnce()

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        """The URL with its password hidden: safe to log or print."""
        return self.url.render_as_string(hide_password=True)

    def session(self) -> AsyncSession:
        return self.sessions()

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Mark a transaction that `aclose()` must let finish (`transactions.transaction`)."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"The database at {self.describe()} is unreachable: {exc}") from exc

    async def probe_writes(self) -> None:
        """A real write, committed: `alembic_version`'s row set to itself. A database that
        answers reads but cannot write (locked, read-only, disk full) fails it within about
        `WRITE_PROBE_TIMEOUT_S`; `writable()` is the same, at most once per
        `WRITE_PROBE_MAX_AGE_S`."""
        try:
            await asyncio.wait_for(self._write_alembic_version(), WRITE_PROBE_TIMEOUT_S * 2)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StorageError(f"Writing to {self.describe()} failed: {exc}") from exc

    async def _write_alembic_version(self) -> None:
        async with self.engine.begin() as conn:
            if self.dialect == "sqlite":  # wait for a lock as long as the probe may, not 30 s
                await conn.exec_driver_sql(f"PRAGMA busy_timeout = {WRITE_PROBE_TIMEOUT_S * 1000}")
            elif self.dialect == "postgresql":
                await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{WRITE_PROBE_TIMEOUT_S}s'")
            try:
                await conn.execute(text(_TOUCH_VERSION))
            finally:
                if self.dialect == "sqlite":
                    await conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_TIMEOUT_S * 1000}")

    async def upgrade(self) -> str | None:
        """Apply every pending migration; return the revision the database is now at."""
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"Migrating {self.describe()} failed: {exc}") from exc
        return await self.current_revision()

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    async def aclose(self) -> None:
        await self._closer.run(self._close)

    async def _close(self) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), CLOSE_GRACE_S)
        except TimeoutError:
            log.warning("closing the database with %d transactions unfinished", self._in_flight)
        await self.engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _engine_options(url: str) -> dict[str, Any]:
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return {"pool_pre_ping": True, "pool_recycle": 1800}


def _prepare_sqlite(engine: AsyncEngine, database: str | None) -> None:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
