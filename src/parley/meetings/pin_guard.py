"""`PinGuard`: wrong meeting PINs are counted and answered with lockouts that double, so that
guessing a PIN takes days (4 digits, many addresses) to years (6 digits) instead of minutes.

Why: a PIN has few values (10,000 for 4 digits). Before this guard the only brake was scrypt's
cost: the server checked ~14 guesses a second, a 4-digit PIN fell in ~6 minutes on average and a
6-digit one in ~10 hours.

Who is counted: every attempt is charged to three records, each with its own rule.

    scope        key                        free   then lockouts            count halves every
    connection   a Socket.IO connection     3      1 s, 2 s, 4 s … 15 min   1 h (gone at its end)
    address      IPv4 address, IPv6 /64     10     1 s, 2 s, 4 s … 15 min   2 h
    meeting      the meeting                20     1 s, 2 s, 4 s … 2 min    1 h

A record's *score* is a leaky count of its wrong PINs (+1 each, halved every half-life, so that
an office behind one address that mistypes now and then never reaches a lockout). Past `free`,
the n-th wrong PIN starts a lockout of base·2^(n−1), capped. While a lockout that applies holds,
every attempt is refused with `TOO_MANY_ATTEMPTS` and a retry-after, the right PIN too, and the
PIN is not even checked: a refused guess teaches nothing and costs no scrypt. Past `free`, a
record also lets only one check run at a time (`pending`), so that a hundred guesses sent at the
same instant are not all checked before the first one's failure is counted.

What an attacker then gets (`python -m bench.pin_guessing --model`): from one address, 26
guesses in the first hour and ~160 a day after (a 4-digit PIN in a month on average, a 6-digit
one in 8.6 years); from any number of addresses together, ~720 a day (a week, and 1.9 years).

The meeting's own lockout bounds many addresses together (a botnet, or one IPv6 network of many
/64s): at most one guess every 2 minutes, ~720 a day, whatever the number of addresses. But the
same lockout turns away newcomers who have the right PIN, so it must not let an attacker keep a
meeting's guests out forever, cheaply. The choices:

- **The host is never subject to it.** A host token admits before any PIN is looked at (the
  service checks the token first), and a token cannot be guessed.
- **Someone who gave the right PIN passes it** from the same address for `pass_s` (12 h): a
  guest whose connection dropped gets back in during an attack. Their own address's and
  connection's records still apply.
- **It weighs less than a client's.** 20 free wrong PINs (twice an address's 10) and a cap of
  2 minutes (against an address's 15): one address alone reaches the meeting's lockout only
  after ~20 minutes of its own and cannot keep it up (it may guess once in 15 minutes, the
  meeting's lockout lasts at most 2), and a newcomer never waits more than 2 minutes for a try.
- **The host is told** (`PinNotice`, relayed as `pin-attempts`): wrong PINs and refused
  attempts, and how long joining by PIN is paused, so that they can act (end the meeting and
  start another with a new PIN, or let guests know to wait).

What is left: eight addresses or more, guessing in turn, can keep newcomers to one meeting
waiting up to 2 minutes per try for as long as they keep at it. That is the price of a bound on
how fast many addresses together can guess; without the meeting's lockout there is none.

Memory is bounded in bytes, measured with `sys.getsizeof` when a record is made (keys and
records have fixed shapes): each scope's table holds at most its share of `max_bytes`; past it,
the least recently changed record is forgotten (spent ones, decayed to nothing and unlocked,
are swept first as new ones come). An attacker cycling addresses churns the address table but
cannot grow it, nor push a meeting's record out: that would take a PIN meeting of their own
(a scrypt hash to create it) and a wrong guess (another) for each of thousands of records, well
over the 2 minutes of the lockout they would lift.

The guard reports what it holds to `parley.memory` (`/metrics`, `caches.meetingPinGuard`).
One process only: several processes behind a load balancer would each keep their own counts
(as `LiveParticipants` is this process's own); a shared store would go behind this class.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from parley import memory
from parley.errors import TooManyRequestsError

log = logging.getLogger("parley.meetings.pins")

Clock = Callable[[], float]
_BUSY_S = 1.0  # retry-after while another check of the same record runs (scrypt takes ~40 ms)
_SPENT = 0.01  # a score this low is nothing: the record can go


class TooManyAttemptsError(TooManyRequestsError):
    """A lockout holds for this meeting or this client: nothing was checked."""

    code = "TOO_MANY_ATTEMPTS"


@dataclass(frozen=True, slots=True)
class Policy:
    """One scope's rule: `free` wrong PINs, then lockouts from `base_s` doubling up to `max_s`;
    the count of wrong PINs halves every `half_life_s`."""

    free: int
    base_s: float
    max_s: float
    half_life_s: float

    def lockout(self, score: float) -> float:
        """base·2^(n−1) for the n-th wrong PIN past the free ones (a faded count rounds up, so
        that lockouts stay 1 s, 2 s, 4 s…), at most `max_s`."""
        over = math.ceil(score - self.free)
        if over <= 0:
            return 0.0
        return min(self.max_s, self.base_s * math.exp2(min(over - 1, 60)))


@dataclass(frozen=True, slots=True)
class PinLimits:
    connection: Policy = Policy(3, 1.0, 900.0, 3600.0)
    address: Policy = Policy(10, 1.0, 900.0, 2 * 3600.0)
    meeting: Policy = Policy(20, 1.0, 120.0, 3600.0)
    pass_s: float = 12 * 3600.0
    max_bytes: int = 4 * 2**20

    @classmethod
    def of(
        cls, base_s: float, client_max_s: float, meeting_max_s: float, max_bytes: int
    ) -> PinLimits:
        """The default rules with other lockout times and memory (the settings' knobs)."""
        d = cls()
        return cls(
            Policy(d.connection.free, base_s, client_max_s, d.connection.half_life_s),
            Policy(d.address.free, base_s, client_max_s, d.address.half_life_s),
            Policy(d.meeting.free, base_s, meeting_max_s, d.meeting.half_life_s),
            d.pass_s,
            max_bytes,
        )


@dataclass(frozen=True, slots=True)
class Guesser:
    """Who tries a PIN: their network address (an IPv6 one by its /64, what one subscriber
    usually holds) and their connection, when there is one."""

    address: str
    connection: str | None = None

    @classmethod
    def at(cls, host: str | None, connection: str | None = None) -> Guesser:
        return cls(_network(host), connection)


IN_PROCESS = Guesser("in-process")


@dataclass(frozen=True, slots=True)
class PinNotice:
    """What a meeting's host is told: wrong PINs tried, attempts turned away by a lockout, and
    how long joining it by PIN is paused (0: it is not). Never a PIN, never an address."""

    meeting_id: uuid.UUID
    failed: int
    refused: int
    locked_for: float


@dataclass(slots=True)
class _Record:
    score: float = 0.0
    at: float = 0.0
    locked_until: float = 0.0
    pending: int = 0
    failed: int = 0
    refused: int = 0

    def decayed(self, now: float, policy: Policy) -> float:
        return self.score * math.exp2(-max(0.0, now - self.at) / policy.half_life_s)

    def wait(self, now: float, policy: Policy) -> float:
        """Seconds before this record lets a check through (0: now)."""
        if now < self.locked_until:
            return self.locked_until - now
        if self.pending and self.decayed(now, policy) + self.pending >= policy.free:
            return _BUSY_S
        return 0.0

    def fail(self, now: float, policy: Policy) -> None:
        self.score, self.at = self.decayed(now, policy) + 1, now
        self.failed += 1
        lockout = policy.lockout(self.score)
        if lockout:
            self.locked_until = max(self.locked_until, now + lockout)

    def spent(self, now: float, policy: Policy) -> bool:
        return not self.pending and now >= self.locked_until and self.decayed(now, policy) < _SPENT


class _Table:
    """One scope's records, least recently changed first, within `max_bytes` (the entries as
    `sys.getsizeof` measures them when made, and the table itself)."""

    def __init__(self, policy: Policy, max_bytes: int) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self._records: OrderedDict[Hashable, tuple[_Record, int]] = OrderedDict()
        self._entry_bytes = 0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def bytes(self) -> int:
        return self._entry_bytes + sys.getsizeof(self._records)

    def get(self, key: Hashable) -> _Record | None:
        found = self._records.get(key)
        return found[0] if found is not None else None

    def touch(self, key: Hashable, now: float) -> _Record:
        """The record of `key` (a new one if none), now the most recently changed."""
        found = self._records.get(key)
        if found is not None:
            self._records.move_to_end(key)
            return found[0]
        record = _Record(at=now)
        size = _size(key) + _size(record)
        self._records[key] = (record, size)
        self._entry_bytes += size
        self._sweep(now)
        return record

    def drop(self, key: Hashable) -> None:
        found = self._records.pop(key, None)
        if found is not None:
            self._entry_bytes -= found[1]

    def _sweep(self, now: float) -> None:
        """Forget the oldest record while it is spent or the table is over its bytes."""
        while len(self._records) > 1:
            key, (record, _) = next(iter(self._records.items()))
            if not record.spent(now, self.policy) and self.bytes <= self.max_bytes:
                return
            self.drop(key)


@dataclass(slots=True)
class Attempt:
    """A PIN being checked: pending in each record it is counted in until `PinGuard.settle`.
    `binding` are the records whose lockouts apply to this guesser (the meeting's is left out
    for an address that gave the right PIN before)."""

    meeting_id: uuid.UUID
    who: Guesser
    counted: list[tuple[_Record, Policy]]
    binding: list[tuple[_Record, Policy]]
    meeting: _Record
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a check ended: how long the guesser must now wait (0: not at all), and what the host
    is to be told (after a wrong PIN)."""

    wait: float = 0.0
    notice: PinNotice | None = None


PinListener = Callable[[PinNotice], Awaitable[None]]


class PinGuard:
    """Counts PIN attempts per connection, address and meeting (see the module's docstring).
    `clock` is injectable, so that tests of the rules run in milliseconds."""

    def __init__(self, limits: PinLimits | None = None, clock: Clock = time.monotonic) -> None:
        self.limits = limits or PinLimits()
        self._clock = clock
        share = self.limits.max_bytes // 8
        self._connections = _Table(self.limits.connection, share)
        self._addresses = _Table(self.limits.address, 4 * share)
        self._meetings = _Table(self.limits.meeting, 2 * share)
        # (meeting, address) that gave the right PIN -> a record whose lock is when the pass ends
        self._passes = _Table(Policy(0, 0.0, 0.0, self.limits.pass_s), share)
        self._listeners: list[PinListener] = []
        memory.register("meetingPinGuard", self)

    def begin(self, meeting_id: uuid.UUID, who: Guesser) -> Attempt:
        """Start checking a PIN for `meeting_id` from `who`, or refuse at once
        (`TooManyAttemptsError`) while a lockout holds for either."""
        now = self._clock()
        attempt = self._attempt(meeting_id, who, now)
        wait = _wait(attempt.binding, now)
        if wait > 0:
            attempt.meeting.refused += 1
            meeting_wide = any(
                r is attempt.meeting and r.wait(now, p) >= wait for r, p in attempt.binding
            )
            raise _refusal(wait, meeting_wide=meeting_wide)
        for record, _ in attempt.counted:
            record.pending += 1
        return attempt

    def settle(self, attempt: Attempt, *, right: bool) -> Outcome:
        """End a check begun with `begin`: a wrong PIN (or a check that never finished) is
        counted in every record, and may start their lockouts."""
        if attempt.settled:
            return Outcome()
        attempt.settled = True
        now = self._clock()
        for record, _ in attempt.counted:
            record.pending -= 1
        if right:
            granted = self._passes.touch((attempt.meeting_id, attempt.who.address), now)
            granted.locked_until = now + self.limits.pass_s
            return Outcome()
        return self._failed(attempt, now)

    def notice(self, meeting_id: uuid.UUID) -> PinNotice | None:
        """The meeting's counts so far, if any wrong PIN was tried (for a host who joins)."""
        record = self._meetings.get(meeting_id)
        if record is None or not record.failed:
            return None
        return _notice_of(meeting_id, record, self._clock())

    def forget_connection(self, connection: str) -> None:
        """A connection closed: its record goes (its address's stays)."""
        self._connections.drop(connection)

    def subscribe(self, listener: PinListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def tell(self, notice: PinNotice | None) -> None:
        """Tell the listeners (the hosts' connections); a listener's failure is logged."""
        if notice is None:
            return
        for listener in list(self._listeners):
            try:
                await listener(notice)
            except Exception:
                log.exception("a listener of meeting %s's PIN attempts failed", notice.meeting_id)

    def figures(self) -> memory.CacheFigures:
        """What the guard holds, for `/metrics` (it registers with `parley.memory`)."""
        tables = (self._connections, self._addresses, self._meetings, self._passes)
        held = sum(t.bytes for t in tables)
        return memory.CacheFigures(held, self.limits.max_bytes, sum(len(t) for t in tables))

    # -- helpers -----------------------------------------------------------------------------

    def _attempt(self, meeting_id: uuid.UUID, who: Guesser, now: float) -> Attempt:
        meeting = self._meetings.touch(meeting_id, now)
        counted = [(self._addresses.touch(who.address, now), self.limits.address)]
        if who.connection is not None:
            counted.append((self._connections.touch(who.connection, now), self.limits.connection))
        binding = list(counted)
        counted.append((meeting, self.limits.meeting))
        if not self._passes_meeting(meeting_id, who, now):
            binding.append((meeting, self.limits.meeting))
        return Attempt(meeting_id, who, counted, binding, meeting)

    def _passes_meeting(self, meeting_id: uuid.UUID, who: Guesser, now: float) -> bool:
        granted = self._passes.get((meeting_id, who.address))
        return granted is not None and now < granted.locked_until

    def _failed(self, attempt: Attempt, now: float) -> Outcome:
        meeting = attempt.meeting
        was_paused = now < meeting.locked_until
        for record, policy in attempt.counted:
            record.fail(now, policy)
        notice = _notice_of(attempt.meeting_id, meeting, now)
        if notice.locked_for and not was_paused:
            log.warning(
                "meeting %s: joining by PIN paused for %.0f s after %d wrong PINs",
                attempt.meeting_id,
                notice.locked_for,
                notice.failed,
            )
        return Outcome(_wait(attempt.binding, now), notice)


def _wait(records: list[tuple[_Record, Policy]], now: float) -> float:
    return max(record.wait(now, policy) for record, policy in records)


def _notice_of(meeting_id: uuid.UUID, record: _Record, now: float) -> PinNotice:
    return PinNotice(meeting_id, record.failed, record.refused, max(0.0, record.locked_until - now))


def retry_after(wait: float) -> int:
    """Whole seconds to wait, never 0 while there is a wait."""
    return max(1, math.ceil(wait))


def _refusal(wait: float, *, meeting_wide: bool) -> TooManyAttemptsError:
    seconds = retry_after(wait)
    if meeting_wide:
        message = (
            f"This meeting has had too many wrong PINs: joining it with a PIN is paused "
            f"for {seconds} s."
        )
    else:
        message = f"Too many wrong PINs from here: try again in {seconds} s."
    return TooManyAttemptsError(message, retryAfter=seconds)


def _network(host: str | None) -> str:
    """An address as a key: IPv4 as it is, IPv6 by its /64 (an IPv4-mapped one as IPv4)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _size(value: object) -> int:
    """`sys.getsizeof` of a key or record with what it holds (str, UUID, tuple, slots)."""
    if isinstance(value, tuple):
        return sys.getsizeof(value) + sum(_size(item) for item in value)
    if isinstance(value, uuid.UUID):
        return sys.getsizeof(value) + sys.getsizeof(value.int)
    if isinstance(value, _Record):
        fields = (
            value.score,
            value.at,
            value.locked_until,
            value.pending,
            value.failed,
            value.refused,
        )
        return sys.getsizeof(value) + sum(sys.getsizeof(item) for item in fields)
    return sys.getsizeof(value)
