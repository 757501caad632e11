"""Households and persons: dwellings and premises, their members, residents' links,
duplicate persons, and stale edits of persons (conflicts) to settle."""

from web.core.auth import Principal
from web.core.domain import Domain, NavEntry, PathCopy, PersonRef
from web.core.i18n import _
from web.households import duplicates, home, logic, routes
from web.households.tables import PERSON_TAGS, RELATIONS, Household, NotDuplicate, Person
from web.core.display import relation_label


async def offline_urls(principal: Principal) -> list[str]:
    if principal.is_resident:
        return ["/my", f"/households/{principal.household_id}"]
    urls: list[str] = []
    for grant in principal.places_for("browse"):
        if grant.place_kind in ("grid", "microgrid"):
            urls += [f"/households/{h}" for h in await logic.prepared_households(grant.path)]
    if principal.can("manage_households"):
        urls.append("/conflicts")
    # Duplicates are looked for within a grid: quick for those who look after grids.
    if any(g.place_kind in ("grid", "microgrid") for g in principal.places_for("manage_households")):
        urls.append("/duplicates")
    return urls


def relations() -> list[tuple[str, str]]:
    return [(r, relation_label(r)) for r in RELATIONS]


domain = Domain(
    name="households",
    order=2,
    routes=routes.routes,
    piccolo_app="web.households.piccolo_app",
    abilities={
        # Phone and ID numbers unmasked: those who call and verify residents.
        "reveal": {"commander", "secretary", "grid_head", "building_head"},
        "manage_households": {"commander", "secretary", "grid_head", "building_head"},
        "issue_links": {"commander", "secretary", "grid_head", "building_head"},
    },
    offline_urls=offline_urls,
    home_cards=home.cards,
    nav=[NavEntry("/search", lambda: _("Search"), order=30)],
    path_copies=[PathCopy(Household, household=None, grants_household=True),
                 PathCopy(Person, grants_household=True)],
    fixed_paths=[NotDuplicate],  # the grid's path
    person_refs=[PersonRef(NotDuplicate, "person_a", merge=duplicates.move_settled),
                 PersonRef(NotDuplicate, "person_b", merge=duplicates.move_settled)],
    template_globals={"relations": relations, "person_tags": PERSON_TAGS},
    audit_actions={duplicates.MERGE_ACTION: lambda: _("Merged two records of one person")},
)
