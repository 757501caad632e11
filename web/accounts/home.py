"""Accounts' cards on the home page: a volunteer's duties heading, grids still missing one
of their three heads, and the administration links."""

from __future__ import annotations

from web import db
from web.accounts.tables import Organisation
from web.core.auth import Principal
from web.core.domain import Card

THREE_HEADS = ("grid_head", "party_leader", "building_head")


async def grids_missing_heads(prefix: str) -> list[dict]:
    """Grids under `prefix` whose three heads are not all named. A building head usually
    sits at one of the grid's micro-grids, so roles held below the grid count for it."""
    grids = await db.fetch(
        "SELECT id, name, path FROM place WHERE kind = 'grid' AND path LIKE {} ORDER BY id", f"{prefix}%"
    )
    grants = await db.fetch(
        "SELECT g.role, p.path FROM role_grant g JOIN place p ON p.id = g.place"
        " WHERE g.role IN ({}, {}, {}) AND p.path LIKE {}",
        *THREE_HEADS,
        f"{prefix}%",
    )
    roles: dict[str, set[str]] = {grid["path"]: set() for grid in grids}
    for grant in grants:
        parts = grant["path"].strip("/").split("/")
        for depth in range(len(parts), 0, -1):  # the grant's own place, then the places above it
            held = roles.get("/" + "/".join(parts[:depth]) + "/")
            if held is not None:
                held.add(grant["role"])
                break
    missing = []
    for grid in grids:
        grid["heads"] = len(roles[grid["path"]])
        if grid["heads"] < len(THREE_HEADS):
            missing.append(grid)
    return missing


async def cards(principal: Principal) -> list[Card]:
    if principal.is_resident:
        return []
    found: list[Card] = []
    if principal.main_role == "volunteer":
        # Their organisation, over their duties (other domains' cards marked `duty`).
        org = None
        if principal.organisation_id:
            org = await Organisation.select(Organisation.name).where(Organisation.id == principal.organisation_id).first()
        found.append(Card("accounts/duties.html", org["name"] if org else "", order=5))
    missing: list[dict] = []
    seen: list[str] = []
    for grant in principal.places_for("manage_accounts"):
        if not any(grant.path.startswith(p) for p in seen):  # a role further up covers it
            seen.append(grant.path)
            missing += await grids_missing_heads(grant.path)
    if missing:
        found.append(Card("accounts/missing_heads.html", missing, order=30))
    if principal.can("manage_accounts") or principal.can("view_audit"):
        found.append(Card("accounts/administration.html", order=95))
    return found
