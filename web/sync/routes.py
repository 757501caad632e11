"""The sync page, the offline manifest, and conflicts for grid heads to settle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from web.accounts.auth import Principal, able, principal_of, signed_in
from web.core.forms import Form
from web.core.render import owner_key, redirect, render
from web.campaigns import isolation_logic
from web.campaigns.logic import campaigns_over
from web.core.timeutil import today
from web.sampling.logic import sites_for
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sync import batch, logic
from web.sync.tables import Conflict

# What one phone prepares at most: a grid is ~300 households; a community is not prepared whole.
MAX_PREPARED_HOUSEHOLDS = 2000


async def offline_urls(principal: Principal) -> list[str]:
    """The pages of this user's current work, to be saved on the phone."""
    urls = ["/", "/sync", "/offline"]
    if principal.is_resident:
        return urls + ["/my", f"/households/{principal.household_id}"]
    urls += ["/account", "/campaigns", "/scan"]
    urls += await isolation_logic.offline_urls(principal, today())
    for grant in principal.places_for("browse"):
        if grant.place_kind in ("grid", "microgrid"):
            under = Place.path.like(f"{grant.path}%")  # the grid and its micro-grids
        else:
            under = Place.parent == grant.place_id  # one level down: the next places to open
        places = await Place.select(Place.id).where(under).order_by(Place.id)
        urls += [f"/places/{grant.place_id}"] + [f"/places/{p['id']}" for p in places]
        if grant.place_kind in ("grid", "microgrid"):
            households = await Household.select(Household.id).where(Household.path.like(f"{grant.path}%")).order_by(
                Household.sort_key).limit(MAX_PREPARED_HOUSEHOLDS)
            urls += [f"/households/{h['id']}" for h in households]
            if principal.can("sweep", grant.path):
                # The newest open campaign's lists and each household's sweep form, so a whole
                # round works offline; one round's forms fit the phone's budget, two would not.
                for campaign in (await campaigns_over(grant.path))[:1]:
                    # ("Not yet reached" filters these lists in the page: no second copy.)
                    urls += [f"/campaigns/{campaign['id']}/places/{p}" for p in [grant.place_id, *(p["id"] for p in places)]]
                    urls += [f"/campaigns/{campaign['id']}/households/{h['id']}" for h in households]
    urls += [f"/campaigns/{s['campaign']}/sites/{s['id']}" for s in await sites_for(principal)]
    if principal.can("manage_households"):
        urls.append("/conflicts")
    # Duplicates are looked for within a grid: quick for those who look after grids.
    if any(g.place_kind in ("grid", "microgrid") for g in principal.places_for("manage_households")):
        urls.append("/duplicates")
    return list(dict.fromkeys(urls))


@get("/sync/manifest", guards=[signed_in])
async def manifest(request: Request[Any, Any, Any]) -> Response[dict]:
    principal = principal_of(request)
    return Response({"user": owner_key(principal), "urls": await offline_urls(principal)},
                    headers={"Cache-Control": "no-store"})


@get("/sync", guards=[signed_in])
async def sync_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The outbox lives on the phone: the page is a shell that app.js fills in."""
    return render(request, "pages/sync.html", None)


@dataclass
class ConflictsPage:
    conflicts: list[dict]


def _fields(value: Any) -> dict:
    return json.loads(value or "{}") if isinstance(value, str) else (value or {})


async def _open_conflicts(principal: Principal) -> list[dict]:
    clause = None
    for grant in principal.places_for("manage_households"):
        term = Conflict.path.like(f"{grant.path}%")
        clause = term if clause is None else clause | term
    rows = await Conflict.select(Conflict.all_columns(), Conflict.raised_by.display_name).where(clause).where(
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
    await logic.settle(conflict, Person, conflict["person_id"], choice, principal.user_id)
    return redirect(request, "/conflicts")


routes = [manifest, sync_page, conflicts_page, settle_conflict, *batch.routes]
