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
from dataclasses import dataclass

from parley.ai.base import Language, SentimentScore
from parley.calls.domain import Sentiment

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


# ---------------------------------------------------------------------------------------- English

EN_WORDS: dict[str, float] = {
    # positive
    "good": 1.5, "nice": 1.5, "great": 2.5, "fine": 0.5, "okay": 0.3, "ok": 0.3, "cool": 1.0,
    "excellent": 3.0, "amazing": 3.0, "awesome": 3.0, "fantastic": 3.0, "wonderful": 3.0,
    "outstanding": 3.0, "perfect": 2.5, "perfectly": 1.5, "brilliant": 3.0, "superb": 3.0,
    "terrific": 3.0, "fabulous": 3.0, "lovely": 2.5, "beautiful": 2.0, "impressive": 2.5,
    "impressed": 2.5, "love": 2.5, "loved": 2.5, "loves": 2.5, "best": 2.5, "better": 1.0,
    "thanks": 2.0, "thank": 2.0, "thankful": 2.5, "grateful": 2.5, "cheers": 1.0,
    "happy": 2.0, "glad": 2.0, "pleased": 2.0, "delighted": 3.0, "thrilled": 3.0,
    "satisfied": 2.0, "relieved": 2.0, "relief": 1.5, "helpful": 2.0, "helped": 1.0,
    "kind": 1.5, "friendly": 1.5, "polite": 1.5, "patient": 1.0, "professional": 1.5,
    "quick": 1.0, "fast": 1.0, "quickly": 0.5, "easy": 1.0, "easier": 1.0,
    "efficient": 1.5, "reliable": 1.5, "resolved": 1.5, "solved": 1.5,
    "fixed": 1.5, "sorted": 1.0, "works": 0.5, "worked": 0.5, "working": 0.5,
    "recommend": 1.5, "pleasure": 2.0, "enjoy": 1.5, "enjoyed": 1.5, "welcome": 1.0,
    "lucky": 1.5, "fortunately": 1.0, "improved": 1.5, "success": 2.0, "successful": 2.0,
    "worth": 1.0, "lifesaver": 3.0, "hero": 2.0, "legend": 2.0, "bless": 2.0, "yay": 2.0,
    "superstar": 2.5, "sweet": 1.0, "glorious": 2.5, "right": 0.0, "sure": 0.0,
    # negative
    "bad": -2.0, "worse": -2.0, "worst": -3.0, "poor": -1.5, "terrible": -3.0,
    "horrible": -3.0, "awful": -3.0, "hate": -3.0, "hated": -3.0, "disgusting": -3.0,
    "ridiculous": -2.5, "unacceptable": -3.0, "pathetic": -3.0, "useless": -2.5,
    "unhelpful": -2.5, "incompetent": -3.0, "rude": -2.5, "angry": -2.5, "furious": -3.0,
    "mad": -2.0, "upset": -2.0, "unhappy": -2.0, "sad": -1.5, "worried": -1.5,
    "concerned": -1.0, "confused": -1.0, "confusing": -1.5, "wrong": -1.5, "broken": -2.0,
    "broke": -1.5, "damaged": -2.0, "defective": -2.0, "faulty": -2.0, "problem": -1.0,
    "problems": -1.0, "issue": -0.5, "issues": -0.5, "error": -1.0, "errors": -1.0,
    "fail": -1.5, "failed": -1.5, "fails": -1.5, "failure": -1.5, "late": -1.0,
    "delayed": -1.5, "delay": -1.0, "slow": -1.5, "forever": -1.5, "ages": -0.5,
    "waited": -1.0, "overcharged": -2.5, "scam": -3.0, "lied": -2.5, "liar": -3.0,
    "lie": -1.5, "complaint": -1.5, "complain": -1.5, "mess": -2.0, "messed": -2.0,
    "screwed": -2.5, "nightmare": -3.0, "joke": -1.5, "waste": -2.0, "wasted": -2.0,
    "ignored": -2.0, "disconnected": -1.5, "stuck": -1.5, "missing": -1.5, "lost": -1.5,
    "impossible": -1.5, "difficult": -1.0, "hassle": -1.5, "pain": -1.5, "shame": -1.5,
    "unfortunately": -1.0, "urgent": -0.5, "emergency": -1.0, "seriously": -1.0,
    "unbelievable": -2.0, "insane": -2.0, "crazy": -1.5, "damn": -2.0, "hell": -2.0,
    "crap": -2.5, "stupid": -2.5, "dumb": -2.0, "garbage": -3.0, "trash": -2.5,
    "sucks": -2.5, "suck": -2.0, "kidding": -1.5, "expensive": -1.0, "overpriced": -2.0,
    "stopped": -1.0, "cancelled": -0.5, "ugh": -1.5, "sick": -1.5, "tired": -1.0,
    "stressed": -2.0, "stressful": -2.0, "scared": -1.5, "afraid": -1.0, "disaster": -3.0,
    "outrageous": -3.0, "shocking": -2.0, "embarrassing": -2.0, "fraud": -3.0, "long": -0.5,
    "acceptable": 1.0, "valued": 1.5, "patience": 1.0, "fault": -1.0, "mistake": -1.5,
    "mistakes": -1.5, "mistaken": -1.0, "lose": -1.5, "waiting": -0.5, "stolen": -2.0,
    "hacked": -2.0, "dented": -1.5, "scratched": -1.0, "anxious": -1.5, "livid": -3.0,
    "fuming": -2.5, "unreasonable": -2.0,
    # multi-word expressions (merged into one token before lookup)
    "no_problem": 1.0, "not_a_problem": 1.0, "no_problems": 1.0, "no_worries": 1.0,
    "no_complaints": 1.5, "no_issues": 1.0, "spot_on": 2.0, "i'd_appreciate": 0.0,
    "would_appreciate": 0.0,
    "all_good": 1.0, "all_right": 0.5, "alright": 0.5, "well_done": 2.0,
    "made_my_day": 3.0, "above_and_beyond": 2.5, "so_far_so_good": 1.5, "thanks_again": 2.0,
    "good_morning": 0.0, "good_afternoon": 0.0, "good_evening": 0.0, "good_night": 0.0,
    "good_day": 0.0, "no_rush": 0.0, "no_hurry": 0.0, "kind_of": 0.0, "not_sure": 0.0,
    "on_hold": -1.0, "fed_up": -2.5, "rip_off": -2.5, "ripped_off": -2.5, "hung_up": -1.5,
    "let_down": -2.0, "waste_of_time": -2.5, "could_be_better": -1.5, "cut_off": -1.0,
    "went_wrong": -1.5, "give_up": -1.5, "gave_up": -1.5, "sick_of": -2.5, "tired_of": -2.0,
    "had_enough": -2.5, "never_again": -2.0, "run_around": -2.0, "runaround": -2.0,
    "thanks_for_nothing": -3.0, "yeah_right": -2.0, "fat_chance": -2.0,
    # sarcasm markers: literal weight; flipped when the context is a complaint
    "oh_great": 2.0, "oh_wonderful": 2.0, "oh_perfect": 2.0, "oh_fantastic": 2.0,
    "oh_brilliant": 2.0, "oh_lovely": 2.0, "oh_nice": 1.5, "oh_good": 1.5, "oh_joy": 1.5,
    "just_great": 2.0, "just_wonderful": 2.0, "just_perfect": 2.0, "just_fantastic": 2.0,
    "just_lovely": 2.0, "just_brilliant": 2.0, "just_amazing": 2.0,
    "just_what_i_needed": 2.0, "what_a_surprise": 0.0, "big_surprise": 0.0,
    "how_nice": 1.5, "how_lovely": 1.5, "how_wonderful": 2.0, "love_how": 1.5,
    "just_love": 2.0, "great_job": 2.0, "nice_job": 2.0, "nice_one": 1.5, "way_to_go": 1.5,
    "nice_going": 1.5,
}  # fmt: skip

EN_STEMS: dict[str, float] = {
    "frustrat": -2.5, "disappoint": -2.5, "annoy": -2.0, "irritat": -2.0, "horribl": -3.0,
    "terribl": -3.0, "incompeten": -3.0, "unacceptab": -3.0, "apprecia": 2.0,
    "excellen": 3.0, "fantastic": 3.0, "wonderful": 3.0, "amazing": 3.0, "helpful": 2.0,
    "ridiculous": -2.5, "pathetic": -3.0, "disgust": -3.0, "infuriat": -3.0, "outrage": -3.0,
    "unprofession": -2.5, "inconvenien": -1.5, "complain": -1.5, "apologi": 0.0,
    "smooth": 1.0, "crash": -1.5, "glitch": -1.5, "freez": -1.0, "leak": -1.5, "crack": -1.5,
    "shatter": -2.0, "panic": -2.0, "devastat": -2.5,
}  # fmt: skip
EN_STEM_LENGTHS = sorted({len(stem) for stem in EN_STEMS}, reverse=True)

EN_SARCASM_MARKERS = frozenset({
    "oh_great", "oh_wonderful", "oh_perfect", "oh_fantastic", "oh_brilliant", "oh_lovely",
    "oh_nice", "oh_good", "oh_joy", "just_great", "just_wonderful", "just_perfect",
    "just_fantastic", "just_lovely", "just_brilliant", "just_amazing", "just_what_i_needed",
    "what_a_surprise", "big_surprise", "how_nice", "how_lovely", "how_wonderful", "love_how",
    "just_love", "great_job", "nice_job", "nice_one", "way_to_go", "nice_going",
})  # fmt: skip
EN_SARCASM_CONTEXT = frozenset({
    "on_hold", "hold", "again", "another", "third", "fourth", "fifth", "still", "waiting",
    "waited", "hour", "hours", "minutes", "transferred", "disconnected", "hung_up",
    "twice", "nobody", "no_one", "forever", "broken", "late", "never", "charged",
})  # fmt: skip

EN_NEGATORS = frozenset({
    "not", "no", "never", "nothing", "nobody", "no_one", "none", "neither", "nor", "without",
    "hardly", "cannot", "dont", "doesnt", "didnt", "cant", "wont", "isnt", "wasnt", "arent",
    "werent", "havent", "hasnt", "hadnt", "couldnt", "wouldnt", "shouldnt", "aint",
})  # fmt: skip
EN_INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "really": 1.5, "so": 1.5, "extremely": 1.8, "super": 1.5, "totally": 1.5,
    "absolutely": 1.6, "incredibly": 1.6, "completely": 1.5, "truly": 1.4, "too": 1.4,
    "such": 1.3, "way": 1.3, "pretty": 1.2, "quite": 1.2, "most": 1.3, "utterly": 1.7,
    "deeply": 1.5, "highly": 1.4, "genuinely": 1.4, "especially": 1.3, "real": 1.3,
    "kind_of": 0.6, "sort_of": 0.6, "kinda": 0.6, "sorta": 0.6, "a_bit": 0.6,
    "a_little": 0.6, "slightly": 0.6, "somewhat": 0.7, "fairly": 0.8, "little": 0.7,
}  # fmt: skip
EN_POST_INTENSIFIERS: dict[str, float] = {
    "so_much": 1.5,
    "very_much": 1.5,
    "a_lot": 1.3,
    "at_all": 1.4,
    "a_ton": 1.4,
}
EN_CONTRAST = frozenset({"but", "however", "although", "though"})
# Words that do not use up the negation window: "nothing has actually been fixed".
EN_TRANSPARENT = frozenset({
    "be", "been", "being", "is", "was", "are", "were", "am", "have", "has", "had", "do",
    "does", "did", "a", "an", "the", "actually", "even", "ever", "get", "got",
})  # fmt: skip
# Around an unmatched negation they mark a complaint: "still hasn't arrived", "not working again".
EN_PERSISTENCE = frozenset({"still", "yet", "again", "anymore", "ever"})
EN_QUESTION_OPENERS = frozenset({
    "what", "when", "where", "which", "who", "whom", "whose", "how", "can", "could", "would",
    "will", "do", "does", "did", "is", "are", "was", "were", "should", "may", "have", "has",
})  # fmt: skip
EN_COMPLAINT_OPENERS = frozenset({"why", "how_come"})
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

KO_STEMS: dict[str, float] = {
    # positive
    "감사": 2.0, "고맙": 2.0, "고마": 2.0, "땡큐": 2.0, "좋": 1.5, "좋을": 0.5, "좋겠": 0.0,
    "괜찮": 1.0, "친절": 2.0, "상냥": 2.0, "최고": 2.5, "만족": 2.0, "훌륭": 2.5,
    "대단": 1.5, "멋지": 2.0, "멋져": 2.0, "멋진": 2.0, "멋있": 2.0, "행복": 2.0,
    "기쁘": 2.0, "기뻐": 2.0, "기쁜": 2.0, "기뻤": 2.0, "기쁩": 2.0, "다행": 2.0,
    "덕분": 1.5, "해결": 0.5, "해결됐": 2.0, "해결 됐": 2.0, "해결되었": 2.0,
    "해결 되었": 2.0, "해결이 됐": 2.0, "해결이 되었": 2.0, "해결했": 1.5,
    "해결해 주셔서": 2.0, "해결해주셔서": 2.0, "감동": 2.5, "대박": 2.0, "짱": 2.0,
    "완벽": 2.5, "편하": 1.5, "편해": 1.5, "편했": 1.5, "편한": 1.5, "편리": 1.5,
    "편안": 1.5, "빠르": 1.0, "빨라": 1.0, "빠른": 1.0, "빨랐": 1.0, "빠릅": 1.0,
    "신속": 1.5, "깔끔": 1.5, "꼼꼼": 1.5, "정확": 1.0, "마음에 들": 2.0, "맘에 들": 2.0,
    "마음에 드": 2.0, "맘에 드": 2.0, "추천": 1.0, "칭찬": 2.0, "수고": 1.0,
    "고생하셨": 1.5, "고생 많으셨": 1.5, "사랑": 2.0, "반갑": 1.5, "반가": 1.5,
    "즐겁": 2.0, "즐거": 2.0, "재밌": 1.5, "재미있": 1.5, "든든": 1.5, "안심": 1.5,
    "믿": 1.0, "도움": 1.5, "도움이 필요": 0.0, "도움 필요": 0.0, "도와주": 0.0,
    "도와주셔서": 2.0, "도와줘서": 2.0, "도와주셨": 2.0, "잘": 0.5, "잘 모르": 0.0,
    "잘 됐": 1.5, "잘됐": 1.5, "잘 되었": 1.5, "잘되었": 1.5, "잘 받았": 1.5,
    "기대돼": 1.5, "기대되": 1.5, "설레": 1.5, "굿": 1.5, "나이스": 1.5, "성공": 1.5,
    "축하": 2.0, "살았": 1.5, "오케이": 0.3, "센스": 1.0, "유용": 1.5, "쉽": 1.0, "쉬웠": 1.0,
    "쉬워": 1.0, "쉬운": 1.0, "쉬울": 1.0, "예쁘": 1.5, "예뻐": 1.5, "예쁜": 1.5, "예뻤": 1.5,
    "빨리 왔": 1.0, "빨리 됐": 1.0, "빨리 처리": 1.0, "빨리 해결": 1.0, "명확": 1.0,
    "흠잡을 데가 없": 2.5, "흠잡을 데 없": 2.5, "나무랄 데가 없": 2.5, "나무랄 데 없": 2.5,
    "감격": 2.5, "뿌듯": 1.5,
    # negative
    "짜증": -2.5, "화나": -2.0, "화났": -2.0, "화가": -2.0, "화난": -2.0, "화내": -2.0,
    "열받": -2.5, "열 받": -2.5, "빡치": -3.0, "빡쳐": -3.0, "빡친": -3.0, "답답": -2.0,
    "불편": -1.5, "불만": -2.0, "불만족": -2.5, "실망": -2.5, "불친절": -2.5, "무례": -2.5,
    "무시": -2.0, "최악": -3.0, "엉망": -2.5, "개판": -3.0, "형편없": -3.0, "어이없": -2.5,
    "어이가 없": -2.5, "황당": -2.0, "기가 막": -2.0, "말이 안": -2.0, "말도 안": -2.5,
    "말이 돼": -1.5, "미치": -2.0, "미쳤": -2.5, "미칠": -2.0, "미쳐": -2.0, "죽겠": -2.0,
    "늦": -1.0, "지연": -1.5, "느리": -1.5, "느려": -1.5, "느린": -1.5, "느립": -1.5,
    "고장": -1.5, "망가": -2.0, "망했": -2.5, "깨져": -1.5, "깨졌": -1.5, "깨진": -1.5,
    "파손": -2.0, "불량": -2.0, "문제": -1.0, "오류": -1.5, "에러": -1.5, "먹통": -2.0,
    "끊겨": -1.0, "끊겼": -1.0, "끊기": -1.0, "끊어": -1.0, "안돼": -1.25, "안되": -1.25,
    "힘들": -1.5, "힘드": -1.5, "힘듭": -1.5, "힘든": -1.5, "귀찮": -1.5, "싫": -2.0,
    "나쁘": -2.0, "나빠": -2.0, "나쁜": -2.0, "나빴": -2.0, "별로": -1.0, "이상하": -1.0,
    "이상해": -1.0, "이상한": -1.0, "이상합": -1.0, "틀리": -1.0, "틀렸": -1.0,
    "틀린": -1.0, "잘못": -1.5, "속상": -2.0, "억울": -2.0, "피해": -1.5, "손해": -1.5,
    "후회": -2.0, "걱정": -1.0, "불안": -1.5, "사기": -2.5, "거짓말": -2.0, "비싸": -1.0,
    "비싼": -1.0, "비쌉": -1.0, "바가지": -2.5, "아쉽": -1.0, "아쉬": -1.0, "유감": -1.5,
    "곤란": -1.5, "당황": -1.5, "지겹": -2.0, "지겨": -2.0, "끔찍": -3.0, "소용없": -2.0,
    "쓸모없": -2.0, "쓸데없": -2.0, "재미없": -1.5, "엉터리": -2.5, "대충": -1.0,
    "성의 없": -2.0, "성의가 없": -2.0, "성의없": -2.0, "항의": -1.5, "민원": -1.0,
    "도대체": -1.0, "제발": -0.5, "아직도": -1.0, "시간째": -1.0, "기다리": -0.5,
    "기다려": -0.5, "기다렸": -0.5, "급하": -0.75, "급해": -0.75, "급합": -0.75,
    "급한": -0.75, "장난하": -2.0, "장난해": -2.0, "장난치": -2.0, "장난 아니": 0.0,
    "이게 뭐": -1.5, "뭐하는": -1.5, "뭐 하는": -1.5, "에휴": -1.0, "아휴": -1.0,
    "어휴": -1.0, "마음에 안 들": -2.0, "맘에 안 들": -2.0, "마음에 안 드": -2.0,
    "맘에 안 드": -2.0, "실수": -1.0, "손상": -1.5, "분실": -1.5, "스트레스": -2.0,
    "슬프": -1.5, "슬퍼": -1.5, "우울": -1.5, "무섭": -1.5, "무서": -1.5, "피곤": -1.0,
    "안 돼": -1.25, "안 되": -1.25, "불합리": -2.0, "부당": -2.0, "어처구니": -2.5,
    "억지": -1.5, "납득": 1.0, "어렵": -1.0, "어려": -1.0, "멈췄": -1.0, "멈춰": -1.0,
    "멈추": -1.0, "멈춘": -1.0, "이거 뭐야": -1.5, "뭐야 이게": -1.5, "뭐야 이거": -1.5,
    "서운": -1.5, "섭섭": -1.5, "한심": -2.5, "괘씸": -2.5,
    # weightless entries that stop a shorter, misleading match
    "안녕": 0.0, "상관없": 0.0, "필요없": 0.0, "틀림없": 1.0, "문제없": 1.0, "고생": 0.0,
    "좋은 아침": 0.0, "없": 0.0,
    # sarcasm markers: literal weight; flipped when the context is a complaint
    "대단하": 1.5, "대단하시": 1.5, "잘하시네": 1.5, "잘하네": 1.5, "잘하는": 1.0,
    "잘 하시네": 1.5, "잘 하네": 1.5, "훌륭하시네": 2.0, "훌륭하네": 2.0,
    "기도 하": 1.0, "퍽이나": -2.0,
    "고맙네": 1.5, "감사하네": 1.5,
}  # fmt: skip
KO_MAX_KEY = max(len(key) for key in KO_STEMS)
KO_SARCASM_MARKERS = frozenset({
    "대단하", "대단하시", "잘하시네", "잘하네", "잘하는", "잘 하시네", "잘 하네",
    "훌륭하시네", "훌륭하네", "기도 하", "고맙네", "감사하네",
})  # fmt: skip
_KO_SARCASM_CONTEXT = re.compile(
    r"번째|시간째|분째|몇 번|아직도|매번|맨날|계속|기다|대기|또다시|역시나|(?:^|\s)또(?:\s|$)"
)
KO_INTENSIFIERS: dict[str, float] = {
    "너무": 1.5,
    "진짜": 1.5,
    "정말": 1.5,
    "완전": 1.5,
    "엄청": 1.5,
    "매우": 1.5,
    "아주": 1.4,
    "되게": 1.4,
    "굉장히": 1.5,
    "참": 1.3,
    "넘": 1.4,
    "진심": 1.4,
    "정말로": 1.5,
    "진짜로": 1.5,
    "너무너무": 1.8,
    "무척": 1.5,
    "제일": 1.4,
    "가장": 1.4,
    "전혀": 1.5,
    "많이": 1.3,
    "대단히": 1.5,
    "몹시": 1.6,
    "심하게": 1.5,
    "특히": 1.2,
    "좀": 0.7,
    "조금": 0.7,
    "약간": 0.6,
    "살짝": 0.6,
    "다소": 0.7,
    "아예": 1.5,
    "하나도": 1.5,
    "도저히": 1.6,
    "절대": 1.5,
    "절대로": 1.5,
    "아직": 1.3,
    "완전히": 1.5,
    "너무나": 1.6,
    "결코": 1.5,
}
# Negative-polarity words: earlier in the clause, they strengthen a negation ("하나도 안 ...").
KO_NEGATIVE_POLARITY: dict[str, float] = {
    "전혀": 1.5, "하나도": 1.5, "도저히": 1.6, "절대": 1.5, "절대로": 1.5, "아예": 1.5,
    "아무도": 1.5, "아무것도": 1.5, "결코": 1.5, "아직": 1.3, "아직도": 1.3, "여전히": 1.3,
}  # fmt: skip
KO_CONTRAST_WORDS = frozenset(
    {"하지만", "그런데", "근데", "그래도", "그렇지만", "그치만", "그러나", "다만"}
)
HANGUL_BASE = 0xAC00
JONGSEONG_N = 4  # ㄴ as a final consonant: 한, 은, 운, 쁜 ...
KO_SHORT_NEGATORS = frozenset({"안", "못"})
# Adverbs and interjections: a following 안/못 does not flip them ("아직도 안 왔어요").
KO_ADVERBS = frozenset({"아직도", "도대체", "제발", "에휴", "아휴", "어휴", "잘"})
KO_LIGHT_VERBS = ("되", "돼", "됐", "된", "됩", "하", "해", "했", "한", "합")
KO_QUESTION_ENDINGS = ("나요", "까요", "습니까", "는지요", "건가요", "인가요", "을까", "나", "냐")
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
            has_context=_KO_SARCASM_CONTEXT.search(" ".join(u.text for u in units)) is not None,
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
