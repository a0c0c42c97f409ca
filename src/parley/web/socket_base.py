"""One convention for every Socket.IO namespace (`/signaling`, `/meetings`): a handler reads
like a FastAPI route. It declares the model of its payload and whether it needs a joined
connection; the base parses, checks the join, answers and reports errors, the same way
everywhere:

    @handles(ChatRequest)                       # joined=True: the member is passed in
    async def on_chat(self, sid: str, body: ChatRequest, member: Member) -> Reply:
        ...
        return {"message": view}                # the ack: {"ok": true, "message": ...}

- **Success**: the acknowledgement is `{"ok": true, ...what the handler returned}`.
- **Failure** (any `ParleyError`, a payload that does not validate: `INVALID_PAYLOAD`, a
  handler that needs a join before it: `NOT_JOINED`, an unexpected exception:
  `INTERNAL_ERROR`): the acknowledgement is `{"ok": false, "error": {code, message}}` AND an
  `error {message, code, event}` event goes to the connection, so a client that sends without
  acknowledgements (the original `/signaling` client) is told too. A refusal that a wait would
  lift carries `retryAfter` (seconds) in both.
- A payload is parsed before anything happens: a bad one changes nothing. No payload is `{}`.

Errors escape the handler and are answered by `OrderedNamespace` (which also keeps each
connection's events in order and refuses floods and malformed events through `refused`), so
there is one place that turns an error into wire payloads. Per-connection state lives in the
Socket.IO session (`get_session`/`save_session`) or in registries behind Protocols, never in a
dict on the namespace, so that a `client_manager` (e.g. python-socketio's Redis manager) can be
passed to the server without rewriting handlers.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ValidationError

from parley.errors import ConflictError, ParleyError
from parley.web.ordering import OrderedNamespace

Reply = dict[str, Any]
J = TypeVar("J")  # what a joined connection is to its namespace
M = TypeVar("M", bound=BaseModel)
NS = TypeVar("NS", bound="SocketNamespace[Any]")
Wire = Callable[[NS, str, Any], Awaitable[Reply]]  # what python-socketio calls: (sid, payload)
MAX_EVENT = 64  # characters of an event's name echoed in `error`
RETRY_AFTER = "retryAfter"


class InvalidPayloadError(ParleyError):
    """A payload that does not match its event's model; nothing was done."""

    code = "INVALID_PAYLOAD"


class NotJoinedError(ConflictError):
    """A request that needs a joined connection (a meeting, a call's session) came before."""

    code = "NOT_JOINED"


class SocketNamespace(OrderedNamespace, Generic[J]):
    """A namespace whose handlers follow the convention above. `J` is what a joined connection
    is (a meeting's member, a call's session), given to handlers that need one by `joined`."""

    async def joined(self, sid: str, body: Any) -> J:
        """What connection `sid` joined, for a request with payload `body`; raises
        `NotJoinedError` when it has not."""
        raise NotJoinedError("Join first.")

    async def refused(self, sid: str, event: str, error: ParleyError) -> Reply:
        """Tell the client: the `error` event, and what the acknowledgement carries."""
        body = error_body(error)
        await self.emit("error", {**body, "event": event[:MAX_EVENT]}, to=sid)
        return {"ok": False, "error": body}


def error_body(error: ParleyError) -> Reply:
    body: Reply = {"code": error.code, "message": error.message}
    if RETRY_AFTER in error.details:  # TOO_MANY_ATTEMPTS, WRONG_PIN, RATE_LIMITED
        body[RETRY_AFTER] = error.details[RETRY_AFTER]
    return body


@overload
def handles(
    model: type[M], *, joined: Literal[True] = True
) -> Callable[[Callable[[NS, str, M, Any], Awaitable[Reply]]], Wire[NS]]: ...


@overload
def handles(
    model: type[M], *, joined: Literal[False]
) -> Callable[[Callable[[NS, str, M], Awaitable[Reply]]], Wire[NS]]: ...


def handles(model: type[M], *, joined: bool = True) -> Callable[[Any], Wire[Any]]:
    """Make `handler` an event handler: its payload parsed as `model`; when `joined`, what the
    connection joined (`SocketNamespace.joined`) passed after it; its reply the ack's body."""

    def decorate(handler: Callable[..., Awaitable[Reply]]) -> Wire[Any]:
        @functools.wraps(handler)
        async def on_event(self: SocketNamespace[Any], sid: str, data: Any = None) -> Reply:
            body = parse(model, data)
            if joined:
                reply = await handler(self, sid, body, await self.joined(sid, body))
            else:
                reply = await handler(self, sid, body)
            return {"ok": True, **reply}

        return on_event

    return decorate


def parse(model: type[M], data: Any) -> M:
    """`data` (no payload is `{}`) as `model`; `InvalidPayloadError` naming the first problem."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise InvalidPayloadError(f"Invalid {model.__name__}: {where}: {first['msg']}") from None
