"""The meeting pages in real browsers: Debian's Chromium (headless, fake camera and microphone,
driven by Playwright) against the real app with a real Janus, all inside a network namespace
this test creates (Janus never uses loopback for ICE; tests/netns.py). Each participant is a
browser context of its own, as separate people would be.

Checked through the pages themselves (clicks, typing, their `window.parleyMeeting` hooks and
their DOM): creating a meeting on the home page; three participants joining, each decoding the
others' video (`framesDecoded` > 0) and hearing their audio (`totalAudioEnergy` > 0); a camera
turned off shown to the others; chat both ways, rendered as text, and its history for a late
fourth joiner; a viewer's quality switch changing the received resolution; the host deleting the
meeting and everyone put out; Janus killed mid-meeting, restarted, and the pages back in.
Screenshots with 1, 2 and 4 participants go to $PARLEY_SCREENSHOTS (docs/screenshots/ for the
README).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize

from parley.janus.process import JanusSupervisor
from tests.browser import CHROMIUM, INSTALL_HINT, launched_chromium
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.netns import Netns, network_namespace
from tests.web.test_ai_call_page import SCREENSHOTS

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is missing: {INSTALL_HINT}"),
    pytest.mark.skipif(shutil.which("janus") is None, reason=f"janus is missing: {INSTALL_HINT}"),
    pytest.mark.timeout(240),
]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@asynccontextmanager
async def meeting_app(ns: Netns, data_dir: Path) -> AsyncIterator[tuple[str, Any]]:
    settings = make_settings(
        data_dir,
        janus={"enabled": True, "ice_enforce_list": ns.interface},
        webrtc={"stun_server_urls": []},
        **IDLE_AI,
    )
    async with serve_app(settings) as running:
        yield running


async def person(browser: Browser) -> Page:
    """A new participant: a browser context of its own (its own storage, devices, peers)."""
    context = await browser.new_context(viewport=DESKTOP, permissions=["camera", "microphone"])
    return await context.new_page()


async def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.parleyMeeting.state()")
    return result


async def until(
    check: Callable[[], Awaitable[bool]], within: float = 20, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.2)


async def enter(page: Page, url: str, name: str) -> str:
    """Open the meeting page, pass the lobby at 360p, and join; the participant's id."""
    await page.goto(url)
    await page.get_by_test_id("name-input").fill(name)
    await page.get_by_test_id("camera-quality").select_option("360")
    await page.get_by_test_id("join-button").click()

    async def in_room() -> bool:
        now = await state(page)
        return bool(now["phase"] == "room" and now["publishing"])

    await until(in_room, what=f"{name} in the room and publishing")
    return str((await state(page))["self"]["id"])


async def decoding(page: Page, others: list[str], within: float = 30) -> dict[str, Any]:
    """Until `page` decodes video and hears audio from each of `others`; its stats."""
    latest: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal latest
        latest = await page.evaluate("window.parleyMeeting.stats()")
        return all(
            latest.get(o, {}).get("framesDecoded", 0) > 0
            and latest.get(o, {}).get("audioEnergy", 0) > 0
            for o in others
        )

    try:
        await until(check, within, "decoding every other participant")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {latest}") from None
    return latest


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(600)  # tiles settle, toasts fade in
    await page.screenshot(path=str(SCREENSHOTS / name))


def test_a_meeting_in_four_browsers(tmp_path: Path) -> None:
    with network_namespace() as ns:
        ns.run(_meeting(ns, tmp_path), timeout_s=220)


async def _meeting(ns: Netns, tmp_path: Path) -> None:
    async with meeting_app(ns, tmp_path) as (base, _app), launched_chromium() as browser:
        # The host creates the meeting on the home page.
        ann = await person(browser)
        await ann.goto(base + "/")
        await ann.get_by_test_id("create-title").fill("Design review")
        await ann.get_by_test_id("create-name").fill("Ann")
        await ann.get_by_test_id("create-button").click()
        await ann.wait_for_url("**/meetings/*")
        url = ann.url
        meeting_id = url.rstrip("/").rsplit("/", 1)[1]
        token = await ann.evaluate(f"localStorage.getItem('parley.hostToken.{meeting_id}')")
        assert token
        ann_id = await enter(ann, url, "Ann")
        assert (await state(ann))["self"]["role"] == "host"
        await shot(ann, "meeting-1.png")

        ben = await person(browser)
        ben_id = await enter(ben, url, "Ben")
        await decoding(ann, [ben_id])
        await decoding(ben, [ann_id])
        await shot(ann, "meeting-2.png")

        cho = await person(browser)
        cho_id = await enter(cho, url, "Cho")
        everyone = {ann: ann_id, ben: ben_id, cho: cho_id}
        for page, me in everyone.items():
            await decoding(page, [o for o in everyone.values() if o != me])

        # Ben turns his camera off: the others see it (their tile for him shows no video).
        await ben.get_by_test_id("camera-toggle").click()
        for page in (ann, cho):
            tile = page.locator(f'[data-testid="tile"][data-participant-id="{ben_id}"]')
            await tile.and_(page.locator('[data-video="off"]')).wait_for(timeout=10_000)
        assert not (await state(ben))["cameraOn"]

        # Chat both ways, as text.
        hostile = "<b>bold?</b> <img src=x onerror=window.__owned=1>"
        await ann.get_by_test_id("chat-toggle").click()
        await ann.get_by_test_id("chat-input").fill(hostile)
        await ann.get_by_test_id("chat-send").click()

        async def ben_has_it() -> bool:
            return any(m["text"] == hostile for m in (await state(ben))["chat"])

        await until(ben_has_it, 10, "Ann's message at Ben")
        await ben.get_by_test_id("chat-toggle").click()
        log = ben.get_by_test_id("chat-log")
        await log.get_by_text("<b>bold?</b>", exact=False).wait_for(timeout=5000)
        assert await log.locator("b, img").count() == 0
        assert await ben.evaluate("window.__owned") is None
        await ben.get_by_test_id("chat-input").fill("Looks good to me")
        await ben.get_by_test_id("chat-send").click()

        # A late fourth joiner gets the history.
        dan = await person(browser)
        dan_id = await enter(dan, url, "Dan")
        texts = [m["text"] for m in (await state(dan))["chat"]]
        assert texts == [hostile, "Looks good to me"]
        await decoding(ann, [dan_id])
        await shot(ann, "meeting-4.png")

        # Ann picks the quality she receives: low, then high, changes what she decodes.
        async def height_of(who: str) -> int:
            stats = await ann.evaluate("window.parleyMeeting.stats()")
            return int(stats.get(who, {}).get("frameHeight") or 0)

        await ann.get_by_test_id("quality-select").select_option("low")
        await until(lambda: _is(height_of(cho_id), lambda h: 0 < h <= 180), 20, "a low layer")
        low = await height_of(cho_id)
        await ann.get_by_test_id("quality-select").select_option("high")
        await until(lambda: _is(height_of(cho_id), lambda h: h > low), 20, "a higher layer")
        print(f"received height: low {low}, high {await height_of(cho_id)}")

        # The host deletes the meeting: everyone is out.
        async with httpx.AsyncClient(base_url=base) as http:
            deleted = await http.delete(
                f"/api/v1/meetings/{meeting_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert deleted.status_code == 200
        for page in (ann, ben, cho, dan):

            async def ended(page: Page = page) -> bool:
                now = await state(page)
                return bool(now["phase"] == "ended" and now["endReason"] == "deleted")

            await until(ended, 10, "the page showing the meeting is gone")


async def _is(value: Awaitable[int], test: Callable[[int], bool]) -> bool:
    return test(await value)


def test_the_pages_get_back_in_after_janus_restarts(tmp_path: Path) -> None:
    with network_namespace() as ns:
        ns.run(_janus_restart(ns, tmp_path), timeout_s=200)


async def _janus_restart(ns: Netns, tmp_path: Path) -> None:
    async with meeting_app(ns, tmp_path) as (base, app), launched_chromium() as browser:
        async with httpx.AsyncClient(base_url=base) as http:
            created = await http.post("/api/v1/meetings", json={"title": "Resilience"})
            meeting_id = created.json()["data"]["meeting"]["id"]
        url = f"{base}/meetings/{meeting_id}"
        ann, ben = await person(browser), await person(browser)
        ann_id = await enter(ann, url, "Ann")
        ben_id = await enter(ben, url, "Ben")
        await decoding(ann, [ben_id])

        supervisor = app.state.services.janus.server
        assert isinstance(supervisor, JanusSupervisor)
        old_pid = supervisor.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)

        async def banner_shown() -> bool:
            return bool((await state(ann))["mediaBanner"])

        await until(banner_shown, 10, "a media banner on Ann's page")
        frames = (await ann.evaluate("window.parleyMeeting.stats()")).get(ben_id, {})

        async def back() -> bool:
            now = await ann.evaluate("window.parleyMeeting.stats()")
            return bool(
                now.get(ben_id, {}).get("framesDecoded", 0) > 0
                and now.get(ben_id) != frames
                and not (await state(ann))["mediaBanner"]
            )

        await until(back, 40, "Ann decoding Ben again after Janus restarted")
        await decoding(ben, [ann_id])
        assert supervisor.pid not in (None, old_pid)
