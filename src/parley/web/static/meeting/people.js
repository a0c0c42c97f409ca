// The people panel: everyone in the meeting with what is off (camera, microphone), and for the
// host, a mute (or "let unmute") and a remove button on each other person.

import { $, el, icon } from "/dom.js";
import { t } from "/i18n.js";
import { hueOf, initials } from "/meeting/ui.js";

export function createPeople({ room, devices, request, toast, confirm }) {
  const count = $("people-count");
  const badge = $("people-badge");
  const list = $("people-list");

  function render() {
    const people = room.ordered();
    count.textContent = t("meeting.inMeeting", { n: people.length });
    badge.textContent = String(people.length);
    const host = room.isHost();
    list.replaceChildren(...people.map((p) => row(p, host && p.id !== room.selfId)));
  }

  function row(p, withActions) {
    const self = p.id === room.selfId;
    const node = el("li", "person");
    node.dataset.testid = "participant";
    node.dataset.participantId = p.id;
    const avatar = el("span", "mini-avatar", initials(p.displayName));
    avatar.style.setProperty("--hue", String(hueOf(p.id)));
    avatar.setAttribute("aria-hidden", "true");
    const main = el("div", "p-main");
    main.append(el("span", "p-name", self ? t("meeting.selfName", { name: p.displayName }) : p.displayName));
    const sub = [p.role === "host" ? t("meeting.meetingHost") : null, p.mutedByHost ? t("meeting.mutedByHostShort") : null];
    const subText = sub.filter(Boolean).join(" · ");
    if (subText) main.append(el("span", "p-sub", subText));
    node.append(avatar, main, deviceIcons(p, self));
    if (withActions) node.append(actions(p));
    return node;
  }

  /** Only what is off is shown, as in the tiles; the label says both. */
  function deviceIcons(p, self) {
    const icons = el("div", "p-icons");
    const micOn = self ? devices.micLive : p.micOn !== false;
    const camOn = self ? devices.cameraLive : p.cameraOn !== false;
    if (!camOn) icons.append(icon("i-cam-off"));
    if (!micOn) icons.append(icon("i-mic-off"));
    icons.setAttribute("role", "img");
    const mic = t(micOn ? "meeting.micOnState" : "meeting.micOffState");
    icons.setAttribute("aria-label", t("meeting.devices", { mic, cam: t(camOn ? "meeting.camOnState" : "meeting.camOffState") }));
    return icons;
  }

  function actions(p) {
    const box = el("div", "p-actions");
    const muteLabel = t(p.mutedByHost ? "meeting.letUnmute" : "meeting.mute", { name: p.displayName });
    const mute = actionButton("icon-btn", "mute-participant", muteLabel, p.mutedByHost ? "i-mic" : "i-mic-off");
    mute.addEventListener("click", () => muteParticipant(p.id));
    const kick = actionButton("icon-btn kick", "kick-participant", t("meeting.remove", { name: p.displayName }), "i-user-x");
    kick.addEventListener("click", () => kickParticipant(p.id));
    box.append(mute, kick);
    return box;
  }

  async function muteParticipant(id) {
    const p = room.person(id);
    if (!p) return;
    try {
      await request("mute", { participantId: id, mute: !p.mutedByHost });
      toast(t(p.mutedByHost ? "meeting.canUnmute" : "meeting.isMuted", { name: p.displayName }), { icon: "i-mic-off" });
    } catch (err) {
      toast(err.message, { tone: "error" });
    }
  }

  async function kickParticipant(id) {
    const p = room.person(id);
    if (!p) return;
    const name = p.displayName;
    const ok = await confirm.ask(t("meeting.removeConfirm", { name }), t("meeting.removeConfirmText"), t("meeting.removeOk"));
    if (!ok) return;
    try {
      await request("kick", { participantId: id });
    } catch (err) {
      toast(err.message, { tone: "error" });
    }
  }

  return Object.freeze({ render });
}

function actionButton(className, testid, label, iconName) {
  const button = el("button", className);
  button.type = "button";
  button.dataset.testid = testid;
  button.setAttribute("aria-label", label);
  button.title = label;
  button.append(icon(iconName));
  return button;
}
