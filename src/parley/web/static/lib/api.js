// The one REST client of every page. Parley answers `{success, data}` or
// `{success: false, error: {code, message, ...}}`; anything else (a proxy's HTML page, a network
// failure, a timeout) becomes the same `ApiError`, so a page handles one error type.

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status, 0 when no answer arrived (network, timeout)
   * @param {string} code    Parley's error code, `NETWORK`, `TIMEOUT` or `HTTP_<status>`
   * @param {string} message the server's message (English), for logs and as a fallback
   * @param {object} details the rest of the error object (e.g. `retryAfter`)
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * `method path` with an optional JSON `body` (undefined or null: none); resolves to the
 * envelope's `data`.
 * @param {{headers?: object, timeoutMs?: number}} options
 */
export async function api(method, path, body = undefined, { headers = {}, timeoutMs = 15_000 } = {}) {
  const json = body !== undefined && body !== null;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: json ? { "Content-Type": "application/json", ...headers } : { ...headers },
      body: json ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err?.name === "TimeoutError";
    throw new ApiError(0, timedOut ? "TIMEOUT" : "NETWORK", timedOut ? "The server did not answer in time." : "The server could not be reached.");
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    /* not JSON */
  }
  if (!response.ok || payload?.success === false) {
    const { code, message, ...details } = payload?.error ?? {};
    throw new ApiError(response.status, code ?? `HTTP_${response.status}`, message ?? `HTTP ${response.status}`, details);
  }
  return payload?.data;
}
