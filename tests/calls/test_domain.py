import itertools
from datetime import UTC, datetime, timedelta

import pytest

from parley.calls.domain import TRANSITIONS, Call, CallStatus
from parley.calls.phone import PhoneNumber
from parley.errors import IllegalTransitionError

S = CallStatus
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LEGAL = {
    (S.INITIATING, S.RINGING),
    (S.INITIATING, S.ENDED),
    (S.INITIATING, S.FAILED),
    (S.RINGING, S.CONNECTING),
    (S.RINGING, S.ENDED),
    (S.RINGING, S.FAILED),
    (S.CONNECTING, S.IN_PROGRESS),
    (S.CONNECTING, S.ENDED),
    (S.CONNECTING, S.FAILED),
    (S.IN_PROGRESS, S.ENDED),
}


def make_call(status: CallStatus = S.INITIATING) -> Call:
    return Call(caller=PhoneNumber.parse("01012345678"), status=status, created_at=T0)


def test_transition_table_is_exactly_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_every_pair_is_allowed_or_refused_without_change(source: S, target: S) -> None:
    call = make_call(source)
    before = (call.status, call.updated_at, call.connected_at, call.ended_at)
    if (source, target) in LEGAL:
        call.transition(target, at=T0 + timedelta(seconds=1))
        assert call.status is target
        assert call.updated_at == T0 + timedelta(seconds=1)
    else:
        with pytest.raises(IllegalTransitionError) as caught:
            call.transition(target, at=T0 + timedelta(seconds=1))
        assert (call.status, call.updated_at, call.connected_at, call.ended_at) == before
        assert caught.value.details == {"current": source.value, "requested": target.value}


def test_life_cycle_stamps_times_and_duration() -> None:
    call = make_call()
    call.transition(S.RINGING, at=T0)
    call.transition(S.CONNECTING, at=T0 + timedelta(seconds=2))
    call.transition(S.IN_PROGRESS, at=T0 + timedelta(seconds=3))
    call.transition(S.ENDED, at=T0 + timedelta(seconds=63, milliseconds=500))
    assert call.connected_at == T0 + timedelta(seconds=2)
    assert call.started_at == T0 + timedelta(seconds=3)
    assert call.ended_at == T0 + timedelta(seconds=63, milliseconds=500)
    assert call.duration_seconds == 60.5
    assert call.failure_reason is None


def test_hang_up_before_media_has_no_duration() -> None:
    call = make_call(S.RINGING)
    call.transition(S.ENDED, at=T0)
    assert call.duration_seconds is None
    assert call.status.is_final


def test_failure_keeps_a_bounded_reason() -> None:
    call = make_call(S.CONNECTING)
    call.transition(S.FAILED, at=T0, reason="ICE failed " + "x" * 1000)
    assert call.failure_reason is not None
    assert call.failure_reason.startswith("ICE failed")
    assert len(call.failure_reason) == 500


def test_only_connecting_and_in_progress_calls_can_talk() -> None:
    assert {s for s in S if s.can_talk} == {S.CONNECTING, S.IN_PROGRESS}


@pytest.mark.parametrize("source", [s for s in S if not s.is_final])
def test_a_call_that_must_stop_always_reaches_a_final_state(source: S) -> None:
    """Media lost mid-call asks for FAILED; IN_PROGRESS → FAILED is not in the table, so the
    call ends as ENDED rather than staying IN_PROGRESS forever."""
    call = make_call(source)
    status = call.closing_status(S.FAILED)
    call.transition(status, at=T0, reason="the media connection failed")
    assert call.status.is_final
    assert status is (S.ENDED if source is S.IN_PROGRESS else S.FAILED)
