"""`/api/v1/meetings`: rooms with a host. Creating one answers the host's token; deleting,
ending, kicking and muting need it (`Authorization: Bearer <hostToken>`): none or an invalid one
is 401, another meeting's 403, an unknown or deleted meeting 404. So does listing a PIN
meeting's participants: no PIN is taken over REST, so REST is no way to guess one."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status

from parley.meetings.domain import Meeting
from parley.meetings.ports import Page
from parley.meetings.service import MeetingService
from parley.observability import record_meeting_created
from parley.web.deps import HostTokenDep, MeetingsDep
from parley.web.envelope import Success, documented, ok
from parley.web.meeting_schemas import (
    CreatedMeeting,
    MeetingCreate,
    MeetingData,
    MeetingList,
    MeetingPublic,
    MuteRequest,
    ParticipantData,
    ParticipantList,
    ParticipantPublic,
)
from parley.web.schemas import Pagination

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings"])
MeetingId = Annotated[str, Path(max_length=64, description="The meeting's id (a UUID).")]
ParticipantId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The participant's id in the meeting.")
]
HOST_ONLY = documented(401, 403, 404, 409, 502, 503)


def public(meetings: MeetingService, meeting: Meeting) -> MeetingPublic:
    count = len(meetings.participants_of(meeting)) if meeting.is_live else 0
    ready = meeting.is_live and meetings.rooms.is_ready(meeting)
    return MeetingPublic.of(meeting, participants=count, media_ready=ready)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a meeting; you are its host (keep the hostToken)",
    responses=documented(400, 422, 503),
)
async def create_meeting(body: MeetingCreate, meetings: MeetingsDep) -> Success[CreatedMeeting]:
    meeting, token = await meetings.create(body.draft())
    record_meeting_created()
    return ok(CreatedMeeting(meeting=public(meetings, meeting), host_token=token))


@router.get("", summary="List meetings, newest first (deleted ones not)", responses=documented(422))
async def list_meetings(
    meetings: MeetingsDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 20,
) -> Success[MeetingList]:
    found, total = await meetings.find(Page(offset=(page - 1) * page_size, limit=page_size))
    pagination = Pagination(
        page=page, page_size=page_size, total=total, total_pages=math.ceil(total / page_size)
    )
    return ok(MeetingList(meetings=[public(meetings, m) for m in found], pagination=pagination))


@router.get("/{meeting_id}", summary="One meeting", responses=documented(404))
async def get_meeting(meeting_id: MeetingId, meetings: MeetingsDep) -> Success[MeetingData]:
    return ok(MeetingData(meeting=public(meetings, await meetings.get(meeting_id))))


@router.delete(
    "/{meeting_id}",
    summary="Delete a meeting (host only); everyone is put out",
    responses=HOST_ONLY,
)
async def delete_meeting(
    meeting_id: MeetingId, meetings: MeetingsDep, token: HostTokenDep
) -> Success[MeetingData]:
    meeting = await meetings.delete(meeting_id, token)
    return ok(MeetingData(meeting=public(meetings, meeting)))


@router.post(
    "/{meeting_id}/end",
    summary="End the meeting for everyone (host only); it stays readable",
    responses=HOST_ONLY,
)
async def end_meeting(
    meeting_id: MeetingId, meetings: MeetingsDep, token: HostTokenDep
) -> Success[MeetingData]:
    meeting = await meetings.end(meeting_id, token)
    return ok(MeetingData(meeting=public(meetings, meeting)))


@router.get(
    "/{meeting_id}/participants",
    summary="Who is in the meeting now (a PIN meeting's: host only)",
    description="Anyone may see who is in a meeting without a PIN. A PIN meeting's "
    "participants are shown to its host only (`Authorization: Bearer <hostToken>`; none is "
    "401, another meeting's 403); its guests see them once they have joined with the PIN.",
    responses=documented(401, 403, 404),
    openapi_extra={"security": [{}]},  # the host token is optional: a PIN meeting's need it
)
async def list_participants(
    meeting_id: MeetingId, meetings: MeetingsDep, token: HostTokenDep
) -> Success[ParticipantList]:
    found = await meetings.visible_participants(meeting_id, token)
    return ok(ParticipantList(participants=[ParticipantPublic.of(p) for p in found]))


@router.post(
    "/{meeting_id}/participants/{participant_id}/kick",
    summary="Put a participant out of the meeting (host only)",
    responses=HOST_ONLY,
)
async def kick_participant(
    meeting_id: MeetingId,
    participant_id: ParticipantId,
    meetings: MeetingsDep,
    token: HostTokenDep,
) -> Success[ParticipantData]:
    participant = await meetings.kick(meeting_id, participant_id, token)
    return ok(ParticipantData(participant=ParticipantPublic.of(participant)))


@router.post(
    "/{meeting_id}/participants/{participant_id}/mute",
    summary="Mute a participant's microphone for everyone, or lift it (host only)",
    responses=documented(400, 401, 403, 404, 409, 422, 502, 503),
)
async def mute_participant(
    meeting_id: MeetingId,
    participant_id: ParticipantId,
    meetings: MeetingsDep,
    token: HostTokenDep,
    body: Annotated[MuteRequest | None, Body()] = None,
) -> Success[ParticipantData]:
    mute = body.mute if body is not None else True
    participant = await meetings.mute(meeting_id, participant_id, token, mute=mute)
    return ok(ParticipantData(participant=ParticipantPublic.of(participant)))
