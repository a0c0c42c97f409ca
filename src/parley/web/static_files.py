"""The web pages: every file of `static/` at `/<name>` (`/ai-call-test.html`, `/ai-call.js`, ...),
the meetings home (`index.html`) at `/`, the meeting page (`meeting.html`) at `/meetings/{id}`,
and socket.io-client, installed from npm by `scripts/setup-web.sh`, at `/vendor/socket.io.js`.

Each file gets its own exact route (hidden from the OpenAPI schema) rather than a mount at `/`,
so the API keeps its own 404 and 405 answers. Starlette's `StaticFiles` does the serving (ETag,
`304 Not Modified`, HEAD); `Cache-Control: no-cache` makes browsers revalidate, so an edited page
shows at once. Without `web/node_modules/` the vendor file answers 503 saying what to run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from parley.web.envelope import error_response

STATIC_DIR = Path(__file__).resolve().parent / "static"
REPO_ROOT = Path(__file__).resolve().parents[3]  # src/parley/web/static_files.py
SOCKET_IO_DIST = REPO_ROOT / "web" / "node_modules" / "socket.io-client" / "dist"
SOCKET_IO_FILE = "socket.io.esm.min.js"
SOCKET_IO_PATH = "/vendor/socket.io.js"
HOME_PAGE = "index.html"
MEETING_PAGE = "meeting.html"
MEETING_PATH = "/meetings/{meeting_id}"

Endpoint = Callable[[Request], Awaitable[Response]]


def mount_static(app: FastAPI) -> None:
    """Adds a GET/HEAD route for each file in `static/` and one for the socket.io client; `/`
    is the meetings home and `/meetings/{id}` the meeting page (which looks the meeting up)."""
    pages = StaticFiles(directory=STATIC_DIR)
    _add(app, "/", _serve(pages, HOME_PAGE))
    _add(app, MEETING_PATH, _serve(pages, MEETING_PAGE))
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            _add(app, f"/{path.name}", _serve(pages, path.name))
    _add(app, SOCKET_IO_PATH, _serve_socket_io)


def _add(app: FastAPI, path: str, endpoint: Endpoint) -> None:
    app.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)


def _serve(files: StaticFiles, name: str) -> Endpoint:
    async def serve(request: Request) -> Response:
        response = await files.get_response(name, request.scope)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve


async def _serve_socket_io(request: Request) -> Response:
    if not (SOCKET_IO_DIST / SOCKET_IO_FILE).is_file():
        return error_response(
            503,
            "WEB_DEPS_MISSING",
            "socket.io-client is not installed: run scripts/setup-web.sh "
            "(npm ci in web/) and reload the page.",
        )
    return await _serve(StaticFiles(directory=SOCKET_IO_DIST), SOCKET_IO_FILE)(request)
