// What can go wrong while a call is set up, and the small promise tools its steps need.
//   UserError  a failure shown to the caller as it is (our words, or the server's own)
//   Cancelled  the call was ended while one of its steps was still waiting: nothing to show

import { t } from "/i18n.js";

/** A message in the page's language that a language change can say again. */
export const say = (key, vars) => ({ key, vars, toString: () => t(key, vars) });

export class UserError extends Error {
  /** @param text a `say(...)`, or the server's own words */
  constructor(text, options) {
    super(String(text), options);
    this.text = text;
  }
}

export class Cancelled extends Error {}

/** A promise with its resolve and reject at hand; an unheard rejection is not an error. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** `promise`, or a `UserError(message)` after `ms`. */
export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new UserError(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
