"""What every SQL store shares: one short transaction per method, driver errors turned into
`StorageError`, and transactions that run to their end even when their caller is cancelled.

A driver error is logged (its class and message, never the statement or its parameters) and
reaches callers as `StorageError` with a message for people, which the web layer may show.

A transaction cut in the middle (a call hanging up cancels its tasks) can leave its connection
holding SQLite's write lock, and every later write of the process then fails with "database is
locked": so `to_the_end` runs the method in a task of its own, shielded from the caller.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.errors import StorageError
from parley.storage.db import Database

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("parley.storage")
_RUNNING: set[asyncio.Task[Any]] = set()  # transactions whose caller may have gone
# What clients are told, over REST and Socket.IO alike: the driver's own words (and its class,
# `OperationalError`) are for the log only.
UNAVAILABLE = "The database is not available right now; try again in a moment."


def to_the_end(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run the method in its own task, shielded from the caller's cancellation."""

    @functools.wraps(method)
    async def shielded(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.create_task(method(*args, **kwargs), name=f"storage:{method.__name__}")
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_unheard_failure)
            raise

    return shielded


def _log_unheard_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("%s failed after its caller was cancelled: %s", task.get_name(), error)


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed at the end. `IntegrityError` passes through (the
    caller may retry); every other driver or SQL error becomes `StorageError`."""
    try:
        async with db.session() as session, session.begin():
            yield session
    except IntegrityError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        log.warning("the database failed: %s", driver_error(exc))
        raise StorageError(UNAVAILABLE) from exc


def driver_error(exc: BaseException) -> str:
    """What the driver said (`OperationalError: database is locked`), for the log: never the
    statement or its parameters, which may hold what people wrote."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
