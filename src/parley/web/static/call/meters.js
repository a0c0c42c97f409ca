// What the caller hears and sees of the audio: the AI's voice played in the page's <audio>, the
// microphone meter, the five bars that move while the AI speaks, and the received audio's energy
// (for the tests). `CallAudio` belongs to one call; `MeterView` draws on the page.

import { $ } from "/dom.js";

const ENERGY_WINDOW_S = 0.5;
const SPEAKING_RMS = 0.015;

export class MeterView {
  constructor() {
    this.micMeter = $("mic-meter");
    this.micFill = $("mic-fill");
    this.bars = [...document.querySelectorAll("#agent .bars span")];
  }

  setMicLevel(level) {
    this.micFill.style.setProperty("--level", level.toFixed(3));
    this.micMeter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  }

  /** The bars' heights (0…1 each), or null for their resting height. */
  setBars(levels) {
    this.bars.forEach((bar, i) => {
      if (levels) bar.style.setProperty("--h", Math.max(0.17, Math.min(1, levels[i] * 1.6)).toFixed(3));
      else bar.style.removeProperty("--h");
    });
  }

  reset() {
    this.micFill.style.setProperty("--level", 0);
    this.setBars(null);
  }
}

export class CallAudio {
  #ctx = new AudioContext(); // made inside the click that starts the call, so that it may start
  #element;
  #view;
  #events;
  #raf = 0;
  #stream = null;
  #mic = null;
  #micLevel = 0;
  #remote = null;
  #remoteBars = null;
  #remoteEnergy = null;

  /**
   * @param element  the <audio> that plays the AI's voice
   * @param view     the `MeterView` to draw on
   * @param events   `live()` (whether to go on drawing), `speaking(bool)` (each frame once the
   *                 AI's voice arrives), `blocked()` (the browser refused to play it)
   */
  constructor(element, view, events) {
    this.#element = element;
    this.#view = view;
    this.#events = events;
  }

  /** Starts the microphone meter, redrawn every animation frame while the call is live. */
  watchMicrophone(stream) {
    this.#ctx.resume().catch(() => {});
    this.#stream = stream;
    this.#mic = analyser(this.#ctx, this.#ctx.createMediaStreamSource(stream), 1024);
    const frame = () => {
      if (!this.#events.live()) return;
      this.#draw();
      this.#raf = requestAnimationFrame(frame);
    };
    frame();
  }

  /** Plays the AI's voice and listens to it for the bars and the energy. */
  play(stream) {
    if (this.#remote === stream) return;
    this.#remote = stream;
    this.#element.srcObject = stream;
    this.#element.play().catch(() => this.#events.blocked());
    const source = this.#ctx.createMediaStreamSource(stream);
    this.#remoteBars = analyser(this.#ctx, source, 256);
    this.#remoteEnergy = analyser(this.#ctx, source, 32768);
  }

  /** The received audio's RMS over the last half second (0 before any arrives). */
  remoteEnergy() {
    return this.#remoteEnergy ? rms(this.#remoteEnergy, ENERGY_WINDOW_S) : 0;
  }

  close() {
    cancelAnimationFrame(this.#raf);
    this.#ctx.close().catch(() => {});
    this.#element.srcObject = null;
  }

  #draw() {
    const level = Math.min(1, rms(this.#mic) * 5);
    this.#micLevel = Math.max(level, this.#micLevel * 0.85);
    const muted = this.#stream.getAudioTracks().every((track) => !track.enabled);
    this.#view.setMicLevel(muted ? 0 : this.#micLevel);
    if (!this.#remoteBars) return;
    const speaking = rms(this.#remoteBars) > SPEAKING_RMS;
    this.#view.setBars(speaking ? bands(this.#remoteBars) : null);
    this.#events.speaking(speaking);
  }
}

function analyser(ctx, source, fftSize) {
  const node = ctx.createAnalyser();
  node.fftSize = fftSize;
  node.smoothingTimeConstant = 0.6;
  source.connect(node);
  return node;
}

function rms(node, seconds) {
  const data = new Float32Array(node.fftSize);
  node.getFloatTimeDomainData(data);
  const count = seconds ? Math.min(data.length, Math.round(node.context.sampleRate * seconds)) : data.length;
  let sum = 0;
  for (let i = data.length - count; i < data.length; i++) sum += data[i] * data[i];
  return Math.sqrt(sum / count);
}

// Five bars from the voice band (≈ 100 Hz – 4 kHz), middle bar tallest.
function bands(node) {
  const data = new Uint8Array(node.frequencyBinCount);
  node.getByteFrequencyData(data);
  const hzPerBin = node.context.sampleRate / node.fftSize;
  const edges = [100, 300, 600, 1200, 2200, 4000].map((hz) => Math.round(hz / hzPerBin));
  const levels = [];
  for (let b = 0; b < 5; b++) {
    let sum = 0;
    for (let i = edges[b]; i < edges[b + 1]; i++) sum += data[i];
    levels.push(sum / Math.max(1, edges[b + 1] - edges[b]) / 255);
  }
  return [levels[3], levels[1], levels[0], levels[2], levels[4]];
}
