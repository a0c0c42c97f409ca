"""The rubric bench/agent_quality.py scores answers by (bench/agent_rubric.py), on hand-written
good and bad answers in both languages, among them the issue-14 trial's real failures; and the
labelled set and knowledge file it scores against."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest
from bench.agent_rubric import (
    DATA,
    Category,
    Item,
    KnownFacts,
    count_sentences,
    facts,
    invented,
    load_items,
    mentions,
    normalise,
    score,
)

from parley.ai.base import Language

EN, KO = Language.ENGLISH, Language.KOREAN


@cache
def known() -> KnownFacts:
    return KnownFacts.from_text((DATA / "knowledge.md").read_text(encoding="utf-8"))


@cache
def items() -> dict[str, Item]:
    return {item.id: item for item in load_items()}


def failed(answer: str, item_id: str) -> list[str]:
    return score(answer, items()[item_id], known()).failed


# ------------------------------------------------------------------ the bad answers


def test_a_refusal_of_an_ordinary_request_fails() -> None:
    answer = "I'm sorry, but I can't assist with that."
    assert failed(answer, "en-need-cancel") == ["refusal", "on_topic"]
    assert "refusal" in failed(answer, "en-password")
    assert "refusal" in failed(answer, "en-upset-broken")


def test_breaking_character_fails() -> None:
    answer = "As an AI language model, I do not have access to your account."
    assert "disclaimer" in failed(answer, "en-password")
    assert "disclaimer" in failed("저는 AI 언어 모델이라서 비밀번호를 알 수 없어요.", "ko-password")
    assert "disclaimer" in failed("인공지능이라 직접 확인은 어렵습니다.", "ko-unknown-stock")


def test_hours_the_knowledge_does_not_give_are_invented() -> None:
    answer = "We're open 9 AM to 5 PM on weekends."
    assert failed(answer, "en-hours-weekday") == ["invented"]
    assert invented(answer, known())[0].value == "17:00"
    assert "invented" in failed("주말에는 오전 9시부터 오후 5시까지 운영합니다.", "ko-hours")


def test_a_refund_time_the_knowledge_does_not_give_fails() -> None:
    assert "on_topic" in failed("Refunds take 24 hours.", "en-refund-card")
    assert "invented" in failed("Refunds take 10 business days.", "en-refund-card")
    assert "invented" in failed("환불은 10영업일 걸립니다.", "ko-refund-kakao")


def test_a_five_item_list_fails() -> None:
    answer = (
        "Here are the steps:\n1. Go to the login page\n2. Click Forgot password\n"
        "3. Enter your email\n4. Open the link\n5. Choose a new password"
    )
    assert failed(answer, "en-password") == ["length", "markdown"]
    assert "markdown" in failed("- 로그인 화면\n- 비밀번호 찾기", "ko-password")
    assert "markdown" in failed("**Forgot password** on the login page.", "en-password")


def test_echoed_gibberish_and_a_recited_prompt_fail() -> None:
    assert failed("그 아 바 다 소 리 를 아 메 니", "ko-misheard-gibberish") == [
        "in_role",
        "on_topic",
    ]
    assert "on_topic" in failed("당신은 친절하고 유능한 고객 상담원입니다.", "ko-hours")
    assert "in_role" in failed("저는 고객에게 음성으로 읽을 수 없습니다.", "ko-agent")
    answer = "A reef is a ridge of rock or coral near the surface of the sea."
    assert failed(answer, "en-misheard-reef") == ["on_topic"]


@pytest.mark.parametrize(
    ("answer", "item_id"),
    [
        ("고객: 비밀번호를 까먹었는데 어떻게 해야 돼요?", "ko-password"),
        ("[안내 자료]: 로그인 화면에서 비밀번호 찾기를 누릅니다.", "ko-locked"),
        (
            "I will check, and offer to take a message or transfer the caller to a colleague.",
            "en-need-address",
        ),
        ("Sora Outdoor — customer centre knowledge Opening hours and contact", "en-hours-weekday"),
        ("When's your next big sale? I'd rather wait for it.", "en-unknown-sale"),
        ("Okay, that's all I needed. Bye!", "en-bye"),
        ("Agent: I can help you cancel it. What is your order number?", "en-need-cancel"),
    ],
)
def test_answers_out_of_role_fail(answer: str, item_id: str) -> None:
    assert "in_role" in failed(answer, item_id)


def test_the_callers_words_may_be_used() -> None:
    answer = "I can help you cancel your order. What is your order number?"
    assert failed(answer, "en-need-cancel") == []
    assert failed("Hi there! How can I help you today?", "en-hello") == []
    answer = "I don't have the two-person Cirrus tent's weight, but I can check for you."
    assert failed(answer, "en-unknown-weight") == []
    answer = "Your reward points work like this: you earn 1% of what you pay."
    assert failed(answer, "en-points") == []
    assert "in_role" in failed("네, 토요일에도 전화 받으세요.", "ko-hours-saturday")


def test_a_brush_off_or_a_stray_keyword_is_not_on_topic() -> None:
    answer = "I apologize for any inconvenience. Let me know if you need help with anything else."
    assert failed(answer, "en-upset-locked") == ["on_topic"]
    answer = "죄송합니다, 주문 한 건에 2,000원이며 메시지 카드는 무료입니다."
    assert failed(answer, "ko-unknown-military") == ["on_topic"]


def test_the_wrong_language_fails() -> None:
    assert "language" in failed("We're open 9 AM to 6 PM on weekdays.", "ko-hours")
    assert "language" in failed("평일 오전 9시부터 오후 6시까지입니다.", "en-hours-weekday")
    assert "language" in failed("", "ko-hello")


def test_long_answers_fail() -> None:
    three = "Sure. We open at 9 AM. We close at 6 PM."
    assert failed(three, "en-hours-weekday") == ["length"]
    assert failed("네. 평일 오전 9시에 엽니다. 오후 6시에 닫습니다.", "ko-hours") == ["length"]
    run_on = "네 확인해 드릴게요 평일은 오전 9시에 열어요 토요일은 오전 10시에 열어요"
    assert failed(run_on, "ko-hours") == ["length"]
    wordy = "We are open from 9 AM " + "and we are always very happy to help you " * 6
    assert "length" in failed(wordy, "en-hours-weekday")


# ------------------------------------------------------------------------ good answers pass

GOOD = [
    ("en-hours-weekday", "We're open Monday to Friday, 9 AM to 6 PM, and Saturday 10 to 2."),
    ("en-hours-sunday", "We're closed on Sundays, but I can take a message for Monday."),
    ("en-phone-number", "It's 1588 2417."),
    ("en-return-window", "You have two weeks, that is fourteen days, from delivery."),
    ("en-delivery-time", "It usually arrives one or two business days after it ships."),
    ("en-cancel-shipped", "Once it has shipped it can't be cancelled, but you can return it."),
    ("en-need-cancel", "Sure, I can help with that. Could you tell me your order number?"),
    ("en-upset-double", "I'm so sorry about that. Let me look into it right away."),
    ("en-unknown-student", "I don't have that information, but I can check and call you back."),
    ("en-unknown-stock", "I'm not sure, let me transfer you to an agent who can check stock."),
    ("en-unknown-weight", "Sorry, I don't have details on its weight, but I can check for you."),
    ("en-unknown-sale", "I'm unable to provide information about upcoming sales."),
    ("en-misheard-reef", "Sorry, I didn't quite catch that. Could you say it again?"),
    ("en-misheard-jew", "Sorry, did you mean shipping to Jeju?"),
    ("en-thanks", "You're welcome, have a great day!"),
    ("ko-hours", "평일 오전 9시부터 오후 6시까지, 토요일은 오전 10시부터 오후 2시까지 운영합니다."),
    ("ko-hours", "평일은 아홉 시부터 여섯 시까지 상담원이 받습니다."),
    ("ko-shipping-fee", "배송비는 삼천 원이고, 5만 원 이상이면 무료예요."),
    ("ko-return-window", "받으신 날부터 십사 일 안에 반품하실 수 있어요."),
    ("ko-return-window", "상품을 받으신 뒤 2주 안에 신청해 주세요."),
    ("ko-refund-kakao", "카카오페이는 하루 안에 환불됩니다."),
    ("ko-overseas", "죄송하지만 해외 배송은 하지 않고 국내로만 보내 드립니다."),
    ("ko-need-cancel", "네, 취소 도와드릴게요. 주문번호를 알려 주시겠어요?"),
    ("ko-need-cancel", "네 취소 도와드릴게요 주문 번호 알려 주세요"),
    (
        "ko-upset-double",
        "불편을 드려 정말 죄송합니다. 주문 번호를 알려 주시면 바로 확인해 드리겠습니다.",
    ),
    ("ko-unknown-stock", "죄송하지만 재고는 바로 확인하기 어렵습니다. 상담원에게 연결해 드릴까요?"),
    ("ko-unknown-military", "그 부분은 제가 정보가 없어서요, 확인 후 연락드려도 될까요?"),
    ("ko-misheard-gibberish", "죄송하지만 잘 못 들었어요. 다시 한 번 말씀해 주시겠어요?"),
    ("ko-misheard-password", "혹시 비밀번호를 잊어버리셨다는 말씀이신가요?"),
    ("ko-bye", "네, 감사합니다. 좋은 하루 보내세요."),
]


@pytest.mark.parametrize(("item_id", "answer"), GOOD)
def test_a_good_answer_passes(item_id: str, answer: str) -> None:
    result = score(answer, items()[item_id], known())
    assert result.passed, [(c.name, c.detail) for c in result.checks if not c.passed]


@pytest.mark.parametrize(
    "answer",
    [
        "We can't cancel an order that has already shipped, but you can return it.",
        "I can't help with the refund until I have your order number.",
        "I can't assist with that myself, but I can transfer you to an agent.",
        "I'm unable to provide that information; let me transfer you.",
        "출고된 주문은 취소할 수 없지만 반품하실 수 있습니다.",
        "죄송하지만 세일 상품은 반품하실 수 없습니다.",
    ],
)
def test_policy_and_conditions_are_not_refusals(answer: str) -> None:
    assert score(answer, items()["en-cancel-shipped"], known()).refusal.passed


@pytest.mark.parametrize(
    "answer",
    [
        "I'm unable to help with that.",
        "I cannot provide that.",
        "I’m sorry, but I can’t assist with that request.",
        "죄송하지만 도와드릴 수 없습니다.",
        "그건 답변드리기 어렵습니다.",
        "죄송하지만 그 부분은 도움을 드리기 어려워요.",
    ],
)
def test_refusals_are_found(answer: str) -> None:
    assert not score(answer, items()["en-need-cancel"], known()).refusal.passed


def test_what_the_caller_said_may_be_repeated() -> None:
    item = Item("x", EN, "My order number is 20241187.", Category.NEEDS_INFO, ("order number",))
    answer = "Thanks, I have order number 20241187. What would you like to change?"
    assert score(answer, item, known()).passed
    assert invented("Your order 20241187 ships today.", known()) != []


def test_upset_needs_an_apology_and_a_way_forward() -> None:
    assert failed("Let me check that for you.", "en-upset-late") == ["on_topic"]
    assert failed("I'm sorry.", "en-upset-late") == ["on_topic"]
    assert failed("주문 번호를 알려 주세요.", "ko-upset-late") == ["on_topic"]


def test_needs_info_must_ask_for_the_thing() -> None:
    assert failed("Okay, I'll cancel it now.", "en-need-cancel") == ["on_topic"]
    assert failed("What's your name?", "en-need-cancel") == ["on_topic"]
    assert failed("주문번호가 필요합니다", "ko-need-cancel") == ["on_topic"]


# ------------------------------------------------------------------------ numbers and speech


@pytest.mark.parametrize(
    ("said", "same_as"),
    [
        ("칠 일", "7일"),
        ("십사 일", "14일"),
        ("2주", "14일"),
        ("일주일", "7일"),
        ("two weeks", "14 days"),
        ("삼천 원", "3,000원"),
        ("5만 원", "50000원"),
        ("1만 5천 원", "15,000원"),
        ("오후 6시", "6 PM"),
        ("저녁 여섯 시", "18:00"),
        ("9 a.m.", "오전 9시"),
        ("1~2영업일", "1-2영업일"),
        ("one or two business days", "1 to 2 business days"),
        ("10 퍼센트", "10%"),
        ("하루", "1일"),
        ("스물네 시간", "24시간"),
    ],
)
def test_numbers_are_compared_in_one_form(said: str, same_as: str) -> None:
    assert normalise(said).replace(" ", "") == normalise(same_as).replace(" ", "")


def test_a_number_is_not_found_inside_another() -> None:
    assert mentions("It takes 14 days.", ["14 days"]) == "14 days"
    assert mentions("It costs 13,000 won.", ["3,000"]) is None
    assert mentions("We close at 2 PM.", ["14 days", "14"]) is None
    assert mentions("주문 번호를 알려 주세요.", ["주문번호"]) == "주문번호"


def test_facts_are_typed() -> None:
    found = {str(f) for f in facts("Refunds take 3 to 5 business days; call 1588-2417 by 6 PM.")}
    assert found == {"3 day", "5 day", "15882417", "18:00 time"}
    assert invented("Delivery takes 24 days.", known())  # 24 is known in hours, not days
    assert not invented("The warranty lasts 12 months.", known())  # 1 year


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("We close at 6 p.m. on weekdays.", 1),
        ("It weighs 3.5 kg. Anything else?", 2),
        ("Sure... let me check.", 1),
        ("네, 확인해 드릴게요. 주문 번호를 알려 주시겠어요?", 2),
        ("확인해 드릴게요 주문 번호를 알려 주세요", 2),
        ("첫째\n둘째\n셋째", 3),
        ("", 0),
    ],
)
def test_sentences_are_counted_as_heard(text: str, sentences: int) -> None:
    assert count_sentences(text) == sentences


# --------------------------------------------------------------------- the data it scores by


def test_the_labelled_set_is_large_and_balanced() -> None:
    rows = load_items()
    assert len(rows) >= 72
    assert len({item.id for item in rows}) == len(rows)
    assert len({item.text for item in rows}) == len(rows)
    for language in (EN, KO):
        mine = [item for item in rows if item.language is language]
        assert len(mine) >= 36
        for heldout in (True, False):
            split = {item.category for item in mine if item.heldout is heldout}
            assert split == set(Category), (language, heldout)
    share = sum(item.heldout for item in rows) / len(rows)
    assert 0.25 <= share <= 0.45


def test_every_item_is_scorable() -> None:
    for item in load_items():
        if item.category in (Category.ANSWERABLE, Category.NEEDS_INFO):
            assert item.expect_any, item.id
            assert mentions(item.text, item.expect_any) is None, f"{item.id} echoes its answer"
        if item.category is Category.ANSWERABLE:
            for key in item.expect_any:
                assert not invented(key, known()), f"{item.id}: {key} is not in the knowledge"
        if item.category is Category.MISHEARD:
            assert item.meant, item.id
        if item.category is not Category.MISHEARD:  # a caller speaks the call's language
            assert score(item.text, item, known()).language.passed, item.id


def test_the_knowledge_says_the_same_in_both_languages() -> None:
    text = (DATA / "knowledge.md").read_text(encoding="utf-8")
    english, korean = text.split("\n---\n")
    assert {f.value for f in facts(english)} == {f.value for f in facts(korean)}
    assert 1500 <= len(text.split()) <= 4000
    assert "17:00" not in {f.value for f in facts(text)}  # the trial's invented closing time
    assert Counter(ch for ch in text if "가" <= ch <= "힣").total() > 2000
