"""Campaigns and the door-to-door sweep: HTTP tests of the rules (both engines)."""

from __future__ import annotations

import html
import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from web.accounts import logic as accounts_logic
from web.audit.tables import AuditEntry
from web.campaigns import logic
from web.campaigns.tables import Answer, Campaign, HouseholdStatus, PersonStatus, Visit
from web.households.tables import Household
from web.places.tables import Place
from tests.factories import household_in, members, new_campaign, place_of, run
from web.settings import get_settings

EN = {"Accept-Language": "en"}
HX = {"HX-Request": "true"}


def counts(call, campaign_id: int, household_id: int) -> tuple[int, int, int]:
    return (run(call, Visit.count().where((Visit.campaign == campaign_id) & (Visit.household == household_id))),
            run(call, Answer.count().where((Answer.campaign == campaign_id) & (Answer.household == household_id))),
            run(call, PersonStatus.count().where((PersonStatus.campaign == campaign_id) & (PersonStatus.household == household_id))))


def sweep_form(people: list[dict], outcome: str = "visited", **extra: str) -> dict:
    form = {"outcome": outcome, "note": ""}
    for p in people:
        form[f"p{p['id']}.present"] = "yes"
        form[f"p{p['id']}.sampled"] = "yes"
        form[f"p{p['id']}.code"] = "green"
    form.update(extra)
    return form


def test_secretary_starts_a_campaign_with_own_question_and_grid_head_sees_it(as_user, call):
    community = place_of(call, "secretary")
    client = as_user("secretary")
    deadline = (datetime.now() + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post("/campaigns", data={
        "name": "Re-sweep tonight", "kind": "resweep", "place": str(community["id"]), "deadline": deadline,
        "checks": ["present", "code"], "q0_label": "Returned from city X since 1 March?", "q0_kind": "yes_no",
        "q1_label": "Where do you work?", "q1_kind": "choice", "q1_choices": "Office, Market，Home"},
        headers=EN, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    campaign_id = int(re.search(r"/campaigns/(\d+)/", answer.headers["location"]).group(1))
    questions = call(logic.questions_of, campaign_id)
    assert [q["label"] for q in questions] == ["Returned from city X since 1 March?", "Where do you work?"]
    assert questions[1]["options"] == ["Office", "Market", "Home"]
    listed = as_user("gridhead").get("/campaigns", headers=EN)
    assert "Re-sweep tonight" in listed.text
    grid = place_of(call, "gridhead")
    household = household_in(call, grid)
    form = as_user("gridhead").get(f"/campaigns/{campaign_id}/households/{household['id']}", headers=EN)
    assert form.status_code == 200 and "Returned from city X since 1 March?" in form.text and "Market" in form.text


def test_a_bad_campaign_is_refused_beside_the_fields(as_user, call):
    client = as_user("secretary")
    answer = client.post("/campaigns", data={"name": "", "kind": "testing_round", "place": "999999", "deadline": "soon",
                                             "q0_label": "Which?", "q0_kind": "choice", "q0_choices": "only one"},
                         headers={**EN, **HX})
    assert answer.status_code == 422
    for message in ("Give the campaign a name.", "Choose a place you look after.", "Give a deadline",
                    "A choice needs at least two options"):
        assert message in answer.text


def test_grid_head_cannot_start_a_campaign(as_user, call):
    grid = place_of(call, "gridhead")
    answer = as_user("gridhead").post("/campaigns", data={"name": "x", "kind": "census", "place": str(grid["id"]),
                                                          "deadline": "2030-01-01T08:00", "checks": "present"})
    assert answer.status_code == 404


def test_a_sweep_moves_the_status_and_the_figures_once(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, place_of(call, "commander"))
    household = household_in(call, grid, 1)
    people = members(call, household["id"])
    assert people, "the demo household has members"
    client = as_user("gridhead")
    listing = client.get(f"/campaigns/{campaign['id']}/places/{grid['id']}", headers=EN)
    assert listing.status_code == 200 and "Not reached" in listing.text
    before = logic.rollup(call(logic.coverage_under, campaign, grid["path"]), grid["path"])
    key = str(uuid.uuid4())
    for _ in range(2):  # the same stored request replayed
        answer = client.post(f"/campaigns/{campaign['id']}/households/{household['id']}", data=sweep_form(people),
                             headers={**HX, "Idempotency-Key": key})
        assert answer.status_code == 200 and answer.headers.get("HX-Redirect"), answer.text
    after = logic.rollup(call(logic.coverage_under, campaign, grid["path"]), grid["path"])
    assert after.reached == before.reached + 1
    assert after.checked == before.checked + len(people)
    assert after.sampled == before.sampled + len(people)
    assert counts(call, campaign["id"], household["id"]) == (1, 3 * len(people), len(people))
    page = client.get(f"/campaigns/{campaign['id']}/places/{grid['id']}", headers=EN)
    assert f"{after.reached} / {after.households}" in page.text
    missing = client.get(f"/campaigns/{campaign['id']}/places/{grid['id']}?need=missing", headers=EN)
    assert f"/campaigns/{campaign['id']}/households/{household['id']}\"" not in missing.text


def test_save_goes_to_the_next_household_not_yet_reached(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    first, second = household_in(call, grid, 0), household_in(call, grid, 1)
    if first["place"] != second["place"]:
        pytest.skip("the first two households sit in different micro-grids")
    answer = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{first['id']}",
                                      data={"outcome": "nobody_home"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/campaigns/{campaign['id']}/households/{second['id']}?saved={first['id']}"
    shown = as_user("gridhead").get(answer.headers["location"], headers=EN)
    assert "Saved: " in shown.text  # the next door says the last one was saved


def test_a_missing_outcome_or_an_impossible_value_is_refused_beside_the_field(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    household = household_in(call, grid, 2)
    people = members(call, household["id"])
    client = as_user("gridhead")
    no_outcome = client.post(f"/campaigns/{campaign['id']}/households/{household['id']}",
                             data=sweep_form(people, outcome=""), headers={**EN, **HX})
    assert no_outcome.status_code == 422 and "Choose what you found at the door." in no_outcome.text
    bad = sweep_form(people, **{f"p{people[0]['id']}.doses": "99", f"p{people[0]['id']}.code": "purple"})
    refused = client.post(f"/campaigns/{campaign['id']}/households/{household['id']}", data=bad, headers={**EN, **HX})
    assert refused.status_code == 422
    assert "Enter a number from 0 to 6." in refused.text and "Choose one of the options." in refused.text
    assert 'value="99"' in refused.text  # what was typed is kept
    assert counts(call, campaign["id"], household["id"]) == (0, 0, 0)


def test_a_sweep_outside_the_users_scope_is_a_404_and_writes_nothing(as_user, call):
    commander_place = place_of(call, "commander")
    campaign = new_campaign(call, commander_place)
    gridhead_grid = place_of(call, "gridhead")
    other = run(call, Household.select().where(Household.path.not_like(gridhead_grid["path"] + "%")).first())
    people = members(call, other["id"])
    for username in ("gridhead", "buildinghead", "volunteer", "partyleader"):
        answer = as_user(username).post(f"/campaigns/{campaign['id']}/households/{other['id']}", data=sweep_form(people))
        assert answer.status_code == 404, username
        assert as_user(username).get(f"/campaigns/{campaign['id']}/households/{other['id']}").status_code == 404
    assert counts(call, campaign["id"], other["id"]) == (0, 0, 0)


def test_an_older_fact_arriving_later_does_not_undo_a_newer_status(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    household = household_in(call, grid, 3)
    client = as_user("gridhead")
    newer = datetime.now(timezone.utc)
    older = newer - timedelta(hours=2)
    client.post(f"/campaigns/{campaign['id']}/households/{household['id']}", data={"outcome": "visited"},
                headers={"Idempotency-Key": str(uuid.uuid4()), "X-Occurred-At": newer.isoformat()})
    client.post(f"/campaigns/{campaign['id']}/households/{household['id']}", data={"outcome": "nobody_home"},
                headers={"Idempotency-Key": str(uuid.uuid4()), "X-Occurred-At": older.isoformat()})
    status = run(call, HouseholdStatus.select().where((HouseholdStatus.campaign == campaign["id"])
                                                      & (HouseholdStatus.household == household["id"])).first())
    assert status["outcome"] == "visited"
    assert counts(call, campaign["id"], household["id"])[0] == 2  # both facts kept


def test_a_closed_campaign_is_read_only(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, place_of(call, "secretary"))
    household = household_in(call, grid, 4)
    assert as_user("gridhead").post(f"/campaigns/{campaign['id']}/close").status_code == 404  # not theirs to close
    closed = as_user("secretary").post(f"/campaigns/{campaign['id']}/close", follow_redirects=False)
    assert closed.status_code == 303
    answer = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{household['id']}",
                                      data={"outcome": "visited"}, headers={**EN, **HX})
    assert answer.status_code == 422 and "This campaign is closed" in answer.text
    kept = run(call, Campaign.select(Campaign.figures, Campaign.status).where(Campaign.id == campaign["id"]).first())
    assert kept["status"] == "closed" and grid["path"] in kept["figures"]


def test_self_report_counts_apart_until_a_head_confirms(world, as_user, call, client):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present,code,symptoms")
    household = household_in(call, grid, 5)
    people = members(call, household["id"])
    token = call(accounts_logic.issue_link, household["id"], None)
    client.cookies.clear()
    assert client.get(f"/h/{token}", follow_redirects=False).status_code == 303
    form = client.get(f"/my/campaigns/{campaign['id']}", headers=EN)
    assert form.status_code == 200 and people[0]["name"] in form.text
    sent = client.post(f"/my/campaigns/{campaign['id']}", data={f"p{people[0]['id']}.code": "green",
                                                               f"p{people[0]['id']}.symptoms": "no"},
                       follow_redirects=False)
    assert sent.status_code == 303
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.self_only == 1 and figures.checked == 0 and figures.self_households == 1 and figures.reached == 0
    # A resident may not answer for another household's campaign page, nor record a visit.
    assert client.post(f"/campaigns/{campaign['id']}/households/{household['id']}", data={"outcome": "visited"}).status_code == 404
    head = as_user("gridhead")
    shown = head.get(f"/campaigns/{campaign['id']}/households/{household['id']}", headers=EN)
    assert "self-reported" in shown.text
    head.post(f"/campaigns/{campaign['id']}/households/{household['id']}",
              data={"outcome": "visited", f"p{people[0]['id']}.code": "green"})
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.self_only == 0 and figures.checked == 1 and figures.reached == 1


def test_a_later_self_report_does_not_overwrite_what_a_head_verified_at_the_door(world, as_user, call, client):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present,sampled,code")
    household = household_in(call, grid, 9)
    people = members(call, household["id"])
    head = as_user("gridhead")
    action = f"/campaigns/{campaign['id']}/households/{household['id']}"
    assert head.post(action, data=sweep_form(people), follow_redirects=False).status_code == 303
    # The resident then says "no, not sampled" for the first member, through their link.
    token = call(accounts_logic.issue_link, household["id"], None)
    client.cookies.clear()
    assert client.get(f"/h/{token}", follow_redirects=False).status_code == 303
    first = people[0]["id"]
    sent = client.post(f"/my/campaigns/{campaign['id']}", data={f"p{first}.sampled": "no"}, follow_redirects=False)
    assert sent.status_code == 303
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.sampled == len(people), "what the head verified still counts"
    assert figures.self_only == 1, "the resident's differing answer waits to be confirmed"
    # The head's form shows the head's answer, with the resident's beside it.
    head = as_user("gridhead")
    shown = head.get(action, headers=EN).text
    assert re.search(rf'name="p{first}\.sampled" value="yes" checked', shown)
    assert "resident says: No" in html.unescape(shown)
    # Saved as shown, it stays the head's: nothing of the resident's is filed as the head's.
    form = sweep_form(people)
    assert head.post(action, data=form, follow_redirects=False).status_code == 303
    latest = call(logic.latest_answers, campaign["id"], household["id"])
    assert latest[first]["sampled"]["value"] == "yes" and latest[first]["sampled"]["source"] == "head"
    assert "newer_unverified" not in latest[first]["sampled"]
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.self_only == 0 and figures.sampled == len(people)


def test_a_self_report_that_agrees_with_the_door_asks_nothing_to_confirm(world, as_user, call, client):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present,sampled,code")
    household = household_in(call, grid, 10)
    people = members(call, household["id"])
    answer = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{household['id']}", data=sweep_form(people),
                                 follow_redirects=False)
    assert answer.status_code == 303
    token = call(accounts_logic.issue_link, household["id"], None)
    client.cookies.clear()
    client.get(f"/h/{token}", follow_redirects=False)
    assert client.post(f"/my/campaigns/{campaign['id']}", data={f"p{people[0]['id']}.code": "green"},
                       follow_redirects=False).status_code == 303
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.self_only == 0 and figures.checked == len(people)


def test_self_reports_are_limited_per_household_and_hour_and_nothing_typed_is_lost(call, client):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="code")
    household, neighbour = household_in(call, grid, 7), household_in(call, grid, 8)
    limit = get_settings().self_reports_per_hour

    def resident_of(home: dict) -> str:
        """Signed in through the household's link; the name of a member's health-code field."""
        token = call(accounts_logic.issue_link, home["id"], None)
        client.cookies.clear()
        assert client.get(f"/h/{token}", follow_redirects=False).status_code == 303
        return f"p{members(call, home['id'])[0]['id']}.code"

    field = resident_of(household)
    for colour in (["green", "yellow"] * limit)[:limit]:
        sent = client.post(f"/my/campaigns/{campaign['id']}", data={field: colour}, follow_redirects=False)
        assert sent.status_code == 303
    refused = client.post(f"/my/campaigns/{campaign['id']}", data={field: "red"}, headers={**EN, **HX})
    assert refused.status_code == 429
    assert f"This household has sent {limit} answers in the last hour" in html.unescape(refused.text)
    assert 'value="red" checked' in refused.text or 'value="red" selected' in refused.text, "what was typed is kept"
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    assert call(logic.self_reports_since, campaign["id"], household["id"], since) == limit
    # Another household's link is not held back.
    field = resident_of(neighbour)
    assert client.post(f"/my/campaigns/{campaign['id']}", data={field: "green"}, follow_redirects=False).status_code == 303


def test_a_person_found_at_the_door_is_registered_and_checked(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid)
    household = household_in(call, grid, 6)
    before = len(members(call, household["id"]))
    answer = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{household['id']}/persons",
                                      data={"name": "租客小王", "relation": "renter", "sex": "M", "birth_year": "1995"},
                                      follow_redirects=False)
    assert answer.status_code == 303
    assert len(members(call, household["id"])) == before + 1
    figures = logic.rollup(call(logic.coverage_under, campaign, household["path"]), household["path"])
    assert figures.checked == 1
    refused = as_user("gridhead").post(f"/campaigns/{campaign['id']}/households/{household['id']}/persons",
                                       data={"name": "", "relation": "renter"}, headers={**EN, **HX})
    assert refused.status_code == 422 and "Enter the person's name." in html.unescape(refused.text)


def test_exports_are_audited_and_readable(as_user, call):
    from openpyxl import load_workbook

    community = place_of(call, "secretary")
    campaign = new_campaign(call, community)
    client = as_user("secretary")
    before = run(call, AuditEntry.count().where(AuditEntry.action == "export"))
    csv_answer = client.get(f"/campaigns/{campaign['id']}/places/{community['id']}/export.csv?what=figures", headers=EN)
    assert csv_answer.status_code == 200 and csv_answer.text.lstrip("\ufeff").startswith("Place,Kind,Households")
    assert community["name"] in csv_answer.text
    xlsx = client.get(f"/campaigns/{campaign['id']}/places/{community['id']}/export.xlsx?what=missing", headers=EN)
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.values)
    households = run(call, Household.count().where(Household.path.like(community["path"] + "%")))
    assert len(rows) == households + 1  # nobody reached yet: every household is missing
    assert run(call, AuditEntry.count().where(AuditEntry.action == "export")) == before + 2
    assert as_user("gridhead").get(f"/campaigns/{campaign['id']}/places/{community['id']}/export.csv").status_code == 404


def test_progress_of_a_community_lists_grids_and_the_missing(as_user, call):
    community = place_of(call, "secretary")
    campaign = new_campaign(call, community)
    page = as_user("secretary").get(f"/campaigns/{campaign['id']}/places/{community['id']}", headers=EN)
    assert page.status_code == 200
    grids = run(call, Place.select(Place.id).where(Place.parent == community["id"]))
    for grid in grids:
        assert f"/campaigns/{campaign['id']}/places/{grid['id']}\"" in page.text
    assert "Still missing" in page.text


def test_persons_away_at_a_reached_door_are_listed_until_checked(as_user, call):
    grid = place_of(call, "gridhead")
    campaign = new_campaign(call, grid, checks="present")
    household = household_in(call, grid, 7)
    people = members(call, household["id"])
    if len(people) < 2:
        pytest.skip("a household of one")
    client = as_user("gridhead")
    client.post(f"/campaigns/{campaign['id']}/households/{household['id']}",
                data={"outcome": "visited", f"p{people[0]['id']}.present": "yes"})
    page = client.get(f"/campaigns/{campaign['id']}/places/{household['place']}", headers=EN).text
    card = page.split('id="unchecked"', 1)[1].split("</section>", 1)[0]
    assert people[1]["name"] in card and people[0]["name"] not in card
    client.post(f"/campaigns/{campaign['id']}/households/{household['id']}",
                data={"outcome": "visited", **{f"p{p['id']}.present": "yes" for p in people}})
    page = client.get(f"/campaigns/{campaign['id']}/places/{household['place']}", headers=EN).text
    assert 'id="unchecked"' not in page or people[1]["name"] not in page.split('id="unchecked"', 1)[1]
