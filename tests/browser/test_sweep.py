"""The grid head's sweep in Chromium: five households with the server stopped, then synced,
the coverage figures moved exactly once; a sweep queued for a round closed meanwhile
lands under "needs attention" with the server's reason."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect

from .phone import (OFFLINE_NOISE, figures, grid_households, grid_of, new_round, outbox, prepare_for_offline,
                    signed_in_phone, sweep, wait_until)

pytestmark = pytest.mark.browser


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
