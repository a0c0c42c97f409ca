import pytest

from parley.calls.phone import InvalidPhoneNumberError, PhoneNumber


@pytest.mark.parametrize(
    ("spelling", "e164", "national"),
    [
        ("01012345678", "+821012345678", "01012345678"),
        ("010-1234-5678", "+821012345678", "01012345678"),
        ("010 1234 5678", "+821012345678", "01012345678"),
        ("+82 10 1234 5678", "+821012345678", "01012345678"),
        ("+82-10-1234-5678", "+821012345678", "01012345678"),
        ("(010) 1234-5678", "+821012345678", "01012345678"),
        ("02-123-4567", "+8221234567", "021234567"),
        ("02-1234-5678", "+82212345678", "0212345678"),
        ("031-123-4567", "+82311234567", "0311234567"),
        ("070-1234-5678", "+827012345678", "07012345678"),
        ("1588-1234", "+8215881234", "15881234"),
        ("+14155552671", "+14155552671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958", "+442079460958"),
    ],
)
def test_accepts_usual_spellings_and_normalizes(spelling: str, e164: str, national: str) -> None:
    number = PhoneNumber.parse(spelling)
    assert number.e164 == e164
    assert number.national == national


def test_same_number_in_different_spellings_is_equal() -> None:
    assert PhoneNumber.parse("010-1234-5678") == PhoneNumber.parse("+82 10 1234 5678")


@pytest.mark.parametrize(
    ("spelling", "why"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("abc", "it is not a phone number"),
        ("12", "too few digits"),
        ("+999 123 4567", "country code is not one that exists"),
        ("0101234567890123", "too many digits"),
        ("99999999", "no number is assigned"),
        ("1" * 40, "it is too long"),
    ],
)
def test_refuses_with_a_reason(spelling: str, why: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as caught:
        PhoneNumber.parse(spelling, "callerNumber")
    assert why in caught.value.message
    assert caught.value.message.startswith("callerNumber ")
    assert caught.value.code == "INVALID_PHONE_NUMBER"
    assert caught.value.details == {"field": "callerNumber"}
