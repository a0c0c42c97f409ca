// The demo (`?demo=N`, N = 0…24 other people, default 3; `&autojoin` joins at once): the room
// with canned participants, chat and answers, without a server, for looking at the layout. Loaded
// only when asked for. It stands in for the server: it answers the page's requests and sends
// events through the same handlers a real server's would reach (`dispatch`).

import { el } from "/dom.js";
import { hueOf } from "/meeting/ui.js";

const NAMES = [
  "Mina Park", "Jonas Weber", "Aisha Khan", "Diego Alvarez", "Yuki Tanaka", "Sofia Rossi",
  "Noah Smith", "Lena Novak", "Omar Haddad", "Chloé Martin", "Ravi Iyer", "Emma Larsen",
  "Kwame Mensah", "Hana Kim", "Lucas Silva", "Maya Cohen", "Ivan Petrov", "Zara Ahmed",
  "Felix Braun", "Ana Costa", "Sam Lee", "Nora Berg", "Ali Rahimi", "Eva Horvat",
];
const ANSWER =
  "So far the team agreed to ship the new onboarding in Q3, with Jonas owning the API work. Open question: whether the mobile redesign waits for user research (Aisha will report back on Friday).";
const CHAT_LINES = [
  [0, "Morning! Slides are in the shared folder."],
  [1, "Thanks. Can we start with the onboarding numbers?"],
  [1, "I have a hard stop at 11."],
  [-1, "Sure, let's keep it to 30 minutes."],
  [2, "Research sessions are booked for Thursday 🎉"],
];

/** How many other people `?demo=value` asks for (0…24, 3 when it is not a number). */
export function demoCount(value) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.max(0, Math.min(24, n)) : 3;
}

/**
 * @param {object} deps
 * @param {string | null} deps.value the `demo` query parameter
 * @param {(event: string, payload: object) => void} deps.dispatch delivers a server event
 */
export function createDemo({ value, room, devices, subscriber, dispatch }) {
  const count = demoCount(value);
  let speaker = null;

  function meeting() {
    return {
      id: room.id,
      title: "Design review · Q3 roadmap",
      pinRequired: false,
      maxPublishers: 25,
      videoCodec: "vp8",
      bitrate: 1_024_000,
      hostName: "Mina Park",
      status: "active",
      createdAt: new Date().toISOString(),
      participantCount: count,
      mediaReady: true,
    };
  }

  /** The answer a server would give (events it would send follow through `dispatch`). */
  async function request(event, payload) {
    const self = room.self();
    switch (event) {
      case "join":
        return joinAnswer(payload);
      case "chat":
        return { ok: true, message: { id: Date.now(), senderId: room.selfId, senderName: self.displayName, text: payload.text, createdAt: new Date().toISOString() } };
      case "ask":
        return { ok: true, exchangeId: streamAnswer() };
      case "quality":
        return { ok: true, quality: payload.quality, layer: payload.quality === "auto" ? "h" : payload.quality[0] };
      case "media":
        return { ok: true, self: { ...self, ...payload } };
      case "mute": {
        const p = room.person(payload.participantId);
        const participant = { ...p, mutedByHost: payload.mute, micOn: payload.mute ? false : p.micOn };
        setTimeout(() => dispatch("participant-updated", { participant }), 100);
        return { ok: true };
      }
      case "kick":
        setTimeout(() => dispatch("participant-left", { participantId: payload.participantId, reason: "kicked" }), 100);
        return { ok: true };
      case "end-meeting":
        setTimeout(() => dispatch("meeting-closed", { reason: "ended" }), 100);
        return { ok: true };
      default:
        return { ok: true };
    }
  }

  /** The canned answer, a word every 70 ms; its exchange id. */
  function streamAnswer() {
    const exchangeId = `demo-${Date.now()}`;
    const words = ANSWER.split(" ");
    let i = 0;
    const timer = setInterval(() => {
      if (i < words.length) {
        dispatch("assistant-chunk", { exchangeId, text: (i ? " " : "") + words[i++] });
      } else {
        clearInterval(timer);
        dispatch("assistant-done", { exchangeId, answer: words.join(" "), firstChunkMs: 420 });
      }
    }, 70);
    return exchangeId;
  }

  function joinAnswer(payload) {
    const t0 = Date.now() - 40 * 60_000;
    const at = (ms) => new Date(t0 + ms).toISOString();
    const self = {
      id: "me",
      displayName: payload.displayName,
      role: "host",
      joinedAt: at(0),
      publishing: true,
      micOn: devices.micOn,
      cameraOn: devices.camOn,
      mutedByHost: false,
    };
    const others = NAMES.slice(0, count).map((name, i) => ({
      id: `p${i}`,
      displayName: name,
      role: "guest",
      joinedAt: at((i + 1) * 60_000),
      publishing: true,
      micOn: i % 3 !== 1,
      cameraOn: i % 4 !== 2,
      mutedByHost: i === 4,
    }));
    const chat = CHAT_LINES.filter(([who]) => who < count).map(([who, text], i) => {
      const sender = who === -1 ? self : others[who];
      return { id: i + 1, senderId: sender.id, senderName: sender.displayName, text, createdAt: at((i + 2) * 90_000) };
    });
    const assistant = [
      {
        id: "x1",
        askerId: "me",
        askerName: self.displayName,
        question: "What did we decide last week about the beta?",
        answer: "You agreed to open the beta to 500 users on the 14th and to review crash reports daily.",
        status: "answered",
        askedAt: at(10 * 60_000),
        answeredAt: at(10 * 60_000 + 2000),
      },
    ];
    return { ok: true, self, meeting: room.meeting, participants: [self, ...others], chat, assistant, iceServers: [], mediaReady: true };
  }

  return Object.freeze({
    meeting,
    request,
    /** Gives the canned participants their canvas "cameras" (after entering the room). */
    attachStreams() {
      for (const p of room.everyone()) {
        if (p.id === room.selfId) continue;
        const stream = canvasStream(hueOf(p.id));
        subscriber.attach(p.id, { audio: null, video: stream.getVideoTracks()[0], stream });
      }
    },
    /** Someone with their mic on speaks, a new one every 2.5 s. */
    speaking(now, heard) {
      if (!speaker || now > speaker.until) {
        const ids = room.everyone().filter((p) => p.micOn && p.id !== room.selfId).map((p) => p.id);
        speaker = { id: ids[Math.floor(Math.random() * ids.length)], until: now + 2500 };
      }
      if (speaker.id) heard(speaker.id, now);
    },
  });
}

/** A moving silhouette on a gradient, as a 10 fps video stream. */
function canvasStream(hue) {
  const canvas = el("canvas");
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext("2d");
  const start = performance.now();
  const draw = () => {
    const t = (performance.now() - start) / 1000;
    const grad = g.createLinearGradient(0, 0, 640, 360);
    grad.addColorStop(0, `hsl(${hue} 35% 30%)`);
    grad.addColorStop(1, `hsl(${(hue + 40) % 360} 40% 16%)`);
    g.fillStyle = grad;
    g.fillRect(0, 0, 640, 360);
    g.fillStyle = `hsl(${hue} 30% 75% / 0.9)`;
    const x = 320 + Math.sin(t * 0.8) * 12;
    g.beginPath();
    g.arc(x, 150, 62, 0, Math.PI * 2);
    g.fill();
    g.beginPath();
    g.ellipse(x, 360, 140, 110, 0, Math.PI, 0);
    g.fill();
  };
  draw();
  setInterval(draw, 100);
  return canvas.captureStream(10);
}
