// The video grid: one tile per participant (you first), its video or avatar, name, host badge,
// microphone and speaking state; sized so the tiles are as large as the stage allows; and the
// "you're the only one here" card.

import { $, el, icon } from "/dom.js";
import { setText, t } from "/i18n.js";
import { hueOf, initials, toggleData } from "/meeting/ui.js";

/**
 * @param {object} deps
 * @param {(id: string) => ({video, stream} | null)} deps.remoteOf what is received from a participant
 */
export function createTiles({ room, devices, remoteOf, mediaStatus, toast }) {
  const grid = $("grid");
  const stage = $("stage");
  const aloneCard = $("alone-card");
  const aloneLink = $("alone-link");
  const peopleBadge = $("people-badge");
  const tiles = new Map(); // participantId → tile
  let audioBlocked = false;
  let aloneDismissed = false;

  $("alone-close").addEventListener("click", () => {
    aloneDismissed = true;
    aloneCard.hidden = true;
  });
  new ResizeObserver(() => layout()).observe(stage);

  function makeTile(id) {
    const root = el("div", "tile");
    root.dataset.participantId = id;
    root.dataset.testid = "tile";
    root.setAttribute("role", "group");
    const video = el("video");
    video.autoplay = true;
    video.playsInline = true;
    const avatar = el("div", "avatar");
    const badge = el("span");
    avatar.append(badge);
    const status = el("span", "tile-status");
    status.append(el("span", "spinner"), setText(el("span"), "meeting.connecting"));
    const mic = el("span", "tile-mic");
    mic.append(icon("i-mic-off"));
    const foot = el("div", "tile-foot");
    const name = el("span", "tile-name");
    const host = setText(el("span", "tile-badge"), "meeting.host");
    foot.append(name, host);
    root.append(video, avatar, status, mic, foot);
    const tile = { id, root, video, avatar, badge, status, mic, name, host, stream: null, videoReady: false };
    const ready = () => {
      tile.videoReady = video.videoWidth > 0;
      update(id);
    };
    video.addEventListener("loadeddata", ready);
    video.addEventListener("resize", ready);
    return tile;
  }

  /** A tile for everyone in the room (none for those who left), then the grid's layout. */
  function render() {
    const people = room.ordered();
    const ids = new Set(people.map((p) => p.id));
    for (const id of [...tiles.keys()]) if (!ids.has(id)) remove(id);
    for (const p of people) {
      if (!tiles.has(p.id)) add(p.id);
      update(p.id);
    }
    // The self tile is always first, so later additions only ever append.
    layout();
    aloneCard.hidden = people.length > 1 || aloneDismissed;
    aloneLink.textContent = room.inviteLink();
    peopleBadge.textContent = String(people.length);
  }

  function add(id) {
    const tile = makeTile(id);
    tiles.set(id, tile);
    grid.append(tile.root);
    if (id === room.selfId) {
      tile.root.dataset.self = "";
      tile.video.muted = true;
      const video = devices.videoTrack();
      setTileStream(tile, video ? new MediaStream([video]) : null);
    } else if (remoteOf(id)) {
      setTileStream(tile, remoteOf(id).stream);
    }
  }

  function remove(id) {
    const tile = tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.root.remove();
    tiles.delete(id);
  }

  function setTileStream(tile, stream) {
    if (tile.stream === stream) return;
    tile.stream = stream;
    tile.videoReady = false;
    tile.video.srcObject = stream;
    if (stream) play(tile);
  }

  function play(tile) {
    tile.video.play().catch((err) => {
      if (err?.name !== "NotAllowedError" || tile.root.dataset.self !== undefined) return;
      // Autoplay with sound refused: play muted now and offer a click to turn the sound on.
      tile.video.muted = true;
      tile.video.play().catch(() => {});
      if (audioBlocked) return;
      audioBlocked = true;
      toast(t("meeting.soundPaused"), { icon: "i-volume", action: { label: t("meeting.soundOn"), run: unblockAudio }, timeout: 0 });
    });
  }

  function unblockAudio() {
    audioBlocked = false;
    for (const tile of tiles.values()) {
      if (tile.root.dataset.self !== undefined) continue;
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
  }

  /** Redraws a participant's tile from what is known of them. */
  function update(id) {
    const tile = tiles.get(id);
    const p = room.person(id);
    if (!tile || !p) return;
    const self = id === room.selfId;
    const name = p.displayName ?? t("meeting.guest");
    const label = self ? t("meeting.selfName", { name }) : name;
    tile.name.textContent = label;
    tile.root.setAttribute("aria-label", label);
    tile.badge.textContent = initials(name);
    tile.avatar.style.setProperty("--hue", String(hueOf(p.id)));
    tile.host.hidden = p.role !== "host";
    const micOn = self ? devices.micLive : p.micOn !== false;
    tile.root.dataset.mic = micOn ? "on" : "off";
    tile.mic.title = t(p.mutedByHost ? "meeting.mutedByHost" : "meeting.micIsOff");
    tile.mic.setAttribute("aria-label", tile.mic.title);
    toggleData(tile.root, "mutedByHost", Boolean(p.mutedByHost));
    const { videoOn, connecting } = self ? { videoOn: devices.cameraLive, connecting: false } : remoteVideo(p, tile);
    tile.root.dataset.video = videoOn ? "on" : "off";
    toggleData(tile.root, "status", connecting);
  }

  /** Whether another participant's video shows, or is on its way ("connecting"). */
  function remoteVideo(p, tile) {
    const wantsVideo = p.cameraOn !== false && p.publishing !== false;
    return {
      videoOn: wantsVideo && Boolean(remoteOf(p.id)?.video) && tile.videoReady,
      connecting: wantsVideo && p.publishing === true && mediaStatus.ready && !mediaStatus.banner && !tile.videoReady,
    };
  }

  /** Sizes the tiles to fill the stage: the column count that gives the largest tiles wins. */
  function layout() {
    const count = tiles.size;
    if (!count) return;
    const width = stage.clientWidth;
    const height = stage.clientHeight;
    if (!width || !height) return;
    const narrow = width < 640;
    const gap = count > 1 ? (narrow ? 8 : 12) : 0;
    const best = bestGrid(count, width, height, gap, narrow);
    grid.style.setProperty("--tile-w", `${Math.floor(best.w)}px`);
    grid.style.setProperty("--tile-h", `${Math.floor(best.h)}px`);
    grid.style.setProperty("--gap", `${gap}px`);
    grid.dataset.count = String(count);
    // Rows hold exactly `cols` tiles (the last one fewer, centred).
    grid.style.maxWidth = `${Math.ceil(best.cols * best.w + (best.cols - 1) * gap) + 1}px`;
  }

  return Object.freeze({
    render,
    update,
    updateAll() {
      for (const id of tiles.keys()) update(id);
    },
    /** Removes every tile (the room is left, or entered again). */
    clear() {
      for (const id of [...tiles.keys()]) remove(id);
    },
    /** A participant's received media (null: none). */
    setStream(id, stream) {
      const tile = tiles.get(id);
      if (tile) setTileStream(tile, stream);
      update(id);
    },
    /** Your tile shows your camera as it is now. */
    refreshSelf() {
      const tile = tiles.get(room.selfId);
      if (!tile) return;
      const video = devices.videoTrack();
      if (tile.stream?.getVideoTracks()[0] !== video) setTileStream(tile, video ? new MediaStream([video]) : null);
      update(room.selfId);
    },
    layout,
    ids: () => [...tiles.keys()],
    setSpeaking(id, on) {
      const tile = tiles.get(id);
      if (tile) toggleData(tile.root, "speaking", on);
    },
  });
}

/** The tile size and column count that give the largest tiles (within the aspect bounds). */
function bestGrid(count, width, height, gap, narrow) {
  // Tiles stay between 16:9 and 9:16 on a phone (it fills its screen, as phone apps do) or
  // 5:4 on wider screens (11:10 for two side by side).
  const minAspect = narrow ? 9 / 16 : count === 2 ? 1.1 : 1.25;
  const maxAspect = 16 / 9;
  let best = { w: 0, h: 0, cols: 1 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    let w = (width - gap * (cols - 1)) / cols;
    let h = (height - gap * (rows - 1)) / rows;
    if (w / h > maxAspect) w = h * maxAspect;
    else if (w / h < minAspect) h = w / minAspect;
    if (w * h > best.w * best.h) best = { w, h, cols };
  }
  const minWidth = narrow ? 140 : 180;
  if (best.w < minWidth) {
    best = { w: minWidth, h: minWidth / 1.4, cols: Math.max(1, Math.floor((width + gap) / (minWidth + gap))) };
  }
  return best;
}
