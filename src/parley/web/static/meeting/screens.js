// The page's sections, one per phase (loading, notice, lobby, room, ended), and the two
// full-page messages: the notice before joining (not found, ended, unreachable) and the end
// screen after the room (left, removed, ended, deleted, disconnected).

import { $ } from "/dom.js";
import { t } from "/i18n.js";
import { screenOf } from "/meeting/phase.js";

const NOTICES = {
  "not-found": ["i-search-off", "meeting.notFound", "meeting.notFoundText"],
  ended: ["i-calendar-x", "meeting.endedTitle", "meeting.endedNoticeText"],
  unreachable: ["i-wifi-off", "meeting.unreachable", "meeting.unreachableText"],
};

// [icon, title, text (null: "you were in <title>"), whether the rejoin button shows]
const ENDINGS = {
  left: ["i-leave", "meeting.end.left", null, true],
  kicked: ["i-user-x", "meeting.end.kicked", "meeting.end.kickedText", false],
  ended: ["i-calendar-x", "meeting.end.ended", "meeting.end.endedText", false],
  deleted: ["i-calendar-x", "meeting.end.deleted", "meeting.end.deletedText", false],
  disconnected: ["i-wifi-off", "meeting.end.disconnected", "meeting.end.disconnectedText", true],
};

export function createScreens() {
  const ui = {
    app: $("app"),
    loading: $("loading"),
    notice: $("notice"),
    noticeIcon: $("notice-icon"),
    noticeTitle: $("notice-title"),
    noticeText: $("notice-text"),
    noticeRetry: $("notice-retry"),
    lobby: $("lobby"),
    room: $("room"),
    ended: $("ended"),
    endedIcon: $("ended-icon"),
    endedTitle: $("ended-title"),
    endedText: $("ended-text"),
    rejoinBtn: $("rejoin-btn"),
  };
  let notice = null; // {kind, detail}
  let ending = null; // {reason, wasHostEnding, meeting}
  let endReason = null;
  ui.rejoinBtn.addEventListener("click", () => location.reload());
  ui.noticeRetry.addEventListener("click", () => location.reload());

  /** Shows the section of `phase` (and only it). */
  function show(phase) {
    const screen = screenOf(phase);
    ui.app.dataset.phase = screen;
    ui.loading.hidden = screen !== "loading";
    ui.notice.hidden = screen !== "notice";
    ui.lobby.hidden = screen !== "lobby" && screen !== "joining";
    ui.room.hidden = screen !== "room";
    ui.ended.hidden = screen !== "ended";
  }

  function renderNotice() {
    const [iconName, title, text] = NOTICES[notice.kind];
    ui.noticeIcon.setAttribute("href", `#${iconName}`);
    ui.noticeTitle.textContent = t(title);
    ui.noticeText.textContent = notice.detail ?? t(text);
    document.title = `${t(title)} · Parley`;
  }

  function renderEnded() {
    const { reason, wasHostEnding, meeting } = ending;
    const [iconName, title, text, canRejoin] = ENDINGS[reason] ?? ENDINGS.disconnected;
    ui.endedIcon.setAttribute("href", `#${iconName}`);
    ui.endedTitle.textContent = t(wasHostEnding ? "meeting.end.byYou" : title);
    ui.endedText.textContent = text ? t(text) : meeting ? t("meeting.end.wereIn", { title: meeting.title }) : "";
    ui.rejoinBtn.hidden = !canRejoin;
    document.title = `${ui.endedTitle.textContent} · Parley`;
  }

  return Object.freeze({
    show,
    /** Why the page is out: a notice's kind (null when unreachable) or the room's end reason. */
    get endReason() {
      return endReason;
    },
    /** Fills the notice (`detail` replaces its text: the server's words). */
    notice(kind, detail) {
      notice = { kind, detail };
      renderNotice();
      ui.noticeRetry.hidden = kind !== "unreachable";
      endReason = kind === "unreachable" ? null : kind;
    },
    /** Fills the end screen. */
    ended(reason, wasHostEnding, meeting) {
      endReason = reason;
      ending = { reason, wasHostEnding, meeting };
      renderEnded();
    },
    /** Says the shown message again in the language just chosen. */
    relabel(phase) {
      if (phase === "notice") renderNotice();
      if (phase === "ended") renderEnded();
    },
  });
}
