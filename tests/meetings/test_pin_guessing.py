"""Guessing a meeting's PIN, end to end: the real app under uvicorn on loopback and real
Socket.IO clients firing `join`s with wrong PINs as fast as the server answers, from one address
and from many (127.0.0.x: loopback has a whole /8, each client binds its own source address).
The rules themselves, on a turned clock, are in test_pin_guard.py."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.ai.engine import AIEngine
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import connected, connected_from, create_meeting

pytestmark = pytest.mark.timeout(120)

PIN = "482913"
LOCKOUT_S = 2.0  # the first lockout; long enough that a loaded machine still sees it hold


@pytest.fixture
async def app(tmp_path: Path, idle_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    settings = make_settings(
        tmp_path,
        **IDLE_AI,
        webrtc={"stun_server_urls": []},
        meetings={"pin_lockout_base_s": LOCKOUT_S},
    )
    async with serve_app(settings, idle_engine) as running:
        yield running


def join(meeting_id: str, pin: str, name: str = "Guess") -> tuple[str, dict[str, Any]]:
    return "join", {"meetingId": meeting_id, "displayName": name, "pin": pin}


def codes(replies: list[dict[str, Any]]) -> list[str]:
    return ["OK" if r["ok"] else r["error"]["code"] for r in replies]


async def test_rapid_guesses_from_one_address_are_locked_out_and_the_host_is_told(
    app: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Four connections fire forty wrong PINs at once. Before the guard every one was checked
    (~14 a second, a 4-digit PIN in minutes); now the address's ten free ones and the one that
    starts its lockout are, the rest are refused unchecked, the right PIN too until the lockout
    ends, and the host is told the counts."""
    caplog.set_level(logging.DEBUG)
    base, _ = app
    meeting, token = await create_meeting(base, pin=PIN)
    guesses = [f"{n:06d}" for n in range(40)]
    async with connected(base) as host:
        await host.join(meeting["id"], "Host", hostToken=token)
        async with (
            connected(base) as a,
            connected(base) as b,
            connected(base) as c,
            connected(base) as d,
        ):
            bursts = [
                attacker.burst(*(join(meeting["id"], pin) for pin in guesses[n::4]))
                for n, attacker in enumerate((a, b, c, d))
            ]
            replies = [reply for burst in await asyncio.gather(*bursts) for reply in burst]
        answered = codes(replies)
        checked = answered.count("WRONG_PIN")
        assert 10 <= checked <= 11, answered
        assert answered.count("TOO_MANY_ATTEMPTS") == 40 - checked, answered
        for reply in replies:
            if reply["error"]["code"] == "TOO_MANY_ATTEMPTS":
                assert isinstance(reply["error"]["retryAfter"], int), reply
                assert 1 <= reply["error"]["retryAfter"] <= 4 * LOCKOUT_S, reply

        async with connected(base) as guest:
            refused = await guest.request(*join(meeting["id"], PIN, "Right PIN, too soon"))
            assert refused["error"]["code"] == "TOO_MANY_ATTEMPTS", refused
            assert "try again in" in refused["error"]["message"]
            retry = refused["error"]["retryAfter"]
            assert (await guest.wait_for("error"))["retryAfter"] == retry

            async with connected(base) as host_again:  # the host is never locked out
                joined = await host_again.join(meeting["id"], "Host's laptop", hostToken=token)
                assert joined["self"]["role"] == "host"

            notice = await host.wait_for("pin-attempts", lambda p: p["failed"] == checked)
            assert set(notice) == {"failed", "refused", "lockedFor"}
            told = json.dumps(host.received("pin-attempts"))
            assert not any(pin in told for pin in [*guesses, PIN])

            await asyncio.sleep(retry)
            admitted = await guest.join(meeting["id"], "Right PIN, after the wait", pin=PIN)
            assert admitted["self"]["role"] == "guest"

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("parley")]
    assert not any(pin in line for line in ours for pin in [*guesses, PIN])


async def test_many_addresses_pause_the_meeting_but_not_its_host_nor_admitted_guests(
    app: tuple[str, Any],
) -> None:
    """A botnet, one guess per address: the meeting's own count pauses joining by PIN. A
    newcomer with the right PIN waits; the host, and a guest admitted earlier whose connection
    dropped, get in."""
    base, _ = app
    meeting, token = await create_meeting(base, pin=PIN)
    async with connected_from(base, "127.0.0.60") as guest:
        await guest.join(meeting["id"], "Early guest", pin=PIN)  # then their connection drops
    async with connected(base) as host:
        await host.join(meeting["id"], "Host", hostToken=token)
        answered = []
        for n in range(21):
            async with connected_from(base, f"127.0.0.{n + 2}") as bot:
                reply = await bot.request(*join(meeting["id"], f"{n:06d}"))
                answered.append(reply["error"]["code"])
        assert answered == ["WRONG_PIN"] * 21
        assert reply["error"]["retryAfter"] >= 1  # the last one started the pause

        async with connected_from(base, "127.0.0.70") as newcomer:
            refused = await newcomer.request(*join(meeting["id"], PIN, "Newcomer"))
            assert refused["error"]["code"] == "TOO_MANY_ATTEMPTS", refused
            assert "This meeting has had too many wrong PINs" in refused["error"]["message"]
        async with connected_from(base, "127.0.0.60") as back:
            assert (await back.join(meeting["id"], "Early guest", pin=PIN))["self"]["id"]
        async with connected_from(base, "127.0.0.70") as host_elsewhere:
            joined = await host_elsewhere.join(meeting["id"], "Host 2", hostToken=token)
            assert joined["self"]["role"] == "host"

        last = await host.wait_for("pin-attempts", lambda p: p["failed"] == 21)
        assert last["lockedFor"] >= 1
        assert (await host.wait_for("pin-attempts", lambda p: p["refused"] >= 1))["failed"] == 21
