"""The bounded memory of the process: what each cache and per-call or per-meeting structure that
grows with traffic holds, in bytes, against its limit.

Each such structure (the local LLM's prompt states, the assistant's pending warm-ups, the speech
tracks' audio) enforces a limit in bytes of its own and registers here; `/metrics` reports them
under `caches`. The figures are measured from the objects kept (array and buffer sizes), not
estimated from counts: a cache whose accounting is wrong is how a 512 MiB limit once let the
server grow by gigabytes (issue 12). Sources are held weakly: a structure that is gone drops out.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CacheFigures:
    bytes: int  # held now, measured
    limit: int  # bytes it never holds more than
    entries: int


class Bounded(Protocol):
    def figures(self) -> CacheFigures: ...


_SOURCES: weakref.WeakKeyDictionary[Bounded, str] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()  # sources register from model threads; /metrics reads on the loop


def register(name: str, source: Bounded) -> None:
    """Report `source` under `name` for as long as it lives; sources of one name add up."""
    with _LOCK:
        _SOURCES[source] = name


def figures() -> dict[str, CacheFigures]:
    """Every live source's figures, summed by name, names in order."""
    with _LOCK:
        sources = list(_SOURCES.items())
    totals: dict[str, CacheFigures] = {}
    for source, name in sources:
        mine = source.figures()
        seen = totals.get(name, CacheFigures(0, 0, 0))
        totals[name] = CacheFigures(
            seen.bytes + mine.bytes, seen.limit + mine.limit, seen.entries + mine.entries
        )
    return dict(sorted(totals.items()))
