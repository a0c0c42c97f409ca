"""How accurately and how fast local Whisper transcribes callers, per encoder window.

    .venv/bin/python bench/stt_accuracy.py
    .venv/bin/python bench/stt_accuracy.py --windows 30,10 --language ko --show
    .venv/bin/python bench/stt_accuracy.py --limit 5 --no-detect        (a quick look)

Reads the reference sentences in bench/data/stt_{en,ko}.txt (one per line), speaks each with the
local voices (Piper for English, espeak-ng for Korean) at every rate of `--en-scales` /
`--ko-rates`, pads it with `--pad` seconds of silence on both sides, resamples it to 16 kHz and
transcribes it, the language given, with one `WhisperSTT(window_s=...)` per window of `--windows`
(30: faster-whisper's own path; shorter: the clip padded only to the window, when it fits). All
windows' models are loaded side by side, warmed up, and take turns utterance by utterance (in
rotating order), so a change in machine load hits them alike.

Printed per language and window: the error rate (WER for English: lowercase words without
punctuation; CER for Korean: characters without spaces or punctuation) as a mean, a mean with
each utterance capped at 100 % (so one runaway decoding loop does not outweigh everything
else), a median and pooled over all words/characters; the share of utterances without an error;
how many transcripts equal the first window's; median and p95 time per `transcribe` call; and
accuracy and time per audio-length bucket (the clip as Whisper gets it, padding included). Then a
comparison of every window with the first, and for each of `--detect-windows` how often
`language=None` chooses the right language between Korean and English. `--show` lists the worst
ten transcripts per window and the misdetected utterances; `--changes` lists every utterance
scored differently than with the first window, with both transcripts.

References spell numbers out ("ten thirty", "열 시") while Whisper often writes digits, and such
an utterance counts as wrong; that costs every window alike. espeak-ng's Korean is robotic and
Whisper base hears little of it, so the Korean figures are far below what a human voice would
get; they are reported as measured. Piper (and espeak-ng) do not make the same samples twice, so
figures move a little from run to run; within a run every window hears the same audio. Time only
on an otherwise idle machine: the load before and after, and the share of the CPUs other
processes took while timing, are printed. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.speech, the helpers the test suite makes clips with

from tests.speech import resample, speak, with_silence  # noqa: E402

from parley.ai import assets  # noqa: E402
from parley.ai.base import SAMPLE_RATE, Language, Samples, TextToSpeech  # noqa: E402
from parley.ai.local.espeak_tts import EspeakTTS  # noqa: E402
from parley.ai.local.piper_tts import PiperTTS  # noqa: E402
from parley.ai.local.whisper_stt import WhisperSTT  # noqa: E402
from parley.config import AISettings  # noqa: E402

DATA = Path(__file__).parent / "data"
BUCKETS: list[tuple[str, Callable[[float], bool]]] = [
    ("<=2 s", lambda s: s <= 2.0),
    ("2-4 s", lambda s: 2.0 < s <= 4.0),
    (">4 s", lambda s: s > 4.0),
]
METRIC = {Language.ENGLISH: "WER", Language.KOREAN: "CER"}


@dataclass(frozen=True, slots=True)
class Utterance:
    language: Language
    text: str
    voice: str  # which voice and rate spoke it
    audio: Samples

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Result:
    utterance: Utterance
    hypothesis: str
    errors: int
    length: int  # reference words (English) or characters (Korean)
    seconds: float  # median time of the transcribe calls

    @property
    def rate(self) -> float:
        return self.errors / self.length


# Scoring.


def units(text: str, language: Language) -> list[str]:
    """English: lowercase words, punctuation gone (apostrophes join, the rest separates).
    Korean: the characters, without spaces or punctuation."""
    text = text.lower().replace("\u2019", "'")
    if language is Language.KOREAN:
        return [c for c in text if c.isalnum()]
    return "".join(c if c.isalnum() else " " for c in text.replace("'", "")).split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + deletions + insertions (Levenshtein)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def score(utterance: Utterance, hypothesis: str, seconds: float) -> Result:
    reference = units(utterance.text, utterance.language)
    errors = edit_distance(reference, units(hypothesis, utterance.language))
    return Result(utterance, hypothesis, errors, len(reference), seconds)


# Audio.


def sentences(language: Language, limit: int | None) -> list[str]:
    lines = (DATA / f"stt_{language.value}.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip()]
    return texts[:limit] if limit else texts


def voices(language: Language, args: argparse.Namespace) -> list[tuple[str, TextToSpeech]]:
    if language is Language.ENGLISH:
        return [(f"piper x{s}", PiperTTS(length_scale=s)) for s in floats(args.en_scales)]
    return [(f"espeak {r}wpm", EspeakTTS(rate=r)) for r in ints(args.ko_rates)]


async def make_utterances(language: Language, args: argparse.Namespace) -> list[Utterance]:
    utterances = []
    for name, tts in voices(language, args):
        try:
            for text in sentences(language, args.limit):
                clip = with_silence(await speak(tts, text, language), args.pad, args.pad)
                audio = resample(clip.pcm, clip.sample_rate)
                utterances.append(Utterance(language, text, name, audio))
        finally:
            await tts.aclose()
    return utterances


# Runs.


async def timed(
    stt: WhisperSTT, audio: Samples, language: Language | None, repeat: int
) -> tuple[str, Language, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        transcript = await stt.transcribe(audio, language=language)
        times.append(time.perf_counter() - start)
    return transcript.text, transcript.language, statistics.median(times)


async def run_windows(
    models: dict[int, WhisperSTT], utterances: list[Utterance], repeat: int
) -> dict[int, list[Result]]:
    """Every utterance through every window, the windows taking turns in rotating order."""
    windows = list(models)
    results: dict[int, list[Result]] = {window: [] for window in windows}
    for index, utterance in enumerate(utterances):
        order = windows[index % len(windows) :] + windows[: index % len(windows)]
        for window in order:
            text, _, seconds = await timed(
                models[window], utterance.audio, utterance.language, repeat
            )
            results[window].append(score(utterance, text, seconds))
        if (index + 1) % 20 == 0:
            print(f"  ... {index + 1}/{len(utterances)}", file=sys.stderr)
    return results


async def run_detection(
    stt: WhisperSTT, utterances: list[Utterance]
) -> list[tuple[Utterance, Language, str, float]]:
    detected = []
    for utterance in utterances:
        text, language, seconds = await timed(stt, utterance.audio, None, 1)
        detected.append((utterance, language, text, seconds))
    return detected


# Reports.


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def mean(results: Sequence[Result], cap: float | None = None) -> float:
    return statistics.mean(r.rate if cap is None else min(cap, r.rate) for r in results)


def pooled(results: Sequence[Result]) -> float:
    return sum(r.errors for r in results) / sum(r.length for r in results)


def ms(results: Sequence[Result], fraction: float | None = None) -> float:
    values = [r.seconds * 1000 for r in results]
    return statistics.median(values) if fraction is None else percentile(values, fraction)


def report_window(
    language: Language, window: int, results: list[Result], base: int, baseline: list[Result]
) -> None:
    metric = METRIC[language]
    count = len(results)
    perfect = sum(r.errors == 0 for r in results)
    same = sum(r.hypothesis == b.hypothesis for r, b in zip(results, baseline, strict=True))
    longer = sum(r.utterance.seconds > window for r in results)
    path = f", {longer} longer than the window" if longer and window < 30 else ""
    print(f"\n-- {language.value} / window {window} s: {count} utterances{path}")
    print(
        f"  {metric}: mean {mean(results):.1%}  capped mean {mean(results, 1.0):.1%}"
        f"  median {statistics.median(r.rate for r in results):.1%}  pooled {pooled(results):.1%}"
    )
    print(
        f"  zero errors {perfect}/{count} ({perfect / count:.0%})"
        f"   same text as window {base} s: {same}/{count}"
    )
    print(f"  time per call: median {ms(results):.0f} ms, p95 {ms(results, 0.95):.0f} ms")
    print(
        f"  {'audio':<8}{'n':>4}{'mean':>9}{'capped':>9}{'zero err':>10}{'median':>10}{'p95':>10}"
    )
    for name, within in BUCKETS:
        group = [r for r in results if within(r.utterance.seconds)]
        if not group:
            print(f"  {name:<8}{0:>4}")
            continue
        zero = sum(r.errors == 0 for r in group) / len(group)
        print(
            f"  {name:<8}{len(group):>4}{mean(group):>9.1%}{mean(group, 1.0):>9.1%}{zero:>10.0%}"
            f"{ms(group):>7.0f} ms{ms(group, 0.95):>7.0f} ms"
        )


def report_comparison(language: Language, results: dict[int, list[Result]]) -> None:
    """Each window against the first: accuracy change and paired speed-up."""
    metric = METRIC[language]
    base = next(iter(results))
    baseline = results[base]
    print(f"\n== {language.value}: windows compared with {base} s ({metric})")
    print(
        f"  {'window':<8}{'mean':>8}{'capped':>8}{'change':>8}{'median':>8}{'zero err':>10}"
        f"{'worse':>7}{'better':>8}{'median ms':>11}{'p95 ms':>8}{'speed-up':>10}"
    )
    for window, group in results.items():
        pairs = list(zip(group, baseline, strict=True))
        worse = sum(r.errors > b.errors for r, b in pairs)
        better = sum(r.errors < b.errors for r, b in pairs)
        change = (mean(group, 1.0) - mean(baseline, 1.0)) * 100
        zero = sum(r.errors == 0 for r in group) / len(group)
        speedup = statistics.median(b.seconds / r.seconds for r, b in pairs)
        print(
            f"  {f'{window} s':<8}{mean(group):>8.1%}{mean(group, 1.0):>8.1%}{change:>+7.1f}p"
            f"{statistics.median(r.rate for r in group):>8.1%}{zero:>10.0%}{worse:>7}{better:>8}"
            f"{ms(group):>11.0f}{ms(group, 0.95):>8.0f}{speedup:>9.2f}x"
        )
    print("  change: capped mean against the first window, in points. worse/better: utterances")
    print("  with more/fewer errors than with the first window. speed-up: median over utterances")
    print("  of (first window's time / this window's time).")


def report_worst(language: Language, window: int, results: list[Result], count: int) -> None:
    metric = METRIC[language]
    wrong = [r for r in results if r.errors]
    worst = sorted(wrong, key=lambda r: (-r.rate, -r.errors))[:count]
    print(
        f"\n  worst {len(worst)} of {len(wrong)} with errors ({language.value}, window {window} s):"
    )
    for r in worst:
        u = r.utterance
        print(f"    {metric} {r.rate:.0%} ({r.errors}/{r.length}), {u.seconds:.1f} s, {u.voice}")
        print(f"      ref: {u.text}")
        print(f"      hyp: {clip(r.hypothesis, 120)}")


def report_changes(language: Language, results: dict[int, list[Result]]) -> None:
    """Every utterance whose error count differs between the first window and another."""
    metric = METRIC[language]
    base = next(iter(results))
    for window, group in list(results.items())[1:]:
        changed = [
            (r, b) for r, b in zip(group, results[base], strict=True) if r.errors != b.errors
        ]
        noun = "utterance" if len(changed) == 1 else "utterances"
        print(f"\n  {language.value}: {len(changed)} {noun} scored differently at {window} s:")
        for r, b in sorted(changed, key=lambda pair: pair[0].errors - pair[1].errors):
            u = r.utterance
            print(
                f"    {metric} {b.rate:.0%} -> {r.rate:.0%} ({b.errors} -> {r.errors} errors),"
                f" {u.seconds:.1f} s, {u.voice}"
            )
            print(f"      ref:  {u.text}")
            print(f"      {base:>2} s: {clip(b.hypothesis, 110)}")
            print(f"      {window:>2} s: {clip(r.hypothesis, 110)}")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def report_detection(
    window: int,
    detected: list[tuple[Utterance, Language, str, float]],
    others: float | None,
    show: bool,
) -> None:
    print(f"\n== language detection (language=None), window {window} s")
    for language in Language:
        rows = [d for d in detected if d[0].language is language]
        if rows:
            right = sum(chosen is language for _, chosen, _, _ in rows)
            print(f"  {language.value}: {right}/{len(rows)} right ({right / len(rows):.1%})")
    right = sum(chosen is u.language for u, chosen, _, _ in detected)
    print(f"  all: {right}/{len(detected)} right ({right / len(detected):.1%})")
    times = [t * 1000 for *_, t in detected]
    print(
        f"  time per call (detection + transcription): median {statistics.median(times):.0f} ms,"
        f" p95 {percentile(times, 0.95):.0f} ms{busy_note(others)}"
    )
    for u, chosen, text, _ in detected if show else []:
        if chosen is not u.language:
            heard = clip(text, 80)
            print(
                f"    {u.language.value} heard as {chosen.value} ({u.voice}): {u.text} -> {heard}"
            )


def busy_note(others: float | None) -> str:
    if others is None:
        return ""
    trust = "" if others <= 0.05 else ", so these times are not trustworthy"
    return f" (other processes took {others:.0%} of the CPUs{trust})"


class CpuMeter:
    """How much of the machine's CPU time other processes took since the meter was made: the
    busy time in /proc/stat less this process's own. None where there is no /proc/stat."""

    def __init__(self) -> None:
        self._start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
            tick = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return None
        busy = (sum(fields) - fields[3] - fields[4]) / tick  # all but idle and iowait, seconds
        own = os.times().user + os.times().system  # this process, every thread
        return busy, own, time.monotonic()

    def others(self) -> float | None:
        end = self._read()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        busy, own, wall = (b - a for a, b in zip(self._start, end, strict=True))
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))


def load_line(when: str) -> tuple[str, float | None]:
    """The load average, and the share of the CPUs other processes use over the next 2 s."""
    meter = CpuMeter()
    time.sleep(2)
    others = meter.others()
    one, five, fifteen = os.getloadavg()
    now = "" if others is None else f", busy over 2 s: {others:.0%}"
    cpus = os.cpu_count()
    return f"load {when}: average {one:.2f} {five:.2f} {fifteen:.2f} ({cpus} CPUs){now}", others


async def prepare(stt: WhisperSTT, utterances: dict[Language, list[Utterance]]) -> WhisperSTT:
    """Load, and warm up with one utterance per language (untimed)."""
    await stt.load()
    for group in utterances.values():
        await stt.transcribe(group[0].audio, language=group[0].language)
    return stt


async def main(args: argparse.Namespace) -> None:
    windows = ints(args.windows)
    languages = list(Language) if args.language == "all" else [Language(args.language)]
    model_dir = args.models_dir.expanduser() / "whisper-base"
    if not assets.is_installed(assets.WHISPER_BASE, args.models_dir.expanduser()):
        sys.exit(f"No Whisper model in {model_dir}: run `.venv/bin/parley models install`.")
    line, others = load_line("at start")
    print(line)
    if others is not None and others > 0.1:
        print("  warning: something else is using the CPUs; the times below are not trustworthy")

    utterances = {language: await make_utterances(language, args) for language in languages}
    for language, group in utterances.items():
        seconds = [u.seconds for u in group]
        print(
            f"{language.value}: {len(group)} utterances, audio {min(seconds):.1f}-"
            f"{max(seconds):.1f} s (median {statistics.median(seconds):.1f} s, with padding)"
        )

    models: dict[int, WhisperSTT] = {}
    try:
        for window in windows:
            stt = WhisperSTT(model_dir, window_s=window, threads=args.threads)
            models[window] = await prepare(stt, utterances)
        results = {}
        meter = CpuMeter()
        for language, group in utterances.items():
            print(f"transcribing {language.value} ...", file=sys.stderr)
            results[language] = await run_windows(models, group, args.repeat)
        others = meter.others()
        detected = {}
        everything = [u for group in utterances.values() for u in group]
        for window in [] if args.no_detect else ints(args.detect_windows):
            if window not in models:
                stt = WhisperSTT(model_dir, window_s=window, threads=args.threads)
                models[window] = await prepare(stt, utterances)
            print(f"detecting languages, window {window} s ...", file=sys.stderr)
            meter = CpuMeter()
            detected[window] = await run_detection(models[window], everything), meter.others()
    finally:
        for stt in models.values():
            await stt.aclose()

    for language, by_window in results.items():
        voices_used = sorted({u.voice for u in utterances[language]})
        print(f"\n==== {language.value} ({METRIC[language]}), voices: {', '.join(voices_used)}")
        for window, scored in by_window.items():
            report_window(language, window, scored, windows[0], by_window[windows[0]])
            if args.show:
                report_worst(language, window, scored, 10)
        report_comparison(language, by_window)
        if args.changes:
            report_changes(language, by_window)
    for window, (outcomes, busy) in detected.items():
        report_detection(window, outcomes, busy, args.show)
    print(f"\ntranscriptions timed above{busy_note(others)}")
    print(load_line("at end")[0])


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--windows", default="30,15,10", help="encoder windows in seconds; the first is the base"
    )
    parser.add_argument("--language", choices=["en", "ko", "all"], default="all")
    parser.add_argument(
        "--show", action="store_true", help="print the worst 10 per window, and misdetections"
    )
    parser.add_argument(
        "--changes",
        action="store_true",
        help="print every utterance scored differently than with the first window",
    )
    parser.add_argument(
        "--en-scales", default="1.0,1.15", help="Piper length scales (1.15: 15%% slower)"
    )
    parser.add_argument("--ko-rates", default="175,150", help="espeak-ng rates, words per minute")
    parser.add_argument("--pad", type=float, default=0.3, help="silence before and after, s")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences per language")
    parser.add_argument("--repeat", type=int, default=1, help="calls per utterance (median)")
    parser.add_argument("--threads", type=int, default=1, help="threads (0: CTranslate2 default)")
    parser.add_argument("--no-detect", action="store_true", help="skip language detection")
    parser.add_argument(
        "--detect-windows", default="30", help="windows to run language detection with"
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=AISettings().models_dir,
        help="models directory (default: MODELS_DIR)",
    )
    args = parser.parse_args()
    for option in ("windows", "detect_windows"):
        windows = ints(getattr(args, option))
        if (option == "windows" and not windows) or any(not 1 <= w <= 30 for w in windows):
            parser.error(f"--{option.replace('_', '-')}: seconds between 1 and 30, comma-separated")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
