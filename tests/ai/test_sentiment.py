"""LexiconSentiment on utterances that are not in the benchmark set; the benchmark set itself."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from parley.ai.base import Language, SentimentAnalyzer
from parley.ai.sentiment import LexiconSentiment, polarity
from parley.calls.domain import Sentiment

EN = Language.ENGLISH
KO = Language.KOREAN
POS, NEU, NEG = Sentiment.POSITIVE, Sentiment.NEUTRAL, Sentiment.NEGATIVE
DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


async def label(text: str, language: Language) -> Sentiment:
    return (await LexiconSentiment().analyze(text, language=language)).label


async def score(text: str, language: Language) -> float:
    return (await LexiconSentiment().analyze(text, language=language)).score


async def test_is_a_sentiment_analyzer() -> None:
    analyzer: SentimentAnalyzer = LexiconSentiment()
    assert analyzer.name == "lexicon"
    result = await analyzer.analyze("Thanks a million, that was excellent.", language=EN)
    assert result.label is POS
    await analyzer.aclose()


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("The repair was excellent and the engineer was lovely.", EN, POS),
        ("You sorted it in two minutes, I'm so grateful.", EN, POS),
        ("This is awful, the parcel was damaged and the box was soaked.", EN, NEG),
        ("I'm furious, I've been overcharged for the second time.", EN, NEG),
        ("I'd like to know my current balance.", EN, NEU),
        ("What's the postcode for your head office?", EN, NEU),
        ("상담 너무 친절하게 해 주셔서 고맙습니다.", KO, POS),
        ("설치 기사님 덕분에 금방 끝났어요, 정말 만족해요.", KO, POS),
        ("배송이 너무 늦어서 정말 화가 나요.", KO, NEG),
        ("포장이 엉망이라 제품이 다 망가졌어요. 최악이에요.", KO, NEG),
        ("영업시간이 어떻게 되나요?", KO, NEU),
        ("내일 오전에 다시 전화할게요.", KO, NEU),
    ],
)
async def test_clear_examples(text: str, language: Language, expected: Sentiment) -> None:
    assert await label(text, language) is expected


@pytest.mark.parametrize(
    ("plain", "negated", "language"),
    [
        ("The service was good.", "The service was not good.", EN),
        ("The agent was helpful.", "The agent wasn't helpful.", EN),
        ("This is bad.", "This is not bad at all.", EN),
        ("서비스가 좋아요.", "서비스가 안 좋아요.", KO),
        ("상담원이 친절했어요.", "상담원이 친절하지 않았어요.", KO),
        ("화면이 나빠요.", "화면이 나쁘지 않아요.", KO),
        ("문제가 있어요.", "문제가 전혀 없어요.", KO),
    ],
)
async def test_negation_flips_the_polarity(plain: str, negated: str, language: Language) -> None:
    before, after = polarity(plain, language), polarity(negated, language)
    assert before != 0
    assert after * before < 0, (before, after)


async def test_negation_flips_the_label() -> None:
    assert await label("I'm happy with it.", EN) is POS
    assert await label("I'm not happy with it.", EN) is NEG
    assert await label("That's not bad at all.", EN) is POS
    assert await label("좋지 않네요.", KO) is NEG
    assert await label("나쁘지 않네요, 생각보다 괜찮아요.", KO) is POS
    assert await label("해결이 하나도 안 됐어요.", KO) is NEG


@pytest.mark.parametrize(
    ("plain", "intense", "language"),
    [
        ("The installer was friendly.", "The installer was really friendly.", EN),
        ("This is annoying.", "This is extremely annoying.", EN),
        ("기사님이 친절하세요.", "기사님이 정말 친절하세요.", KO),
        ("진짜 짜증나요.", "진짜 너무 짜증나요.", KO),
        ("불편해요.", "완전 불편해요.", KO),
    ],
)
async def test_an_intensifier_raises_the_confidence(
    plain: str, intense: str, language: Language
) -> None:
    assert await label(plain, language) is await label(intense, language)
    assert await label(plain, language) is not NEU
    assert await score(intense, language) > await score(plain, language)


async def test_sarcasm_with_a_complaint_context_is_negative() -> None:
    assert await label("Oh fantastic, the line dropped again.", EN) is NEG
    assert await label("Oh great, so that's sorted. Thank you!", EN) is POS  # no complaint
    assert await label("와 정말 대단하시네요, 또 연결이 끊겼어요.", KO) is NEG
    assert await label("정말 대단하시네요, 하루 만에 다 고쳐 주셨어요.", KO) is POS


async def test_only_a_question_leans_neutral() -> None:
    assert await label("Is the family plan good value?", EN) is NEU
    assert await label("The family plan is good value.", EN) is POS
    assert await label("이 요금제 괜찮을까요?", KO) is NEU
    assert await label("이 요금제 괜찮네요.", KO) is POS


async def test_the_last_clause_decides_a_mixed_utterance() -> None:
    assert await label("The agent was nice, but the product is terrible.", EN) is NEG
    assert await label("It was slow at first, but in the end it was excellent.", EN) is POS
    assert await label("친절하시긴 한데 제품이 최악이에요.", KO) is NEG
    assert await label("처음엔 불편했지만 지금은 아주 만족해요.", KO) is POS


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "...", "?!"])
@pytest.mark.parametrize("language", [EN, KO])
async def test_empty_text_is_neutral(text: str, language: Language) -> None:
    result = await LexiconSentiment().analyze(text, language=language)
    assert result.label is NEU
    assert 0.5 <= result.score <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "terrible " * 200,
        "excellent wonderful amazing " * 100,
        "not not not never no good bad",
        "안 안 못 없 지 않",
        "정말 너무 진짜 완전 최고 " * 50,
        "Oh great. Oh great. Oh great, again.",
        "mixed 한국어 and English 최악 but great",
        "'''n't ,,, ???",
    ],
)
@pytest.mark.parametrize("language", [EN, KO])
async def test_score_is_always_a_confidence(text: str, language: Language) -> None:
    result = await LexiconSentiment().analyze(text, language=language)
    assert 0.0 <= result.score <= 1.0
    if result.label is not NEU:
        assert result.score >= 0.5


def load(language: Language) -> list[dict[str, str]]:
    lines = (DATA / f"sentiment_{language.value}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("language", [EN, KO])
async def test_the_benchmark_set_is_large_balanced_and_varied(language: Language) -> None:
    rows = load(language)
    assert len(rows) >= 90
    assert all(set(row) == {"text", "label", "kind"} and row["text"].strip() for row in rows)
    assert len({row["text"] for row in rows}) == len(rows), "duplicate utterances"
    labels = Counter(Sentiment(row["label"]) for row in rows)
    assert set(labels) == {POS, NEU, NEG}
    assert all(count >= 0.15 * len(rows) for count in labels.values()), labels
    kinds = {row["kind"] for row in rows}
    assert len(kinds) >= 6
    assert "sarcasm" in kinds


async def test_llm_sentiment_reads_clear_cases(tmp_path: Path) -> None:
    from parley.ai.engine import build_engine, install_local_models
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, ai={"sentiment": "llm"})
    await asyncio.to_thread(install_local_models, settings)
    analyzer = build_engine(settings).sentiment
    assert analyzer.name == "llm"
    cases = [
        ("You have been wonderful, thank you for sorting this out!", Sentiment.POSITIVE),
        ("I was charged twice and I am furious about it.", Sentiment.NEGATIVE),
        ("What time do you open on Saturday?", Sentiment.NEUTRAL),
        ("정말 감사합니다, 큰 도움이 됐어요.", Sentiment.POSITIVE),
        ("환불을 세 번이나 요청했는데 아직도 안 됐어요. 너무 화나요.", Sentiment.NEGATIVE),
    ]
    for text, expected in cases:
        result = await analyzer.analyze(text, language=Language.ENGLISH)
        assert result.label is expected, text
        assert 1 / 3 < result.score <= 1
    assert (await analyzer.analyze("   ", language=Language.KOREAN)).label is Sentiment.NEUTRAL
    await analyzer.aclose()
