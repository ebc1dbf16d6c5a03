// Statistics: events and tickets per day by category, on-time close and rework
// rates by area/worker/department, handling-time distributions, CSV exports.

/* global Chart */

import { api, apiOptional, download } from "./api.js";
import { pointsCard } from "./points-card.js";
import { scoresCard } from "./scores-card.js";
import {
  clear,
  errorBlock,
  fmtAgo,
  fmtDuration,
  fmtFull,
  fmtPct,
  h,
  icon,
  loading,
  select,
  toast,
} from "./ui.js";

const PERIODS = [
  { value: "day", label: "Day", count: 14, unit: "days" },
  { value: "week", label: "Week", count: 8, unit: "weeks" },
  { value: "month", label: "Month", count: 6, unit: "months" },
  { value: "quarter", label: "Quarter", count: 4, unit: "quarters" },
];
const GROUPS = [
  { value: "grid", label: "Grid" },
  { value: "community", label: "Community" },
  { value: "street", label: "Street" },
  { value: "district", label: "District" },
  { value: "worker", label: "Worker" },
  { value: "department", label: "Department" },
  { value: "category", label: "Category" },
];
const PALETTE = [
  "#7c9cff",
  "#f2b84b",
  "#4fd1c5",
  "#ff7b9c",
  "#c19bff",
  "#4fd18b",
  "#ff9a5a",
  "#6fc3ff",
  "#e3e37a",
  "#b4bccb",
];
const MAX_DAILY_DAYS = 120;
// The table shows the rows with the most tickets; the CSV has them all.
const TABLE_ROWS = 500;

let root = null;
let ctx = null;
let charts = [];
let settings = { period: "week", by: "grid" };
let els = {};
let seq = 0;

const view = {
  id: "stats",
  title: "Statistics",
  shortcuts: [
    [["D"], "Period: day"],
    [["W"], "Period: week"],
    [["M"], "Period: month"],
    [["Q"], "Period: quarter"],
  ],
  mount(el, params, context) {
    root = el;
    ctx = context;
    settings = {
      period: PERIODS.some((p) => p.value === params.period) ? params.period : "week",
      by: GROUPS.some((g) => g.value === params.by) ? params.by : "grid",
    };
    themeCharts();
    build();
    load();
  },
  unmount() {
    destroyCharts();
    root = null;
  },
  onKey(event) {
    const map = { d: "day", w: "week", m: "month", q: "quarter" };
    const period = map[event.key];
    if (period) {
      event.preventDefault();
      setPeriod(period);
    }
  },
};
export default view;

function themeCharts() {
  if (typeof Chart === "undefined") return;
  Chart.defaults.color = "#c3c9d5";
  Chart.defaults.borderColor = "rgba(52, 61, 79, 0.7)";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.plugins.legend.labels.boxWidth = 10;
  Chart.defaults.plugins.legend.labels.boxHeight = 10;
  Chart.defaults.plugins.tooltip.backgroundColor = "#1f2532";
  Chart.defaults.plugins.tooltip.borderColor = "#343d4f";
  Chart.defaults.plugins.tooltip.borderWidth = 1;
  Chart.defaults.maintainAspectRatio = false;
  // No animation: the figures are read, not watched (and screenshots are stable).
  Chart.defaults.animation = false;
}

function destroyCharts() {
  for (const chart of charts) chart.destroy();
  charts = [];
}

// -- range ----------------------------------------------------------------------

function isoDate(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// Dates are the city's, not the browser's: central cuts days in the city's
// timezone, so a browser elsewhere (or in UTC late in the city's day) would end
// every range a day early and miss today's cases.
let cityZone = null;

/** The city's timezone, from a one-day evaluation (the browser's own if it fails). */
async function learnCityZone() {
  if (cityZone) return;
  try {
    cityZone = (await api("/stats/evaluation", { query: { period: "day", by: "total" } })).timezone;
  } catch {
    cityZone = null;
  }
}

/** Today in the city, as a local Date at midnight (for date arithmetic). */
function cityToday() {
  const now = new Date();
  if (!cityZone) return new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: cityZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  return new Date(part("year"), part("month") - 1, part("day"));
}

/** Start (the city's date) of the range: the current period and the ones before it. */
function rangeStart(period) {
  const spec = PERIODS.find((p) => p.value === period);
  const d = cityToday();
  if (period === "day") d.setDate(d.getDate() - (spec.count - 1));
  else if (period === "week") {
    const dow = (d.getDay() + 6) % 7; // Monday = 0
    d.setDate(d.getDate() - dow - 7 * (spec.count - 1));
  } else if (period === "month") {
    d.setDate(1);
    d.setMonth(d.getMonth() - (spec.count - 1));
  } else {
    d.setDate(1);
    d.setMonth(Math.floor(d.getMonth() / 3) * 3 - 3 * (spec.count - 1));
  }
  return d;
}

function tomorrow() {
  const d = cityToday();
  d.setDate(d.getDate() + 1);
  return d;
}

// -- layout ---------------------------------------------------------------------

function build() {
  ctx.setTitle("Statistics", "Case handling, AI accuracy and response times");
  const periodButtons = PERIODS.map((p) =>
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(settings.period === p.value),
        dataset: { period: p.value },
        onclick: () => setPeriod(p.value),
        title: `Press ${p.value[0].toUpperCase()}`,
      },
      p.label,
    ),
  );
  els.periodButtons = periodButtons;
  els.by = select(GROUPS, {
    value: settings.by,
    label: "Group rates by",
    id: "stats-by",
    onchange: (e) => {
      settings.by = e.target.value;
      saveParams();
      load();
    },
  });
  els.range = h("span", { class: "muted", "aria-live": "polite" });
  els.exports = h("div", {
    style: { display: "flex", gap: "14px", alignItems: "center" },
    role: "group",
    "aria-label": "CSV exports",
  });
  els.kpis = h("div", { class: "kpis", role: "group", "aria-label": "Key figures" });
  els.body = h("div", { class: "stats-grid" });
  root.append(
    h(
      "div",
      { class: "page-pad" },
      h(
        "div",
        { class: "stats-toolbar" },
        h("span", { class: "label", id: "period-label" }, "Period"),
        h(
          "div",
          { class: "segmented", role: "group", "aria-labelledby": "period-label" },
          periodButtons,
        ),
        h("label", { class: "label", for: "stats-by", style: { marginLeft: "8px" } }, "Group by"),
        els.by,
        els.range,
        h("span", { class: "spacer" }),
        els.exports,
      ),
      els.kpis,
      els.body,
    ),
  );
}

function setPeriod(period) {
  if (settings.period === period) return;
  settings.period = period;
  for (const b of els.periodButtons)
    b.setAttribute("aria-pressed", String(b.dataset.period === period));
  saveParams();
  load();
}

function saveParams() {
  ctx.setParams({ period: settings.period, by: settings.by });
}

function card(title, id, { span = 6, tall = false, note = null, csv = null } = {}) {
  const canvas = h("canvas", { id, role: "img", "aria-label": title });
  const box = h("div", { class: `chart-box ${tall ? "tall" : ""}` }, canvas);
  const noteEl = h("p", { class: "chart-note" }, note || "");
  noteEl.hidden = !note;
  const section = h(
    "section",
    { class: `card span-${span}`, "aria-labelledby": `${id}-title` },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: `${id}-title` }, title),
      h("span", { class: "spacer" }),
      csv,
    ),
    h("div", { class: "card-body" }, box, noteEl),
  );
  return { section, canvas, box, noteEl };
}

function csvLink(label, path, query, filename) {
  const href = `/api/v1${path}?${new URLSearchParams({ ...query, format: "csv" })}`;
  return h(
    "a",
    {
      class: "csv-link",
      href,
      download: filename,
      onclick: async (e) => {
        e.preventDefault();
        try {
          await download(path, { ...query, format: "csv" }, filename);
        } catch (error) {
          toast(error.message, { title: "Export failed", kind: "error" });
        }
      },
    },
    icon("download"),
    label,
  );
}

// -- data -----------------------------------------------------------------------

async function load() {
  await learnCityZone();
  const mine = ++seq;
  destroyCharts();
  clear(els.body, h("div", { class: "span-12" }, loading("Loading statistics…")));
  clear(els.kpis);
  const start = rangeStart(settings.period);
  const startText = isoDate(start);
  const endText = isoDate(tomorrow());
  const dailyStart = new Date(
    Math.max(start.getTime(), tomorrow().getTime() - MAX_DAILY_DAYS * 86400000),
  );
  const dailyStartText = isoDate(dailyStart);
  const spec = PERIODS.find((p) => p.value === settings.period);
  els.range.textContent = `${startText} → today · last ${spec.count} ${spec.unit}`;

  const evalQuery = { period: settings.period, by: settings.by, start: startText };
  // One row per key over the range, combined by central (a city has 20,000 grids).
  const groupedQuery = { ...evalQuery, combine: "true", limit: TABLE_ROWS };
  const totalQuery = { period: settings.period, by: "total", start: startText };
  const dailyQuery = { start: dailyStartText, end: endText };
  const fpQuery = { by: "camera", start: startText, end: endText };
  clear(
    els.exports,
    h("span", { class: "label" }, "Export CSV"),
    csvLink(
      "Evaluation",
      "/stats/evaluation",
      evalQuery,
      `evaluation-${settings.by}-${settings.period}.csv`,
    ),
    csvLink("Daily counts", "/stats/daily", dailyQuery, "daily.csv"),
    csvLink("False positives", "/stats/false-positives", fpQuery, "false-positives.csv"),
  );

  let daily;
  let grouped;
  let total;
  let overall;
  let durations;
  let fps;
  try {
    [daily, grouped, total, overall, durations, fps] = await Promise.all([
      api("/stats/daily", { query: dailyQuery }),
      api("/stats/evaluation", { query: groupedQuery }),
      api("/stats/evaluation", { query: totalQuery }),
      api("/stats/evaluation", { query: { ...totalQuery, combine: "true" } }),
      apiOptional("/stats/durations", { query: { start: startText, end: endText } }).catch(
        () => null,
      ),
      api("/stats/false-positives", { query: fpQuery }).catch(() => null),
    ]);
  } catch (error) {
    if (mine !== seq || !root) return;
    clear(
      els.body,
      h(
        "div",
        { class: "span-12" },
        errorBlock(error, () => load()),
      ),
    );
    return;
  }
  if (mine !== seq || !root) return;
  clear(els.body);
  if (grouped.as_of) {
    // Completed months and quarters come from the stored evaluation.
    const stored = h(
      "span",
      { title: `Completed periods as computed at ${fmtFull(grouped.as_of)}` },
      ` · completed ${spec.unit} computed ${fmtAgo(grouped.as_of)}`,
    );
    stored.dataset.asOf = grouped.as_of;
    els.range.append(stored);
  }
  if (typeof Chart === "undefined") {
    els.body.append(
      h("div", { class: "span-12" }, errorBlock(new Error("The chart library did not load."))),
    );
    return;
  }
  const totals = overall.rows[0] || null;
  renderKpis(totals, daily);
  dailyChart(daily, dailyStart);
  categoryChart(daily);
  ratesChart(grouped);
  durationsChart(durations, totals);
  trendChart(total);
  falsePositiveChart(fps);
  groupTable(grouped);
  els.body.append(scoresCard(settings.by, settings.period), pointsCard());
}

function renderKpis(t, daily) {
  const events = daily.rows.reduce((s, r) => s + r.events, 0);
  const kpi = (label, value, sub) =>
    h(
      "div",
      { class: "kpi" },
      h("div", { class: "kpi-label" }, label),
      h("div", { class: "kpi-value" }, value),
      sub ? h("div", { class: "kpi-sub" }, sub) : null,
    );
  clear(
    els.kpis,
    kpi("Events detected", String(events), "by cameras, daily chart range"),
    kpi(
      "Tickets opened",
      String(t?.tickets ?? 0),
      t ? `${t.ai_tickets} from AI · ${t.open_now} still open` : "",
    ),
    kpi("Closed", String(t?.closed ?? 0), t ? `${t.rejected} rejected` : ""),
    kpi(
      "On-time close rate",
      fmtPct(t?.on_time_close_rate),
      t?.closed ? `${t.on_time_closed} of ${t.closed} closed` : "nothing closed yet",
    ),
    kpi(
      h("span", {}, "Response rate ", h("span", { lang: "zh-CN" }, "响应率")),
      fmtPct(t?.response_rate),
      t?.response_due ? `${t.responded_on_time} of ${t.response_due} accepted in time` : "nothing due yet",
    ),
    kpi(
      h("span", {}, "Resolution rate ", h("span", { lang: "zh-CN" }, "处置率")),
      fmtPct(t?.resolution_rate),
      t?.resolution_due ? `${t.resolved_on_time} of ${t.resolution_due} resolved in time` : "nothing due yet",
    ),
    kpi(
      h("span", {}, "Satisfaction rate ", h("span", { lang: "zh-CN" }, "满意率")),
      fmtPct(t?.satisfaction_rate),
      t?.rated ? `${t.satisfied} of ${t.rated} ratings` : "no ratings yet",
    ),
    kpi(
      "Rework rate",
      fmtPct(t?.rework_rate),
      t?.resolves ? `${t.returns} of ${t.resolves} resolutions` : "no resolutions yet",
    ),
    kpi(
      "AI false positives",
      fmtPct(t?.false_positive_rate),
      t?.ai_tickets ? `${t.ai_rejected} of ${t.ai_tickets} AI tickets` : "",
    ),
    kpi(
      "Median time to dispatch",
      fmtDuration(t?.dispatch_s_p50),
      t?.dispatch_s_p90 !== null && t?.dispatch_s_p90 !== undefined
        ? `p90 ${fmtDuration(t.dispatch_s_p90)}`
        : "",
    ),
  );
}

function noData(c, text = "No data in this period") {
  c.box.append(
    h(
      "div",
      { class: "state-block", style: { position: "absolute", inset: "0", padding: "0" } },
      h("span", {}, text),
    ),
  );
}

function dailyChart(daily, from) {
  const c = card("Events and tickets per day, by category", "chart-daily", {
    span: 8,
    csv: csvLink(
      "CSV",
      "/stats/daily",
      { start: isoDate(from), end: isoDate(tomorrow()) },
      "daily.csv",
    ),
  });
  els.body.append(c.section);
  const days = [];
  for (let d = new Date(from); d < tomorrow(); d.setDate(d.getDate() + 1)) days.push(isoDate(d));
  const cats = new Map();
  const tickets = new Map(days.map((d) => [d, 0]));
  for (const r of daily.rows) {
    const key = r.category_code || "—";
    if (!cats.has(key)) cats.set(key, { name: r.category_name || "Other", values: new Map() });
    cats.get(key).values.set(r.day, (cats.get(key).values.get(r.day) || 0) + r.events);
    tickets.set(r.day, (tickets.get(r.day) || 0) + r.tickets);
  }
  const datasets = [...cats.entries()].map(([code, info], i) => ({
    type: "bar",
    label: `${info.name.split("/").slice(-1)[0]} (${code})`,
    data: days.map((d) => info.values.get(d) || 0),
    backgroundColor: PALETTE[i % PALETTE.length],
    stack: "events",
    borderRadius: 2,
    maxBarThickness: 28,
  }));
  datasets.push({
    type: "line",
    label: "Tickets opened",
    stack: "tickets", // not summed onto the event bars
    data: days.map((d) => tickets.get(d) || 0),
    borderColor: "#e6e9f0",
    backgroundColor: "#e6e9f0",
    pointRadius: days.length > 31 ? 0 : 2.5,
    pointHoverRadius: 4,
    tension: 0.3,
    borderWidth: 2,
  });
  charts.push(
    new Chart(c.canvas, {
      data: { labels: days.map((d) => d.slice(5)), datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    }),
  );
  if (!daily.rows.length) noData(c);
}

function categoryChart(daily) {
  const c = card("Tickets by category", "chart-category", { span: 4 });
  els.body.append(c.section);
  const byCat = new Map();
  for (const r of daily.rows) {
    const key = r.category_name || "Other";
    byCat.set(key, (byCat.get(key) || 0) + r.tickets);
  }
  const entries = [...byCat.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  charts.push(
    new Chart(c.canvas, {
      type: "doughnut",
      data: {
        labels: entries.map(([name]) => name),
        datasets: [
          {
            label: "Tickets",
            data: entries.map(([, n]) => n),
            backgroundColor: entries.map((_, i) => PALETTE[i % PALETTE.length]),
            borderColor: "#131720",
            borderWidth: 2,
          },
        ],
      },
      options: { cutout: "62%", plugins: { legend: { position: "right" } } },
    }),
  );
  if (!entries.length) noData(c);
}

function groupLabel(r) {
  if (r.key === null || r.key === undefined) {
    return (
      {
        grid: "No grid",
        community: "No grid",
        street: "No grid",
        district: "No grid",
        worker: "Never assigned",
        department: "No department",
        category: "No category",
      }[settings.by] || "(none)"
    );
  }
  return r.name ? `${r.name}` : r.key;
}

function ratesChart(grouped) {
  const rows = [...grouped.rows]
    .sort((a, b) => b.tickets - a.tickets)
    .slice(0, 15);
  const byLabel = GROUPS.find((g) => g.value === settings.by)?.label.toLowerCase();
  const c = card(`On-time close and rework rates by ${byLabel}`, "chart-rates", {
    span: 7,
    tall: true,
    note: "On-time close: closed tickets never overdue. Rework: resolutions returned. Bars are missing where nothing was closed or resolved.",
  });
  els.body.append(c.section);
  charts.push(
    new Chart(c.canvas, {
      type: "bar",
      data: {
        labels: rows.map(groupLabel),
        datasets: [
          {
            label: "On-time close rate",
            data: rows.map((r) =>
              r.on_time_close_rate === null ? null : r.on_time_close_rate * 100,
            ),
            backgroundColor: "#4fd18b",
            borderRadius: 3,
            maxBarThickness: 14,
          },
          {
            label: "Rework rate",
            data: rows.map((r) => (r.rework_rate === null ? null : r.rework_rate * 100)),
            backgroundColor: "#ff9a5a",
            borderRadius: 3,
            maxBarThickness: 14,
          },
          {
            label: "Tickets",
            data: rows.map((r) => r.tickets),
            backgroundColor: "rgba(124, 156, 255, 0.35)",
            borderColor: "#7c9cff",
            borderWidth: 1,
            borderRadius: 3,
            maxBarThickness: 14,
            xAxisID: "x2",
          },
        ],
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {
            min: 0,
            max: 100,
            ticks: { callback: (v) => `${v}%` },
            title: { display: true, text: "rate" },
          },
          x2: {
            position: "top",
            beginAtZero: true,
            grid: { display: false },
            ticks: { precision: 0 },
            title: { display: true, text: "tickets" },
          },
          y: { grid: { display: false } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: (item) =>
                item.dataset.xAxisID === "x2"
                  ? `Tickets: ${item.raw}`
                  : `${item.dataset.label}: ${item.raw === null ? "—" : `${item.raw.toFixed(0)}%`}`,
            },
          },
        },
      },
    }),
  );
  if (!rows.length) noData(c);
}

function durationsChart(durations, totals) {
  const STAGES = [
    ["dispatch", "Created → dispatched", "#7c9cff"],
    ["accept", "Dispatched → accepted", "#c19bff"],
    ["close", "Created → closed", "#4fd18b"],
  ];
  if (durations && (durations.dispatch || durations.accept || durations.close)) {
    const c = card("Handling time distribution", "chart-durations", {
      span: 5,
      tall: true,
      note: "Share of tickets per time bin, by stage.",
    });
    els.body.append(c.section);
    const edges = [
      ...new Set(STAGES.flatMap(([k]) => (durations[k] || []).map((b) => b.le_s))),
    ].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
    const label = (le) =>
      le === null || le === undefined || le === Infinity ? "longer" : `≤ ${fmtDuration(le)}`;
    charts.push(
      new Chart(c.canvas, {
        type: "bar",
        data: {
          labels: edges.map(label),
          datasets: STAGES.map(([k, name, color]) => {
            const bins = durations[k] || [];
            const sum = bins.reduce((s, b) => s + b.count, 0) || 1;
            return {
              label: name,
              data: edges.map((e) => ((bins.find((b) => b.le_s === e)?.count || 0) / sum) * 100),
              backgroundColor: color,
              borderRadius: 2,
              maxBarThickness: 18,
            };
          }),
        },
        options: {
          scales: {
            y: { beginAtZero: true, ticks: { callback: (v) => `${v}%` } },
            x: { grid: { display: false } },
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: { callbacks: { label: (i) => `${i.dataset.label}: ${i.raw.toFixed(0)}%` } },
          },
        },
      }),
    );
    return;
  }
  const c = card("Handling times (mean, median, p90)", "chart-durations", {
    span: 5,
    tall: true,
    note: "From the evaluation report, weighted across the periods shown.",
  });
  els.body.append(c.section);
  const all = STAGES.flatMap(([k]) =>
    ["p50", "mean", "p90"].map((s) => totals?.[`${k}_s_${s}`] || 0),
  );
  const top = Math.max(0, ...all);
  const [unit, div] = top >= 7200 ? ["hours", 3600] : top >= 120 ? ["minutes", 60] : ["seconds", 1];
  const stat = (k, s) => {
    const v = totals?.[`${k}_s_${s}`];
    return v === null || v === undefined ? null : v / div;
  };
  charts.push(
    new Chart(c.canvas, {
      type: "bar",
      data: {
        labels: STAGES.map(([, name]) => name),
        datasets: [
          {
            label: "Median (p50)",
            data: STAGES.map(([k]) => stat(k, "p50")),
            backgroundColor: "#7c9cff",
            borderRadius: 3,
            maxBarThickness: 26,
          },
          {
            label: "Mean",
            data: STAGES.map(([k]) => stat(k, "mean")),
            backgroundColor: "#4fd1c5",
            borderRadius: 3,
            maxBarThickness: 26,
          },
          {
            label: "p90",
            data: STAGES.map(([k]) => stat(k, "p90")),
            backgroundColor: "#f2b84b",
            borderRadius: 3,
            maxBarThickness: 26,
          },
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: { display: true, text: unit } },
          x: { grid: { display: false } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: (i) =>
                `${i.dataset.label}: ${i.raw === null ? "—" : fmtDuration(i.raw * div)}`,
            },
          },
        },
      },
    }),
  );
  if (!totals) noData(c);
}

function trendChart(total) {
  const c = card(`Trend per ${settings.period}`, "chart-trend", {
    span: 6,
    csv: csvLink(
      "CSV",
      "/stats/evaluation",
      { period: settings.period, by: "total", start: isoDate(rangeStart(settings.period)) },
      `evaluation-total-${settings.period}.csv`,
    ),
  });
  els.body.append(c.section);
  const rows = [...total.rows].sort((a, b) => a.period_start.localeCompare(b.period_start));
  charts.push(
    new Chart(c.canvas, {
      data: {
        labels: rows.map((r) => r.period_start),
        datasets: [
          {
            type: "bar",
            label: "Tickets",
            data: rows.map((r) => r.tickets),
            backgroundColor: "rgba(124, 156, 255, 0.6)",
            borderRadius: 3,
            maxBarThickness: 32,
          },
          {
            type: "bar",
            label: "Closed",
            data: rows.map((r) => r.closed),
            backgroundColor: "rgba(79, 209, 139, 0.75)",
            borderRadius: 3,
            maxBarThickness: 32,
          },
          {
            type: "line",
            label: "On-time close rate",
            data: rows.map((r) =>
              r.on_time_close_rate === null ? null : r.on_time_close_rate * 100,
            ),
            borderColor: "#f2b84b",
            backgroundColor: "#f2b84b",
            yAxisID: "rate",
            spanGaps: true,
            tension: 0.3,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 } },
          rate: {
            position: "right",
            min: 0,
            max: 100,
            grid: { display: false },
            ticks: { callback: (v) => `${v}%` },
          },
          x: { grid: { display: false } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    }),
  );
  if (!rows.length) noData(c);
}

function falsePositiveChart(fps) {
  const c = card("AI false positives by camera", "chart-fp", {
    span: 6,
    csv: csvLink(
      "CSV",
      "/stats/false-positives",
      { by: "camera", start: isoDate(rangeStart(settings.period)), end: isoDate(tomorrow()) },
      "false-positives.csv",
    ),
  });
  els.body.append(c.section);
  const rows = (fps?.rows || []).slice(0, 12);
  charts.push(
    new Chart(c.canvas, {
      type: "bar",
      data: {
        labels: rows.map((r) => r.name || r.camera_id || r.key || "—"),
        datasets: [
          {
            label: "Confirmed",
            data: rows.map((r) => r.confirmed),
            backgroundColor: "#4fd18b",
            stack: "s",
            borderRadius: 2,
            maxBarThickness: 28,
          },
          {
            label: "Rejected",
            data: rows.map((r) => r.rejected),
            backgroundColor: "#ff7b7b",
            stack: "s",
            borderRadius: 2,
            maxBarThickness: 28,
          },
          {
            label: "Pending",
            data: rows.map((r) => r.pending),
            backgroundColor: "#f2b84b",
            stack: "s",
            borderRadius: 2,
            maxBarThickness: 28,
          },
        ],
      },
      options: {
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    }),
  );
  if (!rows.length) noData(c);
}

function groupTable(grouped) {
  const rows = [...grouped.rows].sort((a, b) => b.tickets - a.tickets);
  const shown =
    grouped.total_rows > rows.length
      ? `${rows.length} of ${grouped.total_rows} rows, most tickets first · all in the CSV`
      : `${rows.length} rows`;
  const byLabel = GROUPS.find((g) => g.value === settings.by)?.label;
  const th = (text, cls = "") => h("th", { scope: "col", class: cls }, text);
  const section = h(
    "section",
    { class: "card span-12", "aria-labelledby": "eval-table-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "eval-table-title" }, `Evaluation by ${byLabel.toLowerCase()}`),
      h("span", { class: "muted", id: "eval-table-count" }, shown),
      h("span", { class: "spacer" }),
      csvLink(
        "CSV",
        "/stats/evaluation",
        { period: settings.period, by: settings.by, start: isoDate(rangeStart(settings.period)) },
        `evaluation-${settings.by}.csv`,
      ),
    ),
    h(
      "div",
      {
        class: "table-wrap",
        tabindex: "0",
        role: "region",
        "aria-label": `Evaluation by ${byLabel.toLowerCase()} (scrolls)`,
      },
      h(
        "table",
        { class: "table", id: "eval-table", "aria-labelledby": "eval-table-title" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            th(byLabel),
            th("Tickets", "num"),
            th("Closed", "num"),
            th("Open", "num"),
            th("Overdue", "num"),
            th("On-time close", "num"),
            th("Rework", "num"),
            th("Response", "num"),
            th("Resolution", "num"),
            th("Satisfaction", "num"),
            th("False positives", "num"),
            th("Dispatch p50", "num"),
            th("Accept p50", "num"),
            th("Close p50", "num"),
          ),
        ),
        h(
          "tbody",
          {},
          rows.length
            ? rows.map((r) =>
                h(
                  "tr",
                  {},
                  h(
                    "th",
                    {
                      scope: "row",
                      style: {
                        fontWeight: "500",
                        textTransform: "none",
                        letterSpacing: "0",
                        color: "var(--text)",
                        background: "transparent",
                        position: "static",
                        fontSize: "13px",
                      },
                    },
                    groupLabel(r),
                    r.key && r.name
                      ? h("span", { class: "muted mono", style: { marginLeft: "8px" } }, r.key)
                      : null,
                  ),
                  h("td", { class: "num" }, String(r.tickets)),
                  h("td", { class: "num" }, String(r.closed)),
                  h("td", { class: "num" }, String(r.open_now)),
                  h("td", { class: "num" }, String(r.overdue)),
                  h("td", { class: "num" }, fmtPct(r.on_time_close_rate)),
                  h("td", { class: "num" }, fmtPct(r.rework_rate)),
                  h("td", { class: "num" }, fmtPct(r.response_rate)),
                  h("td", { class: "num" }, fmtPct(r.resolution_rate)),
                  h("td", { class: "num" }, fmtPct(r.satisfaction_rate)),
                  h("td", { class: "num" }, fmtPct(r.false_positive_rate)),
                  h("td", { class: "num" }, fmtDuration(r.dispatch_s_p50)),
                  h("td", { class: "num" }, fmtDuration(r.accept_s_p50)),
                  h("td", { class: "num" }, fmtDuration(r.close_s_p50)),
                ),
              )
            : h(
                "tr",
                {},
                h(
                  "td",
                  { colspan: 14, class: "muted", style: { textAlign: "center" } },
                  "No tickets in this period.",
                ),
              ),
        ),
      ),
    ),
  );
  els.body.append(section);
}
