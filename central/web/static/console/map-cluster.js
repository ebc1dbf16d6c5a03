// Markers that stay fast in their thousands: below `threshold` points every
// point is its own marker; above it, points are clustered with supercluster
// (vendored, /vendor/supercluster) and only what is in view is drawn: a bubble
// with a count per cluster, a marker per lone point. A bubble's click zooms in
// until it splits.

/* global L, Supercluster */

import { h } from "./ui.js";

const CLUSTER_RADIUS_PX = 60;
const CLUSTER_MAX_ZOOM = 17; // from 18 on every point is drawn alone
const VIEW_PAD = 0.25; // draw a little beyond the view, so a short pan shows no gap

export class PointClusters {
  /**
   * @param {object} options
   * @param {(item: object) => L.Layer} options.make the marker of one point
   * @param {string} options.className class of the cluster bubbles
   * @param {string} options.label what a point is, for the bubble's name ("events")
   * @param {number} [options.threshold] most points drawn without clustering
   */
  constructor({ make, className, label, threshold = 300 }) {
    this.make = make;
    this.className = className;
    this.label = label;
    this.threshold = threshold;
    this.layer = L.layerGroup();
    this.items = new Map(); // id → { id, lat, lon, ... }
    this.markers = new Map(); // id → marker, made on first show
    this.index = null;
    this.dirty = true;
    this.map = null;
    this.frame = 0;
    this.layer.on("add", () => this.render());
  }

  /** Follow `map`'s moves (call once, after the map exists). */
  attach(map) {
    this.map = map;
    map.on("moveend", () => this.isClustering() && this.render());
  }

  get size() {
    return this.items.size;
  }

  get(id) {
    return this.items.get(id);
  }

  values() {
    return this.items.values();
  }

  isClustering() {
    return this.items.size > this.threshold && typeof Supercluster !== "undefined";
  }

  /** Replace every point. */
  set(items) {
    this.items = new Map(items.map((item) => [item.id, item]));
    this.markers = new Map();
    this.layer.clearLayers();
    this.changed();
  }

  /** Add or replace one point; its marker when drawn alone now, else null. */
  put(item) {
    this.deleteMarker(item.id);
    this.items.set(item.id, item);
    this.changed();
    if (this.isClustering()) return null;
    const marker = this.markerOf(item);
    this.layer.addLayer(marker);
    return marker;
  }

  delete(id) {
    if (!this.items.delete(id)) return;
    this.deleteMarker(id);
    this.changed();
  }

  deleteMarker(id) {
    const marker = this.markers.get(id);
    if (marker) this.layer.removeLayer(marker);
    this.markers.delete(id);
  }

  changed() {
    this.dirty = true;
    if (this.frame) return;
    // Many puts in one task (a page of events) make one redraw.
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  markerOf(item) {
    let marker = this.markers.get(item.id);
    if (!marker) {
      marker = this.make(item);
      this.markers.set(item.id, marker);
    }
    return marker;
  }

  render() {
    if (!this.map || !this.map.hasLayer(this.layer)) return;
    if (!this.isClustering()) {
      this.index = null;
      for (const item of this.items.values()) {
        const marker = this.markerOf(item);
        if (!this.layer.hasLayer(marker)) this.layer.addLayer(marker);
      }
      return;
    }
    if (this.dirty || !this.index) this.rebuild();
    const view = this.map.getBounds().pad(VIEW_PAD);
    const zoom = Math.round(this.map.getZoom());
    const found = this.index.getClusters(
      [view.getWest(), view.getSouth(), view.getEast(), view.getNorth()],
      zoom,
    );
    this.layer.clearLayers();
    for (const feature of found) {
      const [lon, lat] = feature.geometry.coordinates;
      const p = feature.properties;
      if (p.cluster) this.layer.addLayer(this.bubble(lat, lon, p));
      else {
        const item = this.items.get(p.id);
        if (item) this.layer.addLayer(this.markerOf(item));
      }
    }
  }

  rebuild() {
    const points = [];
    for (const item of this.items.values())
      points.push({
        type: "Feature",
        properties: { id: item.id },
        geometry: { type: "Point", coordinates: [item.lon, item.lat] },
      });
    this.index = new Supercluster({ radius: CLUSTER_RADIUS_PX, maxZoom: CLUSTER_MAX_ZOOM });
    this.index.load(points);
    this.dirty = false;
  }

  bubble(lat, lon, p) {
    const count = p.point_count;
    const px = Math.round(26 + 8 * Math.log10(count));
    const node = h(
      "span",
      { class: `map-cluster ${this.className}`, role: "img" },
      p.point_count_abbreviated,
    );
    node.setAttribute("aria-label", `${count} ${this.label}`);
    node.style.width = node.style.height = node.style.lineHeight = `${px}px`;
    const marker = L.marker([lat, lon], {
      icon: L.divIcon({ html: node, className: "map-cluster-icon", iconSize: [px, px] }),
      title: `${count} ${this.label}: click to zoom in`,
      keyboard: false,
    });
    marker.on("click", () => {
      const zoom = Math.min(this.index.getClusterExpansionZoom(p.cluster_id), 20);
      this.map.setView([lat, lon], zoom);
    });
    return marker;
  }
}
