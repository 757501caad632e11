"""The place tree: paths, counts rolled up from households, creating places."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from web import db
from web.core.domain import path_copies
from web.core.scope import Grant, Scope
from web.places.tables import CHILD_KIND, Place


@dataclass(frozen=True)
class Tally:
    households: int = 0
    persons: int = 0


def child_path(parent_path: str, place_id: int) -> str:
    return f"{parent_path or '/'}{place_id}/"


def under(column: str, prefix: str) -> tuple[str, str, str]:
    """`column` under the place with path `prefix`, as a range for plain SQL:
    (" col >= {} AND col < {}", low, high). Paths are digits and slashes, compared as
    bytes, and "0" follows "/": so [prefix, prefix minus its slash + "0") is exactly the
    paths that start with prefix. A range, unlike LIKE, stays an index range in a plan
    prepared before the value is known (PostgreSQL's generic plans)."""
    return f"{column} >= {{}} AND {column} < {{}}", prefix, prefix[:-1] + "0"


async def tallies_under(prefix: str) -> dict[str, Tally]:
    """Households and persons per place path under `prefix`: two scans of the path index."""
    # A grid's figures are quick; a community's or the sub-district's scan tens of thousands of rows.
    fetch = db.fetch if prefix.count("/") > 3 else db.fetch_long
    where, low, high = under("path", prefix)
    households = await fetch(f"SELECT path, count(*) AS n FROM household WHERE {where} GROUP BY path", low, high)
    persons = await fetch(f"SELECT path, count(*) AS n FROM person WHERE {where} GROUP BY path", low, high)
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in households:
        result[row["path"]][0] = row["n"]
    for row in persons:
        result[row["path"]][1] = row["n"]
    return {path: Tally(h, p) for path, (h, p) in result.items()}


def tallies_of(households: list[dict]) -> dict[str, Tally]:
    """The same figures as tallies_under(), from a household list already fetched."""
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for household in households:
        result[household["path"]][0] += 1
        result[household["path"]][1] += household["persons"]
    return {path: Tally(h, p) for path, (h, p) in result.items()}


def rollup(tallies: dict[str, Tally], prefix: str) -> Tally:
    households = persons = 0
    for path, tally in tallies.items():
        if path.startswith(prefix):
            households += tally.households
            persons += tally.persons
    return Tally(households, persons)


async def children(place_id: int) -> list[dict]:
    return await Place.select().where(Place.parent == place_id).order_by(Place.path)


async def ancestors(path: str) -> list[dict]:
    """The places above (and including) the one with `path`, top first."""
    ids = [int(part) for part in path.strip("/").split("/") if part]
    if not ids:
        return []
    rows = await Place.select(Place.id, Place.name, Place.kind, Place.path).where(Place.id.is_in(ids))
    return sorted(rows, key=lambda r: len(r["path"]))


async def create_place(name: str, kind: str, parent: dict | None, area: str = "urban") -> int:
    async with db.write():
        rows = await Place.insert(
            Place(name=name, kind=kind, parent=parent["id"] if parent else None, path="", area=area)
        ).returning(Place.id)
        place_id = rows[0]["id"]
        path = child_path(parent["path"] if parent else "/", place_id)
        await Place.update({Place.path: path}).where(Place.id == place_id)
    return place_id


def can_hold(parent_kind: str, kind: str) -> bool:
    return CHILD_KIND.get(parent_kind) == kind


async def visible_places(scope: Scope, kinds: tuple[str, ...]) -> list[dict]:
    return await Place.select().where(scope.where(Place)).where(Place.kind.is_in(list(kinds))).order_by(Place.path)


async def split_by_building(grid: dict) -> tuple[int, int]:
    """Wartime micro-grids: the households sitting directly in `grid` move into one
    micro-grid per building (or villager group), made where missing. Returns (micro-grids
    made, households moved). Persons move with their household."""
    from web.households.tables import Household

    loose = await Household.select(Household.id, Household.building).where(
        (Household.place == grid["id"]) & (Household.building != ""))
    if not loose:
        return 0, 0
    existing = {row["name"]: row for row in await Place.select().where(Place.parent == grid["id"])}
    made = 0
    async with db.write():
        targets: dict[str, dict] = {}
        for building in sorted({row["building"] for row in loose}):
            label = f"{building}栋" if building.isdigit() else building
            name = f"{grid['name']}·{label}"
            if name not in existing:
                place_id = await create_place(name, "microgrid", grid, area=grid["area"])
                made_place = await Place.select().where(Place.id == place_id).first()
                assert made_place is not None  # made just now, in this transaction
                existing[name] = made_place
                made += 1
            targets[building] = existing[name]
        for household in loose:
            target = targets[household["building"]]
            await Household.update({Household.place: target["id"], Household.path: target["path"]}).where(
                Household.id == household["id"])
            # Every table that copies a household's path (persons, campaign facts, …) follows it.
            for copy in path_copies():
                if copy.household is not None:
                    meta = copy.table._meta
                    column, path = meta.get_column_by_name(copy.household), meta.get_column_by_name("path")
                    await copy.table.update({path: target["path"]}).where(column == household["id"])
    return made, len(loose)


async def prepared_places(grant: Grant) -> list[int]:
    """The places a phone keeps for a role held at a place: a grid's every micro-grid (and
    the grid), or one level down from a community or the sub-district (the next to open)."""
    if grant.place_kind in ("grid", "microgrid"):
        under = Place.path.like(f"{grant.path}%")
    else:
        under = Place.parent == grant.place_id
    return [row["id"] for row in await Place.select(Place.id).where(under).order_by(Place.id)]
