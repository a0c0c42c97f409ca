"""Which browser origins may use the API and Socket.IO: one policy for HTTP and Socket.IO alike.

- The server's own origin is always allowed (its own pages must never lose their Socket.IO
  connection because `CORS_ORIGIN` lists other sites).
- `CORS_ORIGIN` lists further origins, or `*` for any (refused in production by the settings).
- Without `CORS_ORIGIN`, development (and test) allows pages served from this machine: any port
  of `localhost`, `127.x.x.x` or `[::1]`, and `null` (a page opened as a file), so that a client
  written for the original system, served by another dev server or opened from disk, works as it
  did there; a page of any other site is refused. Production allows its own origin only until
  `CORS_ORIGIN` lists more.

Nothing here grants more than a plain HTTP client already has (the API sets no cookies): the
policy only keeps other sites' pages, in a visitor's browser, off this server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from parley.config import AppEnv, Settings

LOOPBACK = re.compile(r"https?://(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?")


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    origins: frozenset[str] = frozenset()
    any_origin: bool = False
    loopback: bool = False  # pages served from this machine, and files (origin `null`)

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        listed = settings.server.cors_origins
        development = settings.server.app_env is not AppEnv.PRODUCTION
        return cls(
            origins=frozenset(o.rstrip("/") for o in listed if o != "*"),
            any_origin="*" in listed,
            loopback=development and not listed,
        )

    @property
    def cross_origin(self) -> bool:
        """Whether any origin but the server's own is allowed."""
        return bool(self.origins) or self.any_origin or self.loopback

    def allows(self, origin: str) -> bool:
        if self.any_origin or origin in self.origins:
            return True
        return self.loopback and (origin == "null" or LOOPBACK.fullmatch(origin) is not None)

    def socketio(self) -> Callable[[str | None, Mapping[str, Any]], bool]:
        """python-socketio's `cors_allowed_origins` check: this policy, plus the server's own
        origin as the request names it (as Engine.IO's same-origin default does)."""

        def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
            # Engine.IO also asks with no Origin (a same-origin GET has none) and, should this
            # raise TypeError, asks again with one argument: never raise.
            if not origin:
                return False
            return self.allows(origin) or origin in own_origins(environ)

        return allowed


def own_origins(environ: Mapping[str, Any]) -> set[str]:
    host = environ.get("HTTP_HOST")
    if not host:
        return set()
    scheme = environ.get("wsgi.url_scheme", "http")
    origins = {f"{scheme}://{host}"}
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO")
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST")
    if forwarded_proto or forwarded_host:
        proto = (forwarded_proto or scheme).split(",")[0].strip()
        origins.add(f"{proto}://{(forwarded_host or host).split(',')[0].strip()}")
    return origins


class PolicyCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling (preflights, `Vary`, exposed headers), deciding by the policy."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        super().__init__(
            app,
            allow_origins=["*"] if policy.any_origin else [],
            allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
        self.policy = policy

    def is_allowed_origin(self, origin: str) -> bool:
        return self.policy.allows(origin)
