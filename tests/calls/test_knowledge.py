"""The knowledge file: cut into passages under their headings, small files whole, large ones
searched by BM25 in the caller's language; bad files refused with their reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.ai.base import Language
from parley.calls.knowledge import (
    RETRIEVED_TOKENS,
    WHOLE_TOKENS,
    Knowledge,
    KnowledgeError,
    estimated_tokens,
)

SMALL = """# Hours
We are open Monday to Friday, 9:00 to 18:00.

# 영업시간
평일 오전 9시부터 오후 6시까지 영업합니다.
"""


def large() -> str:
    """A file too large to paste, with the facts a caller asks about somewhere in the middle."""
    filler = "\n\n".join(
        f"## Product line {n}\nThe model {n} kettle comes in steel and in glass, with a "
        f"two-litre jug and a base that keeps it warm. Colours vary by season and stock."
        for n in range(60)
    )
    return f"""# Shop
{filler}

## Returns and refunds
You can return an item within 30 days of delivery. Refunds reach your card in 5 to 7 business
days after we receive the parcel.

## Cancelling an order
An order can be cancelled free of charge until it ships; after that, return it instead.

# 고객센터 안내
## 환불 및 반품
상품은 배송일로부터 30일 이내에 반품할 수 있습니다.
환불은 상품 도착 후 영업일 기준 5~7일이 걸립니다.

## 주문 취소
주문은 발송 전까지 무료로 취소할 수 있습니다.

## 배송
일반 배송은 2~3일 걸리며 5만 원 이상 구매 시 무료입니다.
"""


def test_a_small_file_goes_whole_in_the_caller_s_language() -> None:
    knowledge = Knowledge.from_text(SMALL)
    english = knowledge.whole(Language.ENGLISH)
    korean = knowledge.whole(Language.KOREAN)
    assert english is not None
    assert korean is not None
    assert "9:00 to 18:00" in english
    assert "영업" not in english
    assert "오전 9시" in korean
    assert "Monday" not in korean


def test_a_large_file_is_searched_not_pasted() -> None:
    knowledge = Knowledge.from_text(large())
    assert estimated_tokens(large()) > WHOLE_TOKENS
    assert knowledge.whole(Language.ENGLISH) is None
    found = knowledge.passages_for("How long do refunds take?", Language.ENGLISH)
    assert found[0].heading == "Shop > Returns and refunds"
    assert "5 to 7 business" in found[0].text
    assert sum(estimated_tokens(p.render()) for p in found) <= RETRIEVED_TOKENS
    cancel = knowledge.passages_for("I'd like to cancel my order", Language.ENGLISH)
    assert cancel[0].heading == "Shop > Cancelling an order"


def test_korean_words_are_found_through_particles_and_endings() -> None:
    knowledge = Knowledge.from_text(large())
    found = knowledge.passages_for("환불은 언제 되나요?", Language.KOREAN)
    assert found[0].heading == "고객센터 안내 > 환불 및 반품"
    assert all(p.language is Language.KOREAN for p in found)
    shipping = knowledge.passages_for("배송비가 얼마예요?", Language.KOREAN)
    assert "5만 원" in shipping[0].text


def test_nothing_in_common_finds_nothing() -> None:
    knowledge = Knowledge.from_text(large())
    assert knowledge.passages_for("zebra crossing quantum", Language.ENGLISH) == []
    assert knowledge.passages_for("", Language.ENGLISH) == []


def test_a_long_section_is_cut_at_its_paragraphs_and_keeps_its_heading() -> None:
    paragraphs = "\n\n".join(
        f"Paragraph {n} says something useful about warranty." * 3 for n in range(12)
    )
    knowledge = Knowledge.from_text(f"# Warranty\n{paragraphs}")
    assert len(knowledge.passages) > 2
    assert {p.heading for p in knowledge.passages} == {"Warranty"}


def test_bad_files_are_refused_with_their_reason(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="cannot be read"):
        Knowledge.from_file(tmp_path / "missing.md")
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(KnowledgeError, match="not UTF-8"):
        Knowledge.from_file(binary)
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"a" * (3 * 1024 * 1024))
    with pytest.raises(KnowledgeError, match="limit"):
        Knowledge.from_file(huge)
