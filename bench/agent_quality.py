"""How well the agent answers callers, text in and text out: the LLM and its prompt, measured on a
labelled set of caller utterances with a knowledge file, so that model, prompt and profile are
chosen by figures (issue 14).

    .venv/bin/python -m bench.agent_quality [--split all|tuning|heldout] [--language en|ko]
        [--model FILE.gguf] [--profile NAME] [--temperature T] [--limit N] [--out results.jsonl]

Each utterance of bench/data/agent/utterances.toml goes through what a call does with a
transcript: `Agent(knowledge).messages(...)` builds the prompt (the rules, the retrieved
passages of bench/data/agent/knowledge.md, the caller's words), the configured LLM streams the
reply, and `Agent.shaper` keeps what a caller would hear, stopping the model at the sentence
limit. The served answer is scored by bench/agent_rubric.py (language, length, markdown,
refusal, AI talk, in role, invented facts, on topic for its category).

Prints the pass rate overall, per split, per category and per check, by language; how often an
expected fact was in the prompt at all (a miss there is the retrieval's, not the model's); how
often the shaper had to step in (the model was still writing at the sentence limit, wrote
markdown or AI talk); latency to the first token and to the first clause (what TTS can start on:
the first audio is that plus TTS's first chunk), p50/p95; the size of the answers; and every
failing answer with the headings of the passages it was given, for a person to read. Text only,
no audio. Asserts nothing; temperature > 0 makes figures vary from run to run.

`--split tuning` is the part a prompt may be tuned on; `heldout` is for the figures that decide,
and must not be looked at while tuning. `--rescore results.jsonl` scores the answers of an
earlier `--out` again (after a change to the rubric or the labels), without a model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.agent_rubric import (
    DATA,
    Category,
    Item,
    KnownFacts,
    Score,
    check_disclaimer,
    check_markdown,
    load_items,
    mentions,
    score,
)
from parley.ai.base import ChatMessage, Language, LanguageModel, Loadable, Warmable
from parley.ai.engine import build_engine, install_local_models
from parley.calls.agent import Agent
from parley.calls.knowledge import Knowledge
from parley.config import AgentSettings, AISettings, Settings, load_settings

_HEADINGS = re.compile(r"^\[(.+)\]$", re.MULTILINE)  # how a passage is rendered in the prompt
WARM_UP = {Language.ENGLISH: "Hello?", Language.KOREAN: "여보세요?"}


@dataclass(frozen=True, slots=True)
class Answer:
    """One item's answer: what the caller hears (`text`), what the model wrote before it was
    stopped (`raw`), and when."""

    item: Item
    text: str
    raw: str
    first_token_ms: float | None
    first_clause_ms: float | None
    total_ms: float
    pieces: int  # streamed pieces: one token each from llama.cpp
    stopped: bool  # the model was still writing when the shaper's limit was reached
    score: Score
    given: str  # the knowledge the prompt gave for this turn (retrieved, or the whole file)

    @property
    def grounded(self) -> bool:
        """An expected fact was in the prompt: a miss is the model's, not the retrieval's."""
        return mentions(self.given, self.item.expect_any) is not None

    @property
    def headings(self) -> list[str]:
        return _HEADINGS.findall(self.given)


# ------------------------------------------------------------------------------- the model


def settings_for(args: argparse.Namespace) -> Settings:
    """The configured settings with the command line's model, temperature and profile on top
    (as the environment variables they stand for, so they are validated as in `parley serve`)."""
    overrides = {"LLM_MODEL_PATH": args.model, "LLM_TEMPERATURE": args.temperature}
    if args.profile is not None:
        overrides[profile_variable()] = args.profile
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(value)
    settings = load_settings(None)
    if args.model is not None:
        settings = settings.model_copy(
            update={"ai": settings.ai.model_copy(update={"llm": "local"})}
        )
    return settings


def profile_variable() -> str:
    """The environment variable that chooses a profile (`*_PROFILE`), whichever section has it."""
    for section in (AISettings, AgentSettings):
        for field in section.model_fields.values():
            alias = str(field.validation_alias or "")
            if alias.endswith("PROFILE"):
                return alias
    sys.exit("--profile: this build has no *_PROFILE setting")


async def load_llm(settings: Settings) -> LanguageModel:
    """The LLM the settings name, loaded (local weights assembled first if need be)."""
    await asyncio.to_thread(install_local_models, settings)
    llm = build_engine(settings).llm
    if isinstance(llm, Loadable):
        await llm.load()
    return llm


async def warm(llm: LanguageModel, agent: Agent, languages: Iterable[Language]) -> None:
    """Read each language's system prompt once, as a server does at start-up, so the first
    item is not timed on a cold prompt."""
    if isinstance(llm, Warmable):
        for language in languages:
            await llm.warm(agent.messages(language, None, [], WARM_UP[language]))


# ------------------------------------------------------------------------------ one answer


async def ask(
    llm: LanguageModel, agent: Agent, item: Item, known: KnownFacts, max_tokens: int
) -> Answer:
    """Stream the reply to `item` through the agent's shaper, as a call would."""
    messages = agent.messages(item.language, None, [], item.text)
    shaper = agent.shaper(item.language)
    kept: list[str] = []
    raw: list[str] = []
    first_token: float | None = None
    first_clause: float | None = None
    started = time.perf_counter()
    stream = llm.stream_reply(messages, max_tokens=max_tokens)
    try:
        async for piece in stream:
            now = _ms(started)
            first_token = now if first_token is None else first_token
            raw.append(piece)
            out = shaper.feed(piece)
            if out and first_clause is None:
                first_clause = now
            kept += out
            if shaper.done:
                break
    finally:
        await _close(stream)
    stopped = shaper.done
    kept += shaper.flush()
    total = _ms(started)
    if kept and first_clause is None:
        first_clause = total
    text = " ".join(piece.strip() for piece in kept if piece.strip())
    return Answer(
        item=item,
        text=text,
        raw="".join(raw),
        first_token_ms=first_token,
        first_clause_ms=first_clause,
        total_ms=total,
        pieces=len(raw),
        stopped=stopped,
        score=score(text, item, known),
        given=given_knowledge(agent, item, messages),
    )


def given_knowledge(agent: Agent, item: Item, messages: Sequence[ChatMessage]) -> str:
    """The knowledge in the prompt: the whole file (in the system prompt) when it is small,
    else what was retrieved into the caller's turn (the turn without the caller's words)."""
    if agent.knowledge is not None and (whole := agent.knowledge.whole(item.language)):
        return whole
    return messages[-1].content.replace(item.text, "")


async def _close(stream: AsyncIterator[str]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------------------------- report


def share(answers: Sequence[Answer], passed: Callable[[Answer], bool]) -> str:
    if not answers:
        return f"{'-':>11}"
    good = sum(passed(a) for a in answers)
    return f"{good:>3}/{len(answers):<3} {good / len(answers):4.0%}"


def percentiles(values: Sequence[float]) -> str:
    if not values:
        return f"{'-':>15}"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):7.0f} {p95:7.0f}"


def columns(answers: Sequence[Answer]) -> dict[str, list[Answer]]:
    return {
        "all": list(answers),
        "en": [a for a in answers if a.item.language is Language.ENGLISH],
        "ko": [a for a in answers if a.item.language is Language.KOREAN],
    }


def print_rates(answers: Sequence[Answer]) -> None:
    cols = columns(answers)
    print(f"\n{'pass rate':<30}" + "".join(f"{name:>13}" for name in cols))

    def row(label: str, keep: Callable[[Answer], bool], passed: Callable[[Answer], bool]) -> None:
        cells = [share([a for a in col if keep(a)], passed) for col in cols.values()]
        print(f"{label:<30}" + "".join(f"{cell:>13}" for cell in cells))

    row("overall", _everything, _passed)
    row("  tuning", _in_split(heldout=False), _passed)
    row("  heldout", _in_split(heldout=True), _passed)
    print("by category")
    for category in Category:
        row(f"  {category.value}", _in_category(category), _passed)
    row("  answerable, fact in prompt", _answerable, _grounded)
    print("by check")
    for index, check in enumerate(answers[0].score.checks if answers else ()):
        row(f"  {check.name}", _everything, _check_passed(index))


def _everything(answer: Answer) -> bool:
    return True


def _answerable(answer: Answer) -> bool:
    return answer.item.category is Category.ANSWERABLE


def _grounded(answer: Answer) -> bool:
    return answer.grounded


def _passed(answer: Answer) -> bool:
    return answer.score.passed


def _in_split(*, heldout: bool) -> Callable[[Answer], bool]:
    return lambda answer: answer.item.heldout is heldout


def _in_category(category: Category) -> Callable[[Answer], bool]:
    return lambda answer: answer.item.category is category


def _check_passed(index: int) -> Callable[[Answer], bool]:
    return lambda answer: answer.score.checks[index].passed


def print_shaping(answers: Sequence[Answer]) -> None:
    """What the shaper had to do: the model's own text, up to where it was stopped."""
    cols = columns(answers)
    print(f"\n{'the model, unshaped':<30}" + "".join(f"{name:>13}" for name in cols))
    rows: dict[str, Callable[[Answer], bool]] = {
        "  ran to the limit": lambda a: a.stopped,
        "  wrote markdown": lambda a: not check_markdown(a.raw).passed,
        "  wrote AI talk": lambda a: not check_disclaimer(a.raw).passed,
    }
    for label, happened in rows.items():
        print(f"{label:<30}" + "".join(f"{share(col, happened):>13}" for col in cols.values()))


def print_timing(answers: Sequence[Answer]) -> None:
    cols = columns(answers)
    print(f"\n{'ms, p50 p95':<30}" + "".join(f"{name:>17}" for name in cols))
    measures: dict[str, Callable[[Answer], float | None]] = {
        "first token": lambda a: a.first_token_ms,
        "first clause": lambda a: a.first_clause_ms,
        "whole answer": lambda a: a.total_ms,
    }
    for label, measure in measures.items():
        cells = [percentiles(_values(col, measure)) for col in cols.values()]
        print(f"{label:<30}" + "".join(f"{cell:>17}" for cell in cells))
    print(f"{'size, p50 p95':<30}")
    sizes: dict[str, Callable[[Answer], float | None]] = {
        "tokens generated": lambda a: a.pieces,
        "chars heard": lambda a: len(a.text),
    }
    for label, measure in sizes.items():
        cells = [percentiles(_values(col, measure)) for col in cols.values()]
        print(f"{label:<30}" + "".join(f"{cell:>17}" for cell in cells))


def _values(answers: Iterable[Answer], measure: Callable[[Answer], float | None]) -> list[float]:
    return [value for a in answers if (value := measure(a)) is not None]


def print_failures(answers: Sequence[Answer], show: str) -> None:
    chosen = [a for a in answers if show == "all" or (show == "failing" and not a.score.passed)]
    if not chosen:
        return
    print(f"\n{'answers' if show == 'all' else 'failing answers'} ({len(chosen)})")
    for a in chosen:
        failed = [f"{c.name} ({c.detail})" for c in a.score.checks if not c.passed]
        split = "heldout" if a.item.heldout else "tuning"
        print(f"- {a.item.id} [{a.item.category.value}, {split}] {'; '.join(failed) or 'passed'}")
        print(f"    caller: {a.item.text}")
        print(f"    agent:  {a.text or '(nothing)'}")
        if a.item.category is Category.ANSWERABLE:
            found = "expected fact in it" if a.grounded else "no expected fact in it"
            print(f"    given:  {' | '.join(a.headings) or '(no passage)'} ({found})")


def write_results(path: Path, answers: Sequence[Answer], about: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for a in answers:
            row = {
                **about,
                **asdict(a.item),
                "answer": a.text,
                "raw": a.raw,
                "passed": a.score.passed,
                "failed": a.score.failed,
                "checks": {
                    c.name: {"passed": c.passed, "detail": c.detail} for c in a.score.checks
                },
                "first_token_ms": a.first_token_ms,
                "first_clause_ms": a.first_clause_ms,
                "total_ms": a.total_ms,
                "tokens": a.pieces,
                "stopped": a.stopped,
                "given": a.given,
                "grounded": a.grounded,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------ main


def chosen_items(args: argparse.Namespace) -> list[Item]:
    items = load_items(args.items)
    if args.split != "all":
        items = [i for i in items if i.heldout is (args.split == "heldout")]
    if args.language is not None:
        items = [i for i in items if i.language.value == args.language]
    return items[: args.limit] if args.limit else items


async def main(args: argparse.Namespace) -> None:
    items = chosen_items(args)
    known = KnownFacts.from_text(args.knowledge.read_text(encoding="utf-8"))
    if args.rescore is not None:
        answers = rescored(args.rescore, items, known)
        print(f"agent quality, re-scored: {args.rescore} ({len(answers)} answers)")
    else:
        answers = await run(args, items, known)
    print_rates(answers)
    print_shaping(answers)
    print_timing(answers)
    print_failures(answers, args.show)


async def run(args: argparse.Namespace, items: Sequence[Item], known: KnownFacts) -> list[Answer]:
    """Every item asked of the configured (or given) model, one at a time, as a call would."""
    settings = settings_for(args)
    knowledge = Knowledge.from_file(args.knowledge)
    agent = Agent(knowledge, max_sentences=settings.agent.max_sentences)
    llm = await load_llm(settings)
    about = {
        "llm": llm.name,
        "temperature": settings.ai.llm_temperature,
        "profile": args.profile,
        "knowledge": args.knowledge.name,
    }
    print(
        f"agent quality: {llm.name}, temperature {settings.ai.llm_temperature}"
        f"{f', profile {args.profile}' if args.profile else ''}; knowledge {args.knowledge.name}"
        f" ({len(knowledge.passages)} passages); split {args.split}: {len(items)} utterances"
    )
    answers = []
    try:
        await warm(llm, agent, sorted({i.language for i in items}))
        for number, item in enumerate(items, 1):
            answer = await ask(llm, agent, item, known, settings.ai.llm_max_tokens)
            answers.append(answer)
            mark = "ok  " if answer.score.passed else "FAIL"
            print(f"  {number:3d}/{len(items)} {mark} {item.id:<26} {answer.total_ms:6.0f} ms")
    finally:
        await llm.aclose()
    if args.out is not None:
        write_results(args.out, answers, about)
        print(f"per answer: {args.out}")
    return answers


def rescored(path: Path, items: Sequence[Item], known: KnownFacts) -> list[Answer]:
    """The answers of an earlier `--out` file, scored again by today's rubric and labels (the
    items chosen by --split/--language/--limit that it has an answer for)."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["id"]] = row
    return [_answer(item, rows[item.id], known) for item in items if item.id in rows]


def _answer(item: Item, row: dict[str, Any], known: KnownFacts) -> Answer:
    return Answer(
        item=item,
        text=row["answer"],
        raw=row["raw"],
        first_token_ms=row["first_token_ms"],
        first_clause_ms=row["first_clause_ms"],
        total_ms=row["total_ms"],
        pieces=row["tokens"],
        stopped=row["stopped"],
        score=score(row["answer"], item, known),
        given=row.get("given", ""),
    )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--split", choices=("all", "tuning", "heldout"), default="all")
    parser.add_argument("--language", choices=[lang.value for lang in Language])
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the configured LLM)")
    parser.add_argument("--profile", help="a profile name, as its *_PROFILE setting takes")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    parser.add_argument("--out", type=Path, help="write each answer and its checks as JSON lines")
    parser.add_argument("--show", choices=("failing", "all", "none"), default="failing")
    parser.add_argument("--knowledge", type=Path, default=DATA / "knowledge.md")
    parser.add_argument("--items", type=Path, default=DATA / "utterances.toml")
    parser.add_argument(
        "--rescore", type=Path, help="score the answers of an earlier --out file (no model)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
