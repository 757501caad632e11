"""Campaigns' card on the home page: open campaigns over the user's places, with the
figures at each place, and the sweep's shortcuts."""

from __future__ import annotations

from dataclasses import dataclass, field

from web.campaigns import logic
from web.campaigns.logic import Coverage
from web.core.auth import Principal
from web.core.domain import Card
from web.places.home import top_grants
from web.places.tables import Place


@dataclass
class Rounds:
    rounds: list[tuple[dict, dict, Coverage | None]] = field(default_factory=list)
    can_sweep: bool = False
    place_id: int | None = None  # the first place looked after (the door-to-door testing link)
    below: list["Rollup"] = field(default_factory=list)  # open campaigns below the user's place, by community


@dataclass
class Rollup:
    """One open campaign started below the user's place (a community's round, seen from the
    command centre), with its figures per community under it."""

    campaign: dict
    rows: list[tuple[dict, Coverage]]
    total: Coverage


async def campaigns_below(principal: Principal) -> list[Rollup]:
    """Every open campaign under a sub-district or community the user looks after, each
    community a row: what the command centre chases at 10 p.m."""
    result: list[Rollup] = []
    for grant in principal.places_for("browse"):
        if grant.place_kind not in ("subdistrict", "community"):
            continue
        below = [c for c in await logic.visible_campaigns(principal.scope, "open")
                 if c["path"].startswith(grant.path) and c["path"] != grant.path]
        if not below:
            continue
        communities = await Place.select(Place.id, Place.name, Place.path).where(
            (Place.kind == "community") & Place.path.like(f"{grant.path}%"))
        communities.sort(key=lambda p: logic.natural_key(p["name"]))
        for campaign in below:
            figures = await logic.coverage_under(campaign, campaign["path"])
            rows = []
            for community in communities:
                if campaign["path"].startswith(community["path"]):
                    # A campaign of one grid is shown at its own place, not its whole community.
                    place = {"id": campaign["place"], "name": campaign["place.name"]}
                    rows.append((place, logic.rollup(figures, campaign["path"])))
                elif community["path"].startswith(campaign["path"]):
                    rows.append((community, logic.rollup(figures, community["path"])))
            result.append(Rollup(campaign, rows, logic.rollup(figures, campaign["path"])))
    return result


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
    page.below = await campaigns_below(principal)
    if not (page.rounds or page.below or page.can_sweep):
        return []
    return [Card("campaigns/home.html", page, order=20)]
