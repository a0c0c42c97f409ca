// The call's settings form: caller number, conversation language, voice, system prompt. They
// are remembered in localStorage (not in the demo), with the voices the server last offered.

import { $ } from "/dom.js";
import { language, t } from "/i18n.js";

const STORE_KEY = "parley.call-page.v1";

export class Settings {
  #voices = { ko: [], en: [] };
  #remember;

  /** @param remember whether to save the settings (the demo does not) */
  constructor({ remember }) {
    this.#remember = remember;
    this.form = $("settings");
    this.caller = $("caller");
    this.voice = $("voice");
    this.prompt = $("prompt");
    this.promptBox = $("prompt-box");
    this.form.addEventListener("change", (event) => {
      if (event.target.name === "language") this.#fillVoices();
      this.save();
    });
    this.form.addEventListener("submit", (event) => event.preventDefault());
  }

  read() {
    const data = new FormData(this.form);
    return {
      callerNumber: String(data.get("caller") ?? "").trim(),
      language: data.get("language") === "en" ? "en" : "ko",
      voice: String(data.get("voice") ?? ""),
      systemPrompt: String(data.get("prompt") ?? "").trim(),
    };
  }

  /** Whether the caller number is valid; when not, the browser says why. */
  check() {
    if (this.caller.checkValidity()) return true;
    this.caller.reportValidity();
    return false;
  }

  /** No changes while a call is on. */
  lock(locked) {
    for (const control of this.form.elements) control.disabled = locked;
  }

  save() {
    if (!this.#remember) return;
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ ...this.read(), voices: this.#voices }));
    } catch {
      /* storage may be off: settings just aren't remembered */
    }
  }

  load() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORE_KEY) ?? "null");
    } catch {
      saved = null;
    }
    if (!saved) {
      // First visit: talk in the language the page is shown in.
      this.form.querySelector(`input[name=language][value="${language()}"]`).checked = true;
      return;
    }
    if (saved.callerNumber) this.caller.value = saved.callerNumber;
    const lang = this.form.querySelector(`input[name=language][value="${saved.language}"]`);
    if (lang) lang.checked = true;
    if (saved.systemPrompt) {
      this.prompt.value = saved.systemPrompt;
      this.promptBox.open = true;
    }
    if (saved.voices) this.#voices = sanitizeVoices(saved.voices);
    this.#fillVoices(saved.voice);
  }

  /** The voices the server offers, per language; `preferred` stays chosen if it is one. */
  setVoices(voices, preferred) {
    this.#voices = sanitizeVoices(voices);
    this.#fillVoices(preferred);
    this.save();
  }

  #fillVoices(preferred = this.voice.value) {
    const names = this.#voices[this.read().language] ?? [];
    const auto = new Option(t("call.voice.default"), "");
    auto.dataset.i18n = "call.voice.default";
    const options = [auto];
    for (const name of names) options.push(new Option(name, name));
    this.voice.replaceChildren(...options);
    this.voice.value = names.includes(preferred) ? preferred : "";
  }
}

function sanitizeVoices(voices) {
  const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
  return { ko: list(voices?.ko), en: list(voices?.en) };
}
