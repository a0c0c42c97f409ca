"""Call capacity of one Parley server over real WebRTC: how many calls at once without audio
underruns, and whether calls in a row leave anything behind.

Three processes, all on loopback: `parley serve` (the server under test, with
ICE_HOST_ADDRESSES=127.0.0.1), an instant OpenAI stand-in (`tests/standins/fast_openai.py`:
fixed transcript, fixed streamed reply, cached speech) so that only the media path is measured,
and this process: one aiortc caller per call through the real REST + Socket.IO contract. Silero
VAD runs in the server for every call, as it does in production.

Part 1, concurrent calls. For each N of `--levels`, N callers connect (`--rate` per second); each
hears the greeting, then says a question every `--cycle` seconds and hears the answer (the AI
speaks about half the time). Over `--hold` seconds with all N up:
  underruns     counted in the server's SpeechTrack (`/metrics`): a *gap* is an interval of more
                than two frame periods (40 ms) between two 20 ms frames handed to the encoder
                (a receiver's jitter buffer runs dry: an audible glitch); a *late frame* is one
                handed over more than 20 ms after it was due (the stream runs behind its clock;
                one stall makes one gap but several late frames). `speech` counts those that
                fell while the AI had speech queued, `all` includes the silence between answers.
  client        frames lost (gaps in the RTP timestamps) and arrival gaps > 60 ms next to loud
                frames, over every caller; the clients' own loop lag is shown beside them, since
                a late client loop also makes gaps.
  CPU           the server process (all threads; 100 % = one core), its event-loop thread alone,
                and per connected call; the stand-in, this client process and everything else on
                the machine, so that outside load is visible.
Part 2, calls in a row. Each call: create, connect media, hear the greeting start, hang up by
leave-session, socket disconnect or REST end, in turn. Server RSS, asyncio tasks, live calls and
a census of peer connections and speech tracks (`/metrics?objects=true`) before, every `--every`
calls and after.

    .venv/bin/python -m bench.call_capacity                       # levels 10,20,40,60; 100 in a row
    .venv/bin/python -m bench.call_capacity --levels '' --sequential 1000 --every 100

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tests.live import LiveServer, Process, free_port, start_process, start_server
from tests.speech import resample

from bench import procstats
from bench.webrtc_caller import (
    FRAME,
    HANG_UPS,
    LOUD,
    RATE,
    Caller,
    LoopMic,
    Script,
    dial,
    hang_up,
    release,
)
from parley.ai.base import Pcm16
from parley.rtc.ice import use_host_addresses

API_KEY = "bench-standin-key"
QUESTION = "Hello, when will my order arrive?"
GREETING_S = 5.0  # the greeting (~3.5 s) is over before a caller first speaks
ARRIVAL_GAP_S = 0.06


# --- processes ----------------------------------------------------------------------------------


@contextmanager
def processes(workdir: Path, args: argparse.Namespace) -> Iterator[tuple[LiveServer, Process]]:
    """The stand-in, then the server pointed at it; both stopped (by their PIDs) on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "tests.standins.fast_openai", "--port", str(port)]
    standin = start_process([*argv, "--api-key", API_KEY], port, workdir / "standin.log")
    try:
        server = start_server(workdir / "server", _server_env(standin.url, args))
        print(f"  server pid {server.process.pid}, stand-in pid {standin.process.pid}", flush=True)
        try:
            yield server, standin
        finally:
            server.stop()
    finally:
        standin.stop()


def _server_env(standin_url: str, args: argparse.Namespace) -> dict[str, str]:
    return {
        "AI_STT": "openai",
        "AI_LLM": "openai",
        "AI_TTS": "openai",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": f"{standin_url}/v1",
        "ICE_HOST_ADDRESSES": "127.0.0.1",
        "STUN_SERVER_URL": "",
        "DEFAULT_LANGUAGE": "en",
        "AI_AUDIO_RESPONSE_EVENT": "false" if args.no_legacy_audio else "true",
        "LOG_LEVEL": args.log_level,
        "CALL_IDLE_TIMEOUT": "600",
        "MAX_LIVE_CALLS": "10000",  # the bench measures past the default cap
    }


async def question_clip(standin: Process) -> Pcm16:
    """The caller's question, spoken by the stand-in's voice, at 48 kHz with a short lead-in."""
    request = {"model": "tts-1", "input": QUESTION, "voice": "alloy", "response_format": "pcm"}
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{standin.url}/v1/audio/speech", json=request, headers=_auth())
    pcm = np.frombuffer(response.content, np.int16)
    speech = (resample(pcm, 24_000, RATE) * 32767).astype(np.int16)
    return np.concatenate([np.zeros(RATE // 5, np.int16), speech])


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def server_metrics(http: httpx.AsyncClient, *, objects: bool = False) -> dict[str, Any]:
    params = {"format": "json", "objects": "true"} if objects else {"format": "json"}
    response = await http.get("/metrics", params=params)
    response.raise_for_status()
    metrics: dict[str, Any] = response.json()
    return metrics


# --- measuring ----------------------------------------------------------------------------------


class LoopLag:
    """How late this process's own event loop wakes up (a busy client distorts what it hears)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick(), name="bench-loop-lag")

    async def _tick(self) -> None:
        while True:
            due = time.monotonic() + 0.01
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.samples.append((now, now - due))

    def between(self, start: float, end: float) -> list[float]:
        return [lag for t, lag in self.samples if start <= t <= end]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass(frozen=True)
class Snapshot:
    at: float
    server: procstats.CpuTimes
    standin: float
    client: float
    machine: float
    metrics: dict[str, Any]


async def snapshot(http: httpx.AsyncClient, server: LiveServer, standin: Process) -> Snapshot:
    metrics = await server_metrics(http)
    return Snapshot(
        at=time.monotonic(),
        server=procstats.cpu_times(server.process.pid),
        standin=procstats.cpu_times(standin.process.pid).total,
        client=procstats.cpu_times(os.getpid()).total,
        machine=procstats.machine_busy(),
        metrics=metrics,
    )


@dataclass
class Heard:
    """What the callers received inside the measuring window."""

    frames: int = 0
    loud: int = 0
    lost: int = 0  # frames missing from the RTP timestamp sequence
    gaps: int = 0  # arrival gaps > ARRIVAL_GAP_S next to a loud frame


def heard_between(callers: list[Caller], start: float, end: float) -> Heard:
    heard = Heard()
    for caller in callers:
        ear = caller.ear
        index = [i for i, t in enumerate(ear.arrivals) if start <= t <= end]
        heard.frames += len(index)
        heard.loud += sum(ear.levels[i] > LOUD for i in index)
        for i in index[1:]:
            step = ear.pts[i] - ear.pts[i - 1]
            heard.lost += max(0, step // FRAME - 1)
            loud = ear.levels[i] > LOUD or ear.levels[i - 1] > LOUD
            heard.gaps += loud and ear.arrivals[i] - ear.arrivals[i - 1] > ARRIVAL_GAP_S
    return heard


def percent(seconds: float, wall: float) -> float:
    return 100 * seconds / wall if wall > 0 else 0.0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# --- part 1: concurrent calls -------------------------------------------------------------------


@dataclass
class Level:
    n: int
    connected: int
    failures: list[str]
    before: Snapshot
    after: Snapshot
    heard: Heard
    lag: list[float]
    setup_s: list[float]


async def connect_many(
    http: httpx.AsyncClient, base: str, script: Script, n: int, args: argparse.Namespace
) -> tuple[list[Caller], list[str], list[float]]:
    """N callers, started `args.rate` per second; those whose media flowed, and the failures."""
    callers: list[Caller] = []
    failures: list[str] = []
    setup: list[float] = []

    async def one(i: int) -> None:
        await asyncio.sleep(i / args.rate)
        lead = GREETING_S + (i * 0.618 % 1) * args.cycle  # spread the questions over the cycle
        started = time.monotonic()
        try:
            caller = await dial(http, base, LoopMic(script, lead))
        except Exception as exc:
            failures.append(f"dial: {type(exc).__name__}: {exc}")
            return
        callers.append(caller)
        try:
            await asyncio.wait_for(caller.in_progress.wait(), 30)
            setup.append(time.monotonic() - started)
        except TimeoutError:
            failures.append(
                f"no media within 30 s (states {caller.states}, peer {caller.pc.connectionState},"
                f" ice {caller.pc.iceConnectionState}, errors {caller.errors})"
            )

    await asyncio.gather(*(one(i) for i in range(n)))
    return callers, failures, setup


async def run_level(
    server: LiveServer, standin: Process, script: Script, n: int, args: argparse.Namespace
) -> Level:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        callers, failures, setup = await connect_many(http, server.url, script, n, args)
        lag = LoopLag()
        lag.start()
        await asyncio.sleep(args.settle)
        before = await snapshot(http, server, standin)
        await asyncio.sleep(args.hold)
        after = await snapshot(http, server, standin)
        await lag.stop()
        connected = sum(c.in_progress.is_set() for c in callers)
        level = Level(
            n,
            connected,
            failures,
            before,
            after,
            heard_between(callers, before.at, after.at),
            lag.between(before.at, after.at),
            setup,
        )
        await hang_up_all(http, callers)
        await wait_idle(http)
    return level


async def hang_up_all(http: httpx.AsyncClient, callers: list[Caller]) -> None:
    async def one(i: int, caller: Caller) -> None:
        try:
            await hang_up(caller, http, HANG_UPS[i % len(HANG_UPS)])
        except Exception as exc:
            print(f"    hang-up {HANG_UPS[i % len(HANG_UPS)]} failed: {type(exc).__name__}")

    await asyncio.gather(*(one(i, c) for i, c in enumerate(callers)))


async def wait_idle(http: httpx.AsyncClient, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await server_metrics(http))["media"]["liveCalls"] == 0:
            return
        await asyncio.sleep(0.2)
    print("    (calls were still live on the server 30 s after the hang-ups)")


@dataclass(frozen=True)
class Figures:
    """One level's results, over its measuring window."""

    n: int
    connected: int
    wall: float
    speech_gaps: int
    gaps: int
    gap_seconds: float
    speech_late: int
    late: int
    frames: int
    server: float  # CPU %, 100 = one core
    loop: float
    standin: float
    client: float
    others: float
    rss_mb: float
    tasks: int

    @property
    def per_call(self) -> float:
        return self.server / max(1, self.connected)


def figures(level: Level) -> Figures:
    before, after = level.before, level.after
    wall = after.at - before.at
    m0, m1 = before.metrics["media"], after.metrics["media"]

    def used(seconds: float) -> float:
        return percent(seconds, wall)

    server = used(after.server.total - before.server.total)
    standin, client = used(after.standin - before.standin), used(after.client - before.client)
    return Figures(
        n=level.n,
        connected=level.connected,
        wall=wall,
        speech_gaps=m1["speechGaps"] - m0["speechGaps"],
        gaps=m1["gaps"] - m0["gaps"],
        gap_seconds=m1["gapSeconds"] - m0["gapSeconds"],
        speech_late=m1["speechUnderruns"] - m0["speechUnderruns"],
        late=m1["underruns"] - m0["underruns"],
        frames=m1["framesSent"] - m0["framesSent"],
        server=server,
        loop=used(after.server.loop - before.server.loop),
        standin=standin,
        client=client,
        others=used(after.machine - before.machine) - server - standin - client,
        rss_mb=after.metrics["process"]["rssBytes"] / 2**20,
        tasks=after.metrics["asyncioTasks"],
    )


def show_level(level: Level) -> Figures:
    f, heard, lag = figures(level), level.heard, level.lag
    setup = "/".join(f"{quantile(level.setup_s, q):.2f}" for q in (0.5, 0.95))
    failed = "; failures: " + "; ".join(sorted(set(level.failures))) if level.failures else ""
    lags = "/".join(f"{1000 * quantile(lag, q):.0f}" for q in (0.5, 0.99, 1.0))
    rows = [
        f"N={level.n}: {level.connected} connected (setup p50/p95 {setup} s){failed}",
        f"  server gaps       speech {f.speech_gaps}, all {f.gaps} ({f.gap_seconds:.2f} s"
        f" missing); late frames speech {f.speech_late}, all {f.late}; of {f.frames} frames"
        f" in {f.wall:.0f} s",
        f"  client            {heard.frames} frames ({100 * heard.loud / max(1, heard.frames):.0f}"
        f" % loud), lost {heard.lost}, arrival gaps near speech {heard.gaps};"
        f" client loop lag p50/p99/max {lags} ms",
        f"  server CPU        {f.server:.0f} % (event-loop thread {f.loop:.0f} %),"
        f" {f.per_call:.2f} % per call; RSS {f.rss_mb:.0f} MB; {f.tasks} asyncio tasks",
        f"  machine           stand-in {f.standin:.0f} %, clients {f.client:.0f} %, everything"
        f" else {f.others:.0f} % (of 200 %); load {procstats.load_average()}",
    ]
    print("\n" + "\n".join(f"  {row}" for row in rows), flush=True)
    return f


def show_summary(results: list[Figures]) -> None:
    print("\n  summary (server side; gaps and late frames are counts over the window)")
    print(
        "     N  up  speech gaps  all gaps  late frames  CPU %  loop %  CPU/call %  RSS MB"
        "  clients %  others %"
    )
    for f in results:
        print(
            f"  {f.n:4d} {f.connected:3d} {f.speech_gaps:12d} {f.gaps:9d} {f.late:12d}"
            f" {f.server:6.0f} {f.loop:7.0f} {f.per_call:11.2f} {f.rss_mb:7.0f}"
            f" {f.client:10.0f} {f.others:9.0f}"
        )


async def part_concurrent(workdir: Path, args: argparse.Namespace) -> None:
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    if not levels:
        return
    print(
        f"\n== concurrent calls: levels {levels}, {args.hold:.0f} s held each, a question every"
        f" {args.cycle:.0f} s; load before: {procstats.load_average()}"
    )
    with processes(workdir / "concurrent", args) as (server, standin):
        clip = await question_clip(standin)
        await warm_up(server, clip)
        script = Script.of(clip, args.cycle)
        results = [show_level(await run_level(server, standin, script, n, args)) for n in levels]
    show_summary(results)


async def warm_up(server: LiveServer, clip: Pcm16) -> None:
    """One call through greeting, question and answer, so the stand-in has its speech cached."""
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        caller = await dial(http, server.url, LoopMic(Script.of(clip, 30), GREETING_S))
        try:
            await asyncio.sleep(GREETING_S + len(clip) / RATE + 5)
        finally:
            await hang_up(caller, http, "leave-session")
        await wait_idle(http)


# --- part 2: calls in a row ---------------------------------------------------------------------


def census_row(calls: int | str, metrics: dict[str, Any]) -> str:
    process, media, objects = metrics["process"], metrics["media"], metrics.get("objects") or {}
    return (
        f"  {calls!s:>8} {process['rssBytes'] / 2**20:8.1f} {metrics['asyncioTasks']:6d}"
        f" {media['liveCalls']:5d} {objects.get('peerConnections', '-')!s:>6}"
        f" {objects.get('speechTracks', '-')!s:>7} {objects.get('liveCalls', '-')!s:>9}"
        f" {process['openFds']!s:>5} {process['threads']:8d} {objects.get('censusMs', 0):7.0f}"
    )


async def one_call_in_a_row(http: httpx.AsyncClient, base: str, silent: Script, path: str) -> None:
    caller = await dial(http, base, LoopMic(silent))
    try:
        await asyncio.wait_for(caller.ear.heard.wait(), 15)  # the greeting started
        await hang_up(caller, http, path)
    finally:
        await release(caller)


async def part_sequential(workdir: Path, args: argparse.Namespace) -> None:
    if args.sequential <= 0:
        return
    print(
        f"\n== {args.sequential} calls in a row (hang-ups rotate: {', '.join(HANG_UPS)});"
        f" load before: {procstats.load_average()}"
    )
    with processes(workdir / "sequential", args) as (server, _):
        print(
            "     calls   RSS MB  tasks  live  peers  tracks  LiveCalls   fds  threads  census ms"
        )
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            print(census_row("start", await server_metrics(http, objects=True)), flush=True)
            silent = Script.of(None, 0)
            durations, failures, started = [], 0, time.monotonic()
            for i in range(args.sequential):
                began = time.monotonic()
                try:
                    await one_call_in_a_row(http, server.url, silent, HANG_UPS[i % len(HANG_UPS)])
                    durations.append(time.monotonic() - began)
                except Exception as exc:
                    failures += 1
                    print(f"    call {i + 1} failed: {type(exc).__name__}: {exc}")
                if (i + 1) % args.every == 0:
                    metrics = await server_metrics(http, objects=True)
                    print(census_row(i + 1, metrics), flush=True)
            took = time.monotonic() - started
            await asyncio.sleep(args.drain)  # engine.io ends each closed socket's ping task late
            final = await server_metrics(http, objects=True)
            print(census_row("after", final))
    print(f"  server tasks after, by coroutine: {final['objects']['tasks']}")
    print(
        f"  {len(durations)} calls ok, {failures} failed, in {took:.0f} s;"
        f" per call p50 {quantile(durations, 0.5):.2f} s, p95 {quantile(durations, 0.95):.2f} s,"
        f" mean {statistics.mean(durations) if durations else 0:.2f} s"
    )


async def run(args: argparse.Namespace) -> None:
    use_host_addresses(["127.0.0.1"])  # this process's peers offer loopback candidates
    workdir = Path(tempfile.mkdtemp(prefix="parley-capacity-"))
    print(f"work directory (server and stand-in logs): {workdir}")
    try:
        await part_concurrent(workdir, args)
        await part_sequential(workdir, args)
    finally:
        use_host_addresses(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="10,20,40,60", help="concurrent calls, e.g. 10,20")
    parser.add_argument("--hold", type=float, default=25, help="seconds measured per level")
    parser.add_argument("--settle", type=float, default=3, help="seconds before measuring")
    parser.add_argument("--rate", type=float, default=5, help="calls started per second")
    parser.add_argument("--cycle", type=float, default=8, help="seconds between questions")
    parser.add_argument("--sequential", type=int, default=100, help="calls in a row (0: none)")
    parser.add_argument("--every", type=int, default=25, help="census every so many calls")
    parser.add_argument("--drain", type=float, default=30, help="seconds before the last census")
    parser.add_argument("--log-level", default="WARNING", help="the server's LOG_LEVEL")
    parser.add_argument(
        "--no-legacy-audio", action="store_true", help="AI_AUDIO_RESPONSE_EVENT=false"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
