// The room's chat: its history (from the join answer), messages as they come (`chat-message`),
// sending one (`chat`), rendered as text only, grouped by sender.

import { $, el } from "/dom.js";
import { t, translate } from "/i18n.js";
import { autoGrow, bindComposer, nearBottom, timeOf } from "/meeting/ui.js";

const byId = (a, b) => (a.id ?? 0) - (b.id ?? 0);

export function createChat({ room, request, panels, toast }) {
  const feed = $("chat-feed");
  const empty = $("chat-empty");
  const input = $("chat-input");
  const send = $("chat-send");
  let messages = []; // {id, senderId, senderName, text, createdAt}, by id

  $("chat-form").addEventListener("submit", submit);
  bindComposer(input, submit, () => {
    send.disabled = !input.value.trim() || Boolean(send.dataset.busy);
  });

  /** A new message (once: a message already shown is ignored). */
  function add(message) {
    if (!message || messages.some((m) => m.id !== undefined && m.id === message.id)) return;
    messages.push(message);
    messages.sort(byId);
    render();
    if (message.senderId !== room.selfId && !panels.isOpen("chat")) {
      panels.markUnread("chat");
      const reply = { label: t("meeting.reply"), run: () => panels.open("chat") };
      toast(message.senderName, { icon: "i-chat", sub: message.text, action: reply });
    }
  }

  function render() {
    const stick = nearBottom(feed);
    const nodes = messages.map((m, i) => messageNode(m, messages[i - 1] ?? null));
    feed.replaceChildren(...(nodes.length ? nodes : [empty]));
    if (stick || messages.at(-1)?.senderId === room.selfId) feed.scrollTop = feed.scrollHeight;
  }

  /** A message; its sender and time unless the one before is the same sender's, shortly before. */
  function messageNode(m, previous) {
    const node = el("div", "msg");
    node.dataset.testid = "chat-message";
    if (m.senderId === room.selfId) node.classList.add("mine");
    const sameSender =
      previous && previous.senderId === m.senderId && new Date(m.createdAt) - new Date(previous.createdAt) < 5 * 60_000;
    if (sameSender) {
      node.classList.add("cont");
    } else {
      const head = el("div", "msg-head");
      head.append(el("span", "sender", m.senderId === room.selfId ? t("common.you") : m.senderName));
      const time = el("time", "", timeOf(m.createdAt));
      time.dateTime = m.createdAt ?? "";
      head.append(time);
      node.append(head);
    }
    node.append(el("div", "msg-text", m.text));
    return node;
  }

  async function submit(event) {
    event?.preventDefault();
    const text = input.value.trim();
    if (!text || send.dataset.busy) return;
    send.dataset.busy = "1";
    send.disabled = true;
    try {
      const answer = await request("chat", { text });
      input.value = "";
      autoGrow(input);
      if (answer.message) add(answer.message);
    } catch (err) {
      toast(err.message, { tone: "error" });
    } finally {
      delete send.dataset.busy;
      send.disabled = !input.value.trim();
    }
  }

  return Object.freeze({
    add,
    render,
    /** The history of the join answer (drawn by the next `render`). */
    reset(history) {
      messages = [...(history ?? [])].sort(byId);
    },
    get messages() {
      return messages;
    },
    /** The empty state's words, in the language just chosen (it is out of the page while there are messages). */
    relabelEmpty() {
      translate(empty);
    },
  });
}
