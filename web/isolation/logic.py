"""Home isolation and the daily door-to-door testing of isolated households.

An `Isolation` covers the days `starts_on`..`ends_on` (both included: the last day is
still tested). A `DoorSample` is an append-only fact, one row per person per tick: a
person is "done" on a day when any sample of that day exists, so two heads ticking the
same person, or a replayed tick, still count one person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from web import db
from web.accounts.auth import Principal
from web.audit.logic import record
from web.isolation.tables import DoorSample, Isolation
from web.core.forms import Form
from web.core.i18n import _
from web.core.scope import Scope
from web.core.timeutil import local_zone, now
from web.households.logic import LIST_COLUMNS
from web.households.tables import Household, Person

MAX_DAYS = 28  # the longest isolation one entry may set (ends_on - starts_on)
START_WINDOW = 14  # how far before or after today an isolation may start
LATE_DAYS = 2  # a sample may be recorded this many days after its day
MAX_LISTED = 1000  # households shown on one day's list (the figures count all)
NOTE_LIMIT = 200
PERSON_COLUMNS = (Person.id, Person.household, Person.name, Person.relation, Person.sex, Person.birth_year)


def local_day(moment: datetime) -> date:
    """The community's calendar day of a moment (the device time of a write)."""
    return moment.astimezone(local_zone()).date()


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


# ---- isolations ---------------------------------------------------------------------------


async def current_isolation(household_id: int, on: date) -> dict | None:
    """The household's isolation that is running on `on` or starts later (None: none).
    An isolation ended before it began (ended early on its first day) is void."""
    rows = await Isolation.select().where(
        (Isolation.household == household_id) & (Isolation.ends_on >= on)
    ).order_by(Isolation.starts_on, ascending=False).order_by(Isolation.id, ascending=False)
    return next((row for row in rows if row["starts_on"] <= row["ends_on"]), None)


async def isolations_of(household_id: int, limit: int = 10) -> list[dict]:
    """Past and present isolations, newest first (void ones left out)."""
    rows = await Isolation.select().where(Isolation.household == household_id).order_by(
        Isolation.starts_on, ascending=False).order_by(Isolation.id, ascending=False).limit(limit)
    return [row for row in rows if row["starts_on"] <= row["ends_on"]]


def read_isolation(form: Form, reference: date) -> tuple[date, date, str] | None:
    """First day, last day and note from the form, or None with the reasons in
    `form.errors`. `reference` is the day the user acted on (device time)."""
    start_text = form.get("starts_on")
    starts_on = parse_day(start_text) if start_text else reference
    if starts_on is None:
        form.errors["starts_on"] = _("Enter a date as YYYY-MM-DD.")
    elif abs((starts_on - reference).days) > START_WINDOW:
        form.errors["starts_on"] = _("The first day must be within %(n)s days of today.", n=START_WINDOW)
    end_text = form.get("ends_on")
    ends_on = parse_day(end_text) if end_text else None
    if not end_text:
        form.errors["ends_on"] = _("Enter the last day of isolation.")
    elif ends_on is None:
        form.errors["ends_on"] = _("Enter a date as YYYY-MM-DD.")
    elif starts_on is not None and "starts_on" not in form.errors:
        if ends_on <= starts_on:
            form.errors["ends_on"] = _("The last day must come after the first day.")
        elif (ends_on - starts_on).days > MAX_DAYS:
            form.errors["ends_on"] = _("Isolation can last at most %(n)s days from its first day.", n=MAX_DAYS)
        elif ends_on < reference:
            form.errors["ends_on"] = _("That last day has passed already.")
    note = form.get("note")
    if len(note) > NOTE_LIMIT:
        form.errors["note"] = _("Keep the note under %(n)s characters.", n=NOTE_LIMIT)
    if not form.ok or starts_on is None or ends_on is None:
        return None
    return starts_on, ends_on, note


async def isolate(principal: Principal, household: dict, starts_on: date, ends_on: date, note: str,
                  reference: date, occurred: datetime) -> None:
    """Put the household under isolation, or change the dates of the one it is under
    (extended, shortened): one household has one isolation at a time."""
    async with db.write():
        running = await current_isolation(household["id"], reference)
        if running is None:
            await Isolation.insert(Isolation(household=household["id"], path=household["path"], starts_on=starts_on,
                                             ends_on=ends_on, note=note, by_user=principal.user_id,
                                             created_at=occurred))
        else:
            await Isolation.update({Isolation.starts_on: starts_on, Isolation.ends_on: ends_on, Isolation.note: note,
                                    Isolation.by_user: principal.user_id}).where(Isolation.id == running["id"])
        # A restriction on a household: kept in the audit log, in the same transaction.
        await record(principal, "isolate", f"household:{household['id']}", household["path"],
                     f"{starts_on.isoformat()}..{ends_on.isoformat()} {note}".strip())


async def end_isolation(principal: Principal, household: dict, reference: date) -> bool:
    """End the household's isolation early: its last day becomes the day before
    `reference`, so it leaves that day's list at once (samples already taken stay).
    False when there was nothing to end (a repeat, or another head ended it)."""
    last_day = reference - timedelta(days=1)
    async with db.write():
        running = await current_isolation(household["id"], reference)
        if running is None:
            return False
        await Isolation.update({Isolation.ends_on: last_day}).where(Isolation.id == running["id"])
        await record(principal, "end_isolation", f"household:{household['id']}", household["path"],
                     f"{running['starts_on'].isoformat()}..{last_day.isoformat()}")
    return True


# ---- door samples -------------------------------------------------------------------------


def read_sample_day(form: Form, reference: date) -> date | None:
    """The day a tick counts for. A list opened as "today" sends `today=1`: the day is
    then the device's day at the tap, so a page saved yesterday and used offline this
    morning counts for this morning (and a tap at 23:50 sent after midnight for the
    evening). Otherwise the list's own day, at most LATE_DAYS back, never ahead."""
    if form.get("today") == "1":
        return reference
    day = parse_day(form.get("day"))
    if day is None:
        form.errors["day"] = _("Enter a date as YYYY-MM-DD.")
    elif day > reference:
        form.errors["day"] = _("That day has not come yet: samples are recorded on the day they are taken.")
    elif (reference - day).days > LATE_DAYS:
        form.errors["day"] = _("Samples can be recorded at most %(n)s days late.", n=LATE_DAYS)
    return day if "day" not in form.errors else None


async def record_samples(principal: Principal, household: dict, person_ids: list[int], day: date,
                         occurred: datetime) -> None:
    received = now()
    async with db.write():
        await DoorSample.insert(*[
            DoorSample(person=pid, household=household["id"], path=household["path"], day=day,
                       by_user=principal.user_id, occurred_at=occurred, received_at=received)
            for pid in dict.fromkeys(person_ids)
        ])


# ---- the day's list ------------------------------------------------------------------------


@dataclass
class DayList:
    households: list[dict] = field(default_factory=list)  # in walking order, each with "members"
    persons: int = 0
    done: int = 0
    households_total: int = 0
    households_done: int = 0
    cut: bool = False  # more households than MAX_LISTED


def _entry(household: dict, members: list[dict], done: set[int], isolation: dict | None) -> dict:
    for member in members:
        member["done"] = member["id"] in done
    household["members"] = members
    household["done"] = sum(1 for m in members if m["done"])
    household["all_done"] = bool(members) and household["done"] == len(members)
    household["isolation"] = isolation
    return household


async def _members_and_done(household_ids: list[int], day: date) -> tuple[dict[int, list[dict]], set[int]]:
    members: dict[int, list[dict]] = {hid: [] for hid in household_ids}
    if not household_ids:
        return members, set()
    for person in await Person.select(*PERSON_COLUMNS).where(Person.household.is_in(household_ids)).order_by(Person.id):
        members[person["household"]].append(person)
    sampled = await DoorSample.select(DoorSample.person).where(
        DoorSample.household.is_in(household_ids) & (DoorSample.day == day)).distinct()
    return members, {row["person"] for row in sampled}


async def day_list(prefix: str, scope: Scope, day: date) -> DayList:
    """The households under `prefix` isolated on `day`, each member done or not."""
    isolations = await Isolation.select(Isolation.id, Isolation.household, Isolation.starts_on, Isolation.ends_on,
                                        Isolation.note).where(
        Isolation.path.like(f"{prefix}%") & (Isolation.starts_on <= day) & (Isolation.ends_on >= day)
    ).where(scope.where(Isolation))
    by_household: dict[int, dict] = {}
    for row in isolations:  # one per household, the longest if two overlap
        kept = by_household.get(row["household"])
        if kept is None or row["ends_on"] > kept["ends_on"]:
            by_household[row["household"]] = row
    ids = list(by_household)
    if not ids:
        return DayList()
    households = await Household.select(*LIST_COLUMNS).where(Household.id.is_in(ids)).where(
        scope.where(Household)).order_by(Household.path).order_by(Household.sort_key)
    members, done = await _members_and_done([h["id"] for h in households], day)
    result = DayList(households_total=len(households))
    for household in households:
        entry = _entry(household, members[household["id"]], done, by_household[household["id"]])
        result.persons += len(entry["members"])
        result.done += entry["done"]
        result.households_done += entry["all_done"]
        if len(result.households) < MAX_LISTED:
            result.households.append(entry)
    result.cut = len(households) > MAX_LISTED
    return result


async def household_entry(household: dict, day: date) -> dict:
    """One household as the day's list shows it, whether or not it is isolated that day."""
    members, done = await _members_and_done([household["id"]], day)
    isolation = await Isolation.select().where(
        (Isolation.household == household["id"]) & (Isolation.starts_on <= day) & (Isolation.ends_on >= day)
    ).order_by(Isolation.ends_on, ascending=False).first()
    return _entry(dict(household), members[household["id"]], done, isolation)


async def offline_urls(principal: Principal, day: date) -> list[str]:
    """For the offline manifest: the day's list of each grid and micro-grid this user
    sweeps (the bare address: it is today's list whenever it is opened, and its links to
    today use it too), and the isolation page of each household isolated there that day."""
    urls: list[str] = []
    for grant in principal.places_for("sweep"):
        if grant.place_kind not in ("grid", "microgrid"):
            continue
        urls.append(f"/places/{grant.place_id}/isolation")
        rows = await Isolation.select(Isolation.household).where(
            Isolation.path.like(f"{grant.path}%") & (Isolation.starts_on <= day) & (Isolation.ends_on >= day)
        ).order_by(Isolation.household)
        urls += [f"/households/{row['household']}/isolation" for row in rows]
    return list(dict.fromkeys(urls))
