// Parley meeting page (`/meetings/{id}`): lobby (camera/mic check, name, PIN) → room (video grid,
// chat, AI assistant, participants) → end screen. Plain ES modules, no build step: this entry
// builds the page's parts (`/meeting/*.js`, one concern each, each keeping its own state) and
// wires them together; nothing else is shared. The browser talks only to Parley: REST for the
// meeting (`/api/v1/meetings/{id}`, through lib/api.js) and the `/meetings` Socket.IO namespace
// (docs/meetings-protocol.md) for everything live; media goes to Janus over two
// RTCPeerConnections: a publisher (own camera + mic, simulcast h/m/l) and a subscriber (every
// other participant, one multistream connection renegotiated as people come and go).
//
// The parts: phase (the explicit phase machine) · screens (sections, notice, end screen) ·
// socket · room (the meeting and who is in it) · devices (camera, mic, meter) · publisher ·
// subscriber · tiles · speaking · panels · chat · assistant · people · invite · controls ·
// lobby · session (join, rejoin, server events, leave, end) · notify (toasts, confirm) ·
// media-status (media server up/down banner) · hooks (test hooks) · demo (`?demo=N`, loaded
// only when asked for: the room with canned people and answers, without a server).
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
//   back-home. Test hooks: meeting/hooks.js.
// Local storage: parley.displayName, parley.cameraQuality ("720" | "360" | "180"),
//   parley.hostToken.<meetingId> (set by the home page; sent as `hostToken` in `join`).
// Shortcuts: Ctrl/⌘+D microphone, Ctrl/⌘+E camera, Esc closes the side panel.

import { $, store } from "/dom.js";
import { onLanguageChange } from "/i18n.js";
import { api, ApiError } from "/lib/api.js";
import { createAssistant } from "/meeting/assistant.js";
import { createChat } from "/meeting/chat.js";
import { createControls } from "/meeting/controls.js";
import { createDevices } from "/meeting/devices.js";
import { exposeTestHooks } from "/meeting/hooks.js";
import { bindInviteButtons } from "/meeting/invite.js";
import { createLobby } from "/meeting/lobby.js";
import { createMediaStatus } from "/meeting/media-status.js";
import { createConfirm, createToasts } from "/meeting/notify.js";
import { createPanels } from "/meeting/panels.js";
import { createPeople } from "/meeting/people.js";
import { createPhase } from "/meeting/phase.js";
import { createPublisher } from "/meeting/publisher.js";
import { Room } from "/meeting/room.js";
import { createScreens } from "/meeting/screens.js";
import { createSession } from "/meeting/session.js";
import { createSocket } from "/meeting/socket.js";
import { createSpeaking } from "/meeting/speaking.js";
import { createSubscriber } from "/meeting/subscriber.js";
import { createTiles } from "/meeting/tiles.js";
import { clockTime } from "/meeting/ui.js";

const API = "/api/v1/meetings";
const params = new URLSearchParams(location.search);

/** The page's parts, built once and wired; `demoModule` is meeting/demo.js when asked for.
 * (Callbacks name parts built after them: they run only once the page is running.) */
function buildPage(demoModule) {
  const screens = createScreens();
  const phase = createPhase((next) => screens.show(next));
  const toasts = createToasts(() => phase.inRoom());
  const { toast } = toasts;
  const confirm = createConfirm();
  const room = new Room();
  const mediaStatus = createMediaStatus(() => tiles.updateAll());
  const devices = createDevices({
    onChange: () => {
      lobby.renderPreview();
      controls.render();
    },
    onLevel: (level) => speaking.hearSelf(level),
    keep: () => !phase.is("notice", "ended"),
  });
  const socket = createSocket({
    hold: () => phase.is("joining", "rejoining"),
    fake: demoModule && { request: (event, payload) => demo.request(event, payload) },
  });
  const { request } = socket;
  const publisher = createPublisher({ phase, room, devices, mediaStatus, request, toast, onChange: () => controls.render(), live: !demoModule });
  const subscriber = createSubscriber({ phase, room, mediaStatus, request, toast, onStreams: (id, stream) => tiles.setStream(id, stream) });
  const tiles = createTiles({ room, devices, remoteOf: subscriber.remoteOf, mediaStatus, toast });
  const demo = demoModule?.createDemo({ value: params.get("demo"), room, devices, subscriber, dispatch: socket.dispatch }) ?? null;
  const speaking = createSpeaking({ phase, room, devices, subscriber, tiles, extra: demo?.speaking });
  const panels = createPanels({ onLayout: () => tiles.layout() });
  const chat = createChat({ room, request, panels, toast });
  const assistant = createAssistant({ room, request, panels, toast });
  const people = createPeople({ room, devices, request, toast, confirm });
  const controls = createControls({ phase, room, devices, publisher, tiles, request, toast, onSelf: (p) => session.onSelf(p) });
  const session = createSession({
    phase,
    room,
    socket,
    devices,
    publisher,
    subscriber,
    speaking,
    tiles,
    controls,
    chat,
    assistant,
    people,
    panels,
    mediaStatus,
    screens,
    toasts,
    confirm,
    demo,
  });
  /** A notice instead of the meeting (not found, ended, unreachable): the devices stop. */
  const notice = (kind, detail) => {
    screens.notice(kind, detail);
    devices.stop();
    phase.go("notice");
  };
  const lobby = createLobby({ phase, room, devices, join: session.join, notice });
  bindInviteButtons(room, toast);
  // What the page's start, language switch, shortcuts and test hooks use.
  return {
    phase,
    screens,
    room,
    devices,
    publisher,
    subscriber,
    tiles,
    controls,
    chat,
    assistant,
    people,
    panels,
    confirm,
    mediaStatus,
    session,
    lobby,
    demo,
    notice,
  };
}

/** Looks the meeting up; false (and a notice shown) when there is none to join. */
async function loadMeeting(page) {
  try {
    page.room.meeting = (await api("GET", `${API}/${encodeURIComponent(page.room.id)}`))?.meeting ?? null;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 404 || err.status === 422) page.notice("not-found");
    else page.notice("unreachable", serverMessage(err));
    return false;
  }
  if (!page.room.meeting) {
    page.notice("unreachable");
    return false;
  }
  if (page.room.meeting.status === "ended") {
    page.notice("ended");
    return false;
  }
  return true;
}

/** The server's own words about a failure, if it said any (not when no answer came, nor for an
 * answer that was not Parley's: lib/api.js then says `HTTP <status>`). */
function serverMessage(err) {
  return err.status === 0 || err.message === `HTTP ${err.status}` ? undefined : err.message;
}

/** Keyboard shortcuts: Ctrl/⌘+D microphone, Ctrl/⌘+E camera, Esc closes the side panel. */
function bindKeys({ phase, controls, panels, confirm }) {
  addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey) {
      const key = e.key.toLowerCase();
      if (key !== "d" && key !== "e") return;
      if (!phase.is("lobby") && !phase.inRoom()) return;
      e.preventDefault();
      if (key === "d") controls.toggleMic();
      else controls.toggleCamera();
      return;
    }
    if (e.key === "Escape" && panels.current && !confirm.open) panels.close();
  });
}

function startClock() {
  const tick = () => ($("room-clock").textContent = clockTime());
  tick();
  setInterval(tick, 10_000);
  return tick;
}

/** Says everything on screen again in the language just chosen. */
function relabel(page, tickClock) {
  const { phase } = page;
  page.screens.relabel(phase.current);
  page.lobby.relabel();
  if (phase.inRoom()) {
    page.session.relabel();
    page.tiles.updateAll();
    page.chat.render();
    page.assistant.render();
    page.people.render();
  }
  page.chat.relabelEmpty(); // empty states are out of the page while there are messages
  page.assistant.relabelEmpty();
  page.lobby.renderPreview();
  page.controls.render();
  tickClock();
}

async function init() {
  const demoModule = params.has("demo") ? await import("/meeting/demo.js") : null;
  const page = buildPage(demoModule);
  exposeTestHooks(page);
  bindKeys(page);
  const tickClock = startClock();
  onLanguageChange(() => relabel(page, tickClock));
  const { room, lobby, phase } = page;
  const match = location.pathname.match(/^\/meetings\/([^/]+)\/?$/);
  room.id = match ? decodeURIComponent(match[1]) : params.get("id");
  if (demoModule) room.id ??= "demo";
  if (!room.id) {
    page.notice("not-found");
    return;
  }
  room.hostToken = store.get(`parley.hostToken.${room.id}`);
  if (page.demo) {
    room.meeting = page.demo.meeting();
    room.hostToken = "demo";
  } else if (!(await loadMeeting(page))) {
    return;
  }
  phase.go("lobby");
  lobby.render();
  lobby.renderPreview();
  lobby.focusName();
  if (await page.devices.start()) page.session.devicesOpened();
  if (page.demo && params.has("autojoin")) lobby.autojoin("Alex Morgan");
}

init();
