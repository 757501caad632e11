"""Places: sub-district → community → grid → micro-grid, as materialized paths."""

from web.core.auth import Principal
from web.core.domain import Domain
from web.places import home, logic, routes
from web.places.tables import Place


async def offline_urls(principal: Principal) -> list[str]:
    urls: list[str] = []
    for grant in principal.places_for("browse"):
        urls += [f"/places/{grant.place_id}"] + [f"/places/{p}" for p in await logic.prepared_places(grant)]
    return urls


domain = Domain(
    name="places",
    order=1,
    routes=routes.routes,
    piccolo_app="web.places.piccolo_app",
    abilities={
        "browse": {"commander", "secretary", "grid_head", "party_leader", "building_head"},
        "manage_places": {"commander", "secretary", "grid_head"},
    },
    offline_urls=offline_urls,
    home_cards=home.cards,
    fixed_paths=[Place],  # its own path: households move under it, it stays
)
