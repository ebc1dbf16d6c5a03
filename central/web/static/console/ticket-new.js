// Manual ticket creation: a citizen report or a patrol finding, placed by clicking
// on the map or by choosing a grid.

/* global L */

import { api } from "./api.js";
import * as ref from "./ref.js";
import { GRID_STYLE, baseMap, boundsOf, gridAt } from "./geo.js";
import { dialog, field, h, select } from "./ui.js";

export async function newTicketDialog(ctx) {
  const [matters, areas, grids] = await Promise.all([
    ref.matters(),
    ref.areas(),
    ref.grids().catch(() => ({ features: [] })),
  ]);
  const features = grids.features || [];

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
  const grid = select(
    [
      { value: "", label: "From the map point" },
      ...areas
        .filter((a) => a.level === "grid")
        .map((a) => ({ value: a.code, label: `${a.name} · ${a.code}` })),
    ],
    { label: "Grid", name: "grid" },
  );
  const where = h(
    "p",
    { class: "hint", "aria-live": "polite", style: { margin: "6px 0 0", color: "var(--muted)" } },
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
  let marker = null;
  let map = null;
  let gridLayer = null;

  const describe = () => {
    if (point) {
      const hit = gridAt(features, point.lat, point.lng);
      where.textContent = `Point ${point.lat.toFixed(6)}, ${point.lng.toFixed(6)} · ${hit ? `${hit.properties.name} (${hit.properties.code})` : "outside every grid: it will wait for review"}`;
    } else if (grid.value) {
      where.textContent = `Grid ${ref.areaName(grid.value)} (${grid.value}); no exact point.`;
    } else {
      where.textContent = "Click on the map to place it, or choose a grid.";
    }
  };

  grid.addEventListener("change", () => {
    if (grid.value) {
      point = null;
      if (marker) marker.remove();
      marker = null;
      const f = features.find((x) => x.properties.code === grid.value);
      if (f && map) map.fitBounds(boundsOf([f]), { padding: [30, 30] });
      highlight(grid.value);
    }
    describe();
  });

  const highlight = (code) => {
    if (!gridLayer) return;
    gridLayer.eachLayer((layer) => {
      const on = layer.feature.properties.code === code;
      layer.setStyle(
        on
          ? { ...GRID_STYLE, color: "#ffb547", weight: 2, fillColor: "#ffb547", fillOpacity: 0.25 }
          : GRID_STYLE,
      );
    });
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
    h("div", { style: { marginTop: "10px" } }, field("Or choose a grid", grid)),
  );

  setTimeout(() => {
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
    map.on("click", (e) => {
      point = e.latlng;
      grid.value = "";
      if (marker) marker.setLatLng(point);
      else
        marker = L.circleMarker(point, {
          radius: 8,
          color: "#fff",
          weight: 2,
          fillColor: "#ffb547",
          fillOpacity: 1,
        }).addTo(map);
      const hit = gridAt(features, point.lat, point.lng);
      highlight(hit?.properties.code);
      describe();
    });
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
  if (map) map.remove();
  return created && created !== true ? created : null;
}
