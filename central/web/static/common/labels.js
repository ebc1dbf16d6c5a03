// Words for central's codes that both pages show the same way.

/** Event types as people read them: central's matter list says (GET
 * /api/v1/event-types, loaded once signed in); a type it does not name reads as
 * its name. Filled in place, so importers always see the latest words. */
export const EVENT_TYPE_LABELS = {};

/** Take the labels from central's `/event-types` answer (its `event_types`). */
export function setEventTypeLabels(eventTypes) {
  if (!Array.isArray(eventTypes)) return;
  for (const key of Object.keys(EVENT_TYPE_LABELS)) delete EVENT_TYPE_LABELS[key];
  for (const { type, label } of eventTypes) {
    if (typeof type === "string" && typeof label === "string" && label) EVENT_TYPE_LABELS[type] = label;
  }
}

/** "some_type" → "Some type": how a type without words from central reads. */
export function readableEventType(type) {
  const words = String(type).replaceAll("_", " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : String(type);
}

/** The label of an event type; "—" for none. */
export function eventTypeLabel(type) {
  if (type === null || type === undefined || type === "") return "—";
  return Object.hasOwn(EVENT_TYPE_LABELS, type) ? EVENT_TYPE_LABELS[type] : readableEventType(type);
}
