"""Household status coverage grouped by self_reported too: the index covers it (hand-written)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "household status coverage index with self_reported"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def up():
        from web.campaigns.tables import Campaign

        engine = Campaign._meta.db
        await engine.run_ddl("DROP INDEX IF EXISTS household_status_cover")
        await engine.run_ddl(
            "CREATE INDEX household_status_cover ON household_status (campaign, path, outcome, self_reported)")

    async def down():
        from web.campaigns.tables import Campaign

        engine = Campaign._meta.db
        await engine.run_ddl("DROP INDEX IF EXISTS household_status_cover")
        await engine.run_ddl("CREATE INDEX household_status_cover ON household_status (campaign, path, outcome)")

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
