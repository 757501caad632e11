"""Staggered sampling: which micro-grid goes to which site when, and how long they wait.

The queue model (one per site): a slot's residents arrive evenly over the slot; the site
samples `stations × per_minute` persons a minute; whatever queue is left at the end of
a slot carries into the next; a resident arriving at t waits Q(t) ÷ rate. `worst_waits()`
computes that for any set of slots (generated or moved by hand); `plan()` makes slots
that keep it under BOUND, or says plainly which site cannot and what would fit it.

Times are minutes after local midnight (GRIDLINE_TZ) of the site's day: slots land on a
STEP-minute grid a person can remember ("09:35 to 10:10").

Why one module of ~580 lines: half of it is the pure queue model and its generator, which
the other half (storing sites and slots, the site on the day) calls at every change; the
model is kept pure so the tests check it against a wait computation of their own.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from piccolo.query.functions.aggregate import Count

from web import db
from web.core.forms import Form
from web.core.i18n import _
from web.core.timeutil import local_zone, now, today
from web.households.tables import Household, Person
from web.places.tables import Place
from web.sampling.tables import SamplingSite, SamplingSlot

BOUND = 20.0  # minutes: door to sampled, the sub-district's rule (README)
STEP = 5  # minutes: slots start and end on this grid
# A site's hours fit N persons when N ÷ rate < hours + BOUND − STEP: rounding the slots to
# the grid can add up to one STEP of queue (see plan_site), and the last arrivals may
# still queue into the BOUND after closing.
MARGIN = BOUND - STEP
MAX_STATIONS = 200
MAX_PER_MINUTE = Decimal("20")
SITE_HOUSEHOLDS = 2000  # what one site page lists at most (a phone keeps it offline)


# ---- the model (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSpec:
    key: Any
    path: str  # the place it serves
    stations: int
    per_minute: float
    opens: int  # minutes after midnight
    closes: int

    @property
    def rate(self) -> float:
        return self.stations * self.per_minute

    @property
    def start(self) -> int:
        return -(-self.opens // STEP) * STEP

    @property
    def end(self) -> int:
        return self.closes // STEP * STEP

    @property
    def span(self) -> int:
        return max(0, self.end - self.start)

    def capacity(self, stations: int | None = None) -> int:
        """The most persons its hours fit under BOUND (strictly)."""
        rate = (self.stations if stations is None else stations) * self.per_minute
        if self.span < STEP or rate <= 0:
            return 0
        return max(0, math.ceil(rate * (self.span + MARGIN)) - 1)


@dataclass(frozen=True)
class Unit:
    """A micro-grid, a grid not split, or the households sitting directly in a split grid."""

    key: Any
    path: str
    group: str  # its grid's path: units of one grid go to one site where possible
    persons: int


@dataclass
class Planned:
    site: Any
    unit: Any
    starts: int
    ends: int
    persons: int
    wait: float = 0.0


@dataclass
class Problem:
    kind: str  # "uncovered": no site serves these units; "over": a site's hours do not fit its load
    site: Any = None
    persons: int = 0
    capacity: int = 0
    more_stations: int = 0  # stations to add at this site to fit its load
    units: list[Any] = field(default_factory=list)

    @property
    def over(self) -> int:
        return max(0, self.persons - self.capacity)


@dataclass
class Plan:
    slots: list[Planned]
    problems: list[Problem]
    load: dict[Any, int]  # persons sent to each site

    @property
    def ok(self) -> bool:
        return not self.problems


def worst_waits(slots: list[tuple[float, float, int]], rate: float) -> list[float]:
    """The worst expected wait (minutes) in each slot (start, end, persons) at one site.

    The queue is followed through every moment a slot starts or ends: between two such
    moments arrivals are steady, so the queue grows or shrinks in a straight line (and
    stops at empty), and its highest point in a slot is at one of those moments."""
    if not slots:
        return []
    moments = sorted({t for a, b, _n in slots for t in (a, b)})
    index = {t: i for i, t in enumerate(moments)}
    change = [0.0] * len(moments)  # arrivals a minute starting (+) or stopping (−) here
    batch = [0] * len(moments)  # a slot of no length: everyone at once
    for a, b, persons in slots:
        if b > a:
            change[index[a]] += persons / (b - a)
            change[index[b]] -= persons / (b - a)
        else:
            batch[index[a]] += persons
    queue_at, queue, arriving = [], 0.0, 0.0
    for i, t in enumerate(moments):
        queue += batch[i]
        queue_at.append(queue)
        arriving += change[i]
        if i + 1 < len(moments):
            queue = max(0.0, queue + (arriving - rate) * (moments[i + 1] - t))
    return [max(queue_at[index[a]:index[b] + 1]) / rate for a, b, _n in slots]


def more_stations(site: SiteSpec, persons: int) -> int:
    """Stations to add so that the site's hours fit `persons` (0 if they fit)."""
    if site.capacity() >= persons or site.span < STEP or site.per_minute <= 0:
        return 0  # fits already, or no stations would: the hours are the problem
    minutes = site.span + MARGIN
    total = max(site.stations, math.floor(persons / (site.per_minute * minutes)))
    while site.capacity(total) < persons:
        total += 1
    return total - site.stations


def plan_site(site: SiteSpec, units: list[Unit]) -> list[Planned]:
    """Back-to-back slots from opening, in the given order.

    Arrivals follow a straight line: at the site's rate when its hours have room (the
    queue stays under one STEP), else spread over all its hours. Each boundary is the
    line's moment rounded *up* to the grid, so nobody is asked earlier than the line
    would: that keeps the queue within one STEP of the straight line's."""
    total = sum(u.persons for u in units)
    if not units or total == 0:
        return []
    needed = -(-math.ceil(total / site.rate) // STEP) * STEP  # minutes at full rate, on the grid
    span = min(site.span, max(STEP, needed))
    bounds, cumulative = [site.start], 0
    for unit in units:
        cumulative += unit.persons
        ideal = site.start + span * cumulative / total
        bounds.append(min(site.start + span, math.ceil(ideal / STEP - 1e-9) * STEP))
    bounds[-1] = site.start + span
    slots = []
    for n, unit in enumerate(units):
        starts, ends = bounds[n], bounds[n + 1]
        if starts == ends:  # too few persons for a slot of their own: they share the next one
            later = [b for b in bounds[n + 1:] if b > ends]
            if later:
                ends = later[0]
            else:
                starts = max(b for b in bounds[: n + 1] if b < ends)
        slots.append(Planned(site.key, unit.key, starts, ends, unit.persons))
    waits = worst_waits([(s.starts, s.ends, s.persons) for s in slots], site.rate)
    for slot, wait in zip(slots, waits):
        slot.wait = wait
    return slots


def assign(sites: list[SiteSpec], units: list[Unit]) -> tuple[dict[Any, Any], list[Unit]]:
    """Which site each unit goes to: a grid's micro-grids together at the least loaded site
    that fits them all, else one by one; a site serves the units under its place."""
    capacity = {s.key: s.capacity() for s in sites}
    load: dict[Any, int] = {s.key: 0 for s in sites}
    chosen: dict[Any, Any] = {}
    uncovered: list[Unit] = []

    def candidates(unit: Unit) -> list[SiteSpec]:
        return [s for s in sites if unit.path.startswith(s.path)]

    def fill(site: SiteSpec, extra: int) -> float:
        return (load[site.key] + extra) / capacity[site.key] if capacity[site.key] else math.inf

    def best(among: list[SiteSpec], extra: int) -> SiteSpec:
        return min(among, key=lambda s: (fill(s, extra), -capacity[s.key], str(s.path), str(s.key)))

    groups: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        groups[unit.group].append(unit)
    for _group, members in sorted(groups.items(), key=lambda g: (-sum(u.persons for u in g[1]), g[0])):
        persons = sum(u.persons for u in members)
        common = [s for s in sites if all(u.path.startswith(s.path) for u in members)]
        if common:
            site = best(common, persons)
            if fill(site, persons) <= 1:
                for unit in members:
                    chosen[unit.key] = site.key
                load[site.key] += persons
                continue
        for unit in sorted(members, key=lambda u: (-u.persons, u.path)):
            among = candidates(unit)
            if not among:
                uncovered.append(unit)
                continue
            site = best(among, unit.persons)
            chosen[unit.key] = site.key
            load[site.key] += unit.persons
    # Repair: move units off a site over its capacity to another that still has room.
    by_key = {u.key: u for u in units}
    for site in sites:
        if load[site.key] <= capacity[site.key]:
            continue
        for key in sorted([k for k, s in chosen.items() if s == site.key], key=lambda k: -by_key[k].persons):
            if load[site.key] <= capacity[site.key]:
                break
            unit = by_key[key]
            room = [s for s in candidates(unit) if s.key != site.key
                    and load[s.key] + unit.persons <= capacity[s.key]]
            if room:
                target = best(room, unit.persons)
                chosen[key] = target.key
                load[site.key] -= unit.persons
                load[target.key] += unit.persons
    return chosen, uncovered


def plan(sites: list[SiteSpec], units: list[Unit]) -> Plan:
    """Slots for every unit with persons, or the problems that stop them (then no slots)."""
    units = [u for u in units if u.persons > 0]
    chosen, uncovered = assign(sites, units)
    problems: list[Problem] = []
    if uncovered:
        problems.append(Problem("uncovered", persons=sum(u.persons for u in uncovered),
                                units=[u.key for u in sorted(uncovered, key=lambda u: u.path)]))
    slots: list[Planned] = []
    load: dict[Any, int] = {}
    for site in sites:
        mine = sorted((u for u in units if chosen.get(u.key) == site.key), key=lambda u: (u.group, u.path))
        load[site.key] = persons = sum(u.persons for u in mine)
        capacity = site.capacity()
        if persons > capacity:
            problems.append(Problem("over", site=site.key, persons=persons, capacity=capacity,
                                    more_stations=more_stations(site, persons), units=[u.key for u in mine]))
            continue
        made = plan_site(site, mine)
        if any(s.wait >= BOUND for s in made):  # never expected (see plan_site): said, not hidden
            problems.append(Problem("over", site=site.key, persons=persons, capacity=capacity,
                                    more_stations=max(1, more_stations(site, persons)), units=[u.key for u in mine]))
            continue
        slots += made
    return Plan([] if problems else slots, problems, load)


# ---- times ----------------------------------------------------------------------------------


def minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def clock(total: int) -> str:
    """Minutes after midnight as "HH:MM" (24:00 and later wrap past midnight)."""
    return f"{total // 60 % 24:02d}:{total % 60:02d}"


def at(day: date, total: int) -> datetime:
    """The moment `total` minutes after local midnight of `day`."""
    return datetime.combine(day, time(0, 0), tzinfo=local_zone()) + timedelta(minutes=total)


def _as_datetime(moment: datetime | str) -> datetime:
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment


def local_minutes(moment: datetime | str, day: date) -> int:
    """A stored moment as minutes after local midnight of `day`."""
    local = _as_datetime(moment).astimezone(local_zone())
    return (local.date() - day).days * 1440 + local.hour * 60 + local.minute


def spec_of(site: dict) -> SiteSpec:
    return SiteSpec(key=site["id"], path=site["path"], stations=int(site["stations"]),
                    per_minute=float(site["per_minute"]), opens=minutes(site["opens"]), closes=minutes(site["closes"]))


def number_text(value: Any) -> str:
    """1.50 → "1.5", 6.00 → "6" (SQLite and PostgreSQL keep decimals differently)."""
    return f"{Decimal(str(value)).normalize():f}"


def rate_text(site: dict) -> str:
    return number_text(Decimal(site["stations"]) * Decimal(str(site["per_minute"])))


# ---- reading and storing ----------------------------------------------------------------------


async def units_under(path: str) -> list[Unit]:
    """Persons registered per place under `path`: each micro-grid, each grid not split and
    the households sitting directly in a split grid are one unit each."""
    counts = await (Person.select(Person.path, Count(Person.id, alias="n")).where(Person.path.like(f"{path}%"))
                    .group_by(Person.path))
    paths = [row["path"] for row in counts]
    places = {p["path"]: p for p in await Place.select(Place.id, Place.path, Place.kind).where(
        Place.path.is_in(paths or [""]))}
    units = []
    for row in counts:
        place = places.get(row["path"])
        if place is None:
            continue
        group = row["path"].rsplit("/", 2)[0] + "/" if place["kind"] == "microgrid" else row["path"]
        units.append(Unit(key=place["id"], path=row["path"], group=group, persons=row["n"]))
    return sorted(units, key=lambda u: u.path)


async def sites_of(campaign_id: int) -> list[dict]:
    return await SamplingSite.select(*SamplingSite.all_columns(), SamplingSite.place.name).where(
        SamplingSite.campaign == campaign_id).order_by(SamplingSite.day).order_by(SamplingSite.opens).order_by(
        SamplingSite.id)


async def site_of(campaign_id: int, site_id: int) -> dict | None:
    return await SamplingSite.select(*SamplingSite.all_columns(), SamplingSite.place.name).where(
        (SamplingSite.id == site_id) & (SamplingSite.campaign == campaign_id)).first()


async def slots_of(campaign_id: int, site_id: int | None = None) -> list[dict]:
    query = SamplingSlot.select(*SamplingSlot.all_columns(), SamplingSlot.place.name).where(
        SamplingSlot.campaign == campaign_id)
    if site_id is not None:
        query = query.where(SamplingSlot.site == site_id)
    rows = await query.order_by(SamplingSlot.site).order_by(SamplingSlot.starts).order_by(SamplingSlot.path)
    for row in rows:
        row["wait"] = float(row["wait"])
    return rows


async def generate(campaign: dict) -> tuple[Plan, list[SiteSpec], dict[Any, Unit]]:
    """Plan the campaign's slots from its sites and today's register; store them (replacing
    the slots there were) only when every resident fits under BOUND."""
    sites = await sites_of(campaign["id"])
    specs = [spec_of(s) for s in sites]
    units = await units_under(campaign["path"])
    result = plan(specs, units)
    if result.ok:
        day = {s["id"]: s["day"] for s in sites}
        by_key = {u.key: u for u in units}
        made = now()
        async with db.write():
            await SamplingSlot.delete().where(SamplingSlot.campaign == campaign["id"])
            rows = [SamplingSlot(campaign=campaign["id"], site=s.site, place=s.unit, path=by_key[s.unit].path,
                                 starts=at(day[s.site], s.starts), ends=at(day[s.site], s.ends), persons=s.persons,
                                 wait=Decimal(f"{s.wait:.1f}"), adjusted=False, created_at=made)
                    for s in result.slots]
            for start in range(0, len(rows), 1000):
                await SamplingSlot.insert(*rows[start:start + 1000])
    return result, specs, {u.key: u for u in units}


async def recheck(site: dict) -> None:
    """The worst waits of a site's slots again, after a slot moved or the site changed."""
    slots = await SamplingSlot.select(SamplingSlot.id, SamplingSlot.starts, SamplingSlot.ends,
                                      SamplingSlot.persons).where(SamplingSlot.site == site["id"])
    if not slots:
        return
    spec = spec_of(site)
    waits = worst_waits([(local_minutes(s["starts"], site["day"]), local_minutes(s["ends"], site["day"]), s["persons"])
                         for s in slots], spec.rate)
    async with db.write():
        for slot, wait in zip(slots, waits):
            await SamplingSlot.update({SamplingSlot.wait: Decimal(f"{min(wait, 99999):.1f}")}).where(
                SamplingSlot.id == slot["id"])


def read_site(form: Form, places: list[dict]) -> dict[str, Any]:
    """Check a site's fields; `places` are those it may serve (the campaign's and below)."""
    values: dict[str, Any] = {}
    values["name"] = form.required("name", _("Give the site a name residents will recognise."))
    if len(values["name"]) > 100:
        form.errors["name"] = _("Keep the name under 100 characters.")
    values["address"] = form.get("address")
    if len(values["address"]) > 200:
        form.errors["address"] = _("Keep the address under 200 characters.")
    place_id = form.integer("place", 1, 2**31, required=True)
    place = next((p for p in places if p["id"] == place_id), None)
    if place is None and "place" not in form.errors:
        form.errors["place"] = _("Choose a place this round covers.")
    values["place"] = place
    values["stations"] = form.integer("stations", 1, MAX_STATIONS, required=True)
    per_minute = None
    text = form.get("per_minute").replace(",", ".")
    try:
        per_minute = Decimal(text).quantize(Decimal("0.01")) if text else None
    except InvalidOperation:
        pass
    if per_minute is None or not Decimal("0.01") <= per_minute <= MAX_PER_MINUTE:
        form.errors["per_minute"] = _("Enter the persons one station samples a minute, e.g. 1.5 (at most 20).")
        per_minute = None
    values["per_minute"] = per_minute
    try:
        values["day"] = date.fromisoformat(form.get("day"))
    except ValueError:
        values["day"] = None
        form.errors["day"] = _("Enter the day as year-month-day.")
    for name in ("opens", "closes"):
        try:
            values[name] = time.fromisoformat(form.get(name)).replace(second=0, microsecond=0)
        except ValueError:
            values[name] = None
            form.errors[name] = _("Enter a time as hours:minutes, e.g. 07:30.")
    if values["opens"] and values["closes"] and minutes(values["closes"]) - minutes(values["opens"]) < 2 * STEP:
        form.errors["closes"] = _("Close at least 10 minutes after opening, on the same day.")
    return values


async def save_site(campaign: dict, values: dict[str, Any], user_id: int | None, site_id: int | None = None) -> int:
    fields = {"place": values["place"]["id"], "path": values["place"]["path"], "name": values["name"],
              "address": values["address"], "stations": values["stations"], "per_minute": values["per_minute"],
              "day": values["day"], "opens": values["opens"], "closes": values["closes"]}
    async with db.write():
        if site_id is None:
            rows = await SamplingSite.insert(SamplingSite(campaign=campaign["id"], created_by=user_id,
                                                          created_at=now(), **fields)).returning(SamplingSite.id)
            return rows[0]["id"]
        await SamplingSite.update({getattr(SamplingSite, k): v for k, v in fields.items()}).where(
            SamplingSite.id == site_id)
        # Slots of a site moved to another day keep their times of day.
        for slot in await SamplingSlot.select(SamplingSlot.id, SamplingSlot.starts, SamplingSlot.ends).where(
                SamplingSlot.site == site_id):
            old = _as_datetime(slot["starts"]).astimezone(local_zone()).date()
            if old != values["day"]:
                await SamplingSlot.update({
                    SamplingSlot.starts: at(values["day"], local_minutes(slot["starts"], old)),
                    SamplingSlot.ends: at(values["day"], local_minutes(slot["ends"], old)),
                }).where(SamplingSlot.id == slot["id"])
    return site_id


async def remove_site(site_id: int) -> None:
    async with db.write():
        await SamplingSlot.delete().where(SamplingSlot.site == site_id)
        await SamplingSite.delete().where(SamplingSite.id == site_id)


def read_slot(form: Form, site: dict) -> tuple[int | None, int | None]:
    """A slot moved by hand: its new start and end, within the site's hours."""
    found: list[int | None] = []
    for name in ("starts", "ends"):
        try:
            found.append(minutes(time.fromisoformat(form.get(name))))
        except ValueError:
            found.append(None)
            form.errors[name] = _("Enter a time as hours:minutes, e.g. 07:30.")
    starts, ends = found
    opens, closes = minutes(site["opens"]), minutes(site["closes"])
    if starts is not None and ends is not None:
        if ends <= starts:
            form.errors["ends"] = _("End the slot after it starts.")
        elif starts < opens or ends > closes:
            form.errors["starts"] = _("Keep the slot within the site's hours, %(opens)s to %(closes)s.",
                                      opens=clock(opens), closes=clock(closes))
    return starts, ends


async def move_slot(slot: dict, site: dict, starts: int, ends: int) -> None:
    async with db.write():
        await SamplingSlot.update({
            SamplingSlot.starts: at(site["day"], starts), SamplingSlot.ends: at(site["day"], ends),
            SamplingSlot.adjusted: True,
        }).where(SamplingSlot.id == slot["id"])
        await recheck(site)


# ---- the site on the day ---------------------------------------------------------------------


async def catchment(site: dict) -> list[str]:
    """The place paths whose slots are at this site: their households come here."""
    rows = await SamplingSlot.select(SamplingSlot.path).where(SamplingSlot.site == site["id"]).distinct()
    return sorted(row["path"] for row in rows)


async def site_households(paths: list[str], limit: int = SITE_HOUSEHOLDS) -> list[dict]:
    """Households at exactly these paths in walking order, each with its members' names and
    ages only (no phone, no ID number)."""
    if not paths:
        return []
    households = await Household.select(
        Household.id, Household.path, Household.kind, Household.building, Household.unit, Household.floor,
        Household.room, Household.premises_kind, Household.premises_name, Household.address, Household.door_code,
        Household.place.name,
    ).where(Household.path.is_in(paths)).order_by(Household.path).order_by(Household.sort_key).limit(limit)
    members = await Person.select(Person.id, Person.household, Person.name, Person.birth_year).where(
        Person.path.is_in(paths)).order_by(Person.id)
    by_household: dict[int, list[dict]] = defaultdict(list)
    for person in members:
        by_household[person["household"]].append(person)
    for household in households:
        household["members"] = by_household.get(household["id"], [])
    return households


async def sampled_in(campaign_id: int, person_ids: list[int]) -> set[int]:
    from web.campaigns.tables import PersonStatus

    if not person_ids:
        return set()
    rows = await PersonStatus.select(PersonStatus.person).where(
        (PersonStatus.campaign == campaign_id) & PersonStatus.person.is_in(person_ids)
        & (PersonStatus.sampled == True))  # noqa: E712
    return {row["person"] for row in rows}


def normalise_code(text: str) -> str:
    """A typed or scanned door code: "d-abc 123", a URL ending in it, … → "ABC123"."""
    text = text.strip().rstrip("/").rsplit("/", 1)[-1].split("#")[-1]
    if text.lower().startswith("d-"):
        text = text[2:]
    return "".join(ch for ch in text.upper() if ch.isalnum())[:12]


async def household_slots(household: dict) -> list[dict]:
    """The household's slots in the open testing rounds over it, with their sites."""
    from web.campaigns.logic import campaigns_over

    rounds = [c for c in await campaigns_over(household["path"]) if c["kind"] == "testing_round"]
    if not rounds:
        return []
    rows = await SamplingSlot.select(
        SamplingSlot.campaign, SamplingSlot.starts, SamplingSlot.ends, SamplingSlot.site.name,
        SamplingSlot.site.address, SamplingSlot.site.day,
    ).where(SamplingSlot.campaign.is_in([c["id"] for c in rounds]) & (SamplingSlot.path == household["path"]))
    slot_of = {row["campaign"]: row for row in rows}
    return [{"campaign": c, "slot": slot_of.get(c["id"])} for c in rounds]


async def sites_for(principal: Any) -> list[dict]:
    """Sites of open testing rounds where this user may tick residents sampled: what their
    phone should keep for offline use."""
    grants = principal.places_for("sample")
    if not grants:
        return []
    clause: Any = None  # the grants' places, or-ed
    for grant in grants:
        term = SamplingSite.path.like(f"{grant.path}%")
        clause = term if clause is None else clause | term
    sites = await SamplingSite.select(SamplingSite.id, SamplingSite.campaign, SamplingSite.name, SamplingSite.day,
                                      SamplingSite.opens, SamplingSite.closes, SamplingSite.address).where(
        clause).where((SamplingSite.campaign.status == "open") & (SamplingSite.day >= today())).order_by(
        SamplingSite.day).order_by(SamplingSite.id)
    for site in sites:  # its hours, as moments: said "明天（周六）上午8:00–中午12:00" on home
        site["starts"], site["ends"] = at(site["day"], minutes(site["opens"])), at(site["day"], minutes(site["closes"]))
    return sites
