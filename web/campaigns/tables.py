"""Campaigns (a testing round, a census, a re-sweep) and what the sweep finds.

Field facts (`Visit`, `Answer`) are append-only: two heads at one door both keep their
record. The status tables hold the latest fact by occurred time, one row per campaign
and household or person, so coverage is a count over one index and never a scan of
history. Both carry a copy of the place path, like households and persons.
"""

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.accounts.tables import User
from web.campaigns import checks
from web.households.tables import Household, Person
from web.places.tables import Place

CAMPAIGN_KINDS = ("testing_round", "census", "renters", "resweep")
# The checks a campaign may ask of each person; a campaign keeps the ones it asks.
STANDARD_CHECKS = checks.STANDARD_CHECKS  # declared in web/campaigns/checks.py
QUESTION_KINDS = ("yes_no", "choice", "number", "date", "text")
# What a head finds at the door; "reached" means somebody verified the household.
OUTCOMES = ("visited", "nobody_home", "refused", "vacant")
REACHED = ("visited", "vacant")
SOURCES = ("head", "self", "site")  # at the door, the resident's own link, the sampling site


class Campaign(Keyed, Table):
    name = Varchar(length=100)
    kind = Varchar(length=16)
    place = ForeignKey(Place, index=True)
    path = Varchar(length=200, index=True)
    deadline = Timestamptz()
    checks = Varchar(length=200, default="")  # comma-separated STANDARD_CHECKS
    status = Varchar(length=8, default="open")  # open | closed
    created_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    # Closed campaigns are read-only: their figures per place are kept, so a chart across
    # twelve rounds reads twelve small rows, not millions of facts.
    figures = Text(default="")


class Question(Keyed, Table):
    """A question the secretary adds for one campaign ("returned from city X since …?")."""

    campaign = ForeignKey(Campaign, index=True)
    position = Integer(default=0)
    kind = Varchar(length=8)
    label = Varchar(length=200)
    choices = Text(default="")  # one per line, for "choice"


class Visit(Keyed, Table):
    """A head (or the resident, or a site) recorded this household's outcome."""

    campaign = ForeignKey(Campaign)
    household = ForeignKey(Household, index=True)
    path = Varchar(length=200)
    outcome = Varchar(length=12)
    note = Text(default="")
    source = Varchar(length=5, default="head")
    by_user = ForeignKey(User, null=True, default=None)
    occurred_at = Timestamptz()
    received_at = Timestamptz()


class Answer(Keyed, Table):
    """One check of one person: `item` is a STANDARD_CHECKS name or "q<question id>"."""

    campaign = ForeignKey(Campaign)
    person = ForeignKey(Person, index=True)
    household = ForeignKey(Household)
    path = Varchar(length=200)
    item = Varchar(length=12)
    value = Varchar(length=200, default="")
    source = Varchar(length=5, default="head")
    by_user = ForeignKey(User, null=True, default=None)
    occurred_at = Timestamptz()
    received_at = Timestamptz()


class HouseholdStatus(Keyed, Table):
    """The latest outcome of a household in a campaign (unique per campaign, household)."""

    campaign = ForeignKey(Campaign)
    household = ForeignKey(Household, index=True)
    path = Varchar(length=200)
    outcome = Varchar(length=12, default="")
    outcome_at = Timestamptz(null=True, default=None)
    self_reported = Boolean(default=False)


class PersonStatus(Keyed, Table):
    """Where a person stands in a campaign (unique per campaign, person): checked by a
    head or a site, self-reported only, sampled."""

    campaign = ForeignKey(Campaign)
    person = ForeignKey(Person, index=True)
    household = ForeignKey(Household)
    path = Varchar(length=200)
    checked = Boolean(default=False)
    self_reported = Boolean(default=False)
    sampled = Boolean(default=False)
    checked_at = Timestamptz(null=True, default=None)
