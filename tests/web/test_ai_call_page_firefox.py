"""The call page in Firefox: Debian's Firefox ESR, headless, driven over WebDriver BiDi
(`tests/firefox.py`), on a real `parley serve`, both inside a network namespace made for the test.

Firefox's fake microphone is a tone, not a voice (it cannot play a file the way Chromium's can),
so this test checks what differs between browsers — getUserMedia, the offer Firefox makes, ICE
and DTLS with aiortc, Opus both ways, playback through the page's WebAudio meter, the page's
rendering — and the full spoken exchange is `test_ai_call_page.py`'s, in Chromium: the page
connects, the greeting is decoded (inbound-rtp `totalAudioEnergy`) and shown in the transcript,
the tone does not start a caller turn, the page hangs up and the call is ENDED on the server, and
nothing is logged as an error. A screenshot goes with the Chromium ones.

The page's WebAudio meters cannot be checked here: headless Firefox on a machine without a sound
device never starts an AudioContext (a bare one with an oscillator stays "suspended" and reads
zeros), whereas headless Chromium has a fake audio output.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.browser import INSTALL_HINT
from tests.firefox import FIREFOX, firefox
from tests.live import LiveServer, start_server
from tests.netns import Netns, network_namespace, require_netns
from tests.web.test_ai_call_page import SCREENSHOTS, SPEECH_ENERGY

CALL_PREFS = {
    "media.navigator.streams.fake": True,  # a tone as the microphone
    "media.navigator.permission.disabled": True,  # no permission prompt
    "media.autoplay.default": 0,  # the AI's voice may play without a click
    "media.autoplay.blocking_policy": 0,
    "media.peerconnection.ice.obfuscate_host_addresses": False,  # plain addresses, not mDNS
}


def test_the_call_page_works_in_firefox(tmp_path: Path) -> None:
    if not FIREFOX.is_file():
        pytest.fail(f"Firefox ESR is not installed ({FIREFOX} is missing): {INSTALL_HINT}")
    require_netns()
    with network_namespace() as ns:
        # Firefox gathers ICE candidates only on the address of the default route (it treats
        # the fake microphone as no device grant): give the namespace one, through its own
        # interface, whose other end is in the same namespace: a packet for anywhere else goes
        # to the veth peer and is dropped there, still inside.
        subprocess.run(
            ["ip", "-n", ns.name, "route", "add", "default", "dev", ns.interface], check=True
        )
        ns.run(_call(ns, tmp_path), timeout_s=150)


def _server(ns: Netns, data: Path) -> LiveServer:
    env = {
        "ICE_HOST_ADDRESSES": ns.address,
        "STUN_SERVER_URL": "",
        "DEFAULT_LANGUAGE": "en",
        "LLM_TEMPERATURE": "0",
    }
    return start_server(data, env, wait=120)


async def _call(ns: Netns, tmp_path: Path) -> None:
    server = await asyncio.to_thread(_server, ns, tmp_path / "server")
    try:
        async with firefox(tmp_path / "profile", CALL_PREFS) as browser:
            page = await browser.open(f"{server.url}/ai-call-test.html")
            await page.click("label:has(#lang-en) span")  # the radio itself is drawn hidden
            await page.click("#call-btn")

            try:
                await page.until(
                    "parley.status === 'IN_PROGRESS' && parley.connectionState === 'connected'",
                    "the call connects",
                    within=40,
                )
            except AssertionError as exc:
                hook = await page.evaluate(
                    "({status: parley.status, phase: parley.phase, ice: parley.iceState,"
                    " pc: parley.connectionState, error: parley.lastError})"
                )
                console = browser.console(("debug", "info", "warn", "error"))
                log = "\n".join(server.log().splitlines()[-30:])
                raise AssertionError(f"{exc}\npage: {hook}\nconsole: {console}\n{log}") from None
            call_id = await page.evaluate("parley.callId")
            greeting = await page.until(
                "parley.turns.find(t => t.speaker === 'ai' && t.turn === 0 && t.final)",
                "the greeting's transcript",
                within=30,
            )
            # the greeting (~3.5 s) is played while its transcript shows
            await asyncio.sleep(4.0)
            stats = await page.evaluate("parley.audioStats()")
            energy = stats["inbound"]["totalAudioEnergy"]
            assert greeting["text"].startswith("Hello!"), greeting
            assert energy > SPEECH_ENERGY, f"the greeting was not heard in Firefox: {stats}"
            turns = await page.evaluate("parley.turns")
            assert not [t for t in turns if t["speaker"] == "caller" and t["text"]], turns

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            png = await page.screenshot()
            await asyncio.to_thread((SCREENSHOTS / "ai-call-firefox.png").write_bytes, png)

            await page.click("#call-btn")  # "End call"
            await page.until(
                "parley.phase === 'idle' && parley.status === 'ENDED'", "the page hangs up", 15
            )
            assert await page.evaluate("parley.connectionState") == "closed"
            assert await page.evaluate("parley.lastError") is None
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                call = (await http.get(f"/api/v1/calls/{call_id}")).json()["data"]["call"]
            assert call["status"] == "ENDED"
            errors = browser.console()
            assert not errors, errors
    finally:
        await asyncio.to_thread(server.stop)
    print(f"\nFirefox: greeting decoded, energy {energy:.3f}; screenshot in {SCREENSHOTS}")
