// Parley call page: the caller talks to the AI over WebRTC; Socket.IO `/signaling` carries the
// SDP/ICE exchange and Parley's live events (call state, transcript, sentiment, latency, voices).
// Plain ES modules, no build step; this entry builds the page from its parts in `/call/`:
//   phase.js       the page's phase and the call's status, as explicit state machines
//   session.js     the call: set up, server events, tear down (CallController, one CallSession)
//   signaling.js   the `/signaling` socket      peer.js        the RTCPeerConnection, offer/answer
//   microphone.js  getUserMedia                 meters.js      playback, meters, energy
//   rest.js        the calls API (lib/api.js)   errors.js      UserError, Cancelled, say()
//   transcript.js  bubbles, sentiment           latency.js     latency boxes, Details figures
//   settings.js    the settings form            view.js        status, banner, button, clock
//   hook.js        `window.parley` for tests    demo.js        the demo, loaded only when asked
// `?demo=1` (or `?demo=2`) renders a canned conversation without connecting; `?rawmic=1` turns
// the browser's echo cancellation, noise suppression and gain off.

import { $, loadSocketIo } from "/dom.js";
import { onLanguageChange } from "/i18n.js";
import { installTestHook } from "/call/hook.js";
import { MeterView } from "/call/meters.js";
import { CallStatus, Phase } from "/call/phase.js";
import { CallController } from "/call/session.js";
import { Settings } from "/call/settings.js";
import { Transcript } from "/call/transcript.js";
import { CallView } from "/call/view.js";

const params = new URLSearchParams(location.search);
const DEMO = params.get("demo");

function init() {
  const settings = new Settings({ remember: !DEMO });
  settings.load();
  const controller = new CallController({
    view: new CallView(),
    settings,
    transcript: new Transcript(),
    meters: new MeterView(),
    phase: new Phase(),
    status: new CallStatus(),
    audioElement: $("remote-audio"),
    rawMic: params.get("rawmic") === "1",
  });
  installTestHook(controller);
  $("call-btn").addEventListener("click", () => {
    if (DEMO) location.assign(location.pathname); // "End call" leaves the demo
    else controller.toggleCall();
  });
  $("mute-btn").addEventListener("click", () => controller.toggleMute());
  window.addEventListener("pagehide", () => controller.pageHidden());
  onLanguageChange(() => controller.setNet()); // every other text on the page carries its key
  if (!DEMO) loadSocketIo().catch((err) => controller.report(err.message)); // a missing one shows at once
  const drawn = DEMO ? showDemo(DEMO, controller) : Promise.resolve();
  // Transitions stay off until the page has drawn itself (the demo included).
  drawn.then(() =>
    requestAnimationFrame(() => requestAnimationFrame(() => document.documentElement.classList.remove("preload"))),
  );
}

/** The demo's code is fetched only when the page asks for it. */
function showDemo(variant, controller) {
  return import("/call/demo.js")
    .then(({ runDemo }) => runDemo(variant, controller))
    .catch((err) => console.error("parley: demo", err));
}

init();
