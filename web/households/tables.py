from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.places.tables import Place

HOUSEHOLD_KINDS = ("dwelling", "premises")
PREMISES_KINDS = ("shed", "shopfront", "other")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "relative", "renter", "transient", "visitor", "other")
# Tags a grid keeps on a person; the vulnerable ones decide who gets a named helper.
PERSON_TAGS = ("elderly_alone", "disabled", "pregnant", "chronic", "bedridden", "renter", "transient")


class Household(Keyed, Table):
    place = ForeignKey(Place, index=True)
    # Copy of the place's path, so a scope is one prefix query without a join.
    path = Varchar(length=200, index=True)
    kind = Varchar(length=10, default="dwelling")
    building = Varchar(length=40, default="")  # 栋 in a town, 村民组 in a village
    unit = Varchar(length=20, default="")
    floor = Integer(null=True, default=None)
    room = Varchar(length=20, default="")
    premises_kind = Varchar(length=12, default="")
    premises_name = Varchar(length=100, default="")
    address = Varchar(length=200, default="")
    note = Text(default="")
    # Walking order on a sweep: building, unit, floor, room, zero-padded.
    sort_key = Varchar(length=80, index=True, default="")
    # Short code printed on the door plate and typed when a camera cannot scan.
    door_code = Varchar(length=12, unique=True)
    version = Integer(default=1)
    created_at = Timestamptz()


class Person(Keyed, Table):
    household = ForeignKey(Household, index=True)
    path = Varchar(length=200, index=True)
    name = Varchar(length=50, index=True)
    sex = Varchar(length=1, default="")  # "M" / "F"
    birth_year = Integer(null=True, default=None)
    phone = Varchar(length=20, default="", index=True)
    # Stored whole (heads verify it at the door), shown masked unless the role needs it.
    id_number = Varchar(length=18, default="", index=True)
    relation = Varchar(length=12, default="other")
    tags = Varchar(length=200, default="")  # comma-separated PERSON_TAGS
    note = Text(default="")
    version = Integer(default=1)
    created_at = Timestamptz()


class NotDuplicate(Keyed, Table):
    """Two records a grid head looked at and settled as two different people, so the
    duplicate check stops offering them. The pair is stored once, person_a < person_b;
    deleting either person removes it (cascade)."""

    person_a = ForeignKey(Person, index=True)
    person_b = ForeignKey(Person)
    # The grid the pair sat in when settled: whose decision it was.
    path = Varchar(length=200, index=True)
    # An account id; a foreign key would make this app depend on accounts, which depends on it.
    settled_by = Integer(null=True, default=None)
    settled_at = Timestamptz()
