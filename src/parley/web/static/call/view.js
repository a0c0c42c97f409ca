// The call page's frame: the status pill, the connection line, the banner, the AI's state, the
// call button and hint for each phase, the mute button and the call's clock. It only draws; what
// to draw is decided by the controller (session.js).

import { $ } from "/dom.js";
import { has, setAttr, setPlain, setText, t } from "/i18n.js";
import { STATUS_TONE } from "/call/phase.js";

// The call button for each phase: its action (which icon shows) and whether it is disabled.
const PHASE_BUTTON = {
  idle: ["start", false],
  connecting: ["cancel", false],
  active: ["end", false],
  ending: ["end", true],
};

export class CallView {
  constructor() {
    this.app = $("app");
    this.pill = $("status-pill");
    this.statusText = $("status-text");
    this.net = $("net-text");
    this.banner = $("banner");
    this.bannerText = $("banner-text");
    this.agent = $("agent");
    this.agentState = $("agent-state");
    this.mute = $("mute-btn");
    this.timer = $("timer");
    this.callButton = $("call-btn");
    this.callButtonText = $("call-btn-text");
    this.hint = $("hint");
    $("banner-close").addEventListener("click", () => this.hideBanner());
  }

  showPhase(phase) {
    this.app.dataset.phase = phase;
    const [action, disabled] = PHASE_BUTTON[phase];
    this.callButton.dataset.action = action;
    this.callButton.disabled = disabled;
    setText(this.callButtonText, `call.button.${phase}`);
    this.setHint(`call.hint.${phase}`);
    this.mute.disabled = phase !== "active";
    if (phase === "idle") this.setAgent("idle");
    if (phase === "connecting") this.setAgent("connecting");
  }

  showStatus(status) {
    this.pill.dataset.tone = STATUS_TONE[status] ?? "busy";
    if (STATUS_TONE[status]) setText(this.statusText, `call.status.${status}`);
    else setPlain(this.statusText, status);
  }

  /** The ICE and peer connection states, in words (redrawn on a language change). */
  showNet(ice, pc) {
    const word = (value) => (has(`call.net.${value}`) ? t(`call.net.${value}`) : value);
    this.net.textContent = `${t("call.net.ice")} ${word(ice)} · ${t("call.net.pc")} ${word(pc)}`;
  }

  /** `message` is a `say(...)` (said again on a language change) or plain text. */
  showBanner(message, tone = "error") {
    this.banner.dataset.tone = tone;
    if (message?.key) setText(this.bannerText, message.key, message.vars);
    else setPlain(this.bannerText, String(message));
    this.banner.hidden = false;
  }

  hideBanner() {
    this.banner.hidden = true;
  }

  setHint(key, vars) {
    setText(this.hint, key, vars);
  }

  /** idle, connecting, listening, thinking or speaking. */
  setAgent(mode) {
    if (this.agent.dataset.state === mode) return;
    this.agent.dataset.state = mode;
    setText(this.agentState, `call.agent.${mode}`);
  }

  showClock(seconds) {
    this.timer.textContent = formatClock(seconds);
  }

  get muted() {
    return this.mute.getAttribute("aria-pressed") === "true";
  }

  showMuted(muted) {
    this.mute.setAttribute("aria-pressed", String(muted));
    setAttr(this.mute, "aria-label", muted ? "call.unmute" : "call.mute");
  }
}

/** mm:ss */
export function formatClock(seconds) {
  const m = String(Math.floor(seconds / 60)).padStart(2, "0");
  const s = String(seconds % 60).padStart(2, "0");
  return `${m}:${s}`;
}

/** The call's duration, shown on the page every second once it has started. */
export class CallClock {
  #view;
  #startedAt = null;
  #interval = 0;

  constructor(view) {
    this.#view = view;
  }

  get started() {
    return this.#startedAt !== null;
  }

  get seconds() {
    return Math.floor((performance.now() - this.#startedAt) / 1000);
  }

  start() {
    this.#startedAt = performance.now();
    const tick = () => this.#view.showClock(this.seconds);
    tick();
    this.#interval = setInterval(tick, 1000);
  }

  stop() {
    clearInterval(this.#interval);
  }
}
