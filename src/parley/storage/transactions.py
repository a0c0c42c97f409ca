"""What every SQL store shares: one short transaction per method, driver errors turned into
`StorageError`, and transactions that run to their end even when their caller is cancelled.

A driver error is logged (its class and message, never the statement or its parameters) and
reaches callers as `StorageError` with a message for people, which the web layer may show.

A transaction cut in the middle (a call hanging up cancels its tasks) can leave its connection
holding SQLite's write lock, and every later write of the process then fails with "database is
locked": so `to_the_end` runs the method in a task of its own, shielded from the caller
(`parley.tasks.shielded`). Every transaction counts as in flight on its `Database` while it
runs, so that closing the database waits for it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.errors import StorageError
from parley.storage.db import Database
from parley.tasks import shielded

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("parley.storage")
# What clients are told, over REST and Socket.IO alike: the driver's own words (and its class,
# `OperationalError`) are for the log only.
UNAVAILABLE = "The database is not available right now; try again in a moment."


def to_the_end(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run the method in its own task, shielded from the caller's cancellation."""

    @functools.wraps(method)
    async def to_its_end(*args: P.args, **kwargs: P.kwargs) -> T:
        return await shielded(method(*args, **kwargs), f"storage:{method.__name__}")

    return to_its_end


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed at the end. `IntegrityError` passes through (the
    caller may retry); every other driver or SQL error becomes `StorageError`."""
    try:
        async with db.in_flight(), db.session() as session, session.begin():
            yield session
    except IntegrityError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        log.warning("the database failed: %s", driver_error(exc))
        raise StorageError(UNAVAILABLE) from exc


def driver_error(exc: BaseException) -> str:
    """What the driver said (`OperationalError: database is locked`), for the log: never the
    statement or its parameters, which may hold what people wrote."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
