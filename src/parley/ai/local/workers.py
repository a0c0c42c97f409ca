"""The worker thread each local model runs on, at a lower CPU priority than the audio path.

On two cores the models (Whisper, llama.cpp, Piper) can keep both cores busy, and the calls'
audio — the event loop pacing 20 ms frames, aiortc's decoder threads, Silero — must still get a
core the moment it needs one, or frames go out late and the echo guard compares the caller's
audio with the wrong moment. Each model's worker thread lowers its own priority (`nice` +5, a
per-thread value on Linux) before it loads the model, and the threads the model's runtime starts
from it (OpenMP, ONNX Runtime's and CTranslate2's pools) inherit that priority. The scheduler
then preempts a model for the audio path, while two idle cores still go to the models in full.
Lowering one's own priority needs no privilege.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("parley.ai")

MODEL_NICENESS = 5


def _lower_priority() -> None:
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), current + MODEL_NICENESS)
    except (AttributeError, OSError) as exc:  # not Linux, or a sandbox that forbids it
        log.info("model thread priority left as it is: %s", exc)


def model_worker(name: str) -> ThreadPoolExecutor:
    """One worker thread for a model, at `MODEL_NICENESS` below the audio path."""
    return ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_lower_priority)
