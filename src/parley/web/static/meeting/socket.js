// The `/meetings` Socket.IO client (docs/meetings-protocol.md): requests answered through an
// acknowledgement (`{ok: true, ...}` or `{ok: false, error}`) within a timeout, and the server's
// events delivered to the handlers the page registered once (they outlive each connection).
// Events that overtake an answer the page waits for (a subscriber offer before the join's
// answer) are held while `hold()` says so, then replayed or dropped.

import { loadSocketIo } from "/dom.js";
import { errorText, t } from "/i18n.js";

const NAMESPACE = "/meetings";
const REQUEST_TIMEOUT_MS = 12_000;
const CONNECT_TIMEOUT_MS = 10_000;

/** A failed request: its `code`, and a message in the page's language (ours for the codes we
 * know, else the server's own words). */
export class RequestError extends Error {
  constructor(code, serverMessage, retryAfter) {
    super(errorText(code, serverMessage));
    this.code = code;
    this.serverMessage = serverMessage;
    this.retryAfter = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 0; // seconds
  }
}

/**
 * @param {{hold: () => boolean, fake?: {request(event: string, payload: object): Promise<object>}}} options
 *   `hold`: whether arriving events wait (a join is in flight); `fake`: a stand-in server (the
 *   demo), which answers requests and sends its events through `dispatch`
 */
export function createSocket({ hold, fake = null }) {
  const handlers = new Map(); // event → handler(payload)
  let connection = { lost() {}, back() {} };
  let socket = null;
  let held = [];

  async function connect() {
    if (fake) return;
    const { io } = await loadSocketIo(t("meeting.clientMissing")).catch((err) => {
      throw new RequestError("CLIENT_MISSING", err.message);
    });
    const next = io(NAMESPACE, { timeout: CONNECT_TIMEOUT_MS, reconnectionDelayMax: 4000 });
    socket = next;
    bind(next);
    await connected(next);
  }

  function connected(next) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new RequestError("CONNECT_FAILED")), CONNECT_TIMEOUT_MS);
      next.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      next.once("connect_error", () => {
        clearTimeout(timer);
        reject(new RequestError("CONNECT_FAILED"));
      });
    });
  }

  function disconnect() {
    const current = socket;
    socket = null;
    if (current) {
      current.removeAllListeners();
      current.disconnect();
    }
  }

  /** A request with an acknowledgement: resolves with the answer, throws RequestError on `ok: false`. */
  async function request(event, payload = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (fake) return fake.request(event, payload);
    if (!socket?.connected) throw new RequestError("NOT_CONNECTED");
    let answer;
    try {
      answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch {
      throw new RequestError("TIMEOUT");
    }
    if (!answer || answer.ok !== true) {
      throw new RequestError(answer?.error?.code ?? "ERROR", answer?.error?.message, answer?.error?.retryAfter);
    }
    return answer;
  }

  function bind(next) {
    for (const [event, handler] of handlers) next.on(event, (payload) => deliver(next, event, handler, payload));
    next.on("disconnect", (reason) => socket === next && connection.lost(reason));
    next.on("connect", () => socket === next && connection.back());
  }

  /** Runs (or holds) a handler; events of a socket put away are ignored. */
  function deliver(from, event, handler, payload) {
    if (from !== socket) return;
    const run = () => {
      try {
        handler(payload && typeof payload === "object" ? payload : {});
      } catch (err) {
        console.error(`parley: ${event}`, err);
      }
    };
    if (hold()) held.push(run);
    else run();
  }

  return Object.freeze({
    connect,
    disconnect,
    request,
    /** The handler of a server event (one per event, kept across connections). */
    on(event, handler) {
      handlers.set(event, handler);
    },
    /** What to do when the connection drops (`lost(reason)`) and when it is back (`back()`). */
    onConnection(callbacks) {
      connection = callbacks;
    },
    /** An event from the stand-in server (the demo), delivered as a real one would be. */
    dispatch(event, payload) {
      const handler = handlers.get(event);
      if (fake && handler) deliver(socket, event, handler, payload);
    },
    /** Runs the events held while the page waited for an answer. */
    replayHeld() {
      for (const run of held.splice(0)) run();
    },
    dropHeld() {
      held = [];
    },
    /** Fire and forget (the page is going away). */
    emit(event, payload) {
      socket?.emit(event, payload);
    },
  });
}
