// Parley's two languages, Korean and English, on every page. The language is the one saved by the
// switch (localStorage `parley.lang`), else the browser's first preference (ko* → Korean, else
// English). Changing it updates the page at once, without a reload:
//   - static text carries its key: `data-i18n="key"` (text), `data-i18n-attr="attr:key;attr:key"`
//     (attributes: aria-label, title, placeholder…); `data-i18n-args` holds JSON values for `{name}`
//   - text set from code goes through `setText` / `setAttr`, which record the key the same way
//   - anything else a page draws is redrawn in its `onLanguageChange` callback.
// Every `[data-lang-switch]` element gets the KO / EN switch.

import { store } from "/dom.js";
import { MESSAGES } from "/messages.js";

export const LANGUAGES = ["ko", "en"];
const STORE_KEY = "parley.lang";
const listeners = new Set();

let current = savedLanguage() ?? browserLanguage();

function savedLanguage() {
  const saved = store.get(STORE_KEY);
  return LANGUAGES.includes(saved) ? saved : null;
}

/** The browser's first preferred language, as one of ours: Korean for ko*, else English. */
export function browserLanguage(preferred = navigator.languages ?? [navigator.language]) {
  const first = String(preferred.find(Boolean) ?? "en").toLowerCase();
  return first.startsWith("ko") ? "ko" : "en";
}

/** The page's language: "ko" or "en". */
export function language() {
  return current;
}

/** The text for `key` in the page's language (English, then the key itself, when missing). */
export function t(key, vars) {
  const entry = MESSAGES[current]?.[key] ?? MESSAGES.en[key];
  if (entry === undefined) return key;
  if (typeof entry === "function") return entry(vars ?? {});
  return vars ? entry.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole)) : entry;
}

/** Whether there is a text for `key`. */
export function has(key) {
  return key in MESSAGES.en;
}

/** A server error shown to people: our words for a known `code`, else the server's message. */
export function errorText(code, message) {
  return code && has(`error.${code}`) ? t(`error.${code}`) : (message ?? t("error.unknown"));
}

/** Sets a node's text from `key` and remembers it, so a language change rewrites it. */
export function setText(node, key, vars) {
  node.dataset.i18n = key;
  if (vars) node.dataset.i18nArgs = JSON.stringify(vars);
  else delete node.dataset.i18nArgs;
  node.textContent = t(key, vars);
  return node;
}

/** Plain text (a person's words, a value): forgets any key the node had. */
export function setPlain(node, text) {
  delete node.dataset.i18n;
  delete node.dataset.i18nArgs;
  node.textContent = text;
  return node;
}

/** Sets an attribute from `key` and remembers it (static keys only: no values). */
export function setAttr(node, attr, key) {
  const pairs = parseAttrs(node.dataset.i18nAttr).filter(([name]) => name !== attr);
  pairs.push([attr, key]);
  node.dataset.i18nAttr = pairs.map((pair) => pair.join(":")).join(";");
  node.setAttribute(attr, t(key));
  return node;
}

function parseAttrs(spec) {
  return (spec ?? "")
    .split(";")
    .map((pair) => pair.split(":").map((part) => part.trim()))
    .filter(([name, key]) => name && key);
}

function args(node) {
  try {
    return node.dataset.i18nArgs ? JSON.parse(node.dataset.i18nArgs) : undefined;
  } catch {
    return undefined;
  }
}

/** Rewrites every marked text and attribute under `root`. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n, args(node));
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const [attr, key] of parseAttrs(node.dataset.i18nAttr)) node.setAttribute(attr, t(key));
  }
}

/** Calls `listener(lang)` after every language change. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Switches the page to `lang` ("ko" | "en"), remembers it, and redraws. */
export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  store.set(STORE_KEY, lang);
  if (lang === current) return;
  current = lang;
  apply();
  for (const listener of listeners) {
    try {
      listener(lang);
    } catch (err) {
      console.error("parley: language change", err);
    }
  }
}

function apply() {
  document.documentElement.lang = current;
  translate(document);
  for (const button of document.querySelectorAll(".lang-switch button")) {
    button.setAttribute("aria-pressed", String(button.value === current));
  }
}

/** The KO / EN switch, in `container`. */
export function mountSwitch(container) {
  container.classList.add("lang-switch");
  container.setAttribute("role", "group");
  setAttr(container, "aria-label", "lang.label");
  const buttons = LANGUAGES.map((lang) => {
    const button = document.createElement("button");
    button.type = "button";
    button.value = lang;
    button.lang = lang;
    button.textContent = lang.toUpperCase();
    button.title = lang === "ko" ? "한국어" : "English";
    button.dataset.testid = `lang-${lang}`;
    button.setAttribute("aria-pressed", String(lang === current));
    button.addEventListener("click", () => setLanguage(lang));
    return button;
  });
  container.replaceChildren(...buttons);
}

for (const container of document.querySelectorAll("[data-lang-switch]")) mountSwitch(container);
apply();
