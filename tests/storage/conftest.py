"""A migrated database on each server of `database_url` (SQLite, PostgreSQL, MariaDB)."""

from collections.abc import AsyncIterator

import pytest

from parley.storage.db import Database


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.upgrade()
    yield database
    await database.aclose()
