// Ticket actions (accept, resolve with its note and photo) made without a
// connection, or whose sending failed on the network: kept on the phone
// (outbox.js, the photo as a Blob) and sent when the connection returns or the
// app starts, oldest first, so a ticket's accept goes before its resolve. Each
// carries an Idempotency-Key minted when the worker acted: an action that
// reached central before the connection dropped is answered as the first time,
// never done twice. A refusal (the ticket changed meanwhile: given to another
// worker, rejected, ...) is kept with the note and photo for the worker to read
// until they dismiss it.
import * as api from "./api.js";
import * as outbox from "./outbox.js";

const DOING = { accept: "accept the ticket", resolve: "resolve the ticket" };
export const ACTION_WORDS = { accept: "Accept", resolve: "Resolve" };

let kit = null; // from app.js: { toast, onSent(ticketId), onChange(items) }
let lastQueuedAt = 0;
let sending = null;

/** The login whose actions are kept and sent now. */
function owner() {
  return api.loadSession()?.username || "";
}

/** Wire the queue once; `options` are app.js's helpers. */
export function initActionQueue(options) {
  kit = options;
  outbox.onChange(async () => kit.onChange(await items()));
  window.addEventListener("online", () => sendQueuedActions());
}

/** This worker's kept actions, oldest first. */
export function items() {
  return outbox.actions(owner()).catch(() => []);
}

function toForm(item) {
  const form = new FormData();
  form.append("note", item.note);
  if (item.photo) form.append("photo", item.photo, item.photoName || "photo.jpg");
  return form;
}

function send(item) {
  return api.request(`/tickets/${item.ticketId}/${item.action}`, {
    method: "POST",
    form: item.action === "resolve" ? toForm(item) : undefined,
    headers: { "Idempotency-Key": item.key },
    doing: DOING[item.action],
  });
}

/** Not now (kept, sent later) rather than a refusal: no connection, the login
 * ended, a server fault, or the first sending still being handled. */
function isTransient(err) {
  if (err.status === 0 || err.status === 401 || err.status >= 500) return true;
  return err.status === 409 && /Idempotency-Key/.test(err.detail || "");
}

/**
 * Take `action` on ticket `ticketId`: sent now when the phone is online and
 * nothing of this ticket waits before it, else kept. Returns {answer} (central's
 * ticket) or {queued: true}; a refusal is thrown (an ApiError) as before.
 */
export async function perform(ticketId, action, { note = "", photo = null } = {}) {
  lastQueuedAt = Math.max(Date.now(), lastQueuedAt + 1); // keeps the order within a millisecond
  const item = {
    key: outbox.mintKey(),
    owner: owner(),
    ticketId,
    action,
    note,
    photo,
    photoName: photo?.name || "photo.jpg",
    queuedAt: lastQueuedAt,
    status: "waiting",
  };
  const before = (await items()).some((i) => i.ticketId === ticketId && i.status === "waiting");
  if (navigator.onLine && !before) {
    try {
      return { answer: await send(item) };
    } catch (err) {
      if (err.status !== 0) throw err;
    }
  }
  await outbox.putAction(item);
  if (navigator.onLine) sendQueuedActions();
  return { queued: true };
}

/** Send what is kept (one run at a time). */
export function sendQueuedActions() {
  if (!sending) sending = drain().finally(() => (sending = null));
  return sending;
}

/** Refused before `item` was made? Then `item` (made after it, e.g. a resolve
 * after its refused accept) is not sent either. */
function blockedBy(item, kept) {
  return kept.find(
    (other) =>
      other.ticketId === item.ticketId &&
      other.status === "refused" &&
      other.queuedAt < item.queuedAt &&
      other.refusedAt > item.queuedAt,
  );
}

async function drain() {
  if (!navigator.onLine || !api.token()) return;
  const kept = await items();
  for (const item of kept) {
    if (item.status !== "waiting") continue;
    const blocker = blockedBy(item, kept);
    if (blocker) {
      const error = `Not sent: the ${ACTION_WORDS[blocker.action].toLowerCase()} before it was refused.`;
      Object.assign(item, { status: "refused", error, refusedAt: Date.now() });
      await outbox.putAction(item);
      continue;
    }
    try {
      await send(item);
    } catch (err) {
      if (isTransient(err)) return; // later, in the same order
      Object.assign(item, { status: "refused", error: err.message, refusedAt: Date.now() });
      await outbox.putAction(item);
      kit.toast(`Your ${ACTION_WORDS[item.action].toLowerCase()} of ticket #${item.ticketId} made offline was refused: ${err.message}`, {
        kind: "warn",
        key: `queued-action-${item.key}`,
        timeout: 0,
      });
      continue;
    }
    await outbox.removeAction(item.key);
    kit.toast(`Sent: ${ACTION_WORDS[item.action].toLowerCase()} of ticket #${item.ticketId} made offline. 已发送`, {
      kind: "ok",
      key: `queued-action-${item.key}`,
    });
    kit.onSent(item.ticketId);
  }
}

/** Forget a refused action once the worker has read it. */
export function dismiss(key) {
  return outbox.removeAction(key);
}

/**
 * The ticket as the worker will have it once their waiting actions are sent:
 * its `actions` (what the page offers) follow the queue, its state stays
 * central's. A queued accept offers resolve; a queued resolve offers nothing.
 */
export function withQueued(ticket, kept) {
  const waiting = kept.filter((i) => i.ticketId === ticket.id && i.status === "waiting");
  let actions = ticket.actions || [];
  for (const item of waiting) {
    if (item.action === "accept" && actions.includes("accept")) actions = ["resolve"];
    else if (item.action === "resolve" && actions.includes("resolve")) actions = [];
  }
  return waiting.length ? { ...ticket, actions } : ticket;
}
