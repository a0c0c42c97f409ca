"""Answering a live call's caller turns: each behind its gate, ready before the turn is over.

    Answer(attempt) ─▶ words (each piece once, shielded) ─▶ [answer pause] ─▶ Responder.reply
                                                   every effect waits for the gate ─┘
    Commit(attempt) ─▶ the gate opens: the caller's words shown, sentiment, speech queued
    then            ─▶ Speech: played on the track, cut by barge-ins, stored as heard

An answer starts speculatively (at the first pause, `TurnTaker`) and does all it can before the
turn is certain to be over — transcribing, then, once the pause has lasted `answer_pause_s`,
asking the LLM and synthesizing the first clause — while every side effect (events, audio,
storage) waits for its gate; the work done meanwhile is not lost when the gate opens, and a
`Drop` (the caller went on) cancels it. A failing provider never ends the call: the caller
hears an apology and the client gets an error.

The decisions about turns are the `TurnTaker`'s, the speech pipeline the `Responder`'s, what
the AI is saying (the reply a barge-in cuts) `Speech`'s, and storage the `Recorder`'s; this
object holds each answer's gate and the history window its prefetch moves.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field

import numpy as np

from parley.ai.base import LanguageModel, Transcript, Warmable
from parley.ai.hearing import combine, heard_well
from parley.calls.conversation import ConversationService, HistoryWindow
from parley.calls.domain import Role, Stage, Turn, utcnow
from parley.calls.events import Speaker
from parley.calls.phrases import ACKNOWLEDGEMENTS, REPEAT_REQUESTS, only_acknowledges
from parley.calls.recorder import Recorder
from parley.calls.responder import (
    Failed,
    ReplyEvent,
    Responder,
    SentenceAudio,
    TextDelta,
    Timed,
    ms,
)
from parley.calls.speech import Reply, Speaking, Speech
from parley.calls.turn_taker import Answer, Attempt, Commit, Drop, Piece, TurnTaker
from parley.errors import ParleyError
from parley.tasks import TaskSet

log = logging.getLogger("parley.live")

_Words = asyncio.Task[Transcript | ParleyError]  # one piece of a caller turn, transcribed


@dataclass(eq=False)
class _Pending:
    """An attempt being answered: every side effect waits for `gate` (opened at its commit)."""

    attempt: Attempt
    words: tuple[_Words, ...]  # of its pieces, in order
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    reply: Reply | None = None  # once the words are known
    opened: bool = False  # the caller's final transcript was sent


class Answerer:
    def __init__(
        self,
        speaking: Speaking,
        *,
        speech: Speech,
        responder: Responder,
        llm: LanguageModel,
        recorder: Recorder,
        conversation: ConversationService,
        taker: TurnTaker,
        tasks: TaskSet,
        acknowledge: bool = True,
    ) -> None:
        self._speaking = speaking
        self._language = speaking.language
        self._acknowledgement = ACKNOWLEDGEMENTS[self._language] if acknowledge else None
        self._speech = speech
        self._voice, self._llm, self._recorder = responder, llm, recorder
        self._conversation, self._taker, self._tasks = conversation, taker, tasks
        self._words: weakref.WeakKeyDictionary[Piece, _Words] = weakref.WeakKeyDictionary()
        self._pending: dict[Attempt, _Pending] = {}
        self._history = HistoryWindow()  # where the LLM's prompt history starts; see _prefetch

    @property
    def call_id(self) -> uuid.UUID:
        return self._speaking.call.id

    # --- the turn taker's decisions ---------------------------------------------------------------

    def transcribe(self, piece: Piece) -> None:
        async def words(audio: np.ndarray = piece.audio) -> Transcript | ParleyError:
            try:
                return await self._voice.transcribe(audio, language=self._language)
            except ParleyError as exc:  # reported by the answer that needs the words
                return exc

        self._words[piece] = self._tasks.start(words(), piece.name)

    def apply(self, decision: Answer | Drop | Commit) -> None:
        if isinstance(decision, Answer):
            self._start(decision.attempt)
        elif isinstance(decision, Drop):
            self._drop(decision.attempt)
        else:
            self._commit(decision.attempt)

    def _start(self, attempt: Attempt) -> None:
        """Its last piece is transcribed in a task of its own, which a barge-in does not stop
        (the words are carried, see `Speech.barge_in`)."""
        self.transcribe(attempt.last)
        pending = _Pending(attempt, tuple(self._words[piece] for piece in attempt.pieces))
        self._pending[attempt] = pending
        pending.task = self._tasks.start(self._respond(pending), f"turn-{attempt.turn}")
        pending.task.add_done_callback(lambda _: self._forget(pending))

    def _forget(self, pending: _Pending) -> None:
        if self._pending.get(pending.attempt) is pending:
            del self._pending[pending.attempt]

    def _drop(self, attempt: Attempt) -> None:
        """Cancel a speculative answer and its transcription (not the earlier pieces')."""
        pending = self._pending.pop(attempt, None)
        if pending is not None and pending.task is not None:
            pending.task.cancel()
        if (words := self._words.get(attempt.last)) is not None:
            words.cancel()

    def _commit(self, attempt: Attempt) -> None:
        """Open the gate of the attempt's answer (started again if it died)."""
        if attempt not in self._pending:
            self._start(attempt)
        pending = self._pending[attempt]
        pending.gate.set()
        self._speech.answering(pending.task)
        reply = pending.reply
        if self._acknowledgement and (reply is None or not reply.answer_ready):
            self._tasks.start(self._acknowledge(pending), f"acknowledge-{attempt.turn}")
        if pending.reply is not None:  # the words are known: say what was heard right away
            self._tasks.start(self._open(pending, pending.reply), f"open-{attempt.turn}")

    # --- answering one turn -----------------------------------------------------------------------

    async def _respond(self, pending: _Pending) -> None:
        """Answer one caller turn; runs ahead of the gate, whose opening every effect awaits."""
        attempt, turn = pending.attempt, pending.attempt.turn
        started = time.monotonic()
        try:
            heard = await self._heard(pending)
        except ParleyError as exc:
            await self._give_up(pending, exc)
            return
        stages = {Stage.STT: ms(time.monotonic() - started)}
        if heard.text and not pending.gate.is_set():
            await self._speech.line(turn, Speaker.CALLER, heard.text, final=False)
        early = None if pending.gate.is_set() else self._taker.heard(attempt, heard.text)
        if early is not None:
            self._tasks.start(self._end_early(attempt, early), f"end-early-{turn}")
        if not heard.text:
            await self._give_up(pending, None)
            return
        user = self._recorder.caller_turn(heard.text, self._language)
        if (wait := self._taker.answer_wait(attempt)) > 0:
            await asyncio.sleep(wait)
        reply = Reply(turn, user, attempt, stages=stages, speech_ended_at=attempt.speech_ended_at)
        pending.reply = reply
        if pending.gate.is_set():
            await self._open(pending, reply)
        if (failure := await self._speak_reply(reply, pending, heard)) is not None:
            self._speech.let_go(reply)
            await self._open(pending, reply)
            self._settle(pending)
            await self._speech.apologize(failure)
            return
        await self._open(pending, reply)
        self._tasks.start(self._prefetch(reply), f"prefetch-{turn}")
        await self._speech.played(reply, " ".join(reply.spoken) or reply.text.strip())

    async def _acknowledge(self, pending: _Pending) -> None:
        """The turn is over and its answer has no speech yet: "Okay." now, from the phrase
        cache, so the caller hears something while the answer is made (as a person would);
        not when the answer's own speech got there first, or the answer was stopped."""
        if self._acknowledgement is None:
            return
        try:
            audio = await self._voice.phrase(self._acknowledgement, language=self._language)
        except ParleyError as exc:
            log.info("the acknowledgement could not be spoken: %s", exc.message)
            return
        reply, task = pending.reply, pending.task
        if task is None or task.done() or task.cancelling() or reply is None:
            return  # nothing heard (no answer to wait for), or the answer was stopped (a
            # barge-in while the line was being synthesized cancels the task, not at once)
        if reply.first_audio_at is None and reply.acknowledged_at is None:
            self._speech.acknowledge(reply, audio)

    async def _give_up(self, pending: _Pending, error: ParleyError | None) -> None:
        """No answer to this turn (nothing was said, or it could not be heard): once it is
        committed, its caller line closes empty, and a failure is apologized for."""
        await pending.gate.wait()
        self._settle(pending)
        await self._speech.line(pending.attempt.turn, Speaker.CALLER, "", final=True)
        if error is not None:
            await self._speech.apologize(error)

    async def _end_early(self, attempt: Attempt, wait: float) -> None:
        """The words sound finished: end the turn after the shorter silence, not the full one."""
        await asyncio.sleep(wait)
        for decision in self._taker.end_early(attempt):
            self.apply(decision)

    async def _heard(self, pending: _Pending) -> Transcript:
        """All the caller said in the turn: the pieces before its last one, then that one.
        Shielded: a barge-in that stops this answer leaves the words for the turn carried on."""
        parts = [await asyncio.shield(task) for task in pending.words]
        for part in parts:
            if isinstance(part, ParleyError):
                raise part
        heard = [part for part in parts if isinstance(part, Transcript)]
        sure = [(p.duration_s, p.confidence) for p in heard if p.confidence is not None]
        return Transcript(
            text=" ".join(part.text for part in heard if part.text),
            language=heard[-1].language,
            duration_s=sum(part.duration_s for part in heard),
            confidence=combine(sure),
        )

    def _settle(self, pending: _Pending) -> None:
        """The turn has had all the answer it gets (none, or an apology): speech from now on is
        a new turn, which neither cancels this task nor carries these words."""
        self._taker.settled(pending.attempt)
        self._speech.release()

    async def _open(self, pending: _Pending, reply: Reply) -> None:
        """Wait for the turn to be committed; the first time, tell the client what was heard and
        start on the sentiment, and make this the reply a barge-in cuts."""
        await pending.gate.wait()
        if pending.opened:
            return
        pending.opened = True
        committed = pending.attempt.committed_at or time.monotonic()
        reply.stages[Stage.END_OF_TURN] = ms(committed - pending.attempt.speech_ended_at)
        reply.asked.started_at = utcnow()
        self._speech.hold(reply)
        await self._speech.line(reply.turn, Speaker.CALLER, reply.asked.text, final=True)
        sentiment = self._speech.sentiment(reply.turn, reply.asked)
        self._tasks.start(sentiment, f"sentiment-{reply.turn}")

    async def _speak_reply(
        self, reply: Reply, pending: _Pending, heard: Transcript
    ) -> ParleyError | None:
        """Ask the LLM and speak its reply as it comes; the failure that stopped it, if any.
        Words Whisper was unsure of, or that make no sense, are not answered: the caller is
        asked to say them again (a line from the phrase cache, at once)."""
        if not heard_well(heard):
            repeat = self._voice.recite(REPEAT_REQUESTS[self._language], language=self._language)
            return await self._play_reply(reply, pending, repeat)
        try:
            messages = await self._conversation.messages_for(
                self._speaking.call,
                reply.asked.text,
                self._language,
                self._speaking.system_prompt,
                window=self._history,
                move=False,
            )
        except ParleyError as exc:
            return exc
        return await self._play_reply(
            reply, pending, self._voice.reply(messages, language=self._language)
        )

    async def _play_reply(
        self, reply: Reply, pending: _Pending, events: AsyncGenerator[ReplyEvent, None]
    ) -> ParleyError | None:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Failed):
                    return event.error
                await self._on_reply(reply, pending, event)
        return None

    async def _on_reply(self, reply: Reply, pending: _Pending, event: ReplyEvent) -> None:
        if isinstance(event, Timed):
            reply.stages.setdefault(event.stage, event.ms)
        elif isinstance(event, TextDelta):
            reply.text = f"{reply.text} {event.text}" if reply.text else event.text
            if pending.gate.is_set():
                await self._open(pending, reply)
                await self._speech.line(reply.turn, Speaker.AI, reply.text.strip(), final=False)
        elif isinstance(event, SentenceAudio):
            reply.answer_ready = True
            await self._open(pending, reply)
            if (said := self._after_acknowledgement(reply, event)) is None:
                return
            if reply.first_audio_at is None:
                reply.first_audio_at = time.monotonic()
                first = reply.acknowledged_at or reply.first_audio_at
                reply.stages[Stage.VOICE_TO_VOICE] = ms(first - reply.speech_ended_at)
                reply.stages[Stage.ANSWER_AUDIO] = ms(reply.first_audio_at - reply.speech_ended_at)
            self._speech.play(reply, said)

    @staticmethod
    def _after_acknowledgement(reply: Reply, event: SentenceAudio) -> SentenceAudio | None:
        """The event as said after an acknowledgement: an opening that only acknowledges
        ("Okay," "네,") is left out rather than said twice, and later sentences renumbered."""
        opening = reply.acknowledged_at is not None and event.index == 0 and not reply.spoken
        if opening and only_acknowledges(event.sentence):
            reply.left_out = 1
            return None
        if reply.left_out:
            return SentenceAudio(event.index - reply.left_out, event.sentence, event.audio)
        return event

    async def _prefetch(self, reply: Reply) -> None:
        """While the answer plays (the LLM is idle and the caller listens), evaluate the prompt
        the next turn will start with, so its first token does not wait for the history to be
        read again — seconds on this machine whenever the history window moves."""
        if not isinstance(self._llm, Warmable):
            return
        said = " ".join(reply.spoken) or reply.text.strip()
        answer = Turn(call_id=self.call_id, index=-1, role=Role.ASSISTANT, text=said)
        messages = await self._conversation.messages_for(
            self._speaking.call,
            "",
            self._language,
            self._speaking.system_prompt,
            unsaved=[reply.asked, answer],
            window=self._history,
        )
        try:
            await self._llm.warm(messages)
        except ParleyError as exc:
            log.info("prefetching the next prompt failed: %s", exc.message)
