from piccolo.columns import Boolean, ForeignKey, Timestamptz, Varchar
from piccolo.table import Table

from web.db import Keyed
from web.households.tables import Household
from web.places.tables import Place

# Roles are held at a place and cover it and everything under it (docs/architecture.md, "scope").
ROLES = ("commander", "secretary", "grid_head", "party_leader", "building_head", "volunteer")


class Organisation(Keyed, Table):
    """A volunteer organisation (社会组织), serving under a place."""

    name = Varchar(length=100)
    place = ForeignKey(Place)


class User(Keyed, Table, tablename="account"):
    username = Varchar(length=40, unique=True)
    display_name = Varchar(length=50)
    password_hash = Varchar(length=200)
    phone = Varchar(length=20, default="")
    organisation = ForeignKey(Organisation, null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class RoleGrant(Keyed, Table):
    user = ForeignKey(User, index=True)
    role = Varchar(length=16)
    place = ForeignKey(Place)
    created_at = Timestamptz()


class Session(Keyed, Table, tablename="signin_session"):
    """A server-side session: the cookie holds a random token, the table its hash."""

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(User, null=True, default=None, index=True)
    # Set instead of `user` when a resident entered by their household link.
    household = ForeignKey(Household, null=True, default=None)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    user_agent = Varchar(length=200, default="")
    ip = Varchar(length=64, default="")


class HouseholdLink(Keyed, Table):
    """A resident's way in: a long random token in a link or QR code, revocable."""

    household = ForeignKey(Household, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class SignInAttempt(Keyed, Table):
    username = Varchar(length=40, index=True)
    ip = Varchar(length=64, index=True)
    ok = Boolean(default=False)
    at = Timestamptz(index=True)
