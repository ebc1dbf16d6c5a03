// Map: the grid hierarchy drawn from GeoJSON (no tiles, offline), open tickets and
// live events as markers, a hotspot heat view (choropleth of counts per grid), and
// an amber outline on grids with an open hotspot early warning.
//
// Two scales. A city of up to SMALL_CITY_GRIDS grids is drawn whole, as SVG, from
// /grids. A bigger one (Guangzhou: 20,031 grids) is drawn on a canvas by
// CityLayers (map-city.js): levels by zoom, simplified by central, grids only
// in view. Markers are clustered once there are many (map-cluster.js).

/* global L */

import { api, apiOptional } from "./api.js";
import { CityLayers, levelOf } from "./map-city.js";
import { PointClusters } from "./map-cluster.js";
import * as ref from "./ref.js";
import {
  GRID_STYLE,
  HEAT_SCALE,
  LEVEL_DIGITS,
  OUTLINE_STYLE,
  PRIORITY_COLORS,
  STATE_COLORS,
  baseMap,
  boundsOf,
  groupByPrefix,
  heatColor,
  outlineOf,
} from "./geo.js";
import {
  OPEN_STATES,
  PRIORITY_LABELS,
  STATE_LABELS,
  clear,
  debounce,
  empty,
  errorBlock,
  eventTypeLabel,
  fmtAgo,
  h,
  kbd,
  labelOf,
  loading,
} from "./ui.js";

const LEVELS = ["district", "street", "community", "grid"];
// Up to this many grids the whole city is drawn as SVG (every grid a DOM path).
const SMALL_CITY_GRIDS = 2000;
const MAX_AREA_LIST = 300; // longer lists ask to pick an area above first
const HEAT_DIGITS = [6, 9, 12, 15];
const EVENT_POLL_MS = 15000;
const EVENT_WINDOW_H = 24;
const EVENT_COLOR = "#e9eefc"; // live camera events: small white dots
// IoT devices (docs/iot.md): a ring per sensor, coloured by its status.
const DEVICE_COLORS = {
  ok: "#7dd3fc",
  alarm: "#f2555a",
  fault: "#ffc24a",
  offline: "#ffc24a",
  unknown: "#6b7a99",
};

let root = null;
// A new object per mount: a load that started under an earlier mount (the app
// can mount the view again while it loads) sees it changed and stops.
let mounted = null;
let ctx = null;
let map = null;
let features = [];
let gridLayer = null;
let outlineLayers = {};
let ticketLayer = null;
let eventLayer = null;
let labelLayer = null;
let deviceLayer = null;
let ticketPoints = null; // PointClusters of open tickets (item.ticket)
let eventPoints = null; // PointClusters of live events (item.event, item.at)
let city = null; // CityLayers, for a big city
let cityBounds = null;
let markerRenderer = null; // a big city's one canvas: grids, outlines, markers
let heatByArea = new Map(); // any area code → summed { events, open_tickets }
let areaList = []; // the areas above the grids (from /areas), for a big city's area list
let gridsWithin = { prefix: null, codes: [] }; // a big city's grids under the picked area
let heat = new Map(); // grid code → { events, open_tickets }
let warned = new Map(); // grid code → its open/acknowledged hotspot warnings
let warnedAreas = new Set(); // codes of the warned grids and of every area above them
const WARNING_STYLE = { color: "#ffb020", weight: 3, opacity: 1, dashArray: "6 4" };
let heatSource = "";
let openTickets = [];
let eventsAvailable = true;
let lastEventAt = null;
let eventTimer = null;
let settings = null;
let sideEls = {};
let statEls = {};
let selectedArea = null;

const defaults = () => ({
  level: "community",
  tickets: true,
  events: true,
  heat: false,
  labels: true,
  devices: false,
  metric: "events",
  days: 7,
});

const view = {
  id: "map",
  title: "Map",
  shortcuts: [
    [["H"], "Toggle the hotspot heat view"],
    [["T"], "Toggle open tickets"],
    [["E"], "Toggle live events"],
    [["L"], "Toggle grid labels"],
    [["1"], "List districts"],
    [["2"], "List streets"],
    [["3"], "List communities"],
    [["4"], "List grids"],
    [["F"], "Fit the whole city"],
    [["+", "−"], "Zoom (when the map has focus)"],
  ],
  async mount(el, params, context) {
    const token = (mounted = {});
    root = el;
    ctx = context;
    settings = { ...defaults(), ...pick(params) };
    heat = new Map();
    heatByArea = new Map();
    city = null;
    cityBounds = null;
    markerRenderer = null;
    areaList = [];
    warned = new Map();
    warnedAreas = new Set();
    eventsAvailable = true;
    lastEventAt = null;
    selectedArea = params.area || null;
    context.setTitle("Map", "Grid hierarchy, open tickets, live events and hotspots");
    context.setActions(
      h("button", { class: "btn", type: "button", onclick: () => fitAll() }, "Fit city", kbd("F")),
    );
    const side = h("aside", { class: "map-side", "aria-label": "Map controls" });
    const canvas = h("div", { class: "map-canvas" });
    const mapEl = h("div", {
      id: "map",
      role: "region",
      "aria-label": "City grid map",
      tabindex: "0",
    });
    const stats = h("div", { class: "map-overlay", "aria-live": "polite" });
    canvas.append(mapEl, stats);
    el.append(side, canvas);
    statEls = { box: stats };
    buildSide(side);
    canvas.append(
      h(
        "div",
        {
          class: "map-loading",
          style: {
            position: "absolute",
            inset: "0",
            display: "grid",
            placeItems: "center",
            zIndex: "400",
            pointerEvents: "none",
          },
        },
        loading("Loading grids…"),
      ),
    );

    performance.mark("gw-map:mount");
    let grids;
    let probe;
    try {
      // The districts tell how big the city is, and where.
      probe = await api("/map/areas", { query: { level: "district", zoom: 10 } });
      if (probe.grid_count <= SMALL_CITY_GRIDS)
        [grids] = await Promise.all([ref.grids(), ref.areas()]);
    } catch (error) {
      if (mounted !== token) return;
      clear(
        canvas,
        errorBlock(error, () => context.navigate("map")),
      );
      return;
    }
    if (mounted !== token) return;
    canvas.querySelector(".map-loading")?.remove();
    features = grids?.features || [];
    if (!probe.grid_count || (grids && !features.length)) {
      clear(canvas, empty("No grid polygons", "Import the city's grids to draw the map."));
      return;
    }
    if (grids) {
      map = baseMap(mapEl);
      fitAll(false);
      drawGrids();
      drawOutlines();
    } else {
      mountCity(mapEl, probe);
      ref.areas().then(
        (list) => {
          areaList = list;
          if (mounted === token) renderAreaList();
        },
        (error) => console.warn("map: areas", error),
      );
    }
    ticketPoints = new PointClusters({
      make: (item) => ticketMarker(item.ticket),
      className: "cluster-tickets",
      label: "open tickets",
    });
    eventPoints = new PointClusters({
      make: (item) => eventMarker(item.event),
      className: "cluster-events",
      label: "events",
    });
    ticketPoints.attach(map);
    eventPoints.attach(map);
    ticketLayer = ticketPoints.layer;
    eventLayer = eventPoints.layer;
    deviceLayer = L.layerGroup();
    if (selectedArea) zoomTo(selectedArea);
    applyLayers();
    renderAreaList();
    await Promise.allSettled([
      loadTickets(),
      loadHeat(),
      loadEvents(),
      loadWarnings(),
      loadDevices(),
    ]);
    if (mounted !== token) return;
    eventTimer = setInterval(() => loadEvents(), EVENT_POLL_MS);
  },
  unmount() {
    clearInterval(eventTimer);
    city?.remove();
    city = null;
    if (map) map.remove();
    map = null;
    root = null;
    mounted = null;
  },
  onNotice(notice) {
    updateTicketFromNotice(notice);
    reloadHeatSoon();
  },
  onWarning() {
    loadWarnings();
  },
  onKey,
};
export default view;

function pick(params) {
  const out = {};
  if (LEVELS.includes(params.level)) out.level = params.level;
  if (params.heat) out.heat = params.heat === "1";
  if (params.metric === "open_tickets" || params.metric === "events") out.metric = params.metric;
  if (params.days) out.days = Number(params.days) || 7;
  return out;
}

function saveParams() {
  ctx.setParams({
    level: settings.level,
    heat: settings.heat ? "1" : "",
    metric: settings.metric === "events" ? "" : settings.metric,
    days: settings.days === 7 ? "" : settings.days,
    area: selectedArea || "",
  });
}

// -- side panel -----------------------------------------------------------------

function buildSide(side) {
  const levelButtons = LEVELS.map((level, i) =>
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(settings.level === level),
        dataset: { level },
        onclick: () => setLevel(level),
        title: `Press ${i + 1}`,
      },
      level[0].toUpperCase() + level.slice(1),
    ),
  );
  const toggle = (key, label, swatch) => {
    const input = h("input", {
      type: "checkbox",
      class: "checkbox",
      checked: settings[key],
      id: `layer-${key}`,
      onchange: (e) => setLayer(key, e.target.checked),
    });
    return h(
      "label",
      { class: "toggle", for: `layer-${key}` },
      input,
      swatch
        ? h("span", { class: "swatch", style: { background: swatch }, "aria-hidden": "true" })
        : null,
      label,
    );
  };
  const metric = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Heat metric" },
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(settings.metric === "events"),
        dataset: { metric: "events" },
        onclick: () => setMetric("events"),
      },
      "Events",
    ),
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(settings.metric === "open_tickets"),
        dataset: { metric: "open_tickets" },
        onclick: () => setMetric("open_tickets"),
      },
      "Open tickets",
    ),
  );
  const days = h(
    "select",
    {
      class: "input",
      id: "heat-days",
      "aria-label": "Heat period",
      onchange: (e) => {
        settings.days = Number(e.target.value);
        saveParams();
        loadHeat();
      },
    },
    [1, 7, 30, 90].map((d) =>
      h("option", { value: String(d) }, d === 1 ? "Last 24 hours" : `Last ${d} days`),
    ),
  );
  days.value = String(settings.days);
  sideEls = {
    levelButtons,
    areaList: h("ul", { class: "area-tree", "aria-label": "Areas" }),
    legend: h("div", { class: "legend" }),
    hot: h("ol", { class: "area-tree", "aria-label": "Hottest grids" }),
    metricButtons: metric,
    eventsNote: h("p", { class: "chart-note", hidden: true }),
  };
  side.append(
    h(
      "section",
      {},
      h("h2", { id: "map-level-title" }, "Zoom to area"),
      h(
        "div",
        {
          class: "segmented",
          role: "group",
          "aria-labelledby": "map-level-title",
          style: { marginBottom: "10px", display: "flex" },
        },
        levelButtons,
      ),
      sideEls.areaList,
    ),
    h(
      "section",
      {},
      h("h2", {}, "Layers"),
      h(
        "div",
        { class: "toggles" },
        toggle("heat", "Hotspot heat (by grid)", "linear-gradient(90deg,#2d3f6b,#d65a6e,#ffc24a)"),
        toggle("tickets", "Open tickets", STATE_COLORS.dispatched),
        toggle("events", `Live events (last ${EVENT_WINDOW_H} h)`, EVENT_COLOR),
        toggle("labels", "Grid labels"),
        toggle("devices", "IoT devices", DEVICE_COLORS.ok),
      ),
      sideEls.eventsNote,
    ),
    h(
      "section",
      {},
      h("h2", {}, "Hotspots"),
      h(
        "div",
        { style: { display: "flex", gap: "8px", marginBottom: "10px", flexWrap: "wrap" } },
        metric,
        days,
      ),
      sideEls.legend,
      h("div", { style: { marginTop: "12px" } }, sideEls.hot),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Ticket markers"),
      h(
        "div",
        { class: "legend" },
        OPEN_STATES.map((s) =>
          h(
            "span",
            { class: "toggle", style: { cursor: "default" } },
            h("span", {
              class: "swatch",
              style: { background: STATE_COLORS[s] },
              "aria-hidden": "true",
            }),
            labelOf(STATE_LABELS, s),
          ),
        ),
        h(
          "span",
          { class: "muted", style: { fontSize: "12px" } },
          "Bigger: higher priority. Ring: overdue.",
        ),
      ),
    ),
  );
}

function setLevel(level) {
  settings.level = level;
  for (const b of sideEls.levelButtons)
    b.setAttribute("aria-pressed", String(b.dataset.level === level));
  applyOutlineEmphasis();
  renderAreaList();
  saveParams();
}

function setMetric(metric) {
  settings.metric = metric;
  for (const b of sideEls.metricButtons.querySelectorAll("button"))
    b.setAttribute("aria-pressed", String(b.dataset.metric === metric));
  styleGrids();
  renderHot();
  saveParams();
}

function setLayer(key, on) {
  settings[key] = on;
  const input = document.getElementById(`layer-${key}`);
  if (input) input.checked = on;
  applyLayers();
  if (key === "heat") {
    styleGrids();
    saveParams();
  }
}

function countsFor(code) {
  const v = heatByArea.get(code);
  return { events: v?.events || 0, open: v?.open_tickets || 0 };
}

/** Sums of the grids' heat for every area above them too (by code prefix). */
function sumHeatByArea() {
  heatByArea = new Map();
  for (const [grid, v] of heat) {
    for (const digits of HEAT_DIGITS) {
      const code = grid.slice(0, digits);
      const sum = heatByArea.get(code) || { events: 0, open_tickets: 0 };
      sum.events += v.events || 0;
      sum.open_tickets += v.open_tickets || 0;
      heatByArea.set(code, sum);
    }
  }
}

/** The codes the area list shows: every area of the level in a small city; in a
 * big one those under the selected area's parent, at most MAX_AREA_LIST. */
function areaCodes() {
  const digits = LEVEL_DIGITS[settings.level];
  if (!city) return { codes: [...groupByPrefix(features, digits).keys()].sort(), more: 0 };
  const within = selectedArea && selectedArea.length > 6 ? selectedArea.slice(0, -3) : "";
  const all =
    settings.level === "grid"
      ? gridCodesWithin(within)
      : areaList
          .filter((a) => a.level === settings.level && a.code.startsWith(within))
          .map((a) => a.code);
  if (!all) return { codes: [], more: 0, pickFirst: true };
  return { codes: all.slice(0, MAX_AREA_LIST), more: Math.max(0, all.length - MAX_AREA_LIST) };
}

/** A big city's grids under an area, asked of central once the area is picked
 * (the console never loads every grid): the codes, or null before a pick. */
function gridCodesWithin(within) {
  if (!within) return null;
  if (gridsWithin.prefix !== within) {
    gridsWithin = { prefix: within, codes: [] };
    ref.gridsUnder(within).then(
      (list) => {
        if (gridsWithin.prefix !== within) return;
        gridsWithin.codes = list.map((a) => a.code);
        if (root) renderAreaList();
      },
      (error) => console.warn("area list: grids", error),
    );
  }
  return gridsWithin.codes;
}

function renderAreaList() {
  const list = clear(sideEls.areaList);
  const { codes, more, pickFirst } = areaCodes();
  if (pickFirst)
    list.append(
      h(
        "li",
        { class: "muted", style: { fontSize: "12px" } },
        "Pick a street or community first: its grids are listed here.",
      ),
    );
  if (more)
    list.append(
      h(
        "li",
        { class: "muted", style: { fontSize: "12px" } },
        `The first ${codes.length}; ${more} more: pick an area above first.`,
      ),
    );
  for (const code of codes) {
    const { events, open } = countsFor(code);
    const value = settings.metric === "events" ? events : open;
    list.append(
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            "aria-pressed": String(selectedArea === code),
            dataset: { code },
            onclick: () => {
              selectedArea = selectedArea === code ? null : code;
              if (selectedArea) zoomTo(code);
              else fitAll();
              renderAreaList();
              saveParams();
            },
          },
          h("span", {}, ref.areaName(code) || code),
          h("span", { class: "lvl" }, settings.level === "grid" ? code.slice(-3) : ""),
          h(
            "span",
            { class: "cnt", title: settings.metric === "events" ? "events" : "open tickets" },
            value ? String(value) : "",
          ),
        ),
      ),
    );
  }
}

// -- layers ---------------------------------------------------------------------

/** A big city: levels by zoom on a canvas, markers on a canvas above them. */
function mountCity(mapEl, probe) {
  map = baseMap(mapEl, { preferCanvas: true });
  markerRenderer = L.canvas({ padding: 0.5, tolerance: 2 });
  const [west, south, east, north] = probe.bounds;
  cityBounds = L.latLngBounds([south, west], [north, east]);
  city = new CityLayers(map, {
    styleOf: (p) => areaStyle(p.code),
    tooltipOf: (p) => (p.level === "grid" ? gridTooltip(p) : areaTooltip(p)),
    popupOf: (p, layer) => (p.level === "grid" ? gridPopup(p) : areaPopup(p, layer)),
    labelOf: (p) => h("span", {}, shortName(p.name)),
    onError: (error) => console.warn("map: areas", error),
    onDrawn: () => {
      for (const layer of [eventLayer, ticketLayer])
        layer?.eachLayer((marker) => marker.bringToFront?.());
    },
  }, markerRenderer);
  city.setEmphasis(settings.level);
  fitAll(false);
}

function areaTooltip(p) {
  const { events, open } = countsFor(p.code);
  return h(
    "div",
    {},
    h("strong", {}, p.name),
    h("br"),
    h("span", {}, `${p.grids} grids · ${events} events · ${open} open tickets`),
  );
}

function areaPopup(p, layer) {
  const { events, open } = countsFor(p.code);
  return h(
    "div",
    {},
    h("h3", {}, p.name),
    h("div", { class: "mono muted" }, `${p.code} · ${p.level}`),
    h("div", { class: "muted", style: { margin: "4px 0 8px" } }, ref.areaPath(p.code)),
    h("div", {}, `${p.grids} grids · ${events} events · ${open} open tickets`),
    h(
      "div",
      { style: { marginTop: "8px", display: "flex", gap: "10px" } },
      h(
        "button",
        {
          type: "button",
          class: "btn",
          onclick: () => {
            map.closePopup();
            map.fitBounds(layer.getBounds(), { padding: [40, 40] });
          },
        },
        "Zoom in",
      ),
      h("a", { href: `#/tickets?grid=${p.code}&state=open` }, "Open tickets →"),
    ),
  );
}

/** Fill style of any area of a big city: as styleGrid, summed over its grids. */
function areaStyle(code) {
  const warning = warnedAreas.has(code) ? WARNING_STYLE : {};
  if (!settings.heat) {
    const selected =
      selectedArea && (code.startsWith(selectedArea) || selectedArea.startsWith(code));
    return {
      ...(selected ? { ...GRID_STYLE, fillOpacity: 0.38, fillColor: "#3552d4" } : GRID_STYLE),
      ...warning,
      ...(warning.color ? { fillColor: WARNING_STYLE.color, fillOpacity: 0.22 } : {}),
    };
  }
  const level = levelOf(code);
  const max = heatMaxAt(level);
  const value = heatByArea.get(code)?.[settings.metric] || 0;
  return {
    color: "#0c0f15",
    weight: 1,
    opacity: 1,
    fillColor: heatColor(value, max),
    fillOpacity: 0.85,
    ...warning,
  };
}

/** The busiest area of a level (its digits), for the heat scale. */
function heatMaxAt(level) {
  const digits = LEVEL_DIGITS[level] || 15;
  let max = 0;
  for (const [code, v] of heatByArea)
    if (code.length === digits) max = Math.max(max, v[settings.metric] || 0);
  return max;
}

function drawGrids() {
  gridLayer = L.geoJSON(
    { type: "FeatureCollection", features },
    {
      style: () => GRID_STYLE,
      onEachFeature: (feature, layer) => {
        layer.on("add", () =>
          layer.getElement()?.setAttribute("data-grid", feature.properties.code),
        );
        layer.on({
          mouseover: () => layer.setStyle({ weight: 2, color: "#c9d4ff" }),
          mouseout: () => styleGrid(layer),
          click: () => layer.openPopup(),
        });
        layer.bindPopup(() => gridPopup(feature.properties));
        layer.bindTooltip(() => gridTooltip(feature.properties), {
          sticky: true,
          direction: "top",
          offset: [0, -6],
        });
      },
    },
  ).addTo(map);
  labelLayer = L.layerGroup(
    features.map((f) => {
      const { centroid_lat: lat, centroid_lon: lon, name } = f.properties;
      const center = lat && lon ? [lat, lon] : boundsOf([f]).getCenter();
      return L.tooltip({
        permanent: true,
        direction: "center",
        className: "grid-label",
        interactive: false,
      })
        .setLatLng(center)
        .setContent(h("span", {}, shortName(name)));
    }),
  );
}

function shortName(name) {
  const m = /第?(\d+)网格$/.exec(name || "");
  return m ? `${name.replace(/第?\d+网格$/, "")} ${m[1]}` : name;
}

function gridTooltip(p) {
  const counts = heat.get(p.code) || { events: 0, open_tickets: 0 };
  return h(
    "div",
    {},
    h("strong", {}, p.name),
    h("br"),
    h("span", {}, `${counts.events} events · ${counts.open_tickets} open tickets`),
    (warned.get(p.code) || []).map((w) =>
      h("div", { class: "grid-warning" }, `⚠ Rising: ${w.category_name} (${warningText(w)})`),
    ),
  );
}

function warningText(w) {
  return `${w.observed} in ${w.window_days} d, ~${w.expected.toFixed(1)} usual`;
}

/** Grids with an open or acknowledged hotspot warning get an amber outline. */
async function loadWarnings() {
  const token = mounted;
  let page = null;
  try {
    page = await apiOptional("/warnings", {
      query: { state: ["open", "acknowledged"], limit: 1000 },
    });
  } catch (error) {
    console.warn("map: warnings", error);
  }
  if (mounted !== token) return;
  warned = new Map();
  warnedAreas = new Set();
  for (const w of page?.data || []) {
    if (!warned.has(w.grid_code)) warned.set(w.grid_code, []);
    warned.get(w.grid_code).push(w);
    for (const digits of HEAT_DIGITS) warnedAreas.add(w.grid_code.slice(0, digits));
  }
  styleGrids();
}

function gridPopup(p) {
  const counts = heat.get(p.code) || { events: 0, open_tickets: 0 };
  const node = h(
    "div",
    {},
    h("h3", {}, p.name),
    h("div", { class: "mono muted" }, p.code),
    h("div", { class: "muted", style: { margin: "4px 0 8px" } }, ref.areaPath(p.code)),
    h(
      "div",
      {},
      `${counts.events} events in ${settings.days === 1 ? "24 h" : `${settings.days} days`} · ${counts.open_tickets} open tickets`,
    ),
    h(
      "div",
      { style: { marginTop: "8px", display: "flex", gap: "10px" } },
      h("a", { href: `#/tickets?grid=${p.code}&state=open` }, "Open tickets →"),
      h("a", { href: `#/tickets?grid=${p.code}` }, "All tickets"),
    ),
  );
  return node;
}

function drawOutlines() {
  outlineLayers = {};
  for (const level of ["community", "street", "district"]) {
    const groups = groupByPrefix(features, LEVEL_DIGITS[level]);
    const lines = [];
    for (const group of groups.values()) lines.push(...outlineOf(group));
    outlineLayers[level] = L.polyline(lines, {
      ...OUTLINE_STYLE[level],
      interactive: false,
      className: `outline outline-${level}`,
    }).addTo(map);
  }
  applyOutlineEmphasis();
}

function applyOutlineEmphasis() {
  city?.setEmphasis(settings.level);
  for (const [level, layer] of Object.entries(outlineLayers)) {
    const base = OUTLINE_STYLE[level];
    const on = level === settings.level;
    layer.setStyle({
      ...base,
      opacity: on ? 1 : base.opacity * 0.55,
      weight: on ? base.weight + 1 : base.weight,
      color: on ? "#ffffff" : base.color,
    });
    if (on) layer.bringToFront();
  }
}

function styleGrid(layer) {
  const code = layer.feature.properties.code;
  const warning = warned.has(code) ? WARNING_STYLE : {};
  if (!settings.heat) {
    const selected = selectedArea && code.startsWith(selectedArea);
    // Without the heat view a warned grid is also tinted amber (with it, the
    // fill is the heat colour and the outline alone marks the warning).
    const tint = warned.has(code) ? { fillColor: WARNING_STYLE.color, fillOpacity: 0.22 } : {};
    layer.setStyle({
      ...(selected ? { ...GRID_STYLE, fillOpacity: 0.38, fillColor: "#3552d4" } : GRID_STYLE),
      ...warning,
      ...tint,
    });
    return;
  }
  const max = heatMax();
  const value = heat.get(code)?.[settings.metric] || 0;
  layer.setStyle({
    color: "#0c0f15",
    weight: 1,
    opacity: 1,
    fillColor: heatColor(value, max),
    fillOpacity: 0.85,
    ...warning,
  });
}

function styleGrids() {
  if (city) city.restyle();
  else if (gridLayer) gridLayer.eachLayer(styleGrid);
  else return;
  renderLegend();
}

function heatMax() {
  let max = 0;
  for (const v of heat.values()) max = Math.max(max, v[settings.metric] || 0);
  return max;
}

function renderLegend() {
  const max = city ? heatMaxAt(city.plan?.fill || "grid") : heatMax();
  clear(
    sideEls.legend,
    h(
      "div",
      { class: "legend-scale", "aria-hidden": "true" },
      HEAT_SCALE.map((c) => h("i", { style: { background: c } })),
    ),
    h(
      "div",
      { class: "legend-labels" },
      h("span", {}, "0"),
      h("span", {}, `${max} ${settings.metric === "events" ? "events" : "open tickets"}`),
    ),
    heatSource ? h("span", { class: "muted", style: { fontSize: "12px" } }, heatSource) : null,
  );
}

function renderHot() {
  const list = clear(sideEls.hot);
  const rows = [...heat.entries()]
    .map(([code, v]) => ({ code, value: v[settings.metric] || 0, name: v.name }))
    .filter((r) => r.value > 0)
    .sort((a, b) => b.value - a.value)
    .slice(0, 6);
  if (!rows.length) {
    list.append(
      h("li", { class: "muted", style: { fontSize: "12px" } }, "No activity in this period."),
    );
    return;
  }
  for (const r of rows) {
    list.append(
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", onclick: () => zoomTo(r.code) },
          h("span", {
            class: "swatch",
            style: { background: heatColor(r.value, heatMax()) },
            "aria-hidden": "true",
          }),
          h("span", {}, r.name || ref.areaName(r.code) || r.code),
          h("span", { class: "cnt" }, String(r.value)),
        ),
      ),
    );
  }
}

function applyLayers() {
  if (!map) return;
  const want = (layer, on) => {
    if (!layer) return;
    if (on && !map.hasLayer(layer)) layer.addTo(map);
    if (!on && map.hasLayer(layer)) layer.remove();
  };
  // Events first, so the (larger) ticket markers draw over them.
  want(eventLayer, settings.events && eventsAvailable);
  want(ticketLayer, settings.tickets);
  if (city) city.setLabels(settings.labels);
  else want(labelLayer, settings.labels);
  want(deviceLayer, settings.devices);
  styleGrids();
}

function fitAll(animate = true) {
  if (!map) return;
  const bounds = cityBounds || boundsOf(features);
  if (bounds)
    map.fitBounds(bounds, { paddingTopLeft: [24, 84], paddingBottomRight: [24, 24], animate });
}

async function zoomTo(code) {
  let bounds = null;
  if (city) {
    try {
      bounds = await city.boundsOf(code);
    } catch (error) {
      console.warn("map: area bounds", error);
    }
  } else bounds = boundsOf(features.filter((f) => f.properties.code.startsWith(code)));
  if (bounds && map)
    map.fitBounds(bounds, { paddingTopLeft: [40, 96], paddingBottomRight: [40, 40], maxZoom: 18 });
  styleGrids();
}

// -- data -----------------------------------------------------------------------

function centerOf(t) {
  if (t.lat !== null && t.lat !== undefined && t.lon !== null && t.lon !== undefined)
    return [t.lat, t.lon];
  const f = features.find((x) => x.properties.code === t.grid_code);
  if (f?.properties.centroid_lat) return [f.properties.centroid_lat, f.properties.centroid_lon];
  return null;
}

function ticketMarker(t) {
  const where = centerOf(t);
  if (!where) return null;
  const radius = { urgent: 9, high: 7.5, normal: 6.5, low: 5.5 }[t.priority] || 6;
  const marker = L.circleMarker(where, {
    radius,
    color: t.overdue ? "#ff6b6b" : "#0c0f15",
    weight: t.overdue ? 3 : 1.5,
    fillColor: STATE_COLORS[t.state] || "#7fb2ff",
    fillOpacity: 0.95,
    className: `ticket-marker state-${t.state}`,
    ...(markerRenderer ? { renderer: markerRenderer } : {}),
  });
  marker.bindTooltip(() => h("span", {}, `#${t.id} ${t.title}`), {
    direction: "top",
    offset: [0, -6],
  });
  marker.bindPopup(() =>
    h(
      "div",
      {},
      h("h3", {}, `#${t.id} ${t.title}`),
      h(
        "div",
        {},
        `${labelOf(STATE_LABELS, t.state)} · ${labelOf(PRIORITY_LABELS, t.priority)}${t.overdue ? " · overdue" : ""}`,
      ),
      h("div", { class: "muted" }, t.category_name),
      h(
        "div",
        { class: "muted" },
        `${ref.areaName(t.grid_code) || t.grid_code || "No grid"} · ${t.assignee_id ? ref.workerName(t.assignee_id) : "unassigned"}`,
      ),
      h(
        "div",
        { style: { marginTop: "8px" } },
        h(
          "a",
          { href: t.state === "pending_review" ? "#/review" : `#/tickets?id=${t.id}` },
          t.state === "pending_review" ? "Review it →" : "Open ticket →",
        ),
      ),
    ),
  );
  return marker;
}

async function loadTickets() {
  const token = mounted;
  try {
    const page = await api("/tickets", {
      query: { state: OPEN_STATES, limit: 500, sort: "urgency" },
    });
    if (mounted !== token) return;
    ref.loadNames(page.items.map((t) => t.grid_code)); // for the popups, not awaited
    openTickets = page.items;
    ticketPoints.set(openTickets.map(ticketItem).filter(Boolean));
    renderStats();
  } catch (error) {
    console.warn("map: tickets", error);
  }
}

/** A ticket as a point to draw, or null when it has no place. */
function ticketItem(t) {
  const where = centerOf(t);
  return where ? { id: t.id, lat: where[0], lon: where[1], ticket: t } : null;
}

function updateTicketFromNotice(n) {
  if (!map || !ticketPoints) return;
  const known = ticketPoints.get(n.ticket_id);
  ticketPoints.delete(n.ticket_id);
  openTickets = openTickets.filter((t) => t.id !== n.ticket_id);
  if (OPEN_STATES.includes(n.state)) {
    const t = {
      ...(known?.ticket || {}),
      id: n.ticket_id,
      state: n.state,
      title: n.title,
      priority: n.priority,
      category_name: n.category_name,
      grid_code: n.grid_code,
      lat: n.lat,
      lon: n.lon,
      assignee_id: n.assignee_id,
      overdue: n.overdue,
    };
    const item = ticketItem(t);
    if (item) flash(ticketPoints.put(item) || L.latLng(item.lat, item.lon));
    openTickets.push(t);
  }
  renderStats();
}

/** A ring that grows and fades where something new appeared. */
function flash(where) {
  if (!map || matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  const ring = L.circleMarker(where.getLatLng ? where.getLatLng() : where, {
    radius: 6,
    color: EVENT_COLOR,
    weight: 2,
    fill: false,
    interactive: false,
  }).addTo(map);
  const started = performance.now();
  const step = (now) => {
    const t = Math.min(1, (now - started) / 1200);
    ring.setRadius(6 + 18 * t);
    ring.setStyle({ opacity: 1 - t });
    if (t < 1 && map) requestAnimationFrame(step);
    else ring.remove();
  };
  requestAnimationFrame(step);
}

/** The city's sensors as rings coloured by status (a server without
 * /api/v1/devices simply draws none). */
async function loadDevices() {
  const token = mounted;
  let page;
  try {
    page = await apiOptional("/devices", { query: { limit: 1000 } });
  } catch (error) {
    console.warn("map: devices", error);
    return;
  }
  if (mounted !== token || !page || !deviceLayer) return;
  deviceLayer.clearLayers();
  for (const d of page.data || []) {
    const marker = L.circleMarker([d.lat, d.lon], {
      radius: 4,
      color: DEVICE_COLORS[d.status] || DEVICE_COLORS.unknown,
      weight: 2,
      fill: false,
      className: `device-marker device-${d.status}`,
    });
    marker.bindTooltip(() => h("span", {}, `${d.id} · ${d.device_type} · ${d.status}`), {
      direction: "top",
    });
    marker.on("click", () => ctx.navigate("devices", { type: d.device_type }));
    deviceLayer.addLayer(marker);
  }
}

async function loadEvents() {
  if (!eventsAvailable || !root) return;
  const token = mounted;
  const firstLoad = lastEventAt === null;
  const since = lastEventAt || new Date(Date.now() - EVENT_WINDOW_H * 3600 * 1000).toISOString();
  let list;
  try {
    // A big city's day of events comes in one compact list; later polls (and a
    // small city) ask /events for what is new.
    list =
      city && firstLoad
        ? (await api("/map/events", { query: { hours: EVENT_WINDOW_H } })).events
        : await apiOptional("/events", { query: { since, limit: 500 } });
  } catch (error) {
    console.warn("map: events", error);
    return;
  }
  if (mounted !== token) return;
  if (list === null) {
    eventsAvailable = false;
    clearInterval(eventTimer);
    sideEls.eventsNote.hidden = false;
    sideEls.eventsNote.textContent =
      "Live events are not available from this server (no /api/v1/events).";
    applyLayers();
    return;
  }
  const fresh = [];
  for (const ev of list) {
    if (eventPoints.get(ev.event_id) || ev.lat === null || ev.lat === undefined) continue;
    fresh.push({
      id: ev.event_id,
      lat: ev.lat,
      lon: ev.lon,
      event: ev,
      at: Date.parse(ev.detected_at),
    });
    const seen = ev.received_at || ev.detected_at;
    if (!lastEventAt || seen > lastEventAt) lastEventAt = seen;
  }
  if (firstLoad) {
    eventPoints.set(fresh);
    const detail = { events: eventPoints.size, clustered: eventPoints.isClustering() };
    performance.mark("gw-map:markers", { detail });
  }
  else for (const item of fresh) flash(eventPoints.put(item) || L.latLng(item.lat, item.lon));
  if (!lastEventAt) lastEventAt = since;
  // Tickets draw over events.
  if (map.hasLayer(ticketLayer)) ticketLayer.eachLayer((layer) => layer.bringToFront?.());
  const cutoff = Date.now() - EVENT_WINDOW_H * 3600 * 1000;
  for (const item of [...eventPoints.values()]) if (item.at < cutoff) eventPoints.delete(item.id);
  renderStats();
}

function eventMarker(ev) {
  const marker = L.circleMarker([ev.lat, ev.lon], {
    radius: 4.5,
    color: "#0c0f15",
    weight: 1.5,
    fillColor: EVENT_COLOR,
    fillOpacity: 1,
    className: "event-marker",
    ...(markerRenderer ? { renderer: markerRenderer } : {}),
  });
  marker.bindTooltip(
    () =>
      h(
        "span",
        {},
        `${eventTypeLabel(ev.type)} · ${Math.round((ev.confidence || 0) * 100)}% · ${fmtAgo(ev.detected_at)}`,
      ),
    { direction: "top" },
  );
  marker.bindPopup(() =>
    h(
      "div",
      {},
      h("h3", {}, eventTypeLabel(ev.type)),
      h("div", {}, `${ref.cameraName(ev.camera_id)} · ${Math.round((ev.confidence || 0) * 100)}%`),
      h("div", { class: "muted" }, fmtAgo(ev.detected_at)),
      ev.ticket_id
        ? h(
            "div",
            { style: { marginTop: "8px" } },
            h("a", { href: `#/tickets?id=${ev.ticket_id}` }, `Ticket #${ev.ticket_id} →`),
          )
        : null,
    ),
  );
  return marker;
}

async function loadHeat() {
  const token = mounted;
  const days = settings.days;
  let rows = null;
  try {
    rows = await apiOptional("/stats/hotspots", { query: { days } });
  } catch (error) {
    console.warn("map: hotspots", error);
  }
  if (mounted !== token) return;
  heat = new Map();
  if (rows) {
    heatSource = "";
    for (const r of Array.isArray(rows) ? rows : rows.rows || [])
      heat.set(r.grid_code, {
        events: r.events || 0,
        open_tickets: r.open_tickets || 0,
        name: r.name,
      });
  } else {
    // Fallback: tickets opened in the period (observations ≈ events) per grid.
    heatSource = "Counted from tickets (the hotspot endpoint is not available).";
    try {
      const page = await api("/tickets", { query: { limit: 500 } });
      const since = Date.now() - days * 86400 * 1000;
      for (const t of page.items) {
        if (!t.grid_code) continue;
        const v = heat.get(t.grid_code) || { events: 0, open_tickets: 0 };
        if (Date.parse(t.created_at) >= since) v.events += t.observations || 1;
        if (OPEN_STATES.includes(t.state)) v.open_tickets += 1;
        heat.set(t.grid_code, v);
      }
    } catch (error) {
      console.warn("map: heat fallback", error);
    }
  }
  if (mounted !== token) return;
  sumHeatByArea();
  styleGrids();
  renderHot();
  renderAreaList();
  renderStats();
}

const reloadHeatSoon = debounce(() => loadHeat(), 1500);

function renderStats() {
  if (!statEls.box) return;
  let events = 0;
  for (const v of heat.values()) events += v.events || 0;
  const overdue = openTickets.filter((t) => t.overdue).length;
  clear(
    statEls.box,
    h(
      "div",
      { class: "map-stat" },
      h("strong", {}, String(openTickets.length)),
      h("span", {}, "open tickets"),
    ),
    h(
      "div",
      { class: "map-stat" },
      h("strong", { style: { color: overdue ? "var(--red)" : "" } }, String(overdue)),
      h("span", {}, "overdue"),
    ),
    h(
      "div",
      { class: "map-stat" },
      h("strong", {}, String(eventsAvailable ? eventPoints?.size || 0 : "—")),
      h("span", {}, `events ${EVENT_WINDOW_H} h`),
    ),
    h(
      "div",
      { class: "map-stat" },
      h("strong", {}, String(events)),
      h("span", {}, `events ${settings.days} d`),
    ),
  );
}

function onKey(event) {
  const key = event.key.toLowerCase();
  const done = () => event.preventDefault();
  if (key === "h") {
    done();
    setLayer("heat", !settings.heat);
  } else if (key === "t") {
    done();
    setLayer("tickets", !settings.tickets);
  } else if (key === "e") {
    done();
    setLayer("events", !settings.events);
  } else if (key === "l") {
    done();
    setLayer("labels", !settings.labels);
  } else if (key === "f") {
    done();
    selectedArea = null;
    fitAll();
    renderAreaList();
    styleGrids();
  } else if (["1", "2", "3", "4"].includes(key)) {
    done();
    setLevel(LEVELS[Number(key) - 1]);
  }
}
