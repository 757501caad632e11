from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.accounts.tables import User


class IdempotencyRecord(Keyed, Table):
    """The first answer to a write, kept so a repeat of the same key changes nothing.

    Written in the same transaction as the write itself (docs/offline.md)."""

    key = Varchar(length=36, unique=True)
    # Whose key it is: "u<user id>" or "r<household id>" for a resident.
    owner = Varchar(length=24)
    method = Varchar(length=8)
    path = Varchar(length=300)
    status = Integer()
    content_type = Varchar(length=100, default="")
    headers = JSON(default="{}")  # the answer's Location / HX-* headers
    body = Text(default="")
    occurred_at = Timestamptz()  # device time, clamped
    received_at = Timestamptz(index=True)
    clock_flagged = Boolean(default=False)  # device clock was more than 5 minutes ahead


class Conflict(Keyed, Table):
    """A stale edit: made on an old version of a record. Both values are kept until a
    grid head settles it; nothing is overwritten silently."""

    subject = Varchar(length=40, index=True)  # "person:42"
    path = Varchar(length=200, index=True)  # where the subject sits, for scope
    base_version = Integer()
    submitted = JSON(default="{}")  # the stale edit's values
    current = JSON(default="{}")  # the record's values when the edit arrived
    raised_by = ForeignKey(User, null=True, default=None)
    occurred_at = Timestamptz()
    received_at = Timestamptz()
    settled_at = Timestamptz(null=True, default=None)
    settled_by = ForeignKey(User, null=True, default=None)
    resolution = Varchar(length=12, default="")  # "submitted" | "current"


class Claim(Keyed, Table):
    """First come, first served: one holder per subject (e.g. "request:7")."""

    subject = Varchar(length=40, unique=True)
    holder = ForeignKey(User)
    occurred_at = Timestamptz()
    received_at = Timestamptz()


class ChoreRun(Keyed, Table):
    """One period of a periodic chore, claimed by the first instance to insert it
    (`key` = "<chore>@<period start>", unique): so several app instances run it once."""

    key = Varchar(length=80, unique=True)
    claimed_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=200, default="")  # what it did, or why it failed
