"""The local voices, for real: Piper (English, en_US-joe-medium) and espeak-ng (Korean).

What a caller feels is checked: the audio is speech-like (plausible length, not silent, the
voice's rate), it streams (the first sentence arrives before the rest is made), closing the
stream stops the work, the event loop keeps running meanwhile, and concurrent Korean syntheses
do not trample espeak-ng's global state.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import numpy as np
import pytest

from parley.ai.base import AudioChunk, Language, TextToSpeech
from parley.ai.local.espeak_tts import EspeakTTS
from parley.ai.local.piper_tts import PiperTTS
from parley.errors import InvalidInputError

EN, KO = Language.ENGLISH, Language.KOREAN
VOICE_RATE = 22_050  # both joe-medium and espeak-ng
SILENT_RMS = 300.0  # int16; speech from either engine is around 3000

EN_SHORT = "Hello, thanks for calling."
EN_LONG = (
    "Your order shipped yesterday from our warehouse, and it should arrive on Thursday "
    "afternoon, unless the weather delays the delivery truck."
)
EN_FOUR = (
    "Thanks for calling. Your order shipped yesterday. It should arrive on Thursday. "
    "Is there anything else I can help you with?"
)
KO_SHORT = "안녕하세요."  # 5 syllables
KO_LONG = "주문하신 상품은 어제 발송되었고 목요일 오후에 도착할 예정입니다."  # 28 syllables
KO_FOUR = (
    "전화해 주셔서 감사합니다. 주문하신 상품은 어제 발송되었습니다. "
    "목요일에 도착할 예정입니다. 더 도와드릴 일이 있을까요?"
)


@pytest.fixture(scope="module")
async def piper() -> AsyncIterator[PiperTTS]:
    tts = PiperTTS()
    await tts.load()
    yield tts
    await tts.aclose()


@pytest.fixture(scope="module")
async def espeak() -> AsyncIterator[EspeakTTS]:
    tts = EspeakTTS()
    await tts.load()
    yield tts
    await tts.aclose()


async def chunks_of(
    tts: TextToSpeech, text: str, language: Language, voice: str | None = None
) -> list[AudioChunk]:
    return [chunk async for chunk in tts.synthesize(text, language=language, voice=voice)]


def joined(chunks: list[AudioChunk]) -> AudioChunk:
    assert chunks, "no audio at all"
    assert {c.sample_rate for c in chunks} == {chunks[0].sample_rate}
    return AudioChunk(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate)


def rms(clip: AudioChunk) -> float:
    return float(np.sqrt(np.mean(clip.pcm.astype(np.float64) ** 2)))


def hangul_syllables(text: str) -> int:
    return sum("\uac00" <= ch <= "\ud7a3" for ch in text)


@asynccontextmanager
async def ticking(interval: float = 0.01) -> AsyncIterator[list[float]]:
    """A task that sleeps `interval` in a loop; yields the gaps it measured between wake-ups."""
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(tick())
    try:
        yield gaps
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def threads_named(prefix: str) -> int:
    return sum(t.name.startswith(prefix) for t in threading.enumerate())


# --- what each provider offers and refuses ---------------------------------------------------


async def test_the_voices_on_offer(piper: PiperTTS, espeak: EspeakTTS) -> None:
    assert piper.voices() == {EN: ["joe"]}
    offered = espeak.voices()
    assert offered[KO][0] == "ko"
    assert "ko+f3" in offered[KO]
    assert offered[EN][0] == "en-us"


@pytest.mark.parametrize("engine", ["piper", "espeak"])
async def test_an_unknown_voice_is_refused_before_anything_runs(
    engine: str, request: pytest.FixtureRequest
) -> None:
    tts: TextToSpeech = request.getfixturevalue(engine)
    language = EN if engine == "piper" else KO
    with pytest.raises(InvalidInputError) as refused:
        tts.synthesize("Hello.", language=language, voice="nobody")
    assert refused.value.code == "UNKNOWN_VOICE"
    assert "nobody" in refused.value.message


async def test_a_voice_of_another_language_is_unknown(espeak: EspeakTTS) -> None:
    with pytest.raises(InvalidInputError) as refused:
        espeak.synthesize(KO_SHORT, language=KO, voice="en-us")
    assert refused.value.code == "UNKNOWN_VOICE"


async def test_piper_refuses_korean(piper: PiperTTS) -> None:
    with pytest.raises(InvalidInputError) as refused:
        piper.synthesize(KO_SHORT, language=KO)
    assert refused.value.code == "UNSUPPORTED_LANGUAGE"


@pytest.mark.parametrize("engine", ["piper", "espeak"])
async def test_blank_text_is_no_audio(engine: str, request: pytest.FixtureRequest) -> None:
    tts: TextToSpeech = request.getfixturevalue(engine)
    assert await chunks_of(tts, "  \n ", EN) == []


# --- Piper: English -------------------------------------------------------------------------


async def test_piper_speaks_a_short_english_sentence(piper: PiperTTS) -> None:
    clip = joined(await chunks_of(piper, EN_SHORT, EN))
    assert clip.sample_rate == VOICE_RATE
    assert clip.pcm.dtype == np.int16
    assert clip.pcm.ndim == 1
    assert 0.5 < clip.duration_s < 6
    assert rms(clip) > SILENT_RMS


async def test_piper_more_text_is_longer_speech(piper: PiperTTS) -> None:
    short = joined(await chunks_of(piper, EN_SHORT, EN))
    long = joined(await chunks_of(piper, EN_LONG, EN))
    assert long.duration_s > 2.5 * short.duration_s
    assert 4 < long.duration_s < 15


async def test_piper_streams_a_chunk_per_sentence(piper: PiperTTS) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    chunks: list[AudioChunk] = []
    async for chunk in piper.synthesize(EN_FOUR, language=EN):
        arrivals.append(time.perf_counter() - started)
        chunks.append(chunk)
    assert len(chunks) == 4
    assert all(rms(c) > SILENT_RMS and 0.3 < c.duration_s < 6 for c in chunks)
    assert arrivals[0] < 0.5 * arrivals[-1]  # the first sentence did not wait for the others


async def test_piper_length_scale_slows_speech(piper: PiperTTS) -> None:
    slow = PiperTTS(length_scale=1.6)
    try:
        normal = joined(await chunks_of(piper, EN_LONG, EN))
        slowed = joined(await chunks_of(slow, EN_LONG, EN))
    finally:
        await slow.aclose()
    assert slowed.duration_s > 1.3 * normal.duration_s
    with pytest.raises(ValueError, match="length_scale"):
        PiperTTS(length_scale=0)


async def test_piper_closing_early_stops_the_work(piper: PiperTTS) -> None:
    text = " ".join(f"This is sentence number {i} of a long answer." for i in range(1, 21))
    workers = threads_named("tts-piper")
    started = time.perf_counter()
    stream = piper.synthesize(text, language=EN)
    async for _ in stream:
        break
    first_s = time.perf_counter() - started
    closing = time.perf_counter()
    await stream.aclose()  # type: ignore[attr-defined]
    assert time.perf_counter() - closing < 0.1

    # Were the other 19 sentences still being made, the next reply would wait ~19x `first_s`.
    restarted = time.perf_counter()
    async for _ in piper.synthesize(EN_SHORT, language=EN):
        break
    restart_s = time.perf_counter() - restarted
    assert restart_s < max(0.3, 6 * first_s)
    assert threads_named("tts-piper") <= workers  # the worker is reused, not one per synthesis


# --- espeak-ng: Korean (and English) -------------------------------------------------------


async def test_espeak_speaks_a_short_korean_sentence(espeak: EspeakTTS) -> None:
    clip = joined(await chunks_of(espeak, KO_SHORT, KO))
    assert clip.sample_rate == VOICE_RATE
    assert clip.pcm.dtype == np.int16
    assert clip.pcm.ndim == 1
    assert 0.5 < clip.duration_s < 6
    assert rms(clip) > SILENT_RMS


async def test_espeak_reads_hangul_with_the_korean_dictionary(espeak: EspeakTTS) -> None:
    ipa = await espeak.phonemize("안녕하세요. 감사합니다.", language=KO)
    assert "njʌŋ" in ipa  # an-nyeong
    assert "ɐmsɐ" in ipa  # gam-sa
    assert hangul_syllables(ipa) == 0  # every syllable was read, none spelled or skipped
    assert "(en" not in ipa  # and not by switching to the English dictionary


async def test_espeak_korean_duration_follows_the_syllables(espeak: EspeakTTS) -> None:
    short = joined(await chunks_of(espeak, KO_SHORT, KO))
    long = joined(await chunks_of(espeak, KO_LONG, KO))
    for text, clip in ((KO_SHORT, short), (KO_LONG, long)):
        per_syllable = clip.duration_s / hangul_syllables(text)
        assert 0.08 < per_syllable < 0.4, (text, clip.duration_s)
    assert long.duration_s > 3 * short.duration_s
    assert rms(long) > SILENT_RMS


async def test_espeak_speaks_english_as_a_fallback(espeak: EspeakTTS) -> None:
    clip = joined(await chunks_of(espeak, EN_SHORT, EN))
    assert 0.5 < clip.duration_s < 6
    assert rms(clip) > SILENT_RMS


async def test_espeak_voice_variants_and_rate(espeak: EspeakTTS) -> None:
    plain = joined(await chunks_of(espeak, KO_LONG, KO, voice="ko"))
    female = joined(await chunks_of(espeak, KO_LONG, KO, voice="ko+f3"))
    assert rms(female) > SILENT_RMS
    assert len(female.pcm) != len(plain.pcm) or not np.array_equal(female.pcm, plain.pcm)
    slow = joined(await chunks_of(EspeakTTS(rate=100), KO_LONG, KO))
    fast = joined(await chunks_of(EspeakTTS(rate=300), KO_LONG, KO))
    assert slow.duration_s > 1.5 * fast.duration_s
    with pytest.raises(ValueError, match="rate"):
        EspeakTTS(rate=10)


async def test_espeak_streams_a_chunk_per_sentence(espeak: EspeakTTS) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    chunks: list[AudioChunk] = []
    async for chunk in espeak.synthesize(KO_FOUR, language=KO):
        arrivals.append(time.perf_counter() - started)
        chunks.append(chunk)
    assert len(chunks) == 4
    assert all(rms(c) > SILENT_RMS and 0.5 < c.duration_s < 6 for c in chunks)
    assert arrivals[0] < arrivals[-1]


async def test_espeak_closing_early_stops_the_work(espeak: EspeakTTS) -> None:
    text = " ".join([KO_FOUR] * 100)  # 400 sentences, ~15 minutes of speech
    started = time.perf_counter()
    whole = await chunks_of(espeak, text, KO)
    whole_s = time.perf_counter() - started
    assert len(whole) == 400

    stream = espeak.synthesize(text, language=KO)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    restarted = time.perf_counter()
    again = await chunks_of(espeak, KO_SHORT, KO)
    restart_s = time.perf_counter() - restarted
    assert restart_s < whole_s / 5  # espeak-ng was not still busy with the other 399
    assert 0.5 < joined(again).duration_s < 6  # and aborting left it in a sound state
    assert threads_named("tts-espeak") == 1


async def test_concurrent_korean_syntheses_do_not_mix(espeak: EspeakTTS) -> None:
    alone_a = joined(await chunks_of(espeak, KO_FOUR, KO, voice="ko"))
    alone_b = joined(await chunks_of(espeak, KO_LONG, KO, voice="ko+m3"))
    for _ in range(3):
        a, b = await asyncio.gather(
            chunks_of(espeak, KO_FOUR, KO, voice="ko"),
            chunks_of(espeak, KO_LONG, KO, voice="ko+m3"),
        )
        assert len(a) == 4
        assert len(b) == 1
        # espeak-ng is not bit-exact from run to run, but within a few samples per sentence.
        assert abs(joined(a).duration_s - alone_a.duration_s) < 0.02
        assert abs(joined(b).duration_s - alone_b.duration_s) < 0.02
        assert rms(joined(a)) > SILENT_RMS
        assert rms(joined(b)) > SILENT_RMS


# --- both: the event loop never waits ------------------------------------------------------


async def test_the_event_loop_keeps_running_while_they_speak(
    piper: PiperTTS, espeak: EspeakTTS
) -> None:
    english = " ".join(f"This is sentence number {i}, and it is moderately long." for i in range(8))
    korean = " ".join([KO_FOUR] * 20)
    async with ticking() as gaps:
        fresh = PiperTTS()  # loading, too, happens off the loop
        try:
            await fresh.load()
            spoken = await asyncio.gather(
                chunks_of(fresh, english, EN), chunks_of(espeak, korean, KO)
            )
        finally:
            await fresh.aclose()
    assert len(spoken[0]) == 8
    assert len(spoken[1]) == 80
    assert len(gaps) > 50
    assert max(gaps) < 0.1, f"the loop stalled for {max(gaps) * 1000:.0f} ms"
