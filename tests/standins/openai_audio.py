"""A local server that speaks OpenAI's audio API, for testing Parley's OpenAI providers here,
where OpenAI's cloud cannot be reached. It does the real work with local models: transcriptions
with Whisper base, speech with the Piper voice.

    POST /v1/audio/transcriptions   multipart: file, model, language?, response_format
                                    (verbose_json: with segments and their confidence figures)
    POST /v1/audio/speech           JSON: model, input, voice, response_format (pcm | wav)

Requests need `Authorization: Bearer <API_KEY>`. The model name `fail` answers 500, as a failing
provider would. Run: python -m tests.standins.openai_audio --port N --api-key K --models-dir D
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import uvicorn
from fastapi import FastAPI, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from parley.ai.audio import decode, encode_wav
from parley.ai.base import Language, Transcript
from parley.ai.local.piper_tts import PiperTTS
from parley.ai.local.whisper_stt import WhisperSTT
from tests.speech import resample

PCM_RATE = 24_000


class SpeechRequest(BaseModel):
    model: str
    input: str
    voice: str
    response_format: str = "mp3"


def openai_error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status)


def segments(heard: Transcript) -> list[dict[str, Any]]:
    """`verbose_json`'s segments, as OpenAI's Whisper gives them: here one for the whole clip,
    with the local Whisper's confidence figures (none when it decoded nothing)."""
    if heard.confidence is None:
        return []
    figures = heard.confidence
    return [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": heard.duration_s,
            "text": heard.text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": figures.avg_logprob,
            "compression_ratio": figures.compression_ratio,
            "no_speech_prob": figures.no_speech_prob,
        }
    ]


def create_app(api_key: str, models_dir: Path) -> FastAPI:
    app = FastAPI()
    stt = WhisperSTT(models_dir / "whisper-base", window_s=30)
    tts = PiperTTS()

    def refused(authorization: str | None, model: str) -> JSONResponse | None:
        if authorization != f"Bearer {api_key}":
            return openai_error(401, "Incorrect API key provided.", "invalid_request_error")
        if model == "fail":
            return openai_error(500, "The server had an error.", "server_error")
        return None

    @app.post("/v1/audio/transcriptions", response_model=None)
    async def transcriptions(
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form()],
        authorization: Annotated[str | None, Header()] = None,
        language: Annotated[str | None, Form()] = None,
        response_format: Annotated[str, Form()] = "json",
    ) -> Any:
        if error := refused(authorization, model):
            return error
        samples = decode(await file.read(), max_seconds=600)
        heard = await stt.transcribe(samples, language=Language(language) if language else None)
        names = {Language.KOREAN: "korean", Language.ENGLISH: "english"}
        if response_format == "text":
            return Response(heard.text, media_type="text/plain")
        body: dict[str, Any] = {"text": heard.text}
        if response_format == "verbose_json":
            body |= {"language": names[heard.language], "duration": heard.duration_s}
            body |= {"segments": segments(heard)}
        return body

    @app.post("/v1/audio/speech", response_model=None)
    async def speech(
        request: SpeechRequest, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        if error := refused(authorization, request.model):
            return error
        if request.response_format not in ("pcm", "wav"):
            return openai_error(400, "Only pcm and wav here.", "invalid_request_error")

        async def pcm() -> AsyncIterator[bytes]:
            async for chunk in tts.synthesize(request.input, language=Language.ENGLISH):
                audio = resample(chunk.pcm, chunk.sample_rate, PCM_RATE)
                yield (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()

        if request.response_format == "wav":
            data = b"".join([part async for part in pcm()])
            return Response(
                encode_wav(np.frombuffer(data, np.int16), PCM_RATE), media_type="audio/wav"
            )
        return StreamingResponse(pcm(), media_type="audio/pcm")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--models-dir", type=Path, required=True)
    args = parser.parse_args()
    app = create_app(args.api_key, args.models_dir)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
