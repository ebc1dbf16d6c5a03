// Matter list (staff read, admins edit): the list in force as a table, its
// YAML in an editor, "Check" (a dry run: the problems, or what would change),
// "Apply" as a new version with a note, and the version history.
// Uses central/api/routes_matter_admin.py; applying is audited there. Text from
// the API goes in as text, never HTML.

import { api } from "./api.js";
import { announce, clear, empty, errorBlock, field, fmtFull, h, headRow, icon, loading, toast } from "./ui.js";

const FIELD_LABELS = {
  event_types: "event types",
  category: "category",
  department: "department",
  time_limit_min: "time limit",
  priority: "priority",
  review: "review policy",
  merge: "merge window",
  escalate_after_min: "escalation",
  camera_check: "camera check",
};

let root = null;
let ctx = null;
let els = {};

const view = {
  id: "matters",
  title: "Matter list",
  roles: ["operator", "supervisor", "admin"],
  shortcuts: [[["U"], "Refresh"]],
  mount(el, _params, context) {
    root = el;
    ctx = context;
    els = {};
    build();
    load();
  },
  unmount() {
    root = null;
  },
  onKey(event) {
    if (event.key === "u") {
      event.preventDefault();
      load();
    }
  },
};
export default view;

const isAdmin = () => ctx.me?.role === "admin";

// -- layout ---------------------------------------------------------------------

function build() {
  ctx.setTitle("Matter list", "Categories, departments, time limits and review policy");
  ctx.setActions(
    h(
      "button",
      { class: "btn", type: "button", "aria-keyshortcuts": "u", onclick: () => load() },
      icon("refresh"),
      "Refresh",
    ),
  );
  els.table = h("div", {}, loading());
  els.history = h("div", {}, loading());
  root.append(
    h(
      "div",
      { class: "page-pad" },
      card("matters-title", "In force", els.table),
      h("div", { class: "admin-gap" }),
      isAdmin() ? editorCard() : null,
      isAdmin() ? h("div", { class: "admin-gap" }) : null,
      card("versions-title", "Versions", els.history),
    ),
  );
}

function card(id, title, body, ...extra) {
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("div", { class: "card-head" }, icon("tickets"), h("h2", { id }, title), ...extra),
    h("div", { class: "card-body" }, body),
  );
}

function editorCard() {
  els.text = h("textarea", {
    class: "input mono",
    id: "matter-text",
    rows: 18,
    spellcheck: "false",
  });
  els.version = h("input", {
    class: "input",
    id: "matter-version",
    maxlength: 32,
    required: true,
    placeholder: "e.g. 2026.12-1",
  });
  els.note = h("input", { class: "input", id: "matter-note", maxlength: 500 });
  els.apply = h(
    "button",
    { class: "btn btn-primary", type: "button", id: "matter-apply", onclick: onApply },
    icon("check"),
    "Apply",
  );
  els.result = h("div", { id: "matter-result", role: "status" });
  return card(
    "editor-title",
    "Edit",
    h(
      "form",
      { id: "matter-form", onsubmit: onCheck },
      field("Matter list (YAML)", els.text, "The whole list; the version line is set from below."),
      h(
        "div",
        { class: "admin-filters" },
        field("New version", els.version),
        field("Note", els.note, "Why, for the history."),
        h("button", { class: "btn", type: "submit", id: "matter-check" }, "Check"),
        els.apply,
      ),
      els.result,
    ),
  );
}

// -- loading --------------------------------------------------------------------

async function load() {
  try {
    const [current, versions] = await Promise.all([
      api("/matter-list"),
      api("/matter-list/versions"),
    ]);
    if (!root) return;
    showCurrent(current);
    showHistory(versions.data);
    if (els.text) {
      els.text.value = current.text;
      els.version.value = "";
      clear(els.result);
    }
  } catch (error) {
    if (root) clear(els.table, errorBlock(error, load));
  }
}

function showCurrent(current) {
  const rows = current.matters.map((m) =>
    h(
      "tr",
      { dataset: { key: m.key } },
      h("th", { scope: "row" }, m.key),
      h("td", {}, `${m.category_code} ${m.category_name}`),
      h("td", {}, m.department),
      h("td", { class: "num" }, `${m.time_limit_min} min`),
      h("td", {}, reviewWords(m)),
      h("td", {}, `${m.merge_distance_m} m / ${m.merge_window_min} min`),
      h("td", {}, m.camera_check || "—"),
    ),
  );
  clear(
    els.table,
    h("p", { class: "muted", id: "matter-in-force" }, `Version ${current.version}`),
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Matters (scrolls)" },
      h(
        "table",
        { class: "table", id: "matters-table", "aria-labelledby": "matters-title" },
        headRow(["Matter", "Category", "Department", "Time limit", "Review", "Merge", "Camera check"]),
        h("tbody", {}, rows),
      ),
    ),
  );
}

function reviewWords(matter) {
  if (matter.review_mode === "review") return "Operator first";
  const below = matter.review_below_confidence;
  return below > 0 ? `Auto; operator below ${below}` : "Auto";
}

function showHistory(versions) {
  if (!versions.length) {
    clear(els.history, empty("No versions"));
    return;
  }
  clear(
    els.history,
    h(
      "table",
      { class: "table", id: "versions-table", "aria-labelledby": "versions-title" },
      headRow(["Version", "When", "By", "Note"]),
      h(
        "tbody",
        {},
        versions.map((v) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, v.version),
            h("td", {}, fmtFull(v.created_at)),
            h("td", {}, v.created_by),
            h("td", {}, v.note),
          ),
        ),
      ),
    ),
  );
}


// -- check and apply ------------------------------------------------------------

/** The editor's text with its version line set to the version typed. */
function textWithVersion() {
  const version = els.version.value.trim();
  const line = `version: ${JSON.stringify(version)}`;
  const text = els.text.value;
  return /^version:.*$/m.test(text) ? text.replace(/^version:.*$/m, line) : `${line}\n${text}`;
}

async function onCheck(event) {
  event.preventDefault();
  if (!els.version.reportValidity()) return;
  clear(els.result, loading("Checking…"));
  try {
    const result = await api("/matter-list/check", {
      method: "POST",
      json: { text: textWithVersion() },
    });
    if (root) showCheck(result);
  } catch (error) {
    if (root) clear(els.result, errorBlock(error));
  }
}

function showCheck(result) {
  if (!result.can_apply) {
    clear(
      els.result,
      h("strong", {}, "Cannot apply"),
      h("ul", { class: "problems" }, result.problems.map((p) => h("li", {}, p))),
    );
    announce("The matter list has problems");
    return;
  }
  const diff = result.diff;
  const lines = [
    ...diff.added.map((k) => `Added: ${k}`),
    ...diff.removed.map((k) => `Removed: ${k}`),
    ...diff.changed.map(
      (c) => `Changed: ${c.key} (${c.fields.map((f) => FIELD_LABELS[f] || f).join(", ")})`,
    ),
    ...(diff.defaults_changed ? ["Defaults changed"] : []),
  ];
  clear(
    els.result,
    h("strong", {}, `Version ${result.version} can be applied`),
    h("ul", { class: "changes" }, (lines.length ? lines : ["No matter changes"]).map((l) => h("li", {}, l))),
  );
  announce("Check passed");
}

async function onApply() {
  if (!els.version.reportValidity()) return;
  const version = els.version.value.trim();
  els.apply.disabled = true;
  try {
    await api("/matter-list", {
      method: "PUT",
      json: { text: textWithVersion(), version, note: els.note.value.trim() },
    });
    if (!root) return;
    toast(`Matter list ${version} applied`, { kind: "success" });
    announce(`Matter list ${version} applied`);
    els.note.value = "";
    await load();
  } catch (error) {
    if (root) {
      clear(els.result, h("strong", {}, "Not applied"), h("p", {}, error.message));
      toast(error.message, { title: "Not applied", kind: "error" });
    }
  } finally {
    if (els.apply) els.apply.disabled = false;
  }
}
