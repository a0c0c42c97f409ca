"""ICE configuration for the server-side peer.

aiortc silently falls back to a public STUN server when given no ICE servers, so the servers
always come from settings (an empty list means none). aioice picks host candidates from every
interface except loopback and offers no option for it; `ICE_HOST_ADDRESSES` replaces that choice
process-wide (multi-homed servers pick their public interface; loopback-only tests add 127.0.0.1).
"""

from __future__ import annotations

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_original = aioice.ice.get_host_addresses


def rtc_configuration(stun_urls: list[str]) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in stun_urls])


def use_host_addresses(addresses: list[str] | None) -> None:
    """Gather host candidates on exactly `addresses`; None restores aioice's own choice."""
    if not addresses:
        aioice.ice.get_host_addresses = _original
        return
    chosen = list(addresses)

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured
