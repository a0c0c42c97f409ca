"""The web pages: every file of `static/` at `/<path>` (`/ai-call-test.html`, `/lib/api.js`, ...),
the meetings home (`index.html`) at `/`, the meeting page (`meeting.html`) at `/meetings/{id}`,
and the npm packages `scripts/setup-web.sh` installs in `web/node_modules/`:
- socket.io-client's ESM build, which Parley's pages import, at `/vendor/socket.io.js`;
- its UMD build (the global `io`) at `/vendor/socket.io.min.js`, and at `/socket.io/socket.io.js`,
  where a Node.js Socket.IO server serves it, so that a page written for the original system
  works unchanged (`SocketIOWithClient` keeps that path from the Socket.IO server);
- swagger-ui-dist's files under `/vendor/swagger-ui/`, for the API docs page (`api_docs.py`).

Each file gets its own exact route (hidden from the OpenAPI schema) rather than a mount at `/`,
so the API keeps its own 404 and 405 answers. Starlette's `StaticFiles` does the serving (ETag,
`304 Not Modified`, HEAD); `Cache-Control: no-cache` makes browsers revalidate, so an edited page
shows at once. Without `web/node_modules/` a vendor file answers 503 saying what to run.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import socketio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from parley.web.envelope import error_response
from parley.web.packets import EngineIOGuard, ParleySocketServer
from parley.web.security_headers import SecurityHeadersMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"
REPO_ROOT = Path(__file__).resolve().parents[3]  # src/parley/web/static_files.py
SOCKET_IO_DIST = REPO_ROOT / "web" / "node_modules" / "socket.io-client" / "dist"
SOCKET_IO_FILE = "socket.io.esm.min.js"
SOCKET_IO_PATH = "/vendor/socket.io.js"
SOCKET_IO_GLOBAL_FILE = "socket.io.min.js"
SOCKET_IO_GLOBAL_PATHS = ("/vendor/socket.io.min.js", "/socket.io/socket.io.js")
SWAGGER_UI_DIST = REPO_ROOT / "web" / "node_modules" / "swagger-ui-dist"
SWAGGER_UI_PATH = "/vendor/swagger-ui"
SWAGGER_UI_FILES = (
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "favicon-32x32.png",
)
# (path, npm package, file of its dist directory); each file's source map sits beside it, where
# the file's `sourceMappingURL` (relative) points.
VENDOR_FILES = (
    (SOCKET_IO_PATH, "socket.io-client", SOCKET_IO_FILE),
    ("/vendor/socket.io.esm.min.js.map", "socket.io-client", SOCKET_IO_FILE + ".map"),
    *((path, "socket.io-client", SOCKET_IO_GLOBAL_FILE) for path in SOCKET_IO_GLOBAL_PATHS),
    *(
        (f"{folder}/socket.io.min.js.map", "socket.io-client", "socket.io.min.js.map")
        for folder in ("/vendor", "/socket.io")
    ),
    *((f"{SWAGGER_UI_PATH}/{name}", "swagger-ui-dist", name) for name in SWAGGER_UI_FILES),
)
HOME_PAGE = "index.html"
MEETING_PAGE = "meeting.html"
MEETING_PATH = "/meetings/{meeting_id}"

Endpoint = Callable[[Request], Awaitable[Response]]


def mount_static(app: FastAPI) -> None:
    """Adds a GET/HEAD route for each file in `static/` and each vendor file; `/` is the
    meetings home and `/meetings/{id}` the meeting page (which looks the meeting up)."""
    pages = StaticFiles(directory=STATIC_DIR)
    _add(app, "/", _serve(pages, HOME_PAGE))
    _add(app, MEETING_PATH, _serve(pages, MEETING_PAGE))
    for path in sorted(STATIC_DIR.rglob("*")):
        relative = path.relative_to(STATIC_DIR)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            name = relative.as_posix()
            _add(app, f"/{name}", _serve(pages, name))
    for url, package, name in VENDOR_FILES:
        _add(app, url, _serve_vendor(package, name))


def _add(app: FastAPI, path: str, endpoint: Endpoint) -> None:
    app.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)


def _serve(files: StaticFiles, name: str) -> Endpoint:
    async def serve(request: Request) -> Response:
        response = await files.get_response(name, request.scope)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve


def vendor_dist(package: str) -> Path:
    """Where an npm package's served files are; read at each request, so tests can move it."""
    return {"socket.io-client": SOCKET_IO_DIST, "swagger-ui-dist": SWAGGER_UI_DIST}[package]


def web_deps_missing(package: str) -> Response:
    return error_response(
        503,
        "WEB_DEPS_MISSING",
        f"{package} is not installed: run scripts/setup-web.sh (npm ci in web/) "
        "and reload the page.",
    )


def _serve_vendor(package: str, name: str) -> Endpoint:
    async def serve(request: Request) -> Response:
        dist = vendor_dist(package)
        if not (dist / name).is_file():
            return web_deps_missing(package)
        return await _serve(StaticFiles(directory=dist), name)(request)

    return serve


class SocketIOWithClient(socketio.ASGIApp):  # type: ignore[misc]  # socketio is untyped
    """`socketio.ASGIApp`, except that HTTP requests for the client files a Node.js Socket.IO
    server serves under its own path (`/socket.io/socket.io.js` and its map) go to the HTTP app.

    python-socketio's own `static_files` option cannot do it: engineio's `ASGIApp.__call__` hands
    every request under `/socket.io/` to the Engine.IO server (which answers 400 for a file)
    before it looks at `static_files` or `other_asgi_app`. Taking these exact paths first also
    serves them like every other file (ETag, 304, HEAD, the 503 when node_modules is missing);
    Engine.IO's own requests are all `/socket.io/?EIO=...`, so none is taken from it.

    Engine.IO's requests pass `packets.EngineIOGuard` (malformed frames and bodies never reach
    the library), and every HTTP response gets the security headers (the HTTP app adds them
    too, for when it runs alone; a header already there is kept).
    """

    CLIENT_PATHS = frozenset(path for path, *_ in VENDOR_FILES if path.startswith("/socket.io/"))

    def __init__(self, server: ParleySocketServer, other_asgi_app: ASGIApp) -> None:
        super().__init__(server, other_asgi_app=other_asgi_app)
        engineio = functools.partial(socketio.ASGIApp.__call__, self)
        self._engineio = EngineIOGuard(engineio, server)
        self._with_headers = SecurityHeadersMiddleware(self._route)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._with_headers(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.CLIENT_PATHS:
            await self.other_asgi_app(scope, receive, send)
        elif scope["type"] in ("http", "websocket") and self._is_engineio(scope["path"]):
            await self._engineio(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def _is_engineio(self, path: str) -> bool:
        """python-engineio's own test: the path, with a trailing slash, is under its path."""
        path = path if path.endswith("/") else path + "/"
        return bool(path.startswith(self.engineio_path))
