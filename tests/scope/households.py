"""The scope matrix's routes of households: Households and persons, residents' links, search, corrections and their conflicts, duplicates."""

from tests.scope.common import (BROWSE, ISSUE_LINKS, MANAGE_HOUSEHOLDS, REVEAL, Route, STAFF, at, both, changed,
                                 conflict, ensure_link, fewer, person_edit_form, person_form, plus, twin)

ROUTES = (
    # Households and persons. Volunteers would see the households their assignments grant.
    Route("GET /households/{household_id}", "household", at(200, *BROWSE, "volunteer", "resident")),
    Route("POST /households/{household_id}/reveal", "household", at(200, *REVEAL), effect=plus("audit")),
    Route("POST /households/{household_id}/links", "household", at(200, *ISSUE_LINKS),
          effect=both(plus("links"), plus("audit"))),
    # Every live link of the household goes (other tests may have made more than the setup's).
    Route("POST /households/{household_id}/links/revoke", "household", at(200, *ISSUE_LINKS), setup=ensure_link,
          effect=both(fewer("links"), plus("audit"))),
    Route("POST /households/{household_id}/persons", "household", at(303, *MANAGE_HOUSEHOLDS), form=person_form,
          effect=plus("persons")),
    Route("GET /persons/{person_id}", "person", at(200, *BROWSE, "volunteer", "resident")),
    Route("POST /persons/{person_id}/reveal", "person", at(200, *REVEAL), effect=plus("audit")),
    Route("GET /search?q={door_code}", "household", at(200, *STAFF), pattern="GET /search", listing=True,
          query=lambda t: {"q": t.door_code}),
    Route("GET /search?q={id_number}", "person", at(200, *STAFF), pattern="GET /search", listing=True,
          query=lambda t: {"q": t.id_number}),
    # An edit of a person (manage_households); a stale one becomes a conflict.
    Route("POST /persons/{person_id}", "person", at(303, *MANAGE_HOUSEHOLDS), form=person_edit_form,
          effect=changed("row"), optional=True),
    # Conflicts: listed and settled by those who manage households, under their places.
    Route("GET /conflicts", "person", at(200, *MANAGE_HOUSEHOLDS), listing=True, setup=conflict,
          listed=lambda t: f"矩阵冲突{t.id}", optional=True),
    Route("POST /conflicts/{conflict_id}/settle", "person", at(303, *MANAGE_HOUSEHOLDS), setup=conflict,
          form=lambda cell: {"choice": "current"}, effect=plus("open_conflicts", -1), optional=True),
    # Duplicates: two records of one person, merged or settled by those who manage households.
    Route("GET /duplicates", "person", at(200, *MANAGE_HOUSEHOLDS), listing=True, setup=twin),
    Route("POST /duplicates/merge/{drop_id}/into/{keep_id}", "person", at(303, *MANAGE_HOUSEHOLDS), setup=twin,
          effect=both(plus("persons", -1), plus("audit"), changed("row"))),
    Route("POST /duplicates/different/{a_id}/{b_id}", "person", at(303, *MANAGE_HOUSEHOLDS), setup=twin),
)
