"""The one scope mechanism (DESIGN §3).

A role held at a place covers that place and everything under it; a volunteer sees
only what their assignments grant; a resident sees only their own household. Every
query of scoped data goes through `Scope.where()`, and every single-object lookup
through `get_or_404()`, so out-of-scope data is a 404 wherever it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.exceptions import NotFoundException
from piccolo.columns.combination import Or, WhereRaw
from piccolo.table import Table

# What each role may do, at the places it covers.
ABILITIES: dict[str, frozenset[str]] = {
    "browse": frozenset({"commander", "secretary", "grid_head", "party_leader", "building_head"}),
    # Phone and ID numbers unmasked: those who call and verify residents.
    "reveal": frozenset({"commander", "secretary", "grid_head", "building_head"}),
    "manage_accounts": frozenset({"commander", "secretary"}),
    "manage_places": frozenset({"commander", "secretary", "grid_head"}),
    "manage_households": frozenset({"commander", "secretary", "grid_head", "building_head"}),
    "import_register": frozenset({"commander", "secretary", "grid_head"}),
    "issue_links": frozenset({"commander", "secretary", "grid_head", "building_head"}),
    "view_audit": frozenset({"commander", "secretary"}),
    # Campaigns: started and closed by the sub-district or a community; swept by the three heads.
    "run_campaigns": frozenset({"commander", "secretary"}),
    "sweep": frozenset({"commander", "secretary", "grid_head", "party_leader", "building_head"}),
    # Ticking residents sampled at a sampling site: volunteers too, at the sites of their place.
    "sample": frozenset({"commander", "secretary", "grid_head", "party_leader", "building_head", "volunteer"}),
}

# Staff roles from the top down; a user's "main" role is the highest they hold.
ROLE_ORDER = ("commander", "secretary", "grid_head", "party_leader", "building_head", "volunteer")


@dataclass(frozen=True)
class Grant:
    role: str
    place_id: int
    path: str
    place_name: str
    place_kind: str


@dataclass(frozen=True)
class Scope:
    paths: tuple[str, ...] = ()  # subtrees covered by staff roles
    household_ids: frozenset[int] = field(default_factory=frozenset)  # explicit grants

    def covers_path(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.paths)

    def where(self, table: type[Table]) -> Any:
        """A Piccolo where-clause limiting `table` to this scope."""
        clauses: list[Any] = [table.path.like(f"{prefix}%") for prefix in self.paths]  # type: ignore[attr-defined]
        if self.household_ids:
            column = _household_column(table)
            if column is not None:
                clauses.append(column.is_in(sorted(self.household_ids)))
        if not clauses:
            return WhereRaw("1 = 0")
        combined = clauses[0]
        for clause in clauses[1:]:
            combined = Or(combined, clause)
        return combined


def _household_column(table: type[Table]) -> Any:
    from web.households.tables import Household, Person

    if table is Household:
        return Household.id
    if table is Person:
        return Person.household
    return None


async def get_or_404(table: type[Table], pk: int, scope: Scope, *columns: Any) -> dict:
    """One row of `table` by id, or a 404 when it does not exist or is out of scope."""
    row = await table.select(*columns).where(table._meta.primary_key == pk).where(scope.where(table)).first()
    if row is None:
        raise NotFoundException()
    return row
