"""Request and response bodies of `/api/v1/meetings`, camelCase like the rest of the API.

Limits are the domain's (`meetings.domain`), so the OpenAPI schema states them and requests out
of bounds are refused with 422 before anything happens. A PIN is never written back: only
`pinRequired`.
"""

from __future__ import annotations

import uuid

from pydantic import Field

from parley.meetings.domain import (
    BITRATE,
    DEFAULT_BITRATE,
    DEFAULT_PUBLISHERS,
    MAX_NAME,
    MAX_TITLE,
    PIN_DIGITS,
    PUBLISHERS,
    AssistantExchange,
    ChatMessage,
    ExchangeStatus,
    Meeting,
    MeetingDraft,
    MeetingStatus,
    Participant,
    ParticipantRole,
    VideoCodec,
)
from parley.web.schemas import Pagination, Schema, Timestamp

# [0-9], not \d: Python's \d also matches other scripts' digits.
PIN_PATTERN = rf"^[0-9]{{{PIN_DIGITS[0]},{PIN_DIGITS[1]}}}$"


class MeetingCreate(Schema):
    """A new meeting; its creator is its host. Unknown fields are ignored."""

    title: str = Field(min_length=1, max_length=MAX_TITLE, examples=["Weekly sync"])
    pin: str | None = Field(
        None, pattern=PIN_PATTERN, description="4-12 digits that guests must give to join."
    )
    max_publishers: int = Field(
        DEFAULT_PUBLISHERS,
        ge=PUBLISHERS[0],
        le=PUBLISHERS[1],
        description="How many participants may send audio/video at once.",
    )
    video_codec: VideoCodec = VideoCodec.VP8
    bitrate: int = Field(
        DEFAULT_BITRATE,
        ge=BITRATE[0],
        le=BITRATE[1],
        description="Cap on each publisher's video, in bits per second.",
    )
    host_name: str | None = Field(None, max_length=MAX_NAME, examples=["Mina"])

    def draft(self) -> MeetingDraft:
        return MeetingDraft(
            title=self.title,
            pin=self.pin,
            max_publishers=self.max_publishers,
            video_codec=self.video_codec,
            bitrate=self.bitrate,
            host_name=self.host_name,
        )


class MuteRequest(Schema):
    mute: bool = Field(True, description="false lets the participant's microphone through again.")


class MeetingPublic(Schema):
    id: uuid.UUID
    title: str
    pin_required: bool
    max_publishers: int
    video_codec: VideoCodec
    bitrate: int = Field(description="Bits per second, per publisher's video.")
    host_name: str | None = None
    status: MeetingStatus
    created_at: Timestamp
    ended_at: Timestamp | None = None
    participant_count: int = Field(ge=0)
    media_ready: bool = Field(
        description="Whether the meeting's room exists in the media server (Janus) now; false "
        "while it is pending (Janus off or unreachable) and after the meeting ended."
    )

    @classmethod
    def of(cls, meeting: Meeting, *, participants: int, media_ready: bool) -> MeetingPublic:
        return cls(
            id=meeting.id,
            title=meeting.title,
            pin_required=meeting.pin_required,
            max_publishers=meeting.max_publishers,
            video_codec=meeting.video_codec,
            bitrate=meeting.bitrate,
            host_name=meeting.host_name,
            status=meeting.status,
            created_at=meeting.created_at,
            ended_at=meeting.ended_at,
            participant_count=participants,
            media_ready=media_ready,
        )


class MeetingData(Schema):
    meeting: MeetingPublic


class CreatedMeeting(Schema):
    meeting: MeetingPublic
    host_token: str = Field(
        description="Proves the bearer is the host: `Authorization: Bearer <hostToken>`. "
        "Shown once; keep it."
    )


class MeetingList(Schema):
    meetings: list[MeetingPublic]
    pagination: Pagination


class ParticipantPublic(Schema):
    id: str
    display_name: str
    role: ParticipantRole
    joined_at: Timestamp
    publishing: bool
    mic_on: bool
    camera_on: bool
    muted_by_host: bool

    @classmethod
    def of(cls, participant: Participant) -> ParticipantPublic:
        return cls(
            id=participant.id,
            display_name=participant.display_name,
            role=participant.role,
            joined_at=participant.joined_at,
            publishing=participant.feed_id is not None,
            mic_on=participant.mic_on,
            camera_on=participant.camera_on,
            muted_by_host=participant.muted_by_host,
        )


class ParticipantData(Schema):
    participant: ParticipantPublic


class ParticipantList(Schema):
    participants: list[ParticipantPublic]


class ChatMessagePublic(Schema):
    id: int | None
    sender_id: str
    sender_name: str
    text: str
    created_at: Timestamp

    @classmethod
    def of(cls, message: ChatMessage) -> ChatMessagePublic:
        return cls.model_validate(message, from_attributes=True)


class ExchangePublic(Schema):
    id: uuid.UUID
    asker_id: str
    asker_name: str
    question: str
    answer: str
    status: ExchangeStatus
    asked_at: Timestamp
    answered_at: Timestamp | None = None
    first_chunk_ms: float | None = None

    @classmethod
    def of(cls, exchange: AssistantExchange) -> ExchangePublic:
        return cls.model_validate(exchange, from_attributes=True)
