"""One exchange of a call's conversation: the caller's audio in, the AI's spoken answer out; and
the prompt every answer starts from, live or not (`messages_for`, `system_prompt`).

    audio → VAD (any speech?) → STT → Responder (LLM streamed → sentences → TTS)
                                    └→ sentiment of what the caller said, alongside the LLM

The speech pipeline is the live call's own (`parley.calls.responder`), so both paths answer
alike; here its sentences' audio is joined into one clip. Both turns, the caller's and the AI's,
are stored together once the answer exists, with the time each stage took (`Stage`); a failing
provider stores nothing and raises `AIProviderError`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from parley.ai.base import (
    AudioChunk,
    ChatMessage,
    Language,
    Samples,
    SentimentScore,
    Transcript,
)
from parley.ai.engine import AIEngine
from parley.ai.hearing import heard_well
from parley.ai.vad import has_speech
from parley.calls.agent import Agent
from parley.calls.domain import Call, Role, Stage, Stages, Turn, utcnow
from parley.calls.phrases import REPEAT_REQUESTS, PhraseCache
from parley.calls.recorder import Recorder, caller_stages, stored
from parley.calls.responder import (
    Failed,
    Replied,
    ReplyEvent,
    Responder,
    SentenceAudio,
    Timed,
    ms,
)
from parley.calls.service import CallService
from parley.errors import ConflictError
from parley.tasks import TaskSet

log = logging.getLogger("parley.conversation")


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


class ConversationService:
    def __init__(
        self,
        calls: CallService,
        engine: AIEngine,
        *,
        history_turns: int,
        max_tokens: int,
        default_language: Language,
        agent: Agent | None = None,
    ) -> None:
        self._calls = calls
        self.agent = agent or Agent()
        self.phrases = PhraseCache()  # the agent's fixed lines, spoken by every call
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
        started, stages = time.monotonic(), Stages()
        probabilities = await self._engine.vad.speech_probabilities(audio)
        stages[Stage.VAD] = ms(time.monotonic() - started)
        if not has_speech(probabilities):
            return self._silence(language)
        responder = self._responder(voice)
        heard_from = time.monotonic()
        transcript = await responder.transcribe(audio, language=language)
        stages[Stage.STT] = ms(time.monotonic() - heard_from)
        if not transcript.text:
            return self._silence(transcript.language)
        exchange = await self._answer(call, transcript, system_prompt, responder, stages)
        stages[Stage.TOTAL] = ms(time.monotonic() - started)
        await self._store(call, exchange, stages)
        return replace(exchange, latency_ms=stored(stages))

    def _responder(self, voice: str | None) -> Responder:
        engine = self._engine
        return Responder(
            engine.stt,
            engine.llm,
            engine.tts,
            max_tokens=self._max_tokens,
            voice=voice,
            shape=self.agent.shaper,
            phrases=self.phrases,
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
        return self.agent.system_prompt(language, custom)

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
        """The agent's system prompt, the call's last turns (at most `history_turns`), then what
        the caller said (`Agent.messages`: with what the knowledge says about it).

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
        said = [
            ChatMessage("user" if t.role is Role.USER else "assistant", t.text) for t in history
        ]
        return self.agent.messages(language, system_prompt, said, user_text)

    async def _answer(
        self,
        call: Call,
        heard: Transcript,
        system_prompt: str | None,
        responder: Responder,
        stages: Stages,
    ) -> Exchange:
        """Ask the LLM and speak its reply, with the caller's sentiment found alongside (and
        cancelled if the reply fails)."""
        heard_at, language = utcnow(), heard.language
        tasks = TaskSet("exchange")
        mood = tasks.start(self._engine.sentiment.analyze(heard.text, language=language), "mood")
        try:
            if heard_well(heard):
                messages = await self.messages_for(call, heard.text, language, system_prompt)
                events = responder.reply(messages, language=language)
            else:  # unsure words are not answered: the caller is asked to say them again
                events = responder.recite(REPEAT_REQUESTS[language], language=language)
            reply, speech = await _spoken_reply(events, stages)
            score = await mood
        finally:
            await tasks.aclose()
        return Exchange(heard.text, reply, language, score, speech, heard_at)

    async def _store(self, call: Call, exchange: Exchange, stages: Stages) -> None:
        recorder = Recorder(self._calls, self._engine.sentiment, call.id, exchange.language)
        user = recorder.caller_turn(exchange.user_text, exchange.language, at=exchange.timestamp)
        user.ended_at, user.latency_ms = exchange.timestamp, stored(caller_stages(stages))
        if (mood := exchange.sentiment) is not None:
            user.sentiment, user.sentiment_score = mood.label, mood.score
        await recorder.store(
            user, exchange.ai_text, exchange.language, stages, started_at=exchange.timestamp
        )

    def _silence(self, language: Language | None) -> Exchange:
        return Exchange("", "", language or self._default_language, None, None, utcnow())


async def _spoken_reply(
    reply: AsyncGenerator[ReplyEvent, None], stages: Stages
) -> tuple[str, AudioChunk | None]:
    """The whole reply and its speech as one clip (None when nothing could be said); a
    provider's failure is raised."""
    text, chunks = "", []
    async with aclosing(reply) as events:
        async for event in events:
            if isinstance(event, Timed):
                stages[event.stage] = event.ms
            elif isinstance(event, SentenceAudio):
                chunks.append(event.audio)
            elif isinstance(event, Replied):
                text = event.text.strip()
            elif isinstance(event, Failed):
                raise event.error
    if not chunks:
        return text, None
    return text, AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)
