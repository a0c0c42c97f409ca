// The room's side panel (people, chat or the assistant, one at a time) and the unread counts on
// the chat and assistant buttons.

import { $ } from "/dom.js";
import { setText } from "/i18n.js";

/** @param {{onLayout: () => void}} deps onLayout: the stage changed size (the grid lays out again) */
export function createPanels({ onLayout }) {
  const panel = $("panel");
  const title = $("panel-title");
  const sections = { chat: $("panel-chat"), assistant: $("panel-assistant"), people: $("panel-people") };
  const buttons = [$("people-btn"), $("chat-btn"), $("assistant-btn")];
  const badges = { chat: $("chat-badge"), assistant: $("assistant-badge") };
  // The feed scrolled to its end and the text box focused when the panel opens.
  const composers = {
    chat: { feed: $("chat-feed"), input: $("chat-input") },
    assistant: { feed: $("assistant-feed"), input: $("assistant-input") },
  };
  const unread = { chat: 0, assistant: 0 };
  let current = null;

  for (const button of buttons) button.addEventListener("click", () => toggle(button.dataset.panel));
  $("panel-close").addEventListener("click", close);

  function open(name) {
    current = name;
    panel.hidden = false;
    setText(title, `meeting.panel.${name}`);
    for (const [key, section] of Object.entries(sections)) section.hidden = key !== name;
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.panel === name));
    const composer = composers[name];
    if (composer) {
      unread[name] = 0;
      renderBadges();
      composer.feed.scrollTop = composer.feed.scrollHeight;
      composer.input.focus({ preventScroll: true });
    }
    onLayout();
  }

  function close() {
    if (!current) return;
    current = null;
    panel.hidden = true;
    for (const button of buttons) button.setAttribute("aria-pressed", "false");
    onLayout();
  }

  function toggle(name) {
    if (current === name) close();
    else open(name);
  }

  function renderBadges() {
    for (const [name, badge] of Object.entries(badges)) {
      const count = unread[name];
      badge.hidden = count === 0;
      badge.textContent = count > 9 ? "9+" : String(count);
    }
  }

  return Object.freeze({
    open,
    close,
    /** The open panel: null | "chat" | "assistant" | "people". */
    get current() {
      return current;
    },
    isOpen: (name) => current === name,
    /** One more thing to read in the chat or the assistant. */
    markUnread(name) {
      unread[name] += 1;
      renderBadges();
    },
  });
}
