"""Byte-order paths and the slot lookups (hand-written).

Paths compare as bytes on PostgreSQL (see the households app's collation migration);
(campaign, path) finds a household's slot for its page in one index probe.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T03:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "C collation on path, slot lookup index"

INDEXES = ("CREATE INDEX sampling_slot_campaign_path ON sampling_slot (campaign, path)",)
PATHS = ("sampling_site", "sampling_slot")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sampling", description=DESCRIPTION)

    async def up():
        from web.sampling.tables import SamplingSlot

        engine = SamplingSlot._meta.db
        if engine.engine_type in ("postgres", "cockroach"):
            for table in PATHS:
                await engine.run_ddl(f'ALTER TABLE {table} ALTER COLUMN path TYPE varchar(200) COLLATE "C"')
        for statement in INDEXES:
            await engine.run_ddl(statement)

    async def down():
        from web.sampling.tables import SamplingSlot

        for statement in INDEXES:
            await SamplingSlot._meta.db.run_ddl(f"DROP INDEX IF EXISTS {statement.split(' INDEX ')[1].split()[0]}")

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
