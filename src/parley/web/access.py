"""Who may see which call: operators, and each caller their own.

    operator  `Authorization: Bearer <OPERATOR_API_KEY>` or `X-API-Key: <OPERATOR_API_KEY>`:
              lists calls and reads any call, its `sessionId` included.
    caller    whoever created the call. `POST /calls` answered them its `id` and its `sessionId`,
              the two secrets of the call (random UUIDs: 122 random bits each, so they cannot
              be guessed and tries need no rate limit). The original API's per-call routes
              (`GET /calls/{id}`, `connect`, `end`, `conversation/process`) take the id alone,
              because the original client sends nothing more; their answers never carry the
              `sessionId`. The transcript (`GET /calls/{id}/conversation`) also asks for the
              session id in `X-Session-Id`: ids travel in URLs, which access logs keep, and the
              session id travels in neither.

Nobody else learns a call's id or session id: listing calls is for operators only. Without
`OPERATOR_API_KEY` (allowed outside production) nobody is an operator and calls cannot be
listed at all: a development server listens on every interface by default, and a listing for
anyone on the network would hand out every call's id, which ends or speaks into that call.

Keys are compared in constant time, as digests so that not even their length shows, and never
logged (`Settings.secrets()` masks the configured key in every log line).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from parley.calls.domain import Call
from parley.errors import ForbiddenError, UnauthorizedError
from parley.web.deps import SettingsDep

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="operatorKey",
    description="The operator key (`OPERATOR_API_KEY`), as a bearer token.",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="operatorApiKey",
    description="The operator key (`OPERATOR_API_KEY`).",
)
_session = APIKeyHeader(
    name="X-Session-Id",
    auto_error=False,
    scheme_name="callSession",
    description="The call's `sessionId`, which `POST /calls` answered to its creator.",
)


class OperatorKeyRequiredError(UnauthorizedError):
    code = "OPERATOR_KEY_REQUIRED"


class InvalidOperatorKeyError(UnauthorizedError):
    code = "INVALID_OPERATOR_KEY"


def _is_operator(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> bool:
    """Whether the request carries the operator key; a key that is not it is refused rather
    than ignored, so that an operator with a stale key is told."""
    given = bearer.credentials if bearer is not None else api_key
    if not given:
        return False
    key = settings.server.operator_api_key
    if key is None:
        raise InvalidOperatorKeyError("This server has no operator key (OPERATOR_API_KEY).")
    if not _same(given, key.get_secret_value()):
        raise InvalidOperatorKeyError("That operator key is not valid.")
    return True


def _same(given: str, key: str) -> bool:
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(key.encode()).digest())


IsOperator = Annotated[bool, Depends(_is_operator)]


def _require_operator(operator: IsOperator) -> None:
    if not operator:
        raise OperatorKeyRequiredError(
            "Listing calls needs the operator key: send `Authorization: Bearer "
            "<OPERATOR_API_KEY>` or `X-API-Key: <OPERATOR_API_KEY>`."
        )


def _session_id(value: Annotated[str | None, Depends(_session)]) -> str | None:
    return value or None


RequireOperator = Depends(_require_operator)
SessionProof = Annotated[str | None, Depends(_session_id)]
# For routes open to the caller by the call's id: the operator key may be sent, but need not be
# (OpenAPI's empty security requirement; FastAPI appends it to the schemes the route declares).
OPERATOR_OPTIONAL: dict[str, Any] = {"security": [{}]}


def require_caller(call: Call, *, operator: bool, session_id: str | None) -> None:
    """The call's own caller (who proves it with the session id) or an operator, else refuse."""
    if operator:
        return
    if session_id is None:
        raise UnauthorizedError(
            "Send the call's sessionId in X-Session-Id (or the operator key).",
            code="SESSION_REQUIRED",
        )
    if not call.has_session(session_id):
        raise ForbiddenError("That X-Session-Id is not this call's.", code="WRONG_SESSION")
