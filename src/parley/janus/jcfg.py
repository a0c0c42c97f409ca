"""The configuration Parley generates for the Janus it runs: libconfig files (`.jcfg`) in a
private temporary folder, written again at each start with fresh secrets.

Janus loads every plugin, transport, logger and event handler it finds unless a `disable` list
names it, so the lists below name everything Debian ships (and anything else found in the
folders) except the WebSocket transport and the VideoRoom plugin.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parley.config import JanusSettings

Value = str | int | bool | Sequence[str]
Section = Mapping[str, Value]

VIDEOROOM = "libjanus_videoroom.so"
WEBSOCKETS = "libjanus_websockets.so"

# What Janus 1.1 can load, by folder; everything but the two above is disabled.
_NAMES = {
    "plugins": "audiobridge duktape echotest lua nosip recordplay sip streaming textroom "
    "videocall videoroom voicemail",
    "transports": "http mqtt nanomsg pfunix rabbitmq websockets",
    "events": "gelfevh mqttevh nanomsgevh rabbitmqevh sampleevh wsevh",
    "loggers": "jsonlog",
}
STOCK = {
    kind: tuple(f"libjanus_{name}.so" for name in names.split()) for kind, names in _NAMES.items()
}
KEEP = {VIDEOROOM, WEBSOCKETS}


@dataclass(frozen=True, slots=True)
class JanusSecrets:
    """Generated for each start: the Janus API secret, the (unused but set) Admin API secret,
    and the VideoRoom `admin_key` that room creation and RTP forwarding need."""

    api_secret: str = field(repr=False)
    admin_secret: str = field(repr=False)
    admin_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> JanusSecrets:
        return cls(*(secrets.token_urlsafe(24) for _ in range(3)))


@dataclass(frozen=True, slots=True)
class JanusLayout:
    """Where Janus's loadable modules are (`None`: Janus's compiled-in default)."""

    folders: Mapping[str, Path]

    @classmethod
    def discover(cls, binary: str) -> JanusLayout:
        """Find `lib/<arch>/janus/<kind>` or `lib/janus/<kind>` next to the binary's prefix."""
        path = shutil.which(binary)
        if path is None:
            return cls({})
        prefix = Path(path).resolve().parent.parent
        folders: dict[str, Path] = {}
        for kind in STOCK:
            found = sorted(prefix.glob(f"lib/*/janus/{kind}")) + sorted(
                prefix.glob(f"lib/janus/{kind}")
            )
            if found:
                folders[kind] = found[0]
        return cls(folders)

    def disabled(self, kind: str) -> list[str]:
        present = self.folders.get(kind)
        found = {p.name for p in present.glob("*.so")} if present is not None else set()
        return sorted((set(STOCK[kind]) | found) - KEEP)


def render(sections: Mapping[str, Section]) -> str:
    """libconfig text: `name: { key = value ... }` per section."""
    blocks = []
    for name, entries in sections.items():
        lines = [f"\t{key} = {_value(value)}" for key, value in entries.items()]
        blocks.append(f"{name}: {{\n" + "\n".join(lines) + ("\n" if lines else "") + "}\n")
    return "\n".join(blocks)


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a libconfig string: double quotes, backslash escapes
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def write_config(
    folder: Path,
    settings: JanusSettings,
    *,
    port: int,
    secrets: JanusSecrets,
    layout: JanusLayout,
) -> None:
    """Write `janus.jcfg`, the WebSocket transport's and the VideoRoom plugin's files."""
    files = {
        "janus.jcfg": core_config(folder, settings, secrets, layout),
        "janus.transport.websockets.jcfg": websockets_config(port),
        "janus.plugin.videoroom.jcfg": videoroom_config(secrets),
    }
    for name, sections in files.items():
        path = folder / name
        path.write_text(render(sections), encoding="utf-8")
        path.chmod(0o600)


def core_config(
    folder: Path, settings: JanusSettings, secrets: JanusSecrets, layout: JanusLayout
) -> dict[str, Section]:
    general: dict[str, Value] = {
        "configs_folder": str(folder),
        "debug_level": settings.debug_level,
        "debug_colors": False,
        "api_secret": secrets.api_secret,
        "admin_secret": secrets.admin_secret,
        "session_timeout": 60,
        "reclaim_session_timeout": 0,
        "hide_dependencies": True,
        "protected_folders": [
            "/bin",
            "/boot",
            "/dev",
            "/etc",
            "/lib",
            "/proc",
            "/sbin",
            "/sys",
            "/usr",
            "/var",
        ],
    }
    general.update({f"{kind}_folder": str(path) for kind, path in layout.folders.items()})
    return {
        "general": general,
        "media": {"rtp_port_range": settings.rtp_port_range},
        "nat": nat_config(settings),
        "plugins": {"disable": ",".join(layout.disabled("plugins"))},
        "transports": {"disable": ",".join(layout.disabled("transports"))},
        "loggers": {"disable": ",".join(layout.disabled("loggers"))},
        "events": {"broadcast": False, "disable": ",".join(layout.disabled("events"))},
    }


def nat_config(settings: JanusSettings) -> dict[str, Value]:
    """STUN/TURN, a 1:1 NAT's public IPs and which interfaces ICE may use."""
    nat: dict[str, Value] = {"nice_debug": False, "ignore_unreachable_ice_server": True}
    if settings.stun_server:
        host, port = _host_port(settings.stun_server)
        nat.update(stun_server=host, stun_port=port)
    if settings.turn_server:
        host, port = _host_port(settings.turn_server)
        nat.update(turn_server=host, turn_port=port, turn_type=settings.turn_type)
        if settings.turn_user:
            nat["turn_user"] = settings.turn_user
        if settings.turn_password is not None:
            nat["turn_pwd"] = settings.turn_password.get_secret_value()
    if settings.public_ips:
        nat["nat_1_1_mapping"] = ",".join(settings.public_ips)
        nat["keep_private_host"] = settings.keep_private_host
    if settings.ice_enforce_list:
        nat["ice_enforce_list"] = settings.ice_enforce_list
    if settings.ice_ignore_list:
        nat["ice_ignore_list"] = settings.ice_ignore_list
    return nat


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.removeprefix("stun:").removeprefix("turn:").rpartition(":")
    return host, int(port)


def websockets_config(port: int) -> dict[str, Section]:
    """Plain WebSockets on 127.0.0.1 only; no secure or Admin API listeners."""
    return {
        "general": {
            "json": "compact",
            "ws": True,
            "ws_port": port,
            "ws_ip": "127.0.0.1",
            "wss": False,
            "ws_logging": "err,warn",
        },
        "admin": {"admin_ws": False, "admin_wss": False},
    }


def videoroom_config(secrets: JanusSecrets) -> dict[str, Section]:
    """No rooms from files: Parley creates them (not permanent) with the admin key."""
    return {"general": {"admin_key": secrets.admin_key, "lock_rtp_forward": True, "events": False}}
