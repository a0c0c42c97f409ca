"""Security headers on every HTTP response, the pages' and the API's alike.

The Content-Security-Policy is one the pages satisfy as they are (every script and style is a
file of this server; `tests/web/test_security_headers.py` opens each page in Chromium and fails
on any violation):

- `default-src 'self'`, and `script-src`/`style-src` `'self'` with no `'unsafe-inline'` or
  `'unsafe-eval'`: an injected `<script>` or `onclick=` does not run. Scripts may still set
  `element.style` (the CSSOM is not inline style).
- `connect-src 'self'`: REST and Socket.IO, polling and websocket (`'self'` covers `ws:`/`wss:`
  of the page's own host in CSP 3, which Chromium and Firefox implement).
- `img-src 'self' data: blob:` (the stylesheets' SVG arrows are `data:` URLs) and
  `media-src 'self' blob: mediastream:` (camera previews and WebRTC streams).
- `object-src 'none'`, `base-uri 'none'`, `form-action 'self'`, `frame-ancestors 'none'`
  (with `X-Frame-Options: DENY` for older browsers): no plugins, no `<base>` hijack, forms post
  only here, and no other site may frame a page (clickjacking a host's "end meeting").

`Referrer-Policy: no-referrer`: a meeting's address is enough to join it when it has no PIN, so
no request, to this server or any other, carries the page's address (nothing here reads the
`Referer`). `Permissions-Policy` gives camera, microphone and screen capture to this origin's
pages only (never to a frame), and geolocation, payment and USB to none.

A header a route set itself is kept. Plain ASGI, so streaming bodies and websockets pass
through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
        "geolocation=()",
        "payment=()",
        "usb=()",
    ]
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode(), value.encode())
    for name, value in (
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("permissions-policy", PERMISSIONS_POLICY),
    )
)


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in SECURITY_HEADERS if name not in present]
