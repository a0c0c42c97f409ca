// One RTCPeerConnection to Janus (the publisher or the subscriber) and its ICE candidates: ours
// wait until the offer/answer went through (`markReady`), Janus's until the remote description
// is set.

export class Peer {
  #pendingLocal = [];
  #pendingRemote = [];
  #trickle;

  /**
   * @param {"publisher" | "subscriber"} target
   * @param {RTCIceServer[]} iceServers
   * @param {{trickle: (payload: object) => void, failed: (peer: Peer) => void}} callbacks
   *   trickle: sends one of our candidates (`{target, candidate}`); failed: the connection failed
   */
  constructor(target, iceServers, { trickle, failed }) {
    this.target = target;
    this.ready = false;
    this.pc = new RTCPeerConnection({ iceServers });
    this.#trickle = trickle;
    this.pc.addEventListener("icecandidate", (e) => this.#sendCandidate(e.candidate));
    this.pc.addEventListener("connectionstatechange", () => {
      if (this.pc.connectionState === "failed") failed(this);
    });
  }

  #sendCandidate(candidate) {
    const payload = { target: this.target, candidate: candidate ? candidate.toJSON() : null };
    if (this.ready) this.#trickle(payload);
    else this.#pendingLocal.push(payload);
  }

  /** The negotiation went through: send our candidates, add theirs. */
  markReady() {
    this.ready = true;
    for (const payload of this.#pendingLocal.splice(0)) this.#trickle(payload);
    this.addPendingRemote();
  }

  /** One of Janus's candidates (null: no more), held until the remote description is set. */
  addRemoteCandidate(candidate) {
    if (!this.pc.remoteDescription) this.#pendingRemote.push(candidate);
    else addCandidate(this.pc, candidate);
  }

  /** Candidates that came before this connection existed. */
  holdRemote(candidates) {
    this.#pendingRemote.push(...candidates);
  }

  /** Adds the candidates held so far (the remote description is set). */
  addPendingRemote() {
    for (const candidate of this.#pendingRemote.splice(0)) addCandidate(this.pc, candidate);
  }

  close() {
    this.pc.close();
  }
}

function addCandidate(pc, candidate) {
  (candidate ? pc.addIceCandidate(candidate) : pc.addIceCandidate()).catch(() => {});
}
