// The console shell: login, navigation (hash routes), live stream, toasts, shortcuts.

import { ApiError, api, clearToken, getToken, login, logout, openTicketStream } from "./api.js";
import * as ref from "./ref.js";
import { announce, clear, dialog, h, icon, isTyping, kbd, toast } from "./ui.js";
import reviewView from "./review.js";
import ticketsView from "./tickets.js";
import mapView from "./map.js";
import camerasView from "./cameras.js";
import devicesView from "./devices.js";
import statsView from "./stats.js";
import adminView from "./admin.js";
import gridAdminView from "./grid-admin.js";
import matterListView from "./matter-list.js";

const VIEWS = [
  { key: "r", view: reviewView, icon: "review" },
  { key: "t", view: ticketsView, icon: "tickets" },
  { key: "m", view: mapView, icon: "map" },
  { key: "c", view: camerasView, icon: "cameras" },
  { key: "d", view: devicesView, icon: "devices" },
  { key: "s", view: statsView, icon: "stats" },
  { key: "a", view: adminView, icon: "admin" }, // admins only (view.roles)
  { key: "w", view: gridAdminView, icon: "layers" }, // admins only: workers, grids
  { key: "l", view: matterListView, icon: "tickets" }, // staff read, admins edit
];
const STAFF = new Set(["operator", "supervisor", "admin"]);
const ROLE_LABELS = { operator: "Operator", supervisor: "Supervisor", admin: "Administrator" };

const $ = (id) => document.getElementById(id);

/** The views this user may open: a view with `roles` only for those roles (the
 * API refuses the rest anyway; hiding them keeps the console honest). */
function allowedViews() {
  return VIEWS.filter(({ view }) => !view.roles || view.roles.includes(state.me?.role));
}

const state = {
  me: null,
  current: null, // { view, params }
  closeStream: null,
  acted: new Map(), // ticket id → time this console acted on it (no echo toasts)
  gPressed: 0,
};

// -- routing --------------------------------------------------------------------

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  return { name: path || "review", params: Object.fromEntries(new URLSearchParams(query)) };
}

function hashFor(name, params = {}) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") search.set(k, v);
  const q = search.toString();
  return `#/${name}${q ? `?${q}` : ""}`;
}

const context = {
  get me() {
    return state.me;
  },
  /** Go to a view (pushes history). */
  navigate(name, params = {}) {
    location.hash = hashFor(name, params);
  },
  /** Change the current view's params without re-rendering (replaces history). */
  setParams(params) {
    const { name } = parseHash();
    history.replaceState(null, "", hashFor(name, params));
  },
  setTitle(title, sub = "") {
    $("page-title").textContent = title;
    $("page-sub").textContent = sub;
    document.title = `${title} · gridwatch`;
  },
  setActions(...nodes) {
    clear($("page-actions"), ...nodes.filter(Boolean));
  },
  acted(ticketId) {
    state.acted.set(Number(ticketId), Date.now());
  },
  refreshBadge,
};

function route({ initial = false } = {}) {
  const { name, params } = parseHash();
  const views = allowedViews();
  const entry = views.find((v) => v.view.id === name) || views[0];
  for (const link of document.querySelectorAll("#nav-list a")) {
    if (link.dataset.view === entry.view.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (state.current && state.current.view === entry.view && entry.view.update) {
    entry.view.update(params);
    return;
  }
  const fromNav = !initial && document.activeElement?.closest?.(".nav");
  if (state.current?.view.unmount) state.current.view.unmount();
  const root = clear($("view"));
  root.className = `view view-${entry.view.id}`;
  context.setActions();
  context.setTitle(entry.view.title);
  state.current = { view: entry.view, params };
  entry.view.mount(root, params, context);
  if (fromNav) root.focus({ preventScroll: true });
}

// -- shell ----------------------------------------------------------------------

function buildNav() {
  const list = clear($("nav-list"));
  for (const { key, view, icon: iconName } of allowedViews()) {
    const badge =
      view.id === "review"
        ? h("span", { class: "nav-badge", id: "review-badge", hidden: true })
        : null;
    list.append(
      h(
        "li",
        {},
        h(
          "a",
          {
            class: "nav-item",
            href: `#/${view.id}`,
            dataset: { view: view.id },
            "aria-keyshortcuts": `g ${key}`,
          },
          icon(iconName),
          h("span", { class: "nav-label" }, view.title),
          badge,
          h("span", { class: "nav-key", "aria-hidden": "true" }, kbd("G", key.toUpperCase())),
        ),
      ),
    );
  }
  const helpIcon = $("help-button").querySelector(".icon");
  helpIcon.replaceWith(icon("keyboard"));
  clear($("logout"), icon("logout"));
}

async function refreshBadge() {
  try {
    const page = await api("/review", { query: { limit: 1 } });
    const badge = $("review-badge");
    if (!badge) return;
    badge.hidden = page.total === 0;
    badge.textContent = String(page.total);
    badge.setAttribute("aria-label", `${page.total} awaiting review`);
  } catch {
    /* the badge is a nicety */
  }
}

function setLive(status) {
  const live = $("live");
  live.dataset.state = status;
  $("live-text").textContent = { live: "Live", connecting: "Connecting…", offline: "Offline" }[
    status
  ];
  live.title = {
    live: "Live ticket stream connected",
    connecting: "Connecting to the live ticket stream",
    offline: "Live ticket stream disconnected; retrying",
  }[status];
}

const NOTICE_TEXT = {
  pending_review: ["New event awaiting review", "info"],
  dispatched: ["Dispatched", "info"],
  reassigned: ["Reassigned", "info"],
  accepted: ["Accepted by the worker", "info"],
  resolved: ["Resolved — ready to verify", "success"],
  returned: ["Returned for rework", "info"],
  closed: ["Closed", "success"],
  rejected: ["Rejected", "info"],
  escalated: ["Escalated", "error"],
  overdue: ["Overdue", "error"],
};

function onNotice(notice) {
  const recent = state.acted.get(Number(notice.ticket_id));
  const echo = recent && Date.now() - recent < 3000;
  if (notice.action !== "reassigned_away" && !echo) {
    const [headline, kind] = NOTICE_TEXT[notice.action] || [
      notice.action.replaceAll("_", " "),
      "info",
    ];
    toast(`#${notice.ticket_id} ${notice.title}`, {
      title: headline,
      kind,
      action: { label: "Open", run: () => context.navigate("tickets", { id: notice.ticket_id }) },
    });
  }
  refreshBadge();
  const view = state.current?.view;
  if (view?.onNotice) view.onNotice(notice);
}

/** A hotspot warning opened (toast with Acknowledge), acknowledged or resolved. */
function onWarning(warning) {
  if (warning.state === "open") {
    toast(`${ref.areaName(warning.grid_code) || warning.grid_code}: ${warning.category_name}`, {
      title: `Rising: ${warning.observed} in ${warning.window_days} days`,
      kind: "error",
      action: {
        label: "Acknowledge",
        run: () =>
          api(`/warnings/${warning.id}/ack`, { method: "POST" }).catch((error) =>
            toast(error.message, { title: "Not acknowledged", kind: "error" }),
          ),
      },
    });
  }
  const view = state.current?.view;
  if (view?.onWarning) view.onWarning(warning);
}

function showHelp() {
  if (document.querySelector("dialog[open]")) return;
  const section = (title, rows) =>
    h(
      "section",
      { class: "help-section" },
      h("h3", {}, title),
      h(
        "dl",
        { class: "help-list" },
        rows.map(([keys, text]) => [h("dt", {}, kbd(...keys)), h("dd", {}, text)]),
      ),
    );
  const global = [
    [["?"], "Show this help"],
    ...allowedViews().map(({ key, view }) => [["G", key.toUpperCase()], `Go to ${view.title}`]),
    [["Esc"], "Close a dialog or panel"],
  ];
  const view = state.current?.view;
  dialog({
    title: "Keyboard shortcuts",
    wide: true,
    cancel: false,
    submitLabel: "Done",
    body: h(
      "div",
      { class: "help-grid" },
      view?.shortcuts?.length ? section(view.title, view.shortcuts) : null,
      section("Everywhere", global),
    ),
  });
}

function onKey(event) {
  if (event.defaultPrevented) return;
  if (document.querySelector("dialog[open]")) return;
  if (isTyping(event)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") {
    event.preventDefault();
    showHelp();
    return;
  }
  if (state.gPressed && Date.now() - state.gPressed < 1200) {
    state.gPressed = 0;
    const target = allowedViews().find((v) => v.key === event.key.toLowerCase());
    if (target) {
      event.preventDefault();
      context.navigate(target.view.id);
      return;
    }
  }
  if (event.key === "g" && !event.shiftKey) {
    state.gPressed = Date.now();
    return;
  }
  state.current?.view.onKey?.(event);
}

// -- login ----------------------------------------------------------------------

function showLogin(message = "") {
  stopShell();
  $("shell").hidden = true;
  $("login-screen").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message;
  $("login-user").focus();
}

function stopShell() {
  if (state.closeStream) state.closeStream();
  state.closeStream = null;
  if (state.current?.view.unmount) state.current.view.unmount();
  state.current = null;
}

async function startShell() {
  let me;
  try {
    me = await api("/me");
  } catch (error) {
    clearToken();
    showLogin(
      error instanceof ApiError && error.status === 401
        ? "Your session has expired. Sign in again."
        : error.message,
    );
    return;
  }
  if (!STAFF.has(me.role)) {
    await logout();
    showLogin(
      `The console is for operators, supervisors and administrators; a ${me.role} signs in at /worker/.`,
    );
    return;
  }
  state.me = me;
  $("login-screen").hidden = true;
  $("shell").hidden = false;
  const name = me.display_name || me.username;
  $("user-name").textContent = name;
  $("user-role").textContent = ROLE_LABELS[me.role] || me.role;
  $("user-avatar").textContent = (me.username[0] || "?").toUpperCase();
  buildNav();
  await ref.preload();
  route({ initial: true });
  // The shell shows before the reference lists arrive; someone who has already
  // moved into it with the keyboard keeps their place.
  if (!$("shell").contains(document.activeElement)) $("view").focus({ preventScroll: true });
  refreshBadge();
  state.closeStream = openTicketStream(onNotice, setLive, onWarning);
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const user = $("login-user").value.trim();
  const pass = $("login-pass").value;
  const error = $("login-error");
  if (!user || !pass) {
    error.textContent = "Enter your username and password.";
    error.hidden = false;
    return;
  }
  const button = $("login-submit");
  button.disabled = true;
  button.textContent = "Signing in…";
  try {
    await login(user, pass);
    $("login-pass").value = "";
    error.hidden = true;
    await startShell();
    announce(`Signed in as ${user}`);
  } catch (err) {
    error.textContent =
      err instanceof ApiError && err.status === 401
        ? "Incorrect username or password."
        : err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function init() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("logout").addEventListener("click", async () => {
    await logout();
    ref.invalidate();
    showLogin();
    announce("Signed out");
  });
  $("help-button").addEventListener("click", showHelp);
  // The skip link moves focus without touching the route in the hash.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("view").focus();
  });
  window.addEventListener("hashchange", () => {
    if (!$("shell").hidden) route();
  });
  window.addEventListener("gw:unauthorized", () => {
    if ($("shell").hidden) return;
    clearToken();
    showLogin("Your session has expired. Sign in again.");
  });
  document.addEventListener("keydown", onKey);
  if (getToken()) startShell();
  else showLogin();
}

init();
