// The public citizen page: report a problem without an account, then follow it
// with the private link. The link's token lives in the URL fragment (#track=…),
// which browsers never send, and goes to central only in the X-Tracking-Token
// header. Photos are scaled down and re-encoded here (a canvas keeps no EXIF or
// GPS data); central re-encodes them again and blurs faces.

import { ApiError, apiFetch, detailText } from "/common/api-fetch.js";

const API = "/api/v1/citizen";
const MAX_SIDE_PX = 1600;
const MAX_PHOTO_BYTES = 900 * 1024; // the whole report must stay under 1 MiB
const TOKEN_HEADER = "X-Tracking-Token";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function unreachable() {
  return new ApiError(0, null, "The city's server cannot be reached. Check your connection and try again.");
}

async function call(path, { method = "GET", form } = {}) {
  return apiFetch(`${API}${path}`, { method, form, cache: "no-store" }, unreachable);
}

/** fetch with the tracking header (apiFetch sends only bearer headers). */
async function tracked(path, token, { method = "GET", json } = {}) {
  const headers = { Accept: "application/json", [TOKEN_HEADER]: token };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, { method, headers, body, cache: "no-store" });
  } catch {
    throw unreachable();
  }
  return read(response);
}

async function read(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.detail, sentence(response.status, body?.detail));
  }
  return body;
}

function sentence(status, detail) {
  if (status === 429) return "Too many requests from your connection. Please wait a while and try again.";
  if (status === 413) return "The report is too large. Choose a smaller photo.";
  if (status === 404) return "This link does not match any report. Check that it was copied whole.";
  return detailText(detail) || `Something went wrong (HTTP ${status}).`;
}

function showError(node, error) {
  node.textContent = error instanceof ApiError ? error.message : String(error?.message || error);
  node.hidden = false;
}

function fmt(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// -- report -------------------------------------------------------------------------

let categories = [];
let photoBlob = null;
let position = null;
let marker = null;
let map = null;

function renderCategories() {
  const select = $("category");
  const query = $("cat-search").value.trim().toLowerCase();
  const chosen = select.value;
  select.replaceChildren();
  const match = (c) =>
    !query || [c.label, c.category_name, c.key].some((s) => s.toLowerCase().includes(query));
  const common = categories.filter((c) => c.common && match(c));
  const rest = categories.filter((c) => !c.common && match(c));
  const option = (c) => el("option", { value: c.key, selected: c.key === chosen }, `${c.label} · ${c.category_name}`);
  if (common.length) select.append(el("optgroup", { label: "Often reported" }, common.map(option)));
  if (rest.length) select.append(el("optgroup", { label: common.length ? "All others" : "Categories" }, rest.map(option)));
  if (!common.length && !rest.length) select.append(el("option", { value: "", disabled: true }, "No category matches"));
}

async function loadCategories() {
  const body = await read(await call("/categories"));
  categories = body.data;
  renderCategories();
}

function setPosition(lat, lon, how) {
  position = { lat, lon };
  $("position").textContent = `Place: ${lat.toFixed(5)}, ${lon.toFixed(5)} (${how})`;
  if (map && window.L) {
    if (marker) marker.setLatLng([lat, lon]);
    else marker = window.L.circleMarker([lat, lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 }).addTo(map);
  }
}

async function loadMap() {
  const area = await read(await call("/area"));
  const box = $("map");
  if (!window.L || !area.bbox) {
    box.textContent = "The map is not available; use your location instead.";
    return;
  }
  const L = window.L;
  map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
  const [west, south, east, north] = area.bbox;
  map.fitBounds([[south, west], [north, east]], { padding: [12, 12] });
  L.geoJSON(area, { style: { color: "#0b4a86", weight: 1, fillColor: "#9cc3ea", fillOpacity: 0.25 }, interactive: false }).addTo(map);
  map.on("click", (event) => setPosition(event.latlng.lat, event.latlng.lng, "tapped on the map"));
  requestAnimationFrame(() => map.invalidateSize());
}

function locate() {
  if (!navigator.geolocation) {
    $("position").textContent = "Your browser cannot share its location: tap the map instead.";
    return;
  }
  $("position").textContent = "Finding your location…";
  navigator.geolocation.getCurrentPosition(
    (p) => {
      setPosition(p.coords.latitude, p.coords.longitude, "your location");
      map?.setView([p.coords.latitude, p.coords.longitude], Math.max(map.getZoom(), 16));
    },
    () => {
      $("position").textContent = "Your location is not available: tap the map instead.";
    },
    { enableHighAccuracy: true, timeout: 15000 },
  );
}

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
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= MAX_PHOTO_BYTES) return blob;
  }
  throw new Error("The photo is too large even when made smaller. Try another one.");
}

async function onPhoto() {
  const file = $("photo").files?.[0];
  const preview = $("photo-preview");
  photoBlob = null;
  preview.hidden = true;
  $("report-error").hidden = true;
  if (!file) return;
  try {
    photoBlob = await shrink(file);
    preview.src = URL.createObjectURL(photoBlob);
    preview.hidden = false;
  } catch (error) {
    showError($("report-error"), error);
  }
}

async function submit(event) {
  event.preventDefault();
  const errorEl = $("report-error");
  errorEl.hidden = true;
  const matterKey = $("category").value;
  const description = $("description").value.trim();
  const problems = [];
  if (!matterKey) problems.push("choose a category");
  if (!position) problems.push("choose the place (your location or a tap on the map)");
  if (!description) problems.push("describe the problem");
  if (problems.length) {
    showError(errorEl, `Please ${problems.join(", ")}.`);
    return;
  }
  const form = new FormData();
  form.append("matter_key", matterKey);
  form.append("description", description);
  form.append("lat", String(position.lat));
  form.append("lon", String(position.lon));
  const contact = $("contact").value.trim();
  if (contact) form.append("contact", contact);
  if (photoBlob) form.append("photo", photoBlob, "photo.jpg");
  const button = $("submit");
  button.disabled = true;
  button.textContent = "Sending…";
  try {
    const body = await read(await call("/reports", { method: "POST", form }));
    showSent(body);
  } catch (error) {
    showError(errorEl, error);
  } finally {
    button.disabled = false;
    button.textContent = "Send report";
  }
}

function showSent(body) {
  const url = new URL(body.tracking_url, location.origin).href;
  $("report-form").hidden = true;
  $("sent-reference").textContent = String(body.reference);
  $("sent-link").textContent = url;
  $("sent-link").href = url;
  $("follow-link").href = url;
  $("sent").hidden = false;
  $("sent").focus();
  $("copy-link").onclick = async () => {
    try {
      await navigator.clipboard.writeText(url);
      $("copy-link").textContent = "Copied";
    } catch {
      $("copy-link").textContent = "Select the link to copy it";
    }
  };
}

// -- track --------------------------------------------------------------------------

const RATING_WORDS = {
  satisfied: "Satisfied",
  basically_satisfied: "Basically satisfied",
  dissatisfied: "Dissatisfied",
};

function renderTracking(t) {
  const body = $("track-body");
  body.replaceChildren(
    el(
      "div",
      { class: "card" },
      el("p", { class: "muted" }, `Case ${t.reference} · ${t.category} · sent ${fmt(t.submitted_at)}`),
      el("p", { class: `status status-${t.state}`, id: "track-status" }, t.status),
      t.reason ? el("p", {}, `Reason: ${t.reason}`) : null,
      el("p", { class: "quote" }, t.description),
      el("h2", {}, "Progress"),
      el("ol", { class: "steps", id: "track-steps" }, t.steps.map((s) => el("li", {}, el("span", { class: "when" }, fmt(s.at)), " ", s.words))),
      t.rating
        ? el("p", { id: "track-rating" }, `Your rating: ${RATING_WORDS[t.rating] || t.rating}${t.rating_comment ? ` (“${t.rating_comment}”)` : ""}`)
        : null,
    ),
  );
  $("rate-form").hidden = !t.can_rate;
  $("reopen-form").hidden = !t.can_reopen;
  if (t.reopen_until) $("reopen-until").textContent = `You can reopen it until ${fmt(t.reopen_until)}.`;
}

async function track(token) {
  $("track-error").hidden = true;
  try {
    renderTracking(await tracked("/track", token));
  } catch (error) {
    showError($("track-error"), error);
  }
}

let currentToken = null;

function wireTracking() {
  $("rate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const rating = new FormData($("rate-form")).get("rating");
    if (!rating) return showError($("track-error"), new Error("Choose how satisfied you are."));
    try {
      const comment = $("rate-comment").value.trim();
      renderTracking(await tracked("/track/rating", currentToken, { method: "POST", json: { rating, comment } }));
    } catch (error) {
      showError($("track-error"), error);
    }
  });
  $("reopen-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = $("reopen-reason").value.trim();
    if (!reason) return showError($("track-error"), new Error("Say what is still wrong."));
    try {
      renderTracking(await tracked("/track/reopen", currentToken, { method: "POST", json: { reason } }));
    } catch (error) {
      showError($("track-error"), error);
    }
  });
}

// -- start --------------------------------------------------------------------------

function tokenOfHash() {
  const match = /^#track=([A-Za-z0-9_-]{16,200})$/.exec(location.hash);
  return match ? match[1] : null;
}

function route() {
  currentToken = tokenOfHash();
  $("view-report").hidden = Boolean(currentToken);
  $("view-track").hidden = !currentToken;
  if (currentToken) track(currentToken);
  else map?.invalidateSize();
}

async function start() {
  wireTracking();
  window.addEventListener("hashchange", route);
  route();
  $("cat-search").addEventListener("input", renderCategories);
  $("photo").addEventListener("change", onPhoto);
  $("locate").addEventListener("click", locate);
  $("report-form").addEventListener("submit", submit);
  try {
    await loadCategories();
    await loadMap();
  } catch (error) {
    showError($("report-error"), error);
  }
}

start();
