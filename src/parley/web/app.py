"""`create_app(settings)`: the ASGI application, with everything it owns opened and closed in its
lifespan (database, AI engine, live calls, Janus when `JANUS_ENABLED`, the meetings' rooms), in
reverse order.

Janus starts with the app (`JANUS_ENABLED`, on by default; tests turn it off unless they test
media). Without it, or when it cannot start, the meetings' REST, chat and assistant work and
their rooms stay pending (`meetings.janus_rooms`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import socketio
from fastapi import FastAPI

from parley import __version__
from parley.ai.base import Language
from parley.ai.engine import AIEngine, build_engine, install_local_models
from parley.calls.conversation import ConversationService
from parley.calls.live import LiveCalls, warm_up
from parley.calls.service import CallService
from parley.config import MeetingSettings, Settings
from parley.errors import JanusError
from parley.janus import Janus
from parley.meetings.assistant import DEFAULT_PROMPT, AssistantConfig, MeetingAssistant
from parley.meetings.domain import Meeting
from parley.meetings.janus_rooms import JanusRooms, PendingRooms
from parley.meetings.media import MeetingMedia
from parley.meetings.participants import LiveParticipants
from parley.meetings.pin_guard import PinGuard, PinLimits
from parley.meetings.service import MeetingService, MeetingStores
from parley.meetings.tokens import HostTokens
from parley.rtc.ice import use_host_addresses
from parley.storage.db import Database
from parley.storage.meeting_stores import SqlMeetingStore
from parley.storage.stores import SqlCallStore
from parley.web.api_docs import mount_api_docs
from parley.web.errors import install_error_handlers
from parley.web.meeting_socket import MeetingsNamespace
from parley.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from parley.web.origins import OriginPolicy, PolicyCORSMiddleware
from parley.web.packets import ParleySocketServer
from parley.web.routes import calls, conversation, health, meetings, metrics
from parley.web.security_headers import SecurityHeadersMiddleware
from parley.web.signaling import SignalingNamespace
from parley.web.static_files import SocketIOWithClient, mount_static

log = logging.getLogger("parley")


def create_app(settings: Settings, *, engine: AIEngine | None = None) -> FastAPI:
    """The app. An `engine` passed in is shared and left open; otherwise the app builds its own
    from the settings and closes it at shutdown."""
    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Real-time conversation over WebRTC with AI in the loop.",
        docs_url=None,  # served offline by api_docs.mount_api_docs
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.shared_engine = engine
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(conversation.router)
    app.include_router(calls.router)
    app.include_router(meetings.router)
    mount_static(app)
    mount_api_docs(app)
    _add_middleware(app, settings)
    return app


def create_asgi_app(settings: Settings, *, engine: AIEngine | None = None) -> socketio.ASGIApp:
    """What the server runs: Socket.IO at `/socket.io` in front of the HTTP app."""
    app = create_app(settings, engine=engine)
    sio = ParleySocketServer(
        async_mode="asgi",
        cors_allowed_origins=OriginPolicy.from_settings(settings).socketio(),
        max_http_buffer_size=256 * 1024,
        logger=False,
        engineio_logger=False,
    )
    sio.register_namespace(SignalingNamespace(settings, app.state))
    app.state.meetings_socket = MeetingsNamespace(settings)
    sio.register_namespace(app.state.meetings_socket)
    app.state.sio = sio
    return SocketIOWithClient(sio, other_asgi_app=app)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: CORS sees requests before the body limit, the request id wraps all.
    upload_limit = settings.ai.max_audio_bytes + 256 * 1024  # the form fields around the audio
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.server.max_body_bytes,
        overrides={conversation.PATH: upload_limit},
    )
    policy = OriginPolicy.from_settings(settings)
    if policy.cross_origin:
        app.add_middleware(PolicyCORSMiddleware, policy=policy)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: on every answer, 413s included


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database = Database(settings.database_url, echo=settings.database.echo)
    engine: AIEngine | None = app.state.shared_engine
    owns_engine = engine is None
    janus: Janus | None = None
    rooms: JanusRooms | PendingRooms | None = None
    try:
        if settings.database.auto_migrate:
            revision = await database.upgrade()
            log.info("database %s at revision %s", database.describe(), revision)
        if settings.janus.enabled:
            janus = await _open_janus(settings)
        app.state.janus = janus
        rooms = await _open_meetings(app, settings, database, janus)
        if engine is None:
            engine = await _start_engine(settings)
        store = SqlCallStore(database)
        app.state.database = database
        app.state.calls = CallService(store, store, node_id=settings.server.node_id)
        await app.state.calls.fail_abandoned()  # what a crash of this node left unfinished
        app.state.conversation = ConversationService(
            app.state.calls,
            engine,
            history_turns=settings.ai.history_turns,
            max_tokens=settings.ai.llm_max_tokens,
            default_language=Language(settings.ai.default_language),
        )
        app.state.live = LiveCalls(
            app.state.calls,
            app.state.conversation,
            engine,
            max_live=settings.webrtc.max_live_calls,
        )
        use_host_addresses(settings.webrtc.ice_host_addresses or None)
        media = MeetingMedia(janus.client if janus is not None else None, _room_ready(rooms))
        assistant = _assistant(settings, engine, app.state.meetings, app.state.live)
        socket: MeetingsNamespace | None = getattr(app.state, "meetings_socket", None)
        if socket is not None:
            socket.start(app.state.meetings, media, assistant)
        app.state.meeting_media = media
        # The calls' prompts only: a call's first reply is the most urgent, and a meeting's chat
        # is evaluated ahead by the assistant itself when it is written.
        warming = asyncio.create_task(warm_up(engine, app.state.conversation), name="warm-up")
        app.state.warming = warming
        log.info("parley %s ready (%s)", __version__, settings.server.app_env.value)
        yield
        warming.cancel()
        await asyncio.gather(warming, return_exceptions=True)
        await app.state.live.aclose()
        if socket is not None:
            await socket.aclose()
        await media.aclose()
    finally:
        if owns_engine and engine is not None:
            await engine.aclose()
        if rooms is not None:
            await rooms.aclose()
        if janus is not None:
            await janus.aclose()
        await database.aclose()
        log.info("parley stopped")


async def _open_meetings(
    app: FastAPI, settings: Settings, database: Database, janus: Janus | None
) -> JanusRooms | PendingRooms:
    """The meetings' service and rooms; the rooms follow Janus when it runs."""
    store = SqlMeetingStore(database)
    tokens = HostTokens.from_settings(settings.meetings)
    rooms: JanusRooms | PendingRooms = PendingRooms()
    if janus is not None:
        key = settings.meetings.token_secret
        fallback = key.get_secret_value() if key is not None else secrets.token_urlsafe(32)
        rooms = JanusRooms(janus.client, store.live_meetings, fallback)
    await rooms.start()
    stores = MeetingStores(meetings=store, chat=store, assistant=store)
    pins = PinGuard(_pin_limits(settings.meetings))
    app.state.meetings = MeetingService(stores, rooms, LiveParticipants(), tokens, pins)
    return rooms


def _pin_limits(meetings: MeetingSettings) -> PinLimits:
    return PinLimits.of(
        meetings.pin_lockout_base_s,
        meetings.pin_lockout_max_s,
        meetings.pin_meeting_lockout_max_s,
        meetings.pin_guard_bytes,
    )


async def _open_janus(settings: Settings) -> Janus | None:
    """Janus, or None when it cannot start: the rest of Parley serves all the same, meetings
    without media (their rooms pending), and the log and `parley doctor` say why."""
    try:
        return await Janus.open(settings.janus)
    except (JanusError, OSError) as exc:
        message = exc.message if isinstance(exc, JanusError) else str(exc)
        log.error("Janus did not start, meetings will have no media: %s", message)
        return None


def _room_ready(rooms: JanusRooms | PendingRooms) -> Callable[[Meeting], Awaitable[bool]]:
    async def ready(meeting: Meeting) -> bool:
        return rooms.is_ready(meeting) or await rooms.open(meeting)

    return ready


def _assistant(
    settings: Settings, engine: AIEngine, service: MeetingService, live: LiveCalls
) -> MeetingAssistant:
    meetings = settings.meetings
    config = AssistantConfig(
        system_prompt=meetings.assistant_prompt or DEFAULT_PROMPT,
        context_messages=meetings.assistant_context,
        max_tokens=meetings.assistant_max_tokens,
    )
    return MeetingAssistant(engine.llm, service, config, calls_live=lambda: len(live) > 0)


async def _start_engine(settings: Settings) -> AIEngine:
    await asyncio.to_thread(install_local_models, settings)
    engine = build_engine(settings)
    if settings.ai.preload:
        await engine.load()
    log.info("AI engine ready", extra=engine.describe())
    return engine
