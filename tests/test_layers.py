"""Layers point one way: web → calls/meetings → ai/rtc/janus/storage (STYLE.md, habit 5).

Every import in `src/parley` is read with `ast`, lazy ones inside functions and `TYPE_CHECKING`
ones included (a deferred dependency is still a dependency), and none may point up a layer.
Modules outside the layers (config, errors, tasks, cli, ...) are not checked.

One kind of upward import is the design, not a slip: `storage` implements the stores that the use
cases declare as ports (`calls/ports.py`, `meetings/ports.py`: "the use cases never import it"),
so it may read those ports and the domain values that cross them, and nothing else above it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from importlib.util import resolve_name
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LOWER = frozenset({"ai", "rtc", "janus", "storage"})
USE_CASES = frozenset({"calls", "meetings"})
FORBIDDEN = {
    **{layer: USE_CASES | {"web"} for layer in LOWER},
    **{layer: frozenset({"web"}) for layer in USE_CASES},
}
PORTS = ("calls.ports", "calls.domain", "calls.phone", "meetings.ports", "meetings.domain")
ALLOWED = {"storage": tuple(f"parley.{module}" for module in PORTS)}


def imports(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute name) of every import in `source`, a module of `package`.

    For `from a import b` the name is `a.b`: `b` may be a module (`from parley import web`).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_name("." * node.level + (node.module or ""), package)
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "parley" else ""


def upward(source: str, package: str) -> list[tuple[int, str]]:
    """The imports of `source` that point to a layer above `package`'s."""
    forbidden = FORBIDDEN.get(layer(package), frozenset())
    allowed = ALLOWED.get(layer(package), ())
    return sorted(
        (line, name)
        for line, name in imports(source, package)
        if layer(name) in forbidden and not _within(name, allowed)
    )


def _within(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == module or name.startswith(f"{module}.") for module in modules)


def test_no_import_points_up_the_layers() -> None:
    found = []
    for path in sorted((SRC / "parley").rglob("*.py")):
        package = ".".join(path.parent.relative_to(SRC).parts)
        for line, name in upward(path.read_text(encoding="utf-8"), package):
            found.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert found == []


def test_every_kind_of_import_is_seen() -> None:
    source = "\n".join(
        [
            "import parley.web.app",
            "from parley import meetings",
            "from ..calls import domain",
            "from .base import Language",
            "from parley.storage import db",
            "if TYPE_CHECKING:",
            "    from parley.calls.live import LiveCall",
            "def later() -> None:",
            "    from parley.web import app",
        ]
    )
    assert upward(source, "parley.ai") == [
        (1, "parley.web.app"),
        (2, "parley.meetings"),
        (3, "parley.calls.domain"),
        (7, "parley.calls.live.LiveCall"),
        (9, "parley.web.app"),
    ]
    assert upward(source, "parley.calls") == [(1, "parley.web.app"), (9, "parley.web.app")]
    assert upward(source, "parley.web") == []


def test_storage_reads_only_the_ports_and_domain_of_the_use_cases() -> None:
    source = "\n".join(
        [
            "from parley.calls.domain import Call",
            "from parley.meetings.ports import Page",
            "from parley.calls.service import CallService",
            "from parley.calls import domain, live",
        ]
    )
    assert upward(source, "parley.storage") == [
        (3, "parley.calls.service.CallService"),
        (4, "parley.calls.live"),
    ]
