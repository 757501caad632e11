"""Isolation and DoorSample now belong to the isolation app (web/isolation/): they leave
the campaigns app's record of its tables, and stay in the database with their rows.
(Hand-edited: the drop is recorded for Piccolo's snapshot, never run.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T17:52:33:553527"
VERSION = "1.38.0"
DESCRIPTION = "isolation tables moved to the isolation app"


class _HandedOver(MigrationManager):
    async def _run_drop_tables(self, backwards=False):
        return None  # the isolation app owns them now: nothing to drop, nothing to remake


async def forwards():
    manager = _HandedOver(migration_id=ID, app_name="campaigns", description=DESCRIPTION)
    manager.drop_table(class_name="Isolation", tablename="isolation", schema=None)
    manager.drop_table(class_name="DoorSample", tablename="door_sample", schema=None)
    return manager
