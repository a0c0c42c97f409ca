"""Events from one Socket.IO connection are handled in the order they were sent.

python-socketio runs every incoming event in a task of its own (`async_handlers=True`), so a
handler that awaits (the database, Janus, aiortc) is overtaken by the next event of the same
client: the original system's client emits `join-session` and `offer` back to back, and the offer
was handled before the join had found the call. Here each connection has a *lane*:

- Every event still runs in python-socketio's own task, but it first takes a ticket in its
  connection's lane, in the order the packets were read: asyncio starts tasks in the order they
  were created, and no `await` stands between python-socketio reading a packet and
  `OrderedNamespace.trigger_event` taking the ticket. An event runs once the one before it in its
  lane has finished (or failed, or was cancelled).
- Lanes are per connection (sid) and per namespace, so different clients run concurrently and a
  slow handler holds up only what its own client sent after it.
- A lane is bounded in events and in bytes (the payloads as JSON text, measured when they
  arrive). An event past either bound is refused at once with `TOO_MANY_EVENTS`; what is already
  queued keeps its order. A flood costs at most the bound, and the client is told.
- `disconnect` takes its ticket like any event (it runs after what the client sent before it)
  and is never refused. `connect` and `disconnect` are python-socketio's own: a client that
  sends one as an event while connected is refused (it was removed from its meeting while it
  stayed connected); `parley.web.packets` refuses them before they get here, this is the
  namespace's own guard.
- An event whose name is not a string or that carries more than one payload is refused with
  `MALFORMED_PACKET`; a handler's unexpected exception is logged and answered
  `INTERNAL_ERROR` instead of being left to asyncio.

Why not `async_handlers=False`: that also keeps the order, but it runs each handler inside the
connection's read loop, which then stops reading while a handler awaits Janus or aiortc (Engine.IO
pongs included: a handler longer than the ping timeout would drop the connection), it is one
switch for the whole server, and a flood gets no answer. A worker task per connection fed by a
queue would do as well as lanes, at the cost of one more task and one more hop per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import socketio

from parley.errors import ParleyError

T = TypeVar("T")
log = logging.getLogger("parley.web.ordering")

MAX_EVENTS = 64  # waiting or running, per connection
MAX_BYTES = 1024 * 1024  # of payload (JSON text), per connection
LIFECYCLE = ("connect", "disconnect")  # python-socketio's own events, never a client's


class TooManyEventsError(ParleyError):
    """A connection sent more than its lane holds; the event was not handled."""

    code = "TOO_MANY_EVENTS"


@dataclass(slots=True)
class _Lane:
    tail: asyncio.Future[None] | None = None  # done when the last event taken has finished
    events: int = 0
    bytes: int = 0


@dataclass(slots=True)
class Lanes:
    """One FIFO lane per key (a connection), bounded in events and bytes."""

    max_events: int = MAX_EVENTS
    max_bytes: int = MAX_BYTES
    _lanes: dict[str, _Lane] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._lanes)

    @property
    def queued_bytes(self) -> int:
        return sum(lane.bytes for lane in self._lanes.values())

    async def run(
        self, key: str, size: int, handler: Callable[[], Awaitable[T]], *, force: bool = False
    ) -> T:
        """Run `handler` after everything `key` sent before; `force` skips the bounds."""
        lane = self._lanes.setdefault(key, _Lane())
        if not force and (lane.events >= self.max_events or lane.bytes + size > self.max_bytes):
            raise TooManyEventsError(
                f"Too many events at once: at most {self.max_events} events or "
                f"{self.max_bytes // 1024} KiB may wait; this one was dropped.",
            )
        previous = lane.tail
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.tail, lane.events, lane.bytes = done, lane.events + 1, lane.bytes + size
        try:
            if previous is not None and not previous.done():
                await asyncio.shield(previous)
            return await handler()
        finally:
            lane.events, lane.bytes = lane.events - 1, lane.bytes - size
            _finish_after(done, previous)
            if lane.events == 0 and self._lanes.get(key) is lane:
                del self._lanes[key]


def _finish_after(done: asyncio.Future[None], previous: asyncio.Future[None] | None) -> None:
    """Mark this event finished, but never before the one ahead of it (when this one was
    cancelled while it waited, the one ahead may still be running)."""

    def finish(_: object = None) -> None:
        if not done.done():
            done.set_result(None)

    if previous is None or previous.done():
        finish()
    else:
        previous.add_done_callback(finish)


def _malformed(message: str) -> ParleyError:
    return ParleyError(message, code="MALFORMED_PACKET")


def payload_size(args: tuple[Any, ...]) -> int:
    """The size of an event's arguments as JSON text, binary attachments by their length: what
    the client sent, near enough."""
    binary = 0

    def attachment(value: Any) -> str:
        nonlocal binary
        if isinstance(value, bytes | bytearray):
            binary += len(value)
            return ""
        return str(value)

    return len(json.dumps(args, default=attachment, ensure_ascii=False)) + binary


class OrderedNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A namespace whose events from one connection are handled in order, one at a time.

    Events are kebab-case on the wire (`join-session`); handlers are `on_join_session`."""

    def __init__(self, namespace: str, lanes: Lanes | None = None) -> None:
        super().__init__(namespace)
        self.lanes = lanes or Lanes()

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        sid: str = args[0]
        if event in LIFECYCLE:
            if self._connected(sid):  # the server's own come while the connection is pending
                log.warning("refused %r sent as an event by a connected client", event)
                return await self.refused(sid, event, _malformed(f"'{event}' is not an event."))
            return await self.lanes.run(sid, 0, lambda: self._dispatch(event, args), force=True)
        if not isinstance(event, str) or len(args) > 2:
            malformed = _malformed("An event has a name and at most one payload.")
            return await self.refused(sid, str(event)[:40], malformed)
        try:
            return await self.lanes.run(
                sid, payload_size(args[1:]), lambda: self._handle(event, args)
            )
        except TooManyEventsError as exc:
            log.warning("dropped %s from a connection: %s", event[:40], exc.message)
            return await self.refused(sid, event, exc)

    def _connected(self, sid: str) -> bool:
        """Whether the connection is fully connected: python-socketio runs the real `connect`
        and `disconnect` while it is pending (with `always_connect` off, its default)."""
        return bool(self.server.manager.is_connected(sid, self.namespace))

    async def _dispatch(self, name: str, args: tuple[Any, ...]) -> Any:
        return await super().trigger_event(name, *args)

    async def _handle(self, event: str, args: tuple[Any, ...]) -> Any:
        """An event's handler; what escapes it is answered (and a bug logged with its
        traceback) rather than left to asyncio as a task's unretrieved exception."""
        try:
            return await self._dispatch(event.replace("-", "_"), args)
        except ParleyError as exc:  # told to the client; what failed on our side logged it
            log.debug("%s refused: %s: %s", event[:40], exc.code, exc.message)
            return await self.refused(args[0], event, exc)
        except Exception:
            log.exception("%s failed", event[:40])
            failure = ParleyError("Something went wrong on our side.", code="INTERNAL_ERROR")
            return await self.refused(args[0], event, failure)

    async def refused(self, sid: str, event: str, error: ParleyError) -> Any:
        """Tell the client an event was not handled; what it returns is the acknowledgement.
        `parley.web.socket_base.SocketNamespace` says how (the `error` event and an ack)."""
        await self.emit("error", {"message": error.message, "code": error.code}, to=sid)
        return None
