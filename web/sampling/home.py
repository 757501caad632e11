"""Sampling's card on the home page: the sites where this user ticks residents sampled."""

from __future__ import annotations

from web.core.auth import Principal
from web.core.domain import Card
from web.sampling.logic import sites_for


async def cards(principal: Principal) -> list[Card]:
    if principal.is_resident:
        return []
    sites = await sites_for(principal)
    return [Card("sampling/home.html", sites, order=35, duty=True)] if sites else []
