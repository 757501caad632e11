"""Places' card on the home page: each place a user looks after, with its figures and the
places one level down."""

from __future__ import annotations

from dataclasses import dataclass

from web.core.auth import Principal
from web.core.domain import Card
from web.core.scope import Grant
from web.places import logic
from web.places.tables import Place


@dataclass
class Area:
    grant: Grant
    tally: logic.Tally
    children: list[dict]


def top_grants(principal: Principal, ability: str = "browse") -> list[Grant]:
    """The user's grants for `ability`, less those a grant further up already covers."""
    seen: list[str] = []
    grants = []
    for grant in principal.places_for(ability):
        if not any(grant.path.startswith(p) for p in seen):
            seen.append(grant.path)
            grants.append(grant)
    return grants


async def cards(principal: Principal) -> list[Card]:
    if principal.is_resident:
        return []
    found = []
    for grant in top_grants(principal):
        tallies = await logic.tallies_under(grant.path)
        children = await Place.select().where(Place.parent == grant.place_id).order_by(Place.id)
        for child in children:
            child["tally"] = logic.rollup(tallies, child["path"])
        found.append(Card("places/home.html", Area(grant, logic.rollup(tallies, grant.path), children), order=80))
    return found
