// Gridline service worker (docs/offline.md). The server fills in VERSION and SHELL.
//
// Reads: the shell is precached; pages are network-first with a short timeout, then
// the copy saved for the signed-in user (marked with its age), then the offline page.
// Writes: every unsafe request that carries an Idempotency-Key goes to the network;
// when that fails it is kept in an IndexedDB outbox and answered "saved on this phone".
// The outbox is replayed in creation order on Background Sync, `online`, page load,
// visibility and "send now".
"use strict";
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const SHELL_CACHE = `gridline-shell-${VERSION}`;
const PAGES = (user) => `gridline-pages-${user}`;
const PAGE_TIMEOUT_MS = 4000;
const WRITE_TIMEOUT_MS = 10000;
const SYNC_TAG = "gridline-outbox";
// A write the server keeps failing (5xx) goes to "needs attention" after this many tries,
// so it cannot hold back everything queued after it.
const MAX_SERVER_FAILURES = 5;
const KEPT_REQUEST_HEADERS = ["idempotency-key", "x-occurred-at", "content-type", "hx-request", "hx-target", "accept"];

// ---- IndexedDB: the outbox and a little state --------------------------------------
let dbPromise = null;
function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open("gridline", 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        const outbox = db.createObjectStore("outbox", { keyPath: "id", autoIncrement: true });
        outbox.createIndex("user", "user");
        db.createObjectStore("meta", { keyPath: "k" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}
async function store(name, mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(name, mode);
    const result = work(tx.objectStore(name));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}
const getMeta = async (k) => ((await store("meta", "readonly", (s) => s.get(k))) || {}).v;
const setMeta = (k, v) => store("meta", "readwrite", (s) => s.put({ k, v }));
// "user": whose saved pages may be served now (cleared on the sign-in page);
// "lastUser": whose unsent work the sign-in page still counts ("sign in again to send N").
async function setUser(user) {
  await setMeta("user", user);
  if (user) await setMeta("lastUser", user);
}
const allEntries = () => store("outbox", "readonly", (s) => s.getAll());
const putEntry = (entry) => store("outbox", "readwrite", (s) => s.put(entry));
const deleteEntry = (id) => store("outbox", "readwrite", (s) => s.delete(id));
async function entriesOf(user) {
  if (!user) return [];
  const mine = await store("outbox", "readonly", (s) => s.index("user").getAll(user));
  return mine.sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
}
const text = async (key, fallback) => ((await getMeta("texts")) || {})[key] || fallback;

// ---- install, activate, update --------------------------------------------------------
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("gridline-shell-") && k !== SHELL_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// ---- helpers ------------------------------------------------------------------------
function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
function cacheKey(request) {
  // htmx partials share a URL with their page: keep them apart (docs/offline.md).
  const url = new URL(request.url);
  if (request.headers.get("HX-Request") === "true") url.searchParams.set("__hx", "1");
  return url.toString();
}
function marked(response, extra) {
  const headers = new Headers(response.headers);
  headers.set("X-Gridline-Cache", extra.kind);
  if (extra.savedAt) headers.set("X-Gridline-Saved-At", extra.savedAt);
  return new Response(extra.body !== undefined ? extra.body : response.body, { status: response.status, statusText: response.statusText, headers });
}
function fragment(status, html, extra) {
  return new Response(html, { status, headers: { "Content-Type": "text/html; charset=utf-8", "X-Gridline-Cache": "outbox", ...(extra || {}) } });
}
async function broadcast() {
  const status = await outboxStatus();
  for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage({ type: "status", ...status });
}
async function outboxStatus() {
  const user = (await getMeta("user")) || (await getMeta("lastUser"));
  const entries = user ? await entriesOf(user) : [];
  return {
    user: user || "",
    pending: entries.filter((e) => e.state === "pending").length,
    attention: entries.filter((e) => e.state === "attention").length,
    lastSync: (await getMeta("lastSync")) || 0,
    needsSignIn: !!(await getMeta("needsSignIn")),
  };
}

// ---- reads ------------------------------------------------------------------------------
async function savePage(response, key) {
  const user = response.headers.get("X-Gridline-User");
  if (!user || response.status !== 200) return;
  if ((response.headers.get("Cache-Control") || "").includes("no-store")) return;
  await setUser(user);
  const savedAt = new Date().toISOString();
  const headers = new Headers(response.headers);
  headers.set("X-Gridline-Saved-At", savedAt);
  const body = await response.clone().arrayBuffer();
  await (await caches.open(PAGES(user))).put(key, new Response(body, { status: 200, headers }));
  return body.byteLength;
}

async function savedCopy(request) {
  const user = await getMeta("user");
  if (!user) return null;
  const hit = await (await caches.open(PAGES(user))).match(cacheKey(request));
  if (!hit) return null;
  const savedAt = hit.headers.get("X-Gridline-Saved-At") || "";
  if (request.headers.get("HX-Request") === "true") return marked(hit, { kind: "page", savedAt });
  // A full page says how old it is: app.js turns data-saved-at into a banner.
  const html = (await hit.text()).replace("<html ", `<html data-saved-at="${savedAt}" `);
  return marked(hit, { kind: "page", savedAt, body: html });
}

// The saved /scan page lists the user's door codes with where each opens (#d-<code>).
async function doorTarget(code) {
  const user = await getMeta("user");
  if (!user) return null;
  const scan = await (await caches.open(PAGES(user))).match(new URL("/scan", self.location.origin).toString());
  if (!scan) return null;
  const found = (await scan.text()).match(new RegExp(`id="d-${code}" href="([^"]+)"`));
  return found ? found[1].replace(/&amp;/g, "&") : null;
}

async function networkFirst(request) {
  try {
    const response = await withTimeout(fetch(request), PAGE_TIMEOUT_MS);
    // Clone now: once the page has the response its body is used, and a clone then fails.
    savePage(response.clone(), cacheKey(request)).catch(() => {});
    return response;
  } catch (error) {
    const copy = await savedCopy(request);
    if (copy) return copy;
    const door = request.mode === "navigate" && new URL(request.url).pathname.match(/^\/d\/([A-Za-z0-9]{8})$/);
    if (door) {
      // A door plate scanned by the phone's own camera: where the saved scan page sends it.
      const target = await doorTarget(door[1].toUpperCase());
      if (target) return Response.redirect(new URL(target, self.location.origin).toString(), 303);
    }
    if (request.mode === "navigate") {
      const offline = await caches.match("/offline");
      if (offline) return marked(offline, { kind: "shell" });
    }
    return fragment(503, `<p class="saved-offline">${await text("offlineNotSaved", "Offline")}</p>`);
  }
}

// ---- writes --------------------------------------------------------------------------------
async function keep(request, body, user) {
  const headers = {};
  for (const name of KEPT_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value) headers[name] = value;
  }
  headers["x-gridline-owner"] = user;  // replayed under another user's session, it is refused
  const label = decodeURIComponent(request.headers.get("X-Gridline-Label") || "") || new URL(request.url).pathname;
  await putEntry({ user, url: request.url, method: request.method, headers, body, label, createdAt: Date.now(),
                   state: "pending", attempts: 0, nextAt: 0, reason: "", status: 0 });
  if (self.registration.sync) self.registration.sync.register(SYNC_TAG).catch(() => {});
  broadcast();
  return fragment(202, `<p class="saved-offline" role="status">${await text("saved", "Saved on this phone.")}</p>`);
}

// Writes go one at a time, so they reach the server in the order they were made.
let writeChain = Promise.resolve();
function handleWrite(request) {
  const answer = writeChain.then(() => sendOrKeep(request));
  writeChain = answer.catch(() => {});
  return answer;
}

async function sendOrKeep(request) {
  const type = request.headers.get("Content-Type") || "";
  if (type.startsWith("multipart/") || new URL(request.url).pathname === "/signin") {
    // Never kept: files are not kept offline, and a sign-in (a password) is never stored
    // nor queued behind writes that wait for it. The page says so instead.
    try { return await fetch(request); }
    catch (e) { return fragment(503, `<p class="saved-offline">${await text("needsNetwork", "Needs network")}</p>`); }
  }
  const user = await getMeta("user");
  const body = await request.clone().text();
  if (user && (await entriesOf(user)).some((e) => e.state === "pending")) {
    // Older work is still waiting: queue behind it so order holds.
    const answer = await keep(request, body, user);
    replay();
    return answer;
  }
  try {
    const response = await withTimeout(fetch(request), WRITE_TIMEOUT_MS);
    if (response.status >= 500 && user) return keep(request, body, user);
    if (response.status === 401 && user) {
      // The session ended: keep the write (the form would otherwise be lost) and ask to sign in.
      await setMeta("needsSignIn", true);
      return keep(request, body, user);
    }
    return response;
  } catch (error) {
    if (!user) return fragment(503, `<p class="saved-offline">${await text("needsNetwork", "Needs network")}</p>`);
    return keep(request, body, user);
  }
}

// ---- replay --------------------------------------------------------------------------------
let replaying = null;  // the run under way
let rerun = null;      // one more run, asked for while that one was under way
function backoff(attempts) {
  return Math.min(300000, 2000 * 2 ** Math.min(attempts, 8));
}
function plainText(html) {
  const entities = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#34": '"', nbsp: " " };
  return html.replace(/<[^>]+>/g, " ").replace(/&(amp|lt|gt|quot|#39|#34|nbsp);/g, (_, name) => entities[name])
    .replace(/\s+/g, " ").trim();
}
// The server's own words: its field errors (<p class="error">) or alerts, else the error
// page's message, else the text of the whole answer (no DOMParser in a worker).
function reasonOf(html) {
  const marked = [...html.matchAll(/<(p|div|span)\b[^>]*\bclass="[^"]*\b(?:error|alert)\b[^"]*"[^>]*>([\s\S]*?)<\/\1>/g)]
    .map((m) => plainText(m[2])).filter(Boolean);
  if (marked.length) return [...new Set(marked)].join(" ").slice(0, 500);
  const page = html.match(/<section\b[^>]*\bid="error"[^>]*>([\s\S]*?)<\/section>/);
  const main = page ? page[1].replace(/<h1\b[\s\S]*?<\/h1>/, "").replace(/<a\b[\s\S]*?<\/a>/g, "") : html;
  return plainText(main).slice(0, 500);
}
// `force`: a person or the page asked (load, online, "send now"): skip the backoff wait.
function replay(force) {
  if (!replaying) {
    replaying = runReplay(!!force).finally(() => { replaying = null; });
    return replaying;
  }
  // A run is under way, perhaps unforced (stopping at the first entry still backing off) or
  // begun before the network came back: run once more after it, so "send now", `online` or
  // a page load is never swallowed by it.
  if (!rerun) {
    rerun = { force: !!force };
    const next = () => { const again = rerun.force; rerun = null; return replay(again); };
    rerun.promise = replaying.then(next, next);
  } else if (force) {
    rerun.force = true;
  }
  return rerun.promise;
}
// Pending writes go in batches through POST /sync/batch: the server runs each one through
// the app exactly as if it came alone, in order, and answers up to the first one that makes
// the rest wait. A server without it (404) is sent them one at a time, as before.
const BATCH_SIZE = 50;  // the server's limit (web/sync/batch.py MAX_ENTRIES)
const BATCH_TIMEOUT_MS = 30000;
async function sendBatch(entries) {
  const body = JSON.stringify({ entries: entries.map((e) => ({ method: e.method, url: e.url, headers: e.headers, body: e.body })) });
  let response;
  try {
    response = await withTimeout(fetch("/sync/batch", { method: "POST", headers: { "Content-Type": "application/json" }, body,
                                                         credentials: "same-origin", redirect: "manual" }), BATCH_TIMEOUT_MS);
  } catch (error) {
    return { offline: true };
  }
  if (response.status === 401) return { answers: [{ status: 401, text: () => response.text() }] };
  if (response.status === 200) {
    const results = await response.json().then((answer) => answer.results, () => null);
    if (Array.isArray(results) && results.length) {
      return { answers: results.slice(0, entries.length).map((r) => ({ status: r.status, text: async () => r.body || "" })) };
    }
  }
  // No /sync/batch there (an older server), or the batch itself was not taken: one at a time.
  return { unsupported: true };
}
async function sendOne(entry) {
  try {
    // Redirects are not followed: a 303 after a form is the write applied.
    const response = await withTimeout(fetch(entry.url, { method: entry.method, headers: entry.headers, body: entry.body,
                                                          credentials: "same-origin", redirect: "manual" }), WRITE_TIMEOUT_MS);
    const status = response.type === "opaqueredirect" ? 303 : response.status;
    return { answers: [{ status, text: () => response.text() }] };
  } catch (error) {
    return { offline: true };
  }
}
// Applied entries leave the outbox together.
async function forget(ids) {
  if (!ids.length) return;
  await store("outbox", "readwrite", (s) => { for (const id of ids) s.delete(id); });
  await setMeta("lastSync", Date.now());
  await setMeta("needsSignIn", false);
}
function later(entry) {
  entry.attempts += 1; entry.nextAt = Date.now() + backoff(entry.attempts);
  return putEntry(entry);
}
// An answer other than 2xx/3xx for one entry; false when the entries after it must wait.
async function settle(entry, answer) {
  if (answer.status === 401) {
    await setMeta("needsSignIn", true);  // keep everything; sign in, then resume
    return false;
  }
  if ((answer.status === 408 || answer.status === 429 || answer.status >= 500) && entry.attempts < MAX_SERVER_FAILURES) {
    await later(entry);
    return false;
  }
  entry.state = "attention"; entry.status = answer.status;
  entry.reason = reasonOf(await answer.text());
  await putEntry(entry);
  return true;
}
async function runReplay(force) {
  const user = await getMeta("user");
  if (!user) return true;
  let done = true;
  // In creation order, up to the first entry still backing off: those after it wait too.
  const queue = [];
  for (const entry of await entriesOf(user)) {
    if (entry.state !== "pending") continue;
    if (!force && entry.nextAt > Date.now()) { done = false; break; }
    queue.push(entry);
  }
  let batches = true;
  let next = 0;
  while (next < queue.length) {
    const sent = batches ? await sendBatch(queue.slice(next, next + BATCH_SIZE)) : await sendOne(queue[next]);
    if (sent.unsupported) { batches = false; continue; }
    if (sent.offline) { await later(queue[next]); done = false; break; }
    const applied = [];
    let stopped = false;
    for (const answer of sent.answers) {
      const entry = queue[next];
      if (answer.status >= 200 && answer.status < 400) { applied.push(entry.id); next += 1; continue; }
      await forget(applied.splice(0));  // what went before is done before this one's outcome is kept
      if (!(await settle(entry, answer))) { stopped = true; break; }
      next += 1;
    }
    await forget(applied);
    if (stopped) { done = false; break; }
  }
  await broadcast();
  return done;
}

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(replay().then((done) => { if (!done) throw new Error("retry later"); }));
});

// ---- prepare for offline ---------------------------------------------------------------------
async function prepare(urls, user, client) {
  await setUser(user);
  const cache = await caches.open(PAGES(user));
  let done = 0, bytes = 0, failed = 0;
  const queue = urls.slice();
  async function worker() {
    while (queue.length) {
      const url = queue.shift();
      try {
        const old = await cache.match(url);
        const headers = { Accept: "text/html" };
        if (old && old.headers.get("ETag")) headers["If-None-Match"] = old.headers.get("ETag");
        const response = await fetch(url, { headers, credentials: "same-origin" });
        if (response.status === 304 && old) {
          bytes += (await old.clone().arrayBuffer()).byteLength;
          const fresh = new Headers(old.headers);
          fresh.set("X-Gridline-Saved-At", new Date().toISOString());
          await cache.put(url, new Response(await old.arrayBuffer(), { status: 200, headers: fresh }));
        } else if (response.ok) {
          bytes += (await savePage(response, url)) || 0;
        } else {
          failed += 1;
        }
      } catch (error) {
        failed += 1;
      }
      done += 1;
      if (client) client.postMessage({ type: "prepare-progress", done, total: urls.length });
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  if (client) client.postMessage({ type: "prepare-done", done, pages: done - failed, failed, bytes });
}

// ---- messages from pages ------------------------------------------------------------------------
self.addEventListener("message", (event) => {
  const data = event.data || {};
  const reply = (value) => event.ports && event.ports[0] && event.ports[0].postMessage(value);
  const work = (async () => {
    switch (data.type) {
      case "hello":
        if (data.texts) await setMeta("texts", data.texts);
        if (data.user) await setUser(data.user);
        // On the sign-in page nobody is signed in: no saved page may be served to whoever comes next.
        if (data.signedOut) {
          // Unsent work and the sign-in page: the session ended (sign-out refuses while work
          // waits), whether or not a replay has met the 401 yet. Ask to sign in again.
          const was = await getMeta("user");
          if (was && (await entriesOf(was)).some((e) => e.state === "pending")) await setMeta("needsSignIn", true);
          await setMeta("user", "");
          await broadcast();
        }
        break;
      case "status":
        reply(await outboxStatus());
        break;
      case "version":
        reply(VERSION);
        break;
      case "replay":
        if (data.wait) await replay(data.force); else replay(data.force);
        reply(await outboxStatus());
        break;
      case "list": {
        const user = await getMeta("user");
        const entries = user ? await entriesOf(user) : [];
        reply({ ...(await outboxStatus()), pending: entries.filter((e) => e.state === "pending"), attention: entries.filter((e) => e.state === "attention") });
        break;
      }
      case "resend": {
        const entry = (await allEntries()).find((e) => e.id === data.id);
        if (entry) {
          // A corrected request is a new request: it gets a new key.
          Object.assign(entry, { body: data.body, state: "pending", attempts: 0, nextAt: 0, reason: "", status: 0, createdAt: Date.now() });
          entry.headers["idempotency-key"] = crypto.randomUUID();
          await putEntry(entry);
          await replay(true);
        }
        reply(await outboxStatus());
        break;
      }
      case "discard":
        await deleteEntry(data.id);
        await broadcast();
        reply(true);
        break;
      case "discard-all": {
        const user = await getMeta("user");
        for (const e of await entriesOf(user)) await deleteEntry(e.id);
        reply(true);
        break;
      }
      case "purge": {
        // Signing out: this user's pages and outbox leave the phone.
        const user = data.user || (await getMeta("user"));
        if (user) {
          await caches.delete(PAGES(user));
          for (const e of await entriesOf(user)) await deleteEntry(e.id);
        }
        await setMeta("user", "");
        await setMeta("lastUser", "");
        await setMeta("needsSignIn", false);
        reply(true);
        break;
      }
      case "prepare":
        await prepare(data.urls || [], data.user, event.source);
        break;
      case "skipWaiting":
        await self.skipWaiting();
        break;
    }
  })();
  event.waitUntil(work);
});

// ---- routing --------------------------------------------------------------------------------------
self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname === "/sw.js") return;
  if (request.method === "GET") {
    if (url.pathname.startsWith("/static/")) {
      event.respondWith(caches.match(request).then((hit) => (hit ? marked(hit, { kind: "shell" }) : fetch(request))));
    } else if (request.mode === "navigate" || request.headers.get("HX-Request") === "true") {
      event.respondWith(networkFirst(request));
    }
    return;
  }
  if (request.headers.get("Idempotency-Key")) event.respondWith(handleWrite(request));
});
