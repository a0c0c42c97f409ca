"""Security headers on every response, and pages that keep to their Content-Security-Policy.

Every kind of answer (pages, API, errors, static and vendor files, Engine.IO's own) carries the
CSP, `nosniff`, `X-Frame-Options`, `Referrer-Policy` and `Permissions-Policy`. Then Debian's
Chromium (headless, Playwright) uses each page with the policy on, and fails on any violation
(`securitypolicyviolation` events and "Refused to ..." console errors): the meetings home
creating a meeting through its form, the meeting page joining it (Socket.IO upgrading to a
websocket: `connect-src 'self'` must cover `ws:`), the AI call page, and the API docs (Swagger
UI started by a file, not an inline script). The host token never appears in a URL or a header
the browser sends. Screenshots go to $PARLEY_SCREENSHOTS as `csp-<page>.png`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, WebSocket

from parley.web.security_headers import CONTENT_SECURITY_POLICY
from tests.browser import CHROMIUM, INSTALL_HINT
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.web.test_ai_call_page import SCREENSHOTS

SWAGGER = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "swagger-ui-dist"
in_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"Chromium is missing: {INSTALL_HINT}"
)
pytestmark = pytest.mark.timeout(180)

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
# Collects every violation the page reports, from before its first script runs.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}` +
                           ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


CONNECT_SIGNALING = """() => import('/vendor/socket.io.js').then(({ io }) => new Promise((ok) => {
  const socket = io('/signaling', { transports: ['websocket'], reconnection: false });
  socket.on('connect', () => { socket.close(); ok(true); });
  socket.on('connect_error', (error) => ok(String(error)));
}))"""


@pytest.fixture
async def app_url(tmp_path: Path) -> AsyncIterator[str]:
    async with serve_app(make_settings(tmp_path, **IDLE_AI)) as (url, _app):
        yield url


def assert_secured(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    permissions = response.headers.get("permissions-policy", "")
    for feature in ("camera=(self)", "microphone=(self)", "display-capture=(self)"):
        assert feature in permissions, f"{where}: {permissions}"


async def test_every_kind_of_answer_carries_the_headers(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url) as http:
        meeting = (await http.post("/api/v1/meetings", json={"title": "Headers"})).json()
        answers = [
            await http.get("/"),
            await http.get("/ai-call-test.html"),
            await http.get(f"/meetings/{meeting['data']['meeting']['id']}"),
            await http.get("/meeting.js"),
            await http.get("/api/openapi.json"),
            await http.get("/api/v1/calls/config"),
            await http.post("/api/v1/calls", json={"callerNumber": "x"}),  # 422
            await http.get("/api/v1/nothing"),  # 404
            await http.delete("/healthz"),  # 405
            await http.head("/healthz"),
            await http.post("/api/v1/calls", content=b"x" * 2_000_000),  # 413, from middleware
            await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"}),
            await http.get("/socket.io/", params={"EIO": "3"}),  # Engine.IO's own 400
        ]
        if (SWAGGER / "swagger-ui-bundle.js").is_file():
            answers += [await http.get("/api/docs"), await http.get("/vendor/socket.io.js")]
    for response in answers:
        assert_secured(response)


@dataclass
class Watched:
    """A page whose CSP violations, requests and websockets are recorded."""

    page: Page
    console: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    websockets: list[WebSocket] = field(default_factory=list)
    frames: int = 0

    async def violations(self) -> list[str]:
        reported: list[str] = await self.page.evaluate("window.__violations")
        refused = [c for c in self.console if "Content Security Policy" in c or "Refused" in c]
        return reported + refused


async def watch(browser: Browser) -> Watched:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="en-US",
        permissions=["camera", "microphone"],
    )
    await context.add_init_script(WATCH_VIOLATIONS)
    watched = Watched(await context.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            watched.console.append(message.text)

    def on_websocket(socket: WebSocket) -> None:
        watched.websockets.append(socket)

        def received(_: object) -> None:
            watched.frames += 1

        socket.on("framereceived", received)

    watched.page.on("console", on_console)

    def on_request(request: Request) -> None:
        watched.requests.append(request)

    watched.page.on("request", on_request)
    watched.page.on("websocket", on_websocket)
    return watched


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(500)  # transitions settle
    await page.screenshot(path=str(SCREENSHOTS / f"csp-{name}.png"))


async def secured_goto(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None
    assert (await response.all_headers()).get("content-security-policy") == CONTENT_SECURITY_POLICY


@in_chromium
async def test_a_meeting_created_and_joined_under_the_policy(
    app_url: str, browser: Browser
) -> None:
    host = await watch(browser)
    page = host.page
    await secured_goto(page, app_url + "/")
    await page.get_by_test_id("create-title").fill("Policy review")
    await page.get_by_test_id("create-name").fill("Ann")
    await page.get_by_test_id("create-pin").fill("4096")
    await screenshot(page, "home")
    await page.get_by_test_id("create-button").click()  # fetch() to the API
    await page.wait_for_url("**/meetings/*")
    meeting_id = page.url.rstrip("/").rsplit("/", 1)[1]
    token = await page.evaluate(f"localStorage.getItem('parley.hostToken.{meeting_id}')")
    assert token

    await page.get_by_test_id("name-input").fill("Ann")
    await page.get_by_test_id("join-button").click()  # Socket.IO: polling, then a websocket
    await page.wait_for_function(
        "() => window.parleyMeeting?.state().phase === 'room'", polling=100, timeout=20_000
    )
    await page.wait_for_function("() => document.querySelectorAll('.tile').length >= 1")
    await screenshot(page, "meeting")

    assert await host.violations() == []
    opened = [ws.url for ws in host.websockets]
    assert any("/socket.io/" in url and "transport=websocket" in url for url in opened), opened
    assert host.frames > 0, "the websocket carried nothing"
    for request in host.requests:  # the host token stays in the page and the socket
        assert token not in request.url
        assert all(token not in value for value in (await request.all_headers()).values())
        assert "referer" not in await request.all_headers()
    await page.context.close()


@in_chromium
async def test_the_call_page_under_the_policy(app_url: str, browser: Browser) -> None:
    watched = await watch(browser)
    page = watched.page
    await secured_goto(page, app_url + "/ai-call-test.html")
    await page.wait_for_function(
        "() => document.querySelector('#voice option')?.textContent.length > 0", timeout=15_000
    )
    # What the page's module does when a call starts: socket.io-client over a websocket.
    assert await page.evaluate(CONNECT_SIGNALING) is True
    assert any("transport=websocket" in ws.url for ws in watched.websockets)
    await screenshot(page, "call")
    demo = await watch(browser)
    await secured_goto(demo.page, app_url + "/ai-call-test.html?demo=2")
    await demo.page.wait_for_function(
        "() => document.querySelectorAll('#transcript .turn').length >= 5", timeout=15_000
    )
    await screenshot(demo.page, "call-demo")
    assert await watched.violations() == []
    assert await demo.violations() == []
    for context in (page.context, demo.page.context):
        await context.close()


@in_chromium
@pytest.mark.skipif(not (SWAGGER / "swagger-ui-bundle.js").is_file(), reason="no swagger-ui-dist")
async def test_the_api_docs_under_the_policy(app_url: str, browser: Browser) -> None:
    watched = await watch(browser)
    page = watched.page
    await secured_goto(page, app_url + "/api/docs")
    create_call = page.locator(
        '.opblock.opblock-post:has(.opblock-summary-path[data-path="/api/v1/calls"])'
    )
    await create_call.wait_for(state="visible", timeout=30_000)
    await create_call.locator(".opblock-summary").click()
    await page.locator(".opblock-body").first.wait_for(state="visible", timeout=10_000)
    await screenshot(page, "api-docs")
    await page.get_by_role("button", name="Try it out").first.click()
    await page.get_by_role("button", name="Execute").first.click()  # a request from the page
    await page.locator(".responses-table .response-col_status").first.wait_for(timeout=10_000)
    assert await watched.violations() == []
    await page.context.close()


@in_chromium
async def test_the_watch_sees_violations_and_framing_is_refused(
    app_url: str, browser: Browser
) -> None:
    """The watch itself: an inline script the page did not have is reported; and no page may
    be framed, not even by a page of its own origin."""
    watched = await watch(browser)
    page = watched.page
    await secured_goto(page, app_url + "/")
    await page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = 1'; document.body.append(s); }"
    )
    assert await page.evaluate("window.injected") is None
    assert any("script-src" in v for v in await watched.violations())

    framing = await watch(browser)
    await secured_goto(framing.page, app_url + "/healthz")
    await framing.page.evaluate(
        "(src) => { const f = document.createElement('iframe'); f.src = src;"
        " document.body.append(f); }",
        app_url + "/",
    )
    await framing.page.wait_for_timeout(1000)
    assert any("frame-ancestors" in c for c in framing.console), framing.console
    for context in (page.context, framing.page.context):
        await context.close()


def test_the_policy_is_what_the_docs_say() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert "unsafe" not in json.dumps(directives)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert set(directives["media-src"].split()) == {"'self'", "blob:", "mediastream:"}
