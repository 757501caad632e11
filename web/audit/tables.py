from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.accounts.tables import User


class AuditEntry(Keyed, Table):
    """Who saw or exported personal data, what, and when (PIPL)."""

    user = ForeignKey(User, null=True, default=None, index=True)
    action = Varchar(length=24)  # reveal, export, import, revoke_session, …
    subject = Varchar(length=60)  # e.g. "person:42"
    # Path of the place the subject sits in, so the log itself can be scoped.
    path = Varchar(length=200, index=True, default="")
    detail = Text(default="")
    at = Timestamptz(index=True)
