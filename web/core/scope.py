"""The one scope mechanism (docs/architecture.md, "scope").

A role held at a place covers that place and everything under it (what each role may
do there is the abilities the domains declare, web/core/domain.py); a volunteer sees
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

    def covers(self, path: str, household_id: int | None = None) -> bool:
        """`where()` for one row already read: its path, and its household if the table
        has one (Household's own id, Person's household)."""
        return self.covers_path(path) or (household_id is not None and household_id in self.household_ids)

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
    """The column by which a household granted outright (a resident's own, a volunteer's
    stop) reaches rows of `table`: declared by its domain (`PathCopy.grants_household`)."""
    from web.core.domain import path_copies

    for copy in path_copies():
        if copy.table is table and copy.grants_household:
            return table._meta.primary_key if copy.household is None else table._meta.get_column_by_name(copy.household)
    return None


_LOOKUPS: dict[tuple[type[Table], tuple[str, ...]], tuple[str, tuple[str, ...], str | None]] = {}


def _lookup(table: type[Table], columns: tuple[Any, ...]) -> tuple[str, tuple[str, ...], str | None]:
    """The plain SQL of `get_or_404` for `table` and `columns`, built once: the columns
    asked for (all when none), named as Piccolo names them, plus what the scope check
    reads (path, household)."""
    key = (table, tuple(column._meta.name for column in columns))
    known = _LOOKUPS.get(key)
    if known is None:
        chosen = columns or tuple(table._meta.columns)
        names = tuple(column._meta.name for column in chosen)
        household = _household_column(table)
        household_name = household._meta.name if household is not None else None
        extra = [table._meta.get_column_by_name(name) for name in ("path", household_name)
                 if name and name not in names]
        listed = ", ".join(f'"{column._meta.db_column_name}" AS "{column._meta.name}"' for column in (*chosen, *extra))
        primary_key = table._meta.primary_key._meta.db_column_name
        sql = f'SELECT {listed} FROM "{table._meta.tablename}" WHERE "{primary_key}" = {{}}'
        known = _LOOKUPS[key] = (sql, names, household_name)
    return known


async def get_or_404(table: type[Table], pk: int, scope: Scope, *columns: Any) -> dict:
    """One row of `table` by id (the columns asked for, all when none), or a 404 when it
    does not exist or is out of scope.

    One plain query by primary key, then the scope's rule checked on the row: exactly
    `Scope.where()` (a path under one of the scope's subtrees, or a household granted),
    at a fraction of the cost of building the filtered query (replayed writes come in
    bursts, and each begins here)."""
    from web import db

    sql, names, household_name = _lookup(table, columns)
    rows = await db.fetch(sql, pk)
    if not rows:
        raise NotFoundException()
    row = rows[0]
    if not scope.covers(row["path"], row[household_name] if household_name else None):
        raise NotFoundException()
    return row if len(row) == len(names) else {name: row[name] for name in names}
