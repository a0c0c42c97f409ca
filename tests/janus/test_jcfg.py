"""The generated Janus configuration, without running Janus (tests/janus/test_janus.py runs it)."""

from pathlib import Path

import pytest

from parley.config import JanusSettings, load_settings
from parley.errors import SettingsError
from parley.janus.client import redact, shown_url
from parley.janus.jcfg import JanusLayout, JanusSecrets, render, write_config


def janus_settings(**values: object) -> JanusSettings:
    return load_settings(None, janus=values).janus


def test_render_writes_libconfig() -> None:
    text = render({"general": {"a": 'say "hi"\\', "n": 3, "on": True, "list": ["/x", "/y"]}})
    assert text == (
        'general: {\n\ta = "say \\"hi\\"\\\\"\n\tn = 3\n\ton = true\n\tlist = ["/x", "/y"]\n}\n'
    )


def test_everything_but_videoroom_and_websockets_is_disabled(tmp_path: Path) -> None:
    plugins = tmp_path / "lib" / "x86_64-linux-gnu" / "janus" / "plugins"
    plugins.mkdir(parents=True)
    for name in ("libjanus_videoroom.so", "libjanus_custom.so"):
        (plugins / name).touch()
    layout = JanusLayout({"plugins": plugins})
    disabled = layout.disabled("plugins")
    assert "libjanus_videoroom.so" not in disabled
    assert {"libjanus_custom.so", "libjanus_echotest.so", "libjanus_audiobridge.so"} <= set(
        disabled
    )
    assert "libjanus_websockets.so" not in layout.disabled("transports")
    assert "libjanus_http.so" in layout.disabled("transports")
    assert layout.disabled("loggers") == ["libjanus_jsonlog.so"]


def test_config_files_carry_settings_and_secrets_privately(tmp_path: Path) -> None:
    settings = janus_settings(
        rtp_port_range="30000-30100",
        stun_server="stun:stun.example.org:3478",
        public_ips="203.0.113.7",
        ice_enforce_list="veth",
        turn_server="turn.example.org:3478",
        turn_user="u",
        turn_password="turn-password",
    )
    secrets = JanusSecrets.generate()
    write_config(tmp_path, settings, port=18188, secrets=secrets, layout=JanusLayout({}))
    core = (tmp_path / "janus.jcfg").read_text()
    assert f'api_secret = "{secrets.api_secret}"' in core
    assert 'rtp_port_range = "30000-30100"' in core
    assert 'stun_server = "stun.example.org"\n\tstun_port = 3478' in core
    assert 'nat_1_1_mapping = "203.0.113.7"' in core
    assert 'ice_enforce_list = "veth"' in core
    assert 'turn_pwd = "turn-password"' in core
    transport = (tmp_path / "janus.transport.websockets.jcfg").read_text()
    assert 'ws_ip = "127.0.0.1"' in transport
    assert "ws_port = 18188" in transport
    assert "admin_ws = false" in transport
    videoroom = (tmp_path / "janus.plugin.videoroom.jcfg").read_text()
    assert f'admin_key = "{secrets.admin_key}"' in videoroom
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
    assert secrets.api_secret not in repr(secrets)


def test_each_start_gets_new_secrets() -> None:
    first, second = JanusSecrets.generate(), JanusSecrets.generate()
    assert first.api_secret != second.api_secret
    assert len({first.api_secret, first.admin_secret, first.admin_key}) == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JANUS_URL", "http://janus:8088"),
        ("JANUS_RTP_PORT_RANGE", "40000-20000"),
        ("JANUS_STUN_SERVER", "stun.example.org"),
        ("JANUS_PUBLIC_IP", "not-an-ip"),
    ],
)
def test_invalid_janus_settings_are_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError):
        load_settings(None)


def test_external_janus_secrets_are_redacted_from_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JANUS_URL", "ws://janus.internal:8188")
    monkeypatch.setenv("JANUS_API_SECRET", "api-secret-1")
    monkeypatch.setenv("JANUS_ADMIN_KEY", "admin-key-1")
    settings = load_settings(None)
    assert settings.janus.external
    assert {"api-secret-1", "admin-key-1"} <= set(settings.secrets())


def test_messages_are_logged_without_secrets() -> None:
    message = {
        "janus": "message",
        "apisecret": "a",
        "body": {"admin_key": "k", "pin": "1234", "room": 7, "list": [{"secret": "s"}]},
    }
    assert redact(message) == {
        "janus": "message",
        "apisecret": "***",
        "body": {"admin_key": "***", "pin": "***", "room": 7, "list": [{"secret": "***"}]},
    }
    assert shown_url("wss://user:pw@janus.example:8989/ws") == "wss://janus.example:8989"
