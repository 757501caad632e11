"""The scope matrix's routes of home: The home page and the resident's own page: no target."""

from tests.scope.common import Route, STAFF, at

ROUTES = (
    Route("GET /", None, {**at(200, *STAFF), "resident": 303},  # residents are sent to /my
          anonymous={"nav": 303, "htmx": 200}),  # home sends anonymous visitors to /signin itself
    Route("GET /my", None, {**at(303, *STAFF), "resident": 200}),  # staff are sent home
)
