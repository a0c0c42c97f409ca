"""A Python participant of `/meetings`: a real Socket.IO client that records every event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import socketio

NAMESPACE = "/meetings"


@dataclass
class Participant:
    sio: socketio.AsyncClient
    events: list[tuple[float, str, Any]] = field(default_factory=list)
    joined: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.joined["self"]["id"])

    async def request(self, event: str, payload: Any = None, within: float = 30) -> Any:
        """Send a request and return its acknowledgement."""
        return await self.sio.call(event, payload, namespace=NAMESPACE, timeout=within)

    async def ok(self, event: str, payload: Any = None, within: float = 30) -> dict[str, Any]:
        reply = await self.request(event, payload, within)
        assert reply["ok"] is True, reply
        return dict(reply)

    async def burst(self, *requests: tuple[str, Any], within: float = 30) -> list[Any]:
        """Send the requests back to back, without waiting for any answer, as a fast client
        does; their acknowledgements, in the order sent."""
        loop = asyncio.get_running_loop()
        replies: list[asyncio.Future[Any]] = [loop.create_future() for _ in requests]
        for (event, payload), reply in zip(requests, replies, strict=True):
            await self.sio.emit(
                event,
                payload,
                namespace=NAMESPACE,
                callback=lambda answer, f=reply: f.set_result(answer),
            )
        return list(await asyncio.wait_for(asyncio.gather(*replies), within))

    async def join(self, meeting_id: str, name: str, **extra: Any) -> dict[str, Any]:
        self.joined = await self.ok("join", {"meetingId": meeting_id, "displayName": name, **extra})
        return self.joined

    def received(self, name: str, test: Callable[[Any], bool] | None = None) -> list[Any]:
        return [p for _, e, p in self.events if e == name and (test is None or test(p))]

    async def wait_for(
        self, name: str, test: Callable[[Any], bool] | None = None, within: float = 15
    ) -> Any:
        """The first event `name` (passing `test`) received so far or within `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.received(name, test)
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        seen = [e for _, e, _ in self.events]
        raise AssertionError(f"no {name} within {within}s; got {seen}")


async def eventually(test: Callable[[], bool], within: float = 10, what: str = "") -> None:
    """Until `test()` is true; an assertion error after `within` seconds."""
    deadline = time.monotonic() + within
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {what or test}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def connected(base: str) -> AsyncIterator[Participant]:
    async with _connected(base, socketio.AsyncClient()) as person:
        yield person


@asynccontextmanager
async def _connected(base: str, sio: socketio.AsyncClient) -> AsyncIterator[Participant]:
    """`sio` connected to /meetings over a websocket, every event it receives recorded."""
    person = Participant(sio)

    @sio.on("*", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    async def record(event: str, payload: Any = None) -> None:
        person.events.append((time.monotonic(), event, payload))

    await sio.connect(base, namespaces=[NAMESPACE], transports=["websocket"])
    try:
        yield person
    finally:
        await sio.disconnect()


async def create_meeting(base: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """A new meeting through REST: (meeting, host token)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/api/v1/meetings", json={"title": "Standup", **fields})
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        return data["meeting"], data["hostToken"]


@asynccontextmanager
async def connected_from(base: str, source: str) -> AsyncIterator[Participant]:
    """A participant whose connection comes from the loopback address `source` (127.0.0.x: the
    whole /8 is loopback), to stand for many clients, each with its own address."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        _connected(base, socketio.AsyncClient(http_session=session)) as person,
    ):
        yield person
