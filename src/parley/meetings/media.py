"""Each participant's media in Janus's VideoRoom, as the `/meetings` namespace drives it.

    MeetingMedia              every participant's media; follows Janus's connection
    └── ParticipantMedia      one participant's media, as the handlers see it; owns the rest
        ├── MediaSession      their one Janus session, tasks and browser (`media_session`)
        ├── Publication       their camera and microphone: `joinandconfigure` with the
        │                     browser's offer, `configure` to renegotiate; their Janus `display`
        │                     is their participant id, so every subscription names whose
        │                     streams it carries
        └── Subscription      one multistream connection with everyone else's streams
                              (`subscription`)
    Publication and Subscription each keep their VideoRoom handle in a `HandleSlot`, which
    relays the ICE candidates both ways.

**Subscriptions follow who publishes.** `sync()` asks a participant's worker to bring their
subscription in line with the feeds published by the others (`join` as a subscriber the first
time, then `update` with what to add and drop). Every offer Janus makes (answering a request, or
on its own, e.g. when someone stops publishing) goes to the browser as `subscriber-offer`; the
worker waits for its answer and sends it to Janus with `start` before it handles anything else,
so one connection never has two negotiations in flight. Janus merges updates that arrive during
a negotiation into one later offer (`updating`); the worker takes that offer when it comes.

**Quality** is the simulcast layer every video of a subscription is received in (Janus's
`substream`: 0 low, 1 medium, 2 high). `auto` picks it from how many videos the viewer gets,
as Jitsi picks from tile sizes: 1-2 high, 3-4 medium, more low.

**Janus restarts.** When the connection to Janus drops, every session is gone: `MeetingMedia`
forgets every handle and tells each participant (`media-interrupted`); when it is back, it tells
them to publish again (`media-restored`), and the subscriptions are rebuilt as they do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from parley.errors import JanusError
from parley.janus.client import ConnectionEvent, ConnectionState, EventKind, JanusClient, JanusEvent
from parley.meetings.domain import Meeting, Participant
from parley.meetings.media_session import (
    HandleSlot,
    InvalidSdpError,
    MediaSession,
    MediaUnavailableError,
    Outbox,
    PublishersFullError,
    Target,
    media_error,
)
from parley.meetings.subscription import (
    NEGOTIATION_TIMEOUT_S,
    Publishers,
    Quality,
    SubscribedStream,
    Subscription,
)
from parley.tasks import CloseOnce, TaskSet

__all__ = [
    "InvalidSdpError",
    "MediaUnavailableError",
    "MeetingMedia",
    "Outbox",
    "ParticipantMedia",
    "Publishers",
    "PublishersFullError",
    "Quality",
    "SubscribedStream",
]

log = logging.getLogger("parley.meetings.media")

RoomReady = Callable[[Meeting], Awaitable[bool]]


def first_mid(sdp: str, kind: str) -> str | None:
    """The `a=mid` of the first `m=<kind>` section of an SDP."""
    section = re.search(rf"^m={kind} .*?(?=^m=|\Z)", sdp, re.M | re.S)
    if section is None:
        return None
    mid = re.search(r"^a=mid:(\S+)", section.group(0), re.M)
    return mid.group(1) if mid else None


class Publication:
    """A participant's camera and microphone in the room: `joinandconfigure` with the browser's
    first offer, `configure` with each later one. Their Janus `display` is their participant id,
    so every subscription names whose streams it carries."""

    def __init__(self, session: MediaSession, room_ready: RoomReady) -> None:
        self.slot = HandleSlot("publisher", session, self._on_event)
        self.on_unpublished: Callable[[], None] | None = None
        self._session = session
        self._room_ready = room_ready
        self._lock = asyncio.Lock()

    async def publish(self, offer_sdp: str) -> str:
        """Publish (or renegotiate) with the browser's offer; Janus's answer SDP."""
        meeting, participant = self._session.meeting, self._session.participant
        async with self._lock:
            if not await self._room_ready(meeting):
                raise MediaUnavailableError("The meeting's media server is not available now.")
            fresh = self.slot.handle is None
            try:
                handle = await self.slot.attach()
                body: dict[str, Any] = {"request": "configure"}
                if fresh:
                    body = {
                        "request": "joinandconfigure",
                        "room": meeting.janus_room,
                        "ptype": "publisher",
                        "display": participant.id,
                    }
                reply = await handle.message(body, {"type": "offer", "sdp": offer_sdp})
            except JanusError as exc:
                if fresh:
                    await self.slot.drop()
                raise media_error(exc) from exc
            if reply.jsep is None or "sdp" not in reply.jsep:
                raise InvalidSdpError("Janus gave no answer to that offer.")
            if fresh:
                participant.feed_id = int(reply.data["id"])
            participant.audio_mid = first_mid(offer_sdp, "audio")
            return str(reply.jsep["sdp"])

    async def unpublish(self) -> None:
        """Stop publishing (the others' subscriptions drop this participant's streams)."""
        async with self._lock:
            await self.slot.drop()
            self._forget_feed()

    @property
    def publishing(self) -> bool:
        return self.slot.handle is not None and self._session.participant.feed_id is not None

    def reset(self) -> None:
        """Janus is gone, and the handle with it: nothing is published any more."""
        self.slot.forget()
        self._forget_feed()

    def _forget_feed(self) -> None:
        self._session.participant.feed_id = None
        self._session.participant.audio_mid = None

    def _on_event(self, event: JanusEvent) -> None:
        lost = event.kind is EventKind.HANGUP and self.slot.handle is not None
        if lost and not self._session.closed:
            log.info("Janus hung up the publication of %s", self._session.who)
            if self.on_unpublished is not None:
                self.on_unpublished()


class ParticipantMedia:
    """One participant's publication and subscription in the meeting's Janus room, as the
    `/meetings` handlers see them, and the owner of the Janus session both share."""

    def __init__(
        self,
        client: JanusClient,
        meeting: Meeting,
        participant: Participant,
        outbox: Outbox,
        *,
        publishers: Publishers,
        room_ready: RoomReady,
        negotiation_timeout_s: float = NEGOTIATION_TIMEOUT_S,
    ) -> None:
        self.meeting = meeting
        self.participant = participant
        self.outbox = outbox
        self._session = MediaSession(client, meeting, participant, outbox)
        self._publication = Publication(self._session, room_ready)
        self._subscription = Subscription(
            self._session, publishers, negotiation_timeout_s=negotiation_timeout_s
        )
        self._slots: dict[Target, HandleSlot] = {
            "publisher": self._publication.slot,
            "subscriber": self._subscription.slot,
        }
        self._closer = CloseOnce()

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, offer_sdp: str) -> str:
        """Publish (or renegotiate) with the browser's offer; Janus's answer SDP."""
        return await self._publication.publish(offer_sdp)

    async def unpublish(self) -> None:
        """Stop publishing (the others' subscriptions drop this participant's streams)."""
        await self._publication.unpublish()

    @property
    def publishing(self) -> bool:
        return self._publication.publishing

    @property
    def on_unpublished(self) -> Callable[[], None] | None:
        """Called when Janus hangs up the publication (e.g. the browser's connection failed)."""
        return self._publication.on_unpublished

    @on_unpublished.setter
    def on_unpublished(self, callback: Callable[[], None] | None) -> None:
        self._publication.on_unpublished = callback

    # -- subscribing -------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the subscription in line with who publishes, in the background."""
        self._subscription.sync()

    async def answer(self, sdp: str) -> None:
        """The browser's answer to the last `subscriber-offer`."""
        await self._subscription.answer(sdp)

    async def set_quality(self, quality: Quality) -> int:
        """Receive every video in `quality`'s layer; the layer now asked of Janus."""
        return await self._subscription.set_quality(quality)

    @property
    def streams(self) -> list[SubscribedStream]:
        return self._subscription.streams

    @property
    def layer(self) -> int:
        return self._subscription.layer

    # -- both --------------------------------------------------------------------------------

    async def trickle(self, target: Target, candidate: Mapping[str, Any] | None) -> None:
        """A candidate of the browser's `target` connection (None: no more)."""
        await self._slots[target].trickle(candidate)

    def reset(self) -> None:
        """Janus is gone, and every handle with it: forget them (publish again when it is back)."""
        self._session.forget()
        self._publication.reset()
        self._subscription.reset()

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def aclose(self) -> None:
        """Leave Janus: end the session (Janus hangs up both connections). A second or
        concurrent call waits for the first."""
        self._session.closed = True  # at once: the worker stops at its next turn
        await self._closer.run(self._close)

    async def _close(self) -> None:
        self._subscription.cancel_answer()
        await self._session.tasks.aclose(grace=2)
        janus = self._session.forget()
        for slot in self._slots.values():
            slot.release()
        if janus is not None:
            with contextlib.suppress(JanusError, TimeoutError):
                await asyncio.wait_for(janus.destroy(), 2)


class MeetingMedia:
    """Every participant's `ParticipantMedia`, and what Janus's connection does to them."""

    def __init__(self, client: JanusClient | None, room_ready: RoomReady) -> None:
        self._client = client
        self._room_ready = room_ready
        self._media: dict[str, ParticipantMedia] = {}
        self._unsubscribe = client.add_listener(self._on_connection) if client else None
        self._tasks = TaskSet("meeting-media")
        self._closer = CloseOnce()

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def open(
        self, meeting: Meeting, participant: Participant, outbox: Outbox, publishers: Publishers
    ) -> ParticipantMedia | None:
        if self._client is None:
            return None
        media = ParticipantMedia(
            self._client,
            meeting,
            participant,
            outbox,
            publishers=publishers,
            room_ready=self._room_ready,
        )
        self._media[participant.id] = media
        return media

    def get(self, participant_id: str) -> ParticipantMedia | None:
        return self._media.get(participant_id)

    def of_meeting(self, meeting_id: uuid.UUID) -> list[ParticipantMedia]:
        return [m for m in self._media.values() if m.meeting.id == meeting_id]

    async def close(self, participant_id: str) -> None:
        media = self._media.pop(participant_id, None)
        if media is not None:
            await media.aclose()

    def __len__(self) -> int:
        return len(self._media)

    async def aclose(self) -> None:
        """Everyone's media, then the tasks; a second or concurrent call waits for the first."""
        await self._closer.run(self._close)

    async def _close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for participant_id in list(self._media):
            await self.close(participant_id)
        await self._tasks.aclose()

    def _on_connection(self, event: ConnectionEvent) -> None:
        if event.state is ConnectionState.DISCONNECTED:
            for media in self._media.values():
                media.reset()
            self._tell_all("media-interrupted", {"reason": "The media server restarted."})
        elif event.state is ConnectionState.RECONNECTED:
            self._tell_all("media-restored", {})

    def _tell_all(self, event: str, payload: dict[str, Any]) -> None:
        for media in list(self._media.values()):
            self._tasks.start(media.outbox(event, payload), event)
