"""The OpenAI providers against local servers that speak OpenAI's API: llama.cpp's own
OpenAI-compatible server for chat, and `tests/standins/openai_audio.py` (real Whisper and Piper
behind OpenAI's audio endpoints) for speech. Nothing is patched: the official SDK talks HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from parley.ai import assets
from parley.ai.base import AudioChunk, ChatMessage, Language
from parley.ai.engine import AIEngine, build_engine
from parley.ai.openai_providers import OpenAIChatLLM, OpenAISTT, OpenAITTS, make_client
from parley.errors import AIProviderError, InvalidInputError
from tests.conftest import make_settings
from tests.live import Process, free_port, start_process
from tests.speech import resample

KEY = "sk-test-standin-0123456789"


def command_line(flags: dict[str, str]) -> list[str]:
    """`{"--port": "80"}` as `["--port", "80"]`: each flag beside its value, whatever the layout."""
    return [word for flag, value in flags.items() for word in (flag, value)]


@pytest.fixture(scope="module")
def models_dir(local_engine: AIEngine) -> Path:
    return make_settings(Path("/nonexistent")).ai.models_path


@pytest.fixture(scope="module")
def audio_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Process]:
    port = free_port()
    flags = {"--port": str(port), "--api-key": KEY, "--models-dir": str(models_dir)}
    argv = [sys.executable, "-m", "tests.standins.openai_audio", *command_line(flags)]
    server = start_process(argv, port, tmp_path_factory.mktemp("audio") / "log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Process]:
    port = free_port()
    model = models_dir / assets.QWEN_05B.target
    flags = {
        "--model": str(model),
        "--model_alias": "qwen-test",
        "--host": "127.0.0.1",
        "--port": str(port),
        "--api_key": KEY,
        "--n_ctx": "2048",
        "--n_threads": "2",
        "--verbose": "false",
    }
    argv = [sys.executable, "-m", "llama_cpp.server", *command_line(flags)]
    server = start_process(argv, port, tmp_path_factory.mktemp("chat") / "log")
    yield server
    server.stop()


async def test_openai_stt_transcribes(audio_server: Process, english_question: AudioChunk) -> None:
    stt = OpenAISTT(make_client(KEY, f"{audio_server.url}/v1", 60))
    audio = resample(english_question.pcm, english_question.sample_rate)
    heard = await stt.transcribe(audio, language=None)
    assert "shoes" in heard.text.lower()
    assert heard.language is Language.ENGLISH  # from verbose_json's "language"
    await stt.aclose()


@pytest.mark.parametrize(("key", "model"), [("sk-wrong-key-000000", "whisper-1"), (KEY, "fail")])
async def test_openai_stt_failures_are_ours(
    audio_server: Process, english_question: AudioChunk, key: str, model: str
) -> None:
    stt = OpenAISTT(make_client(key, f"{audio_server.url}/v1", 60), model)
    with pytest.raises(AIProviderError) as caught:
        await stt.transcribe(np.zeros(16000, np.float32), language=Language.ENGLISH)
    assert caught.value.details["provider"] == "stt:openai"
    assert key not in caught.value.message
    await stt.aclose()


async def test_openai_tts_streams_pcm(audio_server: Process) -> None:
    tts = OpenAITTS(make_client(KEY, f"{audio_server.url}/v1", 60), voice="nova")
    text = "Your order has shipped. It will arrive on Thursday. Thank you for calling."
    chunks = [c async for c in tts.synthesize(text, language=Language.ENGLISH)]
    assert len(chunks) > 1
    assert all(c.sample_rate == 24_000 for c in chunks)
    duration = sum(c.duration_s for c in chunks)
    assert 2.0 < duration < 12.0
    assert float(np.abs(np.concatenate([c.pcm for c in chunks])).max()) > 1000
    await tts.aclose()


async def test_openai_tts_refuses_unknown_voices(audio_server: Process) -> None:
    tts = OpenAITTS(make_client(KEY, f"{audio_server.url}/v1", 60))
    assert tts.voices()[Language.KOREAN] == ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]
    with pytest.raises(InvalidInputError, match="Unknown voice"):
        async for _ in tts.synthesize("hi", language=Language.ENGLISH, voice="darth"):
            pass
    await tts.aclose()


async def test_chat_streams_from_an_openai_compatible_server(chat_server: Process) -> None:
    llm = OpenAIChatLLM(
        make_client(KEY, f"{chat_server.url}/v1", 60), "qwen-test", temperature=0, provider="openai"
    )
    messages = [
        ChatMessage("system", "You are a helpful assistant."),
        ChatMessage("user", "List the days of the week, separated by commas."),
    ]
    pieces = [p async for p in llm.stream_reply(messages, max_tokens=40)]
    assert len(pieces) > 5  # streamed token by token, not in one block
    assert "monday" in "".join(pieces).lower()
    await llm.aclose()


async def test_settings_select_ollama_and_openai_compatible(
    tmp_path: Path, chat_server: Process
) -> None:
    for ai in (
        {"llm": "ollama", "ollama_base_url": f"{chat_server.url}/v1", "ollama_model": "qwen-test"},
        {
            "llm": "openai-compatible",
            "llm_base_url": f"{chat_server.url}/v1",
            "llm_model": "qwen-test",
            "llm_api_key": KEY,
        },
    ):
        engine = build_engine(make_settings(tmp_path, ai={**ai, "stt": "local", "tts": "local"}))
        assert isinstance(engine.llm, OpenAIChatLLM)
        if ai["llm"] == "openai-compatible":
            reply = [
                p
                async for p in engine.llm.stream_reply(
                    [ChatMessage("user", "Say hi")], max_tokens=8
                )
            ]
            assert reply
        await engine.aclose()


async def test_an_unreachable_server_is_a_provider_error() -> None:
    llm = OpenAIChatLLM(
        make_client(KEY, f"http://127.0.0.1:{free_port()}/v1", 2),
        "m",
        temperature=0,
        provider="ollama",
    )
    with pytest.raises(AIProviderError, match="ollama"):
        async for _ in llm.stream_reply([ChatMessage("user", "hi")], max_tokens=5):
            pass
    await llm.aclose()


async def test_openai_settings_need_a_key(tmp_path: Path) -> None:
    from parley.errors import SettingsError

    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        make_settings(tmp_path, ai={"llm": "openai"})
