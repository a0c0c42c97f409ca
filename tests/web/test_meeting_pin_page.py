"""The meeting page under a PIN-guessing attack, as people see it: Debian's Chromium (headless,
Playwright) on the real app (`serve_app`, no Janus, no models). The host creates a PIN meeting
on the home page and joins (English); 21 wrong PINs come from 21 loopback addresses; a guest
with the right PIN (Korean) is told to wait, with the seconds left and the join button off,
then gets in; the host is told how many wrong PINs were tried and that joining is paused.
Screenshots `pin-wait-guest.png` and `pin-attempts-host.png` go to $PARLEY_SCREENSHOTS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser import CHROMIUM, INSTALL_HINT
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import connected_from
from tests.web.test_ai_call_page import SCREENSHOTS

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is missing: {INSTALL_HINT}"),
    pytest.mark.timeout(180),
]

PIN = "482913"
PAUSE_S = 4.0  # the meeting's first pause: long enough to read it on a loaded machine


@pytest.fixture
async def app_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = make_settings(tmp_path, **IDLE_AI, meetings={"pin_lockout_base_s": PAUSE_S})
    async with serve_app(settings) as (url, _app):
        yield url


async def person(browser: Browser, locale: str) -> Page:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale=locale,
        permissions=["camera", "microphone"],
    )
    return await context.new_page()


async def phase_is(page: Page, phase: str) -> None:
    await page.wait_for_function(
        f"() => window.parleyMeeting?.state().phase === '{phase}'", polling=100, timeout=20_000
    )


async def guess_wrong_from_many_addresses(base: str, meeting_id: str, count: int) -> list[Any]:
    answers = []
    for n in range(count):
        async with connected_from(base, f"127.0.0.{n + 2}") as bot:
            reply = await bot.request(
                "join", {"meetingId": meeting_id, "displayName": "bot", "pin": f"{n:06d}"}
            )
            answers.append(reply["error"]["code"])
    return answers


async def test_a_guest_is_told_to_wait_and_the_host_is_told_why(
    app_url: str, browser: Browser
) -> None:
    host = await person(browser, "en-US")
    await host.goto(app_url + "/")
    await host.get_by_test_id("create-title").fill("Board meeting")
    await host.get_by_test_id("create-name").fill("Mina")
    await host.get_by_test_id("create-pin").fill(PIN)
    await host.get_by_test_id("create-button").click()
    await host.wait_for_url("**/meetings/*")
    meeting_url = host.url
    meeting_id = meeting_url.rstrip("/").rsplit("/", 1)[1]
    await phase_is(host, "lobby")
    await host.get_by_test_id("name-input").fill("Mina")
    await host.get_by_test_id("join-button").click()
    await phase_is(host, "room")

    guest = await person(browser, "ko-KR")
    await guest.goto(meeting_url)
    await phase_is(guest, "lobby")
    await guest.get_by_test_id("name-input").fill("김준")
    await guest.get_by_test_id("pin-input").fill(PIN)

    assert await guess_wrong_from_many_addresses(app_url, meeting_id, 21) == ["WRONG_PIN"] * 21
    await guest.get_by_test_id("join-button").click()
    pin_error = guest.locator("#pin-error")
    await pin_error.filter(has_text="잘못된 PIN이 너무 많습니다").wait_for(timeout=10_000)
    assert "초 후에 다시 시도하세요" in (await pin_error.text_content() or "")
    assert await guest.get_by_test_id("join-button").is_disabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await guest.screenshot(path=str(SCREENSHOTS / "pin-wait-guest.png"))

    toast = host.get_by_test_id("toast").filter(has_text="21 wrong PINs were tried to join")
    await toast.wait_for(timeout=10_000)
    assert "Joining with a PIN is paused" in (await toast.text_content() or "")
    await host.screenshot(path=str(SCREENSHOTS / "pin-attempts-host.png"))

    await pin_error.filter(has_text="이제 다시 시도할 수 있습니다").wait_for(
        timeout=(PAUSE_S + 5) * 1000
    )
    await guest.get_by_test_id("join-button").click()
    await phase_is(guest, "room")
    await asyncio.sleep(0)
    for page in (host, guest):
        await page.context.close()
