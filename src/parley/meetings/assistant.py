"""The meeting assistant: a participant's question answered by the configured LLM, streamed
chunk by chunk, with the meeting's recent chat as context.

The prompt is laid out for the local LLM's prompt cache: the deployment-wide system prompt
(`MEETING_ASSISTANT_PROMPT`, like the original's Ollama Modelfile) comes first and never changes,
then the chat, which only grows at its end, so a question evaluates little more than itself.
The asker's last exchange comes before the question, so a follow-up question works. The chat
and each answered exchange are evaluated ahead, in the background, so that the next question
finds them in the cache. The context is bounded in messages and characters, whatever the chat
holds, and so are the evaluations ahead: at most `MAX_WARM_UPS` wait for the LLM at once (the
oldest gives way), so that anonymous chat in many meetings queues neither memory nor minutes of
LLM work ahead of a real question; `/metrics` reports what they hold (`assistantWarmUps`).

Every exchange is stored when asked (pending) and again when answered or failed, with what was
said before a failure and the time to the first chunk.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from parley.ai.base import ChatMessage, LanguageModel, Warmable
from parley.errors import AIProviderError, ParleyError
from parley.meetings.domain import MAX_NAME, MAX_QUESTION, AssistantExchange, Participant
from parley.meetings.domain import ChatMessage as MeetingMessage
from parley.meetings.service import MeetingService
from parley.memory import CacheFigures, register
from parley.tasks import CloseOnce, TaskSet

DEFAULT_PROMPT = (
    "You are Parley's meeting assistant. You help the people in a video meeting: answer their "
    "questions briefly and clearly, summarise what was said, and suggest next steps when "
    "asked. Use the meeting chat given to you as context; if the answer is not in it, say so "
    "rather than invent it. Answer in the language of the question."
)
CONTEXT_CHARS = 6000
FOLLOW_UP_CHARS = 400  # of the asker's last answer, kept for a follow-up question

WARM_AFTER_S = 1.0  # of quiet in the chat before its context is evaluated ahead of questions
MAX_WARM_UPS = 4  # evaluations ahead that wait for the LLM at once (each ~0.5-2 s of its time)

log = logging.getLogger("parley.meetings.assistant")
OnChunk = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    system_prompt: str = DEFAULT_PROMPT
    context_messages: int = 30
    max_tokens: int = 384


class MeetingAssistant:
    def __init__(
        self,
        llm: LanguageModel,
        service: MeetingService,
        config: AssistantConfig,
        *,
        calls_live: Callable[[], bool] = lambda: False,
    ) -> None:
        self._llm = llm
        self._service = service
        self._config = config
        self._warmable: Warmable | None = llm if isinstance(llm, Warmable) else None
        self._warming: dict[tuple[uuid.UUID, str], asyncio.Task[None]] = {}
        self._warm_bytes: dict[tuple[uuid.UUID, str], int] = {}  # what each one's prompt holds
        self._tasks = TaskSet("assistant")
        self._calls_live = calls_live
        self._closer = CloseOnce()
        register("assistantWarmUps", self)

    def chat_changed(self, meeting_id: uuid.UUID) -> None:
        """The meeting's chat grew: evaluate the new context in the background, once the chat
        has been quiet for a moment, so that the next question evaluates little more than
        itself (a local LLM only; a cloud one has nothing to warm)."""
        self._start_warming((meeting_id, ""), None, delay_s=WARM_AFTER_S)

    async def aclose(self) -> None:
        """Stop the evaluations ahead; a second or concurrent call waits for the first."""
        await self._closer.run(self._close)

    async def _close(self) -> None:
        await self._tasks.aclose()
        self._warming.clear()
        self._warm_bytes.clear()

    def figures(self) -> CacheFigures:
        """The prompts the pending evaluations ahead hold, against what `MAX_WARM_UPS` of the
        longest prompt could (a character takes at most 4 bytes in a `str`)."""
        longest = len(self._config.system_prompt) + CONTEXT_CHARS + FOLLOW_UP_CHARS
        longest += MAX_NAME + MAX_QUESTION + 200  # the asker's last question, the headings
        limit = MAX_WARM_UPS * (4 * longest + 1024)
        return CacheFigures(sum(self._warm_bytes.values()), limit, len(self._warming))

    def _start_warming(
        self, key: tuple[uuid.UUID, str], asker: Participant | None, *, delay_s: float
    ) -> None:
        if self._warmable is None:
            return
        self._stop_warming(key)
        while len(self._warming) >= MAX_WARM_UPS:  # the oldest gives way
            self._stop_warming(next(iter(self._warming)))
        self._warming[key] = self._tasks.start(self._warm_up(key, asker, delay_s), "warm")

    def _stop_warming(self, key: tuple[uuid.UUID, str]) -> None:
        running = self._warming.pop(key, None)
        self._warm_bytes.pop(key, None)
        if running is not None and not running.done():
            running.cancel()

    async def _warm_up(
        self, key: tuple[uuid.UUID, str], asker: Participant | None, delay_s: float
    ) -> None:
        """Evaluate the prompt the next question (of `asker`, or of anyone) will start with."""
        assert self._warmable is not None
        try:
            await asyncio.sleep(delay_s)
            prompt = [*await self._prompt(key[0], asker), ChatMessage("user", "…")]
            if self._warming.get(key) is asyncio.current_task():
                self._warm_bytes[key] = _held_bytes(prompt)
            # On every core unless an AI call is live (its audio path needs a core).
            await self._warmable.warm(prompt, all_cores=not self._calls_live())
        except ParleyError as exc:
            log.info("warming the assistant's context failed: %s", exc.message)
        finally:
            if self._warming.get(key) is asyncio.current_task():
                del self._warming[key]
                self._warm_bytes.pop(key, None)

    async def stream(
        self, exchange: AssistantExchange, asker: Participant, on_chunk: OnChunk
    ) -> AssistantExchange:
        """Answer an exchange stored as asked (`MeetingService.ask`): stream the answer to
        `on_chunk` as it comes, store it; the finished exchange (status `failed`, with the
        partial answer, when the LLM fails)."""
        started = time.perf_counter()
        first_ms: float | None = None
        pieces: list[str] = []
        try:
            messages = await self.messages(asker, exchange.question)
            async for piece in self._generate(messages):
                if first_ms is None:
                    first_ms = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                await on_chunk(piece)
        except ParleyError as exc:
            exchange.failed(exc.message, partial="".join(pieces))
        except BaseException:
            exchange.failed("The answer was interrupted.", partial="".join(pieces))
            await self._service.record_outcome(exchange)
            raise
        else:
            exchange.answered("".join(pieces).strip(), first_chunk_ms=first_ms)
        await self._service.record_outcome(exchange)
        if exchange.answer:  # a follow-up question will start with this exchange: evaluate it
            self._start_warming((asker.meeting_id, asker.id), asker, delay_s=0)
        return exchange

    async def messages(self, asker: Participant, question: str) -> list[ChatMessage]:
        """The prompt for `asker`'s `question`."""
        prompt = await self._prompt(asker.meeting_id, asker)
        return [*prompt, ChatMessage("user", _question(asker.display_name, question))]

    async def _prompt(self, meeting_id: uuid.UUID, asker: Participant | None) -> list[ChatMessage]:
        """System prompt, then the chat, then the asker's last exchange: the order in which they
        change least often, so that the LLM's cached prefix covers the most (the chat only
        grows at its end). The local model evaluates a new prompt at ~100-200 tokens/s here,
        so the time to the first chunk is mostly what is not in the cache; the chat and each
        answered exchange are therefore evaluated ahead, in the background."""
        chat = await self._service.chat_history(meeting_id, self._config.context_messages)
        system = f"{self._config.system_prompt}\n\n{_context(chat)}"
        messages = [ChatMessage("system", system)]
        if asker is None:
            return messages
        earlier = await self._service.assistant_history(meeting_id, 20)
        mine = [e for e in earlier if e.asker_id == asker.id and e.answer]
        if mine:
            last = mine[-1]
            messages.append(ChatMessage("user", _question(last.asker_name, last.question)))
            messages.append(ChatMessage("assistant", last.answer[:FOLLOW_UP_CHARS]))
        return messages

    async def _generate(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        stream = self._llm.stream_reply(
            messages, max_tokens=self._config.max_tokens, all_cores=not self._calls_live()
        )
        try:
            async for piece in stream:
                yield piece
        except ParleyError:
            raise
        except Exception as exc:  # a provider's own error type: never past this point
            raise AIProviderError(f"The assistant's model failed: {exc}") from exc
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


def _context(chat: list[MeetingMessage]) -> str:
    lines: list[str] = []
    size = 0
    for message in reversed(chat):  # the newest first, until the budget is spent
        line = f"[{message.created_at:%H:%M}] {message.sender_name}: {message.text}"
        size += len(line) + 1
        if size > CONTEXT_CHARS:
            break
        lines.append(line)
    lines.reverse()
    said = "\n".join(lines) if lines else "(nothing yet)"
    return f"The meeting chat so far, oldest first:\n{said}"


def _held_bytes(messages: list[ChatMessage]) -> int:
    return sum(sys.getsizeof(m) + sys.getsizeof(m.content) for m in messages)


def _question(name: str, question: str) -> str:
    return f"{name} asks: {question}"
