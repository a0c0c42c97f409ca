// The `/signaling` Socket.IO client of one call: it carries the SDP/ICE exchange and Parley's
// live events (call state, transcript, sentiment, latency, voices). socket.io-client comes from
// npm, served by Parley (`/vendor/socket.io.js`, loaded once by dom.js).

import { loadSocketIo } from "/dom.js";
import { t } from "/i18n.js";
import { say, UserError } from "/call/errors.js";

const NAMESPACE = "/signaling";
export const AI_PEER = "ai-server";

// Server event → the handler it goes to. "ai-audio-response" (legacy base64 WAV) is left out on
// purpose: the AI's voice is the WebRTC track.
const EVENTS = {
  "joined-session": "joined",
  answer: "answer",
  "ice-candidate": "candidate",
  "peer-left": "peerGone",
  "peer-disconnected": "peerGone",
  error: "serverError",
  "call-state": "callState",
  transcript: "transcript",
  sentiment: "sentiment",
  "turn-latency": "latency",
  voices: "voices",
};

/** socket.io-client's `io`; a `UserError` with the server's explanation when it is missing. */
export async function loadClient() {
  try {
    const module = await loadSocketIo(t("call.error.client"));
    return module.io ?? module.default;
  } catch (err) {
    throw new UserError(err.message);
  }
}

export class Signaling {
  #socket;
  #ids;

  /**
   * Opens the socket at once (so that ending the call can close it even while it connects).
   * @param io         socket.io-client's `io`
   * @param ids        `{sessionId, peerId}` of this call
   * @param accepts    whether an event's payload is for this call (and its page still shows it)
   * @param handlers   one function per name of `EVENTS`, and `lost()`: the connection dropped
   */
  constructor(io, ids, { accepts, handlers }) {
    this.#ids = ids;
    this.#socket = io(NAMESPACE, { reconnection: false, timeout: 8000 });
    for (const [event, name] of Object.entries(EVENTS)) {
      this.#socket.on(event, (payload) => {
        if (payload && typeof payload === "object" && accepts(payload)) handlers[name](payload);
      });
    }
    // The server hangs up a call whose socket is gone, so a lost connection ends the call here too.
    this.#socket.on("disconnect", (reason) => {
      if (reason !== "io client disconnect") handlers.lost();
    });
    this.connected = new Promise((resolve, reject) => {
      this.#socket.once("connect", () => resolve(this));
      this.#socket.once("connect_error", () => reject(new UserError(say("call.error.signaling"))));
    });
  }

  join(settings) {
    this.#socket.emit("join-session", { ...this.#ids, ...settings });
  }

  offer({ type, sdp }) {
    this.#socket.emit("offer", { ...this.#ids, offer: { type, sdp } });
  }

  candidate(candidate) {
    this.#socket.emit("ice-candidate", { ...this.#ids, candidate });
  }

  /** Says goodbye when there is still someone to say it to. */
  leave() {
    if (this.#socket.connected) this.#socket.emit("leave-session", { ...this.#ids });
  }

  close() {
    this.#socket.disconnect();
  }
}
