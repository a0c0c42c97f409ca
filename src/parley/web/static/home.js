// Parley Meetings home (`/`): create a meeting (you become its host) or join one by link or id.
// Plain ES module, no build step. Local storage (shared with meeting.js):
//   parley.hostToken.<meetingId>  the host token POST /api/v1/meetings answered (proves the host)
//   parley.hostedMeetings         [{id, title, createdAt}] the meetings created here (no tokens)
//   parley.displayName            the name last used

import { $, el, icon, store } from "/dom.js";
import { errorText, language, onLanguageChange, t } from "/i18n.js";
import { api, ApiError } from "/lib/api.js";

const API = "/api/v1/meetings";
const KEYS = {
  hostToken: (id) => `parley.hostToken.${id}`,
  hosted: "parley.hostedMeetings",
  name: "parley.displayName",
};
const MAX_RECENT = 6;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const ui = {
  clock: $("clock"),
  joinForm: $("join-form"),
  joinInput: $("join-input"),
  joinGo: $("join-go"),
  joinError: $("join-error"),
  createForm: $("create-form"),
  title: $("title"),
  hostName: $("host-name"),
  pin: $("pin"),
  maxPublishers: $("max-publishers"),
  bitrate: $("bitrate"),
  createError: $("create-error"),
  createBtn: $("create-btn"),
  recent: $("recent"),
  recentList: $("recent-list"),
};

/** The meetings this browser created (and may hold the host token of), newest first. */
function hostedMeetings() {
  try {
    const list = JSON.parse(store.get(KEYS.hosted) ?? "[]");
    return Array.isArray(list) ? list.filter((m) => m && typeof m.id === "string") : [];
  } catch {
    return [];
  }
}

class FormError extends Error {
  constructor(key) {
    super(key);
    this.key = key;
  }
}

/** A failed request in people's words: no answer is "can't reach Parley", our text for a known
 * code, else the server's message, or its bare status when the answer was not Parley's. */
function failure(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  if (err.status === 0) return t("error.NETWORK");
  if (err.code === `HTTP_${err.status}`) return t("home.errHttp", { status: err.status });
  return errorText(err.code, err.message);
}

// `message` may be a function of nothing, so that a language change can say it again.
const shownErrors = new Map(); // node → message
function showError(node, message) {
  shownErrors.set(node, message);
  const text = typeof message === "function" ? message() : message;
  node.replaceChildren(icon("i-alert"), el("span", "", text));
  node.hidden = false;
}

function setBusy(button, busy) {
  button.disabled = busy;
  button.classList.toggle("busy", busy);
  button.setAttribute("aria-busy", String(busy));
}

// ---- clock -----------------------------------------------------------------------------------

function tick() {
  const now = new Date();
  const time = now.toLocaleTimeString(language(), { hour: "numeric", minute: "2-digit" });
  const day = now.toLocaleDateString(language(), { weekday: "short", month: "short", day: "numeric" });
  ui.clock.textContent = `${time} · ${day}`;
}

// ---- create ----------------------------------------------------------------------------------

function readCreateForm() {
  const title = ui.title.value.trim();
  const hostName = ui.hostName.value.trim();
  const pin = ui.pin.value.trim();
  const maxPublishers = Number(ui.maxPublishers.value);
  const invalid = (input, key) => {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    throw new FormError(key);
  };
  for (const input of [ui.title, ui.pin, ui.maxPublishers]) input.removeAttribute("aria-invalid");
  if (!title) invalid(ui.title, "home.errTitle");
  if (pin && !/^[0-9]{4,12}$/.test(pin)) invalid(ui.pin, "home.errPin");
  if (!Number.isInteger(maxPublishers) || maxPublishers < 1 || maxPublishers > 25) {
    ui.maxPublishers.closest("details").open = true;
    invalid(ui.maxPublishers, "home.errMaxPublishers");
  }
  const body = { title, maxPublishers, bitrate: Number(ui.bitrate.value) };
  if (pin) body.pin = pin;
  if (hostName) body.hostName = hostName;
  return body;
}

async function onCreate(event) {
  event.preventDefault();
  ui.createError.hidden = true;
  let body;
  try {
    body = readCreateForm();
  } catch (err) {
    showError(ui.createError, () => t(err.key));
    return;
  }
  setBusy(ui.createBtn, true);
  try {
    const data = await api("POST", API, body);
    const meeting = data.meeting;
    store.set(KEYS.hostToken(meeting.id), data.hostToken);
    const hosted = hostedMeetings().filter((m) => m.id !== meeting.id);
    hosted.unshift({ id: meeting.id, title: meeting.title, createdAt: meeting.createdAt });
    store.set(KEYS.hosted, JSON.stringify(hosted.slice(0, 20)));
    if (body.hostName) store.set(KEYS.name, body.hostName);
    location.assign(`/meetings/${encodeURIComponent(meeting.id)}`);
  } catch (err) {
    showError(ui.createError, () => failure(err));
    setBusy(ui.createBtn, false);
  }
}

// ---- join ------------------------------------------------------------------------------------

/** The meeting id in a pasted link (`…/meetings/<id>`) or a bare id; null if there is none. */
function parseMeeting(text) {
  const value = text.trim();
  if (!value) return null;
  const inPath = value.match(/\/meetings\/([^/?#\s]+)/);
  if (inPath) return decodeURIComponent(inPath[1]);
  const uuid = value.match(UUID);
  if (uuid) return uuid[0];
  return /^[A-Za-z0-9_-]{4,64}$/.test(value) ? value : null;
}

async function onJoin(event) {
  event.preventDefault();
  ui.joinError.hidden = true;
  ui.joinInput.removeAttribute("aria-invalid");
  const id = parseMeeting(ui.joinInput.value);
  if (!id) {
    ui.joinInput.setAttribute("aria-invalid", "true");
    showError(ui.joinError, () => t("home.errLink"));
    return;
  }
  setBusy(ui.joinGo, true);
  try {
    const data = await api("GET", `${API}/${encodeURIComponent(id)}`);
    if (data.meeting.status === "ended") {
      showError(ui.joinError, () => t("home.errEnded", { title: data.meeting.title }));
      setBusy(ui.joinGo, false);
      return;
    }
    location.assign(`/meetings/${encodeURIComponent(data.meeting.id)}`);
  } catch (err) {
    const notFound = err.status === 404 || err.status === 422;
    ui.joinInput.setAttribute("aria-invalid", "true");
    showError(ui.joinError, notFound ? () => t("error.MEETING_NOT_FOUND") : () => failure(err));
    setBusy(ui.joinGo, false);
  }
}

// ---- meetings you host -----------------------------------------------------------------------

function relativeDay(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const days = Math.floor((Date.now() - date.getTime()) / 86_400_000);
  const time = date.toLocaleTimeString(language(), { hour: "numeric", minute: "2-digit" });
  if (days < 1 && new Date().getDate() === date.getDate()) return t("home.today", { time });
  if (days < 2) return t("home.yesterday", { time });
  return date.toLocaleDateString(language(), { month: "short", day: "numeric" });
}

let recentRows = [];

async function loadRecent() {
  const hosted = hostedMeetings()
    .filter((m) => store.get(KEYS.hostToken(m.id)))
    .slice(0, MAX_RECENT);
  if (!hosted.length) return;
  const rows = await Promise.all(
    hosted.map(async (m) => {
      try {
        const data = await api("GET", `${API}/${encodeURIComponent(m.id)}`);
        return { ...m, title: data.meeting.title, status: data.meeting.status, count: data.meeting.participantCount };
      } catch (err) {
        if (err.status === 404) {
          store.remove(KEYS.hostToken(m.id));
          return null;
        }
        return { ...m, status: "unknown" };
      }
    }),
  );
  recentRows = rows.filter(Boolean);
  renderRecent();
}

function renderRecent() {
  const items = recentRows.map((m) => {
    const link = el("a");
    link.href = `/meetings/${encodeURIComponent(m.id)}`;
    const badge = el("span", "r-icon");
    badge.append(icon("i-video"));
    const meta =
      m.status === "ended"
        ? t("home.recentEnded")
        : m.count
          ? t("home.recentCount", { n: m.count })
          : relativeDay(m.createdAt);
    link.append(badge, el("span", "r-title", m.title || t("home.untitled")), el("span", "r-meta", meta));
    const li = el("li");
    li.append(link);
    return li;
  });
  ui.recentList.replaceChildren(...items);
  ui.recent.hidden = items.length === 0;
}

// ---- start -----------------------------------------------------------------------------------

function init() {
  tick();
  setInterval(tick, 15_000);
  const name = store.get(KEYS.name);
  if (name) ui.hostName.value = name;
  ui.createForm.addEventListener("submit", onCreate);
  ui.joinForm.addEventListener("submit", onJoin);
  ui.joinInput.addEventListener("input", () => {
    ui.joinGo.disabled = !ui.joinInput.value.trim();
    ui.joinError.hidden = true;
    ui.joinInput.removeAttribute("aria-invalid");
  });
  ui.pin.addEventListener("input", () => {
    ui.pin.value = ui.pin.value.replace(/[^0-9]/g, "");
  });
  for (const input of [ui.title, ui.pin, ui.maxPublishers]) {
    input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  }
  loadRecent();
  onLanguageChange(() => {
    tick();
    renderRecent();
    for (const [node, message] of shownErrors) if (!node.hidden) showError(node, message);
  });
}

init();
