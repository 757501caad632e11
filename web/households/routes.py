"""Household and person pages, revealing personal data, residents' links, search,
duplicate persons and stale edits of persons to settle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import segno
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web import db
from web.accounts import logic as accounts
from web.accounts.auth import able, principal_of, signed_in, staff
from web.core.auth import Principal
from web.core.domain import Card, home_cards
from web.accounts.tables import HouseholdLink, RoleGrant
from web.audit.logic import record
from web.campaigns import logic as campaign_logic
from web.isolation.logic import current_isolation
from web.core.timeutil import today
from web.core.forms import Form, FormPage
from web.core.i18n import _
from web.core.render import public_base, redirect, refused, render
from web.core.scope import get_or_404
from web.households import duplicates, logic
from web.households.logic import read_person  # shared with the register import
from web.households.tables import Household, Person
from web.places.logic import ancestors
from web.sync.idempotency import occurred_at
from web.sync import logic as versioned
from web.sync.logic import versioned_update
from web.sync.tables import Conflict


# Revealed personal data and fresh secrets are kept nowhere: not by caches, not by the
# idempotency record (a repeat asks again).
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class HouseholdPage(FormPage):
    household: dict
    members: list[dict]
    trail: list[dict]
    links: int = 0
    new_link: str = ""
    new_link_qr: str = ""
    revealed: bool = False
    can_reveal: bool = False
    can_issue_links: bool = False
    can_edit: bool = False
    campaigns: list[dict] = field(default_factory=list)  # open campaigns over it, with its status in each
    isolation: dict | None = None  # a home isolation running today
    can_sweep: bool = False


async def _household_page(request: Request[Any, Any, Any], household_id: FromPath[int]) -> HouseholdPage:
    principal = principal_of(request)
    household = await get_or_404(Household, household_id, principal.scope)
    path = household["path"]
    links = await HouseholdLink.count().where(
        (HouseholdLink.household == household_id) & HouseholdLink.revoked_at.is_null()
    )
    return HouseholdPage(
        household=household,
        members=await logic.members(household_id),
        trail=[p for p in await ancestors(path) if principal.scope.covers_path(p["path"])],
        links=links,
        can_reveal=principal.can("reveal", path),
        can_issue_links=principal.can("issue_links", path),
        can_edit=principal.can("manage_households", path),
        campaigns=await campaign_logic.open_for(household_id, path) if principal.can("sweep", path) else [],
        isolation=await current_isolation(household_id, today()),
        can_sweep=principal.can("sweep", path),
    )


@get("/households/{household_id:int}", guards=[signed_in])
async def household_page(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    return render(request, "pages/household.html", await _household_page(request, household_id))


@post("/households/{household_id:int}/reveal", guards=[staff])
async def reveal_household(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    page = await _household_page(request, household_id)
    if not page.can_reveal:
        raise NotFoundException()
    await record(principal_of(request), "reveal", f"household:{household_id}", page.household["path"],
                 f"{len(page.members)} persons")
    page.revealed = True
    return render(request, "pages/household.html", page, partial="members", headers=NO_STORE)


@post("/households/{household_id:int}/links", guards=[staff])
async def issue_link(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    page = await _household_page(request, household_id)
    if not page.can_issue_links:
        raise NotFoundException()
    token = await accounts.issue_link(household_id, principal_of(request).user_id)
    base = public_base(request)
    page.new_link = f"{base}/h/{token}"
    page.new_link_qr = segno.make(page.new_link, error="m").svg_inline(scale=4, dark="#1d1b20", light="#ffffff")
    page.links += 1
    await record(principal_of(request), "issue_link", f"household:{household_id}", page.household["path"])
    # The link is a secret shown once: kept nowhere, the idempotency record included.
    return render(request, "pages/household.html", page, partial="links", headers=NO_STORE)


@post("/households/{household_id:int}/links/revoke", guards=[staff])
async def revoke_links(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    page = await _household_page(request, household_id)
    if not page.can_issue_links:
        raise NotFoundException()
    await accounts.revoke_links(household_id)
    page.links = 0
    await record(principal_of(request), "revoke_links", f"household:{household_id}", page.household["path"])
    return render(request, "pages/household.html", page, partial="links")


@post("/households/{household_id:int}/persons", guards=[staff])
async def add_person(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[Any]:
    # Lean on purpose: replayed offline queues arrive as bursts of these.
    principal = principal_of(request)
    household = await get_or_404(Household, household_id, principal.scope, Household.id, Household.path)
    if not principal.can("manage_households", household["path"]):
        raise NotFoundException()
    form = await Form.read(request, lists=("tags",))
    person = read_person(form)
    if not form.ok:
        page = await _household_page(request, household_id)
        return refused(request, "pages/household.html", page, form, "add_person")
    async with db.write():
        await logic.add_person(household_id, household["path"], occurred_at(request), person)
    return redirect(request, f"/households/{household_id}")


@dataclass
class PersonPage(FormPage):
    person: dict
    household: dict
    revealed: bool = False
    can_reveal: bool = False
    can_edit: bool = False
    message: str = ""


async def _person_page(request: Request[Any, Any, Any], person_id: int) -> PersonPage:
    principal = principal_of(request)
    person = await get_or_404(Person, person_id, principal.scope)
    household = await get_or_404(Household, person["household"], principal.scope)
    return PersonPage(person=person, household=household, can_reveal=principal.can("reveal", person["path"]),
                      can_edit=principal.can("manage_households", person["path"]))


@post("/persons/{person_id:int}", guards=[staff])
async def edit_person(request: Request[Any, Any, Any], person_id: FromPath[int]) -> Response[Any]:
    """An edit carries the version it was made on; a stale one becomes a conflict."""
    page = await _person_page(request, person_id)
    if not page.can_edit:
        raise NotFoundException()
    form = await Form.read(request, lists=("tags",))
    version = form.integer("version", 1, 2**31, required=True)
    values = read_person(form)
    for kept in ("phone", "id_number"):  # empty means "keep": they are never pre-filled
        if not values[kept]:
            del values[kept]
    if not form.ok or version is None:
        return refused(request, "pages/person.html", page, form, "edit")
    result = await versioned_update(
        Person, person_id, version, values, subject=f"person:{person_id}", path=page.person["path"],
        user_id=principal_of(request).user_id, occurred=occurred_at(request),
    )
    if result.applied:
        # Back to where the form stood: the household's page lists its members with this form.
        back = form.get("back") == "household"
        return redirect(request, f"/households/{page.household['id']}" if back else f"/persons/{person_id}")
    page.message = _("Someone changed this person while you were editing. Both versions are kept for the grid head to choose.")
    page.values = form.values
    return render(request, "pages/person.html", page, partial="edit", status_code=202)


@get("/persons/{person_id:int}", guards=[signed_in])
async def person_page(request: Request[Any, Any, Any], person_id: FromPath[int]) -> Response[str]:
    return render(request, "pages/person.html", await _person_page(request, person_id))


@post("/persons/{person_id:int}/reveal", guards=[staff])
async def reveal_person(request: Request[Any, Any, Any], person_id: FromPath[int]) -> Response[str]:
    page = await _person_page(request, person_id)
    if not page.can_reveal:
        raise NotFoundException()
    await record(principal_of(request), "reveal", f"person:{person_id}", page.person["path"], page.person["name"])
    page.revealed = True
    return render(request, "pages/person.html", page, partial="personal", headers=NO_STORE)


@dataclass
class SearchPage:
    q: str
    persons: list[dict]
    households: list[dict]


@get("/search", guards=[staff])
async def search_page(request: Request[Any, Any, Any], q: FromQuery[str] = "") -> Response[str]:
    principal = principal_of(request)
    persons, households = await logic.search(principal.scope, q[:50], whole_phone_only=not principal.can("reveal"))
    return render(request, "pages/search.html", SearchPage(q=q[:50], persons=persons, households=households),
                  partial="results")


@dataclass
class MyPage:
    household: dict
    members: list[dict]
    heads: list[dict]
    rounds: list[dict] = field(default_factory=list)  # open testing rounds over it, each with its slot (or None)
    campaigns: list[dict] = field(default_factory=list)  # open campaigns over it: the household may answer
    cards: list[Card] = field(default_factory=list)  # every domain's cards for a resident (`home_cards`)


@get("/my", guards=[signed_in])
async def my_household(request: Request[Any, Any, Any]) -> Response[str]:
    """A resident's own page: their household, who their grid's heads are, their sampling
    slot in each open testing round, and the campaigns they may answer."""
    principal = principal_of(request)
    if principal.household_id is None:
        return redirect(request, "/")
    household = await get_or_404(Household, principal.household_id, principal.scope)
    place_ids = [int(p) for p in household["path"].strip("/").split("/")]
    heads = await (
        RoleGrant.select(RoleGrant.role, RoleGrant.user.display_name, RoleGrant.user.phone, RoleGrant.place.name)
        .where(RoleGrant.place.is_in(place_ids) & RoleGrant.role.is_in(["grid_head", "party_leader", "building_head"]))
        .order_by(RoleGrant.role)
    )
    from web.sampling import logic as sampling  # here: this file is shared, the handler is sampling's

    rounds = await sampling.household_slots(household)  # each slot said as people say it, in the page
    return render(request, "pages/my.html", MyPage(household, await logic.members(household["id"]), heads, rounds,
                                                   await campaign_logic.campaigns_over(household["path"]),
                                                   await home_cards(principal)),
                  request_sent=request.query_params.get("sent") == "1")


# ---- duplicates: the same person recorded twice ----------------------------------------------


@dataclass
class DuplicatesPage(FormPage):
    pairs: list[duplicates.Pair]
    total: int = 0
    reason: str = ""  # why the last merge or settlement was refused


async def _page(principal: Principal, reason: str = "") -> DuplicatesPage:
    pairs, total = await duplicates.pairs_for(duplicates.manage_scope(principal))
    return DuplicatesPage(pairs=pairs, total=total, reason=reason)


@get("/duplicates", guards=[able("manage_households")])
async def duplicates_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "pages/duplicates.html", await _page(principal_of(request)), partial="pairs")


async def _refused(request: Request[Any, Any, Any], refusal: duplicates.Refused) -> Response[str]:
    """The list as it is now, with why nothing was done above it (the offline outbox keeps
    this reason under "needs attention")."""
    page = await _page(principal_of(request), refusal.reason)
    return render(request, "pages/duplicates.html", page, partial="pairs", status_code=409)


@post("/duplicates/merge/{drop_id:int}/into/{keep_id:int}", guards=[able("manage_households")])
async def merge_pair(request: Request[Any, Any, Any], drop_id: FromPath[int], keep_id: FromPath[int]) -> Response[Any]:
    try:
        await duplicates.merge(principal_of(request), keep_id, drop_id)
    except duplicates.Refused as refusal:
        return await _refused(request, refusal)
    return redirect(request, "/duplicates")


@post("/duplicates/different/{a_id:int}/{b_id:int}", guards=[able("manage_households")])
async def different_people(request: Request[Any, Any, Any], a_id: FromPath[int], b_id: FromPath[int]) -> Response[Any]:
    try:
        await duplicates.settle_different(principal_of(request), a_id, b_id)
    except duplicates.Refused as refusal:
        return await _refused(request, refusal)
    return redirect(request, "/duplicates")


# ---- conflicts: stale edits of persons, settled by a grid head --------------------------------


@dataclass
class ConflictsPage:
    conflicts: list[dict]


def _fields(value: Any) -> dict:
    return json.loads(value or "{}") if isinstance(value, str) else (value or {})


async def _open_conflicts(principal: Principal) -> list[dict]:
    clause: Any = None  # the grants' places, or-ed
    for grant in principal.places_for("manage_households"):
        term = Conflict.path.like(f"{grant.path}%")
        clause = term if clause is None else clause | term
    rows = await Conflict.select(*Conflict.all_columns(), Conflict.raised_by.display_name).where(clause).where(
        Conflict.settled_at.is_null()).order_by(Conflict.received_at)
    for row in rows:
        row["submitted"], row["current"] = _fields(row["submitted"]), _fields(row["current"])
        row["person_id"] = int(row["subject"].split(":")[1])
    ids = [r["person_id"] for r in rows]
    names = {p["id"]: p["name"] for p in await Person.select(Person.id, Person.name).where(Person.id.is_in(ids or [-1]))}
    for row in rows:
        row["name"] = names.get(row["person_id"], "")
    return rows


@get("/conflicts", guards=[able("manage_households")])
async def conflicts_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "pages/conflicts.html", ConflictsPage(await _open_conflicts(principal_of(request))))


@post("/conflicts/{conflict_id:int}/settle", guards=[able("manage_households")])
async def settle_conflict(request: Request[Any, Any, Any], conflict_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    conflict = next((c for c in await _open_conflicts(principal) if c["id"] == conflict_id), None)
    if conflict is None:
        raise NotFoundException()
    form = await Form.read(request)
    choice = form.choice("choice", ("submitted", "current"))
    if not form.ok:
        return render(request, "pages/conflicts.html", ConflictsPage(await _open_conflicts(principal)), status_code=422)
    await versioned.settle(conflict, Person, conflict["person_id"], choice, principal.user_id)
    return redirect(request, "/conflicts")


routes = [household_page, reveal_household, issue_link, revoke_links, add_person, person_page, edit_person, reveal_person,
          search_page, my_household,
          duplicates_page, merge_pair, different_people, conflicts_page, settle_conflict]
