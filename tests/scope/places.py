"""The scope matrix's routes of places: The place tree: places, their children, wartime micro-grids, households added at a place."""

import uuid

from tests.scope.common import BROWSE, MANAGE_HOUSEHOLDS, MANAGE_PLACES, Route, at, plus

ROUTES = (
    # Places.
    Route("GET /places/{place_id}", "place", at(200, *BROWSE)),
    Route("POST /places/{place_id}/children", "place", at(303, *MANAGE_PLACES),
          place_kinds=("subdistrict", "community", "grid"),  # a micro-grid has no children
          form=lambda cell: {"name": f"矩阵{uuid.uuid4().hex[:8]}"}, effect=plus("places")),
    # Wartime micro-grids, one per building (manage_places, at grids only; the demo's grids are split already).
    Route("POST /places/{place_id}/split", "place", at(303, *MANAGE_PLACES), place_kinds=("grid",)),
    # A household found on a sweep, registered on the spot (manage_households, at grids and micro-grids).
    Route("POST /places/{place_id}/households", "place", at(303, *MANAGE_HOUSEHOLDS),
          place_kinds=("grid", "microgrid"), form=lambda cell: {"kind": "dwelling", "building": "矩阵", "unit": "1",
                                                                 "floor": "1", "room": "101"},
          effect=plus("households")),
)
