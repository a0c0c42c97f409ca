// The meeting as this page knows it: its id and description (REST, then the join answer), your
// host token, the ICE servers to use, and who is in it (you included) as the server last
// described them. The views read it; the session changes it as the server tells of changes.

export class Room {
  id = null;
  meeting = null; // as REST or `join` answered it (null before it is loaded)
  hostToken = null; // set by the home page for the meeting's creator (`parley.hostToken.<id>`)
  selfId = null;
  iceServers = [];
  #people = new Map(); // id → participant (the server's shape), you included

  /** Takes `join`'s answer: the meeting, you, and everyone already in. */
  enter(answer) {
    this.meeting = answer.meeting ?? this.meeting;
    this.selfId = answer.self?.id ?? null;
    this.#people = new Map();
    for (const p of answer.participants ?? []) if (p?.id) this.#people.set(p.id, p);
    if (answer.self?.id) this.#people.set(answer.self.id, answer.self);
    this.iceServers = Array.isArray(answer.iceServers) ? answer.iceServers : [];
  }

  person(id) {
    return this.#people.get(id);
  }

  has(id) {
    return this.#people.has(id);
  }

  /** Adds or replaces a participant, as the server last described them. */
  put(participant) {
    this.#people.set(participant.id, participant);
  }

  remove(id) {
    this.#people.delete(id);
  }

  everyone() {
    return [...this.#people.values()];
  }

  /** Your participant, as the server last described it (null before joining). */
  self() {
    return this.#people.get(this.selfId) ?? null;
  }

  isHost() {
    return this.self()?.role === "host";
  }

  /** Everyone in tile order: you first, then the others by the time they joined. */
  ordered() {
    const others = [...this.#people.values()]
      .filter((p) => p.id !== this.selfId)
      .sort((a, b) => String(a.joinedAt ?? "").localeCompare(String(b.joinedAt ?? "")));
    const self = this.self();
    return self ? [self, ...others] : others;
  }

  inviteLink() {
    return `${location.origin}/meetings/${encodeURIComponent(this.id)}`;
  }
}
