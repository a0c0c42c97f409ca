// The call's WebRTC peer connection and its offer/answer: our microphone out, the AI's voice in.
// ICE candidates wait on both sides: ours until the server has answered (it has no peer for them
// before), the server's until its answer is applied.

export class CallPeer {
  #pc = null;
  #answered = false;
  #outgoing = [];
  #incoming = [];
  #events;

  /**
   * @param events `track(stream)`, `candidate(init)` (to send), `state()` (ICE or connection
   *               state changed), `rejected(err)` (a remote candidate was refused)
   */
  constructor(events) {
    this.#events = events;
  }

  get pc() {
    return this.#pc;
  }

  get answered() {
    return this.#answered;
  }

  /** Creates the connection with `config`'s ICE servers and the microphone's tracks. */
  open(config, stream) {
    const pc = new RTCPeerConnection(config);
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    pc.ontrack = (event) => this.#events.track(event.streams[0] ?? new MediaStream([event.track]));
    pc.onicecandidate = (event) => this.#send(event.candidate ? candidateInit(event.candidate) : null);
    pc.oniceconnectionstatechange = () => this.#events.state();
    pc.onconnectionstatechange = () => this.#events.state();
    this.#pc = pc;
  }

  createOffer() {
    return this.#pc.createOffer();
  }

  setLocalDescription(offer) {
    return this.#pc.setLocalDescription(offer);
  }

  /** Applies the server's answer, then the candidates that waited for it; false if there was
   * nothing to apply (an answer without SDP, or a second one). */
  async answer(answer) {
    if (this.#answered || !answer?.sdp) return false;
    this.#answered = true;
    await this.#pc.setRemoteDescription({ type: answer.type ?? "answer", sdp: answer.sdp });
    for (const candidate of this.#incoming.splice(0)) await this.#addRemote(candidate);
    this.#outgoing.splice(0).forEach((candidate) => this.#send(candidate));
    return true;
  }

  /** A candidate of the server's (null: its gathering ended). */
  addCandidate(candidate) {
    if (!this.#pc?.remoteDescription) {
      this.#incoming.push(candidate ?? null);
      return;
    }
    this.#addRemote(candidate ?? null);
  }

  /** Closes the connection; whether there was one. */
  close() {
    this.#pc?.close();
    return this.#pc !== null;
  }

  #send(candidate) {
    if (candidate === undefined) return;
    if (!this.#answered) {
      this.#outgoing.push(candidate);
      return;
    }
    this.#events.candidate(candidate);
  }

  async #addRemote(candidate) {
    try {
      await (candidate ? this.#pc.addIceCandidate(candidate) : this.#pc.addIceCandidate());
    } catch (err) {
      this.#events.rejected(err);
    }
  }
}

function candidateInit(candidate) {
  const { candidate: line, sdpMid, sdpMLineIndex } = candidate;
  return line ? { candidate: line, sdpMid, sdpMLineIndex } : undefined; // "" = a generation ended
}
