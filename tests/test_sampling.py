"""Staggered sampling (issue #4): the slot generator on generated data, checked by a wait
computation of the tests' own, then the pages of the secretary, the grid head, the
resident and the volunteer at the site, on both engines."""

from __future__ import annotations

import html
import math
import random
import re
import uuid
from datetime import timedelta

from tests.conftest import sign_in
from tests.factories import place_of, run
from web import db
from web.accounts import logic as accounts_logic
from web.accounts.auth import Principal
from web.campaigns.logic import create_campaign
from web.campaigns.tables import Answer, Campaign, PersonStatus
from web.core.display import mask_id, mask_phone
from web.core.scope import Grant
from web.core.timeutil import now, today
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sampling import logic
from web.sampling.logic import BOUND, STEP, SiteSpec, Unit, clock, plan, worst_waits
from web.sampling.tables import SamplingSite, SamplingSlot

EN = {"Accept-Language": "en"}


# ---- an independent computation of the queue model ----------------------------------------------


def arrived(slots: list[tuple[float, float, int]], t: float) -> float:
    """Persons arrived by `t`: each slot's evenly over it."""
    total = 0.0
    for a, b, n in slots:
        if t >= b:
            total += n
        elif t > a:
            total += n * (t - a) / (b - a)
    return total


def independent_waits(slots: list[tuple[float, float, int]], rate: float) -> list[float]:
    """The same model, reckoned another way: the queue at t is the most that arrived in any
    stretch (s, t] beyond what the site could sample in it (the queue's reflection formula,
    not a run forward through time). Arrivals are straight between the moments slots
    start or end, so those moments are the only s and t to try."""
    moments = sorted({t for a, b, _n in slots for t in (a, b)})
    queue = {t: max(0.0, max(arrived(slots, t) - arrived(slots, s) - rate * (t - s) for s in moments if s <= t))
             for t in moments}
    return [max(queue[t] for t in moments if a <= t <= b) / rate for a, b, _n in slots]


def stepped_waits(slots: list[tuple[float, float, int]], rate: float, dt: float = 0.01) -> list[float]:
    """And a third way, coarse: the queue followed in small time steps."""
    start, end = min(a for a, _b, _n in slots), max(b for _a, b, _n in slots)
    worst = [0.0] * len(slots)
    queue, t = 0.0, start
    while t <= end + 1e-9:
        for i, (a, b, _n) in enumerate(slots):
            if a - 1e-9 <= t <= b + 1e-9:
                worst[i] = max(worst[i], queue / rate)
        inflow = sum(n / (b - a) for a, b, n in slots if a <= t < b)
        queue = max(0.0, queue + (inflow - rate) * dt)
        t += dt
    return worst


# ---- generated configurations ---------------------------------------------------------------------


def configuration(rng: random.Random) -> tuple[list[SiteSpec], list[Unit]]:
    """A community /1/ with grids, some split into micro-grids (and some households left in
    the grid beside them), served by sites at the community or at single grids."""
    units, grids = [], []
    next_id = 100
    for g in range(rng.randint(1, 6)):
        grid = f"/1/{10 + g}/"
        grids.append(grid)
        micro = rng.choice((0, 0, 1, 2, 4, 8, 12))
        if micro == 0:
            units.append(Unit(next_id, grid, grid, rng.randint(0, 900)))
            next_id += 1
        for _m in range(micro):
            persons = rng.choice((0, rng.randint(1, 20), rng.randint(20, 400)))
            units.append(Unit(next_id, f"{grid}{next_id}/", grid, persons))
            next_id += 1
        if micro and rng.random() < 0.3:  # households sitting directly in the grid
            units.append(Unit(next_id, grid, grid, rng.randint(1, 60)))
            next_id += 1
    sites = []
    for s in range(rng.randint(1, 4)):
        path = "/1/" if rng.random() < 0.6 else rng.choice(grids)
        opens = rng.randint(6 * 60, 10 * 60)  # not always on the 5-minute grid
        length = rng.choice((20, 45, 90, 180, 300, 600))
        sites.append(SiteSpec(key=s + 1, path=path, stations=rng.randint(1, 8),
                              per_minute=rng.choice((0.3, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0)),
                              opens=opens, closes=min(23 * 60 + 59, opens + length)))
    return sites, units


def test_worst_waits_follow_the_queue_across_slots():
    # 60 persons in 10 minutes at 3 a minute: 30 still queue at the end, 10 minutes' wait.
    assert worst_waits([(0, 10, 60)], 3.0) == [10.0]
    # That queue carries into the next slot: its first arrival waits 10 minutes, and it drains.
    assert worst_waits([(0, 10, 60), (10, 30, 20)], 3.0) == [10.0, 10.0]
    # A gap between slots lets the queue go down: 20 minutes later it is gone.
    assert worst_waits([(0, 10, 60), (40, 50, 20)], 3.0) == [10.0, 0.0]
    # Slower arrivals than sampling: nobody waits.
    assert worst_waits([(0, 30, 60)], 3.0) == [0.0]
    # Two micro-grids asked for the same half hour add up.
    assert worst_waits([(0, 30, 90), (0, 30, 90)], 3.0) == [30.0, 30.0]


def test_generated_slots_keep_every_expected_wait_under_twenty_minutes():
    rng = random.Random(20221329)
    feasible = infeasible = 0
    for _case in range(600):
        sites, units = configuration(rng)
        result = plan(sites, units)
        by_site = {s.key: s for s in sites}
        people = [u for u in units if u.persons > 0]
        if not result.ok:
            infeasible += 1
            assert result.slots == [], "no slots are made when anyone does not fit"
            for problem in result.problems:
                if problem.kind == "over":
                    site = by_site[problem.site]
                    assert problem.persons > problem.capacity == site.capacity()
                    assert site.capacity(site.stations + problem.more_stations) >= problem.persons
                    fewer = site.stations + problem.more_stations - 1
                    assert problem.more_stations == 0 or site.capacity(fewer) < problem.persons
                else:
                    for key in problem.units:
                        unit = next(u for u in units if u.key == key)
                        assert not any(unit.path.startswith(s.path) for s in sites), "called uncovered, has a site"
            continue
        feasible += 1
        assert sorted(s.unit for s in result.slots) == sorted(u.key for u in people), "every unit once"
        for site in sites:
            mine = [s for s in result.slots if s.site == site.key]
            if not mine:
                continue
            for slot in mine:
                unit = next(u for u in units if u.key == slot.unit)
                assert unit.path.startswith(site.path), "a site serves only the places under it"
                assert site.opens <= slot.starts < slot.ends <= site.closes, "within opening hours"
                assert slot.starts % STEP == 0 and slot.ends % STEP == 0, "on the 5-minute grid"
                assert slot.persons == unit.persons
            spans = [(s.starts, s.ends, s.persons) for s in mine]
            checked = independent_waits(spans, site.stations * site.per_minute)
            for slot, wait in zip(mine, checked):
                assert wait < BOUND, f"{clock(slot.starts)}–{clock(slot.ends)}: {wait:.2f} minutes at site {site}"
                assert math.isclose(wait, slot.wait, abs_tol=1e-6), "the shown wait is the model's"
    assert feasible > 200 and infeasible > 50, (feasible, infeasible)


def test_a_few_plans_agree_with_a_queue_followed_step_by_step():
    rng = random.Random(7)
    done = 0
    while done < 12:
        sites, units = configuration(rng)
        result = plan(sites, units)
        if not result.ok or not result.slots:
            continue
        site = sites[0]
        spans = [(s.starts, s.ends, s.persons) for s in result.slots if s.site == site.key]
        if not spans:
            continue
        rate = site.stations * site.per_minute
        for exact, stepped in zip(worst_waits(spans, rate), stepped_waits(spans, rate)):
            assert abs(exact - stepped) < 0.1 + 2 * 0.01 * max(1.0, rate) / rate
        done += 1


def test_a_site_that_cannot_fit_everyone_says_by_how_much_and_what_would_fit_them():
    rng = random.Random(3)
    for _case in range(300):
        stations, per_minute = rng.randint(1, 6), rng.choice((0.5, 1.0, 1.5, 2.5))
        opens = rng.randint(400, 600)
        site = SiteSpec(1, "/1/", stations, per_minute, opens, opens + rng.randint(10, 400))
        persons = rng.randint(1, 4000)
        units = [Unit(k, f"/1/2/{k}/", "/1/2/", n) for k, n in enumerate(_split(rng, persons), start=10)]
        result = plan([site], units)
        rate, hours = stations * per_minute, site.closes - site.opens
        if persons <= site.capacity():
            assert result.ok, f"{persons} persons fit {site} but were refused"
        else:
            assert not result.ok
            [problem] = result.problems
            assert problem.over == persons - site.capacity() > 0
        # No schedule within the opening hours can keep the last arrival under 20 minutes beyond this.
        if persons >= rate * (hours + BOUND):
            assert not result.ok


def _split(rng: random.Random, persons: int) -> list[int]:
    parts = rng.randint(1, 12)
    cuts = sorted(rng.randint(0, persons) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, persons])]


def test_micro_grids_of_one_grid_go_to_one_site_and_the_load_is_shared():
    units = [Unit(k, f"/1/10/{k}/", "/1/10/", 100) for k in range(100, 104)]
    units += [Unit(k, f"/1/11/{k}/", "/1/11/", 90) for k in range(200, 204)]
    sites = [SiteSpec(1, "/1/", 4, 1.5, 8 * 60, 12 * 60), SiteSpec(2, "/1/", 4, 1.5, 8 * 60, 12 * 60)]
    result = plan(sites, units)
    assert result.ok
    where = {s.unit: s.site for s in result.slots}
    assert len({where[k] for k in range(100, 104)}) == 1 and len({where[k] for k in range(200, 204)}) == 1
    assert where[100] != where[200], "the two grids are shared between the two sites"
    # A grid too big for any one site is split over them rather than refused.
    big = [Unit(k, f"/1/12/{k}/", "/1/12/", 400) for k in range(300, 306)]
    result = plan(sites, big)
    assert result.ok and {s.site for s in result.slots} == {1, 2}


def test_places_no_site_serves_are_named():
    units = [Unit(1, "/1/10/", "/1/10/", 50), Unit(2, "/1/11/", "/1/11/", 40)]
    result = plan([SiteSpec(1, "/1/10/", 2, 1.0, 480, 600)], units)
    assert not result.ok and result.slots == []
    [problem] = result.problems
    assert problem.kind == "uncovered" and problem.units == [2] and problem.persons == 40


# ---- the pages (SQLite and PostgreSQL) --------------------------------------------------------------





def new_round(call, place: dict, kind: str = "testing_round") -> int:
    values = {"name": f"全员核酸{uuid.uuid4().hex[:4]}", "kind": kind, "deadline": now() + timedelta(days=1),
              "checks": "sampled", "questions": []}
    return call(create_campaign, values, place, None)


def site_form(place_id: int, **fields: str) -> dict[str, str]:
    return {"name": "文昌广场采样点", "address": "文昌广场东侧", "place": str(place_id), "stations": "4",
            "per_minute": "1.5", "day": today().isoformat(), "opens": "08:00", "closes": "12:00", **fields}


def stored_slots(call, campaign_id: int) -> list[dict]:
    return run(call, SamplingSlot.select(SamplingSlot.all_columns(), SamplingSlot.site.day, SamplingSlot.site.stations,
                                         SamplingSlot.site.per_minute, SamplingSlot.site.opens,
                                         SamplingSlot.site.closes).where(SamplingSlot.campaign == campaign_id))


def round_with_slots(call, as_user, place: dict, **fields: str) -> tuple[int, int]:
    """A testing round at `place` with one site there and its slots generated by the secretary."""
    campaign_id = new_round(call, place)
    client = as_user("secretary")
    made = client.post(f"/campaigns/{campaign_id}/sampling/sites", data=site_form(place["id"], **fields),
                       follow_redirects=False)
    assert made.status_code == 303, made.text
    generated = client.post(f"/campaigns/{campaign_id}/sampling/generate", follow_redirects=False)
    assert generated.status_code == 303, generated.text
    site = run(call, SamplingSite.select(SamplingSite.id).where(SamplingSite.campaign == campaign_id).first())
    return campaign_id, site["id"]


def test_secretary_adds_a_site_and_generates_slots_that_keep_waits_under_twenty_minutes(as_user, call):
    community = place_of(call, "secretary")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    slots = stored_slots(call, campaign_id)
    units = call(logic.units_under, community["path"])
    assert sorted(s["path"] for s in slots) == sorted(u.path for u in units), "one slot per micro-grid with residents"
    assert sum(s["persons"] for s in slots) == sum(u.persons for u in units)
    day = slots[0]["site.day"]
    spans = sorted((logic.local_minutes(s["starts"], day), logic.local_minutes(s["ends"], day), s["persons"],
                    float(s["wait"])) for s in slots)
    rate = 4 * 1.5
    for (a, b, _n, shown), wait in zip(spans, independent_waits([x[:3] for x in spans], rate)):
        assert 8 * 60 <= a < b <= 12 * 60 and a % 5 == 0 and b % 5 == 0
        assert wait < BOUND and abs(wait - shown) < 0.06

    page = as_user("secretary").get(f"/campaigns/{campaign_id}/sampling", headers=EN)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "文昌广场采样点" in text and "Swab stations: 4, each sampling 1.5 a minute: 6 persons a minute" in text
    assert "Generate again" in text and f"/campaigns/{campaign_id}/sites/{site_id}" in text
    first = min(spans)
    assert f"{clock(first[0])}–{clock(first[1])}" in text
    assert "The register has changed" not in text

    # A renter found at a door since: the slots no longer hold everyone, and the page says so.
    household = run(call, Household.select(Household.id).where(Household.path == slots[0]["path"]).first())
    added = as_user("secretary").post(f"/households/{household['id']}/persons", follow_redirects=False,
                                      data={"name": "新租户", "relation": "renter"})
    assert added.status_code == 303
    text = html.unescape(as_user("secretary").get(f"/campaigns/{campaign_id}/sampling", headers=EN).text)
    assert "The register has changed since the slots were made" in text


def test_a_site_with_bad_values_is_refused_beside_each_field(as_user, call):
    community = place_of(call, "secretary")
    campaign_id = new_round(call, community)
    client = as_user("secretary")
    refused = client.post(f"/campaigns/{campaign_id}/sampling/sites", headers={**EN, "HX-Request": "true"},
                          data=site_form(community["id"], name="", stations="0", per_minute="fast", opens="10:00",
                                         closes="09:00"))
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert text.lstrip().startswith('<li><details class="add" id="site-form-0"')
    for message in ("Give the site a name residents will recognise.", "Enter a number from 1 to 200.",
                    "Enter the persons one station samples a minute", "Close at least 10 minutes after opening"):
        assert message in text
    # A place outside the round is not offered and not accepted.
    other = run(call, Place.select().where((Place.kind == "community") & (Place.id != community["id"])).first())
    outside = client.post(f"/campaigns/{campaign_id}/sampling/sites", headers=EN, data=site_form(other["id"]))
    assert outside.status_code == 422 and "Choose a place this round covers." in html.unescape(outside.text)
    assert run(call, SamplingSite.count().where(SamplingSite.campaign == campaign_id)) == 0


def test_hours_too_short_are_said_plainly_and_no_slot_is_made(as_user, call):
    community = place_of(call, "secretary")
    campaign_id = new_round(call, community)
    client = as_user("secretary")
    client.post(f"/campaigns/{campaign_id}/sampling/sites",
                data=site_form(community["id"], stations="1", per_minute="0.5", opens="08:00", closes="08:30"))
    refused = client.post(f"/campaigns/{campaign_id}/sampling/generate", headers={**EN, "HX-Request": "true"})
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    persons = sum(u.persons for u in call(logic.units_under, community["path"]))
    capacity = math.ceil(0.5 * (30 + BOUND - STEP)) - 1
    assert "No slots were made" in text
    assert (f"{persons} persons, but its hours fit {capacity} with every wait under 20 minutes — "
            f"{persons - capacity} persons over capacity") in text
    assert re.search(r"\d+ more stations would fit them", text)
    assert run(call, SamplingSlot.count().where(SamplingSlot.campaign == campaign_id)) == 0


def test_secretary_moves_a_slot_and_sees_the_wait_checked_again(as_user, call):
    grid = place_of(call, "gridhead")
    campaign_id, _site_id = round_with_slots(call, as_user, grid, stations="1")
    slots = sorted(stored_slots(call, campaign_id), key=lambda s: -s["persons"])
    big = slots[0]
    assert big["persons"] > 1.5 * (5 + BOUND), "the demo's biggest micro-grid queues 20 minutes in 5"
    client = as_user("secretary")
    outside = client.post(f"/campaigns/{campaign_id}/sampling/slots/{big['id']}", headers={**EN, "HX-Request": "true"},
                          data={"starts": "07:00", "ends": "07:05"})
    assert outside.status_code == 422
    assert "Keep the slot within the site's hours, 08:00 to 12:00." in html.unescape(outside.text)
    # Everyone of the biggest micro-grid in five minutes: more than 20 minutes' queue.
    moved = client.post(f"/campaigns/{campaign_id}/sampling/slots/{big['id']}",
                        data={"starts": "08:00", "ends": "08:05"}, follow_redirects=False)
    assert moved.status_code == 303
    after = run(call, SamplingSlot.select().where(SamplingSlot.id == big["id"]).first())
    assert after["adjusted"] and float(after["wait"]) >= BOUND
    day = big["site.day"]
    spans = [(logic.local_minutes(s["starts"], day), logic.local_minutes(s["ends"], day), s["persons"])
             for s in stored_slots(call, campaign_id)]
    rows = stored_slots(call, campaign_id)
    for row, wait in zip(rows, independent_waits(spans, 1.5)):
        assert abs(float(row["wait"]) - wait) < 0.06, "every wait at the site is checked again"
    page = html.unescape(client.get(f"/campaigns/{campaign_id}/sampling", headers=EN).text)
    assert "Slots with an expected wait of 20 minutes or more: " in page
    assert f'<li id="slot-{big["id"]}" class="slot refused">' in page and '<span class="chip bad">' in page

    # Shorter hours leave a slot outside them: the table says so until it is moved or generated again.
    site = run(call, SamplingSite.select().where(SamplingSite.campaign == campaign_id).first())
    last = max(stored_slots(call, campaign_id), key=lambda s: s["ends"])
    closes = clock(logic.local_minutes(last["ends"], site["day"]) - 5)
    changed = client.post(f"/campaigns/{campaign_id}/sampling/sites/{site['id']}", follow_redirects=False,
                          data=site_form(grid["id"], stations="1", closes=closes))
    assert changed.status_code == 303
    page = html.unescape(client.get(f"/campaigns/{campaign_id}/sampling", headers=EN).text)
    assert re.search(r"Slots outside their site's hours: [1-9]", page) and "outside the site's hours" in page


def test_grid_head_sees_their_grid_s_slots_read_only(as_user, call):
    community = place_of(call, "secretary")
    grid = place_of(call, "gridhead")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    slots = stored_slots(call, campaign_id)
    names = {p["path"]: p["name"] for p in run(call, Place.select(Place.path, Place.name).where(
        Place.path.is_in([s["path"] for s in slots])))}
    client = as_user("gridhead")
    page = client.get(f"/campaigns/{campaign_id}/sampling", headers=EN)
    assert page.status_code == 200
    text = html.unescape(page.text)
    for slot in slots:
        assert (names[slot["path"]] in text) == slot["path"].startswith(grid["path"]), names[slot["path"]]
    assert "/sampling/generate" not in text and "/sampling/slots/" not in text and "Add a sampling site" not in text
    assert client.post(f"/campaigns/{campaign_id}/sampling/generate").status_code == 404
    assert client.post(f"/campaigns/{campaign_id}/sampling/sites", data=site_form(grid["id"])).status_code == 404
    edit = client.post(f"/campaigns/{campaign_id}/sampling/sites/{site_id}", data=site_form(grid["id"]))
    assert edit.status_code == 404
    assert client.post(f"/campaigns/{campaign_id}/sampling/slots/{slots[0]['id']}",
                       data={"starts": "08:00", "ends": "08:30"}).status_code == 404
    assert len(stored_slots(call, campaign_id)) == len(slots)
    # A round of another community is none of theirs; nor is sampling a page for volunteers or residents.
    other = run(call, Place.select().where((Place.kind == "community") & (Place.id != community["id"])).first())
    assert client.get(f"/campaigns/{new_round(call, other)}/sampling").status_code == 404
    assert as_user("volunteer").get(f"/campaigns/{campaign_id}/sampling").status_code == 404
    assert as_user("secretary").get(f"/campaigns/{new_round(call, community, 'census')}/sampling").status_code == 404
    assert as_user("secretary").get("/campaigns/2000000000/sampling").status_code == 404


def test_a_resident_sees_their_slot_and_the_questions_link_on_their_page(as_user, call, client):
    community = place_of(call, "secretary")
    campaign_id, _site_id = round_with_slots(call, as_user, community)
    slot = stored_slots(call, campaign_id)[0]
    household = run(call, Household.select(Household.id).where(Household.path == slot["path"]).first())
    token = call(accounts_logic.issue_link, household["id"], None)
    client.as_(None)
    entered = client.get(f"/h/{token}", follow_redirects=False)
    client.as_(entered.cookies["gl_session"])
    page = client.get("/my", headers=EN)
    assert page.status_code == 200
    text = html.unescape(page.text)
    day = slot["site.day"]
    starts, ends = (logic.local_minutes(slot[k], day) for k in ("starts", "ends"))
    # The slot as people say it: "tomorrow (Sat) 8:00–8:20", relative to today.
    said = {0: "today", 1: "tomorrow", 2: "the day after tomorrow"}.get((day - today()).days)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
    when = f"{said} ({weekday})" if said else f"{day.day} {day.strftime('%b')} ({weekday})"
    assert "文昌广场采样点" in text and "文昌广场东侧" in text
    assert f"{when} {starts // 60}:{starts % 60:02d}–{ends // 60}:{ends % 60:02d}" in text
    assert f'href="/my/campaigns/{campaign_id}"' in text and "Answer this round's questions for your household" in text
    assert client.get(f"/campaigns/{campaign_id}/sampling").status_code == 404


def _household_in(call, paths: list[str]) -> tuple[dict, list[dict]]:
    """A household at one of `paths` with at least two members."""
    for household in run(call, Household.select().where(Household.path.is_in(paths)).order_by(Household.id)):
        members = run(call, Person.select().where(Person.household == household["id"]).order_by(Person.id))
        if len(members) >= 2:
            return household, members
    raise AssertionError("no household with two members")


def test_volunteer_ticks_members_sampled_once_even_when_the_request_comes_twice(as_user, call):
    community = place_of(call, "secretary")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    household, members = _household_in(call, [s["path"] for s in stored_slots(call, campaign_id)])
    client = as_user("volunteer")
    page = client.get(f"/campaigns/{campaign_id}/sites/{site_id}", headers=EN)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f'id="d-{household["door_code"]}"' in text and all(m["name"] in text for m in members)
    for member in members:  # names and ages only: no phone, no ID number, not even masked
        for secret in (member["phone"], member["id_number"]):
            assert not secret or (secret not in text and mask_phone(secret) not in text and mask_id(secret) not in text)

    ticked = [m["id"] for m in members[:2]]
    key = str(uuid.uuid4())
    url = f"/campaigns/{campaign_id}/sites/{site_id}/households/{household['id']}"
    headers = {**EN, "HX-Request": "true", "Idempotency-Key": key, "X-Occurred-At": now().isoformat()}
    first = client.post(url, data={"sampled": [str(i) for i in ticked], "shown": ""}, headers=headers)
    again = client.post(url, data={"sampled": [str(i) for i in ticked], "shown": ""}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true" and again.text == first.text
    assert f'id="tick-{household["door_code"]}"' in first.text and "Saved: 2 of" in first.text
    status = run(call, PersonStatus.select().where((PersonStatus.campaign == campaign_id)
                                                   & PersonStatus.household.is_in([household["id"]])))
    assert {s["person"] for s in status if s["sampled"]} == set(ticked)
    answers = run(call, Answer.select().where((Answer.campaign == campaign_id) & (Answer.household == household["id"])))
    assert sorted(a["person"] for a in answers) == sorted(ticked), "recorded exactly once"
    assert {(a["item"], a["value"], a["source"]) for a in answers} == {("sampled", "yes", "site")}

    # Unticking one shown as sampled undoes it; a save with nothing to say is refused beside the boxes.
    undo = client.post(url, data={"sampled": [str(ticked[0])], "shown": ",".join(map(str, ticked))},
                       headers={**EN, "HX-Request": "true"})
    assert undo.status_code == 200
    status = run(call, PersonStatus.select().where(
        (PersonStatus.campaign == campaign_id) & (PersonStatus.person == ticked[1])).first())
    assert not status["sampled"]
    empty = client.post(url, data={"shown": ""}, headers={**EN, "HX-Request": "true"})
    assert empty.status_code == 422 and "Tick the members who were sampled." in html.unescape(empty.text)
    stranger = run(call, Person.select(Person.id).where(Person.household != household["id"]).first())
    wrong = client.post(url, data={"sampled": [str(stranger["id"])]}, headers={**EN, "HX-Request": "true"})
    assert wrong.status_code == 422


def test_a_door_code_finds_the_household_or_says_it_is_not_at_this_site(as_user, call):
    grid = place_of(call, "gridhead")
    campaign_id, site_id = round_with_slots(call, as_user, grid)
    household, _members = _household_in(call, [s["path"] for s in stored_slots(call, campaign_id)])
    client = as_user("volunteer")
    found = client.get(f"/campaigns/{campaign_id}/sites/{site_id}", params={"code": household["door_code"].lower()},
                       follow_redirects=False)
    assert found.status_code == 303
    assert found.headers["location"] == f"/campaigns/{campaign_id}/sites/{site_id}#d-{household['door_code']}"
    elsewhere = run(call, Household.select().where(Household.path.not_like(f"{grid['path']}%")).first())
    missing = client.get(f"/campaigns/{campaign_id}/sites/{site_id}", params={"code": elsewhere["door_code"]},
                         headers=EN)
    assert missing.status_code == 200
    text = html.unescape(missing.text)
    assert f"No household with door code {elsewhere['door_code']} has a slot at this site" in text
    assert f'id="d-{elsewhere["door_code"]}"' not in missing.text
    # A household outside the site's catchment cannot be ticked here, even by whoever may sample there.
    url = f"/campaigns/{campaign_id}/sites/{site_id}/households/{elsewhere['id']}"
    for username in ("volunteer", "secretary", "commander"):
        assert as_user(username).post(url, data={"sampled": "1"}).status_code == 404


def test_volunteer_of_another_community_gets_404_at_the_site(world, as_user, call):
    community = place_of(call, "secretary")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    household, members = _household_in(call, [s["path"] for s in stored_slots(call, campaign_id)])
    other = run(call, Place.select().where((Place.kind == "community") & (Place.id != community["id"])).first())
    username = f"v{uuid.uuid4().hex[:10]}"
    call(accounts_logic.create_user, username, "外村志愿者", "sampling-test-pass", "", "volunteer", other["id"], None)
    client = as_user(None).as_(sign_in(world, username, "sampling-test-pass"))
    assert client.get(f"/campaigns/{campaign_id}/sites/{site_id}").status_code == 404
    url = f"/campaigns/{campaign_id}/sites/{site_id}/households/{household['id']}"
    assert client.post(url, data={"sampled": str(members[0]["id"])}).status_code == 404
    looked_up = client.get(f"/campaigns/{campaign_id}/sites/{site_id}", params={"code": household["door_code"]})
    assert looked_up.status_code == 404
    assert run(call, Answer.count().where(Answer.campaign == campaign_id)) == 0
    # Nor anyone else without "sample" at the site's place: a resident, a grid head of another grid's site.
    assert as_user("buildinghead").get(f"/campaigns/{campaign_id}/sites/{site_id}").status_code == 404
    assert as_user("secretary").get(f"/campaigns/{campaign_id}/sites/2000000000").status_code == 404


def test_a_closed_round_refuses_ticks_with_a_clear_message(as_user, call):
    community = place_of(call, "secretary")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    household, members = _household_in(call, [s["path"] for s in stored_slots(call, campaign_id)])

    async def close():
        async with db.write():
            await Campaign.update({Campaign.status: "closed"}).where(Campaign.id == campaign_id)

    call(close)
    url = f"/campaigns/{campaign_id}/sites/{site_id}/households/{household['id']}"
    refused = as_user("volunteer").post(url, data={"sampled": str(members[0]["id"])},
                                        headers={**EN, "HX-Request": "true", "Idempotency-Key": str(uuid.uuid4())})
    assert refused.status_code == 422
    assert "This testing round is closed: nothing more can be recorded or changed." in html.unescape(refused.text)
    assert run(call, Answer.count().where(Answer.campaign == campaign_id)) == 0
    secretary = as_user("secretary")
    assert secretary.post(f"/campaigns/{campaign_id}/sampling/generate").status_code == 422
    added = secretary.post(f"/campaigns/{campaign_id}/sampling/sites", data=site_form(community["id"]))
    assert added.status_code == 422


def test_the_sites_a_volunteer_s_phone_keeps_are_those_of_their_community_s_open_rounds(as_user, call):
    community = place_of(call, "secretary")
    campaign_id, site_id = round_with_slots(call, as_user, community)
    other = run(call, Place.select().where((Place.kind == "community") & (Place.id != community["id"])).first())

    def sites(place: dict) -> set[tuple[int, int]]:
        grant = Grant("volunteer", place["id"], place["path"], "", "community")
        volunteer = Principal(session_id=0, user_id=0, grants=(grant,))
        return {(s["campaign"], s["id"]) for s in call(logic.sites_for, volunteer)}

    assert (campaign_id, site_id) in sites(community)
    assert (campaign_id, site_id) not in sites(other)
