"""How well each sentiment analyzer labels what callers say: accuracy, macro-F1, speed.

    .venv/bin/python bench/sentiment_accuracy.py
    .venv/bin/python bench/sentiment_accuracy.py --analyzers lexicon --language ko --show-errors

Reads bench/data/sentiment_{en,ko}.jsonl (one {"text", "label", "kind"} per line) and prints, per
analyzer and language: accuracy, macro-F1, the confusion matrix (rows: truth, columns: predicted),
accuracy per kind, median and p95 time per call, and with --show-errors the misclassified lines.
It asserts nothing. To add an analyzer, add one entry to ANALYZERS: a name and a zero-argument
factory returning something with the `SentimentAnalyzer` protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parley.ai.base import Language, Sentiment, SentimentAnalyzer, SentimentScore
from parley.ai.sentiment import LexiconSentiment

DATA = Path(__file__).parent / "data"
LABELS = [Sentiment.POSITIVE, Sentiment.NEUTRAL, Sentiment.NEGATIVE]


def _llm() -> SentimentAnalyzer:
    from parley.ai import assets
    from parley.ai.local.llm_sentiment import LlmSentiment
    from parley.config import load_settings

    models = load_settings(None).ai.models_path
    return LlmSentiment(assets.install(assets.QWEN_05B, models))


ANALYZERS: dict[str, Callable[[], SentimentAnalyzer]] = {
    "lexicon": LexiconSentiment,
    "llm": _llm,
}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: Sentiment
    kind: str


@dataclass(frozen=True, slots=True)
class Outcome:
    example: Example
    predicted: SentimentScore
    seconds: float

    @property
    def correct(self) -> bool:
        return self.predicted.label == self.example.label


def load(language: Language) -> list[Example]:
    path = DATA / f"sentiment_{language.value}.jsonl"
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(Example(row["text"], Sentiment(row["label"]), row["kind"]))
    return examples


async def run(
    analyzer: SentimentAnalyzer, examples: list[Example], language: Language, repeat: int
) -> tuple[list[Outcome], list[float]]:
    """One outcome per example, and the time of every call (each example `repeat` times)."""
    outcomes: list[Outcome] = []
    times: list[float] = []
    for example in examples:
        for _ in range(repeat):
            start = time.perf_counter()
            predicted = await analyzer.analyze(example.text, language=language)
            times.append(time.perf_counter() - start)
        outcomes.append(Outcome(example, predicted, times[-1]))
    return outcomes, times


def macro_f1(outcomes: list[Outcome]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(o.correct and o.example.label == label for o in outcomes)
        predicted = sum(o.predicted.label == label for o in outcomes)
        actual = sum(o.example.label == label for o in outcomes)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        total = precision + recall
        scores.append(2 * precision * recall / total if total else 0.0)
    return sum(scores) / len(scores)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_confusion(outcomes: list[Outcome]) -> None:
    counts = Counter((o.example.label, o.predicted.label) for o in outcomes)
    print(f"  {'truth / predicted':<18}" + "".join(f"{label.value:>10}" for label in LABELS))
    for truth in LABELS:
        row = "".join(f"{counts[truth, predicted]:>10}" for predicted in LABELS)
        print(f"  {truth.value:<18}{row}")


def print_kinds(outcomes: list[Outcome]) -> None:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.example.kind].append(outcome)
    print("  accuracy per kind:")
    for kind, group in sorted(by_kind.items(), key=lambda item: item[0]):
        right = sum(o.correct for o in group)
        print(f"    {kind:<18}{right:>4}/{len(group):<4}{right / len(group):>7.0%}")


def print_errors(outcomes: list[Outcome]) -> None:
    errors = [o for o in outcomes if not o.correct]
    print(f"  misclassified ({len(errors)}):")
    for o in errors:
        got = f"{o.predicted.label.value} {o.predicted.score:.2f}"
        print(f"    [{o.example.kind}] {o.example.label.value} -> {got}: {o.example.text}")


def report(name: str, language: Language, outcomes: list[Outcome], times: list[float]) -> None:
    accuracy = sum(o.correct for o in outcomes) / len(outcomes)
    ms = [t * 1000 for t in times]
    print(f"\n== {name} / {language.value}: {len(outcomes)} utterances")
    print(f"  accuracy {accuracy:.1%}   macro-F1 {macro_f1(outcomes):.3f}")
    print(
        f"  time per call: median {statistics.median(ms):.4f} ms, p95 {percentile(ms, 0.95):.4f} ms"
    )
    print_confusion(outcomes)
    print_kinds(outcomes)


async def main(args: argparse.Namespace) -> None:
    languages = list(Language) if args.language == "all" else [Language(args.language)]
    datasets = {language: load(language) for language in languages}
    for name in args.analyzers.split(","):
        analyzer = ANALYZERS[name.strip()]()
        try:
            for language, examples in datasets.items():
                outcomes, times = await run(analyzer, examples, language, args.repeat)
                report(name, language, outcomes, times)
                if args.show_errors:
                    print_errors(outcomes)
        finally:
            await analyzer.aclose()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--analyzers", default="lexicon", help=f"comma-separated, of: {', '.join(ANALYZERS)}"
    )
    parser.add_argument("--language", choices=["en", "ko", "all"], default="all")
    parser.add_argument("--show-errors", action="store_true", help="list misclassified lines")
    parser.add_argument(
        "--repeat", type=int, default=1, help="calls per utterance, for steadier timings"
    )
    args = parser.parse_args()
    unknown = [n for n in args.analyzers.split(",") if n.strip() not in ANALYZERS]
    if unknown:
        parser.error(f"unknown analyzer(s): {', '.join(unknown)}; known: {', '.join(ANALYZERS)}")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
