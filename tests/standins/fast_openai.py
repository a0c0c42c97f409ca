"""An instant stand-in for OpenAI's API, so that benchmarks measure Parley's media path and not
a model: every answer is fixed or cached, and costs next to nothing to serve.

    POST /v1/audio/transcriptions   multipart: file, model, ... -> always `--heard`
    POST /v1/chat/completions       JSON, stream true or false  -> `--reply`, word by word (SSE)
    POST /v1/audio/speech           JSON: input, response_format pcm | wav -> real speech

Speech is real (the Piper voice, so that a caller's VAD and ears treat it as speech), synthesized
once per distinct text and then served from memory: Parley asks for the same greeting and reply
sentences over and over. Requests need `Authorization: Bearer <API_KEY>`. `tests/standins/
openai_audio.py` is the slow, real one (Whisper and Piper behind the same endpoints).

Run: python -m tests.standins.fast_openai --port N --api-key K [--heard TEXT] [--reply TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
import uvicorn
from fastapi import FastAPI, File, Header, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from parley.ai.audio import encode_wav
from parley.ai.base import Language
from parley.ai.local.piper_tts import PiperTTS
from tests.speech import resample

PCM_RATE = 24_000
HEARD = "When will my order arrive?"
REPLY = "Your order is on its way. It should arrive tomorrow before noon."


class SpeechRequest(BaseModel):
    model: str
    input: str
    voice: str = "alloy"
    response_format: str = "mp3"


class ChatRequest(BaseModel):
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False


class SpeechCache:
    """24 kHz 16-bit PCM per text, synthesized by Piper the first time it is asked for."""

    def __init__(self) -> None:
        self._tts = PiperTTS()
        self._pcm: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def get(self, text: str) -> bytes:
        if (pcm := self._pcm.get(text)) is not None:
            return pcm
        async with self._lock:
            if text not in self._pcm:
                chunks = [c async for c in self._tts.synthesize(text, language=Language.ENGLISH)]
                audio = np.concatenate([resample(c.pcm, c.sample_rate, PCM_RATE) for c in chunks])
                self._pcm[text] = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
            return self._pcm[text]


def _chunk(model: str, delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def create_app(api_key: str, heard: str = HEARD, reply: str = REPLY) -> FastAPI:
    app = FastAPI()
    speech_cache = SpeechCache()

    def refused(authorization: str | None) -> JSONResponse | None:
        if authorization != f"Bearer {api_key}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, 401)
        return None

    @app.post("/v1/audio/transcriptions", response_model=None)
    async def transcriptions(
        file: Annotated[UploadFile, File()], authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        await file.read()
        return refused(authorization) or {"text": heard, "language": "english", "duration": 1.0}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(
        request: ChatRequest, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        if error := refused(authorization):
            return error
        if not request.stream:
            message = {"role": "assistant", "content": reply}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {"id": "chatcmpl-standin", "object": "chat.completion", "choices": [choice]}

        async def events() -> AsyncIterator[str]:
            yield _chunk(request.model, {"role": "assistant", "content": ""})
            for word in reply.split(" "):
                yield _chunk(request.model, {"content": word + " "})
            yield _chunk(request.model, {}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/audio/speech", response_model=None)
    async def speech(
        request: SpeechRequest, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        if error := refused(authorization):
            return error
        pcm = await speech_cache.get(request.input)
        if request.response_format == "wav":
            wav = encode_wav(np.frombuffer(pcm, np.int16), PCM_RATE)
            return Response(wav, media_type="audio/wav")
        return Response(pcm, media_type="audio/pcm")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--heard", default=HEARD, help="what every transcription says")
    parser.add_argument("--reply", default=REPLY, help="what every chat completion says")
    args = parser.parse_args()
    app = create_app(args.api_key, args.heard, args.reply)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
