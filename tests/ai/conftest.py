"""Fixtures of the AI tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.ai.engine import AIEngine
from parley.ai.local.whisper_stt import WhisperSTT
from tests.conftest import make_settings


@pytest.fixture(scope="module", params=[30, 10], ids=["window30", "window10"])
async def stt(request: pytest.FixtureRequest, local_engine: AIEngine) -> AsyncIterator[WhisperSTT]:
    """The real local Whisper on both decoding paths: faster-whisper's 30 s one, and the
    short-window one (`local_engine` first: it installs the models)."""
    models = make_settings(Path("/nonexistent")).ai.models_path
    engine = WhisperSTT(models / "whisper-base", window_s=request.param)
    await engine.load()
    yield engine
    await engine.aclose()
