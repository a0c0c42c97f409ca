"""The calls domain: a call, its life cycle, and the turns of its conversation.

    INITIATING → RINGING → CONNECTING → IN_PROGRESS → ENDED
         ↓          ↓          ↓
       FAILED     FAILED     FAILED

The original system drew ENDED only after IN_PROGRESS. Parley also lets a caller hang up a call that
is still INITIATING, RINGING or CONNECTING (it ends with `connectedAt`/`startedAt` empty, so it is
plain that no conversation took place): the original's documented flow create → connect → end
depends on it, and so does every phone a person has used. ENDED and FAILED are final.

One change stands outside the table: a call that the server process carrying it lost (it crashed
or was killed) becomes FAILED from whatever unfinished state it was in, IN_PROGRESS included
(`CallStore.fail_abandoned`). Nobody hung up, so it did not end; nothing can happen to it any
more, so it must not stay unfinished.

The call's `id` and its `session_id` are random UUIDs (122 random bits each, from the operating
system's CSPRNG): nobody finds one by guessing, so they serve as the caller's secrets, handed
only to whoever created the call (and to operators).
"""

from __future__ import annotations

import enum
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from parley.ai.base import Sentiment
from parley.calls.phone import PhoneNumber
from parley.errors import IllegalTransitionError

__all__ = [
    "TRANSITIONS",
    "UNFINISHED",
    "Call",
    "CallStatus",
    "Role",
    "Sentiment",
    "Stage",
    "Stages",
    "Turn",
    "utcnow",
]

MAX_FAILURE_REASON = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallStatus(enum.StrEnum):
    INITIATING = "INITIATING"
    RINGING = "RINGING"
    CONNECTING = "CONNECTING"
    IN_PROGRESS = "IN_PROGRESS"
    ENDED = "ENDED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (CallStatus.ENDED, CallStatus.FAILED)

    @property
    def can_talk(self) -> bool:
        """Whether the AI may hear and answer the caller in this state."""
        return self in (CallStatus.CONNECTING, CallStatus.IN_PROGRESS)


_S = CallStatus
TRANSITIONS: dict[CallStatus, frozenset[CallStatus]] = {
    _S.INITIATING: frozenset({_S.RINGING, _S.ENDED, _S.FAILED}),
    _S.RINGING: frozenset({_S.CONNECTING, _S.ENDED, _S.FAILED}),
    _S.CONNECTING: frozenset({_S.IN_PROGRESS, _S.ENDED, _S.FAILED}),
    _S.IN_PROGRESS: frozenset({_S.ENDED}),
    _S.ENDED: frozenset(),
    _S.FAILED: frozenset(),
}

UNFINISHED = frozenset(status for status in CallStatus if not status.is_final)


@dataclass(slots=True)
class Call:
    """One call between a caller and Parley's AI agent.

    `node_id` names the server (`NODE_ID`) that carries the call: the one that created it, or
    that holds its live peer. When that server starts again, what it left unfinished failed.
    """

    caller: PhoneNumber
    receiver: PhoneNumber | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: CallStatus = CallStatus.INITIATING
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    connected_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    failure_reason: str | None = None
    node_id: str | None = None

    def has_session(self, session_id: str) -> bool:
        """Whether `session_id` is this call's, compared in constant time (it is a secret)."""
        return hmac.compare_digest(session_id.encode(), self.session_id.encode())

    def transition(self, target: CallStatus, *, at: datetime, reason: str | None = None) -> None:
        """Move to `target` and stamp the time, or raise without changing anything."""
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransitionError(
                f"Call {self.id} cannot go from {self.status} to {target}.",
                current=self.status.value,
                requested=target.value,
            )
        self.status = target
        self.updated_at = at
        if target is CallStatus.CONNECTING:
            self.connected_at = at
        elif target is CallStatus.IN_PROGRESS:
            self.started_at = at
        elif target.is_final:
            self.ended_at = at
        if target is CallStatus.FAILED:
            self.failure_reason = (reason or "unspecified failure")[:MAX_FAILURE_REASON]

    def closing_status(self, wanted: CallStatus) -> CallStatus:
        """What a call that must stop now becomes: `wanted`, unless the transition table forbids
        it — a call already IN_PROGRESS cannot become FAILED (the original's table), so media
        lost mid-call ends it as ENDED instead of leaving it IN_PROGRESS until a restart."""
        if wanted is CallStatus.FAILED and wanted not in TRANSITIONS[self.status]:
            return CallStatus.ENDED
        return wanted

    @property
    def duration_seconds(self) -> float | None:
        """Talk time: from media flowing to the end; None when the call never started."""
        if self.started_at is None:
            return None
        end = self.ended_at or utcnow()
        return round((end - self.started_at).total_seconds(), 3)


class Stage(enum.StrEnum):
    """The stages whose time a stored turn keeps (`Turn.latency_ms`): one vocabulary for live
    calls and the one-shot exchange, each in milliseconds, from the stage's own start to its
    end (they overlap under speculation, so they do not add up). Wire names (`sttMs`,
    `endOfTurnMs`, ...) are `parley.web`'s affair."""

    VAD = "vad"  # speech detection over a whole recording (one-shot)
    STT = "stt"  # transcribing the caller's words
    END_OF_TURN = "end_of_turn"  # end of the caller's speech → the turn is committed (live)
    LLM_FIRST_TOKEN = "llm_first_token"  # noqa: S105 (not a secret) the LLM asked → first token
    LLM_FIRST_CLAUSE = "llm_first_clause"  # the LLM asked → its first speakable clause
    LLM = "llm"  # the LLM asked → its last token
    TTS_FIRST_CHUNK = "tts_first_chunk"  # the first sentence to the voice → its first audio
    TTS = "tts"  # all the reply's synthesis
    VOICE_TO_VOICE = "voice_to_voice"  # end of the caller's speech → first audio queued (live)
    ANSWER_AUDIO = "answer_audio"  # ... → the answer's own first audio, after any acknowledgement
    TOTAL = "total"  # the whole exchange (one-shot)


Stages = dict[Stage, float]


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(slots=True)
class Turn:
    """One utterance of the conversation: the caller's or the AI's.

    `latency_ms` holds the time each stage took for this turn, by `Stage` name (e.g. `{"stt":
    240, "llm_first_token": 130}`), so slow turns can be explained after the fact.
    """

    call_id: uuid.UUID
    index: int
    role: Role
    text: str
    language: str | None = None
    sentiment: Sentiment | None = None
    sentiment_score: float | None = None
    started_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None
    latency_ms: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=utcnow)
