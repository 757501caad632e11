// Gridline service worker. The server fills in the version and the shell list.
"use strict";
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const SHELL_CACHE = `gridline-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) =>
      Promise.all(keys.filter((k) => k.startsWith("gridline-shell-") && k !== SHELL_CACHE).map((k) => caches.delete(k)))
    ).then(() => self.clients.claim())
  );
});

function fromCache(response) {
  // Mark answers that come from the cache, so pages and tests can tell.
  const headers = new Headers(response.headers);
  headers.set("X-Gridline-Cache", "shell");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  const url = new URL(request.url);
  if (url.pathname.startsWith("/static/")) {
    // Versioned names never change: the cache is always right.
    event.respondWith(caches.match(request).then((hit) => (hit ? fromCache(hit) : fetch(request))));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() => caches.match("/offline").then((hit) => (hit ? fromCache(hit) : Response.error())))
    );
  }
});
