// Where a ticket is: its grid polygon (GeoJSON from /grids) and the point, drawn
// with the vendored Leaflet and no tile server; a plain SVG when Leaflet is absent.

const OWN = { color: "#0f5c4d", weight: 3, fillColor: "#2a9d7f", fillOpacity: 0.18 };
const NEIGHBOUR = { color: "#7b8794", weight: 1, dashArray: "4 4", fillColor: "#cfd6dd", fillOpacity: 0.25 };
const POINT = { radius: 9, color: "#ffffff", weight: 3, fillColor: "#c62828", fillOpacity: 1 };

/** Draw into `box` (an empty element). `grids`: GeoJSON FeatureCollection (may be
 * empty); `ownCode`: the ticket's grid; `point`: [lat, lon] or null. Returns a
 * function that frees the map. */
export function drawGridMap(box, grids, ownCode, point) {
  const features = grids?.features ?? [];
  if (window.L && typeof window.L.map === "function") {
    return leafletMap(box, features, ownCode, point);
  }
  svgMap(box, features, ownCode, point);
  return () => {};
}

function leafletMap(box, features, ownCode, point) {
  const L = window.L;
  const map = L.map(box, {
    attributionControl: false,
    zoomControl: true,
    scrollWheelZoom: false,
    tap: false,
    zoomSnap: 0.25,
  });
  const neighbours = features.filter((f) => f.properties?.code !== ownCode);
  const own = features.filter((f) => f.properties?.code === ownCode);
  const neighbourLayer = L.geoJSON({ type: "FeatureCollection", features: neighbours }, { style: NEIGHBOUR, interactive: false });
  const ownLayer = L.geoJSON({ type: "FeatureCollection", features: own }, { style: OWN, interactive: false });
  // The view first: vector layers need it before they are added.
  let bounds = own.length ? ownLayer.getBounds() : null;
  if (point) bounds = bounds && bounds.isValid() ? bounds.extend(point) : L.latLngBounds([point, point]);
  if (bounds && bounds.isValid()) {
    if (bounds.getNorthEast().equals(bounds.getSouthWest())) map.setView(bounds.getCenter(), 17);
    else map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
  } else {
    map.setView([0, 0], 2);
  }
  neighbourLayer.addTo(map);
  ownLayer.addTo(map);
  if (point) L.circleMarker(point, { ...POINT, interactive: false }).addTo(map);
  // The map is drawn in a box that may only just have become visible.
  requestAnimationFrame(() => map.invalidateSize());
  return () => map.remove();
}

function svgMap(box, features, ownCode, point) {
  const rings = [];
  for (const f of features) {
    const g = f.geometry || {};
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) rings.push({ own: f.properties?.code === ownCode, ring: poly[0] || [] });
  }
  const pts = rings.filter((r) => r.own).flatMap((r) => r.ring);
  if (point) pts.push([point[1], point[0]]);
  if (!pts.length) {
    box.textContent = "No map for this place.";
    return;
  }
  const lons = pts.map((p) => p[0]);
  const lats = pts.map((p) => p[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((minY + maxY) / 2) * (Math.PI / 180));
  const w = Math.max((maxX - minX) * k, 1e-4);
  const h = Math.max(maxY - minY, 1e-4);
  const pad = 0.15 * Math.max(w, h);
  const W = 400;
  const H = 260;
  const scale = Math.min((W - 20) / (w + 2 * pad), (H - 20) / (h + 2 * pad));
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const px = (lon, lat) => [W / 2 + (lon - cx) * k * scale, H / 2 - (lat - cy) * scale];
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "svgmap");
  svg.setAttribute("aria-hidden", "true");
  for (const r of rings.sort((a, b) => Number(a.own) - Number(b.own))) {
    const path = document.createElementNS(ns, "polygon");
    path.setAttribute("points", r.ring.map(([lon, lat]) => px(lon, lat).join(",")).join(" "));
    const style = r.own ? OWN : NEIGHBOUR;
    path.setAttribute("fill", style.fillColor);
    path.setAttribute("fill-opacity", String(style.fillOpacity));
    path.setAttribute("stroke", style.color);
    path.setAttribute("stroke-width", String(style.weight));
    svg.append(path);
  }
  if (point) {
    const [x, y] = px(point[1], point[0]);
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", String(x));
    dot.setAttribute("cy", String(y));
    dot.setAttribute("r", "8");
    dot.setAttribute("fill", POINT.fillColor);
    dot.setAttribute("stroke", "#fff");
    dot.setAttribute("stroke-width", "3");
    svg.append(dot);
  }
  box.append(svg);
}

/** An interactive map to place a report: the grids of `grids` (GeoJSON), the
 * point [lat, lon] (or null) as a marker, and `onPick(lat, lon)` on a tap.
 * Returns {setPoint([lat, lon]), free()}; without Leaflet it says so in `box`
 * and the typed position is used instead. */
export function pickPointMap(box, grids, point, onPick) {
  const L = window.L;
  if (!L || typeof L.map !== "function") {
    box.textContent = "No map here: type the position below.";
    return { setPoint() {}, free() {} };
  }
  const features = grids?.features ?? [];
  const map = L.map(box, { attributionControl: false, zoomControl: true, tap: false, zoomSnap: 0.25 });
  const layer = L.geoJSON({ type: "FeatureCollection", features }, { style: OWN, interactive: false });
  const bounds = features.length ? layer.getBounds() : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 18 });
  else if (point) map.setView(point, 16);
  else map.setView([0, 0], 2);
  layer.addTo(map);
  let marker = null;
  const setPoint = (where) => {
    if (!where) return;
    if (marker) marker.setLatLng(where);
    else marker = L.circleMarker(where, { ...POINT, interactive: false }).addTo(map);
  };
  setPoint(point);
  map.on("click", (event) => {
    setPoint([event.latlng.lat, event.latlng.lng]);
    onPick(event.latlng.lat, event.latlng.lng);
  });
  requestAnimationFrame(() => map.invalidateSize());
  return { setPoint, free: () => map.remove() };
}
