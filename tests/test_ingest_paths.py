"""The fast paths a replayed write goes through (bench/ingest.py) do exactly what the
general ones do: the scoped single-row lookup, the plain person insert, plain SQL on
SQLite, and a batch's entries as savepoints of one transaction (`db.grouped()`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from litestar.exceptions import NotFoundException
from piccolo.querystring import QueryString

from tests.conftest import ORIGIN
from tests.factories import a_household, count, entry, records, results, run as q, send
from web import db
from web.core.scope import Scope, get_or_404
from web.households import logic
from web.households.tables import Household, Person
from web.places.tables import Place


def _scopes(row: dict, table) -> list[Scope]:
    path = row["path"]
    top = "/".join(path.split("/")[:3]) + "/"
    household = row["id"] if table is Household else row.get("household")
    return [
        Scope(), Scope(paths=(top,)), Scope(paths=(path,)), Scope(paths=("/99999/",)),
        Scope(paths=(path + "1/",)),  # a deeper prefix: not covered
        Scope(household_ids=frozenset({row["id"]})),
        Scope(household_ids=frozenset({household or 0})),
        Scope(paths=("/99999/",), household_ids=frozenset({household or 0, 3})),
    ]


@pytest.mark.parametrize("table", [Place, Household, Person])
def test_get_or_404_is_the_scoped_piccolo_query(call, table):
    """Same row, same keys in the same order, same value types; 404 exactly where the
    query filtered by `Scope.where()` finds nothing."""
    rows = q(call, table.select().order_by(table.id).limit(40))
    column_sets = [(), (table.id, table.path), (table.path,), (table.id,)]
    if table is Person:
        column_sets.append((Person.id, Person.household, Person.created_at))
    if table is Household:
        column_sets.append((Household.id, Household.created_at, Household.door_code))
    checked = 0
    for row in [*rows, {"id": rows[-1]["id"] + 10_000_000, "path": "/1/", "household": None}]:
        for scope in _scopes(row, table):
            for columns in column_sets:
                expected = q(call, table.select(*columns).where(table._meta.primary_key == row["id"])
                             .where(scope.where(table)).first())

                async def fast(pk=row["id"], scope=scope, columns=columns):
                    try:
                        return await get_or_404(table, pk, scope, *columns)
                    except NotFoundException:
                        return None

                got = call(fast)
                assert got == expected, (row["id"], scope, columns)
                if expected is not None:
                    assert list(got) == list(expected)
                    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
                    checked += 1
    assert checked > 100


def test_a_plain_person_insert_stores_what_piccolo_stores(call, world):
    """Every column the same, the timestamp stored in the same text (SQLite) or value."""
    household = q(call, Household.select(Household.id, Household.path).first())
    fields = {"name": "同一", "sex": "F", "birth_year": 1980, "phone": "13800000000", "id_number": "",
              "relation": "other", "tags": "elderly"}
    for when in (datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8))),
                 datetime(2026, 3, 1, 4, 30, tzinfo=timezone.utc)):

        async def both(when=when):
            async with db.write():
                await Person.insert(Person(household=household["id"], path=household["path"], created_at=when, **fields))
                await logic.add_person(household["id"], household["path"], when, fields)
            return await Person.select().order_by(Person.id, ascending=False).limit(2)

        plain, piccolo = call(both)
        assert plain.pop("id") == piccolo.pop("id") + 1
        assert plain == piccolo
        assert plain["created_at"] == when
        if world["engine"] == "sqlite":
            stored = call(db.fetch, "SELECT typeof(created_at) AS t, created_at FROM person ORDER BY id DESC LIMIT 2")
            assert stored[0] == stored[1] and stored[0]["t"] == "text"


def test_plain_sql_compiles_as_piccolo_does(call, world):
    """`db.fetch` compiles its `{}` placeholders itself, once, for the engine of the moment:
    the text must be what Piccolo's QueryString makes of it, and the rows the same."""
    from web.db import _compiled

    engine = world["engine"]
    for sql, n in [("SELECT {} AS a, {} AS b", 2), ("SELECT 1 AS a", 0), ("SELECT {} AS a WHERE 1 = 1", 1),
                   ("SELECT {} AS a, {} AS b, {} AS c, {} AS d, {} AS e, {} AS f, {} AS g, {} AS h, {} AS i,"
                    " {} AS j, {} AS k", 11)]:
        compiled, _args = QueryString(sql, *range(n)).compile_string(engine_type=engine)
        assert _compiled(sql, n, engine) == compiled
    assert _compiled("SELECT {} AS a", 2, engine) is None and _compiled("SELECT '{{}}', {}", 1, engine) is None
    as_int, as_text = ("::int", "::text") if engine == "postgres" else ("", "")
    assert call(db.fetch, f"SELECT {{}}{as_int} AS a, {{}}{as_text} AS b", 1, "x") == [{"a": 1, "b": "x"}]


# A group of writes (what POST /sync/batch runs its entries in) ------------------------


def test_a_group_keeps_what_each_write_keeps_and_runs_callbacks_after_its_commit(call):
    household = q(call, Household.select(Household.id, Household.path).first())
    tag = f"组{uuid.uuid4().hex[:6]}"
    ran: list[str] = []
    fields = {"name": "", "sex": "", "birth_year": None, "phone": "", "id_number": "", "relation": "other", "tags": ""}

    async def run():
        async with db.grouped() as group:
            async with db.write():
                await logic.add_person(household["id"], household["path"], datetime.now(timezone.utc),
                                       {**fields, "name": f"{tag}kept"})
                db.after_commit(lambda: ran.append("kept"))
            assert group.pending and ran == [], "callbacks wait for the group's commit"
            with pytest.raises(RuntimeError):
                async with db.write():
                    await logic.add_person(household["id"], household["path"], datetime.now(timezone.utc),
                                           {**fields, "name": f"{tag}undone"})
                    db.after_commit(lambda: ran.append("undone"))
                    raise RuntimeError("refused")
            # Later writes and reads see the kept one, not the undone one.
            seen = await db.fetch("SELECT name FROM person WHERE name LIKE {}", f"{tag}%")
            assert [r["name"] for r in seen] == [f"{tag}kept"]
            assert len(await db.fetch_long("SELECT name FROM person WHERE name LIKE {}", f"{tag}%")) == 1
            assert ran == []
            # And after an undone write, the next one keeps what it writes.
            async with db.write():
                await logic.add_person(household["id"], household["path"], datetime.now(timezone.utc),
                                       {**fields, "name": f"{tag}after"})
        return ran

    assert call(run) == ["kept"]
    names = q(call, Person.select(Person.name).where(Person.name.like(f"{tag}%")).order_by(Person.id))
    assert [r["name"] for r in names] == [f"{tag}kept", f"{tag}after"]


def test_fetch_long_inside_a_write_sees_the_write(call):
    household = q(call, Household.select(Household.id, Household.path).first())
    tag = f"长{uuid.uuid4().hex[:6]}"

    async def run():
        with pytest.raises(RuntimeError):
            async with db.write():
                await logic.add_person(household["id"], household["path"], datetime.now(timezone.utc),
                                       {"name": tag, "sex": "", "birth_year": None, "phone": "", "id_number": "",
                                        "relation": "other", "tags": ""})
                assert len(await db.fetch_long("SELECT id FROM person WHERE name = {}", tag)) == 1
                raise RuntimeError("undo")
        return await db.fetch_long("SELECT id FROM person WHERE name = {}", tag)

    assert call(run) == []


def test_a_batch_entry_that_fails_after_writing_leaves_nothing(as_user, call, monkeypatch: pytest.MonkeyPatch):
    """A server error after the entry's insert: its savepoint is rolled back (no person,
    no record), the entries before it are committed, the rest wait."""
    from web.households import routes

    client = as_user("gridhead")
    household = a_household(call, 29)
    tag = f"批{uuid.uuid4().hex[:6]}"
    real = routes.redirect

    def failing(request, url, cookies=None):
        if request.scope["state"].get("occurred_at") and failing.armed:
            raise RuntimeError("a bug after the write, for the test")
        return real(request, url, cookies)

    failing.armed = False
    monkeypatch.setattr(routes, "redirect", failing)
    keys = [str(uuid.uuid4()) for _ in range(3)]
    answers = results(send(client, [entry(household["id"], f"{tag}0", keys[0])]))
    assert [a["status"] for a in answers] == [200]
    failing.armed = True
    answers = results(send(client, [entry(household["id"], f"{tag}1", keys[1]),
                                    entry(household["id"], f"{tag}2", keys[2])]))
    assert [a["status"] for a in answers] == [500]
    assert count(call, household["id"], tag) == 1
    assert records(call, keys) == 1


def test_one_key_twice_in_a_batch_is_applied_once(as_user, call):
    client = as_user("gridhead")
    household = a_household(call, 30)
    tag = f"批{uuid.uuid4().hex[:6]}"
    key = str(uuid.uuid4())
    refused = entry(household["id"], "", str(uuid.uuid4()))  # no name: 422, nothing kept
    answers = results(send(client, [entry(household["id"], f"{tag}0", key), refused,
                                    entry(household["id"], f"{tag}1", key)]))
    assert [(a["status"], a["replayed"]) for a in answers] == [(200, False), (422, False), (200, True)]
    assert count(call, household["id"], tag) == 1
    assert records(call, [key, refused["headers"]["idempotency-key"]]) == 1


def test_revoking_another_session_mid_batch_goes_on_and_forgets_it_at_once(client, call):
    """An entry whose commit leaves work to do (forgetting cached sessions) ends the group
    there; the rest go on in a new one. (Revoking the batch's own session: test_batch.)"""
    from web.accounts.auth import token_hash
    from web.accounts.tables import Session

    client.cookies.clear()
    tokens = []
    for _ in range(2):
        signed = client.post("/signin", data={"username": "gridhead", "password": "gridline-demo"},
                             follow_redirects=False)
        tokens.append(signed.cookies["gl_session"])
    first, second = tokens
    other = q(call, Session.select(Session.id).where(Session.token_hash == token_hash(second)).first())
    household = a_household(call, 31)
    tag = f"批{uuid.uuid4().hex[:6]}"
    # Warm the session cache with the second session, then revoke it from the first.
    client.as_(second)
    assert results(send(client, [entry(household["id"], f"{tag}a")]))[0]["status"] == 200
    client.as_(first)
    revoke = {"method": "POST", "url": f"{ORIGIN}/account/sessions/{other['id']}/revoke",
              "headers": {"idempotency-key": str(uuid.uuid4())}, "body": ""}
    answers = results(send(client, [revoke, entry(household["id"], f"{tag}b")]))
    assert [a["status"] for a in answers] == [303, 200]
    client.as_(second)
    assert send(client, [entry(household["id"], f"{tag}c")]).status_code == 401, "forgotten once committed"
    assert count(call, household["id"], tag) == 2


# Shared code a batch's every entry runs, made cheaper: the same answers ---------------


def test_plain_sql_still_hands_sql_arguments_to_piccolo(call, world):
    from web.db import _plain

    assert _plain((1, "x", None, 1.5, True, b"", datetime.now(timezone.utc)))
    assert not _plain((1, QueryString("1 + 1"))) and not _plain((Person.name,))
    assert call(db.fetch, "SELECT {} AS a, {} AS b", QueryString("1 + 1"), "x") == [{"a": 2, "b": "x"}]


def test_a_principals_scope_is_built_once_and_as_before():
    from web.accounts.auth import Principal
    from web.core.scope import Grant

    principal = Principal(session_id=1, user_id=2, grants=(Grant("grid_head", 5, "/1/5/", "g", "grid"),
                                                           Grant("volunteer", 6, "/1/6/", "h", "grid")),
                          assigned_household_ids=frozenset({9}))
    assert principal.scope is principal.scope
    # A volunteer's grant browses nothing by itself; its assigned households do.
    assert principal.scope == Scope(paths=("/1/5/",), household_ids=frozenset({9}))
    assert principal == Principal(session_id=1, user_id=2, grants=principal.grants, assigned_household_ids=frozenset({9}))
