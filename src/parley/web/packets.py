"""Malformed Engine.IO and Socket.IO packets are dropped quietly, counted, and a connection that
keeps sending them is closed.

python-engineio 4 and python-socketio 5 decode what a client sends in tasks of their own, and
what they cannot decode escapes as an exception that they log with its traceback at ERROR (2,000
garbage packets wrote ~1,470 tracebacks). Where each kind failed, and what stops it here:

    what the client sends                      what the library did      checked here by
    an empty or non-Engine.IO websocket frame  "Exception in ASGI app"   `EngineIOGuard`
    an undecodable polling body                "post request handler"    `EngineIOGuard`
    bad JSON, an unknown packet type           "message async handler"   `CheckedPacket`
    a binary event, any attachment count       "message async handler"   `CheckedPacket`
    a non-string event name, `[null]`, `{}`    a task's exception        `CheckedPacket`
    `connect`/`disconnect` as an event         ran the disconnect        `CheckedPacket`
                                               handler: the client was   (and `ordering`)
                                               removed while connected

Parley's client-to-server events are all JSON with a string name, so binary events are refused
outright (nothing needs them, and nothing is then buffered for attachments). The names
`connect` and `disconnect` are the server's own life-cycle events: a client that emitted
`disconnect` was removed from its meeting while it stayed connected.

Every refusal is counted (`Garbage`, in `/metrics` as `sockets`); a connection's first one
writes one WARNING line, the rest are silent, and after `MAX_PER_CONNECTION` the connection is
closed. What a client sent is never logged (it may hold a PIN or a token): only what was wrong.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import engineio.packet  # type: ignore[import-untyped]
import engineio.payload  # type: ignore[import-untyped]
import socketio
from socketio import packet as sio_packet
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.errors import ParleyError

log = logging.getLogger("parley.web.packets")

MAX_PER_CONNECTION = 10  # malformed packets before the connection is closed
MAX_EVENT_NAME = 64
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "disconnecting"})
_ACCEPTED_TYPES = {sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.EVENT, sio_packet.ACK}
_ENGINEIO_TYPES = frozenset("0123456")  # open, close, ping, pong, message, upgrade, noop
_POLICY_VIOLATION = 1008  # websocket close code
ENGINEIO_METHODS = ("GET", "POST", "OPTIONS")
Closer = Callable[[], Awaitable[None]]


class MalformedPacketError(ParleyError):
    """A packet no Parley client sends; it was dropped."""

    code = "MALFORMED_PACKET"


@dataclass(slots=True)
class Garbage:
    """Malformed packets: how many were dropped, and how many connections were closed for them.

    A connection is its Engine.IO session id, whichever layer noticed; its strikes are kept
    until it is gone (`forget`), and only once it has some."""

    packets: int = 0
    closed: int = 0
    max_per_connection: int = MAX_PER_CONNECTION
    _strikes: dict[str, int] = field(default_factory=dict)

    def strike(self, connection: str, problem: str) -> bool:
        """Count one malformed packet; True when the connection has just reached the limit and
        must be closed (what it sends until it is gone is counted, and changes nothing)."""
        self.packets += 1
        strikes = self._strikes.get(connection, 0) + 1
        self._strikes[connection] = strikes
        if strikes == 1:
            log.warning(
                "dropped a malformed packet (%s); more from this connection are only "
                "counted, in /metrics",
                problem,
            )
        if strikes != self.max_per_connection:
            return False
        self.closed += 1
        log.info("closing a connection after %d malformed packets", strikes)
        return True

    def forget(self, connection: str) -> None:
        self._strikes.pop(connection, None)

    @property
    def connections(self) -> int:
        """Open connections that have sent at least one malformed packet."""
        return len(self._strikes)


# -- Socket.IO ----------------------------------------------------------------------------------


class CheckedPacket(sio_packet.Packet):  # type: ignore[misc]  # socketio is untyped
    """python-socketio's packet, refusing on decoding what no Parley client sends (as
    `MalformedPacketError`, the only error its decoding raises)."""

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str) or not encoded_packet:
            raise MalformedPacketError("a binary or empty Socket.IO packet")
        try:
            attachments: int = super().decode(encoded_packet) or 0
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):  # JSON errors too
            raise MalformedPacketError("a Socket.IO packet that does not decode") from None
        problem = packet_problem(self.packet_type, self.data, attachments)
        if problem is not None:
            raise MalformedPacketError(problem)
        return attachments


def packet_problem(kind: Any, data: Any, attachments: int) -> str | None:
    """What is wrong with a decoded Socket.IO packet from a client, or None."""
    if kind not in _ACCEPTED_TYPES or attachments:
        return f"packet type {kind!r} with {attachments} attachments"
    if kind == sio_packet.CONNECT and data is not None and not isinstance(data, dict):
        return "a connect packet whose payload is not an object"
    if kind == sio_packet.ACK and not isinstance(data, list):
        return "an acknowledgement whose payload is not an array"
    if kind == sio_packet.EVENT:
        return event_problem(data)
    return None


def event_problem(data: Any) -> str | None:
    """An event is an array whose first element is its name: a string, not a reserved one."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return "an event without a string name"
    name = data[0]
    if not name or len(name) > MAX_EVENT_NAME:
        return "an event name that is empty or too long"
    if name in RESERVED_EVENTS:
        return f"the reserved event name {name!r}"
    return None


class ParleySocketServer(socketio.AsyncServer):  # type: ignore[misc]  # socketio is untyped
    """python-socketio's server, with `CheckedPacket` as its packet class: a malformed packet is
    dropped and counted, and a connection that keeps sending them is closed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(serializer=CheckedPacket, **options)
        self.garbage = Garbage()
        self.websockets: dict[str, Closer] = {}  # by Engine.IO session (`EngineIOGuard`)

    async def drop(self, eio_sid: str) -> None:
        """End an Engine.IO session, and its websocket. Not `eio.disconnect`: that waits until
        the client has read the CLOSE packet (a polling client that does not poll never does,
        and the request asking hangs), and leaves the websocket for the client to close."""
        session = self.eio.sockets.get(eio_sid)
        if session is not None:
            await session.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)
            self.eio.sockets.pop(eio_sid, None)
        close = self.websockets.get(eio_sid)
        if close is not None:
            await close()

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            if not data:  # python-socketio would not decode it, and dispatch an event of nothing
                raise MalformedPacketError("an empty Socket.IO packet")
            await super()._handle_eio_message(eio_sid, data)
        except MalformedPacketError as exc:
            if eio_sid in self.environ and self.garbage.strike(eio_sid, exc.message):
                await self.drop(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            self.garbage.forget(eio_sid)


# -- Engine.IO (ASGI, before python-engineio reads anything) ----------------------------------


class EngineIOGuard:
    """In front of python-engineio: drops websocket frames that are not Engine.IO packets, and
    answers 400 to polling bodies that do not decode and to JSONP polling, before the library
    sees them (and 405 with `Allow` to methods it does not serve). `app` is python-engineio's
    ASGI entry, `server` the `ParleySocketServer` whose `garbage` counts what was dropped."""

    def __init__(self, app: ASGIApp, server: ParleySocketServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        sid = query.get("sid", [""])[0]
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, sid)
        elif scope["method"] not in ENGINEIO_METHODS:
            await _answer(
                send,
                405,
                "Engine.IO answers GET, POST and OPTIONS.",
                [(b"allow", ", ".join(ENGINEIO_METHODS).encode())],
            )
        elif "j" in query:  # JSONP: a `<script>` of any site could open a session
            await _answer(send, 400, "JSONP polling is not served.")
        elif scope["method"] == "POST" and sid in self.server.eio.sockets:
            await self._polling_post(scope, receive, send, sid)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, sid: str) -> None:
        connection = ""  # its Engine.IO session: an upgrade names it, a direct one learns it

        async def close() -> None:
            with suppress(RuntimeError, OSError):  # closed already
                await send({"type": "websocket.close", "code": _POLICY_VIOLATION})

        def known(session: str) -> None:
            nonlocal connection
            connection = session
            self.server.websockets[session] = close

        async def learning_send(message: Message) -> None:
            if not connection and (session := _opened_sid(message)):
                known(session)
            await send(message)

        async def checked_receive() -> Message:
            while True:
                message = await receive()
                problem = frame_problem(message)
                if problem is None:
                    return message
                if self.server.garbage.strike(connection or f"ws:{id(scope)}", problem):
                    await close()
                    return {"type": "websocket.disconnect", "code": _POLICY_VIOLATION}

        if sid:
            known(sid)
        try:
            await self.app(scope, checked_receive, learning_send)
        finally:
            if self.server.websockets.get(connection) is close:
                del self.server.websockets[connection]
            self.server.garbage.forget(f"ws:{id(scope)}")  # strikes before the session was known
            self.server.garbage.forget(connection)

    async def _polling_post(self, scope: Scope, receive: Receive, send: Send, sid: str) -> None:
        length = _content_length(scope)
        if length is None or length > self.server.eio.max_http_buffer_size:
            await self.app(scope, receive, send)  # python-engineio refuses or ignores it
            return
        body = await _read_body(receive)
        problem = payload_problem(body)
        if problem is None:
            await self.app(scope, _replay(body, receive), send)
            return
        if self.server.garbage.strike(sid, problem):
            await self.server.drop(sid)
        await _answer(send, 400, "That is not an Engine.IO payload.")


def _opened_sid(message: Message) -> str:
    """The session id in Engine.IO's OPEN packet (`0{"sid": ...}`), the first frame the server
    sends on a websocket opened without polling first; "" for any other message."""
    text = message.get("text") if message["type"] == "websocket.send" else None
    if not text or not text.startswith("0{"):
        return ""
    try:
        sid = json.loads(text[1:]).get("sid")
    except (ValueError, AttributeError):
        return ""
    return sid if isinstance(sid, str) else ""


def frame_problem(message: Message) -> str | None:
    """What is wrong with a websocket message for python-engineio, or None. Text frames must
    start with a packet type (0-6); binary frames are Engine.IO messages (Socket.IO decides)."""
    if message["type"] != "websocket.receive":
        return None
    text = message.get("text")
    if text is None:
        return None if message.get("bytes") is not None else "a frame with no data"
    if not text or text[0] not in _ENGINEIO_TYPES:
        return "a websocket frame that is not an Engine.IO packet"
    return None


def payload_problem(body: bytes) -> str | None:
    """What is wrong with a polling body, decoded as python-engineio will, or None."""
    try:
        payload = engineio.payload.Payload(encoded_payload=body.decode("utf-8"))
    except Exception:  # pure decoding: whatever it raises, it would have raised in the library
        return "a polling body that is not an Engine.IO payload"
    if any(p.packet_type not in range(len(engineio.packet.packet_names)) for p in payload.packets):
        return "a polling body with an unknown packet type"
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _answer(
    send: Send, status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = reason.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
