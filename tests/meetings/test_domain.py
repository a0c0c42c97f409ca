"""The meetings domain on its own: bounds, PIN hashes, host tokens, the participant registry."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from parley.config import load_settings
from parley.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from parley.meetings.domain import (
    MAX_ROOM_ID,
    ChatMessage,
    MeetingDraft,
    Participant,
    clean_text,
    new_room_id,
    utcnow,
)
from parley.meetings.events import RoomEvent, RoomEventKind
from parley.meetings.participants import LiveParticipants
from parley.meetings.pins import hash_pin, verify_pin
from parley.meetings.tokens import HostTokens

KEY = "k" * 40


def test_drafts_are_cleaned_and_bounded() -> None:
    draft = MeetingDraft(title="  Launch  ", pin="0007", host_name=" Mina ").checked()
    assert (draft.title, draft.pin, draft.host_name) == ("Launch", "0007", "Mina")
    for bad in (
        MeetingDraft(title="t" * 121),
        MeetingDraft(title="tab\tin a title"),
        MeetingDraft(title="ok", pin="12 34"),
        MeetingDraft(title="ok", max_publishers=26),
        MeetingDraft(title="ok", bitrate=63_999),
    ):
        with pytest.raises(InvalidInputError):
            bad.checked()


def test_text_refuses_control_characters_and_surrogates_but_not_emoji() -> None:
    assert clean_text("👩‍👩‍👧 가족", "t", 10) == "👩‍👩‍👧 가족"  # zero-width joiners are fine
    assert clean_text(" a\nb\t ", "t", 10, multiline=True) == "a\nb"
    for bad in ("nul\x00", "\ud800", "esc\x1b[31m"):
        with pytest.raises(InvalidInputError):
            clean_text(bad, "t", 100, multiline=True)


INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width (non-)joiners, word joiner, BOM
    "\u3164\u3164",  # Hangul filler: a Korean "blank name"
    "\u115f\u1160 \uffa0",  # Hangul choseong/jungseong fillers, halfwidth filler
    "\u2800\u2800",  # Braille blank
    "\u00ad\u034f\ufe0f",  # soft hyphen, grapheme joiner, variation selector
    "\u0301\u0301",  # combining marks with nothing to sit on
    "\U000e0041\U000e0042",  # tag characters
    "\u200e\u200f",  # direction marks alone
]
BIDI = [
    "admin\u202e",  # right-to-left override
    "report\u202efdp.exe",  # shows as "reportexe.pdf"
    "\u202aembedded\u202c",
    "\u202bx",
    "\u202dforced",
    "\u2066isolate\u2069",
    "\u2067x",
    "\u2068first strong\u2069",
]
READABLE = [
    "김민아",
    "회의 – 주간 동기화",
    "👩\u200d💻 Dev sync",  # emoji joined with a ZWJ
    "👨\u200d👩\u200d👧\u200d👦",
    "🏳\ufe0f\u200d🌈",
    "José Ñúñez",
    "مرحبا\u200f!",  # Arabic with a right-to-left mark
    "क्\u200dष",  # Devanagari with a ZWJ
    "O'Brien (QA)",
    ".",
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_text_that_shows_nothing_is_refused(text: str) -> None:
    for name, limit, multiline in (
        ("title", 120, False),
        ("displayName", 64, False),
        ("text", 2000, True),
    ):
        with pytest.raises(InvalidInputError, match="no visible character") as refused:
            clean_text(text, name, limit, multiline=multiline)
        assert refused.value.code == "INVISIBLE_TEXT"
        assert refused.value.details == {"field": name}


@pytest.mark.parametrize("text", BIDI)
def test_text_with_bidi_embeddings_overrides_or_isolates_is_refused(text: str) -> None:
    for name, multiline in (("title", False), ("displayName", False), ("text", True)):
        with pytest.raises(InvalidInputError, match="bidirectional") as refused:
            clean_text(text, name, 200, multiline=multiline)
        assert refused.value.code == "BIDI_CONTROL"


@pytest.mark.parametrize("text", READABLE)
def test_korean_emoji_sequences_and_other_scripts_pass(text: str) -> None:
    assert clean_text(text, "displayName", 64) == text
    assert MeetingDraft(title=text, host_name=text).checked().title == text


def test_line_separators_only_where_lines_are_allowed() -> None:
    with pytest.raises(InvalidInputError, match="control"):
        clean_text("two\u2028lines", "displayName", 64)
    assert clean_text("two\u2028lines", "text", 64, multiline=True) == "two\u2028lines"


def test_chat_messages_are_bounded_and_stamped_by_the_server() -> None:
    meeting_id = uuid.uuid4()
    alice = Participant(meeting_id, "Alice")
    before = utcnow()
    message = ChatMessage.compose(meeting_id, alice, "  <b>hi</b>  ")
    assert (message.text, message.sender_name, message.id) == ("<b>hi</b>", "Alice", None)
    assert message.created_at >= before
    with pytest.raises(InvalidInputError, match="at most 2000"):
        ChatMessage.compose(meeting_id, alice, "x" * 2001)


def test_room_ids_are_exact_in_javascript() -> None:
    assert all(1 <= new_room_id() <= MAX_ROOM_ID for _ in range(1000))


def test_pins_are_salted_hashes() -> None:
    first, second = hash_pin("123456"), hash_pin("123456")
    assert first != second
    assert "123456" not in first
    assert verify_pin("123456", first)
    assert verify_pin("123456", second)
    assert not verify_pin("123457", first)
    assert not verify_pin("123456", "garbage")
    assert not verify_pin("123456", "md5$1$2$3$4$5")


def test_host_tokens_name_their_meeting_and_expire() -> None:
    tokens = HostTokens(KEY, 600)
    meeting_id = uuid.uuid4()
    claims = tokens.verify(tokens.issue(meeting_id))
    assert claims.meeting_id == meeting_id
    assert claims.expires_at > utcnow() + timedelta(seconds=590)
    old = tokens.issue(meeting_id, now=utcnow() - timedelta(seconds=601))
    with pytest.raises(UnauthorizedError) as expired:
        tokens.verify(old)
    assert expired.value.code == "HOST_TOKEN_EXPIRED"
    for bad in (None, "", "x" * 5000, HostTokens("j" * 40, 600).issue(meeting_id)):
        with pytest.raises(UnauthorizedError):
            tokens.verify(bad)


def test_without_a_secret_each_process_gets_its_own_key() -> None:
    settings = load_settings(None).meetings
    first, second = HostTokens.from_settings(settings), HostTokens.from_settings(settings)
    token = first.issue(uuid.uuid4())
    first.verify(token)
    with pytest.raises(UnauthorizedError):
        second.verify(token)


async def test_the_registry_tells_its_listeners_in_order() -> None:
    registry = LiveParticipants()
    heard: list[RoomEvent] = []

    async def listen(event: RoomEvent) -> None:
        heard.append(event)

    async def broken(_: RoomEvent) -> None:
        raise RuntimeError("a listener's failure is logged, not spread")

    registry.subscribe(broken)
    unsubscribe = registry.subscribe(listen)
    meeting_id = uuid.uuid4()
    ann, ben = Participant(meeting_id, "Ann"), Participant(meeting_id, "Ben")
    await registry.add(ann)
    await registry.add(ben)
    await registry.set_muted_by_host(meeting_id, ben.id, muted=True)
    assert await registry.remove(meeting_id, ann.id) is ann
    assert await registry.remove(meeting_id, ann.id) is None
    assert await registry.close(meeting_id, "deleted") == [ben]
    unsubscribe()
    await registry.add(Participant(meeting_id, "Cy"))
    assert [e.kind for e in heard] == [
        RoomEventKind.JOINED,
        RoomEventKind.JOINED,
        RoomEventKind.MUTED,
        RoomEventKind.LEFT,
        RoomEventKind.CLOSED,
    ]
    assert heard[-1].reason == "deleted"
    assert registry.count(meeting_id) == 1


def test_errors_map_to_http_statuses() -> None:
    from parley.web.errors import STATUS_OF

    statuses = dict(STATUS_OF)
    assert (statuses[UnauthorizedError], statuses[ForbiddenError]) == (401, 403)
