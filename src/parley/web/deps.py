"""FastAPI dependencies, as `Annotated` aliases so that route signatures read as documentation.

Each reads the app's typed `Services` (`app.state.services`, set once by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.calls.conversation import ConversationService
from parley.calls.live import LiveCalls
from parley.calls.service import CallService
from parley.config import Settings
from parley.meetings.service import MeetingService
from parley.storage.db import Database
from parley.web.services import Services, services_of, shell_of


def _services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(_services)]


def _settings(request: Request) -> Settings:
    """From the app's shell: the settings are there before the lifespan opens anything."""
    return shell_of(request.app).settings


def _calls(services: ServicesDep) -> CallService:
    return services.calls


def _conversation(services: ServicesDep) -> ConversationService:
    return services.conversation


def _live(services: ServicesDep) -> LiveCalls:
    return services.live


def _database(services: ServicesDep) -> Database:
    return services.database


SettingsDep = Annotated[Settings, Depends(_settings)]
CallsDep = Annotated[CallService, Depends(_calls)]
DatabaseDep = Annotated[Database, Depends(_database)]
ConversationDep = Annotated[ConversationService, Depends(_conversation)]
LiveCallsDep = Annotated[LiveCalls, Depends(_live)]


def _meetings(services: ServicesDep) -> MeetingService:
    return services.meetings


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="hostToken",
    description="The `hostToken` that creating the meeting answered.",
)


def _host_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials is not None else None


MeetingsDep = Annotated[MeetingService, Depends(_meetings)]
HostTokenDep = Annotated[str | None, Depends(_host_token)]
