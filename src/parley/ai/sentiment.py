"""A fast rule-based sentiment analyzer for what callers say, in Korean and English.

Method (VADER-like, one pass, pure Python, tens of microseconds per utterance):

1. Split the utterance into units: words in English (contractions kept, multi-word expressions such
   as "on hold", "fed up", "no problem", "kind of" merged into one token first), eojeol (space
   separated words) in Korean. Korean stems are found by a longest-match scan over the text, so
   "짜증나네요", "짜증이", "짜증났어" all hit the stem "짜증" whatever particle or ending follows,
   and longer entries win over shorter ones ("불친절" over "친절", "좋겠" over "좋").
2. Every lexicon hit carries a weight in about [-3, 3]. Modifiers change it:
   - intensifiers just before it (very, really, so, 너무, 진짜, 정말, 완전, ...) multiply it,
     softeners (a bit, kind of, 좀, 약간, ...) shrink it, "so much"/"at all" after it multiply it;
   - negation flips it: English not/never/no/n't within three words before it (auxiliaries such
     as "has been" not counted); Korean short negation ("안 좋아요", or the noun before it when
     the verb carries nothing: "짜증 안 내시고", "해결이 안 돼요"), long negation ("좋지
     않아요", "친절하지 못한") and "없" after a word ("문제가 전혀 없어요", "불만없어요"). A
     flipped positive counts fully negative ("not good"), a flipped negative only half positive
     ("not bad");
   - a negation that finds nothing to flip counts a little negative: for a caller, "it doesn't
     load", "아직 안 와요" are usually complaints; more so with still/again or 아직/하나도/도저히;
   - when the clauses before and after "but"/"하지만"/"~지만"/"~는데" disagree, the one after
     weighs 1.5 times and the one before half: the last clause decides.
3. Sarcasm cues, only where they are cheap and fairly safe: a marker ("oh great", "just
   wonderful", "great job", "대단하네요", "참 잘하시네요", "~기도 하네요") together with a
   complaint context (on hold, again, third time, 번째, 또, 계속, 아직도, ...) or an otherwise
   negative utterance, or a short praising opener ("Fantastic.", "와 대박,") followed by a
   complaint context, turns every positive hit negative.
4. An utterance that is only a question ("배송 언제 와요?", "Can I change my plan?") has its sum
   halved, so it leans neutral; "why"/"왜" questions are not damped, they are mostly complaints.
5. The sum `s` maps to a label with a neutral band |s| < 1. The score is the confidence in that
   label: 0.5 + 0.5·tanh(|s|/3) for positive/negative (in [0.5, 1)), and for neutral
   0.5 + 0.4·(1 - |s|) (0.9 with no sentiment word at all, falling towards 0.5 at the band's edge).

The vocabulary is data, kept apart from these rules: `lexicon/en.toml` and `lexicon/ko.toml` beside
this module hold the words, stems and weights, negators, intensifiers and sarcasm cues, with a
comment on the role of each table; they are read once, at import, and ship in the package.

Known limits: it reads words, not meaning. Sarcasm without a listed cue ("Sure, take your time,
it's only my money") reads as positive; implicit complaints without a sentiment word ("I was
charged twice", "세 번이나 전화했어요") read as neutral; domain words that are bad only in context
("the bill went up") are missed; negation scope is a fixed window, not a parse; spelling and
spacing errors of speech-to-text can hide a stem; and the weights are hand-set from general
vocabulary, not learned, so the confidence is a heuristic, not a calibrated probability.
Measured (bench/sentiment_accuracy.py): about 88% (en) and 91% (ko) on the bundled set, which was
also used to choose the vocabulary; on a small set written separately and never tuned on it
scored about 78% (en) and 76% (ko). Sarcasm and polite complaints are where it fails most.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from parley.ai.base import Language, Sentiment, SentimentScore

NEUTRAL_BAND = 1.0
NEGATED_POSITIVE = -1.0  # "not good" is as bad as "good" is good
NEGATED_NEGATIVE = -0.5  # "not bad" is only mildly good
UNMATCHED_NEGATION = -0.5  # "it doesn't load": a negation with nothing to flip
KO_UNMATCHED_NEGATION = -0.75  # "아직 안 와요": short negation with nothing to flip
BEFORE_CONTRAST = 0.5
AFTER_CONTRAST = 1.5
QUESTION_DAMPING = 0.5
SARCASM_PENALTY = -1.0
OPENER_MAX_UNITS = 3  # a praising opener is at most this many words or eojeol before a pause
OPENER_MIN_PRAISE = 2.0  # ... and has a clearly positive word ("Fantastic.", not "Quick one,")


@dataclass(slots=True)
class _Hit:
    """One lexicon match: where it starts (word or eojeol index) and what it weighs."""

    unit: int
    weight: float
    key: str = ""
    last: int = -1  # the unit it ends in, for Korean entries that span eojeol ("마음에 안 들")
    factor: float = 1.0
    negated: bool = False

    @property
    def value(self) -> float:
        value = self.weight * self.factor
        if self.negated:
            value *= NEGATED_POSITIVE if value > 0 else NEGATED_NEGATIVE
        return value


@dataclass(slots=True)
class _Reading:
    """What the language-specific pass found; `_total` turns it into one number."""

    hits: list[_Hit]
    contrast: float | None = None  # hits after this unit index weigh more, before it less
    sarcastic: bool = False
    question: bool = False


# ------------------------------------------------------------------------------------- vocabulary


class _Lexicon:
    """One language's vocabulary, read once from `lexicon/<language>.toml`, where people edit it.

    The checks are those TOML does not make, so that an editing slip fails loudly at import:
    weights are numbers, word lists are lists of strings, and the tables merged into one
    (words and sarcasm markers) share no key.
    """

    def __init__(self, language: str) -> None:
        self.source = f"lexicon/{language}.toml"
        resource = resources.files("parley.ai") / "lexicon" / f"{language}.toml"
        self._data = tomllib.loads(resource.read_text(encoding="utf-8"))

    def weights(self, *tables: str) -> dict[str, float]:
        """The entries of `tables` in one dict; a key in two of them is an error."""
        merged: dict[str, float] = {}
        for table in tables:
            for key, weight in self._table(table).items():
                if key in merged:
                    raise ValueError(f"{self.source}: {key!r} of [{table}] is in another table")
                if isinstance(weight, bool) or not isinstance(weight, int | float):
                    raise ValueError(f"{self.source}: {key!r} of [{table}] needs a number")
                merged[key] = float(weight)
        return merged

    def words(self, name: str) -> tuple[str, ...]:
        """The word list `name` of the [roles] table, in file order."""
        words = self._table("roles").get(name)
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise ValueError(f"{self.source}: [roles] {name} must be a list of strings")
        return tuple(words)

    def _table(self, name: str) -> dict[str, Any]:
        table = self._data.get(name)
        if not isinstance(table, dict):
            raise ValueError(f"{self.source}: no [{name}] table")
        return table


# ---------------------------------------------------------------------------------------- English

_EN = _Lexicon("en")
EN_WORDS = _EN.weights("words", "sarcasm_markers")
EN_STEMS = _EN.weights("stems")
EN_STEM_LENGTHS = sorted({len(stem) for stem in EN_STEMS}, reverse=True)
EN_SARCASM_MARKERS = frozenset(_EN.weights("sarcasm_markers"))
EN_SARCASM_CONTEXT = frozenset(_EN.words("sarcasm_context"))
EN_NEGATORS = frozenset(_EN.words("negators"))
EN_INTENSIFIERS = _EN.weights("intensifiers")
EN_POST_INTENSIFIERS = _EN.weights("post_intensifiers")
EN_CONTRAST = frozenset(_EN.words("contrast"))
EN_TRANSPARENT = frozenset(_EN.words("transparent"))
EN_PERSISTENCE = frozenset(_EN.words("persistence"))
EN_QUESTION_OPENERS = frozenset(_EN.words("question_openers"))
EN_COMPLAINT_OPENERS = frozenset(_EN.words("complaint_openers"))
EN_BOUNDARIES = frozenset({",", ".", "!", "?", ";", ":"}) | EN_CONTRAST
_EN_PHRASE_SOURCES = (
    EN_WORDS,
    EN_SARCASM_CONTEXT,
    EN_NEGATORS,
    EN_INTENSIFIERS,
    EN_POST_INTENSIFIERS,
    EN_COMPLAINT_OPENERS,
)
EN_MWES: dict[tuple[str, ...], str] = {
    tuple(key.split("_")): key for source in _EN_PHRASE_SOURCES for key in source if "_" in key
}
EN_MWE_LENGTHS = sorted({len(words) for words in EN_MWES}, reverse=True)
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2

_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,!?;:]")


def _en_tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation, multi-word expressions merged into one token."""
    raw = _EN_TOKEN.findall(text.lower().replace("\u2019", "'"))
    merged: list[str] = []
    i = 0
    while i < len(raw):
        for n in EN_MWE_LENGTHS:
            key = EN_MWES.get(tuple(raw[i : i + n]))
            if key is not None:
                merged.append(key)
                i += n
                break
        else:
            merged.append(_en_plain(raw[i]))
            i += 1
    return merged


def _en_plain(word: str) -> str:
    if word.endswith("n't") or word == "cannot":
        return "not"
    return word.removesuffix("'s")


def _en_weight(token: str) -> float | None:
    weight = EN_WORDS.get(token)
    if weight is not None:
        return weight
    for n in EN_STEM_LENGTHS:
        if len(token) >= n and token[:n] in EN_STEMS:
            return EN_STEMS[token[:n]]
    return None


def _window_before(tokens: list[str], at: int, size: int) -> list[str]:
    """Up to `size` words before `at` (auxiliaries not counted), stopping at a clause boundary."""
    window: list[str] = []
    for j in range(at - 1, -1, -1):
        if tokens[j] in EN_BOUNDARIES or len(window) == size:
            break
        if tokens[j] not in EN_TRANSPARENT:
            window.append(tokens[j])
    return window


def _en_hit(tokens: list[str], at: int, weight: float) -> _Hit:
    hit = _Hit(unit=at, weight=weight, key=tokens[at])
    for word in _window_before(tokens, at, INTENSIFIER_WINDOW):
        hit.factor *= EN_INTENSIFIERS.get(word, 1.0)
    hit.negated = any(w in EN_NEGATORS for w in _window_before(tokens, at, NEGATION_WINDOW))
    for word in tokens[at + 1 : at + 1 + INTENSIFIER_WINDOW]:
        hit.factor *= EN_POST_INTENSIFIERS.get(word, 1.0)
    return hit


def _en_unmatched_negations(tokens: list[str], hits: list[_Hit]) -> list[_Hit]:
    """A negation with no sentiment word in its window: "it doesn't load", "I never got it"."""
    penalties: list[_Hit] = []
    negated = {hit.unit for hit in hits if hit.negated}
    for i, token in enumerate(tokens):
        answer = i + 1 == len(tokens) or tokens[i + 1] in EN_BOUNDARIES  # "No, ...", "it wasn't."
        if token not in EN_NEGATORS or answer:
            continue
        if not any(i in _negators_of(tokens, j) for j in negated):
            persistent = any(t in EN_PERSISTENCE for t in tokens[max(i - 2, 0) : i + 5])
            weight = UNMATCHED_NEGATION * (2.0 if persistent else 1.0)
            penalties.append(_Hit(unit=i, weight=weight, key=token))
    return penalties


def _negators_of(tokens: list[str], at: int) -> set[int]:
    """Indices of the negators whose window reaches the word at `at`."""
    found: set[int] = set()
    counted = 0
    for j in range(at - 1, -1, -1):
        if tokens[j] in EN_BOUNDARIES or counted == NEGATION_WINDOW:
            break
        if tokens[j] in EN_NEGATORS:
            found.add(j)
        if tokens[j] not in EN_TRANSPARENT:
            counted += 1
    return found


def _en_question(text: str, tokens: list[str]) -> bool:
    words = [t for t in tokens if t not in EN_BOUNDARIES]
    if not words or any(t in EN_COMPLAINT_OPENERS for t in words):
        return False
    return _only_questions(text) or (
        not re.search(r"[.!?]", text) and words[0] in EN_QUESTION_OPENERS
    )


def _en_reading(text: str) -> _Reading:
    tokens = _en_tokens(text)
    hits: list[_Hit] = []
    for i, token in enumerate(tokens):
        weight = _en_weight(token)
        if weight is not None and weight != 0.0:
            hits.append(_en_hit(tokens, i, weight))
    hits += _en_unmatched_negations(tokens, hits)
    contrasts = [i for i, t in enumerate(tokens) if t in EN_CONTRAST and i > 0]
    ends = [i for i, t in enumerate(tokens) if t in EN_BOUNDARIES and t not in EN_CONTRAST]
    return _Reading(
        hits=hits,
        contrast=float(contrasts[-1]) if contrasts else None,
        sarcastic=_sarcastic(
            hits,
            markers=EN_SARCASM_MARKERS,
            opener_end=ends[0] if ends and ends[0] < len(tokens) - 1 else None,
            has_context=any(t in EN_SARCASM_CONTEXT for t in tokens),
        ),
        question=_en_question(text, tokens),
    )


# ----------------------------------------------------------------------------------------- Korean

_KO = _Lexicon("ko")
KO_STEMS = _KO.weights("stems", "sarcasm_markers")
KO_MAX_KEY = max(len(key) for key in KO_STEMS)
KO_SARCASM_MARKERS = frozenset(_KO.weights("sarcasm_markers"))
KO_SARCASM_CONTEXT = _KO.words("sarcasm_context")  # found anywhere in the text
KO_SARCASM_CONTEXT_WORDS = frozenset(_KO.words("sarcasm_context_words"))  # whole eojeol only
KO_INTENSIFIERS = _KO.weights("intensifiers")
KO_NEGATIVE_POLARITY = _KO.weights("negative_polarity")
KO_CONTRAST_WORDS = frozenset(_KO.words("contrast_words"))
KO_SHORT_NEGATORS = frozenset(_KO.words("short_negators"))
KO_ADVERBS = frozenset(_KO.words("adverbs"))
KO_LIGHT_VERBS = _KO.words("light_verbs")
KO_QUESTION_ENDINGS = _KO.words("question_endings")
HANGUL_BASE = 0xAC00
JONGSEONG_N = 4  # ㄴ as a final consonant: 한, 은, 운, 쁜 ...
_KO_PUNCTUATION = ".,!?~…\"'()"
_KO_LONG_NEGATION = re.compile(r"지(?:는|도)?(?:않|못하|못해|못했|못합|못한)")


@dataclass(frozen=True, slots=True)
class _Eojeol:
    text: str  # punctuation stripped
    ends_clause: bool


def _ko_units(text: str) -> list[_Eojeol]:
    units: list[_Eojeol] = []
    for raw in text.split():
        word = raw.strip(_KO_PUNCTUATION)
        if word:
            units.append(_Eojeol(word, raw[-1] in _KO_PUNCTUATION or word in KO_CONTRAST_WORDS))
    return units


def _ko_scan(units: list[_Eojeol]) -> list[_Hit]:
    """Longest-match scan for lexicon stems over the eojeol joined by single spaces."""
    line = " ".join(u.text for u in units)
    owner = [i for i, u in enumerate(units) for _ in range(len(u.text) + 1)]
    hits: list[_Hit] = []
    at = 0
    while at < len(line):
        for n in range(min(KO_MAX_KEY, len(line) - at), 0, -1):
            key = line[at : at + n]
            if key in KO_STEMS and not key.startswith(" "):
                hit = _Hit(unit=owner[at], weight=KO_STEMS[key], key=key, last=owner[at + n - 1])
                hits.append(hit)
                at += n
                break
        else:
            at += 1
    return hits


def _ko_intensify(units: list[_Eojeol], hits: list[_Hit]) -> None:
    for hit in hits:
        for j in range(hit.unit - 1, max(hit.unit - INTENSIFIER_WINDOW, 0) - 1, -1):
            if units[j].ends_clause:
                break
            hit.factor *= KO_INTENSIFIERS.get(units[j].text, 1.0)


def _negate(hits: list[_Hit], unit: int, skip: frozenset[str] = frozenset()) -> bool:
    """Negate the sentiment hits in `unit` (but not those in `skip`); whether there were any."""
    found = False
    for hit in hits:
        if hit.unit == unit and hit.weight != 0.0 and hit.key not in skip:
            hit.negated = True
            found = True
    return found


def _ko_short_negation(units: list[_Eojeol], hits: list[_Hit]) -> list[_Hit]:
    """안/못 before a predicate: "안 좋아요", "해결이 안 돼요", "짜증 안 내시고", "못 받았어요".

    The predicate's sentiment is flipped; if it has none, the word before it (its object or
    subject: "짜증 안 내시고", "해결이 안 돼요") is flipped; if neither has any, the negation
    itself counts a little negative, more so after 아직/하나도/전혀/도저히 ("하나도 안 고쳐졌어요").
    """
    penalties: list[_Hit] = []
    for j, unit in enumerate(units[:-1]):
        if unit.text not in KO_SHORT_NEGATORS or unit.ends_clause:
            continue
        if any(hit.unit < j <= hit.last for hit in hits):
            continue  # an entry already spells the negation out: "마음에 안 들어요"
        own = any(hit.unit == j and hit.weight != 0.0 for hit in hits)  # "안 돼요"
        found = _negate(hits, j + 1)
        light = units[j + 1].text.startswith(KO_LIGHT_VERBS)
        argument = _ko_argument(units, j)
        if (light or not found) and argument is not None:
            found = _negate(hits, argument, skip=KO_ADVERBS) and not light
        if not found and not own:
            weight = KO_UNMATCHED_NEGATION * _ko_polarity_factor(units, j)
            penalties.append(_Hit(unit=j, weight=weight, key=unit.text))
    return penalties


def _ko_polarity_factor(units: list[_Eojeol], at: int) -> float:
    """The strongest negative-polarity word earlier in the clause of eojeol `at`."""
    factor = 1.0
    for j in range(at - 1, -1, -1):
        if units[j].ends_clause:
            break
        factor = max(factor, KO_NEGATIVE_POLARITY.get(units[j].text, 1.0))
    return factor


def _ko_long_negation(units: list[_Eojeol], hits: list[_Hit]) -> None:
    """~지 않다 / ~지 못하다: "좋지 않아요", "친절하지 못했어요", "나쁘지않네요"."""
    for j, unit in enumerate(units):
        split = (
            j + 1 < len(units)
            and unit.text.endswith(("지", "지는", "지도", "진"))
            and not unit.text.endswith("까지")
            and _KO_LONG_NEGATION.match("지" + units[j + 1].text) is not None
        )
        if split or _KO_LONG_NEGATION.search(unit.text):
            _negate(hits, j)
            if j > 0 and not units[j - 1].ends_clause:
                _negate(hits, j - 1)


def _ko_existential_negation(units: list[_Eojeol], hits: list[_Hit]) -> None:
    """없 after a word negates it: "문제 없어요", "불만없습니다" (no problem, no complaint)."""
    for i, hit in enumerate(hits):
        if hit.key != "없":
            continue
        for other in hits[:i]:
            if other.unit == hit.unit:  # "불만없어요"
                other.negated = True
        argument = _ko_argument(units, hit.unit)
        if argument is not None:
            _negate(hits, argument)


def _ko_argument(units: list[_Eojeol], at: int) -> int | None:
    """The eojeol before `at` that a negation there is about, adverbs skipped: in "문제가 전혀
    없어요" and "해결이 하나도 안 돼요" it is the noun; None at the start of a clause."""
    for j in range(at - 1, -1, -1):
        if units[j].ends_clause:
            return None
        if units[j].text not in KO_INTENSIFIERS and units[j].text not in KO_NEGATIVE_POLARITY:
            return j
    return None


def _ko_contrast(units: list[_Eojeol]) -> float | None:
    contrast: float | None = None
    for j, unit in enumerate(units):
        if unit.text in KO_CONTRAST_WORDS:
            contrast = float(j)
        elif _ko_contrastive_ending(unit.text) and j + 1 < len(units):
            contrast = j + 0.5
    return contrast


def _ko_contrastive_ending(word: str) -> bool:
    """~지만 or ~ㄴ데/는데/던데 ("예쁜데", "감사한데", "했는데"): the main point follows."""
    word = word.removesuffix("요")
    if word.endswith("지만"):
        return True
    if len(word) < 2 or not word.endswith("데"):
        return False
    before = ord(word[-2]) - HANGUL_BASE
    return 0 <= before < 11172 and (before % 28 == JONGSEONG_N or word[-2] == "던")


def _ko_question(text: str, units: list[_Eojeol]) -> bool:
    if not units or any(u.text.startswith("왜") or u.text == "도대체" for u in units):
        return False
    return _only_questions(text) or (
        not re.search(r"[.!?]", text) and units[-1].text.endswith(KO_QUESTION_ENDINGS)
    )


def _ko_complaint_context(units: list[_Eojeol]) -> bool:
    """A complaint context for sarcasm: a cue anywhere in the text ("세 번째"), or a cue eojeol."""
    line = " ".join(u.text for u in units)
    return any(cue in line for cue in KO_SARCASM_CONTEXT) or any(
        u.text in KO_SARCASM_CONTEXT_WORDS for u in units
    )


def _ko_reading(text: str) -> _Reading:
    units = _ko_units(text)
    hits = _ko_scan(units)
    _ko_intensify(units, hits)
    _ko_long_negation(units, hits)
    _ko_existential_negation(units, hits)
    hits += _ko_short_negation(units, hits)
    ends = [j + 1 for j, unit in enumerate(units[:-1]) if unit.ends_clause]
    return _Reading(
        hits=hits,
        contrast=_ko_contrast(units),
        sarcastic=_sarcastic(
            hits,
            markers=KO_SARCASM_MARKERS,
            opener_end=ends[0] if ends else None,
            has_context=_ko_complaint_context(units),
        ),
        question=_ko_question(text, units),
    )


# ----------------------------------------------------------------------------------------- common


def _only_questions(text: str) -> bool:
    """Every sentence ends with a question mark."""
    ends = re.findall(r"[.!?]+", text.strip())
    return bool(ends) and all(end.startswith("?") for end in ends) and text.rstrip()[-1] == "?"


def _sarcastic(
    hits: list[_Hit], *, markers: frozenset[str], opener_end: int | None, has_context: bool
) -> bool:
    """A sarcasm marker with a complaint context or an otherwise negative utterance; or a
    short praising opener ("Fantastic.", "와 대박,") followed by a complaint context."""
    if any(hit.key in markers for hit in hits):
        rest = sum(hit.value for hit in hits if hit.key not in markers)
        return has_context or rest < 0
    if opener_end is None or opener_end > OPENER_MAX_UNITS or not has_context:
        return False
    return any(hit.unit < opener_end and hit.value >= OPENER_MIN_PRAISE for hit in hits)


def _total(reading: _Reading) -> float:
    before = after = 0.0
    for hit in reading.hits:
        value = -abs(hit.value) if reading.sarcastic else hit.value
        if reading.contrast is not None and hit.unit > reading.contrast:
            after += value
        else:
            before += value
    if before * after < 0:  # "A but B" with A and B of opposite feeling: B decides
        total = BEFORE_CONTRAST * before + AFTER_CONTRAST * after
    else:
        total = before + after
    if reading.sarcastic:
        total += SARCASM_PENALTY
    return total * QUESTION_DAMPING if reading.question else total


def to_score(total: float) -> SentimentScore:
    """The label for a summed score, and the confidence in it."""
    magnitude = abs(total)
    if magnitude < NEUTRAL_BAND:
        return SentimentScore(Sentiment.NEUTRAL, 0.5 + 0.4 * (1.0 - magnitude / NEUTRAL_BAND))
    label = Sentiment.POSITIVE if total > 0 else Sentiment.NEGATIVE
    return SentimentScore(label, min(1.0, 0.5 + 0.5 * math.tanh(magnitude / 3.0)))


def polarity(text: str, language: Language) -> float:
    """The signed sum for `text`: > 0 positive, < 0 negative, near 0 neutral."""
    if not text.strip():
        return 0.0
    reading = _ko_reading(text) if language is Language.KOREAN else _en_reading(text)
    return _total(reading)


class LexiconSentiment:
    """Word lists, negation, intensifiers and a few sarcasm cues; no model, microseconds a call."""

    name = "lexicon"

    async def analyze(self, text: str, *, language: Language) -> SentimentScore:
        return to_score(polarity(text, language))

    async def aclose(self) -> None:
        return None
