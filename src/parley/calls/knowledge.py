"""The business's own knowledge (`AGENT_KNOWLEDGE_FILE`): hours, policies, FAQ, in Korean and/or
English, that the agent answers from instead of inventing.

A file is cut into passages at its Markdown headings (plain text: at blank lines), long sections
again at paragraphs and list items, each passage keeping the headings above it ("Returns >
Refunds") because a paragraph often does not name its subject. What goes into a prompt depends
on the size of the part in the caller's language, in LLM tokens (estimated: ~0.95 a Hangul
syllable, ~3.6 characters of anything else, within 15 % of Qwen's tokenizer on the bench's file):

* up to `WHOLE_TOKENS` it goes **whole** into the system prompt. That prompt is the same on every
  turn of every call, so the LLM's prompt cache keeps its evaluation (read once, at start-up, by
  the warm-up): the knowledge then costs nothing per turn, where every token read before an
  answer costs ~4–8 ms here. With the rules and a call's history this stays inside the local
  model's 4,096 tokens.
* a larger one is **retrieved from**: the passages that best match what the caller just said, by
  BM25, `RETRIEVED_TOKENS` in all, go with that turn only (and are read on that turn).

BM25 needs no model and no index on disk: a few hundred passages score in well under a
millisecond. Words are English terms (lower-cased, a plural's "s" dropped) and, for Korean, the
syllable bigrams of each word, which match across particles and endings (환불은 / 환불이 / 환불
share 환불) without a morphological analyser. A question finds passages in its own language: a
Korean caller is given the Korean part of a bilingual file, and the English one only when there
is no Korean. The knowledge is read once, at start-up; change the file and restart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parley.ai.base import Language
from parley.errors import ParleyError

MAX_FILE_BYTES = 2 * 1024 * 1024
WHOLE_TOKENS = 2_200  # beside ~450 of rules and a call's history, inside 4,096
RETRIEVED_TOKENS = 150  # per turn, in all: read at ~40–75 tokens/s here before the first word
PASSAGE_TOKENS = 120  # a longer section is cut at its paragraphs, then at its lines
K1, B = 1.2, 0.75  # BM25's usual constants

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ENGLISH = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HANGUL_RUN = re.compile(r"[가-힣]+")
# Words too common to tell passages apart (a word list filled across the lines: fmt: skip).
_STOP = frozenset((
    "a", "an", "the", "and", "or", "but", "if", "to", "of", "in", "on", "at", "for", "with", "by",
    "from", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "you", "we",
    "they", "it", "my", "your", "our", "me", "us", "this", "that", "these", "those", "what",
    "when", "where", "how", "can", "could", "would", "will", "please", "hi", "hello", "there",
    "just", "about", "want", "like", "have", "has", "get",
))  # fmt: skip


class KnowledgeError(ParleyError):
    code = "KNOWLEDGE_FILE_INVALID"


@dataclass(frozen=True, slots=True)
class Passage:
    heading: str  # the headings above it, joined with " > " ("" at the top of the file)
    text: str
    language: Language

    def render(self) -> str:
        """The passage as a prompt shows it: after its nearest heading, on one line ("Refunds:
        ..."). The full heading path ahead of every passage was read out as an answer by the
        0.5B model ("Sora Outdoor — customer centre knowledge Opening hours and contact")."""
        near = self.heading.rsplit(" > ", 1)[-1]
        body = " ".join(line.strip().lstrip("-*• ").strip() for line in self.text.splitlines())
        return f"{near}: {body}" if near else body


@dataclass(frozen=True, slots=True)
class _Indexed:
    passage: Passage
    terms: Counter[str]
    length: int


@dataclass
class Knowledge:
    """Passages of one knowledge file, and a BM25 index over them."""

    source: str
    passages: Sequence[Passage]
    _index: list[_Indexed] = field(init=False, repr=False)
    _df: Counter[str] = field(init=False, repr=False)
    _whole: dict[Language, str | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Index once, and decide once per language whether the knowledge goes whole: both are
        asked on every turn, on the event loop, and a file may be 2 MiB."""
        self._index = [_indexed(p) for p in self.passages]
        self._df = Counter(term for item in self._index for term in item.terms)
        self._whole = {language: self._joined(language) for language in Language}

    @classmethod
    def from_file(cls, path: Path) -> Knowledge:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KnowledgeError(f"AGENT_KNOWLEDGE_FILE {path} cannot be read: {exc}") from exc
        if len(data) > MAX_FILE_BYTES:
            raise KnowledgeError(
                f"AGENT_KNOWLEDGE_FILE {path} is {len(data):,} bytes; the limit is "
                f"{MAX_FILE_BYTES:,}."
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise KnowledgeError(f"AGENT_KNOWLEDGE_FILE {path} is not UTF-8 text.") from exc
        return cls.from_text(text, source=path.name)

    @classmethod
    def from_text(cls, text: str, *, source: str = "knowledge") -> Knowledge:
        return cls(source, list(_passages(text)))

    def in_language(self, language: Language) -> list[Passage]:
        """The passages in `language`, or all of them when none is."""
        own = [p for p in self.passages if p.language is language]
        return own or list(self.passages)

    def whole(self, language: Language) -> str | None:
        """Every passage for a caller speaking `language`, when they are small enough to go in
        every prompt; `None` when they must be retrieved from."""
        return self._whole[language]

    def _joined(self, language: Language) -> str | None:
        text = "\n\n".join(p.render() for p in self.in_language(language))
        return text if estimated_tokens(text) <= WHOLE_TOKENS else None

    def passages_for(
        self, query: str, language: Language, *, budget: int = RETRIEVED_TOKENS
    ) -> list[Passage]:
        """The passages that best match `query`, best first, about `budget` tokens in all (the
        best one always)."""
        chosen: list[Passage] = []
        used = 0
        for passage in self._ranked(query, language):
            size = estimated_tokens(passage.render())
            if chosen and used + size > budget:
                continue
            chosen.append(passage)
            used += size
        return chosen

    def _ranked(self, query: str, language: Language) -> list[Passage]:
        terms = set(_terms(query))
        if not terms:
            return []
        wanted = {id(p) for p in self.in_language(language)}
        items = [item for item in self._index if id(item.passage) in wanted]
        if not items:
            return []
        average = sum(item.length for item in items) / len(items)
        total = len(self._index)
        scored = []
        for item in items:
            score = sum(self._score(term, item, average, total) for term in terms)
            if score > 0:
                scored.append((score, item.passage))
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [passage for _, passage in scored]

    def _score(self, term: str, item: _Indexed, average: float, total: int) -> float:
        frequency = item.terms.get(term, 0)
        if not frequency:
            return 0.0
        df = self._df[term]
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        norm = frequency + K1 * (1 - B + B * item.length / max(average, 1.0))
        return idf * frequency * (K1 + 1) / norm


def estimated_tokens(text: str) -> int:
    """About how many tokens of a Qwen-style tokenizer `text` takes, without loading one."""
    hangul = sum("가" <= ch <= "힣" for ch in text)
    return round(hangul * 0.95 + (len(text) - hangul) / 3.6)


def language_of(text: str) -> Language:
    """Korean when most of the letters are Hangul."""
    hangul = sum("가" <= ch <= "힣" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return Language.KOREAN if hangul > latin else Language.ENGLISH


def _terms(text: str) -> list[str]:
    lowered = text.lower()
    terms = [_stem(w) for w in _ENGLISH.findall(lowered) if w not in _STOP]
    for run in _HANGUL_RUN.findall(lowered):
        terms += [run[i : i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]
    return terms


def _stem(word: str) -> str:
    """A plural's or a possessive's ending off: "refunds", "order's" and "order" are one term."""
    word = word.removesuffix("'s")
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _indexed(passage: Passage) -> _Indexed:
    # The headings name the subject: they count twice.
    terms = Counter(_terms(f"{passage.heading} {passage.heading} {passage.text}"))
    return _Indexed(passage, terms, sum(terms.values()))


def _passages(text: str) -> Iterable[Passage]:
    headings: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        if match := _HEADING.match(line):
            yield from _cut(" > ".join(headings), lines)
            level = len(match.group(1))
            headings = [*headings[: level - 1], match.group(2).strip()]
            lines = []
        else:
            lines.append(line)
    yield from _cut(" > ".join(headings), lines)


def _cut(heading: str, lines: list[str]) -> Iterable[Passage]:
    """A section as one passage, or, when it is long, as several of about `PASSAGE_TOKENS`,
    cut between paragraphs, and inside a long paragraph (a list) between its lines."""
    units: list[str] = []
    for paragraph in "\n".join(lines).split("\n\n"):
        if not paragraph.strip():
            continue
        if estimated_tokens(paragraph) > PASSAGE_TOKENS:
            units += [line for line in paragraph.splitlines() if line.strip()]
        else:
            units.append(paragraph.strip())
    piece: list[str] = []
    for unit in units:
        if piece and estimated_tokens("\n".join([*piece, unit])) > PASSAGE_TOKENS:
            yield _passage(heading, piece)
            piece = []
        piece.append(unit)
    if piece:
        yield _passage(heading, piece)


def _passage(heading: str, paragraphs: list[str]) -> Passage:
    text = "\n".join(paragraphs)
    return Passage(heading, text, language_of(f"{heading} {text}"))
