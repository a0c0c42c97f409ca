"""`GET /metrics`: Prometheus's text format after real activity (meetings, a real call's turn);
the JSON view (`?format=json`): cheap runtime figures, and the object census outside production
only."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.parser import text_string_to_metric_families

from parley.ai.base import AudioChunk
from parley.ai.engine import AIEngine
from parley.meetings.service import MeetingService
from parley.web.app import create_app
from tests.calls.test_live_call import dial, hang_up, serving
from tests.conftest import IDLE_AI, MakeClient, make_settings

JSON = {"format": "json"}  # the JSON view (Prometheus's text format is the default)
JSON_CENSUS = {"format": "json", "objects": "true"}


async def test_metrics_report_the_process_tasks_and_media(make_client: MakeClient) -> None:
    async with make_client() as client:
        body = (await client.get("/metrics", params=JSON)).json()
        assert body["process"]["rssBytes"] > 10 * 2**20
        assert body["process"]["cpuSeconds"] > 0
        assert body["process"]["threads"] >= 1
        assert body["asyncioTasks"] >= 1
        assert body["media"]["liveCalls"] == 0
        assert {"framesSent", "underruns", "speechUnderruns", "gaps", "speechGaps"} <= set(
            body["media"]
        )
        assert body["objects"] is None  # the census only when asked: it walks the heap
        census = (await client.get("/metrics", params=JSON_CENSUS)).json()["objects"]
        # other tests of the session may still hold peers of their own: counts, not zeros
        assert census["peerConnections"] >= 0
        assert census["liveCalls"] >= 0
        assert census["tasks"]
        assert census["censusMs"] >= 0


async def test_the_census_is_not_taken_in_production(make_client: MakeClient) -> None:
    production = {
        "server": {"app_env": "production", "operator_api_key": "o" * 32},
        "meetings": {"token_secret": "s" * 32},
    }
    async with make_client(**production) as client:
        body = (await client.get("/metrics", params=JSON_CENSUS)).json()
    assert body["objects"] is None
    assert body["media"]["liveCalls"] == 0


async def test_metrics_say_while_the_llm_warms_up_after_start(make_client: MakeClient) -> None:
    """Start-up reads the calls' prompts into the local LLM (a generation, so well over the time
    one request takes); `modelsWarming` says so until it is done, then never again."""
    async with make_client() as client:
        assert (await client.get("/metrics", params=JSON)).json()["modelsWarming"] is True
        deadline = asyncio.get_running_loop().time() + 120
        while (await client.get("/metrics", params=JSON)).json()["modelsWarming"]:
            assert asyncio.get_running_loop().time() < deadline, "still warming after 120 s"
            await asyncio.sleep(0.1)
        assert (await client.get("/metrics", params=JSON)).json()["modelsWarming"] is False


async def test_metrics_report_every_cache_in_bytes_within_its_limit(
    make_client: MakeClient,
) -> None:
    """`caches`: what the local LLM's saved states and the assistant's pending warm-ups hold,
    measured, against the limit each never exceeds (`parley.memory`)."""
    async with make_client() as client:
        caches = (await client.get("/metrics", params=JSON)).json()["caches"]
    assert {"llmStates", "assistantWarmUps"} <= set(caches)
    for name, figures in caches.items():
        assert 0 <= figures["bytes"] <= figures["limitBytes"], name
        assert figures["entries"] >= 0
    assert caches["llmStates"]["limitBytes"] >= 256 * 2**20  # LLM_STATE_CACHE_BYTES


# -- the Prometheus text format ------------------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    """`/metrics` parsed by the client library's own parser: every sample by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape_until(
    client: httpx.AsyncClient, test: Callable[[Samples], bool], within: float = 15
) -> Samples:
    """The first scrape that passes `test` (the turn is stored, and counted, after its reply
    was heard)."""
    deadline = asyncio.get_running_loop().time() + within
    while not test(samples := await scrape(client)):
        assert asyncio.get_running_loop().time() < deadline, "the figures never moved"
        await asyncio.sleep(0.2)
    return samples


@asynccontextmanager
async def idle_app(tmp_path: Path, engine: AIEngine) -> AsyncIterator[tuple[FastAPI, Any]]:
    app = create_app(make_settings(tmp_path, **IDLE_AI), engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield app, client


async def test_prometheus_counts_meetings_and_the_people_in_them(
    tmp_path: Path, idle_engine: AIEngine
) -> None:
    async with idle_app(tmp_path, idle_engine) as (app, client):
        before = await scrape(client)
        assert value(before, "parley_meetings_live") == 0
        assert value(before, "parley_live_calls") == 0
        assert value(before, "process_resident_memory_bytes") > 10 * 2**20
        assert value(before, "parley_cache_limit_bytes", cache="assistantWarmUps") > 0
        made = [
            (await client.post("/api/v1/meetings", json={"title": f"m{i}"})).json()["data"]
            for i in range(3)
        ]
        service: MeetingService = app.state.services.meetings
        first, second = made[0]["meeting"]["id"], made[1]["meeting"]["id"]
        for name in ("Ann", "Bob"):
            await service.join(first, name)
        await service.join(second, "Cid", host_token=made[1]["hostToken"])
        during = await scrape(client)
        assert value(during, "parley_meetings_created_total") == (
            value(before, "parley_meetings_created_total") + 3
        )
        assert value(during, "parley_meetings_live") == 2
        assert value(during, "parley_meeting_participants") == 3
        ended = await client.post(
            f"/api/v1/meetings/{first}/end",
            headers={"Authorization": f"Bearer {made[0]['hostToken']}"},
        )
        assert ended.status_code == 200, ended.text
        after = await scrape(client)
        assert value(after, "parley_meetings_live") == 1
        assert value(after, "parley_meeting_participants") == 1


async def test_prometheus_measures_a_real_calls_turn(
    tmp_path: Path, local_engine: AIEngine, english_question: AudioChunk
) -> None:
    """A call through the real app: the turn's voice-to-voice time and stages, the call's end
    and the audio it sent show in the histograms and counters."""
    async with (
        serving(tmp_path, local_engine) as (base, _app),
        httpx.AsyncClient(base_url=base) as http,
    ):
        before = await scrape(http)
        caller = await dial(base)
        await caller.wait_for("call-state", lambda p: p["status"] == "IN_PROGRESS")
        await caller.wait_for("transcript", lambda p: p["turn"] == 0 and p["final"])
        await asyncio.sleep(3.5)  # the greeting ends
        caller.mic.say(english_question)
        await caller.wait_for(
            "transcript", lambda p: p["speaker"] == "ai" and p["turn"] == 1 and p["final"], 60
        )
        during = await scrape_until(
            http, lambda now: value(now, "parley_turns_total") > value(before, "parley_turns_total")
        )
        assert value(during, "parley_live_calls") == 1
        await hang_up(caller)
        await asyncio.sleep(0.5)
        after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("parley_turns_total") >= 1
    assert moved("parley_voice_to_voice_seconds_count") >= 1
    assert moved("parley_voice_to_voice_seconds_sum") > 0
    for stage in ("end_of_turn", "stt", "llm_first_token", "tts_first_chunk"):
        assert moved("parley_turn_stage_seconds_count", stage=stage) >= 1, stage
    assert moved("parley_calls_ended_total", status="ENDED") == 1
    assert moved("parley_audio_frames_total") > 50  # the greeting and the answer, 20 ms each
    assert value(after, "parley_live_calls") == 0
