"""Door plates and scanning them: print a grid's plates, open a household by its code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web.accounts.auth import principal_of, staff
from web.core.display import household_address
from web.core.forms import Form, FormPage
from web.core.i18n import _
from web.core.render import public_base, redirect, refused, render
from web.core.scope import get_or_404
from web.doors import logic
from web.households.tables import Household
from web.places.logic import ancestors
from web.places.tables import Place


async def _open(request: Request[Any, Any, Any], code: str) -> Response[Any]:
    """Missing and out of scope answer alike: the same 404."""
    principal = principal_of(request)
    household = await logic.find_household(code, principal.scope)
    if household is None:
        raise NotFoundException()
    return redirect(request, await logic.destination(principal, household))


@get("/d/{code:str}", guards=[staff])
async def open_door(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    """What a plate's QR code holds: the household's sweep form, or its page."""
    return await _open(request, logic.normalise(code))


@dataclass
class ScanPage(FormPage):
    doors: list[tuple[str, str]]  # (code, where it leads): opened by app.js with no network


async def _scan_page(request: Request[Any, Any, Any]) -> ScanPage:
    return ScanPage(doors=await logic.doors_of(principal_of(request)))


@get("/scan", guards=[staff])
async def scan_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "pages/scan.html", await _scan_page(request))


@get("/d", guards=[staff])
async def lookup(request: Request[Any, Any, Any], code: FromQuery[str] = "") -> Response[Any]:
    """The scan form without script, or with a code the page could not open itself."""
    normal = logic.normalise(code)
    if not logic.well_formed(normal):
        form = Form({"code": code.strip()[:40]})
        form.errors["code"] = _("A door code is 8 letters and digits, as printed on the plate.")
        return refused(request, "pages/scan.html", await _scan_page(request), form, "lookup")
    return await _open(request, normal)


@dataclass
class PlatesPage:
    title: str
    back: str  # the page these plates were asked from
    trail: list[dict] = field(default_factory=list)
    sheets: list[list[dict]] = field(default_factory=list)  # plates, 8 to an A4 sheet
    count: int = 0
    # Above a grid, or a grid too big for one page set: the places to print from instead.
    choices: list[dict] = field(default_factory=list)
    too_many: int = 0


async def _plates(request: Request[Any, Any, Any], households: list[dict]) -> list[list[dict]]:
    base = public_base(request)
    households = await logic.with_grid_names(households)
    urls = [f"{base}/d/{h['door_code']}" for h in households]
    # segno is pure Python (a few ms a code): off the event loop.
    svgs = await to_thread.run_sync(lambda: [logic.qr_svg(url) for url in urls])
    for household, svg in zip(households, svgs):
        household["qr"] = svg
    return logic.sheets(households)


@get("/places/{place_id:int}/plates", guards=[staff])
async def place_plates(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[str]:
    """A grid's (or micro-grid's) door plates as one printable page set."""
    principal = principal_of(request)
    scope = principal.scope
    place = await get_or_404(Place, place_id, scope)
    if not principal.can("browse", place["path"]):
        raise NotFoundException()
    page = PlatesPage(
        title=_("Door plates: %(place)s", place=place["name"]), back=f"/places/{place_id}",
        trail=[p for p in await ancestors(place["path"]) if scope.covers_path(p["path"])] + [{"name": _("Door plates")}],
    )
    total = await logic.count_under(place["path"], scope) if place["kind"] in ("grid", "microgrid") else 0
    if place["kind"] in ("grid", "microgrid") and total <= logic.MAX_PLATES:
        households = await logic.households_for_plates(place["path"], scope)
        page.sheets, page.count = await _plates(request, households), len(households)
    else:
        # Plates go on doors grid by grid: a community's thousands would be one unwieldy print.
        page.too_many = total
        page.choices = await Place.select(Place.id, Place.name, Place.kind).where(Place.parent == place_id).order_by(
            Place.id)
    return render(request, "pages/plates.html", page)


@get("/households/{household_id:int}/plate", guards=[staff])
async def household_plate(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    """One household's plate: a new household, or a plate torn off."""
    principal = principal_of(request)
    household = await get_or_404(Household, household_id, principal.scope)
    if not principal.can("browse", household["path"]):
        raise NotFoundException()
    page = PlatesPage(title=_("Door plate: %(address)s", address=household_address(household)),
                      back=f"/households/{household_id}",
                      trail=[p for p in await ancestors(household["path"]) if principal.scope.covers_path(p["path"])]
                      + [{"name": _("Door plate")}])
    page.sheets = await _plates(request, [household])
    page.count = 1
    return render(request, "pages/plates.html", page)


routes = [open_door, lookup, scan_page, place_plates, household_plate]
