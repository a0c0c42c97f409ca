"""Structured logs: one JSON object per line in production, readable lines on a terminal.

Every record carries the id of the request (or call) it belongs to, taken from a context variable
that the web middleware sets. Secrets never reach a log: the configured secret values, API-key
shapes, bearer tokens, JWTs (host tokens) and URL passwords are masked in the final text,
whatever logged them; and the libraries' wire dumps (websocket frames, Socket.IO packets, SQL
parameters), where PINs and session ids travel, are dropped at any level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

MASK = "***"
_PATTERNS = [
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),  # JWTs
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), rf"\1{MASK}@"),
]
# Attributes every LogRecord has; anything else was passed with `extra=` and is worth printing.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}


class Redactor:
    """Masks known secret values and secret-looking strings in a piece of text."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        values = sorted({s for s in secrets or [] if s}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


# Loggers that dump what crosses the wire or goes into the database (payloads, statements with
# their values) below this level: PINs, host tokens, session ids and chat ride in those dumps,
# and no pattern can tell a PIN from any other number. Nothing of theirs below it is written.
WIRE_DUMPS = {
    "aiosqlite": logging.INFO,  # every operation with its SQL parameters, at DEBUG
    "websockets": logging.INFO,  # frames (the Janus connection's too), at DEBUG
    "engineio": logging.WARNING,  # packets with their data, at INFO
    "socketio": logging.WARNING,
}
# The websockets library logs uvicorn's server connections as "uvicorn.error": its frames and
# handshake lines start with "< " (received) or "> " (sent).
_FRAME_PREFIXES = ("< ", "> ")


class _NoWireDumps(logging.Filter):
    """Drops the records of `WIRE_DUMPS` under their level, and uvicorn's websocket frame dumps
    at DEBUG: at any `LOG_LEVEL`, what clients send is never written out."""

    def filter(self, record: logging.LogRecord) -> bool:
        floor = WIRE_DUMPS.get(record.name.split(".", 1)[0])
        if floor is not None:
            return record.levelno >= floor
        if record.levelno < logging.INFO and record.name.startswith("uvicorn"):
            return not (isinstance(record.msg, str) and record.msg.startswith(_FRAME_PREFIXES))
        return True


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(entry, ensure_ascii=False, default=str))


class ConsoleFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if getattr(record, "request_id", None):
            extras = {"rid": record.request_id, **extras}  # type: ignore[attr-defined]
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return self._redact(text)


def configure_logging(level: str, fmt: str, secrets: list[str]) -> None:
    """Install Parley's handler on the root logger (idempotent); uvicorn's logs go through it."""
    redact = Redactor(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if use_json else ConsoleFormatter(redact))
    handler.addFilter(_NoWireDumps())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_parley", False)]:
        root.removeHandler(old)
    handler._parley = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # Parley writes its own access line (with the request id and duration).
    logging.getLogger("uvicorn.access").disabled = True
