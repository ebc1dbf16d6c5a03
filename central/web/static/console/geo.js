// Map helpers shared by the map view and the new-ticket picker: a tile-less Leaflet
// map, grid outlines of the hierarchy, point-in-polygon and a colour scale.

/* global L */

export const LEVEL_DIGITS = { district: 6, street: 9, community: 12, grid: 15 };

// Leaflet 1.9.4 can run a canvas redraw after that canvas left the page with its
// map (a dialog's map closed, or a view left, while shapes were being swapped):
// its drawing context is gone and there is nothing to draw.
if (typeof L !== "undefined" && L.Canvas && !L.Canvas.prototype._gwSafeRedraw) {
  const redraw = L.Canvas.prototype._redraw;
  L.Canvas.prototype._redraw = function redrawIfAttached() {
    if (this._ctx) redraw.call(this);
    else this._redrawRequest = null;
  };
  L.Canvas.prototype._gwSafeRedraw = true;
}

export const GRID_STYLE = {
  color: "#5d6f96",
  weight: 1,
  opacity: 0.9,
  fillColor: "#2a3a63",
  fillOpacity: 0.22,
};

export const OUTLINE_STYLE = {
  district: { color: "#d6dcf0", weight: 3.2, opacity: 0.95 },
  street: { color: "#a9b8e8", weight: 2.6, opacity: 0.9 },
  community: { color: "#8aa4ff", weight: 2, opacity: 0.85, dashArray: "6 4" },
};

/** A Leaflet map without tiles (offline): the grid polygons are the base map. */
export function baseMap(el, options = {}) {
  const map = L.map(el, {
    zoomControl: true,
    attributionControl: true,
    zoomSnap: 0.25,
    minZoom: 10,
    maxZoom: 20,
    keyboard: true,
    preferCanvas: false,
    ...options,
  });
  if (map.attributionControl) {
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Grids: gridwatch city registry");
  }
  return map;
}

/** The outer rings of a Polygon / MultiPolygon as [[lon, lat], …] lists. */
export function outerRings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates[0]];
  if (geometry.type === "MultiPolygon") return geometry.coordinates.map((p) => p[0]);
  return [];
}

function inRing(lon, lat, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function pointInGeometry(lon, lat, geometry) {
  if (!geometry) return false;
  const polygons =
    geometry.type === "Polygon"
      ? [geometry.coordinates]
      : geometry.type === "MultiPolygon"
        ? geometry.coordinates
        : [];
  return polygons.some(
    (rings) => inRing(lon, lat, rings[0]) && !rings.slice(1).some((hole) => inRing(lon, lat, hole)),
  );
}

/** The grid feature that contains a point, or undefined. */
export function gridAt(features, lat, lon) {
  return features.find((f) => pointInGeometry(lon, lat, f.geometry));
}

export function boundsOf(features) {
  let bounds = null;
  for (const f of features) {
    for (const ring of outerRings(f.geometry)) {
      for (const [lon, lat] of ring) {
        if (!bounds) bounds = L.latLngBounds([lat, lon], [lat, lon]);
        else bounds.extend([lat, lon]);
      }
    }
  }
  return bounds;
}

/** Features grouped by the first `digits` digits of their code. */
export function groupByPrefix(features, digits) {
  const groups = new Map();
  for (const f of features) {
    const key = String(f.properties.code).slice(0, digits);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  return groups;
}

/**
 * The outline of a group of grids: their ring edges, less the edges two grids of
 * the group share (so inner borders disappear). Returns [[[lat, lon], [lat, lon]], …]
 * chained into polylines where possible.
 */
export function outlineOf(features) {
  const key = ([lon, lat]) => `${lon.toFixed(7)},${lat.toFixed(7)}`;
  const edges = new Map();
  for (const f of features) {
    for (const ring of outerRings(f.geometry)) {
      for (let i = 0; i + 1 < ring.length; i += 1) {
        const a = ring[i];
        const b = ring[i + 1];
        const ka = key(a);
        const kb = key(b);
        if (ka === kb) continue;
        const k = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`;
        if (edges.has(k)) edges.delete(k);
        else edges.set(k, [a, b]);
      }
    }
  }
  // Chain edges end to end so dashes and joins draw smoothly.
  const byStart = new Map();
  for (const [a, b] of edges.values()) {
    for (const [p, q] of [
      [a, b],
      [b, a],
    ]) {
      const k = key(p);
      if (!byStart.has(k)) byStart.set(k, []);
      byStart.get(k).push(q);
    }
  }
  const used = new Set();
  const lines = [];
  for (const [a, b] of edges.values()) {
    const ek = (p, q) => [key(p), key(q)].sort().join("|");
    if (used.has(ek(a, b))) continue;
    used.add(ek(a, b));
    const line = [a, b];
    let end = b;
    for (;;) {
      const next = (byStart.get(key(end)) || []).find((q) => !used.has(ek(end, q)));
      if (!next) break;
      used.add(ek(end, next));
      line.push(next);
      end = next;
    }
    lines.push(line.map(([lon, lat]) => [lat, lon]));
  }
  return lines;
}

/** Sequential colour scale for the heat view: 0 → dark, max → hot. */
const HEAT = ["#1b2740", "#2d3f6b", "#5b4b8a", "#9a4f8c", "#d65a6e", "#f08a4b", "#ffc24a"];

export function heatColor(value, max) {
  if (!value || !max) return HEAT[0];
  const t = Math.min(1, value / max);
  const index = Math.min(HEAT.length - 1, 1 + Math.floor(t * (HEAT.length - 1.0001)));
  return HEAT[index];
}

export const HEAT_SCALE = HEAT;

export const PRIORITY_COLORS = {
  urgent: "#ff6b6b",
  high: "#f2b84b",
  normal: "#7fb2ff",
  low: "#97a1b3",
};
export const STATE_COLORS = {
  pending_review: "#f2b84b",
  dispatched: "#7fb2ff",
  accepted: "#c19bff",
  resolved: "#4fd1c5",
  returned: "#ff9a5a",
  closed: "#4fd18b",
  rejected: "#97a1b3",
};
