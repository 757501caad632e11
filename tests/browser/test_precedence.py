"""A resident's self-report made after the grid head's visit, in Chromium at 360 px: the
head's form keeps what was verified at the door, shows what the resident said beside it,
and saving it again confirms the head's answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .support import open_resident_link, sign_in
from .phone import new_round, read_db

pytestmark = pytest.mark.browser


def test_a_later_self_report_waits_beside_the_heads_answer(open_page, server, demo):
    campaign = new_round(server)
    household = demo.resident_household
    [(member,)] = read_db(server, "SELECT min(id) FROM person WHERE household = ?", household)
    head = open_page(locale="en")
    sign_in(head, server, "gridhead")
    form = f"/campaigns/{campaign}/households/{household}"
    head.goto(form)
    head.locator("input[name=outcome][value=visited]").check()
    head.locator(f"input[name='p{member}.present'][value=yes]").check()
    head.locator(f"input[name='p{member}.sampled'][value=yes]").check()
    head.locator("#sweep button[type=submit]").tap()
    head.wait_for_url(lambda url: f"/households/{household}" not in url or "saved=" in url)

    resident = open_page(locale="en")
    open_resident_link(resident, server, demo)
    resident.goto(f"/my/campaigns/{campaign}")
    resident.locator(f"input[name='p{member}.present'][value=no]").check()
    resident.locator("#sweep button[type=submit]").tap()
    resident.wait_for_url(lambda url: "/my" in url and f"/my/campaigns/{campaign}" not in url)

    head.goto(form)
    present = head.locator(f"input[name='p{member}.present'][value=yes]")
    expect(present).to_be_checked()  # what the head saw at the door
    expect(head.locator(".member").first.locator(".chip.warn")).to_have_text("resident says: No")
    [(pending,)] = read_db(server, "SELECT count(*) FROM person_status WHERE campaign = ? AND self_reported", campaign)
    assert pending == 1
    head.locator("#sweep button[type=submit]").tap()
    head.wait_for_url(lambda url: "saved=" in url or f"/households/{household}" not in url)
    [(pending, checked)] = read_db(
        server, "SELECT sum(self_reported), sum(checked) FROM person_status WHERE campaign = ? AND person = ?",
        campaign, member)
    assert (pending, checked) == (0, 1)
    # Asked of the server itself (a busy server's page may come from the phone's saved copy).
    assert "resident says" not in head.request.get(form, headers={"Accept-Language": "en"}).text()
