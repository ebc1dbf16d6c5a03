// Manual ticket creation: a citizen report or a patrol finding, placed by clicking
// on the map or by choosing a grid. A small city's grids are drawn whole (SVG); a
// big city's map is drawn level by level on a canvas (map-city.js), and the grid
// under a click is asked of central (GET /grids/at).

/* global L */

import { api } from "./api.js";
import * as ref from "./ref.js";
import { GRID_STYLE, baseMap, boundsOf, gridAt } from "./geo.js";
import { gridChooser } from "./grid-choose.js";
import { CityLayers } from "./map-city.js";
import { dialog, field, h, select } from "./ui.js";

const PICKED_STYLE = {
  ...GRID_STYLE,
  color: "#ffb547",
  weight: 2,
  fillColor: "#ffb547",
  fillOpacity: 0.25,
};

export async function newTicketDialog(ctx) {
  performance.mark("gw-new-ticket:open");
  const [matters, big] = await Promise.all([ref.matters(), ref.isBigCity()]);
  const [grids, chooser, city] = await Promise.all([
    big ? { features: [] } : ref.grids().catch(() => ({ features: [] })),
    gridChooser({ label: "Or choose a grid", none: "From the map point", name: "grid" }),
    big ? api("/map/areas", { query: { level: "district", zoom: 10 } }).catch(() => null) : null,
  ]);
  const features = grids.features || [];
  const grid = chooser.grid;

  const matter = select(
    [
      { value: "", label: "Choose a matter…" },
      ...matters.map((m) => ({
        value: m.key,
        label: `${m.category_code} ${m.category_name} · ${m.key} (${m.priority}, ${m.time_limit_min} min)`,
      })),
    ],
    { label: "Matter", name: "matter" },
  );
  const title = h("input", {
    class: "input",
    name: "title",
    required: true,
    maxlength: 300,
    placeholder: "What was reported",
  });
  const description = h("textarea", {
    class: "input",
    name: "description",
    rows: 2,
    maxlength: 10000,
    placeholder: "Details (optional)",
  });
  const source = select(
    [
      { value: "citizen", label: "Citizen report" },
      { value: "patrol", label: "Found on patrol" },
    ],
    { label: "Source", name: "source" },
  );
  const reporter = h("input", {
    class: "input",
    name: "reporter",
    maxlength: 200,
    placeholder: "Name or phone (optional)",
  });
  const where = h(
    "p",
    {
      class: "hint",
      id: "new-ticket-place",
      "aria-live": "polite",
      style: { margin: "6px 0 0", color: "var(--muted)" },
    },
    "Click on the map to place it, or choose a grid.",
  );
  const mapEl = h("div", {
    class: "pick-map",
    role: "application",
    "aria-label": "Map: click to place the ticket",
  });

  matter.addEventListener("change", () => {
    if (!title.value.trim() && matter.value) {
      const m = matters.find((x) => x.key === matter.value);
      if (m) title.value = m.category_name.split("/").slice(-1)[0];
    }
  });

  let point = null;
  let pointGrid = null; // big city: central's grid for the point (undefined: asking)
  let lookups = 0;
  let marker = null;
  let map = null;
  let gridLayer = null; // small city: every grid, SVG
  let layers = null; // big city: the levels in view, canvas
  let renderer = null;
  let picked = null;

  const describe = () => {
    if (point) {
      const hit = big ? pointGrid : gridAt(features, point.lat, point.lng)?.properties || null;
      const found =
        hit === undefined
          ? "finding its grid…"
          : hit
            ? `${hit.name} (${hit.code})`
            : "outside every grid: it will wait for review";
      where.textContent = `Point ${point.lat.toFixed(6)}, ${point.lng.toFixed(6)} · ${found}`;
    } else if (grid.value) {
      where.textContent = `Grid ${ref.areaName(grid.value)} (${grid.value}); no exact point.`;
    } else {
      where.textContent = "Click on the map to place it, or choose a grid.";
    }
  };

  const highlight = (code) => {
    picked = code || null;
    if (layers) layers.restyle();
    gridLayer?.eachLayer((layer) =>
      layer.setStyle(layer.feature.properties.code === code ? PICKED_STYLE : GRID_STYLE),
    );
  };

  const zoomToGrid = async (code) => {
    if (!map) return;
    if (!big) {
      const f = features.find((x) => x.properties.code === code);
      if (f) map.fitBounds(boundsOf([f]), { padding: [30, 30] });
      return;
    }
    const bounds = await layers?.boundsOf(code).catch(() => null);
    // Not animated: a canvas removed mid-animation (the dialog closed) would
    // still be redrawn by Leaflet at the animation's end, and fail.
    if (bounds && map && grid.value === code)
      map.fitBounds(bounds, { padding: [30, 30], animate: false });
  };

  grid.addEventListener("change", () => {
    if (grid.value) {
      point = null;
      if (marker) marker.remove();
      marker = null;
      zoomToGrid(grid.value);
      highlight(grid.value);
    }
    describe();
  });

  const placePoint = async (latlng) => {
    point = latlng;
    grid.value = "";
    if (marker) marker.setLatLng(point);
    else
      marker = L.circleMarker(point, {
        radius: 8,
        color: "#fff",
        weight: 2,
        fillColor: "#ffb547",
        fillOpacity: 1,
        ...(renderer ? { renderer } : {}),
      }).addTo(map);
    if (!big) {
      highlight(gridAt(features, point.lat, point.lng)?.properties.code);
      describe();
      return;
    }
    const mine = ++lookups;
    pointGrid = undefined;
    describe();
    let hit = null;
    try {
      hit = await ref.gridAt(point.lat, point.lng);
    } catch (error) {
      console.warn("new ticket: grid at point", error);
    }
    if (mine !== lookups || !point) return;
    pointGrid = hit;
    highlight(hit?.code);
    describe();
  };

  const body = h(
    "div",
    { class: "new-ticket" },
    h(
      "div",
      { style: { display: "grid", gridTemplateColumns: "1fr 1fr", gap: "0 14px" } },
      field("Matter", matter),
      field("Source", source),
    ),
    field("Title", title),
    field("Description", description),
    field("Reporter", reporter),
    h(
      "div",
      { class: "label", style: { marginBottom: "6px" }, id: "new-ticket-where" },
      "Location",
    ),
    mapEl,
    where,
    h("div", { style: { marginTop: "10px" } }, ...chooser.fields),
  );

  const markReady = () =>
    requestAnimationFrame(() => performance.mark("gw-new-ticket:ready", { detail: { big } }));

  const mountSmall = () => {
    map = baseMap(mapEl, { minZoom: 12 });
    gridLayer = L.geoJSON(
      { type: "FeatureCollection", features },
      {
        style: () => GRID_STYLE,
        onEachFeature: (f, layer) => {
          layer.bindTooltip(() => h("span", {}, f.properties.name), { sticky: true });
          layer.on("add", () => layer.getElement()?.setAttribute("data-grid", f.properties.code));
        },
      },
    ).addTo(map);
    const bounds = boundsOf(features);
    if (bounds) map.fitBounds(bounds, { padding: [10, 10] });
    else map.setView([0, 0], 2);
    markReady();
  };

  const mountBig = () => {
    map = baseMap(mapEl, { preferCanvas: true });
    renderer = L.canvas({ padding: 0.5, tolerance: 2 });
    let drawn = false;
    layers = new CityLayers(
      map,
      {
        styleOf: (p) => (p.code === picked ? PICKED_STYLE : GRID_STYLE),
        tooltipOf: (p) => h("span", {}, p.name),
        labelOf: (p) => h("span", {}, p.name),
        onError: (error) => console.warn("new ticket: map", error),
        onDrawn: () => {
          marker?.bringToFront();
          if (!drawn) markReady();
          drawn = true;
        },
      },
      renderer,
    );
    if (city?.bounds) {
      const [west, south, east, north] = city.bounds;
      map.fitBounds(L.latLngBounds([south, west], [north, east]), { padding: [10, 10] });
    } else map.setView([0, 0], 2);
    requestAnimationFrame(() => {
      map?.invalidateSize();
      layers?.update();
    });
  };

  setTimeout(() => {
    if (big) mountBig();
    else mountSmall();
    map.on("click", (e) => placePoint(e.latlng));
  }, 0);

  const created = await dialog({
    title: "New ticket",
    wide: true,
    submitLabel: "Create ticket",
    submitClass: "btn-primary",
    body,
    onSubmit: async () => {
      if (!matter.value) throw new Error("Choose the matter.");
      if (!title.value.trim()) throw new Error("Give it a title.");
      if (!point && !grid.value) throw new Error("Place it on the map or choose a grid.");
      const payload = {
        matter_key: matter.value,
        title: title.value.trim(),
        description: description.value.trim(),
        source: source.value,
        reporter: reporter.value.trim() || null,
      };
      if (point) {
        payload.lat = Number(point.lat.toFixed(7));
        payload.lon = Number(point.lng.toFixed(7));
      } else {
        payload.grid_code = grid.value;
      }
      const ticket = await api("/tickets", { method: "POST", json: payload });
      ctx.acted(ticket.id);
      return ticket;
    },
  });
  layers?.remove();
  if (map) map.remove();
  map = null;
  return created && created !== true ? created : null;
}
