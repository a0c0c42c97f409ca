// Small helpers of the meeting page's views: avatars (initials, a colour per person), times,
// data flags, scrolled feeds and the text boxes of chat and the assistant.

import { language } from "/i18n.js";

export const MAX_TEXT = 2000;

/** One or two letters for an avatar: the first and last words' first letters. */
export function initials(name) {
  const words = String(name ?? "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0] ?? "";
  const second = words.length > 1 ? ([...words[words.length - 1]][0] ?? "") : "";
  return (first + second).toUpperCase();
}

/** A colour for a name or id (FNV-1a, spread by the golden ratio so close ids differ). */
export function hueOf(text) {
  let hash = 0x811c9dc5;
  for (const ch of String(text ?? "")) hash = Math.imul(hash ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return Math.floor(((hash * 0.618033988749895) % 1) * 360);
}

/** The time of day, as the page's language writes it. */
export function clockTime(date = new Date()) {
  return date.toLocaleTimeString(language(), { hour: "numeric", minute: "2-digit" });
}

/** The time of day of an ISO timestamp ("" when it is not one). */
export function timeOf(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : clockTime(date);
}

/** A `data-*` flag (present or not) that the style sheet reads. */
export function toggleData(node, key, on) {
  if (on) node.dataset[key] = "";
  else delete node.dataset[key];
}

/** Whether a feed is scrolled to (near) its end, so a new message should keep it there. */
export function nearBottom(feed) {
  return feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
}

/** Grows a text box with its text, up to a few lines. */
export function autoGrow(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 140)}px`;
}

/** A text box that sends on Enter (Shift+Enter for a new line), grows and stays under
 * `MAX_TEXT`; `update` runs after each change (to enable its send button). */
export function bindComposer(textarea, submit, update) {
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
