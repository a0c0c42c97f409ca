"""The rubric `bench/agent_quality.py` scores the agent's answers by: one answer against one
labelled caller utterance, with pure functions and no model.

An answer passes when every check passes:

    language    the caller's language: Hangul ≥ 60 % of the letters for Korean, ≤ 5 % for English
    length      ≤ 2 sentences (Korean endings without punctuation count too) and ≤ 220 characters
                in English, ≤ 120 in Korean (~10 s and ~8 s of speech)
    markdown    no list markers, emphasis, headings, tables or links
    refusal     no refusal of a request ("I can't assist with that", "도와드릴 수 없습니다");
                no category allows one: the agent asks, checks, transfers or explains instead
    disclaimer  nothing about being an AI or a language model
    in_role     speaks as the agent: no role labels ("고객:", "Agent:"), no words of the
                instructions ("the caller", "[안내 자료]"), no knowledge-file titles read out,
                not the caller's words parroted back (85 % of them in a row, or 8 words). In
                the first run of this bench (Qwen 0.5B) 30 of 80 answers failed only this way
                or also this way: "고객: ..." role-play, "[안내 자료]: ...", the file's title
    invented    every number, time, price, duration, percentage and weekday it states is in the
                knowledge file (or in what the caller said), compared after normalising digits,
                "6 PM"/"오후 6시"/"18:00", Korean counters ("칠 일", "5만 원") and weeks to days
    on_topic    by category: `answerable` states one of the item's `expect_any` facts;
                `needs_info` asks for the missing thing (`expect_any`: "order number"...);
                `upset` apologises and moves to a fix; `unanswerable` says it will check,
                transfer, take a message or does not have the information; `misheard` asks the
                caller to repeat (or checks what they meant); `smalltalk` is short and polite

The phrase lists were written against the failures of the issue-14 trial ("I'm sorry, but I
can't assist with that.", "As an AI language model…", "we're open 9 AM to 5 PM on weekends", a
5-item list) and against the good answers in tests/ai/test_agent_rubric.py, which also pin the
false positives they must not have ("we can't cancel an order that has shipped, but ..." is
policy, not a refusal).
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from parley.ai.base import Language

DATA = Path(__file__).parent / "data" / "agent"
MAX_SENTENCES = 2
MAX_CHARS = {Language.ENGLISH: 220, Language.KOREAN: 120}
SMALLTALK_CHARS = {Language.ENGLISH: 150, Language.KOREAN: 80}
HANGUL_SHARE = {Language.KOREAN: (0.6, 1.0), Language.ENGLISH: (0.0, 0.05)}


class Category(enum.StrEnum):
    ANSWERABLE = "answerable"
    NEEDS_INFO = "needs_info"
    UPSET = "upset"
    UNANSWERABLE = "unanswerable"
    MISHEARD = "misheard"
    SMALLTALK = "smalltalk"


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled caller utterance. For `misheard`, `text` is what a poor transcription made
    of it and `meant` what the caller said."""

    id: str
    language: Language
    text: str
    category: Category
    expect_any: tuple[str, ...] = ()
    heldout: bool = False
    meant: str = ""


def load_items(path: Path = DATA / "utterances.toml") -> list[Item]:
    """The labelled set: `[[utterance]]` tables in a TOML file."""
    with path.open("rb") as file:
        rows = tomllib.load(file)["utterance"]
    return [
        Item(
            id=row["id"],
            language=Language(row["language"]),
            text=row["text"],
            category=Category(row["category"]),
            expect_any=tuple(row.get("expect_any", ())),
            heldout=bool(row.get("heldout", False)),
            meant=row.get("meant", ""),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Score:
    """Every check of one answer; `passed` when all of them pass."""

    language: Check
    length: Check
    markdown: Check
    refusal: Check
    disclaimer: Check
    in_role: Check
    invented: Check
    on_topic: Check

    @property
    def checks(self) -> tuple[Check, ...]:
        return (
            self.language,
            self.length,
            self.markdown,
            self.refusal,
            self.disclaimer,
            self.in_role,
            self.invented,
            self.on_topic,
        )

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.passed]


def score(answer: str, item: Item, knowledge: KnownFacts) -> Score:
    """Score `answer` (what the caller hears) for `item` against the knowledge file's facts."""
    return Score(
        language=check_language(answer, item.language),
        length=check_length(answer, item.language),
        markdown=check_markdown(answer),
        refusal=check_refusal(answer),
        disclaimer=check_disclaimer(answer),
        in_role=check_in_role(answer, item.text, knowledge.titles),
        invented=check_invented(answer, knowledge, item.text),
        on_topic=check_on_topic(answer, item),
    )


# ---------------------------------------------------------------------------------- language


def hangul_share(text: str) -> float | None:
    """Hangul's share of the letters in `text` (None without letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    hangul = sum(_is_hangul(ch) for ch in letters)
    return hangul / len(letters)


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣" or "ᄀ" <= ch <= "ᇿ" or "ㄱ" <= ch <= "ㆎ"


def check_language(answer: str, language: Language) -> Check:
    share = hangul_share(answer)
    low, high = HANGUL_SHARE[language]
    passed = share is not None and low <= share <= high
    detail = "no letters" if share is None else f"Hangul {share:.0%} of letters"
    return Check("language", passed, detail)


# ------------------------------------------------------------------------------------ length

_ABBREVIATION = re.compile(r"\b(?:a\.m|p\.m|e\.g|i\.e|etc|mrs?|ms|dr|no|vs|st)\.", re.IGNORECASE)
_TRAILING_OFF = re.compile(r"(?:\.\.\.|…)(?=\s+[a-z])")  # "Sure... let me check" goes on
_SENTENCE_END = re.compile(r"[.!?。！？…]+[\"'”’)\]]*(?=\s|$)|\n+")
_KOREAN_ENDING = re.compile(
    r"(?:습니다|니다|세요|에요|예요|해요|어요|아요|네요|군요|지요|죠|까요|습니까|나요|거든요|"
    r"드려요|게요)(?=\s+[가-힣A-Za-z0-9])"
)


def count_sentences(text: str) -> int:
    """Sentences as a listener hears them: at . ! ? … and line breaks (not in "6 p.m." or
    "3.5"), and in Korean also at a final ending followed by more words without punctuation
    ("확인해 드릴게요 주문 번호를 알려 주세요" is two)."""
    text = _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text.strip())
    text = _TRAILING_OFF.sub(",", text)
    pieces = [p for p in _SENTENCE_END.split(text) if any(ch.isalnum() for ch in p)]
    return len(pieces) + sum(len(_KOREAN_ENDING.findall(p)) for p in pieces)


def check_length(answer: str, language: Language) -> Check:
    sentences, chars = count_sentences(answer), len(answer.strip())
    passed = sentences <= MAX_SENTENCES and chars <= MAX_CHARS[language]
    return Check("length", passed, f"{sentences} sentences, {chars} chars")


# ---------------------------------------------------------------------------------- markdown

_MARKDOWN = re.compile(
    r"\*\*|__|`|^\s*#{1,6}\s|^\s*[-*•+]\s+\S|^\s*\d{1,2}[.)]\s+\S|\|.*\||\[[^\]]+\]\([^)]+\)"
    r"|(?:^|\s)1[.)]\s+\S.*\s2[.)]\s+\S",
    re.MULTILINE,
)


def check_markdown(answer: str) -> Check:
    found = _MARKDOWN.search(answer)
    return Check("markdown", found is None, repr(found.group(0).strip()) if found else "")


# --------------------------------------------------------------------------- refusal, AI talk

_CANNOT = r"can't|cannot|can not|am unable to|'m unable to|am not able to|'m not able to"
_HELP = (
    r"help|assist|answer|support|do that|do this|comply|discuss|process (?:that|this|your) request"
)
_NO_INFO = r"(?! (?:\w+ )?(?:information|details))"  # "can't provide that information": honest
_UNABLE = (
    r"(?:수\s*(?:가|는)?\s*없|어렵|어려|힘들|힘드|곤란)"  # "... 수 없습니다", "... 어렵습니다"
)
_REFUSALS = [
    re.compile(rf"\b(?:{_CANNOT}|won't be able to)\s+(?:{_HELP}|provide{_NO_INFO})\b"),
    re.compile(
        r"\b(?:i'm|i am) not (?:allowed|permitted|authori[sz]ed) to (?:help|assist|discuss)"
    ),
    re.compile(r"\bthat(?:'s| is) not something i can (?:help|assist)"),
    re.compile(rf"도와\s*드릴\s*{_UNABLE}|도움(?:을|이)?\s*(?:드릴|되어\s*드릴)\s*{_UNABLE}"),
    re.compile(rf"도와\s*드리기(?:가|는)?\s*{_UNABLE}|도움(?:을)?\s*드리기(?:가|는)?\s*{_UNABLE}"),
    re.compile(
        rf"답변(?:을|해)?\s*(?:드릴|해\s*드릴)\s*{_UNABLE}|답변(?:해\s*)?드리기(?:가|는)?\s*{_UNABLE}"
    ),
    re.compile(rf"응대(?:해\s*)?\s*드릴\s*{_UNABLE}"),
    re.compile(rf"죄송하지만[^.?!。]*?(?:도와|도움|답변|응대)[^.?!。]*?{_UNABLE}"),
]
# A "can't" followed, in its sentence, by what the agent can do instead is not a refusal.
_INSTEAD = re.compile(
    r"\b(?:until|unless|without|but (?:i|we)|however|instead|let me|(?:i|we)(?:'ll| will))\b"
    r"|\b(?:i|we) can(?!'t|not)\b|지만|대신|다만|그래도"
)
_AI_TALK = re.compile(
    r"\bas an? (?:ai|artificial intelligence)\b|\blanguage model\b|\bai model\b"
    r"|\b(?:i'm|i am) (?:just |only )?an? (?:ai|artificial intelligence|chatbot|bot)\b"
    r"|ai\s*언어\s*모델|언어\s*모델|인공\s*지능|저는\s*ai|ai(?:로서|라서|이기\s*때문)"
)


def _plain(text: str) -> str:
    """Lower case, with typographic apostrophes as ASCII ones ("can’t" is "can't")."""
    return text.lower().replace("’", "'").replace("‘", "'")


def refusal(answer: str) -> str | None:
    """The refusing phrase in `answer`, if any."""
    lowered = _plain(answer)
    for pattern in _REFUSALS:
        for found in pattern.finditer(lowered):
            rest = _SENTENCE_END.split(lowered[found.end() :], maxsplit=1)[0]
            if not _INSTEAD.search(rest):
                return found.group(0)
    return None


def check_refusal(answer: str) -> Check:
    found = refusal(answer)
    return Check("refusal", found is None, repr(found) if found else "")


def check_disclaimer(answer: str) -> Check:
    found = _AI_TALK.search(_plain(answer))
    return Check("disclaimer", found is None, repr(found.group(0)) if found else "")


_OUT_OF_ROLE = re.compile(
    r"\b(?:the caller|caller\s*:|agent\s*:|assistant\s*:|user\s*:|system\s*:)"
    r"|(?:^|[\s\"'(])(?:고객|상담원|사용자)\s*:|안내\s*자료|당신의\s*말|음성으로\s*읽"
    r"|\byou are on a phone call\b|\bread aloud\b|\bkeep (?:it|your answer) short\b"
)
_WORD = re.compile(r"[^\W_]+")
# The caller's words repeated in a row: this many, or this share of a shorter utterance. Less
# is how a person restates a question ("Your reward points work by ...", "네, 공휴일에도 ...
# 통화할 수 있습니다"); more is an echo ("When's your next big sale? I'd rather wait for it.").
PARROT_WORDS = 8
PARROT_SHARE = 0.85


def out_of_role(answer: str, caller_text: str = "", titles: Iterable[str] = ()) -> str | None:
    """What in `answer` is not the agent speaking to the caller, if anything."""
    plain = _plain(answer)
    if found := _OUT_OF_ROLE.search(plain) or re.search(r"\bKNOWLEDGE\b", answer):
        return found.group(0).strip()
    for title in titles:
        if title.lower() in plain:
            return title
    said, heard = _WORD.findall(plain), _WORD.findall(_plain(caller_text))
    run = _longest_common_run(said, heard)
    if len(heard) >= 3 and len(run) >= max(
        3, min(PARROT_WORDS, math.ceil(PARROT_SHARE * len(heard)))
    ):
        return "parrots: " + " ".join(run)
    return None


def _longest_common_run(a: list[str], b: list[str]) -> list[str]:
    best, end = 0, 0
    lengths = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(len(b), 0, -1):
            lengths[j] = lengths[j - 1] + 1 if a[i - 1] == b[j - 1] else 0
            if lengths[j] > best:
                best, end = lengths[j], i
    return a[end - best : end]


def check_in_role(answer: str, caller_text: str = "", titles: Iterable[str] = ()) -> Check:
    found = out_of_role(answer, caller_text, titles)
    return Check("in_role", found is None, repr(found) if found else "")


# ----------------------------------------------------------------------- numbers, normalised

_SINO_DIGITS = dict(zip("일이삼사오육칠팔구", range(1, 10), strict=True))
_SINO_UNITS = {"십": 10, "백": 100, "천": 1000, "만": 10000}
_SINO_COUNTER = r"영업일|일|시간|분|개월|년|주|퍼센트|프로|원|포인트"
_SINO = re.compile(rf"(?<![가-힣\d])([일이삼사오육칠팔구십백천만]+)\s*(?=(?:{_SINO_COUNTER}))")
_SINO_AMBIGUOUS = frozenset("일이오사구")  # alone, also "one/this/five/four/nine" words
_NATIVE_ONES = {
    "한": 1, "두": 2, "세": 3, "석": 3, "네": 4, "다섯": 5, "여섯": 6,
    "일곱": 7, "여덟": 8, "아홉": 9,
}  # fmt: skip
_NATIVE_TENS = {"열": 10, "스물": 20, "스무": 20, "서른": 30}
_NATIVE = re.compile(
    r"(?<![가-힣])(열|스물|스무|서른)?\s?(한|두|세|석|네|다섯|여섯|일곱|여덟|아홉)?\s*"
    r"(?=시간|시(?![작도켜])|달(?!러))"
)
_NATIVE_DAYS = {"하루": 1, "이틀": 2, "사흘": 3, "나흘": 4, "닷새": 5, "열흘": 10, "보름": 15}
_EN_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}  # fmt: skip
_EN_TENS = re.compile(
    r"\b(twenty|thirty|forty|fifty)[\s-](one|two|three|four|five|six|seven|eight|nine)\b"
)
_EN_UNIT = (
    r"(?:business |working |calendar )?(?:days?|hours?|minutes?|weeks?|months?|years?|percent)\b"
)
_EN_ONE = re.compile(rf"\b(?:one|an?)\s+(?={_EN_UNIT})")
_EN_ONE_RANGE = re.compile(r"\bone(?=\s*(?:or|to|-)\s*(?:two|three|\d))")
_EN_WORD = re.compile(r"\b(" + "|".join(_EN_NUMBERS) + r")\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_KO_MONEY = re.compile(
    r"(\d+)\s*만\s*(?:(\d+)\s*천\s*)?(?=\s*(?:원|포인트))|(\d+)\s*천\s*(?=\s*(?:원|포인트))"
)
_THOUSAND = re.compile(r"(\d+)\s*thousand\b")
_WEEKS_RANGE = re.compile(
    r"(\d+)\s*(?:-|~|to|or)\s*(\d+)\s*(weeks?\b|주(?:일|간)?(?!문|소|세|시|말|년))"
)
_WEEKS = re.compile(r"(\d+)\s*(weeks?\b|주(?:일|간)?(?!문|소|세|시|말|년))|일주일")
_EN_TIME = re.compile(r"(?<![\d:])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?")
_KO_TIME = re.compile(
    r"(오전|아침|오후|저녁|밤|낮)?\s*(?<![\d:])(\d{1,2})\s*시(?!간)(?:\s*(\d{1,2})\s*분|\s*(반))?"
)
_CLOCK = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?![\d:])")
_OCLOCK = re.compile(r"(?<![\d:])(\d{1,2})\s*o'?clock\b")
_NOON = re.compile(r"\b(?:noon|midday)\b|정오")
_RANGE = re.compile(r"(?<![\d:.])(\d+)\s*(?:-|–|—|~|to|or|에서)\s*(\d+)(?![\d:])")
_BETWEEN = re.compile(r"\bbetween (\d+) and (\d+)(?![\d:])")
_PERCENT = re.compile(r"\s*(?:percent\b|퍼센트|프로(?!그램|모션|필|세스))")


def normalise(text: str) -> str:
    """`text` with its numbers in one form: digits without thousands separators, clock times
    as HH:MM (an hour without AM/PM read as business hours: 1–6 afternoon), Korean and English
    number words before a counter as digits, weeks as days, ranges as "1-2", "percent" as %,
    lower case. Both answers and expected facts are compared in this form."""
    text = unicodedata.normalize("NFKC", text).lower().replace("–", "-").replace("—", "-")
    text = _THOUSANDS.sub("", text)
    text = _korean_numbers(text)
    text = _english_numbers(text)
    text = _KO_MONEY.sub(_ko_money, text)
    text = _THOUSAND.sub(lambda m: str(int(m.group(1)) * 1000), text)
    text = _times(text)
    text = _WEEKS_RANGE.sub(lambda m: f"{int(m[1]) * 7}-{int(m[2]) * 7} {_days(m[3])}", text)
    text = _WEEKS.sub(lambda m: f"{int(m[1]) * 7} {_days(m[2])}" if m[1] else "7일", text)
    text = _PERCENT.sub("%", text)
    text = _BETWEEN.sub(r"\1-\2", text)
    text = _RANGE.sub(r"\1-\2", text)
    return re.sub(r"\s+", " ", text).strip()


def _days(unit: str) -> str:
    return "days" if unit.startswith("week") else "일"


def _korean_numbers(text: str) -> str:
    for word, value in _NATIVE_DAYS.items():
        text = re.sub(rf"(?<![가-힣]){word}", f"{value}일", text)
    text = _NATIVE.sub(_native, text)
    return _SINO.sub(_sino, text)


def _native(match: re.Match[str]) -> str:
    tens, ones = match.group(1), match.group(2)
    if not tens and not ones:
        return match.group(0)
    return str(_NATIVE_TENS.get(tens or "", 0) + _NATIVE_ONES.get(ones or "", 0))


def _sino(match: re.Match[str]) -> str:
    word = match.group(1)
    value = sino_value(word)
    if value is None or (len(word) == 1 and word in _SINO_AMBIGUOUS):
        return match.group(0)
    return str(value)


def sino_value(word: str) -> int | None:
    """The value of a Sino-Korean numeral ("십사" 14, "삼천" 3000, "오만" 50000), or None."""
    total, section, digit = 0, 0, None
    for ch in word:
        if ch in _SINO_DIGITS:
            if digit is not None:
                return None  # two digits in a row: not a numeral
            digit = _SINO_DIGITS[ch]
        elif ch == "만":
            total += ((section + (digit or 0)) or 1) * 10000
            section, digit = 0, None
        else:
            section += (digit or 1) * _SINO_UNITS[ch]
            digit = None
    return total + section + (digit or 0)


def _english_numbers(text: str) -> str:
    text = _EN_TENS.sub(lambda m: str(_EN_NUMBERS[m[1]] + _EN_NUMBERS[m[2]]), text)
    text = _EN_ONE.sub("1 ", text)
    text = _EN_ONE_RANGE.sub("1", text)
    return _EN_WORD.sub(lambda m: str(_EN_NUMBERS[m[1]]), text)


def _ko_money(match: re.Match[str]) -> str:
    if match.group(3):
        return str(int(match.group(3)) * 1000)
    return str(int(match.group(1)) * 10000 + int(match.group(2) or 0) * 1000)


def _times(text: str) -> str:
    text = _NOON.sub("12:00", text)
    text = _EN_TIME.sub(
        lambda m: _clock(int(m[1]), int(m[2] or 0), "pm" if m[3] == "p" else "am"), text
    )
    text = _KO_TIME.sub(_ko_time, text)
    text = _OCLOCK.sub(lambda m: _clock(int(m[1]), 0, None), text)
    # "6:00" is read as business hours; "06:00" and "18:00" (and what was made above) as said.
    return _CLOCK.sub(
        lambda m: _clock(int(m[1]), int(m[2]), None if len(m[1]) == 1 else "24h"), text
    )


def _ko_time(match: re.Match[str]) -> str:
    marker, hour, minute, half = match.groups()
    period = {"오전": "am", "아침": "am", "오후": "pm", "저녁": "pm", "밤": "pm", "낮": "pm"}
    minutes = 30 if half else int(minute or 0)
    return _clock(int(hour), minutes, period.get(marker or ""))


def _clock(hour: int, minute: int, period: str | None) -> str:
    """HH:MM; without AM/PM an hour of 1–6 is taken for the afternoon (business hours)."""
    if period == "pm" and hour < 12:
        hour += 12
    elif period == "am" and hour == 12:
        hour = 0
    elif period is None and 1 <= hour <= 6:  # "24h": as written
        hour += 12
    return f" {hour:02d}:{minute:02d} "


# ------------------------------------------------------------------------------------- facts

_UNITS = {
    "day": r"(?:business |working |calendar )?days?\b|영업일|일(?:간)?",
    "hour": r"hours?\b|hrs?\b|시간",
    "minute": r"minutes?\b|mins?\b|분",
    "month": r"months?\b|개월|달(?!러)",
    "year": r"years?\b|yrs?\b|년",
    "percent": r"%",
    "won": r"won\b|원|krw\b",
    "usd": r"dollars?\b|usd\b|달러",
    "calendar": r"월(?!요일)",
}
_UNIT = "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _UNITS.items())
_PHONE = re.compile(r"(?<![\d-])(?:\d{2,4}-\d{3,4}-\d{4}|1[5-9]\d{2}[-\s]?\d{4})(?![\d-])")
_TIME = re.compile(r"(?<![\d:])(\d{2}):(\d{2})(?![\d:])")
_PREFIXED = re.compile(r"(?:(?P<won>₩|krw)|(?P<usd>\$))\s*(\d+)")
_RANGED = re.compile(rf"(?<![\d.])(\d+)-(\d+)[\s-]*(?:{_UNIT})")
_UNITED = re.compile(rf"(?<![\d.])(\d+(?:\.\d+)?)[\s-]*(?:{_UNIT})")
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_KO_WEEKDAYS = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
_DAY_NAME = "|".join(_WEEKDAYS + _KO_WEEKDAYS)
_DAY_RANGE = re.compile(rf"({_DAY_NAME})s?\s*(?:to|through|thru|-|~|부터)\s*({_DAY_NAME})")
_DAY = re.compile(rf"({_DAY_NAME})")
_DAY_GROUPS = {
    r"\bweekends?\b|주말": ("saturday", "sunday"),
    r"\bweekdays\b|평일": tuple(_WEEKDAYS[:5]),
    r"\b(?:public )?holidays?\b|공휴일": ("holiday",),
}


@dataclass(frozen=True, slots=True)
class Fact:
    """A checkable fact: `kind` is a unit (day, hour, minute, month, year, percent, won, usd,
    calendar month), or time (HH:MM), phone, weekday, or num (a number without a unit)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return (
            self.value if self.kind in ("num", "weekday", "phone") else f"{self.value} {self.kind}"
        )


def facts(text: str) -> set[Fact]:
    """The facts stated in `text`."""
    rest = normalise(text)
    found: set[Fact] = set()
    rest = _take(_PHONE, rest, found, lambda m: [Fact("phone", re.sub(r"\D", "", m[0]))])
    rest = _take(_TIME, rest, found, lambda m: [Fact("time", m[0])])
    rest = _take(_PREFIXED, rest, found, lambda m: [Fact("won" if m["won"] else "usd", _num(m[3]))])
    rest = _take(
        _RANGED, rest, found, lambda m: [Fact(_kind(m), _num(m[1])), Fact(_kind(m), _num(m[2]))]
    )
    rest = _take(_UNITED, rest, found, lambda m: [Fact(_kind(m), _num(m[1]))])
    rest = _take(_NUMBER, rest, found, lambda m: [Fact("num", _num(m[0]))])
    found |= {Fact("weekday", day) for day in weekdays(rest)}
    return found


def _take(
    pattern: re.Pattern[str],
    text: str,
    found: set[Fact],
    make: Callable[[re.Match[str]], Iterable[Fact]],
) -> str:
    """Collect `pattern`'s facts and blank their text out, so no later pattern reads it again."""

    def blank(match: re.Match[str]) -> str:
        found.update(make(match))
        return " " * len(match.group(0))

    return pattern.sub(blank, text)


def _kind(match: re.Match[str]) -> str:
    return next(kind for kind in _UNITS if match.group(kind))


def _num(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else str(value)


def weekdays(text: str) -> set[str]:
    """Days of the week named in `text` (normalised), ranges ("Monday to Friday") filled in."""
    days: set[str] = set()
    for pattern, group in _DAY_GROUPS.items():
        if re.search(pattern, text):
            days.update(group)
    for first, last in _DAY_RANGE.findall(text):
        start, end = _weekday(first), _weekday(last)
        days.update(_WEEKDAYS[start : end + 1] if start <= end else ())
    days.update(_WEEKDAYS[_weekday(day)] for day in _DAY.findall(text))
    return days


def _weekday(name: str) -> int:
    return _WEEKDAYS.index(name) if name in _WEEKDAYS else _KO_WEEKDAYS.index(name)


@dataclass(frozen=True)
class KnownFacts:
    """What may be stated: the knowledge file's facts, and every value in it."""

    facts: frozenset[Fact]
    values: frozenset[str] = field(default_factory=frozenset)
    bare: frozenset[str] = field(default_factory=frozenset)
    titles: frozenset[str] = field(default_factory=frozenset)  # a file's top headings

    @classmethod
    def from_text(cls, text: str) -> KnownFacts:
        found = facts(text)
        values = {fact.value for fact in found} | set(_hours(found))
        bare = {fact.value for fact in found if fact.kind == "num"}
        titles = {title.strip() for title in re.findall(r"^# (.+)$", text, re.MULTILINE)}
        return cls(frozenset(found), frozenset(values), frozenset(bare), frozenset(titles))

    def __or__(self, other: KnownFacts) -> KnownFacts:
        return KnownFacts(
            self.facts | other.facts,
            self.values | other.values,
            self.bare | other.bare,
            self.titles | other.titles,
        )

    def allows(self, fact: Fact) -> bool:
        if fact.kind == "num":
            return fact.value in self.values
        if any(same in self.facts for same in _equivalents(fact)):
            return True
        return fact.kind not in ("time", "phone", "weekday", "calendar") and fact.value in self.bare


def _hours(found: Iterable[Fact]) -> Iterator[str]:
    """A clock time's hour, as "at 9" or "until 6" would say it."""
    for fact in found:
        if fact.kind == "time":
            hour = int(fact.value[:2])
            yield str(hour)
            yield str(hour - 12) if hour > 12 else str(hour)


def _equivalents(fact: Fact) -> list[Fact]:
    """The same quantity in the other unit it is often said in (12 months, 1 year; 24 hours,
    1 day)."""
    same = [fact]
    if not fact.value.isdigit():
        return same
    value = int(fact.value)
    pairs = {"month": ("year", 12), "hour": ("day", 24)}
    for small, (large, factor) in pairs.items():
        if fact.kind == small and value % factor == 0:
            same.append(Fact(large, str(value // factor)))
        elif fact.kind == large:
            same.append(Fact(small, str(value * factor)))
    return same


def invented(answer: str, known: KnownFacts, caller_text: str = "") -> list[Fact]:
    """The facts in `answer` that neither the knowledge nor the caller stated."""
    allowed = known | KnownFacts.from_text(caller_text)
    return sorted((f for f in facts(answer) if not allowed.allows(f)), key=str)


def check_invented(answer: str, known: KnownFacts, caller_text: str = "") -> Check:
    extra = invented(answer, known, caller_text)
    return Check("invented", not extra, ", ".join(map(str, extra)))


# ---------------------------------------------------------------------------------- on topic

_REQUEST = re.compile(
    r"\?|\b(?:please|could you|can you|would you|may i|can i have|could i have|tell me|give me|"
    r"provide|let me know|what(?:'s| is) (?:your|the))\b"
    r"|알려\s*주|말씀해\s*주|말씀\s*부탁|주시겠|주시면|주세요|주실\s*수|부탁드|불러\s*주"
)
_ASK = re.compile(  # a question that moves things on (not "됩니까?" read out of a passage)
    r"\b(?:please|could you|can you|would you|may i|tell me|give me|provide)\b"
    r"|\b(?:what|which|when|where|how)\b[^.!?]*\?"
    r"|알려\s*주|말씀해\s*주|말씀\s*부탁|주시겠|주시면|주세요|주실\s*수|부탁드|(?:실까요|드릴까요)\?"
)
_BRUSH_OFF = re.compile(  # "anything else I can help with?" is not a fix for this caller
    r"[^.!?]*\b(?:anything|something) else\b[^.!?]*[.!?]?"
    r"|[^.!?]*다른\s*(?:도움|문의|질문)[^.!?]*[.!?]?"
)
_APOLOGY = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies)\b|죄송|사과\s*드|미안|송구|불편을\s*드려"
)
_FIX = re.compile(
    r"\b(?:let me|i(?:'ll| will| can)|we(?:'ll| will| can)|i'd be happy|happy to|right away)\b"
    r"|드리겠|드릴게|드릴께|해\s*드릴|확인해|확인\s*후|도와\s*드|처리해|연결해|바로"
)
_CHECK = re.compile(
    r"\b(?:check|look into|look it up|find out|confirm with|transfer|connect you|put you through"
    r"|agent|colleague|specialist|our team|take a message|leave a message|call you back"
    r"|get back to you|follow up|(?:don't|do not) have (?:that |this |the |any )?(?:info|details)"
    r"|(?:don't|do not) have (?:that|this|the|any)|not sure|(?:isn't|is not|not) available"
    r"|(?:unable to|can't|cannot) (?:provide|give|share) (?:\w+ )?(?:information|details)"
    r"|(?:don't|do not) know|no information|(?:unable to|can't|cannot) confirm)\b"
    r"|확인(?:해|하|을|후|드|이|한)|알아보|알아봐|연결(?:해|을|드)|상담원|담당자"
    r"|메시지(?:를)?\s*(?:남|전달)|메모(?:를)?\s*(?:남|해)|남겨\s*주"
    r"|전화\s*(?:드|를\s*드)|연락\s*(?:드|을\s*드)|정보(?:가|는)\s*(?:없|아직)|알\s*수\s*(?:가\s*)?없"
    r"|모르|(?:갖고|가지고)\s*있지\s*않|안내(?:가|해\s*드리기)\s*(?:어렵|어려)"
)
_REPEAT = re.compile(
    r"\b(?:repeat|say (?:that|it) again|once more|one more time"
    r"|(?:didn't|did not|couldn't|could not) (?:quite )?(?:catch|hear|get|understand)"
    r"|pardon|come again|rephrase|not sure i (?:understood|follow|caught)"
    r"|did you mean|do you mean|are you asking)\b"
    r"|다시\s*(?:한\s*번|한번)?\s*(?:말씀|말해|얘기|이야기)|다시\s*한\s*번|한\s*번\s*더|잘\s*못\s*들"
    r"|잘\s*안\s*들|못\s*알아들|알아듣지\s*못|이해하지\s*못|잘\s*이해가|말씀이신가요"
    r"|말씀하신\s*(?:건|것)|말씀하시는\s*(?:건|것)|뜻인가요|맞으신가요|무슨\s*말씀|천천히\s*말씀"
)
_POLITE = re.compile(
    r"\b(?:thank|thanks|welcome|hello|hi|glad|pleasure|good|great|bye|goodbye|help|care|nice"
    r"|happy)\b|감사|고맙|안녕|반갑|좋은|도와\s*드|도움|천만에|별말씀|즐거운|행복|또\s*(?:연락|전화)|들어가세요"
)


def mentions(answer: str, keys: Iterable[str]) -> str | None:
    """The first of `keys` that `answer` states, compared normalised, spaces ignored, a number
    not matching inside a longer one ("14" is not in "140" or "14:00")."""
    text = normalise(answer).replace(" ", "")
    for key in keys:
        wanted = normalise(key).replace(" ", "")
        pattern = re.escape(wanted)
        if wanted[:1].isdigit():
            pattern = r"(?<![\d:.])" + pattern
        if wanted[-1:].isdigit():
            pattern += r"(?![\d:])"
        if wanted and re.search(pattern, text):
            return key
    return None


def check_on_topic(answer: str, item: Item) -> Check:
    lowered = _plain(answer)
    match item.category:
        case Category.ANSWERABLE:
            key = mentions(answer, item.expect_any)
            return Check(
                "on_topic", key is not None, f"states {key!r}" if key else "no expected fact"
            )
        case Category.NEEDS_INFO:
            key = mentions(answer, item.expect_any)
            asks = _REQUEST.search(lowered) is not None
            passed = key is not None and asks
            return Check("on_topic", passed, f"asks: {asks}, for: {key!r}")
        case Category.UPSET:
            sorry = _APOLOGY.search(lowered) is not None
            rest = _BRUSH_OFF.sub(" ", lowered)
            fix = _FIX.search(rest) is not None or _ASK.search(rest) is not None
            return Check("on_topic", sorry and fix, f"apology: {sorry}, moves to a fix: {fix}")
        case Category.UNANSWERABLE:
            found = _CHECK.search(lowered)
            return Check("on_topic", found is not None, repr(found.group(0)) if found else "")
        case Category.MISHEARD:
            found = _REPEAT.search(lowered)
            return Check("on_topic", found is not None, repr(found.group(0)) if found else "")
        case Category.SMALLTALK:
            polite = _POLITE.search(lowered) is not None
            short = 0 < len(answer.strip()) <= SMALLTALK_CHARS[item.language]
            return Check("on_topic", polite and short, f"polite: {polite}, short: {short}")
