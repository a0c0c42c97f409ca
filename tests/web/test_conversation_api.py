"""`POST /api/v1/calls/conversation/process` end to end, with the real local models."""

import base64
import re
import socket
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from parley.ai.audio import decode, encode_wav
from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from parley.ai.openai_providers import OpenAIChatLLM, make_client
from tests.conftest import MakeClient, make_settings, running_client
from tests.speech import encode

PROCESS = "/api/v1/calls/conversation/process"


async def active_call(client: httpx.AsyncClient, connect: bool = True) -> str:
    response = await client.post("/api/v1/calls", json={"callerNumber": "01012345678"})
    call_id: str = response.json()["data"]["call"]["id"]
    # The caller reads its transcript by proving the call is its own (`parley.web.access`).
    client.headers["X-Session-Id"] = response.json()["data"]["call"]["sessionId"]
    if connect:
        assert (await client.post(f"/api/v1/calls/{call_id}/connect")).status_code == 200
    return call_id


async def process(
    client: httpx.AsyncClient, call_id: str, audio: bytes, name: str = "question.wav", **form: str
) -> httpx.Response:
    files = {"audio": (name, audio, "application/octet-stream")}
    return await client.post(PROCESS, data={"callId": call_id, **form}, files=files, timeout=120)


def wav(clip: AudioChunk) -> bytes:
    return encode_wav(clip.pcm, clip.sample_rate)


async def test_english_question_gets_a_spoken_answer(
    client: httpx.AsyncClient, english_question: AudioChunk
) -> None:
    call_id = await active_call(client)
    response = await process(client, call_id, wav(english_question))
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    conversation = body["conversation"]
    assert "shoes" in conversation["userMessage"].lower()
    assert "arrive" in conversation["userMessage"].lower()
    assert conversation["language"] == "en"
    assert len(conversation["aiResponse"]) > 5
    assert not re.search("[가-힣]", conversation["aiResponse"])
    assert conversation["sentiment"]["sentiment"] in ("positive", "neutral", "negative")
    assert 0 <= conversation["sentiment"]["score"] <= 1
    assert {"stt", "llm_first_token", "tts_first_chunk", "total"} <= set(conversation["latencyMs"])
    assert body["audioUrl"].startswith("data:audio/mpeg;base64,")
    spoken = decode(base64.b64decode(body["audioUrl"].split(",", 1)[1]), max_seconds=60)
    assert len(spoken) / 16000 > 0.8

    turns = (await client.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[0]["text"] == conversation["userMessage"]
    assert turns[0]["sentiment"] == conversation["sentiment"]
    assert turns[1]["text"] == conversation["aiResponse"]
    assert "llm_first_token" in turns[1]["latencyMs"]


async def test_korean_question_gets_a_korean_answer(
    client: httpx.AsyncClient, korean_question: AudioChunk
) -> None:
    call_id = await active_call(client)
    response = await process(
        client, call_id, encode(korean_question, "webm"), "q.webm", language="ko"
    )
    assert response.status_code == 200, response.text
    conversation = response.json()["data"]["conversation"]
    assert re.search("[가-힣]", conversation["userMessage"])
    assert re.search("[가-힣]", conversation["aiResponse"]), conversation["aiResponse"]
    assert conversation["language"] == "ko"
    assert response.json()["data"]["audioUrl"].startswith("data:audio/mpeg;base64,")


async def test_the_next_exchange_remembers_the_first(
    client: httpx.AsyncClient, english_question: AudioChunk
) -> None:
    call_id = await active_call(client)
    for _ in range(2):
        assert (await process(client, call_id, wav(english_question))).status_code == 200
    turns = (await client.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
    assert [t["index"] for t in turns] == [0, 1, 2, 3]


async def test_silence_is_heard_as_nothing_and_asks_no_llm(
    make_client: MakeClient, tmp_path: Path, local_engine: AIEngine
) -> None:
    broken = replace(local_engine, llm=dead_llm())  # proves the LLM is not asked
    async with running_client(make_settings(tmp_path), broken) as client:
        call_id = await active_call(client)
        silence = AudioChunk(np.zeros(16000 * 2, np.int16), 16000)
        response = await process(client, call_id, wav(silence))
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        assert body["conversation"]["userMessage"] == ""
        assert body["conversation"]["aiResponse"] == ""
        assert body["audioUrl"] is None
        turns = (await client.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
        assert turns == []


async def test_a_failing_llm_is_503_and_stores_nothing(
    tmp_path: Path, local_engine: AIEngine, english_question: AudioChunk
) -> None:
    broken = replace(local_engine, llm=dead_llm())
    async with running_client(make_settings(tmp_path), broken) as client:
        call_id = await active_call(client)
        response = await process(client, call_id, wav(english_question))
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "AI_PROVIDER_FAILED"
        assert error["details"]["provider"] == "llm:openai-compatible"
        turns = (await client.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
        assert turns == []


def dead_llm() -> OpenAIChatLLM:
    """An OpenAI-compatible LLM at a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client("unused", f"http://127.0.0.1:{port}/v1", timeout=2)
    return OpenAIChatLLM(client, "none", temperature=0, provider="openai-compatible")


@pytest.mark.parametrize(
    ("connect", "end", "status", "code"),
    [(False, False, 409, "CALL_NOT_ACTIVE"), (True, True, 409, "CALL_NOT_ACTIVE")],
)
async def test_a_call_that_cannot_talk_is_409(
    client: httpx.AsyncClient,
    english_question: AudioChunk,
    connect: bool,
    end: bool,
    status: int,
    code: str,
) -> None:
    call_id = await active_call(client, connect=connect)
    if end:
        await client.post(f"/api/v1/calls/{call_id}/end")
    response = await process(client, call_id, wav(english_question))
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_unknown_call_is_404(client: httpx.AsyncClient) -> None:
    response = await process(client, "00000000-0000-0000-0000-000000000000", b"RIFF")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "CALL_NOT_FOUND")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"", 422, "INVALID_AUDIO"),
        (b"this is a text file, not a recording " * 20, 415, "UNSUPPORTED_AUDIO_FORMAT"),
        (bytes(range(256)) * 20, 415, "UNSUPPORTED_AUDIO_FORMAT"),
    ],
)
async def test_bad_audio_is_refused_clearly(
    client: httpx.AsyncClient, payload: bytes, status: int, code: str
) -> None:
    call_id = await active_call(client)
    response = await process(client, call_id, payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


async def test_missing_fields_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post(PROCESS, data={"callId": "x"})
    assert response.status_code == 422
    assert "audio" in response.json()["error"]["message"]


async def test_limits_are_413(make_client: MakeClient, english_question: AudioChunk) -> None:
    async with make_client(ai={"max_audio_seconds": 2, "max_audio_bytes": 60_000}) as client:
        call_id = await active_call(client)
        too_long = await process(client, call_id, encode(english_question, "mp3"), "q.mp3")
        assert (too_long.status_code, too_long.json()["error"]["code"]) == (413, "AUDIO_TOO_LONG")
        too_big = await process(client, call_id, wav(english_question))
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        turns = (await client.get(f"/api/v1/calls/{call_id}/conversation")).json()["data"]["turns"]
        assert turns == []
