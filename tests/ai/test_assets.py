"""Model files assembled from the PyPI packages, checked by hash (real files, ~640 MB)."""

from dataclasses import replace
from pathlib import Path

import pytest

from parley.ai import assets


def test_whisper_is_joined_checked_and_not_redone(tmp_path: Path) -> None:
    path = assets.install(assets.WHISPER_BASE, tmp_path)
    assert path.stat().st_size == assets.total_size(assets.WHISPER_BASE)
    assert (path.parent / "tokenizer.json").is_file()
    assert (path.parent / "config.json").is_file()
    assert assets.is_installed(assets.WHISPER_BASE, tmp_path)
    mtime = path.stat().st_mtime_ns
    assert assets.install(assets.WHISPER_BASE, tmp_path) == path
    assert path.stat().st_mtime_ns == mtime  # verified once, not joined again


def test_a_truncated_file_is_joined_again(tmp_path: Path) -> None:
    path = assets.install(assets.WHISPER_BASE, tmp_path)
    with path.open("r+b") as file:
        file.truncate(1000)
    assert not assets.is_installed(assets.WHISPER_BASE, tmp_path)
    assets.install(assets.WHISPER_BASE, tmp_path)
    assert assets.is_installed(assets.WHISPER_BASE, tmp_path)


def test_a_wrong_hash_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    corrupt = replace(assets.WHISPER_BASE, sha256="0" * 64)
    with pytest.raises(assets.ModelAssetError, match="SHA-256"):
        assets.install(corrupt, tmp_path)
    assert not corrupt.path(tmp_path).exists()
    assert not list(tmp_path.rglob("*.partial"))


def test_a_missing_package_is_named() -> None:
    missing = assets.PackagedFile("parley_no_such_model_package", "data/x.bin")
    with pytest.raises(assets.ModelAssetError, match="parley_no_such_model_package"):
        missing.locate()


def test_packaged_voice_and_vad_exist() -> None:
    assert assets.PIPER_JOE.locate().stat().st_size > 10_000_000
    assert assets.SILERO_VAD.locate().stat().st_size > 100_000
