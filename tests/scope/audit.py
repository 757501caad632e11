"""The scope matrix's routes of audit: The audit log."""

from tests.scope.common import Route, VIEW_AUDIT, at, audit_marker

ROUTES = (
    # The audit log lists entries about places under the viewer's.
    Route("GET /audit", "household", at(200, *VIEW_AUDIT), listing=True, setup=audit_marker,
          listed=lambda t: f"matrix:household:{t.id}"),

)
