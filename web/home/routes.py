"""The home page: what is each user's to look after and to do, by role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get

from web import db
from web.accounts.auth import Principal
from web.accounts.tables import Organisation
from web.core.render import redirect, render
from web.core.scope import Grant
from web.campaigns import logic as campaigns
from web.campaigns.logic import Coverage
from web.households.duplicates import duplicates_count, manage_scope
from web.places import logic
from web.sampling.logic import sites_for
from web.places.tables import Place

THREE_HEADS = ("grid_head", "party_leader", "building_head")


@dataclass
class Area:
    grant: Grant
    tally: logic.Tally
    children: list[dict]


@dataclass
class HomePage:
    areas: list[Area] = field(default_factory=list)
    # Grids whose three heads are not all named yet (secretaries and the command centre).
    grids_missing_heads: list[dict] = field(default_factory=list)
    # Register gaps a grid head closes at the door.
    empty_households: int = 0
    persons_without_phone: int = 0
    gaps_place_id: int | None = None  # where the to-do links lead (the first grid looked after)
    organisation: str = ""
    # Open campaigns over the user's places, with the figures at that place.
    rounds: list[tuple[dict, dict, Coverage | None]] = field(default_factory=list)
    can_sweep: bool = False
    duplicates: int = 0  # possible duplicate persons to merge or tell apart
    sites: list[dict] = field(default_factory=list)  # sampling sites where this user ticks residents
    below: list["Rollup"] = field(default_factory=list)  # open campaigns below the user's place, by community


async def grids_missing_heads(prefix: str) -> list[dict]:
    """Grids under `prefix` whose three heads are not all named. A building head usually
    sits at one of the grid's micro-grids, so roles held below the grid count for it."""
    grids = await db.fetch(
        "SELECT id, name, path FROM place WHERE kind = 'grid' AND path LIKE {} ORDER BY id", f"{prefix}%"
    )
    grants = await db.fetch(
        "SELECT g.role, p.path FROM role_grant g JOIN place p ON p.id = g.place"
        " WHERE g.role IN ({}, {}, {}) AND p.path LIKE {}",
        *THREE_HEADS,
        f"{prefix}%",
    )
    roles: dict[str, set[str]] = {grid["path"]: set() for grid in grids}
    for grant in grants:
        parts = grant["path"].strip("/").split("/")
        for depth in range(len(parts), 0, -1):  # the grant's own place, then the places above it
            held = roles.get("/" + "/".join(parts[:depth]) + "/")
            if held is not None:
                held.add(grant["role"])
                break
    missing = []
    for grid in grids:
        grid["heads"] = len(roles[grid["path"]])
        if grid["heads"] < len(THREE_HEADS):
            missing.append(grid)
    return missing


async def register_gaps(prefix: str) -> tuple[int, int]:
    rows = await db.fetch(
        "SELECT (SELECT count(*) FROM household h WHERE h.path LIKE {}"
        "   AND NOT EXISTS (SELECT 1 FROM person p WHERE p.household = h.id)) AS empty,"
        " (SELECT count(*) FROM person WHERE path LIKE {} AND phone = '') AS no_phone",
        f"{prefix}%",
        f"{prefix}%",
    )
    return rows[0]["empty"], rows[0]["no_phone"]


async def build_home(principal: Principal) -> HomePage:
    page = HomePage()
    seen: set[str] = set()
    for grant in principal.places_for("browse"):
        if any(grant.path.startswith(p) for p in seen):
            continue  # a role further up already covers this place
        seen.add(grant.path)
        tallies = await logic.tallies_under(grant.path)
        children = await Place.select().where(Place.parent == grant.place_id).order_by(Place.id)
        for child in children:
            child["tally"] = logic.rollup(tallies, child["path"])
        page.areas.append(Area(grant, logic.rollup(tallies, grant.path), children))
        if principal.can("manage_accounts", grant.path):
            page.grids_missing_heads += await grids_missing_heads(grant.path)
        if grant.place_kind in ("grid", "microgrid"):
            empty, no_phone = await register_gaps(grant.path)
            page.empty_households += empty
            page.persons_without_phone += no_phone
            if page.gaps_place_id is None and (empty or no_phone):
                page.gaps_place_id = grant.place_id
        for campaign in await campaigns.campaigns_over(grant.path):
            # The whole sub-district is counted on its progress page, not on every home load.
            figures = (None if grant.place_kind == "subdistrict"
                       else campaigns.rollup(await campaigns.coverage_under(campaign, grant.path), grant.path))
            page.rounds.append((campaign, {"id": grant.place_id, "name": grant.place_name}, figures))
    page.can_sweep = principal.can("sweep")
    # Pairs are looked for within a grid: counted for those who look after grids, where it is quick.
    if any(g.place_kind in ("grid", "microgrid") for g in principal.places_for("manage_households")):
        page.duplicates = await duplicates_count(manage_scope(principal))
    page.sites = await sites_for(principal)
    if principal.organisation_id:
        org = await Organisation.select(Organisation.name).where(Organisation.id == principal.organisation_id).first()
        page.organisation = org["name"] if org else ""
    return page


# ---- open campaigns below the user's place, by community ------------------------------------


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
        below = [c for c in await campaigns.visible_campaigns(principal.scope, "open")
                 if c["path"].startswith(grant.path) and c["path"] != grant.path]
        if not below:
            continue
        communities = await Place.select(Place.id, Place.name, Place.path).where(
            (Place.kind == "community") & Place.path.like(f"{grant.path}%"))
        communities.sort(key=lambda p: campaigns.natural_key(p["name"]))
        for campaign in below:
            figures = await campaigns.coverage_under(campaign, campaign["path"])
            rows = []
            for community in communities:
                if campaign["path"].startswith(community["path"]):
                    # A campaign of one grid is shown at its own place, not its whole community.
                    place = {"id": campaign["place"], "name": campaign["place.name"]}
                    rows.append((place, campaigns.rollup(figures, campaign["path"])))
                elif community["path"].startswith(campaign["path"]):
                    rows.append((community, campaigns.rollup(figures, community["path"])))
            result.append(Rollup(campaign, rows, campaigns.rollup(figures, campaign["path"])))
    return result


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        return redirect(request, "/signin")
    if principal.is_resident:
        return redirect(request, "/my")
    page = await build_home(principal)
    page.below = await campaigns_below(principal)
    return render(request, "pages/home.html", page)


routes = [home]
