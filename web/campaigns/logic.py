"""Campaigns: what a sweep records, the status it leaves, and coverage per place.

Recording is one transaction: the facts (a visit, each person's answers) are appended,
and the household's and persons' status rows move only when the facts are newer than
what they hold, so replays in any order end in the same status. Coverage counts status
rows per place path; a closed campaign's figures are kept on it (`Campaign.figures`).

Why one module of ~590 lines: recording and coverage are two sides of one rule (coverage
counts exactly the status rows recording leaves), and reading them apart is how they
drift. Its sections (campaigns, reading a sweep form, recording, coverage) are the seams
to split along if it grows.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from web import db
from web.campaigns import checks
from web.campaigns.tables import (CAMPAIGN_KINDS, OUTCOMES, QUESTION_KINDS, REACHED, STANDARD_CHECKS, Answer,
                                  Campaign, HouseholdStatus, PersonStatus, Question, Visit)
from web.core import facts
from web.core.forms import Form
from web.core.i18n import _
from web.core.scope import Scope
from web.core.timeutil import local_zone, now
from web.places.logic import under

CODE_COLOURS = ("green", "yellow", "red")
YES_NO = ("yes", "no")
MAX_DOSES = 6
TEXT_LIMIT = 200


# ---- campaigns ------------------------------------------------------------------------------


# Everything but the kept figures (hundreds of KB for a closed sub-district round).
LIST_COLUMNS = (Campaign.id, Campaign.name, Campaign.kind, Campaign.place, Campaign.path, Campaign.deadline,
                Campaign.checks, Campaign.status, Campaign.created_at, Campaign.closed_at)


async def visible_campaigns(scope: Scope, status: str | None = None) -> list[dict]:
    """Campaigns over a place this user covers, or over a place above one they cover
    (a grid head works the sub-district's testing round in their grid)."""
    rows = await Campaign.select(*LIST_COLUMNS, Campaign.place.name).order_by(Campaign.id, ascending=False)
    for row in rows:
        row["covered"] = scope.covers_path(row["path"])  # a place above the user's is not named to them
    return [c for c in rows if (status is None or c["status"] == status) and reaches(c, scope)]


def reaches(campaign: dict, scope: Scope) -> bool:
    return scope.covers_path(campaign["path"]) or any(p.startswith(campaign["path"]) for p in scope.paths)


async def campaigns_over(path: str, status: str = "open") -> list[dict]:
    """Campaigns whose place is `path` or above it: those that ask about a household there."""
    prefixes = ["/" + "/".join(path.strip("/").split("/")[:depth]) + "/" for depth in range(1, path.count("/"))]
    return await Campaign.select(*LIST_COLUMNS).where(Campaign.path.is_in(prefixes) & (Campaign.status == status)).order_by(
        Campaign.id, ascending=False)


async def questions_of(campaign_id: int) -> list[dict]:
    rows = await Question.select().where(Question.campaign == campaign_id).order_by(Question.position, Question.id)
    for row in rows:
        row["options"] = [c for c in row["choices"].splitlines() if c.strip()]
    return rows


def checks_of(campaign: dict) -> list[str]:
    return [c for c in campaign["checks"].split(",") if c in STANDARD_CHECKS]


def read_campaign(form: Form, questions: list[dict[str, str]]) -> dict[str, Any]:
    """Check a new campaign; `questions` are the form's question rows (kind, label, choices)."""
    name = form.required("name", _("Give the campaign a name."))
    if len(name) > 100:
        form.errors["name"] = _("Keep the name under 100 characters.")
    kind = form.choice("kind", CAMPAIGN_KINDS)
    deadline = None
    text = form.get("deadline")
    try:
        deadline = datetime.fromisoformat(text) if text else None
    except ValueError:
        pass
    if deadline is None:
        form.errors["deadline"] = _("Give a deadline: the day and the hour the summary is due.")
    else:
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=local_zone())
        if deadline < now() - timedelta(hours=1):
            form.errors["deadline"] = _("The deadline has passed already.")
    checks = [c for c in form.get("checks").split(",") if c in STANDARD_CHECKS]
    kept = []
    for n, q in enumerate(questions):
        label = q.get("label", "").strip()
        if not label:
            continue
        if len(label) > TEXT_LIMIT:
            form.errors[f"q{n}"] = _("Keep the question under 200 characters.")
        if q.get("kind") not in QUESTION_KINDS:
            form.errors[f"q{n}"] = _("Choose what kind of answer the question takes.")
        options = [c.strip() for c in q.get("choices", "").replace("，", ",").replace("\n", ",").split(",") if c.strip()]
        if q.get("kind") == "choice" and len(options) < 2:
            form.errors[f"q{n}"] = _("A choice needs at least two options, separated by commas.")
        kept.append({"kind": q.get("kind", ""), "label": label, "choices": "\n".join(options)})
    if not checks and not kept:
        form.errors["checks"] = _("Ask at least one check or question of each person.")
    return {"name": name, "kind": kind, "deadline": deadline, "checks": ",".join(checks), "questions": kept}


async def create_campaign(values: dict[str, Any], place: dict, user_id: int | None) -> int:
    async with db.write():
        rows = await Campaign.insert(Campaign(
            name=values["name"], kind=values["kind"], place=place["id"], path=place["path"],
            deadline=values["deadline"], checks=values["checks"], status="open", created_by=user_id,
            created_at=now(),
        )).returning(Campaign.id)
        campaign_id = rows[0]["id"]
        if values["questions"]:
            await Question.insert(*[Question(campaign=campaign_id, position=n, **q)
                                    for n, q in enumerate(values["questions"])])
    return campaign_id


async def close_campaign(campaign: dict) -> None:
    """Read-only from now on; its figures are kept for the chart across rounds."""
    async with db.write():
        if await _hold(campaign["id"], close=True) != "open":
            return
        figures = await _count_under(campaign["id"], campaign["path"])
        await Campaign.update({
            Campaign.status: "closed", Campaign.closed_at: now(),
            Campaign.figures: json.dumps({path: asdict(c) for path, c in figures.items()}, separators=(",", ":")),
        }).where(Campaign.id == campaign["id"])


# ---- reading a sweep form -------------------------------------------------------------------


def _read_value(form: Form, field: str, kind: str, options: list[str] | None = None) -> str:
    """One answer, checked by its kind; "" when left blank. Errors land beside the field."""
    value = form.get(field)
    if not value:
        return ""
    if kind in ("yes_no",):
        if value not in YES_NO:
            form.errors[field] = _("Choose one of the options.")
    elif kind == "code":
        if value not in CODE_COLOURS:
            form.errors[field] = _("Choose one of the options.")
    elif kind == "choice":
        if value not in (options or []):
            form.errors[field] = _("Choose one of the options.")
    elif kind == "doses":
        return str(form.integer(field, 0, MAX_DOSES) if value else "")
    elif kind == "number":
        try:
            number = float(value)
            if not -1e9 < number < 1e9:
                raise ValueError
        except ValueError:
            form.errors[field] = _("Enter a number.")
    elif kind == "date":
        try:
            day = date.fromisoformat(value)
            if not date(2019, 1, 1) <= day <= now().date() + timedelta(days=366):
                form.errors[field] = _("Enter a date between 2019 and next year.")
        except ValueError:
            form.errors[field] = _("Enter a date as year-month-day.")
    elif len(value) > TEXT_LIMIT:
        form.errors[field] = _("Keep this under %(n)s characters.", n=TEXT_LIMIT)
    return value


# The form kind of each standard check.
CHECK_KINDS = checks.CHECK_KINDS


def read_answers(form: Form, campaign: dict, questions: list[dict], members: list[dict],
                 only: tuple[str, ...] | None = None) -> dict[int, dict[str, str]]:
    """Each member's answers, from fields named "p<person id>.<check>" or "p<id>.q<question id>".
    `only`: the checks this form asks (a sampling site asks only "sampled")."""
    answers: dict[int, dict[str, str]] = {}
    for member in members:
        given: dict[str, str] = {}
        for check in (only or checks_of(campaign)):
            value = _read_value(form, f"p{member['id']}.{check}", CHECK_KINDS[check])
            if value not in ("", "None"):
                given[check] = value
        for q in ([] if only else questions):
            value = _read_value(form, f"p{member['id']}.q{q['id']}", q["kind"], q["options"])
            if value:
                given[f"q{q['id']}"] = value
        if given:
            answers[member["id"]] = given
    return answers


def read_outcome(form: Form) -> tuple[str, str]:
    outcome = form.get("outcome")
    if outcome not in OUTCOMES:
        form.errors["outcome"] = _("Choose what you found at the door.")
    note = form.get("note")
    if len(note) > 500:
        form.errors["note"] = _("Keep the note under 500 characters.")
    return outcome, note


# ---- recording --------------------------------------------------------------------------------


# The status a sweep leaves, as plain functions of the status before and the facts (the
# demo's round generator builds its rows with these too, bench/coverage.py).


def household_after(current: tuple | None, outcome: str, source: str, occurred: datetime) -> tuple:
    """(outcome, outcome_at, self_reported) after a sweep with `outcome` ("" for answers only)."""
    state = current or ("", None, False)
    if source in facts.UNVERIFIED:
        return (state[0], state[1], True)  # new answers of the resident's, to confirm
    if outcome and facts.newer(state[1], occurred):
        return (outcome, occurred, False)  # a head at the door: the latest outcome, the resident's confirmed
    return state


def person_after(current: tuple | None, given: dict[str, str], source: str, occurred: datetime,
                 verified: dict[str, str] | None = None) -> tuple:
    """(checked, self_reported, sampled, checked_at) after one person's answers. A
    self-report never changes what was verified: it is only "to confirm", and only when it
    says something the verified answers (`verified`) do not."""
    checked, self_reported, sampled, checked_at = current or (False, False, False, None)
    if source in facts.UNVERIFIED:
        if not checked or facts.differs(given, verified):
            self_reported = True  # until a head confirms it
    elif facts.newer(checked_at, occurred):
        if source == "site":
            # A tick at the sampling site: sampled (or a mis-tap taken back); being
            # sampled is being seen, and taking a tick back unsees nobody.
            sampled = given.get("sampled") == "yes"
            checked = checked or sampled
        else:
            # A head at the door: checked unless found absent; the resident's answers confirmed.
            checked = given.get("present", "yes") != "no"
            if "sampled" in given:
                sampled = given["sampled"] == "yes"
            self_reported = False
        checked_at = occurred
    return (bool(checked), bool(self_reported), bool(sampled), checked_at)


async def _hold(campaign_id: int, household_id: int | None = None, close: bool = False) -> str:
    """The campaign's status, read under a lock for the rest of the transaction.

    On PostgreSQL sweeps share the campaign row (closing it takes it alone, so no sweep
    lands after the figures are kept), and two sweeps of one door queue one behind the
    other, so "latest fact wins" holds for concurrent writers too. SQLite runs one write
    transaction at a time already."""
    postgres = db.engine().engine_type in ("postgres", "cockroach")
    lock = (" FOR UPDATE" if close else " FOR SHARE") if postgres else ""
    rows = await db.fetch("SELECT status FROM campaign WHERE id = {}" + lock, campaign_id)
    if household_id is not None:
        await facts.hold("sweep", campaign_id, household_id)
    return rows[0]["status"] if rows else ""


class CampaignClosed(Exception):
    """The campaign was closed (perhaps while the phone was offline): nothing is recorded."""


async def self_reports_since(campaign_id: int, household_id: int, since: datetime) -> int:
    """How many self-reports `household_id` sent for a campaign since `since` (each is
    stored with its own time of receipt, and holds at least one answer)."""
    rows = await db.fetch(
        "SELECT count(DISTINCT received_at) AS n FROM answer WHERE campaign = {} AND household = {}"
        " AND source = 'self' AND received_at > {}", campaign_id, household_id, since)
    return rows[0]["n"]


async def record_sweep(campaign: dict, household: dict, outcome: str, note: str,
                       answers: dict[int, dict[str, str]], *, source: str, user_id: int | None,
                       occurred: datetime) -> None:
    """Append the facts of one sweep of `household`, and move its status and its members'
    if these facts are the latest. `outcome` "" records answers only (a sampling site, a
    resident's self-report). Raises CampaignClosed, rolling back the whole write."""
    received = now()
    path = household["path"]
    async with db.write():
        if await _hold(campaign["id"], household["id"]) != "open":
            raise CampaignClosed()
        if outcome:
            await Visit.insert(Visit(campaign=campaign["id"], household=household["id"], path=path, outcome=outcome,
                                     note=note, source=source, by_user=user_id, occurred_at=occurred,
                                     received_at=received))
        rows = [Answer(campaign=campaign["id"], person=person_id, household=household["id"], path=path, item=item,
                       value=value, source=source, by_user=user_id, occurred_at=occurred, received_at=received)
                for person_id, given in answers.items() for item, value in given.items()]
        if rows:
            await Answer.insert(*rows)
        if outcome or source == "self":
            status = await HouseholdStatus.select().where(
                (HouseholdStatus.campaign == campaign["id"]) & (HouseholdStatus.household == household["id"])).first()
            before = (status["outcome"], status["outcome_at"], bool(status["self_reported"])) if status else None
            after = household_after(before, outcome, source, occurred)
            await facts.put_status("household_status", ("campaign", "household"), {
                "campaign": campaign["id"], "household": household["id"], "path": path,
                "outcome": after[0], "outcome_at": after[1], "self_reported": after[2]})
        if answers:
            await _move_persons(campaign["id"], household["id"], path, answers, source, occurred)


async def _move_persons(campaign_id: int, household_id: int, path: str, answers: dict[int, dict[str, str]],
                        source: str, occurred: datetime) -> None:
    current = {row["person"]: row for row in await PersonStatus.select().where(
        (PersonStatus.campaign == campaign_id) & PersonStatus.person.is_in(list(answers)))}
    verified: dict[int, dict[str, str]] = {}
    if source in facts.UNVERIFIED:  # what the heads verified, to tell what the resident says anew
        for (person, item), answer in facts.latest(await Answer.select(
                Answer.id, Answer.person, Answer.item, Answer.value, Answer.source, Answer.occurred_at).where(
                (Answer.campaign == campaign_id) & Answer.person.is_in(list(answers)) &
                Answer.source.is_in(sorted(facts.VERIFIED))), ("person", "item")).items():
            verified.setdefault(person, {})[item] = answer["value"]
    for person_id, given in answers.items():
        row = current.get(person_id)
        before = (row["checked"], row["self_reported"], row["sampled"], row["checked_at"]) if row else None
        checked, self_reported, sampled, checked_at = person_after(before, given, source, occurred,
                                                                    verified.get(person_id))
        await facts.put_status("person_status", ("campaign", "person"), {
            "campaign": campaign_id, "person": person_id, "household": household_id, "path": path,
            "checked": checked, "self_reported": self_reported, "sampled": sampled, "checked_at": checked_at})


async def latest_answers(campaign_id: int, household_id: int, source: str | None = None) -> dict[int, dict[str, dict]]:
    """Each member's answer per check, with who gave it (head, self, site): what was verified
    outranks a self-report (web/core/facts.py), and a later self-report that says otherwise
    is kept beside it under "newer_unverified" for the head to confirm. Only from `source`
    when given (a resident's form shows their own answers, not the head's)."""
    query = Answer.select(Answer.id, Answer.person, Answer.item, Answer.value, Answer.source, Answer.occurred_at).where(
        (Answer.campaign == campaign_id) & (Answer.household == household_id))
    if source:
        query = query.where(Answer.source == source)
    latest: dict[int, dict[str, dict]] = defaultdict(dict)
    for (person, item), row in facts.latest(await query.order_by(Answer.id), ("person", "item")).items():
        latest[person][item] = row
    return latest


async def visits_of(campaign_id: int, household_id: int) -> list[dict]:
    return await Visit.select(Visit.outcome, Visit.note, Visit.source, Visit.occurred_at,
                              Visit.by_user.display_name).where(
        (Visit.campaign == campaign_id) & (Visit.household == household_id)).order_by(Visit.occurred_at, ascending=False)


async def notes_under(campaign_id: int, prefix: str) -> dict[int, str]:
    """What the latest visit to each household noted ("come back after 8 p.m."), if anything."""
    where, low, high = under("path", prefix)
    notes: dict[int, str] = {}
    for row in await db.fetch(f"SELECT household, note FROM visit WHERE campaign = {{}} AND {where}"
                              " ORDER BY occurred_at, id", campaign_id, low, high):
        notes[row["household"]] = row["note"]
    return {household: note for household, note in notes.items() if note}


async def statuses_under(campaign_id: int, prefix: str) -> dict[int, dict]:
    rows = await HouseholdStatus.select(HouseholdStatus.household, HouseholdStatus.outcome,
                                        HouseholdStatus.self_reported).where(
        (HouseholdStatus.campaign == campaign_id) & HouseholdStatus.path.like(f"{prefix}%"))
    return {row["household"]: row for row in rows}


# ---- coverage ---------------------------------------------------------------------------------


@dataclass
class Coverage:
    households: int = 0
    reached: int = 0
    revisit: int = 0  # nobody home: to go back
    refused: int = 0
    self_households: int = 0  # a resident answered through their link
    persons: int = 0
    checked: int = 0
    self_only: int = 0  # self-reported, not yet confirmed by a head
    sampled: int = 0

    def add(self, other: "Coverage") -> None:
        for name in COVERAGE_FIELDS:  # a fixed tuple: a sub-district sums thousands of these
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def missing(self) -> int:
        return self.households - self.reached

    @staticmethod
    def share(part: int, whole: int) -> int:
        # Rounded down: 199 of 200 is 99%, never a 100% that is not done.
        return 100 * part // whole if whole else 0

    @property
    def households_pct(self) -> int:
        return self.share(self.reached, self.households)

    @property
    def persons_pct(self) -> int:
        return self.share(self.checked, self.persons)

    @property
    def sampled_pct(self) -> int:
        return self.share(self.sampled, self.persons)


COVERAGE_FIELDS = tuple(f.name for f in fields(Coverage))


async def _count_under(campaign_id: int, prefix: str) -> dict[str, Coverage]:
    """Live figures per place path: four index range scans."""
    fetch = db.fetch if prefix.count("/") > 3 else db.fetch_long
    where, low, high = under("path", prefix)
    result: dict[str, Coverage] = defaultdict(Coverage)
    for row in await fetch(f"SELECT path, count(*) AS n FROM household WHERE {where} GROUP BY path", low, high):
        result[row["path"]].households = row["n"]
    for row in await fetch(f"SELECT path, count(*) AS n FROM person WHERE {where} GROUP BY path", low, high):
        result[row["path"]].persons = row["n"]
    for row in await fetch(
            "SELECT path, outcome, self_reported, count(*) AS n FROM household_status"
            f" WHERE campaign = {{}} AND {where} GROUP BY path, outcome, self_reported", campaign_id, low, high):
        figures = result[row["path"]]
        if row["outcome"] in REACHED:
            figures.reached += row["n"]
        elif row["outcome"] == "nobody_home":
            figures.revisit += row["n"]
        elif row["outcome"] == "refused":
            figures.refused += row["n"]
        if row["self_reported"]:
            figures.self_households += row["n"]
    for row in await fetch(
            "SELECT path, checked, self_reported, sampled, count(*) AS n FROM person_status"
            f" WHERE campaign = {{}} AND {where} GROUP BY path, checked, self_reported, sampled",
            campaign_id, low, high):
        figures = result[row["path"]]
        if row["checked"]:
            figures.checked += row["n"]
        if row["self_reported"]:  # never reached by a head, or said otherwise since
            figures.self_only += row["n"]
        if row["sampled"]:
            figures.sampled += row["n"]
    return dict(result)


async def coverage_under(campaign: dict, prefix: str) -> dict[str, Coverage]:
    """Figures per place path under `prefix`: counted live, or kept on a closed campaign."""
    if campaign["status"] == "closed":
        return {path: c for path, c in (await kept_figures(campaign["id"])).items() if path.startswith(prefix)}
    return await _count_under(campaign["id"], prefix)


def rollup(figures: dict[str, Coverage], prefix: str) -> Coverage:
    total = Coverage()
    for path, values in figures.items():
        if path.startswith(prefix):
            total.add(values)
    return total


async def rounds_at(place: dict, campaign: dict, current: dict[str, Coverage]) -> list[tuple[dict, Coverage]]:
    """Coverage at `place` across the campaigns of the same kind that reach it, oldest first
    (the chart across testing rounds); `current` is this campaign's figures, counted already."""
    over = await Campaign.select(*LIST_COLUMNS).where(Campaign.kind == campaign["kind"]).order_by(Campaign.created_at)
    result = []
    for other in over:
        if not (place["path"].startswith(other["path"]) or other["path"].startswith(place["path"])):
            continue
        if other["id"] == campaign["id"]:
            result.append((other, rollup(current, place["path"])))
        elif other["status"] == "closed":  # another open campaign is not a round of this series yet
            result.append((other, rollup(await kept_figures(other["id"]), place["path"])))
    return result[-12:]


_kept: dict[int, dict[str, Coverage]] = {}


async def kept_figures(campaign_id: int) -> dict[str, Coverage]:
    """A closed campaign's figures per path; they never change, so they are parsed once."""
    if campaign_id not in _kept:
        row = await Campaign.select(Campaign.figures).where(Campaign.id == campaign_id).first()
        kept = json.loads(row["figures"]) if row and row["figures"] else {}
        _kept[campaign_id] = {path: Coverage(**values) for path, values in kept.items()}
    return _kept[campaign_id]


async def missing_under(campaign_id: int, prefix: str, limit: int | None) -> list[dict]:
    """Households under `prefix` not yet reached (none, nobody home, refused), in walking
    order per place, each with its head count: the list a secretary chases at 10 p.m."""
    where, low, high = under("h.path", prefix)
    rows = await db.fetch_long(
        "SELECT h.id, h.path, h.kind, h.building, h.unit, h.floor, h.room, h.premises_kind, h.premises_name,"
        " h.address, h.door_code, coalesce(s.outcome, '') AS outcome, pl.name AS place_name,"
        " (SELECT count(*) FROM person p WHERE p.household = h.id) AS persons"
        " FROM household h JOIN place pl ON pl.id = h.place"
        " LEFT JOIN household_status s ON s.household = h.id AND s.campaign = {}"
        f" WHERE {where} AND (s.outcome IS NULL OR s.outcome NOT IN ({{}}, {{}}))"
        # In path order, which the path index gives, so the first page stops early.
        " ORDER BY h.path, h.sort_key" + ("" if limit is None else f" LIMIT {int(limit)}"),
        campaign_id, low, high, *REACHED)
    return rows


def natural_key(text: str) -> list[Any]:
    """"第2网格" before "第10网格": digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]


def grid_path(path: str) -> str:
    """The grid a household's path lies in (sub-district / community / grid / …)."""
    return "/" + "/".join(path.strip("/").split("/")[:3]) + "/"


async def missing_by_grid(campaign_id: int, prefix: str, figures: dict[str, "Coverage"], limit: int) -> list[dict]:
    """The missing list of a community or sub-district, grid by grid in their numbered
    order (第2网格 before 第10网格), each grid with its count: only grids with doors left
    are asked, until `limit` households are listed."""
    grids = await db.fetch_long("SELECT id, name, path FROM place WHERE kind = 'grid' AND path LIKE {}",
                                f"{prefix}%")
    grids.sort(key=lambda g: natural_key(g["name"]))
    result, left = [], limit
    for grid in grids:
        missing = rollup(figures, grid["path"]).missing
        if missing <= 0 or left <= 0:
            continue
        rows = await missing_under(campaign_id, grid["path"], left)
        rows.sort(key=lambda h: [int(part) for part in h["path"].strip("/").split("/")])  # stable: walking order kept
        result.append({**grid, "missing": missing, "households": rows})
        left -= len(rows)
    return result


async def heads_under(prefix: str) -> dict[int, dict]:
    """Each household's head (or, without one, its first registered member): name and phone."""
    where, low, high = under("path", prefix)
    heads: dict[int, dict] = {}
    for row in await db.fetch_long(
            f"SELECT household, name, phone, relation FROM person WHERE {where} ORDER BY household, id", low, high):
        known = heads.get(row["household"])
        if known is None or (row["relation"] == "head" and known["relation"] != "head"):
            heads[row["household"]] = row
    return heads


async def next_to_reach(campaign_id: int, household: dict) -> int | None:
    """The next household after this one, in walking order at its place, not yet reached."""
    rows = await db.fetch(
        "SELECT h.id FROM household h LEFT JOIN household_status s ON s.household = h.id AND s.campaign = {}"
        " WHERE h.place = {} AND (h.sort_key > {} OR (h.sort_key = {} AND h.id > {}))"
        " AND (s.outcome IS NULL OR s.outcome NOT IN ({}, {})) ORDER BY h.sort_key, h.id LIMIT 1",
        campaign_id, household["place"], household["sort_key"], household["sort_key"], household["id"], *REACHED)
    return rows[0]["id"] if rows else None


async def open_for(household_id: int, path: str) -> list[dict]:
    """The open campaigns over a household, each with the household's outcome in it."""
    campaigns = await campaigns_over(path)
    if not campaigns:
        return []
    statuses = {row["campaign"]: row for row in await HouseholdStatus.select(
        HouseholdStatus.campaign, HouseholdStatus.outcome, HouseholdStatus.self_reported).where(
        (HouseholdStatus.household == household_id) & HouseholdStatus.campaign.is_in([c["id"] for c in campaigns]))}
    for campaign in campaigns:
        status = statuses.get(campaign["id"])
        campaign["outcome"] = status["outcome"] if status else ""
    return campaigns


async def unchecked_in_reached(campaign_id: int, prefix: str, limit: int) -> list[dict]:
    """Persons registered in households already reached whom nobody checked: away when the
    head called, or registered at a flat found vacant. 不漏一人: the door is done, they are not."""
    persons, low, high = under("p.path", prefix)
    statuses, _low, _high = under("s.path", prefix)
    # The status range too: without it the plan walks every status row of the campaign.
    return await db.fetch(
        "SELECT p.id, p.name, p.household, s.outcome, h.kind, h.building, h.unit, h.floor, h.room,"
        " h.premises_kind, h.premises_name, h.address, h.door_code"
        " FROM person p JOIN household h ON h.id = p.household"
        " JOIN household_status s ON s.household = p.household AND s.campaign = {} AND s.outcome IN ({}, {})"
        " LEFT JOIN person_status ps ON ps.person = p.id AND ps.campaign = {}"
        f" WHERE {persons} AND {statuses} AND (ps.checked IS NULL OR NOT ps.checked)"
        f" ORDER BY h.sort_key, p.id LIMIT {int(limit)}",
        campaign_id, *REACHED, campaign_id, low, high, low, high)
