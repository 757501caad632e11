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

`test_every_route_is_described` walks the app's registered routes and fails, naming
the route, for any route that is neither in `ROUTES` nor in `PUBLIC`: adding a route
means adding one entry here.

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

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher

from tests.conftest import sign_in
from web import db
from web.accounts import admin as accounts_admin
from web.accounts import logic as accounts_logic
from web.accounts.auth import new_token, token_hash
from web.accounts.tables import HouseholdLink, Organisation, RoleGrant, Session, User
from web.audit.tables import AuditEntry
from web.core.timeutil import now
from web.households.tables import Household, Person
from web.places.tables import Place

# --- Who ------------------------------------------------------------------------------

ROLES = ("commander", "secretary", "gridhead", "partyleader", "buildinghead", "volunteer", "resident", "anonymous")
DEMO_USERNAMES = ("commander", "secretary", "gridhead", "partyleader", "buildinghead", "volunteer")

# The policy, stated here by demo user rather than derived from web.core.scope.ABILITIES,
# so that a change of ABILITIES shows up as failing cells, not as a silently new matrix.
BROWSE = ("commander", "secretary", "gridhead", "partyleader", "buildinghead")
REVEAL = ("commander", "secretary", "gridhead", "buildinghead")  # not the party leader
MANAGE_PLACES = ("commander", "secretary", "gridhead")
MANAGE_HOUSEHOLDS = REVEAL
ISSUE_LINKS = REVEAL
IMPORT_REGISTER = ("commander", "secretary", "gridhead")
MANAGE_ACCOUNTS = ("commander", "secretary")
VIEW_AUDIT = ("commander", "secretary")
RUN_CAMPAIGNS = ("commander", "secretary")
SWEEP = BROWSE  # the three heads, the secretary and the command centre
STAFF = (*BROWSE, "volunteer")  # signed in with a role
SIGNED_IN = (*STAFF, "resident")

# Where each role's targets are (spots: see the module docstring). Volunteers see only
# what their assignments grant, and nothing is assigned yet: everything is out of scope.
IN_SCOPE: dict[str, tuple[str, ...]] = {
    "commander": ("sub", "m1", "x", "c2"),
    "secretary": ("c1", "g1", "m1", "g2"),
    "gridhead": ("g1", "m1", "m2"),
    "partyleader": ("g1", "m1", "m2"),
    "buildinghead": ("m1",),
    "volunteer": (),
    "resident": ("own",),
    "anonymous": (),
}
OUT_OF_SCOPE: dict[str, tuple[str, ...]] = {
    "commander": ("missing",),
    "secretary": ("sub", "x", "c2", "missing"),
    "gridhead": ("c1", "g2", "x", "missing"),
    "partyleader": ("c1", "g2", "x"),
    "buildinghead": ("g1", "m2", "g2"),
    "volunteer": ("c1", "g1", "m1", "own"),
    "resident": ("m1", "m2", "g2", "x"),  # m1: the neighbour's household, and the micro-grid page
    "anonymous": ("g2",),
}
# What each spot offers (static, so cells are known at collection; the fixture checks it).
SPOT_KINDS: dict[str, tuple[str, ...]] = {
    "sub": ("place", "household", "person", "user"),
    "c1": ("place", "household", "person", "user"),
    "g1": ("place", "household", "person"),
    "m1": ("place", "household", "person"),
    "own": ("household", "person"),
    "m2": ("place", "household", "person"),
    "g2": ("place", "household", "person", "user"),
    "x": ("place", "household", "person", "user"),
    "c2": ("place", "household", "person", "user"),
    "missing": ("place", "household", "person", "user"),
}
SPOT_PLACE_KIND = {"sub": "subdistrict", "c1": "community", "c2": "community", "g1": "grid", "g2": "grid",
                   "x": "grid", "m1": "microgrid", "m2": "microgrid"}
# Sessions (POST /account/sessions/{id}/revoke): one's own, or somebody else's.
SESSION_IN = ("self",)
SESSION_OUT = ("other_user", "other_household")
MISSING_ID = 2_000_000_000

# Routes nobody needs to be signed in for, and which show no scoped data.
PUBLIC = frozenset({
    "GET /signin", "POST /signin", "POST /lang", "GET /h/{token}",
    "GET /healthz", "GET /ping", "GET /static/{name}", "GET /sw.js", "GET /manifest.webmanifest", "GET /offline",
})


# --- Targets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    id: int
    path: str | None = None  # the materialized path it sits at (None: it does not exist)
    marker: str | None = None  # text its own page shows: a place's name, a door code, ...
    link: str | None = None  # how a list links to it
    place_kind: str | None = None
    door_code: str = ""
    id_number: str = ""


@dataclass
class Env:
    """The targets of one engine's demo world, and the actors that go at them."""

    targets: dict[tuple[str, str], Target]
    actors: dict[str, dict]  # role → {"user": id} or {"household": id}
    organisation: int
    other_user: int  # somebody whose session nobody in the matrix owns
    neighbour: int  # a household whose session nobody in the matrix owns
    registered: frozenset[str] = frozenset()
    tokens: dict[str, str] = field(default_factory=dict)

    def target(self, spot: str, kind: str) -> Target:
        return self.targets[(spot, kind)]


@dataclass
class Cell:
    """One cell while it runs: what setups and forms may look at."""

    role: str
    target: Target
    env: Env
    row: dict | None  # the target's row as it is now (None: it does not exist)

    @property
    def actor_user(self) -> int | None:
        return self.env.actors.get(self.role, {}).get("user")


# --- The routes ----------------------------------------------------------------------------

Form = Callable[[Cell], dict[str, str]]
Setup = Callable[[Cell], Awaitable["dict[str, Any] | None"]]  # may name path parameters: {"upload_id": ...}
Effect = Callable[[dict, dict], bool]


def at(status: int, *roles: str) -> dict[str, int]:
    return {role: status for role in roles}


@dataclass(frozen=True)
class Route:
    name: str  # the cell's name: "METHOD /path" as registered, or a variant of it
    kind: str | None  # what fills the path (or is listed): place, household, person, user, session; None: nothing
    ok: Mapping[str, int]  # role → status on a target in its scope; every other role gets 404
    pattern: str = ""  # "METHOD /path" as registered, when `name` is a variant
    query: Callable[[Target], dict[str, str]] | None = None
    form: Form | None = None
    files: Callable[[Cell], dict[str, tuple]] | None = None  # a multipart upload
    effect: Effect | None = None  # what a successful write changes (on snapshots); None: nothing
    listing: bool = False  # out of scope: the same answer, but the target is not listed
    must_list: bool = True  # a listing shows every target in scope (False: it may leave some out)
    listed: Callable[[Target], str] | None = None  # how a listing shows the target (default: its link)
    out: int = 404  # answer to a role in `ok` for a target out of scope (not for listings)
    place_kinds: tuple[str, ...] = ()  # only targets at these kinds of place
    setup: Setup | None = None  # makes what a wrong answer would change, or what the path names
    fresh: bool = False  # the actor uses a session made for this cell (the route ends or revokes it)
    optional: bool = False  # checked only once the route is registered
    anonymous: Mapping[str, int] = field(default_factory=lambda: {"nav": 303, "htmx": 401, "post": 401})
    binary: bool = False  # a file (an Excel export): its page cannot be searched for the target's marker
    # role → (in, out) spots, where a route's reach differs from the role's places: a round
    # over a place above a head's reaches them read-only; a volunteer samples at their community.
    scopes: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return (self.pattern or self.name).split(" ", 1)[0]

    @property
    def path(self) -> str:
        return (self.pattern or self.name).split(" ", 1)[1].split("?", 1)[0]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, target: Target | None, params: Mapping[str, Any]) -> str:
        """The path with the target's id in it (or the parameters a setup named)."""
        url = self.path
        if target is not None or params:
            url = re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), target.id if target else "")), url)
        if self.query and target is not None:
            url += "?" + urlencode(self.query(target))
        return url


def plus(column: str, n: int = 1) -> Effect:
    return lambda before, after: after[column] == before[column] + n


def fewer(column: str) -> Effect:
    return lambda before, after: after[column] < before[column]


def both(*effects: Effect) -> Effect:
    return lambda before, after: all(e(before, after) for e in effects)


def changed(column: str) -> Effect:
    return lambda before, after: after[column] != before[column]


async def ensure_link(cell: Cell) -> None:
    """A live household link, so that a wrongly accepted revoke would show."""
    await accounts_logic.issue_link(cell.target.id, None)


async def audit_marker(cell: Cell) -> None:
    """An audit entry about the target's place, for the audit log to show or hide."""
    async with db.write():
        await AuditEntry.insert(AuditEntry(user=None, action="reveal", subject=f"matrix:household:{cell.target.id}",
                                           path=cell.target.path, detail="", at=now()))


async def user_session(cell: Cell) -> None:
    """A live session of the target account, for "sign out everywhere" to end or keep."""
    async with db.write():
        await Session.insert(Session(token_hash=token_hash(new_token()), user=cell.target.id, created_at=now(),
                                     last_seen_at=now()))


async def conflict(cell: Cell) -> dict[str, Any]:
    """A stale edit of the target person, waiting for a grid head."""
    from web.sync.tables import Conflict

    async with db.write():
        rows = await Conflict.insert(Conflict(
            subject=f"person:{cell.target.id}", path=cell.target.path, base_version=1,
            submitted=json.dumps({"name": f"矩阵冲突{cell.target.id}"}, ensure_ascii=False),
            current=json.dumps({"name": cell.target.marker}, ensure_ascii=False),
            raised_by=None, occurred_at=now(), received_at=now())).returning(Conflict.id)
    return {"conflict_id": rows[0]["id"]}


def register_file() -> bytes:
    """A register of one new household and its head, with an ID number nobody has, laid
    out as the sample register is: good at any grid or micro-grid, whatever other tests
    imported before."""
    from web.core.forms import id_check_digit
    from web.register import logic

    header = logic.SAMPLE_CSV.read_text(encoding="utf-8-sig").splitlines()[0]
    n = uuid.uuid4().int
    first17 = f"320102{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    row = ["矩阵", "1", "1", "101", "住户", "", "", "", "", "矩阵导入", "女", str(1950 + n % 50), "",
           first17 + id_check_digit(first17), "户主", ""]
    assert len(row) == len(header.split(",")), "the sample register's columns changed"
    return ("\ufeff" + header + "\n" + ",".join(row) + "\n").encode("utf-8")


async def upload(cell: Cell) -> dict[str, Any]:
    """A checked upload, kept for the actor at the target place: so only scope stands
    between a confirm and an import."""
    from web.register import logic
    from web.settings import get_settings

    upload_id = logic.save_upload(logic.uploads_dir(get_settings().data_dir), place_id=cell.target.id,
                                  user_id=cell.actor_user, filename="register.csv", data=register_file())
    return {"upload_id": upload_id}


async def _campaign_at(path: str) -> dict[str, Any]:
    from datetime import timedelta

    from web.campaigns import logic as campaigns

    place = await Place.select().where(Place.path == path).first()
    values = {"name": "矩阵轮次", "kind": "testing_round", "checks": "present,sampled,code", "questions": [],
              "deadline": now() + timedelta(days=1)}
    return {"campaign_id": await campaigns.create_campaign(values, place, None)}


async def campaign_here(cell: Cell) -> dict[str, Any]:
    """An open campaign over the target place itself."""
    return await _campaign_at(cell.target.path)


async def campaign_everywhere(cell: Cell) -> dict[str, Any]:
    """An open campaign over the whole sub-district: it reaches every target."""
    return await _campaign_at(cell.env.target("sub", "place").path)


async def door_code(cell: Cell) -> dict[str, Any]:
    """The target household's door code, for the route that takes one in its path."""
    return {"code": cell.target.door_code}


async def isolated(cell: Cell) -> None:
    """A running isolation of the target household, for "end" to end."""
    from datetime import timedelta

    from web.isolation.tables import Isolation
    from web.core.timeutil import today

    async with db.write():
        await Isolation.insert(Isolation(household=cell.target.id, path=cell.target.path,
                                         starts_on=today() - timedelta(days=1), ends_on=today() + timedelta(days=7),
                                         note="矩阵", created_at=now()))


async def household_of_person(cell: Cell) -> dict[str, Any]:
    return {"household_id": cell.row["household"]}


def isolation_form(cell: Cell) -> dict[str, str]:
    from datetime import timedelta

    from web.core.timeutil import today

    return {"starts_on": today().isoformat(), "ends_on": (today() + timedelta(days=14)).isoformat(), "note": "矩阵"}


def door_sample_form(cell: Cell) -> dict[str, str]:
    from web.core.timeutil import today

    return {"person": str(cell.target.id), "day": today().isoformat()}


async def _sampling(cell: Cell, slots: bool) -> dict[str, Any]:
    """A testing round over the target place with a sampling site there (and its slots)."""
    from datetime import time
    from decimal import Decimal

    from web.campaigns.tables import Campaign
    from web.core.timeutil import today
    from web.sampling import logic as sampling
    from web.sampling.tables import SamplingSlot

    params = await _campaign_at(cell.target.path)
    campaign = await Campaign.select().where(Campaign.id == params["campaign_id"]).first()
    place = await Place.select().where(Place.path == cell.target.path).first()
    params["site_id"] = await sampling.save_site(campaign, {
        "place": place, "name": "矩阵采样点", "address": "", "stations": 20, "per_minute": Decimal("2"),
        "day": today(), "opens": time(7, 0), "closes": time(21, 0)}, None)
    if slots:
        plan, _sites, _units = await sampling.generate(campaign)
        assert plan.ok, plan.problems
        slot = await SamplingSlot.select(SamplingSlot.id).where(SamplingSlot.campaign == campaign["id"]).first()
        params["slot_id"] = slot["id"]
    return params


async def sampling_site(cell: Cell) -> dict[str, Any]:
    return await _sampling(cell, slots=False)


async def sampling_slots(cell: Cell) -> dict[str, Any]:
    return await _sampling(cell, slots=True)


async def sampling_person(cell: Cell) -> dict[str, Any]:
    return {**await _sampling(cell, slots=True), "household_id": cell.row["household"]}


def site_form(cell: Cell) -> dict[str, str]:
    from web.core.timeutil import today

    return {"name": "矩阵采样点", "address": "", "place": str(cell.target.id), "stations": "2", "per_minute": "1.5",
            "day": today().isoformat(), "opens": "08:00", "closes": "12:00"}


async def twin(cell: Cell) -> dict[str, Any]:
    """A second record of the target person (same household, name and ID number), as two
    heads adding one person offline leave it: a pair for the duplicate check."""
    person = await Person.select().where(Person.id == cell.target.id).first()
    async with db.write():
        rows = await Person.insert(Person(household=person["household"], path=person["path"], name=person["name"],
                                          birth_year=person["birth_year"], id_number=person["id_number"],
                                          relation="other", created_at=now())).returning(Person.id)
    return {"drop_id": rows[0]["id"], "b_id": rows[0]["id"]}


def campaign_form(cell: Cell) -> dict[str, str]:
    return {"name": "矩阵运动", "kind": "census", "place": str(cell.target.id), "deadline": "2099-01-01T08:00",
            "checks": "present"}


def person_form(cell: Cell) -> dict[str, str]:
    return {"name": "矩阵测试", "sex": "F", "birth_year": "1990", "phone": "", "id_number": "", "relation": "other"}


def person_edit_form(cell: Cell) -> dict[str, str]:
    version = str(cell.row["version"]) if cell.row else "1"
    return {**person_form(cell), "name": "矩阵改名", "version": version}


def account_form(cell: Cell) -> dict[str, str]:
    role = {"grid": "party_leader", "microgrid": "building_head"}.get(cell.target.place_kind or "", "volunteer")
    return {"username": f"matrix-{uuid.uuid4().hex[:12]}", "display_name": "矩阵测试", "phone": "",
            "password": "matrix-password-1", "role": role, "place": str(cell.target.id),
            "organisation": str(cell.env.organisation)}


ROUTES: tuple[Route, ...] = (
    # The user's own things: no target.
    Route("GET /", None, {**at(200, *STAFF), "resident": 303},  # residents are sent to /my
          anonymous={"nav": 303, "htmx": 200}),  # home sends anonymous visitors to /signin itself
    Route("GET /my", None, {**at(303, *STAFF), "resident": 200}),  # staff are sent home
    Route("GET /account", None, at(200, *SIGNED_IN)),
    # Always "signed out", even with no session, so a phone can wipe itself after asking.
    Route("POST /signout", None, at(303, *SIGNED_IN), fresh=True, effect=plus("sessions", -1),
          anonymous={"nav": 303, "htmx": 303, "post": 303}),
    Route("POST /account/sessions/{session_id}/revoke", "session", at(303, *SIGNED_IN), fresh=True,
          effect=plus("sessions", -1)),
    # Places.
    Route("GET /places/{place_id}", "place", at(200, *BROWSE)),
    Route("POST /places/{place_id}/children", "place", at(303, *MANAGE_PLACES),
          place_kinds=("subdistrict", "community", "grid"),  # a micro-grid has no children
          form=lambda cell: {"name": f"矩阵{uuid.uuid4().hex[:8]}"}, effect=plus("places")),
    # Wartime micro-grids, one per building (manage_places, at grids only; the demo's grids are split already).
    Route("POST /places/{place_id}/split", "place", at(303, *MANAGE_PLACES), place_kinds=("grid",)),
    # A household found on a sweep, registered on the spot (manage_households, at grids and micro-grids).
    Route("POST /places/{place_id}/households", "place", at(303, *MANAGE_HOUSEHOLDS),
          place_kinds=("grid", "microgrid"), form=lambda cell: {"kind": "dwelling", "building": "矩阵", "unit": "1",
                                                                 "floor": "1", "room": "101"},
          effect=plus("households")),
    # Households and persons. Volunteers would see the households their assignments grant.
    Route("GET /households/{household_id}", "household", at(200, *BROWSE, "volunteer", "resident")),
    Route("POST /households/{household_id}/reveal", "household", at(200, *REVEAL), effect=plus("audit")),
    Route("POST /households/{household_id}/links", "household", at(200, *ISSUE_LINKS),
          effect=both(plus("links"), plus("audit"))),
    # Every live link of the household goes (other tests may have made more than the setup's).
    Route("POST /households/{household_id}/links/revoke", "household", at(200, *ISSUE_LINKS), setup=ensure_link,
          effect=both(fewer("links"), plus("audit"))),
    Route("POST /households/{household_id}/persons", "household", at(303, *MANAGE_HOUSEHOLDS), form=person_form,
          effect=plus("persons")),
    Route("GET /persons/{person_id}", "person", at(200, *BROWSE, "volunteer", "resident")),
    Route("POST /persons/{person_id}/reveal", "person", at(200, *REVEAL), effect=plus("audit")),
    Route("GET /search?q={door_code}", "household", at(200, *STAFF), pattern="GET /search", listing=True,
          query=lambda t: {"q": t.door_code}),
    Route("GET /search?q={id_number}", "person", at(200, *STAFF), pattern="GET /search", listing=True,
          query=lambda t: {"q": t.id_number}),
    # Accounts: managers, and only for accounts holding a role under their places.
    Route("GET /accounts", "user", at(200, *MANAGE_ACCOUNTS), listing=True),
    # The place is a form field, not the address: one not managed is refused beside the field.
    Route("POST /accounts", "place", at(303, *MANAGE_ACCOUNTS), out=422, form=account_form,
          effect=both(plus("users"), plus("grants"), plus("audit"))),
    Route("GET /accounts/{user_id}", "user", at(200, *MANAGE_ACCOUNTS)),
    Route("POST /accounts/{user_id}/signout-everywhere", "user", at(200, *MANAGE_ACCOUNTS), setup=user_session,
          effect=both(plus("sessions", -1), plus("audit"))),
    Route("POST /accounts/{user_id}/active", "user", at(303, *MANAGE_ACCOUNTS), form=lambda cell: {"active": "0"},
          effect=both(plus("active_users", -1), plus("audit"))),
    Route("POST /accounts/{user_id}/password", "user", at(303, *MANAGE_ACCOUNTS),
          form=lambda cell: {"password": "matrix-password-2"}, effect=both(changed("row"), plus("audit"))),
    # The audit log lists entries about places under the viewer's.
    Route("GET /audit", "household", at(200, *VIEW_AUDIT), listing=True, setup=audit_marker,
          listed=lambda t: f"matrix:household:{t.id}"),

    # Routes being built alongside the matrix: checked once registered. -------------------
    # The household register import (import_register, at grids and micro-grids).
    Route("GET /places/{place_id}/import", "place", at(200, *IMPORT_REGISTER), place_kinds=("grid", "microgrid"),
          optional=True),
    Route("POST /places/{place_id}/import", "place", at(200, *IMPORT_REGISTER), place_kinds=("grid", "microgrid"),
          files=lambda cell: {"file": ("register.csv", register_file(), "text/csv")}, optional=True),
    Route("POST /places/{place_id}/import/{upload_id}/confirm", "place", at(200, *IMPORT_REGISTER),
          place_kinds=("grid", "microgrid"), setup=upload, form=lambda cell: {"mode": "good_only"},
          effect=both(plus("households"), plus("persons"), plus("audit")), optional=True),
    # The sample register is a blank form: no data, for anybody.
    Route("GET /register/sample.csv", None, at(200, *SIGNED_IN), anonymous={"nav": 200, "htmx": 200},
          optional=True),
    Route("GET /register/sample.xlsx", None, at(200, *SIGNED_IN), anonymous={"nav": 200, "htmx": 200},
          optional=True),
    # An edit of a person (manage_households); a stale one becomes a conflict.
    Route("POST /persons/{person_id}", "person", at(303, *MANAGE_HOUSEHOLDS), form=person_edit_form,
          effect=changed("row"), optional=True),
    # Sync: the page, and the manifest of URLs to prepare offline (never one out of scope).
    Route("GET /sync", None, at(200, *SIGNED_IN), optional=True),
    Route("GET /sync/manifest?households", "household", at(200, *SIGNED_IN), pattern="GET /sync/manifest",
          listing=True, must_list=False, listed=lambda t: f'"/households/{t.id}"', optional=True),
    Route("GET /sync/manifest?places", "place", at(200, *SIGNED_IN), pattern="GET /sync/manifest",
          listing=True, must_list=False, listed=lambda t: f'"/places/{t.id}"', optional=True),
    # Conflicts: listed and settled by those who manage households, under their places.
    Route("GET /conflicts", "person", at(200, *MANAGE_HOUSEHOLDS), listing=True, setup=conflict,
          listed=lambda t: f"矩阵冲突{t.id}", optional=True),
    Route("POST /conflicts/{conflict_id}/settle", "person", at(303, *MANAGE_HOUSEHOLDS), setup=conflict,
          form=lambda cell: {"choice": "current"}, effect=plus("open_conflicts", -1), optional=True),
)
ROUTES += (
    # Campaigns. A campaign made by a setup over the whole sub-district reaches everybody,
    # so only the place or household in the path decides scope.
    Route("GET /campaigns", None, at(200, *STAFF)),
    # The place is a form field: one not run by the user is refused beside the field.
    Route("POST /campaigns", "place", at(303, *RUN_CAMPAIGNS), out=422, form=campaign_form,
          effect=both(plus("campaigns"), plus("audit"))),
    Route("POST /campaigns/{campaign_id}/close", "place", at(303, *RUN_CAMPAIGNS), setup=campaign_here,
          effect=both(plus("open_campaigns", -1), plus("audit"))),
    Route("GET /campaigns/{campaign_id}/places/{place_id}", "place", at(200, *BROWSE), setup=campaign_everywhere),
    Route("GET /campaigns/{campaign_id}/places/{place_id}/export.csv", "place", at(200, *BROWSE),
          setup=campaign_everywhere, effect=plus("audit")),
    Route("GET /campaigns/{campaign_id}/places/{place_id}/export.xlsx", "place", at(200, *BROWSE),
          setup=campaign_everywhere, effect=plus("audit"), binary=True),
    Route("GET /campaigns/{campaign_id}/households/{household_id}", "household", at(200, *SWEEP),
          setup=campaign_everywhere),
    Route("POST /campaigns/{campaign_id}/households/{household_id}", "household", at(303, *SWEEP),
          setup=campaign_everywhere, form=lambda cell: {"outcome": "nobody_home"}, effect=plus("visits")),
    Route("POST /campaigns/{campaign_id}/households/{household_id}/persons", "household", at(303, *MANAGE_HOUSEHOLDS),
          setup=campaign_everywhere, form=person_form, effect=both(plus("persons"), plus("answers"))),
    # A resident's self-report: their own household, whatever else is asked.
    Route("GET /my/campaigns/{campaign_id}", None, {"resident": 200}, setup=campaign_everywhere),
    Route("POST /my/campaigns/{campaign_id}", None, {"resident": 303}, setup=campaign_everywhere,
          form=lambda cell: {f"p{cell.env.target('own', 'person').id}.present": "yes"}, effect=plus("answers")),
)
ROUTES += (
    # Door plates. A code leads to the household's sweep form or its page (a 303); a code
    # missing or out of scope is the same 404. Volunteers would follow the codes of the
    # households their assignments grant (none in the demo).
    Route("GET /d/{code}", "household", at(303, *BROWSE, "volunteer"), setup=door_code),
    Route("GET /d?code={door_code}", "household", at(303, *BROWSE, "volunteer"), pattern="GET /d",
          query=lambda t: {"code": t.door_code or "ZZZZZZZZ"}),
    Route("GET /scan", None, at(200, *STAFF)),
    Route("GET /places/{place_id}/plates", "place", at(200, *BROWSE)),
    Route("GET /households/{household_id}/plate", "household", at(200, *BROWSE)),
    # Home isolation and the day's door-to-door testing.
    Route("GET /places/{place_id}/isolation", "place", at(200, *SWEEP)),
    Route("GET /households/{household_id}/isolation", "household", at(200, *SWEEP)),
    Route("POST /households/{household_id}/isolation", "household", at(303, *MANAGE_HOUSEHOLDS), form=isolation_form,
          effect=both(plus("isolations"), plus("audit"))),
    Route("POST /households/{household_id}/isolation/end", "household", at(303, *MANAGE_HOUSEHOLDS), setup=isolated,
          effect=plus("audit")),
    Route("POST /households/{household_id}/door-samples", "person", at(303, *SWEEP), setup=household_of_person,
          form=door_sample_form, effect=plus("door_samples")),
)
SAMPLE = (*SWEEP, "volunteer")
VOLUNTEER_SAMPLES = {"volunteer": (("c1", "g1", "m1", "g2"), ("sub", "x", "c2"))}
ROUND_REACHES = {
    "secretary": (("sub", "c1", "g1", "m1", "g2"), ("x", "c2", "missing")),
    "gridhead": (("sub", "c1", "g1", "m1", "m2"), ("g2", "x", "c2", "missing")),
    "partyleader": (("sub", "c1", "g1", "m1", "m2"), ("g2", "x", "c2")),
    "buildinghead": (("sub", "c1", "g1", "m1"), ("m2", "g2", "x", "c2")),
}
ROUTES += (
    # Staggered sampling: sites and slots of a testing round, and ticking residents at a site.
    Route("GET /campaigns/{campaign_id}/sampling", "place", at(200, *SWEEP), setup=campaign_here, scopes=ROUND_REACHES),
    Route("POST /campaigns/{campaign_id}/sampling/sites", "place", at(303, *RUN_CAMPAIGNS), setup=campaign_here,
          form=site_form),
    Route("POST /campaigns/{campaign_id}/sampling/sites/{site_id}", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_site, form=site_form),
    Route("POST /campaigns/{campaign_id}/sampling/sites/{site_id}/remove", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_site),
    Route("POST /campaigns/{campaign_id}/sampling/generate", "place", at(303, *RUN_CAMPAIGNS), setup=sampling_site),
    Route("POST /campaigns/{campaign_id}/sampling/slots/{slot_id}", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_slots, form=lambda cell: {"starts": "08:00", "ends": "08:30"}),
    Route("GET /campaigns/{campaign_id}/sites/{site_id}", "place", at(200, *SAMPLE), setup=sampling_site,
          scopes=VOLUNTEER_SAMPLES),
    Route("POST /campaigns/{campaign_id}/sites/{site_id}/households/{household_id}", "person", at(303, *SAMPLE),
          setup=sampling_person, form=lambda cell: {"sampled": str(cell.target.id)}, effect=plus("answers"),
          scopes=VOLUNTEER_SAMPLES),
    # Duplicates: two records of one person, merged or settled by those who manage households.
    Route("GET /duplicates", "person", at(200, *MANAGE_HOUSEHOLDS), listing=True, setup=twin),
    Route("POST /duplicates/merge/{drop_id}/into/{keep_id}", "person", at(303, *MANAGE_HOUSEHOLDS), setup=twin,
          effect=both(plus("persons", -1), plus("audit"), changed("row"))),
    Route("POST /duplicates/different/{a_id}/{b_id}", "person", at(303, *MANAGE_HOUSEHOLDS), setup=twin),
)
ROUTES += (
    # Queued writes in one request: each entry meets its route's own checks (tests/test_batch.py);
    # the matrix sends a form, not JSON, so the batch is unreadable (400) and nothing runs.
    Route("POST /sync/batch", None, at(400, *SIGNED_IN)),
)
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
        for module in (accounts_logic, accounts_admin):
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
_TABLES = ("door_sample", "isolation", "answer", "visit", "person_status", "household_status", "question", "campaign", "signin_session", "household_link", "role_grant", "audit_entry", "conflict", "person", "household",
           "place", "account")
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
        " (SELECT count(*) FROM conflict WHERE settled_at IS NULL) AS open_conflicts,"
        " (SELECT count(*) FROM campaign) AS campaigns,"
        " (SELECT count(*) FROM campaign WHERE status = 'open') AS open_campaigns,"
        " (SELECT count(*) FROM visit) AS visits, (SELECT count(*) FROM answer) AS answers,"
        " (SELECT count(*) FROM door_sample) AS door_samples, (SELECT count(*) FROM isolation) AS isolations, " + newest
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
