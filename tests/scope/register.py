"""The scope matrix's routes of register: The household register import."""

from tests.scope.common import IMPORT_REGISTER, Route, SIGNED_IN, at, both, plus, register_file, upload

# Rows a cell adds here are removed after it (before the places and accounts they name).
TABLES = ("upload",)
COUNTS = {"uploads": "SELECT count(*) FROM upload"}

ROUTES = (
    # The household register import (import_register, at grids and micro-grids).
    Route("GET /places/{place_id}/import", "place", at(200, *IMPORT_REGISTER), place_kinds=("grid", "microgrid"),
          optional=True),
    Route("POST /places/{place_id}/import", "place", at(200, *IMPORT_REGISTER), place_kinds=("grid", "microgrid"),
          files=lambda cell: {"file": ("register.csv", register_file(), "text/csv")}, effect=plus("uploads"),
          optional=True),
    Route("POST /places/{place_id}/import/{upload_id}/confirm", "place", at(200, *IMPORT_REGISTER),
          place_kinds=("grid", "microgrid"), setup=upload, form=lambda cell: {"mode": "good_only"},
          effect=both(plus("households"), plus("persons"), plus("audit")), optional=True),
    # The sample register is a blank form: no data, for anybody.
    Route("GET /register/sample.csv", None, at(200, *SIGNED_IN), anonymous={"nav": 200, "htmx": 200},
          optional=True),
    Route("GET /register/sample.xlsx", None, at(200, *SIGNED_IN), anonymous={"nav": 200, "htmx": 200},
          optional=True),
)
