"""One exchange of a call's conversation: the caller's audio in, the AI's spoken answer out.

    audio → VAD (any speech?) → STT → LLM (with the call's recent turns) → TTS
                                    └→ sentiment of what the caller said, alongside the LLM

Both turns, the caller's and the AI's, are stored together once the answer exists, with the time
each stage took; a failing provider stores nothing and raises `AIProviderError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from parley.ai.base import (
    AudioChunk,
    ChatMessage,
    Language,
    Samples,
    SentimentScore,
)
from parley.ai.engine import AIEngine
from parley.ai.text import speakable
from parley.ai.vad import has_speech
from parley.calls.domain import Call, Role, Turn, utcnow
from parley.calls.service import CallService
from parley.errors import ConflictError

log = logging.getLogger("parley.conversation")

MAX_SYSTEM_PROMPT = 4000

DEFAULT_PROMPTS = {
    Language.KOREAN: (
        "당신은 친절하고 유능한 고객 상담원입니다. 지금은 전화 통화 중입니다. "
        "항상 한국어 존댓말로, 한두 문장으로 짧고 자연스럽게 답하세요. "
        "목록, 이모지, 마크다운은 쓰지 마세요. 모르는 것은 솔직히 모른다고 말하세요."
    ),
    Language.ENGLISH: (
        "You are a friendly, capable customer-service agent on a phone call. "
        "Always answer in English, in one or two short, natural sentences. "
        "Never use lists, emoji or markdown. If you do not know something, say so."
    ),
}


class CallNotActiveError(ConflictError):
    code = "CALL_NOT_ACTIVE"


@dataclass(slots=True)
class HistoryWindow:
    """Where one call's prompt history starts, kept from turn to turn (see `messages_for`)."""

    start: int | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one exchange produced. Empty `user_text` means no speech was heard."""

    user_text: str
    ai_text: str
    language: Language
    sentiment: SentimentScore | None
    speech: AudioChunk | None
    timestamp: datetime
    latency_ms: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> float:
        self.marks[name] = round((time.perf_counter() - self.start) * 1000, 1)
        return self.marks[name]


class ConversationService:
    def __init__(
        self,
        calls: CallService,
        engine: AIEngine,
        *,
        history_turns: int,
        max_tokens: int,
        default_language: Language,
    ) -> None:
        self._calls = calls
        self._engine = engine
        self._history_turns = history_turns
        self._max_tokens = max_tokens
        self._default_language = default_language

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    async def respond_to_audio(
        self,
        call_id: str | uuid.UUID,
        audio: Samples,
        *,
        system_prompt: str | None = None,
        language: Language | None = None,
        voice: str | None = None,
    ) -> Exchange:
        call = await self.require_active(call_id)
        clock = _Clock()
        probabilities = await self._engine.vad.speech_probabilities(audio)
        clock.mark("vad")
        if not has_speech(probabilities):
            return self._silence(language)
        transcript = await self._engine.stt.transcribe(audio, language=language)
        clock.mark("stt")
        if not transcript.text:
            return self._silence(transcript.language)
        return await self._answer(
            call, transcript.text, transcript.language, system_prompt, voice, clock
        )

    async def require_active(self, call_id: str | uuid.UUID) -> Call:
        call = await self._calls.get(call_id)
        if not call.status.can_talk:
            raise CallNotActiveError(
                f"Call {call.id} is {call.status}; the AI answers only a CONNECTING or "
                "IN_PROGRESS call.",
                status=call.status.value,
            )
        return call

    def system_prompt(self, language: Language, custom: str | None) -> str:
        return (custom or "").strip()[:MAX_SYSTEM_PROMPT] or DEFAULT_PROMPTS[language]

    async def messages_for(
        self,
        call: Call,
        user_text: str,
        language: Language,
        system_prompt: str | None,
        *,
        unsaved: Sequence[Turn] = (),
        window: HistoryWindow | None = None,
        move: bool = True,
    ) -> list[ChatMessage]:
        """System prompt, the call's last turns (at most `history_turns`), then what the caller
        said.

        The history is cut in steps of half the limit, not turn by turn: the LLM's prompt cache
        can only reuse a prefix that stays the same, and sliding the window by one turn every
        turn changes it every time (the first token went from ~0.5 s to ~3 s from the sixth turn
        on, in `bench/voice_latency.py`). So the window's start stays put for several turns.
        `unsaved` turns (not stored yet) count as the latest ones.

        A live call reads the next prompt in ahead (its prefetch, while an answer plays), and
        that is when its `window` may move. A turn asked without that (`move=False`: after a
        barge-in, which stores an exchange with no prefetch after it) keeps the window where the
        prefetch left it, up to `step` turns over the limit: moving it there would make the LLM
        read the whole prompt again first (2.5–2.8 s on this machine, traced in a bench call).
        """
        limit = self._history_turns
        step = max(1, limit // 2)
        history = await self._calls.recent_turns(call.id, limit + step) if limit else []
        after = history[-1].index if history else -1
        history += [replace(t, index=after + n) for n, t in enumerate(unsaved, 1)]
        if history:
            last = history[-1].index
            start = max(0, -(-(last + 1 - limit) // step) * step)
            kept = None if window is None or move else window.start
            if kept is not None and kept <= start and last + 1 - kept <= limit + step:
                start = kept
            if window is not None:
                window.start = start
            history = [t for t in history if t.index >= start][-(limit + step) :]
        messages = [ChatMessage("system", self.system_prompt(language, system_prompt))]
        messages += [
            ChatMessage("user" if t.role is Role.USER else "assistant", t.text) for t in history
        ]
        messages.append(ChatMessage("user", user_text))
        return messages

    async def _answer(
        self,
        call: Call,
        user_text: str,
        language: Language,
        system_prompt: str | None,
        voice: str | None,
        clock: _Clock,
    ) -> Exchange:
        heard_at = utcnow()
        sentiment = asyncio.ensure_future(
            self._engine.sentiment.analyze(user_text, language=language)
        )
        try:
            messages = await self.messages_for(call, user_text, language, system_prompt)
            reply = await self._collect(
                self._engine.llm.stream_reply(messages, max_tokens=self._max_tokens), clock
            )
            speech = await self._speak(speakable(reply), language, voice, clock)
            mood = await sentiment
        finally:
            sentiment.cancel()
        clock.mark("total")
        await self._store(call, user_text, reply, language, mood, heard_at, clock.marks)
        return Exchange(user_text, reply, language, mood, speech, heard_at, clock.marks)

    async def _sentiment(self, text: str, language: Language) -> SentimentScore | None:
        """The caller's mood; a failing analyzer costs the label, never the exchange."""
        try:
            return await self._engine.sentiment.analyze(text, language=language)
        except Exception:
            log.exception("sentiment analysis failed")
            return None

    async def _collect(self, pieces: AsyncIterator[str], clock: _Clock) -> str:
        parts: list[str] = []
        async for piece in pieces:
            if not parts:
                clock.mark("llm_first_token")
            parts.append(piece)
        clock.mark("llm")
        return "".join(parts).strip()

    async def _speak(
        self, text: str, language: Language, voice: str | None, clock: _Clock
    ) -> AudioChunk | None:
        if not text:
            return None
        chunks: list[AudioChunk] = []
        async for chunk in self._engine.tts.synthesize(text, language=language, voice=voice):
            if not chunks:
                clock.mark("tts_first_chunk")
            chunks.append(chunk)
        clock.mark("tts")
        if not chunks:
            return None
        return AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)

    async def _store(
        self,
        call: Call,
        user_text: str,
        reply: str,
        language: Language,
        mood: SentimentScore | None,
        heard_at: datetime,
        marks: dict[str, float],
    ) -> None:
        now = utcnow()
        user = Turn(
            call_id=call.id, index=-1, role=Role.USER, text=user_text, language=language.value,
            sentiment=mood.label if mood else None, sentiment_score=mood.score if mood else None,
            started_at=heard_at,
            ended_at=heard_at, latency_ms={k: v for k, v in marks.items() if k in ("vad", "stt")},
        )  # fmt: skip
        assistant = Turn(
            call_id=call.id, index=-1, role=Role.ASSISTANT, text=reply, language=language.value,
            started_at=heard_at, ended_at=now, latency_ms=dict(marks),
        )  # fmt: skip
        await self._calls.record_turns([user, assistant])

    def _silence(self, language: Language | None) -> Exchange:
        return Exchange("", "", language or self._default_language, None, None, utcnow())
