"""Prometheus metrics (`GET /metrics`): what Parley counts and measures, in the ecosystem's format.

Two kinds of figures, kept apart on purpose:

- **events**, recorded by the code that sees them happen: `record_turn` (the voice-to-voice time
  and each stage's latency of a call's turn), `record_call_started`, `record_call_ended`,
  `record_barge_in`, `record_meeting_created`. They are module-level counters and histograms,
  process-wide, so a recorder needs no handle on the app to report.
- **readings** of figures that already live elsewhere (live calls, speech tracks and their
  pacing, caches' bytes, model jobs, Janus restarts, malformed packets, meetings and their
  participants): collectors read them at scrape time instead of copying them into gauges, so a
  figure can never disagree with its source. The process's own are here (`ProcessReadings`);
  an app's parts are registered by the web layer (`Metrics.read`, `web.routes.metrics.watch`).

Every app has its own `Metrics`, a `CollectorRegistry` of its own: the process-wide metrics are
registered in each app's registry and the app's readings only in its own, so a process that
builds several apps (the tests) registers nothing twice. The client's global default registry is
not used. Times are exported in seconds, as Prometheus names them (`*_seconds`), though Parley's
stages are measured in milliseconds.

    parley_calls_started_total                calls whose media started
    parley_calls_ended_total{status}          calls ended, by final status
    parley_turns_total                        turns answered in live calls
    parley_barge_ins_total                    replies cut short by the caller
    parley_voice_to_voice_seconds             end of the caller's speech → first audio back
    parley_turn_stage_seconds{stage}          end_of_turn, stt, llm_first_token, ...
    parley_meetings_created_total
    parley_meetings_live, parley_meeting_participants
    parley_live_calls, parley_speech_tracks, parley_models_warming, parley_model_jobs_running
    parley_audio_*_total                      the speech tracks' pacing (`rtc.speech_track.PACING`)
    parley_cache_bytes{cache}, parley_cache_limit_bytes{cache}, parley_cache_entries{cache}
    parley_janus_restarts_total, parley_socket_malformed_packets_total, ...
    process_*, python_info                    the client library's process and platform figures
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from parley import memory
from parley.ai.local.workers import models_at_work
from parley.rtc.speech_track import PACING, live_tracks

# The classic text format every Prometheus server reads (the client's `CONTENT_TYPE_LATEST`
# is the newer 1.0.0 one).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# A turn's stages, as the recorder names them (`voice_to_voice` has a histogram of its own).
STAGES = (
    "end_of_turn",
    "stt",
    "llm_first_token",
    "llm_first_clause",
    "tts_first_chunk",
)
VOICE_TO_VOICE = "voice_to_voice"

_VOICE_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)
_STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

# -- events (process-wide) -----------------------------------------------------------------------

CALLS_STARTED = Counter("parley_calls_started", "Live calls whose media started.", registry=None)
CALLS_ENDED = Counter(
    "parley_calls_ended", "Calls ended, by their final status.", ["status"], registry=None
)
TURNS = Counter("parley_turns", "Turns answered in live calls.", registry=None)
BARGE_INS = Counter(
    "parley_barge_ins", "Replies cut short because the caller spoke over them.", registry=None
)
VOICE_TO_VOICE_SECONDS = Histogram(
    "parley_voice_to_voice_seconds",
    "From the end of the caller's speech to the first audio of the reply.",
    buckets=_VOICE_BUCKETS,
    registry=None,
)
STAGE_SECONDS = Histogram(
    "parley_turn_stage_seconds",
    "Each stage's latency in a turn (end_of_turn, stt, llm_first_token, llm_first_clause, "
    "tts_first_chunk).",
    ["stage"],
    buckets=_STAGE_BUCKETS,
    registry=None,
)
MEETINGS_CREATED = Counter("parley_meetings_created", "Meetings created.", registry=None)

_EVENTS: tuple[Collector, ...] = (
    CALLS_STARTED,
    CALLS_ENDED,
    TURNS,
    BARGE_INS,
    VOICE_TO_VOICE_SECONDS,
    STAGE_SECONDS,
    MEETINGS_CREATED,
)


def record_turn(stages: Mapping[str, float | None]) -> None:
    """One answered turn; `stages` in milliseconds by snake_case name (see `STAGES`), None or
    missing ones (a turn whose reply never started) skipped."""
    TURNS.inc()
    for stage, ms in stages.items():
        if ms is None:
            continue
        if stage == VOICE_TO_VOICE:
            VOICE_TO_VOICE_SECONDS.observe(ms / 1000)
        else:
            STAGE_SECONDS.labels(stage=stage).observe(ms / 1000)


def record_call_started() -> None:
    CALLS_STARTED.inc()


def record_call_ended(status: str) -> None:
    """A call reached its final `status` (the stored one, e.g. "completed", "failed")."""
    CALLS_ENDED.labels(status=status).inc()


def record_barge_in() -> None:
    BARGE_INS.inc()


def record_meeting_created() -> None:
    MEETINGS_CREATED.inc()


# -- readings ------------------------------------------------------------------------------------


class ProcessReadings(Collector):
    """The process's own figures that live in other modules: the speech tracks' pacing, the
    bounded caches (`parley.memory`) and the model jobs at work."""

    def collect(self) -> Iterable[Metric]:
        yield _gauge("parley_speech_tracks", "Speech tracks still in memory.", live_tracks())
        yield _gauge(
            "parley_model_jobs_running",
            "Model jobs (transcription, generation, speech) running now on the model threads.",
            models_at_work(),
        )
        yield from _pacing()
        yield from _caches()


def _pacing() -> Iterable[Metric]:
    yield _counter("parley_audio_frames", "20 ms frames handed to the encoder.", PACING.frames)
    yield _counter(
        "parley_audio_underruns", "Frames sent as silence: nothing was queued.", PACING.underruns
    )
    yield _counter(
        "parley_audio_speech_underruns",
        "Underruns in the middle of speech (audible).",
        PACING.speech_underruns,
    )
    yield _counter("parley_audio_gaps", "Pacing gaps: frames sent late.", PACING.gaps)
    yield _counter(
        "parley_audio_speech_gaps", "Pacing gaps in the middle of speech.", PACING.speech_gaps
    )
    yield _counter(
        "parley_audio_gap_seconds", "Audio time missing in pacing gaps.", PACING.gap_seconds
    )


def _caches() -> Iterable[Metric]:
    held = GaugeMetricFamily(
        "parley_cache_bytes", "Bytes a bounded cache holds, measured.", labels=["cache"]
    )
    limit = GaugeMetricFamily(
        "parley_cache_limit_bytes", "Bytes a bounded cache never exceeds.", labels=["cache"]
    )
    entries = GaugeMetricFamily(
        "parley_cache_entries", "Entries a bounded cache holds.", labels=["cache"]
    )
    for name, figures in memory.figures().items():
        held.add_metric([name], figures.bytes)
        limit.add_metric([name], figures.limit)
        entries.add_metric([name], figures.entries)
    yield from (held, limit, entries)


@dataclass(frozen=True, slots=True)
class Reading:
    """One figure of an app's parts, read when scraped (a gauge, or a counter's running total)."""

    name: str
    documentation: str
    read: Callable[[], float]
    counter: bool = False

    def metric(self) -> Metric:
        if self.counter:
            return _counter(self.name, self.documentation, self.read())
        return _gauge(self.name, self.documentation, self.read())


class AppReadings(Collector):
    """The readings one app registered (`Metrics.read`)."""

    def __init__(self) -> None:
        self._readings: list[Reading] = []

    def add(self, reading: Reading) -> None:
        self._readings.append(reading)

    def collect(self) -> Iterable[Metric]:
        return [reading.metric() for reading in self._readings]


class Metrics:
    """One app's registry: the process-wide events and readings, plus the app's own readings
    (`read`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in _EVENTS:
            self.registry.register(collector)
        self.registry.register(ProcessReadings())
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._readings = AppReadings()
        self.registry.register(self._readings)

    def read(
        self, name: str, documentation: str, read: Callable[[], float], *, counter: bool = False
    ) -> None:
        """Report `read()` as `name` at every scrape (a counter's total when `counter`)."""
        self._readings.add(Reading(name, documentation, read, counter))

    def exposition(self) -> bytes:
        """Everything, in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
