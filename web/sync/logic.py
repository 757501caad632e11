"""Conflicts and claims: the two ways offline writes can collide (docs/offline.md).

Field facts are append-only and need neither. A claim goes to whoever reached the
server first; a stale edit is kept as a conflict beside the current values.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from piccolo.table import Table

from web import db
from web.core.timeutil import now
from web.sync.tables import Claim, Conflict


@dataclass(frozen=True)
class Held:
    """A claim lost: who has it and since when."""

    holder_id: int
    holder_name: str
    since: datetime


async def claim(subject: str, user_id: int, occurred: datetime) -> Held | None:
    """Take `subject` for `user_id`; None when taken (or already held by the same user),
    else who holds it. One `INSERT … ON CONFLICT DO NOTHING` on the unique subject: of two
    claims at once, on any app instance, the second waits for the first and is told who
    holds it (never a failed request)."""
    async with db.write():
        taken = await db.fetch(
            "INSERT INTO claim (subject, holder, occurred_at, received_at) VALUES ({}, {}, {}, {})"
            " ON CONFLICT (subject) DO NOTHING RETURNING id", subject, user_id, occurred, now())
        if taken:
            return None
        existing = await Claim.select(Claim.holder, Claim.holder.display_name, Claim.occurred_at).where(
            Claim.subject == subject).first()
    if existing is None or existing["holder"] == user_id:  # released meanwhile: nobody holds it
        return None
    return Held(existing["holder"], existing["holder.display_name"], existing["occurred_at"])


async def release(subject: str, user_id: int) -> None:
    async with db.write():
        await Claim.delete().where((Claim.subject == subject) & (Claim.holder == user_id))


@dataclass(frozen=True)
class EditResult:
    applied: bool
    conflict_id: int | None = None


async def versioned_update(table: type[Table], row_id: int, base_version: int, values: dict[str, Any], *,
                           subject: str, path: str, user_id: int | None, occurred: datetime) -> EditResult:
    """Apply an edit made on `base_version`; a stale one is stored as a conflict."""
    async with db.write():
        # Compare and set in one statement: of two edits made on the same version, the
        # second waits for the first's commit (PostgreSQL's row lock), then finds the
        # version moved on and becomes a conflict; nothing is overwritten silently.
        applied = await table.update({**{getattr(table, k): v for k, v in values.items()},
                                      table.version: base_version + 1}).where(  # type: ignore[attr-defined]
            (table._meta.primary_key == row_id) & (table.version == base_version)  # type: ignore[attr-defined]
        ).returning(table._meta.primary_key)
        if applied:
            return EditResult(True)
        current = await table.select().where(table._meta.primary_key == row_id).first()
        if current is None:
            return EditResult(False)
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        rows = await Conflict.insert(Conflict(
            subject=subject, path=path, base_version=base_version, submitted=json.dumps(changed, ensure_ascii=False),
            current=json.dumps({k: current.get(k) for k in changed}, ensure_ascii=False),
            raised_by=user_id, occurred_at=occurred, received_at=now(),
        )).returning(Conflict.id)
        return EditResult(False, rows[0]["id"])


async def settle(conflict: dict, table: type[Table], row_id: int, choice: str, user_id: int | None) -> bool:
    """Keep the current values, or apply the submitted ones on top of the record; False
    when the conflict was settled already (two heads at once: the first choice stands)."""
    submitted = conflict["submitted"]
    if isinstance(submitted, str):
        submitted = json.loads(submitted or "{}")
    async with db.write():
        settled = await Conflict.update(
            {Conflict.settled_at: now(), Conflict.settled_by: user_id, Conflict.resolution: choice}
        ).where((Conflict.id == conflict["id"]) & Conflict.settled_at.is_null()).returning(Conflict.id)
        if not settled:
            return False
        if choice == "submitted" and submitted:
            version: Any = table._meta.get_column_by_name("version")  # Integer: `version + 1` is SQL
            await table.update({**{getattr(table, k): v for k, v in submitted.items()},
                                version: version + 1}).where(table._meta.primary_key == row_id)
    return True


# Old answers ----------------------------------------------------------------------------

log = logging.getLogger("gridline")
SHED_EVERY = timedelta(hours=6)


async def shed_answers(before: datetime, since: datetime | None = None, chunk: int = 1000) -> int:
    """Drop the stored text of the answers recorded before `before` (from `since` on, when
    the earlier ones are known to be done); how many. The record itself stays for good,
    with the answer's status and where it led: a phone that comes back however late with a
    write it sent before is still answered "applied", and nothing changes. In chunks, in
    the order received, so a backlog never holds SQLite's write lock for long."""
    lower: Any = since or datetime(1970, 1, 1, tzinfo=timezone.utc)
    shed = 0
    while True:
        async with db.write():
            rows = await db.fetch(
                "UPDATE idempotency_record SET body = '' WHERE id IN (SELECT id FROM idempotency_record"
                " WHERE received_at >= {} AND received_at < {} AND body <> '' ORDER BY received_at LIMIT {})"
                " RETURNING received_at", lower, before, chunk)
        if not rows:
            return shed
        shed += len(rows)
        lower = max(row["received_at"] for row in rows)  # shed rows at that instant have no text left


async def shed_old_answers(period: datetime) -> int:
    """The chore (web/sync/chores.py): every six hours, the answers older than
    GRIDLINE_ANSWER_DAYS are shed, from where the last finished run left off."""
    from web.settings import get_settings
    from web.sync.chores import last_finished

    days = timedelta(days=get_settings().answer_days)
    last = await last_finished("shed_answers")
    shed = await shed_answers(period - days, last - days if last else None)
    if shed:
        log.info("shed the stored text of %s answers older than %s", shed, days)
    return shed
