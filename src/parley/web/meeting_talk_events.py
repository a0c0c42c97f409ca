"""`/meetings` requests that talk: the chat (stored and sent to the meeting's room; its rules
are the service's) and questions to the assistant (answered to the asker alone, as a stream).
"""

from __future__ import annotations

from parley.errors import ConflictError
from parley.meetings.domain import AssistantExchange
from parley.web.meeting_connection import MeetingSocketBase, Member, meeting_room
from parley.web.meeting_requests import AskRequest, ChatRequest
from parley.web.meeting_schemas import ChatMessagePublic
from parley.web.socket_base import Reply, handles


class TalkRequests(MeetingSocketBase):
    @handles(ChatRequest)
    async def on_chat(self, sid: str, body: ChatRequest, member: Member) -> Reply:
        message = await self.service.post_message(member.participant, body.text, member.seat.chat)
        await self.save_seat(sid, member.seat)  # its allowance was counted
        if self._assistant is not None:
            self._assistant.chat_changed(member.seat.meeting_id)
        view = ChatMessagePublic.of(message).model_dump(mode="json", by_alias=True)
        await self.emit("chat-message", {"message": view}, room=meeting_room(message.meeting_id))
        return {"message": view}

    @handles(AskRequest)
    async def on_ask(self, sid: str, body: AskRequest, member: Member) -> Reply:
        if self._assistant is None:
            raise ConflictError("The assistant is not available.", code="NO_ASSISTANT")
        if member.seat.asking:
            busy = "The assistant is still answering your last question."
            raise ConflictError(busy, code="ASSISTANT_BUSY")
        exchange = await self.service.ask(member.participant, body.question)
        member.seat.asking = True
        await self.save_seat(sid, member.seat)
        self.later(self._answer(member, exchange), "assistant")
        return {"exchangeId": str(exchange.id)}

    async def _answer(self, member: Member, exchange: AssistantExchange) -> None:
        """Stream the answer to the asker's connection, then its end (or failure)."""
        assert self._assistant is not None
        key, sid = str(exchange.id), member.sid

        async def chunk(text: str) -> None:
            await self.emit("assistant-chunk", {"exchangeId": key, "text": text}, to=sid)

        try:
            done = await self._assistant.stream(exchange, member.participant, chunk)
        finally:
            member.seat.asking = False
            if await self.seat(sid) is member.seat:  # still seated as when it asked
                await self.save_seat(sid, member.seat)
        if done.error is None:
            answer = {"answer": done.answer, "firstChunkMs": done.first_chunk_ms}
            await self.emit("assistant-done", {"exchangeId": key, **answer}, to=sid)
        else:
            failure = {"code": "AI_PROVIDER_ERROR", "message": done.error, "answer": done.answer}
            await self.emit("assistant-error", {"exchangeId": key, **failure}, to=sid)
