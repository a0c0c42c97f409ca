"""`GET /metrics`: cheap runtime figures, and the object census outside production only."""

import asyncio

from tests.conftest import MakeClient


async def test_metrics_report_the_process_tasks_and_media(make_client: MakeClient) -> None:
    async with make_client() as client:
        body = (await client.get("/metrics")).json()
        assert body["process"]["rssBytes"] > 10 * 2**20
        assert body["process"]["cpuSeconds"] > 0
        assert body["process"]["threads"] >= 1
        assert body["asyncioTasks"] >= 1
        assert body["media"]["liveCalls"] == 0
        assert {"framesSent", "underruns", "speechUnderruns", "gaps", "speechGaps"} <= set(
            body["media"]
        )
        assert body["objects"] is None  # the census only when asked: it walks the heap
        census = (await client.get("/metrics", params={"objects": "true"})).json()["objects"]
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
        body = (await client.get("/metrics", params={"objects": "true"})).json()
    assert body["objects"] is None
    assert body["media"]["liveCalls"] == 0


async def test_metrics_say_while_the_llm_warms_up_after_start(make_client: MakeClient) -> None:
    """Start-up reads the calls' prompts into the local LLM (a generation, so well over the time
    one request takes); `modelsWarming` says so until it is done, then never again."""
    async with make_client() as client:
        assert (await client.get("/metrics")).json()["modelsWarming"] is True
        deadline = asyncio.get_running_loop().time() + 120
        while (await client.get("/metrics")).json()["modelsWarming"]:
            assert asyncio.get_running_loop().time() < deadline, "still warming after 120 s"
            await asyncio.sleep(0.1)
        assert (await client.get("/metrics")).json()["modelsWarming"] is False


async def test_metrics_report_every_cache_in_bytes_within_its_limit(
    make_client: MakeClient,
) -> None:
    """`caches`: what the local LLM's saved states and the assistant's pending warm-ups hold,
    measured, against the limit each never exceeds (`parley.memory`)."""
    async with make_client() as client:
        caches = (await client.get("/metrics")).json()["caches"]
    assert {"llmStates", "assistantWarmUps"} <= set(caches)
    for name, figures in caches.items():
        assert 0 <= figures["bytes"] <= figures["limitBytes"], name
        assert figures["entries"] >= 0
    assert caches["llmStates"]["limitBytes"] >= 256 * 2**20  # LLM_STATE_CACHE_BYTES
