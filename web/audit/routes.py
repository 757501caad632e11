from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from web.accounts.auth import able, principal_of
from web.audit.tables import AuditEntry
from web.core.render import render


@dataclass
class AuditPage:
    entries: list[dict]


@get("/audit", guards=[able("view_audit")])
async def audit_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The latest 200 entries about places this user oversees (and actions without a place)."""
    principal = principal_of(request)
    clause: Any = None  # the grants' places, or-ed
    for grant in principal.places_for("view_audit"):
        term = AuditEntry.path.like(f"{grant.path}%")
        clause = term if clause is None else clause | term
    entries = await (
        AuditEntry.select(*AuditEntry.all_columns(), AuditEntry.user.display_name)
        .where(clause | AuditEntry.user.is_in(principal_user_ids(principal)))
        .order_by(AuditEntry.at, ascending=False)
        .limit(200)
    )
    return render(request, "pages/audit.html", AuditPage(entries))


def principal_user_ids(principal: Any) -> list[int]:
    return [principal.user_id] if principal.user_id else [-1]


routes = [audit_page]
