// The page's two pieces of state, each an explicit machine that tells its listeners:
//   Phase       what the page is doing: idle → connecting → active → ending → idle
//               (the demo goes straight from idle to active); any other move is refused
//   CallStatus  the server's status of the call (IDLE … IN_PROGRESS, ENDED, FAILED)

const NEXT = {
  idle: ["connecting", "active"],
  connecting: ["active", "ending"],
  active: ["ending"],
  ending: ["idle"],
};

/** Listeners told of every change of a value, in the order they were added. */
class Observed {
  #listeners = [];

  onChange(listener) {
    this.#listeners.push(listener);
  }

  tell(value) {
    for (const listener of this.#listeners) listener(value);
  }
}

export class Phase extends Observed {
  #current = "idle";

  get current() {
    return this.#current;
  }

  is(phase) {
    return this.#current === phase;
  }

  /** Moves to `next` when the machine allows it; says so in the console when not. */
  to(next) {
    if (!NEXT[this.#current].includes(next)) {
      console.warn(`parley: phase ${this.#current} → ${next} refused`);
      return false;
    }
    this.#current = next;
    this.tell(next);
    return true;
  }
}

// The pill's tone for each status the page knows (words: `call.status.*` in messages.js).
export const STATUS_TONE = {
  IDLE: "idle",
  INITIATING: "busy",
  RINGING: "busy",
  CONNECTING: "busy",
  IN_PROGRESS: "live",
  ENDED: "idle",
  FAILED: "bad",
};
const ORDER = ["IDLE", "INITIATING", "RINGING", "CONNECTING", "IN_PROGRESS", "ENDED"];
const rank = (status) => (status === "FAILED" ? ORDER.length : ORDER.indexOf(status));

export const isKnownStatus = (status) => Object.hasOwn(STATUS_TONE, status);

export class CallStatus extends Observed {
  #current = "IDLE";

  get current() {
    return this.#current;
  }

  /** Whether the call is over (ENDED or FAILED). */
  get finished() {
    return this.#current === "ENDED" || this.#current === "FAILED";
  }

  set(status) {
    this.#current = status;
    this.tell(status);
  }

  /** A REST answer may arrive after a newer `call-state`: it may move the status only forward. */
  advance(status) {
    if (isKnownStatus(status) && rank(status) > rank(this.#current)) this.set(status);
  }
}
