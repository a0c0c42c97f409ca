// Whether the media server (Janus) is there for this meeting (`mediaReady`), and the banner over
// the stage that says when it is not, or when the connection dropped. The tiles read both (a tile
// shows "connecting" only while media can come).

import { $ } from "/dom.js";
import { setText, t } from "/i18n.js";

/** @param {() => void} onChange called when the banner changes (the tiles redraw) */
export function createMediaStatus(onChange) {
  const banner = $("media-banner");
  const bannerText = $("media-banner-text");
  let ready = true;
  let shown = null; // the banner's text, as it was said

  return Object.freeze({
    get ready() {
      return ready;
    },
    setReady(value) {
      ready = value;
    },
    /** The banner's text (null when there is none). */
    get banner() {
      return shown;
    },
    /** Shows the banner with a message key (null hides it). */
    setBanner(key) {
      shown = key ? t(key) : null;
      banner.hidden = !key;
      if (key) setText(bannerText, key);
      onChange();
    },
  });
}
