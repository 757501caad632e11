"""Campaigns' card on the home page: open campaigns over the user's places, with the
figures at each place, and the sweep's shortcuts."""

from __future__ import annotations

from dataclasses import dataclass, field

from web.campaigns import logic
from web.campaigns.logic import Coverage
from web.core.auth import Principal
from web.core.domain import Card
from web.places.home import top_grants


@dataclass
class Rounds:
    rounds: list[tuple[dict, dict, Coverage | None]] = field(default_factory=list)
    can_sweep: bool = False
    place_id: int | None = None  # the first place looked after (the door-to-door testing link)


async def cards(principal: Principal) -> list[Card]:
    if principal.is_resident:
        return []
    page = Rounds(can_sweep=principal.can("sweep"))
    grants = top_grants(principal)
    page.place_id = grants[0].place_id if grants else None
    for grant in grants:
        for campaign in await logic.campaigns_over(grant.path):
            # The whole sub-district is counted on its progress page, not on every home load.
            figures = (None if grant.place_kind == "subdistrict"
                       else logic.rollup(await logic.coverage_under(campaign, grant.path), grant.path))
            page.rounds.append((campaign, {"id": grant.place_id, "name": grant.place_name}, figures))
    if not (page.rounds or page.can_sweep):
        return []
    return [Card("campaigns/home.html", page, order=20)]
