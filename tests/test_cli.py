"""The `parley` command as an operator runs it: real processes, real ports, real files."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from parley import __version__
from parley.storage.db import head_revision
from tests.live import free_port, start_server

SECRET_KEY = "sk-test-0123456789abcdef"


def parley(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATA_DIR": str(cwd), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "parley", "--env-file", "/dev/null", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_parley_serve_runs_the_original_flow_and_stops_gracefully(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"OPENAI_API_KEY": SECRET_KEY, "LOG_LEVEL": "DEBUG"})
    try:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            call = http.post("/api/v1/calls", json={"callerNumber": "01012345678"}).json()
            call_id = call["data"]["call"]["id"]
            assert call["data"]["call"]["status"] == "RINGING"
            assert (
                http.post(f"/api/v1/calls/{call_id}/connect").json()["data"]["call"]["status"]
                == "CONNECTING"
            )
            assert http.get(f"/api/v1/calls/{call_id}").status_code == 200
            assert (
                http.post(f"/api/v1/calls/{call_id}/end").json()["data"]["call"]["status"]
                == "ENDED"
            )
    finally:
        code = server.stop()
    # uvicorn finishes the graceful shutdown, then re-raises SIGTERM so the exit says why.
    assert code in (0, -signal.SIGTERM)
    log = server.log()
    assert SECRET_KEY not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "parley.access"]
    assert len(access) >= 5
    assert all(len(line["request_id"]) == 32 and "duration_ms" in line for line in access)
    assert any(line["msg"] == "parley stopped" for line in lines)
    assert (tmp_path / "parley.db").exists()


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = parley("db", "upgrade", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"is at revision {head_revision()}" in result.stdout


def test_doctor_reports_one_line_per_part(tmp_path: Path) -> None:
    port = str(free_port())
    result = parley("doctor", cwd=tmp_path, env={"PORT": port, "OPENAI_API_KEY": SECRET_KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split()[1] for line in result.stdout.splitlines()]
    assert names == [
        "python",
        "settings",
        "database",
        "port",
        "stun",
        "openai",
        "ai",
        "models",
        "janus",
    ]
    assert "key set" in result.stdout
    assert SECRET_KEY not in result.stdout


def port_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.split()[1:2] == ["port"])


def test_doctor_is_content_with_a_port_held_by_a_running_parley(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", env={"AI_PRELOAD": "false"})  # models not needed
    try:
        port = server.url.rsplit(":", 1)[1]
        result = parley("doctor", cwd=tmp_path, env={"HOST": "0.0.0.0", "PORT": port})  # noqa: S104
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    line = port_line(result.stdout)
    assert line.split()[0] == "ok", line
    assert f"0.0.0.0:{port}: Parley {__version__} is already serving" in line


@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound"])
def test_doctor_warns_when_another_program_holds_the_port(tmp_path: Path, listening: bool) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        if listening:
            other.listen()  # accepts the connection, never answers: the probe times out
        port = str(other.getsockname()[1])
        result = parley("doctor", cwd=tmp_path, env={"HOST": "127.0.0.1", "PORT": port})
    assert result.returncode == 0, result.stdout + result.stderr
    line = port_line(result.stdout)
    assert line.split()[0] == "warn", line
    assert f"127.0.0.1:{port} is taken by another program" in line


def test_doctor_fails_on_an_unreachable_database_without_showing_its_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://parley:dbsecret99@127.0.0.1:{free_port()}/parley"
    result = parley("doctor", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 1
    database = next(line for line in result.stdout.splitlines() if " database " in line)
    assert database.startswith("FAIL")
    assert "unreachable" in database
    assert "dbsecret99" not in result.stdout + result.stderr


def test_invalid_settings_stop_start_up_with_one_message(tmp_path: Path) -> None:
    result = parley(
        "serve",
        cwd=tmp_path,
        env={"PORT": "http", "STUN_SERVER_URL": "nope", "DATABASE_URL": "oracle://u:pw12345@h/x"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("parley: Invalid settings:")
    for name in ("PORT", "STUN_SERVER_URL", "DATABASE_URL"):
        assert name in result.stderr
    assert "pw12345" not in result.stderr
