"""The interactive API docs at `/api/docs`: FastAPI's Swagger UI page, with Swagger UI's script,
style and icon served by the app itself from swagger-ui-dist (`static_files`), not from a CDN,
so that the page works offline. The online validator badge is off too (it would call
validator.swagger.io). Without `web/node_modules/` the page answers 503 saying what to run; the
schema itself is always at `/api/openapi.json`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response

from parley.web import static_files

API_DOCS_PATH = "/api/docs"
SWAGGER_UI = static_files.SWAGGER_UI_PATH


def mount_api_docs(app: FastAPI) -> None:
    """Adds the docs page (hidden from the schema); the app is made with `docs_url=None`."""
    openapi_url = app.openapi_url or "/api/openapi.json"
    title = f"{app.title} API"

    async def docs(_: Request) -> Response:
        if not (static_files.vendor_dist("swagger-ui-dist") / "swagger-ui-bundle.js").is_file():
            return static_files.web_deps_missing("swagger-ui-dist")
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_route(API_DOCS_PATH, docs, methods=["GET", "HEAD"], include_in_schema=False)
