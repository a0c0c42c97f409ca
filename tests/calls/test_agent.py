"""The agent's prompt: the per-call prompt on top of the rules, the knowledge whole (cached) or
retrieved per turn (with the caller's words), never a guess invited."""

from __future__ import annotations

from parley.ai.base import ChatMessage, Language
from parley.calls.agent import Agent
from parley.calls.knowledge import Knowledge
from tests.calls.test_knowledge import SMALL, large


def test_the_per_call_prompt_stays_on_top_of_the_rules_and_the_small_knowledge() -> None:
    agent = Agent(Knowledge.from_text(SMALL))
    system = agent.system_prompt(Language.ENGLISH, "You are Ada, the Kettle Shop's agent.")
    assert system.endswith("You are Ada, the Kettle Shop's agent.")  # after what is cached
    assert "One or two short sentences" in system
    assert "9:00 to 18:00" in system
    messages = agent.messages(Language.ENGLISH, None, [], "When are you open?")
    assert messages[-1] == ChatMessage("user", "When are you open?")  # all facts are cached


def test_a_large_knowledge_is_retrieved_into_the_caller_s_turn_only() -> None:
    agent = Agent(Knowledge.from_text(large()))
    history = [ChatMessage("user", "I want a refund."), ChatMessage("assistant", "Sure.")]
    first = agent.messages(Language.ENGLISH, None, history, "How long does it take?")
    second = agent.messages(Language.ENGLISH, None, history, "Can I cancel my order?")
    assert first[:-2] == second[:-2]  # the same prefix: the LLM's cache keeps it
    assert first[-2].role == "system"
    assert "5 to 7 business" in first[-2].content  # a follow-up finds its subject
    assert first[-1] == ChatMessage("user", "How long does it take?")
    assert "free of charge until it ships" in second[-2].content


def test_korean_calls_get_korean_rules_and_only_the_korean_knowledge() -> None:
    """The file's Korean part is small: it goes whole into the Korean system prompt (cached),
    while English calls search the large English part."""
    agent = Agent(Knowledge.from_text(large()))
    messages = agent.messages(Language.KOREAN, None, [], "배송은 며칠 걸려요?")
    assert "존댓말" in messages[0].content
    assert "2~3일" in messages[0].content
    assert "kettle" not in messages[0].content
    assert messages[-1].content == "배송은 며칠 걸려요?"


def test_without_knowledge_the_agent_is_told_to_offer_a_check_not_a_guess() -> None:
    system = Agent().system_prompt(Language.ENGLISH, None)
    assert "offer to check or transfer" in system
