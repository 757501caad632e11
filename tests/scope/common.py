"""The scope matrix's words (tests/test_scope_matrix.py): who, the targets ("spots"),
what a route expects of each role, what a success changes, and the setups routes share.
Each domain's routes are described in tests/scope/<domain>.py."""


from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


from web import db
from web.accounts import logic as accounts_logic
from web.accounts.auth import new_token, token_hash
from web.accounts.tables import Session
from web.audit.tables import AuditEntry
from web.core.timeutil import now
from web.households.tables import Person
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

    upload_id = await logic.save_upload(place_id=cell.target.id, user_id=cell.actor_user, filename="register.csv",
                                        data=register_file())
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


