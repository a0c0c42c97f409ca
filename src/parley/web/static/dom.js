// Helpers shared by Parley's pages (the call page, the meetings home and meeting page).

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** An element with a class and text (always as text: never HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An icon from the page's SVG sprite (`<symbol id="name">`). */
export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `#${name}`);
  svg.append(use);
  return svg;
}

/** localStorage that never throws (private modes refuse it): nothing is remembered then. */
export const store = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      /* private mode: nothing remembered */
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
};

const SOCKET_IO_URL = "/vendor/socket.io.js";
let socketIoModule = null;

/** socket.io-client's ES module (installed from npm, served by Parley), loaded once. When it
 * cannot be, the promise fails with the server's explanation (what to run), or `fallback`. */
export function loadSocketIo(fallback) {
  socketIoModule ??= import(SOCKET_IO_URL).catch(async () => {
    socketIoModule = null;
    let message = fallback;
    try {
      const payload = await (await fetch(SOCKET_IO_URL, { cache: "no-store" })).json();
      message = payload?.error?.message ?? message;
    } catch {
      /* keep the fallback */
    }
    throw new Error(message);
  });
  return socketIoModule;
}
