"""Staggered sampling: sampling sites, generated slots, ticking residents sampled."""

from web.core.auth import Principal
from web.core.domain import Domain
from web.sampling import home, routes
from web.sampling.logic import sites_for
from web.sampling.tables import SamplingSite, SamplingSlot


async def offline_urls(principal: Principal) -> list[str]:
    if principal.is_resident:
        return []
    return [f"/campaigns/{s['campaign']}/sites/{s['id']}" for s in await sites_for(principal)]


domain = Domain(
    name="sampling",
    order=30,
    routes=routes.routes,
    piccolo_app="web.sampling.piccolo_app",
    # Ticking residents sampled at a sampling site: volunteers too, at the sites of their place.
    abilities={"sample": {"commander", "secretary", "grid_head", "party_leader", "building_head", "volunteer"}},
    offline_urls=offline_urls,
    home_cards=home.cards,
    fixed_paths=[SamplingSite, SamplingSlot],  # the places they serve
)
