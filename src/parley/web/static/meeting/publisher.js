// Sending your camera and microphone to Janus: one sendonly connection (video in simulcast h/m/l
// within the meeting's bitrate), published with `publish` (the first one joins the Janus room),
// renegotiated when a device comes later, and why it could not be (the room's publishers full,
// no media server, another error).

import { t } from "/i18n.js";
import { Peer } from "/meeting/peer.js";

/**
 * @param {object} deps
 * @param {boolean} deps.live false in the demo: nothing is sent
 * @param {() => void} deps.onChange what `blocked` or `publishing` depend on changed (redraw)
 */
export function createPublisher({ phase, room, devices, mediaStatus, request, toast, onChange, live }) {
  let peer = null;
  let blocked = null; // null | "full" | "error"

  function open() {
    const conn = new Peer("publisher", room.iceServers, {
      trickle: (payload) => request("trickle", payload).catch(() => {}),
      failed: (failedPeer) => {
        if (peer === failedPeer && !mediaStatus.banner) toast(t("meeting.pubFailed"), { tone: "error" });
      },
    });
    peer = conn;
    return conn;
  }

  function simulcastEncodings() {
    const bitrate = room.meeting?.bitrate ?? 1_024_000;
    return [
      { rid: "h", maxBitrate: bitrate },
      { rid: "m", scaleResolutionDownBy: 2, maxBitrate: Math.max(Math.round(bitrate / 4), Math.min(bitrate, 60_000)) },
      { rid: "l", scaleResolutionDownBy: 4, maxBitrate: Math.max(Math.round(bitrate / 16), Math.min(bitrate, 30_000)) },
    ];
  }

  function addAudio(pc, track) {
    pc.addTransceiver(track, { direction: "sendonly", streams: [devices.stream] });
  }

  /** Video in simulcast, else (a browser that refuses it) one encoding within the bitrate. */
  function addVideo(pc, track) {
    try {
      return pc.addTransceiver(track, { direction: "sendonly", streams: [devices.stream], sendEncodings: simulcastEncodings() });
    } catch {
      const bitrate = room.meeting?.bitrate ?? 1_024_000;
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [devices.stream] });
      const params = transceiver.sender.getParameters();
      if (params.encodings?.length) {
        params.encodings[0].maxBitrate = bitrate;
        transceiver.sender.setParameters(params).catch(() => {});
      }
      return transceiver;
    }
  }

  /** Sends the camera and mic (whatever there is): the first `publish` joins the Janus room. */
  async function publish() {
    if (!phase.inRoom() || !mediaStatus.ready || !live) return;
    const audio = devices.audioTrack();
    const video = devices.videoTrack();
    if (!audio && !video) return; // receive only
    close();
    const conn = open();
    try {
      if (audio) addAudio(conn.pc, audio);
      if (video) addVideo(conn.pc, video);
      await negotiate(conn);
      blocked = null;
    } catch (err) {
      if (peer !== conn) return;
      close();
      failed(err);
    }
    onChange();
  }

  async function negotiate(conn) {
    const { pc } = conn;
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await request("publish", {
      jsep: { type: "offer", sdp: pc.localDescription.sdp },
      micOn: devices.micLive,
      cameraOn: devices.cameraLive,
    });
    if (peer !== conn) return;
    await pc.setRemoteDescription(answer.jsep);
    conn.markReady();
  }

  /** A device that came later: renegotiate (or publish for the first time). */
  async function addTrack(track) {
    if (!live) return;
    const conn = peer;
    if (!conn) {
      await publish();
      return;
    }
    try {
      if (track.kind === "video") addVideo(conn.pc, track);
      else addAudio(conn.pc, track);
      await negotiate(conn);
    } catch (err) {
      failed(err);
    }
  }

  function failed(err) {
    switch (err.code) {
      case "PUBLISHERS_FULL":
        blocked = "full";
        toast(t("meeting.pubFull", { max: room.meeting?.maxPublishers }), { icon: "i-cam-off", timeout: 8000 });
        break;
      case "MEDIA_UNAVAILABLE":
        mediaStatus.setReady(false);
        mediaStatus.setBanner("meeting.waitingVideo");
        break;
      default:
        blocked = "error";
        toast(t("meeting.sendFailed", { message: err.message }), { tone: "error" });
    }
    onChange();
  }

  function close() {
    if (!peer) return;
    peer.close();
    peer = null;
  }

  return Object.freeze({
    publish,
    addTrack,
    close,
    /** Whether the server hears of your media from here (no connection yet: `publish` will say it). */
    get live() {
      return live;
    },
    get active() {
      return peer !== null;
    },
    /** The connection is negotiated. */
    get publishing() {
      return Boolean(peer?.ready);
    },
    /** Why sending is off: null | "full" | "error". */
    get blocked() {
      return blocked;
    },
    unblock() {
      blocked = null;
    },
    /** One of Janus's candidates for this connection. */
    addRemoteCandidate(candidate) {
      peer?.addRemoteCandidate(candidate);
    },
  });
}
