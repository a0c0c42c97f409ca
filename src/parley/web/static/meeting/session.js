// The room's life: joining (the socket, then `join`), entering the room from the answer, what the
// server says happens in the meeting (people coming, going and changing, the host's mute, media
// down and back, the meeting closed), getting back in after the connection dropped, leaving and
// the end. It moves the page through the room's phases (see phase.js).

import { $ } from "/dom.js";
import { t } from "/i18n.js";

const SERVER_PUT_OUT_GRACE_MS = 1500; // `kicked` / `meeting-closed` come before the disconnect
const RETRIED = new Set(["TOO_MANY_ATTEMPTS", "NOT_CONNECTED", "TIMEOUT"]); // a rejoin tried again

/**
 * @param {object} parts the page's parts (see meeting.js); `demo` is null unless asked for
 */
export function createSession(parts) {
  const { phase, room, socket, devices, publisher, subscriber, speaking, tiles, controls } = parts;
  const { chat, assistant, people, panels, mediaStatus, screens, toasts, confirm, demo } = parts;
  const { toast } = toasts;
  let joinPayload = null; // the last `join` payload, sent again to get back in
  let pinToastAt = 0; // when the host was last shown wrong-PIN counts (pin-attempts)
  let pinPaused = false;
  let rejoins = 0; // rejoin attempts so far

  bindServerEvents();
  socket.onConnection({ lost: onConnectionLost, back: () => phase.is("reconnecting") && rejoin() });
  $("leave-btn").addEventListener("click", leave);
  $("end-btn").addEventListener("click", endForEveryone);
  addEventListener("pagehide", () => {
    if (phase.inRoom()) socket.emit("leave", {});
  });

  function bindServerEvents() {
    socket.on("participant-joined", onJoined);
    socket.on("participant-left", onLeft);
    socket.on("participant-updated", ({ participant }) => onUpdated(participant));
    socket.on("subscriber-offer", subscriber.offer);
    socket.on("trickle", onTrickle);
    socket.on("muted-by-host", ({ muted }) => controls.applyMutedByHost(Boolean(muted), true));
    socket.on("kicked", () => end("kicked"));
    socket.on("meeting-closed", (p) => end(p.reason === "deleted" ? "deleted" : "ended"));
    socket.on("chat-message", (p) => p.message && chat.add(p.message));
    socket.on("assistant-chunk", assistant.onChunk);
    socket.on("assistant-done", assistant.onDone);
    socket.on("assistant-error", assistant.onError);
    socket.on("media-interrupted", onMediaInterrupted);
    socket.on("media-restored", onMediaRestored);
    socket.on("pin-attempts", onPinAttempts);
    // Failed requests also answer through their acknowledgement, which is where they are shown.
    socket.on("error", (p) => console.warn("parley: server error", p.event, p.code, p.message));
  }

  /** Connects and joins (the page is `joining`); on a refusal the socket goes and it throws. */
  async function join(payload) {
    joinPayload = payload;
    try {
      await socket.connect();
      enter(await socket.request("join", payload));
      socket.replayHeld();
      demo?.attachStreams();
    } catch (err) {
      socket.dropHeld();
      socket.disconnect();
      throw err;
    }
  }

  /** The room from `join`'s answer (the first time, or again after the connection dropped). */
  function enter(answer) {
    closePeers();
    tiles.clear();
    room.enter(answer);
    chat.reset(answer.chat);
    assistant.reset(answer.assistant);
    mediaStatus.setReady(answer.mediaReady !== false);
    devices.holdMic(Boolean(answer.self?.mutedByHost));
    publisher.unblock();
    phase.go("room");
    $("room-title").textContent = room.meeting?.title ?? "";
    $("room-top-title").textContent = room.meeting?.title ?? "";
    relabel();
    tiles.render();
    controls.render();
    chat.render();
    assistant.render();
    people.render();
    speaking.start();
    if (!mediaStatus.ready) {
      mediaStatus.setBanner("meeting.waitingVideo");
    } else {
      mediaStatus.setBanner(null);
      publisher.publish();
    }
    controls.resendQuality();
  }

  /** After the socket came back: join again (a new participant) and restart media. Only the
   * latest attempt counts (an older one can fail late, after the socket came back again). */
  async function rejoin() {
    if (!phase.go("rejoining")) return;
    const attempt = ++rejoins;
    let answer;
    try {
      answer = await socket.request("join", joinPayload);
    } catch (err) {
      if (attempt !== rejoins) return;
      socket.dropHeld();
      rejoinFailed(err);
      return;
    }
    if (attempt !== rejoins || !phase.is("rejoining")) {
      socket.dropHeld(); // left meanwhile
      return;
    }
    enter(answer);
    socket.replayHeld();
    toast(t("meeting.reconnected"), { icon: "i-check" });
  }

  function rejoinFailed(err) {
    if (!RETRIED.has(err.code)) {
      end(err.code === "MEETING_ENDED" ? "ended" : err.code === "MEETING_NOT_FOUND" ? "deleted" : "disconnected");
      return;
    }
    if (phase.is("rejoining")) phase.go("reconnecting"); // the next connect tries again
    if (err.code === "TOO_MANY_ATTEMPTS") {
      setTimeout(() => phase.is("reconnecting") && rejoin(), (err.retryAfter || 1) * 1000);
    }
  }

  function onConnectionLost(reason) {
    if (!phase.inRoom()) return;
    if (reason === "io server disconnect") {
      // The server put this socket out without saying why (kicked / closed come first).
      setTimeout(() => phase.inRoom() && end("disconnected"), SERVER_PUT_OUT_GRACE_MS);
      return;
    }
    if (phase.is("room", "rejoining")) phase.go("reconnecting");
    closePeers();
    mediaStatus.setBanner("meeting.connectionLost");
  }

  function closePeers() {
    publisher.close();
    subscriber.close();
    speaking.resetLevels();
    tiles.updateAll();
  }

  function onTrickle({ target, candidate }) {
    if (target === "publisher") publisher.addRemoteCandidate(candidate ?? null);
    else if (target === "subscriber") subscriber.addRemoteCandidate(candidate ?? null);
  }

  function onJoined({ participant }) {
    if (!participant?.id) return;
    const known = room.has(participant.id);
    room.put(participant);
    tiles.render();
    people.render();
    if (!known && participant.id !== room.selfId) toast(t("meeting.joined", { name: participant.displayName }), { icon: "i-people" });
  }

  function onLeft({ participantId, reason }) {
    const participant = room.person(participantId);
    if (!participant || participantId === room.selfId) return;
    room.remove(participantId);
    subscriber.forget(participantId);
    speaking.forget(participantId);
    tiles.render();
    people.render();
    toast(t(reason === "kicked" ? "meeting.removed" : "meeting.left", { name: participant.displayName }), { icon: "i-leave" });
  }

  /** A participant (you, after `media`) as the server now describes them. */
  function onUpdated(participant) {
    if (!participant?.id) return;
    const known = room.has(participant.id);
    room.put(participant);
    if (!known) tiles.render();
    if (participant.id === room.selfId && Boolean(participant.mutedByHost) !== devices.mutedByHost) {
      controls.applyMutedByHost(Boolean(participant.mutedByHost), false);
    }
    tiles.update(participant.id);
    people.render();
  }

  /** The host hears of wrong PINs (counts only): a toast, at most one every few seconds unless
   * joining by PIN has just been paused. */
  function onPinAttempts({ failed, lockedFor }) {
    if (!Number.isFinite(failed) || failed < 1) return;
    const paused = Number.isFinite(lockedFor) && lockedFor > 0;
    const now = Date.now();
    if (now - pinToastAt < 5000 && !(paused && !pinPaused)) return;
    pinToastAt = now;
    pinPaused = paused;
    const sub = paused ? `${t("meeting.pinPaused", { seconds: lockedFor })} ${t("meeting.pinAdvice")}` : undefined;
    toast(t("meeting.pinAttempts", { failed }), { tone: paused ? "error" : "info", icon: "i-lock", sub, wrap: true, timeout: paused ? 15_000 : 4500 });
  }

  function onMediaInterrupted() {
    mediaStatus.setReady(false);
    closePeers();
    mediaStatus.setBanner("meeting.reconnectingMedia");
  }

  function onMediaRestored() {
    mediaStatus.setReady(true);
    closePeers();
    mediaStatus.setBanner(null);
    toast(t("meeting.mediaBack"), { icon: "i-check" });
    publisher.publish();
    controls.resendQuality();
  }

  async function endForEveryone() {
    const ok = await confirm.ask(t("meeting.endConfirm"), t("meeting.endConfirmText"), t("meeting.endConfirmOk"));
    if (!ok || !phase.inRoom()) return;
    try {
      await socket.request("end-meeting", {});
      // `meeting-closed` normally follows; don't wait for it forever.
      setTimeout(() => phase.inRoom() && end("ended"), SERVER_PUT_OUT_GRACE_MS);
    } catch (err) {
      toast(err.message, { tone: "error" });
    }
  }

  async function leave() {
    if (!phase.can("leaving")) return;
    phase.go("leaving");
    try {
      await socket.request("leave", {}, 3000);
    } catch {
      /* leaving anyway: the server also notices the socket going */
    }
    end("left");
  }

  /** Out of the room: everything live is stopped, in order, and the end screen says why. */
  function end(reason) {
    if (!phase.inRoom()) return;
    const wasHostEnding = reason === "ended" && room.isHost();
    speaking.stop();
    closePeers();
    socket.disconnect();
    devices.stop();
    tiles.clear();
    panels.close();
    confirm.close();
    toasts.clear();
    mediaStatus.setBanner(null);
    screens.ended(reason, wasHostEnding, room.meeting);
    phase.go("ended");
  }

  /** The room's words in the language just chosen (the rest redraws with its parts). */
  function relabel() {
    document.title = `${room.meeting?.title ?? t("meeting.room")} · Parley`;
  }

  /** The devices opened after joining (a slow camera): show and send them now. */
  function devicesOpened() {
    if (!phase.inRoom()) return;
    tiles.refreshSelf();
    if (!publisher.active) publisher.publish();
  }

  return Object.freeze({ join, relabel, devicesOpened, onSelf: onUpdated });
}
