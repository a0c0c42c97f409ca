"""Host tokens: HS256 JWTs that say "the bearer hosts meeting X", until they expire.

Claims: `sub` (the meeting id), `role` ("host"), `iat`, `exp`, `iss` ("parley"), `aud`
("parley:meeting"), `jti`. The key is `MEETING_TOKEN_SECRET`; without one (development, tests)
a random key is made for the process, which says so in its log (never the key), and its tokens
die with it. Production refuses to start without the setting (`config.Settings`).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from parley.config import MeetingSettings
from parley.errors import ForbiddenError, UnauthorizedError
from parley.meetings.domain import ParticipantRole, utcnow

log = logging.getLogger("parley.meetings")

ALGORITHM = "HS256"
ISSUER = "parley"
AUDIENCE = "parley:meeting"
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class HostClaims:
    meeting_id: uuid.UUID
    expires_at: datetime


class HostTokens:
    """Issues and checks host tokens with one key."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_s)

    @classmethod
    def from_settings(cls, settings: MeetingSettings) -> HostTokens:
        if settings.token_secret is not None:
            return cls(settings.token_secret.get_secret_value(), settings.token_ttl_s)
        log.warning(
            "MEETING_TOKEN_SECRET is not set: host tokens are signed with a random key made for "
            "this process, and stop working when it restarts"
        )
        return cls(secrets.token_urlsafe(48), settings.token_ttl_s)

    def issue(self, meeting_id: uuid.UUID, *, now: datetime | None = None) -> str:
        issued = now or utcnow()
        claims = {
            "sub": str(meeting_id),
            "role": ParticipantRole.HOST.value,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": issued + self._ttl,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str | None) -> HostClaims:
        """The claims of a valid host token. `UnauthorizedError` when there is none or it is
        not valid (bad signature, expired, malformed); `ForbiddenError` for another role."""
        if not token:
            raise UnauthorizedError(
                "This needs the meeting's host token: Authorization: Bearer <hostToken>.",
                code="HOST_TOKEN_REQUIRED",
            )
        claims = self._decode(token)
        if claims.get("role") != ParticipantRole.HOST.value:
            raise ForbiddenError("This token is not a host's.", code="NOT_THE_HOST")
        try:
            meeting_id = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise _invalid("it names no meeting") from None
        return HostClaims(meeting_id, datetime.fromtimestamp(int(claims["exp"]), UTC))

    def _decode(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid("it is too long")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError(
                "The host token has expired.", code="HOST_TOKEN_EXPIRED"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise _invalid(type(exc).__name__) from None
        return claims


def _invalid(why: str) -> UnauthorizedError:
    return UnauthorizedError(f"The host token is not valid ({why}).", code="INVALID_HOST_TOKEN")
