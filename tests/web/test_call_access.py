"""Who may see which call (`parley.web.access`): a call's id and session id are its caller's
secrets; listing calls and reading their session ids takes the operator key (issue 12, item 3)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.errors import SettingsError
from tests.conftest import MakeClient, make_settings

KEY = "operator-key-for-tests-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def guarded(make_client: MakeClient) -> AsyncIterator[httpx.AsyncClient]:
    """A server with an operator key."""
    async with make_client(server={"operator_api_key": KEY}) as client:
        yield client


async def create(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/api/v1/calls", json={"callerNumber": "01012345678"})
    assert response.status_code == 201
    call: dict[str, str] = response.json()["data"]["call"]
    return call


async def test_the_creator_gets_the_session_id(guarded: httpx.AsyncClient) -> None:
    """The original client needs it to join the call's signaling session."""
    call = await create(guarded)
    assert len(call["sessionId"]) == 32


@pytest.mark.parametrize("configured", [True, False], ids=["key-set", "no-key-set"])
async def test_a_stranger_cannot_list_calls(make_client: MakeClient, configured: bool) -> None:
    """The attack: list calls, take a session id, join it. Without the key there is no listing,
    whether or not the server has a key at all (development without one lists nothing)."""
    server = {"operator_api_key": KEY} if configured else {}
    async with make_client(server=server) as client:
        await create(client)
        for params in ({}, {"status": "RINGING"}, {"pageSize": 100}):
            response = await client.get("/api/v1/calls", params=params)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "OPERATOR_KEY_REQUIRED"
            assert "sessionId" not in response.text
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("headers", [OPERATOR, {"X-API-Key": KEY}], ids=["bearer", "x-api-key"])
async def test_an_operator_lists_calls_with_their_session_ids(
    guarded: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    call = await create(guarded)
    response = await guarded.get("/api/v1/calls", headers=headers)
    assert response.status_code == 200
    listed = response.json()["data"]["calls"]
    assert [(c["id"], c["sessionId"]) for c in listed] == [(call["id"], call["sessionId"])]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-key"},
        {"X-API-Key": KEY[:-1]},
        {"X-API-Key": KEY + "x"},
        {"Authorization": f"Bearer {KEY.upper()}"},
    ],
)
async def test_a_wrong_operator_key_is_refused(
    guarded: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    call = await create(guarded)
    for path in ("/api/v1/calls", f"/api/v1/calls/{call['id']}"):
        response = await guarded.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_OPERATOR_KEY"


async def test_a_key_sent_to_a_server_without_one_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/calls", headers=OPERATOR)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_OPERATOR_KEY"


async def test_the_callers_own_routes_work_by_id_but_never_show_the_session_id(
    guarded: httpx.AsyncClient,
) -> None:
    """As the original client calls them: the id alone, no header."""
    call = await create(guarded)
    path = f"/api/v1/calls/{call['id']}"
    for method, suffix, status in [
        ("GET", "", "RINGING"),
        ("POST", "/connect", "CONNECTING"),
        ("POST", "/end", "ENDED"),
    ]:
        response = await guarded.request(method, path + suffix)
        assert response.status_code == 200
        seen = response.json()["data"]["call"]
        assert seen["status"] == status
        assert "sessionId" not in seen
    as_operator = (await guarded.get(path, headers=OPERATOR)).json()["data"]["call"]
    assert as_operator["sessionId"] == call["sessionId"]


async def test_the_transcript_takes_the_session_id_or_the_operator_key(
    guarded: httpx.AsyncClient,
) -> None:
    call = await create(guarded)
    other = await create(guarded)
    path = f"/api/v1/calls/{call['id']}/conversation"

    anonymous = await guarded.get(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "SESSION_REQUIRED"
    wrong = await guarded.get(path, headers={"X-Session-Id": other["sessionId"]})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "WRONG_SESSION"
    for headers in ({"X-Session-Id": call["sessionId"]}, OPERATOR):
        response = await guarded.get(path, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"]["turns"] == []


def test_production_needs_an_operator_key(tmp_path: Path) -> None:
    production = {"app_env": "production"}
    meetings = {"token_secret": "t" * 32}
    with pytest.raises(SettingsError, match="OPERATOR_API_KEY"):
        make_settings(tmp_path, server=production, meetings=meetings)
    with pytest.raises(SettingsError, match="at least 32"):
        make_settings(tmp_path, server={"operator_api_key": "short"})
    settings = make_settings(
        tmp_path, server={**production, "operator_api_key": KEY}, meetings=meetings
    )
    assert KEY in settings.secrets()  # masked in every log line
    assert KEY not in repr(settings)


async def test_the_key_is_never_logged(
    guarded: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    await guarded.get("/api/v1/calls", headers=OPERATOR)
    await guarded.get("/api/v1/calls", headers={"X-API-Key": KEY + "x"})
    assert KEY not in caplog.text
