"""Parley's exceptions, all in one place.

    ParleyError                    code + human message; nothing below leaks a foreign type
    ├── SettingsError              the configuration is invalid; start-up stops
    ├── UnauthorizedError          no credentials, or ones that are not valid (HTTP 401)
    ├── ForbiddenError             valid credentials that do not allow this (HTTP 403)
    ├── NotFoundError              an id that names nothing (HTTP 404)
    ├── InvalidInputError          a value the domain refuses, e.g. a phone number (HTTP 422)
    ├── ConflictError              a request that the current state forbids (HTTP 409)
    │   └── IllegalTransitionError a call status change the state machine does not allow
    ├── TooManyRequestsError       too many tries: refused until `retryAfter` seconds (HTTP 429)
    ├── StorageError               the database failed or is unreachable (HTTP 503)
    ├── AIProviderError            speech-to-text, the LLM or text-to-speech failed (HTTP 503)
    └── JanusError                 Janus refused a request (its `janus_code` and `reason` kept)
        ├── JanusPluginError       a plugin (VideoRoom) refused it: `janus_code` is its `error_code`
        ├── JanusTimeoutError      no answer to a transaction in time (the request may have run)
        └── JanusUnavailableError  Janus is not running, or the connection to it dropped

Every error carries a stable machine-readable `code` (UPPER_SNAKE_CASE) and a message for people.
The web layer maps classes to HTTP statuses; the domain never speaks HTTP. Foreign errors
(SQLAlchemy, drivers) are turned into ours at the boundary with `raise ... from exc`.
"""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    """Base of every error Parley raises on purpose."""

    code = "PARLEY_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class SettingsError(ParleyError):
    """The configuration is invalid; `problems` lists every bad variable."""

    code = "INVALID_SETTINGS"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid settings:\n  " + "\n  ".join(problems))


class UnauthorizedError(ParleyError):
    """No credentials, or credentials that are not valid (unsigned, expired, malformed)."""

    code = "UNAUTHORIZED"


class ForbiddenError(ParleyError):
    """Valid credentials that do not give the right to this (e.g. another meeting's host)."""

    code = "FORBIDDEN"


class NotFoundError(ParleyError):
    code = "NOT_FOUND"


class InvalidInputError(ParleyError):
    code = "INVALID_INPUT"


class ConflictError(ParleyError):
    code = "CONFLICT"


class IllegalTransitionError(ConflictError):
    """A status change the call state machine refuses; nothing was changed."""

    code = "ILLEGAL_STATE_TRANSITION"


class TooManyRequestsError(ParleyError):
    """Too many tries (e.g. wrong meeting PINs): nothing was done; `details["retryAfter"]` says
    in how many seconds a try may be made again."""

    code = "TOO_MANY_REQUESTS"


class StorageError(ParleyError):
    code = "STORAGE_UNAVAILABLE"


class AtCapacityError(ParleyError):
    """This process carries as many live calls as it can without breaking their audio."""

    code = "AT_CAPACITY"


class AIProviderError(ParleyError):
    """An AI provider failed; `provider` names which one (e.g. "stt:openai")."""

    code = "AI_PROVIDER_FAILED"


class JanusError(ParleyError):
    """Janus answered a request with an error; `janus_code` is its numeric code (e.g. 458 "no
    such session"), None when Janus gave none."""

    code = "JANUS_ERROR"

    def __init__(self, janus_code: int | None, reason: str, **details: Any) -> None:
        super().__init__(f"Janus error {janus_code}: {reason}", **details)
        self.janus_code = janus_code
        self.reason = reason


class JanusPluginError(JanusError):
    """A plugin refused a request; `janus_code` is the plugin's `error_code` (VideoRoom: 426 no
    such room, 427 room exists, 428 no such feed, 433 unauthorized...)."""

    code = "JANUS_PLUGIN_ERROR"

    def __init__(self, plugin: str, janus_code: int | None, reason: str) -> None:
        super().__init__(janus_code, reason, plugin=plugin)
        self.plugin = plugin


class JanusTimeoutError(JanusError):
    """No answer to a transaction within its timeout."""

    code = "JANUS_TIMEOUT"

    def __init__(self, request: str, timeout_s: float) -> None:
        super().__init__(None, f"no answer to '{request}' within {timeout_s:g} s", request=request)


class JanusUnavailableError(JanusError):
    """Janus cannot be reached, or the connection dropped (its sessions and handles are gone)."""

    code = "JANUS_UNAVAILABLE"

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)
