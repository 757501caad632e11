"""Signing in and out, sessions, household links, accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from web import db
from web.accounts.auth import (
    forget_sessions,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from web.accounts.tables import HouseholdLink, RoleGrant, Session, SignInAttempt, User
from web.core.timeutil import now
from web.settings import Settings

# Checked against when the username is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = hash_password("not a real password")


@dataclass(frozen=True)
class SignedIn:
    token: str
    user_id: int


@dataclass(frozen=True)
class Refused:
    reason: str  # "credentials" | "throttled"


async def too_many_attempts(username: str, ip: str, settings: Settings) -> bool:
    """Failed sign-ins in the window, per username and (more loosely) per address:
    many phones of one community can share a carrier's address."""
    since = now() - timedelta(minutes=settings.signin_window_minutes)
    recent = (SignInAttempt.at > since) & (SignInAttempt.ok == False)  # noqa: E712
    by_user = await SignInAttempt.count().where(recent & (SignInAttempt.username == username))
    if by_user >= settings.signin_attempts:
        return True
    by_ip = await SignInAttempt.count().where(recent & (SignInAttempt.ip == ip))
    return by_ip >= settings.signin_attempts * 5


async def sign_in(username: str, password: str, ip: str, user_agent: str, settings: Settings) -> SignedIn | Refused:
    username = username.strip().lower()
    if await too_many_attempts(username, ip, settings):
        return Refused("throttled")
    user = await User.select(User.id, User.password_hash, User.active).where(User.username == username).first()
    ok = verify_password(user["password_hash"] if user else _DUMMY_HASH, password) and bool(user and user["active"])
    async with db.write():
        await SignInAttempt.insert(SignInAttempt(username=username[:40], ip=ip[:64], ok=ok, at=now()))
        if not ok or user is None:
            return Refused("credentials")
        token = new_token()
        await Session.insert(
            Session(token_hash=token_hash(token), user=user["id"], created_at=now(), last_seen_at=now(),
                    user_agent=user_agent[:200], ip=ip[:64])
        )
    return SignedIn(token, user["id"])


async def enter_by_link(token: str, ip: str, user_agent: str) -> str | None:
    """A resident's household link opens a session for that household alone."""
    link = await HouseholdLink.select(HouseholdLink.household).where(
        (HouseholdLink.token_hash == token_hash(token)) & HouseholdLink.revoked_at.is_null()
    ).first()
    if link is None:
        return None
    session_token = new_token()
    async with db.write():
        await Session.insert(
            Session(token_hash=token_hash(session_token), household=link["household"], created_at=now(),
                    last_seen_at=now(), user_agent=user_agent[:200], ip=ip[:64])
        )
    return session_token


async def sign_out(session_id: int) -> None:
    await revoke_sessions(Session.id == session_id)


async def revoke_sessions(where) -> int:
    async with db.write():
        rows = await Session.update({Session.revoked_at: now()}).where(where & Session.revoked_at.is_null()).returning(Session.id)
        db.after_commit(forget_sessions)
    return len(rows)


async def issue_link(household_id: int, created_by: int | None) -> str:
    token = new_token()
    async with db.write():
        await HouseholdLink.insert(
            HouseholdLink(household=household_id, token_hash=token_hash(token), created_by=created_by, created_at=now())
        )
    return token


async def revoke_links(household_id: int) -> None:
    """Revoke every link of a household and sign out whoever entered through one."""
    async with db.write():
        await HouseholdLink.update({HouseholdLink.revoked_at: now()}).where(
            (HouseholdLink.household == household_id) & HouseholdLink.revoked_at.is_null()
        )
        await Session.update({Session.revoked_at: now()}).where(
            (Session.household == household_id) & Session.revoked_at.is_null()
        )
        db.after_commit(forget_sessions)


async def create_user(username: str, display_name: str, password: str, phone: str, role: str, place_id: int,
                      organisation_id: int | None = None) -> int:
    async with db.write():
        rows = await User.insert(
            User(username=username.lower(), display_name=display_name, password_hash=hash_password(password),
                 phone=phone, organisation=organisation_id, active=True, created_at=now())
        ).returning(User.id)
        user_id = rows[0]["id"]
        await RoleGrant.insert(RoleGrant(user=user_id, role=role, place=place_id, created_at=now()))
    return user_id
