// The meeting assistant panel: questions asked (`ask`) and answers streamed back to everyone
// (`assistant-chunk`, then `assistant-done` or `assistant-error`); one question of yours at a
// time.

import { $, el, icon } from "/dom.js";
import { t, translate } from "/i18n.js";
import { autoGrow, bindComposer, nearBottom, timeOf } from "/meeting/ui.js";

/** An exchange as the page keeps it (status "pending" | "streaming" | "answered" | "failed"). */
function normalizeExchange(x) {
  return {
    id: x.id ?? null,
    askerId: x.askerId ?? null,
    askerName: x.askerName ?? "",
    question: x.question ?? "",
    answer: x.answer ?? "",
    status: x.status ?? "answered",
    error: x.error ?? null,
    askedAt: x.askedAt ?? null,
    answeredAt: x.answeredAt ?? null,
  };
}

export function createAssistant({ room, request, panels, toast }) {
  const feed = $("assistant-feed");
  const empty = $("assistant-empty");
  const input = $("assistant-input");
  const send = $("assistant-send");
  let exchanges = [];
  const views = new Map(); // exchange → {root, answer, error}

  $("assistant-form").addEventListener("submit", ask);
  bindComposer(input, ask, updateAskButton);

  function find(id) {
    return (
      exchanges.find((x) => x.id === id) ??
      // A chunk can come before `ask`'s answer named the exchange.
      exchanges.find((x) => x.id === null && x.askerId === room.selfId && x.status === "pending")
    );
  }

  function render() {
    const stick = nearBottom(feed);
    views.clear();
    const nodes = exchanges.map((x) => {
      const view = exchangeView(x);
      views.set(x, view);
      paint(x, view);
      return view.root;
    });
    feed.replaceChildren(...(nodes.length ? nodes : [empty]));
    if (stick) feed.scrollTop = feed.scrollHeight;
    updateAskButton();
  }

  function exchangeView(x) {
    const root = el("div", "qa");
    root.dataset.testid = "assistant-exchange";
    const q = el("div", "qa-q");
    const asker = x.askerId === room.selfId ? t("common.you") : x.askerName;
    q.append(el("span", "qa-meta", `${asker} · ${timeOf(x.askedAt)}`), el("div", "bubble", x.question));
    const a = el("div", "qa-a");
    const aMeta = el("span", "qa-meta");
    aMeta.append(icon("i-sparkle"), t("meeting.assistantName"));
    const answer = el("div", "bubble");
    const error = el("div", "qa-error");
    a.append(aMeta, answer, error);
    root.append(q, a);
    return { root, answer, error };
  }

  function paint(x, view = views.get(x)) {
    if (!view) return;
    view.root.dataset.status = x.status;
    if (x.id) view.root.dataset.exchangeId = x.id;
    view.answer.textContent = x.answer || (x.status === "pending" ? t("meeting.thinking") : x.status === "failed" ? "—" : "");
    view.error.hidden = !(x.status === "failed" && x.error);
    if (!view.error.hidden) view.error.replaceChildren(icon("i-alert"), x.error);
  }

  function busy() {
    return exchanges.some((x) => x.askerId === room.selfId && (x.status === "pending" || x.status === "streaming"));
  }

  function updateAskButton() {
    send.disabled = !input.value.trim() || busy();
  }

  async function ask(event) {
    event?.preventDefault();
    const question = input.value.trim();
    if (!question || busy()) return;
    const exchange = normalizeExchange({
      id: null,
      askerId: room.selfId,
      askerName: room.self()?.displayName ?? "",
      question,
      status: "pending",
      askedAt: new Date().toISOString(),
    });
    exchanges.push(exchange);
    input.value = "";
    autoGrow(input);
    render();
    feed.scrollTop = feed.scrollHeight;
    try {
      const answer = await request("ask", { question });
      exchange.id ??= answer.exchangeId;
      paint(exchange);
    } catch (err) {
      exchange.status = "failed";
      exchange.error = err.message;
      paint(exchange);
      updateAskButton();
    }
  }

  function onChunk({ exchangeId, text }) {
    const x = find(exchangeId);
    if (!x || typeof text !== "string") return;
    x.id ??= exchangeId;
    x.status = "streaming";
    x.answer += text;
    const stick = nearBottom(feed);
    paint(x);
    if (stick) feed.scrollTop = feed.scrollHeight;
  }

  function onDone({ exchangeId, answer }) {
    const x = find(exchangeId);
    if (!x) return;
    x.id ??= exchangeId;
    x.status = "answered";
    if (typeof answer === "string") x.answer = answer;
    x.answeredAt = new Date().toISOString();
    paint(x);
    updateAskButton();
    if (!panels.isOpen("assistant")) {
      panels.markUnread("assistant");
      const show = { label: t("meeting.show"), run: () => panels.open("assistant") };
      toast(t("meeting.answered"), { icon: "i-sparkle", action: show });
    }
    if (nearBottom(feed)) feed.scrollTop = feed.scrollHeight;
  }

  function onError({ exchangeId, message, answer }) {
    const x = find(exchangeId);
    if (!x) return;
    x.id ??= exchangeId;
    x.status = "failed";
    x.error = message || t("meeting.assistantFailed");
    if (typeof answer === "string") x.answer = answer;
    paint(x);
    updateAskButton();
    if (!panels.isOpen("assistant")) toast(x.error, { tone: "error", icon: "i-sparkle" });
  }

  return Object.freeze({
    render,
    onChunk,
    onDone,
    onError,
    /** The exchanges of the join answer (drawn by the next `render`). */
    reset(history) {
      exchanges = (history ?? []).map(normalizeExchange);
    },
    get exchanges() {
      return exchanges;
    },
    relabelEmpty() {
      translate(empty);
    },
  });
}
