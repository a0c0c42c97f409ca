"""An asyncio client for the Janus API over WebSocket (subprotocol `janus-protocol`).

    JanusClient          one WebSocket to one Janus: transactions, event routing, reconnection
    ├── JanusSession     a Janus session, kept alive by a keepalive task
    │   └── JanusHandle  a plugin handle: `message` (with JSEP), `trickle`, `hangup`, `detach`;
    │                    its asynchronous events (plugin events, webrtcup, hangup, media,
    │                    slowlink, ...) go to its `on_event` callback, or else its `events` queue
    └── ConnectionEvent  DISCONNECTED (every session and handle is gone), then RECONNECTED

Every request is a transaction: Janus may `ack` it first, then answers `success`, `event` (the
plugin's asynchronous requests) or `error`. An `error` becomes `JanusError` with Janus's code; a
plugin's refusal (`error_code` in its data) becomes `JanusPluginError`; no answer in time is
`JanusTimeoutError`; a dropped or absent connection is `JanusUnavailableError`.

When the socket drops, its sessions are gone (the Janus Parley runs destroys them at once, and a
restarted Janus never had them): the client fails pending requests, tells each handle
(`SESSION_LOST`) and each listener (`DISCONNECTED` with the lost session ids), then reconnects
with backoff, asking its endpoint source every time (a restarted Janus has a new port and new
secrets), and reports `RECONNECTED` so that higher layers recreate their rooms and handles.

Messages are logged (DEBUG) with every secret-bearing field masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from parley.errors import (
    JanusError,
    JanusPluginError,
    JanusTimeoutError,
    JanusUnavailableError,
)
from parley.tasks import CloseOnce, TaskSet

log = logging.getLogger("parley.janus.client")

PROTOCOL = Subprotocol("janus-protocol")
SECRET_FIELDS = frozenset(
    [
        "apisecret",
        "admin_secret",
        "admin_key",
        "secret",
        "new_secret",
        "pin",
        "new_pin",
        "token",
        "turn_pwd",
        "password",
    ]
)
MASK = "***"
EVENT_QUEUE_SIZE = 256
MAX_MESSAGE = 16 * 1024 * 1024


def redact(message: Any) -> Any:
    """A copy of a Janus message with the value of every secret-bearing field masked."""
    if isinstance(message, Mapping):
        return {k: MASK if k in SECRET_FIELDS else redact(v) for k, v in message.items()}
    if isinstance(message, list):
        return [redact(item) for item in message]
    return message


@dataclass(frozen=True, slots=True)
class JanusEndpoint:
    """Where a Janus is and the secrets it wants: its `api_secret` (sent with every request)
    and the VideoRoom plugin's `admin_key` (needed to create rooms)."""

    url: str
    api_secret: str | None = field(default=None, repr=False)
    admin_key: str | None = field(default=None, repr=False)


EndpointSource = Callable[[], Awaitable[JanusEndpoint]]


class EventKind(enum.StrEnum):
    EVENT = "event"  # a plugin event (`data` is the plugin's data; `jsep` when it has one)
    WEBRTCUP = "webrtcup"
    HANGUP = "hangup"
    MEDIA = "media"
    SLOWLINK = "slowlink"
    DETACHED = "detached"
    TRICKLE = "trickle"
    SESSION_LOST = "session_lost"  # the session is gone (socket dropped or session timed out)


@dataclass(frozen=True, slots=True)
class JanusEvent:
    kind: EventKind
    handle_id: int
    data: Mapping[str, Any]
    jsep: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PluginReply:
    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


class ConnectionState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    state: ConnectionState
    lost_sessions: tuple[int, ...] = ()
    reason: str = ""


EventCallback = Callable[[JanusEvent], None]
ConnectionListener = Callable[[ConnectionEvent], None]


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    ack_is_final: bool


class JanusClient:
    """One WebSocket connection to one Janus, shared by every session on it."""

    def __init__(
        self,
        endpoint: JanusEndpoint | EndpointSource,
        *,
        request_timeout: float = 10.0,
        keepalive_interval: float = 25.0,
        reconnect: bool = True,
        max_backoff: float = 5.0,
    ) -> None:
        self._source = endpoint if callable(endpoint) else _fixed(endpoint)
        self._timeout = request_timeout
        self._keepalive_interval = keepalive_interval
        self._reconnect = reconnect
        self._max_backoff = max_backoff
        self._ws: ClientConnection | None = None
        self._endpoint: JanusEndpoint | None = None
        self._pending: dict[str, _Pending] = {}
        self._sessions: dict[int, JanusSession] = {}
        self._handles: dict[int, JanusHandle] = {}
        self._listeners: list[ConnectionListener] = []
        self._connected = asyncio.Event()
        self._tasks = TaskSet("janus-client")
        self._closing = False
        self._closer = CloseOnce()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def endpoint(self) -> JanusEndpoint:
        if self._endpoint is None:
            raise JanusUnavailableError("not connected to Janus")
        return self._endpoint

    def add_listener(self, listener: ConnectionListener) -> Callable[[], None]:
        """Call `listener` on each DISCONNECTED / RECONNECTED; returns the unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def connect(self) -> None:
        """Open the connection (JanusUnavailableError if Janus cannot be reached)."""
        endpoint = await self._source()
        try:
            ws = await connect(
                endpoint.url,
                subprotocols=[PROTOCOL],
                open_timeout=self._timeout,
                proxy=None,
                compression=None,
                max_size=MAX_MESSAGE,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            where = shown_url(endpoint.url)
            raise JanusUnavailableError(f"cannot reach Janus at {where}: {exc}") from exc
        if self._closing:  # closed while connecting
            await ws.close()
            raise JanusUnavailableError("the Janus client is closed")
        self._ws, self._endpoint = ws, endpoint
        self._connected.set()
        self._tasks.start(self._read(ws), "reader")
        log.debug("connected to Janus at %s", shown_url(endpoint.url))

    async def wait_connected(self, within_s: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), within_s)
        except TimeoutError:
            raise JanusUnavailableError(f"not connected to Janus after {within_s:g} s") from None

    async def info(self) -> dict[str, Any]:
        """Janus's `server_info`: version, plugins, transports..."""
        return await self.request({"janus": "info"})

    async def create_session(self) -> JanusSession:
        reply = await self.request({"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]))
        self._sessions[session.id] = session
        session.keepalive = self._tasks.start(self._keep_alive(session), f"keepalive-{session.id}")
        return session

    async def request(
        self, body: Mapping[str, Any], *, timeout_s: float | None = None, ack_is_final: bool = False
    ) -> dict[str, Any]:
        """Send one transaction and return Janus's answer to it; raise on `error`. No answer
        within `timeout_s` (default: the client's request timeout) is `JanusTimeoutError`."""
        ws, endpoint = self._ws, self._endpoint
        if ws is None or endpoint is None:
            raise JanusUnavailableError("not connected to Janus")
        transaction = secrets.token_hex(8)
        message = {**body, "transaction": transaction}
        if endpoint.api_secret:
            message["apisecret"] = endpoint.api_secret
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = _Pending(future, ack_is_final)
        limit = timeout_s or self._timeout
        try:
            log.debug("janus ← %s", redact(message))
            await ws.send(json.dumps(message))
            reply = await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise JanusTimeoutError(_describe(body), limit) from None
        except ConnectionClosed as exc:
            raise JanusUnavailableError(f"connection to Janus lost: {exc}") from exc
        finally:
            self._pending.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            code = error.get("code")
            reason = str(error.get("reason", "unknown error"))
            raise JanusError(code if isinstance(code, int) else None, reason)
        return reply

    async def aclose(self) -> None:
        """Close the connection and forget every session (no reconnection). A second or
        concurrent call waits for the first."""
        self._closing = True  # at once: no reconnection starts while it closes
        await self._closer.run(self._close)

    async def _close(self) -> None:
        ws = self._ws
        if ws is not None:
            self._drop(ws, "client closed")
            await ws.close()
        await self._tasks.aclose()

    # -- the reading side -------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        reason = "connection closed"
        try:
            async for raw in ws:
                try:
                    self._dispatch(raw)
                except Exception:  # one odd message must not end the connection
                    log.exception("could not handle a message from Janus")
        except ConnectionClosed as exc:
            reason = f"connection lost ({exc})"
        if ws is self._ws:
            lost = self._drop(ws, reason)
            log.warning("Janus connection lost (%s); %d session(s) gone", reason, len(lost))
            self._emit(ConnectionEvent(ConnectionState.DISCONNECTED, lost, reason))
            if self._reconnect and not self._closing:
                self._tasks.start(self._reconnect_loop(), "reconnect")

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("Janus sent a message that is not JSON (%d bytes)", len(raw))
            return
        if not isinstance(message, dict):
            return
        log.debug("janus → %s", redact(message))
        kind = message.get("janus")
        pending = self._pending.get(str(message.get("transaction")))
        if pending is not None and (kind != "ack" or pending.ack_is_final):
            if not pending.future.done():
                pending.future.set_result(message)
            return
        if kind == "ack":
            return
        if kind == "timeout":
            self._session_gone(message.get("session_id"), "session timed out in Janus")
            return
        self._route(message)

    def _route(self, message: dict[str, Any]) -> None:
        handle = self._handles.get(message.get("sender"))  # type: ignore[arg-type]
        try:
            kind = EventKind(str(message.get("janus")))
        except ValueError:
            kind = None
        if handle is None or kind is None:
            log.debug("Janus event not for any handle: %s", message.get("janus"))
            return
        if kind is EventKind.EVENT:
            data = (message.get("plugindata") or {}).get("data") or {}
            handle.deliver(JanusEvent(kind, handle.id, data, message.get("jsep")))
        else:
            handle.deliver(JanusEvent(kind, handle.id, message))
        if kind is EventKind.DETACHED:
            handle.session.forget(handle)

    def _drop(self, ws: ClientConnection, reason: str) -> tuple[int, ...]:
        """Forget the connection, fail what waits on it, and lose its sessions."""
        if ws is self._ws:
            self._ws = None
            self._connected.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(JanusUnavailableError(reason))
        self._pending.clear()
        lost = tuple(self._sessions)
        for session_id in lost:
            self._session_gone(session_id, reason)
        return lost

    def _session_gone(self, session_id: Any, reason: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.mark_lost(reason)

    def _emit(self, event: ConnectionEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("Janus connection listener failed")

    async def _reconnect_loop(self) -> None:
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self.connect()
            except JanusError as exc:
                delay = min(delay * 2, self._max_backoff)
                log.info("Janus still unreachable (%s); next try in %.1f s", exc.reason, delay)
                continue
            log.info("reconnected to Janus at %s", shown_url(self.endpoint.url))
            self._emit(ConnectionEvent(ConnectionState.RECONNECTED))
            return

    async def _keep_alive(self, session: JanusSession) -> None:
        while not session.lost:
            await asyncio.sleep(self._keepalive_interval)
            body = {"janus": "keepalive", "session_id": session.id}
            try:
                await self.request(body, ack_is_final=True)
            except (JanusUnavailableError, JanusTimeoutError) as exc:
                log.debug("keepalive of session %d: %s", session.id, exc.reason)
            except JanusError as exc:  # 458: Janus no longer knows the session
                log.warning("Janus session %d is gone: %s", session.id, exc.reason)
                self._session_gone(session.id, exc.reason)

    # -- bookkeeping for sessions and handles -------------------------------------------------

    def register(self, handle: JanusHandle) -> None:
        self._handles[handle.id] = handle

    def unregister(self, handle: JanusHandle) -> None:
        self._handles.pop(handle.id, None)

    def forget_session(self, session: JanusSession) -> None:
        self._sessions.pop(session.id, None)


class JanusSession:
    """A Janus session: plugin handles live in it; a keepalive task keeps it from timing out."""

    def __init__(self, client: JanusClient, session_id: int) -> None:
        self.client = client
        self.id = session_id
        self.lost = False
        self.keepalive: asyncio.Task[None] | None = None
        self._handles: dict[int, JanusHandle] = {}

    async def attach(self, plugin: str, *, on_event: EventCallback | None = None) -> JanusHandle:
        self._check()
        reply = await self.client.request(
            {"janus": "attach", "session_id": self.id, "plugin": plugin}
        )
        handle = JanusHandle(self, int(reply["data"]["id"]), plugin, on_event)
        self._handles[handle.id] = handle
        self.client.register(handle)
        return handle

    async def destroy(self) -> None:
        """Destroy the session in Janus (idempotent; nothing to do once it is lost)."""
        if self.lost:
            return
        self.mark_lost("destroyed", notify=False)
        self.client.forget_session(self)
        with contextlib.suppress(JanusUnavailableError):  # gone with the connection anyway
            await self.client.request({"janus": "destroy", "session_id": self.id})

    def mark_lost(self, reason: str, *, notify: bool = True) -> None:
        if self.lost:
            return
        self.lost = True
        if self.keepalive is not None:
            self.keepalive.cancel()
        for handle in list(self._handles.values()):
            if notify:
                handle.deliver(JanusEvent(EventKind.SESSION_LOST, handle.id, {"reason": reason}))
            self.forget(handle)

    def forget(self, handle: JanusHandle) -> None:
        handle.detached = True
        self._handles.pop(handle.id, None)
        self.client.unregister(handle)

    def _check(self) -> None:
        if self.lost:
            raise JanusUnavailableError(f"Janus session {self.id} is gone")


class JanusHandle:
    """A handle on one plugin in a session. Asynchronous events go to `on_event` when given,
    else to the bounded `events` queue (the oldest is dropped, with a warning, when full)."""

    def __init__(
        self, session: JanusSession, handle_id: int, plugin: str, on_event: EventCallback | None
    ) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.detached = False
        self.events: asyncio.Queue[JanusEvent] = asyncio.Queue(EVENT_QUEUE_SIZE)
        self._on_event = on_event

    async def message(
        self,
        body: Mapping[str, Any],
        jsep: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> PluginReply:
        """Send a request to the plugin; its synchronous answer, or the event answering it."""
        request: dict[str, Any] = {"janus": "message", "body": dict(body), **self._address()}
        if jsep is not None:
            request["jsep"] = dict(jsep)
        reply = await self.session.client.request(request, timeout_s=timeout_s)
        return plugin_reply(self.plugin, reply)

    async def trickle(self, candidate: Mapping[str, Any] | None) -> None:
        """One ICE candidate, or `None` for the end of candidates."""
        payload = {"candidate": dict(candidate) if candidate is not None else {"completed": True}}
        await self.session.client.request(
            {"janus": "trickle", **payload, **self._address()}, ack_is_final=True
        )

    async def hangup(self) -> None:
        await self.session.client.request({"janus": "hangup", **self._address()})

    async def detach(self) -> None:
        """Detach from the plugin (idempotent; nothing to do once the session is lost)."""
        if self.detached:
            return
        self.session.forget(self)
        with contextlib.suppress(JanusUnavailableError):
            await self.session.client.request({"janus": "detach", **self._address()})

    def deliver(self, event: JanusEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("event callback of Janus handle %d failed", self.id)
            return
        if self.events.full():
            log.warning("Janus handle %d: event queue full, dropping the oldest", self.id)
            self.events.get_nowait()
        self.events.put_nowait(event)

    def _address(self) -> dict[str, int]:
        if self.detached:
            raise JanusUnavailableError(f"Janus handle {self.id} is detached or its session gone")
        return {"session_id": self.session.id, "handle_id": self.id}


def plugin_reply(plugin: str, reply: Mapping[str, Any]) -> PluginReply:
    """The plugin's data from a `success` or `event`; `JanusPluginError` if it is an error."""
    data = dict((reply.get("plugindata") or {}).get("data") or {})
    if "error_code" in data or "error" in data:
        code = data.get("error_code")
        raise JanusPluginError(plugin, code if isinstance(code, int) else None, str(data["error"]))
    return PluginReply(data, reply.get("jsep"))


async def probe(endpoint: JanusEndpoint, timeout_s: float) -> dict[str, Any]:
    """Connect, ask `info` and disconnect: Janus's `server_info` (JanusError if it fails)."""
    client = JanusClient(endpoint, request_timeout=timeout_s, reconnect=False)
    try:
        await client.connect()
        return await client.info()
    finally:
        await client.aclose()


def shown_url(url: str) -> str:
    """A URL fit for logs and messages: scheme, host and port, never a user or password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _fixed(endpoint: JanusEndpoint) -> EndpointSource:
    async def source() -> JanusEndpoint:
        return endpoint

    return source


def _describe(body: Mapping[str, Any]) -> str:
    inner = body.get("body")
    request = inner.get("request") if isinstance(inner, Mapping) else None
    return f"{body.get('janus')}:{request}" if request else str(body.get("janus"))
