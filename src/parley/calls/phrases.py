"""The agent's few fixed lines — the acknowledgement that fills a wait, the request to repeat —
synthesized once per voice and kept, so they play at once.

A human agent says "Okay." the moment the caller finishes, while they look the answer up; a
voice agent that waits silently for its LLM's first clause sounds slower than it is. The lines
are short and always the same, so their speech is cached, per (voice, language, text, rate),
in a cache bounded by the bytes of its audio (`PHRASE_CACHE_BYTES`; a line is ~40–100 KB at
48 kHz). The acknowledgement is neutral on purpose: it must not contradict whatever the answer
turns out to be ("Sure!" before "I'm afraid we can't"), so it promises nothing.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

from parley.ai.base import AudioChunk, Language

PHRASE_CACHE_BYTES = 8 * 1024 * 1024

ACKNOWLEDGEMENTS = {Language.ENGLISH: "Okay.", Language.KOREAN: "네."}
REPEAT_REQUESTS = {
    Language.ENGLISH: "Sorry, I didn't quite catch that. Could you say it again?",
    Language.KOREAN: "죄송하지만 잘 못 들었습니다. 다시 한 번 말씀해 주시겠어요?",
}

# A reply that opens with a word that only acknowledges ("Okay," "Sure," "네,") after the
# acknowledgement was played would say it twice: that opening clause is left out.
_FILLER_OPENING = re.compile(
    r"^(?:okay|ok|sure|alright|all right|certainly|of course|네|알겠습니다|물론입니다)[,.!]?$",
    re.IGNORECASE,
)

_Key = tuple[str, str, str, str, int]


def only_acknowledges(clause: str) -> bool:
    return bool(_FILLER_OPENING.match(clause.strip()))


class PhraseCache:
    """Speech of fixed lines, least recently used first out, `max_bytes` of audio at most."""

    def __init__(self, max_bytes: int = PHRASE_CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lines: OrderedDict[_Key, tuple[AudioChunk, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def size(self) -> int:
        return self._bytes

    def get(self, key: _Key) -> tuple[AudioChunk, ...] | None:
        chunks = self._lines.get(key)
        if chunks is not None:
            self._lines.move_to_end(key)
        return chunks

    def put(self, key: _Key, chunks: Sequence[AudioChunk]) -> None:
        size = sum(chunk.pcm.nbytes for chunk in chunks)
        if size > self._max_bytes:
            return
        if (old := self._lines.pop(key, None)) is not None:
            self._bytes -= sum(chunk.pcm.nbytes for chunk in old)
        self._lines[key] = tuple(chunks)
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._lines.popitem(last=False)
            self._bytes -= sum(chunk.pcm.nbytes for chunk in dropped)
