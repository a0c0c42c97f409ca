"""Use cases of the meetings: create, look at, end and delete meetings; the host's actions on
participants; admission with a PIN; the chat and assistant records.

Admission by PIN goes through the `PinGuard` (pin_guard.py): wrong PINs are counted per
connection, address and meeting, and past a few of them every try is refused for a while
(`TOO_MANY_ATTEMPTS`), the right PIN too; the host's token admits without it. Who is in a PIN
meeting is shown only to those who gave its PIN (they see it in `/meetings`) or its host.

Host-only actions check, in this order: a valid host token (else 401), the meeting exists and is
not deleted (else 404), the token is this meeting's (else 403). A meeting's existence is no
secret (they are listed), so the order gives the most useful answer.

What a participant may do is decided here and in the domain (`Participant`), whatever the way
in (the `/meetings` namespace only translates): who may unmute, who acts as the host, how fast
one may chat (`RATE_LIMITED`, with `retryAfter`).

Deleting or ending a meeting is a compare-and-set write first (of two racing deletes one wins,
the other gets 404), then everyone is told and put out, then the SFU room is destroyed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from parley.errors import ConflictError, ForbiddenError, NotFoundError, ParleyError
from parley.meetings.domain import (
    MAX_NAME,
    AssistantExchange,
    ChatMessage,
    Meeting,
    MeetingDraft,
    Participant,
    ParticipantRole,
    clean_text,
    utcnow,
)
from parley.meetings.pin_guard import IN_PROCESS, Guesser, PinGuard, retry_after
from parley.meetings.pins import hash_pin, verify_pin
from parley.meetings.ports import (
    AssistantStore,
    ChatStore,
    MeetingRooms,
    MeetingStore,
    Page,
    ParticipantRegistry,
)
from parley.meetings.ratelimit import RateLimit
from parley.meetings.tokens import HostTokens

CHAT_HISTORY = 50


class MeetingNotFoundError(NotFoundError):
    code = "MEETING_NOT_FOUND"


class ParticipantNotFoundError(NotFoundError):
    code = "PARTICIPANT_NOT_FOUND"


class MeetingEndedError(ConflictError):
    code = "MEETING_ENDED"


class MeetingFullError(ConflictError):
    code = "MEETING_FULL"


class RateLimitedError(ConflictError):
    """Too many chat messages in the window; `retryAfter`: seconds until the next is allowed."""

    code = "RATE_LIMITED"


class WrongPinError(ForbiddenError):
    """No PIN, or not the meeting's; `retryAfter` when this failure started a lockout."""

    code = "WRONG_PIN"


@dataclass(frozen=True, slots=True)
class MeetingStores:
    meetings: MeetingStore
    chat: ChatStore
    assistant: AssistantStore


class MeetingService:
    def __init__(
        self,
        stores: MeetingStores,
        rooms: MeetingRooms,
        participants: ParticipantRegistry,
        tokens: HostTokens,
        pins: PinGuard | None = None,
    ) -> None:
        self._store = stores.meetings
        self._chat = stores.chat
        self._assistant = stores.assistant
        self.rooms = rooms
        self.participants = participants
        self._tokens = tokens
        self.pins = pins or PinGuard()

    # -- meetings ----------------------------------------------------------------------------

    async def create(self, draft: MeetingDraft) -> tuple[Meeting, str]:
        """Store a new meeting, open its room, and return it with its host's token."""
        draft = draft.checked()
        pin_hash = await asyncio.to_thread(hash_pin, draft.pin) if draft.pin else None
        meeting = Meeting(
            title=draft.title,
            pin_hash=pin_hash,
            max_publishers=draft.max_publishers,
            video_codec=draft.video_codec,
            bitrate=draft.bitrate,
            host_name=draft.host_name,
        )
        await self._store.add_meeting(meeting)
        await self.rooms.open(meeting)
        return meeting, self._tokens.issue(meeting.id)

    async def get(self, meeting_id: str | uuid.UUID) -> Meeting:
        """The meeting, ended or not; a deleted one is not found."""
        meeting = await self._store.get_meeting(_parse_id(meeting_id))
        if meeting is None or meeting.deleted_at is not None:
            raise MeetingNotFoundError(
                f"No meeting has the id '{meeting_id}'.", meetingId=str(meeting_id)
            )
        return meeting

    async def find(self, page: Page) -> tuple[list[Meeting], int]:
        return await self._store.list_meetings(page)

    async def delete(self, meeting_id: str | uuid.UUID, token: str | None) -> Meeting:
        meeting = await self.authorize_host(meeting_id, token)
        meeting.deleted_at = utcnow()
        if not await self._store.mark_deleted(meeting.id, meeting.deleted_at):
            raise MeetingNotFoundError(f"No meeting has the id '{meeting_id}'.")
        await self._shut(meeting, "deleted")
        return meeting

    async def end(self, meeting_id: str | uuid.UUID, token: str | None) -> Meeting:
        """End the meeting for everyone; it stays readable (status "ended") with its records."""
        meeting = self._require_live(await self.authorize_host(meeting_id, token))
        meeting.ended_at = utcnow()
        if not await self._store.mark_ended(meeting.id, meeting.ended_at):
            current = await self.get(meeting.id)
            self._require_live(current)
        await self._shut(meeting, "ended")
        return meeting

    async def authorize_host(self, meeting_id: str | uuid.UUID, token: str | None) -> Meeting:
        claims = self._tokens.verify(token)
        meeting = await self.get(meeting_id)
        if claims.meeting_id != meeting.id:
            raise ForbiddenError(
                "This host token is for another meeting.", code="NOT_THIS_MEETING_S_HOST"
            )
        return meeting

    async def admit(
        self, meeting_id: str | uuid.UUID, pin: str | None, *, who: Guesser = IN_PROCESS
    ) -> Meeting:
        """The live meeting `who` may join with `pin` (for the `/meetings` namespace). A try
        refused by a lockout (`TooManyAttemptsError`) checks nothing; a missing PIN is no guess."""
        meeting = self._require_live(await self.get(meeting_id))
        if meeting.pin_hash is None:
            return meeting
        if not pin:
            raise WrongPinError("This meeting needs its PIN.")
        attempt = self.pins.begin(meeting.id, who)
        right = False
        try:
            right = await asyncio.to_thread(verify_pin, pin, meeting.pin_hash)
        finally:
            outcome = self.pins.settle(attempt, right=right)
        await self.pins.tell(outcome.notice)
        if not right:
            raise _wrong_pin(outcome.wait)
        return meeting

    async def join(
        self,
        meeting_id: str | uuid.UUID,
        display_name: str,
        *,
        pin: str | None = None,
        host_token: str | None = None,
        limit: int = 50,
        who: Guesser = IN_PROCESS,
    ) -> tuple[Meeting, Participant]:
        """Let someone into a live meeting: its PIN unless they hold its host token (then they
        are its host, whatever PIN lockout holds). A token that is not this meeting's valid one
        makes a guest, PIN needed."""
        name = clean_text(display_name, "displayName", MAX_NAME)
        meeting = await self.get(meeting_id)
        is_host = self._is_host_token(meeting, host_token)
        if not is_host:
            meeting = await self.admit(meeting.id, pin, who=who)
        self._require_live(meeting)
        if self.participants.count(meeting.id) >= limit:
            raise MeetingFullError(f"This meeting already has {limit} people in it.", limit=limit)
        role = ParticipantRole.HOST if is_host else ParticipantRole.GUEST
        participant = Participant(meeting.id, name, role)
        await self.participants.add(participant)
        return meeting, participant

    async def leave(self, participant: Participant) -> None:
        await self.participants.remove(participant.meeting_id, participant.id)

    def _is_host_token(self, meeting: Meeting, token: str | None) -> bool:
        if not token:
            return False
        try:
            return self._tokens.verify(token).meeting_id == meeting.id
        except ParleyError:
            return False

    # -- the host's actions on participants --------------------------------------------------

    async def kick(
        self, meeting_id: str | uuid.UUID, participant_id: str, token: str | None
    ) -> Participant:
        meeting = self._require_live(await self.authorize_host(meeting_id, token))
        participant = self._participant(meeting, participant_id)
        if participant.feed_id is not None:
            await self.rooms.kick(meeting, participant.feed_id)
        await self.participants.remove(meeting.id, participant.id, kicked=True)
        return participant

    async def mute(
        self, meeting_id: str | uuid.UUID, participant_id: str, token: str | None, *, mute: bool
    ) -> Participant:
        """Mute someone's microphone for everyone (or lift it). Someone not yet publishing sound
        is marked, so that their microphone starts muted when they do."""
        meeting = self._require_live(await self.authorize_host(meeting_id, token))
        participant = self._participant(meeting, participant_id)
        if participant.feed_id is not None and participant.audio_mid is not None:
            await self.rooms.mute(meeting, participant.feed_id, participant.audio_mid, mute=mute)
        await self.participants.set_muted_by_host(meeting.id, participant.id, muted=mute)
        return participant

    # -- a participant's media ---------------------------------------------------------------

    async def published(
        self, meeting: Meeting, participant: Participant, *, mic_on: bool, camera_on: bool
    ) -> None:
        """`participant` publishes (or renegotiated): what they send, told to everyone. A
        microphone the host muted stays muted, in the SFU too (its feed is new)."""
        participant.publishes(mic_on=mic_on, camera_on=camera_on)
        if participant.muted_by_host and participant.feed_id and participant.audio_mid:
            await self.rooms.mute(meeting, participant.feed_id, participant.audio_mid, mute=True)
        await self.participants.update(participant)

    async def set_media(
        self, participant: Participant, *, mic_on: bool | None, camera_on: bool | None
    ) -> None:
        """What `participant`'s microphone and camera do, told to everyone (`MUTED_BY_HOST`)."""
        participant.set_media(mic_on=mic_on, camera_on=camera_on)
        await self.participants.update(participant)

    def participants_of(self, meeting: Meeting) -> list[Participant]:
        return self.participants.in_meeting(meeting.id)

    async def visible_participants(
        self, meeting_id: str | uuid.UUID, token: str | None
    ) -> list[Participant]:
        """Who is in the meeting, for someone outside it: anyone may look into a meeting
        without a PIN; a PIN meeting's people are its host's to see (with the host token, as for
        the host's actions), and its guests', once in, through `/meetings`. Taking a PIN here
        too would open a second door to guess it through."""
        meeting = await self.get(meeting_id)
        if meeting.pin_required:
            meeting = await self.authorize_host(meeting.id, token)
        elif token:
            self._tokens.verify(token)  # a credential given must be valid, here as everywhere
        return self.participants_of(meeting)

    # -- chat and assistant records ----------------------------------------------------------

    async def post_message(
        self, sender: Participant, text: str, allowance: RateLimit | None = None
    ) -> ChatMessage:
        """Store `sender`'s message. Its text is checked first, so that a refused text does not
        use up the `allowance` (the sender's rate limit), then the allowance."""
        message = ChatMessage.compose(sender.meeting_id, sender, text)
        if allowance is not None and not allowance.allow():
            wait = allowance.retry_after()
            raise RateLimitedError(
                f"Too many messages: wait {wait:.1f} s.", retryAfter=round(wait, 1)
            )
        return await self._chat.add_message(message)

    async def chat_history(
        self, meeting_id: uuid.UUID, limit: int = CHAT_HISTORY, *, before_id: int | None = None
    ) -> list[ChatMessage]:
        return await self._chat.recent_messages(meeting_id, limit, before_id=before_id)

    async def ask(self, asker: Participant, question: str) -> AssistantExchange:
        """Store a question to the assistant as it is asked (pending)."""
        exchange = AssistantExchange.ask(asker.meeting_id, asker, question)
        await self._assistant.add_exchange(exchange)
        return exchange

    async def record_outcome(self, exchange: AssistantExchange) -> None:
        """Store the answer (or failure) given by `exchange.answered()` / `.failed()`."""
        await self._assistant.save_exchange(exchange)

    async def assistant_history(
        self, meeting_id: uuid.UUID, limit: int = CHAT_HISTORY
    ) -> list[AssistantExchange]:
        return await self._assistant.recent_exchanges(meeting_id, limit)

    # -- helpers -----------------------------------------------------------------------------

    async def _shut(self, meeting: Meeting, reason: str) -> None:
        await self.participants.close(meeting.id, reason)
        await self.rooms.close(meeting)

    def _participant(self, meeting: Meeting, participant_id: str) -> Participant:
        participant = self.participants.get(meeting.id, participant_id)
        if participant is None:
            raise ParticipantNotFoundError(
                f"Nobody with the id '{participant_id}' is in this meeting.",
                participantId=participant_id,
            )
        return participant

    @staticmethod
    def _require_live(meeting: Meeting) -> Meeting:
        if not meeting.is_live:
            raise MeetingEndedError("This meeting has ended.", meetingId=str(meeting.id))
        return meeting


def _wrong_pin(wait: float) -> WrongPinError:
    if not wait:
        return WrongPinError("The PIN is not this meeting's.")
    seconds = retry_after(wait)
    return WrongPinError(
        f"The PIN is not this meeting's; try again in {seconds} s.", retryAfter=seconds
    )


def _parse_id(meeting_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(meeting_id, uuid.UUID):
        return meeting_id
    try:
        return uuid.UUID(meeting_id)
    except ValueError as exc:
        raise MeetingNotFoundError(
            f"No meeting has the id '{meeting_id[:64]}' (meeting ids are UUIDs).",
            meetingId=meeting_id[:64],
        ) from exc
