"""`/api/v1/calls`: the original AI call system's REST contract, plus listing and conversations.

Who may call what is `parley.web.access`: the caller holds the call's id and session id, an
operator holds `OPERATOR_API_KEY`; only the creator and operators ever see a `sessionId`.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from parley.calls.domain import CallStatus
from parley.calls.ports import Page
from parley.web.access import (
    OPERATOR_OPTIONAL,
    IsOperator,
    RequireOperator,
    SessionProof,
    require_caller,
)
from parley.web.deps import CallsDep, LiveCallsDep, SettingsDep
from parley.web.envelope import Success, documented, ok
from parley.web.schemas import (
    CallCreate,
    CallData,
    CallList,
    CallPublic,
    ConversationData,
    IceServer,
    Pagination,
    RtcConfig,
    RtcConfigData,
    TurnPublic,
)

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
CallId = Annotated[str, Path(max_length=64, description="The call's id (a UUID).")]


@router.get("/config", summary="WebRTC configuration for the caller's RTCPeerConnection")
async def get_config(settings: SettingsDep) -> Success[RtcConfigData]:
    rtc = settings.webrtc
    config = RtcConfig(
        ice_servers=[IceServer(urls=url) for url in rtc.stun_server_urls],
        ice_candidate_pool_size=rtc.ice_candidate_pool_size,
        ice_transport_policy=rtc.ice_transport_policy,
    )
    return ok(RtcConfigData(config=config))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start a call (it answers RINGING)",
    responses=documented(400, 422, 503),
)
async def create_call(body: CallCreate, calls: CallsDep) -> Success[CallData]:
    """The only answer that gives the caller the call's `sessionId`, besides an operator's."""
    call = await calls.initiate(body.caller_number, body.receiver_number)
    return ok(CallData(call=CallPublic.of(call, with_session=True)))


@router.get(
    "",
    summary="List calls, newest first (operators only)",
    responses=documented(401, 422),
    dependencies=[RequireOperator],
)
async def list_calls(
    calls: CallsDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 20,
    call_status: Annotated[CallStatus | None, Query(alias="status")] = None,
    caller_number: Annotated[str | None, Query(alias="callerNumber", max_length=32)] = None,
) -> Success[CallList]:
    found, total = await calls.find(
        status=call_status,
        caller_number=caller_number,
        page=Page(offset=(page - 1) * page_size, limit=page_size),
    )
    pagination = Pagination(
        page=page, page_size=page_size, total=total, total_pages=math.ceil(total / page_size)
    )
    calls_out = [CallPublic.of(c, with_session=True) for c in found]
    return ok(CallList(calls=calls_out, pagination=pagination))


@router.get(
    "/{call_id}",
    summary="One call",
    responses=documented(401, 404),
    openapi_extra=OPERATOR_OPTIONAL,
)
async def get_call(call_id: CallId, calls: CallsDep, operator: IsOperator) -> Success[CallData]:
    return ok(CallData(call=CallPublic.of(await calls.get(call_id), with_session=operator)))


@router.post(
    "/{call_id}/connect",
    summary="Connect a ringing call",
    responses=documented(401, 404, 409),
    openapi_extra=OPERATOR_OPTIONAL,
)
async def connect_call(call_id: CallId, calls: CallsDep, operator: IsOperator) -> Success[CallData]:
    return ok(CallData(call=CallPublic.of(await calls.connect(call_id), with_session=operator)))


@router.post(
    "/{call_id}/end",
    summary="Hang up",
    responses=documented(401, 404, 409),
    openapi_extra=OPERATOR_OPTIONAL,
)
async def end_call(call_id: CallId, live: LiveCallsDep, operator: IsOperator) -> Success[CallData]:
    """Hang up; a live call's peer, tracks and tasks are released too."""
    return ok(CallData(call=CallPublic.of(await live.end(call_id), with_session=operator)))


@router.get(
    "/{call_id}/conversation",
    summary="The call's conversation, turn by turn (its caller, with X-Session-Id, or operators)",
    responses=documented(401, 403, 404),
)
async def get_conversation(
    call_id: CallId, calls: CallsDep, operator: IsOperator, session_id: SessionProof
) -> Success[ConversationData]:
    require_caller(await calls.get(call_id), operator=operator, session_id=session_id)
    call, turns = await calls.conversation(call_id)
    data = ConversationData(
        call_id=call.id, status=call.status, turns=[TurnPublic.of(t) for t in turns]
    )
    return ok(data)
