"""The audit log: every unmasked view of personal data and every export (PIPL)."""

from __future__ import annotations

from web import db
from web.accounts.auth import Principal
from web.audit.tables import AuditEntry
from web.core.timeutil import now


async def record(principal: Principal, action: str, subject: str, path: str = "", detail: str = "") -> None:
    async with db.write():
        await AuditEntry.insert(
            AuditEntry(user=principal.user_id, action=action, subject=subject, path=path, detail=detail[:2000], at=now())
        )
