"""What a grid head and a resident do on a 360 px phone, as they would notice it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .support import open_resident_link, path_of, sign_in

pytestmark = pytest.mark.browser

MASKED = re.compile(r"1\d\d\*{4}\d{4}")
FULL = re.compile(r"(?<!\d)1\d{10}(?!\d)")
# Set on the page; a full reload would lose it.
MARK = "window.__gridlineMark = 'same document'"
SAME_DOCUMENT = "window.__gridlineMark === 'same document'"


def test_grid_head_walks_to_a_household_and_reveals_phones_in_place(page, server, demo, watch):
    sign_in(page, server, "gridhead")

    # Home: their own grid, as its grid head.
    grid_card = page.locator("main section.card").filter(has=page.locator("h2", has_text=demo.grid_name))
    expect(grid_card).to_be_visible()
    expect(grid_card.locator(".lead")).to_contain_text("网格长")

    # Households in walking order.
    grid_card.get_by_role("link", name="按走访顺序的住户").tap()
    page.wait_for_url(re.compile(r"/places/\d+$"))
    expect(page.locator("h1")).to_have_text(demo.grid_name)
    rows = page.locator("#households .list a.row")
    expect(rows.first).to_be_visible()
    hrefs = [rows.nth(i).get_attribute("href") for i in range(len(demo.walking_order))]
    assert hrefs == [f"/households/{h}" for h in demo.walking_order], "households are listed in walking order"

    # Open the first household that has anybody registered.
    row = rows.filter(has_text=re.compile(r"[1-9]\d* 人")).first
    row.tap()
    page.wait_for_url(re.compile(r"/households/\d+$"))
    household_url = path_of(page)
    rest_of_page = page.locator("main > :not(#members)")
    before = rest_of_page.all_inner_texts()
    members = page.locator("#members")
    masked = MASKED.findall(members.inner_text())
    assert masked, "members' phones are shown masked, like 138****1234"
    assert not re.search(r"1\d{10}", members.inner_text()), "no full phone number before the reveal"

    # Reveal: an htmx POST swaps the members in place.
    page.evaluate(MARK)
    with page.expect_response(lambda r: r.url.endswith("/reveal") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="显示手机号（将记录）").tap()
    assert answer.value.ok
    assert answer.value.request.headers.get("hx-request") == "true", "the reveal went through htmx"
    expect(page.get_by_role("button", name="显示手机号（将记录）"), "the reveal button is gone").to_have_count(0)
    expect(members, "full numbers replace the masked ones").not_to_contain_text(masked[0])
    shown = FULL.findall(members.inner_text())
    assert sorted(p[:3] + "****" + p[-4:] for p in shown) == sorted(masked), "the same numbers, now in full"
    assert not MASKED.search(members.inner_text()), "no masked number left in the list"
    # Each number sits in its person's row, beside name, sex and age (not dropped below it).
    for item in members.locator(".list > li").all():
        row_text = item.locator(".row").first.inner_text()
        outside = item.inner_text().replace(row_text, "")
        assert not FULL.search(outside), f"a phone number fell out of its row: {item.inner_html()}"

    # Not a page load: same address, same document, the rest of the page untouched.
    assert path_of(page) == household_url
    assert page.evaluate(SAME_DOCUMENT), "the page was not reloaded"
    assert rest_of_page.all_inner_texts() == before, "the rest of the page stayed as it was"
    expect(page.locator("nav.tabs")).to_be_visible()
    assert watch.problems() == []


def test_resident_sees_only_their_household(page, server, demo, watch):
    open_resident_link(page, server, demo)

    # Their household, everyone in it, and nobody else.
    names = [n.strip() for n in page.locator("main section.card").first.locator(".list .main").evaluate_all(
        "els => els.map(e => e.firstChild.textContent)")]
    assert names == list(demo.resident_members)
    expect(page.locator("nav.tabs")).to_have_count(0)  # no staff navigation

    # Their grid's heads, by name.
    heads = page.locator("main section.card").filter(has=page.locator("h2", has_text="网格"))
    for name in ("李网格长", "陈党小组长", "张楼栋长"):
        expect(heads).to_contain_text(name)

    # Anyone else's household is not there at all.
    for other in (demo.neighbour_household, demo.far_household):
        response = page.goto(f"/households/{other}")
        assert response.status == 404
        expect(page.locator("#error h1")).to_have_text("无法访问")
        expect(page.locator("#members")).to_have_count(0)
    assert watch.problems(ignore=("status of 404",)) == []


def test_language_switch_sticks(page, server, watch):
    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text("登录")

    page.get_by_role("button", name="English").tap()
    expect(page.locator("main h1")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert path_of(page).startswith("/signin")
    expect(page.get_by_role("button", name="中文")).to_be_visible()

    # The next page too, although the phone itself asks for Chinese.
    page.locator("#f-username").fill("gridhead")
    page.locator("#f-password").fill("gridline-demo")
    page.locator("#signin button[type=submit]").tap()
    page.wait_for_url(server.url + "/")
    expect(page.locator("nav.tabs")).to_contain_text("Search")
    expect(page.get_by_role("link", name="Households in walking order")).to_be_visible()
    page.goto("/search")
    expect(page.locator("main h1")).to_have_text("Search")
    assert watch.problems() == []


def test_search_filters_live_while_typing(page, server, demo, watch):
    sign_in(page, server, "gridhead")
    page.locator("nav.tabs").get_by_role("link", name="查找").tap()
    page.wait_for_url(server.url + "/search")
    page.evaluate(MARK)
    requests: list = []
    page.on("request", lambda r: requests.append(r) if "/search" in r.url else None)
    box = page.locator("#q")

    # A surname: people of that name appear, nothing else is loaded.
    surname = demo.surnames[0]
    box.tap()
    box.press_sequentially(surname)
    people = page.locator("#results .list a.row .main")
    expect(people.first, "results appear while typing, without pressing the search button").to_be_visible()
    found = people.all_inner_texts()
    assert found and all(surname in name for name in found), found

    # Typing on: a whole name, a key every 40 ms; one request once the typing pauses.
    target = demo.resident_members[0]
    box.fill("")
    expect(people, "clearing the box clears the results").to_have_count(0)
    requests.clear()
    box.press_sequentially(target, delay=40)
    expect(people.filter(has_text=target).first, f"{target} is found while typing").to_be_visible()
    narrowed = people.all_inner_texts()
    assert all(target in name for name in narrowed), narrowed
    assert len(requests) < len(target), f"{len(requests)} requests for {len(target)} keys: not debounced"

    # All of it through htmx, in the same document, at the same address.
    assert requests and all(r.headers.get("hx-request") == "true" for r in requests)
    assert all(not r.is_navigation_request() for r in requests)
    assert page.evaluate(SAME_DOCUMENT), "the page was not reloaded"
    assert path_of(page) == "/search"
    assert watch.problems() == []


def test_walking_list_filters_live_while_typing(page, server, demo, watch):
    """The grid's household list narrows as a room number is typed, without a page load."""
    sign_in(page, server, "gridhead")
    page.get_by_role("link", name="按走访顺序的住户").first.tap()
    page.wait_for_url(re.compile(r"/places/\d+$"))
    list_url = path_of(page)
    rows = page.locator("#households .list a.row")
    expect(rows.first).to_be_visible()
    everything = rows.count()
    page.evaluate(MARK)

    page.locator("#q").tap()
    page.locator("#q").press_sequentially("502", delay=40)
    expect(rows, "the list narrows while typing, without pressing the filter button").not_to_have_count(everything)
    addresses = rows.locator(".main").all_inner_texts()
    assert addresses and all("502" in a for a in addresses), addresses
    assert page.evaluate(SAME_DOCUMENT), "the page was not reloaded"
    assert path_of(page) == list_url
    assert watch.problems() == []
