// Patrol reports made without a connection, kept in IndexedDB (photos as Blobs)
// until they can be sent. Each is stored under its client key, the key central
// dedupes on, so a report is queued once and opens one ticket however often it
// is sent. Each is kept with the login that made it and sent only under that
// login: a report is the worker's own, even on a phone two workers share.
const DB_NAME = "gridwatch-worker";
const STORE = "patrol-outbox";
const listeners = new Set();

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
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

/** Call `listener` whenever the queue changes. */
export function onChange(listener) {
  listeners.add(listener);
}

/** Keep a report (plain fields and Blobs) of `owner` (a username) to send later. */
export async function add(report, owner) {
  await run("readwrite", (store) => store.put({ key: report.client_key, owner, report, queuedAt: Date.now() }));
  changed();
}

/** The items {key, owner, report, queuedAt} of `owner`, oldest first. */
export async function all(owner) {
  if (typeof indexedDB === "undefined") return [];
  const items = (await run("readonly", (store) => store.getAll())) || [];
  return items.filter((item) => item.owner === owner).sort((a, b) => a.queuedAt - b.queuedAt);
}

export async function count(owner) {
  return (await all(owner)).length;
}

export async function remove(key) {
  await run("readwrite", (store) => store.delete(key));
  changed();
}
