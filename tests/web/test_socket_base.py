"""The Socket.IO convention (`parley.web.socket_base`), with a real python-socketio client
against a real server on loopback: a namespace of its own (`/lobby`) served by Parley's socket
server under uvicorn, then both of the app's namespaces (`/signaling`, `/meetings`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import socketio
import uvicorn
from pydantic import Field

from parley.ai.engine import AIEngine
from parley.errors import ParleyError
from parley.web.packets import ParleySocketServer
from parley.web.socket_base import NotJoinedError, Reply, SocketNamespace, handles
from parley.web.socket_schemas import Empty, WireModel
from tests.conftest import make_settings
from tests.live import free_port, serve_app

pytestmark = pytest.mark.timeout(60)

LOBBY = "/lobby"


class Hello(WireModel):
    name: str = Field(min_length=1, max_length=20)


class Say(WireModel):
    text: str = Field(min_length=1)


class Lobby(SocketNamespace[str]):
    """Say hello (no join needed), then say things (joined: the name said hello with)."""

    async def joined(self, sid: str, body: Any) -> str:
        name = (await self.get_session(sid)).get("name")
        if not isinstance(name, str):
            raise NotJoinedError("Say hello first.")
        return name

    @handles(Hello, joined=False)
    async def on_hello(self, sid: str, body: Hello) -> Reply:
        await self.save_session(sid, {"name": body.name})
        return {"greeting": f"hello, {body.name}"}

    @handles(Say)
    async def on_say(self, sid: str, body: Say, name: str) -> Reply:
        return {"said": f"{name}: {body.text}"}

    @handles(Empty)
    async def on_wait(self, sid: str, body: Empty, name: str) -> Reply:
        raise ParleyError("Not now.", code="SLOW_DOWN", retryAfter=2)


@asynccontextmanager
async def lobby_server() -> AsyncIterator[str]:
    server = ParleySocketServer(async_mode="asgi", logger=False, engineio_logger=False)
    server.register_namespace(Lobby(LOBBY))
    config = uvicorn.Config(
        socketio.ASGIApp(server), host="127.0.0.1", port=free_port(), log_config=None
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        if task.done():
            await task
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        running.should_exit = True
        await task


class Client:
    """A python-socketio client of one namespace that records every event it receives."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []

        @self.sio.on("*", namespace=namespace)  # type: ignore[untyped-decorator]
        async def record(event: str, payload: Any = None) -> None:
            self.events.append((event, payload))

    async def call(self, event: str, payload: Any = None) -> Any:
        return await self.sio.call(event, payload, namespace=self.namespace, timeout=15)

    async def emit(self, event: str, payload: Any = None) -> None:
        await self.sio.emit(event, payload, namespace=self.namespace)

    async def next(self, name: str, test: Callable[[Any], bool] = lambda _: True) -> Any:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for event, payload in self.events:
                if event == name and test(payload):
                    return payload
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name}; got {self.events}")

    async def refusal(self, event: str) -> Any:
        """The `error` event that refused `event`."""
        return await self.next("error", lambda payload: payload["event"] == event)


@asynccontextmanager
async def connected(base: str, namespace: str = LOBBY) -> AsyncIterator[Client]:
    client = Client(namespace)
    await client.sio.connect(base, namespaces=[namespace], transports=["websocket"])
    try:
        yield client
    finally:
        await client.sio.disconnect()


async def test_success_answers_ok_with_the_handlers_reply() -> None:
    async with lobby_server() as base, connected(base) as client:
        assert await client.call("hello", {"name": "Ann", "extra": 1}) == {
            "ok": True,
            "greeting": "hello, Ann",
        }
        assert await client.call("say", {"text": "hi"}) == {"ok": True, "said": "Ann: hi"}
        assert not [e for e, _ in client.events if e == "error"]


async def test_a_bad_payload_gets_the_ack_error_and_the_error_event() -> None:
    async with lobby_server() as base, connected(base) as client:
        for payload in (None, "text", {"name": ""}, {"name": "x" * 21}, [1]):
            reply = await client.call("hello", payload)
            assert reply["ok"] is False, payload
            assert set(reply["error"]) == {"code", "message"}
            assert reply["error"]["code"] == "INVALID_PAYLOAD"
            assert reply["error"]["message"].startswith("Invalid Hello: ")
        errors = [p for e, p in client.events if e == "error"]
        assert len(errors) == 5
        assert errors[-1] == {**reply["error"], "event": "hello"}
        assert all(e["event"] == "hello" and e["code"] == "INVALID_PAYLOAD" for e in errors)


async def test_a_handler_that_needs_a_join_refuses_before_it() -> None:
    async with lobby_server() as base, connected(base) as client:
        refused = await client.call("say", {"text": "hi"})
        assert refused == {
            "ok": False,
            "error": {"code": "NOT_JOINED", "message": "Say hello first."},
        }
        event = await client.next("error")
        assert event == {"code": "NOT_JOINED", "message": "Say hello first.", "event": "say"}
        bad = await client.call("say", {"text": ""})  # the payload is checked first
        assert bad["error"]["code"] == "INVALID_PAYLOAD"
        await client.call("hello", {"name": "Ann"})
        assert (await client.call("say", {"text": "hi"}))["ok"] is True


async def test_a_client_without_acks_gets_error_events() -> None:
    """As the original `/signaling` client sends: no ack; the error event says it all."""
    async with lobby_server() as base, connected(base) as client:
        await client.emit("say", {"text": "hi"})
        await client.emit("hello", {"name": 5})
        await client.emit("hello", {"name": "Ann"})
        await client.emit("wait")
        refusals = [await client.refusal(name) for name in ("say", "hello", "wait")]
        assert [r["code"] for r in refusals] == ["NOT_JOINED", "INVALID_PAYLOAD", "SLOW_DOWN"]
        assert all(isinstance(r["message"], str) and r["message"] for r in refusals)
        wait = {"code": "SLOW_DOWN", "message": "Not now.", "event": "wait", "retryAfter": 2}
        assert refusals[2] == wait


async def test_refusals_of_the_ordering_layer_follow_the_convention() -> None:
    """An event with two payloads is refused before any handler (`MALFORMED_PACKET`)."""
    async with lobby_server() as base, connected(base) as client:
        reply = await client.sio.call("say", ({"text": "a"}, {"text": "b"}), namespace=LOBBY)
        assert reply == {"ok": False, "error": reply["error"]}
        assert reply["error"]["code"] == "MALFORMED_PACKET"
        assert (await client.next("error"))["event"] == "say"


# -- the app's own namespaces ------------------------------------------------------------------


@pytest.fixture
async def app(tmp_path: Path, idle_engine: AIEngine) -> AsyncIterator[str]:
    settings = make_settings(tmp_path, webrtc={"stun_server_urls": []})
    async with serve_app(settings, idle_engine) as (base, _):
        yield base


async def test_signaling_keeps_its_error_events_and_answers_acks(app: str) -> None:
    async with connected(app, "/signaling") as caller:
        offer = {"type": "offer", "sdp": "v=0 " * 10}
        await caller.emit("offer", {"sessionId": "s", "peerId": "p", "offer": offer})
        refused = await caller.next("error")
        assert refused == {"code": "NOT_JOINED", "message": refused["message"], "event": "offer"}
        reply = await caller.call("join-session", {"sessionId": "s"})
        assert reply["ok"] is False
        assert reply["error"]["code"] == "INVALID_PAYLOAD"
        assert (await caller.refusal("join-session"))["message"]
        unknown = await caller.call("join-session", {"sessionId": "s", "peerId": "p"})
        assert unknown == {"ok": False, "error": unknown["error"]}
        assert unknown["error"]["code"] == "CALL_NOT_FOUND"


async def test_meetings_refuse_before_a_join_the_same_way(app: str) -> None:
    async with connected(app, "/meetings") as person:
        reply = await person.call("chat", {"text": "hello"})
        not_joined = {"code": "NOT_JOINED", "message": "Join a meeting first (join)."}
        assert reply == {"ok": False, "error": not_joined}
        assert await person.next("error") == {**reply["error"], "event": "chat"}
