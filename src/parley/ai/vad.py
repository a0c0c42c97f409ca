"""Voice activity: Silero VAD (v6, ONNX, the file faster-whisper ships) on onnxruntime.

The model reads 32 ms windows (512 samples at 16 kHz), each with the 64 samples before it as
context, and carries an LSTM state from window to window. `VadState` keeps that state, so a live
call can feed audio as it arrives (`SileroVAD.feed`) and get one probability per window, and a
whole clip is just one long feed.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from parley.ai.base import SAMPLE_RATE, Samples

WINDOW = 512
CONTEXT = 64
Probabilities = npt.NDArray[np.float32]


@dataclass
class VadState:
    """What Silero carries between windows of one audio stream."""

    h: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((1, 1, 128), np.float32))
    c: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((1, 1, 128), np.float32))
    context: Samples = field(default_factory=lambda: np.zeros(CONTEXT, np.float32))
    pending: Samples = field(default_factory=lambda: np.zeros(0, np.float32))


class SileroVAD:
    window = WINDOW

    def __init__(self, model_path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(model_path), providers=["CPUExecutionProvider"], sess_options=options
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vad")

    async def speech_probabilities(self, audio: Samples) -> Probabilities:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.feed, VadState(), audio)

    def feed(self, state: VadState, audio: Samples) -> Probabilities:
        """Probabilities for every complete window in `state.pending + audio` (blocking)."""
        samples = np.concatenate([state.pending, audio.astype(np.float32, copy=False)])
        usable = len(samples) - len(samples) % WINDOW
        state.pending = samples[usable:]
        if usable == 0:
            return np.zeros(0, np.float32)
        windows = samples[:usable].reshape(-1, WINDOW)
        contexts = np.vstack([state.context, windows[:-1, -CONTEXT:]])
        state.context = windows[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1)
        output, state.h, state.c = self._session.run(
            None, {"input": batch, "h": state.h, "c": state.c}
        )
        return np.asarray(output, np.float32).reshape(-1)

    def stream(self) -> VadStream:
        """Probabilities for one live audio stream, fed as it arrives."""
        return VadStream(self)

    async def feed_async(self, state: VadState, audio: Samples) -> Probabilities:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.feed, state, audio)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class VadStream:
    """One stream's state on the shared model; `feed` runs the model off the event loop."""

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad
        self._state = VadState()

    async def feed(self, audio: Samples) -> Probabilities:
        state = self._state
        if len(state.pending) + len(audio) < WINDOW:  # no window completes: no thread hop
            state.pending = np.concatenate([state.pending, audio.astype(np.float32, copy=False)])
            return np.zeros(0, np.float32)
        return await self._vad.feed_async(state, audio)


def speech_seconds(probabilities: Probabilities, threshold: float = 0.5) -> float:
    return float(np.count_nonzero(probabilities >= threshold)) * WINDOW / SAMPLE_RATE


def has_speech(probabilities: Probabilities, *, min_seconds: float = 0.2) -> bool:
    """True when the clip holds at least `min_seconds` of speech in total."""
    return speech_seconds(probabilities) >= min_seconds
