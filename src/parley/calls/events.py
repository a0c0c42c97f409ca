"""What a live call reports as it goes, as typed events, and the one port it reports them to.

    Transcribed   a line of the transcript: the caller's or the AI's, as it grows and when final
    TurnTimed     a reply's stage latencies (`Stage`) and its two instants on the server's clock
    MoodFound     the caller's sentiment in a turn
    StatusChanged the call's status moved (with the reason of a failure)
    Trouble       something failed (a provider, storage): the call goes on or ends, as it says
    SpokenReply   the reply as a WAV, for clients of the original API (`ai-audio-response`)

The call knows nothing of Socket.IO or of camelCase: `parley.web.call_publisher` turns these
into the `/signaling` payloads. A test, or another transport, implements `CallEvents` alone.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from parley.ai.base import Language, SentimentScore
from parley.calls.domain import CallStatus, Stages
from parley.errors import ParleyError


class Speaker(enum.StrEnum):
    CALLER = "caller"
    AI = "ai"


@dataclass(frozen=True, slots=True)
class Transcribed:
    """`interrupted` is told on the AI's final lines only (None elsewhere); `carried` marks a
    caller line taken back because its words go on into the caller's next turn."""

    call_id: uuid.UUID
    turn: int
    speaker: Speaker
    text: str
    final: bool
    language: Language
    interrupted: bool | None = None
    carried: bool = False


@dataclass(frozen=True, slots=True)
class TurnTimed:
    """`speech_ended_at` and `first_audio_at` are `time.monotonic()` instants."""

    call_id: uuid.UUID
    turn: int
    stages: Stages
    speech_ended_at: float
    first_audio_at: float | None


@dataclass(frozen=True, slots=True)
class MoodFound:
    call_id: uuid.UUID
    turn: int
    mood: SentimentScore


@dataclass(frozen=True, slots=True)
class StatusChanged:
    call_id: uuid.UUID
    status: CallStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Trouble:
    error: ParleyError


@dataclass(frozen=True, slots=True)
class SpokenReply:
    wav: bytes
    at: datetime


CallEvent = Transcribed | TurnTimed | MoodFound | StatusChanged | Trouble | SpokenReply


class CallEvents(Protocol):
    """Where a live call reports (for `/signaling`: the one connection holding its session)."""

    async def report(self, event: CallEvent) -> None: ...
