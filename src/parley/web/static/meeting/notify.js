// Telling people things in the room: toasts (a few at a time, newest first, some with a button)
// and the confirmation dialog that ending the meeting and removing someone ask through.

import { $, el, icon } from "/dom.js";

/**
 * Toasts, shown only while `enabled()` (in the room).
 * @returns {{toast: Function, clear: () => void}}
 */
export function createToasts(enabled) {
  const box = $("toasts");

  function toast(text, { tone = "info", icon: iconName, sub, action, timeout = 4500, wrap = false } = {}) {
    if (!enabled()) return;
    const node = el("div", wrap ? "toast wrap" : "toast");
    node.dataset.tone = tone;
    node.dataset.testid = "toast";
    node.setAttribute("role", tone === "error" ? "alert" : "status");
    node.append(icon(iconName ?? (tone === "error" ? "i-alert" : "i-check")));
    const body = el("div", "t-text");
    if (sub) body.append(el("strong", "", text), el("span", "t-sub", sub));
    else body.append(text);
    node.append(body);
    const remove = () => {
      node.classList.add("leaving");
      setTimeout(() => node.remove(), 200);
    };
    if (action) node.append(actionButton(action, remove));
    box.prepend(node);
    while (box.children.length > 4) box.lastElementChild.remove();
    if (timeout) setTimeout(remove, timeout);
  }

  return Object.freeze({ toast, clear: () => box.replaceChildren() });
}

function actionButton(action, remove) {
  const button = el("button", "", action.label);
  button.type = "button";
  button.addEventListener("click", () => {
    action.run();
    remove();
  });
  return button;
}

/** The confirmation dialog (`<dialog id="confirm">`). */
export function createConfirm() {
  const dialog = $("confirm");
  const title = $("confirm-title");
  const text = $("confirm-text");
  const ok = $("confirm-ok");
  return Object.freeze({
    /** Asks; resolves with whether the person confirmed. */
    ask(titleText, bodyText, okLabel) {
      title.textContent = titleText;
      text.textContent = bodyText;
      ok.textContent = okLabel;
      dialog.returnValue = "";
      dialog.showModal();
      return new Promise((resolve) => {
        dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      });
    },
    get open() {
      return dialog.open;
    },
    close() {
      if (dialog.open) dialog.close();
    },
  });
}
