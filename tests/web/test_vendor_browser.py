"""Third-party browser code in a real browser: Debian's Chromium, headless and driven by
Playwright, against a real `parley serve` on loopback.

- `/api/docs` renders Swagger UI's operations with every request the page makes going to the
  server itself (no CDN, no validator badge, no fonts), so it works offline; a screenshot goes to
  $PARLEY_SCREENSHOTS (`api-docs.png`).
- socket.io-client's UMD build, at both paths a page written for the original system may load it
  from, defines the global `io`, and that `io` connects to Parley's `/signaling` namespace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, Request

from tests.browser import launched_chromium
from tests.live import LiveServer, start_server
from tests.web.test_ai_call_page import SCREENSHOTS

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("vendor-browser")
    live = start_server(data, {"AI_PRELOAD": "false", "STUN_SERVER_URL": ""}, wait=120)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def test_the_api_docs_render_from_the_server_alone(page: Page, server: LiveServer) -> None:
    requests: list[str] = []
    errors: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{server.url}/api/docs")

    create_call = page.locator(
        '.opblock.opblock-post:has(.opblock-summary-path[data-path="/api/v1/calls"])'
    )
    await create_call.wait_for(state="visible", timeout=30_000)
    operations = await page.locator(".opblock").count()
    assert operations >= 10, f"only {operations} operations rendered"
    assert (await page.locator(".info .title").inner_text()).startswith("Parley")

    await create_call.locator(".opblock-summary").click()  # opens, as a reader would
    await page.locator(".opblock-body").first.wait_for(state="visible", timeout=10_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "api-docs.png"), full_page=False)

    assert errors == []
    outside = [url for url in requests if not url.startswith(f"{server.url}/")]
    assert outside == [], f"requests to other hosts: {outside}"
    assert f"{server.url}/api/openapi.json" in requests
    assert f"{server.url}/vendor/swagger-ui/swagger-ui-bundle.js" in requests


@pytest.mark.parametrize("script", ["/socket.io/socket.io.js", "/vendor/socket.io.min.js"])
async def test_the_global_build_defines_io_that_connects(
    page: Page, server: LiveServer, script: str
) -> None:
    await page.goto(f"{server.url}/healthz")  # a page of the server with no script of its own
    assert await page.evaluate("typeof io") == "undefined"
    await page.add_script_tag(url=f"{server.url}{script}")
    assert await page.evaluate("typeof io") == "function"
    connected = await page.evaluate(
        """() => new Promise((resolve, reject) => {
            const socket = io('/signaling', {reconnection: false});
            socket.on('connect', () => { resolve(socket.id); socket.close(); });
            socket.on('connect_error', (error) => reject(new Error(error.message)));
            setTimeout(() => reject(new Error('no connect within 10 s')), 10000);
        })"""
    )
    assert isinstance(connected, str)
    assert connected
