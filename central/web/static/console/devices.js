// IoT devices: each sensor's status, last reading and a small chart of its recent
// values (GET /api/v1/devices, docs/iot.md). Polls every 15 s while shown.

import { api } from "./api.js";
import { clear, empty, errorBlock, fmtAgo, fmtFull, h, loading, select } from "./ui.js";

const POLL_MS = 15000;
const PAGE = 500;

const TYPE_LABELS = {
  smoke_alarm: "Smoke alarm",
  water_level: "Water level",
  manhole_cover: "Manhole cover",
  bin_fill: "Bin fill",
  noise: "Noise",
  air_quality: "PM2.5",
  door_contact: "Door contact",
};
const STATUS = {
  ok: ["OK", "health-online"],
  alarm: ["Alarm", "health-offline"],
  fault: ["Stuck value", "health-stalled"],
  offline: ["Silent", "health-stalled"],
  unknown: ["Never heard", "health-unknown"],
};

let root = null;
let ctx = null;
let timer = null;
let els = {};
let filters = { type: "", status: "" };

const view = {
  id: "devices",
  title: "Devices",
  shortcuts: [[["U"], "Refresh now"]],
  mount(el, params, context) {
    root = el;
    ctx = context;
    filters = { type: params.type || "", status: params.status || "" };
    build();
    poll();
    timer = setInterval(() => {
      if (!document.hidden) poll();
    }, POLL_MS);
  },
  unmount() {
    clearInterval(timer);
    root = null;
  },
  onKey(event) {
    if (event.key === "u") {
      event.preventDefault();
      poll();
    }
  },
};
export default view;

function build() {
  ctx.setTitle("Devices", "IoT sensors: status, last reading, recent values");
  const onchange = (key) => (event) => {
    filters[key] = event.target.value;
    ctx.setParams(filters);
    poll();
  };
  const types = [["", "All types"], ...Object.entries(TYPE_LABELS)];
  const statuses = [["", "Any status"], ...Object.entries(STATUS).map(([k, [l]]) => [k, l])];
  els.summary = h("p", {
    class: "muted",
    "aria-live": "polite",
    style: { margin: "0.75rem 1rem" },
  });
  els.body = h("div", {}, loading());
  clear(
    root,
    h(
      "div",
      { class: "filters", role: "search", "aria-label": "Device filters" },
      select(
        types.map(([value, label]) => ({ value, label })),
        { value: filters.type, label: "Device type", onchange: onchange("type") },
      ),
      select(
        statuses.map(([value, label]) => ({ value, label })),
        { value: filters.status, label: "Status", onchange: onchange("status") },
      ),
    ),
    els.summary,
    els.body,
  );
}

async function poll() {
  let page;
  try {
    page = await api("/devices", {
      query: { type: filters.type || undefined, status: filters.status || undefined, limit: PAGE },
    });
  } catch (error) {
    if (root) clear(els.body, errorBlock(error, poll));
    return;
  }
  if (!root) return;
  render(page);
}

function render(page) {
  const alarms = page.data.filter((d) => d.status !== "ok" && d.status !== "unknown").length;
  els.summary.textContent =
    `${page.count} devices` +
    (page.count > page.data.length ? ` (first ${page.data.length} shown)` : "") +
    (alarms ? ` · ${alarms} need attention on this page` : "");
  if (!page.data.length) {
    clear(els.body, empty("No devices", "Import a city file with devices: (docs/iot.md)."));
    return;
  }
  const rows = page.data.map((d) =>
    h(
      "tr",
      { dataset: { deviceId: d.id, status: d.status } },
      h("td", {}, h("strong", {}, d.id), h("div", { class: "muted" }, d.name || "")),
      h("td", {}, TYPE_LABELS[d.device_type] || d.device_type),
      h("td", {}, d.grid_code || "—"),
      h("td", {}, statusChip(d.status)),
      h(
        "td",
        { title: d.last_seen_at ? fmtFull(d.last_seen_at) : "" },
        d.last_seen_at ? fmtAgo(d.last_seen_at) : "—",
      ),
      h("td", {}, lastValue(d.last_reading)),
      h("td", {}, sparkline(d.recent)),
    ),
  );
  clear(
    els.body,
    h(
      "table",
      { class: "table", id: "devices-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Device", "Type", "Grid", "Status", "Last heard", "Last reading", "Recent"].map((t) =>
            h("th", { scope: "col" }, t),
          ),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function statusChip(status) {
  const [label, cls] = STATUS[status] || [status, "health-unknown"];
  return h("span", { class: `chip health ${cls}` }, h("span", { class: "dot", "aria-hidden": "true" }), label);
}

function lastValue(reading) {
  const parts = Object.entries(reading || {})
    .filter(([, v]) => v && typeof v === "object" && "value" in v)
    .map(([k, v]) => `${k} ${v.value} ${v.unit}`);
  return parts.length ? parts.join(", ") : "—";
}

/** A small line chart of recent values (inline SVG, no library). */
function sparkline(recent) {
  if (!recent || recent.length < 2) return h("span", { class: "muted" }, "—");
  const values = recent.map((p) => p.value);
  const low = Math.min(...values);
  const span = Math.max(...values) - low || 1;
  const width = 120;
  const height = 28;
  const points = values
    .map((v, i) => {
      const x = (i / (values.length - 1)) * width;
      const y = height - 2 - ((v - low) / span) * (height - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute(
    "aria-label",
    `${values.length} recent values from ${low} to ${Math.max(...values)}`,
  );
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}
