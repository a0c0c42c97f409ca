"""The PIN guard's rules on a clock the test turns: lockouts per connection, address and meeting,
that double and end; a lockout refuses the right PIN too; concurrent checks; forgetting; the
host's notices; memory bounded against an attacker cycling addresses."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from parley.meetings.pin_guard import (
    Guesser,
    PinGuard,
    PinLimits,
    PinNotice,
    Policy,
    TooManyAttemptsError,
)

MEETING = uuid.uuid4()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> PinGuard:
    return PinGuard(clock=clock)


def wrong(guard: PinGuard, who: Guesser, meeting: uuid.UUID = MEETING) -> float:
    """One wrong PIN from `who`: how long they must then wait."""
    return guard.settle(guard.begin(meeting, who), right=False).wait


def refused(guard: PinGuard, who: Guesser, meeting: uuid.UUID = MEETING) -> int:
    """The retry-after of a try that must be refused."""
    with pytest.raises(TooManyAttemptsError) as caught:
        guard.begin(meeting, who)
    assert caught.value.code == "TOO_MANY_ATTEMPTS"
    seconds: int = caught.value.details["retryAfter"]
    return seconds


def test_a_connection_gets_three_free_tries_then_lockouts_that_double(
    guard: PinGuard, clock: Clock
) -> None:
    tab = Guesser("10.0.0.1", "sid-1")
    assert [wrong(guard, tab) for _ in range(3)] == [0, 0, 0]
    waits = []
    for _ in range(5):
        waits.append(wrong(guard, tab))
        assert refused(guard, tab) == waits[-1]  # the right PIN too: nothing is checked
        clock.advance(waits[-1])
    assert waits == [1, 2, 4, 8, 16]


def test_lockouts_stop_growing_at_their_cap(clock: Clock) -> None:
    limits = PinLimits(connection=Policy(1, 1.0, 5.0, 3600))
    guard = PinGuard(limits, clock)
    tab = Guesser("10.0.0.1", "sid-1")
    waits = []
    for _ in range(6):
        waits.append(wrong(guard, tab))
        clock.advance(waits[-1])
    assert waits == [0, 1, 2, 4, 5, 5]


def test_an_address_counts_across_its_connections(guard: PinGuard, clock: Clock) -> None:
    """A new connection for every guess does not escape: the address has 10 free tries."""
    waits = [wrong(guard, Guesser("10.0.0.1", f"sid-{n}")) for n in range(11)]
    assert waits == [0] * 10 + [1]
    assert refused(guard, Guesser("10.0.0.1", "a-new-tab")) == 1
    wrong(guard, Guesser("10.0.0.2", "elsewhere"))  # another address is not held up
    clock.advance(1)
    assert wrong(guard, Guesser("10.0.0.1", "sid-x")) == 2


def test_an_ipv6_network_is_one_address() -> None:
    assert Guesser.at("2001:db8:1:2::1").address == Guesser.at("2001:db8:1:2:ffff::9").address
    assert Guesser.at("2001:db8:1:2::1").address != Guesser.at("2001:db8:1:3::1").address
    assert Guesser.at("::ffff:192.0.2.7").address == "192.0.2.7"
    assert Guesser.at(None).address == "unknown"


def test_a_meeting_pauses_after_twenty_wrong_pins_from_anywhere(
    guard: PinGuard, clock: Clock
) -> None:
    """Many addresses, one guess each (a botnet): the meeting's own count stops them."""
    bots = [Guesser(f"198.51.100.{n}") for n in range(40)]
    assert [wrong(guard, bot) for bot in bots[:20]] == [0] * 20
    assert wrong(guard, bots[20]) == 1
    with pytest.raises(TooManyAttemptsError, match="This meeting has had") as caught:
        guard.begin(MEETING, bots[21])  # a fresh address, maybe with the right PIN
    assert caught.value.details["retryAfter"] == 1
    other = uuid.uuid4()
    assert wrong(guard, bots[22], other) == 0  # other meetings go on
    clock.advance(1)
    assert wrong(guard, bots[23]) == 2


def test_the_meeting_pause_is_capped_lower_than_a_clients(guard: PinGuard, clock: Clock) -> None:
    bots = iter(Guesser(f"198.51.100.{n}") for n in range(200))
    waits = []
    for _ in range(40):
        waits.append(wrong(guard, next(bots)))
        clock.advance(waits[-1])
    assert max(waits) == 120
    assert waits[20:29] == [1, 2, 4, 8, 16, 32, 64, 120, 120]


def test_who_gave_the_right_pin_passes_the_meetings_pause_but_not_their_own(
    guard: PinGuard, clock: Clock
) -> None:
    guest = Guesser("203.0.113.5", "guest-tab")
    guard.settle(guard.begin(MEETING, guest), right=True)
    for n in range(21):
        wrong(guard, Guesser(f"198.51.100.{n}"))
    refused(guard, Guesser("203.0.113.99"))  # a newcomer waits
    rejoin = guard.begin(MEETING, Guesser("203.0.113.5", "guest-tab-after-a-drop"))
    guard.settle(rejoin, right=True)
    for _ in range(11):  # but the guest's own address is held to its own count
        wrong(guard, Guesser("203.0.113.5"))
    refused(guard, Guesser("203.0.113.5"))
    clock.advance(12 * 3600 + 1)  # and the pass ends
    assert guard.notice(MEETING) is not None


def test_the_right_pin_is_not_counted(guard: PinGuard) -> None:
    tab = Guesser("10.0.0.1", "sid-1")
    for _ in range(50):
        assert guard.settle(guard.begin(MEETING, tab), right=True).wait == 0
    assert guard.notice(MEETING) is None


def test_guesses_sent_at_once_are_checked_one_at_a_time_past_the_free_ones(
    guard: PinGuard,
) -> None:
    """A hundred joins in flight together must not all be checked before the first failure is
    counted: within the free tries they may run together, past them one at a time."""
    attacker = "10.0.0.1"
    started, busy = [], []
    for n in range(100):
        try:
            started.append(guard.begin(MEETING, Guesser(attacker, f"sid-{n}")))
        except TooManyAttemptsError as exc:
            busy.append(exc.details["retryAfter"])
    assert len(started) == 10
    assert busy == [1] * 90
    outcomes = [guard.settle(attempt, right=False) for attempt in started]
    assert outcomes[-1].wait == 0  # the tenth failure is still free
    assert wrong(guard, Guesser(attacker, "sid-last")) == 1


def test_a_check_that_never_finishes_counts_as_wrong_and_settles_once(guard: PinGuard) -> None:
    tab = Guesser("10.0.0.1", "sid-1")
    attempt = guard.begin(MEETING, tab)
    guard.settle(attempt, right=False)
    guard.settle(attempt, right=False)
    notice = guard.notice(MEETING)
    assert notice is not None
    assert notice.failed == 1


def test_counts_fade_so_occasional_mistakes_never_lock_an_office_out(
    guard: PinGuard, clock: Clock
) -> None:
    """One address for a whole office: a few wrong PINs an hour, all day, and no lockout."""
    office = Guesser("192.0.2.1")
    for hour in range(24):
        for n in range(2):
            assert wrong(guard, Guesser(office.address, f"{hour}-{n}"), uuid.uuid4()) == 0
        clock.advance(3600)


def test_the_host_is_told_counts_never_a_pin(guard: PinGuard, clock: Clock) -> None:
    told: list[PinNotice] = []
    for n in range(21):
        outcome = guard.settle(guard.begin(MEETING, Guesser(f"198.51.100.{n}")), right=False)
        if outcome.notice is not None:
            told.append(outcome.notice)
    refused(guard, Guesser("198.51.100.200"))
    refused(guard, Guesser("198.51.100.201"))
    assert [n.failed for n in told] == list(range(1, 22))
    assert told[-1].locked_for == 1
    assert guard.notice(MEETING) == PinNotice(MEETING, 21, 2, 1.0)
    clock.advance(5)
    assert guard.notice(MEETING) == PinNotice(MEETING, 21, 2, 0.0)
    assert guard.notice(uuid.uuid4()) is None
    assert set(PinNotice.__dataclass_fields__) == {"meeting_id", "failed", "refused", "locked_for"}


async def test_listeners_hear_notices_and_a_failing_one_is_only_logged(
    guard: PinGuard, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[PinNotice] = []

    async def broken(_: PinNotice) -> None:
        raise RuntimeError("boom")

    async def listen(notice: PinNotice) -> None:
        heard.append(notice)

    guard.subscribe(broken)
    stop = guard.subscribe(listen)
    await guard.tell(guard.settle(guard.begin(MEETING, Guesser("10.0.0.1")), right=False).notice)
    stop()
    await guard.tell(guard.settle(guard.begin(MEETING, Guesser("10.0.0.1")), right=False).notice)
    assert [n.failed for n in heard] == [1]
    assert "PIN attempts failed" in caplog.text


def test_a_closed_connection_is_forgotten_its_address_is_not(guard: PinGuard, clock: Clock) -> None:
    tab = Guesser("10.0.0.1", "sid-1")
    for _ in range(4):
        wrong(guard, tab)
    refused(guard, tab)
    guard.forget_connection("sid-1")
    clock.advance(1)
    assert [wrong(guard, tab) for _ in range(4)] == [0, 0, 0, 1]  # three free again
    clock.advance(1)
    # The address has had 8 wrong PINs: 2 more are free.
    assert [wrong(guard, Guesser(tab.address, f"tab-{n}")) for n in range(3)] == [0, 0, 1]


def test_memory_stays_bounded_while_an_attacker_cycles_addresses(clock: Clock) -> None:
    """20,000 addresses, each with one wrong PIN: the guard holds what its bytes allow, and
    the target meeting's pause survives the churn (its record is in a table of its own)."""
    budget = 64 * 1024
    guard = PinGuard(PinLimits(max_bytes=budget), clock)
    for n in range(21):
        wrong(guard, Guesser(f"10.0.{n}.1"))
    most = 0
    for n in range(20_000):
        address = f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1"
        with contextlib.suppress(TooManyAttemptsError):
            wrong(guard, Guesser(address, f"sid-{n}"))
        most = max(most, guard.figures().bytes)
    assert most <= budget
    assert guard.figures().entries < 1000
    refused(guard, Guesser("192.0.2.200"))  # the meeting is still paused


def test_spent_records_are_swept_as_new_ones_come(guard: PinGuard, clock: Clock) -> None:
    for n in range(100):
        wrong(guard, Guesser(f"10.0.0.{n}"), uuid.uuid4())
    before = guard.figures().entries
    clock.advance(30 * 24 * 3600)  # a month later, everything has faded
    for n in range(100):
        guard.settle(guard.begin(MEETING, Guesser(f"10.1.0.{n}")), right=True)
    assert before >= 200
    assert guard.figures().entries < before
