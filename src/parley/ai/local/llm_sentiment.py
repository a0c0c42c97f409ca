"""Sentiment from the local LLM: one forward pass over a few-shot prompt, then the model's own
probabilities for the three label words.

The answer is not generated but read off the logits of the first answer token for `positive`,
`neutral` and `negative`; their softmax gives the label and a confidence. The prompt's long fixed
part (instructions and examples) stays in llama.cpp's KV cache, so each message costs only its
own tokens. It runs on its own small model instance and thread, so it never holds up the reply.
The prompt uses ChatML, the template of the Qwen2.5 models this is meant for.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from parley.ai.base import Language, Sentiment, SentimentScore
from parley.ai.local.workers import model_worker
from parley.errors import AIProviderError

INSTRUCTIONS = (
    "You label how a caller to a customer-service phone line feels, from what they said. "
    "Answer with exactly one word: positive, neutral or negative. Sarcasm counts as negative "
    "(praise words used to complain). Plain questions and requests are neutral. "
    "The caller may speak Korean or English."
)
EXAMPLES = [
    ("Thank you so much, that fixed it!", "positive"),
    ("Can you tell me my account balance?", "neutral"),
    ("This is the third time I'm calling and nobody has helped me.", "negative"),
    ("Oh perfect, the app crashed again. Love that.", "negative"),
    ("It wasn't bad at all, actually.", "positive"),
    ("정말 친절하게 도와주셔서 감사합니다.", "positive"),
    ("주소를 변경하고 싶은데요.", "neutral"),
    ("아니 이게 몇 번째예요? 진짜 화나네요.", "negative"),
    ("와 대단하시네요, 또 잘못 보내셨어요.", "negative"),
]
LABELS = (Sentiment.POSITIVE, Sentiment.NEUTRAL, Sentiment.NEGATIVE)


def _turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def build_prompt(text: str) -> str:
    shots = "".join(_turn("user", said) + _turn("assistant", label) for said, label in EXAMPLES)
    return _turn("system", INSTRUCTIONS) + shots + _turn("user", text) + "<|im_start|>assistant\n"


class LlmSentiment:
    name = "llm"

    def __init__(self, model_path: Path, *, threads: int = 0) -> None:
        self._path = model_path
        self._threads = threads or 1  # a side task: never compete with the reply for cores
        self._executor = model_worker("sentiment")
        self._llama: Any = None
        self._label_tokens: list[int] = []

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_model)

    async def analyze(self, text: str, *, language: Language) -> SentimentScore:
        if not text.strip():
            return SentimentScore(Sentiment.NEUTRAL, 1.0)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._classify, text[:1000])
        except Exception as exc:
            raise AIProviderError("Sentiment analysis failed.", provider="sentiment:llm") from exc

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _ensure_model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            llama = Llama(
                model_path=str(self._path),
                n_ctx=1024,
                n_threads=self._threads,
                n_batch=512,
                verbose=False,
            )
            self._label_tokens = [
                llama.tokenize(label.value.encode(), add_bos=False, special=False)[0]
                for label in LABELS
            ]
            self._llama = llama
        return self._llama

    def _classify(self, text: str) -> SentimentScore:
        llama = self._ensure_model()
        tokens = llama.tokenize(build_prompt(text).encode(), add_bos=False, special=True)
        generator = llama.generate(tokens, temp=0.0)  # reset=True: keeps the common prefix
        next(generator)  # evaluates the prompt (reusing the cached prefix), samples one token
        generator.close()
        from llama_cpp import llama_get_logits

        logits = llama_get_logits(llama.ctx)  # the last position's logits, still in the context
        values = [float(logits[token]) for token in self._label_tokens]
        top = max(values)
        weights = [math.exp(v - top) for v in values]
        best = max(range(3), key=lambda i: weights[i])
        return SentimentScore(LABELS[best], weights[best] / sum(weights))
