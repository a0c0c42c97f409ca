"""Phone numbers as the calls domain sees them: parsed, checked and normalized once.

Korean numbers are accepted in the spellings people use (`01012345678`, `010-1234-5678`,
`+82 10 1234 5678`, `02-123-4567`, `1588-1234`) and any other country's in E.164 (`+1 415...`).
Parsing and validity come from libphonenumber's metadata (the `phonenumbers` package), which knows
every country's numbering plan; we only add the messages that say why a number is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from parley.errors import InvalidInputError

DEFAULT_REGION = "KR"
MAX_INPUT_LENGTH = 32

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "its country code is not one that exists",
    NumberParseException.NOT_A_NUMBER: "it is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}
_LENGTH_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code is not one that exists",
    ValidationResult.TOO_SHORT: "it has too few digits",
    ValidationResult.TOO_LONG: "it has too many digits",
    ValidationResult.INVALID_LENGTH: "it has a number of digits that no number there has",
}


class InvalidPhoneNumberError(InvalidInputError):
    code = "INVALID_PHONE_NUMBER"


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid phone number. `e164` is the canonical form that is stored and compared."""

    e164: str
    region: str

    @classmethod
    def parse(cls, raw: str, field: str = "phoneNumber") -> PhoneNumber:
        """Parse what a person typed; raise `InvalidPhoneNumberError` saying why it is refused."""
        text = raw.strip()
        if not text:
            raise _refuse(field, raw, "it is empty")
        if len(text) > MAX_INPUT_LENGTH:
            raise _refuse(field, raw[:MAX_INPUT_LENGTH] + "…", "it is too long")
        try:
            number = phonenumbers.parse(text, DEFAULT_REGION)
        except NumberParseException as exc:
            raise _refuse(field, raw, _PARSE_REASONS.get(exc.error_type, str(exc))) from exc
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
            raise _refuse(field, raw, _LENGTH_REASONS.get(reason, "its length is wrong"))
        if not phonenumbers.is_valid_number(number):
            raise _refuse(field, raw, "no number is assigned in that range")
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return cls(e164=e164, region=phonenumbers.region_code_for_number(number) or "")

    @property
    def national(self) -> str:
        """Korean numbers as Koreans write them without separators (`01012345678`); others E.164.

        This is the form the original system returned, so API clients see what they sent.
        """
        if self.region != DEFAULT_REGION:
            return self.e164
        number = phonenumbers.parse(self.e164)
        formatted = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        return "".join(ch for ch in formatted if ch.isdigit())

    def __str__(self) -> str:
        return self.e164


def _refuse(field: str, raw: str, why: str) -> InvalidPhoneNumberError:
    return InvalidPhoneNumberError(
        f"{field} '{raw}' is not a valid phone number: {why}. "
        "Use a Korean number such as 010-1234-5678 or an international one such as +14155552671.",
        field=field,
    )
