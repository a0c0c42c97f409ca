"""Use cases of the AI call system: start, connect, end and look at calls.

Every status change goes through `Call.transition` (the rules) and then a compare-and-set write
(the race), so two requests that hang up the same call at once cannot both win and a refused
change leaves the stored call untouched.

Each call records the node (`NODE_ID`) that carries it, for `fail_abandoned` at start-up.
"""

from __future__ import annotations

import logging
import uuid

from parley.calls.domain import Call, CallStatus, Turn, utcnow
from parley.calls.phone import PhoneNumber
from parley.calls.ports import CallFilter, CallStore, Page, TurnStore
from parley.errors import IllegalTransitionError, NotFoundError

log = logging.getLogger("parley.calls")
SERVER_RESTARTED = "server restarted: the process carrying the call stopped"


class CallNotFoundError(NotFoundError):
    code = "CALL_NOT_FOUND"


class CallService:
    def __init__(self, calls: CallStore, turns: TurnStore, *, node_id: str = "parley") -> None:
        """`node_id` is this server's name (`NODE_ID`), written on the calls it carries."""
        self._calls = calls
        self._turns = turns
        self.node_id = node_id

    async def initiate(self, caller_number: str, receiver_number: str | None = None) -> Call:
        """Create a call; it rings at once, as the original system's calls did."""
        caller = PhoneNumber.parse(caller_number, "callerNumber")
        receiver = PhoneNumber.parse(receiver_number, "receiverNumber") if receiver_number else None
        call = Call(caller=caller, receiver=receiver, node_id=self.node_id)
        call.transition(CallStatus.RINGING, at=call.created_at)
        await self._calls.add_call(call)
        return call

    async def get(self, call_id: str | uuid.UUID) -> Call:
        call = await self._calls.get_call(_parse_id(call_id))
        if call is None:
            raise CallNotFoundError(f"No call has the id '{call_id}'.", callId=str(call_id))
        return call

    async def get_by_session(self, session_id: str) -> Call:
        call = await self._calls.get_call_by_session(session_id)
        if call is None:
            raise CallNotFoundError("No call has that sessionId.")
        return call

    async def connect(self, call_id: str | uuid.UUID) -> Call:
        """RINGING → CONNECTING. A call already connecting or talking is returned unchanged: the
        original client calls this after sending its offer, when media may already flow."""
        call = await self.get(call_id)
        if call.status in (CallStatus.CONNECTING, CallStatus.IN_PROGRESS):
            return call
        try:
            return await self.transition(call.id, CallStatus.CONNECTING)
        except IllegalTransitionError:  # the client's request and the media raced: both won
            current = await self.get(call.id)
            if current.status in (CallStatus.CONNECTING, CallStatus.IN_PROGRESS):
                return current
            raise

    async def start(self, call_id: str | uuid.UUID) -> Call:
        """Media is flowing: the conversation has begun."""
        return await self.transition(call_id, CallStatus.IN_PROGRESS)

    async def end(self, call_id: str | uuid.UUID) -> Call:
        return await self.transition(call_id, CallStatus.ENDED)

    async def fail(self, call_id: str | uuid.UUID, reason: str) -> Call:
        return await self.transition(call_id, CallStatus.FAILED, reason=reason)

    async def transition(
        self, call_id: str | uuid.UUID, target: CallStatus, *, reason: str | None = None
    ) -> Call:
        call = await self.get(call_id)
        previous = call.status
        call.transition(target, at=utcnow(), reason=reason)
        if not await self._calls.save_transition(call, expected=previous):
            current = await self.get(call.id)
            raise IllegalTransitionError(
                f"Call {call.id} changed to {current.status} meanwhile; it cannot go to {target}.",
                current=current.status.value,
                requested=target.value,
            )
        return call

    async def carry(self, call: Call) -> Call:
        """This node takes the call's live peer: record it (a call created through another node
        is carried here), so that only this node's restart fails it."""
        if call.node_id != self.node_id:
            await self._calls.save_node(call.id, self.node_id)
            call.node_id = self.node_id
        return call

    async def fail_abandoned(self) -> int:
        """At start-up, before serving: fail the calls this node's previous process left
        unfinished (it crashed or was killed, so they cannot go on), and calls no node claims
        (stored before nodes were recorded). Returns how many.

        Only this node's calls are touched, so a node that restarts never fails a call another
        node is carrying. With several nodes (issue 18) this becomes a lease: each node renews a
        short-lived entry ("node X is alive until T", in Redis), and any node fails the calls of
        a node whose lease expired, with this same query on that node's id — so the calls of a
        node that never comes back fail within seconds, not at its next start. Until then a node
        needs a `NODE_ID` that is stable across restarts (the host name by default) and unique
        among the nodes sharing a database.
        """
        count = await self._calls.fail_abandoned(self.node_id, reason=SERVER_RESTARTED, at=utcnow())
        if count:
            log.warning("%d unfinished call(s) of node %s marked FAILED", count, self.node_id)
        return count

    async def find(
        self, *, status: CallStatus | None, caller_number: str | None, page: Page
    ) -> tuple[list[Call], int]:
        caller = PhoneNumber.parse(caller_number, "callerNumber").e164 if caller_number else None
        return await self._calls.list_calls(CallFilter(status=status, caller_e164=caller), page)

    async def conversation(self, call_id: str | uuid.UUID) -> tuple[Call, list[Turn]]:
        call = await self.get(call_id)
        return call, await self._turns.list_turns(call.id)

    async def record_turns(self, turns: list[Turn]) -> list[Turn]:
        """Store turns of one call together: all of them, or none."""
        return await self._turns.append_turns(turns)

    async def recent_turns(self, call_id: uuid.UUID, limit: int) -> list[Turn]:
        return await self._turns.list_turns(call_id, limit=limit) if limit else []


def _parse_id(call_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(call_id, uuid.UUID):
        return call_id
    try:
        return uuid.UUID(call_id)
    except ValueError as exc:
        raise CallNotFoundError(
            f"No call has the id '{call_id[:64]}' (call ids are UUIDs).", callId=call_id[:64]
        ) from exc
