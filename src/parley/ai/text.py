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
_ABBREVIATIONS = ("mr.", "mrs.", "ms.", "dr.", "e.g.", "i.e.", "etc.", "vs.", "no.")
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
