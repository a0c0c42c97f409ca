"""Model worker threads run below the audio path's priority, and so do the threads they start."""

from __future__ import annotations

import os
import threading

import pytest

from parley.ai.local.workers import MODEL_NICENESS, model_worker, models_at_work


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_model_worker_and_the_threads_it_starts_are_niced() -> None:
    own = niceness()
    worker = model_worker("test-model")
    try:

        def inside() -> tuple[int, int]:
            seen: list[int] = []
            child = threading.Thread(target=lambda: seen.append(niceness()))
            child.start()
            child.join()
            return niceness(), seen[0]

        worker_nice, child_nice = worker.submit(inside).result(10)
    finally:
        worker.shutdown()
    assert worker_nice == min(19, own + MODEL_NICENESS)
    assert child_nice == worker_nice  # a runtime's pool started from the worker inherits it
    assert niceness() == own  # the calling (event loop) thread is untouched


def test_model_jobs_count_while_they_run() -> None:
    worker = model_worker("test-count")
    release, started = threading.Event(), threading.Event()
    before = models_at_work()

    def job() -> str:
        started.set()
        release.wait(10)
        return "done"

    try:
        future = worker.submit(job)
        assert started.wait(10)
        assert models_at_work() == before + 1
        release.set()
        assert future.result(10) == "done"
        assert models_at_work() == before
        failing = worker.submit(lambda: 1 / 0)  # a job that fails is not counted any more
        with pytest.raises(ZeroDivisionError):
            failing.result(10)
        assert models_at_work() == before
    finally:
        release.set()
        worker.shutdown()
