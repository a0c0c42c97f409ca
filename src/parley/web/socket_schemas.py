"""Payload models shared by the Socket.IO namespaces (`/signaling`, `/meetings`): the base of
every request, an SDP (`RTCSessionDescriptionInit`) and an ICE candidate (`RTCIceCandidateInit`).

The bounds are the wire's limits, checked before anything happens. The meetings' SDP is larger
than a call's (simulcast video, many m-lines: up to 200,000 characters and m-line index 256); a
call's is audio only (100,000 and 64): `/signaling` narrows the shared models with `CallSdp` and
`CallCandidate` rather than defining its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MIN_SDP = 10
MAX_SDP = 200_000
MAX_CALL_SDP = 100_000
MAX_CANDIDATE = 2000
MAX_MID = 64
MAX_MLINE_INDEX = 256
MAX_CALL_MLINE_INDEX = 64


class WireModel(BaseModel):
    """A request's payload: unknown fields are ignored (clients add their own), known ones are
    checked strictly by their type."""

    model_config = ConfigDict(extra="ignore")


class Empty(WireModel):
    """A request without fields (`leave`, `unpublish`): no payload, `{}` or anything ignored."""


class SessionDescription(BaseModel):
    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=MIN_SDP, max_length=MAX_SDP)


class IceCandidate(BaseModel):
    """A candidate as the browser's `RTCIceCandidate.toJSON()` gives it; an empty `candidate`
    is how browsers say "no more"."""

    candidate: str = Field(max_length=MAX_CANDIDATE)
    sdpMid: str | None = Field(None, max_length=MAX_MID)
    sdpMLineIndex: int | None = Field(None, ge=0, le=MAX_MLINE_INDEX)

    @property
    def is_end(self) -> bool:
        return not self.candidate


class CallSdp(SessionDescription):
    """A call's SDP (one audio m-line): the original system's bound."""

    sdp: str = Field(min_length=MIN_SDP, max_length=MAX_CALL_SDP)


class CallCandidate(IceCandidate):
    sdpMLineIndex: int | None = Field(None, ge=0, le=MAX_CALL_MLINE_INDEX)
