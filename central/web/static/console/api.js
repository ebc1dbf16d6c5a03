// The central API: bearer token in localStorage, JSON in and out, 401 → login.
import { ApiError, apiFetch } from "/common/api-fetch.js";
import { createMediaLinks } from "/common/media-links.js";

export { ApiError };
export const API = "/api/v1";
const TOKEN_KEY = "gridwatch.console.token";

export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
  forgetMediaLinks();
}

export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
  forgetMediaLinks();
}

/** A query string from an object; arrays repeat the key, null/"" are left out. */
export function qs(params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Call the API. `path` is under /api/v1. Options: method, query, json (a body
 * sent as JSON), form (URLSearchParams / FormData), raw (return the Response).
 */
export async function api(path, { method = "GET", query, json, form, raw = false, signal } = {}) {
  const response = await apiFetch(
    `${API}${path}${qs(query)}`,
    { method, bearer: getToken(), json, form, signal },
    () => new ApiError(0, "cannot reach the server"),
  );
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent("gw:unauthorized"));
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, detail);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** GET that answers null on 404 (endpoints that may not exist yet). */
export async function apiOptional(path, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

const media = createMediaLinks((path) => api(path, { method: "POST" }), API);

/** A signed URL (Promise) for a media path such as `/api/v1/media/<sha256>`. */
export const mediaLink = media.mediaLink;
/** Point an <img> or <video> at a media path through a signed link. */
export const showMedia = media.showMedia;

export function forgetMediaLinks() {
  media.forget();
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const result = await api("/auth/token", { method: "POST", form });
  setToken(result.access_token);
  return result;
}

export async function logout() {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    /* the token may already be gone */
  }
  clearToken();
}

/** Download an API file (CSV) with the bearer header, under `filename`. */
export async function download(path, query, filename) {
  const response = await api(path, { query, raw: true });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = match ? match[1] : filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

/**
 * The live ticket stream (SSE). `onNotice(notice)` per ticket notice,
 * `onState("live" | "connecting" | "offline")` as the connection changes.
 * EventSource cannot send the bearer header, so every connection opens with a
 * fresh single-use stream ticket (POST /stream-tickets), never the token.
 * Returns a function that closes it.
 */
export function openTicketStream(onNotice, onState, onWarning = () => {}) {
  let source = null;
  let closed = false;
  let retry = null;
  let failures = 0;

  const reconnect = () => {
    // The browser's own retry would reuse the spent ticket: retry ourselves.
    failures += 1;
    onState(failures > 1 ? "offline" : "connecting");
    retry = setTimeout(connect, Math.min(30000, 500 * 2 ** Math.min(failures, 6)));
  };

  const connect = async () => {
    if (closed) return;
    onState("connecting");
    let ticket;
    try {
      ticket = await api("/stream-tickets", { method: "POST" });
    } catch {
      if (!closed) reconnect();
      return;
    }
    if (closed) return;
    const opened = new EventSource(ticket.url);
    source = opened;
    opened.onopen = () => {
      failures = 0;
      onState("live");
    };
    opened.addEventListener("ticket", (event) => {
      try {
        onNotice(JSON.parse(event.data));
      } catch (error) {
        console.warn("bad ticket notice", error);
      }
    });
    // Staff streams also carry hotspot early warnings (opened, acknowledged, resolved).
    opened.addEventListener("warning", (event) => {
      try {
        onWarning(JSON.parse(event.data).warning);
      } catch (error) {
        console.warn("bad warning notice", error);
      }
    });
    opened.onerror = () => {
      opened.close();
      if (closed || source !== opened) return;
      source = null;
      reconnect();
    };
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    if (source) source.close();
  };
}
