// What the phone keeps in IndexedDB until it can be sent (photos as Blobs):
// patrol reports made without a connection, and ticket actions (accept,
// resolve) made or failed offline. Each is stored under the key central dedupes
// on (a report's client key, an action's Idempotency-Key), so it is queued once
// and acts once however often it is sent. Each is kept with the login that made
// it and sent only under that login: it is the worker's own, even on a phone two
// workers share.
const DB_NAME = "gridwatch-worker";
// 1: patrol reports; 2: + ticket actions (the reports store is kept as it is).
const DB_VERSION = 2;
const REPORTS = "patrol-outbox";
const ACTIONS = "action-outbox";
const listeners = new Set();

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of [REPORTS, ACTIONS]) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, { keyPath: "key" });
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close(); // a newer release upgrading in another tab
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("close the other gridwatch tabs to update this one"));
  });
}

async function run(storeName, mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = work(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

function changed() {
  for (const listener of listeners) listener();
}

/** Call `listener` whenever a queue changes. */
export function onChange(listener) {
  listeners.add(listener);
}

/** A fresh key for a report or an action (a UUID where the browser has it). */
export function mintKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// -- patrol reports ------------------------------------------------------------------

/** Keep a report (plain fields and Blobs) of `owner` (a username) to send later. */
export async function add(report, owner) {
  await run(REPORTS, "readwrite", (store) => store.put({ key: report.client_key, owner, report, queuedAt: Date.now() }));
  changed();
}

/** The items {key, owner, report, queuedAt} of `owner`, oldest first. */
export async function all(owner) {
  if (typeof indexedDB === "undefined") return [];
  const items = (await run(REPORTS, "readonly", (store) => store.getAll())) || [];
  return items.filter((item) => item.owner === owner).sort((a, b) => a.queuedAt - b.queuedAt);
}

export async function count(owner) {
  return (await all(owner)).length;
}

export async function remove(key) {
  await run(REPORTS, "readwrite", (store) => store.delete(key));
  changed();
}

// -- ticket actions ------------------------------------------------------------------

/** Keep (or update) an action {key, owner, ticketId, action, note, photo,
 * queuedAt, status: "waiting" | "refused", error, refusedAt}. */
export async function putAction(item) {
  await run(ACTIONS, "readwrite", (store) => store.put(item));
  changed();
}

/** The actions of `owner`, in the order they were made. */
export async function actions(owner) {
  if (typeof indexedDB === "undefined") return [];
  const items = (await run(ACTIONS, "readonly", (store) => store.getAll())) || [];
  return items.filter((item) => item.owner === owner).sort((a, b) => a.queuedAt - b.queuedAt);
}

export async function removeAction(key) {
  await run(ACTIONS, "readwrite", (store) => store.delete(key));
  changed();
}
