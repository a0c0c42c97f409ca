"""The meeting page's ES modules (`static/meeting/*.js`, served at `/meeting/<file>.js`) in
Debian's headless Chromium on the real app (`serve_app`, no Janus, no models): every module loads
(a missing export is a SyntaxError at load time, which would break the whole page), the demo
module is not loaded unless `?demo` asks for it, and the phase machine moves only along the
moves it lists, the room's four phases counting as "in the room"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from parley.web.static_files import STATIC_DIR
from tests.browser import CHROMIUM, INSTALL_HINT
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium is missing: {INSTALL_HINT}"),
    pytest.mark.timeout(120),
]

MODULES = sorted(f"/meeting/{path.name}" for path in (STATIC_DIR / "meeting").glob("*.js"))

PHASE_WALK = """async () => {
  const { createPhase } = await import("/meeting/phase.js");
  const seen = [];
  const phase = createPhase((next, previous) => seen.push(`${previous}>${next}`));
  const tries = ["room", "lobby", "joining", "room", "reconnecting", "room", "rejoining",
                 "reconnecting", "rejoining", "room", "leaving", "room", "ended", "lobby"];
  const answers = tries.map((next) => [next, phase.go(next), phase.inRoom()]);
  return { answers, seen, last: phase.current };
}"""


@pytest.fixture
async def page(tmp_path: Path, browser: Browser) -> AsyncIterator[tuple[str, Page]]:
    async with serve_app(make_settings(tmp_path, **IDLE_AI)) as (url, _app):
        context = await browser.new_context(permissions=["camera", "microphone"])
        yield url, await context.new_page()
        await context.close()


async def test_every_module_loads(page: tuple[str, Page]) -> None:
    base, tab = page
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    async with httpx.AsyncClient(base_url=base) as http:
        created = await http.post("/api/v1/meetings", json={"title": "Modules"})
        meeting_id = created.json()["data"]["meeting"]["id"]
    await tab.goto(f"{base}/meetings/{meeting_id}")
    await tab.wait_for_function("() => window.parleyMeeting?.state().phase === 'lobby'")
    assert "/meeting/demo.js" in MODULES
    assert len(MODULES) > 10
    loaded = await tab.evaluate(
        "() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
    )
    assert "/meeting/phase.js" in loaded
    assert "/meeting/demo.js" not in loaded
    failures = await tab.evaluate(
        """async (paths) => {
          const failed = [];
          for (const path of paths) {
            try { await import(path); } catch (err) { failed.push(`${path}: ${err}`); }
          }
          return failed;
        }""",
        MODULES,
    )
    assert failures == []
    assert errors == []


async def test_the_phase_moves_only_as_listed(page: tuple[str, Page]) -> None:
    base, tab = page
    await tab.goto(f"{base}/meetings/no-such-meeting")
    walk = await tab.evaluate(PHASE_WALK)
    assert walk["answers"] == [
        ["room", False, False],  # not from loading
        ["lobby", True, False],
        ["joining", True, False],
        ["room", True, True],
        ["reconnecting", True, True],
        ["room", False, True],  # back in only through rejoining
        ["rejoining", True, True],
        ["reconnecting", True, True],
        ["rejoining", True, True],
        ["room", True, True],
        ["leaving", True, True],
        ["room", False, True],  # a late rejoin answer after leaving
        ["ended", True, False],
        ["lobby", False, False],  # ended is final
    ]
    assert walk["seen"][0] == "loading>lobby"
    assert walk["last"] == "ended"
