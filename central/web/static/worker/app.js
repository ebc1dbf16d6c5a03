// gridwatch worker terminal: log in, see my tickets live, open one, accept it,
// resolve it with a note and a photo. Vanilla ES modules, no build step.
import { eventTypeLabel, setEventTypeLabels } from "/common/labels.js";
import * as actionQueue from "./action-queue.js";
import * as api from "./api.js";
import { drawGridMap } from "./map.js";
import { openMonth } from "./month.js";
import { closeReport, forgetReport, initReport, openReport, sendQueued } from "./report.js";

// -- labels (English first, Chinese second) ----------------------------------------

const STATES = {
  pending_review: ["In review", "待审核"],
  dispatched: ["To accept", "待接单"],
  accepted: ["In progress", "处理中"],
  resolved: ["Resolved", "待核查"],
  returned: ["Returned", "退回重办"],
  closed: ["Closed", "已结案"],
  rejected: ["Rejected", "已驳回"],
};
const PRIORITIES = {
  urgent: ["Urgent", "特急", 4],
  high: ["High", "紧急", 3],
  normal: ["Normal", "一般", 2],
  low: ["Low", "较低", 1],
};
const SOURCES = { ai: "AI camera · 智能识别", citizen: "Citizen report · 市民上报", patrol: "Patrol · 巡查发现" };
const ACTIONS = {
  create: "Created",
  confirm: "Confirmed by operator",
  dispatch: "Dispatched",
  accept: "Accepted",
  resolve: "Resolved",
  close: "Closed",
  return: "Returned for rework",
  reject: "Rejected",
  reassign: "Reassigned",
  escalate: "Escalated",
  observe: "Seen again",
};
// Notices that put a ticket in my hands: they get the sound and the "New" badge.
const CUE_ACTIONS = new Set(["dispatched", "reassigned", "returned"]);
const ACTIONABLE = new Set(["dispatched", "returned", "accepted"]);
// What the camera said when it looked again after a resolution (central/verify).
const CAMERA_CHECKS = {
  pending: { kind: "info", title: ["Camera check under way", "摄像头复核中"] },
  gone: { kind: "ok", title: ["Verified by camera", "摄像头已确认"] },
  present: { kind: "warn", title: ["The camera still sees it", "摄像头仍检测到"] },
  cannot_verify: { kind: "info", title: ["The camera could not check", "摄像头无法复核"] },
};
const CHECKED_STATES = new Set(["resolved", "closed", "returned"]);
const MAX_PHOTO_BYTES = 3 * 1024 * 1024; // larger photos are scaled down first
const MAX_PHOTO_SIDE = 2048;

// -- state ---------------------------------------------------------------------

const state = {
  me: null,
  tickets: [],
  listLoaded: false,
  showAll: false,
  fresh: new Set(), // ids that arrived live and have not been opened yet
  detail: null, // the open TicketDetail
  detailShownId: null, // ticket whose evidence and map are drawn
  freeMap: () => {},
  source: null,
  retryDelay: 1000,
  streamAttempt: 0, // bumped by disconnect(): a pending connect() then gives up
  retryTimer: 0,
  opened: false, // the stream has been open before (reopen → re-fetch)
  listRequest: 0,
  gridCache: new Map(), // prefix → FeatureCollection promise
  gridNames: new Map(), // grid code → name
  loggedIn: false,
  queued: [], // my ticket actions kept on the phone (action-queue.js)
};

// -- small DOM helpers -----------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** Element with attributes (`class`, `text`, `on*` handlers, others as attributes)
 * and children (nodes, strings, null). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const PIN =
  '<svg aria-hidden="true" viewBox="0 0 24 24" class="icon-sm"><path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="12" cy="9.5" r="2.5" fill="currentColor"/></svg>';

/** An inline SVG icon from trusted markup (constants in this file only). */
function icon(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup;
  return template.content.firstElementChild;
}

const zh = (text) => h("span", { class: "zh", lang: "zh-CN" }, text);

function bilingual([en, cn]) {
  return [en, " ", zh(cn)];
}

function stateChip(s) {
  const label = STATES[s] || [s, ""];
  return h("span", { class: `chip state state-${s}` }, ...bilingual(label));
}

function priorityChip(p) {
  const label = PRIORITIES[p] || [p, "", 0];
  return h("span", { class: `chip prio prio-${p}` }, h("span", { class: "prio-dot", "aria-hidden": "true" }), label[0], " ", zh(label[1]));
}

const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const DATE_TIME = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? TIME.format(d) : DATE_TIME.format(d);
}

/** "zh-CN" for text with Chinese characters (names from the data), else null. */
function langOf(text) {
  return /[\u3400-\u9fff]/.test(text || "") ? "zh-CN" : null;
}

function gridLabel(code) {
  if (!code) return "No grid";
  return state.gridNames.get(code) || `${code.length === 15 ? "Grid" : "Area"} ${code}`;
}

// -- announcements and toasts ---------------------------------------------------

function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  // A change after a tick is read even when the same text repeats.
  setTimeout(() => (region.textContent = text), 50);
}

/** Show a message; one with the same `key` as a shown one replaces it. */
function toast(text, { kind = "info", action = null, timeout = 6000, key = null } = {}) {
  const box = $("toasts");
  if (key) dropToast(key);
  const item = h("div", { class: `toast toast-${kind}`, dataset: key ? { key } : {} }, h("span", { class: "toast-text" }, text));
  if (action) {
    item.append(
      h("button", {
        type: "button",
        class: "btn btn-small btn-on-dark",
        text: action.label,
        onclick: () => {
          item.remove();
          action.run();
        },
      }),
    );
  }
  item.append(
    h("button", {
      type: "button",
      class: "toast-close",
      "aria-label": "Dismiss message",
      text: "×",
      onclick: () => item.remove(),
    }),
  );
  box.append(item);
  while (box.children.length > 2) box.firstElementChild.remove();
  if (timeout) setTimeout(() => item.remove(), timeout);
  return item;
}

function dropToast(key) {
  for (const item of $("toasts").querySelectorAll(".toast")) {
    if (item.dataset.key === key) item.remove();
  }
}

// -- the cue: sound, vibration ----------------------------------------------------

let audio = null;

/** Create/resume the AudioContext; browsers allow it only in a user gesture. */
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

function beep() {
  if (!audio) unlockAudio();
  if (!audio) return;
  try {
    const start = audio.currentTime + 0.02;
    for (const [offset, freq] of [
      [0, 880],
      [0.18, 1175],
    ]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.15);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.16);
    }
  } catch {
    // no sound is better than a broken terminal
  }
}

function cue(ticket, notice) {
  beep();
  if (typeof navigator.vibrate === "function") {
    try {
      navigator.vibrate([200, 100, 200]);
    } catch {
      // not allowed here
    }
  }
  const id = notice.ticket_id;
  const title = ticket?.title || notice.title;
  const text =
    notice.action === "returned"
      ? `Ticket #${id} was returned for rework: ${title}`
      : `New ticket #${id}: ${title}`;
  toast(text, {
    kind: "new",
    key: `ticket-${id}`,
    action: { label: "Open", run: () => go(`#/ticket/${id}`) },
    timeout: 10000,
  });
}

// -- countdowns -------------------------------------------------------------------

function formatSpan(seconds) {
  const s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d) return `${d} d ${hrs} h`;
  if (hrs) return `${hrs} h ${String(min).padStart(2, "0")} min`;
  return `${String(min).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

/** The client-clock deadline (ms) of a ticket, from the server's time_left_s. */
function deadlineOf(ticket, fetchedAt) {
  if (ticket.time_left_s === null || ticket.time_left_s === undefined) return null;
  return fetchedAt + ticket.time_left_s * 1000;
}

function countdownText(dueMs, overdueFlag) {
  const left = (dueMs - Date.now()) / 1000;
  if (left < 0 || overdueFlag) {
    return { text: `Overdue ${formatSpan(Math.min(left, 0))}`, overdue: true };
  }
  return { text: `${formatSpan(left)} left`, overdue: false };
}

function countdown(ticket, big = false) {
  if (ticket._due === null || ticket._due === undefined) {
    const quiet = {
      resolved: "Waiting for check",
      closed: `Closed ${when(ticket.closed_at)}`,
      rejected: "Rejected",
      pending_review: "Not dispatched yet",
    };
    return h("span", { class: `countdown countdown-idle${big ? " countdown-big" : ""}`, text: quiet[ticket.state] || "—" });
  }
  const node = h("span", {
    class: `countdown${big ? " countdown-big" : ""}`,
    dataset: { due: String(ticket._due), overdue: ticket.overdue ? "1" : "" },
  });
  paintCountdown(node);
  return node;
}

function paintCountdown(node) {
  const { text, overdue } = countdownText(Number(node.dataset.due), node.dataset.overdue === "1");
  if (node.textContent !== text) node.textContent = text;
  node.classList.toggle("is-overdue", overdue);
  const card = node.closest(".card");
  if (card) card.classList.toggle("is-overdue", overdue);
}

setInterval(() => {
  for (const node of document.querySelectorAll(".countdown[data-due]")) paintCountdown(node);
}, 1000);

// -- views and routing ------------------------------------------------------------

function show(view) {
  for (const name of ["login", "list", "detail", "report", "month"]) $(`view-${name}`).hidden = name !== view;
  if (view !== "report") closeReport();
  $("appbar").hidden = view === "login";
  document.body.dataset.view = view;
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!state.loggedIn) return;
  const match = /^#\/ticket\/(\d+)$/.exec(location.hash);
  if (match) {
    openDetail(Number(match[1]));
  } else if (location.hash === "#/report") {
    closeDetail();
    show("report");
    document.title = "Report a case · gridwatch Worker";
    openReport();
  } else if (location.hash === "#/month") {
    closeDetail();
    show("month");
    document.title = "My month · gridwatch Worker";
    openMonth();
  } else {
    closeDetail();
    show("list");
    document.title = "My tickets · gridwatch Worker";
    renderList();
    if (state.listLoaded) loadList(); // back from a ticket: fresh times and states
  }
}

function focusHeading(node) {
  if (!node) return;
  node.setAttribute("tabindex", "-1");
  node.focus({ preventScroll: false });
}

// -- login and logout ----------------------------------------------------------------

function showLogin(message = "", kind = "warn") {
  state.loggedIn = false;
  disconnect();
  closeDetail();
  state.tickets = [];
  state.listLoaded = false;
  state.fresh.clear();
  state.queued = []; // the next login reads its own
  forgetReport();
  show("login");
  document.title = "Log in · gridwatch Worker";
  const box = $("login-message");
  box.hidden = !message;
  box.className = `notice notice-${kind}`;
  box.textContent = message;
  $("login-submit").disabled = false;
  $("password").value = "";
  requestAnimationFrame(() => $("username").focus());
}

async function onLoginSubmit(event) {
  event.preventDefault();
  unlockAudio(); // the login click is the user gesture that allows sound later
  const username = $("username").value.trim();
  const password = $("password").value;
  const box = $("login-message");
  if (!username || !password) {
    box.className = "notice notice-error";
    box.textContent = !username ? "Enter your username. 请输入账号。" : "Enter your password. 请输入密码。";
    box.hidden = false;
    (!username ? $("username") : $("password")).focus();
    return;
  }
  const button = $("login-submit");
  button.disabled = true;
  button.classList.add("is-busy");
  try {
    const answer = await api.login(username, password);
    if (answer.role !== "worker") {
      api.revoke(answer.access_token);
      box.className = "notice notice-error";
      box.textContent = `This terminal is for grid workers; ${answer.username} is a ${answer.role}. Staff use the console at /console/.`;
      box.hidden = false;
      return;
    }
    api.saveSession({
      token: answer.access_token,
      username: answer.username,
      workerId: answer.worker_id,
      expiresAt: answer.expires_at,
    });
    $("password").value = "";
    await startSession(true);
  } catch (err) {
    box.className = "notice notice-error";
    box.textContent = err.message || String(err);
    box.hidden = false;
    $("password").focus();
    $("password").select(); // typing again replaces the wrong password
  } finally {
    button.disabled = false;
    button.classList.remove("is-busy");
  }
}

async function logout() {
  const bearer = api.token();
  disconnect();
  if (bearer) {
    try {
      await api.request("/auth/logout", { method: "POST", doing: "log out" });
    } catch {
      // the token is dropped here either way
    }
  }
  api.clearSession();
  state.me = null;
  if (location.hash) history.replaceState(null, "", location.pathname);
  showLogin("You have logged out. 已退出登录。", "info");
}

api.setUnauthorizedHandler((message) => {
  if (!state.loggedIn) return;
  api.clearSession();
  showLogin(message || "Your session has ended. Please log in again.");
});

async function startSession(fromLogin = false) {
  state.loggedIn = true;
  const views = { "#/report": "report", "#/month": "month" };
  show(location.hash.startsWith("#/ticket/") ? "detail" : views[location.hash] || "list");
  try {
    state.me = await api.request("/me", { doing: "load your profile" });
  } catch (err) {
    if (err.status === 401) return; // the handler is showing the login
    state.me = { username: api.loadSession()?.username, worker_id: api.loadSession()?.workerId, areas: [] };
    if (err.status === 0) setOffline(true);
  }
  if (!state.loggedIn) return;
  if (state.me.role && state.me.role !== "worker") {
    api.clearSession();
    showLogin("This terminal is for grid workers. Please log in with a worker account.", "error");
    return;
  }
  renderWho();
  loadGridNames();
  const typesLoaded = loadEventTypes();
  connect();
  await typesLoaded; // the ticket view names the event type
  if (!state.loggedIn) return;
  route(); // after a 401 on a ticket, logging in again goes back to it
  sendQueued(); // reports kept on the phone while it was offline
  state.queued = await actionQueue.items();
  actionQueue.sendQueuedActions(); // ticket actions kept likewise
  await loadList();
  if (fromLogin) {
    if (document.body.dataset.view === "list") focusHeading($("list-title"));
    announce(`Logged in as ${state.me.worker_name || state.me.username}.`);
  }
}

/** Event type labels from central's matter list; without them (offline) a type
 * reads as its name. */
async function loadEventTypes() {
  try {
    const body = await api.request("/event-types", { doing: "load the event type names" });
    setEventTypeLabels(body?.event_types);
  } catch {
    // offline, or refused: the types read as their names
  }
}

function renderWho() {
  const me = state.me || {};
  const who = $("who");
  who.replaceChildren();
  const name = me.worker_name || me.display_name;
  who.append(
    h("span", { class: "who-name", lang: langOf(name) }, name || me.username || ""),
    h("span", { class: "who-id", text: me.worker_id || me.username || "" }),
  );
  if (me.areas?.length) {
    const areas = me.areas.map(gridLabel).join(", ");
    who.append(h("span", { class: "who-area", lang: langOf(areas), text: areas }));
  }
}

async function loadGridNames() {
  const areas = state.me?.areas || [];
  await ensureGridNames(areas.filter((code) => code.length === 15));
  for (const code of areas.filter((c) => c.length !== 15 && !state.gridNames.has(c))) {
    try {
      const found = await api.request(`/areas?prefix=${encodeURIComponent(code)}`, { doing: "load area names" });
      const area = found.find((a) => a.code === code);
      if (area) state.gridNames.set(code, area.name);
    } catch {
      // names are a nicety
    }
  }
  renderWho();
}

/** Load the names of these grids (by community), then redraw what shows them. */
async function ensureGridNames(codes) {
  const prefixes = new Set(
    codes.filter((code) => code && code.length === 15 && !state.gridNames.has(code)).map((code) => code.slice(0, 12)),
  );
  if (!prefixes.size) return;
  await Promise.all([...prefixes].map((prefix) => gridsFor(prefix).catch(() => null)));
  if (state.listLoaded && document.body.dataset.view === "list") renderList();
}

function gridsFor(prefix) {
  if (!state.gridCache.has(prefix)) {
    const loading = api
      .request(`/grids?prefix=${encodeURIComponent(prefix)}`, { doing: "load the grid map" })
      .then((collection) => {
        for (const f of collection.features || []) {
          if (f.properties?.code) state.gridNames.set(f.properties.code, f.properties.name);
        }
        return collection;
      });
    loading.catch(() => state.gridCache.delete(prefix));
    state.gridCache.set(prefix, loading);
  }
  return state.gridCache.get(prefix);
}

// -- live notices (Server-Sent Events) ------------------------------------------------

function setLive(mode) {
  const live = $("live");
  live.dataset.state = mode;
  const text = { live: "Live", connecting: "Connecting", reconnecting: "Reconnecting", offline: "Offline" }[mode];
  $("live-text").textContent = text;
  live.title = mode === "live" ? "Live updates are on" : `Live updates: ${text.toLowerCase()}`;
}

async function connect() {
  disconnect();
  if (!api.token() || typeof EventSource === "undefined") return;
  const attempt = state.streamAttempt;
  setLive(state.opened ? "reconnecting" : "connecting");
  let url;
  try {
    url = await api.streamUrl(); // a fresh single-use ticket: never the token in a URL
  } catch (err) {
    if (attempt !== state.streamAttempt || err.status === 401) return; // 401 logs out
    setLive("offline");
    scheduleReconnect();
    return;
  }
  if (attempt !== state.streamAttempt || !state.loggedIn) return;
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("open", () => {
    setLive("live");
    state.retryDelay = 1000;
    if (state.opened) loadList(); // notices may have been missed meanwhile
    state.opened = true;
  });
  source.addEventListener("ticket", (event) => {
    let notice;
    try {
      notice = JSON.parse(event.data);
    } catch {
      return;
    }
    onNotice(notice);
  });
  source.addEventListener("error", () => {
    if (state.source !== source) return;
    // The browser's own retry would reuse the spent ticket: reconnect ourselves.
    source.close();
    state.source = null;
    setLive(navigator.onLine ? "reconnecting" : "offline");
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  clearTimeout(state.retryTimer);
  const delay = state.retryDelay;
  state.retryDelay = Math.min(state.retryDelay * 2, 30000);
  state.retryTimer = setTimeout(async () => {
    if (!state.loggedIn) return;
    try {
      await api.request("/me", { doing: "reconnect" }); // a 401 logs out
    } catch (err) {
      if (err.status === 401) return;
    }
    if (state.loggedIn) connect();
  }, delay);
}

function disconnect() {
  clearTimeout(state.retryTimer);
  state.streamAttempt += 1; // a connect() still waiting for its ticket gives up
  if (state.source) {
    state.source.close();
    state.source = null;
  }
}

async function onNotice(notice) {
  const id = notice.ticket_id;
  const mine = !notice.assignee_id || !state.me?.worker_id || notice.assignee_id === state.me.worker_id;
  const wanted = CUE_ACTIONS.has(notice.action) && mine;
  if (wanted) state.fresh.add(id);
  if (notice.action === "reassigned_away") {
    state.fresh.delete(id);
    toast(`Ticket #${id} was given to another worker.`, { kind: "info", key: `ticket-${id}` });
  }
  await loadList();
  const ticket = state.tickets.find((t) => t.id === id);
  if (wanted) cue(ticket, notice);
  else if (notice.action === "escalated" && ticket) {
    toast(`Ticket #${id} was escalated${notice.note ? `: ${notice.note}` : ""}.`, { kind: "warn", key: `ticket-${id}` });
  } else if (!mine && (notice.action === "closed" || notice.action === "rejected")) {
    // A case this worker reported on patrol, handled by someone else, has ended.
    toast(`Case #${id} you reported was ${notice.action}${notice.note ? `: ${notice.note}` : ""}.`, {
      kind: "info",
      key: `ticket-${id}`,
    });
  }
  if (state.detail && state.detail.id === id) refreshDetail();
}

// -- my tickets -----------------------------------------------------------------------

function priorityRank(p) {
  return PRIORITIES[p]?.[2] ?? 0;
}

function group(t) {
  if (ACTIONABLE.has(t.state)) return 0;
  if (t.state === "resolved" || t.state === "pending_review") return 1;
  return 2;
}

/** Overdue first, then priority (urgent > high > normal > low), then least time
 * left; tickets waiting on others (resolved) and finished ones after. */
function byUrgency(a, b) {
  const overdue = (t) => (t.overdue || (t._due !== null && t._due < Date.now()) ? 1 : 0);
  const left = (t) => (t._due === null ? Infinity : t._due);
  return (
    group(a) - group(b) ||
    overdue(b) - overdue(a) ||
    priorityRank(b.priority) - priorityRank(a.priority) ||
    left(a) - left(b) ||
    a.id - b.id
  );
}

async function loadList() {
  if (!state.loggedIn) return;
  const mine = ++state.listRequest;
  const list = $("tickets");
  list.setAttribute("aria-busy", "true");
  if (!state.listLoaded) renderSkeleton();
  try {
    const query = state.showAll ? "?all=true" : "";
    const page = await api.request(`/me/tickets${query}`, { doing: "load your tickets" });
    if (mine !== state.listRequest) return;
    const fetchedAt = Date.now();
    state.tickets = page.items.map((t) => ({ ...t, _due: deadlineOf(t, fetchedAt) })).sort(byUrgency);
    state.listLoaded = true;
    $("list-error").hidden = true;
    setOffline(false);
  } catch (err) {
    if (mine !== state.listRequest || err.status === 401) return;
    if (err.status === 0) setOffline(true);
    const box = $("list-error");
    box.textContent = err.message;
    box.hidden = false;
    if (!state.listLoaded) {
      state.listLoaded = true;
      state.tickets = [];
    }
  } finally {
    if (mine === state.listRequest) list.setAttribute("aria-busy", "false");
  }
  renderList();
  ensureGridNames(state.tickets.map((t) => t.grid_code));
}

function renderSkeleton() {
  const list = $("tickets");
  list.replaceChildren(
    ...[0, 1, 2].map(() =>
      h(
        "li",
        { class: "card card-skeleton", "aria-hidden": "true" },
        h("span", { class: "sk sk-chip" }),
        h("span", { class: "sk sk-title" }),
        h("span", { class: "sk sk-line" }),
      ),
    ),
  );
  list.append(h("li", { class: "sr-only", text: "Loading your tickets…" }));
  $("empty").hidden = true;
}

function ticketCard(t) {
  const fresh = state.fresh.has(t.id);
  const overdue = t.overdue || (t._due !== null && t._due < Date.now());
  const link = h(
    "a",
    { class: "card-link", href: `#/ticket/${t.id}`, dataset: { ticketId: String(t.id) } },
    h(
      "div",
      { class: "card-top" },
      priorityChip(t.priority),
      stateChip(t.state),
      fresh ? h("span", { class: "badge-new", text: "New" }) : null,
      isWaiting(t.id) ? h("span", { class: "chip chip-queued", text: "Waiting to send" }) : null,
      h("span", { class: "ticket-no", text: `#${t.id}` }),
    ),
    h("h2", { class: "card-title", lang: langOf(t.title), text: t.title }),
    h("p", { class: "card-cat", lang: "zh-CN", text: t.category_name }),
    t.state === "returned" && t.return_reason
      ? h("p", { class: "card-return" }, h("strong", { text: "Returned: " }), t.return_reason)
      : null,
    h(
      "div",
      { class: "card-meta" },
      h(
        "span",
        { class: "card-grid" },
        icon(PIN),
        h("span", { lang: langOf(gridLabel(t.grid_code)), text: gridLabel(t.grid_code) }),
      ),
      countdown(t),
    ),
  );
  return h(
    "li",
    {
      class: `card prio-${t.priority} state-${t.state}${fresh ? " is-new" : ""}${overdue ? " is-overdue" : ""}`,
      dataset: { ticketId: String(t.id), state: t.state },
    },
    link,
  );
}

function renderList() {
  if (!state.listLoaded) return;
  const list = $("tickets");
  const focused = document.activeElement?.closest?.(".card-link")?.dataset.ticketId;
  list.replaceChildren(...state.tickets.map(ticketCard));
  renderQueueBox();
  if (focused) list.querySelector(`.card-link[data-ticket-id="${focused}"]`)?.focus();
  $("empty").hidden = state.tickets.length > 0;
  const open = state.tickets.filter((t) => ACTIONABLE.has(t.state));
  const overdue = open.filter((t) => t.overdue || (t._due !== null && t._due < Date.now()));
  const parts = [`${open.length} to handle`];
  if (overdue.length) parts.push(`${overdue.length} overdue`);
  const waiting = state.tickets.filter((t) => t.state === "resolved").length;
  if (waiting) parts.push(`${waiting} waiting for check`);
  $("list-summary").textContent = parts.join(" · ");
}

function setFilter(all) {
  state.showAll = all;
  $("filter-open").setAttribute("aria-pressed", String(!all));
  $("filter-all").setAttribute("aria-pressed", String(all));
  state.listLoaded = false;
  loadList();
}

// -- one ticket -----------------------------------------------------------------------

function closeDetail() {
  state.freeMap();
  state.freeMap = () => {};
  state.detail = null;
  state.detailShownId = null;
  const video = $("evidence")?.querySelector("video");
  if (video) video.pause();
  $("evidence")?.replaceChildren();
  $("where")?.replaceChildren();
  $("detail-resolve")?.replaceChildren();
}

async function openDetail(id) {
  show("detail");
  if (state.detailShownId !== id) {
    closeDetail();
    $("detail").hidden = true;
    $("detail-loading").hidden = false;
    $("detail-error").hidden = true;
    $("action-error").hidden = true;
    window.scrollTo(0, 0);
  }
  state.fresh.delete(id);
  dropToast(`ticket-${id}`); // it is open now
  await refreshDetail(id, true);
}

async function refreshDetail(id = state.detail?.id, focus = false) {
  if (id === undefined || id === null) return;
  try {
    const ticket = await api.request(`/tickets/${id}`, { doing: "open the ticket" });
    if (!/^#\/ticket\/(\d+)$/.test(location.hash) || Number(location.hash.split("/")[2]) !== id) return;
    ticket._due = deadlineOf(ticket, Date.now());
    renderDetail(ticket);
    $("detail-error").hidden = true;
    if (focus) focusHeading($("detail-title"));
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 0) setOffline(true);
    $("detail-loading").hidden = true;
    const box = $("detail-error");
    box.textContent = err.message;
    box.hidden = false;
    if (err.status === 404) {
      $("detail").hidden = true;
      closeDetail();
      if (state.queued.some((item) => item.ticketId === id)) {
        box.textContent += " What you did to it offline is kept: see My tickets.";
      }
    }
  }
}

function renderDetail(t) {
  const first = state.detailShownId !== t.id;
  state.detail = t;
  $("detail-loading").hidden = true;
  $("detail").hidden = false;
  $("detail").dataset.ticketId = String(t.id);
  $("detail").dataset.state = t.state;
  document.title = `#${t.id} ${t.title} · gridwatch Worker`;
  renderHead(t);
  renderStatus(t);
  renderCameraCheck(t);
  renderQueued(t);
  renderActions(actionQueue.withQueued(t, state.queued));
  renderFacts(t);
  renderHistory(t);
  if (first) {
    state.detailShownId = t.id;
    renderEvidence(t);
    renderWhere(t);
  }
}

function renderHead(t) {
  const limit = t.time_limit_min >= 60 ? `${+(t.time_limit_min / 60).toFixed(1)} h` : `${t.time_limit_min} min`;
  $("detail-head").replaceChildren(
    h("div", { class: "chips" }, priorityChip(t.priority), stateChip(t.state), h("span", { class: "ticket-no", text: `#${t.id}` })),
    h("h1", { id: "detail-title", class: "detail-title", tabindex: "-1", lang: langOf(t.title), text: t.title }),
    h(
      "p",
      { class: "detail-cat" },
      h("span", { lang: "zh-CN", text: t.category_name }),
      h("span", { class: "code", text: t.category_code }),
    ),
    h(
      "div",
      { class: `clock${t.overdue ? " is-overdue" : ""}` },
      h("span", { class: "clock-label" }, "Time limit ", zh("处置时限"), ` · ${limit}`),
      countdown(t, true),
    ),
  );
}

function renderStatus(t) {
  const box = $("detail-status");
  box.replaceChildren();
  if (t.state === "returned" || (t.return_reason && ACTIONABLE.has(t.state) && t.rework_count > 0)) {
    box.append(
      h(
        "div",
        { class: "notice notice-warn status-returned" },
        h("h2", { class: "notice-title" }, "Returned for rework ", zh("退回重办")),
        h("p", { class: "return-reason" }, t.return_reason || "No reason given."),
        t.state === "returned" ? h("p", { class: "muted-on-warn", text: "Accept it again, fix what is asked and resolve it once more." }) : null,
      ),
    );
  }
  if (t.state === "resolved" || t.state === "closed") {
    const photo = t.resolution_photo_url;
    box.append(
      h(
        "div",
        { class: `notice ${t.state === "closed" ? "notice-ok" : "notice-info"} status-resolved` },
        h(
          "h2",
          { class: "notice-title" },
          ...(t.state === "closed" ? ["Closed ", zh("已结案")] : ["Resolved — waiting for the operator's check ", zh("已办结，待核查")]),
        ),
        t.resolution_note ? h("p", {}, h("strong", { text: "Your note: " }), t.resolution_note) : null,
        h("p", { class: "small", text: `Resolved ${when(t.resolved_at)}${t.closed_at ? ` · closed ${when(t.closed_at)}` : ""}` }),
        photo ? api.showMedia(h("img", { class: "result-photo", alt: "Your photo of the result", loading: "lazy" }), photo) : null,
      ),
    );
  }
  if (t.state === "rejected") {
    box.append(
      h(
        "div",
        { class: "notice notice-info" },
        h("h2", { class: "notice-title" }, "Rejected ", zh("已驳回")),
        h("p", { text: t.reject_reason || "The operator rejected this ticket; nothing more to do." }),
      ),
    );
  }
}

function cameraCheckWords(check) {
  if (check.state === "pending") return `The camera looks again until ${when(check.deadline_at)}.`;
  const at = check.answered_at ? ` (${when(check.answered_at)})` : "";
  if (check.state === "gone") {
    const closed = check.outcome === "closed" ? " The ticket was closed on its word." : "";
    return `The camera no longer sees it${at}.${closed}`;
  }
  if (check.state === "present") return `The camera still saw it after your resolution${at}, so the ticket came back for rework.`;
  return `${check.reason || "It could not look again."}${at} An operator checks your resolution instead.`;
}

/** The camera's look after the resolution, under the status, for camera tickets. */
async function renderCameraCheck(t) {
  if (t.source !== "ai" || !CHECKED_STATES.has(t.state)) {
    $("detail-status").querySelector(".camera-check")?.remove();
    return;
  }
  let checks;
  try {
    checks = await api.request(`/tickets/${t.id}/camera-checks`, { doing: "read the camera check" });
  } catch {
    return; // extra information: the ticket itself is shown
  }
  if (state.detail?.id !== t.id) return;
  const box = $("detail-status");
  box.querySelector(".camera-check")?.remove();
  const check = checks.data?.[0]; // newest first
  const look = check && CAMERA_CHECKS[check.state];
  if (!look) return;
  box.append(
    h(
      "div",
      { class: `notice notice-${look.kind} camera-check`, "data-check-state": check.state },
      h("h2", { class: "notice-title" }, ...bilingual(look.title)),
      h("p", { text: cameraCheckWords(check) }),
      check.after_url
        ? api.showMedia(
            h("img", { class: "result-photo", alt: `What camera ${check.camera_id} saw when it looked again`, loading: "lazy" }),
            check.after_url,
          )
        : null,
    ),
  );
}

/** An action's failure, said under the ticket's status (`#action-error`), or in
 * the resolve form when `inForm` and the form is there. */
function actionError(text, inForm = false) {
  const formBox = $("resolve-error");
  const box = inForm && formBox ? formBox : $("action-error");
  for (const other of [$("action-error"), formBox]) {
    if (other && other !== box) other.hidden = true;
  }
  box.textContent = text;
  box.hidden = !text;
  if (text) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function renderActions(t) {
  const area = $("detail-actions");
  const below = $("detail-resolve");
  const typedNote = $("note")?.value;
  area.replaceChildren();
  // Central says what I may do now (its transition table, for the ticket's worker).
  const can = (action) => Array.isArray(t.actions) && t.actions.includes(action);
  if (can("accept")) {
    below.replaceChildren();
    const button = h(
      "button",
      { type: "button", class: "btn btn-primary btn-block btn-large", id: "accept" },
      t.state === "returned" ? "Accept again " : "Accept ticket ",
      zh(t.state === "returned" ? "重新接单" : "接单"),
    );
    button.addEventListener("click", () => accept(t.id, button));
    area.append(
      h(
        "div",
        { class: "action-card" },
        h("p", { class: "action-hint", text: "Accepting tells the operators you are on your way." }),
        button,
      ),
    );
  } else if (can("resolve")) {
    const jump = h("button", { type: "button", id: "jump-resolve", class: "btn btn-ghost btn-small btn-jump" }, "Resolve ", zh("去办结"), " ↓");
    jump.addEventListener("click", () => {
      $("resolve-form")?.scrollIntoView({ behavior: "smooth", block: "start" });
      $("note")?.focus({ preventScroll: true });
    });
    area.append(
      h(
        "div",
        { class: "action-bar" },
        h("p", {}, h("strong", { text: "You are on it." }), " When the work is done, resolve it with a note and a photo."),
        jump,
      ),
    );
    if (!$("resolve-form") || $("resolve-form").dataset.ticketId !== String(t.id)) {
      below.replaceChildren(resolveForm(t, typedNote));
    }
  } else {
    below.replaceChildren();
  }
}

async function accept(id, button) {
  button.disabled = true;
  button.classList.add("is-busy");
  actionError("");
  try {
    const { queued } = await actionQueue.perform(id, "accept");
    if (queued) {
      toast(`No connection: accepting ticket #${id} is kept on this phone and sent when you are back online. 待发送`, {
        kind: "warn",
        key: `ticket-${id}`,
        timeout: 8000,
      });
      await showQueued();
      $("jump-resolve")?.focus({ preventScroll: true });
      return;
    }
    toast(`Ticket #${id} accepted. 已接单。`, { kind: "ok", key: `ticket-${id}`, timeout: 4000 });
    await refreshDetail(id);
    loadList();
    $("jump-resolve")?.focus({ preventScroll: true }); // the accept button is gone
  } catch (err) {
    if (err.status === 401) return;
    actionError(err.message);
    button.disabled = false;
    button.classList.remove("is-busy");
    if (err.status === 409 || err.status === 404) refreshDetailKeepingError(id, err.message);
  }
}

async function refreshDetailKeepingError(id, message, inForm = false) {
  await refreshDetail(id);
  actionError(message, inForm);
}

function resolveForm(t, typedNote) {
  const error = h("div", { id: "resolve-error", class: "notice notice-error", role: "alert", hidden: true });
  const preview = h("div", { class: "photo-preview", id: "photo-preview", hidden: true });
  const photo = h("input", {
    type: "file",
    id: "photo",
    name: "photo",
    accept: "image/*",
    capture: "environment",
    "aria-describedby": "photo-hint",
  });
  photo.addEventListener("change", () => {
    preview.replaceChildren();
    const file = photo.files?.[0];
    if (!file) {
      preview.hidden = true;
      return;
    }
    const url = URL.createObjectURL(file);
    const img = h("img", { src: url, alt: "The photo you chose" });
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    preview.append(img, h("span", { class: "small", text: `${file.name} · ${(file.size / 1024).toFixed(0)} KB` }));
    preview.hidden = false;
  });
  const note = h("textarea", {
    id: "note",
    name: "note",
    rows: "4",
    maxlength: "2000",
    required: true,
    "aria-describedby": "note-hint",
    placeholder: "e.g. Crowd dispersed, walkway clear. 人群已疏散",
  });
  if (typedNote) note.value = typedNote;
  const submit = h(
    "button",
    { type: "submit", class: "btn btn-primary btn-block btn-large", id: "resolve" },
    "Mark resolved ",
    zh("提交办结"),
  );
  const form = h(
    "form",
    {
      class: "action-card",
      id: "resolve-form",
      novalidate: true,
      "aria-labelledby": "resolve-title",
      dataset: { ticketId: String(t.id) },
    },
    h("h2", { id: "resolve-title", class: "action-title" }, "Resolve ", zh("办结")),
    h(
      "div",
      { class: "field" },
      h("label", { for: "note" }, "What did you do? ", zh("处理情况")),
      note,
      h("p", { class: "hint", id: "note-hint", text: "Required. The operator reads it when checking your work." }),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "photo" }, "Photo of the result ", zh("现场照片")),
      photo,
      h("p", { class: "hint", id: "photo-hint", text: "Optional but recommended: take it with the camera or pick one." }),
      preview,
    ),
    error,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    resolve(t.id, form, note, photo, submit);
  });
  return form;
}

/** A photo small enough to send: big ones are scaled down to a JPEG. */
async function shrinkPhoto(file) {
  if (file.size <= MAX_PHOTO_BYTES || typeof createImageBitmap !== "function") return file;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
    return blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file;
  } catch {
    return file;
  }
}

async function resolve(id, form, note, photo, submit) {
  actionError("");
  if (!note.value.trim()) {
    actionError("Write what you did before resolving. 请填写处理情况。", true);
    note.setAttribute("aria-invalid", "true");
    note.focus();
    return;
  }
  note.removeAttribute("aria-invalid");
  submit.disabled = true;
  submit.classList.add("is-busy");
  try {
    const file = photo.files?.[0];
    let small = null;
    if (file) {
      if (file.type && !file.type.startsWith("image/")) {
        throw new api.ApiError(415, "", "That file is not a photo. Choose a JPEG, PNG or WebP image.");
      }
      small = await shrinkPhoto(file);
    }
    const { queued } = await actionQueue.perform(id, "resolve", { note: note.value.trim(), photo: small });
    note.value = "";
    if (queued) {
      toast(`No connection: resolving ticket #${id} is kept on this phone with your note and photo, and sent when you are back online. 待发送`, {
        kind: "warn",
        key: `ticket-${id}`,
        timeout: 8000,
      });
      await showQueued();
      focusHeading($("detail-title"));
      return;
    }
    toast(`Ticket #${id} resolved. 已办结。`, { kind: "ok", key: `ticket-${id}`, timeout: 4000 });
    announce(`Ticket ${id} is resolved and waits for the operator's check.`);
    await refreshDetail(id);
    loadList();
    focusHeading($("detail-title"));
  } catch (err) {
    if (err.status === 401) return;
    actionError(err.message, true);
    submit.disabled = false;
    submit.classList.remove("is-busy");
    if (err.status === 409 || err.status === 404) refreshDetailKeepingError(id, err.message, true);
  }
}

function renderEvidence(t) {
  const box = $("evidence");
  box.replaceChildren();
  const events = t.events || [];
  const shot = events.find((e) => e.snapshot_url) || null;
  const clip = [...events].reverse().find((e) => e.clip_url) || null;
  const snapshotUrl = shot?.snapshot_url || t.snapshot_url;
  if (snapshotUrl) {
    const frame = h("div", { class: "snapshot" });
    const typeName = shot?.type ? eventTypeLabel(shot.type) : "Detection";
    const img = h("img", {
      alt: `Camera snapshot${shot ? ` from ${shot.camera_id}` : ""}, the detection (${typeName.toLowerCase()}) outlined in red`,
      decoding: "async",
    });
    img.addEventListener("error", () => {
      frame.replaceChildren(h("p", { class: "media-missing", text: "The snapshot could not be loaded." }));
    });
    frame.append(api.showMedia(img, snapshotUrl));
    const b = shot?.image_box;
    if (Array.isArray(b) && b.length === 4) {
      const [x1, y1, x2, y2] = b.map((v) => Math.min(Math.max(Number(v), 0), 1));
      const box = h(
        "div",
        { class: "bbox", "aria-hidden": "true" },
        h("span", { class: "bbox-label", text: `${typeName} ${Math.round((shot.confidence || 0) * 100)}%` }),
      );
      // Through the CSSOM: the Content-Security-Policy refuses style attributes.
      Object.assign(box.style, {
        left: `${x1 * 100}%`,
        top: `${y1 * 100}%`,
        width: `${(x2 - x1) * 100}%`,
        height: `${(y2 - y1) * 100}%`,
      });
      frame.append(box);
    }
    box.append(
      h(
        "figure",
        { class: "media" },
        frame,
        h(
          "figcaption",
          {},
          shot ? `Snapshot · ${shot.camera_id} · ${when(shot.detected_at)}` : "Snapshot",
          shot?.attributes?.count !== undefined ? ` · ${shot.attributes.count} people` : "",
        ),
      ),
    );
  }
  if (clip) {
    const video = h("video", {
      id: "clip",
      class: "clip",
      controls: true,
      playsinline: true,
      muted: true,
      autoplay: true,
      loop: true,
      preload: "auto",
      "aria-label": `Video clip from camera ${clip.camera_id}`,
    });
    video.muted = true; // the attribute alone does not mute for autoplay in every browser
    video.addEventListener("error", () => {
      video.replaceWith(h("p", { class: "media-missing", text: "The video clip could not be played." }));
    });
    box.append(h("figure", { class: "media" }, video, h("figcaption", { text: `Clip · ${clip.camera_id} · ${when(clip.started_at)}` })));
    api.showMedia(video, clip.clip_url); // plays once the signed link is set
  }
  if (!snapshotUrl && !clip) {
    box.append(h("p", { class: "muted", text: "No photo or video for this ticket. 暂无图片或视频。" }));
  }
  if (t.description) box.append(h("p", { class: "description", text: t.description }));
}

function renderWhere(t) {
  const box = $("where");
  state.freeMap();
  state.freeMap = () => {};
  box.replaceChildren();
  const point = t.lat !== null && t.lon !== null && t.lat !== undefined ? [t.lat, t.lon] : null;
  const mapBox = h("div", {
    class: "map",
    id: "map",
    role: "group",
    "aria-label": `Map of ${gridLabel(t.grid_code)}${point ? " with the place of the ticket marked" : ""}`,
  });
  const facts = h(
    "p",
    { class: "where-text" },
    h("strong", { lang: langOf(gridLabel(t.grid_code)), text: gridLabel(t.grid_code) }),
    t.grid_code ? h("span", { class: "code", text: t.grid_code }) : null,
  );
  box.append(mapBox, facts);
  if (point) {
    box.append(
      h(
        "p",
        { class: "where-text" },
        h("span", { class: "small", text: `${point[0].toFixed(5)}, ${point[1].toFixed(5)}` }),
        " ",
        h("a", { href: `geo:${point[0]},${point[1]}`, class: "link", text: "Open in maps app" }),
      ),
    );
  }
  const id = t.id;
  const prefix = t.grid_code ? t.grid_code.slice(0, 12) : null;
  const grids = prefix ? gridsFor(prefix).catch(() => null) : Promise.resolve(null);
  grids.then((collection) => {
    if (state.detailShownId !== id || !mapBox.isConnected) return;
    if (prefix && state.gridNames.has(t.grid_code)) {
      const strong = facts.querySelector("strong");
      strong.textContent = gridLabel(t.grid_code);
      strong.lang = "zh-CN";
      mapBox.setAttribute("aria-label", `Map of ${gridLabel(t.grid_code)}${point ? " with the place of the ticket marked" : ""}`);
    }
    if (!collection && !point) {
      mapBox.replaceWith(h("p", { class: "muted", text: "No map for this place." }));
      return;
    }
    try {
      state.freeMap = drawGridMap(mapBox, collection, t.grid_code, point);
    } catch (err) {
      console.error("map", err);
      mapBox.replaceWith(h("p", { class: "muted", text: "The map could not be drawn." }));
    }
  });
}

function renderFacts(t) {
  const rows = [
    [["Category", "类别"], h("span", {}, h("span", { lang: "zh-CN", text: t.category_name }), " ", h("span", { class: "code", text: t.category_code }))],
    [["Event", "事件"], eventTypeLabel(t.event_type)],
    [["Source", "来源"], SOURCES[t.source] || t.source],
    [["Priority", "优先级"], priorityChip(t.priority)],
    [["Time limit", "时限"], `${t.time_limit_min} min, due ${when(t.due_at)}`],
    t.camera_id ? [["Camera", "摄像头"], `${t.camera_id} (${t.node_id || "?"})`] : null,
    t.confidence !== null && t.confidence !== undefined ? [["Confidence", "置信度"], `${Math.round(t.confidence * 100)}%`] : null,
    [["Found", "发现"], when(t.found_at)],
    [["Dispatched", "派单"], when(t.dispatched_at)],
    t.accepted_at ? [["Accepted", "接单"], when(t.accepted_at)] : null,
    t.observations > 1 ? [["Seen", "次数"], `${t.observations} times`] : null,
    t.rework_count ? [["Rework", "返工"], `${t.rework_count}×`] : null,
    t.escalation_level ? [["Escalation", "督办"], `level ${t.escalation_level}`] : null,
    t.reporter ? [["Reporter", "上报人"], t.reporter] : null,
  ].filter(Boolean);
  const dl = h("dl", { class: "facts" });
  for (const [label, value] of rows) {
    dl.append(h("div", { class: "fact" }, h("dt", {}, ...bilingual(label)), h("dd", {}, value)));
  }
  $("facts").replaceChildren(dl);
}

function renderHistory(t) {
  const list = $("history");
  list.replaceChildren(
    ...(t.history || [])
      .slice()
      .reverse()
      .map((item) =>
        h(
          "li",
          { class: `tl tl-${item.action}` },
          h("span", { class: "tl-dot", "aria-hidden": "true" }),
          h(
            "div",
            { class: "tl-body" },
            h("p", { class: "tl-head" }, h("strong", { text: ACTIONS[item.action] || item.action }), " ", h("time", { datetime: item.at, text: when(item.at) })),
            h("p", { class: "tl-by small", text: `by ${item.actor}${STATES[item.to_state] ? ` → ${STATES[item.to_state][0]}` : ""}` }),
            item.note ? h("p", { class: "tl-note", text: item.note }) : null,
          ),
        ),
      ),
  );
}

// -- actions kept on the phone (action-queue.js) ------------------------------------

function initActionQueue() {
  actionQueue.initActionQueue({
    toast,
    onChange: showQueued,
    onSent: (id) => {
      loadList();
      if (state.detail?.id === id) refreshDetail(id);
    },
  });
}

/** Read the kept actions (unless given) and redraw what shows them. */
async function showQueued(kept) {
  state.queued = kept ?? (await actionQueue.items());
  if (!state.loggedIn) return;
  if (state.detail) renderDetail(state.detail);
  if (document.body.dataset.view === "list") renderList();
}

function isWaiting(ticketId) {
  return state.queued.some((item) => item.ticketId === ticketId && item.status === "waiting");
}

/** One kept action: waiting to send, or refused with its reason; its note and
 * photo shown either way, so nothing the worker wrote is lost. */
function queuedNotice(item, withTicket = false) {
  const refused = item.status === "refused";
  const what = `${actionQueue.ACTION_WORDS[item.action]}${withTicket ? ` of ticket #${item.ticketId}` : ""}`;
  let photo = null;
  if (item.photo instanceof Blob) {
    const url = URL.createObjectURL(item.photo);
    photo = h("img", { class: "result-photo", src: url, alt: "Your photo, kept on this phone" });
    photo.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  }
  return h(
    "div",
    { class: `notice ${refused ? "notice-warn" : "notice-info"} queued-action`, dataset: { status: item.status, action: item.action } },
    h("h2", { class: "notice-title" }, ...(refused ? [`${what}: not sent `, zh("未发送")] : [`${what}: waiting to send `, zh("待发送")])),
    h("p", { text: refused ? item.error : "Kept on this phone; it is sent by itself when the connection returns." }),
    item.note ? h("p", {}, h("strong", { text: "Your note: " }), item.note) : null,
    photo,
    refused
      ? h("button", {
          type: "button",
          class: "btn btn-small btn-ghost",
          text: "Dismiss",
          "aria-label": `Dismiss the refused ${what.toLowerCase()}`,
          onclick: () => actionQueue.dismiss(item.key),
        })
      : null,
  );
}

function renderQueued(t) {
  $("detail-queued").replaceChildren(...state.queued.filter((item) => item.ticketId === t.id).map((item) => queuedNotice(item)));
}

/** Above my tickets: how many actions wait, and the refused ones (also of
 * tickets no longer mine, which their page cannot show). */
function renderQueueBox() {
  const box = $("action-queue");
  const waiting = state.queued.filter((item) => item.status === "waiting").length;
  const refused = state.queued.filter((item) => item.status === "refused");
  const count = h("p", { class: "notice notice-info", text: `${waiting} action${waiting === 1 ? "" : "s"} waiting on this phone for the connection. 待发送` });
  box.replaceChildren(...(waiting ? [count] : []), ...refused.map((item) => queuedNotice(item, true)));
  box.hidden = !waiting && !refused.length;
}

// -- offline --------------------------------------------------------------------------

function setOffline(off) {
  $("offline-banner").hidden = !off;
  document.body.classList.toggle("is-offline", off);
}

window.addEventListener("offline", () => {
  setOffline(true);
  if (state.loggedIn) setLive("offline");
});
window.addEventListener("online", () => {
  setOffline(false);
  if (state.loggedIn) {
    connect(); // a fresh stream: the old one may be dead without knowing it
    loadList();
    if (state.detail) refreshDetail(); // an error while offline is out of date
  }
});

// -- start ----------------------------------------------------------------------------

function boot() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  // The skip link must not touch the hash, which is the route.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });
  $("logout").addEventListener("click", logout);
  $("refresh").addEventListener("click", () => {
    loadList();
    announce("Refreshing your tickets.");
  });
  $("filter-open").addEventListener("click", () => setFilter(false));
  $("filter-all").addEventListener("click", () => setFilter(true));
  initReport({
    toast,
    announce,
    gridsFor,
    me: () => state.me,
    onSent: () => loadList(),
  });
  initActionQueue();
  window.addEventListener("hashchange", route);
  // A restored session had no login click: the first touch or key allows sound.
  const unlock = () => {
    unlockAudio();
    window.removeEventListener("pointerdown", unlock);
    window.removeEventListener("keydown", unlock);
  };
  window.addEventListener("pointerdown", unlock);
  window.addEventListener("keydown", unlock);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.loggedIn) {
      loadList();
      if (!state.source) connect();
    }
  });
  if (!navigator.onLine) setOffline(true);

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  }

  if (api.loadSession()) startSession(false);
  else showLogin();
}

boot();
