import json
import logging

import pytest

from parley.logs import JsonFormatter, Redactor, configure_logging, request_id_var


def test_redacts_configured_secrets_and_secret_shapes() -> None:
    redact = Redactor(["hunter2hunter2"])
    text = redact(
        "pw=hunter2hunter2 key=sk-proj-abcdefghijklmnop auth=Bearer abc.def.ghijklmn "
        "url=postgresql://parley:dbpassword@127.0.0.1/x"
    )
    assert "hunter2hunter2" not in text
    assert "sk-proj-abcdefghijklmnop" not in text
    assert "abc.def.ghijklmn" not in text
    assert "dbpassword" not in text
    assert "postgresql://parley:***@127.0.0.1/x" in text


def test_json_lines_carry_request_id_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "parley.t", "levelname": "INFO", "msg": "called %s", "args": ("sk-abcdefghijk",)}
    )
    record.request_id = "req-1"
    record.duration_ms = 12.5
    line = json.loads(JsonFormatter(Redactor()).format(record))
    assert line["msg"] == "called ***"
    assert line["request_id"] == "req-1"
    assert line["duration_ms"] == 12.5


def test_configured_logging_redacts_everything(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    configure_logging("INFO", "json", ["my-db-password"])
    token = request_id_var.set("abc123")
    try:
        logging.getLogger("parley.test").warning("connecting with my-db-password")
    finally:
        request_id_var.reset(token)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["msg"] == "connecting with ***"
    assert line["request_id"] == "abc123"


def test_jwts_are_masked_wherever_they_appear() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZWV0aW5nIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    assert Redactor()(f'42/meetings,["join",{{"hostToken":"{token}"}}]').count(token) == 0


def test_wire_dumps_are_dropped_at_any_level(capsys: pytest.CaptureFixture[str]) -> None:
    """Frames, packets and SQL parameters carry PINs and tokens no pattern can tell apart."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    configure_logging("DEBUG", "json", [])
    try:
        logging.getLogger("uvicorn.error").debug("< TEXT '%s' [20 bytes]", "pin 73916420")
        logging.getLogger("uvicorn.error").debug("> TEXT '%s' [20 bytes]", "pin 73916420")
        logging.getLogger("aiosqlite").debug("executing %s", "pin 73916420")
        logging.getLogger("websockets.client").debug("> TEXT %s", "pin 73916420")
        logging.getLogger("engineio.server").info("Received packet %s", "pin 73916420")
        logging.getLogger("uvicorn.error").debug("= connection is OPEN")  # kept: no payload
        logging.getLogger("aiosqlite").warning("kept: not a dump")
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    lines = [json.loads(line)["msg"] for line in capsys.readouterr().err.strip().splitlines()]
    assert lines == ["= connection is OPEN", "kept: not a dump"]
