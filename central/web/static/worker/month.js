// "My month" (本月积分): the worker's row of the points table — cases found on
// patrol, handled on time, rated satisfied, reworked — and the points they make
// (GET /api/v1/me/points; docs/central.md, Worker points).
import * as api from "./api.js";

const FIGURES = [
  ["cases_found", "Cases I found", "巡查发现", "found"],
  ["handled_on_time", "Handled on time", "按期处置", "on_time"],
  ["rated_satisfied", "Rated satisfied", "群众满意", "satisfied"],
  ["reworked", "Reworked", "返工", "reworked"],
];

function text(node, value) {
  node.textContent = value;
  return node;
}

function figure(row, weights, [key, label, zh, weight]) {
  const item = document.createElement("div");
  item.className = "month-figure";
  item.dataset.figure = key;
  const term = document.createElement("dt");
  term.append(label, " ");
  const han = text(document.createElement("span"), zh);
  han.className = "zh";
  han.lang = "zh-CN";
  term.append(han);
  const value = text(document.createElement("dd"), String(row[key]));
  const points = row[key] * weights[weight];
  const note = text(
    document.createElement("span"),
    ` · ${points > 0 ? "+" : ""}${points} pts`,
  );
  note.className = "muted";
  value.append(note);
  item.append(term, value);
  return item;
}

/** Load and draw the worker's month into the "My month" view. */
export async function openMonth() {
  const error = document.getElementById("month-error");
  const figures = document.getElementById("month-figures");
  const total = document.getElementById("month-points");
  error.hidden = true;
  figures.setAttribute("aria-busy", "true");
  try {
    const table = await api.request("/me/points", { doing: "load your month" });
    const row = table.rows[0];
    document.getElementById("month-label").textContent = table.month;
    total.textContent = String(row.points);
    figures.replaceChildren(...FIGURES.map((spec) => figure(row, table.weights, spec)));
    const handled = document.getElementById("month-handled");
    handled.textContent = `${row.handled} handled, ${row.rated} rated by citizens`;
  } catch (err) {
    if (err.status === 401) return; // the app shows the login
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    figures.removeAttribute("aria-busy");
  }
}
