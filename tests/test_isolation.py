"""Home isolation and the day's door-to-door testing list (HTTP, both engines)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, time, timedelta

import pytest

from web import db
from web.accounts import logic as accounts_logic
from web.accounts.auth import token_hash
from web.accounts.tables import HouseholdLink, RoleGrant, Session
from web.audit.tables import AuditEntry
from web.isolation.logic import offline_urls
from web.isolation.tables import DoorSample, Isolation
from web.core.timeutil import local_zone, today
from web.households.tables import Person
from web.places.tables import Place

EN = {"Accept-Language": "en"}
HX = {**EN, "HX-Request": "true"}


def _run(call, query):
    async def run():
        return await query

    return call(run)


@pytest.fixture(autouse=True)
def clean(call):
    """Isolations and door samples made here are removed afterwards: the demo world is shared."""

    async def newest():
        rows = await db.fetch("SELECT (SELECT coalesce(max(id), 0) FROM isolation) AS i,"
                              " (SELECT coalesce(max(id), 0) FROM door_sample) AS d")
        return rows[0]

    mark = call(newest)
    yield

    async def drop():
        async with db.write():
            await DoorSample.delete().where(DoorSample.id > mark["d"])
            await Isolation.delete().where(Isolation.id > mark["i"])

    call(drop)


def place_of(call, username: str) -> dict:
    grant = _run(call, RoleGrant.select(RoleGrant.place).where(RoleGrant.user.username == username).first())
    return _run(call, Place.select().where(Place.id == grant["place"]).first())


def households_with_members(call, prefix: str, avoid: str | None = None, n: int = 2) -> list[int]:
    """Households under `prefix` (not under `avoid`) with at least two persons, none isolated now."""

    async def run():
        rows = await db.fetch(
            "SELECT household, count(*) AS n FROM person WHERE path LIKE {} AND path NOT LIKE {}"
            " AND household NOT IN (SELECT household FROM isolation) GROUP BY household"
            " HAVING count(*) >= 2 ORDER BY household LIMIT {}",
            f"{prefix}%", f"{avoid or '#'}%", n)
        return [row["household"] for row in rows]

    found = call(run)
    assert len(found) == n, f"the demo has too few households with two persons under {prefix}"
    return found


def members(call, household_id: int) -> list[int]:
    return [p["id"] for p in _run(call, Person.select(Person.id).where(Person.household == household_id).order_by(Person.id))]


def samples(call, household_id: int) -> int:
    return _run(call, DoorSample.count().where(DoorSample.household == household_id))


def audits(call, household_id: int) -> int:
    return _run(call, AuditEntry.count().where(AuditEntry.subject == f"household:{household_id}"))


def isolate(client, household_id: int, start=None, days: int = 3, note: str = "密接") -> None:
    start = start or today()
    answer = client.post(f"/households/{household_id}/isolation", follow_redirects=False,
                         data={"starts_on": start.isoformat(), "ends_on": (start + timedelta(days=days)).isoformat(),
                               "note": note})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/households/{household_id}/isolation"


def tick(client, household_id: int, persons: list[int], day=None, place: int | None = None, key: str | None = None,
         headers: dict | None = None, **extra):
    data = {"person": [str(p) for p in persons], "day": (day or today()).isoformat(), **extra}
    if place is not None:
        data["place"] = str(place)
    headers = {**HX, "Idempotency-Key": key or str(uuid.uuid4()), **(headers or {})}
    return client.post(f"/households/{household_id}/door-samples", data=data, headers=headers)


def listed(text: str, household_id: int) -> bool:
    return f'id="iso-h{household_id}"' in text


def figures(text: str) -> tuple[int, int]:
    found = re.search(r"Done (\d+) of (\d+) persons", text)
    assert found, text[:2000]
    return int(found.group(1)), int(found.group(2))


def test_an_isolated_household_is_on_the_list_of_each_day_until_its_end(as_user, call):
    grid, micro = place_of(call, "gridhead"), place_of(call, "buildinghead")
    household, = households_with_members(call, micro["path"], n=1)
    client = as_user("gridhead")
    before = audits(call, household)
    isolate(client, household, days=3)
    assert audits(call, household) == before + 1  # a restriction on a household is audited
    page = client.get(f"/places/{grid['id']}/isolation", headers=EN)
    assert page.status_code == 200 and listed(page.text, household)
    done, total = figures(page.text)
    assert done == 0 and total >= 2
    last = today() + timedelta(days=3)
    assert listed(client.get(f"/places/{grid['id']}/isolation", params={"day": last.isoformat()}).text, household)
    after = client.get(f"/places/{grid['id']}/isolation", params={"day": (last + timedelta(days=1)).isoformat()}).text
    assert not listed(after, household)
    assert not listed(client.get(f"/places/{grid['id']}/isolation",
                                 params={"day": (today() - timedelta(days=1)).isoformat()}).text, household)
    # The same household on the lists of its micro-grid and its community, for those who sweep there.
    assert listed(as_user("buildinghead").get(f"/places/{micro['id']}/isolation").text, household)
    community = place_of(call, "secretary")
    assert listed(as_user("secretary").get(f"/places/{community['id']}/isolation").text, household)
    assert listed(as_user("partyleader").get(f"/places/{grid['id']}/isolation").text, household)
    # The household's own page says so, and shows the form for those who manage households.
    own = as_user("gridhead").get(f"/households/{household}/isolation", headers=EN).text
    assert f"until {last.isoformat()}" in own and "End the isolation today" in own


def test_ticking_marks_persons_done_and_counts_each_person_once(as_user, call):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    isolate(client, household)
    persons = members(call, household)
    _, total = figures(client.get(f"/places/{grid['id']}/isolation", headers=EN).text)

    key = str(uuid.uuid4())
    first = tick(client, household, persons[:1], place=grid["id"], key=key)
    assert first.status_code == 200, first.text
    assert first.headers["hx-retarget"] == f"#iso-h{household}"
    assert f'<li id="iso-h{household}">' in first.text and 'hx-swap-oob="true"' in first.text
    assert figures(first.text)[0] == figures(client.get(f"/places/{grid['id']}/isolation", headers=EN).text)[0]
    counted = figures(first.text)[0]
    # The member just ticked is no longer offered; the others still are, ticked in advance.
    assert f'name="person" value="{persons[0]}"' not in first.text
    assert f'name="person" value="{persons[1]}" checked' in first.text

    again = tick(client, household, persons[:1], place=grid["id"], key=key)  # the phone replays it
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert samples(call, household) == 1
    other = tick(client, household, persons[:1], place=grid["id"])  # a second head, the same person
    assert other.status_code == 200 and samples(call, household) == 2
    assert figures(other.text)[0] == counted
    assert figures(client.get(f"/places/{grid['id']}/isolation", headers=EN).text) == (counted, total)

    # The rest of the door in one tap: the household is then all done.
    rest = tick(client, household, persons[1:], place=grid["id"])
    assert rest.status_code == 200 and "All sampled" in rest.text
    assert figures(client.get(f"/places/{grid['id']}/isolation", headers=EN).text) == (counted + len(persons) - 1, total)
    # Without htmx the form goes back to the list it came from.
    plain = client.post(f"/households/{household}/door-samples", follow_redirects=False,
                        data={"person": str(persons[0]), "day": today().isoformat(), "today": "1", "place": str(grid["id"])})
    assert plain.status_code == 303 and plain.headers["location"] == f"/places/{grid['id']}/isolation"


def test_days_ahead_or_too_far_back_are_refused_with_the_reason(as_user, call):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    isolate(client, household, start=today() - timedelta(days=5), days=10)
    person = members(call, household)[0]
    ahead = tick(client, household, [person], day=today() + timedelta(days=1), place=grid["id"])
    assert ahead.status_code == 422 and "That day has not come yet" in html.unescape(ahead.text)
    assert 'class="error"' in ahead.text and ahead.headers["hx-retarget"] == f"#iso-h{household}"
    late = tick(client, household, [person], day=today() - timedelta(days=3))
    assert late.status_code == 422 and "at most 2 days late" in late.text
    nobody = tick(client, household, [])
    assert nobody.status_code == 422 and "Tick the persons who were sampled." in nobody.text
    stranger = members(call, households_with_members(call, grid["path"], n=2)[1])[0]
    wrong = tick(client, household, [stranger])
    assert wrong.status_code == 422 and "not registered in this household" in wrong.text
    assert samples(call, household) == 0
    assert tick(client, household, [person], day=today() - timedelta(days=2)).status_code == 200
    # Yesterday's list shows the day read-only, with nothing to tick, beyond the two days.
    old = client.get(f"/places/{grid['id']}/isolation", params={"day": (today() - timedelta(days=3)).isoformat()},
                     headers=EN)
    assert listed(old.text, household) and "Read only" in old.text and "door-samples" not in old.text


def test_a_tick_from_todays_list_counts_for_the_day_it_was_made(as_user, call):
    """Ticked offline at 23:50 and sent after midnight: it counts for the evening it was
    made, not the day it arrived (nor the day a stale page was saved)."""
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    isolate(client, household, start=today() - timedelta(days=2), days=5)
    person = members(call, household)[0]
    yesterday = today() - timedelta(days=1)
    late_evening = datetime.combine(yesterday, time(23, 50), tzinfo=local_zone()).isoformat()
    # The page was saved two days ago: its day field is stale, `today=1` says to use the tap's day.
    answer = tick(client, household, [person], day=today() - timedelta(days=2), today="1",
                  headers={"X-Occurred-At": late_evening})
    assert answer.status_code == 200, answer.text
    days = _run(call, DoorSample.select(DoorSample.day).where(DoorSample.household == household))
    assert [row["day"] for row in days] == [yesterday]


def test_ending_an_isolation_takes_the_household_off_todays_list(as_user, call):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    isolate(client, household, start=today() - timedelta(days=2), days=7)
    before = audits(call, household)
    ended = client.post(f"/households/{household}/isolation/end", follow_redirects=False)
    assert ended.status_code == 303 and audits(call, household) == before + 1
    row = _run(call, Isolation.select().where(Isolation.household == household).first())
    assert row["ends_on"] == today() - timedelta(days=1)
    assert not listed(client.get(f"/places/{grid['id']}/isolation").text, household)
    assert listed(client.get(f"/places/{grid['id']}/isolation",
                             params={"day": (today() - timedelta(days=1)).isoformat()}).text, household)
    assert "Not under isolation." in client.get(f"/households/{household}/isolation", headers=EN).text
    # Ending it again (another head, a replay) changes nothing and is no error.
    assert client.post(f"/households/{household}/isolation/end", follow_redirects=False).status_code == 303
    assert audits(call, household) == before + 1


def test_isolating_again_changes_the_dates_of_the_running_isolation(as_user, call):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    isolate(client, household, days=7)
    isolate(client, household, days=14, note="延长")
    rows = _run(call, Isolation.select().where(Isolation.household == household))
    assert len(rows) == 1 and rows[0]["ends_on"] == today() + timedelta(days=14) and rows[0]["note"] == "延长"


@pytest.mark.parametrize(("starts_on", "ends_on", "message"), [
    (0, None, "Enter the last day of isolation."),
    (0, 0, "The last day must come after the first day."),
    (0, 29, "Isolation can last at most 28 days from its first day."),
    (-20, -10, "The first day must be within 14 days of today."),
    (-10, -1, "That last day has passed already."),
])
def test_isolation_dates_are_checked_beside_their_fields(as_user, call, starts_on, ends_on, message):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    before = audits(call, household)
    data = {"starts_on": (today() + timedelta(days=starts_on)).isoformat(), "note": ""}
    if ends_on is not None:
        data["ends_on"] = (today() + timedelta(days=ends_on)).isoformat()
    answer = client.post(f"/households/{household}/isolation", data=data, headers=HX)
    assert answer.status_code == 422
    assert answer.text.lstrip().startswith('<section class="card" id="isolation">')
    assert '<p class="error"' in answer.text and message in html.unescape(answer.text)
    assert _run(call, Isolation.count().where(Isolation.household == household)) == 0
    assert audits(call, household) == before


def resident_of(client, call, household_id: int):
    """A resident session of the household, by a link of this test's own; and its cleanup
    (only this link: other tests use the demo's)."""
    token = call(accounts_logic.issue_link, household_id, None)
    client.cookies.clear()
    entered = client.get(f"/h/{token}", follow_redirects=False)
    assert entered.status_code == 303
    session = entered.cookies["gl_session"]

    async def drop():
        async with db.write():
            await Session.delete().where(Session.token_hash == token_hash(session))
            await HouseholdLink.delete().where(HouseholdLink.token_hash == token_hash(token))

    return client.as_(session), lambda: call(drop)


def test_out_of_scope_or_without_the_ability_is_404_and_writes_nothing(world, as_user, call):
    grid, micro = place_of(call, "gridhead"), place_of(call, "buildinghead")
    community = place_of(call, "secretary")
    inside_micro, = households_with_members(call, micro["path"], n=1)
    outside_micro, = households_with_members(call, grid["path"], avoid=micro["path"], n=1)
    other_grid, = households_with_members(call, community["path"], avoid=grid["path"], n=1)
    other_place = _run(call, Place.select().where((Place.kind == "grid") & (Place.id != grid["id"])
                                                   & Place.path.like(community["path"] + "%")).first())
    isolate(as_user("secretary"), other_grid)
    isolate(as_user("gridhead"), outside_micro)
    isolate(as_user("gridhead"), inside_micro)

    def attempts(household: int) -> list[tuple[str, str, dict]]:
        person = members(call, household)[0]
        return [
            ("GET", f"/households/{household}/isolation", {}),
            ("POST", f"/households/{household}/isolation", {"ends_on": (today() + timedelta(days=5)).isoformat()}),
            ("POST", f"/households/{household}/isolation/end", {}),
            ("POST", f"/households/{household}/door-samples", {"person": str(person), "day": today().isoformat()}),
        ]

    def refused(client, household: int, methods=("GET", "POST")) -> None:
        rows = _run(call, Isolation.select().where(Isolation.household == household))
        before = (samples(call, household), audits(call, household))
        for method, url, data in attempts(household):
            if method not in methods:
                continue
            answer = client.request(method, url, data=data or None, follow_redirects=False,
                                    headers={"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {})
            assert answer.status_code == 404, (method, url, answer.status_code)
        assert (samples(call, household), audits(call, household)) == before
        assert _run(call, Isolation.select().where(Isolation.household == household)) == rows

    refused(as_user("gridhead"), other_grid)
    refused(as_user("buildinghead"), outside_micro)
    refused(as_user("volunteer"), inside_micro)
    refused(as_user("partyleader"), other_grid)
    # The party leader sweeps (ticks) but does not put households under isolation.
    leader = as_user("partyleader")
    assert leader.post(f"/households/{inside_micro}/isolation", data={"ends_on": (today() + timedelta(days=5)).isoformat()},
                       follow_redirects=False).status_code == 404
    assert leader.post(f"/households/{inside_micro}/isolation/end", follow_redirects=False).status_code == 404
    assert "End the isolation today" not in leader.get(f"/households/{inside_micro}/isolation", headers=EN).text
    assert tick(leader, inside_micro, members(call, inside_micro)[:1]).status_code == 200
    # Nothing that does not exist.
    assert as_user("commander").get("/households/2000000000/isolation").status_code == 404
    assert tick(as_user("commander"), 2_000_000_000, [1]).status_code == 404
    assert as_user("commander").get("/places/2000000000/isolation").status_code == 404

    # Lists of places out of scope.
    assert as_user("gridhead").get(f"/places/{other_place['id']}/isolation").status_code == 404
    assert as_user("gridhead").get(f"/places/{community['id']}/isolation").status_code == 404
    assert as_user("buildinghead").get(f"/places/{grid['id']}/isolation").status_code == 404
    assert as_user("volunteer").get(f"/places/{community['id']}/isolation").status_code == 404
    # And an in-scope list never shows what is outside the viewer's own place.
    assert not listed(as_user("buildinghead").get(f"/places/{micro['id']}/isolation").text, outside_micro)
    assert not listed(as_user("gridhead").get(f"/places/{grid['id']}/isolation").text, other_grid)

    # A resident, even at their own household.
    resident, drop = resident_of(world["client"], call, inside_micro)
    try:
        refused(resident, inside_micro)
        assert resident.get(f"/places/{micro['id']}/isolation", follow_redirects=False).status_code == 404
    finally:
        drop()


def test_the_offline_manifest_urls_hold_todays_list_and_the_isolated_households(world, as_user, call):
    from web.accounts.auth import load_principal
    from tests.conftest import sign_in

    grid = place_of(call, "gridhead")
    isolated, not_isolated = households_with_members(call, grid["path"], n=2)
    isolate(as_user("gridhead"), isolated)
    principal = call(load_principal, sign_in(world, "gridhead"), 14)
    urls = call(offline_urls, principal, today())
    assert urls[0] == f"/places/{grid['id']}/isolation"
    assert f"/households/{isolated}/isolation" in urls and f"/households/{not_isolated}/isolation" not in urls
    volunteer = call(load_principal, sign_in(world, "volunteer"), 14)
    assert call(offline_urls, volunteer, today()) == []


def test_a_refused_tick_without_script_shows_the_household_with_the_reason(as_user, call):
    grid = place_of(call, "gridhead")
    household, = households_with_members(call, grid["path"], n=1)
    client = as_user("gridhead")
    answer = client.post(f"/households/{household}/door-samples", headers=EN,
                         data={"person": str(members(call, household)[0]), "day": (today() + timedelta(days=3)).isoformat()})
    assert answer.status_code == 422 and "<html" in answer.text
    assert "That day has not come yet" in html.unescape(answer.text) and f'id="iso-h{household}"' in answer.text
    assert samples(call, household) == 0
