// Reference data (areas, matters, event types, workers, grids, cameras), fetched
// once and cached. A big city's areas are not loaded whole (Guangzhou: 20,031
// grids, 24,000 areas): the levels above the grids are (about 2,000), and grid
// names come by code as the views need them (`loadNames`), grid shapes by view.

import { setEventTypeLabels } from "/common/labels.js";
import { api } from "./api.js";

const cache = new Map();

function cached(key, load, ttlMs = 5 * 60 * 1000) {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < ttlMs) return hit.promise;
  const promise = load().catch((error) => {
    cache.delete(key);
    throw error;
  });
  cache.set(key, { at: Date.now(), promise });
  return promise;
}

export function invalidate(key) {
  if (key) cache.delete(key);
  else {
    cache.clear();
    asked.clear();
  }
}

const byCode = new Map();
const workerById = new Map();
const cameraByKey = new Map();

/** A city with more grids than this is big: its grids are never loaded whole
 * (the map draws it level by level above this too: map.js). */
export const SMALL_CITY_GRIDS = 2000;
const ABOVE_GRIDS = ["city", "district", "street", "community"];
const NAMES_PER_REQUEST = 200; // codes in one GET /areas?code=… (URL ≈ 4 kB)
const asked = new Set(); // grid codes asked for by name, found or not

/** Areas per level (GET /areas/counts). */
export function counts() {
  return cached("area-counts", () => api("/areas/counts"), 30 * 60 * 1000);
}

/** Whether the city is too big to load every grid (false when unknown). */
export async function isBigCity() {
  try {
    return (await counts()).grid > SMALL_CITY_GRIDS;
  } catch {
    return false;
  }
}

/** Every area of a small city; of a big one, the levels above the grids. */
export function areas() {
  return cached("areas", async () => {
    const big = await isBigCity();
    const list = await api("/areas", big ? { query: { level: ABOVE_GRIDS } } : {});
    if (!big) byCode.clear();
    for (const area of list) byCode.set(area.code, area);
    return list;
  });
}

/** Make `areaName` know these codes: the ones not loaded yet are asked for by
 * code, a few hundred per request. Never throws (names are a nicety). */
export async function loadNames(codes) {
  await areas().catch(() => null);
  const missing = [...new Set(codes)].filter((c) => c && !byCode.has(c) && !asked.has(c));
  const chunks = [];
  for (let i = 0; i < missing.length; i += NAMES_PER_REQUEST)
    chunks.push(missing.slice(i, i + NAMES_PER_REQUEST));
  await Promise.allSettled(
    chunks.map(async (chunk) => {
      chunk.forEach((c) => asked.add(c));
      try {
        for (const area of await api("/areas", { query: { code: chunk } }))
          byCode.set(area.code, area);
      } catch (error) {
        chunk.forEach((c) => asked.delete(c));
        console.warn("ref: area names", error);
      }
    }),
  );
}

/** The grids under an area code (`prefix` of 6, 9 or 12 digits), by name. */
export function gridsUnder(prefix) {
  return cached(`grids-under:${prefix}`, async () => {
    const list = await api("/areas", { query: { level: "grid", prefix } });
    for (const area of list) byCode.set(area.code, area);
    return list;
  });
}

/** The grid a point falls in (as central places a ticket there), or null. */
export async function gridAt(lat, lon) {
  const { grid } = await api("/grids/at", { query: { lat, lon } });
  if (grid) byCode.set(grid.code, grid);
  return grid;
}

/** Every grid polygon: only for a small city (a big one asks by view). */
export function grids() {
  return cached("grids", () => api("/grids"), 30 * 60 * 1000);
}

/** Grid polygons around a point, simplified for close zoom (GET /map/areas). */
export function gridsAround(lat, lon, radiusDeg = 0.01) {
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const bbox = [
    clamp(lon - radiusDeg, -180, 179.9),
    clamp(lat - radiusDeg, -90, 89.9),
    clamp(lon + radiusDeg, -179.9, 180),
    clamp(lat + radiusDeg, -89.9, 90),
  ]
    .map((v) => v.toFixed(6))
    .join(",");
  return api("/map/areas", { query: { level: "grid", zoom: 16, bbox } });
}

export function matters() {
  return cached("matters", async () => (await api("/matters")).matters);
}

/** Event types with their labels from central's matter list; fills the labels
 * every view reads through `eventTypeLabel`. */
export function eventTypes() {
  return cached("event-types", async () => {
    const { event_types: list } = await api("/event-types");
    setEventTypeLabels(list);
    return list;
  });
}

export function workers() {
  return cached(
    "workers",
    async () => {
      const list = await api("/workers");
      workerById.clear();
      for (const worker of list) workerById.set(worker.id, worker);
      return list;
    },
    60 * 1000,
  );
}

export function cameras() {
  return cached(
    "cameras",
    async () => {
      const list = await api("/cameras");
      for (const cam of list) cameraByKey.set(cam.camera_id, cam);
      return list;
    },
    30 * 1000,
  );
}

/** Warm the caches the tables use for names; never throws. */
export async function preload() {
  await Promise.allSettled([areas(), workers(), matters(), eventTypes(), cameras()]);
}

export function area(code) {
  return code ? byCode.get(code) : undefined;
}

export function areaName(code) {
  if (!code) return null;
  return byCode.get(code)?.name || null;
}

export function worker(id) {
  return id ? workerById.get(id) : undefined;
}

export function workerName(id) {
  if (!id) return null;
  return workerById.get(id)?.name || id;
}

export function cameraName(cameraId) {
  return cameraByKey.get(cameraId)?.name || cameraId;
}

export const LEVELS = [
  { level: "district", digits: 6, label: "District" },
  { level: "street", digits: 9, label: "Street" },
  { level: "community", digits: 12, label: "Community" },
  { level: "grid", digits: 15, label: "Grid" },
];

/** "天河区 › 凤园街道 › 光田社区" for a grid code (the parents that are known). */
export function areaPath(code) {
  if (!code) return "";
  const parts = [];
  for (const { digits } of LEVELS.slice(0, 3)) {
    if (code.length > digits) {
      const name = areaName(code.slice(0, digits));
      if (name) parts.push(name);
    }
  }
  return parts.join(" › ");
}

/** Options for an area <select>: district, street, community, grid, indented. */
export function areaOptions(list, { minLevel = "district", maxLevel = "grid" } = {}) {
  const order = ["city", "district", "street", "community", "grid"];
  const lo = order.indexOf(minLevel);
  const hi = order.indexOf(maxLevel);
  return list
    .filter((a) => {
      const i = order.indexOf(a.level);
      return i >= lo && i <= hi;
    })
    .map((a) => ({
      value: a.code,
      label: `${"\u2003".repeat(Math.max(0, order.indexOf(a.level) - lo))}${a.name} · ${a.level}`,
    }));
}
