// Who is speaking: your microphone's level (from the lobby meter) and each other participant's
// received audio energy (the subscriber's inbound-rtp stats, polled), shown on their tiles for a
// moment after they were last heard.

const SPEAKING_LEVEL = 0.03; // RMS (full scale 1) over the last poll
const SPEAKING_HOLD_MS = 900;
const STATS_POLL_MS = 400;

/**
 * @param {object} deps
 * @param {((now: number, heard: (id: string, now: number) => void) => void) | null} deps.extra
 *   more speakers to mark on each poll (the demo's canned ones)
 */
export function createSpeaking({ phase, room, devices, subscriber, tiles, extra = null }) {
  let timer = null;
  const lastEnergy = new Map(); // mid → {energy, duration}
  const spokeAt = new Map(); // participantId → ms

  const heard = (id, now = performance.now()) => spokeAt.set(id, now);

  function start() {
    stop();
    timer = setInterval(poll, STATS_POLL_MS);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  async function poll() {
    if (!phase.inRoom()) return;
    const now = performance.now();
    extra?.(now, heard);
    try {
      for (const { mid, participantId, s } of await subscriber.reports()) {
        if (s.kind === "audio" && s.totalAudioEnergy != null && loudSince(mid, s)) heard(participantId, now);
      }
    } catch {
      /* the connection closed meanwhile */
    }
    for (const id of tiles.ids()) {
      const p = room.person(id);
      const micOn = id === room.selfId ? devices.micOn && !devices.mutedByHost : p?.micOn !== false;
      tiles.setSpeaking(id, micOn && now - (spokeAt.get(id) ?? -1e9) < SPEAKING_HOLD_MS);
    }
  }

  /** Whether a stream's audio since the last poll was loud enough to be speech. */
  function loudSince(mid, s) {
    const last = lastEnergy.get(mid);
    lastEnergy.set(mid, { energy: s.totalAudioEnergy, duration: s.totalSamplesDuration ?? 0 });
    if (!last) return false;
    const dt = (s.totalSamplesDuration ?? 0) - last.duration;
    if (dt <= 0) return false;
    const rms = Math.sqrt(Math.max(0, s.totalAudioEnergy - last.energy) / dt);
    return rms > SPEAKING_LEVEL;
  }

  return Object.freeze({
    start,
    stop,
    /** Your microphone's level (see devices' `onLevel`). */
    hearSelf(level) {
      if (phase.inRoom() && room.selfId && level > SPEAKING_LEVEL) heard(room.selfId);
    },
    forget(id) {
      spokeAt.delete(id);
    },
    /** The received streams are gone (their energy counters start over). */
    resetLevels() {
      lastEnergy.clear();
    },
  });
}
