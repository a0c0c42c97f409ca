"""The AI call REST contract, exactly as the original system's README documents it."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import MakeClient
from tests.web.test_call_access import KEY, OPERATOR

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def create(client: httpx.AsyncClient, number: str = "01012345678") -> dict[str, object]:
    response = await client.post("/api/v1/calls", json={"callerNumber": number})
    assert response.status_code == 201, response.text
    call: dict[str, object] = response.json()["data"]["call"]
    return call


async def test_config_has_the_original_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/calls/config")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "config": {
                "iceServers": [{"urls": "stun:stun.l.google.com:19302"}],
                "iceCandidatePoolSize": 10,
                "iceTransportPolicy": "all",
                "bundlePolicy": "max-bundle",
                "rtcpMuxPolicy": "require",
            }
        },
    }


async def test_config_follows_stun_server_url(make_client: MakeClient) -> None:
    async with make_client(webrtc={"stun_server_urls": ["stun:a:3478", "stun:b:3478"]}) as client:
        config = (await client.get("/api/v1/calls/config")).json()["data"]["config"]
    assert config["iceServers"] == [{"urls": "stun:a:3478"}, {"urls": "stun:b:3478"}]


async def test_original_flow_create_connect_get_end(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/calls", json={"callerNumber": "01012345678", "receiverNumber": "01087654321"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    call = body["data"]["call"]
    assert uuid.UUID(call["id"])
    assert call["sessionId"]
    assert call["callerNumber"] == "01012345678"
    assert call["receiverNumber"] == "01087654321"
    assert call["status"] == "RINGING"
    assert ISO_MS_Z.match(call["createdAt"])

    connected = await client.post(f"/api/v1/calls/{call['id']}/connect")
    assert connected.status_code == 200
    assert connected.json()["data"]["call"]["status"] == "CONNECTING"
    assert ISO_MS_Z.match(connected.json()["data"]["call"]["connectedAt"])

    fetched = (await client.get(f"/api/v1/calls/{call['id']}")).json()["data"]["call"]
    assert fetched["status"] == "CONNECTING"
    assert "sessionId" not in fetched  # the caller's secret: answered only at creation

    ended = await client.post(f"/api/v1/calls/{call['id']}/end")
    assert ended.status_code == 200
    assert ended.json()["data"]["call"]["status"] == "ENDED"
    assert ISO_MS_Z.match(ended.json()["data"]["call"]["endedAt"])


async def test_the_api_works_the_same_on_every_database(
    make_client: MakeClient, database_url: str
) -> None:
    database, server = {"url": database_url}, {"operator_api_key": KEY}
    async with make_client(database=database, server=server) as client:
        call = await create(client)
        assert (await client.post(f"/api/v1/calls/{call['id']}/connect")).status_code == 200
        assert (await client.post(f"/api/v1/calls/{call['id']}/end")).status_code == 200
        assert (await client.post(f"/api/v1/calls/{call['id']}/end")).status_code == 409
        ended = {"status": "ENDED"}
        listed = (await client.get("/api/v1/calls", params=ended, headers=OPERATOR)).json()["data"]
        assert [c["id"] for c in listed["calls"]] == [call["id"]]
        assert (await client.get("/readyz")).status_code == 200


async def test_numbers_are_normalized(client: httpx.AsyncClient) -> None:
    call = await create(client, "+82 10-1234-5678")
    assert call["callerNumber"] == "01012345678"
    assert call["callerNumberE164"] == "+821012345678"


@pytest.mark.parametrize("path", ["", "/connect", "/end", "/conversation"])
@pytest.mark.parametrize("call_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
async def test_unknown_call_is_404(client: httpx.AsyncClient, path: str, call_id: str) -> None:
    method = "GET" if path in ("", "/conversation") else "POST"
    response = await client.request(method, f"/api/v1/calls/{call_id}{path}")
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "CALL_NOT_FOUND"


async def test_illegal_transition_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    call = await create(client)
    assert (await client.post(f"/api/v1/calls/{call['id']}/end")).status_code == 200
    before = (await client.get(f"/api/v1/calls/{call['id']}")).json()
    for action in ("connect", "end"):
        response = await client.post(f"/api/v1/calls/{call['id']}/{action}")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "ILLEGAL_STATE_TRANSITION"
        assert error["details"]["current"] == "ENDED"
    assert (await client.get(f"/api/v1/calls/{call['id']}")).json() == before


async def test_connect_is_idempotent_while_connecting(client: httpx.AsyncClient) -> None:
    call = await create(client)
    first = await client.post(f"/api/v1/calls/{call['id']}/connect")
    again = await client.post(f"/api/v1/calls/{call['id']}/connect")
    assert again.status_code == 200
    assert (
        again.json()["data"]["call"]["connectedAt"] == first.json()["data"]["call"]["connectedAt"]
    )


async def test_racing_hang_ups_have_one_winner(client: httpx.AsyncClient) -> None:
    call = await create(client)
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/calls/{call['id']}/end") for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7


@pytest.mark.parametrize(
    "body",
    ['{"callerNumber": ', "not json", '{"callerNumber": "010"', "\xff\xfe"],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post(
        "/api/v1/calls",
        content=body.encode("latin-1"),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": {"code": "MALFORMED_JSON", "message": "The request body is not valid JSON."},
    }


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "callerNumber", "VALIDATION_ERROR"),
        ({"callerNumber": 1012345678}, "callerNumber", "VALIDATION_ERROR"),
        ({"callerNumber": ""}, "callerNumber", "VALIDATION_ERROR"),
        ({"callerNumber": "0" * 33}, "callerNumber", "VALIDATION_ERROR"),
        ([], "body", "VALIDATION_ERROR"),
        ({"callerNumber": "12"}, "callerNumber", "INVALID_PHONE_NUMBER"),
        (
            {"callerNumber": "01012345678", "receiverNumber": "x"},
            "receiverNumber",
            "INVALID_PHONE_NUMBER",
        ),
    ],
)
async def test_invalid_fields_are_422(
    client: httpx.AsyncClient, body: object, field: str, code: str
) -> None:
    response = await client.post("/api/v1/calls", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["message"]


async def test_unknown_fields_are_ignored_as_before(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/calls", json={"callerNumber": "01012345678", "extra": {"nested": True}}
    )
    assert response.status_code == 201


@pytest.fixture
async def operated(make_client: MakeClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a server with an operator key, sending it: listing calls needs it."""
    async with make_client(server={"operator_api_key": KEY}) as client:
        client.headers.update(OPERATOR)
        yield client


async def test_list_filters_and_pages_newest_first(operated: httpx.AsyncClient) -> None:
    client = operated
    first = await create(client, "010-1111-2222")
    second = await create(client, "010-3333-4444")
    third = await create(client, "010-1111-2222")
    await client.post(f"/api/v1/calls/{second['id']}/end")

    page = (await client.get("/api/v1/calls", params={"pageSize": 2})).json()["data"]
    assert [c["id"] for c in page["calls"]] == [third["id"], second["id"]]
    assert page["pagination"] == {"page": 1, "pageSize": 2, "total": 3, "totalPages": 2}
    page2 = (await client.get("/api/v1/calls", params={"pageSize": 2, "page": 2})).json()["data"]
    assert [c["id"] for c in page2["calls"]] == [first["id"]]

    mine = (await client.get("/api/v1/calls", params={"callerNumber": "+82 10 1111 2222"})).json()
    assert {c["id"] for c in mine["data"]["calls"]} == {first["id"], third["id"]}
    ended = (await client.get("/api/v1/calls", params={"status": "ENDED"})).json()
    assert [c["id"] for c in ended["data"]["calls"]] == [second["id"]]


@pytest.mark.parametrize(
    "params",
    [{"status": "RINGIN"}, {"page": 0}, {"pageSize": 101}, {"callerNumber": "nope"}],
)
async def test_bad_list_queries_are_422(
    operated: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    response = await operated.get("/api/v1/calls", params=params)
    assert response.status_code == 422
    assert response.json()["success"] is False


async def test_conversation_is_empty_for_a_new_call(client: httpx.AsyncClient) -> None:
    call = await create(client)
    response = await client.get(
        f"/api/v1/calls/{call['id']}/conversation", headers={"X-Session-Id": str(call["sessionId"])}
    )
    assert response.json() == {
        "success": True,
        "data": {"callId": call["id"], "status": "RINGING", "turns": []},
    }


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"callerNumber": "' + b"0" * 2_000_000 + b'"}'
    response = await client.post(
        "/api/v1/calls", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"0" * 64_000

    response = await client.post(
        "/api/v1/calls", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    wrong = await client.delete("/api/v1/calls/config")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_request_id_is_returned_and_kept(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    kept = await client.get("/healthz", headers={"x-request-id": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
    replaced = await client.get("/healthz", headers={"x-request-id": "bad id\nwith newline"})
    assert replaced.headers["x-request-id"] != "bad id\nwith newline"


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_configured_origins_only(make_client: MakeClient) -> None:
    async with make_client(server={"cors_origins": ["https://app.example"]}) as client:
        preflight = await client.options(
            "/api/v1/calls",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        other = await client.get("/healthz", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_health_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready", "checks": {"database": "ok"}}
    docs = await client.get("/api/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    schema = (await client.get("/api/openapi.json")).json()
    assert "/api/v1/calls/{call_id}/connect" in schema["paths"]
