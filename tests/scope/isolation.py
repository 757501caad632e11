"""The scope matrix's routes of isolation: Home isolation and the day's door-to-door testing."""

from tests.scope.common import (MANAGE_HOUSEHOLDS, Route, SWEEP, at, both, door_sample_form, household_of_person,
                                 isolated, isolation_form, plus)

# Rows a cell adds here are removed after it (children before parents), and these counts
# are what an `effect` of this domain's routes names.
TABLES = ("door_sample", "isolation")
COUNTS = {
    "door_samples": "SELECT count(*) FROM door_sample",
    "isolations": "SELECT count(*) FROM isolation",
}

ROUTES = (
    # Home isolation and the day's door-to-door testing.
    Route("GET /places/{place_id}/isolation", "place", at(200, *SWEEP)),
    Route("GET /households/{household_id}/isolation", "household", at(200, *SWEEP)),
    Route("POST /households/{household_id}/isolation", "household", at(303, *MANAGE_HOUSEHOLDS), form=isolation_form,
          effect=both(plus("isolations"), plus("audit"))),
    Route("POST /households/{household_id}/isolation/end", "household", at(303, *MANAGE_HOUSEHOLDS), setup=isolated,
          effect=plus("audit")),
    Route("POST /households/{household_id}/door-samples", "person", at(303, *SWEEP), setup=household_of_person,
          form=door_sample_form, effect=plus("door_samples")),
)
