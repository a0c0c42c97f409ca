"""`parley doctor`: what is installed, configured and reachable, one line each.

Each check is a small async function returning a `Finding`; each part (models, Janus, ...) adds
its own check to `CHECKS`. The report never prints a secret, only whether it is set.
"""

from __future__ import annotations

import asyncio
import enum
import http.client
import json
import platform
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from parley.config import Settings
from parley.errors import JanusError, StorageError
from parley.janus import ExternalJanus
from parley.janus.client import probe, shown_url
from parley.janus.process import installed_version
from parley.storage.db import Database, head_revision


class Level(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    level: Level
    detail: str

    def line(self) -> str:
        return f"{self.level.value:<5} {self.name:<10} {self.detail}"


Check = Callable[[Settings], Awaitable[Finding]]


async def check_python(_: Settings) -> Finding:
    version = platform.python_version()
    level = Level.OK if sys.version_info >= (3, 11) else Level.FAIL
    return Finding("python", level, f"{version} at {sys.executable}")


async def check_settings(settings: Settings) -> Finding:
    server = settings.server
    detail = f"APP_ENV={server.app_env.value} HOST={server.host} PORT={server.port}"
    return Finding("settings", Level.OK, detail)


async def check_database(settings: Settings) -> Finding:
    database = Database(settings.database_url)
    try:
        await database.ping()
        current, head = await database.current_revision(), head_revision()
    except StorageError as exc:
        return Finding("database", Level.FAIL, exc.message)
    finally:
        await database.aclose()
    level = Level.OK if current == head else Level.WARN
    state = "up to date" if current == head else f"behind head {head} (run `parley db upgrade`)"
    return Finding("database", level, f"{database.describe()} revision {current}: {state}")


async def check_port(settings: Settings) -> Finding:
    """Free is fine, and so is a port held by a running Parley (the doctor run beside its own
    server); anything else holding it would stop `parley serve`."""
    host, port = settings.server.host, settings.server.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = exc.strerror
        else:
            return Finding("port", Level.OK, f"{host}:{port} is free")
    version = await asyncio.to_thread(parley_version, _reachable(host), port)
    if version is not None:
        return Finding("port", Level.OK, f"{host}:{port}: Parley {version} is already serving")
    return Finding("port", Level.WARN, f"{host}:{port} is taken by another program ({taken})")


PROBE_TIMEOUT_S = 2.0
MAX_SCHEMA_BYTES = 4 * 1024 * 1024


def parley_version(host: str, port: int) -> str | None:
    """The version of the Parley answering HTTP on host:port (its OpenAPI schema's `info`), or
    None when what answers is not Parley, or nothing answers in time. Blocking: run in a thread.
    (`http.client` never goes through a proxy, which is right for an address of this machine.)"""
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/api/openapi.json")
        response = connection.getresponse()
        schema = json.loads(response.read(MAX_SCHEMA_BYTES)) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
    info = schema.get("info") if isinstance(schema, dict) else None
    if not isinstance(info, dict) or info.get("title") != "Parley":
        return None
    return str(info.get("version", "?"))


def _reachable(host: str) -> str:
    """Where to reach a server bound to `host` from this machine: loopback for a wildcard."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104


async def check_stun(settings: Settings) -> Finding:
    urls = settings.webrtc.stun_server_urls
    if not urls:
        return Finding("stun", Level.WARN, "no STUN server: callers behind NAT cannot connect")
    return Finding("stun", Level.OK, ", ".join(urls) + " (configured; not contacted)")


async def check_openai(settings: Settings) -> Finding:
    if settings.openai.api_key is None:
        return Finding(
            "openai", Level.OK, "OPENAI_API_KEY not set (needed only for OpenAI providers)"
        )
    base = settings.openai.base_url or "api.openai.com"
    return Finding("openai", Level.OK, f"key set, model {settings.openai.model}, at {base}")


async def check_models(settings: Settings) -> Finding:
    from parley.ai import assets

    try:
        missing = [
            a.target for a in assets.JOINED if not assets.is_installed(a, settings.ai.models_path)
        ]
        packaged = [p.locate() for p in (assets.PIPER_JOE, assets.SILERO_VAD)]
    except assets.ModelAssetError as exc:
        return Finding("models", Level.FAIL, exc.message)
    absent = [str(p) for p in packaged if not p.is_file()]
    if absent:
        return Finding("models", Level.FAIL, "missing: " + ", ".join(absent))
    if missing:
        return Finding(
            "models",
            Level.WARN,
            f"not assembled yet: {', '.join(missing)} (run `parley models install`)",
        )
    return Finding(
        "models",
        Level.OK,
        f"whisper-base, qwen2.5-0.5b, piper joe, silero vad in {settings.ai.models_path}",
    )


async def check_ai(settings: Settings) -> Finding:
    ai = settings.ai
    detail = f"stt={ai.stt} llm={ai.llm} tts={ai.tts} language={ai.default_language}"
    if ai.llm == "local" and ai.llm_model_path is not None and not ai.llm_model_path.is_file():
        return Finding("ai", Level.FAIL, f"LLM_MODEL_PATH {ai.llm_model_path} does not exist")
    return Finding("ai", Level.OK, detail)


async def check_janus(settings: Settings) -> Finding:
    janus = settings.janus
    if janus.external:
        return await _check_external_janus(settings)
    found = await installed_version(janus.binary)
    if found is None:
        level = Level.FAIL if janus.enabled else Level.WARN
        return Finding("janus", level, f"'{janus.binary}' not installed (`make run` installs it)")
    version, path = found
    state = "started by parley" if janus.enabled else "not started: JANUS_ENABLED=false"
    return Finding("janus", Level.OK, f"{version} at {path} ({state})")


async def _check_external_janus(settings: Settings) -> Finding:
    endpoint = await ExternalJanus(settings.janus).endpoint()
    shown = shown_url(endpoint.url)
    try:
        info = await probe(endpoint, timeout_s=min(settings.janus.request_timeout_s, 5.0))
    except JanusError as exc:
        return Finding("janus", Level.FAIL, f"external Janus unreachable: {exc.reason}")
    version = info.get("version_string", "?")
    if "janus.plugin.videoroom" not in info.get("plugins", {}):
        return Finding("janus", Level.FAIL, f"external {shown}: {version}, no VideoRoom plugin")
    return Finding("janus", Level.OK, f"external {shown}: Janus {version} with VideoRoom")


CHECKS: list[Check] = [
    check_python,
    check_settings,
    check_database,
    check_port,
    check_stun,
    check_openai,
    check_ai,
    check_models,
    check_janus,
]


async def run_checks(settings: Settings) -> list[Finding]:
    return [await check(settings) for check in CHECKS]
