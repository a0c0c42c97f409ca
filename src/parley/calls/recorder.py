"""What a call keeps of its conversation: the turns as the caller heard them, their stage
latencies in one vocabulary (`Stage`), and the caller's mood.

The AI turn that is stored is what the caller actually heard (`heard_text`: the sentences played
in full, then the played share of the words of the one a barge-in cut), not what was generated.
Both paths store here: the live call (which also feeds the process's turn metrics,
`parley.observability.record_turn`) and the one-shot exchange.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from parley import observability
from parley.ai.base import Language, SentimentAnalyzer, SentimentScore
from parley.calls.domain import Role, Stage, Stages, Turn, utcnow
from parley.calls.service import CallService
from parley.errors import ParleyError
from parley.rtc.speech_track import Segment

HEARD_IN_FULL = 0.98  # of a sentence's samples played: the caller heard all of it


def stored(stages: Stages) -> dict[str, float]:
    """Stage latencies as `Turn.latency_ms` keeps them: by `Stage` name, in ms."""
    return {stage.value: value for stage, value in stages.items()}


def heard_text(spoken: Sequence[str], shares: Sequence[float]) -> str:
    """What the caller heard of `spoken` sentences whose played shares (0–1) are `shares`: the
    sentences played in full, then as many words of the first one cut as were played."""
    heard: list[str] = []
    for sentence, share in zip(spoken, [*shares, *[0.0] * len(spoken)], strict=False):
        if share >= HEARD_IN_FULL:
            heard.append(sentence)
            continue
        words = sentence.split()
        if share > 0:
            heard.append(" ".join(words[: max(1, round(share * len(words)))]))
        break
    return " ".join(heard)


def played_shares(turn: object, segments: Iterable[Segment]) -> list[float]:
    """The played share of each sentence of reply `turn`, from the track's segments (tagged
    `(turn, sentence index)`; a sentence may span several)."""
    total: dict[int, int] = defaultdict(int)
    played: dict[int, int] = defaultdict(int)
    for segment in segments:
        if isinstance(segment.tag, tuple) and segment.tag[0] == turn:
            total[segment.tag[1]] += segment.samples  # a finished one keeps no audio
            played[segment.tag[1]] += segment.played
    last = max(total, default=-1)
    return [played[i] / total[i] if total[i] else 0.0 for i in range(last + 1)]


class Recorder:
    def __init__(
        self,
        calls: CallService,
        sentiment: SentimentAnalyzer,
        call_id: uuid.UUID,
        language: Language | None,
    ) -> None:
        self._calls = calls
        self._sentiment = sentiment
        self.call_id = call_id
        self.language = language

    def caller_turn(self, text: str, language: Language, at: datetime | None = None) -> Turn:
        """The caller's turn, to be stored with the answer to it."""
        at = at or utcnow()
        return Turn(
            call_id=self.call_id,
            index=-1,
            role=Role.USER,
            text=text,
            language=language.value,
            started_at=at,
        )

    async def mood(self, user: Turn, language: Language) -> SentimentScore | None:
        """The caller's mood in `user`, kept on the turn; a failing analyzer costs the label,
        never the call."""
        try:
            mood = await self._sentiment.analyze(user.text, language=language)
        except ParleyError:
            return None
        user.sentiment, user.sentiment_score = mood.label, mood.score
        return mood

    async def store(
        self,
        user: Turn | None,
        said: str,
        language: Language,
        stages: Stages,
        *,
        started_at: datetime | None = None,
    ) -> None:
        """Store the caller's turn (if any: the greeting answers none) and what the caller heard
        of the AI's, with the reply's stage latencies."""
        assistant = Turn(
            call_id=self.call_id,
            index=-1,
            role=Role.ASSISTANT,
            text=said,
            language=language.value,
            started_at=started_at or (user.started_at if user else utcnow()),
            ended_at=utcnow(),
            latency_ms=stored(stages) or None,
        )
        await self._calls.record_turns([user, assistant] if user else [assistant])

    @staticmethod
    def timed(stages: Stages) -> None:
        """A live turn was answered: its latencies join the process's metrics."""
        measured = (*observability.STAGES, observability.VOICE_TO_VOICE)
        observability.record_turn({s.value: ms for s, ms in stages.items() if s in measured})


def caller_stages(stages: Stages) -> Stages:
    """The stages that are the caller's turn's own (hearing it), as the one-shot stores them."""
    return {stage: ms for stage, ms in stages.items() if stage in (Stage.VAD, Stage.STT)}
