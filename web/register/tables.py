"""A register file waiting between its check and its confirm: kept in the database, so
any app instance can confirm what another checked, and one confirm imports it once."""

from piccolo.columns import JSON, Bytea, ForeignKey, Timestamptz, Varchar
from piccolo.table import Table

from web.accounts.tables import User
from web.db import Keyed
from web.places.tables import Place

UPLOAD_STATES = ("pending", "importing", "done")


class Upload(Keyed, Table):
    token = Varchar(length=64, unique=True)  # the id in the confirm's address: long and random
    place = ForeignKey(Place)
    by_user = ForeignKey(User, null=True, default=None)
    filename = Varchar(length=200)
    data = Bytea(default=b"")  # dropped once imported: personal data kept no longer than needed
    state = Varchar(length=10, default="pending")
    counts = JSON(default="{}")  # what the import made, kept so a repeated confirm says so
    created_at = Timestamptz()
