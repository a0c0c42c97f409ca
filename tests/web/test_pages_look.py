"""How the pages look, in both languages and both colour schemes: Debian's Chromium (headless,
Playwright, fake camera and microphone) opens the meetings home, the meeting lobby, a meeting
room (its `?demo` people), the "meeting not found" page and the AI call page (its `?demo`
conversation) on a real app (`serve_app`, no Janus, no models), once per browser locale (ko-KR,
en-US) and `prefers-color-scheme` (light, dark).

Each time: `<html lang>` is the browser's language; in English no Hangul shows (people's own
words aside) and in Korean the main labels are Korean and no English words show (names of
things like Parley, AI, PIN, HD aside); the KO / EN switch changes the language at once, without
a reload, and remembers it; the page's background is dark in dark mode and light in light mode.
Screenshots go to $PARLEY_SCREENSHOTS (docs/screenshots/ for the README) as
`look-<page>-<lang>-<scheme>.png`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.browser import CHROMIUM, INSTALL_HINT
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.web.test_ai_call_page import SCREENSHOTS

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is missing: {INSTALL_HINT}"),
    pytest.mark.timeout(240),
]

HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
# Names of things, shown as they are in Korean too.
NAMES = {"Parley", "WebRTC", "Socket", "PIN", "HD", "kbps", "Mbps", "ICE", "Ctrl"}

Scheme = Literal["light", "dark"]


@dataclass(frozen=True)
class Look:
    """A page to look at: where it is, what on it is people's own words, its main labels."""

    name: str
    path: str
    ready: str  # a JS condition true once the page has drawn itself
    labels: tuple[str, ...]  # selectors of main labels (Korean in ko-KR)
    user_content: str = ""  # selectors of people's own words (any language)
    prepare: str = ""  # JS run once the page is ready (to open a disclosure, say)


LOOKS = [
    Look(
        "home",
        "/",
        "document.querySelector('#create-btn .label')?.textContent.length > 0",
        ("#hero-title", "#create-title", "#create-btn .label", "#join-go .label"),
    ),
    Look(
        "lobby",
        "/meetings/{meeting}",
        "window.parleyMeeting?.state().phase === 'lobby'"
        " && document.querySelector('#preview').dataset.camera === 'on'",
        (".eyebrow", "#join-label", "label[for=name-input]"),
        "#lobby-title, #preview-name",
    ),
    Look(
        "room",
        "/meetings/{meeting}?demo=3&autojoin",
        "window.parleyMeeting?.state().phase === 'room'"
        " && document.querySelectorAll('.tile').length === 4",
        ("#people-count",),
        ".tile-name, #room-title, #room-top-title, .room-title",
    ),
    Look(
        "notice",
        "/meetings/no-such-meeting",
        "document.querySelector('#notice-title')?.textContent.length > 0",
        ("#notice-title", "#notice-text", "[data-testid=notice-home]"),
    ),
    Look(
        "call-idle",
        "/ai-call-test.html",
        "document.querySelector('#voice option')?.textContent.length > 0",
        ("#call-btn-text", "#hint", "#transcript-title", "#details summary", ".stats dt"),
        prepare="document.querySelector('#details').open = true",
    ),
    Look(
        "call",
        "/ai-call-test.html?demo=2",
        "document.querySelectorAll('#transcript .turn').length >= 5",
        (
            "#call-btn-text",
            "#settings-title",
            "#transcript-title",
            "#status-text",
            "#details summary",
        ),
        "#transcript .bubble, #voice",
    ),
]

# The page's visible text with people's own words hidden (innerText skips display: none). Hidden
# through each element's style (the CSSOM): the pages' Content-Security-Policy forbids the
# inline `<style>` element this once added.
VISIBLE_TEXT = """(hide) => {
  const hidden = hide ? [...document.querySelectorAll(hide)] : [];
  const kept = hidden.map((node) => node.style.cssText);
  hidden.forEach((node) => node.style.setProperty("display", "none", "important"));
  const text = document.body.innerText;
  hidden.forEach((node, i) => (node.style.cssText = kept[i]));
  return text;
}"""

# The relative luminance (0 black … 1 white) of the body's background colour.
BACKGROUND_LUMINANCE = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
  const lin = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}"""


@pytest.fixture
async def app_url(tmp_path: Path) -> AsyncIterator[str]:
    async with serve_app(make_settings(tmp_path, **IDLE_AI)) as (url, _app):
        yield url


async def create_meeting(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        created = await http.post("/api/v1/meetings", json={"title": "Design review"})
        assert created.status_code == 201, created.text
        meeting_id: str = created.json()["data"]["meeting"]["id"]
        return meeting_id


async def open_page(
    browser: Browser, url: str, look: Look, locale: str, scheme: Scheme
) -> tuple[Page, list[str]]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale=locale,
        color_scheme=scheme,
        permissions=["camera", "microphone"],
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    await page.wait_for_function(f"() => {look.ready}", polling=100, timeout=15_000)
    if look.prepare:
        await page.evaluate(look.prepare)
    return page, errors


async def visible_text(page: Page, look: Look) -> str:
    text: str = await page.evaluate(VISIBLE_TEXT, look.user_content)
    return text


async def labels(page: Page, look: Look) -> list[str]:
    found: list[str] = []
    for selector in look.labels:
        node = page.locator(selector).first
        text = (await node.text_content()) or ""
        found.append(text.strip())
    return found


def english_words(text: str) -> set[str]:
    return {word for word in LATIN_WORD.findall(text) if word not in NAMES}


async def check_language(page: Page, look: Look, lang: str) -> None:
    assert await page.evaluate("document.documentElement.lang") == lang
    text = await visible_text(page, look)
    shown = await labels(page, look)
    if lang == "en":
        assert not HANGUL.findall(text), f"{look.name}: Korean in English mode:\n{text}"
        assert all(label and not HANGUL.search(label) for label in shown), shown
    else:
        assert all(HANGUL.search(label) for label in shown), f"{look.name}: {shown}"
        assert not english_words(text), f"{look.name}: English in Korean mode:\n{text}"


async def check_switch(page: Page, look: Look, lang: str) -> None:
    """The other language at once (no reload), remembered, and back."""
    other = "en" if lang == "ko" else "ko"
    await page.evaluate("window.__sameDocument = true")
    await page.locator(f"[data-testid=lang-{other}]:visible").first.click()
    await check_language(page, look, other)
    assert await page.evaluate("window.__sameDocument") is True
    assert await page.evaluate("localStorage.getItem('parley.lang')") == other
    await page.locator(f"[data-testid=lang-{lang}]:visible").first.click()
    await check_language(page, look, lang)


async def check_scheme(page: Page, look: Look, scheme: Scheme) -> None:
    luminance: float = await page.evaluate(BACKGROUND_LUMINANCE)
    if scheme == "dark":
        assert luminance < 0.05, f"{look.name}: background not dark ({luminance:.3f})"
    else:
        assert luminance > 0.8, f"{look.name}: background not light ({luminance:.3f})"


@pytest.mark.parametrize("look", LOOKS, ids=[look.name for look in LOOKS])
async def test_each_page_in_both_languages_and_schemes(
    look: Look, app_url: str, browser: Browser
) -> None:
    meeting = await create_meeting(app_url) if "{meeting}" in look.path else ""
    url = app_url + look.path.format(meeting=meeting)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for locale, lang in (("en-US", "en"), ("ko-KR", "ko")):
        for scheme in ("light", "dark"):
            page, errors = await open_page(browser, url, look, locale, scheme)
            try:
                await check_language(page, look, lang)
                await check_scheme(page, look, scheme)
                await page.wait_for_timeout(400)  # transitions, fonts, video frames settle
                await page.screenshot(
                    path=str(SCREENSHOTS / f"look-{look.name}-{lang}-{scheme}.png")
                )
                await check_switch(page, look, lang)
                assert not errors, errors
            finally:
                await page.context.close()
