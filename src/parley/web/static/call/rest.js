// The calls API (`/api/v1/calls`) through the pages' one REST client (lib/api.js). Its
// `ApiError` becomes a `UserError` in the caller's words: no answer at all is "can't reach the
// server", a Parley error code has its own text (`error.<CODE>`), anything else the server's.

import { api, ApiError } from "/lib/api.js";
import { has } from "/i18n.js";
import { say, UserError } from "/call/errors.js";

const API = "/api/v1/calls";
const TIMEOUT_MS = 10_000;
const TRANSITION_TIMEOUT_MS = 3_000;

async function request(method, path, body, timeoutMs = TIMEOUT_MS) {
  try {
    return await api(method, path, body, { timeoutMs });
  } catch (err) {
    throw err instanceof ApiError ? userError(err) : err;
  }
}

/** The caller's words for a failed request; the `ApiError` stays as its `cause`. */
export function userError(err) {
  if (err.status === 0) return new UserError(say("call.error.network"), { cause: err });
  const known = has(`error.${err.code}`);
  return new UserError(known ? say(`error.${err.code}`) : err.message, { cause: err });
}

/** `{config}`: the ICE servers for the peer connection. */
export const callConfig = () => request("GET", `${API}/config`);

/** `{call}`: a new call from this number. */
export const createCall = (callerNumber) => request("POST", API, { callerNumber });

/** POST /connect or /end: the call, or null. The server may already be past that state
 * (409): that's fine; other failures only go to the console. */
export async function transition(callId, action) {
  try {
    const { call } = await request("POST", `${API}/${callId}/${action}`, undefined, TRANSITION_TIMEOUT_MS);
    return call ?? null;
  } catch (err) {
    if (err.cause?.status !== 409) console.warn(`${action}:`, err.message);
    return null;
  }
}

/** Ends the call as the page goes away, where a fetch would be cancelled. */
export function endOnUnload(callId) {
  navigator.sendBeacon(`${API}/${callId}/end`);
}
