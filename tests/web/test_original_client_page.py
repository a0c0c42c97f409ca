"""The original system's own published client, unchanged but for where it loads socket.io-client
from and where the server is: `tests/web/original/ai-call-example.html` is the README's "HTML +
JavaScript 예제" to the letter. A second web server on another port of this machine serves it (so
it is cross-origin, as it was for the original's users), its `<script src>` pointing at Parley's
`/socket.io/socket.io.js` instead of the CDN and `http://localhost:3000` replaced by the server
under test. In headless Chromium with a fake microphone (the caller waits, asks a question, then
listens), its "start" button must get the greeting and an answer played (inbound-rtp audio
energy), and its "end" button must end the call; no request may leave this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.live import LiveServer, free_port
from tests.web.test_ai_call_page import (  # noqa: F401 - fixtures
    SPEECH_ENERGY,
    browser,
    question_wav,
    server,
)
from tests.web.test_call_access import OPERATOR

EXAMPLE = Path(__file__).parent / "original" / "ai-call-example.html"
CDN_SCRIPT = "https://cdn.socket.io/4.5.4/socket.io.min.js"
ORIGINAL_SERVER = "http://localhost:3000"


@contextlib.contextmanager
def page_server(html: str) -> Iterator[str]:
    """Serves `html` at `/` on another port of this machine: another origin than the server's."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = self.path == "/"
            self.send_response(200 if page else 204)  # nothing else (the browser's favicon)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body) if page else 0))
            self.end_headers()
            if page:
                self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="original-page", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def the_example(server_url: str) -> str:
    html = EXAMPLE.read_text()
    assert html.count(CDN_SCRIPT) == 1
    assert html.count(ORIGINAL_SERVER) == 5
    return html.replace(CDN_SCRIPT, f"{server_url}/socket.io/socket.io.js").replace(
        ORIGINAL_SERVER, server_url
    )


ENERGY = """async () => {
  if (typeof peerConnection === 'undefined' || !peerConnection) return null;
  let energy = null;
  (await peerConnection.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') energy = s.totalAudioEnergy || 0;
  });
  return energy;
}"""


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811 - the imported fixture
    context = await browser.new_context()
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def sample_energy(page: Page, samples: list[tuple[float, float]]) -> None:
    """(wall-clock time, inbound audio energy so far), every 200 ms, until cancelled."""
    while True:
        energy = await page.evaluate(ENERGY)
        if energy is not None:
            samples.append((time.time(), float(energy)))
        await asyncio.sleep(0.2)


def energy_at(samples: list[tuple[float, float]], when: float) -> float:
    return max((e for t, e in samples if t <= when), default=0.0)


async def test_the_original_clients_example_page_calls_parley_unchanged(
    page: Page,
    server: LiveServer,  # noqa: F811 - the imported fixture
) -> None:
    console: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on("request", lambda request: requests.append(request.url))
    samples: list[tuple[float, float]] = []

    with page_server(the_example(server.url)) as page_url:
        assert urlsplit(page_url).netloc != urlsplit(server.url).netloc  # another origin
        await page.goto(page_url)
        await page.click("#startCall")
        sampler = asyncio.create_task(sample_energy(page, samples))
        try:
            call_id = await page.wait_for_function("() => callId", timeout=15_000)
            call_id = await call_id.json_value()
            turns = await conversation_until(server, call_id, ["assistant", "user", "assistant"])
            await asyncio.sleep(1.0)  # the last samples of the answer's sound
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)

        asked_at = datetime.fromisoformat(turns[1]["startedAt"]).timestamp()
        greeting = energy_at(samples, asked_at)
        answer = samples[-1][1] - greeting
        print(f"\ngreeting energy {greeting:.4f}, answer energy {answer:.4f}; turns {turns}")
        assert greeting > SPEECH_ENERGY, f"the greeting was not heard: {samples[-5:]}"
        assert answer > SPEECH_ENERGY, f"the answer was not heard: {samples[-5:]}"
        assert turns[2]["text"]

        await page.click("#endCall")
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            for _ in range(100):
                call = (await http.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]
                live = (await http.get("/metrics?format=json")).json()["media"]["liveCalls"]
                if call["status"] == "ENDED" and live == 0:
                    break
                await asyncio.sleep(0.1)
        assert call["status"] == "ENDED", call
        assert live == 0, "the server still holds the call's peer"

    foreign = {urlsplit(url).hostname for url in requests} - {"localhost", "127.0.0.1"}
    assert not foreign, f"the page loaded from elsewhere: {foreign}"
    problems = [line for line in console if line.startswith(("error", "pageerror"))]
    assert not problems, problems


async def conversation_until(
    live: LiveServer, call_id: str, roles: list[str], within: float = 120
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    turns: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=live.url, timeout=10, headers=OPERATOR) as http:
        while time.monotonic() < deadline:  # as an operator: `server` has the key
            answer = await http.get(f"/api/v1/calls/{call_id}/conversation")
            turns = answer.json()["data"]["turns"]
            if [t["role"] for t in turns][: len(roles)] == roles:
                return turns
            await asyncio.sleep(0.25)
    raise AssertionError(
        f"the conversation did not reach {roles} in {within}s: {turns}\n{live.log()[-3000:]}"
    )
