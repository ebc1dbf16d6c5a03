// Report what I find (网格员巡查上报): a category from the matter list, photos
// (scaled and re-encoded here through a canvas, so no EXIF or GPS data leaves
// the phone; central re-encodes them again and blurs faces), a note, the place
// (the phone's location, a tap on the map or typed), and who handles it: the
// matter list (dispatch) or me, now (一格解决). Each report carries a key minted
// when the form is started, so sending it again (a retry, the offline queue)
// opens one ticket, not two.
import * as api from "./api.js";
import { pickPointMap } from "./map.js";
import * as outbox from "./outbox.js";

const MAX_SIDE_PX = 1600;
const MAX_PHOTO_BYTES = 900 * 1024;

let kit = null; // from app.js: { toast, announce, gridsFor, me, onSent }
let categories = null;
let draft = null; // { key, photo: Blob | null, after: Blob | null }
let picker = null;

const $ = (id) => document.getElementById(id);

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The login whose reports the queue sends now. */
function owner() {
  return api.loadSession()?.username || "";
}

function freshDraft() {
  draft = { key: newKey(), photo: null, after: null };
  return draft;
}

/** Wire the form once; `options` are app.js's helpers. */
export function initReport(options) {
  kit = options;
  $("report-form").addEventListener("submit", submit);
  $("report-search").addEventListener("input", renderCategories);
  $("report-locate").addEventListener("click", locate);
  $("report-photo").addEventListener("change", () => onPhoto("photo", "report-photo", "report-photo-preview"));
  $("report-after").addEventListener("change", () => onPhoto("after", "report-after", "report-after-preview"));
  for (const radio of document.querySelectorAll('input[name="handling"]')) {
    radio.addEventListener("change", () => ($("report-self").hidden = !$("handling-self").checked));
  }
  for (const id of ["report-lat", "report-lon"]) {
    $(id).addEventListener("change", () => {
      const where = typedPosition();
      if (where) picker?.setPoint(where);
    });
  }
  outbox.onChange(showQueue);
  window.addEventListener("online", () => sendQueued());
}

/** Show the form (a new draft unless one is being written). */
export async function openReport() {
  if (!draft) freshDraft();
  $("report-error").hidden = true;
  $("report-title").focus({ preventScroll: false });
  showQueue();
  sendQueued();
  drawMap();
  if (!typedPosition()) locate();
  try {
    await loadCategories();
  } catch (err) {
    showError(err.message || String(err));
  }
}

/** Forget the draft and what the form shows (logging out: the next worker on
 * this phone starts empty). */
export function forgetReport() {
  draft = null;
  $("report-form").reset();
  $("report-self").hidden = true;
  for (const id of ["report-photo-preview", "report-after-preview", "report-sent", "report-queue", "report-error"]) {
    $(id).hidden = true;
  }
}

export function closeReport() {
  picker?.free();
  picker = null;
}

// -- categories ----------------------------------------------------------------------

async function loadCategories() {
  if (!categories) {
    const body = await api.request("/citizen/categories", { doing: "load the categories" });
    categories = body.data;
  }
  renderCategories();
}

function renderCategories() {
  const select = $("report-category");
  if (!categories) return;
  const query = $("report-search").value.trim().toLowerCase();
  const chosen = select.value;
  const match = (c) => !query || [c.label, c.category_name, c.category_code, c.key].some((s) => s.toLowerCase().includes(query));
  const option = (c) => {
    const node = document.createElement("option");
    node.value = c.key;
    node.textContent = `${c.label} · ${c.category_name}`;
    node.selected = c.key === chosen;
    return node;
  };
  const group = (label, items) => {
    const node = document.createElement("optgroup");
    node.label = label;
    node.append(...items.map(option));
    return node;
  };
  const common = categories.filter((c) => c.common && match(c));
  const rest = categories.filter((c) => !c.common && match(c));
  select.replaceChildren();
  if (!chosen || ![...common, ...rest].some((c) => c.key === chosen)) {
    // Nothing picked yet: say so rather than preselect a category by accident.
    const prompt = option({ key: "", label: "Choose a category", category_name: "请选择" });
    prompt.selected = true;
    select.append(prompt);
  }
  if (common.length) select.append(group("Often reported 常见", common));
  if (rest.length) select.append(group(common.length ? "All others" : "Categories", rest));
  if (!common.length && !rest.length) {
    const none = option({ key: "", label: "No category matches", category_name: "—" });
    none.disabled = true;
    select.append(none);
  }
}

// -- place ---------------------------------------------------------------------------

function typedPosition() {
  const lat = Number.parseFloat($("report-lat").value);
  const lon = Number.parseFloat($("report-lon").value);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [lat, lon];
}

function setPosition(lat, lon, how) {
  $("report-lat").value = lat.toFixed(6);
  $("report-lon").value = lon.toFixed(6);
  $("report-where").textContent = `Place set from ${how}. Tap the map or change the numbers to move it.`;
  picker?.setPoint([lat, lon]);
}

function locate() {
  if (!navigator.geolocation) {
    $("report-where").textContent = "This phone cannot share its location: tap the map or type the position.";
    return;
  }
  $("report-where").textContent = "Finding your location…";
  navigator.geolocation.getCurrentPosition(
    (p) => setPosition(p.coords.latitude, p.coords.longitude, "your location"),
    () => {
      $("report-where").textContent = "Your location is not available: tap the map or type the position.";
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
  );
}

async function drawMap() {
  closeReport();
  const box = $("report-map");
  box.replaceChildren();
  const areas = kit.me()?.areas || [];
  const prefixes = [...new Set(areas.map((code) => code.slice(0, Math.min(code.length, 12))))];
  const features = [];
  for (const prefix of prefixes) {
    try {
      const found = await kit.gridsFor(prefix);
      features.push(...(found?.features || []));
    } catch {
      // no map offline: the typed position still works
    }
  }
  if (document.body.dataset.view !== "report" || picker) return;
  picker = pickPointMap(box, { type: "FeatureCollection", features }, typedPosition(), (lat, lon) =>
    setPosition(lat, lon, "the map"),
  );
}

// -- photos --------------------------------------------------------------------------

/** Scale to at most MAX_SIDE_PX and re-encode as JPEG (no EXIF survives a canvas),
 * lowering the quality until it fits. */
async function shrink(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, MAX_SIDE_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close?.();
  for (const quality of [0.85, 0.75, 0.6, 0.45]) {
    const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", quality));
    if (blob && blob.size <= MAX_PHOTO_BYTES) return blob;
  }
  throw new Error("The photo is too large even when made smaller. Try another one.");
}

async function onPhoto(slot, inputId, previewId) {
  const file = $(inputId).files?.[0];
  const preview = $(previewId);
  draft[slot] = null;
  preview.hidden = true;
  $("report-error").hidden = true;
  if (!file) return;
  try {
    draft[slot] = await shrink(file);
    preview.src = URL.createObjectURL(draft[slot]);
    preview.hidden = false;
  } catch (err) {
    showError(err.message || "That file is not a photo. Choose a JPEG, PNG or WebP image.");
  }
}

// -- sending -------------------------------------------------------------------------

function showError(text) {
  const box = $("report-error");
  box.textContent = text;
  box.hidden = !text;
  if (text) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

/** The report as plain fields (what the queue keeps), or the problems. */
function readForm() {
  const handleSelf = $("handling-self").checked;
  const where = typedPosition();
  const problems = [];
  if (!$("report-category").value) problems.push("choose a category");
  if (!where) problems.push("set the place (your location, a tap on the map, or the numbers)");
  if (handleSelf && !$("report-done").value.trim()) problems.push("say what you did");
  if (handleSelf && !draft.after) problems.push("add a photo of the result");
  if (problems.length) return { problems };
  return {
    report: {
      client_key: draft.key,
      matter_key: $("report-category").value,
      description: $("report-note").value.trim(),
      lat: String(where[0]),
      lon: String(where[1]),
      handling: handleSelf ? "self" : "dispatch",
      resolution_note: handleSelf ? $("report-done").value.trim() : "",
      photo: draft.photo,
      after_photo: handleSelf ? draft.after : null,
    },
  };
}

function toForm(report) {
  const form = new FormData();
  for (const [name, value] of Object.entries(report)) {
    if (value instanceof Blob) form.append(name, value, `${name}.jpg`);
    else if (value !== null && value !== undefined && value !== "") form.append(name, value);
  }
  return form;
}

/** Send one report; the answer, or an ApiError (status 0: not sent). */
export function send(report) {
  return api.request("/patrol/reports", { method: "POST", form: toForm(report), doing: "send the report" });
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const { report, problems } = readForm();
  if (problems) {
    showError(`Please ${problems.join(", ")}.`);
    return;
  }
  const button = $("report-submit");
  button.disabled = true;
  button.classList.add("is-busy");
  try {
    const answer = await send(report);
    sent(answer);
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 0) {
      await outbox.add(report, owner());
      resetForm();
      kit.toast("No connection: the report is kept on this phone and sent when you are back online.", { kind: "warn", key: "report-queued" });
    } else {
      showError(err.message);
    }
  } finally {
    button.disabled = false;
    button.classList.remove("is-busy");
  }
}

function resetForm() {
  freshDraft();
  const where = typedPosition(); // the next case is likely close by
  $("report-form").reset();
  if (where) [$("report-lat").value, $("report-lon").value] = where.map((v) => v.toFixed(6));
  $("report-self").hidden = true;
  for (const id of ["report-photo-preview", "report-after-preview"]) $(id).hidden = true;
  renderCategories();
}

function sentWords(ticket) {
  const me = kit.me()?.worker_id;
  if (ticket.state === "resolved" && ticket.assignee_id === me) {
    return "you handled it; it waits for the operator's check";
  }
  if (ticket.state === "pending_review") return "it waits for an operator";
  if (ticket.assignee_id === me) return "it was dispatched to you";
  return `it was dispatched to worker ${ticket.assignee_id}`;
}

function sent(answer) {
  const ticket = answer.ticket;
  const box = $("report-sent");
  const text = answer.merged
    ? `Already reported: your report joined case #${ticket.id} (one ticket per problem).`
    : `Case #${ticket.id} reported: ${sentWords(ticket)}.`;
  box.replaceChildren(document.createTextNode(`${text} `));
  if (ticket.assignee_id === kit.me()?.worker_id) {
    const link = document.createElement("a");
    link.href = `#/ticket/${ticket.id}`;
    link.className = "link";
    link.textContent = "Open it";
    box.append(link);
  }
  box.hidden = false;
  resetForm();
  kit.announce(text);
  kit.onSent();
  box.scrollIntoView({ block: "nearest" });
}

// -- the offline queue ---------------------------------------------------------------

async function showQueue() {
  const count = await outbox.count(owner());
  const box = $("report-queue");
  box.textContent = count
    ? `${count} report${count === 1 ? "" : "s"} waiting on this phone for the connection. 待发送`
    : "";
  box.hidden = !count;
}

let sending = false;

/** Send what the queue holds, oldest first; each keeps its key, so a report
 * that reached central before the connection dropped is not opened twice. */
export async function sendQueued() {
  if (sending || !navigator.onLine || !api.token()) return;
  sending = true;
  try {
    for (const item of await outbox.all(owner())) {
      try {
        const answer = await send(item.report);
        await outbox.remove(item.report.client_key);
        kit.toast(`Queued report sent: case #${answer.ticket.id}.`, { kind: "ok", key: `queued-${item.report.client_key}` });
        kit.onSent();
      } catch (err) {
        if (err.status === 0 || err.status === 401 || err.status >= 500) break; // later
        await outbox.remove(item.report.client_key); // refused for good: say so
        kit.toast(`A queued report was refused: ${err.message}`, { kind: "warn", timeout: 0 });
      }
    }
  } finally {
    sending = false;
    showQueue();
  }
}
