"""`/meetings` over a real Socket.IO connection to the real app (uvicorn on loopback, SQLite,
the local LLM), without Janus: joining, PINs, chat, the assistant, the host's actions, leaving,
and bad payloads on every request. Media through Janus is tested in test_meeting_media.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.ai.engine import AIEngine
from parley.meetings.domain import ExchangeStatus
from parley.meetings.service import MeetingService
from tests.conftest import IDLE_AI, make_settings
from tests.live import serve_app
from tests.meetings.client import connected, create_meeting

pytestmark = pytest.mark.timeout(120)

REQUESTS = [
    "publish",
    "unpublish",
    "subscriber-answer",
    "trickle",
    "media",
    "quality",
    "chat",
    "ask",
    "kick",
    "mute",
    "end-meeting",
    "leave",
]


@pytest.fixture
async def app(tmp_path: Path, local_engine: AIEngine) -> AsyncIterator[tuple[str, Any]]:
    settings = make_settings(
        tmp_path, webrtc={"stun_server_urls": []}, meetings={"chat_burst": 5, "chat_window_s": 5}
    )
    async with serve_app(settings, local_engine) as running:
        yield running


async def test_join_answers_the_room_and_tells_the_others(app: tuple[str, Any]) -> None:
    base, _ = app
    meeting, token = await create_meeting(base, hostName="Mina")
    async with connected(base) as host, connected(base) as guest:
        joined = await host.join(meeting["id"], "Mina", hostToken=token)
        assert joined["self"]["role"] == "host"
        assert joined["meeting"]["id"] == meeting["id"]
        assert joined["mediaReady"] is False  # no Janus in this test
        assert joined["chat"] == []
        assert joined["assistant"] == []

        guest_joined = await guest.join(meeting["id"], "Jun")
        assert guest_joined["self"]["role"] == "guest"
        names = [p["displayName"] for p in guest_joined["participants"]]
        assert names == ["Mina", "Jun"]
        seen = await host.wait_for("participant-joined")
        assert seen["participant"]["displayName"] == "Jun"
        assert not guest.received("participant-joined")  # nobody is told of themselves

        again = await guest.request("join", {"meetingId": meeting["id"], "displayName": "X"})
        assert again["error"]["code"] == "ALREADY_JOINED"


async def test_join_then_publish_and_chat_sent_at_once_are_handled_in_order(
    app: tuple[str, Any],
) -> None:
    """A fast client does not wait for `join`'s answer: what follows is handled after it (here
    without Janus, so the publish is refused for want of media, not for want of a join)."""
    base, _ = app
    meeting, _ = await create_meeting(base)
    async with connected(base) as person:
        offer = {"type": "offer", "sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n"}
        joined, published, chatted = await person.burst(
            ("join", {"meetingId": meeting["id"], "displayName": "Quick"}),
            ("publish", {"jsep": offer}),
            ("chat", {"text": "first words"}),
        )
        assert joined["ok"], joined
        assert published["error"]["code"] == "MEDIA_UNAVAILABLE", published
        assert chatted["ok"], chatted
        assert chatted["message"]["text"] == "first words"
        seen = await person.wait_for("chat-message")
        assert seen["message"]["text"] == "first words"


async def test_join_refusals(app: tuple[str, Any]) -> None:
    base, _ = app
    meeting, _ = await create_meeting(base, pin="2468")
    async with connected(base) as person:
        unknown = await person.request("join", {"meetingId": str(uuid.uuid4()), "displayName": "A"})
        assert unknown == {"ok": False, "error": unknown["error"]}
        assert unknown["error"]["code"] == "MEETING_NOT_FOUND"
        wrong = await person.request(
            "join", {"meetingId": meeting["id"], "displayName": "A", "pin": "1111"}
        )
        assert wrong["error"]["code"] == "WRONG_PIN"
        no_pin = await person.request("join", {"meetingId": meeting["id"], "displayName": "A"})
        assert no_pin["error"]["code"] == "WRONG_PIN"
        forged = await person.request(
            "join", {"meetingId": meeting["id"], "displayName": "A", "hostToken": "x.y.z"}
        )
        assert forged["error"]["code"] == "WRONG_PIN"  # a bad token is no way round the PIN
        blank = await person.request("join", {"meetingId": meeting["id"], "displayName": "  "})
        assert blank["error"]["code"] == "INVALID_TEXT"
        # Each failure was also sent as an `error` event naming the request.
        errors = person.received("error")
        assert [e["event"] for e in errors] == ["join"] * 5
        joined = await person.join(meeting["id"], "A", pin="2468")
        assert joined["self"]["displayName"] == "A"


async def test_every_request_needs_a_join_and_a_valid_payload(app: tuple[str, Any]) -> None:
    base, state = app
    meeting, _ = await create_meeting(base)
    service: MeetingService = state.state.services.meetings
    async with connected(base) as person:
        for event in REQUESTS:
            reply = await person.request(event, {})
            assert reply["error"]["code"] in ("NOT_JOINED", "INVALID_PAYLOAD"), (event, reply)
        await person.join(meeting["id"], "A")
        bad: dict[str, list[Any]] = {
            "join": [None, "x", {"meetingId": 5}],
            "publish": [
                None,
                {"jsep": {"type": "offer"}},
                {"jsep": {"type": "pranswer", "sdp": "v=0 " * 10}},
                {"jsep": {"type": "answer", "sdp": "v=0 " * 10}},
            ],
            "subscriber-answer": [{"jsep": "nope"}, {"jsep": {"type": "offer", "sdp": "v" * 20}}],
            "trickle": [{"target": "both"}, {"target": "publisher", "candidate": {"x": 1}}],
            "media": [{"micOn": "loud"}, [1, 2]],
            "quality": [{"quality": "ultra"}, {}],
            "chat": [{}, {"text": ""}, {"text": 5}, {"text": "x" * 30_000}],
            "ask": [{}, {"question": ["a"]}],
            "kick": [{}, {"participantId": ""}],
            "mute": [{"participantId": "a", "mute": "maybe"}],
        }
        for event, payloads in bad.items():
            for payload in payloads:
                reply = await person.request(event, payload)
                assert reply["ok"] is False, (event, payload)
                assert reply["error"]["code"] in ("INVALID_PAYLOAD", "ALREADY_JOINED"), reply
        # Nothing changed: still one participant, nothing said.
        participants = service.participants_of(await service.get(meeting["id"]))
        assert [(p.display_name, p.mic_on) for p in participants] == [("A", False)]
        assert await service.chat_history(uuid.UUID(meeting["id"])) == []
        # Without Janus, media requests say so.
        offer = {"jsep": {"type": "offer", "sdp": "v=0\r\n" * 4}}
        assert (await person.request("publish", offer))["error"]["code"] == "MEDIA_UNAVAILABLE"


async def test_chat_round_trip_history_limits_and_rate(app: tuple[str, Any]) -> None:
    base, _ = app
    meeting, _ = await create_meeting(base)
    async with connected(base) as ann, connected(base) as ben:
        await ann.join(meeting["id"], "Ann")
        await ben.join(meeting["id"], "Ben")
        hostile = "<img src=x onerror=alert(1)> **hi**"
        sent = await ann.ok("chat", {"text": hostile})
        got = await ben.wait_for("chat-message")
        assert got["message"] == sent["message"]
        assert got["message"]["text"] == hostile  # stored and sent as text, rendered as text
        assert got["message"]["senderName"] == "Ann"
        assert got["message"]["createdAt"].endswith("Z")
        too_long = await ann.request("chat", {"text": "x" * 2001})
        assert too_long["error"]["code"] == "TEXT_TOO_LONG"
        for n in range(4):  # 5 in 5 s allowed (one already sent)
            await ann.ok("chat", {"text": f"message {n}"})
        limited = await ann.request("chat", {"text": "one too many"})
        assert limited["error"]["code"] == "RATE_LIMITED"
        assert (await ben.ok("chat", {"text": "Ben is not limited"}))["message"]

    async with connected(base) as late:
        joined = await late.join(meeting["id"], "Late")
        texts = [m["text"] for m in joined["chat"]]
        assert texts == [hostile, *(f"message {n}" for n in range(4)), "Ben is not limited"]


async def test_the_assistant_streams_an_answer_with_the_chat_as_context(
    app: tuple[str, Any],
) -> None:
    base, state = app
    meeting, _ = await create_meeting(base)
    async with connected(base) as ann, connected(base) as ben:
        await ann.join(meeting["id"], "Ann")
        await ben.join(meeting["id"], "Ben")
        await ben.ok("chat", {"text": "The launch date moved to Friday, March 13."})
        asked = await ann.ok("ask", {"question": "On which day is the launch now?"})
        busy = await ann.request("ask", {"question": "And another?"})
        assert busy["error"]["code"] == "ASSISTANT_BUSY"
        done = await ann.wait_for("assistant-done", within=60)
        assert done["exchangeId"] == asked["exchangeId"]
        chunks = [c["text"] for c in ann.received("assistant-chunk")]
        assert len(chunks) > 3  # streamed, not sent whole
        assert "".join(chunks).strip() == done["answer"]
        assert "friday" in done["answer"].lower() or "13" in done["answer"], done["answer"]
        assert 0 < done["firstChunkMs"] < 30_000
        assert not ben.received("assistant-chunk")  # only the asker sees the answer stream

    service: MeetingService = state.state.services.meetings
    [stored] = await service.assistant_history(uuid.UUID(meeting["id"]))
    assert stored.status is ExchangeStatus.ANSWERED
    assert stored.answer == done["answer"]
    assert stored.asker_name == "Ann"


async def test_host_actions_are_the_hosts_alone(app: tuple[str, Any]) -> None:
    base, _ = app
    meeting, token = await create_meeting(base)
    async with connected(base) as host, connected(base) as guest, connected(base) as other:
        await host.join(meeting["id"], "Host", hostToken=token)
        await guest.join(meeting["id"], "Guest")
        await other.join(meeting["id"], "Other")
        host_only = [
            ("kick", {"participantId": other.id}),
            ("mute", {"participantId": other.id}),
            ("end-meeting", {}),
        ]
        for event, payload in host_only:
            reply = await guest.request(event, payload)
            assert reply["error"]["code"] == "NOT_HOST", (event, reply)
        unknown = await host.request("kick", {"participantId": "nobody"})
        assert unknown["error"]["code"] == "PARTICIPANT_NOT_FOUND"

        await host.ok("mute", {"participantId": guest.id})
        assert (await guest.wait_for("muted-by-host"))["muted"] is True
        updated = await other.wait_for(
            "participant-updated", lambda p: p["participant"]["id"] == guest.id
        )
        assert updated["participant"]["mutedByHost"] is True
        refused = await guest.request("media", {"micOn": True})
        assert refused["error"]["code"] == "MUTED_BY_HOST"
        assert (await guest.ok("media", {"cameraOn": True}))["self"]["cameraOn"] is True
        await host.ok("mute", {"participantId": guest.id, "mute": False})
        await guest.wait_for("muted-by-host", lambda p: p["muted"] is False)
        assert (await guest.ok("media", {"micOn": True}))["self"]["micOn"] is True

        await host.ok("kick", {"participantId": other.id})
        assert (await other.wait_for("kicked"))["reason"]
        left = await guest.wait_for("participant-left")
        assert left == {"participantId": other.id, "reason": "kicked"}
        assert (await other.request("chat", {"text": "still here?"}))["error"]["code"] == (
            "NOT_JOINED"
        )

        await host.ok("end-meeting")
        for person in (host, guest):
            assert (await person.wait_for("meeting-closed"))["reason"] == "ended"
        assert (await guest.request("chat", {"text": "hello?"}))["error"]["code"] == "NOT_JOINED"
        again = await other.request("join", {"meetingId": meeting["id"], "displayName": "O"})
        assert again["error"]["code"] == "MEETING_ENDED"


async def test_leaving_disconnecting_and_deleting(app: tuple[str, Any]) -> None:
    base, state = app
    meeting, token = await create_meeting(base)
    service: MeetingService = state.state.services.meetings
    async with connected(base) as ann:
        await ann.join(meeting["id"], "Ann")
        async with connected(base) as ben:
            await ben.join(meeting["id"], "Ben")
            await ben.ok("leave")
            assert (await ann.wait_for("participant-left"))["reason"] == "left"
            await ben.join(meeting["id"], "Ben again")
        gone = await ann.wait_for("participant-left", lambda p: p["reason"] == "disconnected")
        assert gone["participantId"] != ann.id
        live = await service.get(meeting["id"])
        assert [p.display_name for p in service.participants_of(live)] == ["Ann"]

        async with httpx.AsyncClient(base_url=base) as http:
            headers = {"Authorization": f"Bearer {token}"}
            response = await http.delete(f"/api/v1/meetings/{meeting['id']}", headers=headers)
            assert response.status_code == 200
        assert (await ann.wait_for("meeting-closed"))["reason"] == "deleted"
        await asyncio.sleep(0.1)
        assert state.state.shell.sockets.meetings.members == 0


async def test_a_failing_assistant_model_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """The LLM is an OpenAI-compatible server that is not there (refused connection)."""
    settings = make_settings(tmp_path, webrtc={"stun_server_urls": []}, **IDLE_AI)
    async with serve_app(settings) as (base, state):
        meeting, _ = await create_meeting(base)
        async with connected(base) as ann:
            await ann.join(meeting["id"], "Ann")
            asked = await ann.ok("ask", {"question": "Are you there?"})
            failed = await ann.wait_for("assistant-error", within=30)
            assert failed["exchangeId"] == asked["exchangeId"]
            assert failed["code"] == "AI_PROVIDER_ERROR"
            assert failed["message"]
            # The meeting goes on: chat works, and the next question is accepted.
            assert (await ann.ok("chat", {"text": "still here"}))["message"]
            assert (await ann.ok("ask", {"question": "And now?"}))["exchangeId"]
        service: MeetingService = state.state.services.meetings
        exchanges = await service.assistant_history(uuid.UUID(meeting["id"]))
        assert exchanges[0].status is ExchangeStatus.FAILED
        assert exchanges[0].error
