// The caller's microphone. With `?rawmic=1` the browser's echo cancellation, noise suppression
// and gain control are off (the tests feed a file as the microphone and want it as it is).

import { say, UserError } from "/call/errors.js";

/** The microphone's stream; a `UserError` that says why when it cannot be had. */
export async function openMic({ raw = false } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new UserError(say("call.error.noMicApi"));
  }
  const processing = !raw;
  const audio = {
    echoCancellation: processing,
    noiseSuppression: processing,
    autoGainControl: processing,
  };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video: false });
  } catch (err) {
    throw new UserError(micErrorMessage(err));
  }
}

function micErrorMessage(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return say("call.error.micDenied");
    case "NotFoundError":
    case "OverconstrainedError":
      return say("call.error.noMic");
    case "NotReadableError":
      return say("call.error.micBusy");
    default:
      return say("call.error.micOther", { name: String(err?.name ?? err) });
  }
}

export function stopTracks(stream) {
  stream?.getTracks().forEach((track) => track.stop());
}
