// The demo (`?demo=1` ends on the caller speaking, `?demo=2` on the AI answering): a canned
// conversation, drawn without connecting, for screenshots. Loaded only when asked for. It hands
// the page the same events the server sends, so it goes through the real rendering code.

const DEMO_TURNS = [
  [1, "ko", "안녕하세요, 내일 오후 세 시에 치과 예약 가능할까요?", ["neutral", 0.64]],
  [1, "ko", "네, 내일 오후 3시에 예약 가능합니다. 성함과 연락처를 알려주시겠어요?", [742, 220, 148, 231, 143]],
  [2, "en", "Oh, sorry — could we switch to English? My name is Alex Kim.", ["positive", 0.81]],
  [2, "en", "Of course! Thanks, Alex. You're booked for tomorrow at 3 PM. Would you like a reminder text the day",
    [918, 240, 171, 322, 185], { interrupted: true }],
  [3, "en", "Actually, 3 is too early, I can't make that. Is 4 PM open?", ["negative", 0.58]],
];
const DEMO_CLOCK_S = 107; // 01:47

function demoEvents(variant) {
  const callId = "demo";
  const events = [["voices", { ko: ["ko-KR-SunHi", "ko-KR-InJoon"], en: ["en-US-Amy", "en-US-Ryan"] }]];
  const say = (turn, speaker, language, text, extra) =>
    events.push(["transcript", { callId, turn, speaker, text, final: true, language, ...extra }]);
  const latency = (turn, [total, endOfTurnMs, sttMs, llmFirstTokenMs, ttsFirstChunkMs]) =>
    events.push(["turn-latency", {
      callId, turn, voiceToVoiceMs: total, stages: { endOfTurnMs, sttMs, llmFirstTokenMs, ttsFirstChunkMs },
    }]);
  for (const [turn, language, text, facts, extra] of DEMO_TURNS) {
    const caller = typeof facts[0] === "string";
    say(turn, caller ? "caller" : "ai", language, text, extra);
    if (caller) events.push(["sentiment", { callId, turn, sentiment: facts[0], score: facts[1] }]);
    else latency(turn, facts);
  }
  if (variant === "2") {
    say(3, "ai", "en", "Let me check — yes, 4 PM is open. I'll move your", { final: false });
    latency(3, [1264, 260, 190, 604, 210]);
  } else {
    say(4, "caller", "en", "Perfect, and could you also", { final: false });
  }
  return events;
}

/** Draws the demo call on the page of `controller` (a `CallController`, session.js). */
export function runDemo(variant, controller) {
  const { view, transcript, meters } = controller;
  const handlers = {
    voices: (voices) => controller.showVoices(voices),
    transcript: (event) => transcript.onTranscript(event),
    sentiment: (event) => transcript.onSentiment(event),
    "turn-latency": (event) => transcript.onLatency(event),
  };
  controller.phase.to("active");
  controller.status.set("IN_PROGRESS");
  controller.setNet("connected", "connected");
  view.showClock(DEMO_CLOCK_S);
  for (const [name, payload] of demoEvents(variant)) handlers[name](payload);
  const aiTalking = variant === "2";
  view.setAgent(aiTalking ? "speaking" : "listening");
  meters.setBars(aiTalking ? [0.45, 0.7, 0.95, 0.6, 0.35] : null);
  meters.setMicLevel(aiTalking ? 0.04 : 0.46);
}
