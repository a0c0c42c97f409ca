// Your camera and microphone: opening them (each on its own when both together fail), what
// failed and why, the on/off switches (and the host's mute, which holds the microphone off), the
// camera's resolution, the lobby preview's video and the microphone level meter. Nothing here
// knows of the room: the page is told through `onChange` and `onLevel`.

import { $, store } from "/dom.js";
import { t } from "/i18n.js";

const QUALITY_KEY = "parley.cameraQuality";
export const CAMERA_SIZES = {
  720: { width: 1280, height: 720 },
  360: { width: 640, height: 360 },
  180: { width: 320, height: 180 },
};
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const REASONS = {
  NotAllowedError: "blocked",
  SecurityError: "blocked",
  NotFoundError: "missing",
  OverconstrainedError: "missing",
  NotReadableError: "busy",
  AbortError: "busy",
  Insecure: "insecure",
};

/** Why a device could not start: {device: "Microphone" | "Camera", reason}, said by `mediaErrorText`. */
export function describeMediaError(err, device) {
  return { device, reason: REASONS[err?.name] ?? "failed" };
}

export function mediaErrorText({ device, reason }) {
  const name = t(`meeting.${reason === "missing" ? device.toLowerCase() : device}`);
  return t(`meeting.dev.${reason}`, { device: name });
}

async function getUserMedia(constraints) {
  if (!navigator.mediaDevices?.getUserMedia) {
    const err = new Error("insecure");
    err.name = "Insecure";
    throw err;
  }
  return navigator.mediaDevices.getUserMedia(constraints);
}

/**
 * @param {{onChange: () => void, onLevel: (rms: number) => void, keep: () => boolean}} options
 *   onChange: devices, switches or errors changed (redraw); onLevel: the microphone's level
 *   (RMS, full scale 1; 0 while off), about 16 times a second; keep: whether devices that just
 *   opened are still wanted (not once the page has shown a notice or the end)
 */
export function createDevices({ onChange, onLevel, keep }) {
  const preview = $("preview-video");
  const micFill = $("mic-fill");
  const micMeter = $("mic-meter");
  let stream = null; // the local MediaStream (audio and/or video)
  let micOn = true;
  let camOn = true;
  let mutedByHost = false;
  let starting = false;
  let audioError = null;
  let videoError = null;
  let meter = null; // {ctx, analyser, track, data, timer}
  const saved = store.get(QUALITY_KEY);
  let quality = CAMERA_SIZES[saved] ? saved : "720";

  const audioTrack = () => stream?.getAudioTracks()[0] ?? null;
  const videoTrack = () => stream?.getVideoTracks()[0] ?? null;

  function videoConstraints() {
    const size = CAMERA_SIZES[quality] ?? CAMERA_SIZES[720];
    return { width: { ideal: size.width }, height: { ideal: size.height }, frameRate: { ideal: 30 } };
  }

  /** Opens the camera and microphone; whether they were kept (see `keep`). */
  async function start() {
    starting = true;
    onChange();
    const opened = await open();
    starting = false;
    if (!keep()) {
      opened.getTracks().forEach((track) => track.stop());
      return false;
    }
    stream = opened;
    applyTrackStates();
    preview.srcObject = videoTrack() ? new MediaStream([videoTrack()]) : null;
    startMeter();
    onChange();
    return true;
  }

  /** Both devices at once, else each on its own (recording why one failed). */
  async function open() {
    try {
      return await getUserMedia({ audio: AUDIO_CONSTRAINTS, video: videoConstraints() });
    } catch {
      const opened = new MediaStream();
      try {
        (await getUserMedia({ audio: AUDIO_CONSTRAINTS })).getTracks().forEach((track) => opened.addTrack(track));
      } catch (err) {
        audioError = describeMediaError(err, "Microphone");
      }
      try {
        (await getUserMedia({ video: videoConstraints() })).getTracks().forEach((track) => opened.addTrack(track));
      } catch (err) {
        videoError = describeMediaError(err, "Camera");
      }
      return opened;
    }
  }

  /** Asks again for a device that failed or was missing: `{track}`, or `{problem}` when it failed again. */
  async function retry(kind) {
    try {
      const got = await getUserMedia(kind === "audio" ? { audio: AUDIO_CONSTRAINTS } : { video: videoConstraints() });
      const track = got.getTracks()[0];
      stream ??= new MediaStream();
      stream.addTrack(track);
      if (kind === "audio") {
        audioError = null;
        micOn = !mutedByHost;
        startMeter();
      } else {
        videoError = null;
        camOn = true;
        preview.srcObject = new MediaStream([track]);
      }
      applyTrackStates();
      onChange();
      return { track };
    } catch (err) {
      const problem = describeMediaError(err, kind === "audio" ? "Microphone" : "Camera");
      if (kind === "audio") audioError = problem;
      else videoError = problem;
      onChange();
      return { problem };
    }
  }

  function applyTrackStates() {
    const audio = audioTrack();
    const video = videoTrack();
    if (audio) audio.enabled = micOn && !mutedByHost;
    if (video) video.enabled = camOn;
  }

  function stop() {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    stopMeter();
    preview.srcObject = null;
  }

  function startMeter() {
    const track = audioTrack();
    if (!track || meter?.track === track) return;
    stopMeter();
    try {
      const ctx = new AudioContext();
      const source = ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      meter = { ctx, analyser, track, data: new Float32Array(analyser.fftSize), timer: null };
      // A context made before any click starts suspended: the first click or key resumes it.
      const resume = () => ctx.state === "suspended" && ctx.resume().catch(() => {});
      resume();
      for (const type of ["pointerdown", "keydown"]) addEventListener(type, resume, { once: true, capture: true });
      meter.timer = setInterval(readMeter, 60);
    } catch {
      meter = null;
    }
  }

  function readMeter() {
    if (!meter) return;
    meter.analyser.getFloatTimeDomainData(meter.data);
    let sum = 0;
    for (const v of meter.data) sum += v * v;
    const rms = Math.sqrt(sum / meter.data.length);
    const on = micOn && !mutedByHost;
    // -60…-10 dBFS onto 0…1
    const level = on && rms > 0 ? Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 50)) : 0;
    micFill.style.setProperty("--level", level.toFixed(3));
    micMeter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
    onLevel(on ? rms : 0);
  }

  function stopMeter() {
    if (!meter) return;
    clearInterval(meter.timer);
    meter.ctx.close().catch(() => {});
    meter = null;
    micFill.style.setProperty("--level", "0");
  }

  return Object.freeze({
    start,
    retry,
    stop,
    audioTrack,
    videoTrack,
    get stream() {
      return stream;
    },
    get micOn() {
      return micOn;
    },
    get camOn() {
      return camOn;
    },
    get mutedByHost() {
      return mutedByHost;
    },
    get starting() {
      return starting;
    },
    get audioError() {
      return audioError;
    },
    get videoError() {
      return videoError;
    },
    /** Whether your microphone is heard: there is one, it is on, and the host lets it be. */
    get micLive() {
      return Boolean(audioTrack()) && micOn && !mutedByHost;
    },
    get cameraLive() {
      return Boolean(videoTrack()) && camOn;
    },
    setMic(on) {
      micOn = on;
      applyTrackStates();
      onChange();
    },
    setCamera(on) {
      camOn = on;
      applyTrackStates();
      onChange();
    },
    /** The host's mute: holds the microphone off (and turns it off) while `muted`. */
    holdMic(muted) {
      mutedByHost = muted;
      if (muted) micOn = false;
      applyTrackStates();
    },
    /** The camera resolution asked for ("720" | "360" | "180"), remembered for next time. */
    get quality() {
      return quality;
    },
    setQuality(value) {
      quality = value;
      store.set(QUALITY_KEY, quality);
      videoTrack()?.applyConstraints(videoConstraints()).catch(() => {});
    },
  });
}
