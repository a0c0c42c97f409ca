"""Fixtures the browser tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.web.test_ai_call_page import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium with a fake camera and microphone; missing, the test fails
    (`make test` installs it), it is not skipped. A module may define its own (the call page's
    plays a WAV file as the microphone)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not installed ({CHROMIUM} is missing): {INSTALL_HINT}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()
