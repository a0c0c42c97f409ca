"""A live call's typed events as `/signaling` payloads: the one place their wire shape lives.

    Transcribed   → transcript     {callId, turn, speaker, text, final, language[, interrupted]
                                    [, carried]}
    TurnTimed     → turn-latency   {callId, turn, voiceToVoiceMs, stages{endOfTurnMs, sttMs,
                                    llmFirstTokenMs, llmFirstClauseMs, ttsFirstChunkMs,
                                    voiceToVoiceMs}, at{speechEnded, firstAudio}}
    MoodFound     → sentiment      {callId, turn, sentiment, score}
    StatusChanged → call-state     {callId, status[, reason]}
    Trouble       → error          {message, code}
    SpokenReply   → ai-audio-response {audioData (base64 WAV), timestamp}

The calls layer names stages once, in snake_case (`parley.calls.domain.Stage`); the wire keeps
the camelCase `...Ms` names its clients know, for the stages they are shown (the others, such as
`llm` and `tts`, are stored but not sent). Monotonic instants become Unix ms here, so a client
with a synchronized clock can line them up with its own.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

from parley.calls.domain import Stage, Stages
from parley.calls.events import (
    CallEvent,
    MoodFound,
    StatusChanged,
    Transcribed,
    Trouble,
    TurnTimed,
)

Send = Callable[[str, dict[str, Any]], Awaitable[None]]

WIRE_STAGES = {
    Stage.END_OF_TURN: "endOfTurnMs",
    Stage.STT: "sttMs",
    Stage.LLM_FIRST_TOKEN: "llmFirstTokenMs",
    Stage.LLM_FIRST_CLAUSE: "llmFirstClauseMs",
    Stage.TTS_FIRST_CHUNK: "ttsFirstChunkMs",
    Stage.VOICE_TO_VOICE: "voiceToVoiceMs",
    Stage.ANSWER_AUDIO: "answerAudioMs",
}


class CallPublisher:
    """`CallEvents` for one Socket.IO connection: `send(event, payload)` emits to it."""

    def __init__(self, send: Send) -> None:
        self._send = send

    async def report(self, event: CallEvent) -> None:
        await self._send(*payload_of(event))


def payload_of(event: CallEvent) -> tuple[str, dict[str, Any]]:
    """The `/signaling` event name and payload of a call's event."""
    if isinstance(event, Transcribed):
        return "transcript", _transcript(event)
    if isinstance(event, TurnTimed):
        return "turn-latency", _latency(event)
    if isinstance(event, MoodFound):
        return "sentiment", {
            "callId": str(event.call_id),
            "turn": event.turn,
            "sentiment": event.mood.label.value,
            "score": round(event.mood.score, 3),
        }
    if isinstance(event, StatusChanged):
        state = {"callId": str(event.call_id), "status": event.status.value}
        return "call-state", state | ({"reason": event.reason} if event.reason else {})
    if isinstance(event, Trouble):
        return "error", {"message": event.error.message, "code": event.error.code}
    audio = base64.b64encode(event.wav).decode("ascii")
    return "ai-audio-response", {"audioData": audio, "timestamp": event.at.isoformat()}


def _transcript(event: Transcribed) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "callId": str(event.call_id),
        "turn": event.turn,
        "speaker": event.speaker.value,
        "text": event.text,
        "final": event.final,
        "language": event.language.value,
    }
    if event.interrupted is not None:
        payload["interrupted"] = event.interrupted
    if event.carried:
        payload["carried"] = True
    return payload


def _latency(event: TurnTimed) -> dict[str, Any]:
    return {
        "callId": str(event.call_id),
        "turn": event.turn,
        "voiceToVoiceMs": event.stages.get(Stage.VOICE_TO_VOICE),
        "stages": wire_stages(event.stages),
        "at": {
            "speechEnded": epoch_ms(event.speech_ended_at),
            "firstAudio": epoch_ms(event.first_audio_at),
        },
    }


def wire_stages(stages: Stages) -> dict[str, float]:
    """The stages clients are shown, by their wire names, in the order they were measured."""
    return {WIRE_STAGES[stage]: ms for stage, ms in stages.items() if stage in WIRE_STAGES}


def epoch_ms(monotonic: float | None) -> float | None:
    """A `time.monotonic()` instant as Unix time in ms (for clients to line up with their own
    clock: the part of voice-to-voice the server cannot see is theirs to compute)."""
    if monotonic is None:
        return None
    return round((time.time() - (time.monotonic() - monotonic)) * 1000, 1)
