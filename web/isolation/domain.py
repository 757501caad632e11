"""Home isolation: the register of isolated households, and the day's door-to-door testing."""

from web.core.auth import Principal
from web.core.domain import Domain, PathCopy, PersonRef
from web.core.timeutil import today
from web.isolation import logic, routes
from web.isolation.tables import DoorSample, Isolation


async def offline_urls(principal: Principal) -> list[str]:
    return [] if principal.is_resident else await logic.offline_urls(principal, today())


domain = Domain(
    name="isolation",
    order=25,
    routes=routes.routes,
    piccolo_app="web.isolation.piccolo_app",
    offline_urls=offline_urls,
    path_copies=[PathCopy(Isolation), PathCopy(DoorSample)],
    person_refs=[PersonRef(DoorSample)],
)
