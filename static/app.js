// Gridline's page script (a file: the CSP allows no inline script).
// - gives every htmx write an Idempotency-Key and X-Occurred-At, made at submit time;
// - talks to the service worker: who is signed in, replay now, outbox counts;
// - shows how old an offline copy is, asks to sign in again, offers updates;
// - drives the sync page (/sync) and "prepare for offline";
// - opens door codes typed or scanned (form[data-scan]), from the page itself when it can.
"use strict";
(function () {
  const html = document.documentElement;
  const user = html.dataset.user || "";
  const texts = window.glTexts || {};  // static/texts.<locale>.js, made from the catalogue
  const sw = "serviceWorker" in navigator ? navigator.serviceWorker : null;
  const t = (key, vars) => (texts[key] || key).replace(/%\((\w+)\)s/g, (_, name) => (vars && name in vars ? vars[name] : ""));

  // Device time with its offset, e.g. 2026-11-29T21:05:00+08:00.
  function occurredAt() {
    const d = new Date();
    const pad = (n) => String(Math.abs(n)).padStart(2, "0");
    const off = -d.getTimezoneOffset();
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${off >= 0 ? "+" : "-"}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  document.addEventListener("htmx:config:request", (event) => {
    const request = event.detail.ctx.request;
    // Only a signed-in user's writes are kept and replayed (the server dedupes only those).
    // Without a user (the sign-in form) a key would let the worker queue the request,
    // password and all, behind work that waits for this very sign-in.
    if (request.method === "GET" || !user) return;
    request.headers["Idempotency-Key"] = uuid();
    request.headers["X-Occurred-At"] = occurredAt();
    const source = event.detail.ctx.sourceElement;
    const label = (source && source.closest("[data-label]")) || null;
    request.headers["X-Gridline-Label"] = encodeURIComponent(label ? label.dataset.label : document.title);
  });

  // ---- service worker ------------------------------------------------------------
  function post(message) {
    if (sw && sw.controller) sw.controller.postMessage(message);
  }
  function ask(message) {
    return new Promise((resolve) => {
      if (!sw || !sw.controller) return resolve(null);
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => resolve(e.data);
      sw.controller.postMessage(message, [channel.port2]);
      setTimeout(() => resolve(null), 4000);
    });
  }

  function showCounts(status) {
    if (!status) return;
    const badge = document.getElementById("outbox-count");
    const unsent = status.pending + status.attention;
    if (badge) {
      badge.hidden = unsent === 0;
      badge.textContent = t("unsent", { n: unsent });
      badge.classList.toggle("bad", status.attention > 0);
    }
    const signin = document.getElementById("signin-again");
    if (signin) signin.hidden = !(status.needsSignIn && status.pending > 0);
  }

  if (sw) {
    sw.register("/sw.js", { scope: "/" }).then((registration) => watchUpdates(registration)).catch(() => {});
    sw.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.type === "status") {
        showCounts(data);
        // Only the worker's news: the sync page's own refresh must not trigger itself again.
        document.dispatchEvent(new CustomEvent("gridline:outbox", { detail: data }));
      }
      if (data.type === "prepare-progress" || data.type === "prepare-done") document.dispatchEvent(new CustomEvent("gridline:prepare", { detail: data }));
    });
    const hello = () => {
      post({ type: "hello", user, texts: { ...texts }, signedOut: !!document.getElementById("signin") });
      post({ type: "replay", force: true });
    };
    if (sw.controller) hello();
    sw.addEventListener("controllerchange", hello);
    window.addEventListener("online", () => post({ type: "replay", force: true }));
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") post({ type: "replay", force: true }); });
    // While something waits, keep trying now and then (Background Sync is not everywhere).
    setInterval(() => post({ type: "replay" }), 30000);
  }

  // A new version waits until nothing is unsent, then offers to reload.
  function watchUpdates(registration) {
    const offer = () => {
      const waiting = registration.waiting;
      const bar = document.getElementById("update");
      // A first visit installs the first worker (briefly "waiting"): nothing to update from.
      if (!waiting || !bar || !sw.controller || !registration.active) return;
      ask({ type: "status" }).then((status) => {
        if (status && status.pending > 0) return setTimeout(offer, 5000);
        bar.hidden = false;
        bar.querySelector("button").onclick = () => {
          sw.addEventListener("controllerchange", () => window.location.reload(), { once: true });
          waiting.postMessage({ type: "skipWaiting" });
        };
      });
    };
    offer();
    registration.addEventListener("updatefound", () => {
      const installing = registration.installing;
      if (installing) installing.addEventListener("statechange", () => { if (installing.state === "installed") offer(); });
    });
  }

  // ---- larger text: the reader's choice, kept on this phone for every page --------------
  const TEXT_KEY = "gridline:text";
  const largeText = () => { try { return localStorage.getItem(TEXT_KEY) === "large"; } catch (e) { return false; } };
  function applyTextSize(large) {
    html.classList.toggle("large-text", large);
    for (const button of document.querySelectorAll("[data-text-size]")) button.setAttribute("aria-pressed", String(large));
  }
  applyTextSize(largeText());
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("[data-text-size]")) return;
    const large = !largeText();
    try { localStorage.setItem(TEXT_KEY, large ? "large" : "normal"); } catch (e) { /* kept for this page only */ }
    applyTextSize(large);
  });

  // ---- an offline copy says how old it is -----------------------------------------
  const savedAt = html.dataset.savedAt;
  if (savedAt) {
    const banner = document.getElementById("stale");
    const minutes = Math.max(0, Math.round((Date.now() - Date.parse(savedAt)) / 60000));
    const rtf = new Intl.RelativeTimeFormat(html.lang || "zh-CN", { numeric: "auto" });
    const age = minutes < 60 ? rtf.format(-minutes, "minute") : minutes < 2880 ? rtf.format(-Math.round(minutes / 60), "hour") : rtf.format(-Math.round(minutes / 1440), "day");
    if (banner) { banner.textContent = t("stale", { age }); banner.hidden = false; }
  }

  // ---- signing out: never with unsent work, and nothing left behind ----------------
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches("form.signout") || form.dataset.ready) return;
    event.preventDefault();
    const status = await ask({ type: "status" });
    if (status && status.pending + status.attention > 0 && !form.dataset.discard) {
      window.location.href = "/sync?signout=1";
      return;
    }
    // End the session on the server first: signed out offline, the phone would be wiped
    // while the session lived on.
    let ended = null;
    try {
      ended = await fetch(form.action, { method: "POST", credentials: "same-origin", redirect: "manual" });
    } catch (error) {
      ended = null;
    }
    if (!ended || (ended.type !== "opaqueredirect" && !ended.ok)) {
      window.alert(t("needsNetwork"));
      return;
    }
    await ask({ type: "purge", user });
    window.location.href = "/signin";
  });

  // ---- the sync page ----------------------------------------------------------------
  const syncPage = document.getElementById("sync-page");
  if (syncPage) initSyncPage(syncPage);

  function initSyncPage(root) {
    const pending = root.querySelector("#pending-list");
    const attention = root.querySelector("#attention-list");
    const lastSync = root.querySelector("#last-sync");
    const storage = root.querySelector("#storage");
    const fmtBytes = (n) => (n > 1073741824 ? (n / 1073741824).toFixed(1) + " GB" : n > 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB");
    const when = (ms) => new Date(ms).toLocaleString(html.lang || "zh-CN");

    function item(entry, withForm) {
      const li = document.createElement("li");
      li.className = "row";
      li.dataset.id = entry.id;
      const main = document.createElement("span");
      main.className = "main";
      main.textContent = entry.label || entry.url;
      const sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = t("savedWhen", { when: when(entry.createdAt) });
      li.append(main, sub);
      if (withForm) {
        const reason = document.createElement("p");
        reason.className = "error";
        reason.textContent = entry.reason || "";
        const form = document.createElement("form");
        form.className = "fix";
        for (const [name, value] of new URLSearchParams(entry.body || "")) {
          const label = document.createElement("label");
          label.textContent = name;
          const input = document.createElement("input");
          input.name = name; input.value = value;
          label.append(input);
          form.append(label);
        }
        const resend = document.createElement("button");
        resend.type = "submit"; resend.className = "primary"; resend.textContent = t("resend");
        const discard = document.createElement("button");
        discard.type = "button"; discard.className = "danger"; discard.textContent = t("discard");
        discard.onclick = async () => { if (window.confirm(t("discardConfirm"))) { await ask({ type: "discard", id: entry.id }); refresh(); } };
        form.append(resend, discard);
        form.onsubmit = async (e) => {
          e.preventDefault();
          await ask({ type: "resend", id: entry.id, body: new URLSearchParams(new FormData(form)).toString() });
          refresh();
        };
        li.append(reason, form);
      }
      return li;
    }

    async function refresh() {
      const data = await ask({ type: "list" });
      if (!data) { root.querySelector("#no-sw").hidden = false; return; }
      pending.replaceChildren(...data.pending.map((e) => item(e, false)));
      attention.replaceChildren(...data.attention.map((e) => item(e, true)));
      root.querySelector("#pending-empty").hidden = data.pending.length > 0;
      root.querySelector("#attention-empty").hidden = data.attention.length > 0;
      lastSync.textContent = data.lastSync ? when(data.lastSync) : t("never");
      const signout = root.querySelector("#signout-anyway");
      if (signout) signout.hidden = data.pending.length + data.attention.length === 0 && !root.dataset.signout;
      if (navigator.storage && navigator.storage.estimate) {
        const est = await navigator.storage.estimate();
        storage.textContent = t("storage", { used: fmtBytes(est.usage || 0), free: fmtBytes((est.quota || 0) - (est.usage || 0)) });
      }
      // "list" answers with the entries themselves; the badge wants counts.
      showCounts({ ...data, pending: data.pending.length, attention: data.attention.length });
    }

    root.querySelector("#send-now").onclick = async () => { await ask({ type: "replay", wait: true, force: true }); refresh(); };
    document.addEventListener("gridline:outbox", () => refresh());
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().then((granted) => { root.querySelector("#persisted").textContent = granted ? t("persistent") : t("notPersistent"); });
    }

    const prepare = root.querySelector("#prepare");
    const bar = root.querySelector("#prepare-progress");
    const result = root.querySelector("#prepare-result");
    prepare.onclick = async () => {
      prepare.disabled = true;
      bar.hidden = false; bar.value = 0;
      result.textContent = t("preparing");
      try {
        const manifest = await (await fetch("/sync/manifest", { headers: { Accept: "application/json" } })).json();
        bar.max = manifest.urls.length;
        post({ type: "prepare", urls: manifest.urls, user: manifest.user });
      } catch (e) {
        result.textContent = t("prepareFailed");
        prepare.disabled = false;
      }
    };
    document.addEventListener("gridline:prepare", (e) => {
      const d = e.detail;
      bar.value = d.done;
      if (d.type === "prepare-done") {
        result.textContent = d.failed ? t("prepareFailed") : t("ready", { pages: d.pages, size: fmtBytes(d.bytes) });
        prepare.disabled = false;
      }
    });

    const discardAll = root.querySelector("#discard-all");
    if (discardAll) discardAll.onclick = async () => {
      if (!window.confirm(t("discardConfirm"))) return;
      await ask({ type: "discard-all" });
      const form = document.querySelector("form.signout");
      if (form) { form.dataset.discard = "1"; form.requestSubmit(); }
    };
    refresh();
  }

  // ---- door codes: typed or scanned, opened from the page itself when it can --------
  // A form[data-scan] holds an input named "code". On submit (or a QR scanned) the code is
  // normalised; an element #d-<CODE> in the page is the target: an <a> is followed (the
  // scan page lists the user's households so, with no network, their saved pages open),
  // anything else is shown with :target and focused. Otherwise the form goes to the server.
  const DOOR_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/;
  const say = (key, fallback) => texts[key] || fallback;

  function doorCode(text) {
    let code = String(text || "").trim();
    const inUrl = code.match(/\/d\/([^/?#]+)/i);
    if (inUrl) {
      try { code = decodeURIComponent(inUrl[1]); } catch (e) { code = inUrl[1]; }
    }
    return code.replace(/[\s-]+/g, "").toUpperCase();
  }

  function codeError(input, message) {
    const box = input.closest(".field") || input.parentElement;
    const hint = box.querySelector(".hint");
    let error = box.querySelector(".error");
    if (hint) hint.hidden = !!message;
    box.classList.toggle("invalid", !!message);
    if (!message) {
      if (error) error.remove();
      input.removeAttribute("aria-invalid");
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.className = "error";
      error.id = "e-" + (input.name || "code");
      box.append(error);
    }
    error.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
  }

  function openDoor(code) {
    const target = document.getElementById("d-" + code);
    if (!target) return false;
    if (target.tagName === "A") {
      window.location.assign(target.href);
    } else {
      window.location.hash = "d-" + code;
      if (!target.hasAttribute("tabindex")) target.tabIndex = -1;
      target.focus();
    }
    return true;
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form[data-scan]")) return;
    const input = form.querySelector("[name=code]");
    if (!input) return;
    const code = doorCode(input.value);
    if (!DOOR_CODE.test(code)) {
      event.preventDefault();
      codeError(input, say("doorCodeInvalid", "A door code is 8 letters and digits, as printed on the plate."));
      input.focus();
      return;
    }
    codeError(input, "");
    input.value = code;
    if (openDoor(code)) event.preventDefault();
  });

  // The camera, where the browser finds QR codes itself (BarcodeDetector).
  async function canScanQr() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
    try { return (await window.BarcodeDetector.getSupportedFormats()).includes("qr_code"); } catch (e) { return false; }
  }

  async function scanWithCamera(form) {
    const input = form.querySelector("[name=code]");
    const box = form.querySelector("[data-scan-camera]");
    const video = box && box.querySelector("video");
    if (!input || !video) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    } catch (e) {
      codeError(input, say("cameraFailed", "The camera could not be opened: type the code instead."));
      return;
    }
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    let running = true;
    const stop = () => {
      running = false;
      stream.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
      box.hidden = true;
      window.removeEventListener("pagehide", stop);
    };
    window.addEventListener("pagehide", stop);
    const stopButton = box.querySelector("[data-scan-stop]");
    if (stopButton) stopButton.onclick = stop;
    codeError(input, "");
    box.hidden = false;
    video.style.width = "100%";  // CSSOM, not an inline style attribute: the CSP allows it
    video.style.maxHeight = "60vh";
    video.srcObject = stream;
    await video.play().catch(() => {});
    const look = async () => {
      if (!running) return;
      try {
        const found = await detector.detect(video);
        const code = found.map((qr) => doorCode(qr.rawValue)).find((c) => DOOR_CODE.test(c));
        if (code) {
          stop();
          input.value = code;
          form.requestSubmit();
          return;
        }
        if (found.length) codeError(input, say("notDoorPlate", "This QR code is not a Gridline door plate."));
      } catch (e) { /* the video is not ready yet */ }
      setTimeout(look, 200);
    };
    look();
  }

  const scanForms = document.querySelectorAll("form[data-scan]");
  if (scanForms.length) {
    canScanQr().then((able) => {
      if (!able) return;
      for (const form of scanForms) {
        const offer = form.querySelector("[data-scan-start]");
        if (!offer) continue;
        offer.hidden = false;
        offer.addEventListener("click", (event) => { if (event.target.closest("button")) scanWithCamera(form); });
      }
    });
  }

  // A print button without inline script (the door plates).
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });

  // ---- forms refused, and what waits on this phone ------------------------------------------
  // A refused form comes back with its fields marked: show the first one, not the top of a
  // long form (a sweep of a big household is several screens).
  function showFirstInvalid(root) {
    const field = (root || document).querySelector('[aria-invalid="true"], .invalid input, .invalid select, .invalid textarea');
    if (!field) return;
    field.scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:after:settle", (event) => {
    const status = event.detail && event.detail.ctx && event.detail.ctx.response && event.detail.ctx.response.status;
    if (status === 422) showFirstInvalid(event.target);
  });
  if (document.querySelector("main .alert[role=alert]")) showFirstInvalid(document);

  // The figure on "Not yet reached": rows neither reached nor saved on this phone.
  function countToReach() {
    const figure = document.querySelector("[data-to-reach]");
    const box = document.getElementById("households");
    if (!figure || !box) return;
    figure.textContent = box.querySelectorAll("li:not([data-reached]):not([data-queued])").length;
  }

  // Lists marked data-outbox-mark show which of their rows have work saved on this phone
  // and not yet sent (a sweep list after a stairwell without signal).
  async function markQueued() {
    const lists = document.querySelectorAll("[data-outbox-mark]");
    if (!lists.length || !sw) return;
    const data = await ask({ type: "list" });
    if (!data) return;
    const waiting = new Set([...data.pending, ...data.attention].map((e) => new URL(e.url, location.origin).pathname));
    for (const list of lists) {
      for (const link of list.querySelectorAll("a[href]")) {
        const queued = waiting.has(new URL(link.href).pathname);
        const row = link.closest("li");
        if (row) row.toggleAttribute("data-queued", queued);  // done at the door, to be sent
        // Saved here supersedes what the list said ("not reached"): never both on one row.
        const outcome = link.querySelector(".chip[class*=' o-']");
        if (outcome) outcome.hidden = queued;
        let chip = link.querySelector(".chip.queued");
        if (queued && !chip) {
          chip = document.createElement("span");
          chip.className = "chip queued";
          chip.textContent = t("savedHere");
          (link.querySelector(".sub") || link).prepend(chip);
        } else if (!queued && chip) {
          chip.remove();
        }
      }
    }
    countToReach();
    const shown = document.querySelector("a[data-show].primary");
    if (shown) filterList(shown.dataset.show === "missing");
  }
  if (sw) {
    if (sw.controller) markQueued();
    sw.addEventListener("controllerchange", markQueued);
    document.addEventListener("gridline:outbox", markQueued);
  }

  // "Not yet reached" on a sweep list: filtered in place, so it works with no signal too.
  // A building or unit with nothing left to do drops out with its rows.
  function filterList(missing) {
    const box = document.getElementById("households");
    if (!box) return;
    for (const row of box.querySelectorAll("li")) row.hidden = missing && (row.hasAttribute("data-reached") || row.hasAttribute("data-queued"));
    for (const group of box.querySelectorAll(".walk-group")) group.hidden = !group.querySelector("li:not([hidden])");
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("a[data-show]");
    if (!button || !document.querySelector("#households [data-outbox-mark]")) return;
    event.preventDefault();
    filterList(button.dataset.show === "missing");
    for (const other of document.querySelectorAll("a[data-show]")) other.classList.toggle("primary", other === button);
  });

  // "Everyone present / sampled / green" on a sweep form: one tap for the usual door, then
  // change who differs. data-all="<check>:<value>".
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-all]");
    if (!button) return;
    const form = button.closest("form");
    const [check, value] = button.dataset.all.split(":");
    for (const radio of form.querySelectorAll(`input[type=radio][name$=".${check}"][value="${value}"]`)) radio.checked = true;
    const visited = form.querySelector("input[name=outcome][value=visited]");
    if (visited && !form.querySelector("input[name=outcome]:checked")) visited.checked = true;
  });

  // A sweep saved on this phone (no signal) goes on to the next door, as it does online:
  // that page is saved on the phone too, and says the last one was kept.
  const SAVED_KEY = "gridline:saved-here";
  document.addEventListener("htmx:after:request", (event) => {
    const ctx = event.detail && event.detail.ctx;
    const response = ctx && ctx.response;
    const form = ctx && ctx.sourceElement && ctx.sourceElement.closest && ctx.sourceElement.closest("form[data-next]");
    if (!form || !response || response.status !== 202 || !response.headers || response.headers.get("X-Gridline-Cache") !== "outbox") return;
    try { sessionStorage.setItem(SAVED_KEY, form.dataset.savedText || ""); } catch (e) { /* private mode */ }
    window.location.assign(form.dataset.next);
  });
  const savedHere = document.getElementById("saved-here");
  if (savedHere) {
    let text = null;
    try { text = sessionStorage.getItem(SAVED_KEY); sessionStorage.removeItem(SAVED_KEY); } catch (e) { text = null; }
    if (text) { savedHere.textContent = text; savedHere.hidden = false; }
  }
})();
