"""Who is asking: server-side sessions, passwords, and the Principal every route sees."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler

from web import db
from web.core.scope import ABILITIES, ROLE_ORDER, Grant, Scope
from web.core.timeutil import now

SESSION_COOKIE = "gl_session"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A long random token for a cookie or a household link (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    session_id: int
    user_id: int | None = None
    username: str = ""
    display_name: str = ""
    organisation_id: int | None = None
    grants: tuple[Grant, ...] = ()
    household_id: int | None = None  # a resident's own household
    household_path: str = ""
    # Households granted by assignments (a volunteer's round stops, shifts' posts).
    assigned_household_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_resident(self) -> bool:
        return self.household_id is not None

    @property
    def roles(self) -> set[str]:
        return {grant.role for grant in self.grants}

    @property
    def main_role(self) -> str:
        if self.is_resident:
            return "resident"
        for role in ROLE_ORDER:
            if role in self.roles:
                return role
        return "none"

    @functools.cached_property
    def scope(self) -> Scope:
        # Cached: a Principal is immutable and lives in the session cache, and every
        # scoped read asks for it (a phone's batch does once per write).
        paths = tuple(sorted({g.path for g in self.grants if g.role in ABILITIES["browse"]}))
        households = set(self.assigned_household_ids)
        if self.household_id is not None:
            households.add(self.household_id)
        return Scope(paths=paths, household_ids=frozenset(households))

    def can(self, ability: str, path: str | None = None) -> bool:
        """May this user do `ability` at the place with `path` (anywhere, if None)?"""
        allowed = ABILITIES[ability]
        return any(g.role in allowed and (path is None or path.startswith(g.path)) for g in self.grants)

    def places_for(self, ability: str) -> list[Grant]:
        return [g for g in self.grants if g.role in ABILITIES[ability]]


# A short in-process cache of sessions: a burst of requests (a page and its htmx parts, a
# phone's replays) costs one session query. Revocation clears the entry here at once;
# every other app instance reads the session again within a second.
_CACHE_TTL = 1.0
_cache: dict[str, tuple[float, Principal | None]] = {}


def forget_sessions() -> None:
    _cache.clear()


async def load_principal(token: str, idle_days: int) -> Principal | None:
    key = token_hash(token)
    hit = _cache.get(key)
    clock = time.monotonic()
    if hit and hit[0] > clock:
        return hit[1]
    principal = await _load_from_db(key, idle_days)
    _cache[key] = (clock + _CACHE_TTL, principal)
    if len(_cache) > 10_000:
        for stale in [k for k, (exp, _) in _cache.items() if exp <= clock]:
            _cache.pop(stale, None)
    return principal


async def _load_from_db(key: str, idle_days: int) -> Principal | None:
    rows = await db.fetch(
        "SELECT s.id, s.user, s.household, s.last_seen_at, u.username, u.display_name,"
        " u.organisation, u.active, h.path AS household_path"
        " FROM signin_session s LEFT JOIN account u ON u.id = s.user"
        " LEFT JOIN household h ON h.id = s.household"
        " WHERE s.token_hash = {} AND s.revoked_at IS NULL",
        key,
    )
    if not rows:
        return None
    row = rows[0]
    last_seen = row["last_seen_at"]
    if isinstance(last_seen, str):  # SQLite returns text through raw queries
        from datetime import datetime

        last_seen = datetime.fromisoformat(last_seen)
    current = now()
    if last_seen is not None and current - last_seen > timedelta(days=idle_days):
        return None
    if row["user"] is not None and not row["active"]:
        return None
    if last_seen is None or current - last_seen > timedelta(minutes=5):
        # Bounded write: last use is kept to the nearest five minutes.
        from web.accounts.tables import Session

        async with db.write():
            await Session.update({Session.last_seen_at: current}).where(Session.id == row["id"])
    if row["household"] is not None:
        return Principal(session_id=row["id"], household_id=row["household"], household_path=row["household_path"] or "")
    grants = await db.fetch(
        "SELECT g.role, g.place, p.path, p.name, p.kind FROM role_grant g JOIN place p ON p.id = g.place"
        " WHERE g.user = {} ORDER BY p.path",
        row["user"],
    )
    return Principal(
        session_id=row["id"],
        user_id=row["user"],
        username=row["username"],
        display_name=row["display_name"],
        organisation_id=row["organisation"],
        grants=tuple(Grant(g["role"], g["place"], g["path"], g["name"], g["kind"]) for g in grants),
    )


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException()
    return user


# Guards (async: Litestar runs plain-function guards in its thread pool) ---------------


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    principal_of(connection)


async def staff(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Signed in with a role; residents and role-less users get a 404, not a hint."""
    principal = principal_of(connection)
    if principal.is_resident or not principal.grants:
        raise NotFoundException()


def able(ability: str):
    """A guard: the user holds a role with `ability` somewhere (the place is checked in the route)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not principal_of(connection).can(ability):
            raise NotFoundException()

    return guard
