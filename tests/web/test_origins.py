"""Which browser origins may use REST and Socket.IO: the server's own always; in development,
pages served from this machine (another port, a file); in production only what `CORS_ORIGIN`
lists. Checked with preflights against the app, with real Socket.IO connections (websocket
and polling) that carry an `Origin` header, as a browser's do, and with raw Engine.IO handshakes
(a bare websocket, bare polling requests) on both namespaces, as a page of another site or a
hand-written client would make them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from parley.config import Settings
from parley.web.origins import OriginPolicy
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app

SECRET = {"token_secret": "a-test-secret-that-is-long-enough-0123456789"}


def settings(
    tmp_path: Path, env: str = "development", origins: list[str] | None = None
) -> Settings:
    server = {"app_env": env, "cors_origins": origins or [], "operator_api_key": "o" * 32}
    return make_settings(tmp_path, server=server, meetings=SECRET, **IDLE_AI)


@pytest.mark.parametrize(
    ("env", "origins", "allowed", "refused"),
    [
        (
            "development",
            [],
            ["http://localhost:5500", "http://127.0.0.1:8080", "null", "http://[::1]:3001"],
            ["https://evil.example", "http://localhost.evil.example", "http://127.0.0.1.nip.io"],
        ),
        ("test", [], ["http://localhost:5500"], ["https://evil.example"]),
        ("production", [], [], ["http://localhost:5500", "null", "https://evil.example"]),
        (
            "production",
            ["https://app.example"],
            ["https://app.example"],
            ["http://localhost:5500", "https://evil.example", "null"],
        ),
        (
            "development",
            ["https://app.example"],
            ["https://app.example"],
            ["http://localhost:5500", "https://evil.example"],
        ),
        ("development", ["*"], ["https://anyone.example", "http://localhost:1"], []),
    ],
)
def test_the_policy(
    tmp_path: Path, env: str, origins: list[str], allowed: list[str], refused: list[str]
) -> None:
    policy = OriginPolicy.from_settings(settings(tmp_path, env, origins))
    assert [o for o in allowed if not policy.allows(o)] == []
    assert [o for o in refused if policy.allows(o)] == []


@asynccontextmanager
async def server(config: Settings) -> AsyncIterator[str]:
    async with serve_app(config) as (base, _):
        yield base


async def preflight(base: str, origin: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.options(
            "/api/v1/calls",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )


async def socket_connects(base: str, origin: str | None, transport: str) -> bool:
    client = socketio.AsyncClient(reconnection=False)
    headers = {"Origin": origin} if origin else {}
    try:
        await client.connect(
            base,
            namespaces=["/signaling"],
            transports=[transport],
            headers=headers,
            wait_timeout=5,
        )
        await client.eio.disconnect(abort=True)  # a long poll would otherwise run to its end
    except socketio.exceptions.ConnectionError:
        return False
    finally:
        if client.eio.http is not None:
            await client.eio.http.close()
    return True


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_own_pages_keep_socketio_when_cors_origin_lists_another_site(
    tmp_path: Path, transport: str
) -> None:
    async with server(settings(tmp_path, "production", ["https://app.example"])) as base:
        assert await socket_connects(base, base, transport)  # the server's own page
        assert await socket_connects(base, "https://app.example", transport)
        assert not await socket_connects(base, "https://evil.example", transport)
        assert not await socket_connects(base, "http://localhost:5500", transport)
        assert await socket_connects(base, None, transport)  # not a browser: no Origin
        allowed = await preflight(base, "https://app.example")
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = await preflight(base, "https://evil.example")
        assert "access-control-allow-origin" not in refused.headers


async def test_development_lets_a_page_from_another_port_or_a_file_in(tmp_path: Path) -> None:
    async with server(settings(tmp_path)) as base:
        for origin in ("http://localhost:5500", "null"):
            assert await socket_connects(base, origin, "websocket"), origin
            answer = await preflight(base, origin)
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == origin
            async with httpx.AsyncClient(base_url=base) as http:
                created = await http.post(
                    "/api/v1/calls",
                    json={"callerNumber": "01012345678"},
                    headers={"origin": origin},
                )
            assert created.status_code == 201
            assert created.headers["access-control-allow-origin"] == origin
        assert not await socket_connects(base, "https://evil.example", "websocket")
        evil = await preflight(base, "https://evil.example")
        assert "access-control-allow-origin" not in evil.headers


async def test_production_allows_only_its_own_origin_by_default(tmp_path: Path) -> None:
    async with server(settings(tmp_path, "production")) as base:
        assert await socket_connects(base, base, "websocket")
        assert not await socket_connects(base, "http://localhost:5500", "websocket")
        answer: Any = await preflight(base, "http://localhost:5500")
        assert "access-control-allow-origin" not in answer.headers


async def test_engineio_requests_without_an_origin_are_served(tmp_path: Path) -> None:
    """A same-origin GET carries no Origin header (a browser's long-polling handshake): it must
    be served, under every policy."""
    for config in (settings(tmp_path), settings(tmp_path, "production", ["https://app.example"])):
        async with server(config) as base, httpx.AsyncClient(base_url=base) as http:
            handshake = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert handshake.status_code == 200, handshake.text
            assert '"sid"' in handshake.text
            assert "access-control-allow-origin" not in handshake.headers
            own = await http.get(
                "/socket.io/",
                params={"EIO": "4", "transport": "polling"},
                headers={"origin": base},
            )
            assert own.status_code == 200, own.text
            assert own.headers["access-control-allow-origin"] == base


# -- raw Engine.IO handshakes, as a page of another site would make them ------------------------

EVIL = "https://evil.example"


async def raw_websocket(base: str, origin: str | None, namespace: str) -> bool:
    """Engine.IO over a bare websocket with this `Origin` (none: a native client), then a
    Socket.IO CONNECT to `namespace`: whether the namespace answered it. A refused handshake
    is an HTTP error before the upgrade (uvicorn turns Engine.IO's 400 into a 403)."""
    url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    try:
        async with connect(url, origin=Origin(origin) if origin else None) as ws:
            opened = str(await ws.recv())
            await ws.send(f"40{namespace},")
            answer = str(await ws.recv())
    except InvalidStatus as refused:
        status = refused.response.status_code
    else:
        return opened.startswith('0{"sid":') and answer.startswith(f'40{namespace},{{"sid":')
    assert status in (400, 403)
    return False


async def raw_polling(base: str, origin: str | None, namespace: str) -> bool:
    """The same over long-polling: the handshake, a CONNECT posted, the answer polled."""
    headers = {"Origin": origin} if origin else {}
    query = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        opened = await http.get("/socket.io/", params=query)
        if opened.status_code != 200:
            assert opened.status_code == 400
            return False
        query["sid"] = json.loads(opened.text[1:])["sid"]
        posted = await http.post("/socket.io/", params=query, content=f"40{namespace},")
        assert posted.status_code == 200, posted.text
        return (await http.get("/socket.io/", params=query)).text.startswith(f"40{namespace},")


RAW = {"websocket": raw_websocket, "polling": raw_polling}


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_raw_handshakes_from_another_site_are_refused_on_both_namespaces(
    tmp_path: Path, env: str, transport: str
) -> None:
    handshake = RAW[transport]
    async with server(settings(tmp_path, env)) as base:
        for namespace in ("/signaling", "/meetings"):
            assert not await handshake(base, EVIL, namespace), (namespace, "evil")
            assert not await handshake(base, "null" if env == "production" else EVIL, namespace)
            assert await handshake(base, base, namespace), (namespace, "own origin")
            assert await handshake(base, None, namespace), (namespace, "native client")
            assert await handshake(base, "http://localhost:5500", namespace) is (
                env == "development"
            )


async def test_a_session_opened_without_an_origin_refuses_another_sites_requests(
    tmp_path: Path,
) -> None:
    """Another site cannot ride a session a native client (or a `<script>`) opened: every
    Engine.IO request is checked, not only the handshake. JSONP polling (which a `<script>` of
    any site could read) is not served at all."""
    async with (
        server(settings(tmp_path, "production")) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        query = {"EIO": "4", "transport": "polling"}
        opened = await http.get("/socket.io/", params=query)
        query["sid"] = json.loads(opened.text[1:])["sid"]
        evil = {"Origin": EVIL}
        posted = await http.post("/socket.io/", params=query, content="40/meetings,", headers=evil)
        assert posted.status_code == 400
        polled = await http.get("/socket.io/", params=query, headers=evil)
        assert polled.status_code == 400
        jsonp = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling", "j": "0"})
        assert jsonp.status_code == 400
        assert "JSONP" in jsonp.text
