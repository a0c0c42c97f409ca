"""Whisper's own confidence against what it actually heard: the figures behind `heard_well`.

    .venv/bin/python bench/stt_confidence.py                       (the 10 s window, ~8 min)
    .venv/bin/python bench/stt_confidence.py --windows 10,30 --save /tmp/conf.json   (~50 min)
    .venv/bin/python bench/stt_confidence.py --load /tmp/conf.json (analyse again, no Whisper)

Speaks the first `--limit` reference sentences of bench/data/stt_{en,ko}.txt with the local voices
(English: Piper and espeak-ng; Korean: espeak-ng at two rates and voices), makes degraded copies
of each (white noise at 10, 5 and 0 dB SNR, a 300-3400 Hz telephone band, a heavy 800 Hz
low-pass, hard clipping, sped up 1.6x, cut off mid-word at 60 %), adds clips with no speech at
all (white and brown noise, music-like tones, beeps), and transcribes everything with
`WhisperSTT` for each window of `--windows` (10: the live default's short path; 30: the path of
clips longer than the window), the language given (a call fixes it).

Each transcript is labelled against its reference (English WER over words, Korean CER over
characters, as bench/stt_accuracy.py scores): *right* when the error rate is at most `--right`,
*wrong* from `--wrong` up, *partly* between; any words over a clip without speech are wrong. A
cut-off clip is scored against the best prefix of its reference (what was said before the cut).
Transcripts with digits are left out of the labels (the references spell numbers out); empty
transcripts are counted apart (nothing to answer, `heard_well` says no anyway). The short
window's decoder sometimes says the whole utterance twice ("Hello? Hello", "I forgot my password
and I can't reset it. I forgo"): 26 of 540 English transcripts (4 of the 60 clean ones), none on
the 30 s path. Such a transcript is scored on its first copy (the same thing gets answered) and
counted in the `echo` column.

Printed per window: the three figures' distributions for right and wrong transcripts per
language; per variant how many were right and wrong and how many `heard_well` keeps; per
language, each figure alone as a threshold (what it keeps of the right ones and catches of the
wrong ones), the best combinations of thresholds on a grid that keep at least `--keep` of the
right ones, and `heard_well` as it stands. Piper does not make the same samples twice, so the
figures move a little between runs. It asserts nothing and times nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.speech and bench.stt_accuracy

from tests.speech import resample, with_silence  # noqa: E402

from bench.stt_accuracy import edit_distance, sentences, units  # noqa: E402
from parley.ai import assets, hearing  # noqa: E402
from parley.ai.base import (  # noqa: E402
    SAMPLE_RATE,
    AudioChunk,
    Confidence,
    Language,
    Samples,
    TextToSpeech,
)
from parley.ai.hearing import Thresholds  # noqa: E402
from parley.ai.local.espeak_tts import EspeakTTS  # noqa: E402
from parley.ai.local.piper_tts import PiperTTS  # noqa: E402
from parley.ai.local.whisper_stt import WhisperSTT  # noqa: E402
from parley.config import AISettings  # noqa: E402

RIGHT, PARTLY, WRONG, EMPTY, DIGITS = "right", "partly", "wrong", "empty", "digits"
LABELS = (RIGHT, PARTLY, WRONG, EMPTY, DIGITS)


@dataclass(frozen=True, slots=True)
class Clip:
    language: Language
    reference: str  # "" for a clip without speech
    voice: str
    variant: str
    audio: Samples


@dataclass(frozen=True, slots=True)
class Row:
    """One transcription, as saved with `--save`."""

    window: int
    language: str
    voice: str
    variant: str
    reference: str
    hypothesis: str
    rate: float  # error rate against the reference; 1.0 for words over no speech
    label: str
    avg_logprob: float | None
    no_speech_prob: float | None
    compression_ratio: float | None


# Degradations: each takes the padded clip and the speech's own RMS.

Degrade = Callable[[Samples, float, np.random.Generator], Samples]


def noise(snr_db: float) -> Degrade:
    def add(audio: Samples, rms: float, rng: np.random.Generator) -> Samples:
        level = rms / 10 ** (snr_db / 20)
        return (audio + rng.normal(0, level, len(audio))).astype(np.float32)

    return add


def band(low_hz: float, high_hz: float) -> Degrade:
    def keep(audio: Samples, rms: float, rng: np.random.Generator) -> Samples:
        spectrum = np.fft.rfft(audio)
        freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
        spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
        return np.fft.irfft(spectrum, len(audio)).astype(np.float32)

    return keep


def clipped(audio: Samples, rms: float, rng: np.random.Generator) -> Samples:
    """Overdriven by 26 dB into hard clipping, then brought back down."""
    return (np.clip(audio * 20, -1, 1) * 0.5).astype(np.float32)


def faster(audio: Samples, rms: float, rng: np.random.Generator) -> Samples:
    """1.6 times as fast (and higher), like a tape played too fast."""
    positions = np.arange(0, len(audio) - 1, 1.6)
    return np.asarray(np.interp(positions, np.arange(len(audio)), audio), np.float32)


def cut(audio: Samples, rms: float, rng: np.random.Generator) -> Samples:
    """The first 60 % of the speech, then silence: the caller cut off mid-word."""
    voiced = np.flatnonzero(np.abs(audio) > 0.02)
    if not len(voiced):
        return audio
    end = voiced[0] + int(0.6 * (voiced[-1] - voiced[0]))
    return np.concatenate([audio[:end], np.zeros(int(0.4 * SAMPLE_RATE), np.float32)])


VARIANTS: dict[str, Degrade | None] = {
    "clean": None,
    "noise 10 dB": noise(10),
    "noise 5 dB": noise(5),
    "noise 0 dB": noise(0),
    "telephone": band(300, 3400),
    "low-pass 800": band(0, 800),
    "clipped": clipped,
    "fast 1.6x": faster,
    "cut at 60%": cut,
}


# Clips without speech.


def white(seconds: float, level: float, rng: np.random.Generator) -> Samples:
    return rng.normal(0, level, int(seconds * SAMPLE_RATE)).astype(np.float32)


def brown(seconds: float, level: float, rng: np.random.Generator) -> Samples:
    walk = np.cumsum(rng.normal(0, 1, int(seconds * SAMPLE_RATE)))
    walk -= np.convolve(walk, np.ones(801) / 801, mode="same")  # no drift below ~20 Hz
    return (walk / (np.std(walk) + 1e-9) * level).astype(np.float32)


def tones(seconds: float, level: float, rng: np.random.Generator) -> Samples:
    """A melody of harmonic notes (a few partials, an envelope): music-like, no words."""
    note_s = rng.uniform(0.15, 0.4)
    t = np.arange(int(note_s * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.minimum(1, t / 0.02) * np.exp(-3 * t)
    notes: list[npt.NDArray[np.float64]] = []
    for _ in range(int(seconds / note_s)):
        f0 = 220 * 2 ** (rng.integers(0, 24) / 12)
        notes.append(sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3)) * envelope)
    audio = np.concatenate(notes)
    return np.asarray(audio / np.sqrt(np.mean(audio**2)) * level, np.float32)


def beeps(seconds: float, level: float, rng: np.random.Generator) -> Samples:
    """Pairs of pure tones on and off, like a keypad or a ringback."""
    on = np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE
    pieces: list[npt.NDArray[np.float64]] = []
    for _ in range(int(seconds / 0.4)):
        low, high = rng.choice([697, 770, 852, 941]), rng.choice([1209, 1336, 1477])
        pieces += [np.sin(2 * np.pi * low * on) + np.sin(2 * np.pi * high * on)]
        pieces += [np.zeros(int(0.2 * SAMPLE_RATE))]
    audio = np.concatenate(pieces)
    return np.asarray(audio / np.sqrt(np.mean(audio**2)) * level, np.float32)


NOISES: dict[str, Callable[[float, float, np.random.Generator], Samples]] = {
    "white noise": white,
    "brown noise": brown,
    "tones": tones,
    "beeps": beeps,
}


def quiet_clips(count: int, rng: np.random.Generator) -> list[Clip]:
    clips = []
    for index in range(count):
        for name, make in NOISES.items():
            language = list(Language)[index % 2]
            seconds, level = rng.uniform(1.5, 5), 10 ** rng.uniform(-2.5, -1)
            clips.append(Clip(language, "", "-", name, make(seconds, level, rng)))
    return clips


# Speech clips.


def speakers(language: Language) -> list[tuple[str, TextToSpeech, str | None]]:
    if language is Language.ENGLISH:
        return [("piper", PiperTTS(), None), ("espeak en-us", EspeakTTS(), "en-us")]
    return [
        ("espeak ko 150", EspeakTTS(rate=150), "ko"),
        ("espeak ko+f3 120", EspeakTTS(rate=120), "ko+f3"),
    ]


async def spoken(tts: TextToSpeech, text: str, language: Language, voice: str | None) -> Samples:
    chunks = [c async for c in tts.synthesize(text, language=language, voice=voice)]
    clip = AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)
    return resample(clip.pcm, clip.sample_rate)


async def speech_clips(language: Language, limit: int, rng: np.random.Generator) -> list[Clip]:
    clips = []
    for voice_name, tts, voice in speakers(language):
        try:
            for text in sentences(language, limit):
                speech = await spoken(tts, text, language, voice)
                rms = float(np.sqrt(np.mean(speech**2)))
                padded = with_silence(AudioChunk((speech * 32767).astype(np.int16), SAMPLE_RATE))
                audio = (padded.pcm / 32767).astype(np.float32)
                for name, degrade in VARIANTS.items():
                    changed = audio if degrade is None else degrade(audio, rms, rng)
                    clips.append(Clip(language, text, voice_name, name, changed))
        finally:
            await tts.aclose()
    return clips


# Scoring.


def first_copy(heard: list[str]) -> list[str]:
    """The words (or Korean characters) without an echo: the short window's decoder sometimes
    says the whole utterance again ("Hello? Hello", "I forgot my password... I forgo"). Such a
    transcript is scored on its first copy (what is answered is the same) and counted apart."""
    joined = "".join(heard)
    for count in range(1, len(heard)):
        period = len("".join(heard[:count]))
        tail = joined[period:]
        if len(tail) >= min(3, period) and all(
            joined[i] == joined[i - period] for i in range(period, len(joined))
        ):
            return heard[:count]
    return heard


def error_rate(language: Language, reference_text: str, variant: str, hypothesis: str) -> float:
    heard = first_copy(units(hypothesis, language))
    if not reference_text:
        return 1.0 if heard else 0.0
    reference = units(reference_text, language)
    if variant != "cut at 60%":
        return edit_distance(reference, heard) / len(reference)
    shortest = max(1, math.ceil(0.3 * len(reference)))
    return min(edit_distance(reference[:k], heard) / k for k in range(shortest, len(reference) + 1))


def label(reference: str, hypothesis: str, rate: float, args: argparse.Namespace) -> str:
    if not hypothesis.strip():
        return EMPTY
    if not reference:
        return WRONG
    if re.search(r"\d", hypothesis):
        return DIGITS
    return RIGHT if rate <= args.right else WRONG if rate >= args.wrong else PARTLY


def echoed(row: Row) -> bool:
    heard = units(row.hypothesis, Language(row.language))
    return len(first_copy(heard)) < len(heard)


async def measure(
    window: int, clips: list[Clip], args: argparse.Namespace, model_dir: Path
) -> list[Row]:
    stt = WhisperSTT(model_dir, window_s=window)
    await stt.load()
    rows = []
    try:
        for index, clip in enumerate(clips):
            heard = await stt.transcribe(clip.audio, language=clip.language)
            rate = error_rate(clip.language, clip.reference, clip.variant, heard.text)
            figures = heard.confidence
            rows.append(
                Row(
                    window,
                    clip.language.value,
                    clip.voice,
                    clip.variant,
                    clip.reference,
                    heard.text,
                    rate,
                    label(clip.reference, heard.text, rate, args),
                    figures.avg_logprob if figures else None,
                    figures.no_speech_prob if figures else None,
                    figures.compression_ratio if figures else None,
                )
            )
            if (index + 1) % 100 == 0:
                print(f"  window {window}: {index + 1}/{len(clips)}", file=sys.stderr)
    finally:
        await stt.aclose()
    return rows


# Analysis.


def passes(row: Row, limits: Thresholds) -> bool:
    """`heard_well` with these thresholds (the text checks cached: the grid asks again and
    again)."""
    if not sensible(row.hypothesis, row.language):
        return False
    confidence = figures(row)
    return confidence is None or hearing.sure(confidence, limits)


@functools.cache
def figures_of(
    logprob: float | None, no_speech: float | None, ratio: float | None
) -> Confidence | None:
    if logprob is None or no_speech is None or ratio is None:
        return None
    return Confidence(logprob, no_speech, ratio)


def figures(row: Row) -> Confidence | None:
    return figures_of(row.avg_logprob, row.no_speech_prob, row.compression_ratio)


@functools.cache
def sensible(hypothesis: str, language: str) -> bool:
    text = hypothesis.strip()
    return bool(text) and hearing.makes_sense(text, Language(language))


def pct(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    points = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
    return " ".join(f"{pct(values, p):6.2f}" for p in points)


def report_figures(rows: list[Row]) -> None:
    print("  figure distributions (min p5 p25 median p75 p95 max)")
    for language in Language:
        for name in (RIGHT, PARTLY, WRONG):
            group = [r for r in rows if r.language == language.value and r.label == name]
            if not group:
                continue
            print(f"   {language.value} {name:<7} n={len(group)}")
            for figure in ("avg_logprob", "no_speech_prob", "compression_ratio"):
                values = [getattr(r, figure) for r in group if getattr(r, figure) is not None]
                print(f"      {figure:<18}{spread(values)}")


def report_variants(rows: list[Row]) -> None:
    """Per variant: the labels, and how many of the right and wrong `heard_well` keeps."""
    print(
        f"  {'lang':<5}{'variant':<14}{'n':>4}{'right':>7}{'partly':>7}{'wrong':>7}{'empty':>7}"
        f"{'digits':>7}{'echo':>6}  kept: right  wrong"
    )
    keys = sorted({(r.language, r.variant) for r in rows}, key=lambda k: (k[0], order(k[1])))
    for language, variant in keys:
        group = [r for r in rows if r.language == language and r.variant == variant]
        counts = [sum(r.label == name for r in group) for name in LABELS]
        limits = hearing.THRESHOLDS[Language(language)]
        kept_right = sum(passes(r, limits) for r in group if r.label == RIGHT)
        kept_wrong = sum(passes(r, limits) for r in group if r.label == WRONG)
        print(
            f"  {language:<5}{variant:<14}{len(group):>4}"
            + "".join(f"{c:>7}" for c in counts)
            + f"{sum(echoed(r) for r in group):>6}"
            + f"  {kept_right:>5}/{counts[0]:<5}{kept_wrong:>3}/{counts[2]}"
        )


def order(variant: str) -> int:
    names = [*VARIANTS, *NOISES]
    return names.index(variant) if variant in names else len(names)


def rates(rows: list[Row], limits: Thresholds) -> tuple[float, float]:
    """Share of right transcripts kept, and share of wrong ones caught."""
    right = [r for r in rows if r.label == RIGHT]
    wrong = [r for r in rows if r.label == WRONG]
    kept = sum(passes(r, limits) for r in right) / max(1, len(right))
    caught = sum(not passes(r, limits) for r in wrong) / max(1, len(wrong))
    return kept, caught


NONE = Thresholds(-math.inf, 1.0, -math.inf, math.inf)
LOGPROBS = [round(-2.0 + 0.05 * i, 2) for i in range(35)]


def report_single(rows: list[Row]) -> None:
    """Each figure alone (text checks on): what it keeps of the right, catches of the wrong."""
    print("  one figure at a time (text checks on): kept right / caught wrong")
    singles = [
        *(
            (f"avg_logprob < {v:.2f}", Thresholds(v, 1.0, -math.inf, math.inf))
            for v in LOGPROBS[::2]
        ),
        *(
            (f"no_speech > {v:.2f}", Thresholds(-math.inf, v, 0.0, math.inf))
            for v in (0.3, 0.5, 0.7)
        ),
        *(
            (f"compression > {v:.1f}", Thresholds(-math.inf, 1.0, -math.inf, v))
            for v in (1.5, 2.0, 2.4, 3.0)
        ),
        ("text checks only", NONE),
    ]
    for name, limits in singles:
        kept, caught = rates(rows, limits)
        print(f"    {name:<22}{kept:7.1%} / {caught:6.1%}")


def search(rows: list[Row], keep: float) -> list[tuple[float, Thresholds]]:
    """Every combination on the grid that keeps `keep` of the right transcripts, best catch
    first."""
    found = []
    grid = itertools.product(
        LOGPROBS,
        (0.4, 0.5, 0.6, 0.7, 0.8, 1.0),
        (-1.0, -0.7, -0.5, -0.3, 0.0),
        (2.0, 2.4, 3.0, 4.0),
    )
    for values in grid:
        limits = Thresholds(*values)
        kept, caught = rates(rows, limits)
        if kept >= keep:
            found.append((caught, limits))
    return sorted(found, key=lambda pair: (-pair[0], -pair[1].logprob_min))


def report_search(rows: list[Row], keep: float) -> None:
    print(f"  best thresholds keeping >= {keep:.0%} of the right transcripts:")
    for caught, limits in search(rows, keep)[:5]:
        print(f"    caught {caught:.1%}  {limits}")


def report(rows: list[Row], keep: float) -> None:
    for window in sorted({r.window for r in rows}):
        group = [r for r in rows if r.window == window]
        print(f"\n==== window {window} s: {len(group)} transcripts")
        report_figures(group)
        report_variants(group)
        for language in Language:
            mine = [r for r in group if r.language == language.value]
            print(f"\n  -- {language.value}, window {window} s")
            report_single(mine)
            report_search(mine, keep)
            limits = hearing.THRESHOLDS[language]
            kept, caught = rates(mine, limits)
            right, wrong = (sum(r.label == name for r in mine) for name in (RIGHT, WRONG))
            partly = [r for r in mine if r.label == PARTLY]
            half = sum(passes(r, limits) for r in partly) / max(1, len(partly))
            digits = [r for r in mine if r.label == DIGITS]
            print(
                f"  heard_well as it stands ({limits}):\n    keeps {kept:.1%} of {right} right"
                f" and {half:.0%} of {len(partly)} partly right, catches {caught:.1%} of {wrong}"
                f" wrong; keeps {sum(passes(r, limits) for r in digits)} of {len(digits)} with"
                " digits (not scored)"
            )


async def collect(args: argparse.Namespace) -> list[Row]:
    model_dir = args.models_dir.expanduser() / "whisper-base"
    if not assets.is_installed(assets.WHISPER_BASE, args.models_dir.expanduser()):
        sys.exit(f"No Whisper model in {model_dir}: run `.venv/bin/parley models install`.")
    rng = np.random.default_rng(args.seed)
    clips = [c for language in Language for c in await speech_clips(language, args.limit, rng)]
    clips += quiet_clips(args.quiet, rng)
    print(f"{len(clips)} clips", file=sys.stderr)
    rows = []
    for window in [int(w) for w in args.windows.split(",")]:
        rows += await measure(window, clips, args, model_dir)
    return rows


def main() -> None:
    args = parse_args()
    if args.load:
        data = json.loads(args.load.read_text())
        rows = [Row(**item) for item in data]
        rows = [relabel(row, args) for row in rows]
    else:
        rows = asyncio.run(collect(args))
    if args.save:
        args.save.write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False))
    report(rows, args.keep)
    if args.show:
        for row in rows:
            print(
                f"  {row.window} {row.label:<6} {row.rate:4.0%} {row.language} {row.variant:<13} "
                f"{row.avg_logprob} {row.no_speech_prob} {row.compression_ratio} | {row.hypothesis}"
            )


def relabel(row: Row, args: argparse.Namespace) -> Row:
    """Scores and labels a saved row again, with this run's `--right`/`--wrong`."""
    rate = error_rate(Language(row.language), row.reference, row.variant, row.hypothesis)
    return replace(row, rate=rate, label=label(row.reference, row.hypothesis, rate, args))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--windows", default="10", help="encoder windows, comma-separated")
    parser.add_argument("--limit", type=int, default=30, help="sentences per language")
    parser.add_argument("--quiet", type=int, default=10, help="clips per kind without speech")
    parser.add_argument("--right", type=float, default=0.2, help="error rate still right")
    parser.add_argument("--wrong", type=float, default=0.5, help="error rate that is wrong")
    parser.add_argument("--keep", type=float, default=0.95, help="share of right to keep")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--save", type=Path, help="write every transcript and figure as JSON")
    parser.add_argument("--load", type=Path, help="analyse a saved run instead of measuring")
    parser.add_argument("--show", action="store_true", help="print every transcript")
    parser.add_argument("--models-dir", type=Path, default=AISettings().models_dir)
    return parser.parse_args()


if __name__ == "__main__":
    main()
