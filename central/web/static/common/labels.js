// Words for central's codes that both pages show the same way.

/** Event type → label, from central's matter list (GET /api/v1/event-types,
 * loaded once signed in). A type it does not name reads as its name. */
const eventTypeLabels = new Map();

/** Take the labels from central's `/event-types` answer (its `event_types`). */
export function setEventTypeLabels(eventTypes) {
  if (!Array.isArray(eventTypes)) return;
  eventTypeLabels.clear();
  for (const { type, label } of eventTypes) {
    if (typeof type === "string" && typeof label === "string" && label) eventTypeLabels.set(type, label);
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
  return eventTypeLabels.get(type) ?? readableEventType(type);
}
