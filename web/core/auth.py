"""The Principal every route sees, and the guards that read it.

Who is asking is found by the domain that keeps sessions (its declaration's
`load_principal`, called by the edge); what they may do is the abilities every domain
declares (web/core/domain.py), at the places their roles cover (web/core/scope.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler

from web.core.domain import abilities
from web.core.scope import ROLE_ORDER, Grant, Scope

SESSION_COOKIE = "gl_session"


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
        paths = tuple(sorted({g.path for g in self.grants if g.role in abilities()["browse"]}))
        households = set(self.assigned_household_ids)
        if self.household_id is not None:
            households.add(self.household_id)
        return Scope(paths=paths, household_ids=frozenset(households))

    def can(self, ability: str, path: str | None = None) -> bool:
        """May this user do `ability` at the place with `path` (anywhere, if None)?"""
        allowed = abilities()[ability]
        return any(g.role in allowed and (path is None or path.startswith(g.path)) for g in self.grants)

    def places_for(self, ability: str) -> list[Grant]:
        allowed = abilities()[ability]
        return [g for g in self.grants if g.role in allowed]


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
