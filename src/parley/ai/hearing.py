"""Whether a transcript was heard well enough to answer, or the caller should be asked to repeat.

`heard_well(transcript)` says no to an empty transcript, to text that makes no sense for the call
(mostly another script than the call's language, letters of a third one such as kana or Chinese
characters, a sound label like "[Music]" or "♪"), and to Whisper's own doubts (`Confidence`): a
mean token log-probability below `logprob_min`, a compression ratio above `compression_max` (a
decoding loop), or a no-speech probability above `no_speech_max` while the log-probability is
below `no_speech_logprob` (Whisper's own rule for silence taken for words). A transcript
without figures (a provider that gives none) is judged on its text alone.

The thresholds are per language and were chosen with `bench/stt_confidence.py` (30 sentences per
language, English by Piper and espeak-ng, Korean by espeak-ng at two rates and voices, each clean
and degraded eight ways: white noise at 10/5/0 dB SNR, a 300-3400 Hz telephone band, an 800 Hz
low-pass, hard clipping, 1.6x speed, cut off at 60 %; plus 40 clips without speech: 1,120
transcripts per encoder window; *right* is WER/CER <= 20 %, *wrong* >= 50 %), as the most they
catch of the wrong transcripts while keeping >= 95 % of the right ones:

- English, `logprob_min` -0.7. Right transcripts: median -0.24, p5 -0.65 (10 s window, the live
  path, n=303); -0.39 and -0.66 (30 s, n=319). Wrong: median -0.95 and -0.91, p75 -0.64 and
  -0.74 (n=143, 117). `heard_well` keeps 95.0 % / 96.2 % of the right ones (10 s / 30 s) and
  catches 74.8 % / 82.9 % of the wrong ones.
- No-speech probability alone tells little (right p95 0.30, wrong median 0.15); above 0.4 with a
  log-probability below -0.5 it catches 4.9 points more of the wrong English ones for 1.0 point
  of the right ones (10 s; 1.7 for 0.4 at 30 s).
- English `compression_max` 4.0, not Whisper's 2.4: the ratio is of the raw decoded text, and on
  the short path a loop that `collapse_repeats` then cleans up ("Hello? Hello? ..." -> "Hello",
  ratio 7.35) was often a right transcript: 2.4 would turn away 3.0 % of the right ones to catch
  8.4 % of the wrong, which the log-probability mostly catches already.
- Korean, `logprob_min` -1.25, compression 2.4. Whisper base mishears espeak-ng's Korean nearly
  always (6 and 5 right transcripts of 540 per window), so a 95 % bound cannot be measured: the
  right ones lie between -0.57 and -1.60, and -1.25 keeps all but one (a cut-off "여보세요" at
  -1.60) while catching 84.2 % / 78.3 % of the 444 / 420 wrong ones (median -1.42 / -1.44).
  Korean loops are common (wrong p95 compression 4.6 / 10.8; right at most 0.83). A human voice
  should score higher than espeak-ng: measure again with one.
- The text checks turn away no right transcript and catch 7.4 % / 3.6 % of the wrong Korean ones
  (English words, "1, 2, 3, 4", kana) on their own; digits alone pass (an order number).
- Over noise, tones and beeps every transcript with words in it (20 of 20, 10 s) is turned away.

What Whisper is sure of passes, sense or not: the test question played backwards came out as
"Yeah, I read them. No, you'll sell this very..." at -0.49 on the 10 s path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from parley.ai.base import Confidence, Language, Transcript


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where Whisper's figures stop meaning "heard": below `logprob_min`, above
    `compression_max`, or above `no_speech_max` while below `no_speech_logprob` (Whisper's own
    rule for silence taken for words)."""

    logprob_min: float
    no_speech_max: float
    no_speech_logprob: float
    compression_max: float


THRESHOLDS = {
    Language.ENGLISH: Thresholds(-0.7, 0.4, -0.5, 4.0),
    Language.KOREAN: Thresholds(-1.25, 0.4, -0.5, 2.4),
}
SCRIPT_MIN = 0.5

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_NOT_SPEECH = re.compile(r"^\s*[\[(*♪♫].*[\])*♪♫]\s*$|[♪♫]")


def compression_ratio(text: str) -> float:
    """Whisper's own figure: the UTF-8 text's length over its zlib-compressed length."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def combine(parts: Iterable[tuple[float, Confidence]]) -> Confidence | None:
    """Several decoded pieces' figures in one: the log-probability weighted (by tokens or
    seconds), the worst no-speech probability and compression ratio. None for no pieces."""
    items = list(parts)
    if not items:
        return None
    weights = [max(weight, 1e-6) for weight, _ in items]
    logprob = sum(w * c.avg_logprob for w, (_, c) in zip(weights, items, strict=True))
    return Confidence(
        avg_logprob=logprob / sum(weights),
        no_speech_prob=max(c.no_speech_prob for _, c in items),
        compression_ratio=max(c.compression_ratio for _, c in items),
    )


def sure(confidence: Confidence, limits: Thresholds) -> bool:
    """Whisper's own figures say it heard speech, and words it was sure of."""
    if confidence.avg_logprob < limits.logprob_min:
        return False
    if confidence.compression_ratio > limits.compression_max:
        return False
    silent = confidence.no_speech_prob > limits.no_speech_max
    return not (silent and confidence.avg_logprob < limits.no_speech_logprob)


def script_share(text: str, language: Language) -> float:
    """The share of the letters written in the language's own script (Hangul for Korean, Latin
    for English); 1.0 for digits alone (an order number is no language's)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0 if any(c.isdigit() for c in text) else 0.0
    own = _HANGUL if language is Language.KOREAN else _LATIN
    return sum(bool(own.match(c)) for c in letters) / len(letters)


def foreign_letters(text: str) -> bool:
    """Letters of neither Hangul nor the Latin alphabet: kana, Chinese characters, Cyrillic...
    Whisper drifting into another language."""
    return any(c.isalpha() and not (_HANGUL.match(c) or _LATIN.match(c)) for c in text)


def makes_sense(text: str, language: Language) -> bool:
    """Cheap text checks: words or digits there are, mostly in the language's own script, none
    in a third one, and not a sound label."""
    if _NOT_SPEECH.search(text) or foreign_letters(text):
        return False
    return script_share(text, language) >= SCRIPT_MIN


def heard_well(transcript: Transcript, limits: Thresholds | None = None) -> bool:
    """True when the transcript can be answered; False when the caller should repeat.
    `limits`: the transcript's language's own unless given."""
    text = transcript.text.strip()
    if not text or not makes_sense(text, transcript.language):
        return False
    chosen = limits or THRESHOLDS[transcript.language]
    return transcript.confidence is None or sure(transcript.confidence, chosen)
