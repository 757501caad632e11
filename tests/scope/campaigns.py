"""The scope matrix's routes of campaigns: Campaigns and sweeps, and residents' self-reports."""

from tests.scope.common import (BROWSE, MANAGE_HOUSEHOLDS, RUN_CAMPAIGNS, Route, STAFF, SWEEP, at, both,
                                 campaign_everywhere, campaign_form, campaign_here, person_form, plus)

# Rows a cell adds here are removed after it (children before parents), and these counts
# are what an `effect` of this domain's routes names.
TABLES = ("answer", "visit", "person_status", "household_status", "question", "campaign")
COUNTS = {
    "campaigns": "SELECT count(*) FROM campaign",
    "open_campaigns": "SELECT count(*) FROM campaign WHERE status = 'open'",
    "visits": "SELECT count(*) FROM visit",
    "answers": "SELECT count(*) FROM answer",
}

ROUTES = (
    # Campaigns. A campaign made by a setup over the whole sub-district reaches everybody,
    # so only the place or household in the path decides scope.
    Route("GET /campaigns", None, at(200, *STAFF)),
    # The place is a form field: one not run by the user is refused beside the field.
    Route("POST /campaigns", "place", at(303, *RUN_CAMPAIGNS), out=422, form=campaign_form,
          effect=both(plus("campaigns"), plus("audit"))),
    Route("POST /campaigns/{campaign_id}/close", "place", at(303, *RUN_CAMPAIGNS), setup=campaign_here,
          effect=both(plus("open_campaigns", -1), plus("audit"))),
    Route("GET /campaigns/{campaign_id}/places/{place_id}", "place", at(200, *BROWSE), setup=campaign_everywhere),
    Route("GET /campaigns/{campaign_id}/places/{place_id}/export.csv", "place", at(200, *BROWSE),
          setup=campaign_everywhere, effect=plus("audit")),
    Route("GET /campaigns/{campaign_id}/places/{place_id}/export.xlsx", "place", at(200, *BROWSE),
          setup=campaign_everywhere, effect=plus("audit"), binary=True),
    Route("GET /campaigns/{campaign_id}/households/{household_id}", "household", at(200, *SWEEP),
          setup=campaign_everywhere),
    Route("POST /campaigns/{campaign_id}/households/{household_id}", "household", at(303, *SWEEP),
          setup=campaign_everywhere, form=lambda cell: {"outcome": "nobody_home"}, effect=plus("visits")),
    Route("POST /campaigns/{campaign_id}/households/{household_id}/persons", "household", at(303, *MANAGE_HOUSEHOLDS),
          setup=campaign_everywhere, form=person_form, effect=both(plus("persons"), plus("answers"))),
    # A resident's self-report: their own household, whatever else is asked.
    Route("GET /my/campaigns/{campaign_id}", None, {"resident": 200}, setup=campaign_everywhere),
    Route("POST /my/campaigns/{campaign_id}", None, {"resident": 303}, setup=campaign_everywhere,
          form=lambda cell: {f"p{cell.env.target('own', 'person').id}.present": "yes"}, effect=plus("answers")),
)
