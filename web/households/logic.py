"""Households and persons: lists in walking order, search, reveal, sort keys, field checks."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from web import db
from web.core.forms import Form, valid_id_number, valid_phone
from web.core.i18n import _
from web.core.scope import Scope
from web.core.timeutil import now
from web.households.tables import HOUSEHOLD_KINDS, PERSON_TAGS, PREMISES_KINDS, RELATIONS, Household, Person

# Unambiguous on a door plate and when typed: no 0/O, 1/I/L.
DOOR_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

LIST_COLUMNS = (
    Household.id, Household.path, Household.kind, Household.building, Household.unit, Household.floor, Household.room,
    Household.premises_kind, Household.premises_name, Household.address, Household.door_code,
)


def new_door_code() -> str:
    return "".join(secrets.choice(DOOR_ALPHABET) for _ in range(8))


def _pad(value: str | int | None, width: int) -> str:
    text = "" if value is None else str(value)
    return text.zfill(width) if text.isdigit() else text.rjust(width, " ")


def sort_key(building: str, unit: str, floor: int | None, room: str) -> str:
    """Walking order: building, unit, floor, room; numbers compare as numbers."""
    return "|".join((_pad(building, 6), _pad(unit, 4), _pad(floor, 3), _pad(room, 6)))


NEEDS = ("unregistered", "nophone")  # what a grid head still has to check at the door


async def households_under(prefix: str, scope: Scope, search: str = "", need: str = "") -> list[dict]:
    """The households under a place in walking order, each with its head count; `need`
    keeps only those with nobody registered, or with someone lacking a phone number."""
    query = Household.select(*LIST_COLUMNS).where(Household.path.like(f"{prefix}%")).where(scope.where(Household))
    if search:
        like = f"%{search}%"
        query = query.where(
            Household.building.like(like) | Household.room.like(like) | Household.address.like(like)
            | Household.premises_name.like(like) | (Household.door_code == search.upper())
        )
    households = await query.order_by(Household.sort_key)
    counts = await (
        Person.select(Person.household, Count(Person.id, alias="n"))
        .where(Person.path.like(f"{prefix}%"))
        .group_by(Person.household)
    )
    per_household = {row["household"]: row["n"] for row in counts}
    for household in households:
        household["persons"] = per_household.get(household["id"], 0)
    if need == "unregistered":
        households = [h for h in households if h["persons"] == 0]
    elif need == "nophone":
        lacking = await Person.select(Person.household).where(Person.path.like(f"{prefix}%") & (Person.phone == "")).distinct()
        ids = {row["household"] for row in lacking}
        households = [h for h in households if h["id"] in ids]
    return households


async def members(household_id: int) -> list[dict]:
    return await Person.select().where(Person.household == household_id).order_by(Person.id)


async def search(scope: Scope, text: str, limit: int = 50, whole_phone_only: bool = False) -> tuple[list[dict], list[dict]]:
    """Persons by name, phone or ID number, and households by address, within scope.
    `whole_phone_only`: for roles that see phones masked, a fragment would let them
    recover the hidden digits by probing; only a whole number matches."""
    text = text.strip()
    if not text:
        return [], []
    like = f"%{text}%"
    phone_match = (Person.phone == text) if whole_phone_only else Person.phone.like(like)
    persons = await (
        Person.select(Person.id, Person.name, Person.sex, Person.birth_year, Person.phone, Person.household,
                      Person.household.building, Person.household.unit, Person.household.room,
                      Person.household.address, Person.household.kind, Person.household.premises_name)
        .where(scope.where(Person))
        .where(Person.name.like(like) | phone_match | (Person.id_number == text.upper()))
        .order_by(Person.name)
        .limit(limit)
    )
    households = await (
        Household.select(*LIST_COLUMNS)
        .where(scope.where(Household))
        .where(Household.address.like(like) | Household.premises_name.like(like)
               | Household.building.like(like) | Household.room.like(like)
               | (Household.door_code == text.upper()))
        .order_by(Household.sort_key)
        .limit(limit)
    )
    return persons, households


PERSON_COLUMNS = ("household", "path", "name", "sex", "birth_year", "phone", "id_number", "relation", "tags", "note",
                  "version", "created_at")
_INSERT_PERSON = (f"INSERT INTO person ({', '.join(PERSON_COLUMNS)})"
                  f" VALUES ({', '.join('{}' for _ in PERSON_COLUMNS)}) RETURNING id")


async def add_person(household_id: int, path: str, created_at: datetime, person: dict[str, Any]) -> int:
    """One new person (the fields `read_person` checked) in a household, inside the
    caller's write: one plain INSERT, every column given as `Person(...)` would give it
    (a timestamp is stored by the same adapter either way). Replayed offline queues
    arrive as bursts of these. Returns the new person's id."""
    values = {"household": household_id, "path": path, "note": "", "version": 1, "created_at": created_at, **person}
    rows = await db.fetch(_INSERT_PERSON, *(values[column] for column in PERSON_COLUMNS))
    return rows[0]["id"]


# Field checks shared by the forms and the register import: one set of rules.


def read_person(form: Form) -> dict[str, Any]:
    """Check a person's fields; errors land on the form beside each field."""
    name = form.required("name", _("Enter the person's name."))
    if len(name) > 50:
        form.errors["name"] = _("Keep the name under 50 characters.")
    sex = form.choice("sex", ("M", "F"), required=False)
    birth_year = form.integer("birth_year", 1900, now().year)
    phone = form.get("phone").replace(" ", "")
    if phone and not valid_phone(phone):
        form.errors["phone"] = _("Enter a mobile number of 11 digits, or a landline with area code.")
    id_number = form.get("id_number").replace(" ", "").upper()
    if id_number and not valid_id_number(id_number):
        form.errors["id_number"] = _("This ID number is not valid: check the 18 characters.")
    relation = form.choice("relation", RELATIONS)
    tags = [t for t in form.get("tags").split(",") if t] if "tags" in form.values else []
    return {"name": name, "sex": sex, "birth_year": birth_year, "phone": phone, "id_number": id_number,
            "relation": relation, "tags": ",".join(t for t in tags if t in PERSON_TAGS)}


HOUSEHOLD_TEXT_LIMITS = (("building", 40), ("unit", 20), ("room", 20), ("premises_name", 100), ("address", 200))


def read_household(form: Form) -> dict[str, Any]:
    """Check a household's address fields: a dwelling needs its building (or villager
    group), a premises its name."""
    kind = form.choice("kind", HOUSEHOLD_KINDS)
    fields: dict[str, Any] = {}
    for name, limit in HOUSEHOLD_TEXT_LIMITS:
        fields[name] = form.get(name)
        if len(fields[name]) > limit:
            form.errors[name] = _("Keep this under %(n)s characters.", n=limit)
    fields["floor"] = form.integer("floor", -5, 200)
    premises_kind = form.choice("premises_kind", PREMISES_KINDS, required=False)
    if kind == "premises":
        premises_kind = premises_kind or "other"
        if not fields["premises_name"]:
            form.errors.setdefault("premises_name", _("Give the premises a name."))
    else:
        premises_kind = ""
        if not fields["building"]:
            form.errors.setdefault("building", _("Enter the building or villager group."))
    return {"kind": kind, "premises_kind": premises_kind, **fields}


async def register_gaps(prefix: str) -> tuple[int, int]:
    """Households under `prefix` with nobody registered, and persons there without a phone."""
    rows = await db.fetch(
        "SELECT (SELECT count(*) FROM household h WHERE h.path LIKE {}"
        "   AND NOT EXISTS (SELECT 1 FROM person p WHERE p.household = h.id)) AS empty,"
        " (SELECT count(*) FROM person WHERE path LIKE {} AND phone = '') AS no_phone",
        f"{prefix}%",
        f"{prefix}%",
    )
    return rows[0]["empty"], rows[0]["no_phone"]


# What one phone prepares at most: a grid is ~300 households; a community is not prepared whole.
MAX_PREPARED_HOUSEHOLDS = 2000


async def prepared_households(path: str) -> list[int]:
    """The households of the grid or micro-grid at `path` a phone keeps, in walking order."""
    rows = await Household.select(Household.id).where(Household.path.like(f"{path}%")).order_by(
        Household.sort_key).limit(MAX_PREPARED_HOUSEHOLDS)
    return [row["id"] for row in rows]
