"""What campaigns do when two records of one person are merged."""

from __future__ import annotations

from datetime import datetime

from web.campaigns.tables import PersonStatus


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


async def merge_statuses(keep: dict, drop_id: int) -> None:
    """One status row per campaign and person (a unique index): the dropped person's rows
    move over, or are folded into the kept person's row for the same campaign
    (`PersonRef.merge` of PersonStatus, called inside the merge's transaction)."""
    rows = await PersonStatus.select().where(PersonStatus.person.is_in([keep["id"], drop_id]))
    kept = {r["campaign"]: r for r in rows if r["person"] == keep["id"]}
    for row in rows:
        if row["person"] != drop_id:
            continue
        mine = kept.get(row["campaign"])
        if mine is None:
            await PersonStatus.update({PersonStatus.person: keep["id"], PersonStatus.household: keep["household"],
                                       PersonStatus.path: keep["path"]}).where(PersonStatus.id == row["id"])
            continue
        await PersonStatus.delete().where(PersonStatus.id == row["id"])
        await PersonStatus.update({
            PersonStatus.checked: bool(mine["checked"] or row["checked"]),
            PersonStatus.self_reported: bool(mine["self_reported"] or row["self_reported"]),
            PersonStatus.sampled: bool(mine["sampled"] or row["sampled"]),
            PersonStatus.checked_at: _later(mine["checked_at"], row["checked_at"]),
        }).where(PersonStatus.id == mine["id"])
