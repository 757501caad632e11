"""Campaigns: household sweeps (a testing round, a census, a re-sweep), their coverage,
residents' self-reports."""

from web.campaigns import checks, home, labels, persons, routes
from web.campaigns.logic import campaigns_over
from web.campaigns.tables import Answer, Campaign, HouseholdStatus, PersonStatus, Visit
from web.core.auth import Principal
from web.core.domain import Domain, NavEntry, PathCopy, PersonRef
from web.core.i18n import _
from web.households.logic import prepared_households
from web.places.logic import prepared_places


async def offline_urls(principal: Principal) -> list[str]:
    if principal.is_resident:
        return []
    urls = ["/campaigns"]
    for grant in principal.places_for("sweep"):
        if grant.place_kind not in ("grid", "microgrid"):
            continue
        # The newest open campaign's lists and each household's sweep form, so a whole round
        # works offline; one round's forms fit the phone's budget, two would not. ("Not yet
        # reached" filters these lists in the page: no second copy.)
        for campaign in (await campaigns_over(grant.path))[:1]:
            urls += [f"/campaigns/{campaign['id']}/places/{p}" for p in await prepared_places(grant)]
            urls += [f"/campaigns/{campaign['id']}/households/{h}" for h in await prepared_households(grant.path)]
    return urls


domain = Domain(
    name="campaigns",
    order=20,
    routes=routes.routes,
    piccolo_app="web.campaigns.piccolo_app",
    abilities={
        # Started and closed by the sub-district or a community; swept by the three heads.
        "run_campaigns": {"commander", "secretary"},
        "sweep": {"commander", "secretary", "grid_head", "party_leader", "building_head"},
    },
    labels={"campaign_kind_label": labels.campaign_kind_label, "outcome_label": labels.outcome_label,
            "check_label": labels.check_label, "value_label": labels.value_label},
    template_globals={"check_kinds": checks.CHECK_KINDS, "check_meaning": checks.CHECK_MEANING},
    offline_urls=offline_urls,
    home_cards=home.cards,
    nav=[NavEntry("/campaigns", lambda: _("Campaigns"), ability="sweep", order=10, prefix="/campaigns")],
    path_copies=[PathCopy(Visit), PathCopy(Answer), PathCopy(HouseholdStatus), PathCopy(PersonStatus)],
    fixed_paths=[Campaign],
    person_refs=[PersonRef(Answer, facts=True), PersonRef(PersonStatus, merge=persons.merge_statuses)],
)
