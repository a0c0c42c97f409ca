"""What the calls use cases need from storage, as small protocols.

`parley.storage` implements them with SQLAlchemy; the use cases never import it, so they can be
driven by any store that keeps these promises.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from parley.calls.domain import Call, CallStatus, Turn


@dataclass(frozen=True, slots=True)
class CallFilter:
    status: CallStatus | None = None
    caller_e164: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = 20


class CallStore(Protocol):
    async def add_call(self, call: Call) -> None:
        """Insert a new call."""

    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        """The call, or None when no call has that id."""

    async def get_call_by_session(self, session_id: str) -> Call | None:
        """The call whose signaling session is `session_id`, or None."""

    async def save_transition(self, call: Call, expected: CallStatus) -> bool:
        """Store `call`'s new status only if the stored one is still `expected` (compare-and-set).

        False means another request changed the call first; nothing was written.
        """

    async def list_calls(self, where: CallFilter, page: Page) -> tuple[list[Call], int]:
        """One page of calls, newest first, and the total number matching `where`."""

    async def save_node(self, call_id: uuid.UUID, node_id: str) -> None:
        """Record that the server `node_id` now carries the call."""

    async def fail_abandoned(self, node_id: str, *, reason: str, at: datetime) -> int:
        """Mark FAILED (with `reason`, ended `at`) every unfinished call carried by `node_id` or
        by no node; calls of other nodes are left alone. Returns how many were failed."""


class TurnStore(Protocol):
    async def append_turns(self, turns: list[Turn]) -> list[Turn]:
        """Store `turns` (of one call) as its next ones, all or none; indices are assigned here."""

    async def list_turns(self, call_id: uuid.UUID, *, limit: int | None = None) -> list[Turn]:
        """The call's turns in order (the last `limit` ones when given)."""
