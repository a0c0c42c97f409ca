"""The call page in a real browser: Debian's Chromium, headless and driven by Playwright, opens
`/ai-call-test.html` on a real `parley serve`. Its fake microphone plays a WAV file in which a
caller waits for the greeting, asks a question, then listens. The page must connect, play the
greeting and then an answer (energy in the received audio), show both sides in its transcript,
and end the call; the server must have stored the turns. Screenshots go to $PARLEY_SCREENSHOTS
(docs/screenshots/ for the README).

Media stays on this machine: the server offers only a loopback host candidate
(`ICE_HOST_ADDRESSES`) and Chromium is allowed loopback ones (it also offers its own interface's
address, which the kernel delivers locally as well). Chromium's background services are off.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from parley.ai.base import Language
from parley.ai.local.piper_tts import PiperTTS
from tests.browser import launched_chromium
from tests.live import LiveServer, start_server
from tests.speech import resample, speak
from tests.web.test_call_access import KEY as OPERATOR_KEY
from tests.web.test_call_access import OPERATOR

# Where the screenshots go: a temporary folder, unless PARLEY_SCREENSHOTS names one (the README's
# are refreshed with PARLEY_SCREENSHOTS=docs/screenshots), so a test run leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("PARLEY_SCREENSHOTS") or tempfile.gettempdir() + "/parley-screenshots"
)
QUESTION = "Hi, I ordered a pair of shoes last week. When will they arrive?"
RATE = 48_000
# The file loops. Before the question: time to connect plus the greeting (~3.5 s of speech);
# after it: time for the answer to be generated and played before the question comes round again.
LEAD_S, TAIL_S = 7.0, 30.0
# Received speech (measured here: greeting ~0.5, answer ~0.2 of energy; peak RMS ~0.12) against
# received silence (~0 for both).
SPEECH_RMS = 0.02  # WebAudio RMS (full scale 1.0) over 0.5 s
SPEECH_ENERGY = 0.02  # inbound-rtp totalAudioEnergy gained


# Samples the page's received-audio RMS (`parley.remoteEnergy()`, last 0.5 s) every 50 ms.
SAMPLER = """
window.__levels = [];
setInterval(() => {
  if (window.parley) window.__levels.push([performance.now(), window.parley.remoteEnergy()]);
}, 50);
"""


@pytest.fixture(scope="module")
async def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The caller's side of the call, 48 kHz mono s16: silence, the question, silence."""
    tts = PiperTTS()
    try:
        clip = await speak(tts, QUESTION, Language.ENGLISH)
    finally:
        await tts.aclose()
    speech = (resample(clip.pcm, clip.sample_rate, RATE) * 32767).astype(np.int16)
    lead, tail = np.zeros(int(LEAD_S * RATE), np.int16), np.zeros(int(TAIL_S * RATE), np.int16)
    path = tmp_path_factory.mktemp("browser") / "question.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate([lead, speech, tail]).tobytes())
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {
        "ICE_HOST_ADDRESSES": "127.0.0.1",  # aioice skips loopback unless told
        "STUN_SERVER_URL": "",
        "DEFAULT_LANGUAGE": "en",
        "LLM_TEMPERATURE": "0",
        "OPERATOR_API_KEY": OPERATOR_KEY,  # the tests read what was stored as operators
    }
    live = start_server(tmp_path / "server", env, wait=120)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def browser(question_wav: Path) -> AsyncIterator[Browser]:
    async with launched_chromium(f"--use-file-for-fake-audio-capture={question_wav}") as launched:
        yield launched


@dataclass
class CallPage:
    """The page under test, with what it logged and the server it talks to."""

    page: Page
    server: LiveServer
    console: list[str]

    async def now(self) -> float:
        """The page's clock (ms), to mark moments on its energy timeline."""
        value: float = await self.page.evaluate("performance.now()")
        return value

    async def until(self, condition: str, what: str, within: float) -> Any:
        """The truthy value of `condition` (a JS expression), polled every 100 ms."""
        try:
            handle = await self.page.wait_for_function(
                f"() => {condition}", polling=100, timeout=within * 1000
            )
        except PlaywrightError as exc:
            raise AssertionError(f"{what}: not within {within}s\n{await self.state()}") from exc
        return await handle.json_value()

    async def turns(self) -> list[dict[str, Any]]:
        turns: list[dict[str, Any]] = await self.page.evaluate("parley.turns")
        return turns

    async def state(self) -> str:
        hook = await self.page.evaluate(
            "({status: parley.status, phase: parley.phase, ice: parley.iceState,"
            " pc: parley.connectionState, error: parley.lastError, turns: parley.turns})"
        )
        log = self.server.log().splitlines()[-25:]
        return f"page: {hook}\nconsole: {self.console[-20:]}\nserver log tail:\n" + "\n".join(log)

    async def audio_energy(self) -> float:
        """Total energy of the audio received so far (inbound-rtp `totalAudioEnergy`)."""
        stats = await self.page.evaluate("parley.audioStats()")
        assert stats, "the page has no call"
        assert stats["inbound"], f"no inbound audio stats: {stats}"
        return float(stats["inbound"].get("totalAudioEnergy", 0.0))

    async def loudest(self, start: float, end: float) -> float:
        """The loudest received-audio RMS the page measured between two of its instants."""
        levels: list[list[float]] = await self.page.evaluate("window.__levels")
        return max((rms for t, rms in levels if start <= t <= end), default=0.0)


@pytest.fixture
async def call_page(browser: Browser, server: LiveServer) -> AsyncIterator[CallPage]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    await page.add_init_script(SAMPLER)
    try:
        yield CallPage(page, server, console)
    finally:
        await context.close()


def similarity(heard: str, said: str) -> float:
    def words(text: str) -> list[str]:
        return re.findall(r"[a-z']+", text.lower())

    return difflib.SequenceMatcher(None, words(heard), words(said)).ratio()


async def test_a_browser_call_greets_hears_the_question_answers_and_hangs_up(
    call_page: CallPage, server: LiveServer
) -> None:
    page = call_page.page
    await page.goto(f"{server.url}/ai-call-test.html?rawmic=1")
    await page.check("#lang-en")
    await page.click("#call-btn")

    await call_page.until(
        "parley.status === 'IN_PROGRESS' && parley.connectionState === 'connected'",
        "the call connects",
        within=30,
    )
    connected = await call_page.now()
    call_id = await page.evaluate("parley.callId")
    start_energy = await call_page.audio_energy()
    await call_page.until(
        "parley.turns.some(t => t.speaker === 'ai' && t.turn === 0 && t.final)",
        "the greeting's transcript",
        within=30,
    )
    # The caller starts to speak (the server saw speech): the greeting was played by then.
    await call_page.until(
        "parley.turns.some(t => t.speaker === 'caller')", "the caller's speech", within=30
    )
    asking = await call_page.now()
    asking_energy = await call_page.audio_energy()
    greeting_energy = asking_energy - start_energy
    greeting_rms = await call_page.loudest(connected, asking)

    await call_page.until(
        "parley.turns.some(t => t.speaker === 'caller' && t.final && t.text)",
        "the caller's final transcript",
        within=40,
    )
    asked = await call_page.now()
    asked_energy = await call_page.audio_energy()
    # While the caller asks, the AI is silent: the measures tell speech from silence.
    quiet_energy = asked_energy - asking_energy
    quiet_rms = await call_page.loudest(asking + 1000, asked)
    await call_page.until(
        "parley.turns.some(t => t.speaker === 'ai' && t.turn > 0 && t.final)",
        "the AI's answer, played in full",
        within=90,
    )
    answered = await call_page.now()
    answer_energy = await call_page.audio_energy() - asked_energy
    answer_rms = await call_page.loudest(asked, answered)

    turns = await call_page.turns()
    greeting, question, answer = (
        next(t for t in turns if t["speaker"] == "ai" and t["turn"] == 0),
        next(t for t in turns if t["speaker"] == "caller" and t["final"]),
        next(t for t in turns if t["speaker"] == "ai" and t["turn"] > 0),
    )
    print(  # the measured figures, for the report (pytest -s)
        f"\ngreeting: energy {greeting_energy:.4f}, peak RMS {greeting_rms:.3f}"
        f"\nquiet: energy {quiet_energy:.4f}, peak RMS {quiet_rms:.3f}"
        f"\nheard: {question['text']!r} (similarity {similarity(question['text'], QUESTION):.2f})"
        f"\nanswer: {answer['text']!r}, energy {answer_energy:.4f}, peak RMS {answer_rms:.3f}"
        f"\ntimes (s): connected→asking {(asking - connected) / 1000:.1f}, asking→final"
        f" {(asked - asking) / 1000:.1f}, final→answered {(answered - asked) / 1000:.1f}"
        f"\nlatency: {answer.get('latency')}"
    )
    assert greeting["text"].startswith("Hello!"), greeting
    assert greeting_energy > SPEECH_ENERGY, "the greeting was not heard (inbound-rtp energy)"
    assert greeting_rms > SPEECH_RMS, "the greeting was not heard (WebAudio)"
    assert quiet_energy < SPEECH_ENERGY / 4, "the AI was not silent while the caller spoke"
    assert quiet_rms < SPEECH_RMS / 4, "the AI was not silent while the caller spoke (WebAudio)"
    assert similarity(question["text"], QUESTION) > 0.75, question["text"]
    assert not answer.get("interrupted"), answer
    assert len(answer["text"].split()) >= 3, answer
    assert answer["latency"]["voiceToVoiceMs"] > 0, answer
    assert answer_energy > SPEECH_ENERGY, "the answer was not heard (inbound-rtp energy)"
    assert answer_rms > SPEECH_RMS, "the answer was not heard (WebAudio)"

    # What a person sees: both sides of the exchange in the transcript.
    bubbles = page.locator("#transcript .turn")
    caller_bubble = page.locator("#transcript .turn[data-speaker=caller][data-final=true] .bubble")
    ai_bubbles = page.locator("#transcript .turn[data-speaker=ai][data-final=true] .bubble")
    assert await bubbles.count() >= 3
    await call_page.until(
        "document.querySelector('#transcript .turn[data-speaker=caller] .chip[data-sentiment]')",
        "the caller's sentiment chip",
        within=15,
    )
    assert await page.locator("#transcript .turn[data-speaker=ai] .latency .v2v").count() == 1
    assert (await caller_bubble.first.inner_text()).strip() == question["text"]
    assert [t.strip() for t in await ai_bubbles.all_inner_texts()][:2] == [
        greeting["text"],
        answer["text"],
    ]

    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=OPERATOR) as http:
        stored = (await http.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
        assert [(t["role"], t["text"]) for t in stored[:3]] == [
            ("assistant", greeting["text"]),
            ("user", question["text"]),
            ("assistant", answer["text"]),
        ]

        os.makedirs(SCREENSHOTS, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / "ai-call-desktop.png")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=SCREENSHOTS / "ai-call-mobile.png")

        await page.click("#call-btn")  # "End call"
        await call_page.until(
            "parley.phase === 'idle' && parley.status === 'ENDED'", "the page hangs up", within=15
        )
        assert await page.evaluate("parley.connectionState") == "closed"
        assert await page.evaluate("parley.lastError") is None
        call = (await http.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]
        assert call["status"] == "ENDED"
        assert call["durationSeconds"] > 0
    problems = [line for line in call_page.console if line.startswith(("error", "pageerror"))]
    assert not problems, problems


# The page imports socket.io-client as a module: this one stands in for it and keeps every socket
# the page opens in `window.__sockets`, so a test can hand the page events the server might send.
SOCKET_KEEPER = """
import { io as realIo } from "/vendor/socket.io.js?real";
export * from "/vendor/socket.io.js?real";
function io(...args) {
  const socket = realIo(...args);
  (window.__sockets ??= []).push(socket);
  return socket;
}
export { io, io as default, io as connect };
"""


@pytest.fixture
async def quiet_browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium whose fake microphone hears nothing: only the test speaks for the server."""
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.zeros(RATE * 5, np.int16).tobytes())
    async with launched_chromium(f"--use-file-for-fake-audio-capture={silence}") as launched:
        yield launched


async def test_bubbles_follow_the_conversation_and_none_is_left_listening(
    quiet_browser: Browser, server: LiveServer
) -> None:
    """Events as the server sends them in a live call, handed to the page: a caller bubble that
    arrives before the AI turn it follows is still drawn after it (the greeting first), and a
    "Listening…" bubble goes once its turn is taken back (a final with no text), once a later
    caller turn starts, or when the call ends."""
    context = await quiet_browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.route(
        "**/vendor/socket.io.js",
        lambda route: route.fulfill(body=SOCKET_KEEPER, content_type="text/javascript"),
    )
    call_page = CallPage(page, server, [])
    try:
        await page.goto(f"{server.url}/ai-call-test.html")
        await page.check("#lang-en")
        await page.click("#call-btn")
        await call_page.until(
            "parley.turns.some(t => t.speaker === 'ai' && t.turn === 0 && t.final)",
            "the greeting",
            within=40,
        )

        async def send(turn: int, speaker: str, text: str, final: bool, **more: Any) -> None:
            event = {"turn": turn, "speaker": speaker, "text": text, "final": final, **more}
            await page.evaluate(
                "(e) => window.__sockets.at(-1).listeners('transcript').forEach((h) => h(e))",
                {**event, "language": "en"},
            )

        async def drawn() -> list[str]:
            rows: list[str] = await page.eval_on_selector_all(
                "#transcript .turn",
                "(rows) => rows.map((r) => r.dataset.speaker + ':' + r.textContent)",
            )
            return rows

        await send(1, "caller", "", False)  # speech started before the AI turn 0 was drawn ...
        await send(1, "caller", "When will my shoes arrive?", True)
        await send(2, "caller", "", False)
        await send(1, "ai", "On Friday.", True)  # ... the answer to turn 1 comes after it
        rows = await drawn()
        assert [row.split(":")[0] for row in rows] == ["ai", "caller", "ai", "caller"], rows
        assert "Hello" in rows[0], rows
        assert "shoes" in rows[1], rows
        assert "Friday" in rows[2], rows
        keys = [(t["speaker"], t["turn"]) for t in await call_page.turns()]
        assert keys == [("ai", 0), ("caller", 1), ("ai", 1), ("caller", 2)]

        await send(2, "caller", "", True, carried=True)  # carried on: taken back
        await send(3, "caller", "", False)
        await send(4, "caller", "", False)  # turn 3 never got words, and never will
        await send(5, "caller", "", False)
        turns = await call_page.turns()
        assert [(t["speaker"], t["turn"]) for t in turns][-1] == ("caller", 5)
        assert len([t for t in turns if t["speaker"] == "caller" and not t["final"]]) == 1
        await page.click("#call-btn")  # hang up with turn 5 still listening
        await call_page.until("parley.phase === 'idle'", "the page hangs up", within=15)
        assert not [t for t in await call_page.turns() if not t["final"]]
        assert await page.locator("#transcript .turn[data-final=false]").count() == 0
    finally:
        await context.close()
