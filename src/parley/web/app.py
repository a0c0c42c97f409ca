"""`create_app(settings)`: the ASGI application, with everything it owns opened and closed in its
lifespan (database, Janus when `JANUS_ENABLED`, the meetings' rooms, the AI engine, live calls,
the meetings' media, assistant and namespace, the warm-up), in reverse order.

The lifespan is an `AsyncExitStack`: each part is pushed as soon as it is open, so a failure
while opening closes what was already open, and shutdown closes everything in reverse order
(the live calls store their end before the database closes). What it opened is one typed
`Services` on `app.state.services` (`web.services`), which the routes' dependencies read.

Janus starts with the app (`JANUS_ENABLED`, on by default; tests turn it off unless they test
media). Without it, or when it cannot start, the meetings' REST, chat and assistant work and
their rooms stay pending (`meetings.janus_rooms`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import socketio
from fastapi import FastAPI

from parley import __version__
from parley.ai.base import Language
from parley.ai.engine import AIEngine, build_engine, install_local_models
from parley.calls.agent import Agent
from parley.calls.conversation import ConversationService
from parley.calls.knowledge import Knowledge
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
from parley.observability import Metrics
from parley.rtc.ice import use_host_addresses
from parley.storage.db import Database
from parley.storage.meeting_stores import SqlMeetingStore
from parley.storage.stores import SqlCallStore
from parley.tasks import TaskSet
from parley.web.api_docs import mount_api_docs
from parley.web.errors import install_error_handlers
from parley.web.meeting_socket import MeetingsNamespace
from parley.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from parley.web.origins import OriginPolicy, PolicyCORSMiddleware
from parley.web.packets import ParleySocketServer
from parley.web.routes import calls, conversation, health, meetings, metrics
from parley.web.security_headers import SecurityHeadersMiddleware
from parley.web.services import AppShell, Services, Sockets, shell_of
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
    app.state.shell = AppShell(settings, shared_engine=engine)
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
    meetings_socket = MeetingsNamespace(settings)
    sio.register_namespace(meetings_socket)
    shell_of(app).sockets = Sockets(sio, meetings_socket)
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
    """Open the parts in order, each pushed on the exit stack as soon as it is open, so that
    they close in reverse order on every path: a normal shutdown, or a part that failed to
    open (what was open before it is closed, and the failure goes on up)."""
    shell = shell_of(app)
    async with AsyncExitStack() as stack:
        stack.callback(log.info, "parley stopped")
        services = await _open(stack, shell)
        app.state.services = services
        metrics.watch(services)  # what `/metrics` reads of this run's parts
        log.info("parley %s ready (%s)", __version__, shell.settings.server.app_env.value)
        yield


async def _open(stack: AsyncExitStack, shell: AppShell) -> Services:
    settings = shell.settings
    database = await _open_database(stack, settings)
    janus = await _open_janus(stack, settings) if settings.janus.enabled else None
    store = SqlMeetingStore(database)
    rooms = await _open_rooms(stack, settings, store, janus)
    meetings = _meeting_service(settings, store, rooms)
    engine = shell.shared_engine
    if engine is None:
        engine = await _start_engine(stack, settings)
    calls, conversation = await _call_services(settings, database, engine)
    live = LiveCalls(calls, conversation, engine, max_live=settings.webrtc.max_live_calls)
    stack.push_async_callback(live.aclose)
    use_host_addresses(settings.webrtc.ice_host_addresses or None)
    media = MeetingMedia(janus.client if janus is not None else None, _room_ready(rooms))
    stack.push_async_callback(media.aclose)
    assistant = _assistant(settings, engine, meetings, live)
    stack.push_async_callback(assistant.aclose)
    if shell.sockets is not None:  # the meetings' namespace, closed before what it uses
        shell.sockets.meetings.start(meetings, media, assistant)
        stack.push_async_callback(shell.sockets.meetings.aclose)
    warming = _start_warm_up(stack, engine, conversation)
    return Services(
        settings=settings,
        database=database,
        engine=engine,
        janus=janus,
        calls=calls,
        conversation=conversation,
        live=live,
        meetings=meetings,
        media=media,
        assistant=assistant,
        warming=warming,
        metrics=Metrics(),
        sockets=shell.sockets,
    )


async def _open_database(stack: AsyncExitStack, settings: Settings) -> Database:
    database = Database(settings.database_url, echo=settings.database.echo)
    stack.push_async_callback(database.aclose)
    if settings.database.auto_migrate:
        revision = await database.upgrade()
        log.info("database %s at revision %s", database.describe(), revision)
    return database


async def _call_services(
    settings: Settings, database: Database, engine: AIEngine
) -> tuple[CallService, ConversationService]:
    store = SqlCallStore(database)
    calls = CallService(store, store, node_id=settings.server.node_id)
    await calls.fail_abandoned()  # what a crash of this node left unfinished
    conversation = ConversationService(
        calls,
        engine,
        history_turns=settings.ai.history_turns,
        max_tokens=settings.ai.llm_max_tokens,
        default_language=Language(settings.ai.default_language),
        agent=_agent(settings),
    )
    return calls, conversation


def _agent(settings: Settings) -> Agent:
    """The calls' agent, with the knowledge file read once (a bad file stops start-up with
    its reason, rather than every call answering without it)."""
    path = settings.agent.knowledge_file
    knowledge = Knowledge.from_file(path) if path is not None else None
    if knowledge is not None:
        log.info("agent knowledge: %s, %d passages", knowledge.source, len(knowledge.passages))
    return Agent(knowledge, max_sentences=settings.agent.max_sentences)


def _start_warm_up(
    stack: AsyncExitStack, engine: AIEngine, conversation: ConversationService
) -> asyncio.Task[None]:
    """The calls' prompts only: a call's first reply is the most urgent, and a meeting's chat
    is evaluated ahead by the assistant itself when it is written. Cancelled first at
    shutdown."""
    tasks = TaskSet("app")
    stack.push_async_callback(tasks.aclose)
    return tasks.start(warm_up(engine, conversation), "warm-up")


async def _open_rooms(
    stack: AsyncExitStack, settings: Settings, store: SqlMeetingStore, janus: Janus | None
) -> JanusRooms | PendingRooms:
    """The meetings' rooms: in Janus when it runs, pending otherwise."""
    rooms: JanusRooms | PendingRooms = PendingRooms()
    if janus is not None:
        key = settings.meetings.token_secret
        fallback = key.get_secret_value() if key is not None else secrets.token_urlsafe(32)
        rooms = JanusRooms(janus.client, store.live_meetings, fallback)
    stack.push_async_callback(rooms.aclose)
    await rooms.start()
    return rooms


def _meeting_service(
    settings: Settings, store: SqlMeetingStore, rooms: JanusRooms | PendingRooms
) -> MeetingService:
    tokens = HostTokens.from_settings(settings.meetings)
    stores = MeetingStores(meetings=store, chat=store, assistant=store)
    pins = PinGuard(_pin_limits(settings.meetings))
    return MeetingService(stores, rooms, LiveParticipants(), tokens, pins)


def _pin_limits(meetings: MeetingSettings) -> PinLimits:
    return PinLimits.of(
        meetings.pin_lockout_base_s,
        meetings.pin_lockout_max_s,
        meetings.pin_meeting_lockout_max_s,
        meetings.pin_guard_bytes,
    )


async def _open_janus(stack: AsyncExitStack, settings: Settings) -> Janus | None:
    """Janus, or None when it cannot start: the rest of Parley serves all the same, meetings
    without media (their rooms pending), and the log and `parley doctor` say why."""
    try:
        janus = await Janus.open(settings.janus)
    except (JanusError, OSError) as exc:
        message = exc.message if isinstance(exc, JanusError) else str(exc)
        log.error("Janus did not start, meetings will have no media: %s", message)
        return None
    stack.push_async_callback(janus.aclose)
    return janus


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


async def _start_engine(stack: AsyncExitStack, settings: Settings) -> AIEngine:
    """The app's own engine (none was passed in to share), closed with the app."""
    await asyncio.to_thread(install_local_models, settings)
    engine = build_engine(settings)
    stack.push_async_callback(engine.aclose)
    if settings.ai.preload:
        await engine.load()
    log.info("AI engine ready", extra=engine.describe())
    return engine
