"""Who is asking: server-side sessions and passwords (the Principal is web.core.auth's)."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from web import db
from web.core.auth import SESSION_COOKIE, Principal, able, principal_of, signed_in, staff
from web.core.scope import Grant
from web.core.timeutil import now

# The guards and the Principal live in web.core.auth; named here too for the domains' routes.
__all__ = ["SESSION_COOKIE", "Principal", "able", "principal_of", "signed_in", "staff", "load_principal",
           "forget_sessions", "hash_password", "verify_password", "new_token", "token_hash"]
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
