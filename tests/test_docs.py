"""The README and docs/ link only to files of this repository, and every such link resolves."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); a target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
CODE = re.compile(r"`[^`\n]*`")


def links(page: Path) -> list[str]:
    """Link targets in a page's prose (code blocks and code spans are examples, not links)."""
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as '-'."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository_and_resolve(page: Path) -> None:
    assert links(page) or page.name != "README.md", "the README links to the docs"
    for target in links(page):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I), f"{target}: outside the repo"
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{target}: outside the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if fragment and resolved.suffix == ".md":
            assert fragment in anchors(resolved), f"{page.name}: {target}: no such heading"


def test_the_links_test_sees_links_and_not_examples(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '# A heading, with `code`\n\nSee [a](docs/a.md#x), ![b](x.png "t"), `[c](no.md)`'
        " and\n```\n[d](no.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page) == ["docs/a.md#x", "x.png"]
    assert anchors(page) == {"a-heading-with-code"}
