// The lobby: the meeting's title and who hosts it, your camera preview and name, the PIN when
// the meeting has one, and joining (with what went wrong: a wrong PIN, a pause after too many
// of them, a full meeting). It moves the page to `joining` and back; the session does the rest.

import { $, el, icon, store } from "/dom.js";
import { errorText, setText, t } from "/i18n.js";
import { mediaErrorText } from "/meeting/devices.js";
import { hueOf, initials } from "/meeting/ui.js";

const NAME_KEY = "parley.displayName";

/**
 * @param {object} deps
 * @param {(payload: object) => Promise<void>} deps.join enters the room with this `join` payload
 *   (throws a RequestError when refused)
 * @param {(kind: string) => void} deps.notice shows a notice ("not-found", "ended") instead
 */
export function createLobby({ phase, room, devices, join, notice }) {
  const ui = {
    preview: $("preview"),
    previewAvatar: $("preview-avatar"),
    previewInitials: $("preview-initials"),
    previewMsg: $("preview-msg"),
    previewName: $("preview-name"),
    cameraQuality: $("camera-quality"),
    title: $("lobby-title"),
    meta: $("lobby-meta"),
    nameInput: $("name-input"),
    pinField: $("pin-field"),
    pinInput: $("pin-input"),
    pinError: $("pin-error"),
    joinError: $("join-error"),
    joinBtn: $("join-btn"),
    joinLabel: $("join-label"),
  };
  let error = null; // the join error shown (text)
  let errorSource = null; // its text, or a function that says it again in another language
  let waitUntil = 0; // ms epoch: wrong PINs locked joining until then (TOO_MANY_ATTEMPTS)
  let waitTimer = null;

  ui.nameInput.value = store.get(NAME_KEY) ?? "";
  ui.cameraQuality.value = devices.quality;
  $("join-form").addEventListener("submit", submit);
  ui.nameInput.addEventListener("input", () => {
    updateJoinButton();
    renderPreview();
  });
  ui.pinInput.addEventListener("input", () => {
    ui.pinInput.value = ui.pinInput.value.replace(/[^0-9]/g, "");
    ui.pinError.hidden = true;
    ui.pinInput.removeAttribute("aria-invalid");
  });
  ui.cameraQuality.addEventListener("change", () => devices.setQuality(ui.cameraQuality.value));

  function render() {
    const meeting = room.meeting;
    ui.title.textContent = meeting.title;
    document.title = `${meeting.title} · Parley`;
    const meta = [];
    const isHost = Boolean(room.hostToken);
    if (isHost) meta.push(chip("chip accent", "i-host", t("meeting.youHost")));
    else if (meeting.hostName) meta.push(el("span", "", t("meeting.hostedBy", { name: meeting.hostName })));
    const count = meeting.participantCount ?? 0;
    meta.push(el("span", count ? "chip good" : "chip", t("meeting.here", { n: count })));
    if (meeting.pinRequired) meta.push(chip("chip", "i-lock", t("meeting.pinProtected")));
    ui.meta.replaceChildren(...meta);
    ui.pinField.hidden = !meeting.pinRequired || isHost;
    updateJoinButton();
  }

  /** The preview: your camera, else your initials; a message when the camera cannot show. */
  function renderPreview() {
    const name = ui.nameInput.value.trim();
    const cameraShown = Boolean(devices.videoTrack()) && devices.camOn;
    ui.preview.dataset.camera = cameraShown ? "on" : "off";
    if (name) ui.previewInitials.textContent = initials(name);
    else ui.previewInitials.replaceChildren(icon("i-person"));
    ui.previewAvatar.style.setProperty("--hue", String(name ? hueOf(name) : 240));
    ui.previewName.textContent = name;
    const message = previewMessage();
    ui.previewMsg.textContent = message;
    ui.previewMsg.hidden = !message || (!devices.starting && cameraShown);
    // With the camera off the avatar speaks for itself; the message stays for errors only.
    if (!devices.starting && !devices.videoError && !cameraShown) ui.previewMsg.hidden = true;
    ui.previewAvatar.hidden = !devices.starting && Boolean(devices.videoError);
  }

  function previewMessage() {
    if (devices.starting) return t("meeting.startingCamera");
    if (devices.videoTrack()) return devices.camOn ? "" : t("meeting.cameraOff");
    const { videoError, audioError } = devices;
    if (videoError?.reason === "blocked" && audioError?.reason === "blocked") return t("meeting.bothBlocked");
    if (videoError && audioError) return `${mediaErrorText(videoError)} ${mediaErrorText(audioError)}`;
    return videoError ? mediaErrorText(videoError) : t("meeting.cameraOff");
  }

  function updateJoinButton() {
    const busy = phase.is("joining");
    ui.joinBtn.disabled = busy || !ui.nameInput.value.trim() || Date.now() < waitUntil;
    ui.joinBtn.classList.toggle("busy", busy);
    const first = room.hostToken && !room.meeting?.participantCount;
    setText(ui.joinLabel, busy ? "meeting.joining" : first ? "meeting.start" : "meeting.joinNow");
    ui.nameInput.disabled = busy;
    ui.pinInput.disabled = busy;
  }

  // `message` may be a function of nothing, so that a language change can say it again.
  function showError(message) {
    errorSource = message;
    if (typeof message === "function") message = message();
    error = message;
    if (!message) {
      ui.joinError.hidden = true;
      return;
    }
    ui.joinError.replaceChildren(icon("i-alert"), el("span", "", message));
    ui.joinError.hidden = false;
  }

  async function submit(event) {
    event.preventDefault();
    if (!phase.is("lobby")) return;
    const displayName = ui.nameInput.value.trim();
    if (!displayName) {
      ui.nameInput.focus();
      return;
    }
    const pin = ui.pinInput.value.trim();
    if (!checkPin(pin)) return;
    store.set(NAME_KEY, displayName);
    showError(null);
    const payload = { meetingId: room.id, displayName };
    if (!ui.pinField.hidden && pin) payload.pin = pin;
    if (room.hostToken) payload.hostToken = room.hostToken;
    phase.go("joining");
    updateJoinButton();
    try {
      await join(payload);
    } catch (err) {
      phase.go("lobby");
      updateJoinButton();
      failed(err);
    }
  }

  /** Whether the PIN (when one is asked) looks like one; says so under it when not. */
  function checkPin(pin) {
    ui.pinError.hidden = true;
    ui.pinInput.removeAttribute("aria-invalid");
    if (ui.pinField.hidden || /^[0-9]{4,12}$/.test(pin)) return true;
    setText(ui.pinError, "meeting.pinNeeded");
    ui.pinError.hidden = false;
    ui.pinInput.setAttribute("aria-invalid", "true");
    ui.pinInput.focus();
    return false;
  }

  function failed(err) {
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
        notice("not-found");
        return;
      case "MEETING_ENDED":
        notice("ended");
        return;
      case "MEETING_FULL":
        showError(() => t("meeting.full"));
        return;
      default:
        showError(() => errorText(err.code, err.serverMessage ?? t("meeting.joinFailed")));
    }
  }

  /** Wrong PINs locked joining for `seconds` (the server refuses even the right PIN until then):
   * say so under the PIN with the time left, keep the join button off, and clear it at the end. */
  function waitBeforeJoining(seconds, key) {
    clearInterval(waitTimer);
    waitUntil = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((waitUntil - Date.now()) / 1000);
      if (left <= 0 || !phase.is("lobby")) {
        clearInterval(waitTimer);
        waitUntil = 0;
        if (phase.is("lobby")) setText(ui.pinError, "meeting.tryAgainNow");
        updateJoinButton();
        return;
      }
      setText(ui.pinError, key, { seconds: left });
      ui.pinError.hidden = false;
    };
    tick();
    waitTimer = setInterval(tick, 1000);
    updateJoinButton();
  }

  return Object.freeze({
    render,
    renderPreview,
    /** The join error shown (null when none). */
    get error() {
      return error;
    },
    /** Says the lobby again in the language just chosen. */
    relabel() {
      if (!phase.is("lobby", "joining") || !room.meeting) return;
      render();
      if (errorSource) showError(errorSource);
    },
    /** Puts the cursor in the name box when it is empty (on a device with a pointer). */
    focusName() {
      if (!ui.nameInput.value && matchMedia("(pointer: fine)").matches) ui.nameInput.focus();
    },
    /** Joins at once as `name` unless one was remembered (the demo's `autojoin`). */
    autojoin(name) {
      ui.nameInput.value ||= name;
      updateJoinButton();
      ui.joinBtn.click();
    },
  });
}

function chip(className, iconName, text) {
  const node = el("span", className);
  node.append(icon(iconName), text);
  return node;
}
