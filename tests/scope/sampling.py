"""The scope matrix's routes of sampling: staggered sampling: sites, slots and ticking residents at a site."""

from tests.scope.common import (RUN_CAMPAIGNS, Route, SWEEP, at, campaign_here, plus, sampling_person, sampling_site,
                                 sampling_slots, site_form)

SAMPLE = (*SWEEP, "volunteer")
VOLUNTEER_SAMPLES = {"volunteer": (("c1", "g1", "m1", "g2"), ("sub", "x", "c2"))}
ROUND_REACHES = {
    "secretary": (("sub", "c1", "g1", "m1", "g2"), ("x", "c2", "missing")),
    "gridhead": (("sub", "c1", "g1", "m1", "m2"), ("g2", "x", "c2", "missing")),
    "partyleader": (("sub", "c1", "g1", "m1", "m2"), ("g2", "x", "c2")),
    "buildinghead": (("sub", "c1", "g1", "m1"), ("m2", "g2", "x", "c2")),
}
ROUTES = (
    # Staggered sampling: sites and slots of a testing round, and ticking residents at a site.
    Route("GET /campaigns/{campaign_id}/sampling", "place", at(200, *SWEEP), setup=campaign_here, scopes=ROUND_REACHES),
    Route("POST /campaigns/{campaign_id}/sampling/sites", "place", at(303, *RUN_CAMPAIGNS), setup=campaign_here,
          form=site_form),
    Route("POST /campaigns/{campaign_id}/sampling/sites/{site_id}", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_site, form=site_form),
    Route("POST /campaigns/{campaign_id}/sampling/sites/{site_id}/remove", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_site),
    Route("POST /campaigns/{campaign_id}/sampling/generate", "place", at(303, *RUN_CAMPAIGNS), setup=sampling_site),
    Route("POST /campaigns/{campaign_id}/sampling/slots/{slot_id}", "place", at(303, *RUN_CAMPAIGNS),
          setup=sampling_slots, form=lambda cell: {"starts": "08:00", "ends": "08:30"}),
    Route("GET /campaigns/{campaign_id}/sites/{site_id}", "place", at(200, *SAMPLE), setup=sampling_site,
          scopes=VOLUNTEER_SAMPLES),
    Route("POST /campaigns/{campaign_id}/sites/{site_id}/households/{household_id}", "person", at(303, *SAMPLE),
          setup=sampling_person, form=lambda cell: {"sampled": str(cell.target.id)}, effect=plus("answers"),
          scopes=VOLUNTEER_SAMPLES),
)
