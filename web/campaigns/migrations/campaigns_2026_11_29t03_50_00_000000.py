"""One status row per campaign and household or person, and the indexes coverage counts
over (hand-written).

The unique pairs make "latest fact wins" one upsert; (campaign, path, …) indexes let a
place's coverage be a prefix range of one index. Paths compare as bytes on PostgreSQL
(see the households app's collation migration).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-29T03:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "status uniqueness and coverage indexes"

INDEXES = (
    "CREATE UNIQUE INDEX household_status_one ON household_status (campaign, household)",
    "CREATE UNIQUE INDEX person_status_one ON person_status (campaign, person)",
    "CREATE INDEX household_status_cover ON household_status (campaign, path, outcome)",
    "CREATE INDEX person_status_cover ON person_status (campaign, path, checked, self_reported, sampled)",
    "CREATE INDEX visit_campaign_household ON visit (campaign, household)",
    "CREATE INDEX answer_campaign_household ON answer (campaign, household)",
)
PATHS = ("campaign", "visit", "answer", "household_status", "person_status", "isolation", "door_sample")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def up():
        from web.campaigns.tables import Campaign

        engine = Campaign._meta.db
        if engine.engine_type in ("postgres", "cockroach"):
            for table in PATHS:
                await engine.run_ddl(f'ALTER TABLE {table} ALTER COLUMN path TYPE varchar(200) COLLATE "C"')
        for statement in INDEXES:
            await engine.run_ddl(statement)

    async def down():
        from web.campaigns.tables import Campaign

        for statement in INDEXES:
            await Campaign._meta.db.run_ddl(f"DROP INDEX IF EXISTS {statement.split(' INDEX ')[1].split()[0]}")

    manager.add_raw(up)
    manager.add_raw_backwards(down)
    return manager
