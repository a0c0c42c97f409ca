// `window.parley`: what the browser tests read of the call page (read-only).

/** @param controller the page's `CallController`, whose phase, status and transcript it shows */
export function installTestHook(controller) {
  const { phase, status, transcript } = controller;
  Object.defineProperty(window, "parley", {
    value: Object.freeze({
      get status() { return status.current; },
      get phase() { return phase.current; },
      get iceState() { return controller.net.ice; },
      get connectionState() { return controller.net.pc; },
      get callId() { return controller.callId; },
      get turns() { return Object.freeze(transcript.snapshot()); },
      get lastError() { return controller.lastError; },
      remoteEnergy: () => controller.remoteEnergy(),
      audioStats: () => controller.audioStats(),
    }),
  });
}
