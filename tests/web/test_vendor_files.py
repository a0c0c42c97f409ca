"""Third-party browser code served by the app from `web/node_modules/` (never a CDN): Swagger UI
for `/api/docs`, and socket.io-client's builds — the ESM one Parley's pages import and the UMD
one (the global `io`) at `/vendor/socket.io.min.js` and at `/socket.io/socket.io.js`, where a
Node.js Socket.IO server serves it, taken from in front of the Socket.IO server while Engine.IO
keeps its own requests. Without node_modules each answers 503 saying what to run."""

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.web import static_files
from parley.web.app import create_asgi_app
from tests.conftest import make_settings

BASE = "http://parley.test"
SWAGGER = static_files.SWAGGER_UI_DIST
SOCKET_IO = static_files.SOCKET_IO_DIST
installed = pytest.mark.skipif(
    not (SWAGGER / "swagger-ui-bundle.js").is_file()
    or not (SOCKET_IO / "socket.io.min.js").is_file(),
    reason="web/node_modules is not installed (scripts/setup-web.sh)",
)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole ASGI app the server runs: Socket.IO in front of the HTTP app."""
    transport = httpx.ASGITransport(app=create_asgi_app(make_settings(tmp_path)))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@installed
@pytest.mark.parametrize(
    ("path", "media_type", "source"),
    [
        ("/vendor/swagger-ui/swagger-ui-bundle.js", "javascript", SWAGGER / "swagger-ui-bundle.js"),
        ("/vendor/swagger-ui/swagger-ui.css", "text/css", SWAGGER / "swagger-ui.css"),
        ("/vendor/swagger-ui/favicon-32x32.png", "image/png", SWAGGER / "favicon-32x32.png"),
        ("/vendor/socket.io.js", "javascript", SOCKET_IO / "socket.io.esm.min.js"),
        ("/vendor/socket.io.min.js", "javascript", SOCKET_IO / "socket.io.min.js"),
        ("/socket.io/socket.io.js", "javascript", SOCKET_IO / "socket.io.min.js"),
        ("/socket.io/socket.io.min.js.map", "", SOCKET_IO / "socket.io.min.js.map"),
    ],
)
async def test_vendor_files_are_the_installed_packages_files(
    web: httpx.AsyncClient, path: str, media_type: str, source: Path
) -> None:
    response = await web.get(path)
    assert response.status_code == 200, response.text[:200]
    assert media_type in response.headers["content-type"]
    assert response.content == await asyncio.to_thread(source.read_bytes)
    again = await web.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_engine_io_keeps_its_own_requests(web: httpx.AsyncClient) -> None:
    """The client path is taken exactly; the rest of `/socket.io/` is still Engine.IO."""
    handshake = await web.get(
        "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Origin": BASE}
    )
    assert handshake.status_code == 200, handshake.text
    assert handshake.text.startswith('0{"sid":')
    other = await web.get("/socket.io/socket.io.msgpack.min.js", headers={"Origin": BASE})
    assert other.status_code == 400  # Engine.IO's answer to a request that is not its protocol


@installed
async def test_the_docs_page_uses_only_the_apps_own_files(web: httpx.AsyncClient) -> None:
    response = await web.get("/api/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    assert "//" not in re.sub(r"<!--.*?-->", "", html)  # no protocol-relative URL either
    assert '<script src="/vendor/swagger-ui/swagger-ui-bundle.js">' in html
    assert 'href="/vendor/swagger-ui/swagger-ui.css"' in html
    assert 'data-openapi-url="/api/openapi.json"' in html
    assert '<script src="/api-docs.js">' in html  # no inline script: the CSP forbids it
    assert "<script>" not in html
    starter = (await web.get("/api-docs.js")).text
    assert "validatorUrl: null" in starter  # no badge fetched from validator.swagger.io
    schema = (await web.get("/api/openapi.json")).json()
    assert not any(p.startswith(("/api/docs", "/vendor", "/socket.io")) for p in schema["paths"])


@pytest.mark.parametrize(
    "path", ["/api/docs", "/vendor/swagger-ui/swagger-ui.css", "/socket.io/socket.io.js"]
)
async def test_missing_node_modules_answer_503(
    web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    monkeypatch.setattr(static_files, "SWAGGER_UI_DIST", tmp_path / "missing")
    monkeypatch.setattr(static_files, "SOCKET_IO_DIST", tmp_path / "missing")
    response = await web.get(path)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "WEB_DEPS_MISSING"
    assert "scripts/setup-web.sh" in error["message"]
