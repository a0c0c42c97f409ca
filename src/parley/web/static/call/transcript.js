// The live transcript: one bubble per turn and speaker, in the order of the conversation (not of
// arrival), the caller's sentiment chip and the AI's latency box on them, and the call's figures.
// Sentiment and latency may arrive before the bubble they belong to: they wait for it.

import { $, el } from "/dom.js";
import { setAttr, setPlain, setText } from "/i18n.js";
import { latencyBox, StatsView } from "/call/latency.js";

const SENTIMENT = { positive: "😊", neutral: "😐", negative: "😟" };

export class Transcript {
  #entries = new Map(); // "speaker:turn" -> {event, node, sentiment, latency, replyTo}
  #order = [];
  #pendingSentiment = new Map();
  #pendingLatency = new Map();
  #latencyByTurn = new Map();
  #lastCallerTurn = null;
  #awaitingReply = false;
  #stats = new StatsView();

  constructor() {
    this.list = $("transcript");
    this.empty = $("empty");
    this.#follow();
  }

  /** Whether the caller has spoken and the AI has not answered in full yet ("thinking"). */
  get awaitingReply() {
    return this.#awaitingReply;
  }

  reset() {
    this.#entries = new Map();
    this.#order = [];
    this.#pendingSentiment = new Map();
    this.#pendingLatency = new Map();
    this.#latencyByTurn = new Map();
    this.#lastCallerTurn = null;
    this.#awaitingReply = false;
    this.list.replaceChildren();
    this.#renderStats();
  }

  /** The call is over: no reply is awaited, and no bubble is left listening. */
  ended() {
    this.#awaitingReply = false;
    this.#dropListening(() => true);
  }

  /** The turns as the test hook shows them: each event with its sentiment and latency. */
  snapshot() {
    return this.#order.map((key) => {
      const { event, sentiment, latency } = this.#entries.get(key);
      return Object.freeze({ ...event, sentiment, latency });
    });
  }

  onTranscript(event) {
    const { speaker, turn } = event;
    if ((speaker !== "caller" && speaker !== "ai") || typeof event.text !== "string") return;
    const key = `${speaker}:${turn}`;
    if (event.final && !event.text.trim()) {
      this.#drop(key); // nothing was heard (or said) after all
      return;
    }
    const entry = this.#entries.get(key) ?? this.#add(key, event);
    entry.event = { ...event };
    renderBubble(entry);
    if (speaker === "caller") {
      this.#dropListening((t) => t < turn); // an earlier turn still "listening" was superseded
      this.#lastCallerTurn = turn;
      if (event.final) this.#awaitingReply = true;
    } else {
      this.#awaitingReply = !event.final; // text can run ahead of the voice: "thinking" until it speaks
    }
    this.#renderStats();
  }

  onSentiment({ turn, sentiment, score }) {
    if (!SENTIMENT[sentiment]) return;
    const value = { sentiment, score: Number(score) };
    const entry = this.#entries.get(`caller:${turn}`);
    if (!entry) {
      this.#pendingSentiment.set(turn, value);
      return;
    }
    entry.sentiment = value;
    renderSentiment(entry);
  }

  // `turn` may name the AI's turn or the caller turn it answers: either finds the AI bubble.
  onLatency(event) {
    const value = { voiceToVoiceMs: Number(event.voiceToVoiceMs), stages: event.stages ?? {} };
    if (!Number.isFinite(value.voiceToVoiceMs)) return;
    this.#latencyByTurn.set(event.turn, value.voiceToVoiceMs);
    this.#renderStats();
    const entry = this.#entries.get(`ai:${event.turn}`) ?? this.#findReply(event.turn);
    if (!entry) {
      this.#pendingLatency.set(event.turn, value);
      return;
    }
    entry.latency = value;
    renderLatency(entry);
  }

  #add(key, event) {
    const entry = { event, node: buildTurn(event), sentiment: null, latency: null, replyTo: null };
    if (event.speaker === "ai") {
      entry.replyTo = this.#lastCallerTurn;
      entry.latency = takePending(this.#pendingLatency, event.turn, entry.replyTo);
    } else {
      entry.sentiment = takePending(this.#pendingSentiment, event.turn);
    }
    this.#entries.set(key, entry);
    // In the order of the conversation, not of arrival: a caller turn after the AI turn before it
    // (the greeting is turn 0), whatever the network or the server's tasks did to the events.
    const at = this.#order.findIndex((other) => placeOf(this.#entries.get(other).event) > placeOf(event));
    if (at < 0) {
      this.#order.push(key);
      this.list.append(entry.node.root);
    } else {
      this.list.insertBefore(entry.node.root, this.#entries.get(this.#order[at]).node.root);
      this.#order.splice(at, 0, key);
    }
    this.empty.hidden = true;
    if (entry.sentiment) renderSentiment(entry);
    if (entry.latency) renderLatency(entry);
    return entry;
  }

  // Caller bubbles still waiting for words ("Listening…") whose turn will never get them.
  #dropListening(stale) {
    for (const key of [...this.#order]) {
      const { event } = this.#entries.get(key);
      if (event.speaker === "caller" && !event.final && !event.text.trim() && stale(event.turn)) this.#drop(key);
    }
  }

  #drop(key) {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.node.root.remove();
    this.#entries.delete(key);
    this.#order.splice(this.#order.indexOf(key), 1);
    this.#renderStats();
  }

  #findReply(callerTurn) {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      const entry = this.#entries.get(this.#order[i]);
      if (entry.event.speaker === "ai" && entry.replyTo === callerTurn) return entry;
    }
    return null;
  }

  #renderStats() {
    const ai = this.#order.map((key) => this.#entries.get(key).event).filter((e) => e.speaker === "ai");
    this.#stats.render(ai, [...this.#latencyByTurn.values()]);
    this.empty.hidden = this.#order.length > 0;
  }

  // The transcript follows the conversation while the reader is at its end: new turns, streamed
  // text, sentiment chips and latency rows (which arrive after the turn), a resized window. It
  // stays put once they scroll back to read.
  #follow() {
    const list = this.list;
    let pinned = true;
    const follow = () => pinned && (list.scrollTop = list.scrollHeight);
    const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    list.addEventListener("scroll", () => (pinned = nearBottom()), { passive: true });
    new MutationObserver(follow).observe(list, { childList: true, subtree: true, characterData: true });
    new ResizeObserver(follow).observe(list);
  }
}

// Caller turn n answers AI turn n-1 and is answered by AI turn n.
function placeOf({ turn, speaker }) {
  return 2 * Number(turn) + (speaker === "ai" ? 1 : 0);
}

function takePending(pending, ...turns) {
  for (const turn of turns) {
    if (turn != null && pending.has(turn)) {
      const value = pending.get(turn);
      pending.delete(turn);
      return value;
    }
  }
  return null;
}

function buildTurn({ speaker }) {
  const root = el("li", "turn");
  root.dataset.speaker = speaker;
  const who = el("div", "who");
  who.append(speaker === "ai" ? el("span", "", "AI") : setText(el("span"), "call.you"));
  const lang = el("span", "lang");
  const time = el("time", "", new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }));
  who.append(lang, time);
  const bubble = el("div", "bubble");
  const tags = el("div", "tags");
  root.append(who, bubble, tags);
  return { root, lang, bubble, tags, cut: null, chip: null, latency: null };
}

function renderBubble(entry) {
  const { event, node } = entry;
  node.root.dataset.final = String(Boolean(event.final));
  node.root.dataset.interrupted = String(Boolean(event.interrupted));
  node.root.setAttribute("aria-busy", String(!event.final));
  const listening = !event.final && !event.text.trim() && event.speaker === "caller";
  if (listening) setText(node.bubble, "call.listening");
  else setPlain(node.bubble, event.text);
  node.lang.textContent = event.language ?? "";
  node.lang.hidden = !event.language;
  if (event.language) node.bubble.lang = event.language;
  if (event.interrupted && !node.cut) {
    node.cut = el("span", "chip cut");
    node.cut.append(el("span", "emoji", "✂️"), setText(el("span"), "call.interrupted"));
    setAttr(node.cut, "title", "call.interruptedTitle");
    node.tags.prepend(node.cut);
  }
}

function renderSentiment(entry) {
  const { sentiment, score } = entry.sentiment;
  const chip = entry.node.chip ?? el("span", "chip");
  chip.dataset.sentiment = sentiment;
  chip.replaceChildren(
    el("span", "emoji", SENTIMENT[sentiment]),
    setText(el("span"), `call.sentiment.${sentiment}`),
    el("span", "score", Number.isFinite(score) ? score.toFixed(2) : ""),
  );
  if (!entry.node.chip) entry.node.tags.append(chip);
  entry.node.chip = chip;
}

function renderLatency(entry) {
  const box = latencyBox(entry.latency);
  entry.node.latency?.remove();
  entry.node.latency = box;
  entry.node.root.append(box);
}
