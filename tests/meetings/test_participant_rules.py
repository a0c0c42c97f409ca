"""What a participant may do, as the domain decides it (the `/meetings` namespace only
translates): who may unmute, who acts as the host. Pure objects, no server."""

from __future__ import annotations

import uuid

import pytest

from parley.meetings.domain import (
    MutedByHostError,
    NotHostError,
    Participant,
    ParticipantRole,
)
from parley.meetings.events import RoomEvent
from parley.meetings.participants import LiveParticipants


def person(role: ParticipantRole = ParticipantRole.GUEST) -> Participant:
    return Participant(uuid.uuid4(), "Ann", role)


def test_a_microphone_muted_by_the_host_stays_off() -> None:
    ann = person()
    ann.muted_by_host = True
    with pytest.raises(MutedByHostError):
        ann.set_media(mic_on=True, camera_on=None)
    ann.set_media(mic_on=False, camera_on=True)  # the camera is theirs
    assert (ann.mic_on, ann.camera_on) == (False, True)
    ann.publishes(mic_on=True, camera_on=False)  # a new publication does not unmute
    assert (ann.mic_on, ann.camera_on) == (False, False)
    ann.muted_by_host = False
    ann.set_media(mic_on=True, camera_on=None)
    assert ann.mic_on is True


def test_only_a_host_with_a_token_acts_as_the_host() -> None:
    with pytest.raises(NotHostError):
        person().host_token("a token")
    with pytest.raises(NotHostError):
        person(ParticipantRole.HOST).host_token(None)
    assert person(ParticipantRole.HOST).host_token("a token") == "a token"


async def test_muting_turns_the_microphone_off_for_everyone() -> None:
    registry = LiveParticipants()
    ann = person()
    ann.mic_on = True
    await registry.add(ann)
    told: list[tuple[str, bool]] = []

    async def listener(event: RoomEvent) -> None:
        told.append((event.kind.value, ann.mic_on))

    registry.subscribe(listener)
    await registry.set_muted_by_host(ann.meeting_id, ann.id, muted=True)
    assert told == [("muted", False)]  # off before anyone is told
    await registry.set_muted_by_host(ann.meeting_id, ann.id, muted=False)
    assert ann.mic_on is False  # lifting the mute lets them unmute, it does not unmute them
