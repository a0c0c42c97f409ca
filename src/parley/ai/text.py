"""Text between the LLM and the voice: cut into speakable pieces, cleaned of what cannot be said.

`SentenceSplitter` receives the reply as it streams and hands out a piece as soon as it ends a
sentence, or a clause once the piece is long enough (the very first clause at its comma, even
after one word — "Sure," "Yes," "I'm sorry," — at 50–90 ms a token on this machine each word
the caller waits for counts, and a reply that opens "Sure, I can help with that." is heard
~0.4–0.7 s sooner), so speech can start long before the reply is complete. Decimal points,
abbreviations and ellipses inside a sentence do not cut it. A first clause goes the moment its
comma comes after a word, without waiting for the next token to show the space after it.
"""

from __future__ import annotations

import re

_END = re.compile(r"(?<!\d)([.!?。！？…]+)[\"')\]]*(\s+|$)|(?<=\d)([.!?]+)(\s+|$)")
_CLAUSE = re.compile(r"[,;:，、]\s+")
_CLAUSE_NOW = re.compile(r"(?<=[^\W\d_])[,;:，、]$")  # after a word: nothing can follow but a pause
_ABBREVIATIONS = ("mr.", "mrs.", "ms.", "dr.", "e.g.", "i.e.", "etc.", "vs.", "no.", "a.m.", "p.m.")
_MARKDOWN = re.compile(r"[*_`#>|~]+|^\s*[-•]\s+", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")
_SPACES = re.compile(r"\s+")


def speakable(text: str) -> str:
    """The text with markdown, links and emoji removed, as a voice should read it."""
    text = _URL.sub("", text)
    text = _MARKDOWN.sub("", text)
    text = _EMOJI.sub("", text)
    return _SPACES.sub(" ", text).strip()


class SentenceSplitter:
    """Feed streamed text in; take complete sentences (or long clauses) out."""

    def __init__(
        self, clause_chars: int = 60, first_clause_chars: int = 24, first_clause_words: int = 1
    ) -> None:
        self._buffer = ""
        self._first_clause_words = first_clause_words
        self._clause_chars = clause_chars
        self._first_clause_chars = first_clause_chars
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        pieces: list[str] = []
        while (piece := self._take()) is not None:
            if piece:
                pieces.append(piece)
        return pieces

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest

    def _take(self) -> str | None:
        for match in _END.finditer(self._buffer):
            if self._is_abbreviation(match.start()):
                continue
            if match.end() == len(self._buffer) and not self._buffer[-1].isspace():
                break  # a final "." may still become "..." or "3.5": wait for the next text
            return self._cut(match.end())
        return self._clause()

    def _clause(self) -> str | None:
        if self._emitted == 0:  # the first words are what the caller waits for: "Sure," goes
            for early in _CLAUSE.finditer(self._buffer):
                if len(self._buffer[: early.start()].split()) >= self._first_clause_words:
                    return self._cut(early.end())
            # A comma right after a word ends the clause whatever comes next ("1," may still
            # become "1,000"): no need to wait for the next token (~50–85 ms here) to see it.
            if (now := _CLAUSE_NOW.search(self._buffer)) and len(
                self._buffer[: now.start()].split()
            ) >= self._first_clause_words:
                return self._cut(now.end())
        limit = self._first_clause_chars if self._emitted == 0 else self._clause_chars
        if len(self._buffer) < limit:
            return None
        clauses = list(_CLAUSE.finditer(self._buffer))
        clause = clauses[-1] if clauses else None
        if clause is None or clause.end() < limit // 2:
            return None
        return self._cut(clause.end())

    def _cut(self, end: int) -> str:
        piece, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
        self._emitted += 1
        return piece

    def _is_abbreviation(self, dot: int) -> bool:
        word = self._buffer[: dot + 1].rsplit(None, 1)[-1].lower()
        return word in _ABBREVIATIONS


# What a model says about itself instead of answering ("As an AI language model, I ..."): never
# read to a caller. A clause that opens with it loses the opening; a sentence that is only about
# being an AI is dropped whole.
_AI_OPENING = re.compile(
    r"^\s*(?:as an? (?:ai|artificial intelligence)(?: language model| model| assistant)?"
    r"|ai 언어 모델로서|인공지능(?: 언어 모델)?으로서|저는 ai(?: 언어 모델)?로서)[,，]?\s*",
    re.IGNORECASE,
)
_AI_SENTENCE = re.compile(
    r"\b(?:i am|i'm) (?:just |only )?an? (?:ai|artificial intelligence|language model)\b"
    r"|\blanguage model\b|\bas an? (?:ai|artificial intelligence)\b|(?:저는|전) (?:ai|인공지능)",
    re.IGNORECASE,
)
# A small model's stock refusal of an ordinary request ("I'm sorry, but I can't assist with
# that."): a caller is never turned away like that; the refusal becomes an offer of a person.
_REFUSAL = re.compile(
    r"\b(?:can(?:'|no)?t|cannot|am unable to|'m unable to|am not able to) (?:assist|help)"
    r"(?: you)? with (?:that|this|your request)|\bunable to (?:assist|help|provide)"
    r"|도와드릴 수 없|도움을 드릴 수 없|지원(?:해 드릴|할) 수 없",
    re.IGNORECASE,
)
HANDOFF = {
    "en": "I can transfer you to a colleague who can help with that.",
    "but": "but I can transfer you to a colleague who can help with that.",
    "ko": "담당자에게 연결해 드리겠습니다.",
}
_LINE_BREAK = re.compile(r"\n\s*(?:(?:\d{1,2}[.)]|[-*•])\s+)?")
_MAYBE_MARKER = re.compile(r"\n\s*(?:\d{1,2}[.)]?|[-*•])?")  # what may still become a marker
_SENTENCE_END = re.compile(r"[.!?。！？…][\"')\]]*$")


class PhoneReply:
    """What of an LLM's streamed reply a caller hears: at most `max_sentences` sentences (the
    generation is stopped there: `done`), no markdown or list markers, nothing about being an AI.

    A refusal of an ordinary request ("I can't assist with that") becomes an offer to transfer
    the caller to a person, and ends the reply: a phone line does not turn people away.

    The instructions ask the model for one or two short sentences; a 0.5B model often writes a
    list or a paragraph anyway (15–22 s of speech in the issue's trial), so the server holds it to
    them. A list's lines become sentences ("Steps: 1. Open settings 2. ..." is read as "Steps:
    Open settings. ..."), so the limit applies to them too. Pieces come out as the
    `SentenceSplitter` cuts them (a first clause at its comma), cleaned with `speakable`.
    """

    def __init__(self, max_sentences: int = 2, max_chars: int = 400) -> None:
        self._splitter = SentenceSplitter()
        self._max_sentences = max_sentences
        self._max_chars = max_chars
        self._raw = ""
        self._sentences = 0
        self._chars = 0
        self._open_clause = False  # the last piece given out was a clause, not a sentence end
        self._tail = ""  # the end of the text handed to the splitter so far
        self.done = False

    def feed(self, text: str) -> list[str]:
        """The pieces ready to speak once `text` (the next of the stream) is added."""
        if self.done:
            return []
        self._raw += text
        return self._keep(self._splitter.feed(self._lines(final=False)))

    def flush(self) -> list[str]:
        """The rest, once the stream has ended (or was stopped)."""
        if self.done:
            return []
        pieces = self._splitter.feed(self._lines(final=True))
        return self._keep([*pieces, self._splitter.flush()])

    def _lines(self, *, final: bool) -> str:
        """The stream so far with its line breaks (and the list markers after them) turned into
        sentence ends, so that a list is read, and counted, as sentences. A line break is held
        back until the next few characters show whether a marker follows it."""
        out = ""
        while (cut := self._raw.find("\n")) != -1:
            out += self._raw[:cut]
            rest = self._raw[cut:]
            if not final and len(rest) < 6 and _MAYBE_MARKER.fullmatch(rest):
                self._raw = rest
                return self._settle(out)
            marker = _LINE_BREAK.match(rest)
            self._raw = rest[marker.end() if marker else 1 :]
            out = self._settle(out)
            tail = self._tail
            ended = not tail or tail.endswith((":", "：")) or _SENTENCE_END.search(tail)
            out += " " if ended else ". "
        out += self._raw
        self._raw = ""
        return self._settle(out)

    def _settle(self, out: str) -> str:
        if out.strip():
            self._tail = out.rstrip()[-8:]
        return out

    def _keep(self, pieces: list[str]) -> list[str]:
        kept: list[str] = []
        for piece in pieces:
            if self.done:
                break
            text = _without_ai_talk(speakable(piece), opening=not self._open_clause)
            ends = bool(_SENTENCE_END.search(piece))
            if _REFUSAL.search(text):
                text, ends, self._sentences = _handoff(text), True, self._max_sentences
            if text:
                kept.append(text)
                self._chars += len(text)
                self._open_clause = not ends
            if ends and text:
                self._sentences += 1
            if self._sentences >= self._max_sentences or self._chars >= self._max_chars:
                self.done = True
        return kept


def _handoff(refusal: str) -> str:
    if any("가" <= ch <= "힣" for ch in refusal):
        return HANDOFF["ko"]
    return HANDOFF["but"] if refusal.lower().startswith("but ") else HANDOFF["en"]


def _without_ai_talk(text: str, *, opening: bool) -> str:
    if _AI_SENTENCE.search(text):
        return ""
    if opening and (trimmed := _AI_OPENING.sub("", text)) != text:
        return trimmed[:1].upper() + trimmed[1:]
    return text
