// The page's test hooks (stable; tests/web/test_meeting_*.py and test_pages_look.py read them):
// window.parleyMeeting.state() → a JSON copy of
//   { phase: "lobby" | "room" | "ended",
//     endReason: null | "left" | "kicked" | "ended" | "deleted" | "disconnected" | "not-found",
//     meetingId, meeting,              // meeting as REST/join answered it (null before loaded)
//     self,                            // your participant as the server last described it
//     participants: [participant],     // everyone in the meeting, you included, in tile order
//     micOn, cameraOn, mutedByHost,    // your local toggles
//     publishing,                      // your publisher connection is negotiated
//     quality, qualityLayer,           // requested receive quality ("auto"…) and the server's layer
//     chat: [message],                 // {id, senderId, senderName, text, createdAt}
//     assistant: [exchange],           // {id, askerId, askerName, question, answer, status, error,
//                                      //  askedAt, answeredAt}; status "pending" | "streaming" |
//                                      //  "answered" | "failed"; answer grows while streaming
//     mediaBanner: null | string,      // e.g. "Reconnecting media…"
//     mediaReady, panel: null | "chat" | "assistant" | "people",
//     lobby: { pinRequired, isHost, error } }
// await window.parleyMeeting.stats() → { [participantId]: { framesDecoded, frameWidth,
//   frameHeight, audioEnergy, packetsReceived } } from the subscriber connection's inbound-rtp
//   stats (mapped to participants by `mid`; audioEnergy = totalAudioEnergy; counters summed over
//   the participant's streams).

/** The phase as the hook reports it: the lobby's phases are "lobby", a notice is "ended". */
function reportedPhase(phase) {
  if (phase.inRoom()) return "room";
  return phase.is("ended", "notice") ? "ended" : "lobby";
}

/** Sets `window.parleyMeeting` from the page's parts (read each time a test asks). */
export function exposeTestHooks(parts) {
  const { phase, screens, room, devices, publisher, subscriber, controls, chat, assistant } = parts;
  const { mediaStatus, panels, lobby } = parts;
  const snapshot = () => ({
    phase: reportedPhase(phase),
    endReason: screens.endReason,
    meetingId: room.id,
    meeting: room.meeting,
    self: room.self(),
    participants: phase.inRoom() ? room.ordered() : [],
    micOn: devices.micLive,
    cameraOn: devices.cameraLive,
    mutedByHost: devices.mutedByHost,
    publishing: publisher.publishing,
    quality: controls.quality,
    qualityLayer: controls.qualityLayer,
    chat: chat.messages,
    assistant: assistant.exchanges,
    mediaBanner: mediaStatus.banner,
    mediaReady: mediaStatus.ready,
    panel: panels.current,
    lobby: { pinRequired: Boolean(room.meeting?.pinRequired), isHost: Boolean(room.hostToken), error: lobby.error },
  });
  window.parleyMeeting = {
    state: () => JSON.parse(JSON.stringify(snapshot())),
    stats: () => subscriber.stats(),
  };
}
