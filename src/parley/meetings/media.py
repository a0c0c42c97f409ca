"""Each participant's media in Janus's VideoRoom, as the `/meetings` namespace drives it.

    MeetingMedia          every participant's media; follows Janus's connection
    └── ParticipantMedia  one Janus session per participant, with up to two handles:
        ├── publisher     their camera and microphone: `joinandconfigure` with the browser's
        │                 offer, `configure` to renegotiate; their Janus `display` is their
        │                 participant id, so every subscription names whose streams it carries
        └── subscriber    one multistream connection with everyone else's streams

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
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from parley.errors import (
    ConflictError,
    InvalidInputError,
    JanusError,
    JanusPluginError,
    JanusTimeoutError,
    JanusUnavailableError,
    ParleyError,
)
from parley.janus.client import (
    ConnectionEvent,
    ConnectionState,
    EventKind,
    JanusClient,
    JanusEvent,
    JanusHandle,
    JanusSession,
)
from parley.janus.videoroom import NO_SUCH_FEED, PLUGIN
from parley.meetings.domain import Meeting, Participant
from parley.tasks import CloseOnce, TaskSet

log = logging.getLogger("parley.meetings.media")

Target = Literal["publisher", "subscriber"]
Quality = Literal["auto", "high", "medium", "low"]
LAYERS: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
NEGOTIATION_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 10.0
SYNC_RETRIES = 5

# VideoRoom error codes (janus_videoroom.c) that mean something to the browser.
INVALID_SDP_TYPE = 431
PUBLISHERS_FULL = 432
INVALID_SDP = 437
JSEP_INVALID_SDP = 465  # Janus core: the SDP could not be parsed


class MediaUnavailableError(ParleyError):
    """Janus is down, or the meeting's room is not there (yet)."""

    code = "MEDIA_UNAVAILABLE"


class PublishersFullError(ConflictError):
    code = "PUBLISHERS_FULL"


class InvalidSdpError(InvalidInputError):
    code = "INVALID_SDP"


Outbox = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]  # to one participant

RoomReady = Callable[[Meeting], Awaitable[bool]]
Publishers = Callable[[], set[int]]


def auto_layer(videos: int) -> int:
    return 2 if videos <= 2 else 1 if videos <= 4 else 0


def first_mid(sdp: str, kind: str) -> str | None:
    """The `a=mid` of the first `m=<kind>` section of an SDP."""
    section = re.search(rf"^m={kind} .*?(?=^m=|\Z)", sdp, re.M | re.S)
    if section is None:
        return None
    mid = re.search(r"^a=mid:(\S+)", section.group(0), re.M)
    return mid.group(1) if mid else None


@dataclass(frozen=True, slots=True)
class SubscribedStream:
    """One m-line of a subscription, as Janus describes it (`streams` of `attached`/`updated`)."""

    mid: str
    type: str
    feed_id: int | None
    participant_id: str | None
    active: bool

    @classmethod
    def from_janus(cls, data: Mapping[str, Any]) -> SubscribedStream:
        feed = data.get("feed_id")
        return cls(
            mid=str(data.get("mid", "")),
            type=str(data.get("type", "")),
            feed_id=int(feed) if isinstance(feed, int) else None,
            participant_id=data.get("feed_display") if data.get("active", True) else None,
            active=bool(data.get("active", True)) and feed is not None,
        )

    def view(self) -> dict[str, Any]:
        return {
            "mid": self.mid,
            "type": self.type,
            "participantId": self.participant_id,
            "active": self.active,
        }


class ParticipantMedia:
    """One participant's publication and subscription in the meeting's Janus room."""

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
        self._client = client
        self._publishers = publishers
        self._room_ready = room_ready
        self._timeout = negotiation_timeout_s
        self._session: JanusSession | None = None
        self._publisher: JanusHandle | None = None
        self._subscriber: JanusHandle | None = None
        self._ready = {"publisher": asyncio.Event(), "subscriber": asyncio.Event()}
        self._streams: list[SubscribedStream] = []
        self._answer: asyncio.Future[str] | None = None
        self._offers: list[Mapping[str, Any]] = []
        self._dirty = False
        self._wake = asyncio.Event()
        self._publish_lock = asyncio.Lock()
        self._quality: Quality = "auto"
        self._layer: int | None = None
        self._tasks = TaskSet(f"media:{participant.id}")
        self._worker: asyncio.Task[None] | None = None
        self.closed = False
        self._closer = CloseOnce()
        self.on_unpublished: Callable[[], None] | None = None

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, offer_sdp: str) -> str:
        """Publish (or renegotiate) with the browser's offer; Janus's answer SDP."""
        async with self._publish_lock:
            if not await self._room_ready(self.meeting):
                raise MediaUnavailableError("The meeting's media server is not available now.")
            fresh = self._publisher is None
            try:
                handle = await self._handle("publisher")
                body: dict[str, Any] = {"request": "configure"}
                if fresh:
                    body = {
                        "request": "joinandconfigure",
                        "room": self.meeting.janus_room,
                        "ptype": "publisher",
                        "display": self.participant.id,
                    }
                reply = await handle.message(body, {"type": "offer", "sdp": offer_sdp})
            except JanusError as exc:
                if fresh:
                    await self._drop("publisher")
                raise _media_error(exc) from exc
            if reply.jsep is None or "sdp" not in reply.jsep:
                raise InvalidSdpError("Janus gave no answer to that offer.")
            if fresh:
                self.participant.feed_id = int(reply.data["id"])
            self.participant.audio_mid = first_mid(offer_sdp, "audio")
            return str(reply.jsep["sdp"])

    async def unpublish(self) -> None:
        """Stop publishing (the others' subscriptions drop this participant's streams)."""
        async with self._publish_lock:
            await self._drop("publisher")
            self.participant.feed_id = None
            self.participant.audio_mid = None

    @property
    def publishing(self) -> bool:
        return self._publisher is not None and self.participant.feed_id is not None

    # -- subscribing -------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the subscription in line with who publishes, in the background."""
        if self.closed:
            return
        self._dirty = True
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = self._tasks.start(self._run(), "subscriptions")

    async def answer(self, sdp: str) -> None:
        """The browser's answer to the last `subscriber-offer`."""
        if self._answer is None or self._answer.done():
            raise ConflictError("No subscriber offer is waiting for an answer.", code="NO_OFFER")
        self._answer.set_result(sdp)

    async def set_quality(self, quality: Quality) -> int:
        """Receive every video in `quality`'s layer; the layer now asked of Janus."""
        self._quality = quality
        return await self._apply_quality()

    @property
    def streams(self) -> list[SubscribedStream]:
        return list(self._streams)

    @property
    def layer(self) -> int:
        if self._quality != "auto":
            return LAYERS[self._quality]
        return auto_layer(sum(1 for s in self._streams if s.active and s.type == "video"))

    # -- both --------------------------------------------------------------------------------

    async def trickle(self, target: Target, candidate: Mapping[str, Any] | None) -> None:
        """A candidate of the browser's `target` connection (None: no more)."""
        try:
            await asyncio.wait_for(self._ready[target].wait(), READY_TIMEOUT_S)
        except TimeoutError:
            raise ConflictError(
                f"There is no {target} connection to add candidates to.", code="NO_PEER"
            ) from None
        handle = self._publisher if target == "publisher" else self._subscriber
        if handle is None:
            raise ConflictError(f"The {target} connection is gone.", code="NO_PEER")
        try:
            await handle.trickle(candidate)
        except JanusError as exc:
            raise _media_error(exc) from exc

    def reset(self) -> None:
        """Janus is gone, and every handle with it: forget them (publish again when it is back)."""
        self._session = self._publisher = self._subscriber = None
        for ready in self._ready.values():
            ready.clear()
        self._streams = []
        self._offers.clear()
        self._layer = None
        self.participant.feed_id = None
        self.participant.audio_mid = None
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()

    async def aclose(self) -> None:
        """Leave Janus: end the session (Janus hangs up both connections). A second or
        concurrent call waits for the first."""
        self.closed = True  # at once: the worker stops at its next turn
        await self._closer.run(self._close)

    async def _close(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        await self._tasks.aclose(grace=2)
        session, self._session = self._session, None
        self._publisher = self._subscriber = None
        if session is not None:
            with contextlib.suppress(JanusError, TimeoutError):
                await asyncio.wait_for(session.destroy(), 2)

    # -- inside: the worker ------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self.closed:
            if self._offers:
                await self._negotiate(self._offers.pop(0))
            elif self._dirty:
                self._dirty = False
                try:
                    await self._sync()
                    failures = 0
                except JanusPluginError as exc:
                    if exc.janus_code != NO_SUCH_FEED:
                        log.warning("subscription of %s not updated: %s", self._who, exc.message)
                    failures += 1
                    if failures < SYNC_RETRIES:  # someone left meanwhile: try again shortly
                        await asyncio.sleep(0.2 * failures)
                        self._dirty = True
                except JanusError as exc:
                    log.info("subscription of %s not updated: %s", self._who, exc.message)
            else:
                self._wake.clear()
                await self._wake.wait()

    async def _sync(self) -> None:
        wanted = self._publishers()
        have = {s.feed_id for s in self._streams if s.active and s.feed_id is not None}
        if self._subscriber is None:
            if not wanted:
                return
            handle = await self._handle("subscriber")
            feeds = [{"feed": feed} for feed in sorted(wanted)]
            body: dict[str, Any] = {
                "request": "join",
                "ptype": "subscriber",
                "room": self.meeting.janus_room,
                "streams": feeds,
            }
            try:
                reply = await handle.message(body)
            except JanusError:
                await self._drop("subscriber")
                raise
        else:
            add, drop = wanted - have, have - wanted
            if not add and not drop:
                return
            body = {"request": "update"}
            if add:
                body["subscribe"] = [{"feed": feed} for feed in sorted(add)]
            if drop:
                body["unsubscribe"] = [{"feed": feed} for feed in sorted(drop)]
            reply = await self._subscriber.message(body)
        self._take_streams(reply.data)
        if reply.jsep is not None:
            await self._negotiate(reply.jsep)

    async def _negotiate(self, offer: Mapping[str, Any]) -> None:
        handle = self._subscriber
        if handle is None:
            return
        self._answer = asyncio.get_running_loop().create_future()
        views = [s.view() for s in self._streams]
        await self.outbox("subscriber-offer", {"jsep": dict(offer), "streams": views})
        try:
            sdp = await asyncio.wait_for(self._answer, self._timeout)
        except (TimeoutError, asyncio.CancelledError):
            if self.closed or self._subscriber is not handle:
                return
            log.warning("%s did not answer a subscriber offer in time", self._who)
            return
        finally:
            self._answer = None
        try:
            await handle.message({"request": "start"}, {"type": "answer", "sdp": sdp})
        except JanusError as exc:
            log.warning("Janus refused the subscriber answer of %s: %s", self._who, exc.message)
            return
        self._layer = None
        with contextlib.suppress(JanusError):
            await self._apply_quality()

    async def _apply_quality(self) -> int:
        layer = self.layer
        handle = self._subscriber
        videos = [s for s in self._streams if s.active and s.type == "video"]
        if handle is None or not videos or layer == self._layer:
            return layer
        streams = [{"mid": s.mid, "substream": layer} for s in videos]
        await handle.message({"request": "configure", "streams": streams})
        self._layer = layer
        return layer

    def _take_streams(self, data: Mapping[str, Any]) -> None:
        streams = data.get("streams")
        if isinstance(streams, list):
            self._streams = [SubscribedStream.from_janus(s) for s in streams if isinstance(s, dict)]

    # -- inside: Janus -----------------------------------------------------------------------

    async def _handle(self, target: Target) -> JanusHandle:
        current = self._publisher if target == "publisher" else self._subscriber
        if current is not None and not current.detached:
            return current
        if self._session is None or self._session.lost:
            if not self._client.connected:
                raise JanusUnavailableError("not connected to Janus")
            self._session = await self._client.create_session()
        callback = self._on_publisher_event if target == "publisher" else self._on_subscriber_event
        handle = await self._session.attach(PLUGIN, on_event=callback)
        if target == "publisher":
            self._publisher = handle
        else:
            self._subscriber = handle
        self._ready[target].set()
        return handle

    async def _drop(self, target: Target) -> None:
        handle = self._publisher if target == "publisher" else self._subscriber
        if target == "publisher":
            self._publisher = None
        else:
            self._subscriber, self._streams, self._layer = None, [], None
        self._ready[target].clear()
        if handle is not None:
            with contextlib.suppress(JanusError):
                await handle.detach()

    def _on_subscriber_event(self, event: JanusEvent) -> None:
        if event.kind is EventKind.EVENT:
            self._take_streams(event.data)
            if event.jsep is not None and event.jsep.get("type") == "offer":
                self._offers.append(event.jsep)
                self._wake.set()
        elif event.kind is EventKind.TRICKLE:
            self._forward_candidate("subscriber", event.data)
        elif event.kind is EventKind.HANGUP and not self.closed:
            log.info("Janus hung up the subscription of %s", self._who)

    def _on_publisher_event(self, event: JanusEvent) -> None:
        if event.kind is EventKind.TRICKLE:
            self._forward_candidate("publisher", event.data)
        elif event.kind is EventKind.HANGUP and not self.closed and self._publisher is not None:
            log.info("Janus hung up the publication of %s", self._who)
            if self.on_unpublished is not None:
                self.on_unpublished()

    def _forward_candidate(self, target: Target, data: Mapping[str, Any]) -> None:
        candidate = data.get("candidate")
        if isinstance(candidate, dict) and candidate.get("completed"):
            candidate = None
        payload = {"target": target, "candidate": candidate}
        self._tasks.start(self.outbox("trickle", payload), "trickle")

    @property
    def _who(self) -> str:
        return f"participant {self.participant.id} of meeting {self.meeting.id}"


def _media_error(exc: JanusError) -> ParleyError:
    if isinstance(exc, JanusUnavailableError | JanusTimeoutError):
        return MediaUnavailableError("The meeting's media server is not available now.")
    code = exc.janus_code
    if isinstance(exc, JanusPluginError) and code == PUBLISHERS_FULL:
        return PublishersFullError("This meeting already has as many people sending as it allows.")
    if code in (INVALID_SDP_TYPE, INVALID_SDP, JSEP_INVALID_SDP):
        return InvalidSdpError(f"The media server could not use that SDP: {exc.message}")
    return MediaUnavailableError(f"The media server refused: {exc.message}", janusCode=code)


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
