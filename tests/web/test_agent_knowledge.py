"""The agent's knowledge file through the real app and the real local models: what the file
says reaches the answer, in at most two sentences; a bad file stops start-up with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from parley.calls.knowledge import KnowledgeError
from parley.errors import SettingsError
from tests.conftest import MakeClient, make_settings, running_client
from tests.web.test_conversation_api import active_call, process, wav

KNOWLEDGE = """# Deliveries
Shoes and clothes are delivered in four business days. Delivery is free.

# Returns
Items can be returned within 30 days.
"""


async def test_the_answer_comes_from_the_knowledge_file_in_two_sentences_at_most(
    make_client: MakeClient, english_question: AudioChunk, tmp_path: Path
) -> None:
    knowledge = tmp_path / "shop.md"
    knowledge.write_text(KNOWLEDGE)
    async with make_client(agent={"knowledge_file": knowledge}) as client:
        call_id = await active_call(client)
        response = await process(client, call_id, wav(english_question))
    assert response.status_code == 200, response.text
    answer = response.json()["data"]["conversation"]["aiResponse"]
    assert re.search(r"\b(four|4)\b", answer, re.IGNORECASE), answer  # shoes, then "when?"
    assert len(re.findall(r"[.!?](?:\s|$)", answer)) <= 2, answer
    assert not re.search(r"[*#`]|^\s*[-•]|\bAI\b|language model", answer), answer


async def test_a_knowledge_file_that_cannot_be_read_stops_start_up(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    settings = make_settings(tmp_path, agent={"knowledge_file": tmp_path / "missing.md"})
    with pytest.raises(KnowledgeError, match=r"missing\.md cannot be read"):
        async with running_client(settings, idle_engine):
            pass


def test_the_sentence_limit_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"AGENT_MAX_SENTENCES|max_sentences"):
        make_settings(tmp_path, agent={"max_sentences": 0})
