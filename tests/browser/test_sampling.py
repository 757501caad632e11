"""At the sampling site with no signal (issue #4): the volunteer's phone opened the site page
before; the server is gone; a door code is typed, a member ticked; the tick waits on the
phone and reaches the server once, when it is back.

The round, its site and its slots are made by a script on the server's data directory (the
secretary's pages are proved in tests/test_sampling.py); what the server holds is read
from the SQLite file, read-only.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .support import LiveServer, in_app, sign_in
from .phone import IS_SAVED, OFFLINE_NOISE, outbox, read_db, user_key, wait_controlled, wait_until

pytestmark = pytest.mark.browser

SETUP = """
from datetime import time, timedelta
from decimal import Decimal

from web.campaigns.logic import create_campaign
from web.campaigns.tables import Campaign
from web.core.timeutil import now, today
from web.places.tables import Place
from web.sampling import logic


async def setup(grid_path):
    grid = await Place.select().where(Place.path == grid_path).first()
    campaign_id = await create_campaign({"name": "第5轮全员核酸", "kind": "testing_round", "checks": "sampled",
                                         "deadline": now() + timedelta(days=1), "questions": []}, grid, None)
    campaign = await Campaign.select().where(Campaign.id == campaign_id).first()
    site_id = await logic.save_site(campaign, {
        "place": grid, "name": "网格广场采样点", "address": "", "stations": 2, "per_minute": Decimal("1.5"),
        "day": today(), "opens": time(8, 0), "closes": time(12, 0)}, None)
    plan, _sites, _units = await logic.generate(campaign)
    return {"campaign": campaign_id, "site": site_id, "ok": plan.ok}
"""


def _round_with_a_site(server: LiveServer) -> dict[str, Any]:
    [(grid_path,)] = read_db(
        server, "SELECT p.path FROM role_grant g JOIN account a ON a.id = g.user JOIN place p ON p.id = g.place"
        " WHERE a.username = 'gridhead' AND g.role = 'grid_head'")
    facts = in_app(server, SETUP, grid_path)
    assert facts["ok"], "the grid fits the site's hours"
    return facts


def test_volunteer_ticks_a_member_sampled_offline_and_it_syncs_once(open_page, server, watch):
    facts = _round_with_a_site(server)
    site_url = f"/campaigns/{facts['campaign']}/sites/{facts['site']}"
    # A household of the site's slots with at least two members, the last one in walking order.
    rows = read_db(server, "SELECT h.id, h.door_code, p.id, p.name FROM sampling_slot s"
                           " JOIN household h ON h.path = s.path JOIN person p ON p.household = h.id"
                           " WHERE s.campaign = ? ORDER BY h.sort_key DESC, p.id", facts["campaign"])
    household, code = rows[0][0], rows[0][1]
    members = [(pid, name) for hid, _c, pid, name in rows if hid == household]
    assert len(members) >= 1
    person, name = members[0]

    page = open_page()
    sign_in(page, server, "volunteer")
    wait_controlled(page)
    response = page.goto(site_url)
    assert response is not None and response.ok
    expect(page.locator("main h1")).to_have_text("网格广场采样点")
    wait_until(page, lambda: page.evaluate(IS_SAVED, [user_key(page), site_url]),
               "the site page to be saved on the phone")

    server.stop()
    response = page.reload()
    assert response is not None and response.headers.get("x-gridline-cache") == "page", "the saved copy, offline"
    # Typed as heard at the door: app.js finds the household in the page, no network asked.
    code_input = page.locator("form[data-scan] [name=code]")
    code_input.fill(code.lower())
    code_input.press("Enter")
    page.wait_for_function("(code) => location.hash === '#d-' + code", arg=code)
    door = page.locator(f"#d-{code}")
    expect(door).to_be_visible()
    door.get_by_label(name).check()
    door.get_by_role("button", name="保存").tap()
    expect(door.locator(".saved-offline"), "the tick waits on the phone").to_be_visible()
    expect(page.locator("#outbox-count")).to_have_text("1 条未发送")
    [entry] = outbox(page)
    assert entry["state"] == "pending" and entry["url"].endswith(f"{site_url}/households/{household}")
    assert "网格广场采样点" in entry["label"]
    assert read_db(server, "SELECT count(*) FROM answer WHERE campaign = ?", facts["campaign"]) == [(0,)]

    server.start()
    page.goto("/")
    wait_until(page, lambda: outbox(page) == [], "the outbox to empty after the page load replay")
    assert read_db(server, "SELECT person, sampled FROM person_status WHERE campaign = ? AND household = ?",
                   facts["campaign"], household) == [(person, 1)]
    assert read_db(server, "SELECT person, item, value, source FROM answer WHERE campaign = ?", facts["campaign"]) == [
        (person, "sampled", "yes", "site")], "applied exactly once"
    page.goto(site_url)
    expect(page.locator(f"#d-{code}").get_by_label(name)).to_be_checked()
    assert watch.problems(ignore=OFFLINE_NOISE) == []
