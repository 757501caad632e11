"""Door plates: a printable QR per household, `/d/<code>` and the scan page."""

from web.core.auth import Principal
from web.core.domain import Domain
from web.doors import routes


async def offline_urls(principal: Principal) -> list[str]:
    return [] if principal.is_resident else ["/scan"]


domain = Domain(name="doors", order=40, routes=routes.routes, offline_urls=offline_urls)
