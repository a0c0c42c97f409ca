"""Payloads of the `/meetings` Socket.IO requests (docs/meetings-protocol.md), camelCase as on
the wire. Text is bounded loosely here (what a socket may carry) and exactly by the domain
(`meetings.domain.clean_text`: `TEXT_TOO_LONG`, `INVALID_TEXT`...), as for the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from parley.web.socket_schemas import IceCandidate, SessionDescription, WireModel

MAX_TEXT = 20_000


class JoinRequest(WireModel):
    meetingId: str = Field(min_length=1, max_length=64)
    displayName: str = Field(min_length=1, max_length=256)
    pin: str | None = Field(None, max_length=32)
    hostToken: str | None = Field(None, max_length=4096)


class PublishRequest(WireModel):
    jsep: SessionDescription
    micOn: bool = True
    cameraOn: bool = True


class AnswerRequest(WireModel):
    jsep: SessionDescription


class TrickleRequest(WireModel):
    target: Literal["publisher", "subscriber"]
    candidate: IceCandidate | None = None


class MediaRequest(WireModel):
    micOn: bool | None = None
    cameraOn: bool | None = None


class QualityRequest(WireModel):
    quality: Literal["auto", "high", "medium", "low"]


class ChatRequest(WireModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class AskRequest(WireModel):
    question: str = Field(min_length=1, max_length=MAX_TEXT)


class TargetRequest(WireModel):
    participantId: str = Field(min_length=1, max_length=64)


class MuteRequest(TargetRequest):
    mute: bool = True
