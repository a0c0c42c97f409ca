"""The assistant's evaluations ahead are bounded: chat in many meetings queues at most
`MAX_WARM_UPS` of them for the LLM, and what they hold shows in the process's figures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from parley import memory
from parley.ai.base import ChatMessage, LanguageModel
from parley.ai.engine import AIEngine
from parley.meetings.assistant import MAX_WARM_UPS, WARM_AFTER_S, AssistantConfig, MeetingAssistant
from parley.meetings.service import MeetingService
from tests.conftest import make_settings
from tests.live import serve_app
from tests.meetings.client import eventually


class HeldLLM:
    """A local LLM at its boundary whose evaluations ahead wait until `release` is set."""

    name = "held"

    def __init__(self) -> None:
        self.warmed: list[Sequence[ChatMessage]] = []
        self.release = asyncio.Event()

    async def warm(self, messages: Sequence[ChatMessage], *, all_cores: bool = False) -> None:
        self.warmed.append(messages)
        await self.release.wait()

    async def stream_reply(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, all_cores: bool = False
    ) -> AsyncIterator[str]:
        yield "ok"

    async def aclose(self) -> None:
        pass


async def test_chat_in_many_meetings_queues_few_warm_ups_and_reports_them(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    async with serve_app(make_settings(tmp_path), idle_engine) as (_, app):
        service: MeetingService = app.state.services.meetings
        llm = HeldLLM()
        model: LanguageModel = llm
        assistant = MeetingAssistant(model, service, AssistantConfig())
        try:
            for _ in range(3 * MAX_WARM_UPS):
                assistant.chat_changed(uuid.uuid4())
            await asyncio.sleep(WARM_AFTER_S + 0.5)
            assert len(llm.warmed) == MAX_WARM_UPS  # the older ones gave way before the LLM
            figures = assistant.figures()
            assert figures.entries == MAX_WARM_UPS
            assert 0 < figures.bytes <= figures.limit
            assert memory.figures()["assistantWarmUps"].entries >= MAX_WARM_UPS
            llm.release.set()
            await eventually(lambda: assistant.figures().entries == 0, what="warm-ups done")
            assert assistant.figures().bytes == 0
        finally:
            await assistant.aclose()
