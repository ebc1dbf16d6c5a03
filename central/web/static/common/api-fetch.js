// How both pages call central's API and read its errors: the operator console's
// and the worker terminal's api.js build on this. What a page does with a
// failure (the console's 401 event, the worker's sentences in plain words) stays
// in the page.

/** An API failure: `status` (0 when the server could not be reached), `detail`
 * as the page keeps it (central's `detail`, or its text) and `message`, which is
 * `message` when the page words it, else the detail's text, else "HTTP <status>". */
export class ApiError extends Error {
  constructor(status, detail, message) {
    super(message || detailText(detail) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

/** Central's error `detail` as one line: a string as it is; FastAPI's validation
 * errors ([{loc: ["body", "field", ...], msg}, ...]) as "field: msg; ..."; anything
 * else as JSON; nothing as "". */
export function detailText(detail) {
  if (!detail) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const field = Array.isArray(d?.loc) ? d.loc.slice(1).join(".") : "";
        return field ? `${field}: ${d.msg}` : d?.msg;
      })
      .join("; ");
  }
  return JSON.stringify(detail);
}

/**
 * fetch() with the API's conventions: JSON accepted, `Authorization: Bearer`
 * when `bearer` is given (never the token in a URL), `json` sent as JSON or
 * `form` (URLSearchParams / FormData) as it is, the browser setting its type;
 * `headers` adds others (e.g. `Idempotency-Key`).
 * An abort is thrown as it is; a request that cannot reach the server throws
 * `unreachable(error)` (an ApiError with status 0, worded by the page).
 * Returns the Response, whatever its status.
 */
export async function apiFetch(url, { method = "GET", bearer, json, form, signal, cache, headers: extra } = {}, unreachable) {
  const headers = { ...extra, Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const init = { method, headers, body, signal };
  if (cache !== undefined) init.cache = cache;
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw unreachable ? unreachable(error) : new ApiError(0, String(error?.message || error));
  }
}
