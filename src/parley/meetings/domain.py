"""The meetings domain: a meeting and its limits, the people in it, its chat and the questions
put to its assistant.

    Meeting             stored; ACTIVE until its host ends it (ENDED, kept for its records) or
                        deletes it (gone: every lookup answers "not found")
    Participant         someone in a live meeting, in this process's memory only
    ChatMessage         stored, stamped with the server's time (never the sender's)
    AssistantExchange   a question to the assistant and its answer, stored when asked and again
                        when answered (or failed)

What a participant may do is decided here, whatever the way in: a microphone the host muted
stays off until the host lifts it (`MUTED_BY_HOST`), and only a host acts as one (`NOT_HOST`).

Sizes are bounded here, whatever the way in (REST, Socket.IO): `clean_text` refuses empty text,
text over its limit, control characters and lone surrogates (which no database stores), text
that shows nothing (only invisible characters: zero-width ones, format characters, Hangul
fillers) and text holding bidirectional embeddings, overrides or isolates.
"""

from __future__ import annotations

import enum
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from parley.errors import ForbiddenError, InvalidInputError

MAX_TITLE = 120
MAX_NAME = 64
MAX_CHAT = 2000
MAX_QUESTION = 2000
MAX_ANSWER = 20_000
MAX_REASON = 500
PIN_DIGITS = (4, 12)
PUBLISHERS = (1, 25)
DEFAULT_PUBLISHERS = 6
BITRATE = (64_000, 8_000_000)  # bits per second, for each publisher's video
DEFAULT_BITRATE = 1_024_000
MAX_ROOM_ID = 2**53 - 1  # Janus room ids are 64-bit; browsers' numbers are exact up to 2**53
# Embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069): they reorder how the text
# around them is shown.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Letters by their category that draw nothing: Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
# the blank Braille pattern (U+2800), a favourite of invisible names.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_room_id() -> int:
    """A Janus room id, fixed for the meeting's life: the same room is recreated under it."""
    return secrets.randbelow(MAX_ROOM_ID) + 1


class VideoCodec(enum.StrEnum):
    VP8 = "vp8"
    VP9 = "vp9"
    H264 = "h264"
    AV1 = "av1"


class MeetingStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(slots=True)
class Meeting:
    title: str
    janus_room: int = field(default_factory=new_room_id)
    pin_hash: str | None = field(default=None, repr=False)
    max_publishers: int = DEFAULT_PUBLISHERS
    video_codec: VideoCodec = VideoCodec.VP8
    bitrate: int = DEFAULT_BITRATE
    host_name: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def status(self) -> MeetingStatus:
        return MeetingStatus.ENDED if self.ended_at is not None else MeetingStatus.ACTIVE

    @property
    def pin_required(self) -> bool:
        return self.pin_hash is not None

    @property
    def is_live(self) -> bool:
        """Whether people may be in it: neither ended nor deleted."""
        return self.ended_at is None and self.deleted_at is None


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    """What a host asks for; `checked()` returns it with every field cleaned and in bounds."""

    title: str
    pin: str | None = field(default=None, repr=False)
    max_publishers: int = DEFAULT_PUBLISHERS
    video_codec: VideoCodec = VideoCodec.VP8
    bitrate: int = DEFAULT_BITRATE
    host_name: str | None = None

    def checked(self) -> MeetingDraft:
        return MeetingDraft(
            title=clean_text(self.title, "title", MAX_TITLE),
            pin=check_pin(self.pin) if self.pin is not None else None,
            max_publishers=_in_range(self.max_publishers, "maxPublishers", PUBLISHERS),
            video_codec=VideoCodec(self.video_codec),
            bitrate=_in_range(self.bitrate, "bitrate", BITRATE),
            host_name=clean_text(self.host_name, "hostName", MAX_NAME) if self.host_name else None,
        )


class ParticipantRole(enum.StrEnum):
    HOST = "host"
    GUEST = "guest"


class NotHostError(ForbiddenError):
    code = "NOT_HOST"


class MutedByHostError(ForbiddenError):
    code = "MUTED_BY_HOST"


def new_participant_id() -> str:
    return secrets.token_urlsafe(9)


@dataclass(slots=True)
class Participant:
    """Someone in a live meeting. `feed_id` and `audio_mid` name their publication in Janus
    (what `kick` and `moderate` act on) once they publish."""

    meeting_id: uuid.UUID
    display_name: str
    role: ParticipantRole = ParticipantRole.GUEST
    id: str = field(default_factory=new_participant_id)
    joined_at: datetime = field(default_factory=utcnow)
    feed_id: int | None = None
    audio_mid: str | None = None
    mic_on: bool = False
    camera_on: bool = False
    muted_by_host: bool = False

    def set_media(self, *, mic_on: bool | None, camera_on: bool | None) -> None:
        """What their microphone and camera do (None: unchanged); turning the microphone on
        is refused while the host has muted it."""
        if mic_on and self.muted_by_host:
            raise MutedByHostError("The host has muted your microphone.")
        if mic_on is not None:
            self.mic_on = mic_on
        if camera_on is not None:
            self.camera_on = camera_on

    def publishes(self, *, mic_on: bool, camera_on: bool) -> None:
        """They publish (or renegotiated): a microphone the host muted stays off."""
        self.mic_on = mic_on and not self.muted_by_host
        self.camera_on = camera_on

    def host_token(self, token: str | None) -> str:
        """The token they act as the host with (checked again on each action); `NOT_HOST` for
        a guest, or a host who joined without one."""
        if self.role is not ParticipantRole.HOST or token is None:
            raise NotHostError("Only the meeting's host can do that.")
        return token


@dataclass(slots=True)
class ChatMessage:
    """A chat message; `id` (ascending in time) is given by the store."""

    meeting_id: uuid.UUID
    sender_id: str
    sender_name: str
    text: str
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @classmethod
    def compose(cls, meeting_id: uuid.UUID, sender: Participant, text: str) -> ChatMessage:
        """A message from `sender`, its text checked, stamped now."""
        body = clean_text(text, "text", MAX_CHAT, multiline=True)
        return cls(meeting_id, sender.id, sender.display_name, body)


class ExchangeStatus(enum.StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    FAILED = "failed"


@dataclass(slots=True)
class AssistantExchange:
    meeting_id: uuid.UUID
    asker_id: str
    asker_name: str
    question: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    status: ExchangeStatus = ExchangeStatus.PENDING
    answer: str = ""
    error: str | None = None
    asked_at: datetime = field(default_factory=utcnow)
    answered_at: datetime | None = None
    first_chunk_ms: float | None = None

    @classmethod
    def ask(cls, meeting_id: uuid.UUID, asker: Participant, question: str) -> AssistantExchange:
        text = clean_text(question, "question", MAX_QUESTION, multiline=True)
        return cls(meeting_id, asker.id, asker.display_name, text)

    def answered(self, answer: str, *, first_chunk_ms: float | None = None) -> None:
        self.status = ExchangeStatus.ANSWERED
        self.answer = answer[:MAX_ANSWER]
        self.answered_at = utcnow()
        self.first_chunk_ms = first_chunk_ms

    def failed(self, reason: str, *, partial: str = "") -> None:
        """The answer stopped (provider failure, cancel): what was said so far is kept."""
        self.status = ExchangeStatus.FAILED
        self.answer = partial[:MAX_ANSWER]
        self.error = reason[:MAX_REASON]
        self.answered_at = utcnow()


def clean_text(value: str, name: str, limit: int, *, multiline: bool = False) -> str:
    """`value` without surrounding blanks; refused if empty, longer than `limit` characters, or
    holding control characters (line breaks and tabs allowed when `multiline`) or surrogates."""
    text = value.strip()
    if not text:
        raise InvalidInputError(f"{name} must not be empty.", code="INVALID_TEXT", field=name)
    if len(text) > limit:
        raise InvalidInputError(
            f"{name} is {len(text)} characters long; at most {limit} are allowed.",
            code="TEXT_TOO_LONG",
            field=name,
            limit=limit,
        )
    allowed = "\n\t\u2028\u2029" if multiline else ""
    if any(_forbidden(char) and char not in allowed for char in text):
        raise InvalidInputError(
            f"{name} holds control or invalid characters.", code="INVALID_TEXT", field=name
        )
    return _readable(text, name)


def _readable(text: str, name: str) -> str:
    """Refused, not cleaned: text that reorders how it is shown (a right-to-left override makes
    "report<RLO>fdp.exe" show as "reportexe.pdf", or a name read as another's) and text that
    shows nothing (a name nobody can see or click). Stripping the controls instead would change
    what the person typed without telling them, and an override has no place in a name, a title
    or a chat line. Zero-width joiners *inside* visible text stay (emoji sequences such as
    👩‍💻 need them, and so do Indic and Arabic scripts), and so do the left-to-right and
    right-to-left marks, which fix the direction of neutral characters without reordering
    anything."""
    if any(char in BIDI_CONTROLS for char in text):
        raise InvalidInputError(
            f"{name} holds bidirectional control characters (U+202A-U+202E, U+2066-U+2069), "
            "which change the order text is shown in.",
            code="BIDI_CONTROL",
            field=name,
        )
    if not any(_visible(char) for char in text):
        raise InvalidInputError(
            f"{name} has no visible character: use at least one letter, digit, symbol or emoji.",
            code="INVISIBLE_TEXT",
            field=name,
        )
    return text


def check_pin(pin: str) -> str:
    low, high = PIN_DIGITS
    if not (low <= len(pin) <= high and pin.isascii() and pin.isdigit()):
        raise InvalidInputError(
            f"A PIN is {low} to {high} digits (0-9).", code="INVALID_PIN_FORMAT", field="pin"
        )
    return pin


def _forbidden(char: str) -> bool:
    """Controls, surrogates, and line or paragraph separators (allowed only in `multiline`)."""
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


def _visible(char: str) -> bool:
    """Whether `char` draws something by itself: a letter, digit, punctuation or symbol (emoji
    included), but not a filler letter that draws nothing. Spaces, format characters (zero-width
    space and joiners, word joiner, BOM, tags), combining marks alone and unassigned or
    private-use code points do not count."""
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANK_LETTERS


def _in_range(value: int, name: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInputError(
            f"{name} must be between {low} and {high}.", code="OUT_OF_RANGE", field=name
        )
    return value
