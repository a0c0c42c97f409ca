// Your microphone and camera switches (in the lobby and in the room), the received-quality choice
// and the host's "end for everyone" button: each button's state and label, what a click does,
// and telling the server (`media`, `quality`).

import { $, el } from "/dom.js";
import { t } from "/i18n.js";
import { mediaErrorText } from "/meeting/devices.js";

/**
 * @param {object} deps
 * @param {(participant: object) => void} deps.onSelf the server described you anew (after `media`)
 */
export function createControls({ phase, room, devices, publisher, tiles, request, toast, onSelf }) {
  const ui = {
    lobbyMic: $("lobby-mic"),
    lobbyCam: $("lobby-cam"),
    micBtn: $("mic-btn"),
    camBtn: $("cam-btn"),
    qualitySelect: $("quality-select"),
    qualityLabel: $("quality-label"),
    endBtn: $("end-btn"),
  };
  let quality = "auto"; // the receive quality asked for
  let qualityLayer = null; // the simulcast layer the server picked

  for (const button of [ui.lobbyMic, ui.micBtn]) button.addEventListener("click", toggleMic);
  for (const button of [ui.lobbyCam, ui.camBtn]) button.addEventListener("click", toggleCamera);
  ui.qualitySelect.addEventListener("change", () => requestQuality(ui.qualitySelect.value));

  function render() {
    renderToggle(ui.micBtn, "mic");
    renderToggle(ui.camBtn, "cam");
    renderToggle(ui.lobbyMic, "mic");
    renderToggle(ui.lobbyCam, "cam");
    ui.qualitySelect.value = quality;
    ui.qualityLabel.textContent = t(`meeting.q.${quality}`);
    ui.endBtn.hidden = !room.isHost() || !phase.inRoom();
  }

  /** A mic or camera button: on/off, a "!" when the device failed, disabled when muted by host. */
  function renderToggle(button, kind) {
    const isMic = kind === "mic";
    const track = isMic ? devices.audioTrack() : devices.videoTrack();
    const on = Boolean(track) && (isMic ? devices.micOn && !devices.mutedByHost : devices.camOn);
    const full = publisher.blocked === "full" && phase.inRoom();
    button.setAttribute("aria-pressed", String(on));
    button.querySelector(".warn-dot")?.remove();
    let label;
    if (!track && !devices.starting) {
      const error = isMic ? devices.audioError : devices.videoError;
      const problem = error ?? { device: isMic ? "Microphone" : "Camera", reason: "missing" };
      label = t("meeting.retryDevice", { error: mediaErrorText(problem) });
      const dot = el("span", "warn-dot", "!");
      dot.setAttribute("aria-hidden", "true");
      button.append(dot);
    } else if (isMic && devices.mutedByHost) {
      label = t("meeting.hostMutedYou");
    } else if (full) {
      label = t("meeting.slotsFull");
    } else {
      label = t(`meeting.${isMic ? "mic" : "cam"}${on ? "Off" : "On"}`);
    }
    button.setAttribute("aria-label", label);
    button.title = label;
    button.disabled = devices.starting || (isMic && devices.mutedByHost) || full;
  }

  function toggleMic() {
    if (!devices.audioTrack()) {
      if (!devices.starting) retry("audio");
      return;
    }
    if (devices.mutedByHost) {
      toast(t("error.MUTED_BY_HOST"), { icon: "i-mic-off" });
      return;
    }
    devices.setMic(!devices.micOn);
    told({ micOn: devices.micOn });
  }

  function toggleCamera() {
    if (!devices.videoTrack()) {
      if (!devices.starting) retry("video");
      return;
    }
    devices.setCamera(!devices.camOn);
    told({ cameraOn: devices.camOn });
  }

  /** A switch changed: your tile shows it, and the others hear of it. */
  function told(change) {
    if (!phase.inRoom()) return;
    tiles.update(room.selfId);
    sendMediaState(change);
  }

  /** A device that failed or was missing, asked for again (clicking its button does this). */
  async function retry(kind) {
    const { track, problem } = await devices.retry(kind);
    if (problem) {
      toast(mediaErrorText(problem), { tone: "error" });
      return;
    }
    if (!phase.inRoom()) return;
    tiles.refreshSelf();
    await publisher.addTrack(track);
    sendMediaState({ micOn: devices.micOn, cameraOn: devices.camOn });
  }

  async function sendMediaState(change) {
    if (!publisher.active && publisher.live) return; // told with `publish` when it comes
    try {
      const answer = await request("media", change);
      if (answer.self?.id) onSelf(answer.self);
    } catch (err) {
      if (err.code === "MUTED_BY_HOST") applyMutedByHost(true, true);
      else if (err.code !== "NOT_CONNECTED") toast(err.message, { tone: "error" });
    }
  }

  /** The host muted you (or let you unmute): the mic follows, and you are told when `announce`. */
  function applyMutedByHost(muted, announce) {
    if (muted === devices.mutedByHost) return;
    devices.holdMic(muted);
    if (announce) toast(t(muted ? "meeting.hostMutedMic" : "meeting.hostUnmuted"), { icon: muted ? "i-mic-off" : "i-mic" });
    render();
    tiles.update(room.selfId);
  }

  async function requestQuality(next) {
    const previous = quality;
    quality = next;
    render();
    try {
      const answer = await request("quality", { quality: next });
      quality = answer.quality ?? next;
      qualityLayer = answer.layer ?? null;
    } catch (err) {
      // Without media (yet) the choice is kept and sent again once media is back.
      if (err.code !== "MEDIA_UNAVAILABLE") {
        quality = previous;
        toast(err.message, { tone: "error" });
      }
    }
    render();
  }

  return Object.freeze({
    render,
    toggleMic,
    toggleCamera,
    applyMutedByHost,
    /** Asks again for the quality chosen before (media came back, or the room was entered again). */
    resendQuality() {
      if (quality !== "auto") requestQuality(quality);
    },
    get quality() {
      return quality;
    },
    get qualityLayer() {
      return qualityLayer;
    },
  });
}
