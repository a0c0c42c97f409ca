// Parley meeting page (`/meetings/{id}`): lobby (camera/mic check, name, PIN) → room (video grid,
// chat, AI assistant, participants) → end screen. Plain ES module, no build step. The browser
// talks only to Parley: REST for the meeting (`/api/v1/meetings/{id}`) and the `/meetings`
// Socket.IO namespace (docs/meetings-protocol.md) for everything live; media goes to Janus over
// two RTCPeerConnections: a publisher (own camera + mic, simulcast h/m/l) and a subscriber (every
// other participant, one multistream connection renegotiated as people come and go).
//
// `?demo=N` (N = 0…24 other people, default 3) renders the room with canned participants and
// answers, without a server connection (for looking at the layout).
//
// ---- Test hooks (stable) ----------------------------------------------------------------------
// window.parleyMeeting.state() → a JSON copy of
//   { phase: "lobby" | "room" | "ended",
//     endReason: null | "left" | "kicked" | "ended" | "deleted" | "disconnected" | "not-found",
//     meetingId, meeting,              // meeting as REST/join answered it (null before loaded)
//     self,                            // your participant as the server last described it
//     participants: [participant],     // everyone in the meeting, you included, in tile order
//     micOn, cameraOn, mutedByHost,    // your local toggles
//     publishing,                      // your publisher connection is negotiated
//     quality, qualityLayer,           // requested receive quality ("auto"…) and the server's layer
//     chat: [message],                 // {id, senderId, senderName, text, createdAt}
//     assistant: [exchange],           // {id, askerId, askerName, question, answer, status, error,
//                                      //  askedAt, answeredAt}; status "pending" | "streaming" |
//                                      //  "answered" | "failed"; answer grows while streaming
//     mediaBanner: null | string,      // e.g. "Reconnecting media…"
//     mediaReady, panel: null | "chat" | "assistant" | "people",
//     lobby: { pinRequired, isHost, error } }
// await window.parleyMeeting.stats() → { [participantId]: { framesDecoded, frameWidth,
//   frameHeight, audioEnergy, packetsReceived } } from the subscriber connection's inbound-rtp
//   stats (mapped to participants by `mid`; audioEnergy = totalAudioEnergy; counters summed over
//   the participant's streams).
//
// data-testid: lobby: meeting-title, name-input, pin-input, camera-quality, lobby-mic,
//   lobby-camera, mic-meter, join-button, notice-home (not found / ended page); room: tile (one per
//   participant, with data-participant-id and data-self on yours), mic-toggle, camera-toggle,
//   quality-select, leave-button, end-meeting (host), confirm-ok / confirm-cancel (the dialog that
//   end-meeting, kick ask through), copy-invite, copy-invite-panel, chat-toggle,
//   assistant-toggle, participants-toggle, side-panel, panel-close, chat-log, chat-input,
//   chat-send, chat-message, assistant-log, assistant-input, assistant-send, assistant-exchange,
//   participants-list, participant (rows, data-participant-id), mute-participant,
//   kick-participant, media-banner, toasts, toast; end screen: ended-title, rejoin-button,
//   back-home.
// Local storage: parley.displayName, parley.cameraQuality ("720" | "360" | "180"),
//   parley.hostToken.<meetingId> (set by the home page; sent as `hostToken` in `join`).
// Shortcuts: Ctrl/⌘+D microphone, Ctrl/⌘+E camera, Esc closes the side panel.

import { $, el, icon, loadSocketIo, store } from "/dom.js";
import { errorText, language, onLanguageChange, setText, t, translate } from "/i18n.js";

const API = "/api/v1/meetings";
const NAMESPACE = "/meetings";
const REQUEST_TIMEOUT_MS = 12_000;
const CONNECT_TIMEOUT_MS = 10_000;
const SPEAKING_LEVEL = 0.03; // RMS (full scale 1) over the last poll
const SPEAKING_HOLD_MS = 900;
const STATS_POLL_MS = 400;
const MAX_TEXT = 2000;
const KEYS = {
  name: "parley.displayName",
  quality: "parley.cameraQuality",
  hostToken: (id) => `parley.hostToken.${id}`,
};
const CAMERA_SIZES = {
  720: { width: 1280, height: 720 },
  360: { width: 640, height: 360 },
  180: { width: 320, height: 180 },
};

const params = new URLSearchParams(location.search);
const DEMO = params.has("demo") ? demoCount(params.get("demo")) : null;

function demoCount(value) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.max(0, Math.min(24, n)) : 3;
}

/** A failed request: its `code`, and a message in the page's language (ours for the codes we
 * know, else the server's own words). */
class RequestError extends Error {
  constructor(code, serverMessage, retryAfter) {
    super(errorText(code, serverMessage));
    this.code = code;
    this.serverMessage = serverMessage;
    this.retryAfter = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 0; // seconds
  }
}

// ---- DOM -------------------------------------------------------------------------------------

const ui = {
  app: $("app"),
  loading: $("loading"),
  notice: $("notice"),
  noticeIcon: $("notice-icon"),
  noticeTitle: $("notice-title"),
  noticeText: $("notice-text"),
  noticeRetry: $("notice-retry"),
  lobby: $("lobby"),
  preview: $("preview"),
  previewVideo: $("preview-video"),
  previewAvatar: $("preview-avatar"),
  previewInitials: $("preview-initials"),
  previewMsg: $("preview-msg"),
  previewName: $("preview-name"),
  lobbyMic: $("lobby-mic"),
  lobbyCam: $("lobby-cam"),
  micMeter: $("mic-meter"),
  micFill: $("mic-fill"),
  cameraQuality: $("camera-quality"),
  lobbyTitle: $("lobby-title"),
  lobbyMeta: $("lobby-meta"),
  joinForm: $("join-form"),
  nameInput: $("name-input"),
  pinField: $("pin-field"),
  pinInput: $("pin-input"),
  pinError: $("pin-error"),
  joinError: $("join-error"),
  joinBtn: $("join-btn"),
  joinLabel: $("join-label"),
  joinNote: $("join-note"),
  room: $("room"),
  mediaBanner: $("media-banner"),
  mediaBannerText: $("media-banner-text"),
  stage: $("stage"),
  grid: $("grid"),
  panel: $("panel"),
  panelTitle: $("panel-title"),
  panelClose: $("panel-close"),
  panels: {
    chat: $("panel-chat"),
    assistant: $("panel-assistant"),
    people: $("panel-people"),
  },
  chatFeed: $("chat-feed"),
  chatEmpty: $("chat-empty"),
  chatForm: $("chat-form"),
  chatInput: $("chat-input"),
  chatSend: $("chat-send"),
  assistantFeed: $("assistant-feed"),
  assistantEmpty: $("assistant-empty"),
  assistantForm: $("assistant-form"),
  assistantInput: $("assistant-input"),
  assistantSend: $("assistant-send"),
  peopleInvite: $("people-invite"),
  peopleCount: $("people-count"),
  peopleList: $("people-list"),
  roomClock: $("room-clock"),
  roomTitle: $("room-title"),
  micBtn: $("mic-btn"),
  camBtn: $("cam-btn"),
  qualitySelect: $("quality-select"),
  qualityLabel: $("quality-label"),
  leaveBtn: $("leave-btn"),
  endBtn: $("end-btn"),
  inviteBtn: $("invite-btn"),
  roomTopTitle: $("room-top-title"),
  aloneCard: $("alone-card"),
  aloneLink: $("alone-link"),
  aloneCopy: $("alone-copy"),
  aloneClose: $("alone-close"),
  roomTopInvite: $("room-top-invite"),
  panelButtons: [$("people-btn"), $("chat-btn"), $("assistant-btn")],
  peopleBadge: $("people-badge"),
  chatBadge: $("chat-badge"),
  assistantBadge: $("assistant-badge"),
  toasts: $("toasts"),
  ended: $("ended"),
  endedIcon: $("ended-icon"),
  endedTitle: $("ended-title"),
  endedText: $("ended-text"),
  rejoinBtn: $("rejoin-btn"),
  confirm: $("confirm"),
  confirmTitle: $("confirm-title"),
  confirmText: $("confirm-text"),
  confirmOk: $("confirm-ok"),
};

function initials(name) {
  const words = String(name ?? "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0] ?? "";
  const second = words.length > 1 ? ([...words[words.length - 1]][0] ?? "") : "";
  return (first + second).toUpperCase();
}

/** A colour for a name or id (FNV-1a, spread by the golden ratio so close ids differ). */
function hueOf(text) {
  let hash = 0x811c9dc5;
  for (const ch of String(text ?? "")) hash = Math.imul(hash ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return Math.floor(((hash * 0.618033988749895) % 1) * 360);
}

function clockTime(date = new Date()) {
  return date.toLocaleTimeString(language(), { hour: "numeric", minute: "2-digit" });
}

function timeOf(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : clockTime(date);
}

// ---- page state ------------------------------------------------------------------------------

const state = {
  phase: "loading", // loading | notice | lobby | joining | room | ended
  endReason: null,
  meetingId: null,
  meeting: null,
  hostToken: null,
  selfId: null,
  participants: new Map(), // id → participant (server's shape), you included
  chat: [],
  assistant: [],
  quality: "auto",
  qualityLayer: null,
  mediaReady: true,
  mediaBanner: null,
  mutedByHost: false,
  publishBlocked: null, // null | "full" | "error"
  panel: null,
  unread: { chat: 0, assistant: 0 },
  joinPayload: null,
  reconnecting: false,
  rejoining: false,
  leaving: false,
  lobbyError: null,
  joinWaitUntil: 0, // ms epoch: wrong PINs locked joining until then (TOO_MANY_ATTEMPTS)
  joinWaitTimer: null,
  pinToastAt: 0, // when the host was last shown wrong-PIN counts (pin-attempts)
  pinPaused: false,
  audioBlocked: false,
  aloneDismissed: false,
};

const media = {
  stream: null, // the local MediaStream (audio and/or video)
  micOn: true,
  camOn: true,
  cameraQuality: "720",
  audioError: null,
  videoError: null,
  starting: false,
  level: 0,
  meter: null, // {ctx, analyser, data, raf}
};

const rtc = {
  socket: null,
  pub: null, // {pc, ready, pendingLocal: [], pendingRemote: []}
  sub: null,
  mids: new Map(), // subscriber mid → {mid, type, participantId, active}
  earlyRemote: [], // Janus's subscriber candidates that came before the connection
  offerChain: Promise.resolve(),
  backlog: [], // socket events held while a join is in flight
  statsTimer: null,
  lastEnergy: new Map(), // mid → {energy, duration}
  spokeAt: new Map(), // participantId → ms
};

const tiles = new Map(); // participantId → tile
const remote = new Map(); // participantId → {audio, video, stream}

// ---- phases ----------------------------------------------------------------------------------

function setPhase(phase) {
  state.phase = phase;
  ui.app.dataset.phase = phase;
  ui.loading.hidden = phase !== "loading";
  ui.notice.hidden = phase !== "notice";
  ui.lobby.hidden = phase !== "lobby" && phase !== "joining";
  ui.room.hidden = phase !== "room";
  ui.ended.hidden = phase !== "ended";
}

const NOTICES = {
  "not-found": ["i-search-off", "meeting.notFound", "meeting.notFoundText"],
  ended: ["i-calendar-x", "meeting.endedTitle", "meeting.endedNoticeText"],
  unreachable: ["i-wifi-off", "meeting.unreachable", "meeting.unreachableText"],
};

function showNotice(kind, detail) {
  state.notice = { kind, detail };
  renderNotice();
  ui.noticeRetry.hidden = kind !== "unreachable";
  state.endReason = kind === "unreachable" ? null : kind;
  stopLocalMedia();
  setPhase("notice");
}

function renderNotice() {
  const { kind, detail } = state.notice;
  const [iconName, title, text] = NOTICES[kind];
  ui.noticeIcon.setAttribute("href", `#${iconName}`);
  ui.noticeTitle.textContent = t(title);
  ui.noticeText.textContent = detail ?? t(text);
  document.title = `${t(title)} · Parley`;
}

// ---- local media -----------------------------------------------------------------------------

function audioTrack() {
  return media.stream?.getAudioTracks()[0] ?? null;
}

function videoTrack() {
  return media.stream?.getVideoTracks()[0] ?? null;
}

function videoConstraints() {
  const size = CAMERA_SIZES[media.cameraQuality] ?? CAMERA_SIZES[720];
  return { width: { ideal: size.width }, height: { ideal: size.height }, frameRate: { ideal: 30 } };
}

const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Why a device could not start: {device: "Microphone" | "Camera", reason}, said by `mediaErrorText`. */
function describeMediaError(err, device) {
  const reasons = {
    NotAllowedError: "blocked",
    SecurityError: "blocked",
    NotFoundError: "missing",
    OverconstrainedError: "missing",
    NotReadableError: "busy",
    AbortError: "busy",
    Insecure: "insecure",
  };
  return { device, reason: reasons[err?.name] ?? "failed" };
}

function mediaErrorText({ device, reason }) {
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

/** Opens the camera and microphone (each on its own when both together fail). */
async function startLocalMedia() {
  media.starting = true;
  renderPreview();
  let stream = null;
  try {
    stream = await getUserMedia({ audio: AUDIO_CONSTRAINTS, video: videoConstraints() });
  } catch {
    stream = new MediaStream();
    try {
      const audio = await getUserMedia({ audio: AUDIO_CONSTRAINTS });
      audio.getTracks().forEach((t) => stream.addTrack(t));
    } catch (err) {
      media.audioError = describeMediaError(err, "Microphone");
    }
    try {
      const video = await getUserMedia({ video: videoConstraints() });
      video.getTracks().forEach((t) => stream.addTrack(t));
    } catch (err) {
      media.videoError = describeMediaError(err, "Camera");
    }
  }
  media.starting = false;
  if (state.phase === "notice" || state.phase === "ended") {
    stream.getTracks().forEach((t) => t.stop());
    return;
  }
  media.stream = stream;
  applyTrackStates();
  ui.previewVideo.srcObject = videoTrack() ? new MediaStream([videoTrack()]) : null;
  startMeter();
  renderPreview();
  renderControls();
  // Joined before the devices were ready: show and send them now.
  if (state.phase === "room") {
    refreshSelfTile();
    if (!rtc.pub) publish();
  }
}

function refreshSelfTile() {
  const tile = tiles.get(state.selfId);
  if (!tile) return;
  const video = videoTrack();
  if (tile.stream?.getVideoTracks()[0] !== video) setTileStream(tile, video ? new MediaStream([video]) : null);
  updateTile(state.selfId);
}

/** Asks again for a device that failed or was missing (clicking its button does this). */
async function retryDevice(kind) {
  try {
    const got = await getUserMedia(kind === "audio" ? { audio: AUDIO_CONSTRAINTS } : { video: videoConstraints() });
    const track = got.getTracks()[0];
    media.stream ??= new MediaStream();
    media.stream.addTrack(track);
    if (kind === "audio") {
      media.audioError = null;
      media.micOn = !state.mutedByHost;
      startMeter();
    } else {
      media.videoError = null;
      media.camOn = true;
      ui.previewVideo.srcObject = new MediaStream([track]);
    }
    applyTrackStates();
    renderPreview();
    renderControls();
    if (state.phase === "room") {
      refreshSelfTile();
      await addTrackToPublisher(track);
      sendMediaState({ micOn: media.micOn, cameraOn: media.camOn });
    }
  } catch (err) {
    const problem = describeMediaError(err, kind === "audio" ? "Microphone" : "Camera");
    if (kind === "audio") media.audioError = problem;
    else media.videoError = problem;
    renderPreview();
    renderControls();
    toast(mediaErrorText(problem), { tone: "error" });
  }
}

function applyTrackStates() {
  const audio = audioTrack();
  const video = videoTrack();
  if (audio) audio.enabled = media.micOn && !state.mutedByHost;
  if (video) video.enabled = media.camOn;
}

function stopLocalMedia() {
  media.stream?.getTracks().forEach((t) => t.stop());
  media.stream = null;
  stopMeter();
  ui.previewVideo.srcObject = null;
}

function startMeter() {
  const track = audioTrack();
  if (!track || media.meter?.track === track) return;
  stopMeter();
  try {
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    media.meter = { ctx, analyser, track, data: new Float32Array(analyser.fftSize), timer: null };
    // A context made before any click starts suspended: the first click or key resumes it.
    const resume = () => ctx.state === "suspended" && ctx.resume().catch(() => {});
    resume();
    for (const type of ["pointerdown", "keydown"]) addEventListener(type, resume, { once: true, capture: true });
    media.meter.timer = setInterval(readMeter, 60);
  } catch {
    media.meter = null;
  }
}

function readMeter() {
  const meter = media.meter;
  if (!meter) return;
  meter.analyser.getFloatTimeDomainData(meter.data);
  let sum = 0;
  for (const v of meter.data) sum += v * v;
  const rms = Math.sqrt(sum / meter.data.length);
  const on = media.micOn && !state.mutedByHost;
  media.level = on ? rms : 0;
  // -60…-10 dBFS onto 0…1
  const level = on && rms > 0 ? Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 50)) : 0;
  ui.micFill.style.setProperty("--level", level.toFixed(3));
  ui.micMeter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  if (state.phase === "room" && state.selfId && media.level > SPEAKING_LEVEL) {
    rtc.spokeAt.set(state.selfId, performance.now());
  }
}

function stopMeter() {
  if (!media.meter) return;
  clearInterval(media.meter.timer);
  media.meter.ctx.close().catch(() => {});
  media.meter = null;
  ui.micFill.style.setProperty("--level", "0");
}

// ---- lobby -----------------------------------------------------------------------------------

function renderPreview() {
  const name = ui.nameInput.value.trim();
  const video = videoTrack();
  const cameraShown = Boolean(video) && media.camOn;
  ui.preview.dataset.camera = cameraShown ? "on" : "off";
  if (name) ui.previewInitials.textContent = initials(name);
  else ui.previewInitials.replaceChildren(icon("i-person"));
  ui.previewAvatar.style.setProperty("--hue", String(name ? hueOf(name) : 240));
  ui.previewName.textContent = name;
  let message = "";
  if (media.starting) message = t("meeting.startingCamera");
  else if (!video) {
    const { videoError, audioError } = media;
    message =
      videoError?.reason === "blocked" && audioError?.reason === "blocked"
        ? t("meeting.bothBlocked")
        : videoError && audioError
          ? `${mediaErrorText(videoError)} ${mediaErrorText(audioError)}`
          : videoError
            ? mediaErrorText(videoError)
            : t("meeting.cameraOff");
  } else if (!media.camOn) message = t("meeting.cameraOff");
  ui.previewMsg.textContent = message;
  ui.previewMsg.hidden = !message || (!media.starting && cameraShown);
  // With the camera off the avatar speaks for itself; the message stays for errors only.
  if (!media.starting && !media.videoError && !cameraShown) ui.previewMsg.hidden = true;
  if (!media.starting && media.videoError) ui.previewAvatar.hidden = true;
  else ui.previewAvatar.hidden = false;
  renderToggle(ui.lobbyMic, "mic");
  renderToggle(ui.lobbyCam, "cam");
}

/** A mic or camera button: on/off, a "!" when the device failed, disabled when muted by host. */
function renderToggle(button, kind) {
  const isMic = kind === "mic";
  const track = isMic ? audioTrack() : videoTrack();
  const error = isMic ? media.audioError : media.videoError;
  const on = Boolean(track) && (isMic ? media.micOn && !state.mutedByHost : media.camOn);
  button.setAttribute("aria-pressed", String(on));
  button.querySelector(".warn-dot")?.remove();
  let label;
  if (!track && !media.starting) {
    const problem = error ?? { device: isMic ? "Microphone" : "Camera", reason: "missing" };
    label = t("meeting.retryDevice", { error: mediaErrorText(problem) });
    const dot = el("span", "warn-dot", "!");
    dot.setAttribute("aria-hidden", "true");
    button.append(dot);
  } else if (isMic && state.mutedByHost) {
    label = t("meeting.hostMutedYou");
  } else if (state.publishBlocked === "full" && state.phase === "room") {
    label = t("meeting.slotsFull");
  } else {
    label = t(`meeting.${isMic ? "mic" : "cam"}${on ? "Off" : "On"}`);
  }
  button.setAttribute("aria-label", label);
  button.title = label;
  button.disabled =
    media.starting || (isMic && state.mutedByHost) || (state.publishBlocked === "full" && state.phase === "room");
}

function renderLobby() {
  const meeting = state.meeting;
  ui.lobbyTitle.textContent = meeting.title;
  document.title = `${meeting.title} · Parley`;
  const meta = [];
  const isHost = Boolean(state.hostToken);
  if (isHost) {
    const chip = el("span", "chip accent");
    chip.append(icon("i-host"), t("meeting.youHost"));
    meta.push(chip);
  } else if (meeting.hostName) {
    meta.push(el("span", "", t("meeting.hostedBy", { name: meeting.hostName })));
  }
  const count = meeting.participantCount ?? 0;
  meta.push(el("span", count ? "chip good" : "chip", t("meeting.here", { n: count })));
  if (meeting.pinRequired) {
    const chip = el("span", "chip");
    chip.append(icon("i-lock"), t("meeting.pinProtected"));
    meta.push(chip);
  }
  ui.lobbyMeta.replaceChildren(...meta);
  ui.pinField.hidden = !meeting.pinRequired || isHost;
  updateJoinButton();
}

function updateJoinButton() {
  const busy = state.phase === "joining";
  ui.joinBtn.disabled = busy || !ui.nameInput.value.trim() || Date.now() < state.joinWaitUntil;
  ui.joinBtn.classList.toggle("busy", busy);
  const first = state.hostToken && !state.meeting?.participantCount;
  setText(ui.joinLabel, busy ? "meeting.joining" : first ? "meeting.start" : "meeting.joinNow");
  ui.nameInput.disabled = busy;
  ui.pinInput.disabled = busy;
}

// `message` may be a function of nothing, so that a language change can say it again.
function showJoinError(message) {
  state.lobbyErrorSource = message;
  if (typeof message === "function") message = message();
  state.lobbyError = message;
  if (!message) {
    ui.joinError.hidden = true;
    return;
  }
  ui.joinError.replaceChildren(icon("i-alert"), el("span", "", message));
  ui.joinError.hidden = false;
}

async function loadMeeting() {
  setPhase("loading");
  let response;
  try {
    response = await fetch(`${API}/${encodeURIComponent(state.meetingId)}`, {
      signal: AbortSignal.timeout(15_000),
    });
  } catch {
    showNotice("unreachable");
    return false;
  }
  if (response.status === 404 || response.status === 422) {
    showNotice("not-found");
    return false;
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    /* not JSON */
  }
  if (!response.ok || !payload?.data?.meeting) {
    showNotice("unreachable", payload?.error?.message);
    return false;
  }
  state.meeting = payload.data.meeting;
  if (state.meeting.status === "ended") {
    showNotice("ended");
    return false;
  }
  return true;
}

async function onJoinSubmit(event) {
  event.preventDefault();
  if (state.phase !== "lobby") return;
  const displayName = ui.nameInput.value.trim();
  if (!displayName) {
    ui.nameInput.focus();
    return;
  }
  const pin = ui.pinInput.value.trim();
  ui.pinError.hidden = true;
  ui.pinInput.removeAttribute("aria-invalid");
  if (!ui.pinField.hidden && !/^[0-9]{4,12}$/.test(pin)) {
    setText(ui.pinError, "meeting.pinNeeded");
    ui.pinError.hidden = false;
    ui.pinInput.setAttribute("aria-invalid", "true");
    ui.pinInput.focus();
    return;
  }
  store.set(KEYS.name, displayName);
  showJoinError(null);
  const payload = { meetingId: state.meetingId, displayName };
  if (!ui.pinField.hidden && pin) payload.pin = pin;
  if (state.hostToken) payload.hostToken = state.hostToken;
  state.joinPayload = payload;
  setPhase("joining");
  updateJoinButton();
  try {
    await connectSocket();
    const answer = await request("join", payload);
    enterRoom(answer);
    replayBacklog();
    if (DEMO !== null) demoAttachStreams();
  } catch (err) {
    rtc.backlog = [];
    disconnectSocket();
    setPhase("lobby");
    updateJoinButton();
    onJoinFailed(err);
  }
}

function onJoinFailed(err) {
  switch (err.code) {
    case "WRONG_PIN":
      ui.pinField.hidden = false;
      setText(ui.pinError, ui.pinInput.value ? "meeting.pinWrong" : "meeting.pinRequired");
      ui.pinError.hidden = false;
      ui.pinInput.setAttribute("aria-invalid", "true");
      ui.pinInput.select();
      ui.pinInput.focus();
      if (err.retryAfter) waitBeforeJoining(err.retryAfter, "meeting.pinWrongWait");
      return;
    case "TOO_MANY_ATTEMPTS":
      ui.pinField.hidden = false;
      ui.pinError.hidden = false;
      waitBeforeJoining(err.retryAfter || 1, "meeting.tooManyAttempts");
      return;
    case "MEETING_NOT_FOUND":
      showNotice("not-found");
      return;
    case "MEETING_ENDED":
      showNotice("ended");
      return;
    case "MEETING_FULL":
      showJoinError(() => t("meeting.full"));
      return;
    default:
      showJoinError(() => errorText(err.code, err.serverMessage ?? t("meeting.joinFailed")));
  }
}

/** Wrong PINs locked joining for `seconds` (the server refuses even the right PIN until then):
 * say so under the PIN with the time left, keep the join button off, and clear it at the end. */
function waitBeforeJoining(seconds, key) {
  clearInterval(state.joinWaitTimer);
  state.joinWaitUntil = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((state.joinWaitUntil - Date.now()) / 1000);
    if (left <= 0 || state.phase !== "lobby") {
      clearInterval(state.joinWaitTimer);
      state.joinWaitUntil = 0;
      if (state.phase === "lobby") setText(ui.pinError, "meeting.tryAgainNow");
      updateJoinButton();
      return;
    }
    setText(ui.pinError, key, { seconds: left });
    ui.pinError.hidden = false;
  };
  tick();
  state.joinWaitTimer = setInterval(tick, 1000);
  updateJoinButton();
}

// ---- Socket.IO -------------------------------------------------------------------------------

async function connectSocket() {
  if (DEMO !== null) return;
  const { io } = await loadSocketIo(t("meeting.clientMissing")).catch((err) => {
    throw new RequestError("CLIENT_MISSING", err.message);
  });
  const socket = io(NAMESPACE, { timeout: CONNECT_TIMEOUT_MS, reconnectionDelayMax: 4000 });
  rtc.socket = socket;
  bindSocket(socket);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new RequestError("CONNECT_FAILED")), CONNECT_TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", () => {
      clearTimeout(timer);
      reject(new RequestError("CONNECT_FAILED"));
    });
  });
}

function disconnectSocket() {
  const socket = rtc.socket;
  rtc.socket = null;
  if (socket) {
    socket.removeAllListeners();
    socket.disconnect();
  }
}

/** A request with an acknowledgement: resolves with the answer, throws RequestError on `ok: false`. */
async function request(event, payload = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
  if (DEMO !== null) return demoRequest(event, payload);
  const socket = rtc.socket;
  if (!socket?.connected) throw new RequestError("NOT_CONNECTED");
  let answer;
  try {
    answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch {
    throw new RequestError("TIMEOUT");
  }
  if (!answer || answer.ok !== true) {
    throw new RequestError(answer?.error?.code ?? "ERROR", answer?.error?.message, answer?.error?.retryAfter);
  }
  return answer;
}

function bindSocket(socket) {
  const on = (event, handler) =>
    socket.on(event, (payload) => {
      if (rtc.socket !== socket) return;
      const run = () => {
        try {
          handler(payload && typeof payload === "object" ? payload : {});
        } catch (err) {
          console.error(`parley: ${event}`, err);
        }
      };
      // Events that overtake the join answer (a first subscriber offer, say) wait for it.
      if (state.phase === "joining" || state.rejoining) rtc.backlog.push(run);
      else run();
    });
  on("participant-joined", onParticipantJoined);
  on("participant-left", onParticipantLeft);
  on("participant-updated", onParticipantUpdated);
  on("subscriber-offer", (p) => {
    rtc.offerChain = rtc.offerChain.then(() => onSubscriberOffer(p)).catch((err) => console.error("parley: subscriber offer", err));
  });
  on("trickle", onRemoteTrickle);
  on("muted-by-host", onMutedByHost);
  on("kicked", () => endRoom("kicked"));
  on("meeting-closed", (p) => endRoom(p.reason === "deleted" ? "deleted" : "ended"));
  on("chat-message", (p) => p.message && addChat(p.message));
  on("assistant-chunk", onAssistantChunk);
  on("assistant-done", onAssistantDone);
  on("assistant-error", onAssistantError);
  on("media-interrupted", onMediaInterrupted);
  on("media-restored", onMediaRestored);
  on("pin-attempts", onPinAttempts);
  // Failed requests also answer through their acknowledgement, which is where they are shown.
  on("error", (p) => console.warn("parley: server error", p.event, p.code, p.message));
  socket.on("disconnect", (reason) => {
    if (rtc.socket !== socket || state.phase !== "room") return;
    if (reason === "io server disconnect") {
      // The server put this socket out without saying why (kicked / closed come first).
      setTimeout(() => state.phase === "room" && endRoom("disconnected"), 1500);
      return;
    }
    state.reconnecting = true;
    closePeerConnections();
    setMediaBanner("meeting.connectionLost");
  });
  socket.on("connect", () => {
    if (rtc.socket === socket && state.phase === "room" && state.reconnecting) rejoin();
  });
}

/** After the socket came back: join again (a new participant) and restart media. */
async function rejoin() {
  if (state.rejoining) return;
  state.rejoining = true;
  try {
    const answer = await request("join", state.joinPayload);
    state.reconnecting = false;
    enterRoom(answer);
    state.rejoining = false;
    replayBacklog();
    toast(t("meeting.reconnected"), { icon: "i-check" });
  } catch (err) {
    state.rejoining = false;
    rtc.backlog = [];
    if (err.code === "MEETING_ENDED") endRoom("ended");
    else if (err.code === "MEETING_NOT_FOUND") endRoom("deleted");
    else if (err.code === "TOO_MANY_ATTEMPTS") setTimeout(() => state.phase === "room" && rejoin(), (err.retryAfter || 1) * 1000);
    else if (err.code === "NOT_CONNECTED" || err.code === "TIMEOUT") return; // the next connect retries
    else endRoom("disconnected");
  }
}

function replayBacklog() {
  for (const run of rtc.backlog.splice(0)) run();
}

// ---- room ------------------------------------------------------------------------------------

function selfParticipant() {
  return state.participants.get(state.selfId) ?? null;
}

function isHost() {
  return selfParticipant()?.role === "host";
}

function enterRoom(answer) {
  closePeerConnections();
  for (const id of [...tiles.keys()]) removeTile(id);
  remote.clear();
  state.meeting = answer.meeting ?? state.meeting;
  state.selfId = answer.self?.id ?? null;
  state.participants = new Map();
  for (const p of answer.participants ?? []) if (p?.id) state.participants.set(p.id, p);
  if (answer.self?.id) state.participants.set(answer.self.id, answer.self);
  state.chat = [...(answer.chat ?? [])].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  state.assistant = (answer.assistant ?? []).map(normalizeExchange);
  state.iceServers = Array.isArray(answer.iceServers) ? answer.iceServers : [];
  state.mediaReady = answer.mediaReady !== false;
  state.mutedByHost = Boolean(answer.self?.mutedByHost);
  state.publishBlocked = null;
  if (state.mutedByHost) media.micOn = false;
  applyTrackStates();
  setPhase("room");
  ui.roomTitle.textContent = state.meeting?.title ?? "";
  ui.roomTopTitle.textContent = state.meeting?.title ?? "";
  document.title = `${state.meeting?.title ?? t("meeting.room")} · Parley`;
  ui.endBtn.hidden = !isHost();
  renderTiles();
  renderControls();
  renderChat();
  renderAssistant();
  renderPeople();
  startStatsLoop();
  if (!state.mediaReady) {
    setMediaBanner("meeting.waitingVideo");
  } else {
    setMediaBanner(null);
    publish();
  }
  if (state.quality !== "auto") requestQuality(state.quality);
}

function normalizeExchange(x) {
  return {
    id: x.id ?? null,
    askerId: x.askerId ?? null,
    askerName: x.askerName ?? "",
    question: x.question ?? "",
    answer: x.answer ?? "",
    status: x.status ?? "answered",
    error: x.error ?? null,
    askedAt: x.askedAt ?? null,
    answeredAt: x.answeredAt ?? null,
  };
}

function onParticipantJoined({ participant }) {
  if (!participant?.id) return;
  const known = state.participants.has(participant.id);
  state.participants.set(participant.id, participant);
  renderTiles();
  renderPeople();
  if (!known && participant.id !== state.selfId) toast(t("meeting.joined", { name: participant.displayName }), { icon: "i-people" });
}

function onParticipantLeft({ participantId, reason }) {
  const participant = state.participants.get(participantId);
  if (!participant || participantId === state.selfId) return;
  state.participants.delete(participantId);
  remote.delete(participantId);
  rtc.spokeAt.delete(participantId);
  renderTiles();
  renderPeople();
  const name = participant.displayName;
  toast(t(reason === "kicked" ? "meeting.removed" : "meeting.left", { name }), { icon: "i-leave" });
}

function onParticipantUpdated({ participant }) {
  if (!participant?.id) return;
  const known = state.participants.has(participant.id);
  state.participants.set(participant.id, participant);
  if (!known) renderTiles();
  if (participant.id === state.selfId && Boolean(participant.mutedByHost) !== state.mutedByHost) {
    applyMutedByHost(Boolean(participant.mutedByHost), false);
  }
  updateTile(participant.id);
  renderPeople();
}

/** The host hears of wrong PINs (counts only): a toast, at most one every few seconds unless
 * joining by PIN has just been paused. */
function onPinAttempts({ failed, lockedFor }) {
  if (!Number.isFinite(failed) || failed < 1) return;
  const paused = Number.isFinite(lockedFor) && lockedFor > 0;
  const now = Date.now();
  if (now - state.pinToastAt < 5000 && !(paused && !state.pinPaused)) return;
  state.pinToastAt = now;
  state.pinPaused = paused;
  const sub = paused ? `${t("meeting.pinPaused", { seconds: lockedFor })} ${t("meeting.pinAdvice")}` : undefined;
  toast(t("meeting.pinAttempts", { failed }), { tone: paused ? "error" : "info", icon: "i-lock", sub, wrap: true, timeout: paused ? 15_000 : 4500 });
}

function onMutedByHost({ muted }) {
  applyMutedByHost(Boolean(muted), true);
}

function applyMutedByHost(muted, announce) {
  if (muted === state.mutedByHost) return;
  state.mutedByHost = muted;
  if (muted) {
    media.micOn = false;
    applyTrackStates();
    if (announce) toast(t("meeting.hostMutedMic"), { icon: "i-mic-off" });
  } else if (announce) {
    toast(t("meeting.hostUnmuted"), { icon: "i-mic" });
  }
  renderControls();
  updateTile(state.selfId);
}

// ---- tiles and the grid ----------------------------------------------------------------------

function orderedParticipants() {
  const others = [...state.participants.values()]
    .filter((p) => p.id !== state.selfId)
    .sort((a, b) => String(a.joinedAt ?? "").localeCompare(String(b.joinedAt ?? "")));
  const self = selfParticipant();
  return self ? [self, ...others] : others;
}

function makeTile(id) {
  const root = el("div", "tile");
  root.dataset.participantId = id;
  root.dataset.testid = "tile";
  root.setAttribute("role", "group");
  const video = el("video");
  video.autoplay = true;
  video.playsInline = true;
  const avatar = el("div", "avatar");
  const badge = el("span");
  avatar.append(badge);
  const status = el("span", "tile-status");
  status.append(el("span", "spinner"), setText(el("span"), "meeting.connecting"));
  const mic = el("span", "tile-mic");
  mic.append(icon("i-mic-off"));
  const foot = el("div", "tile-foot");
  const name = el("span", "tile-name");
  const host = setText(el("span", "tile-badge"), "meeting.host");
  foot.append(name, host);
  root.append(video, avatar, status, mic, foot);
  const tile = { id, root, video, avatar, badge, status, mic, name, host, stream: null, videoReady: false };
  const ready = () => {
    tile.videoReady = video.videoWidth > 0;
    updateTile(id);
  };
  video.addEventListener("loadeddata", ready);
  video.addEventListener("resize", ready);
  return tile;
}

function renderTiles() {
  const people = orderedParticipants();
  const ids = new Set(people.map((p) => p.id));
  for (const id of [...tiles.keys()]) if (!ids.has(id)) removeTile(id);
  for (const p of people) {
    if (!tiles.has(p.id)) {
      const tile = makeTile(p.id);
      tiles.set(p.id, tile);
      ui.grid.append(tile.root);
      if (p.id === state.selfId) {
        tile.root.dataset.self = "";
        tile.video.muted = true;
        setTileStream(tile, videoTrack() ? new MediaStream([videoTrack()]) : null);
      } else if (remote.has(p.id)) {
        setTileStream(tile, remote.get(p.id).stream);
      }
    }
    updateTile(p.id);
  }
  // The self tile is always first, so later additions only ever append.
  layoutGrid();
  ui.aloneCard.hidden = people.length > 1 || state.aloneDismissed;
  ui.aloneLink.textContent = inviteLink();
  ui.peopleBadge.textContent = String(people.length);
}

function removeTile(id) {
  const tile = tiles.get(id);
  if (!tile) return;
  tile.video.srcObject = null;
  tile.root.remove();
  tiles.delete(id);
}

function setTileStream(tile, stream) {
  if (tile.stream === stream) return;
  tile.stream = stream;
  tile.videoReady = false;
  tile.video.srcObject = stream;
  if (stream) playTile(tile);
}

function playTile(tile) {
  tile.video.play().catch((err) => {
    if (err?.name !== "NotAllowedError" || tile.root.dataset.self !== undefined) return;
    // Autoplay with sound refused: play muted now and offer a click to turn the sound on.
    tile.video.muted = true;
    tile.video.play().catch(() => {});
    if (!state.audioBlocked) {
      state.audioBlocked = true;
      toast(t("meeting.soundPaused"), {
        icon: "i-volume",
        action: { label: t("meeting.soundOn"), run: unblockAudio },
        timeout: 0,
      });
    }
  });
}

function unblockAudio() {
  state.audioBlocked = false;
  for (const tile of tiles.values()) {
    if (tile.root.dataset.self !== undefined) continue;
    tile.video.muted = false;
    tile.video.play().catch(() => {});
  }
}

function updateTile(id) {
  const tile = tiles.get(id);
  const p = state.participants.get(id);
  if (!tile || !p) return;
  const self = id === state.selfId;
  const name = p.displayName ?? t("meeting.guest");
  const label = self ? t("meeting.selfName", { name }) : name;
  tile.name.textContent = label;
  tile.root.setAttribute("aria-label", label);
  tile.badge.textContent = initials(name);
  tile.avatar.style.setProperty("--hue", String(hueOf(p.id)));
  tile.host.hidden = p.role !== "host";
  const micOn = self ? Boolean(audioTrack()) && media.micOn && !state.mutedByHost : p.micOn !== false;
  tile.root.dataset.mic = micOn ? "on" : "off";
  tile.mic.title = t(p.mutedByHost ? "meeting.mutedByHost" : "meeting.micIsOff");
  tile.mic.setAttribute("aria-label", tile.mic.title);
  toggleData(tile.root, "mutedByHost", Boolean(p.mutedByHost));
  let videoOn;
  let connecting = false;
  if (self) {
    videoOn = Boolean(videoTrack()) && media.camOn;
  } else {
    const r = remote.get(id);
    const wantsVideo = p.cameraOn !== false && p.publishing !== false;
    videoOn = wantsVideo && Boolean(r?.video) && tile.videoReady;
    connecting = wantsVideo && p.publishing === true && state.mediaReady && !state.mediaBanner && !tile.videoReady;
  }
  tile.root.dataset.video = videoOn ? "on" : "off";
  toggleData(tile.root, "status", connecting);
}

function toggleData(node, key, on) {
  if (on) node.dataset[key] = "";
  else delete node.dataset[key];
}

/** Sizes the tiles to fill the stage: the column count that gives the largest tiles wins. */
function layoutGrid() {
  const count = tiles.size;
  if (!count) return;
  const width = ui.stage.clientWidth;
  const height = ui.stage.clientHeight;
  if (!width || !height) return;
  const narrow = width < 640;
  const gap = count > 1 ? (narrow ? 8 : 12) : 0;
  // Tiles stay between 16:9 and 9:16 on a phone (it fills its screen, as phone apps do) or
  // 5:4 on wider screens (11:10 for two side by side).
  const minAspect = narrow ? 9 / 16 : count === 2 ? 1.1 : 1.25;
  const maxAspect = 16 / 9;
  let best = { w: 0, h: 0, cols: 1 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    let w = (width - gap * (cols - 1)) / cols;
    let h = (height - gap * (rows - 1)) / rows;
    if (w / h > maxAspect) w = h * maxAspect;
    else if (w / h < minAspect) h = w / minAspect;
    if (w * h > best.w * best.h) best = { w, h, cols };
  }
  const minWidth = narrow ? 140 : 180;
  if (best.w < minWidth) {
    best = { w: minWidth, h: minWidth / 1.4, cols: Math.max(1, Math.floor((width + gap) / (minWidth + gap))) };
  }
  ui.grid.style.setProperty("--tile-w", `${Math.floor(best.w)}px`);
  ui.grid.style.setProperty("--tile-h", `${Math.floor(best.h)}px`);
  ui.grid.style.setProperty("--gap", `${gap}px`);
  ui.grid.dataset.count = String(count);
  // Rows hold exactly `cols` tiles (the last one fewer, centred).
  ui.grid.style.maxWidth = `${Math.ceil(best.cols * best.w + (best.cols - 1) * gap) + 1}px`;
}

// ---- controls --------------------------------------------------------------------------------

function renderControls() {
  renderToggle(ui.micBtn, "mic");
  renderToggle(ui.camBtn, "cam");
  renderPreview();
  ui.qualitySelect.value = state.quality;
  ui.qualityLabel.textContent = t(`meeting.q.${state.quality}`);
  ui.endBtn.hidden = !isHost() || state.phase !== "room";
}

function toggleMic() {
  if (!audioTrack()) {
    if (!media.starting) retryDevice("audio");
    return;
  }
  if (state.mutedByHost) {
    toast(t("error.MUTED_BY_HOST"), { icon: "i-mic-off" });
    return;
  }
  setMic(!media.micOn);
}

function toggleCamera() {
  if (!videoTrack()) {
    if (!media.starting) retryDevice("video");
    return;
  }
  setCamera(!media.camOn);
}

function setMic(on) {
  media.micOn = on;
  applyTrackStates();
  renderControls();
  if (state.phase === "room") {
    updateTile(state.selfId);
    sendMediaState({ micOn: on });
  }
}

function setCamera(on) {
  media.camOn = on;
  applyTrackStates();
  renderControls();
  if (state.phase === "room") {
    updateTile(state.selfId);
    sendMediaState({ cameraOn: on });
  }
}

async function sendMediaState(change) {
  if (!rtc.pub && DEMO === null) return; // told with `publish` when it comes
  try {
    const answer = await request("media", change);
    if (answer.self?.id) onParticipantUpdated({ participant: answer.self });
  } catch (err) {
    if (err.code === "MUTED_BY_HOST") {
      applyMutedByHost(true, true);
    } else if (err.code !== "NOT_CONNECTED") {
      toast(err.message, { tone: "error" });
    }
  }
}

async function requestQuality(quality) {
  const previous = state.quality;
  state.quality = quality;
  renderControls();
  try {
    const answer = await request("quality", { quality });
    state.quality = answer.quality ?? quality;
    state.qualityLayer = answer.layer ?? null;
  } catch (err) {
    // Without media (yet) the choice is kept and sent again once media is back.
    if (err.code !== "MEDIA_UNAVAILABLE") {
      state.quality = previous;
      toast(err.message, { tone: "error" });
    }
  }
  renderControls();
}

function inviteLink() {
  return `${location.origin}/meetings/${encodeURIComponent(state.meetingId)}`;
}

async function copyInvite() {
  const link = inviteLink();
  let copied = false;
  try {
    await navigator.clipboard.writeText(link);
    copied = true;
  } catch {
    const field = el("textarea");
    field.value = link;
    field.style.position = "fixed";
    field.style.opacity = "0";
    document.body.append(field);
    field.select();
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    field.remove();
  }
  const copiedText = t(state.meeting?.pinRequired ? "meeting.copiedPin" : "meeting.copied");
  if (copied) toast(copiedText, { icon: "i-check" });
  else toast(link, { icon: "i-link", sub: t("meeting.copyThis"), timeout: 10_000 });
}

function confirmAction(title, text, okLabel) {
  ui.confirmTitle.textContent = title;
  ui.confirmText.textContent = text;
  ui.confirmOk.textContent = okLabel;
  ui.confirm.returnValue = "";
  ui.confirm.showModal();
  return new Promise((resolve) => {
    ui.confirm.addEventListener("close", () => resolve(ui.confirm.returnValue === "ok"), { once: true });
  });
}

async function endForEveryone() {
  const ok = await confirmAction(t("meeting.endConfirm"), t("meeting.endConfirmText"), t("meeting.endConfirmOk"));
  if (!ok || state.phase !== "room") return;
  try {
    await request("end-meeting", {});
    // `meeting-closed` normally follows; don't wait for it forever.
    setTimeout(() => state.phase === "room" && endRoom("ended"), 1500);
  } catch (err) {
    toast(err.message, { tone: "error" });
  }
}

async function leaveMeeting() {
  if (state.leaving || state.phase !== "room") return;
  state.leaving = true;
  try {
    await request("leave", {}, 3000);
  } catch {
    /* leaving anyway: the server also notices the socket going */
  }
  endRoom("left");
}

const ENDINGS = {
  left: ["i-leave", "meeting.end.left", null, true],
  kicked: ["i-user-x", "meeting.end.kicked", "meeting.end.kickedText", false],
  ended: ["i-calendar-x", "meeting.end.ended", "meeting.end.endedText", false],
  deleted: ["i-calendar-x", "meeting.end.deleted", "meeting.end.deletedText", false],
  disconnected: ["i-wifi-off", "meeting.end.disconnected", "meeting.end.disconnectedText", true],
};

function endRoom(reason) {
  if (state.phase === "ended") return;
  const wasHostEnding = reason === "ended" && isHost();
  state.endReason = reason;
  state.reconnecting = false;
  stopStatsLoop();
  closePeerConnections();
  disconnectSocket();
  stopLocalMedia();
  for (const id of [...tiles.keys()]) removeTile(id);
  remote.clear();
  closePanel();
  if (ui.confirm.open) ui.confirm.close();
  ui.toasts.replaceChildren();
  setMediaBanner(null);
  state.ending = { reason, wasHostEnding };
  renderEnded();
  setPhase("ended");
}

function renderEnded() {
  const { reason, wasHostEnding } = state.ending;
  const [iconName, title, text, canRejoin] = ENDINGS[reason] ?? ENDINGS.disconnected;
  ui.endedIcon.setAttribute("href", `#${iconName}`);
  ui.endedTitle.textContent = t(wasHostEnding ? "meeting.end.byYou" : title);
  ui.endedText.textContent = text ? t(text) : state.meeting ? t("meeting.end.wereIn", { title: state.meeting.title }) : "";
  ui.rejoinBtn.hidden = !canRejoin;
  document.title = `${ui.endedTitle.textContent} · Parley`;
}

// ---- side panels -----------------------------------------------------------------------------

function openPanel(name) {
  state.panel = name;
  ui.panel.hidden = false;
  setText(ui.panelTitle, `meeting.panel.${name}`);
  for (const [key, section] of Object.entries(ui.panels)) section.hidden = key !== name;
  for (const button of ui.panelButtons) button.setAttribute("aria-pressed", String(button.dataset.panel === name));
  if (name === "chat" || name === "assistant") {
    state.unread[name] = 0;
    renderBadges();
    const feed = name === "chat" ? ui.chatFeed : ui.assistantFeed;
    feed.scrollTop = feed.scrollHeight;
    (name === "chat" ? ui.chatInput : ui.assistantInput).focus({ preventScroll: true });
  }
  layoutGrid();
}

function closePanel() {
  if (!state.panel) return;
  state.panel = null;
  ui.panel.hidden = true;
  for (const button of ui.panelButtons) button.setAttribute("aria-pressed", "false");
  layoutGrid();
}

function togglePanel(name) {
  if (state.panel === name) closePanel();
  else openPanel(name);
}

function renderBadges() {
  for (const [name, badge] of [
    ["chat", ui.chatBadge],
    ["assistant", ui.assistantBadge],
  ]) {
    const count = state.unread[name];
    badge.hidden = count === 0;
    badge.textContent = count > 9 ? "9+" : String(count);
  }
}

function nearBottom(feed) {
  return feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
}

// ---- chat ------------------------------------------------------------------------------------

function addChat(message) {
  if (!message || state.chat.some((m) => m.id !== undefined && m.id === message.id)) return;
  state.chat.push(message);
  state.chat.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  renderChat();
  if (message.senderId !== state.selfId && state.panel !== "chat") {
    state.unread.chat += 1;
    renderBadges();
    const reply = { label: t("meeting.reply"), run: () => openPanel("chat") };
    toast(message.senderName, { icon: "i-chat", sub: message.text, action: reply });
  }
}

function renderChat() {
  const stick = nearBottom(ui.chatFeed);
  const nodes = [];
  let previous = null;
  for (const m of state.chat) {
    const node = el("div", "msg");
    node.dataset.testid = "chat-message";
    if (m.senderId === state.selfId) node.classList.add("mine");
    const sameSender =
      previous &&
      previous.senderId === m.senderId &&
      new Date(m.createdAt) - new Date(previous.createdAt) < 5 * 60_000;
    if (sameSender) {
      node.classList.add("cont");
    } else {
      const head = el("div", "msg-head");
      head.append(el("span", "sender", m.senderId === state.selfId ? t("common.you") : m.senderName));
      const time = el("time", "", timeOf(m.createdAt));
      time.dateTime = m.createdAt ?? "";
      head.append(time);
      node.append(head);
    }
    node.append(el("div", "msg-text", m.text));
    nodes.push(node);
    previous = m;
  }
  ui.chatFeed.replaceChildren(...(nodes.length ? nodes : [ui.chatEmpty]));
  if (stick || state.chat.at(-1)?.senderId === state.selfId) ui.chatFeed.scrollTop = ui.chatFeed.scrollHeight;
}

async function sendChat(event) {
  event?.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || ui.chatSend.dataset.busy) return;
  ui.chatSend.dataset.busy = "1";
  ui.chatSend.disabled = true;
  try {
    const answer = await request("chat", { text });
    ui.chatInput.value = "";
    autoGrow(ui.chatInput);
    if (answer.message) addChat(answer.message);
  } catch (err) {
    toast(err.message, { tone: "error" });
  } finally {
    delete ui.chatSend.dataset.busy;
    ui.chatSend.disabled = !ui.chatInput.value.trim();
  }
}

// ---- assistant -------------------------------------------------------------------------------

const exchangeNodes = new Map(); // exchange object → {root, answer, error}

function findExchange(id) {
  return (
    state.assistant.find((x) => x.id === id) ??
    // A chunk can come before `ask`'s answer named the exchange.
    state.assistant.find((x) => x.id === null && x.askerId === state.selfId && x.status === "pending")
  );
}

function renderAssistant() {
  const stick = nearBottom(ui.assistantFeed);
  exchangeNodes.clear();
  const nodes = state.assistant.map((x) => {
    const root = el("div", "qa");
    root.dataset.testid = "assistant-exchange";
    const q = el("div", "qa-q");
    const asker = x.askerId === state.selfId ? t("common.you") : x.askerName;
    const qMeta = el("span", "qa-meta", `${asker} · ${timeOf(x.askedAt)}`);
    q.append(qMeta, el("div", "bubble", x.question));
    const a = el("div", "qa-a");
    const aMeta = el("span", "qa-meta");
    aMeta.append(icon("i-sparkle"), t("meeting.assistantName"));
    const answer = el("div", "bubble");
    const error = el("div", "qa-error");
    a.append(aMeta, answer, error);
    root.append(q, a);
    const view = { root, answer, error };
    exchangeNodes.set(x, view);
    paintExchange(x, view);
    return root;
  });
  ui.assistantFeed.replaceChildren(...(nodes.length ? nodes : [ui.assistantEmpty]));
  if (stick) ui.assistantFeed.scrollTop = ui.assistantFeed.scrollHeight;
  updateAskButton();
}

function paintExchange(x, view = exchangeNodes.get(x)) {
  if (!view) return;
  view.root.dataset.status = x.status;
  if (x.id) view.root.dataset.exchangeId = x.id;
  view.answer.textContent = x.answer || (x.status === "pending" ? t("meeting.thinking") : x.status === "failed" ? "—" : "");
  view.error.hidden = !(x.status === "failed" && x.error);
  if (!view.error.hidden) view.error.replaceChildren(icon("i-alert"), x.error);
}

function assistantBusy() {
  return state.assistant.some(
    (x) => x.askerId === state.selfId && (x.status === "pending" || x.status === "streaming"),
  );
}

function updateAskButton() {
  ui.assistantSend.disabled = !ui.assistantInput.value.trim() || assistantBusy();
}

async function ask(event) {
  event?.preventDefault();
  const question = ui.assistantInput.value.trim();
  if (!question || assistantBusy()) return;
  const self = selfParticipant();
  const exchange = normalizeExchange({
    id: null,
    askerId: state.selfId,
    askerName: self?.displayName ?? "",
    question,
    status: "pending",
    askedAt: new Date().toISOString(),
  });
  state.assistant.push(exchange);
  ui.assistantInput.value = "";
  autoGrow(ui.assistantInput);
  renderAssistant();
  ui.assistantFeed.scrollTop = ui.assistantFeed.scrollHeight;
  try {
    const answer = await request("ask", { question });
    exchange.id ??= answer.exchangeId;
    paintExchange(exchange);
  } catch (err) {
    exchange.status = "failed";
    exchange.error = err.message;
    paintExchange(exchange);
    updateAskButton();
  }
}

function onAssistantChunk({ exchangeId, text }) {
  const x = findExchange(exchangeId);
  if (!x || typeof text !== "string") return;
  x.id ??= exchangeId;
  x.status = "streaming";
  x.answer += text;
  const stick = nearBottom(ui.assistantFeed);
  paintExchange(x);
  if (stick) ui.assistantFeed.scrollTop = ui.assistantFeed.scrollHeight;
}

function onAssistantDone({ exchangeId, answer }) {
  const x = findExchange(exchangeId);
  if (!x) return;
  x.id ??= exchangeId;
  x.status = "answered";
  if (typeof answer === "string") x.answer = answer;
  x.answeredAt = new Date().toISOString();
  paintExchange(x);
  updateAskButton();
  if (state.panel !== "assistant") {
    state.unread.assistant += 1;
    renderBadges();
    const show = { label: t("meeting.show"), run: () => openPanel("assistant") };
    toast(t("meeting.answered"), { icon: "i-sparkle", action: show });
  }
  if (nearBottom(ui.assistantFeed)) ui.assistantFeed.scrollTop = ui.assistantFeed.scrollHeight;
}

function onAssistantError({ exchangeId, message, answer }) {
  const x = findExchange(exchangeId);
  if (!x) return;
  x.id ??= exchangeId;
  x.status = "failed";
  x.error = message || t("meeting.assistantFailed");
  if (typeof answer === "string") x.answer = answer;
  paintExchange(x);
  updateAskButton();
  if (state.panel !== "assistant") toast(x.error, { tone: "error", icon: "i-sparkle" });
}

// ---- participants panel ----------------------------------------------------------------------

function renderPeople() {
  const people = orderedParticipants();
  ui.peopleCount.textContent = t("meeting.inMeeting", { n: people.length });
  ui.peopleBadge.textContent = String(people.length);
  const host = isHost();
  ui.peopleList.replaceChildren(
    ...people.map((p) => {
      const self = p.id === state.selfId;
      const row = el("li", "person");
      row.dataset.testid = "participant";
      row.dataset.participantId = p.id;
      const avatar = el("span", "mini-avatar", initials(p.displayName));
      avatar.style.setProperty("--hue", String(hueOf(p.id)));
      avatar.setAttribute("aria-hidden", "true");
      const main = el("div", "p-main");
      main.append(el("span", "p-name", self ? t("meeting.selfName", { name: p.displayName }) : p.displayName));
      const sub = [p.role === "host" ? t("meeting.meetingHost") : null, p.mutedByHost ? t("meeting.mutedByHostShort") : null];
      const subText = sub.filter(Boolean).join(" · ");
      if (subText) main.append(el("span", "p-sub", subText));
      const icons = el("div", "p-icons");
      const micOn = self ? Boolean(audioTrack()) && media.micOn && !state.mutedByHost : p.micOn !== false;
      const camOn = self ? Boolean(videoTrack()) && media.camOn : p.cameraOn !== false;
      // Only what is off is shown, as in the tiles.
      if (!camOn) icons.append(icon("i-cam-off"));
      if (!micOn) icons.append(icon("i-mic-off"));
      icons.setAttribute("role", "img");
      const mic = t(micOn ? "meeting.micOnState" : "meeting.micOffState");
      icons.setAttribute("aria-label", t("meeting.devices", { mic, cam: t(camOn ? "meeting.camOnState" : "meeting.camOffState") }));
      row.append(avatar, main, icons);
      if (host && !self) {
        const actions = el("div", "p-actions");
        const mute = el("button", "icon-btn");
        mute.type = "button";
        mute.dataset.testid = "mute-participant";
        const muteLabel = t(p.mutedByHost ? "meeting.letUnmute" : "meeting.mute", { name: p.displayName });
        mute.setAttribute("aria-label", muteLabel);
        mute.title = muteLabel;
        mute.append(icon(p.mutedByHost ? "i-mic" : "i-mic-off"));
        mute.addEventListener("click", () => muteParticipant(p.id));
        const kick = el("button", "icon-btn kick");
        kick.type = "button";
        kick.dataset.testid = "kick-participant";
        kick.setAttribute("aria-label", t("meeting.remove", { name: p.displayName }));
        kick.title = kick.getAttribute("aria-label");
        kick.append(icon("i-user-x"));
        kick.addEventListener("click", () => kickParticipant(p.id));
        actions.append(mute, kick);
        row.append(actions);
      }
      return row;
    }),
  );
}

async function muteParticipant(id) {
  const p = state.participants.get(id);
  if (!p) return;
  try {
    await request("mute", { participantId: id, mute: !p.mutedByHost });
    toast(t(p.mutedByHost ? "meeting.canUnmute" : "meeting.isMuted", { name: p.displayName }), { icon: "i-mic-off" });
  } catch (err) {
    toast(err.message, { tone: "error" });
  }
}

async function kickParticipant(id) {
  const p = state.participants.get(id);
  if (!p) return;
  const name = p.displayName;
  const ok = await confirmAction(t("meeting.removeConfirm", { name }), t("meeting.removeConfirmText"), t("meeting.removeOk"));
  if (!ok) return;
  try {
    await request("kick", { participantId: id });
  } catch (err) {
    toast(err.message, { tone: "error" });
  }
}

// ---- toasts and banner -----------------------------------------------------------------------

function toast(text, { tone = "info", icon: iconName, sub, action, timeout = 4500, wrap = false } = {}) {
  if (state.phase !== "room") return;
  const node = el("div", wrap ? "toast wrap" : "toast");
  node.dataset.tone = tone;
  node.dataset.testid = "toast";
  node.setAttribute("role", tone === "error" ? "alert" : "status");
  node.append(icon(iconName ?? (tone === "error" ? "i-alert" : "i-check")));
  const body = el("div", "t-text");
  if (sub) {
    body.append(el("strong", "", text), el("span", "t-sub", sub));
  } else {
    body.append(text);
  }
  node.append(body);
  const remove = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  };
  if (action) {
    const button = el("button", "", action.label);
    button.type = "button";
    button.addEventListener("click", () => {
      action.run();
      remove();
    });
    node.append(button);
  }
  ui.toasts.prepend(node);
  while (ui.toasts.children.length > 4) ui.toasts.lastElementChild.remove();
  if (timeout) setTimeout(remove, timeout);
}

/** The banner over the stage, from a message key (null hides it). */
function setMediaBanner(key) {
  state.mediaBannerKey = key;
  state.mediaBanner = key ? t(key) : null;
  ui.mediaBanner.hidden = !key;
  if (key) setText(ui.mediaBannerText, key);
  for (const id of tiles.keys()) updateTile(id);
}

// ---- WebRTC: publisher -----------------------------------------------------------------------

function newConnection(target) {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers ?? [] });
  const conn = { pc, target, ready: false, pendingLocal: [], pendingRemote: [] };
  pc.addEventListener("icecandidate", (e) => sendCandidate(conn, e.candidate));
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed" && (rtc.pub === conn || rtc.sub === conn) && !state.mediaBanner) {
      toast(
        t(target === "publisher" ? "meeting.pubFailed" : "meeting.subFailed"),
        { tone: "error" },
      );
    }
  });
  return conn;
}

function sendCandidate(conn, candidate) {
  const payload = { target: conn.target, candidate: candidate ? candidate.toJSON() : null };
  if (!conn.ready) {
    conn.pendingLocal.push(payload);
    return;
  }
  request("trickle", payload).catch(() => {});
}

function markReady(conn) {
  conn.ready = true;
  for (const payload of conn.pendingLocal.splice(0)) request("trickle", payload).catch(() => {});
  for (const candidate of conn.pendingRemote.splice(0)) addRemoteCandidate(conn.pc, candidate);
}

function addRemoteCandidate(pc, candidate) {
  (candidate ? pc.addIceCandidate(candidate) : pc.addIceCandidate()).catch(() => {});
}

function onRemoteTrickle({ target, candidate }) {
  const conn = target === "publisher" ? rtc.pub : rtc.sub;
  if (!conn) {
    if (target === "subscriber") rtc.earlyRemote.push(candidate ?? null);
    return;
  }
  if (!conn.pc.remoteDescription) conn.pendingRemote.push(candidate ?? null);
  else addRemoteCandidate(conn.pc, candidate ?? null);
}

function simulcastEncodings() {
  const bitrate = state.meeting?.bitrate ?? 1_024_000;
  return [
    { rid: "h", maxBitrate: bitrate },
    { rid: "m", scaleResolutionDownBy: 2, maxBitrate: Math.max(Math.round(bitrate / 4), Math.min(bitrate, 60_000)) },
    { rid: "l", scaleResolutionDownBy: 4, maxBitrate: Math.max(Math.round(bitrate / 16), Math.min(bitrate, 30_000)) },
  ];
}

function addVideoTransceiver(pc, track) {
  try {
    return pc.addTransceiver(track, { direction: "sendonly", streams: [media.stream], sendEncodings: simulcastEncodings() });
  } catch {
    const bitrate = state.meeting?.bitrate ?? 1_024_000;
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [media.stream] });
    const params = transceiver.sender.getParameters();
    if (params.encodings?.length) {
      params.encodings[0].maxBitrate = bitrate;
      transceiver.sender.setParameters(params).catch(() => {});
    }
    return transceiver;
  }
}

/** Sends the camera and mic (whatever there is): the first `publish` joins the Janus room. */
async function publish() {
  if (state.phase !== "room" || !state.mediaReady || DEMO !== null) return;
  const audio = audioTrack();
  const video = videoTrack();
  if (!audio && !video) return; // receive only
  closePublisher();
  const conn = newConnection("publisher");
  rtc.pub = conn;
  const { pc } = conn;
  try {
    if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [media.stream] });
    if (video) addVideoTransceiver(pc, video);
    await negotiatePublisher(conn);
    state.publishBlocked = null;
  } catch (err) {
    if (rtc.pub !== conn) return;
    closePublisher();
    onPublishFailed(err);
  }
  renderControls();
}

async function negotiatePublisher(conn) {
  const { pc } = conn;
  await pc.setLocalDescription(await pc.createOffer());
  const answer = await request("publish", {
    jsep: { type: "offer", sdp: pc.localDescription.sdp },
    micOn: Boolean(audioTrack()) && media.micOn && !state.mutedByHost,
    cameraOn: Boolean(videoTrack()) && media.camOn,
  });
  if (rtc.pub !== conn) return;
  await pc.setRemoteDescription(answer.jsep);
  markReady(conn);
}

/** A device that came later: renegotiate the publisher (or publish for the first time). */
async function addTrackToPublisher(track) {
  if (DEMO !== null) return;
  const conn = rtc.pub;
  if (!conn) {
    await publish();
    return;
  }
  try {
    if (track.kind === "video") addVideoTransceiver(conn.pc, track);
    else conn.pc.addTransceiver(track, { direction: "sendonly", streams: [media.stream] });
    await negotiatePublisher(conn);
  } catch (err) {
    onPublishFailed(err);
  }
}

function onPublishFailed(err) {
  switch (err.code) {
    case "PUBLISHERS_FULL": {
      state.publishBlocked = "full";
      const max = state.meeting?.maxPublishers;
      toast(t("meeting.pubFull", { max }), { icon: "i-cam-off", timeout: 8000 });
      break;
    }
    case "MEDIA_UNAVAILABLE":
      state.mediaReady = false;
      setMediaBanner("meeting.waitingVideo");
      break;
    default:
      state.publishBlocked = "error";
      toast(t("meeting.sendFailed", { message: err.message }), { tone: "error" });
  }
  renderControls();
}

function closePublisher() {
  if (!rtc.pub) return;
  rtc.pub.pc.close();
  rtc.pub = null;
}

// ---- WebRTC: subscriber ----------------------------------------------------------------------

async function onSubscriberOffer({ jsep, streams }) {
  if (state.phase !== "room" || !jsep?.sdp) return;
  rtc.mids = new Map((streams ?? []).filter((s) => s?.mid != null).map((s) => [String(s.mid), s]));
  try {
    await answerSubscriberOffer(jsep);
  } catch (err) {
    if (state.phase !== "room") return;
    // An offer that does not fit the connection (a new subscription after Janus came back):
    // start over with a fresh connection.
    console.warn("parley: subscriber renegotiation failed, reconnecting", err);
    closeSubscriber();
    await answerSubscriberOffer(jsep);
  }
  syncRemoteMedia();
}

async function answerSubscriberOffer(jsep) {
  let conn = rtc.sub;
  if (!conn) {
    conn = newConnection("subscriber");
    conn.pc.addEventListener("track", () => queueMicrotask(syncRemoteMedia));
    conn.pendingRemote.push(...rtc.earlyRemote.splice(0));
    rtc.sub = conn;
  }
  const { pc } = conn;
  await pc.setRemoteDescription(jsep);
  for (const candidate of conn.pendingRemote.splice(0)) addRemoteCandidate(pc, candidate);
  await pc.setLocalDescription(await pc.createAnswer());
  await request("subscriber-answer", { jsep: { type: "answer", sdp: pc.localDescription.sdp } });
  if (rtc.sub === conn) markReady(conn);
}

function closeSubscriber() {
  if (!rtc.sub) return;
  rtc.sub.pc.close();
  rtc.sub = null;
}

function closePeerConnections() {
  closePublisher();
  closeSubscriber();
  rtc.mids = new Map();
  rtc.earlyRemote = [];
  rtc.lastEnergy.clear();
  for (const id of [...remote.keys()]) {
    remote.delete(id);
    const tile = tiles.get(id);
    if (tile) setTileStream(tile, null);
  }
  for (const id of tiles.keys()) updateTile(id);
}

/** Gives every participant's tile the tracks the subscriber connection receives for them. */
function syncRemoteMedia() {
  const found = new Map(); // participantId → {audio, video}
  if (rtc.sub) {
    for (const t of rtc.sub.pc.getTransceivers()) {
      const info = t.mid == null ? null : rtc.mids.get(String(t.mid));
      if (!info || info.active === false || !info.participantId) continue;
      if (t.currentDirection && !t.currentDirection.includes("recv")) continue;
      const track = t.receiver.track;
      if (!track || track.readyState === "ended") continue;
      const entry = found.get(info.participantId) ?? {};
      entry[track.kind] ??= track;
      found.set(info.participantId, entry);
    }
  }
  for (const id of new Set([...remote.keys(), ...found.keys()])) {
    const next = found.get(id) ?? {};
    const current = remote.get(id);
    if (current && current.audio === (next.audio ?? null) && current.video === (next.video ?? null)) continue;
    if (!next.audio && !next.video) {
      remote.delete(id);
      const tile = tiles.get(id);
      if (tile) setTileStream(tile, null);
    } else {
      const entry = { audio: next.audio ?? null, video: next.video ?? null };
      entry.stream = new MediaStream([entry.audio, entry.video].filter(Boolean));
      remote.set(id, entry);
      const tile = tiles.get(id);
      if (tile) setTileStream(tile, entry.stream);
    }
    updateTile(id);
  }
}

// ---- media server down / back ----------------------------------------------------------------

function onMediaInterrupted() {
  state.mediaReady = false;
  closePeerConnections();
  setMediaBanner("meeting.reconnectingMedia");
}

function onMediaRestored() {
  state.mediaReady = true;
  closePeerConnections();
  setMediaBanner(null);
  toast(t("meeting.mediaBack"), { icon: "i-check" });
  publish();
  if (state.quality !== "auto") requestQuality(state.quality);
}

// ---- stats: speaking and the test hook -------------------------------------------------------

function startStatsLoop() {
  stopStatsLoop();
  rtc.statsTimer = setInterval(pollLevels, STATS_POLL_MS);
}

function stopStatsLoop() {
  clearInterval(rtc.statsTimer);
  rtc.statsTimer = null;
}

/** The subscriber's inbound-rtp reports, each with the participant it belongs to. */
async function inboundReports() {
  const conn = rtc.sub;
  if (!conn) return [];
  const byTrack = new Map();
  for (const t of conn.pc.getTransceivers()) {
    if (t.receiver.track && t.mid != null) byTrack.set(t.receiver.track.id, String(t.mid));
  }
  const report = await conn.pc.getStats();
  const out = [];
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    const mid = s.mid != null ? String(s.mid) : byTrack.get(s.trackIdentifier);
    const info = mid == null ? null : rtc.mids.get(mid);
    if (!info || info.active === false || !info.participantId) return;
    out.push({ mid, participantId: info.participantId, s });
  });
  return out;
}

async function pollLevels() {
  if (state.phase !== "room") return;
  const now = performance.now();
  if (DEMO !== null) demoSpeaking(now);
  try {
    for (const { mid, participantId, s } of await inboundReports()) {
      if (s.kind !== "audio" || s.totalAudioEnergy == null) continue;
      const last = rtc.lastEnergy.get(mid);
      rtc.lastEnergy.set(mid, { energy: s.totalAudioEnergy, duration: s.totalSamplesDuration ?? 0 });
      if (!last) continue;
      const dt = (s.totalSamplesDuration ?? 0) - last.duration;
      if (dt <= 0) continue;
      const rms = Math.sqrt(Math.max(0, s.totalAudioEnergy - last.energy) / dt);
      if (rms > SPEAKING_LEVEL) rtc.spokeAt.set(participantId, now);
    }
  } catch {
    /* the connection closed meanwhile */
  }
  for (const [id, tile] of tiles) {
    const p = state.participants.get(id);
    const micOn = id === state.selfId ? media.micOn && !state.mutedByHost : p?.micOn !== false;
    toggleData(tile.root, "speaking", micOn && now - (rtc.spokeAt.get(id) ?? -1e9) < SPEAKING_HOLD_MS);
  }
}

async function stats() {
  const out = {};
  try {
    for (const { participantId, s } of await inboundReports()) {
      const entry = (out[participantId] ??= {
        framesDecoded: 0,
        frameWidth: 0,
        frameHeight: 0,
        audioEnergy: 0,
        packetsReceived: 0,
      });
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

function snapshot() {
  const phase =
    state.phase === "room" ? "room" : state.phase === "ended" || state.phase === "notice" ? "ended" : "lobby";
  const view = {
    phase,
    endReason: state.endReason,
    meetingId: state.meetingId,
    meeting: state.meeting,
    self: selfParticipant(),
    participants: state.phase === "room" ? orderedParticipants() : [],
    micOn: Boolean(audioTrack()) && media.micOn && !state.mutedByHost,
    cameraOn: Boolean(videoTrack()) && media.camOn,
    mutedByHost: state.mutedByHost,
    publishing: Boolean(rtc.pub?.ready),
    quality: state.quality,
    qualityLayer: state.qualityLayer,
    chat: state.chat,
    assistant: state.assistant,
    mediaBanner: state.mediaBanner,
    mediaReady: state.mediaReady,
    panel: state.panel,
    lobby: {
      pinRequired: Boolean(state.meeting?.pinRequired),
      isHost: Boolean(state.hostToken),
      error: state.lobbyError,
    },
  };
  return JSON.parse(JSON.stringify(view));
}

window.parleyMeeting = { state: snapshot, stats };

// ---- small UI behaviours ---------------------------------------------------------------------

function autoGrow(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 140)}px`;
}

function bindComposer(textarea, button, submit, update) {
  textarea.addEventListener("input", () => {
    if (textarea.value.length > MAX_TEXT) textarea.value = textarea.value.slice(0, MAX_TEXT);
    autoGrow(textarea);
    update();
  });
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
}

function onKey(e) {
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey) {
    const key = e.key.toLowerCase();
    if (key === "d" || key === "e") {
      if (!["lobby", "room"].includes(state.phase)) return;
      e.preventDefault();
      if (key === "d") toggleMic();
      else toggleCamera();
    }
    return;
  }
  if (e.key === "Escape" && state.panel && !ui.confirm.open) closePanel();
}

function tickClock() {
  ui.roomClock.textContent = clockTime();
}

function bindUi() {
  ui.joinForm.addEventListener("submit", onJoinSubmit);
  ui.nameInput.addEventListener("input", () => {
    updateJoinButton();
    renderPreview();
  });
  ui.pinInput.addEventListener("input", () => {
    ui.pinInput.value = ui.pinInput.value.replace(/[^0-9]/g, "");
    ui.pinError.hidden = true;
    ui.pinInput.removeAttribute("aria-invalid");
  });
  ui.lobbyMic.addEventListener("click", toggleMic);
  ui.lobbyCam.addEventListener("click", toggleCamera);
  ui.micBtn.addEventListener("click", toggleMic);
  ui.camBtn.addEventListener("click", toggleCamera);
  ui.cameraQuality.addEventListener("change", () => {
    media.cameraQuality = ui.cameraQuality.value;
    store.set(KEYS.quality, media.cameraQuality);
    videoTrack()?.applyConstraints(videoConstraints()).catch(() => {});
  });
  ui.qualitySelect.addEventListener("change", () => requestQuality(ui.qualitySelect.value));
  ui.leaveBtn.addEventListener("click", leaveMeeting);
  ui.endBtn.addEventListener("click", endForEveryone);
  ui.inviteBtn.addEventListener("click", copyInvite);
  ui.peopleInvite.addEventListener("click", copyInvite);
  ui.roomTopInvite.addEventListener("click", copyInvite);
  ui.aloneCopy.addEventListener("click", copyInvite);
  ui.aloneClose.addEventListener("click", () => {
    state.aloneDismissed = true;
    ui.aloneCard.hidden = true;
  });
  for (const button of ui.panelButtons) button.addEventListener("click", () => togglePanel(button.dataset.panel));
  ui.panelClose.addEventListener("click", closePanel);
  ui.chatForm.addEventListener("submit", sendChat);
  ui.assistantForm.addEventListener("submit", ask);
  bindComposer(ui.chatInput, ui.chatSend, sendChat, () => {
    ui.chatSend.disabled = !ui.chatInput.value.trim() || Boolean(ui.chatSend.dataset.busy);
  });
  bindComposer(ui.assistantInput, ui.assistantSend, ask, updateAskButton);
  ui.rejoinBtn.addEventListener("click", () => location.reload());
  ui.noticeRetry.addEventListener("click", () => location.reload());
  addEventListener("keydown", onKey);
  new ResizeObserver(() => layoutGrid()).observe(ui.stage);
  addEventListener("pagehide", () => {
    if (state.phase === "room") rtc.socket?.emit("leave", {});
  });
  tickClock();
  setInterval(tickClock, 10_000);
}

// ---- demo (?demo=N): the room with canned people, no server ----------------------------------

const DEMO_NAMES = [
  "Mina Park", "Jonas Weber", "Aisha Khan", "Diego Alvarez", "Yuki Tanaka", "Sofia Rossi",
  "Noah Smith", "Lena Novak", "Omar Haddad", "Chloé Martin", "Ravi Iyer", "Emma Larsen",
  "Kwame Mensah", "Hana Kim", "Lucas Silva", "Maya Cohen", "Ivan Petrov", "Zara Ahmed",
  "Felix Braun", "Ana Costa", "Sam Lee", "Nora Berg", "Ali Rahimi", "Eva Horvat",
];

function demoMeeting() {
  return {
    id: state.meetingId,
    title: "Design review · Q3 roadmap",
    pinRequired: false,
    maxPublishers: 25,
    videoCodec: "vp8",
    bitrate: 1_024_000,
    hostName: "Mina Park",
    status: "active",
    createdAt: new Date().toISOString(),
    participantCount: DEMO,
    mediaReady: true,
  };
}

function demoCanvasStream(hue) {
  const canvas = el("canvas");
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext("2d");
  const start = performance.now();
  const draw = () => {
    const t = (performance.now() - start) / 1000;
    const grad = g.createLinearGradient(0, 0, 640, 360);
    grad.addColorStop(0, `hsl(${hue} 35% 30%)`);
    grad.addColorStop(1, `hsl(${(hue + 40) % 360} 40% 16%)`);
    g.fillStyle = grad;
    g.fillRect(0, 0, 640, 360);
    g.fillStyle = `hsl(${hue} 30% 75% / 0.9)`;
    const x = 320 + Math.sin(t * 0.8) * 12;
    g.beginPath();
    g.arc(x, 150, 62, 0, Math.PI * 2);
    g.fill();
    g.beginPath();
    g.ellipse(x, 360, 140, 110, 0, Math.PI, 0);
    g.fill();
  };
  draw();
  setInterval(draw, 100);
  return canvas.captureStream(10);
}

function demoRequest(event, payload) {
  const self = selfParticipant();
  const now = new Date().toISOString();
  switch (event) {
    case "join":
      return demoJoinAnswer(payload);
    case "chat": {
      const message = { id: Date.now(), senderId: state.selfId, senderName: self.displayName, text: payload.text, createdAt: now };
      return Promise.resolve({ ok: true, message });
    }
    case "ask": {
      const exchangeId = `demo-${Date.now()}`;
      const words =
        "So far the team agreed to ship the new onboarding in Q3, with Jonas owning the API work. Open question: whether the mobile redesign waits for user research (Aisha will report back on Friday).".split(
          " ",
        );
      let i = 0;
      const timer = setInterval(() => {
        if (i < words.length) onAssistantChunk({ exchangeId, text: (i ? " " : "") + words[i++] });
        else {
          clearInterval(timer);
          onAssistantDone({ exchangeId, answer: words.join(" "), firstChunkMs: 420 });
        }
      }, 70);
      return Promise.resolve({ ok: true, exchangeId });
    }
    case "quality":
      return Promise.resolve({ ok: true, quality: payload.quality, layer: payload.quality === "auto" ? "h" : payload.quality[0] });
    case "media":
      return Promise.resolve({ ok: true, self: { ...self, ...payload } });
    case "mute": {
      const p = state.participants.get(payload.participantId);
      setTimeout(() => onParticipantUpdated({ participant: { ...p, mutedByHost: payload.mute, micOn: payload.mute ? false : p.micOn } }), 100);
      return Promise.resolve({ ok: true });
    }
    case "kick":
      setTimeout(() => onParticipantLeft({ participantId: payload.participantId, reason: "kicked" }), 100);
      return Promise.resolve({ ok: true });
    case "end-meeting":
      setTimeout(() => endRoom("ended"), 100);
      return Promise.resolve({ ok: true });
    default:
      return Promise.resolve({ ok: true });
  }
}

function demoJoinAnswer(payload) {
  const t0 = Date.now() - 40 * 60_000;
  const self = {
    id: "me",
    displayName: payload.displayName,
    role: "host",
    joinedAt: new Date(t0).toISOString(),
    publishing: true,
    micOn: media.micOn,
    cameraOn: media.camOn,
    mutedByHost: false,
  };
  const others = DEMO_NAMES.slice(0, DEMO).map((name, i) => ({
    id: `p${i}`,
    displayName: name,
    role: "guest",
    joinedAt: new Date(t0 + (i + 1) * 60_000).toISOString(),
    publishing: true,
    micOn: i % 3 !== 1,
    cameraOn: i % 4 !== 2,
    mutedByHost: i === 4,
  }));
  const chatLines = [
    [0, "Morning! Slides are in the shared folder."],
    [1, "Thanks. Can we start with the onboarding numbers?"],
    [1, "I have a hard stop at 11."],
    [-1, "Sure, let's keep it to 30 minutes."],
    [2, "Research sessions are booked for Thursday 🎉"],
  ];
  const chat = chatLines
    .filter(([who]) => who < DEMO)
    .map(([who, text], i) => {
      const sender = who === -1 ? self : others[who];
      return { id: i + 1, senderId: sender.id, senderName: sender.displayName, text, createdAt: new Date(t0 + (i + 2) * 90_000).toISOString() };
    });
  const assistant = [
    {
      id: "x1",
      askerId: "me",
      askerName: self.displayName,
      question: "What did we decide last week about the beta?",
      answer: "You agreed to open the beta to 500 users on the 14th and to review crash reports daily.",
      status: "answered",
      askedAt: new Date(t0 + 10 * 60_000).toISOString(),
      answeredAt: new Date(t0 + 10 * 60_000 + 2000).toISOString(),
    },
  ];
  return Promise.resolve({
    ok: true,
    self,
    meeting: state.meeting,
    participants: [self, ...others],
    chat,
    assistant,
    iceServers: [],
    mediaReady: true,
  });
}

let demoSpeaker = null;
function demoSpeaking(now) {
  if (!demoSpeaker || now > demoSpeaker.until) {
    const ids = [...state.participants.values()].filter((p) => p.micOn && p.id !== state.selfId).map((p) => p.id);
    demoSpeaker = { id: ids[Math.floor(Math.random() * ids.length)], until: now + 2500 };
  }
  if (demoSpeaker.id) rtc.spokeAt.set(demoSpeaker.id, now);
}

/** Gives the canned participants their canvas "cameras" (after `enterRoom` cleared `remote`). */
function demoAttachStreams() {
  for (const p of state.participants.values()) {
    if (p.id === state.selfId) continue;
    const stream = demoCanvasStream(hueOf(p.id));
    remote.set(p.id, { audio: null, video: stream.getVideoTracks()[0], stream });
    const tile = tiles.get(p.id);
    if (tile) setTileStream(tile, stream);
    updateTile(p.id);
  }
}

// ---- start -----------------------------------------------------------------------------------

/** Says everything on screen again in the language just chosen. */
function onLanguage() {
  if (state.phase === "notice") renderNotice();
  if (state.phase === "ended") renderEnded();
  if ((state.phase === "lobby" || state.phase === "joining") && state.meeting) {
    renderLobby();
    if (state.lobbyErrorSource) showJoinError(state.lobbyErrorSource);
  }
  if (state.phase === "room") {
    document.title = `${state.meeting?.title ?? t("meeting.room")} · Parley`;
    for (const id of tiles.keys()) updateTile(id);
    renderChat();
    renderAssistant();
    renderPeople();
  }
  translate(ui.chatEmpty); // empty states are out of the page while there are messages
  translate(ui.assistantEmpty);
  renderControls();
  tickClock();
}

async function init() {
  bindUi();
  onLanguageChange(onLanguage);
  const match = location.pathname.match(/^\/meetings\/([^/]+)\/?$/);
  state.meetingId = match ? decodeURIComponent(match[1]) : params.get("id");
  if (DEMO !== null) state.meetingId ??= "demo";
  if (!state.meetingId) {
    showNotice("not-found");
    return;
  }
  state.hostToken = store.get(KEYS.hostToken(state.meetingId));
  media.cameraQuality = CAMERA_SIZES[store.get(KEYS.quality)] ? store.get(KEYS.quality) : "720";
  ui.cameraQuality.value = media.cameraQuality;
  ui.nameInput.value = store.get(KEYS.name) ?? "";
  if (DEMO !== null) {
    state.meeting = demoMeeting();
    state.hostToken = "demo";
  } else if (!(await loadMeeting())) {
    return;
  }
  setPhase("lobby");
  renderLobby();
  renderPreview();
  if (!ui.nameInput.value && matchMedia("(pointer: fine)").matches) ui.nameInput.focus();
  await startLocalMedia();
  if (DEMO !== null && params.has("autojoin")) {
    ui.nameInput.value ||= "Alex Morgan";
    updateJoinButton();
    ui.joinBtn.click();
  }
}

init();
