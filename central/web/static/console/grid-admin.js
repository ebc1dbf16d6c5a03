// Grid & workers (admins only): the workers with their grids, role and duty
// roster (filter, create, edit, edit the roster), and grid import from a
// GeoJSON file with a preview of what would change before it is applied.
// Uses central/api/routes_grid_admin.py, which refuses anyone else; every
// change lands in the audit log. Names from the API go in as text, never HTML.

import { api } from "./api.js";
import {
  announce,
  clear,
  dialog,
  empty,
  errorBlock,
  field,
  h,
  headRow,
  icon,
  loading,
  select,
  tableWrap,
  toast,
} from "./ui.js";

export const ROLE_LABELS = {
  grid_leader: "Grid leader",
  full_time: "Full-time",
  part_time: "Part-time",
  department_staff: "Department staff",
};
const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAY_FULL = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const CHANGE_LABELS = { created: "New", updated: "Changed", unchanged: "Unchanged" };
const LEVELS = ["city", "district", "street", "community", "grid"];
const PAGE_SIZE = 200;

let root = null;
let ctx = null;
let els = {};
let filters = {};
let workers = [];
let departments = null;
let preview = null; // { file, result } of the last dry run

const view = {
  id: "grid",
  title: "Grid & workers",
  roles: ["admin"],
  shortcuts: [
    [["/"], "Search workers"],
    [["N"], "New worker"],
    [["U"], "Refresh"],
  ],
  mount(el, params, context) {
    root = el;
    ctx = context;
    els = {};
    workers = [];
    preview = null;
    filters = {
      q: params.q || "",
      role: ROLE_LABELS[params.role] ? params.role : "",
      area: /^\d{1,15}$/.test(params.area || "") ? params.area : "",
      active: ["true", "false"].includes(params.active) ? params.active : "",
    };
    build();
    loadWorkers();
  },
  unmount() {
    root = null;
  },
  onKey(event) {
    if (event.key === "/") {
      event.preventDefault();
      els.search.focus();
    } else if (event.key === "n") {
      event.preventDefault();
      onNewWorker();
    } else if (event.key === "u") {
      event.preventDefault();
      loadWorkers();
    }
  },
};
export default view;

// -- layout ---------------------------------------------------------------------

function build() {
  ctx.setTitle("Grid & workers", "Workers, duty rosters and grid import");
  ctx.setActions(
    h(
      "button",
      { class: "btn", type: "button", "aria-keyshortcuts": "u", onclick: () => loadWorkers() },
      icon("refresh"),
      "Refresh",
    ),
  );
  root.append(
    h(
      "div",
      { class: "page-pad" },
      workersCard(),
      h("div", { class: "admin-gap" }),
      importCard(),
    ),
  );
}

function workersCard() {
  els.search = h("input", {
    class: "input",
    id: "workers-q",
    type: "search",
    name: "q",
    placeholder: "Id, name or phone",
    value: filters.q,
    "aria-keyshortcuts": "/",
  });
  els.role = select(
    [{ value: "", label: "Any role" }, ...Object.entries(ROLE_LABELS).map(([value, label]) => ({ value, label }))],
    { value: filters.role, id: "workers-role", name: "role" },
  );
  els.area = h("input", {
    class: "input",
    id: "workers-area",
    name: "area",
    inputmode: "numeric",
    pattern: "\\d{1,15}",
    placeholder: "e.g. 440106001",
    value: filters.area,
  });
  els.active = select(
    [
      { value: "", label: "Active and not" },
      { value: "true", label: "Active" },
      { value: "false", label: "Inactive" },
    ],
    { value: filters.active, id: "workers-active", name: "active" },
  );
  els.count = h("span", { class: "muted", role: "status" });
  els.body = h("tbody");
  const form = h(
    "form",
    { class: "admin-filters", id: "workers-filters", onsubmit: onFilter },
    field("Search", els.search),
    field("Role", els.role),
    field("Area code", els.area),
    field("State", els.active),
    h("button", { class: "btn btn-primary", type: "submit" }, icon("filter"), "Filter"),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "workers-title" },
    h(
      "div",
      { class: "card-head" },
      icon("admin"),
      h("h2", { id: "workers-title" }, "Workers"),
      els.count,
      h("span", { class: "spacer" }),
      h(
        "button",
        { class: "btn", type: "button", "aria-keyshortcuts": "n", onclick: () => onNewWorker() },
        icon("plus"),
        "New worker",
      ),
    ),
    h("div", { class: "card-body" }, form),
    tableWrap(
      "Worker table (scrolls)",
      h(
        "table",
        { class: "table", id: "workers-table", "aria-labelledby": "workers-title" },
        headRow(["Worker", "Role", "Grids", "Duty roster", "Now", "Open", "Actions"]),
        els.body,
      ),
    ),
  );
}


// -- workers --------------------------------------------------------------------

function onFilter(event) {
  event.preventDefault();
  filters = {
    q: els.search.value.trim(),
    role: els.role.value,
    area: els.area.value.trim(),
    active: els.active.value,
  };
  if (filters.area && !/^\d{1,15}$/.test(filters.area)) {
    toast("An area code is 1 to 15 digits.", { title: "Not filtered", kind: "error" });
    els.area.focus();
    return;
  }
  ctx.setParams(filters);
  loadWorkers();
}

async function loadWorkers() {
  if (!root) return;
  clear(els.body, h("tr", {}, h("td", { colspan: 7 }, loading("Loading workers…"))));
  try {
    const page = await api("/admin/workers", { query: { ...filters, limit: PAGE_SIZE } });
    if (!root) return;
    workers = page.data;
    els.count.textContent =
      page.total > page.count
        ? `${page.count} of ${page.total}`
        : `${page.total} worker${page.total === 1 ? "" : "s"}`;
    if (!workers.length) {
      clear(els.body, h("tr", {}, h("td", { colspan: 7 }, empty("No worker matches"))));
      return;
    }
    clear(els.body, workers.map(workerRow));
  } catch (error) {
    if (!root) return;
    els.count.textContent = "";
    clear(els.body, h("tr", {}, h("td", { colspan: 7 }, errorBlock(error, loadWorkers))));
  }
}

/** "Mon–Fri 08:00–18:00" for one window. */
export function windowText(window) {
  const days = [...window.days].sort((a, b) => a - b);
  const run = days.every((d, i) => i === 0 || d === days[i - 1] + 1);
  const dayText =
    days.length === 7
      ? "Every day"
      : run && days.length > 2
        ? `${DAY_NAMES[days[0] - 1]}–${DAY_NAMES[days.at(-1) - 1]}`
        : days.map((d) => DAY_NAMES[d - 1]).join(", ");
  const overnight = window.end < window.start ? " (overnight)" : "";
  return `${dayText} ${window.start}–${window.end}${overnight}`;
}

function workerRow(worker) {
  return h(
    "tr",
    { dataset: { worker: worker.id } },
    h(
      "td",
      { class: "two-line" },
      h("span", { class: "cell-main" }, worker.name),
      h("span", { class: "cell-sub mono" }, worker.id),
    ),
    h("td", {}, ROLE_LABELS[worker.role] || worker.role),
    h("td", { class: "mono grid-admin-areas" }, worker.areas.join(", ") || "—"),
    h(
      "td",
      { class: "grid-admin-duty" },
      worker.duty.length ? worker.duty.map((w) => h("div", {}, windowText(w))) : "Always",
    ),
    h("td", {}, dutyChip(worker)),
    h("td", { class: "num" }, String(worker.open_tickets)),
    h(
      "td",
      {},
      h(
        "div",
        { class: "admin-actions" },
        rowButton("Edit", worker, onEditWorker),
        rowButton("Roster", worker, onEditRoster),
      ),
    ),
  );
}

function dutyChip(worker) {
  const [label, cls] = !worker.active
    ? ["Inactive", "health-offline"]
    : worker.on_duty
      ? ["On duty", "health-online"]
      : ["Off duty", "health-stalled"];
  return h(
    "span",
    { class: `chip ${cls}` },
    h("span", { class: "dot", "aria-hidden": "true" }),
    label,
  );
}

function rowButton(label, worker, run) {
  return h(
    "button",
    {
      class: "btn btn-small",
      type: "button",
      "aria-label": `${label}: ${worker.name} (${worker.id})`,
      onclick: () => run(worker),
    },
    label,
  );
}

async function loadDepartments() {
  if (departments) return departments;
  try {
    departments = await api("/admin/departments");
  } catch {
    departments = [];
  }
  return departments;
}

/** The worker form's controls, filled from `worker` (empty for a new one). */
function workerControls(worker, depts) {
  const controls = {
    name: h("input", { class: "input", name: "name", required: true, value: worker?.name || "" }),
    phone: h("input", { class: "input", name: "phone", type: "tel", value: worker?.phone || "" }),
    role: select(
      Object.entries(ROLE_LABELS).map(([value, label]) => ({ value, label })),
      { value: worker?.role || "full_time", name: "role" },
    ),
    department: select(
      [{ value: "", label: "None" }, ...depts.map((d) => ({ value: d.code, label: `${d.name} (${d.code})` }))],
      { value: worker?.department_code || "", name: "department_code" },
    ),
    areas: h("input", {
      class: "input mono",
      name: "areas",
      value: (worker?.areas || []).join(", "),
      placeholder: "440106001001001, 440106001002",
    }),
    active: h("input", {
      class: "checkbox",
      type: "checkbox",
      id: "worker-active",
      name: "active",
      checked: worker ? worker.active : true,
    }),
  };
  if (!worker) {
    controls.id = h("input", {
      class: "input mono",
      name: "id",
      required: true,
      autofocus: true,
      pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}",
    });
  }
  return controls;
}

function workerFields(controls) {
  return [
    controls.id ? field("Worker id", controls.id, "Letters, digits, . _ -; it never changes.") : null,
    field("Name", controls.name),
    field("Phone", controls.phone),
    field("Role", controls.role, "1+1+N: one grid leader and one full-time worker per grid."),
    field("Department", controls.department, "Department staff need one."),
    field("Grids and areas", controls.areas, "Codes separated by commas; a community or street code covers all its grids."),
    h(
      "div",
      { class: "field grid-admin-check" },
      controls.active,
      h("label", { for: controls.active.id }, "Active (gets tickets)"),
    ),
  ];
}

function valuesOf(controls) {
  const areas = controls.areas.value
    .split(/[\s,，、]+/)
    .map((code) => code.trim())
    .filter(Boolean);
  const bad = areas.find((code) => !/^\d{6,15}$/.test(code));
  if (bad) throw new Error(`"${bad}" is not an area code (6 to 15 digits).`);
  if (!controls.name.value.trim()) throw new Error("Enter the worker's name.");
  return {
    name: controls.name.value.trim(),
    phone: controls.phone.value.trim() || null,
    role: controls.role.value,
    department_code: controls.department.value || null,
    areas,
    active: controls.active.checked,
  };
}

async function onNewWorker() {
  const controls = workerControls(null, await loadDepartments());
  const created = await dialog({
    title: "New worker",
    body: workerFields(controls),
    submitLabel: "Create worker",
    onSubmit: () => {
      const id = controls.id.value.trim();
      if (!id) throw new Error("Enter the worker id.");
      return api("/admin/workers", { method: "POST", json: { id, ...valuesOf(controls) } });
    },
  });
  if (created) afterChange(`Worker ${created.id} created`);
}

async function onEditWorker(worker) {
  const controls = workerControls(worker, await loadDepartments());
  const saved = await dialog({
    title: `Edit ${worker.name} (${worker.id})`,
    body: workerFields(controls),
    submitLabel: "Save",
    onSubmit: () =>
      api(`/admin/workers/${encodeURIComponent(worker.id)}`, {
        method: "PATCH",
        json: valuesOf(controls),
      }),
  });
  if (saved) afterChange(`${saved.name} saved`);
}

// -- duty roster ----------------------------------------------------------------

function windowEditor(list, window, number) {
  const legendId = `win-${Math.random().toString(36).slice(2, 8)}`;
  const row = h("fieldset", { class: "grid-admin-window", "aria-labelledby": legendId });
  const days = DAY_NAMES.map((name, index) => {
    const box = h("input", {
      class: "checkbox",
      type: "checkbox",
      name: "day",
      value: String(index + 1),
      checked: window.days.includes(index + 1),
      "aria-label": DAY_FULL[index],
    });
    return h("label", { class: "grid-admin-day" }, box, h("span", { "aria-hidden": "true" }, name));
  });
  const start = h("input", { class: "input", type: "time", name: "start", value: window.start, required: true });
  const end = h("input", { class: "input", type: "time", name: "end", value: window.end, required: true });
  clear(
    row,
    h("legend", { id: legendId }, `Window ${number}`),
    h("div", { class: "grid-admin-days", role: "group", "aria-label": `Days of window ${number}` }, days),
    h("div", { class: "grid-admin-times" }, field(`Start of window ${number}`, start), field(`End of window ${number}`, end)),
    h(
      "button",
      {
        class: "btn btn-small",
        type: "button",
        onclick: () => {
          row.remove();
          renumber(list);
          announce(`Window ${number} removed`);
          // The button is gone: keep the focus in the dialog, on what follows.
          const next = list.querySelectorAll("fieldset")[number - 1];
          (next?.querySelector("input") || list.nextElementSibling)?.focus();
        },
      },
      `Remove window ${number}`,
    ),
  );
  return row;
}

function renumber(list) {
  const windows = readWindows(list, { check: false });
  clear(list, windows.map((w, i) => windowEditor(list, w, i + 1)));
}

function readWindows(list, { check = true } = {}) {
  return [...list.querySelectorAll("fieldset")].map((row, index) => {
    const days = [...row.querySelectorAll('input[name="day"]:checked')].map((b) => Number(b.value));
    const start = row.querySelector('input[name="start"]').value;
    const end = row.querySelector('input[name="end"]').value;
    if (check) {
      if (!days.length) throw new Error(`Window ${index + 1}: tick at least one day.`);
      if (!start || !end) throw new Error(`Window ${index + 1}: enter a start and an end.`);
      if (start === end) throw new Error(`Window ${index + 1}: the start and end are the same.`);
    }
    return { days, start: start.slice(0, 5), end: end.slice(0, 5) };
  });
}

async function onEditRoster(worker) {
  const list = h("div", { class: "grid-admin-windows", id: "roster-windows" });
  clear(list, worker.duty.map((w, i) => windowEditor(list, w, i + 1)));
  const add = h(
    "button",
    {
      class: "btn btn-small grid-admin-add",
      type: "button",
      onclick: () => {
        const number = list.querySelectorAll("fieldset").length + 1;
        const row = windowEditor(list, { days: [1, 2, 3, 4, 5], start: "08:00", end: "18:00" }, number);
        list.append(row);
        row.querySelector("input").focus();
      },
    },
    icon("plus"),
    "Add window",
  );
  const saved = await dialog({
    title: `Duty roster of ${worker.name} (${worker.id})`,
    wide: true,
    body: [
      h(
        "p",
        { class: "muted" },
        "Times are the city's local time. An end before the start runs past midnight (22:00–06:00). ",
        "No window at all: always on duty. Dispatch follows the roster at once.",
      ),
      list,
      add,
    ],
    submitLabel: "Save roster",
    onSubmit: () =>
      api(`/admin/workers/${encodeURIComponent(worker.id)}/duty`, {
        method: "PUT",
        json: { windows: readWindows(list) },
      }),
  });
  if (saved) afterChange(`Roster of ${saved.name} saved`);
}

function afterChange(message) {
  toast(message, { kind: "success" });
  announce(message);
  loadWorkers();
}

// -- grid import ----------------------------------------------------------------

function importCard() {
  els.file = h("input", {
    class: "input",
    id: "grid-file",
    type: "file",
    name: "file",
    accept: ".geojson,.json,application/geo+json,application/json",
    onchange: () => {
      preview = null;
      els.apply.disabled = true;
      clear(els.result);
    },
  });
  els.apply = h(
    "button",
    { class: "btn btn-primary", type: "button", id: "grid-apply", disabled: true, onclick: onApply },
    "Apply import",
  );
  els.result = h("div", { class: "grid-admin-result", "aria-live": "polite" });
  return h(
    "section",
    { class: "card", "aria-labelledby": "import-title" },
    h(
      "div",
      { class: "card-head" },
      icon("map"),
      h("h2", { id: "import-title" }, "Grid import"),
    ),
    h(
      "div",
      { class: "card-body" },
      h(
        "form",
        { class: "admin-filters", id: "grid-import", onsubmit: onPreview },
        field("GeoJSON file", els.file, "A FeatureCollection of grids with 15-digit codes."),
        h("button", { class: "btn", type: "submit" }, "Preview"),
        els.apply,
      ),
      els.result,
    ),
  );
}

function sendFile(file, dryRun) {
  const form = new FormData();
  form.append("file", file, file.name);
  return api("/admin/grids/import", {
    method: "POST",
    query: dryRun ? { dry_run: "true" } : {},
    form,
  });
}

async function onPreview(event) {
  event.preventDefault();
  const file = els.file.files[0];
  if (!file) {
    toast("Choose a GeoJSON file first.", { title: "No file", kind: "error" });
    els.file.focus();
    return;
  }
  els.apply.disabled = true;
  clear(els.result, loading("Checking the file…"));
  try {
    const result = await sendFile(file, true);
    if (!root) return;
    preview = { file, result };
    showResult(result);
    els.apply.disabled = !result.can_apply || !hasChanges(result);
    announce(result.can_apply ? "Preview ready" : "The file is refused");
  } catch (error) {
    if (root) clear(els.result, errorBlock(error));
  }
}

function hasChanges(result) {
  return Object.values(result.counts).some((c) => c.created || c.updated);
}

async function onApply() {
  if (!preview) return;
  els.apply.disabled = true;
  try {
    const result = await sendFile(preview.file, false);
    if (!root) return;
    preview = null;
    showResult(result);
    toast(`${result.file} imported`, { kind: "success" });
    announce("Grids imported");
  } catch (error) {
    if (root) {
      clear(els.result, errorBlock(error));
      toast(error.message, { title: "Not imported", kind: "error" });
    }
  }
}

function showResult(result) {
  const heading = result.applied
    ? "Imported"
    : result.can_apply
      ? hasChanges(result)
        ? "Preview: nothing is written until you apply it"
        : "Preview: the file changes nothing"
      : "Refused: fix the file and preview it again";
  clear(
    els.result,
    h("h3", { id: "import-result-title" }, heading),
    result.refused.length
      ? h(
          "ul",
          { class: "form-error grid-admin-refused", id: "import-refused", role: "alert" },
          result.refused.map((problem) => h("li", {}, problem)),
        )
      : null,
    result.can_apply ? countsTable(result) : null,
    result.changes.length ? changesTable(result) : null,
  );
}

function countsTable(result) {
  const levels = LEVELS.filter((level) => result.counts[level]);
  return h(
    "table",
    { class: "table", id: "import-counts", "aria-labelledby": "import-result-title" },
    headRow(["Level", "New", "Changed", "Unchanged"]),
    h(
      "tbody",
      {},
      levels.map((level) => {
        const c = result.counts[level];
        return h(
          "tr",
          { dataset: { level } },
          h("th", { scope: "row" }, level),
          h("td", { class: "num" }, String(c.created)),
          h("td", { class: "num" }, String(c.updated)),
          h("td", { class: "num" }, String(c.unchanged)),
        );
      }),
    ),
  );
}

function changesTable(result) {
  return tableWrap(
    "Changed areas (scrolls)",
    h(
      "table",
      { class: "table", id: "import-changes", "aria-label": "Areas the import creates or changes" },
      headRow(["Code", "Level", "Name", "Change", "What changes"]),
      h(
        "tbody",
        {},
        result.changes.map((c) =>
          h(
            "tr",
            { dataset: { code: c.code, change: c.change } },
            h("td", { class: "mono" }, c.code),
            h("td", {}, c.level),
            h("td", {}, c.name),
            h("td", {}, CHANGE_LABELS[c.change] || c.change),
            h("td", {}, c.fields.join(", ") || "—"),
          ),
        ),
      ),
    ),
  );
}
