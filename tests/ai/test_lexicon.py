"""The lexicon data files: slips that TOML accepts but that would make an entry silently useless."""

from __future__ import annotations

import re

from parley.ai import sentiment

EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # one token of the analyzer's English tokenizer
KO_STRIPPED = ".,!?~…\"'()"  # what the Korean pass strips from the ends of every eojeol


def test_weights_stay_in_the_documented_range() -> None:
    tables = [sentiment.EN_WORDS, sentiment.EN_STEMS, sentiment.KO_STEMS]
    assert all(-3.0 <= weight <= 3.0 for table in tables for weight in table.values())
    factors = [
        sentiment.EN_INTENSIFIERS,
        sentiment.EN_POST_INTENSIFIERS,
        sentiment.KO_INTENSIFIERS,
        sentiment.KO_NEGATIVE_POLARITY,
    ]
    assert all(0.0 < factor <= 2.0 for table in factors for factor in table.values())


def test_every_english_entry_is_made_of_tokens_the_tokenizer_yields() -> None:
    keys = [
        *sentiment.EN_WORDS,
        *sentiment.EN_INTENSIFIERS,
        *sentiment.EN_POST_INTENSIFIERS,
        *sentiment.EN_NEGATORS,
        *sentiment.EN_SARCASM_CONTEXT,
        *sentiment.EN_TRANSPARENT,
        *sentiment.EN_PERSISTENCE,
        *sentiment.EN_QUESTION_OPENERS,
        *sentiment.EN_COMPLAINT_OPENERS,
        *sentiment.EN_CONTRAST,
    ]
    unreachable = [key for key in keys if not all(map(EN_WORD.fullmatch, key.split("_")))]
    assert unreachable == []
    assert [stem for stem in sentiment.EN_STEMS if not re.fullmatch(r"[a-z]+", stem)] == []


def test_every_korean_entry_can_match_the_joined_eojeol() -> None:
    def reachable(key: str) -> bool:
        words = key.split(" ")
        return all(word and word.strip(KO_STRIPPED) == word for word in words)

    keys = [*sentiment.KO_STEMS, *sentiment.KO_SARCASM_CONTEXT]
    assert [key for key in keys if not reachable(key)] == []
    words = [
        *sentiment.KO_INTENSIFIERS,
        *sentiment.KO_NEGATIVE_POLARITY,
        *sentiment.KO_CONTRAST_WORDS,
        *sentiment.KO_SHORT_NEGATORS,
        *sentiment.KO_ADVERBS,
        *sentiment.KO_SARCASM_CONTEXT_WORDS,
    ]
    assert [word for word in words if not reachable(word) or " " in word] == []


def test_sarcasm_markers_are_looked_up_like_words() -> None:
    assert sentiment.EN_SARCASM_MARKERS.issubset(sentiment.EN_WORDS)
    assert sentiment.KO_SARCASM_MARKERS.issubset(sentiment.KO_STEMS)
