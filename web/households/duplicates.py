"""The same person recorded twice, found and settled by a grid head.

Two heads at one door (offline), a register imported over hand-made records: the same
person ends up as two rows. Detection reads the records as they are, not a hook on writes,
so it finds them whatever order the writes synced in. A pair is two persons of one grid with the same ID
number, or the same phone and name, or the same name and year of birth in one household;
minus the pairs a head settled as two different people (`NotDuplicate`). A merge keeps one
record, fills its gaps from the other, moves the other's campaign facts to it and removes
the other, all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from litestar.exceptions import NotFoundException
from piccolo.query.functions.aggregate import Count

from web import db
from web.core.auth import Principal
from web.audit.logic import record
from web.audit.tables import AuditEntry
from web.core.display import when
from web.core.i18n import _
from web.core.domain import person_refs
from web.core.scope import Scope
from web.core.timeutil import now
from web.households.tables import NotDuplicate, Person

GRID_DEPTH = 3  # sub-district / community / grid: pairs are looked for within one grid
MERGE_ACTION = "merge_persons"
MAX_LISTED = 200  # a page a phone can hold; the count says how many there are in all


def reason_label(key: str) -> str:
    return {
        "id_number": _("Same ID number"),
        "phone_name": _("Same name and phone"),
        "household_year": _("Same name and year of birth in one household"),
        "household_name": _("Same name in one household (a year of birth is missing)"),
    }[key]


def grid_path(path: str) -> str:
    return "/" + "/".join(path.strip("/").split("/")[:GRID_DEPTH]) + "/"


def manage_scope(principal: Principal) -> Scope:
    """Where this user may merge: the places of their roles that manage households (a
    party leader browses a grid but does not merge in it)."""
    return Scope(paths=tuple(sorted({g.path for g in principal.places_for("manage_households")})))


# ---- detection ------------------------------------------------------------------------------

# Both persons of a pair are in one grid inside the scope, so one range scan of the path
# index reads every record that can take part, and the pairs are found by grouping them
# here on ID number, phone and name, household and name. This does not hang on a
# planner's statistics: a self-join did, on PostgreSQL after a bulk load (a hash join
# over every person of the sub-district for one grid).
_KEYS = "SELECT id, household, path, name, birth_year, phone, id_number FROM person p WHERE {within}"
_SETTLED = ("SELECT n.person_a, n.person_b FROM not_duplicate n JOIN person p ON p.id = n.person_a"
            " WHERE {within}")


@dataclass(frozen=True)
class Candidate:
    a: int  # the older record (a < b)
    b: int
    reasons: tuple[str, ...]


def _within(paths: tuple[str, ...]) -> tuple[str, list[Any]]:
    return "(" + " OR ".join(["p.path LIKE {}"] * len(paths)) + ")", [f"{p}%" for p in paths]


def name_key(name: str) -> str:
    """Names compare without case and spaces (half- and full-width), as heads type them."""
    return name.lower().replace(" ", "").replace("\u3000", "")


def reasons(a: dict, b: dict) -> tuple[str, ...]:
    """Why two records look like one person (keys of `reason_label`); () when they do not."""
    if a["id"] == b["id"] or grid_path(a["path"]) != grid_path(b["path"]):
        return ()
    found = []
    if a["id_number"] and a["id_number"] == b["id_number"]:
        found.append("id_number")
    same_name = name_key(a["name"]) == name_key(b["name"])
    if same_name and a["phone"] and a["phone"] == b["phone"]:
        found.append("phone_name")
    if same_name and a["household"] == b["household"]:
        if a["birth_year"] is None or b["birth_year"] is None:
            found.append("household_name")
        elif a["birth_year"] == b["birth_year"]:
            found.append("household_year")
    return tuple(found)


async def candidates(scope: Scope) -> list[Candidate]:
    """Pairs of persons in one grid, both inside `scope`, not settled as different people;
    newest first."""
    if not scope.paths:
        return []
    within, args = _within(scope.paths)
    # A grid is a few milliseconds; a community or the sub-district runs off the event loop.
    fetch = db.fetch if all(p.count("/") > GRID_DEPTH for p in scope.paths) else db.fetch_long
    rows = await fetch(_KEYS.format(within=within), *args)
    settled = {(r["person_a"], r["person_b"]) for r in await db.fetch(_SETTLED.format(within=within), *args)}
    groups: dict[tuple[Any, ...], list[dict]] = defaultdict(list)
    for row in rows:
        name = name_key(row["name"])
        if row["id_number"]:
            groups[("id", row["id_number"])].append(row)
        if row["phone"]:
            groups[("phone", row["phone"], name)].append(row)
        groups[("household", row["household"], name)].append(row)
    found: dict[tuple[int, int], tuple[str, ...]] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pair = (min(a["id"], b["id"]), max(a["id"], b["id"]))
                if pair not in found and pair not in settled:
                    why = reasons(a, b)
                    if why:
                        found[pair] = why
    return [Candidate(a, b, why) for (a, b), why in sorted(found.items(), reverse=True)]


async def duplicates_count(scope: Scope) -> int:
    """How many pairs wait to be looked at in `scope` (pass `manage_scope(principal)`)."""
    return len(await candidates(scope))


# ---- settling -----------------------------------------------------------------------------------


class Refused(Exception):
    """The pair cannot be settled any more (merged or settled by somebody else, changed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _gone(person_id: int, scope: Scope) -> Refused | NotFoundException:
    """A person not found: merged away by somebody (say so), or never ours to see (404)."""
    clause = scope.where(AuditEntry)
    entry = await AuditEntry.select(AuditEntry.detail, AuditEntry.at, AuditEntry.user.display_name).where(
        (AuditEntry.action == MERGE_ACTION) & (AuditEntry.subject == f"person:{person_id}")).where(clause).order_by(
        AuditEntry.id, ascending=False).first()  # SQLite may give a removed person's id to a new one
    if entry is None:
        return NotFoundException()
    into = entry["detail"].removeprefix("into person:")
    kept = await Person.select(Person.name).where(Person.id == (int(into) if into.isdigit() else -1)).where(
        scope.where(Person)).first()
    return Refused(_(
        "Already merged: this record was merged into %(name)s by %(who)s at %(when)s. Nothing was changed.",
        name=kept["name"] if kept else "—", who=entry["user.display_name"] or "—", when=when(entry["at"])))


async def _pair_rows(scope: Scope, a_id: int, b_id: int) -> dict[int, dict]:
    if a_id == b_id:
        raise NotFoundException()
    rows = {r["id"]: r for r in await Person.select().where(Person.id.is_in([a_id, b_id])).where(scope.where(Person))}
    for person_id in (a_id, b_id):
        if person_id not in rows:
            raise await _gone(person_id, scope)
    return rows


async def _still_a_pair(a: dict, b: dict) -> None:
    settled = await _settled(a["id"], b["id"])
    if settled is None and reasons(a, b):
        return
    if settled is not None:
        who = await db.fetch("SELECT display_name FROM account WHERE id = {}", settled["settled_by"] or -1)
        raise Refused(_("%(who)s marked these two as different people at %(when)s. Nothing was merged.",
                        who=who[0]["display_name"] if who else "—", when=when(settled["settled_at"])))
    raise Refused(_("These two records no longer look alike (one was changed since): nothing was merged."))


async def _settled(a_id: int, b_id: int) -> dict | None:
    return await NotDuplicate.select().where(
        (NotDuplicate.person_a == min(a_id, b_id)) & (NotDuplicate.person_b == max(a_id, b_id))).first()


def _filled(keep: dict, drop: dict) -> dict[Any, Any]:
    """The kept record's gaps filled from the other: it keeps what it has."""
    values: dict[Any, Any] = {}
    for column in (Person.phone, Person.id_number, Person.sex, Person.birth_year):
        name = column._meta.name
        if keep[name] in (None, "") and drop[name] not in (None, ""):
            values[column] = drop[name]
    tags = [t for t in keep["tags"].split(",") if t]
    more = [t for t in drop["tags"].split(",") if t and t not in tags]
    if more:
        values[Person.tags] = ",".join(tags + more)
    if drop["note"] and drop["note"] not in keep["note"]:
        values[Person.note] = "\n".join(n for n in (keep["note"], drop["note"]) if n)
    return values


async def move_settled(keep: dict, drop_id: int) -> None:
    """"Different from C" said of the dropped record holds for the kept one (`PersonRef.merge`
    of NotDuplicate)."""
    keep_id = keep["id"]
    rows = await NotDuplicate.select().where((NotDuplicate.person_a == drop_id) | (NotDuplicate.person_b == drop_id))
    for row in rows:
        other = row["person_b"] if row["person_a"] == drop_id else row["person_a"]
        a, b = min(keep_id, other), max(keep_id, other)
        taken = await NotDuplicate.exists().where((NotDuplicate.person_a == a) & (NotDuplicate.person_b == b))
        if other == keep_id or taken:
            await NotDuplicate.delete().where(NotDuplicate.id == row["id"])
        else:
            await NotDuplicate.update({NotDuplicate.person_a: a, NotDuplicate.person_b: b}).where(
                NotDuplicate.id == row["id"])


async def merge(principal: Principal, keep_id: int, drop_id: int) -> None:
    """Keep one record of a pair and fold the other into it. Raises NotFoundException
    (out of scope, or no such person) or Refused (no longer a pair); nothing is changed then."""
    from web.sync.tables import Conflict

    scope = manage_scope(principal)
    if keep_id == drop_id:
        raise NotFoundException()
    async with db.write():
        # Lock both rows first: a merge of the same pair running alongside (PostgreSQL)
        # finishes before this one reads, which then finds the pair gone.
        within, args = _within(scope.paths)
        await db.fetch(f"UPDATE person AS p SET version = version + 1 WHERE id IN ({{}}, {{}}) AND {within}",
                       keep_id, drop_id, *args)
        rows = await _pair_rows(scope, keep_id, drop_id)
        keep, drop = rows[keep_id], rows[drop_id]
        await _still_a_pair(keep, drop)
        values = _filled(keep, drop)
        if values:
            await Person.update(values).where(Person.id == keep_id)
        # Every row that points at the person follows them (web/core/domain.py, `person_refs`);
        # rows filed by household follow the kept person's household, or a form reading its
        # household's answers would not find them. One-per-person tables merge themselves.
        for ref in person_refs():
            if ref.merge is not None:
                await ref.merge(keep, drop_id)
                continue
            columns = {c._meta.name: c for c in ref.table._meta.columns}
            moved: dict[Any, Any] = {columns[ref.column]: keep_id}
            if "household" in columns:
                moved[columns["household"]] = keep["household"]
            if "path" in columns:
                moved[columns["path"]] = keep["path"]
            await ref.table.update(moved).where(columns[ref.column] == drop_id)
        await Conflict.update({Conflict.subject: f"person:{keep_id}", Conflict.path: keep["path"]}).where(
            (Conflict.subject == f"person:{drop_id}") & Conflict.settled_at.is_null())
        await Person.delete().where(Person.id == drop_id)
        await record(principal, MERGE_ACTION, f"person:{drop_id}", drop["path"], f"into person:{keep_id}")


async def settle_different(principal: Principal, a_id: int, b_id: int) -> None:
    """Two records of two people: the pair is not offered again (repeating it is harmless)."""
    scope = manage_scope(principal)
    a_id, b_id = min(a_id, b_id), max(a_id, b_id)
    async with db.write():
        rows = await _pair_rows(scope, a_id, b_id)
        path = grid_path(rows[a_id]["path"])
        if path != grid_path(rows[b_id]["path"]):
            raise Refused(_("These two records are in different grids: they are not offered as a pair."))
        if await _settled(a_id, b_id) is None:
            await NotDuplicate.insert(NotDuplicate(person_a=a_id, person_b=b_id, path=path,
                                                   settled_by=principal.user_id, settled_at=now()))


# ---- the pairs a page lists ---------------------------------------------------------------------


@dataclass
class Pair:
    a: dict
    b: dict
    reasons: list[str]


async def pairs_for(scope: Scope, limit: int = MAX_LISTED) -> tuple[list[Pair], int]:
    """The pairs to show (both records with their household and campaign facts), and how
    many there are in all."""
    found = await candidates(scope)
    shown = found[:limit]
    ids = sorted({i for c in shown for i in (c.a, c.b)})
    if not ids:
        return [], len(found)
    h = Person.household
    rows = await Person.select(*Person.all_columns(), h.kind, h.building, h.unit, h.room, h.address, h.premises_name,
                               h.door_code).where(Person.id.is_in(ids))
    counts: dict[int, int] = defaultdict(int)
    for ref in person_refs():
        if ref.facts:
            column = ref.table._meta.get_column_by_name(ref.column)
            for r in await ref.table.select(column.as_alias("person"), Count(ref.table._meta.primary_key, alias="n")).where(
                    column.is_in(ids)).group_by(column):
                counts[r["person"]] += r["n"]
    persons = {}
    for row in rows:
        row["home"] = {key.split(".", 1)[1]: row[key] for key in list(row) if key.startswith("household.")}
        row["answers"] = counts.get(row["id"], 0)
        persons[row["id"]] = row
    pairs = [Pair(persons[c.a], persons[c.b], [reason_label(r) for r in c.reasons])
             for c in shown if c.a in persons and c.b in persons]
    return pairs, len(found)
