"""`POST /api/v1/calls/conversation/process`: the original one-shot exchange over HTTP.

The caller's recording goes in as multipart; the AI's answer comes back as text and as an MP3
`data:` URL, with the caller's sentiment. (Live calls speak over WebRTC instead.)
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from parley.ai.audio import decode, encode_mp3
from parley.ai.base import Language
from parley.calls.agent import MAX_SYSTEM_PROMPT
from parley.web.deps import ConversationDep, SettingsDep
from parley.web.envelope import Success, documented, ok
from parley.web.schemas import ConversationPublic, ProcessedConversation, SentimentPublic

PATH = "/api/v1/calls/conversation/process"
router = APIRouter(tags=["calls"])


@router.post(
    PATH,
    summary="Answer one recorded utterance: speech-to-text, LLM, text-to-speech",
    responses=documented(400, 404, 409, 413, 415, 422, 503),
)
async def process_conversation(
    settings: SettingsDep,
    conversation: ConversationDep,
    audio: Annotated[UploadFile, File(description="WebM/Opus, Ogg, MP3, WAV, M4A or FLAC")],
    call_id: Annotated[str, Form(alias="callId", max_length=64)],
    system_prompt: Annotated[
        str | None, Form(alias="systemPrompt", max_length=MAX_SYSTEM_PROMPT)
    ] = None,
    language: Annotated[Language | None, Form()] = None,
    voice: Annotated[str | None, Form(max_length=40)] = None,
) -> Success[ProcessedConversation]:
    await conversation.require_active(call_id)
    data = await audio.read(settings.ai.max_audio_bytes + 1)
    if len(data) > settings.ai.max_audio_bytes:
        raise HTTPException(413, f"The audio is larger than {settings.ai.max_audio_bytes} bytes.")
    samples = await asyncio.to_thread(decode, data, max_seconds=settings.ai.max_audio_seconds)
    exchange = await conversation.respond_to_audio(
        call_id, samples, system_prompt=system_prompt, language=language, voice=voice
    )
    audio_url = None
    if exchange.speech is not None:
        mp3 = await asyncio.to_thread(encode_mp3, exchange.speech.pcm, exchange.speech.sample_rate)
        audio_url = "data:audio/mpeg;base64," + base64.b64encode(mp3).decode("ascii")
    sentiment = None
    if exchange.sentiment is not None:
        sentiment = SentimentPublic(
            sentiment=exchange.sentiment.label.value, score=round(exchange.sentiment.score, 3)
        )
    public = ConversationPublic(
        user_message=exchange.user_text,
        ai_response=exchange.ai_text,
        sentiment=sentiment,
        timestamp=exchange.timestamp,
        language=exchange.language.value,
        latency_ms=exchange.latency_ms,
    )
    return ok(ProcessedConversation(conversation=public, audio_url=audio_url))
