"""POST /sync/batch: a phone's queued writes in one request, each run through the app as if
it had come alone (docs/offline.md)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import ORIGIN, sign_in
from tests.factories import a_household, count, entry, records, results, send
from web.accounts.auth import token_hash
from web.accounts.tables import Session
from web.households.tables import Person
from web.sync.batch import MAX_ENTRIES
from web.sync.tables import IdempotencyRecord

EN = {"Accept-Language": "en"}


def q(call, query):
    async def run():
        return await query

    return call(run)


def test_a_batch_of_distinct_writes_applies_each_once_in_order(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 20)
    tag = f"批{uuid.uuid4().hex[:6]}"
    entries = [entry(household["id"], f"{tag}{i}") for i in range(5)]
    entries[4]["headers"].pop("hx-request")  # a plain form post: a 303 with its Location
    answers = results(send(client, entries))
    assert [a["status"] for a in answers] == [200, 200, 200, 200, 303]
    assert answers[4]["location"] == f"/households/{household['id']}"
    assert not any(a["replayed"] for a in answers) and not any("body" in a for a in answers)
    names = q(call, Person.select(Person.name).where(Person.name.like(tag + "%")).order_by(Person.id))
    assert [r["name"] for r in names] == [f"{tag}{i}" for i in range(5)]


def test_the_same_batch_twice_changes_nothing_the_second_time(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 21)
    tag = f"批{uuid.uuid4().hex[:6]}"
    entries = [entry(household["id"], f"{tag}{i}") for i in range(4)]
    first = results(send(client, entries))
    again = results(send(client, entries))
    assert [a["status"] for a in again] == [a["status"] for a in first] == [200] * 4
    assert [a["replayed"] for a in again] == [True] * 4
    assert count(call, household["id"], tag) == 4
    # The batch itself is not recorded: only its entries' keys are.
    assert records(call, [e["headers"]["idempotency-key"] for e in entries]) == 4


def test_each_entry_keeps_its_own_device_time(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 22)
    earlier = datetime.now(timezone.utc) - timedelta(hours=3)
    stamped = entry(household["id"], f"批{uuid.uuid4().hex[:6]}", **{"x-occurred-at": earlier.isoformat()})
    assert results(send(client, [stamped]))[0]["status"] == 200
    record = q(call, IdempotencyRecord.select().where(IdempotencyRecord.key == stamped["headers"]["idempotency-key"]).first())
    assert abs((record["occurred_at"] - earlier).total_seconds()) < 1 and not record["clock_flagged"]


def test_a_refused_entry_says_why_and_the_next_ones_still_go(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 23)
    tag = f"批{uuid.uuid4().hex[:6]}"
    entries = [entry(household["id"], f"{tag}0"), entry(household["id"], ""), entry(household["id"], f"{tag}2")]
    answers = results(send(client, entries, **EN))
    assert [a["status"] for a in answers] == [200, 422, 200]
    assert "Enter the person&#39;s name." in answers[1]["body"] or "Enter the person's name." in answers[1]["body"]
    assert count(call, household["id"], tag) == 2
    assert records(call, [entries[1]["headers"]["idempotency-key"]]) == 0, "a refused write is not recorded"


def test_a_key_sent_twice_in_one_batch_meets_its_own_first_answer(as_user, call):
    """The batch looks its writes' keys up at once; a key it holds twice is looked up each
    time, so the second copy is a replay, and a refused first copy leaves the corrected
    second free to go (as when a phone resends a fixed write)."""
    client = as_user("gridhead")
    household = a_household(call, 31)
    tag = f"批{uuid.uuid4().hex[:6]}"
    twice, fixed = str(uuid.uuid4()), str(uuid.uuid4())
    entries = [entry(household["id"], f"{tag}0", key=twice), entry(household["id"], "", key=fixed),
               entry(household["id"], f"{tag}0", key=twice), entry(household["id"], f"{tag}1", key=fixed)]
    answers = results(send(client, entries))
    assert [(a["status"], a["replayed"]) for a in answers] == [(200, False), (422, False), (200, True), (200, False)]
    assert count(call, household["id"], tag) == 2


def test_a_key_another_user_recorded_is_refused_in_a_batch_too(as_user, call):
    household = a_household(call, 32)
    tag = f"批{uuid.uuid4().hex[:6]}"
    key = str(uuid.uuid4())
    assert results(send(as_user("gridhead"), [entry(household["id"], f"{tag}0", key=key)]))[0]["status"] == 200
    answers = results(send(as_user("partyleader"), [entry(household["id"], f"{tag}1", key=key)], **EN))
    assert answers[0]["status"] == 409 and "belongs to another user" in answers[0]["body"]
    assert count(call, household["id"], tag) == 1


def test_an_entry_out_of_scope_is_a_404_and_writes_nothing(as_user, call):
    client = as_user("gridhead")
    inside, outside = a_household(call, 24), a_household(call, 0, inside=False)
    tag = f"批{uuid.uuid4().hex[:6]}"
    answers = results(send(client, [entry(outside["id"], f"{tag}外"), entry(inside["id"], f"{tag}内")]))
    assert [a["status"] for a in answers] == [404, 200]
    assert count(call, outside["id"], tag) == 0 and count(call, inside["id"], tag) == 1


def test_an_entry_saved_by_another_user_is_refused(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 25)
    tag = f"批{uuid.uuid4().hex[:6]}"
    answers = results(send(client, [entry(household["id"], tag, **{"x-gridline-owner": "u0"})], **EN))
    assert answers[0]["status"] == 409 and "belongs to another user" in answers[0]["body"]
    assert count(call, household["id"], tag) == 0


def test_the_session_is_the_batchs_own_never_an_entrys(as_user, world, call):
    gridhead = sign_in(world, "gridhead")
    household = a_household(call, 26)
    tag = f"批{uuid.uuid4().hex[:6]}"
    smuggled = entry(household["id"], tag, cookie=f"gl_session={gridhead}")
    # A volunteer may not add persons here: the entry runs as the volunteer, whatever it carries.
    assert results(send(as_user("volunteer"), [smuggled]))[0]["status"] == 404
    assert as_user(None).post("/sync/batch", json={"entries": [smuggled]}).status_code == 401
    assert count(call, household["id"], tag) == 0


def test_a_session_ended_mid_batch_stops_it_there(client, call):
    """An entry that ends the batch's own session: the next one is a 401 and the rest wait."""
    client.cookies.clear()
    signed = client.post("/signin", data={"username": "gridhead", "password": "gridline-demo"}, follow_redirects=False)
    token = signed.cookies["gl_session"]
    client.as_(token)
    session = q(call, Session.select(Session.id).where(Session.token_hash == token_hash(token)).first())
    household = a_household(call, 27)
    tag = f"批{uuid.uuid4().hex[:6]}"
    revoke = {"method": "POST", "url": f"/account/sessions/{session['id']}/revoke",
              "headers": {"idempotency-key": str(uuid.uuid4())}, "body": ""}
    entries = [entry(household["id"], f"{tag}0"), revoke, entry(household["id"], f"{tag}2"), entry(household["id"], f"{tag}3")]
    answers = results(send(client, entries))
    assert [a["status"] for a in answers] == [200, 303, 401], "stopped at the 401"
    assert count(call, household["id"], tag) == 1


def test_a_server_error_stops_the_batch_there(as_user, call, monkeypatch: pytest.MonkeyPatch):
    from web.households import routes

    client = as_user("gridhead")
    household = a_household(call, 28)
    tag = f"批{uuid.uuid4().hex[:6]}"
    real = routes.read_person

    def failing(form):
        if form.get("name").endswith("坏"):
            raise RuntimeError("a bug, for the test")
        return real(form)

    monkeypatch.setattr(routes, "read_person", failing)
    entries = [entry(household["id"], f"{tag}0"), entry(household["id"], f"{tag}坏"), entry(household["id"], f"{tag}2")]
    answers = results(send(client, entries))
    assert [a["status"] for a in answers] == [200, 500]
    assert count(call, household["id"], tag) == 1


def test_entries_go_only_to_this_app_and_never_nest(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 29)
    tag = f"批{uuid.uuid4().hex[:6]}"
    path = f"/households/{household['id']}/persons"
    nested = {"method": "POST", "url": "/sync/batch", "headers": {"idempotency-key": str(uuid.uuid4()),
                                                                   "content-type": "application/json"},
              "body": '{"entries": []}'}
    keyless = entry(household["id"], f"{tag}无键")
    keyless["headers"].pop("idempotency-key")
    refused = [
        entry(household["id"], f"{tag}外", url=f"https://elsewhere.example{path}"),
        entry(household["id"], f"{tag}外", url=f"//elsewhere.example{path}"),
        entry(household["id"], f"{tag}外", url=f"ftp://testserver.local{path}"),
        nested,
        {**nested, "url": f"{ORIGIN}/sync/batch/"},
        {**nested, "url": "/sync/./batch"},
        {**entry(household["id"], f"{tag}读"), "method": "GET"},
        keyless,
        "not an entry",
    ]
    answers = results(send(client, [*refused, entry(household["id"], f"{tag}好", url=path)], **EN))
    assert [a["status"] for a in answers] == [400] * len(refused) + [200]
    assert "not addressed to this app" in answers[0]["body"]
    assert all("cannot hold another batch" in a["body"] for a in answers[3:6])
    assert count(call, household["id"], tag) == 1


def test_a_batch_is_refused_whole_when_it_cannot_be_taken(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 30)
    tag = f"批{uuid.uuid4().hex[:6]}"
    too_many = send(client, [entry(household["id"], f"{tag}{i}") for i in range(MAX_ENTRIES + 1)], **EN)
    assert too_many.status_code == 413 and f"at most {MAX_ENTRIES} writes" in too_many.json()["error"]
    assert client.post("/sync/batch", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"},
                       ).status_code == 400
    assert client.post("/sync/batch", json={"entries": {}}).status_code == 400
    key = str(uuid.uuid4())
    keyed = send(client, [entry(household["id"], f"{tag}键")], **{"Idempotency-Key": key})
    assert keyed.status_code == 400 and records(call, [key]) == 0
    assert count(call, household["id"], tag) == 0
    assert results(send(client, [])) == []
