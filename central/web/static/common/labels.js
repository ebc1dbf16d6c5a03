// Words for central's codes that both pages show the same way.

/** Event types (the contract's EventType values) as people read them. */
export const EVENT_TYPE_LABELS = {
  crowding: "Crowding",
  intrusion: "Intrusion",
  littering: "Littering",
  abandoned_object: "Abandoned object",
  fall: "Person fallen",
  presence: "Presence",
  illegal_parking: "Illegal parking",
};
