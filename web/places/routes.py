"""The place browser: community → grid → micro-grid → households."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web.accounts.auth import principal_of, staff
from web.core.forms import Form, FormPage
from web.core.i18n import _
from web.core.render import redirect, refused, render
from web.core.scope import get_or_404
from web import db
from web.audit.logic import record
from web.households.logic import NEEDS, households_under, new_door_code, read_household, sort_key
from web.households.tables import Household
from web.sync.idempotency import occurred_at
from web.places import logic
from web.places.tables import CHILD_KIND, Place


@dataclass
class PlacePage(FormPage):
    place: dict
    trail: list[dict]
    children: list[dict]
    tally: logic.Tally
    households: list[dict]
    search: str = ""
    need: str = ""
    child_kind: str | None = None
    can_add_child: bool = False
    loose_households: int = 0  # households of a grid not yet in a micro-grid
    can_import: bool = False
    can_add_household: bool = False


async def _place_page(request: Request[Any, Any, Any], place_id: int, q: str = "", need: str = "") -> PlacePage:
    principal = principal_of(request)
    scope = principal.scope
    place = await get_or_404(Place, place_id, scope)
    listing = place["kind"] in ("grid", "microgrid")
    need = need if need in NEEDS else ""
    households = await households_under(place["path"], scope, q, need) if listing else []
    # A grid's figures come from its list; a filtered list or a bigger place counts them.
    filtered = bool(q or need)
    tallies = logic.tallies_of(households) if listing and not filtered else await logic.tallies_under(place["path"])
    kids = await Place.select().where(Place.parent == place_id).order_by(Place.id)
    for kid in kids:
        kid["tally"] = logic.rollup(tallies, kid["path"])
    trail = [p for p in await logic.ancestors(place["path"]) if scope.covers_path(p["path"])]
    child_kind = CHILD_KIND.get(place["kind"])
    return PlacePage(
        place=place,
        trail=trail,
        children=kids,
        tally=logic.rollup(tallies, place["path"]),
        households=households,
        search=q,
        need=need,
        child_kind=child_kind,
        can_add_child=bool(child_kind) and principal.can("manage_places", place["path"]),
        loose_households=sum(1 for h in households if h["path"] == place["path"] and h["building"])
        if place["kind"] == "grid" else 0,
        can_import=listing and principal.can("import_register", place["path"]),
        can_add_household=listing and principal.can("manage_households", place["path"]),
    )


@get("/places/{place_id:int}", guards=[staff])
async def place_page(request: Request[Any, Any, Any], place_id: FromPath[int], q: FromQuery[str] = "",
                     need: FromQuery[str] = "") -> Response[str]:
    page = await _place_page(request, place_id, q.strip(), need)
    return render(request, "pages/place.html", page, partial="households")


@post("/places/{place_id:int}/children", guards=[staff])
async def add_child(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[Any]:
    page = await _place_page(request, place_id)
    if not page.can_add_child or page.child_kind is None:
        raise NotFoundException()
    form = await Form.read(request)
    name = form.required("name", _("Give the new place a name."))
    if len(name) > 100:
        form.errors["name"] = _("Keep the name under 100 characters.")
    if name and any(kid["name"] == name for kid in page.children):
        form.errors["name"] = _("There is already a place called %(name)s here.", name=name)
    if not form.ok:
        return refused(request, "pages/place.html", page, form, "add_child")
    new_id = await logic.create_place(name, page.child_kind, page.place, area=page.place["area"])
    return redirect(request, f"/places/{new_id}")


@post("/places/{place_id:int}/households", guards=[staff])
async def add_household(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[Any]:
    """A household or premises found on a sweep, registered on the spot."""
    principal = principal_of(request)
    place = await get_or_404(Place, place_id, principal.scope)
    if place["kind"] not in ("grid", "microgrid") or not principal.can("manage_households", place["path"]):
        raise NotFoundException()
    form = await Form.read(request)
    fields = read_household(form)
    if not form.ok:
        page = await _place_page(request, place_id)
        return refused(request, "pages/place.html", page, form, "add_household")
    async with db.write():
        rows = await Household.insert(Household(
            place=place_id, path=place["path"], door_code=new_door_code(), note="", version=1,
            sort_key=sort_key(fields["building"], fields["unit"], fields["floor"], fields["room"]),
            created_at=occurred_at(request), **fields,
        )).returning(Household.id)
    return redirect(request, f"/households/{rows[0]['id']}")


@post("/places/{place_id:int}/split", guards=[staff])
async def split_grid(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[Any]:
    """An outbreak: the grid becomes one micro-grid per building, in one tap."""
    principal = principal_of(request)
    place = await get_or_404(Place, place_id, principal.scope)
    if place["kind"] != "grid" or not principal.can("manage_places", place["path"]):
        raise NotFoundException()
    made, moved = await logic.split_by_building(place)
    if moved:
        await record(principal, "split_grid", f"place:{place_id}", place["path"], f"{made} micro-grids, {moved} households")
    return redirect(request, f"/places/{place_id}")


routes = [place_page, add_child, add_household, split_grid]
