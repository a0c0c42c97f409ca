// Latency as the caller sees it: each AI turn's voice-to-voice time with its stages (end of
// turn, STT, LLM, TTS…), and the call's figures in Details (turns, median and last latency,
// barge-ins).

import { $, el, icon } from "/dom.js";
import { has, setAttr, setText } from "/i18n.js";

/** The AI turn's latency box: the total (graded fast/ok/slow) that opens onto its stages. */
export function latencyBox({ voiceToVoiceMs, stages }) {
  const box = el("details", "latency");
  box.dataset.grade = voiceToVoiceMs < 1000 ? "fast" : voiceToVoiceMs < 2000 ? "ok" : "slow";
  const summary = el("summary");
  const more = icon("i-chev");
  more.classList.add("chev");
  const value = el("span", "v2v", formatMs(voiceToVoiceMs));
  summary.append(icon("i-bolt"), value, " ", setText(el("span", "v2v-label"), "call.v2v"), more);
  setAttr(summary, "title", "call.v2vTitle");
  const rows = Object.entries(stages).filter(
    ([name, ms]) => name !== "voiceToVoiceMs" && ms !== null && Number.isFinite(Number(ms)),
  );
  box.append(summary, stageList(rows, voiceToVoiceMs));
  return box;
}

function stageList(rows, total) {
  const list = el("dl", "stages");
  for (const [name, raw] of rows) {
    const ms = Number(raw);
    const track = el("div", "track");
    const fill = el("span");
    fill.style.width = `${Math.min(100, (ms / Math.max(total, 1)) * 100).toFixed(1)}%`;
    track.append(fill);
    list.append(stageTerm(name), track, el("dd", "", formatMs(ms)));
  }
  return list;
}

// A stage we have words for, else its wire name made readable ("llmFirstTokenMs" → "Llm first token").
function stageTerm(key) {
  if (has(`call.stage.${key}`)) return setText(el("dt"), `call.stage.${key}`);
  const words = key.replace(/Ms$/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  return el("dt", "", words.charAt(0).toUpperCase() + words.slice(1));
}

export function formatMs(ms) {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString("en-US")} ms`;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The call's figures in Details. */
export class StatsView {
  constructor() {
    this.turns = $("stat-turns");
    this.median = $("stat-median");
    this.last = $("stat-last");
    this.barge = $("stat-barge");
  }

  /** @param aiTurns the AI's transcript events, @param latencies voice-to-voice ms, in order */
  render(aiTurns, latencies) {
    this.turns.textContent = String(aiTurns.filter((e) => e.final).length);
    this.barge.textContent = String(aiTurns.filter((e) => e.interrupted).length);
    this.median.textContent = latencies.length ? formatMs(median(latencies)) : "—";
    this.last.textContent = latencies.length ? formatMs(latencies.at(-1)) : "—";
  }
}
