"""The small HTTP and storage promises: every 405 names what is allowed (`Allow`), the health
probes answer HEAD, `/readyz` turns 503 while the database takes no writes (and back), and a
storage failure on the sockets is told with our code and words, never the driver's class.

On the real app (uvicorn on loopback, SQLite); failures are made as they happen: another
process holding SQLite's write lock, a table gone from under the app.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import socketio
from fastapi.routing import iter_route_contexts

from parley.storage.transactions import UNAVAILABLE
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import connected, create_meeting

pytestmark = pytest.mark.timeout(120)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# What a storage failure must never show a client: the driver's words.
INTERNALS = ("OperationalError", "sqlite", "SQL", "Error:", "no such table")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    async with serve_app(make_settings(tmp_path, **IDLE_AI)) as running:
        yield running


def paths_and_methods(http_app: Any) -> dict[str, set[str]]:
    """Every route's path (parameters filled in) and the methods of all routes at it."""
    found: dict[str, set[str]] = {}
    for route in iter_route_contexts(http_app.router.routes):
        if route.path and route.methods:
            path = route.path.replace("{meeting_id}", "m1").replace("{call_id}", "c1")
            path = path.replace("{participant_id}", "p1")
            found.setdefault(path, set()).update(route.methods)
    return found


async def test_every_405_says_what_is_allowed(app: tuple[str, Any]) -> None:
    base, http_app = app
    routes = paths_and_methods(http_app)
    assert len(routes) > 30
    async with httpx.AsyncClient(base_url=base) as http:
        for path, allowed in routes.items():
            wrong = next(m for m in METHODS[::-1] if m not in allowed)
            answer = await http.request(wrong, path)
            assert answer.status_code == 405, (wrong, path)
            listed = answer.headers.get("allow", "")
            assert listed == ", ".join(sorted(allowed)), (wrong, path, listed)
            assert answer.json()["error"]["message"].endswith(
                f"use {' or '.join(sorted(allowed))}."
            )
        engineio = await http.delete("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert engineio.status_code == 405
    assert engineio.headers["allow"] == "GET, POST, OPTIONS"


def raw_head(base: str, path: str) -> bytes:
    """A HEAD request on a bare socket; everything the server sent before closing."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(
            f"HEAD {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_probes_answer_head_without_a_body(app: tuple[str, Any], path: str) -> None:
    base, _ = app
    answer = await asyncio.to_thread(raw_head, base, path)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body == b""
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get(path)).status_code == 200  # GET keeps its body


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Another process's view: a connection holding SQLite's write lock (reads go on)."""
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    answer = await http.get("/readyz")
    return answer.status_code, answer.json()


async def test_readyz_is_503_while_writes_fail_and_ready_again_after(
    app: tuple[str, Any],
) -> None:
    base, http_app = app
    database = Path(http_app.state.services.database.url.database)
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        assert (await readiness(http))[0] == 200
        await asyncio.sleep(2.1)  # past the last probe's time
        with write_lock(database):
            started = time.monotonic()
            status, body = await readiness(http)
            assert time.monotonic() - started < 3  # the probe does not wait SQLite's 30 s
            assert status == 503
            assert body == {"status": "unavailable", "checks": {"database": "unwritable"}}
            assert (await http.get("/healthz")).status_code == 200  # alive all the same
            probes = [await readiness(http) for _ in range(20)]  # answered from the last probe
            assert {status for status, _ in probes} == {503}
        deadline = time.monotonic() + 5
        while (await readiness(http))[0] != 200:
            assert time.monotonic() < deadline, "not ready again after the lock went"
            await asyncio.sleep(0.2)


@contextmanager
def table_gone(database: Path, table: str) -> Iterator[None]:
    """The table renamed away by another process, and back: every statement on it fails with
    the driver's `OperationalError` at once."""
    other = sqlite3.connect(database, isolation_level=None)
    try:
        other.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
        yield
    finally:
        other.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
        other.close()


def assert_ours(error: dict[str, Any]) -> None:
    assert error["code"] == "STORAGE_UNAVAILABLE", error
    assert error["message"] == UNAVAILABLE
    assert not [word for word in INTERNALS if word in error["message"]], error


async def test_a_storage_failure_on_the_meetings_socket_is_told_in_our_words(
    app: tuple[str, Any],
) -> None:
    base, http_app = app
    database = Path(http_app.state.services.database.url.database)
    meeting, token = await create_meeting(base, hostName="Mina")
    async with connected(base) as host:
        await host.join(meeting["id"], "Mina", hostToken=token)
        with table_gone(database, "chat_messages"):
            reply = await host.request("chat", {"text": "hello"})
        assert reply["ok"] is False
        assert_ours(reply["error"])
        event = await host.wait_for("error")
        assert_ours(event)
        assert (await host.request("chat", {"text": "hello again"}))["ok"] is True


async def test_a_storage_failure_on_the_signaling_socket_is_told_in_our_words(
    app: tuple[str, Any],
) -> None:
    base, http_app = app
    database = Path(http_app.state.services.database.url.database)
    async with httpx.AsyncClient(base_url=base) as http:
        created = await http.post("/api/v1/calls", json={"callerNumber": "01012345678"})
    call = created.json()["data"]["call"]
    client = socketio.AsyncClient(reconnection=False)
    errors: list[dict[str, Any]] = []
    client.on("error", errors.append, namespace="/signaling")
    await client.connect(base, namespaces=["/signaling"], transports=["websocket"])
    try:
        with table_gone(database, "calls"):
            join = {"sessionId": call["sessionId"], "peerId": "p", "callId": call["id"]}
            await client.emit("join-session", join, namespace="/signaling")
            deadline = time.monotonic() + 10
            while not errors:
                assert time.monotonic() < deadline, "no error event"
                await asyncio.sleep(0.05)
    finally:
        await client.disconnect()
    assert_ours(errors[0])
