"""Home isolation: the register of isolated households and their door-to-door samples.

The tables were first made by the campaigns app's migrations; they belong here since
(web/isolation/migrations and web/campaigns/migrations say how).
"""

from piccolo.columns import Date, ForeignKey, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.accounts.tables import User
from web.households.tables import Household, Person


class Isolation(Keyed, Table):
    """A household under home isolation: tested at the door every day until `ends_on`."""

    household = ForeignKey(Household, index=True)
    path = Varchar(length=200, index=True)
    starts_on = Date()
    ends_on = Date()
    note = Varchar(length=200, default="")
    by_user = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()


class DoorSample(Keyed, Table):
    """An isolated person sampled at their door on `day` (append-only)."""

    person = ForeignKey(Person, index=True)
    household = ForeignKey(Household)
    path = Varchar(length=200)
    day = Date(index=True)
    by_user = ForeignKey(User, null=True, default=None)
    occurred_at = Timestamptz()
    received_at = Timestamptz()
