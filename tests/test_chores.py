"""Periodic chores run once per period, whichever instance ticks (web/sync/chores.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from web import db
from web.core.domain import Chore, chores
from web.sync import chores as runner


def _chore(name: str, ran: list, fail: bool = False) -> Chore:
    async def run(period: datetime) -> int:
        ran.append(period)
        if fail:
            raise RuntimeError("boom")
        return len(ran)

    return Chore(name, timedelta(hours=6), run)


def test_a_period_is_run_once_however_many_instances_tick(call):
    ran: list = []
    chore = _chore(f"test-{uuid.uuid4().hex[:8]}", ran)
    at = datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc)

    async def five_instances_at_once():
        return await asyncio.gather(*(runner.run_due([chore], at) for _ in range(5)))

    results = call(five_instances_at_once)
    assert sum(len(r) for r in results) == 1
    assert ran == [datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)]
    # Later in the same period: nothing; the next period: once more.
    assert call(runner.run_due, [chore], at + timedelta(hours=4)) == []
    assert call(runner.run_due, [chore], at + timedelta(hours=5)) == [chore.name]
    assert call(runner.last_finished, chore.name) == datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_a_failed_run_is_recorded_and_not_taken_as_the_last_finished(call):
    ran: list = []
    chore = _chore(f"test-{uuid.uuid4().hex[:8]}", ran, fail=True)
    at = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)
    assert call(runner.run_due, [chore], at) == [chore.name]
    assert call(runner.last_finished, chore.name) is None
    rows = call(db.fetch, "SELECT outcome FROM chore_run WHERE key LIKE {}", f"{chore.name}@%")
    assert rows[0]["outcome"].startswith("failed")


def test_the_answer_shedding_is_a_declared_chore():
    assert "shed_answers" in {c.name for c in chores()}
