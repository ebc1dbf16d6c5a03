// The grid hierarchy of a big city (thousands of grids) on a canvas: zoomed
// out, streets filled under district outlines; closer, communities; close, the
// grids in view under community, street and district outlines. Central dissolves
// and simplifies every level per zoom once (GET /map/areas); the page asks only
// for the level it draws, in and around the view, and again when the view
// leaves what it has or the zoom changes.
//
// Timings go to the Performance API: "gw-map:first-draw" once, and a
// "gw-map:drawn" mark per redraw whose detail says level, zoom, features and
// the milliseconds spent fetching and drawing (tests/browser/test_map_scale.py).

/* global L */

import { api } from "./api.js";
import { OUTLINE_STYLE } from "./geo.js";

/** [from zoom, level filled, levels outlined], first match wins. */
const PLAN = [
  [13, "grid", ["community", "street", "district"]],
  [11, "community", ["street", "district"]],
  [-Infinity, "street", ["district"]],
];
const FETCH_PAD = 0.5; // ask for the view plus half a view each side
const MAX_LABELS = 150; // names on the map only while this few areas are in view
const CODE_LEVELS = { 6: "district", 9: "street", 12: "community", 15: "grid" };

/** The zoom of the layer central serves for `zoom` (central/grids/map_layers.py
 * `clamp_zoom`): 8..18, rounded up to even, so one layer serves two zooms. */
export function layerZoom(zoom) {
  const within = Math.max(8, Math.min(18, Math.round(zoom)));
  return within + (within % 2);
}

export function planFor(zoom) {
  const [, fill, outlines] = PLAN.find(([from]) => zoom >= from);
  return { fill, outlines };
}

export function levelOf(code) {
  return CODE_LEVELS[String(code).length] || null;
}

/** One level's shapes: the view they cover, the zoom they are simplified for. */
class LevelShapes {
  constructor(level, layer) {
    this.level = level;
    this.layer = layer;
    this.covered = null; // L.LatLngBounds fetched
    this.zoom = null;
    this.request = null;
    this.count = 0;
  }

  needs(view, zoom) {
    return this.zoom !== zoom || !this.covered || !this.covered.contains(view);
  }
}

export class CityLayers {
  /**
   * @param {L.Map} map a map with preferCanvas
   * @param {object} hooks
   * @param {(props: object) => object} hooks.styleOf fill style of an area
   * @param {(props: object) => Node} hooks.tooltipOf hover text of an area
   * @param {(props: object, layer: L.Layer) => Node} [hooks.popupOf] click card (none: no popup)
   * @param {(props: object) => Node} hooks.labelOf its name on the map
   * @param {(error: Error) => void} hooks.onError a failed fetch
   * @param {() => void} hooks.onDrawn shapes were redrawn: put markers back on top
   * @param {L.Canvas} renderer the canvas shared with the markers: one canvas
   *   takes the pointer, so one canvas must hold everything that answers it
   */
  constructor(map, hooks, renderer) {
    this.map = map;
    this.hooks = hooks;
    this.renderer = renderer;
    this.fills = new Map(); // level → LevelShapes (filled, interactive)
    this.outlines = new Map(); // level → LevelShapes (lines only)
    this.labels = L.layerGroup();
    this.showLabels = false;
    this.emphasis = null;
    this.firstDrawn = false;
    this.drawCount = 0;
    this.pending = 0;
    this.plan = null;
    map.on("moveend", () => this.update());
  }

  /** Draw what the current view needs (fetching what is missing). */
  async update() {
    const size = this.map.getSize();
    if (!size.x || !size.y) return; // not laid out (or leaving): nothing to show
    const zoom = layerZoom(this.map.getZoom());
    const plan = planFor(this.map.getZoom());
    const view = this.map.getBounds();
    this.plan = plan;
    for (const [level, shapes] of this.fills)
      if (level !== plan.fill) this.drop(this.fills, level, shapes);
    for (const [level, shapes] of this.outlines)
      if (!plan.outlines.includes(level)) this.drop(this.outlines, level, shapes);
    const jobs = [this.load(this.fills, plan.fill, view, zoom, true)];
    for (const level of plan.outlines)
      jobs.push(this.load(this.outlines, level, view, zoom, false));
    await Promise.all(jobs);
    if (this.showLabels) this.drawLabels();
  }

  drop(group, level, shapes) {
    shapes.request?.abort();
    shapes.layer.remove();
    group.delete(level);
    if (group === this.fills) this.labels.clearLayers();
  }

  async load(group, level, view, zoom, filled) {
    let shapes = group.get(level);
    if (!shapes) {
      shapes = new LevelShapes(level, this.makeLayer(level, filled));
      group.set(level, shapes);
      shapes.layer.addTo(this.map);
    }
    if (!shapes.needs(view, zoom)) return;
    shapes.request?.abort();
    const request = new AbortController();
    shapes.request = request;
    const wanted = view.pad(FETCH_PAD);
    const started = performance.now();
    let body;
    this.setPending(+1);
    try {
      body = await api("/map/areas", {
        query: { level, zoom, bbox: bboxOf(wanted) },
        signal: request.signal,
      });
    } catch (error) {
      if (!request.signal.aborted) this.hooks.onError(error);
      return;
    } finally {
      this.setPending(-1);
    }
    if (request.signal.aborted || group.get(level) !== shapes) return;
    shapes.request = null;
    const fetched = performance.now();
    shapes.layer.clearLayers();
    shapes.layer.addData(body);
    shapes.covered = wanted;
    shapes.zoom = body.zoom;
    shapes.count = body.features.length;
    if (!filled) this.styleOutline(level, shapes.layer);
    // Draw order on the canvas: fills, then outlines, then markers.
    for (const outline of this.outlines.values()) outline.layer.bringToFront();
    this.hooks.onDrawn();
    if (filled) this.markDrawn(level, zoom, shapes.count, fetched - started, started);
  }

  makeLayer(level, filled) {
    const common = { renderer: this.renderer };
    if (!filled)
      return L.geoJSON(null, {
        ...common,
        interactive: false,
        style: () => ({ ...OUTLINE_STYLE[level], fill: false }),
      });
    return L.geoJSON(null, {
      ...common,
      style: (feature) => this.hooks.styleOf(feature.properties),
      onEachFeature: (feature, layer) => {
        layer.on({
          mouseover: () => layer.setStyle({ weight: 2, color: "#c9d4ff" }),
          mouseout: () => layer.setStyle(this.hooks.styleOf(feature.properties)),
        });
        layer.bindTooltip(() => this.hooks.tooltipOf(feature.properties), {
          sticky: true,
          direction: "top",
          offset: [0, -6],
        });
        if (this.hooks.popupOf)
          layer.bindPopup(() => this.hooks.popupOf(feature.properties, layer));
      },
    });
  }

  /** Fetches in flight, on the map element (data-pending) for tests to wait on. */
  setPending(change) {
    this.pending += change;
    this.map.getContainer().dataset.pending = String(this.pending);
  }

  /** After the canvas has painted: the page's own timing marks. */
  markDrawn(level, zoom, features, fetchMs, started) {
    const drawStarted = performance.now();
    requestAnimationFrame(() => {
      const now = performance.now();
      const detail = {
        level,
        zoom,
        features,
        fetch_ms: Math.round(fetchMs),
        draw_ms: Math.round(now - drawStarted),
        total_ms: Math.round(now - started),
      };
      this.drawCount += 1;
      this.map.getContainer().dataset.drawn = String(this.drawCount);
      this.map.getContainer().dataset.level = level;
      performance.mark("gw-map:drawn", { detail });
      if (!this.firstDrawn) {
        this.firstDrawn = true;
        performance.mark("gw-map:first-draw", { detail });
      }
    });
  }

  /** Fill styles changed (heat, warnings, selection): repaint. */
  restyle() {
    for (const shapes of this.fills.values())
      shapes.layer.eachLayer((layer) => layer.setStyle(this.hooks.styleOf(layer.feature.properties)));
  }

  /** Emphasise the outlines of one level (the level picked in the side panel). */
  setEmphasis(level) {
    this.emphasis = level;
    for (const [name, shapes] of this.outlines) this.styleOutline(name, shapes.layer);
  }

  styleOutline(level, layer) {
    const base = OUTLINE_STYLE[level];
    const on = level === this.emphasis;
    layer.setStyle({
      ...base,
      fill: false,
      opacity: on ? 1 : base.opacity * 0.55,
      weight: on ? base.weight + 1 : base.weight,
      color: on ? "#ffffff" : base.color,
    });
  }

  setLabels(on) {
    this.showLabels = on;
    if (on && !this.map.hasLayer(this.labels)) this.labels.addTo(this.map);
    if (!on) this.labels.remove();
    if (on) this.drawLabels();
  }

  /** Names of the filled areas in view, when few enough to read. */
  drawLabels() {
    this.labels.clearLayers();
    const fill = this.fills.get(this.plan?.fill);
    if (!fill) return;
    const view = this.map.getBounds();
    const shown = [];
    fill.layer.eachLayer((layer) => {
      if (shown.length <= MAX_LABELS && view.contains(layer.getBounds().getCenter()))
        shown.push(layer);
    });
    if (shown.length > MAX_LABELS) return;
    for (const layer of shown)
      this.labels.addLayer(
        L.tooltip({
          permanent: true,
          direction: "center",
          className: "grid-label",
          interactive: false,
        })
          .setLatLng(layer.getBounds().getCenter())
          .setContent(this.hooks.labelOf(layer.feature.properties)),
      );
  }

  /** The bounds of one area (any level), asked of central. */
  async boundsOf(code) {
    const level = levelOf(code);
    if (!level) return null;
    // A zoom whose layer central built at start (WARM_LAYERS): no wait for it.
    const zoom = { district: 10, street: 10, community: 12, grid: 14 }[level];
    const body = await api("/map/areas", { query: { level, zoom, prefix: code } });
    const feature = body.features.find((f) => f.id === code);
    return feature ? L.geoJSON(feature).getBounds() : null;
  }

  remove() {
    for (const group of [this.fills, this.outlines])
      for (const [level, shapes] of group) this.drop(group, level, shapes);
    this.labels.remove();
  }
}

function bboxOf(bounds) {
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [
    clamp(bounds.getWest(), -180, 179.9),
    clamp(bounds.getSouth(), -90, 89.9),
    clamp(bounds.getEast(), -179.9, 180),
    clamp(bounds.getNorth(), -89.9, 90),
  ]
    .map((v) => v.toFixed(6))
    .join(",");
}
