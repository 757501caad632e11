"""Door plates and scanning them (issue #4): where a door code leads, who may follow it, the
printable plates of a place or a household, and the scan page's offline list."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest

from tests.conftest import ORIGIN
from web import db
from web.accounts.auth import token_hash
from web.accounts.logic import issue_link
from web.accounts.tables import HouseholdLink, RoleGrant, Session
from web.campaigns.logic import campaigns_over, create_campaign
from web.campaigns.tables import Campaign
from web.core.timeutil import now
from web.doors import logic
from web.households.tables import Household
from web.places.tables import Place

EN = {"Accept-Language": "en"}
PAGE = {"Accept": "text/html,application/xhtml+xml"}
WRONG_SHAPE = "A door code is 8 letters and digits, as printed on the plate."


def run(call, fn, *args):
    async def go():
        return await fn(*args)

    return call(go)


async def _spots() -> dict:
    """Where the demo users sit, and a household at each spot (as in the scope matrix):
    m1 the building head's micro-grid, m2 a sibling in the same grid g1, g2 another grid of
    the first community c1, x a grid of another community."""
    grants = await RoleGrant.select(RoleGrant.user.username, RoleGrant.place.id).where(
        RoleGrant.user.username.is_in(["secretary", "gridhead", "buildinghead"]))
    where = {g["user.username"]: g["place.id"] for g in grants}
    places = {p["id"]: p for p in await Place.select().order_by(Place.id)}
    c1, g1, m1 = places[where["secretary"]], places[where["gridhead"]], places[where["buildinghead"]]
    m2 = next(p for p in places.values() if p["parent"] == g1["id"] and p["id"] != m1["id"])
    g2 = next(p for p in places.values() if p["parent"] == c1["id"] and p["id"] != g1["id"])
    c2 = next(p for p in places.values() if p["kind"] == "community" and p["id"] != c1["id"])
    x = next(p for p in places.values() if p["parent"] == c2["id"])
    spots = {"c1": c1, "g1": g1, "m1": m1, "m2": m2, "g2": g2, "x": x}
    households = {}
    for name in ("m1", "m2", "g2", "x"):
        households[name] = await Household.select().where(Household.path.like(spots[name]["path"] + "%")).order_by(
            Household.sort_key).first()
    return {"places": spots, "households": households}


@pytest.fixture
def spots(call) -> dict:
    return call(_spots)


@pytest.fixture
def campaigns(call):
    """`open_campaign(place)` opens a campaign over a place; all are removed afterwards."""
    made: list[int] = []

    def open_campaign(place: dict, name: str = "门牌测试") -> int:
        values = {"name": name, "kind": "census", "deadline": now() + timedelta(days=1), "checks": "present",
                  "questions": []}
        campaign_id = run(call, create_campaign, values, place, None)
        made.append(campaign_id)
        return campaign_id

    yield open_campaign

    async def drop() -> None:
        async with db.write():
            await Campaign.delete().where(Campaign.id.is_in(made or [-1]))

    call(drop)


@pytest.fixture
def as_resident(world, client, call):
    """A resident signed in through a link of this test's own, removed afterwards."""
    made: list[tuple[str, str]] = []

    def enter(household_id: int):
        link = run(call, issue_link, household_id, None)
        client.as_(None)
        entered = client.get(f"/h/{link}", follow_redirects=False)
        assert entered.status_code == 303
        made.append((link, entered.cookies["gl_session"]))
        return client.as_(entered.cookies["gl_session"])

    yield enter

    async def drop() -> None:
        async with db.write():
            for link, session in made:
                await Session.delete().where(Session.token_hash == token_hash(session))
                await HouseholdLink.delete().where(HouseholdLink.token_hash == token_hash(link))

    call(drop)


def location(response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:300])
    return response.headers["location"]


def without_mine(call, household: dict) -> str:
    """Where a code leads when this test has opened no campaign (others may have left some)."""
    others = run(call, campaigns_over, household["path"])
    return f"/campaigns/{others[0]['id']}/households/{household['id']}" if others else f"/households/{household['id']}"


# ---- /d/{code}: where a door code leads ----------------------------------------------------------


def test_a_door_code_opens_the_household_when_no_campaign_is_open(as_user, call, spots):
    household = spots["households"]["m1"]
    for user in ("commander", "secretary", "gridhead", "partyleader", "buildinghead"):
        client = as_user(user)
        assert location(client.get(f"/d/{household['door_code']}", follow_redirects=False)) == without_mine(call, household)


def test_a_door_code_opens_the_sweep_form_of_the_newest_open_campaign_over_it(as_user, call, spots, campaigns):
    household, places = spots["households"]["m1"], spots["places"]
    community_round = campaigns(places["c1"])
    grid_census = campaigns(places["g1"])
    campaigns(places["g2"])  # newer, but over another grid: not this household's
    form = f"/campaigns/{grid_census}/households/{household['id']}"
    for user in ("commander", "secretary", "gridhead", "partyleader", "buildinghead"):
        client = as_user(user)
        assert location(client.get(f"/d/{household['door_code']}", follow_redirects=False)) == form, user
    # htmx gets the same place through HX-Redirect.
    answer = as_user("gridhead").get(f"/d/{household['door_code']}", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["hx-redirect"] == form

    # A closed campaign asks nothing more: the next newest open one does.
    async def close() -> None:
        async with db.write():
            await Campaign.update({Campaign.status: "closed"}).where(Campaign.id == grid_census)

    call(close)
    assert location(as_user("gridhead").get(f"/d/{household['door_code']}", follow_redirects=False)) == (
        f"/campaigns/{community_round}/households/{household['id']}")


def test_the_code_is_read_in_any_case_with_spaces_or_as_the_plate_url(as_user, call, spots):
    household = spots["households"]["m1"]
    code = household["door_code"]
    client = as_user("gridhead")
    expected = without_mine(call, household)
    assert location(client.get(f"/d/{code.lower()}", follow_redirects=False)) == expected
    for typed in (code.lower(), f" {code[:4]} {code[4:]} ", f"{code[:4]}-{code[4:]}", f"{ORIGIN}/d/{code.lower()}"):
        assert location(client.get("/d", params={"code": typed}, follow_redirects=False)) == expected, typed


def test_a_code_of_the_wrong_shape_is_refused_beside_the_field_or_not_found(as_user, call, spots):
    client = as_user("gridhead")
    for typed in ("", "ABC", "ABCDEFG0", "ABCDEFGHJ", "ABCD EFGO"):  # 0 and O are not on plates
        refused = client.get("/d", params={"code": typed}, headers=EN)
        assert refused.status_code == 422, typed
        assert re.search(r'<p class="error" id="e-code">' + re.escape(WRONG_SHAPE), refused.text)
        assert 'data-scan method="get" action="/d"' in refused.text
    assert client.get("/d", params={"code": "abc"}, headers={**EN, "HX-Request": "true"}).text.lstrip().startswith(
        '<form id="scan"')
    for path in ("/d/ABC", "/d/ABCDEFG0", "/d/ABCDEFGHJK"):
        assert client.get(path, headers=PAGE).status_code == 404


def test_an_unknown_code_is_not_found(as_user, call):
    async def unused() -> str:
        for code in ("ZZZZZZZZ", "YYYYYYYY", "XXXXXXXX"):
            if not await Household.exists().where(Household.door_code == code):
                return code
        raise AssertionError("no unused code")

    code = call(unused)
    client = as_user("commander")
    assert client.get(f"/d/{code}", headers=PAGE).status_code == 404
    assert client.get("/d", params={"code": code}, headers=PAGE).status_code == 404


OUT_OF_SCOPE = {  # role → households it must not reach by their codes
    "gridhead": ("g2", "x"),
    "partyleader": ("g2", "x"),
    "buildinghead": ("m2", "g2"),
    "secretary": ("x",),
    "volunteer": ("m1", "x"),
}


@pytest.mark.parametrize("user", sorted(OUT_OF_SCOPE))
def test_out_of_scope_codes_are_not_found_like_missing_ones(as_user, call, spots, campaigns, user):
    campaigns(spots["places"]["c1"])  # an open campaign changes nothing for them
    client = as_user(user)
    for spot in OUT_OF_SCOPE[user]:
        household = spots["households"][spot]
        for answer in (client.get(f"/d/{household['door_code']}", headers=PAGE, follow_redirects=False),
                       client.get("/d", params={"code": household["door_code"]}, headers=PAGE, follow_redirects=False),
                       client.get(f"/d/{household['door_code']}", headers={"HX-Request": "true"})):
            assert answer.status_code == 404, (user, spot, answer.status_code)
            assert f"/households/{household['id']}" not in answer.text
            assert "hx-redirect" not in answer.headers and "location" not in answer.headers


def test_residents_and_anonymous_visitors_cannot_follow_codes(as_user, as_resident, client, spots):
    own, neighbour = spots["households"]["m1"], spots["households"]["m2"]
    resident = as_resident(own["id"])
    for household in (own, neighbour):
        assert resident.get(f"/d/{household['door_code']}", headers=PAGE, follow_redirects=False).status_code == 404
        assert resident.get("/d", params={"code": household["door_code"]}, headers=PAGE).status_code == 404
    assert resident.get("/scan", headers=PAGE).status_code == 404
    anonymous = client.as_(None)
    answer = anonymous.get(f"/d/{own['door_code']}", headers=PAGE, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")
    assert anonymous.get(f"/d/{own['door_code']}", headers={"HX-Request": "true"}).status_code == 401
    assert anonymous.get("/scan", headers=PAGE, follow_redirects=False).headers["location"].startswith("/signin")


# ---- plates ----------------------------------------------------------------------------------


def _codes_under(call, place: dict) -> list[str]:
    async def codes() -> list[str]:
        rows = await Household.select(Household.door_code).where(Household.path.like(place["path"] + "%"))
        return [r["door_code"] for r in rows]

    return call(codes)


def test_a_grids_plates_are_one_page_set_with_a_qr_and_the_code_on_each(as_user, call, spots):
    grid = spots["places"]["g1"]
    codes = _codes_under(call, grid)
    page = as_user("gridhead").get(f"/places/{grid['id']}/plates", headers=EN)
    assert page.status_code == 200
    assert page.text.count('<article class="plate">') == len(codes)
    assert page.text.count("<svg") == len(codes)
    assert page.text.count('<div class="sheet">') == math.ceil(len(codes) / logic.PLATES_PER_SHEET)
    for code in codes:
        assert f'<p class="plate-code">{code}</p>' in page.text
    # The QR holds the plate's absolute URL, so a phone's own camera app opens it too.
    assert logic.qr_svg(f"{ORIGIN}/d/{codes[0]}") in page.text
    assert grid["name"] in page.text and "data-print" in page.text
    assert re.search(r'<link rel="stylesheet" href="/static/plates\.[0-9a-f]+\.css">', page.text)
    assert f"{len(codes)} plates" in page.text


def test_a_micro_grids_plates_and_one_households_plate(as_user, call, spots):
    micro, household = spots["places"]["m1"], spots["households"]["m1"]
    codes = _codes_under(call, micro)
    page = as_user("buildinghead").get(f"/places/{micro['id']}/plates")
    assert page.status_code == 200 and page.text.count('<article class="plate">') == len(codes)
    for user in ("gridhead", "partyleader", "buildinghead"):
        one = as_user(user).get(f"/households/{household['id']}/plate")
        assert one.status_code == 200, user
        assert one.text.count('<article class="plate">') == 1
        assert f'<p class="plate-code">{household["door_code"]}</p>' in one.text
        assert f'href="/households/{household["id"]}"' in one.text  # back to the household


def test_above_a_grid_the_plates_page_asks_which_grid(as_user, call, spots):
    community = spots["places"]["c1"]
    page = as_user("secretary").get(f"/places/{community['id']}/plates", headers=EN)
    assert page.status_code == 200
    assert '<article class="plate">' not in page.text and "one grid at a time" in page.text

    async def grids() -> list[int]:
        return [p["id"] for p in await Place.select(Place.id).where(Place.parent == community["id"])]

    for grid_id in call(grids):
        assert f'href="/places/{grid_id}/plates"' in page.text


def test_a_grid_too_big_for_one_print_asks_for_a_micro_grid(as_user, spots, monkeypatch):
    grid, micro = spots["places"]["g1"], spots["places"]["m1"]
    monkeypatch.setattr(logic, "MAX_PLATES", 3)
    page = as_user("gridhead").get(f"/places/{grid['id']}/plates", headers=EN)
    assert page.status_code == 200
    assert '<article class="plate">' not in page.text and "too many for one print" in page.text
    assert f'href="/places/{micro["id"]}/plates"' in page.text


PLATES_OUT = {  # role → places (and households) whose plates it must not get
    "gridhead": ("g2", "x"),
    "partyleader": ("x",),
    "buildinghead": ("g1", "m2", "g2"),
    "secretary": ("x",),
    "volunteer": ("c1", "g1", "m1"),
}


@pytest.mark.parametrize("user", sorted(PLATES_OUT))
def test_plates_out_of_scope_are_not_found(as_user, spots, user):
    client = as_user(user)
    for spot in PLATES_OUT[user]:
        place = spots["places"][spot]
        answer = client.get(f"/places/{place['id']}/plates", headers=PAGE)
        assert answer.status_code == 404, (user, spot)
        assert place["name"] not in answer.text
        household = spots["households"].get(spot)
        if household is not None:
            answer = client.get(f"/households/{household['id']}/plate", headers=PAGE)
            assert answer.status_code == 404, (user, spot)
            assert household["door_code"] not in answer.text
    assert client.get("/places/2000000000/plates", headers=PAGE).status_code == 404
    assert client.get("/households/2000000000/plate", headers=PAGE).status_code == 404


def test_residents_get_no_plates(as_resident, spots):
    household = spots["households"]["m1"]
    resident = as_resident(household["id"])
    assert resident.get(f"/households/{household['id']}/plate", headers=PAGE).status_code == 404
    assert resident.get(f"/places/{spots['places']['m1']['id']}/plates", headers=PAGE).status_code == 404


# ---- the scan page ----------------------------------------------------------------------------


def _anchors(text: str) -> dict[str, str]:
    return dict(re.findall(r'<a id="d-([0-9A-Z]{8})" href="([^"]+)" hidden></a>', text))


def test_the_scan_page_lists_the_users_households_for_offline_use(as_user, call, spots, campaigns):
    grid, micro = spots["places"]["g1"], spots["places"]["m1"]
    household = spots["households"]["m1"]
    page = as_user("gridhead").get("/scan", headers=EN)
    assert page.status_code == 200
    assert '<form id="scan" data-scan method="get" action="/d">' in page.text
    anchors = _anchors(page.text)
    assert set(anchors) == set(_codes_under(call, grid))
    assert anchors[household["door_code"]] == without_mine(call, household)

    census = campaigns(grid)
    anchors = _anchors(as_user("gridhead").get("/scan").text)
    assert anchors[household["door_code"]] == f"/campaigns/{census}/households/{household['id']}"
    assert all(url.startswith(f"/campaigns/{census}/households/") for url in anchors.values())

    assert set(_anchors(as_user("buildinghead").get("/scan").text)) == set(_codes_under(call, micro))
    volunteer = as_user("volunteer").get("/scan")
    assert volunteer.status_code == 200 and _anchors(volunteer.text) == {}


def test_the_scan_list_is_capped(as_user, monkeypatch):
    monkeypatch.setattr(logic, "MAX_PREPARED_HOUSEHOLDS", 5)
    assert len(_anchors(as_user("commander").get("/scan").text)) == 5


def test_normalise_matches_the_plate_alphabet():
    assert logic.normalise(" abcd-2345 ") == "ABCD2345"
    assert logic.normalise("https://gridline.example/d/abcd2345?x=1") == "ABCD2345"
    assert logic.well_formed("ABCD2345") and not logic.well_formed("ABCD0345") and not logic.well_formed("ABCD234")
