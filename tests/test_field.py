"""The sweep as the field found it (the grid head at night, the command centre, residents,
volunteers, secretaries): HTTP tests of what each of them sees, on both engines."""

from __future__ import annotations

import html
import io
import re

from tests.factories import household_in, members, new_campaign, place_of, run
from web.accounts import logic as accounts_logic
from web.campaigns import logic
from web.places.tables import Place

EN = {"Accept-Language": "en"}


def _sweep(client, campaign: dict, household: dict, outcome: str, note: str = "") -> None:
    answer = client.post(f"/campaigns/{campaign['id']}/households/{household['id']}",
                         data={"outcome": outcome, "note": note}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[-400:]


def test_the_command_centre_sees_a_communitys_open_campaign_by_community(as_user, call):
    community = place_of(call, "secretary")
    campaign = new_campaign(call, community, kind="resweep")
    home = as_user("commander").get("/", headers=EN).text
    assert f'id="below-{campaign["id"]}"' in home, "the community's round is on the command centre's home"
    assert f'href="/campaigns/{campaign["id"]}/places/{community["id"]}"' in home
    # On the campaign's page the sub-district above it opens the place, not a campaign page it has not.
    page = as_user("commander").get(f"/campaigns/{campaign['id']}/places/{community['id']}", headers=EN)
    assert page.status_code == 200
    sub = run(call, Place.select().where(Place.kind == "subdistrict").first())
    assert f'href="/campaigns/{campaign["id"]}/places/{sub["id"]}"' not in page.text
    assert f'href="/places/{sub["id"]}"' in page.text


def test_the_night_list_counts_what_is_left_shows_revisit_notes_first_and_groups_by_building(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    head = as_user("gridhead")
    door = household_in(call, grid, 3)
    _sweep(head, campaign, door, "nobody_home", "晚上8点后再来")
    listing = head.get(f"/campaigns/{campaign['id']}/places/{grid['id']}", headers=EN).text
    figures = logic.rollup(call(logic.coverage_under, campaign, grid["path"]), grid["path"])
    count = re.search(r'data-to-reach>(\d+)<', listing)
    assert count and int(count.group(1)) == figures.households - figures.reached
    assert "晚上8点后再来" in listing, "the revisit note is in the list"
    revisit_at, building_at = listing.index("To revisit"), listing.index("Bldg ")
    assert revisit_at < building_at, "doors to go back to come first"
    assert listing.index(f"/households/{door['id']}\"") < building_at
    home = head.get("/", headers=EN).text
    assert f"/campaigns/{campaign['id']}/places/{grid['id']}?need=missing" in home, "home links to what is left"


def test_the_sweep_form_offers_everyone_at_once_and_colours_answers_by_meaning(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present,sampled,code,symptoms")
    household = household_in(call, grid, 4)
    form = as_user("gridhead").get(f"/campaigns/{campaign['id']}/households/{household['id']}", headers=EN).text
    for button in ("Everyone present", "Everyone sampled", "Everyone green"):
        assert button in form
    person = members(call, household["id"])[0]["id"]
    # "No symptoms" is good news; "not present" is something to look at.
    assert re.search(rf'class="choice no good"><input type="radio" name="p{person}\.symptoms"', form)
    assert re.search(rf'class="choice no warn"><input type="radio" name="p{person}\.present"', form)


def test_a_person_found_at_the_door_joins_the_form_and_the_door_is_reached(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    household = household_in(call, grid, 5)
    answer = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{household['id']}/persons",
                                      data={"name": "门口新租客", "relation": "renter"},
                                      headers={**EN, "HX-Request": "true"})
    assert answer.status_code == 200
    assert "门口新租客" in answer.text and 'hx-swap-oob="beforeend:#members-added"' in answer.text
    statuses = call(logic.statuses_under, campaign["id"], household["path"])
    assert statuses[household["id"]]["outcome"] == "visited"


def test_residents_see_their_role_once_their_slot_as_said_and_a_shorter_self_report(world, call, client):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present,sampled,code")
    household = household_in(call, grid, 6)
    token = call(accounts_logic.issue_link, household["id"], None)
    client.cookies.clear()
    client.get(f"/h/{token}", follow_redirects=False)
    page = client.get("/my", headers=EN).text
    who = re.search(r'<span class="who">(.*?)</span>', page, re.S).group(1)
    assert html.unescape(who).strip() == "Resident", "the role once, not 'Resident · Resident'"
    assert "Larger text" in page
    form = client.get(f"/my/campaigns/{campaign['id']}", headers=EN).text
    person = members(call, household["id"])[0]["id"]
    assert f'name="p{person}.code"' in form
    assert f'name="p{person}.sampled"' not in form, "no 'sampled this round' before their slot"
    sent = client.post(f"/my/campaigns/{campaign['id']}", data={f"p{person}.code": "green"}, follow_redirects=True,
                       headers=EN)
    text = html.unescape(sent.text)
    main = text[text.index('<main'):]
    assert main.index('class="notice"') < main.index("<h2"), "the thanks at the top"


def test_exports_are_named_in_words_with_heads_of_household_and_phones(as_user, call):
    from openpyxl import load_workbook

    community = place_of(call, "secretary")
    campaign = new_campaign(call, community)
    answer = as_user("secretary").get(
        f"/campaigns/{campaign['id']}/places/{community['id']}/export.xlsx?what=missing", headers=EN)
    assert answer.status_code == 200
    from urllib.parse import unquote

    named = unquote(answer.headers["content-disposition"].split("filename*=UTF-8''")[1])
    assert named.startswith(f"{campaign['name'].replace(' ', '_')}-{community['name']}-missing_households-")
    assert named.endswith(".xlsx")
    header = [str(c) for c in next(load_workbook(io.BytesIO(answer.content)).active.values)]
    assert any("head of household" in c.lower() for c in header)
    assert any("phone" in c.lower() for c in header)


def test_the_manifest_names_the_app_in_the_pages_language_with_a_maskable_icon(client):
    zh = client.get("/manifest.webmanifest").json()
    en = client.get("/manifest.webmanifest?lang=en").json()
    assert zh["id"] == "/" and zh["description"] and en["name"] == "Gridline" and zh["name"] != en["name"]
    assert any(icon.get("purpose") == "maskable" for icon in zh["icons"])
    page = client.get("/signin", headers=EN).text
    assert 'rel="apple-touch-icon"' in page


def test_a_volunteer_with_a_site_is_not_told_they_have_no_duties_and_sees_its_hours(as_user, call):
    from web.core.timeutil import today

    community = place_of(call, "secretary")
    campaign = new_campaign(call, community)
    made = as_user("secretary").post(f"/campaigns/{campaign['id']}/sampling/sites", follow_redirects=False, data={
        "name": "文昌广场采样点", "address": "文昌广场东侧", "place": str(community["id"]), "stations": "4",
        "per_minute": "1.5", "day": today().isoformat(), "opens": "08:00", "closes": "12:00"})
    assert made.status_code == 303, made.text[-300:]
    home = as_user("volunteer").get("/", headers=EN).text
    assert "Sampling at 文昌广场采样点" in home
    assert "No shifts or rounds are assigned to you yet" not in home
    assert "today (" in home and "8:00–12:00" in home, "the site's hours, said as people say them"
    run(call, logic.Campaign.update({logic.Campaign.status: "closed"}).where(logic.Campaign.id == campaign["id"]))
