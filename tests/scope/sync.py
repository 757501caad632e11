"""The scope matrix's routes of sync: The sync page, the offline manifest and queued batches."""

from tests.scope.common import Route, SIGNED_IN, at

ROUTES = (
    # Sync: the page, and the manifest of URLs to prepare offline (never one out of scope).
    Route("GET /sync", None, at(200, *SIGNED_IN), optional=True),
    Route("GET /sync/manifest?households", "household", at(200, *SIGNED_IN), pattern="GET /sync/manifest",
          listing=True, must_list=False, listed=lambda t: f'"/households/{t.id}"', optional=True),
    Route("GET /sync/manifest?places", "place", at(200, *SIGNED_IN), pattern="GET /sync/manifest",
          listing=True, must_list=False, listed=lambda t: f'"/places/{t.id}"', optional=True),
    # Queued writes in one request: each entry meets its route's own checks (tests/test_batch.py);
    # the matrix sends a form, not JSON, so the batch is unreadable (400) and nothing runs.
    Route("POST /sync/batch", None, at(400, *SIGNED_IN)),
)
