"""A live call's typed events as the `/signaling` payloads clients already know."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from parley.ai.base import Language, Sentiment, SentimentScore
from parley.calls.domain import CallStatus, Stage
from parley.calls.events import (
    CallEvent,
    MoodFound,
    Speaker,
    SpokenReply,
    StatusChanged,
    Transcribed,
    Trouble,
    TurnTimed,
)
from parley.errors import AIProviderError
from parley.web.call_publisher import CallPublisher

CALL = uuid.UUID("12345678-1234-5678-1234-567812345678")


async def published(event: CallEvent) -> tuple[str, dict[str, Any]]:
    sent: list[tuple[str, dict[str, Any]]] = []

    async def send(name: str, payload: dict[str, Any]) -> None:
        sent.append((name, payload))

    await CallPublisher(send).report(event)
    [only] = sent
    return only


async def test_transcript_lines_tell_interrupted_and_carried_only_when_they_apply() -> None:
    caller = Transcribed(CALL, 1, Speaker.CALLER, "Hi", final=False, language=Language.ENGLISH)
    assert await published(caller) == (
        "transcript",
        {
            "callId": str(CALL),
            "turn": 1,
            "speaker": "caller",
            "text": "Hi",
            "final": False,
            "language": "en",
        },
    )
    ai = Transcribed(CALL, 1, Speaker.AI, "Sure", True, Language.KOREAN, interrupted=False)
    assert (await published(ai))[1]["interrupted"] is False
    carried = Transcribed(CALL, 2, Speaker.CALLER, "", True, Language.ENGLISH, carried=True)
    _, payload = await published(carried)
    assert payload["carried"] is True
    assert "interrupted" not in payload


async def test_turn_latency_keeps_its_camel_case_stages_and_unix_instants() -> None:
    now = time.monotonic()
    stages = {
        Stage.STT: 120.0,
        Stage.END_OF_TURN: 300.5,
        Stage.LLM_FIRST_TOKEN: 410.0,
        Stage.LLM_FIRST_CLAUSE: 520.0,
        Stage.TTS_FIRST_CHUNK: 80.0,
        Stage.VOICE_TO_VOICE: 900.0,
        Stage.LLM: 2000.0,  # stored, not shown
        Stage.TTS: 700.0,
    }
    name, payload = await published(TurnTimed(CALL, 3, stages, now - 1.0, now))
    assert name == "turn-latency"
    assert payload["voiceToVoiceMs"] == 900.0
    assert payload["stages"] == {
        "sttMs": 120.0,
        "endOfTurnMs": 300.5,
        "llmFirstTokenMs": 410.0,
        "llmFirstClauseMs": 520.0,
        "ttsFirstChunkMs": 80.0,
        "voiceToVoiceMs": 900.0,
    }
    ended, first = payload["at"]["speechEnded"], payload["at"]["firstAudio"]
    assert abs(first - time.time() * 1000) < 1000
    assert abs((first - ended) - 1000.0) < 1.0


async def test_the_other_events() -> None:
    mood = MoodFound(CALL, 2, SentimentScore(Sentiment.NEGATIVE, 0.87654))
    assert await published(mood) == (
        "sentiment",
        {"callId": str(CALL), "turn": 2, "sentiment": "negative", "score": 0.877},
    )
    assert await published(StatusChanged(CALL, CallStatus.IN_PROGRESS)) == (
        "call-state",
        {"callId": str(CALL), "status": "IN_PROGRESS"},
    )
    failed = await published(StatusChanged(CALL, CallStatus.FAILED, "ICE failed"))
    assert failed[1]["reason"] == "ICE failed"
    error = AIProviderError("The llm provider failed", provider="llm")
    assert await published(Trouble(error)) == (
        "error",
        {"message": "The llm provider failed", "code": "AI_PROVIDER_FAILED"},
    )
    at = datetime(2026, 12, 3, 12, tzinfo=UTC)
    name, payload = await published(SpokenReply(b"RIFF....WAVE", at))
    assert name == "ai-audio-response"
    assert base64.b64decode(payload["audioData"]) == b"RIFF....WAVE"
    assert payload["timestamp"] == at.isoformat()
