"""Writes that meet at the same moment, on several database connections at once (what
several app instances on one PostgreSQL do): one wins, the others get the conflict,
"held by" or the first answer; never a failed request, never a silent overwrite."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

import httpx

from tests.conftest import ORIGIN, sign_in
from web.accounts.tables import User
from web.households.tables import Person
from web.sync import logic
from web.sync.tables import Conflict, IdempotencyRecord
from tests.test_batch import a_household, entry, q

AT_ONCE = 6  # below the PostgreSQL pool's ten connections: each write has its own


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _person(call, offset: int) -> dict:
    household = a_household(call, offset)
    return q(call, Person.select().where(Person.household == household["id"]).order_by(Person.id).first())


def test_stale_edits_made_on_one_version_at_once_apply_once_and_the_rest_become_conflicts(call):
    person = _person(call, 20)
    names = [f"同时改名{i}" for i in range(AT_ONCE)]

    async def run():
        return await asyncio.gather(*(
            logic.versioned_update(Person, person["id"], person["version"], {"name": name},
                                   subject=f"person:{person['id']}", path=person["path"], user_id=None, occurred=_now())
            for name in names))

    results = call(run)
    applied = [name for name, result in zip(names, results) if result.applied]
    assert len(applied) == 1, results
    assert all(result.conflict_id is not None for result in results if not result.applied)
    now = q(call, Person.select(Person.name, Person.version).where(Person.id == person["id"]).first())
    assert now == {"name": applied[0], "version": person["version"] + 1}
    conflicts = q(call, Conflict.select().where(Conflict.subject == f"person:{person['id']}"))
    kept = sorted(json.loads(c["submitted"])["name"] if isinstance(c["submitted"], str) else c["submitted"]["name"]
                  for c in conflicts)
    assert kept == sorted(set(names) - {applied[0]}), "every losing edit is kept for the grid head"


def test_one_conflict_settled_twice_at_once_is_applied_once(call):
    person = _person(call, 21)
    subject = f"person:{person['id']}"

    async def run():
        await logic.versioned_update(Person, person["id"], person["version"], {"name": "先到"}, subject=subject,
                                     path=person["path"], user_id=None, occurred=_now())
        stale = await logic.versioned_update(Person, person["id"], person["version"], {"name": "后到"}, subject=subject,
                                             path=person["path"], user_id=None, occurred=_now())
        conflict = await Conflict.select().where(Conflict.id == stale.conflict_id).first()
        return await asyncio.gather(*(logic.settle(conflict, Person, person["id"], "submitted", None)
                                      for _ in range(AT_ONCE)))

    assert sorted(call(run)) == [False] * (AT_ONCE - 1) + [True]
    now = q(call, Person.select(Person.name, Person.version).where(Person.id == person["id"]).first())
    assert now == {"name": "后到", "version": person["version"] + 2}


def test_claims_made_at_once_go_to_one_holder_and_everyone_else_is_told_who(call):
    async def run():
        users = await User.select(User.id).order_by(User.id).limit(AT_ONCE)
        subject = f"test:{uuid.uuid4().hex[:8]}"
        outcomes = await asyncio.gather(*(logic.claim(subject, user["id"], _now()) for user in users))
        return users, outcomes

    users, outcomes = call(run)
    assert len(users) == AT_ONCE
    winners = [user["id"] for user, held in zip(users, outcomes) if held is None]
    assert len(winners) == 1
    assert {held.holder_id for held in outcomes if held is not None} == {winners[0]}


def _client(world: dict, token: str) -> httpx.AsyncClient:
    """A client of its own on the app's event loop: its requests run side by side."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=world["client"].app), base_url=ORIGIN,
                             headers={"Origin": ORIGIN, "Cookie": f"gl_session={token}"})


def test_one_key_sent_at_once_on_several_connections_is_applied_once_and_all_get_the_first_answer(world, call):
    household = a_household(call, 22)
    key = str(uuid.uuid4())

    token = sign_in(world, "gridhead")

    async def run():
        async with _client(world, token) as client:
            return await asyncio.gather(*(
                client.post(f"/households/{household['id']}/persons", data={"name": "同键同时", "relation": "other"},
                            headers={"Idempotency-Key": key, "HX-Request": "true"})
                for _ in range(AT_ONCE)))

    answers = call(run)
    assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text[:200] for a in answers]
    assert len({a.headers["hx-redirect"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == AT_ONCE - 1
    assert q(call, Person.count().where((Person.household == household["id"]) & (Person.name == "同键同时"))) == 1
    assert q(call, IdempotencyRecord.count().where(IdempotencyRecord.key == key)) == 1


def test_two_stale_edits_sent_at_once_give_one_saved_and_one_conflict(world, call):
    person = _person(call, 23)
    fields = {"relation": person["relation"], "version": str(person["version"])}

    token = sign_in(world, "gridhead")

    async def run():
        async with _client(world, token) as client:
            return await asyncio.gather(*(
                client.post(f"/persons/{person['id']}", data={**fields, "name": f"并发{i}"},
                            headers={"Idempotency-Key": str(uuid.uuid4()), "HX-Request": "true"})
                for i in range(AT_ONCE)))

    answers = call(run)
    assert sorted(a.status_code for a in answers) == [200] + [202] * (AT_ONCE - 1)
    assert q(call, Conflict.count().where(Conflict.subject == f"person:{person['id']}")) == AT_ONCE - 1


def test_a_batch_sent_again_while_the_first_still_runs_applies_each_write_once(world, call):
    household = a_household(call, 24)
    entries = [entry(household["id"], f"重发批次{i}") for i in range(5)]

    token = sign_in(world, "gridhead")

    async def run():
        async with _client(world, token) as client:
            return await asyncio.gather(*(client.post("/sync/batch", content=json.dumps({"entries": entries}),
                                                      headers={"Content-Type": "application/json"})
                                          for _ in range(3)))

    answers = call(run)
    assert [a.status_code for a in answers] == [200] * 3
    for answer in answers:
        assert [r["status"] for r in answer.json()["results"]] == [200] * 5
    assert q(call, Person.count().where((Person.household == household["id"]) & Person.name.like("重发批次%"))) == 5


def test_a_session_cookie_beside_another_apps_odd_cookie_still_signs_in(world):
    """A header as a browser sends it for a host that serves other apps too: a cookie
    value with a space must not hide the session."""
    client = world["client"]
    client.cookies.clear()
    token = sign_in(world, "gridhead")
    page = client.get("/", headers={"Cookie": f"pref=a b; gl_session={token}; other=\"x\""}, follow_redirects=False)
    assert page.status_code == 200, page.headers
    assert "/signin" not in page.headers.get("location", "")


def test_instances_starting_at_once_migrate_once(world):
    """Several app instances start together on a new PostgreSQL database: one migrates
    under the advisory lock, the others wait and find nothing left to do."""
    if world["engine"] != "postgres":
        return  # SQLite means one process
    from tests.conftest import engine_settings
    from web import db

    settings, cleanup = engine_settings("postgres")
    bound = db.engine()

    async def run():
        engines = [db.make_engine(settings) for _ in range(3)]

        async def start(engine):
            db.bind(engine)  # each "instance" its own engine; tables follow the last bound
            await db.migrate()

        await asyncio.gather(*(start(engine) for engine in engines))
        db.bind(engines[0])
        rows = await db.fetch("SELECT count(*) AS n FROM migration")
        names = await db.fetch("SELECT count(DISTINCT name) AS n FROM migration")
        for engine in engines:
            await db.stop(engine)
        return rows[0]["n"], names[0]["n"]

    try:
        total, distinct = asyncio.run(run())
    finally:
        db.bind(bound)
        cleanup()
    assert total == distinct > 0
