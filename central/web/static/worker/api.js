// The gridwatch central API as the worker terminal uses it: the token in
// localStorage, JSON requests with the bearer header, and errors in plain words.
import { ApiError, apiFetch, detailText } from "/common/api-fetch.js";
import { createMediaLinks } from "/common/media-links.js";

/** An API failure: `status` (0 when the network failed), `detail`, the server's
 * detail as text, and `message`, a sentence for the worker (`plainWords`). */
export { ApiError };
export const API = "/api/v1";
const STORE_KEY = "gridwatch.worker.session";

/** The saved session {token, username, expiresAt}, or null. */
export function loadSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (!saved || typeof saved.token !== "string") return null;
    if (saved.expiresAt && Date.parse(saved.expiresAt) <= Date.now()) return null;
    return saved;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  localStorage.setItem(STORE_KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(STORE_KEY);
}

export function token() {
  return loadSession()?.token ?? null;
}

const STATE_WORDS = {
  pending_review: "waiting for review",
  dispatched: "waiting to be accepted",
  accepted: "accepted (in progress)",
  resolved: "resolved",
  returned: "returned for rework",
  closed: "closed",
  rejected: "rejected",
};

function plainWords(status, detail, doing) {
  const what = doing ? `Could not ${doing}` : "Something went wrong";
  switch (status) {
    case 0:
      return `${what}: the server cannot be reached. Check your connection and try again.`;
    case 400:
    case 422:
      return `${what}: ${detail || "the request was not accepted"}.`;
    case 401:
      return "Your session has ended. Please log in again.";
    case 403:
      return `${what}: you are not allowed to do this${detail ? ` (${detail})` : ""}.`;
    case 404:
      if (/given to another worker/.test(detail || "")) return `${what}: the ticket was given to another worker meanwhile.`;
      return `${what}: this ticket no longer exists or is no longer assigned to you.`;
    case 409: {
      // "ticket 5 is accepted: cannot accept it (...)" → the state in words
      const now = /\bis (\w+): cannot/.exec(detail || "");
      const where = now && STATE_WORDS[now[1]] ? `: it is ${STATE_WORDS[now[1]]} now` : "";
      return `${what}: the ticket has changed meanwhile${where}. The latest state is shown.`;
    }
    case 413:
      return `${what}: the photo is too large. Choose a smaller photo.`;
    case 415:
      return `${what}: that file is not a photo the server accepts (JPEG, PNG or WebP).`;
    default:
      if (status >= 500) return `${what}: the server had a problem (${status}). Try again in a moment.`;
      return `${what}: ${detail || `error ${status}`}.`;
  }
}

let onUnauthorized = () => {};

/** Called once, with the message, whenever the API answers 401. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** fetch() against the API with the bearer token; JSON in and out.
 * `doing` names the action for error messages ("accept the ticket"); `headers`
 * adds request headers (an action's Idempotency-Key). */
export async function request(path, { method = "GET", json, form, doing, auth = true, signal, headers } = {}) {
  const response = await apiFetch(
    API + path,
    { method, bearer: auth ? token() : null, json, form, signal, cache: "no-store", headers },
    (err) => new ApiError(0, String(err?.message || err), plainWords(0, "", doing)),
  );
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const detail = detailText(data?.detail);
    const error = new ApiError(response.status, detail, plainWords(response.status, detail, doing));
    if (response.status === 401 && auth) onUnauthorized(error.message);
    throw error;
  }
  return data;
}

/** POST /auth/token with the login form; the TokenResponse. */
export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  try {
    return await request("/auth/token", { method: "POST", form, auth: false, doing: "log in" });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      err.message = "Wrong username or password. 账号或密码错误。";
    }
    throw err;
  }
}

/** Revoke a token that is not kept (best effort). */
export function revoke(bearer) {
  fetch(`${API}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${bearer}` } }).catch(() => {});
}

// <img>, <video> and EventSource cannot send the Authorization header, and the
// token must never go in a URL (logs, history, Referer): media paths are exchanged
// for short-lived signed links, and the stream is opened with a single-use ticket.
const media = createMediaLinks(
  (path) => request(path, { method: "POST", doing: "load the photo or video" }),
  API,
  token,
);

/** A signed URL (Promise) for a media path (snapshot_url / clip_url / ...). */
export const mediaLink = media.mediaLink;
/** Point an <img> or <video> at a media path through a signed link. */
export const showMedia = media.showMedia;

/** The EventSource URL of my ticket notices, with a fresh single-use ticket. */
export async function streamUrl() {
  const issued = await request("/stream-tickets", { method: "POST", doing: "connect for live updates" });
  return issued.url;
}
