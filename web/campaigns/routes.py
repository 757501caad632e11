"""Campaigns: starting one, the grid head's sweep, progress per place, exports, and the
resident's self-report.

Why one module of ~570 lines: the pages share the campaign look-up, the sweep page's
context and its refusals; its sections (the list, progress, exports, the sweep form, the
self-report) are the seams to split along.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from web import db
from web.accounts.auth import principal_of, signed_in, staff
from web.audit.logic import record
from web.campaigns import logic
from web.campaigns.logic import Coverage
from web.campaigns.tables import CAMPAIGN_KINDS, QUESTION_KINDS, REACHED, STANDARD_CHECKS, Campaign
from web.core import sheets
from web.campaigns.labels import campaign_kind_label, outcome_label, value_label
from web.core.display import household_address, kind_label, mask_phone
from web.core.forms import Form, FormPage
from web.core.i18n import _, ngettext
from web.core.render import is_htmx, redirect, refused, render
from web.core.scope import get_or_404
from web.core.timeutil import local_zone, now
from web.households import logic as household_logic
from web.households.logic import read_person
from web.households.tables import Household
from web.places.logic import ancestors
from web.places.tables import CHILD_KIND, Place
from web.settings import get_settings
from web.sync.idempotency import occurred_at

QUESTION_ROWS = 3  # blank question rows on the new-campaign form
MISSING_SHOWN = 200  # households listed as missing on a big place's page; the export has all


async def _campaign(request: Request[Any, Any, Any], campaign_id: int) -> dict:
    """A campaign this user's work reaches, or 404."""
    principal = principal_of(request)
    campaign = await Campaign.select(*logic.LIST_COLUMNS).where(Campaign.id == campaign_id).first()
    if campaign is None:
        raise NotFoundException()
    own = principal.is_resident and principal.household_path.startswith(campaign["path"])
    if not own and not logic.reaches(campaign, principal.scope):
        raise NotFoundException()
    return campaign


# ---- the list, and starting one ---------------------------------------------------------------


@dataclass
class CampaignsPage(FormPage):
    campaigns: list[dict]
    places: list[dict]  # where this user may start one
    home_place: dict[int, int] = field(default_factory=dict)  # campaign → the place its link opens
    question_rows: int = QUESTION_ROWS
    checks: tuple[str, ...] = STANDARD_CHECKS

    @property
    def place_options(self) -> list[tuple[str, str]]:
        return [(str(p["id"]), p["name"]) for p in self.places]

    @property
    def kind_options(self) -> list[tuple[str, str]]:
        return [(k, campaign_kind_label(k)) for k in CAMPAIGN_KINDS]

    @property
    def question_kind_options(self) -> list[tuple[str, str]]:
        return [(k, value_label(k)) for k in QUESTION_KINDS]


async def _campaigns_page(request: Request[Any, Any, Any]) -> CampaignsPage:
    principal = principal_of(request)
    campaigns = await logic.visible_campaigns(principal.scope)
    places = []
    for grant in principal.places_for("run_campaigns"):
        places.append({"id": grant.place_id, "name": grant.place_name, "path": grant.path, "kind": grant.place_kind})
        if grant.place_kind == "subdistrict":
            places += await Place.select(Place.id, Place.name, Place.path, Place.kind).where(
                Place.parent == grant.place_id).order_by(Place.id)
    page = CampaignsPage(campaigns=campaigns, places=places)
    for campaign in campaigns:
        page.home_place[campaign["id"]] = _entry_place(principal, campaign)
    return page


def _entry_place(principal: Any, campaign: dict) -> int:
    """The place a campaign opens at for this user: its own, or the user's place under it."""
    if principal.scope.covers_path(campaign["path"]):
        return campaign["place"]
    for grant in principal.places_for("browse"):
        if grant.path.startswith(campaign["path"]):
            return grant.place_id
    return campaign["place"]


@get("/campaigns", guards=[staff])
async def campaigns_page(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "pages/campaigns.html", await _campaigns_page(request))


@post("/campaigns", guards=[staff])
async def start_campaign(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = principal_of(request)
    if not principal.can("run_campaigns"):
        raise NotFoundException()
    form = await Form.read(request, lists=("checks",))
    questions = [{"kind": form.get(f"q{n}_kind"), "label": form.get(f"q{n}_label"), "choices": form.get(f"q{n}_choices")}
                 for n in range(QUESTION_ROWS)]
    values = logic.read_campaign(form, questions)
    place = None
    if form.get("place").isdigit():
        place = await Place.select().where(Place.id == int(form.get("place"))).first()
    if place is None or not principal.can("run_campaigns", place["path"]):
        form.errors["place"] = _("Choose a place you look after.")
    if place is None or not form.ok:
        return refused(request, "pages/campaigns.html", await _campaigns_page(request), form, "start")
    campaign_id = await logic.create_campaign(values, place, principal.user_id)
    await record(principal, "start_campaign", f"campaign:{campaign_id}", place["path"], values["name"])
    return redirect(request, f"/campaigns/{campaign_id}/places/{place['id']}")


@post("/campaigns/{campaign_id:int}/close", guards=[staff])
async def close_campaign(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    campaign = await _campaign(request, campaign_id)
    if not principal.can("run_campaigns", campaign["path"]):
        raise NotFoundException()
    if campaign["status"] == "open":
        await logic.close_campaign(campaign)
        await record(principal, "close_campaign", f"campaign:{campaign_id}", campaign["path"], campaign["name"])
    return redirect(request, f"/campaigns/{campaign_id}/places/{campaign['place']}")


# ---- progress of a place --------------------------------------------------------------------


@dataclass
class Row:
    place: dict
    figures: Coverage
    behind: bool = False


@dataclass
class ProgressPage:
    campaign: dict
    place: dict
    trail: list[dict]
    figures: Coverage
    children: list[Row]
    households: list[dict]  # a grid or micro-grid: the sweep list in walking order
    missing: list[dict]  # a bigger place: its grids with households not yet reached (the first MISSING_SHOWN)
    rounds: list[tuple[dict, Coverage]]
    expected_pct: int  # where the campaign should be by now, if the work is spread evenly to the deadline
    unchecked: list[dict] = field(default_factory=list)  # persons of reached households not checked
    need: str = ""
    can_sweep: bool = False
    can_close: bool = False
    child_kind: str | None = None

    @property
    def listing(self) -> bool:
        return self.place["kind"] in ("grid", "microgrid")

    @property
    def to_reach(self) -> int:
        """Households of the list not yet reached: the figure on "Not yet reached"."""
        return sum(1 for h in self.households if h["outcome"] not in REACHED)

    @property
    def groups(self) -> list[tuple[str, str, list[dict]]]:
        """The list as a head walks it at night: the doors to go back to first (with what
        was noted there), then building by building, unit by unit, in walking order."""
        revisit = [h for h in self.households if h["outcome"] == "nobody_home"]
        groups: list[tuple[str, str, list[dict]]] = [("revisit", _("To revisit"), revisit)] if revisit else []
        for h in self.households:
            if h["outcome"] == "nobody_home":
                continue
            key = f"b-{h['building']}-{h['unit']}"
            if not groups or groups[-1][0] != key:
                title = household_address({"building": h["building"], "unit": h["unit"]}) or _("Other")
                groups.append((key, title, []))
            groups[-1][2].append(h)
        return groups

    @property
    def time_left(self) -> str:
        """"5 hours left" or "overdue by 2 hours": what a secretary at 10 p.m. looks for first."""
        deadline = self.campaign["deadline"]
        if isinstance(deadline, str):
            deadline = datetime.fromisoformat(deadline)
        hours = round((deadline - now()).total_seconds() / 3600)
        if hours >= 0:
            return ngettext("%(num)s hour left", "%(num)s hours left", hours)
        return ngettext("overdue by %(num)s hour", "overdue by %(num)s hours", -hours)


def _expected_pct(campaign: dict) -> int:
    start, end = campaign["created_at"], campaign["deadline"]
    if isinstance(start, str):
        start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    total = (end - start).total_seconds()
    if total <= 0:
        return 100
    return max(0, min(100, round(100 * (now() - start).total_seconds() / total)))


async def _progress_page(request: Request[Any, Any, Any], campaign_id: int, place_id: int,
                         need: str = "") -> ProgressPage:
    principal = principal_of(request)
    campaign = await _campaign(request, campaign_id)
    place = await get_or_404(Place, place_id, principal.scope)
    if not place["path"].startswith(campaign["path"]):
        raise NotFoundException()
    figures = await logic.coverage_under(campaign, place["path"])
    expected = _expected_pct(campaign) if campaign["status"] == "open" else 100
    kids = await Place.select().where(Place.parent == place_id).order_by(Place.id)
    children = []
    for kid in kids:
        row = Row(kid, logic.rollup(figures, kid["path"]))
        row.behind = campaign["status"] == "open" and row.figures.households_pct < expected
        children.append(row)
    listing = place["kind"] in ("grid", "microgrid")
    households: list[dict] = []
    missing: list[dict] = []
    unchecked: list[dict] = []
    if listing:
        households = await _sweep_list(campaign, place["path"], principal.scope, need)
        unchecked = await logic.unchecked_in_reached(campaign["id"], place["path"], MISSING_SHOWN)
    else:
        missing = await logic.missing_by_grid(campaign["id"], place["path"], figures, MISSING_SHOWN)
    trail = [p for p in await ancestors(place["path"]) if principal.scope.covers_path(p["path"])]
    return ProgressPage(
        campaign=campaign, place=place, trail=trail, figures=logic.rollup(figures, place["path"]), children=children,
        households=households, missing=missing, rounds=await logic.rounds_at(place, campaign, figures),
        expected_pct=expected,
        unchecked=unchecked, need=need,
        can_sweep=campaign["status"] == "open" and principal.can("sweep", place["path"]),
        can_close=campaign["status"] == "open" and principal.can("run_campaigns", campaign["path"]),
        child_kind=CHILD_KIND.get(place["kind"]),
    )


async def _sweep_list(campaign: dict, prefix: str, scope: Any, need: str) -> list[dict]:
    """The households in walking order, each with its status chip."""
    rows = await household_logic.households_under(prefix, scope)
    statuses = await logic.statuses_under(campaign["id"], prefix)
    notes = await logic.notes_under(campaign["id"], prefix)
    for row in rows:
        status = statuses.get(row["id"])
        row["outcome"] = status["outcome"] if status else ""
        row["note"] = notes.get(row["id"], "")
        row["self_reported"] = bool(status and status["self_reported"])
    if need == "missing":
        rows = [r for r in rows if r["outcome"] not in REACHED]
    return rows


@get("/campaigns/{campaign_id:int}/places/{place_id:int}", guards=[staff])
async def progress_page(request: Request[Any, Any, Any], campaign_id: FromPath[int], place_id: FromPath[int],
                        need: FromQuery[str] = "", saved: FromQuery[str] = "") -> Response[str]:
    page = await _progress_page(request, campaign_id, place_id, "missing" if need == "missing" else "")
    return render(request, "pages/campaign.html", page, partial="households",
                  saved=await _saved_address(request, saved))


# ---- exports ----------------------------------------------------------------------------------


EXPORTS = ("figures", "missing")


async def _export_rows(request: Request[Any, Any, Any], campaign_id: int, place_id: int, what: str) -> tuple[dict, dict, list[list[Any]]]:
    principal = principal_of(request)
    campaign = await _campaign(request, campaign_id)
    place = await get_or_404(Place, place_id, principal.scope)
    if not place["path"].startswith(campaign["path"]) or what not in EXPORTS:
        raise NotFoundException()
    if what == "figures":
        figures = await logic.coverage_under(campaign, place["path"])
        places = await Place.select(Place.name, Place.kind, Place.path).where(Place.path.like(f"{place['path']}%"))
        places.sort(key=lambda p: [int(part) for part in p["path"].strip("/").split("/")])  # tree order
        rows: list[list[Any]] = [[_("Place"), _("Kind"), _("Households"), _("Reached"), _("Nobody home"),
                                  _("Refused entry"),
                                  _("Self-reported households"), _("Persons"), _("Checked"),
                                  _("Self-reported, not confirmed"), _("Sampled")]]
        for p in places:
            c = logic.rollup(figures, p["path"])
            rows.append([p["name"], kind_label(p["kind"]), c.households, c.reached, c.revisit, c.refused, c.self_households,
                         c.persons, c.checked, c.self_only, c.sampled])
    else:
        # Grid by grid in their numbered order, with whom to call: the head of household's
        # name and phone (in full for those who may see it; the export is audited).
        full = principal.can("reveal", place["path"])
        rows = [[_("Grid"), _("Place"), _("Address"), _("Door code"), _("Status"), _("Persons"),
                 _("Head of household"), _("Phone")]]
        names = {p["path"]: p["name"] for p in await Place.select(Place.name, Place.path).where(
            Place.path.like(f"{place['path']}%"))}
        heads = await logic.heads_under(place["path"])
        missing = await logic.missing_under(campaign["id"], place["path"], None)
        missing.sort(key=lambda h: (logic.natural_key(names.get(logic.grid_path(h["path"]), "")),
                                    [int(part) for part in h["path"].strip("/").split("/")]))
        for h in missing:
            head = heads.get(h["id"]) or {"name": "", "phone": ""}
            rows.append([names.get(logic.grid_path(h["path"]), ""), names.get(h["path"], ""), household_address(h),
                         h["door_code"], outcome_label(h["outcome"] or ""), h["persons"], head["name"],
                         head["phone"] if full else mask_phone(head["phone"])])
    detail = f"{len(rows) - 1} rows" + (", with heads of household and phones" if what == "missing" else "")
    await record(principal, "export", f"campaign:{campaign_id}:{what}", place["path"], detail)
    return campaign, place, rows


def _filename(campaign: dict, place: dict, what: str, ext: str) -> str:
    """What a secretary finds in their downloads: "第7轮全员核酸-四平社区-未到达住户-20261204-2200.xlsx"."""
    part = {"figures": _("figures"), "missing": _("missing households")}[what]
    stamp = now().astimezone(local_zone()).strftime("%Y%m%d-%H%M")
    name = "-".join(re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("_") for text in (campaign["name"], place["name"], part))
    return f"{name}-{stamp}.{ext}"


def _plain_filename(campaign: dict, place: dict, what: str, ext: str) -> str:
    return f"campaign-{campaign['id']}-place-{place['id']}-{what}.{ext}"


@get("/campaigns/{campaign_id:int}/places/{place_id:int}/export.csv", guards=[staff])
async def export_csv(request: Request[Any, Any, Any], campaign_id: FromPath[int], place_id: FromPath[int],
                     what: FromQuery[str] = "figures") -> Response[bytes]:
    campaign, place, rows = await _export_rows(request, campaign_id, place_id, what)
    return sheets.download(sheets.csv_bytes(rows), _filename(campaign, place, what, "csv"), "csv",
                           _plain_filename(campaign, place, what, "csv"))


@get("/campaigns/{campaign_id:int}/places/{place_id:int}/export.xlsx", guards=[staff])
async def export_xlsx(request: Request[Any, Any, Any], campaign_id: FromPath[int], place_id: FromPath[int],
                      what: FromQuery[str] = "figures") -> Response[bytes]:
    campaign, place, rows = await _export_rows(request, campaign_id, place_id, what)
    return sheets.download(sheets.xlsx_bytes(rows, what), _filename(campaign, place, what, "xlsx"), "xlsx",
                           _plain_filename(campaign, place, what, "xlsx"))


# ---- the sweep form of one household -----------------------------------------------------------


@dataclass
class SweepPage(FormPage):
    campaign: dict
    household: dict
    members: list[dict]
    questions: list[dict]
    checks: list[str]
    latest: dict[int, dict[str, dict]]
    visits: list[dict]
    trail: list[dict]
    place_id: int
    next_id: int | None = None  # the next household not yet reached, in walking order
    resident: bool = False  # the resident's own self-report
    can_add_person: bool = False
    found: dict | None = None  # a person just added at the door

    @property
    def closed(self) -> bool:
        return self.campaign["status"] != "open"

    @property
    def outcome(self) -> str:
        return self.visits[0]["outcome"] if self.visits else ""

    @property
    def next_url(self) -> str:
        """Where saving leads: the next door not yet reached, else the list."""
        if self.next_id:
            return f"/campaigns/{self.campaign['id']}/households/{self.next_id}"
        return f"/campaigns/{self.campaign['id']}/places/{self.place_id}"

    @property
    def action(self) -> str:
        if self.resident:
            return f"/my/campaigns/{self.campaign['id']}"
        return f"/campaigns/{self.campaign['id']}/households/{self.household['id']}"

    def value(self, person_id: int, item: str) -> str:
        """What the form shows: what was typed (after a refusal), else the latest answer."""
        name = f"p{person_id}.{item}"
        if self.values:
            return self.values.get(name, "")
        answer = self.latest.get(person_id, {}).get(item)
        return answer["value"] if answer else ""

    def source(self, person_id: int, item: str) -> str:
        answer = self.latest.get(person_id, {}).get(item)
        return answer["source"] if answer else ""

    def resident_says(self, person_id: int, item: str) -> str:
        """What the resident self-reported since a head verified this, when it differs."""
        answer = self.latest.get(person_id, {}).get(item)
        later = answer.get("newer_unverified") if answer else None
        return later["value"] if later else ""


async def _sweep_page(request: Request[Any, Any, Any], campaign_id: int, household_id: int,
                      resident: bool = False) -> SweepPage:
    principal = principal_of(request)
    campaign = await _campaign(request, campaign_id)
    household = await get_or_404(Household, household_id, principal.scope)
    if not household["path"].startswith(campaign["path"]):
        raise NotFoundException()
    if not resident and not principal.can("sweep", household["path"]):
        raise NotFoundException()
    trail = [p for p in await ancestors(household["path"]) if principal.scope.covers_path(p["path"])]
    page = SweepPage(
        campaign=campaign, household=household, members=await household_logic.members(household_id),
        questions=await logic.questions_of(campaign_id), checks=logic.checks_of(campaign),
        latest=await logic.latest_answers(campaign_id, household_id, "self" if resident else None),
        visits=await logic.visits_of(campaign_id, household_id), trail=trail, place_id=household["place"],
        resident=resident,
    )
    if resident and "sampled" in page.checks and not await _slot_begun(campaign, household):
        page.checks = [c for c in page.checks if c != "sampled"]  # not asked before their sampling time
    if not resident:
        page.next_id = await logic.next_to_reach(campaign_id, household)
        page.can_add_person = principal.can("manage_households", household["path"])
    return page


async def _slot_begun(campaign: dict, household: dict) -> bool:
    """Has the household's sampling slot in this round begun? (No slot: not yet.)"""
    from web.sampling.logic import household_slots  # sampling builds on campaigns

    for entry in await household_slots(household):
        slot = entry["slot"]
        if entry["campaign"]["id"] == campaign["id"] and slot is not None:
            starts = slot["starts"]
            starts = datetime.fromisoformat(starts) if isinstance(starts, str) else starts
            return starts <= now()
    return False


async def _saved_address(request: Request[Any, Any, Any], saved: str) -> str:
    """The address of the household just saved (?saved=<id>), if it is the user's to see."""
    if not saved.isdigit():
        return ""
    try:
        household = await get_or_404(Household, int(saved), principal_of(request).scope)
    except NotFoundException:
        return ""
    return household_address(household)


@get("/campaigns/{campaign_id:int}/households/{household_id:int}", guards=[staff])
async def sweep_page(request: Request[Any, Any, Any], campaign_id: FromPath[int], household_id: FromPath[int],
                     saved: FromQuery[str] = "") -> Response[str]:
    return render(request, "pages/sweep.html", await _sweep_page(request, campaign_id, household_id),
                  saved=await _saved_address(request, saved))


def _refuse_closed(request: Request[Any, Any, Any], page: SweepPage, form: Form, partial: str) -> Response[str]:
    """Closed while this form was on its way (queued offline): refused with the reason."""
    page.campaign = {**page.campaign, "status": "closed"}
    form.errors["outcome"] = _("This campaign is closed: nothing more can be recorded in it.")
    return refused(request, "pages/sweep.html", page, form, partial)


def _closed(page: SweepPage, form: Form) -> bool:
    if page.campaign["status"] != "open":
        form.errors["outcome"] = _("This campaign is closed: nothing more can be recorded in it.")
        return True
    return False


@post("/campaigns/{campaign_id:int}/households/{household_id:int}", guards=[staff])
async def record_sweep(request: Request[Any, Any, Any], campaign_id: FromPath[int],
                       household_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    page = await _sweep_page(request, campaign_id, household_id)
    form = await Form.read(request)
    outcome, note = logic.read_outcome(form)
    answers = logic.read_answers(form, page.campaign, page.questions, page.members) if outcome == "visited" else {}
    unknown = {k for k in form.values if k.startswith("p") and "." in k} - {
        f"p{m['id']}.{item}" for m in page.members for item in [*page.checks, *(f"q{q['id']}" for q in page.questions)]}
    if unknown and outcome == "visited" and any(form.values[k] for k in unknown):
        # A member removed (merged) since the form was saved offline: say so rather than guess.
        form.errors["outcome"] = _("The household's members changed since this form was filled in. Open it again.")
    if _closed(page, form) or not form.ok:
        return refused(request, "pages/sweep.html", page, form, "sweep")
    try:
        await logic.record_sweep(page.campaign, page.household, outcome, note, answers, source="head",
                                 user_id=principal.user_id, occurred=occurred_at(request))
    except logic.CampaignClosed:
        return _refuse_closed(request, page, form, "sweep")
    # The next door says the last one was saved (online: offline the phone says so itself).
    return redirect(request, f"{page.next_url}?saved={household_id}")


@post("/campaigns/{campaign_id:int}/households/{household_id:int}/persons", guards=[staff])
async def add_found_person(request: Request[Any, Any, Any], campaign_id: FromPath[int],
                           household_id: FromPath[int]) -> Response[Any]:
    """A renter, transient or visitor found at the door: registered, and checked present."""
    principal = principal_of(request)
    page = await _sweep_page(request, campaign_id, household_id)
    if not principal.can("manage_households", page.household["path"]):
        raise NotFoundException()
    form = await Form.read(request, lists=("tags",))
    person = read_person(form)
    if not form.ok:
        return refused(request, "pages/sweep.html", page, form, "found", prefix="new.")
    occurred = occurred_at(request)
    try:
        async with db.write():
            person_id = await household_logic.add_person(household_id, page.household["path"], occurred, person)
            # Somebody opened the door: the household is reached (visited), the newcomer present.
            await logic.record_sweep(page.campaign, page.household, "visited", "", {person_id: {"present": "yes"}},
                                     source="head", user_id=principal.user_id, occurred=occurred)
    except logic.CampaignClosed:
        form.errors["name"] = _("This campaign is closed: nothing more can be recorded in it.")
        form.values.clear()  # the person was not added: the form starts afresh
        return refused(request, "pages/sweep.html", page, form, "found", prefix="new.")
    if is_htmx(request):
        # Only this block: what is typed on the sweep form above stays as it is.
        page.found = next(m for m in await household_logic.members(household_id) if m["id"] == person_id)
        page.latest = await logic.latest_answers(campaign_id, household_id)
        return render(request, "pages/sweep.html", page, partial="found")
    return redirect(request, f"/campaigns/{campaign_id}/households/{household_id}")


# ---- the resident's self-report ---------------------------------------------------------------


@get("/my/campaigns/{campaign_id:int}", guards=[signed_in])
async def self_report_page(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[str]:
    principal = principal_of(request)
    if principal.household_id is None:
        raise NotFoundException()
    return render(request, "pages/sweep.html", await _sweep_page(request, campaign_id, principal.household_id, True))


@post("/my/campaigns/{campaign_id:int}", guards=[signed_in])
async def self_report(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Response[Any]:
    principal = principal_of(request)
    if principal.household_id is None:
        raise NotFoundException()
    page = await _sweep_page(request, campaign_id, principal.household_id, True)
    form = await Form.read(request)
    answers = logic.read_answers(form, page.campaign, page.questions, page.members)
    if not answers and form.ok:
        form.errors["outcome"] = _("Answer at least one question before sending.")
    if _closed(page, form) or not form.ok:
        return refused(request, "pages/sweep.html", page, form, "sweep")
    limit = get_settings().self_reports_per_hour
    if await logic.self_reports_since(campaign_id, principal.household_id, now() - timedelta(hours=1)) >= limit:
        form.errors = {"outcome": _("This household has sent %(n)s answers in the last hour. Wait a while, then send"
                                    " again: what you entered is kept.", n=limit)}
        return refused(request, "pages/sweep.html", page, form, "sweep", status_code=429)
    try:
        await logic.record_sweep(page.campaign, page.household, "", "", answers, source="self", user_id=None,
                                 occurred=occurred_at(request))
    except logic.CampaignClosed:
        return _refuse_closed(request, page, form, "sweep")
    return redirect(request, "/my?sent=1")


routes = [campaigns_page, start_campaign, close_campaign, progress_page, export_csv, export_xlsx,
          sweep_page, record_sweep, add_found_person, self_report_page, self_report]
