// The call itself. `CallController` sets a call up (microphone, REST, signaling, peer
// connection), turns the server's events into what the page shows, and tears the call down in a
// fixed order: leave the session, close the peer, stop the microphone, drop the socket, stop the
// clock and the meters. Everything one call opened is in its `CallSession`, so that ending it
// closes exactly that; the controller holds at most one.

import { has } from "/i18n.js";
import { Cancelled, deferred, say, UserError, withTimeout } from "/call/errors.js";
import { openMic, stopTracks } from "/call/microphone.js";
import { CallAudio } from "/call/meters.js";
import { CallPeer } from "/call/peer.js";
import { isKnownStatus } from "/call/phase.js";
import { callConfig, createCall, endOnUnload, transition } from "/call/rest.js";
import { AI_PEER, loadClient, Signaling } from "/call/signaling.js";
import { CallClock, formatClock } from "/call/view.js";

const JOIN_TIMEOUT_MS = 10_000;

/** One call and everything it opened; `closed` from the moment it starts to end. */
class CallSession {
  /** @param parts what the session's audio and peer draw on and report to (`#sessionParts`) */
  constructor(settings, parts) {
    this.settings = settings;
    this.peerId = `caller-${crypto.randomUUID().slice(0, 8)}`;
    this.call = null;
    this.stream = null;
    this.signaling = null;
    this.closed = false;
    this.joined = deferred();
    this.clock = new CallClock(parts.view);
    this.audio = new CallAudio(parts.audioElement, parts.meters, parts.audioEvents(this));
    this.peer = new CallPeer(parts.peerEvents(this));
  }
}

export class CallController {
  #session = null;
  lastError = null;
  callId = null;
  net = { ice: "new", pc: "new" };

  /**
   * @param parts `{view, settings, transcript, meters, phase, status, audioElement, rawMic}`:
   *              the page's views (view.js, settings.js, transcript.js, meters.js), its two state
   *              machines (phase.js), the <audio> for the AI's voice, and `?rawmic=1`
   */
  constructor({ view, settings, transcript, meters, phase, status, audioElement, rawMic }) {
    Object.assign(this, { view, settings, transcript, meters, phase, status, audioElement, rawMic });
    this.phase.onChange((phase) => this.#showPhase(phase));
    this.status.onChange((status) => this.#showStatus(status));
    this.#showPhase(this.phase.current);
  }

  setNet(ice = this.net.ice, pc = this.net.pc) {
    this.net = { ice, pc };
    this.view.showNet(ice, pc);
  }

  /** Shows `message` in the banner and keeps it for the test hook. */
  report(message, tone = "error") {
    this.lastError = String(message);
    this.view.showBanner(message, tone);
  }

  /** The call button: start a call, or end (or cancel) the one on. */
  toggleCall() {
    if (this.phase.is("idle")) this.start();
    else if (this.#session) this.end(this.#session, { notify: true });
  }

  toggleMute() {
    const stream = this.#session?.stream;
    if (!stream) return;
    const muted = !this.view.muted;
    stream.getAudioTracks().forEach((track) => (track.enabled = !muted));
    this.view.showMuted(muted);
  }

  /** The received audio's RMS over the last half second (0 without a call). */
  remoteEnergy() {
    return this.#session?.audio.remoteEnergy() ?? 0;
  }

  /** The call's audio RTP statistics (`inbound-rtp` and `outbound-rtp` reports), or null. */
  async audioStats() {
    const pc = this.#session?.peer.pc;
    if (!pc) return null;
    const found = { inbound: null, outbound: null };
    for (const report of (await pc.getStats()).values()) {
      if (report.kind !== "audio") continue;
      if (report.type === "inbound-rtp") found.inbound = { ...report };
      if (report.type === "outbound-rtp") found.outbound = { ...report };
    }
    return found;
  }

  /** The voices the server offers; the call's own choice stays selected. */
  showVoices(voices) {
    this.settings.setVoices(voices, this.#session?.settings.voice);
  }

  async start() {
    if (this.#session || !this.settings.check()) return;
    this.settings.save();
    this.view.hideBanner();
    this.transcript.reset();
    this.lastError = null;
    this.callId = null;
    this.view.showClock(0);
    const s = (this.#session = new CallSession(this.settings.read(), this.#sessionParts()));
    this.phase.to("connecting");
    this.status.set("INITIATING");
    this.setNet("new", "new");
    try {
      await this.#setUp(s);
    } catch (err) {
      if (err instanceof Cancelled || s.closed) return;
      this.report(err instanceof UserError ? err.text : say("call.error.failed", { detail: String(err) }));
      this.status.set("FAILED");
      await this.end(s, { notify: true, finalStatus: "FAILED" });
    }
  }

  async end(s = this.#session, { notify = true, finalStatus = "ENDED" } = {}) {
    if (!s || s.closed) return;
    s.closed = true;
    this.phase.to("ending");
    s.joined.reject(new Cancelled());
    if (notify && s.call) await transition(s.call.id, "end");
    this.#release(s);
    if (this.#session === s) this.#session = null;
    if (!this.status.finished) this.status.set(finalStatus);
    this.phase.to("idle");
    this.transcript.ended();
    if (s.clock.started) this.view.setHint("call.hint.lasted", { time: formatClock(s.clock.seconds) });
  }

  /** The page goes away: end the call with a beacon (a fetch would be cancelled). */
  pageHidden() {
    const s = this.#session;
    if (!s) return;
    if (s.call) endOnUnload(s.call.id);
    this.#release(s);
    this.#session = null;
  }

  // ---- setting up ------------------------------------------------------------------------------

  async #setUp(s) {
    const live = async (promise) => {
      const value = await promise;
      if (s.closed) throw new Cancelled();
      return value;
    };
    const mic = openMic({ raw: this.rawMic }).then((stream) => {
      s.stream = stream;
      if (s.closed) stopTracks(stream);
    });
    const [{ config }, , io] = await live(Promise.all([callConfig(), mic, loadClient()]));
    s.audio.watchMicrophone(s.stream);
    const { call } = await live(createCall(s.settings.callerNumber));
    s.call = call;
    this.callId = call.id;
    this.status.advance(call.status);
    s.signaling = new Signaling(io, { sessionId: call.sessionId, peerId: s.peerId }, this.#signalingParts(s));
    await live(s.signaling.connected);
    s.peer.open(config, s.stream);
    s.signaling.join(joinSettings(s));
    const offer = await live(s.peer.createOffer());
    await live(s.peer.setLocalDescription(offer));
    await live(withTimeout(s.joined.promise, JOIN_TIMEOUT_MS, say("call.error.noJoin")));
    s.signaling.offer(offer);
  }

  #sessionParts() {
    return {
      view: this.view,
      meters: this.meters,
      audioElement: this.audioElement,
      audioEvents: (s) => ({
        live: () => !s.closed,
        speaking: (speaking) => this.#showAgent(speaking),
        blocked: () => this.view.showBanner(say("call.error.autoplay"), "warn"),
      }),
      peerEvents: (s) => ({
        track: (stream) => s.audio.play(stream),
        candidate: (candidate) => {
          if (!s.closed) s.signaling.candidate(candidate);
        },
        state: () => this.#onPeerState(s),
        rejected: (err) => {
          if (this.#session === s) console.warn("ICE candidate rejected:", err.message ?? err);
        },
      }),
    };
  }

  #signalingParts(s) {
    return {
      // Only this call's events, while it is the page's call.
      accepts: (payload) => this.#session === s && !(payload.callId && s.call && payload.callId !== s.call.id),
      handlers: {
        joined: (payload) => this.#onJoined(payload, s),
        answer: (payload) => this.#onAnswer(payload, s),
        candidate: ({ candidate }) => s.peer.addCandidate(candidate),
        peerGone: (payload) => this.#onPeerGone(payload, s),
        serverError: (payload) => this.#onServerError(payload, s),
        callState: (payload) => this.#onCallState(payload, s),
        transcript: (payload) => this.transcript.onTranscript(payload),
        sentiment: (payload) => this.transcript.onSentiment(payload),
        latency: (payload) => this.transcript.onLatency(payload),
        voices: (payload) => this.showVoices(payload),
        lost: () => this.#onLost(s),
      },
    };
  }

  // ---- events of the call ----------------------------------------------------------------------

  #onPeerState(s) {
    if (this.#session !== s) return;
    const { pc } = s.peer;
    this.setNet(pc.iceConnectionState, pc.connectionState);
    if (pc.connectionState === "connected") {
      if (this.phase.is("connecting")) this.phase.to("active");
      if (!s.clock.started) s.clock.start();
    }
    if (pc.connectionState === "failed") {
      this.report(say("call.error.ice"));
      this.end(s, { notify: true, finalStatus: "FAILED" });
    }
  }

  #onJoined(payload, s) {
    if (payload.sessionId && payload.sessionId !== s.call?.sessionId) return;
    s.joined.resolve();
  }

  async #onAnswer({ answer }, s) {
    try {
      if (!(await s.peer.answer(answer))) return;
      const call = await transition(s.call.id, "connect");
      if (this.#session?.call?.id === s.call.id) this.status.advance(call?.status);
    } catch (err) {
      if (this.#session !== s) return;
      this.report(say("call.error.answer", { detail: String(err.message ?? err) }));
      this.end(s, { notify: true, finalStatus: "FAILED" });
    }
  }

  #onPeerGone({ peerId }, s) {
    if (peerId && peerId !== AI_PEER) return;
    this.report(say("call.error.aiLeft"), "warn");
    this.end(s, { notify: true });
  }

  #onServerError({ message, code }, s) {
    const known = has(`error.${code}`);
    const text = known ? say(`error.${code}`) : say("call.error.server", { message: message ?? code ?? "?" });
    if (code === "INVALID_CANDIDATE") {
      console.warn(text); // one unusable candidate; the others may well connect
    } else if (!s.peer.answered) {
      s.joined.reject(new UserError(text));
      this.report(text);
      this.end(s, { notify: true, finalStatus: "FAILED" });
    } else {
      this.report(text, "warn");
    }
  }

  #onCallState({ status, reason }, s) {
    if (!isKnownStatus(status)) return;
    this.status.set(status);
    if (status === "IN_PROGRESS" && this.phase.is("connecting")) this.phase.to("active");
    if (status === "FAILED") {
      this.report(reason ? say("call.error.callFailedWhy", { reason }) : say("call.error.callFailed"));
    }
    if (status === "ENDED" && reason) this.view.showBanner(say("call.ended", { reason }), "info");
    if (status === "ENDED" || status === "FAILED") this.end(s, { notify: false, finalStatus: status });
  }

  #onLost(s) {
    if (this.#session !== s) return;
    this.report(say("call.error.lost"));
    this.end(s, { notify: true });
  }

  // ---- drawing and tearing down ----------------------------------------------------------------

  #showPhase(phase) {
    this.view.showPhase(phase);
    this.settings.lock(phase !== "idle");
  }

  #showStatus(status) {
    this.view.showStatus(status);
    const s = this.#session;
    if (status === "IN_PROGRESS" && s && !s.clock.started) s.clock.start();
  }

  // What the AI is doing, from its voice and the transcript, while the call is on.
  #showAgent(speaking) {
    if (!this.phase.is("active")) return;
    if (speaking) this.view.setAgent("speaking");
    else this.view.setAgent(this.transcript.awaitingReply ? "thinking" : "listening");
  }

  // Everything but the REST call: leave the session, close the peer, stop the mic, drop the socket.
  #release(s) {
    s.closed = true;
    if (s.call) s.signaling?.leave();
    const hadPeer = s.peer.close();
    stopTracks(s.stream);
    s.signaling?.close();
    s.clock.stop();
    s.audio.close();
    this.meters.reset();
    this.setNet(hadPeer ? "closed" : this.net.ice, hadPeer ? "closed" : this.net.pc);
  }
}

function joinSettings(s) {
  const { language, voice, systemPrompt } = s.settings;
  const payload = { callId: s.call.id, language };
  if (voice) payload.voice = voice;
  if (systemPrompt) payload.systemPrompt = systemPrompt;
  return payload;
}
