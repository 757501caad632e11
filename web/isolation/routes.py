"""Home isolation: putting a household under it, and the day's door-to-door testing list.

The list of a place holds one form per isolated household, every member not yet sampled
ticked in advance: one tap records the whole door; untick whoever is not at home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web.accounts.auth import Principal, principal_of, staff
from web.isolation import logic
from web.core.forms import Form, FormPage
from web.core.i18n import _
from web.core.render import is_htmx, redirect, refused, render
from web.core.scope import get_or_404
from web.core.timeutil import today
from web.households.tables import Household, Person
from web.places.logic import ancestors
from web.places.tables import Place
from web.sync.idempotency import occurred_at

TEMPLATE = "pages/isolation.html"


@dataclass
class IsolationPage(FormPage):
    """The day's list of a place (`place` set), or one household's isolation (`household` set)."""

    day: date
    today: date
    trail: list[dict]
    households: list[dict]  # entries of the day's list (one, on a household's page)
    place: dict | None = None
    household: dict | None = None
    figures: logic.DayList | None = None
    isolation: dict | None = None  # the household's running or coming isolation
    history: list[dict] = field(default_factory=list)
    can_isolate: bool = False
    ticked: dict[int, set[int]] = field(default_factory=dict)  # household → persons ticked on a refused form
    total_only: bool = False  # answer to a tick: also refresh the list's figures

    late_days = logic.LATE_DAYS
    max_days = logic.MAX_DAYS

    @property
    def is_today(self) -> bool:
        return self.day == self.today

    @property
    def can_tick(self) -> bool:
        return self.today - timedelta(days=logic.LATE_DAYS) <= self.day <= self.today

    @property
    def yesterday(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def tomorrow(self) -> date | None:
        following = self.day + timedelta(days=1)
        return following if following <= self.today else None


def _day(text: str) -> date:
    return (logic.parse_day(text) if text else None) or today()


async def _trail(principal: Principal, path: str) -> list[dict]:
    return [p for p in await ancestors(path) if principal.scope.covers_path(p["path"])]


async def _place_for_sweep(principal: Principal, place_id: int) -> dict:
    place = await get_or_404(Place, place_id, principal.scope)
    if not principal.can("sweep", place["path"]):
        raise NotFoundException()
    return place


async def _household_for(principal: Principal, household_id: int, ability: str) -> dict:
    household = await get_or_404(Household, household_id, principal.scope)
    if not principal.can(ability, household["path"]):
        raise NotFoundException()
    return household


async def _list_page(principal: Principal, place: dict, day: date) -> IsolationPage:
    figures = await logic.day_list(place["path"], principal.scope, day)
    return IsolationPage(day=day, today=today(), trail=await _trail(principal, place["path"]),
                         households=figures.households, place=place, figures=figures)


async def _household_page(principal: Principal, household: dict, day: date | None = None,
                          listed: bool = False) -> IsolationPage:
    """`listed`: show the household's door form even when it is not isolated that day."""
    current = today()
    day = day or current
    entry = await logic.household_entry(household, day)
    return IsolationPage(
        day=day, today=current, trail=await _trail(principal, household["path"]),
        households=[entry] if entry["isolation"] or listed else [], household=household,
        isolation=await logic.current_isolation(household["id"], current),
        history=await logic.isolations_of(household["id"]),
        can_isolate=principal.can("manage_households", household["path"]),
    )


@get("/places/{place_id:int}/isolation", guards=[staff])
async def day_list_page(request: Request[Any, Any, Any], place_id: FromPath[int], day: FromQuery[str] = "") -> Response[str]:
    principal = principal_of(request)
    place = await _place_for_sweep(principal, place_id)
    return render(request, TEMPLATE, await _list_page(principal, place, _day(day)))


@get("/households/{household_id:int}/isolation", guards=[staff])
async def household_isolation_page(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[str]:
    principal = principal_of(request)
    household = await _household_for(principal, household_id, "sweep")
    return render(request, TEMPLATE, await _household_page(principal, household))


@post("/households/{household_id:int}/isolation", guards=[staff])
async def isolate(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    household = await _household_for(principal, household_id, "manage_households")
    form = await Form.read(request)
    occurred = occurred_at(request)
    reference = logic.local_day(occurred)
    dates = logic.read_isolation(form, reference)
    if dates is None:
        return refused(request, TEMPLATE, await _household_page(principal, household), form, "isolation")
    await logic.isolate(principal, household, *dates, reference=reference, occurred=occurred)
    return redirect(request, f"/households/{household_id}/isolation")


@post("/households/{household_id:int}/isolation/end", guards=[staff])
async def end_isolation(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    household = await _household_for(principal, household_id, "manage_households")
    # Nothing running (ended by another head, or a repeat) is no error: the outcome is the same.
    await logic.end_isolation(principal, household, logic.local_day(occurred_at(request)))
    return redirect(request, f"/households/{household_id}/isolation")


async def _listed_place(principal: Principal, form: Form) -> dict | None:
    """The list the tick was made on, for its figures and the way back (never a 404: the
    tick itself is in scope)."""
    try:
        place_id = int(form.get("place"))
    except ValueError:
        return None
    place = await Place.select().where(Place.id == place_id).where(principal.scope.where(Place)).first()
    return place if place and principal.can("sweep", place["path"]) else None


@post("/households/{household_id:int}/door-samples", guards=[staff])
async def door_samples(request: Request[Any, Any, Any], household_id: FromPath[int]) -> Response[Any]:
    """The ticked members of one household sampled at the door on the list's day."""
    principal = principal_of(request)
    household = await _household_for(principal, household_id, "sweep")
    form = await Form.read(request, lists=("person",))
    chosen = form.ids("person", _("Tick the persons who were sampled."))
    occurred = occurred_at(request)
    day = logic.read_sample_day(form, logic.local_day(occurred))
    members = {row["id"] for row in await Person.select(Person.id).where(Person.household == household_id)}
    if not chosen and "person" not in form.errors:
        form.errors["person"] = _("Tick the persons who were sampled.")
    elif any(pid not in members for pid in chosen):
        form.errors["person"] = _("Someone ticked is not registered in this household any more.")
    place = await _listed_place(principal, form)
    shown_day = day or logic.parse_day(form.get("day")) or today()
    ticked = {household_id: set(chosen)}
    if form.ok and day is not None:
        await logic.record_samples(principal, household, chosen, day, occurred)
        if not is_htmx(request):
            if place is None:
                return redirect(request, f"/households/{household_id}/isolation")
            suffix = "" if form.get("today") == "1" else f"?day={shown_day.isoformat()}"
            return redirect(request, f"/places/{place['id']}/isolation{suffix}")
    elif not is_htmx(request):
        page = await _household_page(principal, household, shown_day, listed=True)
        page.ticked = ticked
        return refused(request, TEMPLATE, page, form)
    # htmx: the household's card again (the form asked to be replaced: offline, "saved on
    # this phone" takes the form's place and the address stays), and the list's figures.
    page = IsolationPage(day=shown_day, today=today(), trail=[], households=[await logic.household_entry(household, shown_day)],
                         place=place, total_only=place is not None)
    if place is not None:
        page.figures = await logic.day_list(place["path"], principal.scope, shown_day)
    card = {"HX-Retarget": f"#iso-h{household_id}", "HX-Reswap": "outerHTML"}
    if not form.ok:
        page.ticked = ticked
        return refused(request, TEMPLATE, page, form, "households", headers=card)
    return render(request, TEMPLATE, page, partial="households", headers=card)


routes = [day_list_page, household_isolation_page, isolate, end_isolation, door_samples]
