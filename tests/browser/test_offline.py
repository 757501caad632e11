"""The offline engine in Chromium (docs/offline.md): what a grid head notices in a stairwell with no
signal, proved with the server process stopped or the browser context set offline.

Each test signs in a fresh phone context, waits for the service worker to control the page,
works on a household of the grid head's grid that no other test here touches, and leaves the
server running. What the server holds is read straight from the SQLite file, read-only.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .support import LiveServer, path_of
from .phone import (AGE_SAVED_COPY, BAD_ID, CACHE_NAMES, DISCARD_CONFIRM, DUPLICATE_ENTRY, GOOD_ID, ID_INVALID,
                    IS_SAVED, MARK, OFFLINE_NOISE, QUEUE_PERSONS, SAME_DOCUMENT, SIGN_IN_AGAIN, add_person, ask_worker,
                    expect_saved_on_phone, queue_writes, open_household, outbox, persons_named, prepare_for_offline, read_db,
                    signed_in_phone, user_key, wait_controlled, wait_until)

pytestmark = pytest.mark.browser


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def households(live_server: LiveServer) -> list[int]:
    """Households of the grid head's grid in walking order, minus those other browser tests open."""
    demo = live_server.demo
    [(grid_path,)] = read_db(
        live_server, "SELECT p.path FROM role_grant g JOIN account a ON a.id = g.user JOIN place p ON p.id = g.place"
        " WHERE a.username = 'gridhead' AND g.role = 'grid_head'")
    rows = read_db(live_server, "SELECT id FROM household WHERE path LIKE ? ORDER BY sort_key", grid_path + "%")
    taken = {demo.resident_household, demo.neighbour_household, *demo.walking_order}
    free = [h for (h,) in rows if h not in taken]
    assert len(free) >= 13, "enough households in the grid for one per test"
    return free


@pytest.fixture(autouse=True)
def server_left_running(live_server: LiveServer) -> Iterator[None]:
    yield
    live_server.start()


# ---------------------------------------------------------------------------- 1. reads


def test_prepared_household_opens_offline_with_its_age_shown(open_page, server, demo, households, watch):
    page = signed_in_phone(open_page, server)
    user = user_key(page)
    fresh, aged = households[0], households[1]
    started = time.monotonic()
    urls = prepare_for_offline(page)
    prepared_in = time.monotonic() - started
    assert f"/households/{fresh}" in urls and f"/households/{aged}" in urls
    assert f"/households/{demo.far_household}" not in urls
    print(f"\n  prepared {len(urls)} pages in {prepared_in:.1f} s: {page.locator('#prepare-result').inner_text()}")
    # One copy as if it had been prepared two hours ago, before going up the stairs.
    assert page.evaluate(AGE_SAVED_COPY, [user, f"/households/{aged}", 2])

    with server.down():
        # Never opened on this phone: it comes from what "prepare" saved.
        response = page.goto(f"/households/{fresh}")
        assert response is not None and response.status == 200
        assert response.headers.get("x-gridline-cache") == "page", "answered by the saved copy"
        expect(page.locator("main h1")).not_to_be_empty()
        expect(page.locator("#members")).to_be_visible()
        stale = page.locator("#stale")
        expect(stale, "a banner says this is an offline copy and how old").to_be_visible()
        expect(stale).to_have_text(re.compile(r"^离线副本，保存于(此刻|\d+分钟前)，内容可能不是最新。$"))

        response = page.goto(f"/households/{aged}")
        assert response is not None and response.headers.get("x-gridline-cache") == "page"
        expect(page.locator("#stale")).to_be_visible()
        expect(page.locator("#stale")).to_have_text("离线副本，保存于2小时前，内容可能不是最新。")

        # Not prepared (a household of another community): the offline page, not an error.
        response = page.goto(f"/households/{demo.far_household}")
        assert response is not None and response.headers.get("x-gridline-cache") == "shell"
        expect(page.locator("main h1")).to_have_text("无网络连接")
    assert watch.problems(ignore=OFFLINE_NOISE) == []


# ---------------------------------------------------------------------------- 2. writes


def test_offline_write_is_pending_survives_the_tab_and_is_applied_once(open_page, server, households, watch):
    page = signed_in_phone(open_page, server)
    context = page.context
    household, name = households[2], "离线甲"
    open_household(page, household)
    wait_until(page, lambda: page.evaluate(IS_SAVED, [user_key(page), f"/households/{household}"]),
               "the opened page to be saved on the phone")

    server.stop()
    # No signal on the stairs: the page opened a moment ago still opens.
    response = page.reload()
    assert response is not None and response.headers.get("x-gridline-cache") == "page"
    add_person(page, name)
    expect_saved_on_phone(page, 1)
    [entry] = outbox(page)
    assert entry["state"] == "pending" and entry["headers"]["idempotency-key"]
    assert entry["headers"]["x-occurred-at"], "the device time travels with the write"
    assert persons_named(server, household, name) == 0

    # The tab is closed; later, with signal again, another page of the app is opened.
    page.close()
    page = context.new_page()
    server.start()
    page.goto("/")
    wait_until(page, lambda: outbox(page) == [], "the outbox to empty after the page load replay")
    expect(page.locator("#outbox-count"), "nothing unsent any more").to_be_hidden()

    open_household(page, household)
    expect(page.locator("#members .list .main", has_text=name)).to_have_count(1)
    assert persons_named(server, household, name) == 1, "applied exactly once"
    assert watch.problems(ignore=OFFLINE_NOISE) == []


def test_a_member_corrected_on_the_saved_household_page_offline_is_applied_once(open_page, server, households, watch):
    """Persons are corrected where the household's page lists them, so the page the phone
    prepared is enough: the correction carries the version it was made on."""
    page = signed_in_phone(open_page, server)
    household = households[12]
    [(person, before, version)] = read_db(
        server, "SELECT id, name, version FROM person WHERE household = ? ORDER BY id LIMIT 1", household)
    open_household(page, household)
    wait_until(page, lambda: page.evaluate(IS_SAVED, [user_key(page), f"/households/{household}"]),
               "the opened page to be saved on the phone")

    with server.down():
        response = page.reload()
        assert response is not None and response.headers.get("x-gridline-cache") == "page"
        page.locator(f"#edit-person-{person} summary").tap()
        page.locator(f"#edit-person-{person} [name=name]").fill(before + "改")
        page.locator(f"#edit-person-{person} button[type=submit]").tap()
        expect_saved_on_phone(page, 1)
        assert read_db(server, "SELECT name FROM person WHERE id = ?", person) == [(before,)]

    page.goto("/")
    wait_until(page, lambda: outbox(page) == [], "the outbox to empty after the page load replay")
    assert read_db(server, "SELECT name, version FROM person WHERE id = ?", person) == [(before + "改", version + 1)]
    assert read_db(server, "SELECT count(*) FROM conflict WHERE subject = ?", f"person:{person}") == [(0,)]
    open_household(page, household)
    expect(page.locator("#members .list .main", has_text=before + "改")).to_have_count(1)
    assert watch.problems(ignore=OFFLINE_NOISE) == []


def test_the_same_stored_request_replayed_twice_is_applied_once(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, name = households[3], "离线乙"
    open_household(page, household)

    with server.down():
        add_person(page, name)
        expect_saved_on_phone(page, 1)
        key = page.evaluate(DUPLICATE_ENTRY)
        entries = outbox(page)
        assert len(entries) == 2 and {e["headers"]["idempotency-key"] for e in entries} == {key}
        assert entries[0]["id"] != entries[1]["id"]

    page.goto("/sync")
    page.get_by_role("button", name="立即发送").tap()
    # An entry leaves the outbox only on a 2xx/3xx answer from the server: both were answered.
    wait_until(page, lambda: outbox(page) == [], "both copies to leave the outbox")
    assert persons_named(server, household, name) == 1, "the repeat changed nothing"
    assert read_db(server, "SELECT count(*) FROM idempotency_record WHERE key = ?", key) == [(1,)]
    expect(page.locator("#outbox-count")).to_be_hidden()


def test_refused_write_needs_attention_with_the_reason_and_can_be_fixed(open_page, server, households, watch):
    page = signed_in_phone(open_page, server)
    household, name = households[4], "离线丙"
    open_household(page, household)

    with server.down():
        # The browser accepts any text here; the server checks the check digit.
        add_person(page, name, id_number=BAD_ID)
        expect_saved_on_phone(page, 1)

    page.goto("/sync")
    attention = page.locator("#attention-list > li")
    expect(attention, "the refused write is listed, not dropped").to_have_count(1)
    expect(attention.locator(".error"), "with the server's reason").to_contain_text(ID_INVALID)
    reason = attention.locator(".error").inner_text()
    assert reason == ID_INVALID, "the server's message itself, not the text of the whole form"
    expect(page.locator("#pending-list > li")).to_have_count(0)
    badge = page.locator("#outbox-count")
    expect(badge).to_be_visible()
    expect(badge).to_have_class(re.compile(r"\bbad\b"))
    assert persons_named(server, household, name) == 0

    fix = attention.locator("form.fix")
    expect(fix.locator("[name=id_number]")).to_have_value(BAD_ID)
    fix.locator("[name=id_number]").fill(GOOD_ID)
    fix.get_by_role("button", name="重新发送").tap()
    expect(page.locator("#attention-list > li")).to_have_count(0)
    expect(page.locator("#attention-empty")).to_be_visible()
    expect(badge).to_be_hidden()
    assert read_db(server, "SELECT id_number FROM person WHERE household = ? AND name = ?", household, name) == [
        (GOOD_ID,)], "added once, with the corrected number"
    assert outbox(page) == []
    assert watch.problems(ignore=OFFLINE_NOISE + ("status of 422",)) == []


def test_session_ended_while_offline_keeps_the_queue_until_signed_in_again(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, name = households[5], "离线丁"
    open_household(page, household)

    server.stop()
    add_person(page, name)
    expect_saved_on_phone(page, 1)
    # Meanwhile the session ends on the server (signed out elsewhere, or expired).
    [token] = [c["value"] for c in page.context.cookies() if c["name"] == "gl_session"]
    connection = sqlite3.connect(server.data_dir / "gridline.sqlite3")
    try:
        with connection:
            revoked = connection.execute(
                "UPDATE signin_session SET revoked_at = last_seen_at WHERE token_hash = ? AND revoked_at IS NULL",
                (hashlib.sha256(token.encode()).hexdigest(),)).rowcount
    finally:
        connection.close()
    assert revoked == 1
    server.start()

    # With signal again the phone opens the app: the replay is refused with 401.
    page.goto("/sync")
    page.wait_for_url(re.compile(r"/signin\?next="))
    banner = page.locator("#signin-again")
    expect(banner, "the phone asks to sign in again").to_be_visible()
    expect(banner).to_have_text(SIGN_IN_AGAIN)
    status = ask_worker(page, {"type": "status"})
    assert status and status["needsSignIn"] and status["pending"] == 1, status
    [entry] = outbox(page)
    assert entry["state"] == "pending", "kept, not dropped or moved to attention"
    assert persons_named(server, household, name) == 0

    # Signing in again through the banner sends it.
    banner.locator("a").tap()
    page.wait_for_url(re.compile(r"/signin\?next=/sync"))
    page.locator("#f-username").fill("gridhead")
    page.locator("#f-password").fill("gridline-demo")
    page.locator("#signin button[type=submit]").tap()
    page.wait_for_url(server.url + "/sync")
    wait_until(page, lambda: outbox(page) == [], "the outbox to empty after signing in again")
    expect(page.locator("#outbox-count")).to_be_hidden()
    expect(page.locator("#signin-again")).to_be_hidden()
    assert persons_named(server, household, name) == 1, "applied once"


# ---------------------------------------------------------------------------- 3. signing out


def test_signing_out_purges_this_users_saved_pages_and_outbox(open_page, server, households):
    page = signed_in_phone(open_page, server)
    user = user_key(page)
    household = households[6]
    prepare_for_offline(page)
    assert f"gridline-pages-{user}" in page.evaluate(CACHE_NAMES)

    page.goto("/account")
    page.locator("form.signout").get_by_role("button", name="退出登录").tap()
    page.wait_for_url(re.compile(r"/signin$"))
    names = page.evaluate(CACHE_NAMES)
    assert not [n for n in names if n.startswith("gridline-pages-")], names
    assert [n for n in names if n.startswith("gridline-shell-")], "the shell (no personal data) stays"
    assert [e for e in outbox(page) if e["user"] == user] == []
    assert page.request.get("/", max_redirects=0).status in (302, 303), "signed out on the server too"

    with server.down():
        response = page.goto(f"/households/{household}")
        assert response is not None and response.headers.get("x-gridline-cache") == "shell"
        expect(page.locator("main h1")).to_have_text("无网络连接")
        expect(page.locator("#members")).to_have_count(0)


def test_sign_out_with_unsent_work_refuses_until_it_is_discarded(open_page, server, households):
    page = signed_in_phone(open_page, server)
    user = user_key(page)
    household, name = households[7], "离线戊"
    open_household(page, household)
    with server.down():
        add_person(page, name, id_number=BAD_ID)
        expect_saved_on_phone(page, 1)

    # Back online the server refuses it: it stays on the phone, under "needs attention".
    page.goto("/account")
    wait_until(page, lambda: (ask_worker(page, {"type": "status"}) or {}).get("attention") == 1,
               "the refused write to need attention")
    expect(page.locator("#outbox-count")).to_have_text("1 条未发送")
    page.locator("form.signout").get_by_role("button", name="退出登录").tap()
    page.wait_for_url(re.compile(r"/sync\?signout=1$"))
    expect(page.locator("main h1").first).to_have_text("本机有未发送的内容")
    expect(page.locator("#attention-list > li"), "the unsent item is listed").to_have_count(1)
    expect(page.locator("#attention-list > li .error")).to_contain_text(ID_INVALID)
    assert page.request.get("/", max_redirects=0).status == 200, "not signed out"
    assert f"gridline-pages-{user}" in page.evaluate(CACHE_NAMES), "nothing purged"

    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="放弃全部并退出").tap()
    page.wait_for_url(re.compile(r"/signin$"))
    assert dialogs == [DISCARD_CONFIRM], "discarding asked first"
    assert outbox(page) == []
    assert not [n for n in page.evaluate(CACHE_NAMES) if n.startswith("gridline-pages-")]
    assert page.request.get("/", max_redirects=0).status in (302, 303), "signed out on the server"
    assert persons_named(server, household, name) == 0, "discarded work was never applied"


# ---------------------------------------------------------------------------- 4. delivery


def test_write_made_with_the_phone_offline_is_delivered_when_it_is_back_without_reload(
        open_page, server, households, watch):
    page = signed_in_phone(open_page, server)
    context = page.context
    household, name = households[8], "离线己"
    open_household(page, household)
    page.evaluate(MARK)

    context.set_offline(True)
    add_person(page, name)
    expect_saved_on_phone(page, 1)
    page.wait_for_timeout(300)
    assert persons_named(server, household, name) == 0

    context.set_offline(False)
    started = time.monotonic()
    wait_until(page, lambda: persons_named(server, household, name), "the write to arrive once online")
    print(f"\n  delivered {time.monotonic() - started:.2f} s after the phone came back online")
    expect(page.locator("#outbox-count"), "the badge clears by itself").to_be_hidden()
    assert page.evaluate(SAME_DOCUMENT), "no reload was needed"
    assert path_of(page) == f"/households/{household}"
    assert outbox(page) == []
    assert persons_named(server, household, name) == 1
    assert watch.problems(ignore=OFFLINE_NOISE) == []


def test_two_hundred_queued_writes_sync_within_five_seconds(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, prefix, count = households[9], "批量", 200
    page.goto("/sync")
    wait_controlled(page)

    server.stop()
    started = time.monotonic()
    statuses = queue_writes(page, household, count, prefix)
    queued_in = time.monotonic() - started
    assert statuses == [202] * count, "each answered 'saved on this phone'"
    assert len(outbox(page)) == count
    expect(page.locator("#outbox-count")).to_have_text(f"{count} 条未发送")

    server.start()
    back = time.monotonic()
    page.get_by_role("button", name="立即发送").tap()

    def all_applied() -> bool:
        [(n,)] = read_db(server, "SELECT count(*) FROM person WHERE household = ? AND name LIKE ?",
                         household, prefix + "%")
        return n >= count and outbox(page) == []

    wait_until(page, all_applied, f"{count} writes to sync", timeout_ms=30_000)
    took = time.monotonic() - back
    print(f"\n  {count} writes queued offline in {queued_in:.1f} s; {count} queued writes synced in {took:.1f} s")
    names = [n for (n,) in read_db(server, "SELECT name FROM person WHERE household = ? AND name LIKE ? ORDER BY id",
                                   household, prefix + "%")]
    assert names == [f"{prefix}{i}" for i in range(1, count + 1)], "each once, in the order they were made"
    expect(page.locator("#outbox-count")).to_be_hidden()
    assert took < 5, f"{count} queued writes took {took:.1f} s to sync"


def test_a_new_version_waits_for_an_idle_outbox_then_offers_to_reload(open_page, server):
    """A release reaches the phone as a waiting service worker; the page offers
    "new version — reload" (only with nothing unsent), and reloading runs the new one."""
    page = signed_in_phone(open_page, server)
    running = ("() => new Promise((resolve) => { const c = new MessageChannel();"
               " c.port1.onmessage = (e) => resolve(e.data);"
               " navigator.serviceWorker.controller.postMessage({type: 'version'}, [c.port2]); })")
    first = page.evaluate(running)
    expect(page.locator("#update")).to_be_hidden()
    server.extra_env["GRIDLINE_BUILD"] = "next"
    try:
        server.restart()
        page.evaluate("async () => { const r = await navigator.serviceWorker.getRegistration(); await r.update(); }")
        page.reload()
        banner = page.locator("#update")
        expect(banner).to_be_visible(timeout=15000)
        expect(banner).to_contain_text("网格通有新版本")
        with page.expect_navigation():  # the new worker takes over, and the page reloads under it
            banner.get_by_role("button", name="刷新").tap()
        page.wait_for_load_state()
        now = page.evaluate(running)
        assert now.endswith("-next") and now != first, (first, now)
        expect(page.locator("#update")).to_be_hidden()
    finally:
        server.extra_env.pop("GRIDLINE_BUILD", None)
        server.restart()


# ---------------------------------------------------------------------------- 5. batches


def queue_offline(page: Any, server: LiveServer, household: int, persons: list[tuple[str, str]]) -> None:
    page.goto("/sync")
    wait_controlled(page)
    with server.down():
        assert page.evaluate(QUEUE_PERSONS, [household, persons]) == [202] * len(persons)
    assert len(outbox(page)) == len(persons)


def names_in(server: LiveServer, household: int, prefix: str) -> list[str]:
    return [n for (n,) in read_db(server, "SELECT name FROM person WHERE household = ? AND name LIKE ? ORDER BY id",
                                  household, prefix + "%")]


def sent_by_worker(context: Any) -> list[str]:
    """"METHOD path" of every write the service worker itself sends from now on."""
    sent: list[str] = []
    context.on("request", lambda request: sent.append(f"POST {urlsplit(request.url).path}")
               if request.service_worker is not None and request.method == "POST" else None)
    return sent


def test_the_outbox_goes_in_batches_of_fifty_in_order(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, prefix, count = households[10], "成批", 120
    queue_offline(page, server, household, [(f"{prefix}{i}", "") for i in range(1, count + 1)])
    sent = sent_by_worker(page.context)
    page.get_by_role("button", name="立即发送").tap()
    wait_until(page, lambda: outbox(page) == [], "the outbox to empty", timeout_ms=30_000)
    assert names_in(server, household, prefix) == [f"{prefix}{i}" for i in range(1, count + 1)], "each once, in order"
    assert 1 <= sent.count("POST /sync/batch") <= 3, sent  # 50 + 50 + 20 (fewer if a replay began sooner)
    assert not [s for s in sent if s.startswith("POST /households/")], "none sent one by one"


def test_a_refused_write_in_a_batch_needs_attention_and_the_rest_is_applied(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, prefix = households[11], "批中"
    queue_offline(page, server, household, [(f"{prefix}甲", ""), (f"{prefix}乙", BAD_ID), (f"{prefix}丙", GOOD_ID)])
    page.get_by_role("button", name="立即发送").tap()
    attention = page.locator("#attention-list > li")
    expect(attention).to_have_count(1)
    expect(attention.locator(".error")).to_have_text(ID_INVALID)
    expect(page.locator("#pending-list > li")).to_have_count(0)
    assert names_in(server, household, prefix) == [f"{prefix}甲", f"{prefix}丙"]
    [entry] = outbox(page)
    assert entry["state"] == "attention" and entry["status"] == 422


def test_a_busy_server_in_a_batch_holds_back_what_follows(open_page, server, households):
    """The first write of a batch answered 503: it backs off and everything after it waits."""
    page = signed_in_phone(open_page, server)
    household, prefix = households[10], "稍后"
    busy = '{"results": [{"status": 503, "replayed": false, "body": "<p>busy</p>"}]}'
    page.context.route("**/sync/batch", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                    body=busy))
    queue_offline(page, server, household, [(f"{prefix}{i}", "") for i in range(1, 4)])
    tried = {e["id"]: e["attempts"] for e in outbox(page)}  # sending while the server was down counts too
    ask_worker(page, {"type": "replay", "force": True, "wait": True})
    first, *rest = sorted(outbox(page), key=lambda e: e["createdAt"])
    assert first["state"] == "pending" and first["attempts"] == tried[first["id"]] + 1 and first["nextAt"] > 0
    assert [(e["state"], e["attempts"]) for e in rest] == [("pending", tried[e["id"]]) for e in rest]
    assert names_in(server, household, prefix) == []

    page.context.unroute("**/sync/batch")
    ask_worker(page, {"type": "replay", "force": True, "wait": True})
    assert outbox(page) == []
    assert names_in(server, household, prefix) == [f"{prefix}{i}" for i in range(1, 4)]


def test_a_server_without_batches_is_sent_the_writes_one_by_one(open_page, server, households):
    page = signed_in_phone(open_page, server)
    household, prefix = households[11], "旧服务器"
    asked: list[str] = []
    page.context.route("**/sync/batch", lambda route: (asked.append(route.request.url),
                                                       route.fulfill(status=404, body="Not Found")))
    queue_offline(page, server, household, [(f"{prefix}{i}", "") for i in range(1, 4)])
    ask_worker(page, {"type": "replay", "force": True, "wait": True})
    # Every batch was answered 404, yet everything arrived: one by one, each once, in order.
    assert asked, "the batch was asked for first"
    assert outbox(page) == []
    assert names_in(server, household, prefix) == [f"{prefix}{i}" for i in range(1, 4)]
