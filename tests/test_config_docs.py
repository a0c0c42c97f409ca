"""docs/configuration.md is generated from the settings' descriptions and cannot drift."""

from pathlib import Path

import pytest

from parley import config_docs
from parley.config_docs import all_fields, env_name, render, undescribed

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "configuration.md"


def test_the_committed_page_is_what_the_generator_writes() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python -m parley.config_docs`"
    )


def test_every_setting_has_a_description() -> None:
    assert undescribed() == []


def test_every_setting_is_on_the_page_once() -> None:
    names = [env_name(field) for _, field in all_fields()]
    page = render()
    assert len(names) == len(set(names))
    for name in names:
        assert page.count(f"| `{name}` |") == 1, name


def test_the_page_shows_no_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page comes from the code alone: configured secrets never reach it."""
    secrets = {
        "OPENAI_API_KEY": "sk-secret-value-never-shown-0123456789",
        "MEETING_TOKEN_SECRET": "token-secret-never-shown-0123456789abcdef",
        "DB_PASSWORD": "db-password-never-shown",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    page = render()
    assert page == PAGE.read_text(encoding="utf-8")
    for value in secrets.values():
        assert value not in page


def test_check_mode_tells_a_stale_page(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    assert config_docs.main(["--output", str(page), "--check"]) == 1
    assert config_docs.main(["--output", str(page)]) == 0
    assert config_docs.main(["--output", str(page), "--check"]) == 0
    page.write_text(page.read_text(encoding="utf-8") + "an edit by hand\n", encoding="utf-8")
    assert config_docs.main(["--output", str(page), "--check"]) == 1
