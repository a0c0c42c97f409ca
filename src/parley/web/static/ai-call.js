// Parley call page: the caller talks to the AI over WebRTC; Socket.IO `/signaling` carries the
// SDP/ICE exchange and Parley's live events (call state, transcript, sentiment, latency, voices).
// Plain ES module, no build step. `?demo=1` (or `?demo=2`) renders a canned conversation without
// connecting; `?rawmic=1` turns the browser's echo cancellation, noise suppression and gain off.

import { $, el, icon, loadSocketIo } from "/dom.js";
import { has, language, onLanguageChange, setAttr, setPlain, setText, t } from "/i18n.js";

const API = "/api/v1/calls";
const NAMESPACE = "/signaling";
const AI_PEER = "ai-server";
const JOIN_TIMEOUT_MS = 10_000;
const END_TIMEOUT_MS = 3_000;
const ENERGY_WINDOW_S = 0.5;
const SPEAKING_RMS = 0.015;
const STORE_KEY = "parley.call-page.v1";

const params = new URLSearchParams(location.search);
const RAW_MIC = params.get("rawmic") === "1";
const DEMO = params.get("demo");

// Words are in messages.js (i18n.js): `call.status.*`, `call.agent.*`, `call.sentiment.*`,
// `call.stage.*`, `call.button.*`, `call.hint.*`.
const STATUS = {
  IDLE: "idle",
  INITIATING: "busy",
  RINGING: "busy",
  CONNECTING: "busy",
  IN_PROGRESS: "live",
  ENDED: "idle",
  FAILED: "bad",
};
const SENTIMENT = { positive: "😊", neutral: "😐", negative: "😟" };
const PHASE_BUTTON = {
  idle: ["start", false],
  connecting: ["cancel", false],
  active: ["end", false],
  ending: ["end", true],
};

/** A message in the page's language that a language change can say again. */
const say = (key, vars) => ({ key, vars, toString: () => t(key, vars) });

class UserError extends Error {
  constructor(text) {
    super(String(text));
    this.text = text; // a `say(...)` or the server's own words
  }
}
class Cancelled extends Error {}

// ---- DOM -------------------------------------------------------------------------------------

const ui = {
  app: $("app"),
  pill: $("status-pill"),
  statusText: $("status-text"),
  net: $("net-text"),
  banner: $("banner"),
  bannerText: $("banner-text"),
  bannerClose: $("banner-close"),
  agent: $("agent"),
  agentState: $("agent-state"),
  bars: [...document.querySelectorAll("#agent .bars span")],
  mute: $("mute-btn"),
  micMeter: $("mic-meter"),
  micFill: $("mic-fill"),
  timer: $("timer"),
  callBtn: $("call-btn"),
  callBtnText: $("call-btn-text"),
  hint: $("hint"),
  form: $("settings"),
  caller: $("caller"),
  voice: $("voice"),
  prompt: $("prompt"),
  promptBox: $("prompt-box"),
  transcript: $("transcript"),
  empty: $("empty"),
  statTurns: $("stat-turns"),
  statMedian: $("stat-median"),
  statLast: $("stat-last"),
  statBarge: $("stat-barge"),
  audio: $("remote-audio"),
};

// ---- page state ------------------------------------------------------------------------------

const state = {
  phase: "idle",
  status: "IDLE",
  iceState: "new",
  pcState: "new",
  lastError: null,
  callId: null,
  voices: { ko: [], en: [] },
};
let session = null; // the call in progress, with everything it opened
const convo = newConversation();

function newConversation() {
  return {
    entries: new Map(), // "speaker:turn" -> {event, node, sentiment, latency, replyTo}
    order: [],
    pendingSentiment: new Map(),
    pendingLatency: new Map(),
    latencyByTurn: new Map(),
    lastCallerTurn: null,
    awaitingReply: false,
  };
}

function resetConversation() {
  Object.assign(convo, newConversation());
  ui.transcript.replaceChildren();
  renderStats();
}

// ---- status, banner, phase -------------------------------------------------------------------

function setStatus(status) {
  state.status = status;
  ui.pill.dataset.tone = STATUS[status] ?? "busy";
  if (STATUS[status]) setText(ui.statusText, `call.status.${status}`);
  else setPlain(ui.statusText, status);
  if (status === "IN_PROGRESS" && session && !session.startedAt) startTimer(session);
}

function setNet(ice = state.iceState, pc = state.pcState) {
  state.iceState = ice;
  state.pcState = pc;
  const word = (value) => (has(`call.net.${value}`) ? t(`call.net.${value}`) : value);
  ui.net.textContent = `${t("call.net.ice")} ${word(ice)} · ${t("call.net.pc")} ${word(pc)}`;
}

function showBanner(message, tone = "error") {
  ui.banner.dataset.tone = tone;
  if (message?.key) setText(ui.bannerText, message.key, message.vars);
  else setPlain(ui.bannerText, String(message));
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

function reportError(message, tone = "error") {
  state.lastError = String(message);
  showBanner(message, tone);
}

function setPhase(phase) {
  state.phase = phase;
  ui.app.dataset.phase = phase;
  const [action, disabled] = PHASE_BUTTON[phase];
  ui.callBtn.dataset.action = action;
  ui.callBtn.disabled = disabled;
  setText(ui.callBtnText, `call.button.${phase}`);
  setHint(`call.hint.${phase}`);
  for (const control of ui.form.elements) control.disabled = phase !== "idle";
  ui.mute.disabled = phase !== "active";
  if (phase === "idle") setAgent("idle");
  if (phase === "connecting") setAgent("connecting");
}

function setHint(key, vars) {
  setText(ui.hint, key, vars);
}

function setAgent(mode) {
  if (ui.agent.dataset.state === mode) return;
  ui.agent.dataset.state = mode;
  setText(ui.agentState, `call.agent.${mode}`);
}

function startTimer(s) {
  s.startedAt = performance.now();
  const tick = () => {
    const seconds = Math.floor((performance.now() - s.startedAt) / 1000);
    ui.timer.textContent = formatClock(seconds);
  };
  tick();
  s.timer = setInterval(tick, 1000);
}

function formatClock(seconds) {
  const m = String(Math.floor(seconds / 60)).padStart(2, "0");
  const s = String(seconds % 60).padStart(2, "0");
  return `${m}:${s}`;
}

// ---- settings (remembered in localStorage) ---------------------------------------------------

function readSettings() {
  const data = new FormData(ui.form);
  return {
    callerNumber: String(data.get("caller") ?? "").trim(),
    language: data.get("language") === "en" ? "en" : "ko",
    voice: String(data.get("voice") ?? ""),
    systemPrompt: String(data.get("prompt") ?? "").trim(),
  };
}

function saveSettings() {
  if (DEMO) return;
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify({ ...readSettings(), voices: state.voices }));
  } catch {
    /* storage may be off: settings just aren't remembered */
  }
}

function loadSettings() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(STORE_KEY) ?? "null");
  } catch {
    saved = null;
  }
  if (!saved) {
    // First visit: talk in the language the page is shown in.
    ui.form.querySelector(`input[name=language][value="${language()}"]`).checked = true;
    return;
  }
  if (saved.callerNumber) ui.caller.value = saved.callerNumber;
  const lang = ui.form.querySelector(`input[name=language][value="${saved.language}"]`);
  if (lang) lang.checked = true;
  if (saved.systemPrompt) {
    ui.prompt.value = saved.systemPrompt;
    ui.promptBox.open = true;
  }
  if (saved.voices) state.voices = sanitizeVoices(saved.voices);
  fillVoices(saved.voice);
}

function sanitizeVoices(voices) {
  const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
  return { ko: list(voices?.ko), en: list(voices?.en) };
}

function fillVoices(preferred = ui.voice.value) {
  const names = state.voices[readSettings().language] ?? [];
  const auto = new Option(t("call.voice.default"), "");
  auto.dataset.i18n = "call.voice.default";
  const options = [auto];
  for (const name of names) options.push(new Option(name, name));
  ui.voice.replaceChildren(...options);
  ui.voice.value = names.includes(preferred) ? preferred : "";
}

// ---- REST ------------------------------------------------------------------------------------

async function api(method, path, body, { timeoutMs = 10_000 } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    throw new UserError(say("call.error.network"));
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok || !payload?.success) {
    const error = payload?.error ?? {};
    const known = has(`error.${error.code}`);
    const err = new UserError(known ? say(`error.${error.code}`) : (error.message ?? `HTTP ${response.status}`));
    err.code = error.code;
    err.httpStatus = response.status;
    throw err;
  }
  return payload.data;
}

// POST /connect and /end may find the server already past that state; that's fine.
async function postTransition(callId, action) {
  try {
    const { call } = await api("POST", `${API}/${callId}/${action}`, null, { timeoutMs: END_TIMEOUT_MS });
    if (action === "connect" && session?.call?.id === callId) advanceStatus(call?.status);
  } catch (err) {
    if (err.httpStatus !== 409) console.warn(`${action}:`, err.message);
  }
}

// A REST answer may arrive after a newer `call-state`: it may move the status only forward.
const STATUS_ORDER = ["IDLE", "INITIATING", "RINGING", "CONNECTING", "IN_PROGRESS", "ENDED"];
function advanceStatus(status) {
  const rank = (s) => (s === "FAILED" ? STATUS_ORDER.length : STATUS_ORDER.indexOf(s));
  if (STATUS[status] && rank(status) > rank(state.status)) setStatus(status);
}

// ---- microphone ------------------------------------------------------------------------------

async function openMic() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new UserError(say("call.error.noMicApi"));
  }
  const processing = !RAW_MIC;
  const audio = {
    echoCancellation: processing,
    noiseSuppression: processing,
    autoGainControl: processing,
  };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (err) {
    throw new UserError(micErrorMessage(err));
  }
}

function micErrorMessage(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return say("call.error.micDenied");
    case "NotFoundError":
    case "OverconstrainedError":
      return say("call.error.noMic");
    case "NotReadableError":
      return say("call.error.micBusy");
    default:
      return say("call.error.micOther", { name: String(err?.name ?? err) });
  }
}

// ---- socket.io client (from npm, served by Parley) -------------------------------------------

function loadVendor() {
  const fallback = t("call.error.client");
  return loadSocketIo(fallback).catch((err) => {
    throw new UserError(err.message);
  });
}

function connectSocket(io, s) {
  const socket = io(NAMESPACE, { reconnection: false, timeout: 8000 });
  s.socket = socket;
  bindSignaling(socket, s);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", () =>
      reject(new UserError(say("call.error.signaling"))),
    );
  });
}

function bindSignaling(socket, s) {
  const mine = (handler) => (payload) => {
    if (session !== s || !payload || typeof payload !== "object") return;
    if (payload.callId && s.call && payload.callId !== s.call.id) return;
    handler(payload, s);
  };
  socket.on("joined-session", mine(onJoined));
  socket.on("answer", mine(onAnswer));
  socket.on("ice-candidate", mine(onRemoteCandidate));
  socket.on("peer-left", mine(onPeerGone));
  socket.on("peer-disconnected", mine(onPeerGone));
  socket.on("error", mine(onServerError));
  socket.on("call-state", mine(onCallState));
  socket.on("transcript", mine(onTranscript));
  socket.on("sentiment", mine(onSentiment));
  socket.on("turn-latency", mine(onLatency));
  socket.on("voices", mine(onVoices));
  // "ai-audio-response" (legacy base64 WAV) is ignored on purpose: the voice is the WebRTC track.
  // The server hangs up a call whose socket is gone, so a lost connection ends the call here too.
  socket.on("disconnect", (reason) => {
    if (session !== s || reason === "io client disconnect") return;
    reportError(say("call.error.lost"));
    endCall(s, { notify: true });
  });
}

// ---- call flow -------------------------------------------------------------------------------

function newSession(settings) {
  return {
    settings,
    peerId: `caller-${crypto.randomUUID().slice(0, 8)}`,
    audioCtx: new AudioContext(), // created inside the click, so it may start
    call: null,
    socket: null,
    pc: null,
    stream: null,
    closed: false,
    answered: false,
    outgoing: [],
    incoming: [],
    joined: deferred(),
    startedAt: null,
    timer: null,
    raf: 0,
  };
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

async function startCall() {
  if (session) return;
  if (!ui.caller.checkValidity()) {
    ui.caller.reportValidity();
    return;
  }
  saveSettings();
  hideBanner();
  resetConversation();
  state.lastError = null;
  state.callId = null;
  ui.timer.textContent = "00:00";
  const s = (session = newSession(readSettings()));
  setPhase("connecting");
  setStatus("INITIATING");
  setNet("new", "new");
  try {
    await setUpCall(s);
  } catch (err) {
    if (err instanceof Cancelled || s.closed) return;
    reportError(err instanceof UserError ? err.text : say("call.error.failed", { detail: String(err) }));
    setStatus("FAILED");
    await endCall(s, { notify: true, finalStatus: "FAILED" });
  }
}

async function setUpCall(s) {
  const live = async (promise) => {
    const value = await promise;
    if (s.closed) throw new Cancelled();
    return value;
  };
  const mic = openMic().then((stream) => {
    s.stream = stream;
    if (s.closed) stream.getTracks().forEach((track) => track.stop());
  });
  const [{ config }, , io] = await live(Promise.all([api("GET", `${API}/config`), mic, loadVendor()]));
  startMicMeter(s);
  const { call } = await live(api("POST", API, { callerNumber: s.settings.callerNumber }));
  s.call = call;
  state.callId = call.id;
  advanceStatus(call.status);
  await live(connectSocket(io.io ?? io.default, s));
  s.pc = createPeer(config, s);
  s.socket.emit("join-session", joinPayload(s));
  const offer = await live(s.pc.createOffer());
  await live(s.pc.setLocalDescription(offer));
  const noJoin = say("call.error.noJoin");
  await live(withTimeout(s.joined.promise, JOIN_TIMEOUT_MS, noJoin));
  const { type, sdp } = offer;
  s.socket.emit("offer", { sessionId: call.sessionId, peerId: s.peerId, offer: { type, sdp } });
}

function joinPayload(s) {
  const { language, voice, systemPrompt } = s.settings;
  const payload = { sessionId: s.call.sessionId, peerId: s.peerId, callId: s.call.id, language };
  if (voice) payload.voice = voice;
  if (systemPrompt) payload.systemPrompt = systemPrompt;
  return payload;
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new UserError(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function createPeer(config, s) {
  const pc = new RTCPeerConnection(config);
  for (const track of s.stream.getAudioTracks()) pc.addTrack(track, s.stream);
  pc.ontrack = (event) => playRemote(s, event.streams[0] ?? new MediaStream([event.track]));
  pc.onicecandidate = (event) => sendCandidate(s, event.candidate ? candidateInit(event.candidate) : null);
  pc.oniceconnectionstatechange = () => onPeerState(s);
  pc.onconnectionstatechange = () => onPeerState(s);
  return pc;
}

function candidateInit(candidate) {
  const { candidate: line, sdpMid, sdpMLineIndex } = candidate;
  return line ? { candidate: line, sdpMid, sdpMLineIndex } : undefined; // "" = a generation ended
}

// Our candidates wait for the answer: the server has no peer for them before it has answered.
function sendCandidate(s, candidate) {
  if (candidate === undefined || s.closed) return;
  if (!s.answered) {
    s.outgoing.push(candidate);
    return;
  }
  s.socket.emit("ice-candidate", { sessionId: s.call.sessionId, peerId: s.peerId, candidate });
}

function onPeerState(s) {
  if (session !== s) return;
  setNet(s.pc.iceConnectionState, s.pc.connectionState);
  if (s.pc.connectionState === "connected") {
    if (state.phase === "connecting") setPhase("active");
    if (!s.startedAt) startTimer(s);
  }
  if (s.pc.connectionState === "failed") {
    reportError(say("call.error.ice"));
    endCall(s, { notify: true, finalStatus: "FAILED" });
  }
}

function onJoined(payload, s) {
  if (payload.sessionId && payload.sessionId !== s.call?.sessionId) return;
  s.joined.resolve();
}

async function onAnswer({ answer }, s) {
  if (s.answered || !answer?.sdp) return;
  try {
    s.answered = true;
    await s.pc.setRemoteDescription({ type: answer.type ?? "answer", sdp: answer.sdp });
    for (const candidate of s.incoming.splice(0)) await addRemoteCandidate(s, candidate);
    s.outgoing.splice(0).forEach((candidate) => sendCandidate(s, candidate));
    await postTransition(s.call.id, "connect");
  } catch (err) {
    if (session !== s) return;
    reportError(say("call.error.answer", { detail: String(err.message ?? err) }));
    endCall(s, { notify: true, finalStatus: "FAILED" });
  }
}

function onRemoteCandidate({ candidate }, s) {
  if (!s.pc?.remoteDescription) {
    s.incoming.push(candidate ?? null);
    return;
  }
  addRemoteCandidate(s, candidate ?? null);
}

async function addRemoteCandidate(s, candidate) {
  try {
    await (candidate ? s.pc.addIceCandidate(candidate) : s.pc.addIceCandidate());
  } catch (err) {
    if (session === s) console.warn("ICE candidate rejected:", err.message ?? err);
  }
}

function onPeerGone({ peerId }, s) {
  if (peerId && peerId !== AI_PEER) return;
  reportError(say("call.error.aiLeft"), "warn");
  endCall(s, { notify: true });
}

function onServerError({ message, code }, s) {
  const known = has(`error.${code}`);
  const text = known ? say(`error.${code}`) : say("call.error.server", { message: message ?? code ?? "?" });
  if (code === "INVALID_CANDIDATE") {
    console.warn(text); // one unusable candidate; the others may well connect
  } else if (!s.answered) {
    s.joined.reject(new UserError(text));
    reportError(text);
    endCall(s, { notify: true, finalStatus: "FAILED" });
  } else {
    reportError(text, "warn");
  }
}

function onCallState({ status, reason }, s) {
  if (!STATUS[status]) return;
  setStatus(status);
  if (status === "IN_PROGRESS" && state.phase === "connecting") setPhase("active");
  if (status === "FAILED") reportError(reason ? say("call.error.callFailedWhy", { reason }) : say("call.error.callFailed"));
  if (status === "ENDED" && reason) showBanner(say("call.ended", { reason }), "info");
  if (status === "ENDED" || status === "FAILED") endCall(s, { notify: false, finalStatus: status });
}

function onVoices(voices) {
  state.voices = sanitizeVoices(voices);
  fillVoices(session?.settings.voice);
  saveSettings();
}

async function endCall(s = session, { notify = true, finalStatus = "ENDED" } = {}) {
  if (!s || s.closed) return;
  s.closed = true;
  setPhase("ending");
  s.joined.reject(new Cancelled());
  if (notify && s.call) await postTransition(s.call.id, "end");
  releaseCall(s);
  if (session === s) session = null;
  if (!["ENDED", "FAILED"].includes(state.status)) setStatus(finalStatus);
  setPhase("idle");
  convo.awaitingReply = false;
  dropListening(() => true);
  if (s.startedAt) {
    const seconds = Math.floor((performance.now() - s.startedAt) / 1000);
    setHint("call.hint.lasted", { time: formatClock(seconds) });
  }
}

// Everything but the REST call: leave-session, close the peer, stop the mic, drop the socket.
function releaseCall(s) {
  s.closed = true;
  if (s.socket?.connected && s.call) {
    s.socket.emit("leave-session", { sessionId: s.call.sessionId, peerId: s.peerId });
  }
  s.pc?.close();
  s.stream?.getTracks().forEach((track) => track.stop());
  s.socket?.disconnect();
  clearInterval(s.timer);
  cancelAnimationFrame(s.raf);
  s.audioCtx.close().catch(() => {});
  ui.audio.srcObject = null;
  ui.micFill.style.setProperty("--level", 0);
  ui.bars.forEach((bar) => bar.style.removeProperty("--h"));
  setNet(s.pc ? "closed" : state.iceState, s.pc ? "closed" : state.pcState);
}

function onPageHide() {
  const s = session;
  if (!s) return;
  if (s.call) navigator.sendBeacon(`${API}/${s.call.id}/end`);
  releaseCall(s);
  session = null;
}

// ---- audio: remote playback, meters, energy --------------------------------------------------

function playRemote(s, stream) {
  if (s.remoteStream === stream) return;
  s.remoteStream = stream;
  ui.audio.srcObject = stream;
  ui.audio.play().catch(() =>
    showBanner(say("call.error.autoplay"), "warn"),
  );
  const source = s.audioCtx.createMediaStreamSource(stream);
  s.remoteBars = analyser(s.audioCtx, source, 256);
  s.remoteEnergy = analyser(s.audioCtx, source, 32768);
}

function startMicMeter(s) {
  s.audioCtx.resume().catch(() => {});
  s.micAnalyser = analyser(s.audioCtx, s.audioCtx.createMediaStreamSource(s.stream), 1024);
  s.micLevel = 0;
  const frame = () => {
    if (s.closed) return;
    drawMeters(s);
    s.raf = requestAnimationFrame(frame);
  };
  frame();
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

function drawMeters(s) {
  const level = Math.min(1, rms(s.micAnalyser) * 5);
  s.micLevel = Math.max(level, s.micLevel * 0.85);
  const muted = s.stream.getAudioTracks().every((t) => !t.enabled);
  setMicLevel(muted ? 0 : s.micLevel);
  if (!s.remoteBars) return;
  const speaking = rms(s.remoteBars) > SPEAKING_RMS;
  setBars(speaking ? bands(s.remoteBars) : null);
  if (state.phase !== "active") return;
  if (speaking) setAgent("speaking");
  else setAgent(convo.awaitingReply ? "thinking" : "listening");
}

function setMicLevel(level) {
  ui.micFill.style.setProperty("--level", level.toFixed(3));
  ui.micMeter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
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

function setBars(levels) {
  ui.bars.forEach((bar, i) => {
    if (levels) bar.style.setProperty("--h", Math.max(0.17, Math.min(1, levels[i] * 1.6)).toFixed(3));
    else bar.style.removeProperty("--h");
  });
}

function remoteEnergy() {
  const node = session?.remoteEnergy;
  return node ? rms(node, ENERGY_WINDOW_S) : 0;
}

function toggleMute() {
  const s = session;
  if (!s?.stream) return;
  const muted = ui.mute.getAttribute("aria-pressed") !== "true";
  s.stream.getAudioTracks().forEach((track) => (track.enabled = !muted));
  ui.mute.setAttribute("aria-pressed", String(muted));
  setAttr(ui.mute, "aria-label", muted ? "call.unmute" : "call.mute");
}

// ---- transcript ------------------------------------------------------------------------------

function onTranscript(event) {
  const { speaker, turn } = event;
  if ((speaker !== "caller" && speaker !== "ai") || typeof event.text !== "string") return;
  const key = `${speaker}:${turn}`;
  if (event.final && !event.text.trim()) {
    dropEntry(key); // nothing was heard (or said) after all
    return;
  }
  let entry = convo.entries.get(key);
  if (!entry) entry = addEntry(key, event);
  entry.event = { ...event };
  renderBubble(entry);
  if (speaker === "caller") {
    dropListening((t) => t < turn); // an earlier turn still "listening" was superseded
    convo.lastCallerTurn = turn;
    if (event.final) convo.awaitingReply = true;
  } else {
    convo.awaitingReply = !event.final; // text can run ahead of the voice: "thinking" until it speaks
  }
  renderStats();
}

function addEntry(key, event) {
  const entry = { event, node: buildTurn(event), sentiment: null, latency: null, replyTo: null };
  if (event.speaker === "ai") {
    entry.replyTo = convo.lastCallerTurn;
    entry.latency = takePending(convo.pendingLatency, event.turn, entry.replyTo);
  } else {
    entry.sentiment = takePending(convo.pendingSentiment, event.turn);
  }
  convo.entries.set(key, entry);
  // In the order of the conversation, not of arrival: a caller turn after the AI turn before it
  // (the greeting is turn 0), whatever the network or the server's tasks did to the events.
  const at = convo.order.findIndex((other) => placeOf(convo.entries.get(other).event) > placeOf(event));
  if (at < 0) {
    convo.order.push(key);
    ui.transcript.append(entry.node.root);
  } else {
    ui.transcript.insertBefore(entry.node.root, convo.entries.get(convo.order[at]).node.root);
    convo.order.splice(at, 0, key);
  }
  ui.empty.hidden = true;
  if (entry.sentiment) renderSentiment(entry);
  if (entry.latency) renderLatency(entry);
  return entry;
}

// Caller turn n answers AI turn n-1 and is answered by AI turn n.
function placeOf({ turn, speaker }) {
  return 2 * Number(turn) + (speaker === "ai" ? 1 : 0);
}

// Caller bubbles still waiting for words ("Listening…") whose turn will never get them.
function dropListening(stale) {
  for (const key of [...convo.order]) {
    const { event } = convo.entries.get(key);
    if (event.speaker === "caller" && !event.final && !event.text.trim() && stale(event.turn)) dropEntry(key);
  }
}

function dropEntry(key) {
  const entry = convo.entries.get(key);
  if (!entry) return;
  entry.node.root.remove();
  convo.entries.delete(key);
  convo.order.splice(convo.order.indexOf(key), 1);
  renderStats();
}

function takePending(pending, ...turns) {
  for (const turn of turns) {
    if (turn != null && pending.has(turn)) {
      const value = pending.get(turn);
      pending.delete(turn);
      return value;
    }
  }
  return null;
}

function buildTurn({ speaker }) {
  const root = el("li", "turn");
  root.dataset.speaker = speaker;
  const who = el("div", "who");
  who.append(speaker === "ai" ? el("span", "", "AI") : setText(el("span"), "call.you"));
  const lang = el("span", "lang");
  const time = el("time", "", new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }));
  who.append(lang, time);
  const bubble = el("div", "bubble");
  const tags = el("div", "tags");
  root.append(who, bubble, tags);
  return { root, lang, bubble, tags, cut: null, chip: null, latency: null };
}

function renderBubble(entry) {
  const { event, node } = entry;
  node.root.dataset.final = String(Boolean(event.final));
  node.root.dataset.interrupted = String(Boolean(event.interrupted));
  node.root.setAttribute("aria-busy", String(!event.final));
  const listening = !event.final && !event.text.trim() && event.speaker === "caller";
  if (listening) setText(node.bubble, "call.listening");
  else setPlain(node.bubble, event.text);
  node.lang.textContent = event.language ?? "";
  node.lang.hidden = !event.language;
  if (event.language) node.bubble.lang = event.language;
  if (event.interrupted && !node.cut) {
    node.cut = el("span", "chip cut");
    node.cut.append(el("span", "emoji", "✂️"), setText(el("span"), "call.interrupted"));
    setAttr(node.cut, "title", "call.interruptedTitle");
    node.tags.prepend(node.cut);
  }
}

function onSentiment({ turn, sentiment, score }) {
  if (!SENTIMENT[sentiment]) return;
  const value = { sentiment, score: Number(score) };
  const entry = convo.entries.get(`caller:${turn}`);
  if (!entry) {
    convo.pendingSentiment.set(turn, value);
    return;
  }
  entry.sentiment = value;
  renderSentiment(entry);
}

function renderSentiment(entry) {
  const { sentiment, score } = entry.sentiment;
  const chip = entry.node.chip ?? el("span", "chip");
  chip.dataset.sentiment = sentiment;
  chip.replaceChildren(
    el("span", "emoji", SENTIMENT[sentiment]),
    setText(el("span"), `call.sentiment.${sentiment}`),
    el("span", "score", Number.isFinite(score) ? score.toFixed(2) : ""),
  );
  if (!entry.node.chip) entry.node.tags.append(chip);
  entry.node.chip = chip;
}

// `turn` may name the AI's turn or the caller turn it answers: either finds the AI bubble.
function onLatency(event) {
  const value = { voiceToVoiceMs: Number(event.voiceToVoiceMs), stages: event.stages ?? {} };
  if (!Number.isFinite(value.voiceToVoiceMs)) return;
  convo.latencyByTurn.set(event.turn, value.voiceToVoiceMs);
  renderStats();
  const entry = convo.entries.get(`ai:${event.turn}`) ?? findReply(event.turn);
  if (!entry) {
    convo.pendingLatency.set(event.turn, value);
    return;
  }
  entry.latency = value;
  renderLatency(entry);
}

function findReply(callerTurn) {
  for (let i = convo.order.length - 1; i >= 0; i--) {
    const entry = convo.entries.get(convo.order[i]);
    if (entry.event.speaker === "ai" && entry.replyTo === callerTurn) return entry;
  }
  return null;
}

function renderLatency(entry) {
  const { voiceToVoiceMs, stages } = entry.latency;
  const box = el("details", "latency");
  box.dataset.grade = voiceToVoiceMs < 1000 ? "fast" : voiceToVoiceMs < 2000 ? "ok" : "slow";
  const summary = el("summary");
  const more = icon("i-chev");
  more.classList.add("chev");
  const value = el("span", "v2v", formatMs(voiceToVoiceMs));
  summary.append(icon("i-bolt"), value, " ", setText(el("span", "v2v-label"), "call.v2v"), more);
  setAttr(summary, "title", "call.v2vTitle");
  const rows = Object.entries(stages).filter(
    ([name, ms]) => name !== "voiceToVoiceMs" && ms !== null && Number.isFinite(Number(ms)),
  );
  box.append(summary, stageList(rows, voiceToVoiceMs));
  entry.node.latency?.remove();
  entry.node.latency = box;
  entry.node.root.append(box);
}

function stageList(rows, total) {
  const list = el("dl", "stages");
  for (const [name, raw] of rows) {
    const ms = Number(raw);
    const track = el("div", "track");
    const fill = el("span");
    fill.style.width = `${Math.min(100, (ms / Math.max(total, 1)) * 100).toFixed(1)}%`;
    track.append(fill);
    list.append(stageTerm(name), track, el("dd", "", formatMs(ms)));
  }
  return list;
}

function stageTerm(key) {
  if (has(`call.stage.${key}`)) return setText(el("dt"), `call.stage.${key}`);
  const words = key.replace(/Ms$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  return el("dt", "", words.charAt(0).toUpperCase() + words.slice(1));
}

function formatMs(ms) {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString("en-US")} ms`;
}

function renderStats() {
  const ai = convo.order.map((key) => convo.entries.get(key).event).filter((e) => e.speaker === "ai");
  ui.statTurns.textContent = String(ai.filter((e) => e.final).length);
  ui.statBarge.textContent = String(ai.filter((e) => e.interrupted).length);
  const values = [...convo.latencyByTurn.values()];
  ui.statMedian.textContent = values.length ? formatMs(median(values)) : "—";
  ui.statLast.textContent = values.length ? formatMs(values.at(-1)) : "—";
  ui.empty.hidden = convo.order.length > 0;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function nearBottom() {
  const list = ui.transcript;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

function scrollToEnd() {
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// The transcript follows the conversation while the reader is at its end: new turns, streamed
// text, sentiment chips and latency rows (which arrive after the turn), a resized window. It
// stays put once they scroll back to read.
function followTranscript() {
  let pinned = true;
  const follow = () => pinned && scrollToEnd();
  ui.transcript.addEventListener("scroll", () => (pinned = nearBottom()), { passive: true });
  new MutationObserver(follow).observe(ui.transcript, { childList: true, subtree: true, characterData: true });
  new ResizeObserver(follow).observe(ui.transcript);
}

// ---- test hook -------------------------------------------------------------------------------

function snapshotTurns() {
  return convo.order.map((key) => {
    const { event, sentiment, latency } = convo.entries.get(key);
    return Object.freeze({ ...event, sentiment, latency });
  });
}

// The call's audio RTP statistics (`inbound-rtp` and `outbound-rtp` reports), or null.
async function audioStats() {
  const pc = session?.pc;
  if (!pc) return null;
  const found = { inbound: null, outbound: null };
  for (const report of (await pc.getStats()).values()) {
    if (report.kind !== "audio") continue;
    if (report.type === "inbound-rtp") found.inbound = { ...report };
    if (report.type === "outbound-rtp") found.outbound = { ...report };
  }
  return found;
}

Object.defineProperty(window, "parley", {
  value: Object.freeze({
    get status() { return state.status; },
    get phase() { return state.phase; },
    get iceState() { return state.iceState; },
    get connectionState() { return state.pcState; },
    get callId() { return state.callId; },
    get turns() { return Object.freeze(snapshotTurns()); },
    get lastError() { return state.lastError; },
    remoteEnergy,
    audioStats,
  }),
});

// ---- demo (?demo=1 ends on the caller speaking, ?demo=2 on the AI answering) ----------------

const DEMO_TURNS = [
  [1, "ko", "안녕하세요, 내일 오후 세 시에 치과 예약 가능할까요?", ["neutral", 0.64]],
  [1, "ko", "네, 내일 오후 3시에 예약 가능합니다. 성함과 연락처를 알려주시겠어요?", [742, 220, 148, 231, 143]],
  [2, "en", "Oh, sorry — could we switch to English? My name is Alex Kim.", ["positive", 0.81]],
  [2, "en", "Of course! Thanks, Alex. You're booked for tomorrow at 3 PM. Would you like a reminder text the day",
    [918, 240, 171, 322, 185], { interrupted: true }],
  [3, "en", "Actually, 3 is too early, I can't make that. Is 4 PM open?", ["negative", 0.58]],
];

// The same events the server sends, so the demo goes through the real rendering code.
function demoEvents(variant) {
  const callId = "demo";
  const events = [["voices", { ko: ["ko-KR-SunHi", "ko-KR-InJoon"], en: ["en-US-Amy", "en-US-Ryan"] }]];
  const say = (turn, speaker, language, text, extra) =>
    events.push(["transcript", { callId, turn, speaker, text, final: true, language, ...extra }]);
  const latency = (turn, [total, endOfTurnMs, sttMs, llmFirstTokenMs, ttsFirstChunkMs]) =>
    events.push(["turn-latency", {
      callId, turn, voiceToVoiceMs: total, stages: { endOfTurnMs, sttMs, llmFirstTokenMs, ttsFirstChunkMs },
    }]);
  for (const [turn, language, text, facts, extra] of DEMO_TURNS) {
    const caller = typeof facts[0] === "string";
    say(turn, caller ? "caller" : "ai", language, text, extra);
    if (caller) events.push(["sentiment", { callId, turn, sentiment: facts[0], score: facts[1] }]);
    else latency(turn, facts);
  }
  if (variant === "2") {
    say(3, "ai", "en", "Let me check — yes, 4 PM is open. I'll move your", { final: false });
    latency(3, [1264, 260, 190, 604, 210]);
  } else {
    say(4, "caller", "en", "Perfect, and could you also", { final: false });
  }
  return events;
}

function runDemo(variant) {
  const handlers = {
    voices: onVoices, transcript: onTranscript, sentiment: onSentiment, "turn-latency": onLatency,
  };
  setPhase("active");
  ui.mute.disabled = false;
  setStatus("IN_PROGRESS");
  setNet("connected", "connected");
  ui.timer.textContent = "01:47";
  for (const [name, payload] of demoEvents(variant)) handlers[name](payload);
  const aiTalking = variant === "2";
  setAgent(aiTalking ? "speaking" : "listening");
  setBars(aiTalking ? [0.45, 0.7, 0.95, 0.6, 0.35] : null);
  setMicLevel(aiTalking ? 0.04 : 0.46);
}

// ---- wiring ----------------------------------------------------------------------------------

function onCallButton() {
  if (DEMO) location.assign(location.pathname); // "End call" leaves the demo
  else if (state.phase === "idle") startCall();
  else if (session) endCall(session, { notify: true });
}

function init() {
  loadSettings();
  setPhase("idle");
  ui.callBtn.addEventListener("click", onCallButton);
  ui.mute.addEventListener("click", toggleMute);
  ui.bannerClose.addEventListener("click", hideBanner);
  ui.form.addEventListener("change", (event) => {
    if (event.target.name === "language") fillVoices();
    saveSettings();
  });
  ui.form.addEventListener("submit", (event) => event.preventDefault());
  window.addEventListener("pagehide", onPageHide);
  followTranscript();
  onLanguageChange(() => setNet()); // every other text on the page carries its key
  if (DEMO) runDemo(DEMO);
  else loadSocketIo().catch((err) => reportError(err.message));
  requestAnimationFrame(() => requestAnimationFrame(() => document.documentElement.classList.remove("preload")));
}

init();
