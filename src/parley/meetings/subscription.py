"""A participant's subscription: one multistream connection in Janus's VideoRoom with the streams
everyone else publishes, kept in line with who publishes by one worker, and the simulcast layer
they are received in (`parley.meetings.media` tells the whole story)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from parley.errors import ConflictError, JanusError, JanusPluginError
from parley.janus.client import EventKind, JanusEvent
from parley.janus.videoroom import NO_SUCH_FEED
from parley.meetings.media_session import HandleSlot, MediaSession

log = logging.getLogger("parley.meetings.media")

Quality = Literal["auto", "high", "medium", "low"]
LAYERS: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
NEGOTIATION_TIMEOUT_S = 20.0
SYNC_RETRIES = 5

Publishers = Callable[[], set[int]]


def auto_layer(videos: int) -> int:
    return 2 if videos <= 2 else 1 if videos <= 4 else 0


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


class Subscription:
    """One participant's subscription to the feeds `publishers()` names (everyone else's).

    Its worker handles one thing at a time: an offer Janus made, or bringing the subscription in
    line with who publishes; each offer waits for the browser's answer before anything else, so
    the connection never has two negotiations in flight."""

    def __init__(
        self,
        session: MediaSession,
        publishers: Publishers,
        *,
        negotiation_timeout_s: float = NEGOTIATION_TIMEOUT_S,
    ) -> None:
        self.slot = HandleSlot("subscriber", session, self._on_event)
        self._session = session
        self._publishers = publishers
        self._timeout = negotiation_timeout_s
        self._streams: list[SubscribedStream] = []
        self._answer: asyncio.Future[str] | None = None
        self._offers: list[Mapping[str, Any]] = []
        self._dirty = False
        self._wake = asyncio.Event()
        self._quality: Quality = "auto"
        self._layer: int | None = None
        self._worker: asyncio.Task[None] | None = None

    def sync(self) -> None:
        """Bring the subscription in line with who publishes, in the background."""
        if self._session.closed:
            return
        self._dirty = True
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = self._session.tasks.start(self._run(), "subscriptions")

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

    def reset(self) -> None:
        """Janus is gone, and the handle with it: forget it and what it carried."""
        self.slot.forget()
        self._streams = []
        self._offers.clear()
        self._layer = None
        self.cancel_answer()

    def cancel_answer(self) -> None:
        """Stop waiting for the browser's answer (the worker moves on)."""
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()

    # -- inside: the worker ------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._session.closed:
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
        handle = self.slot.handle
        if handle is None:
            if not wanted:
                return
            handle = await self.slot.attach()
            feeds = [{"feed": feed} for feed in sorted(wanted)]
            body: dict[str, Any] = {
                "request": "join",
                "ptype": "subscriber",
                "room": self._session.meeting.janus_room,
                "streams": feeds,
            }
            try:
                reply = await handle.message(body)
            except JanusError:
                await self._drop()
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
            reply = await handle.message(body)
        self._take_streams(reply.data)
        if reply.jsep is not None:
            await self._negotiate(reply.jsep)

    async def _negotiate(self, offer: Mapping[str, Any]) -> None:
        handle = self.slot.handle
        if handle is None:
            return
        self._answer = asyncio.get_running_loop().create_future()
        views = [s.view() for s in self._streams]
        await self._session.outbox("subscriber-offer", {"jsep": dict(offer), "streams": views})
        try:
            sdp = await asyncio.wait_for(self._answer, self._timeout)
        except (TimeoutError, asyncio.CancelledError):
            if self._session.closed or self.slot.handle is not handle:
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
        handle = self.slot.handle
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

    async def _drop(self) -> None:
        self._streams, self._layer = [], None
        await self.slot.drop()

    def _on_event(self, event: JanusEvent) -> None:
        if event.kind is EventKind.EVENT:
            self._take_streams(event.data)
            if event.jsep is not None and event.jsep.get("type") == "offer":
                self._offers.append(event.jsep)
                self._wake.set()
        elif event.kind is EventKind.HANGUP and not self._session.closed:
            log.info("Janus hung up the subscription of %s", self._who)

    @property
    def _who(self) -> str:
        return self._session.who
