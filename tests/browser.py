"""Debian's headless Chromium for the browser tests: where it is, how it is started (fake camera
and microphone, loopback WebRTC, no background services), and one launcher that every browser
test uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "run scripts/install-test-deps.sh (or `make test-deps`) to install it"
CHROMIUM_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not installed ({CHROMIUM} is missing): {INSTALL_HINT}")


@asynccontextmanager
async def launched_chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """Chromium with `CHROMIUM_ARGS` and `extra_args`, closed on exit. Missing, the test fails
    (`make test` installs it); it is not skipped."""
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
