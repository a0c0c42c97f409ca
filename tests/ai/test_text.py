import pytest

from parley.ai.text import SentenceSplitter, speakable


def split(pieces: list[str], **options: int) -> list[str]:
    splitter = SentenceSplitter(**options)
    out = [sentence for piece in pieces for sentence in splitter.feed(piece)]
    rest = splitter.flush()
    return [*out, rest] if rest else out


def test_sentences_come_out_as_soon_as_they_end() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Hello there") == []
    assert splitter.feed("! How can I") == ["Hello there!"]
    assert splitter.feed(" help you today? I") == ["How can I help you today?"]
    assert splitter.flush() == "I"


def test_numbers_abbreviations_and_ellipses_do_not_cut() -> None:
    pieces = ["The price is 3", ".5 dollars. Dr", ". Kim said so", "... really."]
    assert split(pieces) == ["The price is 3.5 dollars.", "Dr. Kim said so...", "really."]


def test_korean_sentences() -> None:
    assert split(["안녕하세요", "! 무엇을 도와", "드릴까요? 네"]) == [
        "안녕하세요!",
        "무엇을 도와드릴까요?",
        "네",
    ]


def test_a_long_first_clause_is_cut_early_for_latency() -> None:
    text = "Thanks for waiting so patiently on the line, I have checked your order and "
    out = split([text, "it ships tomorrow."], first_clause_chars=24)
    assert out[0] == "Thanks for waiting so patiently on the line,"
    assert out[1] == "I have checked your order and it ships tomorrow."


def test_the_first_clause_goes_at_the_first_comma_even_after_one_word() -> None:
    assert split(["I'm sorry, but I", " cannot see your order, sadly."]) == [
        "I'm sorry,",
        "but I cannot see your order, sadly.",
    ]
    # "Sure," is heard ~0.7 s sooner than "Sure, I can help with that," (at ~11 tokens/s)
    assert split(["Sure, I can help with that, of course."]) == [
        "Sure,",
        "I can help with that, of course.",
    ]
    assert split(["Sure, I can help."], first_clause_words=2) == ["Sure, I can help."]


def test_the_first_clause_goes_with_its_comma_token_not_the_next() -> None:
    splitter = SentenceSplitter()
    assert [splitter.feed(t) for t in ("I", "'m", " sorry", ",")] == [[], [], [], ["I'm sorry,"]]
    assert splitter.feed(" but I") == []
    numbers = SentenceSplitter()  # a comma after a digit may be a thousands separator
    assert [numbers.feed(t) for t in ("It costs 1", ",", "000 won")] == [[], [], []]
    korean = SentenceSplitter()
    assert korean.feed("네,") == ["네,"]
    later = SentenceSplitter()  # later clauses still wait for their length and the space
    assert later.feed("Yes. I can do that,") == ["Yes."]


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("**Sure!** I can help.", "Sure! I can help."),
        ("See https://example.com/x for details", "See for details"),
        ("- first\n- second", "first second"),
        ("좋아요 😀👍", "좋아요"),
        ("`code` and # headings", "code and headings"),
    ],
)
def test_speakable_removes_what_cannot_be_said(raw: str, spoken: str) -> None:
    assert speakable(raw) == spoken
