"""Room management in Janus's VideoRoom plugin, typed: create, destroy, exists, list, the
participants of a room, `kick` and `moderate` (mute one of a participant's streams).

Rooms are never `permanent` (Parley stores its meetings itself and recreates their rooms after a
Janus restart). The plugin's errors keep its `error_code` (`JanusPluginError.janus_code`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.janus.client import JanusClient, JanusHandle, JanusSession
from parley.tasks import CloseOnce

PLUGIN = "janus.plugin.videoroom"

# The plugin's error codes (janus_videoroom.c) that callers act on.
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
UNAUTHORIZED = 433


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """What a new room looks like. `extra` passes any other `create` field as is."""

    description: str = ""
    secret: str | None = field(default=None, repr=False)
    pin: str | None = field(default=None, repr=False)
    publishers: int = 6
    bitrate: int = 0
    bitrate_cap: bool = False
    is_private: bool = True
    audiocodec: str | None = None
    videocodec: str | None = None
    fir_freq: int = 10
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "description": self.description,
            "publishers": self.publishers,
            "bitrate": self.bitrate,
            "bitrate_cap": self.bitrate_cap,
            "is_private": self.is_private,
            "fir_freq": self.fir_freq,
        }
        optional = {
            "secret": self.secret,
            "pin": self.pin,
            "audiocodec": self.audiocodec,
            "videocodec": self.videocodec,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(self.extra)
        return body


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: int
    description: str
    participants: int
    max_publishers: int
    bitrate: int
    pin_required: bool

    @classmethod
    def from_janus(cls, data: Mapping[str, Any]) -> RoomInfo:
        return cls(
            room=int(data["room"]),
            description=str(data.get("description", "")),
            participants=int(data.get("num_participants", 0)),
            max_publishers=int(data.get("max_publishers", 0)),
            bitrate=int(data.get("bitrate", 0)),
            pin_required=bool(data.get("pin_required", False)),
        )


@dataclass(frozen=True, slots=True)
class Participant:
    id: int
    display: str | None
    publisher: bool
    talking: bool | None

    @classmethod
    def from_janus(cls, data: Mapping[str, Any]) -> Participant:
        talking = data.get("talking")
        return cls(
            id=int(data["id"]),
            display=data.get("display"),
            publisher=bool(data.get("publisher", False)),
            talking=bool(talking) if talking is not None else None,
        )


class VideoRoomAdmin:
    """Room administration over one VideoRoom handle, with the plugin's `admin_key`."""

    def __init__(self, handle: JanusHandle, admin_key: str | None) -> None:
        self.handle = handle
        self._admin_key = admin_key
        self._closer = CloseOnce()

    @classmethod
    async def attach(cls, client: JanusClient, session: JanusSession) -> VideoRoomAdmin:
        """A handle in `session`, with the admin key of the Janus the client is connected to."""
        return cls(await session.attach(PLUGIN), client.endpoint.admin_key)

    async def create(self, spec: RoomSpec, room: int | None = None) -> int:
        """Create a room (Janus picks the id when `room` is None); its id."""
        body = {"request": "create", "permanent": False, **spec.body(), **self._admin()}
        if room is not None:
            body["room"] = room
        data = await self._request(body)
        return int(data["room"])

    async def destroy(self, room: int, *, secret: str | None = None) -> None:
        """Destroy a room; everyone in it is kicked out (`JanusPluginError` 426 if none)."""
        await self._request(
            {"request": "destroy", "room": room, "permanent": False, **_secret(secret)}
        )

    async def exists(self, room: int) -> bool:
        data = await self._request({"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def list_rooms(self) -> list[RoomInfo]:
        """Every room, private ones included (the admin key shows them)."""
        data = await self._request({"request": "list", **self._admin()})
        return [RoomInfo.from_janus(item) for item in data.get("list", [])]

    async def list_participants(self, room: int) -> list[Participant]:
        data = await self._request({"request": "listparticipants", "room": room})
        return [Participant.from_janus(item) for item in data.get("participants", [])]

    async def kick(self, room: int, participant: int, *, secret: str | None = None) -> None:
        await self._request({"request": "kick", "room": room, "id": participant, **_secret(secret)})

    async def moderate(
        self, room: int, participant: int, mid: str, *, mute: bool, secret: str | None = None
    ) -> None:
        """Mute (or lift the mute of) one stream, by its `mid`, of a participant's publication."""
        body = {"request": "moderate", "room": room, "id": participant, "mid": mid, "mute": mute}
        await self._request({**body, **_secret(secret)})

    async def aclose(self) -> None:
        """Detach the handle; a second or concurrent call waits for the first."""
        await self._closer.run(self.handle.detach)

    async def _request(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return (await self.handle.message(body)).data

    def _admin(self) -> dict[str, str]:
        return {"admin_key": self._admin_key} if self._admin_key else {}


def _secret(secret: str | None) -> dict[str, str]:
    return {"secret": secret} if secret is not None else {}
