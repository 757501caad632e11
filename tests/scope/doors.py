"""The scope matrix's routes of doors: Door plates and the scan page."""

from tests.scope.common import BROWSE, Route, STAFF, at, door_code

ROUTES = (
    # Door plates. A code leads to the household's sweep form or its page (a 303); a code
    # missing or out of scope is the same 404. Volunteers would follow the codes of the
    # households their assignments grant (none in the demo).
    Route("GET /d/{code}", "household", at(303, *BROWSE, "volunteer"), setup=door_code),
    Route("GET /d?code={door_code}", "household", at(303, *BROWSE, "volunteer"), pattern="GET /d",
          query=lambda t: {"code": t.door_code or "ZZZZZZZZ"}),
    Route("GET /scan", None, at(200, *STAFF)),
    Route("GET /places/{place_id}/plates", "place", at(200, *BROWSE)),
    Route("GET /households/{household_id}/plate", "household", at(200, *BROWSE)),
)
