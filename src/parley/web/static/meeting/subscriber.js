// Receiving everyone else: one multistream connection that Janus offers (`subscriber-offer`,
// renegotiated as people come and go), the tracks it carries mapped to participants by `mid`,
// and its inbound-rtp statistics (for speaking indicators and the test hook's `stats()`).

import { t } from "/i18n.js";
import { Peer } from "/meeting/peer.js";

/**
 * @param {object} deps
 * @param {(participantId: string, stream: MediaStream | null) => void} deps.onStreams
 *   a participant's received media changed (null: none any more)
 */
export function createSubscriber({ phase, room, mediaStatus, request, toast, onStreams }) {
  let peer = null;
  let mids = new Map(); // mid → {mid, type, participantId, active}
  let early = []; // Janus's candidates that came before the connection
  let offers = Promise.resolve(); // offers are answered one after the other
  const remote = new Map(); // participantId → {audio, video, stream}

  /** A `subscriber-offer`: answered after any offer before it. */
  function offer(payload) {
    offers = offers.then(() => onOffer(payload)).catch((err) => console.error("parley: subscriber offer", err));
  }

  async function onOffer({ jsep, streams }) {
    if (!phase.inRoom() || !jsep?.sdp) return;
    mids = new Map((streams ?? []).filter((s) => s?.mid != null).map((s) => [String(s.mid), s]));
    try {
      await answer(jsep);
    } catch (err) {
      if (!phase.inRoom()) return;
      // An offer that does not fit the connection (a new subscription after Janus came back):
      // start over with a fresh connection.
      console.warn("parley: subscriber renegotiation failed, reconnecting", err);
      closePeer();
      await answer(jsep);
    }
    sync();
  }

  async function answer(jsep) {
    const conn = peer ?? open();
    const { pc } = conn;
    await pc.setRemoteDescription(jsep);
    conn.addPendingRemote();
    await pc.setLocalDescription(await pc.createAnswer());
    await request("subscriber-answer", { jsep: { type: "answer", sdp: pc.localDescription.sdp } });
    if (peer === conn) conn.markReady();
  }

  function open() {
    const conn = new Peer("subscriber", room.iceServers, {
      trickle: (payload) => request("trickle", payload).catch(() => {}),
      failed: (failedPeer) => {
        if (peer === failedPeer && !mediaStatus.banner) toast(t("meeting.subFailed"), { tone: "error" });
      },
    });
    conn.pc.addEventListener("track", () => queueMicrotask(sync));
    conn.holdRemote(early.splice(0));
    peer = conn;
    return conn;
  }

  function closePeer() {
    if (!peer) return;
    peer.close();
    peer = null;
  }

  /** Closes the connection and forgets everything received over it. */
  function close() {
    closePeer();
    mids = new Map();
    early = [];
    for (const id of [...remote.keys()]) {
      remote.delete(id);
      onStreams(id, null);
    }
  }

  /** Gives each participant the tracks the connection receives for them. */
  function sync() {
    const found = received();
    for (const id of new Set([...remote.keys(), ...found.keys()])) {
      const next = found.get(id) ?? {};
      const current = remote.get(id);
      if (current && current.audio === (next.audio ?? null) && current.video === (next.video ?? null)) continue;
      if (!next.audio && !next.video) {
        remote.delete(id);
        onStreams(id, null);
      } else {
        const entry = { audio: next.audio ?? null, video: next.video ?? null };
        entry.stream = new MediaStream([entry.audio, entry.video].filter(Boolean));
        remote.set(id, entry);
        onStreams(id, entry.stream);
      }
    }
  }

  /** participantId → {audio, video}: the live tracks of the connection's active streams. */
  function received() {
    const found = new Map();
    for (const transceiver of peer?.pc.getTransceivers() ?? []) {
      const info = transceiver.mid == null ? null : mids.get(String(transceiver.mid));
      if (!info || info.active === false || !info.participantId) continue;
      if (transceiver.currentDirection && !transceiver.currentDirection.includes("recv")) continue;
      const track = transceiver.receiver.track;
      if (!track || track.readyState === "ended") continue;
      const entry = found.get(info.participantId) ?? {};
      entry[track.kind] ??= track;
      found.set(info.participantId, entry);
    }
    return found;
  }

  /** The connection's inbound-rtp reports, each with the participant it belongs to. */
  async function reports() {
    const conn = peer;
    if (!conn) return [];
    const byTrack = new Map();
    for (const transceiver of conn.pc.getTransceivers()) {
      if (transceiver.receiver.track && transceiver.mid != null) byTrack.set(transceiver.receiver.track.id, String(transceiver.mid));
    }
    const report = await conn.pc.getStats();
    const out = [];
    report.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      const mid = s.mid != null ? String(s.mid) : byTrack.get(s.trackIdentifier);
      const info = mid == null ? null : mids.get(mid);
      if (!info || info.active === false || !info.participantId) return;
      out.push({ mid, participantId: info.participantId, s });
    });
    return out;
  }

  /** { [participantId]: {framesDecoded, frameWidth, frameHeight, audioEnergy, packetsReceived} },
   * counters summed over the participant's streams (the test hook). */
  async function stats() {
    const out = {};
    try {
      for (const { participantId, s } of await reports()) {
        const entry = (out[participantId] ??= { framesDecoded: 0, frameWidth: 0, frameHeight: 0, audioEnergy: 0, packetsReceived: 0 });
        if (s.kind === "video") {
          entry.framesDecoded += s.framesDecoded ?? 0;
          entry.frameWidth = Math.max(entry.frameWidth, s.frameWidth ?? 0);
          entry.frameHeight = Math.max(entry.frameHeight, s.frameHeight ?? 0);
        } else if (s.kind === "audio") {
          entry.audioEnergy += s.totalAudioEnergy ?? 0;
        }
        entry.packetsReceived += s.packetsReceived ?? 0;
      }
    } catch {
      /* closed */
    }
    return out;
  }

  return Object.freeze({
    offer,
    close,
    reports,
    stats,
    /** One of Janus's candidates (kept for the connection when it is not there yet). */
    addRemoteCandidate(candidate) {
      if (peer) peer.addRemoteCandidate(candidate);
      else early.push(candidate);
    },
    /** What is received from a participant: {audio, video, stream}, or null. */
    remoteOf: (id) => remote.get(id) ?? null,
    /** A participant who left (their tile goes with them). */
    forget(id) {
      remote.delete(id);
    },
    /** Media for a participant from elsewhere (the demo's canvases). */
    attach(id, entry) {
      remote.set(id, entry);
      onStreams(id, entry.stream);
    },
  });
}
