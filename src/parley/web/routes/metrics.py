"""`GET /metrics`: runtime figures of this process, for Prometheus, operators and benchmarks.

The default answer is the Prometheus text format (`parley.observability`: counters and
histograms of calls, turns, voice-to-voice and stage latencies, pacing, meetings, participants,
Janus restarts, model jobs, cache bytes), for a scraper. `?format=json` answers the JSON view
the benchmarks read (below), as it always was.

The JSON answer is cheap (a few counters and two reads under `/proc`), so it can be polled.
`?objects=true` adds a census of the live media objects (after a full garbage collection, so
what it counts is really reachable): it walks the whole heap and blocks the event loop for tens
of milliseconds, so it is a leak check, not something to scrape, and it is not computed when
`APP_ENV=production` (`objects` is then null). Nothing here is secret: counts and sizes only.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import os
import resource
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Annotated

from aiortc import RTCPeerConnection
from fastapi import APIRouter, Query, Response

from parley import memory
from parley.calls.live import LiveCall
from parley.config import AppEnv
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.service import MeetingService
from parley.observability import CONTENT_TYPE, Metrics
from parley.rtc.speech_track import PACING, SpeechTrack, live_tracks
from parley.web.deps import ServicesDep
from parley.web.packets import Garbage
from parley.web.schemas import Schema
from parley.web.services import Services, Sockets

router = APIRouter(tags=["health"])


class ProcessFigures(Schema):
    rss_bytes: int
    cpu_seconds: float
    threads: int
    open_fds: int | None


class MediaFigures(Schema):
    live_calls: int
    speech_tracks: int
    frames_sent: int
    underruns: int
    speech_underruns: int
    gaps: int
    speech_gaps: int
    gap_seconds: float


class SocketFigures(Schema):
    malformed_packets: int  # dropped since start (`parley.web.packets`)
    closed_for_malformed: int  # connections closed for sending too many


class CacheBytes(Schema):
    bytes: int  # held now, measured from what is kept (`parley.memory`)
    limit_bytes: int  # never more than this
    entries: int


class ObjectCensus(Schema):
    peer_connections: int
    speech_tracks: int
    live_calls: int
    tasks: dict[str, int]  # asyncio tasks by coroutine, the ten most common
    census_ms: float


class RuntimeMetrics(Schema):
    process: ProcessFigures
    asyncio_tasks: int
    models_warming: bool  # the local LLM is still reading the calls' prompts in after start-up
    media: MediaFigures
    sockets: SocketFigures
    caches: dict[str, CacheBytes]  # every cache and per-call/per-meeting store that can grow
    objects: ObjectCensus | None = None


class MetricsFormat(enum.StrEnum):
    PROMETHEUS = "prometheus"
    JSON = "json"


@router.get(
    "/metrics",
    summary="Runtime figures of this process (Prometheus text format; `?format=json` for JSON)",
    response_model=RuntimeMetrics,
    responses={
        200: {
            "description": "Prometheus's text format (version 0.0.4), or `RuntimeMetrics` as JSON",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(
    services: ServicesDep,
    view: Annotated[MetricsFormat, Query(alias="format")] = MetricsFormat.PROMETHEUS,
    objects: bool = False,
) -> Response | RuntimeMetrics:
    """`objects` (JSON only) adds the census of live media objects."""
    if view is MetricsFormat.PROMETHEUS:
        return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)
    return _figures(services, objects=objects)


def watch(services: Services) -> None:
    """Register the app's own figures, read at every Prometheus scrape: live calls, warm-up,
    Janus restarts, malformed packets, and the meetings' attendance."""
    metrics, live, janus = services.metrics, services.live, services.janus
    metrics.read("parley_live_calls", "Live calls in this process.", lambda: len(live))
    metrics.read(
        "parley_models_warming",
        "1 while the local LLM still reads the calls' prompts in after start-up.",
        lambda: float(services.models_warming),
    )
    metrics.read(
        "parley_janus_restarts",
        "Times the supervised Janus was started again after it died.",
        lambda: janus.restarts if janus is not None else 0,
        counter=True,
    )
    _watch_attendance(metrics, services.meetings)
    if services.sockets is not None:
        _watch_garbage(metrics, services.sockets.server.garbage)


def _watch_attendance(metrics: Metrics, meetings: MeetingService) -> None:
    attendance = Attendance()
    meetings.participants.subscribe(attendance)
    metrics.read(
        "parley_meetings_live", "Meetings with someone in them.", lambda: attendance.meetings
    )
    metrics.read(
        "parley_meeting_participants", "People in live meetings.", lambda: attendance.participants
    )


def _watch_garbage(metrics: Metrics, garbage: Garbage) -> None:
    metrics.read(
        "parley_socket_malformed_packets",
        "Malformed Socket.IO packets dropped.",
        lambda: garbage.packets,
        counter=True,
    )
    metrics.read(
        "parley_socket_closed_for_malformed",
        "Connections closed for sending too many malformed packets.",
        lambda: garbage.closed,
        counter=True,
    )


class Attendance:
    """Who is in which live meeting, kept from the participant registry's events (a listener),
    so that the counts need no reach into the registry's insides."""

    def __init__(self) -> None:
        self._rooms: dict[uuid.UUID, set[str]] = {}

    async def __call__(self, event: RoomEvent) -> None:
        who = event.participant
        if event.kind is RoomEventKind.JOINED and who is not None:
            self._rooms.setdefault(event.meeting_id, set()).add(who.id)
        elif event.kind in (RoomEventKind.LEFT, RoomEventKind.KICKED) and who is not None:
            self._leave(event.meeting_id, who.id)
        elif event.kind is RoomEventKind.CLOSED:
            self._rooms.pop(event.meeting_id, None)

    def _leave(self, meeting_id: uuid.UUID, participant_id: str) -> None:
        room = self._rooms.get(meeting_id, set())
        room.discard(participant_id)
        if not room:
            self._rooms.pop(meeting_id, None)

    @property
    def meetings(self) -> int:
        return len(self._rooms)

    @property
    def participants(self) -> int:
        return sum(len(room) for room in self._rooms.values())


def _figures(services: Services, *, objects: bool) -> RuntimeMetrics:
    census = None
    if objects and services.settings.server.app_env is not AppEnv.PRODUCTION:
        census = _census()
    live = services.live
    return RuntimeMetrics(
        process=_process(),
        asyncio_tasks=len(asyncio.all_tasks()),
        models_warming=services.models_warming,
        media=MediaFigures(
            live_calls=len(live),
            speech_tracks=live_tracks(),
            frames_sent=PACING.frames,
            underruns=PACING.underruns,
            speech_underruns=PACING.speech_underruns,
            gaps=PACING.gaps,
            speech_gaps=PACING.speech_gaps,
            gap_seconds=round(PACING.gap_seconds, 3),
        ),
        sockets=_sockets(services.sockets),
        caches=_caches(),
        objects=census,
    )


def _sockets(sockets: Sockets | None) -> SocketFigures:
    if sockets is None:  # the HTTP app alone, without Socket.IO
        return SocketFigures(malformed_packets=0, closed_for_malformed=0)
    garbage = sockets.server.garbage
    return SocketFigures(malformed_packets=garbage.packets, closed_for_malformed=garbage.closed)


def _caches() -> dict[str, CacheBytes]:
    return {
        name: CacheBytes(bytes=f.bytes, limit_bytes=f.limit, entries=f.entries)
        for name, f in memory.figures().items()
    }


def _process() -> ProcessFigures:
    return ProcessFigures(
        rss_bytes=_rss_bytes(),
        cpu_seconds=round(time.process_time(), 3),
        threads=threading.active_count(),
        open_fds=_open_fds(),
    )


def _rss_bytes() -> int:
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):  # not Linux: the peak is what is portable
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return resident * os.sysconf("SC_PAGE_SIZE")


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _census() -> ObjectCensus:
    started = time.perf_counter()
    gc.collect()
    counts = {RTCPeerConnection: 0, SpeechTrack: 0, LiveCall: 0}
    for obj in gc.get_objects():
        for kind in counts:
            if isinstance(obj, kind):
                counts[kind] += 1
    return ObjectCensus(
        peer_connections=counts[RTCPeerConnection],
        speech_tracks=counts[SpeechTrack],
        live_calls=counts[LiveCall],
        tasks=_tasks_by_coroutine(),
        census_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _tasks_by_coroutine() -> dict[str, int]:
    names = Counter(getattr(task.get_coro(), "__qualname__", "?") for task in asyncio.all_tasks())
    return dict(names.most_common(10))
