"""The interactive API docs at `/api/docs`: Swagger UI, with its script, style and icon served by
the app itself from swagger-ui-dist (`static_files`), not from a CDN, so that the page works
offline. The online validator badge is off too (it would call validator.swagger.io). Without
`web/node_modules/` the page answers 503 saying what to run; the schema itself is always at
`/api/openapi.json`.

The page is Parley's own rather than FastAPI's `get_swagger_ui_html`, whose inline `<script>`
the Content-Security-Policy (`security_headers`) forbids: Swagger UI is started by
`static/api-docs.js`, which reads the schema's address from the page.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from parley.web import static_files

API_DOCS_PATH = "/api/docs"
SWAGGER_UI = static_files.SWAGGER_UI_PATH
STARTER = "/api-docs.js"  # static/api-docs.js

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="{swagger_ui}/swagger-ui.css">
  <link rel="icon" href="{swagger_ui}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
  <script src="{swagger_ui}/swagger-ui-bundle.js"></script>
  <script src="{starter}"></script>
</body>
</html>
"""


def mount_api_docs(app: FastAPI) -> None:
    """Adds the docs page (hidden from the schema); the app is made with `docs_url=None`."""
    html = PAGE.format(
        title=escape(f"{app.title} API"),
        swagger_ui=SWAGGER_UI,
        openapi_url=escape(app.openapi_url or "/api/openapi.json"),
        starter=STARTER,
    )

    async def docs(_: Request) -> Response:
        if not (static_files.vendor_dist("swagger-ui-dist") / "swagger-ui-bundle.js").is_file():
            return static_files.web_deps_missing("swagger-ui-dist")
        return HTMLResponse(html)

    app.add_route(API_DOCS_PATH, docs, methods=["GET", "HEAD"], include_in_schema=False)
