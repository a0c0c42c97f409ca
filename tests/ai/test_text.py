import pytest

from parley.ai.text import PhoneReply, SentenceSplitter, speakable


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


def phone(text: str, *, step: int = 3, sentences: int = 2) -> tuple[list[str], bool]:
    """What `PhoneReply` lets through when `text` streams in pieces of `step` characters."""
    reply, kept = PhoneReply(sentences), []
    for start in range(0, len(text), step):
        kept += reply.feed(text[start : start + step])
        if reply.done:
            break
    return kept + reply.flush(), reply.done


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_a_phone_reply_stops_at_two_sentences_whatever_the_streaming(step: int) -> None:
    kept, done = phone("Sure, I can help. Your order ships in 3 days. Anything else?", step=step)
    assert " ".join(kept) == "Sure, I can help. Your order ships in 3 days."
    assert done


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_a_list_is_read_as_sentences_without_its_markers(step: int) -> None:
    text = "Here are the steps:\n1. Open **Settings**\n2. Click *Reset*\n- Check your email"
    kept, done = phone(text, step=step, sentences=5)
    assert " ".join(kept) == "Here are the steps: Open Settings. Click Reset. Check your email"
    assert not done


def test_ai_talk_is_never_read_out() -> None:
    assert phone("As an AI language model, I can check that for you.")[0] == [
        "I can check that for you."
    ]
    assert phone("I am an AI assistant. We open at 9 a.m. on weekdays.")[0] == [
        "We open at 9 a.m. on weekdays."
    ]
    assert phone("AI 언어 모델로서, 확인해 드리겠습니다.")[0] == ["확인해 드리겠습니다."]
    assert phone("저는 AI라서 잘 모릅니다. 담당자에게 연결해 드릴까요?")[0] == [
        "담당자에게 연결해 드릴까요?"
    ]


def test_korean_sentences_count_too() -> None:
    kept, done = phone("네, 도와드리겠습니다. 주문 번호를 알려주시겠어요? 그리고 성함도요.")
    assert kept == ["네,", "도와드리겠습니다.", "주문 번호를 알려주시겠어요?"]
    assert done


def test_a_reply_that_never_ends_a_sentence_is_stopped_by_its_length() -> None:
    reply, kept = PhoneReply(2, max_chars=120), []
    for _ in range(80):
        kept += reply.feed("and then, ")
    assert reply.done
    assert 120 <= sum(map(len, kept)) < 200


def test_a_refusal_becomes_an_offer_of_a_person_and_ends_the_reply() -> None:
    assert " ".join(phone("I'm sorry, but I can't assist with that. Anything else?")[0]) == (
        "I'm sorry, but I can transfer you to a colleague who can help with that."
    )
    assert phone("I cannot help with that request.")[0] == [
        "I can transfer you to a colleague who can help with that."
    ]
    assert phone("죄송하지만 그 요청은 도와드릴 수 없습니다. 다른 문의가 있으신가요?")[0][-1] == (
        "담당자에게 연결해 드리겠습니다."
    )
    assert phone("I can help you with that.")[0] == ["I can help you with that."]
