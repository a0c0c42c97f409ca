"""The web pages' files: one exact route each (the API keeps its own 404/405), revalidation
headers, the meetings home at `/` and the meeting page at `/meetings/{id}`, and a 503 that says
what to run when socket.io-client is not installed."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from parley.web import static_files
from parley.web.app import create_app
from tests.conftest import make_settings


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = create_app(make_settings(tmp_path))
    static_files.mount_static(app)
    return app


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/ai-call-test.html", "text/html"),
        ("/ai-call.js", "javascript"),
        ("/ai-call.css", "text/css"),
        ("/", "text/html"),
        ("/meetings/3f1c0e9a-8d1b-4c55-9b8e-2f7a4a1d6c10", "text/html"),
        ("/meeting.js", "javascript"),
        ("/home.js", "javascript"),
        ("/meeting.css", "text/css"),
        ("/theme.css", "text/css"),
        ("/i18n.js", "javascript"),
        ("/messages.js", "javascript"),
    ],
)
async def test_page_files_are_served(web: httpx.AsyncClient, path: str, media_type: str) -> None:
    response = await web.get(path)
    assert response.status_code == 200
    assert media_type in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    again = await web.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_the_page_loads_its_own_files(web: httpx.AsyncClient) -> None:
    html = (await web.get("/ai-call-test.html")).text
    assert 'src="/ai-call.js"' in html
    assert 'href="/ai-call.css"' in html
    assert 'href="/theme.css"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html


@pytest.mark.parametrize(
    ("path", "script"),
    [("/", "/home.js"), ("/meetings/any-meeting-id", "/meeting.js")],
)
async def test_the_meeting_pages_load_their_own_files(
    web: httpx.AsyncClient, path: str, script: str
) -> None:
    html = (await web.get(path)).text
    assert f'src="{script}"' in html
    assert 'href="/meeting.css"' in html
    assert 'href="/theme.css"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html


async def test_the_meeting_page_is_only_one_level_deep(web: httpx.AsyncClient) -> None:
    assert (await web.get("/meetings/some-id/more")).status_code == 404
    assert (await web.post("/meetings/some-id")).status_code == 405


async def test_socket_io_client_comes_from_node_modules(web: httpx.AsyncClient) -> None:
    if not (static_files.SOCKET_IO_DIST / static_files.SOCKET_IO_FILE).is_file():
        pytest.skip("web/node_modules is not installed (scripts/setup-web.sh)")
    response = await web.get("/vendor/socket.io.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "Socket.IO v4" in response.text[:200]


async def test_missing_node_modules_answer_503(
    web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(static_files, "SOCKET_IO_DIST", tmp_path / "missing")
    response = await web.get("/vendor/socket.io.js")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "WEB_DEPS_MISSING"
    assert "scripts/setup-web.sh" in error["message"]


async def test_the_api_keeps_its_own_errors(web: httpx.AsyncClient, app: FastAPI) -> None:
    missing = await web.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    wrong_method = await web.get("/api/v1/calls/some-id/connect")
    assert wrong_method.status_code == 405
    assert (await web.post("/ai-call.js")).status_code == 405
    assert not any(
        path.startswith(("/ai-call", "/vendor", "/meetings")) or path == "/"
        for path in app.openapi()["paths"]
    )
