"""`/meetings` requests about a participant's media: publishing, the subscriber's negotiation,
candidates, what the microphone and camera do, and the received quality. Janus is driven by
`meetings.media` (a participant's handles, by participant id); who may unmute is the service's
rule; this only translates."""

from __future__ import annotations

import uuid

from parley.meetings.domain import Meeting, Participant
from parley.meetings.media import MediaUnavailableError, ParticipantMedia, Publishers, Quality
from parley.web.meeting_connection import MeetingSocketBase, Member, participant_view
from parley.web.meeting_requests import (
    AnswerRequest,
    MediaRequest,
    PublishRequest,
    QualityRequest,
    TrickleRequest,
)
from parley.web.socket_base import InvalidPayloadError, Reply, handles
from parley.web.socket_schemas import Empty


class MediaRequests(MeetingSocketBase):
    @handles(PublishRequest)
    async def on_publish(self, sid: str, body: PublishRequest, member: Member) -> Reply:
        if body.jsep.type != "offer":
            raise InvalidPayloadError("publish needs an offer (jsep.type 'offer').")
        media = self._media_of(member)
        answer = await media.publish(body.jsep.sdp)
        await self.service.published(
            media.meeting, member.participant, mic_on=body.micOn, camera_on=body.cameraOn
        )
        return {"jsep": {"type": "answer", "sdp": answer}}

    @handles(Empty)
    async def on_unpublish(self, sid: str, body: Empty, member: Member) -> Reply:
        media = self._media.get(member.participant.id) if self._media is not None else None
        if media is not None:
            await media.unpublish()
        await self.service.participants.update(member.participant)
        return {}

    @handles(AnswerRequest)
    async def on_subscriber_answer(self, sid: str, body: AnswerRequest, member: Member) -> Reply:
        if body.jsep.type != "answer":
            raise InvalidPayloadError("subscriber-answer needs an answer (jsep.type 'answer').")
        await self._media_of(member).answer(body.jsep.sdp)
        return {}

    @handles(TrickleRequest)
    async def on_trickle(self, sid: str, body: TrickleRequest, member: Member) -> Reply:
        candidate = body.candidate
        init = None if candidate is None or candidate.is_end else candidate.model_dump()
        await self._media_of(member).trickle(body.target, init)
        return {}

    @handles(MediaRequest)
    async def on_media(self, sid: str, body: MediaRequest, member: Member) -> Reply:
        participant = member.participant
        await self.service.set_media(participant, mic_on=body.micOn, camera_on=body.cameraOn)
        return {"self": participant_view(participant)}

    @handles(QualityRequest)
    async def on_quality(self, sid: str, body: QualityRequest, member: Member) -> Reply:
        chosen: Quality = body.quality
        layer = await self._media_of(member).set_quality(chosen)
        return {"quality": chosen, "layer": layer}

    # -- a participant's media, opened at their join -----------------------------------------

    def open_media(self, sid: str, meeting: Meeting, participant: Participant) -> None:
        """Their Janus media (none when Janus is off), subscribed to who publishes; its first
        offer comes after the `join` answer: Janus is slower."""
        if self._media is None:
            return
        publishers = self._publishers(meeting.id, participant.id)
        media = self._media.open(meeting, participant, self.outbox(sid), publishers)
        if media is not None:
            media.on_unpublished = lambda: self.later(self._unpublished(meeting.id, participant.id))
            media.sync()

    async def _unpublished(self, meeting_id: uuid.UUID, participant_id: str) -> None:
        """Janus says their publication is gone (e.g. their peer connection failed)."""
        participant = self.service.participants.get(meeting_id, participant_id)
        media = self._media.get(participant_id) if self._media is not None else None
        if media is not None and participant is not None:
            await media.unpublish()
            await self.service.participants.update(participant)

    def _publishers(self, meeting_id: uuid.UUID, participant_id: str) -> Publishers:
        service = self.service

        def publishers() -> set[int]:
            return {
                p.feed_id
                for p in service.participants.in_meeting(meeting_id)
                if p.id != participant_id and p.feed_id is not None
            }

        return publishers

    def _media_of(self, member: Member) -> ParticipantMedia:
        media = self._media.get(member.participant.id) if self._media is not None else None
        if media is None:
            raise MediaUnavailableError("Meetings have no media server here (Janus is off).")
        return media
