// The statistics page's "Scores and grades" card: each row's three rates (三率)
// weighed into a 0–100 score and graded A–D (GET /api/v1/stats/scores), for the
// grouping and period the page shows, best first, with a CSV download.

import { api, download } from "./api.js";
import { h, headRow, tableWrap, toast } from "./ui.js";

const MAX_ROWS = 50;

const pct = (rate) => (rate === null || rate === undefined ? "–" : `${Math.round(rate * 100)} %`);

/** A card that fills itself with the current period's scores grouped `by`. */
export function scoresCard(by, period) {
  const query = { by, period };
  const status = h("p", { class: "muted" }, "Loading…");
  const body = h("div", { class: "card-body" }, status);
  const caption = h("span", { class: "muted" });
  const section = h(
    "section",
    { class: "card span-12", id: "scores-card", "aria-labelledby": "scores-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "scores-title" }, "Scores and grades"),
      caption,
      h("span", { class: "spacer" }),
      h(
        "a",
        {
          class: "csv-link",
          href: `/api/v1/stats/scores?by=${by}&period=${period}&format=csv`,
          download: "scores.csv",
          onclick: async (e) => {
            e.preventDefault();
            try {
              await download("/stats/scores", { ...query, format: "csv" }, "scores.csv");
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
  api("/stats/scores", { query })
    .then((report) => {
      const w = report.weights;
      caption.textContent =
        `this ${period} · weights: response ${w.response}, resolution ${w.resolution}, ` +
        `satisfaction ${w.satisfaction} · A ≥ ${report.grades.a}, B ≥ ${report.grades.b}, C ≥ ${report.grades.c}`;
      body.replaceChildren(scoresTable(report.rows));
    })
    .catch((error) => {
      status.textContent = `Could not load the scores: ${error.message}`;
      status.className = "form-error";
    });
  return section;
}

function scoresTable(rows) {
  if (!rows.length) return h("p", { class: "muted" }, "No tickets in this period yet.");
  const td = (text) => h("td", { class: "num" }, text);
  return h(
    "div",
    {},
    tableWrap(
      "Scores and grades (scrolls)",
      h(
        "table",
        { class: "table", id: "scores-table", "aria-labelledby": "scores-title" },
        headRow(["Name", "Tickets", "Response", "Resolution", "Satisfaction", "Score", "Grade"]),
        h(
          "tbody",
          {},
          rows.slice(0, MAX_ROWS).map((r) =>
            h(
              "tr",
              { dataset: { key: r.key ?? "" } },
              h("td", {}, r.name || r.key || "—"),
              td(String(r.tickets)),
              td(pct(r.response_rate)),
              td(pct(r.resolution_rate)),
              td(pct(r.satisfaction_rate)),
              td(r.score === null ? "–" : r.score.toFixed(1)),
              h("td", {}, r.grade ? h("strong", { class: `grade grade-${r.grade}` }, r.grade) : "–"),
            ),
          ),
        ),
      ),
    ),
    rows.length > MAX_ROWS ? h("p", { class: "muted" }, `The top ${MAX_ROWS} of ${rows.length}; the CSV has all.`) : null,
  );
}
