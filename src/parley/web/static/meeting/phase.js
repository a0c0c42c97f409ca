// The meeting page's phases, and the one place that changes them. The phase says where the page
// is, in one value (no flags beside it); the moves allowed between phases are listed in `MOVES`,
// so that a late event cannot put the page somewhere that makes no sense (a rejoin's answer after
// leaving, say):
//   loading       looking the meeting up           → lobby, or notice
//   lobby         camera check, name, PIN          → joining, or notice (refused for good)
//   joining       the socket, then `join`          → room, or lobby (refused: try again)
//   room          in the meeting                   → reconnecting, leaving, ended
//   reconnecting  the socket dropped; waiting      → rejoining, leaving, ended
//   rejoining     it is back: `join` again         → room, reconnecting, leaving, ended
//   leaving       `leave` on its way               → ended
//   notice, ended final (a reload starts over)
// The room's four phases show the room (`inRoom()` is true in each).

const MOVES = Object.freeze({
  loading: ["lobby", "notice"],
  lobby: ["joining", "notice"],
  joining: ["room", "lobby"],
  room: ["reconnecting", "leaving", "ended"],
  reconnecting: ["rejoining", "leaving", "ended"],
  rejoining: ["room", "reconnecting", "leaving", "ended"],
  leaving: ["ended"],
  notice: [],
  ended: [],
});

const IN_ROOM = new Set(["room", "reconnecting", "rejoining", "leaving"]);

/** The screen a phase shows (`#app[data-phase]`): the room's inner phases show the room. */
export function screenOf(phase) {
  return IN_ROOM.has(phase) ? "room" : phase;
}

/**
 * The page's phase, starting at `loading`.
 * @param {(next: string, previous: string) => void} onChange called after every move
 */
export function createPhase(onChange) {
  let current = "loading";
  return Object.freeze({
    get current() {
      return current;
    },
    /** Whether the page is in one of `names`. */
    is: (...names) => names.includes(current),
    /** Whether the page is in the room (connected or not, leaving or not). */
    inRoom: () => IN_ROOM.has(current),
    /** Whether the page may move to `next` from here. */
    can: (next) => MOVES[current].includes(next),
    /** Moves to `next`; refused (false, and a warning: a bug) when that move is not allowed. */
    go(next) {
      if (!MOVES[current].includes(next)) {
        console.warn(`parley: no move from ${current} to ${next}`);
        return false;
      }
      const previous = current;
      current = next;
      onChange(next, previous);
      return true;
    },
  });
}
