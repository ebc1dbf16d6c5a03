// Reference data (areas, matters, event types, workers, grids, cameras), fetched
// once and cached.

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
  else cache.clear();
}

const byCode = new Map();
const workerById = new Map();
const cameraByKey = new Map();

export function areas() {
  return cached("areas", async () => {
    const list = await api("/areas");
    byCode.clear();
    for (const area of list) byCode.set(area.code, area);
    return list;
  });
}

export function grids() {
  return cached("grids", () => api("/grids"), 30 * 60 * 1000);
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
