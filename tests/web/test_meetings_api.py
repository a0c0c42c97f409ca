"""`/api/v1/meetings` through the real app (SQLite, Janus off: rooms pending), its AI engine idle.

Participants are put in the registry as the `/meetings` namespace will, to drive the host's
actions and to watch what the registry tells its listeners."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from parley.ai.engine import AIEngine
from parley.errors import SettingsError
from parley.meetings.domain import Participant, ParticipantRole, utcnow
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.pin_guard import Guesser, TooManyAttemptsError
from parley.meetings.service import MeetingService, WrongPinError
from parley.meetings.tokens import HostTokens
from parley.web.app import create_app
from tests.conftest import IDLE_AI, make_settings

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECRET = "meeting-token-secret-for-tests-0123456789"


@asynccontextmanager
async def running(
    tmp_path: Path, engine: AIEngine, **sections: dict[str, Any]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(tmp_path, **IDLE_AI, **sections)
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield app, client


@pytest.fixture
async def app_client(
    tmp_path: Path, idle_engine: AIEngine
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running(tmp_path, idle_engine, meetings={"token_secret": SECRET}) as pair:
        yield pair


@pytest.fixture
def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


@pytest.fixture
def service(app_client: tuple[FastAPI, httpx.AsyncClient]) -> MeetingService:
    meetings: MeetingService = app_client[0].state.services.meetings
    return meetings


async def create(client: httpx.AsyncClient, **fields: Any) -> tuple[dict[str, Any], str]:
    response = await client.post("/api/v1/meetings", json={"title": "Weekly sync", **fields})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return data["meeting"], data["hostToken"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_create_answers_the_meeting_and_a_host_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/meetings",
        json={
            "title": "  설계 리뷰 🎥 ",
            "pin": "0042",
            "maxPublishers": 4,
            "videoCodec": "h264",
            "bitrate": 512000,
            "hostName": "Mina",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    meeting = body["data"]["meeting"]
    assert uuid.UUID(meeting["id"])
    assert meeting == {
        "id": meeting["id"],
        "title": "설계 리뷰 🎥",
        "pinRequired": True,
        "maxPublishers": 4,
        "videoCodec": "h264",
        "bitrate": 512000,
        "hostName": "Mina",
        "status": "active",
        "createdAt": meeting["createdAt"],
        "endedAt": None,
        "participantCount": 0,
        "mediaReady": False,
    }
    assert ISO_MS_Z.match(meeting["createdAt"])
    assert "0042" not in response.text  # the PIN is never given back
    claims = jwt.decode(
        body["data"]["hostToken"], SECRET, algorithms=["HS256"], audience="parley:meeting"
    )
    assert claims["sub"] == meeting["id"]
    assert claims["role"] == "host"
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600


async def test_defaults_and_lookups(client: httpx.AsyncClient) -> None:
    meeting, _ = await create(client)
    assert (meeting["pinRequired"], meeting["maxPublishers"]) == (False, 6)
    assert (meeting["videoCodec"], meeting["bitrate"]) == ("vp8", 1_024_000)
    fetched = await client.get(f"/api/v1/meetings/{meeting['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"]["meeting"] == meeting
    for unknown in (uuid.uuid4(), "not-a-uuid"):
        missing = await client.get(f"/api/v1/meetings/{unknown}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "MEETING_NOT_FOUND"


async def test_list_is_paginated_newest_first_without_deleted(client: httpx.AsyncClient) -> None:
    made = [await create(client, title=f"m{i}") for i in range(5)]
    await client.delete(f"/api/v1/meetings/{made[1][0]['id']}", headers=bearer(made[1][1]))
    page = (await client.get("/api/v1/meetings", params={"pageSize": 3})).json()["data"]
    assert [m["title"] for m in page["meetings"]] == ["m4", "m3", "m2"]
    assert page["pagination"] == {"page": 1, "pageSize": 3, "total": 4, "totalPages": 2}
    second = (await client.get("/api/v1/meetings?page=2&pageSize=3")).json()["data"]
    assert [m["title"] for m in second["meetings"]] == ["m0"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x" * 121}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"pin": "123"}, "pin"),
        ({"pin": "1234567890123"}, "pin"),
        ({"pin": "12a4"}, "pin"),
        ({"pin": "١٢٣٤"}, "pin"),  # digits, but not 0-9
        ({"maxPublishers": 0}, "maxPublishers"),
        ({"maxPublishers": 26}, "maxPublishers"),
        ({"bitrate": 1000}, "bitrate"),
        ({"bitrate": 9_000_000}, "bitrate"),
        ({"videoCodec": "theora"}, "videoCodec"),
        ({"hostName": "n" * 65}, "hostName"),
    ],
)
async def test_fields_are_bounded(
    client: httpx.AsyncClient, fields: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/meetings", json={"title": "ok", **fields})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in error["message"] or error.get("details", {}).get("field") == field


async def test_delete_needs_the_meeting_s_host(client: httpx.AsyncClient) -> None:
    meeting, token = await create(client)
    other, other_token = await create(client, title="other")
    path = f"/api/v1/meetings/{meeting['id']}"
    cases = [
        ({}, 401, "HOST_TOKEN_REQUIRED"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401, "HOST_TOKEN_REQUIRED"),
        (bearer("not.a.jwt"), 401, "INVALID_HOST_TOKEN"),
        (bearer(token[:-2] + ("AA" if not token.endswith("AA") else "BB")), 401, None),
        (bearer(other_token), 403, "NOT_THIS_MEETING_S_HOST"),
    ]
    for headers, status, code in cases:
        response = await client.delete(path, headers=headers)
        assert response.status_code == status, (headers, response.text)
        if code:
            assert response.json()["error"]["code"] == code
        if status == 401:
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get(path)).status_code == 200  # still there

    deleted = await client.delete(path, headers=bearer(token))
    assert deleted.status_code == 200
    assert deleted.json()["data"]["meeting"]["id"] == meeting["id"]
    assert (await client.get(path)).status_code == 404
    again = await client.delete(path, headers=bearer(token))
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "MEETING_NOT_FOUND"
    unknown = await client.delete(f"/api/v1/meetings/{uuid.uuid4()}", headers=bearer(token))
    assert unknown.status_code == 404
    assert (await client.get(f"/api/v1/meetings/{other['id']}")).status_code == 200


async def test_expired_tokens_and_other_keys_are_refused(client: httpx.AsyncClient) -> None:
    meeting, _ = await create(client)
    meeting_id = uuid.UUID(meeting["id"])
    expired = HostTokens(SECRET, 300).issue(meeting_id, now=utcnow() - timedelta(hours=1))
    forged = HostTokens("another-secret-of-32-characters-or-more", 300).issue(meeting_id)
    for token, code in ((expired, "HOST_TOKEN_EXPIRED"), (forged, "INVALID_HOST_TOKEN")):
        response = await client.delete(f"/api/v1/meetings/{meeting_id}", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    claims = {"sub": str(meeting_id), "role": "host", "iss": "parley", "aud": "parley:meeting"}
    no_expiry = jwt.encode(claims, SECRET, algorithm="HS256")
    none_alg = jwt.encode(claims, "", algorithm="none")
    for token in (no_expiry, none_alg):
        response = await client.delete(f"/api/v1/meetings/{meeting_id}", headers=bearer(token))
        assert response.status_code == 401
    now = int(utcnow().timestamp())
    guest = jwt.encode({**claims, "role": "guest", "iat": now, "exp": now + 60}, SECRET)
    response = await client.delete(f"/api/v1/meetings/{meeting_id}", headers=bearer(guest))
    assert response.status_code == 403
    assert (await client.get(f"/api/v1/meetings/{meeting_id}")).status_code == 200


async def test_racing_deletes_have_one_winner(client: httpx.AsyncClient) -> None:
    meeting, token = await create(client)
    path = f"/api/v1/meetings/{meeting['id']}"
    responses = await asyncio.gather(
        *(client.delete(path, headers=bearer(token)) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 404, 404, 404, 404]


async def test_host_actions_on_participants(
    client: httpx.AsyncClient, service: MeetingService
) -> None:
    meeting, token = await create(client)
    meeting_id = uuid.UUID(meeting["id"])
    heard: list[RoomEvent] = []

    async def listen(event: RoomEvent) -> None:
        heard.append(event)

    service.participants.subscribe(listen)
    alice = Participant(meeting_id, "Alice", mic_on=True)
    bob = Participant(meeting_id, "Bob")
    for person in (alice, bob):
        await service.participants.add(person)
    base = f"/api/v1/meetings/{meeting['id']}/participants"
    listed = (await client.get(base)).json()["data"]["participants"]
    assert [p["displayName"] for p in listed] == ["Alice", "Bob"]
    assert (await client.get(f"/api/v1/meetings/{meeting['id']}")).json()["data"]["meeting"][
        "participantCount"
    ] == 2

    muted = await client.post(f"{base}/{alice.id}/mute", headers=bearer(token))
    assert muted.status_code == 200
    assert muted.json()["data"]["participant"]["mutedByHost"] is True
    unmuted = await client.post(
        f"{base}/{alice.id}/mute", json={"mute": False}, headers=bearer(token)
    )
    assert unmuted.json()["data"]["participant"]["mutedByHost"] is False
    kicked = await client.post(f"{base}/{bob.id}/kick", headers=bearer(token))
    assert kicked.status_code == 200
    assert kicked.json()["data"]["participant"]["id"] == bob.id
    assert [p.id for p in service.participants.in_meeting(meeting_id)] == [alice.id]

    for action in ("kick", "mute"):
        gone = await client.post(f"{base}/{bob.id}/{action}", headers=bearer(token))
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "PARTICIPANT_NOT_FOUND"
        assert (await client.post(f"{base}/{alice.id}/{action}")).status_code == 401
    assert [(e.kind, e.participant.id if e.participant else None) for e in heard] == [
        (RoomEventKind.JOINED, alice.id),
        (RoomEventKind.JOINED, bob.id),
        (RoomEventKind.MUTED, alice.id),
        (RoomEventKind.UNMUTED, alice.id),
        (RoomEventKind.KICKED, bob.id),
    ]


async def test_host_actions_need_this_meeting_s_token(client: httpx.AsyncClient) -> None:
    meeting, _ = await create(client)
    _, other_token = await create(client, title="other")
    base = f"/api/v1/meetings/{meeting['id']}"
    for path in (
        f"{base}/end",
        f"{base}/participants/someone/kick",
        f"{base}/participants/someone/mute",
    ):
        assert (await client.post(path)).status_code == 401
        assert (await client.post(path, headers=bearer(other_token))).status_code == 403


async def test_ending_puts_everyone_out_and_keeps_the_meeting(
    client: httpx.AsyncClient, service: MeetingService
) -> None:
    meeting, token = await create(client)
    meeting_id = uuid.UUID(meeting["id"])
    closed: list[RoomEvent] = []

    async def listen(event: RoomEvent) -> None:
        if event.kind is RoomEventKind.CLOSED:
            closed.append(event)

    service.participants.subscribe(listen)
    carol = Participant(meeting_id, "Carol")
    await service.participants.add(carol)
    ended = await client.post(f"/api/v1/meetings/{meeting_id}/end", headers=bearer(token))
    assert ended.status_code == 200
    body = ended.json()["data"]["meeting"]
    assert body["status"] == "ended"
    assert ISO_MS_Z.match(body["endedAt"])
    assert [(e.meeting_id, e.reason) for e in closed] == [(meeting_id, "ended")]
    assert service.participants.in_meeting(meeting_id) == []
    assert (await client.get(f"/api/v1/meetings/{meeting_id}")).json()["data"]["meeting"][
        "status"
    ] == "ended"
    again = await client.post(f"/api/v1/meetings/{meeting_id}/end", headers=bearer(token))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "MEETING_ENDED"
    kick = await client.post(
        f"/api/v1/meetings/{meeting_id}/participants/{carol.id}/kick", headers=bearer(token)
    )
    assert kick.status_code == 409
    deleted = await client.delete(f"/api/v1/meetings/{meeting_id}", headers=bearer(token))
    assert deleted.status_code == 200
    assert [e.reason for e in closed] == ["ended", "deleted"]


async def test_admission_checks_the_pin(client: httpx.AsyncClient, service: MeetingService) -> None:
    locked, _ = await create(client, pin="482913")
    open_meeting, _ = await create(client)
    assert (await service.admit(open_meeting["id"], None)).title == "Weekly sync"
    assert (await service.admit(locked["id"], "482913")).id == uuid.UUID(locked["id"])
    for wrong in (None, "", "482914"):
        with pytest.raises(Exception, match="PIN") as refused:
            await service.admit(locked["id"], wrong)
        assert getattr(refused.value, "code", None) == "WRONG_PIN"


async def test_without_a_secret_a_random_key_is_made_and_said(
    tmp_path: Path, idle_engine: AIEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parley.meetings")
    async with running(tmp_path, idle_engine) as (_, client):
        meeting, token = await create(client)
        deleted = await client.delete(f"/api/v1/meetings/{meeting['id']}", headers=bearer(token))
        assert deleted.status_code == 200
    assert "MEETING_TOKEN_SECRET is not set" in caplog.text
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="parley:meeting")


def test_production_refuses_to_start_without_a_token_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MEETING_TOKEN_SECRET"):
        make_settings(tmp_path, server={"app_env": "production"})
    with pytest.raises(SettingsError, match="at least 32"):
        make_settings(tmp_path, meetings={"token_secret": "short"})
    settings = make_settings(
        tmp_path,
        server={"app_env": "production", "operator_api_key": "o" * 32},
        meetings={"token_secret": SECRET},
    )
    assert SECRET in settings.secrets()  # masked in the logs
    assert SECRET not in repr(settings)


async def test_a_pin_meetings_participants_are_shown_to_its_host_only(
    client: httpx.AsyncClient, service: MeetingService
) -> None:
    """Without the PIN nobody learns who is in a PIN meeting; REST takes no PIN (it would be a
    second door to guess it through), so its host's token is what shows them there."""
    locked, token = await create(client, pin="482913")
    open_meeting, other_token = await create(client)
    for meeting in (locked, open_meeting):
        await service.participants.add(Participant(uuid.UUID(meeting["id"]), "Carol"))
    path = f"/api/v1/meetings/{locked['id']}/participants"
    anonymous = await client.get(path)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == "HOST_TOKEN_REQUIRED"
    foreign = await client.get(path, headers=bearer(other_token))
    assert foreign.status_code == 403
    forged = await client.get(path, headers=bearer("x.y.z"))
    assert forged.status_code == 401
    for refused in (anonymous, foreign, forged):
        assert "Carol" not in refused.text
    hosted = await client.get(path, headers=bearer(token))
    assert [p["displayName"] for p in hosted.json()["data"]["participants"]] == ["Carol"]
    listed = await client.get(f"/api/v1/meetings/{open_meeting['id']}/participants")
    assert [p["displayName"] for p in listed.json()["data"]["participants"]] == ["Carol"]
    bad = await client.get(
        f"/api/v1/meetings/{open_meeting['id']}/participants", headers=bearer("x.y.z")
    )
    assert bad.status_code == 401  # a credential given must be valid, even where none is needed
    described = await client.get(f"/api/v1/meetings/{locked['id']}")
    assert described.json()["data"]["meeting"]["participantCount"] == 1
    assert "Carol" not in described.text


async def test_wrong_pins_lock_admission_even_for_the_right_pin_but_never_the_host(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    meetings = {"token_secret": SECRET, "pin_lockout_base_s": 0.3}
    async with running(tmp_path, idle_engine, meetings=meetings) as (app, client):
        service: MeetingService = app.state.services.meetings
        locked, token = await create(client, pin="482913")
        tab = Guesser.at("192.0.2.10", "tab-1")
        for _ in range(3):
            with pytest.raises(WrongPinError) as wrong:
                await service.admit(locked["id"], "000000", who=tab)
            assert "retryAfter" not in wrong.value.details
        with pytest.raises(WrongPinError) as fourth:
            await service.admit(locked["id"], "111111", who=tab)
        assert fourth.value.details == {"retryAfter": 1}
        with pytest.raises(TooManyAttemptsError) as refused:
            await service.admit(locked["id"], "482913", who=tab)  # the right PIN, too soon
        assert refused.value.details == {"retryAfter": 1}
        _, host = await service.join(locked["id"], "Host", host_token=token, who=tab)
        assert host.role is ParticipantRole.HOST
        await asyncio.sleep(0.35)
        assert (await service.admit(locked["id"], "482913", who=tab)).id == uuid.UUID(locked["id"])


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"title": "\u200b\u200b"}, "INVISIBLE_TEXT"),
        ({"title": "\u3164"}, "INVISIBLE_TEXT"),
        ({"title": "Sync", "hostName": "\u2800\u200d"}, "INVISIBLE_TEXT"),
        ({"title": "Pay \u202eten"}, "BIDI_CONTROL"),
        ({"title": "Sync", "hostName": "\u2066Mina\u2069"}, "BIDI_CONTROL"),
    ],
)
async def test_titles_and_names_that_show_nothing_or_reorder_text_are_refused(
    client: httpx.AsyncClient, fields: dict[str, str], code: str
) -> None:
    response = await client.post("/api/v1/meetings", json=fields)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


async def test_korean_titles_and_emoji_names_are_welcome(client: httpx.AsyncClient) -> None:
    title, name = "주간 회의 👩\u200d💻", "김민아 🏳\ufe0f\u200d🌈"
    meeting, _ = await create(client, title=title, hostName=name)
    assert (meeting["title"], meeting["hostName"]) == (title, name)
