"""FastAPI dependencies, as `Annotated` aliases so that route signatures read as documentation."""

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


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _calls(request: Request) -> CallService:
    service: CallService = request.app.state.calls
    return service


def _conversation(request: Request) -> ConversationService:
    service: ConversationService = request.app.state.conversation
    return service


def _live(request: Request) -> LiveCalls:
    live: LiveCalls = request.app.state.live
    return live


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(_settings)]
CallsDep = Annotated[CallService, Depends(_calls)]
DatabaseDep = Annotated[Database, Depends(_database)]
ConversationDep = Annotated[ConversationService, Depends(_conversation)]
LiveCallsDep = Annotated[LiveCalls, Depends(_live)]


def _meetings(request: Request) -> MeetingService:
    service: MeetingService = request.app.state.meetings
    return service


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
