"""The meetings' rooms in Janus's VideoRoom plugin.

The database is the truth; Janus is brought in line with it:

- **A new meeting's room is created at once** when Janus answers, under the room id the meeting
  was given at creation (`Meeting.janus_room`, fixed for its life). If Janus is down or refuses,
  the meeting is created all the same and its room is *pending* (`mediaReady: false`).
- **Every live meeting's room is (re)created** when the app starts and each time the client
  reconnects (`RECONNECTED`: a restarted Janus has no rooms). A room Janus already has counts as
  made. Joining a meeting whose room is pending tries `open()` again.
- **Ending or deleting** a meeting destroys its room (everyone in it is put out by Janus).
- **With Janus off** (`JANUS_ENABLED=false`) `PendingRooms` stands in: every room stays pending,
  and is created at the first start with Janus on.

Rooms are never `permanent`; each has `publishers`, `bitrate` (with `bitrate_cap`) and the video
codec of its meeting, and a `secret` derived from its id and Janus's admin key (else Parley's
meeting token key) with HMAC-SHA256, so that Parley can always destroy, kick, moderate and
`rtp_forward` without storing it. Parley checks meeting PINs
itself (it keeps only their hashes), so Janus rooms carry none; they are private, so they are
listed only with the admin key. Room operations are serialised with one lock, so a reconciliation
can never recreate a room that a delete running beside it has just destroyed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator

from parley.errors import JanusError, JanusPluginError, JanusUnavailableError
from parley.janus.client import ConnectionEvent, ConnectionState, JanusClient, JanusSession
from parley.janus.videoroom import NO_SUCH_FEED, NO_SUCH_ROOM, ROOM_EXISTS, RoomSpec, VideoRoomAdmin
from parley.meetings.domain import Meeting
from parley.tasks import CloseOnce, TaskSet

log = logging.getLogger("parley.meetings.rooms")

LiveMeetings = Callable[[], Awaitable[list[Meeting]]]


class PendingRooms:
    """No SFU (Janus is off): rooms stay pending, actions on media have nothing to act on."""

    def is_ready(self, meeting: Meeting) -> bool:
        return False

    async def open(self, meeting: Meeting) -> bool:
        return False

    async def close(self, meeting: Meeting) -> None:
        return None

    async def kick(self, meeting: Meeting, feed_id: int) -> None:
        return None

    async def mute(self, meeting: Meeting, feed_id: int, mid: str, *, mute: bool) -> None:
        return None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def room_spec(meeting: Meeting, secret: str) -> RoomSpec:
    return RoomSpec(
        description=f"parley meeting {meeting.id}",
        secret=secret,
        publishers=meeting.max_publishers,
        bitrate=meeting.bitrate,
        bitrate_cap=True,
        is_private=True,
        audiocodec="opus",
        videocodec=meeting.video_codec.value,
        extra={"notify_joining": True},
    )


class JanusRooms:
    """Keeps one VideoRoom room per live meeting in the Janus that `client` is connected to."""

    def __init__(self, client: JanusClient, live_meetings: LiveMeetings, key: str) -> None:
        self._client = client
        self._live_meetings = live_meetings
        self._key = key.encode()
        self._ready: set[int] = set()
        self._lock = asyncio.Lock()
        self._session: JanusSession | None = None
        self._admin: VideoRoomAdmin | None = None
        self._tasks = TaskSet("meeting-rooms")
        self._unsubscribe: Callable[[], None] | None = None
        self._closer = CloseOnce()
        self.reconciliations = 0

    async def start(self) -> None:
        """Follow the client's reconnections and bring Janus in line now, in the background."""
        self._unsubscribe = self._client.add_listener(self._on_connection)
        self._tasks.start(self.reconcile(), "reconcile")

    def is_ready(self, meeting: Meeting) -> bool:
        return meeting.janus_room in self._ready

    async def open(self, meeting: Meeting) -> bool:
        async with self._lock:
            try:
                await self._create(meeting)
            except JanusError as exc:
                log.warning("the room of meeting %s is pending: %s", meeting.id, exc.message)
                return False
        return True

    async def close(self, meeting: Meeting) -> None:
        async with self._lock:
            self._ready.discard(meeting.janus_room)
            try:
                admin = await self._admin_handle()
                await admin.destroy(meeting.janus_room, secret=self._secret(meeting.janus_room))
            except JanusPluginError as exc:
                if exc.janus_code != NO_SUCH_ROOM:
                    log.warning("destroying the room of %s failed: %s", meeting.id, exc.message)
            except JanusError as exc:  # down: a restarted Janus will not have it anyway
                log.warning("destroying the room of %s failed: %s", meeting.id, exc.message)

    async def kick(self, meeting: Meeting, feed_id: int) -> None:
        with _unless_gone(NO_SUCH_ROOM, NO_SUCH_FEED):
            admin = await self._admin_handle()
            secret = self._secret(meeting.janus_room)
            await admin.kick(meeting.janus_room, feed_id, secret=secret)

    async def mute(self, meeting: Meeting, feed_id: int, mid: str, *, mute: bool) -> None:
        with _unless_gone(NO_SUCH_ROOM, NO_SUCH_FEED):
            admin = await self._admin_handle()
            secret = self._secret(meeting.janus_room)
            await admin.moderate(meeting.janus_room, feed_id, mid, mute=mute, secret=secret)

    async def reconcile(self) -> int:
        """Create the room of every live meeting that Janus lacks; how many were created."""
        created = 0
        async with self._lock:
            try:
                admin = await self._admin_handle()
                existing = {room.room for room in await admin.list_rooms()}
                for meeting in await self._live_meetings():
                    created += await self._recreate(meeting, existing)
            except JanusError as exc:
                log.warning("meeting rooms not reconciled with Janus: %s", exc.message)
                return created
        self.reconciliations += 1
        log.info("meeting rooms reconciled with Janus: %d created", created)
        return created

    async def aclose(self) -> None:
        """Stop following Janus and let go of the admin session (rooms stay: Janus may be
        external and outlive this process; a supervised one stops with it). A second or
        concurrent call waits for the first."""
        await self._closer.run(self._close)

    async def _close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._tasks.aclose()
        session, self._session, self._admin = self._session, None, None
        if session is not None:
            with contextlib.suppress(JanusError, TimeoutError):
                await asyncio.wait_for(session.destroy(), 2)

    # -- inside ------------------------------------------------------------------------------

    async def _recreate(self, meeting: Meeting, existing: set[int]) -> int:
        if meeting.janus_room in existing:
            self._ready.add(meeting.janus_room)
            return 0
        try:
            await self._create(meeting)
        except JanusPluginError as exc:  # this room only; the others go on
            log.warning("the room of meeting %s stays pending: %s", meeting.id, exc.message)
            return 0
        return 1

    async def _create(self, meeting: Meeting) -> None:
        admin = await self._admin_handle()
        spec = room_spec(meeting, self._secret(meeting.janus_room))
        try:
            await admin.create(spec, room=meeting.janus_room)
        except JanusPluginError as exc:
            if exc.janus_code != ROOM_EXISTS:
                raise
        self._ready.add(meeting.janus_room)

    async def _admin_handle(self) -> VideoRoomAdmin:
        """The admin handle, attached again in a new session after a reconnection."""
        if self._admin is not None and not self._admin.handle.detached:
            return self._admin
        if not self._client.connected:
            raise JanusUnavailableError("not connected to Janus")
        self._session = await self._client.create_session()
        self._admin = await VideoRoomAdmin.attach(self._client, self._session)
        return self._admin

    def _secret(self, room: int) -> str:
        """The room's secret: keyed by Janus's admin key when it has one (an external Janus
        keeps it across our restarts; a supervised one gets new keys and new rooms together)."""
        endpoint = self._client.endpoint
        key = (endpoint.admin_key or "").encode() or self._key
        return hmac.new(key, f"parley-room:{room}".encode(), hashlib.sha256).hexdigest()[:40]

    def _on_connection(self, event: ConnectionEvent) -> None:
        if event.state is ConnectionState.DISCONNECTED:
            self._ready.clear()
            self._admin = self._session = None
        elif event.state is ConnectionState.RECONNECTED:
            self._tasks.start(self.reconcile(), "reconcile")


@contextlib.contextmanager
def _unless_gone(*codes: int) -> Iterator[None]:
    """A room or feed already gone, or a Janus that is down (its media went with it), is what
    the caller wanted anyway: the participant is out of the room, or not heard."""
    try:
        yield
    except JanusPluginError as exc:
        if exc.janus_code not in codes:
            raise
    except JanusUnavailableError as exc:
        log.info("Janus is down; nothing to act on there: %s", exc.reason)
