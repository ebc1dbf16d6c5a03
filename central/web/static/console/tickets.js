// Tickets: a filtered, paged table, a detail drawer and manual creation.

import { api } from "./api.js";
import * as ref from "./ref.js";
import { openDetail, closeDetail } from "./ticket-detail.js";
import { newTicketDialog } from "./ticket-new.js";
import {
  OPEN_STATES,
  SOURCE_LABELS,
  STATE_LABELS,
  clear,
  debounce,
  empty,
  errorBlock,
  escalationChip,
  fmtAgo,
  fmtDuration,
  fmtFull,
  fmtTime,
  h,
  icon,
  kbd,
  labelOf,
  loading,
  priorityChip,
  select,
  stateChip,
} from "./ui.js";

const PAGE_SIZE = 50;
const FILTER_KEYS = [
  "state",
  "grid",
  "category",
  "overdue",
  "esc",
  "source",
  "q",
  "sort",
  "assignee",
];

let root = null;
let ctx = null;
let params = {};
let rows = [];
let total = 0;
let totalExact = true; // false: the server stopped counting at `total`
let cursor = -1;
let tbody = null;
let pagerEl = null;
let tableWrap = null;
let drawerEl = null;
let controls = {};
let loadSeq = 0;
let reset = null;
let bodyEl = null;

const view = {
  id: "tickets",
  title: "Tickets",
  shortcuts: [
    [["J"], "Next ticket"],
    [["K"], "Previous ticket"],
    [["Enter"], "Open the ticket"],
    [["Esc"], "Close the ticket panel"],
    [["/"], "Search titles"],
    [["N"], "New ticket (citizen report or patrol)"],
    [["["], "Previous page"],
    [["]"], "Next page"],
  ],
  async mount(el, p, context) {
    root = el;
    ctx = context;
    params = { ...p };
    rows = [];
    cursor = -1;
    tbody = null;
    await Promise.allSettled([ref.areas(), ref.matters(), ref.workers()]);
    if (!root) return;
    build();
    await load();
    if (params.id) showDetail(params.id);
  },
  update(p) {
    if (!tbody) {
      params = { ...p }; // still mounting: it reads these when ready
      return;
    }
    const filtersChanged =
      FILTER_KEYS.some((k) => (p[k] || "") !== (params[k] || "")) ||
      (p.page || "") !== (params.page || "");
    params = { ...p };
    if (filtersChanged) {
      syncControls();
      load();
    }
    if (params.id) showDetail(params.id);
    else hideDetail();
  },
  unmount() {
    closeDetail();
    root = null;
  },
  onNotice(notice) {
    if (
      rows.some((t) => t.id === notice.ticket_id) ||
      notice.action === "pending_review" ||
      notice.action === "dispatched"
    ) {
      reloadSoon();
    }
    if (String(notice.ticket_id) === String(params.id)) showDetail(params.id, { quiet: true });
  },
  onKey,
};
export default view;

const reloadSoon = debounce(() => load({ quiet: true }), 500);

function setParam(key, value) {
  const next = { ...params, [key]: value };
  if (key !== "page" && key !== "id") delete next.page;
  params = next;
  ctx.setParams(params);
  if (reset) reset.hidden = !FILTER_KEYS.some((k) => params[k] && k !== "sort");
}

// -- filters --------------------------------------------------------------------

function build() {
  ctx.setTitle("Tickets", "Every case, from camera events, citizens and patrols");
  ctx.setActions(
    h(
      "button",
      { class: "btn btn-primary", type: "button", onclick: () => createTicket() },
      icon("plus"),
      "New ticket",
      kbd("N"),
    ),
  );
  const search = h("input", {
    class: "input search",
    type: "search",
    id: "tickets-search",
    placeholder: "Search titles…",
    "aria-label": "Search ticket titles",
    "aria-keyshortcuts": "/",
    oninput: debounce((e) => {
      setParam("q", e.target.value.trim());
      load();
    }, 300),
  });
  const state = select(
    [
      { value: "", label: "All states" },
      { value: "open", label: "Open (any open state)" },
      ...Object.entries(STATE_LABELS).map(([value, label]) => ({ value, label })),
    ],
    { label: "State", id: "filter-state" },
  );
  const grid = select([{ value: "", label: "All areas" }], {
    label: "Area (district, street, community or grid)",
    id: "filter-grid",
  });
  ref.areas().then(async (list) => {
    for (const opt of ref.areaOptions(list))
      grid.append(h("option", { value: opt.value }, opt.label));
    // A big city lists no grids: one chosen elsewhere (a link) is added.
    const chosen = params.grid || "";
    if (chosen && !list.some((a) => a.code === chosen)) {
      await ref.loadNames([chosen]);
      grid.append(h("option", { value: chosen }, `${ref.areaName(chosen) || chosen} · grid`));
    }
    grid.value = chosen;
  });
  const category = select([{ value: "", label: "All categories" }], {
    label: "Category",
    id: "filter-category",
  });
  ref.matters().then((matters) => {
    const classes = new Map();
    for (const m of matters) {
      const cls = m.category_code.slice(0, 2);
      if (!classes.has(cls))
        classes.set(cls, { name: m.category_name.split("/")[0], codes: new Map() });
      classes.get(cls).codes.set(m.category_code, m.category_name.split("/").slice(-1)[0]);
    }
    for (const [cls, info] of [...classes].sort()) {
      category.append(h("option", { value: cls }, `${cls} ${info.name} (all)`));
      for (const [code, name] of [...info.codes].sort())
        category.append(h("option", { value: code }, `\u2003${code} ${name}`));
    }
    category.value = params.category || "";
  });
  const overdue = select(
    [
      { value: "", label: "Any deadline" },
      { value: "true", label: "Overdue" },
      { value: "false", label: "On time" },
    ],
    { label: "Deadline", id: "filter-overdue" },
  );
  const esc = select(
    [
      { value: "", label: "Any escalation" },
      { value: "1", label: "Escalated (L1+)" },
      { value: "2", label: "Street or above (L2+)" },
      { value: "3", label: "Department (L3)" },
    ],
    { label: "Escalation", id: "filter-esc" },
  );
  const source = select(
    [
      { value: "", label: "Any source" },
      ...Object.entries(SOURCE_LABELS).map(([value, label]) => ({ value, label })),
    ],
    { label: "Source", id: "filter-source" },
  );
  const sort = select(
    [
      { value: "newest", label: "Newest first" },
      { value: "oldest", label: "Oldest first" },
      { value: "urgency", label: "Most urgent first" },
    ],
    { label: "Sort order", id: "filter-sort" },
  );
  controls = { q: search, state, grid, category, overdue, esc, source, sort };
  for (const [key, control] of Object.entries(controls)) {
    if (key === "q") continue;
    control.addEventListener("change", () => {
      setParam(key, control.value === "newest" && key === "sort" ? "" : control.value);
      load();
    });
  }
  reset = h(
    "button",
    {
      class: "btn btn-ghost",
      type: "button",
      onclick: () => {
        params = params.id ? { id: params.id } : {};
        ctx.setParams(params);
        syncControls();
        load();
      },
    },
    "Clear filters",
  );
  const filters = h(
    "div",
    { class: "filters", role: "search", "aria-label": "Ticket filters" },
    search,
    state,
    grid,
    category,
    overdue,
    esc,
    source,
    sort,
    reset,
  );
  tbody = h("tbody");
  const table = h(
    "table",
    { class: "table", id: "tickets-table", "aria-label": "Tickets", "aria-rowcount": "-1" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col", class: "num" }, "#"),
        h("th", { scope: "col" }, "Ticket"),
        h("th", { scope: "col" }, "State"),
        h("th", { scope: "col" }, "Priority"),
        h("th", { scope: "col" }, "Grid"),
        h("th", { scope: "col", class: "opt-narrow" }, "Assignee"),
        h("th", { scope: "col", class: "opt" }, "Due"),
        h("th", { scope: "col", class: "opt" }, "Escalation"),
        h("th", { scope: "col", class: "opt" }, "Created"),
      ),
    ),
    tbody,
  );
  tableWrap = h("div", { class: "table-wrap" }, table);
  pagerEl = h("nav", { class: "pager", "aria-label": "Pages" });
  drawerEl = h("aside", {
    class: "drawer",
    id: "ticket-drawer",
    "aria-label": "Ticket details",
    hidden: true,
  });
  bodyEl = h("div", { class: "tickets-body" });
  root.append(filters, bodyEl);
  bodyEl.append(
    h("section", { class: "tickets-table", "aria-label": "Ticket list" }, tableWrap, pagerEl),
    drawerEl,
  );
  syncControls();
}

function syncControls() {
  for (const [key, control] of Object.entries(controls)) {
    const value = params[key] || (key === "sort" ? "newest" : "");
    if (control.value !== value) control.value = value;
  }
  if (reset) reset.hidden = !FILTER_KEYS.some((k) => params[k] && k !== "sort");
}

function query() {
  const page = Math.max(0, Number(params.page || 1) - 1);
  const states = params.state === "open" ? OPEN_STATES : params.state ? [params.state] : undefined;
  return {
    state: states,
    grid: params.grid,
    category: params.category,
    overdue: params.overdue,
    escalation_min: params.esc,
    source: params.source,
    assignee: params.assignee,
    q: params.q,
    sort: params.sort || "newest",
    limit: PAGE_SIZE,
    offset: page * PAGE_SIZE,
  };
}

async function load({ quiet = false } = {}) {
  if (!root) return;
  const seq = ++loadSeq;
  if (!quiet && !rows.length) {
    clear(tbody, h("tr", {}, h("td", { colspan: 9 }, loading("Loading tickets…"))));
  }
  tableWrap.setAttribute("aria-busy", "true");
  try {
    const page = await api("/tickets", { query: query() });
    await ref.loadNames(page.items.map((t) => t.grid_code));
    if (!root || seq !== loadSeq) return;
    rows = page.items;
    total = page.total;
    totalExact = page.total_exact !== false;
    renderRows();
    renderPager();
  } catch (error) {
    if (!root || seq !== loadSeq) return;
    clear(
      tbody,
      h(
        "tr",
        {},
        h(
          "td",
          { colspan: 9 },
          errorBlock(error, () => load()),
        ),
      ),
    );
  } finally {
    tableWrap.removeAttribute("aria-busy");
  }
}

function dueCell(t) {
  if (t.time_left_s !== null && t.time_left_s !== undefined) {
    if (t.time_left_s < 0 || t.overdue) {
      return h(
        "span",
        { class: "chip overdue", title: fmtFull(t.due_at) },
        icon("clock"),
        `${fmtDuration(-t.time_left_s)} over`,
      );
    }
    return h("span", { title: fmtFull(t.due_at) }, `in ${fmtDuration(t.time_left_s)}`);
  }
  if (t.overdue) return h("span", { class: "chip overdue" }, "Overdue");
  if (t.state === "resolved") return h("span", { class: "muted" }, "awaiting check");
  return h("span", { class: "muted" }, "—");
}

function renderRows() {
  const active = document.activeElement;
  const focusedId = tbody.contains(active) ? active.closest("tr")?.dataset.ticketId : null;
  clear(tbody);
  if (!rows.length) {
    const filtered = FILTER_KEYS.some((k) => params[k]);
    tbody.append(
      h(
        "tr",
        {},
        h(
          "td",
          { colspan: 9 },
          empty(
            filtered ? "No tickets match these filters" : "No tickets yet",
            filtered
              ? "Change or clear the filters to see more."
              : "Tickets appear as cameras report events or when you create one.",
          ),
        ),
      ),
    );
    return;
  }
  rows.forEach((t, i) => {
    const gridName = ref.areaName(t.grid_code);
    const tr = h(
      "tr",
      {
        class: "clickable",
        tabindex: "0",
        dataset: { ticketId: t.id, state: t.state },
        "aria-selected": String(params.id) === String(t.id) ? "true" : "false",
        onclick: () => openRow(i),
        onkeydown: (e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            openRow(i);
          }
        },
      },
      h("td", { class: "num mono" }, String(t.id)),
      h(
        "td",
        { class: "two-line title-cell" },
        h("span", { class: "cell-main" }, t.title),
        h(
          "span",
          { class: "cell-sub" },
          `${t.category_code} ${t.category_name} · ${labelOf(SOURCE_LABELS, t.source)}`,
        ),
      ),
      h("td", {}, stateChip(t.state)),
      h("td", {}, priorityChip(t.priority)),
      h(
        "td",
        { class: "two-line" },
        h("span", { class: "cell-main" }, gridName || (t.grid_code ? t.grid_code : "No grid")),
        t.grid_code ? h("span", { class: "cell-sub mono" }, t.grid_code) : null,
      ),
      h(
        "td",
        { class: "opt-narrow" },
        t.assignee_id
          ? h("span", {}, ref.workerName(t.assignee_id))
          : h("span", { class: "muted" }, "Unassigned"),
      ),
      h("td", { class: "opt" }, dueCell(t)),
      h("td", { class: "opt" }, escalationChip(t.escalation_level)),
      h(
        "td",
        { class: "opt", title: fmtFull(t.created_at) },
        h("span", { class: "cell-main" }, fmtAgo(t.created_at)),
        h("span", { class: "cell-sub" }, fmtTime(t.created_at)),
      ),
    );
    tbody.append(tr);
  });
  if (focusedId)
    tbody.querySelector(`tr[data-ticket-id="${focusedId}"]`)?.focus({ preventScroll: true });
}

function countLabel(n) {
  return totalExact ? n.toLocaleString() : `${n.toLocaleString()}+`;
}

function pageCount() {
  const counted = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.max(1, Number(params.page || 1));
  // Past the counted matches there are more pages while pages come back full.
  return totalExact ? counted : Math.max(counted, rows.length === PAGE_SIZE ? page + 1 : page);
}

function renderPager() {
  clear(pagerEl);
  const page = Math.max(1, Number(params.page || 1));
  const pages = pageCount();
  const from = total ? (page - 1) * PAGE_SIZE + 1 : 0;
  const to = Math.min(total, page * PAGE_SIZE);
  pagerEl.append(
    h(
      "span",
      { "aria-live": "polite" },
      total ? `${from}–${to} of ${countLabel(total)} tickets` : "0 tickets",
    ),
    h("span", { class: "spacer" }),
    h("span", {}, totalExact ? `Page ${page} of ${pages}` : `Page ${page}`),
    h(
      "button",
      {
        class: "btn btn-small",
        type: "button",
        disabled: page <= 1,
        onclick: () => goPage(page - 1),
        "aria-keyshortcuts": "[",
      },
      h("span", { "aria-hidden": "true" }, "‹"),
      "Previous",
    ),
    h(
      "button",
      {
        class: "btn btn-small",
        type: "button",
        disabled: page >= pages,
        onclick: () => goPage(page + 1),
        "aria-keyshortcuts": "]",
      },
      "Next",
      h("span", { "aria-hidden": "true" }, "›"),
    ),
  );
}

function goPage(page) {
  if (page < 1 || page > pageCount()) return;
  setParam("page", page > 1 ? String(page) : "");
  load();
  tableWrap.scrollTop = 0;
}

// -- detail ---------------------------------------------------------------------

function openRow(i) {
  cursor = i;
  const t = rows[i];
  if (!t) return;
  setParam("id", String(t.id));
  showDetail(t.id);
}

function markSelected() {
  for (const tr of tbody.querySelectorAll("tr[data-ticket-id]")) {
    tr.setAttribute("aria-selected", tr.dataset.ticketId === String(params.id) ? "true" : "false");
  }
}

function showDetail(id, { quiet = false } = {}) {
  if (!drawerEl) return;
  drawerEl.hidden = false;
  bodyEl.classList.add("with-drawer");
  markSelected();
  openDetail(drawerEl, id, {
    quiet,
    context: ctx,
    onClose: () => {
      const next = { ...params };
      delete next.id;
      params = next;
      ctx.setParams(params);
      hideDetail();
      const row = tbody.querySelector(`tr[data-ticket-id="${id}"]`);
      if (row) row.focus();
    },
    onChanged: () => load({ quiet: true }),
  });
}

function hideDetail() {
  if (!drawerEl) return;
  closeDetail();
  drawerEl.hidden = true;
  bodyEl.classList.remove("with-drawer");
  markSelected();
}

async function createTicket() {
  const created = await newTicketDialog(ctx);
  if (created) {
    await load({ quiet: true });
    setParam("id", String(created.id));
    showDetail(created.id);
  }
}

function onKey(event) {
  const key = event.key;
  if (key === "/") {
    event.preventDefault();
    controls.q.focus();
  } else if (key === "n") {
    event.preventDefault();
    createTicket();
  } else if (key === "j" || key === "k") {
    if (!rows.length) return;
    event.preventDefault();
    const current = rows.findIndex((t) => String(t.id) === String(params.id));
    const base = current >= 0 ? current : cursor;
    const next = Math.max(0, Math.min(rows.length - 1, base + (key === "j" ? 1 : -1)));
    cursor = next;
    tbody.children[next]?.focus();
    if (params.id) openRow(next);
  } else if (key === "Escape" && params.id) {
    event.preventDefault();
    const next = { ...params };
    delete next.id;
    params = next;
    ctx.setParams(params);
    hideDetail();
  } else if (key === "[") {
    goPage(Number(params.page || 1) - 1);
  } else if (key === "]") {
    goPage(Number(params.page || 1) + 1);
  }
}
