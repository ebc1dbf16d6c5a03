// The ticket drawer: every field, the events with their media, the full history,
// and the operator's actions (verify & close, return, reassign, escalate, …).

import { api, showMedia } from "./api.js";
import * as ref from "./ref.js";
import { clipVideo } from "./clip.js";
import { gridChooser } from "./grid-choose.js";
import { mergedReportsSection } from "./merged-reports.js";
import { REJECT_REASONS } from "./review.js";
import {
  ESCALATION_LABELS,
  REVIEW_REASON_LABELS,
  SOURCE_LABELS,
  STATE_LABELS,
  announce,
  clear,
  dialog,
  errorBlock,
  escalationChip,
  eventTypeLabel,
  field,
  fmtAgo,
  fmtDuration,
  fmtFull,
  h,
  icon,
  labelOf,
  loading,
  priorityChip,
  select,
  stateChip,
  toast,
} from "./ui.js";

let seq = 0;
let current = null; // { el, id, options }

export function closeDetail() {
  seq += 1;
  current = null;
}

export async function openDetail(el, id, options) {
  const mine = ++seq;
  const sameTicket = current && String(current.id) === String(id);
  current = { el, id, options };
  if (!options.quiet || !sameTicket) {
    clear(el, loading(`Loading ticket #${id}…`));
  }
  let ticket;
  // The camera checks come beside the ticket; without them the drawer still opens.
  const checks = api(`/tickets/${id}/camera-checks`).catch(() => ({ data: [] }));
  try {
    ticket = await api(`/tickets/${id}`);
    ticket.camera_checks = (await checks).data;
    await ref.loadNames([ticket.grid_code]);
  } catch (error) {
    if (mine !== seq) return;
    clear(
      el,
      head({ id, title: `Ticket #${id}` }, options),
      errorBlock(error, () => openDetail(el, id, options)),
    );
    return;
  }
  if (mine !== seq) return;
  render(el, ticket, options);
}

function refresh() {
  if (current) openDetail(current.el, current.id, { ...current.options, quiet: true });
}

function head(t, options) {
  return h(
    "header",
    { class: "drawer-head" },
    h(
      "div",
      { style: { flex: "1", minWidth: "0" } },
      h(
        "div",
        { class: "id" },
        `#${t.id}${t.category_code ? ` · ${t.category_code} ${t.category_name}` : ""}`,
      ),
      h("h2", { id: "drawer-title" }, t.title),
      t.state
        ? h(
            "div",
            { style: { display: "flex", gap: "8px", marginTop: "8px", flexWrap: "wrap" } },
            stateChip(t.state),
            priorityChip(t.priority),
            t.overdue ? h("span", { class: "chip overdue" }, "Overdue") : null,
            t.escalation_level ? escalationChip(t.escalation_level) : null,
          )
        : null,
    ),
    h(
      "button",
      {
        class: "icon-btn",
        type: "button",
        "aria-label": "Close ticket details",
        title: "Close (Esc)",
        onclick: () => options.onClose(),
      },
      icon("close"),
    ),
  );
}

function render(el, t, options) {
  const scroll = el.scrollTop;
  clear(el);
  el.setAttribute("aria-labelledby", "drawer-title");
  el.dataset.ticketId = t.id;
  el.dataset.state = t.state;
  el.append(head(t, options));

  const actions = actionButtons(t, options);
  if (actions.length) {
    el.append(
      h(
        "section",
        { class: "drawer-section", "aria-label": "Actions" },
        h("h3", {}, "Actions"),
        h("div", { class: "drawer-actions" }, actions),
      ),
    );
  }

  const kv = (label, value) =>
    value === null || value === undefined || value === ""
      ? null
      : [h("dt", {}, label), h("dd", {}, value)];
  const gridName = ref.areaName(t.grid_code);
  const timeLeft =
    t.time_left_s !== null && t.time_left_s !== undefined
      ? t.time_left_s < 0
        ? h("span", { class: "err" }, `${fmtDuration(-t.time_left_s)} overdue`)
        : `${fmtDuration(t.time_left_s)} left`
      : null;
  el.append(
    h(
      "section",
      { class: "drawer-section", "aria-label": "Details" },
      h("h3", {}, "Details"),
      h(
        "dl",
        { class: "kv" },
        kv("State", labelOf(STATE_LABELS, t.state)),
        kv("Source", labelOf(SOURCE_LABELS, t.source)),
        kv("Reporter", t.reporter),
        kv("Matter", t.matter_key),
        kv("Department", t.department_code),
        kv(
          "Grid",
          t.grid_code
            ? h(
                "span",
                {},
                gridName || t.grid_code,
                h("span", { class: "muted" }, ` ${ref.areaPath(t.grid_code)}`),
              )
            : "No grid",
        ),
        kv(
          "Location",
          t.lat !== null && t.lat !== undefined
            ? h("span", { class: "mono" }, `${t.lat.toFixed(6)}, ${t.lon.toFixed(6)}`)
            : null,
        ),
        kv(
          "Camera",
          t.camera_id ? `${ref.cameraName(t.camera_id)} (${t.node_id} / ${t.camera_id})` : null,
        ),
        kv(
          "Confidence",
          t.confidence !== null && t.confidence !== undefined
            ? `${Math.round(t.confidence * 100)}%`
            : null,
        ),
        kv(
          "Review reason",
          t.review_reason ? labelOf(REVIEW_REASON_LABELS, t.review_reason) : null,
        ),
        kv(
          "Assignee",
          t.assignee_id ? `${ref.workerName(t.assignee_id)} (${t.assignee_id})` : "Unassigned",
        ),
        kv("Time limit", `${t.time_limit_min} min`),
        kv(
          "Due",
          t.due_at
            ? h(
                "span",
                {},
                fmtFull(t.due_at),
                timeLeft ? h("span", { class: "muted" }, " · ", timeLeft) : null,
              )
            : null,
        ),
        kv(
          "Escalation",
          t.escalation_level
            ? `L${t.escalation_level} ${ESCALATION_LABELS[t.escalation_level]}`
            : "None",
        ),
        kv("Observations", String(t.observations)),
        kv("Rework", t.rework_count ? `${t.rework_count}×` : null),
        kv("Found", fmtFull(t.found_at)),
        kv("Created", fmtFull(t.created_at)),
        kv("Dispatched", t.dispatched_at ? fmtFull(t.dispatched_at) : null),
        kv("Accepted", t.accepted_at ? fmtFull(t.accepted_at) : null),
        kv("Resolved", t.resolved_at ? fmtFull(t.resolved_at) : null),
        kv("Closed", t.closed_at ? fmtFull(t.closed_at) : null),
        kv("Rejected", t.rejected_at ? fmtFull(t.rejected_at) : null),
      ),
      t.description
        ? h("p", { class: "description", style: { marginTop: "12px" } }, t.description)
        : null,
    ),
  );

  if (t.resolution_note || t.resolution_photo_url || t.return_reason || t.reject_reason) {
    el.append(
      h(
        "section",
        { class: "drawer-section", "aria-label": "Resolution" },
        h("h3", {}, "Resolution"),
        h(
          "dl",
          { class: "kv" },
          kv("Worker's note", t.resolution_note),
          kv("Returned because", t.return_reason),
          kv("Rejected because", t.reject_reason),
        ),
        t.resolution_photo_url
          ? showMedia(
              h("img", {
                alt: "Photo the worker sent with the resolution",
                style: { width: "100%", marginTop: "10px", borderRadius: "6px" },
              }),
              t.resolution_photo_url,
            )
          : null,
      ),
    );
  }

  if (t.camera_checks && t.camera_checks.length) {
    el.append(cameraCheckSection(t.camera_checks));
  }

  if (t.history.some((step) => step.action === "merge")) {
    const onSplit = () => {
      options.onChanged?.();
      refresh();
    };
    el.append(mergedReportsSection(t, { onSplit }));
  }

  if (t.events.length) {
    el.append(
      h(
        "section",
        { class: "drawer-section", "aria-label": "Camera events" },
        h("h3", {}, `Camera events (${t.events.length})`),
        t.events.map((ev, i) => eventCard(ev, i === 0)),
      ),
    );
  } else if (t.snapshot_url) {
    el.append(
      h(
        "section",
        { class: "drawer-section" },
        h("h3", {}, "Photo"),
        showMedia(h("img", { alt: "Ticket photo", style: { width: "100%" } }), t.snapshot_url),
      ),
    );
  }

  el.append(
    h(
      "section",
      { class: "drawer-section", "aria-label": "History" },
      h("h3", {}, `History (${t.history.length})`),
      h(
        "ol",
        { class: "timeline" },
        t.history.map((step) =>
          h(
            "li",
            {},
            h("span", { class: "tl-dot", "aria-hidden": "true" }),
            h(
              "div",
              { class: "tl-head" },
              h("strong", {}, step.action.replaceAll("_", " ")),
              step.from_state
                ? h(
                    "span",
                    { class: "muted" },
                    `${labelOf(STATE_LABELS, step.from_state)} → ${labelOf(STATE_LABELS, step.to_state)}`,
                  )
                : h("span", { class: "muted" }, `→ ${labelOf(STATE_LABELS, step.to_state)}`),
            ),
            h(
              "div",
              { class: "muted", style: { fontSize: "12px" } },
              `${fmtFull(step.at)} · ${step.actor}`,
              step.assignee_id ? ` · to ${ref.workerName(step.assignee_id)}` : "",
              step.escalation_level ? ` · L${step.escalation_level}` : "",
            ),
            step.note ? h("div", { class: "tl-note" }, step.note) : null,
          ),
        ),
      ),
    ),
  );
  el.scrollTop = scroll;
}

// A camera check: after the worker resolved the ticket, the camera that raised
// it looked again (docs/verification.md). Words per verdict and per outcome.
const CHECK_VERDICTS = {
  pending: ["Waiting for the camera…", "chip state-dispatched"],
  gone: ["Verified by camera", "chip state-closed"],
  present: ["Camera still sees it", "chip overdue"],
  cannot_verify: ["Camera cannot verify", "chip state-pending_review"],
};
const CHECK_OUTCOMES = {
  closed: "Closed: the camera saw the problem gone.",
  review: "Left to an operator to close or return.",
  returned: "Returned to the worker for rework.",
  none: "The ticket had moved on meanwhile.",
};

function checkPicture(url, alt, missing) {
  return url
    ? h("div", { class: "media-frame" }, showMedia(h("img", { alt, loading: "lazy" }), url))
    : h("div", { class: "media-frame" }, h("div", { class: "media-missing" }, missing));
}

function cameraCheckSection(checks) {
  const [latest] = checks;
  const [words, chipClass] = CHECK_VERDICTS[latest.state] || [latest.state, "chip"];
  return h(
    "section",
    {
      class: "drawer-section camera-check",
      "aria-label": "Camera check",
      dataset: { verdict: latest.state },
    },
    h("h3", {}, "Camera check"),
    h(
      "div",
      { style: { display: "flex", gap: "8px", alignItems: "center", flexWrap: "wrap" } },
      h("span", { class: chipClass, dataset: { role: "verdict" } }, words),
      h(
        "span",
        { class: "muted", style: { fontSize: "12px" } },
        `${ref.cameraName(latest.camera_id)} · ${fmtFull(latest.answered_at || latest.requested_at)}`,
      ),
    ),
    latest.reason ? h("p", { class: "tl-note" }, latest.reason) : null,
    latest.outcome ? h("p", { class: "muted" }, CHECK_OUTCOMES[latest.outcome] || "") : null,
    h(
      "div",
      {
        class: "before-after",
        style: { display: "grid", gridTemplateColumns: "1fr 1fr", gap: "8px" },
      },
      h(
        "figure",
        { style: { margin: "0" } },
        checkPicture(latest.before_url, "Before: the event's snapshot", "No snapshot"),
        h("figcaption", { class: "muted" }, "Before"),
      ),
      h(
        "figure",
        { style: { margin: "0" } },
        checkPicture(
          latest.after_url,
          "After: what the camera saw when it looked again",
          latest.state === "pending" ? "Not looked yet" : "No picture",
        ),
        h("figcaption", { class: "muted" }, "After"),
      ),
    ),
    checks.length > 1
      ? h("p", { class: "muted" }, `${checks.length - 1} earlier check(s) in the history.`)
      : null,
  );
}

function eventCard(ev, withClip) {
  const snap = ev.snapshot_url
    ? h(
        "div",
        { class: "media-frame" },
        showMedia(
          h("img", { alt: `Snapshot of event ${ev.event_id}`, loading: "lazy" }),
          ev.snapshot_url,
        ),
        boxNode(ev),
      )
    : h("div", { class: "media-frame" }, h("div", { class: "media-missing" }, "No snapshot"));
  const card = h(
    "div",
    { class: "event-card", dataset: { eventId: ev.event_id } },
    snap,
    h(
      "div",
      {},
      h("strong", {}, eventTypeLabel(ev.type)),
      h("span", { class: "muted" }, ` · ${Math.round(ev.confidence * 100)}% · ${ev.phase}`),
      h(
        "div",
        { class: "muted", style: { fontSize: "12px", marginTop: "4px" } },
        `${ref.cameraName(ev.camera_id)} · ${ev.zone_id ? `zone ${ev.zone_id} · ` : ""}${fmtAgo(ev.detected_at)}`,
      ),
      h("div", { class: "mono muted", style: { marginTop: "4px" } }, ev.event_id),
    ),
  );
  if (withClip && ev.clip_url) {
    const video = clipVideo(ev);
    return h("div", {}, card, h("div", { style: { marginTop: "8px" } }, video));
  }
  return card;
}

function boxNode(ev) {
  if (!ev.image_box || ev.image_box.length !== 4) return null;
  const [x1, y1, x2, y2] = ev.image_box;
  return h("div", {
    class: "bbox",
    "aria-hidden": "true",
    style: {
      left: `${x1 * 100}%`,
      top: `${y1 * 100}%`,
      width: `${(x2 - x1) * 100}%`,
      height: `${(y2 - y1) * 100}%`,
      boxShadow: "0 0 0 1px rgba(0,0,0,.6)",
    },
  });
}

// -- actions --------------------------------------------------------------------

function actionButtons(t, options) {
  // Central says what this operator may do now (its transition table and roles).
  const can = (action) => Array.isArray(t.actions) && t.actions.includes(action);
  const btn = (label, cls, iconName, run, id) =>
    h(
      "button",
      { class: `btn ${cls}`, type: "button", id, onclick: () => run(t, options) },
      iconName ? icon(iconName) : null,
      label,
    );
  return [
    can("close") ? btn("Verify & close", "btn-success", "check", doClose, "action-close") : null,
    can("return") ? btn("Return for rework", "", null, doReturn, "action-return") : null,
    can("confirm")
      ? btn("Confirm & dispatch", "btn-success", "check", doConfirm, "action-confirm")
      : null,
    can("reassign") ? btn("Reassign", "", null, doReassign, "action-reassign") : null,
    can("escalate") ? btn("Escalate", "", "arrowUp", doEscalate, "action-escalate") : null,
    can("reject") ? btn("Reject", "btn-danger", "x", doReject, "action-reject") : null,
  ].filter(Boolean);
}

async function act(t, options, path, body, doneText) {
  options.context.acted(t.id);
  const result = await api(`/tickets/${t.id}/${path}`, { method: "POST", json: body });
  toast(`#${t.id} ${t.title}`, { title: doneText, kind: "success" });
  announce(`Ticket ${t.id}: ${doneText}`);
  options.onChanged?.();
  refresh();
  options.context.refreshBadge();
  return result;
}

function doClose(t, options) {
  const note = h("textarea", {
    class: "input",
    name: "note",
    rows: 3,
    placeholder: "What you checked (optional)",
    maxlength: 2000,
  });
  return dialog({
    title: `Verify & close #${t.id}`,
    submitLabel: "Close ticket",
    submitClass: "btn-success",
    body: h(
      "div",
      {},
      t.resolution_note
        ? h("p", {}, h("span", { class: "muted" }, "Worker's note: "), t.resolution_note)
        : null,
      field("Verification note", note),
    ),
    onSubmit: () =>
      act(t, options, "close", { note: note.value.trim() || null }, "Verified and closed"),
  });
}

function doReturn(t, options) {
  const reason = h("textarea", {
    class: "input",
    name: "reason",
    rows: 3,
    required: true,
    placeholder: "What still needs doing",
    maxlength: 2000,
  });
  return dialog({
    title: `Return #${t.id} for rework`,
    submitLabel: "Return to worker",
    body: field("Reason", reason, `The worker ${ref.workerName(t.assignee_id) || ""} is told why.`),
    onSubmit: () => {
      if (!reason.value.trim()) throw new Error("Say what still needs doing.");
      return act(t, options, "return", { reason: reason.value.trim() }, "Returned for rework");
    },
  });
}

async function workerOptions(gridCode, { automatic }) {
  const workers = (await ref.workers()).filter((w) => w.active);
  const covering = workers.filter((w) => gridCode && w.areas.some((a) => gridCode.startsWith(a)));
  const others = workers.filter((w) => !covering.includes(w));
  const opt = (w) => ({
    value: w.id,
    label: `${w.name} · ${w.id}${w.on_duty ? "" : " (off duty)"} · ${w.open_tickets} open`,
  });
  const options = [{ value: "", label: automatic }];
  if (covering.length) options.push({ group: "Covering this grid", options: covering.map(opt) });
  if (others.length) options.push({ group: "Other workers", options: others.map(opt) });
  return options;
}

async function doConfirm(t, options) {
  const sel = select(
    await workerOptions(t.grid_code, {
      automatic: t.grid_code ? "On-duty worker of the grid" : "Choose a worker…",
    }),
    { label: "Worker" },
  );
  return dialog({
    title: `Confirm & dispatch #${t.id}`,
    submitLabel: "Dispatch",
    submitClass: "btn-success",
    body: field("Dispatch to", sel),
    onSubmit: () => {
      if (!sel.value && !t.grid_code) throw new Error("The ticket has no grid: choose a worker.");
      return act(
        t,
        options,
        "confirm",
        sel.value ? { worker_id: sel.value } : {},
        "Confirmed and dispatched",
      );
    },
  });
}

async function doReassign(t, options) {
  const sel = select(
    await workerOptions(t.grid_code, { automatic: "Next on-duty worker of the grid" }),
    { label: "Worker" },
  );
  const { fields: gridFields, grid } = await gridChooser({
    label: "Move to grid",
    none: t.grid_code ? "Keep the grid" : "No grid",
  });
  const note = h("input", {
    class: "input",
    name: "note",
    placeholder: "Why (optional)",
    maxlength: 2000,
  });
  return dialog({
    title: `Reassign #${t.id}`,
    submitLabel: "Reassign",
    submitClass: "btn-primary",
    body: h(
      "div",
      {},
      field(
        "Worker",
        sel,
        t.assignee_id ? `Now: ${ref.workerName(t.assignee_id)} (${t.assignee_id})` : null,
      ),
      ...gridFields,
      field("Note", note),
    ),
    onSubmit: () => {
      const body = {
        worker_id: sel.value || null,
        grid_code: grid.value || null,
        note: note.value.trim() || null,
      };
      if (!body.worker_id && !body.grid_code && !t.grid_code)
        throw new Error("The ticket has no grid: choose a worker or a grid.");
      return act(t, options, "reassign", body, "Reassigned");
    },
  });
}

function doEscalate(t, options) {
  const levels = [1, 2, 3].filter((l) => l > t.escalation_level);
  const level = select(
    levels.map((l) => ({ value: String(l), label: `L${l} · ${ESCALATION_LABELS[l]}` })),
    { label: "Level" },
  );
  const note = h("textarea", {
    class: "input",
    name: "note",
    rows: 3,
    placeholder: "Why it needs attention",
    maxlength: 2000,
  });
  return dialog({
    title: `Escalate #${t.id}`,
    submitLabel: "Escalate",
    submitClass: "btn-danger",
    body: h(
      "div",
      {},
      field(
        "Escalate to",
        level,
        "L1 notifies the grid leaders, L2 the street's workers, L3 the handling department.",
      ),
      field("Reason", note),
    ),
    onSubmit: () => {
      if (!note.value.trim()) throw new Error("Say why it is escalated.");
      return act(
        t,
        options,
        "escalate",
        { level: Number(level.value), note: note.value.trim() },
        `Escalated to L${level.value}`,
      );
    },
  });
}

function doReject(t, options) {
  const reason = select(
    [...REJECT_REASONS.map((r) => ({ value: r, label: r })), { value: "__other", label: "Other…" }],
    { label: "Reason" },
  );
  const other = h("input", {
    class: "input",
    name: "other",
    placeholder: "Describe why",
    maxlength: 2000,
  });
  return dialog({
    title: `Reject #${t.id}`,
    submitLabel: "Reject",
    submitClass: "btn-danger",
    body: h("div", {}, field("Reason", reason), field("Other reason", other)),
    onSubmit: () => {
      const text = reason.value === "__other" ? other.value.trim() : reason.value;
      if (!text) throw new Error("Write the reason.");
      return act(t, options, "reject", { reason: text }, "Rejected");
    },
  });
}
