"""The worker thread each local model runs on, at a lower CPU priority than the audio path.

On two cores the models (Whisper, llama.cpp, Piper) can keep both cores busy, and the calls'
audio — the event loop pacing 20 ms frames, aiortc's decoder threads, Silero — must still get a
core the moment it needs one, or frames go out late and the echo guard compares the caller's
audio with the wrong moment. Each model's worker thread lowers its own priority (`nice` +5, a
per-thread value on Linux) before it loads the model, and the threads the model's runtime starts
from it (OpenMP, ONNX Runtime's and CTranslate2's pools) inherit that priority. The scheduler
then preempts a model for the audio path, while two idle cores still go to the models in full.
Lowering one's own priority needs no privilege.

The workers also count the model jobs running in the process (`models_at_work`), so that a model
whose runtime could use more than one core (llama.cpp) takes them only while no other is at work.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger("parley.ai")

MODEL_NICENESS = 5
T = TypeVar("T")

_at_work = 0  # model jobs running now, in every worker of the process
_count_lock = threading.Lock()


def _lower_priority() -> None:
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), current + MODEL_NICENESS)
    except (AttributeError, OSError) as exc:  # not Linux, or a sandbox that forbids it
        log.info("model thread priority left as it is: %s", exc)


def models_at_work() -> int:
    """How many model jobs (a transcription, a generation, a sentence's speech) run right now."""
    return _at_work


def _count(step: int) -> None:
    global _at_work
    with _count_lock:
        _at_work += step


class ModelWorker(ThreadPoolExecutor):
    """One worker thread for a model, at `MODEL_NICENESS` below the audio path; its jobs count
    in `models_at_work` while they run."""

    def __init__(self, name: str) -> None:
        super().__init__(1, thread_name_prefix=name, initializer=_lower_priority)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        def counted() -> T:
            _count(1)
            try:
                return fn(*args, **kwargs)
            finally:
                _count(-1)

        return super().submit(counted)


def model_worker(name: str) -> ModelWorker:
    return ModelWorker(name)
