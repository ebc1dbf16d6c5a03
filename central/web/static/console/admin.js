// Administration (admins only): users (role, disabled state; disable, enable,
// reset password, list and revoke tokens) and the audit log (filters, CSV).
// Uses the admin API (central/api/routes_admin.py), which refuses anyone else.
// Names from the API go into the page as text, never as HTML.

import { API, api, download, qs } from "./api.js";
import {
  announce,
  clear,
  dialog,
  empty,
  errorBlock,
  field,
  fmtAgo,
  fmtFull,
  h,
  headRow,
  icon,
  loading,
  select,
  tableWrap,
  toast,
} from "./ui.js";

const ROLE_LABELS = {
  admin: "Administrator",
  supervisor: "Supervisor",
  operator: "Operator",
  worker: "Worker",
  edge_node: "Edge node",
};
const AUDIT_LIMITS = ["50", "200", "1000"];

let root = null;
let ctx = null;
let users = [];
let els = {};
let filters = { q: "" };
let audit = { action: "", actor: "", since: "", limit: "200" };

const view = {
  id: "admin",
  title: "Admin",
  roles: ["admin"],
  shortcuts: [
    [["/"], "Search users"],
    [["L"], "Filter the audit log"],
    [["U"], "Refresh"],
  ],
  mount(el, params, context) {
    root = el;
    ctx = context;
    users = [];
    els = {};
    filters = { q: params.q || "" };
    audit = {
      action: params.action || "",
      actor: params.actor || "",
      since: params.since || "",
      limit: AUDIT_LIMITS.includes(params.limit) ? params.limit : "200",
    };
    build();
    loadUsers();
    loadAudit();
  },
  unmount() {
    root = null;
  },
  onKey(event) {
    if (event.key === "/") {
      event.preventDefault();
      els.search.focus();
    } else if (event.key === "l") {
      event.preventDefault();
      els.action.focus();
    } else if (event.key === "u") {
      event.preventDefault();
      loadUsers();
      loadAudit();
    }
  },
};
export default view;

// -- layout ---------------------------------------------------------------------

function build() {
  ctx.setTitle("Admin", "Accounts and the audit log");
  ctx.setActions(
    h(
      "button",
      {
        class: "btn",
        type: "button",
        "aria-keyshortcuts": "u",
        onclick: () => {
          loadUsers();
          loadAudit();
        },
      },
      icon("refresh"),
      "Refresh",
    ),
  );
  els.search = h("input", {
    class: "input search",
    type: "search",
    placeholder: "Search users…",
    "aria-label": "Search users by username, name or role",
    "aria-keyshortcuts": "/",
    value: filters.q,
    oninput: (e) => {
      filters.q = e.target.value.trim();
      saveParams();
      renderUsers();
    },
  });
  els.userCount = h("span", { class: "muted" });
  els.usersBody = h("tbody");
  els.auditBody = h("tbody");
  els.auditCount = h("span", { class: "muted", role: "status" });
  els.csv = h(
    "a",
    { class: "csv-link", id: "audit-csv", href: csvHref(), download: "audit.csv", onclick: onCsv },
    icon("download"),
    "Download CSV",
  );
  root.append(
    h(
      "div",
      { class: "page-pad" },
      usersCard(),
      h("div", { class: "admin-gap" }),
      auditCard(),
    ),
  );
}

function usersCard() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "users-title" },
    h(
      "div",
      { class: "card-head" },
      icon("admin"),
      h("h2", { id: "users-title" }, "Users"),
      els.userCount,
      h("span", { class: "spacer" }),
      els.search,
    ),
    tableWrap(
      "User table (scrolls)",
      h(
        "table",
        { class: "table", id: "users-table", "aria-labelledby": "users-title" },
        headRow(["User", "Role", "Worker / node", "State", "Tokens", "Created", "Actions"]),
        els.usersBody,
      ),
    ),
  );
}

function auditCard() {
  els.action = h("input", {
    class: "input",
    id: "audit-action",
    name: "action",
    placeholder: "e.g. login_failed",
    value: audit.action,
    "aria-keyshortcuts": "l",
  });
  els.actor = h("input", {
    class: "input",
    id: "audit-actor",
    name: "actor",
    placeholder: "e.g. admin",
    value: audit.actor,
  });
  els.since = h("input", {
    class: "input",
    id: "audit-since",
    name: "since",
    type: "datetime-local",
    value: audit.since,
  });
  els.limit = select(
    AUDIT_LIMITS.map((n) => ({ value: n, label: `Newest ${n}` })),
    { label: "How many", value: audit.limit, id: "audit-limit" },
  );
  const form = h(
    "form",
    { class: "admin-filters", id: "audit-filters", onsubmit: onAuditFilter },
    field("Action", els.action),
    field("Actor", els.actor),
    field("Since", els.since),
    field("Show", els.limit),
    h("button", { class: "btn btn-primary", type: "submit" }, icon("filter"), "Filter"),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "audit-title" },
    h(
      "div",
      { class: "card-head" },
      icon("review"),
      h("h2", { id: "audit-title" }, "Audit log"),
      els.auditCount,
      h("span", { class: "spacer" }),
      els.csv,
    ),
    h("div", { class: "card-body" }, form),
    tableWrap(
      "Audit log (scrolls)",
      h(
        "table",
        { class: "table", id: "audit-table", "aria-labelledby": "audit-title" },
        headRow(["Time", "Actor", "Action", "Target", "Address", "Detail"]),
        els.auditBody,
      ),
    ),
  );
}


function saveParams() {
  ctx.setParams({ q: filters.q, ...audit, limit: audit.limit === "200" ? "" : audit.limit });
}

// -- users ----------------------------------------------------------------------

async function loadUsers() {
  if (!root) return;
  clear(els.usersBody, h("tr", {}, h("td", { colspan: 7 }, loading("Loading users…"))));
  try {
    const page = await api("/admin/users");
    if (!root) return;
    users = page.data;
    renderUsers();
  } catch (error) {
    if (!root) return;
    clear(els.usersBody, h("tr", {}, h("td", { colspan: 7 }, errorBlock(error, loadUsers))));
  }
}

function matches(user) {
  if (!filters.q) return true;
  const q = filters.q.toLowerCase();
  return [user.username, user.display_name, user.role, user.worker_id, user.node_id].some(
    (v) => v && String(v).toLowerCase().includes(q),
  );
}

function renderUsers() {
  const shown = users.filter(matches);
  els.userCount.textContent = `${shown.length} of ${users.length}`;
  if (!shown.length) {
    clear(els.usersBody, h("tr", {}, h("td", { colspan: 7 }, empty("No user matches"))));
    return;
  }
  clear(els.usersBody, shown.map(userRow));
}

function userRow(user) {
  const me = ctx.me?.username === user.username;
  return h(
    "tr",
    { dataset: { username: user.username } },
    h(
      "td",
      { class: "two-line" },
      h("span", { class: "cell-main" }, user.username),
      user.display_name ? h("span", { class: "cell-sub" }, user.display_name) : null,
    ),
    h("td", {}, ROLE_LABELS[user.role] || user.role),
    h("td", { class: "mono" }, user.worker_id || user.node_id || "—"),
    h(
      "td",
      {},
      h(
        "span",
        { class: `chip ${user.active ? "health-online" : "health-offline"}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        user.active ? "Active" : "Disabled",
      ),
    ),
    h("td", { class: "num" }, String(user.tokens)),
    h("td", { title: fmtFull(user.created_at) }, fmtAgo(user.created_at)),
    h(
      "td",
      {},
      h(
        "div",
        { class: "admin-actions" },
        user.active
          ? actionButton("Disable", user, onDisable, { disabled: me })
          : actionButton("Enable", user, onEnable),
        user.has_password
          ? actionButton("Reset password", user, onResetPassword, { disabled: me })
          : null,
        actionButton("Tokens", user, onTokens),
      ),
    ),
  );
}

function actionButton(label, user, run, { danger = false, disabled = false } = {}) {
  return h(
    "button",
    {
      class: `btn btn-small ${danger ? "btn-danger" : ""}`.trim(),
      type: "button",
      disabled,
      title: disabled ? "Not on your own account" : null,
      "aria-label": `${label}: ${user.username}`,
      onclick: () => run(user),
    },
    label,
  );
}

const userPath = (user) => `/admin/users/${encodeURIComponent(user.username)}`;

async function onDisable(user) {
  const done = await dialog({
    title: `Disable ${user.username}?`,
    body: h(
      "p",
      {},
      "Their logins are refused and every token they hold is revoked at once; ",
      "enabling them later does not bring the tokens back.",
    ),
    submitLabel: "Disable",
    submitClass: "btn-danger",
    onSubmit: () => api(`${userPath(user)}/disable`, { method: "POST" }),
  });
  if (done) afterChange(`${user.username} disabled`);
}

async function onEnable(user) {
  try {
    await api(`${userPath(user)}/enable`, { method: "POST" });
    afterChange(`${user.username} enabled`);
  } catch (error) {
    toast(error.message, { title: "Could not enable", kind: "error" });
  }
}

async function onResetPassword(user) {
  const input = h("input", {
    class: "input",
    type: "password",
    name: "new_password",
    autocomplete: "new-password",
    required: true,
    autofocus: true,
  });
  const done = await dialog({
    title: `Reset the password of ${user.username}`,
    body: [
      h("p", {}, "All their tokens are revoked; they sign in with the new password."),
      field("New password", input, "Tell it to them in person; it is never shown again."),
    ],
    submitLabel: "Reset password",
    onSubmit: async () => {
      if (!input.value) throw new Error("Enter the new password.");
      return api(`${userPath(user)}/password`, {
        method: "POST",
        json: { new_password: input.value },
      });
    },
  });
  if (done) afterChange(`Password of ${user.username} reset`);
}

async function onTokens(user) {
  const body = h("div", { class: "admin-tokens" }, loading("Loading tokens…"));
  const show = async () => {
    try {
      const page = await api(`${userPath(user)}/tokens`);
      clear(body, tokensTable(user, page.data, show));
    } catch (error) {
      clear(body, errorBlock(error, show));
    }
  };
  show();
  await dialog({
    title: `Tokens of ${user.username}`,
    body,
    wide: true,
    cancel: false,
    submitLabel: "Done",
  });
  loadUsers();
}

function tokensTable(user, tokens, reload) {
  if (!tokens.length) return empty("No tokens", "This user holds no token.");
  return h(
    "table",
    { class: "table", id: "tokens-table", "aria-label": `Tokens of ${user.username}` },
    headRow(["Label", "Issued", "Expires", "State", ""]),
    h(
      "tbody",
      {},
      tokens.map((token) =>
        h(
          "tr",
          { dataset: { tokenId: token.id } },
          h("td", {}, token.label),
          h("td", { title: fmtFull(token.created_at) }, fmtAgo(token.created_at)),
          h("td", {}, token.expires_at ? fmtFull(token.expires_at) : "Never"),
          h("td", {}, token.expired ? "Expired" : "Valid"),
          h(
            "td",
            {},
            h(
              "button",
              {
                class: "btn btn-small btn-danger",
                type: "button",
                "aria-label": `Revoke token ${token.label} issued ${fmtFull(token.created_at)}`,
                onclick: async (event) => {
                  event.currentTarget.disabled = true;
                  try {
                    await api(`${userPath(user)}/tokens/${encodeURIComponent(token.id)}`, {
                      method: "DELETE",
                    });
                    announce(`Token ${token.label} revoked`);
                    toast(`Token ${token.label} of ${user.username} revoked`, { kind: "success" });
                    loadAudit();
                    await reload();
                  } catch (error) {
                    toast(error.message, { title: "Could not revoke", kind: "error" });
                  }
                },
              },
              "Revoke",
            ),
          ),
        ),
      ),
    ),
  );
}

function afterChange(message) {
  toast(message, { kind: "success" });
  announce(message);
  loadUsers();
  loadAudit();
}

// -- audit log ------------------------------------------------------------------

function auditQuery() {
  const since = audit.since ? new Date(audit.since) : null;
  return {
    action: audit.action,
    actor: audit.actor,
    since: since && !Number.isNaN(since.getTime()) ? since.toISOString() : "",
    limit: audit.limit,
  };
}

/** The export's address (what the link shows; the click sends the bearer header). */
function csvHref() {
  return `${API}/admin/audit${qs({ ...auditQuery(), format: "csv" })}`;
}

function onAuditFilter(event) {
  event.preventDefault();
  audit = {
    action: els.action.value.trim(),
    actor: els.actor.value.trim(),
    since: els.since.value,
    limit: els.limit.value,
  };
  saveParams();
  els.csv.href = csvHref();
  loadAudit();
}

async function loadAudit() {
  if (!root) return;
  clear(els.auditBody, h("tr", {}, h("td", { colspan: 6 }, loading("Loading the audit log…"))));
  try {
    const page = await api("/admin/audit", { query: auditQuery() });
    if (!root) return;
    els.auditCount.textContent = `${page.count} entries`;
    if (!page.data.length) {
      clear(els.auditBody, h("tr", {}, h("td", { colspan: 6 }, empty("No entry matches"))));
      return;
    }
    clear(els.auditBody, page.data.map(auditRow));
  } catch (error) {
    if (!root) return;
    els.auditCount.textContent = "";
    clear(els.auditBody, h("tr", {}, h("td", { colspan: 6 }, errorBlock(error, loadAudit))));
  }
}

function auditRow(entry) {
  const detail = Object.keys(entry.detail || {}).length ? JSON.stringify(entry.detail) : "";
  return h(
    "tr",
    { dataset: { action: entry.action } },
    h("td", { title: fmtFull(entry.at) }, fmtFull(entry.at)),
    h("td", {}, entry.actor),
    h("td", { class: "mono" }, entry.action),
    h("td", {}, entry.target || "—"),
    h("td", { class: "mono" }, entry.address || "—"),
    h("td", { class: "mono admin-detail" }, detail),
  );
}

async function onCsv(event) {
  event.preventDefault();
  try {
    await download("/admin/audit", { ...auditQuery(), format: "csv" }, "audit.csv");
  } catch (error) {
    toast(error.message, { title: "Export failed", kind: "error" });
  }
}
