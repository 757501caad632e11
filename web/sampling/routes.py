"""Staggered sampling of a testing round: sites, generated slots, and the site on the day.

The secretary (run_campaigns at the round's place) adds sites and generates slots; grid
heads see their places' slots to tell residents; at a site, whoever may sample there (a
volunteer of the community too) finds a household by its door code and ticks who was
sampled, offline if need be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web.accounts.auth import Principal, principal_of, staff
from web.campaigns.logic import LIST_COLUMNS, CampaignClosed, record_sweep
from web.campaigns.tables import Campaign, PersonStatus
from web.core.forms import Form, FormPage
from web.core.i18n import _, ngettext
from web.core.render import is_htmx, redirect, refused, render
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sampling import logic
from web.sync.idempotency import occurred_at

TEMPLATE = "pages/sampling.html"
SITE_TEMPLATE = "pages/site.html"


async def _round(campaign_id: int) -> dict:
    """A testing round, or a 404: other campaigns have no sampling."""
    campaign = await Campaign.select(*LIST_COLUMNS, Campaign.place.name).where(
        Campaign.id == campaign_id).first()
    if campaign is None or campaign["kind"] != "testing_round":
        raise NotFoundException()
    return campaign


def _closed_message() -> str:
    return _("This testing round is closed: nothing more can be recorded or changed.")


# ---- the secretary's page -------------------------------------------------------------------


@dataclass
class SamplingPage(FormPage):
    campaign: dict
    sites: list[dict]  # each with its slots and figures
    places: list[dict]  # where a site may be
    can_manage: bool
    closed: bool
    registered: int = 0  # persons under the round's place now
    slotted: int = 0  # persons in slots
    breaking: int = 0  # slots whose worst wait is BOUND or more
    stale: bool = False  # the register changed since the slots were made
    outside: int = 0  # slots outside their site's hours (the hours changed since)
    problems: list[str] = field(default_factory=list)
    bound: int = int(logic.BOUND)
    editing: int | None = None  # the site (0: a new one) or slot whose form the errors belong to


def _sees(principal: Principal, can_manage: bool, path: str) -> bool:
    return can_manage or principal.can("sweep", path)


async def _sampling_page(request: Request[Any, Any, Any], campaign_id: int) -> SamplingPage:
    principal = principal_of(request)
    campaign = await _round(campaign_id)
    can_manage = principal.can("run_campaigns", campaign["path"])
    # Read-only for those who sweep somewhere under the round (a grid head tells residents).
    if not can_manage and not any(g.path.startswith(campaign["path"]) or campaign["path"].startswith(g.path)
                                  for g in principal.places_for("sweep")):
        raise NotFoundException()
    sites = await logic.sites_of(campaign_id)
    slots = [s for s in await logic.slots_of(campaign_id) if _sees(principal, can_manage, s["path"])]
    by_site: dict[int, list[dict]] = {}
    for slot in slots:
        by_site.setdefault(slot["site"], []).append(slot)
    shown = []
    for site in sites:
        mine = by_site.get(site["id"], [])
        if not can_manage and not mine and not principal.can("sweep", site["path"]):
            continue
        spec = logic.spec_of(site)
        opens, closes = logic.minutes(site["opens"]), logic.minutes(site["closes"])
        for slot in mine:
            starts = logic.local_minutes(slot["starts"], site["day"])
            ends = logic.local_minutes(slot["ends"], site["day"])
            slot.update({"from": logic.clock(starts), "to": logic.clock(ends),
                         "outside": starts < opens or ends > closes})
        site.update(can_open=principal.can("sample", site["path"]),  # the site's own page
                    slots=mine, rate=logic.rate_text(site), per_minute_text=logic.number_text(site["per_minute"]),
                    capacity=spec.capacity(), persons=sum(s["persons"] for s in mine),
                    worst=max((s["wait"] for s in mine), default=0.0),
                    opens_text=site["opens"].strftime("%H:%M"), closes_text=site["closes"].strftime("%H:%M"))
        shown.append(site)
    page = SamplingPage(campaign=campaign, sites=shown, places=[], can_manage=can_manage,
                        closed=campaign["status"] != "open", slotted=sum(s["persons"] for s in slots),
                        breaking=sum(1 for s in slots if s["wait"] >= logic.BOUND),
                        outside=sum(1 for site in shown for s in site["slots"] if s["outside"]))
    if can_manage:
        kinds = ["community", "grid"] + (["microgrid"] if campaign["path"].count("/") >= 4 else [])
        page.places = await Place.select(Place.id, Place.name, Place.kind, Place.path).where(
            Place.path.like(f"{campaign['path']}%") & (Place.kind.is_in(kinds) | (Place.path == campaign["path"]))
        )
        page.places.sort(key=lambda p: [int(part) for part in p["path"].strip("/").split("/")])
        units = await logic.units_under(campaign["path"])
        page.registered = sum(u.persons for u in units)
        held: dict[str, int] = {}
        for slot in slots:
            held[slot["path"]] = held.get(slot["path"], 0) + slot["persons"]
        # Persons registered, moved or a grid split since: the slots no longer match the register.
        page.stale = bool(slots) and held != {u.path: u.persons for u in units}
    return page


@get("/campaigns/{campaign_id:int}/sampling", guards=[staff])
async def sampling_page(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[str]:
    return render(request, TEMPLATE, await _sampling_page(request, campaign_id))


async def _managed(request: Request[Any, Any, Any], campaign_id: int) -> SamplingPage:
    page = await _sampling_page(request, campaign_id)
    if not page.can_manage:
        raise NotFoundException()
    return page


def _refuse(request: Request[Any, Any, Any], page: SamplingPage, form: Form, partial: str,
            **extra: Any) -> Response[str]:
    return refused(request, TEMPLATE, page, form, partial, **extra)


@post("/campaigns/{campaign_id:int}/sampling/sites", guards=[staff])
async def add_site(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[Any]:
    page = await _managed(request, campaign_id)
    form = await Form.read(request)
    values = logic.read_site(form, page.places)
    if page.closed:
        form.errors["name"] = _closed_message()
    if not form.ok:
        page.editing = 0
        return _refuse(request, page, form, "site_form", s=None)
    await logic.save_site(page.campaign, values, principal_of(request).user_id)
    return redirect(request, f"/campaigns/{campaign_id}/sampling")


def _site_in(page: SamplingPage, site_id: int) -> dict:
    site = next((s for s in page.sites if s["id"] == site_id), None)
    if site is None:
        raise NotFoundException()
    return site


@post("/campaigns/{campaign_id:int}/sampling/sites/{site_id:int}", guards=[staff])
async def edit_site(request: Request[Any, Any, Any], campaign_id: FromPath[int],
                    site_id: FromPath[int]) -> Response[Any]:
    page = await _managed(request, campaign_id)
    site = _site_in(page, site_id)
    form = await Form.read(request)
    values = logic.read_site(form, page.places)
    if page.closed:
        form.errors["name"] = _closed_message()
    if not form.ok:
        page.editing = site_id
        return _refuse(request, page, form, "site_form", s=site)
    await logic.save_site(page.campaign, values, principal_of(request).user_id, site_id)
    # New hours or throughput change every wait at this site: the table must say so.
    saved = await logic.site_of(campaign_id, site_id)
    assert saved is not None  # saved just now
    await logic.recheck(saved)
    return redirect(request, f"/campaigns/{campaign_id}/sampling")


@post("/campaigns/{campaign_id:int}/sampling/sites/{site_id:int}/remove", guards=[staff])
async def remove_site(request: Request[Any, Any, Any], campaign_id: FromPath[int],
                      site_id: FromPath[int]) -> Response[Any]:
    page = await _managed(request, campaign_id)
    site = _site_in(page, site_id)
    if page.closed:
        form = Form({})
        form.errors["name"] = _closed_message()
        page.editing = site_id
        return _refuse(request, page, form, "site_form", s=site)
    await logic.remove_site(site_id)
    return redirect(request, f"/campaigns/{campaign_id}/sampling")


def _problem_texts(result: logic.Plan, sites: list[dict], names: dict[Any, str]) -> list[str]:
    """The reasons a plan was not made, in words a secretary can act on."""
    site_names = {s["id"]: s["name"] for s in sites}
    texts = []
    for problem in result.problems:
        if problem.kind == "uncovered":
            places = [names.get(k, "?") for k in problem.units]
            listed = "、".join(places[:8]) + ("…" if len(places) > 8 else "")
            texts.append(_("No site serves %(places)s (%(persons)s persons): add a site for them, at their "
                           "community or grid.", places=listed, persons=problem.persons))
        else:
            more = ngettext("%(num)s more station would fit them", "%(num)s more stations would fit them",
                            problem.more_stations)
            texts.append(_("%(site)s: %(persons)s persons, but its hours fit %(capacity)s with every wait under "
                           "%(bound)s minutes — %(over)s persons over capacity. %(more)s, or longer hours, or "
                           "another site.", site=site_names.get(problem.site, "?"), persons=problem.persons,
                           capacity=problem.capacity, bound=int(logic.BOUND), over=problem.over, more=more))
    return texts


@post("/campaigns/{campaign_id:int}/sampling/generate", guards=[staff])
async def generate(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[Any]:
    """(Re-)generate every slot of the round; nothing is replaced unless everyone fits."""
    page = await _managed(request, campaign_id)
    form = Form({})
    if page.closed:
        form.errors["generate"] = _closed_message()
    elif not page.sites:
        form.errors["generate"] = _("Add a sampling site first.")
    if not form.ok:
        return _refuse(request, page, form, "generate")
    result, _specs, _units = await logic.generate(page.campaign)
    if not result.ok:
        keys = [k for p in result.problems for k in p.units]
        places = await Place.select(Place.id, Place.name).where(Place.id.is_in(keys or [-1]))
        names = {p["id"]: p["name"] for p in places}
        page.problems = _problem_texts(result, page.sites, names)
        form.errors["generate"] = _("No slots were made: the sites cannot take everyone with waits under "
                                    "%(bound)s minutes.", bound=int(logic.BOUND))
        return _refuse(request, page, form, "generate")
    return redirect(request, f"/campaigns/{campaign_id}/sampling")


@post("/campaigns/{campaign_id:int}/sampling/slots/{slot_id:int}", guards=[staff])
async def move_slot(request: Request[Any, Any, Any], campaign_id: FromPath[int],
                    slot_id: FromPath[int]) -> Response[Any]:
    """The secretary moves a slot by hand; the waits at its site are computed again."""
    page = await _managed(request, campaign_id)
    slot = next((s for site in page.sites for s in site["slots"] if s["id"] == slot_id), None)
    if slot is None:
        raise NotFoundException()
    site = _site_in(page, slot["site"])
    form = await Form.read(request)
    starts, ends = logic.read_slot(form, site)
    if page.closed:
        form.errors["starts"] = _closed_message()
    if not form.ok or starts is None or ends is None:
        page.editing = slot_id
        return _refuse(request, page, form, "move_slot", s=site, slot=slot)
    await logic.move_slot(slot, site, starts, ends)
    return redirect(request, f"/campaigns/{campaign_id}/sampling#slot-{slot_id}")


# ---- at the site ----------------------------------------------------------------------------------


@dataclass
class SitePage(FormPage):
    campaign: dict
    site: dict
    slots: list[dict]
    households: list[dict]
    sampled: set[int]  # persons of these households sampled in this round
    closed: bool
    code: str = ""
    not_here: str = ""  # a door code asked for that has no slot at this site
    saved: int | None = None  # the household just saved
    target: int | None = None  # the household whose form the errors belong to
    capped: bool = False


async def _site(request: Request[Any, Any, Any], campaign_id: int, site_id: int) -> tuple[dict, dict]:
    """The round and the site, or a 404 unless the user may sample at the site's place."""
    campaign = await _round(campaign_id)
    site = await logic.site_of(campaign_id, site_id)
    if site is None or not principal_of(request).can("sample", site["path"]):
        raise NotFoundException()
    return campaign, site


async def _site_page(request: Request[Any, Any, Any], campaign: dict, site: dict,
                     paths: list[str] | None = None) -> SitePage:
    paths = await logic.catchment(site) if paths is None else paths
    households = await logic.site_households(paths)
    slots = await logic.slots_of(campaign["id"], site["id"])
    for slot in slots:
        slot["from"] = logic.clock(logic.local_minutes(slot["starts"], site["day"]))
        slot["to"] = logic.clock(logic.local_minutes(slot["ends"], site["day"]))
    slot_of = {slot["path"]: slot for slot in slots}
    for household in households:  # shown beside the code field once found: where they live, when they were due
        household["slot"] = slot_of.get(household["path"])
    sampled = {row["person"] for row in await PersonStatus.select(PersonStatus.person).where(
        (PersonStatus.campaign == campaign["id"]) & PersonStatus.path.is_in(paths or [""])
        & (PersonStatus.sampled == True))}  # noqa: E712
    site.update(rate=logic.rate_text(site), opens_text=site["opens"].strftime("%H:%M"),
                closes_text=site["closes"].strftime("%H:%M"),
                starts=logic.at(site["day"], logic.minutes(site["opens"])),
                ends=logic.at(site["day"], logic.minutes(site["closes"])))
    return SitePage(campaign=campaign, site=site, slots=slots, households=households, sampled=sampled,
                    closed=campaign["status"] != "open", capped=len(households) >= logic.SITE_HOUSEHOLDS)


async def _door_page(campaign: dict, site: dict, household: dict) -> SitePage:
    """One household's form, as the answer to its save."""
    sampled = await logic.sampled_in(campaign["id"], [m["id"] for m in household["members"]])
    return SitePage(campaign=campaign, site=site, slots=[], households=[household], sampled=sampled,
                    closed=campaign["status"] != "open")


@get("/campaigns/{campaign_id:int}/sites/{site_id:int}", guards=[staff])
async def site_page(request: Request[Any, Any, Any], campaign_id: FromPath[int], site_id: FromPath[int],
                    code: FromQuery[str] = "") -> Response[Any]:
    """Every household expected here, each hidden until its door code is scanned or typed
    (app.js jumps to `#d-<code>` in the page, offline too; without script the server does)."""
    campaign, site = await _site(request, campaign_id, site_id)
    wanted = logic.normalise_code(code)
    paths = await logic.catchment(site)
    if wanted:
        found = await Household.select(Household.id).where(
            (Household.door_code == wanted) & Household.path.is_in(paths or [""])).first()
        if found is not None:
            return redirect(request, f"/campaigns/{campaign_id}/sites/{site_id}#d-{wanted}")
    page = await _site_page(request, campaign, site, paths)
    if wanted:
        page.code = page.not_here = wanted
    elif code.strip():
        page.errors["code"] = _("Type the code on the household's door plate.")
    return render(request, SITE_TEMPLATE, page)


@post("/campaigns/{campaign_id:int}/sites/{site_id:int}/households/{household_id:int}", guards=[staff])
async def tick_sampled(request: Request[Any, Any, Any], campaign_id: FromPath[int], site_id: FromPath[int],
                       household_id: FromPath[int]) -> Response[Any]:
    """Who of this household was sampled here: ticked ones yes; untick one shown ticked to undo."""
    principal = principal_of(request)
    campaign, site = await _site(request, campaign_id, site_id)
    household = await Household.select().where(Household.id == household_id).first()
    paths = await logic.catchment(site)
    if household is None or household["path"] not in paths or not principal.can("sample", household["path"]):
        raise NotFoundException()
    form = await Form.read(request, lists=("sampled",))
    members = await Person.select(Person.id, Person.name, Person.birth_year).where(
        Person.household == household_id).order_by(Person.id)
    ids = {m["id"] for m in members}
    ticked = set(form.ids("sampled"))
    was = set(form.ids("shown")) & ids
    if ticked - ids:
        form.errors["sampled"] = _("Somebody ticked here is not registered in this household: open the page again.")
    answers = {pid: {"sampled": "yes"} for pid in ticked & ids}
    answers.update({pid: {"sampled": "no"} for pid in was - ticked})
    if not answers and form.ok:
        form.errors["sampled"] = _("Tick the members who were sampled.")
    if campaign["status"] != "open":
        form.errors["sampled"] = _closed_message()
    household["members"] = members
    if not form.ok:
        page = await _door_page(campaign, site, household)
        page.target = household_id
        return refused(request, SITE_TEMPLATE, page, form, "door", h=household)
    try:
        await record_sweep(campaign, household, "", "", answers, source="site", user_id=principal.user_id,
                           occurred=occurred_at(request))
    except CampaignClosed:  # closed while this tick waited on a phone
        page = await _door_page(campaign, site, household)
        page.target = household_id
        form.errors = {"sampled": _closed_message()}
        return refused(request, SITE_TEMPLATE, page, form, "door", h=household)
    if not is_htmx(request):
        return redirect(request, f"/campaigns/{campaign_id}/sites/{site_id}#d-{household['door_code']}")
    page = await _door_page(campaign, site, household)
    page.saved = household_id
    return render(request, SITE_TEMPLATE, page, partial="door", h=household)


routes = [sampling_page, add_site, edit_site, remove_site, generate, move_slot, site_page, tick_sampled]
