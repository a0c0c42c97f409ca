"""Fixtures the browser tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.browser import launched_chromium


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium with a fake camera and microphone. A module may define its own (the
    call page's plays a WAV file as the microphone)."""
    async with launched_chromium() as launched:
        yield launched
