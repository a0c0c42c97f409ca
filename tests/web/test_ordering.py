"""The per-connection lanes that keep each client's Socket.IO events in order (no server here:
the lanes alone, driven the way python-socketio drives them, one task per event); and the
namespace's own guards, on python-socketio's real server and connection manager."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from parley.errors import ParleyError
from parley.web.ordering import Lanes, OrderedNamespace, TooManyEventsError, payload_size


def handler(log: list[str], name: str, delay: float = 0.0) -> Any:
    async def run() -> str:
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")
        return name

    return run


async def test_a_slow_event_is_not_overtaken_by_the_next_one_of_its_connection() -> None:
    lanes, log = Lanes(), list[str]()
    slow = asyncio.create_task(lanes.run("a", 10, handler(log, "join", 0.05)))
    fast = asyncio.create_task(lanes.run("a", 10, handler(log, "offer")))
    assert list(await asyncio.gather(slow, fast)) == ["join", "offer"]
    assert log == ["start join", "end join", "start offer", "end offer"]
    assert len(lanes) == 0  # an idle connection keeps nothing


async def test_other_connections_are_not_held_up() -> None:
    lanes, log = Lanes(), list[str]()
    slow = asyncio.create_task(lanes.run("a", 10, handler(log, "a-slow", 0.2)))
    other = asyncio.create_task(lanes.run("b", 10, handler(log, "b")))
    await other
    assert log == ["start a-slow", "start b", "end b"]
    await slow


async def test_many_events_run_strictly_in_the_order_they_arrived() -> None:
    lanes, log = Lanes(), list[str]()
    delays = [0.003 * ((7 * i) % 5) for i in range(40)]  # slow and fast ones mixed
    tasks = [
        asyncio.create_task(lanes.run("a", 1, handler(log, str(i), d)))
        for i, d in enumerate(delays)
    ]
    await asyncio.gather(*tasks)
    assert log == [f"{kind} {i}" for i in range(40) for kind in ("start", "end")]


async def test_a_failing_event_does_not_stop_the_next() -> None:
    lanes, log = Lanes(), list[str]()

    async def fail() -> str:
        raise RuntimeError("boom")

    first = asyncio.create_task(lanes.run("a", 1, fail))
    second = asyncio.create_task(lanes.run("a", 1, handler(log, "next")))
    with pytest.raises(RuntimeError):
        await first
    assert await second == "next"


async def test_a_cancelled_waiter_lets_no_one_overtake_the_event_ahead() -> None:
    """The second event is cancelled while it waits: the third still waits for the first."""
    lanes, log = Lanes(), list[str]()
    first = asyncio.create_task(lanes.run("a", 1, handler(log, "1", 0.1)))
    second = asyncio.create_task(lanes.run("a", 1, handler(log, "2")))
    third = asyncio.create_task(lanes.run("a", 1, handler(log, "3")))
    await asyncio.sleep(0.01)
    second.cancel()
    await asyncio.gather(first, third, return_exceptions=True)
    assert second.cancelled()
    assert log == ["start 1", "end 1", "start 3", "end 3"]


async def test_a_flood_is_refused_past_the_bound_and_the_rest_keeps_its_order() -> None:
    lanes, log = Lanes(max_events=5, max_bytes=10_000), list[str]()
    tasks = [asyncio.create_task(lanes.run("a", 1, handler(log, str(i), 0.01))) for i in range(8)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    refused = [r for r in results if isinstance(r, TooManyEventsError)]
    assert len(refused) == 3
    assert refused[0].code == "TOO_MANY_EVENTS"
    assert results[:5] == ["0", "1", "2", "3", "4"]
    assert lanes.queued_bytes == 0
    # Once the lane has drained, the client may send again.
    assert await lanes.run("a", 1, handler(log, "later")) == "later"


async def test_the_bound_in_bytes_counts_what_waits() -> None:
    lanes, log = Lanes(max_events=100, max_bytes=1000), list[str]()
    first = asyncio.create_task(lanes.run("a", 600, handler(log, "big", 0.05)))
    await asyncio.sleep(0)
    assert lanes.queued_bytes == 600
    with pytest.raises(TooManyEventsError):
        await lanes.run("a", 600, handler(log, "too much"))
    assert await lanes.run("b", 600, handler(log, "elsewhere")) == "elsewhere"  # per connection
    await first
    assert "start too much" not in log


async def test_forced_events_skip_the_bounds_but_keep_the_order() -> None:
    lanes, log = Lanes(max_events=1, max_bytes=10), list[str]()
    first = asyncio.create_task(lanes.run("a", 5, handler(log, "leave", 0.02)))
    last = asyncio.create_task(lanes.run("a", 0, handler(log, "disconnect"), force=True))
    await asyncio.gather(first, last)
    assert log == ["start leave", "end leave", "start disconnect", "end disconnect"]


def test_payload_size_is_the_json_text() -> None:
    assert payload_size(({"a": "b"},)) == len('[{"a": "b"}]')
    assert payload_size(({"text": "안녕"},)) == len('[{"text": "안녕"}]')
    assert payload_size((b"\x00" * 100,)) == len('[""]') + 100


class Recorder(OrderedNamespace):
    """A namespace that records what ran and what was refused."""

    def __init__(self) -> None:
        super().__init__("/t")
        self.ran: list[str] = []
        self.refusals: list[str] = []

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        self.ran.append("disconnect")

    async def on_ping(self, sid: str, data: Any = None) -> str:
        self.ran.append("ping")
        return "pong"

    async def on_broken(self, sid: str, data: Any = None) -> None:
        raise RuntimeError("a bug")

    async def refused(self, sid: str, event: str, error: ParleyError) -> Any:
        self.refusals.append(error.code)
        return {"ok": False}


async def connected_recorder() -> tuple[Recorder, socketio.AsyncServer, str]:
    """python-socketio's own server and connection manager (no transport): a sid connected to
    the namespace as after a real handshake."""
    server = socketio.AsyncServer(async_mode="asgi")
    namespace = Recorder()
    server.register_namespace(namespace)
    server.manager.initialize()
    sid = await server.manager.pre_connect("eio-1", "/t")
    await server.manager.connect(sid, "/t")
    return namespace, server, sid


async def test_lifecycle_events_from_a_connected_client_are_refused() -> None:
    """`disconnect` sent by the client as an event (the connection stays) is refused; the
    server's own, which comes while the connection is pending, runs."""
    namespace, server, sid = await connected_recorder()
    assert await server._trigger_event("disconnect", "/t", sid) == {"ok": False}
    assert await server._trigger_event("connect", "/t", sid, {}, None) == {"ok": False}
    assert namespace.ran == []
    assert namespace.refusals == ["MALFORMED_PACKET", "MALFORMED_PACKET"]
    server.manager.pre_disconnect(sid, "/t")  # what python-socketio does before its own
    await server._trigger_event("disconnect", "/t", sid, "transport close")
    assert namespace.ran == ["disconnect"]


async def test_odd_events_and_failing_handlers_are_answered() -> None:
    namespace, server, sid = await connected_recorder()
    assert await server._trigger_event(1, "/t", sid, {}) == {"ok": False}
    assert await server._trigger_event("ping", "/t", sid, {}, {}, {}) == {"ok": False}
    assert await server._trigger_event("ping", "/t", sid, {}) == "pong"
    assert await server._trigger_event("broken", "/t", sid, {}) == {"ok": False}
    assert namespace.refusals == ["MALFORMED_PACKET", "MALFORMED_PACKET", "INTERNAL_ERROR"]
