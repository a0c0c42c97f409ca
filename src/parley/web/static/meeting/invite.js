// The invite link: copied to the clipboard by any of the room's invite buttons (or shown to copy
// by hand when the browser refuses).

import { $, el } from "/dom.js";
import { t } from "/i18n.js";

const BUTTONS = ["invite-btn", "people-invite", "room-top-invite", "alone-copy"];

export function bindInviteButtons(room, toast) {
  for (const id of BUTTONS) $(id).addEventListener("click", () => copyInvite(room, toast));
}

async function copyInvite(room, toast) {
  const link = room.inviteLink();
  const copied = await copyText(link);
  if (copied) toast(t(room.meeting?.pinRequired ? "meeting.copiedPin" : "meeting.copied"), { icon: "i-check" });
  else toast(link, { icon: "i-link", sub: t("meeting.copyThis"), timeout: 10_000 });
}

/** The clipboard API, else the old `execCommand("copy")` on a hidden text box. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const field = el("textarea");
    field.value = text;
    field.style.position = "fixed";
    field.style.opacity = "0";
    document.body.append(field);
    field.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    field.remove();
    return copied;
  }
}
