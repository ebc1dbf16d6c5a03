// Review queue: AI-flagged events waiting for an operator. Confirm dispatches the
// ticket; reject ends it as a false positive. One keystroke each, bulk by selection.

import { api, apiOptional, showMedia } from "./api.js";
import * as ref from "./ref.js";
import { clipVideo } from "./clip.js";
import { baseMap, boundsOf } from "./geo.js";
import {
  REVIEW_REASON_LABELS,
  announce,
  clear,
  debounce,
  dialog,
  empty,
  errorBlock,
  eventTypeLabel,
  field,
  fmtAgo,
  fmtFull,
  fmtTime,
  h,
  icon,
  kbd,
  labelOf,
  loading,
  priorityChip,
  select,
  toast,
} from "./ui.js";

export const REJECT_REASONS = [
  "False positive: nothing there",
  "Normal activity, not a case",
  "Duplicate of an open ticket",
  "Image unclear, cannot judge",
  "Camera test or maintenance",
];

const PAGE = 200;

let root = null;
let ctx = null;
let items = [];
let total = 0;
let totalExact = true; // false: the server stopped counting at `total`
let cursor = 0; // index of the item shown
let checked = new Set(); // ticket ids selected for bulk actions
let busy = false;
let pollTimer = null;
let listEl = null;
let detailEl = null;
let headCountEl = null;
let bulkEl = null;

const view = {
  id: "review",
  title: "Review",
  shortcuts: [
    [["J"], "Next event"],
    [["K"], "Previous event"],
    [["C"], "Confirm and dispatch"],
    [["R"], "Reject as false positive (then 1–5 for the reason)"],
    [["X"], "Select or unselect for bulk actions"],
    [["Shift", "A"], "Select all / none"],
    [["Shift", "C"], "Confirm the selected events"],
    [["Shift", "R"], "Reject the selected events"],
    [["O"], "Open the ticket in Tickets"],
    [["Space"], "Play or pause the clip"],
  ],
  mount(el, _params, context) {
    root = el;
    ctx = context;
    items = [];
    checked = new Set();
    cursor = 0;
    build();
    Promise.allSettled([ref.matters(), ref.workers()]).then(([m, w]) => {
      if (m.status === "fulfilled") matterCache = m.value;
      if (w.status === "fulfilled") workerCache = w.value;
      if (root) renderDetail();
    });
    load(true);
    pollTimer = setInterval(() => load(false), 30000);
  },
  unmount() {
    clearInterval(pollTimer);
    if (whereMap) whereMap.remove();
    whereMap = null;
    whereEl = null;
    whereMarker = null;
    gridLayer = null;
    root = null;
  },
  onNotice(notice) {
    if (notice.action === "pending_review" || items.some((t) => t.id === notice.ticket_id)) {
      reloadSoon();
    }
  },
  onKey,
};
export default view;

const reloadSoon = debounce(() => load(false), 400);

function build() {
  headCountEl = h("span", { class: "count", "aria-live": "polite" });
  const selectAll = h("input", {
    type: "checkbox",
    class: "checkbox",
    id: "review-select-all",
    "aria-label": "Select all events",
    onchange: (e) => toggleAll(e.target.checked),
  });
  bulkEl = h("div", { class: "bulkbar", hidden: true });
  listEl = h("ul", { class: "review-items", "aria-label": "Events awaiting review" });
  const side = h(
    "section",
    { class: "review-list", "aria-labelledby": "review-list-title" },
    h(
      "div",
      { class: "review-list-head" },
      selectAll,
      h("h2", { id: "review-list-title", class: "sr-only" }, "Queue"),
      h("strong", {}, "Awaiting review"),
      headCountEl,
      h("span", { class: "spacer" }),
      h(
        "button",
        {
          class: "icon-btn",
          type: "button",
          "aria-label": "Refresh the queue",
          title: "Refresh",
          onclick: () => load(true),
        },
        icon("refresh"),
      ),
    ),
    bulkEl,
    listEl,
  );
  detailEl = h("section", { class: "review-detail", "aria-label": "Event under review" });
  root.append(side, detailEl);
  ctx.setTitle("Review", "AI-flagged events waiting for an operator");
  ctx.setActions(
    h(
      "button",
      {
        class: "btn btn-ghost",
        type: "button",
        onclick: () => document.getElementById("help-button").click(),
      },
      icon("keyboard"),
      "Shortcuts",
      kbd("?"),
    ),
  );
}

async function load(showSpinner) {
  if (!root) return;
  if (showSpinner && !items.length) {
    clear(listEl, h("li", {}, loading("Loading the queue…")));
  }
  const keepId = items[cursor]?.id;
  try {
    const page = await api("/review", { query: { limit: PAGE } });
    await ref.loadNames(page.items.map((t) => t.grid_code));
    if (!root) return;
    items = page.items;
    total = page.total;
    totalExact = page.total_exact !== false;
  } catch (error) {
    if (!root) return;
    clear(
      listEl,
      h(
        "li",
        {},
        errorBlock(error, () => load(true)),
      ),
    );
    clear(detailEl);
    return;
  }
  const ids = new Set(items.map((t) => t.id));
  checked = new Set([...checked].filter((id) => ids.has(id)));
  const again = items.findIndex((t) => t.id === keepId);
  if (again >= 0) cursor = again;
  cursor = Math.max(0, Math.min(cursor, items.length - 1));
  renderList();
  renderDetail();
  ctx.refreshBadge();
}

// -- list -----------------------------------------------------------------------

function renderList() {
  const counted = totalExact ? String(total) : `${total}+`;
  headCountEl.textContent = total > items.length ? `${items.length} of ${counted}` : counted;
  clear(listEl);
  if (!items.length) {
    listEl.append(
      h(
        "li",
        {},
        empty(
          "Queue is clear",
          "No AI-flagged events are waiting. New ones appear here as cameras report them.",
        ),
      ),
    );
  }
  items.forEach((t, i) => listEl.append(itemNode(t, i)));
  renderBulk();
  const all = document.getElementById("review-select-all");
  if (all) {
    all.checked = items.length > 0 && checked.size === items.length;
    all.indeterminate = checked.size > 0 && checked.size < items.length;
  }
}

function itemNode(t, i) {
  const ev = t.events[0];
  const snap = t.snapshot_url || ev?.snapshot_url;
  const box = h("input", {
    type: "checkbox",
    class: "checkbox",
    checked: checked.has(t.id),
    "aria-label": `Select ticket ${t.id}`,
    onclick: (e) => e.stopPropagation(),
    onchange: (e) => {
      if (e.target.checked) checked.add(t.id);
      else checked.delete(t.id);
      renderList();
    },
  });
  const node = h(
    "li",
    {
      class: `review-item${i === cursor ? " current" : ""}`,
      dataset: { ticketId: t.id, eventIds: t.events.map((e) => e.event_id).join(" ") },
      onclick: () => select_(i),
    },
    box,
    h(
      "div",
      { class: "thumb", "aria-hidden": "true" },
      snap ? showMedia(h("img", { alt: "", loading: "lazy" }), snap) : null,
    ),
    h(
      "div",
      { class: "review-item-main" },
      h(
        "button",
        {
          class: "review-item-open",
          type: "button",
          "aria-current": i === cursor ? "true" : null,
          onclick: (e) => {
            e.stopPropagation();
            select_(i);
          },
        },
        h("span", { class: "review-item-title" }, h("span", {}, t.title)),
      ),
      h(
        "div",
        { class: "review-item-meta" },
        priorityChip(t.priority),
        h("span", { class: "reason" }, labelOf(REVIEW_REASON_LABELS, t.review_reason)),
        t.confidence !== null ? h("span", {}, `${Math.round(t.confidence * 100)}%`) : null,
        h("span", {}, fmtAgo(t.created_at)),
      ),
    ),
  );
  return node;
}

function renderBulk() {
  clear(bulkEl);
  bulkEl.hidden = checked.size === 0;
  if (!checked.size) return;
  bulkEl.append(
    h("strong", {}, `${checked.size} selected`),
    h("span", { class: "spacer" }),
    h(
      "button",
      { class: "btn btn-small btn-success", type: "button", onclick: () => bulkConfirm() },
      icon("check"),
      "Confirm",
      kbd("⇧C"),
    ),
    h(
      "button",
      { class: "btn btn-small btn-danger", type: "button", onclick: () => bulkReject() },
      icon("x"),
      "Reject",
      kbd("⇧R"),
    ),
    h(
      "button",
      { class: "btn btn-small btn-ghost", type: "button", onclick: () => toggleAll(false) },
      "Clear",
    ),
  );
}

function toggleAll(on) {
  checked = on ? new Set(items.map((t) => t.id)) : new Set();
  renderList();
  announce(on ? `${checked.size} events selected` : "Selection cleared");
}

function select_(i, focus = false) {
  if (!items.length) return;
  cursor = Math.max(0, Math.min(i, items.length - 1));
  for (const [n, li] of [...listEl.children].entries()) {
    li.classList.toggle("current", n === cursor);
    const btn = li.querySelector(".review-item-open");
    if (btn) {
      if (n === cursor) btn.setAttribute("aria-current", "true");
      else btn.removeAttribute("aria-current");
    }
  }
  const li = listEl.children[cursor];
  if (li) {
    li.scrollIntoView({ block: "nearest" });
    if (focus) li.querySelector(".review-item-open")?.focus();
  }
  renderDetail();
}

// -- detail ---------------------------------------------------------------------

function renderDetail() {
  clear(detailEl);
  const t = items[cursor];
  if (!t) {
    detailEl.append(
      empty(
        "Nothing to review",
        "Confirmed events become dispatched tickets; rejected ones are kept as false positives for the statistics.",
        h("a", { class: "btn", href: "#/tickets" }, icon("tickets"), "Open tickets"),
      ),
    );
    return;
  }
  const ev = t.events[0];
  const camera = ev ? ref.cameraName(ev.camera_id) : t.camera_id;
  const gridName = ref.areaName(t.grid_code);
  const matter = matterFor(t.matter_key);
  const confidence = t.confidence ?? ev?.confidence;
  const threshold = matter?.review_below_confidence;

  const workerSelect = buildWorkerSelect(t);
  const inner = h(
    "div",
    { class: "review-detail-inner", dataset: { ticketId: t.id } },
    h(
      "div",
      { class: "review-head" },
      h(
        "div",
        { style: { flex: "1", minWidth: "0" } },
        h("h2", { id: "review-title" }, t.title),
        h(
          "div",
          { class: "sub" },
          h("span", { class: "mono" }, `#${t.id}`),
          priorityChip(t.priority),
          h(
            "span",
            { class: "chip state-pending_review" },
            h("span", { class: "dot", "aria-hidden": "true" }),
            labelOf(REVIEW_REASON_LABELS, t.review_reason),
          ),
          h("span", {}, t.category_name),
          h("span", { title: fmtFull(t.created_at) }, `flagged ${fmtAgo(t.created_at)}`),
        ),
      ),
      h("span", { class: "muted" }, `${cursor + 1} / ${items.length}`),
    ),
    h("div", { class: "media-grid" }, clipFrame(ev), snapshotFrame(t, ev)),
    h(
      "dl",
      { class: "facts" },
      fact("Camera", camera, ev ? `${ev.node_id} / ${ev.camera_id}` : ""),
      fact(
        "Rule",
        ev
          ? `${eventTypeLabel(ev.type)}${ev.zone_id ? ` · zone ${ev.zone_id}` : ""}`
          : eventTypeLabel(t.event_type),
      ),
      fact(
        "Confidence",
        confidence !== null && confidence !== undefined
          ? h(
              "span",
              {},
              `${(confidence * 100).toFixed(0)}%`,
              h(
                "span",
                { class: "confbar", "aria-hidden": "true" },
                h("i", { style: { width: `${confidence * 100}%` } }),
              ),
            )
          : "—",
        threshold ? `review below ${(threshold * 100).toFixed(0)}%` : "",
      ),
      fact("Review reason", labelOf(REVIEW_REASON_LABELS, t.review_reason)),
      reporterFact(t),
      fact(
        "Grid",
        gridName || t.grid_code || "Outside every grid",
        t.grid_code ? ref.areaPath(t.grid_code) : "no grid: name a worker to dispatch",
      ),
      fact(
        "Detected",
        h(
          "span",
          { title: fmtFull(ev ? ev.detected_at : t.found_at) },
          fmtTime(ev ? ev.detected_at : t.found_at),
        ),
        fmtAgo(ev ? ev.detected_at : t.found_at),
      ),
      fact("Model", ev ? `${ev.model_name} ${ev.model_version}` : "—"),
      fact(
        "Observations",
        String(t.observations),
        t.events.length > 1 ? `${t.events.length} events` : "",
      ),
    ),
    t.description ? h("p", { class: "description" }, t.description) : null,
    h(
      "div",
      { class: "actionbar", role: "group", "aria-label": "Review decision" },
      h("label", { for: workerSelect.id, class: "label" }, "Dispatch to"),
      workerSelect,
      h("span", { class: "spacer" }),
      h(
        "button",
        { class: "btn btn-ghost", type: "button", onclick: () => select_(cursor + 1) },
        "Skip",
        kbd("J"),
      ),
      h(
        "button",
        {
          class: "btn btn-danger",
          type: "button",
          id: "review-reject",
          onclick: () => rejectOne(),
        },
        icon("x"),
        "Reject",
        kbd("R"),
      ),
      h(
        "button",
        {
          class: "btn btn-success",
          type: "button",
          id: "review-confirm",
          onclick: () => confirmOne(),
        },
        icon("check"),
        "Confirm & dispatch",
        kbd("C"),
      ),
    ),
  );
  inner.append(h("div", { class: "review-context" }, whereCard(t, ev), cameraHistoryCard(t, ev)));
  detailEl.append(inner);
}

// -- context: where it is, what the camera flagged before -------------------------

let whereMap = null;
let whereEl = null;
let whereMarker = null;
let gridLayer = null;
let recentEvents = { at: 0, list: null };

function whereCard(t, ev) {
  if (!whereEl) whereEl = h("div", { class: "where-map" });
  const lat = ev?.lat ?? t.lat;
  const lon = ev?.lon ?? t.lon;
  whereEl.setAttribute("role", "img");
  whereEl.setAttribute(
    "aria-label",
    `Map: the event at ${lat?.toFixed(5)}, ${lon?.toFixed(5)}, ${ref.areaName(t.grid_code) || "outside every grid"}`,
  );
  requestAnimationFrame(() => updateWhere(t, lat, lon));
  return h(
    "section",
    { class: "card", "aria-labelledby": "where-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "where-title" }, "Where"),
      h("span", { class: "muted" }, ref.areaPath(t.grid_code) || "outside every grid"),
    ),
    whereEl,
  );
}

let whereSeq = 0; // the latest updateWhere: an older answer is dropped

async function updateWhere(t, lat, lon) {
  if (typeof L === "undefined" || lat === null || lat === undefined) return;
  // A big city's grids are never loaded whole: only those around the event.
  const mine = ++whereSeq;
  const big = await ref.isBigCity();
  let features;
  try {
    features = (await (big ? ref.gridsAround(lat, lon) : ref.grids())).features || [];
  } catch {
    return;
  }
  if (!root || !whereEl?.isConnected || mine !== whereSeq) return;
  if (whereMap && big) {
    gridLayer.clearLayers();
    gridLayer.addData({ type: "FeatureCollection", features });
  }
  if (!whereMap) {
    whereMap = baseMap(whereEl, {
      zoomControl: false,
      attributionControl: false,
      scrollWheelZoom: false,
      keyboard: false,
      minZoom: 12,
    });
    const all = boundsOf(features);
    if (all) whereMap.fitBounds(all);
    else whereMap.setView([lat, lon], 16);
    gridLayer = L.geoJSON({ type: "FeatureCollection", features }, { interactive: false }).addTo(
      whereMap,
    );
  }
  whereMap.invalidateSize();
  gridLayer.setStyle((f) =>
    f.properties.code === t.grid_code
      ? { color: "#ffb547", weight: 2, fillColor: "#ffb547", fillOpacity: 0.18 }
      : { color: "#5d6f96", weight: 1, fillColor: "#2a3a63", fillOpacity: 0.2 },
  );
  if (whereMarker) whereMarker.setLatLng([lat, lon]);
  else
    whereMarker = L.circleMarker([lat, lon], {
      radius: 7,
      color: "#fff",
      weight: 2,
      fillColor: "#ff6b6b",
      fillOpacity: 1,
      interactive: false,
    }).addTo(whereMap);
  const grid = features.find((f) => f.properties.code === t.grid_code);
  const bounds = (
    grid ? boundsOf([grid]) : boundsOf(features) || L.latLngBounds([lat, lon], [lat, lon])
  ).extend([lat, lon]);
  whereMap.fitBounds(bounds, { padding: [30, 30], maxZoom: 18, animate: false });
}

function cameraHistoryCard(t, ev) {
  const list = h(
    "ul",
    { class: "mini-list", "aria-live": "off" },
    h("li", { class: "muted" }, "Loading…"),
  );
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "cam-history-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "cam-history-title" }, "From this camera"),
      h("span", { class: "muted ellipsis" }, ev ? ref.cameraName(ev.camera_id) : ""),
    ),
    list,
  );
  if (!ev) {
    clear(list, h("li", { class: "muted" }, "No camera event."));
    return section;
  }
  loadRecentEvents().then((events) => {
    if (events === null) {
      clear(list, h("li", { class: "muted" }, "Recent events are not available from this server."));
      return;
    }
    const mine = events.filter((e) => e.camera_id === ev.camera_id).slice(0, 6);
    clear(
      list,
      mine.length
        ? mine.map((e) =>
            h(
              "li",
              { class: e.event_id === ev.event_id ? "this" : "" },
              h("span", {}, eventTypeLabel(e.type)),
              h("span", { class: "muted" }, `${Math.round(e.confidence * 100)}%`),
              h("span", { class: "muted" }, fmtAgo(e.detected_at)),
              e.event_id === ev.event_id
                ? h("span", { class: "chip tag" }, "this event")
                : e.ticket_id
                  ? h("a", { href: `#/tickets?id=${e.ticket_id}` }, `#${e.ticket_id}`)
                  : h("span", { class: "muted" }, "no ticket"),
            ),
          )
        : h("li", { class: "muted" }, "Nothing else recently."),
    );
  });
  return section;
}

async function loadRecentEvents() {
  if (recentEvents.list !== undefined && Date.now() - recentEvents.at < 15000 && recentEvents.list)
    return recentEvents.list;
  try {
    const list = await apiOptional("/events", { query: { limit: 300 } });
    recentEvents = { at: Date.now(), list };
    return list;
  } catch {
    return [];
  }
}

function fact(label, value, sub = "") {
  return h(
    "div",
    { class: "fact" },
    h("dt", {}, label),
    h("dd", {}, value),
    sub ? h("dd", { class: "muted", style: { fontSize: "12px" } }, sub) : null,
  );
}

// A citizen's or Open311 client's side of the ticket: contact (personal data,
// staff only), channel and the hotline's own case number. Filled in when loaded.
function reporterFact(t) {
  if (t.source !== "citizen" && t.source !== "open311") return null;
  const value = h("span", { id: "review-reporter" }, "…");
  apiOptional(`/citizen/reports/${t.id}`).then((r) => {
    if (!r) return void (value.textContent = "—");
    const parts = [r.contact || "no contact given"];
    if (r.open311_client) parts.push(`via ${r.open311_client}`);
    if (r.external_id) parts.push(`their id ${r.external_id}`);
    value.textContent = parts.join(" · ");
  }).catch(() => {
    value.textContent = "could not load";
  });
  return fact("Reporter", value, t.source === "citizen" ? "public report page" : "Open311");
}

let matterCache = [];

function matterFor(key) {
  return matterCache.find((m) => m.key === key);
}

function clipFrame(ev) {
  const frame = h(
    "div",
    { class: "media-frame" },
    h(
      "span",
      { class: "media-caption" },
      h("span", { class: "rec", "aria-hidden": "true" }),
      "Clip",
    ),
  );
  if (!ev?.clip_url) {
    frame.append(h("div", { class: "media-missing" }, "No clip uploaded (yet)"));
    return frame;
  }
  const video = clipVideo(ev);
  video.addEventListener("error", () => {
    video.replaceWith(h("div", { class: "media-missing" }, "The clip cannot be played"));
  });
  frame.append(video);
  return frame;
}

function snapshotFrame(t, ev) {
  const url = ev?.snapshot_url || t.snapshot_url;
  const frame = h(
    "div",
    { class: "media-frame snapshot" },
    h("span", { class: "media-caption" }, "Snapshot · detection"),
  );
  if (!url) {
    frame.append(h("div", { class: "media-missing" }, "No snapshot"));
    return frame;
  }
  const label = ev
    ? `${eventTypeLabel(ev.type)} ${Math.round(ev.confidence * 100)}%`
    : "";
  const img = h("img", {
    alt: `Snapshot of ${t.title}${ev?.image_box ? ", detection box drawn" : ""}`,
  });
  img.addEventListener("load", () => {
    if (img.naturalWidth && img.naturalHeight)
      frame.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
  });
  frame.append(showMedia(img, url));
  if (ev?.image_box?.length === 4) {
    const [x1, y1, x2, y2] = ev.image_box;
    frame.append(
      h(
        "div",
        {
          class: "bbox",
          "aria-hidden": "true",
          style: {
            left: `${x1 * 100}%`,
            top: `${y1 * 100}%`,
            width: `${(x2 - x1) * 100}%`,
            height: `${(y2 - y1) * 100}%`,
          },
        },
        h("span", { class: "bbox-label" }, label),
      ),
    );
  }
  return frame;
}

let workerCache = [];

function buildWorkerSelect(t) {
  const grid = t.grid_code || "";
  const covering = workerCache.filter(
    (w) => w.active && w.areas.some((a) => grid && grid.startsWith(a)),
  );
  const others = workerCache.filter((w) => w.active && !covering.includes(w));
  const opt = (w) => ({
    value: w.id,
    label: `${w.name} · ${w.id}${w.on_duty ? "" : " (off duty)"} · ${w.open_tickets} open`,
  });
  const options = [
    { value: "", label: grid ? "On-duty worker of the grid (automatic)" : "Choose a worker…" },
  ];
  if (covering.length) options.push({ group: "Covering this grid", options: covering.map(opt) });
  if (others.length) options.push({ group: "Other workers", options: others.map(opt) });
  const el = select(options, { id: "review-worker", label: "Dispatch to" });
  el.style.maxWidth = "340px";
  return el;
}

// -- actions --------------------------------------------------------------------

function removeDone(ids) {
  const done = new Set(ids);
  const current = items[cursor]?.id;
  const before = items.length;
  items = items.filter((t) => !done.has(t.id));
  total = Math.max(0, total - (before - items.length));
  for (const id of ids) checked.delete(id);
  if (done.has(current)) cursor = Math.min(cursor, items.length - 1);
  else
    cursor = Math.max(
      0,
      items.findIndex((t) => t.id === current),
    );
  cursor = Math.max(0, cursor);
  renderList();
  renderDetail();
  ctx.refreshBadge();
  if (items.length < 5 && total > items.length) load(false);
}

async function chooseWorker(t) {
  const workers = workerCache.filter((w) => w.active);
  const sel = select(
    [
      { value: "", label: "Choose a worker…" },
      ...workers.map((w) => ({
        value: w.id,
        label: `${w.name} · ${w.id}${w.on_duty ? "" : " (off duty)"}`,
      })),
    ],
    { label: "Worker" },
  );
  return dialog({
    title: `Dispatch #${t.id} to…`,
    submitLabel: "Confirm & dispatch",
    submitClass: "btn-success",
    body: h(
      "div",
      {},
      h(
        "p",
        { class: "muted" },
        "This event is outside every grid, so nobody is on duty for it. Choose who handles it.",
      ),
      field("Worker", sel),
    ),
    onSubmit: () => {
      if (!sel.value) throw new Error("Choose a worker.");
      return sel.value;
    },
  });
}

async function confirmOne() {
  const t = items[cursor];
  if (!t || busy) return;
  let workerId = document.getElementById("review-worker")?.value || null;
  if (!workerId && !t.grid_code) {
    workerId = await chooseWorker(t);
    if (!workerId) return;
  }
  busy = true;
  try {
    ctx.acted(t.id);
    const result = await api(`/tickets/${t.id}/confirm`, {
      method: "POST",
      json: workerId ? { worker_id: workerId } : {},
    });
    const who = ref.workerName(result.assignee_id) || result.assignee_id;
    toast(`#${t.id} ${t.title} → ${who}`, { title: "Confirmed and dispatched", kind: "success" });
    announce(`Ticket ${t.id} confirmed and dispatched to ${who}`);
    removeDone([t.id]);
  } catch (error) {
    toast(error.message, { title: `Could not confirm #${t.id}`, kind: "error", timeout: 8000 });
    if (error.status === 409 || error.status === 404) load(false);
  } finally {
    busy = false;
  }
}

/** The reject-reason picker: 1–5 pick a reason and submit, 6 writes one. */
function pickReason(count) {
  const other = h("input", {
    class: "input",
    name: "other",
    placeholder: "Describe why",
    "aria-label": "Other reason",
    maxlength: 2000,
  });
  const choices = [...REJECT_REASONS, "Other…"].map((text, i) =>
    h(
      "label",
      { class: "reason-option" },
      h("input", {
        type: "radio",
        name: "reason",
        value: i < REJECT_REASONS.length ? text : "__other",
        checked: i === 0,
      }),
      h("span", {}, text),
      kbd(String(i + 1)),
    ),
  );
  return dialog({
    title: count > 1 ? `Reject ${count} events as false positives` : "Reject as false positive",
    submitLabel: count > 1 ? `Reject ${count}` : "Reject",
    submitClass: "btn-danger",
    body: h(
      "div",
      {},
      h(
        "fieldset",
        { class: "reasons", style: { border: "0", padding: "0", margin: "0 0 12px" } },
        h("legend", { class: "label", style: { marginBottom: "8px" } }, "Reason (press 1–6)"),
        choices,
      ),
      field("Other reason", other),
    ),
    onKey: (event, { form, submit }) => {
      if (event.target === other) return;
      const n = Number(event.key);
      if (Number.isInteger(n) && n >= 1 && n <= REJECT_REASONS.length + 1) {
        event.preventDefault();
        const radio = form.querySelectorAll('input[name="reason"]')[n - 1];
        radio.checked = true;
        if (n <= REJECT_REASONS.length) submit();
        else other.focus();
      }
    },
    onSubmit: (form) => {
      const value = form.querySelector('input[name="reason"]:checked')?.value;
      if (value === "__other") {
        const text = other.value.trim();
        if (!text) throw new Error("Write the reason.");
        return text;
      }
      return value;
    },
  });
}

async function rejectOne() {
  const t = items[cursor];
  if (!t || busy) return;
  const reason = await pickReason(1);
  if (!reason) return;
  busy = true;
  try {
    ctx.acted(t.id);
    await api(`/tickets/${t.id}/reject`, { method: "POST", json: { reason } });
    toast(`#${t.id} ${t.title}: ${reason}`, { title: "Rejected", kind: "info" });
    announce(`Ticket ${t.id} rejected: ${reason}`);
    removeDone([t.id]);
  } catch (error) {
    toast(error.message, { title: `Could not reject #${t.id}`, kind: "error", timeout: 8000 });
    if (error.status === 409 || error.status === 404) load(false);
  } finally {
    busy = false;
  }
}

async function runBulk(label, ids, call) {
  busy = true;
  const done = [];
  const failed = [];
  for (const id of ids) {
    ctx.acted(id);
    try {
      await call(id);
      done.push(id);
    } catch (error) {
      failed.push(`#${id}: ${error.message}`);
    }
  }
  busy = false;
  removeDone(done);
  if (done.length)
    toast(`${done.length} event${done.length > 1 ? "s" : ""} ${label}`, {
      title: "Bulk action done",
      kind: "success",
    });
  if (failed.length)
    toast(failed.join("; "), { title: `${failed.length} failed`, kind: "error", timeout: 10000 });
  announce(`${done.length} ${label}, ${failed.length} failed`);
}

async function bulkConfirm() {
  if (!checked.size || busy) return;
  const ids = items.filter((t) => checked.has(t.id)).map((t) => t.id);
  const noGrid = items.filter((t) => checked.has(t.id) && !t.grid_code);
  if (noGrid.length) {
    toast(
      `${noGrid.map((t) => `#${t.id}`).join(", ")} ${noGrid.length > 1 ? "are" : "is"} outside every grid: confirm ${noGrid.length > 1 ? "them" : "it"} one by one with a worker.`,
      { title: "Skipped", kind: "error" },
    );
  }
  const withGrid = ids.filter((id) => !noGrid.some((t) => t.id === id));
  if (withGrid.length)
    await runBulk("confirmed", withGrid, (id) =>
      api(`/tickets/${id}/confirm`, { method: "POST", json: {} }),
    );
}

async function bulkReject() {
  if (!checked.size || busy) return;
  const ids = items.filter((t) => checked.has(t.id)).map((t) => t.id);
  const reason = await pickReason(ids.length);
  if (!reason) return;
  await runBulk("rejected", ids, (id) =>
    api(`/tickets/${id}/reject`, { method: "POST", json: { reason } }),
  );
}

function onKey(event) {
  const key = event.key;
  const handled = () => event.preventDefault();
  if (key === "j" || key === "ArrowDown") {
    handled();
    select_(cursor + 1, true);
  } else if (key === "k" || key === "ArrowUp") {
    handled();
    select_(cursor - 1, true);
  } else if (key === "c") {
    handled();
    confirmOne();
  } else if (key === "r") {
    handled();
    rejectOne();
  } else if (key === "C") {
    handled();
    bulkConfirm();
  } else if (key === "R") {
    handled();
    bulkReject();
  } else if (key === "x") {
    const t = items[cursor];
    if (!t) return;
    handled();
    if (checked.has(t.id)) checked.delete(t.id);
    else checked.add(t.id);
    renderList();
    listEl.children[cursor]?.querySelector(".review-item-open")?.focus();
  } else if (key === "A") {
    handled();
    toggleAll(checked.size !== items.length);
  } else if (key === "o") {
    const t = items[cursor];
    if (t) {
      handled();
      ctx.navigate("tickets", { id: t.id });
    }
  } else if (key === " ") {
    const video = detailEl.querySelector("video");
    const onControl =
      event.target instanceof HTMLButtonElement ||
      event.target instanceof HTMLInputElement ||
      event.target instanceof HTMLAnchorElement;
    if (video && !onControl) {
      handled();
      if (video.paused) video.play();
      else video.pause();
    }
  }
}
