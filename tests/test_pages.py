"""HTTP tests of the pages and forms a grid head and a secretary use."""

from __future__ import annotations

import html
import re

from web.accounts.tables import Session
from web.audit.tables import AuditEntry
from web.households.tables import Household, Person
from web.places.tables import Place

EN = {"Accept-Language": "en"}


def _first(call, query):
    async def run():
        return await query

    return call(run)


def grid_of_gridhead(call) -> dict:
    return _first(call, Place.select().where(Place.kind == "grid").order_by(Place.id).first())


def test_grid_page_lists_households_in_walking_order(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    page = client.get(f"/places/{grid['id']}", headers=EN)
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'href="/households/(\d+)"', page.text)]
    expected = _first(call, Household.select(Household.id).where(Household.path.like(grid["path"] + "%")).order_by(Household.sort_key))
    assert ids == [row["id"] for row in expected]


def test_filter_returns_only_the_list_block_for_htmx(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    partial = client.get(f"/places/{grid['id']}", params={"q": "Shopfront-nothing-matches"}, headers={**EN, "HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="households">')
    assert "No household matches" in partial.text


def test_household_page_masks_phones_until_revealed_and_the_reveal_is_audited(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    person = _first(call, Person.select().where(Person.path.like(grid["path"] + "%") & (Person.phone != "")).first())
    page = client.get(f"/households/{person['household']}")
    assert person["phone"] not in page.text
    assert person["phone"][:3] + "****" + person["phone"][-4:] in page.text
    before = _first(call, AuditEntry.count().where(AuditEntry.subject == f"household:{person['household']}"))
    revealed = client.post(f"/households/{person['household']}/reveal", headers={"HX-Request": "true"})
    assert revealed.status_code == 200 and person["phone"] in revealed.text
    after = _first(call, AuditEntry.count().where(AuditEntry.subject == f"household:{person['household']}"))
    assert after == before + 1


def test_party_leader_sees_masked_data_only(as_user, call):
    client = as_user("partyleader")
    grid = grid_of_gridhead(call)
    person = _first(call, Person.select().where(Person.path.like(grid["path"] + "%") & (Person.id_number != "")).first())
    page = client.get(f"/persons/{person['id']}")
    assert page.status_code == 200 and person["id_number"] not in page.text
    assert client.post(f"/persons/{person['id']}/reveal").status_code == 404


def test_adding_a_person_with_bad_values_names_each_field_and_saves_nothing(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    household = _first(call, Household.select().where(Household.path.like(grid["path"] + "%")).first())
    count = _first(call, Person.count().where(Person.household == household["id"]))
    response = client.post(
        f"/households/{household['id']}/persons",
        data={"name": "", "birth_year": "1850", "phone": "12345", "id_number": "123456789012345678", "relation": "head"},
        headers={**EN, "HX-Request": "true"},
    )
    assert response.status_code == 422
    for message in ("Enter the person's name.", "Enter a number from 1900", "Enter a mobile number", "This ID number is not valid"):
        assert message in html.unescape(response.text)
    assert _first(call, Person.count().where(Person.household == household["id"])) == count


def test_adding_a_person_found_at_the_door(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    household = _first(call, Household.select().where(Household.path.like(grid["path"] + "%")).first())
    response = client.post(
        f"/households/{household['id']}/persons",
        data={"name": "赵租客", "sex": "M", "birth_year": "1990", "phone": "13900001111", "relation": "renter", "tags": "renter"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(f"/households/{household['id']}")
    assert "赵租客" in page.text and "租户" in page.text


def test_a_form_reads_the_same_sent_urlencoded_or_as_multipart(as_user, call):
    """Forms are read straight from an urlencoded body, and through Litestar's parser
    otherwise: the same fields, trimmed, checkbox groups joined, a file never a value."""
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    household = _first(call, Household.select().where(Household.path.like(grid["path"] + "%")).offset(1).first())
    fields = {"name": "  编码一 ", "relation": "renter", "tags": ["renter", "elderly_alone"]}
    plain = client.post(f"/households/{household['id']}/persons", data=fields, follow_redirects=False)
    multipart = client.post(f"/households/{household['id']}/persons", data={**fields, "name": " 编码二"},
                            files={"tags": ("x.txt", b"not a value", "text/plain")}, follow_redirects=False)
    assert plain.status_code == multipart.status_code == 303
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    rows = _first(call, Person.select(Person.name, Person.tags).where(
        (Person.household == household["id"]) & Person.name.like("编码%")).order_by(Person.id))
    assert rows == [{"name": "编码一", "tags": "renter,elderly_alone"}, {"name": "编码二", "tags": "renter,elderly_alone"}]


def test_grid_head_splits_a_grid_into_a_micro_grid(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    empty = client.post(f"/places/{grid['id']}/children", data={"name": ""}, headers={**EN, "HX-Request": "true"})
    assert empty.status_code == 422 and "Give the new place a name." in empty.text
    made = client.post(f"/places/{grid['id']}/children", data={"name": "临时小网格"}, follow_redirects=False)
    assert made.status_code == 303
    new_id = int(made.headers["location"].rsplit("/", 1)[1])
    place = _first(call, Place.select().where(Place.id == new_id).first())
    assert place["kind"] == "microgrid" and place["path"] == f"{grid['path']}{new_id}/"
    # a grid head cannot create grids in the community
    community = _first(call, Place.select().where(Place.id == grid["parent"]).first())
    assert client.post(f"/places/{community['id']}/children", data={"name": "x"}).status_code == 404


def test_search_stays_inside_scope(as_user, call):
    grid = grid_of_gridhead(call)
    inside = _first(call, Person.select().where(Person.path.like(grid["path"] + "%")).first())
    outside = _first(call, Person.select().where(Person.path.not_like(grid["path"] + "%")).first())
    client = as_user("gridhead")
    assert f"/persons/{inside['id']}" in client.get("/search", params={"q": inside["name"]}).text
    assert f"/persons/{outside['id']}" not in client.get("/search", params={"q": outside["name"]}).text
    commander = as_user("commander")
    assert f"/persons/{outside['id']}" in commander.get("/search", params={"q": outside["name"]}).text


def test_resident_link_opens_only_that_household_and_revoking_it_signs_them_out(world, as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    households = _first(call, Household.select(Household.id).where(Household.path.like(grid["path"] + "%")).order_by(Household.id).limit(2))
    mine, neighbour = households[0]["id"], households[1]["id"]
    issued = client.post(f"/households/{mine}/links", headers={"HX-Request": "true"})
    link = re.search(r'value="http://testserver.local/h/([A-Za-z0-9_-]+)"', issued.text).group(1)
    assert "<svg" in issued.text  # the QR code
    client.as_(None)
    entered = client.get(f"/h/{link}", follow_redirects=False)
    assert entered.status_code == 303 and entered.headers["location"] == "/my"
    client.as_(entered.cookies["gl_session"])
    assert client.get(f"/households/{mine}").status_code == 200
    assert client.get(f"/households/{neighbour}").status_code == 404
    assert client.get(f"/places/{grid['id']}").status_code == 404
    resident_token = entered.cookies["gl_session"]
    as_user("gridhead").post(f"/households/{mine}/links/revoke")
    client.as_(resident_token)
    assert client.get("/my", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303  # to sign-in
    assert client.get(f"/h/{link}").status_code == 404


def test_secretary_creates_an_account_with_checked_fields(as_user, call):
    client = as_user("secretary")
    page = client.get("/accounts")
    assert page.status_code == 200
    bad = client.post("/accounts", data={"username": "A", "display_name": "", "password": "short", "role": "grid_head", "place": "1"},
                      headers={**EN, "HX-Request": "true"})
    assert bad.status_code == 422
    for message in ("Use 3 to 40 lowercase", "This field is required.", "Use at least 10 characters.", "Choose a place you manage."):
        assert message in bad.text
    grid = grid_of_gridhead(call)
    good = client.post("/accounts", data={"username": "newhead", "display_name": "新网格长", "password": "a-long-password",
                                          "role": "building_head", "place": str(grid["id"])}, follow_redirects=False)
    assert good.status_code == 303
    client.as_(None)
    signed = client.post("/signin", data={"username": "newhead", "password": "a-long-password"}, follow_redirects=False)
    assert signed.status_code == 303


def test_lost_phone_signs_a_user_out_everywhere(world, as_user, call):
    client = as_user(None)
    phone = client.post("/signin", data={"username": "buildinghead", "password": "gridline-demo"}, follow_redirects=False)
    token = phone.cookies["gl_session"]
    user_id = _first(call, Session.select(Session.user).where(Session.revoked_at.is_null()).order_by(Session.id, ascending=False).first())["user"]
    secretary = as_user("secretary")
    revoked = secretary.post(f"/accounts/{user_id}/signout-everywhere", headers={**EN, "HX-Request": "true"})
    assert revoked.status_code == 200 and "Signed out of" in revoked.text
    client.as_(token)
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    world["tokens"].pop("buildinghead", None)  # the cached session is gone too


def test_sign_in_is_rate_limited(client):
    for _ in range(8):
        client.post("/signin", data={"username": "commander-typo", "password": "x"}, headers={"X-Forwarded-For": "1"})
    limited = client.post("/signin", data={"username": "commander-typo", "password": "x"}, headers=EN)
    assert limited.status_code == 429 and "Too many attempts" in limited.text


def test_audit_log_lists_reveals_for_the_secretary(as_user, call):
    grid = grid_of_gridhead(call)
    person = _first(call, Person.select().where(Person.path.like(grid["path"] + "%") & (Person.id_number != "")).first())
    as_user("gridhead").post(f"/persons/{person['id']}/reveal")
    log = as_user("secretary").get("/audit", headers=EN)
    assert log.status_code == 200 and f"person:{person['id']}" in log.text and "Viewed in full" in log.text


def test_home_shows_each_role_its_work(as_user):
    assert "Grids without all three heads" in as_user("secretary").get("/", headers=EN).text
    volunteer = as_user("volunteer").get("/", headers=EN).text
    # "Nothing assigned" only while the volunteer has no sampling site either (an earlier test may have made one).
    assert ("No shifts or rounds are assigned to you yet" in volunteer) != ("Your sampling sites" in volunteer)
    assert "To check at the door" in as_user("gridhead").get("/", headers=EN).text


def test_a_household_found_on_the_sweep_is_registered_on_the_spot(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    bad = client.post(f"/places/{grid['id']}/households", data={"kind": "premises", "premises_name": ""},
                      headers={**EN, "HX-Request": "true"})
    assert bad.status_code == 422 and "Give the premises a name." in bad.text
    made = client.post(f"/places/{grid['id']}/households",
                       data={"kind": "premises", "premises_kind": "shed", "premises_name": "东头工棚", "address": "河边"},
                       follow_redirects=False)
    assert made.status_code == 303
    page = client.get(made.headers["location"])
    assert "东头工棚" in page.text and "工棚" in page.text
    assert "东头工棚" in client.get(f"/places/{grid['id']}").text
    assert as_user("partyleader").post(f"/places/{grid['id']}/households", data={"kind": "dwelling", "building": "9"}).status_code == 404


def test_first_commander_from_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GRIDLINE_DATA": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    made = subprocess.run([sys.executable, "-m", "web", "create-commander", "--username", "zhou", "--password",
                           "a-long-password", "--subdistrict", "新街道"], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    again = subprocess.run([sys.executable, "-m", "web", "create-commander", "--username", "zhou", "--password",
                            "a-long-password"], env=env, capture_output=True, text=True)
    assert again.returncode != 0 and "taken" in again.stderr
    short = subprocess.run([sys.executable, "-m", "web", "create-commander", "--username", "li", "--password", "short"],
                           env=env, capture_output=True, text=True)
    assert short.returncode != 0 and "10 characters" in short.stderr


def test_the_home_to_do_links_to_the_households_still_to_check(as_user, call):
    client = as_user("gridhead")
    home = client.get("/", headers=EN).text
    link = re.search(r'href="(/places/\d+\?need=unregistered)"', home)
    assert link, "the to-do item is a link"
    page = client.get(html.unescape(link.group(1)), headers=EN)
    ids = [int(i) for i in re.findall(r'href="/households/(\d+)"', page.text)]
    assert ids and "Only households with nobody registered." in page.text
    for household_id in ids:
        assert _first(call, Person.count().where(Person.household == household_id)) == 0
    nophone = client.get(link.group(1).replace("unregistered", "nophone"), headers=EN)
    for household_id in [int(i) for i in re.findall(r'href="/households/(\d+)"', nophone.text)]:
        assert _first(call, Person.count().where((Person.household == household_id) & (Person.phone == ""))) > 0


def test_sign_in_never_sends_the_user_to_another_site(client):
    for target in ("//evil.example", "/\\evil.example", "https://evil.example/", "/ok\r\nX: 1"):
        response = client.post("/signin", data={"username": "gridhead", "password": "gridline-demo", "next": target},
                               follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/", target


def test_signing_out_without_a_session_still_answers_signed_out(client):
    response = client.post("/signout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"


def test_roles_that_see_phones_masked_cannot_probe_digits_through_search(as_user, call):
    grid = grid_of_gridhead(call)
    person = _first(call, Person.select().where(Person.path.like(grid["path"] + "%") & (Person.phone != "")).first())
    fragment = person["phone"][3:9]
    assert f"/persons/{person['id']}" not in as_user("partyleader").get("/search", params={"q": fragment}).text
    assert f"/persons/{person['id']}" in as_user("partyleader").get("/search", params={"q": person["phone"]}).text
    assert f"/persons/{person['id']}" in as_user("gridhead").get("/search", params={"q": fragment}).text


def test_an_unknown_organisation_is_a_message_not_a_crash(as_user, call):
    grid = grid_of_gridhead(call)
    response = as_user("secretary").post("/accounts", data={
        "username": "orgless", "display_name": "无组织", "password": "a-long-password", "role": "volunteer",
        "place": str(grid["parent"]), "organisation": "999999"}, headers={**EN, "HX-Request": "true"})
    assert response.status_code == 422 and "Choose one of the options." in response.text


def test_a_secretary_gives_only_roles_below_their_own(as_user, call):
    community = _first(call, Place.select().where(Place.kind == "community").order_by(Place.id).first())
    response = as_user("secretary").post("/accounts", data={
        "username": "peersecretary", "display_name": "同级书记", "password": "a-long-password", "role": "secretary",
        "place": str(community["id"])}, headers={**EN, "HX-Request": "true"})
    assert response.status_code == 422 and "You can only give roles below your own." in response.text


def test_a_revocation_inside_a_replayed_write_takes_effect_at_once(world, as_user, call):
    import uuid

    client = as_user(None)
    phone = client.post("/signin", data={"username": "buildinghead", "password": "gridline-demo"}, follow_redirects=False)
    token = phone.cookies["gl_session"]
    client.as_(token)
    assert client.get("/", follow_redirects=False).status_code == 200  # the session is cached now
    user_id = _first(call, Session.select(Session.user).where(Session.revoked_at.is_null()).order_by(Session.id, ascending=False).first())["user"]
    revoked = as_user("secretary").post(f"/accounts/{user_id}/signout-everywhere",
                                        headers={"HX-Request": "true", "Idempotency-Key": str(uuid.uuid4())})
    assert revoked.status_code == 200
    client.as_(token)
    assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    world["tokens"].pop("buildinghead", None)


def test_grids_missing_a_head_count_heads_held_at_their_micro_grids(as_user, call):
    from web.accounts.tables import RoleGrant

    grid = grid_of_gridhead(call)  # grid head and party leader at the grid, building head at a micro-grid
    home = as_user("secretary").get("/", headers=EN).text
    section = home.split("Grids without all three heads", 1)[1].split("</section>", 1)[0]
    assert f'href="/places/{grid["id"]}"' not in section
    community = _first(call, Place.select().where(Place.id == grid["parent"]).first())
    grids = _first(call, Place.select(Place.id).where((Place.parent == community["id"]) & (Place.kind == "grid")))
    for g in grids:
        has_party_leader = _first(call, RoleGrant.exists().where((RoleGrant.place == g["id"]) & (RoleGrant.role == "party_leader")))
        assert (f'href="/places/{g["id"]}"' in section) is (not has_party_leader)


def test_a_grid_splits_into_micro_grids_by_building_in_one_tap(as_user, call):
    client = as_user("gridhead")
    grid = grid_of_gridhead(call)
    for building, room in (("88", "101"), ("88", "102"), ("89", "101")):
        made = client.post(f"/places/{grid['id']}/households",
                           data={"kind": "dwelling", "building": building, "unit": "1", "floor": "1", "room": room},
                           follow_redirects=False)
        household_id = int(made.headers["location"].rsplit("/", 1)[1])
        client.post(f"/households/{household_id}/persons", data={"name": f"分格{building}{room}", "relation": "head"})
    page = client.get(f"/places/{grid['id']}", headers=EN).text
    assert "Split into micro-grids by building (3 households)" in page
    assert client.post(f"/places/{grid['id']}/split", follow_redirects=False).status_code == 303
    micro = _first(call, Place.select().where((Place.parent == grid["id"]) & (Place.name == f"{grid['name']}·88栋")).first())
    assert micro is not None and micro["kind"] == "microgrid"
    moved = _first(call, Household.select(Household.id, Household.path).where(Household.building == "88"))
    assert len(moved) >= 2 and all(h["path"] == micro["path"] for h in moved if h["path"].startswith(grid["path"]))
    person = _first(call, Person.select(Person.path).where(Person.name == "分格88101").first())
    assert person["path"] == micro["path"]
    assert "Split into micro-grids" not in client.get(f"/places/{grid['id']}", headers=EN).text
    assert as_user("partyleader").post(f"/places/{grid['id']}/split").status_code == 404
