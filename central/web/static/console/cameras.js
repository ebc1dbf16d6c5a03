// Cameras and edge nodes: health, frame rates, last event, live zone occupancy;
// and central's own ingest (ok or degraded, lag, queue, dead letters).
// Polls every 5 s while shown.

import { api, apiOptional } from "./api.js";
import * as ref from "./ref.js";
import {
  clear,
  empty,
  errorBlock,
  fmtAgo,
  fmtFull,
  h,
  healthChip,
  icon,
  loading,
  select,
} from "./ui.js";

const POLL_MS = 5000;

let root = null;
let ctx = null;
let timer = null;
let cameras = [];
let nodes = null; // null: the server has no /nodes
let ingest = null; // null: the server has no /system/ingest; {failed} on an error
let lastIngestSignature = "";
let loadedAt = null;
let failed = null;
let els = {};
let filters = { health: "", q: "", node: "" };

const view = {
  id: "cameras",
  title: "Cameras",
  shortcuts: [
    [["/"], "Search cameras"],
    [["U"], "Refresh now"],
  ],
  mount(el, params, context) {
    root = el;
    ctx = context;
    cameras = [];
    nodes = null;
    ingest = null;
    failed = null;
    lastSignature = "";
    lastIngestSignature = "";
    filters = { health: params.health || "", q: params.q || "", node: params.node || "" };
    build();
    poll();
    timer = setInterval(() => {
      if (!document.hidden) poll();
      else renderUpdated();
    }, POLL_MS);
  },
  unmount() {
    clearInterval(timer);
    root = null;
  },
  onKey(event) {
    if (event.key === "/") {
      event.preventDefault();
      els.search.focus();
    } else if (event.key === "u") {
      event.preventDefault();
      poll();
    }
  },
};
export default view;

function build() {
  ctx.setTitle("Cameras", "Edge nodes and camera health, refreshed every 5 s");
  els.updated = h("span", { class: "muted", "aria-live": "off" });
  ctx.setActions(
    els.updated,
    h(
      "button",
      { class: "btn", type: "button", onclick: () => poll() },
      icon("refresh"),
      "Refresh",
    ),
  );
  els.kpis = h("div", { class: "kpis", "aria-label": "Camera health summary", role: "group" });
  els.nodes = h("div", { class: "nodes" });
  els.ingest = h("div", { class: "ingest", id: "ingest-health" });
  els.search = h("input", {
    class: "input search",
    type: "search",
    placeholder: "Search cameras…",
    "aria-label": "Search cameras by name or id",
    value: filters.q,
    oninput: (e) => {
      filters.q = e.target.value.trim();
      renderTable();
    },
  });
  const health = select(
    [
      { value: "", label: "Any health" },
      { value: "online", label: "Online" },
      { value: "stalled", label: "Stalled" },
      { value: "offline", label: "Offline" },
      { value: "unknown", label: "No report" },
    ],
    {
      label: "Health",
      value: filters.health,
      onchange: (e) => {
        filters.health = e.target.value;
        renderTable();
      },
    },
  );
  els.nodeFilter = select([{ value: "", label: "All nodes" }], {
    label: "Edge node",
    onchange: (e) => {
      filters.node = e.target.value;
      renderTable();
    },
  });
  els.tbody = h("tbody");
  els.count = h("span", { class: "muted" });
  root.append(
    h(
      "div",
      { class: "page-pad" },
      els.kpis,
      h(
        "section",
        { class: "card", style: { marginBottom: "16px" }, "aria-labelledby": "ingest-title" },
        h(
          "div",
          { class: "card-head" },
          icon("stats"),
          h("h2", { id: "ingest-title" }, "Central ingest"),
        ),
        h("div", { class: "card-body" }, els.ingest),
      ),
      h(
        "section",
        { class: "card", style: { marginBottom: "16px" }, "aria-labelledby": "nodes-title" },
        h(
          "div",
          { class: "card-head" },
          icon("server"),
          h("h2", { id: "nodes-title" }, "Edge nodes"),
        ),
        h("div", { class: "card-body" }, els.nodes),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "cams-title" },
        h(
          "div",
          { class: "card-head" },
          icon("cameras"),
          h("h2", { id: "cams-title" }, "Cameras"),
          els.count,
          h("span", { class: "spacer" }),
          els.search,
          health,
          els.nodeFilter,
        ),
        h(
          "div",
          {
            class: "table-wrap",
            tabindex: "0",
            role: "region",
            "aria-label": "Camera table (scrolls)",
          },
          h(
            "table",
            { class: "table", id: "cameras-table", "aria-labelledby": "cams-title" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Health"),
                h("th", { scope: "col" }, "Camera"),
                h("th", { scope: "col" }, "Grid"),
                h("th", { scope: "col", class: "num" }, "FPS in"),
                h("th", { scope: "col", class: "num" }, "FPS analysed"),
                h("th", { scope: "col" }, "Zone occupancy"),
                h("th", { scope: "col" }, "Last event"),
                h("th", { scope: "col" }, "Last report"),
              ),
            ),
            els.tbody,
          ),
        ),
      ),
    ),
  );
  els.tbody.append(h("tr", {}, h("td", { colspan: 8 }, loading("Loading cameras…"))));
}

async function poll() {
  try {
    const [cams, nodeList, ingestHealth] = await Promise.all([
      api("/cameras"),
      apiOptional("/nodes"),
      apiOptional("/system/ingest").catch((error) => ({ failed: error.message })),
    ]);
    await ref.loadNames(cams.map((c) => c.grid_code));
    if (!root) return;
    cameras = cams;
    nodes = nodeList;
    ingest = ingestHealth;
    failed = null;
    loadedAt = Date.now();
  } catch (error) {
    if (!root) return;
    failed = error;
  }
  renderAll();
}

let lastSignature = "";
let lastRenderAt = 0;

function renderAll() {
  renderIngest();
  // Re-render only when something changed (or every 30 s, for the relative
  // times), so that focus and screen readers are not disturbed every 5 s.
  const signature = JSON.stringify([cameras, nodes, failed?.message]);
  if (signature === lastSignature && Date.now() - lastRenderAt < 30000) {
    renderUpdated();
    return;
  }
  lastSignature = signature;
  lastRenderAt = Date.now();
  renderKpis();
  renderNodes();
  renderNodeFilter();
  renderTable();
  renderUpdated();
}

function renderUpdated() {
  if (!els.updated) return;
  if (failed) {
    els.updated.textContent = `Update failed: ${failed.message}`;
    els.updated.className = "err";
  } else if (loadedAt) {
    els.updated.textContent = `Updated ${fmtAgo(new Date(loadedAt).toISOString())}`;
    els.updated.className = "muted";
  }
}

function healthOf(c) {
  return c.health || "unknown";
}

function renderKpis() {
  const count = (h_) => cameras.filter((c) => healthOf(c) === h_).length;
  const kpi = (label, value, color, sub) =>
    h(
      "div",
      { class: "kpi" },
      h(
        "div",
        { class: "kpi-label" },
        color
          ? h("span", { class: "swatch", style: { background: color }, "aria-hidden": "true" })
          : null,
        label,
      ),
      h("div", { class: "kpi-value" }, String(value)),
      sub ? h("div", { class: "kpi-sub" }, sub) : null,
    );
  const fpsIn = cameras.reduce((s, c) => s + (c.fps_in || 0), 0);
  const fpsAn = cameras.reduce((s, c) => s + (c.fps_analysed || 0), 0);
  clear(
    els.kpis,
    kpi(
      "Cameras",
      cameras.length,
      null,
      `${nodes?.length || new Set(cameras.map((c) => c.node_id)).size} edge nodes`,
    ),
    kpi("Online", count("online"), "var(--green)"),
    kpi("Stalled", count("stalled"), "var(--amber)"),
    kpi("Offline", count("offline"), "var(--red)"),
    kpi("No report", count("unknown"), "var(--muted)"),
    kpi("Frames analysed", `${fpsAn.toFixed(1)}/s`, null, `of ${fpsIn.toFixed(1)}/s received`),
  );
}

// -- central's ingest ----------------------------------------------------------------

function fmtCount(value) {
  return Number(value ?? 0).toLocaleString();
}

function fmtLag(seconds) {
  const s = Number(seconds ?? 0);
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

// Central replicas' slots of the shared subscription: an offline one's share of the
// events waits in the broker until a process connects as it again.
function replicaSlots() {
  const slots = ingest.replica_slots || [];
  if (!slots.length) return null;
  const line = slots
    .map((slot) =>
      slot.state === "online"
        ? `${slot.client_id} online`
        : `${slot.client_id} offline ${Math.round(slot.away_s / 60)} min`,
    )
    .join(" · ");
  return h(
    "div",
    { class: "replica-slots", id: "replica-slots" },
    h("p", { class: "muted" }, `Replica slots: ${line}`),
    ingest.warnings?.length
      ? h(
          "ul",
          { class: "ingest-warnings err" },
          ingest.warnings.map((warning) => h("li", {}, warning)),
        )
      : null,
  );
}

function renderIngest() {
  // Only when something changed (the lag to the second), so the text is not
  // rewritten every 5 s under a reader.
  const signature = JSON.stringify(
    ingest && {
      ...ingest,
      lag_s: Math.round(ingest.lag_s || 0),
      replica_slots: (ingest.replica_slots || []).map((slot) => [
        slot.client_id,
        slot.state,
        Math.round(slot.away_s / 60),
      ]),
    },
  );
  if (signature === lastIngestSignature) return;
  lastIngestSignature = signature;
  const box = clear(els.ingest);
  if (ingest === null) {
    box.dataset.status = "unknown";
    box.append(h("p", { class: "muted" }, "This server does not report its ingest."));
    return;
  }
  if (ingest.failed) {
    box.dataset.status = "error";
    box.append(h("p", { class: "err" }, `Could not load the ingest health: ${ingest.failed}`));
    return;
  }
  if (!ingest.runs_ingest) {
    box.dataset.status = "elsewhere";
    box.append(
      h(
        "p",
        { class: "muted" },
        "Ingest not in this process: this server answers the API only; " +
          "the ingest replicas report on their /healthz and /metrics.",
      ),
      replicaSlots(),
    );
    return;
  }
  const ok = ingest.status === "ok";
  box.dataset.status = ingest.status;
  const figures = [
    `Lag ${fmtLag(ingest.lag_s)}`,
    `${fmtCount(ingest.queued)} queued`,
    `${fmtCount(ingest.deadlettered)} dead letters`,
    `${fmtCount(ingest.stored)} stored of ${fmtCount(ingest.received)} received`,
  ];
  if (ingest.failed_batches) figures.push(`${fmtCount(ingest.failed_batches)} failed batches`);
  box.append(
    h(
      "div",
      { class: "ingest-line" },
      h(
        "span",
        { class: `chip health ${ok ? "health-online" : "health-stalled"}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        ok ? "OK" : "Degraded",
      ),
      h("span", { class: "ingest-figures" }, figures.join(" · ")),
    ),
    ingest.reasons?.length
      ? h(
          "ul",
          { class: "ingest-reasons err" },
          ingest.reasons.map((reason) => h("li", {}, reason)),
        )
      : null,
    replicaSlots(),
  );
}

const NODE_STATE = {
  online: "online",
  running: "online",
  ok: "online",
  degraded: "stalled",
  stalled: "stalled",
  offline: "offline",
  stopped: "offline",
};

function renderNodes() {
  clear(els.nodes);
  if (failed && !cameras.length) {
    els.nodes.append(errorBlock(failed, () => poll()));
    return;
  }
  if (nodes === null || (!nodes.length && cameras.length)) {
    // No /nodes on this server: derive the nodes from the cameras.
    const byNode = new Map();
    for (const c of cameras) {
      if (!byNode.has(c.node_id)) byNode.set(c.node_id, []);
      byNode.get(c.node_id).push(c);
    }
    if (!byNode.size) {
      els.nodes.append(empty("No edge nodes", "Nodes appear when they register cameras."));
      return;
    }
    for (const [id, cams] of byNode) {
      const worst = ["offline", "stalled", "online"].find((s) => cams.some((c) => c.health === s));
      const last = cams
        .map((c) => c.status_at)
        .filter(Boolean)
        .sort()
        .at(-1);
      els.nodes.append(
        nodeCard({
          node_id: id,
          state: worst || null,
          cameras: cams.length,
          at: last,
          derived: true,
        }),
      );
    }
    return;
  }
  if (!nodes.length) {
    els.nodes.append(empty("No edge nodes", "Nodes appear when they report their state."));
    return;
  }
  for (const n of nodes) els.nodes.append(nodeCard(n));
}

function nodeCard(n) {
  const camCount = Array.isArray(n.cameras) ? n.cameras.length : n.cameras;
  const health = NODE_STATE[n.state] || (n.state ? null : null);
  return h(
    "article",
    { class: "node-card", dataset: { nodeId: n.node_id } },
    h(
      "header",
      {},
      h("strong", {}, n.node_id),
      h("span", { class: "spacer" }),
      health
        ? healthChip(health)
        : h("span", { class: "chip health-unknown" }, n.state || "No report"),
    ),
    h(
      "dl",
      { class: "kv", style: { gridTemplateColumns: "90px 1fr", fontSize: "12.5px" } },
      h("dt", {}, "State"),
      h(
        "dd",
        {},
        n.state || "—",
        n.derived ? h("span", { class: "muted" }, " (from cameras)") : null,
      ),
      h("dt", {}, "Version"),
      h("dd", { class: "mono" }, n.version || "—"),
      h("dt", {}, "Cameras"),
      h("dd", {}, camCount === undefined || camCount === null ? "—" : String(camCount)),
      h("dt", {}, "Last seen"),
      h("dd", { title: fmtFull(n.at) }, n.at ? fmtAgo(n.at) : "—"),
    ),
  );
}

function renderNodeFilter() {
  const ids = [
    ...new Set([...(nodes || []).map((n) => n.node_id), ...cameras.map((c) => c.node_id)]),
  ].sort();
  const current = els.nodeFilter.value;
  clear(
    els.nodeFilter,
    h("option", { value: "" }, "All nodes"),
    ids.map((id) => h("option", { value: id }, id)),
  );
  els.nodeFilter.value = ids.includes(current) ? current : "";
}

function occupancyCell(c) {
  if (!("occupancy" in c)) return h("span", { class: "muted" }, "—");
  if (!c.occupancy || !Object.keys(c.occupancy).length)
    return h("span", { class: "muted" }, "No data");
  const chips = [];
  for (const [zone, labels] of Object.entries(c.occupancy)) {
    for (const [label, n] of Object.entries(labels || {})) {
      chips.push(
        h(
          "span",
          { class: "chip tag", title: `zone ${zone}: ${n} ${label}` },
          `${zone} · ${label} ${n}`,
        ),
      );
    }
  }
  return h(
    "div",
    {},
    h("span", { class: "occ" }, chips),
    c.occupancy_at ? h("span", { class: "cell-sub" }, fmtAgo(c.occupancy_at)) : null,
  );
}

function renderTable() {
  const tbody = clear(els.tbody);
  if (failed && !cameras.length) {
    tbody.append(
      h(
        "tr",
        {},
        h(
          "td",
          { colspan: 8 },
          errorBlock(failed, () => poll()),
        ),
      ),
    );
    return;
  }
  const q = filters.q.toLowerCase();
  const rows = cameras.filter(
    (c) =>
      (!filters.health || healthOf(c) === filters.health) &&
      (!filters.node || c.node_id === filters.node) &&
      (!q ||
        `${c.name} ${c.camera_id} ${c.node_id} ${ref.areaName(c.grid_code) || ""}`
          .toLowerCase()
          .includes(q)),
  );
  els.count.textContent =
    rows.length === cameras.length ? `${cameras.length}` : `${rows.length} of ${cameras.length}`;
  if (!rows.length) {
    tbody.append(
      h(
        "tr",
        {},
        h(
          "td",
          { colspan: 8 },
          cameras.length
            ? empty("No cameras match", "Change the search or the filters.")
            : empty("No cameras", "Cameras appear when edge nodes register them."),
        ),
      ),
    );
    return;
  }
  for (const c of rows) {
    const ratio = c.fps_in ? Math.min(1, (c.fps_analysed || 0) / c.fps_in) : 0;
    tbody.append(
      h(
        "tr",
        { dataset: { cameraId: c.camera_id, health: healthOf(c) } },
        h("td", {}, healthChip(c.health)),
        h(
          "td",
          { class: "two-line" },
          h(
            "span",
            { class: "cell-main" },
            c.name || c.camera_id,
            c.kind === "checkpoint"
              ? h(
                  "span",
                  { class: "chip tag", style: { marginLeft: "6px", height: "18px" } },
                  "checkpoint",
                )
              : null,
          ),
          h("span", { class: "cell-sub mono" }, `${c.node_id} / ${c.camera_id}`),
        ),
        h(
          "td",
          { class: "two-line" },
          h("span", { class: "cell-main" }, ref.areaName(c.grid_code) || "—"),
          c.grid_code ? h("span", { class: "cell-sub mono" }, c.grid_code) : null,
        ),
        h(
          "td",
          { class: "num fps" },
          c.fps_in === null || c.fps_in === undefined ? "—" : c.fps_in.toFixed(1),
        ),
        h(
          "td",
          { class: "num fps" },
          c.fps_analysed === null || c.fps_analysed === undefined ? "—" : c.fps_analysed.toFixed(1),
          c.fps_in
            ? h(
                "span",
                { class: "fpsbar", style: { marginLeft: "auto" }, "aria-hidden": "true" },
                h("i", {
                  style: {
                    width: `${ratio * 100}%`,
                    background: ratio > 0 ? "var(--green)" : "var(--red)",
                  },
                }),
              )
            : null,
        ),
        h("td", {}, occupancyCell(c)),
        h(
          "td",
          { title: fmtFull(c.last_event_at) },
          c.last_event_at ? fmtAgo(c.last_event_at) : h("span", { class: "muted" }, "None yet"),
        ),
        h(
          "td",
          { class: "two-line", title: fmtFull(c.status_at) },
          h(
            "span",
            { class: "cell-main" },
            c.status_at ? fmtAgo(c.status_at) : h("span", { class: "muted" }, "Never"),
          ),
          c.status_error
            ? h("span", { class: "cell-sub err", title: c.status_error }, c.status_error)
            : null,
        ),
      ),
    );
  }
}
