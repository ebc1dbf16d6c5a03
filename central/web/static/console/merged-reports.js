// One ticket per problem: the reports that joined a ticket (patrol, citizen,
// Open311) and, for a wrong merge, "Split off" into a ticket of its own
// (docs/citizens.md, One ticket per problem).

import { api, showMedia } from "./api.js";
import { SOURCE_LABELS, announce, dialog, field, fmtFull, h, labelOf, toast } from "./ui.js";

/** The ticket's merged reports; the section removes itself when there are none. */
export function mergedReportsSection(t, { onSplit }) {
  const list = h("ol", { class: "merged-reports" });
  const status = h("p", { class: "muted" }, "Loading reports…");
  const section = h(
    "section",
    { class: "drawer-section", id: "merged-reports", "aria-label": "Merged reports" },
    h("h3", {}, "Merged reports"),
    status,
    list,
  );
  api(`/tickets/${t.id}/merges`)
    .then(({ items }) => {
      if (!items.length) {
        section.remove();
        return;
      }
      section.querySelector("h3").textContent = `Merged reports (${items.length})`;
      status.textContent =
        "Reports of the same matter near this place joined this ticket. Split off one that is a different problem.";
      list.append(...items.map((m) => mergedItem(t, m, onSplit)));
    })
    .catch((error) => {
      status.textContent = `Could not load the merged reports: ${error.message}`;
      status.className = "form-error";
    });
  return section;
}

function mergedItem(t, m, onSplit) {
  const outcome = m.split_ticket_id
    ? h(
        "p",
        { class: "muted", dataset: { splitInto: String(m.split_ticket_id) } },
        `Split off into #${m.split_ticket_id} by ${m.split_by} · ${fmtFull(m.split_at)}`,
      )
    : h(
        "button",
        {
          class: "btn",
          type: "button",
          dataset: { mergeId: String(m.id) },
          "aria-label": `Split off merged report ${m.id}: ${m.title}`,
          onclick: () => doSplit(t, m, onSplit),
        },
        "Split off",
      );
  return h(
    "li",
    { class: "merged-report", dataset: { mergeId: String(m.id), source: m.source } },
    h("strong", {}, labelOf(SOURCE_LABELS, m.source)),
    h("span", { class: "muted" }, ` · ${Math.round(m.distance_m)} m away · ${fmtFull(m.merged_at)}`),
    h("div", {}, m.title),
    m.description && m.description !== m.title
      ? h("p", { class: "description" }, m.description)
      : null,
    m.photo_url
      ? showMedia(
          h("img", { alt: `Photo of merged report ${m.id}`, loading: "lazy", style: { width: "100%" } }),
          m.photo_url,
        )
      : null,
    outcome,
  );
}

function doSplit(t, m, onSplit) {
  const reason = h("textarea", {
    class: "input",
    name: "reason",
    rows: 3,
    required: true,
    placeholder: "Why it is a different problem",
    maxlength: 500,
  });
  return dialog({
    title: `Split report ${m.id} off #${t.id}`,
    submitLabel: "Split off",
    submitClass: "btn-primary",
    body: field(
      "Reason",
      reason,
      "The report becomes a ticket of its own, with its reporter; the audit log records it.",
    ),
    onSubmit: async () => {
      if (!reason.value.trim()) throw new Error("Say why the merge is wrong.");
      const result = await api(`/tickets/${t.id}/split`, {
        method: "POST",
        json: { merge_id: m.id, reason: reason.value.trim() },
      });
      const own = result.split_ticket;
      toast(`#${own.id} ${own.title}`, { title: "Split off into a new ticket", kind: "success" });
      announce(`Report ${m.id} split off ticket ${t.id} into ticket ${own.id}`);
      onSplit();
      return result;
    },
  });
}
