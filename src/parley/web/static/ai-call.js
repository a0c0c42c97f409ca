// Parley call page: the caller talks to the AI over WebRTC; Socket.IO `/signaling` carries the
// SDP/ICE exchange and Parley's live events (call state, transcript, sentiment, latency, voices).
// Plain ES module, no build step. `?demo=1` (or `?demo=2`) renders a canned conversation without
// connecting; `?rawmic=1` turns the browser's echo cancellation, noise suppression and gain off.

import { $, el, icon, loadSocketIo } from "/dom.js";

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

const STATUS = {
  IDLE: ["대기", "Idle", "idle"],
  INITIATING: ["준비 중", "Initiating", "busy"],
  RINGING: ["연결 대기", "Ringing", "busy"],
  CONNECTING: ["연결 중", "Connecting", "busy"],
  IN_PROGRESS: ["통화 중", "In call", "live"],
  ENDED: ["통화 종료", "Ended", "idle"],
  FAILED: ["실패", "Failed", "bad"],
};
const AGENT = {
  idle: "대기 중 · Idle",
  connecting: "연결 중 · Connecting",
  listening: "듣는 중 · Listening",
  thinking: "생각 중 · Thinking",
  speaking: "말하는 중 · Speaking",
};
const SENTIMENT = {
  positive: ["😊", "긍정", "Positive"],
  neutral: ["😐", "중립", "Neutral"],
  negative: ["😟", "부정", "Negative"],
};
const STAGES = {
  endOfTurnMs: "발화 종료 · End of turn",
  vadMs: "음성 감지 · VAD",
  sttMs: "음성 인식 · STT",
  llmFirstTokenMs: "LLM 첫 토큰 · First token",
  ttsFirstChunkMs: "TTS 첫 음성 · First audio",
  networkMs: "네트워크 · Network",
};
const PHASE_BUTTON = {
  idle: ["start", "통화 시작", "Start call", false],
  connecting: ["cancel", "취소", "Cancel", false],
  active: ["end", "통화 종료", "End call", false],
  ending: ["end", "종료 중…", "Ending…", true],
};
const PHASE_HINT = {
  idle: "마이크 권한이 필요합니다 · Microphone access needed",
  connecting: "마이크 요청이 뜨면 허용하세요 · Allow the mic if asked",
  active: "말씀하세요 — 언제든 끼어들 수 있어요 · Just talk, interrupt anytime",
  ending: "통화를 종료하는 중 · Hanging up",
};

class UserError extends Error {}
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
  const [ko, en, tone] = STATUS[status] ?? [status, "", "busy"];
  ui.pill.dataset.tone = tone;
  ui.statusText.textContent = en ? `${ko} · ${en}` : ko;
  if (status === "IN_PROGRESS" && session && !session.startedAt) startTimer(session);
}

function setNet(ice = state.iceState, pc = state.pcState) {
  state.iceState = ice;
  state.pcState = pc;
  ui.net.textContent = `ICE ${ice} · PC ${pc}`;
}

function showBanner(message, tone = "error") {
  ui.banner.dataset.tone = tone;
  ui.bannerText.textContent = message;
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

function reportError(message, tone = "error") {
  state.lastError = message;
  showBanner(message, tone);
}

function setPhase(phase) {
  state.phase = phase;
  ui.app.dataset.phase = phase;
  const [action, ko, en, disabled] = PHASE_BUTTON[phase];
  ui.callBtn.dataset.action = action;
  ui.callBtn.disabled = disabled;
  ui.callBtnText.replaceChildren(`${ko} `, el("span", "en", en));
  setHint(PHASE_HINT[phase]);
  for (const control of ui.form.elements) control.disabled = phase !== "idle";
  ui.mute.disabled = phase !== "active";
  if (phase === "idle") setAgent("idle");
  if (phase === "connecting") setAgent("connecting");
}

// "한국어 · English": the English half is its own span, so narrow screens can put it on a new line.
function setHint(text) {
  const [ko, en] = text.split(" · ");
  ui.hint.replaceChildren(ko);
  if (en) ui.hint.append(el("span", "sep", " · "), el("span", "en", en));
}

function setAgent(mode) {
  if (ui.agent.dataset.state === mode) return;
  ui.agent.dataset.state = mode;
  ui.agentState.textContent = AGENT[mode];
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
  if (!saved) return;
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
  const options = [new Option("기본 · Default", "")];
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
    throw new UserError("서버에 연결할 수 없습니다. · Can't reach the Parley server.");
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok || !payload?.success) {
    const error = payload?.error ?? {};
    const err = new UserError(error.message ?? `HTTP ${response.status}`);
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
    throw new UserError(
      "이 브라우저에서는 마이크를 사용할 수 없습니다 (HTTPS 또는 localhost 필요).\n" +
        "The microphone isn't available here: the page needs HTTPS or localhost.",
    );
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
      return (
        "마이크 권한이 거부되었습니다. 주소창의 사이트 설정에서 마이크를 허용한 뒤 다시 시도하세요.\n" +
        "Microphone access was denied. Allow it in the address bar's site settings, then try again."
      );
    case "NotFoundError":
    case "OverconstrainedError":
      return "마이크를 찾을 수 없습니다. · No microphone was found.";
    case "NotReadableError":
      return (
        "다른 앱이 마이크를 사용 중입니다. · The microphone is busy in another app."
      );
    default:
      return `마이크를 열 수 없습니다 · Couldn't open the microphone (${err?.name ?? err}).`;
  }
}

// ---- socket.io client (from npm, served by Parley) -------------------------------------------

function loadVendor() {
  const fallback = "socket.io 클라이언트를 불러오지 못했습니다. · Couldn't load the socket.io client.";
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
      reject(new UserError("시그널링 서버에 연결할 수 없습니다. · Can't reach the signaling server.")),
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
    reportError("시그널링 연결이 끊겨 통화가 종료되었습니다. · The signaling connection was lost; the call ended.");
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
    reportError(err instanceof UserError ? err.message : `통화 연결 실패 · Call failed: ${err}`);
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
  const noJoin = "세션 참가 응답이 없습니다 · The server didn't confirm the session";
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
    reportError("미디어 연결에 실패했습니다 (ICE). · The media connection failed (ICE).");
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
    reportError(`응답을 적용하지 못했습니다 · Couldn't apply the answer: ${err.message ?? err}`);
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
  reportError("AI가 통화를 떠났습니다. · The AI left the call.", "warn");
  endCall(s, { notify: true });
}

function onServerError({ message, code }, s) {
  const text = `서버 오류 · Server error${code ? ` (${code})` : ""}: ${message ?? "unknown"}`;
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
  if (status === "FAILED") reportError(`통화 실패 · Call failed${reason ? `: ${reason}` : ""}`);
  if (status === "ENDED" && reason) showBanner(`통화가 종료되었습니다 · The call ended: ${reason}`, "info");
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
  if (s.startedAt) {
    const seconds = Math.floor((performance.now() - s.startedAt) / 1000);
    setHint(`통화 시간 ${formatClock(seconds)} · Call lasted ${formatClock(seconds)}`);
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
    showBanner("브라우저가 자동 재생을 막았습니다. 페이지를 한 번 클릭하세요. · Autoplay was blocked: click the page once.", "warn"),
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
  ui.mute.setAttribute("aria-label", muted ? "마이크 켜기 / Unmute" : "마이크 끄기 / Mute");
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
  convo.order.push(key);
  ui.transcript.append(entry.node.root);
  ui.empty.hidden = true;
  if (entry.sentiment) renderSentiment(entry);
  if (entry.latency) renderLatency(entry);
  return entry;
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
  who.append(el("span", "", speaker === "ai" ? "AI" : "나 · You"));
  const lang = el("span", "lang");
  const time = el("time", "", new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
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
  node.bubble.textContent = listening ? "듣는 중 · Listening" : event.text;
  node.lang.textContent = event.language ?? "";
  node.lang.hidden = !event.language;
  if (event.language) node.bubble.lang = event.language;
  if (event.interrupted && !node.cut) {
    node.cut = el("span", "chip cut");
    node.cut.append(el("span", "emoji", "✂️"), "끊김 · Interrupted");
    node.cut.title = "발신자가 끼어들었습니다 — 실제로 들린 부분까지 표시 · The caller barged in; this is what was heard";
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
  const [emoji, ko, en] = SENTIMENT[sentiment];
  const chip = entry.node.chip ?? el("span", "chip");
  chip.dataset.sentiment = sentiment;
  chip.replaceChildren(
    el("span", "emoji", emoji),
    `${ko} · ${en}`,
    el("span", "score", Number.isFinite(score) ? score.toFixed(2) : ""),
  );
  chip.title = `감정 · Sentiment: ${en} (${Number.isFinite(score) ? score.toFixed(3) : "?"})`;
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
  summary.append(icon("i-bolt"), value, " 음성→음성 · voice-to-voice", more);
  const rows = Object.entries(stages).filter(
    ([name, ms]) => name !== "voiceToVoiceMs" && ms !== null && Number.isFinite(Number(ms)),
  );
  summary.title = rows.map(([name, ms]) => `${stageName(name)}: ${formatMs(Number(ms))}`).join("\n");
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
    list.append(el("dt", "", stageName(name)), track, el("dd", "", formatMs(ms)));
  }
  return list;
}

function stageName(key) {
  if (STAGES[key]) return STAGES[key];
  const words = key.replace(/Ms$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  return words.charAt(0).toUpperCase() + words.slice(1);
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
  if (DEMO) runDemo(DEMO);
  else loadSocketIo().catch((err) => reportError(err.message));
  requestAnimationFrame(() => requestAnimationFrame(() => document.documentElement.classList.remove("preload")));
}

init();
