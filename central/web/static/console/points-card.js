// The statistics page's "Worker points" card (网格员积分): this month's points
// table — cases found on patrol, handled on time, rated satisfied, reworked —
// most points first, with a CSV download (GET /api/v1/stats/points).

import { api, download } from "./api.js";
import { h, toast } from "./ui.js";

const MAX_ROWS = 50;

/** A card that fills itself with the current month's table. */
export function pointsCard() {
  const title = "Worker points this month";
  const status = h("p", { class: "muted" }, "Loading…");
  const body = h("div", { class: "card-body" }, status);
  const month = h("span", { class: "muted" });
  const section = h(
    "section",
    { class: "card span-12", id: "points-card", "aria-labelledby": "points-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "points-title" }, title),
      month,
      h("span", { class: "spacer" }),
      h(
        "a",
        {
          class: "csv-link",
          href: "/api/v1/stats/points?format=csv",
          download: "points.csv",
          onclick: async (e) => {
            e.preventDefault();
            try {
              await download("/stats/points", { format: "csv" }, "points.csv");
            } catch (error) {
              toast(error.message, { title: "Export failed", kind: "error" });
            }
          },
        },
        "CSV",
      ),
    ),
    body,
  );
  api("/stats/points")
    .then((table) => {
      month.textContent = `${table.month} · ${table.rows.length} workers`;
      body.replaceChildren(pointsTable(table));
    })
    .catch((error) => {
      status.textContent = `Could not load the points: ${error.message}`;
      status.className = "form-error";
    });
  return section;
}

function pointsTable(table) {
  const w = table.weights;
  const th = (text, cls = "num") => h("th", { scope: "col", class: cls }, text);
  const td = (value) => h("td", { class: "num" }, String(value));
  const rows = table.rows.slice(0, MAX_ROWS);
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Worker points (scrolls)" },
    h(
      "table",
      { class: "table", id: "points-table", "aria-labelledby": "points-title" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th("Worker", ""),
          th(`Cases found (+${w.found})`),
          th(`Handled on time (+${w.on_time})`),
          th(`Rated satisfied (+${w.satisfied})`),
          th(`Reworked (${w.reworked})`),
          th("Points"),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((r) =>
          h(
            "tr",
            { dataset: { workerId: r.worker_id } },
            h("td", {}, `${r.name} · ${r.worker_id}`),
            td(r.cases_found),
            td(`${r.handled_on_time} / ${r.handled}`),
            td(`${r.rated_satisfied} / ${r.rated}`),
            td(r.reworked),
            h("td", { class: "num" }, h("strong", {}, String(r.points))),
          ),
        ),
      ),
    ),
    table.rows.length > MAX_ROWS
      ? h("p", { class: "muted" }, `The top ${MAX_ROWS} of ${table.rows.length}; the CSV has all.`)
      : null,
  );
}
