// DOM building, formatting, chips, toasts and dialogs shared by the views.
import { eventTypeLabel } from "/common/labels.js";

/**
 * h("div", {class: "x", onclick: fn, "aria-label": "…"}, child, …): an element.
 * Children may be strings, nodes, arrays, null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "html") {
      el.innerHTML = value;
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else if (key in el && !key.includes("-") && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/** An inline icon (stroke icons, 16 px, currentColor). */
const ICONS = {
  review:
    '<path d="M2 8s2.5-4.5 6-4.5S14 8 14 8s-2.5 4.5-6 4.5S2 8 2 8z"/><circle cx="8" cy="8" r="1.8"/>',
  tickets:
    '<rect x="2.5" y="2.5" width="11" height="11" rx="2"/><path d="M5 6h6M5 8.5h6M5 11h3.5"/>',
  map: '<path d="M2 4l4-1.5 4 1.5 4-1.5v9.5l-4 1.5-4-1.5-4 1.5z"/><path d="M6 2.5v9.5M10 4v9.5"/>',
  cameras:
    '<rect x="1.8" y="4.5" width="9" height="7" rx="1.5"/><path d="M10.8 7l3.4-2v6l-3.4-2"/>',
  stats: '<path d="M2.5 13.5h11"/><path d="M4.5 11V7.5M8 11V4M11.5 11V8.5"/>',
  devices:
    '<circle cx="8" cy="9.5" r="1.5"/><path d="M5.2 6.7a4 4 0 0 1 5.6 0M3.3 4.8a6.7 6.7 0 0 1 9.4 0"/>',
  logout: '<path d="M6 2.5H3.5v11H6"/><path d="M9.5 5l3 3-3 3M12.5 8H6"/>',
  check: '<path d="M3 8.5l3.2 3L13 4.5"/>',
  x: '<path d="M4 4l8 8M12 4l-8 8"/>',
  plus: '<path d="M8 3v10M3 8h10"/>',
  keyboard:
    '<rect x="1.5" y="4" width="13" height="8" rx="1.5"/><path d="M4 6.5h.01M6.5 6.5h.01M9 6.5h.01M11.5 6.5h.01M5 9.5h6"/>',
  download: '<path d="M8 2.5v7.5M4.8 7l3.2 3.2L11.2 7M3 13h10"/>',
  refresh: '<path d="M13 4v3h-3"/><path d="M12.6 7A5 5 0 1 0 13 9"/>',
  filter: '<path d="M2.5 3.5h11L9.5 8.5v4l-3 1.5v-5.5z"/>',
  close: '<path d="M4 4l8 8M12 4l-8 8"/>',
  arrowUp: '<path d="M8 13V3M4 7l4-4 4 4"/>',
  clock: '<circle cx="8" cy="8" r="5.5"/><path d="M8 5v3.2l2 1.3"/>',
  pin: '<path d="M8 14s4.5-4.3 4.5-7.5a4.5 4.5 0 0 0-9 0C3.5 9.7 8 14 8 14z"/><circle cx="8" cy="6.5" r="1.5"/>',
  layers:
    '<path d="M8 2l6 3.2-6 3.2-6-3.2z"/><path d="M2 8.3l6 3.2 6-3.2"/><path d="M2 11.3l6 3.2 6-3.2"/>',
  admin:
    '<path d="M8 1.8l5 2v4c0 3-2.2 5.4-5 6.4-2.8-1-5-3.4-5-6.4v-4z"/><path d="M5.8 8l1.6 1.6 3-3"/>',
  server:
    '<rect x="2.5" y="2.5" width="11" height="4.5" rx="1"/><rect x="2.5" y="9" width="11" height="4.5" rx="1"/><path d="M5 4.7h.01M5 11.2h.01"/>',
};

export function icon(name, cls = "") {
  const span = document.createElement("span");
  span.className = `icon ${cls}`.trim();
  span.setAttribute("aria-hidden", "true");
  span.innerHTML = `<svg viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round">${ICONS[name] || ""}</svg>`;
  return span;
}

/** Empty `el`, then append `children` (null/false skipped); returns `el`. */
export function clear(el, ...children) {
  while (el.firstChild) el.firstChild.remove();
  append(el, children);
  return el;
}

// -- formatting ----------------------------------------------------------------

const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function fmtTime(iso) {
  if (!iso) return "—";
  return dateTimeFmt.format(new Date(iso));
}

export function fmtFull(iso) {
  if (!iso) return "—";
  return fullFmt.format(new Date(iso));
}

/** "3 min ago", "in 2 h". */
export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return "—";
  const diff = (new Date(iso).getTime() - now) / 1000;
  const text = fmtDuration(Math.abs(diff));
  if (Math.abs(diff) < 5) return "just now";
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** Seconds as "42 s", "7 min", "3 h 5 min", "2 d 4 h". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) {
    const hours = Math.floor(s / 3600);
    const minutes = Math.round((s % 3600) / 60);
    return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  }
  const days = Math.floor(s / 86400);
  const hours = Math.round((s % 86400) / 3600);
  return hours ? `${days} d ${hours} h` : `${days} d`;
}

export function fmtPct(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

export function fmtNum(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return Number(value).toFixed(digits);
}

// -- labels ---------------------------------------------------------------------

export const STATE_LABELS = {
  pending_review: "Pending review",
  dispatched: "Dispatched",
  accepted: "Accepted",
  resolved: "Resolved",
  returned: "Returned",
  closed: "Closed",
  rejected: "Rejected",
};
export const OPEN_STATES = ["pending_review", "dispatched", "accepted", "resolved", "returned"];

export const PRIORITY_LABELS = { urgent: "Urgent", high: "High", normal: "Normal", low: "Low" };

export { eventTypeLabel };

export const REVIEW_REASON_LABELS = {
  low_confidence: "Low confidence",
  review_policy: "Matter needs review",
  unassigned_grid: "Outside every grid",
  no_worker: "Nobody on duty",
  citizen_report: "Citizen report: check first",
};

export const SOURCE_LABELS = {
  ai: "AI camera",
  citizen: "Citizen",
  patrol: "Patrol",
  open311: "Open311 / hotline",
};

export const ESCALATION_LABELS = ["None", "Grid leader", "Street", "Department"];

export const HEALTH_LABELS = {
  online: "Online",
  stalled: "Stalled",
  offline: "Offline",
};

export function labelOf(map, key) {
  if (key === null || key === undefined) return "—";
  return map[key] || String(key).replaceAll("_", " ");
}

// -- chips ----------------------------------------------------------------------

export function stateChip(state) {
  return h(
    "span",
    { class: `chip state-${state}` },
    h("span", { class: "dot", "aria-hidden": "true" }),
    labelOf(STATE_LABELS, state),
  );
}

export function priorityChip(priority) {
  return h(
    "span",
    { class: `chip prio prio-${priority}` },
    priorityBars(priority),
    labelOf(PRIORITY_LABELS, priority),
  );
}

function priorityBars(priority) {
  const level = { low: 1, normal: 2, high: 3, urgent: 4 }[priority] || 0;
  const bars = h("span", { class: "bars", "aria-hidden": "true" });
  for (let i = 1; i <= 4; i += 1) bars.append(h("i", { class: i <= level ? "on" : "" }));
  return bars;
}

export function healthChip(health) {
  const key = health || "unknown";
  const label = health ? labelOf(HEALTH_LABELS, health) : "No report";
  return h(
    "span",
    { class: `chip health health-${key}` },
    h("span", { class: "dot", "aria-hidden": "true" }),
    label,
  );
}

export function escalationChip(level) {
  if (!level) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: `chip esc esc-${level}`, title: `Escalated to ${ESCALATION_LABELS[level]}` },
    icon("arrowUp"),
    `L${level} ${ESCALATION_LABELS[level]}`,
  );
}

export function kbd(...keys) {
  return h(
    "span",
    { class: "kbd-group" },
    keys.map((k) => h("kbd", {}, k)),
  );
}

// -- states: loading, empty, error ---------------------------------------------

export function loading(text = "Loading…") {
  return h(
    "div",
    { class: "state-block", role: "status" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", {}, text),
  );
}

export function empty(title, text = "", extra = null) {
  return h(
    "div",
    { class: "state-block empty" },
    h("div", { class: "empty-art", "aria-hidden": "true" }),
    h("strong", {}, title),
    text ? h("p", {}, text) : null,
    extra,
  );
}

export function errorBlock(error, retry) {
  return h(
    "div",
    { class: "state-block error", role: "alert" },
    h("strong", {}, "Could not load"),
    h("p", {}, error?.message || String(error)),
    retry
      ? h("button", { class: "btn", type: "button", onclick: retry }, icon("refresh"), "Retry")
      : null,
  );
}

// -- announcements and toasts ----------------------------------------------------

export function announce(text) {
  const region = document.getElementById("sr-status");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** A toast in the corner; kind: info, success, error. */
export function toast(text, { kind = "info", title = null, timeout = 5000, action = null } = {}) {
  const stack = document.getElementById("toasts");
  if (!stack) return;
  const closeBtn = h(
    "button",
    { class: "toast-close", type: "button", "aria-label": "Dismiss notification" },
    icon("close"),
  );
  const node = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-bar", "aria-hidden": "true" }),
    h("div", { class: "toast-body" }, title ? h("strong", {}, title) : null, h("span", {}, text)),
    action
      ? h(
          "button",
          {
            class: "btn btn-small",
            type: "button",
            onclick: () => {
              action.run();
              dismiss();
            },
          },
          action.label,
        )
      : null,
    closeBtn,
  );
  const dismiss = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  };
  closeBtn.addEventListener("click", dismiss);
  stack.append(node);
  while (stack.children.length > 5) stack.firstChild.remove();
  if (timeout) setTimeout(dismiss, timeout);
}

// -- dialogs --------------------------------------------------------------------

/**
 * A modal <dialog>: title, body nodes, buttons. Resolves with the value the
 * `onSubmit` returns (or null when cancelled). `onSubmit` may throw to keep it open.
 */
export function dialog({
  title,
  body,
  submitLabel = "OK",
  submitClass = "btn-primary",
  onSubmit,
  onKey,
  wide = false,
  describedBy,
  cancel = true,
}) {
  return new Promise((resolve) => {
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { class: `btn ${submitClass}`, type: "submit" }, submitLabel);
    const titleId = `dlg-${Math.random().toString(36).slice(2, 8)}`;
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form", novalidate: true },
      h(
        "header",
        { class: "dialog-head" },
        h("h2", { id: titleId }, title),
        h(
          "button",
          {
            type: "button",
            class: "icon-btn",
            "aria-label": "Close dialog",
            onclick: () => finish(null),
          },
          icon("close"),
        ),
      ),
      h("div", { class: "dialog-body" }, body, error),
      h(
        "footer",
        { class: "dialog-foot" },
        cancel
          ? h("button", { type: "button", class: "btn", onclick: () => finish(null) }, "Cancel")
          : null,
        submit,
      ),
    );
    const dlg = h(
      "dialog",
      {
        class: `dialog ${wide ? "dialog-wide" : ""}`,
        "aria-labelledby": titleId,
        "aria-describedby": describedBy,
      },
      form,
    );
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(value);
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      try {
        const value = onSubmit ? await onSubmit(form) : true;
        if (value !== undefined) finish(value ?? true);
      } catch (err) {
        error.textContent = err.message || String(err);
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    dlg.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    dlg.addEventListener("keydown", (event) => {
      // The dialog is modal: its keys never reach the page's shortcuts.
      event.stopPropagation();
      if (onKey) onKey(event, { form, submit: () => form.requestSubmit(), finish });
    });
    dlg.submitForm = () => form.requestSubmit();
    document.body.append(dlg);
    dlg.showModal();
    const first =
      dlg.querySelector("[autofocus]") ||
      dlg.querySelector(
        ".dialog-body input, .dialog-body select, .dialog-body textarea, .dialog-body button",
      ) ||
      submit;
    if (first) first.focus();
  });
}

/** A labelled form field. */
export function field(label, control, hint = null) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  control.removeAttribute("aria-label"); // the visible label names it
  const hintNode = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

export function select(options, { value = "", name, label, id, onchange, cls = "" } = {}) {
  const el = h("select", { name, id, class: `input ${cls}`, "aria-label": label, onchange });
  for (const opt of options) {
    if (opt.group) {
      const group = h("optgroup", { label: opt.group });
      for (const o of opt.options) group.append(h("option", { value: o.value }, o.label));
      el.append(group);
    } else {
      el.append(h("option", { value: opt.value }, opt.label));
    }
  }
  if ([...el.options].some((o) => o.value === value)) el.value = value;
  return el;
}

/** Whether a key event comes from a place that types text. */
export function isTyping(event) {
  const t = event.target;
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  const tag = t.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (t.getAttribute("type") || "text").toLowerCase();
    return !["checkbox", "radio", "button", "submit", "range"].includes(type);
  }
  return false;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A table in a focusable, labelled region that scrolls on narrow screens. */
export function tableWrap(label, table) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    table,
  );
}

/** A table head of column headers. */
export function headRow(names) {
  return h("thead", {}, h("tr", {}, names.map((name) => h("th", { scope: "col" }, name))));
}
