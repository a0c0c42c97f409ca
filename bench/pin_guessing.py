"""How fast can someone guess a meeting's PIN? An attacker on loopback against the real app.

**Live**: the real app under uvicorn (SQLite, no Janus, no models) and a meeting with a 6-digit
PIN; `--connections` real Socket.IO clients send `join` with wrong PINs back to back for
`--seconds`. Printed: how many guesses the server checked (answered `WRONG_PIN`) per second, how
many it turned away (`TOO_MANY_ATTEMPTS`), and what that rate means for a 4- and a 6-digit PIN
(on average half the PINs are tried before the right one).

**Model** (`--model`): the PIN guard itself (`parley.meetings.pin_guard`) on a simulated clock,
against an attacker who guesses the moment each lockout ends, from one address and from many
(a botnet, or an IPv6 network of many /64s): guesses it gets in an hour, a day, a week, and
the average time to a 4- and a 6-digit PIN.

Prints figures; asserts nothing. Loopback only.

    .venv/bin/python -m bench.pin_guessing [--connections 8] [--seconds 10] [--model]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import Participant, connected, create_meeting

from parley.ai.engine import build_engine
from parley.meetings.pin_guard import Guesser, PinGuard, TooManyAttemptsError

PIN = "482913"
SPACES = {"4-digit": 10**4, "6-digit": 10**6}


async def live(connections: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = make_settings(Path(data), **IDLE_AI)
        engine = build_engine(settings)
        try:
            async with serve_app(settings, engine) as (base, _):
                meeting, _ = await create_meeting(base, pin=PIN)
                answers = await _attack(base, meeting["id"], connections, seconds)
        finally:
            await engine.aclose()
    checked = answers["WRONG_PIN"]
    print(f"live: {connections} connections for {seconds:g} s: {dict(answers)}")
    print(
        f"  guesses checked: {checked / seconds:.1f}/s; turned away: "
        f"{answers['TOO_MANY_ATTEMPTS'] / seconds:.1f}/s"
    )
    _print_times(checked / seconds)


async def _attack(base: str, meeting_id: str, connections: int, seconds: float) -> Counter[str]:
    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def guesser(offset: int) -> None:
        async with connected(base) as attacker:
            guess = offset
            while time.monotonic() < deadline:
                answers[await _guess(attacker, meeting_id, f"{guess % 10**6:06d}")] += 1
                guess += connections

    await asyncio.gather(*(guesser(n) for n in range(connections)))
    return answers


async def _guess(attacker: Participant, meeting_id: str, pin: str) -> str:
    if pin == PIN:
        pin = "000000"
    reply: dict[str, Any] = await attacker.request(
        "join", {"meetingId": meeting_id, "displayName": "x", "pin": pin}
    )
    return "ADMITTED" if reply["ok"] else str(reply["error"]["code"])


def model(addresses: int, days: float = 2.0) -> None:
    """`addresses` guessers, each with a new connection per guess (so only the address and the
    meeting count), each guessing the moment its last retry-after ends."""
    clock = _Clock()
    guard = PinGuard(clock=clock)
    meeting = uuid.uuid4()
    ready = [(0.0, n) for n in range(addresses)]  # (when, which address)
    guessed: list[float] = []
    while ready[0][0] < days * 86400:
        when, n = heapq.heappop(ready)
        clock.now = when
        try:
            attempt = guard.begin(meeting, Guesser(f"address-{n}", f"c{len(guessed)}"))
        except TooManyAttemptsError as exc:
            heapq.heappush(ready, (when + exc.details["retryAfter"], n))
            continue
        guessed.append(when)
        wait = guard.settle(attempt, right=False).wait
        heapq.heappush(ready, (when + max(wait, 0.05), n))  # a check takes ~50 ms
    _print_model(addresses, guessed, days)


def _print_model(addresses: int, guessed: list[float], days: float) -> None:
    hour = sum(1 for t in guessed if t < 3600)
    day = sum(1 for t in guessed if t < 86400)
    steady = sum(1 for t in guessed if t >= (days - 1) * 86400) / 86400  # per second, last day
    print(
        f"model: {addresses} address(es): {hour} guesses in the first hour, {day} in the "
        f"first day, then {steady * 86400:.0f} a day"
    )
    for name, space in SPACES.items():
        print(
            f"  {name} PIN: on average {_duration(_time_to(space / 2, guessed, steady))}, "
            f"at worst {_duration(_time_to(space, guessed, steady))}"
        )


def _time_to(count: float, guessed: list[float], steady: float) -> float:
    """When the attacker has made `count` guesses (beyond the simulated time: at the steady
    rate of its last day)."""
    if count <= len(guessed):
        return guessed[int(count) - 1]
    return guessed[-1] + (count - len(guessed)) / steady


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _print_times(per_second: float) -> None:
    for name, space in SPACES.items():
        half = space / 2 / per_second if per_second else float("inf")
        print(f"  {name} PIN: on average {_duration(half)}, at worst {_duration(half * 2)}")


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--model", action="store_true", help="also model long attacks")
    args = parser.parse_args()
    asyncio.run(live(args.connections, args.seconds))
    if args.model:
        for addresses in (1, 8, 1000):
            model(addresses)


if __name__ == "__main__":
    main()
