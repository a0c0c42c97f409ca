"""What the app is made of, typed: `AppShell` (decided when the app is built) and `Services` (what
its lifespan opened), instead of an untyped `app.state` bag.

`create_app` puts the shell on `app.state.shell`; the lifespan opens the parts and puts one
frozen `Services` on `app.state.services`, which `deps.py` and the routes read. Both are set
once, and nothing else is written to `app.state`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from parley.ai.engine import AIEngine
from parley.calls.conversation import ConversationService
from parley.calls.live import LiveCalls
from parley.calls.service import CallService
from parley.config import Settings
from parley.janus import Janus
from parley.meetings.assistant import MeetingAssistant
from parley.meetings.media import MeetingMedia
from parley.meetings.service import MeetingService
from parley.observability import Metrics
from parley.storage.db import Database

if TYPE_CHECKING:
    from parley.web.meeting_socket import MeetingsNamespace
    from parley.web.packets import ParleySocketServer


@dataclass(slots=True)
class AppShell:
    """What `create_app`/`create_asgi_app` decide before the lifespan runs. `sockets` is set by
    `create_asgi_app` only (the HTTP app alone has no Socket.IO)."""

    settings: Settings
    shared_engine: AIEngine | None  # passed in: shared, left open at shutdown
    sockets: Sockets | None = None


@dataclass(frozen=True, slots=True)
class Sockets:
    server: ParleySocketServer
    meetings: MeetingsNamespace


@dataclass(frozen=True, slots=True)
class Services:
    """Every part the lifespan opened, for the requests and sockets of this app."""

    settings: Settings
    database: Database
    engine: AIEngine
    janus: Janus | None  # None when disabled or when it could not start
    calls: CallService
    conversation: ConversationService
    live: LiveCalls
    meetings: MeetingService
    media: MeetingMedia
    assistant: MeetingAssistant
    warming: asyncio.Task[None]  # the calls' prompts read into the LLM after start-up
    metrics: Metrics  # this run's registry for `/metrics`
    sockets: Sockets | None

    @property
    def models_warming(self) -> bool:
        return not self.warming.done()


def shell_of(app: FastAPI) -> AppShell:
    shell: AppShell = app.state.shell
    return shell


def services_of(connection: HTTPConnection) -> Services:
    """The running app's services (only while its lifespan runs: requests never come outside)."""
    services: Services = connection.app.state.services
    return services
