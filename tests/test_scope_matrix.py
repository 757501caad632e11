"""The scope matrix (docs/architecture.md, "scope"): every role × every route × in scope / out of scope.

One table, `ROUTES`, says for every route of the app what fills its path, which roles
succeed on a target inside their scope, and what a success changes. From it, every
role is sent at targets inside and outside its scope (`IN_SCOPE` / `OUT_OF_SCOPE`), and
each combination is one named test cell, e.g.
`test_matrix[sqlite-gridhead-GET /households/{household_id}-out:g2]`.

The rule the cells hold the app to:

- out of scope is a 404: never a 403, never a 500, never a page that shows the object,
  and a refused request changes nothing (no audit entry, person, household, place, link,
  account, role, session or conflict is added, revoked or settled, the target's own row
  is untouched);
- in scope, a role the route is for gets the page (showing the target) or does the write
  (and the write does what it says); any other role gets the same 404 as for something
  that does not exist;
- lists (search, accounts, audit log, conflicts, the offline manifest) answer 200 but
  never list what is out of scope;
- anonymous page loads go to /signin (303); anything else anonymous gets a 401.
- One deliberate exception: POST /accounts names its place in a form field, not in the
  path, so a place not managed is refused beside the field (422), with nothing created.

Each domain describes its routes in its own module, `tests/scope/<domain>.py` (the
words they use are in `tests/scope/common.py`); `ROUTES` here is all of them.
`test_every_route_is_described` walks the app's registered routes and fails, naming
the route, for any route that is neither in `ROUTES` nor in `PUBLIC`: adding a route
means adding one entry to its domain's module.

Targets ("spots") are found in the demo data at fixture time, relative to where the
demo users' roles sit (`web/demo.py`):

    sub      the sub-district itself; a household in the third community; an account made
             for the matrix at the sub-district (removed afterwards)
    c1       the first community (secretary, volunteer); a household in a grid of it other
             than g1/g2; a volunteer's account
    g1       the first grid (grid head, party leader); a household in a third micro-grid of it
    m1       the first micro-grid (building head); a household there that is not the resident's
    own      the demo resident's household (entered by a link the matrix issues itself: other
             tests revoke the demo link). Staff do not write here, lest a revoke sign it out.
    m2       a sibling micro-grid of m1 in g1, and a household there
    g2       another grid of the first community, a household and a grid head's account there
    x        a grid of another community, a household and a grid head's account there
    c2       the other community itself, a household (outside x) and a volunteer's account
    missing  ids that do not exist

Every cell removes what it added (rows newer than its first snapshot) and puts the
target's row back, so the shared demo world is as it was for the tests after it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher

from tests.conftest import sign_in
from web import db
from web.accounts import routes as accounts_routes
from web.accounts import logic as accounts_logic
from web.accounts.auth import new_token, token_hash
from web.accounts.tables import HouseholdLink, Organisation, RoleGrant, Session, User
from web.core.timeutil import now
from web.households.tables import Household, Person
from web.places.tables import Place
from tests.scope import domain_modules
from tests.scope.common import (Cell, DEMO_USERNAMES, Env, IN_SCOPE, MISSING_ID, OUT_OF_SCOPE, PUBLIC, ROLES, Route, SESSION_IN, SESSION_OUT, SPOT_KINDS, SPOT_PLACE_KIND, Target)

DOMAINS = domain_modules()
ROUTES: tuple[Route, ...] = tuple(route for module in DOMAINS for route in module.ROUTES)
ROUTES_BY_NAME = {route.name: route for route in ROUTES}
assert len(ROUTES_BY_NAME) == len(ROUTES), "two routes share a name"


def spots(route: Route, role: str) -> list[tuple[str, str]]:
    """(in | out | any, spot) for one role on one route."""
    if route.kind is None:
        return [("any", "-")]
    if route.kind == "session":
        if role == "anonymous":
            return [("out", "other_user")]
        return [("in", s) for s in SESSION_IN] + [("out", s) for s in SESSION_OUT]

    def fits(spot: str) -> bool:
        if route.kind not in SPOT_KINDS[spot]:
            return False
        if spot == "missing":
            return not route.listing  # nothing to list
        return not route.place_kinds or SPOT_PLACE_KIND.get(spot) in route.place_kinds

    inside, outside = route.scopes.get(role, (IN_SCOPE[role], OUT_OF_SCOPE[role]))
    return [("in", s) for s in inside if fits(s)] + [("out", s) for s in outside if fits(s)]


CELLS = [
    pytest.param(role, route.name, where, spot, id=f"{role}-{route.name}-{where}" + ("" if spot == "-" else f":{spot}"))
    for route in ROUTES
    for role in ROLES
    for where, spot in spots(route, role)
]


# --- Fixtures ----------------------------------------------------------------------------------


def _normalise(path: str) -> str:
    """/places/{place_id:int} → /places/{place_id}"""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def registered_routes(app: Any) -> set[str]:
    """"METHOD /path" of every route the app answers (Litestar's automatic OPTIONS aside)."""
    found = set()
    for route in app.routes:
        methods = set(getattr(route, "methods", None) or {"*"}) - {"OPTIONS"}
        for method in methods:
            found.add(f"{method} {_normalise(route.path)}")
    return found


SUB_ACCOUNT = "matrix.subdistrict"


async def _find_targets(facts: dict) -> Env:
    grants = await RoleGrant.select(RoleGrant.user.id, RoleGrant.user.username, RoleGrant.place.id).where(
        RoleGrant.user.username.is_in(list(DEMO_USERNAMES)))
    where = {g["user.username"]: g["place.id"] for g in grants}
    users = {g["user.username"]: g["user.id"] for g in grants}
    places = {p["id"]: p for p in await Place.select().order_by(Place.id)}

    def kids(place_id: int, kind: str) -> list[dict]:
        return [p for p in places.values() if p["parent"] == place_id and p["kind"] == kind]

    sub, c1, g1, m1 = (places[where[u]] for u in ("commander", "secretary", "gridhead", "buildinghead"))
    assert where["partyleader"] == g1["id"] and where["volunteer"] == c1["id"], "the demo users moved"
    m2, m3 = [p for p in kids(g1["id"], "microgrid") if p["id"] != m1["id"]][:2]
    g2, g3 = [p for p in kids(c1["id"], "grid") if p["id"] != g1["id"]][:2]
    c2, c3 = [p for p in kids(sub["id"], "community") if p["id"] != c1["id"]][:2]
    x = kids(c2["id"], "grid")[0]
    link = await HouseholdLink.select(HouseholdLink.household).where(
        HouseholdLink.token_hash == token_hash(facts["resident_token"])).first()
    own = link["household"]

    persons = await Person.select(Person.id, Person.household, Person.household.door_code, Person.path,
                                  Person.name, Person.id_number).where(
        (Person.id_number != "") & (Person.phone != "")).order_by(Person.id)

    def somebody(prefix: str, avoid: tuple[str, ...] = (), household: int | None = None) -> dict:
        for p in persons:
            if household is not None and p["household"] != household:
                continue
            if household is None and (p["household"] == own or not p["path"].startswith(prefix)
                                      or p["path"].startswith(avoid)):
                continue
            return p
        raise AssertionError(f"the demo has nobody with a phone and ID number under {prefix}")

    async def account_at(place: dict) -> dict:
        row = await RoleGrant.select(RoleGrant.user.id, RoleGrant.user.username).where(
            (RoleGrant.place == place["id"]) & RoleGrant.user.username.not_in(list(DEMO_USERNAMES))
        ).order_by(RoleGrant.id).first()
        assert row is not None, f"nobody but demo users holds a role at {place['name']}"
        return {"id": row["user.id"], "username": row["user.username"], "path": place["path"]}

    organisation = (await Organisation.select(Organisation.id).order_by(Organisation.id).first())["id"]
    if not await User.exists().where(User.username == SUB_ACCOUNT):
        await accounts_logic.create_user(SUB_ACCOUNT, "矩阵测试", new_token(), "", "volunteer", sub["id"], organisation)
    sub_account = await account_at(sub)

    spot_places = {"sub": sub, "c1": c1, "g1": g1, "m1": m1, "m2": m2, "g2": g2, "x": x, "c2": c2}
    spot_persons = {
        "sub": somebody(c3["path"]),
        "c1": somebody(g3["path"]),
        "g1": somebody(m3["path"]),
        "m1": somebody(m1["path"]),  # the neighbour: anybody in m1 but the resident's household
        "own": somebody("", household=own) if any(p["household"] == own for p in persons) else None,
        "m2": somebody(m2["path"]),
        "g2": somebody(g2["path"]),
        "x": somebody(x["path"]),
        "c2": somebody(c2["path"], avoid=(x["path"],)),
    }
    if spot_persons["own"] is None:  # nobody there with both a phone and an ID number: anybody will do
        spot_persons["own"] = (await Person.select(Person.id, Person.household, Person.household.door_code, Person.path,
                                                   Person.name, Person.id_number).where(Person.household == own)
                               .order_by(Person.id).first())
    spot_accounts = {"sub": sub_account, "c1": await account_at(c1), "g2": await account_at(g2),
                     "x": await account_at(x), "c2": await account_at(c2)}

    targets: dict[tuple[str, str], Target] = {}
    for spot, place in spot_places.items():
        targets[(spot, "place")] = Target(place["id"], place["path"], place["name"], f'href="/places/{place["id"]}"',
                                          place_kind=place["kind"])
        assert place["kind"] == SPOT_PLACE_KIND[spot], spot
    for spot, p in spot_persons.items():
        targets[(spot, "household")] = Target(p["household"], p["path"], p["household.door_code"],
                                              f'href="/households/{p["household"]}"', door_code=p["household.door_code"])
        targets[(spot, "person")] = Target(p["id"], p["path"], p["name"], f'href="/persons/{p["id"]}"',
                                           id_number=p["id_number"])
    for spot, account in spot_accounts.items():
        targets[(spot, "user")] = Target(account["id"], account["path"], account["username"],
                                         f'href="/accounts/{account["id"]}"')
    for kind in ("place", "household", "person", "user"):
        targets[("missing", kind)] = Target(MISSING_ID, link=f'href="/{kind}s/{MISSING_ID}"')
    for spot, kinds in SPOT_KINDS.items():
        for kind in kinds:
            assert (spot, kind) in targets, (spot, kind)

    actors = {role: {"user": users[role]} for role in DEMO_USERNAMES}
    actors["resident"] = {"household": own}
    return Env(targets=targets, actors=actors, organisation=organisation, other_user=spot_accounts["x"]["id"],
               neighbour=spot_persons["m1"]["household"])


async def _drop_sub_account() -> None:
    user = await User.select(User.id).where(User.username == SUB_ACCOUNT).first()
    if user:
        async with db.write():
            await Session.delete().where(Session.user == user["id"])
            await RoleGrant.delete().where(RoleGrant.user == user["id"])
            await User.delete().where(User.id == user["id"])


async def _drop_resident(link_id: int, session_token: str) -> None:
    async with db.write():
        await Session.delete().where(Session.token_hash == token_hash(session_token))
        await HouseholdLink.delete().where(HouseholdLink.id == link_id)


@pytest.fixture(scope="module")
def env(world: dict):
    run = world["client"].blocking_portal.call
    client = world["client"]
    # Accounts made and passwords reset in the cells are hashed with Argon2 at a token cost:
    # the production cost (tens of ms to seconds on a busy machine) would dominate the matrix.
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        for module in (accounts_logic, accounts_routes):
            patch.setattr(module, "hash_password", quick.hash)
        found = run(_find_targets, world["facts"])
        found.registered = frozenset(registered_routes(client.app))
        # The resident enters by a link of the matrix's own: other tests may have revoked the
        # demo household's link by now (revoking is theirs to test).
        own = found.actors["resident"]["household"]
        link = run(accounts_logic.issue_link, own, None)
        link_id = run(_link_id, link)
        client.cookies.clear()
        entered = client.get(f"/h/{link}", follow_redirects=False)
        assert entered.status_code == 303, entered.text
        found.tokens["resident"] = entered.cookies["gl_session"]
        client.cookies.clear()
        yield found
        run(_drop_resident, link_id, found.tokens["resident"])
        run(_drop_sub_account)


async def _link_id(token: str) -> int:
    row = await HouseholdLink.select(HouseholdLink.id).where(HouseholdLink.token_hash == token_hash(token)).first()
    return row["id"]


def token_of(world: dict, env: Env, role: str) -> str:
    """The cached session of a demo user, or the matrix's own resident session."""
    return env.tokens["resident"] if role == "resident" else sign_in(world, role)


# --- Snapshots: what a refused request must not change ------------------------------------------

# Rows newer than a cell's first snapshot are the cell's to remove (children before parents).
_TABLES = (*(t for module in DOMAINS for t in getattr(module, "TABLES", ())), "signin_session", "household_link",
           "role_grant", "audit_entry", "conflict", "person", "household", "place", "account")
_COUNTS = {alias: sql for module in DOMAINS for alias, sql in getattr(module, "COUNTS", {}).items()}
_ROW_TABLES = {"place": Place, "household": Household, "person": Person, "user": User}


async def _snapshot(kind: str | None, target_id: int | None) -> dict:
    """What a request may add, revoke or change: counts, the newest row of each table, and
    the target's own row (its name, version, password, ...)."""
    newest = ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t}) AS newest_{t}" for t in _TABLES)
    rows = await db.fetch(
        "SELECT (SELECT count(*) FROM audit_entry) AS audit, (SELECT count(*) FROM person) AS persons,"
        " (SELECT count(*) FROM household) AS households,"
        " (SELECT count(*) FROM place) AS places, (SELECT count(*) FROM account) AS users,"
        " (SELECT count(*) FROM role_grant) AS grants,"
        " (SELECT count(*) FROM household_link WHERE revoked_at IS NULL) AS links,"
        " (SELECT count(*) FROM signin_session WHERE revoked_at IS NULL) AS sessions,"
        " (SELECT count(*) FROM account WHERE active) AS active_users,"
        " (SELECT count(*) FROM conflict WHERE settled_at IS NULL) AS open_conflicts, "
        + "".join(f"({sql}) AS {alias}, " for alias, sql in _COUNTS.items()) + newest
    )
    snapshot = dict(rows[0])
    table = _ROW_TABLES.get(kind or "")
    snapshot["row"] = None
    if table is not None and target_id is not None:
        snapshot["row"] = await table.select().where(table._meta.primary_key == target_id).first()
    return snapshot


async def _restore(mark: dict, kind: str | None) -> None:
    """Remove what a cell added, and put the target's row back as it was."""
    async with db.write():
        for name in _TABLES:
            await db.fetch(f"DELETE FROM {name} WHERE id > {{}}", mark[f"newest_{name}"])
        table = _ROW_TABLES.get(kind or "")
        row = mark["row"]
        if table is not None and row is not None:
            await table.update({getattr(table, k): v for k, v in row.items() if k != "id"}).where(
                table._meta.primary_key == row["id"])


async def _new_session(actor: dict) -> tuple[str, int]:
    token = new_token()
    async with db.write():
        rows = await Session.insert(Session(token_hash=token_hash(token), user=actor.get("user"),
                                            household=actor.get("household"), created_at=now(),
                                            last_seen_at=now())).returning(Session.id)
    return token, rows[0]["id"]


# --- The matrix ---------------------------------------------------------------------------------


def _send(client: Any, route: Route, url: str, form: dict | None, files: dict | None = None,
          htmx: bool = False) -> Any:
    """As a browser would: a page load (or an htmx request), a same-origin form post."""
    headers = {"HX-Request": "true", "Accept": "*/*"} if htmx else {"Accept": "text/html,application/xhtml+xml"}
    if route.method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    return client.request(route.method, url, data=form or {}, files=files, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(("role", "route_name", "where", "spot"), CELLS)
def test_matrix(world, client, call, env, role, route_name, where, spot):
    route = ROUTES_BY_NAME[route_name]
    if route.optional and route.key not in env.registered:
        pytest.skip(f"{route.key} is not registered yet")
    name = f"{role} {route.name} {where}:{spot}"
    target = env.target(spot, route.kind) if route.kind not in (None, "session") else None
    target_id = target.id if target is not None else None
    token = token_of(world, env, role) if role != "anonymous" and not route.fresh else None  # before the mark
    mark = before = call(_snapshot, route.kind, target_id)
    after = None
    try:
        prepared = False  # rows made for this cell: a session, a link, an audit entry, an upload
        params: dict[str, Any] = {}
        if route.fresh and role != "anonymous":
            token, own_session = call(_new_session, env.actors[role])
            prepared = True
        if route.kind == "session":
            if spot == "self":
                target = Target(own_session)
            else:
                other = {"user": env.other_user} if spot == "other_user" else {"household": env.neighbour}
                target = Target(call(_new_session, other)[1])
            prepared = True
        cell = Cell(role=role, target=target, env=env, row=mark["row"])
        if route.setup and (target is None or target.path is not None):  # nothing to prepare on what does not exist
            params = call(route.setup, cell) or {}
            prepared = True
        if prepared:
            before = call(_snapshot, route.kind, target_id)
        form = route.form(cell) if route.form else None
        files = route.files(cell) if route.files else None
        url = route.url(target, params)
        client.as_(token)

        if role == "anonymous":
            answers = []
            if route.method == "GET":
                nav = _send(client, route, url, form)
                answers.append(nav)
                assert nav.status_code == route.anonymous["nav"], f"{name}: page load answered {nav.status_code}"
                if nav.status_code == 303:
                    assert nav.headers["location"].startswith("/signin"), f"{name}: sent to {nav.headers['location']}"
                partial = _send(client, route, url, form, htmx=True)
                answers.append(partial)
                assert partial.status_code == route.anonymous["htmx"], f"{name}: htmx answered {partial.status_code}"
            else:
                answer = _send(client, route, url, form, files)
                answers.append(answer)
                assert answer.status_code == route.anonymous["post"], f"{name}: answered {answer.status_code}"
            after = call(_snapshot, route.kind, target_id)
            assert after == before, f"{name}: an anonymous request changed {_diff(before, after)}"
            for answer in answers:
                # An error page repeats the address asked for (the language switch's `next`).
                _assert_not_shown(name, answer.text.replace(url, ""), target, route)
            return

        acts = role in route.ok and where in ("in", "any")
        if role not in route.ok:
            expected = 404
        elif acts or route.listing:
            expected = route.ok[role]
        else:
            expected = route.out
        response = _send(client, route, url, form, files)
        after = call(_snapshot, route.kind, target_id)
        assert response.status_code == expected, (
            f"{name}: answered {response.status_code}, expected {expected}\n{response.text[:600]}")

        if acts and route.effect is not None:
            assert route.effect(before, after), f"{name}: the write did not do its work: {_diff(before, after)}"
        else:
            assert after == before, f"{name}: changed {_diff(before, after)}"

        if route.listing and target is not None:
            shown = (route.listed or (lambda t: t.link))(target)
            if not acts:
                assert shown not in response.text, f"{name}: LEAK: {shown} listed"
            elif route.must_list:
                assert shown in response.text, f"{name}: {shown} in scope but not listed"
        elif acts and route.method == "GET" and target is not None and target.marker and not route.binary:
            if response.status_code == 303:  # sent on (a door code): to the target's own page
                assert f"/{route.kind}s/{target.id}" in response.headers["location"], f"{name}: sent elsewhere"
            else:
                assert target.marker in response.text, f"{name}: the page does not show {target.marker}"
        elif not acts:
            _assert_not_shown(name, response.text.replace(url, ""), target, route)
    finally:
        if after is None or after != mark:
            call(_restore, mark, route.kind)


def _diff(before: dict, after: dict) -> dict:
    return {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}


def _assert_not_shown(cell: str, body: str, target: Target | None, route: Route) -> None:
    if target is None:
        return
    if route.listing:
        shown = (route.listed or (lambda t: t.link))(target)
        assert not shown or shown not in body, f"{cell}: LEAK: {shown} in the answer"
        return
    for text in (target.marker, target.link):
        assert not text or text not in body, f"{cell}: LEAK: {text!r} in the answer"


# --- The matrix covers the app ----------------------------------------------------------------------


def test_every_route_is_described(env):
    """A route nobody described here fails: add it to ROUTES (or, if it shows nothing
    scoped and needs nobody signed in, to PUBLIC)."""
    described = {route.key for route in ROUTES} | PUBLIC
    missing = sorted(env.registered - described)
    assert not missing, "routes not in the scope matrix: " + ", ".join(missing)


def test_the_matrix_names_only_real_routes(env):
    stale = sorted(route.key for route in ROUTES if not route.optional and route.key not in env.registered)
    stale += sorted(key for key in PUBLIC if key not in env.registered)
    assert not stale, "described but not registered: " + ", ".join(stale)


def test_every_route_has_cells_that_succeed_and_cells_that_are_refused():
    for route in ROUTES:
        cells = [(role, where) for role in ROLES for where, _ in spots(route, role)]
        assert {role for role, _ in cells} == set(ROLES), route.name
        assert any(role in route.ok and where in ("in", "any") for role, where in cells), f"{route.name}: nobody succeeds"
        assert any(role not in route.ok or where == "out" for role, where in cells), f"{route.name}: nobody is refused"
    for role in ROLES[:-1]:
        assert set(IN_SCOPE[role]).isdisjoint(OUT_OF_SCOPE[role]), role
