from pathlib import Path

import pytest

from parley.config import AppEnv, load_settings
from parley.errors import SettingsError

ENV_NAMES = [
    "PORT",
    "HOST",
    "APP_ENV",
    "CORS_ORIGIN",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "STUN_SERVER_URL",
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
    "DATA_DIR",
    "LOG_LEVEL",
    "MAX_BODY_BYTES",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_original_system() -> None:
    settings = load_settings(None)
    assert settings.server.port == 3000
    assert settings.server.app_env is AppEnv.DEVELOPMENT
    assert settings.openai.model == "gpt-4o"
    assert settings.webrtc.stun_server_urls == ["stun:stun.l.google.com:19302"]
    assert settings.server.cors_origins == []
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("/var/parley.db")


def test_reads_the_original_names_from_env_and_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "PORT=4000\nOPENAI_MODEL=gpt-4o-mini\nCORS_ORIGIN=https://a.example, https://b.example\n"
    )
    monkeypatch.setenv("PORT", "5000")  # the environment wins over .env
    monkeypatch.setenv("STUN_SERVER_URL", "stun:one:3478,stun:two:3478")
    settings = load_settings(env_file)
    assert settings.server.port == 5000
    assert settings.openai.model == "gpt-4o-mini"
    assert settings.server.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.webrtc.stun_server_urls == ["stun:one:3478", "stun:two:3478"]


def test_db_host_selects_mysql_with_quoted_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_PASSWORD", "p@ss:w/rd")
    monkeypatch.setenv("DB_NAME", "mobok")
    url = load_settings(None).database_url
    assert url == "mysql+asyncmy://root:p%40ss%3Aw%2Frd@db.internal:3306/mobok?charset=utf8mb4"


def test_database_url_wins_and_gets_an_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secret@127.0.0.1:5432/parley")
    assert load_settings(None).database_url == "postgresql+asyncpg://u:secret@127.0.0.1:5432/parley"
    monkeypatch.setenv("DATABASE_URL", "mysql://u@h/db")
    assert load_settings(None).database_url == "mysql+asyncmy://u@h/db"


def test_every_invalid_setting_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setenv("DB_PORT", "0")
    monkeypatch.setenv("STUN_SERVER_URL", "turn:relay")
    monkeypatch.setenv("DATABASE_URL", "oracle://x")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    fields = [problem.split(":", 1)[0] for problem in caught.value.problems]
    assert sorted(fields) == ["DATABASE_URL", "DB_PORT", "LOG_LEVEL", "PORT", "STUN_SERVER_URL"]
    assert caught.value.message.startswith("Invalid settings:")


def test_secrets_are_hidden_in_repr_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret-value")
    monkeypatch.setenv("DB_PASSWORD", "hunter2hunter2")
    settings = load_settings(None)
    assert "sk-test-very-secret-value" not in repr(settings)
    assert "hunter2hunter2" not in repr(settings)
    assert set(settings.secrets()) == {"sk-test-very-secret-value", "hunter2hunter2"}
    monkeypatch.setenv("DATABASE_URL", "oracle://user:topsecretpw@host/db")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert "topsecretpw" not in caught.value.message


def test_production_refuses_a_wildcard_cors_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("CORS_ORIGIN", "*")
    with pytest.raises(SettingsError, match="CORS_ORIGIN"):
        load_settings(None)


def test_only_the_documented_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable named like a field is not that field: `HOST` is the server's, not the
    database's; the shell's `USER` is not `DB_USER`; `ENABLED` is not `JANUS_ENABLED`."""
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("USER", "someone")
    monkeypatch.setenv("ENABLED", "false")
    settings = load_settings(None, janus={"binary": "/opt/janus/bin/janus"})
    assert settings.server.host == "127.0.0.1"
    assert settings.database.host is None
    assert settings.database.user == "root"
    assert settings.database_url.startswith("sqlite")
    assert settings.janus.enabled  # the default, whatever ENABLED says
    assert settings.janus.binary == "/opt/janus/bin/janus"  # values in code go by field name
