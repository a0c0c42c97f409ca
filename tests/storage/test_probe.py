"""`CachedCheck`, the readiness probe's memory: at most one run per `max_age`, whoever asks and
however many at once; failures remembered as long as successes. A clock of our own: no waiting."""

from __future__ import annotations

import asyncio

import pytest

from parley.errors import StorageError
from parley.storage.probe import CachedCheck


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Database:
    """What is checked: whether writes work now, and how often it was asked."""

    def __init__(self) -> None:
        self.writable = True
        self.runs = 0

    async def check(self) -> None:
        self.runs += 1
        await asyncio.sleep(0.01)
        if not self.writable:
            raise StorageError("locked")


async def test_the_outcome_is_reused_until_it_is_too_old() -> None:
    clock, database = Clock(), Database()
    check = CachedCheck(database.check, max_age=2.0, clock=clock)
    await check()
    database.writable = False
    clock.now += 1.9
    await check()  # still the last outcome
    assert database.runs == 1
    clock.now += 0.2
    with pytest.raises(StorageError):
        await check()
    database.writable = True
    with pytest.raises(StorageError):  # a failure is remembered as long
        await check()
    assert database.runs == 2
    clock.now += 2.0
    await check()
    assert database.runs == 3


async def test_callers_at_once_share_one_run() -> None:
    clock, database = Clock(), Database()
    check = CachedCheck(database.check, max_age=2.0, clock=clock)
    await asyncio.gather(*(check() for _ in range(50)))
    assert database.runs == 1
