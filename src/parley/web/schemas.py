"""Request and response bodies of the REST API, in the original system's camelCase.

Times are written as JavaScript's `Date.toISOString()` writes them (`2024-12-14T10:00:00.000Z`),
so clients of the original API parse them unchanged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from parley.calls.domain import Call, CallStatus, Turn
from parley.calls.phone import MAX_INPUT_LENGTH


def _iso(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    Field(examples=["2024-12-14T10:00:00.000Z"]),
]


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


# --- requests ---------------------------------------------------------------------------------


class CallCreate(Schema):
    """Start a call. Unknown fields are ignored, as the original API did."""

    caller_number: str = Field(min_length=1, max_length=MAX_INPUT_LENGTH, examples=["01012345678"])
    receiver_number: str | None = Field(None, max_length=MAX_INPUT_LENGTH, examples=["01087654321"])


# --- responses --------------------------------------------------------------------------------


class IceServer(Schema):
    urls: str


class RtcConfig(Schema):
    ice_servers: list[IceServer]
    ice_candidate_pool_size: int
    ice_transport_policy: str
    bundle_policy: str = "max-bundle"
    rtcp_mux_policy: str = "require"


class RtcConfigData(Schema):
    config: RtcConfig


class CallPublic(Schema):
    id: uuid.UUID
    session_id: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="The caller's secret for `/signaling`: in the answer to `POST /calls` and "
        "to operators only (see `parley.web.access`).",
    )
    caller_number: str = Field(description="As Koreans write it (01012345678), else E.164.")
    caller_number_e164: str
    receiver_number: str | None = None
    status: CallStatus
    created_at: Timestamp
    updated_at: Timestamp
    connected_at: Timestamp | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    duration_seconds: float | None = None
    failure_reason: str | None = None

    @classmethod
    def of(cls, call: Call, *, with_session: bool = False) -> CallPublic:
        """`with_session` for the call's creator and for operators only."""
        return cls(
            id=call.id,
            session_id=call.session_id if with_session else None,
            caller_number=call.caller.national,
            caller_number_e164=call.caller.e164,
            receiver_number=call.receiver.national if call.receiver else None,
            status=call.status,
            created_at=call.created_at,
            updated_at=call.updated_at,
            connected_at=call.connected_at,
            started_at=call.started_at,
            ended_at=call.ended_at,
            duration_seconds=call.duration_seconds,
            failure_reason=call.failure_reason,
        )


class CallData(Schema):
    call: CallPublic


class Pagination(Schema):
    page: int
    page_size: int
    total: int
    total_pages: int


class CallList(Schema):
    calls: list[CallPublic]
    pagination: Pagination


class SentimentPublic(Schema):
    sentiment: str = Field(examples=["neutral"])
    score: float = Field(ge=0, le=1, examples=[0.5])


class TurnPublic(Schema):
    index: int
    role: str
    text: str
    language: str | None = None
    sentiment: SentimentPublic | None = None
    started_at: Timestamp
    ended_at: Timestamp | None = None
    latency_ms: dict[str, Any] | None = None

    @classmethod
    def of(cls, turn: Turn) -> TurnPublic:
        sentiment = None
        if turn.sentiment is not None and turn.sentiment_score is not None:
            sentiment = SentimentPublic(sentiment=turn.sentiment.value, score=turn.sentiment_score)
        return cls(
            index=turn.index,
            role=turn.role.value,
            text=turn.text,
            language=turn.language,
            sentiment=sentiment,
            started_at=turn.started_at,
            ended_at=turn.ended_at,
            latency_ms=turn.latency_ms,
        )


class ConversationData(Schema):
    call_id: uuid.UUID
    status: CallStatus
    turns: list[TurnPublic]


class ConversationPublic(Schema):
    user_message: str = Field(description="What the caller said; empty when no speech was heard.")
    ai_response: str
    sentiment: SentimentPublic | None = None
    timestamp: Timestamp
    language: str = Field(examples=["ko"])
    latency_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Milliseconds from the start to the end of each stage: `vad`, `stt`, "
        "`llm_first_token`, `llm_first_clause`, `llm`, `tts_first_chunk`, `tts`, `total` (the "
        "stage names stored with every turn, live or not).",
    )


class ProcessedConversation(Schema):
    conversation: ConversationPublic
    audio_url: str | None = Field(
        None, description="The spoken answer, `data:audio/mpeg;base64,...`; null when silent."
    )
