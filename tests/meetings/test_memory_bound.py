"""Anonymous meeting traffic leaves the server's memory bounded (issue 12).

A real `parley serve` with the local models: meetings are created, joined and chatted in, and
the assistant evaluates each chat ahead in the background, as it does for anyone. Twenty
meetings with three messages each took the server from 1.2 to 3.5 GB (the LLM's saved states
held 61 MiB each where their cache counted 1.2). Here the server's anonymous resident memory,
read from the kernel, must stay flat once warmed up, and `/metrics` must show every cache within
its limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import LiveServer, start_server
from tests.meetings.client import connected, create_meeting

pytestmark = pytest.mark.timeout(900)

MiB = 2**20
STATE_CACHE = 12 * MiB  # small, so that the cache is full within the warm-up


def rss_anon(pid: int) -> int:
    """The process's anonymous resident memory (the models' mapped files left out)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no RssAnon for process {pid}")


async def metrics(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        body: dict[str, Any] = (await http.get("/metrics?format=json")).json()
        return body


async def chat_in_a_meeting(base: str, n: int) -> None:
    """An anonymous meeting: created, joined, three messages, then the quiet moment after
    which the assistant evaluates the chat ahead of questions."""
    meeting, _ = await create_meeting(base, title=f"Meeting {n}")
    async with connected(base) as person:
        await person.join(meeting["id"], f"Person {n}")
        for k in range(3):
            text = f"Item {k} of meeting {n}: ship feature {n * 7 + k} by Friday, ask Dana."
            await person.ok("chat", {"text": text})
        await asyncio.sleep(1.5)


async def settled(base: str, within: float = 120) -> None:
    """Until the server is idle: the evaluations ahead are done (its CPU time stands still)."""
    deadline = time.monotonic() + within
    last = (await metrics(base))["process"]["cpuSeconds"]
    while time.monotonic() < deadline:
        await asyncio.sleep(2)
        now = (await metrics(base))["process"]["cpuSeconds"]
        if now - last < 0.2:
            return
        last = now
    raise AssertionError(f"the server was still busy after {within} s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    running = start_server(tmp_path, {"LLM_STATE_CACHE_BYTES": str(STATE_CACHE)}, wait=240)
    yield running
    running.stop()


async def test_chat_in_many_meetings_leaves_memory_flat_after_warm_up(server: LiveServer) -> None:
    pid = server.process.pid
    await settled(server.url)  # the calls' prompts read in after start-up
    start = rss_anon(pid)
    for n in range(3):  # warm-up: the state cache fills, llama.cpp's buffers grow to size
        await chat_in_a_meeting(server.url, n)
    await settled(server.url)
    warm = rss_anon(pid)
    for n in range(3, 11):
        await chat_in_a_meeting(server.url, n)
    await settled(server.url)
    end = rss_anon(pid)
    caches = (await metrics(server.url))["caches"]
    print(
        f"anonymous memory {start / MiB:.0f} MiB at start, +{(warm - start) / MiB:.1f} after "
        f"3 meetings, +{(end - warm) / MiB:.1f} after 8 more; caches {caches}"
    )
    assert end - start < STATE_CACHE + 96 * MiB, "grew past the state cache's limit"  # was 0.7 GB
    assert end - warm < 48 * MiB, "still growing after the warm-up"
    states = caches["llmStates"]
    assert states["limitBytes"] == STATE_CACHE
    assert 0 < states["bytes"] <= STATE_CACHE
    for name, figures in caches.items():
        assert figures["bytes"] <= figures["limitBytes"], name
