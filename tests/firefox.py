"""Debian's Firefox ESR, headless, driven over WebDriver BiDi — the W3C protocol Firefox speaks
natively (`--remote-debugging-port`), so no geckodriver and no Playwright build of Firefox (which
would have to be downloaded from a CDN) is needed: a websocket and a few JSON commands.

    async with firefox(profile_dir, prefs) as browser:
        page = await browser.open(url)
        await page.evaluate("document.title")
        await page.until("window.ready === true", "the page is ready", within=10)

Values come back through `JSON.stringify`, so an expression must evaluate to JSON-able data.
The profile disables Firefox's own background traffic (updates, telemetry, safe browsing,
captive-portal and connectivity checks...); tests still run it inside a network namespace of
their own, with no route anywhere, so nothing can leave the machine whatever a pref misses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any

from websockets.asyncio.client import ClientConnection, connect

FIREFOX = Path("/usr/bin/firefox-esr")

QUIET_PREFS: dict[str, Any] = {
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.search.update": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "browser.ping-centre.telemetry": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "dom.push.enabled": False,
    "extensions.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "geo.provider.network.url": "",
    "media.gmp-manager.updateEnabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.proxy.type": 0,
    "services.settings.server": "",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
}


class BidiError(RuntimeError):
    pass


class Session:
    """One WebDriver BiDi session over a websocket: commands by id, events kept in a list."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read(), name="bidi-reader")

    async def _read(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)
            elif message.get("type") == "event":
                self.events.append(message)

    async def send(self, method: str, params: dict[str, Any], within: float = 30) -> Any:
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, within)
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        return reply["result"]

    async def aclose(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._socket.close()


class Page:
    """One browsing context (tab)."""

    def __init__(self, session: Session, context: str) -> None:
        self._session = session
        self.context = context

    async def goto(self, url: str) -> None:
        params = {"context": self.context, "url": url, "wait": "complete"}
        await self._session.send("browsingContext.navigate", params)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), through JSON."""
        result = await self._session.send(
            "script.evaluate",
            {
                "expression": f"(async () => JSON.stringify(await ({expression})))()",
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BidiError(f"{expression}: {details.get('text')}")
        value = result["result"]
        return None if value.get("type") == "undefined" else json.loads(value["value"])

    async def click(self, selector: str) -> None:
        """A real click (pointer actions, so the page gets a user activation, as from a person)
        in the middle of the element `selector`, scrolled into view first."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = round(box[0]), round(box[1])
        pointer = [
            {"type": "pointerMove", "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        actions = [{"type": "pointer", "id": "mouse", "actions": pointer}]
        await self._session.send(
            "input.performActions", {"context": self.context, "actions": actions}
        )

    async def until(self, condition: str, what: str, within: float) -> Any:
        """The truthy value of `condition`, polled every 100 ms."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            value = await self.evaluate(condition)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what}: not within {within}s")
            await asyncio.sleep(0.1)

    async def screenshot(self) -> bytes:
        """The viewport as PNG."""
        result = await self._session.send(
            "browsingContext.captureScreenshot", {"context": self.context}
        )
        return base64.b64decode(result["data"])

    async def set_viewport(self, width: int, height: int) -> None:
        params = {"context": self.context, "viewport": {"width": width, "height": height}}
        await self._session.send("browsingContext.setViewport", params)


class Firefox:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def open(self, url: str) -> Page:
        tree = await self.session.send("browsingContext.getTree", {})
        page = Page(self.session, tree["contexts"][0]["context"])
        await page.goto(url)
        return page

    def console(self, levels: tuple[str, ...] = ("error",)) -> list[str]:
        """Console messages and uncaught errors of these levels, logged so far."""
        out = []
        for event in self.session.events:
            if event.get("method") == "log.entryAdded":
                entry = event["params"]
                if entry.get("level") in levels:
                    out.append(f"{entry.get('type')}: {entry.get('text')}")
        return out


def write_profile(directory: Path, prefs: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
    (directory / "user.js").write_text("\n".join(lines) + "\n")


@contextlib.asynccontextmanager
async def firefox(
    profile: Path,
    prefs: dict[str, Any],
    *,
    spawn: Callable[[list[str], IO[bytes]], subprocess.Popen[bytes]] | None = None,
    within: float = 60,
) -> AsyncIterator[Firefox]:
    """Firefox ESR headless with a fresh profile (`QUIET_PREFS` + `prefs`); `spawn(args, log)`
    starts the process (e.g. inside a network namespace). Stopped, by its PID, on the way out."""
    write_profile(profile, {**QUIET_PREFS, **prefs})
    args = [
        str(FIREFOX),
        "--headless",
        "--no-remote",
        "--profile",
        str(profile),
        "--remote-debugging-port",
        "0",
    ]
    log = (profile / "firefox.log").open("wb")
    process = (spawn or _popen)(args, log)
    try:
        port = await _listening_port(profile / "firefox.log", process, within)
        async with connect(f"ws://127.0.0.1:{port}/session", max_size=2**26) as socket:
            session = Session(socket)
            try:
                await session.send("session.new", {"capabilities": {}})
                await session.send("session.subscribe", {"events": ["log.entryAdded"]})
                yield Firefox(session)
                with contextlib.suppress(Exception):
                    await session.send("browser.close", {}, within=10)
            finally:
                await session.aclose()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _popen(args: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


async def _listening_port(log: Path, process: subprocess.Popen[bytes], within: float) -> int:
    """The port of "WebDriver BiDi listening on ws://127.0.0.1:PORT", once Firefox prints it."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if match := re.search(r"WebDriver BiDi listening on ws://[^:]+:(\d+)", text):
            return int(match.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"Firefox exited early:\n{text[-3000:]}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"Firefox did not start within {within}s")
