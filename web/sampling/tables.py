"""Sampling sites of a testing round and the staggered slots generated for them.

A site serves a place (a community, a grid) on one day, within its opening hours, at
`stations × per_minute` persons a minute. A slot sends one micro-grid (or a grid not
split, or the households sitting directly in a grid) to one site for a time window; it
keeps the worst expected wait the queue model gives it, so the table reads it back.
Both carry a copy of the place path, like households and persons.
"""

from decimal import Decimal

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Numeric, Time, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.accounts.tables import User
from web.campaigns.tables import Campaign
from web.places.tables import Place


class SamplingSite(Keyed, Table):
    campaign = ForeignKey(Campaign, index=True)
    place = ForeignKey(Place)  # the place it serves: its slots go to places under it
    path = Varchar(length=200, index=True)
    name = Varchar(length=100)
    address = Varchar(length=200, default="")  # where residents go, as they know it
    stations = Integer(default=1)
    per_minute = Numeric(digits=(5, 2))  # persons a minute at one station
    day = Date()
    opens = Time()  # local time (GRIDLINE_TZ)
    closes = Time()
    created_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()


class SamplingSlot(Keyed, Table):
    campaign = ForeignKey(Campaign, index=True)
    site = ForeignKey(SamplingSite, index=True)
    place = ForeignKey(Place)  # a micro-grid, or a grid (not split, or its loose households)
    path = Varchar(length=200)  # the place's path: a household's slot is the one at its own path
    starts = Timestamptz()
    ends = Timestamptz()
    persons = Integer(default=0)
    wait = Numeric(digits=(6, 1), default=Decimal("0"))  # worst expected wait in minutes (the queue model)
    adjusted = Boolean(default=False)  # moved by hand after generating
    created_at = Timestamptz()
