"""Meetings over a real Janus: join → first remote video frame, Janus's CPU as viewers and
publishers are added, and the assistant's time to its first chunk.

Everything runs in a network namespace this benchmark creates (Janus needs a non-loopback
interface; see tests/netns.py), against the real app with Janus and the offline default models.
The participants are aiortc peers negotiating through `/meetings` as browsers do
(tests/meetings/rtc_participant.py), each publishing a 320x240 test pattern and a tone.

- **join → first frame**: a newcomer joins a meeting where someone publishes, publishes too,
  and the time from its `join` request to its first decoded video frame from the other is taken.
- **Janus CPU**: one publisher to N viewers, then N participants all sending to all (each then
  receives N-1 videos), measured from Janus's /proc over a steady window. The load generator
  (this process: aiortc encoding and decoding in Python) is printed too; on 2 cores it is what
  runs out first.
- **assistant**: questions over `/meetings` with some chat as context, one every few seconds
  (3 s after the last answer: reading it and typing the next question take longer): time from
  `ask` to the first `assistant-chunk` at the client, and the server's own `firstChunkMs`.

Prints figures; asserts nothing. Needs root (network namespaces).

    .venv/bin/python -m bench.meeting [--joins 12] [--viewers 1,2,4,8] [--mesh 2,3,4]
                                      [--questions 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from tests.conftest import make_settings
from tests.live import serve_app
from tests.meetings.client import connected, create_meeting
from tests.meetings.rtc_participant import RtcParticipant, rtc_participant
from tests.netns import Netns, network_namespace

from bench.procstats import cpu_times
from parley.janus.process import JanusSupervisor

WINDOW_S = 6.0
THINK_S = 3.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    if not values:
        return "no samples"
    p50, p95 = pct(values, 0.5) * scale, pct(values, 0.95) * scale
    return f"p50 {p50:.0f} {unit}, p95 {p95:.0f} {unit} (n={len(values)})"


async def participant(
    stack: AsyncExitStack, base: str, meeting_id: str, name: str, *, publish: bool = True
) -> RtcParticipant:
    person = await stack.enter_async_context(rtc_participant(base))
    await person.client.join(meeting_id, name)
    if publish:
        reply = await person.publish()
        assert reply["ok"], reply
    return person


async def joins(base: str, count: int) -> list[float]:
    times: list[float] = []
    for n in range(count):
        meeting, _ = await create_meeting(base, title=f"join {n}")
        async with AsyncExitStack() as stack:
            host = await participant(stack, base, meeting["id"], "Host")
            await asyncio.sleep(0.3)  # the host's media is flowing
            newcomer = await stack.enter_async_context(rtc_participant(base))
            started = time.monotonic()
            await newcomer.client.join(meeting["id"], "Newcomer")
            await newcomer.publish()
            await newcomer.wait_decoding([host.id], video=1, audio=0, within=15)
            assert newcomer.first_frame_at is not None
            times.append(newcomer.first_frame_at - started)
    return times


async def janus_cpu(janus_pid: int, people: list[RtcParticipant]) -> tuple[float, float, int]:
    """Janus's and this process's CPU (% of one core) over a window; frames decoded in it."""
    await asyncio.sleep(2)  # past the start: keyframes, bandwidth estimation
    frames_before = sum(sum(f["video"] for f in p.frames.values()) for p in people)
    janus0, me0, t0 = cpu_times(janus_pid).total, cpu_times(os.getpid()).total, time.monotonic()
    await asyncio.sleep(WINDOW_S)
    elapsed = time.monotonic() - t0
    janus = (cpu_times(janus_pid).total - janus0) / elapsed * 100
    me = (cpu_times(os.getpid()).total - me0) / elapsed * 100
    frames = sum(sum(f["video"] for f in p.frames.values()) for p in people) - frames_before
    return janus, me, frames


async def viewers(base: str, janus_pid: int, counts: list[int]) -> list[str]:
    lines = []
    for count in counts:
        meeting, _ = await create_meeting(base, title=f"1 to {count}")
        async with AsyncExitStack() as stack:
            await participant(stack, base, meeting["id"], "Speaker")
            watching = [
                await participant(stack, base, meeting["id"], f"Viewer {n}", publish=False)
                for n in range(count)
            ]
            janus, me, frames = await janus_cpu(janus_pid, watching)
            fps = frames / WINDOW_S / count
        lines.append(
            f"  1 → {count:>2} viewers: Janus {janus:5.1f} % CPU, load generator "
            f"{me:5.1f} %, {fps:4.1f} fps decoded per viewer"
        )
    return lines


async def mesh(base: str, janus_pid: int, counts: list[int]) -> list[str]:
    lines = []
    for count in counts:
        meeting, _ = await create_meeting(base, title=f"{count} all to all", maxPublishers=25)
        async with AsyncExitStack() as stack:
            people = [await participant(stack, base, meeting["id"], f"P{n}") for n in range(count)]
            janus, me, _ = await janus_cpu(janus_pid, people)
            streams = count * (count - 1)
        lines.append(
            f"  {count:>2} all to all ({streams:>2} video streams out of Janus): Janus "
            f"{janus:5.1f} % CPU, load generator {me:5.1f} %"
        )
    return lines


async def assistant(base: str, questions: int) -> tuple[list[float], list[float]]:
    meeting, _ = await create_meeting(base, title="assistant")
    client_ms: list[float] = []
    server_ms: list[float] = []
    async with connected(base) as person:
        await person.join(meeting["id"], "Asker")
        for line in (
            "We agreed to ship the beta on Friday.",
            "Mina owns the release notes.",
            "The budget review moved to next Tuesday.",
        ):
            await person.ok("chat", {"text": line})
        await asyncio.sleep(2)  # questions come a moment after the chat (which is then warm)
        asks = [
            "When do we ship the beta?",
            "Who writes the release notes?",
            "When is the budget review?",
            "Summarise the meeting in one sentence.",
            "What should we do next?",
        ]
        for n in range(questions):
            if n:
                await asyncio.sleep(THINK_S)  # the asker reads the answer, types the next one
            seen = len(person.received("assistant-chunk"))
            started = time.monotonic()
            asked = await person.ok("ask", {"question": asks[n % len(asks)]})
            mine = _of(asked["exchangeId"])
            await person.wait_for("assistant-chunk", mine, 60)
            client_ms.append(time.monotonic() - started)
            done = await person.wait_for("assistant-done", mine, 60)
            server_ms.append(done["firstChunkMs"] / 1000)
            assert len(person.received("assistant-chunk")) > seen
    return client_ms, server_ms


async def main(ns: Netns, args: argparse.Namespace, workdir: Path) -> None:
    settings = make_settings(
        workdir,
        janus={"enabled": True, "ice_enforce_list": ns.interface},
        webrtc={"stun_server_urls": []},
    )
    async with serve_app(settings) as (base, app):
        supervisor = app.state.services.janus.server
        assert isinstance(supervisor, JanusSupervisor)
        assert supervisor.pid is not None
        await asyncio.sleep(12)  # the LLM prompt cache warms in the background after start
        print(f"Meetings bench ({os.cpu_count()} cores), Janus PID {supervisor.pid}")
        if args.joins:
            print(f"join → first remote video frame: {summary(await joins(base, args.joins))}")
        if args.viewers:
            print("Janus CPU, one publisher to N viewers (320x240 VP8 + Opus):")
            print("\n".join(await viewers(base, supervisor.pid, args.viewers)))
        if args.mesh:
            print("Janus CPU, N participants all sending to all:")
            print("\n".join(await mesh(base, supervisor.pid, args.mesh)))
        if args.questions:
            client, server = await assistant(base, args.questions)
            print(f"assistant ask → first chunk at the client: {summary(client)}")
            print(f"assistant first chunk (server's firstChunkMs): {summary(server)}")
            print("  in order (ms):", " ".join(f"{v * 1000:.0f}" for v in server))


def _of(exchange_id: str) -> Callable[[Any], bool]:
    return lambda payload: bool(payload["exchangeId"] == exchange_id)


def _counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=12)
    parser.add_argument("--viewers", type=_counts, default=_counts("1,2,4,8"))
    parser.add_argument("--mesh", type=_counts, default=_counts("2,3,4"))
    parser.add_argument("--questions", type=int, default=10)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as folder, network_namespace() as ns:
        ns.run(main(ns, arguments, Path(folder)), timeout_s=1800)
