"""What the caller heard of a reply, from the share of each sentence the track played."""

from __future__ import annotations

import numpy as np

from parley.calls.domain import Stage
from parley.calls.recorder import heard_text, played_shares, stored
from parley.rtc.speech_track import Segment

SPOKEN = ["Sure.", "Your parcel left the warehouse on Monday.", "It arrives on Friday."]


def segment(turn: int, index: int, samples: int, played: int) -> Segment:
    part = Segment(np.zeros(samples, np.int16), (turn, index))
    part.played = played
    return part


def test_sentences_played_in_full_are_heard_whole() -> None:
    assert heard_text(SPOKEN, [1.0, 1.0, 1.0]) == " ".join(SPOKEN)
    assert heard_text(SPOKEN, [1.0, 0.99, 1.0]) == " ".join(SPOKEN)  # the frame padding


def test_the_sentence_cut_is_heard_as_far_as_its_words_were_played() -> None:
    heard = heard_text(SPOKEN, [1.0, 0.5, 0.0])
    assert heard == "Sure. Your parcel left the"  # half of its seven words, rounded
    assert heard_text(SPOKEN, [1.0, 0.05]) == "Sure. Your"  # at least a word once it started


def test_nothing_played_is_nothing_heard_and_nothing_after_a_cut_counts() -> None:
    assert heard_text(SPOKEN, [0.0, 0.0, 0.0]) == ""
    assert heard_text(SPOKEN, []) == ""
    assert heard_text(SPOKEN, [1.0, 0.0, 1.0]) == "Sure."


def test_shares_come_from_the_reply_s_own_segments() -> None:
    segments = [
        segment(2, 0, 960, 960),
        segment(2, 1, 960 * 4, 960 * 4),  # a sentence queued in two segments
        segment(2, 1, 960 * 4, 960),
        segment(1, 2, 960, 960),  # another reply's
        Segment(np.zeros(960, np.int16), ("apology", 0)),
    ]
    assert played_shares(2, segments) == [1.0, 5 / 8]
    assert heard_text(SPOKEN, played_shares(2, segments)) == "Sure. Your parcel left the"


def test_stages_are_stored_by_their_snake_case_names() -> None:
    assert stored({Stage.STT: 240.5, Stage.END_OF_TURN: 310.0}) == {
        "stt": 240.5,
        "end_of_turn": 310.0,
    }
