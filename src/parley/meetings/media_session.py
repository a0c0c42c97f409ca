"""What a participant's publication and subscription share in Janus (`parley.meetings.media`).

    MediaSession  their one Janus session (made when a first handle needs it), their tasks,
                  the way to their browser, and whether they have left
    HandleSlot    one of their two connections: its VideoRoom handle, attached when needed,
                  and the ICE candidates both ways (the browser's to Janus, Janus's to the browser)

Janus's errors become ours here, at the boundary (`media_error`):

    ParleyError
    ├── MediaUnavailableError   Janus is down or refused; the room is not there (yet)
    ├── ConflictError
    │   └── PublishersFullError the room has as many publishers as it allows (432)
    └── InvalidInputError
        └── InvalidSdpError     the browser's SDP is of no use to Janus (431, 437, 465)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
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
from parley.janus.client import EventKind, JanusClient, JanusEvent, JanusHandle, JanusSession
from parley.janus.videoroom import PLUGIN
from parley.meetings.domain import Meeting, Participant
from parley.tasks import TaskSet

Target = Literal["publisher", "subscriber"]
Outbox = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]  # to one participant
EventHandler = Callable[[JanusEvent], None]
READY_TIMEOUT_S = 10.0

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


def media_error(exc: JanusError) -> ParleyError:
    if isinstance(exc, JanusUnavailableError | JanusTimeoutError):
        return MediaUnavailableError("The meeting's media server is not available now.")
    code = exc.janus_code
    if isinstance(exc, JanusPluginError) and code == PUBLISHERS_FULL:
        return PublishersFullError("This meeting already has as many people sending as it allows.")
    if code in (INVALID_SDP_TYPE, INVALID_SDP, JSEP_INVALID_SDP):
        return InvalidSdpError(f"The media server could not use that SDP: {exc.message}")
    return MediaUnavailableError(f"The media server refused: {exc.message}", janusCode=code)


class MediaSession:
    """One participant's Janus session, shared by their publication and subscription, with what
    else both need: the tasks they start (closed with the participant), their browser's
    `outbox`, and `closed`, set as soon as closing begins so that each side stops at its next
    turn."""

    def __init__(
        self, client: JanusClient, meeting: Meeting, participant: Participant, outbox: Outbox
    ) -> None:
        self.meeting = meeting
        self.participant = participant
        self.outbox = outbox
        self.tasks = TaskSet(f"media:{participant.id}")
        self.closed = False
        self._client = client
        self._janus: JanusSession | None = None

    async def janus(self) -> JanusSession:
        """The session, made anew when there is none or Janus lost it (e.g. it restarted)."""
        if self._janus is None or self._janus.lost:
            if not self._client.connected:
                raise JanusUnavailableError("not connected to Janus")
            self._janus = await self._client.create_session()
        return self._janus

    def forget(self) -> JanusSession | None:
        """No session from now on; the one there was, to destroy if Janus still has it."""
        janus, self._janus = self._janus, None
        return janus

    def relay_candidate(self, target: Target, data: Mapping[str, Any]) -> None:
        """Janus's candidate for the browser's `target` connection (None: no more)."""
        candidate = data.get("candidate")
        if isinstance(candidate, dict) and candidate.get("completed"):
            candidate = None
        payload = {"target": target, "candidate": candidate}
        self.tasks.start(self.outbox("trickle", payload), "trickle")

    @property
    def who(self) -> str:
        return f"participant {self.participant.id} of meeting {self.meeting.id}"


class HandleSlot:
    """Where one of a participant's connections (`target`) keeps its VideoRoom handle. `ready`
    is set while there is one, so that a browser candidate arriving before the handle waits for
    it rather than failing. Janus's candidates go to the browser; its other events to
    `on_event`."""

    def __init__(self, target: Target, session: MediaSession, on_event: EventHandler) -> None:
        self.target: Target = target
        self.handle: JanusHandle | None = None
        self.ready = asyncio.Event()
        self._session = session
        self._on_event = on_event

    async def attach(self) -> JanusHandle:
        """The handle; a new one when there is none or Janus detached it."""
        if self.handle is not None and not self.handle.detached:
            return self.handle
        janus = await self._session.janus()
        self.handle = await janus.attach(PLUGIN, on_event=self._dispatch)
        self.ready.set()
        return self.handle

    async def drop(self) -> None:
        """Detach the handle (Janus hangs up its connection)."""
        handle, self.handle = self.handle, None
        self.ready.clear()
        if handle is not None:
            with contextlib.suppress(JanusError):
                await handle.detach()

    def forget(self) -> None:
        """Janus is gone, and the handle with it: none until attached again."""
        self.handle = None
        self.ready.clear()

    def release(self) -> None:
        """The session is ending: no handle from now on. `ready` stays as it is, so that a
        candidate arriving now fails at once instead of waiting for a handle."""
        self.handle = None

    async def trickle(self, candidate: Mapping[str, Any] | None) -> None:
        """A candidate of the browser's connection (None: no more)."""
        try:
            await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            raise ConflictError(
                f"There is no {self.target} connection to add candidates to.", code="NO_PEER"
            ) from None
        if self.handle is None:
            raise ConflictError(f"The {self.target} connection is gone.", code="NO_PEER")
        try:
            await self.handle.trickle(candidate)
        except JanusError as exc:
            raise media_error(exc) from exc

    def _dispatch(self, event: JanusEvent) -> None:
        if event.kind is EventKind.TRICKLE:
            self._session.relay_candidate(self.target, event.data)
        else:
            self._on_event(event)
