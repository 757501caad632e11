"""The grid head's sweep in Chromium: five households with the server stopped, then synced,
the coverage figures moved exactly once; a sweep queued for a round closed meanwhile
lands under "needs attention" with the server's reason."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from playwright.sync_api import expect

from .support import LiveServer, in_app, path_of
from .test_offline import (OFFLINE_NOISE, outbox, prepare_for_offline, read_db, signed_in_phone,
                           wait_until)

pytestmark = pytest.mark.browser

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


def test_five_households_swept_offline_sync_once_and_move_the_figures(open_page, server, watch):
    households = grid_households(server, 6)
    campaign = new_round(server)
    page = signed_in_phone(open_page, server)
    urls = prepare_for_offline(page)
    for household, _member in households:
        assert f"/campaigns/{campaign}/households/{household}" in urls, "every sweep form is prepared"
    assert figures(server, campaign) == {"visits": 0, "reached": 0, "checked": 0, "sampled": 0}

    with server.down():
        for n, (household, member) in enumerate(households[:5], start=1):
            sweep(page, campaign, household, member, n)
        assert [e["state"] for e in outbox(page)] == ["pending"] * 5
        # The saved list marks the five doors done on this phone, so the head keeps track.
        page.goto(f"/campaigns/{campaign}/places/{grid_of(server)}")
        expect(page.locator("#households .chip.queued")).to_have_count(5)
        # "Not yet reached" works offline: the five (and every other reached door) drop out.
        page.locator("a[data-show=missing]").tap()
        for household, _member in households[:5]:
            expect(page.locator(f"#households a[href='/campaigns/{campaign}/households/{household}']")).to_be_hidden()
    page.goto("/")
    wait_until(page, lambda: outbox(page) == [], "the five sweeps to be sent", timeout_ms=20_000)
    expected = {"visits": 5, "reached": 5, "checked": 5, "sampled": 5}
    assert figures(server, campaign) == expected

    # Sending again (a second "send now", a reload) changes nothing: each sweep counted once.
    page.evaluate("() => navigator.serviceWorker.controller.postMessage({type: 'replay', force: true})")
    page.wait_for_timeout(500)
    assert figures(server, campaign) == expected
    page.goto(f"/campaigns/{campaign}/places/{grid_of(server)}")
    expect(page.locator("#progress")).to_contain_text("已到达住户")
    assert watch.problems(ignore=OFFLINE_NOISE) == []


def test_a_sweep_queued_for_a_round_closed_meanwhile_needs_attention_with_the_reason(open_page, server):
    household, member = grid_households(server, 8)[7]
    campaign = new_round(server)
    page = signed_in_phone(open_page, server)
    prepare_for_offline(page)
    with server.down():
        sweep(page, campaign, household, member, 1)
        # The secretary closed the round while this phone was in the stairwell.
        connection = sqlite3.connect(server.data_dir / "gridline.sqlite3", timeout=5)
        with connection:
            connection.execute("UPDATE campaign SET status = 'closed' WHERE id = ?", (campaign,))
        connection.close()
    page.goto("/sync")
    wait_until(page, lambda: [e["state"] for e in outbox(page)] == ["attention"], "the sweep to need attention")
    [entry] = outbox(page)
    assert "此任务已结束" in entry["reason"]
    assert figures(server, campaign)["visits"] == 0, "nothing recorded in a closed round"
