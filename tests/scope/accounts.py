"""The scope matrix's routes of accounts: The user's own account and sessions; accounts managed by secretaries and the command centre."""

from tests.scope.common import MANAGE_ACCOUNTS, Route, SIGNED_IN, account_form, at, both, changed, plus, user_session

ROUTES = (
    Route("GET /account", None, at(200, *SIGNED_IN)),
    # Always "signed out", even with no session, so a phone can wipe itself after asking.
    Route("POST /signout", None, at(303, *SIGNED_IN), fresh=True, effect=plus("sessions", -1),
          anonymous={"nav": 303, "htmx": 303, "post": 303}),
    Route("POST /account/sessions/{session_id}/revoke", "session", at(303, *SIGNED_IN), fresh=True,
          effect=plus("sessions", -1)),
    # Accounts: managers, and only for accounts holding a role under their places.
    Route("GET /accounts", "user", at(200, *MANAGE_ACCOUNTS), listing=True),
    # The place is a form field, not the address: one not managed is refused beside the field.
    Route("POST /accounts", "place", at(303, *MANAGE_ACCOUNTS), out=422, form=account_form,
          effect=both(plus("users"), plus("grants"), plus("audit"))),
    Route("GET /accounts/{user_id}", "user", at(200, *MANAGE_ACCOUNTS)),
    Route("POST /accounts/{user_id}/signout-everywhere", "user", at(200, *MANAGE_ACCOUNTS), setup=user_session,
          effect=both(plus("sessions", -1), plus("audit"))),
    Route("POST /accounts/{user_id}/active", "user", at(303, *MANAGE_ACCOUNTS), form=lambda cell: {"active": "0"},
          effect=both(plus("active_users", -1), plus("audit"))),
    Route("POST /accounts/{user_id}/password", "user", at(303, *MANAGE_ACCOUNTS),
          form=lambda cell: {"password": "matrix-password-2"}, effect=both(changed("row"), plus("audit"))),
)
