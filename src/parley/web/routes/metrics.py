"""`GET /metrics`: runtime figures of this process as JSON, for operators and benchmarks.

The default answer is cheap (a few counters and two reads under `/proc`), so it can be polled.
`?objects=true` adds a census of the live media objects (after a full garbage collection, so
what it counts is really reachable): it walks the whole heap and blocks the event loop for tens
of milliseconds, so it is a leak check, not something to scrape, and it is not computed when
`APP_ENV=production` (`objects` is then null). Nothing here is secret: counts and sizes only.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import threading
import time
from collections import Counter
from pathlib import Path

from aiortc import RTCPeerConnection
from fastapi import APIRouter, Request

from parley import memory
from parley.calls.live import LiveCall
from parley.config import AppEnv
from parley.rtc.speech_track import PACING, SpeechTrack, live_tracks
from parley.web.deps import LiveCallsDep, SettingsDep
from parley.web.packets import Garbage
from parley.web.schemas import Schema

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


@router.get(
    "/metrics",
    summary="Runtime figures of this process (memory, CPU, tasks, live calls, audio pacing)",
)
async def metrics(
    request: Request, live: LiveCallsDep, settings: SettingsDep, objects: bool = False
) -> RuntimeMetrics:
    census = None
    if objects and settings.server.app_env is not AppEnv.PRODUCTION:
        census = _census()
    return RuntimeMetrics(
        process=_process(),
        asyncio_tasks=len(asyncio.all_tasks()),
        models_warming=_warming(request),
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
        sockets=_sockets(request),
        caches=_caches(),
        objects=census,
    )


def _warming(request: Request) -> bool:
    task: asyncio.Task[None] | None = getattr(request.app.state, "warming", None)
    return task is not None and not task.done()


def _sockets(request: Request) -> SocketFigures:
    garbage: Garbage | None = getattr(getattr(request.app.state, "sio", None), "garbage", None)
    if garbage is None:  # the HTTP app alone, without Socket.IO
        return SocketFigures(malformed_packets=0, closed_for_malformed=0)
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
