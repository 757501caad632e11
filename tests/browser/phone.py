"""The phone, as the browser tests drive it: the texts a user reads, signing in, preparing
for offline, the outbox, a household's page and sweep form, and what the server holds (read
straight from its SQLite file, read-only). Test modules import from here, never from each other."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from .support import LiveServer, in_app, path_of, sign_in

ID_INVALID = "身份证号无效，请核对 18 位号码。"
SAVED_ON_PHONE = "已保存在本机，网络恢复后自动发送。"
SIGN_IN_AGAIN = "登录已失效。请重新登录，以发送本机保存的内容。"
DISCARD_CONFIRM = "确定放弃吗？它将不会再被发送。"
# Failed loads are expected while the server is down or the phone is offline.
OFFLINE_NOISE = ("ERR_CONNECTION_REFUSED", "ERR_INTERNET_DISCONNECTED", "ERR_FAILED", "status of 401",
                 "status of 503")
MARK = "window.__gridlineMark = 'same document'"
SAME_DOCUMENT = "window.__gridlineMark === 'same document'"

# ---------------------------------------------------------------------------- page-side probes
# Functions, not bare expressions: the app's CSP allows no eval, and these run as functions.

CONTROLLED = "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"

# A question to the service worker, the way app.js asks it (a MessageChannel reply).
ASK_WORKER = """(message) => new Promise((resolve) => {
  const worker = navigator.serviceWorker.controller;
  if (!worker) return resolve(null);
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => resolve(event.data);
  worker.postMessage(message, [channel.port2]);
  setTimeout(() => resolve(null), 8000);
})"""

# The raw outbox in IndexedDB, every user's entries. Never creates the database from here
# (an empty version-1 database would stop the worker from making its stores).
_OPEN_DB = """
const openOutbox = () => new Promise((resolve, reject) => {
  const open = indexedDB.open("gridline");
  open.onupgradeneeded = () => open.transaction.abort();
  open.onerror = () => resolve(null);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("outbox")) { db.close(); resolve(null); } else resolve(db);
  };
});
"""
OUTBOX = "async () => {" + _OPEN_DB + """
  const db = await openOutbox();
  if (!db) return [];
  return new Promise((resolve, reject) => {
    const request = db.transaction("outbox").objectStore("outbox").getAll();
    request.onsuccess = () => { db.close(); resolve(request.result); };
    request.onerror = () => { db.close(); reject(request.error); };
  });
}"""

# The same stored request twice: a copy of the first pending entry, same Idempotency-Key, new id.
DUPLICATE_ENTRY = "async () => {" + _OPEN_DB + """
  const db = await openOutbox();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("outbox", "readwrite");
    const store = tx.objectStore("outbox");
    const all = store.getAll();
    let copy = null;
    all.onsuccess = () => {
      const first = all.result.find((e) => e.state === "pending");
      copy = { ...first, headers: { ...first.headers }, createdAt: first.createdAt + 1 };
      delete copy.id;
      store.add(copy);
    };
    tx.oncomplete = () => { db.close(); resolve(copy && copy.headers["idempotency-key"]); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}"""

CACHE_NAMES = "() => caches.keys()"

# Make a saved copy look as if it was saved `hours` ago (as if prepared then).
AGE_SAVED_COPY = """async ([user, path, hours]) => {
  const cache = await caches.open(`gridline-pages-${user}`);
  const url = new URL(path, location.origin).toString();
  const hit = await cache.match(url);
  if (!hit) return null;
  const headers = new Headers(hit.headers);
  const savedAt = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  headers.set("X-Gridline-Saved-At", savedAt);
  await cache.put(url, new Response(await hit.arrayBuffer(), { status: 200, headers }));
  return savedAt;
}"""

IS_SAVED = """async ([user, path]) => {
  const cache = await caches.open(`gridline-pages-${user}`);
  return !!(await cache.match(new URL(path, location.origin).toString()));
}"""

# Writes fired from the page the way htmx sends them, through the service worker.
# Writes fired from the page as htmx sends them: a person each, with a name and an ID number
# ("" for none).
QUEUE_PERSONS = """async ([household, persons]) => {
  const statuses = [];
  for (const [name, idNumber] of persons) {
    const response = await fetch(`/households/${household}/persons`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "Idempotency-Key": crypto.randomUUID(),
        "X-Occurred-At": new Date().toISOString(),
        "HX-Request": "true",
      },
      body: new URLSearchParams({ name, relation: "other", id_number: idNumber }).toString(),
    });
    statuses.push(response.status);
  }
  return statuses;
}"""


def queue_writes(page: Any, household: int, count: int, prefix: str) -> list[int]:
    """`count` new persons named prefix1, prefix2, … posted from the page; their statuses."""
    return page.evaluate(QUEUE_PERSONS, [household, [[f"{prefix}{n}", ""] for n in range(1, count + 1)]])


# ---------------------------------------------------------------------------- helpers


def wait_until(page: Any, check: Callable[[], Any], what: str, timeout_ms: int = 10_000) -> Any:
    """Poll `check` (a Python callable) until it returns something truthy."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_ms} ms waiting for {what}")
        page.wait_for_timeout(50)


def wait_controlled(page: Any) -> None:
    wait_until(page, lambda: page.evaluate(CONTROLLED), "the service worker to control the page")


def ask_worker(page: Any, message: dict) -> dict | None:
    return page.evaluate(ASK_WORKER, message)


def outbox(page: Any) -> list[dict]:
    return page.evaluate(OUTBOX)


def user_key(page: Any) -> str:
    key = page.evaluate("() => document.documentElement.dataset.user || ''")
    assert key, "the page says who is signed in"
    return key


def read_db(server: LiveServer, sql: str, *args: Any) -> list[tuple]:
    connection = sqlite3.connect(f"file:{server.data_dir / 'gridline.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def persons_named(server: LiveServer, household: int, name: str) -> int:
    [(count,)] = read_db(server, "SELECT count(*) FROM person WHERE household = ? AND name = ?", household, name)
    return count


def id_number(first17: str) -> str:
    """An 18-character resident ID with the right check digit (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


BAD_ID = "110101199003070000"
GOOD_ID = id_number("11010119900307001")
assert BAD_ID[-1] != id_number(BAD_ID[:17])[-1], "the bad ID number really has a wrong check digit"


def add_person(page: Any, name: str, **fields: str) -> None:
    """Open "add a person", fill it in and press Add, the way a grid head does."""
    page.locator("#add-person summary").tap()
    page.locator("#add-person [name=name]").fill(name)
    for field_name, value in fields.items():
        page.locator(f"#add-person [name={field_name}]").fill(value)
    page.locator("#add-person button[type=submit]").tap()


def expect_saved_on_phone(page: Any, unsent: int = 1) -> None:
    expect(page.locator(".saved-offline"), "the form says it was saved on this phone").to_have_text(SAVED_ON_PHONE)
    badge = page.locator("#outbox-count")
    expect(badge, "the header shows what is unsent").to_be_visible()
    expect(badge).to_have_text(f"{unsent} 条未发送")


def prepare_for_offline(page: Any) -> list[str]:
    """/sync → "prepare for offline"; returns the manifest's URLs once all are saved."""
    urls = page.request.get("/sync/manifest").json()["urls"]
    page.goto("/sync")
    wait_controlled(page)
    page.get_by_role("button", name="准备离线使用").tap()
    result = page.locator("#prepare-result")
    expect(result, "prepare reports every page saved and the size").to_have_text(
        re.compile(rf"^已可离线使用：{len(urls)} 个页面，\d+(\.\d)? (KB|MB)$"), timeout=60_000)
    return urls


def open_household(page: Any, household: int) -> None:
    response = page.goto(f"/households/{household}")
    assert response is not None and response.ok
    expect(page.locator("#members")).to_be_visible()


def signed_in_phone(open_page: Callable[..., Any], server: LiveServer) -> Any:
    page = open_page()
    sign_in(page, server, "gridhead")
    wait_controlled(page)
    return page


# ---- a testing round and the grid head's sweep form -----------------------------------------------


NEW_ROUND = """
from datetime import timedelta

from web.campaigns.logic import create_campaign
from web.core.timeutil import now
from web.places.tables import Place


async def setup():
    sub = await Place.select().where(Place.kind == "subdistrict").first()
    campaign_id = await create_campaign({"name": "第6轮全员核酸", "kind": "testing_round", "checks": "present,sampled",
                                         "deadline": now() + timedelta(days=1), "questions": []}, sub, None)
    return {"campaign": campaign_id}
"""


def new_round(server: LiveServer) -> int:
    return in_app(server, NEW_ROUND)["campaign"]


def grid_households(server: LiveServer, count: int) -> list[tuple[int, int]]:
    """(household, first member) of the grid head's grid, the last ones in walking order
    (other tests take the first)."""
    [(grid_path,)] = read_db(
        server, "SELECT p.path FROM role_grant g JOIN account a ON a.id = g.user JOIN place p ON p.id = g.place"
        " WHERE a.username = 'gridhead' AND g.role = 'grid_head'")
    rows = read_db(server, "SELECT h.id, min(p.id) FROM household h JOIN person p ON p.household = h.id"
                           " WHERE h.path LIKE ? GROUP BY h.id, h.sort_key ORDER BY h.sort_key DESC", grid_path + "%")
    return rows[:count]


def grid_of(server: LiveServer) -> int:
    [(grid_id,)] = read_db(
        server, "SELECT g.place FROM role_grant g JOIN account a ON a.id = g.user"
        " WHERE a.username = 'gridhead' AND g.role = 'grid_head'")
    return grid_id


def figures(server: LiveServer, campaign: int) -> dict[str, int]:
    [(visits, reached, checked, sampled)] = read_db(
        server, "SELECT (SELECT count(*) FROM visit WHERE campaign = ?),"
        " (SELECT count(*) FROM household_status WHERE campaign = ? AND outcome = 'visited'),"
        " (SELECT count(*) FROM person_status WHERE campaign = ? AND checked),"
        " (SELECT count(*) FROM person_status WHERE campaign = ? AND sampled)", campaign, campaign, campaign, campaign)
    return {"visits": visits, "reached": reached, "checked": checked, "sampled": sampled}


def sweep(page: Any, campaign: int, household: int, member: int, unsent: int) -> None:
    """Open the household's sweep form (saved on the phone), record "visited" and the first
    member present and sampled, save."""
    response = page.goto(f"/campaigns/{campaign}/households/{household}")
    assert response is not None and response.headers.get("x-gridline-cache") == "page", "the prepared form"
    page.locator("input[name=outcome][value=visited]").check()
    page.locator(f"input[name='p{member}.present'][value=yes]").check()
    page.locator(f"input[name='p{member}.sampled'][value=yes]").check()
    page.locator("#sweep button[type=submit]").tap()
    # Saved on the phone, the next door opens (from the phone) as it does online, and says so.
    expect(page.locator("#saved-here")).to_contain_text("已存本机")
    assert path_of(page) != f"/campaigns/{campaign}/households/{household}"
    expect(page.locator("#outbox-count")).to_have_text(f"{unsent} 条未发送")
