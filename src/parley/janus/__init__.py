"""Janus, the meetings' SFU, as a part Parley manages.

    Janus                 what the app holds: a server and one connected client
    ├── JanusSupervisor   process.py: runs Debian's `janus` with a generated config, restarts it
    ├── ExternalJanus     a Janus Parley does not run (`JANUS_URL`)
    └── JanusClient       client.py: the Janus API over WebSocket; videoroom.py: room admin

`Janus.open(settings)` starts (or reaches) Janus and connects; `aclose()` undoes it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from parley.config import JanusSettings
from parley.janus.client import JanusClient, JanusEndpoint
from parley.janus.process import JanusSupervisor
from parley.tasks import CloseOnce

log = logging.getLogger("parley.janus")

__all__ = ["ExternalJanus", "Janus", "JanusClient", "JanusEndpoint", "JanusServer"]


class JanusServer(Protocol):
    async def start(self) -> None: ...

    @property
    def restarts(self) -> int:
        """Times Janus was started again after it died (always 0 for one Parley does not run)."""

    async def endpoint(self) -> JanusEndpoint: ...

    async def aclose(self) -> None: ...


class ExternalJanus:
    """A Janus that Parley does not run: `JANUS_URL`, its API secret and VideoRoom admin key."""

    def __init__(self, settings: JanusSettings) -> None:
        assert settings.url is not None
        secret, key = settings.api_secret, settings.admin_key
        self._endpoint = JanusEndpoint(
            settings.url,
            secret.get_secret_value() if secret is not None else None,
            key.get_secret_value() if key is not None else None,
        )

    async def start(self) -> None:
        return None

    @property
    def restarts(self) -> int:
        return 0

    async def endpoint(self) -> JanusEndpoint:
        return self._endpoint

    async def aclose(self) -> None:
        return None


class Janus:
    """A running (or reached) Janus and one client connected to it; a second `aclose()` waits
    for the first."""

    def __init__(self, server: JanusServer, client: JanusClient) -> None:
        self.server = server
        self.client = client
        self._closer = CloseOnce()

    @property
    def restarts(self) -> int:
        return self.server.restarts

    @classmethod
    async def open(cls, settings: JanusSettings) -> Janus:
        server: JanusServer = (
            ExternalJanus(settings) if settings.external else JanusSupervisor(settings)
        )
        await server.start()
        client = JanusClient(server.endpoint, request_timeout=settings.request_timeout_s)
        try:
            await client.connect()
            info = await client.info()
        except BaseException:
            await client.aclose()
            await server.aclose()
            raise
        where = "external" if settings.external else "supervised"
        log.info("connected to %s Janus %s", where, info.get("version_string", "?"))
        return cls(server, client)

    async def aclose(self) -> None:
        await self._closer.run(self._close)

    async def _close(self) -> None:
        await self.client.aclose()
        await self.server.aclose()
