// gridwatch worker terminal service worker (scope /worker/).
// Caches the app shell only, so the terminal opens without a network; API
// responses (/api/...) are never cached or even intercepted. The shell is fetched
// network-first, so a new release is used as soon as the server can be reached.

const CACHE = "gridwatch-worker-shell-v9";
const SHELL = [
  "/worker/",
  "/worker/index.html",
  "/worker/app.js",
  "/worker/api.js",
  "/common/api-fetch.js",
  "/common/media-links.js",
  "/common/labels.js",
  "/worker/map.js",
  "/worker/report.js",
  "/worker/month.js",
  "/worker/outbox.js",
  "/worker/action-queue.js",
  "/worker/style.css",
  "/worker/manifest.webmanifest",
  "/worker/icon.svg",
  "/worker/icon-192.png",
  "/worker/icon-512.png",
  "/vendor/leaflet/leaflet.js",
  "/vendor/leaflet/leaflet.css",
];
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // never the API: tickets, media, SSE
  const path = request.mode === "navigate" && url.pathname.startsWith("/worker/") ? "/worker/" : url.pathname;
  if (!SHELL_PATHS.has(path)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && url.search === "") {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(path, copy));
        }
        return response;
      })
      .catch(() => caches.match(path).then((hit) => hit || Response.error())),
  );
});
