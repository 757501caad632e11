"""The server side of the offline contract: idempotent writes, clocks, conflicts, claims,
the offline manifest (docs/offline.md)."""

from __future__ import annotations

import gzip
import re
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web.accounts.tables import User
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sync import logic
from web.sync.idempotency import parse_occurred_at
from web.sync.tables import Conflict, IdempotencyRecord

EN = {"Accept-Language": "en"}


def q(call, query):
    async def run():
        return await query

    return call(run)


def a_household(call, offset: int = 0) -> dict:
    grid = q(call, Place.select().where(Place.kind == "grid").order_by(Place.id).first())
    return q(call, Household.select().where(Household.path.like(grid["path"] + "%")).order_by(Household.id).offset(offset).first())


def write(client, household_id: int, name: str, key: str | None = None, **headers):
    return client.post(
        f"/households/{household_id}/persons",
        data={"name": name, "relation": "other"},
        headers={"Idempotency-Key": key or str(uuid.uuid4()), "HX-Request": "true", **headers},
    )


def count(call, household_id: int, name: str) -> int:
    return q(call, Person.count().where((Person.household == household_id) & (Person.name == name)))


def test_a_repeated_key_returns_the_first_answer_and_changes_nothing(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 10)
    key = str(uuid.uuid4())
    first = write(client, household["id"], "同键一次", key)
    again = write(client, household["id"], "同键一次", key)
    assert first.status_code == again.status_code == 200
    assert first.headers["hx-redirect"] == again.headers["hx-redirect"]
    assert again.headers["idempotent-replayed"] == "true"
    assert count(call, household["id"], "同键一次") == 1


def test_a_key_is_bound_to_its_user(as_user, call):
    household = a_household(call, 11)
    key = str(uuid.uuid4())
    assert write(as_user("gridhead"), household["id"], "键属于我", key).status_code == 200
    stolen = write(as_user("buildinghead"), household["id"], "键属于我", key, **EN)
    assert stolen.status_code == 409 and "belongs to another user" in stolen.text
    assert count(call, household["id"], "键属于我") == 1


def test_a_refused_write_stores_nothing_so_the_corrected_one_can_go(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 12)
    key = str(uuid.uuid4())
    refused = write(client, household["id"], "", key, **EN)
    assert refused.status_code == 422
    assert q(call, IdempotencyRecord.count().where(IdempotencyRecord.key == key)) == 0
    assert write(client, household["id"], "改正后", key).status_code == 200
    assert count(call, household["id"], "改正后") == 1


def test_a_malformed_key_is_refused_clearly(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 13)
    response = write(client, household["id"], "坏键", "not-a-uuid", **EN)
    assert response.status_code == 400 and "malformed Idempotency-Key" in response.text
    assert count(call, household["id"], "坏键") == 0


def test_device_time_is_kept_and_a_clock_far_ahead_is_clamped_and_flagged(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 14)
    earlier = (datetime.now(timezone.utc) - timedelta(hours=3)).astimezone(timezone(timedelta(hours=8)))
    key = str(uuid.uuid4())
    write(client, household["id"], "三小时前", key, **{"X-Occurred-At": earlier.isoformat()})
    record = q(call, IdempotencyRecord.select().where(IdempotencyRecord.key == key).first())
    assert abs((record["occurred_at"] - earlier).total_seconds()) < 1 and not record["clock_flagged"]
    future = datetime.now(timezone.utc) + timedelta(days=2)
    key = str(uuid.uuid4())
    write(client, household["id"], "未来时钟", key, **{"X-Occurred-At": future.isoformat()})
    record = q(call, IdempotencyRecord.select().where(IdempotencyRecord.key == key).first())
    assert record["clock_flagged"] and record["occurred_at"] <= record["received_at"] + timedelta(seconds=1)


def test_occurred_at_parsing():
    received = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    assert parse_occurred_at(None, received) == (received, False)
    assert parse_occurred_at("2026-11-29T19:30:00+08:00", received) == (datetime(2026, 11, 29, 11, 30, tzinfo=timezone.utc), False)
    assert parse_occurred_at("2026-11-29T19:30:00", received) == (received, True)  # no offset
    assert parse_occurred_at("yesterday", received) == (received, True)
    assert parse_occurred_at("2026-11-29T12:04:00Z", received)[1] is False
    assert parse_occurred_at("2026-11-29T12:06:00Z", received) == (received, True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_interleaving_of_duplicates_reorders_and_retries_yields_exactly_n_effects(as_user, call, data):
    """N distinct writes, each sent one or more times in any order, some retried after a
    refusal by another user's replay: exactly N persons appear."""
    client = as_user("gridhead")
    household = a_household(call, 15)
    n = data.draw(st.integers(min_value=1, max_value=6))
    tag = uuid.uuid4().hex[:6]
    writes = [(str(uuid.uuid4()), f"性质{tag}{i}") for i in range(n)]
    repeats = data.draw(st.lists(st.integers(min_value=1, max_value=3), min_size=n, max_size=n))
    sends = [w for w, r in zip(writes, repeats) for _ in range(r)]
    order = data.draw(st.permutations(sends))
    for key, name in order:
        assert write(client, household["id"], name, key).status_code == 200
    names = q(call, Person.select(Person.name).where(Person.household == household["id"]).where(Person.name.like(f"性质{tag}%")))
    assert sorted(r["name"] for r in names) == sorted(name for _, name in writes)


def test_old_answers_lose_their_text_but_a_late_repeat_still_changes_nothing(as_user, call):
    """A phone back after weeks with a write whose answer it lost: the record is still
    there (only the text of its answer is shed), so the write is not applied twice."""
    client = as_user("gridhead")
    household = a_household(call, 19)
    old, recent = str(uuid.uuid4()), str(uuid.uuid4())
    for key, name in ((old, "迟到甲"), (recent, "迟到乙")):
        assert write(client, household["id"], name, key=key).status_code == 200
    weeks_ago = datetime.now(timezone.utc) - timedelta(days=30)
    q(call, IdempotencyRecord.update({IdempotencyRecord.received_at: weeks_ago, IdempotencyRecord.body: "<p>答复</p>"})
      .where(IdempotencyRecord.key == old))
    q(call, IdempotencyRecord.update({IdempotencyRecord.body: "<p>答复</p>"}).where(IdempotencyRecord.key == recent))

    cutoff = datetime.now(timezone.utc) - timedelta(days=7)
    assert call(logic.shed_answers, cutoff) >= 1
    assert call(logic.shed_answers, cutoff) == 0, "nothing left to shed"
    kept = {r["key"]: r for r in q(call, IdempotencyRecord.select().where(IdempotencyRecord.key.is_in([old, recent])))}
    assert kept[old]["body"] == "" and kept[old]["status"] == 200 and kept[recent]["body"] == "<p>答复</p>"

    again = write(client, household["id"], "迟到甲", key=old)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.headers["hx-redirect"] == f"/households/{household['id']}" and again.text == ""
    assert count(call, household["id"], "迟到甲") == 1


def test_shedding_goes_in_chunks_in_the_order_received(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 20)
    keys = [str(uuid.uuid4()) for _ in range(5)]
    for i, key in enumerate(keys):
        write(client, household["id"], f"分批{i}", key=key)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    for i, key in enumerate(keys):
        q(call, IdempotencyRecord.update({IdempotencyRecord.received_at: start + timedelta(minutes=i // 2),
                                          IdempotencyRecord.body: "x"}).where(IdempotencyRecord.key == key))
    assert call(logic.shed_answers, start + timedelta(days=1), start, 2) == 5  # ties across chunks included
    assert q(call, IdempotencyRecord.count().where(IdempotencyRecord.key.is_in(keys) & (IdempotencyRecord.body != ""))) == 0


def test_a_stale_edit_becomes_a_conflict_the_grid_head_settles(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 16)
    person = q(call, Person.select().where(Person.household == household["id"]).first())
    base = person["version"]
    fields = {"name": person["name"], "sex": person["sex"] or "", "relation": person["relation"], "birth_year": str(person["birth_year"] or "")}
    first = client.post(f"/persons/{person['id']}", data={**fields, "name": "第一次改名", "version": str(base)},
                        headers={"HX-Request": "true", "Idempotency-Key": str(uuid.uuid4())})
    assert first.status_code == 200
    stale = client.post(f"/persons/{person['id']}", data={**fields, "name": "离线时改名", "version": str(base)},
                        headers={**EN, "HX-Request": "true", "Idempotency-Key": str(uuid.uuid4())})
    assert stale.status_code == 202 and "Both versions are kept" in stale.text
    assert q(call, Person.select(Person.name).where(Person.id == person["id"]).first())["name"] == "第一次改名"
    page = client.get("/conflicts")
    assert "第一次改名" in page.text and "离线时改名" in page.text
    conflict = q(call, Conflict.select().where(Conflict.subject == f"person:{person['id']}").first())
    settled = client.post(f"/conflicts/{conflict['id']}/settle", data={"choice": "submitted"}, follow_redirects=False)
    assert settled.status_code == 303
    assert q(call, Person.select(Person.name).where(Person.id == person["id"]).first())["name"] == "离线时改名"
    assert f'id="conflict-{conflict["id"]}"' not in client.get("/conflicts").text  # settled: off the list
    assert q(call, Conflict.select().where(Conflict.id == conflict["id"]).first())["resolution"] == "submitted"


def test_members_are_corrected_on_the_household_page_itself(as_user, call):
    """The household's page (what a phone prepares) carries each member's correction form,
    with the version it was made on; saved, it comes back to the household."""
    client = as_user("gridhead")
    household = a_household(call, 17)
    members = q(call, Person.select().where(Person.household == household["id"]).order_by(Person.id))
    page = client.get(f"/households/{household['id']}").text
    for member in members:
        assert f'id="edit-person-{member["id"]}"' in page and f'action="/persons/{member["id"]}"' in page
    assert page.count('name="version"') == len(members)
    assert all(member["phone"] not in page for member in members if member["phone"]), "phones stay masked"
    member = members[0]
    fields = {"name": member["name"] + "正", "sex": member["sex"] or "", "relation": member["relation"],
              "birth_year": str(member["birth_year"] or ""), "version": str(member["version"]), "back": "household"}
    saved = client.post(f"/persons/{member['id']}", data=fields, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == f"/households/{household['id']}"
    assert q(call, Person.select(Person.name).where(Person.id == member["id"]).first())["name"] == member["name"] + "正"
    # Anything else in "back" is not an address: the person's own page.
    fields.update(version=str(member["version"] + 1), back="https://elsewhere.example/")
    elsewhere = client.post(f"/persons/{member['id']}", data=fields, follow_redirects=False)
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == f"/persons/{member['id']}"
    # Who may see the household but not correct persons (a party-group leader) sees no forms.
    seen = as_user("partyleader").get(f"/households/{household['id']}")
    assert seen.status_code == 200 and f'href="/persons/{member["id"]}"' in seen.text
    assert 'id="edit-person-' not in seen.text


def test_conflicts_are_scoped(as_user, call):
    assert as_user("partyleader").get("/conflicts").status_code == 404
    for conflict in q(call, Conflict.select().limit(3)):
        assert as_user("volunteer").post(f"/conflicts/{conflict['id']}/settle", data={"choice": "current"}).status_code == 404


def test_claims_go_first_come_and_the_loser_sees_who_has_it(call):
    async def run():
        users = await User.select(User.id, User.display_name).where(User.username.is_in(["volunteer", "gridhead"])).order_by(User.username)
        (head, volunteer) = users
        subject = f"test:{uuid.uuid4().hex[:8]}"
        first = await logic.claim(subject, volunteer["id"], datetime.now(timezone.utc))
        again = await logic.claim(subject, volunteer["id"], datetime.now(timezone.utc))
        lost = await logic.claim(subject, head["id"], datetime.now(timezone.utc))
        return first, again, lost, volunteer

    first, again, lost, volunteer = call(run)
    assert first is None and again is None
    assert lost.holder_id == volunteer["id"] and lost.holder_name == volunteer["display_name"] and lost.since is not None


def test_the_offline_manifest_lists_the_grid_heads_work(as_user, call):
    client = as_user("gridhead")
    manifest = client.get("/sync/manifest").json()
    grid = q(call, Place.select().where(Place.kind == "grid").order_by(Place.id).first())
    households = q(call, Household.select(Household.id).where(Household.path.like(grid["path"] + "%")))
    assert manifest["user"].startswith("u")
    for h in households:
        assert f"/households/{h['id']}" in manifest["urls"]
    outside = q(call, Household.select(Household.id).where(Household.path.not_like(grid["path"] + "%")).first())
    assert f"/households/{outside['id']}" not in manifest["urls"]


def prepared_per_300_households(client, call, world) -> tuple[int, float]:
    """What "prepare for offline" fetches for the grid head, gzip-compressed as sent: the
    number of pages, and the bytes for a 300-household grid. A household's own pages are
    averaged over the households as the demo made them (other tests add persons to some,
    dozens at a time, and a real household has about three); the rest counts once."""
    urls = client.get("/sync/manifest").json()["urls"]
    added = {row["household"] for row in q(call, Person.select(Person.household).where(
        Person.id > world["facts"]["persons"]))}
    shared, own, households = 0, 0, set()
    for url in urls:
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 200, url
        size = len(gzip.compress(response.content, 6))
        household = re.match(r"^(?:/campaigns/\d+)?/households/(\d+)", url)
        if household is None:
            shared += size
        elif int(household[1]) not in added:
            households.add(int(household[1]))
            own += size
    assert len(households) > 20, "enough households as the demo made them"
    return len(urls), shared + own / len(households) * 300


def test_a_prepared_grid_costs_under_2_mb_per_300_households(as_user, call, world):
    pages, per_300 = prepared_per_300_households(as_user("gridhead"), call, world)
    print(f"prepared: {pages} pages; per 300 households {per_300 / 1048576:.2f} MB")
    assert per_300 < 2 * 1048576


def test_pages_answer_304_when_unchanged(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 20)
    first = client.get(f"/households/{household['id']}")
    etag = first.headers["etag"]
    again = client.get(f"/households/{household['id']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content


def test_a_write_saved_on_a_phone_by_another_user_is_not_applied_under_this_session(as_user, call):
    household = a_household(call, 21)
    response = write(as_user("gridhead"), household["id"], "别人的离线记录", **{**EN, "X-Gridline-Owner": "u999999"})
    assert response.status_code == 409 and "belongs to another user" in response.text
    assert count(call, household["id"], "别人的离线记录") == 0


def test_a_replayed_answer_is_whole_even_when_the_first_was_compressed(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 22)
    key = str(uuid.uuid4())
    first = write(client, household["id"], "", key, **{**EN, "Accept-Encoding": "gzip"})  # refused: a 422 page block
    assert first.status_code == 422
    key = str(uuid.uuid4())
    person = q(call, Person.select().where(Person.household == household["id"]).first())
    fields = {"name": person["name"], "relation": person["relation"], "version": str(person["version"])}
    client.post(f"/persons/{person['id']}", data=fields, headers={"HX-Request": "true"})  # now the version moves on
    stale = client.post(f"/persons/{person['id']}", data={**fields, "name": "压缩测试"},
                        headers={"Idempotency-Key": key, "HX-Request": "true", "Accept-Encoding": "gzip", **EN})
    again = client.post(f"/persons/{person['id']}", data={**fields, "name": "压缩测试"},
                        headers={"Idempotency-Key": key, "HX-Request": "true", "Accept-Encoding": "gzip", **EN})
    assert stale.status_code == again.status_code == 202  # a conflict: a page block, long enough to compress
    assert again.headers["idempotent-replayed"] == "true"
    assert again.text == stale.text and len(again.text) > 100


def test_revealed_personal_data_is_not_kept_in_the_idempotency_record(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 23)
    key = str(uuid.uuid4())
    revealed = client.post(f"/households/{household['id']}/reveal", headers={"Idempotency-Key": key, "HX-Request": "true"})
    assert revealed.status_code == 200 and revealed.headers["cache-control"] == "no-store"
    assert q(call, IdempotencyRecord.count().where(IdempotencyRecord.key == key)) == 0


def test_conflicts_show_phone_numbers_masked(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 24)
    person = q(call, Person.select().where(Person.household == household["id"]).first())
    base = str(person["version"])
    fields = {"name": person["name"], "relation": person["relation"], "version": base}
    client.post(f"/persons/{person['id']}", data={**fields, "phone": "13911112222"}, headers={"HX-Request": "true"})
    client.post(f"/persons/{person['id']}", data={**fields, "phone": "13933334444"}, headers={"HX-Request": "true"})
    page = client.get("/conflicts").text
    assert "13933334444" not in page and "139****4444" in page


def test_a_new_resident_link_is_not_kept_in_the_idempotency_record(as_user, call):
    household = a_household(call, 25)
    key = str(uuid.uuid4())
    issued = as_user("gridhead").post(f"/households/{household['id']}/links",
                                      headers={"Idempotency-Key": key, "HX-Request": "true"})
    assert issued.status_code == 200 and "/h/" in issued.text
    assert q(call, IdempotencyRecord.count().where(IdempotencyRecord.key == key)) == 0


def test_a_prepared_grid_with_an_open_round_stays_under_2_mb_per_300_households(as_user, call, world):
    """With a testing round open, the grid head's phone also keeps each household's sweep form."""
    from tests.factories import new_campaign, place_of

    campaign = new_campaign(call, place_of(call, "commander"),
                            questions=[{"kind": "yes_no", "label": "Returned from city X since 1 March?", "choices": ""}])
    client = as_user("gridhead")
    urls = client.get("/sync/manifest").json()["urls"]
    forms = [u for u in urls if u.startswith(f"/campaigns/{campaign['id']}/households/")]
    assert len(forms) == len([u for u in urls if re.match(r"^/households/\d+$", u)]) > 0
    pages, per_300 = prepared_per_300_households(client, call, world)
    print(f"prepared with a round open: {pages} pages; per 300 households {per_300 / 1048576:.2f} MB")
    assert per_300 < 2 * 1048576
