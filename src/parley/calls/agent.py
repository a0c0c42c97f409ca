"""The agent a caller talks to: its instructions, the business's knowledge, and what of the LLM's
reply a caller hears.

    system:    the agent's rules, in the call's language               ┐ the same for every call:
               the knowledge, when it is small enough (`whole`)        ┘ read once, then cached
               the per-call `systemPrompt` (or the default persona)    ┐ the same on every turn
    examples:  a few short exchanges, as turns                         ┘ of a call
    history:   the call's last turns, as they were said
    system:    the passages retrieved for this turn (a large file)
    user:      what the caller said

The rules are what a person on a phone line does, written for a 0.5B model: answer in one or two
spoken sentences; take hours, prices and policies only from the knowledge, and otherwise offer to
check, take a message or transfer (never a guess); help with ordinary requests and ask for what
is needed (an order number) rather than refuse; apologise to an upset caller and move to a fix;
ask again when the words make no sense. A few short examples show each, because a small model
follows an example better than a rule. They carry no facts, so they cannot be repeated as facts.

Retrieved passages come just before the caller's words, not in the first system prompt: the
system prompt, the examples and the history then stay a prefix the LLM has already read (the
live call even reads it ahead, while the previous answer plays), and only the turn's own few
hundred tokens are new. The server keeps
the reply phone-shaped where the model strays (`PhoneReply`: the sentence limit, no markdown, no
"As an AI language model").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parley.ai.base import ChatMessage, Language
from parley.ai.text import PhoneReply
from parley.calls.knowledge import Knowledge

MAX_SYSTEM_PROMPT = 4000

PERSONA = {
    Language.ENGLISH: "You are a friendly, capable customer-service agent.",
    Language.KOREAN: "당신은 친절하고 유능한 고객 상담원입니다.",
}

RULES = {
    Language.ENGLISH: """You are on a phone call; your words are read aloud to the caller.
How you answer:
- One or two short sentences of plain spoken English. No lists, no markdown, no emoji.
- Hours, prices, times, fees and policies come only from the facts you are given. If they do \
not say, do not guess: say you will check, and offer to take a message or transfer the caller \
to a colleague.
- Help with every ordinary request (orders, cancellations, refunds, passwords, bills). If you \
need something to do it, such as an order number, ask for it.
- If the caller is upset, apologise once and say what you will do to fix it.
- If the caller's words make no sense, politely ask them to say it again.
- Never say you are an AI or a language model.""",
    Language.KOREAN: """지금은 전화 통화 중이며, 당신의 말은 고객에게 음성으로 읽힙니다.
답변 방법:
- 항상 한국어 존댓말로, 한두 문장으로 짧게 말하세요. 목록, 마크다운, 이모지는 쓰지 마세요.
- 영업시간, 가격, 기간, 요금, 정책은 주어진 안내 자료에 있는 것만 말하세요. 자료에 없으면 \
추측하지 말고, 확인 후 다시 연락드리거나 담당자에게 연결해 드리겠다고 하세요.
- 주문, 취소, 환불, 비밀번호, 요금 같은 일반적인 요청은 모두 도와드리세요. 주문 번호처럼 필요한 \
정보가 있으면 정중히 요청하세요.
- 고객이 화가 났으면 먼저 사과하고 어떻게 해결할지 말씀드리세요.
- 고객의 말이 이해되지 않으면 다시 한 번 말씀해 달라고 정중히 요청하세요.
- 자신이 AI나 언어 모델이라고 말하지 마세요.""",
}

# Short exchanges that show each rule, given to the model as earlier turns of the conversation
# (a small model imitates turns better than it follows a description of them; written as text
# with "Caller:"/"고객:" labels, the 0.5B model went on to write such labels itself). They carry
# no facts of any business, so there is nothing in them to repeat as a fact.
EXAMPLES = {
    Language.ENGLISH: (
        ("I want to cancel my order.", "I can help you cancel it. What is your order number?"),
        (
            "My package is late again, this is ridiculous!",
            "I'm very sorry about that. Let me look into it right away; what is your order number?",
        ),
        (
            "Do you sell gift cards?",
            "I don't have that information here, but I can check and call you back, or "
            "transfer you to a colleague.",
        ),
        (
            "The blue flurb on reef yesterday the.",
            "Sorry, I didn't catch that. Could you say it again?",
        ),
    ),
    Language.KOREAN: (
        ("주문을 취소하고 싶어요.", "네, 취소 도와드리겠습니다. 주문 번호를 알려주시겠어요?"),
        (
            "배송이 또 늦었잖아요, 정말 화가 나네요!",
            "불편을 드려 정말 죄송합니다. 바로 확인해 드릴 테니 주문 번호를 알려주시겠어요?",
        ),
        (
            "상품권도 파시나요?",
            "그 정보는 지금 확인이 어렵습니다. 확인 후 다시 연락드리거나 담당자에게 연결해 "
            "드릴까요?",
        ),
        (
            "파란 구름 환불 사과 어제 그거.",
            "죄송하지만 잘 알아듣지 못했습니다. 다시 한 번 말씀해 주시겠어요?",
        ),
    ),
}

KNOWLEDGE_TITLE = {Language.ENGLISH: "Facts you may use:", Language.KOREAN: "안내 자료:"}
NO_KNOWLEDGE = {
    Language.ENGLISH: "(none: for any hours, prices or policies, offer to check or transfer)",
    Language.KOREAN: "(없음: 영업시간, 가격, 정책은 확인 후 안내하거나 연결해 드리겠다고 하세요)",
}
TURN_FACTS = {
    Language.ENGLISH: "Facts for the caller's next words (answer only from these):",
    Language.KOREAN: "고객의 다음 말에 대한 안내 자료 (이 자료로만 답하세요):",
}
NOTHING_FOUND = {
    Language.ENGLISH: "(nothing about this: offer to check, take a message or transfer)",
    Language.KOREAN: "(관련 자료 없음: 확인 후 연락드리거나 담당자에게 연결해 드리겠다고 하세요)",
}


@dataclass(frozen=True, slots=True)
class Agent:
    """How a call's answers are asked for and held to the phone's shape."""

    knowledge: Knowledge | None = None
    max_sentences: int = 2

    def system_prompt(self, language: Language, custom: str | None) -> str:
        """The rules, the knowledge when it is small, then the per-call prompt (or the default
        persona). The per-call prompt comes last so that what is the same for every call (up
        to ~2,700 tokens, ~40 s to read on this machine) is a prefix the LLM's cache keeps
        across calls; it is still the caller's agent's own instruction, and the last word."""
        parts = [RULES[language]]
        if self.knowledge is None:
            parts.append(f"{KNOWLEDGE_TITLE[language]} {NO_KNOWLEDGE[language]}")
        elif (whole := self.knowledge.whole(language)) is not None:
            parts.append(f"{KNOWLEDGE_TITLE[language]}\n{whole}")
        parts.append((custom or "").strip()[:MAX_SYSTEM_PROMPT] or PERSONA[language])
        return "\n\n".join(parts)

    def messages(
        self,
        language: Language,
        custom_prompt: str | None,
        history: Sequence[ChatMessage],
        user_text: str,
    ) -> list[ChatMessage]:
        """System prompt, the examples as earlier turns, the call's history, the facts found
        for this turn (a large knowledge file), then the caller's words."""
        messages = [ChatMessage("system", self.system_prompt(language, custom_prompt))]
        for asked, answered in EXAMPLES[language]:
            messages += [ChatMessage("user", asked), ChatMessage("assistant", answered)]
        messages += history
        if (facts := self.facts(language, history, user_text)) is not None:
            messages.append(ChatMessage("system", facts))
        messages.append(ChatMessage("user", user_text))
        return messages

    def facts(
        self, language: Language, history: Sequence[ChatMessage], user_text: str
    ) -> str | None:
        """The passages found for the caller's words when the knowledge is retrieved from (the
        caller's previous words help a follow-up such as "and how long does that take?" find its
        subject); None when there is nothing to retrieve."""
        knowledge = self.knowledge
        if knowledge is None or not user_text or knowledge.whole(language) is not None:
            return None
        earlier = next((m.content for m in reversed(history) if m.role == "user"), "")
        found = knowledge.passages_for(f"{user_text} {user_text} {earlier}", language)
        facts = "\n".join(p.render() for p in found) or NOTHING_FOUND[language]
        return f"{TURN_FACTS[language]}\n{facts}"

    def shaper(self, language: Language) -> PhoneReply:
        """What of a streamed reply is spoken: `max_sentences` sentences, cleaned."""
        return PhoneReply(self.max_sentences, max_chars=MAX_REPLY_CHARS[language])


# A longer first or second sentence is still said whole; the third is not started. ~15 s of speech.
MAX_REPLY_CHARS = {Language.ENGLISH: 300, Language.KOREAN: 160}
