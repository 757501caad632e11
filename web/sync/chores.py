"""Periodic chores, each run once per period across every app instance (docs/architecture.md).

A domain declares a `Chore` (web/core/domain.py). Every instance ticks once a minute;
at each tick it tries to claim the current period of every chore by inserting its row
(`chore_run.key` is unique: `INSERT … ON CONFLICT DO NOTHING RETURNING`). The instance
that gets the row back runs the chore; the others get nothing back and skip it. Nothing
is kept in process memory, so a restarted or added instance changes nothing. A period
whose instance died mid-run is not run again: chores are written to catch up on the
next period (they work from the last finished period, `last_finished()`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

from web import db
from web.core.domain import Chore
from web.core.timeutil import now

log = logging.getLogger("gridline")
TICK_SECONDS = 60
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def period_of(chore: Chore, at: datetime) -> datetime:
    """The start of the period of `chore` that `at` falls in (periods count from the epoch)."""
    every = chore.every.total_seconds()
    return datetime.fromtimestamp((at - EPOCH).total_seconds() // every * every, timezone.utc)


def _key(chore: Chore, period: datetime) -> str:
    return f"{chore.name}@{period.isoformat()}"


async def claim(chore: Chore, period: datetime) -> bool:
    """True for the one caller (of any instance) that claims this period first."""
    async with db.write():
        rows = await db.fetch(
            "INSERT INTO chore_run (key, claimed_at, finished_at, outcome) VALUES ({}, {}, NULL, '')"
            " ON CONFLICT (key) DO NOTHING RETURNING id", _key(chore, period), now())
    return bool(rows)


async def _finish(chore: Chore, period: datetime, outcome: str) -> None:
    async with db.write():
        await db.fetch("UPDATE chore_run SET finished_at = {}, outcome = {} WHERE key = {}",
                       now(), outcome[:200], _key(chore, period))


async def last_finished(chore_name: str) -> datetime | None:
    """The start of the newest period of `chore_name` that finished without error."""
    rows = await db.fetch(
        "SELECT key FROM chore_run WHERE key LIKE {} AND finished_at IS NOT NULL AND outcome NOT LIKE 'failed%'"
        " ORDER BY key DESC LIMIT 1", f"{chore_name}@%")
    return datetime.fromisoformat(rows[0]["key"].split("@", 1)[1]) if rows else None


async def run_due(chores: Sequence[Chore], at: datetime | None = None) -> list[str]:
    """Claim and run every chore whose current period nobody has claimed; their names."""
    ran = []
    for chore in chores:
        period = period_of(chore, at or now())
        if not await claim(chore, period):
            continue
        try:
            result = await chore.run(period)
            outcome = "done" if result is None else f"done: {result}"
        except Exception as error:  # the next period tries again; serving requests matters more
            log.exception("chore %s failed", chore.name)
            outcome = f"failed: {type(error).__name__}"
        await _finish(chore, period, outcome)
        ran.append(chore.name)
    return ran


async def run_regularly(chores: Sequence[Chore]) -> None:
    """Runs as long as the app: a tick a minute."""
    while True:
        try:
            await run_due(chores)
        except Exception:  # e.g. the database is failing over: the next tick tries again
            log.exception("chores could not be claimed")
        await asyncio.sleep(TICK_SECONDS)
