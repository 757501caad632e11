"""Households' card on the home page: register gaps a grid head closes at the door, and
possible duplicate persons to merge or tell apart."""

from __future__ import annotations

from dataclasses import dataclass

from web.core.auth import Principal
from web.core.domain import Card
from web.households import duplicates, logic
from web.places.home import top_grants


@dataclass
class Gaps:
    empty_households: int = 0
    persons_without_phone: int = 0
    place_id: int | None = None  # where the to-do links lead (the first grid looked after)
    duplicates: int = 0


async def cards(principal: Principal) -> list[Card]:
    if principal.is_resident:
        return []
    gaps = Gaps()
    for grant in top_grants(principal):
        if grant.place_kind in ("grid", "microgrid"):
            empty, no_phone = await logic.register_gaps(grant.path)
            gaps.empty_households += empty
            gaps.persons_without_phone += no_phone
            if gaps.place_id is None and (empty or no_phone):
                gaps.place_id = grant.place_id
    # Pairs are looked for within a grid: counted for those who look after grids, where it is quick.
    if any(g.place_kind in ("grid", "microgrid") for g in principal.places_for("manage_households")):
        gaps.duplicates = await duplicates.duplicates_count(duplicates.manage_scope(principal))
    if not (gaps.empty_households or gaps.persons_without_phone or gaps.duplicates):
        return []
    return [Card("households/home.html", gaps, order=40)]
