"""Soak: one real server under mixed traffic for a bounded time, its memory and resources printed
every 30 s, to see that they are flat once warmed up (issue 12).

One `parley serve` on loopback with the offline default models (Whisper, Qwen on llama.cpp,
Piper; no Janus: meetings without media, as anonymous traffic needs none), and this process
generating, all at once until the time is up:
- **meetings**: a new one each time (REST), two people join over `/meetings`, three chat
  messages (each chat is evaluated ahead by the assistant in the background), one question to
  the assistant answered in full, then both leave: what anonymous visitors can do.
- **joins**: someone joins a long-lived meeting and leaves, over and over (silently: a line of
  chat a second there would have the assistant re-read its last 30 messages each time, since
  its context window slides by one message per message).
- **AI calls**, one at a time, through the real REST + Socket.IO + WebRTC contract (the aiortc
  caller of `bench/webrtc_caller.py`): the greeting, a spoken question (Piper, 12 % faster), its
  spoken answer, then a hang-up (leave-session, socket disconnect, REST end, in turn).

Every `--every` seconds: the server's RSS and its anonymous part (from /proc: the rest is the
models' mapped files), asyncio tasks, open fds, threads, live calls, each cache's bytes against
its limit (`/metrics` `caches`), the work done so far and the machine's load. At the end, the
figures once warmed up (after the first third of the run, at least two minutes) against the last
ones, and the slope of anonymous memory over that time.

The LLM's state cache is set to `--state-cache-mib` (64 by default, so that it is full within
the warm-up: the server's default, 256 MiB, fills after ~80 distinct prompts).

Bounded in time (`--minutes`) and in count (`--max-meetings`, `--max-joins`, `--max-calls`);
loopback only. Prints figures, asserts nothing.

    .venv/bin/python -m bench.soak [--minutes 10] [--every 30] [--state-cache-mib 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.live import LiveServer, start_server
from tests.meetings.client import Participant, connected, create_meeting

from bench import procstats
from bench.voice_latency import Clip, first_loud, make_clips, quiet_until, warmed_up
from bench.webrtc_caller import HANG_UPS, QueueMic, Script, dial, hang_up, release
from parley.rtc.ice import use_host_addresses

MiB = 2**20
CHAT = [
    "{who}: the launch of feature {n} moved to Friday; QA signs off on Thursday.",
    "{who}: then the release notes for {n} need a draft by Wednesday noon.",
    "{who}: I'll write them; Dana reviews the migration steps for build {n}.",
]
QUESTIONS = [
    "When is the launch now, in one sentence?",
    "Who reviews the migration steps?",
    "What is due on Wednesday?",
]
WARM_PAUSE_S = 1.5  # the chat's quiet moment, after which the assistant evaluates it ahead


@dataclass
class Tally:
    """The work done so far, and what failed (by kind, with the first few messages)."""

    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    first_failures: list[str] = field(default_factory=list)

    def failure(self, kind: str, exc: BaseException) -> None:
        self.failed[kind] += 1
        if len(self.first_failures) < 10:
            self.first_failures.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the traffic started
    rss: int
    anon: int
    tasks: int
    fds: int
    threads: int
    live_calls: int
    caches: dict[str, Any]
    done: dict[str, int]
    failed: int
    load: str


# --- the traffic ------------------------------------------------------------------------------


async def a_meeting(base: str, n: int, tally: Tally) -> None:
    meeting, _ = await create_meeting(base, title=f"Soak {n}")
    async with connected(base) as ann, connected(base) as ben:
        await ann.join(meeting["id"], "Ann")
        await ben.join(meeting["id"], "Ben")
        for line, person, who in zip(CHAT, (ann, ben, ann), ("Ann", "Ben", "Ann"), strict=True):
            await person.ok("chat", {"text": line.format(who=who, n=n)})
            tally.done["chat"] += 1
        await asyncio.sleep(WARM_PAUSE_S)
        await ask(ben, QUESTIONS[n % len(QUESTIONS)], tally)
        await ann.ok("leave")
        await ben.ok("leave")
    tally.done["meetings"] += 1


async def ask(person: Participant, question: str, tally: Tally) -> None:
    asked = await person.ok("ask", {"question": question})
    key = asked["exchangeId"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if person.received("assistant-done", lambda p: p["exchangeId"] == key):
            tally.done["answers"] += 1
            return
        if person.received("assistant-error", lambda p: p.get("exchangeId") == key):
            raise RuntimeError("the assistant answered with an error")
        await asyncio.sleep(0.1)
    raise TimeoutError("no answer from the assistant within 180 s")


async def a_join(base: str, meeting_id: str, n: int, tally: Tally) -> None:
    async with connected(base) as person:
        await person.join(meeting_id, f"Visitor {n}")
        await person.ok("leave")
    tally.done["joins"] += 1


async def a_call(http: httpx.AsyncClient, base: str, clip: Clip, n: int, tally: Tally) -> None:
    """Greeting, one spoken question, its answer heard to the end, a hang-up."""
    mic = QueueMic(Script.of(None, 0).silence)
    caller = await dial(http, base, mic)
    try:
        await asyncio.wait_for(caller.in_progress.wait(), 30)
        flowing = time.monotonic()
        if await first_loud(caller.ear, flowing, within=30) is None:
            raise TimeoutError("no greeting heard within 30 s")
        await quiet_until(caller.ear, flowing, within=60)
        spoken_end = mic.say(clip.packets) + clip.end_s
        answer = await first_loud(caller.ear, spoken_end + 0.05, within=90)
        if answer is None:
            raise TimeoutError("no answer heard within 90 s")
        await quiet_until(caller.ear, answer, within=90)
        tally.done["callTurns"] += 1
        await hang_up(caller, http, HANG_UPS[n % len(HANG_UPS)])
    finally:
        await release(caller)
    tally.done["calls"] += 1


async def repeat(
    kind: str,
    until: float,
    limit: int,
    pause_s: float,
    tally: Tally,
    one: Callable[[int], Awaitable[None]],
) -> None:
    """`one(n)` for n = 0, 1, ... until the time is up or `limit` were started; a failure is
    counted and the loop goes on."""
    for n in range(limit):
        if time.monotonic() >= until:
            return
        try:
            await one(n)
        except Exception as exc:
            tally.failure(kind, exc)
            await asyncio.sleep(2)
        await asyncio.sleep(pause_s)


async def traffic(
    server: LiveServer, clips: list[Clip], until: float, tally: Tally, args: argparse.Namespace
) -> None:
    base = server.url
    lobby, _ = await create_meeting(base, title="Soak lobby")
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await asyncio.gather(
            repeat(
                "meeting", until, args.max_meetings, 1.0, tally, lambda n: a_meeting(base, n, tally)
            ),
            repeat(
                "join",
                until,
                args.max_joins,
                1.0,
                tally,
                lambda n: a_join(base, lobby["id"], n, tally),
            ),
            repeat(
                "call",
                until,
                args.max_calls,
                2.0,
                tally,
                lambda n: a_call(http, base, clips[n % len(clips)], n, tally),
            ),
        )


# --- the figures --------------------------------------------------------------------------------


def rss_anon(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


async def sample(http: httpx.AsyncClient, pid: int, started: float, tally: Tally) -> Sample:
    metrics = (await http.get("/metrics?format=json")).json()
    process = metrics["process"]
    return Sample(
        at=time.monotonic() - started,
        rss=process["rssBytes"],
        anon=rss_anon(pid),
        tasks=metrics["asyncioTasks"],
        fds=process["openFds"] or 0,
        threads=process["threads"],
        live_calls=metrics["media"]["liveCalls"],
        caches=metrics.get("caches", {}),
        done=dict(tally.done),
        failed=sum(tally.failed.values()),
        load=procstats.load_average(),
    )


HEADER = (
    "   time  RSS MB  anon MB  tasks  fds  thr  calls  meetings answers joins calls  fail"
    "  load              caches (MiB held / limit, entries)"
)


def row(s: Sample) -> str:
    caches = "  ".join(
        f"{name} {c['bytes'] / MiB:.2f}/{c['limitBytes'] / MiB:.1f} ({c['entries']})"
        for name, c in s.caches.items()
    )
    d = s.done
    return (
        f"  {s.at:5.0f}s {s.rss / MiB:7.1f} {s.anon / MiB:8.1f} {s.tasks:6d} {s.fds:4d}"
        f" {s.threads:4d} {s.live_calls:6d}  {d.get('meetings', 0):8d} {d.get('answers', 0):7d}"
        f" {d.get('joins', 0):5d} {d.get('calls', 0):5d} {s.failed:5d}  {s.load:16s}  {caches}"
    )


async def watch(
    server: LiveServer,
    started: float,
    until: float,
    tally: Tally,
    every: float,
    samples: list[Sample],
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        while True:
            samples.append(await sample(http, server.process.pid, started, tally))
            print(row(samples[-1]), flush=True)
            if time.monotonic() >= until:
                return
            await asyncio.sleep(min(every, max(0.0, until - time.monotonic())))


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0


FIGURES: dict[str, Callable[[Sample], float]] = {
    "RSS MB": lambda s: s.rss / MiB,
    "anon MB": lambda s: s.anon / MiB,
    "tasks": lambda s: s.tasks,
    "fds": lambda s: s.fds,
    "threads": lambda s: s.threads,
}


def size(count: int) -> str:
    return f"{count / MiB:.2f} MiB" if count >= MiB else f"{count / 1024:.1f} KiB"


def summary(samples: list[Sample], tally: Tally, minutes: float) -> None:
    warm_s = max(120.0, minutes * 60 / 3)
    steady = [s for s in samples if s.at >= warm_s] or samples[-1:]
    first, last = steady[0], steady[-1]
    print(f"\n== once warmed up (from {first.at:.0f} s to {last.at:.0f} s, {len(steady)} samples)")
    for name, value in FIGURES.items():
        values = [value(s) for s in steady]
        slope = slope_per_minute([(s.at, value(s)) for s in steady])
        print(
            f"  {name:8s} first {values[0]:8.1f}  last {values[-1]:8.1f}  min {min(values):8.1f}"
            f"  max {max(values):8.1f}  slope {slope:+7.2f}/min"
        )
    for name in sorted({n for s in samples for n in s.caches}):
        held = [s.caches[name]["bytes"] for s in samples if name in s.caches]
        limit = max(s.caches[name]["limitBytes"] for s in samples if name in s.caches)
        print(f"  cache {name}: at most {size(max(held))} held, of {size(limit)}")
    print(f"  work: {dict(tally.done)}; failures: {dict(tally.failed) or 'none'}")
    for failure in tally.first_failures:
        print(f"    {failure}")


# --- the run ----------------------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        "ICE_HOST_ADDRESSES": "127.0.0.1",
        "STUN_SERVER_URL": "",
        "DEFAULT_LANGUAGE": "en",
        "LOG_LEVEL": "WARNING",
        "CALL_IDLE_TIMEOUT": "600",
        "LLM_STATE_CACHE_BYTES": str(args.state_cache_mib * MiB),
    }


async def run(args: argparse.Namespace) -> None:
    use_host_addresses(["127.0.0.1"])  # this process's peers offer loopback candidates
    workdir = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    print(f"work directory (server log): {workdir}; load before: {procstats.load_average()}")
    clips = await make_clips()
    server = start_server(workdir / "server", server_env(args), wait=300)
    print(
        f"server pid {server.process.pid}; {args.minutes} min of traffic, figures every"
        f" {args.every:.0f} s; LLM state cache {args.state_cache_mib} MiB"
    )
    samples: list[Sample] = []
    tally = Tally()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await warmed_up(http, within=300)
        print(HEADER)
        started = time.monotonic()
        until = started + args.minutes * 60
        await asyncio.gather(
            traffic(server, clips, until, tally, args),
            watch(server, started, until, tally, args.every, samples),
        )
        await asyncio.sleep(args.drain)  # closed sockets' tasks end, the last answers are stored
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            samples.append(await sample(http, server.process.pid, started, tally))
        print(row(samples[-1]) + "   (after the drain)")
        summary(samples, tally, args.minutes)
    finally:
        server.stop()
        use_host_addresses(None)
        own = procstats.rss_bytes(os.getpid()) / MiB
        print(f"server stopped; this process's own RSS {own:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="minutes of traffic")
    parser.add_argument("--every", type=float, default=30, help="seconds between figures")
    parser.add_argument("--drain", type=float, default=15, help="seconds before the last figures")
    parser.add_argument("--state-cache-mib", type=int, default=64, help="LLM_STATE_CACHE_BYTES")
    parser.add_argument("--max-meetings", type=int, default=2000, help="meetings at most")
    parser.add_argument("--max-joins", type=int, default=5000, help="joins at most")
    parser.add_argument("--max-calls", type=int, default=500, help="AI calls at most")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
